/*
 * Removable media from the monitor: eject and change (QMP and HMP), as QEMU 2.2 does them.
 * Eject closes the medium, unless the guest locked it: then the device is asked to eject
 * and, without force, the command fails. Change is an implicit eject followed by opening
 * the new image with the drive's read-only and snapshot settings; the device hears of both
 * through its media-change callback (ATAPI unit attention, the floppy disk-change line),
 * which also emits DEVICE_TRAY_MOVED. An encrypted image opens only while the guest is
 * stopped, and stays kept from the device until its key is given (blockdev/qmp-passwd.c);
 * HMP's change then asks for the password. Not the devices' tray logic (hw/).
 */
#include <glib.h>
#include "block/block-backend.h"
#include "blockdev/blockdev.h"
#include "blockdev/qmp-passwd.h"
#include "monitor/command.h"
#include "util/qdict.h"

static BlockBackend *media_lookup(const char *device, Error **errp)
{
    BlockBackend *blk = blk_by_name(device);

    if (!blk) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_FOUND, "Device '%s' not found", device);
    }
    return blk;
}

/* Close blk's medium: QEMU's bdrv_close(), which always tells the device. */
static void media_close(BlockBackend *blk)
{
    if (blk_bs(blk)) {
        blk_drain(blk);
        blk_flush(blk);
    }
    blk_remove_bs(blk);
    blk_dev_change_media_cb(blk, false);
}

/* 2.2's eject_device(). */
static bool media_eject(BlockBackend *blk, bool force, Error **errp)
{
    BlockDriverState *bs = blk_bs(blk);

    if (bs && bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_EJECT, errp)) {
        return false;
    }
    if (!blk_dev_has_removable_media(blk)) {
        error_setg(errp, "Device '%s' is not removable", blk_name(blk));
        return false;
    }
    if (blk_dev_is_medium_locked(blk) && !blk_dev_is_tray_open(blk)) {
        blk_dev_eject_request(blk, force);
        if (!force) {
            error_setg(errp, "Device '%s' is locked", blk_name(blk));
            return false;
        }
    }
    media_close(blk);
    return true;
}

static void qmp_eject(JsonObject *args, JsonNode **ret, Error **errp)
{
    BlockBackend *blk = media_lookup(monitor_arg_str(args, "device"), errp);

    if (blk) {
        media_eject(blk, monitor_arg_bool(args, "force", false), errp);
    }
}

/* What a closed medium leaves behind in 2.2: read-only and snapshot, kept by the drive. */
static void media_drive_flags(BlockBackend *blk, bool *read_only, bool *snapshot)
{
    DriveInfo *dinfo = blk_legacy_dinfo(blk);

    *read_only = false;
    *snapshot = false;
    if (dinfo && dinfo->opts) {
        *read_only = dinfo->media_cd || dict_get_bool(dinfo->opts, "read-only", false, NULL);
        *snapshot = dict_get_bool(dinfo->opts, "snapshot", false, NULL);
    }
    if (blk_bs(blk)) {
        *read_only = bdrv_is_read_only(blk_bs(blk));
    }
}

static int media_open_flags(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);
    bool read_only, snapshot;
    int flags = BDRV_O_CACHE_WB;

    media_drive_flags(blk, &read_only, &snapshot);
    if (bs) {
        flags = bdrv_get_flags(bs) & (BDRV_O_CACHE_WB | BDRV_O_NOCACHE | BDRV_O_NO_FLUSH |
                                      BDRV_O_UNMAP | BDRV_O_NATIVE_AIO | BDRV_O_IO_URING);
    }
    return flags | (read_only ? 0 : BDRV_O_RDWR) | (snapshot ? BDRV_O_SNAPSHOT : 0);
}

static bool media_insert(BlockBackend *blk, const char *target, const char *format, int flags,
                         Error **errp)
{
    JsonObject *options = json_object_new();
    bool wce = blk_enable_write_cache(blk);
    BlockDriverState *bs;

    if (format) {
        json_object_set_string_member(options, "driver", format);
    }
    bs = bdrv_open(target, options, flags, errp);
    if (!bs) {
        return false;
    }
    if (!blockdev_check_encrypted_open(bs, errp)) {
        bdrv_unref(bs);
        blk_dev_change_media_cb(blk, false); /* 2.2 closes the drive's node: told again */
        return false;
    }
    blk_insert_bs(blk, bs);
    bdrv_unref(bs);
    blk_set_enable_write_cache(blk, wce);
    if (bdrv_key_required(blk_bs(blk))) {
        blockdev_error_encrypted(blk, errp);
        return false;
    }
    blk_dev_change_media_cb(blk, true);
    return true;
}

/* QEMU 2.2's qmp_change_blockdev(). */
static void qmp_change(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *device = monitor_arg_str(args, "device");
    const char *format = monitor_arg_str(args, "arg");
    BlockBackend *blk = media_lookup(device, errp);
    BlockDriver *drv;
    bool read_only, snapshot;
    int flags;

    if (!blk) {
        return;
    }
    if (format) {
        media_drive_flags(blk, &read_only, &snapshot);
        drv = bdrv_find_format(format);
        if (!drv || !bdrv_is_whitelisted(drv, read_only)) {
            error_setg(errp, "Invalid block format '%s'", format);
            return;
        }
    }
    flags = media_open_flags(blk);
    if (!media_eject(blk, false, errp)) {
        return;
    }
    media_insert(blk, monitor_arg_str(args, "target"), format, flags, errp);
}

/* 2.2's hmp_change: an encrypted medium is in; ask for its password. */
static bool hmp_change_error(Monitor *mon, JsonObject *args, const Error *err)
{
    if (error_get_class(err) != ERROR_CLASS_DEVICE_ENCRYPTED) {
        return false;
    }
    hmp_read_block_device_key(mon, monitor_arg_str(args, "device"), NULL, NULL);
    return true;
}

static const MonitorCommand media_cmds[] = {
    {.name = "eject",
     .args_type = "force:-f,device:B",
     .fn = qmp_eject,
     .hmp_name = "eject",
     .hmp_params = "[-f] device",
     .hmp_help = "eject a removable medium (use -f to force it)"},
    {.name = "change",
     .args_type = "device:B,target:F,arg:s?",
     .fn = qmp_change,
     .hmp_name = "change",
     .hmp_params = "device filename [format]",
     .hmp_help = "change a removable medium, optional format",
     .hmp_error = hmp_change_error},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(media_cmds);
