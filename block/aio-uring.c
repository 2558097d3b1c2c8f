/*
 * The io_uring engine (aio=io_uring): one ring per GMainContext, its completions signalled
 * on a registered eventfd watched by a GSource in that context. Any thread submits under
 * the ring's lock; requests beyond what the completion queue can hold wait in a queue until
 * a completion frees a slot. Requests submitted while the context's thread runs completion
 * callbacks go to the kernel together when the callbacks are done, in one io_uring_enter.
 * Vectored reads and writes only (the core runs flush, discard
 * and write-zeroes on its worker threads); a short read is resumed until the end of the
 * file, which reads as zeroes.
 */
#include "config-host.h"
#ifdef CONFIG_LINUX_IO_URING
#include <errno.h>
#include <limits.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <glib.h>
#include "block/aio-engine.h"
#include "util/aio-poll.h"

#define LURING_ENTRIES 256
#define LURING_BATCH 64

typedef struct LuringRequest {
    BlockRequest *req;
    int fd;
    size_t done;   /* bytes earlier short reads brought in */
    IOVector rest; /* the part of req->qiov still to read, once done > 0 */
} LuringRequest;

typedef struct LuringCompletion {
    LuringRequest *lreq;
    int res;
} LuringCompletion;

typedef struct LuringState {
    GSource source;
    GMainContext *ctx;
    struct io_uring ring;
    int efd;
    unsigned limit; /* completion queue entries: never more in flight */
    GMutex lock;    /* the ring, pending and in_flight: submitters run in any thread */
    GQueue pending; /* LuringRequests waiting for a slot, or for the batch to end */
    unsigned in_flight;
    unsigned batching; /* > 0 while the context's thread runs completion callbacks */
    AioPollHandler *poll;
} LuringState;

/* GMainContext -> LuringState; an entry lives as long as its source is attached. */
static GMutex luring_registry_lock;
static GHashTable *luring_registry;

/* ---- Submission (any thread, lock held) ---- */

static void luring_prep(struct io_uring_sqe *sqe, LuringRequest *lreq)
{
    BlockRequest *req = lreq->req;
    const IOVector *v = lreq->done ? &lreq->rest : req->qiov;
    uint64_t offset = req->offset + lreq->done;

    /* One segment as a plain read/write: the kernel need not copy in an iovec. */
    if (v->niov == 1 && req->type == BLOCK_REQ_WRITE) {
        io_uring_prep_write(sqe, lreq->fd, v->iov[0].iov_base, v->iov[0].iov_len, offset);
    } else if (v->niov == 1) {
        io_uring_prep_read(sqe, lreq->fd, v->iov[0].iov_base, v->iov[0].iov_len, offset);
    } else if (req->type == BLOCK_REQ_WRITE) {
        io_uring_prep_writev(sqe, lreq->fd, v->iov, v->niov, offset);
    } else {
        io_uring_prep_readv(sqe, lreq->fd, v->iov, v->niov, offset);
    }
    io_uring_sqe_set_data(sqe, lreq);
}

/* Move pending requests into the ring while slots are free, and submit. */
static void luring_kick(LuringState *s)
{
    struct io_uring_sqe *sqe;
    int ret;

    while (!g_queue_is_empty(&s->pending) && s->in_flight < s->limit &&
           (sqe = io_uring_get_sqe(&s->ring))) {
        luring_prep(sqe, g_queue_pop_head(&s->pending));
        s->in_flight++;
    }
    if (!io_uring_sq_ready(&s->ring)) {
        return;
    }
    do {
        ret = io_uring_submit(&s->ring);
    } while (ret == -EINTR);
    /* On EAGAIN or EBUSY the entries stay in the ring for the next submission. */
    if (ret < 0 && ret != -EAGAIN && ret != -EBUSY) {
        g_warning("io_uring: submission failed: %s", g_strerror(-ret));
    }
}

static void luring_enqueue(LuringState *s, LuringRequest *lreq, bool front)
{
    g_mutex_lock(&s->lock);
    if (front) {
        g_queue_push_head(&s->pending, lreq);
    } else {
        g_queue_push_tail(&s->pending, lreq);
    }
    /*
     * Within a batch, the request waits for its end, or for the next completion reaped by
     * a nested dispatch (a callback that waits for its own request): with nothing in
     * flight there would be no such completion, so it goes now.
     */
    if (!s->batching || !s->in_flight) {
        luring_kick(s);
    }
    g_mutex_unlock(&s->lock);
}

/* Start or end a batch; the end submits what the callbacks queued. */
static void luring_batch(LuringState *s, bool begin)
{
    g_mutex_lock(&s->lock);
    if (begin) {
        s->batching++;
    } else if (--s->batching == 0) {
        luring_kick(s);
    }
    g_mutex_unlock(&s->lock);
}

/* ---- Completion (the context's thread) ---- */

static int luring_result(LuringRequest *lreq, int res)
{
    BlockRequest *req = lreq->req;

    if (res < 0) {
        return res;
    }
    if (lreq->done + res == req->qiov->size) {
        return 0;
    }
    if (req->type == BLOCK_REQ_WRITE) {
        return -EINVAL;
    }
    iov_memset(req->qiov, lreq->done, 0, req->qiov->size - lreq->done);
    return 0;
}

static void luring_complete(LuringState *s, LuringRequest *lreq, int res)
{
    BlockRequest *req = lreq->req;
    int ret;

    if (req->type == BLOCK_REQ_READ && res > 0 && lreq->done + res < req->qiov->size) {
        /* Short, but not at the end of the file: resume where the read stopped. */
        if (lreq->done) {
            iov_reset(&lreq->rest);
        } else {
            iov_init(&lreq->rest, req->qiov->niov);
        }
        lreq->done += res;
        iov_add_slice(&lreq->rest, req->qiov, lreq->done, req->qiov->size - lreq->done);
        luring_enqueue(s, lreq, true);
        return;
    }
    ret = luring_result(lreq, res);
    if (lreq->done) {
        iov_destroy(&lreq->rest);
    }
    g_free(lreq);
    bdrv_request_complete(req, ret);
}

/* Take up to LURING_BATCH completions off the ring and refill the freed slots. */
static unsigned luring_reap(LuringState *s, LuringCompletion *done)
{
    struct io_uring_cqe *cqes[LURING_BATCH];
    unsigned n;

    g_mutex_lock(&s->lock);
    n = io_uring_peek_batch_cqe(&s->ring, cqes, LURING_BATCH);
    for (unsigned i = 0; i < n; i++) {
        done[i].lreq = io_uring_cqe_get_data(cqes[i]);
        done[i].res = cqes[i]->res;
    }
    io_uring_cq_advance(&s->ring, n);
    s->in_flight -= n;
    luring_kick(s);
    g_mutex_unlock(&s->lock);
    return n;
}

/* Complete what the kernel finished, and submit what the callbacks queued meanwhile. */
static void luring_process(LuringState *s)
{
    LuringCompletion done[LURING_BATCH];
    unsigned n;

    luring_batch(s, true);
    do {
        n = luring_reap(s, done);
        for (unsigned i = 0; i < n; i++) {
            luring_complete(s, done[i].lreq, done[i].res);
        }
    } while (n == LURING_BATCH);
    luring_batch(s, false);
}

static gboolean luring_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    LuringState *s = (LuringState *)source;
    uint64_t count;

    if (read(s->efd, &count, sizeof(count)) < 0 && errno != EAGAIN) {
        g_warning("io_uring: reading the eventfd failed: %s", g_strerror(errno));
    }
    luring_process(s);
    return G_SOURCE_CONTINUE;
}

/* An event loop that polls looks at the completion queue (util/aio-poll.h); only the
 * context's thread takes completions, so no lock is needed to look. */
static bool luring_poll_ready(void *opaque)
{
    return io_uring_cq_ready(&((LuringState *)opaque)->ring) > 0;
}

static void luring_poll_run(void *opaque)
{
    luring_process(opaque);
}

static const AioPollOps luring_poll_ops = {
    .ready = luring_poll_ready,
    .run = luring_poll_run,
};

static void luring_finalize(GSource *source)
{
    LuringState *s = (LuringState *)source;

    g_mutex_lock(&luring_registry_lock);
    if (g_hash_table_lookup(luring_registry, s->ctx) == s) {
        g_hash_table_remove(luring_registry, s->ctx);
    }
    g_mutex_unlock(&luring_registry_lock);
    aio_poll_remove(s->poll);
    io_uring_queue_exit(&s->ring);
    close(s->efd);
    g_mutex_clear(&s->lock);
}

static GSourceFuncs luring_source_funcs = {
    .dispatch = luring_dispatch,
    .finalize = luring_finalize,
};

/* ---- Setup ---- */

static int luring_setup(struct io_uring *ring, int efd)
{
    int ret = io_uring_queue_init(LURING_ENTRIES, ring, 0);

    if (ret < 0) {
        return ret;
    }
    ret = io_uring_register_eventfd(ring, efd);
    if (ret < 0) {
        io_uring_queue_exit(ring);
    }
    return ret;
}

/* Called with the registry lock held. */
static LuringState *luring_state_new(GMainContext *ctx, Error **errp)
{
    struct io_uring ring;
    LuringState *s;
    int efd, ret;

    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
        error_setg_errno(errp, errno, "Unable to use io_uring");
        return NULL;
    }
    ret = luring_setup(&ring, efd);
    if (ret < 0) {
        close(efd);
        error_setg_errno(errp, -ret, "Unable to use io_uring: failed to init linux io_uring ring");
        return NULL;
    }
    s = (LuringState *)g_source_new(&luring_source_funcs, sizeof(LuringState));
    s->ctx = ctx;
    s->ring = ring;
    s->efd = efd;
    s->limit = ring.cq.ring_entries;
    g_mutex_init(&s->lock);
    g_queue_init(&s->pending);
    g_source_set_name(&s->source, "io-uring");
    g_source_set_can_recurse(&s->source, TRUE);
    g_source_add_unix_fd(&s->source, efd, G_IO_IN);
    g_hash_table_insert(luring_registry, ctx, s);
    g_source_attach(&s->source, ctx);
    g_source_unref(&s->source); /* the context owns it from now on */
    s->poll = aio_poll_add(ctx, &luring_poll_ops, s);
    return s;
}

static LuringState *luring_get(GMainContext *ctx, Error **errp)
{
    LuringState *s;

    if (!ctx) {
        ctx = g_main_context_default();
    }
    g_mutex_lock(&luring_registry_lock);
    if (!luring_registry) {
        luring_registry = g_hash_table_new(NULL, NULL);
    }
    s = g_hash_table_lookup(luring_registry, ctx);
    if (!s) {
        s = luring_state_new(ctx, errp);
    }
    g_mutex_unlock(&luring_registry_lock);
    return s;
}

/* ---- API ---- */

bool luring_init_context(GMainContext *ctx, Error **errp)
{
    return luring_get(ctx, errp) != NULL;
}

bool luring_submit(int fd, BlockRequest *req)
{
    LuringRequest *lreq;
    LuringState *s;

    g_assert(req->type == BLOCK_REQ_READ || req->type == BLOCK_REQ_WRITE);
    if (req->qiov->niov > IOV_MAX) {
        return false;
    }
    s = luring_get(req->ctx, NULL);
    if (!s) {
        return false;
    }
    lreq = g_new0(LuringRequest, 1);
    lreq->req = req;
    lreq->fd = fd;
    luring_enqueue(s, lreq, false);
    return true;
}

#endif
