/*
 * A 16550A UART (the PC's COM ports). The guest-visible registers are listed here so that
 * tests and the board can name them; the state lives in hw/char/serial.c. No modem or line
 * timing is modelled: bytes go to the host as soon as the guest writes them.
 */
#ifndef HW_SERIAL_H
#define HW_SERIAL_H

#include <stdint.h>
#include "util/chardev.h"

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ 4

/* Register offsets from the base port, as the PC16550D datasheet names them. */
typedef enum SerialReg {
    UART_RBR = 0, /* read, DLAB = 0 */
    UART_THR = 0, /* write, DLAB = 0 */
    UART_DLL = 0, /* DLAB = 1 */
    UART_IER = 1, /* DLAB = 0 */
    UART_DLM = 1, /* DLAB = 1 */
    UART_IIR = 2, /* read */
    UART_FCR = 2, /* write */
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_MSR = 6,
    UART_SCR = 7,
    UART_NUM_REGS = 8,
} SerialReg;

typedef struct SerialState SerialState;

/* A UART at `base` (8 ports) on ISA `irq`, connected to `chr` (NULL: output discarded). */
SerialState *serial_init(uint16_t base, unsigned irq, Chardev *chr);

#endif
