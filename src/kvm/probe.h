/* SPDX-License-Identifier: MIT */
/*
 * lapis probe: how this host's KVM behaves around EOI broadcast suppression,
 * measured rather than guessed (spec eoi.md §4, §6, §7). Capability ioctls on
 * the system fd and on throwaway VMs; then small guests run by child
 * `lapis run`s (this binary, re-executed), one per mode; then the held-back
 * EOI exit of §7, with lapis's recovery off and on.
 */
#ifndef LAPIS_KVM_PROBE_H
#define LAPIS_KVM_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kvm.h"
#include "probe_verdict.h" /* the answers, the rows and their judging */

/* KVM_ENABLE_CAP(KVM_CAP_X2APIC_API) attempts, each on a fresh VM. */
enum lapis_probe_cap_case {
    LAPIS_PROBE_CAP_ENABLE_SPLIT = 0,
    LAPIS_PROBE_CAP_DISABLE_SPLIT,
    LAPIS_PROBE_CAP_BOTH_SPLIT,
    LAPIS_PROBE_CAP_ENABLE_NOSPLIT,
    LAPIS_PROBE_CAP_DISABLE_NOSPLIT,
    LAPIS_PROBE_CAP_CASES,
};

struct lapis_probe_cap {
    const char *flags; /* "ENABLE", "DISABLE", "ENABLE|DISABLE" */
    bool split;        /* tried after KVM_CAP_SPLIT_IRQCHIP */
    bool ran;
    int err;      /* 0: accepted, else the errno */
    int expected; /* what upstream answers (§4): 0 or EINVAL */
};

/* The rows of spec §4's table. */
enum lapis_probe_mode_row {
    LAPIS_PROBE_QUIRK = 0,
    LAPIS_PROBE_ENABLE,
    LAPIS_PROBE_DISABLE,
    LAPIS_PROBE_KERNEL, /* quirked, in-kernel irqchip: the reference */
    LAPIS_PROBE_MODES,
};

struct lapis_probe_report {
    char kernel_release[65];
    int api_version;
    bool split_irqchip;  /* KVM_CAP_SPLIT_IRQCHIP, and enabling it worked */
    int split_err;       /* errno of KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP), 0 ok */
    bool kernel_irqchip; /* KVM_CAP_IRQCHIP */
    long x2apic_api_system, x2apic_api_vm, x2apic_api_vm_split;
    bool eoi_flags; /* ENABLE and DISABLE_SUPPRESS_EOI_BROADCAST offered */
    struct lapis_probe_cap caps[LAPIS_PROBE_CAP_CASES];
    struct lapis_probe_mode modes[LAPIS_PROBE_MODES];
    struct lapis_probe_halt halt_off, halt_on; /* recovery off / on */
    enum lapis_probe_answer held_back;         /* the EOI exit waits while the vCPU halts */
    enum lapis_probe_answer recovery;          /* lapis's recovery releases it */
    char auto_20[48], auto_11[48];             /* what --eoi-suppression auto picks */
};

struct lapis_probe_options {
    bool verbose; /* child command lines and their stderr, on stderr */
};

/*
 * Runs the whole probe. Fails only if /dev/kvm is unusable (LAPIS_ERR_HOST)
 * or the probe guest is missing (LAPIS_ERR_USAGE); everything found, failed
 * runs included, is in @rep.
 */
int lapis_probe_run(const struct lapis_probe_options *opts, struct lapis_probe_report *rep,
                    struct lapis_err *err);

/* The table of spec §4, the header facts and the §7 rows. */
void lapis_probe_print_text(FILE *f, const struct lapis_probe_report *rep);
/* The same as one JSON object (docs/probe.md has the schema). */
void lapis_probe_print_json(FILE *f, const struct lapis_probe_report *rep);

#endif
