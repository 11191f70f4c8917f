/* SPDX-License-Identifier: MIT */
/*
 * A hostile guest that survives its own garbage. Phases (all by default;
 * phases=bcde picks some):
 *   b  every offset of the IOAPIC and LAPIC windows read and written with
 *      1, 2, 4 and 8 bytes (unaligned and crossing the window's end too),
 *      out-of-range IOREGSEL selectors; x2APIC MSRs 0x800-0x8FF with garbage
 *      (#GP is expected and skipped);
 *   c  EOIR spam: every vector, every width; LAPIC EOIs with nothing in service;
 *   d  reserved vectors (0-15) in redirection entries, edge and level, line raised;
 *   e  MMIO and port I/O where nothing is mapped.
 * The garbage is shaped so the guest lives: interrupts stay off while it is
 * written, IOAPIC lines stay low (no entry can fire), ICR writes go to "all
 * but self" with fixed delivery (one vCPU: nowhere), APIC_BASE is never
 * touched, and everything is restored afterwards. A catch-all handler takes
 * whatever garbage got pending. Each phase ends with a level interrupt round
 * that must still work; then the guest powers off.
 */
#include "guest.h"

#define LINE   10
#define VECTOR 0x40

static volatile unsigned long caught[256];
static volatile unsigned long gp_skipped;
static volatile bool expect_gp;
static volatile unsigned level_hits;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void catch_all(struct irq_frame *f)
{
    caught[f->vector & 0xFF]++;
    lapic_eoi();
}

/* rdmsr/wrmsr that the CPU refuses: skip the 2-byte instruction. */
static void gp_handler(struct irq_frame *f)
{
    if (!expect_gp)
        bail("#GP at RIP 0x%lx, error code 0x%lx", (unsigned long)f->rip, (unsigned long)f->error);
    gp_skipped++;
    f->rip += 2;
}

/*
 * EOI only: no exit to the VMM before the EOI (on this host one there makes
 * KVM deliver the vector once more, guest/README.md). While the line is high
 * each EOI brings the next delivery; the round lowers the line from outside.
 */
static void level_handler(struct irq_frame *f)
{
    (void)f;
    level_hits++;
    lapic_eoi();
}

/* ---- accesses of an exact width, at any alignment ---- */

static uint64_t mmio_rd(uintptr_t a, unsigned size)
{
    uint64_t v = 0;
    switch (size) {
    case 1:
        __asm__ volatile("movb (%1), %b0" : "=q"(v) : "r"(a) : "memory");
        break;
    case 2:
        __asm__ volatile("movw (%1), %w0" : "=r"(v) : "r"(a) : "memory");
        break;
    case 4:
        __asm__ volatile("movl (%1), %k0" : "=r"(v) : "r"(a) : "memory");
        break;
    default:
        __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(a) : "memory");
        break;
    }
    return v;
}

static void mmio_wr(uintptr_t a, unsigned size, uint64_t v)
{
    switch (size) {
    case 1:
        __asm__ volatile("movb %b0, (%1)" : : "q"(v), "r"(a) : "memory");
        break;
    case 2:
        __asm__ volatile("movw %w0, (%1)" : : "r"(v), "r"(a) : "memory");
        break;
    case 4:
        __asm__ volatile("movl %k0, (%1)" : : "r"(v), "r"(a) : "memory");
        break;
    default:
        __asm__ volatile("movq %0, (%1)" : : "r"(v), "r"(a) : "memory");
        break;
    }
}

static uint64_t rdmsr_safe(uint32_t msr)
{
    uint32_t lo = 0, hi = 0;
    expect_gp = true;
    __asm__ volatile("rdmsr" : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
    expect_gp = false;
    return ((uint64_t)hi << 32) | lo;
}

static void wrmsr_safe(uint32_t msr, uint64_t v)
{
    expect_gp = true;
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
    expect_gp = false;
}

static const uint64_t patterns[] = {~0ull, 0, 0xA5A5A5A5A5A5A5A5ull, 0x5A5A5A5A5A5A5A5Aull};
#define NPATTERNS (sizeof(patterns) / sizeof(patterns[0]))

/* ---- the level round every phase ends with ---- */

static void settle(unsigned ms)
{
    irq_enable();
    uint64_t end = deadline_ms(ms);
    while (!expired(end))
        cpu_relax();
    irq_disable();
}

static bool level_round(const char *after)
{
    level_hits = 0;
    ioapic_route(LINE, VECTOR, lapic_id(), IOREDIR_LEVEL);
    irq_line(LINE, true);
    irq_enable();
    uint64_t end = deadline_ms(500);
    while (!level_hits && !expired(end))
        cpu_relax();
    irq_disable();
    irq_line(LINE, false);
    sync();
    settle(20); /* takes the delivery that was pending when the line went low */
    unsigned hits = level_hits;
    settle(20);
    sync();
    bool irr = ioapic_remote_irr(LINE);
    ioapic_mask(LINE, true);
    return ok(hits >= 1 && level_hits == hits && !irr,
              "after %s: a level interrupt still arrives (%u), stops with the line (%u) and "
              "Remote IRR clears (%s)",
              after, hits, level_hits, irr ? "set" : "clear");
}

/* Takes whatever the garbage left pending, with a valid LAPIC. */
static void drain(void)
{
    settle(20);
}

/* ---- b: the IOAPIC window ---- */

static void restore_ioapic(unsigned pins, uint32_t id)
{
    for (unsigned pin = 0; pin < pins; pin++)
        ioapic_redir_write(pin, IOREDIR_MASKED);
    ioapic_write(IOAPIC_REG_ID, id);
    mmio_write32(IOAPIC_BASE + IOAPIC_IOREGSEL, 0);
}

static void garbage_ioapic(void)
{
    unsigned pins = ioapic_pins();
    uint32_t id = ioapic_read(IOAPIC_REG_ID);
    unsigned long n = 0;

    for (uintptr_t off = 0; off < 0x1000; off++) {
        for (unsigned size = 1; size <= 8; size *= 2) {
            (void)mmio_rd(IOAPIC_BASE + off, size);
            /* Every pattern where the registers are; one beyond (the same code path). */
            for (unsigned p = 0; p < (off < 0x100 ? NPATTERNS : 1); p++) {
                mmio_wr(IOAPIC_BASE + off, size, patterns[p] ^ (rnd() & 0x00FF00FF00FF00FFull));
                n++;
            }
        }
    }
    /* Every selector, with reads and writes through IOWIN (0x03-0x0F, past the last pin). */
    for (unsigned sel = 0; sel < 256; sel++) {
        mmio_write32(IOAPIC_BASE + IOAPIC_IOREGSEL, sel);
        (void)mmio_read32(IOAPIC_BASE + IOAPIC_IOWIN);
        mmio_write32(IOAPIC_BASE + IOAPIC_IOWIN, (uint32_t)rnd());
        n++;
    }
    restore_ioapic(pins, id);
    diag("b: %lu garbage writes to the IOAPIC window, %u pins restored", n, pins);
}

/* ---- b: the LAPIC, as xAPIC MMIO or x2APIC MSRs ---- */

#define NSAVED 16
static const unsigned saved_regs[NSAVED] = {
    APIC_ID,           APIC_TPR,         APIC_LDR,   0x0E0 /* DFR */,
    APIC_SVR,          0x2F0 /* CMCI */, APIC_LVTT,  0x330 /* thermal */,
    0x340 /* perf */,  APIC_LINT0,       APIC_LINT1, APIC_LVTE,
    0x380 /* TMICT */, 0x3E0 /* TDCR */, APIC_ICR2,  APIC_ESR};

static void save_lapic(uint32_t *v, bool x2)
{
    for (unsigned i = 0; i < NSAVED; i++)
        v[i] = x2 ? (uint32_t)rdmsr_safe(0x800 + (saved_regs[i] >> 4))
                  : mmio_read32(0xFEE00000u + saved_regs[i]);
}

static void restore_lapic(const uint32_t *v, bool x2)
{
    /* Timer first: stop it before its LVT is unmasked again. */
    lapic_write(0x380, 0);
    for (unsigned i = 0; i < NSAVED; i++) {
        unsigned r = saved_regs[i];
        if (r == APIC_ESR)
            continue;
        if (x2)
            wrmsr_safe(0x800 + (r >> 4), v[i]);
        else
            mmio_write32(0xFEE00000u + r, v[i]);
    }
    lapic_write(APIC_ESR, 0);
    lapic_write(APIC_ESR, 0);
}

/* ICR writes that act go to "all but self", fixed: with one vCPU, nowhere. */
static uint64_t tame_icr(uint64_t v)
{
    v &= ~(uint64_t)((7u << 8) | (3u << 18));
    return v | (3u << 18);
}

static void garbage_xapic(void)
{
    const uintptr_t base = 0xFEE00000u;
    uint32_t saved[NSAVED];
    unsigned long n = 0;

    save_lapic(saved, false);
    for (uintptr_t off = 0; off < 0x1000; off++) {
        for (unsigned size = 1; size <= 8; size *= 2) {
            (void)mmio_rd(base + off, size);
            for (unsigned p = 0; p < (off < 0x400 ? NPATTERNS : 1); p++) {
                uint64_t v = patterns[p] ^ (rnd() & 0x00FF00FF00FF00FFull);
                /* Anything touching ICR low: only the aligned dword, tamed. */
                if (off < 0x304 && off + size > 0x300) {
                    if (off != 0x300 || size != 4)
                        continue;
                    v = tame_icr(v);
                }
                mmio_wr(base + off, size, v);
                n++;
            }
        }
    }
    restore_lapic(saved, false);
    diag("b: %lu garbage writes to the xAPIC window, LAPIC restored", n);
}

static void garbage_x2apic(void)
{
    uint32_t saved[NSAVED];
    unsigned long n = 0;
    unsigned long gp0 = gp_skipped;

    save_lapic(saved, true);
    for (uint32_t msr = 0x800; msr <= 0x8FF; msr++) {
        (void)rdmsr_safe(msr);
        for (unsigned p = 0; p < NPATTERNS; p++) {
            uint64_t v = patterns[p] ^ (rnd() & 0x00FF00FF00FF00FFull);
            if (msr == 0x830)
                v = tame_icr(v) & 0xFFFFFFFFull; /* no destination: all but self */
            else if (msr == 0x83F)
                v = 0xFF; /* SELF_IPI: the catch-all vector */
            wrmsr_safe(msr, v);
            n++;
        }
    }
    restore_lapic(saved, true);
    diag("b: %lu garbage writes to x2APIC MSRs, %lu refused with #GP, LAPIC restored", n,
         gp_skipped - gp0);
    ok(gp_skipped > gp0, "x2APIC garbage was refused with #GP at least once");
}

/* ---- c: EOIR and LAPIC EOI spam ---- */

static void eoi_spam(void)
{
    unsigned long n = 0;
    for (unsigned round = 0; round < 4; round++) {
        for (unsigned v = 0; v < 256; v++) {
            mmio_wr(IOAPIC_BASE + IOAPIC_EOIR, 4, v);
            n++;
        }
    }
    for (unsigned size = 1; size <= 8; size *= 2)
        for (unsigned off = IOAPIC_EOIR - 3; off <= IOAPIC_EOIR + 3; off++) {
            mmio_wr(IOAPIC_BASE + off, size, rnd());
            n++;
        }
    for (unsigned i = 0; i < 256; i++)
        lapic_eoi(); /* nothing in service */
    diag("c: %lu EOIR writes with unknown vectors, 256 LAPIC EOIs with nothing in service", n);
}

/* ---- d: reserved vectors in redirection entries ---- */

static void reserved_vectors(void)
{
    static const unsigned vectors[] = {0, 1, 2, 3, 6, 8, 13, 14, 15};
    for (unsigned i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        for (unsigned level = 0; level < 2; level++) {
            ioapic_route(LINE, vectors[i], lapic_id(), level ? IOREDIR_LEVEL : 0);
            irq_line(LINE, true);
            irq_enable();
            for (unsigned spin = 0; spin < 2000; spin++)
                cpu_relax();
            irq_disable();
            irq_line(LINE, false);
            /* Back to masked edge: clears a Remote IRR that may have been set. */
            ioapic_redir_write(LINE, IOREDIR_MASKED);
        }
    }
    diag("d: vectors 0-15 in edge and level entries, line raised and lowered");
}

/* ---- e: nothing mapped ---- */

static void unmapped(void)
{
    static const uintptr_t mmio[] = {0xFEB00000u, 0xFEC01000u, 0xFED00000u, 0xFEF00000u,
                                     0xE0000000u, 0xFFFF0000u, 0xFEBFFFFCu};
    unsigned long n = 0;
    for (unsigned i = 0; i < sizeof(mmio) / sizeof(mmio[0]); i++)
        for (unsigned size = 1; size <= 8; size *= 2)
            for (unsigned off = 0; off < 8; off++) {
                (void)mmio_rd(mmio[i] + off, size);
                mmio_wr(mmio[i] + off, size, rnd());
                n += 2;
            }
    /* Ports no PC device uses, 0x4000-0x40FF, all widths; reads across the space. */
    for (uint16_t port = 0x4000; port < 0x4100; port++) {
        outb(port, (uint8_t)rnd());
        outw(port, (uint16_t)rnd());
        outl(port, (uint32_t)rnd());
        (void)inb(port);
        (void)inw(port);
        (void)inl(port);
        n += 6;
    }
    for (uint32_t port = 0x4100; port <= 0xFF00; port += 0x100) {
        (void)inb((uint16_t)port);
        n++;
    }
    diag("e: %lu accesses where nothing is mapped", n);
}

int main(void)
{
    char phases[16];
    if (!cmdline_get("phases", phases, sizeof(phases)))
        memcpy(phases, "bcde", 5);
    for (unsigned v = 32; v < 256; v++)
        if (v != VECTOR)
            idt_set_handler(v, catch_all);
    idt_set_handler(13, gp_handler);
    idt_set_handler(VECTOR, level_handler);
    unsigned ver = ioapic_version();
    printf("hostile_garbage: phases %s, IOAPIC 0x%02x, LAPIC in %s mode\n", phases, ver,
           lapic_x2apic() ? "x2APIC" : "xAPIC");
    level_round("start-up");

    for (const char *p = phases; *p; p++) {
        switch (*p) {
        case 'b':
            garbage_ioapic();
            if (lapic_x2apic())
                garbage_x2apic();
            else
                garbage_xapic();
            drain();
            level_round("garbage in every register");
            break;
        case 'c':
            eoi_spam();
            drain();
            level_round("EOI spam");
            break;
        case 'd':
            reserved_vectors();
            drain();
            level_round("reserved vectors");
            break;
        case 'e':
            unmapped();
            level_round("unmapped accesses");
            break;
        default:
            bail("unknown phase '%c'", *p);
        }
    }
    unsigned long stray = 0;
    for (unsigned v = 0; v < 256; v++)
        stray += caught[v];
    diag("stray interrupts taken by the catch-all handler: %lu", stray);
    ok(!lapic_vector_bit(APIC_ISR, VECTOR), "nothing left in service");
    printf("hostile_garbage: survived phases %s\n", phases);
    return 0;
}
