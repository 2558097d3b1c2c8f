/*
 * Argument helpers for the job-starting commands (include/blockdev/job-args.h).
 */
#include <inttypes.h>
#include <stdio.h>
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

bool job_arg_sync(const char *v, int *out, Error **errp)
{
    static const char *const names[] = {"top", "full", "none"};

    for (int i = 0; i < 3; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    error_setg(errp, "Invalid parameter '%s'", v);
    return false;
}

bool job_arg_mode_existing(const char *v, bool *existing, Error **errp)
{
    *existing = v && strcmp(v, "existing") == 0;
    if (v && !*existing && strcmp(v, "absolute-paths") != 0) {
        error_setg(errp, "Invalid parameter '%s'", v);
        return false;
    }
    return true;
}

bool job_arg_format(const char *format, BlockDriverState *bs, bool existing, const char **out,
                    Error **errp)
{
    if (!format && !existing) {
        format = bdrv_get_format_name(bs);
    }
    if (format && !bdrv_find_format(format)) {
        error_setg(errp, "Invalid block format '%s'", format);
        return false;
    }
    *out = format;
    return true;
}

/* 2.2's creation line on the VMM's stdout (QMP-BLOCK.md §6.4), for raw and qcow2. */
static void job_print_formatting(const char *target, const char *format, uint64_t size,
                                 BlockDriverState *backing)
{
    printf("Formatting '%s', fmt=%s size=%" PRIu64 " ", target, format, size);
    if (strcmp(format, "qcow2") == 0) {
        if (backing) {
            printf("backing_file='%s' backing_fmt='%s' ", backing->filename,
                   bdrv_get_format_name(backing));
        }
        printf("encryption=off cluster_size=65536 lazy_refcounts=off ");
    }
    printf("\n");
    fflush(stdout);
}

static int job_create_target(const char *target, const char *format, uint64_t size,
                             BlockDriverState *backing, Error **errp)
{
    g_autoptr(JsonObject) opts = json_object_new();

    json_object_set_int_member(opts, "size", size);
    if (backing) {
        json_object_set_string_member(opts, "backing_file", backing->filename);
        json_object_set_string_member(opts, "backing_fmt", bdrv_get_format_name(backing));
    }
    job_print_formatting(target, format, size, backing);
    return bdrv_create(format, target, opts, errp);
}

BlockDriverState *job_open_target(const char *target, const char *format, bool existing,
                                  uint64_t size, BlockDriverState *backing, const char *node_name,
                                  int flags, Error **errp)
{
    JsonObject *opts = json_object_new();

    if (!existing && job_create_target(target, format, size, backing, errp) < 0) {
        json_object_unref(opts);
        return NULL;
    }
    if (format) {
        json_object_set_string_member(opts, "driver", format);
    }
    if (node_name) {
        json_object_set_string_member(opts, "node-name", node_name);
    }
    flags &= ~(BDRV_O_SNAPSHOT | BDRV_O_TEMPORARY | BDRV_O_COPY_ON_READ);
    return bdrv_open(target, opts, flags | BDRV_O_RDWR, errp);
}

bool job_hmp_convert_args(JsonObject *args, Error **errp)
{
    bool reuse = monitor_arg_bool(args, "reuse", false);
    bool full = monitor_arg_bool(args, "full", false);

    json_object_remove_member(args, "reuse");
    json_object_remove_member(args, "full");
    json_object_set_string_member(args, "sync", full ? "full" : "top");
    json_object_set_string_member(args, "mode", reuse ? "existing" : "absolute-paths");
    return true;
}
