/* SPDX-License-Identifier: MIT */
/*
 * The KVM half of the EOI path (the model half is src/devices/ioapic.c, the
 * policy src/devices/eoi_policy.c). In order:
 *   1. creating the irqchip and negotiating EOI broadcast suppression (§4, §6);
 *   2. GSI routes and delivery: each IOAPIC pin is an MSI route (§2);
 *   3. KVM_EXIT_IOAPIC_EOI, with the userspace emulation of the fix (§6);
 *   4. the watchdog: throttle timer, and held-back EOI exits (§7).
 * Section numbers refer to ../shared/spec/eoi.md.
 */
#include "irqchip.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "devices/msi.h"
#include "userapic.h"
#include "vm.h"

/* lapis enables eoi_policy.h's flags; Debian 12's <linux/kvm.h> (6.1) predates KVM's (§4). */
#ifdef KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST
_Static_assert(KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST ==
                       LAPIS_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST &&
                   KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST ==
                       LAPIS_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST,
               "X2APIC_API flags numbered as KVM numbers them");
#endif

/* LAPIC register offsets in struct kvm_lapic_state. */
#define APIC_REG_SVR 0xF0
#define APIC_REG_ISR 0x100
#define APIC_REG_IRR 0x200

#define STAT_INC(ic, field) __atomic_fetch_add(&(ic)->stats.field, 1, __ATOMIC_RELAXED)

/* LAPIS_TRACE=irq prints every decision of the EOI path to stderr. */
#define TRACE(ic, ...)                                                                             \
    do {                                                                                           \
        if ((ic)->trace)                                                                           \
            trace_line(ic, __VA_ARGS__);                                                           \
    } while (0)

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void trace_line(const struct lapis_irqchip *ic, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void trace_line(const struct lapis_irqchip *ic, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    uint64_t t = now_ns() - ic->trace_start;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fprintf(stderr, "lapis: irq %6llu.%06llu %s\n", (unsigned long long)(t / 1000000000ull),
            (unsigned long long)(t / 1000ull % 1000000ull), buf);
}

/* ---- 1. Creation and negotiation ------------------------------------------------------- */

static const struct lapis_ioapic_ops ioapic_ops;
static void pin_message(struct lapis_irqchip *ic, unsigned pin, uint64_t *address, uint32_t *data);
static int push_routes(struct lapis_irqchip *ic);

static int enable_cap(int vm_fd, uint32_t cap, uint64_t arg0)
{
    struct kvm_enable_cap ec = {.cap = cap};
    ec.args[0] = arg0;
    return lapis_kvm_ioctl(vm_fd, KVM_ENABLE_CAP, &ec) < 0 ? -errno : 0;
}

/*
 * What this kernel offers (§4), from KVM_CHECK_EXTENSION(KVM_CAP_X2APIC_API)
 * on the VM, never the system fd, and never cap 244 (§3): 0xF once split
 * irqchip is on, 0xB without. LAPIS_TEST_NO_EOI_FLAGS=1 pretends the flags
 * are missing, so the older-kernel paths can be tested on a new kernel.
 */
static bool kernel_eoi_flags(int vm_fd, bool split, long *caps)
{
    const char *no_flags = getenv("LAPIS_TEST_NO_EOI_FLAGS");

    *caps = lapis_kvm_check(vm_fd, KVM_CAP_X2APIC_API);
    if (no_flags && !strcmp(no_flags, "1"))
        return false;
    return lapis_eoi_kernel_has_flags(*caps, split);
}

/*
 * Chooses the X2APIC_API flag for the request (§6), by lapis_eoi_negotiate().
 * Returns 0 with ic->x2apic_api_flags / ic->emulate_fix set, or a usage error.
 */
#define NEEDS_FLAGS                                                                                \
    "this kernel lacks KVM_X2APIC_ENABLE/DISABLE_SUPPRESS_EOI_BROADCAST (Linux 7.0, 6.18.17+)"

static int choose_policy(struct lapis_irqchip *ic, enum lapis_eoi_backend backend,
                         bool kernel_has_flags, struct lapis_eoi_choice *choice,
                         struct lapis_err *err)
{
    const char *needs = NEEDS_FLAGS;
    const char *what = ic->request == LAPIS_EOI_REQ_ENABLE ? "enable" : "disable";
    int r = lapis_eoi_negotiate(ic->request, backend, kernel_has_flags, ic->ioapic_version, choice);

    ic->x2apic_api_flags = choice->x2apic_api_flags;
    ic->emulate_fix = choice->emulate_fix;
    ic->no_eoir_warning = choice->no_eoir_warning;
    if (r == -EINVAL && ic->request == LAPIS_EOI_REQ_ENABLE && backend == LAPIS_EOI_BACKEND_KERNEL)
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                             "--eoi-suppression enable needs --irqchip split: KVM's in-kernel "
                             "IOAPIC has no EOI register");
    if (r == -EOPNOTSUPP)
        return lapis_err_set(err, LAPIS_ERR_USAGE, EOPNOTSUPP,
                             "--eoi-suppression %s: %s; use auto or quirk", what, needs);
    if (r)
        return lapis_err_set(err, LAPIS_ERR_USAGE, -r, "unknown --eoi-suppression value");
    return 0;
}

const char *lapis_irqchip_warning(const struct lapis_irqchip *ic)
{
    if (ic->no_eoir_warning)
        return NEEDS_FLAGS " and the IOAPIC is 0x11: a guest using Directed EOI cannot EOI the "
                           "IOAPIC (use --ioapic-version 0x20)";
    return NULL;
}

int lapis_irqchip_init(struct lapis_irqchip *ic, struct lapis_vm *vm, int vm_fd, bool kernel,
                       unsigned ioapic_version, enum lapis_eoi_request request,
                       struct lapis_err *err)
{
    struct lapis_eoi_choice choice;
    pthread_condattr_t ca;
    int r;

    memset(ic, 0, sizeof(*ic));
    ic->vm = vm;
    ic->vm_fd = vm_fd;
    ic->kernel = kernel;
    ic->ioapic_version = kernel ? 0x11 : ioapic_version;
    ic->request = request;
    pthread_mutex_init(&ic->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ic->wake, &ca);
    pthread_condattr_destroy(&ca);
    lapis_eoi_policy_init(&ic->policy);
    ic->trace = getenv("LAPIS_TRACE") && strstr(getenv("LAPIS_TRACE"), "irq");
    ic->trace_start = now_ns();

    if (kernel) {
        if (lapis_kvm_ioctl(vm_fd, KVM_CREATE_IRQCHIP, NULL) < 0)
            return lapis_err_set(err, LAPIS_ERR_HOST, errno, "KVM_CREATE_IRQCHIP failed: %s",
                                 strerror(errno));
        lapis_eoi_policy_set_irqchip(&ic->policy, LAPIS_IRQCHIP_KERNEL);
    } else {
        /* §2: KVM keeps the LAPIC; GSIs 0..23 are ours. Before any vCPU exists. */
        r = enable_cap(vm_fd, KVM_CAP_SPLIT_IRQCHIP, LAPIS_IRQCHIP_PINS);
        if (r)
            return lapis_err_set(err, LAPIS_ERR_HOST, -r,
                                 "KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP) failed: %s (try "
                                 "--irqchip kernel)",
                                 strerror(-r));
        lapis_eoi_policy_set_irqchip(&ic->policy, LAPIS_IRQCHIP_SPLIT);
        r = lapis_ioapic_init(&ic->ioapic, ic->ioapic_version, LAPIS_IRQCHIP_PINS, &ioapic_ops, ic);
        if (r)
            return lapis_err_set(err, LAPIS_ERR_USAGE, -r, "IOAPIC version 0x%x not supported",
                                 ic->ioapic_version);
        /*
         * Every pin starts masked, edge, vector 0. KVM's table is empty after
         * KVM_CAP_SPLIT_IRQCHIP, which acts the same (no level route to scan,
         * and a masked pin is never fired), so these routes count as pushed:
         * KVM_SET_GSI_ROUTING waits for an SRCU grace period, milliseconds on
         * a busy host, and start-up would pay it for nothing. The first entry
         * change that alters a message pushes the table (update_route()).
         */
        for (unsigned pin = 0; pin < LAPIS_IRQCHIP_PINS; pin++)
            pin_message(ic, pin, &ic->routes[pin].address, &ic->routes[pin].data);
        ic->routes_valid = true;
    }

    /* Without split only DISABLE is meaningful (and accepted): the VM fd says 0xB. */
    ic->kernel_has_flags = kernel_eoi_flags(vm_fd, !kernel, &ic->x2apic_api_caps);
    r = choose_policy(ic, kernel ? LAPIS_EOI_BACKEND_KERNEL : LAPIS_EOI_BACKEND_SPLIT,
                      ic->kernel_has_flags, &choice, err);
    if (r)
        return r;
    /*
     * Bits 0/1 (32-bit IDs, broadcast quirk) stay off: with at most 64 vCPUs
     * xAPIC IDs suffice, as QEMU decides below 256. Order: split irqchip ->
     * these flags -> vCPUs -> SET_CPUID2, which recomputes LVR (§4).
     */
    if (ic->x2apic_api_flags) {
        r = enable_cap(vm_fd, KVM_CAP_X2APIC_API, ic->x2apic_api_flags);
        if (r)
            return lapis_err_set(err, LAPIS_ERR_HOST, -r,
                                 "KVM_ENABLE_CAP(KVM_CAP_X2APIC_API, 0x%llx) failed: %s",
                                 (unsigned long long)ic->x2apic_api_flags, strerror(-r));
        r = lapis_eoi_policy_enable_cap(&ic->policy, LAPIS_CAP_X2APIC_API, ic->x2apic_api_flags);
        if (r)
            return lapis_err_set(err, LAPIS_ERR_HOST, -r, "EOI policy mirror refused 0x%llx",
                                 (unsigned long long)ic->x2apic_api_flags);
    } else {
        /* Quirk, or the fix emulated: userspace does what ENABLE does in the kernel. */
        lapis_eoi_policy_set_mode(&ic->policy, choice.mode);
    }

    /*
     * Only the emulation needs SVR on every EOI exit; quirk reads it too, to
     * count the bug (exits arriving while the guest suppressed broadcasts).
     * ENABLE and DISABLE never call KVM_GET_LAPIC on this path.
     */
    ic->read_svr_on_eoi = !kernel && (ic->emulate_fix || ic->policy.mode == LAPIS_EOI_MODE_QUIRK);
    return 0;
}

int lapis_irqchip_init_user(struct lapis_irqchip *ic, struct lapis_vm *vm, int vm_fd,
                            unsigned ioapic_version, enum lapis_eoi_request request,
                            struct lapis_userapic *ua, const struct lapis_ioapic_ops *ops,
                            struct lapis_err *err)
{
    const char *seed = getenv("LAPIS_TEST_SEED_DISABLE");
    struct lapis_eoi_choice choice;
    pthread_condattr_t ca;
    long kernel_caps;
    int r;

    memset(ic, 0, sizeof(*ic));
    ic->user = ua;
    ic->vm = vm;
    ic->vm_fd = vm_fd;
    ic->ioapic_version = ioapic_version;
    ic->request = request;
    pthread_mutex_init(&ic->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ic->wake, &ca);
    pthread_condattr_destroy(&ca);
    lapis_eoi_policy_init(&ic->policy);
    ic->trace = getenv("LAPIS_TRACE") && strstr(getenv("LAPIS_TRACE"), "irq");
    ic->trace_start = now_ns();

    /* The IOAPIC is the VMM's, as with split irqchip: that is what the policy asks. */
    lapis_eoi_policy_set_irqchip(&ic->policy, LAPIS_IRQCHIP_SPLIT);
    r = lapis_ioapic_init(&ic->ioapic, ic->ioapic_version, LAPIS_IRQCHIP_PINS, ops, ua);
    if (r)
        return lapis_err_set(err, LAPIS_ERR_USAGE, -r, "IOAPIC version 0x%x not supported",
                             ic->ioapic_version);

    /*
     * The LAPIC is lapis's, and so is the policy that answers for it: what
     * the kernel offers is handed to the negotiation, which ignores it for
     * this backend (§6). Quirk is the policy's default: advertise, never
     * suppress (KVM's bug, modelled).
     */
    ic->kernel_has_flags = kernel_eoi_flags(vm_fd, false, &kernel_caps);
    r = choose_policy(ic, LAPIS_EOI_BACKEND_USER, ic->kernel_has_flags, &choice, err);
    if (r)
        return r;
    ic->x2apic_api_caps = lapis_eoi_policy_check_extension(&ic->policy, LAPIS_CAP_X2APIC_API);
    if (ic->x2apic_api_flags) {
        r = lapis_eoi_policy_enable_cap(&ic->policy, LAPIS_CAP_X2APIC_API, ic->x2apic_api_flags);
        if (r)
            return lapis_err_set(err, LAPIS_ERR_HOST, -r, "EOI policy refused X2APIC_API 0x%llx",
                                 (unsigned long long)ic->x2apic_api_flags);
    }
    /* The seed's front door (spec §3), before any vCPU exists: no Directed EOI at all. */
    if (seed && !strcmp(seed, "1")) {
        r = lapis_eoi_policy_enable_cap(&ic->policy, LAPIS_CAP_SPLIT_IRQCHIP_API,
                                        LAPIS_SPLIT_IRQCHIP_API_DISABLE_EOI_BROADCAST_SUPPRESSION);
        if (r)
            return lapis_err_set(err, LAPIS_ERR_HOST, -r,
                                 "EOI policy refused SPLIT_IRQCHIP_API DISABLE: %s", strerror(-r));
    }
    return 0;
}

const char *lapis_irqchip_kind_name(const struct lapis_irqchip *ic)
{
    if (ic->user)
        return "user";
    return ic->kernel ? "kernel" : "split";
}

void lapis_irqchip_vcpu_created(struct lapis_irqchip *ic)
{
    lapis_eoi_policy_vcpu_created(&ic->policy);
}

const char *lapis_irqchip_mode_name(const struct lapis_irqchip *ic)
{
    if (ic->emulate_fix)
        return "enable-emulated";
    /* The seed's flag: never advertised, never suppressed, whatever the mode. */
    if (ic->policy.seed_disable)
        return "disable";
    return lapis_eoi_mode_name(ic->policy.mode);
}

const char *lapis_irqchip_guest_mode(const struct lapis_irqchip *ic)
{
    /* KVM never offers Directed EOI beside its own IOAPIC: to the guest that is "disable". */
    if (ic->kernel || ic->policy.seed_disable)
        return "disable";
    /* The emulated fix behaves as ENABLE for the guest. */
    return lapis_eoi_mode_name(ic->policy.mode);
}

/* ---- 2. Routes and delivery ------------------------------------------------------------ */

/* The MSI message of @pin's entry; bit 15 set for level entries so KVM reports its EOI (§2). */
static void pin_message(struct lapis_irqchip *ic, unsigned pin, uint64_t *address, uint32_t *data)
{
    struct lapis_msi msg;

    lapis_ioapic_entry_msi(&ic->ioapic, pin, &msg);
    msg.level_triggered = (lapis_ioapic_entry(&ic->ioapic, pin) & LAPIS_IOREDIR_LEVEL) != 0;
    lapis_msi_encode(&msg, address, data);
    if (msg.level_triggered)
        *data |= 1u << 15;
    else
        *data &= ~(1u << 15);
}

/* Sends all 24 routes to KVM. Called with ic->lock held. */
static int push_routes(struct lapis_irqchip *ic)
{
    struct {
        struct kvm_irq_routing hdr;
        struct kvm_irq_routing_entry e[LAPIS_IRQCHIP_PINS];
    } t;

    memset(&t, 0, sizeof(t));
    t.hdr.nr = LAPIS_IRQCHIP_PINS;
    for (unsigned pin = 0; pin < LAPIS_IRQCHIP_PINS; pin++) {
        t.e[pin].gsi = pin;
        t.e[pin].type = KVM_IRQ_ROUTING_MSI;
        t.e[pin].u.msi.address_lo = (uint32_t)ic->routes[pin].address;
        t.e[pin].u.msi.address_hi = (uint32_t)(ic->routes[pin].address >> 32);
        t.e[pin].u.msi.data = ic->routes[pin].data;
    }
    STAT_INC(ic, route_updates);
    if (lapis_kvm_ioctl(ic->vm_fd, KVM_SET_GSI_ROUTING, &t) < 0) {
        STAT_INC(ic, irq_errors);
        ic->routes_valid = false;
        return -errno;
    }
    ic->routes_valid = true;
    return 0;
}

/* Refreshes @pin's route; pushes the table only if its message changed. */
static void update_route(struct lapis_irqchip *ic, unsigned pin)
{
    uint64_t address;
    uint32_t data;

    if (pin >= LAPIS_IRQCHIP_PINS)
        return;
    pin_message(ic, pin, &address, &data);
    if (ic->routes_valid && ic->routes[pin].address == address && ic->routes[pin].data == data)
        return;
    ic->routes[pin].address = address;
    ic->routes[pin].data = data;
    TRACE(ic, "route pin %u -> address 0x%llx data 0x%x", pin, (unsigned long long)address, data);
    push_routes(ic);
}

static void ioapic_entry_changed(void *opaque, unsigned pin)
{
    update_route(opaque, pin);
}

static void ioapic_deliver(void *opaque, unsigned pin, const struct lapis_msi *msg)
{
    struct lapis_irqchip *ic = opaque;
    struct kvm_irq_level line = {.irq = pin, .level = 1};

    (void)msg;
    if (pin >= LAPIS_IRQCHIP_PINS)
        return;
    /*
     * Every entry change goes through entry_changed(), which keeps routes[]
     * and KVM's table current; only a failed push leaves them stale. Checking
     * here only then saves rebuilding the message on every interrupt.
     */
    if (!ic->routes_valid)
        update_route(ic, pin);
    if (lapis_kvm_ioctl(ic->vm_fd, KVM_IRQ_LINE, &line) < 0) {
        STAT_INC(ic, irq_errors);
        return;
    }
    STAT_INC(ic, irqs);
    ic->deliver_gen[pin]++;
    TRACE(ic, "deliver pin %u vector 0x%02x dest %u%s%s", pin, msg->vector, msg->dest,
          msg->dest_logical ? " logical" : "", msg->level_triggered ? " level" : " edge");
    /* A level interrupt is now owed an EOI: wake the watchdog if it sleeps (§7). */
    if (ic->watchdog_idle && (lapis_ioapic_entry(&ic->ioapic, pin) & LAPIS_IOREDIR_LEVEL))
        pthread_cond_signal(&ic->wake);
}

static void ioapic_timer_arm(void *opaque, uint64_t delay_ns)
{
    struct lapis_irqchip *ic = opaque;

    ic->timer_deadline = now_ns() + delay_ns;
    if (!ic->timer_deadline)
        ic->timer_deadline = 1;
    if (ic->watchdog_idle)
        pthread_cond_signal(&ic->wake);
}

static const struct lapis_ioapic_ops ioapic_ops = {
    .deliver = ioapic_deliver,
    .entry_changed = ioapic_entry_changed,
    .timer_arm = ioapic_timer_arm,
};

int lapis_irqchip_set_line(struct lapis_irqchip *ic, unsigned pin, bool level)
{
    int r = 0;

    if (pin >= LAPIS_IRQCHIP_PINS)
        return -EINVAL;
    pthread_mutex_lock(&ic->lock);
    if (ic->kernel) {
        /* KVM's IOAPIC tracks levels itself; GSI n is pin n in its default routing. */
        struct kvm_irq_level line = {.irq = pin, .level = level};
        if (ic->kernel_line[pin] != level) {
            if (lapis_kvm_ioctl(ic->vm_fd, KVM_IRQ_LINE, &line) < 0) {
                STAT_INC(ic, irq_errors);
                r = -errno;
            } else {
                ic->kernel_line[pin] = level;
                if (level)
                    STAT_INC(ic, irqs);
            }
        }
    } else {
        TRACE(ic, "line %u %s", pin, level ? "high" : "low");
        r = lapis_ioapic_set_level(&ic->ioapic, pin, level);
    }
    pthread_mutex_unlock(&ic->lock);
    return r;
}

uint64_t lapis_irqchip_ioapic_read(void *opaque, uint64_t addr, uint64_t offset, unsigned size)
{
    struct lapis_irqchip *ic = opaque;
    uint32_t v;

    (void)addr;
    pthread_mutex_lock(&ic->lock);
    v = lapis_ioapic_mmio_read(&ic->ioapic, offset, size);
    pthread_mutex_unlock(&ic->lock);
    return v;
}

/* EOIR writes (0x20) arrive here too; the model clears Remote IRR and redelivers. */
void lapis_irqchip_ioapic_write(void *opaque, uint64_t addr, uint64_t offset, unsigned size,
                                uint64_t value)
{
    struct lapis_irqchip *ic = opaque;

    (void)addr;
    pthread_mutex_lock(&ic->lock);
    if (offset == LAPIS_IOAPIC_EOIR)
        TRACE(ic, "EOIR write vector 0x%02llx", (unsigned long long)value);
    lapis_ioapic_mmio_write(&ic->ioapic, offset, size, (uint32_t)value);
    pthread_mutex_unlock(&ic->lock);
}

/* ---- 3. EOI exits ---------------------------------------------------------------------- */

static uint32_t lapic_reg(const struct kvm_lapic_state *s, unsigned off)
{
    uint32_t v;
    memcpy(&v, s->regs + off, sizeof(v));
    return v;
}

static bool lapic_vector_bit(const struct kvm_lapic_state *s, unsigned base, uint8_t vector)
{
    return (lapic_reg(s, base + 0x10u * (vector / 32u)) >> (vector % 32u)) & 1u;
}

void lapis_irqchip_eoi_exit(struct lapis_irqchip *ic, struct lapis_vcpu *vcpu, uint8_t vector)
{
    uint32_t svr = 0;

    STAT_INC(ic, eoi_exits);
    if (ic->kernel)
        return; /* cannot happen: KVM's IOAPIC takes its EOIs in the kernel */
    if (vector < 16) {
        STAT_INC(ic, eoi_bad);
        return;
    }
    if (ic->read_svr_on_eoi) {
        struct kvm_lapic_state la;
        if (lapis_kvm_ioctl(vcpu->fd, KVM_GET_LAPIC, &la) == 0)
            svr = lapic_reg(&la, APIC_REG_SVR);
        /* The quirk (§4): the kernel exits although the guest suppressed the broadcast. */
        if (svr & LAPIS_SVR_SUPPRESS_EOI_BC)
            STAT_INC(ic, eoi_svr12);
    }
    pthread_mutex_lock(&ic->lock);
    /*
     * §6 row 3, the seed's "earlier fix" done in userspace: with SVR bit 12
     * set the guest will write EOIR itself, so this broadcast must not clear
     * Remote IRR (it would redeliver while the device still holds the line).
     * Only with an EOIR to fall back on.
     */
    if (ic->emulate_fix && lapis_eoi_policy_suppress_broadcast(&ic->policy, svr) &&
        lapis_ioapic_has_eoir(&ic->ioapic)) {
        STAT_INC(ic, eoi_ignored);
        TRACE(ic, "EOI exit vCPU %u vector 0x%02x: SVR.12 set, ignored (emulated fix)", vcpu->index,
              vector);
    } else {
        TRACE(ic, "EOI exit vCPU %u vector 0x%02x%s", vcpu->index, vector,
              (svr & LAPIS_SVR_SUPPRESS_EOI_BC) ? " with SVR.12 set" : "");
        lapis_ioapic_eoi(&ic->ioapic, vector, LAPIS_EOI_FROM_BROADCAST);
    }
    pthread_mutex_unlock(&ic->lock);
}

/* ---- 4. Watchdog: throttle timer and held-back EOI exits (§7) ---------------------------- */

/* Is some level pin with @vector waiting for its EOI? Called with ic->lock held. */
static bool vector_awaits_eoi(struct lapis_irqchip *ic, uint8_t vector)
{
    for (unsigned pin = 0; pin < LAPIS_IRQCHIP_PINS; pin++) {
        uint64_t e = lapis_ioapic_entry(&ic->ioapic, pin);
        if ((e & LAPIS_IOREDIR_LEVEL) && (e & LAPIS_IOREDIR_VECTOR_MASK) == vector &&
            lapis_ioapic_remote_irr(&ic->ioapic, pin))
            return true;
    }
    return false;
}

/*
 * §7, measured on this host: when the guest EOIs and halts with no exit in
 * between, KVM holds the KVM_EXIT_IOAPIC_EOI back while the vCPU is halted.
 * The signal alone does not release it; making the halted vCPU runnable
 * does, and the next KVM_RUN returns the exit exactly once. The EOI itself
 * is processed by lapis_irqchip_eoi_exit() when that exit arrives, so it is
 * never processed twice. On VMX/SVM hosts this never fires.
 */
void lapis_irqchip_vcpu_recover(struct lapis_irqchip *ic, struct lapis_vcpu *vcpu,
                                const uint64_t vectors[4])
{
    struct kvm_mp_state mp;
    struct kvm_lapic_state la;
    bool release = false;

    if (lapis_kvm_ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) < 0 || mp.mp_state != KVM_MP_STATE_HALTED)
        return;
    if (lapis_kvm_ioctl(vcpu->fd, KVM_GET_LAPIC, &la) < 0)
        return;
    /* With suppression honoured, no exit is owed: the guest EOIs through EOIR. */
    if (lapis_eoi_policy_suppress_broadcast(&ic->policy, lapic_reg(&la, APIC_REG_SVR)))
        return;
    pthread_mutex_lock(&ic->lock);
    for (unsigned v = 16; v < 256 && !release; v++) {
        if (!((vectors[v / 64] >> (v % 64)) & 1))
            continue;
        /* The LAPIC is done with it (neither in service nor pending), the IOAPIC is not. */
        if (!lapic_vector_bit(&la, APIC_REG_ISR, (uint8_t)v) &&
            !lapic_vector_bit(&la, APIC_REG_IRR, (uint8_t)v) && vector_awaits_eoi(ic, (uint8_t)v))
            release = true;
    }
    pthread_mutex_unlock(&ic->lock);
    if (!release)
        return;
    mp.mp_state = KVM_MP_STATE_RUNNABLE;
    if (lapis_kvm_ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) == 0)
        STAT_INC(ic, recoveries);
    TRACE(ic, "recovery: vCPU %u halted with a held-back EOI exit, made runnable", vcpu->index);
}

struct stuck_pin {
    struct lapis_msi dest;
    uint8_t vector;
};

/*
 * One watchdog pass, with ic->lock held: runs the throttle timer, collects
 * level pins whose Remote IRR has stayed set for LAPIS_IRQCHIP_STUCK_NS with
 * no new delivery. Returns true if anything is still pending.
 */
static bool watchdog_scan(struct lapis_irqchip *ic, uint64_t now, struct stuck_pin *stuck,
                          unsigned *nstuck)
{
    bool pending = false;

    *nstuck = 0;
    if (ic->timer_deadline) {
        pending = true;
        if (now >= ic->timer_deadline) {
            ic->timer_deadline = 0;
            lapis_ioapic_timer_expired(&ic->ioapic); /* may re-arm */
        }
    }
    for (unsigned pin = 0; pin < LAPIS_IRQCHIP_PINS; pin++) {
        uint64_t e = lapis_ioapic_entry(&ic->ioapic, pin);

        if (!(e & LAPIS_IOREDIR_LEVEL) || !lapis_ioapic_remote_irr(&ic->ioapic, pin)) {
            ic->irr_since[pin] = 0;
            continue;
        }
        pending = true;
        if (!ic->irr_since[pin] || ic->seen_gen[pin] != ic->deliver_gen[pin]) {
            ic->irr_since[pin] = now;
            ic->seen_gen[pin] = ic->deliver_gen[pin];
        } else if (now - ic->irr_since[pin] >= LAPIS_IRQCHIP_STUCK_NS) {
            lapis_ioapic_entry_msi(&ic->ioapic, pin, &stuck[*nstuck].dest);
            stuck[*nstuck].vector = (uint8_t)(e & LAPIS_IOREDIR_VECTOR_MASK);
            (*nstuck)++;
            ic->irr_since[pin] = now; /* look again after another period */
        }
    }
    return pending;
}

static void *watchdog_main(void *arg)
{
    struct lapis_irqchip *ic = arg;
    struct stuck_pin stuck[LAPIS_IRQCHIP_PINS];
    unsigned nstuck;
    struct timespec ts;
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&ic->lock);
    while (!ic->watchdog_stop) {
        uint64_t now = now_ns();
        bool pending;

        lapis_vm_watch_vcpus(ic->vm, now);
        pending = watchdog_scan(ic, now, stuck, &nstuck);
        if (nstuck) {
            pthread_mutex_unlock(&ic->lock);
            for (unsigned i = 0; i < nstuck; i++)
                lapis_vm_request_recovery(ic->vm, &stuck[i].dest, stuck[i].vector, now,
                                          LAPIS_IRQCHIP_STUCK_NS);
            pthread_mutex_lock(&ic->lock);
            continue;
        }
        /* Sleep briefly while something is pending; otherwise until a delivery wakes us. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += pending ? (long)LAPIS_IRQCHIP_WATCH_NS : 0;
        ts.tv_sec += pending ? 0 : 1;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        ic->watchdog_idle = !pending;
        pthread_cond_timedwait(&ic->wake, &ic->lock, &ts);
        ic->watchdog_idle = false;
    }
    pthread_mutex_unlock(&ic->lock);
    return NULL;
}

int lapis_irqchip_start(struct lapis_irqchip *ic, struct lapis_err *err)
{
    int r;

    if (ic->user)
        return lapis_userapic_start(ic->user, err);
    if (ic->kernel || ic->watchdog_started)
        return 0;
    r = pthread_create(&ic->watchdog, NULL, watchdog_main, ic);
    if (r)
        return lapis_err_set(err, LAPIS_ERR_HOST, r, "cannot start the IOAPIC watchdog: %s",
                             strerror(r));
    ic->watchdog_started = true;
    return 0;
}

void lapis_irqchip_stop(struct lapis_irqchip *ic)
{
    lapis_userapic_stop(ic->user);
    if (!ic->watchdog_started)
        return;
    pthread_mutex_lock(&ic->lock);
    ic->watchdog_stop = true;
    pthread_cond_signal(&ic->wake);
    pthread_mutex_unlock(&ic->lock);
    pthread_join(ic->watchdog, NULL);
    ic->watchdog_started = false;
}

void lapis_irqchip_destroy(struct lapis_irqchip *ic)
{
    lapis_irqchip_stop(ic);
    lapis_userapic_destroy(ic->user);
    ic->user = NULL;
    pthread_cond_destroy(&ic->wake);
    pthread_mutex_destroy(&ic->lock);
}
