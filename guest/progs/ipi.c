/* SPDX-License-Identifier: MIT */
/*
 * IPIs between two vCPUs (SDM 11.6): fixed to a physical ID, to logical
 * destinations (flat and cluster in xAPIC mode, cluster in x2APIC mode),
 * self-IPIs through the shorthand and (x2APIC) the SELF_IPI MSR, NMI IPIs,
 * all-including-self, all-excluding-self, physical broadcast, lowest
 * priority (xAPIC), and an ID nobody has. Also IA32_APIC_BASE (BSP bit,
 * relocation of the xAPIC page) and the #GP the x2APIC MSRs give for bad
 * accesses. Needs --cpus 2 or more; APIC IDs 0 and 1 are used.
 *
 * The AP runs commands the BSP posts (send an IPI, set LDR/DFR, read its
 * APIC base), woken by a fixed IPI. Every receiver counts per vector.
 *
 * lapis.irqchip=user adds checks of the SDM's error register (ESR) that
 * KVM's in-kernel LAPIC does not implement.
 */
#include "guest.h"

#define APIC_DFR     0x0E0
#define ICR_LOWEST   0x100
#define ICR_NMI      0x400
#define ICR_LOGICAL  (1u << 11)
#define ICR_ALL      (2u << 18)
#define MSR_SELF_IPI 0x83F

#define V_BASE   0x50 /* counted vectors 0x50..0x5E */
#define V_COUNT  15
#define V_WAKE   0x5F /* wakes the AP for a command (counted apart) */
#define SETTLE   20   /* ms to let a stray interrupt arrive before checking it did not */
#define WAIT_MS  2000
#define NCPU     2
#define AP_APIC  1
#define NOBODY   7 /* an APIC ID with no CPU (needs --cpus <= 7) */
#define APIC_REL 0xFED00000u

enum cmd {
    CMD_NONE = 0,
    CMD_SEND,      /* lapic_send_ipi(arg_dest, arg) */
    CMD_SELF_MSR,  /* wrmsr SELF_IPI, arg */
    CMD_SET_LOGID, /* DFR = arg_dest, LDR = arg */
    CMD_READ_BASE, /* result = IA32_APIC_BASE */
};

static volatile unsigned hits[NCPU][V_COUNT];
static volatile unsigned wakes[NCPU], nmis[NCPU];
static volatile enum cmd cmd;
static volatile uint32_t cmd_arg, cmd_dest;
static volatile uint64_t cmd_result;
static volatile unsigned cmd_seq, cmd_done;
static volatile bool ap_ready;
static volatile bool expect_gp;
static volatile unsigned gps;
static bool x2;

static unsigned me(void)
{
    return lapic_id() == AP_APIC ? 1 : 0;
}

static void counted_handler(struct irq_frame *f)
{
    hits[me()][f->vector - V_BASE]++;
    lapic_eoi();
}

static void wake_handler(struct irq_frame *f)
{
    (void)f;
    wakes[me()]++;
    lapic_eoi();
}

static void nmi_handler(struct irq_frame *f)
{
    (void)f;
    nmis[me()]++;
}

/* #GP from an rdmsr/wrmsr we expected to fault: skip it (both are 2 bytes). */
static void gp_handler(struct irq_frame *f)
{
    if (!expect_gp)
        bail("unexpected #GP at RIP 0x%lx, error code 0x%lx", (unsigned long)f->rip,
             (unsigned long)f->error);
    gps++;
    f->rip += 2;
}

static void ap_main(unsigned cpu)
{
    (void)cpu;
    ap_ready = true;
    for (;;) {
        irq_disable();
        unsigned seq = cmd_seq;
        if (seq != cmd_done) {
            switch (cmd) {
            case CMD_SEND:
                lapic_send_ipi(cmd_dest, cmd_arg);
                break;
            case CMD_SELF_MSR:
                wrmsr(MSR_SELF_IPI, cmd_arg);
                break;
            case CMD_SET_LOGID:
                if (!x2) {
                    lapic_write(APIC_DFR, cmd_dest);
                    lapic_write(APIC_LDR, cmd_arg);
                }
                break;
            case CMD_READ_BASE:
                cmd_result = rdmsr(MSR_APIC_BASE);
                break;
            default:
                break;
            }
            __atomic_store_n(&cmd_done, seq, __ATOMIC_RELEASE);
        }
        safe_halt(); /* an interrupt (the wake IPI) ends it */
    }
}

/* Posts a command to the AP, wakes it with a fixed IPI and waits until it is done. */
static bool ap_do(enum cmd c, uint32_t dest, uint32_t arg)
{
    cmd = c;
    cmd_dest = dest;
    cmd_arg = arg;
    unsigned seq = cmd_seq + 1;
    __atomic_store_n(&cmd_seq, seq, __ATOMIC_RELEASE);
    lapic_send_ipi(AP_APIC, ICR_FIXED | V_WAKE);
    uint64_t end = deadline_ms(WAIT_MS);
    while (__atomic_load_n(&cmd_done, __ATOMIC_ACQUIRE) != seq && !expired(end))
        cpu_relax();
    return cmd_done == seq;
}

static void reset_counts(void)
{
    for (unsigned c = 0; c < NCPU; c++) {
        for (unsigned v = 0; v < V_COUNT; v++)
            hits[c][v] = 0;
        nmis[c] = 0;
    }
}

static unsigned got(unsigned c, unsigned vector)
{
    return vector == 2 ? nmis[c] : hits[c][vector - V_BASE];
}

/* Waits until the BSP and AP have @bsp and @ap hits of @vector (NMIs: 2), then for strays. */
static void settle(unsigned vector, unsigned bsp, unsigned ap)
{
    uint64_t end = deadline_ms(WAIT_MS);
    irq_enable();
    while ((got(0, vector) < bsp || got(1, vector) < ap) && !expired(end))
        cpu_relax();
    end = deadline_ms(SETTLE);
    while (!expired(end))
        cpu_relax();
    irq_disable();
}

/* Checks that BSP and AP took @vector @bsp and @ap times. */
static void expect(const char *what, unsigned vector, unsigned bsp, unsigned ap)
{
    settle(vector, bsp, ap);
    ok(got(0, vector) == bsp && got(1, vector) == ap,
       "%s: vector 0x%x taken %u time(s) by the BSP, %u by the AP (expected %u, %u)", what, vector,
       got(0, vector), got(1, vector), bsp, ap);
}

/* Sends @icr (its low byte the vector) to @dest and checks who took it, as expect(). */
static void send_expect(const char *what, uint32_t dest, uint32_t icr, unsigned bsp, unsigned ap)
{
    lapic_send_ipi(dest, icr);
    expect(what, icr & 0xFF, bsp, ap);
}

static void test_physical(void)
{
    reset_counts();
    send_expect("fixed, physical ID 1", AP_APIC, ICR_FIXED | 0x51, 0, 1);
    send_expect("fixed, physical ID 0 (itself)", 0, ICR_FIXED | 0x52, 1, 0);
    send_expect("fixed, physical ID with no CPU", NOBODY, ICR_FIXED | 0x53, 0, 0);
    send_expect("fixed, physical broadcast", x2 ? 0xFFFFFFFFu : 0xFF, ICR_FIXED | 0x54, 1, 1);
}

static void test_logical(void)
{
    reset_counts();
    if (x2) {
        /* x2APIC: LDR is read-only, cluster = ID[31:4], bit = 1 << ID[3:0]. */
        uint32_t ldr = lapic_read(APIC_LDR);
        ok(ldr == 0x1, "x2APIC: the BSP's LDR is 0x%x (expected 0x1)", ldr);
        send_expect("x2APIC cluster, logical 0x2", 0x2, ICR_LOGICAL | 0x55, 0, 1);
        send_expect("x2APIC cluster, logical 0x3", 0x3, ICR_LOGICAL | 0x56, 1, 1);
        send_expect("x2APIC cluster, logical 0x10002 (cluster 1)", 0x10002, ICR_LOGICAL | 0x57, 0,
                    0);
        return;
    }
    /* Flat: one bit per CPU. */
    lapic_write(APIC_DFR, 0xFFFFFFFFu);
    lapic_write(APIC_LDR, 0x01u << 24);
    ok(ap_do(CMD_SET_LOGID, 0xFFFFFFFFu, 0x02u << 24), "AP set DFR flat, LDR 0x02");
    send_expect("xAPIC flat, logical 0x02", 0x02, ICR_LOGICAL | 0x55, 0, 1);
    send_expect("xAPIC flat, logical 0x03", 0x03, ICR_LOGICAL | 0x56, 1, 1);
    send_expect("xAPIC flat, logical 0x04", 0x04, ICR_LOGICAL | 0x57, 0, 0);
    /* Lowest priority to both: exactly one takes it. */
    lapic_send_ipi(0x03, ICR_LOGICAL | ICR_LOWEST | 0x58);
    uint64_t end = deadline_ms(WAIT_MS);
    irq_enable();
    while (got(0, 0x58) + got(1, 0x58) == 0 && !expired(end))
        cpu_relax();
    irq_disable();
    settle(0x58, 0, 0);
    ok(got(0, 0x58) + got(1, 0x58) == 1,
       "xAPIC flat, lowest priority to 0x03: taken once (BSP %u, AP %u)", got(0, 0x58),
       got(1, 0x58));

    /* Cluster: 4-bit cluster, 4-bit member mask. */
    lapic_write(APIC_DFR, 0x0FFFFFFFu);
    lapic_write(APIC_LDR, 0x11u << 24);
    ok(ap_do(CMD_SET_LOGID, 0x0FFFFFFFu, 0x12u << 24), "AP set DFR cluster, LDR 0x12");
    send_expect("xAPIC cluster, logical 0x12", 0x12, ICR_LOGICAL | 0x59, 0, 1);
    send_expect("xAPIC cluster, logical 0x13", 0x13, ICR_LOGICAL | 0x5A, 1, 1);
    send_expect("xAPIC cluster, logical 0x22 (cluster 2)", 0x22, ICR_LOGICAL | 0x5B, 0, 0);
    /* Back to flat with no bits, as after reset. */
    lapic_write(APIC_DFR, 0xFFFFFFFFu);
    lapic_write(APIC_LDR, 0);
    ap_do(CMD_SET_LOGID, 0xFFFFFFFFu, 0);
}

static void test_shorthands(void)
{
    reset_counts();
    send_expect("self shorthand from the BSP", 0, ICR_SELF | 0x51, 1, 0);
    ok(ap_do(CMD_SEND, 0, ICR_SELF | 0x52), "AP sent a self IPI");
    expect("self shorthand from the AP", 0x52, 0, 1);
    if (x2) {
        wrmsr(MSR_SELF_IPI, 0x53);
        expect("SELF_IPI MSR on the BSP", 0x53, 1, 0);
        ok(ap_do(CMD_SELF_MSR, 0, 0x54), "AP wrote SELF_IPI");
        expect("SELF_IPI MSR on the AP", 0x54, 0, 1);
    } else {
        skip("SELF_IPI MSR: x2APIC only");
        skip("SELF_IPI MSR: x2APIC only");
    }
    send_expect("all excluding self, from the BSP", 0, ICR_ALL_BUT_SELF | 0x55, 0, 1);
    ok(ap_do(CMD_SEND, 0, ICR_ALL_BUT_SELF | 0x56), "AP sent to all excluding self");
    expect("all excluding self, from the AP", 0x56, 1, 0);
    send_expect("all including self", 0, ICR_ALL | 0x57, 1, 1);
}

static void test_nmi(void)
{
    reset_counts();
    lapic_send_ipi(AP_APIC, ICR_NMI);
    expect("NMI IPI to the AP", 2, 0, 1);
    ok(ap_do(CMD_SEND, 0, ICR_NMI), "AP sent an NMI to ID 0");
    expect("NMI IPI to the BSP", 2, 1, 1);
}

static void write_cr8(uint64_t v)
{
    __asm__ volatile("mov %0, %%cr8" : : "r"(v) : "memory");
}

static uint64_t read_cr8(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr8, %0" : "=r"(v));
    return v;
}

/* CR8 is TPR[7:4] (SDM 10.8.6.1): both views agree, and the priority holds interrupts back. */
static void test_tpr(void)
{
    reset_counts();
    write_cr8(0xE);
    uint32_t tpr = lapic_read(APIC_TPR);
    ok(tpr == 0xE0, "CR8 0xE -> TPR 0x%x (expected 0xe0)", tpr);
    send_expect("self IPI of class 5 with CR8 0xE", 0, ICR_SELF | 0x5D, 0, 0);
    ok(lapic_vector_bit(APIC_IRR, 0x5D), "... it waits in IRR");
    write_cr8(0);
    expect("... and arrives once CR8 is 0", 0x5D, 1, 0);
    lapic_write(APIC_TPR, 0x30);
    uint64_t cr8 = read_cr8();
    ok(cr8 == 3, "TPR 0x30 -> CR8 %lu (expected 3)", (unsigned long)cr8);
    lapic_write(APIC_TPR, 0);
}

static void test_apic_base(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    ok((base & (1u << 8)) && (base & APIC_BASE_ENABLE) && (base & ~0xFFFull) == 0xFEE00000u &&
           !!(base & APIC_BASE_X2APIC) == x2,
       "IA32_APIC_BASE 0x%lx: BSP, enabled, 0xFEE00000, %s", (unsigned long)base,
       x2 ? "x2APIC" : "xAPIC");
    ok(ap_do(CMD_READ_BASE, 0, 0) && !(cmd_result & (1u << 8)) && (cmd_result & APIC_BASE_ENABLE),
       "the AP's IA32_APIC_BASE 0x%lx has no BSP bit", (unsigned long)cmd_result);
    if (x2) {
        uint32_t v = mmio_read32(0xFEE00000u + APIC_LVR);
        ok(v == 0xFFFFFFFFu, "x2APIC mode: the xAPIC page is not decoded (LVR there reads 0x%x)",
           v);
        skip("xAPIC page relocation: xAPIC only");
        return;
    }
    /* Relocate the xAPIC page: the registers move with it. */
    wrmsr(MSR_APIC_BASE, (base & 0xFFF) | APIC_REL);
    uint32_t id_new = mmio_read32(APIC_REL + APIC_ID) >> 24;
    uint32_t lvr_new = mmio_read32(APIC_REL + APIC_LVR);
    uint32_t old = mmio_read32(0xFEE00000u + APIC_LVR);
    wrmsr(MSR_APIC_BASE, base);
    ok(id_new == 0 && (lvr_new & 0xFF) >= 0x10 && old != lvr_new,
       "xAPIC page relocated to 0x%x: ID %u, LVR 0x%x there; 0x%x at the old address", APIC_REL,
       id_new, lvr_new, old);
    ok(lapic_read(APIC_LVR) == lvr_new, "xAPIC page back at 0xFEE00000");
}

/* rdmsr/wrmsr that must #GP. */
static void expect_gp_wrmsr(uint32_t msr, uint64_t v, const char *what)
{
    unsigned before = gps;
    expect_gp = true;
    wrmsr(msr, v);
    expect_gp = false;
    ok(gps == before + 1, "#GP: %s", what);
}

static void expect_gp_rdmsr(uint32_t msr, const char *what)
{
    unsigned before = gps;
    expect_gp = true;
    (void)rdmsr(msr);
    expect_gp = false;
    ok(gps == before + 1, "#GP: %s", what);
}

static void test_faults(bool model)
{
    if (x2) {
        expect_gp_wrmsr(0x802, 5, "wrmsr to the x2APIC ID (read-only)");
        expect_gp_rdmsr(0x80B, "rdmsr of EOI (write-only)");
        expect_gp_wrmsr(0x808, 1ull << 32, "wrmsr TPR with bits 63:32 set");
        expect_gp_rdmsr(0x801, "rdmsr of an absent register (0x801)");
        expect_gp_wrmsr(0x1B, 0xFEE00000u | APIC_BASE_ENABLE, "x2APIC -> xAPIC without disabling");
    } else {
        expect_gp_rdmsr(0x802, "rdmsr of an x2APIC MSR in xAPIC mode");
        expect_gp_wrmsr(0x1B, 0xFEE00000u | APIC_BASE_X2APIC | (1u << 8),
                        "IA32_APIC_BASE with EXTD and not EN");
    }
    if (!model) {
        skip("ESR checks: lapis.irqchip=user not given");
        return;
    }
    /* An illegal vector sent to itself: send and receive errors (SDM 11.5.3). */
    lapic_write(APIC_ESR, 0);
    lapic_send_ipi(0, ICR_FIXED | 0x05);
    lapic_write(APIC_ESR, 0);
    uint32_t esr = lapic_read(APIC_ESR);
    ok((esr & 0x60) == 0x60, "ESR 0x%x after an IPI with vector 5: send and receive illegal", esr);
    lapic_write(APIC_ESR, 0);
    esr = lapic_read(APIC_ESR);
    ok(esr == 0, "ESR 0x%x after a write with nothing new", esr);
}

int main(void)
{
    char chip[16];
    bool model = cmdline_get("lapis.irqchip", chip, sizeof(chip)) && !strcmp(chip, "user");

    x2 = lapic_x2apic();
    idt_set_handler(2, nmi_handler);
    idt_set_handler(13, gp_handler);
    idt_set_handler(V_WAKE, wake_handler);
    for (unsigned v = V_BASE; v < V_BASE + V_COUNT; v++)
        idt_set_handler(v, counted_handler);
    if (!fwcfg_present() || fwcfg_cpu_count() < 2)
        bail("ipi needs 2 CPUs (--cpus 2), fw_cfg reports %u", fwcfg_cpu_count());
    if (fwcfg_cpu_count() > NOBODY)
        bail("ipi needs at most %u CPUs: APIC ID %u must be free", NOBODY, NOBODY);
    diag("LAPIC in %s mode", x2 ? "x2APIC" : "xAPIC");
    ok(lapic_id() == 0, "the BSP has APIC ID 0");
    bool up = smp_start_ap(AP_APIC, 1, ap_main, WAIT_MS);
    uint64_t end = deadline_ms(WAIT_MS);
    while (up && !ap_ready && !expired(end))
        cpu_relax();
    if (!ok(up && ap_ready && smp_apic_id(1) == AP_APIC, "AP with APIC ID 1 started"))
        bail("no AP: cannot go on");

    test_physical();
    test_logical();
    test_shorthands();
    test_nmi();
    test_tpr();
    test_apic_base();
    test_faults(model);
    ok(!spurious_count(), "no spurious interrupts (%lu)", spurious_count());
    printf("ipi: physical, logical, shorthands, NMI, APIC base and faults checked in %s mode\n",
           x2 ? "x2APIC" : "xAPIC");
    return 0;
}
