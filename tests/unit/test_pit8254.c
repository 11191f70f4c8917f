/* SPDX-License-Identifier: MIT */
/* 8254 PIT on a fake clock: channel-0 interrupts, latches, channel 2 and port 0x61. */
#include <errno.h>
#include <string.h>

#include "../harness.h"
#include "devices/pit8254.h"

struct env {
    uint64_t now;
    uint64_t armed;
    unsigned arms;
    unsigned highs, lows;
    bool level;
};

static uint64_t env_now(void *o)
{
    return ((struct env *)o)->now;
}
static void env_arm(void *o, uint64_t d)
{
    struct env *e = o;
    e->armed = d;
    e->arms++;
}
static void env_irq(void *o, bool level)
{
    struct env *e = o;
    if (level && !e->level)
        e->highs++;
    if (!level && e->level)
        e->lows++;
    e->level = level;
}

static const struct lapis_pit_ops ops = {env_now, env_arm, env_irq};

static void out8(struct lapis_pit *p, uint16_t port, uint8_t v)
{
    uint32_t x = v;
    CHECK_EQ(lapis_pit_io(p, port, 1, true, &x), 0);
}
static uint8_t in8(struct lapis_pit *p, uint16_t port)
{
    uint32_t x = 0x1234;
    CHECK_EQ(lapis_pit_io(p, port, 1, false, &x), 0);
    CHECK(x <= 0xFF);
    return (uint8_t)x;
}

/* ns at which @ticks PIT ticks have passed since @start. */
static uint64_t at_ticks(uint64_t start, uint64_t ticks)
{
    return start + (ticks * 1000000000ull + LAPIS_PIT_FREQ_HZ - 1) / LAPIS_PIT_FREQ_HZ;
}

static void setup(struct lapis_pit *p, struct env *e)
{
    memset(e, 0, sizeof(*e));
    e->now = 1000000;
    e->armed = LAPIS_PIT_NO_DEADLINE;
    lapis_pit_init(p, &ops, e);
}

static void test_periodic_mode2(void)
{
    struct lapis_pit p;
    struct env e;
    setup(&p, &e);
    CHECK_EQ(e.arms, 0); /* nothing runs before the guest programs it */
    /* Linux's periodic set-up: channel 0, LSB/MSB, mode 2, LATCH for HZ=250. */
    uint16_t latch = 4773;
    out8(&p, 0x43, 0x34);
    out8(&p, 0x40, latch & 0xFF);
    out8(&p, 0x40, latch >> 8);
    uint64_t start = e.now;
    CHECK_EQ(e.armed, at_ticks(start, latch));

    /* On time: one pulse per period, re-armed for the next one. */
    for (unsigned k = 1; k <= 3; k++) {
        e.now = e.armed;
        lapis_pit_timer_expired(&p);
        CHECK_EQ(e.highs, k);
        CHECK_EQ(e.lows, k);
        CHECK(!e.level);
        CHECK_EQ(e.armed, at_ticks(start, (uint64_t)(k + 1) * latch));
    }
    /* Early (spurious) expiry: nothing, same deadline. */
    uint64_t d = e.armed;
    e.now = d - 1000;
    lapis_pit_timer_expired(&p);
    CHECK_EQ(e.highs, 3);
    CHECK_EQ(p.stats.spurious, 1);
    CHECK_EQ(e.armed, d);
    /* Late by 5 periods: one interrupt, four dropped, next deadline in the future. */
    e.now = at_ticks(start, 8ull * latch) + 10;
    lapis_pit_timer_expired(&p);
    CHECK_EQ(e.highs, 4);
    CHECK_EQ(p.stats.dropped, 4);
    CHECK_EQ(e.armed, at_ticks(start, 9ull * latch));
    CHECK(e.armed > e.now);
    CHECK_EQ(p.stats.irqs, 4);

    /* The count runs down from latch to 1 each period. */
    e.now = at_ticks(start, 9ull * latch + 100);
    uint16_t c = lapis_pit_count(&p, 0);
    CHECK(c <= latch - 99 && c >= latch - 101);

    /* A new mode word stops channel 0 and cancels its timer. */
    out8(&p, 0x43, 0x30);
    CHECK_EQ(e.armed, LAPIS_PIT_NO_DEADLINE);
    CHECK(!lapis_pit_out(&p, 0)); /* mode 0: OUT low until terminal count */
}

static void test_oneshot_mode0(void)
{
    struct lapis_pit p;
    struct env e;
    setup(&p, &e);
    out8(&p, 0x43, 0x30);
    out8(&p, 0x40, 0x10);
    CHECK_EQ(e.armed, LAPIS_PIT_NO_DEADLINE); /* half-written count: not running */
    out8(&p, 0x40, 0x00);                     /* 16 ticks */
    uint64_t start = e.now;
    CHECK_EQ(e.armed, at_ticks(start, 16));
    CHECK(!lapis_pit_out(&p, 0));
    e.now = e.armed;
    unsigned arms = e.arms;
    lapis_pit_timer_expired(&p);
    CHECK_EQ(e.highs, 1);
    CHECK_EQ(e.arms, arms); /* the one-shot timer is spent: nothing to re-arm */
    CHECK_EQ(p.deadline, LAPIS_PIT_NO_DEADLINE);
    CHECK(lapis_pit_out(&p, 0));
    /* No second interrupt from the same count. */
    e.now += 1000000000ull;
    lapis_pit_timer_expired(&p);
    CHECK_EQ(e.highs, 1);
    /* Count 0 means 65536 ticks (Linux's shutdown writes 0x30, 0, 0). */
    out8(&p, 0x43, 0x30);
    out8(&p, 0x40, 0);
    out8(&p, 0x40, 0);
    CHECK_EQ(e.armed, at_ticks(e.now, 65536));
}

static void test_latch_and_readback(void)
{
    struct lapis_pit p;
    struct env e;
    setup(&p, &e);
    out8(&p, 0x43, 0x34);
    out8(&p, 0x40, 0x00);
    out8(&p, 0x40, 0x10); /* 0x1000 */
    uint64_t start = e.now;
    e.now = at_ticks(start, 0x100);
    out8(&p, 0x43, 0x00); /* latch channel 0 */
    e.now = at_ticks(start, 0x800);
    uint16_t lo = in8(&p, 0x40), hi = in8(&p, 0x40);
    uint16_t v = (uint16_t)(lo | hi << 8);
    CHECK(v >= 0x1000 - 0x101 && v <= 0x1000 - 0xFF); /* the value at latch time */
    /* Unlatched: live count now. */
    lo = in8(&p, 0x40);
    hi = in8(&p, 0x40);
    v = (uint16_t)(lo | hi << 8);
    CHECK(v >= 0x1000 - 0x801 && v <= 0x1000 - 0x7FF);

    /* Read-back: status of channel 0 (OUT high, count loaded, rw 3, mode 2). */
    out8(&p, 0x43, 0xE2); /* 11 1 0 001 0: status only, channel 0 */
    CHECK_EQ(in8(&p, 0x40), 0x80 | (3 << 4) | (2 << 1));
    /* Status and count together: status first. */
    out8(&p, 0x43, 0xC2);
    CHECK_EQ(in8(&p, 0x40) & 0x3F, (3 << 4) | (2 << 1));
    lo = in8(&p, 0x40);
    hi = in8(&p, 0x40);
    CHECK_EQ((uint16_t)(lo | hi << 8), lapis_pit_count(&p, 0));
    /* Null count after a mode word, before the count. */
    out8(&p, 0x43, 0xB0);
    out8(&p, 0x43, 0xE8); /* status of channel 2 */
    CHECK_EQ(in8(&p, 0x42), 0x40 | (3 << 4) | (0 << 1));
    CHECK_EQ(p.stats.latches, 4);
    /* LSB-only and MSB-only access modes. */
    out8(&p, 0x43, 0x54); /* channel 1, LSB only, mode 2 */
    out8(&p, 0x41, 0x12);
    CHECK_EQ(p.ch[1].count, 0x12);
    out8(&p, 0x43, 0x64); /* channel 1, MSB only */
    out8(&p, 0x41, 0x12);
    CHECK_EQ(p.ch[1].count, 0x1200);
    CHECK_EQ(in8(&p, 0x41), 0x12);
}

static void test_channel2_gate_and_port61(void)
{
    struct lapis_pit p;
    struct env e;
    setup(&p, &e);
    /* Linux pit_calibrate_tsc: gate on, speaker off, mode 0 on channel 2. */
    out8(&p, 0x61, (in8(&p, 0x61) & ~0x02) | 0x01);
    CHECK_EQ(in8(&p, 0x61) & 0x03, 0x01);
    out8(&p, 0x43, 0xB0);
    out8(&p, 0x42, 0x9C);
    out8(&p, 0x42, 0x2E); /* 0x2E9C = 11932 ticks, 10 ms */
    uint64_t start = e.now;
    CHECK_EQ(in8(&p, 0x61) & LAPIS_PORTB_OUT2, 0);
    e.now = at_ticks(start, 11931);
    CHECK_EQ(in8(&p, 0x61) & LAPIS_PORTB_OUT2, 0);
    e.now = at_ticks(start, 11932);
    CHECK_EQ(in8(&p, 0x61) & LAPIS_PORTB_OUT2, LAPIS_PORTB_OUT2);
    CHECK_EQ(e.highs, 0); /* channel 2 never interrupts */
    CHECK_EQ(e.arms, 0);

    /* Gate low pauses a mode-0 count; high resumes it. */
    out8(&p, 0x43, 0xB0);
    out8(&p, 0x42, 0x00);
    out8(&p, 0x42, 0x10); /* 4096 */
    start = e.now;
    e.now = at_ticks(start, 1000);
    out8(&p, 0x61, 0x00);
    uint64_t paused_at = e.now;
    uint16_t c1 = lapis_pit_count(&p, 2);
    e.now += 50000000ull;
    CHECK_EQ(lapis_pit_count(&p, 2), c1);
    out8(&p, 0x61, 0x01);
    e.now += 1000000ull; /* ~1193 more ticks */
    uint16_t c2 = lapis_pit_count(&p, 2);
    CHECK(c1 - c2 >= 1192 && c1 - c2 <= 1194);
    (void)paused_at;

    /* quick_pit_calibrate reads the MSB twice per step: LSB/MSB alternate. */
    out8(&p, 0x43, 0xB0);
    out8(&p, 0x42, 0xFF);
    out8(&p, 0x42, 0xFF);
    start = e.now;
    e.now = at_ticks(start, 0x300);
    (void)in8(&p, 0x42);
    CHECK_EQ(in8(&p, 0x42), 0xFC);

    /* The refresh bit toggles with time. */
    e.now = 0;
    uint8_t r0 = in8(&p, 0x61) & LAPIS_PORTB_REFRESH;
    e.now = 15085;
    uint8_t r1 = in8(&p, 0x61) & LAPIS_PORTB_REFRESH;
    CHECK(r0 != r1);
}

static void test_mode3_and_modes_1_5(void)
{
    struct lapis_pit p;
    struct env e;
    setup(&p, &e);
    out8(&p, 0x43, 0x36); /* channel 0, mode 3 */
    out8(&p, 0x40, 100);
    out8(&p, 0x40, 0);
    uint64_t start = e.now;
    CHECK(lapis_pit_out(&p, 0));
    e.now = at_ticks(start, 10);
    CHECK_EQ(lapis_pit_count(&p, 0), 80); /* counts by two */
    e.now = at_ticks(start, 60);
    CHECK(!lapis_pit_out(&p, 0)); /* second half: low */
    CHECK_EQ(e.armed, at_ticks(start, 100));
    e.now = e.armed;
    lapis_pit_timer_expired(&p);
    CHECK_EQ(e.highs, 1);

    /* Mode 1 on channel 2 waits for a gate rising edge. */
    out8(&p, 0x43, 0xB2);
    out8(&p, 0x42, 50);
    out8(&p, 0x42, 0);
    e.now += 1000000;
    CHECK_EQ(lapis_pit_count(&p, 2), 50);
    CHECK(lapis_pit_out(&p, 2));
    out8(&p, 0x61, 1);
    start = e.now;
    CHECK(!lapis_pit_out(&p, 2));
    e.now = at_ticks(start, 50);
    CHECK(lapis_pit_out(&p, 2));

    /* Mode 4: OUT low for one tick at terminal count; BCD is counted. */
    out8(&p, 0x43, 0x39); /* channel 0, mode 4, BCD */
    CHECK_EQ(p.stats.bcd_ignored, 1);
    out8(&p, 0x40, 20);
    out8(&p, 0x40, 0);
    start = e.now;
    e.now = at_ticks(start, 20);
    CHECK(!lapis_pit_out(&p, 0));
    e.now = at_ticks(start, 21);
    CHECK(lapis_pit_out(&p, 0));
    /* Modes 6 and 7 alias 2 and 3. */
    out8(&p, 0x43, 0x3C);
    out8(&p, 0x40, 10);
    out8(&p, 0x40, 0);
    start = e.now;
    e.now = at_ticks(start, 3);
    CHECK_EQ(lapis_pit_count(&p, 0), 7);
}

static void test_fast_rate_is_bounded(void)
{
    struct lapis_pit p;
    struct env e;
    setup(&p, &e);
    out8(&p, 0x43, 0x34);
    out8(&p, 0x40, 2); /* 2 ticks: 1.7 us, a 600 kHz interrupt rate */
    out8(&p, 0x40, 0);
    uint64_t start = e.now;
    CHECK_EQ(e.armed, at_ticks(start, 2));
    e.now = e.armed;
    lapis_pit_timer_expired(&p);
    CHECK_EQ(e.highs, 1);
    /* The next interrupt waits for the minimum period, not 2 ticks. */
    CHECK_EQ(e.armed, e.now + LAPIS_PIT_MIN_PERIOD_NS);
    CHECK_EQ(p.stats.clamped, 1);
    uint64_t fired_at = e.now;
    e.now = e.armed;
    lapis_pit_timer_expired(&p);
    CHECK_EQ(e.highs, 2);
    CHECK(p.stats.dropped > 100); /* the ticks in between are dropped, not queued */
    CHECK_EQ(e.armed, e.now + LAPIS_PIT_MIN_PERIOD_NS);
    (void)fired_at;
    /* The count still runs at the programmed rate. */
    e.now += 1000;
    CHECK(lapis_pit_count(&p, 0) <= 2);
}

static void test_bad_access(void)
{
    struct lapis_pit p;
    struct env e;
    setup(&p, &e);
    uint32_t v = 0;
    CHECK_EQ(lapis_pit_io(&p, 0x44, 1, false, &v), -EINVAL);
    CHECK_EQ(v, 0xFFFFFFFFu);
    CHECK_EQ(lapis_pit_io(&p, 0x40, 3, true, &v), -EINVAL);
    CHECK_EQ(lapis_pit_io(&p, 0x40, 1, true, NULL), -EINVAL);
    CHECK_EQ(p.stats.bad_access, 3);
    CHECK(lapis_pit_handles(0x40) && lapis_pit_handles(0x43) && lapis_pit_handles(0x61));
    CHECK(!lapis_pit_handles(0x44) && !lapis_pit_handles(0x60));
    CHECK_EQ(in8(&p, 0x43), 0xFF);
    /* Wider accesses use the low byte. */
    v = 0xAB34;
    CHECK_EQ(lapis_pit_io(&p, 0x43, 2, true, &v), 0);
    CHECK_EQ(p.ch[0].mode, 2);
    CHECK_EQ(lapis_pit_count(&p, 7), 0);
    /* No callbacks at all: still safe. */
    struct lapis_pit q;
    lapis_pit_init(&q, NULL, NULL);
    v = 0x34;
    CHECK_EQ(lapis_pit_io(&q, 0x43, 1, true, &v), 0);
    v = 1;
    CHECK_EQ(lapis_pit_io(&q, 0x40, 1, true, &v), 0);
    CHECK_EQ(lapis_pit_io(&q, 0x40, 1, true, &v), 0);
    lapis_pit_timer_expired(&q);
}

int main(void)
{
    RUN_TEST(test_periodic_mode2);
    RUN_TEST(test_oneshot_mode0);
    RUN_TEST(test_latch_and_readback);
    RUN_TEST(test_channel2_gate_and_port61);
    RUN_TEST(test_mode3_and_modes_1_5);
    RUN_TEST(test_fast_rate_is_bounded);
    RUN_TEST(test_bad_access);
    return harness_finish("pit8254");
}
