/* SPDX-License-Identifier: MIT */
/*
 * Save and restore (snapshot.h): the pause, the state read from KVM and the
 * models, the file, and the way back. Section numbers refer to
 * ../shared/spec/eoi.md.
 */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "devices/msi.h"
#include "userapic.h"
#include "vm.h"

/* Records of a CPU section. */
enum {
    TAG_REGS = 1,
    TAG_SREGS,
    TAG_XSAVE,
    TAG_FPU,
    TAG_XCRS,
    TAG_MSRS,
    TAG_EVENTS,
    TAG_MP_STATE,
    TAG_LAPIC,
    TAG_DEBUGREGS,
    TAG_TSC_KHZ,
    TAG_USER_APIC, /* --irqchip user: struct lapis_lapic_state of lapis's LAPIC model */
    TAG_USER_CPU,  /* --irqchip user: struct user_cpu, what userapic.c keeps beside it */
};

/* --irqchip user: the per-vCPU state userapic.c keeps beside the model. */
struct user_cpu {
    uint8_t halted, wait_sipi, reserved[6];
    uint64_t tsc_deadline_raw; /* the guest's IA32_TSC_DEADLINE */
    uint64_t now_ns;           /* CLOCK_MONOTONIC at the save: the model's times are rebased */
};
/* Records of the IRQCHIP section. */
enum {
    TAG_IOAPIC = 1,     /* struct lapis_ioapic_state */
    TAG_PENDING_EOI,    /* 256-bit map of vectors whose EOI KVM still held (§7) */
    TAG_KVM_PIC_MASTER, /* struct kvm_irqchip, --irqchip kernel */
    TAG_KVM_PIC_SLAVE,  /* ditto */
    TAG_KVM_IOAPIC,     /* ditto */
    TAG_KERNEL_LINES,   /* line levels lapis last gave KVM, one byte per pin */
};
/* Records of the DEVICES section (the board's devices, and KVM's VM-wide clock). */
enum {
    TAG_UART = 1,
    TAG_FWCFG,
    TAG_KVMCLOCK, /* struct kvm_clock_data: kvmclock goes on from where it was */
};

#define SECTION_VERSION  1u
#define UART_REC_SIZE    (LAPIS_UART_FIFO_SIZE + 16)
#define FWCFG_REC_SIZE   8
#define MSR_TSC_DEADLINE 0x6E0u
#define MAX_MSRS         512u

struct msr_rec {
    uint32_t index, reserved;
    uint64_t data;
};

struct lapis_snapshot {
    struct lapis_vm *vm;
    char *save_path;
    bool restored;
    uint32_t saves;        /* saves of this VM so far, those before a restore included */
    int efd;               /* readable: service wanted */
    uint64_t last_save_ns; /* CLOCK_MONOTONIC at the end of the last save (main thread) */
    unsigned pending;      /* atomic: the requested action, 0 when idle */
    uint64_t ignored;      /* atomic: requests that could not be served */

    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool pause;       /* written under lock, read atomically by vCPU threads */
    unsigned npaused; /* lock */

    /* What this host's KVM offers. */
    uint32_t xsave_size; /* 0: no XSAVE, use KVM_GET_FPU */
    bool has_xcrs, has_debugregs;
    uint32_t nmsrs;
    uint32_t msrs[MAX_MSRS];
};

/* ---- small helpers ------------------------------------------------------------------------ */

struct buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

static void buf_add(struct buf *b, const void *data, size_t len)
{
    if (b->oom)
        return;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

static void tlv_add(struct buf *b, uint32_t tag, const void *data, uint32_t len)
{
    static const uint8_t zeros[8];
    uint8_t hdr[8];

    lapis_snap_tlv_header(hdr, tag, len);
    buf_add(b, hdr, sizeof(hdr));
    buf_add(b, data, len);
    buf_add(b, zeros, lapis_snap_tlv_size(len) - 8 - len);
}

/* The records of a section, by tag (the last one of each tag wins; tags are < 16). */
struct records {
    const uint8_t *val[16];
    uint32_t len[16];
};

static int records_of(const struct lapis_snap_section *s, struct records *r, const char *what,
                      struct lapis_err *err)
{
    uint64_t off = 0;
    uint32_t tag, len;
    const uint8_t *val;
    int k;

    memset(r, 0, sizeof(*r));
    if (s->version != SECTION_VERSION)
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                             "snapshot: %s section version %u, this lapis reads version %u", what,
                             s->version, SECTION_VERSION);
    while ((k = lapis_snap_tlv_next(s->data, s->len, &off, &tag, &val, &len)) == 1) {
        if (tag == 0 || tag >= 16)
            return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                                 "snapshot: %s section has an unknown record %u", what, tag);
        r->val[tag] = val;
        r->len[tag] = len;
    }
    if (k < 0)
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                             "snapshot: %s section has a record that runs past its end", what);
    return 0;
}

/* A record that must be there with exactly @size bytes. */
static int need(const struct records *r, unsigned tag, size_t size, const char *what,
                const char *name, struct lapis_err *err)
{
    if (!r->val[tag])
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL, "snapshot: %s has no %s record", what,
                             name);
    if (r->len[tag] != size)
        return lapis_err_set(err, LAPIS_ERR_HOST, EINVAL,
                             "snapshot: %s's %s record is %u bytes, this host's KVM uses %zu", what,
                             name, r->len[tag], size);
    return 0;
}

static void ts_after_ms(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_nsec += (long)ms * 1000000L;
    while (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ---- the port ---------------------------------------------------------------------------- */

static uint64_t port_read(void *opaque, uint64_t addr, uint64_t offset, unsigned size)
{
    struct lapis_snapshot *s = opaque;

    (void)addr;
    (void)offset;
    (void)size;
    return (s->restored ? LAPIS_SNAPSHOT_STAT_RESTORED : 0) |
           (s->save_path ? LAPIS_SNAPSHOT_STAT_CAN_SAVE : 0);
}

static void port_write(void *opaque, uint64_t addr, uint64_t offset, unsigned size, uint64_t value)
{
    (void)addr;
    (void)offset;
    if (size != 1 || (value != LAPIS_SNAPSHOT_REQ_STOP && value != LAPIS_SNAPSHOT_REQ_CONTINUE)) {
        __atomic_fetch_add(&((struct lapis_snapshot *)opaque)->ignored, 1, __ATOMIC_RELAXED);
        return;
    }
    lapis_snapshot_request(opaque, (unsigned)value);
}

/* ---- attach / detach ----------------------------------------------------------------------- */

static void probe_host(struct lapis_snapshot *s, struct lapis_vm *vm)
{
    struct {
        struct kvm_msr_list hdr;
        uint32_t idx[MAX_MSRS];
    } l;
    long x2 = lapis_kvm_check(vm->fd, KVM_CAP_XSAVE2);

    if (x2 >= (long)sizeof(struct kvm_xsave))
        s->xsave_size = (uint32_t)x2;
    else if (lapis_kvm_check(vm->kvm.fd, KVM_CAP_XSAVE))
        s->xsave_size = sizeof(struct kvm_xsave);
    s->has_xcrs = lapis_kvm_check(vm->kvm.fd, KVM_CAP_XCRS) > 0;
    s->has_debugregs = lapis_kvm_check(vm->kvm.fd, KVM_CAP_DEBUGREGS) > 0;
    memset(&l, 0, sizeof(l));
    l.hdr.nmsrs = MAX_MSRS;
    if (lapis_kvm_ioctl(vm->kvm.fd, KVM_GET_MSR_INDEX_LIST, &l) == 0) {
        s->nmsrs = l.hdr.nmsrs < MAX_MSRS ? l.hdr.nmsrs : MAX_MSRS;
        memcpy(s->msrs, l.idx, s->nmsrs * sizeof(uint32_t));
    }
}

int lapis_snapshot_attach(struct lapis_vm *vm, const char *save_path, struct lapis_err *err)
{
    struct lapis_snapshot *s;
    pthread_condattr_t ca;
    int r;

    s = calloc(1, sizeof(*s));
    if (!s)
        return lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory");
    s->vm = vm;
    s->efd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    vm->snap = s;
    if (save_path && !(s->save_path = strdup(save_path)))
        return lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory");
    s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->efd < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "eventfd failed: %s", strerror(errno));
    probe_host(s, vm);

    struct lapis_iobus_range range = {
        .name = "snapshot",
        .base = LAPIS_SNAPSHOT_PORT,
        .len = 1,
        .read = port_read,
        .write = port_write,
        .opaque = s,
        .lock = NULL,
    };
    r = lapis_iobus_add(&vm->pio, &range);
    if (r)
        return lapis_err_set(err, LAPIS_ERR_HOST, -r, "cannot place the snapshot port at 0x%x",
                             LAPIS_SNAPSHOT_PORT);
    return 0;
}

void lapis_snapshot_detach(struct lapis_vm *vm)
{
    struct lapis_snapshot *s = vm->snap;

    if (!s)
        return;
    if (s->efd >= 0)
        close(s->efd);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s->save_path);
    free(s);
    vm->snap = NULL;
}

int lapis_snapshot_check_path(const char *path, struct lapis_err *err)
{
    char tmp[4200];
    int fd;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
        return lapis_err_set(err, LAPIS_ERR_USAGE, ENAMETOOLONG, "--save '%s': name too long",
                             path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return lapis_err_set(err, LAPIS_ERR_USAGE, errno,
                             "--save '%s': cannot create a file there: %s", path, strerror(errno));
    close(fd);
    unlink(tmp);
    return 0;
}

/* ---- pausing ------------------------------------------------------------------------------ */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void lapis_snapshot_request(struct lapis_snapshot *s, unsigned action)
{
    unsigned idle = 0;
    uint64_t one = 1;
    uint64_t last = __atomic_load_n(&s->last_save_ns, __ATOMIC_RELAXED);

    /* A guest asking to save and go on in a loop would have the host write without end. */
    if (action == LAPIS_SNAPSHOT_REQ_CONTINUE && last &&
        mono_ns() - last < LAPIS_SNAPSHOT_MIN_INTERVAL_NS) {
        __atomic_fetch_add(&s->ignored, 1, __ATOMIC_RELAXED);
        return;
    }
    if (!s->save_path || lapis_vm_stopping(s->vm) ||
        !__atomic_compare_exchange_n(&s->pending, &idle, action, false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST)) {
        __atomic_fetch_add(&s->ignored, 1, __ATOMIC_RELAXED);
        return;
    }
    /* Pause at once: a guest's request is then saved right after its port write. */
    pthread_mutex_lock(&s->lock);
    __atomic_store_n(&s->pause, true, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&s->lock);
    if (write(s->efd, &one, sizeof(one)) < 0) {
        /* a full counter is still readable: the service runs */
    }
}

int lapis_snapshot_fd(const struct lapis_snapshot *s)
{
    return s->efd;
}

bool lapis_snapshot_pause_requested(const struct lapis_snapshot *s)
{
    return __atomic_load_n(&s->pause, __ATOMIC_SEQ_CST);
}

void lapis_snapshot_vcpu_paused(struct lapis_snapshot *s, struct lapis_vcpu *v)
{
    struct timespec ts;

    pthread_mutex_lock(&s->lock);
    s->npaused++;
    pthread_cond_broadcast(&s->cond);
    while (__atomic_load_n(&s->pause, __ATOMIC_SEQ_CST) && !lapis_vm_stopping(v->vm)) {
        ts_after_ms(&ts, 50);
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    }
    s->npaused--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Waits until every vCPU waits in lapis_snapshot_vcpu_paused(). False if the VM stopped. */
static bool pause_all(struct lapis_snapshot *s, struct lapis_vm *vm)
{
    struct timespec ts;
    bool all;

    lapis_vm_kick_all(vm);
    pthread_mutex_lock(&s->lock);
    while (s->npaused < vm->ncpus && !lapis_vm_stopping(vm)) {
        ts_after_ms(&ts, 50);
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    }
    all = s->npaused == vm->ncpus && !lapis_vm_stopping(vm);
    pthread_mutex_unlock(&s->lock);
    return all;
}

static void resume_all(struct lapis_snapshot *s)
{
    struct timespec ts;

    pthread_mutex_lock(&s->lock);
    __atomic_store_n(&s->pause, false, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&s->cond);
    while (s->npaused) {
        ts_after_ms(&ts, 50);
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
}

/* ---- saving: vCPUs ------------------------------------------------------------------------ */

static int vcpu_get(int fd, unsigned long req, void *arg, const char *name, unsigned index,
                    struct lapis_err *err)
{
    if (lapis_kvm_ioctl(fd, req, arg) < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno, "%s on vCPU %u failed: %s", name, index,
                             strerror(errno));
    return 0;
}

static int save_vcpu(struct lapis_snapshot *s, struct lapis_vcpu *v, struct buf *b,
                     struct kvm_lapic_state *lapic, struct lapis_err *err)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_vcpu_events ev;
    struct kvm_mp_state mp;
    struct kvm_debugregs dr;
    struct msr_rec recs[MAX_MSRS];
    uint32_t n = 0;
    int r;

    if ((r = vcpu_get(v->fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", v->index, err)))
        return r;
    tlv_add(b, TAG_REGS, &regs, sizeof(regs));
    if ((r = vcpu_get(v->fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", v->index, err)))
        return r;
    tlv_add(b, TAG_SREGS, &sregs, sizeof(sregs));
    if (s->xsave_size) {
        struct kvm_xsave *x = calloc(1, s->xsave_size);
        if (!x)
            return lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory");
        r = vcpu_get(v->fd, s->xsave_size > sizeof(*x) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, x,
                     "KVM_GET_XSAVE", v->index, err);
        if (!r)
            tlv_add(b, TAG_XSAVE, x, s->xsave_size);
        free(x);
        if (r)
            return r;
    } else {
        struct kvm_fpu fpu;
        if ((r = vcpu_get(v->fd, KVM_GET_FPU, &fpu, "KVM_GET_FPU", v->index, err)))
            return r;
        tlv_add(b, TAG_FPU, &fpu, sizeof(fpu));
    }
    if (s->has_xcrs) {
        struct kvm_xcrs xcrs;
        if ((r = vcpu_get(v->fd, KVM_GET_XCRS, &xcrs, "KVM_GET_XCRS", v->index, err)))
            return r;
        tlv_add(b, TAG_XCRS, &xcrs, sizeof(xcrs));
    }
    /* One at a time: KVM stops a batch at the first MSR it cannot read. */
    for (uint32_t i = 0; i < s->nmsrs; i++) {
        struct {
            struct kvm_msrs hdr;
            struct kvm_msr_entry e;
        } m;
        memset(&m, 0, sizeof(m));
        m.hdr.nmsrs = 1;
        m.e.index = s->msrs[i];
        if (lapis_kvm_ioctl(v->fd, KVM_GET_MSRS, &m) == 1)
            recs[n++] = (struct msr_rec){.index = m.e.index, .data = m.e.data};
    }
    tlv_add(b, TAG_MSRS, recs, n * (uint32_t)sizeof(recs[0]));
    if ((r = vcpu_get(v->fd, KVM_GET_VCPU_EVENTS, &ev, "KVM_GET_VCPU_EVENTS", v->index, err)))
        return r;
    tlv_add(b, TAG_EVENTS, &ev, sizeof(ev));
    if ((r = vcpu_get(v->fd, KVM_GET_MP_STATE, &mp, "KVM_GET_MP_STATE", v->index, err)))
        return r;
    tlv_add(b, TAG_MP_STATE, &mp, sizeof(mp));
    if (lapic) { /* KVM's LAPIC; --irqchip user has none */
        if ((r = vcpu_get(v->fd, KVM_GET_LAPIC, lapic, "KVM_GET_LAPIC", v->index, err)))
            return r;
        tlv_add(b, TAG_LAPIC, lapic, sizeof(*lapic));
    }
    if (s->has_debugregs) {
        if ((r = vcpu_get(v->fd, KVM_GET_DEBUGREGS, &dr, "KVM_GET_DEBUGREGS", v->index, err)))
            return r;
        tlv_add(b, TAG_DEBUGREGS, &dr, sizeof(dr));
    }
    int khz = lapis_kvm_ioctl(v->fd, KVM_GET_TSC_KHZ, NULL);
    uint32_t k = khz > 0 ? (uint32_t)khz : 0;
    tlv_add(b, TAG_TSC_KHZ, &k, sizeof(k));
    return 0;
}

/* --irqchip user: the LAPIC model and its companions. Called with ic->lock held. */
static void save_user_cpu(struct lapis_userapic *ua, unsigned i, struct buf *b)
{
    const struct lapis_userapic_cpu *cpu = &ua->cpus[i];
    struct lapis_lapic_state st;
    struct user_cpu uc;
    struct timespec ts;

    lapis_lapic_save(&cpu->apic, &st);
    tlv_add(b, TAG_USER_APIC, &st, sizeof(st));
    clock_gettime(CLOCK_MONOTONIC, &ts);
    memset(&uc, 0, sizeof(uc));
    uc.halted = cpu->halted;
    uc.wait_sipi = cpu->wait_sipi;
    uc.tsc_deadline_raw = cpu->tsc_deadline_raw;
    uc.now_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    tlv_add(b, TAG_USER_CPU, &uc, sizeof(uc));
}

/* ---- saving: interrupt controllers -------------------------------------------------------- */

static uint32_t lapic_reg(const struct kvm_lapic_state *l, unsigned off)
{
    uint32_t v;
    memcpy(&v, l->regs + off, sizeof(v));
    return v;
}

static bool lapic_has(const struct kvm_lapic_state *l, unsigned base, unsigned vector)
{
    return (lapic_reg(l, base + 0x10u * (vector / 32u)) >> (vector % 32u)) & 1u;
}

/*
 * The EOIs KVM holds back (§7), found as the watchdog finds them: a level
 * pin has Remote IRR set, and no destination LAPIC has its vector in service
 * or pending, and none of them suppresses the broadcast (then the guest owes
 * an EOIR write, not KVM an exit). Called with ic->lock held.
 */
static unsigned pending_eois(struct lapis_vm *vm, const struct kvm_lapic_state *lapics,
                             uint8_t map[32])
{
    struct lapis_irqchip *ic = &vm->irqchip;
    unsigned count = 0;

    memset(map, 0, 32);
    for (unsigned pin = 0; pin < LAPIS_IRQCHIP_PINS; pin++) {
        uint64_t e = lapis_ioapic_entry(&ic->ioapic, pin);
        unsigned vec = (unsigned)(e & LAPIS_IOREDIR_VECTOR_MASK);
        struct lapis_msi msg;
        bool owed = true, any = false;

        if (!(e & LAPIS_IOREDIR_LEVEL) || !lapis_ioapic_remote_irr(&ic->ioapic, pin) || vec < 16)
            continue;
        lapis_ioapic_entry_msi(&ic->ioapic, pin, &msg);
        bool one = !msg.dest_logical && msg.dest != 0xFF;
        for (unsigned i = 0; i < vm->ncpus; i++) {
            const struct kvm_lapic_state *l = &lapics[i];
            if (one && msg.dest != i)
                continue;
            any = true;
            if (lapic_has(l, 0x100, vec) || lapic_has(l, 0x200, vec) ||
                lapis_eoi_policy_suppress_broadcast(&ic->policy, lapic_reg(l, 0xF0)))
                owed = false;
        }
        if (owed && any && !((map[vec / 8] >> (vec % 8)) & 1)) {
            map[vec / 8] |= (uint8_t)(1u << (vec % 8));
            count++;
        }
    }
    return count;
}

static int save_irqchip(struct lapis_vm *vm, const struct kvm_lapic_state *lapics, struct buf *b,
                        unsigned *npending, struct lapis_err *err)
{
    struct lapis_irqchip *ic = &vm->irqchip;

    *npending = 0;
    if (ic->kernel) {
        static const unsigned ids[3] = {KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
                                        KVM_IRQCHIP_IOAPIC};
        static const unsigned tags[3] = {TAG_KVM_PIC_MASTER, TAG_KVM_PIC_SLAVE, TAG_KVM_IOAPIC};
        uint8_t lines[LAPIS_IRQCHIP_PINS];
        for (unsigned i = 0; i < 3; i++) {
            struct kvm_irqchip chip;
            memset(&chip, 0, sizeof(chip));
            chip.chip_id = ids[i];
            if (lapis_kvm_ioctl(vm->fd, KVM_GET_IRQCHIP, &chip) < 0)
                return lapis_err_set(err, LAPIS_ERR_HOST, errno, "KVM_GET_IRQCHIP failed: %s",
                                     strerror(errno));
            tlv_add(b, tags[i], &chip, sizeof(chip));
        }
        for (unsigned pin = 0; pin < LAPIS_IRQCHIP_PINS; pin++)
            lines[pin] = ic->kernel_line[pin];
        tlv_add(b, TAG_KERNEL_LINES, lines, sizeof(lines));
        return 0;
    }
    struct lapis_ioapic_state st;
    uint8_t map[32] = {0};
    lapis_ioapic_save(&ic->ioapic, &st);
    tlv_add(b, TAG_IOAPIC, &st, sizeof(st));
    /* lapis's own LAPICs (--irqchip user) hand their EOIs over at once: none is held back. */
    if (!ic->user)
        *npending = pending_eois(vm, lapics, map);
    tlv_add(b, TAG_PENDING_EOI, map, sizeof(map));
    return 0;
}

/* ---- saving: devices ---------------------------------------------------------------------- */

static void save_devices(struct lapis_vm *vm, struct buf *b)
{
    struct lapis_board *bd = &vm->board;
    uint8_t u[UART_REC_SIZE], f[FWCFG_REC_SIZE];
    int32_t cur;

    memset(u, 0, sizeof(u));
    pthread_mutex_lock(&bd->uart_lock);
    memcpy(u, bd->uart.rx_fifo, LAPIS_UART_FIFO_SIZE);
    uint8_t *p = u + LAPIS_UART_FIFO_SIZE;
    p[0] = bd->uart.rx_head;
    p[1] = bd->uart.rx_count;
    p[2] = bd->uart.ier;
    p[3] = bd->uart.lcr;
    p[4] = bd->uart.mcr;
    p[5] = bd->uart.scr;
    p[6] = bd->uart.dll;
    p[7] = bd->uart.dlm;
    p[8] = bd->uart.lsr_err;
    p[9] = bd->uart.msr_lines;
    p[10] = bd->uart.msr_delta;
    p[11] = bd->uart.rx_trigger;
    p[12] = bd->uart.fifo_enabled;
    p[13] = bd->uart.thr_ipending;
    p[14] = bd->uart.irq_level;
    pthread_mutex_unlock(&bd->uart_lock);
    tlv_add(b, TAG_UART, u, sizeof(u));

    pthread_mutex_lock(&bd->fwcfg_lock);
    cur = bd->fwcfg.cur;
    memcpy(f, &cur, 4);
    memcpy(f + 4, &bd->fwcfg.offset, 4);
    pthread_mutex_unlock(&bd->fwcfg_lock);
    tlv_add(b, TAG_FWCFG, f, sizeof(f));

    struct kvm_clock_data clock;
    memset(&clock, 0, sizeof(clock));
    if (lapis_kvm_ioctl(vm->fd, KVM_GET_CLOCK, &clock) == 0) {
        clock.flags = 0; /* KVM_SET_CLOCK takes the value only */
        tlv_add(b, TAG_KVMCLOCK, &clock, sizeof(clock));
    }
}

/*
 * KVM_GET_SUPPORTED_CPUID names the host CPU the caller runs on (APIC IDs in
 * leaves 1, 0xB, 0x1F, 0x8000001E); lapis replaces those per vCPU anyway.
 * A copy without them compares equal across runs. Free it.
 */
static struct kvm_cpuid2 *cpuid_model(const struct kvm_cpuid2 *c, size_t *len)
{
    struct kvm_cpuid2 *m;

    *len = sizeof(*c) + c->nent * sizeof(c->entries[0]);
    m = malloc(*len);
    if (!m)
        return NULL;
    memcpy(m, c, *len);
    for (unsigned i = 0; i < m->nent; i++) {
        struct kvm_cpuid_entry2 *e = &m->entries[i];
        if (e->function == 1)
            e->ebx &= 0x00FFFFFFu;
        else if (e->function == 0xB || e->function == 0x1F)
            e->edx = 0;
        else if (e->function == 0x8000001Eu)
            e->eax = 0;
    }
    return m;
}

/* ---- saving: the file --------------------------------------------------------------------- */

static int fd_write(void *opaque, const void *data, size_t len)
{
    int fd = *(int *)opaque;
    const uint8_t *p = data;

    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

struct save_result {
    uint64_t pages, bytes;
    unsigned pending_eois;
};

/* With every vCPU paused: reads the state and writes it to s->save_path. */
static int save(struct lapis_snapshot *s, struct lapis_vm *vm, struct save_result *res,
                struct lapis_err *err)
{
    struct lapis_irqchip *ic = &vm->irqchip;
    struct buf cpu[LAPIS_VM_MAX_CPUS], chip = {0}, dev = {0};
    struct kvm_lapic_state *lapics = calloc(vm->ncpus, sizeof(*lapics));
    struct lapis_snap_ram_out ram;
    struct lapis_snap_out_section sec[LAPIS_VM_MAX_CPUS + 5];
    struct lapis_snap_chunk vmc, idc, chipc, devc, cpuc[LAPIS_VM_MAX_CPUS];
    struct lapis_snap_vm sv;
    uint8_t vmb[LAPIS_SNAP_VM_SIZE];
    struct kvm_cpuid2 *model = NULL;
    size_t model_len = 0;
    char tmp[4200];
    unsigned n = 0;
    int r = 0, fd = -1;

    memset(cpu, 0, sizeof(cpu));
    memset(&ram, 0, sizeof(ram));
    memset(res, 0, sizeof(*res));
    if (!lapics)
        return lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory");

    save_devices(vm, &dev); /* device locks come before the irqchip lock (board.c) */
    pthread_mutex_lock(&ic->lock);
    for (unsigned i = 0; i < vm->ncpus && !r; i++) {
        r = save_vcpu(s, &vm->vcpus[i], &cpu[i], ic->user ? NULL : &lapics[i], err);
        if (!r && ic->user)
            save_user_cpu(ic->user, i, &cpu[i]);
    }
    if (!r)
        r = save_irqchip(vm, lapics, &chip, &res->pending_eois, err);
    pthread_mutex_unlock(&ic->lock);
    if (!r && lapis_snap_ram_build(&vm->ram, &ram))
        r = lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory for the RAM map");
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (cpu[i].oom)
            r = r ? r : lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory");
    if (!r && (chip.oom || dev.oom || !(model = cpuid_model(vm->cpuid, &model_len))))
        r = lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory");
    if (r)
        goto out;

    memset(&sv, 0, sizeof(sv));
    sv.memory = vm->params.memory;
    sv.cpus = vm->ncpus;
    sv.irqchip = ic->kernel ? LAPIS_SNAP_IRQCHIP_KERNEL
                 : ic->user ? LAPIS_SNAP_IRQCHIP_USER
                            : LAPIS_SNAP_IRQCHIP_SPLIT;
    sv.ioapic_version = ic->ioapic_version;
    sv.eoi_request = (uint32_t)ic->request;
    sv.x2apic_api_flags = ic->x2apic_api_flags;
    sv.emulate_fix = ic->emulate_fix;
    sv.policy_mode = (uint32_t)ic->policy.mode;
    sv.saves = s->saves + 1;
    lapis_snap_vm_encode(&sv, vmb);
    vmc = (struct lapis_snap_chunk){vmb, sizeof(vmb)};
    idc = (struct lapis_snap_chunk){model, model_len};
    chipc = (struct lapis_snap_chunk){chip.p, chip.len};
    devc = (struct lapis_snap_chunk){dev.p, dev.len};
    sec[n++] = (struct lapis_snap_out_section){LAPIS_SNAP_VM, LAPIS_SNAP_VM_VERSION, 0, &vmc, 1};
    sec[n++] = (struct lapis_snap_out_section){LAPIS_SNAP_CPUID, SECTION_VERSION, 0, &idc, 1};
    sec[n++] = (struct lapis_snap_out_section){LAPIS_SNAP_IRQCHIP, SECTION_VERSION, 0, &chipc, 1};
    sec[n++] = (struct lapis_snap_out_section){LAPIS_SNAP_DEVICES, SECTION_VERSION, 0, &devc, 1};
    for (unsigned i = 0; i < vm->ncpus; i++) {
        cpuc[i] = (struct lapis_snap_chunk){cpu[i].p, cpu[i].len};
        sec[n++] = (struct lapis_snap_out_section){LAPIS_SNAP_CPU, SECTION_VERSION, i, &cpuc[i], 1};
    }
    sec[n++] = (struct lapis_snap_out_section){LAPIS_SNAP_RAM, LAPIS_SNAP_RAM_VERSION, 0,
                                               ram.chunks, ram.nchunks};

    /* A temporary file renamed into place: a failed save leaves no half file behind. */
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", s->save_path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = lapis_err_set(err, LAPIS_ERR_HOST, errno, "cannot create '%s': %s", tmp,
                          strerror(errno));
        goto out;
    }
    r = lapis_snap_write(sec, n, LAPIS_VERSION, fd_write, &fd);
    if (!r && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && !r)
        r = -errno;
    if (!r && rename(tmp, s->save_path) < 0)
        r = -errno;
    if (r) {
        unlink(tmp);
        r = lapis_err_set(err, LAPIS_ERR_HOST, -r, "cannot write the snapshot '%s': %s",
                          s->save_path, strerror(-r));
        goto out;
    }
    s->saves++;
    res->pages = ram.stored_pages;
    {
        struct stat st;
        if (stat(s->save_path, &st) == 0)
            res->bytes = (uint64_t)st.st_size;
    }
out:
    lapis_snap_ram_free(&ram);
    for (unsigned i = 0; i < vm->ncpus; i++)
        free(cpu[i].p);
    free(chip.p);
    free(dev.p);
    free(lapics);
    free(model);
    return r;
}

void lapis_snapshot_service(struct lapis_vm *vm)
{
    struct lapis_snapshot *s = vm->snap;
    struct lapis_err err = {0};
    struct save_result res;
    uint64_t count;
    unsigned action;
    int r;

    if (!s)
        return;
    if (read(s->efd, &count, sizeof(count)) < 0) {
        /* EAGAIN: nothing queued */
    }
    action = __atomic_load_n(&s->pending, __ATOMIC_SEQ_CST);
    if (!action)
        return;
    if (pause_all(s, vm)) {
        r = save(s, vm, &res, &err);
        if (action == LAPIS_SNAPSHOT_REQ_STOP) {
            if (r)
                lapis_vm_stop(vm, LAPIS_STATUS_HOST, "%s", err.msg);
            else
                lapis_vm_stop(vm, LAPIS_STATUS_POWEROFF,
                              "saved the VM to '%s' (%" PRIu64 " bytes, %" PRIu64
                              " RAM pages, %u held-back EOI%s): continue it with 'lapis run "
                              "--restore %s'",
                              s->save_path, res.bytes, res.pages, res.pending_eois,
                              res.pending_eois == 1 ? "" : "s", s->save_path);
        } else if (r) {
            fprintf(stderr, "lapis: %s; the VM goes on\n", err.msg);
        } else if (vm->params.verbose) {
            fprintf(stderr,
                    "lapis: saved the VM to '%s' (%" PRIu64 " bytes, %u held-back EOIs); it goes "
                    "on\n",
                    s->save_path, res.bytes, res.pending_eois);
        }
    }
    resume_all(s);
    __atomic_store_n(&s->last_save_ns, mono_ns(), __ATOMIC_RELAXED);
    __atomic_store_n(&s->pending, 0, __ATOMIC_SEQ_CST);
}

/* ---- restoring ---------------------------------------------------------------------------- */

int lapis_snapshot_params(const struct lapis_snap_file *f, struct lapis_vm_params *params,
                          struct lapis_err *err)
{
    struct lapis_snap_vm sv;
    char msg[400];

    if (strcmp(f->lapis_version, LAPIS_VERSION) != 0)
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                             "snapshot was saved by lapis %s, this is lapis %s: restore it with "
                             "that version",
                             f->lapis_version, LAPIS_VERSION);
    if (lapis_snap_vm_decode(lapis_snap_find(f, LAPIS_SNAP_VM, 0), &sv, msg, sizeof(msg)))
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL, "snapshot: %s", msg);
    for (uint32_t i = 0; i < sv.cpus; i++)
        if (!lapis_snap_find(f, LAPIS_SNAP_CPU, i))
            return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                                 "snapshot has %u vCPUs but no state for vCPU %u", sv.cpus, i);
    if (!lapis_snap_find(f, LAPIS_SNAP_IRQCHIP, 0))
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL, "snapshot has no IRQCHIP section");
    params->memory = sv.memory;
    params->cpus = sv.cpus;
    params->kernel_irqchip = sv.irqchip == LAPIS_SNAP_IRQCHIP_KERNEL;
    params->user_irqchip = sv.irqchip == LAPIS_SNAP_IRQCHIP_USER;
    params->ioapic_version = sv.ioapic_version;
    params->eoi = (enum lapis_eoi_request)sv.eoi_request;
    return 0;
}

/* The VM must negotiate what the saved one did: the guest has seen LVR and SVR already. */
static int check_host(struct lapis_vm *vm, const struct lapis_snap_file *f, struct lapis_err *err)
{
    const struct lapis_snap_section *id = lapis_snap_find(f, LAPIS_SNAP_CPUID, 0);
    struct lapis_irqchip *ic = &vm->irqchip;
    size_t idlen;
    struct kvm_cpuid2 *model = cpuid_model(vm->cpuid, &idlen);
    struct lapis_snap_vm sv;
    bool same;

    if (!model)
        return lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory");
    same = id->version == SECTION_VERSION && id->len == idlen && !memcmp(id->data, model, idlen);
    free(model);

    lapis_snap_vm_decode(lapis_snap_find(f, LAPIS_SNAP_VM, 0), &sv, NULL, 0);
    if (ic->x2apic_api_flags != sv.x2apic_api_flags || ic->emulate_fix != (sv.emulate_fix != 0) ||
        (uint32_t)ic->policy.mode != sv.policy_mode)
        return lapis_err_set(err, LAPIS_ERR_HOST, EOPNOTSUPP,
                             "snapshot: the VM negotiated EOI suppression %s (X2APIC_API flags "
                             "0x%llx%s), this host gives %s (0x%llx): restore it on a kernel with "
                             "the same KVM_X2APIC flags",
                             lapis_eoi_mode_name((enum lapis_eoi_mode)sv.policy_mode),
                             (unsigned long long)sv.x2apic_api_flags,
                             sv.emulate_fix ? ", emulated" : "", lapis_irqchip_mode_name(ic),
                             (unsigned long long)ic->x2apic_api_flags);
    if (!same)
        return lapis_err_set(err, LAPIS_ERR_HOST, EOPNOTSUPP,
                             "snapshot: the guest was started with another CPU model (CPUID) than "
                             "this host's KVM offers: restore it on the same kind of host");
    return 0;
}

static int vcpu_set(int fd, unsigned long req, const void *arg, const char *name, unsigned index,
                    struct lapis_err *err)
{
    if (lapis_kvm_ioctl(fd, req, (void *)arg) < 0)
        return lapis_err_set(err, LAPIS_ERR_HOST, errno,
                             "snapshot: %s on vCPU %u failed: %s (this host cannot take that "
                             "state back)",
                             name, index, strerror(errno));
    return 0;
}

static int set_msr(int fd, uint32_t index, uint64_t data)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e;
    } m;

    memset(&m, 0, sizeof(m));
    m.hdr.nmsrs = 1;
    m.e.index = index;
    m.e.data = data;
    return lapis_kvm_ioctl(fd, KVM_SET_MSRS, &m) == 1 ? 0 : -EINVAL;
}

/* ---- checks before /dev/kvm is opened: what the file alone says ------------------------- */

/* A vCPU section has what a restore reads; host-dependent sizes (XSAVE) are checked later. */
static int check_vcpu(const struct lapis_snap_section *sec, unsigned index, bool user,
                      struct records *rec, struct lapis_err *err)
{
    char what[32];
    struct user_cpu uc;
    int r;

    snprintf(what, sizeof(what), "vCPU %u", index);
    if ((r = records_of(sec, rec, what, err)))
        return r;
    if ((r = need(rec, TAG_REGS, sizeof(struct kvm_regs), what, "registers", err)) ||
        (r = need(rec, TAG_SREGS, sizeof(struct kvm_sregs), what, "special registers", err)) ||
        (r = need(rec, TAG_EVENTS, sizeof(struct kvm_vcpu_events), what, "events", err)) ||
        (r = need(rec, TAG_MP_STATE, sizeof(struct kvm_mp_state), what, "MP state", err)))
        return r;
    if (user) {
        if ((r = need(rec, TAG_USER_APIC, sizeof(struct lapis_lapic_state), what, "LAPIC model",
                      err)) ||
            (r = need(rec, TAG_USER_CPU, sizeof(uc), what, "user LAPIC", err)))
            return r;
        memcpy(&uc, rec->val[TAG_USER_CPU], sizeof(uc));
        if (uc.halted > 1 || uc.wait_sipi > 1)
            return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL, "snapshot: %s: bad user LAPIC flags",
                                 what);
    } else if ((r = need(rec, TAG_LAPIC, sizeof(struct kvm_lapic_state), what, "LAPIC", err))) {
        return r;
    }
    if (!rec->val[TAG_XSAVE] && !rec->val[TAG_FPU])
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL, "snapshot: %s has no FPU record", what);
    if (rec->val[TAG_FPU] && (r = need(rec, TAG_FPU, sizeof(struct kvm_fpu), what, "FPU", err)))
        return r;
    if (rec->val[TAG_MSRS] && rec->len[TAG_MSRS] % sizeof(struct msr_rec))
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL, "snapshot: %s's MSR record is cut",
                             what);
    if (rec->val[TAG_XCRS] && (r = need(rec, TAG_XCRS, sizeof(struct kvm_xcrs), what, "XCR", err)))
        return r;
    if (rec->val[TAG_DEBUGREGS] &&
        (r = need(rec, TAG_DEBUGREGS, sizeof(struct kvm_debugregs), what, "debug register", err)))
        return r;
    return 0;
}

static int check_devices(const struct lapis_snap_section *sec, struct records *rec,
                         struct lapis_err *err)
{
    struct lapis_fwcfg fw; /* the board's items: the saved selection must name one */
    const uint8_t *p;
    int32_t cur;
    int r;

    memset(rec, 0, sizeof(*rec));
    if (!sec)
        return 0; /* the devices start from reset */
    if ((r = records_of(sec, rec, "DEVICES", err)))
        return r;
    if (rec->val[TAG_UART]) {
        if ((r = need(rec, TAG_UART, UART_REC_SIZE, "DEVICES", "UART", err)))
            return r;
        p = rec->val[TAG_UART] + LAPIS_UART_FIFO_SIZE;
        if (p[0] >= LAPIS_UART_FIFO_SIZE || p[1] > LAPIS_UART_FIFO_SIZE || p[12] > 1 || p[13] > 1 ||
            p[14] > 1 || p[11] == 0 || p[11] > LAPIS_UART_FIFO_SIZE)
            return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                                 "snapshot: the UART state is not possible");
    }
    if (rec->val[TAG_FWCFG]) {
        if ((r = need(rec, TAG_FWCFG, FWCFG_REC_SIZE, "DEVICES", "fw_cfg", err)))
            return r;
        memcpy(&cur, rec->val[TAG_FWCFG], 4);
        if (lapis_fwcfg_init(&fw, LAPIS_SNAP_PAGE_SIZE, 1, 1) || cur < -1 ||
            cur >= (int32_t)fw.nitems)
            return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                                 "snapshot: the fw_cfg state names no item");
    }
    if (rec->val[TAG_KVMCLOCK] &&
        (r = need(rec, TAG_KVMCLOCK, sizeof(struct kvm_clock_data), "DEVICES", "KVM clock", err)))
        return r;
    return 0;
}

static int check_irqchip(const struct lapis_snap_section *sec, bool kernel, unsigned ioapic_version,
                         struct records *rec, struct lapis_err *err)
{
    static const unsigned tags[3] = {TAG_KVM_PIC_MASTER, TAG_KVM_PIC_SLAVE, TAG_KVM_IOAPIC};
    static const unsigned ids[3] = {KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
                                    KVM_IRQCHIP_IOAPIC};
    struct lapis_ioapic_state st;
    struct lapis_ioapic *model;
    struct kvm_irqchip chip;
    int r;

    if ((r = records_of(sec, rec, "IRQCHIP", err)))
        return r;
    if (kernel) {
        for (unsigned i = 0; i < 3; i++) {
            if ((r = need(rec, tags[i], sizeof(chip), "IRQCHIP", "KVM irqchip", err)))
                return r;
            memcpy(&chip, rec->val[tags[i]], sizeof(chip));
            if (chip.chip_id != ids[i])
                return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                                     "snapshot: KVM irqchip record %u names chip %u", i,
                                     chip.chip_id);
        }
        return need(rec, TAG_KERNEL_LINES, LAPIS_IRQCHIP_PINS, "IRQCHIP", "line level", err);
    }
    if ((r = need(rec, TAG_IOAPIC, sizeof(st), "IRQCHIP", "IOAPIC", err)) ||
        (r = need(rec, TAG_PENDING_EOI, 32, "IRQCHIP", "pending EOI", err)))
        return r;
    /* The model of the saved version takes it, or nothing will. */
    model = calloc(1, sizeof(*model));
    if (!model)
        return lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory");
    memcpy(&st, rec->val[TAG_IOAPIC], sizeof(st));
    r = lapis_ioapic_init(model, ioapic_version, LAPIS_IRQCHIP_PINS, NULL, NULL);
    if (!r)
        r = lapis_ioapic_load(model, &st);
    free(model);
    if (r)
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                             "snapshot: the IOAPIC state is not possible for this IOAPIC");
    return 0;
}

int lapis_snapshot_check(const struct lapis_snap_file *f, const struct lapis_vm_params *params,
                         const struct lapis_guest_ram *ram, struct lapis_err *err)
{
    const struct lapis_snap_section *sec = lapis_snap_find(f, LAPIS_SNAP_RAM, 0);
    struct records rec;
    char msg[400];
    int r;

    for (unsigned i = 0; i < params->cpus; i++)
        if ((r = check_vcpu(lapis_snap_find(f, LAPIS_SNAP_CPU, i), i, params->user_irqchip, &rec,
                            err)))
            return r;
    if ((r = check_irqchip(lapis_snap_find(f, LAPIS_SNAP_IRQCHIP, 0), params->kernel_irqchip,
                           params->ioapic_version, &rec, err)) ||
        (r = check_devices(lapis_snap_find(f, LAPIS_SNAP_DEVICES, 0), &rec, err)))
        return r;
    if (!sec || lapis_snap_ram_load(sec, ram, true, msg, sizeof(msg)))
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL, "snapshot: %s",
                             sec ? msg : "no RAM section");
    return 0;
}

/* ---- restoring into a created VM ----------------------------------------------------------- */

/*
 * --irqchip user: the LAPIC model, its times moved by the time the VM spent
 * in the file (the guest's TSC goes on from the save too), and the halted /
 * wait-for-SIPI state.
 */
static int restore_user_cpu(struct lapis_userapic *ua, unsigned i, const struct records *rec,
                            const char *what, struct lapis_err *err)
{
    struct lapis_userapic_cpu *cpu = &ua->cpus[i];
    struct lapis_lapic_state st;
    struct user_cpu uc;
    struct timespec ts;
    uint64_t now;
    int r;

    memcpy(&st, rec->val[TAG_USER_APIC], sizeof(st));
    memcpy(&uc, rec->val[TAG_USER_CPU], sizeof(uc));
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    if (st.timer_deadline)
        st.timer_deadline += now - uc.now_ns;
    if (st.tsc_deadline)
        st.tsc_deadline += now - uc.now_ns;
    pthread_mutex_lock(&ua->vm->irqchip.lock);
    r = lapis_lapic_load(&cpu->apic, &st);
    if (!r) {
        cpu->halted = uc.halted;
        cpu->wait_sipi = uc.wait_sipi;
        cpu->tsc_deadline_raw = uc.tsc_deadline_raw;
    }
    pthread_mutex_unlock(&ua->vm->irqchip.lock);
    if (r)
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                             "snapshot: %s: the LAPIC model refused the saved state", what);
    return 0;
}

/* The vCPU's @index MSR, or ~0 if KVM will not say (never a saved value that failed to set). */
static uint64_t get_msr(int fd, uint32_t index)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e;
    } m;

    memset(&m, 0, sizeof(m));
    m.hdr.nmsrs = 1;
    m.e.index = index;
    return lapis_kvm_ioctl(fd, KVM_GET_MSRS, &m) == 1 ? m.e.data : ~0ull;
}

static int restore_vcpu(struct lapis_snapshot *s, struct lapis_vcpu *v,
                        const struct lapis_snap_section *sec, struct lapis_err *err)
{
    struct lapis_userapic *user = v->vm->irqchip.user;
    char what[32];
    struct records rec;
    struct kvm_vcpu_events ev;
    const struct msr_rec *msrs;
    uint64_t deadline = 0;
    bool have_deadline = false;
    uint32_t nmsrs;
    int r;

    snprintf(what, sizeof(what), "vCPU %u", v->index);
    if ((r = check_vcpu(sec, v->index, user != NULL, &rec, err)))
        return r;
    if (user && (r = restore_user_cpu(user, v->index, &rec, what, err)))
        return r;
    /* Which of the two this host's KVM takes: a file from another kind of host lacks it. */
    if (s->xsave_size && !rec.val[TAG_XSAVE])
        return lapis_err_set(err, LAPIS_ERR_HOST, EOPNOTSUPP,
                             "snapshot: %s was saved without XSAVE state, which this host's KVM "
                             "needs: restore it on the same kind of host",
                             what);
    if (s->xsave_size)
        r = need(&rec, TAG_XSAVE, s->xsave_size, what, "XSAVE", err);
    else if (!rec.val[TAG_FPU])
        r = lapis_err_set(err, LAPIS_ERR_HOST, EOPNOTSUPP,
                          "snapshot: %s was saved with XSAVE state only, which this host's KVM "
                          "does not take: restore it on the same kind of host",
                          what);
    if (r)
        return r;

    /* The order QEMU uses: registers, FPU state, XCRs, special registers, MSRs... */
    if ((r = vcpu_set(v->fd, KVM_SET_REGS, rec.val[TAG_REGS], "KVM_SET_REGS", v->index, err)))
        return r;
    if (s->xsave_size) {
        /* The record is not aligned for the kernel struct: copy it. */
        struct kvm_xsave *x = malloc(s->xsave_size);
        if (!x)
            return lapis_err_set(err, LAPIS_ERR_HOST, ENOMEM, "out of memory");
        memcpy(x, rec.val[TAG_XSAVE], s->xsave_size);
        r = vcpu_set(v->fd, KVM_SET_XSAVE, x, "KVM_SET_XSAVE", v->index, err);
        free(x);
    } else {
        r = vcpu_set(v->fd, KVM_SET_FPU, rec.val[TAG_FPU], "KVM_SET_FPU", v->index, err);
    }
    if (r)
        return r;
    if (s->has_xcrs && rec.val[TAG_XCRS] &&
        (r = vcpu_set(v->fd, KVM_SET_XCRS, rec.val[TAG_XCRS], "KVM_SET_XCRS", v->index, err)))
        return r;
    if ((r = vcpu_set(v->fd, KVM_SET_SREGS, rec.val[TAG_SREGS], "KVM_SET_SREGS", v->index, err)))
        return r;
    msrs = (const struct msr_rec *)(const void *)rec.val[TAG_MSRS];
    nmsrs = rec.val[TAG_MSRS] ? rec.len[TAG_MSRS] / (uint32_t)sizeof(struct msr_rec) : 0;
    for (uint32_t i = 0; i < nmsrs; i++) {
        struct msr_rec m;
        memcpy(&m, &msrs[i], sizeof(m));
        if (m.index == MSR_TSC_DEADLINE) { /* after the LAPIC, which gives it meaning */
            deadline = m.data;
            have_deadline = true;
            continue;
        }
        /* Some MSRs cannot be written in some modes (no in-kernel LAPIC): equal is fine. */
        if (set_msr(v->fd, m.index, m.data) && get_msr(v->fd, m.index) != m.data)
            return lapis_err_set(err, LAPIS_ERR_HOST, EINVAL,
                                 "snapshot: %s: KVM refused MSR 0x%x = 0x%llx (this host cannot "
                                 "take that state back)",
                                 what, m.index, (unsigned long long)m.data);
    }
    if (!user &&
        (r = vcpu_set(v->fd, KVM_SET_LAPIC, rec.val[TAG_LAPIC], "KVM_SET_LAPIC", v->index, err)))
        return r;
    if (have_deadline && set_msr(v->fd, MSR_TSC_DEADLINE, deadline))
        return lapis_err_set(err, LAPIS_ERR_HOST, EINVAL,
                             "snapshot: %s: KVM refused IA32_TSC_DEADLINE", what);
    memcpy(&ev, rec.val[TAG_EVENTS], sizeof(ev));
    ev.flags |= KVM_VCPUEVENT_VALID_SIPI_VECTOR;
    if ((r = vcpu_set(v->fd, KVM_SET_VCPU_EVENTS, &ev, "KVM_SET_VCPU_EVENTS", v->index, err)) ||
        (r = vcpu_set(v->fd, KVM_SET_MP_STATE, rec.val[TAG_MP_STATE], "KVM_SET_MP_STATE", v->index,
                      err)))
        return r;
    if (s->has_debugregs && rec.val[TAG_DEBUGREGS] &&
        (r = vcpu_set(v->fd, KVM_SET_DEBUGREGS, rec.val[TAG_DEBUGREGS], "KVM_SET_DEBUGREGS",
                      v->index, err)))
        return r;
    return 0;
}

static int restore_devices(struct lapis_vm *vm, const struct lapis_snap_section *sec,
                           struct lapis_err *err)
{
    struct lapis_board *bd = &vm->board;
    struct records rec;
    int r;

    if ((r = check_devices(sec, &rec, err)))
        return r;
    if (rec.val[TAG_UART]) {
        const uint8_t *p = rec.val[TAG_UART] + LAPIS_UART_FIFO_SIZE;
        pthread_mutex_lock(&bd->uart_lock);
        memcpy(bd->uart.rx_fifo, rec.val[TAG_UART], LAPIS_UART_FIFO_SIZE);
        bd->uart.rx_head = p[0];
        bd->uart.rx_count = p[1];
        bd->uart.ier = p[2];
        bd->uart.lcr = p[3];
        bd->uart.mcr = p[4];
        bd->uart.scr = p[5];
        bd->uart.dll = p[6];
        bd->uart.dlm = p[7];
        bd->uart.lsr_err = p[8];
        bd->uart.msr_lines = p[9];
        bd->uart.msr_delta = p[10];
        bd->uart.rx_trigger = p[11];
        bd->uart.fifo_enabled = p[12];
        bd->uart.thr_ipending = p[13];
        bd->uart.irq_level = p[14]; /* the IOAPIC state has the line's level */
        pthread_mutex_unlock(&bd->uart_lock);
    }
    if (rec.val[TAG_FWCFG]) {
        int32_t cur;
        uint32_t off;
        memcpy(&cur, rec.val[TAG_FWCFG], 4);
        memcpy(&off, rec.val[TAG_FWCFG] + 4, 4);
        pthread_mutex_lock(&bd->fwcfg_lock);
        if (cur >= -1 && cur < (int32_t)bd->fwcfg.nitems) {
            bd->fwcfg.cur = cur;
            bd->fwcfg.offset = off;
        } else {
            r = lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                              "snapshot: the fw_cfg state names no item");
        }
        pthread_mutex_unlock(&bd->fwcfg_lock);
        if (r)
            return r;
    }
    if (rec.val[TAG_KVMCLOCK]) {
        struct kvm_clock_data clock;
        memcpy(&clock, rec.val[TAG_KVMCLOCK], sizeof(clock));
        if (lapis_kvm_ioctl(vm->fd, KVM_SET_CLOCK, &clock) < 0)
            return lapis_err_set(err, LAPIS_ERR_HOST, errno,
                                 "snapshot: KVM_SET_CLOCK failed: %s (this host cannot take the "
                                 "guest's clock back)",
                                 strerror(errno));
    }
    return 0;
}

static int restore_irqchip(struct lapis_vm *vm, const struct lapis_snap_section *sec,
                           uint8_t pending[32], struct lapis_err *err)
{
    static const unsigned tags[3] = {TAG_KVM_PIC_MASTER, TAG_KVM_PIC_SLAVE, TAG_KVM_IOAPIC};
    struct lapis_irqchip *ic = &vm->irqchip;
    struct records rec;
    int r;

    memset(pending, 0, 32);
    if ((r = check_irqchip(sec, ic->kernel, ic->ioapic_version, &rec, err)))
        return r;
    if (ic->kernel) {
        struct kvm_irqchip chip;
        for (unsigned i = 0; i < 3; i++) {
            memcpy(&chip, rec.val[tags[i]], sizeof(chip));
            if (lapis_kvm_ioctl(vm->fd, KVM_SET_IRQCHIP, &chip) < 0)
                return lapis_err_set(err, LAPIS_ERR_HOST, errno,
                                     "snapshot: KVM_SET_IRQCHIP failed: %s", strerror(errno));
        }
        for (unsigned pin = 0; pin < LAPIS_IRQCHIP_PINS; pin++)
            ic->kernel_line[pin] = rec.val[TAG_KERNEL_LINES][pin] != 0;
        return 0;
    }
    struct lapis_ioapic_state st;
    memcpy(&st, rec.val[TAG_IOAPIC], sizeof(st));
    memcpy(pending, rec.val[TAG_PENDING_EOI], 32);
    pthread_mutex_lock(&ic->lock);
    r = lapis_ioapic_load(&ic->ioapic, &st);
    pthread_mutex_unlock(&ic->lock);
    if (r)
        return lapis_err_set(err, LAPIS_ERR_USAGE, EINVAL,
                             "snapshot: the IOAPIC state is not possible for this IOAPIC");
    return 0;
}

int lapis_snapshot_restore(struct lapis_vm *vm, const struct lapis_snap_file *f,
                           struct lapis_err *err)
{
    struct lapis_snapshot *s = vm->snap;
    struct lapis_irqchip *ic = &vm->irqchip;
    struct lapis_snap_vm sv;
    uint8_t pending[32];
    int r;

    if (!s)
        return lapis_err_set(err, LAPIS_ERR_HOST, EINVAL, "snapshot: not attached");
    if ((r = check_host(vm, f, err)))
        return r;
    lapis_snap_vm_decode(lapis_snap_find(f, LAPIS_SNAP_VM, 0), &sv, NULL, 0);
    if ((r = restore_irqchip(vm, lapis_snap_find(f, LAPIS_SNAP_IRQCHIP, 0), pending, err)))
        return r;
    if ((r = restore_devices(vm, lapis_snap_find(f, LAPIS_SNAP_DEVICES, 0), err)))
        return r;
    for (unsigned i = 0; i < vm->ncpus; i++)
        if ((r = restore_vcpu(s, &vm->vcpus[i], lapis_snap_find(f, LAPIS_SNAP_CPU, i), err)))
            return r;

    /* The LAPICs hold their state now: routes to KVM, level pins due, and held-back EOIs. */
    if (!ic->kernel) {
        pthread_mutex_lock(&ic->lock);
        lapis_ioapic_resync(&ic->ioapic);
        for (unsigned v = 16; v < 256; v++)
            if ((pending[v / 8] >> (v % 8)) & 1)
                lapis_ioapic_eoi(&ic->ioapic, (uint8_t)v, LAPIS_EOI_FROM_BROADCAST);
        pthread_mutex_unlock(&ic->lock);
        if (!ic->user && !ic->routes_valid)
            return lapis_err_set(err, LAPIS_ERR_HOST, EIO,
                                 "snapshot: KVM_SET_GSI_ROUTING failed while restoring");
    }
    s->restored = true;
    s->saves = sv.saves;
    return 0;
}
