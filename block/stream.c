/*
 * block-stream: the job that copies the backing chain above a base into the drive's top
 * image, several chunks at a time (job-copy.h), then drops the copied images from the chain.
 * Each copy holds its range the way a copy-on-read does and re-checks the allocation inside
 * it, and the top image's writes are ordered against the copies while the job runs
 * (copy-on-read.c), so a guest write that lands first is never overwritten with older
 * backing data. Top's file is flushed as the copies go (write-behind), so that the final
 * flush before the relink, in the main thread, does not write back the whole copy while the
 * guest waits. Not the monitor command (blockdev/qmp-block-jobs.c).
 */
#include <glib.h>
#include "block/block-internal.h"
#include "block/blockjob-kinds.h"

#define STREAM_CHUNK (512 * 1024)
#define STREAM_MAX_IN_FLIGHT 4

typedef struct StreamJob {
    BlockJob common;
    BlockDriverState *top;
    BlockDriverState *base; /* a reference, or NULL */
    char *backing_file;
    BlockdevOnError on_error;
    BlockJobPass pass; /* job thread: the pass over top and its retries */
    BlockJobWriteBehind wb; /* top's file, flushed as the copies go */
    bool ordering; /* top's writes are ordered against the copies */
} StreamJob;

/* A pool thread: copy c's range, counted as a request of top. */
static void stream_copy_run(BlockJob *job, BlockJobCopy *c)
{
    StreamJob *s = (StreamJob *)job;

    block_job_io_begin(s->top);
    c->ret = bdrv_cor_copy_above(s->top, s->base, c->offset, c->bytes, c->buf, &c->is_read);
    block_job_io_end(s->top);
}

/* Job thread: a chunk's copy is done; 0, or -errno when the policy ends the job. */
static int stream_copy_done(BlockJob *job, BlockJobCopy *c)
{
    StreamJob *s = (StreamJob *)job;

    if (c->ret >= 0) {
        block_job_add_offset(job, c->bytes);
        return block_job_write_behind(job, &s->wb, c->bytes);
    }
    return block_job_copy_failed(job, c, s->on_error, &s->pass);
}

static uint64_t stream_chunk(BlockJob *job)
{
    return STREAM_CHUNK;
}

/* Does the chain above base allocate anything of [offset, offset+bytes) that top does not?
 * 1, 0, or -errno. The copy checks again with its range held. */
static int stream_wanted(BlockJob *job, uint64_t offset, uint64_t bytes)
{
    StreamJob *s = (StreamJob *)job;

    while (bytes > 0) {
        uint64_t n = bytes;
        int ret = bdrv_block_status(s->top, offset, n, &n);

        if (ret >= 0 && !(ret & BDRV_BLOCK_ALLOCATED) && n > 0) {
            ret = bdrv_is_allocated_above(s->top->backing, s->base, offset, &n);
        } else if (ret >= 0) {
            ret = 0;
        }
        if (ret != 0 || n == 0) {
            return ret < 0 ? ret : !!ret;
        }
        offset += MIN(n, bytes);
        bytes -= MIN(n, bytes);
    }
    return 0;
}

static int stream_run(BlockJob *job)
{
    StreamJob *s = (StreamJob *)job;
    int64_t len = bdrv_getlength(s->top);
    int ret, copy_ret, wb_ret;

    if (len < 0) {
        return (int)len;
    }
    block_job_set_len(job, len);
    block_job_pass_init(&s->pass, len);
    ret = block_job_pass_run(job, &s->pass, stream_chunk, stream_wanted);
    copy_ret = block_job_copy_drain(job);
    /* The last flush only for a job that goes on to the relink. */
    wb_ret = ret < 0 || copy_ret < 0 || block_job_is_cancelled(job)
                 ? block_job_write_behind_end(job, &s->wb)
                 : block_job_write_behind_finish(job, &s->wb);
    return ret < 0 ? ret : copy_ret < 0 ? copy_ret : wb_ret;
}

/* Main thread, the job done: make base top's backing node and drop the images in between. */
static int stream_relink(BlockJob *job)
{
    StreamJob *s = (StreamJob *)job;
    BlockDriverState *old = s->top->backing;
    const char *fmt = s->base ? bdrv_get_format_name(s->base) : NULL;
    Error *err = NULL;
    int ret;

    /* Each subtree leaves the drained section it entered. */
    bdrv_drained_begin(s->top);
    if (s->base) {
        bdrv_drained_begin(s->base);
    }
    ret = bdrv_change_backing_file(s->top, s->backing_file, fmt, &err);
    if (ret < 0) {
        if (s->base) {
            bdrv_drained_end(s->base);
        }
        bdrv_drained_end(s->top);
        error_free(err);
        return ret;
    }
    if (s->base) {
        bdrv_ref(s->base);
    } else {
        s->top->open_flags |= BDRV_O_NO_BACKING;
    }
    s->top->backing = s->base;
    bdrv_drained_end(s->top);
    if (old) {
        bdrv_drained_end(old);
        bdrv_unref(old);
    }
    return 0;
}

/* Main thread, the copies drained: top's writes need no ordering any more. */
static void stream_clean(BlockJob *job)
{
    StreamJob *s = (StreamJob *)job;

    if (s->ordering) {
        bdrv_cor_ordering_end(s->top);
        s->ordering = false;
    }
}

static void stream_free(BlockJob *job)
{
    StreamJob *s = (StreamJob *)job;

    if (s->base) {
        bdrv_unref(s->base);
    }
    g_free(s->backing_file);
    block_job_pass_destroy(&s->pass);
}

static const BlockJobDriver stream_driver = {
    .job_type = "stream",
    .instance_size = sizeof(StreamJob),
    .run = stream_run,
    .commit = stream_relink,
    .clean = stream_clean,
    .free = stream_free,
    .copy = stream_copy_run,
    .copy_done = stream_copy_done,
};

BlockJob *stream_start(BlockBackend *blk, BlockDriverState *base, const char *backing_file,
                       int64_t speed, BlockdevOnError on_error, Error **errp)
{
    StreamJob *s = (StreamJob *)block_job_create(&stream_driver, blk, speed, errp);

    if (!s) {
        return NULL;
    }
    s->top = blk_bs(blk);
    s->common.len = MAX(bdrv_getlength(s->top), 0);
    s->base = base;
    if (base) {
        bdrv_ref(base);
    }
    s->backing_file = g_strdup(backing_file);
    s->on_error = on_error;
    s->common.on_target_error = on_error; /* top is the target: for the write-behind */
    s->wb.target = s->top;
    block_job_pass_init(&s->pass, 0);
    block_job_copy_setup(&s->common, STREAM_MAX_IN_FLIGHT, STREAM_CHUNK);
    bdrv_cor_ordering_begin(s->top);
    s->ordering = true;
    block_job_start(&s->common);
    return &s->common;
}
