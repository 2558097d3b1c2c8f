/*
 * The SD host controller's DMA engines, as QEMU 7.2's sdhci runs them: SDMA (one system
 * address, pausing at the buffer boundary the block size register chooses) and ADMA (a
 * descriptor table: ADMA1, 32-bit ADMA2 and, when the capabilities allow, 64-bit ADMA2).
 * The buffer is filled from the card a block at a time and copied to or from guest RAM.
 *
 * Guest RAM is reached only through the bounds-checked accessors: a DMA read outside RAM
 * reads zeros and a write there is dropped (QEMU's unassigned memory). ADMA walks at most
 * a few descriptors per step and goes on from a timer, so a descriptor table that links to
 * itself costs the guest time, not the VMM its loop.
 */
#include <string.h>
#include "hw/memory.h"
#include "sdhci-int.h"

#define SDHC_ADMA_DESCS_PER_DELAY 5
#define SDHC_TRANSFER_DELAY_NS 100

enum {
    SDHC_ADMA_ATTR_VALID = 1 << 0,
    SDHC_ADMA_ATTR_END = 1 << 1,
    SDHC_ADMA_ATTR_INT = 1 << 2,
    SDHC_ADMA_ATTR_ACT_MASK = 3 << 4,
    SDHC_ADMA_ATTR_SET_LEN = 1 << 4,
    SDHC_ADMA_ATTR_ACT_TRAN = 2 << 4,
    SDHC_ADMA_ATTR_ACT_LINK = 3 << 4,
};

static bool dma_read(uint64_t addr, void *buf, unsigned len)
{
    if (len && !guest_mem_read(addr, buf, len)) {
        memset(buf, 0, len);
        return false;
    }
    return true;
}

static bool dma_write(uint64_t addr, const void *buf, unsigned len)
{
    return !len || guest_mem_write(addr, buf, len);
}

/*
 * Move up to *len bytes between guest memory at *addr and the card through the buffer,
 * continuing a partly moved block (data_count); *len becomes what is left. Stops early
 * when the block count runs out (a block size of 0 counts one block and stops). With
 * strict (ADMA), guest memory that cannot be read or written stops it and returns false
 * (the piece that failed counts as moved, its block does not); otherwise (SDMA, as QEMU)
 * such bytes read as zeros and writes to them are dropped.
 */
static bool sdhci_dma_move(SDHCIState *s, uint64_t *addr, unsigned *len, bool strict)
{
    unsigned block_size = MIN(SDHC_BLKSIZE_BYTES(s), s->buf_maxsz);

    while (*len) {
        unsigned begin = MIN(s->r.data_count, block_size);
        unsigned end = MIN(begin + *len, block_size);
        bool ok;

        if (sdhci_reading(s) && begin == 0) {
            sdhci_fifo_from_card(s, block_size);
        }
        *len -= end - begin; /* counted before the copy, as QEMU: a failed piece is gone */
        s->r.data_count = end;
        ok = sdhci_reading(s) ? dma_write(*addr, s->fifo + begin, end - begin)
                              : dma_read(*addr, s->fifo + begin, end - begin);
        if (!ok && strict) {
            return false;
        }
        *addr += end - begin;
        if (end < block_size) {
            break;
        }
        if (!sdhci_reading(s)) {
            sdhci_fifo_to_card(s, block_size);
        }
        s->r.data_count = 0;
        if ((sdhci_counting(s) && --s->r.blkcnt == 0) || block_size == 0) {
            break;
        }
    }
    return true;
}

/* ---- SDMA ---- */

void sdhci_sdma_single(SDHCIState *s)
{
    unsigned len = MIN(SDHC_BLKSIZE_BYTES(s), s->buf_maxsz);

    if (sdhci_reading(s)) {
        sdhci_fifo_from_card(s, len);
        dma_write(s->r.sdmasysad, s->fifo, len);
    } else {
        dma_read(s->r.sdmasysad, s->fifo, len);
        sdhci_fifo_to_card(s, len);
    }
    s->r.blkcnt--;
    sdhci_end_transfer(s);
}

/*
 * Blocks until the count runs out or the address reaches the buffer boundary (only when
 * the transfer started on one, as QEMU does for drivers that ignore the boundary), where
 * a DMA interrupt asks the driver for the next address.
 */
void sdhci_sdma_multi(SDHCIState *s)
{
    uint32_t boundary = 1u << (((s->r.blksize & ~SDHC_BLOCK_SIZE_MASK) >> 12) + 12);
    bool aligned = s->r.sdmasysad % boundary == 0;
    uint64_t addr = s->r.sdmasysad;

    if (!sdhci_counting(s) || !s->r.blkcnt) {
        return; /* infinite transfers are not supported */
    }
    s->r.prnsts |= (sdhci_reading(s) ? SDHC_DOING_READ : SDHC_DOING_WRITE) | SDHC_DATA_INHIBIT |
                   SDHC_DAT_LINE_ACTIVE;
    if (aligned) {
        unsigned len = boundary;

        sdhci_dma_move(s, &addr, &len, false);
    } else {
        while (s->r.blkcnt) {
            unsigned len = MIN(SDHC_BLKSIZE_BYTES(s), s->buf_maxsz);

            sdhci_dma_move(s, &addr, &len, false);
        }
    }
    s->r.sdmasysad = addr;
    if (s->r.blkcnt == 0) {
        sdhci_end_transfer(s);
    } else {
        if (s->r.norintstsen & SDHC_NIS_DMA) {
            s->r.norintsts |= SDHC_NIS_DMA;
        }
        sdhci_update_irq(s);
    }
}

/* ---- ADMA ---- */

typedef struct ADMADescr {
    uint64_t addr;
    unsigned length;
    uint8_t attr;
    uint8_t incr;
} ADMADescr;

static void sdhci_adma_fetch(SDHCIState *s, ADMADescr *d)
{
    uint64_t at = s->r.admasysaddr;
    uint8_t raw[12] = {0};

    switch (SDHC_DMA_TYPE(s)) {
    case SDHC_CTRL_ADMA2_32:
        dma_read(at, raw, 8);
        d->attr = raw[0] & 0x7f;
        d->length = raw[2] | raw[3] << 8;
        d->addr = (raw[4] | raw[5] << 8 | raw[6] << 16 | (uint32_t)raw[7] << 24) & ~3u;
        d->incr = 8;
        break;
    case SDHC_CTRL_ADMA1_32: {
        uint32_t v;

        dma_read(at, raw, 4);
        v = raw[0] | raw[1] << 8 | raw[2] << 16 | (uint32_t)raw[3] << 24;
        d->attr = v & 0x7f;
        d->addr = v & 0xfffff000u;
        d->length = (d->attr & SDHC_ADMA_ATTR_ACT_MASK) == SDHC_ADMA_ATTR_SET_LEN
                        ? (v >> 12) & 0xffff
                        : 4096;
        d->incr = 4;
        break;
    }
    default: /* 64-bit ADMA2 */
        dma_read(at, raw, 12);
        d->attr = raw[0] & ~0xc0;
        d->length = raw[2] | raw[3] << 8;
        d->addr = 0;
        for (int i = 7; i >= 0; i--) {
            d->addr = d->addr << 8 | raw[4 + i];
        }
        d->incr = 12;
        break;
    }
}

static void sdhci_adma_error(SDHCIState *s, uint8_t admaerr)
{
    s->r.admaerr |= admaerr;
    if (s->r.errintstsen & SDHC_EIS_ADMAERR) {
        s->r.errintsts |= SDHC_EIS_ADMAERR;
        s->r.norintsts |= SDHC_NIS_ERR;
    }
    sdhci_update_irq(s);
}

/* One descriptor; false when the transfer ended (done or failed). */
static bool sdhci_adma_step(SDHCIState *s)
{
    ADMADescr d = {0};
    unsigned length;

    s->r.admaerr &= ~SDHC_ADMAERR_LENGTH_MISMATCH;
    sdhci_adma_fetch(s, &d);
    if (!(d.attr & SDHC_ADMA_ATTR_VALID)) {
        s->r.admaerr &= ~SDHC_ADMAERR_STATE_MASK;
        sdhci_adma_error(s, SDHC_ADMAERR_STATE_ST_FDS);
        return false;
    }
    length = d.length ? d.length : 65536;
    switch (d.attr & SDHC_ADMA_ATTR_ACT_MASK) {
    case SDHC_ADMA_ATTR_ACT_TRAN:
        s->r.prnsts |= (sdhci_reading(s) ? SDHC_DOING_READ : SDHC_DOING_WRITE) | SDHC_DATA_INHIBIT |
                       SDHC_DAT_LINE_ACTIVE;
        if (!sdhci_dma_move(s, &d.addr, &length, true)) {
            /* Guest memory failed: an ADMA error, the block not counted; the descriptor's
             * END (with what it left undone, a length mismatch) or the next one follows. */
            s->r.data_count = 0;
            sdhci_adma_error(s, 0);
        }
        s->r.admasysaddr += d.incr;
        break;
    case SDHC_ADMA_ATTR_ACT_LINK:
        s->r.admasysaddr = d.addr;
        break;
    default:
        s->r.admasysaddr += d.incr;
        break;
    }
    if (d.attr & SDHC_ADMA_ATTR_INT) {
        if (s->r.norintstsen & SDHC_NIS_DMA) {
            s->r.norintsts |= SDHC_NIS_DMA;
        }
        sdhci_update_irq(s);
    }
    if ((sdhci_counting(s) && s->r.blkcnt == 0) || (d.attr & SDHC_ADMA_ATTR_END)) {
        if (length || ((d.attr & SDHC_ADMA_ATTR_END) && sdhci_counting(s) && s->r.blkcnt)) {
            sdhci_adma_error(s, SDHC_ADMAERR_LENGTH_MISMATCH | SDHC_ADMAERR_STATE_ST_TFR);
        }
        sdhci_end_transfer(s);
        return false;
    }
    return true;
}

void sdhci_adma_transfer(SDHCIState *s)
{
    for (int i = 0; i < SDHC_ADMA_DESCS_PER_DELAY; i++) {
        if (!sdhci_adma_step(s)) {
            return;
        }
    }
    timer_mod(s->transfer_timer, clock_get_ns(CLOCK_VIRTUAL) + SDHC_TRANSFER_DELAY_NS);
}
