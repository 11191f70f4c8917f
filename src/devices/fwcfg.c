/* SPDX-License-Identifier: MIT */
/* QEMU fw_cfg, traditional (port I/O) interface; item numbers as QEMU's fw_cfg.h. */
#include "fwcfg.h"

#include <errno.h>
#include <string.h>

static int find(const struct lapis_fwcfg *fw, uint16_t key)
{
    for (unsigned i = 0; i < fw->nitems; i++)
        if (fw->items[i].key == key)
            return (int)i;
    return -1;
}

int lapis_fwcfg_set(struct lapis_fwcfg *fw, uint16_t key, const void *data, size_t len)
{
    if ((!data && len) || (key & LAPIS_FWCFG_WRITE_CHANNEL))
        return -EINVAL;
    if (len > LAPIS_FWCFG_MAX_ITEM_SIZE)
        return -E2BIG;
    int i = find(fw, key);
    if (i < 0) {
        if (fw->nitems >= LAPIS_FWCFG_MAX_ITEMS)
            return -ENOSPC;
        i = (int)fw->nitems++;
    }
    struct lapis_fwcfg_item *it = &fw->items[i];
    it->key = key;
    it->len = (uint16_t)len;
    memset(it->data, 0, sizeof(it->data));
    if (len)
        memcpy(it->data, data, len);
    /* A guest part-way through this item keeps reading the new bytes, bounded by len. */
    return 0;
}

static void le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int lapis_fwcfg_init(struct lapis_fwcfg *fw, uint64_t ram_size, uint16_t nb_cpus, uint16_t max_cpus)
{
    uint8_t b[8];

    if (nb_cpus == 0 || nb_cpus > max_cpus)
        return -EINVAL;
    memset(fw, 0, sizeof(*fw));
    fw->cur = -1;
    lapis_fwcfg_set(fw, LAPIS_FWCFG_SIGNATURE, "QEMU", 4);
    le(b, 1, 4);
    lapis_fwcfg_set(fw, LAPIS_FWCFG_ID, b, 4);
    le(b, ram_size, 8);
    lapis_fwcfg_set(fw, LAPIS_FWCFG_RAM_SIZE, b, 8);
    le(b, nb_cpus, 2);
    lapis_fwcfg_set(fw, LAPIS_FWCFG_NB_CPUS, b, 2);
    le(b, max_cpus, 2);
    lapis_fwcfg_set(fw, LAPIS_FWCFG_MAX_CPUS, b, 2);
    memset(b, 0, 4); /* big-endian count 0 */
    lapis_fwcfg_set(fw, LAPIS_FWCFG_FILE_DIR, b, 4);
    return 0;
}

bool lapis_fwcfg_handles(uint16_t port)
{
    return port == LAPIS_FWCFG_PORT_SEL || port == LAPIS_FWCFG_PORT_DATA;
}

static uint8_t read_data(struct lapis_fwcfg *fw)
{
    fw->stats.data_reads++;
    if (fw->cur < 0 || fw->offset >= fw->items[fw->cur].len) {
        fw->stats.reads_past_end++;
        return 0;
    }
    return fw->items[fw->cur].data[fw->offset++];
}

int lapis_fwcfg_io(struct lapis_fwcfg *fw, uint16_t port, unsigned size, bool is_write,
                   uint32_t *value)
{
    if (!value) {
        fw->stats.bad_access++;
        return -EINVAL;
    }
    if (port == LAPIS_FWCFG_PORT_SEL && is_write && size == 2) {
        uint16_t key = (uint16_t)(*value & ~LAPIS_FWCFG_WRITE_CHANNEL);
        fw->stats.selects++;
        fw->cur = find(fw, key);
        fw->offset = 0;
        if (fw->cur < 0)
            fw->stats.unknown_selects++;
        return 0;
    }
    /* QEMU reads the selector port byte-wise as data too: one region, one data stream. */
    if (lapis_fwcfg_handles(port) && size == 1) {
        if (is_write)
            fw->stats.writes_ignored++;
        else
            *value = read_data(fw);
        return 0;
    }
    if (!is_write)
        *value = 0;
    fw->stats.bad_access++;
    return -EINVAL;
}

static bool comb_accepts(uint64_t offset, unsigned size, bool is_write)
{
    (void)offset;
    return size == 1 || (is_write && size == 2);
}

const struct lapis_portio_rules lapis_fwcfg_rules = {.accepts = comb_accepts};
