/* SPDX-License-Identifier: MIT */
/* In-memory ELF executables for the loader tests. */
#include "elf_builder.h"

#include <string.h>

#include "loader/bytes.h"

void elf_build(uint8_t *img, bool is64, uint16_t machine, uint64_t entry,
               const struct elf_seg *segs, unsigned n)
{
    unsigned ehsize = is64 ? 64 : 52, phsize = is64 ? 56 : 32;

    memset(img, 0, ehsize + n * phsize);
    memcpy(img,
           "\x7f"
           "ELF",
           4);
    img[4] = is64 ? 2 : 1; /* ELFCLASS64 : ELFCLASS32 */
    img[5] = 1;            /* little-endian */
    img[6] = 1;
    put_le16(img + 16, 2); /* ET_EXEC */
    put_le16(img + 18, machine);
    put_le32(img + 20, 1);
    if (is64) {
        put_le64(img + 24, entry);
        put_le64(img + 32, ehsize);
        put_le16(img + 52, 64);
        put_le16(img + 54, 56);
        put_le16(img + 56, (uint16_t)n);
    } else {
        put_le32(img + 24, (uint32_t)entry);
        put_le32(img + 28, ehsize);
        put_le16(img + 40, 52);
        put_le16(img + 42, 32);
        put_le16(img + 44, (uint16_t)n);
    }
    for (unsigned i = 0; i < n; i++) {
        uint8_t *p = img + ehsize + i * phsize;
        if (is64) {
            put_le32(p, segs[i].type);
            put_le32(p + 4, 5);
            put_le64(p + 8, segs[i].offset);
            put_le64(p + 16, segs[i].vaddr);
            put_le64(p + 24, segs[i].paddr);
            put_le64(p + 32, segs[i].filesz);
            put_le64(p + 40, segs[i].memsz);
            put_le64(p + 48, 0x1000);
        } else {
            put_le32(p, segs[i].type);
            put_le32(p + 4, (uint32_t)segs[i].offset);
            put_le32(p + 8, (uint32_t)segs[i].vaddr);
            put_le32(p + 12, (uint32_t)segs[i].paddr);
            put_le32(p + 16, (uint32_t)segs[i].filesz);
            put_le32(p + 20, (uint32_t)segs[i].memsz);
            put_le32(p + 24, 5);
            put_le32(p + 28, 0x1000);
        }
    }
}
