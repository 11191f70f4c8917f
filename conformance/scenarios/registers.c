/* SPDX-License-Identifier: MIT */
/* IOAPIC register rules: version, ID, arbitration, entries, selectors (eoi.md §1). */
#include "common.h"
#include "table.h"

static void ioapic_version(struct conf *c)
{
    uint32_t want = (IOAPIC_NPINS - 1) << 16 | c->p.ioapic;
    uint32_t ver = conf_ioapic_read(c, IOAPIC_R_VER);

    conf_obs_eq(c, "ver", ver, want);
    conf_ioapic_write(c, IOAPIC_R_VER, 0);
    conf_obs_eq(c, "ver.after_write0", conf_ioapic_read(c, IOAPIC_R_VER), want);
    conf_ioapic_write(c, IOAPIC_R_VER, 0xFFFFFFFFu);
    conf_obs_eq(c, "ver.after_write1", conf_ioapic_read(c, IOAPIC_R_VER), want);
    conf_expect_stat(c, "irqs", 0);
}

static void ioapic_id_writable(struct conf *c)
{
    conf_obs_eq(c, "id.reset", conf_ioapic_read(c, IOAPIC_R_ID), 0);
    conf_ioapic_write(c, IOAPIC_R_ID, 0xFFFFFFFFu);
    conf_obs_eq(c, "id.all_ones", conf_ioapic_read(c, IOAPIC_R_ID), 0x0F000000u);
    conf_ioapic_write(c, IOAPIC_R_ID, 0x05000000u);
    conf_obs_eq(c, "id.5", conf_ioapic_read(c, IOAPIC_R_ID), 0x05000000u);
    conf_ioapic_write(c, IOAPIC_R_ID, 0x00FFFFFFu);
    conf_obs_eq(c, "id.low_bits", conf_ioapic_read(c, IOAPIC_R_ID), 0);
}

static void ioapic_arb_readonly(struct conf *c)
{
    conf_obs_eq(c, "arb.reset", conf_ioapic_read(c, IOAPIC_R_ARB), 0);
    conf_ioapic_write(c, IOAPIC_R_ARB, 0x0F000000u);
    conf_obs_eq(c, "arb.after_write", conf_ioapic_read(c, IOAPIC_R_ARB), 0);
    conf_obs_eq(c, "id.after_arb_write", conf_ioapic_read(c, IOAPIC_R_ID), 0);
    /* The arbitration ID follows the APIC ID. */
    conf_ioapic_write(c, IOAPIC_R_ID, 0x03000000u);
    conf_obs_eq(c, "arb.follows_id", conf_ioapic_read(c, IOAPIC_R_ARB), 0x03000000u);
    conf_ioapic_write(c, IOAPIC_R_ID, 0);
}

static void ioapic_reset_state(struct conf *c)
{
    unsigned odd = 0;
    uint64_t first_odd = 0;

    for (unsigned pin = 0; pin < IOAPIC_NPINS; pin++) {
        uint64_t e = conf_redir_read(c, pin);
        if (e != RE_MASKED) {
            if (!odd)
                first_odd = e;
            odd++;
        }
    }
    conf_obs(c, "entries_not_masked_zero", "%u", odd);
    conf_check(c, odd == 0, "reset", "%u entries differ from 0x10000 (first 0x%llx)", odd,
               (unsigned long long)first_odd);
}

static void ioapic_redir_rw(struct conf *c)
{
    /* Masked throughout: nothing may be delivered while the bits fly. */
    conf_redir_write(c, PIN_A, RE_MASKED);
    conf_ioapic_write(c, IOAPIC_R_REDIR(PIN_A) + 1, 0xFFFFFFFFu);
    conf_obs_eq(c, "high.all_ones", conf_ioapic_read(c, IOAPIC_R_REDIR(PIN_A) + 1), 0xFFFFFFFFu);
    conf_obs_eq(c, "low.after_high", conf_ioapic_read(c, IOAPIC_R_REDIR(PIN_A)), RE_MASKED);
    conf_ioapic_write(c, IOAPIC_R_REDIR(PIN_A), 0xFFFFFFFFu);
    /* Everything but delivery status (12) and Remote IRR (14) sticks. */
    conf_obs_eq(c, "low.all_ones", conf_ioapic_read(c, IOAPIC_R_REDIR(PIN_A)),
                0xFFFFFFFFu & ~(uint32_t)(RE_DELIVS | RE_RIRR));
    conf_ioapic_write(c, IOAPIC_R_REDIR(PIN_A), (uint32_t)(RE_MASKED | RE_LEVEL | 0x47));
    conf_obs_eq(c, "low.level_masked", conf_ioapic_read(c, IOAPIC_R_REDIR(PIN_A)),
                RE_MASKED | RE_LEVEL | 0x47);
    conf_redir_write(c, PIN_A, RE_MASKED);
    conf_obs_eq(c, "entry.restored", conf_redir_read(c, PIN_A), RE_MASKED);
    conf_expect_stat(c, "irqs", 0);
}

static void ioapic_delivs_ro(struct conf *c)
{
    conf_on_irq(c, VEC_A, h_lower_eoi);
    conf_redir_write(c, PIN_A, RE_MASKED | RE_DELIVS | VEC_A);
    conf_obs_eq(c, "delivs.written", conf_redir_read(c, PIN_A) & RE_DELIVS, 0);
    /* Delivered and idle: the status bit reads 0 again. */
    conf_route(c, PIN_A, VEC_A, RE_DELIVS, 0);
    conf_line(c, PIN_A, true);
    conf_wait_count(c, 1, WAIT_MS);
    conf_settle(c);
    conf_obs_eq(c, "delivs.after_edge", conf_redir_read(c, PIN_A) & RE_DELIVS, 0);
    obs_count(c, "count", 1);
}

static void ioapic_remote_irr_ro(struct conf *c)
{
    /* A fresh entry: writing bit 14 does not set Remote IRR. */
    conf_redir_write(c, PIN_B, RE_MASKED | RE_LEVEL | RE_RIRR | VEC_B);
    obs_rirr(c, "rirr.written", PIN_B, false);

    /* A sent level entry keeps Remote IRR through writes that clear bit 14. */
    level_pend(c, PIN_A, VEC_A, h_eoi);
    obs_rirr(c, "rirr.sent", PIN_A, true);
    conf_redir_write_low(c, PIN_A, (uint32_t)(RE_LEVEL | VEC_A));
    obs_rirr(c, "rirr.after_write0", PIN_A, true);
    conf_redir_write_low(c, PIN_A, (uint32_t)(RE_LEVEL | RE_MASKED | VEC_A));
    obs_rirr(c, "rirr.after_mask", PIN_A, true);
    conf_redir_write_low(c, PIN_A, (uint32_t)(RE_LEVEL | VEC_A));
    conf_line(c, PIN_A, false);
    conf_wait_count(c, 1, WAIT_MS);
    conf_settle(c);
    obs_rirr(c, "rirr.after_eoi", PIN_A, false);
    obs_count(c, "count", 1);
    expect_plain_level(c, 1);
}

static const struct {
    unsigned sel;
    const char *key;
} bad_selectors[] = {
    {0x03, "badsel.0x03"},
    {0x0F, "badsel.0x0f"},
    {0x10 + 2 * IOAPIC_NPINS, "badsel.past_last_entry"},
    {0xFE, "badsel.0xfe"},
    {0xFF, "badsel.0xff"},
};

static void ioapic_bad_selector(struct conf *c)
{
    /* lapis reads 0 where no register is; KVM's in-kernel IOAPIC reads all ones. */
    uint32_t want = c->p.target == CONF_T_KERNEL ? 0xFFFFFFFFu : 0;

    conf_redir_write(c, IOAPIC_NPINS - 1, RE_MASKED | 0x5A);
    for (unsigned i = 0; i < sizeof(bad_selectors) / sizeof(bad_selectors[0]); i++) {
        conf_obs_eq(c, bad_selectors[i].key, conf_ioapic_read(c, bad_selectors[i].sel), want);
        conf_ioapic_write(c, bad_selectors[i].sel, 0xFFFFFFFFu);
    }
    /* The writes went nowhere. */
    conf_obs_eq(c, "last_entry", conf_redir_read(c, IOAPIC_NPINS - 1), RE_MASKED | 0x5A);
    conf_obs_eq(c, "id", conf_ioapic_read(c, IOAPIC_R_ID), 0);
    conf_obs_eq(c, "ver", conf_ioapic_read(c, IOAPIC_R_VER),
                (IOAPIC_NPINS - 1) << 16 | c->p.ioapic);
}

static const struct conf_known bad_selector_known[] = {
    {"kernel", "badsel.*",
     "KVM's in-kernel IOAPIC reads 0xffffffff for a selector that names no register; lapis "
     "reads 0 (src/devices/ioapic.h)"},
    {NULL, NULL, NULL},
};

static void ioapic_ioregsel(struct conf *c)
{
    hw_mmio_write32(c, IOAPIC_MMIO + IOAPIC_SEL, 0x12345601u);
    conf_obs_eq(c, "ioregsel.readback", hw_mmio_read32(c, IOAPIC_MMIO + IOAPIC_SEL), 0x01);
    conf_obs_eq(c, "iowin.after", hw_mmio_read32(c, IOAPIC_MMIO + IOAPIC_WIN),
                (IOAPIC_NPINS - 1) << 16 | c->p.ioapic);
    hw_mmio_write32(c, IOAPIC_MMIO + IOAPIC_SEL, IOAPIC_R_REDIR(PIN_A) + 1);
    conf_obs_eq(c, "ioregsel.redir_high", hw_mmio_read32(c, IOAPIC_MMIO + IOAPIC_SEL),
                IOAPIC_R_REDIR(PIN_A) + 1);
}

static void ioapic_other_offsets(struct conf *c)
{
    /* EOIR is write-only; +0x20 and +0x30 are nothing. All read 0. */
    conf_obs_eq(c, "read.0x20", hw_mmio_read32(c, IOAPIC_MMIO + 0x20), 0);
    conf_obs_eq(c, "read.0x30", hw_mmio_read32(c, IOAPIC_MMIO + 0x30), 0);
    conf_obs_eq(c, "read.eoir", hw_mmio_read32(c, IOAPIC_MMIO + IOAPIC_EOIR_OFF), 0);
    /* A stray EOIR write with nothing pending changes nothing. */
    conf_eoir(c, VEC_A);
    conf_obs_eq(c, "ver", conf_ioapic_read(c, IOAPIC_R_VER),
                (IOAPIC_NPINS - 1) << 16 | c->p.ioapic);
    conf_expect_stat(c, "eoir", conf_has_eoir(c) ? 1 : 0);
}

static void ioapic_polarity_stored(struct conf *c)
{
    /* Bit 13 is stored and read back; the line level is logical (asserted = requested). */
    conf_on_irq(c, VEC_A, h_eoi);
    conf_route(c, PIN_A, VEC_A, RE_LEVEL | RE_POLARITY, 0);
    conf_obs_eq(c, "polarity", conf_redir_read(c, PIN_A) & RE_POLARITY, RE_POLARITY);
    conf_line(c, PIN_A, true);
    obs_rirr(c, "rirr.asserted", PIN_A, true);
    conf_line(c, PIN_A, false);
    level_done(c, 1);
    expect_plain_level(c, 1);
}

const struct conf_scenario conf_scenarios_registers[] = {
    {"ioapic_version", "VER reads (pins-1)<<16 | version and ignores writes", ioapic_version,
     CONF_V_X2, CONF_M_AUTO, 0, NULL},
    {"ioapic_id_writable", "ID keeps bits 24-27 only", ioapic_id_writable, CONF_V_X2, CONF_M_AUTO,
     0, NULL},
    {"ioapic_arb_readonly", "ARB ignores writes and follows the ID", ioapic_arb_readonly, CONF_V_X2,
     CONF_M_AUTO, 0, NULL},
    {"ioapic_reset_state", "every entry reads masked, all else 0, at reset", ioapic_reset_state,
     CONF_V_X2, CONF_M_AUTO, 0, NULL},
    {"ioapic_redir_rw", "entry halves are independent; bits 12 and 14 read-only", ioapic_redir_rw,
     CONF_V_X2, CONF_M_AUTO, 0, NULL},
    {"ioapic_delivs_ro", "delivery status is read-only and idle after delivery", ioapic_delivs_ro,
     CONF_V_X2, CONF_M_AUTO, 0, NULL},
    {"ioapic_remote_irr_ro", "Remote IRR survives entry writes and clears only on EOI",
     ioapic_remote_irr_ro, CONF_V_X2, CONF_M_ALL, 0, NULL},
    {"ioapic_bad_selector", "selectors naming no register read fixed values, writes vanish",
     ioapic_bad_selector, CONF_V_X2, CONF_M_AUTO, 0, bad_selector_known},
    {"ioapic_ioregsel", "IOREGSEL is 8 bits and reads back", ioapic_ioregsel, CONF_V_X2,
     CONF_M_AUTO, 0, NULL},
    {"ioapic_other_offsets", "EOIR and unused offsets read 0; a stray EOIR is harmless",
     ioapic_other_offsets, CONF_V_X2, CONF_M_AUTO, 0, NULL},
    {"ioapic_polarity_stored", "polarity is stored; levels are logical", ioapic_polarity_stored,
     CONF_V_X2, CONF_M_AUTO, 0, NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL},
};
