/*
 * Worker threads that run blocking jobs and hand results back to one GMainContext. One mutex
 * guards both queues and the counters; workers wake the context through a GSource whose
 * ready time they set, which GLib makes thread-safe, so no completion can be missed. Not a
 * scheduler: jobs run in submission order as threads free up, with no priorities.
 */
#include <stdbool.h>
#include <glib.h>
#include "util/thread-pool.h"

#define THREAD_POOL_IDLE_US (10 * G_USEC_PER_SEC)

typedef struct ThreadPoolJob {
    ThreadPoolWorkFn *work;
    void *arg;
    ThreadPoolDoneFn *done;
    void *opaque;
    int ret;
} ThreadPoolJob;

typedef struct ThreadPoolSource {
    GSource source;
    ThreadPool *pool;
} ThreadPoolSource;

struct ThreadPool {
    GMutex lock;
    GCond work_cond;   /* a job was queued, or the pool is stopping */
    GCond idle_cond;   /* in_flight reached 0, or a thread exited */
    GQueue pending;    /* jobs not yet started */
    GQueue completed;  /* jobs whose callback has not yet run */
    unsigned in_flight; /* submitted, callback not yet returned */
    unsigned n_threads, n_idle, max_threads;
    bool stopping;
    GMainContext *ctx;
    GSource *source;
};

/* ---- Completion side (the context's thread) ---- */

static gboolean thread_pool_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    ThreadPool *pool = ((ThreadPoolSource *)source)->pool;
    ThreadPoolJob *job;

    /* Re-arm before emptying the queue, so a job completed meanwhile re-triggers us. */
    g_source_set_ready_time(source, -1);
    for (;;) {
        g_mutex_lock(&pool->lock);
        job = g_queue_pop_head(&pool->completed);
        g_mutex_unlock(&pool->lock);
        if (!job) {
            return G_SOURCE_CONTINUE;
        }
        if (job->done) {
            job->done(job->opaque, job->ret);
        }
        g_free(job);
        g_mutex_lock(&pool->lock);
        if (--pool->in_flight == 0) {
            g_cond_broadcast(&pool->idle_cond);
        }
        g_mutex_unlock(&pool->lock);
    }
}

static GSourceFuncs thread_pool_source_funcs = {
    .dispatch = thread_pool_dispatch,
};

/* ---- Worker side ---- */

/* Called with the lock held; false when the thread should exit. */
static bool thread_pool_wait_for_work(ThreadPool *pool)
{
    gint64 deadline = g_get_monotonic_time() + THREAD_POOL_IDLE_US;
    bool woken;

    while (g_queue_is_empty(&pool->pending)) {
        if (pool->stopping) {
            return false;
        }
        pool->n_idle++;
        woken = g_cond_wait_until(&pool->work_cond, &pool->lock, deadline);
        pool->n_idle--;
        if (!woken && g_queue_is_empty(&pool->pending)) {
            return false;
        }
    }
    return true;
}

static gpointer thread_pool_worker(gpointer data)
{
    ThreadPool *pool = data;
    ThreadPoolJob *job;

    g_mutex_lock(&pool->lock);
    while (thread_pool_wait_for_work(pool)) {
        job = g_queue_pop_head(&pool->pending);
        g_mutex_unlock(&pool->lock);
        job->ret = job->work(job->arg);
        g_mutex_lock(&pool->lock);
        g_queue_push_tail(&pool->completed, job);
        g_source_set_ready_time(pool->source, 0);
    }
    pool->n_threads--;
    g_cond_broadcast(&pool->idle_cond);
    g_mutex_unlock(&pool->lock);
    return NULL;
}

/* ---- API ---- */

ThreadPool *thread_pool_new(GMainContext *completion_ctx, unsigned max_threads)
{
    ThreadPool *pool = g_new0(ThreadPool, 1);

    g_mutex_init(&pool->lock);
    g_cond_init(&pool->work_cond);
    g_cond_init(&pool->idle_cond);
    g_queue_init(&pool->pending);
    g_queue_init(&pool->completed);
    pool->max_threads = MAX(max_threads, 1);
    pool->ctx = g_main_context_ref(completion_ctx ? completion_ctx
                                                  : g_main_context_default());
    pool->source = g_source_new(&thread_pool_source_funcs, sizeof(ThreadPoolSource));
    ((ThreadPoolSource *)pool->source)->pool = pool;
    g_source_set_name(pool->source, "thread-pool");
    g_source_attach(pool->source, pool->ctx);
    return pool;
}

void thread_pool_submit(ThreadPool *pool, ThreadPoolWorkFn *work, void *arg,
                        ThreadPoolDoneFn *done, void *opaque)
{
    ThreadPoolJob *job = g_new0(ThreadPoolJob, 1);

    job->work = work;
    job->arg = arg;
    job->done = done;
    job->opaque = opaque;
    g_mutex_lock(&pool->lock);
    g_assert(!pool->stopping);
    g_queue_push_tail(&pool->pending, job);
    pool->in_flight++;
    if (pool->pending.length > pool->n_idle && pool->n_threads < pool->max_threads) {
        pool->n_threads++;
        g_thread_unref(g_thread_new("pool-worker", thread_pool_worker, pool));
    }
    g_cond_signal(&pool->work_cond);
    g_mutex_unlock(&pool->lock);
}

int thread_pool_run_sync(ThreadPool *pool, ThreadPoolWorkFn *work, void *arg)
{
    return work(arg);
}

static unsigned thread_pool_in_flight(ThreadPool *pool)
{
    unsigned n;

    g_mutex_lock(&pool->lock);
    n = pool->in_flight;
    g_mutex_unlock(&pool->lock);
    return n;
}

void thread_pool_drain(ThreadPool *pool)
{
    if (g_main_context_acquire(pool->ctx)) {
        while (thread_pool_in_flight(pool)) {
            g_main_context_iteration(pool->ctx, TRUE);
        }
        g_main_context_release(pool->ctx);
        return;
    }
    g_mutex_lock(&pool->lock);
    while (pool->in_flight) {
        g_cond_wait(&pool->idle_cond, &pool->lock);
    }
    g_mutex_unlock(&pool->lock);
}

void thread_pool_free(ThreadPool *pool)
{
    if (!pool) {
        return;
    }
    thread_pool_drain(pool);
    g_mutex_lock(&pool->lock);
    pool->stopping = true;
    g_cond_broadcast(&pool->work_cond);
    while (pool->n_threads) {
        g_cond_wait(&pool->idle_cond, &pool->lock);
    }
    g_mutex_unlock(&pool->lock);
    g_source_destroy(pool->source);
    g_source_unref(pool->source);
    g_main_context_unref(pool->ctx);
    g_cond_clear(&pool->work_cond);
    g_cond_clear(&pool->idle_cond);
    g_mutex_clear(&pool->lock);
    g_free(pool);
}
