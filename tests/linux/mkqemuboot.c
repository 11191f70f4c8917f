/* SPDX-License-Identifier: MIT */
/*
 * Sanity harness: lays out a Linux kernel with lapis's loader and ACPI
 * tables in a RAM image, and packs the result into a Multiboot ELF32 that
 * QEMU's -kernel boots: qemu_stub.S copies the boot data into place, enters
 * long mode with lapis's page tables and GDT, and jumps to the kernel's
 * 64-bit entry. So Linux on QEMU sees lapis's boot_params, e820 and MADT.
 *
 *   mkqemuboot --kernel K [--initrd I] [--cmdline S] [--ram-mib N] [--cpus N]
 *              [--no-unpack] --stub qemu_stub.bin --out boot.elf
 *
 * --ram-mib is the RAM lapis describes; give QEMU more (-m) so that SeaBIOS's
 * own tables and the Multiboot info block stay out of the way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/acpi.h"
#include "loader/bzimage.h"
#include "loader/unpack.h"

#define ACPI_BASE 0x80000ull /* below the EBDA, marked ACPI in e820 */
#define ACPI_SIZE 0x10000ull
#define P_CR3     0x100
#define P_BP      0x108
#define P_GDTR    0x110
#define P_ENTRY   0x120
#define P_COPY    0x140
#define STUB_SIZE 0x200

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "mkqemuboot: cannot open %s: %s\n", path, strerror(errno));
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "mkqemuboot: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void w16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void w32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void w64(uint8_t *p, uint64_t v)
{
    w32(p, (uint32_t)v);
    w32(p + 4, (uint32_t)(v >> 32));
}

int main(int argc, char **argv)
{
    const char *kernel = NULL, *initrd = NULL, *cmdline = "", *stub = NULL, *out = NULL;
    unsigned ram_mib = 448, cpus = 1;
    bool no_unpack = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-unpack")) {
            no_unpack = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "mkqemuboot: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--kernel"))
            kernel = v;
        else if (!strcmp(a, "--initrd"))
            initrd = v;
        else if (!strcmp(a, "--cmdline"))
            cmdline = v;
        else if (!strcmp(a, "--stub"))
            stub = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--ram-mib"))
            ram_mib = (unsigned)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--cpus"))
            cpus = (unsigned)strtoul(v, NULL, 0);
        else {
            fprintf(stderr, "mkqemuboot: unknown option %s\n", a);
            return 2;
        }
    }
    if (!kernel || !stub || !out || ram_mib < 64 || ram_mib > 3000) {
        fprintf(stderr, "usage: mkqemuboot --kernel K [--initrd I] [--cmdline S] [--ram-mib N] "
                        "[--cpus N] [--no-unpack] --stub STUB --out ELF\n");
        return 2;
    }

    struct lapis_guest_ram ram = {calloc(1, (size_t)ram_mib << 20), (uint64_t)ram_mib << 20, NULL,
                                  0};
    char err[256];
    struct lapis_acpi_config ac;
    lapis_acpi_default_config(&ac, cpus);
    ac.base = ACPI_BASE;
    ac.size = ACPI_SIZE;
    struct lapis_acpi_tables at;
    if (lapis_acpi_build(&ram, &ac, &at, err, sizeof(err))) {
        fprintf(stderr, "mkqemuboot: %s\n", err);
        return 1;
    }
    struct lapis_e820_entry res = {ACPI_BASE, ACPI_SIZE, LAPIS_E820_ACPI};
    size_t klen, ilen = 0, slen;
    uint8_t *kimg = slurp(kernel, &klen), *iimg = initrd ? slurp(initrd, &ilen) : NULL;
    uint8_t *simg = slurp(stub, &slen);
    if (slen > P_CR3) {
        fprintf(stderr, "mkqemuboot: stub is %zu bytes, more than 0x%x\n", slen, P_CR3);
        return 1;
    }
    struct lapis_linux_config lc = {.cmdline = cmdline,
                                    .initrd = iimg,
                                    .initrd_size = ilen,
                                    .acpi_rsdp = at.rsdp,
                                    .reserved = &res,
                                    .nreserved = 1,
                                    .no_unpack = no_unpack};
    static struct lapis_linux_layout lo;
    if (lapis_linux_load(&ram, kimg, klen, &lc, &lo, err, sizeof(err))) {
        fprintf(stderr, "mkqemuboot: %s\n", err);
        return 1;
    }

    /* Blob at kernel_addr: kernel (with bss), then boot area, ACPI, initrd, stub. */
    uint64_t base = lo.kernel_addr;
    uint64_t boot_len = LAPIS_LINUX_BOOT_AREA_END - LAPIS_LINUX_GDT_ADDR;
    uint64_t acpi_len = at.end - ACPI_BASE;
    uint64_t off_boot = (lo.kernel_end - base + 0xFFF) & ~0xFFFull;
    uint64_t off_acpi = off_boot + ((boot_len + 0xFFF) & ~0xFFFull);
    uint64_t off_initrd = off_acpi + ((acpi_len + 0xFFF) & ~0xFFFull);
    uint64_t off_stub = off_initrd + ((lo.initrd_size + 0xFFF) & ~0xFFFull);
    uint64_t blob_len = off_stub + STUB_SIZE;
    if (base + blob_len > ram.low_size || (lo.initrd_size && base + blob_len > lo.initrd_addr)) {
        fprintf(stderr, "mkqemuboot: blob overlaps the initrd; raise --ram-mib\n");
        return 1;
    }
    uint8_t *blob = calloc(1, blob_len);
    memcpy(blob, lapis_ram_ptr(&ram, base, lo.kernel_end - base), lo.kernel_end - base);
    memcpy(blob + off_boot, lapis_ram_ptr(&ram, LAPIS_LINUX_GDT_ADDR, boot_len), boot_len);
    memcpy(blob + off_acpi, lapis_ram_ptr(&ram, ACPI_BASE, acpi_len), acpi_len);
    if (lo.initrd_size)
        memcpy(blob + off_initrd, lapis_ram_ptr(&ram, lo.initrd_addr, lo.initrd_size),
               lo.initrd_size);
    uint8_t *s = blob + off_stub;
    memcpy(s, simg, slen);
    const struct lapis_long_mode_setup *sys = &lo.entry.sys;
    w32(s + P_CR3, (uint32_t)sys->cr3);
    w64(s + P_BP, lo.entry.regs.rsi);
    w16(s + P_GDTR, sys->gdt_limit);
    w32(s + P_GDTR + 2, (uint32_t)sys->gdt_base);
    w64(s + P_ENTRY, lo.entry.regs.rip);
    uint8_t *c = s + P_COPY;
    w32(c, LAPIS_LINUX_GDT_ADDR);
    w32(c + 4, (uint32_t)(base + off_boot));
    w32(c + 8, (uint32_t)boot_len);
    c += 12;
    w32(c, ACPI_BASE);
    w32(c + 4, (uint32_t)(base + off_acpi));
    w32(c + 8, (uint32_t)acpi_len);
    c += 12;
    if (lo.initrd_size) {
        w32(c, (uint32_t)lo.initrd_addr);
        w32(c + 4, (uint32_t)(base + off_initrd));
        w32(c + 8, (uint32_t)lo.initrd_size);
        c += 12;
    }
    w32(c + 8, 0);

    /* ELF32, one PT_LOAD, the Multiboot header in the first 8 KiB. */
    uint8_t hdr[0x1000] = {0};
    memcpy(hdr,
           "\x7f"
           "ELF\x01\x01\x01",
           7);
    w16(hdr + 16, 2);
    w16(hdr + 18, 3);
    w32(hdr + 20, 1);
    w32(hdr + 24, (uint32_t)(base + off_stub));
    w32(hdr + 28, 52);
    w16(hdr + 40, 52);
    w16(hdr + 42, 32);
    w16(hdr + 44, 1);
    uint8_t *ph = hdr + 52;
    w32(ph, 1);
    w32(ph + 4, 0x1000);
    w32(ph + 8, (uint32_t)base);
    w32(ph + 12, (uint32_t)base);
    w32(ph + 16, (uint32_t)blob_len);
    w32(ph + 20, (uint32_t)blob_len);
    w32(ph + 24, 7);
    w32(ph + 28, 0x1000);
    w32(hdr + 0x100, 0x1BADB002u);
    w32(hdr + 0x104, 0);
    w32(hdr + 0x108, (uint32_t)(0u - 0x1BADB002u));
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(hdr, 1, sizeof(hdr), f) != sizeof(hdr) ||
        fwrite(blob, 1, blob_len, f) != blob_len || fclose(f)) {
        fprintf(stderr, "mkqemuboot: cannot write %s\n", out);
        return 1;
    }
    printf("kind=%d compression=%s protocol=0x%x kernel=0x%llx-0x%llx entry=0x%llx "
           "initrd=0x%llx+0x%llx e820=%u rsdp=0x%llx\n",
           lo.kind, lapis_compression_name(lo.compression), lo.protocol,
           (unsigned long long)lo.kernel_addr, (unsigned long long)lo.kernel_end,
           (unsigned long long)lo.entry.regs.rip, (unsigned long long)lo.initrd_addr,
           (unsigned long long)lo.initrd_size, lo.e820_entries, (unsigned long long)at.rsdp);
    return 0;
}
