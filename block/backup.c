/*
 * The backup job (drive-backup): the target receives the drive's content as it was when the
 * job started. The job copies cluster by cluster; a guest write to a cluster not yet copied
 * first copies the old data (copy-before-write, from the source's write notifier, in the
 * thread performing the write). A bitmap of clusters still to copy and one lock make each
 * cluster be copied exactly once, before any write changes it. Not the monitor command.
 */
#include <errno.h>
#include <stddef.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/blockjob-kinds.h"
#include "block/dirty-bitmap.h"
#include "block/write-notify.h"

#define BACKUP_CLUSTER (64 * 1024)
#define BACKUP_IDLE_WAIT_US (100 * 1000)
#define ROUND_DOWN(x, a) ((x) / (a) * (a))
#define ROUND_UP(x, a) ROUND_DOWN((x) + (a)-1, (a))

typedef struct BackupJob {
    BlockJob common;
    BlockDriverState *source, *target; /* references */
    MirrorSyncMode sync;
    BdrvDirtyBitmap *todo; /* clusters not copied yet */
    BdrvWriteNotifier notifier;
    GMutex copy_lock;
    BlockJobWriteBehind wb;
    bool notifier_added;
} BackupJob;

/* With copy_lock held: copy the clusters of [offset, end) still to do. */
static int backup_copy_locked(BackupJob *b, uint64_t offset, uint64_t end, void *buf, bool *is_read)
{
    uint64_t start, bytes;

    while (offset < end &&
           (bytes = bdrv_dirty_bitmap_next(b->todo, offset, ROUND_UP(end - offset, BACKUP_CLUSTER),
                                           &start, false)) &&
           start < end) {
        int ret;

        bytes = MIN(bytes, end - start);
        bdrv_dirty_bitmap_reset(b->todo, start, bytes);
        *is_read = true;
        ret = bdrv_pread(b->source, start, buf, bytes);
        if (ret >= 0) {
            *is_read = false;
            ret = bdrv_pwrite(b->target, start, buf, bytes);
        }
        if (ret < 0) {
            bdrv_dirty_bitmap_set(b->todo, start, bytes);
            return ret;
        }
        offset = start + bytes;
    }
    return 0;
}

/* Cluster-aligned [offset, offset+bytes), clipped to the image. */
static void backup_align(BackupJob *b, uint64_t *offset, uint64_t *end, uint64_t bytes)
{
    uint64_t size = bdrv_dirty_bitmap_size(b->todo);

    *end = MIN(ROUND_UP(*offset + bytes, BACKUP_CLUSTER), size);
    *offset = ROUND_DOWN(*offset, BACKUP_CLUSTER);
}

static int backup_before_write(BdrvWriteNotifier *n, uint64_t offset, uint64_t bytes)
{
    BackupJob *b = (BackupJob *)((char *)n - offsetof(BackupJob, notifier));
    uint64_t end;
    bool is_read;
    void *buf;
    int ret;

    backup_align(b, &offset, &end, bytes);
    buf = g_malloc(MAX(end - offset, 1));
    g_mutex_lock(&b->copy_lock);
    ret = backup_copy_locked(b, offset, end, buf, &is_read);
    g_mutex_unlock(&b->copy_lock);
    g_free(buf);
    return ret;
}

/* Does sync=top copy the cluster at offset (allocated in the source itself)? */
static int backup_wanted(BackupJob *b, uint64_t offset, uint64_t bytes)
{
    uint64_t pnum = 0;
    int ret;

    if (b->sync != MIRROR_SYNC_MODE_TOP) {
        return 1;
    }
    while (bytes > 0) {
        ret = bdrv_block_status(b->source, offset, bytes, &pnum);
        if (ret < 0 || (ret & BDRV_BLOCK_ALLOCATED)) {
            return ret < 0 ? ret : 1;
        }
        pnum = MAX(pnum, 1);
        offset += MIN(pnum, bytes);
        bytes -= MIN(pnum, bytes);
    }
    return 0;
}

/* One cluster of the job's own pass: 0, or -errno when the policy ends the job. */
static int backup_step(BackupJob *b, uint64_t offset, uint64_t end, void *buf)
{
    bool is_read = true;
    int ret = backup_wanted(b, offset, end - offset);
    bool copy = ret > 0;

    if (copy) {
        if (!block_job_rate_wait(&b->common, end - offset)) {
            return -ECANCELED;
        }
        block_job_io_begin(b->source);
        g_mutex_lock(&b->copy_lock);
        ret = backup_copy_locked(b, offset, end, buf, &is_read);
        g_mutex_unlock(&b->copy_lock);
        block_job_io_end(b->source);
    }
    if (ret >= 0) {
        block_job_add_offset(&b->common, end - offset);
        return block_job_write_behind(&b->common, &b->wb, copy ? end - offset : 0);
    }
    switch (block_job_error_action(&b->common,
                                   is_read ? b->common.on_source_error : b->common.on_target_error,
                                   is_read, ret)) {
    case BLOCK_ERROR_ACTION_REPORT:
        return ret;
    case BLOCK_ERROR_ACTION_IGNORE:
        block_job_add_offset(&b->common, end - offset);
        return 0;
    default:
        return 1; /* stop: the same cluster again after resume */
    }
}

/* sync=none: copy-before-write only, until cancelled. */
static int backup_wait_cancel(BackupJob *b)
{
    BlockJob *job = &b->common;

    g_mutex_lock(&job->lock);
    while (!job->cancelled) {
        job->busy = false;
        g_cond_wait_until(&job->cond, &job->lock, g_get_monotonic_time() + BACKUP_IDLE_WAIT_US);
    }
    job->busy = true;
    g_mutex_unlock(&job->lock);
    return -ECANCELED;
}

static int backup_loop(BackupJob *b, void *buf)
{
    BlockJob *job = &b->common;
    uint64_t len = bdrv_dirty_bitmap_size(b->todo), offset = 0;

    while (offset < len) {
        uint64_t end = MIN(offset + BACKUP_CLUSTER, len);
        int ret;

        if (!block_job_pause_point(job)) {
            return -ECANCELED;
        }
        ret = backup_step(b, offset, end, buf);
        if (ret < 0) {
            return ret;
        }
        if (ret == 0) {
            offset = end;
        }
    }
    return 0;
}

static int backup_run(BlockJob *job)
{
    BackupJob *b = (BackupJob *)job;
    g_autofree void *buf = g_malloc(BACKUP_CLUSTER);
    int ret, wb_ret;

    block_job_set_len(job, bdrv_dirty_bitmap_size(b->todo));
    if (b->sync == MIRROR_SYNC_MODE_NONE) {
        return backup_wait_cancel(b);
    }
    ret = backup_loop(b, buf);
    wb_ret = block_job_write_behind_end(&b->common, &b->wb);
    if (ret < 0 || wb_ret < 0) {
        return ret < 0 ? ret : wb_ret;
    }
    return bdrv_flush(b->target);
}

static void backup_remove_notifier(BackupJob *b)
{
    if (b->notifier_added) {
        bdrv_drained_begin(b->source);
        bdrv_remove_write_notifier(&b->notifier);
        bdrv_drained_end(b->source);
        b->notifier_added = false;
    }
}

static void backup_clean(BlockJob *job)
{
    backup_remove_notifier((BackupJob *)job);
}

static void backup_free(BlockJob *job)
{
    BackupJob *b = (BackupJob *)job;

    bdrv_dirty_bitmap_free(b->todo);
    g_mutex_clear(&b->copy_lock);
    bdrv_unref(b->target);
    bdrv_unref(b->source);
}

static const BlockJobDriver backup_driver = {
    .job_type = "backup",
    .instance_size = sizeof(BackupJob),
    .run = backup_run,
    .clean = backup_clean,
    .free = backup_free,
};

BlockJob *backup_start(BlockBackend *blk, BlockDriverState *target, MirrorSyncMode sync,
                       int64_t speed, BlockdevOnError on_source_error,
                       BlockdevOnError on_target_error, Error **errp)
{
    BlockDriverState *source = blk_bs(blk);
    int64_t len = bdrv_getlength(source);
    BackupJob *b;

    if (len < 0) {
        error_setg(errp, "bdrv_getlength failed: %s", g_strerror((int)-len));
        bdrv_unref(target);
        return NULL;
    }
    b = (BackupJob *)block_job_create(&backup_driver, blk, speed, errp);
    if (!b) {
        bdrv_unref(target);
        return NULL;
    }
    b->common.len = len;
    b->source = source;
    bdrv_ref(source);
    b->target = target;
    b->wb.target = target;
    b->sync = sync;
    b->common.on_source_error = on_source_error;
    b->common.on_target_error = on_target_error;
    b->todo = bdrv_dirty_bitmap_new(len, BACKUP_CLUSTER);
    bdrv_dirty_bitmap_set(b->todo, 0, len);
    g_mutex_init(&b->copy_lock);
    block_job_block_node(&b->common, target);
    b->notifier.before = backup_before_write;
    bdrv_drained_begin(source);
    bdrv_add_write_notifier(source, &b->notifier);
    b->notifier_added = true;
    bdrv_drained_end(source);
    block_job_start(&b->common);
    return &b->common;
}
