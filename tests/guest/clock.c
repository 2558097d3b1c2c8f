/*
 * A monotonic clock from the TSC, calibrated against the ACPI PM timer; and a PIT channel 2
 * one-shot (gated through port 0x61) as an independent check of the calibration.
 */
#include "guest.h"
#include "io.h"

enum {
    PIT_CH2 = 0x42,
    PIT_MODE = 0x43,
    PIT_CH2_ONESHOT = 0xb0,     /* channel 2, lobyte/hibyte, mode 0, binary */
    PORT_61 = 0x61,
    PORT_61_GATE2 = 0x01,
    PORT_61_SPEAKER = 0x02,
    PORT_61_OUT2 = 0x20,
};

static uint64_t tsc_khz;

uint64_t clock_calibrate(uint32_t ms)
{
    uint32_t ticks = (uint64_t)PM_TIMER_HZ * ms / 1000, elapsed;
    uint32_t t0 = acpi_pm_timer();
    uint64_t tsc0 = rdtsc();
    do {
        elapsed = (acpi_pm_timer() - t0) & 0xffffff;
    } while (elapsed < ticks);
    uint64_t hz = (rdtsc() - tsc0) * PM_TIMER_HZ / elapsed;
    tsc_khz = hz / 1000;
    return hz;
}

uint64_t clock_ns(void)
{
    if (!tsc_khz) {
        clock_calibrate(10);
    }
    uint64_t t = rdtsc();
    return t / tsc_khz * 1000000 + t % tsc_khz * 1000000 / tsc_khz;
}

void clock_delay_us(uint64_t us)
{
    uint64_t end = clock_ns() + us * 1000;
    while (clock_ns() < end) {
    }
}

uint64_t pit_gate_measure_tsc(uint16_t count)
{
    outb(PORT_61, (inb(PORT_61) & ~(PORT_61_GATE2 | PORT_61_SPEAKER)));
    outb(PIT_MODE, PIT_CH2_ONESHOT);
    outb(PIT_CH2, count & 0xff);
    outb(PIT_CH2, count >> 8);
    uint64_t tsc0 = rdtsc();
    outb(PORT_61, (inb(PORT_61) & ~PORT_61_SPEAKER) | PORT_61_GATE2);
    while (!(inb(PORT_61) & PORT_61_OUT2)) {
    }
    return rdtsc() - tsc0;
}
