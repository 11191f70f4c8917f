/* SPDX-License-Identifier: MIT */
/* lapis's command line: every option with good and bad values, table-driven. */
#include "../harness.h"

#include <errno.h>
#include <stdlib.h>

#include "cli/options.h"

#define MAXARGS 12

/* Splits @line on spaces into argv, after "lapis". */
static int split(const char *line, char *buf, size_t buflen, char *argv[])
{
    int argc = 0;
    char *p;

    snprintf(buf, buflen, "%s", line);
    argv[argc++] = "lapis";
    for (p = strtok(buf, " "); p && argc < MAXARGS; p = strtok(NULL, " "))
        argv[argc++] = p;
    argv[argc] = NULL;
    return argc;
}

static int parse(const char *line, struct lapis_config *cfg, char *err, size_t errlen)
{
    static char buf[512];
    static char *argv[MAXARGS + 1];
    int argc = split(line, buf, sizeof(buf), argv);
    return lapis_options_parse(argc, argv, cfg, err, errlen);
}

static void test_defaults(void)
{
    struct lapis_config cfg;
    char err[256];

    CHECK_EQ(parse("run", &cfg, err, sizeof(err)), 0);
    CHECK_EQ(cfg.command, LAPIS_CMD_RUN);
    CHECK(cfg.kernel == NULL);
    CHECK(cfg.initrd == NULL);
    CHECK(cfg.cmdline == NULL);
    CHECK_EQ(cfg.memory, 256ull << 20);
    CHECK_EQ(cfg.cpus, 1);
    CHECK_EQ(cfg.irqchip, LAPIS_OPT_IRQCHIP_SPLIT);
    CHECK_EQ(cfg.ioapic_version, 0x20);
    CHECK(!cfg.ioapic_version_set);
    CHECK_EQ(cfg.eoi, LAPIS_OPT_EOI_AUTO);
    CHECK(!cfg.verbose);
}

/* Good inputs: the line, and a check on the resulting config. */
static const struct good_case {
    const char *line;
    enum lapis_command cmd;
    uint64_t memory; /* 0: don't check */
    unsigned cpus;   /* 0: don't check */
    int irqchip;     /* -1: don't check */
    unsigned ioapic; /* 0: don't check */
    int eoi;         /* -1: don't check */
} good[] = {
    {"run --memory 256M", LAPIS_CMD_RUN, 256ull << 20, 0, -1, 0, -1},
    {"run --memory=1G", LAPIS_CMD_RUN, 1ull << 30, 0, -1, 0, -1},
    {"run --memory 512", LAPIS_CMD_RUN, 512ull << 20, 0, -1, 0, -1},
    {"run --memory 4096k", LAPIS_CMD_RUN, 4ull << 20, 0, -1, 0, -1},
    {"run --memory 2m", LAPIS_CMD_RUN, 2ull << 20, 0, -1, 0, -1},
    {"run --memory 4g", LAPIS_CMD_RUN, 4ull << 30, 0, -1, 0, -1},
    {"run --memory 1T", LAPIS_CMD_RUN, 1ull << 40, 0, -1, 0, -1},
    {"run --memory 4M --memory 8M", LAPIS_CMD_RUN, 8ull << 20, 0, -1, 0, -1},
    {"run --cpus 1", LAPIS_CMD_RUN, 0, 1, -1, 0, -1},
    {"run --cpus 4", LAPIS_CMD_RUN, 0, 4, -1, 0, -1},
    {"run --cpus=64", LAPIS_CMD_RUN, 0, 64, -1, 0, -1},
    {"run --irqchip split", LAPIS_CMD_RUN, 0, 0, LAPIS_OPT_IRQCHIP_SPLIT, 0, -1},
    {"run --irqchip kernel", LAPIS_CMD_RUN, 0, 0, LAPIS_OPT_IRQCHIP_KERNEL, 0, -1},
    {"run --irqchip user", LAPIS_CMD_RUN, 0, 0, LAPIS_OPT_IRQCHIP_USER, 0, -1},
    {"run --ioapic-version 0x11", LAPIS_CMD_RUN, 0, 0, -1, 0x11, -1},
    {"run --ioapic-version 0x20", LAPIS_CMD_RUN, 0, 0, -1, 0x20, -1},
    {"run --ioapic-version=0X20", LAPIS_CMD_RUN, 0, 0, -1, 0x20, -1},
    {"run --ioapic-version 0x0000000020", LAPIS_CMD_RUN, 0, 0, -1, 0x20, -1},
    {"run --ioapic-version 17", LAPIS_CMD_RUN, 0, 0, -1, 0x11, -1},
    {"run --eoi-suppression auto", LAPIS_CMD_RUN, 0, 0, -1, 0, LAPIS_OPT_EOI_AUTO},
    {"run --eoi-suppression enable", LAPIS_CMD_RUN, 0, 0, -1, 0, LAPIS_OPT_EOI_ENABLE},
    {"run --eoi-suppression disable", LAPIS_CMD_RUN, 0, 0, -1, 0, LAPIS_OPT_EOI_DISABLE},
    {"run --eoi-suppression=quirk", LAPIS_CMD_RUN, 0, 0, -1, 0, LAPIS_OPT_EOI_QUIRK},
    {"run --verbose", LAPIS_CMD_RUN, 0, 0, -1, 0, -1},
    {"probe", LAPIS_CMD_PROBE, 0, 0, -1, 0, -1},
    {"probe --json", LAPIS_CMD_PROBE, 0, 0, -1, 0, -1},
    {"--help", LAPIS_CMD_HELP, 0, 0, -1, 0, -1},
    {"-h", LAPIS_CMD_HELP, 0, 0, -1, 0, -1},
    {"help", LAPIS_CMD_HELP, 0, 0, -1, 0, -1},
    {"run --cpus 999 --help", LAPIS_CMD_HELP, 0, 0, -1, 0, -1},
    {"--version", LAPIS_CMD_VERSION, 0, 0, -1, 0, -1},
    {"run --version", LAPIS_CMD_VERSION, 0, 0, -1, 0, -1},
};

static void test_good(void)
{
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const struct good_case *g = &good[i];
        struct lapis_config cfg;
        char err[256] = "";
        int r = parse(g->line, &cfg, err, sizeof(err));

        if (r != 0)
            printf("  case '%s': %s\n", g->line, err);
        CHECK_EQ(r, 0);
        CHECK_EQ(cfg.command, g->cmd);
        if (g->memory)
            CHECK_EQ(cfg.memory, g->memory);
        if (g->cpus)
            CHECK_EQ(cfg.cpus, g->cpus);
        if (g->irqchip >= 0)
            CHECK_EQ(cfg.irqchip, g->irqchip);
        if (g->ioapic) {
            CHECK_EQ(cfg.ioapic_version, g->ioapic);
            CHECK(cfg.ioapic_version_set);
        }
        if (g->eoi >= 0)
            CHECK_EQ(cfg.eoi, g->eoi);
    }
}

static void test_strings(void)
{
    struct lapis_config cfg;
    char err[256];

    CHECK_EQ(
        parse("run --kernel k.elf --initrd rd --cmdline a=b --verbose", &cfg, err, sizeof(err)), 0);
    CHECK_STR(cfg.kernel, "k.elf");
    CHECK_STR(cfg.initrd, "rd");
    CHECK_STR(cfg.cmdline, "a=b");
    CHECK(cfg.verbose);
    CHECK_EQ(parse("run --cmdline=", &cfg, err, sizeof(err)), 0);
    CHECK_STR(cfg.cmdline, "");
    CHECK_EQ(parse("run --cmdline=--x", &cfg, err, sizeof(err)), 0);
    CHECK_STR(cfg.cmdline, "--x");
    CHECK_EQ(parse("probe --json", &cfg, err, sizeof(err)), 0);
    CHECK(cfg.json);
    CHECK(!cfg.no_eoi_recovery);
    CHECK_EQ(parse("run --no-eoi-recovery", &cfg, err, sizeof(err)), 0);
    CHECK(cfg.no_eoi_recovery);
}

/* Linux boot options: --no-unpack, --hide-cx16-xsave (default auto). */
static void test_linux_options(void)
{
    struct lapis_config cfg;
    char err[256];

    CHECK_EQ(parse("run", &cfg, err, sizeof(err)), 0);
    CHECK(!cfg.no_unpack);
    CHECK_EQ(cfg.hide_cx16_xsave, LAPIS_OPT_AUTO);
    CHECK_EQ(parse("run --no-unpack --hide-cx16-xsave yes", &cfg, err, sizeof(err)), 0);
    CHECK(cfg.no_unpack);
    CHECK_EQ(cfg.hide_cx16_xsave, LAPIS_OPT_YES);
    CHECK_EQ(parse("run --hide-cx16-xsave=no", &cfg, err, sizeof(err)), 0);
    CHECK_EQ(cfg.hide_cx16_xsave, LAPIS_OPT_NO);
    CHECK_EQ(parse("run --hide-cx16-xsave no --hide-cx16-xsave auto", &cfg, err, sizeof(err)), 0);
    CHECK_EQ(cfg.hide_cx16_xsave, LAPIS_OPT_AUTO);
}

/* Bad inputs: the line, and a word the one-line message must contain. */
static const struct bad_case {
    const char *line;
    const char *needle;
} bad[] = {
    {"", "missing command"},
    {"frobnicate", "unknown command 'frobnicate'"},
    {"--cpus 2", "needs a command"},
    {"run extra", "unexpected argument 'extra'"},
    {"run -", "unexpected argument"},
    {"run --", "unexpected argument"},
    {"run --bogus", "unknown option '--bogus'"},
    {"run --json", "does not take --json"},
    {"probe --memory 1G", "does not take --memory"},
    {"run --verbose=1", "takes no value"},
    {"run --no-eoi-recovery=1", "takes no value"},
    {"probe --no-eoi-recovery", "does not take --no-eoi-recovery"},
    {"version extra", "takes no arguments"},
    {"run --kernel", "--kernel needs a value"},
    {"run --kernel --verbose", "got option '--verbose'"},
    {"run --kernel=", "--kernel needs a file name"},
    {"run --initrd", "--initrd needs a value"},
    {"run --initrd=", "--initrd needs a file name"},
    {"run --cmdline", "--cmdline needs a value"},
    {"run --memory", "--memory needs a value"},
    {"run --memory=", "--memory needs a size"},
    {"run --memory 0", "must not be zero"},
    {"run --memory 0M", "must not be zero"},
    {"run --memory 1M", "too small"},
    {"run --memory 2T", "too large"},
    {"run --memory 99999999999999999999999", "too large"},
    {"run --memory 18446744073709551615K", "too large"},
    {"run --memory 12X", "unknown suffix 'X'"},
    {"run --memory 12MB", "trailing 'B'"},
    {"run --memory -1M", "not a size"},
    {"run --memory M", "not a size"},
    {"run --memory 0x100M", "unknown suffix 'x100M'"},
    {"run --memory 4097K", "multiple of 4K"},
    {"run --cpus", "--cpus needs a value"},
    {"run --cpus 0", "out of range"},
    {"run --cpus 65", "out of range"},
    {"run --cpus -1", "not a number"},
    {"run --cpus 2x", "not a number"},
    {"run --cpus 99999999999999999999999", "not a number"},
    {"run --cpus=", "not a number"},
    {"run --irqchip", "--irqchip needs a value"},
    {"run --irqchip bogus", "--irqchip 'bogus' is not known: use split, kernel or user"},
    {"run --irqchip SPLIT", "is not known"},
    {"run --ioapic-version", "needs a value"},
    {"run --ioapic-version 0x12", "not supported"},
    {"run --ioapic-version 11", "not supported"},
    {"run --ioapic-version 0x", "not supported"},
    {"run --ioapic-version 0x20z", "not supported"},
    {"run --ioapic-version 0x1000000000000000020", "not supported"},
    {"run --ioapic-version=", "not supported"},
    {"run --eoi-suppression", "needs a value"},
    {"run --eoi-suppression on", "'on' is not known"},
    {"run --eoi-suppression Enable", "is not known"},
    {"run --no-unpack=1", "takes no value"},
    {"probe --no-unpack", "does not take --no-unpack"},
    {"run --hide-cx16-xsave", "needs a value"},
    {"run --hide-cx16-xsave on", "'on' is not known: use auto, yes or no"},
    {"run --hide-cx16-xsave=", "is not known"},
};

static void test_bad(void)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct bad_case *b = &bad[i];
        struct lapis_config cfg;
        char err[256] = "";
        int r = parse(b->line, &cfg, err, sizeof(err));

        CHECK_EQ(r, -EINVAL);
        if (!strstr(err, b->needle)) {
            printf("  case '%s': message '%s' lacks '%s'\n", b->line, err, b->needle);
            CHECK(strstr(err, b->needle) != NULL);
        }
        CHECK(strchr(err, '\n') == NULL);
    }
}

static void test_parse_size(void)
{
    uint64_t v = 0;
    char err[128];

    CHECK_EQ(lapis_parse_size("3G", &v, err, sizeof(err)), 0);
    CHECK_EQ(v, 3ull << 30);
    CHECK_EQ(lapis_parse_size("4K", &v, err, sizeof(err)), 0);
    CHECK_EQ(v, 4096);
    CHECK_EQ(lapis_parse_size(NULL, &v, err, sizeof(err)), -EINVAL);
    CHECK_EQ(lapis_parse_size("1 G", &v, err, sizeof(err)), -EINVAL);
    /* A failed parse leaves the output alone. */
    v = 7;
    CHECK_EQ(lapis_parse_size("junk", &v, err, sizeof(err)), -EINVAL);
    CHECK_EQ(v, 7);
}

static void test_names_and_usage(void)
{
    CHECK_STR(lapis_eoi_opt_name(LAPIS_OPT_EOI_AUTO), "auto");
    CHECK_STR(lapis_eoi_opt_name(LAPIS_OPT_EOI_ENABLE), "enable");
    CHECK_STR(lapis_eoi_opt_name(LAPIS_OPT_EOI_DISABLE), "disable");
    CHECK_STR(lapis_eoi_opt_name(LAPIS_OPT_EOI_QUIRK), "quirk");
    CHECK_STR(lapis_eoi_opt_name((enum lapis_eoi_opt)42), "invalid");
    CHECK(strstr(lapis_usage(), "--eoi-suppression") != NULL);
    CHECK(strstr(lapis_usage(), "--ioapic-version") != NULL);
    /* tests/integration/linux_boot.sh runs only once --help names Linux kernels. */
    CHECK(strstr(lapis_usage(), "bzImage") != NULL);
    CHECK(strstr(lapis_usage(), "--no-unpack") != NULL);
    CHECK(strstr(lapis_usage(), "--hide-cx16-xsave") != NULL);
}

/* A rejected line leaves the caller's config untouched. */
static void test_no_half_done(void)
{
    struct lapis_config cfg;
    char err[256];

    lapis_config_defaults(&cfg);
    cfg.cpus = 3;
    CHECK_EQ(parse("run --cpus 2 --memory 0", &cfg, err, sizeof(err)), -EINVAL);
    CHECK_EQ(cfg.cpus, 3);
    CHECK_EQ(cfg.command, LAPIS_CMD_NONE);
}

int main(void)
{
    RUN_TEST(test_defaults);
    RUN_TEST(test_good);
    RUN_TEST(test_strings);
    RUN_TEST(test_linux_options);
    RUN_TEST(test_bad);
    RUN_TEST(test_parse_size);
    RUN_TEST(test_names_and_usage);
    RUN_TEST(test_no_half_done);
    return harness_finish("test_options");
}
