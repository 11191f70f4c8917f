/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART (National PC16550D datasheet; register facts as Linux's 8250
 * driver and QEMU's serial.c use them). Output is instantaneous.
 */
#include "uart16550.h"

#include <errno.h>
#include <string.h>

#define IER_MASK     0x0Fu
#define MCR_MASK     0x1Fu
#define LSR_ERR_MASK 0x1Eu /* OE, PE, FE, BI: the line status interrupt sources */
#define MSR_LINES_PC (LAPIS_UART_MSR_CTS | LAPIS_UART_MSR_DSR | LAPIS_UART_MSR_DCD)

static const uint8_t rx_triggers[4] = {1, 4, 8, 14};

static unsigned rx_capacity(const struct lapis_uart *u)
{
    return u->fifo_enabled ? LAPIS_UART_FIFO_SIZE : 1;
}

/* The pending interrupt of highest priority, as IIR bits 0-3. */
static uint8_t pending_iir(const struct lapis_uart *u)
{
    if ((u->ier & LAPIS_UART_IER_ELSI) && (u->lsr_err & LSR_ERR_MASK))
        return LAPIS_UART_IIR_RLSI;
    if ((u->ier & LAPIS_UART_IER_ERBFI) && u->rx_count) {
        if (u->fifo_enabled && u->rx_count < u->rx_trigger)
            return LAPIS_UART_IIR_CTI;
        return LAPIS_UART_IIR_RDI;
    }
    if ((u->ier & LAPIS_UART_IER_ETBEI) && u->thr_ipending)
        return LAPIS_UART_IIR_THRI;
    if ((u->ier & LAPIS_UART_IER_EDSSI) && u->msr_delta)
        return LAPIS_UART_IIR_MSI;
    return LAPIS_UART_IIR_NO_INT;
}

static void update_irq(struct lapis_uart *u)
{
    bool level = pending_iir(u) != LAPIS_UART_IIR_NO_INT;

    if (u->out2_gates_irq && !(u->mcr & LAPIS_UART_MCR_OUT2))
        level = false;
    if (level == u->irq_level)
        return;
    u->irq_level = level;
    if (level)
        u->stats.irq_raised++;
    if (u->ops && u->ops->set_irq)
        u->ops->set_irq(u->opaque, level);
}

/* Modem input lines: looped from MCR in loopback, else a host that is always ready. */
static uint8_t modem_lines(uint8_t mcr)
{
    if (!(mcr & LAPIS_UART_MCR_LOOP))
        return MSR_LINES_PC;
    uint8_t v = 0;
    if (mcr & LAPIS_UART_MCR_RTS)
        v |= LAPIS_UART_MSR_CTS;
    if (mcr & LAPIS_UART_MCR_DTR)
        v |= LAPIS_UART_MSR_DSR;
    if (mcr & LAPIS_UART_MCR_OUT1)
        v |= LAPIS_UART_MSR_RI;
    if (mcr & LAPIS_UART_MCR_OUT2)
        v |= LAPIS_UART_MSR_DCD;
    return v;
}

static void set_modem_lines(struct lapis_uart *u, uint8_t lines)
{
    uint8_t changed = lines ^ u->msr_lines;

    if (changed & LAPIS_UART_MSR_CTS)
        u->msr_delta |= LAPIS_UART_MSR_DCTS;
    if (changed & LAPIS_UART_MSR_DSR)
        u->msr_delta |= LAPIS_UART_MSR_DDSR;
    if ((changed & LAPIS_UART_MSR_RI) && !(lines & LAPIS_UART_MSR_RI))
        u->msr_delta |= LAPIS_UART_MSR_TERI; /* trailing edge only */
    if (changed & LAPIS_UART_MSR_DCD)
        u->msr_delta |= LAPIS_UART_MSR_DDCD;
    u->msr_lines = lines;
}

static void rx_clear(struct lapis_uart *u)
{
    u->rx_head = 0;
    u->rx_count = 0;
}

/* One byte into the RX FIFO; false (and OE) when it is full. */
static bool rx_push(struct lapis_uart *u, uint8_t byte)
{
    if (u->rx_count >= rx_capacity(u)) {
        u->lsr_err |= LAPIS_UART_LSR_OE;
        u->stats.rx_overrun++;
        return false;
    }
    u->rx_fifo[(u->rx_head + u->rx_count) % LAPIS_UART_FIFO_SIZE] = byte;
    u->rx_count++;
    return true;
}

static uint8_t rx_pop(struct lapis_uart *u)
{
    if (!u->rx_count)
        return 0;
    uint8_t byte = u->rx_fifo[u->rx_head];
    u->rx_head = (uint8_t)((u->rx_head + 1) % LAPIS_UART_FIFO_SIZE);
    u->rx_count--;
    return byte;
}

void lapis_uart_reset(struct lapis_uart *u)
{
    memset(u->rx_fifo, 0, sizeof(u->rx_fifo));
    rx_clear(u);
    u->ier = 0;
    u->lcr = 0;
    u->mcr = 0;
    u->scr = 0;
    u->dll = 0x0C; /* 9600 baud from the 1.8432 MHz clock */
    u->dlm = 0;
    u->lsr_err = 0;
    u->msr_lines = modem_lines(0);
    u->msr_delta = 0;
    u->rx_trigger = rx_triggers[0];
    u->fifo_enabled = false;
    u->thr_ipending = false;
    update_irq(u);
}

void lapis_uart_init(struct lapis_uart *u, const struct lapis_uart_ops *ops, void *opaque)
{
    memset(u, 0, sizeof(*u));
    u->ops = ops;
    u->opaque = opaque;
    lapis_uart_reset(u);
}

static void write_thr(struct lapis_uart *u, uint8_t byte)
{
    if (u->mcr & LAPIS_UART_MCR_LOOP) {
        if (rx_push(u, byte))
            u->stats.loop_bytes++;
    } else {
        u->stats.tx_bytes++;
        if (u->ops && u->ops->tx)
            u->ops->tx(u->opaque, byte);
    }
    /* Sent at once: the holding register is empty again. */
    u->thr_ipending = true;
}

static void write_fcr(struct lapis_uart *u, uint8_t v)
{
    bool enable = v & LAPIS_UART_FCR_ENABLE;

    /* Changing the FIFO mode resets both FIFOs. */
    if (enable != u->fifo_enabled || (v & LAPIS_UART_FCR_CLEAR_RX))
        rx_clear(u);
    if (v & LAPIS_UART_FCR_CLEAR_TX)
        u->thr_ipending = true; /* as QEMU: the (empty) TX FIFO reset signals THRE */
    u->fifo_enabled = enable;
    u->rx_trigger = rx_triggers[v >> 6];
}

static void reg_write(struct lapis_uart *u, unsigned off, uint8_t v)
{
    bool dlab = u->lcr & LAPIS_UART_LCR_DLAB;

    switch (off) {
    case LAPIS_UART_THR:
        if (dlab)
            u->dll = v;
        else
            write_thr(u, v);
        break;
    case LAPIS_UART_IER:
        if (dlab) {
            u->dlm = v;
        } else {
            uint8_t changed = (uint8_t)((v & IER_MASK) ^ u->ier);
            u->ier = v & IER_MASK;
            /* Enabling ETBEI with THR empty (always) raises THRE; Linux tests for it. */
            if (changed & LAPIS_UART_IER_ETBEI)
                u->thr_ipending = (u->ier & LAPIS_UART_IER_ETBEI) != 0;
        }
        break;
    case LAPIS_UART_FCR:
        write_fcr(u, v);
        break;
    case LAPIS_UART_LCR:
        u->lcr = v;
        break;
    case LAPIS_UART_MCR:
        u->mcr = v & MCR_MASK;
        set_modem_lines(u, modem_lines(u->mcr));
        break;
    case LAPIS_UART_LSR:
    case LAPIS_UART_MSR:
        break; /* read-only on a 16550A (factory test only) */
    case LAPIS_UART_SCR:
        u->scr = v;
        break;
    }
}

static uint8_t reg_read(struct lapis_uart *u, unsigned off)
{
    bool dlab = u->lcr & LAPIS_UART_LCR_DLAB;
    uint8_t v = 0;

    switch (off) {
    case LAPIS_UART_RBR:
        if (dlab)
            return u->dll;
        if (u->rx_count) {
            v = rx_pop(u);
            if (!u->rx_count && u->ops && u->ops->rx_ready)
                u->ops->rx_ready(u->opaque);
        }
        return v;
    case LAPIS_UART_IER:
        return dlab ? u->dlm : u->ier;
    case LAPIS_UART_IIR:
        v = pending_iir(u);
        /* Reading IIR acknowledges THRE when that is what it reports. */
        if (v == LAPIS_UART_IIR_THRI)
            u->thr_ipending = false;
        return (uint8_t)(v | (u->fifo_enabled ? LAPIS_UART_IIR_FIFO : 0));
    case LAPIS_UART_LCR:
        return u->lcr;
    case LAPIS_UART_MCR:
        return u->mcr;
    case LAPIS_UART_LSR:
        v = LAPIS_UART_LSR_THRE | LAPIS_UART_LSR_TEMT | u->lsr_err;
        if (u->rx_count)
            v |= LAPIS_UART_LSR_DR;
        u->lsr_err = 0;
        return v;
    case LAPIS_UART_MSR:
        v = u->msr_lines | u->msr_delta;
        u->msr_delta = 0;
        return v;
    default:
        return u->scr;
    }
}

int lapis_uart_io(struct lapis_uart *u, unsigned offset, unsigned size, bool is_write,
                  uint32_t *value)
{
    if (!value || offset >= LAPIS_UART_NREGS || size != 1) {
        if (value && !is_write)
            *value = 0xFFFFFFFFu;
        u->stats.bad_access++;
        return -EINVAL;
    }
    if (is_write)
        reg_write(u, offset, (uint8_t)*value);
    else
        *value = reg_read(u, offset);
    update_irq(u);
    return 0;
}

int lapis_uart_receive(struct lapis_uart *u, const uint8_t *bytes, size_t n)
{
    size_t accepted = 0;

    if (!bytes || !n)
        return 0;
    if (u->mcr & LAPIS_UART_MCR_LOOP) {
        u->stats.rx_in_loop += n;
        return 0;
    }
    while (accepted < n && u->rx_count < rx_capacity(u))
        rx_push(u, bytes[accepted++]);
    u->stats.rx_bytes += accepted;
    if (accepted < n) {
        /* The first refused byte overruns; the caller keeps the rest. */
        u->lsr_err |= LAPIS_UART_LSR_OE;
        u->stats.rx_overrun += n - accepted;
    }
    update_irq(u);
    return (int)accepted;
}

size_t lapis_uart_rx_space(const struct lapis_uart *u)
{
    if (u->mcr & LAPIS_UART_MCR_LOOP)
        return 0;
    return rx_capacity(u) - u->rx_count;
}

bool lapis_uart_irq_level(const struct lapis_uart *u)
{
    return u->irq_level;
}
