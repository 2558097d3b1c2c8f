/*
 * Unit tests for util/thread-pool.c: many jobs complete with their results, callbacks run in
 * the completion context's thread, the thread limit holds, drain waits for chained work, and
 * draining works both from the context's owner and from another thread, a loop that
 * polls finds finished jobs without the eventfd, and the context's owner may run a job
 * itself only while the pool is idle.
 */
#include <stdbool.h>
#include <string.h>
#include <glib.h>
#include "util/aio-poll.h"
#include "util/thread-pool.h"

#define N_JOBS 1000
#define MAX_THREADS 8

typedef struct TestState {
    GThread *main_thread;
    int results[N_JOBS];
    int n_done;
    int running, max_running;
    int wrong_thread;
    GMainLoop *loop;
    ThreadPool *pool;
    int chain_left;
} TestState;

static TestState st;

static int work_double(void *arg)
{
    int i = GPOINTER_TO_INT(arg);
    int now = g_atomic_int_add(&st.running, 1) + 1;
    int max;

    while ((max = g_atomic_int_get(&st.max_running)) < now &&
           !g_atomic_int_compare_and_exchange(&st.max_running, max, now)) {
    }
    if (g_thread_self() == st.main_thread) {
        g_atomic_int_set(&st.wrong_thread, 1);
    }
    if (i % 50 == 0) {
        g_usleep(1000);
    }
    g_atomic_int_add(&st.running, -1);
    return i * 2 + 1;
}

static void done_record(void *opaque, int ret)
{
    int i = GPOINTER_TO_INT(opaque);

    if (g_thread_self() != st.main_thread) {
        g_atomic_int_set(&st.wrong_thread, 1);
    }
    g_assert_cmpint(st.results[i], ==, 0);
    st.results[i] = ret;
    if (++st.n_done == N_JOBS && st.loop) {
        g_main_loop_quit(st.loop);
    }
}

static void state_reset(GThread *owner)
{
    memset(&st, 0, sizeof(st));
    st.main_thread = owner;
}

static void submit_all(ThreadPool *pool)
{
    for (int i = 0; i < N_JOBS; i++) {
        thread_pool_submit(pool, work_double, GINT_TO_POINTER(i), done_record,
                           GINT_TO_POINTER(i));
    }
}

static void check_all_done(void)
{
    g_assert_cmpint(st.n_done, ==, N_JOBS);
    for (int i = 0; i < N_JOBS; i++) {
        g_assert_cmpint(st.results[i], ==, i * 2 + 1);
    }
    g_assert_cmpint(g_atomic_int_get(&st.wrong_thread), ==, 0);
    g_assert_cmpint(st.max_running, >=, 1);
    g_assert_cmpint(st.max_running, <=, MAX_THREADS);
}

static void test_drain_owner(void)
{
    GMainContext *ctx = g_main_context_new();
    ThreadPool *pool = thread_pool_new(ctx, MAX_THREADS);

    state_reset(g_thread_self());
    submit_all(pool);
    thread_pool_drain(pool);
    check_all_done();
    thread_pool_free(pool);
    g_main_context_unref(ctx);
}

static void test_main_loop(void)
{
    GMainContext *ctx = g_main_context_new();
    ThreadPool *pool = thread_pool_new(ctx, MAX_THREADS);

    state_reset(g_thread_self());
    st.loop = g_main_loop_new(ctx, FALSE);
    submit_all(pool);
    g_main_loop_run(st.loop);
    check_all_done();
    g_main_loop_unref(st.loop);
    thread_pool_free(pool);
    g_main_context_unref(ctx);
}

static gpointer loop_thread(gpointer data)
{
    g_main_context_push_thread_default(g_main_loop_get_context(data));
    g_main_loop_run(data);
    g_main_context_pop_thread_default(g_main_loop_get_context(data));
    return NULL;
}

static gboolean loop_running(gpointer data)
{
    g_atomic_int_set((int *)data, 1);
    return G_SOURCE_REMOVE;
}

static void test_drain_foreign(void)
{
    GMainContext *ctx = g_main_context_new();
    GMainLoop *loop = g_main_loop_new(ctx, FALSE);
    ThreadPool *pool = thread_pool_new(ctx, MAX_THREADS);
    int started = 0;
    GThread *thread;

    g_main_context_invoke(ctx, loop_running, &started);
    thread = g_thread_new("loop", loop_thread, loop);
    while (!g_atomic_int_get(&started)) {
        g_usleep(1000);
    }
    state_reset(thread);
    submit_all(pool);
    thread_pool_drain(pool);
    check_all_done();
    g_main_loop_quit(loop);
    g_thread_join(thread);
    thread_pool_free(pool);
    g_main_loop_unref(loop);
    g_main_context_unref(ctx);
}

static int work_ident(void *arg)
{
    return GPOINTER_TO_INT(arg);
}

/* Each completion submits the next job: drain must wait for the whole chain. */
static void done_chain(void *opaque, int ret)
{
    g_assert_cmpint(ret, ==, st.chain_left);
    st.n_done++;
    if (--st.chain_left > 0) {
        thread_pool_submit(st.pool, work_ident, GINT_TO_POINTER(st.chain_left), done_chain,
                           NULL);
    }
}

static void test_chain_and_sync(void)
{
    ThreadPool *pool = thread_pool_new(NULL, 2);

    state_reset(g_thread_self());
    st.pool = pool;
    st.chain_left = 100;
    thread_pool_submit(pool, work_ident, GINT_TO_POINTER(100), done_chain, NULL);
    thread_pool_submit(pool, work_ident, GINT_TO_POINTER(5), NULL, NULL);
    thread_pool_drain(pool);
    g_assert_cmpint(st.n_done, ==, 100);
    g_assert_cmpint(st.chain_left, ==, 0);
    g_assert_cmpint(thread_pool_run_sync(pool, work_ident, GINT_TO_POINTER(-7)), ==, -7);
    thread_pool_free(pool);
}

/* Freeing a pool with work still queued runs every callback first. */
static void test_free_drains(void)
{
    GMainContext *ctx = g_main_context_new();
    ThreadPool *pool = thread_pool_new(ctx, 1);

    state_reset(g_thread_self());
    submit_all(pool);
    thread_pool_free(pool);
    check_all_done();
    g_assert_cmpint(st.max_running, ==, 1);
    g_main_context_unref(ctx);
}

static int work_short(void *arg)
{
    g_usleep(200);
    return GPOINTER_TO_INT(arg);
}

static void done_flag(void *opaque, int ret)
{
    *(int *)opaque = ret;
}

static int sleeps;

/* The wait's sleep (not its look at the descriptors, timeout 0): long enough for a job. */
static gint count_sleep(GPollFD *fds, guint nfds, int64_t timeout_ns)
{
    if (timeout_ns != 0) {
        sleeps++;
        g_usleep(1000);
    }
    return 0;
}

static void no_lock(void *opaque)
{
}

/*
 * A wait that polls (with no descriptors to look at, so not at the eventfd either) ends
 * without sleeping once a job has finished, once its polling time has grown to the jobs'
 * length; the callback then runs from the context.
 */
static void test_polled(void)
{
    GMainContext *ctx = g_main_context_new();
    ThreadPool *pool = thread_pool_new(ctx, 1);
    const AioPollWait w = {count_sleep, no_lock, no_lock, NULL};
    AioPoll *p = aio_poll_get(ctx);
    int caught = 0;
    AioPollTime t;

    aio_poll_time_init(&t, 50 * 1000 * 1000, 0, 0);
    for (int i = 1; i <= 200 && caught < 10; i++) {
        int done = 0;

        thread_pool_submit(pool, work_short, GINT_TO_POINTER(i), done_flag, &done);
        sleeps = 0;
        aio_poll_wait(p, &t, &w, NULL, 0, 100 * 1000 * 1000);
        caught += sleeps == 0;
        while (!done) {
            g_main_context_iteration(ctx, TRUE);
        }
        g_assert_cmpint(done, ==, i);
    }
    g_assert_cmpint(caught, ==, 10);
    thread_pool_free(pool);
    g_main_context_unref(ctx);
}

static int work_where(void *arg)
{
    *(GThread **)arg = g_thread_self();
    return 42;
}

static int work_block(void *arg)
{
    while (!g_atomic_int_get((int *)arg)) {
        g_usleep(1000);
    }
    return 1;
}

static gpointer try_run_here(gpointer pool)
{
    GThread *where = NULL;

    return GINT_TO_POINTER(thread_pool_run_here(pool, work_where, &where, NULL, NULL) ||
                           where);
}

/*
 * The owner of the completion context runs a job itself while the pool is idle, and its
 * callback still comes from the context, not from inside the call; with a job in flight,
 * or from a thread that does not own the context, the call refuses and runs nothing.
 */
static void test_run_here(void)
{
    GMainContext *ctx = g_main_context_new();
    ThreadPool *pool = thread_pool_new(ctx, 2);
    GThread *where = NULL;
    int done = 0, release = 0, blocked = 0;

    g_assert_true(g_main_context_acquire(ctx));
    g_assert_true(thread_pool_run_here(pool, work_where, &where, done_flag, &done));
    g_assert_true(where == g_thread_self());
    g_assert_cmpint(done, ==, 0);
    g_main_context_iteration(ctx, FALSE); /* no wake-up needed: prepare sees it */
    g_assert_cmpint(done, ==, 42);

    thread_pool_submit(pool, work_block, &release, done_flag, &blocked);
    where = NULL;
    g_assert_false(thread_pool_run_here(pool, work_where, &where, done_flag, &done));
    g_assert_null(where);
    g_atomic_int_set(&release, 1);
    while (!blocked) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_main_context_release(ctx);
    g_assert_false(GPOINTER_TO_INT(g_thread_join(g_thread_new("other", try_run_here, pool))));
    thread_pool_free(pool);
    g_main_context_unref(ctx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/thread-pool/drain-owner", test_drain_owner);
    g_test_add_func("/thread-pool/main-loop", test_main_loop);
    g_test_add_func("/thread-pool/drain-foreign", test_drain_foreign);
    g_test_add_func("/thread-pool/chain-and-sync", test_chain_and_sync);
    g_test_add_func("/thread-pool/free-drains", test_free_drains);
    g_test_add_func("/thread-pool/polled", test_polled);
    g_test_add_func("/thread-pool/run-here", test_run_here);
    return g_test_run();
}
