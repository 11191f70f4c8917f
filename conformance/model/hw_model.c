/* SPDX-License-Identifier: MIT */
/*
 * hw.h on lapis's models: MSRs 0x800-0x8FF and the 0xFEE00000 page go to
 * lapis_lapic_*, the 0xFEC00000 window to lapis_ioapic_*, port 0x2000+line to
 * lapis_ioapic_set_level; the IOAPIC delivers into the LAPICs and the LAPICs
 * broadcast their EOIs back. Pending interrupts are taken (ack + handler) on
 * every CPU whose interrupt flag is set, after every access.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "devices/eoi_policy.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "model.h"

#define RELAX_NS       1000ull    /* a turn of a busy loop */
#define MAX_TAKEN      2000000ull /* interrupts per run before we call it a runaway */
#define IOAPIC_WINDOW  0x1000ull
#define TESTDEV_BASE   0x2000u
#define TESTDEV_LINES  24u
#define SYNC_PORT      0x80u
#define NS_PER_MS      1000000ull
#define STATUS_ABORTED 3

struct model;

struct model_cpu {
    struct model *m;
    unsigned index;
    struct lapis_lapic apic;
    bool on;        /* started */
    bool iflag;     /* RFLAGS.IF */
    bool busy;      /* inside a handler */
    uint64_t timer; /* LAPIC timer deadline (0: none) */
};

struct model {
    struct conf c;
    FILE *out;
    unsigned mutations;
    struct lapis_eoi_policy policy;
    struct lapis_ioapic ioapic;
    struct model_cpu cpu[CONF_MAX_CPUS];
    unsigned ncpus, cur;
    uint64_t now, io_timer;
    uint64_t taken;
    uint64_t mutated_eois; /* EOIs the IGNORE_SVR12 glue forwarded anyway */
    jmp_buf abort_jmp;
    char abort_msg[160];
};

static struct model *M(struct conf *c)
{
    return (struct model *)c->hw;
}

static void pump(struct model *m);

static _Noreturn void model_abort(struct model *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static _Noreturn void model_abort(struct model *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->abort_msg, sizeof(m->abort_msg), fmt, ap);
    va_end(ap);
    longjmp(m->abort_jmp, 1);
}

/* ---- wiring ---- */

static void io_deliver(void *opaque, unsigned pin, const struct lapis_msi *msg)
{
    struct model *m = opaque;
    (void)pin;
    for (unsigned i = 0; i < m->ncpus; i++) {
        struct lapis_lapic *a = &m->cpu[i].apic;
        if (!m->cpu[i].on || !lapis_lapic_match_dest(a, msg->dest, msg->dest_logical, 0, 0))
            continue;
        lapis_lapic_deliver(a, msg->delivery_mode, msg->vector, msg->level_triggered);
        if (msg->delivery_mode == LAPIS_DM_LOWEST)
            break; /* the first match takes a lowest-priority message */
    }
}

static void io_timer_arm(void *opaque, uint64_t delay_ns)
{
    struct model *m = opaque;
    m->io_timer = m->now + delay_ns;
}

static const struct lapis_ioapic_ops ioapic_ops = {
    .deliver = io_deliver,
    .timer_arm = io_timer_arm,
};

static void apic_eoi_broadcast(void *opaque, uint8_t vector)
{
    struct model_cpu *cpu = opaque;
    lapis_ioapic_eoi(&cpu->m->ioapic, vector, LAPIS_EOI_FROM_BROADCAST);
}

static void apic_send_ipi(void *opaque, const struct lapis_lapic_ipi *ipi)
{
    struct model *m = ((struct model_cpu *)opaque)->m;
    for (unsigned i = 0; i < m->ncpus; i++)
        if (m->cpu[i].on)
            lapis_lapic_accept_ipi(&m->cpu[i].apic, ipi);
}

static void apic_timer_arm(void *opaque, uint64_t deadline_ns)
{
    struct model_cpu *cpu = opaque;
    cpu->timer = deadline_ns;
}

static uint64_t apic_now(void *opaque)
{
    return ((struct model_cpu *)opaque)->m->now;
}

static const struct lapis_lapic_ops lapic_ops = {
    .eoi_broadcast = apic_eoi_broadcast,
    .send_ipi = apic_send_ipi,
    .timer_arm = apic_timer_arm,
    .now_ns = apic_now,
};

/* ---- time ---- */

static uint64_t next_event(const struct model *m)
{
    uint64_t next = m->io_timer;
    for (unsigned i = 0; i < m->ncpus; i++)
        if (m->cpu[i].timer && (!next || m->cpu[i].timer < next))
            next = m->cpu[i].timer;
    return next;
}

static void fire_due(struct model *m)
{
    if (m->io_timer && m->io_timer <= m->now) {
        m->io_timer = 0;
        lapis_ioapic_timer_expired(&m->ioapic);
    }
    for (unsigned i = 0; i < m->ncpus; i++) {
        if (m->cpu[i].timer && m->cpu[i].timer <= m->now) {
            m->cpu[i].timer = 0;
            lapis_lapic_timer_expired(&m->cpu[i].apic);
        }
    }
}

static void advance(struct model *m, uint64_t to)
{
    while (next_event(m) && next_event(m) <= to) {
        if (next_event(m) > m->now)
            m->now = next_event(m);
        fire_due(m);
        pump(m);
    }
    if (to > m->now)
        m->now = to;
}

/* ---- taking interrupts ---- */

static bool take_one(struct model *m, unsigned idx)
{
    struct model_cpu *cpu = &m->cpu[idx];
    unsigned saved = m->cur;
    int v;

    if (!cpu->on || !cpu->iflag || cpu->busy)
        return false;
    v = lapis_lapic_ack(&cpu->apic);
    if (v < 0)
        return false;
    if (++m->taken > MAX_TAKEN)
        model_abort(m, "more than %llu interrupts: a storm that never ends",
                    (unsigned long long)MAX_TAKEN);
    /* An interrupt gate: IF off in the handler, back on at iret. */
    cpu->busy = true;
    cpu->iflag = false;
    m->cur = idx;
    conf_dispatch(&m->c, (unsigned)v);
    m->cur = saved;
    cpu->iflag = true;
    cpu->busy = false;
    return true;
}

static void pump(struct model *m)
{
    bool again = true;
    while (again) {
        again = false;
        for (unsigned i = 0; i < m->ncpus; i++)
            while (take_one(m, i))
                again = true;
    }
}

/* ---- hw.h ---- */

static struct lapis_lapic *cur_apic(struct model *m)
{
    return &m->cpu[m->cur].apic;
}

/* The EOI register write, with the IGNORE_SVR12 mutation in the glue. */
static void eoi_write(struct model *m, bool x2apic, uint32_t msr_or_off, uint32_t value)
{
    struct lapis_lapic *a = cur_apic(m);
    uint64_t suppressed = a->stats.eoi_suppressed;
    int vector = -1;

    for (int i = 7; i >= 0 && vector < 0; i--)
        if (a->isr[i])
            vector = i * 32 + (31 - __builtin_clz(a->isr[i]));
    if (x2apic) {
        if (lapis_lapic_msr_write(a, msr_or_off, value))
            model_abort(m, "#GP on wrmsr 0x%x", msr_or_off);
    } else {
        lapis_lapic_mmio_write(a, msr_or_off, 4, value);
    }
    if ((m->mutations & CONF_MUT_IGNORE_SVR12) && vector >= 0 &&
        a->stats.eoi_suppressed != suppressed) {
        m->mutated_eois++;
        lapis_ioapic_eoi(&m->ioapic, (uint8_t)vector, LAPIS_EOI_FROM_BROADCAST);
    }
}

uint64_t hw_rdmsr(struct conf *c, uint32_t msr)
{
    struct model *m = M(c);
    uint64_t v = 0;

    if (msr == LAPIS_MSR_APIC_BASE)
        return lapis_lapic_get_base(cur_apic(m));
    if (msr >= LAPIS_X2APIC_MSR_BASE && msr <= LAPIS_X2APIC_MSR_LAST) {
        if (lapis_lapic_msr_read(cur_apic(m), msr, &v))
            model_abort(m, "#GP on rdmsr 0x%x", msr);
        return v;
    }
    model_abort(m, "#GP on rdmsr 0x%x (not modelled)", msr);
}

void hw_wrmsr(struct conf *c, uint32_t msr, uint64_t value)
{
    struct model *m = M(c);

    if (msr == LAPIS_MSR_APIC_BASE) {
        if (lapis_lapic_set_base(cur_apic(m), value))
            model_abort(m, "#GP on wrmsr 0x1b 0x%llx", (unsigned long long)value);
    } else if (msr == LAPIS_X2APIC_MSR(LAPIS_LAPIC_EOI)) {
        eoi_write(m, true, msr, (uint32_t)value);
    } else if (msr >= LAPIS_X2APIC_MSR_BASE && msr <= LAPIS_X2APIC_MSR_LAST) {
        if (lapis_lapic_msr_write(cur_apic(m), msr, value))
            model_abort(m, "#GP on wrmsr 0x%x 0x%llx", msr, (unsigned long long)value);
    } else {
        model_abort(m, "#GP on wrmsr 0x%x (not modelled)", msr);
    }
    pump(m);
}

static bool in_xapic_page(struct model *m, uint64_t addr)
{
    struct lapis_lapic *a = cur_apic(m);
    uint64_t base = lapis_lapic_mmio_base(a);
    return lapis_lapic_mode(a) == LAPIS_LAPIC_XAPIC && addr >= base &&
           addr < base + LAPIS_LAPIC_MMIO_SIZE;
}

uint32_t hw_mmio_read32(struct conf *c, uint64_t addr)
{
    struct model *m = M(c);
    uint32_t v;

    if (in_xapic_page(m, addr))
        v = lapis_lapic_mmio_read(cur_apic(m), addr - lapis_lapic_mmio_base(cur_apic(m)), 4);
    else if (addr >= LAPIS_IOAPIC_BASE && addr < LAPIS_IOAPIC_BASE + IOAPIC_WINDOW)
        v = lapis_ioapic_mmio_read(&m->ioapic, addr - LAPIS_IOAPIC_BASE, 4);
    else
        model_abort(m, "read of unmapped MMIO 0x%llx", (unsigned long long)addr);
    pump(m);
    return v;
}

void hw_mmio_write32(struct conf *c, uint64_t addr, uint32_t value)
{
    struct model *m = M(c);

    if (in_xapic_page(m, addr)) {
        uint64_t off = addr - lapis_lapic_mmio_base(cur_apic(m));
        if (off == LAPIS_LAPIC_EOI)
            eoi_write(m, false, (uint32_t)off, value);
        else
            lapis_lapic_mmio_write(cur_apic(m), off, 4, value);
    } else if (addr >= LAPIS_IOAPIC_BASE && addr < LAPIS_IOAPIC_BASE + IOAPIC_WINDOW) {
        lapis_ioapic_mmio_write(&m->ioapic, addr - LAPIS_IOAPIC_BASE, 4, value);
    } else {
        model_abort(m, "write of unmapped MMIO 0x%llx", (unsigned long long)addr);
    }
    pump(m);
}

uint8_t hw_inb(struct conf *c, uint16_t port)
{
    (void)c;
    (void)port;
    return 0; /* the test ports read 0, as on QEMU and lapis */
}

void hw_outb(struct conf *c, uint16_t port, uint8_t value)
{
    struct model *m = M(c);

    if (port >= TESTDEV_BASE && port < TESTDEV_BASE + TESTDEV_LINES)
        lapis_ioapic_set_level(&m->ioapic, port - TESTDEV_BASE, value != 0);
    else if (port != SYNC_PORT)
        model_abort(m, "write to unmodelled port 0x%x", port);
    pump(m);
}

unsigned hw_wait(struct conf *c, unsigned target, unsigned max_ms)
{
    struct model *m = M(c);
    struct model_cpu *cpu = &m->cpu[m->cur];
    uint64_t deadline = m->now + (uint64_t)max_ms * NS_PER_MS;

    cpu->iflag = true;
    pump(m);
    while (c->nirq < target) {
        uint64_t next = next_event(m);
        if (!next || next > deadline) {
            m->now = deadline;
            break;
        }
        advance(m, next);
    }
    cpu->iflag = false;
    return c->nirq;
}

void hw_halt(struct conf *c)
{
    struct model *m = M(c);
    struct model_cpu *cpu = &m->cpu[m->cur];
    uint64_t before = m->taken;

    cpu->iflag = true;
    pump(m);
    while (m->taken == before) {
        uint64_t next = next_event(m);
        if (!next)
            model_abort(m, "hlt with nothing that could wake it: the guest would hang");
        advance(m, next);
    }
    cpu->iflag = false;
}

void hw_relax(struct conf *c)
{
    struct model *m = M(c);
    advance(m, m->now + RELAX_NS);
    pump(m);
}

void hw_irq_enable(struct conf *c)
{
    struct model *m = M(c);
    m->cpu[m->cur].iflag = true;
    pump(m);
}

void hw_irq_disable(struct conf *c)
{
    struct model *m = M(c);
    m->cpu[m->cur].iflag = false;
}

uint64_t hw_now_us(struct conf *c)
{
    return M(c)->now / 1000u;
}

unsigned hw_cpu(struct conf *c)
{
    return M(c)->cur;
}

bool hw_cpu_has_x2apic(struct conf *c)
{
    (void)c;
    return true; /* lapis and KVM give the guest x2APIC in CPUID */
}

bool hw_on_cpu(struct conf *c, unsigned idx, void (*fn)(struct conf *c))
{
    struct model *m = M(c);
    unsigned saved = m->cur;
    bool saved_if;

    if (idx >= m->ncpus || !m->cpu[idx].on)
        return false;
    saved_if = m->cpu[idx].iflag;
    m->cur = idx;
    m->cpu[idx].iflag = false;
    fn(c);
    m->cpu[idx].iflag = saved_if;
    m->cur = saved;
    pump(m);
    return true;
}

void hw_vprintf(struct conf *c, const char *fmt, va_list ap)
{
    vfprintf(M(c)->out, fmt, ap);
}

void hw_abort(struct conf *c, const char *why)
{
    model_abort(M(c), "%s", why);
}

/* ---- a run ---- */

unsigned conf_model_mutation_parse(const char *name)
{
    if (name && strcmp(name, "ignore-svr12") == 0)
        return CONF_MUT_IGNORE_SVR12;
    return 0;
}

/* What guest/lib's lapic_init() does on each CPU, through the same accessors. */
static void boot_cpu(struct model *m, unsigned idx)
{
    struct conf *c = &m->c;
    unsigned saved = m->cur;
    uint64_t base;

    m->cur = idx;
    m->cpu[idx].on = true;
    base = hw_rdmsr(c, LAPIS_MSR_APIC_BASE);
    if (c->x2apic)
        hw_wrmsr(c, LAPIS_MSR_APIC_BASE, base | LAPIS_APIC_BASE_EN | LAPIS_APIC_BASE_EXTD);
    conf_lapic_write(c, APIC_REG_SVR, APIC_SVR_ENABLE | CONF_VEC_SPUR);
    conf_lapic_write(c, APIC_REG_TPR, 0);
    conf_lapic_write(c, APIC_REG_LVTT, 1u << 16);
    conf_lapic_write(c, 0x350, 1u << 16); /* LINT0 */
    conf_lapic_write(c, 0x360, 1u << 16); /* LINT1 */
    conf_lapic_write(c, 0x370, 1u << 16); /* error */
    /* An AP idles in "sti; hlt" (guest/lib/smp.c); the BSP runs the scenario with IF off. */
    m->cpu[idx].iflag = idx != 0;
    m->cur = saved;
}

static void print_stats(struct model *m, int status)
{
    const struct lapis_ioapic_stats *s = &m->ioapic.stats;
    uint64_t suppressed = 0;

    for (unsigned i = 0; i < m->ncpus; i++)
        suppressed += m->cpu[i].apic.stats.eoi_suppressed;
    fprintf(m->out,
            "lapis: stats: mode=%s irqchip=model ioapic=0x%02x cpus=%u irqs=%" PRIu64
            " eoi.exit=%" PRIu64 " eoi.eoir=%" PRIu64 " eoi.ignored=0 eoi.suppressed=%" PRIu64
            " recoveries=0 throttled=%" PRIu64 " mutated=%" PRIu64 " status=%d\n",
            lapis_eoi_mode_name(m->policy.mode), m->ioapic.version, m->ncpus, s->deliveries,
            s->eoi_broadcast, s->eoi_eoir, suppressed, s->throttled, m->mutated_eois, status);
}

static const enum lapis_eoi_mode policy_modes[] = {
    [CONF_MODE_QUIRK] = LAPIS_EOI_MODE_QUIRK,
    [CONF_MODE_ENABLE] = LAPIS_EOI_MODE_ENABLE,
    [CONF_MODE_DISABLE] = LAPIS_EOI_MODE_DISABLE,
};

int conf_model_run(const struct conf_params *p, unsigned mutations, FILE *out)
{
    static struct model model; /* one run at a time; too big for the stack under ASan */
    struct model *m = &model;
    volatile int status = 0;

    memset(m, 0, sizeof(*m));
    m->out = out;
    m->mutations = mutations;
    m->c.p = *p;
    m->c.hw = m;
    m->c.x2apic = !p->xapic;
    m->ncpus = p->cpus ? p->cpus : 1;
    if (m->ncpus > CONF_MAX_CPUS || (unsigned)p->mode > CONF_MODE_DISABLE) {
        fprintf(out, "lapis: model: bad parameters\n");
        return 2;
    }

    lapis_eoi_policy_init(&m->policy);
    lapis_eoi_policy_set_irqchip(&m->policy, LAPIS_IRQCHIP_SPLIT);
    lapis_eoi_policy_set_mode(&m->policy, policy_modes[p->mode]);
    if (lapis_ioapic_init(&m->ioapic, p->ioapic, LAPIS_IOAPIC_DEFAULT_PINS, &ioapic_ops, m)) {
        fprintf(out, "lapis: model: IOAPIC version 0x%x refused\n", p->ioapic);
        return 2;
    }
    for (unsigned i = 0; i < m->ncpus; i++) {
        m->cpu[i].m = m;
        m->cpu[i].index = i;
        lapis_eoi_policy_vcpu_created(&m->policy);
        if (lapis_lapic_init(&m->cpu[i].apic, i, i == 0, &m->policy, true, &lapic_ops,
                             &m->cpu[i])) {
            fprintf(out, "lapis: model: LAPIC init failed\n");
            return 2;
        }
    }

    if (setjmp(m->abort_jmp) == 0) {
        conf_reset(&m->c);
        for (unsigned i = 0; i < m->ncpus; i++)
            boot_cpu(m, i);
        if (conf_run(&m->c) < 0)
            status = STATUS_ABORTED;
    } else {
        fprintf(out, "\nBail out! model: %s\n", m->abort_msg);
        status = STATUS_ABORTED;
    }
    print_stats(m, status);
    return status;
}
