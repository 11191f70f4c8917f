/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "devices/uart16550.h"
#include "../harness.h"

struct rec {
    uint8_t tx[64];
    unsigned ntx;
    bool level;
    unsigned irq_calls;
    unsigned rx_ready;
};

static void rec_tx(void *opaque, uint8_t byte)
{
    struct rec *r = opaque;
    if (r->ntx < sizeof(r->tx))
        r->tx[r->ntx] = byte;
    r->ntx++;
}

static void rec_irq(void *opaque, bool level)
{
    struct rec *r = opaque;
    r->irq_calls++;
    /* Only changes are reported. */
    CHECK(level != r->level);
    r->level = level;
}

static void rec_rx_ready(void *opaque)
{
    ((struct rec *)opaque)->rx_ready++;
}

static const struct lapis_uart_ops ops = {
    .tx = rec_tx, .set_irq = rec_irq, .rx_ready = rec_rx_ready};

static uint8_t rd(struct lapis_uart *u, unsigned off)
{
    uint32_t v = 0xDEAD;
    CHECK_EQ(lapis_uart_io(u, off, 1, false, &v), 0);
    CHECK(v <= 0xFF);
    return (uint8_t)v;
}

static void wr(struct lapis_uart *u, unsigned off, uint8_t val)
{
    uint32_t v = val;
    CHECK_EQ(lapis_uart_io(u, off, 1, true, &v), 0);
}

static void setup(struct lapis_uart *u, struct rec *r)
{
    memset(r, 0, sizeof(*r));
    lapis_uart_init(u, &ops, r);
}

static void test_reset_values(void)
{
    struct lapis_uart u;
    struct rec r;

    setup(&u, &r);
    CHECK_EQ(rd(&u, LAPIS_UART_IER), 0);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x01);
    CHECK_EQ(rd(&u, LAPIS_UART_LCR), 0);
    CHECK_EQ(rd(&u, LAPIS_UART_MCR), 0);
    CHECK_EQ(rd(&u, LAPIS_UART_LSR), 0x60);
    CHECK_EQ(rd(&u, LAPIS_UART_MSR), 0xB0);
    CHECK_EQ(rd(&u, LAPIS_UART_SCR), 0);
    CHECK_EQ(rd(&u, LAPIS_UART_RBR), 0);
    CHECK_EQ(r.irq_calls, 0);
    CHECK(!lapis_uart_irq_level(&u));
}

static void test_scratch_and_ier_mask(void)
{
    struct lapis_uart u;
    struct rec r;

    setup(&u, &r);
    for (unsigned v = 0; v < 256; v += 0x55) {
        wr(&u, LAPIS_UART_SCR, (uint8_t)v);
        CHECK_EQ(rd(&u, LAPIS_UART_SCR), v);
    }
    wr(&u, LAPIS_UART_IER, 0xFF);
    CHECK_EQ(rd(&u, LAPIS_UART_IER), 0x0F); /* UUE (bit 6) and others read 0 */
    wr(&u, LAPIS_UART_IER, 0x40);
    CHECK_EQ(rd(&u, LAPIS_UART_IER), 0);
    wr(&u, LAPIS_UART_MCR, 0xFF);
    CHECK_EQ(rd(&u, LAPIS_UART_MCR), 0x1F);
    wr(&u, LAPIS_UART_LCR, 0x1B);
    CHECK_EQ(rd(&u, LAPIS_UART_LCR), 0x1B);
}

static void test_dlab(void)
{
    struct lapis_uart u;
    struct rec r;

    setup(&u, &r);
    wr(&u, LAPIS_UART_IER, 0x05);
    wr(&u, LAPIS_UART_LCR, 0x83);
    CHECK_EQ(rd(&u, LAPIS_UART_DLL), 0x0C);
    CHECK_EQ(rd(&u, LAPIS_UART_DLM), 0);
    wr(&u, LAPIS_UART_DLL, 0x01);
    wr(&u, LAPIS_UART_DLM, 0x02);
    CHECK_EQ(rd(&u, LAPIS_UART_DLL), 0x01);
    CHECK_EQ(rd(&u, LAPIS_UART_DLM), 0x02);
    CHECK_EQ(r.ntx, 0); /* DLL writes are not transmitted */
    /* IIR/FCR at offset 2 ignore DLAB. */
    wr(&u, LAPIS_UART_FCR, 0x01);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0xC1);
    wr(&u, LAPIS_UART_LCR, 0x03);
    CHECK_EQ(rd(&u, LAPIS_UART_IER), 0x05);
    wr(&u, LAPIS_UART_THR, 'A');
    CHECK_EQ(r.ntx, 1);
    CHECK_EQ(r.tx[0], 'A');
    wr(&u, LAPIS_UART_LCR, 0x83);
    CHECK_EQ(rd(&u, LAPIS_UART_DLL), 0x01);
    CHECK_EQ(rd(&u, LAPIS_UART_DLM), 0x02);
}

static void test_transmit(void)
{
    struct lapis_uart u;
    struct rec r;
    const char *msg = "hello\n";

    setup(&u, &r);
    for (const char *p = msg; *p; p++) {
        CHECK_EQ(rd(&u, LAPIS_UART_LSR) & 0x60, 0x60);
        wr(&u, LAPIS_UART_THR, (uint8_t)*p);
    }
    CHECK_EQ(r.ntx, 6);
    CHECK(memcmp(r.tx, msg, 6) == 0);
    CHECK_EQ(u.stats.tx_bytes, 6);
    CHECK_EQ(r.irq_calls, 0); /* no IER bits: no interrupt */
}

static void test_receive_no_fifo(void)
{
    struct lapis_uart u;
    struct rec r;
    const uint8_t in[] = {'x', 'y'};

    setup(&u, &r);
    CHECK_EQ(lapis_uart_rx_space(&u), 1);
    CHECK_EQ(lapis_uart_receive(&u, in, 1), 1);
    CHECK_EQ(rd(&u, LAPIS_UART_LSR), 0x61);
    CHECK_EQ(lapis_uart_rx_space(&u), 0);
    CHECK_EQ(lapis_uart_receive(&u, in + 1, 1), 0);
    CHECK_EQ(u.stats.rx_overrun, 1);
    CHECK_EQ(rd(&u, LAPIS_UART_LSR), 0x63); /* DR | OE */
    CHECK_EQ(rd(&u, LAPIS_UART_LSR), 0x61); /* OE cleared by the read */
    CHECK_EQ(rd(&u, LAPIS_UART_RBR), 'x');
    CHECK_EQ(rd(&u, LAPIS_UART_LSR), 0x60);
    CHECK_EQ(r.rx_ready, 1);
    CHECK_EQ(lapis_uart_receive(&u, NULL, 4), 0);
}

static void test_fifo(void)
{
    struct lapis_uart u;
    struct rec r;
    uint8_t in[20];

    for (unsigned i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(0x30 + i);
    setup(&u, &r);
    wr(&u, LAPIS_UART_FCR, 0x07);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0xC1);
    CHECK_EQ(lapis_uart_rx_space(&u), 16);
    CHECK_EQ(lapis_uart_receive(&u, in, 20), 16);
    CHECK_EQ(u.stats.rx_overrun, 4);
    CHECK_EQ(rd(&u, LAPIS_UART_LSR), 0x63);
    for (unsigned i = 0; i < 16; i++) {
        CHECK_EQ(rd(&u, LAPIS_UART_LSR) & 1, 1);
        CHECK_EQ(rd(&u, LAPIS_UART_RBR), 0x30 + i);
        if (i == 3) /* space opens as bytes are read; wrap-around keeps order */
            CHECK_EQ(lapis_uart_receive(&u, in + 16, 4), 4);
    }
    for (unsigned i = 16; i < 20; i++)
        CHECK_EQ(rd(&u, LAPIS_UART_RBR), 0x30 + i);
    CHECK_EQ(rd(&u, LAPIS_UART_LSR), 0x60);
    CHECK_EQ(r.rx_ready, 1);

    /* FCR bit 1 clears RX; toggling FIFO enable clears too. */
    CHECK_EQ(lapis_uart_receive(&u, in, 5), 5);
    wr(&u, LAPIS_UART_FCR, 0x03);
    CHECK_EQ(rd(&u, LAPIS_UART_LSR) & 1, 0);
    CHECK_EQ(lapis_uart_receive(&u, in, 5), 5);
    wr(&u, LAPIS_UART_FCR, 0x00);
    CHECK_EQ(rd(&u, LAPIS_UART_LSR) & 1, 0);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x01);
    CHECK_EQ(lapis_uart_rx_space(&u), 1);
}

static void test_rx_interrupt(void)
{
    struct lapis_uart u;
    struct rec r;
    const uint8_t in[16] = {0};

    setup(&u, &r);
    wr(&u, LAPIS_UART_FCR, 0x81); /* FIFO, trigger 8 */
    wr(&u, LAPIS_UART_IER, LAPIS_UART_IER_ERBFI);
    CHECK(!r.level);
    CHECK_EQ(lapis_uart_receive(&u, in, 1), 1);
    CHECK(r.level);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0xCC); /* below the trigger: timeout */
    CHECK_EQ(lapis_uart_receive(&u, in, 7), 7);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0xC4); /* at the trigger */
    CHECK(r.level);
    for (int i = 0; i < 7; i++)
        rd(&u, LAPIS_UART_RBR);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0xCC);
    CHECK(r.level);
    rd(&u, LAPIS_UART_RBR);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0xC1);
    CHECK(!r.level);
    CHECK_EQ(r.irq_calls, 2);

    /* Non-FIFO mode reports plain receive data. */
    wr(&u, LAPIS_UART_FCR, 0x00);
    CHECK_EQ(lapis_uart_receive(&u, in, 1), 1);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x04);
    /* Masking ERBFI lowers the line with the data still there. */
    wr(&u, LAPIS_UART_IER, 0);
    CHECK(!r.level);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x01);
    wr(&u, LAPIS_UART_IER, LAPIS_UART_IER_ERBFI);
    CHECK(r.level);
}

static void test_thre_interrupt(void)
{
    struct lapis_uart u;
    struct rec r;

    setup(&u, &r);
    wr(&u, LAPIS_UART_IER, LAPIS_UART_IER_ETBEI);
    CHECK(r.level);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x02);
    CHECK(!r.level); /* the IIR read acknowledged it */
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x01);
    /* Rewriting the same IER value is no new edge. */
    wr(&u, LAPIS_UART_IER, LAPIS_UART_IER_ETBEI);
    CHECK(!r.level);
    /* A THR write re-raises it. */
    wr(&u, LAPIS_UART_THR, 'z');
    CHECK(r.level);
    CHECK_EQ(r.ntx, 1);
    /* Writing THR again: still pending (cleared and re-raised at once), no extra edge. */
    unsigned calls = r.irq_calls;
    wr(&u, LAPIS_UART_THR, 'z');
    CHECK_EQ(r.irq_calls, calls);
    CHECK(r.level);
    /* Clearing ETBEI drops it; setting it again re-raises. */
    wr(&u, LAPIS_UART_IER, 0);
    CHECK(!r.level);
    wr(&u, LAPIS_UART_IER, LAPIS_UART_IER_ETBEI);
    CHECK(r.level);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x02);
    CHECK(!r.level);
    /* A TX FIFO reset also signals THRE (as QEMU). */
    wr(&u, LAPIS_UART_FCR, 0x05);
    CHECK(r.level);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0xC2);
}

static void test_iir_priority(void)
{
    struct lapis_uart u;
    struct rec r;
    const uint8_t in[2] = {'a', 'b'};

    setup(&u, &r);
    wr(&u, LAPIS_UART_MCR, LAPIS_UART_MCR_LOOP); /* modem lines change: MSR deltas */
    wr(&u, LAPIS_UART_MCR, 0);
    wr(&u, LAPIS_UART_THR, 'q');                /* THRE pending */
    CHECK_EQ(lapis_uart_receive(&u, in, 2), 1); /* data + overrun */
    CHECK(!r.level);
    wr(&u, LAPIS_UART_IER, 0x0F);
    CHECK(r.level);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x06); /* line status */
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x06); /* IIR read does not clear it */
    CHECK_EQ(rd(&u, LAPIS_UART_LSR), 0x63);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x04); /* receive data */
    CHECK_EQ(rd(&u, LAPIS_UART_RBR), 'a');
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x02); /* THRE, acknowledged by this read */
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x00); /* modem status */
    CHECK(r.level);
    CHECK_EQ(rd(&u, LAPIS_UART_MSR) & 0x0F, 0x0B); /* DCTS, DDSR, DDCD */
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x01);
    CHECK(!r.level);
    CHECK_EQ(rd(&u, LAPIS_UART_MSR), 0xB0);
}

static void test_loopback(void)
{
    struct lapis_uart u;
    struct rec r;
    const uint8_t in[1] = {'e'};

    setup(&u, &r);
    wr(&u, LAPIS_UART_FCR, 0x01);
    wr(&u, LAPIS_UART_MCR, LAPIS_UART_MCR_LOOP | 0x0A); /* RTS | OUT2 */
    CHECK_EQ(rd(&u, LAPIS_UART_MSR) & 0xF0, 0x90);      /* CTS | DCD, as Linux checks */
    wr(&u, LAPIS_UART_MCR, LAPIS_UART_MCR_LOOP | 0x05); /* DTR | OUT1 */
    CHECK_EQ(rd(&u, LAPIS_UART_MSR), 0x60 | 0x0B);      /* DSR|RI, deltas CTS DSR DCD */
    wr(&u, LAPIS_UART_MCR, LAPIS_UART_MCR_LOOP);
    CHECK_EQ(rd(&u, LAPIS_UART_MSR), 0x06); /* DDSR, TERI on RI falling */
    wr(&u, LAPIS_UART_IER, LAPIS_UART_IER_ERBFI);
    wr(&u, LAPIS_UART_THR, 0x55);
    wr(&u, LAPIS_UART_THR, 0xAA);
    CHECK_EQ(r.ntx, 0);
    CHECK(r.level);
    CHECK_EQ(u.stats.loop_bytes, 2);
    CHECK_EQ(rd(&u, LAPIS_UART_LSR), 0x61);
    CHECK_EQ(rd(&u, LAPIS_UART_RBR), 0x55);
    CHECK_EQ(rd(&u, LAPIS_UART_RBR), 0xAA);
    CHECK(!r.level);
    /* External input is disconnected in loopback. */
    CHECK_EQ(lapis_uart_rx_space(&u), 0);
    CHECK_EQ(lapis_uart_receive(&u, in, 1), 0);
    CHECK_EQ(rd(&u, LAPIS_UART_LSR), 0x60);
    /* Looping back into a full FIFO overruns. */
    for (int i = 0; i < 17; i++)
        wr(&u, LAPIS_UART_THR, (uint8_t)i);
    CHECK_EQ(rd(&u, LAPIS_UART_LSR), 0x63);
    wr(&u, LAPIS_UART_MCR, 0x0B);
    wr(&u, LAPIS_UART_FCR, 0x03);
    wr(&u, LAPIS_UART_THR, '!');
    CHECK_EQ(r.ntx, 1);
    CHECK_EQ(r.tx[0], '!');
}

static void test_msr_interrupt(void)
{
    struct lapis_uart u;
    struct rec r;

    setup(&u, &r);
    wr(&u, LAPIS_UART_MCR, LAPIS_UART_MCR_LOOP);
    rd(&u, LAPIS_UART_MSR);
    wr(&u, LAPIS_UART_IER, LAPIS_UART_IER_EDSSI);
    CHECK(!r.level);
    wr(&u, LAPIS_UART_MCR, LAPIS_UART_MCR_LOOP | LAPIS_UART_MCR_RTS);
    CHECK(r.level);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x00);
    CHECK_EQ(rd(&u, LAPIS_UART_MSR), 0x11);
    CHECK(!r.level);
}

/* The probe Linux's 8250 autoconfig() and autoconfig_16550a() run. */
static void test_linux_autoconfig(void)
{
    struct lapis_uart u;
    struct rec r;

    setup(&u, &r);
    /* Scratch test through IER. */
    uint8_t scratch = rd(&u, LAPIS_UART_IER);
    wr(&u, LAPIS_UART_IER, 0);
    uint8_t scratch2 = rd(&u, LAPIS_UART_IER) & 0x0F;
    wr(&u, LAPIS_UART_IER, 0x0F);
    uint8_t scratch3 = rd(&u, LAPIS_UART_IER) & 0x0F;
    wr(&u, LAPIS_UART_IER, scratch);
    CHECK_EQ(scratch2, 0);
    CHECK_EQ(scratch3, 0x0F);
    /* Loopback test. */
    uint8_t save_mcr = rd(&u, LAPIS_UART_MCR);
    wr(&u, LAPIS_UART_MCR, LAPIS_UART_MCR_LOOP | 0x0A);
    CHECK_EQ(rd(&u, LAPIS_UART_MSR) & 0xF0, 0x90);
    wr(&u, LAPIS_UART_MCR, save_mcr);
    /* EFR probe (LCR 0xBF), then FIFO type from IIR bits 6-7. */
    uint8_t save_lcr = rd(&u, LAPIS_UART_LCR);
    wr(&u, LAPIS_UART_LCR, 0xBF);
    wr(&u, 2, 0); /* EFR on 650s; FCR here */
    wr(&u, LAPIS_UART_LCR, 0);
    wr(&u, LAPIS_UART_FCR, 0x01);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR) >> 6, 3); /* 16550A */
    /* autoconfig_16550a: no EFR with DLAB or 0xBF, not NS, not 16750, no UUE. */
    wr(&u, LAPIS_UART_LCR, 0x80);
    CHECK(rd(&u, 2) != 0);
    wr(&u, LAPIS_UART_LCR, 0xBF);
    CHECK(rd(&u, 2) != 0);
    wr(&u, LAPIS_UART_LCR, 0);
    uint8_t s1 = rd(&u, LAPIS_UART_MCR);
    wr(&u, LAPIS_UART_LCR, 0xE0);
    uint8_t s2 = rd(&u, 2);
    CHECK_EQ((s1 ^ s2) & LAPIS_UART_MCR_LOOP, 0);
    wr(&u, LAPIS_UART_LCR, 0);
    wr(&u, LAPIS_UART_MCR, s1 ^ LAPIS_UART_MCR_LOOP);
    wr(&u, LAPIS_UART_LCR, 0xE0);
    s2 = rd(&u, 2);
    wr(&u, LAPIS_UART_LCR, 0);
    wr(&u, LAPIS_UART_MCR, s1);
    CHECK_EQ((s1 ^ s2) & LAPIS_UART_MCR_LOOP, 0); /* not a National SuperIO */
    wr(&u, LAPIS_UART_FCR, 0x21);
    s1 = rd(&u, LAPIS_UART_IIR) & 0xE0;
    wr(&u, LAPIS_UART_FCR, 0);
    wr(&u, LAPIS_UART_LCR, 0x80);
    wr(&u, LAPIS_UART_FCR, 0x21);
    s2 = rd(&u, LAPIS_UART_IIR) & 0xE0;
    wr(&u, LAPIS_UART_FCR, 0);
    wr(&u, LAPIS_UART_LCR, 0);
    CHECK_EQ(s1, 0xC0);
    CHECK(s2 != 0xE0); /* not a 16750 */
    uint8_t iersave = rd(&u, LAPIS_UART_IER);
    wr(&u, LAPIS_UART_IER, iersave | 0x40);
    CHECK_EQ(rd(&u, LAPIS_UART_IER) & 0x40, 0); /* not an XScale */
    wr(&u, LAPIS_UART_IER, iersave);
    wr(&u, LAPIS_UART_LCR, save_lcr);
    CHECK_EQ(r.ntx, 0);
}

/* serial8250_do_startup(): the THRE re-assertion and TXEN tests. */
static void test_linux_thre_tests(void)
{
    struct lapis_uart u;
    struct rec r;

    setup(&u, &r);
    wr(&u, LAPIS_UART_FCR, 0x07);
    wr(&u, LAPIS_UART_FCR, 0);
    rd(&u, LAPIS_UART_LSR);
    rd(&u, LAPIS_UART_RBR);
    rd(&u, LAPIS_UART_IIR);
    rd(&u, LAPIS_UART_MSR);
    CHECK(rd(&u, LAPIS_UART_LSR) != 0xFF);
    /* UART_BUG_THRE test. */
    wr(&u, LAPIS_UART_IER, LAPIS_UART_IER_ETBEI);
    uint8_t iir1 = rd(&u, LAPIS_UART_IIR);
    wr(&u, LAPIS_UART_IER, 0);
    wr(&u, LAPIS_UART_IER, LAPIS_UART_IER_ETBEI);
    uint8_t iir = rd(&u, LAPIS_UART_IIR);
    wr(&u, LAPIS_UART_IER, 0);
    CHECK_EQ(iir1 & 1, 0);
    CHECK_EQ(iir & 1, 0); /* THRE re-asserted: no UART_BUG_THRE */
    /* UART_BUG_TXEN test, with OUT2 set as Linux does. */
    wr(&u, LAPIS_UART_MCR, LAPIS_UART_MCR_OUT2 | LAPIS_UART_MCR_DTR | LAPIS_UART_MCR_RTS);
    wr(&u, LAPIS_UART_IER, LAPIS_UART_IER_ETBEI);
    uint8_t lsr = rd(&u, LAPIS_UART_LSR);
    iir = rd(&u, LAPIS_UART_IIR);
    wr(&u, LAPIS_UART_IER, 0);
    CHECK(lsr & LAPIS_UART_LSR_TEMT);
    CHECK_EQ(iir & 1, 0);
    CHECK(!r.level);
}

static void test_out2_gating(void)
{
    struct lapis_uart u;
    struct rec r;

    setup(&u, &r);
    u.out2_gates_irq = true;
    wr(&u, LAPIS_UART_IER, LAPIS_UART_IER_ETBEI);
    CHECK(!r.level);
    CHECK_EQ(rd(&u, LAPIS_UART_IIR), 0x02); /* pending inside, not on the pin */
    wr(&u, LAPIS_UART_THR, 'a');
    wr(&u, LAPIS_UART_MCR, LAPIS_UART_MCR_OUT2);
    CHECK(r.level);
    wr(&u, LAPIS_UART_MCR, 0);
    CHECK(!r.level);
    /* Reset lowers a raised line. */
    wr(&u, LAPIS_UART_MCR, LAPIS_UART_MCR_OUT2);
    CHECK(r.level);
    lapis_uart_reset(&u);
    CHECK(!r.level);
    CHECK(u.out2_gates_irq);
}

static void test_bad_accesses(void)
{
    struct lapis_uart u;
    struct rec r;
    uint32_t v;

    setup(&u, &r);
    wr(&u, LAPIS_UART_SCR, 0x5A);
    wr(&u, LAPIS_UART_IER, 0x01);
    struct lapis_uart before = u;
    for (unsigned off = 0; off < 8; off++) {
        for (unsigned size = 0; size <= 8; size++) {
            if (size == 1)
                continue;
            v = 0xFF;
            CHECK_EQ(lapis_uart_io(&u, off, size, true, &v), -EINVAL);
            v = 0;
            CHECK_EQ(lapis_uart_io(&u, off, size, false, &v), -EINVAL);
            CHECK_EQ(v, 0xFFFFFFFFu);
        }
    }
    for (unsigned off = 8; off < 300; off += 37) {
        v = 0xFF;
        CHECK_EQ(lapis_uart_io(&u, off, 1, true, &v), -EINVAL);
        CHECK_EQ(lapis_uart_io(&u, off, 1, false, &v), -EINVAL);
    }
    CHECK_EQ(lapis_uart_io(&u, 0xFFFFFFFFu, 1, false, &v), -EINVAL);
    CHECK_EQ(lapis_uart_io(&u, 0, 1, true, NULL), -EINVAL);
    CHECK_EQ(lapis_uart_io(&u, 0, 1, false, NULL), -EINVAL);
    /* Writes to LSR/MSR are ignored. */
    wr(&u, LAPIS_UART_LSR, 0xFF);
    wr(&u, LAPIS_UART_MSR, 0xFF);
    CHECK_EQ(r.ntx, 0);
    CHECK_EQ(u.stats.bad_access, 8 * 8 * 2 + 8 * 2 + 3);
    before.stats = u.stats;
    CHECK(memcmp(&before, &u, sizeof(u)) == 0);
    /* Values wider than a byte only use the low byte. */
    v = 0x1234;
    CHECK_EQ(lapis_uart_io(&u, LAPIS_UART_SCR, 1, true, &v), 0);
    CHECK_EQ(rd(&u, LAPIS_UART_SCR), 0x34);
}

static void test_null_ops(void)
{
    struct lapis_uart u;
    const uint8_t in[2] = {1, 2};

    lapis_uart_init(&u, NULL, NULL);
    wr(&u, LAPIS_UART_IER, 0x0F);
    wr(&u, LAPIS_UART_THR, 'x');
    CHECK_EQ(lapis_uart_receive(&u, in, 2), 1);
    CHECK(lapis_uart_irq_level(&u));
    rd(&u, LAPIS_UART_RBR);
    CHECK_EQ(u.stats.tx_bytes, 1);
}

int main(void)
{
    RUN_TEST(test_reset_values);
    RUN_TEST(test_scratch_and_ier_mask);
    RUN_TEST(test_dlab);
    RUN_TEST(test_transmit);
    RUN_TEST(test_receive_no_fifo);
    RUN_TEST(test_fifo);
    RUN_TEST(test_rx_interrupt);
    RUN_TEST(test_thre_interrupt);
    RUN_TEST(test_iir_priority);
    RUN_TEST(test_loopback);
    RUN_TEST(test_msr_interrupt);
    RUN_TEST(test_linux_autoconfig);
    RUN_TEST(test_linux_thre_tests);
    RUN_TEST(test_out2_gating);
    RUN_TEST(test_bad_accesses);
    RUN_TEST(test_null_ops);
    return harness_finish("uart16550");
}
