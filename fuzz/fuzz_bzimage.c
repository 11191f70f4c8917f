/* SPDX-License-Identifier: MIT */
/*
 * Linux loader (lapis_linux_load: bzImage, unpacked on the host or entered
 * at its 64-bit entry, or an ELF vmlinux): the input is the kernel file,
 * loaded into 4 MiB of guest RAM (sometimes 64 KiB more at 4 GiB). The
 * command line, initrd, a reserved e820 range and --no-unpack follow the
 * input length, so the file stays an ordinary kernel. Unpacking is capped
 * at 2 MiB.
 * Invariants: a failure is one of the documented errors with a message and
 * RAM untouched; a success has the long-mode entry state with rsi at
 * boot_params, the kernel (bzImage bytes, or each vmlinux segment) at
 * kernel_addr inside [kernel_addr, kernel_end) in RAM above 1 MiB, the
 * command line and initrd intact and clear of the kernel and the reserved
 * range, and an e820 map in boot_params that is sorted, disjoint, and
 * matches the layout.
 */
#include "fuzz_ram.h"

#include <errno.h>

#include "loader/bzimage.h"
#include "loader/elf.h"
#include "loader/unpack.h"

#define BZ_FUZZ_RAM (4ull << 20)

static uint64_t bz_fuzz_rd(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static bool bz_fuzz_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

static void bz_fuzz_check_e820(const struct lapis_guest_ram *ram,
                               const struct lapis_linux_layout *lo, const uint8_t *bp)
{
    FUZZ_ASSERT(lo->e820_entries >= 1 && lo->e820_entries <= LAPIS_E820_MAX);
    FUZZ_ASSERT(bp[LAPIS_BP_E820_ENTRIES] == lo->e820_entries);
    for (unsigned i = 0; i < lo->e820_entries && i < LAPIS_E820_MAX; i++) {
        const struct lapis_e820_entry *e = &lo->e820[i];
        const uint8_t *t = bp + LAPIS_BP_E820_TABLE + i * LAPIS_E820_ENTRY_BYTES;
        FUZZ_ASSERT(bz_fuzz_rd(t, 8) == e->addr && bz_fuzz_rd(t + 8, 8) == e->size &&
                    bz_fuzz_rd(t + 16, 4) == e->type);
        FUZZ_ASSERT(e->size > 0 && e->addr + e->size > e->addr);
        if (i)
            FUZZ_ASSERT(lo->e820[i - 1].addr + lo->e820[i - 1].size <= e->addr);
        if (e->type == LAPIS_E820_RAM)
            FUZZ_ASSERT(lapis_ram_ptr(ram, e->addr, e->size) != NULL);
    }
}

static void bz_fuzz_check_ok(const struct lapis_guest_ram *ram, const uint8_t *img, size_t len,
                             const struct lapis_linux_config *cfg,
                             const struct lapis_linux_layout *lo)
{
    FUZZ_ASSERT(lo->kind == LAPIS_LINUX_BZIMAGE || lo->kind == LAPIS_LINUX_VMLINUX ||
                lo->kind == LAPIS_LINUX_UNPACKED);
    FUZZ_ASSERT(lo->entry.regs.mode == LAPIS_CPU_LONG64);
    FUZZ_ASSERT(lo->entry.regs.rsi == lo->boot_params &&
                lo->boot_params == LAPIS_LINUX_BOOT_PARAMS);
    FUZZ_ASSERT(lo->kernel_addr >= LAPIS_E820_HOLE_END && lo->kernel_addr <= lo->kernel_end);
    FUZZ_ASSERT(lo->kernel_end <= ram->low_size);
    FUZZ_ASSERT(lo->entry.regs.highest_loaded >= lo->kernel_end);
    for (unsigned i = 0; i < cfg->nreserved; i++)
        FUZZ_ASSERT(!bz_fuzz_overlap(lo->kernel_addr, lo->kernel_end - lo->kernel_addr,
                                     cfg->reserved[i].addr, cfg->reserved[i].size));

    const uint8_t *bp = lapis_ram_ptr(ram, lo->boot_params, LAPIS_BP_SIZE);
    FUZZ_ASSERT(bp != NULL);
    if (!bp)
        return;
    FUZZ_ASSERT(bz_fuzz_rd(bp + LAPIS_SETUP_HEADER, 4) == LAPIS_SETUP_MAGIC);
    FUZZ_ASSERT(bp[LAPIS_SETUP_LOADFLAGS] & LAPIS_LOADFLAG_LOADED_HIGH);
    FUZZ_ASSERT(bz_fuzz_rd(bp + LAPIS_SETUP_CMD_LINE_PTR, 4) == lo->cmdline_addr);

    /* Command line. */
    const char *cmd = cfg->cmdline ? cfg->cmdline : "";
    FUZZ_ASSERT(lo->cmdline_len == strlen(cmd));
    const uint8_t *cl = lapis_ram_ptr(ram, lo->cmdline_addr, lo->cmdline_len + 1);
    FUZZ_ASSERT(cl && memcmp(cl, cmd, lo->cmdline_len + 1) == 0);

    /* Initrd. */
    FUZZ_ASSERT(lo->initrd_size == cfg->initrd_size);
    if (cfg->initrd_size) {
        FUZZ_ASSERT((lo->initrd_addr & 0xFFF) == 0 && lo->initrd_addr >= lo->kernel_end);
        FUZZ_ASSERT(bz_fuzz_rd(bp + LAPIS_SETUP_RAMDISK_IMG, 4) == (uint32_t)lo->initrd_addr);
        FUZZ_ASSERT(bz_fuzz_rd(bp + LAPIS_SETUP_RAMDISK_SIZE, 4) == (uint32_t)lo->initrd_size);
        for (unsigned i = 0; i < cfg->nreserved; i++)
            FUZZ_ASSERT(!bz_fuzz_overlap(lo->initrd_addr, lo->initrd_size, cfg->reserved[i].addr,
                                         cfg->reserved[i].size));
        const uint8_t *rd = lapis_ram_ptr(ram, lo->initrd_addr, lo->initrd_size);
        FUZZ_ASSERT(rd && memcmp(rd, cfg->initrd, (size_t)cfg->initrd_size) == 0);
        FUZZ_ASSERT(lo->entry.regs.highest_loaded >= lo->initrd_addr + lo->initrd_size);
    }
    bz_fuzz_check_e820(ram, lo, bp);

    /* The kernel itself, where the layout says. */
    if (lo->kind == LAPIS_LINUX_BZIMAGE) {
        struct lapis_bzimage_info info;
        FUZZ_ASSERT(lapis_bzimage_parse(img, len, &info, NULL, 0) == 0);
        FUZZ_ASSERT(info.kernel_size <= lo->kernel_end - lo->kernel_addr);
        FUZZ_ASSERT(lo->entry.regs.rip == lo->kernel_addr + 0x200);
        const uint8_t *k = lapis_ram_ptr(ram, lo->kernel_addr, info.kernel_size);
        FUZZ_ASSERT(k && memcmp(k, img + info.kernel_offset, (size_t)info.kernel_size) == 0);
    } else if (lo->kind == LAPIS_LINUX_VMLINUX) {
        struct lapis_elf_info info;
        bool entry_in = false;
        FUZZ_ASSERT(lapis_elf_parse(img, len, &info, NULL, 0) == 0);
        for (uint32_t i = 0; i < info.phnum; i++) {
            struct lapis_elf_phdr ph;
            lapis_elf_phdr(img, &info, i, &ph);
            if (ph.type != LAPIS_ELF_PT_LOAD || !ph.memsz)
                continue;
            FUZZ_ASSERT(ph.paddr >= lo->kernel_addr && ph.paddr + ph.memsz <= lo->kernel_end);
            const uint8_t *s = lapis_ram_ptr(ram, ph.paddr, ph.memsz);
            FUZZ_ASSERT(s && memcmp(s, img + ph.offset, (size_t)ph.filesz) == 0);
            if (lo->entry.regs.rip >= ph.paddr && lo->entry.regs.rip < ph.paddr + ph.memsz)
                entry_in = true;
        }
        FUZZ_ASSERT(entry_in);
    }
}

FUZZ_TARGET(bzimage)
{
    static const char *const cmdlines[4] = {NULL, "console=ttyS0 root=/dev/vda", "", NULL};
    static char long_cmdline[3000];
    static uint8_t initrd[3000];
    static const struct lapis_e820_entry reserved = {0x300000, 0x10000, LAPIS_E820_ACPI};
    static struct lapis_linux_layout lo;
    const struct lapis_guest_ram *ram = fuzz_ram_get(BZ_FUZZ_RAM, (size & 0x40) ? 64u << 10 : 0);
    struct lapis_linux_config cfg = {0};
    char err[256];

    if (!long_cmdline[0]) {
        memset(long_cmdline, 'x', sizeof(long_cmdline) - 1);
        for (size_t i = 0; i < sizeof(initrd); i++)
            initrd[i] = (uint8_t)(i * 13 + 5);
    }
    cfg.cmdline = (size & 3) == 3 ? long_cmdline : cmdlines[size & 3];
    if (size & 4) {
        cfg.initrd = initrd;
        cfg.initrd_size = sizeof(initrd);
    }
    if (size & 8) {
        cfg.reserved = &reserved;
        cfg.nreserved = 1;
    }
    cfg.no_unpack = size & 0x10;
    cfg.unpack_limit = 2u << 20;
    cfg.acpi_rsdp = (size & 0x20) ? 0xE0000 : 0;

    memset(&lo, 0xA5, sizeof(lo));
    int rc = lapis_linux_load(ram, data, size, &cfg, &lo, err, sizeof(err));
    FUZZ_ASSERT(rc == 0 || rc == -ENOEXEC || rc == -EOPNOTSUPP || rc == -ENOSPC || rc == -E2BIG ||
                rc == -EFBIG || rc == -ENOMEM);
    if (rc) {
        FUZZ_ASSERT(fuzz_err_ok(err, sizeof(err)));
        FUZZ_ASSERT(fuzz_ram_untouched(ram));
        return 0;
    }
    bz_fuzz_check_ok(ram, data, size, &cfg, &lo);
    fuzz_ram_restore(ram);
    return 0;
}
