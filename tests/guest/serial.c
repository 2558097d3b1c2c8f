/* COM1 output, polling the 16550 line status register; no interrupts, no input. */
#include "guest.h"
#include "io.h"

enum {
    COM1 = 0x3f8,
    UART_THR = 0,
    UART_LSR = 5,
    UART_LSR_THRE = 0x20,
};

void serial_putc(char c)
{
    if (c == '\n') {
        serial_putc('\r');
    }
    while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE)) {
    }
    outb(COM1 + UART_THR, c);
}

void serial_puts(const char *s)
{
    while (*s) {
        serial_putc(*s++);
    }
}
