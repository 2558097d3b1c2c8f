/*
 * Keys of encrypted drives from the monitor, as QEMU 2.2 handles qcow2's AES images:
 * block_passwd (QMP and HMP), the HMP password prompt that cont and change fall back on,
 * the DeviceEncrypted error and the rule that an image wanting a key opens only while the
 * guest is stopped. Not the cipher (block/qcow2-crypt.c), nor which node wants a key and
 * telling the device of a medium once its key is given (bdrv_set_key, block/block-key.c).
 */
#include <errno.h>
#include <glib.h>
#include "blockdev/qmp-passwd.h"
#include "hw/machine.h"
#include "monitor/command.h"

BlockBackend *blockdev_find_key_missing(void)
{
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        if (blk_bs(blk) && bdrv_key_required(blk_bs(blk))) {
            return blk;
        }
    }
    return NULL;
}

void blockdev_error_encrypted(BlockBackend *blk, Error **errp)
{
    error_set(errp, ERROR_CLASS_DEVICE_ENCRYPTED, "'%s' (%s) is encrypted", blk_name(blk),
              bdrv_get_encrypted_filename(blk_bs(blk)));
}

/* 2.2's bdrv_open() checks the run state itself, with its "HACK" comment. */
bool blockdev_check_encrypted_open(BlockDriverState *bs, Error **errp)
{
    RunState state = runstate_get();

    if (bdrv_key_required(bs) && state != RUN_STATE_PRELAUNCH && state != RUN_STATE_INMIGRATE &&
        state != RUN_STATE_PAUSED) {
        error_setg(errp, "Guest must be stopped for opening of encrypted image");
        return false;
    }
    return true;
}

static void qmp_block_passwd(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *device = monitor_arg_str(args, "device");
    const char *node_name = monitor_arg_str(args, "node-name");
    BlockBackend *blk = device ? blk_by_name(device) : NULL;
    BlockDriverState *bs;
    int err;

    /* 2.2 finds a drive without a medium too (its node exists, empty, not encrypted). */
    if (blk && !blk_bs(blk)) {
        error_setg(errp, "Device '%s' is not encrypted", device);
        return;
    }
    bs = bdrv_lookup_bs(device, node_name, errp);
    if (!bs) {
        return;
    }
    err = bdrv_set_key(bs, monitor_arg_str(args, "password"));
    if (err == -EINVAL) {
        error_setg(errp, "Device '%s' is not encrypted", bdrv_get_device_name(bs));
    } else if (err < 0) {
        error_setg(errp, "Password incorrect");
    }
}

/* ---- HMP's prompt (2.2's monitor_read_block_device_key) ---- */

typedef struct BlockKeyRequest {
    char *device;
    BlockKeyDoneFn *done;
    void *opaque;
} BlockKeyRequest;

static void block_key_done(BlockKeyRequest *req, int err)
{
    if (req->done) {
        req->done(req->opaque, err);
    }
    g_free(req->device);
    g_free(req);
}

/* The drive is looked up again: it may have lost its medium while the prompt was up. */
static void block_key_entered(Monitor *mon, const char *password, void *opaque)
{
    BlockKeyRequest *req = opaque;
    BlockBackend *blk = blk_by_name(req->device);
    int err = -ENOMEDIUM;

    if (blk && blk_bs(blk)) {
        err = bdrv_set_key(blk_bs(blk), password);
    }
    if (err < 0) {
        monitor_printf(mon, "invalid password\n");
    }
    block_key_done(req, err < 0 ? -EPERM : 0);
}

void hmp_read_block_device_key(Monitor *mon, const char *device, BlockKeyDoneFn *done, void *opaque)
{
    BlockBackend *blk = blk_by_name(device);
    BlockKeyRequest *req;
    int err;

    if (!blk) {
        monitor_printf(mon, "Device not found %s\n", device);
        return;
    }
    req = g_new0(BlockKeyRequest, 1);
    *req = (BlockKeyRequest){g_strdup(device), done, opaque};
    if (!blk_bs(blk) || !bdrv_key_required(blk_bs(blk))) {
        block_key_done(req, 0);
        return;
    }
    monitor_printf(mon, "%s (%s) is encrypted.\n", device,
                   bdrv_get_encrypted_filename(blk_bs(blk)));
    err = monitor_read_password(mon, block_key_entered, req);
    if (err < 0) {
        block_key_done(req, err);
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
