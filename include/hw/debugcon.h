/*
 * The ISA debug console (QEMU's isa-debugcon): a single port whose writes go to a chardev.
 * SeaBIOS logs through it on port 0x402.
 */
#ifndef HW_DEBUGCON_H
#define HW_DEBUGCON_H

#include <stdint.h>
#include "util/chardev.h"

#define DEBUGCON_PORT 0x402

/* A debug console at `port`, writing to `chr` (NULL: output discarded). */
void debugcon_init(uint16_t port, Chardev *chr);

#endif
