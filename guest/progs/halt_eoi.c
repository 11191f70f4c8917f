/* SPDX-License-Identifier: MIT */
/*
 * A level line that stays high, and an idle loop of "sti; hlt" with no exit
 * between the handler's LAPIC EOI and the hlt: on this host the EOI exit is
 * held back while the vCPU is halted (spec eoi.md §7), so the pin is only
 * re-delivered if the VMM recovers that exit. After n deliveries (default
 * 50) the handler lowers the line; Remote IRR must then clear.
 *
 * A VMM that does not recover leaves this guest halted for good (QEMU 7.2
 * here does): run it under a timeout. There is deliberately no watchdog
 * timer: an armed LAPIC timer lets the held-back exit out by itself.
 */
#include "guest.h"

#define LINE   10
#define VECTOR 0x40

static unsigned target;
static volatile unsigned deliveries;

static void level_handler(struct irq_frame *f)
{
    (void)f;
    if (++deliveries >= target)
        irq_line(LINE, false);
    lapic_eoi(); /* and no sync(): that is the point */
}

int main(void)
{
    target = (unsigned)cmdline_ulong("n", 50);
    if (!target)
        target = 1;
    idt_set_handler(VECTOR, level_handler);
    diag("halt_eoi: %u deliveries of a level line held high, idling in sti; hlt", target);

    ioapic_route(LINE, VECTOR, lapic_id(), IOREDIR_LEVEL);
    irq_line(LINE, true);
    unsigned halts = 0;
    while (deliveries < target) {
        safe_halt();
        irq_disable();
        halts++;
    }
    sync(); /* lets the last EOI exit out before Remote IRR is read */

    ok(deliveries == target, "%u of %u deliveries (%u wake-ups from hlt)", deliveries, target,
       halts);
    ok(!ioapic_remote_irr(LINE), "Remote IRR clear after the line was lowered (entry 0x%lx)",
       (unsigned long)ioapic_redir_read(LINE));
    ioapic_mask(LINE, true);
    printf("halt_eoi: %u deliveries through sti; hlt: every held-back EOI exit was recovered\n",
           deliveries);
    return 0;
}
