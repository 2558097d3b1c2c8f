/*
 * Block jobs' copies in flight (include/block/job-copy.h): the range lock, the slots a job
 * thread hands its chunks to, run by a GLib thread pool and reaped by the job thread, and the
 * chunked pass with its retries that backup and stream make. The copying itself is the
 * driver's (mirror.c, backup.c, stream.c, commit.c); not the job life cycle (blockjob.c).
 */
#include <errno.h>
#include <glib.h>
#include "block/blockjob.h"
#include "block/job-copy.h"

void block_range_lock_init(BlockRangeLock *rl)
{
    g_mutex_init(&rl->lock);
    g_cond_init(&rl->cond);
    g_queue_init(&rl->held);
}

void block_range_lock_destroy(BlockRangeLock *rl)
{
    g_mutex_clear(&rl->lock);
    g_cond_clear(&rl->cond);
}

static bool block_range_busy(BlockRangeLock *rl, uint64_t offset, uint64_t end)
{
    for (GList *l = rl->held.head; l; l = l->next) {
        BlockRange *r = l->data;

        if (r->offset < end && offset < r->end) {
            return true;
        }
    }
    return false;
}

void block_range_lock(BlockRangeLock *rl, BlockRange *r, uint64_t offset, uint64_t bytes)
{
    r->offset = offset;
    r->end = bytes > UINT64_MAX - offset ? UINT64_MAX : offset + bytes;
    r->link = (GList){.data = r};
    g_mutex_lock(&rl->lock);
    while (block_range_busy(rl, r->offset, r->end)) {
        g_cond_wait(&rl->cond, &rl->lock);
    }
    g_queue_push_tail_link(&rl->held, &r->link);
    g_mutex_unlock(&rl->lock);
}

void block_range_unlock(BlockRangeLock *rl, BlockRange *r)
{
    g_mutex_lock(&rl->lock);
    g_queue_unlink(&rl->held, &r->link);
    g_cond_broadcast(&rl->cond);
    g_mutex_unlock(&rl->lock);
}

/* A pool thread: run the driver's copy, then hand the slot back to the job thread. */
static void block_job_copy_worker(gpointer data, gpointer user_data)
{
    BlockJobCopy *c = data;
    BlockJob *job = user_data;

    job->driver->copy(job, c);
    g_mutex_lock(&job->lock);
    c->state = BLOCK_JOB_COPY_DONE;
    g_cond_broadcast(&job->cond);
    g_mutex_unlock(&job->lock);
}

void block_job_copy_setup(BlockJob *job, int max, size_t buf_size)
{
    BlockJobCopies *cs = &job->copies;

    cs->max = MAX(max, 1);
    cs->buf_size = buf_size;
    cs->slots = g_new0(BlockJobCopy, cs->max);
    for (int i = 0; i < cs->max; i++) {
        cs->slots[i].job = job;
        cs->slots[i].buf = g_malloc(buf_size);
    }
    cs->pool = g_thread_pool_new(block_job_copy_worker, job, cs->max, FALSE, NULL);
}

void block_job_copy_free(BlockJob *job)
{
    BlockJobCopies *cs = &job->copies;

    if (!cs->slots) {
        return;
    }
    g_thread_pool_free(cs->pool, FALSE, TRUE);
    for (int i = 0; i < cs->max; i++) {
        g_free(cs->slots[i].buf);
    }
    g_free(cs->slots);
    cs->slots = NULL;
}

/* Job thread: hand every finished copy to the driver; the first failure sticks. */
static void block_job_copy_reap(BlockJob *job)
{
    BlockJobCopies *cs = &job->copies;

    for (int i = 0; i < cs->max; i++) {
        BlockJobCopy *c = &cs->slots[i];
        bool done;
        int ret;

        g_mutex_lock(&job->lock);
        done = c->state == BLOCK_JOB_COPY_DONE;
        g_mutex_unlock(&job->lock);
        if (!done) {
            continue;
        }
        ret = job->driver->copy_done(job, c);
        if (ret < 0 && cs->ret == 0) {
            cs->ret = ret;
        }
        g_mutex_lock(&job->lock);
        c->state = BLOCK_JOB_COPY_FREE;
        g_mutex_unlock(&job->lock);
    }
}

/* Job thread: a free slot if [offset, end) overlaps no copy in flight, else NULL; *busy
 * counts the slots in flight. */
static BlockJobCopy *block_job_copy_slot(BlockJob *job, uint64_t offset, uint64_t end, int *busy)
{
    BlockJobCopies *cs = &job->copies;
    BlockJobCopy *free_slot = NULL;
    bool overlap = false;

    *busy = 0;
    g_mutex_lock(&job->lock);
    for (int i = 0; i < cs->max; i++) {
        BlockJobCopy *c = &cs->slots[i];

        if (c->state == BLOCK_JOB_COPY_FREE) {
            free_slot = free_slot ? free_slot : c;
            continue;
        }
        ++*busy;
        overlap |= c->offset < end && offset < c->offset + c->bytes;
    }
    g_mutex_unlock(&job->lock);
    return overlap ? NULL : free_slot;
}

/* Job thread: sleep until some copy in flight has finished (none in flight: return). */
static void block_job_copy_wait_one(BlockJob *job)
{
    BlockJobCopies *cs = &job->copies;

    g_mutex_lock(&job->lock);
    for (;;) {
        bool running = false;

        for (int i = 0; i < cs->max; i++) {
            if (cs->slots[i].state == BLOCK_JOB_COPY_DONE) {
                g_mutex_unlock(&job->lock);
                return;
            }
            running |= cs->slots[i].state == BLOCK_JOB_COPY_RUNNING;
        }
        if (!running) {
            break;
        }
        g_cond_wait(&job->cond, &job->lock);
    }
    g_mutex_unlock(&job->lock);
}

int block_job_copy_start(BlockJob *job, uint64_t offset, uint64_t bytes)
{
    BlockJobCopies *cs = &job->copies;
    BlockJobCopy *c;
    int busy;

    for (;;) {
        block_job_copy_reap(job);
        if (cs->ret < 0) {
            return cs->ret;
        }
        c = block_job_copy_slot(job, offset, offset + bytes, &busy);
        if (c) {
            break;
        }
        block_job_copy_wait_one(job);
    }
    c->offset = offset;
    c->bytes = bytes;
    c->ret = 0;
    c->is_read = false;
    g_mutex_lock(&job->lock);
    c->state = BLOCK_JOB_COPY_RUNNING;
    g_mutex_unlock(&job->lock);
    g_thread_pool_push(cs->pool, c, NULL);
    return 0;
}

int block_job_copy_drain(BlockJob *job)
{
    int busy = 0;

    if (!job->copies.slots) {
        return 0;
    }
    do {
        block_job_copy_wait_one(job);
        block_job_copy_reap(job);
        block_job_copy_slot(job, 0, 0, &busy);
    } while (busy > 0);
    return job->copies.ret;
}

int block_job_copies_in_flight(BlockJob *job, uint64_t *bytes)
{
    BlockJobCopies *cs = &job->copies;
    int n = 0;

    *bytes = 0;
    g_mutex_lock(&job->lock);
    for (int i = 0; cs->slots && i < cs->max; i++) {
        if (cs->slots[i].state != BLOCK_JOB_COPY_FREE) {
            n++;
        }
        if (cs->slots[i].state == BLOCK_JOB_COPY_RUNNING) {
            *bytes += cs->slots[i].bytes;
        }
    }
    g_mutex_unlock(&job->lock);
    return n;
}

/* ---- a pass over the job's length ---- */

typedef struct BlockJobChunk {
    uint64_t offset, bytes;
} BlockJobChunk;

void block_job_pass_init(BlockJobPass *p, uint64_t len)
{
    p->offset = 0;
    p->len = len;
    g_queue_init(&p->retry);
}

void block_job_pass_destroy(BlockJobPass *p)
{
    g_queue_clear_full(&p->retry, g_free);
}

static void block_job_pass_retry(BlockJobPass *p, uint64_t offset, uint64_t bytes)
{
    BlockJobChunk *ch = g_new(BlockJobChunk, 1);

    *ch = (BlockJobChunk){offset, bytes};
    g_queue_push_tail(&p->retry, ch);
}

/* The next chunk: one to retry, else the one at the pass's offset; false when none is left. */
static bool block_job_pass_next(BlockJob *job, BlockJobPass *p, BlockJobChunkSize *size,
                                BlockJobChunk *next)
{
    g_autofree BlockJobChunk *ch = g_queue_pop_head(&p->retry);

    if (ch) {
        *next = *ch;
        return true;
    }
    if (p->offset >= p->len) {
        return false;
    }
    *next = (BlockJobChunk){p->offset, MIN(size(job), p->len - p->offset)};
    p->offset += next->bytes;
    return true;
}

int block_job_pass_run(BlockJob *job, BlockJobPass *p, BlockJobChunkSize *size,
                       BlockJobChunkWanted *wanted)
{
    BlockJobChunk ch;
    int ret = 0;

    while (ret >= 0) {
        if (!block_job_pause_point(job)) {
            return -ECANCELED;
        }
        if (block_job_pass_next(job, p, size, &ch)) {
            ret = block_job_copy_chunk(job, ch.offset, ch.bytes, wanted(job, ch.offset, ch.bytes));
            continue;
        }
        ret = block_job_copy_drain(job); /* a failed copy may leave a chunk to retry */
        if (ret >= 0 && g_queue_is_empty(&p->retry)) {
            return 0;
        }
    }
    return ret;
}

int block_job_copy_chunk(BlockJob *job, uint64_t offset, uint64_t bytes, int wanted)
{
    if (wanted == 0) {
        block_job_add_offset(job, bytes);
        return 0;
    }
    if (wanted < 0) {
        BlockJobCopy failed = {.offset = offset, .bytes = bytes, .ret = wanted, .is_read = true};

        return job->driver->copy_done(job, &failed);
    }
    if (!block_job_rate_wait(job, bytes)) {
        return -ECANCELED;
    }
    return block_job_copy_start(job, offset, bytes);
}

int block_job_copy_failed(BlockJob *job, BlockJobCopy *c, BlockdevOnError policy,
                          BlockJobPass *p)
{
    if (job->copies.ret < 0 || block_job_is_cancelled(job)) {
        return 0;
    }
    switch (block_job_error_action(job, policy, c->is_read, c->ret)) {
    case BLOCK_ERROR_ACTION_REPORT:
        return c->ret;
    case BLOCK_ERROR_ACTION_IGNORE:
        block_job_add_offset(job, c->bytes);
        return 0;
    default:
        g_assert(p);
        block_job_pass_retry(p, c->offset, c->bytes); /* after resume */
        return 0;
    }
}
