/* SPDX-License-Identifier: MIT */
/* CPUID and the boot register state of x86 vCPUs. */
#ifndef LAPIS_KVM_X86_SETUP_H
#define LAPIS_KVM_X86_SETUP_H

#include <stdbool.h>
#include <stdint.h>

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

/* CPUID feature bits lapis's own devices implement, in @c before any vCPU takes it. */
#define LAPIS_CPUID_ECX                0
#define LAPIS_CPUID_EDX                1
#define LAPIS_CPUID_1_ECX_TSC_DEADLINE 24
/* Sets or clears bit @bit of @reg in every @leaf entry of @c. */
void lapis_x86_cpuid_set_feature(struct kvm_cpuid2 *c, uint32_t leaf, int reg, unsigned bit,
                                 bool on);
/*
 * Hides what guest kernel code cannot use on this project's PVM hosts (spec
 * eoi.md §7), where it is emulated: CX16 (lock cmpxchg16b) and XSAVE/OSXSAVE
 * (xsave/xrstor) in CPUID.1:ECX, and leaf 0xD. x2APIC and the KVM leaves stay.
 * Measured there: CX16 goes, but KVM_SET_CPUID2 keeps the host's XSAVE bits
 * and leaf 0xD (KVM_GET_CPUID2 reads them back), so a Linux guest still
 * finds XSAVE and stops on xrstor in fpu__init_system().
 */
#define LAPIS_CPUID_1_ECX_CX16    13
#define LAPIS_CPUID_1_ECX_XSAVE   26
#define LAPIS_CPUID_1_ECX_OSXSAVE 27
void lapis_x86_cpuid_hide_emulator_gaps(struct kvm_cpuid2 *c);
/* MAXPHYADDR (CPUID 0x80000008 EAX[7:0]), 36 if the leaf is absent. */
unsigned lapis_x86_cpuid_physbits(const struct kvm_cpuid2 *c);

/* Registers and segments for @bs (LAPIS_CPU_PROTECTED32: flat 32-bit, paging off). */
int lapis_x86_set_boot_state(int vcpu_fd, const struct lapis_boot_state *bs, struct lapis_err *err);

#endif
