/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "elf_builder.h"
#include "loader/bytes.h"
#include "loader/elf.h"
#include "../harness.h"

#define RAM_SIZE  (2u << 20)
#define HIGH_SIZE (1u << 20)

static uint8_t low_ram[RAM_SIZE];
static uint8_t high_ram[HIGH_SIZE];
static uint8_t img[64 * 1024];
static char err[256];

static struct lapis_guest_ram ram_low(void)
{
    memset(low_ram, 0xAA, sizeof(low_ram));
    return (struct lapis_guest_ram){.low = low_ram, .low_size = RAM_SIZE};
}

static void fill_pattern(size_t off, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        img[off + i] = (uint8_t)(seed + i * 7);
}

static bool ram_has_pattern(const uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(seed + i * 7))
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

/* Loads img[0..len) and expects failure @rc with @needle in the message. */
static void expect_fail(const struct lapis_guest_ram *ram, size_t len, int rc, const char *needle)
{
    struct lapis_elf_info info;

    err[0] = 0;
    CHECK_EQ(lapis_elf_load(ram, img, len, &info, err, sizeof(err)), rc);
    if (!strstr(err, needle)) {
        printf("  message \"%s\" lacks \"%s\"\n", err, needle);
        CHECK(0);
    }
}

static void test_load_elf32(void)
{
    struct lapis_guest_ram ram = ram_low();
    struct elf_seg s[] = {
        {1, 0x1000, 0x100000, 0x100000, 0x300, 0x300},
        {4, 0x5000, 0, 0, 0x10, 0x10}, /* PT_NOTE, not loaded */
        {1, 0x2000, 0x102000, 0x102000, 0x100, 0x1100},
    };
    struct lapis_elf_info info;

    elf_build(img, false, LAPIS_ELF_EM_386, 0x100010, s, 3);
    fill_pattern(0x1000, 0x300, 1);
    fill_pattern(0x2000, 0x100, 9);
    CHECK(lapis_elf_is_elf(img, 0x2100));
    /* The dry run fills the plan and writes nothing. */
    CHECK_EQ(lapis_elf_check(&ram, img, 0x2100, &info, err, sizeof(err)), 0);
    CHECK_EQ(info.load_lo, 0x100000);
    CHECK_EQ(info.load_hi, 0x103100);
    CHECK(all_bytes(low_ram, RAM_SIZE, 0xAA));
    CHECK_EQ(lapis_elf_load(&ram, img, 0x2100, &info, err, sizeof(err)), 0);
    CHECK(!info.is64);
    CHECK_EQ(info.machine, 3);
    CHECK_EQ(info.entry, 0x100010);
    CHECK_EQ(info.entry_paddr, 0x100010);
    CHECK_EQ(info.phnum, 3);
    CHECK_EQ(info.nload, 2);
    CHECK_EQ(info.load_lo, 0x100000);
    CHECK_EQ(info.load_hi, 0x103100);
    CHECK(ram_has_pattern(low_ram + 0x100000, 0x300, 1));
    CHECK(ram_has_pattern(low_ram + 0x102000, 0x100, 9));
    CHECK(all_bytes(low_ram + 0x102100, 0x1000, 0));    /* bss */
    CHECK(all_bytes(low_ram + 0x100300, 0x1D00, 0xAA)); /* gap untouched */
    CHECK_EQ(low_ram[0x103100], 0xAA);
    CHECK_EQ(low_ram[0xFFFFF], 0xAA);
}

static void test_load_elf64_translates_entry(void)
{
    struct lapis_guest_ram ram = ram_low();
    struct elf_seg s[] = {
        {1, 0x1000, 0xffffffff80100000ull, 0x100000, 0x200, 0x400},
        {1, 0, 0, 0x180000, 0, 0}, /* empty: ignored */
    };
    struct lapis_elf_info info;

    elf_build(img, true, LAPIS_ELF_EM_X86_64, 0xffffffff80100020ull, s, 2);
    fill_pattern(0x1000, 0x200, 3);
    CHECK_EQ(lapis_elf_load(&ram, img, 0x1200, &info, err, sizeof(err)), 0);
    CHECK(info.is64);
    CHECK_EQ(info.machine, 62);
    CHECK_EQ(info.entry_paddr, 0x100020);
    CHECK_EQ(info.nload, 1);
    CHECK(ram_has_pattern(low_ram + 0x100000, 0x200, 3));
    CHECK(all_bytes(low_ram + 0x100200, 0x200, 0));
    CHECK_EQ(low_ram[0x100400], 0xAA);
}

static void test_load_high_ram(void)
{
    struct lapis_guest_ram ram = ram_low();
    struct elf_seg s[] = {{1, 0x1000, 0x100000000ull, 0x100000000ull, 0x100, 0x200}};
    struct lapis_elf_info info;

    ram.high = high_ram;
    ram.high_size = HIGH_SIZE;
    memset(high_ram, 0xAA, sizeof(high_ram));
    elf_build(img, true, LAPIS_ELF_EM_X86_64, 0x100000000ull, s, 1);
    fill_pattern(0x1000, 0x100, 5);
    CHECK_EQ(lapis_elf_load(&ram, img, 0x1100, &info, err, sizeof(err)), 0);
    CHECK(ram_has_pattern(high_ram, 0x100, 5));
    CHECK(all_bytes(high_ram + 0x100, 0x100, 0));
    CHECK(all_bytes(low_ram, RAM_SIZE, 0xAA));

    /* Crossing the end of high RAM fails and names both ranges. */
    s[0].paddr = s[0].vaddr = 0x100000000ull + HIGH_SIZE - 0x100;
    elf_build(img, true, LAPIS_ELF_EM_X86_64, s[0].paddr, s, 1);
    expect_fail(&ram, 0x1100, -ENOSPC, "does not fit in 3 MiB of guest RAM (0x0 - 0x1fffff and");
}

static void test_bad_headers(void)
{
    struct lapis_guest_ram ram = ram_low();
    struct elf_seg s[] = {{1, 0x1000, 0x100000, 0x100000, 0x10, 0x10}};
    struct lapis_elf_info info;

    CHECK_EQ(lapis_elf_load(&ram, NULL, 0, &info, err, sizeof(err)), -EINVAL);
    CHECK_EQ(lapis_elf_load(NULL, img, 100, &info, err, sizeof(err)), -EINVAL);
    expect_fail(&ram, 0, -ENOEXEC, "only 0 bytes");
    elf_build(img, false, 3, 0x100000, s, 1);
    expect_fail(&ram, 15, -ENOEXEC, "only 15 bytes");
    expect_fail(&ram, 40, -ENOEXEC, "header needs 52 bytes, file has 40");
    img[0] = 0x7e;
    expect_fail(&ram, 0x1010, -ENOEXEC, "bad magic");
    CHECK(!lapis_elf_is_elf(img, 0x1010));

    elf_build(img, false, 3, 0x100000, s, 1);
    img[4] = 3;
    expect_fail(&ram, 0x1010, -ENOEXEC, "class 3");
    elf_build(img, false, 3, 0x100000, s, 1);
    img[5] = 2;
    expect_fail(&ram, 0x1010, -ENOEXEC, "not little-endian");
    elf_build(img, false, 3, 0x100000, s, 1);
    img[6] = 0;
    expect_fail(&ram, 0x1010, -ENOEXEC, "ident version 0");
    elf_build(img, false, 3, 0x100000, s, 1);
    put_le16(img + 16, 3);
    expect_fail(&ram, 0x1010, -ENOEXEC, "ELF type 3");
    elf_build(img, false, 40, 0x100000, s, 1); /* ARM */
    expect_fail(&ram, 0x1010, -ENOEXEC, "machine 40");
    elf_build(img, false, 3, 0x100000, s, 1);
    put_le32(img + 20, 2);
    expect_fail(&ram, 0x1010, -ENOEXEC, "ELF version 2");
    elf_build(img, false, 3, 0x100000, s, 0);
    expect_fail(&ram, 0x1010, -ENOEXEC, "no program headers");
    elf_build(img, false, 3, 0x100000, s, 1);
    put_le16(img + 44, 0xFFFF);
    expect_fail(&ram, 0x1010, -ENOEXEC, "65535 program headers");
    elf_build(img, false, 3, 0x100000, s, 1);
    put_le16(img + 42, 31);
    expect_fail(&ram, 0x1010, -ENOEXEC, "program header size 31");
    elf_build(img, true, 62, 0x100000, s, 1);
    put_le16(img + 54, 32);
    expect_fail(&ram, 0x1010, -ENOEXEC, "program header size 32");
    /* Program header table past the end, and an offset that would overflow. */
    elf_build(img, false, 3, 0x100000, s, 1);
    expect_fail(&ram, 60, -ENOEXEC, "program headers need bytes up to 0x54, file has 0x3c");
    elf_build(img, true, 62, 0x100000, s, 1);
    put_le64(img + 32, UINT64_MAX - 8);
    expect_fail(&ram, 0x1010, -ENOEXEC, "truncated: program headers");
    CHECK(all_bytes(low_ram, RAM_SIZE, 0xAA));
}

static void test_bad_segments(void)
{
    struct lapis_guest_ram ram = ram_low();
    struct elf_seg s[] = {
        {1, 0x1000, 0x100000, 0x100000, 0x100, 0x100},
        {1, 0x2000, 0x110000, 0x110000, 0x100, 0x100},
    };

    /* No PT_LOAD at all. */
    s[0].type = s[1].type = 4;
    elf_build(img, false, 3, 0x100000, s, 2);
    expect_fail(&ram, 0x2100, -ENOEXEC, "no loadable (PT_LOAD) segment");
    s[0].type = s[1].type = 1;

    /* File bytes outside the file. */
    elf_build(img, false, 3, 0x100000, s, 2);
    expect_fail(&ram, 0x2080, -ENOEXEC,
                "kernel file is truncated: segment 1 needs bytes up to 0x2100, file has 0x2080");
    s[1].offset = 0xFFFFFFFF;
    elf_build(img, false, 3, 0x100000, s, 2);
    expect_fail(&ram, 0x2100, -ENOEXEC, "segment 1 needs bytes up to 0x1000000ff");
    s[1].offset = 0x2000;

    /* filesz > memsz. */
    s[1].memsz = 0x80;
    elf_build(img, false, 3, 0x100000, s, 2);
    expect_fail(&ram, 0x2100, -ENOEXEC, "file size 0x100 exceeds memory size 0x80");
    s[1].memsz = 0x100;

    /* Outside RAM, and straddling its end. */
    s[1].paddr = 0x300000;
    elf_build(img, false, 3, 0x100000, s, 2);
    expect_fail(&ram, 0x2100, -ENOSPC,
                "segment 1 (0x300000 - 0x3000ff) does not fit in 2 MiB of guest RAM");
    s[1].paddr = RAM_SIZE - 0x80;
    elf_build(img, false, 3, 0x100000, s, 2);
    expect_fail(&ram, 0x2100, -ENOSPC, "segment 1 (0x1fff80 - 0x20007f) does not fit");
    /* A huge bss. */
    s[1].paddr = 0x110000;
    s[1].memsz = 0xFFFFFFF0;
    elf_build(img, false, 3, 0x100000, s, 2);
    expect_fail(&ram, 0x2100, -ENOEXEC, "wraps around the 32-bit address space");
    s[1].paddr = 0;
    elf_build(img, false, 3, 0x100000, s, 2);
    expect_fail(&ram, 0x2100, -ENOSPC, "does not fit");
    s[1].memsz = 0x100;
    s[1].paddr = 0x110000;

    /* Overlap, in either order. */
    s[1].paddr = 0x1000FF;
    elf_build(img, false, 3, 0x100000, s, 2);
    expect_fail(&ram, 0x2100, -ENOEXEC,
                "segments 0 (0x100000 - 0x1000ff) and 1 (0x1000ff - 0x1001fe) overlap");
    s[1].paddr = 0xFFF01;
    elf_build(img, false, 3, 0x100000, s, 2);
    expect_fail(&ram, 0x2100, -ENOEXEC, "overlap");
    s[1].paddr = 0x110000;

    /* Entry outside every segment, even right after one. */
    elf_build(img, false, 3, 0x100100, s, 2);
    expect_fail(&ram, 0x2100, -ENOEXEC, "entry point 0x100100 is not inside");
    CHECK(all_bytes(low_ram, RAM_SIZE, 0xAA));
}

static void test_bad_segments_elf64(void)
{
    struct lapis_guest_ram ram = ram_low();
    struct elf_seg s[] = {
        {1, 0x1000, 0x100000, 0x100000, 0x100, 0x100},
        {1, 0x2000, 0x110000, 0x110000, 0x100, 0x100},
    };

    s[1].paddr = UINT64_MAX - 0x10;
    elf_build(img, true, 62, 0x100000, s, 2);
    expect_fail(&ram, 0x2100, -ENOEXEC, "wraps around the 64-bit address space");
    s[1].paddr = 0x110000;
    s[1].offset = UINT64_MAX - 0x10;
    elf_build(img, true, 62, 0x100000, s, 2);
    expect_fail(&ram, 0x2100, -ENOEXEC, "overflows");
    s[1].offset = 0x2000;
    s[1].memsz = UINT64_MAX;
    elf_build(img, true, 62, 0x100000, s, 2);
    expect_fail(&ram, 0x2100, -ENOEXEC, "wraps");
    s[1].paddr = 0;
    s[1].memsz = UINT64_MAX;
    elf_build(img, true, 62, 0x100000, s, 2);
    expect_fail(&ram, 0x2100, -ENOSPC, "does not fit");
    /* Pass 1 catches the second segment, so the first was not copied either. */
    CHECK(all_bytes(low_ram, RAM_SIZE, 0xAA));
}

static void test_phdr_accessor_and_null_err(void)
{
    struct elf_seg s[] = {{4, 0x123, 0x456, 0x789, 0x10, 0x20}};
    struct lapis_elf_info info;
    struct lapis_elf_phdr ph;

    elf_build(img, true, 62, 0, s, 1);
    CHECK_EQ(lapis_elf_parse(img, 0x1000, &info, NULL, 0), 0);
    lapis_elf_phdr(img, &info, 0, &ph);
    CHECK_EQ(ph.type, 4);
    CHECK_EQ(ph.offset, 0x123);
    CHECK_EQ(ph.vaddr, 0x456);
    CHECK_EQ(ph.paddr, 0x789);
    CHECK_EQ(ph.filesz, 0x10);
    CHECK_EQ(ph.memsz, 0x20);
    CHECK_EQ(ph.flags, 5);
    CHECK_EQ(ph.align, 0x1000);
    /* A tiny error buffer is still terminated and never overrun. */
    char small[8];
    memset(small, 'x', sizeof(small));
    img[0] = 0;
    CHECK_EQ(lapis_elf_parse(img, 0x1000, &info, small, 5), -ENOEXEC);
    CHECK_EQ(strlen(small), 4);
    CHECK_EQ(small[5], 'x');
}

/* Random corruption of a valid image never crashes and never writes outside RAM. */
static void test_fuzz_headers(void)
{
    struct lapis_guest_ram ram = ram_low();
    struct elf_seg s[] = {
        {1, 0x1000, 0x100000, 0x100000, 0x100, 0x200},
        {1, 0x2000, 0x110000, 0x110000, 0x100, 0x100},
    };
    struct lapis_elf_info info;
    unsigned ok = 0;

    srand(1);
    for (int iter = 0; iter < 20000; iter++) {
        bool is64 = iter & 1;
        elf_build(img, is64, is64 ? 62 : 3, 0x100000, s, 2);
        unsigned hdr = is64 ? 64 + 2 * 56 : 52 + 2 * 32;
        for (int k = 0; k < 3; k++)
            img[rand() % hdr] = (uint8_t)rand();
        if (lapis_elf_load(&ram, img, 0x2100, &info, err, sizeof(err)) == 0)
            ok++;
        else
            CHECK(err[0] != 0);
    }
    CHECK(ok > 0);
}

int main(void)
{
    RUN_TEST(test_load_elf32);
    RUN_TEST(test_load_elf64_translates_entry);
    RUN_TEST(test_load_high_ram);
    RUN_TEST(test_bad_headers);
    RUN_TEST(test_bad_segments);
    RUN_TEST(test_bad_segments_elf64);
    RUN_TEST(test_phdr_accessor_and_null_err);
    RUN_TEST(test_fuzz_headers);
    return harness_finish("elf");
}
