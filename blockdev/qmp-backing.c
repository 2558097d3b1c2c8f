/*
 * change-backing-file (QMP): record a new backing file name in the header of an image of a
 * drive's chain, as QEMU 2.2 does — no check of the name, no change to the open chain, and
 * (2.2's quirk) the image's own format recorded as the backing format. A read-only image of
 * the chain is written through a second, writable node of the same file, since minivmm has
 * no reopen; the chain's node then shows the new name. Not commit or rebase.
 */
#include <errno.h>
#include <glib.h>
#include "block/block-backend.h"
#include "block/block_int.h"
#include "block/image-ops.h"
#include "monitor/command.h"

static bool backing_chain_contains(BlockDriverState *top, BlockDriverState *bs)
{
    for (; top; top = bdrv_backing_child(top)) {
        if (top == bs) {
            return true;
        }
    }
    return false;
}

/* Write through a second node opened read-write, then show the result on bs. */
static int backing_change_read_only(BlockDriverState *bs, const char *name, const char *fmt,
                                    Error **errp)
{
    JsonObject *opts = json_object_new();
    BlockDriverState *rw;
    int ret;

    json_object_set_string_member(opts, "driver", bdrv_get_format_name(bs));
    rw = bdrv_open(bdrv_get_filename(bs), opts,
                   (bdrv_get_flags(bs) & ~BDRV_O_SNAPSHOT) | BDRV_O_RDWR | BDRV_O_NO_BACKING, errp);
    if (!rw) {
        return -EACCES;
    }
    ret = bdrv_change_backing_file(rw, name, fmt, NULL);
    if (ret >= 0) {
        g_free(bs->backing_file);
        g_free(bs->backing_format);
        bs->backing_file = g_strdup(rw->backing_file);
        bs->backing_format = g_strdup(rw->backing_format);
    }
    bdrv_unref(rw);
    return ret;
}

static void qmp_change_backing_file(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *device = monitor_arg_str(args, "device");
    const char *backing = monitor_arg_str(args, "backing-file");
    BlockBackend *blk = blk_by_name(device);
    BlockDriverState *image;
    Error *err = NULL;
    int r;

    if (!blk) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_FOUND, "Device '%s' not found", device);
        return;
    }
    image = bdrv_lookup_bs(NULL, monitor_arg_str(args, "image-node-name"), errp);
    if (!image) {
        return;
    }
    if (!bdrv_backing_child(image)) {
        error_setg(errp, "not allowing backing file change on an image without a backing file");
        return;
    }
    if (blk_bs(blk) && bdrv_op_is_blocked(blk_bs(blk), BLOCK_OP_TYPE_CHANGE, errp)) {
        return;
    }
    if (!backing_chain_contains(blk_bs(blk), image)) {
        error_setg(errp, "'%s' and image file are not in the same chain", device);
        return;
    }
    if (bdrv_is_read_only(image)) {
        r = backing_change_read_only(image, backing, bdrv_get_format_name(image), &err);
    } else {
        r = bdrv_change_backing_file(image, backing, bdrv_get_format_name(image), NULL);
    }
    if (err) {
        error_propagate(errp, err);
    } else if (r < 0) {
        error_setg(errp, "Could not change backing file to '%s': %s", backing, g_strerror(-r));
    }
}

static const MonitorCommand backing_cmds[] = {
    {.name = "change-backing-file",
     .args_type = "device:s,image-node-name:s,backing-file:s",
     .fn = qmp_change_backing_file},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(backing_cmds);
