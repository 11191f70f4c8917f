/* SPDX-License-Identifier: MIT */
/*
 * Multiboot v1 entry: the loader enters _start in 32-bit protected mode with
 * paging off, eax = 0x2BADB002, ebx = the info block. We go straight to long
 * mode with the first 4 GiB identity-mapped in 2 MiB pages, then call C.
 * Spec eoi.md §7: no 32-bit iret here (it fails under this host's KVM).
 */
#include "layout.h"

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0

        .section .multiboot, "a"
        .balign 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .section .text.boot, "ax"
        .code32
        .globl _start
_start:
        cli
        cld
        movl %eax, %edi                 /* kept for guest_start() */
        movl %ebx, %esi
        lgdt gdt64_desc
        movl $SEL_DATA, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movl %eax, %fs
        movl %eax, %gs
        ljmp $SEL_CODE32, $1f
1:
        movl $boot_stack_top, %esp
        pushl %esi
        pushl %edi

        /* Page tables: PML4 -> PDPT -> 4 page directories of 2 MiB pages. */
        movl $pml4, %edi
        xorl %eax, %eax
        movl $(2 * 4096 / 4), %ecx      /* pml4 and pdpt are adjacent */
        rep stosl
        movl $(pdpt + 3), pml4          /* present | writable */
        movl $pd, %eax
        orl $3, %eax
        movl $pdpt, %edi
        movl $4, %ecx
2:      movl %eax, (%edi)
        addl $4096, %eax
        addl $8, %edi
        loop 2b

        movl $pd, %edi
        xorl %ebx, %ebx                 /* index of the 2 MiB page */
3:      movl %ebx, %eax
        shll $21, %eax
        orl $0x83, %eax                 /* present | writable | 2 MiB */
        cmpl $(3 * 512), %ebx           /* 3..4 GiB: MMIO, uncached */
        jb 4f
        orl $0x18, %eax                 /* PWT | PCD */
4:      movl %eax, (%edi)
        movl %ebx, %eax
        shrl $11, %eax                  /* bits 32+ of the address */
        movl %eax, 4(%edi)
        addl $8, %edi
        incl %ebx
        cmpl $2048, %ebx
        jb 3b

        popl %edi
        popl %esi
        call enter_long_mode
        ljmp $SEL_CODE64, $start64

/* PAE, CR3, EFER.LME, paging on. Shared with the AP trampoline's 32-bit leg. */
        .globl enter_long_mode
enter_long_mode:
        movl %cr4, %eax
        orl $0x20, %eax                 /* CR4.PAE */
        movl %eax, %cr4
        movl $pml4, %eax
        movl %eax, %cr3
        movl $0xC0000080, %ecx          /* EFER */
        rdmsr
        orl $0x100, %eax                /* LME */
        wrmsr
        movl %cr0, %eax
        orl $0x80000001, %eax           /* PG | PE */
        andl $0x9FFFFFFF, %eax          /* caches on: clear CD, NW */
        movl %eax, %cr0
        ret

        .code64
start64:
        movl $SEL_DATA, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movq $boot_stack_top, %rsp
        xorl %ebp, %ebp
        call guest_start                /* (magic in edi, info in esi) */
5:      cli
        hlt
        jmp 5b

        .section .rodata
        .balign 16
        .globl gdt64
gdt64:
        .quad 0                         /* null */
        .quad 0x00AF9A000000FFFF        /* SEL_CODE64 */
        .quad 0x00CF92000000FFFF        /* SEL_DATA */
        .quad 0x00CF9A000000FFFF        /* SEL_CODE32 */
gdt64_end:
        .globl gdt64_desc
gdt64_desc:
        .word gdt64_end - gdt64 - 1
        .quad gdt64

        .section .bss
        .balign 4096
        .globl pml4
pml4:   .skip 4096
pdpt:   .skip 4096
pd:     .skip 4 * 4096
        .balign 16
boot_stack:
        .skip BOOT_STACK_SIZE
boot_stack_top:

        .section .note.GNU-stack, "", @progbits
