/*
 * qcow2's asynchronous fast path (the driver's aio_submit): a read, or an in-place write,
 * whose whole range maps to one run of normal clusters found in the L2 cache goes to the
 * file child's asynchronous path (Linux AIO, io_uring) without a worker thread; a read of
 * zero or unallocated clusters of an image without a backing file completes at once.
 * Everything else (cache misses, allocation, copy-on-write, compressed clusters, backing
 * files) runs the synchronous driver in the worker pool, and asynchronous writes to the same
 * clusters wait behind such a write without taking a thread. Also the bookkeeping of data I/O
 * that runs without the metadata lock: in-place writes (fast or not) and the data writes
 * and copy-on-write reads of allocating writes count as unlocked I/O, so zero writes and
 * discards, which free clusters, wait for them; writes to a guest range an allocating write
 * has claimed (from its first unlock until its new clusters are linked) wait for it. Fast
 * reads are not counted (a read racing a discard of its own range may see either content,
 * as in QEMU).
 */
#include <errno.h>
#include "block/block-internal.h"
#include "block/qcow2.h"
#include "util/main-loop.h"

#define QCOW2_IO_WAIT(s) (&(WaitPoint){&(s)->lock, &(s)->io_cond, &(s)->io_waiters})

static bool qcow2_unlocked_busy(void *opaque)
{
    BDRVQcow2State *s = opaque;

    return s->unlocked_io > 0;
}

void qcow2_wait_unlocked_io(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    wait_point_wait_locked(QCOW2_IO_WAIT(s), qcow2_unlocked_busy, s);
}

static void qcow2_io_kick(BDRVQcow2State *s)
{
    wait_point_kick_locked(QCOW2_IO_WAIT(s));
}

void qcow2_unlocked_io_done(BDRVQcow2State *s)
{
    if (--s->unlocked_io == 0) {
        qcow2_io_kick(s);
    }
}

/* ---- allocating writes with the lock dropped ---- */

static bool qcow2_allocation_busy(void *opaque)
{
    Qcow2Allocation *want = opaque;

    for (GSList *l = want->s->allocating; l; l = l->next) {
        Qcow2Allocation *a = l->data;
        if (a->guest < want->guest + want->len && want->guest < a->guest + a->len) {
            return true;
        }
    }
    return false;
}

void qcow2_wait_allocations(BlockDriverState *bs, uint64_t guest, uint64_t len)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2Allocation want = {s, guest, len};

    if (s->allocating) {
        wait_point_wait_locked(QCOW2_IO_WAIT(s), qcow2_allocation_busy, &want);
    }
}

void qcow2_allocation_begin(BDRVQcow2State *s, Qcow2Allocation *a, uint64_t guest,
                            uint64_t len)
{
    *a = (Qcow2Allocation){s, guest, len};
    s->allocating = g_slist_prepend(s->allocating, a);
}

void qcow2_allocation_end(BDRVQcow2State *s, Qcow2Allocation *a)
{
    s->allocating = g_slist_remove(s->allocating, a);
    qcow2_io_kick(s);
}

/* The mapping of the whole request, if it is one run and needs no table read. */
static bool qcow2_aio_mapping(BlockDriverState *bs, BlockRequest *req, uint64_t *e)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l1_idx = req->offset >> (s->cluster_bits + s->l2_bits), run;
    uint64_t l2_off = l1_idx < s->l1_size ? s->l1_table[l1_idx] & L1E_OFFSET_MASK : 0;

    if (l2_off && !qcow2_cache_contains(s->l2_cache, l2_off)) {
        return false;
    }
    return qcow2_get_mapping(bs, req->offset, req->bytes, e, &run) >= 0 && run >= req->bytes;
}

static void qcow2_aio_read_done(void *opaque, int ret)
{
    bdrv_request_complete(opaque, ret);
}

static void qcow2_aio_write_done(void *opaque, int ret)
{
    BlockRequest *req = opaque;
    BDRVQcow2State *s = req->bs->opaque;

    g_mutex_lock(&s->lock);
    qcow2_unlocked_io_done(s);
    g_mutex_unlock(&s->lock);
    bdrv_request_complete(req, ret);
}

/* Called with the lock held; false when the request must go to the worker pool. */
static bool qcow2_aio_fast(BlockDriverState *bs, BlockRequest *req, uint64_t *host, int *ret)
{
    BDRVQcow2State *s = bs->opaque;
    bool write = req->type == BLOCK_REQ_WRITE;
    uint64_t e;
    Qcow2ClusterType t;

    *ret = 1;
    if (s->h.crypt_method || !qcow2_aio_mapping(bs, req, &e)) { /* the cipher: worker pool */
        return false;
    }
    t = qcow2_entry_type(s, e);
    if (!write && (t == QCOW2_CLUSTER_ZERO_PLAIN || t == QCOW2_CLUSTER_ZERO_ALLOC ||
                   (t == QCOW2_CLUSTER_UNALLOCATED && !bs->backing))) {
        iov_memset(req->qiov, 0, 0, req->bytes);
        *ret = 0;
        return true;
    }
    if (t != QCOW2_CLUSTER_NORMAL || (write && (!s->writable || !(e & QCOW_OFLAG_COPIED)))) {
        return false;
    }
    *host = (e & L2E_OFFSET_MASK) + (req->offset & (s->cluster_size - 1));
    if (write) {
        *ret = qcow2_check_overlap(bs, 0, *host, req->bytes);
        s->unlocked_io += *ret == 0;
        *ret = *ret < 0 ? *ret : 1;
    }
    return true;
}

/* ---- claims: asynchronous writes that went to the worker pool ---- */

/*
 * A write that may allocate runs in the worker pool; asynchronous writes to its clusters
 * wait behind it here, without a thread each, and are submitted again once it completes
 * (then mostly as fast in-place writes).
 */
typedef struct Qcow2Claim {
    BlockRequest *owner;
    uint64_t start, end;   /* the owner's clusters, in guest bytes */
    GSList *deferred;      /* writes waiting for the owner */
} Qcow2Claim;

static void qcow2_claim_range(BDRVQcow2State *s, BlockRequest *req, uint64_t *start,
                              uint64_t *end)
{
    *start = req->offset & ~(s->cluster_size - 1);
    *end = (req->offset + req->bytes + s->cluster_size - 1) & ~(s->cluster_size - 1);
}

/* With the lock held: true when req now waits behind a claim. */
static bool qcow2_claim_defer(BDRVQcow2State *s, BlockRequest *req)
{
    uint64_t start, end;

    qcow2_claim_range(s, req, &start, &end);
    for (GSList *l = s->claims; l; l = l->next) {
        Qcow2Claim *c = l->data;
        if (c->start < end && start < c->end) {
            c->deferred = g_slist_append(c->deferred, req);
            return true;
        }
    }
    return false;
}

static void qcow2_claim_add(BDRVQcow2State *s, BlockRequest *req)
{
    Qcow2Claim *c = g_new0(Qcow2Claim, 1);

    c->owner = req;
    qcow2_claim_range(s, req, &c->start, &c->end);
    s->claims = g_slist_prepend(s->claims, c);
}

static gboolean qcow2_aio_resubmit_cb(gpointer opaque)
{
    BlockRequest *req = opaque;

    bdrv_nesting_enter();
    qcow2_aio_submit(req->bs, req);
    bdrv_nesting_leave();
    return G_SOURCE_REMOVE;
}

static void qcow2_claim_done(BlockRequest *req, int ret)
{
    BDRVQcow2State *s = req->bs->opaque;
    Qcow2Claim *c = NULL;

    g_mutex_lock(&s->lock);
    for (GSList *l = s->claims; l; l = l->next) {
        if (((Qcow2Claim *)l->data)->owner == req) {
            c = l->data;
            s->claims = g_slist_delete_link(s->claims, l);
            break;
        }
    }
    g_mutex_unlock(&s->lock);
    for (GSList *l = c ? c->deferred : NULL; l; l = l->next) {
        BlockRequest *d = l->data;

        context_run_soon(d->ctx, qcow2_aio_resubmit_cb, d);
    }
    if (c) {
        g_slist_free(c->deferred);
        g_free(c);
    }
    bdrv_request_complete(req, ret);
}

void qcow2_aio_submit(BlockDriverState *bs, BlockRequest *req)
{
    BDRVQcow2State *s = bs->opaque;
    bool write = req->type == BLOCK_REQ_WRITE;
    uint64_t host = 0;
    bool fast;
    int ret;

    g_mutex_lock(&s->lock);
    if (write && qcow2_claim_defer(s, req)) {
        g_mutex_unlock(&s->lock);
        return;
    }
    fast = qcow2_aio_fast(bs, req, &host, &ret);
    if (!fast && write) {
        qcow2_claim_add(s, req);
    }
    g_mutex_unlock(&s->lock);
    if (!fast) {
        bdrv_aio_run_in_pool(req, write ? qcow2_claim_done : NULL);
    } else if (ret <= 0) {
        bdrv_request_complete(req, ret);
    } else if (req->type == BLOCK_REQ_WRITE) {
        bdrv_aio_pwritev(bs->file, host, req->qiov, 0, qcow2_aio_write_done, req);
    } else {
        bdrv_aio_preadv(bs->file, host, req->qiov, 0, qcow2_aio_read_done, req);
    }
}
