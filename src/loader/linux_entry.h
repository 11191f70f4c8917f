/* SPDX-License-Identifier: MIT */
/*
 * The 64-bit entry state the Linux x86 boot protocol asks for, built in guest
 * RAM: identity page tables over the first 4 GiB, a GDT with __BOOT_CS (0x10)
 * and __BOOT_DS (0x18), a TSS for the backend's TR, and the registers
 * (long mode, paging on, interrupts off, rsi = boot_params).
 *
 * boot_state.h has no long-mode mode or system registers yet, so the mode
 * value and the system state live here (see LAPIS_CPU_LONG64 below).
 */
#ifndef LAPIS_LINUX_ENTRY_H
#define LAPIS_LINUX_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "boot_state.h"
#include "guest_ram.h"

/*
 * 64-bit long mode, paging on. Defined after boot_state.h so it also works
 * (same value) once the enum there gains LAPIS_CPU_LONG64 = 2.
 */
#define LAPIS_CPU_LONG64 ((enum lapis_cpu_mode)2)

/*
 * Low-memory boot area, all below the 0x9FC00 EBDA and marked RAM in e820:
 * the kernel copies boot_params and the command line, and installs its own
 * GDT and page tables, before it allocates any memory (and Linux >= 5.13
 * reserves the first 1 MiB anyway).
 */
#define LAPIS_LINUX_GDT_ADDR     0x1000ull /* GDT: 6 entries */
#define LAPIS_LINUX_TSS_ADDR     0x1100ull /* 104-byte 64-bit TSS */
#define LAPIS_LINUX_BOOT_PARAMS  0x7000ull /* zero page, 4 KiB */
#define LAPIS_LINUX_STACK_TOP    0x8ff0ull /* a small stack in 0x8000-0x8fff */
#define LAPIS_LINUX_PML4_ADDR    0x9000ull /* PML4, PDPT, then 4 page directories */
#define LAPIS_LINUX_PT_PAGES     6u
#define LAPIS_LINUX_CMDLINE_ADDR 0x20000ull /* command line, up to 64 KiB */
#define LAPIS_LINUX_CMDLINE_MAX  0x10000ull
/* Everything above lies below this; kernels load at 1 MiB or higher. */
#define LAPIS_LINUX_BOOT_AREA_END 0x30000ull

/* Selectors: the boot protocol's __BOOT_CS / __BOOT_DS, and our TSS. */
#define LAPIS_LINUX_BOOT_CS 0x10u
#define LAPIS_LINUX_BOOT_DS 0x18u
#define LAPIS_LINUX_BOOT_TR 0x20u

/* Control register bits used. */
#define LAPIS_CR0_PE      (1ull << 0)
#define LAPIS_CR0_ET      (1ull << 4)
#define LAPIS_CR0_NE      (1ull << 5)
#define LAPIS_CR0_PG      (1ull << 31)
#define LAPIS_CR4_PAE     (1ull << 5)
#define LAPIS_EFER_LME    (1ull << 8)
#define LAPIS_EFER_LMA    (1ull << 10)
#define LAPIS_RFLAGS_RSVD (1ull << 1)

/* One segment register as a backend loads it (kvm_segment-like, no KVM types). */
struct lapis_segment {
    uint64_t base;
    uint32_t limit; /* in bytes, after granularity (0xffffffff for flat) */
    uint16_t selector;
    uint8_t type; /* 4-bit descriptor type */
    uint8_t present, dpl, db, s, l, g;
    uint8_t unusable; /* for LDT: no LDT */
};

/* The system half of the entry state, which boot_state.h does not carry. */
struct lapis_long_mode_setup {
    uint64_t cr0, cr3, cr4, efer;
    uint64_t gdt_base;
    uint16_t gdt_limit;
    uint64_t idt_base; /* no IDT: limit 0, the kernel runs with IF clear */
    uint16_t idt_limit;
    uint64_t rflags;
    struct lapis_segment cs, ds, es, fs, gs, ss, tr, ldt;
};

/* Everything the backend needs to start the boot vCPU. */
struct lapis_linux_entry {
    struct lapis_boot_state regs; /* mode LAPIS_CPU_LONG64; rip, rsp, rsi set */
    struct lapis_long_mode_setup sys;
};

/*
 * Writes the GDT, TSS and identity page tables (2 MiB pages, 0 .. 4 GiB; the
 * top GiB, the MMIO hole, uncached) into the low boot area of @ram, and fills
 * @out for entry at @rip with rsi = @boot_params. Returns 0, or -ENOSPC if
 * the boot area is not RAM (message in @err, may be NULL).
 */
int lapis_linux_entry_setup(const struct lapis_guest_ram *ram, uint64_t rip, uint64_t boot_params,
                            struct lapis_linux_entry *out, char *err, size_t errlen);

#endif
