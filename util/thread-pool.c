/*
 * Worker threads that run blocking jobs and hand results back to one GMainContext. A
 * submission queues its job when a worker that is about to look at the queue will take it
 * (one that just finished a job, or just started), and otherwise hands it to one idle
 * worker and wakes that thread alone. Finished jobs go on a lock-free list;
 * only the worker that finds that list empty writes the context's eventfd, and the context
 * runs every finished job per wakeup. So a burst of requests costs one wakeup per job on
 * the way out and far fewer on the way back; a context's loop that polls also finds them
 * without the eventfd. A context's own thread may also run a job itself while the pool is
 * idle (thread_pool_run_here). Not a scheduler: jobs start in submission order as threads
 * free up, with no priorities.
 */
#include <errno.h>
#include <stdbool.h>
#include <linux/futex.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>
#include "util/aio-poll.h"
#include "util/thread-pool.h"

#define THREAD_POOL_IDLE_US (10 * G_USEC_PER_SEC)

typedef struct ThreadPoolJob {
    ThreadPoolWorkFn *work;
    void *arg;
    ThreadPoolDoneFn *done;
    void *opaque;
    int ret;
    struct ThreadPoolJob *next; /* in the completed list */
} ThreadPoolJob;

enum {
    WORKER_BUSY,    /* running a job, or looking for one */
    WORKER_WAITING, /* in pool->idle, asleep or about to be */
    WORKER_HANDED,  /* taken out of pool->idle by a submitter: job is its next job */
};

/*
 * A worker thread's hand-off slot. The pool owns it until thread_pool_free (a thread that
 * exits leaves it in pool->spare for the next one), so the futex a submitter wakes after
 * dropping the lock is never freed memory.
 */
typedef struct ThreadPoolWorker {
    ThreadPool *pool;
    int state;          /* WORKER_*; the futex word an idle thread sleeps on */
    ThreadPoolJob *job; /* NULL with WORKER_HANDED: exit */
} ThreadPoolWorker;

typedef struct ThreadPoolSource {
    GSource source;
    ThreadPool *pool;
} ThreadPoolSource;

struct ThreadPool {
    GMutex lock;            /* pending, idle, spare, n_threads, stopping, each worker's state */
    GCond idle_cond;        /* in_flight reached 0, or a thread exited */
    unsigned idle_sleepers; /* threads in g_cond_wait on idle_cond */
    GQueue pending;         /* jobs no idle worker could take at submission */
    GQueue idle;            /* ThreadPoolWorkers waiting for a job, most recently idle first */
    GQueue spare;           /* ThreadPoolWorkers whose thread exited */
    unsigned n_threads, max_threads;
    int n_looking; /* workers that will look at pending before they sleep (atomic) */
    bool stopping;
    int in_flight;            /* submitted, callback not yet returned (atomic) */
    ThreadPoolJob *completed; /* finished jobs, newest first (atomic, see below) */
    ThreadPoolJob *ready;     /* taken from completed, callback not yet run, oldest first;
                                 the context's thread only */
    int efd;                  /* written when completed goes from empty to non-empty */
    GMainContext *ctx;
    GSource *source;
    AioPollHandler *poll;
};

/*
 * The completed list is a multi-producer, single-consumer stack. Workers push with a
 * compare-and-swap whose release order publishes the job's ret and next to the consumer;
 * the consumer takes the whole list with one exchange whose acquire order pairs with it.
 * There is no ABA problem: nothing but the consumer removes nodes, and it removes all of
 * them at once. A push that finds the list empty writes the eventfd, and the consumer
 * resets the eventfd before it takes the list, so a job pushed after the take finds the
 * list empty and signals again: no wakeup is lost. A push that finds the list non-empty
 * sits behind one whose signal is already due.
 */
static void thread_pool_push_completed(ThreadPool *pool, ThreadPoolJob *job)
{
    ThreadPoolJob *head = __atomic_load_n(&pool->completed, __ATOMIC_RELAXED);

    do {
        job->next = head;
    } while (!__atomic_compare_exchange_n(&pool->completed, &head, job, true, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
    /* job may be freed from here on; the pool lives until this thread has exited. */
    if (!head && eventfd_write(pool->efd, 1) < 0) {
        g_error("thread pool: writing the eventfd failed: %s", g_strerror(errno));
    }
}

/* ---- Completion side (the context's thread) ---- */

/* Append jobs (a list, oldest first) to pool->ready; the context's thread only. */
static void thread_pool_append_ready(ThreadPool *pool, ThreadPoolJob *jobs)
{
    ThreadPoolJob **tail = &pool->ready;

    while (*tail) {
        tail = &(*tail)->next;
    }
    *tail = jobs;
}

/* Append the finished jobs, oldest first, to pool->ready. */
static void thread_pool_take_completed(ThreadPool *pool)
{
    ThreadPoolJob *job, *next, *oldest_first = NULL;
    eventfd_t count;

    if (eventfd_read(pool->efd, &count) < 0 && errno != EAGAIN) {
        g_error("thread pool: reading the eventfd failed: %s", g_strerror(errno));
    }
    for (job = __atomic_exchange_n(&pool->completed, NULL, __ATOMIC_ACQUIRE); job; job = next) {
        next = job->next;
        job->next = oldest_first;
        oldest_first = job;
    }
    thread_pool_append_ready(pool, oldest_first);
}

static void thread_pool_job_done(ThreadPool *pool, ThreadPoolJob *job)
{
    if (job->done) {
        job->done(job->opaque, job->ret);
    }
    g_free(job);
    /* A sleeper counts itself under the lock in which it saw in_flight > 0: no system call
     * on the common way, where nobody waits. */
    if (g_atomic_int_dec_and_test(&pool->in_flight)) {
        g_mutex_lock(&pool->lock);
        if (pool->idle_sleepers) {
            g_cond_broadcast(&pool->idle_cond);
        }
        g_mutex_unlock(&pool->lock);
    }
}

/*
 * Jobs taken but not yet run wait in pool->ready, not in a local list: a callback that
 * iterates the context (a nested drain) runs them from a recursive dispatch, which
 * prepare asks for although the eventfd is already reset, instead of waiting forever.
 */
static gboolean thread_pool_prepare(GSource *source, gint *timeout)
{
    ThreadPool *pool = ((ThreadPoolSource *)source)->pool;

    *timeout = -1;
    return pool->ready != NULL;
}

static gboolean thread_pool_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    ThreadPool *pool = ((ThreadPoolSource *)source)->pool;
    ThreadPoolJob *job;

    thread_pool_take_completed(pool);
    while ((job = pool->ready)) {
        pool->ready = job->next;
        thread_pool_job_done(pool, job);
    }
    return G_SOURCE_CONTINUE;
}

/*
 * A loop that polls (an I/O thread's, util/aio-poll.c) also looks at the completed list, so
 * that a job ending while it polls is run at once rather than after the loop's next look at
 * its descriptors (up to AIO_POLL_FD_INTERVAL_NS later). The eventfd is still written: it
 * wakes a loop that sleeps.
 */
static bool thread_pool_poll_ready(void *opaque)
{
    return __atomic_load_n(&((ThreadPool *)opaque)->completed, __ATOMIC_RELAXED) != NULL;
}

static void thread_pool_poll_run(void *opaque)
{
    ThreadPool *pool = opaque;

    thread_pool_dispatch(pool->source, NULL, NULL);
}

static const AioPollOps thread_pool_poll_ops = {
    .ready = thread_pool_poll_ready,
    .run = thread_pool_poll_run,
};

static GSourceFuncs thread_pool_source_funcs = {
    .prepare = thread_pool_prepare,
    .dispatch = thread_pool_dispatch,
};

/* ---- Worker side ---- */

/*
 * Sleep until a submitter hands w a job or the deadline passes. The futex only sleeps
 * while state is still WORKER_WAITING, so a hand-off between the check and the sleep is
 * not lost. The acquire load pairs with the release store in thread_pool_hand_off: a
 * thread that sees WORKER_HANDED sees w->job.
 */
static void thread_pool_worker_sleep(ThreadPoolWorker *w, gint64 deadline)
{
    gint64 left;
    struct timespec ts;

    while (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == WORKER_WAITING) {
        left = deadline - g_get_monotonic_time();
        if (left <= 0) {
            return;
        }
        ts.tv_sec = left / G_USEC_PER_SEC;
        ts.tv_nsec = left % G_USEC_PER_SEC * 1000;
        syscall(SYS_futex, &w->state, FUTEX_WAIT_PRIVATE, WORKER_WAITING, &ts, NULL, 0);
    }
}

/*
 * The next job: a queued one, else one handed over while idle. NULL when the thread
 * should exit (pool stopping, or idle too long); it then leaves w in pool->spare.
 */
static ThreadPoolJob *thread_pool_next_job(ThreadPool *pool, ThreadPoolWorker *w)
{
    ThreadPoolJob *job;

    g_mutex_lock(&pool->lock);
    job = g_queue_pop_head(&pool->pending);
    g_atomic_int_add(&pool->n_looking, -1);
    if (job || pool->stopping) {
        goto out;
    }
    __atomic_store_n(&w->state, WORKER_WAITING, __ATOMIC_RELAXED);
    g_queue_push_head(&pool->idle, w);
    g_mutex_unlock(&pool->lock);

    thread_pool_worker_sleep(w, g_get_monotonic_time() + THREAD_POOL_IDLE_US);
    if (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == WORKER_HANDED) {
        __atomic_store_n(&w->state, WORKER_BUSY, __ATOMIC_RELAXED);
        if (w->job) {
            return w->job; /* the common case: no lock on the way to work */
        }
        g_mutex_lock(&pool->lock);
        goto out;
    }
    /* Timed out; hand-offs happen under the lock, so w's state is settled once we hold it. */
    g_mutex_lock(&pool->lock);
    if (__atomic_load_n(&w->state, __ATOMIC_RELAXED) == WORKER_HANDED) {
        __atomic_store_n(&w->state, WORKER_BUSY, __ATOMIC_RELAXED);
        job = w->job;
    } else {
        g_queue_remove(&pool->idle, w);
    }
out:
    if (!job) {
        pool->n_threads--;
        g_queue_push_tail(&pool->spare, w);
        g_cond_broadcast(&pool->idle_cond);
    }
    g_mutex_unlock(&pool->lock);
    return job;
}

static gpointer thread_pool_worker(gpointer data)
{
    ThreadPoolWorker *w = data;
    ThreadPool *pool = w->pool;
    ThreadPoolJob *job;

    while ((job = thread_pool_next_job(pool, w))) {
        job->ret = job->work(job->arg);
        /* Counted before the completion is visible: the submission it leads to may queue. */
        g_atomic_int_inc(&pool->n_looking);
        thread_pool_push_completed(pool, job);
    }
    return NULL;
}

/* With the lock held: take the most recently idle worker and give it job (NULL: exit). */
static ThreadPoolWorker *thread_pool_hand_off(ThreadPool *pool, ThreadPoolJob *job)
{
    ThreadPoolWorker *w = g_queue_pop_head(&pool->idle);

    if (w) {
        w->job = job;
        __atomic_store_n(&w->state, WORKER_HANDED, __ATOMIC_RELEASE);
    }
    return w;
}

/* Outside the lock, so the woken thread does not run into it. */
static void thread_pool_wake(ThreadPoolWorker *w)
{
    syscall(SYS_futex, &w->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* With the lock held. */
static void thread_pool_spawn(ThreadPool *pool)
{
    ThreadPoolWorker *w = g_queue_pop_head(&pool->spare);

    if (!w) {
        w = g_new(ThreadPoolWorker, 1);
    }
    *w = (ThreadPoolWorker){.pool = pool, .state = WORKER_BUSY};
    pool->n_threads++;
    g_atomic_int_inc(&pool->n_looking);
    g_thread_unref(g_thread_new("pool-worker", thread_pool_worker, w));
}

/* ---- API ---- */

ThreadPool *thread_pool_new(GMainContext *completion_ctx, unsigned max_threads)
{
    ThreadPool *pool = g_new0(ThreadPool, 1);

    pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pool->efd < 0) {
        g_error("thread pool: creating an eventfd failed: %s", g_strerror(errno));
    }
    g_mutex_init(&pool->lock);
    g_cond_init(&pool->idle_cond);
    g_queue_init(&pool->pending);
    g_queue_init(&pool->idle);
    g_queue_init(&pool->spare);
    pool->max_threads = MAX(max_threads, 1);
    pool->ctx = g_main_context_ref(completion_ctx ? completion_ctx : g_main_context_default());
    pool->source = g_source_new(&thread_pool_source_funcs, sizeof(ThreadPoolSource));
    ((ThreadPoolSource *)pool->source)->pool = pool;
    g_source_set_name(pool->source, "thread-pool");
    g_source_set_can_recurse(pool->source, TRUE);
    g_source_add_unix_fd(pool->source, pool->efd, G_IO_IN);
    g_source_attach(pool->source, pool->ctx);
    pool->poll = aio_poll_add(pool->ctx, &thread_pool_poll_ops, pool);
    return pool;
}

void thread_pool_submit(ThreadPool *pool, ThreadPoolWorkFn *work, void *arg, ThreadPoolDoneFn *done,
                        void *opaque)
{
    ThreadPoolJob *job = g_new(ThreadPoolJob, 1);
    ThreadPoolWorker *w = NULL;
    guint looking;

    *job = (ThreadPoolJob){.work = work, .arg = arg, .done = done, .opaque = opaque};
    g_atomic_int_inc(&pool->in_flight);
    g_mutex_lock(&pool->lock);
    g_assert(!pool->stopping);
    /*
     * n_looking drops in the critical section in which its worker looks at pending, so
     * each worker still counted will take a queued job: while they outnumber the queue,
     * nobody needs waking. (The count may grow meanwhile, never shrink: it is a safe bound.)
     */
    looking = g_atomic_int_get(&pool->n_looking);
    if (pool->pending.length >= looking) {
        w = thread_pool_hand_off(pool, job);
    }
    if (!w) {
        g_queue_push_tail(&pool->pending, job);
        if (pool->pending.length > looking && pool->n_threads < pool->max_threads) {
            thread_pool_spawn(pool);
        }
    }
    g_mutex_unlock(&pool->lock);
    if (w) {
        thread_pool_wake(w);
    }
}

/*
 * The finished job goes straight on pool->ready (the context's thread is the caller), so
 * neither the eventfd nor the completed list is touched; prepare sees it and the context
 * dispatches it at its next iteration.
 */
bool thread_pool_run_here(ThreadPool *pool, ThreadPoolWorkFn *work, void *arg,
                          ThreadPoolDoneFn *done, void *opaque)
{
    ThreadPoolJob *job;

    if (!g_main_context_is_owner(pool->ctx) ||
        !g_atomic_int_compare_and_exchange(&pool->in_flight, 0, 1)) {
        return false;
    }
    job = g_new(ThreadPoolJob, 1);
    *job = (ThreadPoolJob){.work = work, .arg = arg, .done = done, .opaque = opaque};
    job->ret = work(arg);
    thread_pool_append_ready(pool, job);
    return true;
}

int thread_pool_run_sync(ThreadPool *pool, ThreadPoolWorkFn *work, void *arg)
{
    return work(arg);
}

/* With the lock held: sleep until idle_cond is signalled. */
static void thread_pool_idle_wait(ThreadPool *pool)
{
    pool->idle_sleepers++;
    g_cond_wait(&pool->idle_cond, &pool->lock);
    pool->idle_sleepers--;
}

void thread_pool_drain(ThreadPool *pool)
{
    if (g_main_context_acquire(pool->ctx)) {
        while (g_atomic_int_get(&pool->in_flight)) {
            g_main_context_iteration(pool->ctx, TRUE);
        }
        g_main_context_release(pool->ctx);
        return;
    }
    g_mutex_lock(&pool->lock);
    while (g_atomic_int_get(&pool->in_flight)) {
        thread_pool_idle_wait(pool);
    }
    g_mutex_unlock(&pool->lock);
}

void thread_pool_free(ThreadPool *pool)
{
    ThreadPoolWorker *w;

    if (!pool) {
        return;
    }
    thread_pool_drain(pool);
    g_mutex_lock(&pool->lock);
    pool->stopping = true;
    while ((w = thread_pool_hand_off(pool, NULL))) {
        thread_pool_wake(w);
    }
    while (pool->n_threads) {
        thread_pool_idle_wait(pool);
    }
    g_mutex_unlock(&pool->lock);
    while ((w = g_queue_pop_head(&pool->spare))) {
        g_free(w);
    }
    aio_poll_remove(pool->poll);
    g_source_destroy(pool->source);
    g_source_unref(pool->source);
    g_main_context_unref(pool->ctx);
    close(pool->efd);
    g_cond_clear(&pool->idle_cond);
    g_mutex_clear(&pool->lock);
    g_free(pool);
}
