/*
 * The monitor commands that start stream and commit jobs (block-stream, block-commit and
 * HMP block_stream), with QEMU 2.2's checks in its order and texts. The jobs are in
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

static const MonitorCommand job_start_cmds[] = {
    {.name = "block-stream",
     .args_type = "device:B,base:s?,speed:o?,backing-file:s?,on-error:s?",
     .fn = qmp_block_stream,
     .hmp_name = "block_stream",
     .hmp_args_type = "device:B,speed:o?,base:s?",
     .hmp_params = "device [speed [base]]",
     .hmp_help = "copy data from a backing file into a block device"},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(job_start_cmds);
