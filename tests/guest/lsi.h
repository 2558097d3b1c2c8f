/*
 * The test payload's polling driver for the LSI 53C895A (lsi.c): it writes a SCRIPTS program
 * into guest RAM, starts it through DSP and polls ISTAT until the program stops (SeaBIOS's
 * way: no interrupts, one command at a time, IDENTIFY without disconnect privilege but the
 * disconnect/reselect detour taken when the target disconnects anyway). The program, the
 * message, CDB and status bytes live at fixed addresses from 64 MiB and the data buffer from
 * 65 MiB (run with -m 128 or more). Register names are the datasheet's.
 */
#ifndef GUEST_LSI_H
#define GUEST_LSI_H

#include "guest.h"

#define LSI_SCRIPT 0x4000000ull /* the SCRIPTS program */
#define LSI_MSGOUT 0x4001000ull
#define LSI_CDB 0x4001100ull
#define LSI_STATUS 0x4001200ull
#define LSI_MSGIN 0x4001300ull
#define LSI_MSGTMP 0x4001400ull
#define LSI_SENSE 0x4001500ull
#define LSI_DATA 0x4100000ull /* up to 16 MiB */
#define LSI_SECTOR 512u
#define LSI_INT_DONE 0xc0ffee /* DSPS of a program that ran to its end */

enum {
    LSI_SCNTL1 = 0x01,
    LSI_DSTAT = 0x0c,
    LSI_SSTAT1 = 0x0e,
    LSI_ISTAT0 = 0x14,
    LSI_ISTAT1 = 0x15,
    LSI_DBC = 0x24,
    LSI_DSP = 0x2c,
    LSI_DSPS = 0x30,
    LSI_SIST0 = 0x42,
    LSI_SIST1 = 0x43,
};

enum { ISTAT_DIP = 0x01, ISTAT_SIP = 0x02, ISTAT_SRST = 0x40, ISTAT1_SRUN = 0x02 };
enum { DSTAT_IID = 0x01, DSTAT_SIR = 0x04, DSTAT_BF = 0x20, DSTAT_DFE = 0x80 };
enum { SIST0_MA = 0x80, SIST1_STO = 0x04 };
enum { LSI_PH_DO = 0, LSI_PH_DI = 1, LSI_PH_CMD = 2, LSI_PH_ST = 3, LSI_PH_MO = 6, LSI_PH_MI = 7 };
enum { LSI_NO_DATA = -1 };

typedef struct LSI {
    PCIDevice *pci;
    uint16_t io; /* BAR0: the registers */
} LSI;

/* How a program stopped; status and msgin are 0xff where the program did not get them. */
typedef struct LSIResult {
    bool timeout;
    uint8_t istat, dstat, sist0, sist1, status, msgin;
    uint32_t dsps;
} LSIResult;

/* The program being built at LSI_SCRIPT. */
typedef struct LSIScript {
    unsigned n; /* dwords written */
} LSIScript;

/* Find 1000:0012 on bus 0, enable I/O, memory and bus mastering, reset it. */
bool lsi_open(LSI *l);
uint8_t lsi_rd(LSI *l, uint8_t reg);
void lsi_wr(LSI *l, uint8_t reg, uint8_t v);
uint32_t lsi_rdl(LSI *l, uint8_t reg);
/* ISTAT0.SRST: the adapter and its SCSI bus (the disks then report a unit attention). */
void lsi_soft_reset(LSI *l);

void lsi_emit(LSIScript *s, uint32_t insn, uint32_t addr);
uint32_t lsi_move(unsigned phase, uint32_t count);
/* Start the program at LSI_SCRIPT and wait up to timeout_ms for DIP or SIP. */
LSIResult lsi_run(LSI *l, uint32_t timeout_ms);
/* The SeaBIOS-shaped program for one command: SELECT target, IDENTIFY, the CDB, the
 * reselection detour if the target disconnects, then (unless the target went to STATUS) one
 * MOVE of count bytes at data in that phase (LSI_NO_DATA: DATA IN, 0 bytes), STATUS, MSG IN,
 * INT LSI_INT_DONE. */
void lsi_script_cmd(LSIScript *s, unsigned target, const uint8_t *cdb, unsigned cdb_len, int phase,
                    uint64_t data, uint32_t count);
LSIResult lsi_cmd_raw(LSI *l, unsigned target, const uint8_t *cdb, unsigned cdb_len, int phase,
                      uint64_t data, uint32_t count);
/* STATUS and MSG IN by a program of their own, after a phase mismatch left the target there. */
LSIResult lsi_take_status(LSI *l);
/* lsi_cmd_raw, and lsi_take_status when the target went to STATUS while a MOVE waited (a
 * MOVE longer than the data; on QEMU also a command failing while disconnected, which
 * raises SIST0.MA at WAIT RESELECT). */
LSIResult lsi_cmd(LSI *l, unsigned target, const uint8_t *cdb, unsigned cdb_len, int phase,
                  uint64_t data, uint32_t count);
/* Did the command run to COMMAND COMPLETE? (its status byte is then r->status) */
bool lsi_done(const LSIResult *r);
/* REQUEST SENSE: key << 16 | ASC << 8 | ASCQ, or -1 if it did not complete. */
int32_t lsi_sense(LSI *l, unsigned target);
/* TEST UNIT READY until GOOD (unit attentions after power-on or reset); false if never. */
bool lsi_ready(LSI *l, unsigned target);
/* Capacity in sectors by READ CAPACITY(10), 0 on failure. */
uint64_t lsi_capacity(LSI *l, unsigned target);

#endif
