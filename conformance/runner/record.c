/* SPDX-License-Identifier: MIT */
/* What a run printed, parsed: observations, checks, counters (conf.h has the format). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

static char *xstrndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        abort();
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

void conf_kvs_set(struct conf_kvs *kvs, const char *key, const char *value)
{
    for (size_t i = 0; i < kvs->n; i++) {
        if (strcmp(kvs->v[i].key, key) == 0) {
            free(kvs->v[i].value);
            kvs->v[i].value = xstrdup(value);
            return;
        }
    }
    if (kvs->n == kvs->cap) {
        kvs->cap = kvs->cap ? kvs->cap * 2 : 16;
        kvs->v = realloc(kvs->v, kvs->cap * sizeof(*kvs->v));
        if (!kvs->v)
            abort();
    }
    kvs->v[kvs->n].key = xstrdup(key);
    kvs->v[kvs->n].value = xstrdup(value);
    kvs->n++;
}

const char *conf_kvs_get(const struct conf_kvs *kvs, const char *key)
{
    for (size_t i = 0; i < kvs->n; i++)
        if (strcmp(kvs->v[i].key, key) == 0)
            return kvs->v[i].value;
    return NULL;
}

void conf_kvs_free(struct conf_kvs *kvs)
{
    for (size_t i = 0; i < kvs->n; i++) {
        free(kvs->v[i].key);
        free(kvs->v[i].value);
    }
    free(kvs->v);
    memset(kvs, 0, sizeof(*kvs));
}

/* "key=value rest" on one line: @line has no newline. */
static void split_kv(struct conf_kvs *kvs, const char *line)
{
    const char *eq = strchr(line, '=');
    char *key;

    if (!eq || eq == line)
        return;
    key = xstrndup(line, (size_t)(eq - line));
    conf_kvs_set(kvs, key, eq + 1);
    free(key);
}

/* "lapis: stats: mode=enable irqchip=split ... status=0" */
static void parse_stats(struct conf_record *r, const char *line)
{
    const char *p = line;

    r->has_stats = true;
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char *word = xstrndup(p, n);
        split_kv(&r->stats, word);
        free(word);
        p += n;
        while (*p == ' ')
            p++;
    }
}

static void note_problem(struct conf_record *r, const char *line)
{
    if (!r->problem)
        r->problem = xstrdup(line);
}

static void parse_conf(struct conf_record *r, const char *rest)
{
    if (strncmp(rest, "begin ", 6) == 0) {
        r->began = true;
    } else if (strncmp(rest, "end ", 4) == 0) {
        r->ended = true;
    } else if (strncmp(rest, "obs ", 4) == 0) {
        split_kv(&r->obs, rest + 4);
    } else if (strncmp(rest, "check FAIL ", 11) == 0) {
        const char *colon = strstr(rest + 11, ": ");
        char *key = xstrndup(rest + 11, colon ? (size_t)(colon - rest - 11) : strlen(rest + 11));
        conf_kvs_set(&r->failures, key, colon ? colon + 2 : "");
        free(key);
    } else if (strncmp(rest, "stat ", 5) == 0) {
        char name[64], how[16];
        if (sscanf(rest + 5, "%63s %15s", name, how) == 2)
            conf_kvs_set(&r->publish, name, how);
    } else if (strncmp(rest, "expect-stat ", 12) == 0) {
        split_kv(&r->expect, rest + 12);
    } else if (strncmp(rest, "error ", 6) == 0) {
        note_problem(r, rest);
    }
}

void conf_record_parse(struct conf_record *r, const char *text)
{
    const char *p = text ? text : "";

    r->output = xstrdup(p);
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *line = xstrndup(p, n);
        size_t len = strlen(line);

        while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = '\0';
        if (strncmp(line, "conf ", 5) == 0)
            parse_conf(r, line + 5);
        else if (strncmp(line, "lapis: stats: ", 14) == 0)
            parse_stats(r, line + 14);
        else if (strncmp(line, "Bail out!", 9) == 0)
            note_problem(r, line);
        else if (strncmp(line, "lapis: ", 7) == 0 && !strstr(line, "warning")) {
            free(r->vmm_msg);
            r->vmm_msg = xstrdup(line);
        }
        free(line);
        p += n;
        if (*p == '\n')
            p++;
    }
}

void conf_record_free(struct conf_record *r)
{
    conf_kvs_free(&r->obs);
    conf_kvs_free(&r->stats);
    conf_kvs_free(&r->publish);
    conf_kvs_free(&r->expect);
    conf_kvs_free(&r->failures);
    free(r->problem);
    free(r->vmm_msg);
    free(r->output);
    memset(r, 0, sizeof(*r));
}

static bool get_u64(const struct conf_record *r, const char *key, uint64_t *v)
{
    const char *s = conf_kvs_get(&r->stats, key);
    char *end;

    if (!s || !*s)
        return false;
    errno = 0;
    *v = strtoull(s, &end, 0);
    return errno == 0 && *end == '\0';
}

const char *conf_record_stat(const struct conf_record *r, const char *name, char *buf, size_t len)
{
    uint64_t v, ignored = 0;

    if (!r->has_stats)
        return NULL;
    if (strcmp(name, "mode") == 0)
        return conf_kvs_get(&r->stats, "mode");
    if (strcmp(name, "eoi_exit") == 0) {
        uint64_t bcast = 0;
        /*
         * LAPIC EOIs that reached the IOAPIC: KVM's EOI exits, less those the
         * VMM dropped itself (the emulated fix, §6), plus the broadcasts of
         * lapis's own LAPIC (--irqchip user).
         */
        if (!get_u64(r, "eoi.exit", &v))
            return NULL;
        get_u64(r, "eoi.ignored", &ignored);
        get_u64(r, "apic.eoi.bcast", &bcast);
        v -= ignored <= v ? ignored : v;
        v += bcast;
    } else if (strcmp(name, "eoir") == 0) {
        if (!get_u64(r, "eoi.eoir", &v))
            return NULL;
    } else if (!get_u64(r, name, &v)) {
        return NULL;
    }
    snprintf(buf, len, "%" PRIu64, v);
    return buf;
}

bool conf_record_verdict(const struct conf_record *r, struct conf_kvs *reasons)
{
    size_t before = reasons->n;
    char buf[64];

    if (r->timed_out)
        conf_kvs_set(reasons, "run", "timed out (a guest that hangs, or a lost interrupt)");
    else if (r->status != 0) {
        char text[320];
        snprintf(text, sizeof(text), "exit status %d%s%s", r->status, r->vmm_msg ? ": " : "",
                 r->vmm_msg ? r->vmm_msg : "");
        conf_kvs_set(reasons, "run", text);
    }
    if (r->problem)
        conf_kvs_set(reasons, "output", r->problem);
    if (!r->began)
        conf_kvs_set(reasons, "begin", "the scenario never started");
    else if (!r->ended && !r->timed_out && r->status == 0)
        conf_kvs_set(reasons, "end", "the scenario never finished");
    for (size_t i = 0; i < r->failures.n; i++)
        conf_kvs_set(reasons, r->failures.v[i].key, r->failures.v[i].value);
    for (size_t i = 0; i < r->expect.n; i++) {
        const char *name = r->expect.v[i].key, *want = r->expect.v[i].value;
        const char *got = conf_record_stat(r, name, buf, sizeof(buf));
        char key[96], text[160];

        snprintf(key, sizeof(key), "stat.%s", name);
        if (!got) {
            snprintf(text, sizeof(text), "no counter '%s' in the statistics line", name);
            conf_kvs_set(reasons, key, text);
        } else if (strcmp(got, want) != 0) {
            snprintf(text, sizeof(text), "%s, the spec says %s", got, want);
            conf_kvs_set(reasons, key, text);
        }
    }
    return reasons->n == before;
}

void conf_record_comparable(const struct conf_record *r, bool with_stats, struct conf_kvs *out)
{
    char buf[64], key[96];

    for (size_t i = 0; i < r->obs.n; i++)
        conf_kvs_set(out, r->obs.v[i].key, r->obs.v[i].value);
    if (!with_stats)
        return;
    for (size_t i = 0; i < r->publish.n; i++) {
        const char *name = r->publish.v[i].key;
        const char *v = conf_record_stat(r, name, buf, sizeof(buf));

        snprintf(key, sizeof(key), "stat.%s", name);
        if (!v)
            v = "(none)";
        else if (strcmp(r->publish.v[i].value, "nonzero") == 0)
            v = strcmp(v, "0") ? "nonzero" : "zero";
        conf_kvs_set(out, key, v);
    }
}
