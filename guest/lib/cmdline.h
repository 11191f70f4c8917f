/* SPDX-License-Identifier: MIT */
/*
 * The multiboot command line: space-separated words, "key=value" or "key".
 * QEMU puts the kernel's file name first; it is just another word.
 */
#ifndef GUEST_CMDLINE_H
#define GUEST_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

void cmdline_set(const char *s); /* copies (truncated to 1 KiB) */
const char *cmdline(void);
/* Copies the value of the last "key=value" into @buf (empty for a bare "key").
 * Returns false if the key is absent. */
bool cmdline_get(const char *key, char *buf, size_t len);
/* Decimal or 0x-hex value of @key, or @def if absent or malformed. */
unsigned long cmdline_ulong(const char *key, unsigned long def);

#endif
