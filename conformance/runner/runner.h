/* SPDX-License-Identifier: MIT */
/*
 * The conformance runner: plans scenario x variant x target x mode runs, runs
 * the model in-process and KVM targets as `lapis run` children, checks every
 * run against the spec (the scenario's own checks and expected counters),
 * compares targets that must agree, and prints a matrix (or JSON).
 */
#ifndef LAPIS_CONF_RUNNER_H
#define LAPIS_CONF_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "conf.h"
#include "lapis_conformance.h"

/* ---- one run's record (record.c) ---- */

struct conf_kv {
    char *key;
    char *value;
};

struct conf_kvs {
    struct conf_kv *v;
    size_t n, cap;
};

struct conf_record {
    int status;     /* exit status of the run; -1 if it never finished */
    bool timed_out; /* killed at the timeout */
    bool began, ended;
    bool has_stats;           /* a "lapis: stats:" line was seen */
    struct conf_kvs obs;      /* conf obs key=value */
    struct conf_kvs stats;    /* the statistics line, raw */
    struct conf_kvs publish;  /* conf stat name -> "exact" | "nonzero" */
    struct conf_kvs expect;   /* conf expect-stat name -> value */
    struct conf_kvs failures; /* failed checks: key -> text */
    char *problem;            /* first "Bail out!" or "conf error" line */
    char *vmm_msg;            /* last line lapis printed itself (not stats, not warnings) */
    char *output;             /* everything, for --verbose */
};

void conf_kvs_set(struct conf_kvs *kvs, const char *key, const char *value);
const char *conf_kvs_get(const struct conf_kvs *kvs, const char *key);
void conf_kvs_free(struct conf_kvs *kvs);

/* Parses the lines of a run (guest serial output and lapis's stderr, in any order). */
void conf_record_parse(struct conf_record *r, const char *text);
void conf_record_free(struct conf_record *r);

/*
 * A counter of the statistics line under the suite's name: "eoi_exit" (EOI
 * exits that reached the IOAPIC: eoi.exit - eoi.ignored), "eoir", "irqs",
 * "throttled", "mode". NULL if absent. Writes into @buf.
 */
const char *conf_record_stat(const struct conf_record *r, const char *name, char *buf, size_t len);

/*
 * Checks a finished run on its own: status, begin/end, failed checks, the
 * expected counters. Appends one reason per problem to @reasons (as
 * key -> text); returns true when there is none.
 */
bool conf_record_verdict(const struct conf_record *r, struct conf_kvs *reasons);

/*
 * The observations two targets must agree on: every "conf obs" key, plus
 * "stat.<name>" for each published counter (exact value, or zero/nonzero)
 * when @with_stats.
 */
void conf_record_comparable(const struct conf_record *r, bool with_stats, struct conf_kvs *out);

/* ---- the differential check (diff.c) ---- */

/* Is (@column, @key) declared as a known difference in @known? Returns the reason or NULL. */
const char *conf_known_reason(const struct conf_known *known, const char *column, const char *key);

/*
 * Compares @a (column @col_a) with the reference @b (column @col_b). Each key
 * that differs, or is missing on one side, and is not declared for @col_a in
 * @known, is added to @diffs (key -> "a-value | b-value"); declared ones to
 * @declared. Returns the number of undeclared differences.
 */
size_t conf_diff(const struct conf_record *a, const char *col_a, const struct conf_record *b,
                 const char *col_b, bool with_stats, const struct conf_known *known,
                 struct conf_kvs *diffs, struct conf_kvs *declared);

/* Prints both runs' observations side by side, differing keys marked. */
void conf_diff_print(FILE *f, const struct conf_record *a, const char *col_a,
                     const struct conf_record *b, const char *col_b, bool with_stats);

/* ---- child processes (spawn.c) ---- */

struct conf_child {
    int pid;
    int out_fd, err_fd;
    char *out, *err;
    size_t out_len, err_len;
    unsigned long long deadline_ms;
    int status; /* exit status, 128 + signal, or -1 */
    bool timed_out, done;
};

/* Starts @argv (argv[0] a path) with stdout/stderr captured, in its own process group. */
int conf_child_start(struct conf_child *ch, char *const argv[], unsigned timeout_ms);
/* Reads output and reaps, for up to @wait_ms; kills children past their deadline. */
void conf_children_poll(struct conf_child *const *ch, size_t n, int wait_ms);
void conf_child_free(struct conf_child *ch);
unsigned long long conf_now_ms(void);

#endif
