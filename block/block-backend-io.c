/*
 * A backend's I/O: device requests (blk_aio_*) and the synchronous wrappers go to the root
 * node, fail with -ENOMEDIUM without one, are counted so blk_drain can wait for them
 * (callbacks included), and are accounted in the backend's statistics when they succeed.
 * While the main thread changes the root, other threads' requests are held at the backend
 * (blk_root_change_begin).
 * Device reads and writes pass the backend's I/O limits first (throttle-groups.c); the
 * synchronous wrappers, used by tools and jobs, are not throttled.
 * Not the request semantics (the node's io.c) and not error policy decisions (the device
 * asks blk_get_error_action).
 */
#include <errno.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/throttle-groups.h"
#include "util/main-loop.h"

typedef struct BlkAioReq {
    ThrottleRequest treq; /* first: throttle-groups.c hands it back */
    BlockBackend *blk;
    BlockReqType type;
    uint64_t offset, bytes;
    int64_t start_ns;
    IOVector *qiov;
    int flags;
    BlockCompletionFunc *cb;
    void *opaque;
    int ret;
    bool limits_passed; /* through the I/O limits, or queued there */
    GMainContext *ctx;  /* the submitter's (not a reference: it outlives the request) */
} BlkAioReq;

static void blk_aio_start(BlkAioReq *r);

/* ---- accounting ---- */

static bool acct_type(BlockReqType type, BlockAcctType *acct)
{
    switch (type) {
    case BLOCK_REQ_READ:
        *acct = BLOCK_ACCT_READ;
        return true;
    case BLOCK_REQ_WRITE:
    case BLOCK_REQ_WRITE_ZEROES:
        *acct = BLOCK_ACCT_WRITE;
        return true;
    case BLOCK_REQ_FLUSH:
        *acct = BLOCK_ACCT_FLUSH;
        return true;
    case BLOCK_REQ_DISCARD:
        break;
    }
    return false;
}

/* Writes raise wr_highest_offset to their end, rounded up to a whole sector. */
static void blk_account(BlockBackend *blk, BlockReqType type, uint64_t offset, uint64_t bytes,
                        int64_t start_ns)
{
    BlockAcctStats *s = &blk->stats;
    BlockAcctType acct;

    if (!acct_type(type, &acct)) {
        return;
    }
    g_mutex_lock(&blk->lock);
    s->nr_ops[acct]++;
    s->nr_bytes[acct] += bytes;
    s->total_time_ns[acct] += clock_get_ns(CLOCK_HOST) - start_ns;
    if (acct == BLOCK_ACCT_WRITE) {
        uint64_t end = (offset + bytes + BDRV_SECTOR_SIZE - 1) & ~(BDRV_SECTOR_SIZE - 1);

        s->wr_highest_offset = MAX(s->wr_highest_offset, end);
    }
    g_mutex_unlock(&blk->lock);
}

/* ---- root changes ---- */

/*
 * A request is done. blk_drain waits for zero, but the thread changing the root waits for
 * the number of requests it holds (blk_busy): during a change every completion wakes it.
 */
static void blk_in_flight_dec(BlockBackend *blk)
{
    if (g_atomic_int_dec_and_test(&blk->in_flight) ||
        g_atomic_int_get(&blk->root_gate.closed) > 0) {
        g_mutex_lock(&blk->lock);
        wait_point_kick_locked(BLK_WAIT_POINT(blk));
        g_mutex_unlock(&blk->lock);
    }
}

void blk_root_put(BlockBackend *blk)
{
    gate_leave(&blk->root_gate, BLK_WAIT_POINT(blk));
}

BlockDriverState *blk_root_get(BlockBackend *blk)
{
    g_atomic_int_inc(&blk->root_gate.passing);
    return g_atomic_pointer_get(&blk->root);
}

/*
 * Before reading blk->root for a request: count it among the root's users until
 * blk_root_put. While another thread changes the root, an asynchronous request (hold)
 * is queued and false returned; a synchronous one (hold == NULL) waits.
 */
static bool blk_root_enter(BlockBackend *blk, BlkAioReq *hold)
{
    return gate_enter(&blk->root_gate, BLK_WAIT_POINT(blk), hold);
}

void blk_root_change_begin(BlockBackend *blk)
{
    if (blk) {
        gate_close(&blk->root_gate, BLK_WAIT_POINT(blk));
    }
}

static gboolean blk_aio_resume_cb(gpointer opaque)
{
    blk_aio_start(opaque);
    return G_SOURCE_REMOVE;
}

void blk_root_change_end(BlockBackend *blk)
{
    GQueue held;
    BlkAioReq *r;

    if (!blk) {
        return;
    }
    wait_point_wait_zero(BLK_WAIT_POINT(blk), &blk->root_gate.passing); /* blk_root_get's */
    held = gate_open(&blk->root_gate, BLK_WAIT_POINT(blk));
    while ((r = g_queue_pop_head(&held))) {
        context_run_soon(r->ctx, blk_aio_resume_cb, r);
    }
}

/* ---- asynchronous requests ---- */

static void blk_aio_complete(void *opaque, int ret)
{
    BlkAioReq *r = opaque;
    BlockBackend *blk = r->blk;

    if (ret == 0) {
        blk_account(blk, r->type, r->offset, r->bytes, r->start_ns);
    }
    r->cb(r->opaque, ret);
    g_free(r);
    blk_in_flight_dec(blk);
}

static gboolean blk_aio_complete_cb(gpointer opaque)
{
    BlkAioReq *r = opaque;

    blk_aio_complete(r, r->ret);
    return G_SOURCE_REMOVE;
}

/* Complete without a medium, in the submitter's context and never before returning. */
static void blk_aio_fail(BlkAioReq *r, int ret)
{
    r->ret = ret;
    context_run_soon(g_main_context_get_thread_default(), blk_aio_complete_cb, r);
}

static void blk_aio_send(BlkAioReq *r)
{
    BlockDriverState *bs = r->blk->root;

    switch (r->type) {
    case BLOCK_REQ_READ:
        bdrv_aio_preadv(bs, r->offset, r->qiov, r->flags, blk_aio_complete, r);
        break;
    case BLOCK_REQ_WRITE:
        bdrv_aio_pwritev(bs, r->offset, r->qiov, r->flags, blk_aio_complete, r);
        break;
    case BLOCK_REQ_FLUSH:
        bdrv_aio_flush(bs, blk_aio_complete, r);
        break;
    case BLOCK_REQ_DISCARD:
        bdrv_aio_pdiscard(bs, r->offset, r->bytes, blk_aio_complete, r);
        break;
    case BLOCK_REQ_WRITE_ZEROES:
        bdrv_aio_pwrite_zeroes(bs, r->offset, r->bytes, r->flags, blk_aio_complete, r);
        break;
    }
}

/* A request the throttle layer held goes on (the medium may have gone meanwhile). */
static void blk_aio_release(ThrottleRequest *treq)
{
    blk_aio_start((BlkAioReq *)treq);
}

/* Reads and writes (zero writes too) pass the I/O limits, as in QEMU; true: held. */
static bool blk_aio_throttled(BlkAioReq *r)
{
    if (r->limits_passed) {
        return false;
    }
    r->limits_passed = true;
    if (r->type != BLOCK_REQ_READ && r->type != BLOCK_REQ_WRITE &&
        r->type != BLOCK_REQ_WRITE_ZEROES) {
        return false;
    }
    r->treq.is_write = r->type != BLOCK_REQ_READ;
    r->treq.bytes = r->bytes;
    r->treq.release = blk_aio_release;
    return blk_throttle_intercept(r->blk, &r->treq);
}

/*
 * A new request, one the I/O limits held, or one a root change held: without a medium it
 * fails at once; it passes the limits (once), then goes to the root it finds.
 */
static void blk_aio_start(BlkAioReq *r)
{
    if (!blk_root_enter(r->blk, r)) {
        return; /* blk_root_change_end starts it again */
    }
    if (!blk_is_inserted(r->blk)) {
        blk_aio_fail(r, -ENOMEDIUM);
    } else if (!blk_aio_throttled(r)) {
        blk_aio_send(r);
    }
    blk_root_put(r->blk);
}

static void blk_aio_submit(BlockBackend *blk, BlockReqType type, uint64_t offset, uint64_t bytes,
                           IOVector *qiov, int flags, BlockCompletionFunc *cb, void *opaque)
{
    BlkAioReq *r = g_new0(BlkAioReq, 1);

    *r = (BlkAioReq){.blk = blk,
                     .type = type,
                     .offset = offset,
                     .bytes = bytes,
                     .start_ns = clock_get_ns(CLOCK_HOST),
                     .qiov = qiov,
                     .flags = flags,
                     .cb = cb,
                     .opaque = opaque,
                     .ctx = g_main_context_get_thread_default()};
    g_atomic_int_inc(&blk->in_flight);
    blk_aio_start(r);
}

void blk_aio_preadv(BlockBackend *blk, uint64_t offset, IOVector *qiov, int flags,
                    BlockCompletionFunc *cb, void *opaque)
{
    blk_aio_submit(blk, BLOCK_REQ_READ, offset, qiov->size, qiov, flags, cb, opaque);
}

void blk_aio_pwritev(BlockBackend *blk, uint64_t offset, IOVector *qiov, int flags,
                     BlockCompletionFunc *cb, void *opaque)
{
    blk_aio_submit(blk, BLOCK_REQ_WRITE, offset, qiov->size, qiov, flags, cb, opaque);
}

void blk_aio_flush(BlockBackend *blk, BlockCompletionFunc *cb, void *opaque)
{
    blk_aio_submit(blk, BLOCK_REQ_FLUSH, 0, 0, NULL, 0, cb, opaque);
}

void blk_aio_pdiscard(BlockBackend *blk, uint64_t offset, uint64_t bytes, BlockCompletionFunc *cb,
                      void *opaque)
{
    blk_aio_submit(blk, BLOCK_REQ_DISCARD, offset, bytes, NULL, 0, cb, opaque);
}

void blk_aio_pwrite_zeroes(BlockBackend *blk, uint64_t offset, uint64_t bytes, int flags,
                           BlockCompletionFunc *cb, void *opaque)
{
    blk_aio_submit(blk, BLOCK_REQ_WRITE_ZEROES, offset, bytes, NULL, flags, cb, opaque);
}

/* ---- synchronous requests ---- */

static int blk_sync_request(BlockBackend *blk, BlockReqType type, uint64_t offset, uint64_t bytes,
                            IOVector *qiov, int flags)
{
    int64_t start_ns = clock_get_ns(CLOCK_HOST);
    BlockDriverState *bs;
    int ret = -ENOMEDIUM;

    blk_root_enter(blk, NULL); /* before counting: a root change's blk_drain would wait */
    g_atomic_int_inc(&blk->in_flight);
    bs = blk->root;
    if (blk_is_inserted(blk)) {
        switch (type) {
        case BLOCK_REQ_READ:
            ret = bdrv_preadv(bs, offset, qiov, flags);
            break;
        case BLOCK_REQ_WRITE:
            ret = bdrv_pwritev(bs, offset, qiov, flags);
            break;
        case BLOCK_REQ_FLUSH:
            ret = bdrv_flush(bs);
            break;
        case BLOCK_REQ_DISCARD:
            ret = bdrv_pdiscard(bs, offset, bytes);
            break;
        case BLOCK_REQ_WRITE_ZEROES:
            ret = bdrv_pwrite_zeroes(bs, offset, bytes, flags);
            break;
        }
    }
    blk_root_put(blk);
    if (ret == 0) {
        blk_account(blk, type, offset, bytes, start_ns);
    }
    blk_in_flight_dec(blk);
    return ret;
}

int blk_preadv(BlockBackend *blk, uint64_t offset, IOVector *qiov, int flags)
{
    return blk_sync_request(blk, BLOCK_REQ_READ, offset, qiov->size, qiov, flags);
}

int blk_pwritev(BlockBackend *blk, uint64_t offset, IOVector *qiov, int flags)
{
    return blk_sync_request(blk, BLOCK_REQ_WRITE, offset, qiov->size, qiov, flags);
}

int blk_pread(BlockBackend *blk, uint64_t offset, void *buf, uint64_t bytes)
{
    IOVector qiov;
    int ret;

    iov_init_buf(&qiov, buf, bytes);
    ret = blk_preadv(blk, offset, &qiov, 0);
    iov_destroy(&qiov);
    return ret;
}

int blk_pwrite(BlockBackend *blk, uint64_t offset, const void *buf, uint64_t bytes, int flags)
{
    IOVector qiov;
    int ret;

    iov_init_buf(&qiov, (void *)buf, bytes);
    ret = blk_pwritev(blk, offset, &qiov, flags);
    iov_destroy(&qiov);
    return ret;
}

int blk_flush(BlockBackend *blk)
{
    return blk_sync_request(blk, BLOCK_REQ_FLUSH, 0, 0, NULL, 0);
}

int blk_pdiscard(BlockBackend *blk, uint64_t offset, uint64_t bytes)
{
    return blk_sync_request(blk, BLOCK_REQ_DISCARD, offset, bytes, NULL, 0);
}

int blk_pwrite_zeroes(BlockBackend *blk, uint64_t offset, uint64_t bytes, int flags)
{
    return blk_sync_request(blk, BLOCK_REQ_WRITE_ZEROES, offset, bytes, NULL, flags);
}

int blk_truncate(BlockBackend *blk, uint64_t size, PreallocMode mode, Error **errp)
{
    if (!blk_is_inserted(blk)) {
        error_setg(errp, "Device '%s' has no medium", blk_name(blk));
        return -ENOMEDIUM;
    }
    return bdrv_truncate_prealloc(blk->root, size, mode, errp);
}

/* Requests in flight, but for those the caller's own root change holds (they wait for it). */
static bool blk_busy(void *opaque)
{
    BlockBackend *blk = opaque;
    Gate *g = &blk->root_gate;
    int held = g->closer == g_thread_self() ? (int)g->held.length : 0;

    return g_atomic_int_get(&blk->in_flight) > held;
}

void blk_drain(BlockBackend *blk)
{
    blk_throttle_flush(blk);
    if (blk->root) {
        bdrv_drained_begin(blk->root);
        bdrv_drained_end(blk->root);
    }
    g_mutex_lock(&blk->lock);
    wait_point_wait_locked(BLK_WAIT_POINT(blk), blk_busy, blk);
    g_mutex_unlock(&blk->lock);
}

void blk_drain_all(void)
{
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        blk_drain(blk);
    }
}
