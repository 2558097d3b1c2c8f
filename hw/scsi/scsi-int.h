/*
 * Inside the SCSI emulation: opcodes, sense keys and additional sense codes as SPC/SBC/MMC
 * name them, big-endian field access for CDBs and replies, and the calls between the bus
 * (scsi-bus.c) and the disk/CD model (scsi-disk*.c). Not the HBA's interface: that is
 * include/hw/scsi.h.
 */
#ifndef HW_SCSI_INT_H
#define HW_SCSI_INT_H

#include <stdint.h>
#include "hw/scsi.h"
#include "util/iov.h"
#include "util/bswap.h"

enum {
    TEST_UNIT_READY = 0x00,
    REQUEST_SENSE = 0x03,
    FORMAT_UNIT = 0x04,
    READ_6 = 0x08,
    WRITE_6 = 0x0a,
    INQUIRY = 0x12,
    VERIFY_6 = 0x13,
    MODE_SELECT_6 = 0x15,
    RESERVE_6 = 0x16,
    RELEASE_6 = 0x17,
    MODE_SENSE_6 = 0x1a,
    START_STOP_UNIT = 0x1b,
    PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1e,
    READ_CAPACITY_10 = 0x25,
    READ_10 = 0x28,
    WRITE_10 = 0x2a,
    SEEK_10 = 0x2b,
    WRITE_VERIFY_10 = 0x2e,
    VERIFY_10 = 0x2f,
    SYNCHRONIZE_CACHE_10 = 0x35,
    WRITE_SAME_10 = 0x41,
    UNMAP = 0x42,
    READ_TOC_PMA_ATIP = 0x43,
    GET_CONFIGURATION = 0x46,
    GET_EVENT_STATUS_NOTIFICATION = 0x4a,
    READ_DISC_INFORMATION = 0x51,
    MODE_SELECT_10 = 0x55,
    RESERVE_10 = 0x56,
    RELEASE_10 = 0x57,
    MODE_SENSE_10 = 0x5a,
    READ_16 = 0x88,
    WRITE_16 = 0x8a,
    WRITE_VERIFY_16 = 0x8e,
    VERIFY_16 = 0x8f,
    SYNCHRONIZE_CACHE_16 = 0x91,
    WRITE_SAME_16 = 0x93,
    SERVICE_ACTION_IN_16 = 0x9e,
    REPORT_LUNS = 0xa0,
    READ_12 = 0xa8,
    WRITE_12 = 0xaa,
    WRITE_VERIFY_12 = 0xae,
    VERIFY_12 = 0xaf,
    READ_DVD_STRUCTURE = 0xad,
    SET_CD_SPEED = 0xbb,
    MECHANISM_STATUS = 0xbd,
    READ_CD = 0xbe,
};

#define SAI_READ_CAPACITY_16 0x10

/* Sense keys (SPC-4 table 54). */
enum {
    SENSE_NO_SENSE = 0x0,
    SENSE_NOT_READY = 0x2,
    SENSE_MEDIUM_ERROR = 0x3,
    SENSE_HARDWARE_ERROR = 0x4,
    SENSE_ILLEGAL_REQUEST = 0x5,
    SENSE_UNIT_ATTENTION = 0x6,
    SENSE_DATA_PROTECT = 0x7,
    SENSE_ABORTED_COMMAND = 0xb,
};

/* Additional sense codes (ASC, with ASCQ 0 unless said). */
enum {
    ASC_NO_ADDITIONAL = 0x00, /* ASCQ 06h: I/O process terminated */
    ASC_WRITE_ERROR = 0x0c,
    ASC_UNRECOVERED_READ_ERROR = 0x11,
    ASC_INVALID_OPCODE = 0x20,
    ASC_LBA_OUT_OF_RANGE = 0x21,
    ASC_INVALID_FIELD_IN_CDB = 0x24,
    ASC_LUN_NOT_SUPPORTED = 0x25,
    ASC_INVALID_FIELD_IN_PARAM = 0x26,
    ASC_WRITE_PROTECTED = 0x27, /* ASCQ 07h: space allocation failed */
    ASC_MEDIUM_CHANGED = 0x28,
    ASC_RESET = 0x29,
    ASC_INCOMPATIBLE_FORMAT = 0x30,
    ASC_SAVING_PARAMS_NOT_SUPPORTED = 0x39,
    ASC_MEDIUM_NOT_PRESENT = 0x3a,
    ASC_TARGET_FAILURE = 0x44,
    ASC_MEDIUM_REMOVAL_PREVENTED = 0x53,
    ASC_PARAM_LIST_LENGTH_ERROR = 0x1a,
};

#define SCSI_TYPE_DISK 0x00
#define SCSI_TYPE_ROM 0x05
#define SCSI_TYPE_NO_LUN 0x7f        /* peripheral qualifier 3, type 1fh */
#define SCSI_TYPE_NOT_CONNECTED 0x3f /* peripheral qualifier 1, type 1fh */


static inline uint32_t scsi_ld24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}






/* The CDB length the opcode's group code gives (SPC-4 4.2.5.1); 0 for the reserved and
 * variable-length groups. */
unsigned scsi_cdb_length(uint8_t opcode);
/* Fixed-format sense data (SPC-4 4.5.3), SCSI_SENSE_LEN bytes. */
void scsi_build_sense(uint8_t *buf, uint8_t key, uint8_t asc, uint8_t ascq);
/* resid for scsi_req_complete: the part of the announced transfer not moved. */
size_t scsi_req_resid(const SCSIRequest *req);
/* A reply built in memory by the bus or a device: len bytes at buf (which the request then
 * owns and frees), of which the allocation length lets alloc_len go. Returns what
 * scsi_req_enqueue should return. */
int32_t scsi_req_reply(SCSIRequest *req, uint8_t *buf, uint32_t len, uint32_t alloc_len);
/* The continue step of a reply built by scsi_req_reply: hand it over once, then complete. */
void scsi_req_reply_continue(SCSIRequest *req);

/* ---- The disk and CD model (scsi-disk.c, scsi-disk-cmd.c, scsi-cd.c) ---- */

/* Data moves between the HBA and the drive in chunks of at most this. */
#define SCSI_DISK_CHUNK (128 * 1024)

typedef struct SCSIDiskState {
    SCSIDevice dev; /* first: the bus sees a SCSIDevice */
    BlockBackend *blk;
    uint32_t channel;
    int32_t bootindex;
    uint16_t logical_block_size, physical_block_size, min_io_size;
    uint32_t opt_io_size, discard_granularity;
    uint64_t wwn;
    bool removable, dpofua;
    char *serial, *version, *vendor, *product, *device_id;
    uint32_t cyls, heads, secs; /* disks: given, or set at realize (mode pages 04h/05h) */
    /* Set at realize. */
    bool is_cd;
    uint32_t blocksize;
    /* Removable media (scsi-cd, scsi-hd removable=on). */
    bool tray_open, tray_locked;
    bool media_changed;              /* report MEDIUM CHANGED after the no-medium unit attention */
    bool media_event, eject_request; /* for GET EVENT STATUS NOTIFICATION */
    GQueue kept;                     /* SCSIDiskReq kept by the "stop" error policy, oldest first */
} SCSIDiskState;

typedef enum SCSIDiskReqKind {
    SCSI_DISK_REPLY, /* answered from memory (scsi_req_reply) */
    SCSI_DISK_READ,  /* blocks to the HBA */
    SCSI_DISK_WRITE, /* blocks from the HBA */
    SCSI_DISK_PARAM, /* a parameter list from the HBA, then param_done */
    SCSI_DISK_AIO,   /* in the drive, no data to move (SYNCHRONIZE CACHE, UNMAP...) */
} SCSIDiskReqKind;

typedef struct SCSIDiskReq SCSIDiskReq;
struct SCSIDiskReq {
    SCSIRequest *req;
    SCSIDiskState *s;
    SCSIDiskReqKind kind;
    uint64_t offset;    /* byte offset on the drive of the next chunk */
    uint64_t remaining; /* bytes still to move */
    uint32_t chunk;     /* bytes of the chunk in flight or with the HBA */
    bool with_hba;      /* the HBA has the chunk (reading it out or filling it in) */
    bool started;       /* continue_req ran once */
    int write_flags;    /* BDRV_REQ_FUA for FUA writes */
    uint8_t *iobuf;
    bool iobuf_chunk;   /* iobuf has SCSI_DISK_CHUNK bytes: it may become the spare */
    IOVector qiov;
    void (*retry)(SCSIDiskReq *r);      /* the step a "stop" kept, run again on cont */
    void (*param_done)(SCSIDiskReq *r); /* SCSI_DISK_PARAM: the list is in iobuf */
    /* WRITE SAME / UNMAP: the ranges still to do. */
    uint64_t ws_lba, ws_blocks;
    bool ws_unmap, ws_zero;
};

/* scsi-disk.c */
/* r->iobuf (dropped first), len bytes of zeroes, page-aligned: a drive opened with O_DIRECT
 * (cache=none) reads and writes it without bouncing it through a buffer of its own. Up to
 * SCSI_DISK_CHUNK bytes it is the spare buffer when there is one. */
void scsi_disk_iobuf_new(SCSIDiskReq *r, size_t len);
uint64_t scsi_disk_nb_blocks(SCSIDiskState *s);
bool scsi_disk_check_range(SCSIDiskReq *r, uint64_t lba, uint64_t nb);
void scsi_disk_req_error(SCSIDiskReq *r, int ret);
bool scsi_disk_io_failed(SCSIDiskReq *r, int ret, bool is_read, void (*retry)(SCSIDiskReq *r));
void scsi_disk_ua(SCSIDiskState *s, uint8_t asc, uint8_t ascq);
int32_t scsi_disk_invalid_field(SCSIDiskReq *r);
/* Ask the HBA for a parameter list of len bytes; done runs once it is in r->iobuf. */
int32_t scsi_disk_param_in(SCSIDiskReq *r, uint32_t len, void (*done)(SCSIDiskReq *r));
/* SYNCHRONIZE CACHE: flush the drive, then complete. */
void scsi_disk_flush(SCSIDiskReq *r);
void scsi_disk_aio_begin(SCSIDiskReq *r);
bool scsi_disk_aio_end(SCSIDiskReq *r);

/* scsi-disk-cmd.c: the commands answered from memory, and parameter-list commands. */
/* Run the command of r that is not a block transfer; false when the opcode is unknown. */
bool scsi_disk_emulate(SCSIDiskReq *r, int32_t *len);

/* scsi-cd.c: the MMC commands of scsi-cd. False when the opcode is not one of them. */
bool scsi_cd_emulate(SCSIDiskReq *r, int32_t *len);
int scsi_cd_mode_page_caps(SCSIDiskState *s, uint8_t *p, bool changeable);

#endif
