/* SPDX-License-Identifier: MIT */
/*
 * The interrupt controllers on KVM: split irqchip (KVM's LAPIC, lapis's IOAPIC
 * model) or KVM's in-kernel irqchip, the EOI-suppression negotiation with the
 * kernel (spec eoi.md §4, §6), and the IOAPIC glue: GSI routes, KVM_IRQ_LINE,
 * KVM_EXIT_IOAPIC_EOI, and the recovery of held-back EOI exits (§7).
 *
 * Threads: the IOAPIC model and everything under @lock is shared by the vCPU
 * threads, the device callbacks and the watchdog thread. vCPU state ioctls
 * happen only on the vCPU's own thread.
 */
#ifndef LAPIS_KVM_IRQCHIP_H
#define LAPIS_KVM_IRQCHIP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/eoi_policy.h"
#include "devices/ioapic.h"
#include "kvm.h"

#define LAPIS_IRQCHIP_PINS LAPIS_IOAPIC_DEFAULT_PINS /* GSIs reserved for the IOAPIC */

/* A level pin whose Remote IRR has stayed set this long gets its vCPUs checked (§7). */
#define LAPIS_IRQCHIP_STUCK_NS 5000000ull /* 5 ms */
#define LAPIS_IRQCHIP_WATCH_NS 2000000ull /* watchdog period while anything is pending */

struct lapis_vm;
struct lapis_vcpu;
struct lapis_userapic;

/* All counters are updated with relaxed atomics. */
struct lapis_irqchip_stats {
    uint64_t irqs;           /* interrupts sent to KVM (KVM_IRQ_LINE asserts) */
    uint64_t irq_errors;     /* KVM_IRQ_LINE / KVM_SET_GSI_ROUTING failures */
    uint64_t route_updates;  /* KVM_SET_GSI_ROUTING calls */
    uint64_t eoi_exits;      /* KVM_EXIT_IOAPIC_EOI */
    uint64_t eoi_svr12;      /* ... that arrived while that vCPU's SVR bit 12 was set */
    uint64_t eoi_ignored;    /* ... dropped by the userspace emulation of the fix (§6) */
    uint64_t eoi_bad;        /* ... with a vector below 16 (ignored) */
    uint64_t recovery_kicks; /* vCPUs asked to look for a held-back EOI exit (§7) */
    uint64_t recoveries;     /* halted vCPUs made runnable to release one */
};

struct lapis_irqchip {
    struct lapis_vm *vm;
    int vm_fd;
    bool kernel;             /* --irqchip kernel: no IOAPIC model here */
    unsigned ioapic_version; /* 0x11 or 0x20 (the in-kernel IOAPIC is 0x11) */
    enum lapis_eoi_request request;

    /* The negotiation's outcome (irqchip.c explains each). */
    long x2apic_api_caps;           /* KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API) on the VM */
    bool kernel_has_flags;          /* KVM offers ENABLE/DISABLE_SUPPRESS_EOI_BROADCAST */
    uint64_t x2apic_api_flags;      /* what lapis enabled (0: kernel left quirked) */
    bool emulate_fix;               /* quirked kernel, fix emulated on EOI exits (§6 row 3) */
    bool no_eoir_warning;           /* quirked with a 0x11 IOAPIC (§6 row 4): warn the user */
    bool read_svr_on_eoi;           /* EOI exits read the vCPU's SVR (emulation, quirk) */
    struct lapis_eoi_policy policy; /* the one source of truth for the rest of lapis */

    pthread_mutex_t lock; /* the IOAPIC model and everything below */
    struct lapis_ioapic ioapic;
    struct {
        uint64_t address;
        uint32_t data;
    } routes[LAPIS_IRQCHIP_PINS];
    bool routes_valid;                        /* routes[] is what KVM has */
    uint32_t deliver_gen[LAPIS_IRQCHIP_PINS]; /* bumped on every delivery */
    bool kernel_line[LAPIS_IRQCHIP_PINS];     /* line levels with --irqchip kernel */
    uint64_t timer_deadline;                  /* throttle timer (CLOCK_MONOTONIC ns), 0 off */

    /* The watchdog thread: throttle timer and held-back EOI exits. */
    pthread_t watchdog;
    pthread_cond_t wake;
    bool watchdog_started, watchdog_stop, watchdog_idle;
    uint32_t seen_gen[LAPIS_IRQCHIP_PINS];
    uint64_t irr_since[LAPIS_IRQCHIP_PINS];

    struct lapis_irqchip_stats stats;
    bool trace; /* LAPIS_TRACE=irq */
    uint64_t trace_start;

    /* --irqchip user: lapis's LAPICs (userapic.h), which share @lock; NULL otherwise. */
    struct lapis_userapic *user;
};

/*
 * Creates the irqchip on a VM that has no vCPUs yet and negotiates the EOI
 * policy. @vm is handed back to lapis_vm_request_recovery(). Fails with a
 * usage error for a combination the kernel cannot do (ENABLE/DISABLE on a
 * kernel without the flags, ENABLE with --irqchip kernel). Prints nothing:
 * lapis_irqchip_warning() has what the user should be told.
 */
int lapis_irqchip_init(struct lapis_irqchip *ic, struct lapis_vm *vm, int vm_fd, bool kernel,
                       unsigned ioapic_version, enum lapis_eoi_request request,
                       struct lapis_err *err);
/*
 * --irqchip user: no irqchip in KVM. The IOAPIC model as in split mode, but
 * with @ops/@opaque (userapic.c routes its messages to lapis's LAPICs), and
 * lapis's own EOI policy driven through its capability API (spec §6): auto is
 * ENABLE with a 0x20 IOAPIC, DISABLE with 0x11, whether or not the kernel has
 * the flags (its LAPIC is not in use); the others are forced.
 * LAPIS_TEST_SEED_DISABLE=1 also applies the seed's SPLIT_IRQCHIP_API DISABLE
 * flag, as a library user would before creating vCPUs. Takes @ua (freed by
 * lapis_irqchip_destroy, even if this fails).
 */
int lapis_irqchip_init_user(struct lapis_irqchip *ic, struct lapis_vm *vm, int vm_fd,
                            unsigned ioapic_version, enum lapis_eoi_request request,
                            struct lapis_userapic *ua, const struct lapis_ioapic_ops *ops,
                            struct lapis_err *err);
/* A warning about the negotiated policy for the user (one line, no newline), or NULL. */
const char *lapis_irqchip_warning(const struct lapis_irqchip *ic);
/* "kernel", "split" or "user" (the statistics' irqchip=). */
const char *lapis_irqchip_kind_name(const struct lapis_irqchip *ic);
/* Mirrors a vCPU creation into the policy. */
void lapis_irqchip_vcpu_created(struct lapis_irqchip *ic);
/* Starts / stops the watchdog thread (split irqchip), or the LAPIC timer thread (user). */
int lapis_irqchip_start(struct lapis_irqchip *ic, struct lapis_err *err);
void lapis_irqchip_stop(struct lapis_irqchip *ic);
void lapis_irqchip_destroy(struct lapis_irqchip *ic);

/* A device's interrupt line (IOAPIC pin / GSI @pin) goes to @level. */
int lapis_irqchip_set_line(struct lapis_irqchip *ic, unsigned pin, bool level);

/* The IOAPIC's MMIO window, as iobus callbacks (@opaque is the irqchip). */
uint64_t lapis_irqchip_ioapic_read(void *opaque, uint64_t addr, uint64_t offset, unsigned size);
void lapis_irqchip_ioapic_write(void *opaque, uint64_t addr, uint64_t offset, unsigned size,
                                uint64_t value);

/* KVM_EXIT_IOAPIC_EOI on @vcpu's thread. */
void lapis_irqchip_eoi_exit(struct lapis_irqchip *ic, struct lapis_vcpu *vcpu, uint8_t vector);

/* On @vcpu's thread, after a kick: release a held-back EOI exit for one of @vectors (§7). */
void lapis_irqchip_vcpu_recover(struct lapis_irqchip *ic, struct lapis_vcpu *vcpu,
                                const uint64_t vectors[4]);

/* The negotiated mode: "enable", "disable", "quirk" or "enable-emulated". */
const char *lapis_irqchip_mode_name(const struct lapis_irqchip *ic);
/* What the guest should expect (lapis.eoi=): "enable", "disable" or "quirk". */
const char *lapis_irqchip_guest_mode(const struct lapis_irqchip *ic);

#endif
