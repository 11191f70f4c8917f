/* SPDX-License-Identifier: MIT */
/*
 * AP start-up code. smp_start_aps() copies [trampoline_start, trampoline_end)
 * to TRAMPOLINE_BASE and sends SIPI with vector TRAMPOLINE_BASE >> 12, so the
 * AP begins here in real mode at CS = TRAMPOLINE_BASE >> 4, IP = 0.
 * 16-bit -> 32-bit (far jump) -> long mode on the BSP's page tables (far
 * jump) -> ap_entry64 in the image, on the stack the BSP left in ap_boot_stack.
 */
#include "layout.h"

#define REL(x) ((x) - trampoline_start + TRAMPOLINE_BASE)

        .section .rodata
        .globl trampoline_start, trampoline_end
        .code16
trampoline_start:
        cli
        cld
        movw %cs, %ax
        movw %ax, %ds
        lgdtl tramp_gdt_desc - trampoline_start
        movl %cr0, %eax
        orl $1, %eax                    /* PE */
        movl %eax, %cr0
        ljmpl $SEL_CODE32, $REL(tramp32)

        .code32
tramp32:
        movl $SEL_DATA, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movl $REL(tramp_stack_top), %esp
        movl $enter_long_mode, %eax     /* absolute: this code runs at a copy */
        call *%eax
        ljmp $SEL_CODE64, $REL(tramp64)

        .code64
tramp64:
        movl $SEL_DATA, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movq ap_boot_stack, %rsp
        xorl %ebp, %ebp
        movabsq $ap_entry64, %rax
        jmp *%rax

        .balign 8
tramp_gdt_desc:
        .word 4 * 8 - 1
        .long gdt64
        .balign 16
        .skip 64                        /* for the call to enter_long_mode */
tramp_stack_top:
trampoline_end:

        .section .note.GNU-stack, "", @progbits
