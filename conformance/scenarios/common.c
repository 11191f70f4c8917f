/* SPDX-License-Identifier: MIT */
#include "common.h"

unsigned pin_of(unsigned vector)
{
    switch (vector) {
    case VEC_A:
        return PIN_A;
    case VEC_B:
        return PIN_B;
    case VEC_C:
        return PIN_C;
    default:
        return PIN_D;
    }
}

void h_none(struct conf *c, unsigned vector)
{
    (void)c;
    (void)vector;
}

void h_eoi(struct conf *c, unsigned vector)
{
    (void)vector;
    conf_lapic_eoi(c);
}

void h_lower_eoi(struct conf *c, unsigned vector)
{
    conf_line(c, pin_of(vector), false);
    conf_lapic_eoi(c);
}

void h_eoi_n_high(struct conf *c, unsigned vector)
{
    conf_lapic_eoi(c);
    if (c->nirq >= c->var[V_HIGH]) {
        conf_sync(c);
        conf_line(c, pin_of(vector), false);
    }
}

void h_eoi_sync(struct conf *c, unsigned vector)
{
    (void)vector;
    conf_lapic_eoi(c);
    conf_sync(c);
}

void h_directed(struct conf *c, unsigned vector)
{
    conf_lapic_eoi(c);
    conf_sync(c);
    conf_line(c, pin_of(vector), false);
    conf_ioapic_eoi(c, pin_of(vector), vector);
}

void level_pend(struct conf *c, unsigned pin, unsigned vector, conf_irq_fn fn)
{
    conf_on_irq(c, vector, fn);
    conf_route(c, pin, vector, RE_LEVEL, 0);
    conf_line(c, pin, true);
}

bool directed_on(struct conf *c)
{
    bool sticks = conf_set_svr12(c, true);
    return conf_check(c, sticks && conf_expect_suppression(c), "directed_eoi",
                      "SVR bit 12 %s, suppression %s: this scenario needs both",
                      sticks ? "sticks" : "does not stick",
                      conf_expect_suppression(c) ? "expected" : "not expected");
}

void level_fire(struct conf *c, unsigned pin, unsigned vector, conf_irq_fn fn)
{
    conf_on_irq(c, vector, fn);
    conf_route(c, pin, vector, RE_LEVEL, 0);
    conf_line(c, pin, true);
    conf_wait_count(c, c->nirq + 1, WAIT_MS);
}

void obs_count(struct conf *c, const char *key, unsigned want)
{
    conf_obs(c, key, "%u", c->nirq);
    conf_check(c, c->nirq == want, key, "%u interrupts, expected %u", c->nirq, want);
}

void obs_rirr(struct conf *c, const char *key, unsigned pin, bool want)
{
    bool got = conf_remote_irr(c, pin);
    conf_obs(c, key, "%u", (unsigned)got);
    conf_check(c, got == want, key, "Remote IRR %u, expected %u", (unsigned)got, (unsigned)want);
}

void level_done(struct conf *c, unsigned n)
{
    conf_wait_count(c, n, WAIT_MS);
    conf_settle(c);
    obs_count(c, "count", n);
    obs_rirr(c, "rirr.after", PIN_A, false);
}

void expect_plain_level(struct conf *c, unsigned deliveries)
{
    conf_expect_stat(c, "irqs", deliveries);
    conf_expect_stat(c, "eoi_exit", deliveries);
    conf_expect_stat(c, "eoir", 0);
}
