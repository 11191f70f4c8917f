/* SPDX-License-Identifier: MIT */
/* CMOS RTC: time from a fake wall clock, BCD/binary/12h, setting the time, NVRAM. */
#include <errno.h>
#include <string.h>

#include "../harness.h"
#include "devices/cmos.h"

static int64_t fake_ns;
static int64_t wall(void *o)
{
    (void)o;
    return fake_ns;
}
static const struct lapis_cmos_ops ops = {wall};

static uint8_t rd(struct lapis_cmos *c, uint8_t idx)
{
    uint32_t v = idx;
    CHECK_EQ(lapis_cmos_io(c, 0x70, 1, true, &v), 0);
    v = 0x1234;
    CHECK_EQ(lapis_cmos_io(c, 0x71, 1, false, &v), 0);
    CHECK(v <= 0xFF);
    return (uint8_t)v;
}
static void wr(struct lapis_cmos *c, uint8_t idx, uint8_t val)
{
    uint32_t v = idx;
    CHECK_EQ(lapis_cmos_io(c, 0x70, 1, true, &v), 0);
    v = val;
    CHECK_EQ(lapis_cmos_io(c, 0x71, 1, true, &v), 0);
}

/* 2024-02-29 23:59:58 UTC, a Thursday. */
#define T0 1709251198ll

static void test_read_time_bcd(void)
{
    struct lapis_cmos c;
    fake_ns = T0 * 1000000000ll + 500000000;
    lapis_cmos_init(&c, &ops, NULL);
    CHECK_EQ(rd(&c, 0x00), 0x58);
    CHECK_EQ(rd(&c, 0x02), 0x59);
    CHECK_EQ(rd(&c, 0x04), 0x23);
    CHECK_EQ(rd(&c, 0x06), 0x05); /* Thursday: 5 with Sunday = 1 */
    CHECK_EQ(rd(&c, 0x07), 0x29);
    CHECK_EQ(rd(&c, 0x08), 0x02);
    CHECK_EQ(rd(&c, 0x09), 0x24);
    CHECK_EQ(rd(&c, 0x32), 0x20);
    CHECK_EQ(rd(&c, 0x0A) & 0x80, 0); /* UIP clear */
    CHECK_EQ(rd(&c, 0x0D), 0x80);     /* valid RAM and time */
    CHECK_EQ(rd(&c, 0x0C), 0x00);
    /* Two seconds later it is March 1st. */
    fake_ns += 2000000000ll;
    CHECK_EQ(rd(&c, 0x00), 0x00);
    CHECK_EQ(rd(&c, 0x04), 0x00);
    CHECK_EQ(rd(&c, 0x07), 0x01);
    CHECK_EQ(rd(&c, 0x08), 0x03);
    CHECK_EQ(lapis_cmos_time(&c), T0 + 2);
}

static void test_formats(void)
{
    struct lapis_cmos c;
    fake_ns = T0 * 1000000000ll;
    lapis_cmos_init(&c, &ops, NULL);
    wr(&c, 0x0B, LAPIS_RTC_B_BINARY | LAPIS_RTC_B_24H);
    CHECK_EQ(rd(&c, 0x00), 58);
    CHECK_EQ(rd(&c, 0x04), 23);
    CHECK_EQ(rd(&c, 0x09), 24);
    wr(&c, 0x0B, LAPIS_RTC_B_BINARY); /* 12-hour: 11 PM */
    CHECK_EQ(rd(&c, 0x04), 0x80 | 11);
    wr(&c, 0x0B, 0); /* 12-hour BCD */
    CHECK_EQ(rd(&c, 0x04), 0x80 | 0x11);
    fake_ns += 2000000000ll; /* midnight: 12 AM */
    CHECK_EQ(rd(&c, 0x04), 0x12);
    /* 1970 and before: the epoch reads as 1970-01-01 00:00:00 Thursday. */
    fake_ns = 0;
    wr(&c, 0x0B, LAPIS_RTC_B_24H);
    CHECK_EQ(rd(&c, 0x09), 0x70);
    CHECK_EQ(rd(&c, 0x32), 0x19);
    CHECK_EQ(rd(&c, 0x06), 0x05);
    struct lapis_cmos n;
    lapis_cmos_init(&n, NULL, NULL); /* no clock: 1970 */
    CHECK_EQ(rd(&n, 0x09), 0x70);
}

static void test_set_time(void)
{
    struct lapis_cmos c;
    fake_ns = T0 * 1000000000ll;
    lapis_cmos_init(&c, &ops, NULL);
    /* hwclock's way: SET, write the fields, clear SET. */
    wr(&c, 0x0B, LAPIS_RTC_B_SET | LAPIS_RTC_B_24H);
    wr(&c, 0x00, 0x30);
    wr(&c, 0x02, 0x15);
    wr(&c, 0x04, 0x10);
    wr(&c, 0x07, 0x04);
    wr(&c, 0x08, 0x07);
    wr(&c, 0x09, 0x99);
    wr(&c, 0x32, 0x19);
    fake_ns += 5000000000ll; /* frozen while SET */
    CHECK_EQ(rd(&c, 0x00), 0x30);
    wr(&c, 0x0B, LAPIS_RTC_B_24H);
    CHECK_EQ(c.stats.time_sets, 1);
    /* 1999-07-04 10:15:30 UTC = 931083330. */
    CHECK_EQ(lapis_cmos_time(&c), 931083330);
    fake_ns += 3000000000ll;
    CHECK_EQ(rd(&c, 0x00), 0x33);
    CHECK_EQ(rd(&c, 0x09), 0x99);
    /* A single field written while running: minutes only. */
    wr(&c, 0x02, 0x45);
    CHECK_EQ(lapis_cmos_time(&c), 931083330 + 3 + 30 * 60);
    /* Garbage fields are clamped, never undefined. */
    wr(&c, 0x0B, LAPIS_RTC_B_SET | LAPIS_RTC_B_24H);
    wr(&c, 0x08, 0xFF);
    wr(&c, 0x07, 0x00);
    wr(&c, 0x0B, LAPIS_RTC_B_24H);
    CHECK(rd(&c, 0x08) >= 0x01 && rd(&c, 0x08) <= 0x12);
}

static void test_nvram_and_ports(void)
{
    struct lapis_cmos c;
    fake_ns = T0 * 1000000000ll;
    lapis_cmos_init(&c, &ops, NULL);
    wr(&c, 0x0F, 0x0A); /* shutdown status byte */
    wr(&c, 0x7F, 0x42);
    CHECK_EQ(rd(&c, 0x0F), 0x0A);
    CHECK_EQ(rd(&c, 0x7F), 0x42);
    /* Index bit 7 masks NMI and is not part of the index. */
    uint32_t v = 0x80 | 0x7F;
    CHECK_EQ(lapis_cmos_io(&c, 0x70, 1, true, &v), 0);
    CHECK(c.nmi_disabled);
    CHECK_EQ(c.index, 0x7F);
    v = 0;
    CHECK_EQ(lapis_cmos_io(&c, 0x71, 1, false, &v), 0);
    CHECK_EQ(v, 0x42);
    v = 0x0F;
    CHECK_EQ(lapis_cmos_io(&c, 0x70, 1, true, &v), 0);
    CHECK(!c.nmi_disabled);
    /* C and D are read-only; enabling RTC interrupts is counted. */
    wr(&c, 0x0D, 0x00);
    CHECK_EQ(rd(&c, 0x0D), 0x80);
    wr(&c, 0x0B, LAPIS_RTC_B_24H | 0x10);
    CHECK_EQ(c.stats.irq_enables, 1);
    CHECK_EQ(lapis_cmos_io(&c, 0x72, 1, false, &v), -EINVAL);
    CHECK_EQ(v, 0xFF);
    CHECK_EQ(lapis_cmos_io(&c, 0x71, 0, false, &v), -EINVAL);
    CHECK_EQ(lapis_cmos_io(&c, 0x71, 1, false, NULL), -EINVAL);
    CHECK_EQ(c.stats.bad_access, 3);
}

int main(void)
{
    RUN_TEST(test_read_time_bcd);
    RUN_TEST(test_formats);
    RUN_TEST(test_set_time);
    RUN_TEST(test_nvram_and_ports);
    return harness_finish("cmos");
}
