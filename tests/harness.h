/* SPDX-License-Identifier: MIT */
/*
 * A tiny test harness. Each test is a function; CHECK* record failures and
 * carry on, so one run shows every broken assertion. main() ends with the
 * line tests/run-tests.sh sums: "<suite>: N passed, N failed".
 */
#ifndef LAPIS_TEST_HARNESS_H
#define LAPIS_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int harness_passed, harness_failed, harness_current_failed;
static const char *harness_current;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("  %s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, harness_current, #cond); \
            harness_current_failed++;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(actual, expected)                                                                 \
    do {                                                                                           \
        unsigned long long harness_a = (unsigned long long)(actual);                               \
        unsigned long long harness_e = (unsigned long long)(expected);                             \
        if (harness_a != harness_e) {                                                              \
            printf("  %s:%d: %s: %s == 0x%llx (%lld), expected %s == 0x%llx (%lld)\n", __FILE__,   \
                   __LINE__, harness_current, #actual, harness_a, (long long)harness_a, #expected, \
                   harness_e, (long long)harness_e);                                               \
            harness_current_failed++;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_STR(actual, expected)                                                                \
    do {                                                                                           \
        const char *harness_as = (actual), *harness_es = (expected);                               \
        if (!harness_as || strcmp(harness_as, harness_es) != 0) {                                  \
            printf("  %s:%d: %s: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__,             \
                   harness_current, #actual, harness_as ? harness_as : "(null)", harness_es);      \
            harness_current_failed++;                                                              \
        }                                                                                          \
    } while (0)

#define RUN_TEST(fn)                                                                               \
    do {                                                                                           \
        harness_current = #fn;                                                                     \
        harness_current_failed = 0;                                                                \
        fn();                                                                                      \
        if (harness_current_failed) {                                                              \
            printf("FAIL %s\n", #fn);                                                              \
            harness_failed++;                                                                      \
        } else {                                                                                   \
            printf("PASS %s\n", #fn);                                                              \
            harness_passed++;                                                                      \
        }                                                                                          \
    } while (0)

/* Prints the summary line and returns the process exit status. */
static inline int harness_finish(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, harness_passed, harness_failed);
    return harness_failed ? 1 : 0;
}

#endif
