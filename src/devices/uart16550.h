/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART, port-offset based (offsets 0-7 from the base, byte accesses
 * only). Transmission is instantaneous, so LSR.THRE and TEMT always read 1.
 * Linux's 8250 driver probes it as a 16550A (scratch, loopback, IIR FIFO
 * bits, THRE re-assertion).
 *
 * Interrupts, highest priority first (what IIR reports):
 *   line status     LSR.OE with IER.ELSI; cleared by reading LSR
 *   receive data    RX FIFO at the trigger level (IIR 0x04), or holding any
 *                   byte below it (character timeout 0x0C: there is no clock,
 *                   so the timeout counts as expired at once); cleared by
 *                   reading RBR until below the trigger / empty
 *   THR empty       raised after a THR write and when IER.ETBEI goes 0 -> 1;
 *                   cleared by reading IIR while it is the top source, by
 *                   writing THR (which at once raises it again), or clearing ETBEI
 *   modem status    MSR delta bits with IER.EDSSI; cleared by reading MSR
 * The output is a level, reported through ops->set_irq on changes only.
 * Pure C: no syscalls, globals, threads or time.
 */
#ifndef LAPIS_UART16550_H
#define LAPIS_UART16550_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAPIS_UART_COM1_BASE 0x3F8u
#define LAPIS_UART_COM1_IRQ  4u
#define LAPIS_UART_NREGS     8u
#define LAPIS_UART_FIFO_SIZE 16u

/* Register offsets (DLAB = LCR bit 7 selects DLL/DLM at 0 and 1). */
#define LAPIS_UART_RBR 0u /* read; THR on write; DLL with DLAB */
#define LAPIS_UART_THR 0u
#define LAPIS_UART_DLL 0u
#define LAPIS_UART_IER 1u /* DLM with DLAB */
#define LAPIS_UART_DLM 1u
#define LAPIS_UART_IIR 2u /* read */
#define LAPIS_UART_FCR 2u /* write */
#define LAPIS_UART_LCR 3u
#define LAPIS_UART_MCR 4u
#define LAPIS_UART_LSR 5u
#define LAPIS_UART_MSR 6u
#define LAPIS_UART_SCR 7u

#define LAPIS_UART_IER_ERBFI 0x01u /* receive data available */
#define LAPIS_UART_IER_ETBEI 0x02u /* THR empty */
#define LAPIS_UART_IER_ELSI  0x04u /* line status */
#define LAPIS_UART_IER_EDSSI 0x08u /* modem status */

#define LAPIS_UART_IIR_NO_INT 0x01u
#define LAPIS_UART_IIR_MSI    0x00u
#define LAPIS_UART_IIR_THRI   0x02u
#define LAPIS_UART_IIR_RDI    0x04u
#define LAPIS_UART_IIR_RLSI   0x06u
#define LAPIS_UART_IIR_CTI    0x0Cu
#define LAPIS_UART_IIR_FIFO   0xC0u /* both bits set when FIFOs are enabled */

#define LAPIS_UART_FCR_ENABLE   0x01u
#define LAPIS_UART_FCR_CLEAR_RX 0x02u
#define LAPIS_UART_FCR_CLEAR_TX 0x04u

#define LAPIS_UART_LCR_DLAB 0x80u

#define LAPIS_UART_MCR_DTR  0x01u
#define LAPIS_UART_MCR_RTS  0x02u
#define LAPIS_UART_MCR_OUT1 0x04u
#define LAPIS_UART_MCR_OUT2 0x08u
#define LAPIS_UART_MCR_LOOP 0x10u

#define LAPIS_UART_LSR_DR   0x01u
#define LAPIS_UART_LSR_OE   0x02u
#define LAPIS_UART_LSR_THRE 0x20u
#define LAPIS_UART_LSR_TEMT 0x40u

#define LAPIS_UART_MSR_DCTS 0x01u
#define LAPIS_UART_MSR_DDSR 0x02u
#define LAPIS_UART_MSR_TERI 0x04u
#define LAPIS_UART_MSR_DDCD 0x08u
#define LAPIS_UART_MSR_CTS  0x10u
#define LAPIS_UART_MSR_DSR  0x20u
#define LAPIS_UART_MSR_RI   0x40u
#define LAPIS_UART_MSR_DCD  0x80u

struct lapis_uart_ops {
    /* A byte the guest sent (not called in loopback mode). May be NULL. */
    void (*tx)(void *opaque, uint8_t byte);
    /* The interrupt output changed to @level. May be NULL. */
    void (*set_irq)(void *opaque, bool level);
    /* Optional: the guest emptied the RX FIFO; more input can be offered. */
    void (*rx_ready)(void *opaque);
};

struct lapis_uart_stats {
    uint64_t tx_bytes;   /* bytes passed to ops->tx */
    uint64_t loop_bytes; /* THR writes looped back to RX */
    uint64_t rx_bytes;   /* bytes accepted into the RX FIFO */
    uint64_t rx_overrun; /* bytes refused with RX full (LSR.OE set) */
    uint64_t rx_in_loop; /* external input refused in loopback mode */
    uint64_t irq_raised; /* set_irq(true) calls */
    uint64_t bad_access; /* offset > 7 or size != 1 */
};

struct lapis_uart {
    uint8_t rx_fifo[LAPIS_UART_FIFO_SIZE];
    uint8_t rx_head, rx_count;
    uint8_t ier, lcr, mcr, scr, dll, dlm;
    uint8_t lsr_err;   /* sticky LSR error bits (OE) until LSR is read */
    uint8_t msr_lines; /* MSR bits 4-7 as they are now */
    uint8_t msr_delta; /* MSR bits 0-3, until MSR is read */
    uint8_t rx_trigger;
    bool fifo_enabled;
    bool thr_ipending;
    bool irq_level;
    /* PC wiring: the IRQ reaches the interrupt controller only with MCR.OUT2.
     * Off by default, as in QEMU. Set it after init to model real PCs. */
    bool out2_gates_irq;
    const struct lapis_uart_ops *ops;
    void *opaque;
    struct lapis_uart_stats stats;
};

/* Initialises @uart in its reset state (interrupt output low, no callback). */
void lapis_uart_init(struct lapis_uart *uart, const struct lapis_uart_ops *ops, void *opaque);

/* Back to the reset state (FIFOs emptied); lowers the interrupt if it was high. */
void lapis_uart_reset(struct lapis_uart *uart);

/*
 * One guest access at @offset (0-7) of @size bytes. Only byte accesses act;
 * anything else is counted and ignored (reads give all ones). Returns 0 or
 * -EINVAL (bad offset/size, or NULL @value).
 */
int lapis_uart_io(struct lapis_uart *uart, unsigned offset, unsigned size, bool is_write,
                  uint32_t *value);

/*
 * Input from the outside world. Returns how many of @bytes were accepted
 * (at most the free FIFO space; 1 byte holding register with FIFOs off).
 * Refused bytes set LSR.OE and are counted as overruns; offer no more than
 * lapis_uart_rx_space() to avoid that. In loopback mode the input is
 * disconnected: nothing is accepted and OE is not set.
 */
int lapis_uart_receive(struct lapis_uart *uart, const uint8_t *bytes, size_t n);

/* Free bytes in the RX FIFO (0 in loopback mode). */
size_t lapis_uart_rx_space(const struct lapis_uart *uart);

/* The interrupt output as it is now. */
bool lapis_uart_irq_level(const struct lapis_uart *uart);

#endif
