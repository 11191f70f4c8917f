/* SPDX-License-Identifier: MIT */
/*
 * The guest library, all of it. A program defines int main(void): it runs on
 * the BSP in long mode with the IDT loaded, the LAPIC enabled (x2APIC when the
 * CPU has it, unless apic=xapic), interrupts off; returning 0 calls finish().
 */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include "cmdline.h"
#include "console.h"
#include "fwcfg.h"
#include "idt.h"
#include "io.h"
#include "ioapic.h"
#include "lapic.h"
#include "ports.h"
#include "smp.h"
#include "string.h"
#include "tap.h"

int main(void);

#endif
