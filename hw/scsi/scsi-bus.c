/*
 * The SCSI bus: the "<hba>.0" qdev bus, scsi-id/lun lookup, the -drive if=scsi devices,
 * and the life of a request (new, enqueue, data chunks, complete or cancel, references).
 * The bus answers what does not depend on a device model: CDBs shorter than their group
 * code, unit attentions, REQUEST SENSE, REPORT LUNS, and everything sent to a LUN without
 * a device. Not the commands of a disk or CD (scsi-disk*.c) and not the HBA.
 */
#include <assert.h>
#include <string.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "scsi-int.h"

void scsi_bus_init(SCSIBus *bus, DeviceState *hba, const char *name, int max_target, int max_lun,
                   const SCSIBusOps *ops, void *opaque)
{
    static int next_busnr;

    bus->qbus = qbus_new(QBUS_TYPE_SCSI, name, hba, 0, bus);
    bus->qbus->hotplug = true; /* device_del of a target, as QEMU's SCSI buses allow */
    bus->hba = hba;
    bus->ops = ops;
    bus->opaque = opaque;
    bus->max_target = max_target;
    bus->max_lun = max_lun > 0 ? max_lun : 1;
    bus->busnr = next_busnr++;
    g_queue_init(&bus->requests);
}

SCSIDevice *scsi_bus_legacy_add_drive(SCSIBus *bus, BlockBackend *blk, int unit, Error **errp)
{
    g_autofree char *id = g_strdup_printf("%d", unit);

    if (unit < 0) {
        return (SCSIDevice *)qdev_create_on_bus("scsi-disk", bus->qbus, errp, "drive",
                                                blk_name(blk), NULL);
    }
    return (SCSIDevice *)qdev_create_on_bus("scsi-disk", bus->qbus, errp, "drive", blk_name(blk),
                                            "scsi-id", id, NULL);
}

bool scsi_bus_legacy_handle_cmdline(SCSIBus *bus, int bus_index, Error **errp)
{
    for (int unit = 0; unit < bus->max_target; unit++) {
        DriveInfo *dinfo = drive_get(IF_SCSI, bus_index, unit);
        BlockBackend *blk = dinfo ? drive_get_blk(dinfo) : NULL;

        if (blk && !scsi_bus_legacy_add_drive(bus, blk, unit, errp)) {
            return false;
        }
    }
    return true;
}

SCSIDevice *scsi_device_find(SCSIBus *bus, uint32_t id, uint32_t lun)
{
    for (unsigned i = 0; bus->qbus && i < bus->qbus->children->len; i++) {
        SCSIDevice *dev = g_ptr_array_index(bus->qbus->children, i);

        if (dev->id == id && dev->lun == lun) {
            return dev;
        }
    }
    return NULL;
}

bool scsi_target_exists(SCSIBus *bus, uint32_t id)
{
    for (unsigned i = 0; bus->qbus && i < bus->qbus->children->len; i++) {
        SCSIDevice *dev = g_ptr_array_index(bus->qbus->children, i);

        if (dev->id == id) {
            return true;
        }
    }
    return false;
}

void scsi_bus_reset(SCSIBus *bus)
{
    while (!g_queue_is_empty(&bus->requests)) {
        scsi_req_cancel(g_queue_peek_head(&bus->requests));
    }
    for (unsigned i = 0; bus->qbus && i < bus->qbus->children->len; i++) {
        SCSIDevice *dev = g_ptr_array_index(bus->qbus->children, i);

        dev->ops->reset(dev);
    }
}

/* ---- Helpers shared with the device models ---- */

unsigned scsi_cdb_length(uint8_t opcode)
{
    static const uint8_t len[8] = {6, 10, 10, 0, 16, 12, 0, 0};

    return len[opcode >> 5];
}

void scsi_build_sense(uint8_t *buf, uint8_t key, uint8_t asc, uint8_t ascq)
{
    memset(buf, 0, SCSI_SENSE_LEN);
    buf[0] = 0x70; /* current error, fixed format */
    buf[2] = key;
    buf[7] = SCSI_SENSE_LEN - 8;
    buf[12] = asc;
    buf[13] = ascq;
}

size_t scsi_req_resid(const SCSIRequest *req)
{
    uint64_t want = req->xfer < 0 ? -(int64_t)req->xfer : req->xfer;

    return want > req->moved ? want - req->moved : 0;
}

int32_t scsi_req_reply(SCSIRequest *req, uint8_t *buf, uint32_t len, uint32_t alloc_len)
{
    if (req->buf_owned) {
        g_free(req->buf);
    }
    req->buf = buf;
    req->buf_owned = true;
    return MIN(len, alloc_len);
}

static void scsi_req_drop_reply(SCSIRequest *req)
{
    if (req->buf_owned) {
        g_free(req->buf);
        req->buf = NULL;
        req->buf_owned = false;
    }
}

void scsi_req_reply_continue(SCSIRequest *req)
{
    if (req->moved == 0 && req->xfer > 0) {
        scsi_req_data(req, req->xfer);
    } else {
        scsi_req_complete(req, SCSI_STATUS_GOOD, scsi_req_resid(req));
    }
}

/* ---- What the bus answers ---- */

static void scsi_device_ua_reported(SCSIDevice *dev)
{
    dev->unit_attention = false;
    if (dev->ops->ua_reported) {
        dev->ops->ua_reported(dev);
    }
}

/* REPORT LUNS: LUN 0 always (SPC-4 requires it to answer), then every other LUN present. */
static int32_t scsi_bus_report_luns(SCSIRequest *req)
{
    uint32_t alloc = ldl_be_p(req->cdb + 6);
    SCSIBus *bus = req->bus;
    GByteArray *list = g_byte_array_new();
    uint8_t entry[8] = {0};

    if (alloc < 16 || req->cdb[2] > 2) {
        g_byte_array_free(list, TRUE);
        scsi_req_check_condition(req, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
        return 0;
    }
    g_byte_array_append(list, entry, 8); /* the header, filled below */
    g_byte_array_append(list, entry, 8); /* LUN 0 */
    for (unsigned i = 0; bus->qbus && i < bus->qbus->children->len; i++) {
        SCSIDevice *dev = g_ptr_array_index(bus->qbus->children, i);

        if (dev->id != req->id || dev->lun == 0) {
            continue;
        }
        memset(entry, 0, sizeof(entry));
        if (dev->lun < 256) {
            entry[1] = dev->lun;
        } else {
            entry[0] = 0x40 | ((dev->lun >> 8) & 0x3f); /* flat space addressing */
            entry[1] = dev->lun;
        }
        g_byte_array_append(list, entry, 8);
    }
    stl_be_p(list->data, list->len - 8);
    uint32_t len = list->len;
    return scsi_req_reply(req, g_byte_array_free(list, FALSE), len, alloc & ~7u); /* as QEMU */
}

/* REQUEST SENSE: the sense of the last command (what the initiator asks about), else a
 * pending unit attention (reported and cleared), else NO SENSE. */
static int32_t scsi_bus_request_sense(SCSIRequest *req)
{
    uint8_t *buf = g_malloc0(SCSI_SENSE_LEN);
    SCSIDevice *dev = req->dev;

    if (!dev && req->lun) {
        scsi_build_sense(buf, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, 0);
    } else if (!dev) {
        scsi_build_sense(buf, SENSE_NO_SENSE, 0, 0);
    } else if (dev->sense_len) {
        memcpy(buf, dev->sense, SCSI_SENSE_LEN);
        dev->sense_len = 0;
    } else if (dev->unit_attention) {
        scsi_build_sense(buf, SENSE_UNIT_ATTENTION, dev->ua_asc, dev->ua_ascq);
        scsi_device_ua_reported(dev);
    } else {
        scsi_build_sense(buf, SENSE_NO_SENSE, 0, 0);
    }
    if (req->cdb[1] & 1) { /* DESC: the same as descriptor-format sense, no descriptors */
        uint8_t key = buf[2] & 0xf, asc = buf[12], ascq = buf[13];

        memset(buf, 0, SCSI_SENSE_LEN);
        buf[0] = 0x72;
        buf[1] = key;
        buf[2] = asc;
        buf[3] = ascq;
        return scsi_req_reply(req, buf, 8, req->cdb[4]);
    }
    return scsi_req_reply(req, buf, SCSI_SENSE_LEN, req->cdb[4]);
}

/*
 * INQUIRY of a LUN without a device, as QEMU: a LUN other than 0 is "not supported"
 * (peripheral qualifier 3, type 1fh, nothing else); a missing LUN 0 of a target that has
 * other LUNs is "QEMU TARGET", qualifier 1 (not connected).
 */
static int32_t scsi_bus_nolun_inquiry(SCSIRequest *req)
{
    uint32_t alloc = lduw_be_p(req->cdb + 3);
    uint8_t *buf = g_malloc0(36);

    if (req->cdb[1] & 1) {
        if (req->cdb[2] != 0x00) { /* only the list of pages, which lists itself */
            g_free(buf);
            scsi_req_check_condition(req, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
            return 0;
        }
        buf[0] = req->lun ? SCSI_TYPE_NO_LUN : SCSI_TYPE_NOT_CONNECTED;
        buf[3] = 1;
        return scsi_req_reply(req, buf, 5, alloc);
    }
    if (req->cdb[2] != 0) {
        g_free(buf);
        scsi_req_check_condition(req, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
        return 0;
    }
    if (req->lun) {
        buf[0] = SCSI_TYPE_NO_LUN;
        return scsi_req_reply(req, buf, 36, alloc);
    }
    buf[0] = SCSI_TYPE_NOT_CONNECTED;
    buf[2] = 5;        /* SPC-3 */
    buf[3] = 2 | 0x10; /* response data format 2, HiSup */
    buf[4] = 36 - 5;
    buf[7] = 0x10 | 0x02; /* sync, command queueing */
    memcpy(buf + 8, "QEMU    QEMU TARGET     2.5", 27);
    return scsi_req_reply(req, buf, 36, alloc);
}

static int32_t scsi_bus_nolun_start(SCSIRequest *req)
{
    switch (req->cdb[0]) {
    case INQUIRY:
        return scsi_bus_nolun_inquiry(req);
    case TEST_UNIT_READY:
        if (req->lun == 0) {
            return 0; /* LUN 0 answers for its target */
        }
        break;
    }
    scsi_req_check_condition(req, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, 0);
    return 0;
}

/* ---- Requests ---- */

SCSIRequest *scsi_req_new(SCSIBus *bus, uint32_t id, uint32_t lun, uint32_t tag, const uint8_t *cdb,
                          unsigned cdb_len, void *hba_private)
{
    SCSIRequest *req = g_new0(SCSIRequest, 1);

    req->bus = bus;
    req->dev = scsi_device_find(bus, id, lun);
    req->id = id;
    req->lun = lun;
    req->tag = tag;
    req->cdb_len = MIN(cdb_len, SCSI_CDB_MAX);
    memcpy(req->cdb, cdb, req->cdb_len);
    req->hba_private = hba_private;
    req->refcount = 1;
    return req;
}

/* Whether the bus answers req itself rather than its device; may complete it at once. */
static bool scsi_req_bus_answers(SCSIRequest *req)
{
    SCSIDevice *dev = req->dev;
    uint8_t op = req->cdb[0];
    unsigned need = scsi_cdb_length(op);

    if (need == 0 || req->cdb_len < need) {
        scsi_req_check_condition(req, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
        return true;
    }
    if (op == REPORT_LUNS || op == REQUEST_SENSE || !dev) {
        return true;
    }
    /* MMC: INQUIRY, GET CONFIGURATION and GET EVENT STATUS NOTIFICATION neither see nor
     * clear a unit attention. */
    if (dev->unit_attention && op != INQUIRY && op != GET_CONFIGURATION &&
        op != GET_EVENT_STATUS_NOTIFICATION) {
        uint8_t asc = dev->ua_asc, ascq = dev->ua_ascq;

        scsi_device_ua_reported(dev);
        scsi_req_check_condition(req, SENSE_UNIT_ATTENTION, asc, ascq);
        return true;
    }
    return false;
}

int32_t scsi_req_enqueue(SCSIRequest *req)
{
    int32_t len = 0;

    assert(!req->enqueued);
    req->enqueued = true;
    scsi_req_ref(req); /* the bus's, until complete or cancel */
    scsi_req_ref(req); /* ours, while HBA callbacks run */
    g_queue_push_tail(&req->bus->requests, req);
    if (scsi_req_bus_answers(req)) {
        req->by_bus = true;
        if (!req->completed) {
            switch (req->cdb[0]) {
            case REPORT_LUNS:
                len = scsi_bus_report_luns(req);
                break;
            case REQUEST_SENSE:
                len = scsi_bus_request_sense(req);
                break;
            default:
                len = scsi_bus_nolun_start(req);
                break;
            }
        }
    } else {
        req->dev_free = req->dev->ops->free_req;
        len = req->dev->ops->start(req);
    }
    if (req->completed || req->cancelled) {
        len = 0;
    } else {
        req->xfer = len;
        if (len != 0) {
            scsi_req_continue(req);
        } else if (req->by_bus) {
            scsi_req_complete(req, SCSI_STATUS_GOOD, 0);
        }
    }
    scsi_req_unref(req);
    return len;
}

void scsi_req_continue(SCSIRequest *req)
{
    if (req->completed || req->cancelled) {
        return;
    }
    if (req->by_bus) {
        scsi_req_reply_continue(req);
    } else {
        req->dev->ops->continue_req(req);
    }
}

uint8_t *scsi_req_buf(SCSIRequest *req)
{
    return req->buf;
}

void scsi_req_data(SCSIRequest *req, uint32_t len)
{
    if (req->completed || req->cancelled) {
        return;
    }
    req->moved += len;
    req->bus->ops->transfer_data(req, len);
}

void scsi_req_cancel(SCSIRequest *req)
{
    if (!req->enqueued || req->completed || req->cancelled) {
        return;
    }
    scsi_req_ref(req);
    req->cancelled = true;
    g_queue_remove(&req->bus->requests, req);
    if (!req->by_bus && req->dev->ops->cancel) {
        req->dev->ops->cancel(req);
    }
    if (req->bus->ops->cancel) {
        req->bus->ops->cancel(req);
    }
    scsi_req_unref(req); /* the bus's */
    scsi_req_unref(req);
}

SCSIRequest *scsi_req_ref(SCSIRequest *req)
{
    assert(req->refcount > 0);
    req->refcount++;
    return req;
}

void scsi_req_unref(SCSIRequest *req)
{
    assert(req->refcount > 0);
    if (--req->refcount > 0) {
        return;
    }
    if (req->dev_free) {
        req->dev_free(req); /* not through req->dev: the device may be gone */
    }
    scsi_req_drop_reply(req);
    g_free(req);
}

void scsi_req_complete(SCSIRequest *req, uint8_t status, size_t resid)
{
    SCSIDevice *dev = req->dev;

    if (req->completed || req->cancelled) {
        return;
    }
    req->completed = true;
    if (dev) {
        if (status == SCSI_STATUS_CHECK_CONDITION && req->sense_len) {
            memcpy(dev->sense, req->sense, SCSI_SENSE_LEN);
            dev->sense_len = req->sense_len;
        } else if (req->cdb[0] != REQUEST_SENSE) {
            dev->sense_len = 0;
        }
    }
    scsi_req_ref(req);
    if (req->enqueued) {
        g_queue_remove(&req->bus->requests, req);
    }
    req->bus->ops->complete(req, status, resid);
    if (req->enqueued) {
        scsi_req_unref(req); /* the bus's */
    }
    scsi_req_unref(req);
}

void scsi_req_check_condition(SCSIRequest *req, uint8_t key, uint8_t asc, uint8_t ascq)
{
    scsi_build_sense(req->sense, key, asc, ascq);
    req->sense_len = SCSI_SENSE_LEN;
    scsi_req_complete(req, SCSI_STATUS_CHECK_CONDITION, scsi_req_resid(req));
}
