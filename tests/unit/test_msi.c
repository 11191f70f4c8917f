/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "devices/msi.h"
#include "../harness.h"

static void test_encode_known_values(void)
{
    struct lapis_msi m = {.dest = 0x12,
                          .dest_logical = true,
                          .redir_hint = false,
                          .vector = 0x41,
                          .delivery_mode = LAPIS_DM_LOWEST,
                          .level_assert = true,
                          .level_triggered = true};
    uint64_t addr = 0;
    uint32_t data = 0;

    lapis_msi_encode(&m, &addr, &data);
    CHECK_EQ(addr, 0xFEE12004ull);
    CHECK_EQ(data, 0xC141u);

    m = (struct lapis_msi){.dest = 0xFF, .redir_hint = true, .vector = 0xEF};
    lapis_msi_encode(&m, &addr, &data);
    CHECK_EQ(addr, 0xFEEFF008ull);
    CHECK_EQ(data, 0xEFu);
}

static void test_encode_truncates_dest_and_mode(void)
{
    struct lapis_msi m = {.dest = 0x1234, .vector = 0x30, .delivery_mode = 0xFF};
    uint64_t addr;
    uint32_t data;

    lapis_msi_encode(&m, &addr, &data);
    CHECK_EQ(addr, 0xFEE34000ull);
    CHECK_EQ(data, 0x730u);
}

static void test_decode_known_values(void)
{
    struct lapis_msi m;

    CHECK_EQ(lapis_msi_decode(0xFEE0300Cull, 0x8420u, &m), 0);
    CHECK_EQ(m.dest, 3);
    CHECK(m.dest_logical);
    CHECK(m.redir_hint);
    CHECK_EQ(m.vector, 0x20);
    CHECK_EQ(m.delivery_mode, LAPIS_DM_NMI);
    CHECK(!m.level_assert);
    CHECK(m.level_triggered);

    /* Bits the model does not use are ignored, not rejected. */
    CHECK_EQ(lapis_msi_decode(0xFEE00FF3ull, 0xFFFF38FFu, &m), 0);
    CHECK_EQ(m.dest, 0);
    CHECK(!m.dest_logical);
    CHECK(!m.redir_hint);
    CHECK_EQ(m.vector, 0xFF);
    CHECK_EQ(m.delivery_mode, 0);
    CHECK(!m.level_assert);
    CHECK(!m.level_triggered);
}

static void test_decode_rejects_bad_address(void)
{
    struct lapis_msi m = {.vector = 0x99};

    CHECK_EQ(lapis_msi_decode(0xFED00000ull, 0x30, &m), -EINVAL);
    CHECK_EQ(lapis_msi_decode(0xFEF00000ull, 0x30, &m), -EINVAL);
    CHECK_EQ(lapis_msi_decode(0, 0x30, &m), -EINVAL);
    CHECK_EQ(lapis_msi_decode(0x1FEE00000ull, 0x30, &m), -EINVAL);
    CHECK_EQ(lapis_msi_decode(0xFFFFFFFFFEE00000ull, 0x30, &m), -EINVAL);
    CHECK_EQ(m.vector, 0x99); /* untouched on error */
    CHECK_EQ(lapis_msi_decode(0xFEEFFFFFull, 0x30, &m), 0);
}

static void test_decode_rejects_reserved_mode(void)
{
    struct lapis_msi m = {.vector = 0x99};

    CHECK_EQ(lapis_msi_decode(0xFEE00000ull, 0x330, &m), -EINVAL);
    CHECK_EQ(m.vector, 0x99);
    for (unsigned dm = 0; dm < 8; dm++) {
        int rc = lapis_msi_decode(0xFEE00000ull, (dm << 8) | 0x30, &m);
        CHECK_EQ(rc, dm == 3 ? -EINVAL : 0);
        if (dm != 3)
            CHECK_EQ(m.delivery_mode, dm);
    }
}

static void test_round_trip_all_fields(void)
{
    unsigned failures = 0, count = 0;

    for (unsigned dest = 0; dest < 256; dest += 17) {
        for (unsigned vec = 0; vec < 256; vec += 5) {
            for (unsigned dm = 0; dm < 8; dm++) {
                if (dm == 3)
                    continue;
                for (unsigned flags = 0; flags < 16; flags++) {
                    struct lapis_msi in = {.dest = dest,
                                           .dest_logical = flags & 1,
                                           .redir_hint = (flags >> 1) & 1,
                                           .vector = (uint8_t)vec,
                                           .delivery_mode = (uint8_t)dm,
                                           .level_assert = (flags >> 2) & 1,
                                           .level_triggered = (flags >> 3) & 1};
                    struct lapis_msi out;
                    uint64_t addr;
                    uint32_t data;

                    lapis_msi_encode(&in, &addr, &data);
                    count++;
                    if (lapis_msi_decode(addr, data, &out) != 0 || out.dest != in.dest ||
                        out.dest_logical != in.dest_logical || out.redir_hint != in.redir_hint ||
                        out.vector != in.vector || out.delivery_mode != in.delivery_mode ||
                        out.level_assert != in.level_assert ||
                        out.level_triggered != in.level_triggered)
                        failures++;
                }
            }
        }
    }
    CHECK_EQ(failures, 0);
    CHECK(count > 10000);
}

static void test_round_trip_decode_encode(void)
{
    /* Every canonical address/data pair re-encodes to itself. */
    unsigned failures = 0;

    for (uint32_t a = 0; a < 0x100000; a += 0x1004) {
        uint64_t addr = LAPIS_MSI_ADDR_BASE | (a & 0xFF00Cu);
        for (uint32_t d = 0; d < 0x10000; d += 0x2F1) {
            uint32_t data = d & 0xC7FFu;
            struct lapis_msi m;
            uint64_t addr2;
            uint32_t data2;

            if (lapis_msi_decode(addr, data, &m) != 0) {
                if (((data >> 8) & 7) != 3)
                    failures++;
                continue;
            }
            lapis_msi_encode(&m, &addr2, &data2);
            if (addr2 != addr || data2 != data)
                failures++;
        }
    }
    CHECK_EQ(failures, 0);
}

int main(void)
{
    RUN_TEST(test_encode_known_values);
    RUN_TEST(test_encode_truncates_dest_and_mode);
    RUN_TEST(test_decode_known_values);
    RUN_TEST(test_decode_rejects_bad_address);
    RUN_TEST(test_decode_rejects_reserved_mode);
    RUN_TEST(test_round_trip_all_fields);
    RUN_TEST(test_round_trip_decode_encode);
    return harness_finish("msi");
}
