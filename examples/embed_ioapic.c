/* SPDX-License-Identifier: MIT */
/*
 * Embedding lapis's IOAPIC in another VMM: forward guest MMIO at 0xFEC00000 to
 * it, report device lines, send the messages it delivers to your LAPIC (or a
 * KVM MSI route), and pass EOIs back. Link with liblapis.a only.
 */
#include <stdio.h>

#include "devices/ioapic.h"

static void deliver(void *opaque, unsigned pin, const struct lapis_msi *msg)
{
    unsigned *delivered = opaque;

    (*delivered)++;
    printf("pin %u -> vector 0x%02x, APIC %u (%s), %s-triggered\n", pin, msg->vector, msg->dest,
           msg->dest_logical ? "logical" : "physical", msg->level_triggered ? "level" : "edge");
}

static void guest_write(struct lapis_ioapic *io, unsigned reg, uint32_t value)
{
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOREGSEL, 4, reg);
    lapis_ioapic_mmio_write(io, LAPIS_IOAPIC_IOWIN, 4, value);
}

int main(void)
{
    static const struct lapis_ioapic_ops ops = {.deliver = deliver};
    static struct lapis_ioapic io;
    unsigned delivered = 0;

    if (lapis_ioapic_init(&io, LAPIS_IOAPIC_VERSION_PCH, LAPIS_IOAPIC_DEFAULT_PINS, &ops,
                          &delivered) != 0)
        return 1;
    /* The guest routes pin 4 to vector 0x41 on APIC 0, level-triggered, unmasked. */
    guest_write(&io, LAPIS_IOAPIC_REG_REDIR + 2 * 4 + 1, 0x00000000); /* dest APIC 0 */
    guest_write(&io, LAPIS_IOAPIC_REG_REDIR + 2 * 4, LAPIS_IOREDIR_LEVEL | 0x41);

    lapis_ioapic_assert(&io, 4);   /* the device raises its line: delivered */
    lapis_ioapic_deassert(&io, 4); /* the guest's handler quietens the device */
    lapis_ioapic_eoi(&io, 0x41, LAPIS_EOI_FROM_BROADCAST); /* the LAPIC EOI */

    printf("delivered %u, Remote IRR %s, EOIs that cleared it: %llu\n", delivered,
           lapis_ioapic_remote_irr(&io, 4) ? "set" : "clear",
           (unsigned long long)io.stats.eoi_cleared_irr);
    return delivered == 1 && !lapis_ioapic_remote_irr(&io, 4) ? 0 : 1;
}
