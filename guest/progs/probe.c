/* SPDX-License-Identifier: MIT */
/*
 * The guest of `lapis probe`: what does this VM's LAPIC offer about Directed
 * EOI, and does a level EOI reach the IOAPIC (spec eoi.md §1, §4)?
 *
 *  - LVR bit 24 (x2APIC MSR 0x803 when the CPU has x2APIC, else MMIO);
 *  - whether SVR bit 12 sticks when written;
 *  - two level rounds, SVR bit 12 clear and (if it sticks) set: the handler
 *    EOIs at the LAPIC while the line is still high, makes a sync() exit (so
 *    a held-back EOI exit comes out, §7), then looks at the IOAPIC. Remote
 *    IRR clear, or set again by a redelivery already pending in the LAPIC's
 *    IRR, means the EOI reached the IOAPIC (the broadcast, as an EOI exit
 *    under split irqchip). Remote IRR set with nothing pending means the
 *    broadcast was suppressed: the handler lowers the line and EOIs the
 *    IOAPIC itself (EOIR, or the fake EOI on 0x11).
 *
 * Prints one machine-readable line and powers off:
 *   probe x2apic=1 lvr=0x... lvr_directed_eoi=1 svr12_sticks=1 ioapic_version=0x20
 *         eoi_exit_svr12_clear=1 eoi_exit_with_svr12=0 deliveries_svr12_clear=2 ...
 * Values: 1 yes, 0 no, na (not applicable), timeout (no interrupt came).
 */
#include "guest.h"

#define LINE    10 /* pc-testdev line -> IOAPIC pin 10 */
#define VECTOR  0x40
#define WAIT_MS 500 /* for the first delivery; they are synchronous, this is slack */
#define TAIL_MS 20  /* then for redeliveries to drain */

static volatile unsigned deliveries;
static volatile int reached; /* -1 until the first delivery is measured */

static void level_handler(struct irq_frame *f)
{
    (void)f;
    if (++deliveries == 1) {
        /* No exit before this EOI: on PVM hosts one makes KVM deliver twice (builtin.c). */
        lapic_eoi();
        sync();
        bool rirr = ioapic_remote_irr(LINE);
        bool again = lapic_vector_bit(APIC_IRR, VECTOR);
        reached = !rirr || again;
        irq_line(LINE, false);
        if (rirr && !again)
            ioapic_eoi(LINE, VECTOR); /* suppressed: the OS's own IOAPIC EOI */
        sync();
        return;
    }
    /* A redelivery (the EOI found the line high): the line is low by now. */
    lapic_eoi();
    sync();
    if (ioapic_remote_irr(LINE))
        ioapic_eoi(LINE, VECTOR);
}

/* One level round with SVR bit 12 as @svr12. Returns 1, 0 or -1 (no delivery). */
static int level_round(uint32_t svr, bool svr12, unsigned *count)
{
    deliveries = 0;
    reached = -1;
    lapic_write(APIC_SVR, svr12 ? svr | SVR_SUPPRESS_EOI_B : svr & ~SVR_SUPPRESS_EOI_B);
    ioapic_route(LINE, VECTOR, lapic_id(), IOREDIR_LEVEL);
    irq_line(LINE, true);
    irq_enable();
    uint64_t end = deadline_ms(WAIT_MS);
    while (reached < 0 && !expired(end))
        cpu_relax();
    end = deadline_ms(TAIL_MS);
    while (!expired(end))
        cpu_relax();
    irq_disable();
    irq_line(LINE, false);
    sync();
    if (ioapic_remote_irr(LINE))
        ioapic_eoi(LINE, VECTOR);
    ioapic_mask(LINE, true);
    lapic_write(APIC_SVR, svr & ~SVR_SUPPRESS_EOI_B);
    *count = deliveries;
    return reached;
}

static const char *val(int v)
{
    return v < 0 ? "timeout" : v ? "1" : "0";
}

int main(void)
{
    idt_set_handler(VECTOR, level_handler);

    uint32_t lvr = lapic_read(APIC_LVR);
    uint32_t svr = lapic_read(APIC_SVR);
    lapic_write(APIC_SVR, svr | SVR_SUPPRESS_EOI_B);
    bool sticks = lapic_read(APIC_SVR) & SVR_SUPPRESS_EOI_B;
    lapic_write(APIC_SVR, svr & ~SVR_SUPPRESS_EOI_B);
    svr &= ~SVR_SUPPRESS_EOI_B;
    unsigned ver = ioapic_version(), pins = ioapic_pins();

    printf("probe x2apic=%d lvr=0x%08x lvr_directed_eoi=%d svr12_sticks=%d ioapic_version=0x%02x "
           "ioapic_pins=%u\n",
           cpu_has_x2apic() ? 1 : 0, lvr, (lvr & LVR_DIRECTED_EOI) ? 1 : 0, sticks ? 1 : 0, ver,
           pins);
    if (pins <= LINE) {
        printf("probe error=no_pin_%u\n", LINE);
        poweroff();
    }

    unsigned n0 = 0, n1 = 0;
    int clear = level_round(svr, false, &n0);
    int set = sticks ? level_round(svr, true, &n1) : 0;
    printf("probe eoi_exit_svr12_clear=%s eoi_exit_with_svr12=%s deliveries_svr12_clear=%u "
           "deliveries_with_svr12=%u spurious=%lu\n",
           val(clear), sticks ? val(set) : "na", n0, n1, spurious_count());
    printf("probe done\n");
    poweroff();
}
