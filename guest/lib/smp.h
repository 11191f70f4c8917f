/* SPDX-License-Identifier: MIT */
/*
 * Application processors: INIT-SIPI-SIPI through a real-mode trampoline copied
 * to TRAMPOLINE_BASE (16-bit -> 32-bit -> long mode on the BSP's page tables).
 * APs start one at a time; each gets its own stack, loads the IDT, sets up its
 * LAPIC in the BSP's mode, runs fn(cpu), then idles in "sti; hlt" so that it
 * can take IPIs.
 */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include <stdbool.h>
#include <stdint.h>

#include "../boot/layout.h"

typedef void (*ap_fn_t)(unsigned cpu);

/*
 * Starts the AP with APIC ID @apic_id as logical CPU @cpu (1 .. MAX_CPUS-1)
 * and waits (bounded, about @timeout_ms) until it has checked in.
 * Returns false if it did not.
 */
bool smp_start_ap(uint32_t apic_id, unsigned cpu, ap_fn_t fn, unsigned timeout_ms);
/* APIC ID that CPU @cpu reported when it checked in (~0u if it never did). */
uint32_t smp_apic_id(unsigned cpu);

#endif
