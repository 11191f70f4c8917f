/* SPDX-License-Identifier: MIT */
/*
 * fw_cfg (legacy port interface): set-up with fuzzed RAM size, CPU counts
 * and extra items, then a program of port accesses at any port, size and
 * direction. The harness keeps what each item should hold and checks that
 * byte reads of either port stream the selected item byte by byte and 0 past
 * its end (or for an unknown key), that the selector wants 16-bit writes and
 * ignores the write-channel bit, and that rejected accesses are counted.
 */
#include "fuzz_common.h"

#include <errno.h>

#include "devices/fwcfg.h"

/* The item with @key (write-channel bit ignored), or NULL. */
static const struct lapis_fwcfg_item *fwcfg_fuzz_item(const struct lapis_fwcfg *fw, uint16_t key)
{
    key &= (uint16_t)~LAPIS_FWCFG_WRITE_CHANNEL;
    for (unsigned i = 0; i < fw->nitems; i++)
        if (fw->items[i].key == key)
            return &fw->items[i];
    return NULL;
}

FUZZ_TARGET(fwcfg)
{
    static struct lapis_fwcfg fw;
    struct fuzz_in in = {data, size};

    uint64_t ram = fin_u64(&in);
    uint16_t nb = fin_u8(&in), max = fin_u8(&in);
    int rc = lapis_fwcfg_init(&fw, ram, nb, max);
    FUZZ_ASSERT(rc == ((nb == 0 || nb > max) ? -EINVAL : 0));
    if (rc)
        return 0;
    FUZZ_ASSERT(fw.nitems <= LAPIS_FWCFG_MAX_ITEMS);
    const struct lapis_fwcfg_item *sig = fwcfg_fuzz_item(&fw, LAPIS_FWCFG_SIGNATURE);
    FUZZ_ASSERT(sig && sig->len == 4 && memcmp(sig->data, "QEMU", 4) == 0);
    const struct lapis_fwcfg_item *rs = fwcfg_fuzz_item(&fw, LAPIS_FWCFG_RAM_SIZE);
    FUZZ_ASSERT(rs && rs->len == 8);
    if (rs) {
        uint64_t got = 0;
        for (int i = 7; i >= 0; i--)
            got = got << 8 | rs->data[i];
        FUZZ_ASSERT(got == ram);
    }

    /* Extra items, as the embedder might add. */
    unsigned extra = fin_u8(&in) & 7;
    for (unsigned i = 0; i < extra; i++) {
        uint16_t key = fin_u16(&in);
        size_t len = fin_u16(&in) % (LAPIS_FWCFG_MAX_ITEM_SIZE + 8);
        size_t got;
        const uint8_t *bytes = fin_bytes(&in, len, &got);
        unsigned before = fw.nitems;
        bool had = fwcfg_fuzz_item(&fw, key) != NULL;
        rc = lapis_fwcfg_set(&fw, key, got ? bytes : NULL, got);
        if (key & LAPIS_FWCFG_WRITE_CHANNEL)
            FUZZ_ASSERT(rc == -EINVAL);
        else if (got > LAPIS_FWCFG_MAX_ITEM_SIZE)
            FUZZ_ASSERT(rc == -E2BIG);
        else if (!had && before == LAPIS_FWCFG_MAX_ITEMS)
            FUZZ_ASSERT(rc == -ENOSPC);
        else
            FUZZ_ASSERT(rc == 0);
        FUZZ_ASSERT(fw.nitems == before + (rc == 0 && !had));
        if (rc == 0) {
            const struct lapis_fwcfg_item *it = fwcfg_fuzz_item(&fw, key);
            FUZZ_ASSERT(it && it->len == got && (!got || memcmp(it->data, bytes, got) == 0));
        }
    }

    /* The guest. */
    const struct lapis_fwcfg_item *cur = NULL;
    uint32_t pos = 0;
    while (!fin_empty(&in)) {
        uint8_t op = fin_u8(&in);
        uint16_t port =
            (op & 0x80) ? fin_u16(&in) : ((op & 1) ? LAPIS_FWCFG_PORT_DATA : LAPIS_FWCFG_PORT_SEL);
        unsigned sz = (op & 0x40) ? fin_size(&in) : ((op & 1) ? 1 : 2);
        bool is_write = op & 2;
        uint32_t value = is_write ? ((op & 4) ? fin_u16(&in) : fin_u8(&in)) : 0xDEADBEEF;
        uint64_t bad = fw.stats.bad_access;

        bool sel = port == LAPIS_FWCFG_PORT_SEL && sz == 2 && is_write;
        /* Bytes at either port, as QEMU's combined region: data reads, ignored writes. */
        bool rd = lapis_fwcfg_handles(port) && sz == 1 && !is_write;
        bool wr = lapis_fwcfg_handles(port) && sz == 1 && is_write;
        rc = lapis_fwcfg_io(&fw, port, sz, is_write, &value);
        FUZZ_ASSERT(lapis_fwcfg_handles(port) ==
                    (port == LAPIS_FWCFG_PORT_SEL || port == LAPIS_FWCFG_PORT_DATA));
        if (!sel && !rd && !wr) {
            FUZZ_ASSERT(rc == -EINVAL && fw.stats.bad_access == bad + 1);
            if (!is_write)
                FUZZ_ASSERT(value == 0);
            continue;
        }
        FUZZ_ASSERT(rc == 0);
        if (sel) {
            cur = fwcfg_fuzz_item(&fw, (uint16_t)value);
            pos = 0;
        } else if (rd) {
            uint32_t want = 0;
            if (cur && pos < cur->len)
                want = cur->data[pos];
            if (cur && pos < cur->len)
                pos++;
            FUZZ_ASSERT(value == want);
        }
    }
    return 0;
}
