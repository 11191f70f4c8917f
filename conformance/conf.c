/* SPDX-License-Identifier: MIT */
/* The framework half that both builds share: output, dispatch, helpers. */
#include "conf.h"

#define SETTLE_MS     3u /* quiet time that ends conf_settle() */
#define SETTLE_ROUNDS 64u

static const char *const mode_names[] = {"quirk", "enable", "disable"};
static const char *const target_names[] = {"model", "split", "kernel", "user"};

static bool streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

const char *conf_mode_name(enum conf_mode mode)
{
    return (unsigned)mode < 3 ? mode_names[mode] : "?";
}

const char *conf_target_name(enum conf_target t)
{
    return (unsigned)t < CONF_T_COUNT ? target_names[t] : "?";
}

int conf_mode_parse(const char *s, enum conf_mode *mode)
{
    for (unsigned i = 0; i < 3; i++) {
        if (streq(s, mode_names[i])) {
            *mode = (enum conf_mode)i;
            return 0;
        }
    }
    return -1;
}

int conf_target_parse(const char *s, enum conf_target *t)
{
    for (unsigned i = 0; i < CONF_T_COUNT; i++) {
        if (streq(s, target_names[i])) {
            *t = (enum conf_target)i;
            return 0;
        }
    }
    return -1;
}

const struct conf_scenario *conf_scenario_find(const char *name)
{
    for (unsigned i = 0; conf_scenario_at(i); i++)
        if (streq(conf_scenario_at(i)->name, name))
            return conf_scenario_at(i);
    return NULL;
}

unsigned conf_scenario_count(void)
{
    unsigned n = 0;
    while (conf_scenario_at(n))
        n++;
    return n;
}

/* ---- output ---- */

void conf_printf(struct conf *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hw_vprintf(c, fmt, ap);
    va_end(ap);
}

void conf_obs(struct conf *c, const char *key, const char *fmt, ...)
{
    va_list ap;
    conf_printf(c, "conf obs %s=", key);
    va_start(ap, fmt);
    hw_vprintf(c, fmt, ap);
    va_end(ap);
    conf_printf(c, "\n");
}

bool conf_check(struct conf *c, bool pass, const char *key, const char *fmt, ...)
{
    va_list ap;
    c->checks++;
    if (!pass)
        c->failed++;
    conf_printf(c, "conf check %s %s: ", pass ? "ok" : "FAIL", key);
    va_start(ap, fmt);
    hw_vprintf(c, fmt, ap);
    va_end(ap);
    conf_printf(c, "\n");
    return pass;
}

bool conf_obs_eq(struct conf *c, const char *key, uint64_t got, uint64_t want)
{
    conf_obs(c, key, "0x%llx", (unsigned long long)got);
    return conf_check(c, got == want, key, "0x%llx, expected 0x%llx", (unsigned long long)got,
                      (unsigned long long)want);
}

void conf_note(struct conf *c, const char *fmt, ...)
{
    va_list ap;
    conf_printf(c, "conf note ");
    va_start(ap, fmt);
    hw_vprintf(c, fmt, ap);
    va_end(ap);
    conf_printf(c, "\n");
}

void conf_stat(struct conf *c, const char *name, bool exact)
{
    c->stats_published = true;
    conf_printf(c, "conf stat %s %s\n", name, exact ? "exact" : "nonzero");
}

void conf_expect_stat(struct conf *c, const char *name, uint64_t value)
{
    if (conf_has_stats(c))
        conf_printf(c, "conf expect-stat %s=%llu\n", name, (unsigned long long)value);
}

/* ---- interrupts ---- */

void conf_on_irq(struct conf *c, unsigned vector, conf_irq_fn fn)
{
    if (vector < 256) {
        c->handler[vector] = fn;
        c->handled[vector] = true;
    }
}

void conf_dispatch(struct conf *c, unsigned vector)
{
    unsigned i = __atomic_fetch_add(&c->nirq, 1, __ATOMIC_SEQ_CST);

    vector &= 0xFF;
    if (i < CONF_LOG_MAX) {
        c->log[i].vector = (uint8_t)vector;
        c->log[i].cpu = (uint8_t)(c->p.cpus > 1 ? hw_cpu(c) : 0);
    }
    if (c->handler[vector])
        c->handler[vector](c, vector);
    else
        conf_lapic_eoi(c);
}

unsigned conf_logged(const struct conf *c, unsigned i)
{
    if (i >= c->nirq || i >= CONF_LOG_MAX)
        return ~0u;
    return (unsigned)c->log[i].vector << 8 | c->log[i].cpu;
}

unsigned conf_wait_count(struct conf *c, unsigned n, unsigned max_ms)
{
    if (c->nirq >= n)
        return c->nirq;
    return hw_wait(c, n, max_ms);
}

void conf_settle(struct conf *c)
{
    for (unsigned i = 0; i < SETTLE_ROUNDS; i++) {
        unsigned before = c->nirq;
        conf_sync(c);
        hw_wait(c, before + 1, SETTLE_MS);
        if (c->nirq == before)
            return;
    }
}

/* ---- expectations ---- */

bool conf_expect_directed_eoi(const struct conf *c)
{
    if (c->p.target == CONF_T_KERNEL)
        return false; /* never beside KVM's own IOAPIC (§4) */
    return c->p.mode != CONF_MODE_DISABLE;
}

bool conf_expect_suppression(const struct conf *c)
{
    return c->p.target != CONF_T_KERNEL && c->p.mode == CONF_MODE_ENABLE;
}

bool conf_has_eoir(const struct conf *c)
{
    return c->p.ioapic >= 0x20;
}

bool conf_has_stats(const struct conf *c)
{
    return c->p.target != CONF_T_KERNEL;
}

/* ---- LAPIC ---- */

uint32_t conf_lapic_read(struct conf *c, unsigned reg)
{
    if (c->x2apic)
        return (uint32_t)hw_rdmsr(c, APIC_X2APIC_MSR(reg));
    return hw_mmio_read32(c, APIC_XAPIC_BASE + reg);
}

void conf_lapic_write(struct conf *c, unsigned reg, uint32_t value)
{
    if (c->x2apic)
        hw_wrmsr(c, APIC_X2APIC_MSR(reg), value);
    else
        hw_mmio_write32(c, APIC_XAPIC_BASE + reg, value);
}

void conf_lapic_eoi(struct conf *c)
{
    conf_lapic_write(c, APIC_REG_EOI, 0);
}

bool conf_lapic_bit(struct conf *c, unsigned bank, unsigned vector)
{
    return (conf_lapic_read(c, bank + 0x10u * ((vector & 0xFF) / 32)) >> (vector % 32)) & 1;
}

uint32_t conf_lapic_id(struct conf *c)
{
    uint32_t id = conf_lapic_read(c, APIC_REG_ID);
    return c->x2apic ? id : id >> 24;
}

bool conf_set_svr12(struct conf *c, bool on)
{
    uint32_t svr = conf_lapic_read(c, APIC_REG_SVR);
    svr = on ? svr | APIC_SVR_SUPPRESS : svr & ~APIC_SVR_SUPPRESS;
    conf_lapic_write(c, APIC_REG_SVR, svr);
    return (conf_lapic_read(c, APIC_REG_SVR) & APIC_SVR_SUPPRESS) != 0;
}

void conf_send_ipi(struct conf *c, uint32_t dest, unsigned vector)
{
    if (c->x2apic) {
        hw_wrmsr(c, APIC_X2APIC_MSR(APIC_REG_ICR), (uint64_t)dest << 32 | (vector & 0xFF));
        return;
    }
    while (conf_lapic_read(c, APIC_REG_ICR) & (1u << 12))
        hw_relax(c);
    conf_lapic_write(c, APIC_REG_ICR2, dest << 24);
    conf_lapic_write(c, APIC_REG_ICR, vector & 0xFF);
}

/* ---- IOAPIC ---- */

uint32_t conf_ioapic_read(struct conf *c, unsigned reg)
{
    hw_mmio_write32(c, IOAPIC_MMIO + IOAPIC_SEL, reg);
    return hw_mmio_read32(c, IOAPIC_MMIO + IOAPIC_WIN);
}

void conf_ioapic_write(struct conf *c, unsigned reg, uint32_t value)
{
    hw_mmio_write32(c, IOAPIC_MMIO + IOAPIC_SEL, reg);
    hw_mmio_write32(c, IOAPIC_MMIO + IOAPIC_WIN, value);
}

uint64_t conf_redir_read(struct conf *c, unsigned pin)
{
    uint64_t lo = conf_ioapic_read(c, IOAPIC_R_REDIR(pin));
    uint64_t hi = conf_ioapic_read(c, IOAPIC_R_REDIR(pin) + 1);
    return hi << 32 | lo;
}

void conf_redir_write(struct conf *c, unsigned pin, uint64_t entry)
{
    conf_ioapic_write(c, IOAPIC_R_REDIR(pin) + 1, (uint32_t)(entry >> 32));
    conf_ioapic_write(c, IOAPIC_R_REDIR(pin), (uint32_t)entry);
}

void conf_redir_write_low(struct conf *c, unsigned pin, uint32_t low)
{
    conf_ioapic_write(c, IOAPIC_R_REDIR(pin), low);
}

void conf_route(struct conf *c, unsigned pin, unsigned vector, uint64_t flags, unsigned dest)
{
    conf_redir_write(c, pin, (vector & 0xFFu) | flags | RE_DEST(dest & 0xFF));
}

void conf_mask(struct conf *c, unsigned pin, bool masked)
{
    uint32_t lo = conf_ioapic_read(c, IOAPIC_R_REDIR(pin));
    lo = masked ? lo | (uint32_t)RE_MASKED : lo & ~(uint32_t)RE_MASKED;
    conf_ioapic_write(c, IOAPIC_R_REDIR(pin), lo);
}

bool conf_remote_irr(struct conf *c, unsigned pin)
{
    return (conf_ioapic_read(c, IOAPIC_R_REDIR(pin)) & RE_RIRR) != 0;
}

void conf_eoir(struct conf *c, unsigned vector)
{
    hw_mmio_write32(c, IOAPIC_MMIO + IOAPIC_EOIR_OFF, vector & 0xFF);
}

void conf_fake_eoi(struct conf *c, unsigned pin)
{
    uint32_t lo = conf_ioapic_read(c, IOAPIC_R_REDIR(pin));
    uint32_t masked = lo | (uint32_t)RE_MASKED;
    conf_ioapic_write(c, IOAPIC_R_REDIR(pin), masked);
    conf_ioapic_write(c, IOAPIC_R_REDIR(pin), masked & ~(uint32_t)RE_LEVEL);
    conf_ioapic_write(c, IOAPIC_R_REDIR(pin), masked);
    conf_ioapic_write(c, IOAPIC_R_REDIR(pin), lo & ~(uint32_t)RE_RIRR);
}

void conf_ioapic_eoi(struct conf *c, unsigned pin, unsigned vector)
{
    if (conf_has_eoir(c))
        conf_eoir(c, vector);
    else
        conf_fake_eoi(c, pin);
}

void conf_line(struct conf *c, unsigned pin, bool high)
{
    hw_outb(c, (uint16_t)(0x2000u + pin), high ? 1 : 0);
}

void conf_sync(struct conf *c)
{
    hw_outb(c, 0x80, 0);
}

void conf_obs_redir(struct conf *c, const char *tag, unsigned pin)
{
    uint64_t e = conf_redir_read(c, pin);
    conf_printf(c, "conf obs redir.%s=0x%llx rirr=%u delivs=%u masked=%u\n", tag,
                (unsigned long long)e, (unsigned)((e & RE_RIRR) != 0),
                (unsigned)((e & RE_DELIVS) != 0), (unsigned)((e & RE_MASKED) != 0));
}

/* ---- running ---- */

void conf_reset(struct conf *c)
{
    struct conf_params p = c->p;
    void *hw = c->hw;
    bool x2apic = c->x2apic;
    unsigned char *b = (unsigned char *)c;

    for (size_t i = 0; i < sizeof(*c); i++)
        b[i] = 0;
    c->p = p;
    c->hw = hw;
    c->x2apic = x2apic;
}

/* Per CPU, because two CPUs interleave as they like: "c0:40,40 c1:41". */
static void print_trace(struct conf *c)
{
    unsigned n = c->nirq < CONF_LOG_MAX ? c->nirq : CONF_LOG_MAX;
    bool any = false;

    conf_printf(c, "conf obs irq.count=%u\n", c->nirq);
    conf_printf(c, "conf obs irq.trace=");
    for (unsigned cpu = 0; cpu < CONF_MAX_CPUS; cpu++) {
        bool first = true;
        for (unsigned i = 0; i < n; i++) {
            if (c->log[i].cpu != cpu)
                continue;
            if (first)
                conf_printf(c, "%sc%u:%x", any ? " " : "", cpu, c->log[i].vector);
            else
                conf_printf(c, ",%x", c->log[i].vector);
            first = false;
            any = true;
        }
    }
    conf_printf(c, "%s\n", c->nirq > n ? " ..." : any ? "" : "-");
}

int conf_run(struct conf *c)
{
    const struct conf_scenario *s = conf_scenario_find(c->p.scenario);
    unsigned ver;

    conf_printf(c, "conf begin %s\n", c->p.scenario);
    if (!s) {
        conf_printf(c, "conf error unknown scenario '%s'\n", c->p.scenario);
        return -1;
    }
    /* The run must be what the runner asked for, or nothing below means anything. */
    ver = conf_ioapic_read(c, IOAPIC_R_VER) & 0xFF;
    conf_check(c, ver == c->p.ioapic, "config.ioapic", "IOAPIC version 0x%x, asked for 0x%x", ver,
               c->p.ioapic);
    conf_check(c, c->x2apic == !c->p.xapic, "config.apic", "LAPIC in %s mode, asked for %s",
               c->x2apic ? "x2APIC" : "xAPIC", c->p.xapic ? "xAPIC" : "x2APIC");
    s->run(c);
    print_trace(c);
    if (!c->stats_published) {
        conf_stat(c, "eoi_exit", true);
        conf_stat(c, "eoir", true);
        conf_stat(c, "irqs", true);
    }
    conf_printf(c, "conf end checks=%u failed=%u\n", c->checks, c->failed);
    return (int)c->failed;
}
