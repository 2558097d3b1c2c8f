/*
 * Scenario `clock`: calibrate the TSC over 100 ms of PM timer (RESULT tsc_mhz), then time a
 * 50 ms PIT channel 2 one-shot with it (RESULT pit_50ms_us); both must be plausible.
 */
#include "guest.h"

#define PIT_HZ 1193182u
#define PIT_50MS (PIT_HZ / 20)

static int clock_run(int argc, char **argv)
{
    uint64_t hz = clock_calibrate(100);
    report_result("tsc_mhz", hz / 1000000, "MHz");
    uint64_t us = pit_gate_measure_tsc(PIT_50MS) * 1000000 / hz;
    report_result("pit_50ms_us", us, "us");
    if (hz < 100000000ull || hz > 10000000000ull) {
        report_fail("TSC frequency %lu Hz out of range", hz);
        return -1;
    }
    if (us < 45000 || us > 80000) {
        report_fail("PIT 50 ms one-shot took %lu us by the TSC", us);
        return -1;
    }
    return 0;
}

SCENARIO(clock, clock_run);
