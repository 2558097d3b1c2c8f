/*
 * 8042 keyboard controller with a PS/2 keyboard and mouse behind it: enough for firmware and
 * OS drivers to test, configure and reset them, and for the guest to reset the machine through
 * the controller. Nobody types: the devices only answer commands, so there are no scan codes,
 * no typematic repeat, no mouse movement and no scan-code translation. Commands complete at
 * once, so the input buffer is never full (IBF stays 0). The A20 bit of the output port is
 * stored and ignored, as for port 0x92 (hw/misc/port92.c).
 */
#include <string.h>
#include <glib.h>
#include "hw/i8042.h"
#include "hw/ioport.h"
#include "hw/irq.h"
#include "hw/machine.h"

#define I8042_QUEUE_LEN 16
#define I8042_RAM_SIZE 32 /* controller RAM; byte 0 is the command byte */

/* Status register, command byte and output port bits. */
enum {
    I8042_STR_OBF = 0x01,
    I8042_STR_SYS = 0x04,
    I8042_STR_A2 = 0x08,      /* the last write went to the command port */
    I8042_STR_INH = 0x10,     /* 1: keyboard not inhibited by the keylock */
    I8042_STR_AUX_OBF = 0x20, /* the output buffer holds mouse data */
    I8042_CTR_KBDINT = 0x01,
    I8042_CTR_AUXINT = 0x02,
    I8042_CTR_SYS = 0x04,
    I8042_CTR_KBDDIS = 0x10,
    I8042_CTR_AUXDIS = 0x20,
    I8042_OUT_RESET = 0x01,   /* 0: the CPU is held in reset */
    I8042_OUT_KBD_OBF = 0x10,
    I8042_OUT_AUX_OBF = 0x20,
    I8042_OUT_DEFAULT = 0xcf, /* reset and A20 high, clock and data lines idle */
};

/* Controller commands, written to port 0x64, and their replies. */
enum {
    I8042_CMD_READ_RAM = 0x20,   /* 0x20-0x3f */
    I8042_CMD_WRITE_RAM = 0x60,  /* 0x60-0x7f, data byte follows */
    I8042_CMD_AUX_DISABLE = 0xa7,
    I8042_CMD_AUX_ENABLE = 0xa8,
    I8042_CMD_AUX_TEST = 0xa9,
    I8042_CMD_SELF_TEST = 0xaa,
    I8042_CMD_KBD_TEST = 0xab,
    I8042_CMD_KBD_DISABLE = 0xad,
    I8042_CMD_KBD_ENABLE = 0xae,
    I8042_CMD_READ_OUTPUT = 0xd0,
    I8042_CMD_WRITE_OUTPUT = 0xd1,
    I8042_CMD_WRITE_KBD_OBUF = 0xd2,
    I8042_CMD_WRITE_AUX_OBUF = 0xd3,
    I8042_CMD_WRITE_AUX = 0xd4,
    I8042_CMD_PULSE_OUTPUT = 0xf0, /* 0xf0-0xff: bits 3-0 clear pulse those output bits */
    I8042_SELF_TEST_OK = 0x55,
    I8042_INTERFACE_OK = 0x00,
};

/* PS/2 device commands and replies. */
enum {
    PS2_AUX_SET_RESOLUTION = 0xe8,
    PS2_AUX_STATUS_REQUEST = 0xe9,
    PS2_KBD_SET_LEDS = 0xed,
    PS2_KBD_ECHO = 0xee,
    PS2_KBD_SET_SCANCODE = 0xf0,
    PS2_CMD_GET_ID = 0xf2,
    PS2_CMD_SET_RATE = 0xf3,       /* typematic rate, or mouse sample rate */
    PS2_CMD_ENABLE = 0xf4,
    PS2_CMD_DISABLE = 0xf5,
    PS2_CMD_SET_DEFAULTS = 0xf6,
    PS2_KBD_SET3_FIRST = 0xf7,     /* 0xf7-0xfd: scan code set 3 key types */
    PS2_KBD_SET3_LAST = 0xfd,
    PS2_CMD_RESET = 0xff,
    PS2_ACK = 0xfa,
    PS2_RESEND = 0xfe,
    PS2_BAT_OK = 0xaa,
    PS2_KBD_ID0 = 0xab,
    PS2_KBD_ID1 = 0x83,
    PS2_AUX_ID = 0x00,
    PS2_AUX_STATUS_ENABLED = 0x20,
};

typedef struct I8042Byte {
    uint8_t val;
    bool aux;
} I8042Byte;

typedef struct I8042Queue {
    I8042Byte data[I8042_QUEUE_LEN];
    unsigned head, count;
} I8042Queue;

struct I8042State {
    unsigned kbd_irq, aux_irq;
    bool kbd_level, aux_level;
    uint8_t ram[I8042_RAM_SIZE];
    uint8_t outport;
    uint8_t pending;        /* controller command awaiting its data byte, or 0 */
    bool a2;
    bool obf, obuf_aux;
    uint8_t obuf;
    I8042Queue ctrl;        /* controller replies and 0xd2/0xd3 bytes: never held back */
    I8042Queue kbd, aux;    /* device replies: held while the device is disabled */
    uint8_t kbd_pending;    /* keyboard command awaiting its argument, or 0 */
    uint8_t kbd_scancode_set;
    uint8_t aux_pending;
    uint8_t aux_resolution, aux_rate;
    bool aux_enabled;
};

/* A full queue drops the byte: a guest that never reads cannot make us grow. */
static void i8042_queue_push(I8042Queue *q, uint8_t val, bool aux)
{
    if (q->count < I8042_QUEUE_LEN) {
        q->data[(q->head + q->count++) % I8042_QUEUE_LEN] = (I8042Byte){ val, aux };
    }
}

static I8042Byte i8042_queue_pop(I8042Queue *q)
{
    I8042Byte b = q->data[q->head];

    q->head = (q->head + 1) % I8042_QUEUE_LEN;
    q->count--;
    return b;
}

static void i8042_reply(I8042State *s, uint8_t val)
{
    i8042_queue_push(&s->ctrl, val, false);
}

static void i8042_kbd_reply(I8042State *s, uint8_t val)
{
    i8042_queue_push(&s->kbd, val, false);
}

static void i8042_aux_reply(I8042State *s, uint8_t val)
{
    i8042_queue_push(&s->aux, val, true);
}

static I8042Queue *i8042_next_source(I8042State *s)
{
    if (s->ctrl.count) {
        return &s->ctrl;
    }
    if (s->kbd.count && !(s->ram[0] & I8042_CTR_KBDDIS)) {
        return &s->kbd;
    }
    if (s->aux.count && !(s->ram[0] & I8042_CTR_AUXDIS)) {
        return &s->aux;
    }
    return NULL;
}

static void i8042_set_line(unsigned irq, bool *cur, bool level)
{
    if (*cur != level) {
        *cur = level;
        irq_set_level(irq, level);
    }
}

static void i8042_update_irq(I8042State *s)
{
    uint8_t ctr = s->ram[0];

    i8042_set_line(s->kbd_irq, &s->kbd_level,
                   s->obf && !s->obuf_aux && (ctr & I8042_CTR_KBDINT));
    i8042_set_line(s->aux_irq, &s->aux_level,
                   s->obf && s->obuf_aux && (ctr & I8042_CTR_AUXINT));
}

/* Move the next waiting byte into an empty output buffer and update the IRQ lines. */
static void i8042_settle(I8042State *s)
{
    I8042Queue *q = s->obf ? NULL : i8042_next_source(s);

    if (q) {
        I8042Byte b = i8042_queue_pop(q);
        s->obuf = b.val;
        s->obuf_aux = b.aux;
        s->obf = true;
    }
    i8042_update_irq(s);
}

static void i8042_kbd_defaults(I8042State *s)
{
    s->kbd_scancode_set = 2;
}

/* LED and typematic settings have no visible effect; only the scan code set is answered. */
static void i8042_kbd_argument(I8042State *s, uint8_t cmd, uint8_t arg)
{
    i8042_kbd_reply(s, PS2_ACK);
    if (cmd == PS2_KBD_SET_SCANCODE && arg == 0) {
        i8042_kbd_reply(s, s->kbd_scancode_set);
    } else if (cmd == PS2_KBD_SET_SCANCODE && arg <= 3) {
        s->kbd_scancode_set = arg;
    }
}

static void i8042_kbd_command(I8042State *s, uint8_t cmd)
{
    switch (cmd) {
    case PS2_KBD_SET_LEDS:
    case PS2_KBD_SET_SCANCODE:
    case PS2_CMD_SET_RATE:
        s->kbd_pending = cmd;
        i8042_kbd_reply(s, PS2_ACK);
        break;
    case PS2_KBD_ECHO:
        i8042_kbd_reply(s, PS2_KBD_ECHO);
        break;
    case PS2_CMD_GET_ID:
        i8042_kbd_reply(s, PS2_ACK);
        i8042_kbd_reply(s, PS2_KBD_ID0);
        i8042_kbd_reply(s, PS2_KBD_ID1);
        break;
    case PS2_CMD_DISABLE:
    case PS2_CMD_SET_DEFAULTS:
        i8042_kbd_defaults(s);
        i8042_kbd_reply(s, PS2_ACK);
        break;
    case PS2_CMD_ENABLE:
    case PS2_KBD_SET3_FIRST ... PS2_KBD_SET3_LAST:
        i8042_kbd_reply(s, PS2_ACK);
        break;
    case PS2_CMD_RESET:
        i8042_kbd_defaults(s);
        i8042_kbd_reply(s, PS2_ACK);
        i8042_kbd_reply(s, PS2_BAT_OK);
        break;
    default:
        i8042_kbd_reply(s, PS2_RESEND);
        break;
    }
}

static void i8042_kbd_write(I8042State *s, uint8_t val)
{
    uint8_t cmd = s->kbd_pending;

    s->kbd_pending = 0;
    /* Arguments are below 0x80; anything else is taken as a new command, as keyboards do. */
    if (cmd && val < 0x80) {
        i8042_kbd_argument(s, cmd, val);
    } else {
        i8042_kbd_command(s, val);
    }
}

static void i8042_aux_defaults(I8042State *s)
{
    s->aux_resolution = 2; /* 4 counts/mm */
    s->aux_rate = 100;
    s->aux_enabled = false;
}

/* Every mouse command is acknowledged; scaling, modes and wrap are otherwise ignored. */
static void i8042_aux_command(I8042State *s, uint8_t cmd)
{
    i8042_aux_reply(s, PS2_ACK);
    switch (cmd) {
    case PS2_AUX_SET_RESOLUTION:
    case PS2_CMD_SET_RATE:
        s->aux_pending = cmd;
        break;
    case PS2_AUX_STATUS_REQUEST:
        i8042_aux_reply(s, s->aux_enabled ? PS2_AUX_STATUS_ENABLED : 0);
        i8042_aux_reply(s, s->aux_resolution);
        i8042_aux_reply(s, s->aux_rate);
        break;
    case PS2_CMD_GET_ID:
        i8042_aux_reply(s, PS2_AUX_ID);
        break;
    case PS2_CMD_ENABLE:
    case PS2_CMD_DISABLE:
        s->aux_enabled = cmd == PS2_CMD_ENABLE;
        break;
    case PS2_CMD_SET_DEFAULTS:
        i8042_aux_defaults(s);
        break;
    case PS2_CMD_RESET:
        i8042_aux_defaults(s);
        i8042_aux_reply(s, PS2_BAT_OK);
        i8042_aux_reply(s, PS2_AUX_ID);
        break;
    }
}

static void i8042_aux_write(I8042State *s, uint8_t val)
{
    uint8_t cmd = s->aux_pending;

    s->aux_pending = 0;
    if (cmd == PS2_AUX_SET_RESOLUTION) {
        s->aux_resolution = val & 3;
        i8042_aux_reply(s, PS2_ACK);
    } else if (cmd == PS2_CMD_SET_RATE) {
        s->aux_rate = val;
        i8042_aux_reply(s, PS2_ACK);
    } else {
        i8042_aux_command(s, val);
    }
}

static uint8_t i8042_read_outport(const I8042State *s)
{
    return (s->outport & ~(I8042_OUT_KBD_OBF | I8042_OUT_AUX_OBF)) |
           (s->kbd_level ? I8042_OUT_KBD_OBF : 0) | (s->aux_level ? I8042_OUT_AUX_OBF : 0);
}

/* A low reset line holds the CPU in reset: for us, a system reset. */
static void i8042_write_outport(I8042State *s, uint8_t val)
{
    s->outport = val;
    if (!(val & I8042_OUT_RESET)) {
        machine_request_reset();
    }
}

static void i8042_controller_command(I8042State *s, uint8_t cmd)
{
    switch (cmd) {
    case I8042_CMD_READ_RAM ... I8042_CMD_READ_RAM + I8042_RAM_SIZE - 1:
        i8042_reply(s, s->ram[cmd - I8042_CMD_READ_RAM]);
        break;
    case I8042_CMD_WRITE_RAM ... I8042_CMD_WRITE_RAM + I8042_RAM_SIZE - 1:
    case I8042_CMD_WRITE_OUTPUT ... I8042_CMD_WRITE_AUX:
        s->pending = cmd;
        break;
    case I8042_CMD_AUX_DISABLE:
    case I8042_CMD_AUX_ENABLE:
        s->ram[0] = (s->ram[0] & ~I8042_CTR_AUXDIS) |
                    (cmd == I8042_CMD_AUX_DISABLE ? I8042_CTR_AUXDIS : 0);
        break;
    case I8042_CMD_KBD_DISABLE:
    case I8042_CMD_KBD_ENABLE:
        s->ram[0] = (s->ram[0] & ~I8042_CTR_KBDDIS) |
                    (cmd == I8042_CMD_KBD_DISABLE ? I8042_CTR_KBDDIS : 0);
        break;
    case I8042_CMD_AUX_TEST:
    case I8042_CMD_KBD_TEST:
        i8042_reply(s, I8042_INTERFACE_OK);
        break;
    case I8042_CMD_SELF_TEST:
        s->ram[0] |= I8042_CTR_SYS; /* a passed self test sets the system flag */
        i8042_reply(s, I8042_SELF_TEST_OK);
        break;
    case I8042_CMD_READ_OUTPUT:
        i8042_reply(s, i8042_read_outport(s));
        break;
    case I8042_CMD_PULSE_OUTPUT ... 0xff:
        if (!(cmd & I8042_OUT_RESET)) {
            machine_request_reset();
        }
        break;
    default:
        break; /* unknown commands are ignored */
    }
}

static void i8042_write_command(I8042State *s, uint8_t cmd)
{
    s->a2 = true;
    s->pending = 0;
    i8042_controller_command(s, cmd);
    i8042_settle(s);
}

static void i8042_write_data(I8042State *s, uint8_t val)
{
    uint8_t cmd = s->pending;

    s->a2 = false;
    s->pending = 0;
    switch (cmd) {
    case I8042_CMD_WRITE_RAM ... I8042_CMD_WRITE_RAM + I8042_RAM_SIZE - 1:
        s->ram[cmd - I8042_CMD_WRITE_RAM] = val;
        break;
    case I8042_CMD_WRITE_OUTPUT:
        i8042_write_outport(s, val);
        break;
    case I8042_CMD_WRITE_KBD_OBUF:
    case I8042_CMD_WRITE_AUX_OBUF:
        i8042_queue_push(&s->ctrl, val, cmd == I8042_CMD_WRITE_AUX_OBUF);
        break;
    case I8042_CMD_WRITE_AUX:
        i8042_aux_write(s, val);
        break;
    default:
        /* Sending to the keyboard re-enables its interface, as in QEMU. */
        s->ram[0] &= ~I8042_CTR_KBDDIS;
        i8042_kbd_write(s, val);
        break;
    }
    i8042_settle(s);
}

/* Reading an empty output buffer returns the last byte again. */
static uint8_t i8042_read_data(I8042State *s)
{
    uint8_t val = s->obuf;

    s->obf = false;
    i8042_update_irq(s); /* drop the line so that the next byte is a new edge */
    i8042_settle(s);
    return val;
}

static uint8_t i8042_read_status(const I8042State *s)
{
    return (s->obf ? I8042_STR_OBF : 0) | (s->obf && s->obuf_aux ? I8042_STR_AUX_OBF : 0) |
           ((s->ram[0] & I8042_CTR_SYS) ? I8042_STR_SYS : 0) | (s->a2 ? I8042_STR_A2 : 0) |
           I8042_STR_INH;
}

static uint64_t i8042_data_io_read(void *opaque, uint64_t addr, unsigned size)
{
    return i8042_read_data(opaque);
}

static void i8042_data_io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    i8042_write_data(opaque, val);
}

static uint64_t i8042_command_io_read(void *opaque, uint64_t addr, unsigned size)
{
    return i8042_read_status(opaque);
}

static void i8042_command_io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    i8042_write_command(opaque, val);
}

static const IOOps i8042_data_io_ops = {
    .read = i8042_data_io_read,
    .write = i8042_data_io_write,
};

static const IOOps i8042_command_io_ops = {
    .read = i8042_command_io_read,
    .write = i8042_command_io_write,
};

static void i8042_reset(void *opaque)
{
    I8042State *s = opaque;

    memset(s->ram, 0, sizeof(s->ram));
    s->ram[0] = I8042_CTR_KBDINT | I8042_CTR_AUXINT;
    s->outport = I8042_OUT_DEFAULT;
    s->pending = s->kbd_pending = s->aux_pending = 0;
    s->a2 = true;
    s->obf = false;
    s->ctrl.count = s->kbd.count = s->aux.count = 0;
    i8042_kbd_defaults(s);
    i8042_aux_defaults(s);
    i8042_update_irq(s);
}

I8042State *i8042_init(unsigned kbd_irq, unsigned aux_irq)
{
    I8042State *s = g_new0(I8042State, 1);

    s->kbd_irq = kbd_irq;
    s->aux_irq = aux_irq;
    i8042_reset(s);
    portio_add(I8042_DATA_PORT, 1, &i8042_data_io_ops, s, "i8042-data");
    portio_add(I8042_COMMAND_PORT, 1, &i8042_command_io_ops, s, "i8042-cmd");
    machine_register_reset(i8042_reset, s);
    return s;
}
