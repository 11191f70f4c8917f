/* SPDX-License-Identifier: MIT */
/*
 * Two CPUs: physical and logical destinations, an EOI from the CPU that took
 * the interrupt (and one from the CPU that did not), an entry moved to another
 * CPU while in service, and EOI-then-hlt on the AP (eoi.md §7).
 * CPU 1 idles in "sti; hlt" and takes its interrupts on its own.
 */
#include "common.h"
#include "table.h"

#define SMP_VARIANTS (CONF_V_20X2 | CONF_V_11X2 | CONF_V_20XA)
#define SMP_MODES    (CONF_M_AUTO | CONF_M_QUIRK)

static bool logged_on(struct conf *c, unsigned i, unsigned cpu)
{
    unsigned l = conf_logged(c, i);
    return l != ~0u && (l & 0xFF) == cpu;
}

/*
 * PIN_A level to @dest (with @flags), which names CPU 1. CPU 1 takes it at
 * once: its first EOI finds the line high, the second lowers it.
 */
static void level_on_cpu1(struct conf *c, uint64_t flags, unsigned dest)
{
    c->var[V_HIGH] = 1;
    conf_on_irq(c, VEC_A, h_eoi_n_high);
    conf_route(c, PIN_A, VEC_A, RE_LEVEL | flags, dest);
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 2, WAIT_MS);
    conf_settle(c);
    obs_count(c, "count", 2);
    conf_check(c, logged_on(c, 0, 1) && logged_on(c, 1, 1), "cpu", "taken on CPU %u, expected 1",
               conf_logged(c, 0) & 0xFF);
    obs_rirr(c, "rirr.after", PIN_A, false);
    expect_plain_level(c, 2);
}

static void smp_physical(struct conf *c)
{
    level_on_cpu1(c, 0, 1);
}

static void set_flat_ldr(struct conf *c)
{
    /* xAPIC: flat model, one bit per CPU. x2APIC: LDR is read-only, cluster 0 bit = ID. */
    if (!c->x2apic)
        conf_lapic_write(c, APIC_REG_LDR, 1u << (24 + hw_cpu(c)));
}

static uint32_t logical_id(struct conf *c, uint32_t ldr)
{
    return c->x2apic ? ldr : ldr >> 24;
}

static void read_ldr1(struct conf *c)
{
    c->var[1] = conf_lapic_read(c, APIC_REG_LDR);
}

static void setup_logical(struct conf *c)
{
    set_flat_ldr(c);
    hw_on_cpu(c, 1, set_flat_ldr);
    hw_on_cpu(c, 1, read_ldr1);
    conf_obs_eq(c, "ldr.cpu0", logical_id(c, conf_lapic_read(c, APIC_REG_LDR)), 0x1);
    conf_obs_eq(c, "ldr.cpu1", logical_id(c, (uint32_t)c->var[1]), 0x2);
}

static void smp_logical(struct conf *c)
{
    setup_logical(c);
    level_on_cpu1(c, RE_LOGICAL, 0x2);
}

static void smp_multicast_edge(struct conf *c)
{
    setup_logical(c);
    conf_on_irq(c, VEC_A, h_eoi);
    conf_route(c, PIN_A, VEC_A, RE_LOGICAL, 0x3); /* both CPUs */
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 2, WAIT_MS);
    conf_line(c, PIN_A, false);
    conf_settle(c);
    obs_count(c, "count", 2);
    conf_expect_stat(c, "irqs", 1);
    conf_expect_stat(c, "eoi_exit", 0);
}

static void ap_lower_eoi(struct conf *c)
{
    conf_line(c, PIN_A, false); /* CPU 1 holds it in service: nothing can race */
    conf_lapic_eoi(c);
}

static void smp_eoi_wrong_cpu(struct conf *c)
{
    conf_on_irq(c, VEC_A, h_none);
    conf_route(c, PIN_A, VEC_A, RE_LEVEL, 1);
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 1, WAIT_MS);
    /* CPU 0 has nothing in service: its EOI reaches no IOAPIC. */
    conf_lapic_eoi(c);
    conf_settle(c);
    obs_rirr(c, "rirr.after_cpu0_eoi", PIN_A, true);
    conf_check(c, hw_on_cpu(c, 1, ap_lower_eoi), "ap_call", "CPU 1 ran the EOI");
    conf_settle(c);
    obs_rirr(c, "rirr.after_cpu1_eoi", PIN_A, false);
    obs_count(c, "count", 1);
    expect_plain_level(c, 1);
}

static void hold_on_cpu1(struct conf *c, unsigned vector)
{
    if (hw_cpu(c) == 1)
        return; /* left in service until CPU 0 says so */
    conf_lapic_eoi(c);
    conf_sync(c);
    conf_line(c, pin_of(vector), false);
}

static void ap_eoi(struct conf *c)
{
    conf_lapic_eoi(c);
}

static void smp_retarget_in_service(struct conf *c)
{
    conf_on_irq(c, VEC_A, hold_on_cpu1);
    conf_route(c, PIN_A, VEC_A, RE_LEVEL, 1);
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 1, WAIT_MS);
    /* Move the entry to CPU 0 while CPU 1 has it in service and the line is high. */
    conf_ioapic_write(c, IOAPIC_R_REDIR(PIN_A) + 1, 0);
    obs_rirr(c, "rirr.after_retarget", PIN_A, true);
    /* CPU 1's EOI still reaches the IOAPIC, which redelivers to CPU 0. */
    conf_check(c, hw_on_cpu(c, 1, ap_eoi), "ap_call", "CPU 1 ran the EOI");
    conf_wait_count(c, 3, WAIT_MS);
    conf_settle(c);
    obs_count(c, "count", 3);
    conf_check(c, logged_on(c, 0, 1) && logged_on(c, 1, 0), "cpus",
               "taken on CPU %u then %u, expected 1 then 0", conf_logged(c, 0) & 0xFF,
               conf_logged(c, 1) & 0xFF);
    obs_rirr(c, "rirr.after", PIN_A, false);
    expect_plain_level(c, 3);
}

static void smp_eoi_hlt_ap(struct conf *c)
{
    /* CPU 1 EOIs with the line high and goes back to "sti; hlt" (§7). */
    c->var[V_HIGH] = 2;
    conf_on_irq(c, VEC_A, h_eoi_n_high);
    conf_route(c, PIN_A, VEC_A, RE_LEVEL, 1);
    conf_line(c, PIN_A, true);
    level_done(c, 3);
    expect_plain_level(c, 3);
}

const struct conf_scenario conf_scenarios_smp[] = {
    {"smp_physical", "level to APIC ID 1 (physical): taken and EOIed there", smp_physical,
     SMP_VARIANTS, SMP_MODES, CONF_F_SMP, NULL},
    {"smp_logical", "level to logical destination 0x2: CPU 1", smp_logical, SMP_VARIANTS, SMP_MODES,
     CONF_F_SMP, NULL},
    {"smp_multicast_edge", "edge to logical 0x3: both CPUs take it", smp_multicast_edge,
     SMP_VARIANTS, SMP_MODES, CONF_F_SMP, NULL},
    {"smp_eoi_wrong_cpu", "an EOI from the CPU without it in service clears nothing",
     smp_eoi_wrong_cpu, SMP_VARIANTS, SMP_MODES, CONF_F_SMP | CONF_F_NEEDS_ISR, NULL},
    {"smp_retarget_in_service", "entry moved to CPU 0 while CPU 1 has it: CPU 1's EOI counts",
     smp_retarget_in_service, SMP_VARIANTS, SMP_MODES, CONF_F_SMP | CONF_F_NEEDS_ISR, NULL},
    {"smp_eoi_hlt_ap", "the AP EOIs with the line high and halts: redelivered (§7)", smp_eoi_hlt_ap,
     SMP_VARIANTS, SMP_MODES, CONF_F_SMP, NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL},
};
