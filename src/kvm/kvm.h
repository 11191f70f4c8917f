/* SPDX-License-Identifier: MIT */
/*
 * /dev/kvm itself: opening it, the API version, capability queries, and the
 * error value every backend call fills. The backend is the only layer with
 * ioctl(); it returns negative errno values plus one line for the user.
 */
#ifndef LAPIS_KVM_H
#define LAPIS_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Who is at fault; src/cli/main.c turns it into the exit status. */
enum lapis_err_kind {
    LAPIS_ERR_NONE = 0,
    LAPIS_ERR_USAGE, /* the user's options or files (exit 2) */
    LAPIS_ERR_HOST,  /* the host or KVM (exit 4) */
};

struct lapis_err {
    enum lapis_err_kind kind;
    char msg[512]; /* one line, no "lapis: " prefix, no newline */
};

/* Fills @err and returns -@errnum (a positive errno value). */
int lapis_err_set(struct lapis_err *err, enum lapis_err_kind kind, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

struct lapis_kvm {
    int fd;             /* /dev/kvm */
    int vcpu_mmap_size; /* KVM_GET_VCPU_MMAP_SIZE */
};

/* Opens /dev/kvm (or $LAPIS_KVM_DEV) and checks the API version. */
int lapis_kvm_open(struct lapis_kvm *kvm, struct lapis_err *err);
void lapis_kvm_close(struct lapis_kvm *kvm);

/* KVM_CHECK_EXTENSION on @fd (system or VM): the value, 0 if unsupported. */
long lapis_kvm_check(int fd, unsigned long cap);

/* ioctl() retried on EINTR/EAGAIN where that is safe (everything but KVM_RUN). */
int lapis_kvm_ioctl(int fd, unsigned long req, void *arg);

#endif
