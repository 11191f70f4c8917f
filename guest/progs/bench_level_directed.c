/* SPDX-License-Identifier: MIT */
/*
 * Benchmark workload: n (default 10000) level-triggered interrupts with
 * Directed EOI (SVR bit 12 set). Each op: raise pc-testdev line 10; the
 * handler lowers it, EOIs the LAPIC (no broadcast when suppression is
 * honoured) and then the IOAPIC itself: EOIR on version 0x20, else the
 * mask + edge/level toggle. Fails with status 3 if Directed EOI is not offered.
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
    ioapic_eoi(LINE, VECTOR);
}

int main(void)
{
    unsigned long n = cmdline_ulong("n", 10000);
    uint32_t svr = lapic_read(APIC_SVR);
    lapic_write(APIC_SVR, svr | SVR_SUPPRESS_EOI_B);
    if (!(lapic_read(APIC_LVR) & LVR_DIRECTED_EOI) ||
        !(lapic_read(APIC_SVR) & SVR_SUPPRESS_EOI_B)) {
        printf("bench_level_directed: directed EOI not offered\n");
        debug_exit(1);
        halt_forever();
    }
    unsigned ver = ioapic_version();
    idt_set_handler(VECTOR, handler);
    ioapic_route(LINE, VECTOR, lapic_id(), IOREDIR_LEVEL);
    diag("bench_level_directed: start, n=%lu, IOAPIC EOI via %s", n,
         ver >= 0x20 ? "EOIR" : "mask+edge/level toggle");
    unsigned long i = bench_irq_ops(LINE, false, n, &deliveries, WAIT_MS);
    sync();
    lapic_write(APIC_SVR, svr);
    printf("bench_level_directed: %lu of %lu level interrupts done (%lu deliveries)\n", i, n,
           deliveries);
    ok(i == n && deliveries == n, "bench_level_directed: n=%lu", n);
    ok(!ioapic_remote_irr(LINE), "Remote IRR clear at the end");
    ioapic_mask(LINE, true);
    return 0;
}
