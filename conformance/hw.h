/* SPDX-License-Identifier: MIT */
/*
 * The hardware-access interface the conformance scenarios are written against.
 * Two implementations: guest/hw_guest.c (real instructions in a freestanding
 * guest on KVM) and model/hw_model.c (lapis's LAPIC and IOAPIC models called
 * directly). A scenario sees nothing else, so it runs the same on both.
 *
 * Interrupts: scenario code runs with interrupts disabled except inside the
 * wait calls (and between hw_irq_enable/disable); every interrupt taken calls
 * conf_dispatch() (conf.c), which logs it and runs the scenario's handler.
 */
#ifndef LAPIS_CONF_HW_H
#define LAPIS_CONF_HW_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

struct conf;

uint64_t hw_rdmsr(struct conf *c, uint32_t msr);
void hw_wrmsr(struct conf *c, uint32_t msr, uint64_t value);
uint32_t hw_mmio_read32(struct conf *c, uint64_t addr);
void hw_mmio_write32(struct conf *c, uint64_t addr, uint32_t value);
uint8_t hw_inb(struct conf *c, uint16_t port);
void hw_outb(struct conf *c, uint16_t port, uint8_t value);

/*
 * "sti; hlt" until c->nirq >= @target or about @max_ms have passed, then
 * "cli". Returns c->nirq. On the model, time is virtual.
 */
unsigned hw_wait(struct conf *c, unsigned target, unsigned max_ms);
/* One "sti; hlt; cli" with no bound: a guest that would hang here hangs. */
void hw_halt(struct conf *c);
/* One turn of a busy loop (pause); time passes, interrupts are taken if enabled. */
void hw_relax(struct conf *c);
void hw_irq_enable(struct conf *c);
void hw_irq_disable(struct conf *c);
/* A clock for bounding busy loops (microseconds; rough on the guest, virtual on the model). */
uint64_t hw_now_us(struct conf *c);

/* The CPU running the caller (0 = BSP), its count, and CPUID's x2APIC bit. */
unsigned hw_cpu(struct conf *c);
bool hw_cpu_has_x2apic(struct conf *c);
/* Runs @fn on CPU @cpu (interrupts off there) and waits for it. False if it could not. */
bool hw_on_cpu(struct conf *c, unsigned cpu, void (*fn)(struct conf *c));

/* Observation output: one line at a time, with the usual %d %u %x %lx %llx %s. */
void hw_vprintf(struct conf *c, const char *fmt, va_list ap);
/* The scenario cannot go on (an unexpected fault, say): report and stop the run. */
_Noreturn void hw_abort(struct conf *c, const char *why);

#endif
