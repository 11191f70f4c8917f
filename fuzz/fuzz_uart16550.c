/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART: a program of port accesses (any offset and width; mostly
 * byte accesses to the 8 registers), host input bursts and resets.
 * The harness keeps its own copy of the RX FIFO and checks, after every step:
 * the FIFO holds exactly the bytes accepted (from the host or looped back)
 * minus those read, in order; RBR reads return them in order; LSR.DR, THRE
 * and TEMT; IIR's shape; the interrupt output equals the highest-priority
 * pending source gated by OUT2, and set_irq reports every change and only
 * changes; tx sees exactly the THR writes outside loopback and DLAB.
 */
#include "fuzz_common.h"

#include <errno.h>

#include "devices/uart16550.h"

struct uart_fuzz {
    struct lapis_uart u;
    uint8_t fifo[LAPIS_UART_FIFO_SIZE];
    unsigned head, count;
    bool reported; /* last level given to set_irq */
    unsigned irq_calls, rx_ready_calls;
    int tx_byte; /* last byte sent, -1 none */
    unsigned tx_calls;
    bool with_ops;
};

static void uart_fuzz_tx(void *opaque, uint8_t byte)
{
    struct uart_fuzz *f = opaque;
    f->tx_byte = byte;
    f->tx_calls++;
}

static void uart_fuzz_set_irq(void *opaque, bool level)
{
    struct uart_fuzz *f = opaque;
    FUZZ_ASSERT(level != f->reported); /* changes only */
    f->reported = level;
    f->irq_calls++;
}

static void uart_fuzz_rx_ready(void *opaque)
{
    struct uart_fuzz *f = opaque;
    FUZZ_ASSERT(f->u.rx_count == 0);
    f->rx_ready_calls++;
}

static const struct lapis_uart_ops uart_fuzz_ops = {
    .tx = uart_fuzz_tx,
    .set_irq = uart_fuzz_set_irq,
    .rx_ready = uart_fuzz_rx_ready,
};

static void uart_fuzz_push(struct uart_fuzz *f, uint8_t b)
{
    FUZZ_ASSERT(f->count < LAPIS_UART_FIFO_SIZE);
    if (f->count < LAPIS_UART_FIFO_SIZE)
        f->fifo[(f->head + f->count++) % LAPIS_UART_FIFO_SIZE] = b;
}

/* The interrupt the datasheet says is pending, from the registers. */
static uint8_t uart_fuzz_expected_iir(const struct lapis_uart *u)
{
    if ((u->ier & LAPIS_UART_IER_ELSI) && (u->lsr_err & 0x1E))
        return LAPIS_UART_IIR_RLSI;
    if ((u->ier & LAPIS_UART_IER_ERBFI) && u->rx_count)
        return (u->fifo_enabled && u->rx_count < u->rx_trigger) ? LAPIS_UART_IIR_CTI
                                                                : LAPIS_UART_IIR_RDI;
    if ((u->ier & LAPIS_UART_IER_ETBEI) && u->thr_ipending)
        return LAPIS_UART_IIR_THRI;
    if ((u->ier & LAPIS_UART_IER_EDSSI) && u->msr_delta)
        return LAPIS_UART_IIR_MSI;
    return LAPIS_UART_IIR_NO_INT;
}

static void uart_fuzz_check(struct uart_fuzz *f, bool with_ops)
{
    const struct lapis_uart *u = &f->u;
    bool loop = u->mcr & LAPIS_UART_MCR_LOOP;
    unsigned cap = u->fifo_enabled ? LAPIS_UART_FIFO_SIZE : 1;

    FUZZ_ASSERT(u->rx_count <= cap && u->rx_head < LAPIS_UART_FIFO_SIZE);
    FUZZ_ASSERT(u->rx_count == f->count);
    for (unsigned i = 0; i < f->count && i < LAPIS_UART_FIFO_SIZE; i++)
        FUZZ_ASSERT(u->rx_fifo[(u->rx_head + i) % LAPIS_UART_FIFO_SIZE] ==
                    f->fifo[(f->head + i) % LAPIS_UART_FIFO_SIZE]);
    FUZZ_ASSERT(lapis_uart_rx_space(u) == (loop ? 0 : cap - u->rx_count));
    FUZZ_ASSERT(u->rx_trigger == 1 || u->rx_trigger == 4 || u->rx_trigger == 8 ||
                u->rx_trigger == 14);
    FUZZ_ASSERT((u->ier & ~0x0Fu) == 0 && (u->mcr & ~0x1Fu) == 0);

    bool level = uart_fuzz_expected_iir(u) != LAPIS_UART_IIR_NO_INT;
    if (u->out2_gates_irq && !(u->mcr & LAPIS_UART_MCR_OUT2))
        level = false;
    FUZZ_ASSERT(lapis_uart_irq_level(u) == level);
    if (with_ops)
        FUZZ_ASSERT(f->reported == level);
}

static void uart_fuzz_io(struct uart_fuzz *f, struct fuzz_in *in, uint8_t op)
{
    struct lapis_uart *u = &f->u;
    bool odd = op & 0x10; /* any offset and size */
    unsigned off = odd ? fin_u8(in) : (op >> 5);
    unsigned size = odd ? fin_size(in) : 1;
    bool is_write = op & 1;
    uint32_t value = is_write ? fin_u32(in) : 0x12345678u;
    bool dlab = u->lcr & LAPIS_UART_LCR_DLAB;
    bool loop = u->mcr & LAPIS_UART_MCR_LOOP;
    unsigned count = u->rx_count, tx_calls = f->tx_calls;
    uint8_t expect_iir = uart_fuzz_expected_iir(u);
    bool fifo_was = u->fifo_enabled;

    int rc = lapis_uart_io(u, off, size, is_write, &value);
    if (off >= LAPIS_UART_NREGS || size != 1) {
        FUZZ_ASSERT(rc == -EINVAL);
        if (!is_write)
            FUZZ_ASSERT(value == 0xFFFFFFFFu);
        FUZZ_ASSERT(u->rx_count == count && f->tx_calls == tx_calls);
        return;
    }
    FUZZ_ASSERT(rc == 0);
    if (!is_write) {
        FUZZ_ASSERT(value <= 0xFF);
        switch (off) {
        case LAPIS_UART_RBR:
            if (!dlab && f->count) {
                FUZZ_ASSERT(value == f->fifo[f->head]);
                f->head = (f->head + 1) % LAPIS_UART_FIFO_SIZE;
                f->count--;
            }
            break;
        case LAPIS_UART_IIR:
            FUZZ_ASSERT((value & 0x0F) == expect_iir);
            FUZZ_ASSERT((value & 0xF0) == (u->fifo_enabled ? LAPIS_UART_IIR_FIFO : 0));
            break;
        case LAPIS_UART_LSR:
            FUZZ_ASSERT(value & LAPIS_UART_LSR_THRE && value & LAPIS_UART_LSR_TEMT);
            FUZZ_ASSERT(!!(value & LAPIS_UART_LSR_DR) == (count != 0));
            break;
        }
        FUZZ_ASSERT(f->tx_calls == tx_calls);
        return;
    }
    uint8_t b = (uint8_t)value;
    if (off == LAPIS_UART_THR && !dlab) {
        if (loop) {
            FUZZ_ASSERT(f->tx_calls == tx_calls);
            if (u->rx_count == count + 1)
                uart_fuzz_push(f, b);
            else
                FUZZ_ASSERT(u->lsr_err & LAPIS_UART_LSR_OE);
        } else {
            FUZZ_ASSERT(!f->with_ops || (f->tx_calls == tx_calls + 1 && f->tx_byte == b));
        }
        return;
    }
    FUZZ_ASSERT(f->tx_calls == tx_calls);
    if (off == LAPIS_UART_FCR &&
        ((b & LAPIS_UART_FCR_CLEAR_RX) || !!(b & LAPIS_UART_FCR_ENABLE) != fifo_was)) {
        FUZZ_ASSERT(u->rx_count == 0);
        f->count = 0;
    }
}

FUZZ_TARGET(uart16550)
{
    static struct uart_fuzz f;
    struct fuzz_in in = {data, size};

    memset(&f, 0, sizeof(f));
    f.tx_byte = -1;
    uint8_t cfg = fin_u8(&in);
    bool with_ops = !(cfg & 1);
    f.with_ops = with_ops;
    lapis_uart_init(&f.u, with_ops ? &uart_fuzz_ops : NULL, &f);
    f.u.out2_gates_irq = cfg & 2;
    uart_fuzz_check(&f, with_ops);

    while (!fin_empty(&in)) {
        uint8_t op = fin_u8(&in);
        switch (op & 0x0E) {
        case 0x0C: { /* the host sends a burst */
            uint8_t want = fin_u8(&in) & 31;
            size_t n;
            const uint8_t *bytes = fin_bytes(&in, want, &n);
            size_t space = lapis_uart_rx_space(&f.u);
            uint64_t overrun = f.u.stats.rx_overrun;
            int rc = lapis_uart_receive(&f.u, n ? bytes : NULL, n);
            FUZZ_ASSERT(rc >= 0 && (size_t)rc == (n < space ? n : space));
            for (int i = 0; i < rc; i++)
                uart_fuzz_push(&f, bytes[i]);
            if (!(f.u.mcr & LAPIS_UART_MCR_LOOP) && (size_t)rc < n) {
                FUZZ_ASSERT(f.u.lsr_err & LAPIS_UART_LSR_OE);
                FUZZ_ASSERT(f.u.stats.rx_overrun == overrun + (n - (size_t)rc));
            }
            break;
        }
        case 0x0E:
            if (op & 0x80) {
                lapis_uart_reset(&f.u);
                f.count = 0;
            } else {
                /* A NULL value pointer is refused. */
                FUZZ_ASSERT(lapis_uart_io(&f.u, op >> 5 & 7, 1, op & 1, NULL) == -EINVAL);
            }
            break;
        default:
            uart_fuzz_io(&f, &in, op);
            break;
        }
        uart_fuzz_check(&f, with_ops);
    }
    return 0;
}
