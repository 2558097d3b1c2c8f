/*
 * Argument helpers for the job-starting commands (include/blockdev/job-args.h).
 */
#include <string.h>
#include <glib.h>
#include "block/block_int.h"
#include "blockdev/job-args.h"
#include "monitor/command.h"

BlockBackend *job_arg_drive(const char *device, Error **errp)
{
    BlockBackend *blk = blk_by_name(device);

    if (!blk) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_FOUND, "Device '%s' not found", device);
    }
    return blk;
}

BlockDriverState *job_arg_medium(BlockBackend *blk, Error **errp)
{
    BlockDriverState *bs = blk_bs(blk);

    if (!bs) {
        error_setg(errp, "Device '%s' has no medium", blk_name(blk));
    }
    return bs;
}

bool job_arg_on_error(JsonObject *args, const char *name, BlockdevOnError *out, Error **errp)
{
    static const char *const names[] = {"report", "ignore", "enospc", "stop"};
    const char *v = monitor_arg_str(args, name);

    *out = BLOCKDEV_ON_ERROR_REPORT;
    if (!v) {
        return true;
    }
    for (int i = 0; i < 4; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    error_setg(errp, "Invalid parameter '%s'", v);
    return false;
}

bool job_check_on_error(BlockBackend *blk, BlockdevOnError on_error, const char *name, Error **errp)
{
    if ((on_error == BLOCKDEV_ON_ERROR_STOP || on_error == BLOCKDEV_ON_ERROR_ENOSPC) &&
        !blk_iostatus_is_enabled(blk)) {
        error_setg(errp, "Invalid parameter '%s'", name);
        return false;
    }
    return true;
}

BlockDriverState *job_find_backing_image(BlockDriverState *bs, const char *name)
{
    for (; bs && bs->backing; bs = bs->backing) {
        if ((bs->backing_file && strcmp(bs->backing_file, name) == 0) ||
            strcmp(bs->backing->filename, name) == 0) {
            return bs->backing;
        }
    }
    return NULL;
}
