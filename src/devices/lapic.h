/* SPDX-License-Identifier: MIT */
/*
 * Software local APIC (Intel SDM vol. 3, ch. 11): xAPIC MMIO, x2APIC MSRs,
 * IA32_APIC_BASE, IRR/ISR/TMR, priorities, EOI (with the VM's suppression
 * policy), IPIs, LVTs, the timer (one-shot, periodic, TSC-deadline) and saved
 * state. Pure C: no syscalls, globals, locks, allocation or clock; everything
 * arrives through lapis_lapic_ops or arguments. The embedder serialises calls
 * on one APIC; callbacks are made with the model consistent, so a callee may
 * call straight back into the same APIC (e.g. deliver from eoi_broadcast).
 */
#ifndef LAPIS_LAPIC_H
#define LAPIS_LAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eoi_policy.h"
#include "msi.h" /* enum lapis_delivery_mode */

/* IA32_APIC_BASE (MSR 0x1B) */
#define LAPIS_MSR_APIC_BASE          0x1Bu
#define LAPIS_APIC_BASE_BSP          (1ull << 8)
#define LAPIS_APIC_BASE_EXTD         (1ull << 10) /* x2APIC mode */
#define LAPIS_APIC_BASE_EN           (1ull << 11) /* global enable */
#define LAPIS_APIC_BASE_ADDR_MASK    (~0xFFFull)
#define LAPIS_APIC_DEFAULT_BASE      0xFEE00000ull
#define LAPIS_LAPIC_MMIO_SIZE        0x1000u
#define LAPIS_LAPIC_DEFAULT_PHYSBITS 40u /* bits of base address accepted; see set_physbits */

/* xAPIC MMIO offsets; the x2APIC MSR is 0x800 + offset / 16. */
#define LAPIS_LAPIC_ID        0x020u
#define LAPIS_LAPIC_LVR       0x030u
#define LAPIS_LAPIC_TPR       0x080u
#define LAPIS_LAPIC_APR       0x090u /* xAPIC only */
#define LAPIS_LAPIC_PPR       0x0A0u
#define LAPIS_LAPIC_EOI       0x0B0u
#define LAPIS_LAPIC_RRD       0x0C0u /* xAPIC only, reads 0 */
#define LAPIS_LAPIC_LDR       0x0D0u
#define LAPIS_LAPIC_DFR       0x0E0u /* xAPIC only */
#define LAPIS_LAPIC_SVR       0x0F0u
#define LAPIS_LAPIC_ISR       0x100u /* 8 registers, 0x10 apart */
#define LAPIS_LAPIC_TMR       0x180u
#define LAPIS_LAPIC_IRR       0x200u
#define LAPIS_LAPIC_ESR       0x280u
#define LAPIS_LAPIC_LVT_CMCI  0x2F0u
#define LAPIS_LAPIC_ICR_LO    0x300u
#define LAPIS_LAPIC_ICR_HI    0x310u /* xAPIC only */
#define LAPIS_LAPIC_LVT_TMR   0x320u
#define LAPIS_LAPIC_LVT_THM   0x330u
#define LAPIS_LAPIC_LVT_PMC   0x340u
#define LAPIS_LAPIC_LVT_LINT0 0x350u
#define LAPIS_LAPIC_LVT_LINT1 0x360u
#define LAPIS_LAPIC_LVT_ERR   0x370u
#define LAPIS_LAPIC_TMICT     0x380u
#define LAPIS_LAPIC_TMCCT     0x390u
#define LAPIS_LAPIC_TDCR      0x3E0u
#define LAPIS_LAPIC_SELF_IPI  0x3F0u /* x2APIC only (MSR 0x83F) */

#define LAPIS_X2APIC_MSR_BASE 0x800u
#define LAPIS_X2APIC_MSR_LAST 0x8FFu
#define LAPIS_X2APIC_MSR(off) (LAPIS_X2APIC_MSR_BASE + ((off) >> 4))

/* Version: 0x14 with 7 LVT entries (CMCI included), as KVM. */
#define LAPIS_LAPIC_VERSION     0x14u
#define LAPIS_LAPIC_NR_LVT      7u
#define LAPIS_LAPIC_LVR_DEFAULT (((LAPIS_LAPIC_NR_LVT - 1u) << 16) | LAPIS_LAPIC_VERSION)

/* SVR */
#define LAPIS_SVR_ENABLE (1u << 8)
#define LAPIS_SVR_FOCUS  (1u << 9)

/* LVT bits */
#define LAPIS_LVT_VECTOR         0xFFu
#define LAPIS_LVT_DM_SHIFT       8
#define LAPIS_LVT_DM_MASK        (7u << 8)
#define LAPIS_LVT_STATUS         (1u << 12) /* delivery status: always idle here */
#define LAPIS_LVT_POLARITY       (1u << 13) /* LINT0/1 */
#define LAPIS_LVT_REMOTE_IRR     (1u << 14) /* LINT0/1, read-only */
#define LAPIS_LVT_LEVEL          (1u << 15) /* LINT0/1 */
#define LAPIS_LVT_MASKED         (1u << 16)
#define LAPIS_LVT_TIMER_SHIFT    17
#define LAPIS_LVT_TIMER_MASK     (3u << 17)
#define LAPIS_LVT_TIMER_ONESHOT  (0u << 17)
#define LAPIS_LVT_TIMER_PERIODIC (1u << 17)
#define LAPIS_LVT_TIMER_TSCDL    (2u << 17)

/* LVT indices, in the order of struct lapis_lapic.lvt */
enum lapis_lapic_lvt {
    LAPIS_LVT_TIMER = 0,
    LAPIS_LVT_THERMAL,
    LAPIS_LVT_PERF,
    LAPIS_LVT_LINT0,
    LAPIS_LVT_LINT1,
    LAPIS_LVT_ERROR,
    LAPIS_LVT_CMCI,
};

/* ESR bits */
#define LAPIS_ESR_SEND_CS      (1u << 0)
#define LAPIS_ESR_RECV_CS      (1u << 1)
#define LAPIS_ESR_SEND_ACCEPT  (1u << 2)
#define LAPIS_ESR_RECV_ACCEPT  (1u << 3)
#define LAPIS_ESR_REDIR_IPI    (1u << 4)
#define LAPIS_ESR_SEND_ILLEGAL (1u << 5)
#define LAPIS_ESR_RECV_ILLEGAL (1u << 6)
#define LAPIS_ESR_ILLEGAL_REG  (1u << 7)

/* ICR bits (low dword; x2APIC: destination in bits 63:32) */
#define LAPIS_ICR_VECTOR          0xFFu
#define LAPIS_ICR_DM_SHIFT        8
#define LAPIS_ICR_DEST_LOGICAL    (1u << 11)
#define LAPIS_ICR_STATUS          (1u << 12)
#define LAPIS_ICR_ASSERT          (1u << 14)
#define LAPIS_ICR_LEVEL           (1u << 15)
#define LAPIS_ICR_SHORTHAND_SHIFT 18

enum lapis_ipi_shorthand {
    LAPIS_IPI_DEST = 0, /* use the destination field */
    LAPIS_IPI_SELF = 1,
    LAPIS_IPI_ALL = 2,    /* all including self */
    LAPIS_IPI_OTHERS = 3, /* all excluding self */
};

#define LAPIS_XAPIC_BROADCAST  0xFFu
#define LAPIS_X2APIC_BROADCAST 0xFFFFFFFFu

enum lapis_lapic_mode {
    LAPIS_LAPIC_DISABLED = 0, /* IA32_APIC_BASE.EN = 0 */
    LAPIS_LAPIC_XAPIC,
    LAPIS_LAPIC_X2APIC,
};

/* One IPI, as the ICR (or SELF_IPI) describes it. */
struct lapis_lapic_ipi {
    uint32_t source_id; /* sender's APIC ID (8-bit in xAPIC mode, 32-bit in x2APIC) */
    uint32_t dest;      /* xAPIC: 8 bits (0xFF broadcast); x2APIC: 32 bits */
    uint8_t shorthand;  /* enum lapis_ipi_shorthand */
    bool dest_logical;
    uint8_t delivery_mode; /* enum lapis_delivery_mode */
    uint8_t vector;
    bool level;  /* trigger mode: true = level */
    bool assert; /* level bit: false only for INIT level de-assert */
};

struct lapis_lapic_ops {
    /* A level EOI that was not suppressed: forward to every IOAPIC. */
    void (*eoi_broadcast)(void *opaque, uint8_t vector);
    /* Route an IPI; the embedder calls lapis_lapic_accept_ipi() on each APIC (self too). */
    void (*send_ipi)(void *opaque, const struct lapis_lapic_ipi *ipi);
    /* Call lapis_lapic_timer_expired() at absolute @deadline_ns (0 = cancel). Replaces. */
    void (*timer_arm)(void *opaque, uint64_t deadline_ns);
    /* The clock the timer counts in (ns, monotonic). */
    uint64_t (*now_ns)(void *opaque);
    /* An interrupt or event became pending: wake the vCPU. May be NULL. */
    void (*kick)(void *opaque);
};

struct lapis_lapic_stats {
    uint64_t eois;                     /* EOI writes */
    uint64_t eoi_broadcasts;           /* level EOIs forwarded through ops->eoi_broadcast */
    uint64_t eoi_suppressed;           /* level EOIs not forwarded (Directed EOI honoured) */
    uint64_t eoi_spurious;             /* EOIs with nothing in service */
    uint64_t accepted;                 /* fixed/lowest interrupts set in the IRR */
    uint64_t coalesced;                /* ... that were already pending */
    uint64_t dropped;                  /* interrupts refused: APIC disabled, bad mode, ExtINT */
    uint64_t acks;                     /* IRR -> ISR moves */
    uint64_t ipis;                     /* IPIs sent through ops->send_ipi */
    uint64_t nmis, inits, sipis, smis; /* events latched */
    uint64_t illegal_vectors;          /* vectors 0-15 sent or received */
    uint64_t bad_mmio;                 /* MMIO accesses ignored (size, alignment, mode, register) */
    uint64_t bad_msr;                  /* x2APIC MSR accesses answered with #GP */
    uint64_t bad_base;                 /* IA32_APIC_BASE writes answered with #GP */
    uint64_t timer_fires;              /* timer expiries (masked or not) */
    uint64_t timer_masked;             /* ... that found the LVT masked */
    uint64_t errors;                   /* error-interrupt attempts (ESR bits latched) */
};

struct lapis_lapic {
    /* configuration */
    const struct lapis_eoi_policy *policy;
    const struct lapis_lapic_ops *ops;
    void *opaque;
    uint32_t apic_id; /* initial (x2APIC) ID */
    bool bsp;
    bool guest_has_x2apic;
    unsigned physbits;

    /* architectural state */
    uint64_t base;     /* IA32_APIC_BASE */
    uint32_t xapic_id; /* 8-bit xAPIC ID (writable in xAPIC mode) */
    uint32_t lvr, tpr, ldr, dfr, svr;
    uint32_t esr, esr_pending;
    uint32_t icr_lo, icr_hi;
    uint32_t lvt[LAPIS_LAPIC_NR_LVT];
    uint32_t tmict, tdcr;
    uint32_t isr[8], tmr[8], irr[8];
    uint8_t ppr;

    /* timer */
    bool timer_running;      /* one-shot/periodic count in progress */
    uint64_t timer_deadline; /* next expiry (ns) */
    uint64_t timer_period;   /* tmict * divide (ns) */
    uint64_t tsc_deadline;   /* TSC-deadline mode, in ns; 0 = disarmed */

    /* events for the vCPU backend */
    bool nmi_pending, init_pending, sipi_pending, smi_pending;
    uint8_t sipi_vector;
    bool lint_level[2];
    bool error_firing;

    struct lapis_lapic_stats stats;
};

/* Saved state (version 1). Absolute times are in ops->now_ns's clock. */
#define LAPIS_LAPIC_STATE_MAGIC   0x4341504Cu /* "LPAC" */
#define LAPIS_LAPIC_STATE_VERSION 1u

struct lapis_lapic_state {
    uint32_t magic, version, size, apic_id;
    uint64_t base;
    uint32_t xapic_id, tpr, ldr, dfr, svr, esr, esr_pending, icr_lo, icr_hi, tmict, tdcr;
    uint32_t lvt[LAPIS_LAPIC_NR_LVT];
    uint32_t isr[8], tmr[8], irr[8];
    uint64_t timer_deadline, timer_period, tsc_deadline;
    uint8_t timer_running, nmi_pending, init_pending, sipi_pending, smi_pending, sipi_vector;
    uint8_t lint_level[2];
    uint32_t reserved[4]; /* zero */
};

/*
 * Sets up @apic at power-on. @policy (the VM's, outlives the APIC) decides
 * LVR bit 24 and suppression; @ops needs all callbacks but kick.
 * Returns 0, or -EINVAL for a missing policy/ops/callback.
 */
int lapis_lapic_init(struct lapis_lapic *apic, uint32_t apic_id, bool bsp,
                     const struct lapis_eoi_policy *policy, bool guest_has_x2apic,
                     const struct lapis_lapic_ops *ops, void *opaque);
/* RESET: xAPIC mode at 0xFEE00000, every register at its power-up value; stats kept. */
void lapis_lapic_reset(struct lapis_lapic *apic);
/* INIT: like RESET but IA32_APIC_BASE and the ID (and the x2APIC LDR) are kept. */
void lapis_lapic_init_signal(struct lapis_lapic *apic);
/* Recomputes LVR (bit 24 from the policy), as KVM on SET_CPUID2, reset and SET_LAPIC. */
void lapis_lapic_refresh_version(struct lapis_lapic *apic);
/* SET_CPUID2: x2APIC in CPUID gates EXTD and Directed EOI; refreshes LVR. */
void lapis_lapic_set_guest_x2apic(struct lapis_lapic *apic, bool has_x2apic);
/* MAXPHYADDR for IA32_APIC_BASE's reserved bits (24..52; default 40). -EINVAL otherwise. */
int lapis_lapic_set_physbits(struct lapis_lapic *apic, unsigned bits);

/* IA32_APIC_BASE. set_base returns 0 or -EINVAL (#GP): reserved bits, illegal transitions. */
uint64_t lapis_lapic_get_base(const struct lapis_lapic *apic);
int lapis_lapic_set_base(struct lapis_lapic *apic, uint64_t value);
enum lapis_lapic_mode lapis_lapic_mode(const struct lapis_lapic *apic);
/* Guest-physical base of the xAPIC page (decoded only in xAPIC mode). */
uint64_t lapis_lapic_mmio_base(const struct lapis_lapic *apic);
/* The ID as seen in the current mode: 8-bit xAPIC ID, or the 32-bit x2APIC ID. */
uint32_t lapis_lapic_id(const struct lapis_lapic *apic);

/* xAPIC MMIO at @offset in the page. Only aligned 32-bit accesses to 16-byte registers act. */
uint32_t lapis_lapic_mmio_read(struct lapis_lapic *apic, uint64_t offset, unsigned size);
void lapis_lapic_mmio_write(struct lapis_lapic *apic, uint64_t offset, unsigned size,
                            uint32_t value);

/* x2APIC MSRs 0x800-0x8FF. 0, or -EINVAL meaning "inject #GP". */
int lapis_lapic_msr_read(struct lapis_lapic *apic, uint32_t msr, uint64_t *value);
int lapis_lapic_msr_write(struct lapis_lapic *apic, uint32_t msr, uint64_t value);

/*
 * Accepts an interrupt. FIXED/LOWEST: IRR (+TMR for level, cleared for edge);
 * NMI, INIT, SIPI, SMI: latched for the take_* calls. Returns 0 accepted,
 * -EBUSY already pending (coalesced), -EINVAL illegal vector (ESR bit 6),
 * -ENODEV APIC (hardware, or software for FIXED) disabled, -ENOTSUP ExtINT or a
 * reserved mode (counted, ignored).
 */
int lapis_lapic_deliver(struct lapis_lapic *apic, uint8_t delivery_mode, uint8_t vector,
                        bool level);
/* Routing helper: accepts @ipi if it targets @apic (INIT de-assert is ignored). 1 if taken. */
int lapis_lapic_accept_ipi(struct lapis_lapic *apic, const struct lapis_lapic_ipi *ipi);
/*
 * Does (dest, mode, shorthand) from @source_id select @apic? Physical: ID or
 * broadcast (0xFF in xAPIC mode, 0xFFFFFFFF in either). Logical: flat or
 * cluster per DFR (xAPIC), cluster (x2APIC). A hardware-disabled APIC never matches.
 */
bool lapis_lapic_match_dest(const struct lapis_lapic *apic, uint32_t dest, bool dest_logical,
                            uint8_t shorthand, uint32_t source_id);

/* Highest IRR vector whose priority class beats PPR, or -1. */
int lapis_lapic_pending_vector(const struct lapis_lapic *apic);
/* Interrupt acknowledge: moves that vector IRR -> ISR, updates PPR; vector or -1. */
int lapis_lapic_ack(struct lapis_lapic *apic);
/* EOI, as a write to the EOI register. */
void lapis_lapic_eoi(struct lapis_lapic *apic);

/* Latched events; each take clears it and returns whether it was pending. */
bool lapis_lapic_take_nmi(struct lapis_lapic *apic);
bool lapis_lapic_take_init(struct lapis_lapic *apic);
bool lapis_lapic_take_sipi(struct lapis_lapic *apic, uint8_t *vector);
bool lapis_lapic_take_smi(struct lapis_lapic *apic);

/* Local interrupt pins LINT0/LINT1 (@pin 0 or 1). Fires the LVT on a rising edge or level. */
void lapis_lapic_set_lint(struct lapis_lapic *apic, unsigned pin, bool level);
/* Should a PIC's INTR reach the CPU? (APIC disabled, or LINT0 unmasked ExtINT.) */
bool lapis_lapic_accepts_pic_intr(const struct lapis_lapic *apic);

/* TPR, PPR, APR, and CR8 (= TPR[7:4]) */
uint8_t lapis_lapic_get_tpr(const struct lapis_lapic *apic);
void lapis_lapic_set_tpr(struct lapis_lapic *apic, uint8_t tpr);
uint8_t lapis_lapic_get_ppr(const struct lapis_lapic *apic);
uint8_t lapis_lapic_get_apr(const struct lapis_lapic *apic);
uint8_t lapis_lapic_get_cr8(const struct lapis_lapic *apic);
void lapis_lapic_set_cr8(struct lapis_lapic *apic, uint8_t cr8);

/* Timer: the embedder calls this when the armed deadline passes (late or stale calls are safe). */
void lapis_lapic_timer_expired(struct lapis_lapic *apic);
/* TSC-deadline (the caller converts TSC to ns): 0 disarms; ignored outside TSC-deadline mode. */
int lapis_lapic_set_tsc_deadline(struct lapis_lapic *apic, uint64_t deadline_ns);
uint64_t lapis_lapic_get_tsc_deadline(const struct lapis_lapic *apic);
/* Timer divisor (1..128) from TDCR, and the current count computed from ops->now_ns. */
unsigned lapis_lapic_timer_divisor(const struct lapis_lapic *apic);
uint32_t lapis_lapic_timer_current_count(struct lapis_lapic *apic);

/* Saved state. load: 0, or -EINVAL with @apic unchanged; recomputes LVR and re-arms the timer. */
void lapis_lapic_save(const struct lapis_lapic *apic, struct lapis_lapic_state *state);
int lapis_lapic_load(struct lapis_lapic *apic, const struct lapis_lapic_state *state);

const struct lapis_lapic_stats *lapis_lapic_get_stats(const struct lapis_lapic *apic);

#endif
