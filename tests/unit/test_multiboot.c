/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "elf_builder.h"
#include "loader/bytes.h"
#include "loader/elf.h"
#include "loader/multiboot.h"
#include "../harness.h"

#define RAM_SIZE  (4u << 20)
#define HIGH_SIZE (1u << 20)
#define HDR_OFF   0x1000u /* the multiboot header starts the first segment */

static uint8_t low_ram[RAM_SIZE];
static uint8_t high_ram[HIGH_SIZE];
static uint8_t img[128 * 1024];
static uint8_t initrd[5000];
static char err[256];

/* A multiboot header at @off; @aout: header_addr, load_addr, load_end, bss_end, entry. */
static void put_header(size_t off, uint32_t flags, const uint32_t *aout)
{
    put_le32(img + off, LAPIS_MULTIBOOT_HEADER_MAGIC);
    put_le32(img + off + 4, flags);
    put_le32(img + off + 8, 0u - LAPIS_MULTIBOOT_HEADER_MAGIC - flags);
    if (aout)
        for (int i = 0; i < 5; i++)
            put_le32(img + off + 12 + 4 * i, aout[i]);
}

static void fill_pattern(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 13);
}

static bool has_pattern(const uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(seed + i * 13))
            return false;
    return true;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

static struct lapis_guest_ram fresh_ram(bool high)
{
    memset(low_ram, 0xAA, sizeof(low_ram));
    memset(high_ram, 0xAA, sizeof(high_ram));
    struct lapis_guest_ram ram = {.low = low_ram, .low_size = RAM_SIZE};
    if (high) {
        ram.high = high_ram;
        ram.high_size = HIGH_SIZE;
    }
    return ram;
}

/* The standard test kernel: text at 1 MiB (0x2000 bytes), data + bss at 1 MiB + 64 KiB. */
static size_t standard_kernel(bool is64, uint32_t flags)
{
    struct elf_seg s[] = {
        {1, HDR_OFF, 0x100000, 0x100000, 0x2000, 0x2000},
        {1, 0x3000, 0x110000, 0x110000, 0x800, 0x3000},
    };
    elf_build(img, is64, is64 ? LAPIS_ELF_EM_X86_64 : LAPIS_ELF_EM_386, 0x100100, s, 2);
    fill_pattern(img + HDR_OFF, 0x2000, 1);
    fill_pattern(img + 0x3000, 0x800, 2);
    put_header(HDR_OFF + 16, flags, NULL);
    return 0x3800;
}

static uint8_t *gpa(uint64_t a)
{
    return a >= LAPIS_RAM_HIGH_BASE ? high_ram + (a - LAPIS_RAM_HIGH_BASE) : low_ram + a;
}

static void check_mmap_entry(const uint8_t *e, uint64_t base, uint64_t len, uint32_t type)
{
    CHECK_EQ(get_le32(e), 20);
    CHECK_EQ(get_le64(e + 4), base);
    CHECK_EQ(get_le64(e + 12), len);
    CHECK_EQ(get_le32(e + 20), type);
}

static void test_elf32_kernel_with_initrd(void)
{
    struct lapis_guest_ram ram = fresh_ram(false);
    struct lapis_boot_state st;
    size_t len = standard_kernel(false, LAPIS_MB_HDR_PAGE_ALIGN | LAPIS_MB_HDR_MEMORY_INFO);

    fill_pattern(initrd, sizeof(initrd), 3);
    CHECK(lapis_multiboot_detect(img, len));
    CHECK_EQ(lapis_multiboot_load(&ram, img, len, "console=ttyS0 quiet", initrd, sizeof(initrd),
                                  &st, err, sizeof(err)),
             0);
    CHECK_EQ(st.mode, LAPIS_CPU_PROTECTED32);
    CHECK_EQ(st.rip, 0x100100);
    CHECK_EQ(st.rax, 0x2BADB002);
    CHECK_EQ(st.rsp, 0);

    /* Kernel bytes, bss. */
    CHECK(memcmp(low_ram + 0x100000, img + HDR_OFF, 0x2000) == 0);
    CHECK(has_pattern(low_ram + 0x110000, 0x800, 2));
    CHECK(all_bytes(low_ram + 0x110800, 0x2800, 0));

    /* Module 0: page-aligned right above the kernel (ends at 0x113000). */
    uint64_t info = st.rbx;
    CHECK(info >= 0x1000 && info + 256 <= LAPIS_MB_LOW_RAM_END);
    const uint8_t *mi = low_ram + info;
    uint32_t flags = get_le32(mi);
    CHECK_EQ(flags, LAPIS_MB_INFO_MEMORY | LAPIS_MB_INFO_CMDLINE | LAPIS_MB_INFO_MODS |
                        LAPIS_MB_INFO_MEM_MAP | LAPIS_MB_INFO_BOOT_LOADER_NAME);
    CHECK_EQ(get_le32(mi + 4), 640);
    CHECK_EQ(get_le32(mi + 8), (RAM_SIZE - 0x100000) / 1024);
    CHECK_STR((const char *)gpa(get_le32(mi + 16)), "console=ttyS0 quiet");
    CHECK_EQ(get_le32(mi + 20), 1);
    const uint8_t *mod = gpa(get_le32(mi + 24));
    CHECK_EQ(get_le32(mod), 0x113000);
    CHECK_EQ(get_le32(mod + 4), 0x113000 + sizeof(initrd));
    CHECK_STR((const char *)gpa(get_le32(mod + 8)), "initrd");
    CHECK(has_pattern(low_ram + 0x113000, sizeof(initrd), 3));
    CHECK_EQ(st.highest_loaded, 0x113000 + sizeof(initrd));
    CHECK_STR((const char *)gpa(get_le32(mi + 64)), "lapis");

    /* Memory map. */
    CHECK_EQ(get_le32(mi + 44), 3 * 24);
    const uint8_t *mm = gpa(get_le32(mi + 48));
    check_mmap_entry(mm, 0, 0x9FC00, 1);
    check_mmap_entry(mm + 24, 0x9FC00, 0x60400, 2);
    check_mmap_entry(mm + 48, 0x100000, RAM_SIZE - 0x100000, 1);

    /* Every pointer in the block stays inside it. */
    for (unsigned off = 16; off <= 64; off += 4) {
        uint32_t p = get_le32(mi + off);
        if (off == 16 || off == 24 || off == 48 || off == 64)
            CHECK(p > info && p < info + 512);
    }
}

static void test_elf64_no_cmdline_no_initrd(void)
{
    struct lapis_guest_ram ram = fresh_ram(true);
    struct lapis_boot_state st;
    size_t len = standard_kernel(true, LAPIS_MB_HDR_VIDEO_MODE | (1u << 20));

    CHECK_EQ(lapis_multiboot_load(&ram, img, len, NULL, NULL, 0, &st, err, sizeof(err)), 0);
    CHECK_EQ(st.rip, 0x100100);
    const uint8_t *mi = low_ram + st.rbx;
    CHECK(get_le32(mi) & LAPIS_MB_INFO_CMDLINE);
    CHECK_STR((const char *)gpa(get_le32(mi + 16)), "");
    CHECK(get_le32(mi) & LAPIS_MB_INFO_MODS);
    CHECK_EQ(get_le32(mi + 20), 0);
    CHECK_EQ(st.highest_loaded, 0x113000);
    /* High RAM appears as a fourth map entry. */
    CHECK_EQ(get_le32(mi + 44), 4 * 24);
    check_mmap_entry(gpa(get_le32(mi + 48)) + 72, 0x100000000ull, HIGH_SIZE, 1);
    CHECK(all_bytes(high_ram, HIGH_SIZE, 0xAA));
}

static void test_aout_kludge(void)
{
    struct lapis_guest_ram ram = fresh_ram(false);
    struct lapis_boot_state st;
    /* Raw image: header at 0x40, loaded from file offset 0 at 0x200000. */
    const uint32_t aout[] = {0x200040, 0x200000, 0, 0x205000, 0x200080};

    fill_pattern(img, 0x3000, 4);
    put_header(0x40, LAPIS_MB_HDR_AOUT_KLUDGE, aout);
    CHECK_EQ(lapis_multiboot_load(&ram, img, 0x3000, "x", NULL, 0, &st, err, sizeof(err)), 0);
    CHECK_EQ(st.rip, 0x200080);
    CHECK(memcmp(low_ram + 0x200000, img, 0x3000) == 0);
    CHECK(all_bytes(low_ram + 0x203000, 0x2000, 0));
    CHECK_EQ(low_ram[0x205000], 0xAA);
    CHECK_EQ(low_ram[0x1FFFFF], 0xAA);
    CHECK_EQ(st.highest_loaded, 0x205000);

    /* An explicit load_end_addr and a header deeper in the file (text offset 0x20). */
    const uint32_t aout2[] = {0x300020, 0x300000, 0x300100, 0, 0x3000FF};
    ram = fresh_ram(false);
    fill_pattern(img, 0x3000, 5);
    put_header(0x40, LAPIS_MB_HDR_AOUT_KLUDGE, aout2);
    CHECK_EQ(lapis_multiboot_load(&ram, img, 0x3000, NULL, initrd, 10, &st, err, sizeof(err)), 0);
    CHECK(memcmp(low_ram + 0x300000, img + 0x20, 0x100) == 0);
    CHECK_EQ(low_ram[0x300100], 0xAA);
    const uint8_t *mod = gpa(get_le32(low_ram + st.rbx + 24));
    CHECK_EQ(get_le32(mod), 0x301000);
    CHECK_EQ(st.highest_loaded, 0x30100A);

    /* An ELF file with flag 16 uses the address fields, not the program headers. */
    ram = fresh_ram(false);
    standard_kernel(false, 0);
    const uint32_t aout3[] = {0x200010 + HDR_OFF, 0x200000, 0, 0, 0x200000};
    put_header(HDR_OFF + 16, LAPIS_MB_HDR_AOUT_KLUDGE, aout3);
    CHECK_EQ(lapis_multiboot_load(&ram, img, 0x3800, NULL, NULL, 0, &st, err, sizeof(err)), 0);
    CHECK_EQ(st.rip, 0x200000);
    CHECK(memcmp(low_ram + 0x200000, img, 0x3800) == 0);
    CHECK(all_bytes(low_ram + 0x100000, 0x1000, 0xAA));
}

static void test_info_avoids_low_kernel(void)
{
    struct lapis_guest_ram ram = fresh_ram(false);
    struct lapis_boot_state st;
    /* The kernel fills 0x2000 .. 0x9FC00: only 0x1000 .. 0x2000 is free low. */
    struct elf_seg s[] = {{1, HDR_OFF, 0x2000, 0x2000, 0x1000, 0x9FC00 - 0x2000}};

    elf_build(img, false, LAPIS_ELF_EM_386, 0x2000, s, 1);
    put_header(HDR_OFF, 0, NULL);
    CHECK_EQ(lapis_multiboot_load(&ram, img, 0x2000, "short", NULL, 0, &st, err, sizeof(err)), 0);
    CHECK_EQ(st.rbx, 0x1000);
    CHECK_STR((const char *)gpa(get_le32(low_ram + st.rbx + 16)), "short");

    /* A command line too long for that gap moves the block above 1 MiB. */
    static char longcmd[0x2000];
    memset(longcmd, 'k', sizeof(longcmd) - 1);
    ram = fresh_ram(false);
    elf_build(img, false, LAPIS_ELF_EM_386, 0x2000, s, 1);
    put_header(HDR_OFF, 0, NULL);
    CHECK_EQ(lapis_multiboot_load(&ram, img, 0x2000, longcmd, initrd, 100, &st, err, sizeof(err)),
             0);
    CHECK_EQ(get_le32(gpa(get_le32(low_ram + st.rbx + 24))), 0x100000); /* initrd skips the hole */
    CHECK_EQ(st.rbx, 0x101000);
    CHECK_EQ(strlen((const char *)gpa(get_le32(low_ram + st.rbx + 16))), sizeof(longcmd) - 1);
    CHECK(st.highest_loaded > 0x101000 + sizeof(longcmd));
    /* Kernel bss was zeroed and the block did not land in it. */
    CHECK(all_bytes(low_ram + 0x3000, 0x9FC00 - 0x3000, 0));

    /* Kernel at 0x1000 .. 0x3000: the block goes right after it. */
    struct elf_seg s2[] = {{1, HDR_OFF, 0x1000, 0x1000, 0x1000, 0x2000}};
    ram = fresh_ram(false);
    elf_build(img, false, LAPIS_ELF_EM_386, 0x1000, s2, 1);
    put_header(HDR_OFF, 0, NULL);
    CHECK_EQ(lapis_multiboot_load(&ram, img, 0x2000, "", initrd, 100, &st, err, sizeof(err)), 0);
    CHECK_EQ(get_le32(gpa(get_le32(low_ram + st.rbx + 24))), 0x3000);
    CHECK_EQ(st.rbx, 0x3070); /* after the initrd, 16-byte aligned */
}

/* Loads img[0..len) and expects failure @rc, @needle in the message and RAM untouched. */
static void expect_fail(size_t len, const uint8_t *rd, size_t rdlen, int rc, const char *needle)
{
    struct lapis_guest_ram ram = fresh_ram(true);
    struct lapis_boot_state st;

    err[0] = 0;
    CHECK_EQ(lapis_multiboot_load(&ram, img, len, "cmd", rd, rdlen, &st, err, sizeof(err)), rc);
    if (!strstr(err, needle)) {
        printf("  message \"%s\" lacks \"%s\"\n", err, needle);
        CHECK(0);
    }
    CHECK(all_bytes(low_ram, RAM_SIZE, 0xAA));
    CHECK(all_bytes(high_ram, HIGH_SIZE, 0xAA));
}

static void test_header_errors(void)
{
    struct lapis_guest_ram ram = fresh_ram(false);
    struct lapis_boot_state st;

    CHECK_EQ(lapis_multiboot_load(&ram, NULL, 0, NULL, NULL, 0, &st, err, sizeof(err)), -ENOEXEC);
    CHECK(strstr(err, "empty") != NULL);
    CHECK_EQ(lapis_multiboot_load(NULL, img, 10, NULL, NULL, 0, &st, err, sizeof(err)), -EINVAL);
    CHECK_EQ(lapis_multiboot_load(&ram, img, 10, NULL, NULL, 5, &st, err, sizeof(err)), -EINVAL);
    CHECK_EQ(lapis_multiboot_load(&ram, img, 10, NULL, NULL, 0, NULL, err, sizeof(err)), -EINVAL);

    memset(img, 0, 0x4000);
    expect_fail(0x4000, NULL, 0, -ENOEXEC,
                "not a multiboot kernel: no header in the first 8192 bytes");
    CHECK(!lapis_multiboot_detect(img, 0x4000));
    /* Too short for a header. */
    put_header(0, 0, NULL);
    expect_fail(8, NULL, 0, -ENOEXEC, "no header in the first 8192 bytes");
    /* Beyond 8192 bytes, or misaligned: not found. */
    memset(img, 0, 0x4000);
    put_header(8192 - 8, 0, NULL);
    expect_fail(0x4000, NULL, 0, -ENOEXEC, "no header");
    memset(img, 0, 0x4000);
    put_header(0x102, 0, NULL);
    expect_fail(0x4000, NULL, 0, -ENOEXEC, "no header");
    CHECK(!lapis_multiboot_detect(img, 0x4000));
    /* The last place a header fits is found. */
    memset(img, 0, 0x4000);
    put_header(8192 - 12, 0, NULL);
    expect_fail(0x4000, NULL, 0, -ENOEXEC, "not ELF");

    /* Bad checksum. */
    memset(img, 0, 0x4000);
    put_header(0x100, 0, NULL);
    img[0x108] ^= 1;
    CHECK(lapis_multiboot_detect(img, 0x4000));
    expect_fail(0x4000, NULL, 0, -ENOEXEC, "multiboot header checksum is wrong");
    /* A bad one followed by a good one: the good one wins. */
    put_header(0x200, LAPIS_MB_HDR_AOUT_KLUDGE,
               (const uint32_t[]){0x100200, 0x100000, 0, 0, 0x100000});
    ram = fresh_ram(false);
    CHECK_EQ(lapis_multiboot_load(&ram, img, 0x4000, NULL, NULL, 0, &st, err, sizeof(err)), 0);

    /* Unknown required flags. */
    memset(img, 0, 0x4000);
    put_header(0, 1u << 3, NULL);
    expect_fail(0x4000, NULL, 0, -ENOEXEC, "unknown required bits 0x8");
    put_header(0, (1u << 15) | 3, NULL);
    expect_fail(0x4000, NULL, 0, -ENOEXEC, "unknown required bits 0x8000");

    /* No address fields and not ELF. */
    put_header(0, 0, NULL);
    expect_fail(0x4000, NULL, 0, -ENOEXEC, "no address fields (flag 16) and the file is not ELF");

    /* RAM too small. */
    ram = fresh_ram(false);
    ram.low_size = 0x80000;
    standard_kernel(false, 0);
    CHECK_EQ(lapis_multiboot_load(&ram, img, 0x3800, NULL, NULL, 0, &st, err, sizeof(err)),
             -ENOSPC);
    CHECK(strstr(err, "at least 1 MiB") != NULL);
}

static void test_aout_errors(void)
{
    const size_t len = 0x3000;
    memset(img, 0x5A, len);
    put_header(0x40, LAPIS_MB_HDR_AOUT_KLUDGE,
               (const uint32_t[]){0x200040, 0x200000, 0, 0, 0x200000});
    expect_fail(0x50, NULL, 0, -ENOEXEC, "is truncated: its address fields");
    memset(img, 0, len);
    put_header(8192 - 12, LAPIS_MB_HDR_AOUT_KLUDGE, NULL);
    expect_fail(len + 0x2000, NULL, 0, -ENOEXEC, "within the file's first 8192 bytes");

    /* Address fields (header_addr, load_addr, load_end, bss_end, entry) that are refused. */
    static const struct {
        uint32_t aout[5];
        int rc;
        const char *needle;
    } bad[] = {
        {{0x200040, 0x200041, 0, 0, 0x200041},
         -ENOEXEC,
         "load_addr 0x200041 is above header_addr 0x200040"},
        {{0x200040, 0x100000, 0, 0, 0x100000}, -ENOEXEC, "puts the load start before the file"},
        {{0x200040, 0x200000, 0x1FFFFF, 0, 0x200000},
         -ENOEXEC,
         "load_end_addr 0x1fffff is below load_addr"},
        {{0x200040, 0x200000, 0x203001, 0, 0x200000},
         -ENOEXEC,
         "kernel file is truncated: load_end_addr 0x203001 needs bytes up to 0x3001, file has "
         "0x3000"},
        {{0x200040, 0x200000, 0x201000, 0x200FFF, 0x200000},
         -ENOEXEC,
         "bss_end_addr 0x200fff is below"},
        {{0x200040, 0x200000, 0x201000, 0x202000, 0x202000},
         -ENOEXEC,
         "entry_addr 0x202000 is outside the loaded kernel"},
        {{0x200040, 0x200000, 0x201000, 0, 0x1FFFFF}, -ENOEXEC, "entry_addr 0x1fffff is outside"},
        {{0x500040, 0x500000, 0, 0, 0x500000},
         -ENOSPC,
         "kernel (0x500000 - 0x502fff) does not fit in 5 MiB of guest RAM"},
        {{0x400040 - 0x1000, 0x400000 - 0x1000, 0, 0, 0x400000 - 0x1000}, -ENOSPC, "does not fit"},
        /* A bss reaching 4 GiB. */
        {{0x200040, 0x200000, 0, 0xFFFFFFFF, 0x200000}, -ENOSPC, "does not fit"},
        {{0x9F040, 0x9F000, 0, 0, 0x9F000},
         -ENOEXEC,
         "kernel (0x9f000 - 0xa1fff) overlaps the reserved area 0x9fc00 - 0xfffff"},
        {{0x200040, 0x200000, 0x200000, 0, 0x200000}, -ENOEXEC, "empty"},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(img, 0x5A, len);
        put_header(0x40, LAPIS_MB_HDR_AOUT_KLUDGE, bad[i].aout);
        int failed = harness_current_failed;
        expect_fail(len, NULL, 0, bad[i].rc, bad[i].needle);
        if (harness_current_failed != failed)
            printf("  (address fields %u: \"%s\")\n", i, bad[i].needle);
    }
}

static void test_elf_errors(void)
{
    struct elf_seg s[] = {
        {1, HDR_OFF, 0x100000, 0x100000, 0x1000, 0x1000},
        {1, 0x2000, 0x200000, 0x200000, 0x1000, 0x1000},
        {1, 0x2000, 0x300000, 0x300000, 0x1000, 0x1000},
    };
#define MB_ELF(is64)                                                                               \
    do {                                                                                           \
        elf_build(img, is64, is64 ? LAPIS_ELF_EM_X86_64 : LAPIS_ELF_EM_386, 0x100000, s, 3);       \
        put_header(HDR_OFF, 0, NULL);                                                              \
    } while (0)

    MB_ELF(false);
    expect_fail(0x2800, NULL, 0, -ENOEXEC,
                "kernel file is truncated: segment 1 needs bytes up to 0x3000, file has 0x2800");
    s[2].paddr = 0x480000;
    MB_ELF(false);
    expect_fail(0x3000, NULL, 0, -ENOSPC, "segment 2 (0x480000 - 0x480fff) does not fit in 5 MiB");
    s[2].paddr = 0x100800;
    MB_ELF(false);
    expect_fail(0x3000, NULL, 0, -ENOEXEC, "segments 0 (0x100000 - 0x100fff) and 2");
    s[2].paddr = 0x300000;
    s[2].memsz = 0xFFFFFFFF;
    MB_ELF(false);
    expect_fail(0x3000, NULL, 0, -ENOEXEC, "wraps");
    s[2].memsz = 0x1000;
    /* Above 4 GiB: in (high) RAM, but out of a 32-bit kernel's reach. */
    s[2].paddr = 0x100000000ull;
    MB_ELF(true);
    expect_fail(0x3000, NULL, 0, -ENOEXEC,
                "segment 2 (0x100000000 - 0x100000fff) lies above 4 GiB");
    s[2].paddr = 0xA0000;
    MB_ELF(false);
    expect_fail(0x3000, NULL, 0, -ENOEXEC, "segment 2 (0xa0000 - 0xa0fff) overlaps the reserved");
    s[2].paddr = 0x300000;
    s[1].type = s[2].type = 4;
    s[0].paddr = 0x700000; /* only segment is out of RAM; no PT_LOAD remains after it */
    s[0].type = 4;
    MB_ELF(false);
    expect_fail(0x3000, NULL, 0, -ENOEXEC, "no loadable (PT_LOAD) segment");
    s[0].type = s[1].type = s[2].type = 1;
    s[0].paddr = 0x100000;
    elf_build(img, false, LAPIS_ELF_EM_386, 0x400000, s, 3);
    put_header(HDR_OFF, 0, NULL);
    expect_fail(0x3000, NULL, 0, -ENOEXEC, "entry point 0x400000 is not inside");
    elf_build(img, false, LAPIS_ELF_EM_386, 0x100000, s, 3);
    put_header(HDR_OFF, 0, NULL);
    img[4] = 9;
    expect_fail(0x3000, NULL, 0, -ENOEXEC, "ELF class 9");

    /* An initrd that does not fit: nothing is written, not even the kernel. */
    MB_ELF(false);
    static uint8_t big[0x200000];
    expect_fail(0x3000, big, sizeof(big), -ENOSPC, "initrd (0x200000 bytes) does not fit");
#undef MB_ELF
}

/* Random header corruption never crashes or writes outside RAM (ASan checks the latter). */
static void test_fuzz(void)
{
    unsigned ok = 0, failed = 0;

    srand(7);
    for (int iter = 0; iter < 3000; iter++) {
        struct lapis_guest_ram ram = {.low = low_ram, .low_size = RAM_SIZE};
        struct lapis_boot_state st;
        bool aout = iter & 1;
        size_t len = standard_kernel(iter & 2, 0);
        if (aout)
            put_header(HDR_OFF + 16, LAPIS_MB_HDR_AOUT_KLUDGE,
                       (const uint32_t[]){0x200010, 0x200000, 0, 0x210000, 0x200020});
        for (int k = 0; k < 2; k++) {
            size_t at = (rand() & 1) ? (size_t)(rand() % 0xB0) : HDR_OFF + 16 + rand() % 32;
            img[at] = (uint8_t)rand();
        }
        /* Recompute the checksum half the time so deeper fields get exercised. */
        if (rand() & 1) {
            uint32_t flags = get_le32(img + HDR_OFF + 20);
            put_le32(img + HDR_OFF + 24, 0u - LAPIS_MULTIBOOT_HEADER_MAGIC - flags);
        }
        err[0] = 0;
        if (lapis_multiboot_load(&ram, img, len, "fuzz", initrd, 64, &st, err, sizeof(err)) == 0) {
            ok++;
            CHECK(st.rbx + LAPIS_MB_INFO_SIZE <= RAM_SIZE);
            CHECK(st.rip < RAM_SIZE);
        } else {
            failed++;
            CHECK(err[0] != 0);
        }
    }
    CHECK(ok > 0);
    CHECK(failed > 0);
}

int main(void)
{
    RUN_TEST(test_elf32_kernel_with_initrd);
    RUN_TEST(test_elf64_no_cmdline_no_initrd);
    RUN_TEST(test_aout_kludge);
    RUN_TEST(test_info_avoids_low_kernel);
    RUN_TEST(test_header_errors);
    RUN_TEST(test_aout_errors);
    RUN_TEST(test_elf_errors);
    RUN_TEST(test_fuzz);
    return harness_finish("multiboot");
}
