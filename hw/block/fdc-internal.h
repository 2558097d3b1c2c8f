/*
 * What the floppy controller's files share: the controller and drive state, register and
 * status bits as the 82078 datasheet names them, and the functions one file calls in
 * another (drive geometry in fdc-drive.c, the register file and phases in fdc.c, commands
 * in fdc-cmd.c, data transfers in fdc-xfer.c). Not for other devices: see include/hw/fdc.h.
 */
#ifndef HW_BLOCK_FDC_INTERNAL_H
#define HW_BLOCK_FDC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include "hw/fdc.h"
#include "util/main-loop.h"

#define FD_SECTOR_LEN 512
#define FD_SECTOR_SC 2          /* sector size code N for 512 bytes */
#define FD_RESET_SENSEI_COUNT 4 /* SENSE INTERRUPTs owed after a reset, one per drive */

typedef enum FDriveRate {
    FDRIVE_RATE_500K = 0x00,
    FDRIVE_RATE_300K = 0x01,
    FDRIVE_RATE_250K = 0x02,
    FDRIVE_RATE_1M = 0x03,
} FDriveRate;

/* Register offsets from the base (0x3f0). */
enum {
    FD_REG_SRA = 0x00,
    FD_REG_SRB = 0x01,
    FD_REG_DOR = 0x02,
    FD_REG_TDR = 0x03,
    FD_REG_MSR = 0x04, /* read */
    FD_REG_DSR = 0x04, /* write */
    FD_REG_FIFO = 0x05,
    FD_REG_DIR = 0x07, /* read */
    FD_REG_CCR = 0x07, /* write */
};

enum {
    FD_SR0_DS0 = 0x01,
    FD_SR0_DS1 = 0x02,
    FD_SR0_HEAD = 0x04,
    FD_SR0_EQPMT = 0x10,
    FD_SR0_SEEK = 0x20,
    FD_SR0_ABNTERM = 0x40,
    FD_SR0_INVCMD = 0x80,
    FD_SR0_RDYCHG = 0xc0,
};

enum {
    FD_SR1_MA = 0x01, /* missing address mark */
    FD_SR1_NW = 0x02, /* not writable */
    FD_SR1_EC = 0x80, /* end of cylinder */
};

enum {
    FD_SR2_SNS = 0x04, /* scan not satisfied */
    FD_SR2_SEH = 0x08, /* scan equal hit */
};

enum {
    FD_SRA_nDRV2 = 0x40,
    FD_SRA_INTPEND = 0x80,
};

enum {
    FD_SRB_MTR0 = 0x01,
    FD_SRB_MTR1 = 0x02,
    FD_SRB_DR0 = 0x20,
};

enum {
    FD_DOR_SELMASK = 0x01, /* two drives */
    FD_DOR_nRESET = 0x04,
    FD_DOR_DMAEN = 0x08,
    FD_DOR_MOTEN0 = 0x10,
    FD_DOR_MOTEN1 = 0x20,
};

enum {
    FD_TDR_BOOTSEL = 0x04,
};

enum {
    FD_DSR_DRATEMASK = 0x03,
    FD_DSR_PWRDOWN = 0x40,
    FD_DSR_SWRESET = 0x80,
};

enum {
    FD_MSR_CMDBUSY = 0x10,
    FD_MSR_NONDMA = 0x20,
    FD_MSR_DIO = 0x40,
    FD_MSR_RQM = 0x80,
};

enum {
    FD_DIR_DSKCHG = 0x80,
};

enum {
    FD_CONFIG_EIS = 0x40,   /* implied seeks */
    FD_CONFIG_EFIFO = 0x20, /* FIFO disabled */
};

/* Direction of a data command. */
typedef enum FDDir {
    FD_DIR_WRITE,
    FD_DIR_READ,
    FD_DIR_SCANE,
    FD_DIR_SCANL,
    FD_DIR_SCANH,
    FD_DIR_VERIFY,
    FD_DIR_FORMAT,
} FDDir;

typedef enum FDPhase {
    FD_PHASE_COMMAND,
    FD_PHASE_EXECUTION,
    FD_PHASE_RESULT,
} FDPhase;

typedef struct FDrive {
    FDCtrl *fdctrl;
    BlockBackend *blk;     /* NULL: no drive in this unit */
    FloppyDriveType drive; /* the drive (CMOS) type */
    FloppyDriveType disk;  /* the inserted medium's type */
    uint8_t perpendicular;
    /* Head position */
    uint8_t head;
    uint8_t track;
    uint8_t sect;
    /* Medium geometry */
    bool double_sided;
    uint8_t last_sect; /* sectors per track */
    uint8_t max_track; /* tracks */
    bool ro;
    bool media_changed; /* the DIR disk-change line */
    bool media_validated;
    uint8_t media_rate;
} FDrive;

struct FDCtrl {
    unsigned irq;
    int dma_chann;
    Timer *result_timer;
    FDPhase phase;
    uint8_t version;
    /* Registers */
    uint8_t sra;
    uint8_t srb;
    uint8_t dor;
    uint8_t tdr;
    uint8_t dsr;
    uint8_t msr;
    uint8_t cur_drv;
    uint8_t status0;
    /* The FIFO: command bytes, result bytes, or one sector of data */
    uint8_t fifo[FD_SECTOR_LEN];
    uint32_t data_pos;
    uint32_t data_len;
    bool data_multi_track;
    FDDir data_dir;
    uint8_t eot;         /* last sector of the transfer on a track */
    uint8_t format_fill; /* FORMAT TRACK's filler byte */
    /* Kept only to be read back */
    uint8_t precomp_trk;
    uint8_t config;
    uint8_t lock;
    uint8_t pwrd;
    uint8_t timer0;
    uint8_t timer1;
    int reset_sensei;
    FloppyDriveType fallback;
    FDrive drives[FDC_MAX_DRIVES];
};

/* fdc-drive.c: the medium and the head */
void fd_init(FDrive *drv, FDCtrl *fdctrl, BlockBackend *blk);
bool fd_has_medium(const FDrive *drv);
/* Sector index of (head, track, sect) on drv's geometry. */
int64_t fd_sector_calc(const FDrive *drv, uint8_t head, uint8_t track, uint8_t sect);
int64_t fd_sector(const FDrive *drv);
/* 0: same track, 1: track changed, 2: bad track/head or no medium, 3: bad sector. */
int fd_seek(FDrive *drv, uint8_t head, uint8_t track, uint8_t sect);
void fd_recalibrate(FDrive *drv);
void fd_revalidate(FDrive *drv);
void fd_pick_drive_type(FDrive *drv);
/* One sector at the head's position, 0 or -errno (no medium, outside the image). */
int fd_read_sector(FDrive *drv, uint8_t *buf);
int fd_write_sector(FDrive *drv, const uint8_t *buf);

/* fdc.c: phases, interrupt, drive selection */
FDrive *fdctrl_cur_drv(FDCtrl *s);
FDrive *fdctrl_drv(FDCtrl *s, int unit);
void fdctrl_raise_irq(FDCtrl *s);
void fdctrl_reset_irq(FDCtrl *s);
void fdctrl_reset(FDCtrl *s, bool do_irq);
void fdctrl_to_command_phase(FDCtrl *s);
void fdctrl_to_result_phase(FDCtrl *s, int fifo_len);

/* fdc-cmd.c: the command table */
typedef struct FDCtrlCommand {
    uint8_t value;
    uint8_t mask;
    const char *name;
    int parameters;
    void (*handler)(FDCtrl *s, FDDir direction);
    FDDir direction;
} FDCtrlCommand;

const FDCtrlCommand *fdctrl_get_command(uint8_t cmd);
void fdctrl_result_timer(void *opaque);

/* fdc-xfer.c: data commands */
void fdctrl_start_transfer(FDCtrl *s, FDDir direction);
void fdctrl_start_transfer_del(FDCtrl *s, FDDir direction);
void fdctrl_start_format(FDCtrl *s, FDDir direction);
void fdctrl_stop_transfer(FDCtrl *s, uint8_t status0, uint8_t status1, uint8_t status2);
int fdctrl_transfer_handler(void *opaque, int nchan, int dma_pos, int dma_len);
/* Execution-phase FIFO access for non-DMA transfers. */
uint8_t fdctrl_pio_read(FDCtrl *s);
void fdctrl_pio_write(FDCtrl *s, uint8_t value);

#endif
