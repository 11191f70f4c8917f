/* SPDX-License-Identifier: MIT */
/* One-shot host timer: a thread sleeping on a condition variable until the deadline. */
#include "host_timer.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

uint64_t lapis_host_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void lapis_host_timer_init(struct lapis_host_timer *t, void (*fire)(void *opaque), void *opaque)
{
    pthread_condattr_t ca;

    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &ca);
    pthread_condattr_destroy(&ca);
    t->deadline = LAPIS_HOST_TIMER_OFF;
    t->fire = fire;
    t->opaque = opaque;
}

static void *timer_main(void *arg)
{
    struct lapis_host_timer *t = arg;
    sigset_t all;

    /* Signals belong to the run loop's signalfd and the vCPU kicks. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        uint64_t now = lapis_host_now_ns();

        if (t->deadline == LAPIS_HOST_TIMER_OFF) {
            pthread_cond_wait(&t->wake, &t->lock);
        } else if (now >= t->deadline) {
            t->deadline = LAPIS_HOST_TIMER_OFF; /* spent; the callback may re-arm */
            t->fires++;
            pthread_mutex_unlock(&t->lock);
            t->fire(t->opaque);
            pthread_mutex_lock(&t->lock);
        } else {
            struct timespec ts = {.tv_sec = (time_t)(t->deadline / 1000000000ull),
                                  .tv_nsec = (long)(t->deadline % 1000000000ull)};
            pthread_cond_timedwait(&t->wake, &t->lock, &ts);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int lapis_host_timer_start(struct lapis_host_timer *t, struct lapis_err *err)
{
    int r;

    if (t->started)
        return 0;
    r = pthread_create(&t->thread, NULL, timer_main, t);
    if (r)
        return lapis_err_set(err, LAPIS_ERR_HOST, r, "cannot start a timer thread: %s",
                             strerror(r));
    t->started = true;
    return 0;
}

void lapis_host_timer_arm(struct lapis_host_timer *t, uint64_t deadline_ns)
{
    pthread_mutex_lock(&t->lock);
    /* Wake the thread only if it would otherwise sleep past the new deadline. */
    bool earlier = deadline_ns < t->deadline;
    t->deadline = deadline_ns;
    if (earlier)
        pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
}

void lapis_host_timer_stop(struct lapis_host_timer *t)
{
    if (!t->started)
        return;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    t->started = false;
}

void lapis_host_timer_destroy(struct lapis_host_timer *t)
{
    lapis_host_timer_stop(t);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
}
