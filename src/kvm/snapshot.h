/* SPDX-License-Identifier: MIT */
/*
 * Saving a running VM and restoring it in a new process (lapis run --save /
 * --restore). The file format is src/cli/snapshot_file.h; this is what goes
 * in it and how a consistent point is reached:
 *
 *   - every vCPU leaves KVM_RUN and re-enters it once with immediate_exit,
 *     which completes the I/O of its last exit without running the guest
 *     (KVM's api.rst), then waits; the state is read while they wait;
 *   - per vCPU: registers, special registers, XSAVE (or FPU), XCRs, every MSR
 *     KVM lists that reads back, events, MP state, debug registers, LAPIC;
 *   - the interrupt controllers: lapis's IOAPIC model (entries with Remote
 *     IRR, counted line levels, throttle state) or KVM's PIC/IOAPIC, the
 *     negotiated EOI policy, and the pending EOIs: a level vector whose
 *     Remote IRR is set while its LAPIC has it neither in service nor
 *     pending, and whose EOI was not suppressed, was EOIed and KVM still holds
 *     the EOI exit (spec eoi.md §7). The new KVM will never send it, so the
 *     restore applies that EOI to the IOAPIC model itself;
 *   - --irqchip user: lapis's LAPIC models (their timers rebased to the
 *     restoring process's clock) and userapic.c's halted/wait-for-SIPI state;
 *     a vCPU asleep in HLT there is kicked out like one in KVM_RUN;
 *   - guest RAM (zero pages elided), the UART and fw_cfg registers, kvmclock.
 *
 * Triggers: a guest write to port 0x4F0 (1: save and stop, 2: save and go
 * on; at most one a second), or SIGUSR2 (save and stop). A read of the port gives bit 0 "this VM
 * was restored", bit 1 "a save file is set". The port exists only with
 * --save or --restore.
 */
#ifndef LAPIS_KVM_SNAPSHOT_H
#define LAPIS_KVM_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/snapshot_file.h"
#include "kvm.h"

#define LAPIS_SNAPSHOT_PORT          0x4F0u
#define LAPIS_SNAPSHOT_REQ_STOP      1u /* port value: save, then stop (status 0) */
#define LAPIS_SNAPSHOT_REQ_CONTINUE  2u /* port value: save, then go on */
#define LAPIS_SNAPSHOT_STAT_RESTORED 0x01u
#define LAPIS_SNAPSHOT_STAT_CAN_SAVE 0x02u
/* Save-and-go-on requests closer than this to the last save are ignored (counted). */
#define LAPIS_SNAPSHOT_MIN_INTERVAL_NS 1000000000ull

struct lapis_vm;
struct lapis_vcpu;
struct lapis_snapshot;

/*
 * On a created VM whose vCPU threads have not started: sets vm->snap and
 * places the port. @save_path (may be NULL) is where saves go.
 */
int lapis_snapshot_attach(struct lapis_vm *vm, const char *save_path, struct lapis_err *err);
void lapis_snapshot_detach(struct lapis_vm *vm);

/* Can lapis create @path (checked before anything runs; nothing is left behind)? */
int lapis_snapshot_check_path(const char *path, struct lapis_err *err);

/* The VM's parameters and a restore's precondition checks, from a parsed file. */
struct lapis_vm_params;
int lapis_snapshot_params(const struct lapis_snap_file *f, struct lapis_vm_params *params,
                          struct lapis_err *err);

/*
 * Before /dev/kvm is opened: everything @f says about itself (records, the
 * device and IOAPIC states, @params' vCPU count and irqchip), and its RAM
 * section loaded into @ram (lapis_vm_ram_map() of params->memory bytes, zero).
 * A corrupt file is a usage error with one line, on any host. Left for the
 * restore: what depends on this host's KVM (CPUID, EOI flags, XSAVE size,
 * MSRs, the user LAPIC model's state against the host's CPUID).
 */
struct lapis_guest_ram;
int lapis_snapshot_check(const struct lapis_snap_file *f, const struct lapis_vm_params *params,
                         const struct lapis_guest_ram *ram, struct lapis_err *err);

/*
 * Loads the rest of @f into @vm (created with lapis_snapshot_params'
 * parameters and the RAM lapis_snapshot_check() filled, threads not
 * started). A file that does not fit this host is a host error with one
 * line; the VM must then be destroyed.
 */
int lapis_snapshot_restore(struct lapis_vm *vm, const struct lapis_snap_file *f,
                           struct lapis_err *err);

/* Any thread: ask for a save (LAPIS_SNAPSHOT_REQ_*). Ignored without a save file. */
void lapis_snapshot_request(struct lapis_snapshot *s, unsigned action);
/* The main thread polls this fd; when readable it calls lapis_snapshot_service(). */
int lapis_snapshot_fd(const struct lapis_snapshot *s);
/* Main thread: pauses every vCPU, saves, then resumes them or stops the VM. */
void lapis_snapshot_service(struct lapis_vm *vm);

/* vCPU threads: is a pause wanted? Then complete the last exit and call _paused (blocks). */
bool lapis_snapshot_pause_requested(const struct lapis_snapshot *s);
void lapis_snapshot_vcpu_paused(struct lapis_snapshot *s, struct lapis_vcpu *v);

#endif
