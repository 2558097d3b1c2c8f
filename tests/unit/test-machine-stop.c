/*
 * Unit tests of the machine's stop requests (hw/core/machine.c, machine_request_stop): a stop
 * requested while an earlier requested stop still drains and flushes the drives is that same
 * stop, so after `cont` the machine does not stop a second time; one made while the machine
 * is stopped stops nothing. Run-state handlers hear each change once. The drive is a protocol
 * driver whose flush requests a stop, as a request failing under werror=stop does while the
 * stop drains an I/O thread. No vCPUs: pausing and resuming them is a no-op here.
 */
#include <glib.h>
#include "block/block_int.h"
#include "hw/machine.h"
#include "util/error.h"
#include "util/main-loop.h"

static int flush_stops; /* stop requests the next flushes make */
static int flushes;

static int stopflush_open(BlockDriverState *bs, JsonObject *options, int flags, Error **errp)
{
    return 0;
}

static int64_t stopflush_getlength(BlockDriverState *bs)
{
    return 0;
}

static int stopflush_flush(BlockDriverState *bs)
{
    flushes++;
    if (flush_stops > 0) {
        flush_stops--;
        machine_request_stop(RUN_STATE_IO_ERROR);
    }
    return 0;
}

static BlockDriver bdrv_stopflush = {
    .format_name = "stopflush",
    .protocol_name = "stopflush",
    .is_protocol = true,
    .open = stopflush_open,
    .getlength = stopflush_getlength,
    .flush = stopflush_flush,
};

/* Main loop iterations until the machine has stopped: the stop request's call runs, and not
 * the calls it queues (GLib runs a source attached during a dispatch in a later iteration). */
static void main_loop_until_stopped(void)
{
    for (int i = 0; i < 100 && machine_is_running(); i++) {
        g_main_context_iteration(main_loop_context(), FALSE);
    }
}

static void main_loop_settle(void)
{
    for (int i = 0; i < 10; i++) {
        g_main_context_iteration(main_loop_context(), FALSE);
    }
}

static void test_request_during_stop(void)
{
    Error *err = NULL;
    BlockDriverState *bs = bdrv_open("stopflush:disk", NULL, BDRV_O_RDWR | BDRV_O_PROTOCOL, &err);

    g_assert_nonnull(bs);
    machine_cont();
    flush_stops = 1;
    flushes = 0;
    machine_request_stop(RUN_STATE_IO_ERROR);
    g_assert_true(machine_is_running()); /* done in the main loop */
    main_loop_until_stopped();
    g_assert_false(machine_is_running());
    g_assert_cmpint(runstate_get(), ==, RUN_STATE_IO_ERROR);
    g_assert_cmpint(flushes, ==, 1);
    g_assert_cmpint(flush_stops, ==, 0);

    machine_cont();
    main_loop_settle();
    g_assert_true(machine_is_running());
    g_assert_cmpint(flushes, ==, 1);
    bdrv_unref(bs);
}

/* Once the stop is over, a new request is a new stop. */
static void test_request_after_stop(void)
{
    machine_cont();
    machine_request_stop(RUN_STATE_IO_ERROR);
    main_loop_until_stopped();
    g_assert_false(machine_is_running());
    machine_cont();
    g_assert_true(machine_is_running());
    machine_request_stop(RUN_STATE_PAUSED);
    main_loop_until_stopped();
    g_assert_false(machine_is_running());
    g_assert_cmpint(runstate_get(), ==, RUN_STATE_PAUSED);
}

/*
 * A request failing while the machine is already stopped (one submitted before the stop that
 * ends after its drain) is kept for the retry: it must not stop the machine after a `cont`
 * that comes before the main loop has looked at it.
 */
static void test_request_while_stopped(void)
{
    machine_cont();
    machine_request_stop(RUN_STATE_IO_ERROR);
    main_loop_until_stopped();
    g_assert_false(machine_is_running());
    machine_request_stop(RUN_STATE_IO_ERROR);
    machine_cont();
    main_loop_settle();
    g_assert_true(machine_is_running());
    g_assert_cmpint(runstate_get(), ==, RUN_STATE_RUNNING);
}

/*
 * A stop requested while the main thread waits inside another operation's drain happens when
 * that wait is over, as QEMU takes machine requests only in its main loop proper: the stop
 * would drain inside the drain, and wait for vCPUs to park while one of them may be held
 * by that very drain (tests/unit/test-block-bql.c).
 */
static void test_request_in_nested_wait(void)
{
    machine_cont();
    main_loop_nested_wait_begin();
    machine_request_stop(RUN_STATE_IO_ERROR);
    main_loop_settle();
    g_assert_true(machine_is_running());
    main_loop_nested_wait_end();
    main_loop_until_stopped();
    g_assert_false(machine_is_running());
    g_assert_cmpint(runstate_get(), ==, RUN_STATE_IO_ERROR);
    machine_cont();
}

typedef struct HandlerLog {
    GString *calls;
    bool drained_then; /* flushes had not run yet when the stop's handler was called */
} HandlerLog;

static void log_run_state(void *opaque, bool running)
{
    HandlerLog *log = opaque;

    g_string_append_c(log->calls, running ? 'R' : 'S');
    if (!running) {
        log->drained_then = flushes == 0;
    }
}

/* Run-state handlers hear every change once, a stop before the drives are flushed, and
 * nothing once removed. */
static void test_run_state_handlers(void)
{
    Error *err = NULL;
    BlockDriverState *bs = bdrv_open("stopflush:disk", NULL, BDRV_O_RDWR | BDRV_O_PROTOCOL, &err);
    HandlerLog log = { g_string_new(NULL), false };

    g_assert_nonnull(bs);
    machine_cont();
    machine_add_run_state_handler(log_run_state, &log);
    flushes = 0;
    machine_stop();
    g_assert_true(log.drained_then);
    g_assert_cmpint(flushes, ==, 1);
    machine_stop();            /* already stopped: drains again, no change to tell */
    machine_cont();
    machine_cont();
    machine_request_stop(RUN_STATE_IO_ERROR);
    main_loop_until_stopped();
    machine_cont();
    g_assert_cmpstr(log.calls->str, ==, "SRSR");
    machine_remove_run_state_handler(log_run_state, &log);
    machine_stop();
    machine_cont();
    g_assert_cmpstr(log.calls->str, ==, "SRSR");
    g_string_free(log.calls, TRUE);
    bdrv_unref(bs);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    main_loop_init();
    bdrv_register(&bdrv_stopflush);
    g_test_add_func("/machine/stop/request-during-stop", test_request_during_stop);
    g_test_add_func("/machine/stop/request-after-stop", test_request_after_stop);
    g_test_add_func("/machine/stop/request-while-stopped", test_request_while_stopped);
    g_test_add_func("/machine/stop/request-in-nested-wait", test_request_in_nested_wait);
    g_test_add_func("/machine/stop/run-state-handlers", test_run_state_handlers);
    return g_test_run();
}
