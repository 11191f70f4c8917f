/* SPDX-License-Identifier: MIT */
/*
 * Software LAPIC: two APICs sharing one EOI policy, driven by a program of
 * xAPIC MMIO accesses, x2APIC MSR accesses, IA32_APIC_BASE writes, interrupt
 * deliveries, acks, EOIs, LINT changes, TPR/CR8, timer programming with a
 * virtual clock, INIT/reset and save/load. IPIs are routed to both APICs from
 * inside send_ipi; eoi_broadcast may redeliver the vector (an IOAPIC whose
 * line is still high) from inside the callback; kick may ack, and EOI, at
 * once (a vCPU thread taking the interrupt from inside the callback).
 *
 * Invariants after every operation:
 *  - LVR is 0x14 with 7 LVTs, bit 24 as the policy says; PPR follows TPR and
 *    ISR; vectors 0-15 never in IRR/ISR/TMR; pending_vector is the highest
 *    IRR vector above PPR;
 *  - x2APIC mode: ID and LDR derived from the initial ID; MSRs #GP outside it;
 *  - no lost timer: a running timer (or TSC deadline) is armed with the
 *    embedder no later than its deadline, and after an expiry the next
 *    periodic deadline is in the future;
 *  - an EOI clears the highest ISR vector and broadcasts exactly when the
 *    vector is level (TMR) and the policy does not suppress it;
 *  - save then load (into itself and a fresh APIC) reproduces the state; a
 *    corrupted state is refused without change.
 */
#include "fuzz_common.h"

#include <errno.h>

#include "devices/lapic.h"

#define LAPIC_FUZZ_CLOCK_MAX (1ull << 62) /* ~146 years of ns: beyond any real clock */
#define LAPIC_FUZZ_REENTRY   4096u

struct lapic_fuzz;

struct lapic_fuzz_cpu {
    struct lapic_fuzz *f;
    unsigned idx;
    uint64_t armed; /* deadline the model last asked for (0 = none) */
    uint64_t broadcasts, kicks, ipis;
    uint8_t last_broadcast;
    /* What kick did from inside callbacks: acks, EOIs, and the broadcasts those EOIs owe. */
    uint64_t nested_acks, nested_eois, nested_expect_bc;
};

struct lapic_fuzz {
    struct lapis_eoi_policy policy;
    struct lapis_lapic apic[2];
    struct lapic_fuzz_cpu cpu[2];
    struct fuzz_in *in;
    uint64_t now;
    bool redeliver; /* eoi_broadcast redelivers the vector, level */
    bool kick_ack;  /* kick acks at once, as a vCPU thread would */
    bool kick_eoi;  /* ... and EOIs too: a handler that runs inside kick */
    unsigned kick_depth;
    bool odd_config[2]; /* CPUID/physbits changed at run time: saved state may not reload */
    uint32_t reentry_left;
};

static uint64_t lapic_fuzz_now(void *opaque)
{
    struct lapic_fuzz_cpu *c = opaque;
    return c->f->now;
}

static void lapic_fuzz_timer_arm(void *opaque, uint64_t deadline)
{
    struct lapic_fuzz_cpu *c = opaque;
    c->armed = deadline;
}

static bool lapic_fuzz_test(const uint32_t *set, unsigned v);

static void lapic_fuzz_kick(void *opaque)
{
    struct lapic_fuzz_cpu *c = opaque;
    struct lapic_fuzz *f = c->f;
    struct lapis_lapic *a = &f->apic[c->idx];

    c->kicks++;
    if (!f->kick_ack || !f->reentry_left || f->kick_depth >= 4)
        return;
    f->reentry_left--;
    f->kick_depth++;
    int v = lapis_lapic_ack(a);
    if (v >= 0) {
        c->nested_acks++;
        FUZZ_ASSERT(lapic_fuzz_test(a->isr, (unsigned)v));
        if (f->kick_eoi) {
            /* v is now the highest in service: its EOI broadcasts iff level and not suppressed. */
            bool level = lapic_fuzz_test(a->tmr, (unsigned)v);
            c->nested_expect_bc +=
                level && !lapis_eoi_policy_suppress_broadcast(&f->policy, a->svr);
            c->nested_eois++;
            lapis_lapic_eoi(a);
        }
    }
    f->kick_depth--;
}

static void lapic_fuzz_eoi_broadcast(void *opaque, uint8_t vector)
{
    struct lapic_fuzz_cpu *c = opaque;
    struct lapic_fuzz *f = c->f;

    FUZZ_ASSERT(vector >= 16);
    c->broadcasts++;
    c->last_broadcast = vector;
    if (f->redeliver && f->reentry_left) {
        f->reentry_left--;
        int rc = lapis_lapic_deliver(&f->apic[c->idx], LAPIS_DM_FIXED, vector, true);
        FUZZ_ASSERT(rc == 0 || rc == -EBUSY || rc == -ENODEV);
    }
}

static void lapic_fuzz_send_ipi(void *opaque, const struct lapis_lapic_ipi *ipi)
{
    struct lapic_fuzz_cpu *c = opaque;
    struct lapic_fuzz *f = c->f;

    FUZZ_ASSERT(ipi->source_id == lapis_lapic_id(&f->apic[c->idx]));
    FUZZ_ASSERT(ipi->shorthand <= LAPIS_IPI_OTHERS && ipi->delivery_mode <= 7);
    c->ipis++;
    if (!f->reentry_left)
        return;
    f->reentry_left--;
    for (unsigned i = 0; i < 2; i++) {
        int taken = lapis_lapic_accept_ipi(&f->apic[i], ipi);
        FUZZ_ASSERT(taken == 0 || taken == 1);
        if (ipi->shorthand == LAPIS_IPI_SELF && i != c->idx &&
            lapis_lapic_id(&f->apic[i]) != ipi->source_id)
            FUZZ_ASSERT(taken == 0);
    }
}

static const struct lapis_lapic_ops lapic_fuzz_ops = {
    .eoi_broadcast = lapic_fuzz_eoi_broadcast,
    .send_ipi = lapic_fuzz_send_ipi,
    .timer_arm = lapic_fuzz_timer_arm,
    .now_ns = lapic_fuzz_now,
    .kick = lapic_fuzz_kick,
};

static bool lapic_fuzz_test(const uint32_t *set, unsigned v)
{
    return (set[v >> 5] >> (v & 31)) & 1;
}

static int lapic_fuzz_highest(const uint32_t *set)
{
    for (int v = 255; v >= 0; v--)
        if (lapic_fuzz_test(set, (unsigned)v))
            return v;
    return -1;
}

static void lapic_fuzz_check(struct lapic_fuzz *f, unsigned i)
{
    struct lapis_lapic *a = &f->apic[i];
    enum lapis_lapic_mode mode = lapis_lapic_mode(a);
    uint64_t base = lapis_lapic_get_base(a);

    FUZZ_ASSERT(!((base & LAPIS_APIC_BASE_EXTD) && !(base & LAPIS_APIC_BASE_EN)));
    FUZZ_ASSERT((a->lvr & ~LAPIS_LVR_DIRECTED_EOI) == LAPIS_LAPIC_LVR_DEFAULT);
    FUZZ_ASSERT(!!(a->lvr & LAPIS_LVR_DIRECTED_EOI) ==
                lapis_eoi_policy_advertise_directed_eoi(&f->policy, a->guest_has_x2apic));

    /* PPR from TPR and the highest in-service vector. */
    int isrv = lapic_fuzz_highest(a->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0;
    uint8_t ppr = (a->tpr & 0xF0) >= isr_class ? (uint8_t)a->tpr : (uint8_t)isr_class;
    FUZZ_ASSERT(a->tpr <= 0xFF);
    FUZZ_ASSERT(lapis_lapic_get_ppr(a) == ppr);
    FUZZ_ASSERT(((a->irr[0] | a->isr[0] | a->tmr[0]) & 0xFFFF) == 0);
    int irrv = lapic_fuzz_highest(a->irr);
    int want = (mode == LAPIS_LAPIC_DISABLED || irrv < 0 || ((uint32_t)irrv & 0xF0) <= (ppr & 0xF0))
                   ? -1
                   : irrv;
    FUZZ_ASSERT(lapis_lapic_pending_vector(a) == want);
    FUZZ_ASSERT(a->esr <= 0xFF && a->esr_pending <= 0xFF);

    if (mode == LAPIS_LAPIC_X2APIC) {
        FUZZ_ASSERT(a->guest_has_x2apic || f->odd_config[i]);
        FUZZ_ASSERT(lapis_lapic_id(a) == a->apic_id);
        FUZZ_ASSERT(a->ldr == (((a->apic_id >> 4) << 16) | (1u << (a->apic_id & 15))));
    } else {
        uint64_t v;
        uint64_t bad = a->stats.bad_msr;
        FUZZ_ASSERT(lapis_lapic_msr_read(a, LAPIS_X2APIC_MSR(LAPIS_LAPIC_ID), &v) == -EINVAL);
        FUZZ_ASSERT(a->stats.bad_msr == bad + 1);
        FUZZ_ASSERT(lapis_lapic_id(a) <= 0xFF);
    }
    if (mode == LAPIS_LAPIC_DISABLED)
        FUZZ_ASSERT(!a->timer_running && !a->tsc_deadline);

    /* No lost timer: what the model waits for is armed, no later. */
    uint32_t tmode = a->lvt[LAPIS_LVT_TIMER] & LAPIS_LVT_TIMER_MASK;
    uint64_t need = tmode == LAPIS_LVT_TIMER_TSCDL ? a->tsc_deadline
                    : a->timer_running             ? a->timer_deadline
                                                   : 0;
    if (need)
        FUZZ_ASSERT(f->cpu[i].armed && f->cpu[i].armed <= need);
    if (a->timer_running) {
        FUZZ_ASSERT(a->tmict &&
                    a->timer_period == (uint64_t)a->tmict * lapis_lapic_timer_divisor(a));
        FUZZ_ASSERT(lapis_lapic_timer_current_count(a) <= a->tmict);
    }
}

/* Runs the timers whose armed deadline has passed. */
static void lapic_fuzz_expire(struct lapic_fuzz *f)
{
    for (unsigned i = 0; i < 2; i++) {
        struct lapic_fuzz_cpu *c = &f->cpu[i];
        if (!c->armed || c->armed > f->now)
            continue;
        c->armed = 0;
        lapis_lapic_timer_expired(&f->apic[i]);
        struct lapis_lapic *a = &f->apic[i];
        /* However late, a periodic timer's next deadline is ahead: no storm. */
        if (a->timer_running)
            FUZZ_ASSERT(a->timer_deadline > f->now);
        FUZZ_ASSERT(!c->armed || c->armed > f->now);
    }
}

static void lapic_fuzz_save_load(struct lapic_fuzz *f, unsigned i)
{
    static struct lapis_lapic other;
    struct lapis_lapic *a = &f->apic[i];
    struct lapis_lapic_state s, s2;
    uint64_t armed = f->cpu[i].armed;

    lapis_lapic_save(a, &s);
    FUZZ_ASSERT(s.magic == LAPIS_LAPIC_STATE_MAGIC && s.size == sizeof(s));
    int rc = lapis_lapic_load(a, &s);
    if (f->odd_config[i]) {
        FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
    } else {
        /* The model's own state always reloads (a migration must not fail). */
        FUZZ_ASSERT(rc == 0);
    }
    if (rc == 0) {
        lapis_lapic_save(a, &s2);
        FUZZ_ASSERT(memcmp(&s, &s2, sizeof(s)) == 0);

        /* Into a fresh APIC with the same configuration. */
        FUZZ_ASSERT(lapis_lapic_init(&other, a->apic_id, a->bsp, &f->policy, a->guest_has_x2apic,
                                     &lapic_fuzz_ops, &f->cpu[i]) == 0);
        FUZZ_ASSERT(lapis_lapic_set_physbits(&other, a->physbits) == 0);
        FUZZ_ASSERT(lapis_lapic_load(&other, &s) == 0);
        lapis_lapic_save(&other, &s2);
        FUZZ_ASSERT(memcmp(&s, &s2, sizeof(s)) == 0);
        FUZZ_ASSERT(other.lvr == a->lvr && other.ppr == a->ppr);
        f->cpu[i].armed = armed; /* the fresh APIC shares the slot; put ours back */
        lapis_lapic_load(a, &s);
    }

    /* A corrupted state: refused without change, or loaded and then valid. */
    unsigned nmut = fin_u8(f->in) & 7;
    for (unsigned k = 0; k < nmut; k++) {
        size_t at = fin_u16(f->in) % sizeof(s);
        ((uint8_t *)&s)[at] = fin_u8(f->in);
    }
    memcpy(&other, a, sizeof(other));
    armed = f->cpu[i].armed;
    rc = lapis_lapic_load(&other, &s);
    FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
    if (rc) {
        FUZZ_ASSERT(memcmp(&other, a, sizeof(other)) == 0);
        FUZZ_ASSERT(f->cpu[i].armed == armed);
        return;
    }
    if (fin_bool(f->in)) {
        memcpy(a, &other, sizeof(other));
    } else {
        f->cpu[i].armed = armed;
        lapis_lapic_save(a, &s); /* re-arm ours: loading makes the timer callout */
        lapis_lapic_load(a, &s);
    }
}

static uint64_t lapic_fuzz_base_value(struct lapic_fuzz *f, const struct lapis_lapic *a)
{
    uint8_t b = fin_u8(f->in);
    uint64_t v;

    if (b & 0x80) {
        v = fin_u64(f->in);
    } else {
        v = (b & 0x40) ? (fin_u32(f->in) & ~0xFFFull) : LAPIS_APIC_DEFAULT_BASE;
        if (b & 1)
            v |= LAPIS_APIC_BASE_EN;
        if (b & 2)
            v |= LAPIS_APIC_BASE_EXTD;
        if (a->bsp ^ !!(b & 4))
            v |= LAPIS_APIC_BASE_BSP;
    }
    return v;
}

/* Register offsets a guest uses, so most accesses hit one. */
static uint32_t lapic_fuzz_reg(struct fuzz_in *in)
{
    uint8_t b = fin_u8(in);
    return (b & 0x80) ? (uint32_t)fin_u16(in) & 0xFFF : ((uint32_t)b & 0x3F) << 4;
}

static void lapic_fuzz_op(struct lapic_fuzz *f)
{
    struct fuzz_in *in = f->in;
    uint8_t op = fin_u8(in);
    unsigned i = op >> 7;
    struct lapis_lapic *a = &f->apic[i];
    struct lapic_fuzz_cpu *c = &f->cpu[i];
    enum lapis_lapic_mode mode = lapis_lapic_mode(a);
    uint64_t v;
    int rc;

    /* What an EOI in this operation must do; callbacks may add EOIs of their own. */
    uint64_t eois = a->stats.eois, bcs[2], nexp[2], neoi = c->nested_eois, nack = c->nested_acks;
    for (unsigned k = 0; k < 2; k++) {
        bcs[k] = f->cpu[k].broadcasts;
        nexp[k] = f->cpu[k].nested_expect_bc;
    }
    int isrv = lapic_fuzz_highest(a->isr);
    bool level = isrv >= 0 && lapic_fuzz_test(a->tmr, (unsigned)isrv);
    bool suppress = lapis_eoi_policy_suppress_broadcast(&f->policy, a->svr);

    switch (op & 0x1F) {
    case 0:
    case 1: {
        uint32_t off = lapic_fuzz_reg(in);
        unsigned sz = (op & 0x40) ? fin_size(in) : 4;
        lapis_lapic_mmio_read(a, off, sz);
        break;
    }
    case 2:
    case 3:
    case 4: {
        uint32_t off = lapic_fuzz_reg(in);
        unsigned sz = (op & 0x40) ? fin_size(in) : 4;
        uint32_t val = fin_u32(in);
        uint64_t bad = a->stats.bad_mmio;
        lapis_lapic_mmio_write(a, off, sz, val);
        if (mode != LAPIS_LAPIC_XAPIC)
            FUZZ_ASSERT(a->stats.bad_mmio == bad + 1);
        /* An SVR write that acted keeps bit 12 only while Directed EOI is advertised. */
        if (off == LAPIS_LAPIC_SVR && a->stats.bad_mmio == bad &&
            !(a->lvr & LAPIS_LVR_DIRECTED_EOI))
            FUZZ_ASSERT(!(a->svr & LAPIS_SVR_SUPPRESS_EOI_BC));
        break;
    }
    case 5:
    case 6: {
        uint32_t msr = (op & 0x40) ? fin_u32(in) : LAPIS_X2APIC_MSR_BASE + fin_u8(in);
        rc = lapis_lapic_msr_read(a, msr, &v);
        FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
        if (mode != LAPIS_LAPIC_X2APIC)
            FUZZ_ASSERT(rc == -EINVAL);
        if (rc == 0 && msr == LAPIS_X2APIC_MSR(LAPIS_LAPIC_ID))
            FUZZ_ASSERT(v == a->apic_id);
        break;
    }
    case 7:
    case 8:
    case 9: {
        uint32_t msr = (op & 0x40) ? fin_u32(in) : LAPIS_X2APIC_MSR_BASE + fin_u8(in);
        uint64_t val = (op & 0x20) ? fin_u64(in) : fin_u32(in);
        rc = lapis_lapic_msr_write(a, msr, val);
        FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
        if (mode != LAPIS_LAPIC_X2APIC)
            FUZZ_ASSERT(rc == -EINVAL);
        if (rc == 0 && msr == LAPIS_X2APIC_MSR(LAPIS_LAPIC_SVR) &&
            !(a->lvr & LAPIS_LVR_DIRECTED_EOI))
            FUZZ_ASSERT(!(a->svr & LAPIS_SVR_SUPPRESS_EOI_BC));
        break;
    }
    case 10: {
        uint64_t old = lapis_lapic_get_base(a);
        v = lapic_fuzz_base_value(f, a);
        rc = lapis_lapic_set_base(a, v);
        FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
        FUZZ_ASSERT(lapis_lapic_get_base(a) == (rc ? old : v));
        if (rc == 0) {
            enum lapis_lapic_mode now = lapis_lapic_mode(a);
            FUZZ_ASSERT(!(mode == LAPIS_LAPIC_X2APIC && now == LAPIS_LAPIC_XAPIC));
            FUZZ_ASSERT(!(mode == LAPIS_LAPIC_DISABLED && now == LAPIS_LAPIC_X2APIC));
            if (now == LAPIS_LAPIC_X2APIC)
                FUZZ_ASSERT(a->guest_has_x2apic);
        }
        break;
    }
    case 11:
    case 12: {
        uint8_t dm = fin_u8(in);
        uint8_t vec = fin_u8(in);
        bool lvl = dm & 0x80;
        dm &= 7;
        bool was = lapic_fuzz_test(a->irr, vec);
        rc = lapis_lapic_deliver(a, dm, vec, lvl);
        FUZZ_ASSERT(rc == 0 || rc == -EBUSY || rc == -EINVAL || rc == -ENODEV || rc == -ENOTSUP);
        if (dm == LAPIS_DM_FIXED || dm == LAPIS_DM_LOWEST) {
            if (rc == 0 || rc == -EBUSY) {
                /* (kick may have acked it already) */
                FUZZ_ASSERT(lapic_fuzz_test(a->irr, vec) || f->kick_ack);
                FUZZ_ASSERT(lapic_fuzz_test(a->tmr, vec) == lvl);
                FUZZ_ASSERT((rc == -EBUSY) == was);
            }
            if (rc == -EINVAL)
                FUZZ_ASSERT(vec < 16);
        }
        if (mode == LAPIS_LAPIC_DISABLED)
            FUZZ_ASSERT(rc == -ENODEV);
        break;
    }
    case 13: {
        int want = lapis_lapic_pending_vector(a);
        rc = lapis_lapic_ack(a);
        FUZZ_ASSERT(rc == want);
        if (rc >= 0)
            FUZZ_ASSERT(lapic_fuzz_test(a->isr, (unsigned)rc));
        break;
    }
    case 14:
    case 15:
        lapis_lapic_eoi(a);
        FUZZ_ASSERT(a->stats.eois == eois + 1 + (c->nested_eois - neoi));
        break;
    case 16: { /* time passes */
        uint64_t d = (uint64_t)fin_u32(in) << ((op >> 5) & 3) * 10;
        f->now = f->now + d < LAPIC_FUZZ_CLOCK_MAX ? f->now + d : LAPIC_FUZZ_CLOCK_MAX;
        lapic_fuzz_expire(f);
        break;
    }
    case 29: { /* time passes, but the host timer is late: no expiry yet */
        uint64_t d = (uint64_t)fin_u32(in) << ((op >> 5) & 3) * 10;
        f->now = f->now + d < LAPIC_FUZZ_CLOCK_MAX ? f->now + d : LAPIC_FUZZ_CLOCK_MAX;
        break;
    }
    case 17: /* a stale or early expiry is safe */
        lapis_lapic_timer_expired(a);
        break;
    case 18:
        v = (op & 0x20) ? f->now + fin_u16(in) : fin_u8(in) ? f->now - (f->now > 5) : 0;
        FUZZ_ASSERT(lapis_lapic_set_tsc_deadline(a, v) == 0);
        break;
    case 19:
        lapis_lapic_set_lint(a, fin_u8(in) & 3, fin_bool(in));
        break;
    case 20:
        if (op & 0x20)
            lapis_lapic_set_cr8(a, fin_u8(in));
        else
            lapis_lapic_set_tpr(a, fin_u8(in));
        break;
    case 21: {
        uint8_t sv;
        lapis_lapic_take_nmi(a);
        lapis_lapic_take_init(a);
        lapis_lapic_take_sipi(a, (op & 0x20) ? NULL : &sv);
        lapis_lapic_take_smi(a);
        FUZZ_ASSERT(!a->nmi_pending && !a->init_pending && !a->sipi_pending && !a->smi_pending);
        break;
    }
    case 22:
        lapic_fuzz_save_load(f, i);
        break;
    case 23:
        if (op & 0x20)
            lapis_lapic_reset(a);
        else
            lapis_lapic_init_signal(a);
        break;
    case 24:
        if (op & 0x20) {
            lapis_lapic_set_guest_x2apic(a, fin_bool(in));
        } else {
            unsigned bits = fin_u8(in);
            rc = lapis_lapic_set_physbits(a, bits);
            FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
        }
        f->odd_config[i] = true;
        break;
    case 25: { /* routing queries */
        uint32_t dest = (op & 0x20) ? fin_u32(in) : fin_u8(in);
        uint8_t sh = fin_u8(in);
        bool m = lapis_lapic_match_dest(a, dest, sh & 4, sh & 3, fin_u32(in));
        if (mode == LAPIS_LAPIC_DISABLED)
            FUZZ_ASSERT(!m);
        if ((sh & 3) == LAPIS_IPI_ALL && mode != LAPIS_LAPIC_DISABLED)
            FUZZ_ASSERT(m);
        lapis_lapic_accepts_pic_intr(a);
        lapis_lapic_get_apr(a);
        lapis_lapic_get_cr8(a);
        lapis_lapic_get_tsc_deadline(a);
        lapis_lapic_timer_current_count(a);
        lapis_lapic_mmio_base(a);
        FUZZ_ASSERT(lapis_lapic_get_stats(a) == &a->stats);
        break;
    }
    case 26: { /* an IPI from outside (another vCPU's ICR) */
        struct lapis_lapic_ipi ipi = {
            .source_id = fin_u32(in),
            .dest = (op & 0x20) ? fin_u32(in) : fin_u8(in),
            .shorthand = fin_u8(in) & 3,
            .dest_logical = fin_bool(in),
            .delivery_mode = fin_u8(in) & 7,
            .vector = fin_u8(in),
            .level = fin_bool(in),
            .assert = fin_bool(in),
        };
        rc = lapis_lapic_accept_ipi(a, &ipi);
        FUZZ_ASSERT(rc == 0 || rc == 1);
        break;
    }
    case 27: { /* init's argument checks */
        static struct lapis_lapic scratch;
        FUZZ_ASSERT(lapis_lapic_init(&scratch, 0, false, NULL, false, &lapic_fuzz_ops, NULL) ==
                    -EINVAL);
        FUZZ_ASSERT(lapis_lapic_init(&scratch, 0, false, &f->policy, false, NULL, NULL) == -EINVAL);
        break;
    }
    default: /* the common case: program the timer through the guest's interface */
        if (mode == LAPIS_LAPIC_X2APIC) {
            lapis_lapic_msr_write(a, LAPIS_X2APIC_MSR(LAPIS_LAPIC_LVT_TMR), fin_u32(in) & 0x7FFFF);
            lapis_lapic_msr_write(a, LAPIS_X2APIC_MSR(LAPIS_LAPIC_TDCR), fin_u8(in) & 0xB);
            lapis_lapic_msr_write(a, LAPIS_X2APIC_MSR(LAPIS_LAPIC_TMICT), fin_u16(in));
        } else {
            lapis_lapic_mmio_write(a, LAPIS_LAPIC_LVT_TMR, 4, fin_u32(in));
            lapis_lapic_mmio_write(a, LAPIS_LAPIC_TDCR, 4, fin_u8(in));
            lapis_lapic_mmio_write(a, LAPIS_LAPIC_TMICT, 4, fin_u16(in));
        }
        break;
    }

    /* EOI semantics, whichever path (MMIO, MSR, API) took it. */
    uint64_t own = 0;
    if (a->stats.eois - eois - (c->nested_eois - neoi) == 1 && isrv >= 0) {
        own = level && !suppress;
        if (c->nested_acks == nack)
            FUZZ_ASSERT(!lapic_fuzz_test(a->isr, (unsigned)isrv));
        if (own && c->nested_eois == neoi)
            FUZZ_ASSERT(c->last_broadcast == isrv);
    }
    for (unsigned k = 0; k < 2; k++)
        FUZZ_ASSERT(f->cpu[k].broadcasts - bcs[k] ==
                    (k == i ? own : 0) + f->cpu[k].nested_expect_bc - nexp[k]);
}

FUZZ_TARGET(lapic)
{
    static struct lapic_fuzz f;
    struct fuzz_in in = {data, size};

    memset(&f, 0, sizeof(f));
    f.in = &in;
    f.now = 1000000;
    f.reentry_left = LAPIC_FUZZ_REENTRY;

    /* Config: bit 0 BSP, 1 x2APIC in CPUID, 2-3 irqchip, 4-5 mode, 6 redeliver, 7 IDs;
     * then a byte for what kick does. */
    uint8_t cfg = fin_u8(&in);
    static const enum lapis_irqchip_kind kinds[4] = {LAPIS_IRQCHIP_NONE, LAPIS_IRQCHIP_KERNEL,
                                                     LAPIS_IRQCHIP_SPLIT, LAPIS_IRQCHIP_SPLIT};
    lapis_eoi_policy_init(&f.policy);
    lapis_eoi_policy_set_irqchip(&f.policy, kinds[(cfg >> 2) & 3]);
    unsigned m = (cfg >> 4) & 3;
    if (m < 3)
        lapis_eoi_policy_set_mode(&f.policy, (enum lapis_eoi_mode)m);
    else
        lapis_eoi_policy_enable_cap(&f.policy, LAPIS_CAP_SPLIT_IRQCHIP_API,
                                    LAPIS_SPLIT_IRQCHIP_API_DISABLE_EOI_BROADCAST_SUPPRESSION);
    f.redeliver = cfg & 0x40;
    uint8_t cfg2 = fin_u8(&in); /* bit 0: kick acks; bit 1: and EOIs */
    f.kick_ack = cfg2 & 1;
    f.kick_eoi = cfg2 & 2;
    uint32_t ids[2] = {0, 1};
    if (cfg & 0x80) {
        ids[0] = fin_u32(&in);
        ids[1] = fin_u32(&in);
    }
    for (unsigned i = 0; i < 2; i++) {
        f.cpu[i].f = &f;
        f.cpu[i].idx = i;
        FUZZ_ASSERT(lapis_lapic_init(&f.apic[i], ids[i], i == 0 && (cfg & 1), &f.policy, cfg & 2,
                                     &lapic_fuzz_ops, &f.cpu[i]) == 0);
        lapis_eoi_policy_vcpu_created(&f.policy);
        lapic_fuzz_check(&f, i);
    }
    while (!fin_empty(&in)) {
        lapic_fuzz_op(&f);
        lapic_fuzz_check(&f, 0);
        lapic_fuzz_check(&f, 1);
    }
    return 0;
}
