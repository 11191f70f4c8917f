/* SPDX-License-Identifier: MIT */
/*
 * lapis conformance: every scenario, on every target that applies, checked
 * against the spec and against the target it must agree with.
 *
 * Columns: the model, KVM split irqchip (lapis's IOAPIC) and lapis's software
 * LAPIC (--irqchip user) under each requested EOI mode, and KVM's in-kernel
 * irqchip. Rows: scenario x (IOAPIC version, LAPIC mode).
 * References: split/M and user/M must agree with model/M (auto: with the
 * model under the mode auto resolved to on that target); kernel with
 * split/quirk (KVM's own default mode, with its own IOAPIC).
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model.h"
#include "runner.h"

#define NCOLS           13
#define NVARIANTS       4
#define MODE_AUTO       (-1)
#define MODE_NONE       (-2)
#define DEFAULT_JOBS    2u
#define DEFAULT_TIMEOUT 30u
#define PROBE_TIMEOUT   20u
#define GUEST_MEMORY    "64M"

struct column {
    const char *name;
    const char *abbrev;
    enum conf_target target;
    int mode; /* enum conf_mode, MODE_AUTO, or MODE_NONE (kernel) */
    unsigned mbit;
};

static const struct column columns[NCOLS] = {
    {"model/auto", "mA", CONF_T_MODEL, MODE_AUTO, CONF_M_AUTO},
    {"model/quirk", "mQ", CONF_T_MODEL, CONF_MODE_QUIRK, CONF_M_QUIRK},
    {"model/enable", "mE", CONF_T_MODEL, CONF_MODE_ENABLE, CONF_M_ENABLE},
    {"model/disable", "mD", CONF_T_MODEL, CONF_MODE_DISABLE, CONF_M_DISABLE},
    {"split/auto", "sA", CONF_T_SPLIT, MODE_AUTO, CONF_M_AUTO},
    {"split/quirk", "sQ", CONF_T_SPLIT, CONF_MODE_QUIRK, CONF_M_QUIRK},
    {"split/enable", "sE", CONF_T_SPLIT, CONF_MODE_ENABLE, CONF_M_ENABLE},
    {"split/disable", "sD", CONF_T_SPLIT, CONF_MODE_DISABLE, CONF_M_DISABLE},
    {"kernel", "kn", CONF_T_KERNEL, MODE_NONE, 0},
    {"user/auto", "uA", CONF_T_USER, MODE_AUTO, CONF_M_AUTO},
    {"user/quirk", "uQ", CONF_T_USER, CONF_MODE_QUIRK, CONF_M_QUIRK},
    {"user/enable", "uE", CONF_T_USER, CONF_MODE_ENABLE, CONF_M_ENABLE},
    {"user/disable", "uD", CONF_T_USER, CONF_MODE_DISABLE, CONF_M_DISABLE},
};

static const struct variant {
    unsigned bit;
    unsigned ioapic;
    bool xapic;
    const char *name;
} variants[NVARIANTS] = {
    {CONF_V_20X2, 0x20, false, "0x20/x2apic"},
    {CONF_V_11X2, 0x11, false, "0x11/x2apic"},
    {CONF_V_20XA, 0x20, true, "0x20/xapic"},
    {CONF_V_11XA, 0x11, true, "0x11/xapic"},
};

enum cell_state {
    CELL_HIDDEN = 0, /* column not selected */
    CELL_VOID,       /* the scenario does not apply to this column (not counted) */
    CELL_NA,         /* it applies, but this host cannot run it (counted as skipped) */
    CELL_PENDING,
    CELL_DONE,
};

struct cell {
    enum cell_state state;
    const char *na; /* why not applicable */
    struct conf_params p;
    struct conf_record rec;
    struct conf_kvs reasons;
    bool pass;
    int ref;   /* column compared against, or -1 */
    bool slow; /* CONF_F_SLOW: four times the timeout */
    struct conf_kvs diffs, declared;
};

struct row {
    const struct conf_scenario *s;
    const struct variant *v;
    struct cell cells[NCOLS];
};

struct opts {
    const char *json;
    const char *filter;
    unsigned kinds; /* 1 << enum conf_target */
    unsigned modes; /* CONF_M_* */
    unsigned jobs, timeout;
    char lapis[PATH_MAX], guest[PATH_MAX];
    unsigned mutations;
    bool verbose, list;
};

/* What the host offers, found once. */
struct host {
    bool kvm;
    char kvm_why[PATH_MAX + 64];
    /* Per KVM target and IOAPIC version ([0] 0x11, [1] 0x20): runs at all, auto's mode. */
    bool ok[CONF_T_COUNT][2];
    int auto_mode[CONF_T_COUNT][2];
    char why[CONF_T_COUNT][300];
    /* Does the target's LAPIC keep a taken interrupt in service until the EOI? */
    int isr[CONF_T_COUNT]; /* -1 not probed, 0 no, 1 yes */
    char isr_why[CONF_T_COUNT][300];
    /*
     * Split-irqchip modes this kernel cannot give (no KVM_X2APIC_*_SUPPRESS_EOI_BROADCAST
     * before Linux 7.0 / 6.18.17): lapis refuses them with status 2, so their cells do not
     * apply here. Empty: the mode exists.
     */
    char mode_absent[CONF_MODE_DISABLE + 1][300];
};

#define PROBE_SCENARIO "lapic_isr_in_service"

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "lapis conformance: %s\n", msg);
    fprintf(msg ? stderr : stdout,
            "usage: lapis conformance [options]\n"
            "  --filter PATTERNS   comma-separated globs on 'scenario' or 'scenario@0x20/x2apic'\n"
            "  --targets LIST      model,split,kernel,user (default: all)\n"
            "  --modes LIST        auto,quirk,enable,disable (default: all)\n"
            "  --json FILE         also write the results as JSON ('-': stdout)\n"
            "  --jobs N            KVM runs in parallel (default %u)\n"
            "  --timeout S         seconds before a KVM run is killed (default %u; slow\n"
            "                      scenarios get four times as long)\n"
            "  --lapis PATH        the lapis binary (default: beside this program)\n"
            "  --guest PATH        the guest image (default: guest/conformance.elf beside it)\n"
            "  --mutate NAME       break the model's glue on purpose (ignore-svr12)\n"
            "  --verbose           print the whole output of failing runs\n"
            "  --list              list the scenarios and exit\n",
            DEFAULT_JOBS, DEFAULT_TIMEOUT);
    return msg ? 2 : 0;
}

static bool parse_list(const char *s, const char *const *names, unsigned n, unsigned *mask)
{
    char *copy = strdup(s), *save = NULL;
    bool ok = true;

    *mask = 0;
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        unsigned i;
        for (i = 0; i < n && strcmp(w, names[i]) != 0; i++)
            ;
        if (i == n)
            ok = false;
        else
            *mask |= 1u << i;
    }
    free(copy);
    return ok && *mask;
}

static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = (unsigned)v;
    return true;
}

/* The directory this program lives in (build/). */
static void self_dir(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n <= 0) {
        snprintf(out, len, ".");
        return;
    }
    exe[n] = '\0';
    snprintf(out, len, "%s", dirname(exe));
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const char *const kinds[] = {"model", "split", "kernel", "user"};
    static const char *const modes[] = {"auto", "quirk", "enable", "disable"};
    char dir[PATH_MAX - 32];

    memset(o, 0, sizeof(*o));
    o->kinds = 0xF;
    o->modes = CONF_M_ALL;
    o->jobs = DEFAULT_JOBS;
    o->timeout = DEFAULT_TIMEOUT;
    self_dir(dir, sizeof(dir));
    snprintf(o->lapis, sizeof(o->lapis), "%s/lapis", dir);
    snprintf(o->guest, sizeof(o->guest), "%s/guest/conformance.elf", dir);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        char msg[300];

        if (strcmp(a, "--verbose") == 0) {
            o->verbose = true;
            takes = false;
        } else if (strcmp(a, "--list") == 0) {
            o->list = true;
            takes = false;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            return usage(NULL) - 1; /* -1: print usage, exit 0 */
        } else if (!val && (strcmp(a, "--filter") == 0 || strcmp(a, "--targets") == 0 ||
                            strcmp(a, "--modes") == 0 || strcmp(a, "--json") == 0 ||
                            strcmp(a, "--jobs") == 0 || strcmp(a, "--timeout") == 0 ||
                            strcmp(a, "--lapis") == 0 || strcmp(a, "--guest") == 0 ||
                            strcmp(a, "--mutate") == 0)) {
            snprintf(msg, sizeof(msg), "%s needs a value: see --help", a);
            return usage(msg);
        } else if (strcmp(a, "--filter") == 0) {
            o->filter = val;
        } else if (strcmp(a, "--json") == 0) {
            o->json = val;
        } else if (strcmp(a, "--targets") == 0) {
            if (!parse_list(val, kinds, 4, &o->kinds))
                return usage("--targets takes model,split,kernel,user (comma-separated)");
        } else if (strcmp(a, "--modes") == 0) {
            if (!parse_list(val, modes, 4, &o->modes))
                return usage("--modes takes auto,quirk,enable,disable (comma-separated)");
        } else if (strcmp(a, "--jobs") == 0) {
            if (!parse_uint(val, 1, 32, &o->jobs))
                return usage("--jobs takes a number from 1 to 32");
        } else if (strcmp(a, "--timeout") == 0) {
            if (!parse_uint(val, 1, 3600, &o->timeout))
                return usage("--timeout takes seconds, 1 to 3600");
        } else if (strcmp(a, "--lapis") == 0) {
            snprintf(o->lapis, sizeof(o->lapis), "%s", val);
        } else if (strcmp(a, "--guest") == 0) {
            snprintf(o->guest, sizeof(o->guest), "%s", val);
        } else if (strcmp(a, "--mutate") == 0) {
            o->mutations |= conf_model_mutation_parse(val);
            if (!conf_model_mutation_parse(val))
                return usage("--mutate takes ignore-svr12");
        } else {
            snprintf(msg, sizeof(msg), "unknown option '%s': see --help", a);
            return usage(msg);
        }
        if (takes)
            i++;
    }
    return 0;
}

static bool row_selected(const struct opts *o, const struct conf_scenario *s,
                         const struct variant *v)
{
    char full[128], *copy, *save = NULL;
    bool hit = false;

    if (!o->filter)
        return true;
    snprintf(full, sizeof(full), "%s@%s", s->name, v->name);
    copy = strdup(o->filter);
    for (char *w = strtok_r(copy, ",", &save); w && !hit; w = strtok_r(NULL, ",", &save))
        hit = fnmatch(w, s->name, 0) == 0 || fnmatch(w, full, 0) == 0;
    free(copy);
    return hit;
}

/* ---- KVM: probing and running ---- */

static int vidx(unsigned ioapic)
{
    return ioapic >= 0x20;
}

static const char *mode_arg(int mode)
{
    return mode == MODE_AUTO ? "auto" : conf_mode_name((enum conf_mode)mode);
}

/* The mode lapis negotiated, as the guest should expect it (stats "mode="). */
static int guest_mode_of(const char *negotiated)
{
    enum conf_mode m;

    if (!negotiated)
        return -1;
    if (strcmp(negotiated, "enable-emulated") == 0)
        return CONF_MODE_ENABLE; /* the fix done by lapis behaves as ENABLE (§6) */
    return conf_mode_parse(negotiated, &m) == 0 ? (int)m : -1;
}

struct job {
    struct conf_child ch;
    struct cell *cell;
    char *argv[24];
    char cmdline[256];
    char cpus[8], ioapic[8];
    bool started;
};

static void job_argv(struct job *j, const struct opts *o, const struct conf_params *p, int mode,
                     const char *irqchip)
{
    int n = 0;

    snprintf(j->cmdline, sizeof(j->cmdline),
             "scenario=%s target=%s mode=%s ioapic=0x%x apic=%s cpus=%u", p->scenario,
             conf_target_name(p->target), conf_mode_name(p->mode), p->ioapic,
             p->xapic ? "xapic" : "x2apic", p->cpus);
    snprintf(j->cpus, sizeof(j->cpus), "%u", p->cpus);
    snprintf(j->ioapic, sizeof(j->ioapic), "0x%x", p->ioapic);
    j->argv[n++] = (char *)o->lapis;
    j->argv[n++] = "run";
    j->argv[n++] = "--kernel";
    j->argv[n++] = (char *)o->guest;
    j->argv[n++] = "--cmdline";
    j->argv[n++] = j->cmdline;
    j->argv[n++] = "--cpus";
    j->argv[n++] = j->cpus;
    j->argv[n++] = "--memory";
    j->argv[n++] = GUEST_MEMORY;
    if (irqchip) {
        j->argv[n++] = "--irqchip";
        j->argv[n++] = (char *)irqchip;
    }
    if (p->target != CONF_T_KERNEL) {
        j->argv[n++] = "--ioapic-version";
        j->argv[n++] = j->ioapic;
        j->argv[n++] = "--eoi-suppression";
        j->argv[n++] = (char *)mode_arg(mode);
    }
    j->argv[n] = NULL;
}

/* Runs one job to the end (used for probes). */
static void run_one(struct job *j, unsigned timeout_s)
{
    struct conf_child *ch = &j->ch;
    if (conf_child_start(ch, j->argv, timeout_s * 1000u)) {
        ch->done = true;
        ch->status = 127;
        return;
    }
    while (!ch->done)
        conf_children_poll(&ch, 1, 100);
}

static const char *first_lapis_line(const char *err)
{
    static char line[200];
    const char *p = err ? strstr(err, "lapis: ") : NULL;

    while (p && strncmp(p, "lapis: warning", 14) == 0)
        p = strstr(p + 1, "lapis: ");
    if (!p)
        return "no message";
    snprintf(line, sizeof(line), "%.*s", (int)strcspn(p, "\n"), p);
    return line;
}

/*
 * One run of PROBE_SCENARIO on target @t: does it run, which mode did auto
 * negotiate ("mode=" of the statistics line), does its LAPIC show the taken
 * interrupt in ISR?
 */
static void probe(const struct opts *o, struct host *h, enum conf_target t, unsigned ioapic)
{
    struct conf_params p = {.target = t, .ioapic = ioapic, .cpus = 1};
    struct conf_record r = {0};
    const char *isr;
    struct job j;
    int gm, v = vidx(ioapic);

    snprintf(p.scenario, sizeof(p.scenario), "%s", PROBE_SCENARIO);
    memset(&j, 0, sizeof(j));
    job_argv(&j, o, &p, MODE_AUTO,
             t == CONF_T_USER     ? "user"
             : t == CONF_T_KERNEL ? "kernel"
                                  : NULL);
    run_one(&j, PROBE_TIMEOUT);
    if (j.ch.status == 0) {
        size_t n = j.ch.out_len + j.ch.err_len + 2;
        char *all = malloc(n);
        snprintf(all, n, "%s\n%s", j.ch.out ? j.ch.out : "", j.ch.err ? j.ch.err : "");
        conf_record_parse(&r, all);
        free(all);
    }
    gm = j.ch.status == 0 ? guest_mode_of(conf_kvs_get(&r.stats, "mode")) : -1;
    h->ok[t][v] = gm >= 0;
    h->auto_mode[t][v] = gm;
    if (gm < 0 && t == CONF_T_USER)
        snprintf(h->why[t], sizeof(h->why[t]),
                 "lapis run --irqchip user is not available here (exit %d: %s)", j.ch.status,
                 first_lapis_line(j.ch.err));
    else if (gm < 0)
        snprintf(h->why[t], sizeof(h->why[t]), "lapis run (%s, 0x%x) failed, exit %d: %s",
                 conf_target_name(t), ioapic, j.ch.status, first_lapis_line(j.ch.err));
    isr = conf_kvs_get(&r.obs, "isr.in_handler");
    if (gm >= 0 && isr && h->isr[t] < 1) {
        h->isr[t] = strcmp(isr, "0x1") == 0;
        if (!h->isr[t])
            snprintf(h->isr_why[t], sizeof(h->isr_why[t]),
                     "%s's LAPIC on this host EOIs an interrupt when it injects it (ISR never "
                     "shows it, the EOI reaches the IOAPIC at the next exit): nothing can be "
                     "held in service",
                     t == CONF_T_USER ? "lapis" : "KVM");
    }
    conf_record_free(&r);
    conf_child_free(&j.ch);
}

/* Does lapis accept a forced split-irqchip @mode on this kernel? */
static void probe_forced_mode(const struct opts *o, struct host *h, enum conf_mode mode)
{
    struct conf_params p = {.target = CONF_T_SPLIT, .ioapic = 0x20, .cpus = 1};
    struct job j;

    snprintf(p.scenario, sizeof(p.scenario), "%s", PROBE_SCENARIO);
    memset(&j, 0, sizeof(j));
    job_argv(&j, o, &p, (int)mode, NULL);
    run_one(&j, PROBE_TIMEOUT);
    if (j.ch.status == 2)
        snprintf(h->mode_absent[mode], sizeof(h->mode_absent[mode]),
                 "does not apply: this kernel has no '%s' mode (%s)", conf_mode_name(mode),
                 first_lapis_line(j.ch.err));
    conf_child_free(&j.ch);
}

static void find_host(const struct opts *o, struct host *h, unsigned versions_used)
{
    memset(h, 0, sizeof(*h));
    for (unsigned t = 0; t < CONF_T_COUNT; t++)
        h->isr[t] = -1;
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        snprintf(h->kvm_why, sizeof(h->kvm_why), "no usable /dev/kvm on this host");
        return;
    }
    if (access(o->lapis, X_OK) != 0) {
        snprintf(h->kvm_why, sizeof(h->kvm_why), "%s not found: build lapis first", o->lapis);
        return;
    }
    if (access(o->guest, R_OK) != 0) {
        snprintf(h->kvm_why, sizeof(h->kvm_why), "%s not found: run make", o->guest);
        return;
    }
    h->kvm = true;
    for (unsigned v = 0; v < 2; v++) {
        unsigned ioapic = v ? 0x20 : 0x11;
        if (!(versions_used & (1u << v)))
            continue;
        /* The model's auto follows what lapis negotiated with this kernel. */
        if (o->kinds & (1u << CONF_T_SPLIT | 1u << CONF_T_MODEL))
            probe(o, h, CONF_T_SPLIT, ioapic);
        if (o->kinds & (1u << CONF_T_USER))
            probe(o, h, CONF_T_USER, ioapic);
    }
    if ((o->kinds & (1u << CONF_T_KERNEL)) && (versions_used & 1u))
        probe(o, h, CONF_T_KERNEL, 0x11);
    if (o->kinds & (1u << CONF_T_SPLIT)) {
        if (o->modes & CONF_M_ENABLE)
            probe_forced_mode(o, h, CONF_MODE_ENABLE);
        if (o->modes & CONF_M_DISABLE)
            probe_forced_mode(o, h, CONF_MODE_DISABLE);
    }
}

/*
 * Copies @src into @dir (mode @mode) and points @path at the copy: a `make`
 * in the same tree while the suite runs must not swap the binary or the
 * guest under it. Returns 0 or -errno.
 */
static int snapshot(const char *dir, const char *name, char *path, size_t len, mode_t mode)
{
    char dst[PATH_MAX], buf[65536];
    int in, out, err = 0;
    ssize_t n;

    if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= sizeof(dst))
        return -ENAMETOOLONG;
    in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (out < 0) {
        err = -errno;
        close(in);
        return err;
    }
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n) {
            err = -EIO;
            break;
        }
    if (n < 0)
        err = -errno;
    close(in);
    if (close(out) && !err)
        err = -errno;
    if (!err)
        snprintf(path, len, "%s", dst);
    return err;
}

static void unsnapshot(const char *dir)
{
    char p[PATH_MAX];

    snprintf(p, sizeof(p), "%s/lapis", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/conformance.elf", dir);
    unlink(p);
    rmdir(dir);
}

/* ---- planning ---- */

static int model_auto_mode(const struct host *h, unsigned ioapic)
{
    /* As lapis negotiated it here; without KVM, §6 on a kernel with the flags. */
    if (h->ok[CONF_T_SPLIT][vidx(ioapic)])
        return h->auto_mode[CONF_T_SPLIT][vidx(ioapic)];
    return ioapic >= 0x20 ? CONF_MODE_ENABLE : CONF_MODE_DISABLE;
}

/*
 * @as_reference: plan a model column --modes left out, because an auto cell
 * resolved to its mode needs it as the reference (see reference_of()).
 */
static void plan_cell(const struct opts *o, const struct host *h, struct row *r, int ci,
                      bool as_reference)
{
    const struct column *col = &columns[ci];
    const struct conf_scenario *s = r->s;
    struct cell *c = &r->cells[ci];
    enum conf_target t = col->target;
    int v = vidx(r->v->ioapic), mode = col->mode;

    if (!(o->kinds & (1u << t)) || (col->mbit && !(o->modes & col->mbit) && !as_reference)) {
        c->state = CELL_HIDDEN;
        return;
    }
    c->state = CELL_VOID;
    if (t == CONF_T_KERNEL) {
        if (r->v->ioapic != 0x11) {
            c->na = "KVM's in-kernel IOAPIC is version 0x11";
            return;
        }
        if (s->flags & (CONF_F_NO_KERNEL | CONF_F_DIRECTED)) {
            c->na = "needs lapis's IOAPIC, or Directed EOI, which KVM never offers beside its own";
            return;
        }
    } else if (!(s->modes & col->mbit)) {
        c->na = "mode-independent: run under auto only";
        return;
    }
    if (t != CONF_T_MODEL && !h->kvm) {
        c->state = CELL_NA;
        c->na = h->kvm_why;
        return;
    }
    if (t == CONF_T_SPLIT && (mode == CONF_MODE_ENABLE || mode == CONF_MODE_DISABLE) &&
        h->mode_absent[mode][0]) {
        c->na = h->mode_absent[mode];
        return;
    }
    if (t != CONF_T_MODEL && !h->ok[t][t == CONF_T_KERNEL ? 0 : v]) {
        c->state = CELL_NA;
        c->na = h->why[t];
        return;
    }
    if (mode == MODE_AUTO)
        mode = t == CONF_T_MODEL ? model_auto_mode(h, r->v->ioapic) : h->auto_mode[t][v];
    if ((s->flags & CONF_F_DIRECTED) && mode != CONF_MODE_ENABLE) {
        c->na = "needs Directed EOI honoured (the enable mode)";
        return;
    }
    if ((s->flags & CONF_F_NEEDS_ISR) && t != CONF_T_MODEL && h->isr[t] == 0) {
        c->state = CELL_NA;
        c->na = h->isr_why[t];
        return;
    }
    memset(&c->p, 0, sizeof(c->p));
    snprintf(c->p.scenario, sizeof(c->p.scenario), "%s", s->name);
    c->p.target = t;
    c->p.mode = mode == MODE_NONE ? CONF_MODE_DISABLE : (enum conf_mode)mode;
    c->p.ioapic = r->v->ioapic;
    c->p.xapic = r->v->xapic;
    c->p.cpus = (s->flags & CONF_F_SMP) ? 2 : 1;
    c->slow = (s->flags & CONF_F_SLOW) != 0;
    c->ref = -1;
    c->state = CELL_PENDING;
}

/* The model column with fixed mode @mode (model/quirk, model/enable, model/disable). */
static int model_column(enum conf_mode mode)
{
    return 1 + (int)mode;
}

/*
 * An auto cell's reference is the model under the mode auto resolved to on
 * that target: model/auto follows split's negotiation with this kernel, and
 * user/auto (lapis's LAPIC, whatever the kernel's flags) may differ from it,
 * e.g. DISABLE where a kernel without the flags leaves split at quirk with
 * 0x11. Plans that model column when --modes left it out.
 */
static void plan_auto_references(const struct opts *o, const struct host *h, struct row *r)
{
    for (int ci = 0; ci < NCOLS; ci++) {
        const struct cell *c = &r->cells[ci];
        int m;

        if (columns[ci].target == CONF_T_MODEL || columns[ci].mode != MODE_AUTO ||
            c->state != CELL_PENDING)
            continue;
        if (r->cells[0].state == CELL_PENDING && r->cells[0].p.mode == c->p.mode)
            continue; /* model/auto is the same mode */
        m = model_column(c->p.mode);
        if (r->cells[m].state == CELL_HIDDEN)
            plan_cell(o, h, r, m, true);
    }
}

/* ---- running ---- */

static void run_model(const struct opts *o, struct cell *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int status;

    if (!f)
        abort();
    status = conf_model_run(&c->p, o->mutations, f);
    fclose(f);
    conf_record_parse(&c->rec, text);
    c->rec.status = status;
    free(text);
    c->state = CELL_DONE;
}

static void job_done(struct job *j)
{
    struct cell *c = j->cell;
    size_t n = j->ch.out_len + j->ch.err_len + 2;
    char *all = malloc(n);

    snprintf(all, n, "%s\n%s", j->ch.out ? j->ch.out : "", j->ch.err ? j->ch.err : "");
    conf_record_parse(&c->rec, all);
    free(all);
    c->rec.status = j->ch.timed_out ? -1 : j->ch.status;
    c->rec.timed_out = j->ch.timed_out;
    c->state = CELL_DONE;
    conf_child_free(&j->ch);
}

struct pending {
    struct cell *cell;
    int col;
};

/* All KVM cells, slow ones first so that they overlap the rest. */
static size_t kvm_queue(struct row *rows, size_t nrows, struct pending *q)
{
    size_t n = 0;

    for (int slow = 1; slow >= 0; slow--)
        for (size_t i = 0; i < nrows; i++)
            for (int ci = 0; ci < NCOLS; ci++)
                if (rows[i].cells[ci].state == CELL_PENDING && columns[ci].target != CONF_T_MODEL &&
                    !!(rows[i].s->flags & CONF_F_SLOW) == !!slow)
                    q[n++] = (struct pending){&rows[i].cells[ci], ci};
    return n;
}

static void run_kvm(const struct opts *o, struct row *rows, size_t nrows)
{
    struct pending *q = calloc(nrows * NCOLS + 1, sizeof(*q));
    struct job *jobs = calloc(o->jobs, sizeof(*jobs));
    struct conf_child *live[32];
    size_t total = kvm_queue(rows, nrows, q), next = 0, done = 0;
    bool tty = isatty(STDERR_FILENO);

    for (;;) {
        size_t nlive = 0;
        for (unsigned k = 0; k < o->jobs; k++) {
            struct job *j = &jobs[k];
            while (!j->started && next < total) {
                struct cell *c = q[next].cell;
                int ci = q[next++].col;
                memset(j, 0, sizeof(*j));
                j->cell = c;
                job_argv(j, o, &c->p, columns[ci].mode,
                         columns[ci].target == CONF_T_KERNEL ? "kernel"
                         : columns[ci].target == CONF_T_USER ? "user"
                                                             : NULL);
                if (conf_child_start(&j->ch, j->argv, o->timeout * 1000u * (c->slow ? 4u : 1u))) {
                    c->rec.status = 127;
                    c->state = CELL_DONE;
                    done++;
                    continue;
                }
                j->started = true;
            }
        }
        for (unsigned k = 0; k < o->jobs; k++)
            if (jobs[k].started)
                live[nlive++] = &jobs[k].ch;
        if (!nlive)
            break;
        conf_children_poll(live, nlive, 200);
        for (unsigned k = 0; k < o->jobs; k++) {
            if (jobs[k].started && jobs[k].ch.done) {
                job_done(&jobs[k]);
                jobs[k].started = false;
                done++;
                if (tty)
                    fprintf(stderr, "\rconformance: %zu/%zu KVM runs", done, total);
            }
        }
    }
    if (tty && total)
        fprintf(stderr, "\n");
    free(jobs);
    free(q);
}

/* ---- judging ---- */

static int reference_of(const struct row *r, int ci)
{
    static const char *const kernel_refs[] = {"split/quirk", "split/auto", "model/quirk",
                                              "model/auto"};
    const struct column *col = &columns[ci];

    if (col->target == CONF_T_MODEL)
        return -1;
    if (col->target == CONF_T_KERNEL) {
        for (unsigned k = 0; k < 4; k++)
            for (int j = 0; j < NCOLS; j++)
                if (strcmp(columns[j].name, kernel_refs[k]) == 0 && r->cells[j].state == CELL_DONE)
                    return j;
        return -1;
    }
    /* split/M and user/M against model/M: the model columns come first, in the same order. */
    int j = col->target == CONF_T_SPLIT ? ci - 4 : ci - 9;
    const struct cell *c = &r->cells[ci];

    /*
     * Auto: the model under the mode auto resolved to here. model/auto when it
     * is that mode; else model/<mode>; else (a scenario that runs under auto
     * only declares itself mode-independent) model/auto all the same.
     */
    if (col->mode == MODE_AUTO &&
        !(r->cells[0].state == CELL_DONE && r->cells[0].p.mode == c->p.mode)) {
        int m = model_column(c->p.mode);
        if (r->cells[m].state == CELL_DONE)
            return m;
    }
    return r->cells[j].state == CELL_DONE ? j : -1;
}

static void judge(struct row *rows, size_t nrows)
{
    for (size_t i = 0; i < nrows; i++) {
        struct row *r = &rows[i];
        for (int ci = 0; ci < NCOLS; ci++) {
            struct cell *c = &r->cells[ci];
            if (c->state != CELL_DONE)
                continue;
            c->pass = conf_record_verdict(&c->rec, &c->reasons);
            c->ref = reference_of(r, ci);
            if (c->ref < 0)
                continue;
            struct cell *ref = &r->cells[c->ref];
            bool stats = c->rec.has_stats && ref->rec.has_stats && c->p.target != CONF_T_KERNEL;
            if (conf_diff(&c->rec, columns[ci].name, &ref->rec, columns[c->ref].name, stats,
                          r->s->known, &c->diffs, &c->declared)) {
                char text[300];
                size_t off = 0;
                for (size_t k = 0; k < c->diffs.n && off < sizeof(text) - 40; k++)
                    off += (size_t)snprintf(text + off, sizeof(text) - off, "%s%s", k ? ", " : "",
                                            c->diffs.v[k].key);
                conf_kvs_set(&c->reasons, "differs", text);
                c->pass = false;
            }
        }
    }
}

/* ---- reporting ---- */

static void totals(const struct row *rows, size_t nrows, int col, unsigned *p, unsigned *f,
                   unsigned *s)
{
    *p = *f = *s = 0;
    for (size_t i = 0; i < nrows; i++) {
        for (int ci = 0; ci < NCOLS; ci++) {
            const struct cell *c = &rows[i].cells[ci];
            if (col >= 0 && ci != col)
                continue;
            if (c->state == CELL_NA)
                (*s)++;
            else if (c->state == CELL_DONE)
                (*(c->pass ? p : f))++;
        }
    }
}

static bool column_shown(const struct row *rows, size_t nrows, int ci)
{
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].cells[ci].state != CELL_HIDDEN)
            return true;
    return false;
}

static void print_matrix(FILE *f, const struct row *rows, size_t nrows)
{
    fprintf(f, "%-30s %-12s", "scenario", "variant");
    for (int ci = 0; ci < NCOLS; ci++)
        if (column_shown(rows, nrows, ci))
            fprintf(f, " %s", columns[ci].abbrev);
    fprintf(f, "\n");
    for (size_t i = 0; i < nrows; i++) {
        fprintf(f, "%-30s %-12s", rows[i].s->name, rows[i].v->name);
        for (int ci = 0; ci < NCOLS; ci++) {
            const struct cell *c = &rows[i].cells[ci];
            if (!column_shown(rows, nrows, ci))
                continue;
            fprintf(f, " %s",
                    c->state == CELL_DONE ? (c->pass ? "ok" : "XX")
                    : c->state == CELL_NA ? "--"
                                          : " .");
        }
        fprintf(f, "\n");
    }
    fprintf(f, "\nok pass, XX fail, -- skipped (this host cannot run it), . does not apply. m "
               "model, s split (KVM LAPIC + lapis IOAPIC),"
               " kn KVM in-kernel irqchip, u lapis software LAPIC; A auto, Q quirk, E enable, D "
               "disable\n");
    for (int ci = 0; ci < NCOLS; ci++) {
        unsigned p, fl, s;
        if (!column_shown(rows, nrows, ci))
            continue;
        totals(rows, nrows, ci, &p, &fl, &s);
        fprintf(f, "  %-14s %4u passed, %3u failed, %4u skipped\n", columns[ci].name, p, fl, s);
    }
}

static void print_notes(FILE *f, const struct row *rows, size_t nrows)
{
    /* Each distinct reason for a skip, once, with the cells it covers. */
    const char *seen[32];
    unsigned nseen = 0;

    for (size_t i = 0; i < nrows; i++) {
        for (int ci = 0; ci < NCOLS; ci++) {
            const struct cell *c = &rows[i].cells[ci];
            unsigned k, count = 0;
            char cols[160] = "";
            size_t off = 0;

            if (c->state != CELL_NA)
                continue;
            for (k = 0; k < nseen && strcmp(seen[k], c->na) != 0; k++)
                ;
            if (k < nseen || nseen == 32)
                continue;
            seen[nseen++] = c->na;
            for (int cj = 0; cj < NCOLS; cj++) {
                unsigned in_col = 0;
                for (size_t j = 0; j < nrows; j++)
                    in_col += rows[j].cells[cj].state == CELL_NA &&
                              strcmp(rows[j].cells[cj].na, c->na) == 0;
                if (in_col && off < sizeof(cols) - 20)
                    off += (size_t)snprintf(cols + off, sizeof(cols) - off, "%s%s", off ? " " : "",
                                            columns[cj].name);
                count += in_col;
            }
            fprintf(f, "skipped %u (%s): %s\n", count, cols, c->na);
        }
    }
}

/* Declared differences that did show: counted, and listed with --verbose. */
static void print_declared(FILE *f, const struct row *rows, size_t nrows, bool verbose)
{
    unsigned n = 0;

    for (size_t i = 0; i < nrows; i++) {
        for (int ci = 0; ci < NCOLS; ci++) {
            const struct cell *c = &rows[i].cells[ci];
            for (size_t k = 0; c->state == CELL_DONE && k < c->declared.n; k++, n++) {
                if (!verbose)
                    continue;
                fprintf(
                    f, "declared %s@%s %s vs %s: %s = %s (%s)\n", rows[i].s->name, rows[i].v->name,
                    columns[ci].name, columns[c->ref].name, c->declared.v[k].key,
                    c->declared.v[k].value,
                    conf_known_reason(rows[i].s->known, columns[ci].name, c->declared.v[k].key));
            }
        }
    }
    if (n && !verbose)
        fprintf(f,
                "%u declared differences showed (each scenario says why): --verbose lists them\n",
                n);
}

static void print_failures(FILE *f, const struct row *rows, size_t nrows, bool verbose)
{
    for (size_t i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        for (int ci = 0; ci < NCOLS; ci++) {
            const struct cell *c = &r->cells[ci];
            if (c->state != CELL_DONE || c->pass)
                continue;
            fprintf(f, "\nFAIL %s@%s on %s\n", r->s->name, r->v->name, columns[ci].name);
            for (size_t k = 0; k < c->reasons.n; k++)
                fprintf(f, "  %s: %s\n", c->reasons.v[k].key, c->reasons.v[k].value);
            if (c->diffs.n) {
                const struct cell *ref = &r->cells[c->ref];
                bool stats = c->rec.has_stats && ref->rec.has_stats && c->p.target != CONF_T_KERNEL;
                fprintf(f, "  DIFF %s vs %s (reference):\n", columns[ci].name,
                        columns[c->ref].name);
                conf_diff_print(f, &c->rec, columns[ci].name, &ref->rec, columns[c->ref].name,
                                stats);
            }
            if (verbose && c->rec.output)
                fprintf(f, "  --- output ---\n%s\n  ---\n", c->rec.output);
        }
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_kvs(FILE *f, const struct conf_kvs *kvs)
{
    fputc('{', f);
    for (size_t k = 0; k < kvs->n; k++) {
        if (k)
            fputc(',', f);
        json_str(f, kvs->v[k].key);
        fputc(':', f);
        json_str(f, kvs->v[k].value);
    }
    fputc('}', f);
}

static void write_json(FILE *f, const struct row *rows, size_t nrows)
{
    unsigned p, fl, s;
    bool first = true;

    fprintf(f, "{\"columns\":[");
    for (int ci = 0; ci < NCOLS; ci++) {
        if (!column_shown(rows, nrows, ci))
            continue;
        fprintf(f, "%s", first ? "" : ",");
        json_str(f, columns[ci].name);
        first = false;
    }
    fprintf(f, "],\n\"rows\":[\n");
    for (size_t i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        fprintf(f, "%s{\"scenario\":", i ? ",\n" : "");
        json_str(f, r->s->name);
        fprintf(f, ",\"variant\":");
        json_str(f, r->v->name);
        fprintf(f, ",\"what\":");
        json_str(f, r->s->what);
        fprintf(f, ",\"cells\":{");
        first = true;
        for (int ci = 0; ci < NCOLS; ci++) {
            const struct cell *c = &r->cells[ci];
            if (c->state == CELL_HIDDEN)
                continue;
            fprintf(f, "%s", first ? "" : ",");
            first = false;
            json_str(f, columns[ci].name);
            if (c->state != CELL_DONE) {
                fprintf(f,
                        ":{\"result\":\"%s\",\"reason\":", c->state == CELL_NA ? "skipped" : "n/a");
                json_str(f, c->na);
                fprintf(f, "}");
                continue;
            }
            fprintf(f, ":{\"result\":\"%s\",\"mode\":", c->pass ? "pass" : "fail");
            json_str(f, conf_mode_name(c->p.mode));
            fprintf(f, ",\"reference\":");
            if (c->ref >= 0)
                json_str(f, columns[c->ref].name);
            else
                fprintf(f, "null");
            fprintf(f, ",\"reasons\":");
            json_kvs(f, &c->reasons);
            fprintf(f, ",\"differences\":");
            json_kvs(f, &c->diffs);
            fprintf(f, ",\"declared\":");
            json_kvs(f, &c->declared);
            fprintf(f, ",\"observations\":");
            json_kvs(f, &c->rec.obs);
            fprintf(f, ",\"stats\":");
            json_kvs(f, &c->rec.stats);
            fprintf(f, "}");
        }
        fprintf(f, "}}");
    }
    totals(rows, nrows, -1, &p, &fl, &s);
    fprintf(f, "\n],\n\"totals\":{\"passed\":%u,\"failed\":%u,\"skipped\":%u}}\n", p, fl, s);
}

static void list_scenarios(void)
{
    for (unsigned i = 0; conf_scenario_at(i); i++) {
        const struct conf_scenario *s = conf_scenario_at(i);
        printf("%-30s %s%s\n", s->name, s->what, (s->flags & CONF_F_SMP) ? " [2 CPUs]" : "");
    }
    printf("%u scenarios\n", conf_scenario_count());
}

int lapis_conformance_main(int argc, char **argv)
{
    struct opts o;
    struct host h;
    struct row *rows;
    size_t nrows = 0, nkvm = 0, nmodel = 0;
    unsigned versions = 0, p, f, s;
    char tmpdir[] = "/tmp/lapis-conformance.XXXXXX";
    bool snapshotted = false;
    int rc = parse_opts(argc, argv, &o);

    if (rc)
        return rc < 0 ? 0 : rc;
    if (o.list) {
        list_scenarios();
        return 0;
    }
    rows = calloc((size_t)conf_scenario_count() * NVARIANTS, sizeof(*rows));
    for (unsigned i = 0; conf_scenario_at(i); i++) {
        const struct conf_scenario *sc = conf_scenario_at(i);
        for (unsigned v = 0; v < NVARIANTS; v++) {
            if ((sc->flags & CONF_F_HIDDEN) || !(sc->variants & variants[v].bit) ||
                !row_selected(&o, sc, &variants[v]))
                continue;
            rows[nrows].s = sc;
            rows[nrows].v = &variants[v];
            versions |= 1u << vidx(variants[v].ioapic);
            nrows++;
        }
    }
    if (!nrows) {
        fprintf(stderr, "lapis conformance: --filter '%s' matches no scenario: see --list\n",
                o.filter);
        free(rows);
        return 2;
    }
    if (o.kinds & ~(1u << CONF_T_MODEL)) {
        if (mkdtemp(tmpdir) && snapshot(tmpdir, "lapis", o.lapis, sizeof(o.lapis), 0700) == 0 &&
            snapshot(tmpdir, "conformance.elf", o.guest, sizeof(o.guest), 0600) == 0)
            snapshotted = true;
        find_host(&o, &h, versions);
    } else {
        memset(&h, 0, sizeof(h));
        snprintf(h.kvm_why, sizeof(h.kvm_why), "not selected");
    }
    for (size_t i = 0; i < nrows; i++) {
        for (int ci = 0; ci < NCOLS; ci++)
            plan_cell(&o, &h, &rows[i], ci, false);
        plan_auto_references(&o, &h, &rows[i]);
        for (int ci = 0; ci < NCOLS; ci++)
            if (rows[i].cells[ci].state == CELL_PENDING)
                (*(columns[ci].target == CONF_T_MODEL ? &nmodel : &nkvm))++;
    }
    fprintf(stderr, "conformance: %zu rows, %zu model runs, %zu KVM runs (%u at a time)%s\n", nrows,
            nmodel, nkvm, o.jobs, o.mutations ? ", model MUTATED" : "");
    for (size_t i = 0; i < nrows; i++)
        for (int ci = 0; ci < NCOLS; ci++)
            if (rows[i].cells[ci].state == CELL_PENDING && columns[ci].target == CONF_T_MODEL)
                run_model(&o, &rows[i].cells[ci]);
    run_kvm(&o, rows, nrows);
    judge(rows, nrows);

    print_matrix(stdout, rows, nrows);
    print_notes(stdout, rows, nrows);
    print_declared(stdout, rows, nrows, o.verbose);
    print_failures(stdout, rows, nrows, o.verbose);
    if (o.json) {
        FILE *jf = strcmp(o.json, "-") == 0 ? stdout : fopen(o.json, "w");
        if (!jf) {
            fprintf(stderr, "lapis conformance: cannot write %s: %s\n", o.json, strerror(errno));
        } else {
            write_json(jf, rows, nrows);
            if (jf != stdout)
                fclose(jf);
        }
    }
    totals(rows, nrows, -1, &p, &f, &s);
    printf("conformance: %u passed, %u failed, %u skipped\n", p, f, s);

    for (size_t i = 0; i < nrows; i++) {
        for (int ci = 0; ci < NCOLS; ci++) {
            struct cell *c = &rows[i].cells[ci];
            conf_record_free(&c->rec);
            conf_kvs_free(&c->reasons);
            conf_kvs_free(&c->diffs);
            conf_kvs_free(&c->declared);
        }
    }
    free(rows);
    if (snapshotted || strcmp(tmpdir, "/tmp/lapis-conformance.XXXXXX") != 0)
        unsnapshot(tmpdir);
    return f ? 1 : 0;
}
