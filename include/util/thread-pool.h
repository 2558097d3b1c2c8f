/*
 * A pool of worker threads for blocking work (preadv, fsync, format metadata). Work runs on
 * a worker; its completion callback runs later in the GMainContext given at creation, so
 * callers never see a callback on a foreign thread. Not an event loop and not an AIO engine:
 * native AIO and io_uring submit from the caller's thread and bypass the pool.
 */
#ifndef UTIL_THREAD_POOL_H
#define UTIL_THREAD_POOL_H

#include <stdbool.h>
#include <glib.h>

typedef struct ThreadPool ThreadPool;

typedef int ThreadPoolWorkFn(void *arg);
typedef void ThreadPoolDoneFn(void *opaque, int ret);

/*
 * completion_ctx NULL means the default context. Threads start on demand, up to
 * max_threads (at least 1), and exit after ~10 s idle.
 */
ThreadPool *thread_pool_new(GMainContext *completion_ctx, unsigned max_threads);
/*
 * From any thread: run work(arg) on a worker, then done(opaque, ret) in the completion
 * context (done may be NULL). Completions arrive in no particular order.
 */
void thread_pool_submit(ThreadPool *pool, ThreadPoolWorkFn *work, void *arg,
                        ThreadPoolDoneFn *done, void *opaque);
/*
 * Run the job in the calling thread instead of on a worker, where a worker would buy no
 * parallelism: the caller owns the completion context and no job of the pool is in flight.
 * done(opaque, ret) still runs later from the context, never inside this call. False, with
 * nothing run, otherwise. For a loop that would only wait for the job (see block/aio.c):
 * handing it over costs a worker's wake-up and the loop's on the way back.
 */
bool thread_pool_run_here(ThreadPool *pool, ThreadPoolWorkFn *work, void *arg,
                          ThreadPoolDoneFn *done, void *opaque);
/* Run work(arg) in the calling thread and return its result. */
int thread_pool_run_sync(ThreadPool *pool, ThreadPoolWorkFn *work, void *arg);
/*
 * Wait until every submitted job has finished and its callback has run. If the calling
 * thread owns (or can acquire) the completion context, it iterates that context meanwhile;
 * otherwise the owner must be running it. Not to be called from a done callback.
 */
void thread_pool_drain(ThreadPool *pool);
/* Drain, stop the workers and free the pool. */
void thread_pool_free(ThreadPool *pool);

#endif
