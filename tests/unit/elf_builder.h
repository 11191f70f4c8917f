/* SPDX-License-Identifier: MIT */
/* In-memory ELF executables for the loader tests. */
#ifndef LAPIS_TESTS_ELF_BUILDER_H
#define LAPIS_TESTS_ELF_BUILDER_H

#include <stdbool.h>
#include <stdint.h>

struct elf_seg {
    uint32_t type;
    uint64_t offset, vaddr, paddr, filesz, memsz;
};

/*
 * Writes an ET_EXEC ELF header and @n program headers (right after it, flags
 * R+X, align 0x1000) at @img, and zeroes both; the segments' bytes are the
 * caller's.
 */
void elf_build(uint8_t *img, bool is64, uint16_t machine, uint64_t entry,
               const struct elf_seg *segs, unsigned n);

#endif
