/* SPDX-License-Identifier: MIT */
#include "smp.h"

#include "idt.h"
#include "io.h"
#include "lapic.h"
#include "string.h"

extern char trampoline_start[], trampoline_end[];

/* Read by the trampoline (boot/trampoline.S) and ap_entry64. */
uint64_t ap_boot_stack;
static volatile unsigned ap_boot_cpu;
static ap_fn_t volatile ap_boot_fn;
static volatile uint32_t checked_in[MAX_CPUS];
static volatile bool ap_up;

static uint8_t ap_stacks[MAX_CPUS][AP_STACK_SIZE] __attribute__((aligned(16)));

_Noreturn void ap_entry64(void);
_Noreturn void ap_entry64(void)
{
    unsigned cpu = ap_boot_cpu;
    ap_fn_t fn = ap_boot_fn;
    idt_load();
    lapic_init();
    checked_in[cpu] = lapic_id();
    __atomic_store_n(&ap_up, true, __ATOMIC_RELEASE);
    if (fn)
        fn(cpu);
    for (;;)
        safe_halt();
}

uint32_t smp_apic_id(unsigned cpu)
{
    return cpu < MAX_CPUS ? checked_in[cpu] : ~0u;
}

bool smp_start_ap(uint32_t apic_id, unsigned cpu, ap_fn_t fn, unsigned timeout_ms)
{
    if (cpu == 0 || cpu >= MAX_CPUS)
        return false;
    memcpy((void *)TRAMPOLINE_BASE, trampoline_start, (size_t)(trampoline_end - trampoline_start));
    checked_in[cpu] = ~0u;
    ap_boot_cpu = cpu;
    ap_boot_fn = fn;
    /* As if a return address had been pushed: the ABI's alignment at entry. */
    ap_boot_stack = (uintptr_t)&ap_stacks[cpu][AP_STACK_SIZE] - 8;
    __atomic_store_n(&ap_up, false, __ATOMIC_RELEASE);

    lapic_send_ipi(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
    if (!lapic_x2apic())
        lapic_send_ipi(apic_id, ICR_INIT | ICR_LEVEL); /* de-assert (xAPIC only) */
    for (int sipi = 0; sipi < 2; sipi++) {
        lapic_send_ipi(apic_id, ICR_STARTUP | (TRAMPOLINE_BASE >> 12));
        uint64_t end = deadline_ms(sipi ? timeout_ms : timeout_ms / 10 + 1);
        while (!__atomic_load_n(&ap_up, __ATOMIC_ACQUIRE) && !expired(end))
            cpu_relax();
        if (ap_up)
            return true;
    }
    return false;
}
