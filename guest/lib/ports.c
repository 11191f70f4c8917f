/* SPDX-License-Identifier: MIT */
#include "ports.h"

#include "io.h"

void debug_exit(unsigned v)
{
    outb(DEBUG_EXIT_PORT, (uint8_t)v);
}

_Noreturn void poweroff(void)
{
    outw(PM1A_CNT_PORT, PM1_SLP_EN);
    halt_forever();
}

void irq_line(unsigned line, bool level)
{
    outb((uint16_t)(TESTDEV_IRQ_BASE + line), level ? 1 : 0);
}

void sync(void)
{
    outb(SYNC_PORT, 0);
}
