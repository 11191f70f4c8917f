/* SPDX-License-Identifier: MIT */
/*
 * ELF32/ELF64 little-endian x86 executables: header checks, program header
 * access, and loading the PT_LOAD segments into guest RAM at p_paddr.
 * Pure C; the file is untrusted: every offset, size and address is checked,
 * and a failed load writes nothing to guest RAM.
 */
#ifndef LAPIS_ELF_H
#define LAPIS_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_ram.h"

#define LAPIS_ELF_EM_386    3u
#define LAPIS_ELF_EM_X86_64 62u
#define LAPIS_ELF_PT_LOAD   1u
#define LAPIS_ELF_PT_NOTE   4u
/* More program headers than any kernel has; keeps the overlap check cheap. */
#define LAPIS_ELF_MAX_PHNUM 1024u

/* One program header, widened to 64 bits. */
struct lapis_elf_phdr {
    uint32_t type;
    uint32_t flags;
    uint64_t offset;
    uint64_t vaddr;
    uint64_t paddr;
    uint64_t filesz;
    uint64_t memsz;
    uint64_t align;
};

struct lapis_elf_info {
    bool is64;        /* ELFCLASS64 */
    uint16_t machine; /* LAPIS_ELF_EM_386 or LAPIS_ELF_EM_X86_64 */
    uint64_t entry;   /* e_entry, as in the file (a virtual address) */
    uint64_t phoff;   /* program header table: offset, entry size, count */
    uint32_t phentsize;
    uint32_t phnum;
    /* Filled by lapis_elf_load(): */
    uint64_t entry_paddr; /* e_entry translated through the segment holding it */
    uint32_t nload;       /* PT_LOAD segments with a non-zero p_memsz */
    uint64_t load_lo;     /* lowest p_paddr loaded */
    uint64_t load_hi;     /* highest p_paddr + p_memsz loaded (exclusive) */
};

/* True if @image starts with the ELF magic (no other check). */
bool lapis_elf_is_elf(const uint8_t *image, size_t len);

/*
 * Checks the ELF header (magic, class, little-endian, version, ET_EXEC,
 * EM_386/EM_X86_64, program header size and count, table inside the file)
 * and fills the header fields of @info. Returns 0, or -ENOEXEC with a
 * message in @err (may be NULL) saying what is wrong.
 */
int lapis_elf_parse(const uint8_t *image, size_t len, struct lapis_elf_info *info, char *err,
                    size_t errlen);

/* Program header @index (< info->phnum) of an image lapis_elf_parse() accepted. */
void lapis_elf_phdr(const uint8_t *image, const struct lapis_elf_info *info, uint32_t index,
                    struct lapis_elf_phdr *ph);

/*
 * lapis_elf_load() without the copy: every check, and @info filled, so a
 * caller can plan memory around the image before writing anything.
 */
int lapis_elf_check(const struct lapis_guest_ram *ram, const uint8_t *image, size_t len,
                    struct lapis_elf_info *info, char *err, size_t errlen);

/*
 * Parses @image, checks every PT_LOAD (p_filesz <= p_memsz, file bytes inside
 * the file, no wrap, inside guest RAM, no two overlapping, at least one) and
 * that e_entry lies inside one of them, then copies each segment to p_paddr
 * and zeroes its bss. Returns 0 with @info filled, or -ENOEXEC (bad file) /
 * -ENOSPC (a segment is not inside guest RAM) with a message in @err, and
 * RAM untouched; -EINVAL for NULL arguments.
 * Messages number segments by their program header index.
 */
int lapis_elf_load(const struct lapis_guest_ram *ram, const uint8_t *image, size_t len,
                   struct lapis_elf_info *info, char *err, size_t errlen);

#endif
