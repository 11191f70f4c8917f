/* SPDX-License-Identifier: MIT */
/* CMOS RTC: registers computed from wall time + offset; NVRAM bytes kept. */
#include "cmos.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define REG_A_DEFAULT 0x26u /* 32.768 kHz divider, 1024 Hz rate */
#define REG_A_UIP     0x80u

struct tm_rtc {
    int64_t year;
    int mon, mday, hour, min, sec, wday;
};

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, struct tm_rtc *t)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    t->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    t->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    t->year = yoe + era * 400 + (t->mon <= 2);
}

static void to_tm(int64_t s, struct tm_rtc *t)
{
    int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    int64_t rem = s - days * 86400;
    civil_from_days(days, t);
    t->hour = (int)(rem / 3600);
    t->min = (int)(rem / 60 % 60);
    t->sec = (int)(rem % 60);
    t->wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday; Sunday = 0 */
}

static int64_t host_s(struct lapis_cmos *c)
{
    int64_t ns = c->ops && c->ops->wall_ns ? c->ops->wall_ns(c->opaque) : 0;
    return ns >= 0 ? ns / 1000000000 : -((-ns + 999999999) / 1000000000);
}

int64_t lapis_cmos_time(struct lapis_cmos *cmos)
{
    return host_s(cmos) + cmos->offset_s;
}

static bool binary(const struct lapis_cmos *c)
{
    return c->ram[LAPIS_RTC_REG_B] & LAPIS_RTC_B_BINARY;
}

static uint8_t enc(const struct lapis_cmos *c, int v)
{
    return binary(c) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

static int dec(const struct lapis_cmos *c, uint8_t v)
{
    return binary(c) ? v : (v >> 4) * 10 + (v & 0xF);
}

static uint8_t enc_hour(const struct lapis_cmos *c, int h)
{
    if (c->ram[LAPIS_RTC_REG_B] & LAPIS_RTC_B_24H)
        return enc(c, h);
    int h12 = h % 12 ? h % 12 : 12;
    return (uint8_t)(enc(c, h12) | (h >= 12 ? 0x80 : 0));
}

static int dec_hour(const struct lapis_cmos *c, uint8_t v)
{
    if (c->ram[LAPIS_RTC_REG_B] & LAPIS_RTC_B_24H)
        return dec(c, v);
    int h = dec(c, v & 0x7F) % 12;
    return (v & 0x80) ? h + 12 : h;
}

/* The time registers for guest time @s, into ram[]. */
static void store_time(struct lapis_cmos *c, int64_t s)
{
    struct tm_rtc t;
    to_tm(s, &t);
    int64_t y = t.year < 0 ? 0 : t.year > 9999 ? 9999 : t.year;
    c->ram[LAPIS_RTC_SECONDS] = enc(c, t.sec);
    c->ram[LAPIS_RTC_MINUTES] = enc(c, t.min);
    c->ram[LAPIS_RTC_HOURS] = enc_hour(c, t.hour);
    c->ram[LAPIS_RTC_WEEKDAY] = enc(c, t.wday + 1);
    c->ram[LAPIS_RTC_DAY] = enc(c, t.mday);
    c->ram[LAPIS_RTC_MONTH] = enc(c, t.mon);
    c->ram[LAPIS_RTC_YEAR] = enc(c, (int)(y % 100));
    c->ram[LAPIS_RTC_CENTURY] = enc(c, (int)(y / 100));
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Guest time from the registers as written (out-of-range fields clamped). */
static int64_t load_time(const struct lapis_cmos *c)
{
    int64_t y = (int64_t)clampi(dec(c, c->ram[LAPIS_RTC_CENTURY]), 0, 99) * 100 +
                clampi(dec(c, c->ram[LAPIS_RTC_YEAR]), 0, 99);
    int mon = clampi(dec(c, c->ram[LAPIS_RTC_MONTH]), 1, 12);
    int day = clampi(dec(c, c->ram[LAPIS_RTC_DAY]), 1, 31);
    int h = clampi(dec_hour(c, c->ram[LAPIS_RTC_HOURS]), 0, 23);
    int mi = clampi(dec(c, c->ram[LAPIS_RTC_MINUTES]), 0, 59);
    int se = clampi(dec(c, c->ram[LAPIS_RTC_SECONDS]), 0, 59);
    return days_from_civil(y, mon, day) * 86400 + h * 3600 + mi * 60 + se;
}

static bool is_time_reg(uint8_t i)
{
    return i == LAPIS_RTC_SECONDS || i == LAPIS_RTC_MINUTES || i == LAPIS_RTC_HOURS ||
           i == LAPIS_RTC_WEEKDAY || i == LAPIS_RTC_DAY || i == LAPIS_RTC_MONTH ||
           i == LAPIS_RTC_YEAR || i == LAPIS_RTC_CENTURY;
}

void lapis_cmos_init(struct lapis_cmos *cmos, const struct lapis_cmos_ops *ops, void *opaque)
{
    memset(cmos, 0, sizeof(*cmos));
    cmos->ops = ops;
    cmos->opaque = opaque;
    cmos->ram[LAPIS_RTC_REG_A] = REG_A_DEFAULT;
    cmos->ram[LAPIS_RTC_REG_B] = LAPIS_RTC_B_24H; /* BCD, 24-hour, as PC firmware leaves it */
    cmos->ram[LAPIS_RTC_REG_D] = LAPIS_RTC_D_VRT;
}

bool lapis_cmos_handles(uint16_t port)
{
    return port == LAPIS_CMOS_INDEX || port == LAPIS_CMOS_DATA;
}

static uint8_t read_reg(struct lapis_cmos *c, uint8_t i)
{
    bool set = c->ram[LAPIS_RTC_REG_B] & LAPIS_RTC_B_SET;
    if (is_time_reg(i) && !set)
        store_time(c, lapis_cmos_time(c));
    switch (i) {
    case LAPIS_RTC_REG_A:
        return c->ram[i] & (uint8_t)~REG_A_UIP;
    case LAPIS_RTC_REG_C: /* flags: never raised; reading clears */
        c->ram[i] = 0;
        return 0;
    case LAPIS_RTC_REG_D:
        return LAPIS_RTC_D_VRT;
    default:
        return c->ram[i];
    }
}

static void write_reg(struct lapis_cmos *c, uint8_t i, uint8_t v)
{
    bool set = c->ram[LAPIS_RTC_REG_B] & LAPIS_RTC_B_SET;
    switch (i) {
    case LAPIS_RTC_REG_A:
        c->ram[i] = v & (uint8_t)~REG_A_UIP;
        return;
    case LAPIS_RTC_REG_B: {
        uint8_t old = c->ram[i];
        if ((v & LAPIS_RTC_B_IRQS) & ~(old & LAPIS_RTC_B_IRQS))
            c->stats.irq_enables++;
        if (!set && (v & LAPIS_RTC_B_SET)) /* freeze: show the current time while set */
            store_time(c, lapis_cmos_time(c));
        if (set && !(v & LAPIS_RTC_B_SET)) { /* the new time starts now */
            c->ram[i] = v;
            c->offset_s = load_time(c) - host_s(c);
            c->stats.time_sets++;
        }
        /* A format change re-encodes the registers on the next read. */
        c->ram[i] = v;
        return;
    }
    case LAPIS_RTC_REG_C:
    case LAPIS_RTC_REG_D:
        return; /* read-only */
    default:
        break;
    }
    if (is_time_reg(i) && !set) {
        /* A running clock: change one field now. */
        store_time(c, lapis_cmos_time(c));
        c->ram[i] = v;
        c->offset_s = load_time(c) - host_s(c);
        c->stats.time_sets++;
        return;
    }
    c->ram[i] = v;
}

int lapis_cmos_io(struct lapis_cmos *cmos, uint16_t port, unsigned size, bool is_write,
                  uint32_t *value)
{
    if (!value || (size != 1 && size != 2 && size != 4) || !lapis_cmos_handles(port)) {
        if (value && !is_write)
            *value = 0xFF;
        cmos->stats.bad_access++;
        return -EINVAL;
    }
    if (port == LAPIS_CMOS_INDEX) {
        if (is_write) {
            cmos->index = (uint8_t)*value & 0x7F;
            cmos->nmi_disabled = *value & LAPIS_CMOS_NMI_OFF;
        } else
            *value = 0xFF; /* the index register is write-only */
        return 0;
    }
    if (is_write) {
        cmos->stats.writes++;
        write_reg(cmos, cmos->index, (uint8_t)*value);
    } else {
        cmos->stats.reads++;
        *value = read_reg(cmos, cmos->index);
    }
    return 0;
}
