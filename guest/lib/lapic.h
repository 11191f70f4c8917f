/* SPDX-License-Identifier: MIT */
/*
 * Local APIC access in xAPIC (MMIO at APIC_BASE) and x2APIC (MSR 0x800 + reg/16)
 * modes. Registers are named by their xAPIC offsets in both modes.
 */
#ifndef GUEST_LAPIC_H
#define GUEST_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define APIC_ID    0x020
#define APIC_LVR   0x030
#define APIC_TPR   0x080
#define APIC_EOI   0x0B0
#define APIC_LDR   0x0D0
#define APIC_SVR   0x0F0
#define APIC_ISR   0x100
#define APIC_TMR   0x180
#define APIC_IRR   0x200
#define APIC_ESR   0x280
#define APIC_ICR   0x300
#define APIC_ICR2  0x310
#define APIC_LVTT  0x320
#define APIC_LINT0 0x350
#define APIC_LINT1 0x360
#define APIC_LVTE  0x370

#define LVR_DIRECTED_EOI   (1u << 24)
#define SVR_ENABLE         (1u << 8)
#define SVR_SUPPRESS_EOI_B (1u << 12)
#define LVT_MASKED         (1u << 16)

/* ICR low dword */
#define ICR_FIXED        0x000
#define ICR_INIT         0x500
#define ICR_STARTUP      0x600
#define ICR_BUSY         (1u << 12)
#define ICR_ASSERT       (1u << 14)
#define ICR_LEVEL        (1u << 15)
#define ICR_SELF         (1u << 18)
#define ICR_ALL_BUT_SELF (3u << 18)

#define MSR_APIC_BASE    0x1B
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_BASE_X2APIC (1u << 10)

bool cpu_has_x2apic(void); /* CPUID.1:ECX[21] */
/*
 * Per CPU: software-enable the LAPIC (SVR = enable | spurious vector), mask
 * LINT0/LINT1/timer/error, TPR 0. The BSP's call picks the mode for all CPUs:
 * x2APIC if the CPU has it, unless the command line says apic=xapic.
 */
void lapic_init(void);
bool lapic_x2apic(void);
uint32_t lapic_read(unsigned reg);
void lapic_write(unsigned reg, uint32_t v);
uint32_t lapic_id(void);
void lapic_eoi(void);
/* Sends an IPI: @icr is the low dword (vector, mode, shorthand), @dest an APIC ID. */
void lapic_send_ipi(uint32_t dest, uint32_t icr);
/* Is @vector's bit set in the 256-bit ISR/TMR/IRR bank at @base? */
bool lapic_vector_bit(unsigned base, unsigned vector);

#endif
