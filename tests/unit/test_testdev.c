/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "devices/testdev.h"
#include "../harness.h"

struct recorder {
    int exits;
    int last_status;
    int irq_calls;
    unsigned last_line;
    bool levels[LAPIS_TESTDEV_IRQ_LINES];
};

static void rec_exit(void *opaque, int status)
{
    struct recorder *r = opaque;
    r->exits++;
    r->last_status = status;
}

static void rec_set_irq(void *opaque, unsigned line, bool level)
{
    struct recorder *r = opaque;
    r->irq_calls++;
    r->last_line = line;
    if (line < LAPIS_TESTDEV_IRQ_LINES)
        r->levels[line] = level;
}

static const struct lapis_testdev_ops rec_ops = {.exit = rec_exit, .set_irq = rec_set_irq};

static int wr(struct lapis_testdev *d, uint16_t port, unsigned size, uint32_t v)
{
    return lapis_testdev_io(d, port, size, true, &v);
}

static void test_handles(void)
{
    CHECK(lapis_testdev_handles(0xf4));
    CHECK(lapis_testdev_handles(0x80));
    CHECK(lapis_testdev_handles(0x604));
    CHECK(lapis_testdev_handles(0x2000));
    CHECK(lapis_testdev_handles(0x2017));
    CHECK(!lapis_testdev_handles(0x2018));
    CHECK(!lapis_testdev_handles(0x1fff));
    /* isa-debug-exit with iosize=4: 0xf4..0xf7. */
    CHECK(lapis_testdev_handles(0xf5));
    CHECK(lapis_testdev_handles(0xf7));
    CHECK(!lapis_testdev_handles(0xf8));
    CHECK(!lapis_testdev_handles(0xf3));
    CHECK(!lapis_testdev_handles(0x3f8));
    CHECK(!lapis_testdev_handles(0x605));
}

static void test_debug_exit_all_widths(void)
{
    struct recorder r = {0};
    struct lapis_testdev d;

    lapis_testdev_init(&d, &rec_ops, &r);
    CHECK_EQ(wr(&d, 0xf4, 1, 0), 0);
    CHECK_EQ(r.exits, 1);
    CHECK_EQ(r.last_status, 1);
    CHECK_EQ(wr(&d, 0xf4, 1, 0x10), 0);
    CHECK_EQ(r.last_status, 0x21);
    /* Width-limited: a byte write only sees the low byte. */
    CHECK_EQ(wr(&d, 0xf4, 1, 0x1234), 0);
    CHECK_EQ(r.last_status, (0x34 << 1) | 1);
    CHECK_EQ(wr(&d, 0xf4, 2, 0x1234), 0);
    CHECK_EQ(r.last_status, (0x1234 << 1) | 1);
    CHECK_EQ(wr(&d, 0xf4, 4, 0x123456), 0);
    CHECK_EQ(r.last_status, (0x123456 << 1) | 1);
    /* Huge values stay non-negative and odd; the low 8 bits match QEMU. */
    CHECK_EQ(wr(&d, 0xf4, 4, 0xFFFFFFFFu), 0);
    CHECK(r.last_status > 0);
    CHECK_EQ(r.last_status & 0xFF, 0xFF);
    CHECK_EQ(r.exits, 6);
    CHECK_EQ(d.stats.debug_exits, 6);
    CHECK_EQ(d.stats.bad_access, 0);
}

/* QEMU's debug_exit_write ignores the offset: any of the four ports exits with the value. */
static void test_debug_exit_every_port(void)
{
    struct recorder r = {0};
    struct lapis_testdev d;
    uint32_t v = 0xAB;

    lapis_testdev_init(&d, &rec_ops, &r);
    CHECK_EQ(wr(&d, 0xf5, 1, 0x34), 0);
    CHECK_EQ(r.last_status, (0x34 << 1) | 1);
    CHECK_EQ(wr(&d, 0xf6, 2, 0x3344), 0);
    CHECK_EQ(r.last_status, (0x3344 << 1) | 1);
    CHECK_EQ(wr(&d, 0xf7, 1, 0x22), 0);
    CHECK_EQ(r.last_status, (0x22 << 1) | 1);
    CHECK_EQ(lapis_testdev_io(&d, 0xf6, 2, false, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(wr(&d, 0xf8, 1, 1), -EINVAL);
    CHECK_EQ(r.exits, 3);
}

/* What the port bus lets through to isa-debug-exit and the IRQ ports (QEMU's .valid). */
static void test_rules(void)
{
    const struct lapis_portio_rules *x = &lapis_testdev_debug_exit_rules;
    const struct lapis_portio_rules *irq = &lapis_testdev_irq_rules;

    CHECK(lapis_portio_accepts(x, 0, 1, true));
    CHECK(lapis_portio_accepts(x, 0, 2, true));
    CHECK(lapis_portio_accepts(x, 0, 4, true));
    CHECK(lapis_portio_accepts(x, 2, 2, true));
    CHECK(!lapis_portio_accepts(x, 1, 2, true)); /* unaligned */
    CHECK(!lapis_portio_accepts(x, 0, 8, true));
    CHECK_EQ(lapis_portio_piece_size(x, 0, 4), 4);
    CHECK_EQ(lapis_portio_piece_size(x, 1, 2), 1);
    CHECK_EQ(lapis_portio_piece_size(irq, 0, 4), 1); /* one line per byte */
    CHECK(!lapis_portio_accepts(irq, 0, 2, true));
}

static void test_irq_lines(void)
{
    struct recorder r = {0};
    struct lapis_testdev d;

    lapis_testdev_init(&d, &rec_ops, &r);
    CHECK_EQ(wr(&d, 0x2000 + 5, 1, 1), 0);
    CHECK_EQ(r.irq_calls, 1);
    CHECK_EQ(r.last_line, 5);
    CHECK(r.levels[5]);
    CHECK_EQ(wr(&d, 0x2000 + 5, 1, 0x80), 0);
    CHECK(r.levels[5]);
    CHECK_EQ(wr(&d, 0x2000 + 5, 1, 0), 0);
    CHECK(!r.levels[5]);
    CHECK_EQ(wr(&d, 0x2000 + 23, 1, 7), 0);
    CHECK(r.levels[23]);
    CHECK_EQ(r.last_line, 23);
    CHECK_EQ(d.stats.irq_writes, 4);
    CHECK_EQ(r.exits, 0);
}

static void test_irq_wide_write_splits(void)
{
    struct recorder r = {0};
    struct lapis_testdev d;

    lapis_testdev_init(&d, &rec_ops, &r);
    /* Bytes 0x01, 0x00, 0xff, 0x00 -> lines 10..13. */
    CHECK_EQ(wr(&d, 0x2000 + 10, 4, 0x00FF0001u), 0);
    CHECK_EQ(r.irq_calls, 4);
    CHECK(r.levels[10]);
    CHECK(!r.levels[11]);
    CHECK(r.levels[12]);
    CHECK(!r.levels[13]);
    /* Line 22, 23 are real; the next two bytes fall past line 23. */
    r.irq_calls = 0;
    CHECK_EQ(wr(&d, 0x2000 + 22, 4, 0x01010101u), 0);
    CHECK_EQ(r.irq_calls, 2);
    CHECK(r.levels[22]);
    CHECK(r.levels[23]);
    CHECK_EQ(d.stats.bad_access, 2);
}

static void test_poweroff(void)
{
    struct recorder r = {0};
    struct lapis_testdev d;

    lapis_testdev_init(&d, &rec_ops, &r);
    r.last_status = 99;
    /* Without SLP_EN nothing happens. */
    CHECK_EQ(wr(&d, 0x604, 2, 0x1C00), 0);
    CHECK_EQ(r.exits, 0);
    CHECK_EQ(d.stats.pm1_writes, 1);
    /* A byte write cannot reach bit 13. */
    CHECK_EQ(wr(&d, 0x604, 1, 0x2000), 0);
    CHECK_EQ(r.exits, 0);
    CHECK_EQ(wr(&d, 0x604, 2, 0x2000), 0);
    CHECK_EQ(r.exits, 1);
    CHECK_EQ(r.last_status, 0);
    CHECK_EQ(d.stats.poweroffs, 1);
    r.last_status = 99;
    CHECK_EQ(wr(&d, 0x604, 4, 0x3C00), 0);
    CHECK_EQ(r.exits, 2);
    CHECK_EQ(r.last_status, 0);
}

static void test_sync_and_reads(void)
{
    struct recorder r = {0};
    struct lapis_testdev d;
    uint32_t v;
    const uint16_t ports[] = {0xf4, 0x80, 0x604, 0x2000, 0x2017};

    lapis_testdev_init(&d, &rec_ops, &r);
    CHECK_EQ(wr(&d, 0x80, 1, 0xAB), 0);
    CHECK_EQ(wr(&d, 0x80, 4, 0xAB), 0);
    CHECK_EQ(d.stats.syncs, 2);
    for (unsigned i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        for (unsigned size = 1; size <= 4; size *= 2) {
            v = 0xDEADBEEF;
            CHECK_EQ(lapis_testdev_io(&d, ports[i], size, false, &v), 0);
            CHECK_EQ(v, 0);
        }
    }
    CHECK_EQ(r.exits, 0);
    CHECK_EQ(r.irq_calls, 0);
    CHECK_EQ(d.stats.bad_access, 0);
}

static void test_bad_accesses(void)
{
    struct recorder r = {0};
    struct lapis_testdev d;
    uint32_t v = 0xDEADBEEF;

    lapis_testdev_init(&d, &rec_ops, &r);
    CHECK_EQ(wr(&d, 0xf4, 3, 1), -EINVAL);
    CHECK_EQ(wr(&d, 0xf4, 0, 1), -EINVAL);
    CHECK_EQ(wr(&d, 0xf4, 8, 1), -EINVAL);
    CHECK_EQ(wr(&d, 0x2018, 1, 1), -EINVAL);
    CHECK_EQ(wr(&d, 0x3f8, 1, 1), -EINVAL);
    CHECK_EQ(lapis_testdev_io(&d, 0xf4, 1, true, NULL), -EINVAL);
    CHECK_EQ(lapis_testdev_io(&d, 0x1234, 1, false, &v), -EINVAL);
    CHECK_EQ(v, 0);
    CHECK_EQ(r.exits, 0);
    CHECK_EQ(r.irq_calls, 0);
    CHECK_EQ(d.stats.bad_access, 7);
}

static void test_null_callbacks(void)
{
    struct lapis_testdev d;
    const struct lapis_testdev_ops none = {0};

    lapis_testdev_init(&d, NULL, NULL);
    CHECK_EQ(wr(&d, 0xf4, 1, 1), 0);
    CHECK_EQ(wr(&d, 0x2001, 1, 1), 0);
    lapis_testdev_init(&d, &none, NULL);
    CHECK_EQ(wr(&d, 0x604, 2, 0x2000), 0);
    CHECK_EQ(d.stats.poweroffs, 1);
}

int main(void)
{
    RUN_TEST(test_handles);
    RUN_TEST(test_debug_exit_all_widths);
    RUN_TEST(test_debug_exit_every_port);
    RUN_TEST(test_rules);
    RUN_TEST(test_irq_lines);
    RUN_TEST(test_irq_wide_write_splits);
    RUN_TEST(test_poweroff);
    RUN_TEST(test_sync_and_reads);
    RUN_TEST(test_bad_accesses);
    RUN_TEST(test_null_callbacks);
    return harness_finish("testdev");
}
