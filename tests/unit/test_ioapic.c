/* SPDX-License-Identifier: MIT */
/* Unit tests for the IOAPIC model (src/devices/ioapic.c). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/ioapic.h"
#include "../harness.h"

/* ---- a recording embedder ---------------------------------------------- */

#define EV_DELIVER 1u
#define EV_CHANGED 2u
#define EV_TIMER   3u
#define MAX_EVENTS 64

enum cb_action {
    ACT_NONE = 0,
    ACT_EOI,          /* a software LAPIC that EOIs from inside deliver */
    ACT_DEASSERT_EOI, /* the handler quietens the device, then EOIs */
    ACT_ASSERT_OTHER, /* delivering one pin raises another */
    ACT_MASKED_EDGE,  /* pulse a masked edge pin, then unmask it */
};

struct rec {
    struct lapis_ioapic *io;
    unsigned ndeliver;
    unsigned per_pin[LAPIS_IOAPIC_MAX_PINS];
    unsigned last_pin;
    struct lapis_msi last;
    unsigned nchanged;
    unsigned narm;
    uint64_t last_delay;
    unsigned events[MAX_EVENTS];
    unsigned nevents;
    /* re-entrancy */
    enum cb_action action;
    unsigned other_pin;
    unsigned depth, max_depth;
    unsigned irr_clear_in_deliver; /* level deliveries that saw Remote IRR clear */
    unsigned stats_behind;         /* deliveries not yet counted when the callback ran */
    bool runaway;                  /* the callback stopped reacting */
};

static void program(struct lapis_ioapic *io, unsigned pin, uint64_t entry);

static void log_event(struct rec *r, unsigned type, unsigned pin)
{
    if (r->nevents < MAX_EVENTS)
        r->events[r->nevents++] = type << 16 | pin;
}

static void rec_deliver(void *opaque, unsigned pin, const struct lapis_msi *msg)
{
    struct rec *r = opaque;

    r->ndeliver++;
    r->per_pin[pin]++;
    r->last_pin = pin;
    r->last = *msg;
    log_event(r, EV_DELIVER, pin);
    if (!r->io)
        return;
    if (msg->level_triggered && !lapis_ioapic_remote_irr(r->io, pin))
        r->irr_clear_in_deliver++;
    if (r->io->stats.deliveries != r->ndeliver)
        r->stats_behind++;
    /* A runaway storm fails the test instead of hanging it. */
    if (r->ndeliver > 5 * LAPIS_IOAPIC_STORM_EOI_COUNT) {
        r->runaway = true;
        return;
    }
    r->depth++;
    if (r->depth > r->max_depth)
        r->max_depth = r->depth;
    switch (r->action) {
    case ACT_EOI:
        lapis_ioapic_eoi(r->io, msg->vector, LAPIS_EOI_FROM_BROADCAST);
        break;
    case ACT_DEASSERT_EOI:
        lapis_ioapic_deassert(r->io, pin);
        lapis_ioapic_eoi(r->io, msg->vector, LAPIS_EOI_FROM_BROADCAST);
        break;
    case ACT_ASSERT_OTHER:
        if (pin != r->other_pin)
            lapis_ioapic_assert(r->io, r->other_pin);
        break;
    case ACT_MASKED_EDGE:
        if (pin != r->other_pin) {
            lapis_ioapic_pulse(r->io, r->other_pin);
            program(r->io, r->other_pin, 0x52);
        }
        break;
    case ACT_NONE:
        break;
    }
    r->depth--;
}

static void rec_changed(void *opaque, unsigned pin)
{
    struct rec *r = opaque;

    r->nchanged++;
    log_event(r, EV_CHANGED, pin);
}

static void rec_timer(void *opaque, uint64_t delay_ns)
{
    struct rec *r = opaque;

    r->narm++;
    r->last_delay = delay_ns;
    log_event(r, EV_TIMER, 0);
}

static const struct lapis_ioapic_ops full_ops = {
    .deliver = rec_deliver,
    .entry_changed = rec_changed,
    .timer_arm = rec_timer,
};

static const struct lapis_ioapic_ops no_timer_ops = {
    .deliver = rec_deliver,
    .entry_changed = rec_changed,
};

/* The device is large; tests share one instance and re-initialise it. */
static struct lapis_ioapic dev, dev2;
static struct rec rec;
static struct lapis_ioapic_state st, st2;

static struct lapis_ioapic *setup_ops(unsigned version, unsigned npins,
                                      const struct lapis_ioapic_ops *ops)
{
    memset(&rec, 0, sizeof(rec));
    rec.io = &dev;
    CHECK_EQ(lapis_ioapic_init(&dev, version, npins, ops, &rec), 0);
    return &dev;
}

static struct lapis_ioapic *setup(unsigned version)
{
    return setup_ops(version, LAPIS_IOAPIC_DEFAULT_PINS, &full_ops);
}

static void wreg(struct lapis_ioapic *io, unsigned sel, uint32_t val)
{
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOREGSEL, 4, sel);
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOWIN, 4, val);
}

static uint32_t rreg(struct lapis_ioapic *io, unsigned sel)
{
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOREGSEL, 4, sel);
    return lapis_ioapic_mmio_read(io, LAPIS_IOAPIC_IOWIN, 4);
}

/* Programs an entry as a guest does: high dword first, then low. */
static void program(struct lapis_ioapic *io, unsigned pin, uint64_t entry)
{
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * pin + 1, (uint32_t)(entry >> 32));
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * pin, (uint32_t)entry);
}

static uint64_t read_entry(struct lapis_ioapic *io, unsigned pin)
{
    uint64_t hi = rreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * pin + 1);
    return hi << 32 | rreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * pin);
}

#define VEC     0x30u
#define DEST(d) ((uint64_t)(d) << LAPIS_IOREDIR_DEST_SHIFT)
#define LEVEL   LAPIS_IOREDIR_LEVEL
#define MASKED  LAPIS_IOREDIR_MASKED
#define IRR     LAPIS_IOREDIR_REMOTE_IRR

/* ---- configuration and registers ---------------------------------------- */

static void test_init_validation(void)
{
    static const unsigned bad_versions[] = {0, 0x10, 0x12, 0x1F, 0x21, 0x111, 0xFFFFFFFF};
    for (unsigned i = 0; i < sizeof(bad_versions) / sizeof(bad_versions[0]); i++)
        CHECK_EQ(lapis_ioapic_init(&dev, bad_versions[i], 24, &full_ops, &rec), -EINVAL);
    CHECK_EQ(lapis_ioapic_init(&dev, 0x11, 0, &full_ops, &rec), -EINVAL);
    CHECK_EQ(lapis_ioapic_init(&dev, 0x20, 241, &full_ops, &rec), -EINVAL);
    CHECK_EQ(lapis_ioapic_init(&dev, 0x20, 256, &full_ops, &rec), -EINVAL);
    CHECK_EQ(lapis_ioapic_init(&dev, 0x11, 1, &full_ops, &rec), 0);
    CHECK_EQ(lapis_ioapic_init(&dev, 0x20, 240, &full_ops, &rec), 0);
    CHECK_EQ(lapis_ioapic_init(&dev, 0x20, 24, NULL, NULL), 0);
    CHECK_EQ(LAPIS_IOAPIC_DEFAULT_PINS, 24);

    /* Reset state: every entry masked, nothing called back. */
    struct lapis_ioapic *io = setup(0x11);
    for (unsigned pin = 0; pin < 24; pin++) {
        CHECK_EQ(read_entry(io, pin), MASKED);
        CHECK(!lapis_ioapic_line_high(io, pin));
    }
    CHECK_EQ(rec.nchanged, 0);
    CHECK_EQ(rec.ndeliver, 0);
    CHECK(!lapis_ioapic_has_eoir(io));
    CHECK(lapis_ioapic_has_eoir(setup(0x20)));
}

static void test_version_register(void)
{
    struct lapis_ioapic *io = setup(0x11);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_VER), 0x00170011);
    wreg(io, LAPIS_IOAPIC_REG_VER, 0xFFFFFFFF);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_VER), 0x00170011);
    CHECK_EQ(io->stats.ro_write, 1);

    io = setup(0x20);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_VER), 0x00170020);
    io = setup_ops(0x11, 1, &full_ops);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_VER), 0x00000011);
    io = setup_ops(0x20, 240, &full_ops);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_VER), 0x00EF0020);
}

static void test_ioregsel(void)
{
    struct lapis_ioapic *io = setup(0x11);
    CHECK_EQ(lapis_ioapic_mmio_read(io, LAPIS_IOAPIC_IOREGSEL, 4), 0);
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOREGSEL, 4, 0x1234);
    CHECK_EQ(lapis_ioapic_mmio_read(io, LAPIS_IOAPIC_IOREGSEL, 4), 0x34);
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOREGSEL, 4, 0xFFFFFF01);
    CHECK_EQ(lapis_ioapic_mmio_read(io, LAPIS_IOAPIC_IOREGSEL, 4), 0x01);
    /* Selecting VER through a wide value still works: only the low byte counts. */
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOREGSEL, 4, 0xABCD0001);
    CHECK_EQ(lapis_ioapic_mmio_read(io, LAPIS_IOAPIC_IOWIN, 4), 0x00170011);
    CHECK_EQ(io->stats.bad_access, 0);
    CHECK_EQ(io->stats.bad_selector, 0);
}

static void test_id_and_arb(void)
{
    struct lapis_ioapic *io = setup(0x20);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_ID), 0);
    wreg(io, LAPIS_IOAPIC_REG_ID, 0xFFFFFFFF);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_ID), 0x0F000000);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_ARB), 0x0F000000);
    wreg(io, LAPIS_IOAPIC_REG_ID, 0x05123456);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_ID), 0x05000000);
    CHECK_EQ(io->id, 5);
    /* ARB follows ID and ignores writes. */
    wreg(io, LAPIS_IOAPIC_REG_ARB, 0x0A000000);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_ARB), 0x05000000);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_ID), 0x05000000);
    CHECK_EQ(io->stats.ro_write, 1);
    CHECK_EQ(rec.nchanged, 0);
}

static void test_redir_rw_and_ro_bits(void)
{
    struct lapis_ioapic *io = setup(0x20);

    /* All ones, line low: stored except the read-only bits. */
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 3, 0xFFFFFFFF);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 3), 0xFFFFAFFF);
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 3 + 1, 0xAB00FFFF);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 3 + 1), 0xAB00FFFF);
    CHECK_EQ(lapis_ioapic_entry(io, 3), 0xAB00FFFFFFFFAFFFull);
    CHECK_EQ(rec.ndeliver, 0);

    /* Polarity is stored and read back, not applied: an asserted line delivers. */
    program(io, 4, DEST(1) | LEVEL | LAPIS_IOREDIR_POLARITY | VEC);
    CHECK(read_entry(io, 4) & LAPIS_IOREDIR_POLARITY);
    lapis_ioapic_assert(io, 4);
    CHECK_EQ(rec.ndeliver, 1);

    /* Remote IRR survives guest writes that clear it... */
    CHECK(read_entry(io, 4) & IRR);
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 4, (uint32_t)(LEVEL | VEC));
    CHECK(read_entry(io, 4) & IRR);
    CHECK(lapis_ioapic_remote_irr(io, 4));
    /* ...and guest writes cannot set it, nor delivery status, which reads 0. */
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 5, (uint32_t)(MASKED | IRR | LAPIS_IOREDIR_DELIVS));
    CHECK_EQ(read_entry(io, 5), MASKED);
    CHECK(!(read_entry(io, 4) & LAPIS_IOREDIR_DELIVS));
    CHECK_EQ(rec.ndeliver, 1);
}

static void test_entry_changed_callback(void)
{
    struct lapis_ioapic *io = setup(0x20);

    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 7, MASKED);
    CHECK_EQ(rec.nchanged, 1);
    CHECK_EQ(rec.events[0], EV_CHANGED << 16 | 7);
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 23 + 1, 0x01000000);
    CHECK_EQ(rec.nchanged, 2);
    CHECK_EQ(rec.events[1], EV_CHANGED << 16 | 23);
    wreg(io, LAPIS_IOAPIC_REG_ID, 0x01000000);
    wreg(io, LAPIS_IOAPIC_REG_VER, 0);
    wreg(io, 0x40, 0); /* bad selector */
    CHECK_EQ(rec.nchanged, 2);

    /* The route is updated before the delivery that the write causes. */
    lapis_ioapic_assert(io, 9);
    rec.nevents = 0;
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 9, (uint32_t)(LEVEL | VEC));
    CHECK_EQ(rec.nevents, 2);
    CHECK_EQ(rec.events[0], EV_CHANGED << 16 | 9);
    CHECK_EQ(rec.events[1], EV_DELIVER << 16 | 9);
}

/* ---- hostile accesses ---------------------------------------------------- */

static void test_bad_access(void)
{
    struct lapis_ioapic *io = setup(0x20);
    static const unsigned widths[] = {0, 1, 2, 3, 8, 16};
    static const uint64_t offsets[] = {0x00, 0x10, 0x40};
    uint64_t expected = 0;

    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOREGSEL, 4, LAPIS_IOAPIC_REG_VER);
    program(io, 2, LEVEL | VEC);
    lapis_ioapic_assert(io, 2);
    lapis_ioapic_save(io, &st);
    unsigned base_deliveries = rec.ndeliver, base_changed = rec.nchanged;

    for (unsigned w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
        for (unsigned o = 0; o < 3; o++) {
            CHECK_EQ(lapis_ioapic_mmio_read(io, offsets[o], widths[w]), 0);
            lapis_ioapic_mmio_write(io, offsets[o], widths[w], VEC);
            expected += 2;
        }
    }
    static const uint64_t odd[] = {0x01,
                                   0x02,
                                   0x03,
                                   0x11,
                                   0x12,
                                   0x41,
                                   0x04,
                                   0x08,
                                   0x0C,
                                   0x14,
                                   0x20,
                                   0x30,
                                   0x44,
                                   0x80,
                                   0xFFC,
                                   0x1000,
                                   0xFFFFFFFFFFFFFFFCull};
    for (unsigned i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        CHECK_EQ(lapis_ioapic_mmio_read(io, odd[i], 4), 0);
        lapis_ioapic_mmio_write(io, odd[i], 4, VEC);
        expected += 2;
    }
    CHECK_EQ(io->stats.bad_access, expected);
    lapis_ioapic_save(io, &st2);
    CHECK(memcmp(&st, &st2, sizeof(st)) == 0);
    CHECK_EQ(rec.ndeliver, base_deliveries);
    CHECK_EQ(rec.nchanged, base_changed);
    CHECK_EQ(io->stats.eoi_eoir, 0);
    CHECK_EQ(io->stats.bad_selector, 0);
}

static void test_bad_selector(void)
{
    struct lapis_ioapic *io = setup(0x11);
    static const unsigned sels[] = {0x03, 0x04, 0x0F, 0x10 + 2 * 24, 0x10 + 2 * 24 + 1, 0xFF};

    lapis_ioapic_save(io, &st);
    for (unsigned i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
        CHECK_EQ(rreg(io, sels[i]), 0);
        wreg(io, sels[i], 0xFFFFFFFF);
    }
    CHECK_EQ(io->stats.bad_selector, 2 * 6);
    CHECK_EQ(io->stats.bad_access, 0);
    CHECK_EQ(rec.nchanged, 0);
    lapis_ioapic_save(io, &st2);
    st2.ioregsel = st.ioregsel; /* the selector writes themselves are legal */
    CHECK(memcmp(&st, &st2, sizeof(st)) == 0);

    /* With one pin, entry 1 does not exist. */
    io = setup_ops(0x20, 1, &full_ops);
    CHECK_EQ(rreg(io, 0x11), 0);
    CHECK_EQ(io->stats.bad_selector, 0);
    CHECK_EQ(rreg(io, 0x12), 0);
    CHECK_EQ(io->stats.bad_selector, 1);
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static void test_random_accesses(void)
{
    static const unsigned widths[] = {0, 1, 2, 3, 8, 4, 4, 4, 4, 4};
    static const uint64_t regs[] = {LAPIS_IOAPIC_IOREGSEL, LAPIS_IOAPIC_IOWIN, LAPIS_IOAPIC_EOIR};
    struct lapis_ioapic *io = setup(0x20);
    uint32_t levels[24] = {0};
    uint64_t seed = 0x1A915, bad = 0;

    for (unsigned i = 0; i < 200000; i++) {
        uint64_t r = lcg(&seed);
        unsigned size = widths[r % 10];
        uint64_t off;
        switch ((r >> 4) & 3) {
        case 0:
        case 1:
            off = regs[(r >> 6) % 3];
            break;
        case 2:
            off = lcg(&seed) & 0x4F; /* near the registers, often misaligned */
            break;
        default:
            off = lcg(&seed) << 31 | lcg(&seed); /* anywhere */
            break;
        }
        uint32_t val = (uint32_t)lcg(&seed) ^ (uint32_t)(lcg(&seed) << 16);
        bool good = size == 4 && (off == 0 || off == 0x10 || off == 0x40);

        if (!good)
            bad++;
        if (r & 0x10000)
            lapis_ioapic_mmio_write(io, off, size, val);
        else
            (void)lapis_ioapic_mmio_read(io, off, size);
        /* The devices move too. */
        unsigned pin = (val >> 8) % 24;
        switch ((r >> 20) & 0xF) {
        case 0:
            if (lapis_ioapic_assert(io, pin) == 0)
                levels[pin]++;
            break;
        case 1:
            CHECK_EQ(lapis_ioapic_deassert(io, pin), levels[pin] ? 0 : -EINVAL);
            if (levels[pin])
                levels[pin]--;
            break;
        case 2:
            lapis_ioapic_eoi(io, (uint8_t)val, LAPIS_EOI_FROM_BROADCAST);
            break;
        }
    }
    CHECK_EQ(io->stats.bad_access, bad);
    CHECK(io->stats.bad_access > 10000);
    CHECK(io->stats.deliveries > 100);
    CHECK(io->stats.eoi_eoir > 100);
    CHECK(rec.ndeliver == io->stats.deliveries);
    CHECK_EQ(rec.irr_clear_in_deliver, 0);
    CHECK_EQ(rec.stats_behind, 0);
    /* Invariants a hostile guest cannot break. */
    CHECK(io->ioregsel == lapis_ioapic_mmio_read(io, 0, 4));
    CHECK(io->id <= 0xF);
    for (unsigned p = 0; p < 24; p++) {
        uint64_t e = lapis_ioapic_entry(io, p);
        CHECK(!(e & LAPIS_IOREDIR_DELIVS));
        CHECK(!((e & IRR) && !(e & LEVEL)));
        CHECK_EQ(io->pins[p].assert_count, levels[p]);
    }
    CHECK(!io->busy);
    CHECK_EQ(io->npending, 0);
}

/* ---- EOIR --------------------------------------------------------------- */

static void test_eoir_v11_ignored(void)
{
    struct lapis_ioapic *io = setup(0x11);

    program(io, 1, LEVEL | VEC);
    lapis_ioapic_assert(io, 1);
    CHECK(lapis_ioapic_remote_irr(io, 1));
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_EOIR, 4, VEC);
    CHECK(lapis_ioapic_remote_irr(io, 1));
    CHECK_EQ(io->stats.eoir_ignored, 1);
    CHECK_EQ(io->stats.eoi_eoir, 0);
    CHECK_EQ(io->stats.eoi_cleared_irr, 0);
    CHECK_EQ(rec.ndeliver, 1);
    CHECK_EQ(lapis_ioapic_mmio_read(io, LAPIS_IOAPIC_EOIR, 4), 0);
    CHECK_EQ(io->stats.bad_access, 1);
    /* The broadcast still works on a 0x11. */
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    CHECK_EQ(io->stats.eoi_broadcast, 1);
    CHECK_EQ(rec.ndeliver, 2);
}

static void test_eoir_v20(void)
{
    struct lapis_ioapic *io = setup(0x20);

    program(io, 1, LEVEL | VEC);
    lapis_ioapic_assert(io, 1);
    lapis_ioapic_deassert(io, 1);
    CHECK(lapis_ioapic_remote_irr(io, 1));
    /* Only the low byte is the vector. */
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_EOIR, 4, 0xFFFFFF00 | VEC);
    CHECK(!lapis_ioapic_remote_irr(io, 1));
    CHECK_EQ(io->stats.eoi_eoir, 1);
    CHECK_EQ(io->stats.eoi_broadcast, 0);
    CHECK_EQ(io->stats.eoi_cleared_irr, 1);
    CHECK_EQ(io->stats.eoir_ignored, 0);
    CHECK_EQ(rec.ndeliver, 1);
    /* Write-only: reads 0 and is not a bad access. */
    CHECK_EQ(lapis_ioapic_mmio_read(io, LAPIS_IOAPIC_EOIR, 4), 0);
    CHECK_EQ(io->stats.bad_access, 0);
}

/* ---- edge and level delivery -------------------------------------------- */

static void test_edge_delivery(void)
{
    struct lapis_ioapic *io = setup(0x11);

    program(io, 5, DEST(0xA7) | LAPIS_IOREDIR_DESTMODE | (uint64_t)LAPIS_DM_LOWEST << 8 | 0x41);
    CHECK_EQ(lapis_ioapic_assert(io, 5), 0);
    CHECK_EQ(rec.ndeliver, 1);
    CHECK_EQ(rec.last_pin, 5);
    CHECK_EQ(rec.last.vector, 0x41);
    CHECK_EQ(rec.last.dest, 0xA7);
    CHECK(rec.last.dest_logical);
    CHECK_EQ(rec.last.delivery_mode, LAPIS_DM_LOWEST);
    CHECK(!rec.last.level_triggered);
    CHECK(!lapis_ioapic_remote_irr(io, 5));

    /* No edge while the line stays high. */
    CHECK_EQ(lapis_ioapic_assert(io, 5), 0);
    CHECK_EQ(rec.ndeliver, 1);
    CHECK_EQ(lapis_ioapic_deassert(io, 5), 0);
    CHECK_EQ(lapis_ioapic_deassert(io, 5), 0);
    CHECK_EQ(rec.ndeliver, 1);
    CHECK_EQ(lapis_ioapic_assert(io, 5), 0);
    CHECK_EQ(rec.ndeliver, 2);
    CHECK_EQ(lapis_ioapic_deassert(io, 5), 0);
    CHECK_EQ(lapis_ioapic_pulse(io, 5), 0);
    CHECK_EQ(rec.ndeliver, 3);
    CHECK(!lapis_ioapic_line_high(io, 5));
    /* An EOI never touches edge entries. */
    lapis_ioapic_eoi(io, 0x41, LAPIS_EOI_FROM_BROADCAST);
    CHECK_EQ(rec.ndeliver, 3);
    CHECK_EQ(io->stats.deliveries, 3);
    CHECK_EQ(io->stats.eoi_cleared_irr, 0);
}

static void test_masked_edge_lost(void)
{
    struct lapis_ioapic *io = setup(0x20);

    program(io, 6, MASKED | 0x42);
    CHECK_EQ(lapis_ioapic_pulse(io, 6), 0);
    CHECK_EQ(rec.ndeliver, 0);
    program(io, 6, 0x42);
    CHECK_EQ(rec.ndeliver, 0); /* the edge was lost, not latched */
    /* Masked while high, unmasked while high: still no edge. */
    program(io, 6, MASKED | 0x42);
    lapis_ioapic_assert(io, 6);
    program(io, 6, 0x42);
    CHECK_EQ(rec.ndeliver, 0);
    lapis_ioapic_deassert(io, 6);
    CHECK_EQ(lapis_ioapic_pulse(io, 6), 0);
    CHECK_EQ(rec.ndeliver, 1);
}

static void test_level_delivery_sets_remote_irr(void)
{
    struct lapis_ioapic *io = setup(0x11);

    program(io, 10, DEST(3) | LEVEL | VEC);
    CHECK_EQ(lapis_ioapic_set_level(io, 10, true), 0);
    CHECK_EQ(rec.ndeliver, 1);
    CHECK_EQ(rec.last_pin, 10);
    CHECK_EQ(rec.last.vector, VEC);
    CHECK_EQ(rec.last.dest, 3);
    CHECK(!rec.last.dest_logical);
    CHECK_EQ(rec.last.delivery_mode, LAPIS_DM_FIXED);
    CHECK(rec.last.level_triggered);
    CHECK(lapis_ioapic_remote_irr(io, 10));
    CHECK(read_entry(io, 10) & IRR);
    CHECK_EQ(rec.irr_clear_in_deliver, 0);
    CHECK_EQ(rec.stats_behind, 0);
    /* No redelivery without an EOI. */
    CHECK_EQ(lapis_ioapic_set_level(io, 10, true), 0);
    CHECK_EQ(rec.ndeliver, 1);
}

static void test_level_coalescing(void)
{
    struct lapis_ioapic *io = setup(0x20);

    program(io, 2, LEVEL | VEC);
    lapis_ioapic_assert(io, 2);
    CHECK_EQ(rec.ndeliver, 1);
    /* A new raise while Remote IRR is set is coalesced... */
    lapis_ioapic_deassert(io, 2);
    lapis_ioapic_assert(io, 2);
    lapis_ioapic_deassert(io, 2);
    lapis_ioapic_assert(io, 2);
    CHECK_EQ(rec.ndeliver, 1);
    /* ...and delivered after the EOI because the line is still high. */
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    CHECK_EQ(rec.ndeliver, 2);
    CHECK_EQ(io->stats.redeliveries, 1);
}

static void test_redelivery_while_high(void)
{
    struct lapis_ioapic *io = setup(0x11);

    program(io, 3, LEVEL | VEC);
    lapis_ioapic_assert(io, 3);
    for (unsigned i = 1; i <= 5; i++) {
        CHECK_EQ(rec.ndeliver, i);
        CHECK(lapis_ioapic_remote_irr(io, 3));
        lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    }
    CHECK_EQ(rec.ndeliver, 6);
    CHECK_EQ(io->stats.redeliveries, 5);
    CHECK_EQ(io->stats.eoi_broadcast, 5);
    CHECK_EQ(io->stats.eoi_cleared_irr, 5);
    CHECK_EQ(io->pins[3].successive_eois, 5);
    CHECK(lapis_ioapic_remote_irr(io, 3));
}

static void test_line_lowered_before_eoi(void)
{
    struct lapis_ioapic *io = setup(0x11);

    program(io, 3, LEVEL | VEC);
    lapis_ioapic_assert(io, 3);
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST); /* one redelivery */
    CHECK_EQ(io->pins[3].successive_eois, 1);
    lapis_ioapic_deassert(io, 3);
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    CHECK(!lapis_ioapic_remote_irr(io, 3));
    CHECK_EQ(rec.ndeliver, 2);
    CHECK_EQ(io->stats.redeliveries, 1);
    CHECK_EQ(io->stats.eoi_cleared_irr, 2);
    CHECK_EQ(io->pins[3].successive_eois, 0);
    /* The next raise delivers at once. */
    lapis_ioapic_assert(io, 3);
    CHECK_EQ(rec.ndeliver, 3);
}

static void test_masked_level_eoi_no_redelivery(void)
{
    struct lapis_ioapic *io = setup(0x20);

    program(io, 8, LEVEL | VEC);
    lapis_ioapic_assert(io, 8);
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 8, (uint32_t)(MASKED | LEVEL | VEC));
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    CHECK(!lapis_ioapic_remote_irr(io, 8));
    CHECK_EQ(rec.ndeliver, 1);
    /* Unmasking with the line still high delivers. */
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 8, (uint32_t)(LEVEL | VEC));
    CHECK_EQ(rec.ndeliver, 2);
    CHECK(lapis_ioapic_remote_irr(io, 8));
}

static void test_shared_line(void)
{
    struct lapis_ioapic *io = setup(0x11);

    program(io, 11, LEVEL | VEC);
    CHECK_EQ(lapis_ioapic_assert(io, 11), 0);
    CHECK_EQ(lapis_ioapic_assert(io, 11), 0);
    CHECK_EQ(rec.ndeliver, 1);
    CHECK_EQ(io->pins[11].assert_count, 2);
    CHECK_EQ(lapis_ioapic_deassert(io, 11), 0);
    CHECK(lapis_ioapic_line_high(io, 11));
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    CHECK_EQ(rec.ndeliver, 2); /* the second source still asserts */
    CHECK_EQ(lapis_ioapic_deassert(io, 11), 0);
    CHECK(!lapis_ioapic_line_high(io, 11));
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    CHECK_EQ(rec.ndeliver, 2);
    /* Deassert at zero is an error and changes nothing. */
    CHECK_EQ(lapis_ioapic_deassert(io, 11), -EINVAL);
    CHECK_EQ(io->pins[11].assert_count, 0);
    CHECK_EQ(lapis_ioapic_assert(io, 11), 0);
    CHECK_EQ(rec.ndeliver, 3);
}

static void test_set_level_and_bad_pins(void)
{
    struct lapis_ioapic *io = setup(0x11);

    lapis_ioapic_assert(io, 0);
    lapis_ioapic_assert(io, 0);
    lapis_ioapic_assert(io, 0);
    CHECK_EQ(lapis_ioapic_set_level(io, 0, false), 0);
    CHECK(!lapis_ioapic_line_high(io, 0));
    CHECK_EQ(lapis_ioapic_deassert(io, 0), -EINVAL);
    CHECK_EQ(lapis_ioapic_set_level(io, 0, true), 0);
    CHECK_EQ(lapis_ioapic_set_level(io, 0, true), 0);
    CHECK_EQ(io->pins[0].assert_count, 1);
    CHECK_EQ(lapis_ioapic_deassert(io, 0), 0);
    CHECK(!lapis_ioapic_line_high(io, 0));

    static const unsigned bad[] = {24, 25, 239, 240, 0xFFFFFFFF};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(lapis_ioapic_assert(io, bad[i]), -EINVAL);
        CHECK_EQ(lapis_ioapic_deassert(io, bad[i]), -EINVAL);
        CHECK_EQ(lapis_ioapic_pulse(io, bad[i]), -EINVAL);
        CHECK_EQ(lapis_ioapic_set_level(io, bad[i], true), -EINVAL);
        CHECK(!lapis_ioapic_line_high(io, bad[i]));
        CHECK(!lapis_ioapic_remote_irr(io, bad[i]));
        CHECK_EQ(lapis_ioapic_entry(io, bad[i]), 0);
    }
    CHECK_EQ(io->pins[24].assert_count, 0);

    /* The count saturates instead of wrapping to "low". */
    io->pins[1].assert_count = UINT32_MAX;
    CHECK_EQ(lapis_ioapic_assert(io, 1), -EOVERFLOW);
    CHECK_EQ(io->pins[1].assert_count, UINT32_MAX);
}

static void test_fake_eoi_edge_switch(void)
{
    struct lapis_ioapic *io = setup(0x11);

    program(io, 12, LEVEL | VEC);
    lapis_ioapic_assert(io, 12);
    CHECK(lapis_ioapic_remote_irr(io, 12));
    /* Xen/Linux: mask, switch to edge (clears Remote IRR), back to level, unmask. */
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 12, (uint32_t)(MASKED | LEVEL | VEC));
    CHECK(lapis_ioapic_remote_irr(io, 12));
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 12, (uint32_t)(MASKED | VEC));
    CHECK(!lapis_ioapic_remote_irr(io, 12));
    CHECK_EQ(io->stats.fake_eoi, 1);
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 12, (uint32_t)(MASKED | LEVEL | VEC));
    CHECK_EQ(rec.ndeliver, 1);
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 12, (uint32_t)(LEVEL | VEC));
    CHECK_EQ(rec.ndeliver, 2); /* line still high: delivered again */
    CHECK(lapis_ioapic_remote_irr(io, 12));

    /* Unmasked switch to edge and back, line still high. */
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 12, (uint32_t)VEC);
    CHECK_EQ(io->stats.fake_eoi, 2);
    CHECK_EQ(rec.ndeliver, 2); /* no edge: the line did not rise */
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 12, (uint32_t)(LEVEL | VEC));
    CHECK_EQ(rec.ndeliver, 3);

    /* Switching an entry without Remote IRR is not a fake EOI. */
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 13, (uint32_t)(LEVEL | MASKED | VEC));
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 13, (uint32_t)(MASKED | VEC));
    CHECK_EQ(io->stats.fake_eoi, 2);
    CHECK_EQ(io->stats.eoi_cleared_irr, 0);
}

static void test_eoi_matching(void)
{
    struct lapis_ioapic *io = setup(0x20);

    program(io, 1, LEVEL | VEC);
    program(io, 2, LEVEL | VEC);
    program(io, 3, LEVEL | (VEC + 1));
    program(io, 4, VEC); /* edge, same vector */
    lapis_ioapic_assert(io, 1);
    lapis_ioapic_assert(io, 2);
    lapis_ioapic_assert(io, 3);
    lapis_ioapic_assert(io, 4);
    CHECK_EQ(rec.ndeliver, 4);

    /* Matches nothing: only the source counter moves. */
    lapis_ioapic_eoi(io, 0x99, LAPIS_EOI_FROM_BROADCAST);
    CHECK_EQ(io->stats.eoi_broadcast, 1);
    CHECK_EQ(io->stats.eoi_cleared_irr, 0);
    CHECK_EQ(rec.ndeliver, 4);

    /* One EOI clears every level entry with the vector; counted once. */
    lapis_ioapic_deassert(io, 1);
    lapis_ioapic_deassert(io, 2);
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_EOIR);
    CHECK(!lapis_ioapic_remote_irr(io, 1));
    CHECK(!lapis_ioapic_remote_irr(io, 2));
    CHECK(lapis_ioapic_remote_irr(io, 3));
    CHECK_EQ(io->stats.eoi_cleared_irr, 1);
    CHECK_EQ(io->stats.eoi_eoir, 1);

    /* A second EOI for the same vector finds nothing to clear. */
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    CHECK_EQ(io->stats.eoi_cleared_irr, 1);
    CHECK_EQ(rec.ndeliver, 4);
    CHECK_EQ(io->stats.redeliveries, 0);
}

static void test_reserved_vectors(void)
{
    struct lapis_ioapic *io = setup(0x20);

    program(io, 1, LEVEL | 0x0F);
    lapis_ioapic_assert(io, 1);
    CHECK_EQ(rec.ndeliver, 0);
    CHECK_EQ(io->stats.bad_vector, 1);
    CHECK(!lapis_ioapic_remote_irr(io, 1));
    lapis_ioapic_eoi(io, 0x0F, LAPIS_EOI_FROM_BROADCAST);
    CHECK_EQ(io->stats.eoi_cleared_irr, 0);
    CHECK_EQ(rec.ndeliver, 0);

    program(io, 2, 0x00); /* edge, vector 0 */
    lapis_ioapic_pulse(io, 2);
    CHECK_EQ(rec.ndeliver, 0);
    CHECK_EQ(io->stats.bad_vector, 2);
    CHECK_EQ(io->stats.deliveries, 0);

    program(io, 3, 0x10); /* the first legal vector */
    lapis_ioapic_pulse(io, 3);
    CHECK_EQ(rec.ndeliver, 1);
    CHECK_EQ(rec.last.vector, 0x10);
    CHECK_EQ(io->stats.bad_vector, 2);
}

/* ---- the storm throttle --------------------------------------------------- */

static void test_storm_throttle_timer(void)
{
    struct lapis_ioapic *io = setup(0x11);

    program(io, 4, LEVEL | VEC);
    lapis_ioapic_assert(io, 4);
    for (unsigned i = 1; i < LAPIS_IOAPIC_STORM_EOI_COUNT; i++)
        lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    CHECK_EQ(rec.ndeliver, LAPIS_IOAPIC_STORM_EOI_COUNT);
    CHECK_EQ(rec.narm, 0);
    CHECK_EQ(io->stats.throttled, 0);

    /* The 10000th back-to-back EOI with the line high is throttled. */
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    CHECK_EQ(rec.ndeliver, LAPIS_IOAPIC_STORM_EOI_COUNT);
    CHECK_EQ(rec.narm, 1);
    CHECK_EQ(rec.last_delay, 10000000);
    CHECK_EQ(io->stats.throttled, 1);
    CHECK(io->pins[4].throttled);
    CHECK_EQ(io->pins[4].successive_eois, 0);
    CHECK(!lapis_ioapic_remote_irr(io, 4));

    /* Nothing else brings it back before the timer. */
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    lapis_ioapic_assert(io, 4);
    CHECK_EQ(rec.ndeliver, LAPIS_IOAPIC_STORM_EOI_COUNT);

    uint64_t redeliveries = io->stats.redeliveries;
    lapis_ioapic_timer_expired(io);
    CHECK_EQ(rec.ndeliver, LAPIS_IOAPIC_STORM_EOI_COUNT + 1);
    CHECK_EQ(io->stats.redeliveries, redeliveries + 1);
    CHECK(!io->pins[4].throttled);
    CHECK(lapis_ioapic_remote_irr(io, 4));
    /* A second expiry has nothing to do. */
    lapis_ioapic_timer_expired(io);
    CHECK_EQ(rec.ndeliver, LAPIS_IOAPIC_STORM_EOI_COUNT + 1);
}

static void test_storm_count_resets_when_low(void)
{
    struct lapis_ioapic *io = setup(0x20);

    program(io, 4, LEVEL | VEC);
    lapis_ioapic_assert(io, 4);
    for (unsigned i = 1; i < LAPIS_IOAPIC_STORM_EOI_COUNT; i++)
        lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_EOIR);
    CHECK_EQ(io->pins[4].successive_eois, LAPIS_IOAPIC_STORM_EOI_COUNT - 1);
    /* The guest quietened the device once: the storm is over. */
    lapis_ioapic_deassert(io, 4);
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_EOIR);
    CHECK_EQ(io->pins[4].successive_eois, 0);
    lapis_ioapic_assert(io, 4);
    for (unsigned i = 1; i < LAPIS_IOAPIC_STORM_EOI_COUNT; i++)
        lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_EOIR);
    CHECK_EQ(io->stats.throttled, 0);
    CHECK_EQ(rec.narm, 0);
    CHECK_EQ(rec.ndeliver, 2 * LAPIS_IOAPIC_STORM_EOI_COUNT);
}

static void test_storm_throttle_no_timer(void)
{
    struct lapis_ioapic *io = setup_ops(0x11, 24, &no_timer_ops);

    program(io, 4, LEVEL | VEC);
    lapis_ioapic_assert(io, 4);
    for (unsigned i = 0; i < LAPIS_IOAPIC_STORM_EOI_COUNT; i++)
        lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    /* Counted, but delivered at once. */
    CHECK_EQ(io->stats.throttled, 1);
    CHECK_EQ(rec.ndeliver, LAPIS_IOAPIC_STORM_EOI_COUNT + 1);
    CHECK_EQ(io->stats.redeliveries, LAPIS_IOAPIC_STORM_EOI_COUNT);
    CHECK(lapis_ioapic_remote_irr(io, 4));
    CHECK(!io->pins[4].throttled);
}

static void test_timer_expired_not_deliverable(void)
{
    struct lapis_ioapic *io = setup(0x11);

    program(io, 4, LEVEL | VEC);
    program(io, 5, LEVEL | (VEC + 1));
    lapis_ioapic_assert(io, 4);
    lapis_ioapic_assert(io, 5);
    io->pins[4].successive_eois = LAPIS_IOAPIC_STORM_EOI_COUNT - 1;
    io->pins[5].successive_eois = LAPIS_IOAPIC_STORM_EOI_COUNT - 1;
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    lapis_ioapic_eoi(io, VEC + 1, LAPIS_EOI_FROM_BROADCAST);
    CHECK(io->pins[4].throttled && io->pins[5].throttled);
    CHECK_EQ(rec.narm, 2);
    /* Pin 4 went quiet, pin 5 was masked meanwhile: neither is sent. */
    lapis_ioapic_deassert(io, 4);
    wreg(io, LAPIS_IOAPIC_REG_REDIR + 2 * 5, (uint32_t)(MASKED | LEVEL | (VEC + 1)));
    unsigned before = rec.ndeliver;
    lapis_ioapic_timer_expired(io);
    CHECK_EQ(rec.ndeliver, before);
    CHECK(!io->pins[4].throttled && !io->pins[5].throttled);
}

/* ---- re-entrancy ---------------------------------------------------------- */

static void test_recursion_sync_eoi(void)
{
    struct lapis_ioapic *io = setup(0x20);

    rec.action = ACT_EOI;
    program(io, 7, LEVEL | VEC);
    CHECK_EQ(lapis_ioapic_assert(io, 7), 0); /* must return */
    CHECK_EQ(rec.ndeliver, LAPIS_IOAPIC_STORM_EOI_COUNT);
    CHECK_EQ(io->stats.throttled, 1);
    CHECK_EQ(rec.narm, 1);
    CHECK_EQ(rec.max_depth, 1); /* iterative, not recursive */
    CHECK(!rec.runaway);
    CHECK_EQ(rec.irr_clear_in_deliver, 0);
    CHECK_EQ(rec.stats_behind, 0);
    CHECK(io->pins[7].throttled);
    CHECK(!io->busy);
    CHECK_EQ(io->npending, 0);

    /* The timer gives the guest another bounded burst. */
    lapis_ioapic_timer_expired(io);
    CHECK_EQ(rec.ndeliver, 2 * LAPIS_IOAPIC_STORM_EOI_COUNT);
    CHECK_EQ(io->stats.throttled, 2);
    CHECK_EQ(rec.narm, 2);
    CHECK_EQ(rec.max_depth, 1);
}

static void test_recursion_no_timer(void)
{
    struct lapis_ioapic *io = setup_ops(0x11, 24, &no_timer_ops);

    rec.action = ACT_EOI;
    program(io, 7, LEVEL | VEC);
    CHECK_EQ(lapis_ioapic_assert(io, 7), 0); /* must return, even with no timer */
    CHECK(!rec.runaway);
    CHECK_EQ(rec.ndeliver, LAPIS_IOAPIC_STORM_EOI_COUNT);
    CHECK_EQ(io->stats.throttled, 1);
    CHECK(io->pins[7].throttled);
    CHECK_EQ(rec.max_depth, 1);
    /* The embedder's own kick (timer_expired) continues the storm, bounded. */
    lapis_ioapic_timer_expired(io);
    CHECK_EQ(rec.ndeliver, 2 * LAPIS_IOAPIC_STORM_EOI_COUNT);
    CHECK_EQ(io->stats.throttled, 2);
}

static void test_recursion_handler_quietens(void)
{
    struct lapis_ioapic *io = setup(0x11);

    rec.action = ACT_DEASSERT_EOI;
    program(io, 7, LEVEL | VEC);
    lapis_ioapic_assert(io, 7);
    CHECK_EQ(rec.ndeliver, 1);
    CHECK(!lapis_ioapic_remote_irr(io, 7));
    CHECK(!lapis_ioapic_line_high(io, 7));
    CHECK_EQ(io->stats.eoi_cleared_irr, 1);
    lapis_ioapic_assert(io, 7);
    CHECK_EQ(rec.ndeliver, 2);
}

static void test_recursion_assert_other_pin(void)
{
    struct lapis_ioapic *io = setup(0x11);

    rec.action = ACT_ASSERT_OTHER;
    rec.other_pin = 2;
    program(io, 1, 0x51);
    program(io, 2, 0x52);
    rec.nevents = 0;
    lapis_ioapic_pulse(io, 1);
    CHECK_EQ(rec.ndeliver, 2);
    CHECK_EQ(rec.per_pin[1], 1);
    CHECK_EQ(rec.per_pin[2], 1);
    CHECK_EQ(rec.last.vector, 0x52);
    CHECK_EQ(rec.max_depth, 1); /* pin 2 went out after pin 1's callback returned */
    CHECK_EQ(rec.events[0], EV_DELIVER << 16 | 1);
    CHECK_EQ(rec.events[1], EV_DELIVER << 16 | 2);
}

static void test_recursion_masked_edge_stays_lost(void)
{
    struct lapis_ioapic *io = setup(0x11);

    /* An edge that arrives masked is lost even if unmasked before the flush. */
    rec.action = ACT_MASKED_EDGE;
    rec.other_pin = 2;
    program(io, 1, 0x51);
    program(io, 2, MASKED | 0x52);
    lapis_ioapic_pulse(io, 1);
    CHECK_EQ(rec.ndeliver, 1);
    CHECK_EQ(rec.per_pin[2], 0);
    CHECK_EQ(lapis_ioapic_entry(io, 2), 0x52);
}

/* ---- reset, decode, saved state ----------------------------------------- */

static void test_reset_keeps_levels(void)
{
    struct lapis_ioapic *io = setup(0x20);

    wreg(io, LAPIS_IOAPIC_REG_ID, 0x03000000);
    program(io, 9, LEVEL | VEC);
    lapis_ioapic_assert(io, 9);
    lapis_ioapic_assert(io, 9);
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOREGSEL, 4, 0x21);
    unsigned changed = rec.nchanged;
    uint64_t deliveries = io->stats.deliveries;

    lapis_ioapic_reset(io);
    CHECK_EQ(rec.nchanged, changed + 24);
    CHECK_EQ(lapis_ioapic_mmio_read(io, LAPIS_IOAPIC_IOREGSEL, 4), 0);
    CHECK_EQ(rreg(io, LAPIS_IOAPIC_REG_ID), 0);
    for (unsigned pin = 0; pin < 24; pin++)
        CHECK_EQ(lapis_ioapic_entry(io, pin), MASKED);
    CHECK_EQ(io->pins[9].assert_count, 2);
    CHECK_EQ(io->stats.deliveries, deliveries); /* stats survive */
    CHECK_EQ(rec.ndeliver, 1);
    /* The guest reprograms and the still-high line is delivered. */
    program(io, 9, LEVEL | VEC);
    CHECK_EQ(rec.ndeliver, 2);
}

static void test_entry_msi_decode(void)
{
    struct lapis_ioapic *io = setup(0x11);
    struct lapis_msi msg;

    program(io, 14,
            DEST(0xAB) | MASKED | LEVEL | LAPIS_IOREDIR_DESTMODE | (uint64_t)LAPIS_DM_NMI << 8 |
                0x55);
    lapis_ioapic_entry_msi(io, 14, &msg);
    CHECK_EQ(msg.dest, 0xAB);
    CHECK(msg.dest_logical);
    CHECK_EQ(msg.vector, 0x55);
    CHECK_EQ(msg.delivery_mode, LAPIS_DM_NMI);
    CHECK(msg.level_triggered);
    CHECK(!msg.redir_hint);
    CHECK_EQ(rec.ndeliver, 0);
    CHECK_EQ(io->stats.deliveries, 0);

    program(io, 15, DEST(1) | (uint64_t)LAPIS_DM_EXTINT << 8 | 0x20);
    lapis_ioapic_entry_msi(io, 15, &msg);
    CHECK(!msg.level_triggered);
    CHECK(!msg.dest_logical);
    CHECK_EQ(msg.delivery_mode, LAPIS_DM_EXTINT);
    CHECK_EQ(msg.dest, 1);

    memset(&msg, 0xAA, sizeof(msg));
    lapis_ioapic_entry_msi(io, 24, &msg);
    CHECK_EQ(msg.vector, 0);
    CHECK_EQ(msg.dest, 0);
}

/* A device with some of everything in it. */
static void busy_device(struct lapis_ioapic *io)
{
    wreg(io, LAPIS_IOAPIC_REG_ID, 0x0C000000);
    program(io, 0, DEST(2) | 0x40);             /* edge */
    program(io, 1, DEST(1) | LEVEL | VEC);      /* level, Remote IRR set */
    program(io, 2, MASKED | LEVEL | (VEC + 2)); /* masked level, high */
    program(io, 3, LEVEL | (VEC + 3));          /* level, low */
    lapis_ioapic_assert(io, 1);
    lapis_ioapic_assert(io, 1);
    lapis_ioapic_assert(io, 2);
    lapis_ioapic_eoi(io, VEC, LAPIS_EOI_FROM_BROADCAST);
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOREGSEL, 4, 0x13);
}

static void test_save_load_roundtrip(void)
{
    struct lapis_ioapic *io = setup(0x20);

    busy_device(io);
    lapis_ioapic_save(io, &st);
    CHECK_EQ(st.magic, LAPIS_IOAPIC_STATE_MAGIC);
    CHECK_EQ(st.state_version, LAPIS_IOAPIC_STATE_VERSION);

    CHECK_EQ(lapis_ioapic_init(&dev2, 0x20, 24, &full_ops, &rec), 0);
    unsigned calls = rec.ndeliver + rec.nchanged + rec.narm;
    CHECK_EQ(lapis_ioapic_load(&dev2, &st), 0);
    CHECK_EQ(rec.ndeliver + rec.nchanged + rec.narm, calls); /* no callbacks */
    lapis_ioapic_save(&dev2, &st2);
    CHECK(memcmp(&st, &st2, sizeof(st)) == 0);
    CHECK_EQ(lapis_ioapic_mmio_read(&dev2, LAPIS_IOAPIC_IOREGSEL, 4), 0x13);
    CHECK_EQ(rreg(&dev2, LAPIS_IOAPIC_REG_ID), 0x0C000000);
    CHECK_EQ(read_entry(&dev2, 1), lapis_ioapic_entry(io, 1));
    CHECK(lapis_ioapic_remote_irr(&dev2, 1));
    CHECK_EQ(dev2.pins[1].assert_count, 2);
    CHECK_EQ(dev2.pins[1].successive_eois, 1);

    /* The loaded device behaves like the original: EOI redelivers pin 1. */
    rec.io = &dev2;
    unsigned before = rec.ndeliver;
    lapis_ioapic_eoi(&dev2, VEC, LAPIS_EOI_FROM_EOIR);
    CHECK_EQ(rec.ndeliver, before + 1);
    CHECK_EQ(rec.last_pin, 1);
}

static void test_load_rejects_corrupt(void)
{
    struct lapis_ioapic *io = setup(0x20);
    struct lapis_ioapic_state good, cur, after;

    busy_device(io);
    lapis_ioapic_save(io, &good);
    CHECK_EQ(lapis_ioapic_init(&dev2, 0x20, 24, &full_ops, &rec), 0);
    program(&dev2, 5, LEVEL | 0x77);
    lapis_ioapic_save(&dev2, &cur);

    for (unsigned c = 0; c < 13; c++) {
        st = good;
        switch (c) {
        case 0:
            st.magic ^= 1;
            break;
        case 1:
            st.state_version = 2;
            break;
        case 2:
            st.state_version = 0;
            break;
        case 3:
            st.version = 0x12;
            break;
        case 4:
            st.version = 0x11;
            break; /* valid, but not this device's */
        case 5:
            st.npins = 0;
            break;
        case 6:
            st.npins = 241;
            break;
        case 7:
            st.npins = 23;
            break; /* valid, but not this device's */
        case 8:
            st.id = 0x10;
            break;
        case 9:
            st.pins[4].redir = IRR | VEC;
            break; /* Remote IRR on an edge entry */
        case 10:
            st.pins[4].redir = LAPIS_IOREDIR_DELIVS | LEVEL | VEC;
            break;
        case 11:
            st.pins[4].successive_eois = LAPIS_IOAPIC_STORM_EOI_COUNT;
            break;
        case 12:
            st.pins[4].throttled = 2;
            break;
        }
        CHECK_EQ(lapis_ioapic_load(&dev2, &st), -EINVAL);
        lapis_ioapic_save(&dev2, &after);
        if (memcmp(&cur, &after, sizeof(cur)) != 0)
            printf("  corruption %u changed the device\n", c);
        CHECK(memcmp(&cur, &after, sizeof(cur)) == 0);
    }
    CHECK_EQ(lapis_ioapic_load(&dev2, &good), 0);
}

static void test_resync(void)
{
    struct lapis_ioapic *io = setup(0x20);

    busy_device(io);
    program(io, 6, LEVEL | (VEC + 6)); /* level, high, no Remote IRR yet */
    lapis_ioapic_save(io, &st);
    st.pins[6].assert_count = 1;
    st.pins[6].throttled = 1;

    CHECK_EQ(lapis_ioapic_init(&dev2, 0x20, 24, &full_ops, &rec), 0);
    rec.io = &dev2;
    CHECK_EQ(lapis_ioapic_load(&dev2, &st), 0);
    unsigned before = rec.ndeliver, changed = rec.nchanged;
    lapis_ioapic_resync(&dev2);
    CHECK_EQ(rec.nchanged, changed + 24);
    /* Only pin 6: pin 1 waits for its EOI, pin 2 is masked, pin 3 is low, pin 0 edge. */
    CHECK_EQ(rec.ndeliver, before + 1);
    CHECK_EQ(rec.last_pin, 6);
    CHECK(lapis_ioapic_remote_irr(&dev2, 6));
    CHECK(!dev2.pins[6].throttled);
    lapis_ioapic_resync(&dev2);
    CHECK_EQ(rec.ndeliver, before + 1);
}

static void test_large_pin_count(void)
{
    struct lapis_ioapic *io = setup_ops(0x20, 240, &full_ops);

    /* IOREGSEL is 8 bits: entry 119 (0xFE/0xFF) is the last one the guest reaches. */
    wreg(io, 0xFF, 0x01000000);
    wreg(io, 0xFE, LEVEL | VEC);
    CHECK_EQ(lapis_ioapic_entry(io, 119), DEST(1) | LEVEL | VEC);
    CHECK_EQ(lapis_ioapic_assert(io, 119), 0);
    CHECK_EQ(rec.ndeliver, 1);
    CHECK_EQ(lapis_ioapic_assert(io, 239), 0); /* masked, nothing sent */
    CHECK_EQ(rec.ndeliver, 1);
    CHECK_EQ(lapis_ioapic_assert(io, 240), -EINVAL);
    CHECK_EQ(io->stats.bad_selector, 0);
}

int main(void)
{
    RUN_TEST(test_init_validation);
    RUN_TEST(test_version_register);
    RUN_TEST(test_ioregsel);
    RUN_TEST(test_id_and_arb);
    RUN_TEST(test_redir_rw_and_ro_bits);
    RUN_TEST(test_entry_changed_callback);
    RUN_TEST(test_bad_access);
    RUN_TEST(test_bad_selector);
    RUN_TEST(test_random_accesses);
    RUN_TEST(test_eoir_v11_ignored);
    RUN_TEST(test_eoir_v20);
    RUN_TEST(test_edge_delivery);
    RUN_TEST(test_masked_edge_lost);
    RUN_TEST(test_level_delivery_sets_remote_irr);
    RUN_TEST(test_level_coalescing);
    RUN_TEST(test_redelivery_while_high);
    RUN_TEST(test_line_lowered_before_eoi);
    RUN_TEST(test_masked_level_eoi_no_redelivery);
    RUN_TEST(test_shared_line);
    RUN_TEST(test_set_level_and_bad_pins);
    RUN_TEST(test_fake_eoi_edge_switch);
    RUN_TEST(test_eoi_matching);
    RUN_TEST(test_reserved_vectors);
    RUN_TEST(test_storm_throttle_timer);
    RUN_TEST(test_storm_count_resets_when_low);
    RUN_TEST(test_storm_throttle_no_timer);
    RUN_TEST(test_timer_expired_not_deliverable);
    RUN_TEST(test_recursion_sync_eoi);
    RUN_TEST(test_recursion_no_timer);
    RUN_TEST(test_recursion_handler_quietens);
    RUN_TEST(test_recursion_assert_other_pin);
    RUN_TEST(test_recursion_masked_edge_stays_lost);
    RUN_TEST(test_reset_keeps_levels);
    RUN_TEST(test_entry_msi_decode);
    RUN_TEST(test_save_load_roundtrip);
    RUN_TEST(test_load_rejects_corrupt);
    RUN_TEST(test_resync);
    RUN_TEST(test_large_pin_count);
    return harness_finish("test_ioapic");
}
