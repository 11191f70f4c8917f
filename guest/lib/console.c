/* SPDX-License-Identifier: MIT */
/* COM1 output: wait for THR empty (LSR bit 5), then write. One lock for all CPUs. */
#include "console.h"

#include "io.h"

#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20

static volatile int console_lock;

static void lock(void)
{
    while (__atomic_exchange_n(&console_lock, 1, __ATOMIC_ACQUIRE))
        while (console_lock)
            cpu_relax();
}

static void unlock(void)
{
    __atomic_store_n(&console_lock, 0, __ATOMIC_RELEASE);
}

void console_break_lock(void)
{
    unlock();
}

void console_init(void)
{
    outb(COM1_BASE + UART_IER, 0x00);
    outb(COM1_BASE + UART_LCR, 0x80); /* divisor latch */
    outb(COM1_BASE + 0, 0x01);        /* 115200 baud */
    outb(COM1_BASE + 1, 0x00);
    outb(COM1_BASE + UART_LCR, 0x03); /* 8N1 */
    outb(COM1_BASE + UART_MCR, 0x03); /* DTR | RTS */
}

static void putc_raw(char c)
{
    /* Bounded: a missing UART must not hang the guest. */
    for (unsigned i = 0; i < 100000; i++)
        if (inb(COM1_BASE + UART_LSR) & LSR_THRE)
            break;
    outb(COM1_BASE + UART_THR, (uint8_t)c);
}

static void write_locked(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            putc_raw('\r');
        putc_raw(s[i]);
    }
}

void console_write(const char *s, size_t n)
{
    uint64_t flags = irq_save();
    lock();
    write_locked(s, n);
    unlock();
    irq_restore(flags);
}

void console_putc(char c)
{
    console_write(&c, 1);
}

int puts(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    console_write(s, n);
    console_write("\n", 1);
    return (int)n + 1;
}

int vprintf(const char *fmt, va_list ap)
{
    char buf[512];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t len = n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
    console_write(buf, len);
    return n;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}
