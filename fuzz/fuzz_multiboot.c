/* SPDX-License-Identifier: MIT */
/*
 * Multiboot v1 loader: the input is the kernel file (a.out kludge or ELF).
 * Guest RAM, the initrd and the command line follow the input length, so
 * the file stays an ordinary kernel: 1.25 or 2 MiB at 0 (sometimes 640 KiB,
 * too small), sometimes 64 KiB at 4 GiB; no initrd, an empty one, a small
 * one or a 700 KiB one; no command line or a short one.
 * Invariants: a failure is -ENOEXEC or -ENOSPC with a message, RAM
 * untouched; a success gives the documented entry state, the kernel's bytes
 * intact (a.out image and bss, or each ELF segment), the initrd intact and
 * page-aligned in RAM below 4 GiB outside 0x9FC00-0xFFFFF, and an
 * information block inside RAM whose pointers (command line, module list,
 * memory map, loader name) lead to RAM clear of the kernel and the initrd.
 */
#include "fuzz_ram.h"

#include <errno.h>

#include "loader/elf.h"
#include "loader/multiboot.h"

#define MB_FUZZ_4G 0x100000000ull

static uint32_t mb_fuzz_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool mb_fuzz_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

/* The kernel's footprint [*lo, *hi), checked against the file's own bytes. */
static void mb_fuzz_check_kernel(const struct lapis_guest_ram *ram, const uint8_t *image,
                                 size_t len, uint64_t *lo, uint64_t *hi)
{
    size_t off = 0;
    bool found = false;

    for (; off + 12 <= len && off + 12 <= LAPIS_MULTIBOOT_SEARCH; off += 4) {
        uint32_t magic = mb_fuzz_le32(image + off), flags = mb_fuzz_le32(image + off + 4);
        if (magic == LAPIS_MULTIBOOT_HEADER_MAGIC &&
            (uint32_t)(magic + flags + mb_fuzz_le32(image + off + 8)) == 0) {
            found = true;
            break;
        }
    }
    FUZZ_ASSERT(found);
    if (!found)
        return;
    if (mb_fuzz_le32(image + off + 4) & LAPIS_MB_HDR_AOUT_KLUDGE) {
        FUZZ_ASSERT(off + 32 <= len);
        uint32_t header_addr = mb_fuzz_le32(image + off + 12);
        uint32_t load_addr = mb_fuzz_le32(image + off + 16);
        uint32_t load_end = mb_fuzz_le32(image + off + 20);
        uint32_t bss_end = mb_fuzz_le32(image + off + 24);
        size_t text_off = off - (header_addr - load_addr);
        uint64_t load_size = load_end ? load_end - load_addr : len - text_off;
        uint64_t mem_end = bss_end ? bss_end : load_addr + load_size;
        FUZZ_ASSERT(text_off + load_size <= len && mem_end >= load_addr + load_size);
        const uint8_t *k = lapis_ram_ptr(ram, load_addr, mem_end - load_addr);
        FUZZ_ASSERT(k != NULL);
        if (!k)
            return;
        FUZZ_ASSERT(memcmp(k, image + text_off, (size_t)load_size) == 0);
        for (uint64_t i = load_size; i < mem_end - load_addr; i++)
            FUZZ_ASSERT(k[i] == 0);
        *lo = load_addr;
        *hi = mem_end;
        return;
    }
    struct lapis_elf_info info;
    FUZZ_ASSERT(lapis_elf_parse(image, len, &info, NULL, 0) == 0);
    *lo = UINT64_MAX;
    *hi = 0;
    for (uint32_t i = 0; i < info.phnum; i++) {
        struct lapis_elf_phdr ph;
        lapis_elf_phdr(image, &info, i, &ph);
        if (ph.type != LAPIS_ELF_PT_LOAD || !ph.memsz)
            continue;
        const uint8_t *seg = lapis_ram_ptr(ram, ph.paddr, ph.memsz);
        FUZZ_ASSERT(seg != NULL);
        FUZZ_ASSERT(ph.paddr + ph.memsz <= MB_FUZZ_4G);
        FUZZ_ASSERT(!mb_fuzz_overlap(ph.paddr, ph.memsz, LAPIS_MB_LOW_RAM_END,
                                     LAPIS_MB_HIGH_MEM_BASE - LAPIS_MB_LOW_RAM_END));
        if (!seg)
            continue;
        FUZZ_ASSERT(memcmp(seg, image + ph.offset, (size_t)ph.filesz) == 0);
        for (uint64_t j = ph.filesz; j < ph.memsz; j++)
            FUZZ_ASSERT(seg[j] == 0);
        *lo = ph.paddr < *lo ? ph.paddr : *lo;
        *hi = ph.paddr + ph.memsz > *hi ? ph.paddr + ph.memsz : *hi;
    }
}

/* @len bytes at guest @gpa: in RAM, below 4 GiB, clear of the kernel and initrd. */
static const uint8_t *mb_fuzz_info_ptr(const struct lapis_guest_ram *ram, uint64_t gpa,
                                       uint64_t len, const uint64_t busy[2][2])
{
    FUZZ_ASSERT(gpa + len <= MB_FUZZ_4G);
    for (int i = 0; i < 2; i++)
        FUZZ_ASSERT(!mb_fuzz_overlap(gpa, len, busy[i][0], busy[i][1] - busy[i][0]));
    const uint8_t *p = lapis_ram_ptr(ram, gpa, len);
    FUZZ_ASSERT(p != NULL);
    return p;
}

static void mb_fuzz_check_info(const struct lapis_guest_ram *ram, uint64_t info_addr,
                               const char *cmdline, const uint8_t *initrd, size_t initrd_len,
                               const uint64_t busy[2][2], uint64_t highest)
{
    const uint8_t *info = mb_fuzz_info_ptr(ram, info_addr, LAPIS_MB_INFO_SIZE, busy);
    if (!info)
        return;
    uint32_t flags = mb_fuzz_le32(info + LAPIS_MB_INFO_OFF_FLAGS);
    FUZZ_ASSERT(flags & LAPIS_MB_INFO_MEMORY);
    FUZZ_ASSERT(info_addr + LAPIS_MB_INFO_SIZE <= highest);

    if (flags & LAPIS_MB_INFO_CMDLINE) {
        size_t n = strlen(cmdline ? cmdline : "");
        const uint8_t *s =
            mb_fuzz_info_ptr(ram, mb_fuzz_le32(info + LAPIS_MB_INFO_OFF_CMDLINE), n + 1, busy);
        if (s)
            FUZZ_ASSERT(memcmp(s, cmdline ? cmdline : "", n + 1) == 0);
    } else {
        FUZZ_ASSERT(!cmdline || !*cmdline);
    }
    uint32_t mods =
        (flags & LAPIS_MB_INFO_MODS) ? mb_fuzz_le32(info + LAPIS_MB_INFO_OFF_MODS_COUNT) : 0;
    FUZZ_ASSERT(mods == (initrd ? 1u : 0u));
    if (mods == 1) {
        const uint8_t *m = mb_fuzz_info_ptr(ram, mb_fuzz_le32(info + LAPIS_MB_INFO_OFF_MODS_ADDR),
                                            LAPIS_MB_MODULE_SIZE, busy);
        if (m) {
            uint32_t start = mb_fuzz_le32(m), end = mb_fuzz_le32(m + 4);
            FUZZ_ASSERT(end - start == initrd_len && end >= start);
            FUZZ_ASSERT((start & 0xFFF) == 0);
            FUZZ_ASSERT(!mb_fuzz_overlap(start, initrd_len, LAPIS_MB_LOW_RAM_END,
                                         LAPIS_MB_HIGH_MEM_BASE - LAPIS_MB_LOW_RAM_END));
            FUZZ_ASSERT(!mb_fuzz_overlap(start, initrd_len, busy[0][0], busy[0][1] - busy[0][0]));
            FUZZ_ASSERT(end <= highest);
            const uint8_t *d = lapis_ram_ptr(ram, start, initrd_len);
            FUZZ_ASSERT(d != NULL);
            if (d && initrd_len)
                FUZZ_ASSERT(memcmp(d, initrd, initrd_len) == 0);
        }
    }
    if (flags & LAPIS_MB_INFO_MEM_MAP) {
        uint32_t mlen = mb_fuzz_le32(info + LAPIS_MB_INFO_OFF_MMAP_LENGTH);
        FUZZ_ASSERT(mlen % LAPIS_MB_MMAP_ENTRY_SIZE == 0 && mlen <= 16 * LAPIS_MB_MMAP_ENTRY_SIZE);
        const uint8_t *m =
            mb_fuzz_info_ptr(ram, mb_fuzz_le32(info + LAPIS_MB_INFO_OFF_MMAP_ADDR), mlen, busy);
        uint64_t avail = 0;
        for (uint32_t i = 0; m && i < mlen; i += LAPIS_MB_MMAP_ENTRY_SIZE) {
            uint64_t base, length;
            memcpy(&base, m + i + 4, 8);
            memcpy(&length, m + i + 12, 8);
            FUZZ_ASSERT(mb_fuzz_le32(m + i) == LAPIS_MB_MMAP_ENTRY_SIZE - 4);
            if (mb_fuzz_le32(m + i + 20) == LAPIS_MB_MMAP_AVAILABLE) {
                /* Available memory is RAM. */
                FUZZ_ASSERT(lapis_ram_ptr(ram, base, length) != NULL);
                avail += length;
            }
        }
        FUZZ_ASSERT(avail <= lapis_ram_total(ram));
    }
    if (flags & LAPIS_MB_INFO_BOOT_LOADER_NAME) {
        uint32_t a = mb_fuzz_le32(info + LAPIS_MB_INFO_OFF_BOOT_LOADER_NAME);
        const uint8_t *s = mb_fuzz_info_ptr(ram, a, 1, busy);
        FUZZ_ASSERT(s && memchr(s, 0, (size_t)(ram->low_size - a)) != NULL);
    }
}

FUZZ_TARGET(multiboot)
{
    static const uint64_t lows[4] = {0x140000, 0x200000, 0x140000, 0xA0000};
    static const uint64_t highs[2] = {0, 64u << 10};
    static const char *const cmdlines[4] = {NULL, "", "console=ttyS0 lapis.eoi=enable", NULL};
    static uint8_t initrd_buf[700u << 10];
    const struct lapis_guest_ram *ram = fuzz_ram_get(lows[size & 3], highs[(size >> 2) & 1]);
    const char *cmdline = cmdlines[(size >> 3) & 3];
    /* Empty, a few KiB, or 700 KiB: more than a small RAM has above some kernels. */
    size_t initrd_len = ((size >> 5) & 1) ? 0
                        : size % 5 == 4   ? sizeof(initrd_buf)
                                          : (size % 5) * 1000;
    const uint8_t *initrd = ((size >> 6) & 3) == 0 ? NULL : initrd_buf;
    struct lapis_boot_state out;
    char err[256];

    if (initrd_buf[1] == 0)
        for (size_t i = 0; i < sizeof(initrd_buf); i++)
            initrd_buf[i] = (uint8_t)(i * 7 + 1);
    if (!initrd)
        initrd_len = 0;

    bool detected = lapis_multiboot_detect(data, size);
    memset(&out, 0x5A, sizeof(out));
    int rc =
        lapis_multiboot_load(ram, data, size, cmdline, initrd, initrd_len, &out, err, sizeof(err));
    FUZZ_ASSERT(rc == 0 || rc == -ENOEXEC || rc == -ENOSPC);
    if (rc) {
        FUZZ_ASSERT(fuzz_err_ok(err, sizeof(err)));
        FUZZ_ASSERT(fuzz_ram_untouched(ram));
        return 0;
    }
    FUZZ_ASSERT(detected);
    FUZZ_ASSERT(out.mode == LAPIS_CPU_PROTECTED32);
    FUZZ_ASSERT(out.rax == LAPIS_MULTIBOOT_BOOTLOADER_MAGIC);
    FUZZ_ASSERT(out.rcx == 0 && out.rdx == 0 && out.rsi == 0 && out.rdi == 0 && out.rsp == 0);
    FUZZ_ASSERT(out.rbx < MB_FUZZ_4G && out.rip < MB_FUZZ_4G);
    FUZZ_ASSERT(out.highest_loaded <= LAPIS_RAM_HIGH_BASE + ram->high_size);

    uint64_t klo = 0, khi = 0;
    mb_fuzz_check_kernel(ram, data, size, &klo, &khi);
    FUZZ_ASSERT(out.rip >= klo && out.rip < khi);
    FUZZ_ASSERT(khi <= out.highest_loaded);
    uint64_t busy[2][2] = {{klo, khi}, {0, 0}};
    if (initrd) {
        /* The module list says where the initrd went; the info check verifies it. */
        const uint8_t *info = lapis_ram_ptr(ram, out.rbx, LAPIS_MB_INFO_SIZE);
        if (info && (mb_fuzz_le32(info) & LAPIS_MB_INFO_MODS) &&
            mb_fuzz_le32(info + LAPIS_MB_INFO_OFF_MODS_COUNT) == 1) {
            const uint8_t *m =
                lapis_ram_ptr(ram, mb_fuzz_le32(info + LAPIS_MB_INFO_OFF_MODS_ADDR), 8);
            if (m) {
                busy[1][0] = mb_fuzz_le32(m);
                busy[1][1] = busy[1][0] + initrd_len;
            }
        }
    }
    mb_fuzz_check_info(ram, out.rbx, cmdline, initrd, initrd_len, busy, out.highest_loaded);
    fuzz_ram_restore(ram);
    return 0;
}
