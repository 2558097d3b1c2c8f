/*
 * The SCSI disk and CD-ROM models: -device scsi-hd, scsi-cd and the legacy scsi-disk (a
 * CD when its drive has media=cdrom), their properties and realize checks with QEMU 2.2's
 * messages, the backend callbacks (media change, tray, retry after `cont`), and the block
 * transfers: READ/WRITE(6/10/12/16), WRITE AND VERIFY, VERIFY and SYNCHRONIZE CACHE, in
 * chunks through blk_aio_* under the drive's werror/rerror policy. Commands answered from
 * memory are in scsi-disk-cmd.c, the MMC ones in scsi-cd.c. Not the bus (scsi-bus.c).
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "block/block-events.h"
#include "block/error-policy.h"
#include "hw/hd-geometry.h"
#include "scsi-int.h"

/* ---- Small helpers for the command files ---- */

uint64_t scsi_disk_nb_blocks(SCSIDiskState *s)
{
    int64_t len = blk_is_available(s->blk) ? blk_getlength(s->blk) : 0;

    return len > 0 ? (uint64_t)len / s->blocksize : 0;
}

/* nb blocks from lba lie on the medium (QEMU's rule: lba + nb <= capacity, no wrap). */
bool scsi_disk_check_range(SCSIDiskReq *r, uint64_t lba, uint64_t nb)
{
    uint64_t total = scsi_disk_nb_blocks(r->s);

    if (lba > total || nb > total - lba) {
        scsi_req_check_condition(r->req, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
        return false;
    }
    return true;
}

int32_t scsi_disk_invalid_field(SCSIDiskReq *r)
{
    scsi_req_check_condition(r->req, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
    return 0;
}

/* SAM's precedence of unit attentions, as QEMU ranks them: power on and resets first. */
static unsigned scsi_ua_rank(uint8_t asc, uint8_t ascq)
{
    if (asc == ASC_RESET && ascq <= 0x07 && ascq != 0x05 && ascq != 0x06) {
        return ascq;
    }
    return asc << 8 | ascq;
}

/* Set a unit attention unless one that takes precedence is pending. */
void scsi_disk_ua(SCSIDiskState *s, uint8_t asc, uint8_t ascq)
{
    SCSIDevice *dev = &s->dev;

    if (dev->unit_attention && scsi_ua_rank(dev->ua_asc, dev->ua_ascq) <= scsi_ua_rank(asc, ascq)) {
        return;
    }
    dev->unit_attention = true;
    dev->ua_asc = asc;
    dev->ua_ascq = ascq;
}

/* A request reported as failed with errno ret, with QEMU's sense for it. */
void scsi_disk_req_error(SCSIDiskReq *r, int ret)
{
    switch (-ret) {
    case ENOMEDIUM:
        scsi_req_check_condition(r->req, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT, 0);
        break;
    case ENOMEM:
        scsi_req_check_condition(r->req, SENSE_HARDWARE_ERROR, ASC_TARGET_FAILURE, 0);
        break;
    case EINVAL:
        scsi_req_check_condition(r->req, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
        break;
    case ENOSPC:
        scsi_req_check_condition(r->req, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0x07);
        break;
    default: /* I/O process terminated */
        scsi_req_check_condition(r->req, SENSE_ABORTED_COMMAND, ASC_NO_ADDITIONAL, 0x06);
        break;
    }
}

/*
 * A failed request under werror/rerror: true when the command is over for now (reported,
 * or kept by "stop" until `cont` runs retry), false when the error is to be ignored.
 */
bool scsi_disk_io_failed(SCSIDiskReq *r, int ret, bool is_read, void (*retry)(SCSIDiskReq *r))
{
    switch (blk_handle_error(r->s->blk, is_read, ret)) {
    case BLOCK_ERROR_ACTION_IGNORE:
        return false;
    case BLOCK_ERROR_ACTION_STOP:
        r->retry = retry;
        scsi_req_ref(r->req);
        g_queue_push_tail(&r->s->kept, r);
        return true;
    default:
        scsi_disk_req_error(r, ret);
        return true;
    }
}

/* Around every blk_aio_* call: the request lives until its callback has run. */
void scsi_disk_aio_begin(SCSIDiskReq *r)
{
    scsi_req_ref(r->req);
}

/* In the callback: false (and the reference dropped) when the request was cancelled. */
bool scsi_disk_aio_end(SCSIDiskReq *r)
{
    if (r->req->cancelled) {
        scsi_req_unref(r->req);
        return false;
    }
    return true;
}

static void scsi_disk_aio_put(SCSIDiskReq *r)
{
    scsi_req_unref(r->req);
}

/* ---- Block transfers ---- */

static void scsi_disk_read_chunk(SCSIDiskReq *r);
static void scsi_disk_write_chunk(SCSIDiskReq *r);

static void scsi_disk_set_chunk(SCSIDiskReq *r)
{
    r->chunk = MIN(r->remaining, (uint64_t)SCSI_DISK_CHUNK);
    iov_reset(&r->qiov);
    iov_add(&r->qiov, r->iobuf, r->chunk);
}

static void scsi_disk_read_done(void *opaque, int ret)
{
    SCSIDiskReq *r = opaque;

    if (!scsi_disk_aio_end(r)) {
        return;
    }
    if (ret < 0 && scsi_disk_io_failed(r, ret, true, scsi_disk_read_chunk)) {
        scsi_disk_aio_put(r);
        return;
    }
    r->offset += r->chunk;
    r->remaining -= r->chunk;
    r->with_hba = true;
    scsi_req_data(r->req, r->chunk);
    scsi_disk_aio_put(r);
}

static void scsi_disk_read_chunk(SCSIDiskReq *r)
{
    scsi_disk_set_chunk(r);
    scsi_disk_aio_begin(r);
    blk_aio_preadv(r->s->blk, r->offset, &r->qiov, 0, scsi_disk_read_done, r);
}

/* Ask the HBA for the next chunk of data-out. */
static void scsi_disk_want_chunk(SCSIDiskReq *r)
{
    scsi_disk_set_chunk(r);
    r->with_hba = true;
    scsi_req_data(r->req, r->chunk);
}

static void scsi_disk_write_done(void *opaque, int ret)
{
    SCSIDiskReq *r = opaque;

    if (!scsi_disk_aio_end(r)) {
        return;
    }
    if (ret < 0 && scsi_disk_io_failed(r, ret, false, scsi_disk_write_chunk)) {
        scsi_disk_aio_put(r);
        return;
    }
    r->offset += r->chunk;
    r->remaining -= r->chunk;
    if (r->remaining == 0) {
        scsi_req_complete(r->req, SCSI_STATUS_GOOD, scsi_req_resid(r->req));
    } else {
        scsi_disk_want_chunk(r);
    }
    scsi_disk_aio_put(r);
}

static void scsi_disk_write_chunk(SCSIDiskReq *r)
{
    scsi_disk_aio_begin(r);
    blk_aio_pwritev(r->s->blk, r->offset, &r->qiov, r->write_flags, scsi_disk_write_done, r);
}

static void scsi_disk_flush_step(SCSIDiskReq *r);

static void scsi_disk_flush_done(void *opaque, int ret)
{
    SCSIDiskReq *r = opaque;

    if (!scsi_disk_aio_end(r)) {
        return;
    }
    if (ret < 0 && scsi_disk_io_failed(r, ret, false, scsi_disk_flush_step)) {
        scsi_disk_aio_put(r);
        return;
    }
    scsi_req_complete(r->req, SCSI_STATUS_GOOD, 0);
    scsi_disk_aio_put(r);
}

void scsi_disk_flush(SCSIDiskReq *r)
{
    r->kind = SCSI_DISK_AIO;
    scsi_disk_flush_step(r);
}

static void scsi_disk_flush_step(SCSIDiskReq *r)
{
    scsi_disk_aio_begin(r);
    blk_aio_flush(r->s->blk, scsi_disk_flush_done, r);
}

/* The LBA and block count of READ/WRITE/VERIFY (6/10/12/16), as the opcode's group says. */
static void scsi_disk_rw_fields(const uint8_t *cdb, uint64_t *lba, uint64_t *nb)
{
    switch (cdb[0] >> 5) {
    case 0:
        *lba = scsi_ld24(cdb + 1) & 0x1fffff;
        *nb = cdb[4] ? cdb[4] : 256;
        break;
    case 1:
        *lba = ldl_be_p(cdb + 2);
        *nb = lduw_be_p(cdb + 7);
        break;
    case 4:
        *lba = ldq_be_p(cdb + 2);
        *nb = ldl_be_p(cdb + 10);
        break;
    default:
        *lba = ldl_be_p(cdb + 2);
        *nb = ldl_be_p(cdb + 6);
        break;
    }
}

static int32_t scsi_disk_data_protect(SCSIDiskReq *r)
{
    scsi_req_check_condition(r->req, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
    return 0;
}

/*
 * READ, WRITE, WRITE AND VERIFY and VERIFY, checked in QEMU's order: write protection,
 * protection information (not supported), a transfer too long for the HBA interface
 * (INT32_MAX bytes), the LBA range. VERIFY compares nothing: BYTCHK is refused, as QEMU.
 */
static int32_t scsi_disk_rw(SCSIDiskReq *r)
{
    const uint8_t *cdb = r->req->cdb;
    uint8_t op = cdb[0];
    bool is_read = op == READ_6 || op == READ_10 || op == READ_12 || op == READ_16;
    bool is_verify = op == VERIFY_10 || op == VERIFY_12 || op == VERIFY_16;
    uint64_t lba, nb, bytes;

    scsi_disk_rw_fields(cdb, &lba, &nb);
    if (!is_read && !is_verify && blk_is_read_only(r->s->blk)) {
        return scsi_disk_data_protect(r);
    }
    if ((cdb[1] & 0xe0) || (is_verify && (cdb[1] & 0x06))) {
        return scsi_disk_invalid_field(r);
    }
    bytes = nb * r->s->blocksize; /* < 2^32 * 2^15: no overflow */
    if (bytes > INT32_MAX) {
        return scsi_disk_invalid_field(r);
    }
    if (!scsi_disk_check_range(r, lba, nb)) {
        return 0;
    }
    if (bytes == 0 || is_verify) {
        scsi_req_complete(r->req, SCSI_STATUS_GOOD, 0);
        return 0;
    }
    r->offset = lba * r->s->blocksize;
    r->remaining = bytes;
    scsi_disk_iobuf_new(r, MIN(bytes, (uint64_t)SCSI_DISK_CHUNK));
    r->req->buf = r->iobuf;
    if (is_read) {
        r->kind = SCSI_DISK_READ;
        return (int32_t)bytes;
    }
    r->kind = SCSI_DISK_WRITE;
    if (op != WRITE_6 && (cdb[1] & 0x08)) {
        r->write_flags = BDRV_REQ_FUA;
    }
    return -(int32_t)bytes;
}

int32_t scsi_disk_param_in(SCSIDiskReq *r, uint32_t len, void (*done)(SCSIDiskReq *r))
{
    if (len == 0) {
        scsi_req_complete(r->req, SCSI_STATUS_GOOD, 0);
        return 0;
    }
    r->kind = SCSI_DISK_PARAM;
    r->param_done = done;
    scsi_disk_iobuf_new(r, len);
    r->remaining = len;
    return -(int32_t)len;
}

/* ---- SCSIDeviceOps ---- */

/* Commands that run without a medium (QEMU's list); the rest get NOT READY. */
static bool scsi_disk_needs_medium(uint8_t op)
{
    switch (op) {
    case INQUIRY:
    case MODE_SENSE_6:
    case MODE_SENSE_10:
    case RESERVE_6:
    case RELEASE_6:
    case RESERVE_10:
    case RELEASE_10:
    case START_STOP_UNIT:
    case PREVENT_ALLOW_MEDIUM_REMOVAL:
    case GET_CONFIGURATION:
    case GET_EVENT_STATUS_NOTIFICATION:
    case MECHANISM_STATUS:
    case REQUEST_SENSE:
        return false;
    default:
        return true;
    }
}

static int32_t scsi_disk_start(SCSIRequest *req)
{
    SCSIDiskState *s = (SCSIDiskState *)req->dev;
    SCSIDiskReq *r = g_new0(SCSIDiskReq, 1);
    int32_t len = 0;

    r->req = req;
    r->s = s;
    iov_init(&r->qiov, 1);
    req->dev_private = r;
    if (scsi_disk_needs_medium(req->cdb[0]) && !blk_is_available(s->blk)) {
        scsi_req_check_condition(req, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT, 0);
        return 0;
    }
    switch (req->cdb[0]) {
    case READ_6:
    case READ_10:
    case READ_12:
    case READ_16:
    case WRITE_6:
    case WRITE_10:
    case WRITE_12:
    case WRITE_16:
    case WRITE_VERIFY_10:
    case WRITE_VERIFY_12:
    case WRITE_VERIFY_16:
    case VERIFY_10:
    case VERIFY_12:
    case VERIFY_16:
        return scsi_disk_rw(r);
    case SYNCHRONIZE_CACHE_10:
    case SYNCHRONIZE_CACHE_16:
        scsi_disk_flush(r);
        return 0;
    }
    if (scsi_cd_emulate(r, &len) || scsi_disk_emulate(r, &len)) {
        return len;
    }
    scsi_req_check_condition(req, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
    return 0;
}

static void scsi_disk_continue(SCSIRequest *req)
{
    SCSIDiskReq *r = req->dev_private;
    bool had_chunk = r->with_hba;

    /* Only the first call (from scsi_req_enqueue) and one per chunk handed over move on:
     * an extra one while the drive works, or before the HBA had a chunk, is ignored. */
    if (r->kind != SCSI_DISK_REPLY && !had_chunk && r->started) {
        return;
    }
    r->started = true;
    r->with_hba = false;
    switch (r->kind) {
    case SCSI_DISK_REPLY:
        scsi_req_reply_continue(req);
        break;
    case SCSI_DISK_READ:
        if (r->remaining == 0) {
            scsi_req_complete(req, SCSI_STATUS_GOOD, scsi_req_resid(req));
        } else {
            scsi_disk_read_chunk(r);
        }
        break;
    case SCSI_DISK_WRITE:
        if (had_chunk) {
            scsi_disk_write_chunk(r);
        } else {
            scsi_disk_want_chunk(r);
        }
        break;
    case SCSI_DISK_PARAM:
        if (had_chunk) {
            r->param_done(r);
        } else {
            r->with_hba = true;
            req->buf = r->iobuf;
            scsi_req_data(req, r->remaining);
        }
        break;
    case SCSI_DISK_AIO:
        break;
    }
}

static void scsi_disk_cancel(SCSIRequest *req)
{
    SCSIDiskReq *r = req->dev_private;

    if (r && g_queue_remove(&r->s->kept, r)) {
        scsi_req_unref(req);
    }
}

/*
 * A buffer per request, as QEMU's, but the last chunk-sized one freed is kept for the next
 * request of any device (one slot for the process, taken and given back atomically: a
 * request may be made in a vCPU's thread and freed in the main loop's, and may outlive
 * its device). Allocating 128 KiB for every command costs an mmap, a munmap and a page
 * fault per 4 KiB touched.
 */
static uint8_t *spare_iobuf;

static void scsi_disk_iobuf_drop(SCSIDiskReq *r)
{
    if (!r->iobuf_chunk || !g_atomic_pointer_compare_and_exchange(&spare_iobuf, NULL, r->iobuf)) {
        g_aligned_free(r->iobuf);
    }
    r->iobuf = NULL;
    r->iobuf_chunk = false;
}

void scsi_disk_iobuf_new(SCSIDiskReq *r, size_t len)
{
    scsi_disk_iobuf_drop(r);
    r->iobuf = len <= SCSI_DISK_CHUNK ? g_atomic_pointer_exchange(&spare_iobuf, NULL) : NULL;
    r->iobuf_chunk = r->iobuf || len == SCSI_DISK_CHUNK;
    if (r->iobuf) {
        memset(r->iobuf, 0, len);
    } else {
        r->iobuf = g_aligned_alloc0(1, MAX(len, 1), 4096);
    }
}

static void scsi_disk_free_req(SCSIRequest *req)
{
    SCSIDiskReq *r = req->dev_private;

    if (!r) {
        return;
    }
    if (req->buf == r->iobuf) {
        req->buf = NULL;
    }
    iov_destroy(&r->qiov);
    scsi_disk_iobuf_drop(r);
    g_free(r);
}

static void scsi_disk_reset(SCSIDevice *dev)
{
    SCSIDiskState *s = (SCSIDiskState *)dev;

    scsi_disk_ua(s, ASC_RESET, 0);
    s->tray_locked = false;
    s->tray_open = false;
}

/* After `cont`: the steps "stop" kept, oldest first. */
static void scsi_disk_retry(void *opaque)
{
    SCSIDiskState *s = opaque;
    SCSIDiskReq *r;

    while ((r = g_queue_pop_head(&s->kept))) {
        if (!r->req->cancelled && !r->req->completed) {
            r->retry(r);
        }
        scsi_req_unref(r->req);
    }
}

/* The unit attention was reported: after NO MEDIUM for a loaded medium, MEDIUM CHANGED. */
static void scsi_disk_ua_reported(SCSIDevice *dev)
{
    SCSIDiskState *s = (SCSIDiskState *)dev;

    if (s->media_changed) {
        s->media_changed = false;
        scsi_disk_ua(s, ASC_MEDIUM_CHANGED, 0);
    }
}

static const SCSIDeviceOps scsi_disk_ops = {
    .start = scsi_disk_start,
    .continue_req = scsi_disk_continue,
    .cancel = scsi_disk_cancel,
    .reset = scsi_disk_reset,
    .free_req = scsi_disk_free_req,
    .ua_reported = scsi_disk_ua_reported,
};

/* ---- Backend callbacks ---- */

static void scsi_disk_resize_cb(void *opaque)
{
    SCSIDiskState *s = opaque;

    if (!s->is_cd) {
        scsi_disk_ua(s, 0x2a, 0x09); /* CAPACITY DATA HAS CHANGED */
    }
}

static void scsi_disk_change_media_cb(void *opaque, bool load)
{
    SCSIDiskState *s = opaque;

    /* As QEMU: NO MEDIUM first; once reported, MEDIUM CHANGED if one was loaded. */
    s->media_changed = load;
    s->tray_open = !load;
    scsi_disk_ua(s, ASC_MEDIUM_NOT_PRESENT, 0);
    s->media_event = true;
    s->eject_request = false;
}

static void scsi_disk_eject_request_cb(void *opaque, bool force)
{
    SCSIDiskState *s = opaque;

    s->eject_request = true;
    if (force) {
        s->tray_locked = false;
    }
}

static bool scsi_disk_is_tray_open(void *opaque)
{
    return ((SCSIDiskState *)opaque)->tray_open;
}

static bool scsi_disk_is_medium_locked(void *opaque)
{
    return ((SCSIDiskState *)opaque)->tray_locked;
}

static const BlockDevOps scsi_disk_removable_block_ops = {
    .change_media_cb = scsi_disk_change_media_cb,
    .eject_request_cb = scsi_disk_eject_request_cb,
    .is_tray_open = scsi_disk_is_tray_open,
    .is_medium_locked = scsi_disk_is_medium_locked,
    .resize_cb = scsi_disk_resize_cb,
    .retry_cb = scsi_disk_retry,
};

static const BlockDevOps scsi_disk_block_ops = {
    .resize_cb = scsi_disk_resize_cb,
    .retry_cb = scsi_disk_retry,
};

/* ---- Realize ---- */

/* QEMU 2.2's scsi_qdev_realize: channel, scsi-id and lun checked and chosen. */
static bool scsi_dev_check_address(SCSIDiskState *s, Error **errp)
{
    SCSIDevice *dev = &s->dev;
    SCSIBus *bus = dev->qdev.parent_bus->opaque;
    SCSIDevice *d;

    if (s->channel != 0) {
        error_setg(errp, "bad scsi channel id: %d", (int)s->channel);
        return false;
    }
    if (dev->id != UINT32_MAX && dev->id >= (uint32_t)bus->max_target) {
        error_setg(errp, "bad scsi device id: %d", (int)dev->id);
        return false;
    }
    if (dev->lun != UINT32_MAX && dev->lun >= (uint32_t)bus->max_lun) {
        error_setg(errp, "bad scsi device lun: %d", (int)dev->lun);
        return false;
    }
    if (dev->id == UINT32_MAX) {
        if (dev->lun == UINT32_MAX) {
            dev->lun = 0;
        }
        for (dev->id = 0; dev->id < (uint32_t)bus->max_target; dev->id++) {
            if (!scsi_device_find(bus, dev->id, dev->lun)) {
                return true;
            }
        }
        error_setg(errp, "no free target");
        return false;
    }
    if (dev->lun == UINT32_MAX) {
        for (dev->lun = 0; dev->lun < (uint32_t)bus->max_lun; dev->lun++) {
            if (!scsi_device_find(bus, dev->id, dev->lun)) {
                return true;
            }
        }
        error_setg(errp, "no free lun");
        return false;
    }
    d = scsi_device_find(bus, dev->id, dev->lun);
    if (d) {
        error_setg(errp, "lun already used by '%s'", d->qdev.id ? d->qdev.id : "(null)");
        return false;
    }
    return true;
}

/* QEMU 2.2's check of a block size property (0: not set, for physical_block_size). */
static bool scsi_disk_check_blocksize(SCSIDiskState *s, const char *name, uint32_t v, Error **errp)
{
    const char *id = s->dev.qdev.id ? s->dev.qdev.id : "";

    if (v < 512 || v > 32768) {
        error_setg(errp, "Property %s.%s doesn't take value %u (minimum: 512, maximum: 32768)", id,
                   name, v);
        return false;
    }
    if (v & (v - 1)) {
        error_setg(errp, "Property %s.%s doesn't take value '%u', it's not a power of 2", id, name,
                   v);
        return false;
    }
    return true;
}

/* The geometry mode pages 04h/05h show: the cyls/heads/secs properties, else -drive's,
 * else guessed from the MBR or the size, as QEMU's blkconf_geometry() at realize. */
static bool scsi_disk_geometry(SCSIDiskState *s, Error **errp)
{
    static const HdGeometry max = {65535, 255, 255};
    HdGeometry g = {s->cyls, s->heads, s->secs};

    if (!hd_geometry_config(s->blk, &g, NULL, &max, errp)) {
        return false;
    }
    s->cyls = g.cyls;
    s->heads = g.heads;
    s->secs = g.secs;
    return true;
}

static bool scsi_disk_realize_kind(DeviceState *qdev, bool cd, Error **errp)
{
    SCSIDiskState *s = (SCSIDiskState *)qdev;
    SCSIBus *bus = qdev->parent_bus->opaque;
    DriveInfo *dinfo;

    if (!scsi_dev_check_address(s, errp)) { /* the bus's checks come first, as QEMU */
        return false;
    }
    if (!s->blk) {
        error_setg(errp, "drive property not set");
        return false;
    }
    s->is_cd = cd;
    if (!scsi_disk_check_blocksize(s, "logical_block_size", s->logical_block_size, errp) ||
        (s->physical_block_size &&
         !scsi_disk_check_blocksize(s, "physical_block_size", s->physical_block_size, errp))) {
        return false;
    }
    if (cd) {
        s->removable = true;
        s->blocksize = 2048;
    } else {
        s->blocksize = s->logical_block_size;
    }
    if (s->discard_granularity == UINT32_MAX) {
        s->discard_granularity = MAX(s->logical_block_size, 4096);
    }
    if (!s->removable && !blk_is_inserted(s->blk)) {
        error_setg(errp, "Device needs media, but drive is empty");
        return false;
    }
    if (!cd && !scsi_disk_geometry(s, errp)) {
        return false;
    }
    dinfo = blk_legacy_dinfo(s->blk);
    if (!s->serial && dinfo && dinfo->serial && *dinfo->serial) {
        s->serial = g_strdup(dinfo->serial);
    }
    if (!s->version) {
        s->version = g_strdup("2.5+"); /* QEMU's qemu_hw_version(), as ide-hd reports */
    }
    if (!s->vendor) {
        s->vendor = g_strdup("QEMU");
    }
    if (!s->product) {
        s->product = g_strdup(cd ? "QEMU CD-ROM" : "QEMU HARDDISK");
    }
    if (!s->device_id) {
        s->device_id = s->serial ? g_strndup(s->serial, 20) : g_strdup(blk_name(s->blk));
    }
    g_queue_init(&s->kept);
    s->dev.bus = bus;
    s->dev.ops = &scsi_disk_ops;
    s->tray_open = s->removable && !blk_is_inserted(s->blk);
    blk_set_dev_ops(s->blk, s->removable ? &scsi_disk_removable_block_ops : &scsi_disk_block_ops,
                    s);
    blk_iostatus_enable(s->blk);
    scsi_disk_ua(s, ASC_RESET, 0); /* power on */
    return true;
}

static bool scsi_hd_realize(DeviceState *qdev, Error **errp)
{
    return scsi_disk_realize_kind(qdev, false, errp);
}

static bool scsi_cd_realize(DeviceState *qdev, Error **errp)
{
    return scsi_disk_realize_kind(qdev, true, errp);
}

static bool scsi_disk_legacy_realize(DeviceState *qdev, Error **errp)
{
    SCSIDiskState *s = (SCSIDiskState *)qdev;
    DriveInfo *dinfo = s->blk ? blk_legacy_dinfo(s->blk) : NULL;

    return scsi_disk_realize_kind(qdev, dinfo && dinfo->media_cd, errp);
}

static void scsi_disk_unrealize(DeviceState *qdev)
{
    SCSIDiskState *s = (SCSIDiskState *)qdev;
    SCSIBus *bus = s->dev.bus;
    GList *l = bus->requests.head;

    while (l) {
        SCSIRequest *req = l->data;

        l = l->next;
        if (req->dev == &s->dev) {
            scsi_req_cancel(req);
            l = bus->requests.head;
        }
    }
    blk_drain(s->blk);
    scsi_disk_retry(s); /* drops what "stop" kept: every request is cancelled */
    blk_set_dev_ops(s->blk, NULL, NULL);
}

static void scsi_disk_finalize(DeviceState *qdev)
{
    SCSIDiskState *s = (SCSIDiskState *)qdev;

    g_free(s->device_id);
    s->device_id = NULL;
}

/* The HBA's bus path ends in "channel@0" (the only channel): the device adds the rest of
 * QEMU's "channel@C/disk@ID,LUN". */
static char *scsi_disk_fw_path(DeviceState *qdev)
{
    SCSIDiskState *s = (SCSIDiskState *)qdev;

    return g_strdup_printf("disk@%x,%x", s->dev.id, s->dev.lun);
}

/* In QEMU 2.2's order: the block properties, the strings, the device's own, the bus's. */
#define SCSI_DISK_BLOCK_PROPS                                                                      \
    DEFINE_PROP_DRIVE("drive", SCSIDiskState, blk),                                                \
        DEFINE_PROP_UINT16("logical_block_size", SCSIDiskState, logical_block_size, 512),          \
        DEFINE_PROP_UINT16("physical_block_size", SCSIDiskState, physical_block_size, 0),          \
        DEFINE_PROP_UINT16("min_io_size", SCSIDiskState, min_io_size, 0),                          \
        DEFINE_PROP_UINT32("opt_io_size", SCSIDiskState, opt_io_size, 0),                          \
        DEFINE_PROP_BOOTINDEX(SCSIDiskState, bootindex),                                           \
        DEFINE_PROP_UINT32("discard_granularity", SCSIDiskState, discard_granularity, -1),         \
        DEFINE_PROP_STRING("ver", SCSIDiskState, version),                                         \
        DEFINE_PROP_STRING("serial", SCSIDiskState, serial),                                       \
        DEFINE_PROP_STRING("vendor", SCSIDiskState, vendor),                                       \
        DEFINE_PROP_STRING("product", SCSIDiskState, product)

#define SCSI_DISK_BUS_PROPS                                                                        \
    DEFINE_PROP_UINT32("channel", SCSIDiskState, channel, 0),                                      \
        DEFINE_PROP_UINT32("scsi-id", SCSIDiskState, dev.id, -1),                                  \
        DEFINE_PROP_UINT32("lun", SCSIDiskState, dev.lun, -1)

static const Property scsi_hd_props[] = {
    SCSI_DISK_BLOCK_PROPS,
    DEFINE_PROP_BOOL("removable", SCSIDiskState, removable, false),
    DEFINE_PROP_BOOL("dpofua", SCSIDiskState, dpofua, false),
    DEFINE_PROP_UINT64("wwn", SCSIDiskState, wwn, 0),
    DEFINE_PROP_UINT32("cyls", SCSIDiskState, cyls, 0),
    DEFINE_PROP_UINT32("heads", SCSIDiskState, heads, 0),
    DEFINE_PROP_UINT32("secs", SCSIDiskState, secs, 0),
    SCSI_DISK_BUS_PROPS,
    DEFINE_PROP_END,
};

static const Property scsi_cd_props[] = {
    SCSI_DISK_BLOCK_PROPS,
    DEFINE_PROP_UINT64("wwn", SCSIDiskState, wwn, 0),
    SCSI_DISK_BUS_PROPS,
    DEFINE_PROP_END,
};

static const DeviceClass scsi_hd_class = {
    .name = "scsi-hd",
    .desc = "virtual SCSI disk",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus_type = QBUS_TYPE_SCSI,
    .instance_size = sizeof(SCSIDiskState),
    .props = scsi_hd_props,
    .realize = scsi_hd_realize,
    .unrealize = scsi_disk_unrealize,
    .finalize = scsi_disk_finalize,
    .hotpluggable = true,
    .fw_dev_path = scsi_disk_fw_path,
};

static const DeviceClass scsi_cd_class = {
    .name = "scsi-cd",
    .desc = "virtual SCSI CD-ROM",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus_type = QBUS_TYPE_SCSI,
    .instance_size = sizeof(SCSIDiskState),
    .props = scsi_cd_props,
    .realize = scsi_cd_realize,
    .unrealize = scsi_disk_unrealize,
    .finalize = scsi_disk_finalize,
    .hotpluggable = true,
    .fw_dev_path = scsi_disk_fw_path,
};

static const DeviceClass scsi_disk_class = {
    .name = "scsi-disk",
    .desc = "virtual SCSI disk or CD-ROM (legacy)",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus_type = QBUS_TYPE_SCSI,
    .instance_size = sizeof(SCSIDiskState),
    .props = scsi_hd_props,
    .realize = scsi_disk_legacy_realize,
    .unrealize = scsi_disk_unrealize,
    .finalize = scsi_disk_finalize,
    .hotpluggable = true,
    .fw_dev_path = scsi_disk_fw_path,
};

static void __attribute__((constructor)) scsi_disk_register(void)
{
    qdev_register(&scsi_hd_class);
    qdev_register(&scsi_cd_class);
    qdev_register(&scsi_disk_class);
}
