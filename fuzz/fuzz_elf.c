/* SPDX-License-Identifier: MIT */
/*
 * ELF loader: the input is the kernel file, loaded into a small guest RAM
 * (256 KiB at 0, sometimes 16 KiB at 4 GiB too; the layout follows the
 * input length, so the file itself stays an ordinary ELF file).
 * Invariants: parse/check/load agree; a failure is -ENOEXEC or -ENOSPC with
 * a message and leaves RAM untouched; a success loaded exactly the PT_LOAD
 * segments (file bytes, then zeroed bss) and nothing else, and the entry
 * point and load_lo/load_hi describe them.
 */
#include "fuzz_ram.h"

#include <errno.h>

#include "loader/elf.h"

/* Host pointer for guest [gpa, gpa + len) in @r, or NULL; the loader's own rule. */
static uint8_t *elf_fuzz_at(const struct lapis_guest_ram *r, uint8_t *low, uint8_t *high,
                            uint64_t gpa, uint64_t len)
{
    struct lapis_guest_ram shadow = *r;
    shadow.low = low;
    shadow.high = high;
    return lapis_ram_ptr(&shadow, gpa, len);
}

static void elf_fuzz_check_loaded(const struct lapis_guest_ram *r, const uint8_t *image,
                                  const struct lapis_elf_info *info)
{
    static uint8_t *want_low, *want_high;
    static uint64_t want_low_len, want_high_len;
    bool entry_found = false;
    uint64_t lo = UINT64_MAX, hi = 0;
    uint32_t nload = 0;

    /* The RAM we expect: the pattern, with each segment laid over it. */
    if (want_low_len < r->low_size) {
        free(want_low);
        want_low = malloc((size_t)r->low_size);
        want_low_len = r->low_size;
    }
    if (want_high_len < r->high_size) {
        free(want_high);
        want_high = malloc((size_t)r->high_size);
        want_high_len = r->high_size;
    }
    if ((r->low_size && !want_low) || (r->high_size && !want_high))
        abort();
    if (r->low_size)
        memset(want_low, FUZZ_RAM_FILL, (size_t)r->low_size);
    if (r->high_size)
        memset(want_high, FUZZ_RAM_FILL, (size_t)r->high_size);

    for (uint32_t i = 0; i < info->phnum; i++) {
        struct lapis_elf_phdr ph;
        lapis_elf_phdr(image, info, i, &ph);
        if (ph.type != LAPIS_ELF_PT_LOAD || ph.memsz == 0)
            continue;
        nload++;
        FUZZ_ASSERT(ph.filesz <= ph.memsz);
        uint8_t *dst = elf_fuzz_at(r, want_low, want_high, ph.paddr, ph.memsz);
        FUZZ_ASSERT(dst != NULL);
        if (!dst)
            continue;
        memcpy(dst, image + ph.offset, (size_t)ph.filesz);
        memset(dst + ph.filesz, 0, (size_t)(ph.memsz - ph.filesz));
        lo = ph.paddr < lo ? ph.paddr : lo;
        hi = ph.paddr + ph.memsz > hi ? ph.paddr + ph.memsz : hi;
        if (info->entry_paddr >= ph.paddr && info->entry_paddr < ph.paddr + ph.memsz)
            entry_found = true;
    }
    FUZZ_ASSERT(nload >= 1 && nload == info->nload);
    FUZZ_ASSERT(lo == info->load_lo && hi == info->load_hi);
    FUZZ_ASSERT(entry_found);
    if (r->low_size)
        FUZZ_ASSERT(memcmp(r->low, want_low, (size_t)r->low_size) == 0);
    if (r->high_size)
        FUZZ_ASSERT(memcmp(r->high, want_high, (size_t)r->high_size) == 0);
}

FUZZ_TARGET(elf)
{
    static const uint64_t highs[4] = {0, 16u << 10, 0, 4096};
    const struct lapis_guest_ram *ram = fuzz_ram_get(256u << 10, highs[size & 3]);
    struct lapis_elf_info parsed, checked, loaded;
    char err[256];

    bool is_elf = lapis_elf_is_elf(data, size);
    int prc = lapis_elf_parse(data, size, &parsed, err, sizeof(err));
    FUZZ_ASSERT(prc == 0 || prc == -ENOEXEC);
    if (prc)
        FUZZ_ASSERT(fuzz_err_ok(err, sizeof(err)));
    if (!is_elf)
        FUZZ_ASSERT(prc == -ENOEXEC);
    if (!prc) {
        FUZZ_ASSERT(parsed.phnum >= 1 && parsed.phnum <= LAPIS_ELF_MAX_PHNUM);
        FUZZ_ASSERT(parsed.phoff + (uint64_t)parsed.phnum * parsed.phentsize <= size);
        FUZZ_ASSERT(parsed.machine == LAPIS_ELF_EM_386 || parsed.machine == LAPIS_ELF_EM_X86_64);
    }

    int crc = lapis_elf_check(ram, data, size, &checked, NULL, 0);
    FUZZ_ASSERT(fuzz_ram_untouched(ram));
    int lrc = lapis_elf_load(ram, data, size, &loaded, err, sizeof(err));
    FUZZ_ASSERT(crc == lrc);
    FUZZ_ASSERT(lrc == 0 || lrc == -ENOEXEC || lrc == -ENOSPC);
    if (prc)
        FUZZ_ASSERT(lrc == prc);
    if (lrc) {
        FUZZ_ASSERT(fuzz_err_ok(err, sizeof(err)));
        FUZZ_ASSERT(fuzz_ram_untouched(ram));
        return 0;
    }
    FUZZ_ASSERT(checked.entry_paddr == loaded.entry_paddr && checked.nload == loaded.nload);
    FUZZ_ASSERT(checked.load_lo == loaded.load_lo && checked.load_hi == loaded.load_hi);
    FUZZ_ASSERT(loaded.phnum == parsed.phnum && loaded.entry == parsed.entry);
    elf_fuzz_check_loaded(ram, data, &loaded);
    fuzz_ram_restore(ram);
    return 0;
}
