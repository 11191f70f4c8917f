/* SPDX-License-Identifier: MIT */
/*
 * The PC board lapis builds: which device sits at which port or address, and
 * how its callbacks reach the VM (interrupt lines, stop requests). Each
 * device model gets a mutex here, since vCPU threads access them in parallel.
 */
#ifndef LAPIS_KVM_BOARD_H
#define LAPIS_KVM_BOARD_H

#include <pthread.h>
#include <stdbool.h>

#include "devices/fwcfg.h"
#include "devices/testdev.h"
#include "devices/uart16550.h"
#include "kvm.h"

struct lapis_vm;

struct lapis_board {
    struct lapis_vm *vm;
    pthread_mutex_t testdev_lock;
    struct lapis_testdev testdev;
    pthread_mutex_t uart_lock;
    struct lapis_uart uart; /* COM1, output to stdout */
    /* Console input (console.h): called with uart_lock held when the guest made RX room. */
    void (*uart_rx_ready)(void *opaque);
    void *uart_rx_opaque;
    pthread_mutex_t fwcfg_lock;
    struct lapis_fwcfg fwcfg; /* signature, RAM size, CPU count */
};

/* Creates the devices and registers them on vm->pio / vm->mmio. */
int lapis_board_init(struct lapis_board *board, struct lapis_vm *vm, struct lapis_err *err);
void lapis_board_destroy(struct lapis_board *board);

#endif
