/* SPDX-License-Identifier: MIT */
/* Builds the IDT from the stubs in boot/isr.S and dispatches to C handlers. */
#include "idt.h"

#include "../boot/layout.h"
#include "console.h"
#include "io.h"
#include "ports.h"

struct idt_gate {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, zero;
} __attribute__((packed));

extern char isr_stubs[]; /* stub v at isr_stubs + 16 * v */

static struct idt_gate idt[256] __attribute__((aligned(16)));
static irq_handler_t handlers[256];
static volatile unsigned long spurious;
static struct stale_redelivery stale;

static const char *const exception_names[32] = {
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound",
    "#UD invalid opcode",
    "#NM no FPU",
    "#DF double fault",
    "coprocessor overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved 15",
    "#MF x87 error",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD error",
    "#VE virtualization",
    "#CP control protection",
};

void idt_load(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) desc = {sizeof(idt) - 1, (uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(desc) : "memory");
}

void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uintptr_t a = (uintptr_t)(isr_stubs + 16 * v);
        idt[v] = (struct idt_gate){
            .off0 = (uint16_t)a,
            .sel = SEL_CODE64,
            .ist = 0,
            .type = 0x8E, /* present, DPL 0, 64-bit interrupt gate */
            .off1 = (uint16_t)(a >> 16),
            .off2 = (uint32_t)(a >> 32),
        };
    }
    idt_load();
}

void idt_set_handler(unsigned vector, irq_handler_t fn)
{
    if (vector < 256)
        handlers[vector] = fn;
}

unsigned long spurious_count(void)
{
    return spurious;
}

struct stale_redelivery stale_redeliveries(void)
{
    return stale;
}

static _Noreturn void crash(struct irq_frame *f)
{
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    console_break_lock();
    const char *name = f->vector < 32 && exception_names[f->vector] ? exception_names[f->vector]
                                                                    : "unexpected interrupt";
    printf("Bail out! vector %lu (%s), error code 0x%lx, RIP 0x%lx, RSP 0x%lx, CR2 0x%lx\n",
           (unsigned long)f->vector, name, (unsigned long)f->error, (unsigned long)f->rip,
           (unsigned long)f->rsp, (unsigned long)cr2);
    debug_exit(1);
    halt_forever();
}

void isr_dispatch(struct irq_frame *f);
void isr_dispatch(struct irq_frame *f)
{
    unsigned v = (unsigned)f->vector;
    /*
     * An external interrupt is only taken with IF set, every gate here clears
     * it, and no guest runs "int n". An entry above the exceptions with IF
     * clear is an event delivered a second time by the host, not by a LAPIC:
     * QEMU's TCG SVM re-delivers an event it injected at VMRUN when an exit
     * request reaches the vCPU first. Nothing was acknowledged: count it,
     * dispatch nothing.
     */
    if (v >= 32 && v < 256 && !(f->rflags & RFLAGS_IF)) {
        if (stale.count++ == 0) {
            stale.vector = v;
            stale.rip = f->rip;
        }
        return;
    }
    if (v < 256 && handlers[v]) {
        handlers[v](f);
        return;
    }
    if (v == SPURIOUS_VECTOR) {
        spurious++;
        return;
    }
    crash(f);
}
