/*
 * The payload's SD host controller driver (see sdhci.h): polled, one command at a time.
 */
#include "io.h"
#include "sdhci.h"

#define CMD_TIMEOUT_MS 100
#define DESC_BYTES 0x8000u

static PCIDevice sd_pci[32];

uint32_t sd_rl(SDHCI *s, unsigned off)
{
    return mmio_read32(s->regs + off);
}

uint16_t sd_rw(SDHCI *s, unsigned off)
{
    return mmio_read16(s->regs + off);
}

void sd_wl(SDHCI *s, unsigned off, uint32_t v)
{
    mmio_write32(s->regs + off, v);
}

void sd_ww(SDHCI *s, unsigned off, uint16_t v)
{
    mmio_write16(s->regs + off, v);
}

void sd_wb(SDHCI *s, unsigned off, uint8_t v)
{
    mmio_write8(s->regs + off, v);
}

void sd_ack_all(SDHCI *s)
{
    sd_wl(s, SD_NORINTSTS, 0xffffffff);
}

void sd_reset_lines(SDHCI *s)
{
    sd_wb(s, SD_SWRST, 0x02);
    sd_wb(s, SD_SWRST, 0x04);
    sd_ack_all(s);
}

uint16_t sd_wait(SDHCI *s, uint16_t mask, uint32_t ms)
{
    uint64_t end = clock_ns() + (uint64_t)ms * 1000000;

    do {
        uint16_t st = sd_rw(s, SD_NORINTSTS);
        if (st & mask) {
            return st;
        }
    } while (clock_ns() < end);
    return 0;
}

uint32_t sd_cmd(SDHCI *s, uint8_t index, uint8_t flags, uint32_t arg, uint16_t trnmod,
                uint32_t *resp)
{
    uint32_t st;

    sd_wl(s, SD_ARGUMENT, arg);
    sd_wl(s, SD_TRNMOD, trnmod | (uint32_t)(index << 8 | flags) << 16);
    sd_wait(s, NIS_CMDCMP | NIS_ERR, CMD_TIMEOUT_MS);
    st = sd_rl(s, SD_NORINTSTS);
    if (resp) {
        *resp = sd_rl(s, SD_RESPONSE);
    }
    return st;
}

/* A command without data: its R1 (or R3, R6, R7), or 0xffffffff on an error. */
static uint32_t sd_simple(SDHCI *s, uint8_t index, uint8_t flags, uint32_t arg)
{
    uint32_t r = 0, st = sd_cmd(s, index, flags, arg, 0, &r);

    sd_ack_all(s);
    return st & NIS_ERR ? 0xffffffff : r;
}

uint32_t sd_status(SDHCI *s)
{
    return sd_simple(s, 13, RSP_48, (uint32_t)s->rca << 16);
}

uint32_t sd_block_arg(SDHCI *s, uint32_t block)
{
    return s->high_capacity ? block : block * SD_BLOCK;
}

/* Capacity from the CSD in the response registers (bits 127..8 from byte 0 of RSPREG0). */
static uint64_t sd_csd_sectors(SDHCI *s)
{
    uint8_t csd[16];

    for (unsigned i = 0; i < 4; i++) {
        uint32_t w = sd_rl(s, SD_RESPONSE + 4 * i);
        memcpy(csd + 4 * i, &w, 4);
    }
    if (csd[14] >> 6) { /* CSD 2.0 */
        return ((uint64_t)(csd[5] | csd[6] << 8 | (csd[7] & 0x3f) << 16) + 1) << 10;
    }
    return (uint64_t)((csd[6] >> 6 | csd[7] << 2 | (csd[8] & 3) << 10) + 1)
           << ((csd[4] >> 7 | (csd[5] & 3) << 1) + 2 + (csd[9] & 0xf) - 9);
}

bool sd_init_card(SDHCI *s)
{
    uint32_t ocr = 0;

    sd_simple(s, 0, RSP_NONE, 0);
    if (sd_simple(s, 8, RSP_48, 0x1aa) != 0x1aa) {
        return false;
    }
    for (int tries = 0; tries < 100 && !(ocr & 0x80000000u); tries++) {
        sd_simple(s, 55, RSP_48, 0);
        ocr = sd_simple(s, 41, 0x02, 0x40300000);
        clock_delay_us(1000);
    }
    if (!(ocr & 0x80000000u)) {
        return false;
    }
    s->high_capacity = ocr & 0x40000000u;
    sd_simple(s, 2, RSP_136, 0);
    s->rca = sd_simple(s, 3, RSP_48, 0) >> 16;
    sd_cmd(s, 9, RSP_136, (uint32_t)s->rca << 16, 0, NULL);
    s->sectors = sd_csd_sectors(s);
    sd_ack_all(s);
    sd_simple(s, 7, RSP_48_BUSY, (uint32_t)s->rca << 16);
    return sd_status(s) == 0x900; /* transfer state, ready for data */
}

bool sd_open(SDHCI *s)
{
    int n = pci_enumerate(sd_pci, ARRAY_SIZE(sd_pci));

    for (int i = 0; i < n; i++) {
        PCIDevice *d = &sd_pci[i];
        if (d->class_rev >> 16 != 0x0805 || d->bar[0].io || !d->bar[0].size) {
            continue;
        }
        pci_config_writel(d, PCI_COMMAND, pci_config_readl(d, PCI_COMMAND) | 0x6);
        s->pci = d;
        s->regs = d->bar[0].addr;
        sd_wb(s, SD_SWRST, 0x01);
        sd_wl(s, SD_NORINTSTSEN, 0x03ff01ff);
        sd_wb(s, SD_PWRCON, 0x0f);
        sd_ww(s, SD_CLKCON, 0x0105); /* internal clock, SD clock at base / 2 */
        return true;
    }
    return false;
}

void sd_adma_table(uint64_t addr, unsigned bytes)
{
    volatile uint32_t *t = (volatile uint32_t *)SD_ADMA_TABLE;
    unsigned n = (bytes + DESC_BYTES - 1) / DESC_BYTES;

    for (unsigned i = 0; i < n; i++) {
        unsigned len = bytes - i * DESC_BYTES < DESC_BYTES ? bytes - i * DESC_BYTES : DESC_BYTES;
        t[2 * i] = (uint32_t)len << 16 | ADMA_TRAN | ADMA_VALID | (i == n - 1 ? ADMA_END : 0);
        t[2 * i + 1] = (uint32_t)(addr + i * DESC_BYTES);
    }
}

uint32_t sd_dma(SDHCI *s, uint8_t index, uint32_t block, unsigned blocks, bool read, int dma,
                uint64_t buf)
{
    uint32_t st;

    sd_wb(s, SD_HOSTCTL, dma << 3);
    sd_wl(s, dma == DMA_SDMA ? SD_SYSAD : SD_ADMASYSADDR,
          dma == DMA_SDMA ? (uint32_t)buf : (uint32_t)SD_ADMA_TABLE);
    sd_wl(s, SD_BLKSIZE, (7u << 12 | SD_BLOCK) | (uint32_t)blocks << 16);
    st = sd_cmd(s, index, RSP_48_DATA, sd_block_arg(s, block),
                TRN_DMA | TRN_BLKCNT | TRN_ACMD12 | TRN_MULTI | (read ? TRN_READ : 0), NULL);
    if (!(st & NIS_ERR)) {
        sd_wait(s, NIS_TRSCMP | NIS_ERR, SD_XFER_TIMEOUT_MS);
    }
    st = sd_rl(s, SD_NORINTSTS);
    sd_ack_all(s);
    return st;
}
