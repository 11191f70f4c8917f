/* SPDX-License-Identifier: MIT */
/* QEMU's isa-debug-exit, pc-testdev IRQ ports, PM1a power-off and a sync port. */
#include "testdev.h"

#include <errno.h>
#include <stddef.h>

void lapis_testdev_init(struct lapis_testdev *dev, const struct lapis_testdev_ops *ops,
                        void *opaque)
{
    dev->ops = ops;
    dev->opaque = opaque;
    dev->stats = (struct lapis_testdev_stats){0};
}

const struct lapis_portio_rules lapis_testdev_debug_exit_rules = {.valid_min = 1, .valid_max = 4};
const struct lapis_portio_rules lapis_testdev_irq_rules = {.valid_min = 1, .valid_max = 1};

static bool debug_exit_port(uint16_t port)
{
    return port >= LAPIS_TESTDEV_DEBUG_EXIT_PORT &&
           port < LAPIS_TESTDEV_DEBUG_EXIT_PORT + LAPIS_TESTDEV_DEBUG_EXIT_SIZE;
}

bool lapis_testdev_handles(uint16_t port)
{
    return debug_exit_port(port) || port == LAPIS_TESTDEV_PM1A_CNT_PORT ||
           port == LAPIS_TESTDEV_SYNC_PORT ||
           (port >= LAPIS_TESTDEV_IRQ_PORT_BASE &&
            port < LAPIS_TESTDEV_IRQ_PORT_BASE + LAPIS_TESTDEV_IRQ_LINES);
}

static void do_exit(struct lapis_testdev *dev, int status)
{
    if (dev->ops && dev->ops->exit)
        dev->ops->exit(dev->opaque, status);
}

static void write_irq(struct lapis_testdev *dev, uint16_t port, unsigned size, uint32_t value)
{
    for (unsigned i = 0; i < size; i++) {
        unsigned line = (unsigned)port - LAPIS_TESTDEV_IRQ_PORT_BASE + i;
        bool level = ((value >> (8 * i)) & 0xFFu) != 0;

        if (line >= LAPIS_TESTDEV_IRQ_LINES) {
            dev->stats.bad_access++;
            continue;
        }
        dev->stats.irq_writes++;
        if (dev->ops && dev->ops->set_irq)
            dev->ops->set_irq(dev->opaque, line, level);
    }
}

int lapis_testdev_io(struct lapis_testdev *dev, uint16_t port, unsigned size, bool is_write,
                     uint32_t *value)
{
    if (!value || (size != 1 && size != 2 && size != 4) || !lapis_testdev_handles(port)) {
        if (value && !is_write)
            *value = 0;
        dev->stats.bad_access++;
        return -EINVAL;
    }
    if (port == LAPIS_TESTDEV_SYNC_PORT) {
        dev->stats.syncs++;
        if (!is_write)
            *value = 0;
        return 0;
    }
    if (!is_write) {
        dev->stats.reads++;
        *value = 0;
        return 0;
    }

    uint32_t v = *value;
    if (size < 4)
        v &= (1u << (8 * size)) - 1;

    if (debug_exit_port(port)) {
        /* (v << 1) | 1 in 64 bits, kept within int; only the low 8 bits reach the host. */
        uint64_t status = ((uint64_t)v << 1) | 1;
        dev->stats.debug_exits++;
        do_exit(dev, (int)(status & 0x7FFFFFFFu));
    } else if (port == LAPIS_TESTDEV_PM1A_CNT_PORT) {
        /* QEMU treats any SLP_EN write as a sleep request; lapis has only S5. */
        if (size >= 2 && (v & LAPIS_PM1_CNT_SLP_EN)) {
            dev->stats.poweroffs++;
            do_exit(dev, 0);
        } else {
            dev->stats.pm1_writes++;
        }
    } else {
        write_irq(dev, port, size, v);
    }
    return 0;
}
