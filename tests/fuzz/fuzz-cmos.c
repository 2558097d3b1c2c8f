/* The MC146818 RTC and CMOS (index/data at 0x70/0x71) with clock steps between accesses:
 * time keeping, the SET bit, divider resets, alarms and the periodic/update interrupts. */
#include <glib.h>
#include "harness.h"

static const FuzzPortRange cmos_ports[] = {{0x70, 2}};

static const FuzzDevice cmos_fuzz = {
    .ports = cmos_ports,
    .nports = G_N_ELEMENTS(cmos_ports),
};

FUZZ_DEVICE_TARGET(cmos_fuzz)
