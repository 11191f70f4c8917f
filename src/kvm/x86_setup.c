/* SPDX-License-Identifier: MIT */
/* CPUID and boot registers: what a vCPU looks like before its first instruction. */
#include "x86_setup.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#define CPUID_1_ECX_X2APIC     (1u << 21)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT        (1u << 28)

#define X86_CR0_PE (1u << 0)
#define X86_CR0_ET (1u << 4)

int lapis_x86_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **out, struct lapis_err *err)
{
    for (unsigned n = 64; n <= 4096; n *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
        if (!c)
            return lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory for CPUID");
        c->nent = n;
        if (lapis_kvm_ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
            *out = c;
            return 0;
        }
        int e = errno;
        free(c);
        if (e != E2BIG)
            return lapis_err_set(err, LAPIS_ERR_HOST, e, "KVM_GET_SUPPORTED_CPUID failed: %s",
                                 strerror(e));
    }
    return lapis_err_set(err, LAPIS_ERR_HOST, E2BIG, "KVM_GET_SUPPORTED_CPUID: too many leaves");
}

int lapis_x86_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned index,
                        unsigned ncpus, struct lapis_err *err)
{
    size_t sz = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
    struct kvm_cpuid2 *c = malloc(sz);
    int r = 0;

    if (!c)
        return lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory for CPUID");
    memcpy(c, supported, sz);
    for (unsigned i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];

        switch (e->function) {
        case 1:
            /* x2APIC on: KVM's LAPIC then offers Directed EOI per the policy (§4). */
            e->ecx |= CPUID_1_ECX_X2APIC | CPUID_1_ECX_HYPERVISOR;
            e->ebx = (e->ebx & 0x0000FFFFu) | (index << 24) | ((ncpus & 0xFFu) << 16);
            if (ncpus > 1)
                e->edx |= CPUID_1_EDX_HTT;
            break;
        case 0xB:
        case 0x1F:
            e->edx = index; /* x2APIC ID */
            break;
        default:
            break;
        }
    }
    if (lapis_kvm_ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
        r = lapis_err_set(err, LAPIS_ERR_HOST, errno, "KVM_SET_CPUID2 on vCPU %u failed: %s", index,
                          strerror(errno));
    free(c);
    return r;
}

void lapis_x86_cpuid_set_feature(struct kvm_cpuid2 *c, uint32_t leaf, int reg, unsigned bit,
                                 bool on)
{
    for (unsigned i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        uint32_t *r = reg == LAPIS_CPUID_EDX ? &e->edx : &e->ecx;

        if (e->function != leaf || bit > 31)
            continue;
        if (on)
            *r |= 1u << bit;
        else
            *r &= ~(1u << bit);
    }
}

void lapis_x86_cpuid_hide_emulator_gaps(struct kvm_cpuid2 *c)
{
    lapis_x86_cpuid_set_feature(c, 1, LAPIS_CPUID_ECX, LAPIS_CPUID_1_ECX_CX16, false);
    lapis_x86_cpuid_set_feature(c, 1, LAPIS_CPUID_ECX, LAPIS_CPUID_1_ECX_XSAVE, false);
    lapis_x86_cpuid_set_feature(c, 1, LAPIS_CPUID_ECX, LAPIS_CPUID_1_ECX_OSXSAVE, false);
    /* No XSAVE, no state components: an empty leaf 0xD, every subleaf. */
    for (unsigned i = 0; i < c->nent; i++)
        if (c->entries[i].function == 0xD)
            c->entries[i].eax = c->entries[i].ebx = c->entries[i].ecx = c->entries[i].edx = 0;
}

unsigned lapis_x86_cpuid_physbits(const struct kvm_cpuid2 *c)
{
    for (unsigned i = 0; i < c->nent; i++)
        if (c->entries[i].function == 0x80000008u && (c->entries[i].eax & 0xFF))
            return c->entries[i].eax & 0xFF;
    return 36;
}

static void flat_segment(struct kvm_segment *s, uint16_t selector, uint8_t type)
{
    memset(s, 0, sizeof(*s));
    s->base = 0;
    s->limit = 0xFFFFFFFFu;
    s->selector = selector;
    s->type = type;
    s->present = 1;
    s->dpl = 0;
    s->db = 1;
    s->s = 1;
    s->l = 0;
    s->g = 1;
}

int lapis_x86_set_boot_state(int vcpu_fd, const struct lapis_boot_state *bs, struct lapis_err *err)
{
    struct kvm_sregs sregs;
    struct kvm_regs regs;

    if (bs->mode != LAPIS_CPU_PROTECTED32)
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL, "the loader gave no usable entry state");
    if (lapis_kvm_ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "KVM_GET_SREGS failed: %s",
                             strerror(errno));
    /* Multiboot v1: flat 4 GiB code and data, PE on, paging off, IF clear. */
    flat_segment(&sregs.cs, 0x08, 0xB); /* execute/read, accessed */
    flat_segment(&sregs.ds, 0x10, 0x3); /* read/write, accessed */
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
    sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
    sregs.cr3 = 0;
    sregs.cr4 = 0;
    sregs.efer = 0;
    if (lapis_kvm_ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "KVM_SET_SREGS failed: %s",
                             strerror(errno));

    memset(&regs, 0, sizeof(regs));
    regs.rip = bs->rip;
    regs.rsp = bs->rsp;
    regs.rax = bs->rax;
    regs.rbx = bs->rbx;
    regs.rcx = bs->rcx;
    regs.rdx = bs->rdx;
    regs.rsi = bs->rsi;
    regs.rdi = bs->rdi;
    regs.rflags = 0x2; /* reserved bit 1; IF clear */
    if (lapis_kvm_ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "KVM_SET_REGS failed: %s",
                             strerror(errno));
    return 0;
}
