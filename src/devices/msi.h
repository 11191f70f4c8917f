/* SPDX-License-Identifier: MIT */
/*
 * MSI address/data encoding, as the IOAPIC produces it and KVM's GSI routes
 * consume it (Intel SDM vol. 3, 11.11).
 */
#ifndef LAPIS_MSI_H
#define LAPIS_MSI_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIS_MSI_ADDR_BASE 0xFEE00000u
#define LAPIS_MSI_ADDR_MASK 0xFFF00000u

/* Delivery modes, shared by IOAPIC entries, MSI data and the LAPIC ICR. */
enum lapis_delivery_mode {
    LAPIS_DM_FIXED = 0,
    LAPIS_DM_LOWEST = 1,
    LAPIS_DM_SMI = 2,
    LAPIS_DM_NMI = 4,
    LAPIS_DM_INIT = 5,
    LAPIS_DM_STARTUP = 6,
    LAPIS_DM_EXTINT = 7,
};

/* One interrupt message, decoded. */
struct lapis_msi {
    uint32_t dest;         /* APIC ID; only 8 bits fit in the address */
    bool dest_logical;     /* destination mode: 0 physical, 1 logical */
    bool redir_hint;       /* address bit 3 */
    uint8_t vector;        /* data bits 0-7 */
    uint8_t delivery_mode; /* data bits 8-10, enum lapis_delivery_mode */
    bool level_assert;     /* data bit 14 */
    bool level_triggered;  /* data bit 15: 1 = level; KVM sets the TMR from it */
};

/* Encodes an interrupt message. Destinations above 255 are truncated to 8 bits. */
void lapis_msi_encode(const struct lapis_msi *msg, uint64_t *address, uint32_t *data);

/*
 * Decodes an address/data pair. Returns 0, or -EINVAL if the address is not
 * in the 0xFEExxxxx interrupt window or the delivery mode is reserved (3).
 */
int lapis_msi_decode(uint64_t address, uint32_t data, struct lapis_msi *msg);

#endif
