/*
 * Adaptive polling for an event loop (see include/util/aio-poll.h): one poller per
 * GMainContext, a GSource holding its handlers, the busy-polling wait a loop's poll
 * function calls, and the pure growing/shrinking of the polling time. Not the loops
 * themselves and not the handlers (virtqueues, AIO engines).
 */
#include <poll.h>
#include <time.h>
#include "util/aio-poll.h"

#define AIO_POLL_START_NS 4000   /* the first polling time after waits turned out short */
#define AIO_POLL_IDLE_NS 1000000 /* a handler without events in a wait this long is idle */
#define AIO_POLL_MIN_NS 1000     /* polling times that halve below this stop polling */
#define AIO_POLL_TRIAL_EVERY 8   /* slow events before a trial of polling for the next ones */
#define AIO_POLL_TRIAL_BACKOFF 5 /* failed trials in a row double that, up to 2^5 times */
#define AIO_POLL_MISSES 3        /* events in a row too late for polling that end it */
/*
 * While it polls, or handlers keep finding work, the loop does not sleep; it still looks at
 * its file descriptors (other sources, calls from other threads, the worker pool) at least
 * this often. Not more often: an AIO engine's eventfd stays readable while its completions
 * are taken by polling, and each look at it costs system calls.
 */
#define AIO_POLL_FD_INTERVAL_NS 50000

struct AioPollHandler {
    AioPoll *p;
    const AioPollOps *ops;
    void *opaque;
    bool ready; /* a round found work; cleared when it runs */
    bool event; /* ready since the last adjustment of ns */
    AioPollHandlerTime time; /* how long this handler's events are worth polling for */
};

struct AioPoll {
    GSource source;
    GMainContext *ctx;
    GMutex lock;         /* handlers and their ready flags */
    GPtrArray *handlers; /* of AioPollHandler * */
    int n_ready;         /* handlers with ready set (atomic) */
    bool polling;        /* the handlers were told to stop notifying */
    int64_t fd_poll_ns;  /* when the loop last looked at its descriptors */
};

static GMutex registry_lock;
static GHashTable *registry; /* GMainContext * -> AioPoll * */

static int64_t aio_poll_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- the polling time ---- */

void aio_poll_time_init(AioPollTime *t, int64_t max_ns, int64_t grow, int64_t shrink)
{
    *t = (AioPollTime){.ns = 0, .max_ns = max_ns, .grow = grow, .shrink = shrink};
}

void aio_poll_time_adjust(AioPollTime *t, int64_t block_ns)
{
    int64_t grow = t->grow ? t->grow : 2;

    if (block_ns <= t->ns) {
        return; /* polling was long enough: keep it */
    }
    if (block_ns > t->max_ns) {
        /* Polling that long would not have helped: poll less. */
        t->ns = t->shrink ? t->ns / t->shrink : 0;
    } else if (block_ns < t->max_ns && t->ns < t->max_ns) {
        /* A bit more polling would have caught it. */
        if (!t->ns) {
            t->ns = MIN(AIO_POLL_START_NS, t->max_ns);
        } else {
            t->ns = t->ns > t->max_ns / grow ? t->max_ns : t->ns * grow;
        }
    }
}

/* ---- handlers ---- */

/*
 * One round over the handlers; true if any has work, now flagged for dispatch. Without
 * dispatch, only note whose event it is (the descriptor that woke the loop brings it).
 */
static bool aio_poll_round(AioPoll *p, bool dispatch)
{
    bool any = false;

    g_mutex_lock(&p->lock);
    for (guint i = 0; i < p->handlers->len; i++) {
        AioPollHandler *h = g_ptr_array_index(p->handlers, i);

        if (!h->ready && h->ops->ready(h->opaque)) {
            h->event = true;
            h->ready = dispatch;
            g_atomic_int_add(&p->n_ready, dispatch);
        }
        any |= h->ready;
    }
    g_mutex_unlock(&p->lock);
    return any;
}

static void aio_poll_set_polling(AioPoll *p, bool polling)
{
    g_mutex_lock(&p->lock);
    if (p->polling != polling) {
        p->polling = polling;
        for (guint i = 0; i < p->handlers->len; i++) {
            AioPollHandler *h = g_ptr_array_index(p->handlers, i);

            if (h->ops->set_polling) {
                h->ops->set_polling(h->opaque, polling);
            }
        }
    }
    g_mutex_unlock(&p->lock);
}

/* The next handler with work, its flag cleared; NULL when none is left. */
static AioPollHandler *aio_poll_take_ready(AioPoll *p)
{
    AioPollHandler *found = NULL;

    g_mutex_lock(&p->lock);
    for (guint i = 0; i < p->handlers->len && !found; i++) {
        AioPollHandler *h = g_ptr_array_index(p->handlers, i);

        if (h->ready) {
            h->ready = false;
            g_atomic_int_dec_and_test(&p->n_ready);
            found = h;
        }
    }
    g_mutex_unlock(&p->lock);
    return found;
}

/*
 * Each handler keeps its own polling time, adjusted by the waits that ended with its
 * events: a virtqueue whose guest sends the next request a few microseconds after a
 * completion is worth polling for even while the disk's completions take longer than
 * poll-max-ns (so the completion ring is not). A wait polls for the longest of them.
 * A handler that had no event in a wait longer than its time was polled for in vain:
 * its time halves, down to twice how late into a wait polling has recently caught its
 * events (a maximum that decays by an eighth at each catch). So a virtqueue's time settles
 * near how soon the guest refills after a completion, instead of spending the whole
 * poll-max-ns after every submission too (waits that end with the disk's completion, long
 * after), and still catches the refill.
 *
 * A wait that sleeps is longer than the same wait polled: the thread's wake-up is in it,
 * and on a virtual host an idle CPU's too. Measured here (4 KiB writes at queue depth 1,
 * an I/O thread): the disk's completions that polling caught came 16-32 us into the wait,
 * those slept through 48-100 us. So a handler whose events keep coming after waits longer
 * than poll-max-ns (the completions, not polled for) gets a trial after
 * AIO_POLL_TRIAL_EVERY of them: it is polled for at poll-max-ns, and keeps that time while
 * polling catches its events, through late ones until AIO_POLL_MISSES come in a row. A
 * trial that catches none doubles the wait for the next (up to 256 slow events), so where
 * polling does not make the events come sooner it costs a few vain polls per 256 events.
 */
static void aio_poll_handler_event(AioPollHandlerTime *ht, const AioPollTime *params,
                                   int64_t block_ns)
{
    AioPollTime t = *params;

    if (block_ns <= ht->ns) {
        ht->hit_ns = MAX(block_ns, ht->hit_ns - ht->hit_ns / 8);
        ht->trial = false;
        ht->failed_trials = 0;
    } else if (ht->ns && block_ns > params->max_ns && ++ht->misses < AIO_POLL_MISSES) {
        return; /* a late one among events polling catches: keep polling */
    }
    ht->misses = 0;
    t.ns = ht->ns;
    aio_poll_time_adjust(&t, block_ns);
    ht->ns = t.ns;
    if (!ht->ns && ht->trial) {
        ht->trial = false;
        ht->failed_trials = MIN(ht->failed_trials + 1, AIO_POLL_TRIAL_BACKOFF);
    }
    ht->slow = block_ns > params->max_ns && block_ns < AIO_POLL_IDLE_NS ? ht->slow + 1 : 0;
    if (!ht->ns && ht->slow >= AIO_POLL_TRIAL_EVERY << ht->failed_trials) {
        ht->slow = 0;
        ht->ns = params->max_ns;
        ht->trial = true;
    }
}

void aio_poll_handler_time_adjust(AioPollHandlerTime *ht, const AioPollTime *params, bool event,
                                  int64_t block_ns)
{
    if (event) {
        aio_poll_handler_event(ht, params, block_ns);
    } else if (block_ns >= AIO_POLL_IDLE_NS) {
        *ht = (AioPollHandlerTime){0}; /* gone quiet: an idle loop's wake-ups need not poll */
    } else if (block_ns > ht->ns && ht->ns) {
        ht->ns = MAX(ht->ns / 2, MIN(2 * ht->hit_ns, ht->ns));
        ht->ns = ht->ns < AIO_POLL_MIN_NS ? 0 : ht->ns;
    }
}

static void aio_poll_adjust(AioPoll *p, const AioPollTime *params, int64_t block_ns)
{
    g_mutex_lock(&p->lock);
    for (guint i = 0; i < p->handlers->len; i++) {
        AioPollHandler *h = g_ptr_array_index(p->handlers, i);

        aio_poll_handler_time_adjust(&h->time, params, h->event, block_ns);
        h->event = false;
    }
    g_mutex_unlock(&p->lock);
}

/* How long the next wait polls: the longest handler's time (0: no handler, no polling). */
static int64_t aio_poll_window(AioPoll *p, const AioPollTime *params)
{
    int64_t ns = 0;

    g_mutex_lock(&p->lock);
    for (guint i = 0; i < p->handlers->len; i++) {
        AioPollHandler *h = g_ptr_array_index(p->handlers, i);

        h->time.ns = MIN(h->time.ns, params->max_ns); /* poll-max-ns may have changed */
        ns = MAX(ns, h->time.ns);
    }
    g_mutex_unlock(&p->lock);
    return ns;
}

AioPollHandler *aio_poll_add(GMainContext *ctx, const AioPollOps *ops, void *opaque)
{
    AioPoll *p = aio_poll_get(ctx);
    AioPollHandler *h = g_new0(AioPollHandler, 1);

    h->p = p;
    h->ops = ops;
    h->opaque = opaque;
    g_source_ref(&p->source); /* outlives the context while a handler is left */
    g_mutex_lock(&p->lock);
    if (p->polling && ops->set_polling) {
        ops->set_polling(opaque, true);
    }
    g_ptr_array_add(p->handlers, h);
    g_mutex_unlock(&p->lock);
    return h;
}

void aio_poll_remove(AioPollHandler *h)
{
    AioPoll *p;

    if (!h) {
        return;
    }
    p = h->p;
    g_mutex_lock(&p->lock);
    if (h->ready) {
        g_atomic_int_dec_and_test(&p->n_ready);
    }
    g_ptr_array_remove(p->handlers, h); /* frees h */
    g_mutex_unlock(&p->lock);
    g_source_unref(&p->source);
}

/* ---- the GSource that runs what polling found ---- */

static gboolean aio_poll_source_prepare(GSource *source, gint *timeout)
{
    *timeout = -1;
    return g_atomic_int_get(&((AioPoll *)source)->n_ready) > 0;
}

static gboolean aio_poll_source_check(GSource *source)
{
    return g_atomic_int_get(&((AioPoll *)source)->n_ready) > 0;
}

static gboolean aio_poll_source_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    AioPoll *p = (AioPoll *)source;
    AioPollHandler *h;

    /* One at a time: a handler's work may add or remove handlers. */
    while ((h = aio_poll_take_ready(p))) {
        h->ops->run(h->opaque);
    }
    return G_SOURCE_CONTINUE;
}

static void aio_poll_source_finalize(GSource *source)
{
    AioPoll *p = (AioPoll *)source;

    g_mutex_lock(&registry_lock);
    if (g_hash_table_lookup(registry, p->ctx) == p) {
        g_hash_table_remove(registry, p->ctx);
    }
    g_mutex_unlock(&registry_lock);
    g_ptr_array_free(p->handlers, TRUE);
    g_mutex_clear(&p->lock);
}

static GSourceFuncs aio_poll_source_funcs = {
    .prepare = aio_poll_source_prepare,
    .check = aio_poll_source_check,
    .dispatch = aio_poll_source_dispatch,
    .finalize = aio_poll_source_finalize,
};

AioPoll *aio_poll_get(GMainContext *ctx)
{
    AioPoll *p;

    ctx = ctx ? ctx : g_main_context_default();
    g_mutex_lock(&registry_lock);
    if (!registry) {
        registry = g_hash_table_new(NULL, NULL);
    }
    p = g_hash_table_lookup(registry, ctx);
    if (!p || g_source_is_destroyed(&p->source)) { /* a context that went at that address */
        p = (AioPoll *)g_source_new(&aio_poll_source_funcs, sizeof(AioPoll));
        p->ctx = ctx;
        g_mutex_init(&p->lock);
        p->handlers = g_ptr_array_new_with_free_func(g_free);
        g_source_set_name(&p->source, "aio-poll");
        g_source_set_can_recurse(&p->source, TRUE);
        g_hash_table_insert(registry, ctx, p);
        g_source_attach(&p->source, ctx);
        g_source_unref(&p->source); /* the context owns it */
    }
    g_mutex_unlock(&registry_lock);
    return p;
}

/* ---- the wait ---- */

/* The descriptors without waiting, if they were not looked at for a while; else 0. */
static gint aio_poll_fds_due(AioPoll *p, const AioPollWait *w, GPollFD *fds, guint nfds,
                             int64_t now)
{
    if (now - p->fd_poll_ns < AIO_POLL_FD_INTERVAL_NS) {
        return 0;
    }
    p->fd_poll_ns = now;
    return w->poll(fds, nfds, 0);
}

/*
 * Poll until end with notifications off, and the descriptors now and then: 0 when a
 * handler has work, what w->poll returned when descriptors are ready, -1 when nothing came.
 */
static gint aio_poll_busy(AioPoll *p, const AioPollWait *w, GPollFD *fds, guint nfds, int64_t end)
{
    int64_t now;
    gint ret = -1;

    w->lock(w->opaque);
    aio_poll_set_polling(p, true);
    do {
        if (aio_poll_round(p, true)) {
            ret = 0;
            break;
        }
        /* Let a thread waiting for the lock (a vCPU's register access) in. */
        w->unlock(w->opaque);
        now = aio_poll_now();
        ret = aio_poll_fds_due(p, w, fds, nfds, now);
        ret = ret > 0 ? ret : -1;
        w->lock(w->opaque);
    } while (ret < 0 && now < end);
    w->unlock(w->opaque);
    return ret;
}

/* Notifications back on, then one more look: what arrived meanwhile was not notified. */
static bool aio_poll_stop(AioPoll *p, const AioPollWait *w)
{
    bool found;

    w->lock(w->opaque);
    aio_poll_set_polling(p, false);
    found = aio_poll_round(p, true);
    w->unlock(w->opaque);
    return found;
}

gint aio_poll_wait(AioPoll *p, AioPollTime *t, const AioPollWait *w, GPollFD *fds, guint nfds,
                   int64_t timeout_ns)
{
    int64_t start, window, sleep_ns;
    gint ret;

    if (timeout_ns == 0 || t->max_ns == 0) {
        return w->poll(fds, nfds, timeout_ns);
    }
    start = aio_poll_now();
    window = aio_poll_window(p, t);
    t->ns = window;
    if (timeout_ns > 0) {
        window = MIN(window, timeout_ns);
    }
    ret = window > 0 ? aio_poll_busy(p, w, fds, nfds, start + window) : -1;
    if (ret == 0) {
        aio_poll_adjust(p, t, aio_poll_now() - start);
        return aio_poll_fds_due(p, w, fds, nfds, aio_poll_now());
    }
    if (ret > 0) {
        return ret;
    }
    if (p->polling && aio_poll_stop(p, w)) { /* only the loop's thread changes polling */
        timeout_ns = 0;
    }
    /*
     * The deadline is start + timeout_ns: polling used part of the time already. What is
     * left is read once: MAX() evaluates its arguments twice, and a clock read again could
     * turn a positive remainder negative, which is a sleep without end.
     */
    if (timeout_ns > 0) {
        int64_t left = start + timeout_ns - aio_poll_now();

        sleep_ns = MAX(left, 0);
    } else {
        sleep_ns = timeout_ns;
    }
    ret = w->poll(fds, nfds, sleep_ns);
    p->fd_poll_ns = aio_poll_now();
    if (timeout_ns != 0) {
        /* Whose event ended the sleep: those handlers' times learn from its length. */
        w->lock(w->opaque);
        aio_poll_round(p, false);
        w->unlock(w->opaque);
        aio_poll_adjust(p, t, p->fd_poll_ns - start);
    }
    return ret;
}

/* ---- sleeping to the nanosecond ---- */

struct timespec *aio_poll_timespec(int64_t timeout_ns, struct timespec *ts)
{
    if (timeout_ns < 0) {
        return NULL;
    }
    ts->tv_sec = timeout_ns / 1000000000LL;
    ts->tv_nsec = timeout_ns % 1000000000LL;
    return ts;
}

int64_t aio_poll_ms_to_ns(gint timeout_ms)
{
    return timeout_ms < 0 ? -1 : timeout_ms * 1000000LL;
}

int64_t aio_poll_timeout_ns(gint timeout_ms, int64_t exact_ns)
{
    int64_t glib_ns = aio_poll_ms_to_ns(timeout_ms);

    if (exact_ns < 0) {
        return glib_ns;
    }
    return glib_ns < 0 ? exact_ns : MIN(glib_ns, exact_ns);
}

/* GLib lays GPollFD out as struct pollfd on POSIX systems (its g_poll() is poll()). */
G_STATIC_ASSERT(sizeof(GPollFD) == sizeof(struct pollfd));
G_STATIC_ASSERT(G_STRUCT_OFFSET(GPollFD, fd) == G_STRUCT_OFFSET(struct pollfd, fd));
G_STATIC_ASSERT(G_STRUCT_OFFSET(GPollFD, events) == G_STRUCT_OFFSET(struct pollfd, events));
G_STATIC_ASSERT(G_STRUCT_OFFSET(GPollFD, revents) == G_STRUCT_OFFSET(struct pollfd, revents));

gint aio_poll_ppoll(GPollFD *fds, guint nfds, int64_t timeout_ns)
{
    struct timespec ts;

    return ppoll((struct pollfd *)fds, nfds, aio_poll_timespec(timeout_ns, &ts), NULL);
}
