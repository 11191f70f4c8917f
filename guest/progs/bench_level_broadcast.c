/* SPDX-License-Identifier: MIT */
/*
 * Benchmark workload: n (default 10000) level-triggered interrupts with
 * broadcast EOI. Each op: raise pc-testdev line 10; the handler lowers it and
 * EOIs the LAPIC, whose broadcast reaches the IOAPIC (an EOI exit under split
 * irqchip).
 */
#include "guest.h"

#define LINE    10
#define VECTOR  0x40
#define WAIT_MS 1000

static volatile unsigned long deliveries;

static void handler(struct irq_frame *f)
{
    (void)f;
    deliveries++;
    irq_line(LINE, false);
    lapic_eoi();
}

int main(void)
{
    unsigned long n = cmdline_ulong("n", 10000);
    idt_set_handler(VECTOR, handler);
    ioapic_route(LINE, VECTOR, lapic_id(), IOREDIR_LEVEL);
    diag("bench_level_broadcast: start, n=%lu", n);
    unsigned long i = bench_irq_ops(LINE, false, n, &deliveries, WAIT_MS);
    sync();
    printf("bench_level_broadcast: %lu of %lu level interrupts done (%lu deliveries)\n", i, n,
           deliveries);
    ok(i == n && deliveries == n, "bench_level_broadcast: n=%lu", n);
    ok(!ioapic_remote_irr(LINE), "Remote IRR clear at the end");
    ioapic_mask(LINE, true);
    return 0;
}
