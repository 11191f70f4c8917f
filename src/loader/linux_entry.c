/* SPDX-License-Identifier: MIT */
/* Long-mode entry for Linux: GDT, TSS, identity page tables and registers. */
#include "linux_entry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "fail.h"

#define PTE_P   (1ull << 0)
#define PTE_RW  (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A   (1ull << 5)
#define PTE_D   (1ull << 6)
#define PTE_PS  (1ull << 7)

#define GDT_ENTRIES 6u /* null, null, code64, data, TSS (two slots) */
#define TSS_LIMIT   0x67u

/* A flat 4 GiB code or data descriptor: @flags holds type, S, DPL, P, L, D/B, G. */
static uint64_t flat_desc(uint8_t access, uint8_t flags_hi)
{
    return 0xFFFFull | ((uint64_t)access << 40) | (0xFull << 48) | ((uint64_t)flags_hi << 52);
}

static struct lapis_segment flat_seg(uint16_t sel, uint8_t type, uint8_t l, uint8_t db)
{
    return (struct lapis_segment){.base = 0,
                                  .limit = 0xFFFFFFFFu,
                                  .selector = sel,
                                  .type = type,
                                  .present = 1,
                                  .dpl = 0,
                                  .db = db,
                                  .s = 1,
                                  .l = l,
                                  .g = 1,
                                  .unusable = 0};
}

int lapis_linux_entry_setup(const struct lapis_guest_ram *ram, uint64_t rip, uint64_t boot_params,
                            struct lapis_linux_entry *out, char *err, size_t errlen)
{
    if (!ram || !out)
        return fail(err, errlen, -EINVAL, "linux entry: missing RAM or output");

    uint8_t *gdt = lapis_ram_ptr(ram, LAPIS_LINUX_GDT_ADDR, GDT_ENTRIES * 8);
    uint8_t *tss = lapis_ram_ptr(ram, LAPIS_LINUX_TSS_ADDR, TSS_LIMIT + 1);
    uint8_t *pt = lapis_ram_ptr(ram, LAPIS_LINUX_PML4_ADDR, LAPIS_LINUX_PT_PAGES * 4096ull);
    uint8_t *stack = lapis_ram_ptr(ram, LAPIS_LINUX_STACK_TOP - 0xff0, 0x1000);
    if (!gdt || !tss || !pt || !stack)
        return fail(err, errlen, -ENOSPC,
                    "guest RAM does not cover the boot area at 0x%llx-0x%llx; give the guest more "
                    "memory",
                    (unsigned long long)LAPIS_LINUX_GDT_ADDR,
                    (unsigned long long)LAPIS_LINUX_BOOT_AREA_END);

    /* GDT: code64 (type 0xB, S, P; L, G) and data (type 3, S, P; D/B, G). */
    memset(gdt, 0, GDT_ENTRIES * 8);
    put_le64(gdt + LAPIS_LINUX_BOOT_CS, flat_desc(0x9B, 0xA));
    put_le64(gdt + LAPIS_LINUX_BOOT_DS, flat_desc(0x93, 0xC));
    /* 64-bit TSS descriptor, busy (type 0xB), 16 bytes. */
    uint64_t tb = LAPIS_LINUX_TSS_ADDR;
    uint64_t tlo = (TSS_LIMIT & 0xFFFFull) | ((tb & 0xFFFFFFull) << 16) | (0x8Bull << 40) |
                   ((uint64_t)((TSS_LIMIT >> 16) & 0xF) << 48) | (((tb >> 24) & 0xFFull) << 56);
    put_le64(gdt + LAPIS_LINUX_BOOT_TR, tlo);
    put_le64(gdt + LAPIS_LINUX_BOOT_TR + 8, tb >> 32);
    memset(tss, 0, TSS_LIMIT + 1);
    /* I/O map base past the limit: no I/O permission bitmap. */
    tss[0x66] = TSS_LIMIT + 1;

    /* PML4 -> PDPT -> 4 page directories of 2 MiB pages: identity 0 .. 4 GiB. */
    memset(pt, 0, LAPIS_LINUX_PT_PAGES * 4096ull);
    uint64_t pml4 = LAPIS_LINUX_PML4_ADDR, pdpt = pml4 + 0x1000, pd = pml4 + 0x2000;
    put_le64(pt, pdpt | PTE_P | PTE_RW | PTE_A);
    for (uint64_t i = 0; i < 4; i++) {
        put_le64(pt + 0x1000 + 8 * i, (pd + 0x1000 * i) | PTE_P | PTE_RW | PTE_A);
        for (uint64_t j = 0; j < 512; j++) {
            uint64_t pa = (i << 30) | (j << 21);
            uint64_t e = pa | PTE_P | PTE_RW | PTE_A | PTE_D | PTE_PS;
            if (i == 3) /* 3-4 GiB: the MMIO hole (IOAPIC, LAPIC) */
                e |= PTE_PCD | PTE_PWT;
            put_le64(pt + 0x2000 + 0x1000 * i + 8 * j, e);
        }
    }

    memset(out, 0, sizeof(*out));
    out->regs.mode = LAPIS_CPU_LONG64;
    out->regs.rip = rip;
    out->regs.rsi = boot_params;
    out->regs.rsp = LAPIS_LINUX_STACK_TOP;

    struct lapis_long_mode_setup *s = &out->sys;
    s->cr0 = LAPIS_CR0_PE | LAPIS_CR0_ET | LAPIS_CR0_NE | LAPIS_CR0_PG;
    s->cr3 = pml4;
    s->cr4 = LAPIS_CR4_PAE;
    s->efer = LAPIS_EFER_LME | LAPIS_EFER_LMA;
    s->gdt_base = LAPIS_LINUX_GDT_ADDR;
    s->gdt_limit = GDT_ENTRIES * 8 - 1;
    s->idt_base = 0;
    s->idt_limit = 0;
    s->rflags = LAPIS_RFLAGS_RSVD;
    s->cs = flat_seg(LAPIS_LINUX_BOOT_CS, 0xB, 1, 0);
    s->ds = flat_seg(LAPIS_LINUX_BOOT_DS, 0x3, 0, 1);
    s->es = s->ds;
    s->fs = s->ds;
    s->gs = s->ds;
    s->ss = s->ds;
    s->tr = (struct lapis_segment){.base = LAPIS_LINUX_TSS_ADDR,
                                   .limit = TSS_LIMIT,
                                   .selector = LAPIS_LINUX_BOOT_TR,
                                   .type = 0xB,
                                   .present = 1};
    s->ldt = (struct lapis_segment){.type = 0x2, .present = 1, .unusable = 1};
    return 0;
}
