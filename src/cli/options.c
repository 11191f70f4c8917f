/* SPDX-License-Identifier: MIT */
/*
 * Option parsing: a table of subcommands and a table of options, each option
 * naming the subcommands it belongs to. Every rejection is one line saying
 * what is wrong and what to do.
 */
#include "options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CMD_BIT(c) (1u << (c))

static const struct {
    const char *name;
    enum lapis_command cmd;
} commands[] = {
    {"run", LAPIS_CMD_RUN},
    {"probe", LAPIS_CMD_PROBE},
    {"help", LAPIS_CMD_HELP},
    {"version", LAPIS_CMD_VERSION},
};

static const char usage_text[] =
    "usage: lapis run [options]      run a guest on KVM\n"
    "       lapis probe [--json]     report what this host's KVM offers\n"
    "       lapis conformance [--filter GLOB] [--json FILE] [--list]\n"
    "                                run the interrupt scenarios on KVM and the models\n"
    "       lapis --help | --version\n"
    "\n"
    "run options:\n"
    "  --kernel FILE          multiboot v1 ELF kernel, or a Linux bzImage or ELF vmlinux\n"
    "                         (default: the built-in guest). Linux gets ACPI tables,\n"
    "                         a PIT, PIC, 8042 and CMOS RTC; COM1 is the console\n"
    "  --initrd FILE          multiboot module 0, or Linux's initramfs\n"
    "  --cmdline STR          kernel command line (built-in guest default:\n"
    "                         lapis.eoi=<negotiated mode>; Linux: console=ttyS0)\n"
    "  --no-unpack            Linux: enter a compressed bzImage at its own 64-bit entry\n"
    "                         instead of unpacking it on the host (slow when guest\n"
    "                         kernel code is emulated)\n"
    "  --hide-cx16-xsave auto|yes|no\n"
    "                         hide CMPXCHG16B and XSAVE from the guest's CPUID; KVM's\n"
    "                         emulator (PVM hosts) cannot run them in kernel code, and\n"
    "                         PVM keeps XSAVE visible anyway (default auto: yes for\n"
    "                         Linux kernels, no for multiboot)\n"
    "  --memory SIZE          guest RAM, e.g. 256M, 1G (no suffix: MiB; default 256M)\n"
    "  --cpus N               vCPUs, 1..64 (default 1)\n"
    "  --irqchip split|kernel|user\n"
    "                         split: lapis's IOAPIC beside KVM's LAPIC (default);\n"
    "                         kernel: KVM's in-kernel IOAPIC and PIC;\n"
    "                         user: lapis's own LAPICs and IOAPIC, none in KVM\n"
    "  --ioapic-version 0x11|0x20\n"
    "                         0x20 has the EOI register (default 0x20)\n"
    "  --eoi-suppression auto|enable|disable|quirk\n"
    "                         Directed EOI policy (default auto: enable with an\n"
    "                         0x20 IOAPIC, disable with 0x11)\n"
    "  --verbose              print what was negotiated with KVM\n"
    "  --save FILE            where the VM is saved when the guest asks (port 0x4F0)\n"
    "                         or on SIGUSR2 (then lapis exits with status 0)\n"
    "  --restore FILE         continue a saved VM (its RAM, vCPUs, interrupt\n"
    "                         controllers); the VM's shape comes from the file\n"
    "\n"
    "The guest's COM1 is stdout; a terminal on stdin is its input (raw mode; Ctrl-C\n"
    "stops lapis).\n"
    "\n"
    "exit status: 0 guest powered off (or a Linux guest rebooted), odd: isa-debug-exit,\n"
    "2 bad usage, 4 host/KVM failure, 6 guest crashed, 8 stopped by a signal\n";

const char *lapis_usage(void)
{
    return usage_text;
}

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

/* Decimal digits only, no sign, no overflow past @max. Returns the end or NULL. */
static const char *parse_decimal(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (*s < '0' || *s > '9')
        return NULL;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return NULL;
        v = v * 10 + d;
    }
    *out = v;
    return s;
}

int lapis_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
    uint64_t v, shift = 20;
    const char *end;

    if (!s || !*s)
        return fail(err, errlen, "--memory needs a size, e.g. 256M or 1G");
    if (*s < '0' || *s > '9')
        return fail(err, errlen, "--memory '%s' is not a size: use a number with K, M, G or T", s);
    end = parse_decimal(s, UINT64_MAX, &v);
    if (!end)
        return fail(err, errlen, "--memory '%s' is too large: at most %lluG", s,
                    (unsigned long long)(LAPIS_MAX_MEMORY >> 30));
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    case 't':
    case 'T':
        shift = 40;
        end++;
        break;
    default:
        return fail(err, errlen, "--memory '%s': unknown suffix '%s': use K, M, G or T", s, end);
    }
    if (*end)
        return fail(err, errlen, "--memory '%s': trailing '%s' after the suffix: use e.g. 512M", s,
                    end);
    if (v == 0)
        return fail(err, errlen, "--memory must not be zero: use e.g. 256M");
    if (v > (LAPIS_MAX_MEMORY >> shift))
        return fail(err, errlen, "--memory '%s' is too large: at most %lluG", s,
                    (unsigned long long)(LAPIS_MAX_MEMORY >> 30));
    v <<= shift;
    if (v & 0xFFF)
        return fail(err, errlen, "--memory '%s' is not a multiple of 4K", s);
    *bytes = v;
    return 0;
}

const char *lapis_eoi_opt_name(enum lapis_eoi_opt eoi)
{
    switch (eoi) {
    case LAPIS_OPT_EOI_AUTO:
        return "auto";
    case LAPIS_OPT_EOI_ENABLE:
        return "enable";
    case LAPIS_OPT_EOI_DISABLE:
        return "disable";
    case LAPIS_OPT_EOI_QUIRK:
        return "quirk";
    }
    return "invalid";
}

typedef int (*apply_fn)(struct lapis_config *cfg, const char *val, char *err, size_t errlen);

static int apply_kernel(struct lapis_config *cfg, const char *val, char *err, size_t errlen)
{
    if (!*val)
        return fail(err, errlen, "--kernel needs a file name");
    cfg->kernel = val;
    return 0;
}

static int apply_initrd(struct lapis_config *cfg, const char *val, char *err, size_t errlen)
{
    if (!*val)
        return fail(err, errlen, "--initrd needs a file name");
    cfg->initrd = val;
    return 0;
}

static int apply_cmdline(struct lapis_config *cfg, const char *val, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    cfg->cmdline = val; /* the empty string is a valid command line */
    return 0;
}

static int apply_memory(struct lapis_config *cfg, const char *val, char *err, size_t errlen)
{
    uint64_t bytes;
    int r = lapis_parse_size(val, &bytes, err, errlen);

    if (r)
        return r;
    if (bytes < LAPIS_MIN_MEMORY)
        return fail(err, errlen, "--memory '%s' is too small: at least %lluM", val,
                    (unsigned long long)(LAPIS_MIN_MEMORY >> 20));
    cfg->memory = bytes;
    cfg->memory_set = true;
    return 0;
}

static int apply_cpus(struct lapis_config *cfg, const char *val, char *err, size_t errlen)
{
    uint64_t n;
    const char *end = parse_decimal(val, UINT64_MAX, &n);

    if (!end || *end)
        return fail(err, errlen, "--cpus '%s' is not a number: use 1..%u", val, LAPIS_MAX_CPUS);
    if (n < 1 || n > LAPIS_MAX_CPUS)
        return fail(err, errlen, "--cpus %s is out of range: use 1..%u", val, LAPIS_MAX_CPUS);
    cfg->cpus = (unsigned)n;
    cfg->cpus_set = true;
    return 0;
}

static int apply_irqchip(struct lapis_config *cfg, const char *val, char *err, size_t errlen)
{
    if (!strcmp(val, "split"))
        cfg->irqchip = LAPIS_OPT_IRQCHIP_SPLIT;
    else if (!strcmp(val, "kernel"))
        cfg->irqchip = LAPIS_OPT_IRQCHIP_KERNEL;
    else if (!strcmp(val, "user"))
        cfg->irqchip = LAPIS_OPT_IRQCHIP_USER;
    else
        return fail(err, errlen, "--irqchip '%s' is not known: use split, kernel or user", val);
    cfg->irqchip_set = true;
    return 0;
}

static int apply_ioapic_version(struct lapis_config *cfg, const char *val, char *err, size_t errlen)
{
    uint64_t v = 0;
    const char *end = NULL;

    if ((val[0] == '0') && (val[1] == 'x' || val[1] == 'X')) {
        const char *p = val + 2;
        for (end = p; *end; end++) {
            unsigned d;
            if (*end >= '0' && *end <= '9')
                d = (unsigned)(*end - '0');
            else if (*end >= 'a' && *end <= 'f')
                d = (unsigned)(*end - 'a' + 10);
            else if (*end >= 'A' && *end <= 'F')
                d = (unsigned)(*end - 'A' + 10);
            else
                break;
            if (v > 0xFF)
                break;
            v = v * 16 + d;
        }
        if (end == p)
            end = NULL;
    } else {
        end = parse_decimal(val, 0xFFFF, &v);
    }
    if (!end || *end || (v != 0x11 && v != 0x20))
        return fail(err, errlen, "--ioapic-version '%s' is not supported: use 0x11 or 0x20", val);
    cfg->ioapic_version = (unsigned)v;
    cfg->ioapic_version_set = true;
    return 0;
}

static int apply_eoi(struct lapis_config *cfg, const char *val, char *err, size_t errlen)
{
    static const enum lapis_eoi_opt all[] = {LAPIS_OPT_EOI_AUTO, LAPIS_OPT_EOI_ENABLE,
                                             LAPIS_OPT_EOI_DISABLE, LAPIS_OPT_EOI_QUIRK};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (!strcmp(val, lapis_eoi_opt_name(all[i]))) {
            cfg->eoi = all[i];
            cfg->eoi_set = true;
            return 0;
        }
    }
    return fail(err, errlen,
                "--eoi-suppression '%s' is not known: use auto, enable, disable or quirk", val);
}

static int apply_verbose(struct lapis_config *cfg, const char *val, char *err, size_t errlen)
{
    (void)val;
    (void)err;
    (void)errlen;
    cfg->verbose = true;
    return 0;
}

static int apply_no_eoi_recovery(struct lapis_config *cfg, const char *val, char *err,
                                 size_t errlen)
{
    (void)val;
    (void)err;
    (void)errlen;
    cfg->no_eoi_recovery = true;
    return 0;
}

static int apply_no_unpack(struct lapis_config *cfg, const char *val, char *err, size_t errlen)
{
    (void)val;
    (void)err;
    (void)errlen;
    cfg->no_unpack = true;
    return 0;
}

static int apply_hide_cx16_xsave(struct lapis_config *cfg, const char *val, char *err,
                                 size_t errlen)
{
    if (!strcmp(val, "auto"))
        cfg->hide_cx16_xsave = LAPIS_OPT_AUTO;
    else if (!strcmp(val, "yes"))
        cfg->hide_cx16_xsave = LAPIS_OPT_YES;
    else if (!strcmp(val, "no"))
        cfg->hide_cx16_xsave = LAPIS_OPT_NO;
    else
        return fail(err, errlen, "--hide-cx16-xsave '%s' is not known: use auto, yes or no", val);
    return 0;
}

static int apply_json(struct lapis_config *cfg, const char *val, char *err, size_t errlen)
{
    (void)val;
    (void)err;
    (void)errlen;
    cfg->json = true;
    return 0;
}

static int apply_save(struct lapis_config *cfg, const char *val, char *err, size_t errlen)
{
    if (!*val)
        return fail(err, errlen, "--save needs a file name");
    cfg->save = val;
    return 0;
}

static int apply_restore(struct lapis_config *cfg, const char *val, char *err, size_t errlen)
{
    if (!*val)
        return fail(err, errlen, "--restore needs a file name");
    cfg->restore = val;
    return 0;
}

static const struct option_def {
    const char *name; /* without the leading "--" */
    bool has_arg;
    unsigned commands; /* CMD_BIT()s it is valid for */
    apply_fn apply;
} options[] = {
    {"kernel", true, CMD_BIT(LAPIS_CMD_RUN), apply_kernel},
    {"initrd", true, CMD_BIT(LAPIS_CMD_RUN), apply_initrd},
    {"cmdline", true, CMD_BIT(LAPIS_CMD_RUN), apply_cmdline},
    {"memory", true, CMD_BIT(LAPIS_CMD_RUN), apply_memory},
    {"cpus", true, CMD_BIT(LAPIS_CMD_RUN), apply_cpus},
    {"irqchip", true, CMD_BIT(LAPIS_CMD_RUN), apply_irqchip},
    {"ioapic-version", true, CMD_BIT(LAPIS_CMD_RUN), apply_ioapic_version},
    {"eoi-suppression", true, CMD_BIT(LAPIS_CMD_RUN), apply_eoi},
    {"verbose", false, CMD_BIT(LAPIS_CMD_RUN) | CMD_BIT(LAPIS_CMD_PROBE), apply_verbose},
    {"json", false, CMD_BIT(LAPIS_CMD_PROBE), apply_json},
    {"save", true, CMD_BIT(LAPIS_CMD_RUN), apply_save},
    {"restore", true, CMD_BIT(LAPIS_CMD_RUN), apply_restore},
    {"no-unpack", false, CMD_BIT(LAPIS_CMD_RUN), apply_no_unpack},
    {"hide-cx16-xsave", true, CMD_BIT(LAPIS_CMD_RUN), apply_hide_cx16_xsave},
    /* Debugging, not in --help: never release held-back EOI exits (spec eoi.md §7). */
    {"no-eoi-recovery", false, CMD_BIT(LAPIS_CMD_RUN), apply_no_eoi_recovery},
};

static const char *command_name(enum lapis_command cmd)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].cmd == cmd)
            return commands[i].name;
    return "lapis";
}

void lapis_config_defaults(struct lapis_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->command = LAPIS_CMD_NONE;
    cfg->memory = LAPIS_DEFAULT_MEMORY;
    cfg->cpus = 1;
    cfg->irqchip = LAPIS_OPT_IRQCHIP_SPLIT;
    cfg->ioapic_version = LAPIS_DEFAULT_IOAPIC_VERSION;
    cfg->eoi = LAPIS_OPT_EOI_AUTO;
}

static bool is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h");
}

static bool is_version(const char *a)
{
    return !strcmp(a, "--version") || !strcmp(a, "-V");
}

int lapis_options_parse(int argc, char *const argv[], struct lapis_config *cfg, char *err,
                        size_t errlen)
{
    struct lapis_config c;
    int i = 1;

    lapis_config_defaults(&c);
    if (err && errlen)
        err[0] = '\0';
    if (argc < 2 || !argv || !argv[1])
        return fail(err, errlen, "missing command: try 'lapis run' or 'lapis --help'");

    /* Help and version win wherever they appear, as in most tools. */
    for (int j = 1; j < argc && argv[j]; j++) {
        if (!strcmp(argv[j], "--"))
            break;
        if (is_help(argv[j]) || is_version(argv[j])) {
            lapis_config_defaults(cfg);
            cfg->command = is_help(argv[j]) ? LAPIS_CMD_HELP : LAPIS_CMD_VERSION;
            return 0;
        }
    }

    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
        if (!strcmp(argv[1], commands[k].name))
            c.command = commands[k].cmd;
    if (c.command == LAPIS_CMD_NONE) {
        if (argv[1][0] == '-')
            return fail(err, errlen, "'%s' needs a command before it: try 'lapis run %s'", argv[1],
                        argv[1]);
        return fail(err, errlen, "unknown command '%s': try 'lapis run' or 'lapis --help'",
                    argv[1]);
    }
    i = 2;
    if (c.command == LAPIS_CMD_HELP || c.command == LAPIS_CMD_VERSION) {
        if (i < argc)
            return fail(err, errlen, "'%s' takes no arguments", argv[1]);
        *cfg = c;
        return 0;
    }

    for (; i < argc; i++) {
        const char *arg = argv[i];
        const char *name, *eq, *val = NULL;
        const struct option_def *def = NULL;
        size_t namelen;

        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
            return fail(err, errlen,
                        "unexpected argument '%s': options start with '--' (see "
                        "'lapis --help')",
                        arg);
        name = arg + 2;
        eq = strchr(name, '=');
        namelen = eq ? (size_t)(eq - name) : strlen(name);
        for (size_t k = 0; k < sizeof(options) / sizeof(options[0]); k++) {
            if (strlen(options[k].name) == namelen && !strncmp(options[k].name, name, namelen)) {
                def = &options[k];
                break;
            }
        }
        if (!def)
            return fail(err, errlen, "unknown option '--%.*s': see 'lapis --help'", (int)namelen,
                        name);
        if (!(def->commands & CMD_BIT(c.command)))
            return fail(err, errlen, "'lapis %s' does not take --%s: see 'lapis --help'",
                        command_name(c.command), def->name);
        if (def->has_arg) {
            if (eq) {
                val = eq + 1;
            } else {
                if (i + 1 >= argc || !argv[i + 1])
                    return fail(err, errlen, "--%s needs a value: see 'lapis --help'", def->name);
                val = argv[++i];
                /* "--kernel --verbose" is a forgotten value, not a file called "--verbose". */
                if (!strncmp(val, "--", 2))
                    return fail(err, errlen,
                                "--%s needs a value, got option '%s' (write --%s=VALUE for a "
                                "value starting with '--')",
                                def->name, val, def->name);
            }
        } else if (eq) {
            return fail(err, errlen, "--%s takes no value", def->name);
        }
        int r = def->apply(&c, val ? val : "", err, errlen);
        if (r)
            return r;
    }

    *cfg = c;
    return 0;
}
