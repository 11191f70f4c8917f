/* SPDX-License-Identifier: MIT */
/*
 * lapis probe, the judging half: from what its child runs printed (the probe
 * guest's "probe key=value" lines, lapis's statistics line, exit status,
 * whether the run was stopped at its bound) to the answers of the §4 rows
 * and the §7 verdict (is an EOI exit held back while the vCPU halts? does
 * lapis's recovery release it?). Section numbers refer to
 * ../shared/spec/eoi.md.
 *
 * Pure: no syscalls, no KVM, no globals. It sits in src/kvm beside probe.c,
 * its only user, and the unit tests link it alone, fed with output recorded
 * on a PVM host (held back) and on a standard one (nothing held back).
 */
#ifndef LAPIS_KVM_PROBE_VERDICT_H
#define LAPIS_KVM_PROBE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A measured answer. */
enum lapis_probe_answer {
    LAPIS_PROBE_UNKNOWN = 0, /* not measured, or the run failed */
    LAPIS_PROBE_NO,
    LAPIS_PROBE_YES,
    LAPIS_PROBE_NA, /* does not apply (SVR bit 12 does not stick; nothing to recover) */
};

/* One run of the probe guest, one §4 row. */
struct lapis_probe_mode {
    const char *mode;    /* "quirk", "enable", "disable" */
    const char *irqchip; /* "split", "kernel" */
    bool ran;
    char skipped[160]; /* why it was not run (empty if it ran) */
    char error[320];   /* what went wrong in the run (empty if nothing) */
    int status;        /* the child's exit status */
    bool timed_out;
    bool x2apic; /* CPUID has x2APIC in the guest */
    uint32_t lvr;
    unsigned ioapic_version;
    enum lapis_probe_answer lvr_directed_eoi; /* LVR bit 24 */
    enum lapis_probe_answer svr12_sticks;     /* SVR bit 12 reads back set */
    enum lapis_probe_answer eoi_svr12_clear;  /* a level EOI reaches the IOAPIC, SVR.12 = 0 */
    enum lapis_probe_answer eoi_with_svr12;   /* ... with SVR.12 = 1 (NA if it does not stick) */
    unsigned deliveries_svr12_clear, deliveries_with_svr12;
    uint64_t eoi_exits; /* KVM_EXIT_IOAPIC_EOI seen by the child */
};

/* One run of the halt_eoi guest (§7). */
struct lapis_probe_halt {
    bool ran;
    char error[320];
    int status;
    bool timed_out;
    unsigned timeout_ms;
    bool have_stats;
    uint64_t irqs, eoi_exits, recoveries;
};

/*
 * The value of @key in the last line of @buf starting with @prefix that has
 * it ("prefix ... key=value ..."), into @out (@len > 0); false if absent.
 */
bool lapis_probe_line_value(const char *buf, const char *prefix, const char *key, char *out,
                            size_t len);
/* The same as a number (decimal or 0x hex); false if absent or not a number. */
bool lapis_probe_line_u64(const char *buf, const char *prefix, const char *key, uint64_t *v);

/*
 * A finished probe-guest run: @status (exit status, 128 + signal, -1 never
 * ran), @timed_out, its stdout @out and stderr @err. Fills @m's answers; sets
 * @m->error only when the run succeeded but printed no result (the caller
 * describes a failed run, which needs more than the output).
 */
void lapis_probe_mode_record(struct lapis_probe_mode *m, int status, bool timed_out,
                             const char *out, const char *err);

/* A finished halt_eoi run: its statistics line (irqs, eoi.exit, recoveries) from @err. */
void lapis_probe_halt_record(struct lapis_probe_halt *h, int status, bool timed_out,
                             const char *err);

/*
 * The §7 verdict from halt_eoi with lapis's recovery off (@off, bounded) and
 * on (@on). Held back: yes when @off stalled with an interrupt taken and its
 * EOI exit missing, no when it finished. Recovery: yes when @on finished with
 * recoveries, n/a when it finished without any and nothing was held back, no
 * when it did not finish. Anything else is unknown, and the run's error says
 * why (unless it says something already).
 */
void lapis_probe_halt_verdict(struct lapis_probe_halt *off, struct lapis_probe_halt *on,
                              enum lapis_probe_answer *held_back,
                              enum lapis_probe_answer *recovery);

#endif
