/* SPDX-License-Identifier: MIT */
/*
 * hw.h as real instructions, in a freestanding guest built on guest/lib.
 * The command line says what to run:
 *   scenario=NAME target=split|kernel|user mode=quirk|enable|disable
 *   ioapic=0x11|0x20 apic=x2apic|xapic cpus=1|2
 * Lines go to the serial port; the guest powers off when the scenario is
 * done (pass or fail: the runner reads the lines), or exits through
 * isa-debug-exit if it cannot run at all.
 *
 * Waits are bounded with the LAPIC timer (vector CONF_VEC_TIMER), which
 * counts in ns here (KVM's and lapis's APIC bus runs at 1 GHz); CPU 1
 * wakes CPU 0 with an IPI (CONF_VEC_WAKE) after each interrupt it takes.
 */
#include "conf.h"
#include "guest.h"

#define TIMER_TDCR_DIV1 0xBu
#define TMCCT           0x390u
#define MAX_WAIT_MS     4000u
#define NS_PER_MS       1000000u
#define AP_CALL_TURNS   20000000ul

static struct conf the_conf;

/* The mailbox CPU 1 serves from its idle loop. */
static void (*volatile ap_fn)(struct conf *c);
static volatile unsigned ap_req, ap_done;

static uint32_t cur_cpu(void)
{
    return lapic_id();
}

/* ---- hw.h ---- */

uint64_t hw_rdmsr(struct conf *c, uint32_t msr)
{
    (void)c;
    return rdmsr(msr);
}

void hw_wrmsr(struct conf *c, uint32_t msr, uint64_t value)
{
    (void)c;
    wrmsr(msr, value);
}

uint32_t hw_mmio_read32(struct conf *c, uint64_t addr)
{
    (void)c;
    return mmio_read32((uintptr_t)addr);
}

void hw_mmio_write32(struct conf *c, uint64_t addr, uint32_t value)
{
    (void)c;
    mmio_write32((uintptr_t)addr, value);
}

uint8_t hw_inb(struct conf *c, uint16_t port)
{
    (void)c;
    return inb(port);
}

void hw_outb(struct conf *c, uint16_t port, uint8_t value)
{
    (void)c;
    outb(port, value);
}

unsigned hw_wait(struct conf *c, unsigned target, unsigned max_ms)
{
    uint32_t ns = (max_ms > MAX_WAIT_MS ? MAX_WAIT_MS : max_ms ? max_ms : 1) * NS_PER_MS;

    lapic_write(APIC_LVTT, CONF_VEC_TIMER); /* one-shot, unmasked */
    lapic_write(APIC_REG_TDCR, TIMER_TDCR_DIV1);
    lapic_write(APIC_REG_TMICT, ns);
    for (;;) {
        irq_disable();
        if (c->nirq >= target || lapic_read(TMCCT) == 0)
            break;
        safe_halt();
    }
    lapic_write(APIC_REG_TMICT, 0);
    irq_disable();
    return c->nirq;
}

void hw_halt(struct conf *c)
{
    (void)c;
    __asm__ volatile("sti; hlt; cli" : : : "memory");
}

void hw_relax(struct conf *c)
{
    (void)c;
    cpu_relax();
}

void hw_irq_enable(struct conf *c)
{
    (void)c;
    irq_enable();
}

void hw_irq_disable(struct conf *c)
{
    (void)c;
    irq_disable();
}

uint64_t hw_now_us(struct conf *c)
{
    (void)c;
    return rdtsc() / (TSC_PER_MS / 1000u);
}

unsigned hw_cpu(struct conf *c)
{
    (void)c;
    return cur_cpu();
}

bool hw_cpu_has_x2apic(struct conf *c)
{
    (void)c;
    return cpu_has_x2apic();
}

bool hw_on_cpu(struct conf *c, unsigned cpu, void (*fn)(struct conf *c))
{
    unsigned req;

    if (cpu == cur_cpu()) {
        fn(c);
        return true;
    }
    if (cpu != 1 || c->p.cpus < 2)
        return false;
    ap_fn = fn;
    req = __atomic_add_fetch(&ap_req, 1, __ATOMIC_SEQ_CST);
    lapic_send_ipi(1, CONF_VEC_WAKE);
    /* Bounded in turns, not TSC time: the TSC rate is only guessed (guest/lib/io.h). */
    for (unsigned long turns = 0; turns < AP_CALL_TURNS; turns++) {
        if (__atomic_load_n(&ap_done, __ATOMIC_ACQUIRE) == req)
            return true;
        cpu_relax();
    }
    return false;
}

void hw_vprintf(struct conf *c, const char *fmt, va_list ap)
{
    (void)c;
    vprintf(fmt, ap);
}

void hw_abort(struct conf *c, const char *why)
{
    (void)c;
    printf("Bail out! %s\n", why);
    debug_exit(1);
    halt_forever();
}

/* ---- interrupts ---- */

static void on_vector(struct irq_frame *f)
{
    unsigned v = (unsigned)f->vector;

    if (v == CONF_VEC_TIMER || v == CONF_VEC_WAKE) {
        lapic_eoi();
        return;
    }
    conf_dispatch(&the_conf, v);
    if (cur_cpu() != 0)
        lapic_send_ipi(0, CONF_VEC_WAKE); /* CPU 0 may be waiting for this one */
}

/* CPU 1: serve the mailbox, otherwise "sti; hlt". */
static void ap_main(unsigned cpu)
{
    (void)cpu;
    for (;;) {
        irq_disable();
        unsigned req = __atomic_load_n(&ap_req, __ATOMIC_ACQUIRE);
        if (req != ap_done) {
            ap_fn(&the_conf);
            __atomic_store_n(&ap_done, req, __ATOMIC_RELEASE);
            continue;
        }
        safe_halt();
    }
}

/* ---- main ---- */

static void word(const char *key, char *buf, size_t len, const char *def)
{
    if (!cmdline_get(key, buf, len) || !buf[0]) {
        size_t i = 0;
        for (; def[i] && i + 1 < len; i++)
            buf[i] = def[i];
        buf[i] = 0;
    }
}

int main(void)
{
    struct conf *c = &the_conf;
    char buf[CONF_NAME_MAX];

    word("scenario", c->p.scenario, sizeof(c->p.scenario), "");
    word("target", buf, sizeof(buf), "split");
    if (conf_target_parse(buf, &c->p.target))
        bail("target=%s: expected split, kernel or user", buf);
    word("mode", buf, sizeof(buf), "enable");
    if (conf_mode_parse(buf, &c->p.mode))
        bail("mode=%s: expected quirk, enable or disable", buf);
    c->p.ioapic = (unsigned)cmdline_ulong("ioapic", 0x20);
    word("apic", buf, sizeof(buf), "x2apic");
    c->p.xapic = strcmp(buf, "xapic") == 0;
    c->p.cpus = (unsigned)cmdline_ulong("cpus", 1);
    c->x2apic = lapic_x2apic();
    c->hw = NULL;

    for (unsigned v = 0x20; v < 0xFF; v++)
        idt_set_handler(v, on_vector);
    if (c->p.cpus > CONF_MAX_CPUS)
        bail("cpus=%u: at most %u", c->p.cpus, CONF_MAX_CPUS);
    if (c->p.cpus > 1 && !smp_start_ap(1, 1, ap_main, 2000))
        bail("CPU 1 did not start");
    if (!c->p.scenario[0]) {
        /* The runner's probe: what this VMM offers, in the same words. */
        printf("conf probe lvr=0x%x ioapic_ver=0x%x x2apic=%u\n", lapic_read(APIC_LVR),
               ioapic_read(IOAPIC_REG_VER), (unsigned)c->x2apic);
        poweroff();
    }
    if (conf_run(c) < 0)
        debug_exit(2);
    poweroff();
}
