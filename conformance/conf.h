/* SPDX-License-Identifier: MIT */
/*
 * The conformance framework: scenario table, run parameters, observation
 * output and the LAPIC/IOAPIC helpers scenarios use. Compiled twice, into the
 * guest image and into the host (model target and runner); it uses only hw.h.
 *
 * A run prints lines the runner parses (runner/record.c):
 *   conf begin <scenario>
 *   conf obs <key>=<value>            compared between targets
 *   conf check ok|FAIL <key>: <text>  the scenario's own check against the spec
 *   conf stat <name> exact|nonzero    publish a VMM/model counter for comparison
 *   conf expect-stat <name>=<value>   ... and what the spec says it must be
 *   conf note <text>
 *   conf end checks=<n> failed=<m>
 */
#ifndef LAPIS_CONF_H
#define LAPIS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw.h"

#define CONF_MAX_CPUS 2u
#define CONF_LOG_MAX  48u
#define CONF_NAME_MAX 48u
#define CONF_NVARS    16u

/* Effective EOI mode of a run (auto is resolved by the runner before the run). */
enum conf_mode {
    CONF_MODE_QUIRK = 0,
    CONF_MODE_ENABLE,
    CONF_MODE_DISABLE,
};

enum conf_target {
    CONF_T_MODEL = 0, /* lapis's models, called directly */
    CONF_T_SPLIT,     /* KVM split irqchip: KVM's LAPIC, lapis's IOAPIC */
    CONF_T_KERNEL,    /* KVM's in-kernel LAPIC and IOAPIC (0x11) */
    CONF_T_USER,      /* lapis's software LAPIC and IOAPIC on KVM_INTERRUPT */
    CONF_T_COUNT,
};

/* Rows: which IOAPIC version and LAPIC mode a scenario runs under. */
#define CONF_V_20X2    (1u << 0) /* 0x20, x2APIC */
#define CONF_V_11X2    (1u << 1) /* 0x11, x2APIC */
#define CONF_V_20XA    (1u << 2) /* 0x20, xAPIC */
#define CONF_V_11XA    (1u << 3) /* 0x11, xAPIC */
#define CONF_V_X2      (CONF_V_20X2 | CONF_V_11X2)
#define CONF_V_ALL     (CONF_V_X2 | CONF_V_20XA | CONF_V_11XA)
#define CONF_NVARIANTS 4u

/* Columns: the EOI modes requested (--eoi-suppression) on model, split and user. */
#define CONF_M_AUTO    (1u << 0)
#define CONF_M_QUIRK   (1u << 1)
#define CONF_M_ENABLE  (1u << 2)
#define CONF_M_DISABLE (1u << 3)
#define CONF_M_ALL     (CONF_M_AUTO | CONF_M_QUIRK | CONF_M_ENABLE | CONF_M_DISABLE)
#define CONF_NMODES    4u

/* Scenario flags */
#define CONF_F_SMP       (1u << 0) /* needs two CPUs */
#define CONF_F_NO_KERNEL (1u << 1) /* meaningless with KVM's in-kernel IOAPIC */
#define CONF_F_SLOW      (1u << 2) /* takes seconds on KVM (the storm) */
/*
 * Needs a LAPIC that keeps an interrupt in service (ISR) until the EOI. The
 * runner probes each KVM target; where its LAPIC EOIs at injection instead
 * (KVM on PVM, see the report), such cells are skipped with that reason.
 */
#define CONF_F_NEEDS_ISR (1u << 3)
/*
 * Holds Remote IRR with Directed EOI (SVR bit 12, broadcast suppressed) and
 * EOIs the IOAPIC itself: runs where the effective mode is "enable".
 */
#define CONF_F_DIRECTED (1u << 4)
#define CONF_F_HIDDEN   (1u << 5) /* a probe for the runner, not a matrix row */

/* Framework vectors, never logged as scenario interrupts. */
#define CONF_VEC_TIMER 0xEE /* the bound of hw_wait() on the guest */
#define CONF_VEC_WAKE  0xED /* IPIs that wake a halted CPU */
#define CONF_VEC_SPUR  0xFF

/*
 * A declared, documented difference: in this scenario, @key (exact, or a
 * prefix ending in '*') may differ between @target and its reference. @target
 * is a column name ("kernel", "split/quirk") or a kind ("split", "user").
 */
struct conf_known {
    const char *target;
    const char *key;
    const char *why;
};

struct conf;

struct conf_scenario {
    const char *name;
    const char *what;
    void (*run)(struct conf *c);
    unsigned variants;              /* CONF_V_* */
    unsigned modes;                 /* CONF_M_* */
    unsigned flags;                 /* CONF_F_* */
    const struct conf_known *known; /* ends with a {NULL} entry; may be NULL */
};

struct conf_params {
    char scenario[CONF_NAME_MAX];
    enum conf_target target;
    enum conf_mode mode; /* effective */
    unsigned ioapic;     /* 0x11 or 0x20 */
    bool xapic;          /* the guest stays in xAPIC mode */
    unsigned cpus;
};

typedef void (*conf_irq_fn)(struct conf *c, unsigned vector);

struct conf {
    struct conf_params p;
    void *hw;    /* the implementation's state */
    bool x2apic; /* the LAPIC is in x2APIC mode */
    unsigned checks, failed;
    volatile unsigned nirq; /* scenario interrupts taken */
    struct {
        uint8_t vector, cpu;
    } log[CONF_LOG_MAX];
    conf_irq_fn handler[256];
    bool handled[256];
    volatile uint64_t var[CONF_NVARS]; /* scenario scratch, zero at start */
    bool trace_off;                    /* too many interrupts to list */
    bool stats_published;
};

/* ---- the scenario table (scenarios/table.c) ---- */
const struct conf_scenario *conf_scenario_find(const char *name);
/* The @i-th scenario, or NULL past the end. */
const struct conf_scenario *conf_scenario_at(unsigned i);
unsigned conf_scenario_count(void);

/* ---- running one ---- */
/* Zeroes @c except p and hw. */
void conf_reset(struct conf *c);
/* Runs c->p.scenario from "begin" to "end"; returns the number of failed checks (-1: unknown). */
int conf_run(struct conf *c);
/* Called by the hw implementation for every interrupt taken (interrupts off). */
void conf_dispatch(struct conf *c, unsigned vector);
const char *conf_mode_name(enum conf_mode mode);
const char *conf_target_name(enum conf_target t);
int conf_mode_parse(const char *s, enum conf_mode *mode);
int conf_target_parse(const char *s, enum conf_target *t);

/* ---- output ---- */
void conf_printf(struct conf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void conf_obs(struct conf *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool conf_check(struct conf *c, bool pass, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Observes @key = @got (hex) and checks it equals @want. */
bool conf_obs_eq(struct conf *c, const char *key, uint64_t got, uint64_t want);
void conf_note(struct conf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Publish a counter of the VMM (or model) for comparison, exactly or as zero/nonzero. */
void conf_stat(struct conf *c, const char *name, bool exact);
/* The spec's value for a published counter (skipped where the target has none). */
void conf_expect_stat(struct conf *c, const char *name, uint64_t value);

/* ---- interrupts ---- */
/* Registers @fn for @vector (NULL: log and EOI the LAPIC). */
void conf_on_irq(struct conf *c, unsigned vector, conf_irq_fn fn);
/* Waits (interrupts on) until @n scenario interrupts have been taken in all; returns nirq. */
unsigned conf_wait_count(struct conf *c, unsigned n, unsigned max_ms);
/* Sync port write, then wait until no interrupt has come for a few ms. */
void conf_settle(struct conf *c);
/* Interrupt @i of the log (vector << 8 | cpu), or ~0u. */
unsigned conf_logged(const struct conf *c, unsigned i);

/* ---- spec expectations (eoi.md §4, §6) ---- */
/* LVR bit 24 on this target and mode (CPUID has x2APIC on all our targets). */
bool conf_expect_directed_eoi(const struct conf *c);
/* Does a level EOI skip the broadcast when SVR bit 12 is set? */
bool conf_expect_suppression(const struct conf *c);
bool conf_has_eoir(const struct conf *c);
bool conf_has_stats(const struct conf *c); /* the target reports VMM counters */

/* ---- LAPIC ---- */
#define APIC_REG_ID    0x020u
#define APIC_REG_LVR   0x030u
#define APIC_REG_TPR   0x080u
#define APIC_REG_PPR   0x0A0u
#define APIC_REG_EOI   0x0B0u
#define APIC_REG_LDR   0x0D0u
#define APIC_REG_DFR   0x0E0u
#define APIC_REG_SVR   0x0F0u
#define APIC_REG_ISR   0x100u
#define APIC_REG_TMR   0x180u
#define APIC_REG_IRR   0x200u
#define APIC_REG_ICR   0x300u
#define APIC_REG_ICR2  0x310u
#define APIC_REG_LVTT  0x320u
#define APIC_REG_TMICT 0x380u
#define APIC_REG_TDCR  0x3E0u

#define APIC_LVR_DEOI      (1u << 24)
#define APIC_SVR_ENABLE    (1u << 8)
#define APIC_SVR_SUPPRESS  (1u << 12)
#define APIC_XAPIC_BASE    0xFEE00000ull
#define APIC_X2APIC_MSR(r) (0x800u + ((r) >> 4))

uint32_t conf_lapic_read(struct conf *c, unsigned reg);
void conf_lapic_write(struct conf *c, unsigned reg, uint32_t value);
void conf_lapic_eoi(struct conf *c);
/* Is @vector set in the ISR/TMR/IRR bank at @bank (of the calling CPU)? */
bool conf_lapic_bit(struct conf *c, unsigned bank, unsigned vector);
uint32_t conf_lapic_id(struct conf *c);
/* Sets or clears SVR bit 12; returns whether it reads back set. */
bool conf_set_svr12(struct conf *c, bool on);
void conf_send_ipi(struct conf *c, uint32_t dest, unsigned vector);

/* ---- IOAPIC ---- */
#define IOAPIC_MMIO         0xFEC00000ull
#define IOAPIC_SEL          0x00u
#define IOAPIC_WIN          0x10u
#define IOAPIC_EOIR_OFF     0x40u
#define IOAPIC_R_ID         0x00u
#define IOAPIC_R_VER        0x01u
#define IOAPIC_R_ARB        0x02u
#define IOAPIC_R_REDIR(pin) (0x10u + 2u * (pin))
#define IOAPIC_NPINS        24u

#define RE_DELMODE(m) ((uint64_t)(m) << 8)
#define RE_LOGICAL    (1ull << 11)
#define RE_DELIVS     (1ull << 12)
#define RE_POLARITY   (1ull << 13)
#define RE_RIRR       (1ull << 14)
#define RE_LEVEL      (1ull << 15)
#define RE_MASKED     (1ull << 16)
#define RE_DEST(d)    ((uint64_t)(d) << 56)

uint32_t conf_ioapic_read(struct conf *c, unsigned reg);
void conf_ioapic_write(struct conf *c, unsigned reg, uint32_t value);
uint64_t conf_redir_read(struct conf *c, unsigned pin);
void conf_redir_write(struct conf *c, unsigned pin, uint64_t entry); /* high dword first */
void conf_redir_write_low(struct conf *c, unsigned pin, uint32_t low);
/* Fixed delivery of @vector to APIC ID @dest (physical); @flags: RE_LEVEL, RE_MASKED, ... */
void conf_route(struct conf *c, unsigned pin, unsigned vector, uint64_t flags, unsigned dest);
void conf_mask(struct conf *c, unsigned pin, bool masked);
bool conf_remote_irr(struct conf *c, unsigned pin);
void conf_eoir(struct conf *c, unsigned vector);
/* Xen's EOI without EOIR: mask, edge, level, unmask (each a write of the low dword). */
void conf_fake_eoi(struct conf *c, unsigned pin);
/* The OS's own IOAPIC EOI under Directed EOI: EOIR on 0x20, the fake EOI on 0x11. */
void conf_ioapic_eoi(struct conf *c, unsigned pin, unsigned vector);
/* The pc-testdev line @pin (port 0x2000 + pin). */
void conf_line(struct conf *c, unsigned pin, bool high);
/* A port write that forces an exit (spec §7). */
void conf_sync(struct conf *c);
/* Observes pin's entry as "redir.<tag>" (delivery status and Remote IRR spelled out). */
void conf_obs_redir(struct conf *c, const char *tag, unsigned pin);

#endif
