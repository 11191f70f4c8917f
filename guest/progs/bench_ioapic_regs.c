/* SPDX-License-Identifier: MIT */
/*
 * Benchmark workload: n (default 10000) mask/unmask pairs on one IOAPIC
 * redirection entry (pin 12, edge, line low, so nothing fires): four MMIO
 * writes (IOREGSEL, IOWIN, twice) per op.
 */
#include "guest.h"

#define PIN    12
#define VECTOR 0x42

int main(void)
{
    unsigned long n = cmdline_ulong("n", 10000);
    ioapic_route(PIN, VECTOR, lapic_id(), IOREDIR_MASKED);
    uint32_t lo = ioapic_read(IOAPIC_REG_REDIR(PIN));
    uint32_t masked = lo | (uint32_t)IOREDIR_MASKED, unmasked = lo & ~(uint32_t)IOREDIR_MASKED;
    diag("bench_ioapic_regs: start, n=%lu", n);
    unsigned long i;
    for (i = 0; i < n; i++) {
        ioapic_write(IOAPIC_REG_REDIR(PIN), unmasked);
        ioapic_write(IOAPIC_REG_REDIR(PIN), masked);
    }
    uint32_t end = ioapic_read(IOAPIC_REG_REDIR(PIN));
    printf("bench_ioapic_regs: %lu of %lu mask/unmask pairs done\n", i, n);
    ok(i == n, "bench_ioapic_regs: n=%lu", n);
    ok(end == masked, "entry reads back 0x%x (expected 0x%x)", end, masked);
    return 0;
}
