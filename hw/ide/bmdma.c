/*
 * Bus-master IDE DMA (one engine per channel, 8 bytes of the PIIX's BMIBA block): the
 * command, status and PRD table address registers, and the PRD table walk. Every PRD
 * entry is read through the checked guest-memory accessors and every region it names
 * must lie inside guest RAM; the table ends at its EOT entry or after one 4 KiB page
 * (512 entries), as on QEMU, so a hostile table can neither loop nor reach outside RAM.
 * Not the commands that use it (ata.c, atapi.c).
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "hw/memory.h"
#include "ide-int.h"

#define BMDMA_PAGE_SIZE 4096
#define PRD_EOT 0x80000000u

void bmdma_reset(BMDMAState *bm)
{
    bm->cmd = 0;
    bm->status = 0;
    bm->addr = 0;
    bm->cur_addr = 0;
    bm->cur_prd_last = false;
    bm->cur_prd_addr = 0;
    bm->cur_prd_len = 0;
    bm->dma_cb = NULL;
    bm->unit = 0;
}

void bmdma_start_dma(IDEState *s, void (*cb)(IDEState *s, int ret))
{
    BMDMAState *bm = &s->bus->bmdma;

    bm->unit = s->unit;
    bm->dma_cb = cb;
    bm->cur_prd_last = false;
    bm->cur_prd_addr = 0;
    bm->cur_prd_len = 0;
    if (bm->status & BM_STATUS_DMAING) {
        cb(s, 0);
    }
}

void bmdma_set_inactive(BMDMAState *bm, bool more)
{
    bm->dma_cb = NULL;
    if (more) {
        bm->status |= BM_STATUS_DMAING;
    } else {
        bm->status &= ~BM_STATUS_DMAING;
    }
}

/* Load the next PRD entry; false at the end of the table (or if it is not in RAM). */
static bool bmdma_next_prd(BMDMAState *bm, int *err)
{
    uint32_t prd[2];

    if (bm->cur_prd_last || bm->cur_addr - bm->addr >= BMDMA_PAGE_SIZE) {
        return false;
    }
    if (!guest_mem_read(bm->cur_addr, prd, sizeof(prd))) {
        *err = -EFAULT;
        return false;
    }
    bm->cur_addr += 8;
    bm->cur_prd_addr = GUINT32_FROM_LE(prd[0]);
    bm->cur_prd_len = GUINT32_FROM_LE(prd[1]) & 0xfffe;
    if (bm->cur_prd_len == 0) {
        bm->cur_prd_len = 0x10000;
    }
    bm->cur_prd_last = GUINT32_FROM_LE(prd[1]) & PRD_EOT;
    return true;
}

int bmdma_prepare_buf(BMDMAState *bm, IDEState *s, IOVector *qiov, uint32_t limit)
{
    int err = 0;

    for (;;) {
        uint32_t l, sg_len;

        if (bm->cur_prd_len == 0 && !bmdma_next_prd(bm, &err)) {
            return err ? err : (int)qiov->size;
        }
        l = bm->cur_prd_len;
        /* PRD bytes beyond the transfer are consumed but not used. */
        sg_len = MIN(limit - (uint32_t)qiov->size, l);
        if (sg_len) {
            void *p = guest_ram_ptr(bm->cur_prd_addr, sg_len);

            if (!p) {
                return -EFAULT;
            }
            iov_add(qiov, p, sg_len);
        }
        bm->cur_prd_addr += l;
        bm->cur_prd_len = 0;
        s->io_buffer_size += l;
    }
}

int bmdma_rw_buf(BMDMAState *bm, IDEState *s, bool to_guest)
{
    int err = 0;

    while (s->io_buffer_index < s->io_buffer_size) {
        uint32_t l = s->io_buffer_size - s->io_buffer_index;
        uint8_t *p;
        bool ok;

        if (bm->cur_prd_len == 0 && !bmdma_next_prd(bm, &err)) {
            return err;
        }
        l = MIN(l, bm->cur_prd_len);
        if (s->io_buffer_index + l > IDE_BUF_SIZE) {
            return -EFAULT;
        }
        p = s->io_buffer + s->io_buffer_index;
        ok = to_guest ? guest_mem_write(bm->cur_prd_addr, p, l)
                      : guest_mem_read(bm->cur_prd_addr, p, l);
        if (!ok) {
            return -EFAULT;
        }
        bm->cur_prd_addr += l;
        bm->cur_prd_len -= l;
        s->io_buffer_index += l;
    }
    return 1;
}

/*
 * START going high runs a transfer the drive has armed; going low stops the engine. A
 * request already submitted then still completes (QEMU waits for it in the same place).
 */
static void bmdma_cmd_writeb(BMDMAState *bm, uint8_t val)
{
    if ((val & BM_CMD_START) != (bm->cmd & BM_CMD_START)) {
        if (!(val & BM_CMD_START)) {
            bm->status &= ~BM_STATUS_DMAING;
        } else {
            bm->cur_addr = bm->addr;
            if (!(bm->status & BM_STATUS_DMAING)) {
                bm->status |= BM_STATUS_DMAING;
                if (bm->dma_cb) {
                    bm->dma_cb(&bm->bus->ifs[bm->unit], 0);
                }
            }
        }
    }
    bm->cmd = val & (BM_CMD_START | BM_CMD_READ);
}

/* Bits 5-6 (drive DMA capable) are plain, Error and Interrupt are write-1-to-clear. */
static void bmdma_status_writeb(BMDMAState *bm, uint8_t val)
{
    bm->status = (val & 0x60) | (bm->status & BM_STATUS_DMAING) | (bm->status & ~val & 0x06);
}

uint64_t bmdma_read(BMDMAState *bm, unsigned offset, unsigned size)
{
    if (offset >= 4) {
        unsigned shift = (offset & 3) * 8;
        uint64_t mask = size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1;

        return (bm->addr >> shift) & mask;
    }
    if (size != 1) {
        return (1ULL << (size * 8)) - 1;
    }
    switch (offset) {
    case 0:
        return bm->cmd;
    case 2:
        return bm->status;
    default:
        return 0xff;
    }
}

void bmdma_write(BMDMAState *bm, unsigned offset, uint64_t val, unsigned size)
{
    if (offset >= 4) {
        unsigned shift = (offset & 3) * 8;
        uint64_t mask = size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1;

        bm->addr &= ~(uint32_t)(mask << shift);
        bm->addr |= ((val & mask) << shift) & ~3u;
        return;
    }
    if (size != 1) {
        return;
    }
    if (offset == 0) {
        bmdma_cmd_writeb(bm, val);
    } else if (offset == 2) {
        bmdma_status_writeb(bm, val);
    }
}
