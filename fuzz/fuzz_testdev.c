/* SPDX-License-Identifier: MIT */
/*
 * The test ports (isa-debug-exit, pc-testdev IRQ lines, PM1a, sync): a
 * sequence of port accesses at any port, size and value. Invariants: reads
 * always store 0; rejected accesses are counted; callbacks only see lines
 * below 24 and exit statuses that are 0 or odd; a write to a port outside the
 * device never reaches a callback.
 */
#include "fuzz_common.h"

#include <errno.h>

#include "devices/testdev.h"

struct testdev_fuzz {
    unsigned exits, irqs;
    int last_status;
};

static void testdev_fuzz_exit(void *opaque, int status)
{
    struct testdev_fuzz *f = opaque;
    FUZZ_ASSERT(status == 0 || (status & 1));
    FUZZ_ASSERT(status >= 0);
    f->exits++;
    f->last_status = status;
}

static void testdev_fuzz_set_irq(void *opaque, unsigned line, bool level)
{
    struct testdev_fuzz *f = opaque;
    (void)level;
    FUZZ_ASSERT(line < LAPIS_TESTDEV_IRQ_LINES);
    f->irqs++;
}

static const struct lapis_testdev_ops testdev_fuzz_ops = {
    .exit = testdev_fuzz_exit,
    .set_irq = testdev_fuzz_set_irq,
};

FUZZ_TARGET(testdev)
{
    struct fuzz_in in = {data, size};
    struct testdev_fuzz f = {0};
    struct lapis_testdev dev;
    static const uint16_t ports[8] = {
        LAPIS_TESTDEV_DEBUG_EXIT_PORT,
        LAPIS_TESTDEV_PM1A_CNT_PORT,
        LAPIS_TESTDEV_SYNC_PORT,
        LAPIS_TESTDEV_IRQ_PORT_BASE,
        LAPIS_TESTDEV_IRQ_PORT_BASE + 22,
        0x2017,
        0x2018,
        0xf5,
    };

    /* The first byte picks a device with or without callbacks. */
    bool with_ops = !(fin_u8(&in) & 1);
    lapis_testdev_init(&dev, with_ops ? &testdev_fuzz_ops : NULL, &f);
    while (!fin_empty(&in)) {
        uint8_t op = fin_u8(&in);
        uint16_t port = (op & 8) ? fin_u16(&in) : ports[op >> 5];
        unsigned sz = fin_size(&in);
        bool is_write = op & 1;
        bool null_value = (op & 0x16) == 0x16;
        uint32_t value = fin_u32(&in);
        struct lapis_testdev_stats before = dev.stats;
        unsigned exits = f.exits, irqs = f.irqs;

        int rc = lapis_testdev_io(&dev, port, sz, is_write, null_value ? NULL : &value);
        FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
        if (!is_write && !null_value)
            FUZZ_ASSERT(value == 0);
        if (rc) {
            FUZZ_ASSERT(dev.stats.bad_access == before.bad_access + 1);
            FUZZ_ASSERT(f.exits == exits && f.irqs == irqs);
        }
        if (!lapis_testdev_handles(port))
            FUZZ_ASSERT(rc == -EINVAL);
        if (!with_ops)
            FUZZ_ASSERT(f.exits == 0 && f.irqs == 0);
        FUZZ_ASSERT(f.irqs - irqs <= 4);
        FUZZ_ASSERT(f.exits - exits <= 1);
    }
    return 0;
}
