/*
 * Unit tests for util/aio-poll.c: the polling time's growth and shrinking (pure), and an
 * I/O thread polling a producer that follows the virtqueue protocol (publish, then kick
 * unless the consumer said it polls): every item is consumed (no kick is lost when polling
 * stops and notifications come back), polling saves kicks, and a removed handler is not
 * asked again; a bounded wait's sleep is never unbounded. Also -object iothread's
 * poll-max-ns/poll-grow/poll-shrink parsing.
 */
#include <unistd.h>
#include <sys/eventfd.h>
#include <glib.h>
#include <glib-unix.h>
#include "util/aio-poll.h"
#include "util/iothread.h"

/* ---- the polling time ---- */

static void test_time_grow_shrink(void)
{
    AioPollTime t;

    aio_poll_time_init(&t, 32768, 0, 0);
    g_assert_cmpint(t.ns, ==, 0);
    aio_poll_time_adjust(&t, 1000); /* short wait: start polling */
    g_assert_cmpint(t.ns, ==, 4000);
    aio_poll_time_adjust(&t, 3000); /* caught by polling: keep */
    g_assert_cmpint(t.ns, ==, 4000);
    aio_poll_time_adjust(&t, 5000);
    g_assert_cmpint(t.ns, ==, 8000);
    aio_poll_time_adjust(&t, 9000);
    aio_poll_time_adjust(&t, 17000);
    g_assert_cmpint(t.ns, ==, 32000);
    aio_poll_time_adjust(&t, 32500); /* capped at the maximum */
    g_assert_cmpint(t.ns, ==, 32768);
    aio_poll_time_adjust(&t, 32768);
    g_assert_cmpint(t.ns, ==, 32768);
    aio_poll_time_adjust(&t, 40000); /* too long to poll for: back to 0 */
    g_assert_cmpint(t.ns, ==, 0);
    aio_poll_time_adjust(&t, 40000);
    g_assert_cmpint(t.ns, ==, 0);
}

static void test_time_params(void)
{
    AioPollTime t;

    aio_poll_time_init(&t, 100000, 4, 2);
    aio_poll_time_adjust(&t, 1);
    aio_poll_time_adjust(&t, 5000);
    g_assert_cmpint(t.ns, ==, 16000);
    aio_poll_time_adjust(&t, 200000); /* shrink divides */
    g_assert_cmpint(t.ns, ==, 8000);
    aio_poll_time_init(&t, 1000, 0, 0); /* a maximum below the first step */
    aio_poll_time_adjust(&t, 500);
    g_assert_cmpint(t.ns, ==, 1000);
    aio_poll_time_init(&t, 0, 0, 0); /* poll-max-ns=0: never polls */
    aio_poll_time_adjust(&t, 1);
    g_assert_cmpint(t.ns, ==, 0);
    aio_poll_time_init(&t, 1000000, G_MAXINT64, 0); /* no overflow */
    aio_poll_time_adjust(&t, 1);
    aio_poll_time_adjust(&t, 5000);
    g_assert_cmpint(t.ns, ==, 1000000);
}

/*
 * A virtqueue's handler at queue depth 1: waits alternate between one after a submission,
 * ended 50 us later by the disk's completion (not its event), and one after the completion,
 * where polling catches the guest's next request 3 us in. The time spent polling in vain
 * after each submission falls from poll-max-ns to twice the 3 us catch, and the refill is
 * still caught every time.
 */
static void test_handler_time_in_vain(void)
{
    AioPollTime params;
    AioPollHandlerTime ht = {0, 0};

    aio_poll_time_init(&params, 32768, 0, 0);
    aio_poll_handler_time_adjust(&ht, &params, true, 2000);   /* a kick 2 us in: poll */
    g_assert_cmpint(ht.ns, ==, 4000);
    for (int i = 0; i < 4; i++) {                              /* grows to the maximum */
        aio_poll_handler_time_adjust(&ht, &params, true, ht.ns + 1);
    }
    g_assert_cmpint(ht.ns, ==, 32768);
    for (int i = 0; i < 10; i++) {
        aio_poll_handler_time_adjust(&ht, &params, false, 50000);
        g_assert_cmpint(ht.ns, >=, 3000);                      /* the refill is caught */
        aio_poll_handler_time_adjust(&ht, &params, true, 3000);
    }
    g_assert_cmpint(ht.hit_ns, ==, 3000);
    aio_poll_handler_time_adjust(&ht, &params, false, 50000);
    g_assert_cmpint(ht.ns, ==, 6000);
    /* One early catch (the request was already there) does not drop the floor. */
    aio_poll_handler_time_adjust(&ht, &params, true, 10);
    g_assert_cmpint(ht.hit_ns, ==, 2625);
    /* Never caught by polling: halves to nothing. */
    ht = (AioPollHandlerTime){32768, 0};
    for (int i = 0; i < 5; i++) {
        aio_poll_handler_time_adjust(&ht, &params, false, 50000);
    }
    g_assert_cmpint(ht.ns, ==, 1024);
    aio_poll_handler_time_adjust(&ht, &params, false, 50000);
    g_assert_cmpint(ht.ns, ==, 0);
    /* A millisecond without its event: idle, forgotten. */
    ht = (AioPollHandlerTime){32768, 3000};
    aio_poll_handler_time_adjust(&ht, &params, false, 1000000);
    g_assert_cmpint(ht.ns, ==, 0);
    g_assert_cmpint(ht.hit_ns, ==, 0);
}

/* n events of the handler, each after a wait of block_ns. */
static void handler_events(AioPollHandlerTime *ht, const AioPollTime *params, int n,
                           int64_t block_ns)
{
    for (int i = 0; i < n; i++) {
        aio_poll_handler_time_adjust(ht, params, true, block_ns);
    }
}

/*
 * A disk's completions at queue depth 1, 50 us after the submission when slept through:
 * after 8 of them a trial polls for poll-max-ns; polling catches them (20 us), so it stays,
 * through two late ones; the third late one in a row ends it. Trials that catch nothing
 * come after 16, 32 ... up to 256 slow events; a catch starts over at 8. Waits of a
 * millisecond and more (an idle disk) are no reason for a trial.
 */
static void test_handler_time_trial(void)
{
    AioPollTime params;
    AioPollHandlerTime ht = {0};

    aio_poll_time_init(&params, 32768, 0, 0);
    handler_events(&ht, &params, 7, 50000);
    g_assert_cmpint(ht.ns, ==, 0);
    handler_events(&ht, &params, 1, 50000);
    g_assert_cmpint(ht.ns, ==, 32768);
    handler_events(&ht, &params, 10, 20000);                   /* caught: keeps polling */
    g_assert_cmpint(ht.ns, ==, 32768);
    handler_events(&ht, &params, 2, 50000);                    /* late ones among catches */
    g_assert_cmpint(ht.ns, ==, 32768);
    handler_events(&ht, &params, 1, 20000);
    handler_events(&ht, &params, 2, 50000);
    g_assert_cmpint(ht.ns, ==, 32768);
    handler_events(&ht, &params, 1, 50000);                    /* the third in a row */
    g_assert_cmpint(ht.ns, ==, 0);
    g_assert_cmpint(ht.failed_trials, ==, 0);

    /* Polling never makes them sooner: each failed trial doubles the wait for the next
     * (the event that ended polling is the first of them). */
    for (int every = 8; every <= 256; every *= 2) {
        handler_events(&ht, &params, every - 2, 50000);
        g_assert_cmpint(ht.ns, ==, 0);
        handler_events(&ht, &params, 1, 50000);
        g_assert_cmpint(ht.ns, ==, 32768);
        handler_events(&ht, &params, 3, 50000);
        g_assert_cmpint(ht.ns, ==, 0);
    }
    g_assert_cmpint(ht.failed_trials, ==, 5);
    handler_events(&ht, &params, 254, 50000);
    g_assert_cmpint(ht.ns, ==, 0);
    handler_events(&ht, &params, 1, 50000);
    g_assert_cmpint(ht.ns, ==, 32768);                         /* capped at 256 */
    handler_events(&ht, &params, 1, 20000);                    /* a catch: back to 8 */
    g_assert_cmpint(ht.failed_trials, ==, 0);

    ht = (AioPollHandlerTime){0};
    handler_events(&ht, &params, 100, 2000000);
    g_assert_cmpint(ht.ns, ==, 0);
    /* Without polling (poll-max-ns=0) there is no trial either. */
    aio_poll_time_init(&params, 0, 0, 0);
    handler_events(&ht, &params, 100, 50000);
    g_assert_cmpint(ht.ns, ==, 0);
}

/* ---- a producer and an I/O thread that polls it ---- */

typedef struct Ring {
    int avail;     /* items published (atomic) */
    int used;      /* items consumed (atomic) */
    int no_notify; /* the consumer polls: do not kick (atomic) */
    int efd;       /* the doorbell */
    int polled;    /* items consumed because polling found them */
    int asked;     /* ready() calls */
    IOThread *t;
} Ring;

static bool ring_ready(void *opaque)
{
    Ring *r = opaque;

    g_atomic_int_inc(&r->asked);
    return g_atomic_int_get(&r->avail) != g_atomic_int_get(&r->used);
}

static void ring_consume(Ring *r)
{
    g_assert_true(iothread_is_current(r->t));
    g_atomic_int_set(&r->used, g_atomic_int_get(&r->avail));
}

static void ring_run(void *opaque)
{
    Ring *r = opaque;

    r->polled++;
    ring_consume(r);
}

static void ring_set_polling(void *opaque, bool polling)
{
    Ring *r = opaque;

    if (!polling) {
        g_usleep(20); /* widen the window in which the producer does not kick */
    }
    g_atomic_int_set(&r->no_notify, polling);
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* before ready() looks again */
}

static const AioPollOps ring_ops = {
    .ready = ring_ready,
    .run = ring_run,
    .set_polling = ring_set_polling,
};

static gboolean ring_doorbell(gint fd, GIOCondition cond, gpointer opaque)
{
    eventfd_t n;

    if (eventfd_read(fd, &n) == 0) {
        ring_consume(opaque);
    }
    return G_SOURCE_CONTINUE;
}

/* Publish one item, kick unless told not to; true if it kicked. */
static bool ring_produce(Ring *r)
{
    g_atomic_int_inc(&r->avail);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (g_atomic_int_get(&r->no_notify)) {
        return false;
    }
    g_assert_cmpint(eventfd_write(r->efd, 1), ==, 0);
    return true;
}

static void ring_wait_consumed(Ring *r)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (g_atomic_int_get(&r->used) != g_atomic_int_get(&r->avail)) {
        /* A lost kick leaves the item there for good. */
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_thread_yield();
    }
}

static void run_producer(int64_t max_ns, int64_t shrink)
{
    const IOThreadPollParams params = {max_ns, 0, shrink};
    Ring r = {.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
    GSource *src = g_unix_fd_source_new(r.efd, G_IO_IN);
    AioPollHandler *h;
    int kicks = 0, n = 3000;
    GRand *rand = g_rand_new_with_seed(9);

    r.t = iothread_create_full("poller", &params, &error_abort);
    g_source_set_callback(src, G_SOURCE_FUNC(ring_doorbell), &r, NULL);
    g_source_attach(src, iothread_get_context(r.t));
    iothread_lock(r.t);
    h = aio_poll_add(iothread_get_context(r.t), &ring_ops, &r);
    iothread_unlock(r.t);
    for (int i = 0; i < n; i++) {
        /* Pauses around the polling time: the thread goes in and out of polling. */
        if (g_rand_int_range(rand, 0, 4) == 0) {
            g_usleep(g_rand_int_range(rand, 0, 100));
        }
        kicks += ring_produce(&r);
        ring_wait_consumed(&r);
    }
    iothread_lock(r.t);
    aio_poll_remove(h);
    r.asked = 0;
    iothread_unlock(r.t);
    g_usleep(1000);
    g_assert_cmpint(g_atomic_int_get(&r.asked), ==, 0);
    if (max_ns == 0) {
        g_assert_cmpint(kicks, ==, n); /* never told not to kick */
    }
    g_test_message("poll-max-ns=%" G_GINT64_FORMAT ": %d kicks, %d found by polling", max_ns, kicks,
                   r.polled);
    iothread_destroy(r.t);
    g_source_destroy(src);
    g_source_unref(src);
    close(r.efd);
    g_rand_free(rand);
}

static void test_no_lost_kick_default(void)
{
    run_producer(AIO_POLL_DEFAULT_MAX_NS, 0);
}

static void test_no_lost_kick_short(void)
{
    run_producer(2000, 2);
}

static void test_no_poll(void)
{
    run_producer(0, 0);
}

/* ---- a bounded wait never becomes an endless sleep ---- */

static int64_t slept_ns;

static gint record_sleep(GPollFD *fds, guint nfds, int64_t timeout_ns)
{
    slept_ns = timeout_ns;
    return 0;
}

static void no_lock(void *opaque)
{
}

/*
 * A timeout about as short as a clock read: what is left of it when the wait sleeps may be
 * nothing, but never negative (no limit at all). A clock read twice for one remainder once
 * gave -18 ns here, and the main loop slept past its throttle timer for good.
 */
static void test_short_timeout_bounded(void)
{
    GMainContext *ctx = g_main_context_new();
    AioPoll *p = aio_poll_get(ctx);
    AioPollTime t;
    const AioPollWait w = {record_sleep, no_lock, no_lock, NULL};

    aio_poll_time_init(&t, AIO_POLL_DEFAULT_MAX_NS, 0, 0);
    for (int i = 0; i < 200000; i++) {
        int64_t timeout = 1 + i % 400;

        slept_ns = -2;
        aio_poll_wait(p, &t, &w, NULL, 0, timeout);
        g_assert_cmpint(slept_ns, >=, 0);
        g_assert_cmpint(slept_ns, <=, timeout);
    }
    g_main_context_unref(ctx);
}

/* ---- -object iothread,poll-* ---- */

static void expect_object_error(const char *arg, const char *msg)
{
    Error *err = NULL;

    g_assert_false(object_add_from_opts(arg, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
}

static void test_object_props(void)
{
    g_assert_true(object_add_from_opts("iothread,id=a,poll-max-ns=0", &error_abort));
    g_assert_true(object_add_from_opts("iothread,id=b,poll-max-ns=100000,poll-grow=4,poll-shrink=2",
                                       &error_abort));
    expect_object_error("iothread,id=c,poll-max-ns=abc",
                        "Parameter 'poll-max-ns' expects an int64 value");
    expect_object_error("iothread,id=c,poll-grow=99999999999999999999",
                        "Parameter 'poll-grow' expects an int64 value");
    expect_object_error("iothread,id=c,poll-shrink=-1",
                        "poll-shrink value must be in range [0, 9223372036854775807]");
    g_assert_null(iothread_find("c"));
    iothread_destroy_all();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/aio-poll/time/grow-shrink", test_time_grow_shrink);
    g_test_add_func("/aio-poll/time/params", test_time_params);
    g_test_add_func("/aio-poll/time/handler-in-vain", test_handler_time_in_vain);
    g_test_add_func("/aio-poll/time/handler-trial", test_handler_time_trial);
    g_test_add_func("/aio-poll/iothread/no-lost-kick", test_no_lost_kick_default);
    g_test_add_func("/aio-poll/iothread/no-lost-kick-short", test_no_lost_kick_short);
    g_test_add_func("/aio-poll/iothread/no-poll", test_no_poll);
    g_test_add_func("/aio-poll/wait/short-timeout-bounded", test_short_timeout_bounded);
    g_test_add_func("/aio-poll/object-props", test_object_props);
    return g_test_run();
}
