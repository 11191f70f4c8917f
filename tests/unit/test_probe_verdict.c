/* SPDX-License-Identifier: MIT */
/*
 * lapis probe's verdicts (src/kvm/probe_verdict.c) on recorded output, so
 * that the PVM behaviour of spec eoi.md §7 (an EOI exit held back while the
 * vCPU halts) stays judged right where no PVM host is at hand, and a standard
 * host (the exit comes at the EOI; recorded under Debian 6.1's kvm_amd) is
 * never judged as one.
 */
#include <string.h>

#include "kvm/probe_verdict.h"
#include "../harness.h"

/*
 * Recorded on a PVM host (Linux 6.18.44-fc-v1300, KVM with the EOI flags),
 * lapis 0.1.0: the children `lapis probe --verbose` runs, their stdout and
 * stderr as they printed them. halt_eoi with `wd=0 n=20`; recovery off, it
 * was stopped by SIGTERM at the probe's 3 s bound (exit status 8).
 */
static const char pvm_halt_off_out[] =
    "# halt_eoi: 20 deliveries of a level line held high, idling in sti; hlt\n";
static const char pvm_halt_off_err[] =
    "lapis: stopped by SIGTERM\n"
    "lapis: stats: mode=enable irqchip=split ioapic=0x20 cpus=1 exits.io=153 exits.mmio=4 "
    "exits.eoi=0 exits.intr=1 exits.hlt=0 exits.other=0 irqs=1 eoi.exit=0 eoi.eoir=0 "
    "eoi.ignored=0 eoi.svr12=0 recoveries=0 throttled=0 unknown.pio=0 unknown.mmio=0 "
    "ioapic.bad_access=0 ioapic.bad_selector=0 ioapic.bad_vector=0 ioapic.eoir_ignored=0 "
    "eoi.bad=0 status=8\n";
static const char pvm_halt_on_err[] =
    "lapis: stats: mode=enable irqchip=split ioapic=0x20 cpus=1 exits.io=568 exits.mmio=14 "
    "exits.eoi=20 exits.intr=17 exits.hlt=0 exits.other=0 irqs=20 eoi.exit=20 eoi.eoir=0 "
    "eoi.ignored=0 eoi.svr12=0 recoveries=17 throttled=0 unknown.pio=0 unknown.mmio=0 "
    "ioapic.bad_access=0 ioapic.bad_selector=0 ioapic.bad_vector=0 ioapic.eoir_ignored=0 "
    "eoi.bad=0 status=0\n";

/* The probe guest, --ioapic-version 0x20, on the same host: the four §4 rows. */
static const char pvm_quirk_out[] =
    "probe x2apic=1 lvr=0x01050014 lvr_directed_eoi=1 svr12_sticks=1 ioapic_version=0x20 "
    "ioapic_pins=24\n"
    "probe eoi_exit_svr12_clear=1 eoi_exit_with_svr12=1 deliveries_svr12_clear=2 "
    "deliveries_with_svr12=2 spurious=0\n"
    "probe done\n";
static const char pvm_quirk_err[] =
    "lapis: stats: mode=quirk irqchip=split ioapic=0x20 cpus=1 exits.io=469 exits.mmio=32 "
    "exits.eoi=4 exits.intr=0 exits.hlt=0 exits.other=0 irqs=4 eoi.exit=4 eoi.eoir=0 "
    "eoi.ignored=0 eoi.svr12=2 recoveries=0 throttled=0 unknown.pio=0 unknown.mmio=0 "
    "ioapic.bad_access=0 ioapic.bad_selector=0 ioapic.bad_vector=0 ioapic.eoir_ignored=0 "
    "eoi.bad=0 status=0\n";
static const char pvm_enable_out[] =
    "probe x2apic=1 lvr=0x01050014 lvr_directed_eoi=1 svr12_sticks=1 ioapic_version=0x20 "
    "ioapic_pins=24\n"
    "probe eoi_exit_svr12_clear=1 eoi_exit_with_svr12=0 deliveries_svr12_clear=2 "
    "deliveries_with_svr12=1 spurious=0\n"
    "probe done\n";
static const char pvm_enable_err[] =
    "lapis: stats: mode=enable irqchip=split ioapic=0x20 cpus=1 exits.io=468 exits.mmio=33 "
    "exits.eoi=2 exits.intr=0 exits.hlt=0 exits.other=0 irqs=3 eoi.exit=2 eoi.eoir=1 "
    "eoi.ignored=0 eoi.svr12=0 recoveries=0 throttled=0 unknown.pio=0 unknown.mmio=0 "
    "ioapic.bad_access=0 ioapic.bad_selector=0 ioapic.bad_vector=0 ioapic.eoir_ignored=0 "
    "eoi.bad=0 status=0\n";
static const char pvm_disable_out[] =
    "probe x2apic=1 lvr=0x00050014 lvr_directed_eoi=0 svr12_sticks=0 ioapic_version=0x20 "
    "ioapic_pins=24\n"
    "probe eoi_exit_svr12_clear=1 eoi_exit_with_svr12=na deliveries_svr12_clear=2 "
    "deliveries_with_svr12=0 spurious=0\n"
    "probe done\n";
static const char pvm_disable_err[] =
    "lapis: stats: mode=disable irqchip=split ioapic=0x20 cpus=1 exits.io=464 exits.mmio=18 "
    "exits.eoi=2 exits.intr=0 exits.hlt=0 exits.other=0 irqs=2 eoi.exit=2 eoi.eoir=0 "
    "eoi.ignored=0 eoi.svr12=0 recoveries=0 throttled=0 unknown.pio=0 unknown.mmio=0 "
    "ioapic.bad_access=0 ioapic.bad_selector=0 ioapic.bad_vector=0 ioapic.eoir_ignored=0 "
    "eoi.bad=0 status=0\n";
static const char pvm_kernel_out[] =
    "probe x2apic=1 lvr=0x00050014 lvr_directed_eoi=0 svr12_sticks=0 ioapic_version=0x11 "
    "ioapic_pins=24\n"
    "probe eoi_exit_svr12_clear=1 eoi_exit_with_svr12=na deliveries_svr12_clear=2 "
    "deliveries_with_svr12=0 spurious=0\n"
    "probe done\n";
static const char pvm_kernel_err[] =
    "lapis: stats: mode=quirk irqchip=kernel ioapic=0x11 cpus=1 exits.io=464 exits.mmio=0 "
    "exits.eoi=0 exits.intr=0 exits.hlt=0 exits.other=0 irqs=1 eoi.exit=0 eoi.eoir=0 "
    "eoi.ignored=0 eoi.svr12=0 recoveries=0 throttled=0 unknown.pio=0 unknown.mmio=0 "
    "status=0\n";

/*
 * Recorded on a standard KVM host: Debian's 6.1.0-50-amd64 with kvm_amd,
 * nested in QEMU TCG (spec §9), no EOI flags (KVM_CAP_X2APIC_API 0x3), the
 * same lapis and the same commands. The EOI exit comes at the EOI: halt_eoi
 * finishes with recovery off as on, and nothing is recovered.
 */
static const char std_halt_off_out[] =
    "# halt_eoi: 20 deliveries of a level line held high, idling in sti; hlt\n"
    "ok 1 - 20 of 20 deliveries (1 wake-ups from hlt)\n"
    "ok 2 - Remote IRR clear after the line was lowered (entry 0x8040)\n"
    "halt_eoi: 20 deliveries through sti; hlt: every held-back EOI exit was recovered\n"
    "1..2\n";
static const char std_halt_off_err[] =
    "lapis: stats: mode=enable-emulated irqchip=split ioapic=0x20 cpus=1 exits.io=566 "
    "exits.mmio=14 exits.eoi=19 exits.intr=0 exits.hlt=0 exits.other=0 irqs=19 "
    "eoi.exit=19 eoi.eoir=0 eoi.ignored=0 eoi.svr12=0 recoveries=0 throttled=0 "
    "unknown.pio=0 unknown.mmio=0 ioapic.bad_access=0 ioapic.bad_selector=0 "
    "ioapic.bad_vector=0 ioapic.eoir_ignored=0 eoi.bad=0 status=0\n";
static const char std_halt_on_out[] =
    "# halt_eoi: 20 deliveries of a level line held high, idling in sti; hlt\n"
    "ok 1 - 20 of 20 deliveries (1 wake-ups from hlt)\n"
    "ok 2 - Remote IRR clear after the line was lowered (entry 0x8040)\n"
    "halt_eoi: 20 deliveries through sti; hlt: every held-back EOI exit was recovered\n"
    "1..2\n";
static const char std_halt_on_err[] =
    "lapis: stats: mode=enable-emulated irqchip=split ioapic=0x20 cpus=1 exits.io=566 "
    "exits.mmio=14 exits.eoi=20 exits.intr=0 exits.hlt=0 exits.other=0 irqs=20 "
    "eoi.exit=20 eoi.eoir=0 eoi.ignored=0 eoi.svr12=0 recoveries=0 throttled=0 "
    "unknown.pio=0 unknown.mmio=0 ioapic.bad_access=0 ioapic.bad_selector=0 "
    "ioapic.bad_vector=0 ioapic.eoir_ignored=0 eoi.bad=0 status=0\n";
static const char std_quirk_out[] =
    "probe x2apic=1 lvr=0x01050014 lvr_directed_eoi=1 svr12_sticks=1 ioapic_version=0x20 "
    "ioapic_pins=24\n"
    "probe eoi_exit_svr12_clear=1 eoi_exit_with_svr12=1 deliveries_svr12_clear=2 "
    "deliveries_with_svr12=2 spurious=0\n"
    "probe done\n";
static const char std_quirk_err[] =
    "lapis: stats: mode=quirk irqchip=split ioapic=0x20 cpus=1 exits.io=469 exits.mmio=32 "
    "exits.eoi=4 exits.intr=0 exits.hlt=0 exits.other=0 irqs=4 eoi.exit=4 eoi.eoir=0 "
    "eoi.ignored=0 eoi.svr12=2 recoveries=0 throttled=0 unknown.pio=0 unknown.mmio=0 "
    "ioapic.bad_access=0 ioapic.bad_selector=0 ioapic.bad_vector=0 ioapic.eoir_ignored=0 "
    "eoi.bad=0 status=0\n";
static const char std_kernel_out[] =
    "probe x2apic=1 lvr=0x00050014 lvr_directed_eoi=0 svr12_sticks=0 ioapic_version=0x11 "
    "ioapic_pins=24\n"
    "probe eoi_exit_svr12_clear=1 eoi_exit_with_svr12=na deliveries_svr12_clear=2 "
    "deliveries_with_svr12=0 spurious=0\n"
    "probe done\n";
static const char std_kernel_err[] =
    "lapis: stats: mode=quirk irqchip=kernel ioapic=0x11 cpus=1 exits.io=464 exits.mmio=0 "
    "exits.eoi=0 exits.intr=0 exits.hlt=0 exits.other=0 irqs=1 eoi.exit=0 eoi.eoir=0 "
    "eoi.ignored=0 eoi.svr12=0 recoveries=0 throttled=0 unknown.pio=0 unknown.mmio=0 "
    "status=0\n";

static void verdict(struct lapis_probe_halt *off, struct lapis_probe_halt *on,
                    enum lapis_probe_answer *held_back, enum lapis_probe_answer *recovery)
{
    *held_back = *recovery = (enum lapis_probe_answer)99;
    lapis_probe_halt_verdict(off, on, held_back, recovery);
}

static void test_pvm_held_back(void)
{
    struct lapis_probe_halt off = {.timeout_ms = 3000}, on = {.timeout_ms = 15000};
    enum lapis_probe_answer held, rec;

    (void)pvm_halt_off_out; /* what the guest printed; the verdict reads lapis's stderr */
    lapis_probe_halt_record(&off, 8, true, pvm_halt_off_err);
    lapis_probe_halt_record(&on, 0, false, pvm_halt_on_err);
    CHECK(off.ran && off.have_stats && on.ran && on.have_stats);
    CHECK_EQ(off.irqs, 1);
    CHECK_EQ(off.eoi_exits, 0);
    CHECK_EQ(off.recoveries, 0);
    CHECK_EQ(on.irqs, 20);
    CHECK_EQ(on.eoi_exits, 20);
    CHECK_EQ(on.recoveries, 17);
    verdict(&off, &on, &held, &rec);
    CHECK_EQ(held, LAPIS_PROBE_YES);
    CHECK_EQ(rec, LAPIS_PROBE_YES);
    CHECK_STR(off.error, "");
    CHECK_STR(on.error, "");
}

static void test_standard_host_nothing_held_back(void)
{
    struct lapis_probe_halt off = {.timeout_ms = 3000}, on = {.timeout_ms = 15000};
    enum lapis_probe_answer held, rec;

    (void)std_halt_off_out;
    (void)std_halt_on_out;
    lapis_probe_halt_record(&off, 0, false, std_halt_off_err);
    lapis_probe_halt_record(&on, 0, false, std_halt_on_err);
    CHECK(off.have_stats && on.have_stats);
    CHECK_EQ(off.eoi_exits, off.irqs); /* every EOI exit came */
    CHECK_EQ(on.irqs, 20);
    CHECK_EQ(on.recoveries, 0);
    verdict(&off, &on, &held, &rec);
    CHECK_EQ(held, LAPIS_PROBE_NO);
    CHECK_EQ(rec, LAPIS_PROBE_NA); /* nothing to recover */
    CHECK_STR(off.error, "");
    CHECK_STR(on.error, "");

    /* A recovery that happened anyway still counts as one that worked. */
    struct lapis_probe_halt on2 = on;
    on2.recoveries = 1;
    verdict(&off, &on2, &held, &rec);
    CHECK_EQ(held, LAPIS_PROBE_NO);
    CHECK_EQ(rec, LAPIS_PROBE_YES);

    /* The PVM stall against this host's finish: each run decides its own answer. */
    struct lapis_probe_halt pvm_off = {.timeout_ms = 3000};
    lapis_probe_halt_record(&pvm_off, 8, true, pvm_halt_off_err);
    verdict(&pvm_off, &on, &held, &rec);
    CHECK_EQ(held, LAPIS_PROBE_YES);
    CHECK_EQ(rec, LAPIS_PROBE_UNKNOWN); /* held back, yet finished without a recovery */
}

static void test_undecided_runs(void)
{
    struct lapis_probe_halt off, on;
    enum lapis_probe_answer held, rec;

    /* Stalled, but lapis printed no statistics (SIGKILLed): no verdict. */
    memset(&off, 0, sizeof(off));
    memset(&on, 0, sizeof(on));
    lapis_probe_halt_record(&off, 137, true, "");
    lapis_probe_halt_record(&on, 0, false, pvm_halt_on_err);
    verdict(&off, &on, &held, &rec);
    CHECK_EQ(held, LAPIS_PROBE_UNKNOWN);
    CHECK_STR(off.error, "halt_eoi stalled, but lapis printed no statistics");
    CHECK_EQ(rec, LAPIS_PROBE_YES);

    /* Stalled with every EOI exit in: not §7, something else. */
    memset(&off, 0, sizeof(off));
    lapis_probe_halt_record(&off, 8, true, std_halt_on_err);
    verdict(&off, &on, &held, &rec);
    CHECK_EQ(held, LAPIS_PROBE_UNKNOWN);
    CHECK_STR(off.error, "halt_eoi stalled, but not on a missing EOI exit");

    /* Failed fast (a crash): no verdict. */
    memset(&off, 0, sizeof(off));
    lapis_probe_halt_record(&off, 6, false, "lapis: guest crashed\n");
    verdict(&off, &on, &held, &rec);
    CHECK_EQ(held, LAPIS_PROBE_UNKNOWN);
    CHECK_STR(off.error, "halt_eoi exited with status 6");

    /* A run that never happened says nothing either way. */
    memset(&off, 0, sizeof(off));
    memset(&on, 0, sizeof(on));
    verdict(&off, &on, &held, &rec);
    CHECK_EQ(held, LAPIS_PROBE_UNKNOWN);
    CHECK_EQ(rec, LAPIS_PROBE_UNKNOWN);

    /* Held back, then recovery on stalls too: recovery does not work. */
    memset(&off, 0, sizeof(off));
    memset(&on, 0, sizeof(on));
    lapis_probe_halt_record(&off, 8, true, pvm_halt_off_err);
    lapis_probe_halt_record(&on, 8, true, pvm_halt_off_err);
    verdict(&off, &on, &held, &rec);
    CHECK_EQ(held, LAPIS_PROBE_YES);
    CHECK_EQ(rec, LAPIS_PROBE_NO);
    CHECK_STR(on.error, "halt_eoi stalled with recovery on");

    /* Held back, yet finished with recovery on and no recovery: unexplained. */
    memset(&on, 0, sizeof(on));
    lapis_probe_halt_record(&on, 0, false, std_halt_on_err);
    verdict(&off, &on, &held, &rec);
    CHECK_EQ(held, LAPIS_PROBE_YES);
    CHECK_EQ(rec, LAPIS_PROBE_UNKNOWN);
    CHECK(strstr(on.error, "no recovery") != NULL);

    /* A message already there is kept. */
    memset(&off, 0, sizeof(off));
    snprintf(off.error, sizeof(off.error), "keep me");
    lapis_probe_halt_record(&off, 6, false, "");
    verdict(&off, &on, &held, &rec);
    CHECK_STR(off.error, "keep me");
}

struct mode_want {
    const char *name, *out, *err;
    enum lapis_probe_answer lvr24, sticks, eoi0, eoi1;
    unsigned d0, d1;
    uint64_t eoi_exits;
    uint32_t lvr;
    unsigned ioapic;
};

/* The recorded rows are spec §4's table, row by row, on both hosts. */
static void test_pvm_mode_rows(void)
{
    const enum lapis_probe_answer Y = LAPIS_PROBE_YES, N = LAPIS_PROBE_NO, NA = LAPIS_PROBE_NA;
    const struct mode_want rows[] = {
        {"quirk/split", pvm_quirk_out, pvm_quirk_err, Y, Y, Y, Y, 2, 2, 4, 0x01050014, 0x20},
        {"enable/split", pvm_enable_out, pvm_enable_err, Y, Y, Y, N, 2, 1, 2, 0x01050014, 0x20},
        {"disable/split", pvm_disable_out, pvm_disable_err, N, N, Y, NA, 2, 0, 2, 0x00050014, 0x20},
        {"quirk/kernel", pvm_kernel_out, pvm_kernel_err, N, N, Y, NA, 2, 0, 0, 0x00050014, 0x11},
        /* Debian 6.1 runs only these two: the same answers, as §4 says. */
        {"6.1 quirk/split", std_quirk_out, std_quirk_err, Y, Y, Y, Y, 2, 2, 4, 0x01050014, 0x20},
        {"6.1 quirk/kernel", std_kernel_out, std_kernel_err, N, N, Y, NA, 2, 0, 0, 0x00050014,
         0x11},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct mode_want *w = &rows[i];
        struct lapis_probe_mode m;

        memset(&m, 0, sizeof(m));
        harness_current = w->name;
        lapis_probe_mode_record(&m, 0, false, w->out, w->err);
        CHECK(m.ran && m.x2apic);
        CHECK_STR(m.error, "");
        CHECK_EQ(m.lvr, w->lvr);
        CHECK_EQ(m.ioapic_version, w->ioapic);
        CHECK_EQ(m.lvr_directed_eoi, w->lvr24);
        CHECK_EQ(m.svr12_sticks, w->sticks);
        CHECK_EQ(m.eoi_svr12_clear, w->eoi0);
        CHECK_EQ(m.eoi_with_svr12, w->eoi1);
        CHECK_EQ(m.deliveries_svr12_clear, w->d0);
        CHECK_EQ(m.deliveries_with_svr12, w->d1);
        CHECK_EQ(m.eoi_exits, w->eoi_exits);
    }
    harness_current = "test_pvm_mode_rows";
}

static void test_mode_without_result(void)
{
    struct lapis_probe_mode m;

    /* Exit 0 but no result line: said so. */
    memset(&m, 0, sizeof(m));
    lapis_probe_mode_record(&m, 0, false, "probe x2apic=1\n", "");
    CHECK_STR(m.error, "the probe guest printed no result");
    CHECK_EQ(m.eoi_svr12_clear, LAPIS_PROBE_UNKNOWN);
    /* A failed run: left for the caller, who has the whole output to describe. */
    memset(&m, 0, sizeof(m));
    lapis_probe_mode_record(&m, 6, false, "", "lapis: guest crashed\n");
    CHECK(m.ran);
    CHECK_STR(m.error, "");
    CHECK_EQ(m.status, 6);
    /* Unknown words are not answers. */
    memset(&m, 0, sizeof(m));
    lapis_probe_mode_record(&m, 0, false, "probe eoi_exit_svr12_clear=maybe lvr_directed_eoi=10\n",
                            "");
    CHECK_EQ(m.eoi_svr12_clear, LAPIS_PROBE_UNKNOWN);
    CHECK_EQ(m.lvr_directed_eoi, LAPIS_PROBE_UNKNOWN);
}

static void test_line_parsing(void)
{
    const char *buf = "probe a=1 b=0x10\r\nother a=7\nprobe a=2 c=\nprobe  d=5";
    char v[4];
    uint64_t n = 0;

    CHECK(lapis_probe_line_u64(buf, "probe ", "a", &n));
    CHECK_EQ(n, 2); /* the last line that has it */
    CHECK(lapis_probe_line_u64(buf, "probe ", "b", &n));
    CHECK_EQ(n, 0x10);
    CHECK(lapis_probe_line_u64(buf, "probe ", "d", &n));
    CHECK_EQ(n, 5);
    CHECK(!lapis_probe_line_u64(buf, "probe ", "c", &n)); /* empty */
    CHECK(!lapis_probe_line_u64(buf, "probe ", "e", &n));
    CHECK(!lapis_probe_line_u64(buf, "probe ", "", &n));
    CHECK(lapis_probe_line_value("probe k=abcdef", "probe ", "k", v, sizeof(v)));
    CHECK_STR(v, "abc"); /* cut to the buffer */
    CHECK(!lapis_probe_line_value("probex k=1", "probe ", "k", v, sizeof(v)));
    CHECK(!lapis_probe_line_value("probe kk=1", "probe ", "k", v, sizeof(v)));
    CHECK(!lapis_probe_line_value(NULL, "probe ", "k", v, sizeof(v)));
    CHECK(!lapis_probe_line_u64("probe n=12x", "probe ", "n", &n));
    CHECK(!lapis_probe_line_u64("probe n=99999999999999999999999", "probe ", "n", &n));
}

int main(void)
{
    RUN_TEST(test_pvm_held_back);
    RUN_TEST(test_standard_host_nothing_held_back);
    RUN_TEST(test_undecided_runs);
    RUN_TEST(test_pvm_mode_rows);
    RUN_TEST(test_mode_without_result);
    RUN_TEST(test_line_parsing);
    return harness_finish("probe_verdict");
}
