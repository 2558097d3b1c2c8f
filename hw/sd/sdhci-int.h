/*
 * The SD Host Controller (SD Host Controller Simplified Specification, version 2.00) as
 * QEMU 7.2's sdhci models it: one slot, 512-byte buffer, PIO through the buffer data port,
 * SDMA, ADMA1 and 32-bit ADMA2. Shared by the register file (sdhci.c), the DMA engines
 * (sdhci-dma.c) and the PCI device (sdhci-pci.c). Not a header for other devices: they see
 * the card through include/hw/sd.h.
 */
#ifndef HW_SD_SDHCI_INT_H
#define HW_SD_SDHCI_INT_H

#include <stdbool.h>
#include <stdint.h>
#include "hw/pci.h"
#include "hw/qdev.h"
#include "hw/sd.h"
#include "util/main-loop.h"

/* Register offsets in BAR0. */
enum {
    SDHC_SYSAD = 0x00,
    SDHC_BLKSIZE = 0x04, /* and BLKCNT at 0x06 */
    SDHC_ARGUMENT = 0x08,
    SDHC_TRNMOD = 0x0c, /* and CMDREG at 0x0e */
    SDHC_RSPREG0 = 0x10,
    SDHC_RSPREG3 = 0x1c,
    SDHC_BDATA = 0x20,
    SDHC_PRNSTS = 0x24,
    SDHC_HOSTCTL = 0x28, /* PWRCON 0x29, BLKGAP 0x2a, WAKCON 0x2b */
    SDHC_CLKCON = 0x2c,  /* TIMEOUTCON 0x2e, SWRST 0x2f */
    SDHC_NORINTSTS = 0x30,
    SDHC_NORINTSTSEN = 0x34,
    SDHC_NORINTSIGEN = 0x38,
    SDHC_ACMD12ERRSTS = 0x3c,
    SDHC_CAPAB = 0x40,
    SDHC_MAXCURR = 0x48,
    SDHC_FEAER = 0x50,
    SDHC_ADMAERR = 0x54,
    SDHC_ADMASYSADDR = 0x58,
    SDHC_SLOT_INT_STATUS = 0xfc, /* and the host controller version at 0xfe */
    SDHC_REGISTERS_MAP_SIZE = 0x100,
};

/* Transfer mode. */
enum {
    SDHC_TRNS_DMA = 1 << 0,
    SDHC_TRNS_BLK_CNT_EN = 1 << 1,
    SDHC_TRNS_ACMD12 = 1 << 2,
    SDHC_TRNS_READ = 1 << 4,
    SDHC_TRNS_MULTI = 1 << 5,
    SDHC_TRNMOD_MASK = 0x0037,
};

/* Command register. */
enum {
    SDHC_CMD_RESPONSE = 3 << 0,
    SDHC_CMD_RSP_WITH_BUSY = 3 << 0,
    SDHC_CMD_DATA_PRESENT = 1 << 5,
    SDHC_CMD_TYPE_SHIFT = 6,
    SDHC_CMD_ABORT = 3,
};

/* Present state. */
enum {
    SDHC_CMD_INHIBIT = 1 << 0,
    SDHC_DATA_INHIBIT = 1 << 1,
    SDHC_DAT_LINE_ACTIVE = 1 << 2,
    SDHC_DOING_WRITE = 1 << 8,
    SDHC_DOING_READ = 1 << 9,
    SDHC_SPACE_AVAILABLE = 1 << 10,
    SDHC_DATA_AVAILABLE = 1 << 11,
    SDHC_CARD_PRESENT = 1 << 16,
    SDHC_WRITE_PROTECT = 1 << 19, /* the pin's level: set when writable */
    SDHC_PRNSTS_INSERTED = 0x1ff0000,
    SDHC_PRNSTS_EMPTY = 0x1fa0000,
};

/* Host control, power, block gap, wakeup, clock, reset. */
enum {
    SDHC_CTRL_DMA_SHIFT = 3,
    SDHC_CTRL_SDMA = 0,
    SDHC_CTRL_ADMA1_32 = 1,
    SDHC_CTRL_ADMA2_32 = 2,
    SDHC_CTRL_ADMA2_64 = 3,
    SDHC_POWER_ON = 1 << 0,
    SDHC_STOP_AT_GAP_REQ = 1 << 0,
    SDHC_CONTINUE_REQ = 1 << 1,
    SDHC_WKUP_ON_INS = 1 << 1,
    SDHC_WKUP_ON_RMV = 1 << 2,
    SDHC_CLOCK_INT_EN = 1 << 0,
    SDHC_CLOCK_INT_STABLE = 1 << 1,
    SDHC_CLOCK_SDCLK_EN = 1 << 2,
    SDHC_RESET_ALL = 1 << 0,
    SDHC_RESET_CMD = 1 << 1,
    SDHC_RESET_DATA = 1 << 2,
};

/* Normal and error interrupt status (and their enable and signal registers). */
enum {
    SDHC_NIS_CMDCMP = 1 << 0,
    SDHC_NIS_TRSCMP = 1 << 1,
    SDHC_NIS_BLKGAP = 1 << 2,
    SDHC_NIS_DMA = 1 << 3,
    SDHC_NIS_WBUFRDY = 1 << 4,
    SDHC_NIS_RBUFRDY = 1 << 5,
    SDHC_NIS_INSERT = 1 << 6,
    SDHC_NIS_REMOVE = 1 << 7,
    SDHC_NIS_CARDINT = 1 << 8,
    SDHC_NIS_ERR = 1 << 15,
    SDHC_EIS_CMDTIMEOUT = 1 << 0,
    SDHC_EIS_CMD12ERR = 1 << 8,
    SDHC_EIS_ADMAERR = 1 << 9,
};

/* ADMA error status. */
enum {
    SDHC_ADMAERR_STATE_MASK = 3,
    SDHC_ADMAERR_STATE_ST_FDS = 1,
    SDHC_ADMAERR_STATE_ST_TFR = 3,
    SDHC_ADMAERR_LENGTH_MISMATCH = 1 << 2,
};

/* Capabilities bits the model acts on. */
#define SDHC_CAPAB_REG_DEFAULT 0x057834b4ull
#define SDHC_CAPAB_MAXBLOCKLENGTH(c) (((c) >> 16) & 3)
#define SDHC_CAPAB_ADMA2 (1ull << 19)
#define SDHC_CAPAB_ADMA1 (1ull << 20)
#define SDHC_CAPAB_SDMA (1ull << 22)
#define SDHC_CAPAB_BUS64BIT (1ull << 28)

#define SDHC_BLOCK_SIZE_MASK 0xfff
#define SDHC_FIFO_MAX 2048

typedef enum SDHCStopState { SDHC_NOT_STOPPED, SDHC_GAP_READ, SDHC_GAP_WRITE } SDHCStopState;

typedef struct SDHCIState {
    DeviceState qdev;
    /* Properties. */
    int32_t addr;
    uint8_t spec_version;
    uint64_t capareg;
    uint64_t maxcurr;

    PCIDevice *pci;
    SDBus sdbus;
    BusState *qbus;
    Timer *insert_timer;
    Timer *transfer_timer; /* ADMA goes on here after a few descriptors */
    uint16_t version;
    unsigned buf_maxsz;

    /* The register file, in the order of the map; reset clears all of it. */
    struct SDHCIRegs {
        uint32_t sdmasysad;
        uint16_t blksize;
        uint16_t blkcnt;
        uint32_t argument;
        uint16_t trnmod;
        uint16_t cmdreg;
        uint32_t rspreg[4];
        uint32_t prnsts;
        uint8_t hostctl1;
        uint8_t pwrcon;
        uint8_t blkgap;
        uint8_t wakcon;
        uint16_t clkcon;
        uint8_t timeoutcon;
        uint8_t admaerr;
        uint16_t norintsts;
        uint16_t errintsts;
        uint16_t norintstsen;
        uint16_t errintstsen;
        uint16_t norintsigen;
        uint16_t errintsigen;
        uint16_t acmd12errsts;
        uint16_t data_count; /* bytes of the buffer moved so far, < blksize */
        uint64_t admasysaddr;
        SDHCStopState stopped_state;
    } r;
    uint8_t fifo[SDHC_FIFO_MAX];
} SDHCIState;

#define SDHC_DMA_TYPE(s) (((s)->r.hostctl1 >> SDHC_CTRL_DMA_SHIFT) & 3)
#define SDHC_BLKSIZE_BYTES(s) ((unsigned)((s)->r.blksize & SDHC_BLOCK_SIZE_MASK))

/* What the transfer mode register asks for. */
static inline bool sdhci_multi(const SDHCIState *s)
{
    return s->r.trnmod & SDHC_TRNS_MULTI;
}

static inline bool sdhci_counting(const SDHCIState *s)
{
    return s->r.trnmod & SDHC_TRNS_BLK_CNT_EN;
}

static inline bool sdhci_reading(const SDHCIState *s)
{
    return s->r.trnmod & SDHC_TRNS_READ;
}

/* sdhci.c */
void sdhci_init(SDHCIState *s);
void sdhci_cleanup(SDHCIState *s);
void sdhci_reset(SDHCIState *s);
void sdhci_update_irq(SDHCIState *s);
void sdhci_end_transfer(SDHCIState *s);
/* Move one block between the card and the buffer; short transfers read as zeros. */
void sdhci_fifo_from_card(SDHCIState *s, unsigned len);
void sdhci_fifo_to_card(SDHCIState *s, unsigned len);
extern const IOOps sdhci_mmio_ops;

/* sdhci-dma.c */
void sdhci_sdma_single(SDHCIState *s);
void sdhci_sdma_multi(SDHCIState *s);
void sdhci_adma_transfer(SDHCIState *s);

#endif
