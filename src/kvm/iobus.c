/* SPDX-License-Identifier: MIT */
/* Port and MMIO dispatch: a linear table, because a PC has a dozen devices. */
#include "iobus.h"

#include <errno.h>
#include <string.h>

void lapis_iobus_init(struct lapis_iobus *bus, const char *name)
{
    memset(bus, 0, sizeof(*bus));
    bus->name = name;
}

int lapis_iobus_add(struct lapis_iobus *bus, const struct lapis_iobus_range *range)
{
    uint64_t end = range->base + range->len;

    if (!range->len || end < range->base || !range->read || !range->write)
        return -EINVAL;
    if (bus->n >= LAPIS_IOBUS_MAX_RANGES)
        return -ENOSPC;
    for (unsigned i = 0; i < bus->n; i++) {
        const struct lapis_iobus_range *r = &bus->ranges[i];
        if (range->base < r->base + r->len && r->base < end)
            return -EEXIST;
    }
    bus->ranges[bus->n++] = *range;
    return 0;
}

static uint64_t size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

bool lapis_iobus_access(struct lapis_iobus *bus, uint64_t addr, unsigned size, bool is_write,
                        uint64_t *value)
{
    for (unsigned i = 0; i < bus->n; i++) {
        const struct lapis_iobus_range *r = &bus->ranges[i];
        uint64_t off = addr - r->base;

        if (addr < r->base || off >= r->len || size > r->len - off)
            continue;
        if (r->lock)
            pthread_mutex_lock(r->lock);
        if (is_write)
            r->write(r->opaque, addr, off, size, *value & size_mask(size));
        else
            *value = r->read(r->opaque, addr, off, size) & size_mask(size);
        if (r->lock)
            pthread_mutex_unlock(r->lock);
        return true;
    }
    if (is_write) {
        __atomic_fetch_add(&bus->unknown_writes, 1, __ATOMIC_RELAXED);
    } else {
        __atomic_fetch_add(&bus->unknown_reads, 1, __ATOMIC_RELAXED);
        *value = size_mask(size);
    }
    return false;
}
