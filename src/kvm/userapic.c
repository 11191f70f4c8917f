/* SPDX-License-Identifier: MIT */
/*
 * --irqchip user (userapic.h): lapis's LAPIC models on KVM with no irqchip in
 * the kernel. In order:
 *   1. routing: IOAPIC messages and IPIs to the LAPIC models, and the model
 *      callbacks (EOI broadcast, timer, kick);
 *   2. the timer thread (every LAPIC timer, and the IOAPIC storm throttle);
 *   3. the vCPU side: INIT/SIPI, HLT, injection, CR8, MMIO and MSR exits;
 *   4. creation and statistics.
 * Facts: spec eoi.md §8 (what this host's KVM does without an irqchip).
 */
#include "userapic.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "x86_setup.h"

/* vm.c's kick signal: it interrupts a vCPU blocked in sleep_cpu() too. */
#define KICK_SIGNAL SIGUSR1

#define MSR_IA32_TSC          0x10u
#define MSR_IA32_TSC_DEADLINE 0x6E0u

/*
 * The timer thread's passes are at least this far apart unless a new timer is
 * armed: a periodic timer of a few counts then coalesces in the model (as a
 * late host timer would) instead of keeping the thread, and the lock, busy.
 * KVM clamps such periods to 200 us for the same reason.
 */
#define TIMER_MIN_GAP_NS 50000ull

/*
 * An interrupt that cannot be injected yet waits for an event KVM should
 * report: an interrupt window (KVM_EXIT_IRQ_WINDOW_OPEN) or a lowered CR8
 * (KVM_EXIT_SET_TPR). This host emulates guest kernel code (spec eoi.md §7):
 * a lowered CR8 makes no exit at all, and an "sti" opens the window only at
 * the next exit, which may be a host tick away. While an interrupt waits,
 * the vCPU is kicked this often to look again.
 */
#define POLL_NS 1000000ull

/* KVM_CAP_X86_USER_SPACE_MSR: invalid MSRs (x2APIC) and filtered ones (APIC_BASE, deadline). */
#define USER_MSR_REASONS (KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_FILTER)

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void trace_line(const struct lapis_userapic *ua, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void trace_line(const struct lapis_userapic *ua, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    uint64_t t = mono_ns() - ua->trace_start;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fprintf(stderr, "lapis: irq %6llu.%06llu %s\n", (unsigned long long)(t / 1000000000ull),
            (unsigned long long)(t / 1000ull % 1000000ull), buf);
}

/* LAPIS_TRACE=irq: every injection, EOI broadcast and INIT/SIPI. */
#define TRACE(ua, ...)                                                                             \
    do {                                                                                           \
        if ((ua)->trace)                                                                           \
            trace_line(ua, __VA_ARGS__);                                                           \
    } while (0)

static void lock(struct lapis_userapic *ua)
{
    pthread_mutex_lock(&ua->ic->lock);
}

static void unlock(struct lapis_userapic *ua)
{
    pthread_mutex_unlock(&ua->ic->lock);
}

/* ---- 1. Routing and model callbacks (all under ic->lock) ------------------------------- */

/*
 * Lowest priority: the matching LAPIC with the lowest arbitration priority,
 * ties broken round-robin (SDM 11.6.2.4 leaves the choice to the chipset).
 */
static struct lapis_lapic *pick_lowest(struct lapis_userapic *ua, const bool *match)
{
    struct lapis_lapic *best = NULL;
    unsigned best_apr = 256, best_i = 0;

    for (unsigned k = 0; k < ua->ncpus; k++) {
        unsigned i = (ua->lowest_next + k) % ua->ncpus;
        unsigned apr;

        if (!match[i])
            continue;
        apr = lapis_lapic_get_apr(&ua->cpus[i].apic);
        if (apr < best_apr) {
            best_apr = apr;
            best = &ua->cpus[i].apic;
            best_i = i;
        }
    }
    if (best) {
        ua->lowest_next = (best_i + 1) % ua->ncpus;
        ua->lowest_picks++;
    }
    return best;
}

/* An IOAPIC message: 8-bit destination, physical or logical, never a shorthand. */
static void ioapic_deliver(void *opaque, unsigned pin, const struct lapis_msi *msg)
{
    struct lapis_userapic *ua = opaque;
    bool match[LAPIS_VM_MAX_CPUS];
    unsigned n = 0;

    __atomic_fetch_add(&ua->ic->stats.irqs, 1, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < ua->ncpus; i++) {
        struct lapis_lapic *apic = &ua->cpus[i].apic;
        uint32_t dest = msg->dest;

        /* 0xFF is a broadcast to x2APIC-mode LAPICs too (lapic.h; KVM's kvm_apic_mda). */
        if (dest == LAPIS_XAPIC_BROADCAST && lapis_lapic_mode(apic) == LAPIS_LAPIC_X2APIC)
            dest = LAPIS_X2APIC_BROADCAST;
        match[i] = lapis_lapic_match_dest(apic, dest, msg->dest_logical, LAPIS_IPI_DEST, 0);
        n += match[i];
    }
    TRACE(ua, "deliver pin %u vector 0x%02x dest %u%s%s to %u LAPIC(s)", pin, msg->vector,
          msg->dest, msg->dest_logical ? " logical" : "", msg->level_triggered ? " level" : " edge",
          n);
    if (!n) {
        ua->nobody++;
        return;
    }
    if (msg->delivery_mode == LAPIS_DM_LOWEST) {
        struct lapis_lapic *apic = pick_lowest(ua, match);
        lapis_lapic_deliver(apic, msg->delivery_mode, msg->vector, msg->level_triggered);
        return;
    }
    for (unsigned i = 0; i < ua->ncpus; i++)
        if (match[i])
            lapis_lapic_deliver(&ua->cpus[i].apic, msg->delivery_mode, msg->vector,
                                msg->level_triggered);
}

static void ioapic_timer_arm(void *opaque, uint64_t delay_ns)
{
    struct lapis_userapic *ua = opaque;
    uint64_t d = mono_ns() + delay_ns;

    ua->ioapic_deadline = d ? d : 1;
    if (ua->ioapic_deadline < ua->timer_sleep_until)
        pthread_cond_signal(&ua->timer_wake);
}

static const struct lapis_ioapic_ops ioapic_ops = {
    .deliver = ioapic_deliver,
    .timer_arm = ioapic_timer_arm,
};

static void lapic_eoi_broadcast(void *opaque, uint8_t vector)
{
    struct lapis_userapic_cpu *cpu = opaque;

    /* Straight to the IOAPIC: no exit, so no EOI can be held back (spec §7). */
    TRACE(cpu->ua, "EOI broadcast vCPU %u vector 0x%02x", cpu->vcpu->index, vector);
    lapis_ioapic_eoi(&cpu->ua->ic->ioapic, vector, LAPIS_EOI_FROM_BROADCAST);
}

static void lapic_send_ipi(void *opaque, const struct lapis_lapic_ipi *ipi)
{
    struct lapis_userapic_cpu *cpu = opaque;
    struct lapis_userapic *ua = cpu->ua;

    if (ipi->delivery_mode == LAPIS_DM_LOWEST) {
        bool match[LAPIS_VM_MAX_CPUS];
        struct lapis_lapic *apic;

        for (unsigned i = 0; i < ua->ncpus; i++)
            match[i] = lapis_lapic_match_dest(&ua->cpus[i].apic, ipi->dest, ipi->dest_logical,
                                              ipi->shorthand, ipi->source_id);
        apic = pick_lowest(ua, match);
        if (apic)
            lapis_lapic_deliver(apic, LAPIS_DM_LOWEST, ipi->vector, false);
        else
            ua->nobody++;
        return;
    }
    for (unsigned i = 0; i < ua->ncpus; i++)
        lapis_lapic_accept_ipi(&ua->cpus[i].apic, ipi);
}

static void lapic_timer_arm(void *opaque, uint64_t deadline_ns)
{
    struct lapis_userapic_cpu *cpu = opaque;
    struct lapis_userapic *ua = cpu->ua;

    cpu->timer_deadline = deadline_ns;
    /* The thread rescans before it sleeps; wake it only if it sleeps past this. */
    if (deadline_ns && deadline_ns < ua->timer_sleep_until)
        pthread_cond_signal(&ua->timer_wake);
}

static uint64_t lapic_now_ns(void *opaque)
{
    (void)opaque;
    return mono_ns();
}

static void wake_cpu(struct lapis_userapic_cpu *cpu)
{
    uint64_t one = 1;

    /* An eventfd stays readable until read: no wake-up is lost. */
    if (cpu->wake_fd >= 0 && write(cpu->wake_fd, &one, sizeof(one)) < 0) {
        /* full (2^64 - 2 unread wake-ups): it is readable anyway */
    }
}

/* Something became pending for this vCPU: wake it where it waits. */
static void lapic_kick(void *opaque)
{
    struct lapis_userapic_cpu *cpu = opaque;

    if (cpu->sleeping)
        wake_cpu(cpu);
    else if (!(cpu->thread_known && pthread_equal(cpu->thread, pthread_self())))
        lapis_vm_kick_vcpu(cpu->vcpu); /* out of KVM_RUN; its own thread looks before the next */
}

static const struct lapis_lapic_ops lapic_ops = {
    .eoi_broadcast = lapic_eoi_broadcast,
    .send_ipi = lapic_send_ipi,
    .timer_arm = lapic_timer_arm,
    .now_ns = lapic_now_ns,
    .kick = lapic_kick,
};

/* ---- 2. The timer thread ---------------------------------------------------------------- */

/* Runs what is due; returns the next deadline (0: none). Called with ic->lock held. */
static uint64_t run_timers(struct lapis_userapic *ua, uint64_t now)
{
    uint64_t next = 0;

    for (unsigned i = 0; i < ua->ncpus; i++) {
        struct lapis_userapic_cpu *cpu = &ua->cpus[i];
        if (cpu->timer_deadline && cpu->timer_deadline <= now) {
            cpu->timer_deadline = 0;
            lapis_lapic_timer_expired(&cpu->apic); /* may re-arm (periodic) */
        }
        if (cpu->poll_at && cpu->poll_at <= now) {
            /* before_run() looks again (CR8, IF), and asks again if it must wait on. */
            cpu->poll_at = 0;
            cpu->stats.polls++;
            lapic_kick(cpu);
        }
    }
    if (ua->ioapic_deadline && ua->ioapic_deadline <= now) {
        ua->ioapic_deadline = 0;
        lapis_ioapic_timer_expired(&ua->ic->ioapic);
    }
    for (unsigned i = 0; i < ua->ncpus; i++) {
        uint64_t d = ua->cpus[i].timer_deadline, p = ua->cpus[i].poll_at;
        if (d && (!next || d < next))
            next = d;
        if (p && (!next || p < next))
            next = p;
    }
    if (ua->ioapic_deadline && (!next || ua->ioapic_deadline < next))
        next = ua->ioapic_deadline;
    return next;
}

static void *timer_main(void *arg)
{
    struct lapis_userapic *ua = arg;
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    lock(ua);
    while (!ua->timer_stop) {
        uint64_t now = mono_ns(), next = run_timers(ua, now);

        ua->timer_wakeups++;
        if (next && next < now + TIMER_MIN_GAP_NS)
            next = now + TIMER_MIN_GAP_NS;
        ua->timer_sleep_until = next ? next : UINT64_MAX;
        if (next) {
            struct timespec ts = {.tv_sec = (time_t)(next / 1000000000ull),
                                  .tv_nsec = (long)(next % 1000000000ull)};
            pthread_cond_timedwait(&ua->timer_wake, &ua->ic->lock, &ts);
        } else {
            pthread_cond_wait(&ua->timer_wake, &ua->ic->lock);
        }
        ua->timer_sleep_until = 0;
    }
    unlock(ua);
    return NULL;
}

int lapis_userapic_start(struct lapis_userapic *ua, struct lapis_err *err)
{
    int r;

    if (ua->timer_started)
        return 0;
    ua->timer_stop = false;
    r = pthread_create(&ua->timer, NULL, timer_main, ua);
    if (r)
        return lapis_err_set(err, LAPIS_ERR_HOST, r, "cannot start the LAPIC timer thread: %s",
                             strerror(r));
    ua->timer_started = true;
    return 0;
}

void lapis_userapic_stop(struct lapis_userapic *ua)
{
    if (!ua || !ua->timer_started)
        return;
    lock(ua);
    ua->timer_stop = true;
    pthread_cond_signal(&ua->timer_wake);
    unlock(ua);
    pthread_join(ua->timer, NULL);
    ua->timer_started = false;
}

/* ---- 3. The vCPU side ------------------------------------------------------------------- */

void lapis_userapic_wake_all(struct lapis_userapic *ua)
{
    if (!ua)
        return;
    lock(ua);
    for (unsigned i = 0; i < ua->ncpus; i++)
        wake_cpu(&ua->cpus[i]);
    unlock(ua);
}

/*
 * Blocks the vCPU thread (ic->lock held, released while blocked) until an
 * event is posted (wake_cpu) or vm.c kicks it. The kick signal is blocked
 * from the check of immediate_exit (kick sets it before signalling) until
 * ppoll unblocks it atomically, so a kick is never missed either. Returns
 * false, without blocking, if the vCPU has been kicked.
 */
static bool sleep_cpu(struct lapis_userapic_cpu *cpu)
{
    struct pollfd pfd = {.fd = cpu->wake_fd, .events = POLLIN};
    sigset_t kick, during;
    uint64_t n;
    bool slept = false;

    sigemptyset(&kick);
    sigaddset(&kick, KICK_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &kick, &during);
    if (!__atomic_load_n(&cpu->vcpu->run->immediate_exit, __ATOMIC_SEQ_CST)) {
        cpu->sleeping = true;
        cpu->stats.sleeps++;
        unlock(cpu->ua);
        sigdelset(&during, KICK_SIGNAL);
        ppoll(&pfd, 1, NULL, &during); /* EINTR: kicked */
        if (read(cpu->wake_fd, &n, sizeof(n)) < 0) {
            /* nothing posted (a kick): EAGAIN */
        }
        lock(cpu->ua);
        cpu->sleeping = false;
        slept = true;
    }
    pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
    return slept;
}

/* HLT ends on an NMI, or an interrupt the CPU would take (IF set, above PPR). */
static bool halt_wakes(const struct lapis_userapic_cpu *cpu)
{
    const struct lapis_lapic *apic = &cpu->apic;

    return apic->nmi_pending || (cpu->vcpu->run->if_flag && lapis_lapic_pending_vector(apic) >= 0);
}

/*
 * The guest's CR8 -> the model's TPR. KVM applies run->cr8 at entry, and
 * reports the guest's CR8 after every return; a value that is neither what
 * we handed in nor what KVM had before (a KVM_RUN that returned before entry
 * leaves that) was written by the guest.
 */
static void cr8_from_kvm(struct lapis_userapic_cpu *cpu)
{
    uint8_t cr8 = (uint8_t)(cpu->vcpu->run->cr8 & 0xF);

    if (cr8 != cpu->cr8_written && cr8 != cpu->cr8_seen) {
        lapis_lapic_set_cr8(&cpu->apic, cr8);
        cpu->stats.cr8_syncs++;
    }
    cpu->cr8_seen = cr8;
}

/* INIT (power-on state) or SIPI (real mode at vector << 12, as QEMU and KVM do it). */
static int reset_vcpu(struct lapis_userapic_cpu *cpu, bool sipi, uint8_t vector)
{
    struct lapis_vcpu *v = cpu->vcpu;
    struct kvm_sregs sregs = cpu->reset_sregs;
    struct kvm_regs regs = cpu->reset_regs;
    struct kvm_vcpu_events ev;

    if (sipi) {
        sregs.cs.selector = (uint16_t)(vector << 8);
        sregs.cs.base = (uint64_t)vector << 12;
        regs.rip = 0;
    }
    /* Nothing half-delivered survives INIT: no queued interrupt, NMI or exception. */
    memset(&ev, 0, sizeof(ev));
    ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
    if (lapis_kvm_ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0 ||
        lapis_kvm_ioctl(v->fd, KVM_SET_REGS, &regs) < 0 ||
        lapis_kvm_ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0) {
        lapis_vm_stop(v->vm, LAPIS_STATUS_HOST, "vCPU %u: cannot apply %s: %s", v->index,
                      sipi ? "SIPI" : "INIT", strerror(errno));
        return -1;
    }
    return 0;
}

static int highest_vector(const uint32_t set[8])
{
    for (int i = 7; i >= 0; i--)
        if (set[i])
            return i * 32 + 31 - __builtin_clz(set[i]);
    return -1;
}

/* Is an IRR vector above the in-service class held back by TPR alone? */
static bool tpr_holds_back(const struct lapis_lapic *apic)
{
    int irr = highest_vector(apic->irr), isr = highest_vector(apic->isr);
    unsigned cls = (unsigned)irr & 0xF0u;

    return irr >= 0 && cls > (isr < 0 ? 0u : ((unsigned)isr & 0xF0u)) &&
           cls <= (lapis_lapic_get_tpr(apic) & 0xF0u);
}

/* Arms (@on) or drops the poll of @cpu (POLL_NS); ic->lock held. */
static void arm_poll(struct lapis_userapic_cpu *cpu, bool on)
{
    struct lapis_userapic *ua = cpu->ua;

    if (!on) {
        cpu->poll_at = 0;
        return;
    }
    if (cpu->poll_at)
        return;
    cpu->poll_at = mono_ns() + POLL_NS;
    if (cpu->poll_at < ua->timer_sleep_until)
        pthread_cond_signal(&ua->timer_wake);
}

enum cpu_state_change { STATE_KEEP = 0, STATE_INIT, STATE_SIPI };

int lapis_userapic_before_run(struct lapis_userapic *ua, struct lapis_vcpu *v)
{
    struct lapis_userapic_cpu *cpu = &ua->cpus[v->index];
    struct lapis_lapic *apic = &cpu->apic;
    struct kvm_run *run = v->run;
    enum cpu_state_change change = STATE_KEEP;
    uint8_t sipi_vector = 0;
    bool nmi, window = false;
    int vec;

    lock(ua);
    if (!cpu->thread_known) {
        cpu->thread = pthread_self();
        cpu->thread_known = true;
    }
    cr8_from_kvm(cpu);
    for (;;) {
        if (lapis_vm_stopping(ua->vm)) {
            unlock(ua);
            return -1;
        }
        if (lapis_lapic_take_init(apic)) {
            /* The BSP restarts at the reset vector, an AP waits for SIPI. */
            lapis_lapic_init_signal(apic);
            cpu->halted = false;
            cpu->wait_sipi = v->index != 0;
            change = STATE_INIT;
            cpu->stats.resets++;
            TRACE(ua, "INIT vCPU %u", v->index);
        }
        if (cpu->wait_sipi) {
            if (lapis_lapic_take_sipi(apic, &sipi_vector)) {
                cpu->wait_sipi = false;
                change = STATE_SIPI;
                cpu->stats.sipis++;
                TRACE(ua, "SIPI vCPU %u vector 0x%02x", v->index, sipi_vector);
                break;
            }
            /* Blocked in wait-for-SIPI: NMI and SMI are lost (SDM 8.4). */
            if (lapis_lapic_take_nmi(apic) || lapis_lapic_take_smi(apic))
                cpu->stats.dropped++;
            if (!sleep_cpu(cpu))
                goto kicked;
            continue;
        }
        if (lapis_lapic_take_sipi(apic, NULL))
            cpu->stats.dropped++; /* only a CPU waiting for SIPI takes one */
        if (cpu->halted && !halt_wakes(cpu)) {
            if (!sleep_cpu(cpu))
                goto kicked;
            continue;
        }
        cpu->halted = false;
        break;
    }
    if (lapis_lapic_take_smi(apic))
        cpu->stats.dropped++; /* no SMM here */
    nmi = lapis_lapic_take_nmi(apic);

    /* The model's TPR -> the guest's CR8. */
    cpu->cr8_written = lapis_lapic_get_cr8(apic);
    run->cr8 = cpu->cr8_written;

    /*
     * One vector per entry, acked only once KVM has it: the model stays the
     * one record of what is pending. run's flags are from the last return
     * (KVM refreshes them even when KVM_RUN returns early), and a queued
     * injection clears ready_for_interrupt_injection until it is delivered.
     */
    vec = lapis_lapic_pending_vector(apic);
    if (vec >= 0) {
        if (change == STATE_KEEP && run->ready_for_interrupt_injection && run->if_flag) {
            struct kvm_interrupt irq = {.irq = (uint32_t)vec};
            if (lapis_kvm_ioctl(v->fd, KVM_INTERRUPT, &irq) == 0) {
                lapis_lapic_ack(apic);
                cpu->stats.injections++;
                TRACE(ua, "inject vCPU %u vector 0x%02x", v->index, vec);
                window = lapis_lapic_pending_vector(apic) >= 0;
            } else {
                cpu->stats.inject_errors++;
                window = true;
            }
        } else {
            window = true;
        }
    }
    run->request_interrupt_window = window;
    arm_poll(cpu, window || (vec < 0 && tpr_holds_back(apic)));
    if (nmi && change == STATE_KEEP) {
        if (lapis_kvm_ioctl(v->fd, KVM_NMI, NULL) == 0)
            cpu->stats.nmis++;
        else
            cpu->stats.inject_errors++;
    } else if (nmi) {
        cpu->stats.dropped++;
    }
    unlock(ua);

    if (change != STATE_KEEP && reset_vcpu(cpu, change == STATE_SIPI, sipi_vector))
        return -1;
    return 0;

kicked:
    /*
     * vm.c wants this thread (a pause, say): KVM_RUN returns at once with
     * immediate_exit set, its loop looks, and the next call sleeps again.
     * An INIT or SIPI taken above is applied first, so none is lost.
     */
    unlock(ua);
    if (change != STATE_KEEP && reset_vcpu(cpu, change == STATE_SIPI, sipi_vector))
        return -1;
    return 0;
}

/*
 * The xAPIC page of this vCPU's LAPIC, if @addr is in it (ic->lock held).
 * Decoded in xAPIC mode only; otherwise the access goes to the bus and reads
 * all ones, as KVM's LAPIC answers there (its LAPIC_MMIO_HOLE quirk).
 */
static bool in_apic_page(const struct lapis_lapic *apic, uint64_t addr, uint64_t *offset)
{
    uint64_t base = lapis_lapic_mmio_base(apic);

    if (lapis_lapic_mode(apic) != LAPIS_LAPIC_XAPIC || addr < base ||
        addr - base >= LAPIS_LAPIC_MMIO_SIZE)
        return false;
    *offset = addr - base;
    return true;
}

static bool handle_mmio(struct lapis_userapic_cpu *cpu)
{
    struct kvm_run *run = cpu->vcpu->run;
    unsigned len = run->mmio.len;
    uint64_t off;
    uint32_t val = 0;

    lock(cpu->ua);
    if (!in_apic_page(&cpu->apic, run->mmio.phys_addr, &off)) {
        unlock(cpu->ua);
        return false;
    }
    cpu->vcpu->exits[LAPIS_EXIT_MMIO]++;
    cpu->stats.mmio_exits++;
    /* The model acts on aligned 32-bit accesses only, and counts the rest. */
    if (len > sizeof(run->mmio.data))
        len = sizeof(run->mmio.data);
    if (run->mmio.is_write) {
        memcpy(&val, run->mmio.data, len < 4 ? len : 4);
        lapis_lapic_mmio_write(&cpu->apic, off, len, val);
    } else {
        val = lapis_lapic_mmio_read(&cpu->apic, off, len);
        memset(run->mmio.data, 0, len);
        memcpy(run->mmio.data, &val, len < 4 ? len : 4);
    }
    unlock(cpu->ua);
    return true;
}

/* IA32_TSC_DEADLINE (guest TSC) -> CLOCK_MONOTONIC ns, on the vCPU's own thread. */
static uint64_t tsc_deadline_ns(struct lapis_userapic_cpu *cpu, uint64_t deadline)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e;
    } m;
    uint64_t tsc, now;
    unsigned __int128 ns;

    if (!deadline)
        return 0;
    memset(&m, 0, sizeof(m));
    m.hdr.nmsrs = 1;
    m.e.index = MSR_IA32_TSC;
    if (lapis_kvm_ioctl(cpu->vcpu->fd, KVM_GET_MSRS, &m) != 1 || !cpu->tsc_khz)
        return mono_ns(); /* cannot convert: fire now rather than never */
    tsc = m.e.data;
    now = mono_ns(); /* after the TSC read: the deadline cannot come early */
    TRACE(cpu->ua, "TSC deadline vCPU %u: 0x%llx, TSC now 0x%llx (%lld ticks ahead), %u kHz",
          cpu->vcpu->index, (unsigned long long)deadline, (unsigned long long)tsc,
          (long long)(deadline - tsc), cpu->tsc_khz);
    if (deadline <= tsc)
        return now;
    /* Rounded up, so the guest never sees its TSC short of the deadline. */
    ns = ((unsigned __int128)(deadline - tsc) * 1000000u + cpu->tsc_khz - 1) / cpu->tsc_khz;
    if (ns > UINT64_MAX / 2 - now)
        return UINT64_MAX / 2;
    return now + (uint64_t)ns;
}

static void handle_msr(struct lapis_userapic_cpu *cpu, bool write)
{
    struct kvm_run *run = cpu->vcpu->run;
    uint32_t index = run->msr.index;
    uint64_t val = write ? run->msr.data : 0, ns = 0;
    int r = -EINVAL;

    cpu->vcpu->exits[LAPIS_EXIT_OTHER]++;
    cpu->stats.msr_exits++;
    if (write && index == MSR_IA32_TSC_DEADLINE)
        ns = tsc_deadline_ns(cpu, val); /* an ioctl: outside the lock */
    lock(cpu->ua);
    if (index >= LAPIS_X2APIC_MSR_BASE && index <= LAPIS_X2APIC_MSR_LAST) {
        r = write ? lapis_lapic_msr_write(&cpu->apic, index, val)
                  : lapis_lapic_msr_read(&cpu->apic, index, &val);
    } else if (index == LAPIS_MSR_APIC_BASE) {
        if (write) {
            r = lapis_lapic_set_base(&cpu->apic, val);
        } else {
            val = lapis_lapic_get_base(&cpu->apic);
            r = 0;
        }
    } else if (index == MSR_IA32_TSC_DEADLINE) {
        /* As KVM: ignored outside TSC-deadline mode, reads 0 there and once it fired. */
        if (write) {
            r = lapis_lapic_set_tsc_deadline(&cpu->apic, ns);
            cpu->tsc_deadline_raw = val;
        } else {
            val = lapis_lapic_get_tsc_deadline(&cpu->apic) ? cpu->tsc_deadline_raw : 0;
            r = 0;
        }
    }
    /* Anything else KVM found invalid itself: #GP, as without user-space MSR exits. */
    unlock(cpu->ua);
    if (r) {
        cpu->stats.msr_gp++;
        run->msr.error = 1;
    } else {
        run->msr.error = 0;
        if (!write)
            run->msr.data = val;
    }
    TRACE(cpu->ua, "%s vCPU %u MSR 0x%x = 0x%llx%s (reason %u)", write ? "wrmsr" : "rdmsr",
          cpu->vcpu->index, index, (unsigned long long)val, r ? ": #GP" : "", run->msr.reason);
}

bool lapis_userapic_handle_exit(struct lapis_userapic *ua, struct lapis_vcpu *v)
{
    struct lapis_userapic_cpu *cpu = &ua->cpus[v->index];

    /* A guest MOV to CR8 must show in the TPR before this exit reads it. */
    if ((uint8_t)(v->run->cr8 & 0xF) != cpu->cr8_seen) {
        lock(ua);
        cr8_from_kvm(cpu);
        unlock(ua);
    }
    switch (v->run->exit_reason) {
    case KVM_EXIT_MMIO:
        return handle_mmio(cpu);
    case KVM_EXIT_HLT:
        /* No in-kernel LAPIC: HLT is ours. before_run() sleeps until an event. */
        v->exits[LAPIS_EXIT_HLT]++;
        lock(ua);
        cpu->halted = true;
        unlock(ua);
        return true;
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        v->exits[LAPIS_EXIT_OTHER]++;
        cpu->stats.irq_windows++;
        return true; /* before_run() injects */
    case KVM_EXIT_SET_TPR:
        v->exits[LAPIS_EXIT_OTHER]++;
        cpu->stats.tpr_exits++;
        return true; /* before_run() reads run->cr8 */
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR:
        handle_msr(cpu, v->run->exit_reason == KVM_EXIT_X86_WRMSR);
        return true;
    default:
        return false;
    }
}

/* ---- 4. Creation and statistics --------------------------------------------------------- */

static int enable_cap(int fd, uint32_t cap, uint64_t arg0)
{
    struct kvm_enable_cap ec = {.cap = cap};
    ec.args[0] = arg0;
    return lapis_kvm_ioctl(fd, KVM_ENABLE_CAP, &ec) < 0 ? -errno : 0;
}

/* IA32_APIC_BASE and IA32_TSC_DEADLINE: KVM would handle both itself; deny them to the guest. */
static int set_msr_filter(int vm_fd)
{
    static uint8_t deny; /* one MSR per range, bit clear: denied */
    struct kvm_msr_filter f;

    memset(&f, 0, sizeof(f));
    f.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
    f.ranges[0] = (struct kvm_msr_filter_range){.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
                                                .nmsrs = 1,
                                                .base = LAPIS_MSR_APIC_BASE,
                                                .bitmap = &deny};
    f.ranges[1] = f.ranges[0];
    f.ranges[1].base = MSR_IA32_TSC_DEADLINE;
    return lapis_kvm_ioctl(vm_fd, KVM_X86_SET_MSR_FILTER, &f) < 0 ? -errno : 0;
}

int lapis_userapic_create(struct lapis_vm *vm, struct lapis_err *err)
{
    struct lapis_userapic *ua = calloc(1, sizeof(*ua));
    pthread_condattr_t ca;
    int r;

    if (!ua)
        return lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory");
    ua->vm = vm;
    ua->ic = &vm->irqchip;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ua->timer_wake, &ca);
    pthread_condattr_destroy(&ca);
    ua->trace = getenv("LAPIS_TRACE") && strstr(getenv("LAPIS_TRACE"), "irq");
    ua->trace_start = mono_ns();

    /* The irqchip owns @ua from here on: lapis_irqchip_destroy() frees it. */
    r = lapis_irqchip_init_user(&vm->irqchip, vm, vm->fd, vm->params.ioapic_version, vm->params.eoi,
                                ua, &ioapic_ops, err);
    if (r)
        return r;
    if (lapis_kvm_check(vm->fd, KVM_CAP_X86_USER_SPACE_MSR) <= 0 ||
        lapis_kvm_check(vm->fd, KVM_CAP_X86_MSR_FILTER) <= 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, EOPNOTSUPP,
                             "--irqchip user needs KVM_CAP_X86_USER_SPACE_MSR and "
                             "KVM_CAP_X86_MSR_FILTER (Linux 5.10+): use --irqchip split");
    r = enable_cap(vm->fd, KVM_CAP_X86_USER_SPACE_MSR, USER_MSR_REASONS);
    if (r)
        return lapis_err_set(err, LAPIS_ERR_HOST, -r,
                             "KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR) failed: %s (use "
                             "--irqchip split)",
                             strerror(-r));
    r = set_msr_filter(vm->fd);
    if (r)
        return lapis_err_set(err, LAPIS_ERR_HOST, -r,
                             "KVM_X86_SET_MSR_FILTER failed: %s (use --irqchip split)",
                             strerror(-r));
    /* The model has a TSC-deadline timer: offer it (x2APIC is on for every mode). */
    lapis_x86_cpuid_set_feature(vm->cpuid, 1, LAPIS_CPUID_ECX, LAPIS_CPUID_1_ECX_TSC_DEADLINE,
                                true);
    return 0;
}

int lapis_userapic_vcpu_init(struct lapis_userapic *ua, struct lapis_vcpu *v, struct lapis_err *err)
{
    struct lapis_userapic_cpu *cpu = &ua->cpus[v->index];
    int r, khz;

    cpu->ua = ua;
    cpu->vcpu = v;
    cpu->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (cpu->wake_fd < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "eventfd failed: %s", strerror(errno));
    /* APIC ID = vCPU index, as CPUID says (x86_setup.c); x2APIC is in CPUID. */
    r = lapis_lapic_init(&cpu->apic, v->index, v->index == 0, &ua->ic->policy, true, &lapic_ops,
                         cpu);
    if (r)
        return lapis_err_set(err, LAPIS_ERR_HOST, -r, "LAPIC model of vCPU %u: bad set-up",
                             v->index);
    lapis_lapic_set_physbits(&cpu->apic, lapis_x86_cpuid_physbits(ua->vm->cpuid));
    cpu->wait_sipi = v->index != 0;
    if (lapis_kvm_ioctl(v->fd, KVM_GET_SREGS, &cpu->reset_sregs) < 0 ||
        lapis_kvm_ioctl(v->fd, KVM_GET_REGS, &cpu->reset_regs) < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno,
                             "vCPU %u: cannot read its power-on state: %s", v->index,
                             strerror(errno));
    khz = lapis_kvm_ioctl(v->fd, KVM_GET_TSC_KHZ, NULL);
    cpu->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
    ua->ncpus = v->index + 1;
    return 0;
}

void lapis_userapic_destroy(struct lapis_userapic *ua)
{
    if (!ua)
        return;
    lapis_userapic_stop(ua);
    for (unsigned i = 0; i < LAPIS_VM_MAX_CPUS; i++)
        if (ua->cpus[i].vcpu && ua->cpus[i].wake_fd >= 0)
            close(ua->cpus[i].wake_fd);
    pthread_cond_destroy(&ua->timer_wake);
    free(ua);
}

void lapis_userapic_format_stats(const struct lapis_userapic *ua, char *buf, size_t len)
{
    struct lapis_userapic_cpu_stats s = {0};
    uint64_t fires = 0, bcast = 0, suppressed = 0, ipis = 0, bad = 0;

    for (unsigned i = 0; i < ua->ncpus; i++) {
        const struct lapis_userapic_cpu_stats *c = &ua->cpus[i].stats;
        const struct lapis_lapic_stats *a = lapis_lapic_get_stats(&ua->cpus[i].apic);

        s.injections += c->injections;
        s.inject_errors += c->inject_errors;
        s.irq_windows += c->irq_windows;
        s.msr_exits += c->msr_exits;
        s.msr_gp += c->msr_gp;
        s.tpr_exits += c->tpr_exits;
        s.polls += c->polls;
        s.nmis += c->nmis;
        s.sleeps += c->sleeps;
        s.sipis += c->sipis;
        fires += a->timer_fires;
        bcast += a->eoi_broadcasts;
        suppressed += a->eoi_suppressed;
        ipis += a->ipis;
        bad += a->bad_mmio + a->bad_msr + a->bad_base;
    }
    snprintf(buf, len,
             " apic.inject=%" PRIu64 " apic.irqwin=%" PRIu64 " apic.msr=%" PRIu64
             " apic.gp=%" PRIu64 " apic.tpr=%" PRIu64 " apic.poll=%" PRIu64 " apic.timer=%" PRIu64
             " apic.ipi=%" PRIu64 " apic.nmi=%" PRIu64 " apic.sipi=%" PRIu64 " apic.sleep=%" PRIu64
             " apic.eoi.bcast=%" PRIu64 " apic.eoi.suppressed=%" PRIu64 " apic.bad=%" PRIu64
             " apic.errors=%" PRIu64,
             s.injections, s.irq_windows, s.msr_exits, s.msr_gp, s.tpr_exits, s.polls, fires, ipis,
             s.nmis, s.sipis, s.sleeps, bcast, suppressed, bad, s.inject_errors);
}
