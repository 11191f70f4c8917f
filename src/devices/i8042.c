/* SPDX-License-Identifier: MIT */
/* i8042 with no devices: controller commands, timeouts for devices, reset. */
#include "i8042.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define OUTPORT_RESET 0x01u /* active low */
#define OUTPORT_A20   0x02u
#define NO_DEVICE     0xFFu

static void update_irq(struct lapis_i8042 *k)
{
    bool kbd = false, aux = false;
    if (k->qlen) {
        bool is_aux = k->qflags[k->qhead] & LAPIS_I8042_STR_AUXDATA;
        kbd = !is_aux && (k->ctr & LAPIS_I8042_CTR_KBDINT);
        aux = is_aux && (k->ctr & LAPIS_I8042_CTR_AUXINT);
    }
    bool want[2] = {kbd, aux};
    static const unsigned irq[2] = {LAPIS_I8042_KBD_IRQ, LAPIS_I8042_AUX_IRQ};
    for (unsigned i = 0; i < 2; i++) {
        if (want[i] == k->irq_level[i])
            continue;
        k->irq_level[i] = want[i];
        if (k->ops && k->ops->set_irq)
            k->ops->set_irq(k->opaque, irq[i], want[i]);
    }
}

static void push(struct lapis_i8042 *k, uint8_t v, uint8_t flags)
{
    if (k->qlen == LAPIS_I8042_QUEUE) {
        k->stats.overflows++;
        return;
    }
    unsigned at = (k->qhead + k->qlen) % LAPIS_I8042_QUEUE;
    k->q[at] = v;
    k->qflags[at] = flags;
    k->qlen++;
    update_irq(k);
}

static void do_reset(struct lapis_i8042 *k)
{
    k->stats.resets++;
    if (k->ops && k->ops->reset)
        k->ops->reset(k->opaque);
}

void lapis_i8042_init(struct lapis_i8042 *kbc, const struct lapis_i8042_ops *ops, void *opaque)
{
    memset(kbc, 0, sizeof(*kbc));
    kbc->ops = ops;
    kbc->opaque = opaque;
    /* As firmware leaves it: self-test passed, ports enabled, interrupts off. */
    kbc->ctr = LAPIS_I8042_CTR_SYS;
    kbc->outport = OUTPORT_RESET | OUTPORT_A20;
}

bool lapis_i8042_handles(uint16_t port)
{
    return port == LAPIS_I8042_DATA || port == LAPIS_I8042_COMMAND;
}

static uint8_t status(const struct lapis_i8042 *k)
{
    uint8_t s = LAPIS_I8042_STR_UNLOCK;
    if (k->ctr & LAPIS_I8042_CTR_SYS)
        s |= LAPIS_I8042_STR_SYS;
    if (k->last_cmd)
        s |= LAPIS_I8042_STR_CMD;
    if (k->qlen)
        s |= LAPIS_I8042_STR_OBF | k->qflags[k->qhead];
    return s;
}

static void command(struct lapis_i8042 *k, uint8_t c)
{
    k->stats.commands++;
    k->pending = 0;
    if (c == 0x20) {
        push(k, k->ctr, 0);
    } else if (c > 0x20 && c < 0x40) {
        push(k, 0, 0); /* controller RAM: nothing kept */
    } else if (c >= 0x60 && c < 0x80) {
        k->pending = c;
    } else if (c >= 0xF0) {
        /* Pulse the output lines whose bit is clear; bit 0 is reset. */
        if (!(c & 1))
            do_reset(k);
    } else {
        switch (c) {
        case 0xA7:
            k->ctr |= LAPIS_I8042_CTR_AUXDIS;
            break;
        case 0xA8:
            k->ctr &= (uint8_t)~LAPIS_I8042_CTR_AUXDIS;
            break;
        case 0xA9: /* mouse port test: lines fine */
        case 0xAB: /* keyboard port test */
            push(k, 0x00, 0);
            break;
        case 0xAA: /* self-test */
            k->ctr |= LAPIS_I8042_CTR_SYS;
            push(k, 0x55, 0);
            break;
        case 0xAD:
            k->ctr |= LAPIS_I8042_CTR_KBDDIS;
            break;
        case 0xAE:
            k->ctr &= (uint8_t)~LAPIS_I8042_CTR_KBDDIS;
            break;
        case 0xC0: /* input port */
            push(k, 0x00, 0);
            break;
        case 0xD0:
            push(k, k->outport, 0);
            break;
        case 0xD1:
        case 0xD2:
        case 0xD3:
        case 0xD4:
            k->pending = c;
            break;
        default:
            k->stats.unknown_cmd++;
        }
    }
}

static void data(struct lapis_i8042 *k, uint8_t v)
{
    uint8_t p = k->pending;
    k->pending = 0;
    if (p >= 0x60 && p < 0x80) {
        if (p == 0x60)
            k->ctr = v;
        update_irq(k);
        return;
    }
    switch (p) {
    case 0xD1: /* write output port: reset is active low */
        k->outport = v;
        if (!(v & OUTPORT_RESET))
            do_reset(k);
        return;
    case 0xD2: /* loop back as keyboard data */
        push(k, v, 0);
        return;
    case 0xD3: /* loop back as mouse data */
        push(k, v, LAPIS_I8042_STR_AUXDATA);
        return;
    case 0xD4: /* to the mouse: none there */
        k->stats.device_writes++;
        push(k, NO_DEVICE, LAPIS_I8042_STR_AUXDATA | LAPIS_I8042_STR_TIMEOUT);
        return;
    default: /* to the keyboard: none there */
        k->stats.device_writes++;
        push(k, NO_DEVICE, LAPIS_I8042_STR_TIMEOUT);
        return;
    }
}

int lapis_i8042_io(struct lapis_i8042 *kbc, uint16_t port, unsigned size, bool is_write,
                   uint32_t *value)
{
    if (!value || (size != 1 && size != 2 && size != 4) || !lapis_i8042_handles(port)) {
        if (value && !is_write)
            *value = 0xFF;
        kbc->stats.bad_access++;
        return -EINVAL;
    }
    if (is_write) {
        kbc->last_cmd = port == LAPIS_I8042_COMMAND;
        if (port == LAPIS_I8042_COMMAND)
            command(kbc, (uint8_t)*value);
        else
            data(kbc, (uint8_t)*value);
        return 0;
    }
    if (port == LAPIS_I8042_COMMAND) {
        *value = status(kbc);
        return 0;
    }
    if (kbc->qlen) {
        kbc->last_out = kbc->q[kbc->qhead];
        kbc->qhead = (kbc->qhead + 1) % LAPIS_I8042_QUEUE;
        kbc->qlen--;
        /* Drop the line for each byte read, so the next byte is a new edge. */
        static const unsigned irq[2] = {LAPIS_I8042_KBD_IRQ, LAPIS_I8042_AUX_IRQ};
        for (unsigned i = 0; i < 2; i++) {
            if (!kbc->irq_level[i])
                continue;
            kbc->irq_level[i] = false;
            if (kbc->ops && kbc->ops->set_irq)
                kbc->ops->set_irq(kbc->opaque, irq[i], false);
        }
        update_irq(kbc);
    }
    *value = kbc->last_out;
    return 0;
}
