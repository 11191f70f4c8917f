/* SPDX-License-Identifier: MIT */
/* i8042 with no devices: controller commands, device timeouts, IRQs, reset. */
#include <errno.h>
#include <string.h>

#include "../harness.h"
#include "devices/i8042.h"

struct env {
    unsigned resets;
    bool level[13];
    unsigned edges[13];
};

static void env_irq(void *o, unsigned irq, bool level)
{
    struct env *e = o;
    if (irq > 12)
        return;
    if (level && !e->level[irq])
        e->edges[irq]++;
    e->level[irq] = level;
}
static void env_reset(void *o)
{
    ((struct env *)o)->resets++;
}
static const struct lapis_i8042_ops ops = {env_irq, env_reset};

static void out8(struct lapis_i8042 *k, uint16_t port, uint8_t v)
{
    uint32_t x = v;
    CHECK_EQ(lapis_i8042_io(k, port, 1, true, &x), 0);
}
static uint8_t in8(struct lapis_i8042 *k, uint16_t port)
{
    uint32_t x = 0x1234;
    CHECK_EQ(lapis_i8042_io(k, port, 1, false, &x), 0);
    CHECK(x <= 0xFF);
    return (uint8_t)x;
}

static void test_controller_commands(void)
{
    struct lapis_i8042 k;
    struct env e = {0};
    lapis_i8042_init(&k, &ops, &e);
    uint8_t st = in8(&k, 0x64);
    CHECK_EQ(st & LAPIS_I8042_STR_OBF, 0);
    CHECK(st & LAPIS_I8042_STR_SYS);
    CHECK_EQ(st & 0x02, 0); /* input buffer always empty: writers never wait */
    out8(&k, 0x64, 0xAA);   /* self-test */
    st = in8(&k, 0x64);
    CHECK(st & LAPIS_I8042_STR_OBF);
    CHECK(st & LAPIS_I8042_STR_CMD);
    CHECK_EQ(in8(&k, 0x60), 0x55);
    CHECK_EQ(in8(&k, 0x64) & LAPIS_I8042_STR_OBF, 0);
    CHECK_EQ(in8(&k, 0x60), 0x55); /* empty: the last byte again */
    /* Command byte read/write. */
    out8(&k, 0x64, 0x60);
    out8(&k, 0x60, 0x47);
    out8(&k, 0x64, 0x20);
    CHECK_EQ(in8(&k, 0x60), 0x47);
    out8(&k, 0x64, 0xAD);
    out8(&k, 0x64, 0xA7);
    out8(&k, 0x64, 0x20);
    CHECK_EQ(in8(&k, 0x60), 0x47 | 0x30);
    out8(&k, 0x64, 0xAE);
    out8(&k, 0x64, 0xA8);
    CHECK_EQ(k.ctr, 0x47);
    /* Port tests pass; output port reads back. */
    out8(&k, 0x64, 0xAB);
    CHECK_EQ(in8(&k, 0x60), 0x00);
    out8(&k, 0x64, 0xA9);
    CHECK_EQ(in8(&k, 0x60), 0x00);
    out8(&k, 0x64, 0xD0);
    CHECK_EQ(in8(&k, 0x60), 0x03);
    /* Unknown commands are counted. */
    out8(&k, 0x64, 0xC7);
    CHECK_EQ(k.stats.unknown_cmd, 1);
    CHECK_EQ(e.resets, 0);
}

static void test_no_devices_and_irqs(void)
{
    struct lapis_i8042 k;
    struct env e = {0};
    lapis_i8042_init(&k, &ops, &e);
    /* Interrupts on: a keyboard command times out with 0xFF and IRQ 1. */
    out8(&k, 0x64, 0x60);
    out8(&k, 0x60, LAPIS_I8042_CTR_KBDINT | LAPIS_I8042_CTR_AUXINT | LAPIS_I8042_CTR_SYS);
    out8(&k, 0x60, 0xF2); /* GET ID to the keyboard */
    uint8_t st = in8(&k, 0x64);
    CHECK(st & LAPIS_I8042_STR_OBF);
    CHECK(st & LAPIS_I8042_STR_TIMEOUT);
    CHECK_EQ(st & LAPIS_I8042_STR_AUXDATA, 0);
    CHECK(e.level[1]);
    CHECK_EQ(in8(&k, 0x60), 0xFF);
    CHECK(!e.level[1]);
    CHECK_EQ(in8(&k, 0x64) & LAPIS_I8042_STR_TIMEOUT, 0);
    /* To the mouse: timeout as AUX data, IRQ 12. */
    out8(&k, 0x64, 0xD4);
    out8(&k, 0x60, 0xFF);
    st = in8(&k, 0x64);
    CHECK(st & LAPIS_I8042_STR_AUXDATA);
    CHECK(e.level[12]);
    CHECK_EQ(in8(&k, 0x60), 0xFF);
    CHECK(!e.level[12]);
    CHECK_EQ(k.stats.device_writes, 2);
    /* Loopback: two queued keyboard bytes give two edges on IRQ 1. */
    out8(&k, 0x64, 0xD2);
    out8(&k, 0x60, 0x11);
    out8(&k, 0x64, 0xD2);
    out8(&k, 0x60, 0x22);
    CHECK_EQ(e.edges[1], 2);
    CHECK_EQ(in8(&k, 0x60), 0x11);
    CHECK_EQ(e.edges[1], 3);
    CHECK_EQ(in8(&k, 0x60), 0x22);
    CHECK(!e.level[1]);
    out8(&k, 0x64, 0xD3);
    out8(&k, 0x60, 0x5A);
    CHECK(in8(&k, 0x64) & LAPIS_I8042_STR_AUXDATA);
    CHECK_EQ(in8(&k, 0x60), 0x5A);
    /* Interrupts off: no IRQ, but OBF. */
    out8(&k, 0x64, 0x60);
    out8(&k, 0x60, 0);
    out8(&k, 0x60, 0xFF);
    CHECK(!e.level[1]);
    CHECK(in8(&k, 0x64) & LAPIS_I8042_STR_OBF);
    /* The queue is bounded. */
    for (int i = 0; i < 20; i++)
        out8(&k, 0x60, 0xED);
    CHECK(k.stats.overflows > 0);
}

static void test_reset(void)
{
    struct lapis_i8042 k;
    struct env e = {0};
    lapis_i8042_init(&k, &ops, &e);
    out8(&k, 0x64, 0xFF); /* pulse nothing */
    CHECK_EQ(e.resets, 0);
    out8(&k, 0x64, 0xFE); /* Linux's BOOT_KBD and our FADT reset register */
    CHECK_EQ(e.resets, 1);
    out8(&k, 0x64, 0xD1); /* write output port with reset low */
    out8(&k, 0x60, 0x02);
    CHECK_EQ(e.resets, 2);
    out8(&k, 0x64, 0xD1);
    out8(&k, 0x60, 0x03);
    CHECK_EQ(e.resets, 2);
    CHECK_EQ(k.stats.resets, 2);
    /* No callbacks: counted only. */
    struct lapis_i8042 q;
    lapis_i8042_init(&q, NULL, NULL);
    out8(&q, 0x64, 0xFE);
    out8(&q, 0x60, 0xF2);
    CHECK_EQ(q.stats.resets, 1);
    uint32_t v;
    CHECK_EQ(lapis_i8042_io(&q, 0x61, 1, false, &v), -EINVAL);
    CHECK_EQ(v, 0xFF);
    CHECK_EQ(lapis_i8042_io(&q, 0x60, 8, false, &v), -EINVAL);
    CHECK_EQ(lapis_i8042_io(&q, 0x60, 1, false, NULL), -EINVAL);
    CHECK_EQ(q.stats.bad_access, 3);
}

int main(void)
{
    RUN_TEST(test_controller_commands);
    RUN_TEST(test_no_devices_and_irqs);
    RUN_TEST(test_reset);
    return harness_finish("i8042");
}
