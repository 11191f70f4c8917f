/* SPDX-License-Identifier: MIT */
/*
 * Guest physical memory as the loaders and devices see it: up to two host
 * mappings, RAM below the 32-bit MMIO hole and RAM above 4 GiB. Every access
 * goes through lapis_ram_ptr(), which checks the whole range, so a guest- or
 * file-supplied address can never reach outside the mapping.
 */
#ifndef LAPIS_GUEST_RAM_H
#define LAPIS_GUEST_RAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RAM above this goes to 4 GiB, leaving room for the IOAPIC, LAPIC and PCI holes. */
#define LAPIS_RAM_LOW_MAX   0xC0000000ull
#define LAPIS_RAM_HIGH_BASE 0x100000000ull

struct lapis_guest_ram {
    uint8_t *low; /* guest physical 0 .. low_size */
    uint64_t low_size;
    uint8_t *high; /* guest physical 4 GiB .. 4 GiB + high_size */
    uint64_t high_size;
};

/* Total RAM in bytes. */
static inline uint64_t lapis_ram_total(const struct lapis_guest_ram *ram)
{
    return ram->low_size + ram->high_size;
}

/* Host pointer for [gpa, gpa + len), or NULL if any byte of it is not RAM. */
static inline void *lapis_ram_ptr(const struct lapis_guest_ram *ram, uint64_t gpa, uint64_t len)
{
    if (gpa + len < gpa)
        return NULL;
    if (ram->low && gpa + len <= ram->low_size)
        return ram->low + gpa;
    if (ram->high && gpa >= LAPIS_RAM_HIGH_BASE &&
        gpa + len - LAPIS_RAM_HIGH_BASE <= ram->high_size)
        return ram->high + (gpa - LAPIS_RAM_HIGH_BASE);
    return NULL;
}

#endif
