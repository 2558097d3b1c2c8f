/*
 * The block jobs' rate limiter: pure arithmetic on a clock the caller reads (no timers, no
 * locks), so it unit-tests without a VM. It spaces dispatches so that, over any long run,
 * bytes / elapsed time stays within one chunk of the speed: each dispatch of n bytes moves
 * the "next allowed" instant n / speed seconds later, and a dispatch before that instant is
 * told how long to wait. Not the guest I/O throttling (throttle.h), which is QEMU's
 * leaky-bucket algorithm with bursts.
 */
#ifndef BLOCK_RATELIMIT_H
#define BLOCK_RATELIMIT_H

#include <stdint.h>

typedef struct RateLimit {
    uint64_t speed;  /* bytes per second; 0 = unlimited */
    int64_t next_ns; /* earliest instant of the next dispatch */
} RateLimit;

/* Set the speed (0: unlimited); the next dispatch may happen at once. */
void ratelimit_set_speed(RateLimit *rl, uint64_t speed, int64_t now_ns);
/*
 * How long to wait (ns) before dispatching n bytes at now_ns: 0 means go, and the n bytes
 * are accounted; > 0 means nothing was accounted, ask again after that delay. Credit never
 * accumulates beyond 100 ms of idle time.
 */
int64_t ratelimit_calculate_delay(RateLimit *rl, int64_t now_ns, uint64_t n);

#endif
