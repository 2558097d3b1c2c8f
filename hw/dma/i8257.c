/*
 * The two 8237A DMA controllers of the PC (see include/hw/isa-dma.h): channel registers
 * behind the byte-pointer flip-flop, command, request, single and all-channel masks, mode,
 * master clear, the status register with its terminal-count bits, page registers, and the
 * transfer loop that calls the device on each channel whose request is held. Register
 * semantics follow QEMU's i8257 (the behavioural reference the tests compare against); the
 * address a byte goes to wraps inside its 64 KiB (128 KiB) page as on the real part, and
 * auto-initialisation restarts a block at terminal count. Not emulated: memory-to-memory
 * transfers, the cascade gating of channel 4, the high page registers (0x480), as in QEMU's pc.
 */
#include <string.h>
#include <glib.h>
#include "hw/ioport.h"
#include "hw/isa-dma.h"
#include "hw/machine.h"
#include "hw/memory.h"

/* Command register bits (port 0x08 / 0xd0). */
enum {
    DMA_CMD_MEM_TO_MEM = 0x01,
    DMA_CMD_FIXED_ADDR = 0x02,
    DMA_CMD_DISABLE = 0x04,
    DMA_CMD_COMPRESSED = 0x08,
    DMA_CMD_ROTATING = 0x10,
    DMA_CMD_EXT_WRITE = 0x20,
    DMA_CMD_DREQ_LOW = 0x40,
    DMA_CMD_DACK_HIGH = 0x80,
    /* Anything but 0 or "controller disable" is refused and the register kept, as QEMU does. */
    DMA_CMD_UNSUPPORTED = DMA_CMD_MEM_TO_MEM | DMA_CMD_FIXED_ADDR | DMA_CMD_COMPRESSED |
                          DMA_CMD_ROTATING | DMA_CMD_EXT_WRITE | DMA_CMD_DREQ_LOW |
                          DMA_CMD_DACK_HIGH,
};

/* Mode register bits. */
enum {
    DMA_MODE_AUTOINIT = 0x10,
    DMA_MODE_DECREMENT = 0x20,
};

/* Control registers, by offset from 0x08 (0xd0 in words). */
enum {
    DMA_REG_STATUS_CMD = 0,
    DMA_REG_REQUEST = 1,
    DMA_REG_SINGLE_MASK = 2,
    DMA_REG_MODE = 3,
    DMA_REG_CLEAR_FF = 4,
    DMA_REG_MASTER_CLEAR = 5,
    DMA_REG_CLEAR_MASK = 6,
    DMA_REG_WRITE_MASK = 7,
};

typedef struct I8257Channel {
    uint16_t base_addr;  /* as programmed, in units of the channel width */
    uint16_t base_count; /* as programmed: transfers - 1 */
    uint32_t start;      /* byte address of the block inside its page */
    int pos;             /* bytes moved of the current block */
    uint8_t mode;
    uint8_t page;
    IsaDmaTransferHandler *handler;
    void *opaque;
} I8257Channel;

typedef struct I8257State {
    unsigned dshift; /* 0: 8-bit controller (channels 0-3), 1: 16-bit (4-7) */
    uint8_t status;  /* bits 0-3 terminal count, bits 4-7 request */
    uint8_t command;
    uint8_t mask;
    bool flip_flop;
    I8257Channel ch[4];
} I8257State;

static I8257State isa_dma[2];
static bool isa_dma_running;
static bool isa_dma_rerun;

static I8257State *isa_dma_cont(int nchan)
{
    return &isa_dma[(nchan >> 2) & 1];
}

static I8257Channel *isa_dma_chan(int nchan)
{
    return &isa_dma_cont(nchan)->ch[nchan & 3];
}

/* ---- Addresses ---- */

/* The guest address of byte `pos` of channel c's block: wraps inside the page. */
static uint64_t isa_dma_addr(const I8257State *d, const I8257Channel *c, int pos)
{
    uint32_t wrap = d->dshift ? 0x1ffff : 0xffff;
    uint32_t page = d->dshift ? (c->page & 0xfe) : c->page;
    uint32_t off =
        c->mode & DMA_MODE_DECREMENT ? c->start - (uint32_t)pos : c->start + (uint32_t)pos;

    return ((uint64_t)page << 16) | (off & wrap);
}

/* Bytes from pos until the address wraps (increment mode), at most len. */
static int isa_dma_run_len(const I8257State *d, const I8257Channel *c, int pos, int len)
{
    uint32_t wrap = d->dshift ? 0x1ffff : 0xffff;
    uint32_t off = (c->start + (uint32_t)pos) & wrap;

    if (c->mode & DMA_MODE_DECREMENT) {
        return 1;
    }
    return (int)MIN((uint32_t)len, wrap + 1 - off);
}

int isa_dma_read_memory(int nchan, void *buf, int pos, int len)
{
    I8257State *d = isa_dma_cont(nchan);
    I8257Channel *c = isa_dma_chan(nchan);
    uint8_t *p = buf;

    if (pos < 0 || len < 0) {
        return 0;
    }
    for (int done = 0; done < len;) {
        int n = isa_dma_run_len(d, c, pos + done, len - done);

        if (!guest_mem_read(isa_dma_addr(d, c, pos + done), p + done, n)) {
            memset(p + done, 0xff, n);
        }
        done += n;
    }
    return len;
}

int isa_dma_write_memory(int nchan, const void *buf, int pos, int len)
{
    I8257State *d = isa_dma_cont(nchan);
    I8257Channel *c = isa_dma_chan(nchan);
    const uint8_t *p = buf;

    if (pos < 0 || len < 0) {
        return 0;
    }
    for (int done = 0; done < len;) {
        int n = isa_dma_run_len(d, c, pos + done, len - done);

        guest_mem_write(isa_dma_addr(d, c, pos + done), p + done, n);
        done += n;
    }
    return len;
}

/* ---- The transfer loop ---- */

static void isa_dma_channel_run(I8257State *d, int ichan)
{
    I8257Channel *c = &d->ch[ichan];
    int size = (c->base_count + 1) << d->dshift;
    int n;

    if (!c->handler) {
        return;
    }
    n = c->handler(c->opaque, ichan + (d->dshift << 2), c->pos, size);
    c->pos = CLAMP(n, 0, size);
    if (c->pos == size) {
        d->status |= 1 << ichan;
        if (c->mode & DMA_MODE_AUTOINIT) {
            c->start = (uint32_t)c->base_addr << d->dshift;
            c->pos = 0;
        }
    }
}

/*
 * Run every unmasked channel whose request is held. A handler that changes requests or
 * masks (the FDC drops its request when done) re-enters here: that only asks the outer
 * call for one more pass, which stops once a pass finds nothing to do.
 */
static void isa_dma_run(void)
{
    if (isa_dma_running) {
        isa_dma_rerun = true;
        return;
    }
    isa_dma_running = true;
    do {
        isa_dma_rerun = false;
        for (int i = 0; i < 2; i++) {
            I8257State *d = &isa_dma[i];

            for (int ichan = 0; ichan < 4; ichan++) {
                if (!(d->mask & (1 << ichan)) && (d->status & (0x10 << ichan))) {
                    isa_dma_channel_run(d, ichan);
                }
            }
        }
    } while (isa_dma_rerun);
    isa_dma_running = false;
}

/* ---- Device API ---- */

void isa_dma_register_channel(int nchan, IsaDmaTransferHandler *fn, void *opaque)
{
    I8257Channel *c = isa_dma_chan(nchan);

    c->handler = fn;
    c->opaque = opaque;
}

IsaDmaTransferMode isa_dma_get_transfer_mode(int nchan)
{
    return (isa_dma_chan(nchan)->mode >> 2) & 3;
}

bool isa_dma_has_autoinit(int nchan)
{
    return isa_dma_chan(nchan)->mode & DMA_MODE_AUTOINIT;
}

void isa_dma_hold_dreq(int nchan)
{
    isa_dma_cont(nchan)->status |= 0x10 << (nchan & 3);
    isa_dma_run();
}

void isa_dma_release_dreq(int nchan)
{
    isa_dma_cont(nchan)->status &= ~(0x10 << (nchan & 3));
    isa_dma_run();
}

/* ---- Channel registers: address and count, low byte then high byte ---- */

static bool isa_dma_getff(I8257State *d)
{
    bool ff = d->flip_flop;

    d->flip_flop = !ff;
    return ff;
}

static uint8_t isa_dma_chan_read(I8257State *d, unsigned iport)
{
    I8257Channel *c = &d->ch[(iport >> 1) & 3];
    int dir = c->mode & DMA_MODE_DECREMENT ? -1 : 1;
    bool high = isa_dma_getff(d);
    uint32_t val;

    if (iport & 1) {
        val = ((uint32_t)c->base_count << d->dshift) - (uint32_t)c->pos;
    } else {
        val = c->start + (uint32_t)(c->pos * dir);
    }
    return (val >> (d->dshift + (high ? 8 : 0))) & 0xff;
}

static void isa_dma_chan_write(I8257State *d, unsigned iport, uint8_t val)
{
    I8257Channel *c = &d->ch[(iport >> 1) & 3];
    uint16_t *reg = iport & 1 ? &c->base_count : &c->base_addr;

    if (isa_dma_getff(d)) {
        *reg = (*reg & 0x00ff) | (val << 8);
        /* Writing either register restarts the block at its base. */
        c->start = (uint32_t)c->base_addr << d->dshift;
        c->pos = 0;
    } else {
        *reg = (*reg & 0xff00) | val;
    }
}

static uint64_t isa_dma_chan_io_read(void *opaque, uint64_t addr, unsigned size)
{
    I8257State *d = opaque;
    uint64_t val = 0;

    for (unsigned i = 0; i < size; i++) {
        val |= (uint64_t)isa_dma_chan_read(d, ((addr + i) >> d->dshift) & 7) << (8 * i);
    }
    return val;
}

static void isa_dma_chan_io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    I8257State *d = opaque;

    for (unsigned i = 0; i < size; i++) {
        isa_dma_chan_write(d, ((addr + i) >> d->dshift) & 7, val >> (8 * i));
    }
}

static const IOOps isa_dma_chan_ops = {
    .read = isa_dma_chan_io_read,
    .write = isa_dma_chan_io_write,
};

/* ---- Control registers ---- */

static void isa_dma_master_clear(I8257State *d)
{
    d->flip_flop = false;
    d->mask = 0xff;
    d->status = 0;
    d->command = 0;
}

static void isa_dma_cont_write(I8257State *d, unsigned iport, uint8_t val)
{
    switch (iport) {
    case DMA_REG_STATUS_CMD:
        if (val == 0 || !(val & DMA_CMD_UNSUPPORTED)) {
            d->command = val;
        }
        break;
    case DMA_REG_REQUEST:
        if (val & 4) {
            d->status |= 0x10 << (val & 3);
        } else {
            d->status &= ~(0x10 << (val & 3));
        }
        d->status &= ~(1 << (val & 3));
        isa_dma_run();
        break;
    case DMA_REG_SINGLE_MASK:
        if (val & 4) {
            d->mask |= 1 << (val & 3);
        } else {
            d->mask &= ~(1 << (val & 3));
        }
        isa_dma_run();
        break;
    case DMA_REG_MODE:
        d->ch[val & 3].mode = val;
        break;
    case DMA_REG_CLEAR_FF:
        d->flip_flop = false;
        break;
    case DMA_REG_MASTER_CLEAR:
        isa_dma_master_clear(d);
        break;
    case DMA_REG_CLEAR_MASK:
        d->mask = 0;
        isa_dma_run();
        break;
    case DMA_REG_WRITE_MASK:
        d->mask = val;
        isa_dma_run();
        break;
    }
}

/* Status (terminal counts clear on read) and, at the request port, the mask as QEMU. */
static uint8_t isa_dma_cont_read(I8257State *d, unsigned iport)
{
    uint8_t val;

    switch (iport) {
    case DMA_REG_STATUS_CMD:
        val = d->status;
        d->status &= 0xf0;
        return val;
    case DMA_REG_REQUEST:
        return d->mask;
    default:
        return 0;
    }
}

static uint64_t isa_dma_cont_io_read(void *opaque, uint64_t addr, unsigned size)
{
    I8257State *d = opaque;
    uint64_t val = 0;

    for (unsigned i = 0; i < size; i++) {
        val |= (uint64_t)isa_dma_cont_read(d, ((addr + i) >> d->dshift) & 7) << (8 * i);
    }
    return val;
}

static void isa_dma_cont_io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    I8257State *d = opaque;

    for (unsigned i = 0; i < size; i++) {
        isa_dma_cont_write(d, ((addr + i) >> d->dshift) & 7, val >> (8 * i));
    }
}

static const IOOps isa_dma_cont_ops = {
    .read = isa_dma_cont_io_read,
    .write = isa_dma_cont_io_write,
};

/*
 * ---- Page registers: 0x81-0x83 and 0x87 (0x89-0x8b and 0x8f for the word channels) ----
 * One region from 0x81 to 0x87; 0x84-0x86 in it read 0xff and ignore writes, like ports
 * nobody decodes. addr is the offset from 0x81.
 */
static int isa_dma_page_chan(uint64_t addr)
{
    static const int chan[8] = {-1, 2, 3, 1, -1, -1, -1, 0};

    return chan[(addr + 1) & 7];
}

static uint64_t isa_dma_page_io_read(void *opaque, uint64_t addr, unsigned size)
{
    I8257State *d = opaque;
    uint64_t val = 0;

    for (unsigned i = 0; i < size; i++) {
        int ichan = isa_dma_page_chan(addr + i);

        val |= (uint64_t)(ichan < 0 ? 0xff : d->ch[ichan].page) << (8 * i);
    }
    return val;
}

static void isa_dma_page_io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    I8257State *d = opaque;

    for (unsigned i = 0; i < size; i++) {
        int ichan = isa_dma_page_chan(addr + i);

        if (ichan >= 0) {
            d->ch[ichan].page = val >> (8 * i);
        }
    }
}

static const IOOps isa_dma_page_ops = {
    .read = isa_dma_page_io_read,
    .write = isa_dma_page_io_write,
};

static void isa_dma_reset(void *opaque)
{
    I8257State *d = opaque;

    isa_dma_master_clear(d);
}

static void isa_dma_init_one(I8257State *d, unsigned dshift, uint16_t base, uint16_t page_base)
{
    d->dshift = dshift;
    portio_add(base, 8 << dshift, &isa_dma_chan_ops, d, "dma-chan");
    portio_add(base + (8 << dshift), 8 << dshift, &isa_dma_cont_ops, d, "dma-cont");
    portio_add(page_base + 1, 7, &isa_dma_page_ops, d, "dma-page");
    machine_register_reset(isa_dma_reset, d);
    isa_dma_master_clear(d);
}

void isa_dma_init(void)
{
    memset(isa_dma, 0, sizeof(isa_dma));
    isa_dma_init_one(&isa_dma[0], 0, 0x00, 0x80);
    isa_dma_init_one(&isa_dma[1], 1, 0xc0, 0x88);
}
