/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables for a Linux guest: RSDP, XSDT and RSDT, FADT (+ FACS), MADT
 * and a small DSDT. They tell the guest about its CPUs (local APIC or
 * x2APIC entries), the IOAPIC (ID, address, GSI base), the ISA interrupt
 * overrides (IRQ0 -> GSI 2 when there is a PIT, the SCI), which legacy
 * devices exist, where PM1a control is (port 0x604: SLP_EN there is
 * power-off) and how to reset (0xFE to the i8042 command port).
 *
 * ACPI rather than an MP table: only ACPI carries S5 power-off, the reset
 * register, "no 8042"/"no VGA" boot flags and x2APIC IDs >= 255.
 *
 * Pure C: bytes out into guest RAM through lapis_ram_ptr(), every size checked.
 */
#ifndef LAPIS_ACPI_H
#define LAPIS_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_ram.h"

/* The BIOS area Linux scans for the RSDP (16-byte steps); e820 marks it reserved. */
#define LAPIS_ACPI_DEFAULT_BASE 0xE0000ull
#define LAPIS_ACPI_DEFAULT_SIZE 0x20000ull
#define LAPIS_ACPI_MAX_CPUS     1024u

/* Port I/O the tables point at (the VMM must answer these). */
#define LAPIS_ACPI_PM_BASE      0x600u /* PM1a_EVT: status 0x600, enable 0x602 */
#define LAPIS_ACPI_PM1A_CNT     0x604u /* 16-bit; SLP_EN (bit 13) = power off */
#define LAPIS_ACPI_SCI_IRQ      9u
#define LAPIS_ACPI_RESET_PORT   0x64u /* i8042 command port */
#define LAPIS_ACPI_RESET_VALUE  0xFEu /* pulse the reset line */
#define LAPIS_ACPI_CMOS_CENTURY 0x32u /* CMOS index of the century byte */

#define LAPIS_ACPI_LAPIC_ADDR  0xFEE00000u
#define LAPIS_ACPI_IOAPIC_ADDR 0xFEC00000u

/* IAPC_BOOT_ARCH flags (FADT offset 109) */
#define LAPIS_ACPI_BOOT_LEGACY_DEVICES (1u << 0)
#define LAPIS_ACPI_BOOT_8042           (1u << 1)
#define LAPIS_ACPI_BOOT_NO_VGA         (1u << 2)
#define LAPIS_ACPI_BOOT_NO_CMOS_RTC    (1u << 5)

/* FADT flags used (offset 112) */
#define LAPIS_ACPI_FADT_WBINVD     (1u << 0)
#define LAPIS_ACPI_FADT_C1         (1u << 2)
#define LAPIS_ACPI_FADT_PWR_BUTTON (1u << 4) /* set: no fixed power button */
#define LAPIS_ACPI_FADT_SLP_BUTTON (1u << 5) /* set: no fixed sleep button */
#define LAPIS_ACPI_FADT_RESET_REG  (1u << 10)
#define LAPIS_ACPI_FADT_HW_REDUCED (1u << 20)

/* MADT */
#define LAPIS_MADT_PCAT_COMPAT    (1u << 0)
#define LAPIS_MADT_LAPIC          0u
#define LAPIS_MADT_IOAPIC         1u
#define LAPIS_MADT_ISO            2u
#define LAPIS_MADT_LAPIC_NMI      4u
#define LAPIS_MADT_X2APIC         9u
#define LAPIS_MADT_X2APIC_NMI     10u
#define LAPIS_MADT_ISO_LEVEL_HIGH 0x000Du /* active high, level */

struct lapis_acpi_config {
    uint64_t base; /* where the tables go; LAPIS_ACPI_DEFAULT_BASE */
    uint64_t size; /* room there */
    unsigned ncpus;
    const uint32_t *apic_ids; /* NULL: 0 .. ncpus-1 */
    uint8_t ioapic_id;
    uint32_t ioapic_addr; /* 0: LAPIS_ACPI_IOAPIC_ADDR */
    uint32_t ioapic_gsi_base;
    bool pit;   /* an 8254: ISA IRQ0 -> GSI 2 override */
    bool pic;   /* dual 8259s (masked): MADT PCAT_COMPAT */
    bool i8042; /* tell the OS to probe the 8042 (lapis has no devices behind it) */
    bool rtc;   /* a CMOS RTC at 0x70 */
    bool com1;  /* describe the 16550 at 0x3F8, IRQ 4, in the DSDT */
};

/* Guest physical address of each table. */
struct lapis_acpi_tables {
    uint64_t rsdp, facs, dsdt, fadt, madt, xsdt, rsdt;
    uint64_t end; /* first byte after the last table */
};

/* The configuration lapis uses: tables at 0xE0000, PIT, PIC, RTC, COM1, i8042 not probed. */
void lapis_acpi_default_config(struct lapis_acpi_config *cfg, unsigned ncpus);

/*
 * Writes the tables into guest RAM at cfg->base. Returns 0, -EINVAL (no CPUs,
 * too many, a duplicate or 0xFFFFFFFF APIC ID) or -ENOSPC (the tables do not
 * fit in cfg->size, or that range is not RAM), with a message in @err.
 */
int lapis_acpi_build(const struct lapis_guest_ram *ram, const struct lapis_acpi_config *cfg,
                     struct lapis_acpi_tables *out, char *err, size_t errlen);

/* Sum of @len bytes, mod 256: 0 for a valid table. */
uint8_t lapis_acpi_sum(const uint8_t *p, size_t len);

#endif
