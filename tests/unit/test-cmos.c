/*
 * Unit tests for the legacy PC devices: the RTC's pure encoding helpers, then the RTC, 16550A
 * UART, debug console and i8042 driven through port I/O dispatch on a fake virtual clock,
 * with interrupt lines watched through the IRQ observer. No KVM is involved.
 */
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "hw/debugcon.h"
#include "hw/i8042.h"
#include "hw/ioport.h"
#include "hw/irq.h"
#include "hw/machine.h"
#include "hw/port92.h"
#include "hw/rtc.h"
#include "hw/serial.h"
#include "util/main-loop.h"

#define NS_PER_SEC 1000000000LL
#define RTC_INDEX 0x70
#define RTC_DATA 0x71
#define COM1 SERIAL_COM1_BASE

static int64_t fake_ns;
static bool irq_levels[IRQ_NUM_GSI];
static unsigned irq_rises[IRQ_NUM_GSI];

static int64_t fake_clock(void)
{
    return fake_ns;
}

static void watch_irq(unsigned gsi, bool level)
{
    irq_levels[gsi] = level;
    irq_rises[gsi] += level;
}

static uint8_t inb(uint16_t port)
{
    return io_dispatch_read(IO_SPACE_PIO, port, 1);
}

static void outb(uint16_t port, uint8_t val)
{
    io_dispatch_write(IO_SPACE_PIO, port, val, 1);
}

/* 2024-02-29 (a Thursday) 13:05:09 UTC */
static struct tm leap_day(void)
{
    return (struct tm){ .tm_year = 124, .tm_mon = 1, .tm_mday = 29, .tm_hour = 13,
                        .tm_min = 5, .tm_sec = 9, .tm_wday = 4 };
}

static void test_bcd(void)
{
    g_assert_cmphex(rtc_to_bcd(0), ==, 0x00);
    g_assert_cmphex(rtc_to_bcd(9), ==, 0x09);
    g_assert_cmphex(rtc_to_bcd(10), ==, 0x10);
    g_assert_cmphex(rtc_to_bcd(59), ==, 0x59);
    g_assert_cmphex(rtc_to_bcd(2024), ==, 0x24);
    g_assert_cmpuint(rtc_from_bcd(0x59), ==, 59);
    g_assert_cmpuint(rtc_from_bcd(0x5a), ==, 60);
    for (unsigned v = 0; v < 100; v++) {
        g_assert_cmpuint(rtc_from_bcd(rtc_to_bcd(v)), ==, v);
        g_assert_cmphex(rtc_encode_value(v, RTC_REG_B_DM), ==, v);
        g_assert_cmpuint(rtc_decode_value(rtc_encode_value(v, 0), 0), ==, v);
    }
}

static void test_hours_12h(void)
{
    static const struct {
        unsigned hour;
        uint8_t bcd, bin;
    } cases[] = {
        { 0, 0x12, 12 },           /* midnight is 12 AM */
        { 1, 0x01, 1 },
        { 11, 0x11, 11 },
        { 12, 0x92, 0x80 | 12 },   /* noon is 12 PM */
        { 13, 0x81, 0x80 | 1 },
        { 23, 0x91, 0x80 | 11 },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_cmphex(rtc_encode_hour(cases[i].hour, 0), ==, cases[i].bcd);
        g_assert_cmphex(rtc_encode_hour(cases[i].hour, RTC_REG_B_DM), ==, cases[i].bin);
        g_assert_cmpuint(rtc_decode_hour(cases[i].bcd, 0), ==, cases[i].hour);
        g_assert_cmpuint(rtc_decode_hour(cases[i].bin, RTC_REG_B_DM), ==, cases[i].hour);
    }
    g_assert_cmphex(rtc_encode_hour(0, RTC_REG_B_24_12), ==, 0x00);
    g_assert_cmphex(rtc_encode_hour(23, RTC_REG_B_24_12), ==, 0x23);
    g_assert_cmpuint(rtc_decode_hour(0x00, 0), >, 23);   /* no hour 0 on a 12-hour clock */
    g_assert_cmpuint(rtc_decode_hour(0x13, 0), >, 23);
    g_assert_cmpuint(rtc_decode_hour(0x24, RTC_REG_B_24_12), >, 23);
}

static void test_encode_time(void)
{
    struct tm tm = leap_day();
    uint8_t cmos[RTC_CMOS_SIZE] = { 0 };

    rtc_encode_time(&tm, RTC_REG_B_24_12, cmos);
    g_assert_cmphex(cmos[RTC_SECONDS], ==, 0x09);
    g_assert_cmphex(cmos[RTC_MINUTES], ==, 0x05);
    g_assert_cmphex(cmos[RTC_HOURS], ==, 0x13);
    g_assert_cmphex(cmos[RTC_DAY_OF_WEEK], ==, 5);   /* Sunday is 1 */
    g_assert_cmphex(cmos[RTC_DATE_OF_MONTH], ==, 0x29);
    g_assert_cmphex(cmos[RTC_MONTH], ==, 0x02);
    g_assert_cmphex(cmos[RTC_YEAR], ==, 0x24);
    g_assert_cmphex(cmos[RTC_CENTURY], ==, 0x20);
    g_assert_cmphex(cmos[RTC_SECONDS_ALARM], ==, 0);

    rtc_encode_time(&tm, RTC_REG_B_DM, cmos);
    g_assert_cmphex(cmos[RTC_HOURS], ==, 0x81);      /* 1 PM, binary */
    g_assert_cmphex(cmos[RTC_DATE_OF_MONTH], ==, 29);
    g_assert_cmphex(cmos[RTC_YEAR], ==, 24);
    g_assert_cmphex(cmos[RTC_CENTURY], ==, 20);
}

static void test_decode_time(void)
{
    struct tm in = leap_day(), out;
    uint8_t cmos[RTC_CMOS_SIZE] = { 0 };

    rtc_encode_time(&in, 0, cmos);
    rtc_decode_time(cmos, 0, &out);
    g_assert_cmpint(timegm(&out), ==, timegm(&in));

    memset(cmos, 0xff, sizeof(cmos));   /* garbage from a guest must still give a valid time */
    rtc_decode_time(cmos, 0, &out);
    g_assert_cmpint(out.tm_sec, ==, 59);
    g_assert_cmpint(out.tm_min, ==, 59);
    g_assert_cmpint(out.tm_hour, ==, 23);
    g_assert_cmpint(out.tm_mday, ==, 31);
    g_assert_cmpint(out.tm_mon, ==, 11);
    g_assert_cmpint(out.tm_year, ==, 9999 - 1900);
}

static void test_periodic_rate(void)
{
    g_assert_cmpuint(rtc_periodic_cycles(0x20), ==, 0);
    g_assert_cmpuint(rtc_periodic_cycles(0x21), ==, 128);   /* 256 Hz, like rate 8 */
    g_assert_cmpuint(rtc_periodic_cycles(0x22), ==, 256);   /* 128 Hz, like rate 9 */
    g_assert_cmpuint(rtc_periodic_cycles(0x23), ==, 4);     /* 8192 Hz */
    g_assert_cmpuint(rtc_periodic_cycles(0x26), ==, 32);    /* 1024 Hz */
    g_assert_cmpuint(rtc_periodic_cycles(0x28), ==, 128);
    g_assert_cmpuint(rtc_periodic_cycles(0x2f), ==, 16384); /* 2 Hz */
}

static void test_alarm_next(void)
{
    uint8_t cmos[RTC_CMOS_SIZE] = { 0 };

    cmos[RTC_HOURS_ALARM] = 0x00;
    cmos[RTC_MINUTES_ALARM] = 0x00;
    cmos[RTC_SECONDS_ALARM] = 0x10;
    g_assert_cmpint(rtc_alarm_next(cmos, RTC_REG_B_24_12, 5), ==, 5);
    g_assert_cmpint(rtc_alarm_next(cmos, RTC_REG_B_24_12, 10), ==, 86400);
    g_assert_cmpint(rtc_alarm_next(cmos, RTC_REG_B_24_12, 86399), ==, 11);

    cmos[RTC_HOURS_ALARM] = RTC_ALARM_DONT_CARE;     /* every hour at mm:ss = 00:10 */
    g_assert_cmpint(rtc_alarm_next(cmos, RTC_REG_B_24_12, 3600 + 11), ==, 3599);

    cmos[RTC_HOURS_ALARM] = cmos[RTC_MINUTES_ALARM] = cmos[RTC_SECONDS_ALARM] = 0xff;
    g_assert_cmpint(rtc_alarm_next(cmos, RTC_REG_B_24_12, 1234), ==, 1);

    cmos[RTC_HOURS_ALARM] = 0x92;                    /* 12 PM in 12-hour mode */
    cmos[RTC_MINUTES_ALARM] = cmos[RTC_SECONDS_ALARM] = 0;
    g_assert_cmpint(rtc_alarm_next(cmos, 0, 0), ==, 12 * 3600);

    cmos[RTC_SECONDS_ALARM] = 0x60;                  /* never matches */
    g_assert_cmpint(rtc_alarm_next(cmos, 0, 0), ==, -1);
}

static uint8_t rtc_read(uint8_t reg)
{
    outb(RTC_INDEX, reg);
    return inb(RTC_DATA);
}

static void rtc_write(uint8_t reg, uint8_t val)
{
    outb(RTC_INDEX, reg);
    outb(RTC_DATA, val);
}

/* A fresh RTC whose update boundaries fall on whole seconds of fake_ns. */
static void rtc_setup(void)
{
    fake_ns = 1000 * NS_PER_SEC;
    rtc_init(RTC_ISA_IRQ);
}

/* Stop the clock, write 2024-02-29 23:59:58 in BCD, 24-hour mode, and start it again. */
static void rtc_set_leap_midnight(void)
{
    rtc_write(RTC_REG_B, RTC_REG_B_SET | RTC_REG_B_24_12);
    rtc_write(RTC_SECONDS, 0x58);
    rtc_write(RTC_MINUTES, 0x59);
    rtc_write(RTC_HOURS, 0x23);
    rtc_write(RTC_DATE_OF_MONTH, 0x29);
    rtc_write(RTC_MONTH, 0x02);
    rtc_write(RTC_YEAR, 0x24);
    rtc_write(RTC_CENTURY, 0x20);
    rtc_write(RTC_REG_B, RTC_REG_B_24_12);
}

static void test_rtc_defaults(void)
{
    rtc_setup();
    g_assert_cmphex(rtc_read(RTC_REG_A), ==, 0x26);
    g_assert_cmphex(rtc_read(RTC_REG_B), ==, 0x02);
    g_assert_cmphex(rtc_read(RTC_REG_C), ==, 0x00);
    g_assert_cmphex(rtc_read(RTC_REG_D), ==, 0x80);
    rtc_write(RTC_REG_D, 0x00);
    g_assert_cmphex(rtc_read(RTC_REG_D), ==, 0x80);
    rtc_write(0x40, 0xa5);                      /* plain NVRAM */
    outb(RTC_INDEX, 0x80 | 0x40);               /* the NMI mask bit is not part of the index */
    g_assert_cmphex(inb(RTC_DATA), ==, 0xa5);
}

static void test_rtc_time_advances(void)
{
    rtc_setup();
    rtc_set_leap_midnight();
    g_assert_cmphex(rtc_read(RTC_SECONDS), ==, 0x58);
    fake_ns += NS_PER_SEC;
    g_assert_cmphex(rtc_read(RTC_SECONDS), ==, 0x59);
    fake_ns += NS_PER_SEC;
    g_assert_cmphex(rtc_read(RTC_SECONDS), ==, 0x00);
    g_assert_cmphex(rtc_read(RTC_HOURS), ==, 0x00);
    g_assert_cmphex(rtc_read(RTC_DATE_OF_MONTH), ==, 0x01);
    g_assert_cmphex(rtc_read(RTC_MONTH), ==, 0x03);
    g_assert_cmphex(rtc_read(RTC_DAY_OF_WEEK), ==, 6);   /* Friday */

    rtc_write(RTC_REG_B, RTC_REG_B_DM);                   /* binary, 12-hour */
    g_assert_cmphex(rtc_read(RTC_HOURS), ==, 12);        /* 12 AM */
    g_assert_cmphex(rtc_read(RTC_YEAR), ==, 24);

    rtc_write(RTC_REG_B, RTC_REG_B_SET | RTC_REG_B_DM);  /* SET freezes the clock */
    fake_ns += 5 * NS_PER_SEC;
    g_assert_cmphex(rtc_read(RTC_SECONDS), ==, 0);
    g_assert_cmphex(rtc_read(RTC_REG_A) & RTC_REG_A_UIP, ==, 0);
}

/* Writing a time byte while the clock runs moves the clock; the second keeps its phase. */
static void test_rtc_write_running(void)
{
    rtc_setup();
    rtc_set_leap_midnight();
    fake_ns += NS_PER_SEC / 2;
    rtc_write(RTC_MINUTES, 0x30);
    g_assert_cmphex(rtc_read(RTC_MINUTES), ==, 0x30);
    g_assert_cmphex(rtc_read(RTC_SECONDS), ==, 0x58);
    fake_ns += NS_PER_SEC / 2;
    g_assert_cmphex(rtc_read(RTC_SECONDS), ==, 0x59);
    g_assert_cmphex(rtc_read(RTC_HOURS), ==, 0x23);
}

/* DV = 11x holds the divider in reset; the first update comes 500 ms after it is released. */
static void test_rtc_divider_reset(void)
{
    rtc_setup();
    rtc_set_leap_midnight();
    fake_ns += NS_PER_SEC / 4;
    rtc_write(RTC_REG_A, 0x70 | 0x06);
    fake_ns += 10 * NS_PER_SEC;
    g_assert_cmphex(rtc_read(RTC_SECONDS), ==, 0x58);
    rtc_write(RTC_REG_A, 0x26);
    fake_ns += NS_PER_SEC / 2 - 1;
    g_assert_cmphex(rtc_read(RTC_SECONDS), ==, 0x58);
    fake_ns += 1;
    g_assert_cmphex(rtc_read(RTC_SECONDS), ==, 0x59);
}

static void test_rtc_uip(void)
{
    rtc_setup();
    fake_ns += NS_PER_SEC / 2;
    g_assert_cmphex(rtc_read(RTC_REG_A), ==, 0x26);
    fake_ns += NS_PER_SEC / 2 - 300000;                  /* UIP rises 244 us before */
    g_assert_cmphex(rtc_read(RTC_REG_A), ==, 0x26);
    fake_ns += 200000;
    g_assert_cmphex(rtc_read(RTC_REG_A), ==, 0x80 | 0x26);
    fake_ns += 100000;
    g_assert_cmphex(rtc_read(RTC_REG_A), ==, 0x26);
}

/* Near the end of CLOCK_VIRTUAL (qtest's clock_set can go there) no deadline wraps into the
 * past: the UIE and PIE timers stay ahead of the clock or are not armed at all. */
static void test_rtc_end_of_time(void)
{
    int64_t deadline;

    fake_ns = 0; /* the divider's origin is then half a second before 0 */
    rtc_init(RTC_ISA_IRQ);
    fake_ns = INT64_MAX - NS_PER_SEC / 4;
    rtc_write(RTC_REG_A, RTC_REG_A_DV_32KHZ | 6);
    rtc_read(RTC_REG_C); /* the updates so far, acknowledged: the IRQ line stays low */
    rtc_write(RTC_REG_B, RTC_REG_B_24_12 | RTC_REG_B_UIE | RTC_REG_B_PIE);
    deadline = clock_virtual_deadline();
    g_assert_true(deadline == -1 || deadline >= fake_ns);
    rtc_read(RTC_SECONDS);
    fake_ns = INT64_MAX;
    clock_run_virtual_timers();
    deadline = clock_virtual_deadline();
    g_assert_true(deadline == -1 || deadline >= fake_ns);
    rtc_write(RTC_REG_B, RTC_REG_B_24_12);
    rtc_read(RTC_REG_C);
}

static void test_rtc_periodic(void)
{
    int64_t t0;

    rtc_setup();
    fake_ns += 10 * NS_PER_SEC;                          /* on a tick of every rate */
    t0 = fake_ns;
    /* PF rises with PIE off; AF too if the host clock passed midnight, the alarm's 00:00:00 */
    g_assert_cmphex(rtc_read(RTC_REG_C) & ~RTC_REG_C_AF, ==, RTC_REG_C_PF | RTC_REG_C_UF);
    rtc_write(RTC_REG_B, RTC_REG_B_PIE | RTC_REG_B_24_12);
    g_assert_cmphex(rtc_read(RTC_REG_C), ==, 0x00);
    g_assert_cmpint(clock_virtual_deadline(), ==, t0 + 976563);   /* 1024 Hz, rounded up */

    fake_ns = t0 + 900000;
    clock_run_virtual_timers();
    g_assert_false(irq_levels[RTC_ISA_IRQ]);
    fake_ns = t0 + 976563;
    clock_run_virtual_timers();
    g_assert_true(irq_levels[RTC_ISA_IRQ]);
    g_assert_cmpint(clock_virtual_deadline(), ==, -1);   /* nothing to do until C is read */
    g_assert_cmphex(rtc_read(RTC_REG_C), ==, RTC_REG_C_IRQF | RTC_REG_C_PF);
    g_assert_false(irq_levels[RTC_ISA_IRQ]);
    g_assert_cmphex(rtc_read(RTC_REG_C), ==, 0x00);
    g_assert_cmpint(clock_virtual_deadline(), ==, t0 + 1953125);

    rtc_write(RTC_REG_A, 0x20);                          /* rate 0 stops it */
    g_assert_cmpint(clock_virtual_deadline(), ==, -1);
    fake_ns += NS_PER_SEC / 4;
    g_assert_cmphex(rtc_read(RTC_REG_C), ==, 0x00);
}

static void test_rtc_update_and_alarm(void)
{
    int64_t t0;

    rtc_setup();
    rtc_set_leap_midnight();
    t0 = fake_ns;
    rtc_read(RTC_REG_C);
    rtc_write(RTC_HOURS_ALARM, 0xff);
    rtc_write(RTC_MINUTES_ALARM, 0xff);
    rtc_write(RTC_SECONDS_ALARM, 0x00);
    rtc_write(RTC_REG_B, RTC_REG_B_AIE | RTC_REG_B_24_12);
    g_assert_cmpint(clock_virtual_deadline(), ==, t0 + 2 * NS_PER_SEC);

    fake_ns = t0 + NS_PER_SEC;                           /* 23:59:59: an update, no alarm */
    g_assert_cmphex(rtc_read(RTC_REG_C), ==, RTC_REG_C_PF | RTC_REG_C_UF);
    fake_ns = t0 + 2 * NS_PER_SEC;
    clock_run_virtual_timers();
    g_assert_true(irq_levels[RTC_ISA_IRQ]);
    g_assert_cmphex(rtc_read(RTC_REG_C), ==,
                    RTC_REG_C_IRQF | RTC_REG_C_PF | RTC_REG_C_AF | RTC_REG_C_UF);

    rtc_write(RTC_REG_B, RTC_REG_B_UIE | RTC_REG_B_24_12);
    g_assert_cmpint(clock_virtual_deadline(), ==, t0 + 3 * NS_PER_SEC);
    rtc_write(RTC_REG_B, RTC_REG_B_SET | RTC_REG_B_UIE | RTC_REG_B_24_12);
    g_assert_cmphex(rtc_read(RTC_REG_B), ==, RTC_REG_B_SET | RTC_REG_B_24_12);
}

static void test_rtc_reset(void)
{
    rtc_setup();
    rtc_write(RTC_REG_B, RTC_REG_B_PIE | RTC_REG_B_UIE | RTC_REG_B_DM | RTC_REG_B_24_12);
    fake_ns += NS_PER_SEC;
    clock_run_virtual_timers();
    g_assert_true(irq_levels[RTC_ISA_IRQ]);
    machine_run_reset_handlers();
    g_assert_false(irq_levels[RTC_ISA_IRQ]);
    g_assert_cmphex(rtc_read(RTC_REG_B), ==, RTC_REG_B_DM | RTC_REG_B_24_12);
    g_assert_cmphex(rtc_read(RTC_REG_C), ==, 0x00);
}

static void test_serial_detect(void)
{
    serial_init(COM1, SERIAL_COM1_IRQ, NULL);
    g_assert_cmphex(inb(COM1 + UART_IIR), ==, 0x01);
    g_assert_cmphex(inb(COM1 + UART_LSR) & 0x60, ==, 0x60);
    outb(COM1 + UART_IER, 0x02);
    g_assert_cmphex(inb(COM1 + UART_IER), ==, 0x02);
    g_assert_cmphex(inb(COM1 + UART_IIR) & 0x3f, ==, 0x02);
    g_assert_cmphex(inb(COM1 + UART_IIR) & 0x3f, ==, 0x01);   /* acknowledged by reading */
    outb(COM1 + UART_IER, 0xff);
    g_assert_cmphex(inb(COM1 + UART_IER), ==, 0x0f);
    outb(COM1 + UART_IER, 0x00);

    outb(COM1 + UART_LCR, 0x83);                               /* DLAB */
    outb(COM1 + UART_DLL, 0x01);
    outb(COM1 + UART_DLM, 0x00);
    g_assert_cmphex(inb(COM1 + UART_DLL), ==, 0x01);
    outb(COM1 + UART_LCR, 0x03);
    g_assert_cmphex(inb(COM1 + UART_IER), ==, 0x00);
    g_assert_cmphex(inb(COM1 + UART_LCR), ==, 0x03);
}

static void test_serial_loopback(void)
{
    serial_init(COM1, SERIAL_COM1_IRQ, NULL);
    g_assert_cmphex(inb(COM1 + UART_MSR), ==, 0xb0);          /* CTS, DSR, DCD */
    outb(COM1 + UART_MCR, 0x10 | 0x02);                        /* LOOP, RTS */
    g_assert_cmphex(inb(COM1 + UART_MSR), ==, 0x10 | 0x0a);   /* CTS; DDSR, DDCD fell */
    g_assert_cmphex(inb(COM1 + UART_MSR), ==, 0x10);

    outb(COM1 + UART_THR, 'A');
    g_assert_cmphex(inb(COM1 + UART_LSR), ==, 0x61);
    g_assert_cmphex(inb(COM1 + UART_RBR), ==, 'A');
    g_assert_cmphex(inb(COM1 + UART_LSR), ==, 0x60);

    outb(COM1 + UART_THR, 'B');                                /* no FIFO: one byte holds */
    outb(COM1 + UART_THR, 'C');
    g_assert_cmphex(inb(COM1 + UART_LSR), ==, 0x63);          /* DR and OE */
    g_assert_cmphex(inb(COM1 + UART_LSR), ==, 0x61);          /* OE clears on read */
    g_assert_cmphex(inb(COM1 + UART_RBR), ==, 'B');
}

static void test_serial_irq(void)
{
    irq_levels[SERIAL_COM1_IRQ] = false;
    serial_init(COM1, SERIAL_COM1_IRQ, NULL);
    outb(COM1 + UART_MCR, 0x10);                               /* LOOP, OUT2 low */
    outb(COM1 + UART_IER, 0x01);
    outb(COM1 + UART_THR, 'x');
    g_assert_cmphex(inb(COM1 + UART_IIR), ==, 0x04);
    g_assert_false(irq_levels[SERIAL_COM1_IRQ]);               /* gated by OUT2 */
    outb(COM1 + UART_MCR, 0x18);
    g_assert_true(irq_levels[SERIAL_COM1_IRQ]);
    inb(COM1 + UART_RBR);
    g_assert_false(irq_levels[SERIAL_COM1_IRQ]);

    outb(COM1 + UART_FCR, 0xc7);                               /* FIFO, trigger 14 */
    for (char c = 'a'; c < 'd'; c++) {
        outb(COM1 + UART_THR, c);
    }
    g_assert_cmphex(inb(COM1 + UART_IIR), ==, 0xcc);          /* below trigger: timeout */
    g_assert_cmphex(inb(COM1 + UART_RBR), ==, 'a');
    g_assert_cmphex(inb(COM1 + UART_RBR), ==, 'b');
    g_assert_cmphex(inb(COM1 + UART_RBR), ==, 'c');
    g_assert_cmphex(inb(COM1 + UART_IIR), ==, 0xc1);
    g_assert_false(irq_levels[SERIAL_COM1_IRQ]);

    outb(COM1 + UART_IER, 0x03);                               /* THRE interrupt per byte */
    g_assert_true(irq_levels[SERIAL_COM1_IRQ]);
    inb(COM1 + UART_IIR);
    inb(COM1 + UART_IIR);
    g_assert_false(irq_levels[SERIAL_COM1_IRQ]);
    machine_run_reset_handlers();
    g_assert_cmphex(inb(COM1 + UART_IIR), ==, 0x01);
    g_assert_cmphex(inb(COM1 + UART_MCR), ==, 0x00);
}

static char *read_and_remove(const char *path)
{
    char *text = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_unlink(path);
    return text;
}

static void test_chardev_output(void)
{
    g_autofree char *path = g_build_filename(g_get_tmp_dir(), "test-cmos-XXXXXX", NULL);
    g_autofree char *spec = NULL, *text = NULL;
    Chardev *chr;   /* never freed: the UART and debug console keep pointing at it */
    int fd = g_mkstemp(path);

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    spec = g_strdup_printf("file:%s", path);
    chr = chr_new_from_spec("out", spec, NULL);
    g_assert_nonnull(chr);
    debugcon_init(DEBUGCON_PORT, chr);
    serial_init(COM1, SERIAL_COM1_IRQ, chr);
    g_assert_cmphex(inb(DEBUGCON_PORT), ==, 0xe9);
    outb(DEBUGCON_PORT, 'd');
    outb(COM1 + UART_THR, 's');
    io_dispatch_write(IO_SPACE_PIO, DEBUGCON_PORT, 0x4142, 2);  /* only 'B' is the port's */
    text = read_and_remove(path);
    g_assert_cmpstr(text, ==, "dsB");
}

static void test_port92(void)
{
    port92_init();
    g_assert_cmphex(inb(PORT92_PORT), ==, 0x00);
    outb(PORT92_PORT, 0x02);                                   /* A20 bit: stored only */
    g_assert_cmphex(inb(PORT92_PORT), ==, 0x02);
}

static uint8_t kbc_read(void)
{
    g_assert_cmphex(inb(I8042_COMMAND_PORT) & 0x01, ==, 0x01);
    return inb(I8042_DATA_PORT);
}

static void kbc_command(uint8_t cmd)
{
    g_assert_cmphex(inb(I8042_COMMAND_PORT) & 0x02, ==, 0);     /* IBF clear */
    outb(I8042_COMMAND_PORT, cmd);
}

static void test_i8042_selftest(void)
{
    i8042_init(I8042_KBD_IRQ, I8042_AUX_IRQ);
    g_assert_cmphex(inb(I8042_COMMAND_PORT) & 0x05, ==, 0x00);  /* empty, SYS clear */
    kbc_command(0xaa);
    g_assert_cmphex(kbc_read(), ==, 0x55);
    g_assert_cmphex(inb(I8042_COMMAND_PORT) & 0x05, ==, 0x04);  /* empty, SYS set */
    kbc_command(0xab);
    g_assert_cmphex(kbc_read(), ==, 0x00);
    kbc_command(0xa9);
    g_assert_cmphex(kbc_read(), ==, 0x00);
    g_assert_cmphex(inb(I8042_COMMAND_PORT) & 0x01, ==, 0x00);

    kbc_command(0x60);
    outb(I8042_DATA_PORT, 0x30);                                 /* both ports off, no IRQ */
    kbc_command(0x20);
    g_assert_cmphex(kbc_read(), ==, 0x30);
    g_assert_cmphex(inb(I8042_COMMAND_PORT) & 0x04, ==, 0x00);  /* SYS follows the byte */
}

static void test_i8042_keyboard(void)
{
    i8042_init(I8042_KBD_IRQ, I8042_AUX_IRQ);
    irq_rises[I8042_KBD_IRQ] = 0;
    kbc_command(0xad);
    outb(I8042_DATA_PORT, 0xff);                                 /* re-enables the keyboard */
    g_assert_cmphex(kbc_read(), ==, 0xfa);
    g_assert_cmphex(kbc_read(), ==, 0xaa);
    g_assert_cmpuint(irq_rises[I8042_KBD_IRQ], ==, 2);           /* an edge per byte */
    g_assert_false(irq_levels[I8042_KBD_IRQ]);

    outb(I8042_DATA_PORT, 0xf2);
    g_assert_cmphex(kbc_read(), ==, 0xfa);
    g_assert_cmphex(kbc_read(), ==, 0xab);
    g_assert_cmphex(kbc_read(), ==, 0x83);
    outb(I8042_DATA_PORT, 0xed);
    g_assert_cmphex(kbc_read(), ==, 0xfa);
    outb(I8042_DATA_PORT, 0x07);                                 /* LED argument */
    g_assert_cmphex(kbc_read(), ==, 0xfa);
    outb(I8042_DATA_PORT, 0xf0);
    outb(I8042_DATA_PORT, 0x00);                                 /* which scan code set? */
    g_assert_cmphex(kbc_read(), ==, 0xfa);
    g_assert_cmphex(kbc_read(), ==, 0xfa);
    g_assert_cmphex(kbc_read(), ==, 0x02);
    outb(I8042_DATA_PORT, 0x42);                                 /* not a command */
    g_assert_cmphex(kbc_read(), ==, 0xfe);
    g_assert_cmphex(inb(I8042_COMMAND_PORT) & 0x21, ==, 0x00);
}

static void test_i8042_aux(void)
{
    i8042_init(I8042_KBD_IRQ, I8042_AUX_IRQ);
    irq_rises[I8042_AUX_IRQ] = 0;
    kbc_command(0xd4);
    outb(I8042_DATA_PORT, 0xff);
    g_assert_cmphex(inb(I8042_COMMAND_PORT) & 0x21, ==, 0x21);  /* mouse data waiting */
    g_assert_cmphex(kbc_read(), ==, 0xfa);
    g_assert_cmphex(kbc_read(), ==, 0xaa);
    g_assert_cmphex(kbc_read(), ==, 0x00);
    g_assert_cmpuint(irq_rises[I8042_AUX_IRQ], ==, 3);

    kbc_command(0xa7);                                           /* held while disabled */
    kbc_command(0xd4);
    outb(I8042_DATA_PORT, 0xf2);
    g_assert_cmphex(inb(I8042_COMMAND_PORT) & 0x01, ==, 0x00);
    kbc_command(0xa8);
    g_assert_cmphex(kbc_read(), ==, 0xfa);
    g_assert_cmphex(kbc_read(), ==, 0x00);

    kbc_command(0xd3);                                           /* write aux output buffer */
    outb(I8042_DATA_PORT, 0x5a);
    g_assert_cmphex(inb(I8042_COMMAND_PORT) & 0x21, ==, 0x21);
    g_assert_cmphex(kbc_read(), ==, 0x5a);
}

/* A guest that never reads gets the buffer plus a 16-byte queue, not a growing heap. */
static void test_i8042_queue_bounded(void)
{
    unsigned n = 0;

    i8042_init(I8042_KBD_IRQ, I8042_AUX_IRQ);
    for (int i = 0; i < 1000; i++) {
        kbc_command(0xaa);
    }
    for (; n < 1000 && (inb(I8042_COMMAND_PORT) & 0x01); n++) {
        g_assert_cmphex(inb(I8042_DATA_PORT), ==, 0x55);
    }
    g_assert_cmpuint(n, ==, 17);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    clock_set_virtual_source(fake_clock);
    irq_set_observer(watch_irq);
    g_test_add_func("/cmos/bcd", test_bcd);
    g_test_add_func("/cmos/hours-12h", test_hours_12h);
    g_test_add_func("/cmos/encode-time", test_encode_time);
    g_test_add_func("/cmos/decode-time", test_decode_time);
    g_test_add_func("/cmos/periodic-rate", test_periodic_rate);
    g_test_add_func("/cmos/alarm-next", test_alarm_next);
    g_test_add_func("/cmos/rtc/defaults", test_rtc_defaults);
    g_test_add_func("/cmos/rtc/time-advances", test_rtc_time_advances);
    g_test_add_func("/cmos/rtc/write-running", test_rtc_write_running);
    g_test_add_func("/cmos/rtc/divider-reset", test_rtc_divider_reset);
    g_test_add_func("/cmos/rtc/uip", test_rtc_uip);
    g_test_add_func("/cmos/rtc/periodic", test_rtc_periodic);
    g_test_add_func("/cmos/rtc/update-and-alarm", test_rtc_update_and_alarm);
    g_test_add_func("/cmos/rtc/reset", test_rtc_reset);
    g_test_add_func("/cmos/rtc/end-of-time", test_rtc_end_of_time);
    g_test_add_func("/cmos/serial/detect", test_serial_detect);
    g_test_add_func("/cmos/serial/loopback", test_serial_loopback);
    g_test_add_func("/cmos/serial/irq", test_serial_irq);
    g_test_add_func("/cmos/chardev-output", test_chardev_output);
    g_test_add_func("/cmos/port92", test_port92);
    g_test_add_func("/cmos/i8042/self-test", test_i8042_selftest);
    g_test_add_func("/cmos/i8042/keyboard", test_i8042_keyboard);
    g_test_add_func("/cmos/i8042/aux", test_i8042_aux);
    g_test_add_func("/cmos/i8042/queue-bounded", test_i8042_queue_bounded);
    return g_test_run();
}
