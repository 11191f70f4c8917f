/* SPDX-License-Identifier: MIT */
/*
 * IOAPIC model. Semantics follow Linux arch/x86/kvm/ioapic.c (Remote IRR,
 * fake EOI on edge switch, storm throttle) and bhyve's vioapic.c (counted line
 * levels). Every ignored guest access and every EOI decision is counted.
 */
#include <errno.h>
#include <string.h>

#include "ioapic.h"

/* Why a pin is queued for delivery (lapis_ioapic_pin.pending). */
#define PEND_EDGE     0x1u /* a rising edge on an edge entry */
#define PEND_LEVEL    0x2u /* a level entry may have become deliverable */
#define PEND_REDELIVR 0x4u /* an EOI found the line still high */

#define LOW_DWORD 0xFFFFFFFFull

static bool valid_config(unsigned version, unsigned npins)
{
    if (version != LAPIS_IOAPIC_VERSION_82093AA && version != LAPIS_IOAPIC_VERSION_PCH)
        return false;
    return npins >= 1 && npins <= LAPIS_IOAPIC_MAX_PINS;
}

static bool is_level(uint64_t redir)
{
    return (redir & LAPIS_IOREDIR_LEVEL) != 0;
}

static bool is_masked(uint64_t redir)
{
    return (redir & LAPIS_IOREDIR_MASKED) != 0;
}

static bool pin_high(const struct lapis_ioapic_pin *p)
{
    return p->assert_count != 0;
}

/* Level, unmasked, line high and no Remote IRR: would be sent now. */
static bool level_deliverable(const struct lapis_ioapic_pin *p)
{
    return is_level(p->redir) && !is_masked(p->redir) && pin_high(p) &&
           !(p->redir & LAPIS_IOREDIR_REMOTE_IRR);
}

static void decode(uint64_t redir, struct lapis_msi *msg)
{
    memset(msg, 0, sizeof(*msg));
    msg->dest = (uint32_t)(redir >> LAPIS_IOREDIR_DEST_SHIFT);
    msg->dest_logical = (redir & LAPIS_IOREDIR_DESTMODE) != 0;
    msg->vector = (uint8_t)(redir & LAPIS_IOREDIR_VECTOR_MASK);
    msg->delivery_mode =
        (uint8_t)((redir & LAPIS_IOREDIR_DELMODE_MASK) >> LAPIS_IOREDIR_DELMODE_SHIFT);
    /* An IOAPIC message always asserts; for edge messages the bit is ignored. */
    msg->level_assert = true;
    /* The trigger bit is what makes KVM set the TMR and report the EOI. */
    msg->level_triggered = is_level(redir);
}

/* Sends @pin if it is still deliverable; the state is final before calling out. */
static void send(struct lapis_ioapic *io, unsigned pin, unsigned why)
{
    struct lapis_ioapic_pin *p = &io->pins[pin];
    struct lapis_msi msg;

    if (is_masked(p->redir))
        return;
    if (is_level(p->redir)) {
        if (!level_deliverable(p))
            return;
    } else if (!(why & PEND_EDGE)) {
        return; /* a level request for an entry switched to edge meanwhile */
    }
    p->throttled = false;
    if ((p->redir & LAPIS_IOREDIR_VECTOR_MASK) < 16) {
        /* Vectors 0-15 are reserved: a real LAPIC raises an illegal-vector error. */
        io->stats.bad_vector++;
        return;
    }
    if (is_level(p->redir))
        p->redir |= LAPIS_IOREDIR_REMOTE_IRR;
    io->stats.deliveries++;
    if (why & PEND_REDELIVR)
        io->stats.redeliveries++;
    decode(p->redir, &msg);
    if (io->ops && io->ops->deliver)
        io->ops->deliver(io->opaque, pin, &msg);
}

static void queue(struct lapis_ioapic *io, unsigned pin, unsigned why)
{
    struct lapis_ioapic_pin *p = &io->pins[pin];

    if (!p->pending)
        io->npending++;
    p->pending |= (uint8_t)why;
}

/*
 * Every public mutator runs between enter() and leave(). Deliveries are queued
 * while busy and sent by the outermost leave(), so a deliver callback that
 * calls back in (an EOI, an assert) never recurses: the loop below picks up
 * whatever it queued.
 */
static bool enter(struct lapis_ioapic *io)
{
    bool outer = !io->busy;

    io->busy = true;
    return outer;
}

static void leave(struct lapis_ioapic *io, bool outer)
{
    if (!outer)
        return;
    while (io->npending) {
        for (unsigned pin = 0; pin < io->npins && io->npending; pin++) {
            unsigned why = io->pins[pin].pending;

            if (!why)
                continue;
            io->pins[pin].pending = 0;
            io->npending--;
            send(io, pin, why);
        }
    }
    io->busy = false;
}

static void entry_changed(struct lapis_ioapic *io, unsigned pin)
{
    if (io->ops && io->ops->entry_changed)
        io->ops->entry_changed(io->opaque, pin);
}

/* Reset state of the registers; line levels, stats and callbacks untouched. */
static void reset_regs(struct lapis_ioapic *io)
{
    io->id = 0;
    io->ioregsel = 0;
    io->npending = 0;
    for (unsigned pin = 0; pin < LAPIS_IOAPIC_MAX_PINS; pin++) {
        struct lapis_ioapic_pin *p = &io->pins[pin];

        p->redir = LAPIS_IOREDIR_MASKED;
        p->successive_eois = 0;
        p->throttled = false;
        p->pending = 0;
    }
}

int lapis_ioapic_init(struct lapis_ioapic *ioapic, unsigned version, unsigned npins,
                      const struct lapis_ioapic_ops *ops, void *opaque)
{
    if (!ioapic || !valid_config(version, npins))
        return -EINVAL;
    memset(ioapic, 0, sizeof(*ioapic));
    ioapic->version = (uint8_t)version;
    ioapic->npins = (uint8_t)npins;
    ioapic->ops = ops;
    ioapic->opaque = opaque;
    reset_regs(ioapic);
    return 0;
}

void lapis_ioapic_reset(struct lapis_ioapic *ioapic)
{
    bool outer = enter(ioapic);

    reset_regs(ioapic);
    for (unsigned pin = 0; pin < ioapic->npins; pin++)
        entry_changed(ioapic, pin);
    leave(ioapic, outer);
}

/* Redirection-table index for IOREGSEL, or -1 if it names no entry. */
static int redir_index(const struct lapis_ioapic *io, unsigned sel)
{
    if (sel < LAPIS_IOAPIC_REG_REDIR)
        return -1;
    unsigned pin = (sel - LAPIS_IOAPIC_REG_REDIR) / 2;
    return pin < io->npins ? (int)pin : -1;
}

static uint32_t read_indirect(struct lapis_ioapic *io)
{
    unsigned sel = io->ioregsel;
    int pin;

    switch (sel) {
    case LAPIS_IOAPIC_REG_ID:
    case LAPIS_IOAPIC_REG_ARB:
        return (uint32_t)io->id << 24;
    case LAPIS_IOAPIC_REG_VER:
        return ((uint32_t)(io->npins - 1) << 16) | io->version;
    }
    pin = redir_index(io, sel);
    if (pin < 0) {
        io->stats.bad_selector++;
        return 0;
    }
    /* Delivery is instantaneous here, so delivery status (bit 12) is always 0. */
    uint64_t redir = io->pins[pin].redir & ~LAPIS_IOREDIR_DELIVS;
    return (sel & 1) ? (uint32_t)(redir >> 32) : (uint32_t)redir;
}

static void write_entry(struct lapis_ioapic *io, unsigned pin, bool high_half, uint32_t value)
{
    struct lapis_ioapic_pin *p = &io->pins[pin];
    uint64_t old = p->redir, redir;

    if (high_half)
        redir = (old & LOW_DWORD) | ((uint64_t)value << 32);
    else
        redir = (old & ~LOW_DWORD) | value;
    redir = (redir & ~LAPIS_IOREDIR_RO_BITS) | (old & LAPIS_IOREDIR_RO_BITS);
    if (!is_level(redir) && (redir & LAPIS_IOREDIR_REMOTE_IRR)) {
        /* Linux and Xen switch a level entry to edge to clear Remote IRR. */
        redir &= ~LAPIS_IOREDIR_REMOTE_IRR;
        io->stats.fake_eoi++;
    }
    p->redir = redir;
    entry_changed(io, pin);
    /* Covers unmasking, or re-arming as level, a line that is already high. */
    if (level_deliverable(p))
        queue(io, pin, PEND_LEVEL);
}

static void write_indirect(struct lapis_ioapic *io, uint32_t value)
{
    unsigned sel = io->ioregsel;
    int pin;

    switch (sel) {
    case LAPIS_IOAPIC_REG_ID:
        io->id = (uint8_t)((value >> 24) & 0xF);
        return;
    case LAPIS_IOAPIC_REG_VER:
    case LAPIS_IOAPIC_REG_ARB:
        io->stats.ro_write++;
        return;
    }
    pin = redir_index(io, sel);
    if (pin < 0) {
        io->stats.bad_selector++;
        return;
    }
    write_entry(io, (unsigned)pin, sel & 1, value);
}

static bool good_access(uint64_t offset, unsigned size)
{
    return size == 4 && (offset & 3) == 0 && offset < LAPIS_IOAPIC_MMIO_SIZE;
}

uint32_t lapis_ioapic_mmio_read(struct lapis_ioapic *ioapic, uint64_t offset, unsigned size)
{
    if (good_access(offset, size)) {
        if (offset == LAPIS_IOAPIC_IOREGSEL)
            return ioapic->ioregsel;
        if (offset == LAPIS_IOAPIC_IOWIN)
            return read_indirect(ioapic);
        if (offset == LAPIS_IOAPIC_EOIR && lapis_ioapic_has_eoir(ioapic))
            return 0; /* write-only */
    }
    ioapic->stats.bad_access++;
    return 0;
}

void lapis_ioapic_mmio_write(struct lapis_ioapic *ioapic, uint64_t offset, unsigned size,
                             uint32_t value)
{
    bool outer;

    if (!good_access(offset, size)) {
        ioapic->stats.bad_access++;
        return;
    }
    switch (offset) {
    case LAPIS_IOAPIC_IOREGSEL:
        ioapic->ioregsel = (uint8_t)value;
        return;
    case LAPIS_IOAPIC_IOWIN:
        outer = enter(ioapic);
        write_indirect(ioapic, value);
        leave(ioapic, outer);
        return;
    case LAPIS_IOAPIC_EOIR:
        if (lapis_ioapic_has_eoir(ioapic))
            lapis_ioapic_eoi(ioapic, (uint8_t)value, LAPIS_EOI_FROM_EOIR);
        else
            ioapic->stats.eoir_ignored++;
        return;
    default:
        ioapic->stats.bad_access++;
        return;
    }
}

/* The line went 0 -> 1. */
static void rising(struct lapis_ioapic *io, unsigned pin)
{
    uint64_t redir = io->pins[pin].redir;

    if (is_level(redir))
        queue(io, pin, PEND_LEVEL);
    else if (!is_masked(redir))
        queue(io, pin, PEND_EDGE);
    /* A masked edge is lost, as on the 82093AA and in KVM. */
}

int lapis_ioapic_assert(struct lapis_ioapic *ioapic, unsigned pin)
{
    if (pin >= ioapic->npins)
        return -EINVAL;
    struct lapis_ioapic_pin *p = &ioapic->pins[pin];
    if (p->assert_count == UINT32_MAX)
        return -EOVERFLOW;
    bool outer = enter(ioapic);
    if (p->assert_count++ == 0)
        rising(ioapic, pin);
    leave(ioapic, outer);
    return 0;
}

int lapis_ioapic_deassert(struct lapis_ioapic *ioapic, unsigned pin)
{
    if (pin >= ioapic->npins || ioapic->pins[pin].assert_count == 0)
        return -EINVAL;
    /* Lowering a line never sends anything; a level entry just stops redelivering. */
    ioapic->pins[pin].assert_count--;
    return 0;
}

int lapis_ioapic_pulse(struct lapis_ioapic *ioapic, unsigned pin)
{
    int ret = lapis_ioapic_assert(ioapic, pin);

    if (ret)
        return ret;
    return lapis_ioapic_deassert(ioapic, pin);
}

int lapis_ioapic_set_level(struct lapis_ioapic *ioapic, unsigned pin, bool high)
{
    if (pin >= ioapic->npins)
        return -EINVAL;
    struct lapis_ioapic_pin *p = &ioapic->pins[pin];
    if (!high) {
        p->assert_count = 0;
        return 0;
    }
    bool outer = enter(ioapic);
    if (p->assert_count == 0)
        rising(ioapic, pin);
    p->assert_count = 1;
    leave(ioapic, outer);
    return 0;
}

void lapis_ioapic_eoi(struct lapis_ioapic *ioapic, uint8_t vector, enum lapis_eoi_source source)
{
    bool outer = enter(ioapic);
    bool cleared = false, arm = false;

    if (source == LAPIS_EOI_FROM_EOIR)
        ioapic->stats.eoi_eoir++;
    else
        ioapic->stats.eoi_broadcast++;

    for (unsigned pin = 0; pin < ioapic->npins; pin++) {
        struct lapis_ioapic_pin *p = &ioapic->pins[pin];

        if (!is_level(p->redir) || !(p->redir & LAPIS_IOREDIR_REMOTE_IRR) ||
            (p->redir & LAPIS_IOREDIR_VECTOR_MASK) != vector)
            continue;
        p->redir &= ~LAPIS_IOREDIR_REMOTE_IRR;
        cleared = true;
        if (is_masked(p->redir) || !pin_high(p)) {
            /* As KVM: only EOIs that would redeliver count towards a storm. */
            p->successive_eois = 0;
            continue;
        }
        if (++p->successive_eois < LAPIS_IOAPIC_STORM_EOI_COUNT) {
            queue(ioapic, pin, PEND_REDELIVR);
            continue;
        }
        /* A storm: delay this redelivery so a buggy guest makes slow progress. */
        p->successive_eois = 0;
        p->throttled = true;
        ioapic->stats.throttled++;
        if (ioapic->ops && ioapic->ops->timer_arm)
            arm = true;
        else if (outer)
            queue(ioapic, pin, PEND_REDELIVR);
        /* else: from inside deliver with no timer, sending now would never end. */
    }
    if (cleared)
        ioapic->stats.eoi_cleared_irr++;
    if (arm)
        ioapic->ops->timer_arm(ioapic->opaque, LAPIS_IOAPIC_STORM_DELAY_NS);
    leave(ioapic, outer);
}

void lapis_ioapic_timer_expired(struct lapis_ioapic *ioapic)
{
    bool outer = enter(ioapic);

    for (unsigned pin = 0; pin < ioapic->npins; pin++) {
        struct lapis_ioapic_pin *p = &ioapic->pins[pin];

        if (!p->throttled)
            continue;
        p->throttled = false;
        if (level_deliverable(p))
            queue(ioapic, pin, PEND_REDELIVR);
    }
    leave(ioapic, outer);
}

bool lapis_ioapic_has_eoir(const struct lapis_ioapic *ioapic)
{
    return ioapic->version >= LAPIS_IOAPIC_VERSION_PCH;
}

bool lapis_ioapic_line_high(const struct lapis_ioapic *ioapic, unsigned pin)
{
    return pin < ioapic->npins && pin_high(&ioapic->pins[pin]);
}

bool lapis_ioapic_remote_irr(const struct lapis_ioapic *ioapic, unsigned pin)
{
    return pin < ioapic->npins && (ioapic->pins[pin].redir & LAPIS_IOREDIR_REMOTE_IRR);
}

uint64_t lapis_ioapic_entry(const struct lapis_ioapic *ioapic, unsigned pin)
{
    return pin < ioapic->npins ? ioapic->pins[pin].redir : 0;
}

void lapis_ioapic_entry_msi(const struct lapis_ioapic *ioapic, unsigned pin, struct lapis_msi *msg)
{
    if (pin >= ioapic->npins) {
        memset(msg, 0, sizeof(*msg));
        return;
    }
    decode(ioapic->pins[pin].redir, msg);
}

void lapis_ioapic_save(const struct lapis_ioapic *ioapic, struct lapis_ioapic_state *state)
{
    memset(state, 0, sizeof(*state));
    state->magic = LAPIS_IOAPIC_STATE_MAGIC;
    state->state_version = LAPIS_IOAPIC_STATE_VERSION;
    state->version = ioapic->version;
    state->id = ioapic->id;
    state->npins = ioapic->npins;
    state->ioregsel = ioapic->ioregsel;
    for (unsigned pin = 0; pin < ioapic->npins; pin++) {
        const struct lapis_ioapic_pin *p = &ioapic->pins[pin];

        state->pins[pin].redir = p->redir;
        state->pins[pin].assert_count = p->assert_count;
        state->pins[pin].successive_eois = p->successive_eois;
        state->pins[pin].throttled = p->throttled;
    }
}

static bool valid_state(const struct lapis_ioapic *io, const struct lapis_ioapic_state *s)
{
    if (s->magic != LAPIS_IOAPIC_STATE_MAGIC || s->state_version != LAPIS_IOAPIC_STATE_VERSION)
        return false;
    if (!valid_config(s->version, s->npins) || s->version != io->version || s->npins != io->npins ||
        s->id > 0xF)
        return false;
    for (unsigned pin = 0; pin < s->npins; pin++) {
        uint64_t redir = s->pins[pin].redir;

        if ((redir & LAPIS_IOREDIR_DELIVS) ||
            ((redir & LAPIS_IOREDIR_REMOTE_IRR) && !is_level(redir)))
            return false;
        /* A count at or past the limit would never trip the throttle. */
        if (s->pins[pin].successive_eois >= LAPIS_IOAPIC_STORM_EOI_COUNT ||
            s->pins[pin].throttled > 1)
            return false;
    }
    return true;
}

int lapis_ioapic_load(struct lapis_ioapic *ioapic, const struct lapis_ioapic_state *state)
{
    if (!valid_state(ioapic, state))
        return -EINVAL;
    reset_regs(ioapic);
    ioapic->id = state->id;
    ioapic->ioregsel = state->ioregsel;
    for (unsigned pin = 0; pin < ioapic->npins; pin++) {
        struct lapis_ioapic_pin *p = &ioapic->pins[pin];

        p->redir = state->pins[pin].redir;
        p->assert_count = state->pins[pin].assert_count;
        p->successive_eois = state->pins[pin].successive_eois;
        p->throttled = state->pins[pin].throttled != 0;
    }
    return 0;
}

void lapis_ioapic_resync(struct lapis_ioapic *ioapic)
{
    bool outer = enter(ioapic);

    for (unsigned pin = 0; pin < ioapic->npins; pin++) {
        ioapic->pins[pin].throttled = false;
        entry_changed(ioapic, pin);
    }
    for (unsigned pin = 0; pin < ioapic->npins; pin++) {
        if (level_deliverable(&ioapic->pins[pin]))
            queue(ioapic, pin, PEND_LEVEL);
    }
    leave(ioapic, outer);
}
