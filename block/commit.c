/*
 * block-commit of an image below the active layer: the job copies every range that top (and
 * the images between top and base) allocate into base, through a read-write node of base's
 * file opened for the job; nothing above top changes while it runs, since those images are
 * read-only and the guest only writes the active layer. At the end the read-write node is
 * closed, base is opened again read-only (its old node's metadata caches predate the copy)
 * and becomes the backing node of the image above top; top and the images in between
 * leave the chain. The job keeps several chunks in flight (job-copy.h); HMP `commit` runs
 * the same copy synchronously, one chunk at a time (commit_copy_sync).
 * Active commit is a mirror job (mirror.c). Not the monitor commands.
 */
#include <errno.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/blockjob-kinds.h"
#include "block/image-ops.h"

#define COMMIT_CHUNK (512 * 1024)
#define COMMIT_MAX_IN_FLIGHT 4

typedef struct CommitJob {
    BlockJob common;
    BlockDriverState *top, *base, *base_rw; /* references */
    char *backing_file;
} CommitJob;

/* Copy [offset, offset+bytes) of top into base_rw through buf: 0, or -errno with *is_read
 * telling where. */
static int commit_copy_range(BlockDriverState *top, BlockDriverState *base_rw, uint64_t offset,
                             uint64_t bytes, void *buf, bool *is_read)
{
    int ret = bdrv_pread(top, offset, buf, bytes);

    *is_read = true;
    if (ret < 0) {
        return ret;
    }
    *is_read = false;
    ret = bdrv_pwrite(base_rw, offset, buf, bytes);
    return ret < 0 ? ret : 0;
}

/* base_rw grown to top's size if smaller; top's size, or -errno. */
static int64_t commit_prepare(BlockDriverState *top, BlockDriverState *base_rw)
{
    int64_t len = bdrv_getlength(top), base_len = bdrv_getlength(base_rw);
    int ret;

    if (len < 0 || base_len < 0) {
        return len < 0 ? len : base_len;
    }
    if (base_len < len && (ret = bdrv_truncate(base_rw, len, NULL)) < 0) {
        return ret;
    }
    return len;
}

int commit_copy_sync(BlockDriverState *top, BlockDriverState *base, BlockDriverState *base_rw)
{
    g_autofree void *buf = g_malloc(COMMIT_CHUNK);
    int64_t len = commit_prepare(top, base_rw);
    uint64_t offset = 0;
    bool is_read;

    while (len >= 0 && offset < (uint64_t)len) {
        uint64_t bytes = MIN(COMMIT_CHUNK, (uint64_t)len - offset);
        int ret = bdrv_is_allocated_above(top, base, offset, &bytes);

        if (ret > 0) {
            ret = commit_copy_range(top, base_rw, offset, bytes, buf, &is_read);
        }
        if (ret < 0) {
            return ret;
        }
        offset += bytes;
    }
    return len < 0 ? (int)len : bdrv_flush(base_rw);
}

/* A pool thread: copy c's range. */
static void commit_copy_run(BlockJob *job, BlockJobCopy *c)
{
    CommitJob *cj = (CommitJob *)job;

    c->ret = commit_copy_range(cj->top, cj->base_rw, c->offset, c->bytes, c->buf, &c->is_read);
}

/* Job thread: a copy is done; 0, or -errno ending the job (2.2's commit always reports). */
static int commit_copy_done(BlockJob *job, BlockJobCopy *c)
{
    if (c->ret >= 0) {
        block_job_add_offset(job, c->bytes);
        return 0;
    }
    return block_job_copy_failed(job, c, BLOCKDEV_ON_ERROR_REPORT, NULL);
}

/* Job thread: start copying the run at offset (*bytes shrunk to it) if top's part of the
 * chain allocates it; 0, or -errno. */
static int commit_step(CommitJob *c, uint64_t offset, uint64_t *bytes)
{
    return block_job_copy_chunk(&c->common, offset, *bytes,
                                bdrv_is_allocated_above(c->top, c->base, offset, bytes));
}

static int commit_run(BlockJob *job)
{
    CommitJob *c = (CommitJob *)job;
    int64_t len = commit_prepare(c->top, c->base_rw);
    uint64_t offset = 0;
    int ret = 0, copy_ret;

    if (len < 0) {
        return (int)len;
    }
    block_job_set_len(job, len);
    while (ret >= 0 && offset < (uint64_t)len) {
        uint64_t bytes = MIN(COMMIT_CHUNK, (uint64_t)len - offset);

        if (!block_job_pause_point(job)) {
            ret = -ECANCELED;
            break;
        }
        ret = commit_step(c, offset, &bytes);
        offset += bytes;
    }
    copy_ret = block_job_copy_drain(job);
    ret = ret < 0 ? ret : copy_ret;
    return ret < 0 ? ret : bdrv_flush(c->base_rw);
}

/* The image whose backing node is top, starting from the drive's root. */
static BlockDriverState *commit_overlay(CommitJob *c)
{
    BlockDriverState *bs = blk_bs(c->common.blk);

    while (bs && bs->backing != c->top) {
        bs = bs->backing;
    }
    return bs;
}

/* Record the new backing file in overlay's header, reopening it read-write if needed. */
static int commit_record_backing(BlockDriverState *overlay, const char *name, const char *fmt)
{
    BlockDriverState *rw = overlay;
    JsonObject *opts;
    int ret;

    if (overlay->read_only) {
        opts = json_object_new();
        json_object_set_string_member(opts, "driver", bdrv_get_format_name(overlay));
        rw = bdrv_open(overlay->filename, opts, BDRV_O_RDWR | BDRV_O_NO_BACKING, NULL);
        if (!rw) {
            return -EACCES;
        }
    }
    ret = bdrv_change_backing_file(rw, name, fmt, NULL);
    if (rw != overlay) {
        bdrv_unref(rw);
        if (ret >= 0) {
            g_free(overlay->backing_file);
            g_free(overlay->backing_format);
            overlay->backing_file = g_strdup(name);
            overlay->backing_format = g_strdup(fmt);
        }
    }
    return ret;
}

/* Base opened again as the old node was, with the old node's backing. */
static BlockDriverState *commit_reopen_base(CommitJob *c)
{
    JsonObject *opts = json_object_new();
    BlockDriverState *bs;

    json_object_set_string_member(opts, "driver", bdrv_get_format_name(c->base));
    bs = bdrv_open(c->base->filename, opts, bdrv_get_flags(c->base) | BDRV_O_NO_BACKING, NULL);
    if (bs && c->base->backing) {
        bdrv_ref(c->base->backing);
        bs->backing = c->base->backing;
        bs->open_flags &= ~BDRV_O_NO_BACKING;
    }
    return bs;
}

/* Main thread, the job done: base becomes the backing node of the image above top. */
static int commit_relink(BlockJob *job)
{
    CommitJob *c = (CommitJob *)job;
    BlockDriverState *root = blk_bs(c->common.blk);
    BlockDriverState *overlay = commit_overlay(c), *new_base;
    const char *name = c->backing_file ? c->backing_file : c->base->filename;
    int ret;

    bdrv_unref(c->base_rw); /* closed: flushed and clean */
    c->base_rw = NULL;
    new_base = commit_reopen_base(c);
    if (!overlay || !new_base) {
        if (new_base) {
            bdrv_unref(new_base);
        }
        return -EIO;
    }
    /* Each subtree leaves the drained section it entered. */
    bdrv_drained_begin(root);
    bdrv_drained_begin(new_base);
    ret = commit_record_backing(overlay, name, bdrv_get_format_name(c->base));
    if (ret >= 0) {
        overlay->backing = new_base; /* takes the reference from the open */
        bdrv_drained_end(root);
        bdrv_drained_end(c->top);
    } else {
        bdrv_drained_end(new_base);
        bdrv_drained_end(root);
    }
    bdrv_unref(ret >= 0 ? c->top : new_base); /* the overlay's reference to the old chain */
    return ret;
}

static void commit_free(BlockJob *job)
{
    CommitJob *c = (CommitJob *)job;

    if (c->base_rw) {
        bdrv_unref(c->base_rw);
    }
    bdrv_unref(c->base);
    bdrv_unref(c->top);
    g_free(c->backing_file);
}

static const BlockJobDriver commit_driver = {
    .job_type = "commit",
    .instance_size = sizeof(CommitJob),
    .run = commit_run,
    .commit = commit_relink,
    .free = commit_free,
    .copy = commit_copy_run,
    .copy_done = commit_copy_done,
};

BlockJob *commit_start(BlockBackend *blk, BlockDriverState *top, BlockDriverState *base,
                       BlockDriverState *base_rw, const char *backing_file, int64_t speed,
                       Error **errp)
{
    CommitJob *c = (CommitJob *)block_job_create(&commit_driver, blk, speed, errp);

    if (!c) {
        bdrv_unref(base_rw);
        return NULL;
    }
    c->top = top;
    c->common.len = MAX(bdrv_getlength(top), 0);
    c->base = base;
    c->base_rw = base_rw;
    bdrv_ref(top);
    bdrv_ref(base);
    c->backing_file = g_strdup(backing_file);
    block_job_block_node(&c->common, base);
    block_job_copy_setup(&c->common, COMMIT_MAX_IN_FLIGHT, COMMIT_CHUNK);
    block_job_start(&c->common);
    return &c->common;
}
