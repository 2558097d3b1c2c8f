/*
 * The mirror job (drive-mirror, and block-commit of the active layer): a bulk copy of the
 * drive's root to a target, driven by a dirty bitmap that the source's write notifier keeps
 * up to date, then READY and mirroring until block-job-complete pivots the drive onto the
 * target (or cancel leaves the target as a consistent copy).
 *
 * Ordering: the copy of a run clears its bits before reading the source, and a guest write
 * sets them after it has landed, so a run that was read before the write is copied again.
 * copy-mode=write-blocking (extension) instead copies each guest write to the target itself
 * before completing it, under the same lock as the job's copies (unless the job has yet to
 * copy that range anyway), so the dirty set only shrinks and the job converges however fast
 * the guest writes. Several runs are copied at
 * once (job-copy.h: as many as buf-size holds, at most MIRROR_MAX_IN_FLIGHT), never two of the
 * same range, and READY waits for the copies in flight. The final pass (job thread done) runs
 * in the main thread inside a drained section of the source: nothing can dirty the bitmap
 * while the last runs are copied and the drive is switched.
 */
#include <errno.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/blockjob-kinds.h"
#include "block/dirty-bitmap.h"
#include "block/write-notify.h"

#include <stddef.h>

#define MIRROR_MAX_CHUNK (4 * 1024 * 1024)
/* A run is copied through a buffer of at most this size: one that stays in the CPU's cache
 * between the read and the write (4 MiB pieces made a 2 GiB copy three times slower). */
#define MIRROR_COPY_PIECE (128 * 1024)
#define MIRROR_IDLE_WAIT_US (20 * 1000)
/* After an ignored copy error the run is dirty again. Copied again at once, a target that
 * keeps failing is retried in a tight loop, each failure a BLOCK_JOB_ERROR event that the main
 * loop sends more slowly than they come: its queue grows and the monitor stops answering.
 * QEMU's coroutine retries once per main-loop iteration; this job waits a slice instead. */
#define MIRROR_RETRY_WAIT_US (100 * 1000)
/* Runs copied at once, as QEMU's mirror. Idle, 8 copy as fast; with a guest writing at full
 * speed the job's share of the CPUs and the disk grows with it (2 GiB in 5.6-6.0 s instead
 * of 5.8-8.8 s, docs/performance.md). */
#define MIRROR_MAX_IN_FLIGHT 16

typedef struct MirrorJob {
    BlockJob common;
    MirrorParams p;
    BlockDriverState *source;
    BdrvDirtyBitmap *bitmap;
    BdrvWriteNotifier notifier;
    /* A piece of a run being copied to the target, or a guest's write-through: at most one
     * of them in a range at a time. */
    BlockRangeLock copy_lock;
    uint64_t chunk;         /* the longest run to copy (buf-size) */
    uint64_t piece;         /* a copy's buffer size, and the longest run one copy takes */
    BlockJobWriteBehind wb; /* the bulk copy's, until READY */
    int64_t retry_at;       /* job thread: no new copy before (monotonic us), after an error */
    bool notifier_added;
} MirrorJob;

static void mirror_kick(MirrorJob *m)
{
    g_mutex_lock(&m->common.lock);
    g_cond_broadcast(&m->common.cond);
    g_mutex_unlock(&m->common.lock);
}

/*
 * Write-blocking: copy the guest's new data to the target before its write completes. Not
 * needed where every granule the write touches is still dirty: no copy has taken them yet,
 * and the one that will reads the source after this write landed there.
 */
static void mirror_write_through(MirrorJob *m, uint64_t offset, uint64_t bytes, IOVector *qiov)
{
    BlockRange r;
    int ret;

    if (bdrv_dirty_bitmap_all_set(m->bitmap, offset, bytes)) {
        return;
    }
    block_range_lock(&m->copy_lock, &r, offset, bytes);
    ret = qiov ? bdrv_pwritev(m->p.target, offset, qiov, 0)
               : bdrv_pwrite_zeroes(m->p.target, offset, bytes, 0);
    block_range_unlock(&m->copy_lock, &r);
    if (ret < 0) {
        bdrv_dirty_bitmap_set(m->bitmap, offset, bytes); /* the job copies it again */
    }
}

static void mirror_after_write(BdrvWriteNotifier *n, uint64_t offset, uint64_t bytes,
                               IOVector *qiov, int ret)
{
    MirrorJob *m = (MirrorJob *)((char *)n - offsetof(MirrorJob, notifier));

    if (m->p.write_blocking && ret >= 0) {
        mirror_write_through(m, offset, bytes, qiov);
        return;
    }
    bdrv_dirty_bitmap_set(m->bitmap, offset, bytes);
    mirror_kick(m);
}

/* The initial dirty set: everything for full, the allocated part above base for top. */
static int mirror_fill_bitmap(MirrorJob *m, int64_t len)
{
    uint64_t offset = 0;

    if (m->p.sync == MIRROR_SYNC_MODE_NONE) {
        return 0;
    }
    if (m->p.sync == MIRROR_SYNC_MODE_FULL && !m->p.base) {
        bdrv_dirty_bitmap_set(m->bitmap, 0, len);
        return 0;
    }
    while (offset < (uint64_t)len) {
        uint64_t bytes = MIN((uint64_t)len - offset, 1ULL << 30);
        int ret = bdrv_is_allocated_above(m->source, m->p.base, offset, &bytes);

        if (ret < 0) {
            return ret;
        }
        if (ret) {
            bdrv_dirty_bitmap_set(m->bitmap, offset, bytes);
        }
        offset += bytes;
    }
    return 0;
}

/*
 * Copy one dirty run (bits already cleared) through buf (m->piece bytes), piece by piece,
 * each with its range locked: a guest write waits for one piece at most, and its
 * write-through (which comes after its write to the source) lands either before the piece
 * is read or after it is written. 0, or -errno with *is_read telling where.
 */
static int mirror_copy(MirrorJob *m, uint64_t start, uint64_t bytes, void *buf, bool *is_read)
{
    for (uint64_t done = 0; done < bytes;) {
        uint64_t n = MIN(bytes - done, m->piece);
        BlockRange r;
        int ret;

        block_range_lock(&m->copy_lock, &r, start + done, n);
        *is_read = true;
        ret = bdrv_pread(m->source, start + done, buf, n);
        if (ret >= 0) {
            *is_read = false;
            ret = bdrv_pwrite(m->p.target, start + done, buf, n);
        }
        block_range_unlock(&m->copy_lock, &r);
        if (ret < 0) {
            return ret;
        }
        done += n;
    }
    return 0;
}

/* Job thread (or the final pass): copied more bytes; len is what is done, dirty or in flight. */
static void mirror_update_progress(MirrorJob *m, uint64_t copied)
{
    BlockJob *job = &m->common;
    uint64_t in_flight;

    block_job_copies_in_flight(job, &in_flight);
    g_mutex_lock(&job->lock);
    job->offset += copied;
    job->len = job->offset + bdrv_dirty_bitmap_count(m->bitmap) + in_flight;
    g_mutex_unlock(&job->lock);
}

/* The longest run one copy takes: its buffer (at least a granule), or 100 ms worth at the
 * current speed, so that a rate limit holds over short intervals too. */
static uint64_t mirror_chunk(MirrorJob *m)
{
    uint64_t g = m->p.granularity, speed, chunk = MIN(m->chunk, MAX(g, m->piece));

    g_mutex_lock(&m->common.lock);
    speed = m->common.speed;
    g_mutex_unlock(&m->common.lock);
    if (speed == 0) {
        return chunk;
    }
    return MIN(chunk, MAX(g, speed / 10 / g * g));
}

/* A pool thread: copy c's run, counted as a request of the source (block_job_io_begin). */
static void mirror_copy_run(BlockJob *job, BlockJobCopy *c)
{
    MirrorJob *m = (MirrorJob *)job;

    block_job_io_begin(m->source);
    c->ret = mirror_copy(m, c->offset, c->bytes, c->buf, &c->is_read);
    block_job_io_end(m->source);
}

/* Job thread: a run's copy is done. A failed run is dirty again (copied later, or after
 * resume); once the job is ending or cancelled no further event is sent for it. */
static int mirror_copy_done(BlockJob *job, BlockJobCopy *c)
{
    MirrorJob *m = (MirrorJob *)job;
    BlockdevOnError policy = c->is_read ? m->p.on_source_error : m->p.on_target_error;

    if (c->ret >= 0) {
        mirror_update_progress(m, c->bytes);
        return job->ready ? 0 : block_job_write_behind(job, &m->wb, c->bytes);
    }
    bdrv_dirty_bitmap_set(m->bitmap, c->offset, c->bytes);
    if (job->copies.ret < 0 || block_job_is_cancelled(job)) {
        return 0;
    }
    switch (block_job_error_action(job, policy, c->is_read, c->ret)) {
    case BLOCK_ERROR_ACTION_REPORT:
        return c->ret;
    case BLOCK_ERROR_ACTION_IGNORE:
        m->retry_at = g_get_monotonic_time() + MIRROR_RETRY_WAIT_US; /* retried later */
        return 0;
    default:
        return 0; /* stop: retried after resume */
    }
}

/* Before the next copy: wait out m->retry_at, unless the job is cancelled or completed. */
static void mirror_retry_wait(MirrorJob *m)
{
    BlockJob *job = &m->common;
    bool waiting = true;

    if (g_get_monotonic_time() >= m->retry_at) {
        return;
    }
    g_mutex_lock(&job->lock);
    job->busy = false;
    while (waiting && !job->cancelled && !job->should_complete) {
        waiting = g_cond_wait_until(&job->cond, &job->lock, m->retry_at);
    }
    job->busy = true;
    g_mutex_unlock(&job->lock);
}

/* Start copying the next dirty run after *cursor. 1: started; 0: nothing dirty; < 0: end
 * the job. */
static int mirror_iteration(MirrorJob *m, uint64_t *cursor)
{
    uint64_t start, bytes, chunk = mirror_chunk(m);
    int ret;

    bytes = bdrv_dirty_bitmap_next(m->bitmap, *cursor, chunk, &start, false);
    if (bytes == 0 && *cursor > 0) {
        *cursor = 0;
        bytes = bdrv_dirty_bitmap_next(m->bitmap, 0, chunk, &start, false);
    }
    if (bytes == 0) {
        return 0;
    }
    if (!block_job_rate_wait(&m->common, bytes)) {
        return -ECANCELED;
    }
    bytes = bdrv_dirty_bitmap_next(m->bitmap, start, chunk, &start, true);
    if (bytes == 0) {
        return 1;
    }
    *cursor = start + bytes;
    ret = block_job_copy_start(&m->common, start, bytes);
    if (ret < 0) {
        bdrv_dirty_bitmap_set(m->bitmap, start, bytes); /* not copied */
        return ret;
    }
    return 1;
}

/* Nothing dirty: announce READY once, then wait for guest writes or complete/cancel. */
static bool mirror_idle(MirrorJob *m)
{
    BlockJob *job = &m->common;
    int64_t deadline = g_get_monotonic_time() + MIRROR_IDLE_WAIT_US;

    if (!job->ready) {
        mirror_update_progress(m, 0);
        block_job_ready(job);
    }
    g_mutex_lock(&job->lock);
    job->busy = false;
    if (!job->cancelled && !job->should_complete && !bdrv_dirty_bitmap_count(m->bitmap)) {
        g_cond_wait_until(&job->cond, &job->lock, deadline);
    }
    job->busy = true;
    g_mutex_unlock(&job->lock);
    return !block_job_should_complete(job);
}

static int mirror_loop(MirrorJob *m, int64_t len)
{
    BlockJob *job = &m->common;
    uint64_t cursor = 0, in_flight;
    int ret = mirror_fill_bitmap(m, len);

    mirror_update_progress(m, 0);
    while (ret >= 0) {
        if (!block_job_pause_point(job)) {
            return -ECANCELED;
        }
        mirror_retry_wait(m);
        ret = mirror_iteration(m, &cursor);
        if (ret == 0 && block_job_copies_in_flight(job, &in_flight) > 0) {
            /* in sync once the copies in flight are done, unless they failed */
            ret = block_job_copy_drain(job);
            continue;
        }
        if (ret == 0 && !job->ready) {
            /* in sync: but did the write-back of the bulk copy fail? */
            ret = block_job_write_behind_end(job, &m->wb);
        }
        if (ret == 0 && !mirror_idle(m)) {
            return 0; /* complete: the main thread copies what is left and pivots */
        }
    }
    return ret;
}

static int mirror_run(BlockJob *job)
{
    MirrorJob *m = (MirrorJob *)job;
    int64_t len = bdrv_getlength(m->source);
    int ret, copy_ret, wb_ret;

    if (len < 0) {
        return (int)len;
    }
    ret = mirror_loop(m, len);
    copy_ret = block_job_copy_drain(job);
    wb_ret = block_job_write_behind_end(&m->common, &m->wb);
    return ret < 0 ? ret : copy_ret < 0 ? copy_ret : wb_ret;
}

/* Main thread, source drained: copy whatever is still dirty. */
static int mirror_final_pass(MirrorJob *m)
{
    g_autofree void *buf = g_malloc(m->piece);
    uint64_t start, bytes;
    bool is_read;

    while ((bytes = bdrv_dirty_bitmap_next(m->bitmap, 0, m->chunk, &start, true)) > 0) {
        int ret = mirror_copy(m, start, bytes, buf, &is_read);

        if (ret < 0) {
            bdrv_dirty_bitmap_set(m->bitmap, start, bytes);
            return ret;
        }
        mirror_update_progress(m, bytes);
    }
    return bdrv_flush(m->p.target);
}

/* Main thread, source drained: the target takes the source's place as the drive's root. */
static void mirror_pivot(MirrorJob *m)
{
    BlockBackend *blk = m->common.blk;
    BlockDriverState *target = m->p.target;

    if (m->p.target_backing && !target->backing) {
        bdrv_ref(m->p.target_backing);
        target->backing = m->p.target_backing;
        target->open_flags &= ~BDRV_O_NO_BACKING;
    }
    target->enable_write_cache = m->source->enable_write_cache;
    bdrv_ref(target);
    blk->root = target;
    target->blk = blk;
    m->source->blk = NULL;
    bdrv_retarget_parked(m->source, target);
    bdrv_unref(m->source); /* the backend's reference */
}

/* Main thread, the job done (completed, not cancelled): in one drained section of the source,
 * the drive's requests held, stop watching it, copy what is still dirty and pivot. */
static int mirror_commit(BlockJob *job)
{
    MirrorJob *m = (MirrorJob *)job;
    int ret = 0;

    blk_root_change_begin(job->blk);
    bdrv_drained_begin(m->source);
    bdrv_remove_write_notifier(&m->notifier);
    m->notifier_added = false;
    if (block_job_should_complete(job)) {
        ret = mirror_final_pass(m);
        if (ret >= 0) {
            mirror_pivot(m);
        }
    }
    bdrv_drained_end(m->source);
    blk_root_change_end(job->blk);
    return ret;
}

/* Main thread: open the chain the target's header names (nothing if it names none), under
 * the copy lock since the job and write-through copies use the target. */
static bool mirror_open_target_backing(MirrorJob *m, Error **errp)
{
    BlockDriverState *t = m->p.target;
    g_autoptr(JsonObject) opts = json_object_new();
    BlockRange all;
    int ret;

    block_range_lock(&m->copy_lock, &all, 0, UINT64_MAX);
    ret = bdrv_open_backing(t, opts, t->backing_file, t->backing_format,
                            t->open_flags & ~BDRV_O_NO_BACKING, errp);
    if (ret >= 0 && t->backing) {
        t->open_flags &= ~BDRV_O_NO_BACKING;
    }
    block_range_unlock(&m->copy_lock, &all);
    return ret >= 0;
}

static void mirror_complete(BlockJob *job, Error **errp)
{
    MirrorJob *m = (MirrorJob *)job;

    if (m->p.open_target_backing && !mirror_open_target_backing(m, errp)) {
        return;
    }
    g_mutex_lock(&job->lock);
    job->should_complete = true;
    g_cond_broadcast(&job->cond);
    g_mutex_unlock(&job->lock);
}

/* Every other end: the guest's writes stop reaching the bitmap and the target before the
 * end event. */
static void mirror_clean(BlockJob *job)
{
    MirrorJob *m = (MirrorJob *)job;

    if (m->notifier_added) {
        bdrv_drained_begin(m->source);
        bdrv_remove_write_notifier(&m->notifier);
        bdrv_drained_end(m->source);
        m->notifier_added = false;
    }
}

static void mirror_free(BlockJob *job)
{
    MirrorJob *m = (MirrorJob *)job;

    bdrv_dirty_bitmap_free(m->bitmap);
    block_range_lock_destroy(&m->copy_lock);
    bdrv_unref(m->p.target);
    bdrv_unref(m->source);
}

static bool mirror_dirty_info(BlockJob *job, uint64_t *count, uint32_t *granularity)
{
    MirrorJob *m = (MirrorJob *)job;

    *count = bdrv_dirty_bitmap_count(m->bitmap);
    *granularity = bdrv_dirty_bitmap_granularity(m->bitmap);
    return true;
}

static const BlockJobDriver mirror_driver = {
    .job_type = "mirror",
    .instance_size = sizeof(MirrorJob),
    .run = mirror_run,
    .commit = mirror_commit,
    .clean = mirror_clean,
    .complete = mirror_complete,
    .dirty_info = mirror_dirty_info,
    .free = mirror_free,
    .copy = mirror_copy_run,
    .copy_done = mirror_copy_done,
};

static const BlockJobDriver commit_active_driver = {
    .job_type = "commit",
    .instance_size = sizeof(MirrorJob),
    .run = mirror_run,
    .commit = mirror_commit,
    .clean = mirror_clean,
    .complete = mirror_complete,
    .dirty_info = mirror_dirty_info,
    .free = mirror_free,
    .copy = mirror_copy_run,
    .copy_done = mirror_copy_done,
};

BlockJob *mirror_start(BlockBackend *blk, const MirrorParams *p, Error **errp)
{
    const BlockJobDriver *drv = p->is_commit ? &commit_active_driver : &mirror_driver;
    BlockDriverState *source = blk_bs(blk);
    int64_t len = bdrv_getlength(source);
    MirrorJob *m;

    if (len < 0) {
        error_setg_errno(errp, (int)-len, "Could not get the size of '%s'", blk_name(blk));
        bdrv_unref(p->target);
        return NULL;
    }
    m = (MirrorJob *)block_job_create(drv, blk, p->speed, errp);
    if (!m) {
        bdrv_unref(p->target);
        return NULL;
    }
    m->p = *p;
    m->source = source;
    bdrv_ref(source);
    m->chunk = MAX(MIN(p->buf_size, MIRROR_MAX_CHUNK), p->granularity);
    m->chunk -= m->chunk % p->granularity;
    m->piece = MIN(m->chunk, MIRROR_COPY_PIECE);
    m->bitmap = bdrv_dirty_bitmap_new(len, p->granularity);
    m->wb.target = p->target;
    block_range_lock_init(&m->copy_lock);
    block_job_copy_setup(&m->common, MIN(MAX(p->buf_size / m->piece, 1), MIRROR_MAX_IN_FLIGHT),
                         m->piece);
    m->common.on_source_error = p->on_source_error;
    m->common.on_target_error = p->on_target_error;
    block_job_block_node(&m->common, p->target);
    m->notifier.after = mirror_after_write;
    bdrv_drained_begin(source);
    bdrv_add_write_notifier(source, &m->notifier);
    m->notifier_added = true;
    bdrv_drained_end(source);
    block_job_start(&m->common);
    return &m->common;
}
