/* SPDX-License-Identifier: MIT */
/*
 * Level-triggered entries: Remote IRR, redelivery while the line stays high,
 * masking, the fake EOI, EOIR, TMR, EOI-then-hlt (eoi.md §7), reconfiguring
 * from the handler, and the storm throttle.
 */
#include "common.h"
#include "table.h"

static void level_record(struct conf *c, unsigned vector)
{
    c->var[0] = conf_lapic_bit(c, APIC_REG_TMR, vector);
    c->var[2] = conf_lapic_bit(c, APIC_REG_IRR, vector);
    conf_lapic_eoi(c);
}

static void level_basic(struct conf *c)
{
    level_pend(c, PIN_A, VEC_A, level_record);
    obs_rirr(c, "rirr.sent", PIN_A, true);
    conf_obs_eq(c, "irr.sent", conf_lapic_bit(c, APIC_REG_IRR, VEC_A), 1);
    conf_line(c, PIN_A, false);
    obs_rirr(c, "rirr.line_low", PIN_A, true);
    conf_wait_count(c, 1, WAIT_MS);
    conf_settle(c);
    conf_obs_eq(c, "tmr.in_handler", c->var[0], 1);
    conf_obs_eq(c, "irr.in_handler", c->var[2], 0);
    conf_obs_eq(c, "isr.after", conf_lapic_bit(c, APIC_REG_ISR, VEC_A), 0);
    obs_rirr(c, "rirr.after", PIN_A, false);
    obs_count(c, "count", 1);
    expect_plain_level(c, 1);
}

static void isr_record(struct conf *c, unsigned vector)
{
    c->var[0] = conf_lapic_bit(c, APIC_REG_ISR, vector);
    c->var[1] = conf_lapic_read(c, APIC_REG_PPR) & 0xFF;
}

static void lapic_isr_in_service(struct conf *c)
{
    /* Taken and not EOIed: in service (ISR, PPR) until the EOI, Remote IRR held. */
    conf_on_irq(c, VEC_A, isr_record);
    conf_route(c, PIN_A, VEC_A, RE_LEVEL, 0);
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 1, WAIT_MS);
    conf_obs_eq(c, "isr.in_handler", c->var[0], 1);
    conf_obs_eq(c, "ppr.in_handler", c->var[1], VEC_A & 0xF0);
    conf_obs_eq(c, "isr.after_handler", conf_lapic_bit(c, APIC_REG_ISR, VEC_A), 1);
    obs_rirr(c, "rirr.in_service", PIN_A, true);
    conf_line(c, PIN_A, false);
    conf_lapic_eoi(c);
    conf_settle(c);
    conf_obs_eq(c, "isr.after_eoi", conf_lapic_bit(c, APIC_REG_ISR, VEC_A), 0);
    obs_rirr(c, "rirr.after", PIN_A, false);
    obs_count(c, "count", 1);
    expect_plain_level(c, 1);
}

static void level_redeliver_high(struct conf *c)
{
    /* EOI with the line high: delivered again, three times; the third lowers it. */
    c->var[V_HIGH] = 3;
    level_fire(c, PIN_A, VEC_A, h_eoi_n_high);
    level_done(c, 4);
    expect_plain_level(c, 4);
}

static void level_lowered_before_eoi(struct conf *c)
{
    /* Sent, then lowered before the CPU takes it: its EOI sends nothing more. */
    level_pend(c, PIN_A, VEC_A, h_eoi);
    conf_line(c, PIN_A, false);
    level_done(c, 1);
    expect_plain_level(c, 1);
}

static void level_eoi_outside_handler(struct conf *c)
{
    /* The handler leaves it in service; main lowers the line, then EOIs. */
    level_fire(c, PIN_A, VEC_A, h_none);
    obs_rirr(c, "rirr.in_service", PIN_A, true);
    conf_line(c, PIN_A, false);
    obs_rirr(c, "rirr.line_low", PIN_A, true);
    conf_lapic_eoi(c);
    conf_settle(c);
    obs_rirr(c, "rirr.after", PIN_A, false);
    obs_count(c, "count", 1);
    expect_plain_level(c, 1);
}

static void level_coalesce(struct conf *c)
{
    level_pend(c, PIN_A, VEC_A, h_eoi_n_high);
    /* Toggling the line while Remote IRR is set sends nothing more. */
    for (unsigned i = 0; i < 3; i++) {
        conf_line(c, PIN_A, false);
        conf_line(c, PIN_A, true);
    }
    obs_rirr(c, "rirr.after_toggles", PIN_A, true);
    /* Taken once; its EOI finds the line high: one more. */
    c->var[V_HIGH] = 1;
    level_done(c, 2);
    expect_plain_level(c, 2);
}

static void level_mask_high_unmask(struct conf *c)
{
    conf_on_irq(c, VEC_A, h_lower_eoi);
    conf_route(c, PIN_A, VEC_A, RE_LEVEL | RE_MASKED, 0);
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 1, QUIET_MS);
    obs_count(c, "count.masked", 0);
    obs_rirr(c, "rirr.masked", PIN_A, false);
    conf_on_irq(c, VEC_A, h_eoi);
    conf_mask(c, PIN_A, false); /* unmasking a high line sends it */
    obs_rirr(c, "rirr.unmasked", PIN_A, true);
    conf_line(c, PIN_A, false);
    level_done(c, 1);
    expect_plain_level(c, 1);
}

static void level_mask_low_unmask(struct conf *c)
{
    conf_on_irq(c, VEC_A, h_lower_eoi);
    conf_route(c, PIN_A, VEC_A, RE_LEVEL | RE_MASKED, 0);
    conf_line(c, PIN_A, true);
    conf_line(c, PIN_A, false);
    conf_mask(c, PIN_A, false); /* the request went away while masked */
    conf_wait_count(c, 1, QUIET_MS);
    conf_settle(c);
    obs_count(c, "count", 0);
    obs_rirr(c, "rirr.after", PIN_A, false);
    expect_plain_level(c, 0);
}

static void level_mask_pending(struct conf *c)
{
    level_pend(c, PIN_A, VEC_A, h_eoi);
    conf_mask(c, PIN_A, true);
    /* Taken and EOIed with the line high and the entry masked: cleared, nothing sent. */
    conf_wait_count(c, 1, WAIT_MS);
    conf_wait_count(c, 2, QUIET_MS);
    conf_settle(c);
    obs_count(c, "count.masked", 1);
    obs_rirr(c, "rirr.masked_after_eoi", PIN_A, false);
    conf_mask(c, PIN_A, false); /* the line is still high: sent again */
    conf_line(c, PIN_A, false);
    level_done(c, 2);
    expect_plain_level(c, 2);
}

static void level_unmask_with_rirr(struct conf *c)
{
    level_pend(c, PIN_A, VEC_A, h_eoi_n_high);
    conf_mask(c, PIN_A, true);
    conf_mask(c, PIN_A, false); /* Remote IRR still set: unmasking sends nothing */
    obs_rirr(c, "rirr.after_unmask", PIN_A, true);
    c->var[V_HIGH] = 1;
    level_done(c, 2);
    expect_plain_level(c, 2); /* the unmask sent nothing: two messages in all */
}

static void level_fake_eoi_high(struct conf *c)
{
    /* Linux/Xen's fake EOI: edge then level clears Remote IRR; a high line sends again. */
    level_pend(c, PIN_A, VEC_A, h_eoi);
    conf_fake_eoi(c, PIN_A);
    obs_rirr(c, "rirr.after_fake_eoi", PIN_A, true);
    conf_line(c, PIN_A, false);
    level_done(c, 1); /* the second message found the first still pending */
    conf_expect_stat(c, "irqs", 2);
    conf_expect_stat(c, "eoi_exit", 1);
}

static void level_fake_eoi_low(struct conf *c)
{
    level_pend(c, PIN_A, VEC_A, h_eoi);
    conf_line(c, PIN_A, false);
    conf_fake_eoi(c, PIN_A);
    obs_rirr(c, "rirr.after_fake_eoi", PIN_A, false);
    level_done(c, 1);
    expect_plain_level(c, 1);
}

static void eoir_clears(struct conf *c)
{
    /* EOIR clears Remote IRR on 0x20; on 0x11 there is no such register. */
    level_pend(c, PIN_A, VEC_A, h_eoi);
    conf_line(c, PIN_A, false);
    conf_eoir(c, VEC_A);
    obs_rirr(c, "rirr.after_eoir", PIN_A, !conf_has_eoir(c));
    conf_wait_count(c, 1, WAIT_MS);
    conf_settle(c);
    obs_rirr(c, "rirr.after", PIN_A, false);
    obs_count(c, "count", 1);
    conf_expect_stat(c, "eoir", conf_has_eoir(c) ? 1 : 0);
    conf_expect_stat(c, "eoi_exit", 1);
}

static void eoir_line_high(struct conf *c)
{
    level_pend(c, PIN_A, VEC_A, h_eoi);
    conf_eoir(c, VEC_A); /* line high: sent again (the LAPIC still has the first pending) */
    obs_rirr(c, "rirr.after_eoir", PIN_A, true);
    conf_line(c, PIN_A, false);
    level_done(c, 1);
    conf_expect_stat(c, "eoir", 1);
    conf_expect_stat(c, "irqs", 2);
}

static void eoir_wrong_vector(struct conf *c)
{
    level_pend(c, PIN_A, VEC_A, h_eoi);
    conf_line(c, PIN_A, false);
    conf_eoir(c, VEC_B);
    obs_rirr(c, "rirr.after_other_vector", PIN_A, true);
    conf_wait_count(c, 1, WAIT_MS);
    conf_settle(c);
    obs_rirr(c, "rirr.after", PIN_A, false);
    obs_count(c, "count", 1);
}

static void two_pins_one_vector(struct conf *c)
{
    /* Both sent before the CPU takes anything: two messages, one IRR bit. */
    conf_on_irq(c, VEC_A, h_eoi);
    conf_route(c, PIN_A, VEC_A, RE_LEVEL, 0);
    conf_route(c, PIN_B, VEC_A, RE_LEVEL, 0);
    conf_line(c, PIN_A, true);
    conf_line(c, PIN_B, true);
    obs_rirr(c, "rirr.a", PIN_A, true);
    obs_rirr(c, "rirr.b", PIN_B, true);
    conf_line(c, PIN_A, false);
    conf_line(c, PIN_B, false);
}

static void eoir_shared_vector(struct conf *c)
{
    two_pins_one_vector(c);
    conf_eoir(c, VEC_A); /* one EOIR clears every entry with the vector */
    obs_rirr(c, "rirr.a.after_eoir", PIN_A, false);
    obs_rirr(c, "rirr.b.after_eoir", PIN_B, false);
    conf_wait_count(c, 1, WAIT_MS);
    conf_settle(c);
    obs_count(c, "count", 1);
    conf_expect_stat(c, "irqs", 2);
}

static void broadcast_shared_vector(struct conf *c)
{
    two_pins_one_vector(c);
    conf_wait_count(c, 1, WAIT_MS); /* one EOI broadcast clears both */
    conf_settle(c);
    obs_rirr(c, "rirr.a.after", PIN_A, false);
    obs_rirr(c, "rirr.b.after", PIN_B, false);
    obs_count(c, "count", 1);
    conf_expect_stat(c, "irqs", 2);
    conf_expect_stat(c, "eoi_exit", 1);
}

static void level_priority(struct conf *c)
{
    conf_on_irq(c, VEC_B, h_eoi);
    conf_on_irq(c, VEC_D, h_eoi);
    conf_route(c, PIN_B, VEC_B, RE_LEVEL, 0);
    conf_route(c, PIN_D, VEC_D, RE_LEVEL, 0);
    conf_line(c, PIN_B, true);
    conf_line(c, PIN_D, true);
    conf_line(c, PIN_B, false);
    conf_line(c, PIN_D, false);
    conf_wait_count(c, 2, WAIT_MS);
    conf_settle(c);
    obs_count(c, "count", 2);
    conf_check(c, conf_logged(c, 0) >> 8 == VEC_D && conf_logged(c, 1) >> 8 == VEC_B, "order",
               "0x%x then 0x%x, expected 0x62 then 0x41", conf_logged(c, 0) >> 8,
               conf_logged(c, 1) >> 8);
    obs_rirr(c, "rirr.b", PIN_B, false);
    obs_rirr(c, "rirr.d", PIN_D, false);
    expect_plain_level(c, 2);
}

static void tmr_record(struct conf *c, unsigned vector)
{
    c->var[c->nirq] = conf_lapic_bit(c, APIC_REG_TMR, vector);
    conf_lapic_eoi(c);
}

static void fire_as(struct conf *c, uint64_t trigger)
{
    conf_route(c, PIN_A, VEC_A, trigger, 0);
    conf_line(c, PIN_A, true);
    conf_line(c, PIN_A, false); /* an edge, or a level request sent and withdrawn */
    conf_wait_count(c, c->nirq + 1, WAIT_MS);
    conf_settle(c);
}

static void tmr_level_then_edge(struct conf *c)
{
    /* The TMR bit follows the trigger mode of the interrupt last accepted. */
    conf_on_irq(c, VEC_A, tmr_record);
    fire_as(c, RE_LEVEL);
    fire_as(c, 0);
    conf_obs_eq(c, "tmr.level", c->var[1], 1);
    conf_obs_eq(c, "tmr.edge", c->var[2], 0);
    obs_count(c, "count", 2);
    conf_expect_stat(c, "eoi_exit", 1);
}

static void tmr_edge_then_level(struct conf *c)
{
    conf_on_irq(c, VEC_A, tmr_record);
    fire_as(c, 0);
    fire_as(c, RE_LEVEL);
    conf_obs_eq(c, "tmr.edge", c->var[1], 0);
    conf_obs_eq(c, "tmr.level", c->var[2], 1);
    obs_count(c, "count", 2);
    obs_rirr(c, "rirr.after", PIN_A, false);
    conf_expect_stat(c, "eoi_exit", 1);
}

/*
 * Spec §7: the handler EOIs with the line high, and the CPU halts; with @sync
 * a port write comes between, so the EOI exit comes at once.
 */
static void eoi_hlt(struct conf *c, bool sync)
{
    c->var[V_HIGH] = 3;
    conf_on_irq(c, VEC_A, h_eoi_n_high);
    conf_route(c, PIN_A, VEC_A, RE_LEVEL, 0);
    conf_line(c, PIN_A, true);
    /* No bound: a lost redelivery hangs, and the runner's timeout fails the run. */
    for (unsigned halts = 0; c->nirq < 4 && halts < 64; halts++) {
        if (sync)
            conf_sync(c);
        hw_halt(c);
    }
    conf_settle(c);
    obs_count(c, "count", 4);
    obs_rirr(c, "rirr.after", PIN_A, false);
    expect_plain_level(c, 4);
}

static void eoi_then_hlt(struct conf *c)
{
    eoi_hlt(c, false);
}

static void eoi_sync_hlt(struct conf *c)
{
    eoi_hlt(c, true);
}

static void revector_in_handler(struct conf *c, unsigned vector)
{
    conf_lapic_eoi(c); /* suppressed: the IOAPIC entry is ours to finish */
    conf_sync(c);
    if (vector == VEC_A) {
        /* Move the entry to VEC_C while Remote IRR is set and the line is high. */
        conf_redir_write_low(c, PIN_A, (uint32_t)(RE_LEVEL | VEC_C));
        conf_eoir(c, VEC_A); /* the old vector now matches no entry (and 0x11 has no EOIR) */
        c->var[0] = conf_remote_irr(c, PIN_A);
        conf_fake_eoi(c, PIN_A); /* so clear it the Linux way: sent again as VEC_C */
        return;
    }
    conf_line(c, PIN_A, false);
    conf_ioapic_eoi(c, PIN_A, vector);
}

static void reconfig_vector_in_handler(struct conf *c)
{
    if (!directed_on(c))
        return;
    conf_on_irq(c, VEC_C, revector_in_handler);
    level_fire(c, PIN_A, VEC_A, revector_in_handler);
    conf_wait_count(c, 2, WAIT_MS);
    conf_settle(c);
    conf_obs_eq(c, "rirr.after_old_vector_eoir", c->var[0], 1);
    obs_count(c, "count", 2);
    conf_check(c, conf_logged(c, 1) >> 8 == VEC_C, "second_vector", "0x%x, expected 0x%x",
               conf_logged(c, 1) >> 8, VEC_C);
    obs_rirr(c, "rirr.after", PIN_A, false);
    conf_obs_eq(c, "entry.after", conf_redir_read(c, PIN_A), RE_LEVEL | VEC_C);
    conf_expect_stat(c, "irqs", 2);
    conf_expect_stat(c, "eoi_exit", 0);
}

static void mask_in_handler(struct conf *c, unsigned vector)
{
    conf_lapic_eoi(c);
    conf_sync(c);
    if (c->nirq == 1) {
        conf_mask(c, PIN_A, true); /* line left high */
        conf_ioapic_eoi(c, PIN_A, vector);
        return;
    }
    conf_line(c, PIN_A, false);
    conf_ioapic_eoi(c, PIN_A, vector);
}

static void reconfig_mask_in_handler(struct conf *c)
{
    if (!directed_on(c))
        return;
    level_fire(c, PIN_A, VEC_A, mask_in_handler);
    conf_wait_count(c, 2, QUIET_MS);
    conf_settle(c);
    obs_count(c, "count.masked", 1);
    obs_rirr(c, "rirr.masked", PIN_A, false);
    conf_mask(c, PIN_A, false);
    level_done(c, 2);
    conf_expect_stat(c, "irqs", 2);
    conf_expect_stat(c, "eoi_exit", 0);
}

static void retrigger_in_handler(struct conf *c, unsigned vector)
{
    conf_lapic_eoi(c);
    conf_sync(c);
    if (c->nirq == 1) {
        /* Re-arm the entry as edge and back to level, line low, then raise it again. */
        conf_line(c, PIN_A, false);
        conf_redir_write_low(c, PIN_A, (uint32_t)VEC_A);
        conf_redir_write_low(c, PIN_A, (uint32_t)(RE_LEVEL | VEC_A));
        c->var[0] = conf_remote_irr(c, PIN_A);
        conf_line(c, PIN_A, true); /* a new request: sent at once */
        return;
    }
    conf_line(c, PIN_A, false);
    conf_ioapic_eoi(c, PIN_A, vector);
}

static void reconfig_trigger_in_handler(struct conf *c)
{
    if (!directed_on(c))
        return;
    level_fire(c, PIN_A, VEC_A, retrigger_in_handler);
    conf_wait_count(c, 2, WAIT_MS);
    conf_settle(c);
    conf_obs_eq(c, "rirr.after_rearm", c->var[0], 0);
    obs_count(c, "count", 2);
    obs_rirr(c, "rirr.after", PIN_A, false);
    conf_expect_stat(c, "irqs", 2);
    conf_expect_stat(c, "eoi_exit", 0);
}

/*
 * The 10000th back-to-back EOI is throttled: interrupt 10001 comes 10 ms
 * later. Its handler lowers the line after its own EOI, which has already
 * sent 10002.
 */
#define STORM_N         (10000u + 1u)
#define STORM_TOTAL     (STORM_N + 1u)
#define STORM_MAX_TURNS 50000000ull

static void storm_handler(struct conf *c, unsigned vector)
{
    (void)vector;
    if (c->nirq == STORM_N - 1)
        c->var[0] = c->var[2];
    if (c->nirq == STORM_N)
        c->var[1] = c->var[2];
    conf_lapic_eoi(c); /* line high: sent again at once, or after the pause */
    if (c->nirq >= STORM_N) {
        conf_sync(c);
        conf_line(c, PIN_A, false);
    }
}

static void storm_throttle(struct conf *c)
{
    /* A line held high and EOIed at once: 10000 redeliveries, then a 10 ms pause. */
    conf_on_irq(c, VEC_A, storm_handler);
    conf_route(c, PIN_A, VEC_A, RE_LEVEL, 0);
    conf_line(c, PIN_A, true);
    hw_irq_enable(c);
    /* The loop only runs while the throttle holds the storm back; a stuck one ends in the bound. */
    for (uint64_t turns = 0; c->nirq < STORM_TOTAL && turns < STORM_MAX_TURNS; turns++) {
        hw_relax(c);
        c->var[2]++;
    }
    hw_irq_disable(c);
    conf_settle(c);
    obs_count(c, "count", STORM_TOTAL);
    conf_obs(c, "progress_in_pause", "%s", c->var[1] > c->var[0] ? "yes" : "no");
    conf_check(c, c->var[1] > c->var[0], "progress_in_pause",
               "the guest ran %llu loop turns between interrupts %u and %u",
               (unsigned long long)(c->var[1] - c->var[0]), STORM_N - 1, STORM_N);
    obs_rirr(c, "rirr.after", PIN_A, false);
    conf_stat(c, "throttled", true);
    conf_stat(c, "irqs", true);
    conf_stat(c, "eoi_exit", true);
    conf_expect_stat(c, "throttled", 1);
    conf_expect_stat(c, "irqs", STORM_TOTAL);
    conf_expect_stat(c, "eoi_exit", STORM_TOTAL);
}

#define DIRECTED_MODES (CONF_M_AUTO | CONF_M_ENABLE)

const struct conf_scenario conf_scenarios_level[] = {
    {"level_basic", "one delivery: Remote IRR and IRR while sent, TMR in the handler, clear after",
     level_basic, CONF_V_X2, CONF_M_ALL, 0, NULL},
    {"lapic_isr_in_service", "taken, not EOIed: ISR and PPR hold it, Remote IRR stays set",
     lapic_isr_in_service, CONF_V_X2, CONF_M_ALL, CONF_F_NEEDS_ISR, NULL},
    {"level_redeliver_high", "an EOI with the line high delivers again", level_redeliver_high,
     CONF_V_X2, CONF_M_ALL, 0, NULL},
    {"level_lowered_before_eoi", "line lowered before the CPU takes it: its EOI sends nothing more",
     level_lowered_before_eoi, CONF_V_X2, CONF_M_ALL, 0, NULL},
    {"level_eoi_outside_handler", "line lowered and EOI written after the handler returned",
     level_eoi_outside_handler, CONF_V_X2, CONF_M_ALL, CONF_F_NEEDS_ISR, NULL},
    {"level_coalesce", "line toggles under Remote IRR coalesce into one redelivery", level_coalesce,
     CONF_V_X2, CONF_M_ALL, 0, NULL},
    {"level_mask_high_unmask", "masked with the line high: delivered on unmask",
     level_mask_high_unmask, CONF_V_X2, CONF_M_ALL, 0, NULL},
    {"level_mask_low_unmask", "raised and lowered while masked: nothing on unmask",
     level_mask_low_unmask, CONF_V_X2, CONF_M_ALL, 0, NULL},
    {"level_mask_pending", "masked after sending: the EOI clears Remote IRR, unmask delivers",
     level_mask_pending, CONF_V_X2, CONF_M_ALL, 0, NULL},
    {"level_unmask_with_rirr", "unmasking with Remote IRR set sends nothing until the EOI",
     level_unmask_with_rirr, CONF_V_X2, CONF_M_ALL, 0, NULL},
    {"level_fake_eoi_high", "edge/level switch clears Remote IRR; a high line fires again",
     level_fake_eoi_high, CONF_V_X2, CONF_M_ALL, 0, NULL},
    {"level_fake_eoi_low", "edge/level switch with the line low: cleared, nothing sent",
     level_fake_eoi_low, CONF_V_X2, CONF_M_ALL, 0, NULL},
    {"eoir_clears", "EOIR clears Remote IRR on 0x20 and is ignored on 0x11", eoir_clears, CONF_V_X2,
     CONF_M_ALL, 0, NULL},
    {"eoir_line_high", "EOIR with the line high delivers again", eoir_line_high, CONF_V_20X2,
     CONF_M_ALL, 0, NULL},
    {"eoir_wrong_vector", "EOIR of another vector leaves Remote IRR set", eoir_wrong_vector,
     CONF_V_20X2, CONF_M_AUTO, 0, NULL},
    {"eoir_shared_vector", "one EOIR clears every entry with its vector", eoir_shared_vector,
     CONF_V_20X2, CONF_M_AUTO, 0, NULL},
    {"broadcast_shared_vector", "one EOI broadcast clears every entry with its vector",
     broadcast_shared_vector, CONF_V_X2, CONF_M_ALL, 0, NULL},
    {"level_priority", "two pending level lines are taken by priority class", level_priority,
     CONF_V_X2, CONF_M_AUTO, 0, NULL},
    {"tmr_level_then_edge", "TMR set by a level delivery, cleared by an edge one",
     tmr_level_then_edge, CONF_V_X2, CONF_M_AUTO, 0, NULL},
    {"tmr_edge_then_level", "TMR clear for an edge delivery, set by a level one",
     tmr_edge_then_level, CONF_V_X2, CONF_M_AUTO, 0, NULL},
    {"eoi_then_hlt", "EOI then hlt with no exit between: redelivery still happens (§7)",
     eoi_then_hlt, CONF_V_X2, CONF_M_ALL, 0, NULL},
    {"eoi_sync_hlt", "EOI, a port write, then hlt: redelivery at once", eoi_sync_hlt, CONF_V_X2,
     CONF_M_AUTO, 0, NULL},
    {"reconfig_vector_in_handler", "handler moves its entry to a new vector, fake-EOIs it",
     reconfig_vector_in_handler, CONF_V_X2, DIRECTED_MODES, CONF_F_DIRECTED, NULL},
    {"reconfig_mask_in_handler", "handler masks its own entry with the line high",
     reconfig_mask_in_handler, CONF_V_X2, DIRECTED_MODES, CONF_F_DIRECTED, NULL},
    {"reconfig_trigger_in_handler", "handler re-arms its entry (edge, level) and re-raises",
     reconfig_trigger_in_handler, CONF_V_X2, DIRECTED_MODES, CONF_F_DIRECTED, NULL},
    {"storm_throttle", "a line held high with immediate EOIs: throttled, the guest progresses",
     storm_throttle, CONF_V_X2, CONF_M_AUTO, CONF_F_SLOW, NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL},
};
