/* SPDX-License-Identifier: MIT */
/* Opening /dev/kvm and asking it what it can do. */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* Process-wide ioctl counts (relaxed atomics) and start-up times, for bench/. */
static uint64_t ioctl_counts[LAPIS_IOCTL_KINDS];
static uint64_t start_ns, first_run_ns;

static const char *const ioctl_names[LAPIS_IOCTL_KINDS] = {
    [LAPIS_IOCTL_RUN] = "KVM_RUN",
    [LAPIS_IOCTL_IRQ_LINE] = "KVM_IRQ_LINE",
    [LAPIS_IOCTL_SET_GSI_ROUTING] = "KVM_SET_GSI_ROUTING",
    [LAPIS_IOCTL_SIGNAL_MSI] = "KVM_SIGNAL_MSI",
    [LAPIS_IOCTL_GET_LAPIC] = "KVM_GET_LAPIC",
    [LAPIS_IOCTL_SET_LAPIC] = "KVM_SET_LAPIC",
    [LAPIS_IOCTL_GET_MP_STATE] = "KVM_GET_MP_STATE",
    [LAPIS_IOCTL_SET_MP_STATE] = "KVM_SET_MP_STATE",
    [LAPIS_IOCTL_GET_REGS] = "KVM_GET_REGS",
    [LAPIS_IOCTL_OTHER] = "other",
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((constructor)) static void note_start(void)
{
    start_ns = mono_ns();
}

static enum lapis_ioctl_kind ioctl_kind(unsigned long req)
{
    switch (req) {
    case KVM_RUN:
        return LAPIS_IOCTL_RUN;
    case KVM_IRQ_LINE:
        return LAPIS_IOCTL_IRQ_LINE;
    case KVM_SET_GSI_ROUTING:
        return LAPIS_IOCTL_SET_GSI_ROUTING;
    case KVM_SIGNAL_MSI:
        return LAPIS_IOCTL_SIGNAL_MSI;
    case KVM_GET_LAPIC:
        return LAPIS_IOCTL_GET_LAPIC;
    case KVM_SET_LAPIC:
        return LAPIS_IOCTL_SET_LAPIC;
    case KVM_GET_MP_STATE:
        return LAPIS_IOCTL_GET_MP_STATE;
    case KVM_SET_MP_STATE:
        return LAPIS_IOCTL_SET_MP_STATE;
    case KVM_GET_REGS:
        return LAPIS_IOCTL_GET_REGS;
    default:
        return LAPIS_IOCTL_OTHER;
    }
}

static int counted_ioctl(int fd, unsigned long req, void *arg)
{
    __atomic_fetch_add(&ioctl_counts[ioctl_kind(req)], 1, __ATOMIC_RELAXED);
    return ioctl(fd, req, arg);
}

const char *lapis_kvm_ioctl_name(enum lapis_ioctl_kind kind)
{
    return (unsigned)kind < LAPIS_IOCTL_KINDS ? ioctl_names[kind] : "?";
}

void lapis_kvm_ioctl_counts(uint64_t counts[LAPIS_IOCTL_KINDS])
{
    for (unsigned k = 0; k < LAPIS_IOCTL_KINDS; k++)
        counts[k] = __atomic_load_n(&ioctl_counts[k], __ATOMIC_RELAXED);
}

uint64_t lapis_kvm_start_ns(void)
{
    return start_ns;
}

uint64_t lapis_kvm_first_run_ns(void)
{
    return __atomic_load_n(&first_run_ns, __ATOMIC_RELAXED);
}

int lapis_kvm_run(int vcpu_fd)
{
    if (!__atomic_load_n(&first_run_ns, __ATOMIC_RELAXED)) {
        uint64_t zero = 0;
        __atomic_compare_exchange_n(&first_run_ns, &zero, mono_ns(), false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED);
    }
    return counted_ioctl(vcpu_fd, KVM_RUN, NULL);
}

int lapis_err_set(struct lapis_err *err, enum lapis_err_kind kind, int errnum, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        err->kind = kind;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return errnum > 0 ? -errnum : (errnum < 0 ? errnum : -EINVAL);
}

int lapis_kvm_ioctl(int fd, unsigned long req, void *arg)
{
    int r;

    do {
        r = counted_ioctl(fd, req, arg);
    } while (r < 0 && (errno == EINTR || errno == EAGAIN));
    return r;
}

long lapis_kvm_check(int fd, unsigned long cap)
{
    int r = counted_ioctl(fd, KVM_CHECK_EXTENSION, (void *)cap);
    return r < 0 ? 0 : r;
}

int lapis_kvm_open(struct lapis_kvm *kvm, struct lapis_err *err)
{
    const char *path = getenv("LAPIS_KVM_DEV");
    int fd, v, e;

    if (!path || !*path)
        path = "/dev/kvm";
    kvm->fd = -1;
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        if (e == ENOENT || e == ENXIO || e == ENODEV)
            return lapis_err_set(err, LAPIS_ERR_HOST, e,
                                 "%s not found: this host has no KVM; load kvm_intel/kvm_amd or "
                                 "run on a machine with virtualization",
                                 path);
        if (e == EACCES || e == EPERM)
            return lapis_err_set(err, LAPIS_ERR_HOST, e,
                                 "no permission to open %s: add yourself to the kvm group "
                                 "(sudo usermod -aG kvm $USER, then log in again)",
                                 path);
        return lapis_err_set(err, LAPIS_ERR_HOST, e, "cannot open %s: %s", path, strerror(e));
    }
    v = counted_ioctl(fd, KVM_GET_API_VERSION, NULL);
    if (v != KVM_API_VERSION) {
        close(fd);
        return lapis_err_set(err, LAPIS_ERR_HOST, ENOTSUP,
                             "%s speaks KVM API version %d, lapis needs %d: is it really KVM?",
                             path, v, KVM_API_VERSION);
    }
    v = counted_ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
    if (v < (int)sizeof(struct kvm_run)) {
        e = v < 0 ? errno : EINVAL;
        close(fd);
        return lapis_err_set(err, LAPIS_ERR_HOST, e, "KVM_GET_VCPU_MMAP_SIZE failed: %s",
                             strerror(e));
    }
    kvm->fd = fd;
    kvm->vcpu_mmap_size = v;
    return 0;
}

void lapis_kvm_close(struct lapis_kvm *kvm)
{
    if (kvm->fd >= 0)
        close(kvm->fd);
    kvm->fd = -1;
}
