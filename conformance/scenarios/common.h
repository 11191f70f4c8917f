/* SPDX-License-Identifier: MIT */
/*
 * Pins, vectors and handlers the scenarios share. Pins 16-19 are IOAPIC-only
 * GSIs (no 8259 behind them with --irqchip kernel, no ISA device on lapis).
 */
#ifndef LAPIS_CONF_SCENARIOS_COMMON_H
#define LAPIS_CONF_SCENARIOS_COMMON_H

#include "conf.h"

#define PIN_A 16u
#define PIN_B 17u
#define PIN_C 18u
#define PIN_D 19u
#define VEC_A 0x40u /* priority class 4 */
#define VEC_B 0x41u /* class 4 */
#define VEC_C 0x52u /* class 5 */
#define VEC_D 0x62u /* class 6 */

#define WAIT_MS  300u /* bound for an interrupt that must come */
#define QUIET_MS 5u   /* how long "nothing comes" is watched */

/* The pin each vector above is routed from in the shared handlers. */
unsigned pin_of(unsigned vector);

/*
 * Handlers. A handler that changes a level line does it after "EOI; sync":
 * where KVM's LAPIC EOIs at injection (PVM), the EOI reaches the IOAPIC at
 * some exit before the guest's own EOI, so only the sync pins down when, on
 * every host. Lines are otherwise lowered by main with interrupts off.
 */
void h_none(struct conf *c, unsigned vector);      /* take it, EOI nothing */
void h_eoi(struct conf *c, unsigned vector);       /* LAPIC EOI, line left as it is */
void h_lower_eoi(struct conf *c, unsigned vector); /* lower, then EOI: edge lines only */
/*
 * LAPIC EOI, line left high (no exit: eoi.md §7), until interrupt number
 * var[V_HIGH]; that one syncs and lowers the line after its EOI, which has
 * already sent it again: var[V_HIGH] + 1 interrupts in all.
 */
void h_eoi_n_high(struct conf *c, unsigned vector);
#define V_HIGH 15u /* var index used by h_eoi_n_high */

/* LAPIC EOI, then a port write so the IOAPIC sees the EOI here on every host. */
void h_eoi_sync(struct conf *c, unsigned vector);
/* Directed EOI done by the OS: LAPIC EOI (suppressed), sync, lower the line, EOI the IOAPIC. */
void h_directed(struct conf *c, unsigned vector);

/*
 * Route @pin level to @vector on CPU 0 and raise it with interrupts off: the
 * IOAPIC has sent it (Remote IRR set), the LAPIC holds it pending in IRR. No
 * LAPIC anywhere has taken or EOIed it yet, so this window is the same on
 * every target.
 */
void level_pend(struct conf *c, unsigned pin, unsigned vector, conf_irq_fn fn);
/* Sets SVR bit 12 for a CONF_F_DIRECTED scenario; false (a failed check) if it is not honoured. */
bool directed_on(struct conf *c);

/* Route @pin level to @vector on CPU 0, raise the line, take one interrupt. */
void level_fire(struct conf *c, unsigned pin, unsigned vector, conf_irq_fn fn);
/* Observes "<key>" as the number of interrupts and checks it against @want. */
void obs_count(struct conf *c, const char *key, unsigned want);
/* Observes Remote IRR of @pin as "<key>" and checks it against @want. */
void obs_rirr(struct conf *c, const char *key, unsigned pin, bool want);
/*
 * Waits up to WAIT_MS for interrupt number @n, settles, and checks "count"
 * is @n and Remote IRR of PIN_A ("rirr.after") is clear.
 */
void level_done(struct conf *c, unsigned n);
/* The usual EOI counters for a run on one level pin with no SVR bit 12. */
void expect_plain_level(struct conf *c, unsigned deliveries);

#endif
