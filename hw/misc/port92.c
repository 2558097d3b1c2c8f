/*
 * System Control Port A at 0x92. Reading returns the last value written; setting ALT_RST
 * (bit 0) where it was clear requests a system reset, so a guest must clear it before it can
 * reset again. ALT_A20_GATE (bit 1) is stored but A20 is not emulated: KVM has no A20 mask,
 * so the line is always enabled, which is what every OS since DOS asks for anyway. Not the
 * keyboard controller's A20 control (hw/input/i8042.c), which is equally a no-op.
 */
#include <glib.h>
#include "hw/ioport.h"
#include "hw/machine.h"
#include "hw/port92.h"

enum {
    PORT92_ALT_RST = 0x01,
    PORT92_ALT_A20_GATE = 0x02,
};

typedef struct Port92State {
    uint8_t val;
} Port92State;

static uint64_t port92_io_read(void *opaque, uint64_t addr, unsigned size)
{
    Port92State *s = opaque;

    return s->val;
}

static void port92_io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    Port92State *s = opaque;
    uint8_t old = s->val;

    s->val = val;
    if ((s->val & ~old) & PORT92_ALT_RST) {
        machine_request_reset();
    }
}

static const IOOps port92_io_ops = {
    .read = port92_io_read,
    .write = port92_io_write,
};

/* A system reset clears the register (its power-on value is 00h). */
static void port92_reset(void *opaque)
{
    Port92State *s = opaque;

    s->val = 0;
}

void port92_init(void)
{
    Port92State *s = g_new0(Port92State, 1);

    portio_add(PORT92_PORT, 1, &port92_io_ops, s, "port92");
    machine_register_reset(port92_reset, s);
}
