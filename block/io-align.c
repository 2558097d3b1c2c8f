/*
 * Request alignment: nodes whose driver needs aligned requests (O_DIRECT) get them here.
 * Unaligned reads go through an aligned bounce buffer; unaligned writes become
 * read-modify-write of the covering aligned blocks. A read-modify-write is serialised
 * against every overlapping write in flight (and they against it), so two writes into the
 * same block never lose each other's bytes. Not the request policy (io.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "block/block-internal.h"

#define BOUNCE_MIN_ALIGN 4096

struct TrackedWrite {
    uint64_t start, end;
    bool serialising; /* a read-modify-write */
};

typedef struct TrackCheck {
    BlockDriverState *bs;
    uint64_t start, end;
    bool serialising;
} TrackCheck;

static uint64_t round_up(uint64_t v, uint64_t align)
{
    return (v + align - 1) / align * align;
}

static bool is_aligned(uint64_t v, uint64_t align)
{
    return v % align == 0;
}

bool bdrv_req_is_aligned(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                         const IOVector *qiov)
{
    uint64_t align = bs->request_alignment;

    if (align <= 1) {
        return true;
    }
    if (!is_aligned(offset, align) || !is_aligned(bytes, align)) {
        return false;
    }
    if (qiov && (bs->open_flags & BDRV_O_NOCACHE)) {
        for (int i = 0; i < qiov->niov; i++) {
            if (!is_aligned((uintptr_t)qiov->iov[i].iov_base, align) ||
                !is_aligned(qiov->iov[i].iov_len, align)) {
                return false;
            }
        }
    }
    return true;
}

static void *bounce_alloc(BlockDriverState *bs, size_t size)
{
    void *buf;

    if (posix_memalign(&buf, MAX(bs->request_alignment, BOUNCE_MIN_ALIGN), size)) {
        g_error("out of memory for a %zu-byte bounce buffer", size);
    }
    return buf;
}

/* ---- tracking writes against read-modify-write ---- */

/* With bs->lock held: does the range conflict with a tracked write? */
static bool track_busy(void *opaque)
{
    TrackCheck *c = opaque;

    for (GSList *l = c->bs->tracked_writes; l; l = l->next) {
        TrackedWrite *tw = l->data;

        if (tw->start < c->end && c->start < tw->end && (tw->serialising || c->serialising)) {
            return true;
        }
    }
    return false;
}

static TrackedWrite *track_insert_locked(BlockDriverState *bs, TrackCheck *c)
{
    TrackedWrite *tw = g_new(TrackedWrite, 1);

    tw->start = c->start;
    tw->end = c->end;
    tw->serialising = c->serialising;
    bs->tracked_writes = g_slist_prepend(bs->tracked_writes, tw);
    return tw;
}

static TrackedWrite *track_write(BlockDriverState *bs, uint64_t start, uint64_t end,
                                 bool serialising)
{
    TrackCheck c = {bs, start, end, serialising};
    TrackedWrite *tw;

    if (bs->request_alignment <= 1) {
        return NULL;
    }
    g_mutex_lock(&bs->lock);
    wait_point_wait_locked(BDRV_WAIT_POINT(bs), track_busy, &c);
    tw = track_insert_locked(bs, &c);
    g_mutex_unlock(&bs->lock);
    return tw;
}

bool bdrv_track_write_nowait(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                             TrackedWrite **tw)
{
    TrackCheck c = {bs, offset, offset + bytes, false};
    bool ok = true;

    *tw = NULL;
    if (bs->request_alignment <= 1) {
        return true;
    }
    g_mutex_lock(&bs->lock);
    if (track_busy(&c)) {
        ok = false;
    } else {
        *tw = track_insert_locked(bs, &c);
    }
    g_mutex_unlock(&bs->lock);
    return ok;
}

void bdrv_untrack_write(BlockDriverState *bs, TrackedWrite *tw)
{
    if (!tw) {
        return;
    }
    g_mutex_lock(&bs->lock);
    bs->tracked_writes = g_slist_remove(bs->tracked_writes, tw);
    wait_point_kick_locked(BDRV_WAIT_POINT(bs));
    g_mutex_unlock(&bs->lock);
    g_free(tw);
}

/* ---- reads ---- */

int bdrv_aligned_or_bounced_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                   IOVector *qiov, int flags)
{
    uint64_t align = bs->request_alignment;
    uint64_t start, end;
    IOVector bq;
    uint8_t *buf;
    int ret;

    if (bdrv_req_is_aligned(bs, offset, bytes, qiov)) {
        return bs->drv->preadv(bs, offset, bytes, qiov, flags);
    }
    start = offset - offset % align;
    end = round_up(offset + bytes, align);
    buf = bounce_alloc(bs, end - start);
    iov_init_buf(&bq, buf, end - start);
    ret = bs->drv->preadv(bs, start, end - start, &bq, flags);
    if (ret == 0) {
        iov_from_buf(qiov, 0, buf + (offset - start), bytes);
    }
    iov_destroy(&bq);
    free(buf);
    return ret;
}

/* ---- writes ---- */

static int read_block(BlockDriverState *bs, uint64_t offset, uint8_t *buf)
{
    IOVector bq;
    int ret;

    iov_init_buf(&bq, buf, bs->request_alignment);
    ret = bs->drv->preadv(bs, offset, bs->request_alignment, &bq, 0);
    iov_destroy(&bq);
    return ret;
}

/* Fill the partial head and tail blocks of [start, end) in buf from the image. */
static int read_edges(BlockDriverState *bs, uint64_t start, uint64_t end, uint64_t offset,
                      uint64_t bytes, uint8_t *buf)
{
    uint64_t align = bs->request_alignment;
    bool head = offset != start;
    int ret = 0;

    if (head) {
        ret = read_block(bs, start, buf);
    }
    if (ret == 0 && offset + bytes != end && !(head && end - align == start)) {
        ret = read_block(bs, end - align, buf + (end - align - start));
    }
    return ret;
}

static int bdrv_rmw_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                            int flags)
{
    uint64_t align = bs->request_alignment;
    uint64_t start = offset - offset % align;
    uint64_t end = round_up(offset + bytes, align);
    TrackedWrite *tw = track_write(bs, start, end, true);
    uint8_t *buf = bounce_alloc(bs, end - start);
    IOVector bq;
    int ret;

    ret = read_edges(bs, start, end, offset, bytes, buf);
    if (ret == 0) {
        iov_to_buf(qiov, 0, buf + (offset - start), bytes);
        iov_init_buf(&bq, buf, end - start);
        ret = bs->drv->pwritev(bs, start, end - start, &bq, flags);
        iov_destroy(&bq);
    }
    bdrv_untrack_write(bs, tw);
    free(buf);
    return ret;
}

int bdrv_aligned_or_rmw_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                IOVector *qiov, int flags)
{
    TrackedWrite *tw;
    int ret;

    if (!bdrv_req_is_aligned(bs, offset, bytes, qiov)) {
        return bdrv_rmw_pwritev(bs, offset, bytes, qiov, flags);
    }
    tw = track_write(bs, offset, offset + bytes, false);
    ret = bs->drv->pwritev(bs, offset, bytes, qiov, flags);
    bdrv_untrack_write(bs, tw);
    return ret;
}

int bdrv_tracked_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    TrackedWrite *tw = track_write(bs, offset, offset + bytes, false);
    int ret = bs->drv->pwrite_zeroes(bs, offset, bytes, flags);

    bdrv_untrack_write(bs, tw);
    return ret;
}
