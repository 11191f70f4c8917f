/* SPDX-License-Identifier: MIT */
/*
 * A VM on KVM: guest RAM, the irqchip, the I/O buses and their devices, and
 * one thread per vCPU running KVM_RUN and dispatching its exits. The VM runs
 * until the guest powers off, exits through isa-debug-exit, crashes, or a
 * signal stops it; lapis_vm_run() then returns the process exit status.
 */
#ifndef LAPIS_KVM_VM_H
#define LAPIS_KVM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "board.h"
#include "iobus.h"
#include "irqchip.h"
#include "kvm.h"
#include "loader/boot_state.h"
#include "loader/guest_ram.h"

#define LAPIS_VM_MAX_CPUS 64u

/* Exit statuses of lapis run (CONTRIBUTING.md). */
#define LAPIS_STATUS_POWEROFF 0
#define LAPIS_STATUS_USAGE    2
#define LAPIS_STATUS_HOST     4
#define LAPIS_STATUS_CRASH    6
#define LAPIS_STATUS_SIGNAL   8

struct lapis_vm_params {
    uint64_t memory; /* bytes */
    unsigned cpus;   /* 1..LAPIS_VM_MAX_CPUS */
    bool kernel_irqchip;
    unsigned ioapic_version; /* 0x11 or 0x20; ignored (0x11) with the kernel irqchip */
    enum lapis_eoi_request eoi;
    bool no_eoi_recovery; /* debugging: never release held-back EOI exits (§7) */
    bool verbose;
    bool user_irqchip;         /* --irqchip user: no irqchip in KVM, lapis's LAPICs (userapic.h) */
    bool hide_emulator_gaps;   /* CPUID without CX16/XSAVE (x86_setup.h), for PVM hosts */
    bool triple_fault_reboots; /* a triple fault is a reboot: status 0 (Linux guests) */
};

enum lapis_exit_kind {
    LAPIS_EXIT_IO = 0,
    LAPIS_EXIT_MMIO,
    LAPIS_EXIT_EOI,
    LAPIS_EXIT_INTR,
    LAPIS_EXIT_HLT,
    LAPIS_EXIT_OTHER,
    LAPIS_EXIT_KINDS,
};

struct kvm_run;
struct lapis_snapshot;
struct kvm_cpuid2;

struct lapis_vcpu {
    struct lapis_vm *vm;
    unsigned index; /* also its APIC ID */
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool started;
    uint64_t recover[4];             /* vectors to look for a held-back EOI exit (atomic) */
    uint64_t run_seq;                /* KVM_RUN returns, stored atomically; the watchdog reads it */
    uint64_t wd_seq, wd_quiet_since; /* watchdog thread only: when run_seq last moved */
    uint64_t exits[LAPIS_EXIT_KINDS];
    uint64_t bad_exits; /* exits with sizes/offsets out of bounds */
};

struct lapis_vm {
    struct lapis_vm_params params;
    struct lapis_kvm kvm;
    int fd;
    struct lapis_guest_ram ram;
    struct lapis_irqchip irqchip;
    bool irqchip_ready;
    struct lapis_iobus pio, mmio;
    struct lapis_board board;
    bool board_ready;
    unsigned ncpus;
    struct lapis_vcpu vcpus[LAPIS_VM_MAX_CPUS];
    struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID */

    /* Stopping: the first request wins. */
    pthread_mutex_t stop_lock;
    bool stopping; /* read atomically by vCPU threads */
    int stop_status;
    char stop_msg[256];
    int stop_eventfd;            /* wakes the thread in lapis_vm_run() */
    bool trace_exits;            /* LAPIS_TRACE=exit */
    struct lapis_snapshot *snap; /* --save / --restore (snapshot.h), else NULL */
};

/*
 * Guest RAM of @total bytes (low part, then above 4 GiB), zero-filled and not
 * yet known to KVM: the loaders fill it before /dev/kvm is opened, so a bad
 * file is refused on any host. Unmap sets @ram to empty.
 */
int lapis_vm_ram_map(struct lapis_guest_ram *ram, uint64_t total, struct lapis_err *err);
void lapis_vm_ram_unmap(struct lapis_guest_ram *ram);

/*
 * Opens KVM and creates the VM, its irqchip, devices and vCPUs. @ram, if not
 * NULL, is RAM from lapis_vm_ram_map() of params->memory bytes, already
 * loaded; the VM takes it over (*ram is emptied, even on failure). NULL: the
 * VM maps its own.
 */
int lapis_vm_create(const struct lapis_vm_params *params, struct lapis_guest_ram *ram,
                    struct lapis_vm **out, struct lapis_err *err);
void lapis_vm_destroy(struct lapis_vm *vm);

/* Guest RAM, for the loader. */
const struct lapis_guest_ram *lapis_vm_ram(const struct lapis_vm *vm);

/* Sets the boot vCPU's registers. The other vCPUs wait for INIT/SIPI. */
int lapis_vm_set_boot_state(struct lapis_vm *vm, const struct lapis_boot_state *bs,
                            struct lapis_err *err);

/*
 * Runs until the VM stops. Returns the exit status (0, odd, 4, 6 or 8); a
 * message, if any, is in @msg (empty otherwise).
 */
int lapis_vm_run(struct lapis_vm *vm, char *msg, size_t msglen);

/* Asks the VM to stop with @status (first caller wins). Any thread; async-signal-unsafe. */
void lapis_vm_stop(struct lapis_vm *vm, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool lapis_vm_stopping(const struct lapis_vm *vm);
/* Kicks every vCPU out of KVM_RUN (for a save: snapshot.c). */
void lapis_vm_kick_all(struct lapis_vm *vm);
/* Makes @v leave KVM_RUN (or not enter it) and look at its requests. Any thread. */
void lapis_vm_kick_vcpu(struct lapis_vcpu *v);

/* Watchdog, each pass: notes which vCPUs have stayed inside KVM_RUN since when. */
void lapis_vm_watch_vcpus(struct lapis_vm *vm, uint64_t now_ns);
/*
 * Watchdog -> vCPUs: look for a held-back EOI exit of @vector (spec eoi.md
 * §7). Only vCPUs that have not left KVM_RUN for @quiet_ns are asked: any
 * exit would have let a held-back EOI exit out, and kicking a running vCPU
 * for nothing costs an exit (and on this host may disturb an injection).
 */
void lapis_vm_request_recovery(struct lapis_vm *vm, const struct lapis_msi *dest, uint8_t vector,
                               uint64_t now_ns, uint64_t quiet_ns);

/* The one-line statistics (no newline). */
void lapis_vm_format_stats(const struct lapis_vm *vm, char *buf, size_t len);

#endif
