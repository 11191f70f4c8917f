/* SPDX-License-Identifier: MIT */
/*
 * QEMU-compatible test ports, as one small port model:
 *  - isa-debug-exit at 0xf4..0xf7 (QEMU's iobase=0xf4,iosize=4): a 1-, 2- or
 *    4-byte write of v at any of them requests exit status (v << 1) | 1;
 *  - pc-testdev IRQ lines at 0x2000 + line (0..23): a byte write sets the
 *    IOAPIC line's level (0 low, non-zero high);
 *  - ACPI PM1a control at 0x604: a write with SLP_EN (bit 13) powers off,
 *    status 0, as QEMU q35 does;
 *  - 0x80: a no-op "sync" port that guests write to force an exit.
 * Reads of all of these return 0, as on QEMU. Pure C: the embedder acts on
 * the callbacks (the process exit status is truncated to 8 bits there).
 */
#ifndef LAPIS_TESTDEV_H
#define LAPIS_TESTDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "portio.h"

#define LAPIS_TESTDEV_DEBUG_EXIT_PORT 0x00f4u
#define LAPIS_TESTDEV_DEBUG_EXIT_SIZE 4u
#define LAPIS_TESTDEV_IRQ_PORT_BASE   0x2000u
#define LAPIS_TESTDEV_IRQ_LINES       24u
#define LAPIS_TESTDEV_PM1A_CNT_PORT   0x0604u
#define LAPIS_TESTDEV_SYNC_PORT       0x0080u
#define LAPIS_PM1_CNT_SLP_EN          (1u << 13)

struct lapis_testdev_ops {
    /* The guest asked to stop with @status (odd: debug-exit; 0: ACPI power-off). */
    void (*exit)(void *opaque, int status);
    /* Set IOAPIC @line (< LAPIS_TESTDEV_IRQ_LINES) to @level. */
    void (*set_irq)(void *opaque, unsigned line, bool level);
};

struct lapis_testdev_stats {
    uint64_t debug_exits; /* writes to isa-debug-exit */
    uint64_t poweroffs;   /* PM1a control writes with SLP_EN */
    uint64_t pm1_writes;  /* PM1a control writes without SLP_EN (ignored) */
    uint64_t irq_writes;  /* line level changes requested */
    uint64_t syncs;       /* accesses to the sync port */
    uint64_t reads;       /* reads (all return 0) */
    uint64_t bad_access;  /* unknown port, bad width, NULL value, line out of range */
};

struct lapis_testdev {
    const struct lapis_testdev_ops *ops;
    void *opaque;
    struct lapis_testdev_stats stats;
};

/* @ops may leave callbacks NULL; those requests are then only counted. */
void lapis_testdev_init(struct lapis_testdev *dev, const struct lapis_testdev_ops *ops,
                        void *opaque);

/* True if @port is one of the ports above (the first byte of an access). */
bool lapis_testdev_handles(uint16_t port);

/* QEMU's rules: isa-debug-exit takes 1..4 bytes; pc-testdev's IRQ ports one byte at a time. */
extern const struct lapis_portio_rules lapis_testdev_debug_exit_rules;
extern const struct lapis_portio_rules lapis_testdev_irq_rules;

/*
 * One port access of @size bytes (1, 2 or 4) at @port. Writes take *value;
 * reads store 0 in it. Returns 0, or -EINVAL (counted, nothing done; reads
 * still store 0) for an unknown port, a bad size or a NULL @value.
 * A wider write to the IRQ ports sets one line per byte, as QEMU splits it.
 */
int lapis_testdev_io(struct lapis_testdev *dev, uint16_t port, unsigned size, bool is_write,
                     uint32_t *value);

#endif
