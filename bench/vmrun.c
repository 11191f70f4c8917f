/* SPDX-License-Identifier: MIT */
/*
 * vmrun: runs one VMM process and measures it the same way whatever the VMM
 * is, so lapis and QEMU are compared on equal terms. Prints one JSON object:
 *
 *   - the child's own resource use from wait4(): user and system CPU, peak RSS;
 *   - wall time from just before fork() to the reap, and the CLOCK_MONOTONIC
 *     times of the fork and of the child's execve() (lapis reports its first
 *     KVM_RUN on the same clock);
 *   - with -e, kernel tracepoint counts for the child and all its threads
 *     (perf_event_open, inherited, enabled at exec): KVM_RUN returns by exit
 *     reason (kvm:kvm_userspace_exit), ioctls by request
 *     (syscalls:sys_enter_ioctl), and all syscalls (raw_syscalls:sys_enter);
 *   - with -m MiB, the resident size of the guest RAM mapping (the anonymous
 *     mapping of that size, found in /proc/PID/smaps, read every 250 ms);
 *   - with -u PERIOD_US, the child's user-mode time by sampling: a task-clock
 *     timer every PERIOD_US of the child's CPU time, counted only when it
 *     fires in user mode. getrusage() is the same estimate at the scheduler
 *     tick (4 ms at HZ=250), too coarse for microseconds per operation;
 *   - with -S/-F, the time (and user samples) when a line containing the
 *     start / finish marker appears on the child's stdout: the guest prints
 *     one before and one after its loop, which times the loop alone.
 *
 * Usage: vmrun [-e] [-m MiB] [-u us] [-S start] [-F finish] [-t s] [-o stdout]
 *              [-E stderr] -- cmd [args]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define SAMPLE_MS 20
#define RSS_MS    250
#define MAX_CPUS  256
#define RB_PAGES  16 /* ring buffer data pages per CPU (a power of two) */

struct event {
    const char *name;       /* key in the JSON "events" object */
    const char *tracepoint; /* "system/name" under tracefs events/ */
    char filter[96];        /* perf filter, "" for none */
    int fd;
    uint64_t count;
};

static struct event events[64];
static unsigned nevents;

/* @filter is copied; NULL or "" for none. */
static struct event *add_event(const char *name, const char *tp, const char *filter)
{
    struct event *e = &events[nevents++];

    e->name = name;
    e->tracepoint = tp;
    e->fd = -1;
    snprintf(e->filter, sizeof(e->filter), "%s", filter ? filter : "");
    return e;
}

static void add_exit(const char *name, unsigned reason)
{
    struct event *e = add_event(name, "kvm/kvm_userspace_exit", NULL);
    snprintf(e->filter, sizeof(e->filter), "errno == 0 && reason == %u", reason);
}

static void add_syscall(const char *name, long nr)
{
    struct event *e = add_event(name, "raw_syscalls/sys_enter", NULL);
    snprintf(e->filter, sizeof(e->filter), "id == %ld", nr);
}

/*
 * An ioctl request: QEMU passes it through an int, so requests with bit 31
 * set arrive sign-extended in the 64-bit syscall argument. Match both forms.
 */
static void add_ioctl(const char *name, unsigned long req)
{
    struct event *e = &events[nevents++];
    unsigned long ext = (unsigned long)(long)(int)(unsigned)req;

    e->name = name;
    e->tracepoint = "syscalls/sys_enter_ioctl";
    e->fd = -1;
    if (ext != req)
        snprintf(e->filter, sizeof(e->filter), "cmd == %#lx || cmd == %#lx", req, ext);
    else
        snprintf(e->filter, sizeof(e->filter), "cmd == %#lx", req);
}

/* The set compared in bench/: exits by reason, KVM ioctls by request, syscalls. */
static void default_events(void)
{
    static const char exit_tp[] = "kvm/kvm_userspace_exit";
    static const char ioctl_tp[] = "syscalls/sys_enter_ioctl";
    static const char sys_tp[] = "raw_syscalls/sys_enter";

    /* errno != 0: KVM_RUN returned early (signal, immediate_exit); reason is stale then. */
    add_event("exit.total", exit_tp, "errno == 0");
    add_exit("exit.io", KVM_EXIT_IO);
    add_exit("exit.mmio", KVM_EXIT_MMIO);
    add_exit("exit.ioapic_eoi", KVM_EXIT_IOAPIC_EOI);
    add_exit("exit.hlt", KVM_EXIT_HLT);
    add_exit("exit.intr", KVM_EXIT_INTR);
    add_event("exit.interrupted", exit_tp, "errno != 0");
    add_event("ioctl.total", ioctl_tp, NULL);
    add_ioctl("ioctl.KVM_RUN", KVM_RUN);
    add_ioctl("ioctl.KVM_IRQ_LINE", KVM_IRQ_LINE);
    add_ioctl("ioctl.KVM_IRQ_LINE_STATUS", KVM_IRQ_LINE_STATUS);
    add_ioctl("ioctl.KVM_SET_GSI_ROUTING", KVM_SET_GSI_ROUTING);
    add_ioctl("ioctl.KVM_SIGNAL_MSI", KVM_SIGNAL_MSI);
    add_ioctl("ioctl.KVM_IRQFD", KVM_IRQFD);
    add_ioctl("ioctl.KVM_GET_LAPIC", KVM_GET_LAPIC);
    add_ioctl("ioctl.KVM_SET_LAPIC", KVM_SET_LAPIC);
    add_ioctl("ioctl.KVM_GET_MP_STATE", KVM_GET_MP_STATE);
    add_ioctl("ioctl.KVM_SET_MP_STATE", KVM_SET_MP_STATE);
    add_event("syscall.total", sys_tp, NULL);
    add_syscall("syscall.ioctl", SYS_ioctl);
    add_syscall("syscall.futex", SYS_futex);
    add_syscall("syscall.write", SYS_write);
    add_syscall("syscall.read", SYS_read);
    add_syscall("syscall.ppoll", SYS_ppoll);
    add_syscall("syscall.poll", SYS_poll);
}

/* User-mode samples of the child: one task-clock event per CPU (inherited events may not
 * be mmapped per task), each with a small ring buffer that is drained while the child runs. */
struct sampler {
    unsigned ncpu;
    int fd[MAX_CPUS];
    void *rb[MAX_CPUS];
    size_t page;
    pid_t pid;
    uint64_t period_ns, samples, lost;
    uint64_t at_syscall; /* samples right after a syscall instruction (see syscall_return) */
};

static struct sampler sampler;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long tracepoint_id(const char *tp)
{
    static const char *const roots[] = {"/sys/kernel/tracing/events",
                                        "/sys/kernel/debug/tracing/events"};
    char path[256];
    long id = -1;

    for (unsigned i = 0; i < 2 && id < 0; i++) {
        FILE *f;
        snprintf(path, sizeof(path), "%s/%s/id", roots[i], tp);
        f = fopen(path, "re");
        if (!f)
            continue;
        if (fscanf(f, "%ld", &id) != 1)
            id = -1;
        fclose(f);
    }
    return id;
}

/* Opens every event on @pid, counting from its exec. Returns 0, or -1 with a message. */
static int open_events(pid_t pid, char *why, size_t len)
{
    for (unsigned i = 0; i < nevents; i++) {
        struct event *e = &events[i];
        struct perf_event_attr a;
        long id = tracepoint_id(e->tracepoint);

        if (id < 0) {
            snprintf(why, len, "tracepoint %s not found (is tracefs mounted?)", e->tracepoint);
            return -1;
        }
        memset(&a, 0, sizeof(a));
        a.type = PERF_TYPE_TRACEPOINT;
        a.size = sizeof(a);
        a.config = (uint64_t)id;
        a.disabled = 1;
        a.enable_on_exec = 1;
        a.inherit = 1;
        e->fd = (int)syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
        if (e->fd < 0) {
            snprintf(why, len, "perf_event_open(%s): %s", e->tracepoint, strerror(errno));
            return -1;
        }
        if (e->filter[0] && ioctl(e->fd, PERF_EVENT_IOC_SET_FILTER, e->filter) < 0) {
            snprintf(why, len, "filter '%s' on %s: %s", e->filter, e->tracepoint, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Rss (kB) of the anonymous mappings whose size is @ram_kb up to 8 MiB more (alignment). */
static uint64_t guest_ram_rss_kb(pid_t pid, uint64_t ram_kb)
{
    char path[64], line[512];
    uint64_t size = 0, total = 0;
    bool anon = false;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long v;
        char name[256];

        size_t tok = strcspn(line, " \t\n");

        if (tok && line[tok - 1] != ':') {
            /* "start-end perms offset dev inode [name]": anonymous if no name */
            name[0] = '\0';
            sscanf(line, "%*s %*s %*s %*s %*s %255s", name);
            anon = !name[0];
            size = 0;
        } else if (sscanf(line, "Size: %llu kB", &v) == 1) {
            size = v;
        } else if (sscanf(line, "Rss: %llu kB", &v) == 1) {
            if (anon && size >= ram_kb && size <= ram_kb + 8192)
                total += v;
        }
    }
    fclose(f);
    return total;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static int sampler_open(struct sampler *sp, pid_t pid, uint64_t period_ns, char *why, size_t len)
{
    long n = sysconf(_SC_NPROCESSORS_CONF);

    sp->page = (size_t)sysconf(_SC_PAGESIZE);
    sp->pid = pid;
    sp->period_ns = period_ns;
    sp->ncpu = n < 1 ? 1 : (n > MAX_CPUS ? MAX_CPUS : (unsigned)n);
    for (unsigned c = 0; c < sp->ncpu; c++) {
        struct perf_event_attr a;

        memset(&a, 0, sizeof(a));
        a.type = PERF_TYPE_SOFTWARE;
        a.size = sizeof(a);
        a.config = PERF_COUNT_SW_TASK_CLOCK;
        a.sample_period = period_ns;
        a.sample_type = PERF_SAMPLE_IP;
        a.exclude_kernel = 1;
        a.exclude_hv = 1;
        a.disabled = 1;
        a.enable_on_exec = 1;
        a.inherit = 1;
        sp->fd[c] = (int)syscall(SYS_perf_event_open, &a, pid, (int)c, -1, PERF_FLAG_FD_CLOEXEC);
        if (sp->fd[c] < 0) {
            snprintf(why, len, "perf_event_open(task-clock, cpu %u): %s", c, strerror(errno));
            return -1;
        }
        sp->rb[c] =
            mmap(NULL, (1 + RB_PAGES) * sp->page, PROT_READ | PROT_WRITE, MAP_SHARED, sp->fd[c], 0);
        if (sp->rb[c] == MAP_FAILED) {
            snprintf(why, len, "mmap of the sample buffer: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/*
 * Is @ip right after a `syscall` instruction (0f 05)? A timer that fires while
 * the kernel returns to user space with interrupts off is taken at the first
 * user instruction: that sample is kernel time charged to user mode. (The
 * scheduler tick behind getrusage() has the same bias.) A small cache keeps
 * the child's memory reads few.
 */
static bool syscall_return(pid_t pid, uint64_t ip)
{
    static struct {
        uint64_t ip;
        bool yes;
    } cache[256];
    unsigned h = (unsigned)((ip >> 1) ^ (ip >> 9)) % 256;
    unsigned char b[2] = {0, 0};
    struct iovec local = {.iov_base = b, .iov_len = 2};
    struct iovec remote = {.iov_base = (void *)(uintptr_t)(ip - 2), .iov_len = 2};

    if (cache[h].ip == ip)
        return cache[h].yes;
    if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != 2)
        return false;
    cache[h].ip = ip;
    cache[h].yes = b[0] == 0x0f && b[1] == 0x05;
    return cache[h].yes;
}

/* Counts the records written since the last call and frees their space. */
static void sampler_drain(struct sampler *sp)
{
    for (unsigned c = 0; c < sp->ncpu; c++) {
        struct perf_event_mmap_page *m = sp->rb[c];
        const unsigned char *data = (const unsigned char *)sp->rb[c] + sp->page;
        uint64_t size = RB_PAGES * sp->page, head, tail;

        if (!m)
            continue;
        head = __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE);
        tail = m->data_tail;
        while (tail + sizeof(struct perf_event_header) <= head) {
            struct perf_event_header h;
            uint64_t rec[2];

            /* Records are 8-byte aligned and the buffer a multiple of 8: headers never wrap. */
            memcpy(&h, data + tail % size, sizeof(h));
            if (h.size == 0)
                break;
            if (h.type == PERF_RECORD_SAMPLE) {
                uint64_t ip;
                memcpy(&ip, data + (tail + sizeof(h)) % size, 8);
                sp->samples++;
                if (syscall_return(sp->pid, ip))
                    sp->at_syscall++;
            } else if (h.type == PERF_RECORD_LOST) {
                for (unsigned i = 0; i < 2; i++)
                    memcpy(&rec[i], data + (tail + sizeof(h) + 8 * i) % size, 8);
                sp->lost += rec[1];
            }
            tail += h.size;
        }
        __atomic_store_n(&m->data_tail, tail, __ATOMIC_RELEASE);
    }
}

/* utime + stime of the whole process from /proc (clock ticks), -1 if unreadable. */
static void proc_times(pid_t pid, long long *ut, long long *st)
{
    char path[64], buf[1024], *p;
    FILE *f;

    *ut = *st = -1;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return;
    if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", ut, st);
    fclose(f);
}

struct mark {
    const char *text;
    bool seen;
    uint64_t ns, samples, at_syscall;
    long long utime_ticks, stime_ticks;
};

/* Copies the child's stdout to @out_fd line by line, timing the marker lines. */
struct linebuf {
    char buf[4096];
    size_t len;
};

static void scan_line(const char *line, struct mark *marks, unsigned nmarks, pid_t pid)
{
    for (unsigned i = 0; i < nmarks; i++) {
        struct mark *mk = &marks[i];
        if (mk->text && !mk->seen && strstr(line, mk->text)) {
            mk->seen = true;
            mk->ns = now_ns();
            sampler_drain(&sampler);
            mk->samples = sampler.samples;
            mk->at_syscall = sampler.at_syscall;
            proc_times(pid, &mk->utime_ticks, &mk->stime_ticks);
        }
    }
}

/* Returns false at EOF. */
static bool pump(int in_fd, int out_fd, struct linebuf *lb, struct mark *marks, unsigned nmarks,
                 pid_t pid)
{
    char chunk[4096];
    ssize_t n = read(in_fd, chunk, sizeof(chunk));

    if (n <= 0)
        return !(n == 0 || (errno != EINTR && errno != EAGAIN));
    if (write(out_fd, chunk, (size_t)n) != n) {
        /* a short write to the output file loses output only; keep timing */
    }
    for (ssize_t i = 0; i < n; i++) {
        if (lb->len < sizeof(lb->buf) - 1)
            lb->buf[lb->len++] = chunk[i];
        if (chunk[i] == '\n') {
            lb->buf[lb->len] = '\0';
            scan_line(lb->buf, marks, nmarks, pid);
            lb->len = 0;
        }
    }
    return true;
}

static void usage(void)
{
    fputs("usage: vmrun [-e] [-m MiB] [-u us] [-S start] [-F finish] [-t s] [-o stdout] "
          "[-E stderr] -- cmd [args...]\n",
          stderr);
    exit(2);
}

static void print_mark(const struct mark *mk, uint64_t t0)
{
    if (!mk->seen) {
        fputs("null", stdout);
        return;
    }
    printf("{\"ns\":%" PRIu64 ",\"user_samples\":%" PRIu64 ",\"user_samples_at_syscall\":%" PRIu64
           ",\"utime_ticks\":%lld,\"stime_ticks\":%lld}",
           mk->ns - t0, mk->samples, mk->at_syscall, mk->utime_ticks, mk->stime_ticks);
}

int main(int argc, char **argv)
{
    const char *out = "/dev/null", *errf = NULL;
    bool with_events = false, running = true, open_out = true;
    uint64_t ram_kb = 0, rss_kb = 0, t0, t1, deadline, period_ns = 0, next_rss = 0;
    double timeout_s = 600;
    int go[2], outp[2], out_fd, opt, status = 0, pidfd;
    bool timed_out = false;
    char why[256] = "";
    struct mark marks[2] = {{0}, {0}};
    struct linebuf lb = {.len = 0};
    struct rusage ru;
    uint64_t *exec_ns;
    pid_t pid;

    while ((opt = getopt(argc, argv, "em:u:S:F:t:o:E:")) != -1) {
        switch (opt) {
        case 'e':
            with_events = true;
            break;
        case 'm':
            ram_kb = strtoull(optarg, NULL, 0) * 1024;
            break;
        case 'u':
            period_ns = strtoull(optarg, NULL, 0) * 1000;
            break;
        case 'S':
            marks[0].text = optarg;
            break;
        case 'F':
            marks[1].text = optarg;
            break;
        case 't':
            timeout_s = strtod(optarg, NULL);
            break;
        case 'o':
            out = optarg;
            break;
        case 'E':
            errf = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind >= argc)
        usage();
    if (with_events)
        default_events();
    /* Whoever started vmrun goes, vmrun goes (and its child with it, below). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
        fprintf(stderr, "vmrun: cannot set up the output '%s': %s\n", out, strerror(errno));
        return 4;
    }

    /* The child notes when it calls execve(): the process start, for start-up figures. */
    exec_ns =
        mmap(NULL, sizeof(*exec_ns), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (exec_ns == MAP_FAILED) {
        perror("vmrun: mmap");
        return 4;
    }
    *exec_ns = 0;
    t0 = now_ns();
    pid = fork();
    if (pid < 0) {
        perror("vmrun: fork");
        return 4;
    }
    if (pid == 0) {
        char c;
        int fd;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* Wait until the counters are attached; EOF means the parent gave up. */
        if (read(go[0], &c, 1) != 1)
            _exit(127);
        fd = open("/dev/null", O_RDONLY);
        if (fd >= 0)
            dup2(fd, 0);
        dup2(outp[1], 1);
        if (errf) {
            fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0)
                dup2(fd, 2);
        }
        __atomic_store_n(exec_ns, now_ns(), __ATOMIC_RELEASE);
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "vmrun: cannot run %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    close(go[0]);
    close(outp[1]);
    if ((with_events && open_events(pid, why, sizeof(why)) < 0) ||
        (period_ns && sampler_open(&sampler, pid, period_ns, why, sizeof(why)) < 0)) {
        fprintf(stderr, "vmrun: %s\n", why);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return 4;
    }
    if (write(go[1], "g", 1) != 1) {
        perror("vmrun: write");
        return 4;
    }
    close(go[1]);

    /*
     * Until the child exits (its pidfd turns readable): copy its stdout, drain
     * the samples, and sample the guest RAM mapping every SAMPLE_MS.
     */
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    deadline = t0 + (uint64_t)(timeout_s * 1e9);
    while (running) {
        struct pollfd p[2] = {{.fd = outp[0], .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
        int r = poll(p, pidfd >= 0 ? 2 : 1, SAMPLE_MS);

        if (r > 0 && (p[0].revents & (POLLIN | POLLHUP)))
            open_out = pump(outp[0], out_fd, &lb, marks, 2, pid);
        if (r > 0 && pidfd >= 0 && (p[1].revents & POLLIN))
            running = false;
        if (pidfd < 0) {
            /* No pidfd (old kernel): look with waitid(WNOWAIT). */
            siginfo_t si = {0};
            if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid)
                running = false;
        }
        if (!open_out) {
            /* stdout closed: the child is exiting; stop polling the pipe */
            p[0].fd = -1;
            if (pidfd < 0)
                usleep(1000);
        }
        if (period_ns)
            sampler_drain(&sampler);
        /* smaps is costly to read: every RSS_MS (guest RAM settles after boot anyway) */
        if (running && ram_kb && now_ns() >= next_rss) {
            uint64_t v = guest_ram_rss_kb(pid, ram_kb);
            next_rss = now_ns() + RSS_MS * 1000000ull;
            if (v > rss_kb)
                rss_kb = v;
        }
        if (now_ns() > deadline && !timed_out) {
            timed_out = true;
            kill(pid, SIGKILL);
        }
        if (!open_out && running && pidfd >= 0) {
            struct pollfd q = {.fd = pidfd, .events = POLLIN};
            if (poll(&q, 1, SAMPLE_MS) > 0)
                running = false;
        }
    }
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("vmrun: wait4");
        return 4;
    }
    t1 = now_ns();
    while (open_out && pump(outp[0], out_fd, &lb, marks, 2, pid)) {
        /* the rest of the output, after the exit */
    }
    close(out_fd);
    if (period_ns)
        sampler_drain(&sampler);
    for (unsigned i = 0; i < nevents; i++) {
        if (read(events[i].fd, &events[i].count, sizeof(events[i].count)) !=
            sizeof(events[i].count))
            events[i].count = 0;
        close(events[i].fd);
    }

    printf("{\"exec_ns\":%" PRIu64 ",", __atomic_load_n(exec_ns, __ATOMIC_ACQUIRE));
    printf("\"exit_status\":%d,\"signal\":%d,\"timed_out\":%s,\"spawn_ns\":%" PRIu64
           ",\"wall_ns\":%" PRIu64 ",\"utime_us\":%" PRId64 ",\"stime_us\":%" PRId64
           ",\"maxrss_kb\":%ld,\"guest_ram_rss_kb\":%" PRIu64,
           WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
           timed_out ? "true" : "false", t0, t1 - t0,
           (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
           (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss, rss_kb);
    printf(",\"sample_period_ns\":%" PRIu64 ",\"user_samples\":%" PRIu64
           ",\"user_samples_at_syscall\":%" PRIu64 ",\"lost_samples\":%" PRIu64,
           period_ns, sampler.samples, sampler.at_syscall, sampler.lost);
    fputs(",\"start_mark\":", stdout);
    print_mark(&marks[0], t0);
    fputs(",\"finish_mark\":", stdout);
    print_mark(&marks[1], t0);
    fputs(",\"command\":[", stdout);
    for (int i = optind; i < argc; i++) {
        if (i > optind)
            fputc(',', stdout);
        json_string(stdout, argv[i]);
    }
    fputs("],\"events\":{", stdout);
    for (unsigned i = 0; i < nevents; i++)
        printf("%s\"%s\":%" PRIu64, i ? "," : "", events[i].name, events[i].count);
    fputs("}}\n", stdout);
    return 0;
}
