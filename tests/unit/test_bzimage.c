/* SPDX-License-Identifier: MIT */
/* Linux boot protocol loader: synthetic bzImages and vmlinux ELFs in memory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "elf_builder.h"
#include "loader/bytes.h"
#include "loader/bzimage.h"
#include "loader/elf.h"
#include "loader/unpack.h"

#if defined(__has_include)
#if __has_include(<zlib.h>)
#include <zlib.h>
#define HAVE_ZLIB 1
#endif
#endif

#define MIB (1ull << 20)

static struct lapis_guest_ram mkram(uint64_t low)
{
    struct lapis_guest_ram r = {0};
    r.low = calloc(1, low);
    r.low_size = low;
    return r;
}
static void freeram(struct lapis_guest_ram *r)
{
    free(r->low);
    free(r->high);
}

/* A bzImage: 4 setup sectors, then @ksize bytes of protected-mode kernel. */
#define SETUP_SECTS 4u
#define KOFF        ((SETUP_SECTS + 1) * 512u)
#define KSIZE       4096u
#define PREF        0x100000u
#define INIT_SIZE   0x200000u

struct image {
    uint8_t *p;
    size_t len;
};

static struct image mkbz(const uint8_t *payload, size_t plen)
{
    size_t ksize = KSIZE;
    if (plen + 0x100 > ksize)
        ksize = (plen + 0x100 + 15) & ~(size_t)15;
    struct image im = {calloc(1, KOFF + ksize), KOFF + ksize};
    uint8_t *b = im.p;
    b[LAPIS_SETUP_SECTS] = SETUP_SECTS;
    put_le32(b + LAPIS_SETUP_SYSSIZE, (uint32_t)(ksize / 16));
    put_le16(b + LAPIS_SETUP_BOOT_FLAG, 0xAA55);
    b[LAPIS_SETUP_JUMP] = 0xEB;
    b[LAPIS_SETUP_JUMP + 1] = 0x6A; /* header ends at 0x26C */
    put_le32(b + LAPIS_SETUP_HEADER, LAPIS_SETUP_MAGIC);
    put_le16(b + LAPIS_SETUP_VERSION, 0x020F);
    b[LAPIS_SETUP_LOADFLAGS] = LAPIS_LOADFLAG_LOADED_HIGH;
    put_le32(b + LAPIS_SETUP_INITRD_MAX, 0x7FFFFFFF);
    put_le32(b + LAPIS_SETUP_KERNEL_ALIGN, 0x100000);
    b[LAPIS_SETUP_RELOCATABLE] = 1;
    put_le16(b + LAPIS_SETUP_XLOADFLAGS, 0x7F);
    put_le32(b + LAPIS_SETUP_CMDLINE_SIZE, 0x7FF);
    put_le32(b + LAPIS_SETUP_PAYLOAD_OFF, 0x80);
    put_le32(b + LAPIS_SETUP_PAYLOAD_LEN, (uint32_t)(payload ? plen : 0x100));
    put_le64(b + LAPIS_SETUP_PREF_ADDRESS, PREF);
    put_le32(b + LAPIS_SETUP_INIT_SIZE, INIT_SIZE);
    for (size_t i = 0; i < ksize; i++)
        b[KOFF + i] = (uint8_t)(i * 7 + 1);
    if (payload)
        memcpy(b + KOFF + 0x80, payload, plen);
    return im;
}

static char err[256];

static int load(struct lapis_guest_ram *ram, struct image *im, const struct lapis_linux_config *c,
                struct lapis_linux_layout *lo)
{
    err[0] = 0;
    return lapis_bzimage_load(ram, im->p, im->len, c, lo, err, sizeof(err));
}

static uint8_t *gp(struct lapis_guest_ram *ram, uint64_t a)
{
    return lapis_ram_ptr(ram, a, 1);
}

static void test_good_load(void)
{
    struct lapis_guest_ram ram = mkram(64 * MIB);
    struct image im = mkbz(NULL, 0);
    uint8_t initrd[5000];
    for (unsigned i = 0; i < sizeof(initrd); i++)
        initrd[i] = (uint8_t)(i ^ 0x5A);
    struct lapis_linux_config c = {.cmdline = "console=ttyS0 quiet",
                                   .initrd = initrd,
                                   .initrd_size = sizeof(initrd),
                                   .acpi_rsdp = 0xE0000};
    static struct lapis_linux_layout lo;
    CHECK_EQ(load(&ram, &im, &c, &lo), 0);
    CHECK_EQ(lo.kind, LAPIS_LINUX_BZIMAGE);
    CHECK_EQ(lo.protocol, 0x020F);
    CHECK_EQ(lo.kernel_addr, PREF);
    CHECK_EQ(lo.kernel_end, PREF + INIT_SIZE);
    CHECK(memcmp(gp(&ram, PREF), im.p + KOFF, KSIZE) == 0);

    uint8_t *bp = gp(&ram, LAPIS_LINUX_BOOT_PARAMS);
    CHECK_EQ(lo.boot_params, LAPIS_LINUX_BOOT_PARAMS);
    /* Header copied from 0x1F1 to its end, loader fields filled. */
    CHECK(memcmp(bp + LAPIS_SETUP_VERSION, im.p + LAPIS_SETUP_VERSION, 2) == 0);
    CHECK_EQ(get_le32(bp + LAPIS_SETUP_HEADER), LAPIS_SETUP_MAGIC);
    CHECK_EQ(get_le32(bp + LAPIS_SETUP_INIT_SIZE), INIT_SIZE);
    CHECK_EQ(bp[LAPIS_SETUP_LOADER_TYPE], 0xFF);
    CHECK_EQ(bp[LAPIS_BP_SENTINEL], 0);
    CHECK_EQ(get_le32(bp + LAPIS_SETUP_CMD_LINE_PTR), LAPIS_LINUX_CMDLINE_ADDR);
    CHECK_STR((const char *)gp(&ram, LAPIS_LINUX_CMDLINE_ADDR), "console=ttyS0 quiet");
    CHECK_EQ(lo.cmdline_len, strlen("console=ttyS0 quiet"));
    CHECK_EQ(get_le64(bp + LAPIS_BP_ACPI_RSDP), 0xE0000);

    /* Initrd: page-aligned, at the top of RAM, after the kernel, copied. */
    uint32_t ri = get_le32(bp + LAPIS_SETUP_RAMDISK_IMG);
    CHECK_EQ(ri, lo.initrd_addr);
    CHECK_EQ(get_le32(bp + LAPIS_SETUP_RAMDISK_SIZE), sizeof(initrd));
    CHECK_EQ(ri & 0xFFF, 0);
    CHECK(ri >= PREF + INIT_SIZE);
    CHECK(ri + sizeof(initrd) <= 64 * MIB);
    CHECK(ri + sizeof(initrd) + 4096 > 64 * MIB);
    CHECK(memcmp(gp(&ram, ri), initrd, sizeof(initrd)) == 0);

    /* e820 in boot_params. */
    CHECK_EQ(bp[LAPIS_BP_E820_ENTRIES], 3);
    const uint8_t *e = bp + LAPIS_BP_E820_TABLE;
    CHECK_EQ(get_le64(e), 0);
    CHECK_EQ(get_le64(e + 8), 0x9FC00);
    CHECK_EQ(get_le32(e + 16), LAPIS_E820_RAM);
    CHECK_EQ(get_le64(e + 20), 0x9FC00);
    CHECK_EQ(get_le64(e + 28), 0x100000 - 0x9FC00);
    CHECK_EQ(get_le32(e + 36), LAPIS_E820_RESERVED);
    CHECK_EQ(get_le64(e + 40), 0x100000);
    CHECK_EQ(get_le64(e + 48), 63 * MIB);
    CHECK_EQ(get_le32(e + 56), LAPIS_E820_RAM);

    /* Entry state: 64-bit entry at load + 0x200, rsi = boot_params. */
    const struct lapis_linux_entry *en = &lo.entry;
    CHECK_EQ(en->regs.mode, LAPIS_CPU_LONG64);
    CHECK_EQ(en->regs.rip, PREF + 0x200);
    CHECK_EQ(en->regs.rsi, LAPIS_LINUX_BOOT_PARAMS);
    CHECK_EQ(en->regs.highest_loaded, (uint64_t)ri + sizeof(initrd));
    CHECK_EQ(en->sys.cs.selector, 0x10);
    CHECK_EQ(en->sys.ds.selector, 0x18);
    CHECK_EQ(en->sys.ss.selector, 0x18);
    CHECK_EQ(en->sys.cs.l, 1);
    CHECK_EQ(en->sys.efer & (LAPIS_EFER_LME | LAPIS_EFER_LMA), LAPIS_EFER_LME | LAPIS_EFER_LMA);
    CHECK(en->sys.cr0 & LAPIS_CR0_PG);
    CHECK(en->sys.cr0 & LAPIS_CR0_PE);
    CHECK(en->sys.cr4 & LAPIS_CR4_PAE);
    CHECK_EQ(en->sys.rflags & (1u << 9), 0); /* IF clear */
    freeram(&ram);
    free(im.p);
}

/* Walks the guest page tables from CR3 the way the CPU does (4-level, 2 MiB leaves). */
static int walk(struct lapis_guest_ram *ram, uint64_t cr3, uint64_t va, uint64_t *pa, bool *uc)
{
    uint64_t pml4e = get_le64(gp(ram, (cr3 & ~0xFFFull) + 8 * ((va >> 39) & 511)));
    if (!(pml4e & 1))
        return -1;
    uint64_t pdpte = get_le64(gp(ram, (pml4e & 0xFFFFFFFFF000ull) + 8 * ((va >> 30) & 511)));
    if (!(pdpte & 1) || (pdpte & 0x80))
        return -1;
    uint64_t pde = get_le64(gp(ram, (pdpte & 0xFFFFFFFFF000ull) + 8 * ((va >> 21) & 511)));
    if (!(pde & 1) || !(pde & 0x80) || !(pde & 2))
        return -1;
    *pa = (pde & 0xFFFFFFE00000ull) | (va & 0x1FFFFF);
    *uc = (pde & 0x10) != 0;
    return 0;
}

static void test_page_tables_and_gdt(void)
{
    struct lapis_guest_ram ram = mkram(32 * MIB);
    struct lapis_linux_entry en;
    CHECK_EQ(lapis_linux_entry_setup(&ram, 0x1000200, 0x7000, &en, err, sizeof(err)), 0);
    uint64_t probes[] = {0,          0x7000,     0x1000200,  0x3FFFFFFF,
                         0x40000000, 0xBFFFFFFF, 0xFEC00000, 0xFFFFFFFF};
    for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        uint64_t pa = 1;
        bool uc = false;
        CHECK_EQ(walk(&ram, en.sys.cr3, probes[i], &pa, &uc), 0);
        CHECK_EQ(pa, probes[i]);
        CHECK_EQ(uc, probes[i] >= 0xC0000000ull);
    }
    uint64_t pa;
    bool uc;
    CHECK(walk(&ram, en.sys.cr3, 0x100000000ull, &pa, &uc) != 0); /* only 4 GiB mapped */

    /* GDT: flat code64 at 0x10, flat data at 0x18, busy TSS at 0x20. */
    const uint8_t *g = gp(&ram, en.sys.gdt_base);
    CHECK_EQ(en.sys.gdt_limit, 47);
    CHECK_EQ(get_le64(g + 0x10), 0x00AF9B000000FFFFull);
    CHECK_EQ(get_le64(g + 0x18), 0x00CF93000000FFFFull);
    uint64_t t = get_le64(g + 0x20);
    CHECK_EQ((t >> 40) & 0xFF, 0x8B);
    CHECK_EQ(((t >> 16) & 0xFFFFFF) | ((t >> 56) << 24), en.sys.tr.base);
    CHECK_EQ(en.sys.tr.selector, 0x20);
    CHECK_EQ(en.sys.tr.type, 0xB);

    /* A RAM too small for the boot area. */
    struct lapis_guest_ram tiny = mkram(0x4000);
    CHECK_EQ(lapis_linux_entry_setup(&tiny, 0, 0, &en, err, sizeof(err)), -ENOSPC);
    freeram(&tiny);
    freeram(&ram);
}

static bool untouched(struct lapis_guest_ram *ram)
{
    for (uint64_t i = 0; i < ram->low_size; i++)
        if (ram->low[i])
            return false;
    return true;
}

static void expect_fail(struct image *im, int rc, const char *needle)
{
    struct lapis_guest_ram ram = mkram(64 * MIB);
    static struct lapis_linux_layout lo;
    struct lapis_linux_config c = {.cmdline = "x"};
    CHECK_EQ(load(&ram, im, &c, &lo), rc);
    if (!strstr(err, needle)) {
        printf("  message \"%s\" lacks \"%s\"\n", err, needle);
        CHECK(0);
    }
    CHECK(untouched(&ram));
    freeram(&ram);
}

/* One header field of a good bzImage set to a bad value, and the refusal it must cause. */
struct bad_field {
    unsigned off, width; /* width in bytes: 1, 2 or 4 */
    uint32_t value;
    int rc;
    const char *needle;
};

static void test_malformed_headers(void)
{
    static const struct bad_field bad[] = {
        {LAPIS_SETUP_HEADER, 1, 'X', -ENOEXEC, "HdrS"},
        {LAPIS_SETUP_BOOT_FLAG, 2, 0x1234, -ENOEXEC, "0xAA55"},
        {LAPIS_SETUP_VERSION, 2, 0x0204, -EOPNOTSUPP, "2.04"},
        {LAPIS_SETUP_VERSION, 2, 0x020A, -EOPNOTSUPP, "no 64-bit entry"},
        {LAPIS_SETUP_LOADFLAGS, 1, 0, -EOPNOTSUPP, "zImage"},
        {LAPIS_SETUP_XLOADFLAGS, 2, 0x2, -EOPNOTSUPP, "XLF_KERNEL_64"},
        {LAPIS_SETUP_KERNEL_ALIGN, 4, 0x300000, -ENOEXEC, "power of two"},
        {LAPIS_SETUP_JUMP + 1, 1, 0xFF, -ENOEXEC, "setup header ends"}, /* ends past 0x290 */
        {LAPIS_SETUP_PAYLOAD_OFF, 4, KSIZE - 4, -ENOEXEC, "payload"},
        {LAPIS_SETUP_INIT_SIZE, 4, 16, -ENOEXEC, "init_size"},
        {LAPIS_SETUP_SYSSIZE, 4, 0xFFFFFFFF, -ENOEXEC, "truncated"}, /* 64 GiB claimed */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct image im = mkbz(NULL, 0);
        uint8_t *p = im.p + bad[i].off;
        if (bad[i].width == 1)
            *p = (uint8_t)bad[i].value;
        else if (bad[i].width == 2)
            put_le16(p, (uint16_t)bad[i].value);
        else
            put_le32(p, bad[i].value);
        int failed = harness_current_failed;
        expect_fail(&im, bad[i].rc, bad[i].needle);
        if (harness_current_failed != failed)
            printf("  (bad field %u at 0x%x: \"%s\")\n", i, bad[i].off, bad[i].needle);
        free(im.p);
    }
}

static void test_truncated(void)
{
    struct image im = mkbz(NULL, 0);
    /* Every prefix shorter than the kernel is refused, RAM untouched. */
    size_t cuts[] = {0, 1, 0x1F1, 0x202, 0x28F, KOFF, KOFF + KSIZE - 1};
    for (unsigned i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        struct image t = {im.p, cuts[i]};
        expect_fail(&t, -ENOEXEC, "");
    }
    /* setup_sects 0 means 4: same offsets, still loads. */
    im.p[LAPIS_SETUP_SECTS] = 0;
    struct lapis_guest_ram ram = mkram(64 * MIB);
    static struct lapis_linux_layout lo;
    CHECK_EQ(load(&ram, &im, NULL, &lo), 0);
    CHECK(memcmp(gp(&ram, PREF), im.p + KOFF, KSIZE) == 0);
    /* Trailing bytes (a signature) are fine and not loaded. */
    freeram(&ram);
    free(im.p);
}

static void test_kernel_does_not_fit(void)
{
    struct image im = mkbz(NULL, 0);
    put_le32(im.p + LAPIS_SETUP_INIT_SIZE, 0x4000000); /* 64 MiB from 1 MiB */
    expect_fail(&im, -ENOSPC, "more memory");
    free(im.p);

    im = mkbz(NULL, 0);
    put_le64(im.p + LAPIS_SETUP_PREF_ADDRESS, 0x80000); /* below 1 MiB */
    put_le32(im.p + LAPIS_SETUP_KERNEL_ALIGN, 0x1000);
    expect_fail(&im, -ENOEXEC, "below 1 MiB");
    free(im.p);

    im = mkbz(NULL, 0);
    put_le64(im.p + LAPIS_SETUP_PREF_ADDRESS, 0xFFFFFFFFFFE00000ull);
    expect_fail(&im, -ENOEXEC, "wraps");
    free(im.p);
}

static void test_cmdline_limits(void)
{
    struct image im = mkbz(NULL, 0);
    put_le32(im.p + LAPIS_SETUP_CMDLINE_SIZE, 16);
    struct lapis_guest_ram ram = mkram(64 * MIB);
    static struct lapis_linux_layout lo;
    struct lapis_linux_config c = {.cmdline = "0123456789abcdef"}; /* exactly 16 */
    CHECK_EQ(load(&ram, &im, &c, &lo), 0);
    CHECK_STR((const char *)gp(&ram, LAPIS_LINUX_CMDLINE_ADDR), "0123456789abcdef");
    freeram(&ram);

    ram = mkram(64 * MIB);
    c.cmdline = "0123456789abcdefX"; /* 17 */
    CHECK_EQ(load(&ram, &im, &c, &lo), -E2BIG);
    CHECK(strstr(err, "at most 16") != NULL);
    CHECK(untouched(&ram));

    /* A huge cmdline_size is capped by lapis's 64 KiB buffer. */
    put_le32(im.p + LAPIS_SETUP_CMDLINE_SIZE, 0xFFFFFFFF);
    char *big = malloc(LAPIS_LINUX_CMDLINE_MAX + 10);
    memset(big, 'a', LAPIS_LINUX_CMDLINE_MAX + 9);
    big[LAPIS_LINUX_CMDLINE_MAX + 9] = 0;
    c.cmdline = big;
    CHECK_EQ(load(&ram, &im, &c, &lo), -E2BIG);
    free(big);
    /* NULL cmdline: an empty string. */
    c.cmdline = NULL;
    CHECK_EQ(load(&ram, &im, &c, &lo), 0);
    CHECK_EQ(*gp(&ram, LAPIS_LINUX_CMDLINE_ADDR), 0);
    freeram(&ram);
    free(im.p);
}

static void test_initrd_placement(void)
{
    struct image im = mkbz(NULL, 0);
    static struct lapis_linux_layout lo;
    static uint8_t rd[3 * MIB];
    struct lapis_linux_config c = {.initrd = rd, .initrd_size = 3 * MIB - 100};

    /* initrd_addr_max below the top of RAM caps the placement. */
    put_le32(im.p + LAPIS_SETUP_INITRD_MAX, 0x9FFFFF); /* 10 MiB - 1 */
    struct lapis_guest_ram ram = mkram(64 * MIB);
    CHECK_EQ(load(&ram, &im, &c, &lo), 0);
    CHECK(lo.initrd_addr + lo.initrd_size <= 0xA00000);
    CHECK_EQ(lo.initrd_addr, (0xA00000 - (3 * MIB - 100)) & ~0xFFFull);
    freeram(&ram);

    /* Too big for the room between the kernel and initrd_addr_max. */
    put_le32(im.p + LAPIS_SETUP_INITRD_MAX, 0x3FFFFF); /* 4 MiB - 1: kernel ends at 3 MiB */
    ram = mkram(64 * MIB);
    CHECK_EQ(load(&ram, &im, &c, &lo), -ENOSPC);
    CHECK(strstr(err, "initrd") != NULL);
    CHECK(untouched(&ram));
    freeram(&ram);

    /* Too big for RAM. */
    put_le32(im.p + LAPIS_SETUP_INITRD_MAX, 0x7FFFFFFF);
    ram = mkram(5 * MIB);
    CHECK_EQ(load(&ram, &im, &c, &lo), -ENOSPC);
    freeram(&ram);

    /* Avoids a reserved range at the top of RAM (ACPI tables there). */
    struct lapis_e820_entry res = {64 * MIB - 0x10000, 0x10000, LAPIS_E820_ACPI};
    c.reserved = &res;
    c.nreserved = 1;
    ram = mkram(64 * MIB);
    CHECK_EQ(load(&ram, &im, &c, &lo), 0);
    CHECK(lo.initrd_addr + lo.initrd_size <= res.addr);
    CHECK_EQ(lo.e820_entries, 4);
    CHECK_EQ(lo.e820[3].addr, res.addr);
    CHECK_EQ(lo.e820[3].type, LAPIS_E820_ACPI);
    CHECK_EQ(lo.e820[2].addr + lo.e820[2].size, res.addr);

    /* A reserved range over the kernel is refused. */
    struct lapis_e820_entry bad = {PREF + 0x1000, 0x1000, LAPIS_E820_RESERVED};
    c.reserved = &bad;
    CHECK_EQ(load(&ram, &im, &c, &lo), -ENOSPC);
    CHECK(strstr(err, "overlaps") != NULL);

    /* Size without data. */
    c.reserved = NULL;
    c.nreserved = 0;
    c.initrd = NULL;
    CHECK_EQ(load(&ram, &im, &c, &lo), -EINVAL);
    freeram(&ram);
    free(im.p);
}

static void test_e820_build(void)
{
    struct lapis_guest_ram ram = {.low = (uint8_t *)1,
                                  .low_size = 0xC0000000ull,
                                  .high = (uint8_t *)1,
                                  .high_size = 2ull << 30};
    struct lapis_e820_entry out[LAPIS_E820_MAX];
    int n = lapis_e820_build(&ram, NULL, 0, out, LAPIS_E820_MAX);
    CHECK_EQ(n, 4);
    CHECK_EQ(out[2].addr, 0x100000);
    CHECK_EQ(out[2].size, 0xC0000000ull - 0x100000);
    CHECK_EQ(out[3].addr, 0x100000000ull);
    CHECK_EQ(out[3].size, 2ull << 30);
    CHECK_EQ(out[3].type, LAPIS_E820_RAM);

    /* ACPI tables inside the BIOS hole split the reserved entry in three. */
    struct lapis_e820_entry x[2] = {{0xE0000, 0x10000, LAPIS_E820_ACPI},
                                    {0x200000, 0x1000, LAPIS_E820_NVS}};
    n = lapis_e820_build(&ram, x, 2, out, LAPIS_E820_MAX);
    CHECK_EQ(n, 8);
    uint64_t prev_end = 0;
    for (int i = 0; i < n; i++) { /* sorted, no overlap, no gap below the MMIO hole */
        CHECK(out[i].addr >= prev_end);
        if (out[i].addr < 0xC0000000ull)
            CHECK_EQ(out[i].addr, prev_end);
        prev_end = out[i].addr + out[i].size;
    }
    CHECK_EQ(out[2].addr, 0xE0000);
    CHECK_EQ(out[2].type, LAPIS_E820_ACPI);
    CHECK_EQ(out[3].addr, 0xF0000);
    CHECK_EQ(out[3].type, LAPIS_E820_RESERVED);

    /* A range that swallows whole entries. */
    struct lapis_e820_entry all = {0, 0x200000, LAPIS_E820_RESERVED};
    n = lapis_e820_build(&ram, &all, 1, out, LAPIS_E820_MAX);
    CHECK_EQ(n, 3);
    CHECK_EQ(out[0].addr, 0);
    CHECK_EQ(out[0].size, 0x200000);
    CHECK_EQ(out[1].addr, 0x200000);

    /* Bad ranges and too small a table. */
    struct lapis_e820_entry empty = {0x1000, 0, LAPIS_E820_RESERVED};
    CHECK_EQ(lapis_e820_build(&ram, &empty, 1, out, LAPIS_E820_MAX), -EINVAL);
    struct lapis_e820_entry wrap = {~0ull - 10, 100, LAPIS_E820_RESERVED};
    CHECK_EQ(lapis_e820_build(&ram, &wrap, 1, out, LAPIS_E820_MAX), -EINVAL);
    CHECK_EQ(lapis_e820_build(&ram, NULL, 0, out, 3), -ENOSPC);
    CHECK_EQ(lapis_e820_build(&ram, x, 2, out, 7), -ENOSPC);
}

/* ---- vmlinux ---- */

/* An ELF64 with one PT_LOAD at @paddr (vaddr in the kernel map) of @size bytes. */
static struct image mkelf(uint64_t paddr, uint64_t entry, size_t size, size_t memsz)
{
    size_t off = 0x1000;
    struct image im = {calloc(1, off + size), off + size};
    uint8_t *e = im.p;
    const struct elf_seg seg = {
        LAPIS_ELF_PT_LOAD, off, 0xffffffff81000000ull + (paddr - 0x1000000), paddr, size, memsz};
    elf_build(e, true, LAPIS_ELF_EM_X86_64, entry, &seg, 1);
    put_le64(e + 64 + 48, 0x200000); /* p_align: a vmlinux aligns to 2 MiB */
    for (size_t i = 0; i < size; i++)
        e[off + i] = (uint8_t)(i * 3 + 11);
    return im;
}

static void test_vmlinux(void)
{
    struct lapis_guest_ram ram = mkram(64 * MIB);
    static struct lapis_linux_layout lo;
    struct lapis_linux_config c = {.cmdline = "root=/dev/vda"};

    /* Physical e_entry, as vmlinux has (phys_startup_64). */
    struct image im = mkelf(0x1000000, 0x1000000, 8192, 0x10000);
    memset(gp(&ram, 0x1000000 + 8192), 0xEE, 16); /* bss must be zeroed */
    CHECK_EQ(lapis_vmlinux_load(&ram, im.p, im.len, NULL, 0, &c, &lo, err, sizeof(err)), 0);
    CHECK_EQ(lo.kind, LAPIS_LINUX_VMLINUX);
    CHECK_EQ(lo.entry.regs.rip, 0x1000000);
    CHECK_EQ(lo.entry.regs.rsi, LAPIS_LINUX_BOOT_PARAMS);
    CHECK_EQ(lo.kernel_addr, 0x1000000);
    CHECK_EQ(lo.kernel_end, 0x1010000);
    CHECK(memcmp(gp(&ram, 0x1000000), im.p + 0x1000, 8192) == 0);
    CHECK_EQ(*gp(&ram, 0x1000000 + 8192), 0);
    uint8_t *bp = gp(&ram, LAPIS_LINUX_BOOT_PARAMS);
    CHECK_EQ(get_le32(bp + LAPIS_SETUP_HEADER), LAPIS_SETUP_MAGIC);
    CHECK_EQ(get_le16(bp + LAPIS_SETUP_VERSION), LAPIS_BOOT_PROTO_SYNTH);
    CHECK_EQ(get_le16(bp + LAPIS_SETUP_BOOT_FLAG), 0xAA55);
    CHECK_EQ(bp[LAPIS_SETUP_LOADER_TYPE], 0xFF);
    CHECK_STR((const char *)gp(&ram, get_le32(bp + LAPIS_SETUP_CMD_LINE_PTR)), "root=/dev/vda");
    free(im.p);

    /* Virtual e_entry is translated through its segment. */
    im = mkelf(0x1000000, 0xffffffff81000040ull, 8192, 8192);
    CHECK_EQ(lapis_vmlinux_load(&ram, im.p, im.len, NULL, 0, &c, &lo, err, sizeof(err)), 0);
    CHECK_EQ(lo.entry.regs.rip, 0x1000040);
    free(im.p);

    /* Entry outside every segment. */
    im = mkelf(0x1000000, 0x5000000, 8192, 8192);
    CHECK_EQ(lapis_vmlinux_load(&ram, im.p, im.len, NULL, 0, &c, &lo, err, sizeof(err)), -ENOEXEC);
    free(im.p);

    /* Segment outside RAM. */
    im = mkelf(0x8000000, 0x8000000, 8192, 8192);
    CHECK_EQ(lapis_vmlinux_load(&ram, im.p, im.len, NULL, 0, &c, &lo, err, sizeof(err)), -ENOSPC);
    CHECK(strstr(err, "more memory") != NULL);
    free(im.p);

    /* Segment below 1 MiB (over the boot area). */
    im = mkelf(0x8000, 0x8000, 4096, 4096);
    CHECK_EQ(lapis_vmlinux_load(&ram, im.p, im.len, NULL, 0, &c, &lo, err, sizeof(err)), -ENOEXEC);
    free(im.p);

    /* Truncated file bytes, filesz > memsz, ELF32. */
    im = mkelf(0x1000000, 0x1000000, 8192, 8192);
    CHECK_EQ(lapis_vmlinux_load(&ram, im.p, im.len - 1, NULL, 0, &c, &lo, err, sizeof(err)),
             -ENOEXEC);
    put_le64(im.p + 64 + 40, 100);
    CHECK_EQ(lapis_vmlinux_load(&ram, im.p, im.len, NULL, 0, &c, &lo, err, sizeof(err)), -ENOEXEC);
    put_le64(im.p + 64 + 40, 8192);
    im.p[4] = 1;
    CHECK(lapis_vmlinux_load(&ram, im.p, im.len, NULL, 0, &c, &lo, err, sizeof(err)) < 0);
    free(im.p);
    freeram(&ram);

    /* Through lapis_linux_load(): ELF files are vmlinux; junk is refused. */
    ram = mkram(64 * MIB);
    im = mkelf(0x1000000, 0x1000000, 4096, 4096);
    CHECK_EQ(lapis_linux_load(&ram, im.p, im.len, &c, &lo, err, sizeof(err)), 0);
    CHECK_EQ(lo.kind, LAPIS_LINUX_VMLINUX);
    uint8_t junk[1024] = {1, 2, 3};
    CHECK_EQ(lapis_linux_load(&ram, junk, sizeof(junk), &c, &lo, err, sizeof(err)), -ENOEXEC);
    CHECK(strstr(err, "neither") != NULL);
    free(im.p);
    freeram(&ram);
}

/* A bzImage whose payload is @elf, stored raw or gzip'd; loaded through lapis_linux_load. */
static void test_unpacked_bzimage(void)
{
    struct image elf = mkelf(0x1000000, 0x1000000, 6000, 0x8000);
    static struct lapis_linux_layout lo;
    struct lapis_linux_config c = {.cmdline = "console=ttyS0"};

    /* Uncompressed payload: loaded as vmlinux with the bzImage's header. */
    struct image bz = mkbz(elf.p, elf.len);
    put_le64(bz.p + LAPIS_SETUP_PREF_ADDRESS, 0x1000000);
    put_le32(bz.p + LAPIS_SETUP_INIT_SIZE, 0x100000);
    struct lapis_guest_ram ram = mkram(64 * MIB);
    CHECK_EQ(lapis_linux_load(&ram, bz.p, bz.len, &c, &lo, err, sizeof(err)), 0);
    CHECK_EQ(lo.kind, LAPIS_LINUX_UNPACKED);
    CHECK_EQ(lo.compression, LAPIS_COMP_NONE);
    CHECK_EQ(lo.entry.regs.rip, 0x1000000);
    CHECK_EQ(lo.kernel_end, 0x1100000); /* init_size from the header */
    uint8_t *bp = gp(&ram, LAPIS_LINUX_BOOT_PARAMS);
    CHECK_EQ(get_le16(bp + LAPIS_SETUP_VERSION), 0x020F);
    CHECK_EQ(get_le32(bp + LAPIS_SETUP_INIT_SIZE), 0x100000);
    CHECK(memcmp(gp(&ram, 0x1000000), elf.p + 0x1000, 6000) == 0);
    free(bz.p);
    freeram(&ram);

#ifdef HAVE_ZLIB
    /* gzip payload + the le32 size the kernel build appends. */
    uLongf clen = compressBound(elf.len) + 64;
    uint8_t *gz = malloc(clen + 4);
    z_stream z = {0};
    CHECK_EQ(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = elf.p;
    z.avail_in = (uInt)elf.len;
    z.next_out = gz;
    z.avail_out = (uInt)clen;
    CHECK_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t glen = z.total_out;
    deflateEnd(&z);
    put_le32(gz + glen, (uint32_t)elf.len);
    glen += 4;

    bz = mkbz(gz, glen);
    put_le64(bz.p + LAPIS_SETUP_PREF_ADDRESS, 0x1000000);
    ram = mkram(64 * MIB);
    CHECK_EQ(lapis_linux_load(&ram, bz.p, bz.len, &c, &lo, err, sizeof(err)), 0);
    CHECK_EQ(lo.kind, LAPIS_LINUX_UNPACKED);
    CHECK_EQ(lo.compression, LAPIS_COMP_GZIP);
    CHECK_EQ(lo.unpacked_size, elf.len);
    CHECK(memcmp(gp(&ram, 0x1000000), elf.p + 0x1000, 6000) == 0);
    freeram(&ram);

    /* --no-unpack: the bzImage is entered at its own 64-bit entry. */
    ram = mkram(64 * MIB);
    c.no_unpack = true;
    CHECK_EQ(lapis_linux_load(&ram, bz.p, bz.len, &c, &lo, err, sizeof(err)), 0);
    CHECK_EQ(lo.kind, LAPIS_LINUX_BZIMAGE);
    CHECK_EQ(lo.compression, LAPIS_COMP_GZIP);
    CHECK_EQ(lo.entry.regs.rip, 0x1000200);
    c.no_unpack = false;
    freeram(&ram);

    /* A payload that unpacks to something other than an ELF. */
    memset(elf.p, 'A', 4);
    z = (z_stream){0};
    deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    z.next_in = elf.p;
    z.avail_in = (uInt)elf.len;
    z.next_out = gz;
    z.avail_out = (uInt)clen;
    deflate(&z, Z_FINISH);
    glen = z.total_out;
    deflateEnd(&z);
    put_le32(gz + glen, (uint32_t)elf.len);
    free(bz.p);
    bz = mkbz(gz, glen + 4);
    ram = mkram(64 * MIB);
    CHECK_EQ(lapis_linux_load(&ram, bz.p, bz.len, &c, &lo, err, sizeof(err)), -ENOEXEC);
    CHECK(strstr(err, "not an ELF") != NULL);
    freeram(&ram);
    free(bz.p);
    free(gz);
#endif
    free(elf.p);
}

int main(void)
{
    RUN_TEST(test_good_load);
    RUN_TEST(test_page_tables_and_gdt);
    RUN_TEST(test_malformed_headers);
    RUN_TEST(test_truncated);
    RUN_TEST(test_kernel_does_not_fit);
    RUN_TEST(test_cmdline_limits);
    RUN_TEST(test_initrd_placement);
    RUN_TEST(test_e820_build);
    RUN_TEST(test_vmlinux);
    RUN_TEST(test_unpacked_bzimage);
    return harness_finish("bzimage");
}
