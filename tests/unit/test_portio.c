/* SPDX-License-Identifier: MIT */
/*
 * The port bus's cutting (devices/portio.h) on lapis's board: the steps an
 * access becomes, and the values a small executor (as src/kvm/iobus.c does
 * it) puts together. The expected results are what QEMU 7.2 gives the same
 * accesses (tests/integration/ports.sh runs them on both).
 */
#include "devices/fwcfg.h"
#include "devices/portio.h"
#include "devices/testdev.h"
#include "../harness.h"

enum { EXIT, FWCFG, SYNC, BYTES, WIDE, NREGIONS };

static const struct lapis_portio_rules bytes_rules = {.impl_min = 1, .impl_max = 1};
static const struct lapis_portio_rules wide_rules = {.impl_min = 2};

static const struct lapis_portio_region board[NREGIONS] = {
    [EXIT] = {0xf4, 4, &lapis_testdev_debug_exit_rules},
    [FWCFG] = {0x510, 2, &lapis_fwcfg_rules},
    [SYNC] = {0x80, 1, NULL},
    [BYTES] = {0x3f8, 8, &bytes_rules},
    [WIDE] = {0x700, 4, &wide_rules},
};

static struct lapis_portio_step steps[LAPIS_PORTIO_MAX_STEPS];

static unsigned plan(uint64_t addr, unsigned size, bool is_write)
{
    return lapis_portio_plan(board, NREGIONS, addr, size, is_write, steps);
}

static void step_is(unsigned i, enum lapis_portio_kind kind, int region, uint64_t offset,
                    unsigned size, unsigned shift)
{
    CHECK_EQ(steps[i].kind, kind);
    CHECK_EQ(steps[i].region, region);
    CHECK_EQ(steps[i].offset, offset);
    CHECK_EQ(steps[i].size, size);
    CHECK_EQ(steps[i].shift, shift);
}

/* Devices that answer with their offset plus 0x50 per byte, and record writes. */
static unsigned writes;
static uint64_t last_write_value, last_write_offset;
static unsigned last_write_size;

static uint64_t run(uint64_t addr, unsigned size, bool is_write, uint64_t value)
{
    unsigned n = plan(addr, size, is_write);
    uint64_t out = 0;

    CHECK(n >= 1);
    for (unsigned i = 0; i < n; i++) {
        const struct lapis_portio_step *s = &steps[i];
        uint64_t mask = lapis_portio_mask(s->bytes), got = 0;
        if (s->kind == LAPIS_PORTIO_DEVICE && is_write) {
            writes++;
            last_write_value = (value >> s->shift) & mask;
            last_write_offset = s->offset;
            last_write_size = s->size;
        } else if (s->kind == LAPIS_PORTIO_DEVICE) {
            for (unsigned b = 0; b < s->size; b++)
                got |= (uint64_t)(0x50 + s->offset + b) << (8 * b);
        } else if (s->kind == LAPIS_PORTIO_NOTHING) {
            got = ~0ull;
        }
        out |= (got & mask) << s->shift;
    }
    return out & lapis_portio_mask(size);
}

static void test_debug_exit_widths(void)
{
    /* outb, outw, outl at 0xf4: one write of that size, as -device isa-debug-exit,iosize=4. */
    for (unsigned size = 1; size <= 4; size *= 2) {
        CHECK_EQ(plan(0xf4, size, true), 1);
        step_is(0, LAPIS_PORTIO_DEVICE, EXIT, 0, size, 0);
    }
    writes = 0;
    run(0xf4, 4, true, 0x12345678);
    CHECK_EQ(writes, 1);
    CHECK_EQ(last_write_value, 0x12345678);
    CHECK_EQ(last_write_size, 4);
}

static void test_debug_exit_edges(void)
{
    /* outw 0xf5: the offset's alignment makes it two byte writes. */
    CHECK_EQ(plan(0xf5, 2, true), 2);
    step_is(0, LAPIS_PORTIO_DEVICE, EXIT, 1, 1, 0);
    step_is(1, LAPIS_PORTIO_DEVICE, EXIT, 2, 1, 8);
    /* outl 0xf3: a byte to nothing, then 2 + 1 bytes: the device sees 0x2233 first. */
    CHECK_EQ(plan(0xf3, 4, true), 3);
    step_is(0, LAPIS_PORTIO_NOTHING, -1, 0xf3, 1, 0);
    step_is(1, LAPIS_PORTIO_DEVICE, EXIT, 0, 2, 8);
    step_is(2, LAPIS_PORTIO_DEVICE, EXIT, 2, 1, 24);
    writes = 0;
    run(0xf3, 4, true, 0x11223344);
    CHECK_EQ(writes, 2);
    /* outl 0xf1: 1 and 2 bytes to nothing, the last byte to the device. */
    CHECK_EQ(plan(0xf1, 4, true), 3);
    step_is(0, LAPIS_PORTIO_NOTHING, -1, 0xf1, 1, 0);
    step_is(1, LAPIS_PORTIO_NOTHING, -1, 0xf2, 2, 8);
    step_is(2, LAPIS_PORTIO_DEVICE, EXIT, 0, 1, 24);
    /* outl 0xf6: two bytes, not cut short by the range's end... */
    CHECK_EQ(plan(0xf6, 4, true), 2);
    step_is(0, LAPIS_PORTIO_DEVICE, EXIT, 2, 2, 0);
    step_is(1, LAPIS_PORTIO_NOTHING, -1, 0xf8, 2, 16);
    /* ...and outl at a 1-port range (0x80) is handed over whole, as QEMU does. */
    CHECK_EQ(plan(0x80, 4, true), 1);
    step_is(0, LAPIS_PORTIO_DEVICE, SYNC, 0, 4, 0);
}

static void test_fwcfg_widths(void)
{
    /* The documented way: a 16-bit select, byte reads of the data port. */
    CHECK_EQ(plan(0x510, 2, true), 1);
    step_is(0, LAPIS_PORTIO_DEVICE, FWCFG, 0, 2, 0);
    CHECK_EQ(plan(0x511, 1, false), 1);
    step_is(0, LAPIS_PORTIO_DEVICE, FWCFG, 1, 1, 0);
    /* Bytes either way at either port reach the model. */
    CHECK_EQ(plan(0x510, 1, true), 1);
    CHECK_EQ(steps[0].kind, LAPIS_PORTIO_DEVICE);
    CHECK_EQ(plan(0x510, 1, false), 1);
    CHECK_EQ(steps[0].kind, LAPIS_PORTIO_DEVICE);
    /* outl / inl / inw at the selector: the region refuses them whole (QEMU: read 0). */
    CHECK_EQ(plan(0x510, 4, true), 1);
    step_is(0, LAPIS_PORTIO_REFUSED, FWCFG, 0, 4, 0);
    CHECK_EQ(run(0x510, 4, false, 0), 0);
    CHECK_EQ(run(0x510, 2, false, 0), 0);
    /* inw at the data port: a data byte, then an empty port. */
    CHECK_EQ(plan(0x511, 2, false), 2);
    step_is(0, LAPIS_PORTIO_DEVICE, FWCFG, 1, 1, 0);
    step_is(1, LAPIS_PORTIO_NOTHING, -1, 0x512, 1, 8);
    CHECK_EQ(run(0x511, 2, false, 0), 0xFF51);
    /* outw at the data port: a byte write (ignored by the model), then nothing. */
    CHECK_EQ(plan(0x511, 2, true), 2);
    step_is(0, LAPIS_PORTIO_DEVICE, FWCFG, 1, 1, 0);
    /* inl 0x50f: nothing, a refused 16-bit read, nothing: 0xff0000ff as on QEMU. */
    CHECK_EQ(run(0x50f, 4, false, 0), 0xFF0000FF);
    /* inl 0x50c: one aligned piece of nothing, fw_cfg is never asked (QEMU too). */
    CHECK_EQ(plan(0x50c, 4, false), 1);
    step_is(0, LAPIS_PORTIO_NOTHING, -1, 0x50c, 4, 0);
    CHECK_EQ(run(0x50c, 4, false, 0), 0xFFFFFFFF);
}

static void test_impl_sizes(void)
{
    /* impl max 1: a 4-byte access becomes four byte calls, little-endian. */
    CHECK_EQ(plan(0x3f8, 4, false), 4);
    for (unsigned i = 0; i < 4; i++)
        step_is(i, LAPIS_PORTIO_DEVICE, BYTES, i, 1, 8 * i);
    CHECK_EQ(run(0x3f8, 4, false, 0), 0x53525150);
    writes = 0;
    run(0x3f8, 2, true, 0xBBAA);
    CHECK_EQ(writes, 2);
    CHECK_EQ(last_write_value, 0xBB);
    CHECK_EQ(last_write_offset, 1);
    /* impl min 2: a byte read is a 16-bit call of which one byte is used. */
    CHECK_EQ(plan(0x701, 1, false), 1);
    step_is(0, LAPIS_PORTIO_DEVICE, WIDE, 1, 2, 0);
    CHECK_EQ(steps[0].bytes, 1);
    CHECK_EQ(run(0x701, 1, false, 0), 0x51);
    writes = 0;
    run(0x701, 1, true, 0xFF77);
    CHECK_EQ(last_write_value, 0x77); /* only the access's own byte goes out */
    CHECK_EQ(last_write_size, 2);
}

static void test_rules(void)
{
    static const struct lapis_portio_rules unaligned_impl = {.impl_unaligned = true};
    static const struct lapis_portio_rules both = {.impl_unaligned = true, .valid_unaligned = true};
    static const struct lapis_portio_rules max2 = {.valid_min = 2, .valid_max = 2};

    /* Defaults: pieces of at most 4, bounded by alignment; any aligned size valid. */
    CHECK_EQ(lapis_portio_piece_size(NULL, 0, 8), 4);
    CHECK_EQ(lapis_portio_piece_size(NULL, 2, 4), 2);
    CHECK_EQ(lapis_portio_piece_size(NULL, 3, 4), 1);
    CHECK_EQ(lapis_portio_piece_size(NULL, 0, 3), 2);
    CHECK_EQ(lapis_portio_piece_size(NULL, 0, 0), 0);
    CHECK(lapis_portio_accepts(NULL, 4, 4, false));
    CHECK(!lapis_portio_accepts(NULL, 2, 4, false));
    CHECK(!lapis_portio_accepts(NULL, 0, 0, false));
    /* impl.unaligned lifts the alignment bound; valid.unaligned is a separate check. */
    CHECK_EQ(lapis_portio_piece_size(&unaligned_impl, 1, 4), 4);
    CHECK(!lapis_portio_accepts(&unaligned_impl, 1, 4, true));
    CHECK(lapis_portio_accepts(&both, 1, 4, true));
    /* A set maximum bounds pieces and sizes; the minimum refuses smaller ones. */
    CHECK_EQ(lapis_portio_piece_size(&max2, 0, 4), 2);
    CHECK(!lapis_portio_accepts(&max2, 1, 1, true));
    CHECK(lapis_portio_accepts(&max2, 0, 2, true));
}

static void test_bad_calls(void)
{
    CHECK_EQ(plan(0xf4, 0, true), 0);
    CHECK_EQ(plan(0xf4, 9, true), 0);
    CHECK_EQ(plan(~0ull, 2, false), 0); /* would wrap */
    CHECK_EQ(lapis_portio_plan(NULL, 1, 0xf4, 1, true, steps), 0);
    CHECK_EQ(lapis_portio_plan(board, NREGIONS, 0xf4, 1, true, NULL), 0);
    CHECK_EQ(lapis_portio_plan(NULL, 0, 0xf4, 1, true, steps), 1); /* an empty bus */
    CHECK_EQ(steps[0].kind, LAPIS_PORTIO_NOTHING);
    /* 3 bytes (no x86 instruction, but a caller might): 2 + 1. */
    CHECK_EQ(plan(0x100, 3, false), 2);
    /* 8 bytes: two pieces of 4. */
    CHECK_EQ(plan(0x100, 8, false), 2);
}

/* Every size at every port near the regions: steps cover the access exactly, in order. */
static void test_every_access(void)
{
    static const uint64_t around[] = {0xf0, 0x7c, 0x3f4, 0x50a, 0x6fc, 0xfffffffffffffff0ull};
    unsigned bad = 0;

    for (unsigned a = 0; a < sizeof(around) / sizeof(around[0]); a++)
        for (uint64_t addr = around[a]; addr < around[a] + 16 && addr >= around[a]; addr++)
            for (unsigned size = 1; size <= 8; size++)
                for (int w = 0; w < 2; w++) {
                    unsigned n = plan(addr, size, w), covered = 0;
                    if (addr + (size - 1) < addr) {
                        bad += n != 0;
                        continue;
                    }
                    bad += n == 0 || n > LAPIS_PORTIO_MAX_STEPS;
                    for (unsigned i = 0; i < n; i++) {
                        const struct lapis_portio_step *s = &steps[i];
                        bad += s->shift != covered * 8 || s->bytes == 0 || s->bytes > s->size;
                        bad += s->size != 1 && s->size != 2 && s->size != 4 && s->size != 8;
                        if (s->kind == LAPIS_PORTIO_NOTHING)
                            bad += s->region != -1 || s->offset != addr + covered;
                        else
                            bad += s->region < 0 || s->region >= NREGIONS ||
                                   s->offset >= board[s->region].len ||
                                   board[s->region].base + s->offset != addr + covered;
                        covered += s->bytes;
                    }
                    bad += covered != size;
                }
    CHECK_EQ(bad, 0);
}

int main(void)
{
    RUN_TEST(test_debug_exit_widths);
    RUN_TEST(test_debug_exit_edges);
    RUN_TEST(test_fwcfg_widths);
    RUN_TEST(test_impl_sizes);
    RUN_TEST(test_rules);
    RUN_TEST(test_bad_calls);
    RUN_TEST(test_every_access);
    return harness_finish("portio");
}
