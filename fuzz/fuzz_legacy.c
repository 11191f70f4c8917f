/* SPDX-License-Identifier: MIT */
/*
 * The legacy PC port devices together, as a guest sees them on one port
 * bus: the 8259A pair (+ELCR), the 8254 PIT (+port 0x61), the CMOS RTC and
 * the i8042. The input is a program of port accesses (mostly to their
 * ports, any size), ISA line changes, a virtual clock that advances with the
 * PIT's host timer on time or late, a moving wall clock, and RTC time sets.
 * Invariants:
 *  - each port belongs to at most one device; other ports are refused;
 *  - PIC: IMR reads back as written; nothing is ever in service;
 *  - PIT: deadlines are never in the past; IRQ0 pulses (high then low) and,
 *    between reprogrammings, comes at most once per LAPIS_PIT_MIN_PERIOD_NS;
 *  - RTC: a running clock shows valid fields; a time set reads back as set;
 *  - i8042: the queue stays bounded, OBF matches it, set_irq reports the
 *    levels the model holds, every reset pulse reaches ops->reset.
 */
#include "fuzz_common.h"

#include <errno.h>

#include "devices/cmos.h"
#include "devices/i8042.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"

#define LEGACY_FUZZ_WALL_MAX (1ll << 62)

struct legacy_fuzz {
    struct lapis_pic pic;
    struct lapis_pit pit;
    struct lapis_cmos cmos;
    struct lapis_i8042 kbc;
    uint64_t now;
    int64_t wall;
    uint64_t armed; /* PIT deadline as last armed */
    bool irq0_high, pit_reprogrammed, have_irq0;
    uint64_t last_irq0;
    bool kbc_irq[2];
    uint64_t resets;
};

static uint64_t legacy_fuzz_now(void *opaque)
{
    struct legacy_fuzz *f = opaque;
    return f->now;
}

static void legacy_fuzz_pit_arm(void *opaque, uint64_t deadline)
{
    struct legacy_fuzz *f = opaque;
    FUZZ_ASSERT(deadline == LAPIS_PIT_NO_DEADLINE || deadline >= f->now);
    f->armed = deadline;
}

static void legacy_fuzz_pit_irq(void *opaque, bool level)
{
    struct legacy_fuzz *f = opaque;
    FUZZ_ASSERT(level != f->irq0_high); /* a pulse: high, then low */
    f->irq0_high = level;
    if (!level)
        return;
    unsigned mode = f->pit.ch[0].mode > 5 ? f->pit.ch[0].mode - 4u : f->pit.ch[0].mode;
    if (f->have_irq0 && !f->pit_reprogrammed && (mode == 2 || mode == 3))
        FUZZ_ASSERT(f->now - f->last_irq0 >= LAPIS_PIT_MIN_PERIOD_NS);
    f->have_irq0 = true;
    f->last_irq0 = f->now;
    f->pit_reprogrammed = false;
}

static int64_t legacy_fuzz_wall(void *opaque)
{
    struct legacy_fuzz *f = opaque;
    return f->wall;
}

static void legacy_fuzz_kbc_irq(void *opaque, unsigned irq, bool level)
{
    struct legacy_fuzz *f = opaque;
    FUZZ_ASSERT(irq == LAPIS_I8042_KBD_IRQ || irq == LAPIS_I8042_AUX_IRQ);
    unsigned i = irq == LAPIS_I8042_AUX_IRQ;
    FUZZ_ASSERT(f->kbc_irq[i] != level);
    f->kbc_irq[i] = level;
}

static void legacy_fuzz_kbc_reset(void *opaque)
{
    struct legacy_fuzz *f = opaque;
    f->resets++;
}

static const struct lapis_pit_ops legacy_fuzz_pit_ops = {
    .now_ns = legacy_fuzz_now,
    .timer_arm = legacy_fuzz_pit_arm,
    .set_irq = legacy_fuzz_pit_irq,
};
static const struct lapis_cmos_ops legacy_fuzz_cmos_ops = {.wall_ns = legacy_fuzz_wall};
static const struct lapis_i8042_ops legacy_fuzz_kbc_ops = {
    .set_irq = legacy_fuzz_kbc_irq,
    .reset = legacy_fuzz_kbc_reset,
};

static const uint16_t legacy_fuzz_ports[16] = {
    LAPIS_PIC_MASTER_CMD,
    LAPIS_PIC_MASTER_DATA,
    LAPIS_PIC_SLAVE_CMD,
    LAPIS_PIC_SLAVE_DATA,
    LAPIS_PIC_ELCR_MASTER,
    LAPIS_PIC_ELCR_SLAVE,
    0x40,
    0x41,
    0x42,
    LAPIS_PIT_PORT_CTRL,
    LAPIS_PIT_PORT_B,
    LAPIS_CMOS_INDEX,
    LAPIS_CMOS_DATA,
    LAPIS_I8042_DATA,
    LAPIS_I8042_COMMAND,
    LAPIS_PIT_PORT_CTRL,
};

/* One access on the bus: the device that claims the port, or refused by all. */
static void legacy_fuzz_io(struct legacy_fuzz *f, uint16_t port, unsigned size, bool is_write,
                           uint32_t value)
{
    int owners = lapis_pic_handles(port) + lapis_pit_handles(port) + lapis_cmos_handles(port) +
                 lapis_i8042_handles(port);
    bool good_size = size == 1 || size == 2 || size == 4;
    uint32_t v = value;
    int rc;

    FUZZ_ASSERT(owners <= 1);
    if (lapis_pic_handles(port)) {
        unsigned chip = port == LAPIS_PIC_SLAVE_CMD || port == LAPIS_PIC_SLAVE_DATA;
        bool data = port == LAPIS_PIC_MASTER_DATA || port == LAPIS_PIC_SLAVE_DATA;
        bool ready = f->pic.chip[chip].icw_step == 0, poll = f->pic.chip[chip].poll;
        rc = lapis_pic_io(&f->pic, port, size, is_write, &v);
        if (rc == 0 && is_write && data && ready)
            FUZZ_ASSERT(f->pic.chip[chip].imr == (uint8_t)value);
        if (rc == 0 && !is_write && data && !poll)
            FUZZ_ASSERT(v == f->pic.chip[chip].imr);
    } else if (lapis_pit_handles(port)) {
        if (is_write && (port == 0x40 || port == LAPIS_PIT_PORT_CTRL))
            f->pit_reprogrammed = true;
        rc = lapis_pit_io(&f->pit, port, size, is_write, &v);
    } else if (lapis_cmos_handles(port)) {
        rc = lapis_cmos_io(&f->cmos, port, size, is_write, &v);
    } else if (lapis_i8042_handles(port)) {
        uint64_t resets = f->kbc.stats.resets;
        rc = lapis_i8042_io(&f->kbc, port, size, is_write, &v);
        FUZZ_ASSERT(f->kbc.stats.resets - resets <= 1);
    } else {
        /* Nobody's port: every device refuses it. */
        FUZZ_ASSERT(lapis_pic_io(&f->pic, port, size, is_write, &v) == -EINVAL);
        FUZZ_ASSERT(lapis_pit_io(&f->pit, port, size, is_write, &v) == -EINVAL);
        FUZZ_ASSERT(lapis_cmos_io(&f->cmos, port, size, is_write, &v) == -EINVAL);
        FUZZ_ASSERT(lapis_i8042_io(&f->kbc, port, size, is_write, &v) == -EINVAL);
        return;
    }
    FUZZ_ASSERT(rc == (good_size ? 0 : -EINVAL));
    if (!is_write && rc == 0)
        FUZZ_ASSERT(v <= 0xFF);
}

static uint8_t legacy_fuzz_rtc_read(struct legacy_fuzz *f, uint8_t reg)
{
    uint32_t v = reg;
    FUZZ_ASSERT(lapis_cmos_io(&f->cmos, LAPIS_CMOS_INDEX, 1, true, &v) == 0);
    FUZZ_ASSERT(lapis_cmos_io(&f->cmos, LAPIS_CMOS_DATA, 1, false, &v) == 0);
    return (uint8_t)v;
}

static void legacy_fuzz_rtc_write(struct legacy_fuzz *f, uint8_t reg, uint8_t val)
{
    uint32_t v = reg;
    FUZZ_ASSERT(lapis_cmos_io(&f->cmos, LAPIS_CMOS_INDEX, 1, true, &v) == 0);
    v = val;
    FUZZ_ASSERT(lapis_cmos_io(&f->cmos, LAPIS_CMOS_DATA, 1, true, &v) == 0);
}

static int legacy_fuzz_dec(uint8_t b, uint8_t v)
{
    return (b & LAPIS_RTC_B_BINARY) ? v : (v >> 4) * 10 + (v & 0xF);
}

static uint8_t legacy_fuzz_enc(uint8_t b, int v)
{
    return (b & LAPIS_RTC_B_BINARY) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

/* The time fields a running clock shows are in range. */
static void legacy_fuzz_rtc_check(struct legacy_fuzz *f)
{
    uint8_t b = legacy_fuzz_rtc_read(f, LAPIS_RTC_REG_B);
    if (b & LAPIS_RTC_B_SET)
        return;
    int sec = legacy_fuzz_dec(b, legacy_fuzz_rtc_read(f, LAPIS_RTC_SECONDS));
    int min = legacy_fuzz_dec(b, legacy_fuzz_rtc_read(f, LAPIS_RTC_MINUTES));
    uint8_t hr = legacy_fuzz_rtc_read(f, LAPIS_RTC_HOURS);
    int day = legacy_fuzz_dec(b, legacy_fuzz_rtc_read(f, LAPIS_RTC_DAY));
    int mon = legacy_fuzz_dec(b, legacy_fuzz_rtc_read(f, LAPIS_RTC_MONTH));
    int wday = legacy_fuzz_dec(b, legacy_fuzz_rtc_read(f, LAPIS_RTC_WEEKDAY));
    int year = legacy_fuzz_dec(b, legacy_fuzz_rtc_read(f, LAPIS_RTC_YEAR));
    int cent = legacy_fuzz_dec(b, legacy_fuzz_rtc_read(f, LAPIS_RTC_CENTURY));
    FUZZ_ASSERT(sec >= 0 && sec < 60 && min >= 0 && min < 60);
    if (b & LAPIS_RTC_B_24H) {
        FUZZ_ASSERT(legacy_fuzz_dec(b, hr) < 24);
    } else {
        int h = legacy_fuzz_dec(b, hr & 0x7F);
        FUZZ_ASSERT(h >= 1 && h <= 12);
    }
    FUZZ_ASSERT(day >= 1 && day <= 31 && mon >= 1 && mon <= 12 && wday >= 1 && wday <= 7);
    FUZZ_ASSERT(year >= 0 && year <= 99 && cent >= 0 && cent <= 99);
}

/* The guest sets the clock (SET, fields, SET off); it must read back as set. */
static void legacy_fuzz_rtc_set(struct legacy_fuzz *f, struct fuzz_in *in)
{
    uint8_t fmt = fin_u8(in) & (LAPIS_RTC_B_BINARY | LAPIS_RTC_B_24H);
    int cent = fin_u8(in) % 100, year = fin_u8(in) % 100, mon = 1 + fin_u8(in) % 12;
    int day = 1 + fin_u8(in) % 28, hour = fin_u8(in) % 24, min = fin_u8(in) % 60;
    int sec = fin_u8(in) % 60;
    uint8_t b = fmt | LAPIS_RTC_B_SET;
    uint8_t hr =
        (fmt & LAPIS_RTC_B_24H)
            ? legacy_fuzz_enc(b, hour)
            : (uint8_t)(legacy_fuzz_enc(b, hour % 12 ? hour % 12 : 12) | (hour >= 12 ? 0x80 : 0));

    legacy_fuzz_rtc_write(f, LAPIS_RTC_REG_B, b);
    legacy_fuzz_rtc_write(f, LAPIS_RTC_CENTURY, legacy_fuzz_enc(b, cent));
    legacy_fuzz_rtc_write(f, LAPIS_RTC_YEAR, legacy_fuzz_enc(b, year));
    legacy_fuzz_rtc_write(f, LAPIS_RTC_MONTH, legacy_fuzz_enc(b, mon));
    legacy_fuzz_rtc_write(f, LAPIS_RTC_DAY, legacy_fuzz_enc(b, day));
    legacy_fuzz_rtc_write(f, LAPIS_RTC_HOURS, hr);
    legacy_fuzz_rtc_write(f, LAPIS_RTC_MINUTES, legacy_fuzz_enc(b, min));
    legacy_fuzz_rtc_write(f, LAPIS_RTC_SECONDS, legacy_fuzz_enc(b, sec));
    legacy_fuzz_rtc_write(f, LAPIS_RTC_REG_B, fmt);
    /* The wall clock has not moved: the registers show exactly what was set. */
    FUZZ_ASSERT(legacy_fuzz_rtc_read(f, LAPIS_RTC_SECONDS) == legacy_fuzz_enc(b, sec));
    FUZZ_ASSERT(legacy_fuzz_rtc_read(f, LAPIS_RTC_MINUTES) == legacy_fuzz_enc(b, min));
    FUZZ_ASSERT(legacy_fuzz_rtc_read(f, LAPIS_RTC_HOURS) == hr);
    FUZZ_ASSERT(legacy_fuzz_rtc_read(f, LAPIS_RTC_DAY) == legacy_fuzz_enc(b, day));
    FUZZ_ASSERT(legacy_fuzz_rtc_read(f, LAPIS_RTC_MONTH) == legacy_fuzz_enc(b, mon));
    FUZZ_ASSERT(legacy_fuzz_rtc_read(f, LAPIS_RTC_YEAR) == legacy_fuzz_enc(b, year));
    FUZZ_ASSERT(legacy_fuzz_rtc_read(f, LAPIS_RTC_CENTURY) == legacy_fuzz_enc(b, cent));
}

static void legacy_fuzz_check(struct legacy_fuzz *f)
{
    for (unsigned i = 0; i < 2; i++) {
        FUZZ_ASSERT(f->pic.chip[i].icw_step <= 3);
        FUZZ_ASSERT(f->pic.chip[i].isr == 0); /* this PIC never delivers */
        FUZZ_ASSERT(f->kbc.irq_level[i] == f->kbc_irq[i]);
    }
    FUZZ_ASSERT(f->kbc.qlen <= LAPIS_I8042_QUEUE && f->kbc.qhead < LAPIS_I8042_QUEUE);
    FUZZ_ASSERT(f->kbc.stats.resets == f->resets);
    FUZZ_ASSERT(!f->irq0_high);
    FUZZ_ASSERT(f->pit.deadline == f->armed);
    FUZZ_ASSERT(f->cmos.index < LAPIS_CMOS_SIZE);
    for (unsigned c = 0; c < 3; c++)
        FUZZ_ASSERT(f->pit.ch[c].mode <= 7 && f->pit.ch[c].rw <= 3);
}

FUZZ_TARGET(legacy)
{
    static struct legacy_fuzz f;
    struct fuzz_in in = {data, size};

    memset(&f, 0, sizeof(f));
    f.now = 1000;
    f.armed = LAPIS_PIT_NO_DEADLINE;
    f.wall = (int64_t)fin_u64(&in) % LEGACY_FUZZ_WALL_MAX;
    lapis_pic_init(&f.pic);
    lapis_pit_init(&f.pit, &legacy_fuzz_pit_ops, &f);
    lapis_cmos_init(&f.cmos, &legacy_fuzz_cmos_ops, &f);
    lapis_i8042_init(&f.kbc, &legacy_fuzz_kbc_ops, &f);
    legacy_fuzz_check(&f);

    while (!fin_empty(&in)) {
        uint8_t op = fin_u8(&in);
        switch (op & 7) {
        case 0:
        case 1:
        case 2: { /* a port access */
            uint16_t port = (op & 0x80) ? fin_u16(&in) : legacy_fuzz_ports[fin_u8(&in) & 15];
            unsigned sz = (op & 0x40) ? fin_size(&in) : 1;
            legacy_fuzz_io(&f, port, sz, op & 8, (op & 0x10) ? fin_u32(&in) : fin_u8(&in));
            break;
        }
        case 3: { /* an ISA line */
            unsigned irq = fin_u8(&in);
            int rc = lapis_pic_set_irq(&f.pic, (op & 0x80) ? irq : irq & 15, op & 8);
            FUZZ_ASSERT(rc == (((op & 0x80) ? irq : irq & 15) < 16 ? 0 : -EINVAL));
            break;
        }
        case 4: { /* time passes; the PIT's host timer fires on time unless bit 3 */
            uint64_t d = (uint64_t)fin_u32(&in) << ((op >> 4) & 3) * 8;
            f.now = f.now + d < (1ull << 62) ? f.now + d : f.now;
            f.wall = f.wall + (int64_t)(d & 0xFFFFFFFF) < LEGACY_FUZZ_WALL_MAX
                         ? f.wall + (int64_t)(d & 0xFFFFFFFF)
                         : f.wall;
            if (!(op & 8) && f.armed != LAPIS_PIT_NO_DEADLINE && f.armed <= f.now) {
                f.armed = LAPIS_PIT_NO_DEADLINE; /* spent */
                lapis_pit_timer_expired(&f.pit);
            }
            break;
        }
        case 5:
            if (op & 8) {
                f.armed = LAPIS_PIT_NO_DEADLINE; /* any expiry spends the timer */
                lapis_pit_timer_expired(&f.pit); /* spurious or early */
            } else {
                for (unsigned c = 0; c < 4; c++) {
                    lapis_pit_count(&f.pit, c);
                    lapis_pit_out(&f.pit, c);
                }
            }
            break;
        case 6:
            legacy_fuzz_rtc_set(&f, &in);
            break;
        case 7:
            legacy_fuzz_rtc_check(&f);
            lapis_cmos_time(&f.cmos);
            break;
        }
        legacy_fuzz_check(&f);
    }
    return 0;
}
