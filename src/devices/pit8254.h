/* SPDX-License-Identifier: MIT */
/*
 * Intel 8254 programmable interval timer, as a PC wires it: channel 0 drives
 * ISA IRQ0 (IOAPIC pin 2 through the MADT override), channel 2's gate and
 * output sit in port 0x61 (what Linux calibrates the TSC with), channel 1 is
 * the old DRAM refresh timer. Ports 0x40-0x43 and 0x61.
 *
 * Pure C: time comes from ops->now_ns (monotonic ns), channel 0 interrupts
 * from one timer the embedder arms on request. Each channel-0 terminal count
 * is one pulse (set_irq high, then low): the ISA line is edge-triggered.
 * Late host timers do not queue ticks: a late expiry delivers one interrupt
 * and counts the rest as dropped (as KVM's PIT with lost_tick_policy=discard).
 * A periodic rate faster than one per LAPIS_PIT_MIN_PERIOD_NS is slowed to
 * it (a guest cannot make the host fire a timer at 1 MHz); the count and
 * OUT still run at the programmed rate.
 * BCD counting is accepted as binary and counted.
 */
#ifndef LAPIS_PIT8254_H
#define LAPIS_PIT8254_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIS_PIT_FREQ_HZ     1193182u
#define LAPIS_PIT_PORT_BASE   0x40u /* counters 0x40-0x42, control 0x43 */
#define LAPIS_PIT_PORT_CTRL   0x43u
#define LAPIS_PIT_PORT_B      0x61u /* NMI status and control: gate 2, speaker, OUT2 */
#define LAPIS_PIT_IRQ         0u    /* ISA IRQ of channel 0 */
#define LAPIS_PIT_NO_DEADLINE UINT64_MAX
/* Periodic channel-0 interrupts come at most this often (KVM's min_timer_period_us). */
#define LAPIS_PIT_MIN_PERIOD_NS 200000ull

/* Port 0x61 bits */
#define LAPIS_PORTB_GATE2   (1u << 0)
#define LAPIS_PORTB_SPEAKER (1u << 1)
#define LAPIS_PORTB_REFRESH (1u << 4) /* toggles every ~15 us */
#define LAPIS_PORTB_OUT2    (1u << 5)

struct lapis_pit_ops {
    /* Monotonic time in ns. Required. */
    uint64_t (*now_ns)(void *opaque);
    /*
     * Call lapis_pit_timer_expired() at or after @deadline_ns (now_ns time).
     * One one-shot timer: re-arming replaces it; LAPIS_PIT_NO_DEADLINE cancels
     * it. Once it has fired (lapis_pit_timer_expired) it is spent, and the
     * model arms it again only if another interrupt is due.
     */
    void (*timer_arm)(void *opaque, uint64_t deadline_ns);
    /* Channel 0's output to ISA IRQ0 (the embedder routes it to IOAPIC pin 2). */
    void (*set_irq)(void *opaque, bool level);
};

struct lapis_pit_stats {
    uint64_t irqs;        /* channel-0 interrupts delivered */
    uint64_t dropped;     /* periodic ticks missed by a late timer (not delivered) */
    uint64_t spurious;    /* timer expiries with nothing due */
    uint64_t clamped;     /* periodic deadlines pushed out to LAPIS_PIT_MIN_PERIOD_NS */
    uint64_t mode_writes; /* control words that set a mode */
    uint64_t latches;     /* counter latch and read-back commands */
    uint64_t bcd_ignored; /* BCD mode set: counted in binary */
    uint64_t bad_access;  /* unknown port, bad size, NULL value */
};

struct lapis_pit_channel {
    uint32_t count; /* reload value; 0 written means 65536 */
    uint8_t mode;   /* 0-5 (6, 7 alias 2, 3) */
    uint8_t rw;     /* 1 LSB, 2 MSB, 3 LSB then MSB */
    bool bcd;
    bool gate;
    bool loaded;     /* a count was written since the last mode set */
    bool running;    /* counting now */
    bool null_count; /* written but not yet loaded (status bit 6) */
    bool write_msb;  /* rw 3: the next write is the MSB */
    bool read_msb;   /* rw 3: the next read is the MSB */
    uint8_t write_lsb;
    bool count_latched;
    bool latch_msb; /* rw 3: the latch's LSB was read */
    uint16_t latch;
    bool status_latched;
    uint8_t status;
    uint64_t start_ns; /* counting (re)started at */
    uint64_t acc;      /* ticks counted before start_ns (modes 0/4 paused by the gate) */
    uint64_t periods;  /* channel 0: terminal counts already signalled */
};

struct lapis_pit {
    struct lapis_pit_channel ch[3];
    uint8_t portb; /* gate 2, speaker and the parity/IOCHK enables as written */
    uint64_t deadline;
    uint64_t last_irq_ns; /* when channel 0 last interrupted */
    const struct lapis_pit_ops *ops;
    void *opaque;
    struct lapis_pit_stats stats;
};

/* Reset state: no counts loaded, no interrupts, gate 2 low. @ops->now_ns is required. */
void lapis_pit_init(struct lapis_pit *pit, const struct lapis_pit_ops *ops, void *opaque);

/* True for 0x40-0x43 and 0x61. */
bool lapis_pit_handles(uint16_t port);

/*
 * One port access. Byte accesses act; wider ones use their low byte (reads
 * return one byte, zero-extended). Returns 0 or -EINVAL (counted) for an
 * unknown port, a size other than 1, 2 or 4, or a NULL @value.
 */
int lapis_pit_io(struct lapis_pit *pit, uint16_t port, unsigned size, bool is_write,
                 uint32_t *value);

/* The timer armed through ops->timer_arm expired (spurious calls are harmless). */
void lapis_pit_timer_expired(struct lapis_pit *pit);

/* Current count and output of @channel (< 3), for tests and tracing. */
uint16_t lapis_pit_count(struct lapis_pit *pit, unsigned channel);
bool lapis_pit_out(struct lapis_pit *pit, unsigned channel);

#endif
