/* SPDX-License-Identifier: MIT */
/*
 * MC146818 CMOS RTC and its 128 bytes of NVRAM, ports 0x70 (index, bit 7
 * masks NMI) and 0x71 (data). The clock reads the embedder's wall time
 * (ops->wall_ns, UTC) plus an offset the guest sets by writing the time
 * registers (SET bit in register B freezes the clock while it writes).
 * BCD or binary, 12- or 24-hour, century at index 0x32 (the FADT names it).
 * UIP always reads 0: each read is computed from the time of the read.
 * Periodic, alarm and update interrupts (IRQ 8) are not generated; enabling
 * them is counted.
 */
#ifndef LAPIS_CMOS_H
#define LAPIS_CMOS_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIS_CMOS_INDEX   0x70u
#define LAPIS_CMOS_DATA    0x71u
#define LAPIS_CMOS_SIZE    128u
#define LAPIS_CMOS_NMI_OFF 0x80u /* index-port bit: NMI disabled */

/* Register indices */
#define LAPIS_RTC_SECONDS 0x00u
#define LAPIS_RTC_MINUTES 0x02u
#define LAPIS_RTC_HOURS   0x04u
#define LAPIS_RTC_WEEKDAY 0x06u
#define LAPIS_RTC_DAY     0x07u
#define LAPIS_RTC_MONTH   0x08u
#define LAPIS_RTC_YEAR    0x09u
#define LAPIS_RTC_REG_A   0x0Au
#define LAPIS_RTC_REG_B   0x0Bu
#define LAPIS_RTC_REG_C   0x0Cu
#define LAPIS_RTC_REG_D   0x0Du
#define LAPIS_RTC_CENTURY 0x32u

#define LAPIS_RTC_B_SET    0x80u
#define LAPIS_RTC_B_IRQS   0x70u /* PIE, AIE, UIE */
#define LAPIS_RTC_B_BINARY 0x04u
#define LAPIS_RTC_B_24H    0x02u
#define LAPIS_RTC_D_VRT    0x80u

struct lapis_cmos_ops {
    /* Wall-clock time, ns since 1970-01-01 UTC. NULL: the clock starts at 1970. */
    int64_t (*wall_ns)(void *opaque);
};

struct lapis_cmos_stats {
    uint64_t reads, writes;
    uint64_t time_sets;   /* guest changes of the clock */
    uint64_t irq_enables; /* register B writes enabling PIE/AIE/UIE (not generated) */
    uint64_t bad_access;
};

struct lapis_cmos {
    uint8_t ram[LAPIS_CMOS_SIZE];
    uint8_t index;
    bool nmi_disabled;
    int64_t offset_s; /* guest time - host time */
    const struct lapis_cmos_ops *ops;
    void *opaque;
    struct lapis_cmos_stats stats;
};

void lapis_cmos_init(struct lapis_cmos *cmos, const struct lapis_cmos_ops *ops, void *opaque);

bool lapis_cmos_handles(uint16_t port);

/* One access (byte; wider ones use the low byte). 0 or -EINVAL (counted). */
int lapis_cmos_io(struct lapis_cmos *cmos, uint16_t port, unsigned size, bool is_write,
                  uint32_t *value);

/* The guest's time in seconds since 1970 (what the registers show now). */
int64_t lapis_cmos_time(struct lapis_cmos *cmos);

#endif
