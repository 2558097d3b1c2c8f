/*
 * block_set_io_throttle (QMP and HMP): QEMU 2.2's arguments (six average rates, their burst
 * maxima, iops_size) plus later QEMU's group and *_max_length, validated with the texts of
 * throttle-config.h and applied through the throttling layer (blk_set_io_limits), so that
 * query-block shows them and the next requests obey them. All-zero rates switch throttling
 * off. Not the engine (block/throttle*.c).
 */
#include <glib.h>
#include "block/block-backend.h"
#include "monitor/command.h"

/* QMP names of the buckets, in ThrottleBucketType order. */
static const char *const throttle_arg_names[THROTTLE_BUCKET_MAX] = {
    "bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr",
};

static void throttle_config_from_args(JsonObject *args, ThrottleConfig *cfg)
{
    throttle_config_init(cfg);
    for (int i = 0; i < THROTTLE_BUCKET_MAX; i++) {
        g_autofree char *max = g_strdup_printf("%s_max", throttle_arg_names[i]);
        g_autofree char *len = g_strdup_printf("%s_max_length", throttle_arg_names[i]);

        cfg->buckets[i].avg = monitor_arg_int(args, throttle_arg_names[i], 0);
        cfg->buckets[i].max = monitor_arg_int(args, max, 0);
        cfg->buckets[i].burst_length = monitor_arg_int(args, len, 1);
    }
    cfg->op_size = monitor_arg_int(args, "iops_size", 0);
}

static void qmp_block_set_io_throttle(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *device = monitor_arg_str(args, "device");
    BlockBackend *blk = blk_by_name(device);
    ThrottleConfig cfg;

    if (!blk) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_FOUND, "Device '%s' not found", device);
        return;
    }
    throttle_config_from_args(args, &cfg);
    if (throttle_conflicting(&cfg, errp) || !throttle_is_valid(&cfg, errp)) {
        return;
    }
    if (!throttle_enabled(&cfg)) {
        blk_io_limits_disable(blk);
        return;
    }
    blk_set_io_limits(blk, &cfg, monitor_arg_str(args, "group"), errp);
}

static const MonitorCommand throttle_cmds[] = {
    {.name = "block_set_io_throttle",
     .args_type = "device:B,bps:l,bps_rd:l,bps_wr:l,iops:l,iops_rd:l,iops_wr:l,"
                  "bps_max:l?,bps_rd_max:l?,bps_wr_max:l?,iops_max:l?,iops_rd_max:l?,"
                  "iops_wr_max:l?,iops_size:l?,group:s?,bps_max_length:l?,"
                  "bps_rd_max_length:l?,bps_wr_max_length:l?,iops_max_length:l?,"
                  "iops_rd_max_length:l?,iops_wr_max_length:l?",
     .fn = qmp_block_set_io_throttle,
     .hmp_name = "block_set_io_throttle",
     .hmp_args_type = "device:B,bps:l,bps_rd:l,bps_wr:l,iops:l,iops_rd:l,iops_wr:l",
     .hmp_params = "device bps bps_rd bps_wr iops iops_rd iops_wr",
     .hmp_help = "change I/O throttle limits for a block drive"},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(throttle_cmds);
