/* SPDX-License-Identifier: MIT */
/* CPUID and the boot register state of x86 vCPUs. */
#ifndef LAPIS_KVM_X86_SETUP_H
#define LAPIS_KVM_X86_SETUP_H

#include "kvm.h"
#include "loader/boot_state.h"

struct kvm_cpuid2;

/* KVM_GET_SUPPORTED_CPUID from the system fd; free() the result. */
int lapis_x86_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **out, struct lapis_err *err);

/*
 * KVM_SET_CPUID2 for vCPU @index of @ncpus: the supported leaves with x2APIC
 * and the hypervisor bit on, and APIC ID = @index (leaves 1, 0xB, 0x1F).
 */
int lapis_x86_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned index,
                        unsigned ncpus, struct lapis_err *err);

/* Registers and segments for @bs (LAPIS_CPU_PROTECTED32: flat 32-bit, paging off). */
int lapis_x86_set_boot_state(int vcpu_fd, const struct lapis_boot_state *bs, struct lapis_err *err);

#endif
