/* SPDX-License-Identifier: MIT */
/*
 * The IDT: 256 interrupt gates, each vector dispatched to a C handler.
 * Exceptions without a handler print vector, error code and RIP, and fail
 * the test (debug_exit(1)). So does any other vector without a handler,
 * except the spurious vector, which is counted and ignored.
 */
#ifndef GUEST_IDT_H
#define GUEST_IDT_H

#include <stdint.h>

#define SPURIOUS_VECTOR 0xFF

/* The stack as isr_common leaves it (boot/isr.S). */
struct irq_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*irq_handler_t)(struct irq_frame *frame);

void idt_init(void); /* builds and loads the IDT (BSP) */
void idt_load(void); /* loads the already-built IDT (APs) */
void idt_set_handler(unsigned vector, irq_handler_t fn);
unsigned long spurious_count(void);

#define RFLAGS_IF (1ull << 9)
/* Interrupt entries with IF clear: the host delivered an event twice (idt.c). */
struct stale_redelivery {
    unsigned long count;
    unsigned vector; /* of the first */
    uint64_t rip;
};
struct stale_redelivery stale_redeliveries(void);

#endif
