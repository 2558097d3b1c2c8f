/*
 * Unit tests for the throttle engine (block/throttle.c) and the limit checks
 * (util/throttle-config.c): waits against hand-computed values in nanoseconds for averages,
 * bursts with and without a burst length, iops-size accounting, read/write/total
 * combinations, and QEMU's messages for conflicting or malformed settings.
 */
#include <glib.h>
#include "block/throttle.h"

#define MS 1000000LL
#define SEC 1000000000LL

static ThrottleConfig cfg_one(ThrottleBucketType type, uint64_t avg, uint64_t max, uint64_t len)
{
    ThrottleConfig cfg;

    throttle_config_init(&cfg);
    cfg.buckets[type].avg = avg;
    cfg.buckets[type].max = max;
    cfg.buckets[type].burst_length = len;
    return cfg;
}

/* Admit a request at now if it may go; returns its wait (0: admitted). */
static int64_t try_io(ThrottleState *ts, bool is_write, uint64_t bytes, int64_t now)
{
    int64_t wait = throttle_wait_at(ts, is_write, now);

    if (!wait) {
        throttle_account(ts, is_write, bytes);
    }
    return wait;
}

/* iops-total=100 without a burst: the bucket holds 10 ops; each op over it costs 10 ms. */
static void test_avg_only(void)
{
    ThrottleConfig cfg = cfg_one(THROTTLE_OPS_TOTAL, 100, 0, 1);
    ThrottleState ts;

    throttle_config(&ts, &cfg, 0);
    for (int i = 0; i < 11; i++) {
        g_assert_cmpint(try_io(&ts, i & 1, 512, 0), ==, 0);
    }
    g_assert_cmpfloat(throttle_level(&ts, THROTTLE_OPS_TOTAL), ==, 11);
    g_assert_cmpint(throttle_wait_at(&ts, false, 0), ==, 10 * MS);
    g_assert_cmpint(throttle_wait_at(&ts, true, 0), ==, 10 * MS);
    /* Half-way the bucket has leaked half an op. */
    g_assert_cmpint(throttle_wait_at(&ts, false, 5 * MS), ==, 5 * MS);
    g_assert_cmpint(try_io(&ts, false, 512, 10 * MS - 1), ==, 1);
    g_assert_cmpint(try_io(&ts, false, 512, 10 * MS), ==, 0);
    g_assert_cmpint(throttle_wait_at(&ts, false, 10 * MS), ==, 10 * MS);
    /* A clock that goes back leaks nothing and does not move the reference. */
    g_assert_cmpint(throttle_wait_at(&ts, false, 0), ==, 10 * MS);
    g_assert_cmpint(throttle_wait_at(&ts, false, 15 * MS), ==, 5 * MS);
    /* After a long idle period the bucket is empty again. */
    throttle_leak(&ts, 10 * SEC);
    g_assert_cmpfloat(throttle_level(&ts, THROTTLE_OPS_TOTAL), ==, 0);
}

/* bps-read=1 MB/s: the bucket holds 100000 bytes; writes are not limited. */
static void test_bps_read(void)
{
    ThrottleConfig cfg = cfg_one(THROTTLE_BPS_READ, 1000000, 0, 1);
    ThrottleState ts;

    throttle_config(&ts, &cfg, 1 * SEC);
    g_assert_cmpint(try_io(&ts, false, 150000, 1 * SEC), ==, 0);
    g_assert_cmpint(throttle_wait_at(&ts, false, 1 * SEC), ==, 50 * MS);
    g_assert_cmpint(throttle_wait_at(&ts, true, 1 * SEC), ==, 0);
    g_assert_cmpint(try_io(&ts, true, 1 << 30, 1 * SEC), ==, 0);
    g_assert_cmpint(throttle_wait_at(&ts, false, 1 * SEC + 20 * MS), ==, 30 * MS);
    /* Waits round up to whole nanoseconds: 1 byte over at 1 MB/s is 1000 ns, 1 is 1. */
    throttle_config(&ts, &cfg, 0);
    throttle_account(&ts, false, 100001);
    g_assert_cmpint(throttle_compute_wait(&ts, false), ==, 1000);
    cfg = cfg_one(THROTTLE_BPS_READ, 3000000000ULL, 0, 1);
    throttle_config(&ts, &cfg, 0);
    throttle_account(&ts, false, 300000001);
    g_assert_cmpint(throttle_compute_wait(&ts, false), ==, 1);
}

/* A total limit is shared by both directions; a read limit and a write limit are not. */
static void test_total_and_directions(void)
{
    ThrottleConfig cfg;
    ThrottleState ts;

    throttle_config_init(&cfg);
    cfg.buckets[THROTTLE_OPS_READ].avg = 10;    /* holds 1 op */
    cfg.buckets[THROTTLE_OPS_WRITE].avg = 20;   /* holds 2 ops */
    cfg.buckets[THROTTLE_BPS_TOTAL].avg = 1000; /* holds 100 bytes */
    throttle_config(&ts, &cfg, 0);

    g_assert_cmpint(try_io(&ts, false, 50, 0), ==, 0);
    g_assert_cmpint(try_io(&ts, false, 50, 0), ==, 0);
    g_assert_cmpint(throttle_wait_at(&ts, false, 0), ==, 100 * MS); /* ops-read: 1 over at 10 */
    g_assert_cmpint(throttle_wait_at(&ts, true, 0), ==, 0);
    g_assert_cmpint(try_io(&ts, true, 10, 0), ==, 0);
    /* bps-total is 10 bytes over at 1000 B/s: 10 ms for writes; reads still need 100 ms. */
    g_assert_cmpint(throttle_wait_at(&ts, true, 0), ==, 10 * MS);
    g_assert_cmpint(throttle_wait_at(&ts, false, 0), ==, 100 * MS);
    g_assert_cmpfloat(throttle_level(&ts, THROTTLE_OPS_WRITE), ==, 1);
    g_assert_cmpfloat(throttle_level(&ts, THROTTLE_BPS_TOTAL), ==, 110);
    g_assert_cmpfloat(throttle_level(&ts, THROTTLE_BPS_READ), ==, 0); /* unlimited: empty */
    g_assert_cmpint(try_io(&ts, true, 10, 10 * MS), ==, 0);
    g_assert_cmpint(try_io(&ts, true, 10, 20 * MS), ==, 0);
    /* ops-write: 3 - 20 x 0.02 = 2.6 ops, 0.6 over at 20/s. */
    g_assert_cmpint(throttle_wait_at(&ts, true, 20 * MS), ==, 30 * MS);
}

/* bps and iops limits together: the longer wait wins. */
static void test_bps_and_iops(void)
{
    ThrottleConfig cfg;
    ThrottleState ts;

    throttle_config_init(&cfg);
    cfg.buckets[THROTTLE_OPS_TOTAL].avg = 100;
    cfg.buckets[THROTTLE_BPS_TOTAL].avg = 4096 * 100;
    throttle_config(&ts, &cfg, 0);
    for (int i = 0; i < 10; i++) {
        g_assert_cmpint(try_io(&ts, false, 4096, 0), ==, 0);
    }
    g_assert_cmpint(try_io(&ts, false, 8192, 0), ==, 0);
    /* bps: 12 x 4096 bytes, 2 x 4096 over at 100 x 4096 B/s = 20 ms; ops: 1 over = 10 ms. */
    g_assert_cmpint(throttle_wait_at(&ts, false, 0), ==, 20 * MS);
}

/* iops-size=4096: larger requests count proportionally (QEMU: 6 KiB is 1.5 ops). */
static void test_iops_size(void)
{
    ThrottleConfig cfg = cfg_one(THROTTLE_OPS_TOTAL, 100, 0, 1);
    ThrottleState ts;

    cfg.op_size = 4096;
    throttle_config(&ts, &cfg, 0);
    throttle_account(&ts, false, 512);
    g_assert_cmpfloat(throttle_level(&ts, THROTTLE_OPS_TOTAL), ==, 1);
    throttle_account(&ts, true, 4096);
    g_assert_cmpfloat(throttle_level(&ts, THROTTLE_OPS_TOTAL), ==, 2);
    throttle_account(&ts, false, 6144);
    g_assert_cmpfloat(throttle_level(&ts, THROTTLE_OPS_TOTAL), ==, 3.5);
    throttle_account(&ts, true, 65536);
    g_assert_cmpfloat(throttle_level(&ts, THROTTLE_OPS_TOTAL), ==, 19.5);
    /* 9.5 ops over the 10-op bucket at 100 ops/s. */
    g_assert_cmpint(throttle_compute_wait(&ts, false), ==, 95 * MS);
    /* A third of an op rounds up to the next nano-op: never under-counted. */
    cfg.op_size = 3;
    throttle_config(&ts, &cfg, 0);
    throttle_account(&ts, false, 4);
    g_assert_cmpuint((uint64_t)ts.level[THROTTLE_OPS_TOTAL], ==, 1333333334);
    /* Without iops-size every request is one op, whatever its size. */
    cfg.op_size = 0;
    throttle_config(&ts, &cfg, 0);
    throttle_account(&ts, false, 1 << 20);
    g_assert_cmpfloat(throttle_level(&ts, THROTTLE_OPS_TOTAL), ==, 1);
}

/* A burst of length 1 (QEMU 2.2's bursts): the bucket holds max units, no burst pacing. */
static void test_burst_length_one(void)
{
    ThrottleConfig cfg = cfg_one(THROTTLE_OPS_WRITE, 100, 50, 1);
    ThrottleState ts;
    int admitted = 0;

    throttle_config(&ts, &cfg, 0);
    while (try_io(&ts, true, 512, 0) == 0) {
        admitted++;
    }
    g_assert_cmpint(admitted, ==, 51);
    g_assert_cmpint(throttle_wait_at(&ts, true, 0), ==, 10 * MS);
    g_assert_cmpint(throttle_wait_at(&ts, false, 0), ==, 0);
    /* A maximum below the average (accepted by 2.2) just makes a small bucket. */
    cfg = cfg_one(THROTTLE_OPS_WRITE, 100, 5, 1);
    throttle_config(&ts, &cfg, 0);
    for (admitted = 0; try_io(&ts, true, 512, 0) == 0; admitted++) {
    }
    g_assert_cmpint(admitted, ==, 6);
    /* A maximum without an average limits nothing. */
    cfg = cfg_one(THROTTLE_OPS_WRITE, 0, 5, 1);
    throttle_config(&ts, &cfg, 0);
    for (int i = 0; i < 1000; i++) {
        g_assert_cmpint(try_io(&ts, true, 512, 0), ==, 0);
    }
}

/*
 * Issue requests back to back from start until end (each as soon as allowed) and count
 * them; returns the time the next one would have started.
 */
static int64_t run_greedy(ThrottleState *ts, bool is_write, uint64_t bytes, int64_t start,
                          int64_t end, int64_t *count)
{
    int64_t now = start;

    *count = 0;
    while (now < end) {
        int64_t wait = try_io(ts, is_write, bytes, now);

        if (wait) {
            now += wait;
        } else {
            (*count)++;
        }
    }
    return now;
}

/*
 * iops-total=100, iops-total-max=2000, iops-total-max-length=60 (docs/throttle.txt's
 * example): the main bucket holds 120000 ops, the burst bucket 200. 201 ops go at once,
 * then one every 0.5 ms; the main bucket fills at 1900 ops/s net, so the burst ends after
 * (120000 - 201) / 1900 = 63.05 s and the rate falls to 100 ops/s.
 */
static void test_burst_with_length(void)
{
    ThrottleConfig cfg = cfg_one(THROTTLE_OPS_TOTAL, 100, 2000, 60);
    ThrottleState ts;
    int64_t n, now;

    throttle_config(&ts, &cfg, 0);
    for (n = 0; try_io(&ts, false, 512, 0) == 0; n++) {
    }
    g_assert_cmpint(n, ==, 201);
    g_assert_cmpint(throttle_wait_at(&ts, false, 0), ==, SEC / 2000);

    now = run_greedy(&ts, false, 512, 0, 60 * SEC, &n);
    g_assert_cmpint(n, ==, 60 * 2000 - 1); /* at 0.5 ms, 1 ms, ... 59.9995 s */
    g_assert_cmpint(now, ==, 60 * SEC);
    now = run_greedy(&ts, false, 512, now, 63 * SEC, &n);
    g_assert_cmpint(n, ==, 3 * 2000);
    /*
     * The main bucket is over its size before an op at T when 200 + 1900 T > 120000: the
     * burst goes on at 0.5 ms steps until 63.0525 s (106 ops), then 94 ops at 10 ms steps.
     */
    now = run_greedy(&ts, false, 512, now, 64 * SEC, &n);
    g_assert_cmpint(n, ==, 106 + 94);
    now = run_greedy(&ts, false, 512, now, 74 * SEC, &n);
    g_assert_cmpint(n, ==, 10 * 100);
    g_assert_cmpfloat(throttle_level(&ts, THROTTLE_OPS_TOTAL), ==, 120001);

    /*
     * Ten idle seconds leak 1000 ops and empty the burst bucket: 201 ops at once, the burst
     * rate until 119001 + 200 + 1900 t > 120000 (t > 0.4205 s: 841 ops), then 8 at 100/s.
     */
    throttle_leak(&ts, now + 10 * SEC);
    run_greedy(&ts, false, 512, now + 10 * SEC, now + 10 * SEC + 500 * MS, &n);
    g_assert_cmpint(n, ==, 201 + 841 + 8);
}

/* Long bursts of bytes: the burst rate is still the limit within the burst. */
static void test_bps_burst_with_length(void)
{
    ThrottleConfig cfg = cfg_one(THROTTLE_BPS_TOTAL, 1000000, 4000000, 5);
    ThrottleState ts;
    int64_t n, now;

    throttle_config(&ts, &cfg, 0);
    /* The first second: the burst bucket (400000 bytes) at once, then one every 25 ms. */
    now = run_greedy(&ts, false, 100000, 0, 1 * SEC, &n);
    g_assert_cmpint(n, ==, 5 + 39);
    /* The main bucket (20 MB) fills at 3 MB/s net: full after 6.53 s, then 1 MB/s. */
    now = run_greedy(&ts, true, 100000, now, 6 * SEC, &n);
    g_assert_cmpint(n, ==, 5 * 40);
    now = run_greedy(&ts, true, 100000, now, 8 * SEC, &n);
    g_assert_cmpint(n, ==, 36); /* 21 in 0.53 s at 40/s, then 15 at 10/s */
    run_greedy(&ts, true, 100000, now, 18 * SEC, &n);
    g_assert_cmpint(n, ==, 10 * 10);
}

/* Reconfiguring empties the buckets (as QEMU does) and applies the new rates at once. */
static void test_reconfigure(void)
{
    ThrottleConfig cfg = cfg_one(THROTTLE_OPS_TOTAL, 10, 0, 1);
    ThrottleState ts;

    throttle_config(&ts, &cfg, 0);
    for (int i = 0; i < 5; i++) {
        throttle_account(&ts, false, 512);
    }
    g_assert_cmpint(throttle_wait_at(&ts, false, 0), ==, 400 * MS); /* 4 over at 10/s */
    cfg.buckets[THROTTLE_OPS_TOTAL].avg = 1000;
    throttle_config(&ts, &cfg, 0);
    g_assert_cmpint(throttle_wait_at(&ts, false, 0), ==, 0);
    g_assert_cmpfloat(throttle_level(&ts, THROTTLE_OPS_TOTAL), ==, 0);
}

/* Limits as large as the checks allow neither overflow nor wrap. */
static void test_extremes(void)
{
    ThrottleConfig cfg = cfg_one(THROTTLE_BPS_TOTAL, INT64_MAX, INT64_MAX, 1);
    ThrottleState ts;

    g_assert_true(throttle_is_valid(&cfg, &error_abort));
    throttle_config(&ts, &cfg, 0);
    for (int i = 0; i < 2; i++) {
        g_assert_cmpint(try_io(&ts, false, (uint64_t)INT64_MAX, 0), ==, 0);
    }
    g_assert_cmpint(throttle_wait_at(&ts, false, 0), ==, 1 * SEC);
    throttle_leak(&ts, INT64_MAX);
    g_assert_cmpfloat(throttle_level(&ts, THROTTLE_BPS_TOTAL), ==, 0);

    cfg = cfg_one(THROTTLE_BPS_TOTAL, 1, 1, THROTTLE_VALUE_MAX);
    g_assert_true(throttle_is_valid(&cfg, &error_abort));
    throttle_config(&ts, &cfg, 0);
    throttle_account(&ts, false, (uint64_t)INT64_MAX);
    throttle_account(&ts, false, (uint64_t)INT64_MAX);
    g_assert_cmpint(throttle_compute_wait(&ts, false), ==, INT64_MAX);
}

static void check_invalid(const ThrottleConfig *cfg, const char *msg)
{
    Error *err = NULL;
    bool bad = throttle_conflicting(cfg, &err) || !throttle_is_valid(cfg, &err);

    g_assert_true(bad);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
}

static void check_valid(const ThrottleConfig *cfg)
{
    g_assert_false(throttle_conflicting(cfg, &error_abort));
    g_assert_true(throttle_is_valid(cfg, &error_abort));
}

static void test_conflicts(void)
{
    static const char conflict[] =
        "bps/iops/max total values and read/write values cannot be used at the same time";
    static const struct {
        ThrottleBucketType total, other;
        bool burst;
    } cases[] = {
        {THROTTLE_BPS_TOTAL, THROTTLE_BPS_READ, false},
        {THROTTLE_BPS_TOTAL, THROTTLE_BPS_WRITE, false},
        {THROTTLE_OPS_TOTAL, THROTTLE_OPS_READ, false},
        {THROTTLE_OPS_TOTAL, THROTTLE_OPS_WRITE, false},
        {THROTTLE_BPS_TOTAL, THROTTLE_BPS_WRITE, true},
        {THROTTLE_OPS_TOTAL, THROTTLE_OPS_READ, true},
    };
    ThrottleConfig cfg;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        throttle_config_init(&cfg);
        cfg.buckets[cases[i].total].avg = 10;
        cfg.buckets[cases[i].other].avg = 10;
        if (cases[i].burst) {
            cfg.buckets[cases[i].total].avg = 0;
            cfg.buckets[cases[i].total].max = 10;
            cfg.buckets[cases[i].other].max = 20;
        }
        check_invalid(&cfg, conflict);
    }
    /* Different kinds may be mixed: bps-total with iops-read, bps-read with bps-write. */
    throttle_config_init(&cfg);
    cfg.buckets[THROTTLE_BPS_TOTAL].avg = 10;
    cfg.buckets[THROTTLE_OPS_READ].avg = 10;
    check_valid(&cfg);
    throttle_config_init(&cfg);
    cfg.buckets[THROTTLE_BPS_READ].avg = 10;
    cfg.buckets[THROTTLE_BPS_WRITE].avg = 10;
    check_valid(&cfg);
}

static void test_invalid_values(void)
{
    ThrottleConfig cfg = cfg_one(THROTTLE_OPS_READ, (uint64_t)-1, 0, 1);

    check_invalid(&cfg, "bps/iops/maxs values must be 0 or greater");
    cfg = cfg_one(THROTTLE_BPS_WRITE, 10, (uint64_t)-5, 1);
    check_invalid(&cfg, "bps/iops/maxs values must be 0 or greater");
    cfg = cfg_one(THROTTLE_BPS_WRITE, 10, 20, 0);
    check_invalid(&cfg, "the burst length cannot be 0");
    cfg = cfg_one(THROTTLE_OPS_TOTAL, 10, 0, 2);
    check_invalid(&cfg, "burst length set without burst rate");
    cfg = cfg_one(THROTTLE_OPS_TOTAL, 1, 3, THROTTLE_VALUE_MAX / 2);
    check_invalid(&cfg, "burst length too high for this burst rate");
    cfg = cfg_one(THROTTLE_OPS_TOTAL, 1, 2, THROTTLE_VALUE_MAX / 2);
    check_valid(&cfg);
    /* 2.2 accepts a burst below the average, a burst without one, iops-size alone. */
    cfg = cfg_one(THROTTLE_OPS_TOTAL, 100, 10, 1);
    check_valid(&cfg);
    cfg = cfg_one(THROTTLE_OPS_TOTAL, 0, 10, 1);
    check_valid(&cfg);
    g_assert_false(throttle_enabled(&cfg));
    throttle_config_init(&cfg);
    cfg.op_size = 4096;
    check_valid(&cfg);
    g_assert_false(throttle_enabled(&cfg));
}

static JsonObject *dict_of(const char *json)
{
    JsonNode *node = json_from_string(json, NULL);
    JsonObject *obj = json_object_ref(json_node_get_object(node));

    json_node_unref(node);
    return obj;
}

static void check_take_fails(const char *json, const char *msg)
{
    g_autoptr(JsonObject) opts = dict_of(json);
    ThrottleConfig cfg;
    char *group = (char *)"unset";
    Error *err = NULL;

    g_assert_false(throttle_config_take_opts(opts, &cfg, &group, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    g_assert_null(group);
    error_free(err);
}

/* The throttling.* options of a flat dictionary (minivmm-io -o). */
static void test_take_opts(void)
{
    g_autoptr(JsonObject) opts =
        dict_of("{\"throttling.iops-total\":\"10\",\"throttling.bps-read\":5,"
                "\"throttling.bps-read-max\":\"20\",\"throttling.bps-read-max-length\":\"3\","
                "\"throttling.iops-size\":\"4096\",\"throttling.group\":\"g\","
                "\"cache.direct\":\"on\"}");
    g_autofree char *group = NULL;
    ThrottleConfig cfg;

    g_assert_true(throttle_config_take_opts(opts, &cfg, &group, &error_abort));
    g_assert_cmpuint(cfg.buckets[THROTTLE_OPS_TOTAL].avg, ==, 10);
    g_assert_cmpuint(cfg.buckets[THROTTLE_OPS_TOTAL].burst_length, ==, 1);
    g_assert_cmpuint(cfg.buckets[THROTTLE_BPS_READ].avg, ==, 5);
    g_assert_cmpuint(cfg.buckets[THROTTLE_BPS_READ].max, ==, 20);
    g_assert_cmpuint(cfg.buckets[THROTTLE_BPS_READ].burst_length, ==, 3);
    g_assert_cmpuint(cfg.op_size, ==, 4096);
    g_assert_cmpstr(group, ==, "g");
    g_assert_cmpuint(json_object_get_size(opts), ==, 1);
    g_assert_true(json_object_has_member(opts, "cache.direct"));

    check_take_fails("{\"throttling.iops\":1}", "Invalid parameter 'throttling.iops'");
    check_take_fails("{\"throttling.bps-write\":\"1k\"}",
                     "Parameter 'throttling.bps-write' expects a number");
    check_take_fails("{\"throttling.iops-read\":\"-1\"}",
                     "bps/iops/maxs values must be 0 or greater");
    check_take_fails("{\"throttling.bps-total\":1,\"throttling.bps-write\":1,"
                     "\"throttling.group\":\"g\"}",
                     "bps/iops/max total values and read/write values cannot be used at the "
                     "same time");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/throttle/avg-only", test_avg_only);
    g_test_add_func("/throttle/bps-read", test_bps_read);
    g_test_add_func("/throttle/total-and-directions", test_total_and_directions);
    g_test_add_func("/throttle/bps-and-iops", test_bps_and_iops);
    g_test_add_func("/throttle/iops-size", test_iops_size);
    g_test_add_func("/throttle/burst-length-one", test_burst_length_one);
    g_test_add_func("/throttle/burst-with-length", test_burst_with_length);
    g_test_add_func("/throttle/bps-burst-with-length", test_bps_burst_with_length);
    g_test_add_func("/throttle/reconfigure", test_reconfigure);
    g_test_add_func("/throttle/extremes", test_extremes);
    g_test_add_func("/throttle/conflicts", test_conflicts);
    g_test_add_func("/throttle/invalid-values", test_invalid_values);
    g_test_add_func("/throttle/take-opts", test_take_opts);
    return g_test_run();
}
