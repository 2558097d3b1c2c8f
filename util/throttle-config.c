/*
 * Validation of user-stated I/O limits (ThrottleConfig), with QEMU 2.2's rules and texts:
 * a total limit and a read/write limit of the same kind may not be combined, and no value
 * may be negative (a QMP int64 below zero arrives here above INT64_MAX). QEMU 2.2 accepts
 * anything else, bursts below the average included. Not the leaky-bucket engine.
 */
#include <string.h>
#include "block/throttle-config.h"

void throttle_config_init(ThrottleConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (int i = 0; i < THROTTLE_BUCKET_MAX; i++) {
        cfg->buckets[i].burst_length = 1;
    }
}

bool throttle_enabled(const ThrottleConfig *cfg)
{
    for (int i = 0; i < THROTTLE_BUCKET_MAX; i++) {
        if (cfg->buckets[i].avg > 0) {
            return true;
        }
    }
    return false;
}

/* The total bucket and a read or write bucket of one kind (bps or ops) are both set. */
static bool throttle_kind_conflicts(const ThrottleConfig *cfg, ThrottleBucketType total, bool burst)
{
    const ThrottleBucketConfig *b = cfg->buckets;

    if (burst) {
        return b[total].max && (b[total + 1].max || b[total + 2].max);
    }
    return b[total].avg && (b[total + 1].avg || b[total + 2].avg);
}

bool throttle_conflicting(const ThrottleConfig *cfg, Error **errp)
{
    bool conflict = throttle_kind_conflicts(cfg, THROTTLE_BPS_TOTAL, false) ||
                    throttle_kind_conflicts(cfg, THROTTLE_OPS_TOTAL, false) ||
                    throttle_kind_conflicts(cfg, THROTTLE_BPS_TOTAL, true) ||
                    throttle_kind_conflicts(cfg, THROTTLE_OPS_TOTAL, true);

    if (conflict) {
        error_setg(errp, "bps/iops/max total values and read/write values cannot be used at "
                         "the same time");
    }
    return conflict;
}

bool throttle_is_valid(const ThrottleConfig *cfg, Error **errp)
{
    for (int i = 0; i < THROTTLE_BUCKET_MAX; i++) {
        if (cfg->buckets[i].avg > INT64_MAX || cfg->buckets[i].max > INT64_MAX) {
            error_setg(errp, "bps/iops/maxs values must be 0 or greater");
            return false;
        }
    }
    return true;
}
