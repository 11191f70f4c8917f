/* SPDX-License-Identifier: MIT */
/*
 * Linux x86 boot protocol (Documentation/arch/x86/boot.rst): a bzImage
 * entered at its 64-bit entry (load address + 0x200), or an uncompressed
 * vmlinux ELF64 entered at startup_64 -- both with a filled boot_params
 * ("zero page": the setup header, command line, initrd, e820 map, RSDP).
 *
 * Pure C: the image is untrusted; every offset and length is checked, all
 * checks run before anything is written to guest RAM, and each error is a
 * negative errno with one line in @err saying what is wrong and what to do:
 *   -ENOEXEC     not a kernel, or a malformed/truncated one
 *   -EOPNOTSUPP  a kernel lapis cannot enter (protocol < 2.12, no 64-bit
 *                entry, a compression this build cannot unpack)
 *   -ENOSPC      the kernel or initrd does not fit in guest RAM
 *   -E2BIG       the command line is longer than the kernel accepts
 *   -EINVAL      bad arguments (NULL, a bad reserved range)
 *   -ENOMEM      the host could not allocate the unpack buffer
 */
#ifndef LAPIS_BZIMAGE_H
#define LAPIS_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_ram.h"
#include "linux_entry.h"

/* Setup header offsets, from the start of the bzImage (= boot_params offsets). */
#define LAPIS_SETUP_SECTS        0x1F1u
#define LAPIS_SETUP_SYSSIZE      0x1F4u
#define LAPIS_SETUP_VID_MODE     0x1FAu
#define LAPIS_SETUP_BOOT_FLAG    0x1FEu /* 0xAA55 */
#define LAPIS_SETUP_JUMP         0x200u /* byte 0x201: header end - 0x202 */
#define LAPIS_SETUP_HEADER       0x202u /* "HdrS" */
#define LAPIS_SETUP_VERSION      0x206u
#define LAPIS_SETUP_LOADER_TYPE  0x210u
#define LAPIS_SETUP_LOADFLAGS    0x211u
#define LAPIS_SETUP_RAMDISK_IMG  0x218u
#define LAPIS_SETUP_RAMDISK_SIZE 0x21Cu
#define LAPIS_SETUP_CMD_LINE_PTR 0x228u
#define LAPIS_SETUP_INITRD_MAX   0x22Cu
#define LAPIS_SETUP_KERNEL_ALIGN 0x230u
#define LAPIS_SETUP_RELOCATABLE  0x234u
#define LAPIS_SETUP_XLOADFLAGS   0x236u
#define LAPIS_SETUP_CMDLINE_SIZE 0x238u
#define LAPIS_SETUP_PAYLOAD_OFF  0x248u
#define LAPIS_SETUP_PAYLOAD_LEN  0x24Cu
#define LAPIS_SETUP_PREF_ADDRESS 0x258u
#define LAPIS_SETUP_INIT_SIZE    0x260u
#define LAPIS_SETUP_END_MAX      0x290u /* the header may not reach past here */

#define LAPIS_SETUP_MAGIC     0x53726448u /* "HdrS" */
#define LAPIS_BOOT_FLAG_MAGIC 0xAA55u

/* Other boot_params offsets */
#define LAPIS_BP_ACPI_RSDP     0x070u
#define LAPIS_BP_EXT_RAMDISK   0x0C0u /* ext_ramdisk_image, then ext_ramdisk_size */
#define LAPIS_BP_EXT_CMD_LINE  0x0C8u
#define LAPIS_BP_E820_ENTRIES  0x1E8u
#define LAPIS_BP_SENTINEL      0x1EFu
#define LAPIS_BP_E820_TABLE    0x2D0u
#define LAPIS_BP_SIZE          0x1000u
#define LAPIS_E820_ENTRY_BYTES 20u

#define LAPIS_LOADFLAG_LOADED_HIGH (1u << 0)
#define LAPIS_XLF_KERNEL_64        (1u << 0)
#define LAPIS_XLF_ABOVE_4G         (1u << 1)
#define LAPIS_LOADER_TYPE_UNKNOWN  0xFFu

/* Oldest protocol lapis reads at all, and the first with xloadflags (64-bit entry). */
#define LAPIS_BOOT_PROTO_MIN   0x0206u
#define LAPIS_BOOT_PROTO_64BIT 0x020Cu
/* What lapis writes into a synthesised header for a bare vmlinux. */
#define LAPIS_BOOT_PROTO_SYNTH 0x020Fu
/* x86 COMMAND_LINE_SIZE: a bare vmlinux has no cmdline_size to tell us. */
#define LAPIS_VMLINUX_CMDLINE_SIZE 2047u

enum lapis_e820_type {
    LAPIS_E820_RAM = 1,
    LAPIS_E820_RESERVED = 2,
    LAPIS_E820_ACPI = 3,
    LAPIS_E820_NVS = 4,
};
#define LAPIS_E820_MAX 128u /* boot_params holds 128 entries */

struct lapis_e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
};

/* The 640 KiB hole: EBDA, VGA, option ROMs and the BIOS area (RSDP, tables). */
#define LAPIS_E820_HOLE_START 0x9FC00ull
#define LAPIS_E820_HOLE_END   0x100000ull

/*
 * The e820 map of @ram: RAM [0, 0x9FC00), reserved up to 1 MiB, RAM up to the
 * top of low RAM, RAM above 4 GiB; then each of @extra (e.g. ACPI tables put
 * in RAM) is carved out of whatever it overlaps and added with its type.
 * Sorted by address. Returns the entry count, -EINVAL for an empty or
 * wrapping extra range, -ENOSPC past @max entries.
 */
int lapis_e820_build(const struct lapis_guest_ram *ram, const struct lapis_e820_entry *extra,
                     unsigned nextra, struct lapis_e820_entry *out, unsigned max);

/* What the setup header says, after the checks. */
struct lapis_bzimage_info {
    uint16_t version; /* boot protocol, e.g. 0x020F */
    uint8_t setup_sects;
    uint8_t loadflags;
    uint16_t xloadflags;
    bool relocatable;
    uint32_t kernel_alignment;
    uint32_t initrd_addr_max;
    uint32_t cmdline_size;
    uint64_t pref_address;
    uint32_t init_size;
    uint64_t kernel_offset; /* protected-mode kernel: file offset and length */
    uint64_t kernel_size;
    uint64_t payload_offset; /* compressed payload: file offset and length */
    uint64_t payload_length;
    uint32_t header_end; /* end of the setup header (file offset, <= 0x290) */
};

/* True if @img has the boot sector flag and "HdrS" (no other check). */
bool lapis_bzimage_is_bzimage(const uint8_t *img, size_t len);

/*
 * Checks the setup header: magic, protocol >= 2.12 (2.06..2.11 are named as
 * too old for the 64-bit entry), LOADED_HIGH, XLF_KERNEL_64, setup_sects
 * (0 means 4), kernel_alignment a power of two, protected-mode kernel and
 * payload inside the file. Fills @info.
 */
int lapis_bzimage_parse(const uint8_t *img, size_t len, struct lapis_bzimage_info *info, char *err,
                        size_t errlen);

struct lapis_linux_config {
    const char *cmdline; /* NULL: empty */
    const uint8_t *initrd;
    uint64_t initrd_size; /* 0: no initrd */
    uint64_t acpi_rsdp;   /* boot_params.acpi_rsdp_addr; 0: let Linux scan 0xE0000-0xFFFFF */
    /* Extra e820 ranges (ACPI tables in RAM, MMIO to reserve); the kernel avoids them. */
    const struct lapis_e820_entry *reserved;
    unsigned nreserved;
    /* lapis_linux_load(): decompress a bzImage's payload on the host (default). */
    bool no_unpack;
    size_t unpack_limit; /* 0: LAPIS_UNPACK_DEFAULT_LIMIT */
};

enum lapis_linux_kind {
    LAPIS_LINUX_BZIMAGE = 1,  /* entered at its own 64-bit entry: the kernel decompresses */
    LAPIS_LINUX_VMLINUX = 2,  /* an ELF64 vmlinux entered at startup_64 */
    LAPIS_LINUX_UNPACKED = 3, /* a bzImage's payload unpacked here, entered as vmlinux */
};

/* Where everything went, for the backend and for --trace. */
struct lapis_linux_layout {
    enum lapis_linux_kind kind;
    uint16_t protocol;    /* the setup header's version (synthesised for a bare vmlinux) */
    int compression;      /* enum lapis_compression of the payload (unpack.h) */
    uint64_t kernel_addr; /* lowest byte the kernel occupies */
    uint64_t kernel_end;  /* end of what it needs before reading e820 (init_size) */
    uint64_t unpacked_size;
    uint64_t boot_params;
    uint64_t cmdline_addr;
    uint64_t cmdline_len; /* without the NUL */
    uint64_t initrd_addr; /* 0 when none */
    uint64_t initrd_size;
    unsigned e820_entries;
    struct lapis_e820_entry e820[LAPIS_E820_MAX];
    struct lapis_linux_entry entry; /* registers and system state for the boot vCPU */
};

/* A bzImage entered at its own 64-bit entry (pref_address + 0x200). */
int lapis_bzimage_load(const struct lapis_guest_ram *ram, const uint8_t *img, size_t len,
                       const struct lapis_linux_config *cfg, struct lapis_linux_layout *layout,
                       char *err, size_t errlen);

/*
 * An ELF64 x86-64 vmlinux loaded at its p_paddr and entered at e_entry (made
 * physical) with rsi = boot_params. @setup/@setup_len, optional, is the
 * bzImage it came from: its setup header goes into boot_params; without it,
 * lapis writes a minimal header (protocol 2.15, command line <= 2047 bytes).
 */
int lapis_vmlinux_load(const struct lapis_guest_ram *ram, const uint8_t *elf, size_t len,
                       const uint8_t *setup, size_t setup_len, const struct lapis_linux_config *cfg,
                       struct lapis_linux_layout *layout, char *err, size_t errlen);

/*
 * What `lapis run --kernel` calls. An ELF is loaded as vmlinux. A bzImage has
 * its payload unpacked on the host and is entered as vmlinux with its own
 * setup header (the kernel's decompressor, slow under emulation, never runs);
 * an uncompressed ELF payload is loaded the same way without unpacking. With
 * cfg->no_unpack a compressed bzImage is entered at its 64-bit entry instead.
 */
int lapis_linux_load(const struct lapis_guest_ram *ram, const uint8_t *img, size_t len,
                     const struct lapis_linux_config *cfg, struct lapis_linux_layout *layout,
                     char *err, size_t errlen);

#endif
