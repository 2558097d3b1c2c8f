/*
 * The MC146818 RTC and CMOS at 0x70/0x71: the time set through the SET bit advances with
 * the qtest clock, the NVRAM bytes the board fills for memory and CPUs, and the periodic
 * interrupt on IRQ 8 (raised at the rate register A selects, lowered by reading C).
 * Clock checks need minivmm's qtest accelerator; against QEMU they are skipped.
 */
#include "libqtest.h"

#define RTC_INDEX 0x70
#define RTC_DATA 0x71

enum {
    RTC_SECONDS = 0x00,
    RTC_MINUTES = 0x02,
    RTC_HOURS = 0x04,
    RTC_REG_A = 0x0a,
    RTC_REG_B = 0x0b,
    RTC_REG_C = 0x0c,
    RTC_REG_D = 0x0d,
};

enum {
    REG_A_UIP = 0x80,
    REG_A_DV_32KHZ = 0x20,
    REG_B_SET = 0x80,
    REG_B_PIE = 0x40,
    REG_B_24H = 0x02,
    REG_C_IRQF = 0x80,
    REG_C_PF = 0x40,
    REG_D_VRT = 0x80,
};

#define RTC_IRQ 8
#define NS_PER_SEC 1000000000LL

static uint8_t cmos_read(QTestState *qts, uint8_t reg)
{
    qtest_outb(qts, RTC_INDEX, reg);
    return qtest_inb(qts, RTC_DATA);
}

static void cmos_write(QTestState *qts, uint8_t reg, uint8_t val)
{
    qtest_outb(qts, RTC_INDEX, reg);
    qtest_outb(qts, RTC_DATA, val);
}

static void test_reset_state(void)
{
    QTestState *qts = qtest_init("-m 128");

    g_assert_cmphex(cmos_read(qts, RTC_REG_A) & ~REG_A_UIP, ==, 0x26);
    g_assert_cmphex(cmos_read(qts, RTC_REG_B), ==, REG_B_24H);
    g_assert_cmphex(cmos_read(qts, RTC_REG_D), ==, REG_D_VRT);
    qtest_quit(qts);
}

static void test_time_advances(void)
{
    QTestState *qts;
    uint8_t b;

    if (!qtest_has_clock(NULL)) {
        g_test_skip("no qtest clock");
        return;
    }
    qts = qtest_init("-m 128");
    b = cmos_read(qts, RTC_REG_B);
    cmos_write(qts, RTC_REG_B, b | REG_B_SET);
    cmos_write(qts, RTC_HOURS, 0x12);
    cmos_write(qts, RTC_MINUTES, 0x34);
    cmos_write(qts, RTC_SECONDS, 0x56);
    cmos_write(qts, RTC_REG_B, b);
    g_assert_cmphex(cmos_read(qts, RTC_SECONDS), ==, 0x56);
    qtest_clock_step(qts, NS_PER_SEC);
    g_assert_cmphex(cmos_read(qts, RTC_SECONDS), ==, 0x57);
    g_assert_cmphex(cmos_read(qts, RTC_MINUTES), ==, 0x34);
    /* Three more seconds roll the minute over. */
    qtest_clock_step(qts, 3 * NS_PER_SEC);
    g_assert_cmphex(cmos_read(qts, RTC_SECONDS), ==, 0x00);
    g_assert_cmphex(cmos_read(qts, RTC_MINUTES), ==, 0x35);
    g_assert_cmphex(cmos_read(qts, RTC_HOURS), ==, 0x12);
    qtest_quit(qts);
}

/* 5 GiB: 3 GiB below 4 GiB (the split), 2 GiB above; 4 CPUs. */
static void test_nvram(void)
{
    QTestState *qts = qtest_init("-m 5G -smp 4");

    g_assert_cmphex(cmos_read(qts, 0x5f), ==, 3);    /* CPUs - 1 */
    g_assert_cmphex(cmos_read(qts, 0x34), ==, 0x00); /* RAM above 16 MiB in 64 KiB units */
    g_assert_cmphex(cmos_read(qts, 0x35), ==, 0xbf);
    g_assert_cmphex(cmos_read(qts, 0x5b), ==, 0x00); /* RAM above 4 GiB in 64 KiB units */
    g_assert_cmphex(cmos_read(qts, 0x5c), ==, 0x80);
    g_assert_cmphex(cmos_read(qts, 0x5d), ==, 0x00);
    /* NVRAM is plain RAM. */
    cmos_write(qts, 0x50, 0xa5);
    g_assert_cmphex(cmos_read(qts, 0x50), ==, 0xa5);
    qtest_quit(qts);
}

static void test_periodic_irq(void)
{
    QTestState *qts;

    if (!qtest_has_clock(NULL)) {
        g_test_skip("no qtest clock");
        return;
    }
    qts = qtest_init("-m 128");
    qtest_irq_intercept_in(qts, "ioapic");
    /* Rate 6: 1024 Hz, a period of 976.5625 us. */
    cmos_write(qts, RTC_REG_A, REG_A_DV_32KHZ | 6);
    cmos_write(qts, RTC_REG_B, REG_B_24H | REG_B_PIE);
    g_assert_false(qtest_get_irq(qts, RTC_IRQ));
    qtest_clock_step(qts, 100000);
    g_assert_false(qtest_get_irq(qts, RTC_IRQ));
    qtest_clock_step(qts, 1000000);
    g_assert_true(qtest_get_irq(qts, RTC_IRQ));
    g_assert_cmphex(cmos_read(qts, RTC_REG_C), ==, REG_C_IRQF | REG_C_PF);
    g_assert_false(qtest_get_irq(qts, RTC_IRQ));
    g_assert_cmphex(cmos_read(qts, RTC_REG_C), ==, 0);
    /* It fires again on the next period; disabling PIE stops it. */
    qtest_clock_step(qts, 1000000);
    g_assert_true(qtest_get_irq(qts, RTC_IRQ));
    cmos_read(qts, RTC_REG_C);
    cmos_write(qts, RTC_REG_B, REG_B_24H);
    qtest_clock_step(qts, 10000000);
    g_assert_false(qtest_get_irq(qts, RTC_IRQ));
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cmos/reset-state", test_reset_state);
    g_test_add_func("/cmos/time-advances", test_time_advances);
    g_test_add_func("/cmos/nvram", test_nvram);
    g_test_add_func("/cmos/periodic-irq", test_periodic_irq);
    return g_test_run();
}
