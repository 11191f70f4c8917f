/* SPDX-License-Identifier: MIT */
/* Edge-triggered entries: one interrupt per rising edge, no Remote IRR, no EOI exit. */
#include "common.h"
#include "table.h"

static void edge_record(struct conf *c, unsigned vector)
{
    c->var[0] = conf_lapic_bit(c, APIC_REG_TMR, vector);
    conf_lapic_eoi(c);
}

static void expect_edge(struct conf *c, unsigned n)
{
    conf_expect_stat(c, "irqs", n);
    conf_expect_stat(c, "eoi_exit", 0);
    conf_expect_stat(c, "eoir", 0);
}

/* One more rising edge on PIN_A, taken as interrupt number @n; "count" checks it. */
static void edge_again(struct conf *c, unsigned n)
{
    conf_line(c, PIN_A, false);
    conf_line(c, PIN_A, true);
    conf_wait_count(c, n, WAIT_MS);
    conf_line(c, PIN_A, false);
    conf_settle(c);
    obs_count(c, "count", n);
}

static void edge_basic(struct conf *c)
{
    conf_on_irq(c, VEC_A, edge_record);
    conf_route(c, PIN_A, VEC_A, 0, 0);
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 1, WAIT_MS);
    conf_obs_eq(c, "tmr.in_handler", c->var[0], 0);
    obs_rirr(c, "rirr.line_high", PIN_A, false);
    edge_again(c, 2);
    conf_obs_eq(c, "isr.after", conf_lapic_bit(c, APIC_REG_ISR, VEC_A), 0);
    expect_edge(c, 2);
}

static void edge_held_high(struct conf *c)
{
    conf_on_irq(c, VEC_A, h_eoi);
    conf_route(c, PIN_A, VEC_A, 0, 0);
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 1, WAIT_MS);
    /* Still high: writing "high" again is no edge, and the EOI redelivers nothing. */
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 2, QUIET_MS);
    conf_settle(c);
    obs_count(c, "count.held", 1);
    edge_again(c, 2);
    expect_edge(c, 2);
}

static void edge_masked_lost(struct conf *c)
{
    conf_on_irq(c, VEC_A, h_eoi);
    conf_route(c, PIN_A, VEC_A, RE_MASKED, 0);
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 1, QUIET_MS);
    obs_count(c, "count.masked", 0);
    conf_mask(c, PIN_A, false);
    conf_wait_count(c, 1, QUIET_MS);
    conf_settle(c);
    obs_count(c, "count.unmasked", 0);
    edge_again(c, 1);
    expect_edge(c, 1);
}

static void edge_coalesce(struct conf *c)
{
    conf_on_irq(c, VEC_A, h_eoi);
    conf_route(c, PIN_A, VEC_A, 0, 0);
    /* Two edges while interrupts are off: one IRR bit, one interrupt. */
    conf_line(c, PIN_A, true);
    conf_line(c, PIN_A, false);
    conf_line(c, PIN_A, true);
    conf_line(c, PIN_A, false);
    conf_obs_eq(c, "irr.before_sti", conf_lapic_bit(c, APIC_REG_IRR, VEC_A), 1);
    conf_wait_count(c, 1, WAIT_MS);
    conf_settle(c);
    obs_count(c, "count", 1);
    conf_expect_stat(c, "irqs", 2);
    conf_expect_stat(c, "eoi_exit", 0);
}

static void edge_again_in_service(struct conf *c, unsigned vector)
{
    /* A new edge while this one is in service: pending in IRR, taken after the EOI. */
    if (c->nirq == 1) {
        conf_line(c, PIN_A, false);
        conf_line(c, PIN_A, true);
        c->var[0] = conf_lapic_bit(c, APIC_REG_IRR, vector);
    }
    conf_lapic_eoi(c);
}

static void edge_in_service(struct conf *c)
{
    conf_on_irq(c, VEC_A, edge_again_in_service);
    conf_route(c, PIN_A, VEC_A, 0, 0);
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 2, WAIT_MS);
    conf_line(c, PIN_A, false);
    conf_settle(c);
    conf_obs_eq(c, "irr.in_handler", c->var[0], 1);
    obs_count(c, "count", 2);
    expect_edge(c, 2);
}

static void edge_priority(struct conf *c)
{
    conf_on_irq(c, VEC_B, h_eoi);
    conf_on_irq(c, VEC_C, h_eoi);
    conf_route(c, PIN_B, VEC_B, 0, 0);
    conf_route(c, PIN_C, VEC_C, 0, 0);
    /* Both pending before sti: the higher class (0x52) goes first. */
    conf_line(c, PIN_B, true);
    conf_line(c, PIN_C, true);
    conf_wait_count(c, 2, WAIT_MS);
    conf_line(c, PIN_B, false);
    conf_line(c, PIN_C, false);
    conf_settle(c);
    obs_count(c, "count", 2);
    conf_check(c, conf_logged(c, 0) >> 8 == VEC_C && conf_logged(c, 1) >> 8 == VEC_B, "order",
               "0x%x then 0x%x, expected 0x52 then 0x41", conf_logged(c, 0) >> 8,
               conf_logged(c, 1) >> 8);
    expect_edge(c, 2);
}

static void edge_tpr_blocks(struct conf *c)
{
    conf_on_irq(c, VEC_A, h_eoi);
    conf_route(c, PIN_A, VEC_A, 0, 0);
    /* TPR class 4 holds back vector 0x40 until it drops. */
    conf_lapic_write(c, APIC_REG_TPR, 0x40);
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 1, QUIET_MS);
    obs_count(c, "count.tpr", 0);
    conf_obs_eq(c, "irr.tpr", conf_lapic_bit(c, APIC_REG_IRR, VEC_A), 1);
    conf_lapic_write(c, APIC_REG_TPR, 0);
    conf_wait_count(c, 1, WAIT_MS);
    conf_line(c, PIN_A, false);
    conf_settle(c);
    obs_count(c, "count", 1);
    expect_edge(c, 1);
}

const struct conf_scenario conf_scenarios_edge[] = {
    {"edge_basic", "one interrupt per rising edge, TMR clear, no Remote IRR", edge_basic, CONF_V_X2,
     CONF_M_AUTO, 0, NULL},
    {"edge_held_high", "a line that stays high fires once", edge_held_high, CONF_V_X2, CONF_M_AUTO,
     0, NULL},
    {"edge_masked_lost", "an edge on a masked entry is lost, even after unmask", edge_masked_lost,
     CONF_V_X2, CONF_M_AUTO, 0, NULL},
    {"edge_coalesce", "two edges before the CPU takes the first are one interrupt", edge_coalesce,
     CONF_V_X2, CONF_M_AUTO, 0, NULL},
    {"edge_in_service", "a new edge during the handler is pending, then taken", edge_in_service,
     CONF_V_X2, CONF_M_AUTO, 0, NULL},
    {"edge_priority", "two pending edges are taken by priority class", edge_priority, CONF_V_X2,
     CONF_M_AUTO, 0, NULL},
    {"edge_tpr_blocks", "TPR holds back a pending interrupt until lowered", edge_tpr_blocks,
     CONF_V_X2, CONF_M_AUTO, 0, NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL},
};
