/*
 * Validation of user-stated I/O limits (ThrottleConfig), with QEMU 2.2's rules and texts:
 * a total limit and a read/write limit of the same kind may not be combined, and no value
 * may be negative (a QMP int64 below zero arrives here above INT64_MAX); burst lengths,
 * which came later, get later QEMU's rules and texts. Anything else is accepted as 2.2 did,
 * bursts below the average included. Not the leaky-bucket engine (block/throttle.c).
 */
#include <string.h>
#include <glib.h>
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

/* A burst length of 1 is the default, so only a longer one needs a burst rate. */
static const char *throttle_burst_length_error(const ThrottleBucketConfig *b)
{
    if (!b->burst_length) {
        return "the burst length cannot be 0";
    }
    if (b->burst_length > 1 && !b->max) {
        return "burst length set without burst rate";
    }
    if (b->burst_length > 1 && b->burst_length > THROTTLE_VALUE_MAX / b->max) {
        return "burst length too high for this burst rate";
    }
    return NULL;
}

static const char *const throttle_bucket_names[THROTTLE_BUCKET_MAX] = {
    [THROTTLE_BPS_TOTAL] = "bps-total",   [THROTTLE_BPS_READ] = "bps-read",
    [THROTTLE_BPS_WRITE] = "bps-write",   [THROTTLE_OPS_TOTAL] = "iops-total",
    [THROTTLE_OPS_READ] = "iops-read",    [THROTTLE_OPS_WRITE] = "iops-write",
};

/* Take throttling.NAME out of t (the throttling.* members, prefix stripped) as a number. */
static bool throttle_take_number(JsonObject *t, const char *name, uint64_t *out, Error **errp)
{
    Error *err = NULL;
    int64_t v;

    if (!dict_has(t, name)) {
        return true;
    }
    v = dict_get_int(t, name, 0, &err);
    dict_del(t, name);
    if (err) {
        error_free(err);
        error_setg(errp, "Parameter 'throttling.%s' expects a number", name);
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

static bool throttle_take_buckets(JsonObject *t, ThrottleConfig *cfg, Error **errp)
{
    for (int i = 0; i < THROTTLE_BUCKET_MAX; i++) {
        ThrottleBucketConfig *b = &cfg->buckets[i];
        g_autofree char *max = g_strdup_printf("%s-max", throttle_bucket_names[i]);
        g_autofree char *length = g_strdup_printf("%s-max-length", throttle_bucket_names[i]);

        if (!throttle_take_number(t, throttle_bucket_names[i], &b->avg, errp) ||
            !throttle_take_number(t, max, &b->max, errp) ||
            !throttle_take_number(t, length, &b->burst_length, errp)) {
            return false;
        }
    }
    return throttle_take_number(t, "iops-size", &cfg->op_size, errp);
}

bool throttle_config_take_opts(JsonObject *opts, ThrottleConfig *cfg, char **group,
                               Error **errp)
{
    g_autoptr(JsonObject) t = dict_extract_prefix(opts, "throttling.");
    g_auto(GStrv) rest = NULL;
    const char *name;

    throttle_config_init(cfg);
    name = dict_get_str(t, "group");
    *group = g_strdup(name);
    dict_del(t, "group");
    if (!throttle_take_buckets(t, cfg, errp)) {
        g_clear_pointer(group, g_free);
        return false;
    }
    rest = dict_keys_sorted(t);
    if (rest[0]) {
        error_setg(errp, "Invalid parameter 'throttling.%s'", rest[0]);
    }
    if (rest[0] || throttle_conflicting(cfg, errp) || !throttle_is_valid(cfg, errp)) {
        g_clear_pointer(group, g_free);
        return false;
    }
    return true;
}

bool throttle_is_valid(const ThrottleConfig *cfg, Error **errp)
{
    for (int i = 0; i < THROTTLE_BUCKET_MAX; i++) {
        if (cfg->buckets[i].avg > INT64_MAX || cfg->buckets[i].max > INT64_MAX) {
            error_setg(errp, "bps/iops/maxs values must be 0 or greater");
            return false;
        }
    }
    for (int i = 0; i < THROTTLE_BUCKET_MAX; i++) {
        const char *msg = throttle_burst_length_error(&cfg->buckets[i]);

        if (msg) {
            error_setg(errp, "%s", msg);
            return false;
        }
    }
    return true;
}
