/*
 * The main loop and its clocks. The main thread owns the default GMainContext and holds the
 * BQL except while it polls (a wrapped poll function drops and retakes it), so every
 * callback dispatched here runs under the BQL. Timers are kept in one list ordered by
 * deadline per clock and fired by a GSource whose timeout is the earliest deadline; the
 * poll function sleeps until that deadline to the nanosecond (ppoll), not to GLib's
 * millisecond, so a throttled request goes at its computed time.
 * Not a thread pool (thread-pool.c) and not the vCPU loop (hw/kvm/).
 */
#include <time.h>
#include <sys/prctl.h>
#include <glib.h>
#include "util/aio-poll.h"
#include "util/main-loop.h"

struct Timer {
    ClockType type;
    TimerCb *cb;
    void *opaque;
    int64_t expire;  /* -1 when not armed */
};

static GMutex bql;
static __thread bool bql_held;
static int bql_waiting; /* threads blocked in bql_lock (atomic) */
static GMainContext *main_ctx;
static GMainLoop *loop;
static int quit_status;
static GList *timers[CLOCK_MAX];   /* armed timers, earliest first */
static int64_t (*virtual_source)(void);
static AioPoll *main_poll;
static AioPollTime main_poll_time;

int64_t clock_get_ns(ClockType type)
{
    struct timespec ts;

    if (type == CLOCK_VIRTUAL && virtual_source) {
        return virtual_source();
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void clock_set_virtual_source(int64_t (*get_ns)(void))
{
    virtual_source = get_ns;
}

bool clock_virtual_is_manual(void)
{
    return virtual_source != NULL;
}

Timer *timer_new(ClockType type, TimerCb *cb, void *opaque)
{
    Timer *t = g_new0(Timer, 1);

    t->type = type;
    t->cb = cb;
    t->opaque = opaque;
    t->expire = -1;
    return t;
}

static gint timer_cmp(gconstpointer a, gconstpointer b)
{
    const Timer *ta = a, *tb = b;

    return ta->expire < tb->expire ? -1 : ta->expire > tb->expire;
}

void timer_del(Timer *t)
{
    if (t->expire >= 0) {
        timers[t->type] = g_list_remove(timers[t->type], t);
        t->expire = -1;
    }
}

void timer_mod(Timer *t, int64_t expire_ns)
{
    timer_del(t);
    t->expire = expire_ns < 0 ? 0 : expire_ns;
    timers[t->type] = g_list_insert_sorted(timers[t->type], t, timer_cmp);
    main_loop_notify();
}

bool timer_pending(const Timer *t)
{
    return t->expire >= 0;
}

void timer_free(Timer *t)
{
    if (t) {
        timer_del(t);
        g_free(t);
    }
}

/* Fire expired timers of one clock; a callback may re-arm or delete any timer. */
static void clock_run_timers(ClockType type)
{
    int64_t now = clock_get_ns(type);

    while (timers[type]) {
        Timer *t = timers[type]->data;
        if (t->expire > now) {
            break;
        }
        timer_del(t);
        t->cb(t->opaque);
    }
}

void clock_run_virtual_timers(void)
{
    clock_run_timers(CLOCK_VIRTUAL);
}

int64_t clock_virtual_deadline(void)
{
    return timers[CLOCK_VIRTUAL] ? ((Timer *)timers[CLOCK_VIRTUAL]->data)->expire : -1;
}

int64_t main_loop_timers_timeout_ns(void)
{
    int64_t timeout = -1;

    for (int type = 0; type < CLOCK_MAX; type++) {
        if (!timers[type] || (type == CLOCK_VIRTUAL && virtual_source)) {
            continue;  /* a foreign virtual clock only moves when told to */
        }
        int64_t delta = ((Timer *)timers[type]->data)->expire - clock_get_ns(type);
        delta = MAX(delta, 0);
        timeout = timeout < 0 ? delta : MIN(timeout, delta);
    }
    return timeout;
}

/* For GLib: milliseconds until the earliest deadline (rounded up, so 0 only once due). */
static gint timers_timeout_ms(void)
{
    int64_t ns = main_loop_timers_timeout_ns();

    return ns < 0 ? -1 : (gint)MIN((ns + 999999) / 1000000, G_MAXINT);
}

static gboolean timer_source_prepare(GSource *src, gint *timeout)
{
    *timeout = timers_timeout_ms();
    return *timeout == 0;
}

static gboolean timer_source_check(GSource *src)
{
    return timers_timeout_ms() == 0;
}

static gboolean timer_source_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    clock_run_timers(CLOCK_HOST);
    if (!virtual_source) {
        clock_run_timers(CLOCK_VIRTUAL);
    }
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_source_funcs = {
    .prepare = timer_source_prepare,
    .check = timer_source_check,
    .dispatch = timer_source_dispatch,
};

/* Taking the BQL back while polling: vCPU threads waiting for it go first (a mutex is not
 * fair, and the polling thread would retake it at once, round after round). */
static void main_loop_bql_lock(void *opaque)
{
    while (g_atomic_int_get(&bql_waiting) > 0) {
        g_thread_yield();
    }
    bql_lock();
}

static void main_loop_bql_unlock(void *opaque)
{
    bql_unlock();
}

/*
 * Poll without the BQL so vCPU threads can dispatch exits meanwhile; as an I/O thread, poll
 * the queues and completion rings registered here for a while first (util/aio-poll.h).
 * GLib's timeout (ms) bounds the sleep for its other sources; the timers' deadline is
 * taken to the ns. A timer armed meanwhile wakes the loop (timer_mod notifies it).
 */
static gint main_loop_poll(GPollFD *fds, guint nfds, gint timeout)
{
    static const AioPollWait w = {aio_poll_ppoll, main_loop_bql_lock, main_loop_bql_unlock};
    int64_t timeout_ns = aio_poll_timeout_ns(timeout, main_loop_timers_timeout_ns());
    gint ret;

    bql_unlock();
    ret = aio_poll_wait(main_poll, &main_poll_time, &w, fds, nfds, timeout_ns);
    main_loop_bql_lock(NULL);
    return ret;
}

void main_loop_init(void)
{
    GSource *src;

    main_ctx = g_main_context_default();
    loop = g_main_loop_new(main_ctx, FALSE);
    main_poll = aio_poll_get(main_ctx);
    aio_poll_time_init(&main_poll_time, AIO_POLL_DEFAULT_MAX_NS, 0, 0);
    /* The kernel's default timer slack (50 us) would make every timed sleep that late. */
    prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
    g_main_context_set_poll_func(main_ctx, main_loop_poll);
    src = g_source_new(&timer_source_funcs, sizeof(GSource));
    g_source_attach(src, main_ctx);
    g_source_unref(src);
    bql_lock();
}

GMainContext *main_loop_context(void)
{
    return main_ctx;
}

int main_loop_run(void)
{
    g_main_loop_run(loop);
    return quit_status;
}

void main_loop_quit(int status)
{
    quit_status = status;
    g_main_loop_quit(loop);
    main_loop_notify();
}

void main_loop_notify(void)
{
    if (main_ctx) {
        g_main_context_wakeup(main_ctx);
    }
}

typedef struct MainLoopCall {
    void (*fn)(void *opaque);
    void *opaque;
    bool outer; /* not inside a nested wait */
} MainLoopCall;

static __thread int nested_waits;
static __thread GQueue deferred_calls; /* outer calls that came up in this thread's waits */

static gboolean main_loop_call_cb(gpointer data)
{
    MainLoopCall *c = data;

    if (c->outer && nested_waits) {
        g_queue_push_tail(&deferred_calls, c);
        return G_SOURCE_REMOVE;
    }
    c->fn(c->opaque);
    g_free(c);
    return G_SOURCE_REMOVE;
}

void main_loop_nested_wait_begin(void)
{
    nested_waits++;
}

void main_loop_nested_wait_end(void)
{
    MainLoopCall *c;

    g_assert(nested_waits > 0);
    if (--nested_waits == 0) {
        while ((c = g_queue_pop_head(&deferred_calls))) {
            context_run_soon(main_ctx, main_loop_call_cb, c);
        }
    }
}

bool main_loop_in_nested_wait(void)
{
    return nested_waits > 0;
}

void context_run_soon(GMainContext *ctx, GSourceFunc fn, void *data)
{
    GSource *src = g_idle_source_new();

    g_source_set_callback(src, fn, data, NULL);
    g_source_attach(src, ctx);
    g_source_unref(src);
}

static void main_loop_post(void (*fn)(void *opaque), void *opaque, bool outer)
{
    MainLoopCall *c = g_new(MainLoopCall, 1);

    c->fn = fn;
    c->opaque = opaque;
    c->outer = outer;
    context_run_soon(main_ctx, main_loop_call_cb, c);
}

void main_loop_call(void (*fn)(void *opaque), void *opaque)
{
    main_loop_post(fn, opaque, false);
}

void main_loop_call_outer(void (*fn)(void *opaque), void *opaque)
{
    main_loop_post(fn, opaque, true);
}

void bql_lock(void)
{
    g_assert(!bql_held);
    g_atomic_int_inc(&bql_waiting);
    g_mutex_lock(&bql);
    g_atomic_int_add(&bql_waiting, -1);
    bql_held = true;
}

void bql_unlock(void)
{
    g_assert(bql_held);
    bql_held = false;
    g_mutex_unlock(&bql);
}

bool bql_locked(void)
{
    return bql_held;
}

static int bql_suspended; /* threads between bql_suspend and bql_resume; under the BQL */
static GCond bql_resumed;

void bql_suspend(void)
{
    bql_suspended++;
    bql_unlock();
}

void bql_resume(void)
{
    bql_lock();
    bql_suspended--;
    g_cond_broadcast(&bql_resumed);
}

void bql_wait_unsuspended(void)
{
    while (bql_suspended > 0) {
        g_cond_wait(&bql_resumed, &bql);
    }
}

GMutex *bql_mutex(void)
{
    return &bql;
}
