/*
 * block_resize (QMP and HMP): grow or shrink the image of a drive or a named node, as QEMU
 * 2.2 does, with its checks and texts. The node's driver does the work; the block layer
 * then tells the attached device (virtio-blk raises a configuration interrupt, IDE updates
 * its IDENTIFY capacity). Not minivmm-img resize (tools/img).
 */
#include <errno.h>
#include <glib.h>
#include "block/block-backend.h"
#include "monitor/command.h"

/* Only the top node of a drive can be resized (2.2's bdrv_is_first_non_filter). */
static bool resize_is_drive_root(BlockDriverState *bs)
{
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        if (blk_bs(blk) == bs) {
            return true;
        }
    }
    return false;
}

static void resize_report(int ret, const char *device, Error *err, Error **errp)
{
    switch (ret) {
    case -ENOMEDIUM:
        error_setg(errp, "Device '%s' has no medium", device);
        break;
    case -ENOTSUP:
        error_setg(errp, "this feature or command is not currently supported");
        break;
    case -EACCES:
        error_setg(errp, "Device '%s' is read only", device);
        break;
    case -EBUSY:
        error_setg(errp, "Device '%s' is in use", device);
        break;
    default:
        error_setg(errp, "Could not resize: %s", g_strerror(-ret));
        break;
    }
    error_free(err);
}

static void qmp_block_resize(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *device = monitor_arg_str(args, "device");
    const char *node_name = monitor_arg_str(args, "node-name");
    const char *name = device ? device : "(null)";
    int64_t size = monitor_arg_int(args, "size", 0);
    BlockBackend *blk = device ? blk_by_name(device) : NULL;
    BlockDriverState *bs = NULL;
    Error *err = NULL;
    int r;

    if (!blk || blk_bs(blk)) {
        bs = bdrv_lookup_bs(device, node_name, errp);
        if (!bs) {
            return;
        }
    }
    if (!bs || !resize_is_drive_root(bs)) {
        error_setg(errp, "The feature 'resize' is not enabled");
        return;
    }
    if (size < 0) {
        error_setg(errp, "Parameter 'size' expects a >0 size");
        return;
    }
    if (bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_RESIZE, NULL)) {
        error_setg(errp, "Device '%s' is in use", name);
        return;
    }
    bdrv_drain_all();
    r = bdrv_truncate(bs, size, &err);
    if (r < 0) {
        resize_report(r, name, err, errp);
        return;
    }
    error_free(err);
}

static const MonitorCommand resize_cmds[] = {
    {.name = "block_resize",
     .args_type = "device:s?,node-name:s?,size:o",
     .fn = qmp_block_resize,
     .hmp_name = "block_resize",
     .hmp_args_type = "device:B,size:o",
     .hmp_params = "device size",
     .hmp_help = "resize a block image"},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(resize_cmds);
