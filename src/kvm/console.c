/* SPDX-License-Identifier: MIT */
/* Serial console input: terminal -> COM1's receive FIFO, raw mode and its restoration. */
#include "console.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include "board.h"

/* ---- the terminal's saved settings: process-wide, for exit and signal paths -------------- */

static struct termios saved_tio;
static int saved_fd = -1;
static volatile sig_atomic_t tio_raw;

static const int fatal_signals[] = {SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE};
#define NFATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))
static struct sigaction old_actions[NFATAL];
static bool handlers_installed, atexit_done;

/* Async-signal-safe: tcsetattr is. */
static void restore_terminal(void)
{
    if (tio_raw) {
        tcsetattr(saved_fd, TCSAFLUSH, &saved_tio);
        tio_raw = 0;
    }
}

static void fatal_handler(int sig)
{
    restore_terminal();
    for (unsigned i = 0; i < NFATAL; i++) {
        if (fatal_signals[i] != sig)
            continue;
        sigaction(sig, &old_actions[i], NULL);
        /* A fault re-executes and reaches the old handler; others are raised again. */
        if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGFPE)
            raise(sig);
        return;
    }
}

static void install_handlers(void)
{
    struct sigaction sa;

    if (handlers_installed)
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fatal_handler;
    sigemptyset(&sa.sa_mask);
    for (unsigned i = 0; i < NFATAL; i++)
        sigaction(fatal_signals[i], &sa, &old_actions[i]);
    if (!atexit_done)
        atexit_done = atexit(restore_terminal) == 0;
    handlers_installed = true;
}

static void remove_handlers(void)
{
    if (!handlers_installed)
        return;
    for (unsigned i = 0; i < NFATAL; i++)
        sigaction(fatal_signals[i], &old_actions[i], NULL);
    handlers_installed = false; /* the atexit entry stays; with tio_raw 0 it does nothing */
}

static int make_raw(int fd)
{
    struct termios t;

    if (tcgetattr(fd, &saved_tio) < 0)
        return -errno;
    saved_fd = fd;
    t = saved_tio;
    cfmakeraw(&t);
    /* Output as before (lapis's and a guest's bare "\n" still start a new line, as QEMU). */
    t.c_oflag = saved_tio.c_oflag;
    /* Ctrl-C still stops lapis (status 8); no other key may signal or suspend it. */
    t.c_lflag |= ISIG;
    t.c_cc[VQUIT] = _POSIX_VDISABLE;
    t.c_cc[VSUSP] = _POSIX_VDISABLE;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    install_handlers();
    tio_raw = 1;
    if (tcsetattr(fd, TCSANOW, &t) < 0) {
        int e = errno;
        tio_raw = 0;
        remove_handlers();
        return -e;
    }
    return 0;
}

/* ---- the input thread ---------------------------------------------------------------------- */

/* The UART's rx_ready, with uart_lock held. */
static void console_room(void *opaque)
{
    struct lapis_console *c = opaque;
    pthread_cond_signal(&c->room);
}

/* Offers @n bytes to COM1, waiting for room. False once asked to stop. */
static bool feed(struct lapis_console *c, const uint8_t *buf, size_t n)
{
    struct lapis_board *b = c->board;
    size_t off = 0;
    bool go_on;

    pthread_mutex_lock(&b->uart_lock);
    while (off < n && !c->stop) {
        size_t space = lapis_uart_rx_space(&b->uart);
        if (!space) {
            pthread_cond_wait(&c->room, &b->uart_lock);
            continue;
        }
        int k = lapis_uart_receive(&b->uart, buf + off, n - off < space ? n - off : space);
        if (k <= 0) {
            pthread_cond_wait(&c->room, &b->uart_lock);
            continue;
        }
        off += (size_t)k;
        c->bytes += (uint64_t)k;
    }
    go_on = !c->stop;
    pthread_mutex_unlock(&b->uart_lock);
    return go_on;
}

static void *console_main(void *arg)
{
    struct lapis_console *c = arg;
    uint8_t buf[64];
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        struct pollfd pfd[2] = {{.fd = c->fd, .events = POLLIN},
                                {.fd = c->stop_fd, .events = POLLIN}};
        ssize_t n;

        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[1].revents)
            break;
        if (!pfd[0].revents)
            continue;
        n = read(c->fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break; /* end of file or a dead terminal: no more input */
        if (!feed(c, buf, (size_t)n))
            break;
    }
    return NULL;
}

int lapis_console_start(struct lapis_console *c, struct lapis_board *board, int fd,
                        struct lapis_err *err)
{
    int r;

    memset(c, 0, sizeof(*c));
    c->board = board;
    c->fd = fd;
    c->stop_fd = -1;
    if (!isatty(fd) || tcgetpgrp(fd) != getpgrp())
        return 0;
    c->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (c->stop_fd < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "eventfd failed: %s", strerror(errno));
    pthread_cond_init(&c->room, NULL);
    r = make_raw(fd);
    if (r) {
        close(c->stop_fd);
        c->stop_fd = -1;
        pthread_cond_destroy(&c->room);
        return lapis_err_set(err, LAPIS_ERR_HOST, -r, "cannot put the terminal in raw mode: %s",
                             strerror(-r));
    }
    pthread_mutex_lock(&board->uart_lock);
    board->uart_rx_ready = console_room;
    board->uart_rx_opaque = c;
    pthread_mutex_unlock(&board->uart_lock);
    r = pthread_create(&c->thread, NULL, console_main, c);
    if (r) {
        lapis_console_stop(c);
        return lapis_err_set(err, LAPIS_ERR_HOST, r, "cannot start the console thread: %s",
                             strerror(r));
    }
    c->started = true;
    return 0;
}

void lapis_console_stop(struct lapis_console *c)
{
    struct lapis_board *b = c->board;
    uint64_t one = 1;

    if (c->stop_fd < 0)
        return;
    pthread_mutex_lock(&b->uart_lock);
    c->stop = true;
    b->uart_rx_ready = NULL;
    b->uart_rx_opaque = NULL;
    pthread_cond_broadcast(&c->room);
    pthread_mutex_unlock(&b->uart_lock);
    if (write(c->stop_fd, &one, sizeof(one)) < 0) {
        /* an eventfd counter cannot overflow with one write */
    }
    if (c->started)
        pthread_join(c->thread, NULL);
    c->started = false;
    close(c->stop_fd);
    c->stop_fd = -1;
    pthread_cond_destroy(&c->room);
    restore_terminal();
    remove_handlers();
}
