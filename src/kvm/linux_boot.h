/* SPDX-License-Identifier: MIT */
/*
 * Booting a Linux kernel (bzImage or ELF vmlinux) on a created VM, as
 * docs/linux-boot.md describes: ACPI tables first, then the kernel, initrd,
 * command line and boot_params (src/loader), then the boot vCPU's 64-bit
 * entry state (long mode, paging on, rsi = boot_params) straight into
 * KVM_SET_SREGS / KVM_SET_REGS. The legacy devices are legacy.h's.
 */
#ifndef LAPIS_KVM_LINUX_BOOT_H
#define LAPIS_KVM_LINUX_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm.h"
#include "loader/bzimage.h"

struct lapis_vm;

/* True for what the Linux path takes: a bzImage, or an ELF64 x86-64 file. */
bool lapis_linux_is_kernel(const uint8_t *img, size_t len);

struct lapis_linux_boot {
    const uint8_t *image;
    size_t image_len;
    const uint8_t *initrd; /* NULL: none */
    size_t initrd_len;
    const char *cmdline; /* NULL: empty */
    bool no_unpack;      /* enter a compressed bzImage at its own 64-bit entry */
};

/*
 * Builds the ACPI tables for the VM's CPUs and IOAPIC, loads the kernel
 * (@layout says where everything went) and sets the boot vCPU's entry
 * state. Loader errors are LAPIS_ERR_USAGE (a bad file or a RAM size that
 * does not fit), KVM failures LAPIS_ERR_HOST.
 */
int lapis_linux_boot_load(struct lapis_vm *vm, const struct lapis_linux_boot *boot,
                          struct lapis_linux_layout *layout, struct lapis_err *err);

/* KVM_SET_SREGS / KVM_SET_REGS on @vcpu_fd from a loader's 64-bit entry state. */
int lapis_linux_set_entry(int vcpu_fd, const struct lapis_linux_entry *entry,
                          struct lapis_err *err);

#endif
