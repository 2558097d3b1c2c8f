/*
 * The Linux AIO engine (aio=native): one kernel io_context per GMainContext, whose
 * completions signal an eventfd watched by a GSource in that context. Any thread submits
 * with io_submit; requests beyond the context's depth, or refused with EAGAIN, wait in a
 * queue until a completion frees a slot. Requests submitted while the context's thread runs
 * completion callbacks (which typically submit the next ones) are queued too, and go to the
 * kernel in one io_submit when the callbacks are done: one system call and one device
 * notification for the batch. Only vectored reads and writes on O_DIRECT files:
 * the kernel does nothing else asynchronously, so the file driver keeps the rest.
 */
#include <errno.h>
#include <limits.h>
#include <libaio.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <glib.h>
#include "block/aio-engine.h"
#include "util/aio-poll.h"

#define LAIO_MAX_DEPTH 1024
#define LAIO_MIN_DEPTH 128
#define LAIO_BATCH 64
#define LAIO_RING_MAGIC 0xa10a10a1

/*
 * The completion ring the kernel maps at the io_context's address (fs/aio.c's struct
 * aio_ring): taking events from it and moving head is what io_getevents does, without the
 * system call, and an event loop can poll tail. Used only when magic and features match.
 */
typedef struct LaioRing {
    unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
    struct io_event events[];
} LaioRing;

typedef struct LaioRequest {
    struct iocb iocb;
    BlockRequest *req;
    int error; /* -errno when io_submit refused it */
} LaioRequest;

typedef struct LaioState {
    GSource source;
    GMainContext *ctx;
    io_context_t io_ctx;
    int efd;
    unsigned depth; /* io_setup's nr_events: never more in flight */
    GMutex lock;    /* pending and in_flight: submitters run in any thread */
    GQueue pending; /* LaioRequests waiting for a slot, or for the batch to end */
    unsigned in_flight;
    unsigned batching; /* > 0 while the context's thread runs completion callbacks */
    LaioRing *ring;    /* NULL: reap with io_getevents */
    AioPollHandler *poll;
} LaioState;

/* GMainContext -> LaioState; an entry lives as long as its source is attached. */
static GMutex laio_registry_lock;
static GHashTable *laio_registry;

/* ---- Completion (the context's thread) ---- */

/* The request's result from the kernel's: short reads stop at EOF and read as zeroes. */
static int laio_result(BlockRequest *req, long res)
{
    if (res < 0) {
        return res;
    }
    if ((uint64_t)res == req->qiov->size) {
        return 0;
    }
    if (req->type == BLOCK_REQ_WRITE) {
        return -EINVAL;
    }
    iov_memset(req->qiov, res, 0, req->qiov->size - res);
    return 0;
}

static void laio_finish(LaioRequest *lreq, long res)
{
    BlockRequest *req = lreq->req;

    g_free(lreq);
    bdrv_request_complete(req, laio_result(req, res));
}

/*
 * Called with the lock held: move pending requests into the kernel while there are free
 * slots. Requests the kernel refuses for good go to failed, with their error set.
 */
static void laio_kick(LaioState *s, GQueue *failed)
{
    struct iocb *iocbs[LAIO_BATCH];
    unsigned n;
    GList *l;
    int ret;

    while (!g_queue_is_empty(&s->pending) && s->in_flight < s->depth) {
        n = MIN(MIN(s->pending.length, s->depth - s->in_flight), LAIO_BATCH);
        l = s->pending.head;
        for (unsigned i = 0; i < n; i++, l = l->next) {
            iocbs[i] = &((LaioRequest *)l->data)->iocb;
        }
        ret = io_submit(s->io_ctx, n, iocbs);
        if (ret == -EAGAIN && s->in_flight > 0) {
            return; /* retried when the next completion frees a slot */
        }
        if (ret < 0) {
            LaioRequest *lreq = g_queue_pop_head(&s->pending);

            lreq->error = ret;
            g_queue_push_tail(failed, lreq);
            continue;
        }
        for (int i = 0; i < ret; i++) {
            g_queue_pop_head(&s->pending);
        }
        s->in_flight += ret;
    }
}

static void laio_finish_failed(GQueue *failed)
{
    LaioRequest *lreq;

    while ((lreq = g_queue_pop_head(failed))) {
        laio_finish(lreq, lreq->error);
    }
}

/* Up to max events from the ring, in the context's thread. */
static int laio_ring_take(LaioRing *r, struct io_event *events, int max)
{
    unsigned head = r->head, nr = r->nr;
    unsigned tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    int n = 0;

    if (head >= nr || tail >= nr) {
        return -EIO; /* not as the kernel keeps it: let io_getevents answer */
    }
    while (head != tail && n < max) {
        events[n++] = r->events[head];
        head = (head + 1) % nr;
    }
    __atomic_store_n(&r->head, head, __ATOMIC_RELEASE); /* the slots are the kernel's again */
    return n;
}

/* Reap up to LAIO_BATCH completions without blocking and refill the freed slots. */
static int laio_reap(LaioState *s, struct io_event *events, GQueue *failed)
{
    struct timespec no_wait = {0};
    int n;

    g_mutex_lock(&s->lock);
    n = s->ring ? laio_ring_take(s->ring, events, LAIO_BATCH) : -EIO;
    if (n == -EIO) {
        do {
            n = io_getevents(s->io_ctx, 0, LAIO_BATCH, events, &no_wait);
        } while (n == -EINTR);
    }
    if (n > 0) {
        s->in_flight -= n;
        laio_kick(s, failed);
    }
    g_mutex_unlock(&s->lock);
    return n;
}

/* Start or end a batch; the end submits what the callbacks queued. */
static void laio_batch(LaioState *s, bool begin)
{
    GQueue failed = G_QUEUE_INIT;

    g_mutex_lock(&s->lock);
    if (begin) {
        s->batching++;
    } else if (--s->batching == 0) {
        laio_kick(s, &failed);
    }
    g_mutex_unlock(&s->lock);
    laio_finish_failed(&failed);
}

/* Complete what the kernel finished, and submit what the callbacks queued meanwhile. */
static void laio_process(LaioState *s)
{
    struct io_event events[LAIO_BATCH];
    GQueue failed = G_QUEUE_INIT;
    int n;

    laio_batch(s, true);
    do {
        n = laio_reap(s, events, &failed);
        laio_finish_failed(&failed);
        for (int i = 0; i < n; i++) {
            laio_finish(events[i].data, (long)events[i].res);
        }
    } while (n == LAIO_BATCH);
    laio_batch(s, false);
}

static gboolean laio_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    LaioState *s = (LaioState *)source;
    uint64_t count;

    if (read(s->efd, &count, sizeof(count)) < 0 && errno != EAGAIN) {
        g_warning("linux-aio: reading the eventfd failed: %s", g_strerror(errno));
    }
    laio_process(s);
    return G_SOURCE_CONTINUE;
}

/* An event loop that polls looks at the ring's tail (util/aio-poll.h). */
static bool laio_poll_ready(void *opaque)
{
    LaioRing *r = ((LaioState *)opaque)->ring;

    return __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) !=
           __atomic_load_n(&r->head, __ATOMIC_RELAXED);
}

static void laio_poll_run(void *opaque)
{
    laio_process(opaque);
}

static const AioPollOps laio_poll_ops = {
    .ready = laio_poll_ready,
    .run = laio_poll_run,
};

static void laio_finalize(GSource *source)
{
    LaioState *s = (LaioState *)source;

    g_mutex_lock(&laio_registry_lock);
    if (g_hash_table_lookup(laio_registry, s->ctx) == s) {
        g_hash_table_remove(laio_registry, s->ctx);
    }
    g_mutex_unlock(&laio_registry_lock);
    aio_poll_remove(s->poll);
    io_destroy(s->io_ctx);
    close(s->efd);
    g_mutex_clear(&s->lock);
}

static GSourceFuncs laio_source_funcs = {
    .dispatch = laio_dispatch,
    .finalize = laio_finalize,
};

/* ---- Setup ---- */

/* io_setup with the largest depth the host's aio-max-nr still allows. */
static int laio_setup(io_context_t *io_ctx, unsigned *depth)
{
    int ret = -EINVAL;

    for (*depth = LAIO_MAX_DEPTH; *depth >= LAIO_MIN_DEPTH; *depth /= 2) {
        *io_ctx = 0;
        ret = io_setup(*depth, io_ctx);
        if (ret != -EAGAIN) {
            break;
        }
    }
    return ret;
}

/* Reap from the ring, and let the context's loop poll it, if it is the ring we know. */
static void laio_ring_setup(LaioState *s)
{
    LaioRing *r = (LaioRing *)s->io_ctx;

    if (r->magic == LAIO_RING_MAGIC && r->incompat_features == 0 &&
        r->header_length == sizeof(LaioRing) && r->nr > 0) {
        s->ring = r;
        s->poll = aio_poll_add(s->ctx, &laio_poll_ops, s);
    }
}

/* Called with the registry lock held. */
static LaioState *laio_state_new(GMainContext *ctx, Error **errp)
{
    io_context_t io_ctx;
    unsigned depth;
    LaioState *s;
    int efd, ret;

    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
        error_setg_errno(errp, errno, "Could not set AIO state");
        return NULL;
    }
    ret = laio_setup(&io_ctx, &depth);
    if (ret < 0) {
        close(efd);
        error_setg_errno(errp, -ret, "Could not set AIO state");
        return NULL;
    }
    s = (LaioState *)g_source_new(&laio_source_funcs, sizeof(LaioState));
    s->ctx = ctx;
    s->io_ctx = io_ctx;
    s->efd = efd;
    s->depth = depth;
    g_mutex_init(&s->lock);
    g_queue_init(&s->pending);
    g_source_set_name(&s->source, "linux-aio");
    g_source_set_can_recurse(&s->source, TRUE);
    g_source_add_unix_fd(&s->source, efd, G_IO_IN);
    g_hash_table_insert(laio_registry, ctx, s);
    g_source_attach(&s->source, ctx);
    g_source_unref(&s->source); /* the context owns it from now on */
    laio_ring_setup(s);
    return s;
}

static LaioState *laio_get(GMainContext *ctx, Error **errp)
{
    LaioState *s;

    if (!ctx) {
        ctx = g_main_context_default();
    }
    g_mutex_lock(&laio_registry_lock);
    if (!laio_registry) {
        laio_registry = g_hash_table_new(NULL, NULL);
    }
    s = g_hash_table_lookup(laio_registry, ctx);
    if (!s) {
        s = laio_state_new(ctx, errp);
    }
    g_mutex_unlock(&laio_registry_lock);
    return s;
}

/* ---- API ---- */

bool laio_init_context(GMainContext *ctx, Error **errp)
{
    return laio_get(ctx, errp) != NULL;
}

static LaioRequest *laio_request_new(LaioState *s, int fd, BlockRequest *req)
{
    LaioRequest *lreq = g_new0(LaioRequest, 1);
    IOVector *qiov = req->qiov;

    /* One segment as a plain pread/pwrite: the kernel need not copy in an iovec. */
    if (qiov->niov == 1 && req->type == BLOCK_REQ_WRITE) {
        io_prep_pwrite(&lreq->iocb, fd, qiov->iov[0].iov_base, qiov->iov[0].iov_len, req->offset);
    } else if (qiov->niov == 1) {
        io_prep_pread(&lreq->iocb, fd, qiov->iov[0].iov_base, qiov->iov[0].iov_len, req->offset);
    } else if (req->type == BLOCK_REQ_WRITE) {
        io_prep_pwritev(&lreq->iocb, fd, qiov->iov, qiov->niov, req->offset);
    } else {
        io_prep_preadv(&lreq->iocb, fd, qiov->iov, qiov->niov, req->offset);
    }
    io_set_eventfd(&lreq->iocb, s->efd);
    lreq->iocb.data = lreq;
    lreq->req = req;
    return lreq;
}

bool laio_submit(int fd, BlockRequest *req)
{
    GQueue failed = G_QUEUE_INIT;
    LaioState *s;

    g_assert(req->type == BLOCK_REQ_READ || req->type == BLOCK_REQ_WRITE);
    if (req->qiov->niov > IOV_MAX) {
        return false;
    }
    s = laio_get(req->ctx, NULL);
    if (!s) {
        return false;
    }
    g_mutex_lock(&s->lock);
    g_queue_push_tail(&s->pending, laio_request_new(s, fd, req));
    /*
     * Within a batch, the request waits for its end, or for the next completion reaped by
     * a nested dispatch (a callback that waits for its own request): with nothing in
     * flight there would be no such completion, so it goes now.
     */
    if (!s->batching || !s->in_flight) {
        laio_kick(s, &failed);
    }
    g_mutex_unlock(&s->lock);
    laio_finish_failed(&failed);
    return true;
}
