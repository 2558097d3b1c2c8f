/*
 * block_passwd (QMP and HMP). minivmm opens no encrypted images, so every drive or node it
 * finds answers as QEMU 2.2 answers for a plain image: "Device 'X' is not encrypted" (X is
 * the drive name, empty for a node that is not a drive's root). Not key handling.
 */
#include <glib.h>
#include "block/block-backend.h"
#include "monitor/command.h"

static void qmp_block_passwd(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *device = monitor_arg_str(args, "device");
    const char *node_name = monitor_arg_str(args, "node-name");
    BlockBackend *blk = device ? blk_by_name(device) : NULL;
    BlockDriverState *bs;

    /* 2.2 finds a drive without a medium too (its node exists, empty). */
    if (blk && !blk_bs(blk)) {
        error_setg(errp, "Device '%s' is not encrypted", device);
        return;
    }
    bs = bdrv_lookup_bs(device, node_name, errp);
    if (bs) {
        error_setg(errp, "Device '%s' is not encrypted", bdrv_get_device_name(bs));
    }
}

static const MonitorCommand passwd_cmds[] = {
    {.name = "block_passwd",
     .args_type = "device:s?,node-name:s?,password:s",
     .fn = qmp_block_passwd,
     .hmp_name = "block_passwd",
     .hmp_args_type = "device:B,password:s",
     .hmp_params = "device password",
     .hmp_help = "set the password of encrypted block devices"},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(passwd_cmds);
