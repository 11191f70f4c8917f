/* SPDX-License-Identifier: MIT */
/*
 * Port and MMIO dispatch from exits to devices. A bus is a short table of
 * [base, base + len) ranges; each range may bring a mutex that serialises its
 * device across vCPU threads. Accesses nobody claims read all ones, are
 * dropped when written, and are counted.
 *
 * The port bus cuts an access as QEMU does (devices/portio.h): pieces from
 * the first byte on, each sized by the rules of the range it starts in (which
 * may refuse it: read 0, counted), the gaps between ranges read all ones. The
 * MMIO bus hands an access whole to the one range that holds all of it.
 */
#ifndef LAPIS_IOBUS_H
#define LAPIS_IOBUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/portio.h"

#define LAPIS_IOBUS_MAX_RANGES 32 /* board, legacy PC devices (legacy.h), snapshot port */

/* @addr is the port or physical address, @offset the same relative to the range's base. */
typedef uint64_t (*lapis_io_read_fn)(void *opaque, uint64_t addr, uint64_t offset, unsigned size);
typedef void (*lapis_io_write_fn)(void *opaque, uint64_t addr, uint64_t offset, unsigned size,
                                  uint64_t value);

struct lapis_iobus_range {
    const char *name;
    uint64_t base, len;
    lapis_io_read_fn read;
    lapis_io_write_fn write;
    void *opaque;
    pthread_mutex_t *lock; /* NULL: the device locks itself */
    /* The port bus: the sizes the device takes (QEMU's .valid/.impl); NULL: QEMU's defaults. */
    const struct lapis_portio_rules *rules;
};

struct lapis_iobus {
    const char *name; /* "port" or "mmio", for messages */
    bool ports;       /* cut accesses as QEMU's I/O address space does */
    unsigned n;
    struct lapis_iobus_range ranges[LAPIS_IOBUS_MAX_RANGES];
    struct lapis_portio_region regions[LAPIS_IOBUS_MAX_RANGES]; /* the same, for portio.h */
    uint64_t unknown_reads;  /* atomically incremented: accesses (port bus: pieces) unclaimed */
    uint64_t unknown_writes; /* atomically incremented */
    uint64_t refused;        /* atomically incremented: pieces a range's rules refused */
};

/* @ports: a port bus (QEMU's cutting, devices/portio.h), else an MMIO bus. */
void lapis_iobus_init(struct lapis_iobus *bus, const char *name, bool ports);

/* Adds a range. -EEXIST if it overlaps another, -ENOSPC when full, -EINVAL if empty/wrapping. */
int lapis_iobus_add(struct lapis_iobus *bus, const struct lapis_iobus_range *range);

/*
 * One access of @size (1, 2, 4 or 8) bytes at @addr. A read fills *value
 * (all ones if unclaimed). Returns true if a device claimed it (port bus:
 * any piece of it). On the MMIO bus an access that straddles a range's end
 * is not claimed. Another size is counted as unclaimed, and reads all ones.
 */
bool lapis_iobus_access(struct lapis_iobus *bus, uint64_t addr, unsigned size, bool is_write,
                        uint64_t *value);

#endif
