/*
 * BlockBackend objects: the named registry of drives, the root node (or no medium), the
 * attached device and its callbacks, the error policy and io-status, statistics storage and
 * the legacy DriveInfo. Not the I/O path of a backend (block-backend-io.c) and not the
 * monitor's view of it (query-block lives with the commands).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "block/block-events.h"
#include "block/block-internal.h"
#include "block/throttle-groups.h"
#include "util/cutils.h"

static GList *backends; /* visible backends, in creation order */


BlockBackend *blk_new(const char *name, Error **errp)
{
    BlockBackend *blk;

    g_assert(name && name[0]);
    if (!id_wellformed(name)) {
        error_setg(errp, "Invalid device name");
        return NULL;
    }
    if (blk_by_name(name)) {
        error_setg(errp, "Device with id '%s' already exists", name);
        return NULL;
    }
    if (bdrv_find_node(name)) {
        error_setg(errp, "Device name '%s' conflicts with an existing node name", name);
        return NULL;
    }
    blk = g_new0(BlockBackend, 1);
    blk->name = g_strdup(name);
    blk->refcnt = 1;
    blk->on_read_error = BLOCKDEV_ON_ERROR_REPORT;
    blk->on_write_error = BLOCKDEV_ON_ERROR_ENOSPC;
    g_mutex_init(&blk->lock);
    g_cond_init(&blk->cond);
    backends = g_list_append(backends, blk);
    return blk;
}

BlockBackend *blk_new_open(const char *name, const char *filename, JsonObject *options, int flags,
                           Error **errp)
{
    BlockBackend *blk = blk_new(name, errp);
    BlockDriverState *bs;

    if (!blk) {
        if (options) {
            json_object_unref(options);
        }
        return NULL;
    }
    bs = bdrv_open_device(name, filename, options, flags, errp);
    if (!bs) {
        blk_unref(blk);
        return NULL;
    }
    blk_insert_bs(blk, bs);
    bdrv_unref(bs);
    return blk;
}

static void drive_info_free(DriveInfo *dinfo)
{
    if (!dinfo) {
        return;
    }
    if (dinfo->opts) {
        json_object_unref(dinfo->opts);
    }
    g_free(dinfo->serial);
    g_free(dinfo->devaddr);
    g_free(dinfo->throttle_group);
    g_free(dinfo);
}

static void blk_delete(BlockBackend *blk)
{
    g_assert(!blk->dev);
    blk_throttle_delete(blk);
    blk_remove_bs(blk);
    blk_drain(blk);
    backends = g_list_remove(backends, blk);
    drive_info_free(blk->legacy_dinfo);
    g_free(blk->name);
    g_assert(g_queue_is_empty(&blk->root_gate.held));
    g_mutex_clear(&blk->lock);
    g_cond_clear(&blk->cond);
    g_free(blk);
}

void blk_ref(BlockBackend *blk)
{
    blk->refcnt++;
}

void blk_unref(BlockBackend *blk)
{
    if (!blk) {
        return;
    }
    g_assert(blk->refcnt > 0);
    if (--blk->refcnt == 0) {
        blk_delete(blk);
    }
}

BlockBackend *blk_by_name(const char *name)
{
    for (GList *l = backends; l; l = l->next) {
        BlockBackend *blk = l->data;

        if (!strcmp(blk->name, name)) {
            return blk;
        }
    }
    return NULL;
}

BlockBackend *blk_next(BlockBackend *blk)
{
    GList *l = blk ? g_list_find(backends, blk) : backends;

    if (blk && l) {
        l = l->next;
    }
    return l ? l->data : NULL;
}

const char *blk_name(const BlockBackend *blk)
{
    return blk->name;
}

void blk_hide_on_behalf_of_drive_del(BlockBackend *blk)
{
    backends = g_list_remove(backends, blk);
    blk->name[0] = '\0';
}

/* ---- the root node ---- */

BlockDriverState *blk_bs(BlockBackend *blk)
{
    return blk->root;
}

void blk_insert_bs(BlockBackend *blk, BlockDriverState *bs)
{
    g_assert(!blk->root && !bs->blk);
    bdrv_ref(bs);
    blk->root = bs;
    bs->blk = blk;
}

void blk_remove_bs(BlockBackend *blk)
{
    BlockDriverState *bs = blk->root;

    if (!bs) {
        return;
    }
    blk_drain(blk);
    blk_root_change_begin(blk);
    bdrv_drained_begin(bs); /* what came in since blk_drain */
    blk->enable_write_cache = bs->enable_write_cache;
    blk->root = NULL;
    bs->blk = NULL;
    bdrv_drained_end(bs);
    blk_root_change_end(blk); /* what it held fails: no medium */
    bdrv_unref(bs);
}

/* A root a driver made unusable (fatal corruption) counts as no medium, as in QEMU. */
static bool bdrv_is_usable(BlockDriverState *bs)
{
    return bs && bs->drv && !g_atomic_int_get(&bs->unusable);
}

bool blk_is_inserted(BlockBackend *blk)
{
    return bdrv_is_usable(g_atomic_pointer_get(&blk->root));
}

bool blk_is_read_only(BlockBackend *blk)
{
    return blk->root ? bdrv_is_read_only(blk->root) : false;
}

bool blk_is_available(BlockBackend *blk)
{
    return blk_is_inserted(blk) && !blk_dev_is_tray_open(blk);
}

int64_t blk_getlength(BlockBackend *blk)
{
    BlockDriverState *bs = blk_root_get(blk); /* devices ask from I/O threads */
    int64_t len = bdrv_is_usable(bs) ? bdrv_getlength(bs) : -ENOMEDIUM;

    blk_root_put(blk);
    return len;
}

bool blk_enable_write_cache(BlockBackend *blk)
{
    return blk->root ? blk->root->enable_write_cache : blk->enable_write_cache;
}

void blk_set_enable_write_cache(BlockBackend *blk, bool wce)
{
    blk->enable_write_cache = wce;
    if (blk->root) {
        blk->root->enable_write_cache = wce;
    }
}

/* ---- the attached device ---- */

int blk_attach_dev(BlockBackend *blk, void *dev)
{
    if (blk->dev) {
        return -EBUSY;
    }
    blk_ref(blk);
    blk->dev = dev;
    blk_iostatus_reset(blk);
    return 0;
}

void blk_detach_dev(BlockBackend *blk, void *dev)
{
    g_assert(blk->dev == dev);
    blk->dev = NULL;
    blk->dev_ops = NULL;
    blk->dev_opaque = NULL;
    blk_unref(blk);
}

void *blk_get_attached_dev(BlockBackend *blk)
{
    return blk->dev;
}

void blk_set_dev_ops(BlockBackend *blk, const BlockDevOps *ops, void *opaque)
{
    blk->dev_ops = ops;
    blk->dev_opaque = opaque;
}

/* 2.2's events: the tray opens unless it was open, and closes again on a load. */
void blk_dev_change_media_cb(BlockBackend *blk, bool load)
{
    if (blk->dev_ops && blk->dev_ops->change_media_cb) {
        bool tray_was_closed = !blk_dev_is_tray_open(blk);

        blk->dev_ops->change_media_cb(blk->dev_opaque, load);
        if (tray_was_closed) {
            blk_event_tray_moved(blk, true);
        }
        if (load) {
            blk_event_tray_moved(blk, false);
        }
    }
}

/* No device at all counts as removable, as in QEMU. */
bool blk_dev_has_removable_media(BlockBackend *blk)
{
    return !blk->dev || (blk->dev_ops && blk->dev_ops->change_media_cb);
}

bool blk_dev_is_tray_open(BlockBackend *blk)
{
    if (blk->dev_ops && blk->dev_ops->is_tray_open) {
        return blk->dev_ops->is_tray_open(blk->dev_opaque);
    }
    return false;
}

bool blk_dev_is_medium_locked(BlockBackend *blk)
{
    if (blk->dev_ops && blk->dev_ops->is_medium_locked) {
        return blk->dev_ops->is_medium_locked(blk->dev_opaque);
    }
    return false;
}

void blk_dev_eject_request(BlockBackend *blk, bool force)
{
    if (blk->dev_ops && blk->dev_ops->eject_request_cb) {
        blk->dev_ops->eject_request_cb(blk->dev_opaque, force);
    }
}

void blk_dev_resize_cb(BlockBackend *blk)
{
    if (blk->dev_ops && blk->dev_ops->resize_cb) {
        blk->dev_ops->resize_cb(blk->dev_opaque);
    }
}

/* ---- error policy and io-status ---- */

void blk_set_on_error(BlockBackend *blk, BlockdevOnError on_read_error,
                      BlockdevOnError on_write_error)
{
    blk->on_read_error = on_read_error;
    blk->on_write_error = on_write_error;
}

BlockdevOnError blk_get_on_error(BlockBackend *blk, bool is_read)
{
    return is_read ? blk->on_read_error : blk->on_write_error;
}

BlockErrorAction blk_get_error_action(BlockBackend *blk, bool is_read, int error)
{
    switch (blk_get_on_error(blk, is_read)) {
    case BLOCKDEV_ON_ERROR_ENOSPC:
        return abs(error) == ENOSPC ? BLOCK_ERROR_ACTION_STOP : BLOCK_ERROR_ACTION_REPORT;
    case BLOCKDEV_ON_ERROR_STOP:
        return BLOCK_ERROR_ACTION_STOP;
    case BLOCKDEV_ON_ERROR_IGNORE:
        return BLOCK_ERROR_ACTION_IGNORE;
    case BLOCKDEV_ON_ERROR_REPORT:
        break;
    }
    return BLOCK_ERROR_ACTION_REPORT;
}

void blk_iostatus_enable(BlockBackend *blk)
{
    blk->iostatus_enabled = true;
    blk->iostatus = BLOCK_DEVICE_IO_STATUS_OK;
}

bool blk_iostatus_is_enabled(BlockBackend *blk)
{
    return blk->iostatus_enabled && (blk->on_write_error == BLOCKDEV_ON_ERROR_ENOSPC ||
                                     blk->on_write_error == BLOCKDEV_ON_ERROR_STOP ||
                                     blk->on_read_error == BLOCKDEV_ON_ERROR_STOP);
}

BlockDeviceIoStatus blk_iostatus(BlockBackend *blk)
{
    return blk->iostatus;
}

void blk_iostatus_set_err(BlockBackend *blk, int error)
{
    if (blk_iostatus_is_enabled(blk) && blk->iostatus == BLOCK_DEVICE_IO_STATUS_OK) {
        blk->iostatus =
            abs(error) == ENOSPC ? BLOCK_DEVICE_IO_STATUS_NOSPACE : BLOCK_DEVICE_IO_STATUS_FAILED;
    }
}

void blk_iostatus_reset(BlockBackend *blk)
{
    if (blk_iostatus_is_enabled(blk)) {
        blk->iostatus = BLOCK_DEVICE_IO_STATUS_OK;
    }
}

/* ---- statistics and legacy drive information ---- */

BlockAcctStats *blk_get_stats(BlockBackend *blk)
{
    return &blk->stats;
}

DriveInfo *blk_legacy_dinfo(BlockBackend *blk)
{
    return blk->legacy_dinfo;
}

void blk_set_legacy_dinfo(BlockBackend *blk, DriveInfo *dinfo)
{
    g_assert(!blk->legacy_dinfo);
    blk->legacy_dinfo = dinfo;
}
