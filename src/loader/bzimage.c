/* SPDX-License-Identifier: MIT */
/* Linux boot protocol: bzImage and vmlinux, boot_params, e820, initrd. */
#include "bzimage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf.h"
#include "unpack.h"
#include "bytes.h"
#include "fail.h"

#define MIB (1ull << 20)

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

/* ---- e820 ---------------------------------------------------------------- */

static int e820_push(struct lapis_e820_entry *out, unsigned *n, unsigned max, uint64_t addr,
                     uint64_t size, uint32_t type)
{
    if (!size)
        return 0;
    if (*n >= max)
        return -ENOSPC;
    out[*n] = (struct lapis_e820_entry){addr, size, type};
    (*n)++;
    return 0;
}

int lapis_e820_build(const struct lapis_guest_ram *ram, const struct lapis_e820_entry *extra,
                     unsigned nextra, struct lapis_e820_entry *out, unsigned max)
{
    if (!ram || !out || (nextra && !extra))
        return -EINVAL;
    unsigned n = 0;
    int rc = 0;
    uint64_t low = ram->low ? ram->low_size : 0;
    uint64_t base_end = low < LAPIS_E820_HOLE_START ? low : LAPIS_E820_HOLE_START;
    rc |= e820_push(out, &n, max, 0, base_end, LAPIS_E820_RAM);
    rc |= e820_push(out, &n, max, LAPIS_E820_HOLE_START,
                    LAPIS_E820_HOLE_END - LAPIS_E820_HOLE_START, LAPIS_E820_RESERVED);
    if (low > LAPIS_E820_HOLE_END)
        rc |=
            e820_push(out, &n, max, LAPIS_E820_HOLE_END, low - LAPIS_E820_HOLE_END, LAPIS_E820_RAM);
    if (ram->high && ram->high_size)
        rc |= e820_push(out, &n, max, LAPIS_RAM_HIGH_BASE, ram->high_size, LAPIS_E820_RAM);
    if (rc)
        return -ENOSPC;

    for (unsigned x = 0; x < nextra; x++) {
        const struct lapis_e820_entry *e = &extra[x];
        if (!e->size || e->addr + e->size < e->addr || !e->type)
            return -EINVAL;
        uint64_t xa = e->addr, xe = e->addr + e->size;
        /* Carve [xa, xe) out of every entry it overlaps. */
        for (unsigned i = 0; i < n; i++) {
            uint64_t a = out[i].addr, end = out[i].addr + out[i].size;
            if (!(xa < end && a < xe))
                continue;
            uint32_t t = out[i].type;
            if (a < xa && end > xe) { /* split in two */
                out[i].size = xa - a;
                if (e820_push(out, &n, max, xe, end - xe, t))
                    return -ENOSPC;
            } else if (a < xa) {
                out[i].size = xa - a;
            } else if (end > xe) {
                out[i].addr = xe;
                out[i].size = end - xe;
            } else { /* swallowed: drop it */
                out[i] = out[n - 1];
                n--;
                i--;
            }
        }
        if (e820_push(out, &n, max, xa, e->size, e->type))
            return -ENOSPC;
    }
    /* Insertion sort: a handful of entries. */
    for (unsigned i = 1; i < n; i++) {
        struct lapis_e820_entry t = out[i];
        unsigned j = i;
        while (j > 0 && out[j - 1].addr > t.addr) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = t;
    }
    return (int)n;
}

/* ---- setup header --------------------------------------------------------- */

bool lapis_bzimage_is_bzimage(const uint8_t *img, size_t len)
{
    return img && len >= LAPIS_SETUP_HEADER + 4 &&
           get_le16(img + LAPIS_SETUP_BOOT_FLAG) == 0xAA55 &&
           get_le32(img + LAPIS_SETUP_HEADER) == LAPIS_SETUP_MAGIC;
}

int lapis_bzimage_parse(const uint8_t *img, size_t len, struct lapis_bzimage_info *info, char *err,
                        size_t errlen)
{
    if (!img || !info)
        return fail(err, errlen, -EINVAL, "bzImage: missing image");
    memset(info, 0, sizeof(*info));
    if (len < LAPIS_SETUP_END_MAX)
        return fail(err, errlen, -ENOEXEC,
                    "kernel file is %zu bytes, too short for a Linux setup header", len);
    if (get_le32(img + LAPIS_SETUP_HEADER) != LAPIS_SETUP_MAGIC)
        return fail(err, errlen, -ENOEXEC,
                    "kernel file has no \"HdrS\" magic at 0x202: not a bzImage (or vmlinux ELF)");
    if (get_le16(img + LAPIS_SETUP_BOOT_FLAG) != LAPIS_BOOT_FLAG_MAGIC)
        return fail(err, errlen, -ENOEXEC, "bzImage boot_flag at 0x1FE is 0x%04x, not 0xAA55",
                    get_le16(img + LAPIS_SETUP_BOOT_FLAG));
    info->version = get_le16(img + LAPIS_SETUP_VERSION);
    unsigned maj = info->version >> 8, min = info->version & 0xFF;
    if (info->version < LAPIS_BOOT_PROTO_MIN)
        return fail(err, errlen, -EOPNOTSUPP,
                    "Linux boot protocol %u.%02u is unsupported: lapis needs 2.12 or later "
                    "(Linux 3.8+)",
                    maj, min);
    if (info->version < LAPIS_BOOT_PROTO_64BIT)
        return fail(err, errlen, -EOPNOTSUPP,
                    "Linux boot protocol %u.%02u has no 64-bit entry (xloadflags came in 2.12, "
                    "Linux 3.8): lapis enters kernels in long mode only",
                    maj, min);
    info->header_end = LAPIS_SETUP_JUMP + 2 + img[LAPIS_SETUP_JUMP + 1];
    if (info->header_end < LAPIS_SETUP_INIT_SIZE + 4 || info->header_end > LAPIS_SETUP_END_MAX)
        return fail(err, errlen, -ENOEXEC,
                    "bzImage setup header ends at 0x%x, outside 0x264..0x290: corrupt header",
                    info->header_end);
    info->setup_sects = img[LAPIS_SETUP_SECTS] ? img[LAPIS_SETUP_SECTS] : 4;
    info->loadflags = img[LAPIS_SETUP_LOADFLAGS];
    info->xloadflags = get_le16(img + LAPIS_SETUP_XLOADFLAGS);
    info->relocatable = img[LAPIS_SETUP_RELOCATABLE] != 0;
    info->kernel_alignment = get_le32(img + LAPIS_SETUP_KERNEL_ALIGN);
    info->initrd_addr_max = get_le32(img + LAPIS_SETUP_INITRD_MAX);
    info->cmdline_size = get_le32(img + LAPIS_SETUP_CMDLINE_SIZE);
    info->pref_address = get_le64(img + LAPIS_SETUP_PREF_ADDRESS);
    info->init_size = get_le32(img + LAPIS_SETUP_INIT_SIZE);

    if (!(info->loadflags & LAPIS_LOADFLAG_LOADED_HIGH))
        return fail(err, errlen, -EOPNOTSUPP,
                    "kernel is a zImage (LOADED_HIGH clear): lapis loads bzImages only");
    if (!(info->xloadflags & LAPIS_XLF_KERNEL_64))
        return fail(err, errlen, -EOPNOTSUPP,
                    "kernel has no 64-bit entry point (XLF_KERNEL_64 clear): a 32-bit kernel? "
                    "lapis boots x86-64 kernels");
    uint32_t al = info->kernel_alignment;
    if (al == 0 || (al & (al - 1)))
        return fail(err, errlen, -ENOEXEC,
                    "bzImage kernel_alignment 0x%x is not a power of two: corrupt header", al);
    if (info->pref_address & (al - 1) && info->relocatable)
        return fail(err, errlen, -ENOEXEC,
                    "bzImage pref_address 0x%llx is not aligned to kernel_alignment 0x%x",
                    (unsigned long long)info->pref_address, al);

    info->kernel_offset = (uint64_t)(info->setup_sects + 1) * 512;
    uint32_t syssize = get_le32(img + LAPIS_SETUP_SYSSIZE);
    info->kernel_size = (uint64_t)syssize * 16;
    if (info->kernel_offset >= len || info->kernel_size == 0 ||
        info->kernel_size > len - info->kernel_offset)
        return fail(err, errlen, -ENOEXEC,
                    "bzImage is truncated: %u setup sectors and syssize %u need %llu bytes, the "
                    "file has %zu",
                    info->setup_sects, syssize,
                    (unsigned long long)(info->kernel_offset + info->kernel_size), len);
    uint32_t poff = get_le32(img + LAPIS_SETUP_PAYLOAD_OFF),
             plen = get_le32(img + LAPIS_SETUP_PAYLOAD_LEN);
    if ((uint64_t)poff + plen > info->kernel_size)
        return fail(err, errlen, -ENOEXEC,
                    "bzImage payload (offset 0x%x, length 0x%x) lies outside the protected-mode "
                    "kernel (0x%llx bytes)",
                    poff, plen, (unsigned long long)info->kernel_size);
    info->payload_offset = info->kernel_offset + poff;
    info->payload_length = plen;
    if (info->init_size < info->kernel_size)
        return fail(err, errlen, -ENOEXEC,
                    "bzImage init_size 0x%x is smaller than the kernel itself (0x%llx)",
                    info->init_size, (unsigned long long)info->kernel_size);
    return 0;
}

/* ---- boot_params ------------------------------------------------------------ */

/* Everything decided before RAM is touched. */
struct plan {
    uint64_t kernel_addr, kernel_end;
    uint64_t initrd_addr;
    uint64_t cmdline_len;
    uint32_t initrd_addr_max;
    uint32_t cmdline_size;
};

static bool in_low_ram(const struct lapis_guest_ram *ram, uint64_t addr, uint64_t len)
{
    return ram->low && addr + len >= addr && addr + len <= ram->low_size;
}

/* Checks the kernel range, the command line and places the initrd. */
static int plan_rest(const struct lapis_guest_ram *ram, const struct lapis_linux_config *cfg,
                     struct plan *pl, struct lapis_linux_layout *lo, char *err, size_t errlen)
{
    if (pl->kernel_addr < LAPIS_E820_HOLE_END)
        return fail(err, errlen, -ENOEXEC,
                    "kernel wants to load at 0x%llx, below 1 MiB where the boot data lives",
                    (unsigned long long)pl->kernel_addr);
    if (!in_low_ram(ram, pl->kernel_addr, pl->kernel_end - pl->kernel_addr))
        return fail(err, errlen, -ENOSPC,
                    "kernel needs 0x%llx-0x%llx (%llu MiB up to its init_size) but guest RAM below "
                    "4 GiB ends at 0x%llx: give the guest more memory (--memory)",
                    (unsigned long long)pl->kernel_addr, (unsigned long long)pl->kernel_end,
                    (unsigned long long)((pl->kernel_end + MIB - 1) / MIB),
                    (unsigned long long)(ram->low ? ram->low_size : 0));
    for (unsigned i = 0; i < cfg->nreserved; i++) {
        const struct lapis_e820_entry *r = &cfg->reserved[i];
        if (overlaps(pl->kernel_addr, pl->kernel_end - pl->kernel_addr, r->addr, r->size))
            return fail(err, errlen, -ENOSPC,
                        "kernel range 0x%llx-0x%llx overlaps reserved range 0x%llx-0x%llx",
                        (unsigned long long)pl->kernel_addr, (unsigned long long)pl->kernel_end,
                        (unsigned long long)r->addr, (unsigned long long)(r->addr + r->size));
    }

    const char *cmd = cfg->cmdline ? cfg->cmdline : "";
    size_t clen = strnlen(cmd, LAPIS_LINUX_CMDLINE_MAX);
    uint64_t cmax = pl->cmdline_size;
    if (cmax > LAPIS_LINUX_CMDLINE_MAX - 1)
        cmax = LAPIS_LINUX_CMDLINE_MAX - 1;
    if (clen > cmax)
        return fail(err, errlen, -E2BIG,
                    "kernel command line is %zu%s bytes; this kernel accepts at most %llu", clen,
                    clen >= LAPIS_LINUX_CMDLINE_MAX ? "+" : "", (unsigned long long)cmax);
    if (!lapis_ram_ptr(ram, LAPIS_LINUX_CMDLINE_ADDR, clen + 1) ||
        !lapis_ram_ptr(ram, LAPIS_LINUX_BOOT_PARAMS, LAPIS_BP_SIZE))
        return fail(err, errlen, -ENOSPC, "guest RAM does not cover the boot area below 1 MiB");
    pl->cmdline_len = clen;

    pl->initrd_addr = 0;
    if (cfg->initrd_size) {
        if (!cfg->initrd)
            return fail(err, errlen, -EINVAL, "initrd size given without data");
        uint64_t size = cfg->initrd_size;
        uint64_t top = ram->low_size;
        uint64_t amax = (uint64_t)pl->initrd_addr_max + 1;
        if (top > amax)
            top = amax;
        uint64_t addr = 0;
        bool placed = false;
        /* Highest page-aligned spot below top that misses every reserved range. */
        while (top >= size && top - size >= pl->kernel_end) {
            addr = (top - size) & ~0xFFFull;
            if (addr < pl->kernel_end)
                break;
            bool clash = false;
            for (unsigned i = 0; i < cfg->nreserved; i++) {
                const struct lapis_e820_entry *r = &cfg->reserved[i];
                if (overlaps(addr, size, r->addr, r->size)) {
                    top = r->addr;
                    clash = true;
                    break;
                }
            }
            if (!clash) {
                placed = true;
                break;
            }
        }
        if (!placed)
            return fail(err, errlen, -ENOSPC,
                        "initrd of %llu KiB does not fit between the kernel's end (0x%llx) and "
                        "0x%llx (initrd_addr_max 0x%x, top of RAM below 4 GiB): give the guest "
                        "more memory",
                        (unsigned long long)(size >> 10), (unsigned long long)pl->kernel_end,
                        (unsigned long long)(ram->low_size < amax ? ram->low_size : amax),
                        pl->initrd_addr_max);
        pl->initrd_addr = addr;
    }

    int n = lapis_e820_build(ram, cfg->reserved, cfg->nreserved, lo->e820, LAPIS_E820_MAX);
    if (n == -EINVAL)
        return fail(err, errlen, -EINVAL, "a reserved e820 range is empty or wraps");
    if (n < 0)
        return fail(err, errlen, -ENOSPC, "more than %u e820 entries", LAPIS_E820_MAX);
    lo->e820_entries = (unsigned)n;
    return 0;
}

/* The minimal setup header a bare vmlinux gets (boot_params offsets). */
static void synth_header(uint8_t *bp)
{
    put_le16(bp + LAPIS_SETUP_BOOT_FLAG, LAPIS_BOOT_FLAG_MAGIC);
    bp[LAPIS_SETUP_JUMP + 1] = (uint8_t)(LAPIS_SETUP_INIT_SIZE + 4 - (LAPIS_SETUP_JUMP + 2));
    put_le32(bp + LAPIS_SETUP_HEADER, LAPIS_SETUP_MAGIC);
    put_le16(bp + LAPIS_SETUP_VERSION, LAPIS_BOOT_PROTO_SYNTH);
    put_le16(bp + LAPIS_SETUP_VID_MODE, 0xFFFF);
    bp[LAPIS_SETUP_LOADFLAGS] = LAPIS_LOADFLAG_LOADED_HIGH;
    put_le32(bp + LAPIS_SETUP_INITRD_MAX, 0x7FFFFFFF);
    put_le32(bp + LAPIS_SETUP_KERNEL_ALIGN, 0x200000);
    bp[LAPIS_SETUP_RELOCATABLE] = 0;
    put_le16(bp + LAPIS_SETUP_XLOADFLAGS, LAPIS_XLF_KERNEL_64);
    put_le32(bp + LAPIS_SETUP_CMDLINE_SIZE, LAPIS_VMLINUX_CMDLINE_SIZE);
}

/*
 * Writes boot_params (with @hdr/@hdr_end: the image's setup header, or a
 * synthesised one), the command line and the initrd. Cannot fail: the plan
 * checked every range.
 */
static void write_boot_data(const struct lapis_guest_ram *ram, const uint8_t *hdr_img,
                            uint32_t hdr_end, const struct lapis_linux_config *cfg,
                            const struct plan *pl, struct lapis_linux_layout *lo)
{
    uint8_t *bp = lapis_ram_ptr(ram, LAPIS_LINUX_BOOT_PARAMS, LAPIS_BP_SIZE);
    memset(bp, 0, LAPIS_BP_SIZE);
    if (hdr_img)
        memcpy(bp + LAPIS_SETUP_SECTS, hdr_img + LAPIS_SETUP_SECTS, hdr_end - LAPIS_SETUP_SECTS);
    else
        synth_header(bp);
    bp[LAPIS_SETUP_LOADER_TYPE] = LAPIS_LOADER_TYPE_UNKNOWN;
    bp[LAPIS_SETUP_LOADFLAGS] |= LAPIS_LOADFLAG_LOADED_HIGH;

    const char *cmd = cfg->cmdline ? cfg->cmdline : "";
    uint8_t *cl = lapis_ram_ptr(ram, LAPIS_LINUX_CMDLINE_ADDR, pl->cmdline_len + 1);
    memcpy(cl, cmd, pl->cmdline_len);
    cl[pl->cmdline_len] = 0;
    put_le32(bp + LAPIS_SETUP_CMD_LINE_PTR, (uint32_t)LAPIS_LINUX_CMDLINE_ADDR);
    put_le32(bp + LAPIS_BP_EXT_CMD_LINE, 0);

    if (cfg->initrd_size) {
        uint8_t *dst = lapis_ram_ptr(ram, pl->initrd_addr, cfg->initrd_size);
        memcpy(dst, cfg->initrd, cfg->initrd_size);
        put_le32(bp + LAPIS_SETUP_RAMDISK_IMG, (uint32_t)pl->initrd_addr);
        put_le32(bp + LAPIS_SETUP_RAMDISK_SIZE, (uint32_t)cfg->initrd_size);
        put_le32(bp + LAPIS_BP_EXT_RAMDISK, (uint32_t)(pl->initrd_addr >> 32));
        put_le32(bp + LAPIS_BP_EXT_RAMDISK + 4, (uint32_t)(cfg->initrd_size >> 32));
    } else {
        put_le32(bp + LAPIS_SETUP_RAMDISK_IMG, 0);
        put_le32(bp + LAPIS_SETUP_RAMDISK_SIZE, 0);
    }
    put_le64(bp + LAPIS_BP_ACPI_RSDP, cfg->acpi_rsdp);

    bp[LAPIS_BP_E820_ENTRIES] = (uint8_t)lo->e820_entries;
    for (unsigned i = 0; i < lo->e820_entries; i++) {
        uint8_t *e = bp + LAPIS_BP_E820_TABLE + i * LAPIS_E820_ENTRY_BYTES;
        put_le64(e, lo->e820[i].addr);
        put_le64(e + 8, lo->e820[i].size);
        put_le32(e + 16, lo->e820[i].type);
    }

    lo->boot_params = LAPIS_LINUX_BOOT_PARAMS;
    lo->cmdline_addr = LAPIS_LINUX_CMDLINE_ADDR;
    lo->cmdline_len = pl->cmdline_len;
    lo->initrd_addr = cfg->initrd_size ? pl->initrd_addr : 0;
    lo->initrd_size = cfg->initrd_size;
    lo->kernel_addr = pl->kernel_addr;
    lo->kernel_end = pl->kernel_end;
}

static const struct lapis_linux_config empty_cfg;

static int finish_entry(const struct lapis_guest_ram *ram, uint64_t rip,
                        struct lapis_linux_layout *lo, char *err, size_t errlen)
{
    int rc = lapis_linux_entry_setup(ram, rip, LAPIS_LINUX_BOOT_PARAMS, &lo->entry, err, errlen);
    if (rc)
        return rc;
    uint64_t hi = lo->kernel_end;
    if (lo->initrd_size && lo->initrd_addr + lo->initrd_size > hi)
        hi = lo->initrd_addr + lo->initrd_size;
    lo->entry.regs.highest_loaded = hi;
    return 0;
}

int lapis_bzimage_load(const struct lapis_guest_ram *ram, const uint8_t *img, size_t len,
                       const struct lapis_linux_config *cfg, struct lapis_linux_layout *lo,
                       char *err, size_t errlen)
{
    if (!ram || !img || !lo)
        return fail(err, errlen, -EINVAL, "bzImage: missing RAM, image or layout");
    if (!cfg)
        cfg = &empty_cfg;
    struct lapis_bzimage_info info;
    int rc = lapis_bzimage_parse(img, len, &info, err, errlen);
    if (rc)
        return rc;
    memset(lo, 0, sizeof(*lo));
    struct plan pl = {0};
    /* pref_address is where a relocatable kernel decompresses anyway (its minimum). */
    pl.kernel_addr = info.pref_address;
    if (pl.kernel_addr > UINT64_MAX - info.init_size)
        return fail(err, errlen, -ENOEXEC, "bzImage pref_address 0x%llx wraps",
                    (unsigned long long)pl.kernel_addr);
    pl.kernel_end = pl.kernel_addr + info.init_size;
    pl.initrd_addr_max = info.initrd_addr_max;
    pl.cmdline_size = info.cmdline_size;
    if ((rc = plan_rest(ram, cfg, &pl, lo, err, errlen)) != 0)
        return rc;

    uint8_t *dst = lapis_ram_ptr(ram, pl.kernel_addr, info.kernel_size);
    memcpy(dst, img + info.kernel_offset, info.kernel_size);
    write_boot_data(ram, img, info.header_end, cfg, &pl, lo);
    lo->kind = LAPIS_LINUX_BZIMAGE;
    lo->protocol = info.version;
    lo->compression = lapis_compression_detect(img + info.payload_offset, info.payload_length);
    return finish_entry(ram, pl.kernel_addr + 0x200, lo, err, errlen);
}

/* ---- vmlinux ---------------------------------------------------------------- */

/*
 * vmlinux's e_entry is physical (phys_startup_64), which lapis_elf_check()
 * (entry by p_vaddr) rejects; so the PT_LOAD checks are done here, on the
 * header and program headers that elf.c parses.
 */
struct vmlinux_info {
    struct lapis_elf_info elf;
    uint64_t entry, load_lo, load_hi;
};

static int vmlinux_check(const struct lapis_guest_ram *ram, const uint8_t *img, size_t len,
                         struct vmlinux_info *vi, char *err, size_t errlen)
{
    char eerr[160];
    int rc = lapis_elf_parse(img, len, &vi->elf, eerr, sizeof(eerr));
    if (rc)
        return fail(err, errlen, rc, "vmlinux: %s", eerr);
    if (!vi->elf.is64 || vi->elf.machine != LAPIS_ELF_EM_X86_64)
        return fail(err, errlen, -ENOEXEC,
                    "vmlinux is not an x86-64 ELF64 (a 32-bit kernel?): lapis boots x86-64 "
                    "kernels");
    uint64_t lo = UINT64_MAX, hi = 0, by_paddr = 0, by_vaddr = 0;
    bool have_p = false, have_v = false;
    unsigned nload = 0;
    for (uint32_t i = 0; i < vi->elf.phnum; i++) {
        struct lapis_elf_phdr ph;
        lapis_elf_phdr(img, &vi->elf, i, &ph);
        if (ph.type != LAPIS_ELF_PT_LOAD || ph.memsz == 0)
            continue;
        if (ph.filesz > ph.memsz || ph.offset > len || ph.filesz > len - ph.offset)
            return fail(err, errlen, -ENOEXEC,
                        "vmlinux segment %u: file bytes 0x%llx+0x%llx outside the %zu-byte file "
                        "(truncated?)",
                        i, (unsigned long long)ph.offset, (unsigned long long)ph.filesz, len);
        if (ph.paddr + ph.memsz < ph.paddr || !lapis_ram_ptr(ram, ph.paddr, ph.memsz))
            return fail(err, errlen, -ENOSPC,
                        "vmlinux segment %u (0x%llx-0x%llx) is not inside guest RAM: give the "
                        "guest more memory",
                        i, (unsigned long long)ph.paddr, (unsigned long long)(ph.paddr + ph.memsz));
        for (uint32_t j = 0; j < i; j++) {
            struct lapis_elf_phdr o;
            lapis_elf_phdr(img, &vi->elf, j, &o);
            if (o.type == LAPIS_ELF_PT_LOAD && overlaps(ph.paddr, ph.memsz, o.paddr, o.memsz))
                return fail(err, errlen, -ENOEXEC, "vmlinux segments %u and %u overlap", j, i);
        }
        nload++;
        if (ph.paddr < lo)
            lo = ph.paddr;
        if (ph.paddr + ph.memsz > hi)
            hi = ph.paddr + ph.memsz;
        uint64_t e = vi->elf.entry;
        if (!have_p && e >= ph.paddr && e - ph.paddr < ph.memsz) {
            have_p = true;
            by_paddr = e;
        }
        if (!have_v && e >= ph.vaddr && e - ph.vaddr < ph.memsz) {
            have_v = true;
            by_vaddr = ph.paddr + (e - ph.vaddr);
        }
    }
    if (!nload)
        return fail(err, errlen, -ENOEXEC, "vmlinux has no loadable segment");
    if (!have_p && !have_v)
        return fail(err, errlen, -ENOEXEC, "vmlinux entry 0x%llx is inside none of its segments",
                    (unsigned long long)vi->elf.entry);
    vi->entry = have_p ? by_paddr : by_vaddr;
    vi->load_lo = lo;
    vi->load_hi = hi;
    return 0;
}

static void vmlinux_copy(const struct lapis_guest_ram *ram, const uint8_t *img,
                         const struct vmlinux_info *vi)
{
    for (uint32_t i = 0; i < vi->elf.phnum; i++) {
        struct lapis_elf_phdr ph;
        lapis_elf_phdr(img, &vi->elf, i, &ph);
        if (ph.type != LAPIS_ELF_PT_LOAD || ph.memsz == 0)
            continue;
        uint8_t *dst = lapis_ram_ptr(ram, ph.paddr, ph.memsz);
        memcpy(dst, img + ph.offset, (size_t)ph.filesz);
        memset(dst + ph.filesz, 0, (size_t)(ph.memsz - ph.filesz));
    }
}

int lapis_vmlinux_load(const struct lapis_guest_ram *ram, const uint8_t *elf, size_t len,
                       const uint8_t *setup, size_t setup_len, const struct lapis_linux_config *cfg,
                       struct lapis_linux_layout *lo, char *err, size_t errlen)
{
    if (!ram || !elf || !lo)
        return fail(err, errlen, -EINVAL, "vmlinux: missing RAM, image or layout");
    if (!cfg)
        cfg = &empty_cfg;
    struct lapis_bzimage_info info;
    int rc;
    if (setup && (rc = lapis_bzimage_parse(setup, setup_len, &info, err, errlen)) != 0)
        return rc;

    struct vmlinux_info ei;
    if ((rc = vmlinux_check(ram, elf, len, &ei, err, errlen)) != 0)
        return rc;

    memset(lo, 0, sizeof(*lo));
    struct plan pl = {0};
    pl.kernel_addr = ei.load_lo;
    pl.kernel_end = ei.load_hi;
    if (setup) {
        /* The decompressor's init_size covers the kernel's early needs too. */
        if (info.pref_address == ei.load_lo && info.pref_address + info.init_size > pl.kernel_end)
            pl.kernel_end = info.pref_address + info.init_size;
        pl.initrd_addr_max = info.initrd_addr_max;
        pl.cmdline_size = info.cmdline_size;
    } else {
        pl.initrd_addr_max = 0x7FFFFFFF;
        pl.cmdline_size = LAPIS_VMLINUX_CMDLINE_SIZE;
    }
    if (pl.kernel_end > LAPIS_RAM_HIGH_BASE)
        return fail(err, errlen, -ENOSPC, "vmlinux reaches past 4 GiB (0x%llx)",
                    (unsigned long long)pl.kernel_end);
    if ((rc = plan_rest(ram, cfg, &pl, lo, err, errlen)) != 0)
        return rc;
    vmlinux_copy(ram, elf, &ei);
    write_boot_data(ram, setup, setup ? info.header_end : 0, cfg, &pl, lo);
    lo->kind = setup ? LAPIS_LINUX_UNPACKED : LAPIS_LINUX_VMLINUX;
    lo->protocol = setup ? info.version : LAPIS_BOOT_PROTO_SYNTH;
    lo->compression = LAPIS_COMP_NONE;
    lo->unpacked_size = len;
    return finish_entry(ram, ei.entry, lo, err, errlen);
}

int lapis_linux_load(const struct lapis_guest_ram *ram, const uint8_t *img, size_t len,
                     const struct lapis_linux_config *cfg, struct lapis_linux_layout *lo, char *err,
                     size_t errlen)
{
    if (!ram || !img || !lo)
        return fail(err, errlen, -EINVAL, "kernel: missing RAM, image or layout");
    if (!cfg)
        cfg = &empty_cfg;
    if (lapis_elf_is_elf(img, len))
        return lapis_vmlinux_load(ram, img, len, NULL, 0, cfg, lo, err, errlen);
    if (!lapis_bzimage_is_bzimage(img, len))
        return fail(err, errlen, -ENOEXEC,
                    "kernel file is neither a bzImage (no \"HdrS\" at 0x202) nor an ELF vmlinux");
    struct lapis_bzimage_info info;
    int rc = lapis_bzimage_parse(img, len, &info, err, errlen);
    if (rc)
        return rc;
    enum lapis_compression comp =
        lapis_compression_detect(img + info.payload_offset, info.payload_length);
    if (cfg->no_unpack && comp != LAPIS_COMP_NONE)
        return lapis_bzimage_load(ram, img, len, cfg, lo, err, errlen);

    uint8_t *vm = NULL;
    size_t vmlen = 0;
    rc = lapis_unpack_bzimage(img, len, cfg->unpack_limit, &vm, &vmlen, &comp, err, errlen);
    if (rc)
        return rc;
    if (!lapis_elf_is_elf(vm, vmlen)) {
        free(vm);
        return fail(err, errlen, -ENOEXEC,
                    "bzImage payload unpacked (%s) but is not an ELF vmlinux; pass --no-unpack",
                    lapis_compression_name(comp));
    }
    rc = lapis_vmlinux_load(ram, vm, vmlen, img, len, cfg, lo, err, errlen);
    free(vm);
    if (rc == 0)
        lo->compression = comp;
    return rc;
}
