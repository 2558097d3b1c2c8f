/*
 * Run-state commands: query-status (info status), stop, cont (c), system_reset,
 * system_powerdown, quit (q).
 * The machine does the work (hw/core/machine.c: parking vCPUs, events, drain and flush);
 * these check what QMP checks and report as QEMU 2.2 does: cont refuses while a drive's
 * encryption key is missing, and HMP's cont then asks for it.
 */
#include <glib.h>
#include "block/block.h"
#include "block/error-policy.h"
#include "blockdev/qmp-passwd.h"
#include "hw/machine.h"
#include "monitor/monitor-internal.h"

static void qmp_query_status(JsonObject *args, JsonNode **ret, Error **errp)
{
    JsonObject *info = json_object_new();

    json_object_set_string_member(info, "status", runstate_name(runstate_get()));
    json_object_set_boolean_member(info, "singlestep", false);
    json_object_set_boolean_member(info, "running", machine_is_running());
    *ret = json_node_init_object(json_node_alloc(), info);
    json_object_unref(info);
}

static void hmp_print_status(Monitor *mon, JsonObject *args, JsonNode *ret)
{
    JsonObject *info = json_node_get_object(ret);
    const char *status = json_object_get_string_member(info, "status");
    bool running = json_object_get_boolean_member(info, "running");

    monitor_printf(mon, "VM status: %s", running ? "running" : "paused");
    if (!running && g_strcmp0(status, "paused") != 0) {
        monitor_printf(mon, " (%s)", status);
    }
    monitor_printf(mon, "\n");
}

static void qmp_stop(JsonObject *args, JsonNode **ret, Error **errp)
{
    machine_stop();
}

static void qmp_cont(JsonObject *args, JsonNode **ret, Error **errp)
{
    BlockBackend *blk;

    if (runstate_needs_reset()) {
        error_setg(errp, "Resetting the Virtual Machine is required");
        return;
    }
    /* Requests still running while the machine was stopped end first: one that fails is
     * kept and retried below, not left to stop the machine again after this cont. */
    bdrv_drain_all();
    blk_error_reset_all();
    if ((blk = blockdev_find_key_missing())) {
        blockdev_error_encrypted(blk, errp);
        return;
    }
    machine_cont();
    /* Under the BQL: a vCPU reaches a device only after the kept requests are resubmitted. */
    blk_error_retry_all();
}

/* 2.2's hmp_cont_cb: a key accepted, cont once more; its errors are not printed. */
static void hmp_cont_key_given(void *opaque, int err)
{
    Error *local_err = NULL;

    if (!err) {
        qmp_cont(NULL, NULL, &local_err);
        error_free(local_err);
    }
}

/* 2.2's hmp_cont asks for the first missing key (one per cont) instead of failing. */
static bool hmp_cont_error(Monitor *mon, JsonObject *args, const Error *err)
{
    BlockBackend *blk = blockdev_find_key_missing();

    if (error_get_class(err) != ERROR_CLASS_DEVICE_ENCRYPTED || !blk) {
        return false;
    }
    hmp_read_block_device_key(mon, blk_name(blk), hmp_cont_key_given, NULL);
    return true;
}

static void qmp_system_reset(JsonObject *args, JsonNode **ret, Error **errp)
{
    machine_request_reset();
}

static void qmp_system_powerdown(JsonObject *args, JsonNode **ret, Error **errp)
{
    machine_request_powerdown();
}

static void qmp_quit(JsonObject *args, JsonNode **ret, Error **errp)
{
    machine_request_quit();
}

static const MonitorCommand run_state_cmds[] = {
    {.name = "query-status",
     .fn = qmp_query_status,
     .hmp_name = "info status",
     .hmp_help = "show the current VM status (running|paused)",
     .hmp_print = hmp_print_status},
    {.name = "stop", .fn = qmp_stop, .hmp_name = "stop", .hmp_help = "stop emulation"},
    {.name = "cont",
     .fn = qmp_cont,
     .hmp_name = "c|cont",
     .hmp_help = "resume emulation",
     .hmp_error = hmp_cont_error},
    {.name = "system_reset",
     .fn = qmp_system_reset,
     .hmp_name = "system_reset",
     .hmp_help = "reset the system"},
    {.name = "system_powerdown",
     .fn = qmp_system_powerdown,
     .hmp_name = "system_powerdown",
     .hmp_help = "send system power down event"},
    {.name = "quit", .fn = qmp_quit, .hmp_name = "q|quit", .hmp_help = "quit the emulator"},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(run_state_cmds);
