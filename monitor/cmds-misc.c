/*
 * The monitor's own commands: qmp_capabilities, query-version, query-commands,
 * human-monitor-command, and HMP's help and info listings (generated from the table).
 */
#include <string.h>
#include <glib.h>
#include "hw/machine.h"
#include "monitor/monitor-internal.h"

static void qmp_capabilities(JsonObject *args, JsonNode **ret, Error **errp)
{
    /* The protocol side (qmp.c) switches the monitor to command mode on success. */
}

static void qmp_query_version(JsonObject *args, JsonNode **ret, Error **errp)
{
    *ret = json_node_init_object(json_node_alloc(), qmp_version_info());
    json_object_unref(json_node_get_object(*ret));
}

static void qmp_query_commands(JsonObject *args, JsonNode **ret, Error **errp)
{
    JsonArray *list = json_array_new();
    GList *names = NULL;

    for (const MonitorCommand *c = monitor_command_next(NULL); c; c = monitor_command_next(c)) {
        if (c->name && c->fn) {
            names = g_list_prepend(names, (gpointer)c->name); /* reversed, as 2.2 */
        }
    }
    for (GList *l = names; l; l = l->next) {
        JsonObject *info = json_object_new();

        json_object_set_string_member(info, "name", l->data);
        json_array_add_object_element(list, info);
    }
    g_list_free(names);
    *ret = json_node_init_array(json_node_alloc(), list);
    json_array_unref(list);
}

static void qmp_human_monitor_command(JsonObject *args, JsonNode **ret, Error **errp)
{
    int64_t cpu = monitor_arg_int(args, "cpu-index", 0);
    g_autofree char *out = NULL;

    if (cpu < 0 || cpu >= (int64_t)current_machine->smp_cpus) {
        error_setg(errp, "Parameter 'cpu-index' expects a CPU number");
        return;
    }
    out = hmp_run_capture(monitor_arg_str(args, "command-line"));
    *ret = json_node_init_string(json_node_alloc(), out);
}

/* help [cmd], info: the listing as text; hmp_print_text prints it. */
static bool help_matches(const MonitorCommand *c, const char *want, bool info)
{
    bool is_info = g_str_has_prefix(c->hmp_name, "info ");

    if (info != is_info) {
        return false;
    }
    if (!want) {
        return true;
    }
    g_auto(GStrv) names = g_strsplit(c->hmp_name, "|", -1);

    return g_strv_contains((const char *const *)names, want);
}

static char *help_text(const char *want, bool info)
{
    GString *out = g_string_new(NULL);

    for (const MonitorCommand *c = monitor_command_next(NULL); c; c = monitor_command_next(c)) {
        if (c->hmp_name && help_matches(c, want, info)) {
            g_string_append_printf(out, "%s %s -- %s\n", c->hmp_name,
                                   c->hmp_params ? c->hmp_params : "",
                                   c->hmp_help ? c->hmp_help : "");
        }
    }
    return g_string_free(out, FALSE);
}

static void hmp_help(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *want = monitor_arg_str(args, "name");
    g_autofree char *text = NULL;

    if (want && !strcmp(want, "info")) {
        text = help_text(NULL, true);
    } else {
        text = help_text(want, false);
    }
    *ret = json_node_init_string(json_node_alloc(), text);
}

static void hmp_info_list(JsonObject *args, JsonNode **ret, Error **errp)
{
    g_autofree char *text = help_text(NULL, true);

    *ret = json_node_init_string(json_node_alloc(), text);
}

static void hmp_print_text(Monitor *mon, JsonObject *args, JsonNode *ret)
{
    monitor_puts(mon, json_node_get_string(ret));
}

static void hmp_print_version(Monitor *mon, JsonObject *args, JsonNode *ret)
{
    JsonObject *v = json_node_get_object(ret);
    JsonObject *q = json_object_get_object_member(v, "qemu");

    monitor_printf(mon, "%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT "%s\n",
                   json_object_get_int_member(q, "major"), json_object_get_int_member(q, "minor"),
                   json_object_get_int_member(q, "micro"),
                   json_object_get_string_member(v, "package"));
}

static const MonitorCommand misc_cmds[] = {
    {.name = "qmp_capabilities",
     .fn = qmp_capabilities,
     .qmp_before_caps = true,
     .qmp_after_caps_refused = true},
    {.name = "query-version",
     .fn = qmp_query_version,
     .hmp_name = "info version",
     .hmp_help = "show the version of QEMU",
     .hmp_print = hmp_print_version},
    {.name = "query-commands", .fn = qmp_query_commands},
    {.name = "human-monitor-command",
     .args_type = "command-line:s,cpu-index:i?",
     .fn = qmp_human_monitor_command},
    {.hmp_name = "help|?",
     .hmp_args_type = "name:S?",
     .fn = hmp_help,
     .hmp_params = "[cmd]",
     .hmp_help = "show the help",
     .hmp_print = hmp_print_text},
    {.hmp_name = "info",
     .fn = hmp_info_list,
     .hmp_params = "[subcommand]",
     .hmp_help = "show various information about the system state",
     .hmp_print = hmp_print_text},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(misc_cmds);
