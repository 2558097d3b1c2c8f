/*
 * COM1 (16550A at 0x3f8, IRQ 4) in loopback: bytes written to THR come back in RBR, LSR
 * tracks them, and the receive-data and THR-empty interrupts show in IIR and on the IRQ line
 * (with OUT2 set, which gates the line on a PC; QEMU does not model the gate).
 */
#include "libqtest.h"

#define COM1 0x3f8
#define COM1_IRQ 4

enum {
    UART_RBR = 0,
    UART_THR = 0,
    UART_IER = 1,
    UART_IIR = 2,
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_MSR = 6,
    UART_SCR = 7
};

enum {
    IER_RDI = 0x01,
    IER_THRI = 0x02,
    IIR_NO_INT = 0x01,
    IIR_THRI = 0x02,
    IIR_RDI = 0x04,
    MCR_DTR = 0x01,
    MCR_RTS = 0x02,
    MCR_OUT2 = 0x08,
    MCR_LOOP = 0x10,
    LSR_DR = 0x01,
    LSR_THRE = 0x20,
    LSR_TEMT = 0x40,
};

static QTestState *serial_start(void)
{
    QTestState *qts = qtest_init("-m 128 -serial null");

    qtest_irq_intercept_in(qts, "ioapic");
    return qts;
}

static void test_loopback(void)
{
    QTestState *qts = serial_start();

    qtest_outb(qts, COM1 + UART_MCR, MCR_LOOP | MCR_OUT2 | MCR_DTR | MCR_RTS);
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_LSR), ==, LSR_THRE | LSR_TEMT);
    qtest_outb(qts, COM1 + UART_THR, 0x5a);
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_LSR) & LSR_DR, ==, LSR_DR);
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_RBR), ==, 0x5a);
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_LSR) & LSR_DR, ==, 0);
    /* Modem outputs loop back to the inputs: DTR -> DSR, RTS -> CTS, OUT2 -> DCD. */
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_MSR) & 0xf0, ==, 0xb0);
    /* The scratch register holds anything. */
    qtest_outb(qts, COM1 + UART_SCR, 0xc3);
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_SCR), ==, 0xc3);
    g_assert_false(qtest_get_irq(qts, COM1_IRQ));
    qtest_quit(qts);
}

static void test_rx_irq(void)
{
    QTestState *qts = serial_start();

    qtest_outb(qts, COM1 + UART_MCR, MCR_LOOP | MCR_OUT2);
    qtest_outb(qts, COM1 + UART_IER, IER_RDI);
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_IIR), ==, IIR_NO_INT);
    g_assert_false(qtest_get_irq(qts, COM1_IRQ));
    qtest_outb(qts, COM1 + UART_THR, 'A');
    g_assert_true(qtest_get_irq(qts, COM1_IRQ));
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_IIR), ==, IIR_RDI);
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_RBR), ==, 'A');
    g_assert_false(qtest_get_irq(qts, COM1_IRQ));
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_IIR), ==, IIR_NO_INT);
    qtest_quit(qts);
}

static void test_thre_irq(void)
{
    QTestState *qts = serial_start();

    qtest_outb(qts, COM1 + UART_MCR, MCR_LOOP | MCR_OUT2);
    /* Enabling the THR-empty interrupt with THR empty raises it at once ... */
    qtest_outb(qts, COM1 + UART_IER, IER_THRI);
    g_assert_true(qtest_get_irq(qts, COM1_IRQ));
    /* ... and reading IIR while it is the reason acknowledges it. */
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_IIR), ==, IIR_THRI);
    g_assert_false(qtest_get_irq(qts, COM1_IRQ));
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_IIR), ==, IIR_NO_INT);
    /* Sending a byte empties THR again. */
    qtest_outb(qts, COM1 + UART_THR, 'B');
    g_assert_true(qtest_get_irq(qts, COM1_IRQ));
    qtest_outb(qts, COM1 + UART_IER, 0);
    g_assert_false(qtest_get_irq(qts, COM1_IRQ));
    qtest_quit(qts);
}

/* On a PC, OUT2 gates the UART's interrupt output onto the ISA line, and minivmm models
 * that; QEMU raises the line whatever OUT2 says. */
static void test_out2_gate(void)
{
    QTestState *qts = serial_start();

    qtest_outb(qts, COM1 + UART_MCR, MCR_LOOP);
    qtest_outb(qts, COM1 + UART_IER, IER_RDI);
    qtest_outb(qts, COM1 + UART_THR, 'C');
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_IIR), ==, IIR_RDI);
    g_assert_cmpint(qtest_get_irq(qts, COM1_IRQ), ==, qtest_is_qemu());
    qtest_outb(qts, COM1 + UART_MCR, MCR_LOOP | MCR_OUT2);
    g_assert_true(qtest_get_irq(qts, COM1_IRQ));
    qtest_inb(qts, COM1 + UART_RBR);
    g_assert_false(qtest_get_irq(qts, COM1_IRQ));
    qtest_quit(qts);
}

static void test_divisor_latch(void)
{
    QTestState *qts = serial_start();

    qtest_outb(qts, COM1 + UART_LCR, 0x83);              /* DLAB, 8N1 */
    g_assert_cmphex(qtest_inb(qts, COM1 + 0), ==, 0x0c); /* 9600 baud after reset */
    qtest_outb(qts, COM1 + 0, 0x01);
    qtest_outb(qts, COM1 + 1, 0x00);
    g_assert_cmphex(qtest_inb(qts, COM1 + 0), ==, 0x01);
    qtest_outb(qts, COM1 + UART_LCR, 0x03);
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_LCR), ==, 0x03);
    g_assert_cmphex(qtest_inb(qts, COM1 + UART_IER), ==, 0);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/serial/loopback", test_loopback);
    g_test_add_func("/serial/rx-irq", test_rx_irq);
    g_test_add_func("/serial/thre-irq", test_thre_irq);
    g_test_add_func("/serial/out2-gate", test_out2_gate);
    g_test_add_func("/serial/divisor-latch", test_divisor_latch);
    return g_test_run();
}
