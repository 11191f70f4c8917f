/* SPDX-License-Identifier: MIT */
/*
 * The Directed EOI matrix (eoi.md §4-§6): {quirk, enable, disable} x {0x11,
 * 0x20} x {xAPIC, x2APIC} x {SVR bit 12 set or not}. Rows are the IOAPIC
 * version and LAPIC mode, columns the EOI mode; each cell checks LVR bit 24,
 * SVR stickiness, the EOI path (exit or EOIR), Remote IRR and the delivery count.
 */
#include "common.h"
#include "table.h"

/* Observes LVR and, if asked, sets SVR bit 12; returns whether it stuck. */
static bool deoi_setup(struct conf *c, bool set_svr12)
{
    uint32_t lvr = conf_lapic_read(c, APIC_REG_LVR);
    bool sticks;

    conf_obs_eq(c, "lvr.directed_eoi", (lvr & APIC_LVR_DEOI) != 0, conf_expect_directed_eoi(c));
    if (!set_svr12) {
        conf_obs_eq(c, "svr12", (conf_lapic_read(c, APIC_REG_SVR) & APIC_SVR_SUPPRESS) != 0, 0);
        return false;
    }
    sticks = conf_set_svr12(c, true);
    conf_obs_eq(c, "svr12.sticks", sticks, conf_expect_directed_eoi(c));
    return sticks;
}

static void deoi_lvr(struct conf *c)
{
    uint32_t lvr = conf_lapic_read(c, APIC_REG_LVR);

    conf_obs_eq(c, "lvr.version", lvr & 0xFF, 0x14);
    conf_obs_eq(c, "lvr.directed_eoi", (lvr & APIC_LVR_DEOI) != 0, conf_expect_directed_eoi(c));
    conf_obs_eq(c, "svr12.sticks", conf_set_svr12(c, true), conf_expect_directed_eoi(c));
    conf_obs_eq(c, "svr12.clears", conf_set_svr12(c, false), 0);
    conf_obs_eq(c, "svr.after", conf_lapic_read(c, APIC_REG_SVR), APIC_SVR_ENABLE | CONF_VEC_SPUR);
    conf_expect_stat(c, "irqs", 0);
}

/*
 * An OS that EOIs the LAPIC first and services the device after (Windows):
 * EOI, sync (its broadcast, if any, reaches the IOAPIC now, on every host),
 * lower the line, and with Directed EOI, EOI the IOAPIC itself.
 */
static void early_eoi_handler(struct conf *c, unsigned vector)
{
    conf_lapic_eoi(c);
    conf_sync(c);
    conf_line(c, PIN_A, false);
    if (c->var[0])
        conf_ioapic_eoi(c, PIN_A, vector);
}

static void deoi_svr12_level(struct conf *c)
{
    bool sticks = deoi_setup(c, true);
    bool suppressed = sticks && conf_expect_suppression(c);
    /* Unless suppressed, the early EOI finds the line high and sends it again (quirk: the bug). */
    unsigned want = suppressed ? 1 : 2;

    c->var[0] = sticks;
    level_fire(c, PIN_A, VEC_A, early_eoi_handler);
    level_done(c, want);
    conf_expect_stat(c, "irqs", want);
    conf_expect_stat(c, "eoi_exit", suppressed ? 0 : want);
    conf_expect_stat(c, "eoir", sticks && conf_has_eoir(c) ? want : 0);
}

/* A broadcast EOI with the line high: delivered once more, that handler lowers it. */
static void broadcast_redelivers(struct conf *c)
{
    c->var[V_HIGH] = 1;
    level_fire(c, PIN_A, VEC_A, h_eoi_n_high);
    level_done(c, 2);
    expect_plain_level(c, 2);
}

static void deoi_nosvr12_level(struct conf *c)
{
    /* No SVR bit 12: every mode broadcasts; an EOI with the line high redelivers. */
    deoi_setup(c, false);
    broadcast_redelivers(c);
}

/* Windows' way: trust Directed EOI, then write EOIR whatever the IOAPIC version. */
static void eoir_anyway_handler(struct conf *c, unsigned vector)
{
    conf_lapic_eoi(c);
    conf_sync(c);
    conf_line(c, PIN_A, false);
    if (c->var[0])
        conf_eoir(c, vector);
}

static void deoi_windows_eoir(struct conf *c)
{
    bool sticks = deoi_setup(c, true);
    bool suppressed = sticks && conf_expect_suppression(c);
    bool stuck = suppressed && !conf_has_eoir(c); /* §5: ENABLE with a 0x11 IOAPIC */
    unsigned want = suppressed ? 1 : 2;

    c->var[0] = sticks;
    level_fire(c, PIN_A, VEC_A, eoir_anyway_handler);
    conf_wait_count(c, want, WAIT_MS);
    conf_settle(c);
    obs_count(c, "count.first", want);
    obs_rirr(c, "rirr.after_first", PIN_A, stuck);
    /* The device asks again, handled the same way: a stuck pin stays silent. */
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 2 * want, stuck ? QUIET_MS : WAIT_MS);
    conf_settle(c);
    obs_count(c, "count", stuck ? want : 2 * want);
    obs_rirr(c, "rirr.after", PIN_A, stuck);
}

static void deoi_svr12_toggle(struct conf *c)
{
    /* Set, then clear SVR bit 12: broadcasts are back, in every mode. */
    deoi_setup(c, true);
    conf_obs_eq(c, "svr12.cleared", conf_set_svr12(c, false), 0);
    broadcast_redelivers(c);
}

static void deoi_edge_svr12(struct conf *c)
{
    /* Suppression is about level EOIs: edge interrupts do not care. */
    deoi_setup(c, true);
    conf_on_irq(c, VEC_A, h_lower_eoi);
    conf_route(c, PIN_A, VEC_A, 0, 0);
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 1, WAIT_MS);
    conf_settle(c);
    obs_count(c, "count", 1);
    conf_obs_eq(c, "isr.after", conf_lapic_bit(c, APIC_REG_ISR, VEC_A), 0);
    conf_expect_stat(c, "eoi_exit", 0);
    conf_expect_stat(c, "eoir", 0);
}

static void deoi_rirr_after_lapic_eoi(struct conf *c)
{
    /* LAPIC EOI alone, line already low: Remote IRR stays set only if the EOI was suppressed. */
    bool sticks = deoi_setup(c, true);
    bool suppressed = sticks && conf_expect_suppression(c);

    level_pend(c, PIN_A, VEC_A, h_eoi);
    conf_line(c, PIN_A, false);
    conf_wait_count(c, 1, WAIT_MS);
    conf_settle(c);
    obs_rirr(c, "rirr.after_lapic_eoi", PIN_A, suppressed);
    conf_ioapic_eoi(c, PIN_A, VEC_A);
    obs_rirr(c, "rirr.after_ioapic_eoi", PIN_A, false);
    obs_count(c, "count", 1);
    conf_expect_stat(c, "eoi_exit", suppressed ? 0 : 1);
    conf_expect_stat(c, "eoir", conf_has_eoir(c) ? 1 : 0);
}

#define KVM_NO_DEOI                                                                                \
    "KVM never offers Directed EOI beside its in-kernel IOAPIC (eoi.md §4): SVR bit 12 does "     \
    "not stick there, while split/quirk offers it"

static const struct conf_known known_lvr[] = {
    {"kernel", "lvr.directed_eoi", KVM_NO_DEOI},
    {"kernel", "svr12.sticks", KVM_NO_DEOI},
    {NULL, NULL, NULL},
};

const struct conf_scenario conf_scenarios_deoi[] = {
    {"deoi_lvr", "LVR bit 24 and SVR bit 12 stickiness per mode (§4, §6)", deoi_lvr, CONF_V_ALL,
     CONF_M_ALL, 0, known_lvr},
    {"deoi_svr12_level", "guest sets SVR.12 and EOIs the IOAPIC itself: count and EOI path",
     deoi_svr12_level, CONF_V_ALL, CONF_M_ALL, 0, known_lvr},
    {"deoi_nosvr12_level", "guest leaves SVR.12 clear: every mode broadcasts", deoi_nosvr12_level,
     CONF_V_ALL, CONF_M_ALL, 0, known_lvr},
    {"deoi_windows_eoir", "SVR.12 and EOIR regardless of version: stuck on enable+0x11 (§5)",
     deoi_windows_eoir, CONF_V_ALL, CONF_M_ALL, 0, known_lvr},
    {"deoi_svr12_toggle", "SVR.12 set then cleared: broadcasts come back", deoi_svr12_toggle,
     CONF_V_ALL, CONF_M_ALL, 0, known_lvr},
    {"deoi_edge_svr12", "SVR.12 changes nothing for edge interrupts", deoi_edge_svr12, CONF_V_ALL,
     CONF_M_ALL, 0, known_lvr},
    {"deoi_rirr_after_lapic_eoi", "Remote IRR after a lone LAPIC EOI: set only when suppressed",
     deoi_rirr_after_lapic_eoi, CONF_V_ALL, CONF_M_ALL, 0, known_lvr},
    {NULL, NULL, NULL, 0, 0, 0, NULL},
};
