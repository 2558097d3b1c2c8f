/*
 * The SCSI bus between a host bus adapter (the LSI 53c895a) and its targets (scsi-hd,
 * scsi-cd, scsi-disk). A request is one command to one LUN: the HBA creates it from a
 * CDB, enqueues it, and moves its data between guest memory and the request's buffer a
 * chunk at a time; the device reads or writes the drive between chunks and ends the
 * request with a status byte. Sense data stays with the device for REQUEST SENSE and
 * is also kept in the request for HBAs that want autosense. Not the HBA's phases,
 * messages or DMA: those belong to the HBA.
 *
 * Threads: everything runs in the main loop with the BQL held.
 */
#ifndef HW_SCSI_H
#define HW_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hw/qdev.h"
#include "util/error.h"

#define QBUS_TYPE_SCSI "SCSI"
#define SCSI_SENSE_LEN 18 /* fixed-format sense */
#define SCSI_CDB_MAX 16

/* Status bytes (SAM-5). */
enum {
    SCSI_STATUS_GOOD = 0x00,
    SCSI_STATUS_CHECK_CONDITION = 0x02,
    SCSI_STATUS_BUSY = 0x08,
    SCSI_STATUS_RESERVATION_CONFLICT = 0x18,
    SCSI_STATUS_TASK_SET_FULL = 0x28,
};

typedef struct SCSIBus SCSIBus;
typedef struct SCSIDevice SCSIDevice;
typedef struct SCSIRequest SCSIRequest;

/* What the HBA provides to its bus. */
typedef struct SCSIBusOps {
    /*
     * The device has `len` bytes ready at scsi_req_buf(req) (data-in), or wants `len` bytes
     * written there (data-out). The HBA moves them whenever its guest lets it (from this
     * call or later) and then calls scsi_req_continue(req).
     */
    void (*transfer_data)(SCSIRequest *req, uint32_t len);
    /* The command ended: status byte, and how many bytes of the transfer length that
     * scsi_req_enqueue() announced were not moved. The bus drops its own reference after
     * this; the HBA still holds the one scsi_req_new() gave it, for scsi_req_unref(). */
    void (*complete)(SCSIRequest *req, uint8_t status, size_t resid);
    /* Optional: the request was cancelled (bus reset, device removed) before it completed;
     * as after complete, the HBA's own reference is still the HBA's to drop. */
    void (*cancel)(SCSIRequest *req);
} SCSIBusOps;

struct SCSIBus {
    BusState *qbus; /* "<hba id or name>.0"; devices plug in with scsi-id= and lun= */
    DeviceState *hba;
    const SCSIBusOps *ops;
    void *opaque;    /* the HBA's state */
    int max_target;  /* scsi-id 0..max_target-1 (LSI: 7, the HBA itself being 7) */
    int max_lun;     /* lun 0..max_lun-1 */
    int busnr;       /* in creation order from 0, as QEMU numbers SCSI buses */
    GQueue requests; /* bus-private: enqueued requests not yet completed or cancelled */
};

/* The part of every SCSI target device that the bus and the HBA look at. */
struct SCSIDevice {
    DeviceState qdev;
    uint32_t id; /* scsi-id */
    uint32_t lun;
    SCSIBus *bus;
    const struct SCSIDeviceOps *ops;
    uint8_t sense[SCSI_SENSE_LEN]; /* for REQUEST SENSE; zero length when sense_len is 0 */
    uint8_t sense_len;
    bool unit_attention;     /* reported (once) on the next command but INQUIRY/REPORT LUNS */
    uint8_t ua_asc, ua_ascq; /* which unit attention: 29h/00h reset, 28h/00h medium changed */
};

/* The device model's side: scsi-disk.c. */
typedef struct SCSIDeviceOps {
    /* Parse the CDB into req (transfer direction and length) and start the command. */
    int32_t (*start)(SCSIRequest *req);
    /* The HBA has consumed / provided the chunk: read or write more, or complete. */
    void (*continue_req)(SCSIRequest *req);
    /* Stop I/O in flight for req (its completion must not call the HBA any more). */
    void (*cancel)(SCSIRequest *req);
    void (*reset)(SCSIDevice *dev); /* bus reset: drop requests, set unit attention */
    /* Optional: free dev_private (and buf if the device set it) with the last reference. */
    void (*free_req)(SCSIRequest *req);
    /* Optional: the bus has just reported the device's unit attention (it may queue another). */
    void (*ua_reported)(SCSIDevice *dev);
} SCSIDeviceOps;

struct SCSIRequest {
    SCSIBus *bus;
    SCSIDevice *dev; /* NULL when no device answers the LUN (the bus answers) */
    uint32_t tag;
    uint32_t id; /* the target's scsi-id */
    uint32_t lun;
    uint8_t cdb[SCSI_CDB_MAX];
    unsigned cdb_len;
    void *hba_private;
    int refcount;
    bool enqueued, completed, cancelled;
    uint8_t sense[SCSI_SENSE_LEN]; /* autosense of a CHECK CONDITION */
    uint8_t sense_len;
    uint8_t *buf;      /* what scsi_req_buf() returns: set by whoever answers */
    void *dev_private; /* the device model's per-request state */
    int32_t xfer;      /* what scsi_req_enqueue() returned */
    uint64_t moved;    /* bytes handed to the HBA so far by scsi_req_data() */
    bool by_bus;       /* bus-private: the bus answers (REPORT LUNS, REQUEST SENSE, ...) */
    bool buf_owned;    /* bus-private: buf is a reply g_free'd with the request */
    void (*dev_free)(SCSIRequest *req); /* bus-private: the device's free_req */
};

/* Bus set-up by the HBA, at realize; name is the qdev bus name (QEMU's: "<hba id>.0", else
 * "scsi.N" in creation order). */
void scsi_bus_init(SCSIBus *bus, DeviceState *hba, const char *name, int max_target, int max_lun,
                   const SCSIBusOps *ops, void *opaque);
/* QEMU's legacy command line: a scsi-disk for each -drive if=scsi,bus=bus_index,unit=U at
 * scsi-id U (lun 0). False with errp as qdev creation reports it. */
bool scsi_bus_legacy_handle_cmdline(SCSIBus *bus, int bus_index, Error **errp);
/* A scsi-disk for blk at scsi-id unit (-1: the first free one); NULL with errp as the
 * device's realize reports it. */
SCSIDevice *scsi_bus_legacy_add_drive(SCSIBus *bus, BlockBackend *blk, int unit, Error **errp);
/* The device at (id, lun), else NULL. */
SCSIDevice *scsi_device_find(SCSIBus *bus, uint32_t id, uint32_t lun);
/* Whether any LUN answers at scsi-id id (selection succeeds). */
bool scsi_target_exists(SCSIBus *bus, uint32_t id);
/* SCSI bus reset: cancel every request, unit attention on every device. */
void scsi_bus_reset(SCSIBus *bus);

/*
 * A command for LUN `lun` of target `id`, which must exist (scsi_target_exists). A LUN
 * without a device gets the bus's answers (INQUIRY: peripheral qualifier 3; REPORT LUNS;
 * REQUEST SENSE; anything else CHECK CONDITION, LOGICAL UNIT NOT SUPPORTED). cdb_len is
 * what the HBA has; a CDB shorter than its group code says completes with CHECK CONDITION.
 * The request starts with one reference, which the HBA holds.
 */
SCSIRequest *scsi_req_new(SCSIBus *bus, uint32_t id, uint32_t lun, uint32_t tag, const uint8_t *cdb,
                          unsigned cdb_len, void *hba_private);
/* Start it: > 0 bytes to the initiator (data-in), < 0 to the device (data-out), 0 none.
 * transfer_data or complete may be called before this returns. */
int32_t scsi_req_enqueue(SCSIRequest *req);
/* After transfer_data: the chunk was moved. */
void scsi_req_continue(SCSIRequest *req);
uint8_t *scsi_req_buf(SCSIRequest *req);
/* Cancel a request that has not completed; calls ops->cancel, not ops->complete. */
void scsi_req_cancel(SCSIRequest *req);
SCSIRequest *scsi_req_ref(SCSIRequest *req);
void scsi_req_unref(SCSIRequest *req);

/* For device models: end req (status, resid), or with CHECK CONDITION and fixed-format sense
 * key/asc/ascq, which is also kept in the device for REQUEST SENSE. */
void scsi_req_complete(SCSIRequest *req, uint8_t status, size_t resid);
void scsi_req_check_condition(SCSIRequest *req, uint8_t key, uint8_t asc, uint8_t ascq);
/* For device models: hand the HBA `len` bytes of req's buffer. */
void scsi_req_data(SCSIRequest *req, uint32_t len);

#endif
