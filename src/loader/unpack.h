/* SPDX-License-Identifier: MIT */
/*
 * Unpacking a bzImage's compressed payload (vmlinux.bin, an ELF) on the host,
 * with Debian's libraries: liblzma (xz, lzma), zlib (gzip), libzstd (zstd),
 * liblz4 (the legacy lz4 frame the kernel uses). Each is optional: it is
 * used when its header was found at build time (__has_include), and the
 * Makefile links the library when present.
 *
 * The kernel build appends the uncompressed size (le32) to every payload;
 * it bounds the output, which must match it exactly, and must be within
 * @limit: a decompression bomb stops at the limit, never past it.
 */
#ifndef LAPIS_UNPACK_H
#define LAPIS_UNPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default bound on an unpacked kernel; Debian's vmlinux is ~66 MiB. */
#define LAPIS_UNPACK_DEFAULT_LIMIT (512ull << 20)

enum lapis_compression {
    LAPIS_COMP_UNKNOWN = 0,
    LAPIS_COMP_NONE, /* an uncompressed ELF payload */
    LAPIS_COMP_GZIP,
    LAPIS_COMP_BZIP2,
    LAPIS_COMP_LZMA,
    LAPIS_COMP_XZ,
    LAPIS_COMP_LZO,
    LAPIS_COMP_LZ4,
    LAPIS_COMP_ZSTD,
};

/* "gzip", "xz", ... ("unknown" for anything else). */
const char *lapis_compression_name(enum lapis_compression comp);

/* By the payload's magic bytes. */
enum lapis_compression lapis_compression_detect(const uint8_t *data, size_t len);

/* True if this build can unpack @comp (NONE always). */
bool lapis_unpack_supported(enum lapis_compression comp);

/*
 * Decompresses one stream of @comp from @in. If @expected is non-zero the
 * output must be exactly that long; otherwise it may be anything up to
 * @limit. Trailing input after the stream (the kernel's appended size) is
 * ignored. On success *@out is a malloc'd buffer the caller frees and
 * *@out_len its length. Errors: -EOPNOTSUPP (format not built in, message
 * says which package to install, or --no-unpack), -ENOEXEC (corrupt or
 * truncated data, wrong size), -EFBIG (output would pass @limit),
 * -ENOMEM, -EINVAL (bad arguments).
 */
int lapis_unpack(enum lapis_compression comp, const uint8_t *in, size_t in_len, size_t expected,
                 size_t limit, uint8_t **out, size_t *out_len, char *err, size_t errlen);

/*
 * The payload of bzImage @img (payload_offset/length from its setup header,
 * which must have been accepted by lapis_bzimage_parse), unpacked to
 * vmlinux. @limit 0 means LAPIS_UNPACK_DEFAULT_LIMIT. An uncompressed ELF
 * payload is copied. *@comp (may be NULL) gets the format found.
 */
int lapis_unpack_bzimage(const uint8_t *img, size_t len, size_t limit, uint8_t **out,
                         size_t *out_len, enum lapis_compression *comp, char *err, size_t errlen);

#endif
