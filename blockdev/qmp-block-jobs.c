/*
 * The block job control commands, QMP and HMP, with QEMU 2.2's checks and texts:
 * query-block-jobs (info block-jobs), block-job-set-speed, block-job-cancel,
 * block-job-pause, block-job-resume, block-job-complete. The jobs themselves are in
 * block/blockjob.c; the commands that start them in qmp-job-start.c.
 */
#include <inttypes.h>
#include <glib.h>
#include "block/blockjob.h"
#include "monitor/monitor.h"

/* The job of the drive named by "device", or DeviceNotActive. */
static BlockJob *find_job(JsonObject *args, Error **errp)
{
    const char *device = monitor_arg_str(args, "device");
    BlockJob *job = block_job_find(device);

    if (!job) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_ACTIVE, "No active block job on device '%s'",
                  device);
    }
    return job;
}

static void qmp_query_block_jobs(JsonObject *args, JsonNode **ret, Error **errp)
{
    JsonArray *list = json_array_new();

    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        BlockJob *job = block_job_of_blk(blk);

        if (job) {
            json_array_add_object_element(list, block_job_info(job));
        }
    }
    *ret = json_node_init_array(json_node_alloc(), list);
    json_array_unref(list);
}

static void hmp_print_block_jobs(Monitor *mon, JsonObject *args, JsonNode *ret)
{
    JsonArray *list = json_node_get_array(ret);
    guint n = json_array_get_length(list);

    if (n == 0) {
        monitor_printf(mon, "No active jobs\n");
        return;
    }
    for (guint i = 0; i < n; i++) {
        JsonObject *o = json_array_get_object_element(list, i);
        const char *type = json_object_get_string_member(o, "type");
        const char *device = json_object_get_string_member(o, "device");

        if (g_str_equal(type, "stream")) {
            monitor_printf(mon, "Streaming device %s: ", device);
        } else {
            monitor_printf(mon, "Type %s, device %s: ", type, device);
        }
        monitor_printf(
            mon, "Completed %" PRId64 " of %" PRId64 " bytes, speed limit %" PRId64 " bytes/s\n",
            json_object_get_int_member(o, "offset"), json_object_get_int_member(o, "len"),
            json_object_get_int_member(o, "speed"));
    }
}

static void qmp_block_job_set_speed(JsonObject *args, JsonNode **ret, Error **errp)
{
    BlockJob *job = find_job(args, errp);

    if (job) {
        block_job_set_speed(job, monitor_arg_int(args, "speed", 0), errp);
    }
}

static void qmp_block_job_cancel(JsonObject *args, JsonNode **ret, Error **errp)
{
    BlockJob *job = find_job(args, errp);
    bool force = monitor_arg_bool(args, "force", false);

    if (!job) {
        return;
    }
    if (block_job_is_paused(job) && !force) {
        error_setg(errp, "The block job for device '%s' is currently paused", job->device);
        return;
    }
    block_job_cancel(job, force);
}

static void qmp_block_job_pause(JsonObject *args, JsonNode **ret, Error **errp)
{
    BlockJob *job = find_job(args, errp);

    if (job) {
        block_job_pause(job);
    }
}

static void qmp_block_job_resume(JsonObject *args, JsonNode **ret, Error **errp)
{
    BlockJob *job = find_job(args, errp);

    if (job) {
        block_job_resume(job);
    }
}

static void qmp_block_job_complete(JsonObject *args, JsonNode **ret, Error **errp)
{
    BlockJob *job = find_job(args, errp);

    if (job) {
        block_job_complete(job, errp);
    }
}

static const MonitorCommand block_job_cmds[] = {
    {.name = "query-block-jobs",
     .fn = qmp_query_block_jobs,
     .hmp_name = "info block-jobs",
     .hmp_params = "",
     .hmp_help = "show progress of ongoing block device operations",
     .hmp_print = hmp_print_block_jobs},
    {.name = "block-job-set-speed",
     .args_type = "device:B,speed:o",
     .fn = qmp_block_job_set_speed,
     .hmp_name = "block_job_set_speed",
     .hmp_params = "device speed",
     .hmp_help = "set maximum speed for a background block operation"},
    {.name = "block-job-cancel",
     .args_type = "device:B,force:b?",
     .fn = qmp_block_job_cancel,
     .hmp_name = "block_job_cancel",
     .hmp_args_type = "force:-f,device:B",
     .hmp_params = "[-f] device",
     .hmp_help = "stop an active background block operation (use "
                 "-f\n\t\t\t if the operation is currently paused)"},
    {.name = "block-job-pause",
     .args_type = "device:B",
     .fn = qmp_block_job_pause,
     .hmp_name = "block_job_pause",
     .hmp_params = "device",
     .hmp_help = "pause an active background block operation"},
    {.name = "block-job-resume",
     .args_type = "device:B",
     .fn = qmp_block_job_resume,
     .hmp_name = "block_job_resume",
     .hmp_params = "device",
     .hmp_help = "resume a paused background block operation"},
    {.name = "block-job-complete",
     .args_type = "device:B",
     .fn = qmp_block_job_complete,
     .hmp_name = "block_job_complete",
     .hmp_params = "device",
     .hmp_help = "stop an active background block operation"},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(block_job_cmds);
