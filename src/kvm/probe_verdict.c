/* SPDX-License-Identifier: MIT */
/*
 * lapis probe's judging half (see probe_verdict.h): parsing the child runs'
 * output, the §4 answers and the §7 verdict. Pure C, no syscalls.
 */
#include "probe_verdict.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATS_PREFIX "lapis: stats: "
#define PROBE_PREFIX "probe "

bool lapis_probe_line_value(const char *buf, const char *prefix, const char *key, char *out,
                            size_t len)
{
    size_t plen = strlen(prefix), klen = strlen(key);
    bool found = false;

    for (const char *line = buf; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t llen = end ? (size_t)(end - line) : strlen(line);

        if (llen >= plen && !strncmp(line, prefix, plen)) {
            for (const char *p = line + plen; p < line + llen;) {
                while (p < line + llen && *p == ' ')
                    p++;
                const char *w = p;
                while (p < line + llen && *p != ' ' && *p != '\r')
                    p++;
                if ((size_t)(p - w) > klen && !strncmp(w, key, klen) && w[klen] == '=') {
                    size_t n = (size_t)(p - w) - klen - 1;
                    if (n >= len)
                        n = len - 1;
                    memcpy(out, w + klen + 1, n);
                    out[n] = '\0';
                    found = true;
                }
                while (p < line + llen && *p == '\r')
                    p++;
            }
        }
        line = end ? end + 1 : NULL;
    }
    return found;
}

bool lapis_probe_line_u64(const char *buf, const char *prefix, const char *key, uint64_t *v)
{
    char s[32], *end;

    if (!lapis_probe_line_value(buf, prefix, key, s, sizeof(s)) || !s[0])
        return false;
    errno = 0;
    *v = strtoull(s, &end, 0);
    return !*end && !errno;
}

/* "1" yes, "0" no, "na" does not apply (the probe guest's vocabulary). */
static enum lapis_probe_answer answer(const char *buf, const char *key)
{
    char v[16];

    if (!lapis_probe_line_value(buf, PROBE_PREFIX, key, v, sizeof(v)))
        return LAPIS_PROBE_UNKNOWN;
    if (!strcmp(v, "1"))
        return LAPIS_PROBE_YES;
    if (!strcmp(v, "0"))
        return LAPIS_PROBE_NO;
    if (!strcmp(v, "na"))
        return LAPIS_PROBE_NA;
    return LAPIS_PROBE_UNKNOWN;
}

void lapis_probe_mode_record(struct lapis_probe_mode *m, int status, bool timed_out,
                             const char *out, const char *err)
{
    char done[8];
    uint64_t v;

    m->ran = true;
    m->status = status;
    m->timed_out = timed_out;
    if (lapis_probe_line_u64(out, PROBE_PREFIX, "x2apic", &v))
        m->x2apic = v != 0;
    if (lapis_probe_line_u64(out, PROBE_PREFIX, "lvr", &v))
        m->lvr = (uint32_t)v;
    if (lapis_probe_line_u64(out, PROBE_PREFIX, "ioapic_version", &v))
        m->ioapic_version = (unsigned)v;
    if (lapis_probe_line_u64(out, PROBE_PREFIX, "deliveries_svr12_clear", &v))
        m->deliveries_svr12_clear = (unsigned)v;
    if (lapis_probe_line_u64(out, PROBE_PREFIX, "deliveries_with_svr12", &v))
        m->deliveries_with_svr12 = (unsigned)v;
    if (lapis_probe_line_u64(err, STATS_PREFIX, "eoi.exit", &v))
        m->eoi_exits = v;
    m->lvr_directed_eoi = answer(out, "lvr_directed_eoi");
    m->svr12_sticks = answer(out, "svr12_sticks");
    m->eoi_svr12_clear = answer(out, "eoi_exit_svr12_clear");
    m->eoi_with_svr12 = answer(out, "eoi_exit_with_svr12");
    if (status == 0 && !timed_out &&
        !lapis_probe_line_value(out, PROBE_PREFIX, "eoi_exit_svr12_clear", done, sizeof(done)))
        snprintf(m->error, sizeof(m->error), "the probe guest printed no result");
}

void lapis_probe_halt_record(struct lapis_probe_halt *h, int status, bool timed_out,
                             const char *err)
{
    h->ran = true;
    h->status = status;
    h->timed_out = timed_out;
    h->have_stats = lapis_probe_line_u64(err, STATS_PREFIX, "irqs", &h->irqs) &&
                    lapis_probe_line_u64(err, STATS_PREFIX, "eoi.exit", &h->eoi_exits) &&
                    lapis_probe_line_u64(err, STATS_PREFIX, "recoveries", &h->recoveries);
}

void lapis_probe_halt_verdict(struct lapis_probe_halt *off, struct lapis_probe_halt *on,
                              enum lapis_probe_answer *held_back, enum lapis_probe_answer *recovery)
{
    /* Recovery off: a stall with an interrupt taken and its EOI exit missing is §7. */
    if (!off->ran) {
        *held_back = LAPIS_PROBE_UNKNOWN;
    } else if (!off->timed_out && off->status == 0) {
        *held_back = LAPIS_PROBE_NO;
    } else if (off->timed_out && off->have_stats && off->irqs >= 1 && off->eoi_exits < off->irqs) {
        *held_back = LAPIS_PROBE_YES;
    } else {
        *held_back = LAPIS_PROBE_UNKNOWN;
        if (!off->error[0]) {
            if (off->timed_out)
                snprintf(off->error, sizeof(off->error), "halt_eoi stalled, but %s",
                         off->have_stats ? "not on a missing EOI exit"
                                         : "lapis printed no statistics");
            else
                snprintf(off->error, sizeof(off->error), "halt_eoi exited with status %d",
                         off->status);
        }
    }

    if (!on->ran) {
        *recovery = LAPIS_PROBE_UNKNOWN;
    } else if (!on->timed_out && on->status == 0 && on->have_stats) {
        *recovery = on->recoveries > 0              ? LAPIS_PROBE_YES
                    : *held_back == LAPIS_PROBE_YES ? LAPIS_PROBE_UNKNOWN
                                                    : LAPIS_PROBE_NA;
        if (*recovery == LAPIS_PROBE_UNKNOWN && !on->error[0])
            snprintf(on->error, sizeof(on->error),
                     "halt_eoi finished with no recovery, yet an EOI exit was held back with "
                     "recovery off");
    } else {
        *recovery = LAPIS_PROBE_NO;
        if (!on->error[0])
            snprintf(on->error, sizeof(on->error), "%s",
                     on->timed_out ? "halt_eoi stalled with recovery on"
                                   : "halt_eoi failed with recovery on");
    }
}
