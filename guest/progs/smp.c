/* SPDX-License-Identifier: MIT */
/*
 * SMP bring-up: read the CPU count from fw_cfg, start each AP with
 * INIT-SIPI-SIPI (APIC IDs assumed 0..n-1, as QEMU and lapis number them),
 * check that each reports its own APIC ID, then send every AP a fixed IPI
 * and check that exactly that AP took it.
 */
#include "guest.h"

#define IPI_VECTOR 0x50
#define START_MS   2000
#define IPI_MS     1000

static volatile unsigned ipis[MAX_CPUS];
static volatile bool ran[MAX_CPUS];
static volatile bool ap_x2apic[MAX_CPUS];
static uint8_t cpu_of_apic[256];

static void ipi_handler(struct irq_frame *f)
{
    (void)f;
    uint32_t id = lapic_id();
    if (id < 256)
        ipis[cpu_of_apic[id]]++;
    lapic_eoi();
}

static void ap_main(unsigned cpu)
{
    ap_x2apic[cpu] = lapic_x2apic();
    ran[cpu] = true;
}

int main(void)
{
    idt_set_handler(IPI_VECTOR, ipi_handler);
    if (!fwcfg_present())
        bail("no fw_cfg at 0x510: cannot learn the CPU count");
    unsigned n = fwcfg_cpu_count();
    ok(n >= 1, "fw_cfg reports %u CPU(s)", n);
    if (n > MAX_CPUS) {
        diag("only the first %u CPUs are started", MAX_CPUS);
        n = MAX_CPUS;
    }
    uint32_t bsp = lapic_id();
    diag("BSP has APIC ID %u, LAPIC in %s mode", bsp, lapic_x2apic() ? "x2APIC" : "xAPIC");
    memset(cpu_of_apic, 0, sizeof(cpu_of_apic));

    uint32_t apic_of[MAX_CPUS];
    unsigned cpus = 1;
    apic_of[0] = bsp;
    for (uint32_t id = 0; cpus < n && id < 256; id++) {
        if (id == bsp)
            continue;
        unsigned cpu = cpus++;
        apic_of[cpu] = id;
        cpu_of_apic[id] = (uint8_t)cpu;
        bool up = smp_start_ap(id, cpu, ap_main, START_MS);
        uint64_t end = deadline_ms(START_MS);
        while (up && !ran[cpu] && !expired(end))
            cpu_relax();
        ok(up && ran[cpu] && smp_apic_id(cpu) == id,
           "AP %u started with INIT-SIPI-SIPI and reports APIC ID %u (expected %u)%s", cpu,
           smp_apic_id(cpu), id, up && ap_x2apic[cpu] != lapic_x2apic() ? ", wrong APIC mode" : "");
    }

    irq_enable();
    for (unsigned cpu = 1; cpu < cpus; cpu++) {
        if (!ran[cpu]) {
            skip("IPI to AP %u: it never started", cpu);
            continue;
        }
        lapic_send_ipi(apic_of[cpu], ICR_FIXED | IPI_VECTOR);
        uint64_t end = deadline_ms(IPI_MS);
        while (!ipis[cpu] && !expired(end))
            cpu_relax();
        ok(ipis[cpu] == 1, "IPI vector 0x%x to APIC ID %u taken by AP %u (%u time(s))", IPI_VECTOR,
           apic_of[cpu], cpu, ipis[cpu]);
    }
    irq_disable();
    ok(ipis[0] == 0, "the BSP took none of the IPIs");
    unsigned up = 0;
    for (unsigned cpu = 1; cpu < cpus; cpu++)
        up += ran[cpu];
    printf("smp: %u CPU(s) per fw_cfg, %u AP(s) started, IPIs checked\n", n, up);
    return 0;
}
