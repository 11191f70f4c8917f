/* SPDX-License-Identifier: MIT */
/*
 * Shared by every harness: a byte-stream reader that turns fuzz input into
 * operations, the invariant check, and the entry-point macro.
 *
 * A harness is built two ways: with clang -fsanitize=fuzzer (FUZZ_TARGET
 * then also defines LLVMFuzzerTestOneInput), and included into
 * tests/unit/test_fuzz_regressions.c with FUZZ_NO_MAIN defined, where
 * FUZZ_ASSERT is the unit harness's CHECK. Harnesses are included together
 * there, so their static names carry the target's prefix.
 */
#ifndef LAPIS_FUZZ_COMMON_H
#define LAPIS_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_ASSERT
/* An invariant broke: abort so libFuzzer records the input as a crash. */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
#endif

#ifdef FUZZ_NO_MAIN
#define FUZZ_TARGET(name)                                                                          \
    int fuzz_##name(const uint8_t *data, size_t size);                                             \
    int fuzz_##name(const uint8_t *data, size_t size)
#else
#define FUZZ_TARGET(name)                                                                          \
    int fuzz_##name(const uint8_t *data, size_t size);                                             \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                  \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                                   \
    {                                                                                              \
        return fuzz_##name(data, size);                                                            \
    }                                                                                              \
    int fuzz_##name(const uint8_t *data, size_t size)
#endif

/* The input, consumed front to back. Reads past the end return zeros. */
struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

static inline bool fin_empty(const struct fuzz_in *in)
{
    return in->n == 0;
}

static inline uint8_t fin_u8(struct fuzz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint16_t fin_u16(struct fuzz_in *in)
{
    uint16_t v = fin_u8(in);
    return (uint16_t)(v | fin_u8(in) << 8);
}

static inline uint32_t fin_u32(struct fuzz_in *in)
{
    uint32_t v = fin_u16(in);
    return v | (uint32_t)fin_u16(in) << 16;
}

static inline uint64_t fin_u64(struct fuzz_in *in)
{
    uint64_t v = fin_u32(in);
    return v | (uint64_t)fin_u32(in) << 32;
}

static inline bool fin_bool(struct fuzz_in *in)
{
    return fin_u8(in) & 1;
}

/* Up to @max bytes, as a pointer into the input; *len gets the count. */
static inline const uint8_t *fin_bytes(struct fuzz_in *in, size_t max, size_t *len)
{
    const uint8_t *p = in->p;
    size_t n = max < in->n ? max : in->n;
    in->p += n;
    in->n -= n;
    *len = n;
    return p;
}

/* Access sizes a bus can produce, mostly valid ones, sometimes not. */
static inline unsigned fin_size(struct fuzz_in *in)
{
    static const unsigned sizes[8] = {1, 2, 4, 8, 4, 4, 0, 3};
    return sizes[fin_u8(in) & 7];
}

#endif
