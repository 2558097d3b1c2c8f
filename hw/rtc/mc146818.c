/*
 * MC146818 real-time clock and its 128 bytes of CMOS RAM at ports 0x70 (index) and 0x71
 * (data): time and calendar bytes in BCD or binary, 12- or 24-hour, with the periodic,
 * alarm and update-ended interrupts on IRQ 8. The clock does not tick: it keeps a base time
 * on CLOCK_VIRTUAL and decodes the time on each read, and register C's flags are worked out
 * from the time elapsed since they were last looked at. A timer runs only while an enabled
 * interrupt is due and the IRQ line is low. It is not the NVRAM layout (the board fills
 * those bytes), has no square-wave pin and no daylight-saving switch (DSE is stored and
 * ignored, as in QEMU).
 */
#include <string.h>
#include <glib.h>
#include "hw/ioport.h"
#include "hw/irq.h"
#include "hw/machine.h"
#include "hw/rtc.h"
#include "util/main-loop.h"

#define RTC_IO_BASE 0x70
#define RTC_PORT_INDEX 0
#define RTC_PORT_DATA 1
#define RTC_INDEX_MASK 0x7f /* bit 7 of the index gates NMI on a PC: not modelled */
#define RTC_OSC_HZ 32768
#define NS_PER_SEC 1000000000LL
#define SECS_PER_DAY 86400
#define MINUTES_PER_DAY 1440
/* UIP rises this long (t_BUC) before each update; the update itself is instantaneous. */
#define RTC_UIP_NS 244141
#define RTC_IRQ_BITS (RTC_REG_C_PF | RTC_REG_C_AF | RTC_REG_C_UF)

struct RTCState {
    uint8_t cmos[RTC_CMOS_SIZE]; /* RAM, A, B; the time bytes only while the clock stops */
    uint8_t index;
    uint8_t reg_c;               /* PF/AF/UF for events up to synced_ns; IRQF is derived */
    unsigned irq;
    bool irq_level;
    int64_t div_origin_ns;       /* CLOCK_VIRTUAL time the divider chain left reset */
    int64_t base_sec;            /* guest time (seconds since 1970, UTC) ... */
    int64_t base_ns;             /* ... at this update boundary on CLOCK_VIRTUAL */
    int64_t synced_ns;
    Timer *timer;
};

uint8_t rtc_to_bcd(unsigned v)
{
    v %= 100;
    return (v / 10) << 4 | v % 10;
}

unsigned rtc_from_bcd(uint8_t v)
{
    return (v >> 4) * 10 + (v & 0x0f);
}

uint8_t rtc_encode_value(unsigned v, uint8_t reg_b)
{
    return (reg_b & RTC_REG_B_DM) ? (uint8_t)v : rtc_to_bcd(v);
}

unsigned rtc_decode_value(uint8_t v, uint8_t reg_b)
{
    return (reg_b & RTC_REG_B_DM) ? v : rtc_from_bcd(v);
}

uint8_t rtc_encode_hour(unsigned hour, uint8_t reg_b)
{
    unsigned h12 = hour % 12 ? hour % 12 : 12;

    if (reg_b & RTC_REG_B_24_12) {
        return rtc_encode_value(hour, reg_b);
    }
    return rtc_encode_value(h12, reg_b) | (hour >= 12 ? RTC_HOURS_PM : 0);
}

unsigned rtc_decode_hour(uint8_t v, uint8_t reg_b)
{
    unsigned h12;

    if (reg_b & RTC_REG_B_24_12) {
        return rtc_decode_value(v, reg_b);
    }
    h12 = rtc_decode_value(v & ~RTC_HOURS_PM, reg_b);
    if (h12 == 0 || h12 > 12) {
        return 24;
    }
    return h12 % 12 + ((v & RTC_HOURS_PM) ? 12 : 0);
}

void rtc_encode_time(const struct tm *tm, uint8_t reg_b, uint8_t cmos[RTC_CMOS_SIZE])
{
    unsigned year = tm->tm_year + 1900;

    cmos[RTC_SECONDS] = rtc_encode_value(tm->tm_sec, reg_b);
    cmos[RTC_MINUTES] = rtc_encode_value(tm->tm_min, reg_b);
    cmos[RTC_HOURS] = rtc_encode_hour(tm->tm_hour, reg_b);
    cmos[RTC_DAY_OF_WEEK] = rtc_encode_value(tm->tm_wday + 1, reg_b);
    cmos[RTC_DATE_OF_MONTH] = rtc_encode_value(tm->tm_mday, reg_b);
    cmos[RTC_MONTH] = rtc_encode_value(tm->tm_mon + 1, reg_b);
    cmos[RTC_YEAR] = rtc_encode_value(year % 100, reg_b);
    cmos[RTC_CENTURY] = rtc_encode_value(year / 100 % 100, reg_b);
}

/* A calendar byte as a number in [lo, hi]. */
static int rtc_decode_clamped(uint8_t v, uint8_t reg_b, unsigned lo, unsigned hi)
{
    return CLAMP(rtc_decode_value(v, reg_b), lo, hi);
}

void rtc_decode_time(const uint8_t cmos[RTC_CMOS_SIZE], uint8_t reg_b, struct tm *tm)
{
    int century = rtc_decode_clamped(cmos[RTC_CENTURY], reg_b, 0, 99);

    memset(tm, 0, sizeof(*tm));
    tm->tm_sec = rtc_decode_clamped(cmos[RTC_SECONDS], reg_b, 0, 59);
    tm->tm_min = rtc_decode_clamped(cmos[RTC_MINUTES], reg_b, 0, 59);
    tm->tm_hour = MIN(rtc_decode_hour(cmos[RTC_HOURS], reg_b), 23);
    tm->tm_mday = rtc_decode_clamped(cmos[RTC_DATE_OF_MONTH], reg_b, 1, 31);
    tm->tm_mon = rtc_decode_clamped(cmos[RTC_MONTH], reg_b, 1, 12) - 1;
    tm->tm_year = century * 100 + rtc_decode_clamped(cmos[RTC_YEAR], reg_b, 0, 99) - 1900;
}

unsigned rtc_periodic_cycles(uint8_t reg_a)
{
    unsigned rs = reg_a & RTC_REG_A_RS;

    if (rs == 0) {
        return 0;
    }
    if (rs <= 2) {
        rs += 7; /* with a 32.768 kHz base, rates 1 and 2 repeat rates 8 and 9 */
    }
    return 1u << (rs - 1);
}

/* An alarm byte's value, or -1 for "don't care". */
static int rtc_alarm_byte(uint8_t v, uint8_t reg_b, bool hour)
{
    if ((v & RTC_ALARM_DONT_CARE) == RTC_ALARM_DONT_CARE) {
        return -1;
    }
    return hour ? rtc_decode_hour(v, reg_b) : rtc_decode_value(v, reg_b);
}

static bool rtc_alarm_match(int want, unsigned v)
{
    return want < 0 || (unsigned)want == v;
}

int rtc_alarm_next(const uint8_t cmos[RTC_CMOS_SIZE], uint8_t reg_b, unsigned sod)
{
    int sec = rtc_alarm_byte(cmos[RTC_SECONDS_ALARM], reg_b, false);
    int min = rtc_alarm_byte(cmos[RTC_MINUTES_ALARM], reg_b, false);
    int hour = rtc_alarm_byte(cmos[RTC_HOURS_ALARM], reg_b, true);
    unsigned now_min = sod % SECS_PER_DAY / 60, now_sec = sod % 60;

    /* Walk the minutes of the next day; the last one is this minute, a day later. */
    for (unsigned k = 0; k <= MINUTES_PER_DAY && sec < 60; k++) {
        unsigned m = (now_min + k) % MINUTES_PER_DAY;
        unsigned first = k == 0 ? now_sec + 1 : 0;
        unsigned s = sec < 0 ? first : (unsigned)sec;

        if (rtc_alarm_match(hour, m / 60) && rtc_alarm_match(min, m % 60) &&
            s >= first && s < 60) {
            return k * 60 + s - now_sec;
        }
    }
    return -1;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

/* DV 000 and 001 pick other crystals on the original part; the oscillator is virtual, so
 * all three keep time. 11x holds the divider chain in reset, 10x are test modes. */
static bool rtc_divider_running(const RTCState *s)
{
    return (s->cmos[RTC_REG_A] & RTC_REG_A_DV) <= RTC_REG_A_DV_32KHZ;
}

static bool rtc_clock_running(const RTCState *s)
{
    return rtc_divider_running(s) && !(s->cmos[RTC_REG_B] & RTC_REG_B_SET);
}

/* CLOCK_VIRTUAL may be anywhere up to INT64_MAX (qtest's clock_set): a moment computed
 * from it saturates there, which means "never". delta >= 0. */
static int64_t rtc_time_add(int64_t t, int64_t delta)
{
    int64_t sum;

    return __builtin_add_overflow(t, delta, &sum) ? INT64_MAX : sum;
}

/* Divider cycles since the chain left reset, rounded down, without overflowing. */
static int64_t rtc_div_cycles(const RTCState *s, int64_t t)
{
    uint64_t d = t > s->div_origin_ns ? (uint64_t)t - (uint64_t)s->div_origin_ns : 0;

    return d / NS_PER_SEC * RTC_OSC_HZ + d % NS_PER_SEC * RTC_OSC_HZ / NS_PER_SEC;
}

/* When the divider reaches `cycles`, rounded up to the nanosecond. */
static int64_t rtc_div_time(const RTCState *s, int64_t cycles)
{
    int64_t frac = cycles % RTC_OSC_HZ * NS_PER_SEC, whole;

    if (__builtin_mul_overflow(cycles / RTC_OSC_HZ, NS_PER_SEC, &whole)) {
        return INT64_MAX;
    }
    return rtc_time_add(rtc_time_add(s->div_origin_ns, whole),
                        (frac + RTC_OSC_HZ - 1) / RTC_OSC_HZ);
}

static unsigned rtc_active_period(const RTCState *s)
{
    return rtc_divider_running(s) ? rtc_periodic_cycles(s->cmos[RTC_REG_A]) : 0;
}

/* The last update at or before `t`: the first comes 500 ms after the divider leaves reset. */
static int64_t rtc_last_update_ns(const RTCState *s, int64_t t)
{
    int64_t first = rtc_time_add(s->div_origin_ns, NS_PER_SEC / 2);

    return first + floor_div(t - first, NS_PER_SEC) * NS_PER_SEC;
}

static int64_t rtc_seconds_at(const RTCState *s, int64_t t)
{
    return s->base_sec + floor_div(t - s->base_ns, NS_PER_SEC);
}

static unsigned rtc_second_of_day(int64_t sec)
{
    return sec - floor_div(sec, SECS_PER_DAY) * SECS_PER_DAY;
}

static void rtc_encode_seconds(const RTCState *s, int64_t sec, uint8_t cmos[RTC_CMOS_SIZE])
{
    time_t t = sec;
    struct tm tm;

    if (gmtime_r(&t, &tm)) {
        rtc_encode_time(&tm, s->cmos[RTC_REG_B], cmos);
    }
}

/* The clock stops: its bytes become plain registers holding the current time. */
static void rtc_latch_time(RTCState *s, int64_t now)
{
    rtc_encode_seconds(s, rtc_seconds_at(s, now), s->cmos);
}

/* The clock (re)starts from its bytes, keeping the divider's phase. */
static void rtc_rebase_time(RTCState *s, int64_t now)
{
    struct tm tm;

    rtc_decode_time(s->cmos, s->cmos[RTC_REG_B], &tm);
    s->base_sec = timegm(&tm);
    s->base_ns = rtc_last_update_ns(s, now);
}

static bool rtc_alarm_in(const RTCState *s, int64_t from, int64_t updates)
{
    int next = rtc_alarm_next(s->cmos, s->cmos[RTC_REG_B],
                              rtc_second_of_day(rtc_seconds_at(s, from)));

    return next > 0 && next <= updates;
}

/* Account in register C for the ticks and updates since the last sync. */
static void rtc_sync(RTCState *s, int64_t now)
{
    int64_t from = s->synced_ns, updates;
    unsigned period = rtc_active_period(s);

    if (now <= from) {
        return;
    }
    s->synced_ns = now;
    if (period && rtc_div_cycles(s, now) / period > rtc_div_cycles(s, from) / period) {
        s->reg_c |= RTC_REG_C_PF;
    }
    if (!rtc_clock_running(s)) {
        return;
    }
    updates = rtc_seconds_at(s, now) - rtc_seconds_at(s, from);
    if (updates > 0) {
        s->reg_c |= RTC_REG_C_UF;
        if (rtc_alarm_in(s, from, updates)) {
            s->reg_c |= RTC_REG_C_AF;
        }
    }
}

static bool rtc_irqf(const RTCState *s)
{
    return s->reg_c & s->cmos[RTC_REG_B] & RTC_IRQ_BITS;
}

static void rtc_update_irq(RTCState *s)
{
    bool level = rtc_irqf(s);

    if (level != s->irq_level) {
        s->irq_level = level;
        irq_set_level(s->irq, level);
    }
}

/* The next moment an enabled interrupt source fires, or INT64_MAX. */
static int64_t rtc_next_event_ns(const RTCState *s, int64_t now)
{
    uint8_t b = s->cmos[RTC_REG_B];
    unsigned period = rtc_active_period(s);
    int64_t next = INT64_MAX, update;
    int alarm;

    if ((b & RTC_REG_B_PIE) && period) {
        next = rtc_div_time(s, (rtc_div_cycles(s, now) / period + 1) * period);
    }
    if (!rtc_clock_running(s)) {
        return next;
    }
    update = rtc_time_add(rtc_last_update_ns(s, now), NS_PER_SEC);
    if (b & RTC_REG_B_UIE) {
        next = MIN(next, update);
    }
    if (!(b & RTC_REG_B_AIE)) {
        return next;
    }
    alarm = rtc_alarm_next(s->cmos, b, rtc_second_of_day(rtc_seconds_at(s, now)));
    if (alarm > 0) {
        next = MIN(next, rtc_time_add(update, (alarm - 1) * NS_PER_SEC));
    }
    return next;
}

/* Bring the IRQ line and the timer in line with the registers. */
static void rtc_settle(RTCState *s, int64_t now)
{
    int64_t next;

    rtc_update_irq(s);
    next = s->irq_level ? INT64_MAX : rtc_next_event_ns(s, now);
    if (next == INT64_MAX) {
        timer_del(s->timer);
    } else {
        timer_mod(s->timer, next);
    }
}

static void rtc_timer_cb(void *opaque)
{
    RTCState *s = opaque;
    int64_t now = clock_get_ns(CLOCK_VIRTUAL);

    rtc_sync(s, now);
    rtc_settle(s, now);
}

static bool rtc_is_time_reg(unsigned addr)
{
    switch (addr) {
    case RTC_SECONDS:
    case RTC_MINUTES:
    case RTC_HOURS:
    case RTC_DAY_OF_WEEK:
    case RTC_DATE_OF_MONTH:
    case RTC_MONTH:
    case RTC_YEAR:
    case RTC_CENTURY:
        return true;
    }
    return false;
}

static bool rtc_update_in_progress(const RTCState *s, int64_t now)
{
    return rtc_clock_running(s) && now - rtc_last_update_ns(s, now) >= NS_PER_SEC - RTC_UIP_NS;
}

static uint8_t rtc_read_reg(const RTCState *s, unsigned addr, int64_t now)
{
    uint8_t cur[RTC_CMOS_SIZE] = { 0 };

    switch (addr) {
    case RTC_REG_A:
        return s->cmos[addr] | (rtc_update_in_progress(s, now) ? RTC_REG_A_UIP : 0);
    case RTC_REG_C:
        return s->reg_c | (rtc_irqf(s) ? RTC_REG_C_IRQF : 0);
    case RTC_REG_D:
        return RTC_REG_D_VRT;
    }
    if (!rtc_is_time_reg(addr) || !rtc_clock_running(s)) {
        return s->cmos[addr];
    }
    rtc_encode_seconds(s, rtc_seconds_at(s, now), cur);
    return cur[addr];
}

/* Registers A and B: starting or stopping the divider or the clock. */
static void rtc_write_control(RTCState *s, uint8_t a, uint8_t b, int64_t now)
{
    bool was_div = rtc_divider_running(s), was_clock = rtc_clock_running(s);

    if ((b & RTC_REG_B_SET) && !(s->cmos[RTC_REG_B] & RTC_REG_B_SET)) {
        b &= ~RTC_REG_B_UIE; /* SET going high clears UIE */
    }
    s->cmos[RTC_REG_A] = a & ~RTC_REG_A_UIP;
    s->cmos[RTC_REG_B] = b;
    if (!was_div && rtc_divider_running(s)) {
        s->div_origin_ns = now;
    }
    if (was_clock && !rtc_clock_running(s)) {
        rtc_latch_time(s, now);
    } else if (!was_clock && rtc_clock_running(s)) {
        rtc_rebase_time(s, now);
    }
}

static void rtc_write_reg(RTCState *s, unsigned addr, uint8_t val, int64_t now)
{
    switch (addr) {
    case RTC_REG_A:
        rtc_write_control(s, val, s->cmos[RTC_REG_B], now);
        return;
    case RTC_REG_B:
        rtc_write_control(s, s->cmos[RTC_REG_A], val, now);
        return;
    case RTC_REG_C:
    case RTC_REG_D:
        return; /* read-only */
    }
    if (rtc_is_time_reg(addr) && rtc_clock_running(s)) {
        rtc_latch_time(s, now);
        s->cmos[addr] = val;
        rtc_rebase_time(s, now);
        return;
    }
    s->cmos[addr] = val;
}

static uint8_t rtc_read_data(RTCState *s)
{
    int64_t now = clock_get_ns(CLOCK_VIRTUAL);
    uint8_t val;

    rtc_sync(s, now);
    val = rtc_read_reg(s, s->index, now);
    if (s->index == RTC_REG_C) {
        s->reg_c = 0;
    }
    rtc_settle(s, now);
    return val;
}

static void rtc_write_data(RTCState *s, uint8_t val)
{
    int64_t now = clock_get_ns(CLOCK_VIRTUAL);

    rtc_sync(s, now);
    rtc_write_reg(s, s->index, val, now);
    rtc_settle(s, now);
}

/* The index port is write-only: reading it gives the open bus. */
static uint8_t rtc_read_port(RTCState *s, uint64_t port)
{
    return port == RTC_PORT_DATA ? rtc_read_data(s) : 0xff;
}

static void rtc_write_port(RTCState *s, uint64_t port, uint8_t val)
{
    if (port == RTC_PORT_INDEX) {
        s->index = val & RTC_INDEX_MASK;
    } else if (port == RTC_PORT_DATA) {
        rtc_write_data(s, val);
    }
}

/* Wider accesses reach the two ports byte by byte, as on the 8-bit ISA bus. */
static uint64_t rtc_io_read(void *opaque, uint64_t addr, unsigned size)
{
    uint64_t val = 0;

    for (unsigned i = 0; i < MIN(size, 8u); i++) {
        val |= (uint64_t)rtc_read_port(opaque, addr + i) << (8 * i);
    }
    return val;
}

static void rtc_io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    for (unsigned i = 0; i < MIN(size, 8u); i++) {
        rtc_write_port(opaque, addr + i, val >> (8 * i));
    }
}

static const IOOps rtc_io_ops = {
    .read = rtc_io_read,
    .write = rtc_io_write,
};

uint8_t rtc_get_memory(RTCState *s, unsigned addr)
{
    int64_t now = clock_get_ns(CLOCK_VIRTUAL);
    uint8_t val;

    g_return_val_if_fail(addr < RTC_CMOS_SIZE, 0xff);
    rtc_sync(s, now);
    val = rtc_read_reg(s, addr, now);
    rtc_settle(s, now);
    return val;
}

void rtc_set_memory(RTCState *s, unsigned addr, uint8_t val)
{
    int64_t now = clock_get_ns(CLOCK_VIRTUAL);

    g_return_if_fail(addr < RTC_CMOS_SIZE);
    rtc_sync(s, now);
    rtc_write_reg(s, addr, val, now);
    rtc_settle(s, now);
}

void rtc_set_date_from_host(RTCState *s)
{
    int64_t now = clock_get_ns(CLOCK_VIRTUAL);

    rtc_sync(s, now);
    s->base_sec = g_get_real_time() / G_USEC_PER_SEC;
    s->base_ns = rtc_last_update_ns(s, now);
    if (!rtc_clock_running(s)) {
        rtc_latch_time(s, now);
    }
    rtc_settle(s, now);
}

/* The RESET pin clears the interrupt enables and flags; time, SET and RAM survive. */
static void rtc_reset(void *opaque)
{
    RTCState *s = opaque;
    int64_t now = clock_get_ns(CLOCK_VIRTUAL);

    rtc_sync(s, now);
    s->cmos[RTC_REG_B] &=
        ~(RTC_REG_B_PIE | RTC_REG_B_AIE | RTC_REG_B_UIE | RTC_REG_B_SQWE);
    s->reg_c = 0;
    rtc_settle(s, now);
}

RTCState *rtc_init(unsigned irq)
{
    RTCState *s = g_new0(RTCState, 1);
    int64_t now = clock_get_ns(CLOCK_VIRTUAL);

    s->irq = irq;
    s->cmos[RTC_REG_A] = RTC_REG_A_DV_32KHZ | 0x06; /* 1024 Hz periodic rate */
    s->cmos[RTC_REG_B] = RTC_REG_B_24_12;
    s->div_origin_ns = now - NS_PER_SEC / 2; /* an update falls due right now */
    s->synced_ns = now;
    s->timer = timer_new(CLOCK_VIRTUAL, rtc_timer_cb, s);
    rtc_set_date_from_host(s);
    portio_add(RTC_IO_BASE, 2, &rtc_io_ops, s, "rtc");
    machine_register_reset(rtc_reset, s);
    return s;
}
