/* SPDX-License-Identifier: MIT */
/*
 * The test ports lapis and QEMU share (QEMU: -device isa-debug-exit,iobase=0xf4,
 * -device pc-testdev, q35's ACPI PM block at 0x600).
 */
#ifndef GUEST_PORTS_H
#define GUEST_PORTS_H

#include <stdbool.h>

#define DEBUG_EXIT_PORT  0xf4
#define PM1A_CNT_PORT    0x604
#define PM1_SLP_EN       0x2000
#define TESTDEV_IRQ_BASE 0x2000
#define SYNC_PORT        0x80

/* Exit status (v << 1) | 1. Returns only if no such device exists. */
void debug_exit(unsigned v);
/* ACPI power-off, exit status 0. Never returns (halts if nothing listens). */
_Noreturn void poweroff(void);
/* Sets the level of IOAPIC input @line (pc-testdev). */
void irq_line(unsigned line, bool level);
/* A port write that forces an exit, so that a held-back EOI exit is delivered (spec §7). */
void sync(void);

#endif
