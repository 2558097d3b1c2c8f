/*
 * drive-mirror (QMP) and drive_mirror (HMP), with QEMU 2.2's checks in its order and its
 * texts, plus the copy-mode extension (background | write-blocking). The job is
 * block/mirror.c.
 */
#include <string.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/blockjob-kinds.h"
#include "blockdev/job-args.h"
#include "monitor/monitor.h"

#define MIRROR_DEFAULT_BUF_SIZE (10 * 1024 * 1024)
#define MIB (1024 * 1024)

static bool mirror_check_granularity(JsonObject *args, uint32_t *gran, Error **errp)
{
    int64_t g = monitor_arg_int(args, "granularity", 0);

    *gran = g;
    if (!json_object_has_member(args, "granularity")) {
        return true;
    }
    if (g < 512 || g > 64 * MIB) {
        error_setg(errp, "Parameter 'granularity' expects a value in range [512B, 64MB]");
        return false;
    }
    if (g & (g - 1)) {
        error_setg(errp, "Parameter 'granularity' expects power of 2");
        return false;
    }
    return true;
}

/* 2.2's default: the target's cluster size within [4 KiB, 64 KiB], else 64 KiB. */
static uint32_t mirror_default_granularity(BlockDriverState *target)
{
    BlockDriverInfo bdi = {0};

    if (bdrv_get_info(target, &bdi) < 0 || bdi.cluster_size == 0) {
        return 64 * 1024;
    }
    return MIN(MAX(bdi.cluster_size, 4096u), 64u * 1024);
}

static bool mirror_copy_mode(JsonObject *args, bool *write_blocking, Error **errp)
{
    const char *v = monitor_arg_str(args, "copy-mode");

    *write_blocking = v && strcmp(v, "write-blocking") == 0;
    if (v && !*write_blocking && strcmp(v, "background") != 0) {
        error_setg(errp, "Invalid parameter '%s'", v);
        return false;
    }
    return true;
}

/* Checks that need only the arguments and the source, in 2.2's order. */
static BlockDriverState *mirror_check(JsonObject *args, BlockBackend **blkp, MirrorParams *p,
                                      bool *existing, const char **format, Error **errp)
{
    BlockDriverState *bs;
    int sync;

    if (!mirror_check_granularity(args, &p->granularity, errp) ||
        !(*blkp = job_arg_drive(monitor_arg_str(args, "device"), errp)) ||
        !(bs = job_arg_medium(*blkp, errp)) ||
        !job_arg_mode_existing(monitor_arg_str(args, "mode"), existing, errp) ||
        !job_arg_format(monitor_arg_str(args, "format"), bs, *existing, format, errp) ||
        bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_MIRROR, errp) ||
        !job_arg_sync(monitor_arg_str(args, "sync"), &sync, errp) ||
        !job_arg_on_error(args, "on-source-error", &p->on_source_error, errp) ||
        !job_arg_on_error(args, "on-target-error", &p->on_target_error, errp) ||
        !mirror_copy_mode(args, &p->write_blocking, errp)) {
        return NULL;
    }
    p->sync = sync;
    if (p->sync == MIRROR_SYNC_MODE_TOP && !bs->backing) {
        p->sync = MIRROR_SYNC_MODE_FULL;
    }
    return bs;
}

static bool mirror_check_replaces(JsonObject *args, BlockDriverState *bs, Error **errp)
{
    const char *replaces = monitor_arg_str(args, "replaces");
    BlockDriverState *to_replace;

    if (!replaces) {
        return true;
    }
    if (!monitor_arg_str(args, "node-name")) {
        error_setg(errp, "a node-name must be provided when replacing a named node of the "
                         "graph");
        return false;
    }
    to_replace = bdrv_lookup_bs(replaces, replaces, errp);
    if (!to_replace) {
        return false;
    }
    if (to_replace != bs) {
        error_setg(errp, "this feature or command is not currently supported");
        return false;
    }
    return true;
}

static void qmp_drive_mirror(JsonObject *args, JsonNode **ret, Error **errp)
{
    MirrorParams p = {0};
    BlockBackend *blk;
    BlockDriverState *bs;
    const char *format;
    bool existing;
    int64_t size;

    bs = mirror_check(args, &blk, &p, &existing, &format, errp);
    if (!bs || !mirror_check_replaces(args, bs, errp) ||
        !job_check_on_error(blk, p.on_source_error, "on-source-error", errp)) {
        return;
    }
    p.speed = monitor_arg_int(args, "speed", 0);
    if (p.speed < 0) {
        error_setg(errp, "Invalid parameter 'speed'");
        return;
    }
    size = bdrv_getlength(bs);
    p.base = p.sync == MIRROR_SYNC_MODE_TOP ? bs->backing : NULL;
    p.target_backing = p.sync == MIRROR_SYNC_MODE_TOP    ? bs->backing
                       : p.sync == MIRROR_SYNC_MODE_NONE ? bs
                                                         : NULL;
    p.target = job_open_target(monitor_arg_str(args, "target"), format, existing, size,
                               p.target_backing, monitor_arg_str(args, "node-name"),
                               bdrv_get_flags(bs) | BDRV_O_NO_BACKING, errp);
    if (!p.target) {
        return;
    }
    if (existing) {
        /* 2.2: the chain the target's header names is opened at block-job-complete. */
        p.target_backing = NULL;
        p.open_target_backing = true;
    }
    if (!p.granularity) {
        p.granularity = mirror_default_granularity(p.target);
    }
    p.buf_size = monitor_arg_int(args, "buf-size", MIRROR_DEFAULT_BUF_SIZE);
    mirror_start(blk, &p, errp);
}

static const MonitorCommand mirror_cmds[] = {
    {.name = "drive-mirror",
     .args_type = "sync:s,device:B,target:s,speed:i?,mode:s?,format:s?,node-name:s?,"
                  "replaces:s?,on-source-error:s?,on-target-error:s?,granularity:i?,"
                  "buf-size:i?,copy-mode:s?",
     .fn = qmp_drive_mirror,
     .hmp_name = "drive_mirror",
     .hmp_args_type = "reuse:-n,full:-f,device:B,target:s,format:s?",
     .hmp_params = "[-n] [-f] device target [format]",
     .hmp_help = "initiates live storage\n\t\t\t migration for a device. The device's "
                 "contents are\n\t\t\t copied to the new image file, including data that\n"
                 "\t\t\t is written after the command is started.\n\t\t\t The -n flag "
                 "requests QEMU to reuse the image found\n\t\t\t in new-image-file, instead "
                 "of recreating it from scratch.\n\t\t\t The -f flag requests QEMU to copy "
                 "the whole disk,\n\t\t\t so that the result does not need a backing file.\n"
                 "\t\t\t",
     .hmp_convert = job_hmp_convert_args},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(mirror_cmds);
