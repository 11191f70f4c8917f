/*
 * A Multiboot v1 32-bit entry for QEMU's -kernel that hands off to a Linux
 * laid out by lapis's loader: copy the boot data (boot area, ACPI tables,
 * initrd) to where lapis put them, enter long mode with lapis's page tables
 * and GDT, and jump to the kernel's 64-bit entry with rsi = boot_params.
 * Position-independent; the parameter block follows at fixed offsets.
 */
#define P_CR3   0x100
#define P_BP    0x108
#define P_GDTR  0x110
#define P_ENTRY 0x120
#define P_COPY  0x140 /* {u32 dst, u32 src, u32 len} ..., len 0 ends */

    .text
    .code32
    .globl _start
_start:
    cli
    call 1f
1:  popl %ebx
    subl $(1b - _start), %ebx
    leal P_COPY(%ebx), %ebp
    cld
2:  movl 8(%ebp), %ecx
    testl %ecx, %ecx
    jz 3f
    movl 0(%ebp), %edi
    movl 4(%ebp), %esi
    rep movsb
    addl $12, %ebp
    jmp 2b
3:  movl %cr4, %eax
    orl $0x20, %eax                 /* PAE */
    movl %eax, %cr4
    movl P_CR3(%ebx), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx          /* EFER.LME */
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax           /* PG | PE */
    movl %eax, %cr0
    lgdt P_GDTR(%ebx)
    leal (4f - _start)(%ebx), %eax
    pushl $0x10                     /* __BOOT_CS */
    pushl %eax
    lret
    .code64
4:  movl $0x18, %eax                /* __BOOT_DS */
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movl %ebx, %ebx
    movq P_BP(%rbx), %rsi
    movq $0x8ff0, %rsp
    movq P_ENTRY(%rbx), %rax
    jmp *%rax
