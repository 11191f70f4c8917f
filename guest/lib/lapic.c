/* SPDX-License-Identifier: MIT */
#include "lapic.h"

#include "cmdline.h"
#include "idt.h"
#include "io.h"
#include "string.h"

static bool x2apic;
static uintptr_t xapic_base = 0xFEE00000;

bool cpu_has_x2apic(void)
{
    return cpuid(1, 0).ecx & (1u << 21);
}

bool lapic_x2apic(void)
{
    return x2apic;
}

uint32_t lapic_read(unsigned reg)
{
    if (x2apic)
        return (uint32_t)rdmsr(0x800 + (reg >> 4));
    return mmio_read32(xapic_base + reg);
}

void lapic_write(unsigned reg, uint32_t v)
{
    if (x2apic)
        wrmsr(0x800 + (reg >> 4), v);
    else
        mmio_write32(xapic_base + reg, v);
}

uint32_t lapic_id(void)
{
    uint32_t id = lapic_read(APIC_ID);
    return x2apic ? id : id >> 24;
}

void lapic_eoi(void)
{
    lapic_write(APIC_EOI, 0);
}

void lapic_send_ipi(uint32_t dest, uint32_t icr)
{
    if (x2apic) {
        wrmsr(0x830, ((uint64_t)dest << 32) | icr);
        return;
    }
    while (lapic_read(APIC_ICR) & ICR_BUSY)
        cpu_relax();
    lapic_write(APIC_ICR2, dest << 24);
    lapic_write(APIC_ICR, icr);
}

bool lapic_vector_bit(unsigned base, unsigned vector)
{
    return lapic_read(base + 0x10 * (vector / 32)) & (1u << (vector % 32));
}

static bool bsp_done;

void lapic_init(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (!bsp_done) {
        bsp_done = true;
        char mode[8];
        bool want_xapic = cmdline_get("apic", mode, sizeof(mode)) && !strcmp(mode, "xapic");
        x2apic = (base & APIC_BASE_X2APIC) || (cpu_has_x2apic() && !want_xapic);
        xapic_base = base & ~0xFFFull;
    }
    if (x2apic && !(base & APIC_BASE_X2APIC))
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
    else if (!(base & APIC_BASE_ENABLE))
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
    lapic_write(APIC_SVR, SVR_ENABLE | SPURIOUS_VECTOR);
    lapic_write(APIC_TPR, 0);
    lapic_write(APIC_LVTT, LVT_MASKED);
    lapic_write(APIC_LINT0, LVT_MASKED); /* no 8259 ExtINT (firmware may have set it up) */
    lapic_write(APIC_LINT1, LVT_MASKED);
    lapic_write(APIC_LVTE, LVT_MASKED);
}
