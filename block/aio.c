/*
 * Asynchronous node requests. A request is counted, checked, and then either handed to the
 * driver's aio_submit (when the core has nothing to add: aligned, no zero detection, no
 * probed-raw check, writeback) or run as the synchronous operation in a worker pool (one
 * pool per GMainContext, created on first use). Completions are delivered in the context
 * the request was submitted from, never from inside the submitting call. Not the request
 * semantics themselves (io.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <glib.h>
#include "block/block-internal.h"
#include "util/iothread.h"
#include "util/main-loop.h"
#include "util/thread-pool.h"
#include "util/trace.h"
#include "block/write-notify.h"

#define BDRV_POOL_MAX_THREADS 64

/* What the block layer keeps for each GMainContext that submits requests. */
typedef struct BdrvAioContext {
    GMainContext *ctx;
    ThreadPool *pool; /* created on first use (contexts_lock) */
    int requests;     /* submitted in ctx and not yet finished (atomic) */
} BdrvAioContext;

typedef struct BdrvAioReq {
    BlockRequest req;      /* first: drivers and the drain queue only see this part */
    bool internal;         /* issued by a driver serving another request */
    TrackedWrite *tracked; /* aio_submit write ordered against read-modify-writes */
    BdrvPoolDoneFunc *pool_done; /* a driver's hook for a request it ran in the pool */
    BdrvAioContext *actx;  /* req.ctx's */
} BdrvAioReq;

static GMutex contexts_lock;
static GHashTable *contexts; /* GMainContext * -> BdrvAioContext *, never freed */

/* > 0 while this thread is inside a submission: completions must be deferred. */
static __thread int submitting;

static BdrvAioContext *bdrv_aio_context(GMainContext *ctx)
{
    static __thread BdrvAioContext *last; /* a thread submits from one context, mostly */
    BdrvAioContext *c = last;

    if (c && c->ctx == ctx) {
        return c;
    }
    g_mutex_lock(&contexts_lock);
    if (!contexts) {
        contexts = g_hash_table_new(NULL, NULL);
    }
    c = g_hash_table_lookup(contexts, ctx);
    if (!c) {
        c = g_new0(BdrvAioContext, 1);
        c->ctx = ctx;
        g_hash_table_insert(contexts, ctx, c);
    }
    g_mutex_unlock(&contexts_lock);
    last = c;
    return c;
}

static ThreadPool *bdrv_pool(BdrvAioContext *c)
{
    ThreadPool *pool;

    g_mutex_lock(&contexts_lock);
    if (!c->pool) {
        c->pool = thread_pool_new(c->ctx, BDRV_POOL_MAX_THREADS);
    }
    pool = c->pool;
    g_mutex_unlock(&contexts_lock);
    return pool;
}

/* ---- completion ---- */

static void bdrv_aio_finish(BdrvAioReq *r)
{
    BlockRequest *req = &r->req;
    int level;

    /* Uncounted before the callback, so a callback may drain or close the node. */
    bdrv_request_leave(req->bs);
    g_atomic_int_add(&r->actx->requests, -1);
    level = bdrv_nesting_set(r->internal);
    req->cb(req->opaque, req->ret);
    bdrv_nesting_set(level);
    g_main_context_unref(req->ctx);
    g_free(r);
}

static gboolean bdrv_aio_finish_cb(gpointer opaque)
{
    bdrv_aio_finish(opaque);
    return G_SOURCE_REMOVE;
}

void bdrv_request_complete(BlockRequest *req, int ret)
{
    BdrvAioReq *r = (BdrvAioReq *)req;

    req->ret = ret;
    if (req->type != BLOCK_REQ_READ && req->type != BLOCK_REQ_FLUSH) {
        bdrv_wrote(req->bs); /* before the callback: a flush it issues must not skip this */
    }
    bdrv_untrack_write(req->bs, r->tracked);
    r->tracked = NULL;
    if (!submitting && g_main_depth() > 0 && g_main_context_is_owner(req->ctx)) {
        bdrv_aio_finish(r);
    } else {
        context_run_soon(req->ctx, bdrv_aio_finish_cb, r);
    }
}

/* ---- submission ---- */

static int bdrv_aio_work(void *opaque)
{
    BlockRequest *req = opaque;
    int ret;

    bdrv_nesting_enter();
    ret = bdrv_run_request(req->bs, req->type, req->offset, req->bytes, req->qiov, req->flags);
    bdrv_nesting_leave();
    return ret;
}

static void bdrv_aio_work_done(void *opaque, int ret)
{
    BdrvAioReq *r = opaque;

    if (r->pool_done) {
        r->pool_done(&r->req, ret);
    } else {
        bdrv_request_complete(&r->req, ret);
    }
}

/* Can the driver take this checked request as it is? */
static bool bdrv_aio_can_pass(BdrvAioReq *r)
{
    BlockRequest *req = &r->req;
    BlockDriverState *bs = req->bs;

    /* Copy-on-read orders requests in the synchronous path (copy-on-read.c). */
    if (!bs->drv->aio_submit || req->bytes == 0 || bdrv_cor_enabled(bs) ||
        (req->type != BLOCK_REQ_READ && bdrv_cor_ordered(bs)) ||
        (req->type != BLOCK_REQ_READ && bdrv_has_write_notifiers(bs)) ||
        (req->type != BLOCK_REQ_READ && req->type != BLOCK_REQ_WRITE) ||
        !bdrv_req_is_aligned(bs, req->offset, req->bytes, req->qiov)) {
        return false;
    }
    if (req->type == BLOCK_REQ_READ) {
        return true;
    }
    if (bdrv_write_needs_core(bs, req->offset, req->flags)) {
        return false;
    }
    req->flags &= ~BDRV_REQ_ZERO_WRITE;
    return bdrv_track_write_nowait(bs, req->offset, req->bytes, &r->tracked);
}

/* A worker's job run in a loop's thread: its waits must not dispatch that loop. */
static int bdrv_aio_work_here(void *opaque)
{
    int ret;

    wait_point_sleep_only(true);
    ret = bdrv_aio_work(opaque);
    wait_point_sleep_only(false);
    return ret;
}

/*
 * An I/O thread with nothing else in flight runs the job itself: it would only poll for
 * the job's completion meanwhile, and handing the job over costs two thread wake-ups (the
 * worker's, and its own or a CPU shared with the polling thread on the way back), which is
 * most of what an allocating qcow2 write at queue depth 1 loses against doing its I/O from
 * the loop. Not while another request of the context is unfinished, whose completion (or
 * a wait on it) would stand behind the job; not in the main loop, whose thread holds the
 * lock vCPUs need; and only for reads and write-back writes: a flush, and so a discard or
 * a write-through write that may end in one, can take milliseconds, during which requests
 * the thread gets meanwhile (another disk's, a guest's read) would wait behind it. The
 * job's waits sleep (wait_point_sleep_only), as a worker's do.
 */
static bool bdrv_aio_may_run_here(BdrvAioReq *r)
{
    BlockRequest *req = &r->req;

    if (req->type != BLOCK_REQ_READ &&
        (req->type != BLOCK_REQ_WRITE || !req->bs->enable_write_cache ||
         (req->flags & BDRV_REQ_FUA))) {
        return false;
    }
    return iothread_self() && g_atomic_int_get(&r->actx->requests) == 1;
}

void bdrv_aio_run_in_pool(BlockRequest *req, BdrvPoolDoneFunc *done)
{
    BdrvAioReq *r = (BdrvAioReq *)req;
    ThreadPool *pool = bdrv_pool(r->actx);

    r->pool_done = done;
    if (bdrv_aio_may_run_here(r) &&
        thread_pool_run_here(pool, bdrv_aio_work_here, req, bdrv_aio_work_done, req)) {
        TRACE("bdrv_aio_ran_here", "%s offset %" PRIu64 " bytes %" PRIu64,
              bdrv_get_filename(req->bs), req->offset, req->bytes);
        return;
    }
    thread_pool_submit(pool, bdrv_aio_work, req, bdrv_aio_work_done, req);
}

static void bdrv_aio_dispatch(BdrvAioReq *r)
{
    BlockRequest *req = &r->req;
    BlockDriverState *bs = req->bs;
    int ret;

    if (!bdrv_request_enter(bs, req)) {
        return; /* held until the drained section ends */
    }
    submitting++;
    ret = bdrv_check_request(bs, req->type, req->offset, req->bytes);
    if (ret < 0) {
        bdrv_request_complete(req, ret);
    } else if (bdrv_aio_can_pass(r)) {
        bdrv_nesting_enter();
        bs->drv->aio_submit(bs, req);
        bdrv_nesting_leave();
    } else {
        bdrv_aio_run_in_pool(req, NULL);
    }
    submitting--;
}

static gboolean bdrv_aio_dispatch_cb(gpointer opaque)
{
    bdrv_aio_dispatch(opaque);
    return G_SOURCE_REMOVE;
}

void bdrv_aio_resubmit(BlockRequest *req)
{
    context_run_soon(req->ctx, bdrv_aio_dispatch_cb, req);
}

static void bdrv_aio_submit(BlockDriverState *bs, BlockReqType type, uint64_t offset,
                            uint64_t bytes, IOVector *qiov, int flags, BlockCompletionFunc *cb,
                            void *opaque)
{
    BdrvAioReq *r = g_new0(BdrvAioReq, 1);

    r->req = (BlockRequest){
        .bs = bs,
        .type = type,
        .offset = offset,
        .bytes = bytes,
        .qiov = qiov,
        .flags = flags,
        .ctx = g_main_context_ref_thread_default(),
        .cb = cb,
        .opaque = opaque,
    };
    r->internal = bdrv_nesting();
    r->actx = bdrv_aio_context(r->req.ctx);
    g_atomic_int_inc(&r->actx->requests);
    bdrv_aio_dispatch(r);
}

void bdrv_aio_preadv(BlockDriverState *bs, uint64_t offset, IOVector *qiov, int flags,
                     BlockCompletionFunc *cb, void *opaque)
{
    bdrv_aio_submit(bs, BLOCK_REQ_READ, offset, qiov->size, qiov, flags, cb, opaque);
}

void bdrv_aio_pwritev(BlockDriverState *bs, uint64_t offset, IOVector *qiov, int flags,
                      BlockCompletionFunc *cb, void *opaque)
{
    bdrv_aio_submit(bs, BLOCK_REQ_WRITE, offset, qiov->size, qiov, flags, cb, opaque);
}

void bdrv_aio_flush(BlockDriverState *bs, BlockCompletionFunc *cb, void *opaque)
{
    bdrv_aio_submit(bs, BLOCK_REQ_FLUSH, 0, 0, NULL, 0, cb, opaque);
}

void bdrv_aio_pdiscard(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                       BlockCompletionFunc *cb, void *opaque)
{
    bdrv_aio_submit(bs, BLOCK_REQ_DISCARD, offset, bytes, NULL, 0, cb, opaque);
}

void bdrv_aio_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags,
                            BlockCompletionFunc *cb, void *opaque)
{
    bdrv_aio_submit(bs, BLOCK_REQ_WRITE_ZEROES, offset, bytes, NULL, flags, cb, opaque);
}
