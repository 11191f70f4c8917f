/* SPDX-License-Identifier: MIT */
/* Host-side kernel unpacking: round trips through each library, and the bounds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "bz_builder.h"
#include "loader/bytes.h"
#include "loader/unpack.h"
#include "loader/unpack_libs.h"

#define MIB (1ull << 20)

static char err[256];

/* Test data that compresses, but not to nothing. */
static uint8_t *sample(size_t n)
{
    uint8_t *p = malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (i % 64 < 40) ? (uint8_t)(i / 64) : (uint8_t)(x >> 24);
    }
    return p;
}

struct buf {
    uint8_t *p;
    size_t len;
};

/* Compressors: each returns the stream with the kernel's le32 size appended. */
static struct buf append_size(struct buf b, size_t orig)
{
    b.p = realloc(b.p, b.len + 4);
    put_le32(b.p + b.len, (uint32_t)orig);
    b.len += 4;
    return b;
}

#ifdef HAVE_LZMA
static struct buf c_xz(const uint8_t *in, size_t n)
{
    struct buf b = {malloc(lzma_stream_buffer_bound(n)), 0};
    size_t pos = 0;
    (void)lzma_easy_buffer_encode(1, LZMA_CHECK_CRC32, NULL, in, n, b.p, &pos,
                                  lzma_stream_buffer_bound(n));
    b.len = pos;
    return append_size(b, n);
}

static struct buf c_lzma(const uint8_t *in, size_t n)
{
    lzma_options_lzma opt;
    lzma_lzma_preset(&opt, 1);
    lzma_stream s = LZMA_STREAM_INIT;
    if (lzma_alone_encoder(&s, &opt) != LZMA_OK)
        return (struct buf){NULL, 0};
    size_t cap = n + n / 2 + 4096;
    struct buf b = {malloc(cap), 0};
    s.next_in = in;
    s.avail_in = n;
    s.next_out = b.p;
    s.avail_out = cap;
    while (lzma_code(&s, LZMA_FINISH) == LZMA_OK)
        ;
    b.len = cap - s.avail_out;
    lzma_end(&s);
    return append_size(b, n);
}
#endif

#ifdef HAVE_ZLIB
static struct buf c_gzip(const uint8_t *in, size_t n)
{
    size_t cap = compressBound(n) + 64;
    struct buf b = {malloc(cap), 0};
    z_stream z = {0};
    deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = b.p;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    b.len = z.total_out;
    deflateEnd(&z);
    return b; /* gzip's own trailer already ends in the size */
}
#endif

#ifdef HAVE_ZSTD
static struct buf c_zstd(const uint8_t *in, size_t n)
{
    size_t cap = ZSTD_compressBound(n);
    struct buf b = {malloc(cap), 0};
    b.len = ZSTD_compress(b.p, cap, in, n, 3);
    return append_size(b, n);
}
#endif

#ifdef HAVE_LZ4
/* The legacy frame, as `lz4 -l`: magic, then <le32 size><block> per 8 MiB. */
static struct buf c_lz4(const uint8_t *in, size_t n)
{
    size_t chunk = 8 * MIB, nchunks = (n + chunk - 1) / chunk;
    size_t cap = 4 + nchunks * (4 + (size_t)LZ4_compressBound((int)chunk));
    struct buf b = {malloc(cap), 4};
    put_le32(b.p, 0x184C2102u);
    for (size_t off = 0; off < n; off += chunk) {
        size_t len = n - off < chunk ? n - off : chunk;
        int c = LZ4_compress_default((const char *)in + off, (char *)b.p + b.len + 4, (int)len,
                                     LZ4_compressBound((int)chunk));
        put_le32(b.p + b.len, (uint32_t)c);
        b.len += 4 + (size_t)c;
    }
    return append_size(b, n);
}
#endif

typedef struct buf (*compressor)(const uint8_t *, size_t);

struct format {
    enum lapis_compression comp;
    compressor fn;
};

static const struct format formats[] = {
#ifdef HAVE_LZMA
    {LAPIS_COMP_XZ, c_xz},      {LAPIS_COMP_LZMA, c_lzma},
#endif
#ifdef HAVE_ZLIB
    {LAPIS_COMP_GZIP, c_gzip},
#endif
#ifdef HAVE_ZSTD
    {LAPIS_COMP_ZSTD, c_zstd},
#endif
#ifdef HAVE_LZ4
    {LAPIS_COMP_LZ4, c_lz4},
#endif
    {LAPIS_COMP_UNKNOWN, NULL},
};

static void test_detect(void)
{
    CHECK_EQ(lapis_compression_detect((const uint8_t *)"\x1f\x8b\x08", 3), LAPIS_COMP_GZIP);
    CHECK_EQ(lapis_compression_detect((const uint8_t *)"\xfd"
                                                       "7zXZ\0",
                                      6),
             LAPIS_COMP_XZ);
    CHECK_EQ(lapis_compression_detect((const uint8_t *)"BZh9", 4), LAPIS_COMP_BZIP2);
    CHECK_EQ(lapis_compression_detect((const uint8_t *)"\x5d\0\0\x80", 4), LAPIS_COMP_LZMA);
    CHECK_EQ(lapis_compression_detect((const uint8_t *)"\x89LZO", 4), LAPIS_COMP_LZO);
    CHECK_EQ(lapis_compression_detect((const uint8_t *)"\x02\x21\x4c\x18", 4), LAPIS_COMP_LZ4);
    CHECK_EQ(lapis_compression_detect((const uint8_t *)"\x28\xb5\x2f\xfd", 4), LAPIS_COMP_ZSTD);
    CHECK_EQ(lapis_compression_detect((const uint8_t *)"\x7f"
                                                       "ELF",
                                      4),
             LAPIS_COMP_NONE);
    CHECK_EQ(lapis_compression_detect((const uint8_t *)"\x28\xb5", 2), LAPIS_COMP_UNKNOWN);
    CHECK_EQ(lapis_compression_detect((const uint8_t *)"hello", 5), LAPIS_COMP_UNKNOWN);
    CHECK_EQ(lapis_compression_detect(NULL, 0), LAPIS_COMP_UNKNOWN);
    CHECK_STR(lapis_compression_name(LAPIS_COMP_ZSTD), "zstd");
    CHECK_STR(lapis_compression_name((enum lapis_compression)99), "unknown");
    CHECK(lapis_unpack_supported(LAPIS_COMP_NONE));
    CHECK(!lapis_unpack_supported(LAPIS_COMP_BZIP2));
    CHECK(!lapis_unpack_supported(LAPIS_COMP_LZO));
}

static void test_round_trips(void)
{
    /* Sizes: tiny, odd, and (lz4 only: its blocks are 8 MiB) past one block. */
    size_t sizes[] = {1, 4097, 300001};
    for (const struct format *f = formats; f->fn; f++) {
        CHECK(lapis_unpack_supported(f->comp));
        if (f->comp == LAPIS_COMP_LZ4)
            sizes[2] = 9 * MIB + 123;
        for (unsigned s = 0; s < 3; s++) {
            uint8_t *in = sample(sizes[s]);
            struct buf c = f->fn(in, sizes[s]);
            CHECK_EQ(lapis_compression_detect(c.p, c.len), f->comp);
            uint8_t *out = NULL;
            size_t olen = 0;
            /* Known size (the kernel's case) and unknown size (grows). */
            for (int known = 0; known < 2; known++) {
                int rc = lapis_unpack(f->comp, c.p, c.len, known ? sizes[s] : 0, 64 * MIB, &out,
                                      &olen, err, sizeof(err));
                if (rc)
                    printf("  %s size %zu known %d: %s\n", lapis_compression_name(f->comp),
                           sizes[s], known, err);
                CHECK_EQ(rc, 0);
                CHECK_EQ(olen, sizes[s]);
                CHECK(out && memcmp(out, in, sizes[s]) == 0);
                free(out);
                out = NULL;
            }
            free(c.p);
            free(in);
        }
    }
}

static void test_bombs_and_sizes(void)
{
    /* 16 MiB of zeros: a few KiB compressed. */
    size_t big = 16 * MIB;
    uint8_t *zeros = calloc(1, big);
    for (const struct format *f = formats; f->fn; f++) {
        const char *name = lapis_compression_name(f->comp);
        struct buf c = f->fn(zeros, big);
        uint8_t *out = (uint8_t *)1;
        size_t olen = 1;
        /* Unknown size, 4 MiB limit: stops at the limit. */
        int rc = lapis_unpack(f->comp, c.p, c.len, 0, 4 * MIB, &out, &olen, err, sizeof(err));
        if (rc != -EFBIG)
            printf("  %s: rc %d (%s)\n", name, rc, err);
        CHECK_EQ(rc, -EFBIG);
        CHECK(out == NULL);
        CHECK_EQ(olen, 0);
        CHECK(strstr(err, "limit") != NULL);
        /* A recorded size over the limit is refused before any work. */
        rc = lapis_unpack(f->comp, c.p, c.len, big, 4 * MIB, &out, &olen, err, sizeof(err));
        CHECK_EQ(rc, -EFBIG);
        /* The trailer lies (says smaller): caught, never written past. */
        rc = lapis_unpack(f->comp, c.p, c.len, big - 1, 64 * MIB, &out, &olen, err, sizeof(err));
        if (rc != -ENOEXEC)
            printf("  %s smaller: rc %d (%s)\n", name, rc, err);
        CHECK_EQ(rc, -ENOEXEC);
        /* The trailer says larger: caught at the end. */
        rc = lapis_unpack(f->comp, c.p, c.len, big + 1, 64 * MIB, &out, &olen, err, sizeof(err));
        if (rc != -ENOEXEC)
            printf("  %s larger: rc %d (%s)\n", name, rc, err);
        CHECK_EQ(rc, -ENOEXEC);
        free(c.p);
    }
    free(zeros);
}

static void test_corrupt_and_truncated(void)
{
    size_t n = 200000;
    uint8_t *in = sample(n);
    for (const struct format *f = formats; f->fn; f++) {
        const char *name = lapis_compression_name(f->comp);
        struct buf c = f->fn(in, n);
        uint8_t *out = NULL;
        size_t olen = 0;
        /* Truncated at half: an error, not a short success. */
        int rc = lapis_unpack(f->comp, c.p, c.len / 2, n, 64 * MIB, &out, &olen, err, sizeof(err));
        if (rc != -ENOEXEC)
            printf("  %s truncated: rc %d (%s)\n", name, rc, err);
        CHECK_EQ(rc, -ENOEXEC);
        CHECK(out == NULL);
        /* Every prefix of the first 64 bytes: never a crash, never success. */
        for (size_t cut = 0; cut < 64 && cut < c.len; cut++) {
            rc = lapis_unpack(f->comp, c.p, cut, n, 64 * MIB, &out, &olen, err, sizeof(err));
            CHECK(rc < 0);
            free(out);
            out = NULL;
        }
        /* Flipped bytes in the middle: an error or (no checksum) a wrong result. */
        for (size_t at = c.len / 3; at < c.len / 3 + 8; at++) {
            c.p[at] ^= 0x55;
            rc = lapis_unpack(f->comp, c.p, c.len, n, 64 * MIB, &out, &olen, err, sizeof(err));
            CHECK(rc < 0 || memcmp(out, in, n) != 0);
            free(out);
            out = NULL;
            c.p[at] ^= 0x55;
        }
        free(c.p);
    }
    free(in);
}

static void test_unsupported_and_args(void)
{
    uint8_t data[16] = "BZh91AY&SY";
    uint8_t *out = NULL;
    size_t olen = 0;
    CHECK_EQ(
        lapis_unpack(LAPIS_COMP_BZIP2, data, sizeof(data), 0, MIB, &out, &olen, err, sizeof(err)),
        -EOPNOTSUPP);
    CHECK(strstr(err, "bzip2") && strstr(err, "--no-unpack"));
    CHECK_EQ(
        lapis_unpack(LAPIS_COMP_UNKNOWN, data, sizeof(data), 0, MIB, &out, &olen, err, sizeof(err)),
        -EOPNOTSUPP);
    CHECK_EQ(lapis_unpack(LAPIS_COMP_GZIP, NULL, 0, 0, MIB, &out, &olen, err, sizeof(err)),
             -EINVAL);
    CHECK_EQ(lapis_unpack(LAPIS_COMP_GZIP, data, 1, 0, 0, &out, &olen, err, sizeof(err)), -EINVAL);
    /* NONE: a bounded copy. */
    CHECK_EQ(
        lapis_unpack(LAPIS_COMP_NONE, data, sizeof(data), 0, MIB, &out, &olen, err, sizeof(err)),
        0);
    CHECK_EQ(olen, sizeof(data));
    CHECK(memcmp(out, data, sizeof(data)) == 0);
    free(out);
    CHECK_EQ(lapis_unpack(LAPIS_COMP_NONE, data, sizeof(data), 0, 8, &out, &olen, err, sizeof(err)),
             -EFBIG);
#ifdef HAVE_LZ4
    /* lz4 legacy without its magic, and with a block size past the input. */
    uint8_t bad[12] = {0x02, 0x21, 0x4c, 0x18, 0xff, 0xff, 0, 0, 1, 2, 3, 4};
    CHECK_EQ(lapis_unpack(LAPIS_COMP_LZ4, bad + 4, 8, 0, MIB, &out, &olen, err, sizeof(err)),
             -ENOEXEC);
    CHECK_EQ(lapis_unpack(LAPIS_COMP_LZ4, bad, sizeof(bad), 0, MIB, &out, &olen, err, sizeof(err)),
             -ENOEXEC);
#endif
}

/* A minimal bzImage around @payload, with room for it and 0x100 bytes more. */
static uint8_t *mkbz(const uint8_t *payload, size_t plen, size_t *len)
{
    return bz_minimal((plen + 0x100 + 15) & ~(size_t)15, payload, plen, len);
}

static void test_bzimage_payload(void)
{
    size_t n = 100000;
    uint8_t *in = sample(n);
    memcpy(in,
           "\x7f"
           "ELF",
           4);
    for (const struct format *f = formats; f->fn; f++) {
        struct buf c = f->fn(in, n);
        size_t len;
        uint8_t *bz = mkbz(c.p, c.len, &len);
        uint8_t *out = NULL;
        size_t olen = 0;
        enum lapis_compression comp = LAPIS_COMP_UNKNOWN;
        CHECK_EQ(lapis_unpack_bzimage(bz, len, 0, &out, &olen, &comp, err, sizeof(err)), 0);
        CHECK_EQ(comp, f->comp);
        CHECK_EQ(olen, n);
        CHECK(out && memcmp(out, in, n) == 0);
        free(out);
        /* The limit applies to the recorded size. */
        CHECK_EQ(lapis_unpack_bzimage(bz, len, 1000, &out, &olen, &comp, err, sizeof(err)), -EFBIG);
        free(bz);
        free(c.p);
    }
    /* Uncompressed payload: copied. */
    size_t len;
    uint8_t *bz = mkbz(in, n, &len), *out = NULL;
    size_t olen;
    enum lapis_compression comp;
    CHECK_EQ(lapis_unpack_bzimage(bz, len, 0, &out, &olen, &comp, err, sizeof(err)), 0);
    CHECK_EQ(comp, LAPIS_COMP_NONE);
    CHECK_EQ(olen, n);
    free(out);
    free(bz);
    /* Unknown payload, zero-length payload, a non-bzImage. */
    bz = mkbz((const uint8_t *)"garbage!", 8, &len);
    CHECK_EQ(lapis_unpack_bzimage(bz, len, 0, &out, &olen, &comp, err, sizeof(err)), -EOPNOTSUPP);
    CHECK(strstr(err, "--no-unpack") != NULL);
    put_le32(bz + 0x24C, 0);
    CHECK_EQ(lapis_unpack_bzimage(bz, len, 0, &out, &olen, &comp, err, sizeof(err)), -ENOEXEC);
    bz[0x202] = 'X';
    CHECK_EQ(lapis_unpack_bzimage(bz, len, 0, &out, &olen, &comp, err, sizeof(err)), -ENOEXEC);
    free(bz);
    free(in);
}

int main(void)
{
    RUN_TEST(test_detect);
    RUN_TEST(test_round_trips);
    RUN_TEST(test_bombs_and_sizes);
    RUN_TEST(test_corrupt_and_truncated);
    RUN_TEST(test_unsupported_and_args);
    RUN_TEST(test_bzimage_payload);
    return harness_finish("unpack");
}
