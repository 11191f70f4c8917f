/* SPDX-License-Identifier: MIT */
/*
 * Small guest RAM for the loader harnesses. Each layout is allocated once
 * with its exact size (so ASan's redzones sit right at the end of RAM) and
 * filled with a pattern; a harness checks that a failed load left it
 * untouched and restores the pattern after a successful one.
 */
#ifndef LAPIS_FUZZ_RAM_H
#define LAPIS_FUZZ_RAM_H

#include "fuzz_common.h"

#include "loader/guest_ram.h"

#define FUZZ_RAM_FILL    0xA5u
#define FUZZ_RAM_LAYOUTS 8u

static struct lapis_guest_ram fuzz_ram_cache[FUZZ_RAM_LAYOUTS];
static uint8_t *fuzz_ram_pattern;
static size_t fuzz_ram_pattern_len;

static inline uint8_t *fuzz_ram_alloc(uint64_t size)
{
    uint8_t *p;

    if (!size)
        return NULL;
    p = malloc((size_t)size);
    if (!p)
        abort();
    memset(p, FUZZ_RAM_FILL, (size_t)size);
    if (size > fuzz_ram_pattern_len) {
        free(fuzz_ram_pattern);
        fuzz_ram_pattern = malloc((size_t)size);
        if (!fuzz_ram_pattern)
            abort();
        memset(fuzz_ram_pattern, FUZZ_RAM_FILL, (size_t)size);
        fuzz_ram_pattern_len = (size_t)size;
    }
    return p;
}

/* RAM with @low bytes at 0 and @high bytes at 4 GiB, pattern-filled. */
static inline const struct lapis_guest_ram *fuzz_ram_get(uint64_t low, uint64_t high)
{
    for (unsigned i = 0; i < FUZZ_RAM_LAYOUTS; i++) {
        struct lapis_guest_ram *r = &fuzz_ram_cache[i];
        if (r->low_size == low && r->high_size == high && (r->low || r->high))
            return r;
        if (!r->low && !r->high) {
            r->low = fuzz_ram_alloc(low);
            r->low_size = low;
            r->high = fuzz_ram_alloc(high);
            r->high_size = high;
            return r;
        }
    }
    abort(); /* more layouts than the cache holds: a harness bug */
}

static inline bool fuzz_ram_untouched(const struct lapis_guest_ram *r)
{
    return (!r->low || memcmp(r->low, fuzz_ram_pattern, (size_t)r->low_size) == 0) &&
           (!r->high || memcmp(r->high, fuzz_ram_pattern, (size_t)r->high_size) == 0);
}

static inline void fuzz_ram_restore(const struct lapis_guest_ram *r)
{
    if (r->low)
        memset(r->low, FUZZ_RAM_FILL, (size_t)r->low_size);
    if (r->high)
        memset(r->high, FUZZ_RAM_FILL, (size_t)r->high_size);
}

/* A NUL-terminated error message that fits its buffer and says something. */
static inline bool fuzz_err_ok(const char *err, size_t errlen)
{
    size_t n = strnlen(err, errlen);
    return n > 0 && n < errlen;
}

#endif
