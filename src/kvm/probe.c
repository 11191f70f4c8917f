/* SPDX-License-Identifier: MIT */
/*
 * lapis probe (see probe.h). In order:
 *   1. capability ioctls on /dev/kvm and on throwaway VMs (§2, §4);
 *   2. child `lapis run`s: fork, re-execute /proc/self/exe, bounded wait;
 *   3. the §4 rows: the probe guest, one run per mode;
 *   4. the §7 rows: the halt_eoi guest, recovery off and on;
 *   5. the text table and the JSON object.
 * Section numbers refer to ../shared/spec/eoi.md. Capability 244 is never
 * probed (§3): on upstream kernels it is something else.
 */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "irqchip.h"
#include "probe_verdict.h" /* what the runs printed -> the answers (pure) */

/* Older <linux/kvm.h> lack these (§4). */
#ifndef KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST
#define KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST (1ULL << 2)
#endif
#ifndef KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST
#define KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST (1ULL << 3)
#endif
#define EOI_ENABLE  KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST
#define EOI_DISABLE KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST

#define SPLIT_PINS 24

#define PROBE_GUEST "guest/probe.elf"
#define HALT_GUEST  "guest/halt_eoi.elf"
#define HALT_ARGS   "wd=0 n=20" /* no timer to wake the vCPU: only an EOI exit can */

#define MODE_TIMEOUT_MS     15000u /* a mode run takes well under a second */
#define HELD_BACK_WAIT_MS   3000u  /* a held-back EOI stalls halt_eoi for good */
#define RECOVERY_TIMEOUT_MS 15000u
#define TERM_GRACE_MS       2000u /* after SIGTERM, before SIGKILL */
#define CHILD_OUT_MAX       65536u

/* ---- 1. Capabilities -------------------------------------------------------------------- */

static int create_vm(int sys_fd)
{
    int fd;

    do {
        fd = ioctl(sys_fd, KVM_CREATE_VM, 0UL);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

/* KVM_ENABLE_CAP: 0 or a positive errno. */
static int enable_cap(int vm_fd, uint32_t cap, uint64_t arg0)
{
    struct kvm_enable_cap ec = {.cap = cap};

    ec.args[0] = arg0;
    return lapis_kvm_ioctl(vm_fd, KVM_ENABLE_CAP, &ec) < 0 ? errno : 0;
}

/* One KVM_ENABLE_CAP(X2APIC_API, @flags) on a fresh VM, split irqchip first if @c->split. */
static void try_cap(int sys_fd, struct lapis_probe_cap *c, const char *flags, bool split,
                    uint64_t bits)
{
    int vm = create_vm(sys_fd);

    c->flags = flags;
    c->split = split;
    if (vm < 0) {
        c->err = -vm;
        return;
    }
    c->ran = true;
    c->err = split ? enable_cap(vm, KVM_CAP_SPLIT_IRQCHIP, SPLIT_PINS) : 0;
    if (!c->err)
        c->err = enable_cap(vm, KVM_CAP_X2APIC_API, bits);
    close(vm);
}

/* What upstream answers (§4): with the flags, only ENABLE needs split and both is invalid. */
static void expect_caps(struct lapis_probe_report *rep)
{
    for (unsigned i = 0; i < LAPIS_PROBE_CAP_CASES; i++)
        rep->caps[i].expected = rep->eoi_flags ? 0 : EINVAL; /* unknown bits */
    rep->caps[LAPIS_PROBE_CAP_BOTH_SPLIT].expected = EINVAL;
    rep->caps[LAPIS_PROBE_CAP_ENABLE_NOSPLIT].expected = EINVAL;
}

static int probe_caps(int sys_fd, struct lapis_probe_report *rep, struct lapis_err *err)
{
    int vm;

    rep->api_version = ioctl(sys_fd, KVM_GET_API_VERSION, 0);
    rep->kernel_irqchip = lapis_kvm_check(sys_fd, KVM_CAP_IRQCHIP) > 0;
    rep->x2apic_api_system = lapis_kvm_check(sys_fd, KVM_CAP_X2APIC_API);
    bool split_cap = lapis_kvm_check(sys_fd, KVM_CAP_SPLIT_IRQCHIP) > 0;

    vm = create_vm(sys_fd);
    if (vm < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, -vm, "KVM_CREATE_VM failed: %s", strerror(-vm));
    /* §4: the VM fd says 0xB before split irqchip and 0xF after, on kernels with the flags. */
    rep->x2apic_api_vm = lapis_kvm_check(vm, KVM_CAP_X2APIC_API);
    rep->split_err = split_cap ? enable_cap(vm, KVM_CAP_SPLIT_IRQCHIP, SPLIT_PINS) : EOPNOTSUPP;
    rep->split_irqchip = rep->split_err == 0;
    if (rep->split_irqchip)
        rep->x2apic_api_vm_split = lapis_kvm_check(vm, KVM_CAP_X2APIC_API);
    close(vm);
    rep->eoi_flags = ((rep->split_irqchip ? rep->x2apic_api_vm_split : rep->x2apic_api_system) &
                      (long)(EOI_ENABLE | EOI_DISABLE)) == (long)(EOI_ENABLE | EOI_DISABLE);

    if (rep->split_irqchip) {
        try_cap(sys_fd, &rep->caps[LAPIS_PROBE_CAP_ENABLE_SPLIT], "ENABLE", true, EOI_ENABLE);
        try_cap(sys_fd, &rep->caps[LAPIS_PROBE_CAP_DISABLE_SPLIT], "DISABLE", true, EOI_DISABLE);
        try_cap(sys_fd, &rep->caps[LAPIS_PROBE_CAP_BOTH_SPLIT], "ENABLE|DISABLE", true,
                EOI_ENABLE | EOI_DISABLE);
    } else {
        /* Not tried: no split irqchip to try them on. */
        rep->caps[LAPIS_PROBE_CAP_ENABLE_SPLIT] =
            (struct lapis_probe_cap){.flags = "ENABLE", .split = true};
        rep->caps[LAPIS_PROBE_CAP_DISABLE_SPLIT] =
            (struct lapis_probe_cap){.flags = "DISABLE", .split = true};
        rep->caps[LAPIS_PROBE_CAP_BOTH_SPLIT] =
            (struct lapis_probe_cap){.flags = "ENABLE|DISABLE", .split = true};
    }
    try_cap(sys_fd, &rep->caps[LAPIS_PROBE_CAP_ENABLE_NOSPLIT], "ENABLE", false, EOI_ENABLE);
    try_cap(sys_fd, &rep->caps[LAPIS_PROBE_CAP_DISABLE_NOSPLIT], "DISABLE", false, EOI_DISABLE);
    expect_caps(rep);
    return 0;
}

/* What --eoi-suppression auto negotiates, by lapis's own code on a throwaway VM (§6). */
static void auto_policy(int sys_fd, bool kernel, unsigned ioapic_version, char *out, size_t len)
{
    struct lapis_irqchip *ic = calloc(1, sizeof(*ic));
    struct lapis_err e = {0};
    int vm = create_vm(sys_fd);

    if (!ic || vm < 0) {
        snprintf(out, len, "unknown");
    } else if (lapis_irqchip_init(ic, NULL, vm, kernel, ioapic_version, LAPIS_EOI_REQ_AUTO, &e)) {
        snprintf(out, len, "unknown");
        lapis_irqchip_destroy(ic);
    } else {
        snprintf(out, len, "%s", lapis_irqchip_mode_name(ic));
        lapis_irqchip_destroy(ic);
    }
    if (vm >= 0)
        close(vm);
    free(ic);
}

/* ---- 2. Child runs ---------------------------------------------------------------------- */

struct child {
    char out[CHILD_OUT_MAX + 1], err[CHILD_OUT_MAX + 1]; /* NUL-terminated */
    size_t out_len, err_len;
    int status; /* exit status, 128 + signal, or -1 if it never ran */
    bool timed_out;
    char spawn_error[128];
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The environment minus what would change the child's negotiation or output. */
static char **child_env(void)
{
    extern char **environ;
    size_t n = 0, k = 0;
    char **env;

    while (environ && environ[n])
        n++;
    env = calloc(n + 1, sizeof(*env));
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!strncmp(environ[i], "LAPIS_TEST_NO_EOI_FLAGS=", 24) ||
            !strncmp(environ[i], "LAPIS_TRACE=", 12))
            continue;
        env[k++] = environ[i];
    }
    return env;
}

static void drain(int *fd, char *buf, size_t *len)
{
    char tmp[4096];
    ssize_t n = read(*fd, tmp, sizeof(tmp));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    /* Keep the first CHILD_OUT_MAX bytes; the rest is read and dropped. */
    size_t room = CHILD_OUT_MAX - *len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(buf + *len, tmp, take);
    *len += take;
    buf[*len] = '\0';
}

/*
 * Runs this binary with @argv, stdout and stderr captured, for at most
 * @timeout_ms: then SIGTERM (lapis stops cleanly and prints its statistics),
 * and SIGKILL after TERM_GRACE_MS. Only the child's own pid is signalled.
 */
static void run_child(char *const argv[], unsigned timeout_ms, bool verbose, struct child *c)
{
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, st = 0;
    pid_t pid, w = -1, parent = getpid();
    char **env = child_env();
    uint64_t deadline = now_ms() + timeout_ms;
    bool termed = false, killed = false;

    memset(c, 0, sizeof(*c));
    c->status = -1;
    if (verbose) {
        fprintf(stderr, "lapis: probe: running");
        for (unsigned i = 0; argv[i]; i++)
            fprintf(stderr, " %s", argv[i]);
        fprintf(stderr, "\n");
    }
    if (!env) {
        snprintf(c->spawn_error, sizeof(c->spawn_error), "out of memory");
        goto out;
    }
    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        snprintf(c->spawn_error, sizeof(c->spawn_error), "pipe failed: %s", strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(c->spawn_error, sizeof(c->spawn_error), "fork failed: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        /* Do not outlive an interrupted probe. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (nul >= 0)
            dup2(nul, 0);
        dup2(outp[1], 1);
        dup2(errp[1], 2);
        execve("/proc/self/exe", argv, env);
        _exit(127);
    }
    close(outp[1]);
    close(errp[1]);
    outp[1] = errp[1] = -1;

    while (outp[0] >= 0 || errp[0] >= 0) {
        struct pollfd pfd[2] = {{.fd = outp[0], .events = POLLIN},
                                {.fd = errp[0], .events = POLLIN}};
        uint64_t now = now_ms();
        int wait = now >= deadline ? 0 : (int)(deadline - now);
        int r = poll(pfd, 2, wait);

        if (r < 0 && errno != EINTR)
            break;
        if (r == 0 && now_ms() >= deadline) {
            if (!termed) {
                kill(pid, SIGTERM);
                termed = c->timed_out = true;
                deadline = now_ms() + TERM_GRACE_MS;
            } else if (!killed) {
                kill(pid, SIGKILL);
                killed = true;
                deadline = now_ms() + TERM_GRACE_MS;
            } else {
                break; /* someone else holds the pipes; stop reading */
            }
            continue;
        }
        if (pfd[0].revents)
            drain(&outp[0], c->out, &c->out_len);
        if (pfd[1].revents)
            drain(&errp[0], c->err, &c->err_len);
    }
    /* The pipes are closed: it has exited, or is about to. */
    for (uint64_t until = now_ms() + TERM_GRACE_MS;;) {
        w = waitpid(pid, &st, WNOHANG);
        if (w != 0 || now_ms() >= until)
            break;
        usleep(10000);
    }
    if (w == 0) {
        kill(pid, SIGKILL);
        do {
            w = waitpid(pid, &st, 0);
        } while (w < 0 && errno == EINTR);
    }
    if (w == pid)
        c->status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
    if (verbose) {
        fprintf(stderr, "%s", c->err);
        fprintf(stderr, "lapis: probe: exit status %d%s\n", c->status,
                c->timed_out ? " (timed out)" : "");
    }
out:
    for (unsigned i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    free(env);
}

#define STATS_PREFIX "lapis: stats: "

/* The last "lapis: " line of stderr that is not the statistics line. */
static void last_message(const struct child *c, char *out, size_t len)
{
    const char *best = NULL, *best_end = NULL;

    out[0] = '\0';
    for (const char *line = c->err; line && *line;) {
        const char *end = strchr(line, '\n');
        if (!end)
            end = line + strlen(line);
        if (!strncmp(line, "lapis: ", 7) && strncmp(line, STATS_PREFIX, strlen(STATS_PREFIX))) {
            best = line + 7;
            best_end = end;
        }
        line = *end ? end + 1 : NULL;
    }
    if (best)
        snprintf(out, len, "%.*s", (int)(best_end - best), best);
}

/* "exit status 6: guest crashed: ..." */
static void describe_failure(const struct child *c, const char *what, char *out, size_t len)
{
    char msg[200];

    if (c->spawn_error[0]) {
        snprintf(out, len, "%s", c->spawn_error);
        return;
    }
    last_message(c, msg, sizeof(msg));
    if (c->timed_out)
        snprintf(out, len, "%s did not finish in time%s%s", what, msg[0] ? ": " : "", msg);
    else
        snprintf(out, len, "%s exited with status %d%s%s", what, c->status, msg[0] ? ": " : "",
                 msg);
}

/* ---- 3. The §4 rows --------------------------------------------------------------------- */

static void run_mode(struct lapis_probe_mode *m, const char *lapis_dir, bool verbose,
                     struct child *c)
{
    char guest[PATH_MAX + 32];
    char *argv[16];
    unsigned n = 0;

    snprintf(guest, sizeof(guest), "%s/%s", lapis_dir, PROBE_GUEST);
    argv[n++] = "lapis";
    argv[n++] = "run";
    argv[n++] = "--kernel";
    argv[n++] = guest;
    argv[n++] = "--memory";
    argv[n++] = "64M";
    argv[n++] = "--eoi-suppression";
    argv[n++] = (char *)m->mode;
    if (!strcmp(m->irqchip, "kernel")) {
        argv[n++] = "--irqchip";
        argv[n++] = "kernel";
    } else {
        argv[n++] = "--ioapic-version";
        argv[n++] = "0x20";
    }
    argv[n] = NULL;

    run_child(argv, MODE_TIMEOUT_MS, verbose, c);
    lapis_probe_mode_record(m, c->status, c->timed_out, c->out, c->err);
    if (c->status != 0 || c->timed_out)
        describe_failure(c, "lapis run", m->error, sizeof(m->error));
}

/* ---- 4. The §7 rows --------------------------------------------------------------------- */

static void run_halt(struct lapis_probe_halt *h, const char *lapis_dir, bool recovery,
                     unsigned timeout_ms, bool verbose, struct child *c)
{
    char guest[PATH_MAX + 32];
    char *argv[12];
    unsigned n = 0;

    snprintf(guest, sizeof(guest), "%s/%s", lapis_dir, HALT_GUEST);
    h->timeout_ms = timeout_ms;
    if (access(guest, R_OK) != 0) {
        snprintf(h->error, sizeof(h->error), "%.240s not found: run 'make guests'", guest);
        return;
    }
    argv[n++] = "lapis";
    argv[n++] = "run";
    argv[n++] = "--kernel";
    argv[n++] = guest;
    argv[n++] = "--memory";
    argv[n++] = "64M";
    argv[n++] = "--cmdline";
    argv[n++] = HALT_ARGS;
    if (!recovery)
        argv[n++] = "--no-eoi-recovery";
    argv[n] = NULL;

    run_child(argv, timeout_ms, verbose, c);
    lapis_probe_halt_record(h, c->status, c->timed_out, c->err);
}

/* ---- the whole probe -------------------------------------------------------------------- */

static const struct {
    const char *mode, *irqchip;
} mode_rows[LAPIS_PROBE_MODES] = {
    [LAPIS_PROBE_QUIRK] = {"quirk", "split"},
    [LAPIS_PROBE_ENABLE] = {"enable", "split"},
    [LAPIS_PROBE_DISABLE] = {"disable", "split"},
    [LAPIS_PROBE_KERNEL] = {"quirk", "kernel"},
};

/* The directory of this binary: the guests are in its guest/. */
static int lapis_dir(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    if (n <= 0)
        return -errno;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (!slash)
        return -ENOENT;
    *slash = '\0';
    if ((size_t)snprintf(out, len, "%s", exe[0] ? exe : "/") >= len)
        return -ENAMETOOLONG;
    return 0;
}

static const char *errno_name(int e);

int lapis_probe_run(const struct lapis_probe_options *opts, struct lapis_probe_report *rep,
                    struct lapis_err *err)
{
    struct lapis_kvm kvm;
    struct utsname u;
    char dir[PATH_MAX], guest[PATH_MAX + 32];
    struct child *c;
    int r;

    memset(rep, 0, sizeof(*rep));
    if (uname(&u) == 0)
        snprintf(rep->kernel_release, sizeof(rep->kernel_release), "%s", u.release);
    r = lapis_kvm_open(&kvm, err);
    if (r)
        return r;
    if (lapis_dir(dir, sizeof(dir)) != 0) {
        lapis_kvm_close(&kvm);
        return lapis_err_set(err, LAPIS_ERR_HOST, ENOENT,
                             "cannot find the lapis binary through /proc/self/exe");
    }
    snprintf(guest, sizeof(guest), "%s/%s", dir, PROBE_GUEST);
    if (access(guest, R_OK) != 0) {
        lapis_kvm_close(&kvm);
        return lapis_err_set(err, LAPIS_ERR_USAGE, ENOENT,
                             "probe guest '%s' not found: run 'make guests'", guest);
    }

    r = probe_caps(kvm.fd, rep, err);
    if (r) {
        lapis_kvm_close(&kvm);
        return r;
    }
    auto_policy(kvm.fd, false, 0x20, rep->auto_20, sizeof(rep->auto_20));
    auto_policy(kvm.fd, false, 0x11, rep->auto_11, sizeof(rep->auto_11));
    lapis_kvm_close(&kvm);

    c = malloc(sizeof(*c));
    if (!c)
        return lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory");
    for (unsigned i = 0; i < LAPIS_PROBE_MODES; i++) {
        struct lapis_probe_mode *m = &rep->modes[i];

        m->mode = mode_rows[i].mode;
        m->irqchip = mode_rows[i].irqchip;
        /* Each mode only where the kernel accepts it. */
        if (i == LAPIS_PROBE_KERNEL && !rep->kernel_irqchip)
            snprintf(m->skipped, sizeof(m->skipped),
                     "not run: no in-kernel irqchip (KVM_CAP_IRQCHIP)");
        else if (i != LAPIS_PROBE_KERNEL && !rep->split_irqchip)
            snprintf(m->skipped, sizeof(m->skipped), "not run: no split irqchip");
        else if (i == LAPIS_PROBE_ENABLE && rep->caps[LAPIS_PROBE_CAP_ENABLE_SPLIT].err)
            snprintf(m->skipped, sizeof(m->skipped),
                     "not supported: the kernel refuses KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST "
                     "(%s)",
                     errno_name(rep->caps[LAPIS_PROBE_CAP_ENABLE_SPLIT].err));
        else if (i == LAPIS_PROBE_DISABLE && rep->caps[LAPIS_PROBE_CAP_DISABLE_SPLIT].err)
            snprintf(m->skipped, sizeof(m->skipped),
                     "not supported: the kernel refuses KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST "
                     "(%s)",
                     errno_name(rep->caps[LAPIS_PROBE_CAP_DISABLE_SPLIT].err));
        else
            run_mode(m, dir, opts->verbose, c);
    }
    if (rep->split_irqchip) {
        run_halt(&rep->halt_off, dir, false, HELD_BACK_WAIT_MS, opts->verbose, c);
        run_halt(&rep->halt_on, dir, true, RECOVERY_TIMEOUT_MS, opts->verbose, c);
    } else {
        snprintf(rep->halt_off.error, sizeof(rep->halt_off.error), "no split irqchip");
        snprintf(rep->halt_on.error, sizeof(rep->halt_on.error), "no split irqchip");
    }
    lapis_probe_halt_verdict(&rep->halt_off, &rep->halt_on, &rep->held_back, &rep->recovery);
    free(c);
    return 0;
}

/* ---- 5. Output -------------------------------------------------------------------------- */

static const char *yes_no(enum lapis_probe_answer a)
{
    switch (a) {
    case LAPIS_PROBE_YES:
        return "yes";
    case LAPIS_PROBE_NO:
        return "no";
    case LAPIS_PROBE_NA:
        return "n/a";
    case LAPIS_PROBE_UNKNOWN:
        break;
    }
    return "?";
}

static const char *errno_name(int e)
{
    switch (e) {
    case 0:
        return "accepted";
    case EINVAL:
        return "EINVAL";
    case ENXIO:
        return "ENXIO";
    case ENOTTY:
        return "ENOTTY";
    case EEXIST:
        return "EEXIST";
    case EBUSY:
        return "EBUSY";
    case EPERM:
        return "EPERM";
    case EOPNOTSUPP:
        return "EOPNOTSUPP";
    }
    return "error";
}

/* What a level EOI did, as the §4 table says it. */
static const char *eoi_cell(const struct lapis_probe_mode *m, enum lapis_probe_answer a, bool svr12)
{
    bool kernel = !strcmp(m->irqchip, "kernel");

    switch (a) {
    case LAPIS_PROBE_YES:
        if (kernel)
            return "in-kernel EOI";
        return svr12 ? "EOI exit (SVR.12 ignored)" : "EOI exit";
    case LAPIS_PROBE_NO:
        return kernel ? "suppressed" : "no exit (guest EOIs via EOIR)";
    case LAPIS_PROBE_NA:
        return "n/a";
    case LAPIS_PROBE_UNKNOWN:
        break;
    }
    return "?";
}

static const char *policy_text(const char *mode)
{
    if (!strcmp(mode, "enable"))
        return "Directed EOI offered and honoured; the guest EOIs through EOIR";
    if (!strcmp(mode, "disable"))
        return "no Directed EOI; every level EOI is broadcast by exit";
    if (!strcmp(mode, "enable-emulated"))
        return "quirked kernel, lapis ignores EOI exits while SVR.12 is set";
    if (!strcmp(mode, "quirk"))
        return "quirked: broadcast on every exit, Directed EOI guests cannot EOI the IOAPIC";
    return "could not be determined";
}

void lapis_probe_print_text(FILE *f, const struct lapis_probe_report *rep)
{
    const struct lapis_probe_mode *q = &rep->modes[LAPIS_PROBE_QUIRK];

    fprintf(f, "lapis probe: KVM on this host, measured (Linux %s)\n\n",
            rep->kernel_release[0] ? rep->kernel_release : "?");
    fprintf(f, "%-32s%d\n", "KVM API version", rep->api_version);
    fprintf(f, "%-32s%s", "split irqchip", rep->split_irqchip ? "yes" : "no");
    if (!rep->split_irqchip)
        fprintf(f, " (%s)", strerror(rep->split_err));
    fprintf(f, "\n%-32s%s\n", "in-kernel irqchip", rep->kernel_irqchip ? "yes" : "no");
    fprintf(f, "%-32s%s\n", "x2APIC in guest CPUID",
            q->ran && !q->error[0] ? (q->x2apic ? "yes" : "no") : "?");
    fprintf(f, "%-32ssystem fd 0x%lx, VM fd 0x%lx", "KVM_CAP_X2APIC_API", rep->x2apic_api_system,
            rep->x2apic_api_vm);
    if (rep->split_irqchip)
        fprintf(f, ", VM fd with split irqchip 0x%lx", rep->x2apic_api_vm_split);
    fprintf(f, "\n%-32s%s\n", "EOI broadcast flags (bits 2, 3)",
            rep->eoi_flags ? "offered (Linux 7.0, 6.18.17+)" : "not offered (older kernel)");
    fprintf(f, "KVM_ENABLE_CAP(KVM_CAP_X2APIC_API), each on a fresh VM:\n");
    for (unsigned i = 0; i < LAPIS_PROBE_CAP_CASES; i++) {
        const struct lapis_probe_cap *c = &rep->caps[i];
        char what[48];

        snprintf(what, sizeof(what), "%s, %s", c->flags, c->split ? "split irqchip" : "no split");
        if (!c->ran) {
            fprintf(f, "  %-30s not tried\n", what);
            continue;
        }
        fprintf(f, "  %-30s %s", what, errno_name(c->err));
        if (c->err == c->expected)
            fprintf(f, " (as upstream)\n");
        else
            fprintf(f, " (upstream: %s)\n", errno_name(c->expected));
    }

    fprintf(f, "\n%-8s| %-8s| %-11s| %-14s| %-26s| %s\n", "mode", "irqchip", "LVR bit 24",
            "SVR.12 sticks", "level EOI, SVR.12=0", "level EOI, SVR.12=1");
    fprintf(f, "--------+---------+------------+---------------+---------------------------+----"
               "-----------------------\n");
    for (unsigned i = 0; i < LAPIS_PROBE_MODES; i++) {
        const struct lapis_probe_mode *m = &rep->modes[i];

        fprintf(f, "%-8s| %-8s| ", m->mode, m->irqchip);
        if (!m->ran) {
            fprintf(f, "%s\n", m->skipped);
            continue;
        }
        fprintf(f, "%-11s| %-14s| %-26s| %s\n", yes_no(m->lvr_directed_eoi),
                yes_no(m->svr12_sticks), eoi_cell(m, m->eoi_svr12_clear, false),
                eoi_cell(m, m->eoi_with_svr12, true));
        if (m->error[0])
            fprintf(f, "        ! %s\n", m->error);
    }

    fprintf(f, "\nEOI exit held back while the vCPU halts (spec §7): %s", yes_no(rep->held_back));
    if (rep->halt_off.ran && rep->held_back == LAPIS_PROBE_YES)
        fprintf(f,
                " (halt_eoi stalled %.1f s with recovery off: %" PRIu64 " interrupt(s), %" PRIu64
                " EOI exit(s))",
                rep->halt_off.timeout_ms / 1000.0, rep->halt_off.irqs, rep->halt_off.eoi_exits);
    else if (rep->held_back == LAPIS_PROBE_NO)
        fprintf(f, " (halt_eoi finished with recovery off)");
    else if (rep->halt_off.error[0])
        fprintf(f, " (%s)", rep->halt_off.error);
    fprintf(f, "\nlapis's recovery of held-back EOI exits:          %s", yes_no(rep->recovery));
    if (rep->recovery == LAPIS_PROBE_YES)
        fprintf(f, " (halt_eoi finished: %" PRIu64 " interrupts, %" PRIu64 " recoveries)",
                rep->halt_on.irqs, rep->halt_on.recoveries);
    else if (rep->recovery == LAPIS_PROBE_NA)
        fprintf(f, " (not needed: nothing was held back)");
    else if (rep->halt_on.error[0])
        fprintf(f, " (%s)", rep->halt_on.error);
    fprintf(f, "\n\nauto policy here: %s with an IOAPIC 0x20 (%s); %s with 0x11 (%s)\n",
            rep->auto_20, policy_text(rep->auto_20), rep->auto_11, policy_text(rep->auto_11));
}

static void json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* A non-empty message, or null. */
static void json_msg(FILE *f, const char *s)
{
    json_str(f, s && s[0] ? s : NULL);
}

/* true / false; n/a and unknown are null. */
static const char *json_answer(enum lapis_probe_answer a)
{
    return a == LAPIS_PROBE_YES ? "true" : a == LAPIS_PROBE_NO ? "false" : "null";
}

static const char *json_bool(bool b)
{
    return b ? "true" : "false";
}

static void json_halt(FILE *f, const char *name, const struct lapis_probe_halt *h,
                      const char *answer_key, enum lapis_probe_answer a)
{
    fprintf(f, "  \"%s\": {\"%s\": %s, \"ran\": %s, \"status\": %d, \"timed_out\": %s, ", name,
            answer_key, json_answer(a), json_bool(h->ran), h->ran ? h->status : -1,
            json_bool(h->timed_out));
    fprintf(f, "\"timeout_ms\": %u, ", h->timeout_ms);
    if (h->have_stats)
        fprintf(f, "\"irqs\": %" PRIu64 ", \"eoi_exits\": %" PRIu64 ", \"recoveries\": %" PRIu64,
                h->irqs, h->eoi_exits, h->recoveries);
    else
        fprintf(f, "\"irqs\": null, \"eoi_exits\": null, \"recoveries\": null");
    fprintf(f, ", \"error\": ");
    json_msg(f, h->error);
    fprintf(f, "}");
}

void lapis_probe_print_json(FILE *f, const struct lapis_probe_report *rep)
{
    fprintf(f, "{\n  \"lapis_version\": ");
    json_str(f, LAPIS_VERSION);
    fprintf(f, ",\n  \"kernel_release\": ");
    json_msg(f, rep->kernel_release);
    fprintf(f, ",\n  \"kvm\": {\n    \"api_version\": %d,\n    \"split_irqchip\": %s,\n",
            rep->api_version, json_bool(rep->split_irqchip));
    fprintf(f, "    \"in_kernel_irqchip\": %s,\n", json_bool(rep->kernel_irqchip));
    fprintf(f,
            "    \"x2apic_api\": {\"system\": %ld, \"vm\": %ld, \"vm_split_irqchip\": %ld},\n"
            "    \"eoi_broadcast_flags\": %s,\n    \"enable_cap\": [\n",
            rep->x2apic_api_system, rep->x2apic_api_vm, rep->x2apic_api_vm_split,
            json_bool(rep->eoi_flags));
    for (unsigned i = 0; i < LAPIS_PROBE_CAP_CASES; i++) {
        const struct lapis_probe_cap *c = &rep->caps[i];

        fprintf(f, "      {\"flags\": ");
        json_str(f, c->flags);
        fprintf(f, ", \"split_irqchip\": %s, \"ran\": %s, ", json_bool(c->split),
                json_bool(c->ran));
        if (c->ran)
            fprintf(f, "\"accepted\": %s, \"errno\": %d, \"error\": %s%s%s, \"as_upstream\": %s}",
                    json_bool(c->err == 0), c->err, c->err ? "\"" : "",
                    c->err ? errno_name(c->err) : "null", c->err ? "\"" : "",
                    json_bool(c->err == c->expected));
        else
            fprintf(f, "\"accepted\": null, \"errno\": null, \"error\": null, "
                       "\"as_upstream\": null}");
        fprintf(f, "%s\n", i + 1 < LAPIS_PROBE_CAP_CASES ? "," : "");
    }
    fprintf(f, "    ]\n  },\n  \"modes\": [\n");
    for (unsigned i = 0; i < LAPIS_PROBE_MODES; i++) {
        const struct lapis_probe_mode *m = &rep->modes[i];
        bool ok = m->ran;

        fprintf(f,
                "    {\"mode\": \"%s\", \"irqchip\": \"%s\", \"ran\": %s, \"skipped\": ", m->mode,
                m->irqchip, json_bool(m->ran));
        json_msg(f, m->skipped);
        fprintf(f, ", \"error\": ");
        json_msg(f, m->error);
        if (ok) {
            fprintf(f, ", \"status\": %d, \"x2apic\": %s, \"lvr\": \"0x%08x\", ", m->status,
                    json_bool(m->x2apic), m->lvr);
            fprintf(f, "\"ioapic_version\": %u,\n     ", m->ioapic_version);
            fprintf(f, "\"lvr_directed_eoi\": %s, \"svr12_sticks\": %s, ",
                    json_answer(m->lvr_directed_eoi), json_answer(m->svr12_sticks));
            fprintf(f, "\"level_eoi_svr12_clear\": %s, \"level_eoi_with_svr12\": %s,\n     ",
                    json_answer(m->eoi_svr12_clear), json_answer(m->eoi_with_svr12));
            fprintf(f,
                    "\"deliveries_svr12_clear\": %u, \"deliveries_with_svr12\": %u, "
                    "\"eoi_exits\": %" PRIu64,
                    m->deliveries_svr12_clear, m->deliveries_with_svr12, m->eoi_exits);
        }
        fprintf(f, "}%s\n", i + 1 < LAPIS_PROBE_MODES ? "," : "");
    }
    fprintf(f, "  ],\n");
    json_halt(f, "held_back_eoi", &rep->halt_off, "held_back", rep->held_back);
    fprintf(f, ",\n");
    json_halt(f, "eoi_recovery", &rep->halt_on, "works", rep->recovery);
    fprintf(f, ",\n  \"auto_policy\": {\"ioapic_0x20\": ");
    json_str(f, rep->auto_20);
    fprintf(f, ", \"ioapic_0x11\": ");
    json_str(f, rep->auto_11);
    fprintf(f, "}\n}\n");
}
