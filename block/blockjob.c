/*
 * The block job core (include/block/blockjob.h): life cycle, the job thread, pause and
 * cancel points, the rate-limit sleep, error policy and the end events. The job kinds live
 * in stream.c, commit.c, mirror.c and backup.c; the monitor commands in blockdev/.
 */
#include <errno.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/blockjob.h"
#include "monitor/monitor.h"

/* Main thread only: every job, in creation order. */
static GSList *jobs;
static uint64_t last_id;

static const char *const iostatus_names[] = {"ok", "failed", "nospace"};

BlockJob *block_job_of_blk(BlockBackend *blk)
{
    for (GSList *l = jobs; l; l = l->next) {
        BlockJob *job = l->data;

        if (job->blk == blk) {
            return job;
        }
    }
    return NULL;
}

BlockJob *block_job_find(const char *device)
{
    BlockBackend *blk = device ? blk_by_name(device) : NULL;

    return blk ? block_job_of_blk(blk) : NULL;
}

static BlockJob *block_job_by_id(uint64_t id)
{
    for (GSList *l = jobs; l; l = l->next) {
        BlockJob *job = l->data;

        if (job->id == id) {
            return job;
        }
    }
    return NULL;
}

static void block_job_timer_cb(void *opaque)
{
    BlockJob *job = opaque;

    g_mutex_lock(&job->lock);
    if (job->sleeping) {
        job->sleeping = false;
        job->busy = true; /* from now on, not once the thread gets to run */
    }
    g_cond_broadcast(&job->cond);
    g_mutex_unlock(&job->lock);
}

BlockJob *block_job_create(const BlockJobDriver *driver, BlockBackend *blk, int64_t speed,
                           Error **errp)
{
    BlockJob *job;

    if (speed < 0) {
        error_setg(errp, "Invalid parameter 'speed'");
        return NULL;
    }
    job = g_malloc0(driver->instance_size);
    job->id = ++last_id;
    job->driver = driver;
    job->blk = blk;
    blk_ref(blk);
    job->bs = blk_bs(blk);
    bdrv_ref(job->bs);
    job->device = g_strdup(blk_name(blk));
    job->speed = speed;
    job->busy = true;
    g_mutex_init(&job->lock);
    g_cond_init(&job->cond);
    job->clock = clock_virtual_is_manual() ? CLOCK_VIRTUAL : CLOCK_HOST;
    job->timer = timer_new(job->clock, block_job_timer_cb, job);
    ratelimit_set_speed(&job->limit, speed, clock_get_ns(job->clock));
    error_setg(&job->blocker, "block device is in use by block job: %s", driver->job_type);
    block_job_block_node(job, job->bs);
    jobs = g_slist_append(jobs, job);
    return job;
}

void block_job_block_node(BlockJob *job, BlockDriverState *bs)
{
    bdrv_ref(bs);
    bdrv_op_block_all(bs, job->blocker);
    job->blocked_nodes = g_slist_prepend(job->blocked_nodes, bs);
}

static void block_job_free(BlockJob *job)
{
    block_job_copy_free(job);
    if (job->driver->free) {
        job->driver->free(job);
    }
    jobs = g_slist_remove(jobs, job);
    for (GSList *l = job->blocked_nodes; l; l = l->next) {
        bdrv_op_unblock_all(l->data, job->blocker);
        bdrv_unref(l->data);
    }
    g_slist_free(job->blocked_nodes);
    error_free(job->blocker);
    timer_free(job->timer);
    bdrv_unref(job->bs);
    blk_unref(job->blk);
    g_free(job->device);
    g_mutex_clear(&job->lock);
    g_cond_clear(&job->cond);
    g_free(job);
}

static JsonObject *block_job_event_data(BlockJob *job)
{
    JsonObject *o = json_object_new();

    json_object_set_string_member(o, "device", job->device);
    json_object_set_int_member(o, "len", job->len);
    json_object_set_int_member(o, "offset", job->offset);
    json_object_set_int_member(o, "speed", job->speed);
    json_object_set_string_member(o, "type", job->driver->job_type);
    return o;
}

/*
 * The job's final result, the same for every kind: a failed job keeps its error and a
 * cancelled one (-ECANCELED from run, or cancelled as run returned) ends without error; both
 * leave the graph alone. Only a job that ran to its end makes its graph change.
 */
static int block_job_finish(BlockJob *job)
{
    int ret = job->ret;

    if (ret == 0 && !block_job_is_cancelled(job) && job->driver->commit) {
        ret = job->driver->commit(job);
    }
    if (job->driver->clean) {
        job->driver->clean(job);
    }
    return ret == -ECANCELED ? 0 : ret;
}

/* The thread has returned and is joined: finish, emit the end event, free. */
static void block_job_completed(BlockJob *job)
{
    int ret;
    JsonObject *data;

    timer_del(job->timer);
    ret = block_job_finish(job);
    data = block_job_event_data(job);
    if (job->cancelled && !job->ready) {
        monitor_event("BLOCK_JOB_CANCELLED", data);
    } else {
        if (ret < 0) {
            json_object_set_string_member(data, "error", g_strerror(-ret));
        }
        monitor_event("BLOCK_JOB_COMPLETED", data);
    }
    block_job_free(job);
}

/*
 * Main loop, the thread has returned: finish the job, unless block_job_cancel_sync already
 * did (which is why it travels by id). Never from inside another operation's drain (stop's
 * bdrv_drain_all, say): that drain may be walking the very nodes the job's graph change
 * drops and frees; main_loop_call_outer sees to that.
 */
static void block_job_completed_bh(void *opaque)
{
    BlockJob *job = block_job_by_id(GPOINTER_TO_SIZE(opaque));

    if (job) {
        g_thread_join(job->thread);
        block_job_completed(job);
    }
}

static gpointer block_job_thread(gpointer opaque)
{
    BlockJob *job = opaque;
    uint64_t id = job->id;

    job->ret = job->driver->run(job);
    block_job_copy_drain(job); /* the drivers drain their copies; nothing may outlive run */
    g_mutex_lock(&job->lock);
    job->busy = false;
    g_mutex_unlock(&job->lock);
    main_loop_call_outer(block_job_completed_bh, GSIZE_TO_POINTER(id));
    return NULL;
}

void block_job_cancel_sync(BlockJob *job)
{
    block_job_cancel(job, true);
    bql_unlock(); /* the thread may be about to arm its timer */
    g_thread_join(job->thread);
    bql_lock();
    block_job_completed(job);
}

void block_job_start(BlockJob *job)
{
    job->thread = g_thread_new("block-job", block_job_thread, job);
}

void block_job_cancel_all_sync(void)
{
    while (jobs) {
        block_job_cancel_sync(jobs->data);
    }
}

/* ---- monitor operations (main thread) ---- */

void block_job_set_speed(BlockJob *job, int64_t speed, Error **errp)
{
    if (speed < 0) {
        error_setg(errp, "Invalid parameter 'speed'");
        return;
    }
    g_mutex_lock(&job->lock);
    job->speed = speed;
    ratelimit_set_speed(&job->limit, speed, clock_get_ns(job->clock));
    job->sleeping = false;
    g_cond_broadcast(&job->cond);
    g_mutex_unlock(&job->lock);
}

void block_job_cancel(BlockJob *job, bool force)
{
    (void)force; /* the monitor refused a paused job without force */
    g_mutex_lock(&job->lock);
    job->cancelled = true;
    job->user_paused = false;
    job->iostatus = BLOCK_DEVICE_IO_STATUS_OK;
    job->sleeping = false;
    g_cond_broadcast(&job->cond);
    g_mutex_unlock(&job->lock);
}

void block_job_pause(BlockJob *job)
{
    g_mutex_lock(&job->lock);
    job->user_paused = true;
    g_mutex_unlock(&job->lock);
}

void block_job_resume(BlockJob *job)
{
    g_mutex_lock(&job->lock);
    job->user_paused = false;
    job->iostatus = BLOCK_DEVICE_IO_STATUS_OK;
    g_cond_broadcast(&job->cond);
    g_mutex_unlock(&job->lock);
}

bool block_job_is_paused(BlockJob *job)
{
    bool paused;

    g_mutex_lock(&job->lock);
    paused = job->user_paused;
    g_mutex_unlock(&job->lock);
    return paused;
}

void block_job_complete(BlockJob *job, Error **errp)
{
    bool refuse;

    g_mutex_lock(&job->lock);
    refuse = job->user_paused || job->cancelled || !job->driver->complete || !job->ready;
    g_mutex_unlock(&job->lock);
    if (refuse) {
        error_setg(errp, "The active block job for device '%s' cannot be completed", job->device);
        return;
    }
    job->driver->complete(job, errp);
}

JsonObject *block_job_info(BlockJob *job)
{
    JsonObject *o = json_object_new();

    g_mutex_lock(&job->lock);
    json_object_set_string_member(o, "io-status", iostatus_names[job->iostatus]);
    json_object_set_string_member(o, "device", job->device);
    json_object_set_boolean_member(o, "busy", job->busy);
    json_object_set_int_member(o, "len", job->len);
    json_object_set_int_member(o, "offset", job->offset);
    json_object_set_boolean_member(o, "paused", job->user_paused);
    json_object_set_int_member(o, "speed", job->speed);
    json_object_set_boolean_member(o, "ready", job->ready);
    json_object_set_string_member(o, "type", job->driver->job_type);
    g_mutex_unlock(&job->lock);
    return o;
}

JsonArray *block_job_dirty_bitmaps(BlockBackend *blk)
{
    BlockJob *job = block_job_of_blk(blk);
    uint64_t count;
    uint32_t granularity;
    JsonArray *list;
    JsonObject *o;

    if (!job || !job->driver->dirty_info || !job->driver->dirty_info(job, &count, &granularity)) {
        return NULL;
    }
    o = json_object_new();
    json_object_set_int_member(o, "granularity", granularity);
    json_object_set_int_member(o, "count", count);
    list = json_array_new();
    json_array_add_object_element(list, o);
    return list;
}

/* ---- job thread side ---- */

/* Before the job thread pauses: let the copies in flight finish, so that a paused job does
 * no I/O and its progress stands still. A copy's failure is kept for the driver. */
static void block_job_drain_if_pausing(BlockJob *job)
{
    bool pausing;
    uint64_t bytes;

    g_mutex_lock(&job->lock);
    pausing = job->user_paused && !job->cancelled;
    g_mutex_unlock(&job->lock);
    if (pausing && block_job_copies_in_flight(job, &bytes) > 0) {
        block_job_copy_drain(job);
    }
}

/* With job->lock held. */
static void block_job_wait_unpaused_locked(BlockJob *job)
{
    while (job->user_paused && !job->cancelled) {
        job->busy = false;
        g_cond_wait(&job->cond, &job->lock);
    }
    job->busy = true;
}

bool block_job_pause_point(BlockJob *job)
{
    bool go;

    block_job_drain_if_pausing(job);
    g_mutex_lock(&job->lock);
    block_job_wait_unpaused_locked(job);
    go = !job->cancelled;
    g_mutex_unlock(&job->lock);
    return go;
}

/*
 * Job thread, without the job's lock: arm the rate-limit timer under the BQL (timers belong to
 * the main loop), or end the sleep at once if the clock has already passed its deadline. The
 * BQL orders this against qtest's clock_step: a step either sees the timer or comes after
 * this check.
 */
static void block_job_arm_timer(BlockJob *job)
{
    bql_lock();
    g_mutex_lock(&job->lock);
    if (job->sleeping && clock_get_ns(job->clock) >= job->sleep_until_ns) {
        job->sleeping = false;
    } else if (job->sleeping) {
        timer_mod(job->timer, job->sleep_until_ns);
    }
    g_mutex_unlock(&job->lock);
    bql_unlock();
}

bool block_job_rate_wait(BlockJob *job, uint64_t n)
{
    block_job_drain_if_pausing(job);
    g_mutex_lock(&job->lock);
    for (;;) {
        int64_t now, delay;
        uint64_t in_flight;

        block_job_wait_unpaused_locked(job);
        if (job->cancelled) {
            break;
        }
        now = clock_get_ns(job->clock);
        delay = ratelimit_calculate_delay(&job->limit, now, n);
        if (delay == 0) {
            break;
        }
        g_mutex_unlock(&job->lock);
        if (block_job_copies_in_flight(job, &in_flight) > 0) {
            /* finish (and account for) the copies already paid for, then sleep */
            block_job_copy_drain(job);
            g_mutex_lock(&job->lock);
            continue;
        }
        g_mutex_lock(&job->lock);
        job->sleeping = true;
        job->sleep_until_ns = now + delay;
        g_mutex_unlock(&job->lock);
        block_job_arm_timer(job);
        g_mutex_lock(&job->lock);
        if (job->sleeping) {
            job->busy = false; /* only now: the timer is armed */
        }
        while (job->sleeping && !job->cancelled) {
            g_cond_wait(&job->cond, &job->lock);
        }
        job->sleeping = false;
        job->busy = true;
    }
    g_mutex_unlock(&job->lock);
    return !block_job_is_cancelled(job);
}

bool block_job_is_cancelled(BlockJob *job)
{
    bool c;

    g_mutex_lock(&job->lock);
    c = job->cancelled;
    g_mutex_unlock(&job->lock);
    return c;
}

void block_job_io_begin(BlockDriverState *bs)
{
    bdrv_request_enter(bs, NULL);
    bdrv_nesting_enter();
}

void block_job_io_end(BlockDriverState *bs)
{
    bdrv_nesting_leave();
    bdrv_request_leave(bs);
}

void block_job_set_len(BlockJob *job, int64_t len)
{
    g_mutex_lock(&job->lock);
    job->len = len;
    g_mutex_unlock(&job->lock);
}

void block_job_add_offset(BlockJob *job, int64_t n)
{
    g_mutex_lock(&job->lock);
    job->offset += n;
    g_mutex_unlock(&job->lock);
}

/* Only the first protocol node below the formats: the point is the data, and a format's own
 * flush (qcow2's metadata) may hold the format's lock, which the job's writes need. */
static gpointer block_job_write_behind_thread(gpointer opaque)
{
    BlockJobWriteBehind *wb = opaque;
    BlockDriverState *bs = wb->target;
    int ret;

    while (!bs->drv->is_protocol && bs->file) {
        bs = bs->file;
    }
    ret = bdrv_flush(bs);
    if (ret < 0 && wb->ret == 0) {
        wb->ret = ret; /* read after the join */
    }
    g_atomic_int_set(&wb->done, 1);
    return NULL;
}

/* Reap the flush in progress if it has returned (or wait for it); true if none is left. */
static bool block_job_write_behind_reap(BlockJobWriteBehind *wb, bool wait)
{
    if (wb->thread && (wait || g_atomic_int_get(&wb->done))) {
        g_thread_join(wb->thread);
        wb->thread = NULL;
    }
    return !wb->thread;
}

/* Write-behind is on: an unlimited speed, and a failed flush only reported. */
static bool block_job_write_behind_on(BlockJob *job)
{
    bool unlimited;

    g_mutex_lock(&job->lock);
    unlimited = job->speed == 0;
    g_mutex_unlock(&job->lock);
    return unlimited && job->on_target_error == BLOCKDEV_ON_ERROR_REPORT;
}

int block_job_write_behind(BlockJob *job, BlockJobWriteBehind *wb, uint64_t n)
{
    wb->pending += n;
    if (wb->pending < BLOCK_JOB_WRITE_BEHIND || !block_job_write_behind_on(job) ||
        !block_job_write_behind_reap(wb, false)) {
        return 0;
    }
    if (wb->ret < 0) {
        return block_job_write_behind_end(job, wb);
    }
    wb->pending = 0;
    g_atomic_int_set(&wb->done, 0);
    wb->thread = g_thread_try_new("block-job-flush", block_job_write_behind_thread, wb, NULL);
    return 0;
}

int block_job_write_behind_end(BlockJob *job, BlockJobWriteBehind *wb)
{
    block_job_write_behind_reap(wb, true);
    if (wb->ret < 0 && !wb->reported) {
        wb->reported = true;
        block_job_error_action(job, job->on_target_error, false, wb->ret);
    }
    return wb->ret;
}

int block_job_write_behind_finish(BlockJob *job, BlockJobWriteBehind *wb)
{
    int ret = block_job_write_behind_end(job, wb);

    if (ret == 0 && wb->pending && block_job_write_behind_on(job)) {
        wb->pending = 0;
        block_job_write_behind_thread(wb); /* here, and waited for */
        ret = block_job_write_behind_end(job, wb);
    }
    return ret;
}

void block_job_ready(BlockJob *job)
{
    JsonObject *data;

    g_mutex_lock(&job->lock);
    job->ready = true;
    data = block_job_event_data(job);
    g_mutex_unlock(&job->lock);
    monitor_event("BLOCK_JOB_READY", data);
}

bool block_job_should_complete(BlockJob *job)
{
    bool c;

    g_mutex_lock(&job->lock);
    c = job->should_complete;
    g_mutex_unlock(&job->lock);
    return c;
}

/* Paused by an error that has not been resumed from yet. */
static bool block_job_stopped_by_error(BlockJob *job)
{
    bool stopped;

    g_mutex_lock(&job->lock);
    stopped = job->user_paused && job->iostatus != BLOCK_DEVICE_IO_STATUS_OK;
    g_mutex_unlock(&job->lock);
    return stopped;
}

BlockErrorAction block_job_error_action(BlockJob *job, BlockdevOnError policy, bool is_read,
                                        int error)
{
    static const char *const action_names[] = {"ignore", "report", "stop"};
    BlockErrorAction action;
    JsonObject *data = json_object_new();

    error = error < 0 ? -error : error;
    switch (policy) {
    case BLOCKDEV_ON_ERROR_ENOSPC:
        action = error == ENOSPC ? BLOCK_ERROR_ACTION_STOP : BLOCK_ERROR_ACTION_REPORT;
        break;
    case BLOCKDEV_ON_ERROR_STOP:
        action = BLOCK_ERROR_ACTION_STOP;
        break;
    case BLOCKDEV_ON_ERROR_IGNORE:
        action = BLOCK_ERROR_ACTION_IGNORE;
        break;
    default:
        action = BLOCK_ERROR_ACTION_REPORT;
        break;
    }
    if (action == BLOCK_ERROR_ACTION_STOP && block_job_stopped_by_error(job)) {
        json_object_unref(data);
        return action;
    }
    json_object_set_string_member(data, "device", job->device);
    json_object_set_string_member(data, "operation", is_read ? "read" : "write");
    json_object_set_string_member(data, "action", action_names[action]);
    /* The job is paused before the event: a client reacting to it sees the paused job. */
    if (action == BLOCK_ERROR_ACTION_STOP) {
        g_mutex_lock(&job->lock);
        job->user_paused = true;
        job->iostatus =
            error == ENOSPC ? BLOCK_DEVICE_IO_STATUS_NOSPACE : BLOCK_DEVICE_IO_STATUS_FAILED;
        g_mutex_unlock(&job->lock);
    }
    monitor_event("BLOCK_JOB_ERROR", data);
    return action;
}
