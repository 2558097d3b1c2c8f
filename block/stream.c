/*
 * block-stream: the job that copies the backing chain above a base into the drive's top
 * image, cluster range by range, then drops the copied images from the chain. Each copy
 * runs in a drained section of the top image with the allocation re-checked inside it, so a
 * guest write that lands first is never overwritten with older backing data. Not the
 * monitor command (blockdev/qmp-block-jobs.c).
 */
#include <errno.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/blockjob-kinds.h"

#define STREAM_CHUNK (512 * 1024)

typedef struct StreamJob {
    BlockJob common;
    BlockDriverState *top;
    BlockDriverState *base; /* a reference, or NULL */
    char *backing_file;
    BlockdevOnError on_error;
    void *buf;
} StreamJob;

/* Inside the drained section: copy what top lacks at offset. *bytes: the part handled. */
static int stream_copy_locked(StreamJob *s, uint64_t offset, uint64_t *bytes, bool *is_read)
{
    uint64_t pnum = 0;
    int ret = bdrv_block_status(s->top, offset, *bytes, &pnum);

    *is_read = true;
    if (ret < 0) {
        return ret;
    }
    if (pnum > 0 && pnum < *bytes) {
        *bytes = pnum;
    }
    if (ret & BDRV_BLOCK_ALLOCATED) {
        return 0;
    }
    ret = bdrv_is_allocated_above(s->top->backing, s->base, offset, bytes);
    if (ret <= 0) {
        return ret;
    }
    ret = bdrv_pread(s->top, offset, s->buf, *bytes);
    if (ret < 0) {
        return ret;
    }
    *is_read = false;
    ret = bdrv_pwrite(s->top, offset, s->buf, *bytes);
    return ret < 0 ? ret : 0;
}

/* One step at offset: 0 and *bytes done, or -errno the policy says to end with. */
static int stream_step(StreamJob *s, uint64_t offset, uint64_t *bytes)
{
    bool is_read;
    int ret;

    if (!block_job_rate_wait(&s->common, *bytes)) {
        return -ECANCELED;
    }
    bdrv_drained_begin(s->top);
    ret = stream_copy_locked(s, offset, bytes, &is_read);
    bdrv_drained_end(s->top);
    if (ret >= 0) {
        return 0;
    }
    switch (block_job_error_action(&s->common, s->on_error, is_read, ret)) {
    case BLOCK_ERROR_ACTION_IGNORE:
        return 0;
    case BLOCK_ERROR_ACTION_STOP:
        *bytes = 0; /* retried after resume */
        return 0;
    default:
        return ret;
    }
}

static int stream_run(BlockJob *job)
{
    StreamJob *s = (StreamJob *)job;
    int64_t len = bdrv_getlength(s->top);
    uint64_t offset = 0;

    if (len < 0) {
        return (int)len;
    }
    block_job_set_len(job, len);
    s->buf = g_malloc(STREAM_CHUNK);
    while (offset < (uint64_t)len) {
        uint64_t bytes = MIN(STREAM_CHUNK, (uint64_t)len - offset);
        int ret;

        if (!block_job_pause_point(job)) {
            return -ECANCELED;
        }
        ret = stream_step(s, offset, &bytes);
        if (ret < 0) {
            return ret;
        }
        offset += bytes;
        block_job_add_offset(job, bytes);
    }
    return 0;
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

static void stream_free(BlockJob *job)
{
    StreamJob *s = (StreamJob *)job;

    if (s->base) {
        bdrv_unref(s->base);
    }
    g_free(s->backing_file);
    g_free(s->buf);
}

static const BlockJobDriver stream_driver = {
    .job_type = "stream",
    .instance_size = sizeof(StreamJob),
    .run = stream_run,
    .commit = stream_relink,
    .free = stream_free,
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
    block_job_start(&s->common);
    return &s->common;
}
