/* SPDX-License-Identifier: MIT */
/*
 * A hostile guest: triple-faults from long mode. An empty IDT makes the
 * invalid opcode a double fault and then a shutdown; the VMM must report a
 * crash (status 6) with a message, not hang or die.
 */
#include "guest.h"

int main(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) empty = {0, 0};

    printf("hostile_triple: loading an empty IDT, then ud2\n");
    __asm__ volatile("cli; lidt %0; ud2" : : "m"(empty) : "memory");
    bail("still running after ud2 with an empty IDT");
}
