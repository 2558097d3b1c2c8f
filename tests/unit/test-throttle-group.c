/*
 * Unit tests for the BlockBackend throttle layer (block/throttle-groups.c) on the memory
 * test driver, with CLOCK_VIRTUAL driven by hand as qtest drives it: exact release times
 * (to the ns, also between whole milliseconds), reads and writes alternating, round-robin
 * between the members of a group, run-time reconfiguration of queued requests, disabling
 * and blk_drain releasing the queue, moves between groups, requests from an iothread's
 * context, and -drive's throttling options.
 */
#include <string.h>
#include <glib.h>
#include "block/block-backend.h"
#include "blockdev/blockdev.h"
#include "util/main-loop.h"
#include "block-test-drivers.h"

#define MS 1000000LL
#define SEC 1000000000LL

static int64_t fake_now;

static int64_t fake_clock(void)
{
    return fake_now;
}

typedef struct Io {
    int tag;
    void *owner;
    int ret;
    int64_t done_at;
    uint8_t buf[4096];
    IOVector qiov;
} Io;

/* Completed requests of the current test, in completion order. */
static int order[64];
static int n_done, n_submitted;
static BlockBackend *backends[2];

static void io_done(void *opaque, int ret)
{
    Io *io = opaque;

    io->ret = ret;
    io->done_at = fake_now;
    order[n_done++] = io->tag;
    iov_destroy(&io->qiov);
    g_free(io);
}

static void submit(BlockBackend *blk, bool is_write, int tag, uint64_t bytes)
{
    Io *io = g_new0(Io, 1);

    io->tag = tag;
    iov_init_buf(&io->qiov, io->buf, bytes);
    n_submitted++;
    if (is_write) {
        blk_aio_pwritev(blk, 0, &io->qiov, 0, io_done, io);
    } else {
        blk_aio_preadv(blk, 0, &io->qiov, 0, io_done, io);
    }
}

static unsigned queued_all(void)
{
    unsigned n = 0;

    for (int i = 0; i < 2; i++) {
        if (backends[i]) {
            n += blk_throttle_queued(backends[i], false) + blk_throttle_queued(backends[i], true);
        }
    }
    return n;
}

/* Run the completions of every request the throttle layer let go. */
static void settle(void)
{
    while (n_done < n_submitted - (int)queued_all()) {
        g_main_context_iteration(NULL, TRUE);
    }
}

static void advance_to(int64_t t)
{
    fake_now = t;
    clock_run_virtual_timers();
    settle();
}

/* A fresh test: a later start time (the buckets of old groups are long empty). */
static int64_t begin(int nblk)
{
    static const char *const names[] = {"drive-a", "drive-b"};

    fake_now += 100 * SEC;
    n_done = n_submitted = 0;
    for (int i = 0; i < 2; i++) {
        backends[i] = i < nblk ? blk_new_open(names[i], NULL,
                                              test_opts("{\"driver\":\"testmem\",\"size\":65536}"),
                                              BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort)
                               : NULL;
    }
    return fake_now;
}

static void end(void)
{
    for (int i = 0; i < 2; i++) {
        blk_unref(backends[i]);
        backends[i] = NULL;
    }
    g_assert_cmpint(clock_virtual_deadline(), ==, -1);
}

static ThrottleConfig limit(ThrottleBucketType type, uint64_t avg)
{
    ThrottleConfig cfg;

    throttle_config_init(&cfg);
    cfg.buckets[type].avg = avg;
    return cfg;
}

static void set_limit(BlockBackend *blk, ThrottleBucketType type, uint64_t avg, const char *group)
{
    ThrottleConfig cfg = limit(type, avg);

    g_assert_true(blk_set_io_limits(blk, &cfg, group, &error_abort));
}

static gint cmp_int(gconstpointer a, gconstpointer b)
{
    return *(const int *)a - *(const int *)b;
}

/*
 * The completion order, in batches separated by -1: requests released together may complete
 * in any order (the worker pool runs them side by side), batches complete one after another.
 */
static void assert_order(const int *expected, int n)
{
    int done = 0;

    for (int i = 0; i < n; done++) {
        int len = 0, want[16], got[16];

        while (i + len < n && expected[i + len] >= 0) {
            len++;
        }
        g_assert_cmpint(done + len, <=, n_done);
        memcpy(want, expected + i, len * sizeof(int));
        memcpy(got, order + done, len * sizeof(int));
        qsort(want, len, sizeof(int), (int (*)(const void *, const void *))cmp_int);
        qsort(got, len, sizeof(int), (int (*)(const void *, const void *))cmp_int);
        for (int k = 0; k < len; k++) {
            g_assert_cmpint(got[k], ==, want[k]);
        }
        done += len - 1;
        i += len + 1;
    }
    g_assert_cmpint(done, ==, n_done);
}

/* iops-total=10: the bucket holds 1 op, so 2 reads go at once and then one per 100 ms. */
static void test_release_times(void)
{
    int64_t t0 = begin(1);
    BlockBackend *blk = backends[0];

    set_limit(blk, THROTTLE_OPS_TOTAL, 10, NULL);
    for (int i = 0; i < 5; i++) {
        submit(blk, false, i, 512);
    }
    settle();
    g_assert_cmpint(n_done, ==, 2);
    g_assert_cmpuint(blk_throttle_queued(blk, false), ==, 3);
    g_assert_cmpint(clock_virtual_deadline(), ==, t0 + 100 * MS);
    advance_to(t0 + 100 * MS - 1);
    g_assert_cmpint(n_done, ==, 2);
    for (int k = 1; k <= 3; k++) {
        advance_to(t0 + k * 100 * MS);
        g_assert_cmpint(n_done, ==, 2 + k);
    }
    g_assert_cmpint(clock_virtual_deadline(), ==, -1);
    assert_order((const int[]){0, 1, -1, 2, -1, 3, -1, 4}, 8);
    /* Every request reached the image, and the statistics count them. */
    g_assert_cmpuint(blk_get_stats(blk)->nr_ops[BLOCK_ACCT_READ], ==, 5);
    end();
}

/* bps-write=40960: the bucket holds 4096 bytes; reads are not limited. */
/*
 * bps-read=10000: the bucket holds 1000 bytes, two reads of 512 fill it to 1024, and the
 * third goes when 24 bytes have leaked: after 2.4 ms exactly, a deadline between whole
 * milliseconds that the timer keeps to the nanosecond.
 */
static void test_release_sub_ms(void)
{
    int64_t t0 = begin(1);
    BlockBackend *blk = backends[0];

    set_limit(blk, THROTTLE_BPS_READ, 10000, NULL);
    for (int i = 0; i < 3; i++) {
        submit(blk, false, i, 512);
    }
    settle();
    g_assert_cmpint(n_done, ==, 2);
    g_assert_cmpint(clock_virtual_deadline(), ==, t0 + 2400000);
    advance_to(t0 + 2400000 - 1);
    g_assert_cmpint(n_done, ==, 2);
    advance_to(t0 + 2400000);
    g_assert_cmpint(n_done, ==, 3);
    end();
}

static void test_bps_write(void)
{
    int64_t t0 = begin(1);
    BlockBackend *blk = backends[0];

    set_limit(blk, THROTTLE_BPS_WRITE, 40960, NULL);
    for (int i = 0; i < 3; i++) {
        submit(blk, true, i, 4096);
    }
    for (int i = 10; i < 14; i++) {
        submit(blk, false, i, 4096);
    }
    settle();
    assert_order((const int[]){0, 1, 10, 11, 12, 13}, 6);
    g_assert_cmpint(clock_virtual_deadline(), ==, t0 + 100 * MS);
    advance_to(t0 + 100 * MS);
    assert_order((const int[]){0, 1, 10, 11, 12, 13, -1, 2}, 8);
    end();
}

/* Queued reads and writes take turns, each direction in FIFO order. */
static void test_read_write_alternate(void)
{
    int64_t t0 = begin(1);
    BlockBackend *blk = backends[0];

    set_limit(blk, THROTTLE_OPS_TOTAL, 10, NULL);
    for (int i = 0; i < 4; i++) {
        submit(blk, false, i, 512);
    }
    for (int i = 10; i < 14; i++) {
        submit(blk, true, i, 512);
    }
    settle();
    for (int k = 1; k <= 6; k++) {
        advance_to(t0 + k * 100 * MS);
        g_assert_cmpint(n_done, ==, 2 + k);
    }
    assert_order((const int[]){0, 1, -1, 10, -1, 2, -1, 11, -1, 3, -1, 12, -1, 13}, 14);
    end();
}

/* Two members of one group share its budget and are served in turn. */
static void test_group_round_robin(void)
{
    int64_t t0 = begin(2);
    g_autofree char *group = NULL;

    set_limit(backends[0], THROTTLE_OPS_TOTAL, 10, "shared");
    set_limit(backends[1], THROTTLE_OPS_TOTAL, 10, "shared");
    group = blk_get_io_limits_group(backends[1]);
    g_assert_cmpstr(group, ==, "shared");
    for (int i = 0; i < 4; i++) {
        submit(backends[0], false, i, 512);
    }
    for (int i = 10; i < 14; i++) {
        submit(backends[1], false, i, 512);
    }
    settle();
    g_assert_cmpint(n_done, ==, 2);
    for (int k = 1; k <= 6; k++) {
        advance_to(t0 + k * 100 * MS);
    }
    assert_order((const int[]){0, 1, -1, 10, -1, 2, -1, 11, -1, 3, -1, 12, -1, 13}, 14);

    /* The last setting is the group's: both members see it. */
    set_limit(backends[0], THROTTLE_OPS_TOTAL, 20, NULL);
    {
        ThrottleConfig cfg;

        g_assert_true(blk_get_io_limits(backends[1], &cfg));
        g_assert_cmpuint(cfg.buckets[THROTTLE_OPS_TOTAL].avg, ==, 20);
    }
    end();
}

/* A member leaving (limits off) releases its queue; the other member goes on alone. */
static void test_group_member_leaves(void)
{
    int64_t t0 = begin(2);
    ThrottleConfig off;

    set_limit(backends[0], THROTTLE_OPS_TOTAL, 10, "shared");
    set_limit(backends[1], THROTTLE_OPS_TOTAL, 10, "shared");
    for (int i = 0; i < 3; i++) {
        submit(backends[0], false, i, 512);
        submit(backends[1], true, 10 + i, 512);
    }
    settle();
    assert_order((const int[]){0, 10}, 2);
    throttle_config_init(&off);
    g_assert_true(blk_set_io_limits(backends[0], &off, "ignored", &error_abort));
    settle();
    assert_order((const int[]){0, 10, -1, 1, 2}, 5);
    g_assert_false(blk_get_io_limits(backends[0], &off));
    g_assert_null(blk_get_io_limits_group(backends[0]));
    /* What the leaving member released was accounted: 4 ops, 3 over at 10/s. */
    g_assert_cmpint(clock_virtual_deadline(), ==, t0 + 300 * MS);
    advance_to(t0 + 300 * MS);
    advance_to(t0 + 400 * MS);
    assert_order((const int[]){0, 10, -1, 1, 2, -1, 11, -1, 12}, 9);
    end();
}

/* New limits apply at once to queued requests (the buckets start empty, as in QEMU). */
static void test_reconfigure_queued(void)
{
    int64_t t0 = begin(1);
    BlockBackend *blk = backends[0];
    ThrottleConfig cfg;

    set_limit(blk, THROTTLE_OPS_TOTAL, 1, NULL);
    submit(blk, false, 0, 512);
    submit(blk, false, 1, 512);
    settle();
    g_assert_cmpint(n_done, ==, 1);
    g_assert_cmpint(clock_virtual_deadline(), ==, t0 + 900 * MS);
    advance_to(t0 + 100 * MS);
    set_limit(blk, THROTTLE_OPS_TOTAL, 1000, NULL);
    settle();
    g_assert_cmpint(n_done, ==, 2);
    g_assert_cmpint(clock_virtual_deadline(), ==, -1);
    g_assert_true(blk_get_io_limits(blk, &cfg));
    g_assert_cmpuint(cfg.buckets[THROTTLE_OPS_TOTAL].avg, ==, 1000);

    /* Slower: one queued request goes at once, the next one waits 0.8 / 2 s. */
    set_limit(blk, THROTTLE_OPS_TOTAL, 10, NULL);
    for (int i = 2; i < 6; i++) {
        submit(blk, false, i, 512);
    }
    settle();
    g_assert_cmpint(n_done, ==, 4);
    g_assert_cmpint(clock_virtual_deadline(), ==, t0 + 200 * MS);
    set_limit(blk, THROTTLE_OPS_TOTAL, 2, NULL);
    settle();
    g_assert_cmpint(n_done, ==, 5);
    g_assert_cmpint(clock_virtual_deadline(), ==, t0 + 500 * MS);
    advance_to(t0 + 500 * MS);
    assert_order((const int[]){0, -1, 1, -1, 2, 3, -1, 4, -1, 5}, 10);
    end();
}

/* Disabling the limits releases every queued request without waiting. */
static void test_disable_drains(void)
{
    begin(1);
    BlockBackend *blk = backends[0];
    ThrottleConfig off;

    set_limit(blk, THROTTLE_OPS_TOTAL, 1, NULL);
    for (int i = 0; i < 4; i++) {
        submit(blk, false, i, 512);
    }
    submit(blk, true, 10, 512);
    submit(blk, true, 11, 512);
    settle();
    g_assert_cmpint(n_done, ==, 1);
    blk_io_limits_disable(blk);
    settle();
    g_assert_cmpint(n_done, ==, 6);
    g_assert_cmpint(clock_virtual_deadline(), ==, -1);
    throttle_config_init(&off);
    g_assert_false(blk_get_io_limits(blk, &off));
    for (int i = 0; i < 10; i++) {
        submit(blk, false, 20 + i, 512);
    }
    settle();
    g_assert_cmpint(n_done, ==, 16);
    end();
}

/* blk_drain lets queued requests go (the limits stay). */
static void test_drain_releases(void)
{
    begin(1);
    BlockBackend *blk = backends[0];
    ThrottleConfig cfg;

    set_limit(blk, THROTTLE_OPS_TOTAL, 1, NULL);
    for (int i = 0; i < 3; i++) {
        submit(blk, true, i, 512);
    }
    blk_drain(blk);
    g_assert_cmpint(n_done, ==, 3);
    g_assert_true(blk_get_io_limits(blk, &cfg));
    /* The released requests were accounted: the next one waits. */
    submit(blk, true, 3, 512);
    settle();
    g_assert_cmpint(n_done, ==, 3);
    blk_drain(blk);
    g_assert_cmpint(n_done, ==, 4);
    end();
}

/* Moving to another group takes the queue along, under the new group's limits. */
static void test_move_group(void)
{
    int64_t t0 = begin(2);
    g_autofree char *group = NULL;

    set_limit(backends[0], THROTTLE_OPS_TOTAL, 1, NULL);
    set_limit(backends[1], THROTTLE_OPS_TOTAL, 10, "fast");
    for (int i = 0; i < 3; i++) {
        submit(backends[0], false, i, 512);
    }
    settle();
    g_assert_cmpint(n_done, ==, 1);
    group = blk_get_io_limits_group(backends[0]);
    g_assert_cmpstr(group, ==, "drive-a");
    set_limit(backends[0], THROTTLE_OPS_TOTAL, 10, "fast");
    settle();
    g_assert_cmpint(n_done, ==, 3);
    g_free(group);
    group = blk_get_io_limits_group(backends[0]);
    g_assert_cmpstr(group, ==, "fast");
    /* Both members now share "fast": 2 ops in the bucket already, one more each 100 ms. */
    submit(backends[1], false, 10, 512);
    settle();
    g_assert_cmpint(n_done, ==, 3);
    g_assert_cmpint(clock_virtual_deadline(), ==, t0 + 100 * MS);
    advance_to(t0 + 100 * MS);
    g_assert_cmpint(n_done, ==, 4);
    end();
}

/* ---- an iothread: its own context, the timer in the main loop ---- */

typedef struct IoThreadTest {
    BlockBackend *blk;
    int submitted, done, wrong_thread;
    GThread *thread;
} IoThreadTest;

static void iothread_io_done(void *opaque, int ret)
{
    Io *io = opaque;
    IoThreadTest *t = io->owner;

    t->wrong_thread += g_thread_self() != t->thread;
    t->done++;
    iov_destroy(&io->qiov);
    g_free(io);
}

static gpointer iothread_fn(gpointer opaque)
{
    IoThreadTest *t = opaque;
    GMainContext *ctx = g_main_context_new();

    g_main_context_push_thread_default(ctx);
    for (int i = 0; i < 3; i++) {
        Io *io = g_new0(Io, 1);

        io->owner = t;
        iov_init_buf(&io->qiov, io->buf, 512);
        blk_aio_preadv(t->blk, 0, &io->qiov, 0, iothread_io_done, io);
    }
    g_atomic_int_set(&t->submitted, 1);
    while (t->done < 3) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
    return NULL;
}

static void test_iothread(void)
{
    int64_t t0 = begin(1);
    IoThreadTest *t = g_new0(IoThreadTest, 1);

    t->blk = backends[0];
    set_limit(t->blk, THROTTLE_OPS_TOTAL, 10, NULL);
    t->thread = g_thread_new("iothread", iothread_fn, t);
    while (!g_atomic_int_get(&t->submitted) || clock_virtual_deadline() < 0) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    g_assert_cmpint(clock_virtual_deadline(), ==, t0 + 100 * MS);
    fake_now = t0 + 100 * MS;
    clock_run_virtual_timers();
    g_thread_join(t->thread);
    g_assert_cmpint(t->done, ==, 3);
    g_assert_cmpint(t->wrong_thread, ==, 0);
    g_free(t);
    end();
}

/* ---- -drive ---- */

static BlockBackend *drive(const char *optstr, Error **errp)
{
    Opts *o = drive_def(optstr, &error_abort);
    BlockBackend *blk = drive_new(o, IF_NONE, errp);

    opts_free(o);
    return blk;
}

static void test_drive_options(void)
{
    BlockBackend *a = drive("if=none,id=td0,driver=testmem,throttling.iops-total=10,"
                            "throttling.iops-total-max=20,throttling.iops-total-max-length=3,"
                            "throttling.bps-read=4096,throttling.group=grp",
                            &error_abort);
    BlockBackend *b = drive("if=none,id=td1,driver=testmem,iops_wr=5,iops_size=4096", &error_abort);
    BlockBackend *c = drive("if=none,id=td2,driver=testmem", &error_abort);
    g_autofree char *ga = blk_get_io_limits_group(a);
    g_autofree char *gb = blk_get_io_limits_group(b);
    ThrottleConfig cfg;
    Error *err = NULL;

    g_assert_true(blk_get_io_limits(a, &cfg));
    g_assert_cmpuint(cfg.buckets[THROTTLE_OPS_TOTAL].avg, ==, 10);
    g_assert_cmpuint(cfg.buckets[THROTTLE_OPS_TOTAL].max, ==, 20);
    g_assert_cmpuint(cfg.buckets[THROTTLE_OPS_TOTAL].burst_length, ==, 3);
    g_assert_cmpuint(cfg.buckets[THROTTLE_BPS_READ].avg, ==, 4096);
    g_assert_cmpuint(cfg.buckets[THROTTLE_BPS_READ].burst_length, ==, 1);
    g_assert_cmpstr(ga, ==, "grp");
    g_assert_cmpstr(blk_legacy_dinfo(a)->throttle_group, ==, "grp");
    g_assert_true(blk_get_io_limits(b, &cfg));
    g_assert_cmpuint(cfg.buckets[THROTTLE_OPS_WRITE].avg, ==, 5);
    g_assert_cmpuint(cfg.op_size, ==, 4096);
    g_assert_cmpstr(gb, ==, "td1");
    g_assert_false(blk_get_io_limits(c, &cfg));

    g_assert_null(drive("if=none,id=td3,driver=testmem,throttling.iops-total=10,"
                        "throttling.iops-total-max-length=2",
                        &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "burst length set without burst rate");
    g_clear_pointer(&err, error_free);
    g_assert_null(drive("if=none,id=td3,driver=testmem,throttling.bps-write=10,"
                        "throttling.bps-write-max=20,throttling.bps-write-max-length=0",
                        &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "the burst length cannot be 0");
    g_clear_pointer(&err, error_free);
    g_assert_null(drive("if=none,id=td3,driver=testmem,throttling.group=x,"
                        "throttling.iops-size=x",
                        &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Parameter 'throttling.iops-size' expects a number");
    error_free(err);
    blk_unref(a);
    blk_unref(b);
    blk_unref(c);
}

/* Limit checks come first: nothing changes on an invalid setting. */
static void test_invalid_settings(void)
{
    begin(1);
    ThrottleConfig cfg = limit(THROTTLE_OPS_TOTAL, 10);
    Error *err = NULL;

    cfg.buckets[THROTTLE_OPS_READ].avg = 5;
    g_assert_false(blk_set_io_limits(backends[0], &cfg, NULL, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "bps/iops/max total values and read/write values cannot be used at the "
                    "same time");
    error_free(err);
    g_assert_false(blk_get_io_limits(backends[0], &cfg));
    end();
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    main_loop_init();
    clock_set_virtual_source(fake_clock);
    test_drivers_register();
    g_test_add_func("/throttle-group/release-times", test_release_times);
    g_test_add_func("/throttle-group/release-sub-ms", test_release_sub_ms);
    g_test_add_func("/throttle-group/bps-write", test_bps_write);
    g_test_add_func("/throttle-group/read-write-alternate", test_read_write_alternate);
    g_test_add_func("/throttle-group/round-robin", test_group_round_robin);
    g_test_add_func("/throttle-group/member-leaves", test_group_member_leaves);
    g_test_add_func("/throttle-group/reconfigure-queued", test_reconfigure_queued);
    g_test_add_func("/throttle-group/disable-drains", test_disable_drains);
    g_test_add_func("/throttle-group/drain-releases", test_drain_releases);
    g_test_add_func("/throttle-group/move-group", test_move_group);
    g_test_add_func("/throttle-group/iothread", test_iothread);
    g_test_add_func("/throttle-group/drive-options", test_drive_options);
    g_test_add_func("/throttle-group/invalid-settings", test_invalid_settings);
    ret = g_test_run();
    g_hash_table_destroy(test_images);
    return ret;
}
