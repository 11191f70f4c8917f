/* SPDX-License-Identifier: MIT */
/*
 * A minimal QEMU fw_cfg, legacy I/O interface only, as QEMU 7.2's
 * fw_cfg_comb_mem_ops: the two ports are one region. A 16-bit write to the
 * selector port picks an item; a byte read of either port returns its next
 * byte (0 past the end, or for an unknown item); byte writes are ignored;
 * every other access is refused (reads 0). How wider accesses reach the ports
 * is the bus's business (portio.h: lapis_fwcfg_rules). No DMA interface
 * (FW_CFG_ID reads 1). Items are small and held in the struct itself: no
 * allocation. Pure C.
 */
#ifndef LAPIS_FWCFG_H
#define LAPIS_FWCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portio.h"

#define LAPIS_FWCFG_PORT_SEL  0x510u
#define LAPIS_FWCFG_PORT_DATA 0x511u
#define LAPIS_FWCFG_PORTS     2u /* the region: selector, then data */

/* Item keys, with QEMU's numbers. */
#define LAPIS_FWCFG_SIGNATURE 0x0000u /* "QEMU" */
#define LAPIS_FWCFG_ID        0x0001u /* u32 LE feature bits: 1 = traditional interface */
#define LAPIS_FWCFG_RAM_SIZE  0x0003u /* u64 LE */
#define LAPIS_FWCFG_NB_CPUS   0x0005u /* u16 LE */
#define LAPIS_FWCFG_MAX_CPUS  0x000Fu /* u16 LE */
#define LAPIS_FWCFG_FILE_DIR  0x0019u /* u32 BE count, then entries: we have none */
/* QEMU ignores this selector bit when looking an item up. */
#define LAPIS_FWCFG_WRITE_CHANNEL 0x4000u

#define LAPIS_FWCFG_MAX_ITEMS     16u
#define LAPIS_FWCFG_MAX_ITEM_SIZE 256u

struct lapis_fwcfg_item {
    uint16_t key;
    uint16_t len;
    uint8_t data[LAPIS_FWCFG_MAX_ITEM_SIZE];
};

struct lapis_fwcfg_stats {
    uint64_t selects;         /* selector writes */
    uint64_t unknown_selects; /* selector writes naming no item */
    uint64_t data_reads;      /* byte reads of either port */
    uint64_t reads_past_end;  /* of those, past the item's end or with no item */
    uint64_t writes_ignored;  /* byte writes to either port (QEMU ignores them too) */
    uint64_t bad_access;      /* wrong port, width or direction */
};

struct lapis_fwcfg {
    struct lapis_fwcfg_item items[LAPIS_FWCFG_MAX_ITEMS];
    unsigned nitems;
    int cur;         /* index into items, or -1 */
    uint32_t offset; /* next byte of the current item */
    struct lapis_fwcfg_stats stats;
};

/*
 * Sets up the standard items (signature, ID, RAM size, CPU counts, an empty
 * file directory). Returns 0, or -EINVAL if @nb_cpus is 0 or above @max_cpus.
 */
int lapis_fwcfg_init(struct lapis_fwcfg *fw, uint64_t ram_size, uint16_t nb_cpus,
                     uint16_t max_cpus);

/*
 * Adds (or replaces) item @key. Returns 0, -EINVAL for a NULL @data with a
 * non-zero @len or a key with the write-channel bit, -E2BIG above
 * LAPIS_FWCFG_MAX_ITEM_SIZE, -ENOSPC when all slots are taken.
 */
int lapis_fwcfg_set(struct lapis_fwcfg *fw, uint16_t key, const void *data, size_t len);

/* True for the selector and data ports. */
bool lapis_fwcfg_handles(uint16_t port);

/*
 * One port access. Acts on: 16-bit writes to the selector, byte reads of
 * either port (byte writes are ignored). Anything else is counted, and reads
 * return 0. Returns 0, or -EINVAL for those other accesses.
 */
int lapis_fwcfg_io(struct lapis_fwcfg *fw, uint16_t port, unsigned size, bool is_write,
                   uint32_t *value);

/* The region's QEMU rules: a byte either way, or a 16-bit write (fw_cfg_comb_valid). */
extern const struct lapis_portio_rules lapis_fwcfg_rules;

#endif
