/* SPDX-License-Identifier: MIT */
/* The snapshot file format: round trips, and every kind of damage refused with a message. */
#include "../harness.h"

#include <errno.h>
#include <stdlib.h>

#include "cli/snapshot_file.h"

struct membuf {
    uint8_t *p;
    size_t len, cap;
    int fail_after; /* fail the nth write (0: never) */
    int writes;
};

static int mem_write(void *opaque, const void *buf, size_t len)
{
    struct membuf *m = opaque;
    if (m->fail_after && ++m->writes >= m->fail_after)
        return -ENOSPC;
    if (m->len + len > m->cap) {
        size_t cap = (m->len + len) * 2;
        uint8_t *p = realloc(m->p, cap);
        if (!p)
            return -ENOMEM;
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Re-seals a file edited on purpose, so a check other than the CRC is reached. */
static void reseal(uint8_t *p, size_t len)
{
    put32(p + len - 8, lapis_crc32(0, p, len - LAPIS_SNAP_TRAILER_SIZE));
}

static const struct lapis_snap_vm good_vm = {
    .memory = 4ull << 20,
    .cpus = 2,
    .irqchip = LAPIS_SNAP_IRQCHIP_SPLIT,
    .ioapic_version = 0x20,
    .eoi_request = 0,
    .x2apic_api_flags = 4,
    .emulate_fix = 0,
    .policy_mode = 1,
    .saves = 1,
};

static uint8_t low_ram[4u << 20] __attribute__((aligned(4096)));
static uint8_t low_ram2[4u << 20] __attribute__((aligned(4096)));

/* A small but complete file: VM, RAM (a few pages set), CPUID, one CPU with two records. */
static struct membuf make_file(void)
{
    static uint8_t vmbytes[LAPIS_SNAP_VM_SIZE];
    static const uint8_t cpuid[40] = {1, 2, 3};
    static uint8_t cpu[64];
    struct lapis_guest_ram ram = {.low = low_ram, .low_size = sizeof(low_ram)};
    struct lapis_snap_ram_out ro;
    struct membuf m = {0};

    memset(low_ram, 0, sizeof(low_ram));
    memset(low_ram + 0x1000, 0xAB, 0x1000);
    memset(low_ram + 0x3000, 0xCD, 0x2000);
    low_ram[sizeof(low_ram) - 1] = 0x42;
    lapis_snap_vm_encode(&good_vm, vmbytes);
    lapis_snap_tlv_header(cpu, 7, 5);
    memcpy(cpu + 8, "hello", 5);
    lapis_snap_tlv_header(cpu + 16, 9, 16);
    memset(cpu + 24, 0x11, 16);
    if (lapis_snap_ram_build(&ram, &ro))
        abort();
    struct lapis_snap_chunk vmc = {vmbytes, sizeof(vmbytes)}, idc = {cpuid, sizeof(cpuid)},
                            cpuc = {cpu, 40};
    struct lapis_snap_out_section s[] = {
        {LAPIS_SNAP_VM, LAPIS_SNAP_VM_VERSION, 0, &vmc, 1},
        {LAPIS_SNAP_CPUID, 1, 0, &idc, 1},
        {LAPIS_SNAP_RAM, LAPIS_SNAP_RAM_VERSION, 0, ro.chunks, ro.nchunks},
        {LAPIS_SNAP_CPU, 1, 0, &cpuc, 1},
    };
    if (lapis_snap_write(s, 4, "0.1.0", mem_write, &m))
        abort();
    lapis_snap_ram_free(&ro);
    return m;
}

static void test_crc32(void)
{
    CHECK_EQ(lapis_crc32(0, "123456789", 9), 0xCBF43926u);
    CHECK_EQ(lapis_crc32(lapis_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
    CHECK_EQ(lapis_crc32(0, "", 0), 0);
}

static void test_round_trip(void)
{
    struct membuf m = make_file();
    struct lapis_snap_file f;
    struct lapis_snap_vm vm;
    char err[256];

    CHECK_EQ(lapis_snap_parse(m.p, m.len, &f, err, sizeof(err)), 0);
    CHECK_EQ(f.nsections, 4);
    CHECK_STR(f.lapis_version, "0.1.0");
    CHECK_EQ(m.len % 8, 0);
    const struct lapis_snap_section *s = lapis_snap_find(&f, LAPIS_SNAP_VM, 0);
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ(lapis_snap_vm_decode(s, &vm, err, sizeof(err)), 0);
        CHECK(memcmp(&vm, &good_vm, sizeof(vm)) == 0);
    }
    CHECK(lapis_snap_find(&f, LAPIS_SNAP_CPU, 1) == NULL);
    s = lapis_snap_find(&f, LAPIS_SNAP_CPU, 0);
    CHECK(s != NULL);
    if (s) {
        uint64_t off = 0;
        uint32_t tag, vlen;
        const uint8_t *val;
        CHECK_EQ(lapis_snap_tlv_next(s->data, s->len, &off, &tag, &val, &vlen), 1);
        CHECK_EQ(tag, 7);
        CHECK_EQ(vlen, 5);
        CHECK(memcmp(val, "hello", 5) == 0);
        CHECK_EQ(lapis_snap_tlv_next(s->data, s->len, &off, &tag, &val, &vlen), 1);
        CHECK_EQ(tag, 9);
        CHECK_EQ(vlen, 16);
        CHECK_EQ(lapis_snap_tlv_next(s->data, s->len, &off, &tag, &val, &vlen), 0);
    }
    /* RAM: only the 4 non-zero pages are stored; loading reproduces every byte. */
    s = lapis_snap_find(&f, LAPIS_SNAP_RAM, 0);
    CHECK(s != NULL);
    if (s) {
        struct lapis_guest_ram ram2 = {.low = low_ram2, .low_size = sizeof(low_ram2)};
        uint64_t words = (sizeof(low_ram) / 4096 + 63) / 64;
        CHECK_EQ(s->len, 16 + words * 8 + 4 * 4096);
        memset(low_ram2, 0x77, sizeof(low_ram2));
        CHECK_EQ(lapis_snap_ram_load(s, &ram2, false, err, sizeof(err)), 0);
        CHECK(memcmp(low_ram, low_ram2, sizeof(low_ram)) == 0);
    }
    free(m.p);
}

static void test_ram_split_low_high(void)
{
    static uint8_t lo[8192] __attribute__((aligned(4096))), hi[8192] __attribute__((aligned(4096)));
    static uint8_t lo2[8192] __attribute__((aligned(4096))),
        hi2[8192] __attribute__((aligned(4096)));
    struct lapis_guest_ram ram = {.low = lo, .low_size = 8192, .high = hi, .high_size = 8192};
    struct lapis_guest_ram ram2 = {.low = lo2, .low_size = 8192, .high = hi2, .high_size = 8192};
    struct lapis_snap_ram_out ro;
    struct membuf m = {0};
    char err[256];

    memset(lo + 4096, 1, 4096); /* last low page and first high page: not contiguous in memory */
    memset(hi, 2, 4096);
    CHECK_EQ(lapis_snap_ram_build(&ram, &ro), 0);
    CHECK_EQ(ro.stored_pages, 2);
    CHECK_EQ(ro.nchunks, 4); /* header, bitmap, one run per mapping */
    uint64_t len = 0;
    for (unsigned i = 0; i < ro.nchunks; i++) {
        CHECK_EQ(mem_write(&m, ro.chunks[i].data, ro.chunks[i].len), 0);
        len += ro.chunks[i].len;
    }
    struct lapis_snap_section s = {LAPIS_SNAP_RAM, LAPIS_SNAP_RAM_VERSION, 0, m.p, len};
    CHECK_EQ(lapis_snap_ram_load(&s, &ram2, true, err, sizeof(err)), 0);
    CHECK(memcmp(lo, lo2, 8192) == 0 && memcmp(hi, hi2, 8192) == 0);
    /* A RAM of another size is refused, untouched. */
    struct lapis_guest_ram small = {.low = lo2, .low_size = 8192};
    memset(lo2, 9, sizeof(lo2));
    CHECK_EQ(lapis_snap_ram_load(&s, &small, false, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "does not hold") != NULL);
    CHECK_EQ(lo2[0], 9);
    /* A bit past the end of RAM. */
    m.p[16] |= 0x80;
    CHECK_EQ(lapis_snap_ram_load(&s, &ram2, false, err, sizeof(err)), -EINVAL);
    m.p[16] &= 0x7F;
    /* One page too few. */
    s.len -= 4096;
    CHECK_EQ(lapis_snap_ram_load(&s, &ram2, false, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "pages marked") != NULL);
    s.version = 2;
    s.len += 4096;
    CHECK_EQ(lapis_snap_ram_load(&s, &ram2, false, err, sizeof(err)), -EINVAL);
    lapis_snap_ram_free(&ro);
    free(m.p);
}

static void test_every_flipped_byte_refused(void)
{
    struct membuf m = make_file();
    struct lapis_snap_file f;
    char err[256];
    size_t refused = 0;

    for (size_t i = 0; i < m.len; i++) {
        m.p[i] ^= 0x01;
        if (lapis_snap_parse(m.p, m.len, &f, err, sizeof(err)) != 0 && err[0])
            refused++;
        m.p[i] ^= 0x01;
    }
    CHECK_EQ(refused, m.len);
    m.p[100] ^= 0x80;
    CHECK_EQ(lapis_snap_parse(m.p, m.len, &f, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "checksum mismatch") != NULL);
    free(m.p);
}

static void test_every_truncation_refused(void)
{
    struct membuf m = make_file();
    struct lapis_snap_file f;
    char err[256];
    size_t refused = 0;

    for (size_t len = 0; len < m.len; len++)
        if (lapis_snap_parse(m.p, len, &f, err, sizeof(err)) == -EINVAL && err[0])
            refused++;
    CHECK_EQ(refused, m.len);
    CHECK_EQ(lapis_snap_parse(m.p, m.len - 100, &f, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "truncated") != NULL);
    /* A byte too many. */
    uint8_t *longer = malloc(m.len + 1);
    memcpy(longer, m.p, m.len);
    longer[m.len] = 0;
    CHECK_EQ(lapis_snap_parse(longer, m.len + 1, &f, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "after the end") != NULL);
    free(longer);
    free(m.p);
}

static void test_foreign_and_versions(void)
{
    struct membuf m = make_file();
    struct lapis_snap_file f;
    char err[256];

    m.p[0] = 'X';
    CHECK_EQ(lapis_snap_parse(m.p, m.len, &f, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "not a lapis snapshot") != NULL);
    m.p[0] = 'L';
    /* Another format version is named as such, before the checksum. */
    put32(m.p + 8, 2);
    CHECK_EQ(lapis_snap_parse(m.p, m.len, &f, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "format version 2") != NULL);
    put32(m.p + 8, 1);
    CHECK_EQ(lapis_snap_parse(m.p, m.len, &f, err, sizeof(err)), 0);
    CHECK_EQ(lapis_snap_parse((const uint8_t *)"ELF\x7f", 4, &f, err, sizeof(err)), -EINVAL);
    CHECK_EQ(lapis_snap_parse(NULL, 0, &f, err, sizeof(err)), -EINVAL);
    /* Reserved fields, resealed so only they are wrong. */
    m.p[28] = 1;
    reseal(m.p, m.len);
    CHECK_EQ(lapis_snap_parse(m.p, m.len, &f, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "reserved") != NULL);
    free(m.p);
}

/* Edits table entry @i (resealed) and expects a refusal mentioning @needle. */
static void table_case(uint32_t i, unsigned field_off, uint64_t value, bool is64,
                       const char *needle)
{
    struct membuf m = make_file();
    struct lapis_snap_file f;
    char err[256] = "";
    uint8_t *e = m.p + LAPIS_SNAP_HEADER_SIZE + i * LAPIS_SNAP_ENTRY_SIZE + field_off;

    if (is64)
        put64(e, value);
    else
        put32(e, (uint32_t)value);
    reseal(m.p, m.len);
    CHECK_EQ(lapis_snap_parse(m.p, m.len, &f, err, sizeof(err)), -EINVAL);
    if (!strstr(err, needle))
        printf("  table_case: '%s' lacks '%s'\n", err, needle);
    CHECK(strstr(err, needle) != NULL);
    free(m.p);
}

static void test_section_table(void)
{
    struct membuf m = make_file();
    uint64_t off1 = 0, len1 = 0;
    memcpy(&off1, m.p + LAPIS_SNAP_HEADER_SIZE + LAPIS_SNAP_ENTRY_SIZE + 16, 8);
    memcpy(&len1, m.p + LAPIS_SNAP_HEADER_SIZE + LAPIS_SNAP_ENTRY_SIZE + 24, 8);
    free(m.p);

    table_case(0, 0, 99, false, "unknown type 99");
    table_case(1, 0, LAPIS_SNAP_VM, false, "appears twice");
    table_case(1, 12, 1, false, "reserved");
    table_case(1, 16, off1 + 4, true, "outside the data");   /* unaligned */
    table_case(1, 16, 8, true, "outside the data");          /* inside the table */
    table_case(1, 24, 1ull << 40, true, "outside the data"); /* too long */
    table_case(2, 16, off1, true, "overlap");                /* RAM on top of CPUID */
    table_case(1, 24, len1 + 4096, true, "");                /* runs into the next: overlap */
    table_case(0, 0, LAPIS_SNAP_DEVICES, false, "missing");  /* no VM section left */

    /* Section count. */
    m = make_file();
    struct lapis_snap_file f;
    char err[256];
    put32(m.p + 24, 0);
    reseal(m.p, m.len);
    CHECK_EQ(lapis_snap_parse(m.p, m.len, &f, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "section count") != NULL);
    put32(m.p + 24, 1000000);
    reseal(m.p, m.len);
    CHECK_EQ(lapis_snap_parse(m.p, m.len, &f, err, sizeof(err)), -EINVAL);
    free(m.p);
}

static void test_vm_section(void)
{
    uint8_t b[LAPIS_SNAP_VM_SIZE];
    struct lapis_snap_section s = {LAPIS_SNAP_VM, LAPIS_SNAP_VM_VERSION, 0, b, sizeof(b)};
    struct lapis_snap_vm vm;
    char err[256];
    struct {
        unsigned off;
        uint32_t value;
        const char *needle;
    } bad[] = {
        {0, 0, "memory size"}, {0, 4097, "memory size"}, {8, 0, "vCPUs"},
        {8, 65, "vCPUs"},      {12, 0, "irqchip"},       {12, 4, "irqchip"},
        {16, 0x12, "IOAPIC"},  {20, 4, "EOI policy"},    {24, 0x10, "EOI policy"},
        {32, 2, "EOI policy"}, {36, 3, "EOI policy"},    {50, 1, "reserved"},
    };

    lapis_snap_vm_encode(&good_vm, b);
    CHECK_EQ(lapis_snap_vm_decode(&s, &vm, err, sizeof(err)), 0);
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lapis_snap_vm_encode(&good_vm, b);
        if (bad[i].off == 0)
            put64(b, bad[i].value);
        else
            put32(b + bad[i].off, bad[i].value);
        err[0] = '\0';
        CHECK_EQ(lapis_snap_vm_decode(&s, &vm, err, sizeof(err)), -EINVAL);
        if (!strstr(err, bad[i].needle))
            printf("  vm case %u: '%s' lacks '%s'\n", i, err, bad[i].needle);
        CHECK(strstr(err, bad[i].needle) != NULL);
    }
    lapis_snap_vm_encode(&good_vm, b);
    s.version = 2;
    CHECK_EQ(lapis_snap_vm_decode(&s, &vm, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "version 2") != NULL);
    s.version = 1;
    s.len = 60;
    CHECK_EQ(lapis_snap_vm_decode(&s, &vm, err, sizeof(err)), -EINVAL);
}

static void test_tlv(void)
{
    uint8_t b[32];
    uint64_t off = 0;
    uint32_t tag, vlen;
    const uint8_t *val;

    CHECK_EQ(lapis_snap_tlv_size(0), 8);
    CHECK_EQ(lapis_snap_tlv_size(1), 16);
    CHECK_EQ(lapis_snap_tlv_size(8), 16);
    lapis_snap_tlv_header(b, 3, 20); /* runs past a 24-byte section */
    CHECK_EQ(lapis_snap_tlv_next(b, 24, &off, &tag, &val, &vlen), -EINVAL);
    off = 0;
    CHECK_EQ(lapis_snap_tlv_next(b, 4, &off, &tag, &val, &vlen), -EINVAL);
    lapis_snap_tlv_header(b, 3, 0xFFFFFFFFu);
    off = 0;
    CHECK_EQ(lapis_snap_tlv_next(b, 32, &off, &tag, &val, &vlen), -EINVAL);
    off = 0;
    CHECK_EQ(lapis_snap_tlv_next(b, 0, &off, &tag, &val, &vlen), 0);
}

static void test_write_errors(void)
{
    uint8_t vmb[LAPIS_SNAP_VM_SIZE] = {0};
    struct lapis_snap_chunk c = {vmb, sizeof(vmb)};
    struct lapis_snap_out_section s = {LAPIS_SNAP_VM, 1, 0, &c, 1};
    struct membuf m = {.fail_after = 3};

    CHECK_EQ(lapis_snap_write(&s, 1, "0.1.0", mem_write, &m), -ENOSPC);
    free(m.p);
    m = (struct membuf){0};
    CHECK_EQ(lapis_snap_write(&s, 0, "0.1.0", mem_write, &m), -EINVAL);
    CHECK_EQ(lapis_snap_write(&s, 1, "a version string much too long for it", mem_write, &m),
             -EINVAL);
    CHECK_EQ(m.len, 0);
    free(m.p);
}

int main(void)
{
    RUN_TEST(test_crc32);
    RUN_TEST(test_round_trip);
    RUN_TEST(test_ram_split_low_high);
    RUN_TEST(test_every_flipped_byte_refused);
    RUN_TEST(test_every_truncation_refused);
    RUN_TEST(test_foreign_and_versions);
    RUN_TEST(test_section_table);
    RUN_TEST(test_vm_section);
    RUN_TEST(test_tlv);
    RUN_TEST(test_write_errors);
    return harness_finish("test_snapshot_format");
}
