/* SPDX-License-Identifier: MIT */
/*
 * One stub per vector: push a zero error code where the CPU pushes none, push
 * the vector, save the general registers and call isr_dispatch(frame).
 * Returns with iretq (64-bit iret is fine on this host; 32-bit iret is not).
 */
        .text
        .code64

/* Vectors for which the CPU pushes an error code: 8, 10-14, 17, 21, 29, 30. */
#define ERRCODE_MASK 0x60227D00

/* Stub v starts at isr_stubs + 16 * v (idt_init() relies on it). */
        .balign 16
        .globl isr_stubs
isr_stubs:
        vector = 0
        .rept 256
        .balign 16
        .if vector >= 32
        pushq $0
        .elseif ((ERRCODE_MASK >> vector) & 1) == 0
        pushq $0
        .endif
        pushq $vector
        jmp isr_common
        vector = vector + 1
        .endr

isr_common:
        pushq %rax
        pushq %rcx
        pushq %rdx
        pushq %rbx
        pushq %rbp
        pushq %rsi
        pushq %rdi
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        cld
        movq %rsp, %rdi
        call isr_dispatch
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rdi
        popq %rsi
        popq %rbp
        popq %rbx
        popq %rdx
        popq %rcx
        popq %rax
        addq $16, %rsp                  /* vector, error code */
        iretq

        .section .note.GNU-stack, "", @progbits
