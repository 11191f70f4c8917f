/* SPDX-License-Identifier: MIT */
/* The snapshot container: framing, checksum and the checks on reading (snapshot_file.h). */
#include "snapshot_file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint64_t pad8(uint64_t n)
{
    return (n + 7) & ~7ull;
}

/* ---- CRC-32 ---- */

static uint32_t crc_table[256];
static bool crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (unsigned k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    __atomic_store_n(&crc_ready, true, __ATOMIC_RELEASE);
}

uint32_t lapis_crc32(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
        crc_init(); /* idempotent: two threads racing here compute the same table */
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* ---- writing ---- */

struct writer {
    lapis_snap_write_fn write;
    void *opaque;
    uint32_t crc;
};

static int emit(struct writer *w, const void *buf, uint64_t len)
{
    const uint8_t *p = buf;

    while (len) {
        size_t n = len > (1u << 30) ? (1u << 30) : (size_t)len;
        int r = w->write(w->opaque, p, n);
        if (r)
            return r;
        w->crc = lapis_crc32(w->crc, p, n);
        p += n;
        len -= n;
    }
    return 0;
}

static uint64_t section_len(const struct lapis_snap_out_section *s)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < s->nchunks; i++)
        n += s->chunks[i].len;
    return n;
}

int lapis_snap_write(const struct lapis_snap_out_section *sections, unsigned n,
                     const char *lapis_version, lapis_snap_write_fn write, void *opaque)
{
    static const uint8_t zeros[8];
    uint8_t hdr[LAPIS_SNAP_HEADER_SIZE], ent[LAPIS_SNAP_ENTRY_SIZE], trailer[16];
    struct writer w = {.write = write, .opaque = opaque, .crc = 0};
    uint64_t off, total;
    int r;

    if (!n || n > LAPIS_SNAP_MAX_SECTIONS || !lapis_version ||
        strlen(lapis_version) > LAPIS_SNAP_VERSION_LEN)
        return -EINVAL;
    off = LAPIS_SNAP_HEADER_SIZE + (uint64_t)n * LAPIS_SNAP_ENTRY_SIZE;
    total = off;
    for (unsigned i = 0; i < n; i++)
        total += pad8(section_len(&sections[i]));
    total += LAPIS_SNAP_TRAILER_SIZE;

    memset(hdr, 0, sizeof(hdr));
    memcpy(hdr, LAPIS_SNAP_MAGIC, 8);
    put32(hdr + 8, LAPIS_SNAP_FORMAT_VERSION);
    put32(hdr + 12, LAPIS_SNAP_HEADER_SIZE);
    put64(hdr + 16, total);
    put32(hdr + 24, n);
    memcpy(hdr + 32, lapis_version, strlen(lapis_version));
    r = emit(&w, hdr, sizeof(hdr));
    for (unsigned i = 0; i < n && !r; i++) {
        uint64_t len = section_len(&sections[i]);
        memset(ent, 0, sizeof(ent));
        put32(ent, sections[i].type);
        put32(ent + 4, sections[i].version);
        put32(ent + 8, sections[i].index);
        put64(ent + 16, off);
        put64(ent + 24, len);
        r = emit(&w, ent, sizeof(ent));
        off += pad8(len);
    }
    for (unsigned i = 0; i < n && !r; i++) {
        uint64_t len = section_len(&sections[i]);
        for (unsigned c = 0; c < sections[i].nchunks && !r; c++)
            r = emit(&w, sections[i].chunks[c].data, sections[i].chunks[c].len);
        if (!r && pad8(len) != len)
            r = emit(&w, zeros, pad8(len) - len);
    }
    if (r)
        return r;
    memset(trailer, 0, sizeof(trailer));
    memcpy(trailer, LAPIS_SNAP_TRAILER_MAGIC, 8);
    put32(trailer + 8, w.crc);
    return write(opaque, trailer, sizeof(trailer));
}

/* ---- reading ---- */

static const char *type_name(uint32_t type)
{
    switch (type) {
    case LAPIS_SNAP_VM:
        return "VM";
    case LAPIS_SNAP_RAM:
        return "RAM";
    case LAPIS_SNAP_CPU:
        return "CPU";
    case LAPIS_SNAP_IRQCHIP:
        return "IRQCHIP";
    case LAPIS_SNAP_DEVICES:
        return "DEVICES";
    case LAPIS_SNAP_CPUID:
        return "CPUID";
    }
    return NULL;
}

int lapis_snap_parse(const uint8_t *buf, size_t len, struct lapis_snap_file *f, char *err,
                     size_t errlen)
{
    uint64_t size, table_end, data_end;
    uint32_t version, n, crc;

    memset(f, 0, sizeof(*f));
    if (!buf || len < 8 || memcmp(buf, LAPIS_SNAP_MAGIC, 8) != 0)
        return fail(err, errlen, "not a lapis snapshot (no '%s' magic at the start)",
                    LAPIS_SNAP_MAGIC);
    if (len < LAPIS_SNAP_HEADER_SIZE + LAPIS_SNAP_TRAILER_SIZE)
        return fail(err, errlen, "truncated: %zu bytes, less than a header and trailer", len);
    version = get32(buf + 8);
    if (version != LAPIS_SNAP_FORMAT_VERSION)
        return fail(err, errlen, "snapshot format version %u, this lapis reads version %u", version,
                    LAPIS_SNAP_FORMAT_VERSION);
    if (get32(buf + 12) != LAPIS_SNAP_HEADER_SIZE)
        return fail(err, errlen, "bad header size %u (expected %u)", get32(buf + 12),
                    LAPIS_SNAP_HEADER_SIZE);
    size = get64(buf + 16);
    if (size > len)
        return fail(err, errlen, "truncated: the header says %llu bytes, the file has %zu",
                    (unsigned long long)size, len);
    if (size < len)
        return fail(err, errlen, "%llu unexpected bytes after the end of the snapshot",
                    (unsigned long long)(len - size));
    if (memcmp(buf + len - LAPIS_SNAP_TRAILER_SIZE, LAPIS_SNAP_TRAILER_MAGIC, 8) != 0)
        return fail(err, errlen, "truncated or corrupt: no '%s' trailer at the end",
                    LAPIS_SNAP_TRAILER_MAGIC);
    crc = lapis_crc32(0, buf, len - LAPIS_SNAP_TRAILER_SIZE);
    if (crc != get32(buf + len - 8))
        return fail(err, errlen,
                    "checksum mismatch (CRC-32 0x%08x, stored 0x%08x): the file is "
                    "corrupt",
                    crc, get32(buf + len - 8));
    if (get32(buf + 28) != 0 || get64(buf + 56) != 0 || get32(buf + len - 4) != 0)
        return fail(err, errlen, "reserved header fields are not zero");

    f->format_version = version;
    memcpy(f->lapis_version, buf + 32, LAPIS_SNAP_VERSION_LEN);
    f->lapis_version[LAPIS_SNAP_VERSION_LEN] = '\0';
    n = get32(buf + 24);
    if (n == 0 || n > LAPIS_SNAP_MAX_SECTIONS)
        return fail(err, errlen, "bad section count %u (1..%u)", n, LAPIS_SNAP_MAX_SECTIONS);
    table_end = LAPIS_SNAP_HEADER_SIZE + (uint64_t)n * LAPIS_SNAP_ENTRY_SIZE;
    data_end = len - LAPIS_SNAP_TRAILER_SIZE;
    if (table_end > data_end)
        return fail(err, errlen, "the section table (%u entries) runs past the data", n);

    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = buf + LAPIS_SNAP_HEADER_SIZE + (size_t)i * LAPIS_SNAP_ENTRY_SIZE;
        struct lapis_snap_section *s = &f->sections[i];
        uint64_t off = get64(e + 16), slen = get64(e + 24);

        s->type = get32(e);
        s->version = get32(e + 4);
        s->index = get32(e + 8);
        if (!type_name(s->type))
            return fail(err, errlen, "section %u has unknown type %u", i, s->type);
        if (get32(e + 12) != 0)
            return fail(err, errlen, "section %u: reserved field not zero", i);
        if ((off & 7) || off < table_end || off > data_end || slen > data_end - off)
            return fail(err, errlen,
                        "section %u (%s) lies outside the data (offset %llu, %llu bytes)", i,
                        type_name(s->type), (unsigned long long)off, (unsigned long long)slen);
        s->data = buf + off;
        s->len = slen;
        for (uint32_t j = 0; j < i; j++) {
            const struct lapis_snap_section *o = &f->sections[j];
            uint64_t ooff = (uint64_t)(o->data - buf);
            if (off < ooff + pad8(o->len) && ooff < off + pad8(slen))
                return fail(err, errlen, "sections %u and %u overlap", j, i);
            if (o->type == s->type && o->index == s->index)
                return fail(err, errlen, "section %s %u appears twice", type_name(s->type),
                            s->index);
        }
    }
    f->nsections = n;
    if (!lapis_snap_find(f, LAPIS_SNAP_VM, 0) || !lapis_snap_find(f, LAPIS_SNAP_RAM, 0) ||
        !lapis_snap_find(f, LAPIS_SNAP_CPUID, 0))
        return fail(err, errlen, "the VM, RAM or CPUID section is missing");
    return 0;
}

const struct lapis_snap_section *lapis_snap_find(const struct lapis_snap_file *f, uint32_t type,
                                                 uint32_t index)
{
    for (unsigned i = 0; i < f->nsections; i++)
        if (f->sections[i].type == type && f->sections[i].index == index)
            return &f->sections[i];
    return NULL;
}

/* ---- TLV ---- */

uint64_t lapis_snap_tlv_size(uint64_t len)
{
    return 8 + pad8(len);
}

void lapis_snap_tlv_header(uint8_t hdr[8], uint32_t tag, uint32_t len)
{
    put32(hdr, tag);
    put32(hdr + 4, len);
}

int lapis_snap_tlv_next(const uint8_t *data, uint64_t len, uint64_t *off, uint32_t *tag,
                        const uint8_t **val, uint32_t *vlen)
{
    uint64_t o = *off, l;

    if (o >= len)
        return 0;
    if (len - o < 8)
        return -EINVAL;
    *tag = get32(data + o);
    l = get32(data + o + 4);
    if (pad8(l) > len - o - 8)
        return -EINVAL;
    *val = data + o + 8;
    *vlen = (uint32_t)l;
    *off = o + 8 + pad8(l);
    return 1;
}

/* ---- VM ---- */

void lapis_snap_vm_encode(const struct lapis_snap_vm *vm, uint8_t out[LAPIS_SNAP_VM_SIZE])
{
    memset(out, 0, LAPIS_SNAP_VM_SIZE);
    put64(out, vm->memory);
    put32(out + 8, vm->cpus);
    put32(out + 12, vm->irqchip);
    put32(out + 16, vm->ioapic_version);
    put32(out + 20, vm->eoi_request);
    put64(out + 24, vm->x2apic_api_flags);
    put32(out + 32, vm->emulate_fix);
    put32(out + 36, vm->policy_mode);
    put32(out + 40, vm->saves);
}

int lapis_snap_vm_decode(const struct lapis_snap_section *s, struct lapis_snap_vm *vm, char *err,
                         size_t errlen)
{
    const uint8_t *p = s->data;

    memset(vm, 0, sizeof(*vm));
    if (s->version != LAPIS_SNAP_VM_VERSION)
        return fail(err, errlen, "VM section version %u, this lapis reads version %u", s->version,
                    LAPIS_SNAP_VM_VERSION);
    if (s->len != LAPIS_SNAP_VM_SIZE)
        return fail(err, errlen, "VM section is %llu bytes, expected %u",
                    (unsigned long long)s->len, LAPIS_SNAP_VM_SIZE);
    vm->memory = get64(p);
    vm->cpus = get32(p + 8);
    vm->irqchip = get32(p + 12);
    vm->ioapic_version = get32(p + 16);
    vm->eoi_request = get32(p + 20);
    vm->x2apic_api_flags = get64(p + 24);
    vm->emulate_fix = get32(p + 32);
    vm->policy_mode = get32(p + 36);
    vm->saves = get32(p + 40);
    if (vm->memory < (2ull << 20) || vm->memory > (1ull << 40) || (vm->memory & 0xFFF))
        return fail(err, errlen, "VM section: memory size %llu is not possible",
                    (unsigned long long)vm->memory);
    if (vm->cpus < 1 || vm->cpus > 64)
        return fail(err, errlen, "VM section: %u vCPUs is not possible", vm->cpus);
    if (vm->irqchip < LAPIS_SNAP_IRQCHIP_KERNEL || vm->irqchip > LAPIS_SNAP_IRQCHIP_USER)
        return fail(err, errlen, "VM section: unknown irqchip kind %u", vm->irqchip);
    if (vm->ioapic_version != 0x11 && vm->ioapic_version != 0x20)
        return fail(err, errlen, "VM section: IOAPIC version 0x%x is not possible",
                    vm->ioapic_version);
    if (vm->eoi_request > 3 || vm->x2apic_api_flags > 0xF || vm->emulate_fix > 1 ||
        vm->policy_mode > 2)
        return fail(err, errlen, "VM section: bad EOI policy fields");
    for (unsigned i = 44; i < LAPIS_SNAP_VM_SIZE; i++)
        if (p[i])
            return fail(err, errlen, "VM section: reserved bytes are not zero");
    return 0;
}

/* ---- RAM ---- */

/* Page @i of the RAM seen as one run of low then high bytes. */
static uint8_t *ram_page(const struct lapis_guest_ram *ram, uint64_t i)
{
    uint64_t off = i * LAPIS_SNAP_PAGE_SIZE;
    if (off < ram->low_size)
        return ram->low + off;
    return ram->high + (off - ram->low_size);
}

static bool page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    for (unsigned i = 0; i < LAPIS_SNAP_PAGE_SIZE / 8; i++)
        if (w[i])
            return false;
    return true;
}

void lapis_snap_ram_free(struct lapis_snap_ram_out *out)
{
    free(out->bitmap);
    free(out->chunks);
    memset(out, 0, sizeof(*out));
}

int lapis_snap_ram_build(const struct lapis_guest_ram *ram, struct lapis_snap_ram_out *out)
{
    uint64_t total = lapis_ram_total(ram), npages = total / LAPIS_SNAP_PAGE_SIZE;
    uint64_t words = (npages + 63) / 64, cap = 2, run_start = 0;
    bool in_run = false;

    memset(out, 0, sizeof(*out));
    if ((ram->low_size | ram->high_size) % LAPIS_SNAP_PAGE_SIZE || !npages)
        return -EINVAL;
    out->bitmap = calloc(words, sizeof(uint64_t));
    out->chunks = malloc(cap * sizeof(*out->chunks));
    if (!out->bitmap || !out->chunks) {
        lapis_snap_ram_free(out);
        return -ENOMEM;
    }
    put64(out->header, total);
    put32(out->header + 8, LAPIS_SNAP_PAGE_SIZE);
    put32(out->header + 12, 0);
    out->chunks[0] = (struct lapis_snap_chunk){out->header, sizeof(out->header)};
    out->chunks[1] = (struct lapis_snap_chunk){out->bitmap, words * sizeof(uint64_t)};
    out->nchunks = 2;

    /* Runs of stored pages that are contiguous in host memory become one chunk. */
    for (uint64_t i = 0; i <= npages; i++) {
        bool stored = i < npages && !page_is_zero(ram_page(ram, i));
        bool breaks = i * LAPIS_SNAP_PAGE_SIZE == ram->low_size; /* low -> high */
        if (in_run && (!stored || breaks)) {
            if (out->nchunks == cap) {
                struct lapis_snap_chunk *c = realloc(out->chunks, 2 * cap * sizeof(*c));
                if (!c) {
                    lapis_snap_ram_free(out);
                    return -ENOMEM;
                }
                out->chunks = c;
                cap *= 2;
            }
            out->chunks[out->nchunks++] = (struct lapis_snap_chunk){
                ram_page(ram, run_start), (i - run_start) * LAPIS_SNAP_PAGE_SIZE};
            in_run = false;
        }
        if (stored) {
            out->bitmap[i / 64] |= 1ull << (i % 64);
            out->stored_pages++;
            if (!in_run) {
                in_run = true;
                run_start = i;
            }
        }
    }
    /* The bitmap is stored little-endian. */
    for (uint64_t w = 0; w < words; w++) {
        uint8_t b[8];
        put64(b, out->bitmap[w]);
        memcpy(&out->bitmap[w], b, 8);
    }
    return 0;
}

int lapis_snap_ram_load(const struct lapis_snap_section *s, const struct lapis_guest_ram *ram,
                        bool ram_is_zero, char *err, size_t errlen)
{
    uint64_t total = lapis_ram_total(ram), npages = total / LAPIS_SNAP_PAGE_SIZE;
    uint64_t words = (npages + 63) / 64, stored = 0;
    const uint8_t *bitmap, *page;

    if (s->version != LAPIS_SNAP_RAM_VERSION)
        return fail(err, errlen, "RAM section version %u, this lapis reads version %u", s->version,
                    LAPIS_SNAP_RAM_VERSION);
    if (s->len < 16 || get64(s->data) != total)
        return fail(err, errlen, "RAM section does not hold %llu bytes of RAM",
                    (unsigned long long)total);
    if (get32(s->data + 8) != LAPIS_SNAP_PAGE_SIZE || get32(s->data + 12) != 0)
        return fail(err, errlen, "RAM section: page size %u, expected %u", get32(s->data + 8),
                    LAPIS_SNAP_PAGE_SIZE);
    if (s->len - 16 < words * 8)
        return fail(err, errlen, "RAM section: the page bitmap is cut short");
    bitmap = s->data + 16;
    for (uint64_t i = 0; i < npages; i++)
        stored += (bitmap[i / 8] >> (i % 8)) & 1;
    for (uint64_t i = npages; i < words * 64; i++)
        if ((bitmap[i / 8] >> (i % 8)) & 1)
            return fail(err, errlen, "RAM section: a page past the end of RAM is marked");
    if (s->len - 16 - words * 8 != stored * LAPIS_SNAP_PAGE_SIZE)
        return fail(err, errlen, "RAM section: %llu pages marked but %llu bytes of pages",
                    (unsigned long long)stored, (unsigned long long)(s->len - 16 - words * 8));

    page = bitmap + words * 8;
    for (uint64_t i = 0; i < npages; i++) {
        if ((bitmap[i / 8] >> (i % 8)) & 1) {
            memcpy(ram_page(ram, i), page, LAPIS_SNAP_PAGE_SIZE);
            page += LAPIS_SNAP_PAGE_SIZE;
        } else if (!ram_is_zero) {
            memset(ram_page(ram, i), 0, LAPIS_SNAP_PAGE_SIZE);
        }
    }
    return 0;
}
