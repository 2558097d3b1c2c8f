/*
 * Block jobs' copies in flight, and the range lock that orders them against guest writes.
 * A job thread (mirror, backup) hands each chunk to copy with block_job_copy_start(); a small
 * pool of worker threads runs the driver's copy hook, up to the job's limit at a time, and
 * the job thread reaps the finished ones through the driver's copy_done hook (progress, error
 * policy, write-behind). The job's own copies never overlap: a chunk waits for an in-flight
 * copy of the same range before it starts, so the later copy always lands last.
 * The range lock serialises a job's copy of a range with what a guest request does to the
 * same range (mirror's write-through, backup's copy-before-write). Not the job life cycle
 * (blockjob.h).
 */
#ifndef BLOCK_JOB_COPY_H
#define BLOCK_JOB_COPY_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "block/block-backend.h"

/* A lock on byte ranges: a holder excludes every other holder of an overlapping range. */
typedef struct BlockRangeLock {
    GMutex lock;
    GCond cond;
    GQueue held; /* BlockRange, linked through their link */
} BlockRangeLock;

typedef struct BlockRange {
    uint64_t offset, end;
    GList link;
} BlockRange;

void block_range_lock_init(BlockRangeLock *rl);
void block_range_lock_destroy(BlockRangeLock *rl);
/* Wait until no holder overlaps [offset, offset+bytes), then hold it through r (the caller's
 * storage, until block_range_unlock). bytes may be UINT64_MAX - offset: everything. */
void block_range_lock(BlockRangeLock *rl, BlockRange *r, uint64_t offset, uint64_t bytes);
void block_range_unlock(BlockRangeLock *rl, BlockRange *r);

typedef enum BlockJobCopyState {
    BLOCK_JOB_COPY_FREE,
    BLOCK_JOB_COPY_RUNNING, /* in a worker */
    BLOCK_JOB_COPY_DONE,    /* finished, not reaped yet */
} BlockJobCopyState;

typedef struct BlockJob BlockJob;

/* One copy slot; the driver's copy hook fills in ret and is_read. */
typedef struct BlockJobCopy {
    BlockJob *job;
    uint64_t offset, bytes;
    void *buf;               /* the slot's buffer, BlockJobCopies.buf_size bytes */
    int ret;                 /* 0 or -errno */
    bool is_read;            /* on failure: the failed request read the source */
    BlockJobCopyState state; /* under the job's lock */
} BlockJobCopy;

typedef struct BlockJobCopies {
    BlockJobCopy *slots; /* max of them; NULL until block_job_copy_setup */
    int max;
    size_t buf_size;
    GThreadPool *pool;
    int ret; /* job thread: the first copy_done failure; sticky */
} BlockJobCopies;

/* Main thread, before block_job_start: up to max (>= 1) copies in flight, each through a
 * buffer of buf_size bytes. */
void block_job_copy_setup(BlockJob *job, int max, size_t buf_size);
/* Main thread, the job thread gone: free the slots and the pool. */
void block_job_copy_free(BlockJob *job);
/*
 * Job thread: start copying [offset, offset+bytes) with the driver's copy hook, once no
 * copy in flight overlaps it and a slot is free (reaping finished copies meanwhile). Returns
 * 0, or a copy_done failure (also an earlier one): then nothing was started and the caller
 * ends the job (after block_job_copy_drain).
 */
int block_job_copy_start(BlockJob *job, uint64_t offset, uint64_t bytes);
/* Job thread: wait for every copy in flight and reap it; 0 or the first copy_done failure. */
int block_job_copy_drain(BlockJob *job);
/* Job thread: copies started and not reaped yet, and the bytes of those still running. */
int block_job_copies_in_flight(BlockJob *job, uint64_t *bytes);

/*
 * A job's pass over [0, len) in chunks (backup, stream), plus the chunks whose copy failed
 * under the `stop` policy, copied again after the resume. Job thread only.
 */
typedef struct BlockJobPass {
    uint64_t offset, len;
    GQueue retry; /* BlockJobChunk */
} BlockJobPass;

/* How many bytes the next chunk of the pass may have (it can follow the job's speed). */
typedef uint64_t BlockJobChunkSize(BlockJob *job);
/* Is there anything to copy in [offset, offset+bytes)? 1, 0, or -errno (a read error). */
typedef int BlockJobChunkWanted(BlockJob *job, uint64_t offset, uint64_t bytes);

void block_job_pass_init(BlockJobPass *p, uint64_t len);
void block_job_pass_destroy(BlockJobPass *p);
/*
 * Run the pass: each chunk that wanted says has something to copy is started with
 * block_job_copy_chunk(), pausing where the job pauses, until the copies are drained and
 * nothing is left to retry. 0, or -errno (-ECANCELED when cancelled).
 */
int block_job_pass_run(BlockJob *job, BlockJobPass *p, BlockJobChunkSize *size,
                       BlockJobChunkWanted *wanted);
/* Job thread, one chunk with wanted's answer: progress only (0), the driver's copy_done with
 * a read failure (< 0), or the rate limit then block_job_copy_start (1). */
int block_job_copy_chunk(BlockJob *job, uint64_t offset, uint64_t bytes, int wanted);
/*
 * A copy_done hook's failure half under policy: the BLOCK_JOB_ERROR event and c->ret when it
 * reports; progress when it ignores; else (stop) the chunk goes back to p, to be copied after
 * the resume. A failure while the job is already failing or cancelled is dropped (0).
 */
int block_job_copy_failed(BlockJob *job, BlockJobCopy *c, BlockdevOnError policy,
                          BlockJobPass *p);

#endif
