/* SPDX-License-Identifier: MIT */
/* Serial console on COM1 (0x3f8, polled) and a small printf. */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>

#define COM1_BASE 0x3f8

void console_init(void);
void console_putc(char c);
void console_write(const char *s, size_t n);
/* Drops the console lock, for the crash path (the holder will never come back). */
void console_break_lock(void);

/* %d %i %u %x %X %p %s %c %%, with '0'/'-' flags, a width and the l/ll/z modifiers. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int puts(const char *s);

#endif
