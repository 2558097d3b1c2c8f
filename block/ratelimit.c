/*
 * The block jobs' rate limiter (include/block/ratelimit.h): pure arithmetic. Not the guest
 * throttling (throttle.c).
 */
#include "block/ratelimit.h"

#define NS_PER_SEC 1000000000LL
#define MAX_IDLE_CREDIT_NS (NS_PER_SEC / 10)

void ratelimit_set_speed(RateLimit *rl, uint64_t speed, int64_t now_ns)
{
    rl->speed = speed;
    rl->next_ns = now_ns;
}

int64_t ratelimit_calculate_delay(RateLimit *rl, int64_t now_ns, uint64_t n)
{
    if (rl->speed == 0) {
        return 0;
    }
    if (rl->next_ns > now_ns) {
        return rl->next_ns - now_ns;
    }
    if (rl->next_ns < now_ns - MAX_IDLE_CREDIT_NS) {
        rl->next_ns = now_ns - MAX_IDLE_CREDIT_NS;
    }
    /* 128-bit product: n * 1e9 overflows 64 bits for n beyond ~18 GB. */
    rl->next_ns += (int64_t)((unsigned __int128)n * NS_PER_SEC / rl->speed);
    return 0;
}
