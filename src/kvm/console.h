/* SPDX-License-Identifier: MIT */
/*
 * The serial console's input: a thread reading the terminal on stdin and
 * feeding COM1's receive FIFO (no more than lapis_uart_rx_space(); when it
 * is full, the thread waits for the UART's rx_ready, i.e. for the guest to
 * empty it). The terminal is put in raw mode for the run, except that Ctrl-C
 * still raises SIGINT (lapis stops with status 8); Ctrl-\ and Ctrl-Z go to
 * the guest. Its settings come back on every way out: lapis_console_stop(),
 * exit(), and fatal signals (SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS,
 * SIGILL, SIGFPE; the signal then takes its course). Only SIGKILL leaves the
 * terminal raw (`stty sane` repairs it).
 *
 * Input is read only from a terminal lapis owns (the foreground process
 * group): never from a pipe, a file or /dev/null, whose bytes may belong to
 * a script that runs lapis. Reading stops at end of file.
 */
#ifndef LAPIS_KVM_CONSOLE_H
#define LAPIS_KVM_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm.h"

struct lapis_board;

struct lapis_console {
    struct lapis_board *board;
    int fd;      /* the terminal */
    int stop_fd; /* eventfd: wakes the thread's poll */
    pthread_t thread;
    bool started;
    bool stop;           /* under board->uart_lock */
    pthread_cond_t room; /* waits with board->uart_lock: the guest emptied the FIFO */
    uint64_t bytes;      /* accepted by the UART */
};

/*
 * Starts reading @fd into @board's COM1 if @fd is a terminal in the
 * foreground; otherwise does nothing and returns 0 (c->started false).
 */
int lapis_console_start(struct lapis_console *c, struct lapis_board *board, int fd,
                        struct lapis_err *err);
/* Stops the thread and restores the terminal. Safe if never started. */
void lapis_console_stop(struct lapis_console *c);

#endif
