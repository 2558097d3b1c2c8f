/* Scenario `wait MS`: stay up for MS milliseconds (by the TSC clock), then pass. Benchmarks
 * use it to sample the VMM process while the guest is up. */
#include "guest.h"

static int wait_run(int argc, char **argv)
{
    uint64_t ms = argc > 1 ? strtou64(argv[1], NULL) : 1000;
    clock_delay_us(ms * 1000);
    return 0;
}

SCENARIO(wait, wait_run);
