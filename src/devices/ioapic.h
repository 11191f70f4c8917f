/* SPDX-License-Identifier: MIT */
/*
 * IOAPIC model: 82093AA (version 0x11) and ICH/PCH class (version 0x20, with
 * the EOI register). Pure C: no syscalls, no globals, no locks. The embedder
 * serialises calls and supplies delivery and timer callbacks.
 *
 * The EOI path lives here: Remote IRR, counted line levels, redelivery while
 * the line is high, EOIR, and the storm throttle.
 *
 * Line levels are logical: "asserted" means the interrupt is requested. The
 * polarity bit (13) is stored and read back but not applied; an embedder with
 * active-low wiring asserts when its wire goes low.
 *
 * Re-entrancy: callbacks may call back into the model (a software LAPIC may
 * EOI from inside deliver). Deliveries requested while a deliver callback runs
 * are queued and sent by the outermost call once that callback returns, so the
 * stack never grows with a storm; the storm throttle bounds the loop.
 */
#ifndef LAPIS_IOAPIC_H
#define LAPIS_IOAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msi.h"

#define LAPIS_IOAPIC_BASE         0xFEC00000u
#define LAPIS_IOAPIC_MMIO_SIZE    0x1000u
#define LAPIS_IOAPIC_DEFAULT_PINS 24u
#define LAPIS_IOAPIC_MAX_PINS     240u

/* MMIO offsets */
#define LAPIS_IOAPIC_IOREGSEL 0x00u
#define LAPIS_IOAPIC_IOWIN    0x10u
#define LAPIS_IOAPIC_EOIR     0x40u

/* Indirect register indices (IOREGSEL values) */
#define LAPIS_IOAPIC_REG_ID    0x00u
#define LAPIS_IOAPIC_REG_VER   0x01u
#define LAPIS_IOAPIC_REG_ARB   0x02u
#define LAPIS_IOAPIC_REG_REDIR 0x10u /* entry n: low dword 0x10+2n, high 0x11+2n */

enum lapis_ioapic_version {
    LAPIS_IOAPIC_VERSION_82093AA = 0x11, /* no EOI register */
    LAPIS_IOAPIC_VERSION_PCH = 0x20,     /* EOI register at +0x40 */
};

/* Redirection entry bits */
#define LAPIS_IOREDIR_VECTOR_MASK   0xFFull
#define LAPIS_IOREDIR_DELMODE_SHIFT 8
#define LAPIS_IOREDIR_DELMODE_MASK  (7ull << 8)
#define LAPIS_IOREDIR_DESTMODE      (1ull << 11)
#define LAPIS_IOREDIR_DELIVS        (1ull << 12) /* read-only */
#define LAPIS_IOREDIR_POLARITY      (1ull << 13)
#define LAPIS_IOREDIR_REMOTE_IRR    (1ull << 14) /* read-only */
#define LAPIS_IOREDIR_LEVEL         (1ull << 15)
#define LAPIS_IOREDIR_MASKED        (1ull << 16)
#define LAPIS_IOREDIR_DEST_SHIFT    56
#define LAPIS_IOREDIR_RO_BITS       (LAPIS_IOREDIR_DELIVS | LAPIS_IOREDIR_REMOTE_IRR)

/* Storm throttle, as KVM (IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT) and QEMU do it. */
#define LAPIS_IOAPIC_STORM_EOI_COUNT 10000u
#define LAPIS_IOAPIC_STORM_DELAY_NS  10000000ull /* 10 ms */

/* Where an EOI came from; counted separately. */
enum lapis_eoi_source {
    LAPIS_EOI_FROM_BROADCAST = 0, /* LAPIC EOI broadcast (KVM_EXIT_IOAPIC_EOI, or our LAPIC) */
    LAPIS_EOI_FROM_EOIR = 1,      /* guest write to the EOI register (0x20 only) */
};

struct lapis_ioapic_ops {
    /*
     * Send one interrupt for @pin. Called with the model in a consistent state
     * (for a level entry, Remote IRR is already set). May be NULL: the model
     * then runs and counts as usual but sends nothing.
     */
    void (*deliver)(void *opaque, unsigned pin, const struct lapis_msi *msg);
    /*
     * Optional: @pin's redirection entry was written (by the guest, reset or
     * resync), so a GSI route may need updating. Called before any delivery
     * the write causes.
     */
    void (*entry_changed)(void *opaque, unsigned pin);
    /*
     * Ask for lapis_ioapic_timer_expired() after @delay_ns. Only one timer is
     * ever outstanding; re-arming replaces it. May be NULL: a throttled
     * redelivery is then sent at once (still counted), except when the EOI
     * came from inside a deliver callback, where that would loop forever; the
     * pin then waits for lapis_ioapic_timer_expired(), resync or an entry
     * write. Embedders whose deliver EOIs synchronously should supply a timer.
     */
    void (*timer_arm)(void *opaque, uint64_t delay_ns);
};

struct lapis_ioapic_stats {
    uint64_t deliveries;      /* messages sent through ops->deliver */
    uint64_t eoi_broadcast;   /* EOIs received from the LAPIC side */
    uint64_t eoi_eoir;        /* EOIs written to EOIR (0x20) */
    uint64_t eoi_cleared_irr; /* EOIs that cleared at least one Remote IRR */
    uint64_t redeliveries;    /* deliveries caused by an EOI with the line still high */
    uint64_t throttled;       /* redeliveries deferred by the storm throttle */
    uint64_t fake_eoi;        /* Remote IRR cleared by switching an entry to edge */
    uint64_t eoir_ignored;    /* writes to +0x40 on a 0x11 IOAPIC */
    uint64_t bad_access;      /* wrong width, misaligned or unknown MMIO offset */
    uint64_t bad_selector;    /* IOWIN access with an out-of-range IOREGSEL */
    uint64_t bad_vector;      /* deliveries suppressed for vectors 0-15 */
    uint64_t ro_write;        /* IOWIN writes to VER or ARB (read-only) */
};

struct lapis_ioapic_pin {
    uint64_t redir;           /* redirection entry, including Remote IRR */
    uint32_t assert_count;    /* counted line level: sources currently asserting */
    uint32_t successive_eois; /* back-to-back EOIs that found the line high */
    bool throttled;           /* redelivery waits for the throttle timer */
    uint8_t pending;          /* internal: deliveries queued during a callback */
};

struct lapis_ioapic {
    uint8_t version;
    uint8_t id; /* 4-bit APIC ID (ID register bits 24-27) */
    uint8_t npins;
    uint8_t ioregsel;
    struct lapis_ioapic_pin pins[LAPIS_IOAPIC_MAX_PINS];
    struct lapis_ioapic_stats stats;
    const struct lapis_ioapic_ops *ops;
    void *opaque;
    bool busy;         /* internal: inside a call; new deliveries are queued */
    uint16_t npending; /* internal: pins with a queued delivery */
};

/*
 * Initialises @ioapic in its reset state (all entries masked, lines low, stats
 * zero). Returns 0, or -EINVAL for a version other than 0x11/0x20 or a pin
 * count outside 1..240. @ops may be NULL (no callbacks). No callback is made.
 * IOREGSEL is 8 bits, so with more than 120 pins the guest can reach only the
 * entries of pins 0..119.
 */
int lapis_ioapic_init(struct lapis_ioapic *ioapic, unsigned version, unsigned npins,
                      const struct lapis_ioapic_ops *ops, void *opaque);

/*
 * Back to the reset state: entries masked, ID and IOREGSEL 0, Remote IRR,
 * throttle state and queued deliveries dropped. Line levels (wired devices) and
 * stats are kept. Calls ops->entry_changed for every pin.
 */
void lapis_ioapic_reset(struct lapis_ioapic *ioapic);

/*
 * Guest MMIO at @offset within the 4 KiB window. Only aligned 32-bit accesses
 * at IOREGSEL, IOWIN and (0x20 only) EOIR act; anything else is ignored, reads
 * return 0 (as KVM), and counted in stats.bad_access. EOIR is write-only and
 * reads 0; a write to +0x40 on a 0x11 IOAPIC counts in stats.eoir_ignored.
 */
uint32_t lapis_ioapic_mmio_read(struct lapis_ioapic *ioapic, uint64_t offset, unsigned size);
void lapis_ioapic_mmio_write(struct lapis_ioapic *ioapic, uint64_t offset, unsigned size,
                             uint32_t value);

/*
 * Counted line levels: each assert must be paired with a deassert. A pin is
 * high while its count is non-zero; edge entries fire on 0 -> 1. Out-of-range
 * pins, and a deassert at zero, change nothing and return -EINVAL; an assert
 * that would overflow the count returns -EOVERFLOW.
 */
int lapis_ioapic_assert(struct lapis_ioapic *ioapic, unsigned pin);
int lapis_ioapic_deassert(struct lapis_ioapic *ioapic, unsigned pin);
/* Assert then deassert: one edge. */
int lapis_ioapic_pulse(struct lapis_ioapic *ioapic, unsigned pin);
/* For a single-source line (test ports): set the count to 0 or 1. */
int lapis_ioapic_set_level(struct lapis_ioapic *ioapic, unsigned pin, bool high);

/*
 * An EOI for @vector: clears Remote IRR on every level entry with that vector
 * and Remote IRR set, and redelivers those still high and unmasked (subject to
 * the storm throttle). An EOI that matches nothing only counts its source.
 */
void lapis_ioapic_eoi(struct lapis_ioapic *ioapic, uint8_t vector, enum lapis_eoi_source source);

/*
 * The throttle timer requested through ops->timer_arm has expired: every
 * throttled pin that is still deliverable is delivered. Safe to call anytime.
 */
void lapis_ioapic_timer_expired(struct lapis_ioapic *ioapic);

/* Queries used by backends and tests. Out-of-range pins read false / 0. */
bool lapis_ioapic_has_eoir(const struct lapis_ioapic *ioapic);
bool lapis_ioapic_line_high(const struct lapis_ioapic *ioapic, unsigned pin);
bool lapis_ioapic_remote_irr(const struct lapis_ioapic *ioapic, unsigned pin);
uint64_t lapis_ioapic_entry(const struct lapis_ioapic *ioapic, unsigned pin);
/* Decodes @pin's entry into the message it would send (zeroed for a bad pin). */
void lapis_ioapic_entry_msi(const struct lapis_ioapic *ioapic, unsigned pin, struct lapis_msi *msg);

/* Saved state: versioned, fixed layout, host byte order. */
#define LAPIS_IOAPIC_STATE_MAGIC   0x4C494F41u /* "AOIL" */
#define LAPIS_IOAPIC_STATE_VERSION 1u

struct lapis_ioapic_state {
    uint32_t magic;
    uint32_t state_version;
    uint8_t version;
    uint8_t id;
    uint8_t npins;
    uint8_t ioregsel;
    uint32_t reserved;
    struct {
        uint64_t redir;
        uint32_t assert_count;
        uint32_t successive_eois;
        uint8_t throttled;
        uint8_t pad[7];
    } pins[LAPIS_IOAPIC_MAX_PINS];
};

void lapis_ioapic_save(const struct lapis_ioapic *ioapic, struct lapis_ioapic_state *state);
/*
 * Loads a saved state into an initialised @ioapic. Returns -EINVAL (and leaves
 * @ioapic unchanged) for a bad magic or state_version, an IOAPIC version or
 * pin count that fails init's checks or differs from @ioapic's (the EOI policy
 * was negotiated for it), an ID above 15, Remote IRR on an edge entry, a
 * delivery status bit set, or a throttle count out of range. Stats, ops and
 * opaque are kept. Makes no callback; call lapis_ioapic_resync() once the VM
 * can take interrupts.
 */
int lapis_ioapic_load(struct lapis_ioapic *ioapic, const struct lapis_ioapic_state *state);
/*
 * After load, or a backend restart: calls ops->entry_changed for every pin,
 * clears the throttle marks, then delivers every pin that is deliverable now
 * (level, unmasked, line high, Remote IRR clear).
 */
void lapis_ioapic_resync(struct lapis_ioapic *ioapic);

#endif
