/*
 * Unit tests for the main loop's timed sleep (util/main-loop.c, util/aio-poll.c): the
 * timeout passed to ppoll is the timers' deadline to the nanosecond (a timer 1.5 ms away
 * gives 1500000 ns, not GLib's rounded 2 ms), a deadline already past gives 0, no timer
 * gives no limit; GLib's millisecond timeout still bounds the sleep for its other sources.
 * On the real main loop: a timer never fires before its deadline, and fires well before
 * the next whole millisecond that a millisecond poll timeout would have slept to.
 */
#include <stdlib.h>
#include <glib.h>
#include "util/aio-poll.h"
#include "util/main-loop.h"

#define MS 1000000LL

static void test_timespec(void)
{
    struct timespec ts;

    g_assert_true(aio_poll_timespec(1500000, &ts) == &ts);
    g_assert_cmpint(ts.tv_sec, ==, 0);
    g_assert_cmpint(ts.tv_nsec, ==, 1500000);
    g_assert_true(aio_poll_timespec(2500000001LL, &ts) == &ts);
    g_assert_cmpint(ts.tv_sec, ==, 2);
    g_assert_cmpint(ts.tv_nsec, ==, 500000001);
    g_assert_true(aio_poll_timespec(0, &ts) == &ts); /* due: do not sleep */
    g_assert_cmpint(ts.tv_sec, ==, 0);
    g_assert_cmpint(ts.tv_nsec, ==, 0);
    g_assert_null(aio_poll_timespec(-1, &ts)); /* no deadline: sleep until woken */
}

static void test_timeout_combine(void)
{
    /* GLib rounds the timers' 1.5 ms up to 2 ms: the exact deadline wins. */
    g_assert_cmpint(aio_poll_timeout_ns(2, 1500000), ==, 1500000);
    /* Another GLib source due sooner bounds the sleep. */
    g_assert_cmpint(aio_poll_timeout_ns(1, 3 * MS), ==, 1 * MS);
    g_assert_cmpint(aio_poll_timeout_ns(0, 1500000), ==, 0);
    g_assert_cmpint(aio_poll_timeout_ns(5, -1), ==, 5 * MS);
    g_assert_cmpint(aio_poll_timeout_ns(-1, 1500000), ==, 1500000);
    g_assert_cmpint(aio_poll_timeout_ns(-1, 0), ==, 0);
    g_assert_cmpint(aio_poll_timeout_ns(-1, -1), ==, -1);
    g_assert_cmpint(aio_poll_ms_to_ns(G_MAXINT), ==, G_MAXINT * MS); /* no overflow */
    g_assert_cmpint(aio_poll_ms_to_ns(-1), ==, -1);
}

static void nop_cb(void *opaque)
{
}

static void test_timers_deadline(void)
{
    Timer *t = timer_new(CLOCK_HOST, nop_cb, NULL);
    int64_t before, expire, timeout, after;

    g_assert_cmpint(main_loop_timers_timeout_ns(), ==, -1);
    expire = clock_get_ns(CLOCK_HOST) + 1500000;
    timer_mod(t, expire);
    before = clock_get_ns(CLOCK_HOST);
    timeout = main_loop_timers_timeout_ns();
    after = clock_get_ns(CLOCK_HOST);
    g_assert_cmpint(timeout, <=, expire - before);
    g_assert_cmpint(timeout, >=, expire - after);
    g_assert_cmpint(timeout % MS, !=, 0); /* not rounded to the millisecond */
    timer_mod(t, clock_get_ns(CLOCK_HOST) - MS);
    g_assert_cmpint(main_loop_timers_timeout_ns(), ==, 0);
    timer_del(t);
    g_assert_cmpint(main_loop_timers_timeout_ns(), ==, -1);
    timer_free(t);
}

static int64_t fired_at;

static void record_cb(void *opaque)
{
    fired_at = clock_get_ns(CLOCK_HOST);
}

/* How late a timer 1.1 ms away fires on the main loop; asserts it is not early. */
static int64_t timer_lateness(Timer *t)
{
    int64_t expire = clock_get_ns(CLOCK_HOST) + 1100000;

    fired_at = -1;
    timer_mod(t, expire);
    while (fired_at < 0) {
        g_main_context_iteration(main_loop_context(), TRUE);
    }
    g_assert_cmpint(fired_at, >=, expire);
    return fired_at - expire;
}

static gint cmp_int64(gconstpointer a, gconstpointer b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/*
 * A sleep to GLib's 2 ms would make every one of these 0.9 ms late or more; to the ns, the
 * lateness is the host's wake-up latency. The median forgives a loaded host a few slow
 * wake-ups.
 */
static void test_timer_on_time(void)
{
    Timer *t = timer_new(CLOCK_HOST, record_cb, NULL);
    int64_t late[21];

    for (guint i = 0; i < G_N_ELEMENTS(late); i++) {
        late[i] = timer_lateness(t);
    }
    qsort(late, G_N_ELEMENTS(late), sizeof(late[0]), cmp_int64);
    g_test_message("median lateness %" G_GINT64_FORMAT " ns", late[G_N_ELEMENTS(late) / 2]);
    g_assert_cmpint(late[G_N_ELEMENTS(late) / 2], <, 800000);
    timer_free(t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    main_loop_init();
    g_test_add_func("/main-loop/timespec", test_timespec);
    g_test_add_func("/main-loop/timeout-combine", test_timeout_combine);
    g_test_add_func("/main-loop/timers-deadline", test_timers_deadline);
    g_test_add_func("/main-loop/timer-on-time", test_timer_on_time);
    return g_test_run();
}
