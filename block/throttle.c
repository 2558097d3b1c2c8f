/*
 * The leaky-bucket throttling engine (QEMU 2.6's model, of which 2.2's is the case of a
 * burst length of 1): levels in units x 10^9, so a leak over d ns at avg units/s is the
 * integer avg x d and waits come out exact. Pure: no clock is read here, no timer armed.
 * Not the configuration checks (util/throttle-config.c) and not the request queues.
 */
#include <string.h>
#include <glib.h>
#include "block/throttle.h"

/* Which buckets a request fills: the bps ones with its bytes, the iops ones with ops. */
static const ThrottleBucketType bps_buckets[2][2] = {
    {THROTTLE_BPS_TOTAL, THROTTLE_BPS_READ},
    {THROTTLE_BPS_TOTAL, THROTTLE_BPS_WRITE},
};
static const ThrottleBucketType ops_buckets[2][2] = {
    {THROTTLE_OPS_TOTAL, THROTTLE_OPS_READ},
    {THROTTLE_OPS_TOTAL, THROTTLE_OPS_WRITE},
};

void throttle_config(ThrottleState *ts, const ThrottleConfig *cfg, int64_t now)
{
    memset(ts, 0, sizeof(*ts));
    ts->cfg = *cfg;
    ts->previous_leak = now;
}

static ThrottleLevel level_sub(ThrottleLevel level, ThrottleLevel leak)
{
    return level > leak ? level - leak : 0;
}

void throttle_leak(ThrottleState *ts, int64_t now)
{
    int64_t delta = now - ts->previous_leak;

    if (delta <= 0) {
        return;
    }
    ts->previous_leak = now;
    for (int i = 0; i < THROTTLE_BUCKET_MAX; i++) {
        const ThrottleBucketConfig *b = &ts->cfg.buckets[i];

        ts->level[i] = level_sub(ts->level[i], (ThrottleLevel)b->avg * (uint64_t)delta);
        if (b->burst_length > 1) {
            ts->burst_level[i] =
                level_sub(ts->burst_level[i], (ThrottleLevel)b->max * (uint64_t)delta);
        }
    }
}

/* ns until a level `extra` above its bucket's size has leaked at rate units/s, rounded up. */
static int64_t wait_for(ThrottleLevel extra, uint64_t rate)
{
    ThrottleLevel ns = (extra + rate - 1) / rate;

    return ns > INT64_MAX ? INT64_MAX : (int64_t)ns;
}

/*
 * Without a burst rate the bucket holds a tenth of a second at the average (QEMU's allowance
 * for guests that batch their I/O); with one it holds max x burst_length, and a burst longer
 * than a second is also held to max by the burst bucket of max / 10.
 */
static int64_t bucket_wait(const ThrottleState *ts, ThrottleBucketType i)
{
    const ThrottleBucketConfig *b = &ts->cfg.buckets[i];
    ThrottleLevel size, burst_size;

    if (!b->avg) {
        return 0;
    }
    if (!b->max) {
        size = (ThrottleLevel)b->avg * (THROTTLE_NS_PER_SEC / 10);
        burst_size = 0;
    } else {
        size = (ThrottleLevel)b->max * b->burst_length * THROTTLE_NS_PER_SEC;
        burst_size = (ThrottleLevel)b->max * (THROTTLE_NS_PER_SEC / 10);
    }
    if (ts->level[i] > size) {
        return wait_for(ts->level[i] - size, b->avg);
    }
    if (b->burst_length > 1 && ts->burst_level[i] > burst_size) {
        return wait_for(ts->burst_level[i] - burst_size, b->max);
    }
    return 0;
}

int64_t throttle_compute_wait(const ThrottleState *ts, bool is_write)
{
    int64_t wait = 0;

    for (int k = 0; k < 2; k++) {
        wait = MAX(wait, bucket_wait(ts, bps_buckets[is_write][k]));
        wait = MAX(wait, bucket_wait(ts, ops_buckets[is_write][k]));
    }
    return wait;
}

int64_t throttle_wait_at(ThrottleState *ts, bool is_write, int64_t now)
{
    throttle_leak(ts, now);
    return throttle_compute_wait(ts, is_write);
}

/* Unlimited buckets stay empty: they would only grow. */
static void bucket_fill(ThrottleState *ts, ThrottleBucketType i, ThrottleLevel amount)
{
    if (!ts->cfg.buckets[i].avg) {
        return;
    }
    ts->level[i] += amount;
    if (ts->cfg.buckets[i].burst_length > 1) {
        ts->burst_level[i] += amount;
    }
}

void throttle_account(ThrottleState *ts, bool is_write, uint64_t bytes)
{
    uint64_t op_size = ts->cfg.op_size;
    ThrottleLevel size = (ThrottleLevel)bytes * THROTTLE_NS_PER_SEC;
    ThrottleLevel units = THROTTLE_NS_PER_SEC;

    if (op_size && bytes > op_size) {
        units = (size + op_size - 1) / op_size;
    }
    for (int k = 0; k < 2; k++) {
        bucket_fill(ts, bps_buckets[is_write][k], size);
        bucket_fill(ts, ops_buckets[is_write][k], units);
    }
}

double throttle_level(const ThrottleState *ts, ThrottleBucketType type)
{
    return (double)ts->level[type] / THROTTLE_NS_PER_SEC;
}
