/* SPDX-License-Identifier: MIT */
/*
 * Multiboot v1 loader (GNU Multiboot Specification 0.6.96): finds and checks
 * the header, loads the kernel (the a.out kludge address fields, or an ELF32/
 * ELF64 file at its physical addresses), places the initrd as module 0, and
 * builds the boot information block in low memory. Pure C; the kernel file
 * is untrusted and every failure comes with a message saying what is wrong.
 *
 * Memory layout it produces:
 *   kernel        where the file asks (below 4 GiB, outside 0x9FC00-0xFFFFF)
 *   initrd        page-aligned right above the kernel
 *   info block    first free spot in 0x1000-0x9FBFF; if the kernel sits
 *                 there, the first page above everything loaded
 * Entry: 32-bit protected mode, paging off, EAX = 0x2BADB002, EBX = info.
 */
#ifndef LAPIS_MULTIBOOT_H
#define LAPIS_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot_state.h"
#include "guest_ram.h"

#define LAPIS_MULTIBOOT_HEADER_MAGIC     0x1BADB002u
#define LAPIS_MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define LAPIS_MULTIBOOT_SEARCH           8192u /* the header lies in these first bytes */

/* Header flags. Bits 0-15 are requirements; an unknown one is an error. */
#define LAPIS_MB_HDR_PAGE_ALIGN  (1u << 0)  /* modules page-aligned: always done */
#define LAPIS_MB_HDR_MEMORY_INFO (1u << 1)  /* mem_* fields: always given */
#define LAPIS_MB_HDR_VIDEO_MODE  (1u << 2)  /* a preference only: ignored */
#define LAPIS_MB_HDR_AOUT_KLUDGE (1u << 16) /* use the header's address fields */

/* Boot information: flags, and field offsets within the block. */
#define LAPIS_MB_INFO_MEMORY           (1u << 0)
#define LAPIS_MB_INFO_CMDLINE          (1u << 2)
#define LAPIS_MB_INFO_MODS             (1u << 3)
#define LAPIS_MB_INFO_MEM_MAP          (1u << 6)
#define LAPIS_MB_INFO_BOOT_LOADER_NAME (1u << 9)

#define LAPIS_MB_INFO_OFF_FLAGS            0u
#define LAPIS_MB_INFO_OFF_MEM_LOWER        4u
#define LAPIS_MB_INFO_OFF_MEM_UPPER        8u
#define LAPIS_MB_INFO_OFF_CMDLINE          16u
#define LAPIS_MB_INFO_OFF_MODS_COUNT       20u
#define LAPIS_MB_INFO_OFF_MODS_ADDR        24u
#define LAPIS_MB_INFO_OFF_MMAP_LENGTH      44u
#define LAPIS_MB_INFO_OFF_MMAP_ADDR        48u
#define LAPIS_MB_INFO_OFF_BOOT_LOADER_NAME 64u
#define LAPIS_MB_INFO_SIZE                 120u /* up to the framebuffer fields, zeroed */

/* A module entry: mod_start, mod_end (exclusive), string, reserved. */
#define LAPIS_MB_MODULE_SIZE 16u
/* A memory map entry: size (20, not counting itself), base u64, length u64, type. */
#define LAPIS_MB_MMAP_ENTRY_SIZE 24u
#define LAPIS_MB_MMAP_AVAILABLE  1u
#define LAPIS_MB_MMAP_RESERVED   2u

/* The low-memory layout the memory map reports. */
#define LAPIS_MB_LOW_RAM_END   0x9FC00u  /* usable 0 .. here (639 KiB) */
#define LAPIS_MB_HIGH_MEM_BASE 0x100000u /* reserved here .. 1 MiB, usable above */

/*
 * True if the magic number appears 4-byte aligned in the first 8192 bytes,
 * even with a wrong checksum: lapis_multiboot_load() then says what is wrong.
 */
bool lapis_multiboot_detect(const uint8_t *image, size_t len);

/*
 * Loads a Multiboot v1 kernel into @ram. @cmdline may be NULL (an empty
 * command line is passed); @initrd (may be NULL when @initrd_len is 0)
 * becomes module 0 with the string "initrd". On success fills @out
 * (LAPIS_CPU_PROTECTED32, rip = entry, rax = 0x2BADB002, rbx = info block,
 * other registers 0; rsp is 0: the spec leaves the stack to the kernel).
 * Returns 0, or -ENOEXEC (the file is not a usable multiboot kernel),
 * -ENOSPC (it, the initrd or the info block does not fit in guest RAM),
 * -EINVAL (bad arguments), with one line in @err (may be NULL) naming the
 * problem. Everything is checked and placed before anything is written, so
 * a failed load leaves RAM untouched.
 */
int lapis_multiboot_load(const struct lapis_guest_ram *ram, const uint8_t *image, size_t image_len,
                         const char *cmdline, const uint8_t *initrd, size_t initrd_len,
                         struct lapis_boot_state *out, char *err, size_t errlen);

#endif
