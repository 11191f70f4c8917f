/* SPDX-License-Identifier: MIT */
/*
 * An 8042 keyboard controller with nothing plugged in: the controller answers
 * its own commands (self-test, command byte, port tests, output port, the
 * loopback writes), bytes sent to the keyboard or mouse come back as a
 * timeout (0xFF with status bit 6), and pulsing output-port bit 0 (command
 * 0xFE, or 0xD1 with bit 0 clear) resets the machine: the reboot path Linux
 * tries (the FADT reset register points here too). Ports 0x60 and 0x64.
 */
#ifndef LAPIS_I8042_H
#define LAPIS_I8042_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIS_I8042_DATA    0x60u
#define LAPIS_I8042_COMMAND 0x64u /* read: status */
#define LAPIS_I8042_KBD_IRQ 1u
#define LAPIS_I8042_AUX_IRQ 12u
#define LAPIS_I8042_QUEUE   8u

/* Status register */
#define LAPIS_I8042_STR_OBF     0x01u
#define LAPIS_I8042_STR_SYS     0x04u
#define LAPIS_I8042_STR_CMD     0x08u
#define LAPIS_I8042_STR_UNLOCK  0x10u
#define LAPIS_I8042_STR_AUXDATA 0x20u
#define LAPIS_I8042_STR_TIMEOUT 0x40u

/* Command byte (CTR) */
#define LAPIS_I8042_CTR_KBDINT 0x01u
#define LAPIS_I8042_CTR_AUXINT 0x02u
#define LAPIS_I8042_CTR_SYS    0x04u
#define LAPIS_I8042_CTR_KBDDIS 0x10u
#define LAPIS_I8042_CTR_AUXDIS 0x20u

struct lapis_i8042_ops {
    /* ISA IRQ 1 (keyboard) or 12 (mouse) level: high while its byte waits. */
    void (*set_irq)(void *opaque, unsigned irq, bool level);
    /* The guest pulsed the reset line. */
    void (*reset)(void *opaque);
};

struct lapis_i8042_stats {
    uint64_t commands;      /* controller commands (writes to 0x64) */
    uint64_t unknown_cmd;   /* commands not implemented (ignored) */
    uint64_t device_writes; /* bytes sent to the absent keyboard or mouse */
    uint64_t resets;        /* reset line pulses */
    uint64_t overflows;     /* output bytes dropped: queue full */
    uint64_t bad_access;
};

struct lapis_i8042 {
    uint8_t ctr;
    uint8_t outport;  /* bit 0 reset (active low), bit 1 A20 */
    uint8_t pending;  /* command waiting for its data byte, or 0 */
    bool last_cmd;    /* status bit 3: the last write was to 0x64 */
    uint8_t last_out; /* what 0x60 reads once the queue is empty */
    uint8_t q[LAPIS_I8042_QUEUE];
    uint8_t qflags[LAPIS_I8042_QUEUE]; /* STR_AUXDATA / STR_TIMEOUT per byte */
    unsigned qhead, qlen;
    bool irq_level[2]; /* keyboard, mouse: as last told to set_irq */
    const struct lapis_i8042_ops *ops;
    void *opaque;
    struct lapis_i8042_stats stats;
};

void lapis_i8042_init(struct lapis_i8042 *kbc, const struct lapis_i8042_ops *ops, void *opaque);

bool lapis_i8042_handles(uint16_t port);

/*
 * One access to 0x60 or 0x64 (byte; wider ones use the low byte). Returns 0,
 * or -EINVAL (counted; reads give 0xFF) for another port, size or NULL value.
 */
int lapis_i8042_io(struct lapis_i8042 *kbc, uint16_t port, unsigned size, bool is_write,
                   uint32_t *value);

#endif
