/* SPDX-License-Identifier: MIT */
/*
 * How one port access reaches the devices, as QEMU 7.2 delivers it
 * (softmmu/physmem.c flatview_read/write_continue and memory_access_size,
 * softmmu/memory.c memory_region_access_valid and access_with_adjusted_size):
 *
 *   - the access is cut into pieces from its first byte on. A piece goes to
 *     the region holding its first byte, whole: its size is the bytes left,
 *     bounded by the region's valid maximum (4 if unset) and, unless the
 *     region takes unaligned accesses, by the alignment of its offset in the
 *     region, rounded down to a power of two. It is not cut at the region's
 *     end: a device may see an access reaching past its last port;
 *   - a piece the region does not accept (its accepts() rule, an unaligned
 *     offset, a size outside valid min..max when a max is set) reads 0 and
 *     writes nothing;
 *   - an accepted piece is handed on in accesses of the region's
 *     implementation size (the piece's size, kept within impl min..max,
 *     default 1..4), little-endian;
 *   - a piece where no region is reads all ones (QEMU's unassigned I/O) and
 *     is dropped when written; its size follows the rules of a region with
 *     no rules at the piece's port.
 *
 * Pure: the caller (src/kvm/iobus.c) finds nothing itself, takes no lock,
 * and calls the devices with the steps planned here.
 */
#ifndef LAPIS_PORTIO_H
#define LAPIS_PORTIO_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIS_PORTIO_MAX_SIZE  8u /* bytes of one access */
#define LAPIS_PORTIO_MAX_STEPS 8u /* every step moves at least one byte */

/* QEMU's MemoryRegionOps .valid and .impl; all zero: QEMU's defaults. */
struct lapis_portio_rules {
    uint8_t valid_min, valid_max; /* valid_max 0: no size check, pieces of at most 4 */
    bool valid_unaligned;         /* accept pieces at an offset not aligned to their size */
    /* NULL: every piece the sizes allow; else also this (QEMU's .valid.accepts). */
    bool (*accepts)(uint64_t offset, unsigned size, bool is_write);
    uint8_t impl_min, impl_max; /* 0: 1 and 4 */
    bool impl_unaligned;        /* pieces are not bounded by their offset's alignment */
};

/* A region of the bus: [base, base + len), non-empty, not wrapping, not overlapping another. */
struct lapis_portio_region {
    uint64_t base, len;
    const struct lapis_portio_rules *rules; /* NULL: QEMU's defaults */
};

enum lapis_portio_kind {
    LAPIS_PORTIO_DEVICE,  /* call the region's device */
    LAPIS_PORTIO_REFUSED, /* the region does not take this piece: read 0, write nothing */
    LAPIS_PORTIO_NOTHING, /* no region: read all ones, write nothing */
};

/*
 * One step: @size bytes at @offset in region @region (the port itself for
 * LAPIS_PORTIO_NOTHING, @region -1). The step covers @bytes bytes of the
 * access (fewer than @size only when impl_min widens a piece) starting
 * @shift bits into its value: a write hands the device (value >> shift)
 * masked to @bytes, a read puts the device's answer, so masked, there.
 */
struct lapis_portio_step {
    enum lapis_portio_kind kind;
    int region;
    uint64_t offset;
    unsigned size, bytes, shift;
};

/*
 * Plans an access of @size bytes (1..LAPIS_PORTIO_MAX_SIZE) at @addr over the
 * @n @regions. Fills @steps and returns how many (at least 1), or 0 for a
 * size outside 1..8, a NULL argument, or an access wrapping past the end of
 * the address space.
 */
unsigned lapis_portio_plan(const struct lapis_portio_region *regions, unsigned n, uint64_t addr,
                           unsigned size, bool is_write,
                           struct lapis_portio_step steps[LAPIS_PORTIO_MAX_STEPS]);

/* The size of the piece at @offset in a region with @rules (NULL: defaults), @len bytes left. */
unsigned lapis_portio_piece_size(const struct lapis_portio_rules *rules, uint64_t offset,
                                 unsigned len);

/* Does a region with @rules take a piece of @size bytes at @offset? */
bool lapis_portio_accepts(const struct lapis_portio_rules *rules, uint64_t offset, unsigned size,
                          bool is_write);

/* Mask of the low @bytes bytes (0..8). */
static inline uint64_t lapis_portio_mask(unsigned bytes)
{
    return bytes >= 8 ? ~0ull : (1ull << (8 * bytes)) - 1;
}

#endif
