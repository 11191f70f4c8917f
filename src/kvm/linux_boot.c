/* SPDX-License-Identifier: MIT */
/* Linux: ACPI tables and the kernel in guest RAM (no KVM yet), then the boot vCPU's entry state. */
#include "linux_boot.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "loader/acpi.h"
#include "loader/elf.h"

bool lapis_linux_is_kernel(const uint8_t *img, size_t len)
{
    struct lapis_elf_info info;

    if (lapis_bzimage_is_bzimage(img, len))
        return true;
    if (!lapis_elf_is_elf(img, len) || lapis_elf_parse(img, len, &info, NULL, 0))
        return false;
    return info.is64 && info.machine == LAPIS_ELF_EM_X86_64;
}

static void to_kvm_segment(struct kvm_segment *k, const struct lapis_segment *s)
{
    memset(k, 0, sizeof(*k));
    k->base = s->base;
    k->limit = s->limit;
    k->selector = s->selector;
    k->type = s->type;
    k->present = s->present;
    k->dpl = s->dpl;
    k->db = s->db;
    k->s = s->s;
    k->l = s->l;
    k->g = s->g;
    k->unusable = s->unusable;
}

int lapis_linux_set_entry(int vcpu_fd, const struct lapis_linux_entry *e, struct lapis_err *err)
{
    const struct lapis_long_mode_setup *sys = &e->sys;
    struct kvm_sregs sregs;
    struct kvm_regs regs;

    if (e->regs.mode != LAPIS_CPU_LONG64)
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                             "the Linux loader gave no 64-bit entry state");
    /* Start from KVM's reset state: APIC base, CR8 and the rest stay as KVM has them. */
    if (lapis_kvm_ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "KVM_GET_SREGS failed: %s",
                             strerror(errno));
    to_kvm_segment(&sregs.cs, &sys->cs);
    to_kvm_segment(&sregs.ds, &sys->ds);
    to_kvm_segment(&sregs.es, &sys->es);
    to_kvm_segment(&sregs.fs, &sys->fs);
    to_kvm_segment(&sregs.gs, &sys->gs);
    to_kvm_segment(&sregs.ss, &sys->ss);
    to_kvm_segment(&sregs.tr, &sys->tr);
    to_kvm_segment(&sregs.ldt, &sys->ldt);
    sregs.gdt.base = sys->gdt_base;
    sregs.gdt.limit = sys->gdt_limit;
    sregs.idt.base = sys->idt_base;
    sregs.idt.limit = sys->idt_limit;
    sregs.cr0 = sys->cr0;
    sregs.cr3 = sys->cr3;
    sregs.cr4 = sys->cr4;
    sregs.efer = sys->efer;
    if (lapis_kvm_ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "KVM_SET_SREGS (long mode) failed: %s",
                             strerror(errno));

    memset(&regs, 0, sizeof(regs));
    regs.rip = e->regs.rip;
    regs.rsp = e->regs.rsp;
    regs.rax = e->regs.rax;
    regs.rbx = e->regs.rbx;
    regs.rcx = e->regs.rcx;
    regs.rdx = e->regs.rdx;
    regs.rsi = e->regs.rsi;
    regs.rdi = e->regs.rdi;
    regs.rflags = sys->rflags;
    if (lapis_kvm_ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "KVM_SET_REGS failed: %s",
                             strerror(errno));
    return 0;
}

int lapis_linux_boot_prepare(const struct lapis_guest_ram *ram, unsigned cpus,
                             const struct lapis_linux_boot *boot, struct lapis_linux_layout *layout,
                             struct lapis_err *err)
{
    struct lapis_acpi_config acpi;
    struct lapis_acpi_tables tables;
    struct lapis_linux_config cfg;
    char msg[sizeof(err->msg)];
    int r;

    /* Tables first: the kernel's boot_params point at the RSDP. The IOAPIC's ID is 0 at reset. */
    lapis_acpi_default_config(&acpi, cpus);
    acpi.ioapic_id = 0;
    r = lapis_acpi_build(ram, &acpi, &tables, msg, sizeof(msg));
    if (r)
        return lapis_err_set(err, LAPIS_ERR_USAGE, -r, "ACPI tables: %s", msg);

    memset(&cfg, 0, sizeof(cfg));
    cfg.cmdline = boot->cmdline;
    cfg.initrd = boot->initrd;
    cfg.initrd_size = boot->initrd ? boot->initrd_len : 0;
    cfg.acpi_rsdp = tables.rsdp;
    cfg.no_unpack = boot->no_unpack;
    r = lapis_linux_load(ram, boot->image, boot->image_len, &cfg, layout, msg, sizeof(msg));
    if (r)
        return lapis_err_set(err, r == -ENOMEM ? LAPIS_ERR_HOST : LAPIS_ERR_USAGE, -r, "%s", msg);
    return 0;
}
