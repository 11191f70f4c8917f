/* SPDX-License-Identifier: MIT */
/* 8254 PIT: three counters in ticks of 1.193182 MHz derived from now_ns. */
#include "pit8254.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define NS_PER_S       1000000000ull
#define REFRESH_NS     15085ull /* port 0x61 bit 4 period (one half-cycle) */
#define CTRL_SC(v)     (((v) >> 6) & 3u)
#define CTRL_RW(v)     (((v) >> 4) & 3u)
#define CTRL_MODE(v)   (((v) >> 1) & 7u)
#define READBACK_NOCNT (1u << 5)
#define READBACK_NOST  (1u << 4)

static uint64_t ns_to_ticks(uint64_t ns)
{
    return (uint64_t)(((unsigned __int128)ns * LAPIS_PIT_FREQ_HZ) / NS_PER_S);
}

/* The first ns at which @t ticks have elapsed. */
static uint64_t ticks_to_ns(uint64_t t)
{
    return (uint64_t)(((unsigned __int128)t * NS_PER_S + LAPIS_PIT_FREQ_HZ - 1) /
                      LAPIS_PIT_FREQ_HZ);
}

static uint64_t now(struct lapis_pit *pit)
{
    return pit->ops && pit->ops->now_ns ? pit->ops->now_ns(pit->opaque) : 0;
}

static unsigned mode_of(const struct lapis_pit_channel *c)
{
    return c->mode > 5 ? c->mode - 4u : c->mode;
}

static uint64_t period(const struct lapis_pit_channel *c)
{
    return c->count ? c->count : 0x10000u;
}

static uint64_t elapsed(const struct lapis_pit_channel *c, uint64_t t_ns)
{
    uint64_t t = c->acc;
    if (c->running && t_ns > c->start_ns)
        t += ns_to_ticks(t_ns - c->start_ns);
    return t;
}

static bool triggered(const struct lapis_pit_channel *c)
{
    unsigned m = mode_of(c);
    return (m != 1 && m != 5) || c->running || c->acc;
}

static uint16_t count_at(const struct lapis_pit_channel *c, uint64_t t_ns)
{
    if (!c->loaded || !triggered(c))
        return (uint16_t)c->count;
    uint64_t t = elapsed(c, t_ns), n = period(c);
    switch (mode_of(c)) {
    case 2:
        return (uint16_t)(n - t % n);
    case 3:
        return (uint16_t)(n - (2 * t) % n);
    default: /* 0, 1, 4, 5: count down once, then wrap */
        return (uint16_t)(n - t);
    }
}

static bool out_at(const struct lapis_pit_channel *c, uint64_t t_ns)
{
    unsigned m = mode_of(c);
    if (!c->loaded)
        return m != 0; /* a mode-0 control word drives OUT low */
    if (!triggered(c))
        return true;
    uint64_t t = elapsed(c, t_ns), n = period(c);
    switch (m) {
    case 0:
    case 1:
        return t >= n;
    case 2:
        return !c->running || t % n != n - 1;
    case 3:
        return !c->running || t % n < (n + 1) / 2;
    default: /* 4, 5: low for the one tick at terminal count */
        return t != n;
    }
}

/* When channel 0 next reaches a terminal count, or LAPIS_PIT_NO_DEADLINE. */
static uint64_t next_deadline(const struct lapis_pit *pit)
{
    const struct lapis_pit_channel *c = &pit->ch[0];
    if (!c->loaded || !c->running)
        return LAPIS_PIT_NO_DEADLINE;
    uint64_t n = period(c), target;
    unsigned m = mode_of(c);
    if (m == 2 || m == 3)
        target = (c->periods + 1) * n;
    else if (c->periods == 0)
        target = n;
    else
        return LAPIS_PIT_NO_DEADLINE;
    uint64_t d = target <= c->acc ? c->start_ns : c->start_ns + ticks_to_ns(target - c->acc);
    if ((m == 2 || m == 3) && c->periods && d < pit->last_irq_ns + LAPIS_PIT_MIN_PERIOD_NS)
        d = pit->last_irq_ns + LAPIS_PIT_MIN_PERIOD_NS;
    return d;
}

static void rearm(struct lapis_pit *pit)
{
    uint64_t d = next_deadline(pit);
    const struct lapis_pit_channel *c = &pit->ch[0];
    if (d != LAPIS_PIT_NO_DEADLINE && c->periods && d == pit->last_irq_ns + LAPIS_PIT_MIN_PERIOD_NS)
        pit->stats.clamped++;
    if (d == pit->deadline)
        return;
    pit->deadline = d;
    if (pit->ops && pit->ops->timer_arm)
        pit->ops->timer_arm(pit->opaque, d);
}

static void pulse(struct lapis_pit *pit)
{
    pit->stats.irqs++;
    if (pit->ops && pit->ops->set_irq) {
        pit->ops->set_irq(pit->opaque, true);
        pit->ops->set_irq(pit->opaque, false);
    }
}

void lapis_pit_init(struct lapis_pit *pit, const struct lapis_pit_ops *ops, void *opaque)
{
    memset(pit, 0, sizeof(*pit));
    pit->ops = ops;
    pit->opaque = opaque;
    pit->deadline = LAPIS_PIT_NO_DEADLINE;
    for (unsigned i = 0; i < 3; i++) {
        pit->ch[i].rw = 3;
        pit->ch[i].gate = i != 2; /* channels 0 and 1 are gated high on a PC */
    }
}

bool lapis_pit_handles(uint16_t port)
{
    return (port >= LAPIS_PIT_PORT_BASE && port <= LAPIS_PIT_PORT_CTRL) || port == LAPIS_PIT_PORT_B;
}

static void load_count(struct lapis_pit *pit, unsigned i, uint32_t count, uint64_t t_ns)
{
    struct lapis_pit_channel *c = &pit->ch[i];
    unsigned m = mode_of(c);
    c->count = count;
    c->loaded = true;
    c->null_count = false;
    c->acc = 0;
    c->periods = 0;
    c->start_ns = t_ns;
    /* Modes 1 and 5 wait for a gate rising edge; the others count while the gate is high. */
    c->running = (m == 1 || m == 5) ? false : c->gate;
    if (i == 0)
        rearm(pit);
}

static void set_gate(struct lapis_pit *pit, unsigned i, bool gate, uint64_t t_ns)
{
    struct lapis_pit_channel *c = &pit->ch[i];
    bool rising = gate && !c->gate;
    bool falling = !gate && c->gate;
    c->gate = gate;
    if (!c->loaded || (!rising && !falling))
        return;
    switch (mode_of(c)) {
    case 0:
    case 4: /* the gate pauses counting */
        if (falling) {
            c->acc = elapsed(c, t_ns);
            c->running = false;
        } else {
            c->start_ns = t_ns;
            c->running = true;
        }
        break;
    case 1:
    case 5: /* a rising edge (re)triggers */
        if (rising) {
            c->acc = 0;
            c->periods = 0;
            c->start_ns = t_ns;
            c->running = true;
        }
        break;
    default: /* 2, 3: low stops (OUT high), a rising edge reloads */
        c->acc = 0;
        c->periods = 0;
        c->start_ns = t_ns;
        c->running = rising;
        break;
    }
    if (i == 0)
        rearm(pit);
}

static void latch_count(struct lapis_pit_channel *c, uint64_t t_ns)
{
    if (c->count_latched)
        return; /* a second latch before the read is ignored */
    c->latch = count_at(c, t_ns);
    c->count_latched = true;
    c->latch_msb = false;
}

static void latch_status(struct lapis_pit_channel *c, uint64_t t_ns)
{
    if (c->status_latched)
        return;
    c->status = (uint8_t)((out_at(c, t_ns) ? 0x80 : 0) | (c->null_count ? 0x40 : 0) | (c->rw << 4) |
                          (c->mode << 1) | (c->bcd ? 1 : 0));
    c->status_latched = true;
}

static void write_control(struct lapis_pit *pit, uint8_t v, uint64_t t_ns)
{
    unsigned sc = CTRL_SC(v);
    if (sc == 3) { /* read-back */
        pit->stats.latches++;
        for (unsigned i = 0; i < 3; i++) {
            if (!(v & (2u << i)))
                continue;
            if (!(v & READBACK_NOCNT))
                latch_count(&pit->ch[i], t_ns);
            if (!(v & READBACK_NOST))
                latch_status(&pit->ch[i], t_ns);
        }
        return;
    }
    struct lapis_pit_channel *c = &pit->ch[sc];
    if (CTRL_RW(v) == 0) {
        pit->stats.latches++;
        latch_count(c, t_ns);
        return;
    }
    pit->stats.mode_writes++;
    c->rw = (uint8_t)CTRL_RW(v);
    c->mode = (uint8_t)CTRL_MODE(v);
    c->bcd = v & 1;
    if (c->bcd)
        pit->stats.bcd_ignored++;
    c->loaded = false;
    c->running = false;
    c->null_count = true;
    c->write_msb = false;
    c->read_msb = false;
    c->count_latched = false;
    c->status_latched = false;
    c->acc = 0;
    c->periods = 0;
    if (sc == 0)
        rearm(pit);
}

static void write_counter(struct lapis_pit *pit, unsigned i, uint8_t v, uint64_t t_ns)
{
    struct lapis_pit_channel *c = &pit->ch[i];
    switch (c->rw) {
    case 1:
        load_count(pit, i, v, t_ns);
        break;
    case 2:
        load_count(pit, i, (uint32_t)v << 8, t_ns);
        break;
    default:
        if (!c->write_msb) {
            c->write_lsb = v;
            c->write_msb = true;
            c->null_count = true;
            if (mode_of(c) == 0) { /* the first byte stops a mode-0 count, OUT low */
                c->loaded = false;
                c->running = false;
                if (i == 0)
                    rearm(pit);
            }
        } else {
            c->write_msb = false;
            load_count(pit, i, c->write_lsb | (uint32_t)v << 8, t_ns);
        }
        break;
    }
}

static uint8_t read_counter(struct lapis_pit_channel *c, uint64_t t_ns)
{
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    if (c->count_latched) {
        uint16_t l = c->latch;
        switch (c->rw) {
        case 1:
            c->count_latched = false;
            return (uint8_t)l;
        case 2:
            c->count_latched = false;
            return (uint8_t)(l >> 8);
        default:
            if (!c->latch_msb) {
                c->latch_msb = true;
                return (uint8_t)l;
            }
            c->count_latched = false;
            return (uint8_t)(l >> 8);
        }
    }
    uint16_t cnt = count_at(c, t_ns);
    switch (c->rw) {
    case 1:
        return (uint8_t)cnt;
    case 2:
        return (uint8_t)(cnt >> 8);
    default:
        c->read_msb = !c->read_msb;
        return c->read_msb ? (uint8_t)cnt : (uint8_t)(cnt >> 8);
    }
}

int lapis_pit_io(struct lapis_pit *pit, uint16_t port, unsigned size, bool is_write,
                 uint32_t *value)
{
    if (!value || (size != 1 && size != 2 && size != 4) || !lapis_pit_handles(port)) {
        if (value && !is_write)
            *value = 0xFFFFFFFFu;
        pit->stats.bad_access++;
        return -EINVAL;
    }
    uint64_t t_ns = now(pit);
    if (is_write) {
        uint8_t v = (uint8_t)*value;
        if (port == LAPIS_PIT_PORT_B) {
            pit->portb = v & 0x0F;
            set_gate(pit, 2, v & LAPIS_PORTB_GATE2, t_ns);
        } else if (port == LAPIS_PIT_PORT_CTRL)
            write_control(pit, v, t_ns);
        else
            write_counter(pit, port - LAPIS_PIT_PORT_BASE, v, t_ns);
        return 0;
    }
    if (port == LAPIS_PIT_PORT_B) {
        uint32_t v = pit->portb & 0x0F;
        if ((t_ns / REFRESH_NS) & 1)
            v |= LAPIS_PORTB_REFRESH;
        if (out_at(&pit->ch[2], t_ns))
            v |= LAPIS_PORTB_OUT2;
        *value = v;
    } else if (port == LAPIS_PIT_PORT_CTRL)
        *value = 0xFF; /* the control register is write-only */
    else
        *value = read_counter(&pit->ch[port - LAPIS_PIT_PORT_BASE], t_ns);
    return 0;
}

void lapis_pit_timer_expired(struct lapis_pit *pit)
{
    struct lapis_pit_channel *c = &pit->ch[0];
    uint64_t t_ns = now(pit);
    pit->deadline = LAPIS_PIT_NO_DEADLINE; /* the armed timer is spent */
    bool fired = false;
    if (c->loaded && c->running) {
        uint64_t t = elapsed(c, t_ns), n = period(c);
        unsigned m = mode_of(c);
        if (m == 2 || m == 3) {
            uint64_t k = t / n;
            /* The 200 us bound holds for early and spurious calls too, not just armed ones. */
            bool too_soon = c->periods && t_ns < pit->last_irq_ns + LAPIS_PIT_MIN_PERIOD_NS;
            if (k > c->periods && !too_soon) {
                pit->stats.dropped += k - c->periods - 1;
                c->periods = k;
                fired = true;
            }
        } else if (c->periods == 0 && t >= n) {
            c->periods = 1;
            fired = true;
        }
    }
    if (fired) {
        pit->last_irq_ns = t_ns;
        pulse(pit);
    } else
        pit->stats.spurious++;
    rearm(pit);
}

uint16_t lapis_pit_count(struct lapis_pit *pit, unsigned channel)
{
    return channel < 3 ? count_at(&pit->ch[channel], now(pit)) : 0;
}

bool lapis_pit_out(struct lapis_pit *pit, unsigned channel)
{
    return channel < 3 ? out_at(&pit->ch[channel], now(pit)) : false;
}
