/* SPDX-License-Identifier: MIT */
/*
 * --irqchip user: no irqchip in KVM at all. lapis's LAPIC model (one per vCPU,
 * src/devices/lapic.h) and its IOAPIC model serve the guest; KVM only runs the
 * CPU (spec eoi.md §8):
 *   - xAPIC MMIO at each vCPU's APIC base comes as KVM_EXIT_MMIO;
 *   - x2APIC MSRs 0x800-0x8FF come as KVM_EXIT_X86_RDMSR/WRMSR with reason
 *     INVAL (KVM has no LAPIC to give them to); IA32_APIC_BASE and
 *     IA32_TSC_DEADLINE through an MSR filter (reason FILTER);
 *   - interrupts are injected with KVM_INTERRUPT when the vCPU can take one,
 *     else through an interrupt window; NMIs with KVM_NMI; TPR <-> CR8 (on
 *     this host neither "sti" nor a lowered CR8 exits at once: a waiting
 *     interrupt is looked at again every millisecond);
 *   - HLT, INIT and wait-for-SIPI block the vCPU thread in userspace;
 *   - one host timer thread runs every LAPIC timer and the IOAPIC throttle.
 *
 * Locking: the irqchip's mutex (ic->lock) is the one lock of the interrupt
 * subsystem in this mode. It guards the IOAPIC, every LAPIC model, and the
 * fields below marked "lock". IOAPIC -> LAPIC delivery and LAPIC -> IOAPIC
 * EOI broadcast are plain calls under it, so they cannot deadlock. Device
 * locks (board.c) are taken before it, never after; nothing called under it
 * takes another lock (a kick is an atomic store and a signal).
 */
#ifndef LAPIS_KVM_USERAPIC_H
#define LAPIS_KVM_USERAPIC_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/lapic.h"
#include "vm.h"

/* Per-vCPU counters: the vCPU's own thread writes them; read after the threads stop. */
struct lapis_userapic_cpu_stats {
    uint64_t injections;    /* vectors injected with KVM_INTERRUPT (each acked in the model) */
    uint64_t inject_errors; /* KVM_INTERRUPT / KVM_NMI failures */
    uint64_t irq_windows;   /* KVM_EXIT_IRQ_WINDOW_OPEN */
    uint64_t msr_exits;     /* KVM_EXIT_X86_RDMSR/WRMSR */
    uint64_t msr_gp;        /* ... answered with #GP */
    uint64_t mmio_exits;    /* accesses to the xAPIC page */
    uint64_t tpr_exits;     /* KVM_EXIT_SET_TPR */
    uint64_t cr8_syncs;     /* guest CR8 writes copied into the model's TPR */
    uint64_t polls;         /* kicks to look again at a waiting interrupt (poll_at) */
    uint64_t nmis;          /* NMIs injected with KVM_NMI */
    uint64_t sleeps;        /* times the thread blocked (HLT, wait-for-SIPI) */
    uint64_t sipis;         /* SIPIs that started the vCPU */
    uint64_t resets;        /* INITs that reset the vCPU */
    uint64_t dropped;       /* SIPIs outside wait-for-SIPI, SMIs, NMIs before SIPI */
};

struct lapis_userapic;

struct lapis_userapic_cpu {
    struct lapis_userapic *ua;
    struct lapis_vcpu *vcpu;
    struct lapis_lapic apic;      /* lock */
    int wake_fd;                  /* eventfd: HLT and wait-for-SIPI sleep on it (-1: none) */
    pthread_t thread;             /* lock: the vCPU thread, once it has run */
    bool thread_known;            /* lock */
    bool halted;                  /* lock: after KVM_EXIT_HLT, until a wake-up event */
    bool wait_sipi;               /* lock: an AP before its SIPI (or after INIT) */
    bool sleeping;                /* lock: blocked on @wake_fd */
    uint64_t timer_deadline;      /* lock: CLOCK_MONOTONIC ns for this LAPIC's timer, 0 off */
    uint64_t poll_at;             /* lock: kick the vCPU then (an interrupt waits), 0 off */
    uint64_t tsc_deadline_raw;    /* lock: the guest's last IA32_TSC_DEADLINE value */
    uint32_t tsc_khz;             /* KVM_GET_TSC_KHZ (0: unknown) */
    uint8_t cr8_written;          /* vCPU thread: CR8 handed to KVM before the last KVM_RUN */
    uint8_t cr8_seen;             /* vCPU thread: CR8 KVM reported before that */
    struct kvm_sregs reset_sregs; /* the state after power-on, for INIT and SIPI */
    struct kvm_regs reset_regs;
    struct lapis_userapic_cpu_stats stats;
};

struct lapis_userapic {
    struct lapis_vm *vm;
    struct lapis_irqchip *ic;
    unsigned ncpus;        /* LAPICs set up so far */
    unsigned lowest_next;  /* lock: round-robin start for lowest-priority ties */
    uint64_t lowest_picks; /* lock: lowest-priority messages given to one LAPIC */
    uint64_t nobody;       /* lock: interrupt messages that matched no LAPIC */

    /* The timer thread. */
    pthread_t timer;
    pthread_cond_t timer_wake;
    bool timer_started;
    bool timer_stop;            /* lock */
    uint64_t timer_sleep_until; /* lock: 0 awake, UINT64_MAX asleep with nothing armed */
    uint64_t ioapic_deadline;   /* lock: IOAPIC storm throttle, 0 off */
    uint64_t timer_wakeups;     /* lock */

    bool trace; /* LAPIS_TRACE=irq */
    uint64_t trace_start;
    struct lapis_userapic_cpu cpus[LAPIS_VM_MAX_CPUS];
};

/*
 * Creates the user-mode interrupt subsystem on a VM with no vCPUs yet: the
 * irqchip (lapis_irqchip_init_user: IOAPIC, EOI policy), KVM's user-space MSR
 * exits and MSR filter, and the CPUID bits the model implements (x2APIC,
 * TSC-deadline). Sets vm->irqchip.user. A host without the capabilities is a
 * host error with a message.
 */
int lapis_userapic_create(struct lapis_vm *vm, struct lapis_err *err);
/* The LAPIC of a new vCPU (APIC ID = its index), and its power-on register state. */
int lapis_userapic_vcpu_init(struct lapis_userapic *ua, struct lapis_vcpu *v,
                             struct lapis_err *err);
/* Starts / stops the timer thread. */
int lapis_userapic_start(struct lapis_userapic *ua, struct lapis_err *err);
void lapis_userapic_stop(struct lapis_userapic *ua);
void lapis_userapic_destroy(struct lapis_userapic *ua);

/*
 * On @v's thread before each KVM_RUN: blocks while the vCPU is halted or
 * waits for SIPI; applies INIT/SIPI; injects an NMI and the highest pending
 * interrupt or asks for an interrupt window; syncs CR8. Returns 0, or -1
 * when the VM is stopping.
 */
int lapis_userapic_before_run(struct lapis_userapic *ua, struct lapis_vcpu *v);
/* On @v's thread: handles the exits this mode owns. Returns true if it did. */
bool lapis_userapic_handle_exit(struct lapis_userapic *ua, struct lapis_vcpu *v);
/*
 * Wakes every vCPU blocked in HLT or wait-for-SIPI (to see a stop request).
 * vm.c's kick (immediate_exit and its signal) wakes one as well, so a vCPU
 * that sleeps here still answers a pause or stop the way one in KVM_RUN does:
 * lapis_userapic_before_run() returns and KVM_RUN comes back at once.
 */
void lapis_userapic_wake_all(struct lapis_userapic *ua);

/* Extra statistics fields, " apic.inject=N ..." (appended to the stats line). */
void lapis_userapic_format_stats(const struct lapis_userapic *ua, char *buf, size_t len);

#endif
