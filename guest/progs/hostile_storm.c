/* SPDX-License-Identifier: MIT */
/*
 * A hostile guest: a level-triggered interrupt storm. The line is held high
 * for ever and the handler EOIs the LAPIC at once, so every EOI finds the
 * line still asserted. The VMM's storm throttle (spec eoi.md §1) must let
 * the main loop run now and then: it prints a progress line each time it
 * sees another LAPIS_STORM_STEP deliveries, so a test can watch it advance.
 *
 * Command line: n=N stops after N progress lines (powers off); the default
 * 0 runs until the VMM is stopped from outside.
 */
#include "guest.h"

#define LINE       10
#define VECTOR     0x50
#define STORM_STEP 2000 /* deliveries between progress lines */

static volatile uint64_t deliveries;

static void storm_handler(struct irq_frame *f)
{
    (void)f;
    deliveries++;
    lapic_eoi(); /* the line stays high: the EOI asks for the next delivery */
}

int main(void)
{
    unsigned long lines = cmdline_ulong("n", 0);
    uint64_t loops = 0, last = 0;
    unsigned long printed = 0;

    idt_set_handler(VECTOR, storm_handler);
    printf("hostile_storm: level line %u held high, vector 0x%x, EOI at once, for %s\n", LINE,
           VECTOR, lines ? "a while" : "ever");
    ioapic_route(LINE, VECTOR, lapic_id(), IOREDIR_LEVEL);
    irq_line(LINE, true);
    irq_enable();
    for (;;) {
        loops++;
        uint64_t d = deliveries;
        if (d - last < STORM_STEP)
            continue;
        last = d;
        printed++;
        printf("hostile_storm: progress %lu: main loop %lu, deliveries %lu\n", printed,
               (unsigned long)loops, (unsigned long)d);
        if (lines && printed >= lines)
            break;
    }
    irq_disable();
    irq_line(LINE, false);
    ioapic_mask(LINE, true);
    return 0;
}
