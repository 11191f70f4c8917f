/* SPDX-License-Identifier: MIT */
/* The JSON statistics object (stats.h). Read once, after every vCPU thread has stopped. */
#include "stats.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm.h"

static const char *const exit_names[LAPIS_EXIT_KINDS] = {
    [LAPIS_EXIT_IO] = "io",     [LAPIS_EXIT_MMIO] = "mmio", [LAPIS_EXIT_EOI] = "ioapic_eoi",
    [LAPIS_EXIT_INTR] = "intr", [LAPIS_EXIT_HLT] = "hlt",   [LAPIS_EXIT_OTHER] = "other",
};

/* Bytes of [p, p + len) backed by host pages (mincore), 0 if unknown. */
static uint64_t resident(const void *p, uint64_t len)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t pages;
    unsigned char *vec;
    uint64_t n = 0;

    if (!p || !len || page <= 0)
        return 0;
    pages = (size_t)((len + (uint64_t)page - 1) / (uint64_t)page);
    vec = malloc(pages);
    if (!vec)
        return 0;
    if (mincore((void *)p, (size_t)len, vec) == 0)
        for (size_t i = 0; i < pages; i++)
            n += vec[i] & 1;
    free(vec);
    return n * (uint64_t)page;
}

void lapis_vm_print_stats_json(const struct lapis_vm *vm, int status, FILE *f)
{
    const struct lapis_irqchip *ic = &vm->irqchip;
    uint64_t exits[LAPIS_EXIT_KINDS] = {0}, ioctls[LAPIS_IOCTL_KINDS], total = 0;
    uint64_t start = lapis_kvm_start_ns(), first = lapis_kvm_first_run_ns();

    for (unsigned i = 0; i < vm->ncpus; i++)
        for (unsigned k = 0; k < LAPIS_EXIT_KINDS; k++)
            exits[k] += vm->vcpus[i].exits[k];
    lapis_kvm_ioctl_counts(ioctls);

    fprintf(f,
            "{\"status\":%d,\"mode\":\"%s\",\"irqchip\":\"%s\",\"ioapic_version\":%u,\"cpus\":%u",
            status, lapis_irqchip_mode_name(ic), lapis_irqchip_kind_name(ic), ic->ioapic_version,
            vm->ncpus);
    fprintf(f, ",\"memory\":%" PRIu64, vm->params.memory);
    fputs(",\"exits\":{", f);
    for (unsigned k = 0; k < LAPIS_EXIT_KINDS; k++) {
        fprintf(f, "\"%s\":%" PRIu64 ",", exit_names[k], exits[k]);
        total += exits[k];
    }
    fprintf(f, "\"total\":%" PRIu64 "}", total);
    total = 0;
    fputs(",\"ioctls\":{", f);
    for (unsigned k = 0; k < LAPIS_IOCTL_KINDS; k++) {
        fprintf(f, "\"%s\":%" PRIu64 ",", lapis_kvm_ioctl_name(k), ioctls[k]);
        total += ioctls[k];
    }
    fprintf(f, "\"total\":%" PRIu64 "}", total);
    fprintf(f,
            ",\"irq\":{\"irqs\":%" PRIu64 ",\"irq_errors\":%" PRIu64 ",\"route_updates\":%" PRIu64
            ",\"eoi_exits\":%" PRIu64 ",\"eoi_svr12\":%" PRIu64 ",\"eoi_ignored\":%" PRIu64
            ",\"eoi_eoir\":%" PRIu64 ",\"redeliveries\":%" PRIu64 ",\"throttled\":%" PRIu64
            ",\"recovery_kicks\":%" PRIu64 ",\"recoveries\":%" PRIu64 "}",
            ic->stats.irqs, ic->stats.irq_errors, ic->stats.route_updates, ic->stats.eoi_exits,
            ic->stats.eoi_svr12, ic->stats.eoi_ignored, ic->kernel ? 0 : ic->ioapic.stats.eoi_eoir,
            ic->kernel ? 0 : ic->ioapic.stats.redeliveries,
            ic->kernel ? 0 : ic->ioapic.stats.throttled, ic->stats.recovery_kicks,
            ic->stats.recoveries);
    fprintf(f, ",\"unknown\":{\"pio\":%" PRIu64 ",\"mmio\":%" PRIu64 "}",
            vm->pio.unknown_reads + vm->pio.unknown_writes,
            vm->mmio.unknown_reads + vm->mmio.unknown_writes);
    fprintf(f, ",\"guest_ram_resident\":%" PRIu64,
            resident(vm->ram.low, vm->ram.low_size) + resident(vm->ram.high, vm->ram.high_size));
    /* CLOCK_MONOTONIC, so a parent can measure from its fork() too. */
    fprintf(f,
            ",\"start_ns\":%" PRIu64 ",\"first_kvm_run_ns\":%" PRIu64
            ",\"start_to_first_kvm_run_ns\":%" PRIu64 "}\n",
            start, first, first && start ? first - start : 0);
}

void lapis_vm_stats_from_env(const struct lapis_vm *vm, int status)
{
    const char *what = getenv("LAPIS_STATS"), *path = getenv("LAPIS_STATS_FILE");
    FILE *f;

    if (!vm || !what || strcmp(what, "json") != 0)
        return;
    if (!path || !*path) {
        lapis_vm_print_stats_json(vm, status, stderr);
        return;
    }
    f = fopen(path, "we");
    if (!f) {
        fprintf(stderr, "lapis: cannot write LAPIS_STATS_FILE '%s': check the path\n", path);
        return;
    }
    lapis_vm_print_stats_json(vm, status, f);
    fclose(f);
}
