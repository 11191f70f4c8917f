/* SPDX-License-Identifier: MIT */
/*
 * A hostile guest: halts with interrupts off, for ever ("cli; hlt"). Nothing
 * inside the VM can wake it; the VMM must still stop on SIGTERM. With
 * pending=1 a level interrupt is pending (line high, unmasked) while it
 * halts, so the vCPU has work it may never take.
 */
#include "guest.h"

#define LINE   10
#define VECTOR 0x60

int main(void)
{
    bool pending = cmdline_ulong("pending", 0) != 0;

    if (pending) {
        ioapic_route(LINE, VECTOR, lapic_id(), IOREDIR_LEVEL);
        irq_line(LINE, true);
    }
    printf("hostile_halt: halting with interrupts off%s\n",
           pending ? " and a level interrupt pending" : "");
    halt_forever();
}
