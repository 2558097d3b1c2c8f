/*
 * The PC's MC146818 real-time clock and CMOS RAM (ports 0x70/0x71, IRQ 8), plus the pure
 * encoding helpers it is built on (BCD, 12-hour clock, calendar bytes, periodic rate, alarm
 * matching), exposed so that they can be unit tested. Which NVRAM byte means what (memory
 * size, boot order, shutdown code) is the board's business, not this header's.
 */
#ifndef HW_RTC_H
#define HW_RTC_H

#include <stdint.h>
#include <time.h>

#define RTC_CMOS_SIZE 128
#define RTC_ISA_IRQ 8

/* Register addresses, as the datasheet names them; RTC_CENTURY is the AT convention. */
typedef enum RTCReg {
    RTC_SECONDS = 0x00,
    RTC_SECONDS_ALARM = 0x01,
    RTC_MINUTES = 0x02,
    RTC_MINUTES_ALARM = 0x03,
    RTC_HOURS = 0x04,
    RTC_HOURS_ALARM = 0x05,
    RTC_DAY_OF_WEEK = 0x06,
    RTC_DATE_OF_MONTH = 0x07,
    RTC_MONTH = 0x08,
    RTC_YEAR = 0x09,
    RTC_REG_A = 0x0a,
    RTC_REG_B = 0x0b,
    RTC_REG_C = 0x0c,
    RTC_REG_D = 0x0d,
    RTC_CENTURY = 0x32,
} RTCReg;

/* Bits of registers A-D and of the hour and alarm bytes. */
enum {
    RTC_REG_A_UIP = 0x80,
    RTC_REG_A_DV = 0x70,        /* DV2-DV0 */
    RTC_REG_A_DV_32KHZ = 0x20,  /* 010: the PC's 32.768 kHz time base */
    RTC_REG_A_RS = 0x0f,        /* RS3-RS0 */
    RTC_REG_B_SET = 0x80,
    RTC_REG_B_PIE = 0x40,
    RTC_REG_B_AIE = 0x20,
    RTC_REG_B_UIE = 0x10,
    RTC_REG_B_SQWE = 0x08,
    RTC_REG_B_DM = 0x04,        /* 1: binary, 0: BCD */
    RTC_REG_B_24_12 = 0x02,     /* 1: 24-hour clock */
    RTC_REG_B_DSE = 0x01,
    RTC_REG_C_IRQF = 0x80,
    RTC_REG_C_PF = 0x40,
    RTC_REG_C_AF = 0x20,
    RTC_REG_C_UF = 0x10,
    RTC_REG_D_VRT = 0x80,
    RTC_HOURS_PM = 0x80,        /* in 12-hour mode */
    RTC_ALARM_DONT_CARE = 0xc0, /* an alarm byte of 11xxxxxx matches every value */
};

typedef struct RTCState RTCState;

/* Create the RTC at ports 0x70-0x71 on `irq` (ISA IRQ 8), set from host UTC time. */
RTCState *rtc_init(unsigned irq);
/* Board access to a CMOS byte (addr < 128) without the side effects of a guest access
 * (reading register C does not clear it). Time bytes go through the clock, as for the guest. */
void rtc_set_memory(RTCState *s, unsigned addr, uint8_t val);
uint8_t rtc_get_memory(RTCState *s, unsigned addr);
/* Set the clock to the host's time of day in UTC (QEMU's default -rtc base=utc). */
void rtc_set_date_from_host(RTCState *s);

/* Pure helpers. `reg_b` selects the encoding: RTC_REG_B_DM and RTC_REG_B_24_12. */
uint8_t rtc_to_bcd(unsigned v);   /* v modulo 100 */
unsigned rtc_from_bcd(uint8_t v); /* no validation: 0x5a gives 60 */
uint8_t rtc_encode_value(unsigned v, uint8_t reg_b);
unsigned rtc_decode_value(uint8_t v, uint8_t reg_b);
uint8_t rtc_encode_hour(unsigned hour, uint8_t reg_b);
/* 0-23, or a value above 23 when `v` is no valid hour in this mode. */
unsigned rtc_decode_hour(uint8_t v, uint8_t reg_b);
/* Write the time, date and century bytes of `cmos` (alarm bytes untouched). */
void rtc_encode_time(const struct tm *tm, uint8_t reg_b, uint8_t cmos[RTC_CMOS_SIZE]);
/* Read them back; out-of-range fields are clamped (seconds to 59, month to 1-12, ...) and
 * the day of week is ignored, so any bytes a guest wrote give a valid time. */
void rtc_decode_time(const uint8_t cmos[RTC_CMOS_SIZE], uint8_t reg_b, struct tm *tm);
/* Periodic interrupt period in 32.768 kHz cycles for register A's RS bits; 0 = none. */
unsigned rtc_periodic_cycles(uint8_t reg_a);
/* Seconds (1-86400) from second-of-day `sod` to the next second matching the alarm bytes
 * in `cmos`, or -1 if they never match. */
int rtc_alarm_next(const uint8_t cmos[RTC_CMOS_SIZE], uint8_t reg_b, unsigned sod);

#endif
