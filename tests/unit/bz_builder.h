/* SPDX-License-Identifier: MIT */
/* A minimal bzImage in memory, for the unpacking tests. */
#ifndef LAPIS_TESTS_BZ_BUILDER_H
#define LAPIS_TESTS_BZ_BUILDER_H

#include <stddef.h>
#include <stdint.h>

/*
 * Boot protocol 2.15, 4 setup sectors, @ksize bytes of protected-mode kernel
 * whose payload (@plen bytes at offset 0x40) is a copy of @payload: enough
 * for lapis_bzimage_parse. Allocated (free() it); *@len is its size.
 */
uint8_t *bz_minimal(size_t ksize, const uint8_t *payload, size_t plen, size_t *len);

#endif
