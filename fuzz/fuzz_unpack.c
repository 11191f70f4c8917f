/* SPDX-License-Identifier: MIT */
/*
 * Host-side payload unpacking (lapis_unpack) and the e820 builder.
 * The first byte picks the mode:
 *  - decode: the rest is a compressed stream of a chosen format, unpacked
 *    with a chosen size limit and (sometimes) an expected size;
 *  - round trip: the rest is data, compressed here with the same library
 *    (gzip, xz, zstd, the kernel's legacy lz4 frame) and unpacked again;
 *  - e820: the rest describes RAM and extra ranges for lapis_e820_build().
 * Invariants: errors are the documented ones, with a message; a success
 * respects the limit and the expected size, and a round trip gives the data
 * back; the e820 map is sorted, disjoint, within max, covers every extra
 * range with a non-RAM type, and its RAM entries are RAM.
 */
#include "fuzz_ram.h"

#include <errno.h>

#include "loader/bzimage.h"
#include "loader/unpack.h"

#if defined(__has_include)
#if __has_include(<zlib.h>)
#include <zlib.h>
#define UNPACK_FUZZ_ZLIB 1
#endif
#if __has_include(<lzma.h>)
#include <lzma.h>
#define UNPACK_FUZZ_LZMA 1
#endif
#if __has_include(<zstd.h>)
#include <zstd.h>
#define UNPACK_FUZZ_ZSTD 1
#endif
#if __has_include(<lz4.h>)
#include <lz4.h>
#define UNPACK_FUZZ_LZ4 1
#endif
#endif

static const enum lapis_compression unpack_fuzz_comps[8] = {
    LAPIS_COMP_NONE, LAPIS_COMP_GZIP, LAPIS_COMP_XZ,      LAPIS_COMP_LZMA,
    LAPIS_COMP_ZSTD, LAPIS_COMP_LZ4,  LAPIS_COMP_UNKNOWN, LAPIS_COMP_BZIP2,
};

/* Compresses @in with @comp's library; returns the length, 0 if not built in. */
static size_t unpack_fuzz_compress(enum lapis_compression comp, const uint8_t *in, size_t len,
                                   uint8_t *out, size_t cap)
{
    switch (comp) {
#ifdef UNPACK_FUZZ_ZLIB
    case LAPIS_COMP_GZIP: {
        z_stream z;
        memset(&z, 0, sizeof(z));
        if (deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return 0;
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = (uInt)len;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        int r = deflate(&z, Z_FINISH);
        size_t n = cap - z.avail_out;
        deflateEnd(&z);
        return r == Z_STREAM_END ? n : 0;
    }
#endif
#ifdef UNPACK_FUZZ_LZMA
    case LAPIS_COMP_XZ: {
        size_t pos = 0;
        if (lzma_easy_buffer_encode(1, LZMA_CHECK_CRC32, NULL, in, len, out, &pos, cap) != LZMA_OK)
            return 0;
        return pos;
    }
#endif
#ifdef UNPACK_FUZZ_ZSTD
    case LAPIS_COMP_ZSTD: {
        size_t n = ZSTD_compress(out, cap, in, len, 1);
        return ZSTD_isError(n) ? 0 : n;
    }
#endif
#ifdef UNPACK_FUZZ_LZ4
    case LAPIS_COMP_LZ4: {
        /* The kernel's legacy frame: magic, then one (size, block) per 8 MiB. */
        if (cap < 8)
            return 0;
        uint32_t magic = 0x184C2102u;
        memcpy(out, &magic, 4);
        int n = LZ4_compress_default((const char *)in, (char *)out + 8, (int)len, (int)cap - 8);
        if (n <= 0)
            return 0;
        uint32_t bsize = (uint32_t)n;
        memcpy(out + 4, &bsize, 4);
        return 8 + (size_t)n;
    }
#endif
    default:
        return 0;
    }
}

static void unpack_fuzz_streams(const uint8_t *mode_p, struct fuzz_in *in)
{
    static const size_t limits[4] = {64u << 10, 1u << 20, 4u << 20, 1};
    uint8_t mode = *mode_p;
    enum lapis_compression comp = unpack_fuzz_comps[mode & 7];
    bool round_trip = mode & 8;
    size_t limit = limits[(mode >> 5) & 3];
    size_t expected = (mode & 0x10) ? fin_u16(in) : 0;
    size_t len;
    const uint8_t *bytes = fin_bytes(in, in->n, &len);
    uint8_t *out = NULL, *packed = NULL;
    size_t out_len = 0;
    char err[256];

    FUZZ_ASSERT(lapis_compression_name(lapis_compression_detect(bytes, len)) != NULL);
    FUZZ_ASSERT(lapis_unpack_supported(LAPIS_COMP_NONE));

    if (round_trip) {
        size_t cap = len + len / 2 + 1024;
        packed = malloc(cap);
        if (!packed)
            return;
        size_t plen = unpack_fuzz_compress(comp, bytes, len, packed, cap);
        if (!plen || !lapis_unpack_supported(comp)) {
            free(packed);
            return;
        }
        expected = (mode & 0x10) ? len : 0;
        int rc =
            lapis_unpack(comp, packed, plen, expected, limit, &out, &out_len, err, sizeof(err));
        if (len > limit) {
            FUZZ_ASSERT(rc == -EFBIG);
        } else {
            FUZZ_ASSERT(rc == 0);
            FUZZ_ASSERT(out_len == len && (!len || memcmp(out, bytes, len) == 0));
        }
        free(out);
        free(packed);
        return;
    }

    int rc = lapis_unpack(comp, bytes, len, expected, limit, &out, &out_len, err, sizeof(err));
    FUZZ_ASSERT(rc == 0 || rc == -EOPNOTSUPP || rc == -ENOEXEC || rc == -EFBIG || rc == -ENOMEM);
    if (!lapis_unpack_supported(comp))
        FUZZ_ASSERT(rc == -EOPNOTSUPP);
    if (rc) {
        FUZZ_ASSERT(fuzz_err_ok(err, sizeof(err)));
        FUZZ_ASSERT(out == NULL);
        return;
    }
    FUZZ_ASSERT(out != NULL && out_len <= limit);
    /* NONE copies whatever it is given (unpack_bzimage never passes it an expected size). */
    if (expected && comp != LAPIS_COMP_NONE)
        FUZZ_ASSERT(out_len == expected);
    if (comp == LAPIS_COMP_NONE)
        FUZZ_ASSERT(out_len == len && (!len || memcmp(out, bytes, len) == 0));
    free(out);
}

static void unpack_fuzz_e820(struct fuzz_in *in)
{
    static const uint64_t lows[4] = {0, 640u << 10, 4u << 20, 0xC0000000ull};
    static const uint64_t highs[4] = {0, 0, 1ull << 32, 4096};
    struct lapis_guest_ram ram = {0};
    struct lapis_e820_entry extra[8] = {{0}}, out[LAPIS_E820_MAX];
    uint8_t r = fin_u8(in);

    /* Only sizes matter to e820_build: non-NULL pointers that are never used. */
    ram.low_size = lows[r & 3];
    ram.low = ram.low_size ? (uint8_t *)&ram : NULL;
    ram.high_size = highs[(r >> 2) & 3];
    ram.high = ram.high_size ? (uint8_t *)&ram : NULL;
    unsigned max = 1 + fin_u8(in) % LAPIS_E820_MAX;
    unsigned n = fin_u8(in) % 9;
    bool bad = false;
    for (unsigned i = 0; i < n; i++) {
        uint8_t k = fin_u8(in);
        extra[i].addr = (k & 1) ? fin_u64(in) : (uint64_t)fin_u16(in) << (4 * (k >> 5));
        extra[i].size = (k & 2) ? fin_u64(in) : fin_u16(in);
        extra[i].type = 1 + (k >> 2) % 4;
        if (!extra[i].size || extra[i].addr + extra[i].size < extra[i].addr)
            bad = true;
    }
    int rc = lapis_e820_build(&ram, extra, n, out, max);
    if (bad) {
        /* Extras are checked as they are added: a full map can say -ENOSPC first. */
        FUZZ_ASSERT(rc == -EINVAL || rc == -ENOSPC);
        return;
    }
    FUZZ_ASSERT(rc == -ENOSPC || (rc >= 0 && (unsigned)rc <= max));
    if (rc < 0)
        return;
    bool extra_ram = false;
    for (unsigned i = 0; i < n; i++)
        extra_ram |= extra[i].type == LAPIS_E820_RAM;
    for (int i = 0; i < rc; i++) {
        FUZZ_ASSERT(out[i].size > 0 && out[i].addr + out[i].size > out[i].addr);
        if (i)
            FUZZ_ASSERT(out[i - 1].addr + out[i - 1].size <= out[i].addr);
        if (out[i].type == LAPIS_E820_RAM && !extra_ram)
            FUZZ_ASSERT(lapis_ram_ptr(&ram, out[i].addr, out[i].size) != NULL);
    }
    /* Every extra range is covered, by entries that are not RAM (unless it is RAM). */
    for (unsigned x = 0; x < n; x++) {
        uint64_t at = extra[x].addr, end = extra[x].addr + extra[x].size;
        for (int i = 0; i < rc && at < end; i++) {
            if (out[i].addr + out[i].size <= at)
                continue;
            FUZZ_ASSERT(out[i].addr <= at); /* no gap */
            if (out[i].addr > at)
                break;
            if (!extra_ram)
                FUZZ_ASSERT(out[i].type != LAPIS_E820_RAM);
            at = out[i].addr + out[i].size;
        }
        FUZZ_ASSERT(at >= end);
    }
}

FUZZ_TARGET(unpack)
{
    struct fuzz_in in = {data, size};

    if (!size)
        return 0;
    uint8_t mode = fin_u8(&in);
    if (mode & 0x80)
        unpack_fuzz_e820(&in);
    else
        unpack_fuzz_streams(&mode, &in);
    return 0;
}
