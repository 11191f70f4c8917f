/* SPDX-License-Identifier: MIT */
/*
 * IOAPIC: the input is a configuration byte then a program of operations:
 * MMIO reads and writes (well-formed and not), line asserts/deasserts/pulses,
 * EOIs (broadcast and EOIR), throttle-timer expiries, reset, save/load and
 * resync. The deliver callback can call back into the model (an EOI from
 * inside deliver, as a software LAPIC does; a deassert; an entry write; a
 * reset; a load), to exercise re-entrancy and the storm throttle.
 *
 * Invariants checked after every operation, at the top level:
 *  - Remote IRR is never set on an edge entry; delivery status never set;
 *  - the version register reads ((npins - 1) << 16) | version;
 *  - nothing is left queued or busy;
 *  - no lost interrupt: a level entry that is unmasked, high, with a legal
 *    vector and Remote IRR clear is either throttled or waits for resync;
 *  - stats agree with what the harness did and saw;
 *  - save then load (into a fresh IOAPIC, and into itself) gives the same
 *    state; a corrupted state is refused without change, or loads exactly.
 * And in deliver: the message is the entry's, a level entry has Remote IRR
 * set and its line high, the vector is >= 16, deliver is never nested.
 */
#include "fuzz_common.h"

#include <errno.h>

#include "devices/ioapic.h"

/* Caps that keep one input fast: re-entrant EOIs, and top-level EOI bursts. */
#define IOAPIC_FUZZ_REENTRY_BUDGET 10100u
#define IOAPIC_FUZZ_BURST_BUDGET   10100u

struct ioapic_fuzz {
    struct lapis_ioapic io;
    struct fuzz_in *in;
    unsigned version, npins;
    bool interactive;      /* deliver reads an action from the input */
    bool auto_eoi;         /* deliver EOIs every level message synchronously */
    bool loaded_unsynced;  /* a foreign state was loaded; resync not yet called */
    unsigned depth;        /* inside deliver */
    uint32_t reentry_left; /* re-entrant actions still allowed */
    uint32_t burst_left;
    uint64_t delivered, eoi_bc, eoi_eoir, bad_access, eoir_ignored, timer_arms;
    struct lapis_ioapic_state snap; /* a state deliver may load */
    bool have_snap;
};

static void ioapic_fuzz_eoi(struct ioapic_fuzz *f, uint8_t vector)
{
    f->eoi_bc++;
    lapis_ioapic_eoi(&f->io, vector, LAPIS_EOI_FROM_BROADCAST);
}

static bool ioapic_fuzz_mmio_ok(uint64_t off, unsigned size)
{
    if (size != 4 || (off & 3) || off >= LAPIS_IOAPIC_MMIO_SIZE)
        return false;
    return off == LAPIS_IOAPIC_IOREGSEL || off == LAPIS_IOAPIC_IOWIN || off == LAPIS_IOAPIC_EOIR;
}

static uint32_t ioapic_fuzz_read(struct ioapic_fuzz *f, uint64_t off, unsigned size)
{
    bool has_eoir = f->version == LAPIS_IOAPIC_VERSION_PCH;
    if (!ioapic_fuzz_mmio_ok(off, size) || (off == LAPIS_IOAPIC_EOIR && !has_eoir))
        f->bad_access++;
    uint32_t v = lapis_ioapic_mmio_read(&f->io, off, size);
    if (off == LAPIS_IOAPIC_EOIR || !ioapic_fuzz_mmio_ok(off, size))
        FUZZ_ASSERT(v == 0);
    return v;
}

static void ioapic_fuzz_write(struct ioapic_fuzz *f, uint64_t off, unsigned size, uint32_t v)
{
    if (!ioapic_fuzz_mmio_ok(off, size))
        f->bad_access++;
    else if (off == LAPIS_IOAPIC_EOIR && f->version == LAPIS_IOAPIC_VERSION_PCH)
        f->eoi_eoir++;
    else if (off == LAPIS_IOAPIC_EOIR)
        f->eoir_ignored++;
    lapis_ioapic_mmio_write(&f->io, off, size, v);
}

static void ioapic_fuzz_write_entry(struct ioapic_fuzz *f, unsigned pin, bool high, uint32_t v)
{
    ioapic_fuzz_write(f, LAPIS_IOAPIC_IOREGSEL, 4, LAPIS_IOAPIC_REG_REDIR + 2 * pin + high);
    ioapic_fuzz_write(f, LAPIS_IOAPIC_IOWIN, 4, v);
}

static unsigned ioapic_fuzz_pin(struct ioapic_fuzz *f)
{
    uint8_t b = fin_u8(f->in);
    /* Mostly a real pin; sometimes any value, out of range included. */
    return (b & 0x80) ? (b == 0xFF ? 0xFFFFFFFFu : b) : b % f->npins;
}

static uint8_t ioapic_fuzz_vector(struct ioapic_fuzz *f)
{
    uint8_t b = fin_u8(f->in);
    /* Half the time the vector of some pin's entry, so EOIs match. */
    if (b & 1)
        return (uint8_t)lapis_ioapic_entry(&f->io, (b >> 1) % f->npins);
    return fin_u8(f->in);
}

static void ioapic_fuzz_deliver(void *opaque, unsigned pin, const struct lapis_msi *msg)
{
    struct ioapic_fuzz *f = opaque;
    struct lapis_msi want;

    FUZZ_ASSERT(f->depth == 0); /* deliveries are never nested */
    FUZZ_ASSERT(pin < f->npins);
    f->delivered++;
    uint64_t redir = lapis_ioapic_entry(&f->io, pin);
    lapis_ioapic_entry_msi(&f->io, pin, &want);
    FUZZ_ASSERT(memcmp(&want, msg, sizeof(want)) == 0);
    FUZZ_ASSERT(msg->vector >= 16);
    FUZZ_ASSERT(!(redir & LAPIS_IOREDIR_MASKED));
    FUZZ_ASSERT(msg->level_triggered == !!(redir & LAPIS_IOREDIR_LEVEL));
    FUZZ_ASSERT(msg->dest == (uint32_t)(redir >> LAPIS_IOREDIR_DEST_SHIFT));
    if (redir & LAPIS_IOREDIR_LEVEL) {
        FUZZ_ASSERT(redir & LAPIS_IOREDIR_REMOTE_IRR);
        FUZZ_ASSERT(lapis_ioapic_line_high(&f->io, pin));
    }

    if (!f->reentry_left)
        return;
    f->depth++;
    if (f->auto_eoi && msg->level_triggered) {
        f->reentry_left--;
        ioapic_fuzz_eoi(f, msg->vector);
    } else if (f->interactive && !fin_empty(f->in)) {
        f->reentry_left--;
        switch (fin_u8(f->in) & 15) {
        case 1: /* a software LAPIC whose guest EOIs at once */
            ioapic_fuzz_eoi(f, msg->vector);
            break;
        case 2: /* the device drops the line */
            lapis_ioapic_deassert(&f->io, pin);
            break;
        case 3: /* handler: clear the device, then EOI */
            lapis_ioapic_set_level(&f->io, pin, false);
            ioapic_fuzz_eoi(f, msg->vector);
            break;
        case 4: /* the guest masks the entry, or otherwise rewrites it */
            ioapic_fuzz_write_entry(f, pin, false, fin_u32(f->in));
            break;
        case 12: /* another pin's entry, while its delivery may be queued */
            ioapic_fuzz_write_entry(f, fin_u8(f->in) % f->npins, false, fin_u32(f->in));
            break;
        case 13: /* two things at once */
            lapis_ioapic_assert(&f->io, ioapic_fuzz_pin(f));
            ioapic_fuzz_write_entry(f, fin_u8(f->in) % f->npins, false, fin_u32(f->in));
            break;
        case 5: /* another source asserts some pin */
            lapis_ioapic_assert(&f->io, ioapic_fuzz_pin(f));
            break;
        case 6: /* EOI through EOIR */
            ioapic_fuzz_write(f, LAPIS_IOAPIC_EOIR, 4, msg->vector);
            break;
        case 7:
            lapis_ioapic_reset(&f->io);
            break;
        case 8:
            if (f->have_snap && lapis_ioapic_load(&f->io, &f->snap) == 0)
                f->loaded_unsynced = true;
            break;
        case 9:
            lapis_ioapic_timer_expired(&f->io);
            break;
        case 10:
            lapis_ioapic_pulse(&f->io, ioapic_fuzz_pin(f));
            break;
        case 11:
            ioapic_fuzz_eoi(f, ioapic_fuzz_vector(f));
            break;
        default:
            break;
        }
    }
    f->depth--;
}

static void ioapic_fuzz_entry_changed(void *opaque, unsigned pin)
{
    struct ioapic_fuzz *f = opaque;
    FUZZ_ASSERT(pin < f->npins);
}

static void ioapic_fuzz_timer_arm(void *opaque, uint64_t delay_ns)
{
    struct ioapic_fuzz *f = opaque;
    FUZZ_ASSERT(delay_ns == LAPIS_IOAPIC_STORM_DELAY_NS);
    f->timer_arms++;
}

/* Compares the guest-visible and saved parts of two IOAPICs. */
static void ioapic_fuzz_same(const struct lapis_ioapic *a, const struct lapis_ioapic *b)
{
    struct lapis_ioapic_state sa, sb;

    lapis_ioapic_save(a, &sa);
    lapis_ioapic_save(b, &sb);
    FUZZ_ASSERT(memcmp(&sa, &sb, sizeof(sa)) == 0);
    for (unsigned pin = 0; pin < a->npins; pin++) {
        FUZZ_ASSERT(lapis_ioapic_entry(a, pin) == lapis_ioapic_entry(b, pin));
        FUZZ_ASSERT(lapis_ioapic_line_high(a, pin) == lapis_ioapic_line_high(b, pin));
    }
}

static void ioapic_fuzz_save_load(struct ioapic_fuzz *f)
{
    static struct lapis_ioapic other; /* large: kept off the stack */
    struct lapis_ioapic_state s, s2;

    lapis_ioapic_save(&f->io, &s);
    FUZZ_ASSERT(s.magic == LAPIS_IOAPIC_STATE_MAGIC);
    FUZZ_ASSERT(s.state_version == LAPIS_IOAPIC_STATE_VERSION);
    FUZZ_ASSERT(s.npins == f->npins && s.version == f->version);

    /* Into a fresh IOAPIC with the same configuration. */
    FUZZ_ASSERT(lapis_ioapic_init(&other, f->version, f->npins, f->io.ops, f) == 0);
    FUZZ_ASSERT(lapis_ioapic_load(&other, &s) == 0);
    lapis_ioapic_save(&other, &s2);
    FUZZ_ASSERT(memcmp(&s, &s2, sizeof(s)) == 0);
    ioapic_fuzz_same(&f->io, &other);

    /* Into itself: nothing changes. */
    FUZZ_ASSERT(lapis_ioapic_load(&f->io, &s) == 0);
    lapis_ioapic_save(&f->io, &s2);
    FUZZ_ASSERT(memcmp(&s, &s2, sizeof(s)) == 0);

    f->snap = s;
    f->have_snap = true;

    /* A corrupted state: refused with no change, or loaded exactly. */
    unsigned nmut = fin_u8(f->in) & 7;
    for (unsigned i = 0; i < nmut; i++) {
        size_t at = fin_u16(f->in) % sizeof(s);
        ((uint8_t *)&s)[at] = fin_u8(f->in);
    }
    memcpy(&other, &f->io, sizeof(other));
    int rc = lapis_ioapic_load(&other, &s);
    FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
    if (rc) {
        FUZZ_ASSERT(memcmp(&other, &f->io, sizeof(other)) == 0);
        return;
    }
    FUZZ_ASSERT(other.id == s.id && other.ioregsel == s.ioregsel);
    for (unsigned pin = 0; pin < f->npins; pin++) {
        uint64_t redir = lapis_ioapic_entry(&other, pin);
        FUZZ_ASSERT(redir == s.pins[pin].redir);
        FUZZ_ASSERT(lapis_ioapic_line_high(&other, pin) == (s.pins[pin].assert_count != 0));
        FUZZ_ASSERT(!(redir & LAPIS_IOREDIR_REMOTE_IRR) || (redir & LAPIS_IOREDIR_LEVEL));
    }
    if (fin_bool(f->in)) {
        memcpy(&f->io, &other, sizeof(other));
        f->loaded_unsynced = true;
    }
}

static void ioapic_fuzz_check(struct ioapic_fuzz *f)
{
    struct lapis_ioapic *io = &f->io;

    FUZZ_ASSERT(!io->busy && io->npending == 0);
    FUZZ_ASSERT(io->npins == f->npins && io->version == f->version);

    /* The version register, read as the guest does; IOREGSEL restored. */
    uint32_t sel = lapis_ioapic_mmio_read(io, LAPIS_IOAPIC_IOREGSEL, 4);
    FUZZ_ASSERT(sel <= 0xFF);
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOREGSEL, 4, LAPIS_IOAPIC_REG_VER);
    FUZZ_ASSERT(lapis_ioapic_mmio_read(io, LAPIS_IOAPIC_IOWIN, 4) ==
                (((f->npins - 1) << 16) | f->version));
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOREGSEL, 4, LAPIS_IOAPIC_REG_ID);
    FUZZ_ASSERT((lapis_ioapic_mmio_read(io, LAPIS_IOAPIC_IOWIN, 4) & ~0x0F000000u) == 0);
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOREGSEL, 4, sel);
    FUZZ_ASSERT(lapis_ioapic_mmio_read(io, LAPIS_IOAPIC_IOREGSEL, 4) == sel);

    for (unsigned pin = 0; pin < f->npins; pin++) {
        const struct lapis_ioapic_pin *p = &io->pins[pin];
        uint64_t redir = p->redir;
        bool level = redir & LAPIS_IOREDIR_LEVEL;

        FUZZ_ASSERT(!(redir & LAPIS_IOREDIR_REMOTE_IRR) || level);
        FUZZ_ASSERT(!(redir & LAPIS_IOREDIR_DELIVS));
        FUZZ_ASSERT(p->pending == 0);
        FUZZ_ASSERT(p->successive_eois < LAPIS_IOAPIC_STORM_EOI_COUNT);
        FUZZ_ASSERT(lapis_ioapic_line_high(io, pin) == (p->assert_count != 0));
        FUZZ_ASSERT(lapis_ioapic_remote_irr(io, pin) == !!(redir & LAPIS_IOREDIR_REMOTE_IRR));
        if (!f->loaded_unsynced && level && !(redir & LAPIS_IOREDIR_MASKED) && p->assert_count &&
            !(redir & LAPIS_IOREDIR_REMOTE_IRR) && (redir & LAPIS_IOREDIR_VECTOR_MASK) >= 16)
            FUZZ_ASSERT(p->throttled); /* else an interrupt was lost */
    }
    if (io->ops && io->ops->deliver)
        FUZZ_ASSERT(io->stats.deliveries == f->delivered);
    FUZZ_ASSERT(io->stats.eoi_broadcast == f->eoi_bc);
    FUZZ_ASSERT(io->stats.eoi_eoir == f->eoi_eoir);
    FUZZ_ASSERT(io->stats.bad_access == f->bad_access);
    FUZZ_ASSERT(io->stats.eoir_ignored == f->eoir_ignored);
    FUZZ_ASSERT(io->stats.redeliveries <= io->stats.deliveries);
    if (!io->ops || !io->ops->timer_arm)
        FUZZ_ASSERT(f->timer_arms == 0);
    /* Pins past the end read as nothing. */
    struct lapis_msi m;
    lapis_ioapic_entry_msi(io, f->npins, &m);
    FUZZ_ASSERT(m.vector == 0 && m.dest == 0 && !m.level_triggered);
    FUZZ_ASSERT(!lapis_ioapic_remote_irr(io, f->npins) && !lapis_ioapic_line_high(io, f->npins));
    FUZZ_ASSERT(lapis_ioapic_entry(io, f->npins) == 0);
}

static void ioapic_fuzz_op(struct ioapic_fuzz *f)
{
    struct fuzz_in *in = f->in;
    uint8_t op = fin_u8(in);
    unsigned pin;
    int rc;

    switch (op % 20) {
    case 0:
    case 1: /* select a register: mostly a redirection entry */
        ioapic_fuzz_write(f, LAPIS_IOAPIC_IOREGSEL, 4, fin_u8(in));
        break;
    case 2:
    case 3:
        ioapic_fuzz_write(f, LAPIS_IOAPIC_IOWIN, 4, fin_u32(in));
        break;
    case 4:
        ioapic_fuzz_read(f, (op & 0x20) ? LAPIS_IOAPIC_IOWIN : LAPIS_IOAPIC_IOREGSEL, 4);
        break;
    case 5: { /* any access: offset, size, value */
        uint64_t off = (op & 0x20) ? fin_u64(in) : fin_u16(in) & 0x1FFF;
        unsigned sz = fin_size(in);
        if (op & 0x40)
            ioapic_fuzz_write(f, off, sz, fin_u32(in));
        else
            ioapic_fuzz_read(f, off, sz);
        break;
    }
    case 6:
    case 7: /* program a whole entry */
        pin = fin_u8(in) % f->npins;
        ioapic_fuzz_write_entry(f, pin, true, (uint32_t)fin_u8(in) << 24);
        ioapic_fuzz_write_entry(f, pin, false, fin_u32(in));
        break;
    case 8: {
        pin = ioapic_fuzz_pin(f);
        rc = lapis_ioapic_assert(&f->io, pin);
        FUZZ_ASSERT(pin < f->npins ? (rc == 0 || rc == -EOVERFLOW) : rc == -EINVAL);
        break;
    }
    case 9: {
        pin = ioapic_fuzz_pin(f);
        bool was_high = lapis_ioapic_line_high(&f->io, pin);
        rc = lapis_ioapic_deassert(&f->io, pin);
        FUZZ_ASSERT(rc == ((pin < f->npins && was_high) ? 0 : -EINVAL));
        break;
    }
    case 10:
        pin = ioapic_fuzz_pin(f);
        rc = lapis_ioapic_pulse(&f->io, pin);
        /* -EINVAL from the deassert half if deliver lowered the line itself. */
        FUZZ_ASSERT(pin < f->npins
                        ? (rc == 0 || rc == -EOVERFLOW || (f->interactive && rc == -EINVAL))
                        : rc == -EINVAL);
        break;
    case 11: {
        pin = ioapic_fuzz_pin(f);
        bool high = fin_bool(in);
        rc = lapis_ioapic_set_level(&f->io, pin, high);
        FUZZ_ASSERT(rc == (pin < f->npins ? 0 : -EINVAL));
        if (!rc && !f->interactive) /* else deliver may have moved the line */
            FUZZ_ASSERT(lapis_ioapic_line_high(&f->io, pin) == high);
        break;
    }
    case 12:
    case 13:
        ioapic_fuzz_eoi(f, ioapic_fuzz_vector(f));
        break;
    case 14:
        ioapic_fuzz_write(f, LAPIS_IOAPIC_EOIR, 4, ioapic_fuzz_vector(f));
        break;
    case 15: { /* a burst of EOIs: a guest in a level storm */
        uint8_t vector = ioapic_fuzz_vector(f);
        uint32_t n = (op & 0x20) ? LAPIS_IOAPIC_STORM_EOI_COUNT + 2 : fin_u8(in);
        for (uint32_t i = 0; i < n && f->burst_left; i++, f->burst_left--)
            ioapic_fuzz_eoi(f, vector);
        break;
    }
    case 16:
        lapis_ioapic_timer_expired(&f->io);
        break;
    case 17:
        ioapic_fuzz_save_load(f);
        break;
    case 18:
        if (op & 0x20) {
            lapis_ioapic_reset(&f->io);
        } else {
            lapis_ioapic_resync(&f->io);
            f->loaded_unsynced = false;
        }
        break;
    case 19: { /* init's argument checks, on a scratch IOAPIC */
        static struct lapis_ioapic scratch;
        unsigned version = fin_u8(in), npins = fin_u16(in);
        bool ok = (version == 0x11 || version == 0x20) && npins >= 1 && npins <= 240;
        rc = lapis_ioapic_init(&scratch, version, npins, NULL, NULL);
        FUZZ_ASSERT(rc == (ok ? 0 : -EINVAL));
        break;
    }
    }
}

FUZZ_TARGET(ioapic)
{
    static struct ioapic_fuzz f; /* ~12 KiB: kept off the stack */
    static const struct lapis_ioapic_ops ops_all = {
        .deliver = ioapic_fuzz_deliver,
        .entry_changed = ioapic_fuzz_entry_changed,
        .timer_arm = ioapic_fuzz_timer_arm,
    };
    static const struct lapis_ioapic_ops ops_no_timer = {
        .deliver = ioapic_fuzz_deliver,
        .entry_changed = ioapic_fuzz_entry_changed,
    };
    static const struct lapis_ioapic_ops ops_no_deliver = {
        .timer_arm = ioapic_fuzz_timer_arm,
    };
    struct fuzz_in in = {data, size};

    memset(&f, 0, sizeof(f));
    f.in = &in;
    /* Config: bit 0 version, 1-2 callbacks, 3 interactive, 4 auto EOI, 5 pins, 6 storms. */
    uint8_t cfg = fin_u8(&in);
    f.version = (cfg & 1) ? LAPIS_IOAPIC_VERSION_PCH : LAPIS_IOAPIC_VERSION_82093AA;
    f.npins = (cfg & 0x20) ? 1 + fin_u8(&in) % LAPIS_IOAPIC_MAX_PINS : 24;
    f.interactive = cfg & 8;
    f.auto_eoi = cfg & 0x10;
    /* Storms (10000 EOIs) are slow: only inputs with bit 6 (and few pins) reach the throttle. */
    bool storms = (cfg & 0x40) && f.npins <= 32; /* the throttle does not depend on npins */
    f.reentry_left = storms ? IOAPIC_FUZZ_REENTRY_BUDGET : 256;
    f.burst_left = storms ? IOAPIC_FUZZ_BURST_BUDGET : 256;
    const struct lapis_ioapic_ops *ops[4] = {&ops_all, &ops_no_timer, &ops_no_deliver, NULL};
    FUZZ_ASSERT(lapis_ioapic_init(&f.io, f.version, f.npins, ops[(cfg >> 1) & 3], &f) == 0);
    ioapic_fuzz_check(&f);

    while (!fin_empty(&in)) {
        ioapic_fuzz_op(&f);
        ioapic_fuzz_check(&f);
    }
    return 0;
}
