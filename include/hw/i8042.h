/*
 * The PC's 8042 keyboard controller (ports 0x60/0x64) with a PS/2 keyboard on IRQ 1 and a
 * PS/2 mouse on IRQ 12.
 */
#ifndef HW_I8042_H
#define HW_I8042_H

#define I8042_DATA_PORT 0x60
#define I8042_COMMAND_PORT 0x64
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12

typedef struct I8042State I8042State;

I8042State *i8042_init(unsigned kbd_irq, unsigned aux_irq);

#endif
