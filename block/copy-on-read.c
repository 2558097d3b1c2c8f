/*
 * copy-on-read (-drive copy-on-read=on, minivmm-io -C): a read from a node that has a
 * backing file also writes the parts the node does not allocate itself (so the bytes came
 * from the backing chain) into the node, so later reads find them there.
 *
 * Ordering: a copy must never write stale backing data over a guest write that landed in
 * between its read and its write. So while copy-on-read is active on a node, every request
 * that changes its content (write, zero write, discard) holds its byte range shared, and a
 * copy-on-read holds the range of its read exclusively from before the allocation query
 * until its copy is written. Overlapping holders wait for each other (shared ones only for
 * exclusive ones); disjoint ranges never do, which is enough because the format keeps
 * partial-cluster allocations consistent itself. block-stream's copies hold their ranges the
 * same way, and order the node's writes while the job runs without turning copy-on-read on
 * for guest reads. Not the request path (io.c calls in here).
 */
#include <errno.h>
#include <glib.h>
#include "block/block-internal.h"

struct CorRange {
    BlockDriverState *bs;
    uint64_t start, end;
    bool exclusive; /* a copy-on-read; else a write */
};

/* Ranges held on every node (few: only nodes with copy-on-read have any). */
static GMutex cor_lock;
static GCond cor_cond;
static GSList *cor_waiters;
static GSList *cor_ranges;

#define COR_WAIT_POINT (&(WaitPoint){&cor_lock, &cor_cond, &cor_waiters})

bool bdrv_cor_enabled(const BlockDriverState *bs)
{
    return (bs->open_flags & BDRV_O_COPY_ON_READ) && bs->backing && !bs->read_only;
}

bool bdrv_cor_ordered(const BlockDriverState *bs)
{
    return bdrv_cor_enabled(bs) || g_atomic_int_get(&bs->cor_ordering) > 0;
}

void bdrv_cor_ordering_begin(BlockDriverState *bs)
{
    g_atomic_int_inc(&bs->cor_ordering);
    /* A write that looked before the increment holds no range: let it end first. */
    bdrv_drained_begin(bs);
    bdrv_drained_end(bs);
}

void bdrv_cor_ordering_end(BlockDriverState *bs)
{
    g_atomic_int_dec_and_test(&bs->cor_ordering);
}

/* With cor_lock held: does r overlap a range it must wait for? */
static bool cor_range_busy(void *opaque)
{
    const CorRange *r = opaque;

    for (GSList *l = cor_ranges; l; l = l->next) {
        const CorRange *o = l->data;

        if (o->bs == r->bs && o->start < r->end && r->start < o->end &&
            (o->exclusive || r->exclusive)) {
            return true;
        }
    }
    return false;
}

CorRange *bdrv_cor_range_lock(BlockDriverState *bs, uint64_t offset, uint64_t bytes, bool exclusive)
{
    CorRange *r = g_new(CorRange, 1);

    *r = (CorRange){bs, offset, offset + MAX(bytes, 1), exclusive};
    g_mutex_lock(&cor_lock);
    wait_point_wait_locked(COR_WAIT_POINT, cor_range_busy, r);
    cor_ranges = g_slist_prepend(cor_ranges, r);
    g_mutex_unlock(&cor_lock);
    return r;
}

void bdrv_cor_range_unlock(CorRange *r)
{
    g_mutex_lock(&cor_lock);
    cor_ranges = g_slist_remove(cor_ranges, r);
    wait_point_kick_locked(COR_WAIT_POINT);
    g_mutex_unlock(&cor_lock);
    g_free(r);
}

/* Write what was read for [offset, offset+bytes) (at qoff in qiov) into bs itself. Zeroes
 * become a zero write where the format can store one. */
static int cor_write_back(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                          uint64_t qoff)
{
    IOVector sub;
    int ret = -ENOTSUP;

    iov_init(&sub, qiov->niov);
    iov_add_slice(&sub, qiov, qoff, bytes);
    if (bs->drv->pwrite_zeroes && iov_is_zero(&sub) &&
        bdrv_req_is_aligned(bs, offset, bytes, NULL)) {
        ret = bdrv_tracked_pwrite_zeroes(bs, offset, bytes, 0);
    }
    if (ret == -ENOTSUP) {
        /* Same bytes as the guest just read: no flush needed even when writethrough. */
        ret = bdrv_aligned_or_rmw_pwritev(bs, offset, bytes, &sub, 0);
    }
    iov_destroy(&sub);
    return ret;
}

/* With the range held: read it, then copy every part bs does not allocate. */
static int cor_read_and_copy(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                             int flags)
{
    uint64_t done = 0, pnum;
    int ret = bdrv_aligned_or_bounced_preadv(bs, offset, bytes, qiov, flags);

    while (ret >= 0 && done < bytes) {
        ret = bdrv_block_status(bs, offset + done, bytes - done, &pnum);
        if (ret < 0 || pnum == 0) {
            break;
        }
        pnum = MIN(pnum, bytes - done);
        if (!(ret & BDRV_BLOCK_ALLOCATED)) {
            ret = cor_write_back(bs, offset + done, pnum, qiov, done);
        }
        done += pnum;
    }
    return ret < 0 ? ret : 0;
}

/* With the range held: the run at offset (at most *bytes, shrunk to the run) copied up into bs
 * if only the chain above base allocates it. */
static int cor_copy_run(BlockDriverState *bs, BlockDriverState *base, uint64_t offset,
                        uint64_t *bytes, void *buf, bool *is_read)
{
    IOVector qiov;
    int ret = bdrv_block_status(bs, offset, *bytes, bytes);

    *is_read = true;
    if (ret < 0 || (ret & BDRV_BLOCK_ALLOCATED) || *bytes == 0) {
        return ret < 0 ? ret : 0;
    }
    ret = bdrv_is_allocated_above(bs->backing, base, offset, bytes);
    if (ret <= 0) {
        return ret;
    }
    iov_init(&qiov, 1);
    iov_add(&qiov, buf, *bytes);
    ret = bdrv_aligned_or_bounced_preadv(bs, offset, *bytes, &qiov, 0);
    if (ret >= 0) {
        *is_read = false;
        ret = cor_write_back(bs, offset, *bytes, &qiov, 0);
    }
    iov_destroy(&qiov);
    return ret;
}

int bdrv_cor_copy_above(BlockDriverState *bs, BlockDriverState *base, uint64_t offset,
                        uint64_t bytes, void *buf, bool *is_read)
{
    CorRange *r = bdrv_cor_range_lock(bs, offset, bytes, true);
    uint64_t done = 0, n = 1;
    int ret = 0;

    *is_read = true;
    while (ret >= 0 && done < bytes && n > 0) {
        n = bytes - done;
        ret = cor_copy_run(bs, base, offset + done, &n, (uint8_t *)buf + done, is_read);
        done += n;
    }
    bdrv_cor_range_unlock(r);
    return ret < 0 ? ret : 0;
}

int bdrv_cor_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                    int flags)
{
    CorRange *r;
    int ret;

    if (bytes == 0) {
        return 0;
    }
    r = bdrv_cor_range_lock(bs, offset, bytes, true);
    ret = cor_read_and_copy(bs, offset, bytes, qiov, flags);
    bdrv_cor_range_unlock(r);
    return ret;
}
