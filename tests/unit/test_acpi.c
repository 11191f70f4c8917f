/* SPDX-License-Identifier: MIT */
/* ACPI tables: built into RAM, then found and parsed back the way an OS does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "loader/bytes.h"
#include "loader/acpi.h"

static char err[256];

static struct lapis_guest_ram mkram(uint64_t size)
{
    struct lapis_guest_ram r = {calloc(1, size), size, NULL, 0};
    return r;
}

/* Scans the BIOS area in 16-byte steps for a valid RSDP, as Linux does. */
static uint64_t find_rsdp(struct lapis_guest_ram *ram)
{
    for (uint64_t a = 0xE0000; a < 0x100000; a += 16) {
        const uint8_t *p = lapis_ram_ptr(ram, a, 36);
        if (p && !memcmp(p, "RSD PTR ", 8) && lapis_acpi_sum(p, 20) == 0)
            return a;
    }
    return 0;
}

/* A table at @gpa with @sig, a sane length and a zero checksum; NULL otherwise. */
static const uint8_t *table(struct lapis_guest_ram *ram, uint64_t gpa, const char *sig)
{
    const uint8_t *h = lapis_ram_ptr(ram, gpa, 36);
    if (!h || memcmp(h, sig, 4))
        return NULL;
    uint32_t len = get_le32(h + 4);
    const uint8_t *t = lapis_ram_ptr(ram, gpa, len);
    if (!t || len < 36 || lapis_acpi_sum(t, len) != 0)
        return NULL;
    return t;
}

struct madt_view {
    unsigned lapic, x2apic, ioapic, iso, nmi, x2nmi, bad;
    uint32_t ids[LAPIS_ACPI_MAX_CPUS];
    uint32_t uids[LAPIS_ACPI_MAX_CPUS];
    unsigned ncpu;
    uint8_t ioapic_id;
    uint32_t ioapic_addr, gsi_base;
    int irq0_gsi, sci_gsi;
    uint16_t sci_flags;
    uint32_t flags;
};

static void parse_madt(const uint8_t *t, struct madt_view *v)
{
    memset(v, 0, sizeof(*v));
    v->irq0_gsi = v->sci_gsi = -1;
    v->flags = get_le32(t + 40);
    uint32_t len = get_le32(t + 4);
    for (uint32_t off = 44; off < len;) {
        const uint8_t *e = t + off;
        if (off + 2 > len || e[1] < 2 || off + e[1] > len) {
            v->bad++;
            break;
        }
        switch (e[0]) {
        case LAPIS_MADT_LAPIC:
            v->lapic++;
            if (get_le32(e + 4) & 1 && v->ncpu < LAPIS_ACPI_MAX_CPUS) {
                v->uids[v->ncpu] = e[2];
                v->ids[v->ncpu++] = e[3];
            }
            break;
        case LAPIS_MADT_X2APIC:
            v->x2apic++;
            if (get_le32(e + 8) & 1 && v->ncpu < LAPIS_ACPI_MAX_CPUS) {
                v->uids[v->ncpu] = get_le32(e + 12);
                v->ids[v->ncpu++] = get_le32(e + 4);
            }
            break;
        case LAPIS_MADT_IOAPIC:
            v->ioapic++;
            v->ioapic_id = e[2];
            v->ioapic_addr = get_le32(e + 4);
            v->gsi_base = get_le32(e + 8);
            break;
        case LAPIS_MADT_ISO:
            v->iso++;
            if (e[3] == 0)
                v->irq0_gsi = (int)get_le32(e + 4);
            if (e[3] == LAPIS_ACPI_SCI_IRQ) {
                v->sci_gsi = (int)get_le32(e + 4);
                v->sci_flags = get_le16(e + 8);
            }
            break;
        case LAPIS_MADT_LAPIC_NMI:
            v->nmi++;
            break;
        case LAPIS_MADT_X2APIC_NMI:
            v->x2nmi++;
            break;
        default:
            v->bad++;
        }
        off += e[1];
    }
}

static void test_default_tables(void)
{
    struct lapis_guest_ram ram = mkram(2 << 20);
    struct lapis_acpi_config cfg;
    lapis_acpi_default_config(&cfg, 4);
    struct lapis_acpi_tables t;
    CHECK_EQ(lapis_acpi_build(&ram, &cfg, &t, err, sizeof(err)), 0);
    CHECK(t.end <= 0x100000);

    uint64_t rsdp = find_rsdp(&ram);
    CHECK_EQ(rsdp, 0xE0000);
    CHECK_EQ(rsdp, t.rsdp);
    const uint8_t *r = lapis_ram_ptr(&ram, rsdp, 36);
    CHECK_EQ(r[15], 2);
    CHECK_EQ(get_le32(r + 20), 36);
    CHECK_EQ(lapis_acpi_sum(r, 36), 0);

    /* XSDT and RSDT list the same FADT and MADT. */
    const uint8_t *x = table(&ram, get_le64(r + 24), "XSDT");
    const uint8_t *rs = table(&ram, get_le32(r + 16), "RSDT");
    CHECK(x && rs);
    if (!x || !rs)
        return;
    CHECK_EQ(get_le32(x + 4), 36 + 16);
    CHECK_EQ(get_le64(x + 36), get_le32(rs + 36));
    CHECK_EQ(get_le64(x + 44), get_le32(rs + 40));
    const uint8_t *fadt = table(&ram, get_le64(x + 36), "FACP");
    const uint8_t *madt = table(&ram, get_le64(x + 44), "APIC");
    CHECK(fadt && madt);
    if (!fadt || !madt)
        return;

    /* FADT: revision 6, DSDT/FACS (32 and 64-bit agree), PM1a, reset, boot flags. */
    CHECK_EQ(fadt[8], 6);
    CHECK_EQ(get_le32(fadt + 4), 276);
    CHECK_EQ(get_le32(fadt + 40), get_le64(fadt + 140));
    CHECK_EQ(get_le32(fadt + 36), 0); /* FACS through X_FIRMWARE_CTRL only */
    CHECK_EQ(get_le64(fadt + 132), t.facs);
    CHECK_EQ(get_le16(fadt + 46), 9);
    CHECK_EQ(get_le32(fadt + 48), 0);
    CHECK_EQ(get_le32(fadt + 56), 0x600);
    CHECK_EQ(get_le32(fadt + 64), 0x604);
    CHECK_EQ(fadt[88], 4);
    CHECK_EQ(fadt[89], 2);
    CHECK_EQ(fadt[91], 0); /* no PM timer */
    CHECK_EQ(fadt[172], 1);
    CHECK_EQ(fadt[173], 16);
    CHECK_EQ(get_le64(fadt + 176), 0x604);
    CHECK_EQ(get_le64(fadt + 152), 0x600);
    uint32_t flags = get_le32(fadt + 112);
    CHECK(flags & LAPIS_ACPI_FADT_RESET_REG);
    CHECK(!(flags & LAPIS_ACPI_FADT_HW_REDUCED));
    CHECK_EQ(fadt[116], 1);
    CHECK_EQ(get_le64(fadt + 120), 0x64);
    CHECK_EQ(fadt[128], 0xFE);
    uint16_t boot = get_le16(fadt + 109);
    CHECK(boot & LAPIS_ACPI_BOOT_LEGACY_DEVICES);
    CHECK(!(boot & LAPIS_ACPI_BOOT_8042));
    CHECK(boot & LAPIS_ACPI_BOOT_NO_VGA);
    CHECK(!(boot & LAPIS_ACPI_BOOT_NO_CMOS_RTC));
    CHECK_EQ(fadt[108], 0x32);

    const uint8_t *facs = lapis_ram_ptr(&ram, get_le64(fadt + 132), 64);
    CHECK(facs && !memcmp(facs, "FACS", 4) && get_le32(facs + 4) == 64);
    CHECK_EQ(get_le64(fadt + 132) & 63, 0);

    /* DSDT: has \_S5 with SLP_TYP 0 and COM1 (PNP0501). */
    const uint8_t *d = table(&ram, get_le64(fadt + 140), "DSDT");
    CHECK(d != NULL);
    if (d) {
        uint32_t dl = get_le32(d + 4);
        CHECK(memmem(d, dl, "_S5_\x12\x06\x04\0\0\0\0", 11) != NULL);
        CHECK(memmem(d, dl, "COM1", 4) != NULL);
        CHECK(memmem(d, dl, "\x0C\x41\xD0\x05\x01", 5) != NULL);
        CHECK(memmem(d, dl, "\x47\x01\xF8\x03\xF8\x03\x00\x08\x22\x10\x00\x79\x00", 13) != NULL);
    }

    /* MADT: 4 local APICs 0..3, the IOAPIC, IRQ0 -> GSI 2, SCI level high, NMI. */
    struct madt_view v;
    parse_madt(madt, &v);
    CHECK_EQ(v.bad, 0);
    CHECK_EQ(get_le32(madt + 36), 0xFEE00000u);
    CHECK_EQ(v.flags & LAPIS_MADT_PCAT_COMPAT, LAPIS_MADT_PCAT_COMPAT);
    CHECK_EQ(v.lapic, 4);
    CHECK_EQ(v.x2apic, 0);
    for (unsigned i = 0; i < 4; i++) {
        CHECK_EQ(v.ids[i], i);
        CHECK_EQ(v.uids[i], i);
    }
    CHECK_EQ(v.ioapic, 1);
    CHECK_EQ(v.ioapic_addr, 0xFEC00000u);
    CHECK_EQ(v.ioapic_id, 0);
    CHECK_EQ(v.gsi_base, 0);
    CHECK_EQ(v.irq0_gsi, 2);
    CHECK_EQ(v.sci_gsi, 9);
    CHECK_EQ(v.sci_flags, 0xD);
    CHECK_EQ(v.nmi, 1);
    CHECK_EQ(v.x2nmi, 0);
    free(ram.low);
}

static void test_options(void)
{
    struct lapis_guest_ram ram = mkram(2 << 20);
    struct lapis_acpi_config cfg;
    lapis_acpi_default_config(&cfg, 1);
    cfg.pit = false;
    cfg.pic = false;
    cfg.rtc = false;
    cfg.com1 = false;
    cfg.i8042 = true;
    cfg.ioapic_id = 5;
    cfg.ioapic_gsi_base = 0;
    struct lapis_acpi_tables t;
    CHECK_EQ(lapis_acpi_build(&ram, &cfg, &t, err, sizeof(err)), 0);
    const uint8_t *fadt = table(&ram, t.fadt, "FACP");
    const uint8_t *madt = table(&ram, t.madt, "APIC");
    const uint8_t *d = table(&ram, t.dsdt, "DSDT");
    CHECK(fadt && madt && d);
    if (!fadt || !madt || !d)
        return;
    uint16_t boot = get_le16(fadt + 109);
    CHECK(boot & LAPIS_ACPI_BOOT_8042);
    CHECK(boot & LAPIS_ACPI_BOOT_NO_CMOS_RTC);
    CHECK(!(boot & LAPIS_ACPI_BOOT_LEGACY_DEVICES));
    CHECK_EQ(fadt[108], 0);
    CHECK(memmem(d, get_le32(d + 4), "COM1", 4) == NULL);
    struct madt_view v;
    parse_madt(madt, &v);
    CHECK_EQ(v.bad, 0);
    CHECK_EQ(v.flags, 0);
    CHECK_EQ(v.irq0_gsi, -1);
    CHECK_EQ(v.ioapic_id, 5);
    CHECK_EQ(v.iso, 1);

    /* Tables elsewhere (e.g. in RAM for another firmware's machine). */
    cfg.base = 0x80000;
    CHECK_EQ(lapis_acpi_build(&ram, &cfg, &t, err, sizeof(err)), 0);
    CHECK_EQ(t.rsdp, 0x80000);
    CHECK(table(&ram, t.madt, "APIC") != NULL);
    free(ram.low);
}

static void test_x2apic_entries(void)
{
    struct lapis_guest_ram ram = mkram(2 << 20);
    uint32_t ids[300];
    for (unsigned i = 0; i < 300; i++)
        ids[i] = i < 200 ? i : 1000 + i; /* IDs past 255 need x2APIC entries */
    struct lapis_acpi_config cfg;
    lapis_acpi_default_config(&cfg, 300);
    cfg.apic_ids = ids;
    struct lapis_acpi_tables t;
    CHECK_EQ(lapis_acpi_build(&ram, &cfg, &t, err, sizeof(err)), 0);
    const uint8_t *madt = table(&ram, t.madt, "APIC");
    CHECK(madt != NULL);
    if (!madt)
        return;
    struct madt_view v;
    parse_madt(madt, &v);
    CHECK_EQ(v.bad, 0);
    CHECK_EQ(v.lapic, 200);
    CHECK_EQ(v.x2apic, 100);
    CHECK_EQ(v.ncpu, 300);
    for (unsigned i = 0; i < 300; i++) {
        CHECK_EQ(v.ids[i], ids[i]);
        CHECK_EQ(v.uids[i], i);
    }
    CHECK_EQ(v.x2nmi, 1);

    /* 256 CPUs with IDs 0..255: UIDs >= 255 and ID 255 use x2APIC entries. */
    lapis_acpi_default_config(&cfg, 256);
    CHECK_EQ(lapis_acpi_build(&ram, &cfg, &t, err, sizeof(err)), 0);
    parse_madt(table(&ram, t.madt, "APIC"), &v);
    CHECK_EQ(v.lapic, 255);
    CHECK_EQ(v.x2apic, 1);
    CHECK_EQ(v.ids[255], 255);
    free(ram.low);
}

static void test_errors(void)
{
    struct lapis_guest_ram ram = mkram(2 << 20);
    struct lapis_acpi_config cfg;
    struct lapis_acpi_tables t;
    lapis_acpi_default_config(&cfg, 0);
    CHECK_EQ(lapis_acpi_build(&ram, &cfg, &t, err, sizeof(err)), -EINVAL);
    lapis_acpi_default_config(&cfg, LAPIS_ACPI_MAX_CPUS + 1);
    CHECK_EQ(lapis_acpi_build(&ram, &cfg, &t, err, sizeof(err)), -EINVAL);

    uint32_t dup[3] = {0, 1, 1};
    lapis_acpi_default_config(&cfg, 3);
    cfg.apic_ids = dup;
    CHECK_EQ(lapis_acpi_build(&ram, &cfg, &t, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "share") != NULL);
    uint32_t bcast[1] = {0xFFFFFFFFu};
    lapis_acpi_default_config(&cfg, 1);
    cfg.apic_ids = bcast;
    CHECK_EQ(lapis_acpi_build(&ram, &cfg, &t, err, sizeof(err)), -EINVAL);

    /* Too little room; a base outside RAM; misaligned base. */
    lapis_acpi_default_config(&cfg, 1);
    cfg.size = 200;
    CHECK_EQ(lapis_acpi_build(&ram, &cfg, &t, err, sizeof(err)), -ENOSPC);
    lapis_acpi_default_config(&cfg, 1);
    cfg.base = (2 << 20) - 0x100;
    CHECK_EQ(lapis_acpi_build(&ram, &cfg, &t, err, sizeof(err)), -ENOSPC);
    cfg.base = 0xE0008;
    CHECK_EQ(lapis_acpi_build(&ram, &cfg, &t, err, sizeof(err)), -EINVAL);
    /* Nothing was written by the failed builds. */
    for (uint64_t a = 0; a < ram.low_size; a++)
        if (ram.low[a]) {
            CHECK(0);
            break;
        }
    CHECK_EQ(lapis_acpi_build(NULL, &cfg, &t, err, sizeof(err)), -EINVAL);
    free(ram.low);
}

int main(void)
{
    RUN_TEST(test_default_tables);
    RUN_TEST(test_options);
    RUN_TEST(test_x2apic_entries);
    RUN_TEST(test_errors);
    return harness_finish("acpi");
}
