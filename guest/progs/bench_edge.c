/* SPDX-License-Identifier: MIT */
/*
 * Benchmark workload: n (default 10000) edge-triggered IOAPIC interrupts.
 * Each op: pulse pc-testdev line 11 (high, low); the handler EOIs the LAPIC,
 * which for an edge vector involves no IOAPIC.
 */
#include "guest.h"

#define LINE    11
#define VECTOR  0x41
#define WAIT_MS 1000

static volatile unsigned long deliveries;

static void handler(struct irq_frame *f)
{
    (void)f;
    deliveries++;
    lapic_eoi();
}

int main(void)
{
    unsigned long n = cmdline_ulong("n", 10000);
    idt_set_handler(VECTOR, handler);
    ioapic_route(LINE, VECTOR, lapic_id(), 0);
    diag("bench_edge: start, n=%lu", n);
    unsigned long i = bench_irq_ops(LINE, true, n, &deliveries, WAIT_MS);
    printf("bench_edge: %lu of %lu edge interrupts done (%lu deliveries)\n", i, n, deliveries);
    ok(i == n && deliveries == n, "bench_edge: n=%lu", n);
    ioapic_mask(LINE, true);
    return 0;
}
