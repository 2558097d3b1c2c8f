/*
 * Unit tests for asynchronous node requests and drained sections (block/aio.c, drain.c,
 * wait.c, and io-align.c under concurrency), on the memory-backed test drivers: completion
 * in the submitting thread's GMainContext (worker pool and a driver's own aio_submit),
 * never inside the submitting call; errors; drain waiting for requests in flight; requests
 * from other threads held during a drained section; concurrent read-modify-writes into one
 * block losing nothing.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block-test-drivers.h"
#include "util/iothread.h"

typedef struct AioResult {
    int ret;
    int done;
    GThread *thread;
} AioResult;

static void aio_done(void *opaque, int ret)
{
    AioResult *r = opaque;

    r->ret = ret;
    r->thread = g_thread_self();
    g_atomic_int_set(&r->done, true);
}

static void run_until_done(GMainContext *ctx, AioResult *r)
{
    while (!g_atomic_int_get(&r->done)) {
        g_main_context_iteration(ctx, TRUE);
    }
}

static BlockDriverState *open_mem(const char *json)
{
    return bdrv_open(NULL, test_opts(json), BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
}

/* Write then read back through the asynchronous API from the thread's default context. */
static void aio_roundtrip(BlockDriverState *bs, GMainContext *ctx)
{
    uint8_t w[4096], r[4096] = {0};
    AioResult res = {0};
    IOVector qiov;

    memset(w, 0xa5, sizeof(w));
    iov_init_buf(&qiov, w, sizeof(w));
    bdrv_aio_pwritev(bs, 8192, &qiov, 0, aio_done, &res);
    g_assert_false(res.done); /* never completes inside the submission */
    run_until_done(ctx, &res);
    g_assert_cmpint(res.ret, ==, 0);
    g_assert_true(res.thread == g_thread_self());
    iov_destroy(&qiov);

    res = (AioResult){0};
    iov_init_buf(&qiov, r, sizeof(r));
    bdrv_aio_preadv(bs, 8192, &qiov, 0, aio_done, &res);
    run_until_done(ctx, &res);
    g_assert_cmpint(res.ret, ==, 0);
    g_assert_cmpmem(w, sizeof(w), r, sizeof(r));
    iov_destroy(&qiov);
}

static void test_aio_default_context(void)
{
    BlockDriverState *bs = open_mem("{\"driver\":\"testmem\"}");

    aio_roundtrip(bs, g_main_context_default());
    bdrv_unref(bs);
}

static gpointer aio_thread(gpointer opaque)
{
    GMainContext *ctx = g_main_context_new();

    g_main_context_push_thread_default(ctx);
    aio_roundtrip(opaque, ctx);
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
    return NULL;
}

/* An I/O thread with its own context gets its completions there. */
static void test_aio_thread_context(void)
{
    BlockDriverState *bs = open_mem("{\"driver\":\"testmem\"}");

    g_thread_join(g_thread_new("iothread", aio_thread, bs));
    bdrv_unref(bs);

    bs = open_mem("{\"driver\":\"testaio\"}");
    g_thread_join(g_thread_new("iothread", aio_thread, bs));
    g_assert_cmpint(test_mem_state(bs)->n_aio, ==, 2);
    aio_roundtrip(bs, g_main_context_default());
    g_assert_cmpint(test_mem_state(bs)->n_aio, ==, 4);
    bdrv_unref(bs);
}

static void aio_done_not_nested(void *opaque, int ret)
{
    g_assert_false(bdrv_nesting()); /* device callbacks are not driver work */
    aio_done(opaque, ret);
}

/* A format forwarding asynchronously to its child, as raw over file does. */
static void test_aio_forwarding_format(void)
{
    BlockDriverState *bs;
    uint8_t buf[512] = {9};
    AioResult res = {0};
    IOVector qiov;

    memcpy(test_image_get("fwd", 65536)->data, TESTFMT_MAGIC, 8);
    bs = bdrv_open("testaio:fwd", NULL, BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "testfmt");
    iov_init_buf(&qiov, buf, sizeof(buf));
    bdrv_aio_pwritev(bs, 512, &qiov, 0, aio_done_not_nested, &res);
    run_until_done(g_main_context_default(), &res);
    g_assert_cmpint(res.ret, ==, 0);
    g_assert_cmpint(test_mem_state(bdrv_file_child(bs))->n_aio, ==, 1);
    g_assert_cmpint(test_image_get("fwd", 0)->data[TESTFMT_HEADER + 512], ==, 9);
    g_assert_cmpint(bs->gate.passing + bdrv_file_child(bs)->gate.passing, ==, 0);
    iov_destroy(&qiov);
    bdrv_unref(bs);
}

/* aio_submit only sees what it can take as is; the rest runs in the worker pool. */
static void test_aio_submit_filter(void)
{
    BlockDriverState *bs = open_mem("{\"driver\":\"testaio\",\"align\":512}");
    TestMemState *s = test_mem_state(bs);
    uint8_t buf[1024] = {0};
    AioResult res = {0};
    IOVector qiov;

    iov_init_buf(&qiov, buf + 1, 100);
    bdrv_aio_pwritev(bs, 3, &qiov, 0, aio_done, &res); /* unaligned: RMW */
    run_until_done(g_main_context_default(), &res);
    g_assert_cmpint(res.ret, ==, 0);
    g_assert_cmpint(s->n_aio, ==, 0);
    res = (AioResult){0};
    bdrv_aio_flush(bs, aio_done, &res);
    run_until_done(g_main_context_default(), &res);
    g_assert_cmpint(s->n_flush, ==, 1);
    g_assert_cmpint(s->n_aio, ==, 0);
    bdrv_set_detect_zeroes(bs, BLOCKDEV_DETECT_ZEROES_OPTIONS_ON);
    iov_destroy(&qiov);
    iov_init_buf(&qiov, buf, 512);
    res = (AioResult){0};
    bdrv_aio_pwritev(bs, 512, &qiov, 0, aio_done, &res); /* zero detection */
    run_until_done(g_main_context_default(), &res);
    g_assert_cmpint(s->n_aio, ==, 0);
    g_assert_cmpint(s->n_zeroes, ==, 1);
    iov_destroy(&qiov);
    bdrv_unref(bs);
}

static void test_aio_errors(void)
{
    BlockDriverState *bs =
        bdrv_open(NULL, test_opts("{\"driver\":\"testmem\",\"size\":4096}"), 0, &error_abort);
    uint8_t buf[512];
    AioResult res = {0};
    IOVector qiov;

    iov_init_buf(&qiov, buf, sizeof(buf));
    bdrv_aio_pwritev(bs, 0, &qiov, 0, aio_done, &res);
    g_assert_false(res.done);
    run_until_done(g_main_context_default(), &res);
    g_assert_cmpint(res.ret, ==, -EACCES);
    res = (AioResult){0};
    bdrv_aio_preadv(bs, 4000, &qiov, 0, aio_done, &res);
    run_until_done(g_main_context_default(), &res);
    g_assert_cmpint(res.ret, ==, -EIO);
    res = (AioResult){0};
    bdrv_aio_pdiscard(bs, 0, 512, aio_done, &res);
    run_until_done(g_main_context_default(), &res);
    g_assert_cmpint(res.ret, ==, -EPERM);
    iov_destroy(&qiov);
    bdrv_unref(bs);
}

/* The guard against format headers on probed raw images holds for async writes too. */
static void test_aio_probed_raw(void)
{
    BlockDriverState *bs;
    uint8_t buf[512] = TESTFMT_MAGIC;
    AioResult res = {0};
    IOVector qiov;

    test_image_get("aio-guard", 65536);
    bs = bdrv_open("testaio:aio-guard", NULL, BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "raw");
    iov_init_buf(&qiov, buf, sizeof(buf));
    bdrv_aio_pwritev(bs, 0, &qiov, 0, aio_done, &res);
    run_until_done(g_main_context_default(), &res);
    g_assert_cmpint(res.ret, ==, -EPERM);
    res = (AioResult){0};
    bdrv_aio_pwritev(bs, 512, &qiov, 0, aio_done, &res);
    run_until_done(g_main_context_default(), &res);
    g_assert_cmpint(res.ret, ==, 0);
    iov_destroy(&qiov);
    bdrv_unref(bs);
}

/* Drain returns only when every request in flight has completed, callbacks included. */
static void test_drain_waits(void)
{
    BlockDriverState *bs = open_mem("{\"driver\":\"testmem\",\"delay-ms\":20}");
    BlockDriverState *aio = open_mem("{\"driver\":\"testaio\",\"delay-ms\":20}");
    uint8_t buf[8][512];
    AioResult res[8] = {0};
    IOVector qiov[8];

    for (int i = 0; i < 8; i++) {
        iov_init_buf(&qiov[i], buf[i], sizeof(buf[i]));
        bdrv_aio_pwritev(i % 2 ? bs : aio, i * 512, &qiov[i], 0, aio_done, &res[i]);
    }
    bdrv_drained_begin(bs);
    bdrv_drained_begin(aio);
    for (int i = 0; i < 8; i++) {
        g_assert_true(res[i].done);
        g_assert_cmpint(res[i].ret, ==, 0);
        iov_destroy(&qiov[i]);
    }
    g_assert_cmpint(bs->gate.passing, ==, 0);
    bdrv_drained_end(aio);
    bdrv_drained_end(bs);
    bdrv_unref(bs);
    bdrv_unref(aio);
}

typedef struct HeldWriter {
    BlockDriverState *bs;
    bool async;
    int done;
} HeldWriter;

static gpointer held_writer(gpointer opaque)
{
    HeldWriter *w = opaque;
    uint8_t buf[512] = {7};

    if (w->async) {
        GMainContext *ctx = g_main_context_new();
        AioResult res = {0};
        IOVector qiov;

        g_main_context_push_thread_default(ctx);
        iov_init_buf(&qiov, buf, sizeof(buf));
        bdrv_aio_pwritev(w->bs, 0, &qiov, 0, aio_done, &res);
        run_until_done(ctx, &res);
        g_assert_cmpint(res.ret, ==, 0);
        iov_destroy(&qiov);
        g_main_context_pop_thread_default(ctx);
        g_main_context_unref(ctx);
    } else {
        g_assert_cmpint(bdrv_pwrite(w->bs, 0, buf, sizeof(buf)), ==, 0);
    }
    g_atomic_int_set(&w->done, 1);
    return NULL;
}

/* Inside a drained section, other threads' requests wait; the drainer's own do not. */
static void test_drained_section_holds(void)
{
    BlockDriverState *bs = open_mem("{\"driver\":\"testmem\"}");
    HeldWriter sync = {bs, false}, async = {bs, true};
    GThread *t1, *t2;
    uint8_t buf[512] = {1};

    bdrv_drained_begin(bs);
    t1 = g_thread_new("sync-writer", held_writer, &sync);
    t2 = g_thread_new("async-writer", held_writer, &async);
    g_usleep(100 * 1000);
    g_assert_false(g_atomic_int_get(&sync.done));
    g_assert_false(g_atomic_int_get(&async.done));
    g_assert_cmpint(test_mem_state(bs)->n_write, ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 512, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(test_mem_state(bs)->n_write, ==, 1);
    bdrv_drained_end(bs);
    g_thread_join(t1);
    g_thread_join(t2);
    g_assert_cmpint(test_mem_state(bs)->n_write, ==, 3);
    bdrv_drain_all();
    bdrv_flush_all();
    bdrv_unref(bs);
}

/* A drained format node also quiesces its protocol child, yet its own I/O still works. */
static void test_drain_subtree(void)
{
    BlockDriverState *bs;
    uint8_t buf[512] = {3};

    test_image_get("subtree", 65536);
    bs = bdrv_open("testmem:subtree", test_opts("{\"driver\":\"raw\"}"),
                   BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    bdrv_drained_begin(bs);
    g_assert_cmpint(bdrv_file_child(bs)->gate.closed, ==, 1);
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, sizeof(buf)), ==, 0);
    bdrv_drained_end(bs);
    g_assert_cmpint(bdrv_file_child(bs)->gate.closed, ==, 0);
    bdrv_unref(bs);
}

#define RMW_THREADS 8
#define RMW_WRITES 64

typedef struct RmwWriter {
    BlockDriverState *bs;
    int index;
} RmwWriter;

/* Each thread writes its own bytes, one at a time, all inside the same two blocks. */
static gpointer rmw_writer(gpointer opaque)
{
    RmwWriter *w = opaque;

    for (int i = 0; i < RMW_WRITES; i++) {
        uint8_t val = w->index + 1;

        g_assert_cmpint(bdrv_pwrite(w->bs, 256 + i * RMW_THREADS + w->index, &val, 1), ==, 0);
    }
    return NULL;
}

static void test_concurrent_rmw(void)
{
    BlockDriverState *bs = open_mem("{\"driver\":\"testmem\",\"align\":512}");
    RmwWriter w[RMW_THREADS];
    GThread *t[RMW_THREADS];
    uint8_t *data;

    for (int i = 0; i < RMW_THREADS; i++) {
        w[i] = (RmwWriter){bs, i};
        t[i] = g_thread_new("rmw", rmw_writer, &w[i]);
    }
    for (int i = 0; i < RMW_THREADS; i++) {
        g_thread_join(t[i]);
    }
    data = test_mem_state(bs)->img->data;
    for (int i = 0; i < RMW_WRITES * RMW_THREADS; i++) {
        g_assert_cmpint(data[256 + i], ==, i % RMW_THREADS + 1);
    }
    g_assert_null(bs->tracked_writes);
    bdrv_unref(bs);
}

typedef struct HereCase {
    BlockDriverState *bs;
    int n;
    AioResult res[2];
    IOVector qiov[2];
    GThread *thread;
    bool flush;       /* one flush instead of the writes */
    bool done_inside; /* a callback ran inside a submission */
} HereCase;

static void submit_writes(void *opaque)
{
    HereCase *c = opaque;
    static uint8_t buf[4096];

    c->thread = g_thread_self();
    if (c->flush) {
        bdrv_aio_flush(c->bs, aio_done, &c->res[0]);
        c->done_inside |= g_atomic_int_get(&c->res[0].done);
        return;
    }
    for (int i = 0; i < c->n; i++) {
        iov_init_buf(&c->qiov[i], buf, sizeof(buf));
        bdrv_aio_pwritev(c->bs, i * 4096, &c->qiov[i], 0, aio_done, &c->res[i]);
        c->done_inside |= g_atomic_int_get(&c->res[i].done);
    }
}

static void here_wait(HereCase *c)
{
    for (int i = 0; i < c->n; i++) {
        while (!g_atomic_int_get(&c->res[i].done)) {
            g_usleep(1000);
        }
        g_assert_cmpint(c->res[i].ret, ==, 0);
        g_assert_true(c->res[i].thread == c->thread);
        if (!c->flush) {
            iov_destroy(&c->qiov[i]);
        }
    }
    g_assert_false(c->done_inside);
}

/*
 * An I/O thread runs a pool-bound write itself when it is the only request it has in
 * flight, and completes it from its loop as usual; a second one submitted meanwhile goes
 * to a worker, as does a lone flush (it may take long). The main loop always hands such
 * requests to a worker.
 */
static void test_iothread_runs_alone(void)
{
    IOThread *t = iothread_create("here", &error_abort);
    HereCase one = {.n = 1}, two = {.n = 2}, flush = {.n = 1, .flush = true};
    TestMemState *s;

    one.bs = open_mem("{\"driver\":\"testmem\"}");
    iothread_call(t, submit_writes, &one);
    here_wait(&one);
    s = test_mem_state(one.bs);
    g_assert_true(s->writers[0] == one.thread);
    bdrv_unref(one.bs);

    two.bs = open_mem("{\"driver\":\"testmem\"}");
    iothread_call(t, submit_writes, &two);
    here_wait(&two);
    s = test_mem_state(two.bs);
    g_assert_true(s->writers[0] == two.thread);
    g_assert_true(s->writers[1] != two.thread);
    bdrv_unref(two.bs);

    flush.bs = open_mem("{\"driver\":\"testmem\"}");
    iothread_call(t, submit_writes, &flush);
    here_wait(&flush);
    g_assert_true(test_mem_state(flush.bs)->flusher != flush.thread);
    bdrv_unref(flush.bs);
    iothread_destroy(t);

    one = (HereCase){.n = 1, .bs = open_mem("{\"driver\":\"testmem\"}")};
    submit_writes(&one);
    run_until_done(g_main_context_default(), &one.res[0]);
    iov_destroy(&one.qiov[0]);
    g_assert_true(test_mem_state(one.bs)->writers[0] != g_thread_self());
    bdrv_unref(one.bs);
}

static GMutex sleep_lock;
static GCond sleep_cond;
static GSList *sleep_waiters;
static int sleep_counter;

static gpointer release_later(gpointer opaque)
{
    g_usleep(20000);
    g_atomic_int_add(&sleep_counter, -1);
    g_mutex_lock(&sleep_lock);
    wait_point_kick_locked(&(WaitPoint){&sleep_lock, &sleep_cond, &sleep_waiters});
    g_mutex_unlock(&sleep_lock);
    return NULL;
}

static gboolean set_flag(gpointer opaque)
{
    *(int *)opaque = 1;
    return G_SOURCE_REMOVE;
}

/* A wait in the main thread dispatches its context meanwhile, except while sleep-only. */
static int wait_dispatched(bool sleep_only)
{
    WaitPoint wp = {&sleep_lock, &sleep_cond, &sleep_waiters};
    GSource *src = g_idle_source_new();
    GThread *t;
    int ran = 0;

    g_source_set_callback(src, set_flag, &ran, NULL);
    g_source_attach(src, NULL);
    sleep_counter = 1;
    t = g_thread_new("release", release_later, NULL);
    if (sleep_only) {
        wait_point_sleep_only(true);
    }
    wait_point_wait_zero(&wp, &sleep_counter);
    if (sleep_only) {
        wait_point_sleep_only(false);
    }
    g_thread_join(t);
    g_source_destroy(src);
    g_source_unref(src);
    return ran;
}

static void test_wait_sleep_only(void)
{
    g_assert_cmpint(wait_dispatched(true), ==, 0);
    g_assert_cmpint(wait_dispatched(false), ==, 1);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_drivers_register();
    g_test_add_func("/block-aio/default-context", test_aio_default_context);
    g_test_add_func("/block-aio/thread-context", test_aio_thread_context);
    g_test_add_func("/block-aio/submit-filter", test_aio_submit_filter);
    g_test_add_func("/block-aio/forwarding-format", test_aio_forwarding_format);
    g_test_add_func("/block-aio/errors", test_aio_errors);
    g_test_add_func("/block-aio/probed-raw", test_aio_probed_raw);
    g_test_add_func("/block-aio/drain-waits", test_drain_waits);
    g_test_add_func("/block-aio/drained-section-holds", test_drained_section_holds);
    g_test_add_func("/block-aio/drain-subtree", test_drain_subtree);
    g_test_add_func("/block-aio/concurrent-rmw", test_concurrent_rmw);
    g_test_add_func("/block-aio/iothread-runs-alone", test_iothread_runs_alone);
    g_test_add_func("/block-aio/wait-sleep-only", test_wait_sleep_only);
    ret = g_test_run();
    g_hash_table_destroy(test_images);
    return ret;
}
