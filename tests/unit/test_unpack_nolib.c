/* SPDX-License-Identifier: MIT */
/*
 * unpack.c built as on a machine without the -dev packages: every format is
 * refused with the message that says what to install, or --no-unpack, and
 * lapis_linux_load() still boots the bzImage through its own entry then.
 * (This file's copy of unpack.c replaces the library's at link time.)
 */
#define LAPIS_UNPACK_WITHOUT_LIBS 1
#include "../../src/loader/unpack.c"

#include "../harness.h"
#include "bz_builder.h"
#include "loader/bytes.h"
#include "loader/bzimage.h"

static char msg[256];

static void test_messages(void)
{
    static const uint8_t data[8] = {0x28, 0xB5, 0x2F, 0xFD, 1, 2, 3, 4};
    uint8_t *out = NULL;
    size_t olen = 0;
    CHECK(!lapis_unpack_supported(LAPIS_COMP_ZSTD));
    CHECK(!lapis_unpack_supported(LAPIS_COMP_XZ));
    CHECK(!lapis_unpack_supported(LAPIS_COMP_GZIP));
    CHECK(!lapis_unpack_supported(LAPIS_COMP_LZ4));
    CHECK(lapis_unpack_supported(LAPIS_COMP_NONE));
    CHECK_EQ(lapis_unpack(LAPIS_COMP_ZSTD, data, sizeof(data), 0, 1 << 20, &out, &olen, msg,
                          sizeof(msg)),
             -EOPNOTSUPP);
    CHECK_STR(msg, "kernel is compressed with zstd but lapis was built without libzstd; install "
                   "libzstd-dev and rebuild, or pass --no-unpack");
    lapis_unpack(LAPIS_COMP_XZ, data, sizeof(data), 0, 1 << 20, &out, &olen, msg, sizeof(msg));
    CHECK_STR(msg, "kernel is compressed with xz but lapis was built without liblzma; install "
                   "liblzma-dev and rebuild, or pass --no-unpack");
    lapis_unpack(LAPIS_COMP_GZIP, data, sizeof(data), 0, 1 << 20, &out, &olen, msg, sizeof(msg));
    CHECK_STR(msg, "kernel is compressed with gzip but lapis was built without libz; install "
                   "zlib1g-dev and rebuild, or pass --no-unpack");
    lapis_unpack(LAPIS_COMP_LZ4, data, sizeof(data), 0, 1 << 20, &out, &olen, msg, sizeof(msg));
    CHECK_STR(msg, "kernel is compressed with lz4 but lapis was built without liblz4; install "
                   "liblz4-dev and rebuild, or pass --no-unpack");
    CHECK(out == NULL);
}

static void test_linux_load_falls_back(void)
{
    /* A bzImage with a "zstd" payload. */
    static const uint8_t zstd[64] = {0x28, 0xB5, 0x2F, 0xFD};
    size_t len;
    uint8_t *b = bz_minimal(4096, zstd, sizeof(zstd), &len);
    put_le32(b + 0x22C, 0x7FFFFFFF); /* initrd_addr_max */
    put_le32(b + 0x238, 255);        /* cmdline_size */
    put_le32(b + 0x260, 0x100000);   /* init_size */
    struct lapis_guest_ram ram = {calloc(1, 64 << 20), 64 << 20, NULL, 0};
    static struct lapis_linux_layout lo;
    struct lapis_linux_config c = {.cmdline = "console=ttyS0"};
    CHECK_EQ(lapis_linux_load(&ram, b, len, &c, &lo, msg, sizeof(msg)), -EOPNOTSUPP);
    CHECK(strstr(msg, "libzstd-dev") && strstr(msg, "--no-unpack"));
    c.no_unpack = true;
    CHECK_EQ(lapis_linux_load(&ram, b, len, &c, &lo, msg, sizeof(msg)), 0);
    CHECK_EQ(lo.kind, LAPIS_LINUX_BZIMAGE);
    CHECK_EQ(lo.compression, LAPIS_COMP_ZSTD);
    CHECK_EQ(lo.entry.regs.rip, 0x1000200);
    free(ram.low);
    free(b);
}

int main(void)
{
    RUN_TEST(test_messages);
    RUN_TEST(test_linux_load_falls_back);
    return harness_finish("unpack_nolib");
}
