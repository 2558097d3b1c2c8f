/*
 * 16550A UART: divisor latch, 16-byte receive FIFO, the four interrupt sources in the
 * datasheet's priority order, loopback, and an IRQ gated by MCR OUT2 as PC boards wire it.
 * Transmission is instantaneous (THR and the shift register are always empty again by the
 * time the guest looks), so there is no transmit FIFO and no baud-rate timing. The character
 * timeout interrupt is reported as soon as data sits below the FIFO trigger level instead of
 * four character times later. No break, parity or framing errors are ever received.
 */
#include <glib.h>
#include "hw/ioport.h"
#include "hw/irq.h"
#include "hw/machine.h"
#include "hw/serial.h"

#define UART_FIFO_SIZE 16

/* Register bits. */
enum {
    UART_IER_ERBFI = 0x01, /* received data available */
    UART_IER_ETBEI = 0x02, /* transmitter holding register empty */
    UART_IER_ELSI = 0x04,  /* receiver line status */
    UART_IER_EDSSI = 0x08, /* modem status */
    UART_IER_MASK = 0x0f,
    UART_IIR_NO_INT = 0x01,
    UART_IIR_RLS = 0x06,
    UART_IIR_RDA = 0x04,
    UART_IIR_CTI = 0x0c,
    UART_IIR_THRI = 0x02,
    UART_IIR_MSI = 0x00,
    UART_IIR_FIFOS = 0xc0,
    UART_FCR_FIFO_ENABLE = 0x01,
    UART_FCR_RCVR_RESET = 0x02,
    UART_FCR_DMA_MODE = 0x08,
    UART_FCR_RCVR_TRIGGER = 0xc0,
    UART_LCR_DLAB = 0x80,
    UART_MCR_DTR = 0x01,
    UART_MCR_RTS = 0x02,
    UART_MCR_OUT1 = 0x04,
    UART_MCR_OUT2 = 0x08,
    UART_MCR_LOOP = 0x10,
    UART_MCR_MASK = 0x1f,
    UART_LSR_DR = 0x01,
    UART_LSR_OE = 0x02,
    UART_LSR_THRE = 0x20,
    UART_LSR_TEMT = 0x40,
    UART_MSR_DCTS = 0x01,
    UART_MSR_DDSR = 0x02,
    UART_MSR_TERI = 0x04,
    UART_MSR_DDCD = 0x08,
    UART_MSR_DELTAS = 0x0f,
    UART_MSR_CTS = 0x10,
    UART_MSR_DSR = 0x20,
    UART_MSR_RI = 0x40,
    UART_MSR_DCD = 0x80,
};

struct SerialState {
    Chardev *chr;
    unsigned irq;
    bool irq_level;
    uint8_t ier, lcr, mcr, msr, scr, fcr, dll, dlm;
    uint8_t lsr_errors;   /* OE: the only error a virtual line can produce */
    bool thr_ipending;    /* THR-empty interrupt not yet acknowledged */
    uint8_t rx[UART_FIFO_SIZE];
    unsigned rx_head, rx_count;
};

static bool serial_fifo_enabled(const SerialState *s)
{
    return s->fcr & UART_FCR_FIFO_ENABLE;
}

/* Without FIFOs the receiver holds a single byte. */
static unsigned serial_rx_capacity(const SerialState *s)
{
    return serial_fifo_enabled(s) ? UART_FIFO_SIZE : 1;
}

static unsigned serial_rx_trigger(const SerialState *s)
{
    static const unsigned levels[] = { 1, 4, 8, 14 };

    return serial_fifo_enabled(s) ? levels[s->fcr >> 6] : 1;
}

static void serial_rx_clear(SerialState *s)
{
    s->rx_head = s->rx_count = 0;
}

static void serial_rx_push(SerialState *s, uint8_t val)
{
    if (s->rx_count >= serial_rx_capacity(s)) {
        s->lsr_errors |= UART_LSR_OE;
        return;
    }
    s->rx[(s->rx_head + s->rx_count++) % UART_FIFO_SIZE] = val;
}

static uint8_t serial_rx_pop(SerialState *s)
{
    uint8_t val = s->rx[s->rx_head];

    s->rx_head = (s->rx_head + 1) % UART_FIFO_SIZE;
    s->rx_count--;
    return val;
}

/* The highest-priority pending interrupt, as IIR bits 3-0. */
static uint8_t serial_pending(const SerialState *s)
{
    if ((s->ier & UART_IER_ELSI) && s->lsr_errors) {
        return UART_IIR_RLS;
    }
    if ((s->ier & UART_IER_ERBFI) && s->rx_count) {
        return s->rx_count >= serial_rx_trigger(s) ? UART_IIR_RDA : UART_IIR_CTI;
    }
    if ((s->ier & UART_IER_ETBEI) && s->thr_ipending) {
        return UART_IIR_THRI;
    }
    if ((s->ier & UART_IER_EDSSI) && (s->msr & UART_MSR_DELTAS)) {
        return UART_IIR_MSI;
    }
    return UART_IIR_NO_INT;
}

static void serial_update_irq(SerialState *s)
{
    bool level = serial_pending(s) != UART_IIR_NO_INT && (s->mcr & UART_MCR_OUT2);

    if (level != s->irq_level) {
        s->irq_level = level;
        irq_set_level(s->irq, level);
    }
}

/* CTS, DSR, RI and DCD: held asserted by the host side, or wired to MCR in loopback. */
static uint8_t serial_modem_inputs(const SerialState *s)
{
    uint8_t mcr = s->mcr;

    if (!(mcr & UART_MCR_LOOP)) {
        return UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
    }
    return ((mcr & UART_MCR_RTS) ? UART_MSR_CTS : 0) | ((mcr & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
           ((mcr & UART_MCR_OUT1) ? UART_MSR_RI : 0) | ((mcr & UART_MCR_OUT2) ? UART_MSR_DCD : 0);
}

static void serial_write_mcr(SerialState *s, uint8_t val)
{
    uint8_t old = serial_modem_inputs(s), now, deltas = 0;

    s->mcr = val & UART_MCR_MASK;
    now = serial_modem_inputs(s);
    deltas |= ((old ^ now) & UART_MSR_CTS) ? UART_MSR_DCTS : 0;
    deltas |= ((old ^ now) & UART_MSR_DSR) ? UART_MSR_DDSR : 0;
    deltas |= ((old ^ now) & UART_MSR_DCD) ? UART_MSR_DDCD : 0;
    deltas |= ((old & ~now) & UART_MSR_RI) ? UART_MSR_TERI : 0; /* trailing edge only */
    s->msr = (s->msr & UART_MSR_DELTAS) | deltas | now;
}

static void serial_write_fcr(SerialState *s, uint8_t val)
{
    if ((val ^ s->fcr) & UART_FCR_FIFO_ENABLE) {
        serial_rx_clear(s); /* switching FIFO mode empties the FIFOs */
    }
    if (!(val & UART_FCR_FIFO_ENABLE)) {
        s->fcr = 0; /* the other bits are only programmed together with FCR0 */
        return;
    }
    if (val & UART_FCR_RCVR_RESET) {
        serial_rx_clear(s);
    }
    s->fcr = val & (UART_FCR_FIFO_ENABLE | UART_FCR_DMA_MODE | UART_FCR_RCVR_TRIGGER);
}

/* THR empties at once, but THRE still drops while the byte moves on: the IRQ line falls and
 * rises again, so an edge-triggered PIC sees every byte's interrupt. */
static void serial_write_thr(SerialState *s, uint8_t val)
{
    s->thr_ipending = false;
    serial_update_irq(s);
    if (s->mcr & UART_MCR_LOOP) {
        serial_rx_push(s, val);
    } else if (s->chr) {
        chr_write(s->chr, &val, 1);
    }
    s->thr_ipending = true;
}

static void serial_write_ier(SerialState *s, uint8_t val)
{
    /* Enabling ETBEI while THR is empty raises the THR-empty interrupt at once. */
    if ((val & ~s->ier) & UART_IER_ETBEI) {
        s->thr_ipending = true;
    }
    s->ier = val & UART_IER_MASK;
}

static void serial_write_reg(SerialState *s, unsigned reg, uint8_t val)
{
    bool dlab = s->lcr & UART_LCR_DLAB;

    switch (reg) {
    case UART_THR:
        if (dlab) {
            s->dll = val;
        } else {
            serial_write_thr(s, val);
        }
        break;
    case UART_IER:
        if (dlab) {
            s->dlm = val;
        } else {
            serial_write_ier(s, val);
        }
        break;
    case UART_FCR:
        serial_write_fcr(s, val);
        break;
    case UART_LCR:
        s->lcr = val;
        break;
    case UART_MCR:
        serial_write_mcr(s, val);
        break;
    case UART_SCR:
        s->scr = val;
        break;
    default:
        break; /* LSR and MSR are read-only */
    }
    serial_update_irq(s);
}

static uint8_t serial_read_rbr(SerialState *s)
{
    return s->rx_count ? serial_rx_pop(s) : 0;
}

static uint8_t serial_read_iir(SerialState *s)
{
    uint8_t id = serial_pending(s);

    if (id == UART_IIR_THRI) {
        s->thr_ipending = false; /* reading IIR acknowledges THR empty */
    }
    return id | (serial_fifo_enabled(s) ? UART_IIR_FIFOS : 0);
}

static uint8_t serial_read_lsr(SerialState *s)
{
    uint8_t val = UART_LSR_THRE | UART_LSR_TEMT | s->lsr_errors;

    s->lsr_errors = 0;
    return val | (s->rx_count ? UART_LSR_DR : 0);
}

static uint8_t serial_read_msr(SerialState *s)
{
    uint8_t val = s->msr;

    s->msr &= ~UART_MSR_DELTAS;
    return val;
}

static uint8_t serial_read_reg(SerialState *s, unsigned reg)
{
    bool dlab = s->lcr & UART_LCR_DLAB;
    uint8_t val = 0xff;

    switch (reg) {
    case UART_RBR:
        val = dlab ? s->dll : serial_read_rbr(s);
        break;
    case UART_IER:
        val = dlab ? s->dlm : s->ier;
        break;
    case UART_IIR:
        val = serial_read_iir(s);
        break;
    case UART_LCR:
        val = s->lcr;
        break;
    case UART_MCR:
        val = s->mcr;
        break;
    case UART_LSR:
        val = serial_read_lsr(s);
        break;
    case UART_MSR:
        val = serial_read_msr(s);
        break;
    case UART_SCR:
        val = s->scr;
        break;
    }
    serial_update_irq(s);
    return val;
}

/* A 16-bit access reaches consecutive registers, as the ISA bus splits it. */
static uint64_t serial_io_read(void *opaque, uint64_t addr, unsigned size)
{
    uint64_t val = 0;

    for (unsigned i = 0; i < MIN(size, 8u); i++) {
        uint64_t reg = addr + i;
        uint8_t b = reg < UART_NUM_REGS ? serial_read_reg(opaque, reg) : 0xff;
        val |= (uint64_t)b << (8 * i);
    }
    return val;
}

static void serial_io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    for (unsigned i = 0; i < MIN(size, 8u); i++) {
        if (addr + i < UART_NUM_REGS) {
            serial_write_reg(opaque, addr + i, val >> (8 * i));
        }
    }
}

static const IOOps serial_io_ops = {
    .read = serial_io_read,
    .write = serial_io_write,
};

/* In loopback the receiver is cut off from the line: host input waits. */
static int serial_can_read(void *opaque)
{
    SerialState *s = opaque;

    if (s->mcr & UART_MCR_LOOP) {
        return 0;
    }
    return serial_rx_capacity(s) - s->rx_count;
}

static void serial_receive(void *opaque, const uint8_t *buf, size_t len)
{
    SerialState *s = opaque;

    for (size_t i = 0; i < len && !(s->mcr & UART_MCR_LOOP); i++) {
        serial_rx_push(s, buf[i]);
    }
    serial_update_irq(s);
}

/* Power-on state; the divisor starts at 12 (9600 baud), as in QEMU. */
static void serial_reset(void *opaque)
{
    SerialState *s = opaque;

    s->ier = s->lcr = s->mcr = s->scr = s->fcr = s->dlm = 0;
    s->dll = 0x0c;
    s->lsr_errors = 0;
    s->thr_ipending = false;
    s->msr = serial_modem_inputs(s);
    serial_rx_clear(s);
    serial_update_irq(s);
}

SerialState *serial_init(uint16_t base, unsigned irq, Chardev *chr)
{
    SerialState *s = g_new0(SerialState, 1);

    s->chr = chr;
    s->irq = irq;
    serial_reset(s);
    portio_add(base, UART_NUM_REGS, &serial_io_ops, s, "serial");
    if (chr) {
        chr_set_handlers(chr, serial_can_read, serial_receive, s);
    }
    machine_register_reset(serial_reset, s);
    return s;
}
