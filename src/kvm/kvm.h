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

/*
 * KVM_RUN, once (EINTR is the caller's business). Counted like every other
 * ioctl; the first call's time is kept for the start-up figure of bench/.
 */
int lapis_kvm_run(int vcpu_fd);

/*
 * Every ioctl lapis makes on KVM fds goes through the two calls above and is
 * counted here, process-wide, by kind: bench/ compares these counts with the
 * minimum each guest operation needs, so a stray ioctl on the hot path shows.
 */
enum lapis_ioctl_kind {
    LAPIS_IOCTL_RUN = 0,
    LAPIS_IOCTL_IRQ_LINE,
    LAPIS_IOCTL_SET_GSI_ROUTING,
    LAPIS_IOCTL_SIGNAL_MSI,
    LAPIS_IOCTL_GET_LAPIC,
    LAPIS_IOCTL_SET_LAPIC,
    LAPIS_IOCTL_GET_MP_STATE,
    LAPIS_IOCTL_SET_MP_STATE,
    LAPIS_IOCTL_GET_REGS,
    LAPIS_IOCTL_OTHER, /* set-up and everything rarer */
    LAPIS_IOCTL_KINDS,
};

/* "KVM_RUN", "KVM_IRQ_LINE", ... "other". */
const char *lapis_kvm_ioctl_name(enum lapis_ioctl_kind kind);
/* The counts so far (each one a relaxed atomic load). */
void lapis_kvm_ioctl_counts(uint64_t counts[LAPIS_IOCTL_KINDS]);
/* CLOCK_MONOTONIC ns when the process started (a constructor) and of the first KVM_RUN (0: none).
 */
uint64_t lapis_kvm_start_ns(void);
uint64_t lapis_kvm_first_run_ns(void);

#endif
