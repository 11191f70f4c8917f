/* SPDX-License-Identifier: MIT */
/*
 * A one-shot timer on CLOCK_MONOTONIC served by its own thread, for device
 * models that ask their embedder for "call me back at T" (the 8254's
 * timer_arm). Re-arming replaces the deadline; the callback runs on the
 * timer thread with no timer lock held, so it may take a device lock and
 * re-arm from there (lock order: device -> timer).
 */
#ifndef LAPIS_KVM_HOST_TIMER_H
#define LAPIS_KVM_HOST_TIMER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm.h"

#define LAPIS_HOST_TIMER_OFF UINT64_MAX

struct lapis_host_timer {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    pthread_t thread;
    bool started, stop;
    uint64_t deadline; /* ns, LAPIS_HOST_TIMER_OFF when disarmed */
    void (*fire)(void *opaque);
    void *opaque;
    uint64_t fires; /* callbacks run */
};

/* CLOCK_MONOTONIC in ns: the clock deadlines are given on. */
uint64_t lapis_host_now_ns(void);

/* Disarmed; @fire runs on the timer thread once a deadline passes. */
void lapis_host_timer_init(struct lapis_host_timer *t, void (*fire)(void *opaque), void *opaque);
int lapis_host_timer_start(struct lapis_host_timer *t, struct lapis_err *err);
/* Any thread. LAPIS_HOST_TIMER_OFF cancels. */
void lapis_host_timer_arm(struct lapis_host_timer *t, uint64_t deadline_ns);
/* Joins the thread (a callback in progress finishes first). Idempotent. */
void lapis_host_timer_stop(struct lapis_host_timer *t);
void lapis_host_timer_destroy(struct lapis_host_timer *t);

#endif
