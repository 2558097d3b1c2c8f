/*
 * Block jobs (stream, commit, mirror, backup): the common part. A job belongs to one drive
 * (BlockBackend), blocks every operation on the nodes it uses, and runs its work in its own
 * thread doing synchronous I/O in chunks without the BQL. Between chunks the thread calls
 * block_job_pause_point() / block_job_sleep(): that is where it pauses (block-job-pause or a
 * job error with action stop), notices cancellation and waits for the rate limiter (a timer
 * on the virtual clock under qtest, on the host clock otherwise, armed under the BQL).
 * A drained section needs nothing from the job: its next request simply waits until the
 * section ends. When the thread returns, the main loop joins it, lets the job driver make
 * its graph change (also in the main thread), emits the end event and frees the job.
 * Not the monitor commands (blockdev/qmp-block-jobs.c).
 */
#ifndef BLOCK_BLOCKJOB_H
#define BLOCK_BLOCKJOB_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "block/block-backend.h"
#include "block/job-copy.h"
#include "block/ratelimit.h"
#include "util/main-loop.h"

typedef struct BlockJob BlockJob;

typedef struct BlockJobDriver {
    const char *job_type; /* "stream", "commit", "mirror", "backup" */
    size_t instance_size; /* >= sizeof(BlockJob); the job struct starts with BlockJob */
    /* The work, in the job thread; returns 0 or -errno (also for a cancelled job). */
    int (*run)(BlockJob *job);
    /* Main thread, after run returned 0 for a job that was not cancelled: make the graph
     * change (relink the chain, pivot the drive); returns the job's final result. Optional. */
    int (*commit)(BlockJob *job);
    /* Main thread, after run returned (and after commit, if called), before the end event,
     * on every path: stop watching the source (write notifiers). Optional. */
    void (*clean)(BlockJob *job);
    /* block-job-complete once ready (mirror, active commit); NULL: cannot complete. */
    void (*complete)(BlockJob *job, Error **errp);
    /* Optional: the dirty bitmap the job keeps (query-block's dirty-bitmaps): false if
     * none; else its dirty bytes and granularity. Any thread. */
    bool (*dirty_info)(BlockJob *job, uint64_t *count, uint32_t *granularity);
    /* Main thread, on every exit path after the end event: release the driver's resources. */
    void (*free)(BlockJob *job);
    /* For copies in flight (job-copy.h): copy c's range (a pool thread), setting c->ret and
     * c->is_read; then, in the job thread, account for it: 0, or -errno to end the job. */
    void (*copy)(BlockJob *job, BlockJobCopy *c);
    int (*copy_done)(BlockJob *job, BlockJobCopy *c);
} BlockJobDriver;

struct BlockJob {
    const BlockJobDriver *driver;
    uint64_t id;          /* unique for the process's lifetime */
    BlockBackend *blk;    /* the drive that owns the job (a reference) */
    BlockDriverState *bs; /* the drive's root when the job started (a reference) */
    char *device;
    Error *blocker;        /* "block device is in use by block job: TYPE" */
    GSList *blocked_nodes; /* nodes blocked with job->blocker (references) */
    BlockdevOnError on_source_error, on_target_error;

    /* Shared with the job thread; protected by lock. */
    GMutex lock;
    GCond cond;
    int64_t len, offset, speed;
    bool busy;
    bool user_paused;
    bool cancelled;
    bool ready;
    bool should_complete; /* block-job-complete was accepted */
    bool sleeping;        /* waiting for the rate-limit timer */
    int64_t sleep_until_ns;
    BlockDeviceIoStatus iostatus;
    RateLimit limit;

    BlockJobCopies copies; /* job thread (job-copy.c) */

    GThread *thread;
    Timer *timer;          /* main thread only */
    ClockType clock;
    int ret;
};

/*
 * Start a job of driver's type on drive blk (main thread). Checks the speed ("Invalid
 * parameter 'speed'"), blocks every op on the drive's root, sets up the job; the caller
 * fills its driver fields and then calls block_job_start. NULL on error.
 */
BlockJob *block_job_create(const BlockJobDriver *driver, BlockBackend *blk, int64_t speed,
                           Error **errp);
/* Block every op on another node the job uses (base, target), with the job's reason. */
void block_job_block_node(BlockJob *job, BlockDriverState *bs);
void block_job_start(BlockJob *job);

/* The job of drive device, or NULL. */
BlockJob *block_job_find(const char *device);
/* Each job's drive currently has at most one job. */
BlockJob *block_job_of_blk(BlockBackend *blk);

/* Monitor operations (main thread); see QMP-BLOCK.md §3.6 for their errors. */
void block_job_set_speed(BlockJob *job, int64_t speed, Error **errp);
void block_job_cancel(BlockJob *job, bool force);
void block_job_pause(BlockJob *job);
void block_job_resume(BlockJob *job);
void block_job_complete(BlockJob *job, Error **errp);
bool block_job_is_paused(BlockJob *job);
/* Cancel (forced) and finish the job before returning: transaction abort. Called with the
 * BQL, which it drops while it waits for the thread (the thread needs nothing else). */
void block_job_cancel_sync(BlockJob *job);
/* Cancel every job, as block_job_cancel_sync (process exit, before the final drain). */
void block_job_cancel_all_sync(void);
/* query-block's "dirty-bitmaps" of drive blk ([{granularity, count}], a new array), or NULL
 * when its job (if any) keeps none. */
JsonArray *block_job_dirty_bitmaps(BlockBackend *blk);
/* query-block-jobs' BlockJobInfo (new object). */
JsonObject *block_job_info(BlockJob *job);

/* ---- for job drivers, in the job thread ---- */
/* Wait while paused (once the copies in flight are done); false once the job is cancelled. */
bool block_job_pause_point(BlockJob *job);
/* Account n bytes about to be copied against the speed, sleeping as the limiter says;
 * false once the job is cancelled. */
bool block_job_rate_wait(BlockJob *job, uint64_t n);
bool block_job_is_cancelled(BlockJob *job);
/*
 * Around a copy that holds a lock a guest request on bs may also wait for (mirror's and
 * backup's copy lock): count the copy as a request of bs, so that a drained section of bs
 * waits for the copy to finish instead of holding its I/O while the guest request waits for
 * the lock (which would deadlock the drain). Waits first if bs is drained.
 */
void block_job_io_begin(BlockDriverState *bs);
void block_job_io_end(BlockDriverState *bs);
void block_job_set_len(BlockJob *job, int64_t len);
void block_job_add_offset(BlockJob *job, int64_t n);
/*
 * Write-behind for a job's bulk copy into a target: every BLOCK_JOB_WRITE_BEHIND bytes
 * written, a helper thread flushes the target's protocol node (its data, not a format's
 * metadata), so the host writes the copy back to disk
 * while the job goes on copying instead of all at the final flush. Only for an unlimited
 * speed and with on-target-error=report: a failed flush is reported as a target write error
 * (BLOCK_JOB_ERROR, as 2.2 does for mirror's flush) and ends the job (the data it lost cannot
 * be told apart to retry it).
 */
#define BLOCK_JOB_WRITE_BEHIND (64 * 1024 * 1024)
typedef struct BlockJobWriteBehind {
    BlockDriverState *target;
    uint64_t pending; /* bytes written since the last flush started */
    GThread *thread;  /* the flush in progress, or NULL */
    gint done;        /* atomic: the thread has returned */
    int ret;          /* first failed flush's -errno, else 0 */
    bool reported;    /* BLOCK_JOB_ERROR sent for ret */
} BlockJobWriteBehind;
/* Job thread: n more bytes were written to wb->target (set by the caller, the rest zero).
 * 0, or the -errno of a flush that failed (reported once with BLOCK_JOB_ERROR): end the job
 * with it. */
int block_job_write_behind(BlockJob *job, BlockJobWriteBehind *wb, uint64_t n);
/* Job thread: wait for the flush in progress; 0, or the first failed flush's -errno
 * (reported once with BLOCK_JOB_ERROR). */
int block_job_write_behind_end(BlockJob *job, BlockJobWriteBehind *wb);
/* Job thread: block_job_write_behind_end, then a flush here of what was written since the
 * last one began (when write-behind is on), so that a final flush elsewhere (the main
 * thread's, which the guest may wait for) finds little left to write back. */
int block_job_write_behind_finish(BlockJob *job, BlockJobWriteBehind *wb);
/* Emit BLOCK_JOB_READY and set ready (any thread). */
void block_job_ready(BlockJob *job);
bool block_job_should_complete(BlockJob *job);
/*
 * An I/O error (errno, either sign) in a read of the source (is_read) or a write of the
 * target, under policy: emits BLOCK_JOB_ERROR and returns the action. With stop the job is
 * paused and its io-status set; the caller retries the chunk after block_job_pause_point.
 * Another failure while the job is already stopped by one (a copy that was in flight) is
 * stopped with it, without a second event.
 */
BlockErrorAction block_job_error_action(BlockJob *job, BlockdevOnError policy, bool is_read,
                                        int error);

#endif
