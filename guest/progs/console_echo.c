/* SPDX-License-Identifier: MIT */
/*
 * COM1 input from lapis's console (a terminal on stdin, src/kvm/console.h):
 * received-data interrupts through IOAPIC pin 4, FIFOs off, so the UART holds
 * one byte and the VMM must wait for room before offering the next. Prints
 * "console_echo: ready", then collects bytes until a carriage return (Enter in
 * raw mode) and prints the line back. Waits in `sti; hlt`, for ever if
 * nothing comes (tests/integration/console.sh stops it).
 * Passes when no byte was lost (LSR.OE never set) and a line arrived; the
 * test compares the line with what it typed.
 */
#include "guest.h"

#define PIN    4
#define VECTOR 0x44

#define RBR 0
#define IER 1
#define IIR 2
#define FCR 2
#define MCR 4
#define LSR 5

#define IER_RDI  0x01
#define MCR_BASE 0x0B /* DTR | RTS | OUT2 */
#define LSR_DR   0x01
#define LSR_OE   0x02
#define MAX_LINE 512

static char line[MAX_LINE + 1];
static volatile unsigned len, rx_irqs, empty_irqs, overruns;
static volatile bool done;

static uint8_t uart_in(unsigned reg)
{
    return inb((uint16_t)(COM1_BASE + reg));
}

static void uart_out(unsigned reg, uint8_t v)
{
    outb((uint16_t)(COM1_BASE + reg), v);
}

static void rx_handler(struct irq_frame *f)
{
    (void)f;
    lapic_eoi();
    rx_irqs++;
    uint8_t lsr = uart_in(LSR);
    if (lsr & LSR_OE)
        overruns++;
    if (!(lsr & LSR_DR)) {
        empty_irqs++;
        return;
    }
    while (uart_in(LSR) & LSR_DR) {
        char c = (char)uart_in(RBR);
        if (c == '\r' || c == '\n')
            done = true;
        else if (!done && len < MAX_LINE)
            line[len++] = c;
    }
}

int main(void)
{
    idt_set_handler(VECTOR, rx_handler);
    ioapic_route(PIN, VECTOR, lapic_id(), 0); /* edge, active high, unmasked */
    uart_out(FCR, 0);                         /* FIFOs off: a one-byte receiver */
    uart_out(MCR, MCR_BASE);
    while (uart_in(LSR) & LSR_DR)
        (void)uart_in(RBR);
    (void)uart_in(IIR);
    uart_out(IER, IER_RDI);
    printf("console_echo: ready\n");
    while (!done)
        safe_halt();
    irq_disable();
    uart_out(IER, 0);
    line[len] = '\0';
    printf("console_echo: got %u bytes: %s\n", len, line);
    ok(overruns == 0, "no byte was overrun (LSR.OE %u times)", overruns);
    /* A byte that arrives while the handler drains RBR leaves an interrupt that finds it empty. */
    diag("%u received-data interrupts, %u of them found RBR already drained", rx_irqs, empty_irqs);
    ok(len > 0, "a line of %u bytes arrived", len);
    return 0;
}
