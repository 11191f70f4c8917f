/* SPDX-License-Identifier: MIT */
/*
 * The legacy PC devices a Linux guest expects beside the IOAPIC
 * (docs/linux-boot.md): the 8254 PIT (0x40-0x43, 0x61; channel 0 on IOAPIC
 * pin 2, timed by a host one-shot timer), the masked 8259 pair (0x20/0x21,
 * 0xA0/0xA1, ELCR 0x4D0/0x4D1), an empty 8042 (0x60, 0x64; IRQ 1/12 on pins
 * 1/12, its reset line reboots the guest) and the CMOS RTC (0x70, 0x71), plus
 * the ACPI PM1a event block (0x600-0x603: reads 0, writes ignored; nothing is
 * ever raised there). PM1a control (0x604) and COM1 are on the board already.
 *
 * Locks: one per model. The PIT's and the 8042's interrupt callbacks run with
 * their model lock held and take the irqchip lock (model -> IOAPIC), as COM1
 * does; the PIT timer thread takes the PIT lock.
 */
#ifndef LAPIS_KVM_LEGACY_H
#define LAPIS_KVM_LEGACY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "devices/cmos.h"
#include "devices/i8042.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "host_timer.h"
#include "loader/acpi.h"
#include "kvm.h"

#define LAPIS_LEGACY_PIT_PIN      2u /* ISA IRQ0 -> GSI 2, the MADT override */
#define LAPIS_LEGACY_PM1A_EVT_LEN 4u

struct lapis_vm;

struct lapis_legacy {
    struct lapis_vm *vm;
    pthread_mutex_t pit_lock;
    struct lapis_pit pit;
    struct lapis_host_timer pit_timer;
    pthread_mutex_t pic_lock;
    struct lapis_pic pic;
    pthread_mutex_t kbc_lock;
    struct lapis_i8042 kbc;
    pthread_mutex_t cmos_lock;
    struct lapis_cmos cmos;
    uint64_t pm1_evt_writes; /* PM1a status/enable writes (ignored), atomically */
    bool attached;
};

/*
 * Initialises the models, places them on vm->pio and starts the PIT's timer
 * thread. Before the vCPUs run. lapis_legacy_detach() undoes it (after
 * lapis_vm_run() has returned), also after a failure half-way.
 */
int lapis_legacy_attach(struct lapis_legacy *lg, struct lapis_vm *vm, struct lapis_err *err);
void lapis_legacy_detach(struct lapis_legacy *lg);

/* One line of counters (no newline): "legacy: pit.irqs=... ...". */
void lapis_legacy_format_stats(const struct lapis_legacy *lg, char *buf, size_t len);

#endif
