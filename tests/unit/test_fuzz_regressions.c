/* SPDX-License-Identifier: MIT */
/*
 * The fuzz harnesses, built with gcc against the pure libraries and run on
 * every committed seed (fuzz/corpus/<target>/) and every crash input the
 * fuzzers found (fuzz/regressions/<target>/). The harnesses' invariants
 * become CHECKs here, so `make check SANITIZE=1` replays each old crash
 * under ASan + UBSan without clang's libFuzzer.
 */
#include "../harness.h"

#include <dirent.h>
#include <stdlib.h>

#define FUZZ_NO_MAIN      1
#define FUZZ_ASSERT(cond) CHECK(cond)

#include "../../fuzz/fuzz_acpi.c"
#include "../../fuzz/fuzz_bzimage.c"
#include "../../fuzz/fuzz_elf.c"
#include "../../fuzz/fuzz_fwcfg.c"
#include "../../fuzz/fuzz_ioapic.c"
#include "../../fuzz/fuzz_lapic.c"
#include "../../fuzz/fuzz_legacy.c"
#include "../../fuzz/fuzz_msi.c"
#include "../../fuzz/fuzz_multiboot.c"
#include "../../fuzz/fuzz_options.c"
#include "../../fuzz/fuzz_testdev.c"
#include "../../fuzz/fuzz_uart16550.c"
#include "../../fuzz/fuzz_unpack.c"

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

static const char *src_dir(void)
{
    const char *d = getenv("LAPIS_SRCDIR");
    return d && *d ? d : ".";
}

static int run_file(fuzz_fn fn, const char *path)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!fp)
        return -1;
    do {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(fp);
                return -1;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, fp);
        len += n;
    } while (n > 0);
    fclose(fp);
    fn(buf, len);
    free(buf);
    return 0;
}

/* Runs @fn on every file in <src>/fuzz/<kind>/<target>; returns how many. */
static int replay_dir(fuzz_fn fn, const char *kind, const char *target)
{
    char dir[4096], path[4096 + 256];
    int count = 0;

    snprintf(dir, sizeof(dir), "%s/fuzz/%s/%s", src_dir(), kind, target);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (run_file(fn, path) == 0)
            count++;
        else
            printf("  cannot read %s\n", path);
    }
    closedir(d);
    return count;
}

/* Every target has seeds; the crash inputs are optional. */
#define REPLAY_TEST(target)                                                                        \
    static void test_replay_##target(void)                                                         \
    {                                                                                              \
        CHECK(replay_dir(fuzz_##target, "corpus", #target) > 0);                                   \
        replay_dir(fuzz_##target, "regressions", #target);                                         \
    }

REPLAY_TEST(acpi)
REPLAY_TEST(bzimage)
REPLAY_TEST(elf)
REPLAY_TEST(fwcfg)
REPLAY_TEST(ioapic)
REPLAY_TEST(lapic)
REPLAY_TEST(legacy)
REPLAY_TEST(msi)
REPLAY_TEST(multiboot)
REPLAY_TEST(options)
REPLAY_TEST(testdev)
REPLAY_TEST(uart16550)
REPLAY_TEST(unpack)

/* An empty input and a one-byte input are valid programs for every harness. */
static void test_trivial_inputs(void)
{
    static const uint8_t one[1] = {0xFF};
    const fuzz_fn fns[] = {fuzz_acpi,    fuzz_bzimage,   fuzz_elf,   fuzz_fwcfg,     fuzz_ioapic,
                           fuzz_lapic,   fuzz_legacy,    fuzz_msi,   fuzz_multiboot, fuzz_options,
                           fuzz_testdev, fuzz_uart16550, fuzz_unpack};

    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        CHECK(fns[i](one, 0) == 0);
        CHECK(fns[i](one, sizeof(one)) == 0);
    }
}

/*
 * lapic.c write_tdcr (fixed in 151fc49): a TDCR write on a one-shot timer past
 * its deadline, before timer_expired() ran, left timer_period at the old
 * divisor, so the APIC's own saved state failed to load. The program: xAPIC
 * SVR=0x1FF; timer LVT one-shot vector 0x20, TDCR=0xB (/1), TMICT=100; 1000 ns
 * pass with the host timer late; TDCR=0 (/2); save and load.
 */
static void test_lapic_tdcr_on_expired_oneshot(void)
{
    static const uint8_t input[] = {
        0x05, 0x00, 0x02, 0x0f, 0xff, 0x01, 0x00, 0x00, 0x1c, 0x20, 0x00, 0x00, 0x00, 0x0b, 0x64,
        0x00, 0x1d, 0xe8, 0x03, 0x00, 0x00, 0x02, 0x3e, 0x00, 0x00, 0x00, 0x00, 0x16, 0x00,
    };
    int failed_before = harness_current_failed;

    fuzz_lapic(input, sizeof(input));
    CHECK(harness_current_failed == failed_before);
}

/*
 * pit8254.c timer_expired (fixed in 47729ed): the 200 us bound on periodic
 * IRQ0 covered only the armed deadline, so a spurious expiry 1 us after an
 * interrupt fired another. The program: PIT mode 2, count 1; 1 ms passes and
 * the timer fires; 1 us passes; a spurious lapis_pit_timer_expired().
 */
static void test_pit_spurious_expiry_inside_min_period(void)
{
    static const uint8_t input[] = {
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x09, 0x34, 0x08, 0x06, 0x01,
        0x08, 0x06, 0x00, 0x04, 0x40, 0x42, 0x0f, 0x00, 0x0c, 0xe8, 0x03, 0x00, 0x00, 0x0d,
    };
    int failed_before = harness_current_failed;

    fuzz_legacy(input, sizeof(input));
    CHECK(harness_current_failed == failed_before);
}

int main(void)
{
    RUN_TEST(test_trivial_inputs);
    RUN_TEST(test_lapic_tdcr_on_expired_oneshot);
    RUN_TEST(test_pit_spurious_expiry_inside_min_period);
    RUN_TEST(test_replay_acpi);
    RUN_TEST(test_replay_bzimage);
    RUN_TEST(test_replay_elf);
    RUN_TEST(test_replay_fwcfg);
    RUN_TEST(test_replay_ioapic);
    RUN_TEST(test_replay_lapic);
    RUN_TEST(test_replay_legacy);
    RUN_TEST(test_replay_msi);
    RUN_TEST(test_replay_multiboot);
    RUN_TEST(test_replay_options);
    RUN_TEST(test_replay_testdev);
    RUN_TEST(test_replay_uart16550);
    RUN_TEST(test_replay_unpack);
    return harness_finish("fuzz_regressions");
}
