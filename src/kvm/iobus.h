/* SPDX-License-Identifier: MIT */
/*
 * Port and MMIO dispatch from exits to devices. A bus is a short table of
 * [base, base + len) ranges; each range may bring a mutex that serialises its
 * device across vCPU threads. Accesses nobody claims read all ones, are
 * dropped when written, and are counted.
 */
#ifndef LAPIS_IOBUS_H
#define LAPIS_IOBUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

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
};

struct lapis_iobus {
    const char *name; /* "pio" or "mmio", for messages */
    unsigned n;
    struct lapis_iobus_range ranges[LAPIS_IOBUS_MAX_RANGES];
    uint64_t unknown_reads;  /* atomically incremented */
    uint64_t unknown_writes; /* atomically incremented */
};

void lapis_iobus_init(struct lapis_iobus *bus, const char *name);

/* Adds a range. -EEXIST if it overlaps another, -ENOSPC when full, -EINVAL if empty/wrapping. */
int lapis_iobus_add(struct lapis_iobus *bus, const struct lapis_iobus_range *range);

/*
 * One access of @size (1, 2, 4 or 8) bytes at @addr. A read fills *value
 * (all ones if unclaimed). Returns true if a device claimed it. An access
 * that straddles a range's end is not claimed.
 */
bool lapis_iobus_access(struct lapis_iobus *bus, uint64_t addr, unsigned size, bool is_write,
                        uint64_t *value);

#endif
