/* SPDX-License-Identifier: MIT */
/* Multiboot v1: header search, kernel and module placement, boot information. */
#include "multiboot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "elf.h"
#include "bytes.h"
#include "fail.h"

#define FOUR_GIB     0x100000000ull
#define PAGE_SIZE    0x1000ull
#define INFO_LOW_MIN 0x1000ull /* keep page 0 free: a NULL pointer stays a fault */
#define INFO_ALIGN   16ull
#define HDR_MIN_SIZE 12u /* magic, flags, checksum */
#define HDR_AOUT_END 32u /* ... header_addr, load_addr, load_end_addr, bss_end_addr, entry */
#define MMAP_MAX     4u
#define LOADER_NAME  "lapis"
#define INITRD_NAME  "initrd"

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static void describe_ram(const struct lapis_guest_ram *ram, char *buf, size_t len)
{
    uint64_t total = lapis_ram_total(ram);

    if (total % (1024 * 1024) == 0)
        snprintf(buf, len, "%llu MiB of guest RAM", (unsigned long long)(total >> 20));
    else
        snprintf(buf, len, "0x%llx bytes of guest RAM", (unsigned long long)total);
}

/* [lo, hi) overlaps [a, a + size)? Empty ranges never do. */
static bool overlaps(uint64_t lo, uint64_t hi, uint64_t a, uint64_t size)
{
    return lo < hi && size && lo < a + size && a < hi;
}

bool lapis_multiboot_detect(const uint8_t *image, size_t len)
{
    if (!image)
        return false;
    for (size_t off = 0; off + 4 <= len && off + HDR_MIN_SIZE <= LAPIS_MULTIBOOT_SEARCH; off += 4)
        if (get_le32(image + off) == LAPIS_MULTIBOOT_HEADER_MAGIC)
            return true;
    return false;
}

/* The first header with a good checksum, as GRUB and QEMU take it. */
static int find_header(const uint8_t *image, size_t len, size_t *found, char *err, size_t errlen)
{
    bool bad_checksum = false;
    size_t bad_off = 0;

    for (size_t off = 0; off + HDR_MIN_SIZE <= len && off + HDR_MIN_SIZE <= LAPIS_MULTIBOOT_SEARCH;
         off += 4) {
        uint32_t magic = get_le32(image + off);
        if (magic != LAPIS_MULTIBOOT_HEADER_MAGIC)
            continue;
        if ((uint32_t)(magic + get_le32(image + off + 4) + get_le32(image + off + 8)) == 0) {
            *found = off;
            return 0;
        }
        if (!bad_checksum) {
            bad_checksum = true;
            bad_off = off;
        }
    }
    if (bad_checksum)
        return fail(err, errlen, -ENOEXEC,
                    "multiboot header checksum is wrong (header at file offset 0x%zx): magic + "
                    "flags + checksum must be 0",
                    bad_off);
    return fail(err, errlen, -ENOEXEC, "not a multiboot kernel: no header in the first %u bytes",
                LAPIS_MULTIBOOT_SEARCH);
}

/* Where the kernel goes; filled from the header's address fields or the ELF file. */
struct kernel_plan {
    bool aout;
    uint64_t lo, hi; /* everything the kernel occupies, [lo, hi) */
    uint64_t entry;
    size_t text_off; /* a.out kludge: file offset of load_addr */
    uint64_t load_size;
    struct lapis_elf_info elf;
};

/* Kernel memory must be below 4 GiB and clear of the reserved 0x9FC00-0xFFFFF. */
static int check_kernel_range(const char *what, unsigned index, uint64_t lo, uint64_t size,
                              char *err, size_t errlen)
{
    char name[32];

    if (!size)
        return 0;
    if (index == ~0u)
        snprintf(name, sizeof(name), "%s", what);
    else
        snprintf(name, sizeof(name), "%s %u", what, index);
    if (lo >= FOUR_GIB || size > FOUR_GIB - lo)
        return fail(err, errlen, -ENOEXEC,
                    "%s (0x%llx - 0x%llx) lies above 4 GiB, out of a multiboot kernel's reach",
                    name, (unsigned long long)lo, (unsigned long long)(lo + size - 1));
    if (overlaps(LAPIS_MB_LOW_RAM_END, LAPIS_MB_HIGH_MEM_BASE, lo, size))
        return fail(err, errlen, -ENOEXEC,
                    "%s (0x%llx - 0x%llx) overlaps the reserved area 0x%x - 0x%x below 1 MiB", name,
                    (unsigned long long)lo, (unsigned long long)(lo + size - 1),
                    LAPIS_MB_LOW_RAM_END, LAPIS_MB_HIGH_MEM_BASE - 1);
    return 0;
}

static int plan_aout(const struct lapis_guest_ram *ram, const uint8_t *image, size_t len,
                     size_t off, struct kernel_plan *k, char *err, size_t errlen)
{
    if (off + HDR_AOUT_END > len || off + HDR_AOUT_END > LAPIS_MULTIBOOT_SEARCH)
        return fail(err, errlen, -ENOEXEC,
                    "multiboot header at file offset 0x%zx is truncated: its address fields "
                    "(flag 16) need bytes up to 0x%zx, within the file's first %u bytes",
                    off, off + HDR_AOUT_END, LAPIS_MULTIBOOT_SEARCH);
    uint32_t header_addr = get_le32(image + off + 12);
    uint32_t load_addr = get_le32(image + off + 16);
    uint32_t load_end_addr = get_le32(image + off + 20);
    uint32_t bss_end_addr = get_le32(image + off + 24);
    uint32_t entry_addr = get_le32(image + off + 28);

    if (load_addr > header_addr)
        return fail(err, errlen, -ENOEXEC, "multiboot load_addr 0x%x is above header_addr 0x%x",
                    load_addr, header_addr);
    if (header_addr - load_addr > off)
        return fail(err, errlen, -ENOEXEC,
                    "multiboot address fields are inconsistent: header_addr 0x%x - load_addr "
                    "0x%x puts the load start before the file (header at file offset 0x%zx)",
                    header_addr, load_addr, off);
    k->text_off = off - (header_addr - load_addr);

    uint64_t load_end;
    if (load_end_addr == 0) {
        k->load_size = len - k->text_off;
        load_end = (uint64_t)load_addr + k->load_size;
    } else {
        if (load_end_addr < load_addr)
            return fail(err, errlen, -ENOEXEC,
                        "multiboot load_end_addr 0x%x is below load_addr 0x%x", load_end_addr,
                        load_addr);
        k->load_size = load_end_addr - load_addr;
        load_end = load_end_addr;
        if (k->load_size > len - k->text_off)
            return fail(err, errlen, -ENOEXEC,
                        "kernel file is truncated: load_end_addr 0x%x needs bytes up to 0x%llx, "
                        "file has 0x%zx",
                        load_end_addr, (unsigned long long)(k->text_off + k->load_size), len);
    }
    uint64_t mem_end = load_end;
    if (bss_end_addr) {
        if (bss_end_addr < load_end)
            return fail(err, errlen, -ENOEXEC,
                        "multiboot bss_end_addr 0x%x is below the end of the loaded image 0x%llx",
                        bss_end_addr, (unsigned long long)load_end);
        mem_end = bss_end_addr;
    }
    if (mem_end == load_addr)
        return fail(err, errlen, -ENOEXEC, "multiboot kernel is empty: nothing to load");
    int rc = check_kernel_range("kernel", ~0u, load_addr, mem_end - load_addr, err, errlen);
    if (rc)
        return rc;
    if (!lapis_ram_ptr(ram, load_addr, mem_end - load_addr)) {
        char desc[64];
        describe_ram(ram, desc, sizeof(desc));
        return fail(err, errlen, -ENOSPC, "kernel (0x%x - 0x%llx) does not fit in %s", load_addr,
                    (unsigned long long)(mem_end - 1), desc);
    }
    if (entry_addr < load_addr || entry_addr >= mem_end)
        return fail(err, errlen, -ENOEXEC,
                    "multiboot entry_addr 0x%x is outside the loaded kernel (0x%x - 0x%llx)",
                    entry_addr, load_addr, (unsigned long long)(mem_end - 1));
    k->aout = true;
    k->lo = load_addr;
    k->hi = mem_end;
    k->entry = entry_addr;
    return 0;
}

static int plan_elf(const struct lapis_guest_ram *ram, const uint8_t *image, size_t len,
                    struct kernel_plan *k, char *err, size_t errlen)
{
    if (!lapis_elf_is_elf(image, len))
        return fail(err, errlen, -ENOEXEC,
                    "multiboot kernel is not loadable: its header has no address fields (flag "
                    "16) and the file is not ELF");
    int rc = lapis_elf_check(ram, image, len, &k->elf, err, errlen);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < k->elf.phnum; i++) {
        struct lapis_elf_phdr ph;
        lapis_elf_phdr(image, &k->elf, i, &ph);
        if (ph.type != LAPIS_ELF_PT_LOAD)
            continue;
        rc = check_kernel_range("segment", i, ph.paddr, ph.memsz, err, errlen);
        if (rc)
            return rc;
    }
    k->aout = false;
    k->lo = k->elf.load_lo;
    k->hi = k->elf.load_hi;
    k->entry = k->elf.entry_paddr;
    return 0;
}

/* Layout of the information block: fixed part, memory map, module list, strings. */
struct info_layout {
    uint64_t addr, size;
    uint32_t mmap_off, mmap_count, mods_off, name_off, initrd_name_off, cmdline_off;
};

static void info_layout_init(struct info_layout *l, const struct lapis_guest_ram *ram,
                             uint64_t cmdline_len)
{
    l->mmap_count = 2;
    if (ram->low_size > LAPIS_MB_HIGH_MEM_BASE)
        l->mmap_count++;
    if (ram->high && ram->high_size)
        l->mmap_count++;
    l->mmap_off = LAPIS_MB_INFO_SIZE;
    l->mods_off = l->mmap_off + MMAP_MAX * LAPIS_MB_MMAP_ENTRY_SIZE;
    l->name_off = l->mods_off + LAPIS_MB_MODULE_SIZE;
    l->initrd_name_off = l->name_off + sizeof(LOADER_NAME);
    l->cmdline_off = l->initrd_name_off + sizeof(INITRD_NAME);
    l->size = l->cmdline_off + cmdline_len + 1;
}

/* First fit at or above @start, below @limit, clear of @busy. 0 if none. */
static uint64_t first_fit(uint64_t start, uint64_t limit, uint64_t size, const uint64_t busy[][2],
                          unsigned nbusy)
{
    uint64_t addr = start;

    while (size <= limit && addr <= limit - size) {
        bool moved = false;
        for (unsigned i = 0; i < nbusy; i++) {
            if (overlaps(busy[i][0], busy[i][1], addr, size)) {
                addr = align_up(busy[i][1], INFO_ALIGN);
                moved = true;
                break;
            }
        }
        if (!moved)
            return addr;
    }
    return 0;
}

static void put_mmap(uint8_t *p, uint64_t base, uint64_t length, uint32_t type)
{
    put_le32(p, LAPIS_MB_MMAP_ENTRY_SIZE - 4);
    put_le64(p + 4, base);
    put_le64(p + 12, length);
    put_le32(p + 20, type);
}

static void write_info(const struct lapis_guest_ram *ram, const struct info_layout *l,
                       uint8_t *info, const char *cmdline, size_t cmdline_len, bool have_module,
                       uint64_t mod_start, uint64_t mod_end)
{
    uint32_t base = (uint32_t)l->addr;
    uint64_t upper = ram->low_size > LAPIS_MB_HIGH_MEM_BASE
                         ? (ram->low_size - LAPIS_MB_HIGH_MEM_BASE) / 1024
                         : 0;

    memset(info, 0, (size_t)l->size);
    put_le32(info + LAPIS_MB_INFO_OFF_FLAGS, LAPIS_MB_INFO_MEMORY | LAPIS_MB_INFO_CMDLINE |
                                                 LAPIS_MB_INFO_MODS | LAPIS_MB_INFO_MEM_MAP |
                                                 LAPIS_MB_INFO_BOOT_LOADER_NAME);
    /* 640 as QEMU reports it; the memory map is exact (0x9FC00). */
    put_le32(info + LAPIS_MB_INFO_OFF_MEM_LOWER, 640);
    put_le32(info + LAPIS_MB_INFO_OFF_MEM_UPPER, (uint32_t)upper);
    put_le32(info + LAPIS_MB_INFO_OFF_CMDLINE, base + l->cmdline_off);
    put_le32(info + LAPIS_MB_INFO_OFF_MODS_COUNT, have_module ? 1 : 0);
    put_le32(info + LAPIS_MB_INFO_OFF_MODS_ADDR, base + l->mods_off);
    put_le32(info + LAPIS_MB_INFO_OFF_MMAP_LENGTH, l->mmap_count * LAPIS_MB_MMAP_ENTRY_SIZE);
    put_le32(info + LAPIS_MB_INFO_OFF_MMAP_ADDR, base + l->mmap_off);
    put_le32(info + LAPIS_MB_INFO_OFF_BOOT_LOADER_NAME, base + l->name_off);

    uint8_t *m = info + l->mmap_off;
    put_mmap(m, 0, LAPIS_MB_LOW_RAM_END, LAPIS_MB_MMAP_AVAILABLE);
    m += LAPIS_MB_MMAP_ENTRY_SIZE;
    put_mmap(m, LAPIS_MB_LOW_RAM_END, LAPIS_MB_HIGH_MEM_BASE - LAPIS_MB_LOW_RAM_END,
             LAPIS_MB_MMAP_RESERVED);
    m += LAPIS_MB_MMAP_ENTRY_SIZE;
    if (ram->low_size > LAPIS_MB_HIGH_MEM_BASE) {
        put_mmap(m, LAPIS_MB_HIGH_MEM_BASE, ram->low_size - LAPIS_MB_HIGH_MEM_BASE,
                 LAPIS_MB_MMAP_AVAILABLE);
        m += LAPIS_MB_MMAP_ENTRY_SIZE;
    }
    if (ram->high && ram->high_size)
        put_mmap(m, LAPIS_RAM_HIGH_BASE, ram->high_size, LAPIS_MB_MMAP_AVAILABLE);

    if (have_module) {
        uint8_t *mod = info + l->mods_off;
        put_le32(mod, (uint32_t)mod_start);
        put_le32(mod + 4, (uint32_t)mod_end);
        put_le32(mod + 8, base + l->initrd_name_off);
    }
    memcpy(info + l->name_off, LOADER_NAME, sizeof(LOADER_NAME));
    memcpy(info + l->initrd_name_off, INITRD_NAME, sizeof(INITRD_NAME));
    memcpy(info + l->cmdline_off, cmdline, cmdline_len);
    info[l->cmdline_off + cmdline_len] = 0;
}

int lapis_multiboot_load(const struct lapis_guest_ram *ram, const uint8_t *image, size_t image_len,
                         const char *cmdline, const uint8_t *initrd, size_t initrd_len,
                         struct lapis_boot_state *out, char *err, size_t errlen)
{
    if (!ram || !out || (!image && image_len) || (!initrd && initrd_len))
        return fail(err, errlen, -EINVAL, "multiboot loader called with missing arguments");
    if (!image || image_len == 0)
        return fail(err, errlen, -ENOEXEC, "not a multiboot kernel: the file is empty");
    if (!cmdline)
        cmdline = "";
    if (!ram->low || ram->low_size < LAPIS_MB_HIGH_MEM_BASE)
        return fail(err, errlen, -ENOSPC,
                    "a multiboot kernel needs at least 1 MiB of guest RAM below 4 GiB");

    size_t hdr = 0;
    int rc = find_header(image, image_len, &hdr, err, errlen);
    if (rc)
        return rc;
    uint32_t flags = get_le32(image + hdr + 4);
    uint32_t unknown =
        flags & 0xFFFFu &
        ~(LAPIS_MB_HDR_PAGE_ALIGN | LAPIS_MB_HDR_MEMORY_INFO | LAPIS_MB_HDR_VIDEO_MODE);
    if (unknown)
        return fail(err, errlen, -ENOEXEC,
                    "multiboot header requires features lapis does not know (flags 0x%x, "
                    "unknown required bits 0x%x)",
                    flags, unknown);

    struct kernel_plan k;
    memset(&k, 0, sizeof(k));
    if (flags & LAPIS_MB_HDR_AOUT_KLUDGE)
        rc = plan_aout(ram, image, image_len, hdr, &k, err, errlen);
    else
        rc = plan_elf(ram, image, image_len, &k, err, errlen);
    if (rc)
        return rc;

    /* Module 0: page-aligned above the kernel, and never in the reserved area. */
    bool have_module = initrd != NULL;
    uint64_t mod_start = align_up(k.hi, PAGE_SIZE), mod_end = mod_start;
    if (have_module) {
        if (overlaps(LAPIS_MB_LOW_RAM_END, LAPIS_MB_HIGH_MEM_BASE, mod_start,
                     initrd_len ? initrd_len : 1))
            mod_start = LAPIS_MB_HIGH_MEM_BASE;
        if (mod_start >= FOUR_GIB || initrd_len > FOUR_GIB - mod_start ||
            !lapis_ram_ptr(ram, mod_start, initrd_len)) {
            char desc[64];
            describe_ram(ram, desc, sizeof(desc));
            return fail(err, errlen, -ENOSPC,
                        "initrd (0x%zx bytes) does not fit above the kernel at 0x%llx in %s, "
                        "below 4 GiB",
                        initrd_len, (unsigned long long)mod_start, desc);
        }
        mod_end = mod_start + initrd_len;
    }
    uint64_t highest = have_module && mod_end > k.hi ? mod_end : k.hi;

    /* The information block: low memory if there is room, else above everything. */
    size_t cmdline_len = strlen(cmdline);
    struct info_layout l;
    info_layout_init(&l, ram, cmdline_len);
    const uint64_t busy[2][2] = {{k.lo, k.hi}, {mod_start, mod_end}};
    l.addr = first_fit(INFO_LOW_MIN, LAPIS_MB_LOW_RAM_END, l.size, busy, 2);
    if (!l.addr) {
        uint64_t a = align_up(highest, PAGE_SIZE);
        if (a < LAPIS_MB_HIGH_MEM_BASE)
            a = LAPIS_MB_HIGH_MEM_BASE;
        if (a >= FOUR_GIB || l.size > FOUR_GIB - a || !lapis_ram_ptr(ram, a, l.size)) {
            char desc[64];
            describe_ram(ram, desc, sizeof(desc));
            return fail(err, errlen, -ENOSPC,
                        "no room for the multiboot information (0x%llx bytes, with a %zu-byte "
                        "command line) in %s below 4 GiB",
                        (unsigned long long)l.size, cmdline_len, desc);
        }
        l.addr = a;
    }
    uint8_t *info = lapis_ram_ptr(ram, l.addr, l.size);
    if (!info)
        return fail(err, errlen, -ENOSPC, "multiboot information does not fit in guest RAM");
    if (l.addr + l.size > highest)
        highest = l.addr + l.size;

    /* Everything is checked and placed: now write. */
    if (k.aout) {
        uint8_t *dst = lapis_ram_ptr(ram, k.lo, k.hi - k.lo);
        if (!dst)
            return fail(err, errlen, -ENOSPC, "kernel does not fit in guest RAM");
        memcpy(dst, image + k.text_off, (size_t)k.load_size);
        memset(dst + k.load_size, 0, (size_t)(k.hi - k.lo - k.load_size));
    } else {
        rc = lapis_elf_load(ram, image, image_len, &k.elf, err, errlen);
        if (rc)
            return rc;
    }
    if (have_module && initrd_len)
        memcpy(lapis_ram_ptr(ram, mod_start, initrd_len), initrd, initrd_len);
    write_info(ram, &l, info, cmdline, cmdline_len, have_module, mod_start, mod_end);

    memset(out, 0, sizeof(*out));
    out->mode = LAPIS_CPU_PROTECTED32;
    out->rip = k.entry;
    out->rax = LAPIS_MULTIBOOT_BOOTLOADER_MAGIC;
    out->rbx = l.addr;
    out->highest_loaded = highest;
    return 0;
}
