/*
 * Unit tests for the block jobs' rate limiter (block/ratelimit.c): exact spacing, the
 * long-run rate, idle credit and speed changes.
 */
#include <glib.h>
#include "block/ratelimit.h"

#define SEC 1000000000LL

static void test_unlimited(void)
{
    RateLimit rl;

    ratelimit_set_speed(&rl, 0, 0);
    for (int i = 0; i < 100; i++) {
        g_assert_cmpint(ratelimit_calculate_delay(&rl, 0, 1 << 20), ==, 0);
    }
}

static void test_spacing(void)
{
    RateLimit rl;

    ratelimit_set_speed(&rl, 1 << 20, 0);
    g_assert_cmpint(ratelimit_calculate_delay(&rl, 0, 512 * 1024), ==, 0);
    /* The next half mebibyte may go half a second later, not before. */
    g_assert_cmpint(ratelimit_calculate_delay(&rl, 0, 512 * 1024), ==, SEC / 2);
    g_assert_cmpint(ratelimit_calculate_delay(&rl, SEC / 4, 512 * 1024), ==, SEC / 4);
    g_assert_cmpint(ratelimit_calculate_delay(&rl, SEC / 2, 512 * 1024), ==, 0);
}

/* A caller that sleeps exactly as told moves speed * T bytes in T, within one chunk. */
static void test_long_run_rate(void)
{
    const uint64_t speeds[] = {1000, 65536, 3 << 20, 100 << 20};
    const uint64_t chunk = 64 * 1024;

    for (unsigned i = 0; i < G_N_ELEMENTS(speeds); i++) {
        RateLimit rl;
        int64_t now = 5 * SEC;
        uint64_t moved = 0;

        ratelimit_set_speed(&rl, speeds[i], now);
        while (now < 15 * SEC) {
            int64_t d = ratelimit_calculate_delay(&rl, now, chunk);

            if (d > 0) {
                now += d;
                continue;
            }
            moved += chunk;
        }
        g_assert_cmpuint(moved, >=, speeds[i] * 10);
        g_assert_cmpuint(moved, <=, speeds[i] * 10 + 2 * chunk);
    }
}

static void test_idle_credit_is_bounded(void)
{
    RateLimit rl;
    uint64_t burst = 0;

    ratelimit_set_speed(&rl, 10 << 20, 0);
    /* After 100 s idle at most 100 ms worth (1 MiB) goes without waiting, plus one chunk. */
    while (ratelimit_calculate_delay(&rl, 100 * SEC, 4096) == 0) {
        burst += 4096;
    }
    g_assert_cmpuint(burst, <=, (1 << 20) + 4096);
    g_assert_cmpuint(burst, >=, 1 << 20);
}

static void test_speed_change_restarts(void)
{
    RateLimit rl;

    ratelimit_set_speed(&rl, 1, 0);
    g_assert_cmpint(ratelimit_calculate_delay(&rl, 0, 1000), ==, 0);
    g_assert_cmpint(ratelimit_calculate_delay(&rl, 0, 1000), ==, 1000 * SEC);
    ratelimit_set_speed(&rl, 1000, 0);
    g_assert_cmpint(ratelimit_calculate_delay(&rl, 0, 1000), ==, 0);
    ratelimit_set_speed(&rl, 0, 0);
    g_assert_cmpint(ratelimit_calculate_delay(&rl, 0, 1000), ==, 0);
}

static void test_huge_chunk_no_overflow(void)
{
    RateLimit rl;

    ratelimit_set_speed(&rl, 1ULL << 40, 0);
    g_assert_cmpint(ratelimit_calculate_delay(&rl, 0, 1ULL << 45), ==, 0);
    g_assert_cmpint(ratelimit_calculate_delay(&rl, 0, 1), ==, 32 * SEC);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ratelimit/unlimited", test_unlimited);
    g_test_add_func("/ratelimit/spacing", test_spacing);
    g_test_add_func("/ratelimit/long-run-rate", test_long_run_rate);
    g_test_add_func("/ratelimit/idle-credit", test_idle_credit_is_bounded);
    g_test_add_func("/ratelimit/speed-change", test_speed_change_restarts);
    g_test_add_func("/ratelimit/huge-chunk", test_huge_chunk_no_overflow);
    return g_test_run();
}
