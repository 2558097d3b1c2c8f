/*
 * I/O limits as the user states them (-drive throttling.*, block_set_io_throttle): six
 * buckets (bps/iops x total/read/write), each with an average rate, a burst maximum and a
 * burst length, plus the iops-size accounting unit. Validation lives here; the leaky-bucket
 * engine that enforces them is a separate piece (block/throttle.c).
 */
#ifndef BLOCK_THROTTLE_CONFIG_H
#define BLOCK_THROTTLE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include "util/error.h"
#include "util/qdict.h"

/* QEMU's bound on a burst: max x burst length may not exceed it. */
#define THROTTLE_VALUE_MAX 1000000000000000ULL

typedef enum ThrottleBucketType {
    THROTTLE_BPS_TOTAL,
    THROTTLE_BPS_READ,
    THROTTLE_BPS_WRITE,
    THROTTLE_OPS_TOTAL,
    THROTTLE_OPS_READ,
    THROTTLE_OPS_WRITE,
    THROTTLE_BUCKET_MAX,
} ThrottleBucketType;

typedef struct ThrottleBucketConfig {
    uint64_t avg;         /* units per second; 0 = unlimited */
    uint64_t max;         /* burst rate; 0 = no burst beyond avg */
    uint64_t burst_length; /* seconds the burst may last (*-max-length; 1 when unset) */
} ThrottleBucketConfig;

typedef struct ThrottleConfig {
    ThrottleBucketConfig buckets[THROTTLE_BUCKET_MAX];
    uint64_t op_size;     /* iops-size: bytes counted as one operation; 0 = every op is one */
} ThrottleConfig;

/* No limits: every bucket zero, burst_length 1. */
void throttle_config_init(ThrottleConfig *cfg);
/* Some average rate is set (QEMU 2.2: a burst maximum alone does not enable throttling). */
bool throttle_enabled(const ThrottleConfig *cfg);
/*
 * True (with "bps/iops/max total values and read/write values cannot be used at the same
 * time" in errp) if a total and a read/write limit of the same kind are given together.
 */
bool throttle_conflicting(const ThrottleConfig *cfg, Error **errp);
/*
 * False with QEMU's message if an average or maximum is negative, i.e. above INT64_MAX
 * ("bps/iops/maxs values must be 0 or greater", 2.2's text), or a burst length is wrong
 * (later QEMU's rules and texts): 0 ("the burst length cannot be 0"), above 1 without a
 * burst rate ("burst length set without burst rate"), or max x length above
 * THROTTLE_VALUE_MAX ("burst length too high for this burst rate"). As in QEMU 2.2, a
 * maximum below its average, or without one, is accepted.
 */
bool throttle_is_valid(const ThrottleConfig *cfg, Error **errp);
/*
 * Move the throttling.* options of a flat option dictionary (numbers or strings, as -o gives
 * them) into *cfg (initialised here) and *group (NULL when absent; g_free it), then check
 * them as above. Names are -drive's: throttling.bps-total ... throttling.iops-write, each
 * with -max and -max-length, throttling.iops-size and throttling.group. Other errors:
 * "Parameter 'throttling.X' expects a number", "Invalid parameter 'throttling.X'".
 */
bool throttle_config_take_opts(JsonObject *opts, ThrottleConfig *cfg, char **group,
                               Error **errp);

#endif
