/* SPDX-License-Identifier: MIT */
/*
 * What a loader hands the backend: the CPU mode and registers the boot
 * vCPU starts with, and how far the image reaches in guest memory.
 */
#ifndef LAPIS_BOOT_STATE_H
#define LAPIS_BOOT_STATE_H

#include <stdint.h>

enum lapis_cpu_mode {
    /* 0 is never valid, so a zeroed, never-filled state is caught. */
    LAPIS_CPU_MODE_INVALID = 0,
    /*
     * 32-bit protected mode, paging off: CS a flat 4 GiB execute/read code
     * segment, DS/ES/FS/GS/SS flat 4 GiB read/write data, A20 on, EFLAGS
     * with IF clear (as Multiboot v1 requires).
     */
    LAPIS_CPU_PROTECTED32 = 1,
};

struct lapis_boot_state {
    enum lapis_cpu_mode mode;
    uint64_t rip, rsp, rax, rbx, rcx, rdx, rsi, rdi;
    /* End (exclusive) of the image, its modules and boot data: later data goes above. */
    uint64_t highest_loaded;
};

#endif
