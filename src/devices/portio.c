/* SPDX-License-Identifier: MIT */
/* QEMU's way of cutting a port access into device accesses (portio.h). */
#include "portio.h"

#include <stddef.h>

/* A rule's size if it is one QEMU could mean (1, 2, 4, 8), else @def. */
static unsigned rule_size(uint8_t v, unsigned def)
{
    return (v == 1 || v == 2 || v == 4 || v == 8) ? v : def;
}

static unsigned pow2floor(unsigned x)
{
    unsigned p = 1;

    while (p <= x / 2)
        p *= 2;
    return p;
}

unsigned lapis_portio_piece_size(const struct lapis_portio_rules *rules, uint64_t offset,
                                 unsigned len)
{
    unsigned max = rule_size(rules ? rules->valid_max : 0, 4);

    if (!len)
        return 0;
    if (!rules || !rules->impl_unaligned) {
        uint64_t align = offset & (0 - offset); /* lowest set bit, 0 for offset 0 */
        if (align && align < max)
            max = (unsigned)align;
    }
    return pow2floor(len < max ? len : max);
}

bool lapis_portio_accepts(const struct lapis_portio_rules *rules, uint64_t offset, unsigned size,
                          bool is_write)
{
    if (!size)
        return false;
    if (!rules)
        return (offset & (size - 1)) == 0;
    if (rules->accepts && !rules->accepts(offset, size, is_write))
        return false;
    if (!rules->valid_unaligned && (offset & (size - 1)))
        return false;
    if (!rule_size(rules->valid_max, 0))
        return true; /* QEMU: no maximum, no size check */
    return size <= rules->valid_max && size >= rule_size(rules->valid_min, 1);
}

static int find(const struct lapis_portio_region *regions, unsigned n, uint64_t addr)
{
    for (unsigned i = 0; i < n; i++)
        if (addr >= regions[i].base && addr - regions[i].base < regions[i].len)
            return (int)i;
    return -1;
}

unsigned lapis_portio_plan(const struct lapis_portio_region *regions, unsigned n, uint64_t addr,
                           unsigned size, bool is_write,
                           struct lapis_portio_step steps[LAPIS_PORTIO_MAX_STEPS])
{
    unsigned done = 0, k = 0;

    if ((!regions && n) || !steps || size == 0 || size > LAPIS_PORTIO_MAX_SIZE ||
        addr + (size - 1) < addr)
        return 0;
    while (done < size && k < LAPIS_PORTIO_MAX_STEPS) {
        uint64_t a = addr + done;
        int r = find(regions, n, a);
        const struct lapis_portio_rules *rules = r < 0 ? NULL : regions[r].rules;
        uint64_t off = r < 0 ? a : a - regions[r].base;
        unsigned piece = lapis_portio_piece_size(rules, off, size - done);

        if (r < 0 || !lapis_portio_accepts(rules, off, piece, is_write)) {
            steps[k++] = (struct lapis_portio_step){
                .kind = r < 0 ? LAPIS_PORTIO_NOTHING : LAPIS_PORTIO_REFUSED,
                .region = r,
                .offset = off,
                .size = piece,
                .bytes = piece,
                .shift = done * 8,
            };
            done += piece;
            continue;
        }
        /* access_with_adjusted_size: MAX(MIN(size, impl max), impl min), little-endian. */
        unsigned imin = rule_size(rules ? rules->impl_min : 0, 1);
        unsigned imax = rule_size(rules ? rules->impl_max : 0, 4);
        unsigned each = piece < imax ? piece : imax;
        if (each < imin)
            each = imin;
        for (unsigned i = 0; i < piece && k < LAPIS_PORTIO_MAX_STEPS; i += each)
            steps[k++] = (struct lapis_portio_step){
                .kind = LAPIS_PORTIO_DEVICE,
                .region = r,
                .offset = off + i,
                .size = each,
                .bytes = each < piece - i ? each : piece - i,
                .shift = (done + i) * 8,
            };
        done += piece;
    }
    return k;
}
