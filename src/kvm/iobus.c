/* SPDX-License-Identifier: MIT */
/* Port and MMIO dispatch: a linear table, because a PC has a dozen devices. */
#include "iobus.h"

#include <errno.h>
#include <string.h>

void lapis_iobus_init(struct lapis_iobus *bus, const char *name, bool ports)
{
    memset(bus, 0, sizeof(*bus));
    bus->name = name;
    bus->ports = ports;
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
    bus->regions[bus->n] = (struct lapis_portio_region){range->base, range->len, range->rules};
    bus->ranges[bus->n++] = *range;
    return 0;
}

static void unclaimed(struct lapis_iobus *bus, bool is_write)
{
    __atomic_fetch_add(is_write ? &bus->unknown_writes : &bus->unknown_reads, 1, __ATOMIC_RELAXED);
}

/* One call of a range's device, under its lock. */
static uint64_t call(const struct lapis_iobus_range *r, uint64_t off, unsigned size, bool is_write,
                     uint64_t value)
{
    uint64_t got = 0;

    if (r->lock)
        pthread_mutex_lock(r->lock);
    if (is_write)
        r->write(r->opaque, r->base + off, off, size, value & lapis_portio_mask(size));
    else
        got = r->read(r->opaque, r->base + off, off, size) & lapis_portio_mask(size);
    if (r->lock)
        pthread_mutex_unlock(r->lock);
    return got;
}

/* The port bus: QEMU's pieces and steps (devices/portio.h). */
static bool port_access(struct lapis_iobus *bus, uint64_t addr, unsigned size, bool is_write,
                        uint64_t *value)
{
    struct lapis_portio_step steps[LAPIS_PORTIO_MAX_STEPS];
    unsigned n = lapis_portio_plan(bus->regions, bus->n, addr, size, is_write, steps);
    uint64_t in = is_write ? *value : 0, out = 0;
    bool claimed = false;

    if (!n) {
        unclaimed(bus, is_write);
        if (!is_write)
            *value = ~0ull;
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        const struct lapis_portio_step *s = &steps[i];
        uint64_t mask = lapis_portio_mask(s->bytes), got = 0;

        switch (s->kind) {
        case LAPIS_PORTIO_DEVICE:
            claimed = true;
            got = call(&bus->ranges[s->region], s->offset, s->size, is_write,
                       (in >> s->shift) & mask);
            break;
        case LAPIS_PORTIO_REFUSED:
            claimed = true; /* the device is there; QEMU reads 0 */
            __atomic_fetch_add(&bus->refused, 1, __ATOMIC_RELAXED);
            break;
        case LAPIS_PORTIO_NOTHING:
            unclaimed(bus, is_write);
            got = ~0ull;
            break;
        }
        out |= (got & mask) << s->shift;
    }
    if (!is_write)
        *value = out & lapis_portio_mask(size);
    return claimed;
}

bool lapis_iobus_access(struct lapis_iobus *bus, uint64_t addr, unsigned size, bool is_write,
                        uint64_t *value)
{
    if (bus->ports)
        return port_access(bus, addr, size, is_write, value);
    if (size == 1 || size == 2 || size == 4 || size == 8) {
        for (unsigned i = 0; i < bus->n; i++) {
            const struct lapis_iobus_range *r = &bus->ranges[i];
            uint64_t off = addr - r->base;

            if (addr < r->base || off >= r->len || size > r->len - off)
                continue;
            if (is_write)
                call(r, off, size, true, *value);
            else
                *value = call(r, off, size, false, 0);
            return true;
        }
    }
    unclaimed(bus, is_write);
    if (!is_write)
        *value = lapis_portio_mask(size <= 8 ? size : 8);
    return false;
}
