/* SPDX-License-Identifier: MIT */
/*
 * Machine-readable statistics of a finished run, for bench/ and scripts: the
 * exits by kind, the ioctls by kind (kvm.h), the EOI path's counters, guest
 * RAM resident, and the start-up time. One JSON object (bench/README.md has
 * the fields).
 */
#ifndef LAPIS_KVM_STATS_H
#define LAPIS_KVM_STATS_H

#include <stdio.h>

struct lapis_vm;

/* Writes the object, one line, to @f. @status is lapis run's exit status. */
void lapis_vm_print_stats_json(const struct lapis_vm *vm, int status, FILE *f);

/*
 * If $LAPIS_STATS is "json": writes the object to $LAPIS_STATS_FILE when set
 * (created or truncated), else to stderr. Otherwise does nothing.
 */
void lapis_vm_stats_from_env(const struct lapis_vm *vm, int status);

#endif
