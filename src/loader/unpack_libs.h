/* SPDX-License-Identifier: MIT */
/*
 * The decompression libraries this build has, with their headers: HAVE_LZMA,
 * HAVE_ZLIB, HAVE_ZSTD, HAVE_LZ4. One place, so that unpack.c and its tests
 * agree. LAPIS_UNPACK_WITHOUT_LIBS: build as if none were installed (tests).
 */
#ifndef LAPIS_LOADER_UNPACK_LIBS_H
#define LAPIS_LOADER_UNPACK_LIBS_H

#if defined(__has_include) && !defined(LAPIS_UNPACK_WITHOUT_LIBS)
#if __has_include(<lzma.h>)
#include <lzma.h>
#define HAVE_LZMA 1
#endif
#if __has_include(<zlib.h>)
#include <zlib.h>
#define HAVE_ZLIB 1
#endif
#if __has_include(<zstd.h>)
#include <zstd.h>
#define HAVE_ZSTD 1
#endif
#if __has_include(<lz4.h>)
#include <lz4.h>
#define HAVE_LZ4 1
#endif
#endif

#endif
