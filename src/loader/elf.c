/* SPDX-License-Identifier: MIT */
/* ELF32/ELF64 x86 executables: checked parsing and PT_LOAD loading. */
#include "elf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "fail.h"

#define EI_CLASS    4
#define EI_DATA     5
#define EI_VERSION  6
#define ELFCLASS32  1
#define ELFCLASS64  2
#define ELFDATA2LSB 1
#define EV_CURRENT  1
#define ET_EXEC     2

#define EHDR32_SIZE 52u
#define EHDR64_SIZE 64u
#define PHDR32_SIZE 32u
#define PHDR64_SIZE 56u

bool lapis_elf_is_elf(const uint8_t *image, size_t len)
{
    return image && len >= 4 && image[0] == 0x7f && image[1] == 'E' && image[2] == 'L' &&
           image[3] == 'F';
}

int lapis_elf_parse(const uint8_t *image, size_t len, struct lapis_elf_info *info, char *err,
                    size_t errlen)
{
    if (!image || !info)
        return fail(err, errlen, -EINVAL, "no ELF image given");
    if (len < 16)
        return fail(err, errlen, -ENOEXEC, "not an ELF file: only %zu bytes long", len);
    if (!lapis_elf_is_elf(image, len))
        return fail(err, errlen, -ENOEXEC, "not an ELF file: bad magic");

    uint8_t cls = image[EI_CLASS];
    if (cls != ELFCLASS32 && cls != ELFCLASS64)
        return fail(err, errlen, -ENOEXEC, "ELF class %u is unknown (expected 1 or 2)", cls);
    if (image[EI_DATA] != ELFDATA2LSB)
        return fail(err, errlen, -ENOEXEC, "ELF file is not little-endian (data encoding %u)",
                    image[EI_DATA]);
    if (image[EI_VERSION] != EV_CURRENT)
        return fail(err, errlen, -ENOEXEC, "ELF ident version %u is unknown (expected 1)",
                    image[EI_VERSION]);

    bool is64 = cls == ELFCLASS64;
    size_t ehsize = is64 ? EHDR64_SIZE : EHDR32_SIZE;
    if (len < ehsize)
        return fail(err, errlen, -ENOEXEC,
                    "ELF%d file is truncated: the header needs %zu bytes, file has %zu",
                    is64 ? 64 : 32, ehsize, len);

    uint16_t type = get_le16(image + 16);
    uint16_t machine = get_le16(image + 18);
    uint32_t version = get_le32(image + 20);
    if (type != ET_EXEC)
        return fail(err, errlen, -ENOEXEC,
                    "ELF type %u is not loadable: only executables (ET_EXEC, 2) are", type);
    if (machine != LAPIS_ELF_EM_386 && machine != LAPIS_ELF_EM_X86_64)
        return fail(err, errlen, -ENOEXEC,
                    "ELF machine %u is not x86 (expected EM_386 3 or EM_X86_64 62)", machine);
    if (version != EV_CURRENT)
        return fail(err, errlen, -ENOEXEC, "ELF version %u is unknown (expected 1)", version);

    uint64_t entry, phoff;
    uint32_t phentsize, phnum, min_phent;
    if (is64) {
        entry = get_le64(image + 24);
        phoff = get_le64(image + 32);
        phentsize = get_le16(image + 54);
        phnum = get_le16(image + 56);
        min_phent = PHDR64_SIZE;
    } else {
        entry = get_le32(image + 24);
        phoff = get_le32(image + 28);
        phentsize = get_le16(image + 42);
        phnum = get_le16(image + 44);
        min_phent = PHDR32_SIZE;
    }
    if (phnum == 0)
        return fail(err, errlen, -ENOEXEC, "ELF file has no program headers");
    if (phnum > LAPIS_ELF_MAX_PHNUM)
        return fail(err, errlen, -ENOEXEC,
                    "ELF file has %u program headers; at most %u are supported", phnum,
                    LAPIS_ELF_MAX_PHNUM);
    if (phentsize < min_phent)
        return fail(err, errlen, -ENOEXEC,
                    "ELF program header size %u is too small (ELF%d needs at least %u)", phentsize,
                    is64 ? 64 : 32, min_phent);
    /* phnum and phentsize are 16-bit: the product cannot overflow. */
    uint64_t table = (uint64_t)phnum * phentsize;
    if (phoff > len || table > len - phoff)
        return fail(err, errlen, -ENOEXEC,
                    "ELF file is truncated: program headers need bytes up to 0x%llx, file has "
                    "0x%zx",
                    (unsigned long long)phoff + (unsigned long long)table, len);

    memset(info, 0, sizeof(*info));
    info->is64 = is64;
    info->machine = machine;
    info->entry = entry;
    info->phoff = phoff;
    info->phentsize = phentsize;
    info->phnum = phnum;
    return 0;
}

void lapis_elf_phdr(const uint8_t *image, const struct lapis_elf_info *info, uint32_t index,
                    struct lapis_elf_phdr *ph)
{
    const uint8_t *p = image + info->phoff + (uint64_t)index * info->phentsize;

    if (info->is64) {
        ph->type = get_le32(p);
        ph->flags = get_le32(p + 4);
        ph->offset = get_le64(p + 8);
        ph->vaddr = get_le64(p + 16);
        ph->paddr = get_le64(p + 24);
        ph->filesz = get_le64(p + 32);
        ph->memsz = get_le64(p + 40);
        ph->align = get_le64(p + 48);
    } else {
        ph->type = get_le32(p);
        ph->offset = get_le32(p + 4);
        ph->vaddr = get_le32(p + 8);
        ph->paddr = get_le32(p + 12);
        ph->filesz = get_le32(p + 16);
        ph->memsz = get_le32(p + 20);
        ph->flags = get_le32(p + 24);
        ph->align = get_le32(p + 28);
    }
}

/* "256 MiB of guest RAM", with the two ranges when there is RAM above 4 GiB. */
static void describe_ram(const struct lapis_guest_ram *ram, char *buf, size_t len)
{
    uint64_t total = lapis_ram_total(ram);
    char size[32];

    if (total % (1024 * 1024) == 0)
        snprintf(size, sizeof(size), "%llu MiB", (unsigned long long)(total >> 20));
    else
        snprintf(size, sizeof(size), "0x%llx bytes", (unsigned long long)total);
    if (ram->high && ram->high_size)
        snprintf(buf, len, "%s of guest RAM (0x0 - 0x%llx and 0x%llx - 0x%llx)", size,
                 (unsigned long long)ram->low_size - 1, LAPIS_RAM_HIGH_BASE,
                 (unsigned long long)(LAPIS_RAM_HIGH_BASE + ram->high_size - 1));
    else
        snprintf(buf, len, "%s of guest RAM", size);
}

/* Checks one PT_LOAD on its own. */
static int check_segment(const struct lapis_guest_ram *ram, size_t len, bool is64, uint32_t i,
                         const struct lapis_elf_phdr *ph, char *err, size_t errlen)
{
    if (ph->filesz > ph->memsz)
        return fail(err, errlen, -ENOEXEC,
                    "segment %u is malformed: file size 0x%llx exceeds memory size 0x%llx", i,
                    (unsigned long long)ph->filesz, (unsigned long long)ph->memsz);
    if (ph->offset > len || ph->filesz > len - ph->offset) {
        unsigned long long need = ph->offset + ph->filesz;
        if (need < ph->offset)
            return fail(err, errlen, -ENOEXEC,
                        "segment %u is malformed: offset 0x%llx + size 0x%llx overflows", i,
                        (unsigned long long)ph->offset, (unsigned long long)ph->filesz);
        return fail(err, errlen, -ENOEXEC,
                    "kernel file is truncated: segment %u needs bytes up to 0x%llx, file has "
                    "0x%zx",
                    i, need, len);
    }
    if (ph->memsz == 0)
        return 0;
    uint64_t last = ph->paddr + (ph->memsz - 1);
    if (last < ph->paddr || (!is64 && last > UINT32_MAX))
        return fail(err, errlen, -ENOEXEC,
                    "segment %u (0x%llx + 0x%llx bytes) wraps around the %s address space", i,
                    (unsigned long long)ph->paddr, (unsigned long long)ph->memsz,
                    is64 ? "64-bit" : "32-bit");
    if (!lapis_ram_ptr(ram, ph->paddr, ph->memsz)) {
        char desc[128];
        describe_ram(ram, desc, sizeof(desc));
        return fail(err, errlen, -ENOSPC, "segment %u (0x%llx - 0x%llx) does not fit in %s", i,
                    (unsigned long long)ph->paddr, (unsigned long long)last, desc);
    }
    return 0;
}

int lapis_elf_check(const struct lapis_guest_ram *ram, const uint8_t *image, size_t len,
                    struct lapis_elf_info *info, char *err, size_t errlen)
{
    if (!ram)
        return fail(err, errlen, -EINVAL, "no guest RAM given");
    int rc = lapis_elf_parse(image, len, info, err, errlen);
    if (rc)
        return rc;

    bool entry_found = false;
    uint64_t lo = UINT64_MAX, hi = 0;
    uint32_t nload = 0;
    for (uint32_t i = 0; i < info->phnum; i++) {
        struct lapis_elf_phdr ph;
        lapis_elf_phdr(image, info, i, &ph);
        if (ph.type != LAPIS_ELF_PT_LOAD)
            continue;
        rc = check_segment(ram, len, info->is64, i, &ph, err, errlen);
        if (rc)
            return rc;
        if (ph.memsz == 0)
            continue;
        for (uint32_t j = 0; j < i; j++) {
            struct lapis_elf_phdr other;
            lapis_elf_phdr(image, info, j, &other);
            if (other.type != LAPIS_ELF_PT_LOAD || other.memsz == 0)
                continue;
            /* Both ranges were checked not to wrap. */
            if (ph.paddr <= other.paddr + (other.memsz - 1) &&
                other.paddr <= ph.paddr + (ph.memsz - 1))
                return fail(err, errlen, -ENOEXEC,
                            "segments %u (0x%llx - 0x%llx) and %u (0x%llx - 0x%llx) overlap", j,
                            (unsigned long long)other.paddr,
                            (unsigned long long)(other.paddr + other.memsz - 1), i,
                            (unsigned long long)ph.paddr,
                            (unsigned long long)(ph.paddr + ph.memsz - 1));
        }
        nload++;
        if (ph.paddr < lo)
            lo = ph.paddr;
        if (ph.paddr + ph.memsz > hi)
            hi = ph.paddr + ph.memsz;
        if (!entry_found && info->entry >= ph.vaddr && info->entry - ph.vaddr < ph.memsz) {
            entry_found = true;
            info->entry_paddr = ph.paddr + (info->entry - ph.vaddr);
        }
    }
    if (nload == 0)
        return fail(err, errlen, -ENOEXEC, "ELF file has no loadable (PT_LOAD) segment");
    if (!entry_found)
        return fail(err, errlen, -ENOEXEC, "entry point 0x%llx is not inside any loadable segment",
                    (unsigned long long)info->entry);

    info->nload = nload;
    info->load_lo = lo;
    info->load_hi = hi;
    return 0;
}

int lapis_elf_load(const struct lapis_guest_ram *ram, const uint8_t *image, size_t len,
                   struct lapis_elf_info *info, char *err, size_t errlen)
{
    /* Check everything first, so a bad file leaves RAM untouched. */
    int rc = lapis_elf_check(ram, image, len, info, err, errlen);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < info->phnum; i++) {
        struct lapis_elf_phdr ph;
        lapis_elf_phdr(image, info, i, &ph);
        if (ph.type != LAPIS_ELF_PT_LOAD || ph.memsz == 0)
            continue;
        uint8_t *dst = lapis_ram_ptr(ram, ph.paddr, ph.memsz);
        if (!dst) /* checked above */
            return fail(err, errlen, -ENOSPC, "segment %u does not fit in guest RAM", i);
        memcpy(dst, image + ph.offset, (size_t)ph.filesz);
        memset(dst + ph.filesz, 0, (size_t)(ph.memsz - ph.filesz));
    }
    return 0;
}
