/* SPDX-License-Identifier: MIT */
/*
 * The snapshot file format (lapis run --save / --restore): a versioned,
 * checksummed container of sections. Pure: bytes in, bytes out through a
 * callback; no KVM, no files. The KVM backend (src/kvm/snapshot.c) decides
 * what goes into the sections; this file decides how they are framed and
 * refuses anything corrupt, truncated or foreign with one line saying so.
 *
 * Layout, every integer little-endian:
 *   header, 64 bytes:
 *     0  "LAPISSNP"            magic
 *     8  u32 format version    (1)
 *    12  u32 header size       (64)
 *    16  u64 file size         (all bytes, trailer included)
 *    24  u32 section count     (1..LAPIS_SNAP_MAX_SECTIONS)
 *    28  u32 flags             (0)
 *    32  char[24] lapis version, NUL-padded
 *    56  u64 reserved          (0)
 *   section table, 32 bytes per section:
 *     u32 type, u32 version, u32 index (vCPU number; else 0), u32 reserved,
 *     u64 offset, u64 length   (inside the file, 8-aligned, not overlapping)
 *   section data
 *   trailer, 16 bytes: "LAPISEND", u32 CRC-32 (IEEE) of every byte before
 *     the trailer, u32 reserved (0)
 *
 * Sections (type: contents):
 *   VM (1):      the VM's shape and negotiated EOI policy, 64 bytes (lapis_snap_vm)
 *   RAM (2):     u64 RAM bytes, u32 page size (4096), u32 0, a bitmap of the
 *                pages that are not all zero (u64 words), then those pages in order
 *   CPU (3):     one per vCPU (index = vCPU): TLV records of KVM vCPU state
 *   IRQCHIP (4): TLV records: the IOAPIC model, line levels, pending EOIs, KVM's chips
 *   DEVICES (5): TLV records of board device state
 *   CPUID (6):   the CPUID the vCPUs were given (must match on restore)
 * A TLV record is u32 tag, u32 length, the bytes, zero padding to 8.
 */
#ifndef LAPIS_SNAPSHOT_FILE_H
#define LAPIS_SNAPSHOT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loader/guest_ram.h"

#define LAPIS_SNAP_MAGIC          "LAPISSNP"
#define LAPIS_SNAP_TRAILER_MAGIC  "LAPISEND"
#define LAPIS_SNAP_FORMAT_VERSION 1u
#define LAPIS_SNAP_HEADER_SIZE    64u
#define LAPIS_SNAP_ENTRY_SIZE     32u
#define LAPIS_SNAP_TRAILER_SIZE   16u
#define LAPIS_SNAP_MAX_SECTIONS   96u
#define LAPIS_SNAP_VERSION_LEN    24u
#define LAPIS_SNAP_PAGE_SIZE      4096u

enum lapis_snap_type {
    LAPIS_SNAP_VM = 1,
    LAPIS_SNAP_RAM = 2,
    LAPIS_SNAP_CPU = 3,
    LAPIS_SNAP_IRQCHIP = 4,
    LAPIS_SNAP_DEVICES = 5,
    LAPIS_SNAP_CPUID = 6,
};

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()): start with 0, feed pieces in order. */
uint32_t lapis_crc32(uint32_t crc, const void *buf, size_t len);

/* ---- writing ---- */

/* A piece of a section's bytes; a section is the concatenation of its chunks. */
struct lapis_snap_chunk {
    const void *data;
    uint64_t len;
};

struct lapis_snap_out_section {
    uint32_t type, version, index;
    const struct lapis_snap_chunk *chunks;
    unsigned nchunks;
};

/* Receives the file's bytes in order; returns 0 or a negative errno (which stops the write). */
typedef int (*lapis_snap_write_fn)(void *opaque, const void *buf, size_t len);

/*
 * Writes the whole file through @write: header, table, the sections (each
 * padded to 8 bytes), trailer with the CRC. Returns 0, -EINVAL (no or too many
 * sections, a version string too long), or what @write returned.
 */
int lapis_snap_write(const struct lapis_snap_out_section *sections, unsigned n,
                     const char *lapis_version, lapis_snap_write_fn write, void *opaque);

/* ---- reading ---- */

struct lapis_snap_section {
    uint32_t type, version, index;
    const uint8_t *data;
    uint64_t len;
};

struct lapis_snap_file {
    uint32_t format_version;
    char lapis_version[LAPIS_SNAP_VERSION_LEN + 1];
    unsigned nsections;
    struct lapis_snap_section sections[LAPIS_SNAP_MAX_SECTIONS];
};

/*
 * Checks @buf (the whole file) and fills @f with pointers into it. Returns 0,
 * or -EINVAL with one line in @err: not a snapshot (magic), an unknown format
 * version, truncated or with bytes after its end, a checksum mismatch, a bad
 * section table (count, bounds, overlap, alignment, unknown type), or a
 * missing VM, RAM or CPUID section. Checks run in that order, so a file of
 * another version is named as such even though its checksum cannot match.
 */
int lapis_snap_parse(const uint8_t *buf, size_t len, struct lapis_snap_file *f, char *err,
                     size_t errlen);

/* The section of @type with @index, or NULL. */
const struct lapis_snap_section *lapis_snap_find(const struct lapis_snap_file *f, uint32_t type,
                                                 uint32_t index);

/* ---- TLV records inside a section ---- */

/* Bytes a record with @len data bytes takes (header and padding included). */
uint64_t lapis_snap_tlv_size(uint64_t len);
/* Writes a record header for @tag/@len into @hdr (8 bytes). */
void lapis_snap_tlv_header(uint8_t hdr[8], uint32_t tag, uint32_t len);
/*
 * Iterates: *@off starts at 0. Returns 1 with the next record, 0 at the end,
 * -EINVAL if a record runs past the section.
 */
int lapis_snap_tlv_next(const uint8_t *data, uint64_t len, uint64_t *off, uint32_t *tag,
                        const uint8_t **val, uint32_t *vlen);

/* ---- the VM section ---- */

#define LAPIS_SNAP_VM_VERSION 1u
#define LAPIS_SNAP_VM_SIZE    64u

enum lapis_snap_irqchip {
    LAPIS_SNAP_IRQCHIP_KERNEL = 1,
    LAPIS_SNAP_IRQCHIP_SPLIT = 2,
    LAPIS_SNAP_IRQCHIP_USER = 3,
};

struct lapis_snap_vm {
    uint64_t memory;           /* bytes, as --memory */
    uint32_t cpus;             /* 1..64 */
    uint32_t irqchip;          /* enum lapis_snap_irqchip */
    uint32_t ioapic_version;   /* 0x11 or 0x20 */
    uint32_t eoi_request;      /* --eoi-suppression: 0 auto, 1 enable, 2 disable, 3 quirk */
    uint64_t x2apic_api_flags; /* what was enabled on KVM (0..0xF) */
    uint32_t emulate_fix;      /* 0/1: the fix emulated in userspace (spec eoi.md §6) */
    uint32_t policy_mode;      /* enum lapis_eoi_mode */
    uint32_t saves;            /* how many times this VM was saved before, this one included */
};

void lapis_snap_vm_encode(const struct lapis_snap_vm *vm, uint8_t out[LAPIS_SNAP_VM_SIZE]);
/* Decodes and range-checks (memory 2M..1T in 4K pages, cpus, kinds, versions, modes). */
int lapis_snap_vm_decode(const struct lapis_snap_section *s, struct lapis_snap_vm *vm, char *err,
                         size_t errlen);

/* ---- the RAM section ---- */

#define LAPIS_SNAP_RAM_VERSION 1u

/* The chunks of a RAM section for @ram: only pages with a non-zero byte are stored. */
struct lapis_snap_ram_out {
    uint8_t header[16];
    uint64_t *bitmap;
    struct lapis_snap_chunk *chunks; /* header, bitmap, runs of stored pages */
    unsigned nchunks;
    uint64_t stored_pages;
};

/* Builds @out (allocates; free with lapis_snap_ram_free). 0 or -ENOMEM/-EINVAL. */
int lapis_snap_ram_build(const struct lapis_guest_ram *ram, struct lapis_snap_ram_out *out);
void lapis_snap_ram_free(struct lapis_snap_ram_out *out);

/*
 * Checks a RAM section against @ram's size and copies the stored pages in;
 * pages not stored are zeroed unless @ram_is_zero (a fresh mapping). Returns 0
 * or -EINVAL with @err; RAM is untouched on error.
 */
int lapis_snap_ram_load(const struct lapis_snap_section *s, const struct lapis_guest_ram *ram,
                        bool ram_is_zero, char *err, size_t errlen);

#endif
