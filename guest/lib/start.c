/* SPDX-License-Identifier: MIT */
/* C entry from boot/entry.S: console, command line, IDT, LAPIC, then main(). */
#include "guest.h"

#define MB_BOOT_MAGIC   0x2BADB002u
#define MB_INFO_CMDLINE (1u << 2)

struct multiboot_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
};

void guest_start(uint32_t magic, uint32_t info);
void guest_start(uint32_t magic, uint32_t info)
{
    console_init();
    if (magic == MB_BOOT_MAGIC && info) {
        const struct multiboot_info *mbi = (const void *)(uintptr_t)info;
        if ((mbi->flags & MB_INFO_CMDLINE) && mbi->cmdline)
            cmdline_set((const char *)(uintptr_t)mbi->cmdline);
    } else {
        printf("# warning: not started by a multiboot loader (eax 0x%x)\n", magic);
    }
    idt_init();
    lapic_init();
    int rc = main();
    if (rc)
        bail("main returned %d", rc);
    finish();
}
