/* SPDX-License-Identifier: MIT */
/* A minimal bzImage in memory, for the unpacking tests. */
#include "bz_builder.h"

#include <stdlib.h>
#include <string.h>

#include "loader/bytes.h"

uint8_t *bz_minimal(size_t ksize, const uint8_t *payload, size_t plen, size_t *len)
{
    size_t koff = 5 * 512;
    uint8_t *b = calloc(1, koff + ksize);
    b[0x1F1] = 4;
    put_le32(b + 0x1F4, (uint32_t)(ksize / 16));
    b[0x1FE] = 0x55;
    b[0x1FF] = 0xAA;
    b[0x201] = 0x6A;
    memcpy(b + 0x202, "HdrS", 4);
    b[0x206] = 0x0F;
    b[0x207] = 0x02;
    b[0x211] = 1;
    put_le32(b + 0x230, 0x200000);
    b[0x236] = 1;
    put_le32(b + 0x248, 0x40);
    put_le32(b + 0x24C, (uint32_t)plen);
    put_le32(b + 0x258, 0x1000000);
    put_le32(b + 0x260, (uint32_t)ksize);
    memcpy(b + koff + 0x40, payload, plen);
    *len = koff + ksize;
    return b;
}
