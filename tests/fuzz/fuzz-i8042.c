/* The 8042 keyboard controller (data 0x60, command/status 0x64) with its PS/2 keyboard and
 * mouse, and port 0x92; both can request a system reset, which the harness runs after the
 * input. */
#include <glib.h>
#include "harness.h"

static const FuzzPortRange i8042_ports[] = {{0x60, 1}, {0x64, 1}, {0x92, 1}};

static const FuzzDevice i8042_fuzz = {
    .ports = i8042_ports,
    .nports = G_N_ELEMENTS(i8042_ports),
};

FUZZ_DEVICE_TARGET(i8042_fuzz)
