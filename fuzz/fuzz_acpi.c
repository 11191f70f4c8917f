/* SPDX-License-Identifier: MIT */
/*
 * ACPI table builder: a fuzzed configuration (CPU count and APIC IDs,
 * IOAPIC, legacy devices, where the tables go and how much room there is)
 * built into 1 MiB + 4 KiB of guest RAM.
 * Invariants: -EINVAL exactly for no/too many CPUs, a duplicate or
 * 0xFFFFFFFF APIC ID, an unaligned base; other failures are -ENOSPC; a
 * failure leaves RAM untouched. A success writes only [base, end), within
 * size; RSDP, XSDT, RSDT, FADT, MADT and DSDT have their signatures, lengths
 * and zero checksums and point at each other as @out says; the MADT has one
 * enabled (x2)APIC entry per CPU with its ID, xAPIC form only for IDs and
 * UIDs below 255, unique UIDs, and the IOAPIC as configured.
 */
#include "fuzz_ram.h"

#include <errno.h>

#include "loader/acpi.h"

#define ACPI_FUZZ_RAM (0x101000ull) /* the BIOS area, and a page more */

static int acpi_fuzz_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t acpi_fuzz_rd(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* The table at @gpa: signature, length inside [base, end), checksum 0. */
static const uint8_t *acpi_fuzz_table(const struct lapis_guest_ram *ram,
                                      const struct lapis_acpi_tables *t, uint64_t gpa,
                                      const char *sig)
{
    const uint8_t *p = lapis_ram_ptr(ram, gpa, 36);
    FUZZ_ASSERT(p != NULL);
    if (!p)
        return NULL;
    uint32_t len = (uint32_t)acpi_fuzz_rd(p + 4, 4);
    FUZZ_ASSERT(memcmp(p, sig, 4) == 0);
    FUZZ_ASSERT(len >= 36 && gpa + len <= t->end);
    if (len < 36 || gpa + len > t->end)
        return NULL;
    FUZZ_ASSERT(lapis_acpi_sum(p, len) == 0);
    return p;
}

static void acpi_fuzz_check_madt(const uint8_t *m, const struct lapis_acpi_config *cfg)
{
    static uint8_t seen_uid[LAPIS_ACPI_MAX_CPUS];
    uint32_t len = (uint32_t)acpi_fuzz_rd(m + 4, 4);
    unsigned cpus = 0, ioapics = 0;

    memset(seen_uid, 0, sizeof(seen_uid));
    FUZZ_ASSERT(acpi_fuzz_rd(m + 36, 4) == LAPIS_ACPI_LAPIC_ADDR);
    for (uint32_t off = 44; off < len;) {
        FUZZ_ASSERT(off + 2 <= len);
        uint8_t type = m[off], elen = m[off + 1];
        FUZZ_ASSERT(elen >= 2 && off + elen <= len);
        if (elen < 2 || off + elen > len)
            return;
        const uint8_t *e = m + off;
        uint32_t uid = 0, id = 0;
        bool cpu = false;
        if (type == LAPIS_MADT_LAPIC) {
            FUZZ_ASSERT(elen == 8);
            uid = e[2];
            id = e[3];
            FUZZ_ASSERT(id < 0xFF);
            cpu = true;
        } else if (type == LAPIS_MADT_X2APIC) {
            FUZZ_ASSERT(elen == 16);
            id = (uint32_t)acpi_fuzz_rd(e + 4, 4);
            uid = (uint32_t)acpi_fuzz_rd(e + 12, 4);
            cpu = true;
        } else if (type == LAPIS_MADT_IOAPIC) {
            FUZZ_ASSERT(elen == 12 && e[2] == cfg->ioapic_id);
            FUZZ_ASSERT(acpi_fuzz_rd(e + 4, 4) ==
                        (cfg->ioapic_addr ? cfg->ioapic_addr : LAPIS_ACPI_IOAPIC_ADDR));
            FUZZ_ASSERT(acpi_fuzz_rd(e + 8, 4) == cfg->ioapic_gsi_base);
            ioapics++;
        }
        if (cpu) {
            /* Entries come in CPU order: the UID is the index. */
            FUZZ_ASSERT(cpus < cfg->ncpus);
            if (cpus < cfg->ncpus) {
                uint32_t want = cfg->apic_ids ? cfg->apic_ids[cpus] : cpus;
                FUZZ_ASSERT(id == want);
                FUZZ_ASSERT(uid == (type == LAPIS_MADT_LAPIC ? (cpus & 0xFF) : cpus));
                FUZZ_ASSERT(type == LAPIS_MADT_X2APIC || (want < 0xFF && cpus < 0xFF));
            }
            FUZZ_ASSERT(uid < LAPIS_ACPI_MAX_CPUS && !seen_uid[uid % LAPIS_ACPI_MAX_CPUS]);
            seen_uid[uid % LAPIS_ACPI_MAX_CPUS] = 1;
            cpus++;
        }
        off += elen;
    }
    FUZZ_ASSERT(cpus == cfg->ncpus && ioapics == 1);
}

FUZZ_TARGET(acpi)
{
    static uint32_t ids[LAPIS_ACPI_MAX_CPUS + 8];
    const struct lapis_guest_ram *ram = fuzz_ram_get(ACPI_FUZZ_RAM, 0);
    struct fuzz_in in = {data, size};
    struct lapis_acpi_config cfg;
    struct lapis_acpi_tables t;
    char err[256];

    uint8_t flags = fin_u8(&in);
    unsigned ncpus = fin_u16(&in) % (LAPIS_ACPI_MAX_CPUS + 4);
    lapis_acpi_default_config(&cfg, ncpus);
    cfg.pit = flags & 1;
    cfg.pic = flags & 2;
    cfg.i8042 = flags & 4;
    cfg.rtc = flags & 8;
    cfg.com1 = flags & 0x10;
    if (flags & 0x20) { /* IDs: a first ID and a stride, or raw values */
        uint32_t first = fin_u32(&in), stride = fin_u8(&in);
        bool raw = stride == 0;
        for (unsigned i = 0; i < ncpus; i++)
            ids[i] = raw ? fin_u32(&in) : first + i * stride;
        cfg.apic_ids = ids;
    }
    cfg.ioapic_id = fin_u8(&in);
    cfg.ioapic_addr = (flags & 0x40) ? fin_u32(&in) : 0;
    cfg.ioapic_gsi_base = fin_u8(&in);
    if (flags & 0x80) {
        cfg.base = fin_bool(&in) ? fin_u64(&in) : fin_u32(&in) % ACPI_FUZZ_RAM;
        cfg.size = fin_u32(&in);
    }

    bool inval = ncpus == 0 || ncpus > LAPIS_ACPI_MAX_CPUS || (cfg.base & 0xF);
    if (cfg.apic_ids && !inval) {
        static uint32_t sorted[LAPIS_ACPI_MAX_CPUS];
        memcpy(sorted, ids, ncpus * sizeof(ids[0]));
        qsort(sorted, ncpus, sizeof(sorted[0]), acpi_fuzz_cmp);
        for (unsigned i = 0; i < ncpus && !inval; i++)
            inval = sorted[i] == 0xFFFFFFFFu || (i && sorted[i] == sorted[i - 1]);
    }

    int rc = lapis_acpi_build(ram, &cfg, &t, err, sizeof(err));
    FUZZ_ASSERT(rc == 0 || rc == -EINVAL || rc == -ENOSPC);
    FUZZ_ASSERT((rc == -EINVAL) == inval);
    if (rc) {
        FUZZ_ASSERT(fuzz_err_ok(err, sizeof(err)));
        FUZZ_ASSERT(fuzz_ram_untouched(ram));
        return 0;
    }
    FUZZ_ASSERT(t.rsdp == cfg.base && t.end > t.rsdp && t.end - t.rsdp <= cfg.size);
    FUZZ_ASSERT(t.end <= ram->low_size);
    /* Nothing outside [base, end) was written. */
    FUZZ_ASSERT(memcmp(ram->low, fuzz_ram_pattern, (size_t)t.rsdp) == 0);
    FUZZ_ASSERT(memcmp(ram->low + t.end, fuzz_ram_pattern, (size_t)(ram->low_size - t.end)) == 0);

    const uint8_t *r = lapis_ram_ptr(ram, t.rsdp, 36);
    FUZZ_ASSERT(r && memcmp(r, "RSD PTR ", 8) == 0);
    FUZZ_ASSERT(lapis_acpi_sum(r, 20) == 0 && lapis_acpi_sum(r, 36) == 0);
    FUZZ_ASSERT(r[15] == 2 && acpi_fuzz_rd(r + 20, 4) == 36);
    FUZZ_ASSERT(acpi_fuzz_rd(r + 16, 4) == t.rsdt && acpi_fuzz_rd(r + 24, 8) == t.xsdt);

    const uint8_t *x = acpi_fuzz_table(ram, &t, t.xsdt, "XSDT");
    if (x)
        FUZZ_ASSERT(acpi_fuzz_rd(x + 36, 8) == t.fadt && acpi_fuzz_rd(x + 44, 8) == t.madt);
    const uint8_t *rs = acpi_fuzz_table(ram, &t, t.rsdt, "RSDT");
    if (rs)
        FUZZ_ASSERT(acpi_fuzz_rd(rs + 36, 4) == t.fadt && acpi_fuzz_rd(rs + 40, 4) == t.madt);
    const uint8_t *f = acpi_fuzz_table(ram, &t, t.fadt, "FACP");
    if (f) {
        /* FACS through FIRMWARE_CTRL or X_FIRMWARE_CTRL (only one may be set). */
        uint64_t fc = acpi_fuzz_rd(f + 36, 4), xfc = acpi_fuzz_rd(f + 132, 8);
        FUZZ_ASSERT((fc == t.facs && !xfc) || (!fc && xfc == t.facs));
        FUZZ_ASSERT(acpi_fuzz_rd(f + 40, 4) == t.dsdt);
        FUZZ_ASSERT(acpi_fuzz_rd(f + 140, 8) == t.dsdt);
    }
    acpi_fuzz_table(ram, &t, t.dsdt, "DSDT");
    const uint8_t *m = acpi_fuzz_table(ram, &t, t.madt, "APIC");
    if (m)
        acpi_fuzz_check_madt(m, &cfg);
    const uint8_t *facs = lapis_ram_ptr(ram, t.facs, 64);
    FUZZ_ASSERT(facs && memcmp(facs, "FACS", 4) == 0 && (t.facs & 63) == 0);
    fuzz_ram_restore(ram);
    return 0;
}
