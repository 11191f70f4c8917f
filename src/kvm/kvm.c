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
#include <unistd.h>

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
        r = ioctl(fd, req, arg);
    } while (r < 0 && (errno == EINTR || errno == EAGAIN));
    return r;
}

long lapis_kvm_check(int fd, unsigned long cap)
{
    int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
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
    v = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (v != KVM_API_VERSION) {
        close(fd);
        return lapis_err_set(err, LAPIS_ERR_HOST, ENOTSUP,
                             "%s speaks KVM API version %d, lapis needs %d: is it really KVM?",
                             path, v, KVM_API_VERSION);
    }
    v = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
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
