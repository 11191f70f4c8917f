/* SPDX-License-Identifier: MIT */
/* Constants shared by the boot assembly and the C library. */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

#define SEL_CODE64 0x08
#define SEL_DATA   0x10
#define SEL_CODE32 0x18

#define BOOT_STACK_SIZE 16384
#define AP_STACK_SIZE   8192
#define MAX_CPUS        32

/* The AP trampoline is copied here; the SIPI vector is its page number. */
#define TRAMPOLINE_BASE 0x8000

#endif
