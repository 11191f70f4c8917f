/* SPDX-License-Identifier: MIT */
/*
 * The built-in guest: what does this VM promise about Directed EOI, and does
 * it keep the promise? Reports LVR bit 24, whether SVR bit 12 sticks, the
 * IOAPIC version, then runs a level-triggered round with broadcast EOI and
 * one with Directed EOI (spec eoi.md §1, §4).
 *
 * Command line: lapis.eoi=enable|disable|quirk says what to expect; without
 * it the guest reports what it saw and accepts either delivery count.
 * lapis.irqchip=kernel says the IOAPIC is KVM's own: on this host that one
 * delivers the level vector once more after the line was lowered and EOIed
 * (measured under QEMU and lapis alike); that one late delivery is tolerated.
 */
#include "guest.h"

#define LINE    10 /* pc-testdev line -> IOAPIC pin 10 */
#define VECTOR  0x40
#define WAIT_MS 200 /* deliveries are synchronous with the exits; this is slack */

enum mode { MODE_NONE, MODE_ENABLE, MODE_DISABLE, MODE_QUIRK, MODE_UNKNOWN };
static const char *const mode_names[] = {"none", "enable", "disable", "quirk", "unknown"};

static volatile unsigned deliveries;
static volatile bool directed_round;
static volatile bool lowered;
static volatile unsigned late; /* deliveries after the handler lowered the line */
static volatile bool tmr_seen;

static void level_handler(struct irq_frame *f)
{
    (void)f;
    unsigned n = ++deliveries;
    if (lowered && n > 2)
        late++;
    /* No exit to the VMM before the first LAPIC EOI: on this host (spec §7) a
     * userspace exit there makes KVM deliver the vector a second time. */
    if (n == 1)
        tmr_seen = lapic_vector_bit(APIC_TMR, VECTOR);
    if (!directed_round) {
        /* Broadcast: the first EOI finds the line high, so the pin fires again.
         * The line is lowered only after "EOI; sync", while the redelivery
         * waits in IRR behind IF=0: on this host KVM's LAPIC may report the
         * EOI at injection time, at any exit, so lowering it before the
         * second EOI would race (conformance/README). */
        lapic_eoi();
        sync();
        if (n == 1) {
            irq_line(LINE, false);
            lowered = true;
        }
        return;
    }
    /* Directed: EOI the LAPIC with the line still high; if the broadcast is
     * suppressed nothing reaches the IOAPIC, and we EOI it ourselves. */
    lapic_eoi();
    sync();
    irq_line(LINE, false);
    lowered = true;
    ioapic_eoi(LINE, VECTOR);
    sync();
}

/* One round: returns the number of deliveries; checks Remote IRR and ISR after. */
static unsigned level_round(bool directed, const char *name)
{
    deliveries = 0;
    late = 0;
    lowered = false;
    tmr_seen = false;
    directed_round = directed;
    ioapic_route(LINE, VECTOR, lapic_id(), IOREDIR_LEVEL);
    irq_line(LINE, true);
    irq_enable();
    uint64_t end = deadline_ms(WAIT_MS);
    while (!expired(end))
        cpu_relax();
    irq_disable();
    irq_line(LINE, false);
    sync();
    unsigned n = deliveries;
    ok(n == 0 || tmr_seen, "%s round: vector 0x%x arrived level-triggered (TMR set)", name, VECTOR);
    ok(!ioapic_remote_irr(LINE), "%s round: Remote IRR clear at the end (entry 0x%lx)", name,
       (unsigned long)ioapic_redir_read(LINE));
    ok(!lapic_vector_bit(APIC_ISR, VECTOR) && !lapic_vector_bit(APIC_IRR, VECTOR),
       "%s round: vector 0x%x neither in service nor pending", name, VECTOR);
    ioapic_mask(LINE, true);
    return n;
}

static enum mode parse_mode(void)
{
    char v[16];
    if (!cmdline_get("lapis.eoi", v, sizeof(v)))
        return MODE_NONE;
    for (enum mode m = MODE_ENABLE; m <= MODE_QUIRK; m++)
        if (!strcmp(v, mode_names[m]))
            return m;
    ok(false, "lapis.eoi=%s is one of enable, disable, quirk", v);
    return MODE_UNKNOWN;
}

int main(void)
{
    enum mode mode = parse_mode();
    bool x2apic_cpuid = cpu_has_x2apic();
    char chip[16];
    bool kernel_ioapic =
        cmdline_get("lapis.irqchip", chip, sizeof(chip)) && !strcmp(chip, "kernel");
    idt_set_handler(VECTOR, level_handler);

    printf("lapis builtin: LAPIC in %s mode, APIC ID %u, x2APIC %sin CPUID\n",
           lapic_x2apic() ? "x2APIC" : "xAPIC", lapic_id(), x2apic_cpuid ? "" : "not ");
    if (mode != MODE_NONE)
        printf("lapis builtin: expecting what lapis.eoi=%s promises\n", mode_names[mode]);

    uint32_t lvr = lapic_read(APIC_LVR);
    bool offered = lvr & LVR_DIRECTED_EOI;
    uint32_t svr = lapic_read(APIC_SVR);
    lapic_write(APIC_SVR, svr | SVR_SUPPRESS_EOI_B);
    bool sticks = lapic_read(APIC_SVR) & SVR_SUPPRESS_EOI_B;
    lapic_write(APIC_SVR, svr & ~SVR_SUPPRESS_EOI_B);
    unsigned ver = ioapic_version();
    unsigned pins = ioapic_pins();

    printf("lapis builtin: Directed EOI %s (LVR 0x%08x), SVR bit 12 %s\n",
           offered ? "offered" : "not offered", lvr, sticks ? "sticks" : "does not stick");
    printf("lapis builtin: IOAPIC version 0x%02x, %u pins, %s\n", ver, pins,
           ver >= 0x20 ? "with EOI register" : "no EOI register");

    switch (mode) {
    case MODE_ENABLE:
    case MODE_QUIRK:
        /* Never beside KVM's own IOAPIC (spec §4); else iff the CPU has x2APIC. */
        ok(offered == (x2apic_cpuid && !kernel_ioapic),
           "Directed EOI %s, as '%s' promises with x2APIC %sin CPUID%s",
           offered ? "offered" : "not offered", mode_names[mode], x2apic_cpuid ? "" : "not ",
           kernel_ioapic ? " and KVM's IOAPIC" : "");
        ok(sticks == offered, "SVR bit 12 %s", sticks ? "sticks" : "does not stick");
        break;
    case MODE_DISABLE:
        ok(!offered, "Directed EOI %s, as 'disable' promises", offered ? "offered" : "not offered");
        ok(!sticks, "SVR bit 12 %s, as 'disable' promises", sticks ? "sticks" : "does not stick");
        break;
    default:
        ok(sticks == offered, "SVR bit 12 %s, Directed EOI %s",
           sticks ? "sticks" : "does not stick", offered ? "offered" : "not offered");
        break;
    }
    ok(pins > LINE, "IOAPIC has pin %u", LINE);
    if (pins <= LINE)
        finish();

    unsigned bc = level_round(false, "broadcast");
    unsigned bc_late = kernel_ioapic ? late : 0;
    if (bc_late)
        ok(bc - bc_late == 2 && bc_late == 1,
           "broadcast round: %u deliveries, %u of them late (after the line was lowered): "
           "tolerated for KVM's in-kernel IOAPIC on this host",
           bc, bc_late);
    else
        ok(bc == 2,
           "broadcast round: %u deliveries (the EOI with the line high fires it again once)", bc);
    bc -= bc_late;

    unsigned dr = 0;
    bool ran_directed = offered && sticks;
    const char *how = ver >= 0x20 ? "EOIR" : "mask+edge/level toggle";
    if (ran_directed) {
        lapic_write(APIC_SVR, svr | SVR_SUPPRESS_EOI_B);
        dr = level_round(true, "directed");
        lapic_write(APIC_SVR, svr & ~SVR_SUPPRESS_EOI_B);
        switch (mode) {
        case MODE_ENABLE:
            ok(dr == 1, "directed round: %u deliveries, IOAPIC EOI via %s (suppression honoured)",
               dr, how);
            break;
        case MODE_QUIRK:
            ok(dr == 2, "directed round: %u deliveries, IOAPIC EOI via %s (SVR.12 ignored)", dr,
               how);
            break;
        default:
            ok(dr == 1 || dr == 2, "directed round: %u deliveries, IOAPIC EOI via %s", dr, how);
            break;
        }
    } else {
        skip("directed round: Directed EOI not usable here");
    }

    enum mode seen = MODE_UNKNOWN;
    if (!offered && !sticks)
        seen = MODE_DISABLE;
    else if (ran_directed && dr == 1)
        seen = MODE_ENABLE;
    else if (ran_directed && dr == 2)
        seen = MODE_QUIRK;

    char directed_text[64];
    if (ran_directed)
        snprintf(directed_text, sizeof(directed_text), "directed round %u deliver%s via %s", dr,
                 dr == 1 ? "y" : "ies", how);
    else
        snprintf(directed_text, sizeof(directed_text), "directed round skipped");
    char verdict[96];
    if (mode == MODE_NONE)
        snprintf(verdict, sizeof(verdict), "looks like '%s' (no lapis.eoi given)",
                 mode_names[seen]);
    else if (!tap_failed())
        snprintf(verdict, sizeof(verdict), "behaves as '%s' promises", mode_names[mode]);
    else
        snprintf(verdict, sizeof(verdict), "does NOT behave as '%s' promises (looks like '%s')",
                 mode_names[mode], mode_names[seen]);
    printf("lapis builtin: Directed EOI %s, SVR.12 %s, broadcast round %u/2%s, %s: %s\n",
           offered ? "offered" : "not offered", sticks ? "sticks" : "does not stick", bc,
           bc_late ? " (+1 late)" : "", directed_text, verdict);
    return 0;
}
