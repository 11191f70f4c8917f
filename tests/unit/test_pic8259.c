/* SPDX-License-Identifier: MIT */
/* 8259A pair: Linux's init sequence and probe, OCW2/OCW3, ELCR, IRR recording. */
#include <errno.h>

#include "../harness.h"
#include "devices/pic8259.h"

static void out8(struct lapis_pic *p, uint16_t port, uint8_t v)
{
    uint32_t x = v;
    CHECK_EQ(lapis_pic_io(p, port, 1, true, &x), 0);
}
static uint8_t in8(struct lapis_pic *p, uint16_t port)
{
    uint32_t x = 0x1234;
    CHECK_EQ(lapis_pic_io(p, port, 1, false, &x), 0);
    CHECK(x <= 0xFF);
    return (uint8_t)x;
}

static void test_linux_init_and_probe(void)
{
    struct lapis_pic p;
    lapis_pic_init(&p);
    CHECK_EQ(in8(&p, 0x21), 0xFF); /* masked from power-on */
    CHECK_EQ(in8(&p, 0xA1), 0xFF);
    /* probe_8259A: mask the slave, write a probe value to the master, read it back. */
    out8(&p, 0xA1, 0xFF);
    out8(&p, 0x21, 0xFB);
    CHECK_EQ(in8(&p, 0x21), 0xFB);
    /* init_8259A(0): ICW1 0x11, ICW2 vector, ICW3 cascade, ICW4 8086 mode. */
    out8(&p, 0x21, 0xFF);
    out8(&p, 0xA1, 0xFF);
    out8(&p, 0x20, 0x11);
    CHECK_EQ(in8(&p, 0x21), 0x00); /* ICW1 clears IMR */
    out8(&p, 0x21, 0x30);
    out8(&p, 0x21, 0x04);
    out8(&p, 0x21, 0x01);
    out8(&p, 0xA0, 0x11);
    out8(&p, 0xA1, 0x38);
    out8(&p, 0xA1, 0x02);
    out8(&p, 0xA1, 0x01);
    CHECK_EQ(p.stats.inits, 2);
    CHECK_EQ(p.chip[0].icw2, 0x30);
    CHECK_EQ(p.chip[1].icw2, 0x38);
    CHECK_EQ(p.chip[0].icw3, 0x04);
    CHECK_EQ(p.chip[1].icw4, 0x01);
    /* After init, data writes are the mask again. */
    out8(&p, 0x21, 0xFB);
    out8(&p, 0xA1, 0xFF);
    CHECK_EQ(in8(&p, 0x21), 0xFB);
    CHECK_EQ(in8(&p, 0xA1), 0xFF);
    CHECK_EQ(p.stats.unmasks, 1); /* the probe; after ICW1 (IMR 0) writes only mask */
    /* ICW1 without IC4 and single mode: ICW2 only. */
    out8(&p, 0x20, 0x12);
    out8(&p, 0x21, 0x08);
    CHECK_EQ(p.stats.inits, 3);
    out8(&p, 0x21, 0xAA);
    CHECK_EQ(in8(&p, 0x21), 0xAA);
}

static void test_ocw_and_lines(void)
{
    struct lapis_pic p;
    lapis_pic_init(&p);
    /* A masked edge lands in IRR, not counted as undelivered. */
    CHECK_EQ(lapis_pic_set_irq(&p, 3, true), 0);
    CHECK_EQ(p.stats.undelivered, 0);
    out8(&p, 0x20, 0x0A); /* OCW3: read IRR */
    CHECK_EQ(in8(&p, 0x20), 0x08);
    out8(&p, 0x20, 0x0B); /* OCW3: read ISR */
    CHECK_EQ(in8(&p, 0x20), 0x00);
    /* Unmasked edge on the slave: recorded and counted (never delivered). */
    out8(&p, 0xA1, 0x00);
    CHECK_EQ(lapis_pic_set_irq(&p, 12, true), 0);
    CHECK_EQ(p.stats.undelivered, 1);
    CHECK_EQ(lapis_pic_set_irq(&p, 12, true), 0); /* no new edge */
    CHECK_EQ(p.stats.undelivered, 1);
    out8(&p, 0xA0, 0x0A);
    CHECK_EQ(in8(&p, 0xA0), 0x10);
    CHECK_EQ(lapis_pic_set_irq(&p, 12, false), 0);
    CHECK_EQ(in8(&p, 0xA0), 0x10); /* edge mode: IRR stays */
    /* ELCR level mode: IRR follows the line; lines 0-2, 8, 13 cannot be level. */
    out8(&p, 0x4D0, 0xFF);
    out8(&p, 0x4D1, 0xFF);
    CHECK_EQ(in8(&p, 0x4D0), 0xF8);
    CHECK_EQ(in8(&p, 0x4D1), 0xDE);
    CHECK_EQ(lapis_pic_set_irq(&p, 9, true), 0);
    CHECK_EQ(in8(&p, 0xA0) & 0x02, 0x02);
    CHECK_EQ(lapis_pic_set_irq(&p, 9, false), 0);
    CHECK_EQ(in8(&p, 0xA0) & 0x02, 0x00);
    CHECK_EQ(lapis_pic_set_irq(&p, 16, true), -EINVAL);
    /* EOIs are accepted; poll answers "no interrupt". */
    out8(&p, 0x20, 0x20);
    out8(&p, 0x20, 0x62);
    CHECK_EQ(p.stats.eois, 2);
    out8(&p, 0x20, 0x0C);
    CHECK_EQ(in8(&p, 0x20), 0x00);
    CHECK_EQ(p.stats.polls, 1);
}

static void test_bad_access(void)
{
    struct lapis_pic p;
    lapis_pic_init(&p);
    uint32_t v = 0;
    CHECK_EQ(lapis_pic_io(&p, 0x22, 1, false, &v), -EINVAL);
    CHECK_EQ(v, 0xFF);
    CHECK_EQ(lapis_pic_io(&p, 0x20, 3, true, &v), -EINVAL);
    CHECK_EQ(lapis_pic_io(&p, 0x20, 1, true, NULL), -EINVAL);
    CHECK_EQ(p.stats.bad_access, 3);
    CHECK(lapis_pic_handles(0x4D1) && !lapis_pic_handles(0x4D2));
}

int main(void)
{
    RUN_TEST(test_linux_init_and_probe);
    RUN_TEST(test_ocw_and_lines);
    RUN_TEST(test_bad_access);
    return harness_finish("pic8259");
}
