/* SPDX-License-Identifier: MIT */
/* Dual 8259A: the register file an OS programs, with no INTR output. */
#include "pic8259.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define ICW1_IC4    0x01u
#define ICW1_SNGL   0x02u
#define ICW1_INIT   0x10u
#define OCW3_SELECT 0x08u
#define OCW3_RR     0x02u
#define OCW3_RIS    0x01u
#define OCW3_POLL   0x04u
#define OCW2_EOI    0x20u
#define OCW2_SL     0x40u

/* Lines that can never be level-triggered: 0, 1, 2 and 8, 13. */
static const uint8_t elcr_mask[2] = {0xF8, 0xDE};

void lapis_pic_init(struct lapis_pic *pic)
{
    memset(pic, 0, sizeof(*pic));
    pic->chip[0].imr = 0xFF;
    pic->chip[1].imr = 0xFF;
}

bool lapis_pic_handles(uint16_t port)
{
    return port == LAPIS_PIC_MASTER_CMD || port == LAPIS_PIC_MASTER_DATA ||
           port == LAPIS_PIC_SLAVE_CMD || port == LAPIS_PIC_SLAVE_DATA ||
           port == LAPIS_PIC_ELCR_MASTER || port == LAPIS_PIC_ELCR_SLAVE;
}

static void write_cmd(struct lapis_pic *pic, struct lapis_pic_chip *c, uint8_t v)
{
    if (v & ICW1_INIT) {
        /* ICW1 starts initialisation: IMR and ISR cleared, edge detection reset. */
        c->icw1 = v;
        c->imr = 0;
        c->isr = 0;
        c->irr = 0;
        c->read_isr = false;
        c->poll = false;
        c->icw_step = 1;
        return;
    }
    if (v & OCW3_SELECT) {
        if (v & OCW3_POLL) {
            c->poll = true;
            pic->stats.polls++;
        }
        if (v & OCW3_RR)
            c->read_isr = v & OCW3_RIS;
        return;
    }
    if (v & OCW2_EOI) { /* OCW2: non-specific or specific EOI */
        pic->stats.eois++;
        if (v & OCW2_SL)
            c->isr &= (uint8_t) ~(1u << (v & 7));
        else if (c->isr)
            c->isr &= (uint8_t)(c->isr - 1); /* lowest set bit: highest priority */
    }
}

static void write_data(struct lapis_pic *pic, struct lapis_pic_chip *c, uint8_t v)
{
    switch (c->icw_step) {
    case 1:
        c->icw2 = v & 0xF8;
        c->icw_step = (c->icw1 & ICW1_SNGL) ? ((c->icw1 & ICW1_IC4) ? 3 : 0) : 2;
        break;
    case 2:
        c->icw3 = v;
        c->icw_step = (c->icw1 & ICW1_IC4) ? 3 : 0;
        break;
    case 3:
        c->icw4 = v;
        c->icw_step = 0;
        break;
    default:
        if (c->imr & ~v)
            pic->stats.unmasks++;
        c->imr = v;
        return;
    }
    if (c->icw_step == 0)
        pic->stats.inits++;
}

int lapis_pic_io(struct lapis_pic *pic, uint16_t port, unsigned size, bool is_write,
                 uint32_t *value)
{
    if (!value || (size != 1 && size != 2 && size != 4) || !lapis_pic_handles(port)) {
        if (value && !is_write)
            *value = 0xFF;
        pic->stats.bad_access++;
        return -EINVAL;
    }
    if (port == LAPIS_PIC_ELCR_MASTER || port == LAPIS_PIC_ELCR_SLAVE) {
        unsigned i = port - LAPIS_PIC_ELCR_MASTER;
        if (is_write)
            pic->elcr[i] = (uint8_t)*value & elcr_mask[i];
        else
            *value = pic->elcr[i];
        return 0;
    }
    struct lapis_pic_chip *c = &pic->chip[port >= LAPIS_PIC_SLAVE_CMD];
    bool data = port & 1;
    if (is_write) {
        if (data)
            write_data(pic, c, (uint8_t)*value);
        else
            write_cmd(pic, c, (uint8_t)*value);
        return 0;
    }
    if (c->poll) { /* nothing is ever delivered: "no interrupt" */
        c->poll = false;
        *value = 0;
    } else if (data)
        *value = c->imr;
    else
        *value = c->read_isr ? c->isr : c->irr;
    return 0;
}

int lapis_pic_set_irq(struct lapis_pic *pic, unsigned irq, bool level)
{
    if (irq >= 16)
        return -EINVAL;
    struct lapis_pic_chip *c = &pic->chip[irq >> 3];
    uint8_t bit = (uint8_t)(1u << (irq & 7));
    bool was = c->lines & bit;
    bool is_level = pic->elcr[irq >> 3] & bit;
    if (level) {
        c->lines |= bit;
        if (!was || is_level) {
            if (!was && !(c->irr & bit) && !(c->imr & bit))
                pic->stats.undelivered++;
            c->irr |= bit;
        }
    } else {
        c->lines &= (uint8_t)~bit;
        if (is_level)
            c->irr &= (uint8_t)~bit;
    }
    return 0;
}
