/*
 * The leaky-bucket throttling engine: pure arithmetic over a ThrottleConfig, with every
 * timestamp passed in by the caller, so it unit-tests to the nanosecond. Six buckets (bps and
 * iops, each total/read/write) fill with each admitted request's bytes or operations and leak
 * at their average rate; a request may start when no bucket it touches is over its size. A
 * bucket with a burst rate holds max x burst-length units, and when the burst lasts longer
 * than one second a second bucket (size max/10, leaking at max) keeps the burst rate itself.
 * No timers, queues or locks: those are the BlockBackend layer's (block/throttle-groups.c).
 * docs/throttling.md explains the algorithm with a worked example.
 */
#ifndef BLOCK_THROTTLE_H
#define BLOCK_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>
#include "block/throttle-config.h"

#define THROTTLE_NS_PER_SEC 1000000000ULL

/* A bucket level in units x 10^9: leaking avg units/s for d ns removes exactly avg x d. */
typedef unsigned __int128 ThrottleLevel;

typedef struct ThrottleState {
    ThrottleConfig cfg;
    ThrottleLevel level[THROTTLE_BUCKET_MAX];
    ThrottleLevel burst_level[THROTTLE_BUCKET_MAX]; /* only with burst_length > 1 */
    int64_t previous_leak;                          /* ns; the buckets are leaked up to here */
} ThrottleState;

/* Apply cfg (copied) with empty buckets, as of time now: QEMU resets the levels too. */
void throttle_config(ThrottleState *ts, const ThrottleConfig *cfg, int64_t now);
/* Let every bucket leak for the time since the previous leak (a clock going back: nothing). */
void throttle_leak(ThrottleState *ts, int64_t now);
/*
 * Nanoseconds, from the previous leak, before a request in this direction may start: 0 when
 * it may start now. Each bucket is rounded up to a whole ns so that after the wait the
 * bucket is exactly at or below its size.
 */
int64_t throttle_compute_wait(const ThrottleState *ts, bool is_write);
/* throttle_leak(now), then throttle_compute_wait(). */
int64_t throttle_wait_at(ThrottleState *ts, bool is_write, int64_t now);
/*
 * Account an admitted request of bytes: its bytes go into the bps buckets, and 1 operation
 * into the iops buckets, or bytes / iops-size operations (fractional, as QEMU counts them)
 * when iops-size is set and the request is larger than it.
 */
void throttle_account(ThrottleState *ts, bool is_write, uint64_t bytes);
/* A bucket's level in units (for tests and diagnostics). */
double throttle_level(const ThrottleState *ts, ThrottleBucketType type);

#endif
