/* SPDX-License-Identifier: MIT */
/*
 * Booting a Linux kernel (bzImage or ELF vmlinux), as docs/linux-boot.md
 * describes: ACPI tables first, then the kernel, initrd, command line and
 * boot_params (src/loader) in guest RAM before the VM exists; then, on the
 * created VM, the boot vCPU's 64-bit entry state (long mode, paging on, rsi =
 * boot_params) straight into KVM_SET_SREGS / KVM_SET_REGS. The legacy
 * devices are legacy.h's.
 */
#ifndef LAPIS_KVM_LINUX_BOOT_H
#define LAPIS_KVM_LINUX_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm.h"
#include "loader/bzimage.h"
#include "loader/guest_ram.h"

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
 * Builds the ACPI tables for @cpus CPUs and the IOAPIC (ID 0, as at reset)
 * in @ram and loads the kernel, initrd and command line (@layout says where
 * everything went, and the 64-bit entry state). Touches nothing but @ram, so
 * it runs before /dev/kvm is opened. Loader errors are LAPIS_ERR_USAGE (a bad
 * file or a RAM size that does not fit), running out of memory LAPIS_ERR_HOST.
 */
int lapis_linux_boot_prepare(const struct lapis_guest_ram *ram, unsigned cpus,
                             const struct lapis_linux_boot *boot, struct lapis_linux_layout *layout,
                             struct lapis_err *err);

/* KVM_SET_SREGS / KVM_SET_REGS on @vcpu_fd from a loader's 64-bit entry state. */
int lapis_linux_set_entry(int vcpu_fd, const struct lapis_linux_entry *entry,
                          struct lapis_err *err);

#endif
