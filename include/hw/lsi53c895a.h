/*
 * The LSI 53C895A PCI SCSI host adapter (1000:0012), as QEMU 2.2 presents it: the register
 * file (BAR0 in I/O space, BAR1 in memory space), 8 KiB of SCRIPTS RAM (BAR2), the SCRIPTS
 * processor that runs the guest's programs, and the initiator side of the SCSI phases on
 * one bus of up to seven targets. Not the targets: scsi-disk.c answers the commands through
 * the bus in hw/scsi.h. Not target mode, not wide or synchronous transfer timing.
 *
 * The first half of this header is the board's view; the rest is shared by the adapter's
 * own files (lsi53c895a.c: PCI device and bus callbacks, lsi53c895a-regs.c: the register
 * file, lsi53c895a-scripts.c: the SCRIPTS processor) and by the fuzz target.
 */
#ifndef HW_LSI53C895A_H
#define HW_LSI53C895A_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/pci.h"
#include "hw/qdev.h"
#include "hw/scsi.h"
#include "util/error.h"
#include "util/main-loop.h"

/* -drive if=scsi: one adapter per SCSI bus index in use, each with its drives. */
bool lsi53c895a_create_drives(Error **errp);

/* ---- The adapter's own files ---- */

#define LSI_MAX_TARGETS 7 /* scsi-id 0-6; the adapter is 7 */
#define LSI_MAX_MSGIN 8
#define LSI_SCRIPTS_RAM_SIZE 8192
#define LSI_REGS_SIZE 256
#define LSI_MAX_INSN 10000          /* per run; the rest waits for LSI_SCRIPTS_PAUSE_NS */
#define LSI_SCRIPTS_PAUSE_NS 500000 /* QEMU 7.2's; doubled per run that loops on */
#define LSI_SCRIPTS_PAUSE_MAX_NS 128000000
#define LSI_TAG_VALID (1u << 16)

/* Register offsets, spelled as in the LSI53C895A manual. */
enum {
    LSI_SCNTL0 = 0x00,
    LSI_SCNTL1 = 0x01,
    LSI_SCNTL2 = 0x02,
    LSI_SCNTL3 = 0x03,
    LSI_SCID = 0x04,
    LSI_SXFER = 0x05,
    LSI_SDID = 0x06,
    LSI_GPREG = 0x07,
    LSI_SFBR = 0x08,
    LSI_SOCL = 0x09,
    LSI_SSID = 0x0a,
    LSI_SBCL = 0x0b,
    LSI_DSTAT = 0x0c,
    LSI_SSTAT0 = 0x0d,
    LSI_SSTAT1 = 0x0e,
    LSI_SSTAT2 = 0x0f,
    LSI_DSA = 0x10,
    LSI_ISTAT0 = 0x14,
    LSI_ISTAT1 = 0x15,
    LSI_MBOX0 = 0x16,
    LSI_MBOX1 = 0x17,
    LSI_CTEST0 = 0x18,
    LSI_CTEST1 = 0x19,
    LSI_CTEST2 = 0x1a,
    LSI_CTEST3 = 0x1b,
    LSI_TEMP = 0x1c,
    LSI_DFIFO = 0x20,
    LSI_CTEST4 = 0x21,
    LSI_CTEST5 = 0x22,
    LSI_CTEST6 = 0x23,
    LSI_DBC = 0x24,
    LSI_DCMD = 0x27,
    LSI_DNAD = 0x28,
    LSI_DSP = 0x2c,
    LSI_DSPS = 0x30,
    LSI_SCRATCHA = 0x34,
    LSI_DMODE = 0x38,
    LSI_DIEN = 0x39,
    LSI_SBR = 0x3a,
    LSI_DCNTL = 0x3b,
    LSI_ADDER = 0x3c,
    LSI_SIEN0 = 0x40,
    LSI_SIEN1 = 0x41,
    LSI_SIST0 = 0x42,
    LSI_SIST1 = 0x43,
    LSI_SLPAR = 0x44,
    LSI_SWIDE = 0x45,
    LSI_MACNTL = 0x46,
    LSI_GPCNTL = 0x47,
    LSI_STIME0 = 0x48,
    LSI_STIME1 = 0x49,
    LSI_RESPID0 = 0x4a,
    LSI_RESPID1 = 0x4b,
    LSI_STEST0 = 0x4c,
    LSI_STEST1 = 0x4d,
    LSI_STEST2 = 0x4e,
    LSI_STEST3 = 0x4f,
    LSI_SIDL = 0x50,
    LSI_STEST4 = 0x52,
    LSI_SODL = 0x54,
    LSI_CCNTL0 = 0x56,
    LSI_CCNTL1 = 0x57,
    LSI_SBDL = 0x58,
    LSI_SCRATCHB = 0x5c,
    LSI_SCRATCHC = 0x60,
    LSI_SCRATCHR = 0x9c,
    LSI_MMRS = 0xa0,
    LSI_MMWS = 0xa4,
    LSI_SFS = 0xa8,
    LSI_DRS = 0xac,
    LSI_SBMS = 0xb0,
    LSI_DBMS = 0xb4,
    LSI_DNAD64 = 0xb8,
    LSI_PMJAD1 = 0xc0,
    LSI_PMJAD2 = 0xc4,
    LSI_RBC = 0xc8,
    LSI_UA = 0xcc,
    LSI_ESA = 0xd0,
    LSI_IA = 0xd4,
    LSI_SBC = 0xd8,
    LSI_CSBC = 0xdc,
};

enum {
    LSI_SCNTL1_IARB = 0x02,
    LSI_SCNTL1_RST = 0x08,
    LSI_SCNTL1_CON = 0x10,
    LSI_SCNTL2_WSS = 0x08,
    LSI_SCNTL2_WSR = 0x01,
    LSI_ISTAT0_DIP = 0x01,
    LSI_ISTAT0_SIP = 0x02,
    LSI_ISTAT0_INTF = 0x04,
    LSI_ISTAT0_CON = 0x08,
    LSI_ISTAT0_SIGP = 0x20,
    LSI_ISTAT0_SRST = 0x40,
    LSI_ISTAT0_ABRT = 0x80,
    LSI_ISTAT1_SRUN = 0x02,
    LSI_SSTAT0_WOA = 0x04,
    LSI_SSTAT0_RST = 0x02,
    LSI_SIST0_RST = 0x02,
    LSI_SIST0_UDC = 0x04,
    LSI_SIST0_RSL = 0x10,
    LSI_SIST0_SEL = 0x20,
    LSI_SIST0_CMP = 0x40,
    LSI_SIST0_MA = 0x80,
    LSI_SIST1_HTH = 0x01,
    LSI_SIST1_GEN = 0x02,
    LSI_SIST1_STO = 0x04,
    LSI_SOCL_ATN = 0x08,
    LSI_SBCL_ATN = 0x08,
    LSI_SBCL_BSY = 0x20,
    LSI_SBCL_ACK = 0x40,
    LSI_SBCL_REQ = 0x80,
    LSI_DSTAT_IID = 0x01,
    LSI_DSTAT_SIR = 0x04,
    LSI_DSTAT_SSI = 0x08,
    LSI_DSTAT_ABRT = 0x10,
    LSI_DSTAT_BF = 0x20,
    LSI_DSTAT_DFE = 0x80,
    LSI_DCNTL_COM = 0x01,
    LSI_DCNTL_STD = 0x04,
    LSI_DCNTL_SSM = 0x10,
    LSI_DCNTL_PFF = 0x40,
    LSI_DMODE_MAN = 0x01,
    LSI_CTEST2_DACK = 0x01,
    LSI_CTEST2_PCICIE = 0x08,
    LSI_CTEST2_CM = 0x10,
    LSI_CTEST2_SIGP = 0x40,
    LSI_CCNTL1_EN64DBMV = 0x01,
    LSI_CCNTL1_EN64TIBMV = 0x02,
    LSI_CCNTL1_64TIMOD = 0x04,
    LSI_CCNTL1_40BIT = LSI_CCNTL1_EN64TIBMV | LSI_CCNTL1_64TIMOD,
    LSI_CCNTL0_PMJCTL = 0x40,
    LSI_CCNTL0_ENPMJ = 0x80,
    LSI_SCID_RRE = 0x60,
};

/* SCSI bus phases (MSG, C/D, I/O), as SSTAT1 and the instructions encode them. */
enum {
    LSI_PHASE_DO = 0,
    LSI_PHASE_DI = 1,
    LSI_PHASE_CMD = 2,
    LSI_PHASE_ST = 3,
    LSI_PHASE_MO = 6,
    LSI_PHASE_MI = 7,
    LSI_PHASE_MASK = 7,
};

/* What the SCRIPTS processor is held up by. */
typedef enum LSIWait {
    LSI_NOWAIT,        /* running, or stopped */
    LSI_WAIT_TARGET,   /* a phase-dependent instruction waits for the target's REQ */
    LSI_WAIT_DMA,      /* a block move has bytes left and waits for the next chunk */
    LSI_WAIT_RESELECT, /* WAIT RESELECT with nothing to reselect yet */
    LSI_WAIT_SCRIPTS,  /* the run used up its budget: scripts_timer resumes it */
} LSIWait;

/* What follows the MSG IN bytes the adapter has queued. */
typedef enum LSIMsgAction {
    LSI_MSG_ACTION_COMMAND,
    LSI_MSG_ACTION_DISCONNECT,
    LSI_MSG_ACTION_DOUT,
    LSI_MSG_ACTION_DIN,
    LSI_MSG_ACTION_STATUS,
} LSIMsgAction;

/* One command, connected (LSIState.current) or disconnected (LSIState.queue). */
typedef struct LSIRequest {
    SCSIRequest *req;
    uint32_t tag;     /* target id << 8, queue tag, LSI_TAG_VALID */
    uint32_t dma_len; /* bytes of the current chunk not yet moved */
    uint8_t *dma_buf;
    uint32_t pending; /* a chunk that arrived while disconnected */
    bool out;         /* data-out */
    bool completed;   /* ended while disconnected: status waits for the reselection */
    uint8_t status;
} LSIRequest;

typedef struct LSIState {
    DeviceState qdev;
    int32_t addr; /* "addr" property: devfn or -1 */
    PCIDevice *pci;
    PCIDeviceInfo pci_info; /* lsi53c895a's, or lsi53c810's device ID */
    SCSIBus bus;

    /* Connection and phase bookkeeping. */
    LSIRequest *current;
    GQueue queue; /* disconnected requests, oldest first */
    uint32_t select_tag;
    int current_lun;
    bool disc_allowed;     /* the last IDENTIFY granted disconnect privilege */
    bool command_complete; /* the current request ended; status holds its byte */
    uint8_t status;
    uint8_t msg[LSI_MAX_MSGIN];
    unsigned msg_len;
    LSIMsgAction msg_action;
    LSIWait waiting;
    bool dma_out;      /* direction of the block move LSI_WAIT_DMA resumes */
    bool in_run;       /* the SCRIPTS loop is on the stack */
    bool in_pump;      /* a block move is copying chunks (lsi_dma_pump) */
    bool in_data_move; /* a DATA IN/OUT block move has started and not ended */
    bool carry;
    Timer *scripts_timer;
    int64_t pause_ns; /* until the next run of a program over its budget */

    /* The register file. */
    uint8_t scntl0, scntl1, scntl2, scntl3, scid, sxfer, sdid, sfbr, socl, ssid, sbcl;
    uint8_t dstat, sstat0, sstat1, istat0, istat1, mbox0, mbox1;
    uint8_t ctest2, ctest3, ctest4, ctest5, dfifo, dcmd, dmode, dien, sbr, dcntl;
    uint8_t sien0, sien1, sist0, sist1, stime0, respid0, respid1, stest1, stest2, stest3;
    uint8_t sidl, ccntl0, ccntl1;
    uint32_t dsa, temp, dbc, dnad, dsp, dsps, adder;
    uint32_t scratch[18]; /* SCRATCHA, SCRATCHB, SCRATCHC..SCRATCHR */
    uint32_t mmrs, mmws, sfs, drs, sbms, dbms, dnad64, pmjad1, pmjad2, rbc, ua, ia;
    uint32_t sbc, csbc;

    uint8_t scripts_ram[LSI_SCRIPTS_RAM_SIZE];
} LSIState;

/* lsi53c895a.c */
void lsi_update_irq(LSIState *s);
void lsi_device_reset(LSIState *s);
void lsi_request_cancel(LSIState *s, LSIRequest *p);

/* lsi53c895a-regs.c */
uint8_t lsi_reg_readb(LSIState *s, unsigned offset);
void lsi_reg_writeb(LSIState *s, unsigned offset, uint8_t val);

/* lsi53c895a-scripts.c */
void lsi_scripts_run(LSIState *s);
void lsi_scripts_timer(void *opaque);
void lsi_scripts_poke(LSIState *s);
void lsi_scsi_interrupt(LSIState *s, uint8_t stat0, uint8_t stat1);
void lsi_dma_interrupt(LSIState *s, uint8_t stat);
void lsi_set_phase(LSIState *s, int phase);
void lsi_bad_phase(LSIState *s, bool out, int new_phase);
void lsi_reselect(LSIState *s, LSIRequest *p);
LSIRequest *lsi_pending_request(LSIState *s);
bool lsi_irq_on_rsl(LSIState *s);
/* Bus callbacks' side: a chunk or the end of the current command arrived. */
void lsi_target_ready(LSIState *s);

#endif
