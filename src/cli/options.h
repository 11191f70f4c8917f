/* SPDX-License-Identifier: MIT */
/*
 * Command-line parsing for the lapis binary: argv in, one config struct out,
 * or one line saying what is wrong and what to do. Pure: no KVM, no files.
 */
#ifndef LAPIS_OPTIONS_H
#define LAPIS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lapis_command {
    LAPIS_CMD_NONE = 0,
    LAPIS_CMD_HELP,
    LAPIS_CMD_VERSION,
    LAPIS_CMD_RUN,
    LAPIS_CMD_PROBE,
};

enum lapis_irqchip_opt {
    LAPIS_OPT_IRQCHIP_SPLIT = 0, /* KVM's LAPIC, lapis's IOAPIC (the default) */
    LAPIS_OPT_IRQCHIP_KERNEL,    /* KVM's LAPIC, IOAPIC and PIC, for comparison */
    LAPIS_OPT_IRQCHIP_USER,      /* no irqchip in KVM: lapis's LAPICs and IOAPIC */
};

enum lapis_eoi_opt {
    LAPIS_OPT_EOI_AUTO = 0, /* spec eoi.md §6 */
    LAPIS_OPT_EOI_ENABLE,
    LAPIS_OPT_EOI_DISABLE,
    LAPIS_OPT_EOI_QUIRK,
};

/* --hide-cx16-xsave */
enum lapis_auto_opt {
    LAPIS_OPT_AUTO = 0, /* decided by the kernel type */
    LAPIS_OPT_YES,
    LAPIS_OPT_NO,
};

#define LAPIS_DEFAULT_MEMORY         (256ull << 20)
#define LAPIS_MIN_MEMORY             (2ull << 20)
#define LAPIS_MAX_MEMORY             (1ull << 40)
#define LAPIS_MAX_CPUS               64u
#define LAPIS_DEFAULT_IOAPIC_VERSION 0x20u

struct lapis_config {
    enum lapis_command command;
    /* run */
    const char *kernel;  /* NULL: the built-in guest */
    const char *initrd;  /* NULL: none */
    const char *cmdline; /* NULL: the default for the kernel */
    uint64_t memory;     /* bytes, a multiple of 4 KiB */
    unsigned cpus;
    enum lapis_irqchip_opt irqchip;
    unsigned ioapic_version; /* 0x11 or 0x20 */
    bool ioapic_version_set; /* given explicitly */
    enum lapis_eoi_opt eoi;
    bool verbose;
    bool no_eoi_recovery; /* hidden --no-eoi-recovery: lets lapis probe see spec §7 happen */
    const char *save;     /* --save FILE: where a save goes (port 0x4F0, SIGUSR2); NULL: none */
    const char *restore;  /* --restore FILE: continue a saved VM instead of booting */
    /* Given explicitly (with --restore they must match the file). */
    bool memory_set, cpus_set, irqchip_set, eoi_set;
    bool no_unpack; /* Linux: enter a compressed bzImage at its own 64-bit entry */
    enum lapis_auto_opt hide_cx16_xsave; /* auto: yes for Linux kernels, no for multiboot */
    /* probe */
    bool json;
};

/* Fills @cfg with the defaults (command NONE). */
void lapis_config_defaults(struct lapis_config *cfg);

/*
 * Parses argv (argv[0] is the program). Returns 0 with @cfg filled, or
 * -EINVAL with one line (no "lapis: " prefix, no newline) in @err.
 * "--help"/"-h" anywhere selects LAPIS_CMD_HELP, "--version" LAPIS_CMD_VERSION.
 */
int lapis_options_parse(int argc, char *const argv[], struct lapis_config *cfg, char *err,
                        size_t errlen);

/*
 * A memory size: a decimal number with an optional K, M, G or T suffix (either
 * case; no suffix means MiB, as QEMU's -m). Returns 0, -EINVAL (with @err) for
 * garbage, zero, overflow or a size not a multiple of 4 KiB.
 */
int lapis_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen);

/* "auto", "enable", "disable", "quirk". */
const char *lapis_eoi_opt_name(enum lapis_eoi_opt eoi);

/* The --help text. */
const char *lapis_usage(void);

#endif
