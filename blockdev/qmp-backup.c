/*
 * drive-backup (QMP) and drive_backup (HMP), with QEMU 2.2's checks in its order and texts.
 * The job is block/backup.c. Also the transaction action drive-backup.
 */
#include <glib.h>
#include "block/block-internal.h"
#include "block/blockjob-kinds.h"
#include "blockdev/job-args.h"
#include "blockdev/transaction.h"
#include "monitor/monitor.h"

/* Check the arguments, create and open the target, start the job. */
static BlockJob *drive_backup_start(JsonObject *args, Error **errp)
{
    BlockdevOnError on_source_error, on_target_error;
    BlockBackend *blk;
    BlockDriverState *bs, *target, *backing;
    const char *format;
    bool existing;
    int64_t size, speed = monitor_arg_int(args, "speed", 0);
    int sync;

    if (!job_arg_sync(monitor_arg_str(args, "sync"), &sync, errp) ||
        !job_arg_mode_existing(monitor_arg_str(args, "mode"), &existing, errp) ||
        !job_arg_on_error(args, "on-source-error", &on_source_error, errp) ||
        !job_arg_on_error(args, "on-target-error", &on_target_error, errp) ||
        !(blk = job_arg_drive(monitor_arg_str(args, "device"), errp)) ||
        !(bs = job_arg_medium(blk, errp)) ||
        !job_arg_format(monitor_arg_str(args, "format"), bs, existing, &format, errp) ||
        bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_BACKUP_SOURCE, errp)) {
        return NULL;
    }
    size = bdrv_getlength(bs);
    if (size < 0) {
        error_setg(errp, "bdrv_getlength failed: %s", g_strerror((int)-size));
        return NULL;
    }
    if (sync == MIRROR_SYNC_MODE_TOP && !bs->backing) {
        sync = MIRROR_SYNC_MODE_FULL;
    }
    if (!job_check_on_error(blk, on_source_error, "on-source-error", errp)) {
        return NULL;
    }
    if (speed < 0) {
        error_setg(errp, "Invalid parameter 'speed'");
        return NULL;
    }
    backing = sync == MIRROR_SYNC_MODE_TOP    ? bs->backing
              : sync == MIRROR_SYNC_MODE_NONE ? bs
                                              : NULL;
    /* 2.2 opens an existing target with the chain its header names (which must open); a new
     * one is written without reading its backing file. */
    target = job_open_target(monitor_arg_str(args, "target"), format, existing, size, backing, NULL,
                             bdrv_get_flags(bs) | (existing ? 0 : BDRV_O_NO_BACKING), errp);
    if (!target) {
        return NULL;
    }
    return backup_start(blk, target, sync, speed, on_source_error, on_target_error, errp);
}

static void qmp_drive_backup(JsonObject *args, JsonNode **ret, Error **errp)
{
    drive_backup_start(args, errp);
}

/* The transaction action: the job starts in prepare; abort cancels it synchronously. */
typedef struct BackupActionState {
    BlkActionState common;
    BlockJob *job;
    BlockBackend *blk; /* a reference while the job may still run */
} BackupActionState;

static void backup_action_prepare(BlkActionState *state, Error **errp)
{
    BackupActionState *s = (BackupActionState *)state;

    s->job = drive_backup_start(state->data, errp);
    if (s->job) {
        s->blk = s->job->blk;
        blk_ref(s->blk);
    }
}

static void backup_action_abort(BlkActionState *state)
{
    BackupActionState *s = (BackupActionState *)state;

    if (s->job && block_job_of_blk(s->blk) == s->job) {
        block_job_cancel_sync(s->job);
    }
}

static void backup_action_clean(BlkActionState *state)
{
    BackupActionState *s = (BackupActionState *)state;

    if (s->blk) {
        blk_unref(s->blk);
    }
}

static bool backup_action_check(JsonObject *data, Error **errp)
{
    int sync;
    bool existing;
    BlockdevOnError e;

    return job_arg_sync(monitor_arg_str(data, "sync"), &sync, errp) &&
           job_arg_mode_existing(monitor_arg_str(data, "mode"), &existing, errp) &&
           job_arg_on_error(data, "on-source-error", &e, errp) &&
           job_arg_on_error(data, "on-target-error", &e, errp);
}

static const BlkActionOps backup_action = {
    .type = "drive-backup",
    .args_type = "device:s,target:s,format:s?,sync:s,mode:s?,speed:i?,on-source-error:s?,"
                 "on-target-error:s?",
    .check = backup_action_check,
    .instance_size = sizeof(BackupActionState),
    .prepare = backup_action_prepare,
    .abort = backup_action_abort,
    .clean = backup_action_clean,
};
BLK_ACTION_REGISTER(backup_action);

static const MonitorCommand backup_cmds[] = {
    {.name = "drive-backup",
     .args_type = "sync:s,device:B,target:s,speed:i?,mode:s?,format:s?,on-source-error:s?,"
                  "on-target-error:s?",
     .fn = qmp_drive_backup,
     .hmp_name = "drive_backup",
     .hmp_args_type = "reuse:-n,full:-f,device:B,target:s,format:s?",
     .hmp_params = "[-n] [-f] device target [format]",
     .hmp_help = "initiates a point-in-time\n\t\t\t copy for a device. The device's contents "
                 "are\n\t\t\t copied to the new image file, excluding data that\n\t\t\t is "
                 "written after the command is started.\n\t\t\t The -n flag requests QEMU to "
                 "reuse the image found\n\t\t\t in new-image-file, instead of recreating it "
                 "from scratch.\n\t\t\t The -f flag requests QEMU to copy the whole disk,\n"
                 "\t\t\t so that the result does not need a backing file.\n\t\t\t",
     .hmp_convert = job_hmp_convert_args},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(backup_cmds);
