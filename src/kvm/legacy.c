/* SPDX-License-Identifier: MIT */
/* The legacy PC devices of a Linux guest: placement, interrupt wiring, the PIT's host timer. */
#include "legacy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vm.h"

/* ---- 8254 PIT: channel 0 -> IOAPIC pin 2, timed on CLOCK_MONOTONIC ------------------------ */

static uint64_t pit_now(void *opaque)
{
    (void)opaque;
    return lapis_host_now_ns();
}

/* Called with pit_lock held; the timer lock nests inside it. */
static void pit_timer_arm(void *opaque, uint64_t deadline_ns)
{
    struct lapis_legacy *lg = opaque;
    lapis_host_timer_arm(&lg->pit_timer,
                         deadline_ns == LAPIS_PIT_NO_DEADLINE ? LAPIS_HOST_TIMER_OFF : deadline_ns);
}

/* Called with pit_lock held: PIT -> IOAPIC lock order. */
static void pit_set_irq(void *opaque, bool level)
{
    struct lapis_legacy *lg = opaque;
    lapis_irqchip_set_line(&lg->vm->irqchip, LAPIS_LEGACY_PIT_PIN, level);
}

static const struct lapis_pit_ops pit_ops = {
    .now_ns = pit_now,
    .timer_arm = pit_timer_arm,
    .set_irq = pit_set_irq,
};

/* The timer thread, no lock held. */
static void pit_timer_fired(void *opaque)
{
    struct lapis_legacy *lg = opaque;

    pthread_mutex_lock(&lg->pit_lock);
    lapis_pit_timer_expired(&lg->pit);
    pthread_mutex_unlock(&lg->pit_lock);
}

static uint64_t pit_read(void *opaque, uint64_t addr, uint64_t offset, unsigned size)
{
    struct lapis_legacy *lg = opaque;
    uint32_t v = 0xFF;

    (void)offset;
    lapis_pit_io(&lg->pit, (uint16_t)addr, size, false, &v);
    return v;
}

static void pit_write(void *opaque, uint64_t addr, uint64_t offset, unsigned size, uint64_t value)
{
    struct lapis_legacy *lg = opaque;
    uint32_t v = (uint32_t)value;

    (void)offset;
    lapis_pit_io(&lg->pit, (uint16_t)addr, size, true, &v);
}

/* ---- 8259 pair and ELCR: registers only, never INTR -------------------------------------- */

static uint64_t pic_read(void *opaque, uint64_t addr, uint64_t offset, unsigned size)
{
    struct lapis_legacy *lg = opaque;
    uint32_t v = 0xFF;

    (void)offset;
    lapis_pic_io(&lg->pic, (uint16_t)addr, size, false, &v);
    return v;
}

static void pic_write(void *opaque, uint64_t addr, uint64_t offset, unsigned size, uint64_t value)
{
    struct lapis_legacy *lg = opaque;
    uint32_t v = (uint32_t)value;

    (void)offset;
    lapis_pic_io(&lg->pic, (uint16_t)addr, size, true, &v);
}

/* ---- 8042: IRQ 1/12 -> pins 1/12; the reset line reboots ---------------------------------- */

/* Called with kbc_lock held: 8042 -> IOAPIC lock order. */
static void kbc_set_irq(void *opaque, unsigned irq, bool level)
{
    struct lapis_legacy *lg = opaque;
    lapis_irqchip_set_line(&lg->vm->irqchip, irq, level);
}

static void kbc_reset(void *opaque)
{
    struct lapis_legacy *lg = opaque;
    /* A reboot ends lapis, with status 0 (CONTRIBUTING.md): no firmware to restart into. */
    lapis_vm_stop(lg->vm, LAPIS_STATUS_POWEROFF, "guest rebooted (8042 reset line)");
}

static const struct lapis_i8042_ops kbc_ops = {
    .set_irq = kbc_set_irq,
    .reset = kbc_reset,
};

static uint64_t kbc_read(void *opaque, uint64_t addr, uint64_t offset, unsigned size)
{
    struct lapis_legacy *lg = opaque;
    uint32_t v = 0xFF;

    (void)offset;
    lapis_i8042_io(&lg->kbc, (uint16_t)addr, size, false, &v);
    return v;
}

static void kbc_write(void *opaque, uint64_t addr, uint64_t offset, unsigned size, uint64_t value)
{
    struct lapis_legacy *lg = opaque;
    uint32_t v = (uint32_t)value;

    (void)offset;
    lapis_i8042_io(&lg->kbc, (uint16_t)addr, size, true, &v);
}

/* ---- CMOS RTC: the host's wall clock ------------------------------------------------------ */

static int64_t cmos_wall_ns(void *opaque)
{
    struct timespec ts;

    (void)opaque;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static const struct lapis_cmos_ops cmos_ops = {
    .wall_ns = cmos_wall_ns,
};

static uint64_t cmos_read(void *opaque, uint64_t addr, uint64_t offset, unsigned size)
{
    struct lapis_legacy *lg = opaque;
    uint32_t v = 0xFF;

    (void)offset;
    lapis_cmos_io(&lg->cmos, (uint16_t)addr, size, false, &v);
    return v;
}

static void cmos_write(void *opaque, uint64_t addr, uint64_t offset, unsigned size, uint64_t value)
{
    struct lapis_legacy *lg = opaque;
    uint32_t v = (uint32_t)value;

    (void)offset;
    lapis_cmos_io(&lg->cmos, (uint16_t)addr, size, true, &v);
}

/* ---- ACPI PM1a event block: status and enable, nothing ever raised ------------------------ */

static uint64_t pm1_evt_read(void *opaque, uint64_t addr, uint64_t offset, unsigned size)
{
    (void)opaque;
    (void)addr;
    (void)offset;
    (void)size;
    return 0;
}

static void pm1_evt_write(void *opaque, uint64_t addr, uint64_t offset, unsigned size,
                          uint64_t value)
{
    struct lapis_legacy *lg = opaque;

    (void)addr;
    (void)offset;
    (void)size;
    (void)value;
    __atomic_fetch_add(&lg->pm1_evt_writes, 1, __ATOMIC_RELAXED);
}

/* ---- placement --------------------------------------------------------------------------- */

static int place(struct lapis_vm *vm, const char *name, uint16_t base, uint16_t len,
                 lapis_io_read_fn rd, lapis_io_write_fn wr, void *opaque, pthread_mutex_t *lock,
                 struct lapis_err *err)
{
    struct lapis_iobus_range r = {
        .name = name,
        .base = base,
        .len = len,
        .read = rd,
        .write = wr,
        .opaque = opaque,
        .lock = lock,
    };
    int e = lapis_iobus_add(&vm->pio, &r);

    if (e)
        return lapis_err_set(err, LAPIS_ERR_HOST, -e, "cannot place %s at port 0x%x: %s", name,
                             base, strerror(-e));
    return 0;
}

int lapis_legacy_attach(struct lapis_legacy *lg, struct lapis_vm *vm, struct lapis_err *err)
{
    int r;

    memset(lg, 0, sizeof(*lg));
    lg->vm = vm;
    pthread_mutex_init(&lg->pit_lock, NULL);
    pthread_mutex_init(&lg->pic_lock, NULL);
    pthread_mutex_init(&lg->kbc_lock, NULL);
    pthread_mutex_init(&lg->cmos_lock, NULL);
    lapis_host_timer_init(&lg->pit_timer, pit_timer_fired, lg);
    lapis_pit_init(&lg->pit, &pit_ops, lg);
    lapis_pic_init(&lg->pic);
    lapis_i8042_init(&lg->kbc, &kbc_ops, lg);
    lapis_cmos_init(&lg->cmos, &cmos_ops, lg);
    lg->attached = true;

    r = place(vm, "pit", LAPIS_PIT_PORT_BASE, 4, pit_read, pit_write, lg, &lg->pit_lock, err);
    if (!r)
        r = place(vm, "port61", LAPIS_PIT_PORT_B, 1, pit_read, pit_write, lg, &lg->pit_lock, err);
    if (!r)
        r = place(vm, "pic-master", LAPIS_PIC_MASTER_CMD, 2, pic_read, pic_write, lg, &lg->pic_lock,
                  err);
    if (!r)
        r = place(vm, "pic-slave", LAPIS_PIC_SLAVE_CMD, 2, pic_read, pic_write, lg, &lg->pic_lock,
                  err);
    if (!r)
        r = place(vm, "elcr", LAPIS_PIC_ELCR_MASTER, 2, pic_read, pic_write, lg, &lg->pic_lock,
                  err);
    if (!r)
        r = place(vm, "i8042-data", LAPIS_I8042_DATA, 1, kbc_read, kbc_write, lg, &lg->kbc_lock,
                  err);
    if (!r)
        r = place(vm, "i8042-cmd", LAPIS_I8042_COMMAND, 1, kbc_read, kbc_write, lg, &lg->kbc_lock,
                  err);
    if (!r)
        r = place(vm, "cmos", LAPIS_CMOS_INDEX, 2, cmos_read, cmos_write, lg, &lg->cmos_lock, err);
    if (!r)
        r = place(vm, "pm1a-evt", LAPIS_ACPI_PM_BASE, LAPIS_LEGACY_PM1A_EVT_LEN, pm1_evt_read,
                  pm1_evt_write, lg, NULL, err);
    if (!r)
        r = lapis_host_timer_start(&lg->pit_timer, err);
    return r;
}

void lapis_legacy_detach(struct lapis_legacy *lg)
{
    if (!lg->attached)
        return;
    /* The vCPUs have stopped; only the timer thread may still touch the PIT. */
    lapis_host_timer_destroy(&lg->pit_timer);
    pthread_mutex_destroy(&lg->pit_lock);
    pthread_mutex_destroy(&lg->pic_lock);
    pthread_mutex_destroy(&lg->kbc_lock);
    pthread_mutex_destroy(&lg->cmos_lock);
    lg->attached = false;
}

void lapis_legacy_format_stats(const struct lapis_legacy *lg, char *buf, size_t len)
{
    const struct lapis_pit_stats *p = &lg->pit.stats;

    snprintf(buf, len,
             "legacy: pit.irqs=%" PRIu64 " pit.dropped=%" PRIu64 " pit.clamped=%" PRIu64
             " pit.spurious=%" PRIu64 " pit.timer_fires=%" PRIu64 " pic.inits=%" PRIu64
             " pic.undelivered=%" PRIu64 " i8042.commands=%" PRIu64 " i8042.resets=%" PRIu64
             " cmos.reads=%" PRIu64 " cmos.irq_enables=%" PRIu64 " pm1_evt.writes=%" PRIu64,
             p->irqs, p->dropped, p->clamped, p->spurious, lg->pit_timer.fires, lg->pic.stats.inits,
             lg->pic.stats.undelivered, lg->kbc.stats.commands, lg->kbc.stats.resets,
             lg->cmos.stats.reads, lg->cmos.stats.irq_enables,
             __atomic_load_n(&lg->pm1_evt_writes, __ATOMIC_RELAXED));
}
