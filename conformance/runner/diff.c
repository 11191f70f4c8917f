/* SPDX-License-Identifier: MIT */
/* The differential check: two runs that must agree, key by key, minus declared differences. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

/* "split" matches "split/quirk"; "kernel" matches "kernel"; a full column name matches itself. */
static bool column_matches(const char *pattern, const char *column)
{
    size_t n = strlen(pattern);

    if (strcmp(pattern, column) == 0)
        return true;
    return strncmp(pattern, column, n) == 0 && column[n] == '/';
}

/* Exact, or a prefix ending in '*'. */
static bool key_matches(const char *pattern, const char *key)
{
    size_t n = strlen(pattern);

    if (n && pattern[n - 1] == '*')
        return strncmp(pattern, key, n - 1) == 0;
    return strcmp(pattern, key) == 0;
}

const char *conf_known_reason(const struct conf_known *known, const char *column, const char *key)
{
    for (const struct conf_known *k = known; k && k->target; k++)
        if (column_matches(k->target, column) && key_matches(k->key, key))
            return k->why;
    return NULL;
}

static void add_diff(struct conf_kvs *out, const char *key, const char *a, const char *b)
{
    size_t n = strlen(a ? a : "(missing)") + strlen(b ? b : "(missing)") + 4;
    char *text = malloc(n);

    if (!text)
        abort();
    snprintf(text, n, "%s | %s", a ? a : "(missing)", b ? b : "(missing)");
    conf_kvs_set(out, key, text);
    free(text);
}

size_t conf_diff(const struct conf_record *a, const char *col_a, const struct conf_record *b,
                 const char *col_b, bool with_stats, const struct conf_known *known,
                 struct conf_kvs *diffs, struct conf_kvs *declared)
{
    struct conf_kvs ka = {0}, kb = {0};
    size_t before = diffs->n;

    (void)col_b;
    conf_record_comparable(a, with_stats, &ka);
    conf_record_comparable(b, with_stats, &kb);
    for (size_t i = 0; i < ka.n + kb.n; i++) {
        const char *key = i < ka.n ? ka.v[i].key : kb.v[i - ka.n].key;
        const char *va = conf_kvs_get(&ka, key), *vb = conf_kvs_get(&kb, key);

        if (i >= ka.n && va)
            continue; /* seen from a's side */
        if (va && vb && strcmp(va, vb) == 0)
            continue;
        if (conf_known_reason(known, col_a, key))
            add_diff(declared, key, va, vb);
        else
            add_diff(diffs, key, va, vb);
    }
    conf_kvs_free(&ka);
    conf_kvs_free(&kb);
    return diffs->n - before;
}

void conf_diff_print(FILE *f, const struct conf_record *a, const char *col_a,
                     const struct conf_record *b, const char *col_b, bool with_stats)
{
    struct conf_kvs ka = {0}, kb = {0};
    int width = 34;

    conf_record_comparable(a, with_stats, &ka);
    conf_record_comparable(b, with_stats, &kb);
    fprintf(f, "      %-28s %-*s %s\n", "", width, col_a, col_b);
    for (size_t i = 0; i < ka.n + kb.n; i++) {
        const char *key = i < ka.n ? ka.v[i].key : kb.v[i - ka.n].key;
        const char *va = conf_kvs_get(&ka, key), *vb = conf_kvs_get(&kb, key);
        bool same = va && vb && strcmp(va, vb) == 0;

        if (i >= ka.n && va)
            continue;
        fprintf(f, "    %c %-28s %-*s %s\n", same ? ' ' : '*', key, width, va ? va : "(missing)",
                vb ? vb : "(missing)");
    }
    conf_kvs_free(&ka);
    conf_kvs_free(&kb);
}
