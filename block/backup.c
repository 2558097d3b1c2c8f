/*
 * The backup job (drive-backup): the target receives the drive's content as it was when the
 * job started. The job copies cluster by cluster; a guest write to a cluster not yet copied
 * first copies the old data (copy-before-write, from the source's write notifier, in the
 * thread performing the write). A bitmap of clusters still to copy and a range lock make
 * each cluster be copied exactly once, before any write changes it: the job's copies (several
 * in flight, job-copy.h) and a guest's copy-before-write of the same clusters take turns, and
 * whoever comes second finds them done. Not the monitor command.
 */
#include <errno.h>
#include <stddef.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/blockjob-kinds.h"
#include "block/dirty-bitmap.h"
#include "block/write-notify.h"

#define BACKUP_CLUSTER (64 * 1024)
/* The job's copies: this much each, so many at once. */
#define BACKUP_CHUNK (128 * 1024)
#define BACKUP_MAX_IN_FLIGHT 8
#define BACKUP_IDLE_WAIT_US (100 * 1000)
#define ROUND_DOWN(x, a) ((x) / (a) * (a))
#define ROUND_UP(x, a) ROUND_DOWN((x) + (a)-1, (a))

typedef struct BackupJob {
    BlockJob common;
    BlockDriverState *source, *target; /* references */
    MirrorSyncMode sync;
    BdrvDirtyBitmap *todo; /* clusters not copied yet */
    BdrvWriteNotifier notifier;
    BlockRangeLock copy_lock; /* held over the clusters being copied */
    BlockJobWriteBehind wb;
    BlockJobPass pass; /* job thread: the clusters' pass and its retries */
    bool notifier_added;
} BackupJob;

/* With copy_lock held over [offset, end): copy the clusters of [offset, end) still to do. */
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
    BlockRange r;
    bool is_read;
    void *buf;
    int ret;

    backup_align(b, &offset, &end, bytes);
    buf = g_malloc(MAX(end - offset, 1));
    block_range_lock(&b->copy_lock, &r, offset, end - offset);
    ret = backup_copy_locked(b, offset, end, buf, &is_read);
    block_range_unlock(&b->copy_lock, &r);
    g_free(buf);
    return ret;
}

/* Does sync=top copy the cluster at offset (allocated in the source itself)? */
static int backup_wanted(BlockJob *job, uint64_t offset, uint64_t bytes)
{
    BackupJob *b = (BackupJob *)job;
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

/* A pool thread: copy what is still to do of c's chunk, counted as a request of the source
 * (block_job_io_begin). */
static void backup_copy_run(BlockJob *job, BlockJobCopy *c)
{
    BackupJob *b = (BackupJob *)job;
    BlockRange r;

    block_job_io_begin(b->source);
    block_range_lock(&b->copy_lock, &r, c->offset, c->bytes);
    c->ret = backup_copy_locked(b, c->offset, c->offset + c->bytes, c->buf, &c->is_read);
    block_range_unlock(&b->copy_lock, &r);
    block_job_io_end(b->source);
}

/* Job thread: a chunk's copy is done; 0, or -errno when the policy ends the job. */
static int backup_copy_done(BlockJob *job, BlockJobCopy *c)
{
    BackupJob *b = (BackupJob *)job;

    if (c->ret >= 0) {
        block_job_add_offset(job, c->bytes);
        return block_job_write_behind(job, &b->wb, c->bytes);
    }
    return block_job_copy_failed(job, c, c->is_read ? job->on_source_error : job->on_target_error,
                                 &b->pass);
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

/* A chunk of the job's pass: BACKUP_CHUNK, or 100 ms worth at the current speed (at least a
 * cluster), so that a rate limit holds over short intervals too. */
static uint64_t backup_chunk(BlockJob *job)
{
    uint64_t speed;

    g_mutex_lock(&job->lock);
    speed = job->speed;
    g_mutex_unlock(&job->lock);
    if (speed == 0) {
        return BACKUP_CHUNK;
    }
    return MIN(BACKUP_CHUNK, MAX(BACKUP_CLUSTER, ROUND_DOWN(speed / 10, BACKUP_CLUSTER)));
}

static int backup_run(BlockJob *job)
{
    BackupJob *b = (BackupJob *)job;
    int ret, copy_ret, wb_ret;

    block_job_set_len(job, bdrv_dirty_bitmap_size(b->todo));
    if (b->sync == MIRROR_SYNC_MODE_NONE) {
        return backup_wait_cancel(b);
    }
    block_job_pass_init(&b->pass, bdrv_dirty_bitmap_size(b->todo));
    ret = block_job_pass_run(job, &b->pass, backup_chunk, backup_wanted);
    copy_ret = block_job_copy_drain(job);
    ret = ret < 0 ? ret : copy_ret;
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
    block_range_lock_destroy(&b->copy_lock);
    block_job_pass_destroy(&b->pass);
    bdrv_unref(b->target);
    bdrv_unref(b->source);
}

static const BlockJobDriver backup_driver = {
    .job_type = "backup",
    .instance_size = sizeof(BackupJob),
    .run = backup_run,
    .clean = backup_clean,
    .free = backup_free,
    .copy = backup_copy_run,
    .copy_done = backup_copy_done,
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
    block_range_lock_init(&b->copy_lock);
    block_job_pass_init(&b->pass, 0);
    block_job_copy_setup(&b->common, BACKUP_MAX_IN_FLIGHT, BACKUP_CHUNK);
    block_job_block_node(&b->common, target);
    b->notifier.before = backup_before_write;
    bdrv_drained_begin(source);
    bdrv_add_write_notifier(source, &b->notifier);
    b->notifier_added = true;
    bdrv_drained_end(source);
    block_job_start(&b->common);
    return &b->common;
}
