/*
 * The monitor commands that start stream and commit jobs (block-stream, block-commit and
 * HMP block_stream), with QEMU 2.2's checks in its order and texts. The base of a commit is
 * opened a second time, read-write, for the job to write into. The jobs are in
 * block/stream.c and block/commit.c.
 */
#include <string.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/blockjob-kinds.h"
#include "blockdev/job-args.h"
#include "monitor/monitor.h"

static void qmp_block_stream(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *device = monitor_arg_str(args, "device");
    const char *base = monitor_arg_str(args, "base");
    const char *backing_file = monitor_arg_str(args, "backing-file");
    BlockBackend *blk;
    BlockDriverState *bs, *base_bs = NULL;
    BlockdevOnError on_error;

    if (!job_arg_on_error(args, "on-error", &on_error, errp) ||
        !(blk = job_arg_drive(device, errp)) || !(bs = job_arg_medium(blk, errp))) {
        return;
    }
    if (bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_STREAM, errp)) {
        return;
    }
    if (base && !(base_bs = job_find_backing_image(bs, base))) {
        error_setg(errp, "Base '%s' not found", base);
        return;
    }
    if (!base && backing_file) {
        error_setg(errp, "backing file specified, but streaming the entire chain");
        return;
    }
    if (!job_check_on_error(blk, on_error, "on-error", errp)) {
        return;
    }
    stream_start(blk, base_bs, backing_file ? backing_file : base,
                 monitor_arg_int(args, "speed", 0), on_error, errp);
}

/* base opened read-write without its backing chain, for the job to write into. */
static BlockDriverState *commit_open_base_rw(BlockDriverState *root, BlockDriverState *base,
                                             Error **errp)
{
    JsonObject *opts = json_object_new();
    int flags = bdrv_get_flags(root) & ~(BDRV_O_SNAPSHOT | BDRV_O_TEMPORARY | BDRV_O_COPY_ON_READ);

    json_object_set_string_member(opts, "driver", bdrv_get_format_name(base));
    return bdrv_open(bdrv_get_filename(base), opts, flags | BDRV_O_RDWR | BDRV_O_NO_BACKING, errp);
}

/* The bottom image of bs's chain. */
static BlockDriverState *commit_chain_bottom(BlockDriverState *bs)
{
    while (bs->backing) {
        bs = bs->backing;
    }
    return bs;
}

/* top and base from the arguments, with 2.2's texts; false on error. */
static bool commit_find_images(JsonObject *args, BlockDriverState *bs, BlockDriverState **top_bs,
                               BlockDriverState **base_bs, Error **errp)
{
    const char *top = monitor_arg_str(args, "top");
    const char *base = monitor_arg_str(args, "base");

    *top_bs = bs;
    if (top && strcmp(bdrv_get_filename(bs), top) != 0 &&
        !(*top_bs = job_find_backing_image(bs, top))) {
        error_setg(errp, "Top image file %s not found", top);
        return false;
    }
    *base_bs = base ? job_find_backing_image(*top_bs, base) : commit_chain_bottom(*top_bs);
    if (!*base_bs) {
        error_setg(errp, "Base '%s' not found", base);
        return false;
    }
    if (*top_bs == *base_bs) {
        error_setg(errp, "cannot commit an image into itself");
        return false;
    }
    return true;
}

static void commit_start_active(BlockBackend *blk, BlockDriverState *base, int64_t speed,
                                Error **errp)
{
    MirrorParams p = {
        .base = base,
        .target_backing = base->backing,
        .sync = MIRROR_SYNC_MODE_TOP,
        .granularity = 64 * 1024,
        .buf_size = 10 * 1024 * 1024,
        .speed = speed,
        .is_commit = true,
    };
    int64_t len = bdrv_getlength(blk_bs(blk)), base_len;

    if (speed < 0) {
        error_setg(errp, "Invalid parameter 'speed'");
        return;
    }
    p.target = commit_open_base_rw(blk_bs(blk), base, errp);
    if (!p.target) {
        return;
    }
    base_len = bdrv_getlength(p.target);
    if (len >= 0 && base_len >= 0 && base_len < len && bdrv_truncate(p.target, len, errp) < 0) {
        bdrv_unref(p.target);
        return;
    }
    mirror_start(blk, &p, errp);
}

static void qmp_block_commit(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *backing_file = monitor_arg_str(args, "backing-file");
    int64_t speed = monitor_arg_int(args, "speed", 0);
    BlockBackend *blk;
    BlockDriverState *bs, *top_bs, *base_bs, *base_rw;

    if (!(blk = job_arg_drive(monitor_arg_str(args, "device"), errp)) ||
        !(bs = job_arg_medium(blk, errp))) {
        return;
    }
    bdrv_drain_all();
    if (bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_COMMIT, errp) ||
        !commit_find_images(args, bs, &top_bs, &base_bs, errp)) {
        return;
    }
    if (top_bs == bs) {
        if (backing_file) {
            error_setg(errp, "'backing-file' specified, but 'top' is the active layer");
            return;
        }
        commit_start_active(blk, base_bs, speed, errp);
        return;
    }
    if (speed < 0) {
        error_setg(errp, "Invalid parameter 'speed'");
        return;
    }
    base_rw = commit_open_base_rw(bs, base_bs, errp);
    if (base_rw) {
        commit_start(blk, top_bs, base_bs, base_rw, backing_file, speed, errp);
    }
}

static const MonitorCommand job_start_cmds[] = {
    {.name = "block-stream",
     .args_type = "device:B,base:s?,speed:o?,backing-file:s?,on-error:s?",
     .fn = qmp_block_stream,
     .hmp_name = "block_stream",
     .hmp_args_type = "device:B,speed:o?,base:s?",
     .hmp_params = "device [speed [base]]",
     .hmp_help = "copy data from a backing file into a block device"},
    {.name = "block-commit",
     .args_type = "device:B,base:s?,top:s?,backing-file:s?,speed:o?",
     .fn = qmp_block_commit},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(job_start_cmds);
