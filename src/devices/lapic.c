/* SPDX-License-Identifier: MIT */
/*
 * Software local APIC. Semantics from the Intel SDM vol. 3 ch. 11, checked
 * against Linux's arch/x86/kvm/lapic.c and bhyve's vlapic.c. Where the two
 * differ, KVM wins for guest-visible register behaviour (lapis runs beside
 * KVM's in-kernel LAPIC and must look the same), the SDM for the rest.
 *
 * Every callback is made last, with the state consistent: the callee may call
 * back into this APIC (an IOAPIC redelivering from eoi_broadcast, a self IPI
 * routed from send_ipi, a vCPU acking from kick).
 */
#include "lapic.h"

#include <errno.h>
#include <string.h>

#define ICR_LO_MASK    0x000CCFFFu /* vector, mode, dest mode, level, trigger, shorthand */
#define X2_ICR_RSVD    0xFFF32000u /* bits 13, 16-17, 20-31: #GP in x2APIC */
#define SVR_BASE_MASK  0x3FFu
#define TDCR_MASK      0xBu
#define DFR_RSVD_ONES  0x0FFFFFFFu
#define DFR_FLAT       0xFu
#define DFR_CLUSTER    0x0u
#define XAPIC_LDR_MASK 0xFF000000u
#define BASE_RSVD_LOW  0x2FFull /* bits 0-7 and 9 */

/* Writable bits of each LVT (read-only status and remote IRR excluded). */
static const uint32_t lvt_writable[LAPIS_LAPIC_NR_LVT] = {
    [LAPIS_LVT_TIMER] = LAPIS_LVT_VECTOR | LAPIS_LVT_MASKED | LAPIS_LVT_TIMER_MASK,
    [LAPIS_LVT_THERMAL] = LAPIS_LVT_VECTOR | LAPIS_LVT_DM_MASK | LAPIS_LVT_MASKED,
    [LAPIS_LVT_PERF] = LAPIS_LVT_VECTOR | LAPIS_LVT_DM_MASK | LAPIS_LVT_MASKED,
    [LAPIS_LVT_LINT0] = LAPIS_LVT_VECTOR | LAPIS_LVT_DM_MASK | LAPIS_LVT_POLARITY |
                        LAPIS_LVT_LEVEL | LAPIS_LVT_MASKED,
    [LAPIS_LVT_LINT1] = LAPIS_LVT_VECTOR | LAPIS_LVT_DM_MASK | LAPIS_LVT_POLARITY |
                        LAPIS_LVT_LEVEL | LAPIS_LVT_MASKED,
    [LAPIS_LVT_ERROR] = LAPIS_LVT_VECTOR | LAPIS_LVT_MASKED,
    [LAPIS_LVT_CMCI] = LAPIS_LVT_VECTOR | LAPIS_LVT_DM_MASK | LAPIS_LVT_MASKED,
};

/* Read-only bits a guest may write as 1 without #GP (ignored). */
static uint32_t lvt_readonly(unsigned idx)
{
    uint32_t ro = LAPIS_LVT_STATUS;

    if (idx == LAPIS_LVT_LINT0 || idx == LAPIS_LVT_LINT1)
        ro |= LAPIS_LVT_REMOTE_IRR;
    return ro;
}

/* ---- 256-bit vector sets (IRR, ISR, TMR) ---- */

static bool vec_test(const uint32_t *set, unsigned v)
{
    return (set[v >> 5] >> (v & 31)) & 1u;
}

static void vec_set(uint32_t *set, unsigned v)
{
    set[v >> 5] |= 1u << (v & 31);
}

static void vec_clear(uint32_t *set, unsigned v)
{
    set[v >> 5] &= ~(1u << (v & 31));
}

static int vec_highest(const uint32_t *set)
{
    for (int i = 7; i >= 0; i--) {
        if (set[i])
            return i * 32 + 31 - __builtin_clz(set[i]);
    }
    return -1;
}

/* ---- small helpers ---- */

enum lapis_lapic_mode lapis_lapic_mode(const struct lapis_lapic *apic)
{
    if (!(apic->base & LAPIS_APIC_BASE_EN))
        return LAPIS_LAPIC_DISABLED;
    return (apic->base & LAPIS_APIC_BASE_EXTD) ? LAPIS_LAPIC_X2APIC : LAPIS_LAPIC_XAPIC;
}

static bool is_x2apic(const struct lapis_lapic *apic)
{
    return lapis_lapic_mode(apic) == LAPIS_LAPIC_X2APIC;
}

static bool hw_enabled(const struct lapis_lapic *apic)
{
    return lapis_lapic_mode(apic) != LAPIS_LAPIC_DISABLED;
}

static bool sw_enabled(const struct lapis_lapic *apic)
{
    return (apic->svr & LAPIS_SVR_ENABLE) != 0;
}

static uint32_t x2apic_ldr(uint32_t id)
{
    return ((id >> 4) << 16) | (1u << (id & 15));
}

uint32_t lapis_lapic_id(const struct lapis_lapic *apic)
{
    return is_x2apic(apic) ? apic->apic_id : apic->xapic_id;
}

uint64_t lapis_lapic_mmio_base(const struct lapis_lapic *apic)
{
    return apic->base & LAPIS_APIC_BASE_ADDR_MASK;
}

static uint64_t now(const struct lapis_lapic *apic)
{
    return apic->ops->now_ns(apic->opaque);
}

static void kick(struct lapis_lapic *apic)
{
    if (apic->ops->kick)
        apic->ops->kick(apic->opaque);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return (a + b < a) ? UINT64_MAX : a + b;
}

static uint32_t timer_mode(const struct lapis_lapic *apic)
{
    return apic->lvt[LAPIS_LVT_TIMER] & LAPIS_LVT_TIMER_MASK;
}

/* ---- priorities ---- */

static void update_ppr(struct lapis_lapic *apic)
{
    int isrv = vec_highest(apic->isr);
    uint32_t isr_class = isrv < 0 ? 0 : ((uint32_t)isrv & 0xF0);

    if ((apic->tpr & 0xF0) >= isr_class)
        apic->ppr = (uint8_t)apic->tpr;
    else
        apic->ppr = (uint8_t)isr_class;
}

uint8_t lapis_lapic_get_tpr(const struct lapis_lapic *apic)
{
    return (uint8_t)apic->tpr;
}

void lapis_lapic_set_tpr(struct lapis_lapic *apic, uint8_t tpr)
{
    apic->tpr = tpr;
    update_ppr(apic);
}

uint8_t lapis_lapic_get_ppr(const struct lapis_lapic *apic)
{
    return apic->ppr;
}

uint8_t lapis_lapic_get_apr(const struct lapis_lapic *apic)
{
    int irrv = vec_highest(apic->irr), isrv = vec_highest(apic->isr);
    uint32_t tpr = apic->tpr, irr_c = irrv < 0 ? 0 : (uint32_t)irrv & 0xF0;
    uint32_t isr_c = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0, apr;

    /* SDM 11.6.2.1: the arbitration priority for lowest-priority delivery. */
    if ((tpr & 0xF0) >= irr_c && (tpr & 0xF0) > isr_c)
        return (uint8_t)tpr;
    apr = tpr & 0xF0;
    if (isr_c > apr)
        apr = isr_c;
    if (irr_c > apr)
        apr = irr_c;
    return (uint8_t)apr;
}

uint8_t lapis_lapic_get_cr8(const struct lapis_lapic *apic)
{
    return (uint8_t)(apic->tpr >> 4);
}

void lapis_lapic_set_cr8(struct lapis_lapic *apic, uint8_t cr8)
{
    lapis_lapic_set_tpr(apic, (uint8_t)((cr8 & 0xF) << 4));
}

/* ---- timer ---- */

static unsigned divisor_of(uint32_t tdcr)
{
    /* TDCR bits 3,1,0: 000 = 2 ... 110 = 128, 111 = 1. */
    unsigned v = ((tdcr & 8) >> 1) | (tdcr & 3);
    return 1u << ((v + 1) & 7);
}

unsigned lapis_lapic_timer_divisor(const struct lapis_lapic *apic)
{
    return divisor_of(apic->tdcr);
}

/* Tells the embedder what the timer needs now (callout: call last). */
static void timer_sync(struct lapis_lapic *apic)
{
    uint64_t deadline = 0;

    if (timer_mode(apic) == LAPIS_LVT_TIMER_TSCDL)
        deadline = apic->tsc_deadline;
    else if (apic->timer_running)
        deadline = apic->timer_deadline;
    apic->ops->timer_arm(apic->opaque, deadline);
}

static void timer_stop(struct lapis_lapic *apic)
{
    apic->timer_running = false;
    apic->timer_deadline = 0;
    apic->timer_period = 0;
    apic->tsc_deadline = 0;
}

uint32_t lapis_lapic_timer_current_count(struct lapis_lapic *apic)
{
    uint32_t mode = timer_mode(apic);
    uint64_t t, rem, count;

    if (!apic->timer_running || !apic->timer_period ||
        (mode != LAPIS_LVT_TIMER_ONESHOT && mode != LAPIS_LVT_TIMER_PERIODIC))
        return 0;
    t = now(apic);
    if (t >= apic->timer_deadline) {
        if (mode == LAPIS_LVT_TIMER_ONESHOT)
            return 0;
        rem = apic->timer_period - ((t - apic->timer_deadline) % apic->timer_period);
    } else {
        rem = apic->timer_deadline - t;
    }
    count = rem / lapis_lapic_timer_divisor(apic);
    return count > apic->tmict ? apic->tmict : (uint32_t)count;
}

static void timer_start_count(struct lapis_lapic *apic)
{
    uint32_t mode = timer_mode(apic);

    apic->timer_running = false;
    apic->timer_deadline = apic->timer_period = 0;
    if (apic->tmict == 0 || (mode != LAPIS_LVT_TIMER_ONESHOT && mode != LAPIS_LVT_TIMER_PERIODIC))
        return;
    /* Bus clock 1 GHz, as KVM's APIC_BUS_CYCLE_NS = 1. */
    apic->timer_period = (uint64_t)apic->tmict * lapis_lapic_timer_divisor(apic);
    apic->timer_deadline = sat_add(now(apic), apic->timer_period);
    apic->timer_running = true;
}

static void lvt_fire(struct lapis_lapic *apic, unsigned idx);

static void fire_timer(struct lapis_lapic *apic)
{
    apic->stats.timer_fires++;
    if (apic->lvt[LAPIS_LVT_TIMER] & LAPIS_LVT_MASKED)
        apic->stats.timer_masked++;
    lvt_fire(apic, LAPIS_LVT_TIMER);
}

void lapis_lapic_timer_expired(struct lapis_lapic *apic)
{
    uint32_t mode = timer_mode(apic);
    uint64_t t;

    if (!hw_enabled(apic))
        return;
    t = now(apic);
    if (mode == LAPIS_LVT_TIMER_TSCDL) {
        if (!apic->tsc_deadline)
            return;
        if (t < apic->tsc_deadline) { /* early or stale: wait on */
            timer_sync(apic);
            return;
        }
        apic->tsc_deadline = 0; /* the SDM: fires once, then disarms */
    } else {
        if (!apic->timer_running)
            return;
        if (t < apic->timer_deadline) {
            timer_sync(apic);
            return;
        }
        if (mode == LAPIS_LVT_TIMER_PERIODIC) {
            /* One interrupt however late; the next deadline in the future. */
            uint64_t missed = (t - apic->timer_deadline) / apic->timer_period;
            apic->timer_deadline = sat_add(apic->timer_deadline, (missed + 1) * apic->timer_period);
        } else {
            apic->timer_running = false;
            apic->timer_deadline = apic->timer_period = 0;
        }
    }
    fire_timer(apic);
    timer_sync(apic);
}

int lapis_lapic_set_tsc_deadline(struct lapis_lapic *apic, uint64_t deadline_ns)
{
    /* Outside TSC-deadline mode the write is ignored (SDM 11.5.4.1). */
    if (!hw_enabled(apic) || timer_mode(apic) != LAPIS_LVT_TIMER_TSCDL)
        return 0;
    apic->tsc_deadline = deadline_ns;
    if (deadline_ns && deadline_ns <= now(apic)) {
        apic->tsc_deadline = 0;
        fire_timer(apic);
    }
    timer_sync(apic);
    return 0;
}

uint64_t lapis_lapic_get_tsc_deadline(const struct lapis_lapic *apic)
{
    if (!hw_enabled(apic) || timer_mode(apic) != LAPIS_LVT_TIMER_TSCDL)
        return 0;
    return apic->tsc_deadline;
}

static void write_tmict(struct lapis_lapic *apic, uint32_t val)
{
    if (timer_mode(apic) == LAPIS_LVT_TIMER_TSCDL)
        return; /* ignored in TSC-deadline mode */
    apic->tmict = val;
    timer_start_count(apic);
    timer_sync(apic);
}

static void write_tdcr(struct lapis_lapic *apic, uint32_t val)
{
    unsigned old_div = lapis_lapic_timer_divisor(apic), new_div;
    uint32_t count = 0;
    bool rescale = false;

    if (apic->timer_running) {
        uint64_t t = now(apic);
        /* A one-shot already past its deadline just awaits timer_expired. */
        rescale = !(timer_mode(apic) == LAPIS_LVT_TIMER_ONESHOT && t >= apic->timer_deadline);
        count = lapis_lapic_timer_current_count(apic);
    }
    apic->tdcr = val & TDCR_MASK;
    new_div = lapis_lapic_timer_divisor(apic);
    if (!rescale || old_div == new_div) {
        /* An expired one-shot awaiting timer_expired keeps period = tmict * divisor. */
        if (apic->timer_running)
            apic->timer_period = (uint64_t)apic->tmict * new_div;
        return;
    }
    /* As KVM: the remaining count carries on at the new rate. */
    apic->timer_period = (uint64_t)apic->tmict * new_div;
    apic->timer_deadline = sat_add(now(apic), (uint64_t)count * new_div);
    timer_sync(apic);
}

/* ---- accepting interrupts ---- */

static void raise_error(struct lapis_lapic *apic, uint32_t bits)
{
    apic->esr_pending |= bits;
    apic->stats.errors++;
    /* An error LVT with an illegal vector must not recurse. */
    if (apic->error_firing)
        return;
    apic->error_firing = true;
    lvt_fire(apic, LAPIS_LVT_ERROR);
    apic->error_firing = false;
}

static int accept_fixed(struct lapis_lapic *apic, uint8_t vector, bool level)
{
    if (vector < 16) {
        /* The APIC never sets IRR bits 0-15. */
        apic->stats.illegal_vectors++;
        raise_error(apic, LAPIS_ESR_RECV_ILLEGAL);
        return -EINVAL;
    }
    if (!sw_enabled(apic)) {
        apic->stats.dropped++;
        return -ENODEV;
    }
    if (level)
        vec_set(apic->tmr, vector);
    else
        vec_clear(apic->tmr, vector);
    if (vec_test(apic->irr, vector)) {
        apic->stats.coalesced++;
        return -EBUSY;
    }
    vec_set(apic->irr, vector);
    apic->stats.accepted++;
    kick(apic);
    return 0;
}

int lapis_lapic_deliver(struct lapis_lapic *apic, uint8_t delivery_mode, uint8_t vector, bool level)
{
    if (!hw_enabled(apic)) {
        apic->stats.dropped++;
        return -ENODEV;
    }
    switch (delivery_mode) {
    case LAPIS_DM_FIXED:
    case LAPIS_DM_LOWEST:
        return accept_fixed(apic, vector, level);
    case LAPIS_DM_NMI:
        apic->nmi_pending = true;
        apic->stats.nmis++;
        break;
    case LAPIS_DM_INIT:
        apic->init_pending = true;
        apic->stats.inits++;
        break;
    case LAPIS_DM_STARTUP:
        apic->sipi_pending = true;
        apic->sipi_vector = vector;
        apic->stats.sipis++;
        break;
    case LAPIS_DM_SMI:
        apic->smi_pending = true;
        apic->stats.smis++;
        break;
    default: /* ExtINT comes from the PIC, see accepts_pic_intr; 3 is reserved */
        apic->stats.dropped++;
        return -ENOTSUP;
    }
    kick(apic);
    return 0;
}

/* Raises a local interrupt from an LVT entry. */
static void lvt_fire(struct lapis_lapic *apic, unsigned idx)
{
    uint32_t lvt = apic->lvt[idx];
    uint8_t vector = (uint8_t)(lvt & LAPIS_LVT_VECTOR);
    bool lint = idx == LAPIS_LVT_LINT0 || idx == LAPIS_LVT_LINT1;
    unsigned dm = LAPIS_DM_FIXED;
    bool level;

    if (lvt & LAPIS_LVT_MASKED)
        return;
    if (idx != LAPIS_LVT_TIMER && idx != LAPIS_LVT_ERROR)
        dm = (lvt & LAPIS_LVT_DM_MASK) >> LAPIS_LVT_DM_SHIFT;
    switch (dm) {
    case LAPIS_DM_FIXED:
        level = lint && (lvt & LAPIS_LVT_LEVEL);
        /* Remote IRR first: accept_fixed may call out. */
        if (level && vector >= 16)
            apic->lvt[idx] |= LAPIS_LVT_REMOTE_IRR;
        accept_fixed(apic, vector, level);
        break;
    case LAPIS_DM_NMI:
    case LAPIS_DM_INIT:
    case LAPIS_DM_SMI:
        lapis_lapic_deliver(apic, (uint8_t)dm, vector, false);
        break;
    case LAPIS_DM_EXTINT:
        break; /* the PIC's INTR goes to the CPU: accepts_pic_intr() */
    default:
        apic->stats.dropped++;
        break;
    }
}

void lapis_lapic_set_lint(struct lapis_lapic *apic, unsigned pin, bool level)
{
    unsigned idx;
    bool was;

    if (pin > 1)
        return;
    idx = pin ? LAPIS_LVT_LINT1 : LAPIS_LVT_LINT0;
    was = apic->lint_level[pin];
    apic->lint_level[pin] = level;
    if (!hw_enabled(apic) || !level)
        return;
    if (apic->lvt[idx] & LAPIS_LVT_LEVEL) {
        if (!(apic->lvt[idx] & LAPIS_LVT_REMOTE_IRR))
            lvt_fire(apic, idx);
    } else if (!was) {
        lvt_fire(apic, idx);
    }
}

bool lapis_lapic_accepts_pic_intr(const struct lapis_lapic *apic)
{
    uint32_t lvt0 = apic->lvt[LAPIS_LVT_LINT0];

    if (!hw_enabled(apic))
        return true;
    return !(lvt0 & LAPIS_LVT_MASKED) &&
           ((lvt0 & LAPIS_LVT_DM_MASK) >> LAPIS_LVT_DM_SHIFT) == LAPIS_DM_EXTINT;
}

bool lapis_lapic_match_dest(const struct lapis_lapic *apic, uint32_t dest, bool dest_logical,
                            uint8_t shorthand, uint32_t source_id)
{
    uint32_t self = lapis_lapic_id(apic);

    if (!hw_enabled(apic))
        return false;
    switch (shorthand) {
    case LAPIS_IPI_SELF:
        return self == source_id;
    case LAPIS_IPI_ALL:
        return true;
    case LAPIS_IPI_OTHERS:
        return self != source_id;
    case LAPIS_IPI_DEST:
        break;
    default:
        return false;
    }
    if (dest == LAPIS_X2APIC_BROADCAST)
        return true;
    if (is_x2apic(apic)) {
        if (!dest_logical)
            return dest == apic->apic_id;
        return (dest >> 16) == (apic->ldr >> 16) && (dest & apic->ldr & 0xFFFF) != 0;
    }
    if (dest > 0xFF)
        return false;
    if (dest == LAPIS_XAPIC_BROADCAST)
        return true;
    if (!dest_logical)
        return dest == apic->xapic_id;
    {
        uint32_t lid = apic->ldr >> 24;
        switch (apic->dfr >> 28) {
        case DFR_FLAT:
            return (dest & lid) != 0;
        case DFR_CLUSTER:
            return (dest >> 4) == (lid >> 4) && (dest & lid & 0xF) != 0;
        default:
            return false;
        }
    }
}

int lapis_lapic_accept_ipi(struct lapis_lapic *apic, const struct lapis_lapic_ipi *ipi)
{
    if (!lapis_lapic_match_dest(apic, ipi->dest, ipi->dest_logical, ipi->shorthand, ipi->source_id))
        return 0;
    /* INIT level de-assert only synchronises arbitration IDs: nothing to do. */
    if (ipi->delivery_mode == LAPIS_DM_INIT && ipi->level && !ipi->assert)
        return 0;
    /* The ICR's trigger mode means nothing for other IPIs: they arrive edge. */
    lapis_lapic_deliver(apic, ipi->delivery_mode, ipi->vector, false);
    return 1;
}

int lapis_lapic_pending_vector(const struct lapis_lapic *apic)
{
    int v;

    if (!hw_enabled(apic))
        return -1;
    v = vec_highest(apic->irr);
    if (v < 0 || ((uint32_t)v & 0xF0) <= (apic->ppr & 0xF0u))
        return -1;
    return v;
}

int lapis_lapic_ack(struct lapis_lapic *apic)
{
    int v = lapis_lapic_pending_vector(apic);

    if (v < 0)
        return -1;
    vec_clear(apic->irr, (unsigned)v);
    vec_set(apic->isr, (unsigned)v);
    update_ppr(apic);
    apic->stats.acks++;
    return v;
}

void lapis_lapic_eoi(struct lapis_lapic *apic)
{
    int v = vec_highest(apic->isr);
    bool broadcast = false;
    unsigned refire[2], nrefire = 0;

    apic->stats.eois++;
    if (v < 0) {
        apic->stats.eoi_spurious++;
        return;
    }
    vec_clear(apic->isr, (unsigned)v);
    update_ppr(apic);
    /* A level LINT with this vector: clear Remote IRR, refire if still high. */
    for (unsigned pin = 0; pin < 2; pin++) {
        unsigned idx = pin ? LAPIS_LVT_LINT1 : LAPIS_LVT_LINT0;
        uint32_t lvt = apic->lvt[idx];
        if ((lvt & LAPIS_LVT_REMOTE_IRR) && (lvt & LAPIS_LVT_VECTOR) == (uint32_t)v) {
            apic->lvt[idx] &= ~LAPIS_LVT_REMOTE_IRR;
            if (apic->lint_level[pin] && (lvt & LAPIS_LVT_LEVEL))
                refire[nrefire++] = idx;
        }
    }
    if (vec_test(apic->tmr, (unsigned)v)) {
        /* The VM's policy decides; quirk mode ignores SVR bit 12 (KVM's default). */
        if (lapis_eoi_policy_suppress_broadcast(apic->policy, apic->svr)) {
            apic->stats.eoi_suppressed++;
        } else {
            apic->stats.eoi_broadcasts++;
            broadcast = true;
        }
    }
    for (unsigned i = 0; i < nrefire; i++)
        lvt_fire(apic, refire[i]);
    if (broadcast)
        apic->ops->eoi_broadcast(apic->opaque, (uint8_t)v);
}

bool lapis_lapic_take_nmi(struct lapis_lapic *apic)
{
    bool p = apic->nmi_pending;
    apic->nmi_pending = false;
    return p;
}

bool lapis_lapic_take_init(struct lapis_lapic *apic)
{
    bool p = apic->init_pending;
    apic->init_pending = false;
    return p;
}

bool lapis_lapic_take_sipi(struct lapis_lapic *apic, uint8_t *vector)
{
    bool p = apic->sipi_pending;
    apic->sipi_pending = false;
    if (p && vector)
        *vector = apic->sipi_vector;
    return p;
}

bool lapis_lapic_take_smi(struct lapis_lapic *apic)
{
    bool p = apic->smi_pending;
    apic->smi_pending = false;
    return p;
}

/* ---- IPIs ---- */

static void send_ipi(struct lapis_lapic *apic, struct lapis_lapic_ipi *ipi)
{
    ipi->source_id = lapis_lapic_id(apic);
    if ((ipi->delivery_mode == LAPIS_DM_FIXED || ipi->delivery_mode == LAPIS_DM_LOWEST) &&
        ipi->vector < 16) {
        /* Sent anyway: each receiver flags and drops it (SDM 11.5.3). */
        apic->stats.illegal_vectors++;
        raise_error(apic, LAPIS_ESR_SEND_ILLEGAL);
    }
    apic->stats.ipis++;
    apic->ops->send_ipi(apic->opaque, ipi);
}

static void send_icr(struct lapis_lapic *apic)
{
    uint32_t lo = apic->icr_lo;
    struct lapis_lapic_ipi ipi = {
        .dest = is_x2apic(apic) ? apic->icr_hi : apic->icr_hi >> 24,
        .shorthand = (uint8_t)((lo >> LAPIS_ICR_SHORTHAND_SHIFT) & 3),
        .dest_logical = (lo & LAPIS_ICR_DEST_LOGICAL) != 0,
        .delivery_mode = (uint8_t)((lo >> LAPIS_ICR_DM_SHIFT) & 7),
        .vector = (uint8_t)(lo & LAPIS_ICR_VECTOR),
        .level = (lo & LAPIS_ICR_LEVEL) != 0,
        .assert = (lo & LAPIS_ICR_ASSERT) != 0,
    };
    send_ipi(apic, &ipi);
}

/* ---- registers ---- */

static void write_svr(struct lapis_lapic *apic, uint32_t val)
{
    uint32_t mask = SVR_BASE_MASK;

    /* Bit 12 sticks only while Directed EOI is advertised (as KVM). */
    if (apic->lvr & LAPIS_LVR_DIRECTED_EOI)
        mask |= LAPIS_SVR_SUPPRESS_EOI_BC;
    apic->svr = val & mask;
    if (!sw_enabled(apic)) {
        for (unsigned i = 0; i < LAPIS_LAPIC_NR_LVT; i++)
            apic->lvt[i] |= LAPIS_LVT_MASKED;
    }
}

static void write_lvt(struct lapis_lapic *apic, unsigned idx, uint32_t val)
{
    uint32_t old = apic->lvt[idx];

    val &= lvt_writable[idx];
    val |= old & LAPIS_LVT_REMOTE_IRR;
    /* Software-disabled: the mask bits can't be cleared (SDM 11.4.7.2). */
    if (!sw_enabled(apic))
        val |= LAPIS_LVT_MASKED;
    apic->lvt[idx] = val;
    if (idx == LAPIS_LVT_TIMER && ((old ^ val) & LAPIS_LVT_TIMER_MASK)) {
        /* A mode change disarms the timer (SDM 11.5.4.1; KVM also zeroes TMICT). */
        timer_stop(apic);
        apic->tmict = 0;
        timer_sync(apic);
    }
}

static int lvt_index(uint32_t off)
{
    if (off == LAPIS_LAPIC_LVT_CMCI)
        return LAPIS_LVT_CMCI;
    if (off >= LAPIS_LAPIC_LVT_TMR && off <= LAPIS_LAPIC_LVT_ERR)
        return (int)((off - LAPIS_LAPIC_LVT_TMR) >> 4);
    return -1;
}

enum reg_result {
    REG_OK = 0,
    REG_RO,     /* write to a read-only register */
    REG_WO,     /* read of a write-only register */
    REG_ABSENT, /* no such register in this mode */
};

static enum reg_result reg_read(struct lapis_lapic *apic, uint32_t off, uint32_t *val)
{
    bool x2 = is_x2apic(apic);
    int lvt = lvt_index(off);

    *val = 0;
    if (lvt >= 0) {
        *val = apic->lvt[lvt];
        return REG_OK;
    }
    if (off >= LAPIS_LAPIC_ISR && off < LAPIS_LAPIC_ISR + 0x80) {
        *val = apic->isr[(off - LAPIS_LAPIC_ISR) >> 4];
        return REG_OK;
    }
    if (off >= LAPIS_LAPIC_TMR && off < LAPIS_LAPIC_TMR + 0x80) {
        *val = apic->tmr[(off - LAPIS_LAPIC_TMR) >> 4];
        return REG_OK;
    }
    if (off >= LAPIS_LAPIC_IRR && off < LAPIS_LAPIC_IRR + 0x80) {
        *val = apic->irr[(off - LAPIS_LAPIC_IRR) >> 4];
        return REG_OK;
    }
    switch (off) {
    case LAPIS_LAPIC_ID:
        *val = x2 ? apic->apic_id : apic->xapic_id << 24;
        return REG_OK;
    case LAPIS_LAPIC_LVR:
        *val = apic->lvr;
        return REG_OK;
    case LAPIS_LAPIC_TPR:
        *val = apic->tpr;
        return REG_OK;
    case LAPIS_LAPIC_APR:
        if (x2)
            return REG_ABSENT;
        *val = lapis_lapic_get_apr(apic);
        return REG_OK;
    case LAPIS_LAPIC_PPR:
        *val = apic->ppr;
        return REG_OK;
    case LAPIS_LAPIC_EOI:
        return REG_WO;
    case LAPIS_LAPIC_RRD:
        return x2 ? REG_ABSENT : REG_OK;
    case LAPIS_LAPIC_LDR:
        *val = apic->ldr;
        return REG_OK;
    case LAPIS_LAPIC_DFR:
        if (x2)
            return REG_ABSENT;
        *val = apic->dfr;
        return REG_OK;
    case LAPIS_LAPIC_SVR:
        *val = apic->svr;
        return REG_OK;
    case LAPIS_LAPIC_ESR:
        *val = apic->esr;
        return REG_OK;
    case LAPIS_LAPIC_ICR_LO:
        *val = apic->icr_lo; /* delivery status: always idle */
        return REG_OK;
    case LAPIS_LAPIC_ICR_HI:
        if (x2)
            return REG_ABSENT;
        *val = apic->icr_hi;
        return REG_OK;
    case LAPIS_LAPIC_TMICT:
        *val = apic->tmict;
        return REG_OK;
    case LAPIS_LAPIC_TMCCT:
        *val = lapis_lapic_timer_current_count(apic);
        return REG_OK;
    case LAPIS_LAPIC_TDCR:
        *val = apic->tdcr;
        return REG_OK;
    case LAPIS_LAPIC_SELF_IPI:
        return x2 ? REG_WO : REG_ABSENT;
    default:
        return REG_ABSENT;
    }
}

/* Writes one 32-bit register (x2APIC ICR is handled by the MSR path). */
static enum reg_result reg_write(struct lapis_lapic *apic, uint32_t off, uint32_t val)
{
    bool x2 = is_x2apic(apic);
    int lvt = lvt_index(off);

    if (lvt >= 0) {
        write_lvt(apic, (unsigned)lvt, val);
        return REG_OK;
    }
    if (off >= LAPIS_LAPIC_ISR && off < LAPIS_LAPIC_IRR + 0x80)
        return REG_RO; /* ISR, TMR, IRR */
    switch (off) {
    case LAPIS_LAPIC_ID:
        if (x2)
            return REG_RO;
        apic->xapic_id = val >> 24; /* writable in xAPIC mode, as KVM */
        return REG_OK;
    case LAPIS_LAPIC_LVR:
    case LAPIS_LAPIC_PPR:
    case LAPIS_LAPIC_TMCCT:
        return REG_RO;
    case LAPIS_LAPIC_APR:
    case LAPIS_LAPIC_RRD:
        return x2 ? REG_ABSENT : REG_RO;
    case LAPIS_LAPIC_TPR:
        lapis_lapic_set_tpr(apic, (uint8_t)val);
        return REG_OK;
    case LAPIS_LAPIC_EOI:
        lapis_lapic_eoi(apic);
        return REG_OK;
    case LAPIS_LAPIC_LDR:
        if (x2)
            return REG_RO;
        apic->ldr = val & XAPIC_LDR_MASK;
        return REG_OK;
    case LAPIS_LAPIC_DFR:
        if (x2)
            return REG_ABSENT;
        apic->dfr = val | DFR_RSVD_ONES;
        return REG_OK;
    case LAPIS_LAPIC_SVR:
        write_svr(apic, val);
        return REG_OK;
    case LAPIS_LAPIC_ESR:
        /* Write-then-read: the write latches the errors seen since the last one. */
        apic->esr = apic->esr_pending;
        apic->esr_pending = 0;
        return REG_OK;
    case LAPIS_LAPIC_ICR_LO:
        apic->icr_lo = val & ICR_LO_MASK;
        send_icr(apic);
        return REG_OK;
    case LAPIS_LAPIC_ICR_HI:
        if (x2)
            return REG_ABSENT;
        apic->icr_hi = val & 0xFF000000u;
        return REG_OK;
    case LAPIS_LAPIC_TMICT:
        write_tmict(apic, val);
        return REG_OK;
    case LAPIS_LAPIC_TDCR:
        write_tdcr(apic, val);
        return REG_OK;
    case LAPIS_LAPIC_SELF_IPI:
        if (!x2)
            return REG_ABSENT;
        {
            struct lapis_lapic_ipi ipi = {.dest = apic->apic_id,
                                          .shorthand = LAPIS_IPI_SELF,
                                          .delivery_mode = LAPIS_DM_FIXED,
                                          .vector = (uint8_t)val,
                                          .assert = true};
            send_ipi(apic, &ipi);
        }
        return REG_OK;
    default:
        return REG_ABSENT;
    }
}

uint32_t lapis_lapic_mmio_read(struct lapis_lapic *apic, uint64_t offset, unsigned size)
{
    uint32_t val;
    enum reg_result r;

    if (lapis_lapic_mode(apic) != LAPIS_LAPIC_XAPIC || size != 4 || (offset & 0xF) ||
        offset >= LAPIS_LAPIC_MMIO_SIZE) {
        apic->stats.bad_mmio++;
        return 0;
    }
    r = reg_read(apic, (uint32_t)offset, &val);
    if (r != REG_OK) {
        apic->stats.bad_mmio++;
        if (r == REG_ABSENT)
            raise_error(apic, LAPIS_ESR_ILLEGAL_REG);
        return 0;
    }
    return val;
}

void lapis_lapic_mmio_write(struct lapis_lapic *apic, uint64_t offset, unsigned size,
                            uint32_t value)
{
    enum reg_result r;

    if (lapis_lapic_mode(apic) != LAPIS_LAPIC_XAPIC || size != 4 || (offset & 0xF) ||
        offset >= LAPIS_LAPIC_MMIO_SIZE) {
        apic->stats.bad_mmio++;
        return;
    }
    r = reg_write(apic, (uint32_t)offset, value);
    if (r != REG_OK) {
        apic->stats.bad_mmio++;
        if (r == REG_ABSENT)
            raise_error(apic, LAPIS_ESR_ILLEGAL_REG);
    }
}

static int msr_offset(const struct lapis_lapic *apic, uint32_t msr, uint32_t *off)
{
    if (!is_x2apic(apic) || msr < LAPIS_X2APIC_MSR_BASE || msr > LAPIS_X2APIC_MSR_LAST)
        return -EINVAL;
    *off = (msr - LAPIS_X2APIC_MSR_BASE) << 4;
    return 0;
}

int lapis_lapic_msr_read(struct lapis_lapic *apic, uint32_t msr, uint64_t *value)
{
    uint32_t off, val;

    if (msr_offset(apic, msr, &off))
        goto gp;
    if (off == LAPIS_LAPIC_ICR_LO) {
        *value = ((uint64_t)apic->icr_hi << 32) | apic->icr_lo;
        return 0;
    }
    if (reg_read(apic, off, &val) != REG_OK)
        goto gp;
    *value = val;
    return 0;
gp:
    apic->stats.bad_msr++;
    return -EINVAL;
}

/* x2APIC: a non-zero write to a reserved bit is #GP (SDM 11.12.1.3). */
static bool x2_reserved_bits(uint32_t off, uint64_t value)
{
    int lvt = lvt_index(off);
    uint32_t v = (uint32_t)value;

    if (off == LAPIS_LAPIC_ICR_LO)
        return (v & X2_ICR_RSVD) != 0;
    if (value >> 32)
        return true;
    if (lvt >= 0)
        return (v & ~(lvt_writable[lvt] | lvt_readonly((unsigned)lvt))) != 0;
    switch (off) {
    case LAPIS_LAPIC_TPR:
    case LAPIS_LAPIC_SELF_IPI:
        return (v & ~0xFFu) != 0;
    case LAPIS_LAPIC_EOI:
    case LAPIS_LAPIC_ESR:
        return v != 0;
    case LAPIS_LAPIC_SVR:
        /* Bit 12 is defined; dropped silently if not advertised, as KVM. */
        return (v & ~(SVR_BASE_MASK | LAPIS_SVR_SUPPRESS_EOI_BC)) != 0;
    case LAPIS_LAPIC_TDCR:
        return (v & ~TDCR_MASK) != 0;
    default:
        return false;
    }
}

int lapis_lapic_msr_write(struct lapis_lapic *apic, uint32_t msr, uint64_t value)
{
    uint32_t off, dummy;

    if (msr_offset(apic, msr, &off))
        goto gp;
    /* Absent and write-only-from-read's view: check the register exists and is writable. */
    if (off != LAPIS_LAPIC_ICR_LO && off != LAPIS_LAPIC_EOI && off != LAPIS_LAPIC_SELF_IPI &&
        reg_read(apic, off, &dummy) == REG_ABSENT)
        goto gp;
    if (x2_reserved_bits(off, value))
        goto gp;
    if (off == LAPIS_LAPIC_ICR_LO) {
        apic->icr_lo = (uint32_t)value & ICR_LO_MASK;
        apic->icr_hi = (uint32_t)(value >> 32);
        send_icr(apic);
        return 0;
    }
    if (reg_write(apic, off, (uint32_t)value) != REG_OK)
        goto gp;
    return 0;
gp:
    apic->stats.bad_msr++;
    return -EINVAL;
}

/* ---- lifecycle ---- */

void lapis_lapic_refresh_version(struct lapis_lapic *apic)
{
    apic->lvr = LAPIS_LAPIC_LVR_DEFAULT;
    if (lapis_eoi_policy_advertise_directed_eoi(apic->policy, apic->guest_has_x2apic))
        apic->lvr |= LAPIS_LVR_DIRECTED_EOI;
}

void lapis_lapic_set_guest_x2apic(struct lapis_lapic *apic, bool has_x2apic)
{
    apic->guest_has_x2apic = has_x2apic;
    lapis_lapic_refresh_version(apic);
}

int lapis_lapic_set_physbits(struct lapis_lapic *apic, unsigned bits)
{
    if (bits < 32 || bits > 52)
        return -EINVAL;
    apic->physbits = bits;
    return 0;
}

/* Power-up values of everything but IA32_APIC_BASE and the ID (SDM 11.4.7.1). */
static void reset_registers(struct lapis_lapic *apic)
{
    apic->tpr = 0;
    apic->ldr = is_x2apic(apic) ? x2apic_ldr(apic->apic_id) : 0;
    apic->dfr = 0xFFFFFFFFu;
    apic->svr = 0xFF;
    apic->esr = apic->esr_pending = 0;
    apic->icr_lo = apic->icr_hi = 0;
    for (unsigned i = 0; i < LAPIS_LAPIC_NR_LVT; i++)
        apic->lvt[i] = LAPIS_LVT_MASKED;
    apic->tmict = apic->tdcr = 0;
    memset(apic->isr, 0, sizeof(apic->isr));
    memset(apic->tmr, 0, sizeof(apic->tmr));
    memset(apic->irr, 0, sizeof(apic->irr));
    apic->error_firing = false;
    timer_stop(apic);
    update_ppr(apic);
    lapis_lapic_refresh_version(apic);
}

void lapis_lapic_reset(struct lapis_lapic *apic)
{
    apic->base =
        LAPIS_APIC_DEFAULT_BASE | LAPIS_APIC_BASE_EN | (apic->bsp ? LAPIS_APIC_BASE_BSP : 0);
    apic->xapic_id = apic->apic_id & 0xFF;
    apic->nmi_pending = apic->init_pending = apic->sipi_pending = apic->smi_pending = false;
    apic->sipi_vector = 0;
    reset_registers(apic);
    timer_sync(apic);
}

void lapis_lapic_init_signal(struct lapis_lapic *apic)
{
    /* Mode, base and ID stay; in x2APIC mode the LDR follows the ID. */
    reset_registers(apic);
    timer_sync(apic);
}

int lapis_lapic_init(struct lapis_lapic *apic, uint32_t apic_id, bool bsp,
                     const struct lapis_eoi_policy *policy, bool guest_has_x2apic,
                     const struct lapis_lapic_ops *ops, void *opaque)
{
    if (!apic || !policy || !ops || !ops->eoi_broadcast || !ops->send_ipi || !ops->timer_arm ||
        !ops->now_ns)
        return -EINVAL;
    memset(apic, 0, sizeof(*apic));
    apic->policy = policy;
    apic->ops = ops;
    apic->opaque = opaque;
    apic->apic_id = apic_id;
    apic->bsp = bsp;
    apic->guest_has_x2apic = guest_has_x2apic;
    apic->physbits = LAPIS_LAPIC_DEFAULT_PHYSBITS;
    lapis_lapic_reset(apic);
    return 0;
}

uint64_t lapis_lapic_get_base(const struct lapis_lapic *apic)
{
    return apic->base;
}

static uint64_t base_reserved(const struct lapis_lapic *apic)
{
    uint64_t r = BASE_RSVD_LOW | (~0ull << apic->physbits);

    if (!apic->guest_has_x2apic)
        r |= LAPIS_APIC_BASE_EXTD;
    return r;
}

static bool base_valid(const struct lapis_lapic *apic, uint64_t value)
{
    if (value & base_reserved(apic))
        return false;
    /* EN = 0 with EXTD = 1 is the invalid state. */
    return !((value & LAPIS_APIC_BASE_EXTD) && !(value & LAPIS_APIC_BASE_EN));
}

int lapis_lapic_set_base(struct lapis_lapic *apic, uint64_t value)
{
    enum lapis_lapic_mode old = lapis_lapic_mode(apic), new;

    if (!base_valid(apic, value))
        goto gp;
    new = (value & LAPIS_APIC_BASE_EN)
              ? ((value & LAPIS_APIC_BASE_EXTD) ? LAPIS_LAPIC_X2APIC : LAPIS_LAPIC_XAPIC)
              : LAPIS_LAPIC_DISABLED;
    /* x2APIC -> xAPIC and disabled -> x2APIC must go the long way round (SDM 11.12.5). */
    if ((old == LAPIS_LAPIC_X2APIC && new == LAPIS_LAPIC_XAPIC) ||
        (old == LAPIS_LAPIC_DISABLED && new == LAPIS_LAPIC_X2APIC))
        goto gp;
    apic->base = value;
    if (old == new)
        return 0;
    if (new == LAPIS_LAPIC_DISABLED) {
        /* Only the IDs survive a disable; the rest returns to power-up values. */
        reset_registers(apic);
        timer_sync(apic);
    } else if (new == LAPIS_LAPIC_X2APIC) {
        /* The x2APIC ID is the initial ID; the logical ID is derived from it. */
        apic->xapic_id = apic->apic_id & 0xFF;
        apic->ldr = x2apic_ldr(apic->apic_id);
        apic->icr_hi = 0;
    }
    return 0;
gp:
    apic->stats.bad_base++;
    return -EINVAL;
}

const struct lapis_lapic_stats *lapis_lapic_get_stats(const struct lapis_lapic *apic)
{
    return &apic->stats;
}

/* ---- saved state ---- */

void lapis_lapic_save(const struct lapis_lapic *apic, struct lapis_lapic_state *st)
{
    memset(st, 0, sizeof(*st));
    st->magic = LAPIS_LAPIC_STATE_MAGIC;
    st->version = LAPIS_LAPIC_STATE_VERSION;
    st->size = sizeof(*st);
    st->apic_id = apic->apic_id;
    st->base = apic->base;
    st->xapic_id = apic->xapic_id;
    st->tpr = apic->tpr;
    st->ldr = apic->ldr;
    st->dfr = apic->dfr;
    st->svr = apic->svr;
    st->esr = apic->esr;
    st->esr_pending = apic->esr_pending;
    st->icr_lo = apic->icr_lo;
    st->icr_hi = apic->icr_hi;
    st->tmict = apic->tmict;
    st->tdcr = apic->tdcr;
    memcpy(st->lvt, apic->lvt, sizeof(st->lvt));
    memcpy(st->isr, apic->isr, sizeof(st->isr));
    memcpy(st->tmr, apic->tmr, sizeof(st->tmr));
    memcpy(st->irr, apic->irr, sizeof(st->irr));
    st->timer_deadline = apic->timer_deadline;
    st->timer_period = apic->timer_period;
    st->tsc_deadline = apic->tsc_deadline;
    st->timer_running = apic->timer_running;
    st->nmi_pending = apic->nmi_pending;
    st->init_pending = apic->init_pending;
    st->sipi_pending = apic->sipi_pending;
    st->smi_pending = apic->smi_pending;
    st->sipi_vector = apic->sipi_vector;
    st->lint_level[0] = apic->lint_level[0];
    st->lint_level[1] = apic->lint_level[1];
}

static bool state_valid(const struct lapis_lapic *apic, const struct lapis_lapic_state *st)
{
    bool x2 = (st->base & LAPIS_APIC_BASE_EN) && (st->base & LAPIS_APIC_BASE_EXTD);
    const uint8_t flags[] = {st->timer_running, st->nmi_pending, st->init_pending,
                             st->sipi_pending,  st->smi_pending, st->lint_level[0],
                             st->lint_level[1]};
    uint32_t mode = st->lvt[LAPIS_LVT_TIMER] & LAPIS_LVT_TIMER_MASK;
    uint32_t svr_mask = SVR_BASE_MASK;

    if (st->magic != LAPIS_LAPIC_STATE_MAGIC || st->version != LAPIS_LAPIC_STATE_VERSION ||
        st->size != sizeof(*st) || st->apic_id != apic->apic_id)
        return false;
    for (unsigned i = 0; i < sizeof(st->reserved) / sizeof(st->reserved[0]); i++)
        if (st->reserved[i])
            return false;
    for (unsigned i = 0; i < sizeof(flags); i++)
        if (flags[i] > 1)
            return false;
    if (!base_valid(apic, st->base) || st->xapic_id > 0xFF || st->tpr > 0xFF)
        return false;
    if (x2 ? st->ldr != x2apic_ldr(apic->apic_id) : (st->ldr & ~XAPIC_LDR_MASK) != 0)
        return false;
    /* Any model a guest can write (KVM keeps it; it then matches nothing) must reload. */
    if ((st->dfr & DFR_RSVD_ONES) != DFR_RSVD_ONES)
        return false;
    /* A guest can't have set SVR bit 12 unless Directed EOI is advertised here. */
    if (lapis_eoi_policy_advertise_directed_eoi(apic->policy, apic->guest_has_x2apic))
        svr_mask |= LAPIS_SVR_SUPPRESS_EOI_BC;
    if (st->svr & ~svr_mask)
        return false;
    if ((st->esr | st->esr_pending) & ~0xFFu)
        return false;
    if ((st->icr_lo & ~ICR_LO_MASK) || (!x2 && (st->icr_hi & ~0xFF000000u)))
        return false;
    for (unsigned i = 0; i < LAPIS_LAPIC_NR_LVT; i++) {
        uint32_t ok = lvt_writable[i] | (lvt_readonly(i) & LAPIS_LVT_REMOTE_IRR);
        if (st->lvt[i] & ~ok)
            return false;
    }
    if (st->tdcr & ~TDCR_MASK)
        return false;
    /* Vectors 0-15 never reach IRR/ISR/TMR. */
    if ((st->irr[0] | st->isr[0] | st->tmr[0]) & 0xFFFFu)
        return false;
    if (st->timer_running) {
        if ((mode != LAPIS_LVT_TIMER_ONESHOT && mode != LAPIS_LVT_TIMER_PERIODIC) || !st->tmict ||
            !st->timer_deadline || st->timer_period != (uint64_t)st->tmict * divisor_of(st->tdcr))
            return false;
    } else if (st->timer_deadline || st->timer_period) {
        return false; /* a stopped timer keeps no deadline */
    }
    if (st->tsc_deadline && mode != LAPIS_LVT_TIMER_TSCDL)
        return false;
    if (!(st->base & LAPIS_APIC_BASE_EN) && (st->timer_running || st->tsc_deadline))
        return false;
    return true;
}

int lapis_lapic_load(struct lapis_lapic *apic, const struct lapis_lapic_state *st)
{
    if (!st || !state_valid(apic, st))
        return -EINVAL;
    apic->base = st->base;
    apic->xapic_id = st->xapic_id;
    apic->tpr = st->tpr;
    apic->ldr = st->ldr;
    apic->dfr = st->dfr;
    apic->svr = st->svr;
    apic->esr = st->esr;
    apic->esr_pending = st->esr_pending;
    apic->icr_lo = st->icr_lo;
    apic->icr_hi = st->icr_hi;
    apic->tmict = st->tmict;
    apic->tdcr = st->tdcr;
    memcpy(apic->lvt, st->lvt, sizeof(apic->lvt));
    memcpy(apic->isr, st->isr, sizeof(apic->isr));
    memcpy(apic->tmr, st->tmr, sizeof(apic->tmr));
    memcpy(apic->irr, st->irr, sizeof(apic->irr));
    apic->timer_deadline = st->timer_deadline;
    apic->timer_period = st->timer_period;
    apic->tsc_deadline = st->tsc_deadline;
    apic->timer_running = st->timer_running;
    apic->nmi_pending = st->nmi_pending;
    apic->init_pending = st->init_pending;
    apic->sipi_pending = st->sipi_pending;
    apic->smi_pending = st->smi_pending;
    apic->sipi_vector = st->sipi_vector;
    apic->lint_level[0] = st->lint_level[0];
    apic->lint_level[1] = st->lint_level[1];
    apic->error_firing = false;
    update_ppr(apic);
    lapis_lapic_refresh_version(apic);
    timer_sync(apic);
    return 0;
}
