/*
 * Snapshots from the monitor, as QEMU 2.2: the transaction actions blockdev-snapshot-sync
 * (a new overlay image on top of a drive or node; the old image becomes its read-only
 * backing file) and blockdev-snapshot-internal-sync (a qcow2 internal snapshot), the QMP
 * commands of the same names (one-action transactions) and
 * blockdev-snapshot-delete-internal-sync. Unlike 2.2, an aborted transaction also deletes
 * the overlay files it created. The graph operation is block/snapshot-external.c; HMP's
 * syntax is hmp-snapshot.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "block/block-backend.h"
#include "block/image-ops.h"
#include "block/snapshot-external.h"
#include "blockdev/transaction.h"
#include "monitor/command.h"
#include "util/main-loop.h"

#define STR_OR_NULL(s) ((s) ? (s) : "(null)")

/* ---- blockdev-snapshot-sync ---- */

typedef struct ExternalSnapshotState {
    BlkActionState common;
    BlockDriverState *old_bs; /* referenced and blocked for snapshots once prepared */
    BlockDriverState *new_bs;
    char *created_file; /* the overlay file this action created: deleted on abort */
    Error *blocker;     /* a second snapshot of old_bs in the same transaction is refused */
} ExternalSnapshotState;

static bool external_snapshot_check(JsonObject *data, Error **errp)
{
    const char *mode = monitor_arg_str(data, "mode");

    if (mode && strcmp(mode, "existing") && strcmp(mode, "absolute-paths")) {
        error_setg(errp, "Invalid parameter '%s'", mode);
        return false;
    }
    return true;
}

/* 2.2 finds a drive without a medium too, and then says it has none. */
static BlockDriverState *external_snapshot_lookup(const char *device, const char *node_name,
                                                  bool *no_medium, Error **errp)
{
    BlockBackend *blk = device ? blk_by_name(device) : NULL;

    *no_medium = blk && !blk_bs(blk);
    if (*no_medium) {
        return NULL;
    }
    return bdrv_lookup_bs(device, node_name, errp);
}

/* Only the top node of a drive can take a snapshot (2.2's bdrv_is_first_non_filter). */
static bool is_drive_root(BlockDriverState *bs)
{
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        if (blk_bs(blk) == bs) {
            return true;
        }
    }
    return false;
}

static bool format_has_create_opt(const char *format, const char *name)
{
    for (const BlockCreateOpt *o = bdrv_create_opts(format); o && o->name; o++) {
        if (!strcmp(o->name, name)) {
            return true;
        }
    }
    return false;
}

/* 2.2's creation line on the VMM's stdout (§6.4). */
static void print_formatting(const char *file, const char *format, uint64_t size,
                             const char *backing, const char *backing_fmt)
{
    printf("Formatting '%s', fmt=%s size=%" PRIu64 " ", file, format, size);
    if (!strcmp(format, "qcow2")) {
        printf("backing_file='%s' backing_fmt='%s' encryption=off cluster_size=65536 "
               "lazy_refcounts=off ",
               backing, backing_fmt);
    }
    printf("\n");
    fflush(stdout);
}

/* The new overlay opens with the old image's flags (2.2), without a backing chain. */
static int external_snapshot_flags(ExternalSnapshotState *s)
{
    return bdrv_get_flags(s->old_bs) & ~(BDRV_O_SNAPSHOT | BDRV_O_TEMPORARY);
}

/* 2.2's bdrv_img_create() checks, in its order (the file names are compared as strings). */
static int external_snapshot_create_check(const char *file, const char *format,
                                          const char *backing, Error **errp)
{
    if (!bdrv_create_opts(format)) {
        error_setg(errp, "Format driver '%s' does not support image creation", format);
        return -ENOTSUP;
    }
    if (!format_has_create_opt(format, "backing_file")) {
        error_setg(errp, "Backing file not supported for file format '%s'", format);
        return -ENOTSUP;
    }
    if (!strcmp(file, backing)) {
        error_setg(errp, "Error: Trying to create an image with the same filename as the "
                         "backing file");
        return -EINVAL;
    }
    return 0;
}

/* Create the overlay file (backing = old's name and format, old's size); 0 or -errno. */
static int external_snapshot_create(ExternalSnapshotState *s, const char *file,
                                    const char *format, Error **errp)
{
    const char *backing = bdrv_get_filename(s->old_bs);
    const char *backing_fmt = bdrv_get_format_name(s->old_bs);
    int64_t size = bdrv_getlength(s->old_bs);
    bool existed = access(file, F_OK) == 0;
    g_autoptr(JsonObject) opts = json_object_new();
    int fd, ret = external_snapshot_create_check(file, format, backing, errp);

    if (ret < 0) {
        return ret;
    }
    if (size < 0) {
        error_setg_errno(errp, -size, "Could not open '%s'", backing);
        return size;
    }
    print_formatting(file, format, size, backing, backing_fmt);
    /* after the line, as QEMU 7.2, whose create is refused by the locks */
    if (!bdrv_snapshot_file_free(s->old_bs, file, external_snapshot_flags(s) | BDRV_O_RDWR,
                                 errp)) {
        return -EBUSY;
    }
    fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Could not create file");
        return -errno;
    }
    close(fd);
    json_object_set_int_member(opts, "size", size);
    json_object_set_string_member(opts, "backing_file", backing);
    json_object_set_string_member(opts, "backing_fmt", backing_fmt);
    ret = bdrv_create(format, file, opts, errp);
    if (!existed && ret < 0) {
        unlink(file);
    } else if (!existed) {
        s->created_file = g_strdup(file);
    }
    return ret;
}

static BlockDriverState *external_snapshot_open(ExternalSnapshotState *s, const char *file,
                                                const char *format, const char *node_name,
                                                Error **errp)
{
    JsonObject *options = json_object_new();

    json_object_set_string_member(options, "driver", format);
    if (node_name) {
        json_object_set_string_member(options, "node-name", node_name);
    }
    return bdrv_open(file, options, external_snapshot_flags(s) | BDRV_O_NO_BACKING, errp);
}

/* The checks before anything is created, in 2.2's order. */
static bool external_snapshot_check_target(ExternalSnapshotState *s, JsonObject *d,
                                           Error **errp)
{
    const char *device = monitor_arg_str(d, "device");
    const char *node_name = monitor_arg_str(d, "node-name");
    const char *new_name = monitor_arg_str(d, "snapshot-node-name");
    const char *format = monitor_arg_str(d, "format");
    bool no_medium;

    if (!bdrv_find_format(format ? format : "qcow2")) {
        error_setg(errp, "Invalid block format '%s'", format);
        return false;
    }
    s->old_bs = external_snapshot_lookup(device, node_name, &no_medium, errp);
    if (!s->old_bs && !no_medium) {
        return false;
    }
    if (node_name && !new_name) {
        error_setg(errp, "New snapshot node name missing");
        return false;
    }
    if (new_name && bdrv_find_node(new_name)) {
        error_setg(errp, "New snapshot node name already existing");
        return false;
    }
    if (no_medium) {
        error_setg(errp, "Device '%s' has no medium", STR_OR_NULL(device));
        return false;
    }
    if (bdrv_op_is_blocked(s->old_bs, BLOCK_OP_TYPE_EXTERNAL_SNAPSHOT, errp)) {
        return false;
    }
    if (!bdrv_is_read_only(s->old_bs) && bdrv_flush(s->old_bs) < 0) {
        error_setg(errp, "An IO error has occurred");
        return false;
    }
    if (!is_drive_root(s->old_bs)) {
        error_setg(errp, "The feature 'snapshot' is not enabled");
        return false;
    }
    return true;
}

static void external_snapshot_prepare(BlkActionState *common, Error **errp)
{
    ExternalSnapshotState *s = (ExternalSnapshotState *)common;
    JsonObject *d = common->data;
    const char *file = monitor_arg_str(d, "snapshot-file");
    const char *format = monitor_arg_str(d, "format");
    const char *mode = monitor_arg_str(d, "mode");

    format = format ? format : "qcow2";
    if (!external_snapshot_check_target(s, d, errp)) {
        s->old_bs = NULL;
        return;
    }
    bdrv_ref(s->old_bs);
    error_setg(&s->blocker, "block device is in use by a transaction");
    bdrv_op_block(s->old_bs, BLOCK_OP_TYPE_EXTERNAL_SNAPSHOT, s->blocker);
    if (mode && !strcmp(mode, "existing")) {
        if (!bdrv_snapshot_file_free(s->old_bs, file, external_snapshot_flags(s), errp)) {
            return;
        }
    } else if (external_snapshot_create(s, file, format, errp) < 0) {
        return;
    }
    s->new_bs = external_snapshot_open(s, file, format,
                                       monitor_arg_str(d, "snapshot-node-name"), errp);
}

static void external_snapshot_commit(BlkActionState *common)
{
    ExternalSnapshotState *s = (ExternalSnapshotState *)common;

    bdrv_append(s->new_bs, s->old_bs);
    /* As 2.2: a failed reopen does not undo the snapshot; the old image stays writable. */
    bdrv_reopen_read_only(s->old_bs, NULL);
}

static void external_snapshot_abort(BlkActionState *common)
{
    ExternalSnapshotState *s = (ExternalSnapshotState *)common;

    g_clear_pointer(&s->new_bs, bdrv_unref);
    if (s->created_file) {
        unlink(s->created_file);
    }
}

static void external_snapshot_clean(BlkActionState *common)
{
    ExternalSnapshotState *s = (ExternalSnapshotState *)common;

    bdrv_unref(s->new_bs);
    if (s->old_bs) {
        bdrv_op_unblock(s->old_bs, BLOCK_OP_TYPE_EXTERNAL_SNAPSHOT, s->blocker);
        bdrv_unref(s->old_bs);
    }
    error_free(s->blocker);
    g_free(s->created_file);
}

static const BlkActionOps external_snapshot_action = {
    .type = "blockdev-snapshot-sync",
    .args_type = "device:s?,node-name:s?,snapshot-file:s,snapshot-node-name:s?,format:s?,"
                 "mode:s?",
    .check = external_snapshot_check,
    .instance_size = sizeof(ExternalSnapshotState),
    .prepare = external_snapshot_prepare,
    .commit = external_snapshot_commit,
    .abort = external_snapshot_abort,
    .clean = external_snapshot_clean,
};
BLK_ACTION_REGISTER(external_snapshot_action);

/* ---- internal snapshots ---- */

typedef struct InternalSnapshotState {
    BlkActionState common;
    BlockDriverState *bs; /* set once the snapshot exists */
    char *id;
} InternalSnapshotState;

static BlockDriverState *internal_snapshot_check(const char *device, const char *name,
                                                 Error **errp)
{
    BlockBackend *blk = blk_by_name(device);
    BlockDriverState *bs = blk ? blk_bs(blk) : NULL;
    BlockSnapshotInfo sn;
    int ret;

    if (!blk) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_FOUND, "Device '%s' not found", device);
    } else if (!bs) {
        error_setg(errp, "Device '%s' has no medium", device);
    } else if (bdrv_is_read_only(bs)) {
        error_setg(errp, "Device '%s' is read only", device);
    } else if (!bdrv_can_snapshot(bs)) {
        error_setg(errp, "Block format '%s' used by device '%s' does not support feature '%s'",
                   bdrv_get_format_name(bs), device, "internal snapshot");
    } else if (!name[0]) {
        error_setg(errp, "Name is empty");
    } else if ((ret = bdrv_snapshot_find(bs, NULL, name, &sn)) < 0) {
        error_setg_errno(errp, -ret, "Failed to get a snapshot list");
    } else if (ret) {
        bdrv_snapshot_info_clear(&sn);
        error_setg(errp, "Snapshot with name '%s' already exists on device '%s'", name, device);
    } else if (!bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_INTERNAL_SNAPSHOT, errp)) {
        return bs;
    }
    return NULL;
}

static void internal_snapshot_prepare(BlkActionState *common, Error **errp)
{
    InternalSnapshotState *s = (InternalSnapshotState *)common;
    const char *device = monitor_arg_str(common->data, "device");
    const char *name = monitor_arg_str(common->data, "name");
    BlockDriverState *bs = internal_snapshot_check(device, name, errp);
    BlockSnapshotInfo sn;
    Error *err = NULL;
    int ret;

    if (!bs) {
        return;
    }
    ret = bdrv_snapshot_create_vm(bs, name, clock_get_ns(CLOCK_VIRTUAL), &err);
    error_free(err);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to create snapshot '%s' on device '%s'", name,
                         device);
        return;
    }
    s->bs = bs;
    bdrv_ref(bs);
    if (bdrv_snapshot_find(bs, NULL, name, &sn) > 0) {
        s->id = g_strdup(sn.id);
        bdrv_snapshot_info_clear(&sn);
    }
}

static void internal_snapshot_abort(BlkActionState *common)
{
    InternalSnapshotState *s = (InternalSnapshotState *)common;

    if (s->bs && s->id) {
        bdrv_snapshot_delete(s->bs, s->id, NULL);
    }
}

static void internal_snapshot_clean(BlkActionState *common)
{
    InternalSnapshotState *s = (InternalSnapshotState *)common;

    bdrv_unref(s->bs);
    g_free(s->id);
}

static const BlkActionOps internal_snapshot_action = {
    .type = "blockdev-snapshot-internal-sync",
    .args_type = "device:s,name:s",
    .instance_size = sizeof(InternalSnapshotState),
    .prepare = internal_snapshot_prepare,
    .abort = internal_snapshot_abort,
    .clean = internal_snapshot_clean,
};
BLK_ACTION_REGISTER(internal_snapshot_action);

/* ---- the commands ---- */

static void qmp_blockdev_snapshot_sync(JsonObject *args, JsonNode **ret, Error **errp)
{
    blk_transaction_run_one("blockdev-snapshot-sync", args, errp);
}

static void qmp_blockdev_snapshot_internal_sync(JsonObject *args, JsonNode **ret,
                                                Error **errp)
{
    blk_transaction_run_one("blockdev-snapshot-internal-sync", args, errp);
}

static JsonNode *snapshot_info_to_json(const BlockSnapshotInfo *sn)
{
    JsonObject *o = json_object_new();
    JsonNode *n = json_node_new(JSON_NODE_OBJECT);

    json_object_set_string_member(o, "id", sn->id);
    json_object_set_string_member(o, "name", sn->name);
    json_object_set_int_member(o, "vm-state-size", sn->vm_state_size);
    json_object_set_int_member(o, "date-sec", sn->date_sec);
    json_object_set_int_member(o, "date-nsec", sn->date_nsec);
    json_object_set_int_member(o, "vm-clock-sec", sn->vm_clock_nsec / 1000000000);
    json_object_set_int_member(o, "vm-clock-nsec", sn->vm_clock_nsec % 1000000000);
    json_node_take_object(n, o);
    return n;
}

static void qmp_blockdev_snapshot_delete_internal_sync(JsonObject *args, JsonNode **ret,
                                                       Error **errp)
{
    const char *device = monitor_arg_str(args, "device");
    const char *id = monitor_arg_str(args, "id");
    const char *name = monitor_arg_str(args, "name");
    BlockBackend *blk = blk_by_name(device);
    BlockDriverState *bs = blk ? blk_bs(blk) : NULL;
    BlockSnapshotInfo sn;
    int found;

    if (!blk) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_FOUND, "Device '%s' not found", device);
        return;
    }
    if (!id && !name) {
        error_setg(errp, "Name or id must be provided");
        return;
    }
    found = bs ? bdrv_snapshot_find(bs, id, name, &sn) : -ENOMEDIUM;
    if (found < 0) {
        error_setg_errno(errp, -found, "Failed to get a snapshot list");
        return;
    }
    if (!found) {
        error_setg(errp, "Snapshot with id '%s' and name '%s' does not exist on device '%s'",
                   STR_OR_NULL(id), STR_OR_NULL(name), device);
        return;
    }
    if (bdrv_snapshot_delete(bs, sn.id, errp) == 0) {
        *ret = snapshot_info_to_json(&sn);
    }
    bdrv_snapshot_info_clear(&sn);
}

/* HMP snapshot_blkdev [-n] device [new-image-file] [format]: -n reuses an existing file. */
static bool hmp_snapshot_blkdev_convert(JsonObject *args, Error **errp)
{
    bool reuse = monitor_arg_bool(args, "reuse", false);

    if (!json_object_has_member(args, "snapshot-file")) {
        error_setg(errp, "Parameter '%s' is missing", "snapshot-file");
        return false;
    }
    json_object_remove_member(args, "reuse");
    json_object_set_string_member(args, "mode", reuse ? "existing" : "absolute-paths");
    return true;
}

static const MonitorCommand snapshot_cmds[] = {
    {.name = "blockdev-snapshot-sync",
     .args_type = "device:s?,node-name:s?,snapshot-file:s,snapshot-node-name:s?,format:s?,"
                  "mode:s?",
     .fn = qmp_blockdev_snapshot_sync,
     .hmp_name = "snapshot_blkdev",
     .hmp_args_type = "reuse:-n,device:B,snapshot-file:s?,format:s?",
     .hmp_params = "[-n] device [new-image-file] [format]",
     .hmp_help = "initiates a live snapshot\n\t\t\tof device. If a new image file is specified, "
                 "the\n\t\t\tnew image file will become the new root image.\n\t\t\tIf "
                 "format is specified, the snapshot file will\n\t\t\tbe created in that "
                 "format.\n\t\t\tThe default format is qcow2.  The -n flag requests "
                 "QEMU\n\t\t\tto reuse the image found in new-image-file, instead of\n\t\t\t"
                 "recreating it from scratch.",
     .hmp_convert = hmp_snapshot_blkdev_convert},
    {.name = "blockdev-snapshot-internal-sync",
     .args_type = "device:B,name:s",
     .fn = qmp_blockdev_snapshot_internal_sync,
     .hmp_name = "snapshot_blkdev_internal",
     .hmp_params = "device name",
     .hmp_help = "take an internal snapshot of device.\n\t\t\tThe format of the image used "
                 "by device must\n\t\t\tsupport it, such as qcow2.\n"},
    {.name = "blockdev-snapshot-delete-internal-sync",
     .args_type = "device:B,id:s?,name:s?",
     .fn = qmp_blockdev_snapshot_delete_internal_sync,
     .hmp_name = "snapshot_delete_blkdev_internal",
     .hmp_args_type = "device:B,name:s,id:s?",
     .hmp_params = "device name [id]",
     .hmp_help = "delete an internal snapshot of device.\n\t\t\tIf id is specified, qemu "
                 "will try delete\n\t\t\tthe snapshot matching both id and name.\n\t\t\t"
                 "The format of the image used by device must\n\t\t\tsupport it, such as "
                 "qcow2.\n"},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(snapshot_cmds);
