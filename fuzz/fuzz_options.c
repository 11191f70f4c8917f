/* SPDX-License-Identifier: MIT */
/*
 * The command-line parser: the input, split at NUL bytes, is argv[1..]
 * (argv[0] is "lapis"); each argument is its own allocation, so reading
 * past one is caught. The same argv is parsed with a roomy error buffer and
 * with tiny ones (exact-size allocations: 0, 1 and 7 bytes), and every
 * argument also goes through lapis_parse_size().
 * Invariants: 0 or -EINVAL; a failure leaves @cfg untouched and gives a
 * non-empty one-line message that fits the buffer, the same message
 * (truncated) whatever the buffer size; a success gives a config inside the
 * documented ranges whose strings point into argv.
 */
#include "fuzz_common.h"

#include <errno.h>

#include "cli/options.h"

#define OPTIONS_FUZZ_MAX_ARGS 64

static bool options_fuzz_in_argv(const char *s, char **argv, int argc)
{
    for (int i = 1; i < argc; i++)
        if (s >= argv[i] && s <= argv[i] + strlen(argv[i]))
            return true;
    return false;
}

static void options_fuzz_check_ok(const struct lapis_config *c, char **argv, int argc)
{
    FUZZ_ASSERT(c->command == LAPIS_CMD_HELP || c->command == LAPIS_CMD_VERSION ||
                c->command == LAPIS_CMD_RUN || c->command == LAPIS_CMD_PROBE);
    FUZZ_ASSERT(c->memory >= LAPIS_MIN_MEMORY && c->memory <= LAPIS_MAX_MEMORY);
    FUZZ_ASSERT((c->memory & 0xFFF) == 0);
    FUZZ_ASSERT(c->cpus >= 1 && c->cpus <= LAPIS_MAX_CPUS);
    FUZZ_ASSERT(c->ioapic_version == 0x11 || c->ioapic_version == 0x20);
    FUZZ_ASSERT(c->irqchip == LAPIS_OPT_IRQCHIP_SPLIT || c->irqchip == LAPIS_OPT_IRQCHIP_KERNEL ||
                c->irqchip == LAPIS_OPT_IRQCHIP_USER);
    FUZZ_ASSERT(strcmp(lapis_eoi_opt_name(c->eoi), "invalid") != 0);
    FUZZ_ASSERT(!c->kernel || (*c->kernel && options_fuzz_in_argv(c->kernel, argv, argc)));
    FUZZ_ASSERT(!c->initrd || (*c->initrd && options_fuzz_in_argv(c->initrd, argv, argc)));
    FUZZ_ASSERT(!c->cmdline || options_fuzz_in_argv(c->cmdline, argv, argc));
    if (c->command != LAPIS_CMD_RUN)
        FUZZ_ASSERT(!c->kernel && !c->initrd && !c->cmdline);
}

/* Parses with an exact-size error buffer of @errlen bytes; returns rc. */
static int options_fuzz_parse_small(int argc, char **argv, size_t errlen, const char *full_err)
{
    struct lapis_config c;
    char *err = errlen ? malloc(errlen) : NULL;

    if (errlen && !err)
        return 0;
    int rc = lapis_options_parse(argc, argv, &c, err, errlen);
    if (rc && errlen) {
        size_t n = strnlen(err, errlen);
        FUZZ_ASSERT(n < errlen);
        FUZZ_ASSERT(strncmp(err, full_err, n) == 0);
    }
    free(err);
    return rc;
}

FUZZ_TARGET(options)
{
    char *argv[OPTIONS_FUZZ_MAX_ARGS + 2];
    int argc = 0;
    size_t at = 0;
    struct lapis_config cfg, before;
    char err[512];

    argv[argc++] = strdup("lapis");
    while (at < size && argc <= OPTIONS_FUZZ_MAX_ARGS) {
        const uint8_t *nul = memchr(data + at, 0, size - at);
        size_t len = nul ? (size_t)(nul - (data + at)) : size - at;
        char *a = malloc(len + 1);
        if (!a)
            break;
        memcpy(a, data + at, len);
        a[len] = '\0';
        argv[argc++] = a;
        at += len + 1;
    }
    argv[argc] = NULL;

    memset(&cfg, 0x5A, sizeof(cfg));
    before = cfg;
    memset(err, 'x', sizeof(err));
    int rc = lapis_options_parse(argc, argv, &cfg, err, sizeof(err));
    FUZZ_ASSERT(rc == 0 || rc == -EINVAL);
    if (rc) {
        size_t n = strnlen(err, sizeof(err));
        FUZZ_ASSERT(n > 0 && n < sizeof(err));
        /* One line; options.c quotes arguments verbatim, so only theirs may break it. */
        if (!memchr(data, '\n', size))
            FUZZ_ASSERT(!strchr(err, '\n'));
        FUZZ_ASSERT(memcmp(&cfg, &before, sizeof(cfg)) == 0);
    } else {
        options_fuzz_check_ok(&cfg, argv, argc);
    }
    /* The outcome does not depend on the error buffer. */
    FUZZ_ASSERT(options_fuzz_parse_small(argc, argv, 0, err) == rc);
    FUZZ_ASSERT(options_fuzz_parse_small(argc, argv, 1, err) == rc);
    FUZZ_ASSERT(options_fuzz_parse_small(argc, argv, 7, err) == rc);
    FUZZ_ASSERT(lapis_options_parse(argc, argv, &cfg, NULL, 0) == rc);

    for (int i = 1; i < argc; i++) {
        uint64_t bytes = 0;
        int r = lapis_parse_size(argv[i], &bytes, err, sizeof(err));
        FUZZ_ASSERT(r == 0 || r == -EINVAL);
        if (r == 0)
            FUZZ_ASSERT(bytes && !(bytes & 0xFFF) && bytes <= LAPIS_MAX_MEMORY);
        else
            FUZZ_ASSERT(err[0] && strnlen(err, sizeof(err)) < sizeof(err));
    }
    FUZZ_ASSERT(lapis_usage() && *lapis_usage());

    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return 0;
}
