/* SPDX-License-Identifier: MIT */
/*
 * The VM: RAM, vCPU threads, the run loop and exit dispatch, stopping, and the
 * statistics line. Interrupt-controller work is delegated to irqchip.c.
 */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "snapshot.h"
#include "userapic.h"
#include "x86_setup.h"

/* Kicks a vCPU thread out of KVM_RUN; the handler does nothing. */
#define KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
    (void)sig;
}

/* ---- creation -------------------------------------------------------------------------- */

int lapis_vm_ram_map(struct lapis_guest_ram *ram, uint64_t total, struct lapis_err *err)
{
    uint64_t low = total < LAPIS_RAM_LOW_MAX ? total : LAPIS_RAM_LOW_MAX;
    uint64_t high = total - low;
    void *p;

    memset(ram, 0, sizeof(*ram));
    p = mmap(NULL, low, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno,
                             "cannot map %" PRIu64 "M of guest RAM: %s (try a smaller --memory)",
                             low >> 20, strerror(errno));
    ram->low = p;
    ram->low_size = low;
    if (high) {
        /* Above 3 GiB sits the MMIO hole (IOAPIC, LAPIC); the rest goes above 4 GiB. */
        p = mmap(NULL, high, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            lapis_vm_ram_unmap(ram);
            return lapis_err_set(err, LAPIS_ERR_HOST, e,
                                 "cannot map %" PRIu64 "M of guest RAM: %s (try a smaller "
                                 "--memory)",
                                 high >> 20, strerror(e));
        }
        ram->high = p;
        ram->high_size = high;
    }
    return 0;
}

void lapis_vm_ram_unmap(struct lapis_guest_ram *ram)
{
    if (ram->low)
        munmap(ram->low, ram->low_size);
    if (ram->high)
        munmap(ram->high, ram->high_size);
    memset(ram, 0, sizeof(*ram));
}

/* Hands vm->ram to KVM (slot 0 below the hole, slot 1 above 4 GiB). */
static int register_ram(struct lapis_vm *vm, struct lapis_err *err)
{
    struct kvm_userspace_memory_region region;

    memset(&region, 0, sizeof(region));
    region.slot = 0;
    region.guest_phys_addr = 0;
    region.memory_size = vm->ram.low_size;
    region.userspace_addr = (uintptr_t)vm->ram.low;
    if (lapis_kvm_ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "KVM_SET_USER_MEMORY_REGION failed: %s",
                             strerror(errno));
    if (vm->ram.high) {
        region.slot = 1;
        region.guest_phys_addr = LAPIS_RAM_HIGH_BASE;
        region.memory_size = vm->ram.high_size;
        region.userspace_addr = (uintptr_t)vm->ram.high;
        if (lapis_kvm_ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
            return lapis_err_set(err, LAPIS_ERR_HOST, errno,
                                 "KVM_SET_USER_MEMORY_REGION (above 4G) failed: %s",
                                 strerror(errno));
    }
    return 0;
}

static int create_vcpu(struct lapis_vm *vm, unsigned index, struct lapis_err *err)
{
    struct lapis_vcpu *v = &vm->vcpus[index];
    void *run;
    int r;

    v->vm = vm;
    v->index = index;
    v->fd = lapis_kvm_ioctl(vm->fd, KVM_CREATE_VCPU, (void *)(uintptr_t)index);
    if (v->fd < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "KVM_CREATE_VCPU %u failed: %s", index,
                             strerror(errno));
    fcntl(v->fd, F_SETFD, FD_CLOEXEC);
    lapis_irqchip_vcpu_created(&vm->irqchip);
    run = mmap(NULL, (size_t)vm->kvm.vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (run == MAP_FAILED)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "cannot map vCPU %u's run area: %s", index,
                             strerror(errno));
    v->run = run;
    /* After the X2APIC_API flags, so KVM computes LVR with them (§4). */
    r = lapis_x86_set_cpuid(v->fd, vm->cpuid, index, vm->params.cpus, err);
    if (!r && vm->irqchip.user)
        r = lapis_userapic_vcpu_init(vm->irqchip.user, v, err);
    return r;
}

int lapis_vm_create(const struct lapis_vm_params *params, struct lapis_guest_ram *ram,
                    struct lapis_vm **out, struct lapis_err *err)
{
    struct lapis_vm *vm;
    int r;

    *out = NULL;
    if (params->cpus < 1 || params->cpus > LAPIS_VM_MAX_CPUS)
        r = lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL, "--cpus must be 1..%u", LAPIS_VM_MAX_CPUS);
    else if (ram && lapis_ram_total(ram) != params->memory)
        r = lapis_err_set(err, LAPIS_ERR_HOST, EINVAL, "guest RAM does not match --memory");
    else if (!(vm = calloc(1, sizeof(*vm))))
        r = lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory");
    else
        r = 0;
    if (r) {
        if (ram)
            lapis_vm_ram_unmap(ram);
        return r;
    }
    vm->params = *params;
    if (ram) { /* taken over: lapis_vm_destroy() unmaps it */
        vm->ram = *ram;
        memset(ram, 0, sizeof(*ram));
    }
    vm->trace_exits = getenv("LAPIS_TRACE") && strstr(getenv("LAPIS_TRACE"), "exit");
    vm->fd = -1;
    vm->kvm.fd = -1;
    vm->stop_eventfd = -1;
    for (unsigned i = 0; i < LAPIS_VM_MAX_CPUS; i++)
        vm->vcpus[i].fd = -1;
    pthread_mutex_init(&vm->stop_lock, NULL);
    lapis_iobus_init(&vm->pio, "port", true);
    lapis_iobus_init(&vm->mmio, "mmio", false);
    *out = vm;

    r = lapis_kvm_open(&vm->kvm, err);
    if (r)
        return r;
    vm->fd = lapis_kvm_ioctl(vm->kvm.fd, KVM_CREATE_VM, NULL);
    if (vm->fd < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "KVM_CREATE_VM failed: %s",
                             strerror(errno));
    fcntl(vm->fd, F_SETFD, FD_CLOEXEC);
    /* VMX without unrestricted guest needs it for real mode (AP start-up); others ignore it. */
    lapis_kvm_ioctl(vm->fd, KVM_SET_TSS_ADDR, (void *)0xFFFBD000UL);
    vm->stop_eventfd = eventfd(0, EFD_CLOEXEC);
    if (vm->stop_eventfd < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "eventfd failed: %s", strerror(errno));
    r = lapis_x86_supported_cpuid(vm->kvm.fd, &vm->cpuid, err);
    if (r)
        return r;
    if (params->hide_emulator_gaps)
        lapis_x86_cpuid_hide_emulator_gaps(vm->cpuid);
    if (!vm->ram.low && (r = lapis_vm_ram_map(&vm->ram, params->memory, err)))
        return r;
    r = register_ram(vm, err);
    if (r)
        return r;

    /* Irqchip and EOI flags before any vCPU exists (§2, §4). */
    if (params->user_irqchip)
        r = lapis_userapic_create(vm, err);
    else
        r = lapis_irqchip_init(&vm->irqchip, vm, vm->fd, params->kernel_irqchip,
                               params->ioapic_version, params->eoi, err);
    vm->irqchip_ready = true; /* destroy it even when init failed half-way */
    if (r)
        return r;
    if (lapis_irqchip_warning(&vm->irqchip))
        fprintf(stderr, "lapis: warning: %s\n", lapis_irqchip_warning(&vm->irqchip));
    r = lapis_board_init(&vm->board, vm, err);
    vm->board_ready = true;
    if (r)
        return r;
    for (unsigned i = 0; i < params->cpus; i++) {
        r = create_vcpu(vm, i, err);
        if (r)
            return r;
        vm->ncpus = i + 1;
    }
    if (params->verbose)
        fprintf(stderr,
                "lapis: irqchip %s, IOAPIC 0x%02x, X2APIC_API caps 0x%lx, EOI suppression %s "
                "(asked %s, enabled flags 0x%llx), %u vCPU(s), %" PRIu64 "M RAM\n",
                lapis_irqchip_kind_name(&vm->irqchip), vm->irqchip.ioapic_version,
                vm->irqchip.x2apic_api_caps, lapis_irqchip_mode_name(&vm->irqchip),
                params->eoi == LAPIS_EOI_REQ_AUTO      ? "auto"
                : params->eoi == LAPIS_EOI_REQ_ENABLE  ? "enable"
                : params->eoi == LAPIS_EOI_REQ_DISABLE ? "disable"
                                                       : "quirk",
                (unsigned long long)vm->irqchip.x2apic_api_flags, vm->ncpus, params->memory >> 20);
    return 0;
}

void lapis_vm_destroy(struct lapis_vm *vm)
{
    if (!vm)
        return;
    lapis_snapshot_detach(vm);
    if (vm->irqchip_ready)
        lapis_irqchip_destroy(&vm->irqchip);
    if (vm->board_ready)
        lapis_board_destroy(&vm->board);
    for (unsigned i = 0; i < LAPIS_VM_MAX_CPUS; i++) {
        struct lapis_vcpu *v = &vm->vcpus[i];
        if (v->run)
            munmap(v->run, (size_t)vm->kvm.vcpu_mmap_size);
        if (v->fd >= 0)
            close(v->fd);
    }
    if (vm->fd >= 0)
        close(vm->fd);
    lapis_vm_ram_unmap(&vm->ram);
    if (vm->stop_eventfd >= 0)
        close(vm->stop_eventfd);
    lapis_kvm_close(&vm->kvm);
    free(vm->cpuid);
    pthread_mutex_destroy(&vm->stop_lock);
    free(vm);
}

const struct lapis_guest_ram *lapis_vm_ram(const struct lapis_vm *vm)
{
    return &vm->ram;
}

int lapis_vm_set_boot_state(struct lapis_vm *vm, const struct lapis_boot_state *bs,
                            struct lapis_err *err)
{
    return lapis_x86_set_boot_state(vm->vcpus[0].fd, bs, err);
}

/* ---- stopping and kicking -------------------------------------------------------------- */

static void kick(struct lapis_vcpu *v)
{
    /* immediate_exit closes the race with a vCPU about to enter KVM_RUN. */
    __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&v->started, __ATOMIC_ACQUIRE))
        pthread_kill(v->thread, KICK_SIGNAL);
}

void lapis_vm_kick_vcpu(struct lapis_vcpu *v)
{
    kick(v);
}

bool lapis_vm_stopping(const struct lapis_vm *vm)
{
    return __atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE);
}

void lapis_vm_stop(struct lapis_vm *vm, int status, const char *fmt, ...)
{
    va_list ap;
    uint64_t one = 1;

    pthread_mutex_lock(&vm->stop_lock);
    if (vm->stopping) {
        pthread_mutex_unlock(&vm->stop_lock);
        return;
    }
    vm->stop_status = status;
    va_start(ap, fmt);
    vsnprintf(vm->stop_msg, sizeof(vm->stop_msg), fmt, ap);
    va_end(ap);
    __atomic_store_n(&vm->stopping, true, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&vm->stop_lock);
    for (unsigned i = 0; i < vm->ncpus; i++)
        kick(&vm->vcpus[i]);
    if (write(vm->stop_eventfd, &one, sizeof(one)) < 0) {
        /* the counter cannot overflow with one write per stop */
    }
}

void lapis_vm_watch_vcpus(struct lapis_vm *vm, uint64_t now_ns)
{
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct lapis_vcpu *v = &vm->vcpus[i];
        uint64_t seq = __atomic_load_n(&v->run_seq, __ATOMIC_RELAXED);
        if (seq != v->wd_seq || !v->wd_quiet_since) {
            v->wd_seq = seq;
            v->wd_quiet_since = now_ns;
        }
    }
}

void lapis_vm_request_recovery(struct lapis_vm *vm, const struct lapis_msi *dest, uint8_t vector,
                               uint64_t now_ns, uint64_t quiet_ns)
{
    /* Physical, non-broadcast destinations name one vCPU; anything else may be any. */
    bool one = !dest->dest_logical && dest->dest != 0xFF;

    if (vm->params.no_eoi_recovery)
        return;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct lapis_vcpu *v = &vm->vcpus[i];
        if (one && dest->dest != i)
            continue;
        if (now_ns - v->wd_quiet_since < quiet_ns)
            continue;
        __atomic_fetch_or(&v->recover[vector / 64], 1ull << (vector % 64), __ATOMIC_SEQ_CST);
        __atomic_fetch_add(&vm->irqchip.stats.recovery_kicks, 1, __ATOMIC_RELAXED);
        kick(v);
    }
}

/* ---- exits ----------------------------------------------------------------------------- */

static uint64_t vcpu_rip(struct lapis_vcpu *v)
{
    struct kvm_regs regs;
    if (lapis_kvm_ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
        return ~0ull;
    return regs.rip;
}

static void handle_io(struct lapis_vcpu *v)
{
    struct kvm_run *run = v->run;
    unsigned size = run->io.size;
    uint32_t count = run->io.count;
    uint64_t off = run->io.data_offset;
    size_t page = (size_t)v->vm->kvm.vcpu_mmap_size;
    bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

    /* The run page is shared with the kernel, but check what we index with. */
    if ((size != 1 && size != 2 && size != 4) || count == 0 || off < sizeof(*run) || off > page ||
        count > (page - off) / size) {
        v->bad_exits++;
        lapis_vm_stop(v->vm, LAPIS_STATUS_HOST,
                      "vCPU %u: KVM reported a port access with size %u, count %u, offset %llu",
                      v->index, size, count, (unsigned long long)off);
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *data = (uint8_t *)run + off + (size_t)i * size;
        uint64_t val = 0;

        if (is_write)
            memcpy(&val, data, size);
        lapis_iobus_access(&v->vm->pio, run->io.port, size, is_write, &val);
        if (!is_write)
            memcpy(data, &val, size);
    }
}

static void handle_mmio(struct lapis_vcpu *v)
{
    struct kvm_run *run = v->run;
    unsigned len = run->mmio.len;
    uint64_t val = 0;

    if (len == 0 || len > 8) {
        v->bad_exits++;
        lapis_vm_stop(v->vm, LAPIS_STATUS_HOST, "vCPU %u: KVM reported an MMIO access of %u bytes",
                      v->index, len);
        return;
    }
    if (len & (len - 1)) {
        /*
         * 3, 5, 6 or 7 bytes: KVM's fragment of a guest access that crosses a
         * page. The guest's doing, not a host failure: hand it on byte by byte.
         */
        for (unsigned i = 0; i < len; i++) {
            uint64_t b = run->mmio.data[i];
            lapis_iobus_access(&v->vm->mmio, run->mmio.phys_addr + i, 1, run->mmio.is_write, &b);
            if (!run->mmio.is_write)
                run->mmio.data[i] = (uint8_t)b;
        }
        return;
    }
    if (run->mmio.is_write)
        memcpy(&val, run->mmio.data, len);
    lapis_iobus_access(&v->vm->mmio, run->mmio.phys_addr, len, run->mmio.is_write, &val);
    if (!run->mmio.is_write)
        memcpy(run->mmio.data, &val, len);
}

static const char *internal_suberror(uint32_t s)
{
    switch (s) {
    case KVM_INTERNAL_ERROR_EMULATION:
        return "emulation failure";
    case KVM_INTERNAL_ERROR_SIMUL_EX:
        return "exception while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
        return "event delivery failed";
    default:
        return "internal error";
    }
}

static void handle_exit(struct lapis_vcpu *v)
{
    struct kvm_run *run = v->run;
    struct lapis_vm *vm = v->vm;

    if (vm->trace_exits) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        fprintf(stderr, "lapis: exit %ld.%06ld vCPU %u reason %u", (long)ts.tv_sec % 1000,
                ts.tv_nsec / 1000, v->index, run->exit_reason);
        if (run->exit_reason == KVM_EXIT_IO)
            fprintf(stderr, " port 0x%x %s 0x%x", run->io.port,
                    run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
                    run->io.direction == KVM_EXIT_IO_OUT ? *((uint8_t *)run + run->io.data_offset)
                                                         : 0);
        fprintf(stderr, "\n");
    }

    /* --irqchip user: the LAPIC's exits (its MMIO page, MSRs, HLT, windows, TPR). */
    if (vm->irqchip.user && lapis_userapic_handle_exit(vm->irqchip.user, v))
        return;

    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        v->exits[LAPIS_EXIT_IO]++;
        handle_io(v);
        break;
    case KVM_EXIT_MMIO:
        v->exits[LAPIS_EXIT_MMIO]++;
        handle_mmio(v);
        break;
    case KVM_EXIT_IOAPIC_EOI:
        v->exits[LAPIS_EXIT_EOI]++;
        lapis_irqchip_eoi_exit(&vm->irqchip, v, run->eoi.vector);
        break;
    case KVM_EXIT_INTR:
        v->exits[LAPIS_EXIT_INTR]++;
        break;
    case KVM_EXIT_HLT:
        v->exits[LAPIS_EXIT_HLT]++;
        break;
    case KVM_EXIT_SHUTDOWN:
        v->exits[LAPIS_EXIT_OTHER]++;
        if (vm->params.triple_fault_reboots) /* Linux's last reboot method (CONTRIBUTING.md) */
            lapis_vm_stop(vm, LAPIS_STATUS_POWEROFF,
                          "guest rebooted (triple fault on vCPU %u at RIP 0x%llx)", v->index,
                          (unsigned long long)vcpu_rip(v));
        else
            lapis_vm_stop(
                vm, LAPIS_STATUS_CRASH,
                "guest crashed: triple fault (KVM_EXIT_SHUTDOWN) on vCPU %u at RIP 0x%llx",
                v->index, (unsigned long long)vcpu_rip(v));
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        v->exits[LAPIS_EXIT_OTHER]++;
        lapis_vm_stop(vm, LAPIS_STATUS_CRASH,
                      "guest crashed: KVM internal error, suberror %u (%s) on vCPU %u at RIP "
                      "0x%llx",
                      run->internal.suberror, internal_suberror(run->internal.suberror), v->index,
                      (unsigned long long)vcpu_rip(v));
        break;
    case KVM_EXIT_FAIL_ENTRY:
        v->exits[LAPIS_EXIT_OTHER]++;
        lapis_vm_stop(vm, LAPIS_STATUS_CRASH,
                      "guest crashed: VM entry failed, reason 0x%llx, on vCPU %u at RIP 0x%llx",
                      (unsigned long long)run->fail_entry.hardware_entry_failure_reason, v->index,
                      (unsigned long long)vcpu_rip(v));
        break;
    case KVM_EXIT_SYSTEM_EVENT:
        v->exits[LAPIS_EXIT_OTHER]++;
        if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
            lapis_vm_stop(vm, LAPIS_STATUS_POWEROFF, "%s", "");
        else if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
            lapis_vm_stop(vm, LAPIS_STATUS_POWEROFF, "the guest asked for a reset on vCPU %u",
                          v->index);
        else
            lapis_vm_stop(vm, LAPIS_STATUS_CRASH,
                          "guest crashed: system event %u on vCPU %u at RIP 0x%llx",
                          run->system_event.type, v->index, (unsigned long long)vcpu_rip(v));
        break;
    default:
        v->exits[LAPIS_EXIT_OTHER]++;
        lapis_vm_stop(vm, LAPIS_STATUS_HOST, "vCPU %u: unexpected KVM exit reason %u at RIP 0x%llx",
                      v->index, run->exit_reason, (unsigned long long)vcpu_rip(v));
        break;
    }
}

/*
 * A save (snapshot.c) wants every vCPU out of KVM_RUN with its last exit
 * completed: KVM_RUN with immediate_exit finishes the exit's I/O without
 * running the guest (KVM's api.rst), then the thread waits for the save.
 */
static void pause_point(struct lapis_vcpu *v)
{
    while (!lapis_vm_stopping(v->vm)) {
        __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
        if (lapis_kvm_run(v->fd) == 0) {
            handle_exit(v); /* completing it made another exit (a split MMIO access) */
            continue;
        }
        if (errno != EINTR && errno != EAGAIN) {
            lapis_vm_stop(v->vm, LAPIS_STATUS_HOST, "KVM_RUN on vCPU %u failed: %s", v->index,
                          strerror(errno));
            return;
        }
        lapis_snapshot_vcpu_paused(v->vm->snap, v);
        return;
    }
}

void lapis_vm_kick_all(struct lapis_vm *vm)
{
    for (unsigned i = 0; i < vm->ncpus; i++)
        kick(&vm->vcpus[i]);
}

static void *vcpu_main(void *arg)
{
    struct lapis_vcpu *v = arg;
    struct lapis_vm *vm = v->vm;
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, KICK_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    for (;;) {
        uint64_t want[4];
        bool any = false;

        /* Clear before looking at requests: a kick after this point makes KVM_RUN return. */
        __atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
        if (lapis_vm_stopping(vm))
            break;
        if (vm->snap && lapis_snapshot_pause_requested(vm->snap)) {
            pause_point(v);
            continue;
        }
        /*
         * A load first, the locked exchange only for a word with a request in
         * it: four locked RMWs per exit otherwise. A request missed by the
         * load was set after it, so its kick's immediate_exit = 1 comes after
         * the store above and the next KVM_RUN returns at once.
         */
        for (unsigned i = 0; i < 4; i++) {
            want[i] = __atomic_load_n(&v->recover[i], __ATOMIC_SEQ_CST)
                          ? __atomic_exchange_n(&v->recover[i], 0, __ATOMIC_SEQ_CST)
                          : 0;
            any |= want[i] != 0;
        }
        if (any)
            lapis_irqchip_vcpu_recover(&vm->irqchip, v, want);
        /* --irqchip user: HLT / wait-for-SIPI block here; INIT, SIPI, injection. */
        if (vm->irqchip.user && lapis_userapic_before_run(vm->irqchip.user, v) < 0)
            break;

        int r = lapis_kvm_run(v->fd);
        __atomic_store_n(&v->run_seq, v->run_seq + 1, __ATOMIC_RELAXED);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                v->exits[LAPIS_EXIT_INTR]++;
                continue;
            }
            lapis_vm_stop(vm, LAPIS_STATUS_HOST, "KVM_RUN on vCPU %u failed: %s", v->index,
                          strerror(errno));
            break;
        }
        handle_exit(v);
    }
    return NULL;
}

/* ---- running --------------------------------------------------------------------------- */

int lapis_vm_run(struct lapis_vm *vm, char *msg, size_t msglen)
{
    struct sigaction sa;
    sigset_t stopsigs, old;
    struct lapis_err err = {0};
    int sfd = -1, r;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = kick_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(KICK_SIGNAL, &sa, NULL);

    /* SIGINT/SIGTERM go to a signalfd here; every other thread inherits them blocked. */
    sigemptyset(&stopsigs);
    sigaddset(&stopsigs, SIGINT);
    sigaddset(&stopsigs, SIGTERM);
    if (vm->snap)
        sigaddset(&stopsigs, SIGUSR2); /* save and stop (snapshot.h) */
    sigaddset(&stopsigs, KICK_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &stopsigs, &old);
    sigdelset(&stopsigs, KICK_SIGNAL);
    sfd = signalfd(-1, &stopsigs, SFD_CLOEXEC);
    if (sfd < 0)
        lapis_vm_stop(vm, LAPIS_STATUS_HOST, "signalfd failed: %s", strerror(errno));

    if (!lapis_vm_stopping(vm) && lapis_irqchip_start(&vm->irqchip, &err))
        lapis_vm_stop(vm, LAPIS_STATUS_HOST, "%s", err.msg);
    for (unsigned i = 0; i < vm->ncpus && !lapis_vm_stopping(vm); i++) {
        struct lapis_vcpu *v = &vm->vcpus[i];
        r = pthread_create(&v->thread, NULL, vcpu_main, v);
        if (r) {
            lapis_vm_stop(vm, LAPIS_STATUS_HOST, "cannot start vCPU %u's thread: %s", i,
                          strerror(r));
            break;
        }
        __atomic_store_n(&v->started, true, __ATOMIC_RELEASE);
        if (lapis_vm_stopping(vm))
            kick(v); /* it may have missed the stop's kick */
    }

    while (!lapis_vm_stopping(vm)) {
        struct pollfd pfd[3] = {
            {.fd = vm->stop_eventfd, .events = POLLIN},
            {.fd = sfd, .events = POLLIN},
            {.fd = vm->snap ? lapis_snapshot_fd(vm->snap) : -1, .events = POLLIN}};
        if (poll(pfd, 3, -1) < 0 && errno != EINTR) {
            lapis_vm_stop(vm, LAPIS_STATUS_HOST, "poll failed: %s", strerror(errno));
            break;
        }
        if (pfd[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGUSR2)
                    lapis_snapshot_request(vm->snap, LAPIS_SNAPSHOT_REQ_STOP);
                else
                    lapis_vm_stop(vm, LAPIS_STATUS_SIGNAL, "stopped by %s",
                                  si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
            }
        }
        if (pfd[2].revents & POLLIN)
            lapis_snapshot_service(vm);
    }

    lapis_userapic_wake_all(vm->irqchip.user); /* vCPUs blocked in HLT or wait-for-SIPI */
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct lapis_vcpu *v = &vm->vcpus[i];
        if (!v->started)
            continue;
        kick(v);
        pthread_join(v->thread, NULL);
        v->started = false;
    }
    lapis_irqchip_stop(&vm->irqchip);
    if (sfd >= 0)
        close(sfd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    pthread_mutex_lock(&vm->stop_lock);
    snprintf(msg, msglen, "%s", vm->stop_msg);
    r = vm->stop_status;
    pthread_mutex_unlock(&vm->stop_lock);
    return r;
}

/* ---- statistics ------------------------------------------------------------------------ */

void lapis_vm_format_stats(const struct lapis_vm *vm, char *buf, size_t len)
{
    const struct lapis_irqchip *ic = &vm->irqchip;
    uint64_t exits[LAPIS_EXIT_KINDS] = {0}, eoir = 0, throttled = 0, delivered;

    for (unsigned i = 0; i < vm->ncpus; i++)
        for (unsigned k = 0; k < LAPIS_EXIT_KINDS; k++)
            exits[k] += vm->vcpus[i].exits[k];
    if (!ic->kernel) {
        eoir = ic->ioapic.stats.eoi_eoir;
        throttled = ic->ioapic.stats.throttled;
    }
    delivered = __atomic_load_n(&ic->stats.irqs, __ATOMIC_RELAXED);
    snprintf(buf, len,
             "stats: mode=%s irqchip=%s ioapic=0x%02x cpus=%u exits.io=%" PRIu64
             " exits.mmio=%" PRIu64 " exits.eoi=%" PRIu64 " exits.intr=%" PRIu64
             " exits.hlt=%" PRIu64 " exits.other=%" PRIu64 " irqs=%" PRIu64 " eoi.exit=%" PRIu64
             " eoi.eoir=%" PRIu64 " eoi.ignored=%" PRIu64 " eoi.svr12=%" PRIu64
             " recoveries=%" PRIu64 " throttled=%" PRIu64 " unknown.pio=%" PRIu64
             " unknown.mmio=%" PRIu64 " refused.pio=%" PRIu64,
             lapis_irqchip_mode_name(ic), lapis_irqchip_kind_name(ic), ic->ioapic_version,
             vm->ncpus, exits[LAPIS_EXIT_IO], exits[LAPIS_EXIT_MMIO], exits[LAPIS_EXIT_EOI],
             exits[LAPIS_EXIT_INTR], exits[LAPIS_EXIT_HLT], exits[LAPIS_EXIT_OTHER], delivered,
             ic->stats.eoi_exits, eoir, ic->stats.eoi_ignored, ic->stats.eoi_svr12,
             ic->stats.recoveries, throttled, vm->pio.unknown_reads + vm->pio.unknown_writes,
             vm->mmio.unknown_reads + vm->mmio.unknown_writes,
             __atomic_load_n(&vm->pio.refused, __ATOMIC_RELAXED));
    if (!ic->kernel) {
        /* What a guest did wrong to the IOAPIC: ignored, and counted. */
        const struct lapis_ioapic_stats *io = &ic->ioapic.stats;
        size_t n = strlen(buf);
        snprintf(buf + n, len - n,
                 " ioapic.bad_access=%" PRIu64 " ioapic.bad_selector=%" PRIu64
                 " ioapic.bad_vector=%" PRIu64 " ioapic.eoir_ignored=%" PRIu64 " eoi.bad=%" PRIu64,
                 io->bad_access, io->bad_selector, io->bad_vector, io->eoir_ignored,
                 ic->stats.eoi_bad);
    }
    if (ic->user) {
        size_t n = strlen(buf);
        lapis_userapic_format_stats(ic->user, buf + n, len - n);
    }
}
