/* SPDX-License-Identifier: MIT */
#include "tap.h"

#include <stdarg.h>

#include "console.h"
#include "idt.h"
#include "io.h"
#include "ports.h"

static unsigned tests, failed;

static void line(const char *prefix, const char *suffix, const char *fmt, va_list ap)
{
    char text[256];
    vsnprintf(text, sizeof(text), fmt, ap);
    printf("%s%s%s\n", prefix, text, suffix);
}

bool ok(bool pass, const char *fmt, ...)
{
    char prefix[32];
    tests++;
    if (!pass)
        failed++;
    snprintf(prefix, sizeof(prefix), "%sok %u - ", pass ? "" : "not ", tests);
    va_list ap;
    va_start(ap, fmt);
    line(prefix, "", fmt, ap);
    va_end(ap);
    return pass;
}

void skip(const char *fmt, ...)
{
    char prefix[32];
    tests++;
    snprintf(prefix, sizeof(prefix), "ok %u - ", tests);
    va_list ap;
    va_start(ap, fmt);
    line(prefix, " # SKIP", fmt, ap);
    va_end(ap);
}

void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line("# ", "", fmt, ap);
    va_end(ap);
}

unsigned tap_failed(void)
{
    return failed;
}

_Noreturn void finish(void)
{
    struct stale_redelivery st = stale_redeliveries();

    if (st.count)
        printf("# host erratum: %lu interrupt entries with IF clear ignored (an injected event "
               "delivered again; first vector 0x%x at rip 0x%lx)\n",
               st.count, st.vector, (unsigned long)st.rip);
    printf("1..%u\n", tests);
    if (failed) {
        printf("# %u of %u checks failed\n", failed, tests);
        debug_exit(1);
        halt_forever();
    }
    poweroff();
}

_Noreturn void bail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line("Bail out! ", "", fmt, ap);
    va_end(ap);
    debug_exit(1);
    halt_forever();
}
