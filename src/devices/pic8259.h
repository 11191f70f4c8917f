/* SPDX-License-Identifier: MIT */
/*
 * A pair of 8259A PICs (master 0x20/0x21, slave 0xA0/0xA1) plus the ELCR
 * (0x4D0/0x4D1), present so that an OS finds them, initialises them and masks
 * them: lapis routes every ISA interrupt through the IOAPIC, so this model
 * never raises INTR. It keeps the registers an OS reads back (IMR, IRR, ISR,
 * ELCR), records line levels into IRR, and counts what would have needed
 * delivery. Linux's probe writes the mask and reads it back; with no PIC at
 * all it would switch to "NULL legacy PIC" and lose the ISA IRQ mappings.
 */
#ifndef LAPIS_PIC8259_H
#define LAPIS_PIC8259_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIS_PIC_MASTER_CMD  0x20u
#define LAPIS_PIC_MASTER_DATA 0x21u
#define LAPIS_PIC_SLAVE_CMD   0xA0u
#define LAPIS_PIC_SLAVE_DATA  0xA1u
#define LAPIS_PIC_ELCR_MASTER 0x4D0u
#define LAPIS_PIC_ELCR_SLAVE  0x4D1u

struct lapis_pic_stats {
    uint64_t inits;       /* completed ICW1..ICW4 sequences */
    uint64_t eois;        /* OCW2 EOI commands */
    uint64_t unmasks;     /* IMR writes that unmasked a line */
    uint64_t undelivered; /* rising edges on unmasked lines: never delivered */
    uint64_t polls;       /* OCW3 poll commands (answered "no interrupt") */
    uint64_t bad_access;  /* unknown port, bad size, NULL value */
};

struct lapis_pic_chip {
    uint8_t imr, irr, isr;
    uint8_t lines;    /* input levels */
    uint8_t icw_step; /* 0 ready, 1 expects ICW2, 2 ICW3, 3 ICW4 */
    uint8_t icw1, icw2, icw3, icw4;
    bool read_isr; /* OCW3: command-port reads return ISR, else IRR */
    bool poll;     /* the next read is a poll answer */
};

struct lapis_pic {
    struct lapis_pic_chip chip[2]; /* 0 master, 1 slave */
    uint8_t elcr[2];
    struct lapis_pic_stats stats;
};

/* Power-on state: all lines masked, edge-triggered. */
void lapis_pic_init(struct lapis_pic *pic);

bool lapis_pic_handles(uint16_t port);

/*
 * One port access (byte; wider accesses use the low byte). Returns 0 or
 * -EINVAL (counted; reads give 0xFF) for an unknown port, size or NULL value.
 */
int lapis_pic_io(struct lapis_pic *pic, uint16_t port, unsigned size, bool is_write,
                 uint32_t *value);

/* ISA line @irq (< 16) changed level: recorded in IRR (edge or ELCR level). */
int lapis_pic_set_irq(struct lapis_pic *pic, unsigned irq, bool level);

#endif
