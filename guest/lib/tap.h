/* SPDX-License-Identifier: MIT */
/*
 * TAP-style reporting: "ok N - text" / "not ok N - text", "# diag" lines, and
 * finish(): prints the plan "1..N", then powers off (exit 0) if every check
 * passed, else debug_exit(1) (exit status 3).
 */
#ifndef GUEST_TAP_H
#define GUEST_TAP_H

#include <stdbool.h>

/* Records one check; returns @pass. */
bool ok(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A check that was not run: "ok N - text # SKIP". */
void skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
unsigned tap_failed(void);
_Noreturn void finish(void);
/* "Bail out! text" and exit status 3 at once. */
_Noreturn void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
