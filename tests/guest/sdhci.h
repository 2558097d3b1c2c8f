/*
 * The test payload's polling driver for an SD card behind sdhci-pci (sdhci.c): the card's
 * initialisation as SeaBIOS does it, commands through the command register with every
 * status bit enabled and none signalled, and block transfers by PIO (the buffer data port),
 * SDMA or 32-bit ADMA2. Descriptor tables live from 64 MiB and data from 65 MiB (run with
 * -m 128 or more). Register names are the SD Host Controller specification's.
 */
#ifndef GUEST_SDHCI_H
#define GUEST_SDHCI_H

#include "guest.h"

#define SD_ADMA_TABLE 0x4000000ull
#define SD_DATA 0x4100000ull /* up to 16 MiB */
#define SD_BLOCK 512u
#define SD_XFER_TIMEOUT_MS 2000

enum {
    SD_SYSAD = 0x00,
    SD_BLKSIZE = 0x04,
    SD_BLKCNT = 0x06,
    SD_ARGUMENT = 0x08,
    SD_TRNMOD = 0x0c,
    SD_RESPONSE = 0x10,
    SD_BDATA = 0x20,
    SD_PRNSTS = 0x24,
    SD_HOSTCTL = 0x28,
    SD_PWRCON = 0x29,
    SD_CLKCON = 0x2c,
    SD_SWRST = 0x2f,
    SD_NORINTSTS = 0x30,
    SD_ERRINTSTS = 0x32,
    SD_NORINTSTSEN = 0x34,
    SD_ADMAERR = 0x54,
    SD_ADMASYSADDR = 0x58,
};

enum {
    NIS_CMDCMP = 0x01,
    NIS_TRSCMP = 0x02,
    NIS_DMA = 0x08,
    NIS_WBUFRDY = 0x10,
    NIS_RBUFRDY = 0x20,
    NIS_ERR = 0x8000
};
enum { TRN_DMA = 0x01, TRN_BLKCNT = 0x02, TRN_ACMD12 = 0x04, TRN_READ = 0x10, TRN_MULTI = 0x20 };
/* Command register flags: response type, index check and CRC check, data present. */
enum { RSP_NONE = 0x00, RSP_136 = 0x09, RSP_48 = 0x1a, RSP_48_BUSY = 0x1b, RSP_48_DATA = 0x3a };
enum { DMA_SDMA = 0, DMA_ADMA2 = 2 };
enum { ADMA_VALID = 0x01, ADMA_END = 0x02, ADMA_TRAN = 0x20, ADMA_LINK = 0x30 };

typedef struct SDHCI {
    PCIDevice *pci;
    uint64_t regs; /* BAR0 */
    uint16_t rca;
    bool high_capacity;
    uint64_t sectors;
} SDHCI;

/* Find the class 0805 function, enable memory and bus mastering, reset it, power the slot
 * and start the clock. */
bool sd_open(SDHCI *s);
uint32_t sd_rl(SDHCI *s, unsigned off);
uint16_t sd_rw(SDHCI *s, unsigned off);
void sd_wl(SDHCI *s, unsigned off, uint32_t v);
void sd_ww(SDHCI *s, unsigned off, uint16_t v);
void sd_wb(SDHCI *s, unsigned off, uint8_t v);
/* Send a command (trnmod: the transfer mode written with it); wait for command complete or
 * an error. Returns the normal|error status seen (error status in the upper half) and
 * leaves the bits set; *resp gets response register 0. */
uint32_t sd_cmd(SDHCI *s, uint8_t index, uint8_t flags, uint32_t arg, uint16_t trnmod,
                uint32_t *resp);
/* Wait up to ms for any of the normal status bits in mask; the status, 0 on timeout. */
uint16_t sd_wait(SDHCI *s, uint16_t mask, uint32_t ms);
/* Clear every status bit. */
void sd_ack_all(SDHCI *s);
/* CMD0 ... CMD7 as SeaBIOS: the card selected, its size known. */
bool sd_init_card(SDHCI *s);
/* The card's address argument for a block: bytes on standard capacity cards. */
uint32_t sd_block_arg(SDHCI *s, uint32_t block);
/* CMD13: the card status (R1), or 0xffffffff without a response. */
uint32_t sd_status(SDHCI *s);
/* Software reset of the command and data lines (each on its own, as QEMU needs). */
void sd_reset_lines(SDHCI *s);
/* ADMA2 descriptors at SD_ADMA_TABLE covering [addr, addr + bytes) in 32 KiB pieces, the
 * last with END. */
void sd_adma_table(uint64_t addr, unsigned bytes);
/* A multi-block data command (auto CMD12) by SDMA at buf or by ADMA2 from SD_ADMA_TABLE;
 * the normal|error status once transfer complete or an error came (status 0 bits on a
 * timeout), then cleared. */
uint32_t sd_dma(SDHCI *s, uint8_t index, uint32_t block, unsigned blocks, bool read, int dma,
                uint64_t buf);

#endif
