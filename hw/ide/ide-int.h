/*
 * Inside the IDE emulation: the state of one drive (IDEState: task-file registers, the PIO
 * data window, the in-flight request, ATAPI sense and tray state), of one channel (IDEBus:
 * two drives, device control, the interrupt line, its bus-master DMA engine) and the calls
 * between the files: core.c (registers, PIO, command dispatch), ata.c (disk commands),
 * atapi.c (packet commands), bmdma.c (PRD tables), piix.c (the PCI function), ide-dev.c
 * (the -device types). Register and bit names follow the ATA/ATAPI specifications.
 */
#ifndef HW_IDE_IDE_INT_H
#define HW_IDE_IDE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include "block/block-backend.h"
#include "hw/qdev.h"
#include "util/iov.h"

#define IDE_SECTOR_SIZE 512
#define IDE_BUF_SECTORS 256 /* io_buffer: 128 KiB (+4, as QEMU's) */
#define IDE_BUF_SIZE (IDE_BUF_SECTORS * IDE_SECTOR_SIZE + 4)
#define IDE_MAX_MULT_SECTORS 16
#define ATAPI_PACKET_SIZE 12
#define ATAPI_SECTOR_SIZE 2048
#define CD_MAX_SECTORS (80ULL * 60 * 75 * 2048 / 512) /* in 512-byte units */

/* Status register. */
enum {
    ERR_STAT = 0x01,
    DRQ_STAT = 0x08,
    SEEK_STAT = 0x10,
    READY_STAT = 0x40,
    BUSY_STAT = 0x80,
};

/* Error register. */
enum {
    ABRT_ERR = 0x04,
    MC_ERR = 0x20,
};

/* Device control register. */
enum {
    IDE_CTRL_DISABLE_IRQ = 0x02, /* nIEN */
    IDE_CTRL_RESET = 0x04,       /* SRST */
    IDE_CTRL_HOB = 0x80,
};

/* Device/head register. */
enum {
    ATA_DEV_HS = 0x0f,
    ATA_DEV_SELECT = 0x10,
    ATA_DEV_LBA = 0x40,
    ATA_DEV_ALWAYS_ON = 0xa0,
};

/* ATAPI interrupt reason (in the sector count register). */
enum {
    ATAPI_INT_REASON_CD = 0x01,
    ATAPI_INT_REASON_IO = 0x02,
};

/* SCSI sense keys and additional sense codes. */
enum {
    SENSE_NONE = 0,
    SENSE_NOT_READY = 2,
    SENSE_ILLEGAL_REQUEST = 5,
    SENSE_UNIT_ATTENTION = 6,
};
enum {
    ASC_ILLEGAL_OPCODE = 0x20,
    ASC_LOGICAL_BLOCK_OOR = 0x21,
    ASC_INV_FIELD_IN_CMD_PACKET = 0x24,
    ASC_MEDIUM_MAY_HAVE_CHANGED = 0x28,
    ASC_INCOMPATIBLE_FORMAT = 0x30,
    ASC_SAVING_PARAMETERS_NOT_SUPPORTED = 0x39,
    ASC_MEDIUM_NOT_PRESENT = 0x3a,
    ASC_MEDIA_REMOVAL_PREVENTED = 0x53,
};

/* Bus-master IDE command and status registers. */
enum {
    BM_CMD_START = 0x01,
    BM_CMD_READ = 0x08, /* direction: device to memory */
    BM_STATUS_DMAING = 0x01,
    BM_STATUS_ERROR = 0x02,
    BM_STATUS_INT = 0x04,
};

typedef enum IDEDriveKind { IDE_NONE, IDE_HD, IDE_CD } IDEDriveKind;

/* What the current DMA transfer is. */
typedef enum IDEDMACmd {
    IDE_DMA_NONE,
    IDE_DMA_READ,
    IDE_DMA_WRITE,
    IDE_DMA_TRIM,
    IDE_DMA_ATAPI
} IDEDMACmd;

typedef struct IDEState IDEState;
typedef struct IDEBus IDEBus;
typedef struct BMDMAState BMDMAState;
typedef void EndTransferFunc(IDEState *s);

/* The end of a PIO data phase: what the next data port access past the window does. */
typedef enum IDEPioPhase {
    PIO_NONE, /* data port reads 0 / ignores writes */
    PIO_IN,   /* device to host (IDENTIFY, READ, ATAPI reply) */
    PIO_OUT,  /* host to device (WRITE, the ATAPI packet) */
} IDEPioPhase;

struct IDEState {
    IDEBus *bus;
    int unit;
    IDEDriveKind kind;
    BlockBackend *blk;
    DeviceState *dev; /* the ide-hd/ide-cd device, NULL when none */
    /* identity */
    char serial[21];
    char model[41];
    char version[9];
    int drive_serial;    /* QEMU's QM%05d numbering */
    uint64_t nb_sectors; /* in 512-byte units */
    int cylinders, heads, sectors;
    int chs_trans; /* BiosAtaTranslation */
    uint16_t identify_data[256];
    bool identify_set;
    /* task file */
    uint8_t feature, error, sector, lcyl, hcyl, select, status;
    uint32_t nsector; /* after the LBA48 transform up to 65536 */
    uint8_t hob_feature, hob_nsector, hob_sector, hob_lcyl, hob_hcyl;
    bool lba48;
    int mult_sectors;
    int req_nb_sectors; /* sectors per PIO block */
    /* PIO data window into io_buffer */
    uint8_t *io_buffer;
    uint32_t data_pos, data_end;
    IDEPioPhase pio_phase;
    EndTransferFunc *end_transfer_func;
    /* the asynchronous request in flight; a newer generation cancels it */
    uint64_t req_gen;
    bool req_busy;
    /* the step to run again on `cont` when the "stop" error policy kept a failed request */
    EndTransferFunc *retry_fn;
    /* DMA */
    IDEDMACmd dma_cmd;
    uint32_t io_buffer_size; /* bytes the PRDs describe / the ATAPI chunk */
    uint32_t io_buffer_index;
    /* DATA SET MANAGEMENT (TRIM): the range entries the guest sent, the next one */
    uint64_t *trim_ranges;
    unsigned trim_count, trim_next;
    /* SMART */
    bool smart_enabled, smart_autosave;
    uint8_t smart_selftest_count;
    uint8_t smart_selftest_data[512];
    /* ATAPI */
    uint8_t sense_key, asc;
    int cdrom_changed; /* 1: report not ready, 2: then unit attention */
    bool atapi_dma;
    int64_t lba; /* next CD sector to read, -1 for a reply */
    int64_t packet_transfer_size;
    int elementary_transfer_size;
    int cd_sector_size;
    bool tray_open, tray_locked;
    bool event_new_media, event_eject_request;
};

struct BMDMAState {
    IDEBus *bus;
    uint8_t cmd;
    uint8_t status;
    uint32_t addr;     /* PRD table base */
    uint32_t cur_addr; /* next PRD entry */
    uint32_t cur_prd_addr;
    uint32_t cur_prd_len;
    bool cur_prd_last;
    /* the transfer waiting for (or running under) START */
    void (*dma_cb)(IDEState *s, int ret);
    int unit;
};

struct IDEBus {
    IDEState ifs[2];
    int bus_id;   /* 0 primary, 1 secondary */
    int unit;     /* selected drive */
    uint8_t cmd;  /* device control */
    unsigned irq; /* ISA IRQ */
    BMDMAState bmdma;
    BusState *qbus;       /* "ide.N" */
    DeviceState *devs[2]; /* ide-hd/ide-cd devices, by unit */
};

static inline IDEState *idebus_active_if(IDEBus *bus)
{
    return &bus->ifs[bus->unit];
}

/* ---- core.c ---- */
void ide_bus_init(IDEBus *bus, int bus_id, unsigned irq, int serial_base);
void ide_bus_reset(IDEBus *bus);
void ide_reset(IDEState *s);
void ide_set_irq(IDEBus *bus);
void ide_lower_irq(IDEBus *bus);
void ide_set_signature(IDEState *s);
void ide_abort_command(IDEState *s);
void ide_transfer_start(IDEState *s, uint32_t offset, uint32_t size, IDEPioPhase phase,
                        EndTransferFunc *end);
void ide_transfer_stop(IDEState *s);
/* Forget the request in flight (its completion will be ignored). */
void ide_cancel_request(IDEState *s);
/* Drop a DATA SET MANAGEMENT command's ranges and where it was in them. */
void ide_trim_clear(IDEState *s);
/* Start a request; the completion runs fn(s, ret) unless cancelled meanwhile. */
typedef void IDEReqDone(IDEState *s, int ret, void *buf);
void ide_submit_read(IDEState *s, uint64_t offset, IOVector *qiov, void *buf, IDEReqDone *fn);
void ide_submit_write(IDEState *s, uint64_t offset, IOVector *qiov, void *buf, IDEReqDone *fn);
void ide_submit_flush(IDEState *s, IDEReqDone *fn);
void ide_submit_discard(IDEState *s, uint64_t offset, uint64_t bytes, IDEReqDone *fn);
uint64_t ide_ioport_read(IDEBus *bus, unsigned reg);
void ide_ioport_write(IDEBus *bus, unsigned reg, uint8_t val);
uint32_t ide_data_read(IDEBus *bus, unsigned size);
void ide_data_write(IDEBus *bus, uint32_t val, unsigned size);
uint8_t ide_status_read(IDEBus *bus);
void ide_ctrl_write(IDEBus *bus, uint8_t val);
/* Set up a drive for a device (kind, backend, identity); false with errp. */
bool ide_init_drive(IDEState *s, BlockBackend *blk, IDEDriveKind kind, const char *serial,
                    const char *model, const char *version, Error **errp);
void ide_padstr(char *dst, const char *src, int len); /* byte-swapped ATA strings */
void ide_padstr8(uint8_t *dst, int len, const char *src);

/* ---- ata.c ---- */
/* Run a command written to the command register. */
void ide_exec_cmd(IDEBus *bus, uint8_t cmd);
int64_t ide_get_sector(IDEState *s);
void ide_set_sector(IDEState *s, int64_t sector_num);
bool ide_sect_range_ok(IDEState *s, uint64_t sector, uint64_t nb_sectors);
void ide_identify_size(IDEState *s);
void ide_dma_error(IDEState *s);
/* EXECUTE DEVICE DIAGNOSTIC's outcome: signature, status, error 0x01, interrupt (disks). */
void ide_exec_dev_diagnostic(IDEState *s);

/* ---- smart.c ---- */
bool ide_cmd_smart(IDEState *s, uint8_t cmd);

/* ---- atapi.c ---- */
void ide_atapi_cmd(IDEState *s);
void ide_atapi_identify(IDEState *s);
void ide_atapi_dma_cb(IDEState *s, int ret);

/* ---- bmdma.c ---- */
/* Arm a DMA transfer for s; it runs now if the engine is started, else on START. */
void bmdma_start_dma(IDEState *s, void (*cb)(IDEState *s, int ret));
void bmdma_set_inactive(BMDMAState *bm, bool more);
/* Gather up to limit bytes of PRD regions into qiov (host pointers into guest RAM); the
 * PRD bytes described are added to s->io_buffer_size. -EFAULT for a region outside RAM. */
int bmdma_prepare_buf(BMDMAState *bm, IDEState *s, IOVector *qiov, uint32_t limit);
/* Copy io_buffer[index, size) to (to_guest) or from guest memory along the PRDs; 0 when
 * the table ended first, -EFAULT for a region outside RAM, 1 when done. */
int bmdma_rw_buf(BMDMAState *bm, IDEState *s, bool to_guest);
void bmdma_reset(BMDMAState *bm);
uint64_t bmdma_read(BMDMAState *bm, unsigned offset, unsigned size);
void bmdma_write(BMDMAState *bm, unsigned offset, uint64_t val, unsigned size);

#endif
