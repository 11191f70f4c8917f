/* SPDX-License-Identifier: MIT */
/*
 * COM1 interrupts through IOAPIC pin 4 (ISA IRQ 4, edge, active high):
 *  1. transmit: with IER.THRI set, each THR-empty interrupt (IIR 0x2) sends
 *     the next byte of a line, so the line below is printed by interrupts;
 *  2. receive: in loopback (MCR bit 4) each byte written comes back in RBR
 *     and raises a received-data interrupt (IIR 0x4).
 * Nothing else prints while the UART interrupts are on.
 */
#include "guest.h"

#define PIN    4
#define VECTOR 0x44

#define RBR 0
#define THR 0
#define IER 1
#define IIR 2
#define MCR 4
#define LSR 5

#define IER_RDI  0x01
#define IER_THRI 0x02
#define MCR_BASE 0x0B /* DTR | RTS | OUT2 (OUT2 gates the IRQ on PCs) */
#define MCR_LOOP 0x10
#define WAIT_MS  1000

static const char tx_text[] = "# uart_irq: this line was sent by THR-empty interrupts\r\n";
static const char rx_text[] = "lapis";

static volatile unsigned irqs, thre_irqs, rx_irqs, other_irqs, tx_pos, rx_len;
static volatile uint8_t first_iir, bad_iir;
static char rx_buf[16];

static uint8_t uart_in(unsigned reg)
{
    return inb((uint16_t)(COM1_BASE + reg));
}

static void uart_out(unsigned reg, uint8_t v)
{
    outb((uint16_t)(COM1_BASE + reg), v);
}

static void uart_handler(struct irq_frame *f)
{
    (void)f;
    /* EOI first (edge: nothing reaches the IOAPIC); the next edge is only
     * taken after the iretq. */
    lapic_eoi();
    uint8_t iir = uart_in(IIR);
    if (!irqs++)
        first_iir = iir;
    switch (iir & 0x0F) {
    case 0x2: /* THR empty; reading IIR cleared it */
        thre_irqs++;
        if (tx_pos < sizeof(tx_text) - 1)
            uart_out(THR, (uint8_t)tx_text[tx_pos++]);
        break;
    case 0x4: /* received data; reading RBR clears it */
        rx_irqs++;
        if (rx_len < sizeof(rx_buf) - 1)
            rx_buf[rx_len++] = (char)uart_in(RBR);
        else
            (void)uart_in(RBR);
        break;
    default:
        other_irqs++;
        bad_iir = iir;
        break;
    }
}

static bool wait_for(volatile unsigned *v, unsigned want)
{
    uint64_t end = deadline_ms(WAIT_MS);
    while (*v < want && !expired(end))
        cpu_relax();
    return *v >= want;
}

int main(void)
{
    idt_set_handler(VECTOR, uart_handler);
    ioapic_route(PIN, VECTOR, lapic_id(), 0); /* edge, active high, unmasked */
    uint8_t idle_iir = uart_in(IIR);

    /* 1. Transmit by THR-empty interrupts. */
    while ((uart_in(LSR) & 0x60) != 0x60)
        cpu_relax();
    uart_out(MCR, MCR_BASE);
    irq_enable();
    uart_out(IER, IER_THRI);
    wait_for(&tx_pos, sizeof(tx_text) - 1);
    wait_for(&thre_irqs, sizeof(tx_text)); /* one more: the last byte went out */
    uart_out(IER, 0);
    irq_disable();
    unsigned tx_thre = thre_irqs, tx_first = first_iir, tx_other = other_irqs;

    /* 2. Receive in loopback. */
    irqs = 0;
    uart_out(MCR, MCR_BASE | MCR_LOOP);
    while (uart_in(LSR) & 0x01)
        (void)uart_in(RBR);
    irq_enable();
    uart_out(IER, IER_RDI);
    for (unsigned i = 0; i < sizeof(rx_text) - 1; i++) {
        uart_out(THR, (uint8_t)rx_text[i]);
        if (!wait_for(&rx_irqs, i + 1))
            break;
    }
    uart_out(IER, 0);
    irq_disable();
    uart_out(MCR, 0x03);
    rx_buf[rx_len] = '\0';

    ok((idle_iir & 0x0F) == 0x1, "IIR reads 0x%x (no interrupt pending) before IER is set",
       idle_iir);
    ok(tx_pos == sizeof(tx_text) - 1 && tx_thre == sizeof(tx_text),
       "transmit: %u THR-empty interrupts sent %u of %u bytes", tx_thre, tx_pos,
       (unsigned)sizeof(tx_text) - 1);
    ok((tx_first & 0x0F) == 0x2, "first IIR in the handler is 0x%x (THR empty)", tx_first);
    ok(rx_irqs == sizeof(rx_text) - 1 && !strcmp(rx_buf, rx_text),
       "loopback receive: %u received-data interrupts brought \"%s\"", rx_irqs, rx_buf);
    ok((first_iir & 0x0F) == 0x4, "first IIR in loopback is 0x%x (received data)", first_iir);
    ok(!(uart_in(LSR) & 0x01), "receive buffer empty at the end");
    if (tx_other || other_irqs)
        diag("%u interrupt(s) found no cause in IIR (last 0x%x)", tx_other + other_irqs, bad_iir);
    ok(!ioapic_remote_irr(PIN), "pin %u (edge) has no Remote IRR", PIN);
    ioapic_mask(PIN, true);
    printf("uart_irq: %u THR-empty and %u receive interrupts through IOAPIC pin %u\n", tx_thre,
           rx_irqs, PIN);
    return 0;
}
