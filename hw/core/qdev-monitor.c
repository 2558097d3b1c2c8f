/*
 * The monitor's device_add and device_del (QMP and HMP) over qdev_device_add() and
 * qdev_unplug(), as QEMU 2.2 has them: device_add takes the -device options as arguments,
 * device_del asks for the removal of a hotpluggable device (qdev-unplug.c finishes it:
 * auto-deleted drives, DEVICE_DELETED). Not the registry (qdev.c).
 */
#include <string.h>
#include <glib.h>
#include "hw/qdev.h"
#include "monitor/command.h"
#include "monitor/monitor.h"

static const OptsList device_monitor_opts = {.name = "device", .implied_opt_name = "driver"};

/* A scalar argument as the option string -device would have had. */
static char *device_opt_value(JsonNode *v)
{
    GType t = json_node_get_value_type(v);

    if (t == G_TYPE_BOOLEAN) {
        return g_strdup(json_node_get_boolean(v) ? "on" : "off");
    }
    if (t == G_TYPE_INT64) {
        return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(v));
    }
    if (t == G_TYPE_DOUBLE) {
        return g_strdup_printf("%g", json_node_get_double(v));
    }
    return g_strdup(json_node_get_string(v));
}

/* The arguments as -device options; 2.2 ignores members that are not scalars. */
static Opts *device_opts_from_args(JsonObject *args)
{
    Opts *opts = opts_new(&device_monitor_opts, monitor_arg_str(args, "id"));
    g_autoptr(GList) names = json_object_get_members(args);

    for (GList *l = names; l; l = l->next) {
        JsonNode *v = json_object_get_member(args, l->data);

        if (!JSON_NODE_HOLDS_VALUE(v) || !strcmp(l->data, "id")) {
            continue;
        }
        g_autofree char *value = device_opt_value(v);

        opts_set(opts, l->data, value);
    }
    return opts;
}

static void qmp_device_add(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *id = monitor_arg_str(args, "id");
    Opts *opts;

    if (id && qdev_find(id)) {
        error_setg(errp, "Duplicate ID '%s' for device", id);
        return;
    }
    opts = device_opts_from_args(args);
    qdev_device_add(opts, errp);
    opts_free(opts);
}

/* HMP: "driver,prop=value,..." */
static bool hmp_device_add_convert(JsonObject *args, Error **errp)
{
    Opts *opts = opts_parse(&device_monitor_opts, monitor_arg_str(args, "device"), true, errp);
    JsonObject *dict;
    g_autoptr(GList) names = NULL;

    if (!opts) {
        return false;
    }
    dict = opts_to_dict(opts);
    json_object_remove_member(args, "device");
    if (opts_id(opts)) {
        json_object_set_string_member(args, "id", opts_id(opts));
    }
    names = json_object_get_members(dict);
    for (GList *l = names; l; l = l->next) {
        json_object_set_member(args, l->data, json_object_dup_member(dict, l->data));
    }
    json_object_unref(dict);
    opts_free(opts);
    return true;
}

/* The device goes when its bus says so: at once, or after the guest's eject (qdev-unplug.c
 * then deletes its auto-delete drives and emits DEVICE_DELETED). */
static void qmp_device_del(JsonObject *args, JsonNode **ret, Error **errp)
{
    qdev_unplug(monitor_arg_str(args, "id"), errp);
}

static const MonitorCommand device_cmds[] = {
    {.name = "device_add",
     .args_type = "device:O",
     .fn = qmp_device_add,
     .hmp_name = "device_add",
     .hmp_args_type = "device:S",
     .hmp_convert = hmp_device_add_convert,
     .hmp_params = "driver[,prop=value][,...]",
     .hmp_help = "add device, like -device on the command line"},
    {.name = "device_del",
     .args_type = "id:s",
     .fn = qmp_device_del,
     .hmp_name = "device_del",
     .hmp_params = "device",
     .hmp_help = "remove device"},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(device_cmds);
