/*
 * Blocking waits for the block layer (drain, drained sections, overlapping writes) that do
 * not stop the waiting thread's event loop: a thread whose context it is (one it pushed as
 * thread default, or the global default for the main thread) keeps dispatching it, so
 * completions it owns still run; other threads (workers, jobs) sleep on a condition
 * variable. A kick both broadcasts the condition and wakes every dispatching waiter with an
 * idle source, so no wake-up is lost between a check and a sleep; with nobody waiting, as
 * on almost every request completion, it costs no system call. Gates (drained sections,
 * a backend's root changes) are built on these waits.
 */
#include <unistd.h>
#include <glib.h>
#include "block/block-internal.h"
#include "util/main-loop.h"

static __thread int sleep_only; /* wait_point_sleep_only() depth */

void wait_point_sleep_only(bool on)
{
    sleep_only += on ? 1 : -1;
}

/*
 * Is ctx (this thread's default) this thread's to dispatch? Workers must not run the main
 * loop's sources just because the main thread is not dispatching at this moment, and a
 * loop's thread running a worker's job must not run its own (the job sits inside one of
 * their callbacks, which need not expect to be entered again).
 */
static bool may_dispatch(GMainContext *ctx)
{
    if (sleep_only) {
        return false;
    }
    return g_main_context_is_owner(ctx) || g_main_context_get_thread_default() ||
           gettid() == getpid();
}

static gboolean wait_point_wake_cb(gpointer opaque)
{
    return G_SOURCE_REMOVE;
}

/*
 * Threads asleep on any wait point's condition (atomic). A sleeper counts itself with the
 * wait point's lock held, in the same critical section in which it found the predicate
 * busy, and the lock stays held until g_cond_wait has registered it; a kicker reads the
 * count with that lock held after changing the state. So a kicker either runs before the
 * sleeper's check (which then sees the new state) or sees the count and broadcasts. One
 * count for all wait points only costs a needless broadcast when another one has sleepers.
 */
static int cond_sleepers;

void wait_point_kick_locked(const WaitPoint *wp)
{
    if (g_atomic_int_get(&cond_sleepers) > 0) {
        g_cond_broadcast(wp->cond);
    }
    for (GSList *l = *wp->waiters; l; l = l->next) {
        context_run_soon(l->data, wait_point_wake_cb, NULL);
    }
}

/*
 * Sleep on the condition. A thread holding the BQL (a vCPU whose device model reads its
 * drive synchronously) sleeps without it: what it waits for may be a drained section the
 * main thread ends only after its loop's poll, which drops the BQL, has taken it back.
 * True if the BQL was dropped (bql_suspend: no device is deleted until the thread is out of
 * its handler); the caller takes it back (bql_resume) without the wait point's lock.
 */
static bool wait_point_sleep(const WaitPoint *wp)
{
    bool bql = bql_locked();

    if (bql) {
        bql_suspend();
    }
    g_atomic_int_inc(&cond_sleepers);
    g_cond_wait(wp->cond, wp->lock);
    g_atomic_int_add(&cond_sleepers, -1);
    return bql;
}

void wait_point_wait_locked(const WaitPoint *wp, WaitBusyFn *busy, void *opaque)
{
    GMainContext *ctx;
    bool own, bql = false;

    if (!busy(opaque)) {
        return;
    }
    g_mutex_unlock(wp->lock);
    ctx = g_main_context_ref_thread_default();
    own = may_dispatch(ctx) && g_main_context_acquire(ctx);
    g_mutex_lock(wp->lock);
    while (busy(opaque) || bql) {
        if (!busy(opaque)) { /* BQL before the wait point's lock, then look again */
            g_mutex_unlock(wp->lock);
            bql_resume();
            bql = false;
            g_mutex_lock(wp->lock);
            continue;
        }
        if (!own) {
            bql |= wait_point_sleep(wp);
            continue;
        }
        *wp->waiters = g_slist_prepend(*wp->waiters, ctx);
        g_mutex_unlock(wp->lock);
        main_loop_nested_wait_begin();
        g_main_context_iteration(ctx, TRUE);
        main_loop_nested_wait_end();
        g_mutex_lock(wp->lock);
        *wp->waiters = g_slist_remove(*wp->waiters, ctx);
    }
    if (own) {
        g_main_context_release(ctx);
    }
    g_main_context_unref(ctx);
}

static bool counter_busy(void *counter)
{
    return g_atomic_int_get((int *)counter) > 0;
}

void wait_point_wait_zero(const WaitPoint *wp, int *counter)
{
    g_mutex_lock(wp->lock);
    wait_point_wait_locked(wp, counter_busy, counter);
    g_mutex_unlock(wp->lock);
}

/* ---- gates ---- */

/* With the wait point's lock held: is g closed by a thread other than this one? */
static bool gate_closed_by_other(void *opaque)
{
    Gate *g = opaque;

    return g->closed > 0 && g->closer != g_thread_self();
}

void gate_leave(Gate *g, const WaitPoint *wp)
{
    /* pairs with the increment of g->closed in gate_close, before its wait for zero */
    if (g_atomic_int_dec_and_test(&g->passing) && g_atomic_int_get(&g->closed) > 0) {
        g_mutex_lock(wp->lock);
        wait_point_kick_locked(wp);
        g_mutex_unlock(wp->lock);
    }
}

bool gate_enter(Gate *g, const WaitPoint *wp, void *hold)
{
    g_atomic_int_inc(&g->passing);
    if (g_atomic_int_get(&g->closed) == 0) {
        return true;
    }
    gate_leave(g, wp);
    g_mutex_lock(wp->lock);
    if (hold && gate_closed_by_other(g)) {
        g_queue_push_tail(&g->held, hold);
        g_mutex_unlock(wp->lock);
        return false;
    }
    wait_point_wait_locked(wp, gate_closed_by_other, g);
    g_atomic_int_inc(&g->passing);
    g_mutex_unlock(wp->lock);
    return true;
}

void gate_close(Gate *g, const WaitPoint *wp)
{
    g_mutex_lock(wp->lock);
    wait_point_wait_locked(wp, gate_closed_by_other, g);
    g->closer = g_thread_self();
    g_atomic_int_inc(&g->closed);
    g_mutex_unlock(wp->lock);
    wait_point_wait_zero(wp, &g->passing);
}

GQueue gate_open(Gate *g, const WaitPoint *wp)
{
    GQueue held = G_QUEUE_INIT;

    g_mutex_lock(wp->lock);
    g_assert(g->closed > 0);
    if (g_atomic_int_dec_and_test(&g->closed)) {
        g->closer = NULL;
        held = g->held;
        g_queue_init(&g->held);
        wait_point_kick_locked(wp);
    }
    g_mutex_unlock(wp->lock);
    return held;
}
