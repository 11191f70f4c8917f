/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "devices/fwcfg.h"
#include "../harness.h"

static void sel(struct lapis_fwcfg *fw, uint16_t key)
{
    uint32_t v = key;
    CHECK_EQ(lapis_fwcfg_io(fw, LAPIS_FWCFG_PORT_SEL, 2, true, &v), 0);
}

static uint8_t rd8(struct lapis_fwcfg *fw)
{
    uint32_t v = 0xDEAD;
    CHECK_EQ(lapis_fwcfg_io(fw, LAPIS_FWCFG_PORT_DATA, 1, false, &v), 0);
    CHECK(v <= 0xFF);
    return (uint8_t)v;
}

static uint64_t read_le(struct lapis_fwcfg *fw, uint16_t key, unsigned n)
{
    uint64_t v = 0;
    sel(fw, key);
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)rd8(fw) << (8 * i);
    return v;
}

static void test_standard_items(void)
{
    struct lapis_fwcfg fw;
    char sig[5] = {0};

    CHECK_EQ(lapis_fwcfg_init(&fw, 0x1234567890ull, 2, 4), 0);
    sel(&fw, LAPIS_FWCFG_SIGNATURE);
    for (int i = 0; i < 4; i++)
        sig[i] = (char)rd8(&fw);
    CHECK_STR(sig, "QEMU");
    CHECK_EQ(read_le(&fw, LAPIS_FWCFG_ID, 4), 1);
    CHECK_EQ(read_le(&fw, LAPIS_FWCFG_RAM_SIZE, 8), 0x1234567890ull);
    CHECK_EQ(read_le(&fw, LAPIS_FWCFG_NB_CPUS, 2), 2);
    CHECK_EQ(read_le(&fw, LAPIS_FWCFG_MAX_CPUS, 2), 4);
    CHECK_EQ(read_le(&fw, LAPIS_FWCFG_FILE_DIR, 4), 0);
    CHECK_EQ(fw.stats.reads_past_end, 0);
    CHECK_EQ(fw.stats.selects, 6);
}

static void test_past_end_and_reselect(void)
{
    struct lapis_fwcfg fw;

    CHECK_EQ(lapis_fwcfg_init(&fw, 1 << 20, 1, 1), 0);
    sel(&fw, LAPIS_FWCFG_SIGNATURE);
    CHECK_EQ(rd8(&fw), 'Q');
    CHECK_EQ(rd8(&fw), 'E');
    /* Selecting again restarts at offset 0. */
    sel(&fw, LAPIS_FWCFG_SIGNATURE);
    CHECK_EQ(rd8(&fw), 'Q');
    CHECK_EQ(rd8(&fw), 'E');
    CHECK_EQ(rd8(&fw), 'M');
    CHECK_EQ(rd8(&fw), 'U');
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(rd8(&fw), 0);
    CHECK_EQ(fw.stats.reads_past_end, 1000);
    CHECK_EQ(fw.offset, 4); /* never runs past the item */
    /* The write-channel bit is ignored in the lookup, as QEMU does. */
    sel(&fw, LAPIS_FWCFG_WRITE_CHANNEL | LAPIS_FWCFG_SIGNATURE);
    CHECK_EQ(rd8(&fw), 'Q');
}

static void test_unknown_key(void)
{
    struct lapis_fwcfg fw;

    CHECK_EQ(lapis_fwcfg_init(&fw, 1 << 20, 1, 1), 0);
    /* Before any selection, reads give 0. */
    CHECK_EQ(rd8(&fw), 0);
    sel(&fw, 0x0002);
    CHECK_EQ(rd8(&fw), 0);
    sel(&fw, 0x8000);
    CHECK_EQ(rd8(&fw), 0);
    sel(&fw, 0xFFFF);
    CHECK_EQ(rd8(&fw), 0);
    CHECK_EQ(fw.stats.unknown_selects, 3);
}

static void test_set_items(void)
{
    struct lapis_fwcfg fw;
    uint8_t big[LAPIS_FWCFG_MAX_ITEM_SIZE + 1];

    memset(big, 0x77, sizeof(big));
    CHECK_EQ(lapis_fwcfg_init(&fw, 1 << 20, 1, 1), 0);
    CHECK_EQ(lapis_fwcfg_set(&fw, 0x8001, "ab", 2), 0);
    CHECK_EQ(read_le(&fw, 0x8001, 3), 'a' | ('b' << 8));
    /* Replacing keeps one slot. */
    unsigned n = fw.nitems;
    CHECK_EQ(lapis_fwcfg_set(&fw, 0x8001, "xyz", 3), 0);
    CHECK_EQ(fw.nitems, n);
    CHECK_EQ(read_le(&fw, 0x8001, 4), 'x' | ('y' << 8) | ('z' << 16));
    /* A shorter replacement while a guest is mid-item stays bounded. */
    sel(&fw, 0x8001);
    rd8(&fw);
    rd8(&fw);
    CHECK_EQ(lapis_fwcfg_set(&fw, 0x8001, "q", 1), 0);
    CHECK_EQ(rd8(&fw), 0);
    CHECK_EQ(lapis_fwcfg_set(&fw, 0x20, big, sizeof(big)), -E2BIG);
    CHECK_EQ(lapis_fwcfg_set(&fw, 0x20, big, LAPIS_FWCFG_MAX_ITEM_SIZE), 0);
    sel(&fw, 0x20);
    for (unsigned i = 0; i < LAPIS_FWCFG_MAX_ITEM_SIZE; i++)
        if (rd8(&fw) != 0x77)
            CHECK(0);
    CHECK_EQ(rd8(&fw), 0);
    CHECK_EQ(lapis_fwcfg_set(&fw, 0x21, NULL, 1), -EINVAL);
    CHECK_EQ(lapis_fwcfg_set(&fw, 0x4021, "a", 1), -EINVAL);
    CHECK_EQ(lapis_fwcfg_set(&fw, 0x21, NULL, 0), 0); /* empty item */
    sel(&fw, 0x21);
    CHECK_EQ(rd8(&fw), 0);
    /* Fill every slot. */
    int rc = 0;
    for (uint16_t k = 0x100; rc == 0; k++)
        rc = lapis_fwcfg_set(&fw, k, "z", 1);
    CHECK_EQ(rc, -ENOSPC);
    CHECK_EQ(fw.nitems, LAPIS_FWCFG_MAX_ITEMS);
    /* Replacing still works when full. */
    CHECK_EQ(lapis_fwcfg_set(&fw, LAPIS_FWCFG_SIGNATURE, "LAPS", 4), 0);
    CHECK_EQ(read_le(&fw, LAPIS_FWCFG_SIGNATURE, 1), 'L');
}

static void test_init_checks(void)
{
    struct lapis_fwcfg fw;

    CHECK_EQ(lapis_fwcfg_init(&fw, 1 << 20, 0, 1), -EINVAL);
    CHECK_EQ(lapis_fwcfg_init(&fw, 1 << 20, 3, 2), -EINVAL);
    CHECK_EQ(lapis_fwcfg_init(&fw, 1 << 20, 0xFFFF, 0xFFFF), 0);
    CHECK_EQ(read_le(&fw, LAPIS_FWCFG_NB_CPUS, 2), 0xFFFF);
}

static void test_bad_accesses(void)
{
    struct lapis_fwcfg fw;
    uint32_t v;

    CHECK(lapis_fwcfg_handles(0x510));
    CHECK(lapis_fwcfg_handles(0x511));
    CHECK(!lapis_fwcfg_handles(0x512));
    CHECK(!lapis_fwcfg_handles(0x50F));
    CHECK_EQ(lapis_fwcfg_init(&fw, 1 << 20, 1, 1), 0);
    sel(&fw, LAPIS_FWCFG_SIGNATURE);
    v = LAPIS_FWCFG_ID;
    CHECK_EQ(lapis_fwcfg_io(&fw, 0x510, 4, true, &v), -EINVAL);
    CHECK_EQ(lapis_fwcfg_io(&fw, 0x511, 2, true, &v), -EINVAL); /* a select at the data port */
    v = 0xAB;
    CHECK_EQ(lapis_fwcfg_io(&fw, 0x510, 2, false, &v), -EINVAL);
    CHECK_EQ(v, 0);
    v = 0xAB;
    CHECK_EQ(lapis_fwcfg_io(&fw, 0x511, 2, false, &v), -EINVAL);
    CHECK_EQ(v, 0);
    CHECK_EQ(lapis_fwcfg_io(&fw, 0x511, 4, false, &v), -EINVAL);
    CHECK_EQ(lapis_fwcfg_io(&fw, 0x512, 1, false, &v), -EINVAL);
    CHECK_EQ(lapis_fwcfg_io(&fw, 0x511, 1, false, NULL), -EINVAL);
    CHECK_EQ(fw.stats.bad_access, 7);
    /* Byte writes, to either port (a byte "select" too), are ignored, but legal, as QEMU's. */
    v = 0x55;
    CHECK_EQ(lapis_fwcfg_io(&fw, 0x511, 1, true, &v), 0);
    v = LAPIS_FWCFG_ID;
    CHECK_EQ(lapis_fwcfg_io(&fw, 0x510, 1, true, &v), 0);
    CHECK_EQ(fw.stats.writes_ignored, 2);
    /* None of that moved the selection or offset. */
    CHECK_EQ(rd8(&fw), 'Q');
}

/* QEMU's region is both ports: a byte read of the selector is the next data byte. */
static void test_selector_reads_data(void)
{
    struct lapis_fwcfg fw;
    uint32_t v = 0xDEAD;

    CHECK_EQ(lapis_fwcfg_init(&fw, 1 << 20, 3, 3), 0);
    sel(&fw, LAPIS_FWCFG_NB_CPUS);
    CHECK_EQ(lapis_fwcfg_io(&fw, LAPIS_FWCFG_PORT_SEL, 1, false, &v), 0);
    CHECK_EQ(v, 3);
    CHECK_EQ(rd8(&fw), 0);
    CHECK_EQ(fw.stats.data_reads, 2);
    CHECK_EQ(fw.stats.bad_access, 0);
}

/* The rules the port bus applies before the model sees anything (fw_cfg_comb_valid). */
static void test_rules(void)
{
    const struct lapis_portio_rules *r = &lapis_fwcfg_rules;

    CHECK(lapis_portio_accepts(r, 0, 1, false));
    CHECK(lapis_portio_accepts(r, 1, 1, false));
    CHECK(lapis_portio_accepts(r, 0, 1, true));
    CHECK(lapis_portio_accepts(r, 0, 2, true));
    CHECK(!lapis_portio_accepts(r, 1, 2, true)); /* unaligned */
    CHECK(!lapis_portio_accepts(r, 0, 2, false));
    CHECK(!lapis_portio_accepts(r, 0, 4, true));
    CHECK(!lapis_portio_accepts(r, 0, 4, false));
}

int main(void)
{
    RUN_TEST(test_standard_items);
    RUN_TEST(test_past_end_and_reselect);
    RUN_TEST(test_unknown_key);
    RUN_TEST(test_set_items);
    RUN_TEST(test_init_checks);
    RUN_TEST(test_bad_accesses);
    RUN_TEST(test_selector_reads_data);
    RUN_TEST(test_rules);
    return harness_finish("fwcfg");
}
