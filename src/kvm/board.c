/* SPDX-License-Identifier: MIT */
/* Device placement and wiring: ports, MMIO windows, interrupt lines, stop requests. */
#include "board.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vm.h"

/* ---- test devices: isa-debug-exit, pc-testdev IRQ lines, PM1a, sync port ---------------- */

static void testdev_exit(void *opaque, int status)
{
    struct lapis_board *b = opaque;

    if (status == 0)
        lapis_vm_stop(b->vm, LAPIS_STATUS_POWEROFF, "%s", "");
    else
        lapis_vm_stop(b->vm, status & 0xFF, "%s", ""); /* a process status has 8 bits */
}

static void testdev_set_irq(void *opaque, unsigned line, bool level)
{
    struct lapis_board *b = opaque;
    lapis_irqchip_set_line(&b->vm->irqchip, line, level);
}

static const struct lapis_testdev_ops testdev_ops = {
    .exit = testdev_exit,
    .set_irq = testdev_set_irq,
};

static uint64_t testdev_read(void *opaque, uint64_t addr, uint64_t offset, unsigned size)
{
    struct lapis_board *b = opaque;
    uint32_t v = 0;

    (void)offset;
    lapis_testdev_io(&b->testdev, (uint16_t)addr, size, false, &v);
    return v;
}

static void testdev_write(void *opaque, uint64_t addr, uint64_t offset, unsigned size,
                          uint64_t value)
{
    struct lapis_board *b = opaque;
    uint32_t v = (uint32_t)value;

    (void)offset;
    lapis_testdev_io(&b->testdev, (uint16_t)addr, size, true, &v);
}

/* ---- COM1: 16550 at 0x3f8, IRQ 4 -> IOAPIC pin 4 ------------------------------------------ */

static void uart_tx(void *opaque, uint8_t byte)
{
    (void)opaque;
    /* Unbuffered: what the guest printed is out before it can crash or stop. */
    while (write(STDOUT_FILENO, &byte, 1) < 0 && errno == EINTR)
        ;
}

static void uart_set_irq(void *opaque, bool level)
{
    struct lapis_board *b = opaque;
    lapis_irqchip_set_line(&b->vm->irqchip, LAPIS_UART_COM1_IRQ, level);
}

static void uart_rx_ready(void *opaque)
{
    struct lapis_board *b = opaque;
    if (b->uart_rx_ready)
        b->uart_rx_ready(b->uart_rx_opaque);
}

static const struct lapis_uart_ops uart_ops = {
    .tx = uart_tx,
    .set_irq = uart_set_irq,
    .rx_ready = uart_rx_ready,
};

static uint64_t uart_read(void *opaque, uint64_t addr, uint64_t offset, unsigned size)
{
    struct lapis_board *b = opaque;
    uint32_t v = 0xFFFFFFFFu;

    (void)addr;
    lapis_uart_io(&b->uart, (unsigned)offset, size, false, &v);
    return v;
}

static void uart_write(void *opaque, uint64_t addr, uint64_t offset, unsigned size, uint64_t value)
{
    struct lapis_board *b = opaque;
    uint32_t v = (uint32_t)value;

    (void)addr;
    lapis_uart_io(&b->uart, (unsigned)offset, size, true, &v);
}

/* ---- fw_cfg at 0x510 (selector) / 0x511 (data) ------------------------------------------ */

static uint64_t fwcfg_read(void *opaque, uint64_t addr, uint64_t offset, unsigned size)
{
    struct lapis_board *b = opaque;
    uint32_t v = 0;

    (void)offset;
    lapis_fwcfg_io(&b->fwcfg, (uint16_t)addr, size, false, &v);
    return v;
}

static void fwcfg_write(void *opaque, uint64_t addr, uint64_t offset, unsigned size, uint64_t value)
{
    struct lapis_board *b = opaque;
    uint32_t v = (uint32_t)value;

    (void)offset;
    lapis_fwcfg_io(&b->fwcfg, (uint16_t)addr, size, true, &v);
}

static int add(struct lapis_iobus *bus, const char *name, uint64_t base, uint64_t len,
               const struct lapis_portio_rules *rules, lapis_io_read_fn rd, lapis_io_write_fn wr,
               void *opaque, pthread_mutex_t *lock, struct lapis_err *err)
{
    struct lapis_iobus_range r = {
        .name = name,
        .base = base,
        .len = len,
        .read = rd,
        .write = wr,
        .opaque = opaque,
        .lock = lock,
        .rules = rules,
    };
    int e = lapis_iobus_add(bus, &r);
    if (e)
        return lapis_err_set(err, LAPIS_ERR_HOST, -e, "cannot place %s at 0x%llx", name,
                             (unsigned long long)base);
    return 0;
}

int lapis_board_init(struct lapis_board *b, struct lapis_vm *vm, struct lapis_err *err)
{
    int r;

    memset(b, 0, sizeof(*b));
    b->vm = vm;
    pthread_mutex_init(&b->testdev_lock, NULL);
    lapis_testdev_init(&b->testdev, &testdev_ops, b);
    pthread_mutex_init(&b->uart_lock, NULL);
    lapis_uart_init(&b->uart, &uart_ops, b);
    pthread_mutex_init(&b->fwcfg_lock, NULL);
    r = lapis_fwcfg_init(&b->fwcfg, lapis_ram_total(&vm->ram), (uint16_t)vm->params.cpus,
                         (uint16_t)vm->params.cpus);
    if (r)
        return lapis_err_set(err, LAPIS_ERR_HOST, -r, "fw_cfg refused %u CPUs", vm->params.cpus);

    /* As QEMU with -device isa-debug-exit,iobase=0xf4,iosize=4 and its q35 devices. */
    r = add(&vm->pio, "isa-debug-exit", LAPIS_TESTDEV_DEBUG_EXIT_PORT,
            LAPIS_TESTDEV_DEBUG_EXIT_SIZE, &lapis_testdev_debug_exit_rules, testdev_read,
            testdev_write, b, &b->testdev_lock, err);
    if (!r)
        r = add(&vm->pio, "pc-testdev irq", LAPIS_TESTDEV_IRQ_PORT_BASE, LAPIS_TESTDEV_IRQ_LINES,
                &lapis_testdev_irq_rules, testdev_read, testdev_write, b, &b->testdev_lock, err);
    if (!r)
        r = add(&vm->pio, "pm1a", LAPIS_TESTDEV_PM1A_CNT_PORT, 2, NULL, testdev_read, testdev_write,
                b, &b->testdev_lock, err);
    if (!r)
        r = add(&vm->pio, "sync", LAPIS_TESTDEV_SYNC_PORT, 1, NULL, testdev_read, testdev_write, b,
                &b->testdev_lock, err);
    if (!r)
        r = add(&vm->pio, "com1", LAPIS_UART_COM1_BASE, LAPIS_UART_NREGS, NULL, uart_read,
                uart_write, b, &b->uart_lock, err);
    if (!r)
        r = add(&vm->pio, "fw_cfg", LAPIS_FWCFG_PORT_SEL, LAPIS_FWCFG_PORTS, &lapis_fwcfg_rules,
                fwcfg_read, fwcfg_write, b, &b->fwcfg_lock, err);
    /* The IOAPIC model serialises itself (irqchip lock); KVM's own needs no window. */
    if (!r && !vm->irqchip.kernel)
        r = add(&vm->mmio, "ioapic", LAPIS_IOAPIC_BASE, LAPIS_IOAPIC_MMIO_SIZE, NULL,
                lapis_irqchip_ioapic_read, lapis_irqchip_ioapic_write, &vm->irqchip, NULL, err);
    return r;
}

void lapis_board_destroy(struct lapis_board *b)
{
    pthread_mutex_destroy(&b->testdev_lock);
    pthread_mutex_destroy(&b->uart_lock);
    pthread_mutex_destroy(&b->fwcfg_lock);
}
