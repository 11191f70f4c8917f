/* SPDX-License-Identifier: MIT */
/*
 * The lapis binary: parse, dispatch a subcommand from the table, and turn
 * errors into one line on stderr and an exit status (CONTRIBUTING.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/options.h"
#include "cli/snapshot_file.h"
#include "kvm/console.h"
#include "kvm/legacy.h"
#include "kvm/linux_boot.h"
#include "kvm/probe.h"
#include "lapis_conformance.h"
#include "kvm/snapshot.h"
#include "kvm/stats.h"
#include "kvm/vm.h"
#include "loader/bzimage.h"
#include "loader/elf.h"
#include "loader/multiboot.h"

#define BUILTIN_GUEST "guest/builtin.elf"

static int usage_error(const char *msg)
{
    fprintf(stderr, "lapis: %s\n", msg);
    return LAPIS_STATUS_USAGE;
}

static int backend_error(const struct lapis_err *err)
{
    fprintf(stderr, "lapis: %s\n", err->msg);
    return err->kind == LAPIS_ERR_USAGE ? LAPIS_STATUS_USAGE : LAPIS_STATUS_HOST;
}

/*
 * Reads a whole file for @what ("kernel", "initrd"), refusing what cannot fit
 * in @limit bytes. Returns 0, or -errno with a message in @err.
 */
static int read_file(const char *what, const char *opt, const char *path, uint64_t limit,
                     uint8_t **data, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    uint8_t *buf;
    size_t got = 0;
    int fd, e;

    *data = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        e = errno;
        if (e == ENOENT)
            snprintf(err, errlen, "%s '%s' not found: check the path given to %s", what, path, opt);
        else
            snprintf(err, errlen, "cannot read %s '%s': %s", what, path, strerror(e));
        return -e;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "%s '%s' is not a regular file: give %s a file", what, path, opt);
        return -EINVAL;
    }
    if ((uint64_t)st.st_size > limit) {
        close(fd);
        snprintf(err, errlen, "%s '%s' (%lld bytes) is larger than guest RAM: raise --memory", what,
                 path, (long long)st.st_size);
        return -EFBIG;
    }
    buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!buf) {
        close(fd);
        snprintf(err, errlen, "out of memory reading %s '%s'", what, path);
        return -ENOMEM;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            e = n < 0 ? errno : EIO;
            free(buf);
            close(fd);
            snprintf(err, errlen, "cannot read %s '%s': %s", what, path, strerror(e));
            return -e;
        }
        got += (size_t)n;
    }
    close(fd);
    *data = buf;
    *len = got;
    return 0;
}

/*
 * Looks at the first bytes of the kernel file before all of it is read: a
 * file of gigabytes that is no kernel at all is refused at once. Returns 0 if
 * it may be one (multiboot, any ELF, a bzImage: the checks after read_file()
 * decide) or cannot be opened (read_file() then says why), else -ENOEXEC.
 */
static int check_kernel_start(const char *path, char *err, size_t errlen)
{
    uint8_t head[LAPIS_MULTIBOOT_SEARCH];
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0)
        return 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    do
        n = read(fd, head, sizeof(head));
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return 0;
    if (lapis_multiboot_detect(head, (size_t)n) || lapis_elf_is_elf(head, (size_t)n) ||
        lapis_bzimage_is_bzimage(head, (size_t)n))
        return 0;
    snprintf(err, errlen,
             "kernel '%s' is not an ELF or multiboot file, nor a Linux bzImage: lapis boots "
             "multiboot v1 kernels and Linux bzImage/vmlinux",
             path);
    return -ENOEXEC;
}

/* build/guest/builtin.elf beside build/lapis. */
static int builtin_guest_path(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n <= 0)
        return -errno;
    exe[n] = '\0';
    if ((size_t)snprintf(out, len, "%s/%s", dirname(exe), BUILTIN_GUEST) >= len)
        return -ENAMETOOLONG;
    return 0;
}

static enum lapis_eoi_request eoi_request(enum lapis_eoi_opt o)
{
    switch (o) {
    case LAPIS_OPT_EOI_ENABLE:
        return LAPIS_EOI_REQ_ENABLE;
    case LAPIS_OPT_EOI_DISABLE:
        return LAPIS_EOI_REQ_DISABLE;
    case LAPIS_OPT_EOI_QUIRK:
        return LAPIS_EOI_REQ_QUIRK;
    case LAPIS_OPT_EOI_AUTO:
        break;
    }
    return LAPIS_EOI_REQ_AUTO;
}

/* Options that contradict each other, whatever the host: refused before any file is read. */
static int option_conflict(const struct lapis_config *cfg)
{
    if (cfg->irqchip == LAPIS_OPT_IRQCHIP_KERNEL && cfg->ioapic_version_set &&
        cfg->ioapic_version != 0x11)
        return usage_error("--irqchip kernel uses KVM's IOAPIC, which is version 0x11: drop "
                           "--ioapic-version or use --irqchip split");
    if (cfg->irqchip == LAPIS_OPT_IRQCHIP_KERNEL && cfg->eoi == LAPIS_OPT_EOI_ENABLE)
        return usage_error("--eoi-suppression enable needs --irqchip split: KVM's in-kernel "
                           "IOAPIC has no EOI register");
    return 0;
}

static int run_restored(const struct lapis_config *cfg);

/*
 * lapis run: every input first (options, files, the loaders into guest RAM
 * that KVM does not know yet), so that a bad one is refused in one line,
 * status 2, on any host; only then is /dev/kvm opened.
 */
static int cmd_run(const struct lapis_config *cfg)
{
    char path[PATH_MAX], msg[PATH_MAX + 600], stats[768], cmdline[128];
    const char *kernel = cfg->kernel, *cl = "";
    uint8_t *image = NULL, *initrd = NULL;
    size_t image_len = 0, initrd_len = 0;
    struct lapis_vm_params params;
    struct lapis_boot_state bs;
    struct lapis_guest_ram ram = {0};
    struct lapis_err err = {0};
    struct lapis_vm *vm = NULL;
    struct lapis_linux_layout *layout = NULL;
    struct lapis_linux_boot boot;
    struct lapis_legacy legacy = {0};
    struct lapis_console console = {.stop_fd = -1};
    bool linux_kernel = false;
    int status;

    if ((status = option_conflict(cfg)))
        return status;
    if (cfg->restore)
        return run_restored(cfg);
    if (cfg->save && lapis_snapshot_check_path(cfg->save, &err))
        return backend_error(&err);

    /* A Ctrl-C while the VM is being set up stays pending for lapis_vm_run (status 8). */
    sigset_t stopsigs;
    sigemptyset(&stopsigs);
    sigaddset(&stopsigs, SIGINT);
    sigaddset(&stopsigs, SIGTERM);
    if (cfg->save)
        sigaddset(&stopsigs, SIGUSR2); /* a save: kept pending until the VM runs */
    pthread_sigmask(SIG_BLOCK, &stopsigs, NULL);

    /* Files first: a bad input is reported before anything is created. */
    if (!kernel) {
        if (builtin_guest_path(path, sizeof(path)))
            return usage_error("cannot find the built-in guest: give --kernel FILE");
        if (access(path, F_OK) != 0) {
            snprintf(msg, sizeof(msg),
                     "built-in guest '%s' not found: run 'make' or give --kernel FILE", path);
            return usage_error(msg);
        }
        kernel = path;
    }
    if (check_kernel_start(kernel, msg, sizeof(msg)))
        return usage_error(msg);
    if (read_file("kernel", "--kernel", kernel, cfg->memory, &image, &image_len, msg, sizeof(msg)))
        return usage_error(msg);
    if (image_len == 0) {
        snprintf(msg, sizeof(msg), "kernel '%s' is empty: give --kernel a multiboot ELF file",
                 kernel);
        free(image);
        return usage_error(msg);
    }
    /* Multiboot first (the existing path); then a bzImage or an x86-64 vmlinux is Linux. */
    if (!lapis_multiboot_detect(image, image_len)) {
        linux_kernel = lapis_linux_is_kernel(image, image_len);
        if (!linux_kernel) {
            snprintf(msg, sizeof(msg),
                     "kernel '%s' is %s: lapis boots multiboot v1 kernels and Linux "
                     "bzImage/vmlinux",
                     kernel,
                     lapis_elf_is_elf(image, image_len) ? "an ELF file with no multiboot header"
                                                        : "not an ELF or multiboot file");
            free(image);
            return usage_error(msg);
        }
    }
    if (linux_kernel && cfg->save) {
        free(image);
        return usage_error("--save does not support Linux kernels yet (the PIT, PIC, 8042 and "
                           "CMOS state is not saved): drop --save");
    }
    if (cfg->initrd && read_file("initrd", "--initrd", cfg->initrd, cfg->memory, &initrd,
                                 &initrd_len, msg, sizeof(msg))) {
        free(image);
        return usage_error(msg);
    }

    /* The loaders, into RAM that no VM has yet: their verdict does not need KVM. */
    if (lapis_vm_ram_map(&ram, cfg->memory, &err)) {
        status = backend_error(&err);
        goto out;
    }
    if (linux_kernel) {
        boot = (struct lapis_linux_boot){
            .image = image,
            .image_len = image_len,
            .initrd = initrd,
            .initrd_len = initrd_len,
            .cmdline = cfg->cmdline ? cfg->cmdline : "console=ttyS0",
            .no_unpack = cfg->no_unpack,
        };
        layout = calloc(1, sizeof(*layout));
        if (!layout) {
            status = usage_error("out of memory for the Linux boot layout");
            goto out;
        }
        if (lapis_linux_boot_prepare(&ram, cfg->cpus, &boot, layout, &err)) {
            status = backend_error(&err);
            goto out;
        }
    } else {
        /* The built-in guest's line comes from KVM (below): as long a one holds its place. */
        memset(cmdline, ' ', sizeof(cmdline) - 1);
        cmdline[sizeof(cmdline) - 1] = '\0';
        cl = cfg->cmdline ? cfg->cmdline : cfg->kernel ? "" : cmdline;
        if (lapis_multiboot_load(&ram, image, image_len, cl, initrd, initrd_len, &bs, msg,
                                 sizeof(msg))) {
            status = usage_error(msg);
            goto out;
        }
    }

    memset(&params, 0, sizeof(params));
    params.memory = cfg->memory;
    params.cpus = cfg->cpus;
    params.kernel_irqchip = cfg->irqchip == LAPIS_OPT_IRQCHIP_KERNEL;
    params.user_irqchip = cfg->irqchip == LAPIS_OPT_IRQCHIP_USER;
    params.ioapic_version = cfg->ioapic_version;
    params.eoi = eoi_request(cfg->eoi);
    params.no_eoi_recovery = cfg->no_eoi_recovery;
    params.verbose = cfg->verbose;
    params.hide_emulator_gaps = cfg->hide_cx16_xsave == LAPIS_OPT_YES ||
                                (cfg->hide_cx16_xsave == LAPIS_OPT_AUTO && linux_kernel);
    params.triple_fault_reboots = linux_kernel;
    if (lapis_vm_create(&params, &ram, &vm, &err) ||
        (cfg->save && lapis_snapshot_attach(vm, cfg->save, &err))) {
        status = backend_error(&err);
        goto out;
    }

    if (linux_kernel) {
        if (lapis_linux_set_entry(vm->vcpus[0].fd, &layout->entry, &err) ||
            lapis_legacy_attach(&legacy, vm, &err)) {
            status = backend_error(&err);
            goto out;
        }
        if (cfg->verbose)
            fprintf(
                stderr,
                "lapis: Linux kernel %s (%s, protocol %u.%02u), entry 0x%llx, "
                "boot_params 0x%llx, initrd %llu bytes at 0x%llx, CPUID %s, cmdline '%s'\n",
                kernel,
                layout->kind == LAPIS_LINUX_UNPACKED  ? "bzImage unpacked on the host"
                : layout->kind == LAPIS_LINUX_VMLINUX ? "vmlinux"
                                                      : "bzImage",
                layout->protocol >> 8, layout->protocol & 0xFF,
                (unsigned long long)layout->entry.regs.rip, (unsigned long long)layout->boot_params,
                (unsigned long long)layout->initrd_size, (unsigned long long)layout->initrd_addr,
                params.hide_emulator_gaps ? "without CX16/XSAVE" : "as KVM offers it",
                boot.cmdline);
    } else {
        if (cl == cmdline) {
            /* The built-in guest learns what lapis negotiated, so it knows what to expect. */
            snprintf(cmdline, sizeof(cmdline), "lapis.eoi=%s%s",
                     lapis_irqchip_guest_mode(&vm->irqchip),
                     vm->irqchip.kernel ? " lapis.irqchip=kernel" : "");
            if (lapis_multiboot_load(lapis_vm_ram(vm), image, image_len, cl, initrd, initrd_len,
                                     &bs, msg, sizeof(msg))) {
                status = usage_error(msg);
                goto out;
            }
        }
        if (cfg->verbose)
            fprintf(stderr, "lapis: kernel %s, entry 0x%llx, cmdline '%s'\n", kernel,
                    (unsigned long long)bs.rip, cl);
        if (lapis_vm_set_boot_state(vm, &bs, &err)) {
            status = backend_error(&err);
            goto out;
        }
    }
    if (lapis_console_start(&console, &vm->board, STDIN_FILENO, &err)) {
        status = backend_error(&err);
        goto out;
    }

    status = lapis_vm_run(vm, msg, sizeof(msg));
    lapis_console_stop(&console); /* the terminal back to normal before lapis prints */
    if (msg[0])
        fprintf(stderr, "lapis: %s\n", msg);
    lapis_vm_format_stats(vm, stats, sizeof(stats));
    fprintf(stderr, "lapis: %s status=%d\n", stats, status);
    lapis_vm_stats_from_env(vm, status); /* LAPIS_STATS=json, for bench/ */
    if (linux_kernel) {
        lapis_legacy_detach(&legacy); /* the PIT's timer thread stops: the counts hold still */
        lapis_legacy_format_stats(&legacy, stats, sizeof(stats));
        fprintf(stderr, "lapis: %s\n", stats);
    }
out:
    lapis_console_stop(&console);
    lapis_legacy_detach(&legacy);
    lapis_vm_destroy(vm);
    lapis_vm_ram_unmap(&ram); /* if no VM took it */
    free(layout);
    free(image);
    free(initrd);
    return status;
}

/* With --restore, does an option given contradict the file? Then say which. */
static int restore_conflict(const struct lapis_config *cfg, const struct lapis_vm_params *p,
                            const char *file)
{
    char msg[PATH_MAX + 200];
    const char *opt = NULL;
    enum lapis_irqchip_opt chip =
        p->kernel_irqchip ? LAPIS_OPT_IRQCHIP_KERNEL : LAPIS_OPT_IRQCHIP_SPLIT;

    if (cfg->kernel || cfg->initrd || cfg->cmdline)
        return usage_error("--restore continues the saved guest: drop --kernel, --initrd and "
                           "--cmdline");
    if (cfg->memory_set && cfg->memory != p->memory)
        opt = "--memory";
    else if (cfg->cpus_set && cfg->cpus != p->cpus)
        opt = "--cpus";
    else if (cfg->irqchip_set && cfg->irqchip != chip)
        opt = "--irqchip";
    else if (cfg->ioapic_version_set && cfg->ioapic_version != p->ioapic_version)
        opt = "--ioapic-version";
    else if (cfg->eoi_set && eoi_request(cfg->eoi) != p->eoi)
        opt = "--eoi-suppression";
    if (!opt)
        return 0;
    snprintf(msg, sizeof(msg),
             "%s differs from the VM saved in '%s' (%lluM, %u vCPUs, irqchip %s, IOAPIC 0x%02x): "
             "drop %s, --restore takes the VM's shape from the file",
             opt, file, (unsigned long long)(p->memory >> 20), p->cpus,
             p->kernel_irqchip ? "kernel" : "split", p->ioapic_version, opt);
    return usage_error(msg);
}

/* The magic first: a disk image given by mistake is refused before it is read. */
static int check_snapshot_start(const char *path, char *err, size_t errlen)
{
    char head[8];
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0)
        return 0; /* read_file() says why */
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    do
        n = read(fd, head, sizeof(head));
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n == (ssize_t)sizeof(head) && !memcmp(head, LAPIS_SNAP_MAGIC, sizeof(head)))
        return 0;
    snprintf(err, errlen,
             "snapshot '%s' refused: not a lapis snapshot (no '%s' magic at the start)", path,
             LAPIS_SNAP_MAGIC);
    return -EINVAL;
}

/* lapis run --restore FILE: a saved VM instead of a kernel (kvm/snapshot.h). */
static int run_restored(const struct lapis_config *cfg)
{
    char msg[PATH_MAX + 600], stats[768];
    struct lapis_snap_file *file = calloc(1, sizeof(*file));
    struct lapis_vm_params params;
    struct lapis_err err = {0};
    struct lapis_guest_ram ram = {0};
    struct lapis_vm *vm = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    int status;

    if (!file) {
        fprintf(stderr, "lapis: out of memory\n");
        return LAPIS_STATUS_HOST;
    }
    memset(&params, 0, sizeof(params));
    if (cfg->save && lapis_snapshot_check_path(cfg->save, &err)) {
        status = backend_error(&err);
        goto out;
    }
    sigset_t stopsigs;
    sigemptyset(&stopsigs);
    sigaddset(&stopsigs, SIGINT);
    sigaddset(&stopsigs, SIGTERM);
    sigaddset(&stopsigs, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &stopsigs, NULL);

    if (check_snapshot_start(cfg->restore, msg, sizeof(msg)) ||
        read_file("snapshot", "--restore", cfg->restore, UINT64_MAX, &data, &len, msg,
                  sizeof(msg))) {
        status = usage_error(msg);
        goto out;
    }
    if (lapis_snap_parse(data, len, file, err.msg, sizeof(err.msg))) {
        snprintf(msg, sizeof(msg), "snapshot '%s' refused: %s", cfg->restore, err.msg);
        status = usage_error(msg);
        goto out;
    }
    if (lapis_snapshot_params(file, &params, &err)) {
        status = backend_error(&err);
        goto out;
    }
    if ((status = restore_conflict(cfg, &params, cfg->restore)))
        goto out;
    params.no_eoi_recovery = cfg->no_eoi_recovery;
    params.verbose = cfg->verbose;
    /* All the file says about itself, and its RAM, before /dev/kvm is opened. */
    if (lapis_vm_ram_map(&ram, params.memory, &err) ||
        lapis_snapshot_check(file, &params, &ram, &err)) {
        status = backend_error(&err);
        goto out;
    }
    if (lapis_vm_create(&params, &ram, &vm, &err) || lapis_snapshot_attach(vm, cfg->save, &err) ||
        lapis_snapshot_restore(vm, file, &err)) {
        status = backend_error(&err);
        goto out;
    }
    free(data); /* everything is in the VM now */
    data = NULL;
    if (cfg->verbose)
        fprintf(stderr, "lapis: restored '%s'\n", cfg->restore);

    status = lapis_vm_run(vm, msg, sizeof(msg));
    if (msg[0])
        fprintf(stderr, "lapis: %s\n", msg);
    lapis_vm_format_stats(vm, stats, sizeof(stats));
    fprintf(stderr, "lapis: %s status=%d\n", stats, status);
    lapis_vm_stats_from_env(vm, status);
out:
    lapis_vm_destroy(vm);
    lapis_vm_ram_unmap(&ram);
    free(data);
    free(file);
    return status;
}

/* Exit 0 whenever the probe ran, whatever it found; 4 without a usable /dev/kvm. */
static int cmd_probe(const struct lapis_config *cfg)
{
    struct lapis_probe_options opts = {.verbose = cfg->verbose};
    struct lapis_probe_report *rep = calloc(1, sizeof(*rep));
    struct lapis_err err = {0};
    int status = 0;

    if (!rep) {
        fprintf(stderr, "lapis: out of memory\n");
        return LAPIS_STATUS_HOST;
    }
    if (lapis_probe_run(&opts, rep, &err))
        status = backend_error(&err);
    else if (cfg->json)
        lapis_probe_print_json(stdout, rep);
    else
        lapis_probe_print_text(stdout, rep);
    free(rep);
    return status;
}

static int cmd_help(const struct lapis_config *cfg)
{
    (void)cfg;
    fputs(lapis_usage(), stdout);
    return 0;
}

static int cmd_version(const struct lapis_config *cfg)
{
    (void)cfg;
    printf("lapis %s\n", LAPIS_VERSION);
    return 0;
}

/* Adding a subcommand: a row here and one in src/cli/options.c. */
static const struct {
    enum lapis_command cmd;
    int (*fn)(const struct lapis_config *cfg);
} handlers[] = {
    {LAPIS_CMD_RUN, cmd_run},
    {LAPIS_CMD_PROBE, cmd_probe},
    {LAPIS_CMD_HELP, cmd_help},
    {LAPIS_CMD_VERSION, cmd_version},
};

int main(int argc, char **argv)
{
    struct lapis_config cfg;
    char err[512];

    /* Guest console output must not sit in a buffer when the VM stops. */
    setvbuf(stdout, NULL, _IONBF, 0);
    /* The conformance runner parses its own options (--filter, --json, ...). */
    if (argc > 1 && strcmp(argv[1], "conformance") == 0)
        return lapis_conformance_main(argc - 1, argv + 1);
    if (lapis_options_parse(argc, argv, &cfg, err, sizeof(err)))
        return usage_error(err);
    if (cfg.command == LAPIS_CMD_RUN) {
        /* Before any thread exists, so that every thread inherits SIGINT/SIGTERM
         * blocked: lapis_vm_run takes them from a signalfd, and a signal during
         * set-up waits for it (status 8) instead of killing the process. */
        sigset_t stopsigs;
        sigemptyset(&stopsigs);
        sigaddset(&stopsigs, SIGINT);
        sigaddset(&stopsigs, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stopsigs, NULL);
    }
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
        if (handlers[i].cmd == cfg.command)
            return handlers[i].fn(&cfg);
    return usage_error("no handler for this command");
}
