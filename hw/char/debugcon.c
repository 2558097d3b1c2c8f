/*
 * ISA debug console: every byte written to the port goes to the chardev, and reading the
 * port returns 0xe9, the value firmware checks (SeaBIOS disables its log otherwise). It is
 * output only: no input, no interrupt, nothing to reset.
 */
#include <glib.h>
#include "hw/debugcon.h"
#include "hw/ioport.h"

#define DEBUGCON_READBACK 0xe9

typedef struct DebugconState {
    Chardev *chr;
} DebugconState;

static uint64_t debugcon_io_read(void *opaque, uint64_t addr, unsigned size)
{
    return DEBUGCON_READBACK;
}

/* The port is one byte wide: only the low byte of a wider write is the character. */
static void debugcon_io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    DebugconState *s = opaque;
    uint8_t ch = val;

    if (s->chr) {
        chr_write(s->chr, &ch, 1);
    }
}

static const IOOps debugcon_io_ops = {
    .read = debugcon_io_read,
    .write = debugcon_io_write,
};

void debugcon_init(uint16_t port, Chardev *chr)
{
    DebugconState *s = g_new0(DebugconState, 1);

    s->chr = chr;
    portio_add(port, 1, &debugcon_io_ops, s, "debugcon");
}
