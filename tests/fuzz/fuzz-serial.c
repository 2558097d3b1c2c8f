/* COM1's 16550A registers (0x3f8-0x3ff): divisor latch, FIFO control, loopback and the
 * interrupt identification logic. Output goes to a null chardev, which never sends input. */
#include <glib.h>
#include "harness.h"

static const FuzzPortRange serial_ports[] = {{0x3f8, 8}};

static const FuzzDevice serial_fuzz = {
    .ports = serial_ports,
    .nports = G_N_ELEMENTS(serial_ports),
};

FUZZ_DEVICE_TARGET(serial_fuzz)
