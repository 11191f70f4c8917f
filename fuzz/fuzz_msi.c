/* SPDX-License-Identifier: MIT */
/*
 * MSI decoder: every (address, data) pair a guest or a route can produce.
 * Invariants: decode accepts exactly the 0xFEExxxxx window with a
 * non-reserved delivery mode; encode(decode(a, d)) keeps exactly the bits the
 * format defines; decode(encode(m)) gives m back (dest truncated to 8 bits).
 */
#include "fuzz_common.h"

#include <errno.h>

#include "devices/msi.h"

/* Address bits the format defines: base, destination, redirection hint, mode. */
#define MSI_FUZZ_ADDR_BITS 0xFFFFF00Cull
/* Data bits: vector, delivery mode, level assert, trigger. */
#define MSI_FUZZ_DATA_BITS 0xC7FFu

static void msi_check_same(const struct lapis_msi *a, const struct lapis_msi *b)
{
    FUZZ_ASSERT(a->dest == b->dest);
    FUZZ_ASSERT(a->dest_logical == b->dest_logical);
    FUZZ_ASSERT(a->redir_hint == b->redir_hint);
    FUZZ_ASSERT(a->vector == b->vector);
    FUZZ_ASSERT(a->delivery_mode == b->delivery_mode);
    FUZZ_ASSERT(a->level_assert == b->level_assert);
    FUZZ_ASSERT(a->level_triggered == b->level_triggered);
}

static void msi_one_decode(uint64_t address, uint32_t data)
{
    struct lapis_msi m, again;
    uint64_t a2;
    uint32_t d2;

    memset(&m, 0xA5, sizeof(m));
    int rc = lapis_msi_decode(address, data, &m);
    bool valid = (address >> 20) == (LAPIS_MSI_ADDR_BASE >> 20) && ((data >> 8) & 7) != 3;
    FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
    FUZZ_ASSERT((rc == 0) == valid);
    if (rc)
        return;
    FUZZ_ASSERT(m.dest <= 0xFF);
    FUZZ_ASSERT(m.delivery_mode <= 7 && m.delivery_mode != 3);
    lapis_msi_encode(&m, &a2, &d2);
    FUZZ_ASSERT(a2 == (address & MSI_FUZZ_ADDR_BITS));
    FUZZ_ASSERT(d2 == (data & MSI_FUZZ_DATA_BITS));
    FUZZ_ASSERT(lapis_msi_decode(a2, d2, &again) == 0);
    msi_check_same(&m, &again);
}

static void msi_one_encode(struct fuzz_in *in)
{
    struct lapis_msi m = {0}, back;
    uint64_t a;
    uint32_t d;

    m.dest = fin_u32(in);
    m.dest_logical = fin_bool(in);
    m.redir_hint = fin_bool(in);
    m.vector = fin_u8(in);
    m.delivery_mode = fin_u8(in);
    m.level_assert = fin_bool(in);
    m.level_triggered = fin_bool(in);
    lapis_msi_encode(&m, &a, &d);
    FUZZ_ASSERT((a & ~MSI_FUZZ_ADDR_BITS) == 0);
    FUZZ_ASSERT((d & ~MSI_FUZZ_DATA_BITS) == 0);
    int rc = lapis_msi_decode(a, d, &back);
    if ((m.delivery_mode & 7) == 3) {
        FUZZ_ASSERT(rc == -EINVAL);
        return;
    }
    FUZZ_ASSERT(rc == 0);
    m.dest &= 0xFF;
    m.delivery_mode &= 7;
    msi_check_same(&m, &back);
}

FUZZ_TARGET(msi)
{
    struct fuzz_in in = {data, size};

    while (!fin_empty(&in)) {
        uint8_t op = fin_u8(&in);
        if (op & 1) {
            msi_one_encode(&in);
        } else {
            /* Mostly addresses near the window, so the valid path gets coverage. */
            uint64_t address = fin_u64(&in);
            if (op & 2)
                address = LAPIS_MSI_ADDR_BASE | (address & 0xFFFFF);
            msi_one_decode(address, fin_u32(&in));
        }
    }
    return 0;
}
