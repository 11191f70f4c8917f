/* SPDX-License-Identifier: MIT */
/* Host-side unpacking of a bzImage payload, bounded against bombs. */
#include "unpack.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bzimage.h"
#include "bytes.h"
#include "fail.h"
#include "unpack_libs.h"

#define LZ4_LEGACY_MAGIC 0x184C2102u
#define LZ4_LEGACY_CHUNK (8u << 20) /* each legacy block unpacks to at most 8 MiB */
#define STEP_IN          (1u << 20) /* input fed per call: fits every library's int types */

const char *lapis_compression_name(enum lapis_compression comp)
{
    switch (comp) {
    case LAPIS_COMP_NONE:
        return "none";
    case LAPIS_COMP_GZIP:
        return "gzip";
    case LAPIS_COMP_BZIP2:
        return "bzip2";
    case LAPIS_COMP_LZMA:
        return "lzma";
    case LAPIS_COMP_XZ:
        return "xz";
    case LAPIS_COMP_LZO:
        return "lzo";
    case LAPIS_COMP_LZ4:
        return "lz4";
    case LAPIS_COMP_ZSTD:
        return "zstd";
    default:
        return "unknown";
    }
}

enum lapis_compression lapis_compression_detect(const uint8_t *d, size_t n)
{
    if (!d)
        return LAPIS_COMP_UNKNOWN;
    if (n >= 4 && d[0] == 0x7F && d[1] == 'E' && d[2] == 'L' && d[3] == 'F')
        return LAPIS_COMP_NONE;
    if (n >= 2 && d[0] == 0x1F && (d[1] == 0x8B || d[1] == 0x9E))
        return LAPIS_COMP_GZIP;
    if (n >= 6 && !memcmp(d,
                          "\xFD"
                          "7zXZ\0",
                          6))
        return LAPIS_COMP_XZ;
    if (n >= 3 && !memcmp(d, "BZh", 3))
        return LAPIS_COMP_BZIP2;
    if (n >= 3 && d[0] == 0x5D && d[1] == 0 && d[2] == 0)
        return LAPIS_COMP_LZMA;
    if (n >= 4 && !memcmp(d, "\x89LZO", 4))
        return LAPIS_COMP_LZO;
    if (n >= 4 && d[0] == 0x02 && d[1] == 0x21 && d[2] == 0x4C && d[3] == 0x18)
        return LAPIS_COMP_LZ4;
    if (n >= 4 && d[0] == 0x28 && d[1] == 0xB5 && d[2] == 0x2F && d[3] == 0xFD)
        return LAPIS_COMP_ZSTD;
    return LAPIS_COMP_UNKNOWN;
}

bool lapis_unpack_supported(enum lapis_compression comp)
{
    switch (comp) {
    case LAPIS_COMP_NONE:
        return true;
#ifdef HAVE_LZMA
    case LAPIS_COMP_XZ:
    case LAPIS_COMP_LZMA:
        return true;
#endif
#ifdef HAVE_ZLIB
    case LAPIS_COMP_GZIP:
        return true;
#endif
#ifdef HAVE_ZSTD
    case LAPIS_COMP_ZSTD:
        return true;
#endif
#ifdef HAVE_LZ4
    case LAPIS_COMP_LZ4:
        return true;
#endif
    default:
        return false;
    }
}

/* The Debian package whose -dev files a build needs for @comp. */
static const char *dev_package(enum lapis_compression comp)
{
    switch (comp) {
    case LAPIS_COMP_XZ:
    case LAPIS_COMP_LZMA:
        return "liblzma-dev";
    case LAPIS_COMP_GZIP:
        return "zlib1g-dev";
    case LAPIS_COMP_ZSTD:
        return "libzstd-dev";
    case LAPIS_COMP_LZ4:
        return "liblz4-dev";
    default:
        return NULL;
    }
}

/*
 * The output buffer (helpers unused in a build with no library at all). With a known size it is
 * allocated once, one byte larger, so a stream that runs past the recorded size is caught;
 * otherwise it doubles up to limit + 1.
 */
struct outbuf {
    uint8_t *p;
    size_t len, cap, limit, expected;
};

static int out_init(struct outbuf *o, size_t expected, size_t limit, size_t in_len)
{
    o->len = 0;
    o->limit = limit;
    o->expected = expected;
    if (expected)
        o->cap = expected + 1;
    else {
        size_t guess = in_len > SIZE_MAX / 4 ? SIZE_MAX : in_len * 4;
        if (guess < (1u << 20))
            guess = 1u << 20;
        o->cap = guess > limit ? limit + 1 : guess;
    }
    o->p = malloc(o->cap);
    return o->p ? 0 : -ENOMEM;
}

/* Room for more output: 0, -EFBIG at the limit, -ENOEXEC past the recorded size. */
__attribute__((unused)) static int out_grow(struct outbuf *o)
{
    if (o->len < o->cap)
        return 0;
    if (o->expected)
        return -ENOEXEC;
    if (o->cap > o->limit)
        return -EFBIG;
    size_t ncap = o->cap > o->limit / 2 ? o->limit + 1 : o->cap * 2;
    uint8_t *np = realloc(o->p, ncap);
    if (!np)
        return -ENOMEM;
    o->p = np;
    o->cap = ncap;
    return 0;
}

/* Final checks shared by every format. */
__attribute__((unused)) static int out_finish(struct outbuf *o, const char *name, char *err,
                                              size_t errlen)
{
    if (o->len > o->limit)
        return fail(err, errlen, -EFBIG,
                    "%s payload unpacks to more than the %zu MiB limit; is it a kernel?", name,
                    o->limit >> 20);
    if (o->expected && o->len != o->expected)
        return fail(err, errlen, -ENOEXEC,
                    "%s payload unpacked to %zu bytes, but its trailer records %zu: the kernel "
                    "image is corrupt",
                    name, o->len, o->expected);
    return 0;
}

__attribute__((unused)) static int grow_error(int rc, const struct outbuf *o, const char *name,
                                              char *err, size_t errlen)
{
    if (rc == -ENOMEM)
        return fail(err, errlen, rc, "out of host memory unpacking the %s kernel payload", name);
    if (rc == -EFBIG)
        return fail(err, errlen, rc,
                    "%s payload unpacks to more than the %zu MiB limit; is it a kernel?", name,
                    o->limit >> 20);
    return fail(err, errlen, -ENOEXEC,
                "%s payload unpacks to more than the %zu bytes its trailer records: the kernel "
                "image is corrupt",
                name, o->expected);
}

#ifdef HAVE_LZMA
static int unpack_lzma(bool xz, const uint8_t *in, size_t in_len, struct outbuf *o, char *err,
                       size_t errlen)
{
    const char *name = xz ? "xz" : "lzma";
    lzma_stream s = LZMA_STREAM_INIT;
    /* Dictionary memory bound: kernels use <= 64 MiB dictionaries. */
    uint64_t memlimit = 512ull << 20;
    lzma_ret r = xz ? lzma_stream_decoder(&s, memlimit, 0) : lzma_alone_decoder(&s, memlimit);
    if (r != LZMA_OK)
        return fail(err, errlen, -ENOMEM, "cannot start the %s decoder (liblzma error %d)", name,
                    (int)r);
    s.next_in = in;
    s.avail_in = in_len;
    int rc = 0;
    for (;;) {
        if ((rc = out_grow(o)) != 0) {
            rc = grow_error(rc, o, name, err, errlen);
            break;
        }
        s.next_out = o->p + o->len;
        s.avail_out = o->cap - o->len;
        r = lzma_code(&s, LZMA_FINISH);
        o->len = o->cap - s.avail_out;
        if (r == LZMA_STREAM_END)
            break;
        if (r == LZMA_OK && s.avail_out == 0)
            continue;
        if (r == LZMA_MEMLIMIT_ERROR)
            rc = fail(err, errlen, -EFBIG, "%s payload needs more than %llu MiB of dictionary",
                      name, (unsigned long long)(memlimit >> 20));
        else if (r == LZMA_MEM_ERROR)
            rc = fail(err, errlen, -ENOMEM, "out of host memory unpacking the %s payload", name);
        else
            rc = fail(err, errlen, -ENOEXEC,
                      "%s payload is corrupt or truncated (liblzma error %d)", name, (int)r);
        break;
    }
    lzma_end(&s);
    return rc ? rc : out_finish(o, name, err, errlen);
}
#endif

#ifdef HAVE_ZLIB
static int unpack_gzip(const uint8_t *in, size_t in_len, struct outbuf *o, char *err, size_t errlen)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return fail(err, errlen, -ENOMEM, "cannot start the gzip decoder");
    size_t used = 0;
    int rc = 0;
    for (;;) {
        if ((rc = out_grow(o)) != 0) {
            rc = grow_error(rc, o, "gzip", err, errlen);
            break;
        }
        if (z.avail_in == 0 && used < in_len) {
            size_t n = in_len - used < STEP_IN ? in_len - used : STEP_IN;
            z.next_in = (Bytef *)(uintptr_t)(in + used);
            z.avail_in = (uInt)n;
            used += n;
        }
        size_t room = o->cap - o->len;
        z.next_out = o->p + o->len;
        z.avail_out = room > STEP_IN ? STEP_IN : (uInt)room;
        uInt before = z.avail_out;
        int r = inflate(&z, Z_NO_FLUSH);
        o->len += before - z.avail_out;
        if (r == Z_STREAM_END)
            break;
        if (r == Z_OK || (r == Z_BUF_ERROR && z.avail_out == 0))
            continue;
        if (r == Z_BUF_ERROR && z.avail_in == 0 && used == in_len)
            rc = fail(err, errlen, -ENOEXEC, "gzip payload is truncated");
        else if (r == Z_MEM_ERROR)
            rc = fail(err, errlen, -ENOMEM, "out of host memory unpacking the gzip payload");
        else
            rc = fail(err, errlen, -ENOEXEC, "gzip payload is corrupt (zlib: %s)",
                      z.msg ? z.msg : "error");
        break;
    }
    inflateEnd(&z);
    return rc ? rc : out_finish(o, "gzip", err, errlen);
}
#endif

#ifdef HAVE_ZSTD
static int unpack_zstd(const uint8_t *in, size_t in_len, struct outbuf *o, char *err, size_t errlen)
{
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    if (!dc)
        return fail(err, errlen, -ENOMEM, "cannot start the zstd decoder");
    ZSTD_inBuffer ib = {in, in_len, 0};
    int rc = 0;
    for (;;) {
        if ((rc = out_grow(o)) != 0) {
            rc = grow_error(rc, o, "zstd", err, errlen);
            break;
        }
        ZSTD_outBuffer ob = {o->p, o->cap, o->len};
        size_t r = ZSTD_decompressStream(dc, &ob, &ib);
        o->len = ob.pos;
        if (ZSTD_isError(r)) {
            rc = fail(err, errlen, -ENOEXEC, "zstd payload is corrupt (%s)", ZSTD_getErrorName(r));
            break;
        }
        if (r == 0) /* one frame, complete; the appended size follows */
            break;
        if (ib.pos == ib.size && ob.pos < ob.size) {
            rc = fail(err, errlen, -ENOEXEC, "zstd payload is truncated");
            break;
        }
    }
    ZSTD_freeDCtx(dc);
    return rc ? rc : out_finish(o, "zstd", err, errlen);
}
#endif

#ifdef HAVE_LZ4
/*
 * The legacy frame (lz4 -l): a magic, then blocks of <le32 size><data>, each
 * unpacking to at most 8 MiB; a magic may repeat between blocks. It ends at
 * the end of input, or at the final 4 bytes the kernel build appends.
 */
static int unpack_lz4(const uint8_t *in, size_t in_len, struct outbuf *o, char *err, size_t errlen)
{
    if (in_len < 4 || get_le32(in) != LZ4_LEGACY_MAGIC)
        return fail(err, errlen, -ENOEXEC, "lz4 payload lacks the legacy frame magic");
    size_t pos = 4;
    while (in_len - pos >= 4) {
        uint32_t bsize = get_le32(in + pos);
        if (bsize == LZ4_LEGACY_MAGIC) {
            pos += 4;
            continue;
        }
        if (in_len - pos == 4) /* only the appended size is left */
            break;
        pos += 4;
        if (bsize == 0 || bsize > (uint32_t)LZ4_compressBound(LZ4_LEGACY_CHUNK) ||
            bsize > in_len - pos)
            return fail(err, errlen, -ENOEXEC,
                        "lz4 payload is corrupt or truncated (block of %u bytes at %zu)", bsize,
                        pos - 4);
        /* Room for a full block while the buffer may still grow. */
        while (o->cap - o->len < LZ4_LEGACY_CHUNK && !o->expected && o->cap <= o->limit) {
            size_t saved = o->len;
            o->len = o->cap; /* out_grow only grows a full buffer */
            int gr = out_grow(o);
            o->len = saved;
            if (gr)
                return grow_error(gr, o, "lz4", err, errlen);
        }
        size_t room = o->cap - o->len;
        int cap = room > LZ4_LEGACY_CHUNK ? (int)LZ4_LEGACY_CHUNK : (int)room;
        int n = LZ4_decompress_safe((const char *)in + pos, (char *)o->p + o->len, (int)bsize, cap);
        if (n < 0) {
            /* Short of room, the block may be fine but too big: report the bound. */
            if (room < LZ4_LEGACY_CHUNK)
                return grow_error(o->expected ? -ENOEXEC : -EFBIG, o, "lz4", err, errlen);
            return fail(err, errlen, -ENOEXEC, "lz4 payload is corrupt (block at %zu)", pos - 4);
        }
        o->len += (size_t)n;
        pos += bsize;
    }
    return out_finish(o, "lz4", err, errlen);
}
#endif

int lapis_unpack(enum lapis_compression comp, const uint8_t *in, size_t in_len, size_t expected,
                 size_t limit, uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
    if (!in || !out || !out_len || limit == 0)
        return fail(err, errlen, -EINVAL, "unpack: bad arguments");
    *out = NULL;
    *out_len = 0;
    const char *name = lapis_compression_name(comp);
    if (comp == LAPIS_COMP_UNKNOWN)
        return fail(err, errlen, -EOPNOTSUPP,
                    "kernel payload has an unknown compression; pass --no-unpack to let the kernel "
                    "decompress itself");
    if (!lapis_unpack_supported(comp)) {
        const char *pkg = dev_package(comp);
        if (pkg)
            return fail(err, errlen, -EOPNOTSUPP,
                        "kernel is compressed with %s but lapis was built without lib%s; install "
                        "%s and rebuild, or pass --no-unpack",
                        name,
                        comp == LAPIS_COMP_GZIP   ? "z"
                        : comp == LAPIS_COMP_ZSTD ? "zstd"
                        : comp == LAPIS_COMP_LZ4  ? "lz4"
                                                  : "lzma",
                        pkg);
        return fail(err, errlen, -EOPNOTSUPP,
                    "kernel is compressed with %s, which lapis does not unpack; pass --no-unpack",
                    name);
    }
    if (expected > limit)
        return fail(err, errlen, -EFBIG,
                    "%s payload records an unpacked size of %zu MiB, over the %zu MiB limit", name,
                    expected >> 20, limit >> 20);

    struct outbuf o;
    if (comp == LAPIS_COMP_NONE) {
        if (in_len > limit)
            return fail(err, errlen, -EFBIG, "kernel payload of %zu MiB is over the %zu MiB limit",
                        in_len >> 20, limit >> 20);
        if (!(o.p = malloc(in_len ? in_len : 1)))
            return fail(err, errlen, -ENOMEM, "out of host memory copying the kernel payload");
        memcpy(o.p, in, in_len);
        *out = o.p;
        *out_len = in_len;
        return 0;
    }
    if (out_init(&o, expected, limit, in_len))
        return fail(err, errlen, -ENOMEM, "out of host memory unpacking the %s payload", name);

    int rc = -EOPNOTSUPP;
    switch (comp) {
#ifdef HAVE_LZMA
    case LAPIS_COMP_XZ:
    case LAPIS_COMP_LZMA:
        rc = unpack_lzma(comp == LAPIS_COMP_XZ, in, in_len, &o, err, errlen);
        break;
#endif
#ifdef HAVE_ZLIB
    case LAPIS_COMP_GZIP:
        rc = unpack_gzip(in, in_len, &o, err, errlen);
        break;
#endif
#ifdef HAVE_ZSTD
    case LAPIS_COMP_ZSTD:
        rc = unpack_zstd(in, in_len, &o, err, errlen);
        break;
#endif
#ifdef HAVE_LZ4
    case LAPIS_COMP_LZ4:
        rc = unpack_lz4(in, in_len, &o, err, errlen);
        break;
#endif
    default:
        break;
    }
    if (rc) {
        free(o.p);
        return rc;
    }
    *out = o.p;
    *out_len = o.len;
    return 0;
}

int lapis_unpack_bzimage(const uint8_t *img, size_t len, size_t limit, uint8_t **out,
                         size_t *out_len, enum lapis_compression *comp, char *err, size_t errlen)
{
    struct lapis_bzimage_info info;
    int rc = lapis_bzimage_parse(img, len, &info, err, errlen);
    if (rc)
        return rc;
    if (info.payload_length < 4)
        return fail(err, errlen, -ENOEXEC,
                    "bzImage has no payload (payload_length %llu); pass --no-unpack",
                    (unsigned long long)info.payload_length);
    const uint8_t *p = img + info.payload_offset;
    size_t plen = (size_t)info.payload_length;
    enum lapis_compression c = lapis_compression_detect(p, plen);
    if (comp)
        *comp = c;
    if (!limit)
        limit = LAPIS_UNPACK_DEFAULT_LIMIT;
    /* Uncompressed, or a format this build cannot unpack: no trailer to read. */
    if (c == LAPIS_COMP_NONE || !lapis_unpack_supported(c))
        return lapis_unpack(c, p, plen, 0, limit, out, out_len, err, errlen);
    /* mkpiggy's rule: the last 4 bytes hold the unpacked size. */
    const uint8_t *t = p + plen - 4;
    size_t expected = get_le32(t);
    if (expected == 0)
        return fail(err, errlen, -ENOEXEC, "bzImage payload records an unpacked size of 0");
    return lapis_unpack(c, p, plen, expected, limit, out, out_len, err, errlen);
}
