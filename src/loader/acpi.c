/* SPDX-License-Identifier: MIT */
/* ACPI tables: RSDP, XSDT/RSDT, FADT, FACS, MADT, DSDT (with S5 and COM1). */
#include "acpi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "fail.h"

#define HDR_LEN    36u
#define RSDP_LEN   36u
#define FACS_LEN   64u
#define FADT_LEN   276u /* revision 6 */
#define FADT_REV   6u
#define MADT_REV   5u
#define GAS_IO     1u /* address space: system I/O */
#define ACC_BYTE   1u
#define ACC_WORD   2u
#define DSDT_MAX   256u /* our AML is far smaller */
#define MAX_APICID 0xFFFFFFFEu

uint8_t lapis_acpi_sum(const uint8_t *p, size_t len)
{
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    put_le32(t + 4, len);
    t[8] = rev;
    t[9] = 0; /* checksum, set last */
    memcpy(t + 10, "LAPIS ", 6);
    memcpy(t + 16, "LAPISVM ", 8);
    put_le32(t + 24, 1);
    memcpy(t + 28, "LAPS", 4);
    put_le32(t + 32, 1);
}

static void seal(uint8_t *t, uint32_t len)
{
    t[9] = 0;
    t[9] = (uint8_t)(0x100 - lapis_acpi_sum(t, len));
}

/* Generic Address Structure: 12 bytes. */
static void gas(uint8_t *p, uint8_t space, uint8_t bits, uint8_t access, uint64_t addr)
{
    p[0] = space;
    p[1] = bits;
    p[2] = 0;
    p[3] = access;
    put_le64(p + 4, addr);
}

/* ---- AML ---- */

struct aml {
    uint8_t b[DSDT_MAX];
    size_t n;
};

static void emit(struct aml *a, const void *p, size_t len)
{
    memcpy(a->b + a->n, p, len);
    a->n += len;
}

/* PkgLength covering @body bytes plus itself (1 or 2 bytes for what we emit). */
static void pkg_wrap(struct aml *a, size_t start)
{
    size_t body = a->n - start;
    size_t total = body + 1;
    if (total >= 0x40)
        total = body + 2;
    size_t hl = total < 0x40 ? 1 : 2;
    memmove(a->b + start + hl, a->b + start, body);
    if (hl == 1)
        a->b[start] = (uint8_t)total;
    else {
        a->b[start] = (uint8_t)(0x40 | (total & 0xF));
        a->b[start + 1] = (uint8_t)(total >> 4);
    }
    a->n += hl;
}

static size_t build_dsdt_aml(struct aml *a, bool com1)
{
    a->n = 0;
    /* Name (_S5, Package (4) { 0, 0, 0, 0 }): SLP_TYP 0, as QEMU's q35. */
    static const uint8_t s5[] = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0, 0, 0, 0};
    emit(a, s5, sizeof(s5));
    if (com1) {
        /* Scope (\_SB) { Device (COM1) { _HID PNP0501, _UID 1, _CRS IO 0x3F8/8 + IRQ 4 } } */
        emit(a, "\x10", 1);
        size_t scope = a->n;
        emit(a, "\\_SB_", 5);
        emit(a, "\x5B\x82", 2);
        size_t dev = a->n;
        emit(a, "COM1", 4);
        static const uint8_t hid[] = {0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x05, 0x01};
        emit(a, hid, sizeof(hid));
        static const uint8_t uid[] = {0x08, '_', 'U', 'I', 'D', 0x01};
        emit(a, uid, sizeof(uid));
        emit(a, "\x08_CRS\x11", 6);
        size_t buf = a->n;
        static const uint8_t crs[] = {0x0A, 13,   0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03,
                                      0x00, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00};
        emit(a, crs, sizeof(crs));
        pkg_wrap(a, buf);
        pkg_wrap(a, dev);
        pkg_wrap(a, scope);
    }
    return a->n;
}

/* ---- tables ---- */

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

void lapis_acpi_default_config(struct lapis_acpi_config *cfg, unsigned ncpus)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->base = LAPIS_ACPI_DEFAULT_BASE;
    cfg->size = LAPIS_ACPI_DEFAULT_SIZE;
    cfg->ncpus = ncpus;
    cfg->ioapic_addr = LAPIS_ACPI_IOAPIC_ADDR;
    cfg->pit = true;
    cfg->pic = true;
    cfg->i8042 = false;
    cfg->rtc = true;
    cfg->com1 = true;
}

static uint32_t apic_id(const struct lapis_acpi_config *cfg, unsigned i)
{
    return cfg->apic_ids ? cfg->apic_ids[i] : i;
}

/* An entry needs x2APIC form if its APIC ID or UID does not fit a byte (0xFF is broadcast). */
static bool needs_x2apic(const struct lapis_acpi_config *cfg, unsigned i)
{
    return apic_id(cfg, i) >= 0xFF || i >= 0xFF;
}

static uint32_t madt_len(const struct lapis_acpi_config *cfg, unsigned *nx2)
{
    uint32_t len = HDR_LEN + 8;
    unsigned x2 = 0;
    for (unsigned i = 0; i < cfg->ncpus; i++) {
        if (needs_x2apic(cfg, i)) {
            len += 16;
            x2++;
        } else
            len += 8;
    }
    len += 12;                /* IOAPIC */
    len += cfg->pit ? 10 : 0; /* IRQ0 -> GSI 2 */
    len += 10;                /* SCI */
    len += 6;                 /* LAPIC NMI on LINT1 */
    len += x2 ? 12 : 0;       /* x2APIC NMI on LINT1 */
    *nx2 = x2;
    return len;
}

static void write_madt(uint8_t *t, uint32_t len, const struct lapis_acpi_config *cfg, unsigned nx2)
{
    header(t, "APIC", len, MADT_REV);
    put_le32(t + 36, LAPIS_ACPI_LAPIC_ADDR);
    put_le32(t + 40, cfg->pic ? LAPIS_MADT_PCAT_COMPAT : 0);
    uint8_t *p = t + 44;
    for (unsigned i = 0; i < cfg->ncpus; i++) {
        uint32_t id = apic_id(cfg, i);
        if (needs_x2apic(cfg, i)) {
            p[0] = LAPIS_MADT_X2APIC;
            p[1] = 16;
            put_le16(p + 2, 0);
            put_le32(p + 4, id);
            put_le32(p + 8, 1); /* enabled */
            put_le32(p + 12, i);
            p += 16;
        } else {
            p[0] = LAPIS_MADT_LAPIC;
            p[1] = 8;
            p[2] = (uint8_t)i; /* ACPI processor UID */
            p[3] = (uint8_t)id;
            put_le32(p + 4, 1);
            p += 8;
        }
    }
    uint32_t ioapic = cfg->ioapic_addr ? cfg->ioapic_addr : LAPIS_ACPI_IOAPIC_ADDR;
    p[0] = LAPIS_MADT_IOAPIC;
    p[1] = 12;
    p[2] = cfg->ioapic_id;
    p[3] = 0;
    put_le32(p + 4, ioapic);
    put_le32(p + 8, cfg->ioapic_gsi_base);
    p += 12;
    if (cfg->pit) { /* the PIT's IRQ0 arrives on pin 2, edge, high (bus default) */
        p[0] = LAPIS_MADT_ISO;
        p[1] = 10;
        p[2] = 0; /* ISA */
        p[3] = 0;
        put_le32(p + 4, cfg->ioapic_gsi_base + 2);
        put_le16(p + 8, 0);
        p += 10;
    }
    /* SCI: level, active high, as QEMU (our IOAPIC takes line levels, not polarity). */
    p[0] = LAPIS_MADT_ISO;
    p[1] = 10;
    p[2] = 0;
    p[3] = LAPIS_ACPI_SCI_IRQ;
    put_le32(p + 4, cfg->ioapic_gsi_base + LAPIS_ACPI_SCI_IRQ);
    put_le16(p + 8, LAPIS_MADT_ISO_LEVEL_HIGH);
    p += 10;
    p[0] = LAPIS_MADT_LAPIC_NMI;
    p[1] = 6;
    p[2] = 0xFF; /* all processors */
    put_le16(p + 3, 0);
    p[5] = 1; /* LINT1 */
    p += 6;
    if (nx2) {
        p[0] = LAPIS_MADT_X2APIC_NMI;
        p[1] = 12;
        put_le16(p + 2, 0);
        put_le32(p + 4, 0xFFFFFFFFu);
        p[8] = 1;
        p[9] = p[10] = p[11] = 0;
    }
    seal(t, len);
}

static void write_fadt(uint8_t *t, const struct lapis_acpi_config *cfg, uint64_t facs,
                       uint64_t dsdt)
{
    header(t, "FACP", FADT_LEN, FADT_REV);
    /* FACS only through X_FIRMWARE_CTRL (ACPI 6: not both); DSDT through both. */
    put_le32(t + 36, 0);
    put_le32(t + 40, (uint32_t)dsdt);
    t[45] = 0; /* preferred PM profile: unspecified */
    put_le16(t + 46, LAPIS_ACPI_SCI_IRQ);
    put_le32(t + 48, 0); /* no SMI_CMD: always in ACPI mode */
    put_le32(t + 56, LAPIS_ACPI_PM_BASE);
    put_le32(t + 64, LAPIS_ACPI_PM1A_CNT);
    t[88] = 4;                /* PM1_EVT_LEN */
    t[89] = 2;                /* PM1_CNT_LEN */
    put_le16(t + 96, 0x0FFF); /* C2 latency > 100: no C2 */
    put_le16(t + 98, 0x0FFF); /* C3 latency > 1000: no C3 */
    t[108] = cfg->rtc ? LAPIS_ACPI_CMOS_CENTURY : 0;
    uint16_t boot = LAPIS_ACPI_BOOT_NO_VGA;
    if (cfg->pit || cfg->pic || cfg->rtc || cfg->com1)
        boot |= LAPIS_ACPI_BOOT_LEGACY_DEVICES;
    if (cfg->i8042)
        boot |= LAPIS_ACPI_BOOT_8042;
    if (!cfg->rtc)
        boot |= LAPIS_ACPI_BOOT_NO_CMOS_RTC;
    put_le16(t + 109, boot);
    put_le32(t + 112, LAPIS_ACPI_FADT_WBINVD | LAPIS_ACPI_FADT_C1 | LAPIS_ACPI_FADT_PWR_BUTTON |
                          LAPIS_ACPI_FADT_SLP_BUTTON | LAPIS_ACPI_FADT_RESET_REG);
    gas(t + 116, GAS_IO, 8, ACC_BYTE, LAPIS_ACPI_RESET_PORT);
    t[128] = LAPIS_ACPI_RESET_VALUE;
    t[131] = 5; /* FADT minor version */
    put_le64(t + 132, facs);
    put_le64(t + 140, dsdt);
    gas(t + 148, GAS_IO, 32, ACC_WORD, LAPIS_ACPI_PM_BASE);
    gas(t + 172, GAS_IO, 16, ACC_WORD, LAPIS_ACPI_PM1A_CNT);
    memcpy(t + 268, "LAPIS\0\0\0", 8); /* hypervisor vendor identity */
    seal(t, FADT_LEN);
}

int lapis_acpi_build(const struct lapis_guest_ram *ram, const struct lapis_acpi_config *cfg,
                     struct lapis_acpi_tables *out, char *err, size_t errlen)
{
    if (!ram || !cfg || !out)
        return fail(err, errlen, -EINVAL, "acpi: missing RAM, config or output");
    if (cfg->ncpus == 0 || cfg->ncpus > LAPIS_ACPI_MAX_CPUS)
        return fail(err, errlen, -EINVAL, "acpi: %u CPUs; lapis describes 1 to %u", cfg->ncpus,
                    LAPIS_ACPI_MAX_CPUS);
    for (unsigned i = 0; i < cfg->ncpus; i++) {
        uint32_t id = apic_id(cfg, i);
        if (id > MAX_APICID)
            return fail(err, errlen, -EINVAL, "acpi: CPU %u has APIC ID 0x%x (broadcast)", i, id);
        for (unsigned j = 0; j < i; j++)
            if (apic_id(cfg, j) == id)
                return fail(err, errlen, -EINVAL, "acpi: CPUs %u and %u share APIC ID %u", j, i,
                            id);
    }
    if (cfg->base & 0xF)
        return fail(err, errlen, -EINVAL, "acpi: base 0x%llx is not 16-byte aligned",
                    (unsigned long long)cfg->base);

    struct aml aml;
    size_t aml_len = build_dsdt_aml(&aml, cfg->com1);
    unsigned nx2;
    uint32_t mlen = madt_len(cfg, &nx2);

    struct lapis_acpi_tables t;
    t.rsdp = cfg->base;
    t.facs = align_up(t.rsdp + RSDP_LEN, 64);
    t.dsdt = align_up(t.facs + FACS_LEN, 16);
    uint32_t dlen = (uint32_t)(HDR_LEN + aml_len);
    t.fadt = align_up(t.dsdt + dlen, 16);
    t.madt = align_up(t.fadt + FADT_LEN, 16);
    t.xsdt = align_up(t.madt + mlen, 16);
    uint32_t xlen = HDR_LEN + 2 * 8;
    t.rsdt = align_up(t.xsdt + xlen, 16);
    uint32_t rlen = HDR_LEN + 2 * 4;
    t.end = t.rsdt + rlen;
    uint64_t need = t.end - cfg->base;
    if (need > cfg->size)
        return fail(err, errlen, -ENOSPC, "acpi: tables need %llu bytes, %llu given",
                    (unsigned long long)need, (unsigned long long)cfg->size);
    if (t.end > 0x100000000ull)
        return fail(err, errlen, -ENOSPC, "acpi: tables must lie below 4 GiB");
    uint8_t *m = lapis_ram_ptr(ram, cfg->base, need);
    if (!m)
        return fail(err, errlen, -ENOSPC, "acpi: 0x%llx-0x%llx is not guest RAM",
                    (unsigned long long)cfg->base, (unsigned long long)t.end);
    memset(m, 0, need);
#define AT(gpa) (m + ((gpa)-cfg->base))

    uint8_t *f = AT(t.facs);
    memcpy(f, "FACS", 4);
    put_le32(f + 4, FACS_LEN);
    f[32] = 2; /* version */

    uint8_t *d = AT(t.dsdt);
    header(d, "DSDT", dlen, 2);
    memcpy(d + HDR_LEN, aml.b, aml_len);
    seal(d, dlen);

    write_fadt(AT(t.fadt), cfg, t.facs, t.dsdt);
    write_madt(AT(t.madt), mlen, cfg, nx2);

    uint8_t *x = AT(t.xsdt);
    header(x, "XSDT", xlen, 1);
    put_le64(x + HDR_LEN, t.fadt);
    put_le64(x + HDR_LEN + 8, t.madt);
    seal(x, xlen);

    uint8_t *r = AT(t.rsdt);
    header(r, "RSDT", rlen, 1);
    put_le32(r + HDR_LEN, (uint32_t)t.fadt);
    put_le32(r + HDR_LEN + 4, (uint32_t)t.madt);
    seal(r, rlen);

    uint8_t *p = AT(t.rsdp);
    memcpy(p, "RSD PTR ", 8);
    memcpy(p + 9, "LAPIS ", 6);
    p[15] = 2; /* ACPI 2.0+: XSDT */
    put_le32(p + 16, (uint32_t)t.rsdt);
    put_le32(p + 20, RSDP_LEN);
    put_le64(p + 24, t.xsdt);
    p[8] = (uint8_t)(0x100 - lapis_acpi_sum(p, 20));
    p[32] = (uint8_t)(0x100 - lapis_acpi_sum(p, RSDP_LEN));
#undef AT
    *out = t;
    return 0;
}
