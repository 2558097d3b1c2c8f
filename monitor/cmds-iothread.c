/*
 * query-iothreads (info iothreads): each -object iothread in creation order, with its
 * thread's id (what an operator pins with taskset) and its polling parameters, as QEMU 2.9
 * reports them (2.2 had id and thread-id; the poll-* members came with the properties).
 */
#include <inttypes.h>
#include <glib.h>
#include "monitor/monitor-internal.h"
#include "util/iothread.h"

static JsonObject *iothread_info(IOThread *t)
{
    JsonObject *info = json_object_new();
    IOThreadPollParams poll = iothread_poll_params(t);

    json_object_set_string_member(info, "id", iothread_id(t));
    json_object_set_int_member(info, "thread-id", iothread_thread_id(t));
    json_object_set_int_member(info, "poll-max-ns", poll.max_ns);
    json_object_set_int_member(info, "poll-grow", poll.grow);
    json_object_set_int_member(info, "poll-shrink", poll.shrink);
    return info;
}

static void qmp_query_iothreads(JsonObject *args, JsonNode **ret, Error **errp)
{
    g_autoptr(GPtrArray) threads = iothread_list();
    JsonArray *list = json_array_new();

    for (guint i = 0; i < threads->len; i++) {
        json_array_add_object_element(list, iothread_info(g_ptr_array_index(threads, i)));
    }
    *ret = json_node_init_array(json_node_alloc(), list);
    json_array_unref(list);
}

static void hmp_print_iothreads(Monitor *mon, JsonObject *args, JsonNode *ret)
{
    JsonArray *list = json_node_get_array(ret);

    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *info = json_array_get_object_element(list, i);

        monitor_printf(mon, "%s:\n", json_object_get_string_member(info, "id"));
        monitor_printf(mon, "  thread_id=%" PRId64 "\n",
                       json_object_get_int_member(info, "thread-id"));
        monitor_printf(mon, "  poll-max-ns=%" PRId64 "\n",
                       json_object_get_int_member(info, "poll-max-ns"));
        monitor_printf(mon, "  poll-grow=%" PRId64 "\n",
                       json_object_get_int_member(info, "poll-grow"));
        monitor_printf(mon, "  poll-shrink=%" PRId64 "\n",
                       json_object_get_int_member(info, "poll-shrink"));
    }
}

static const MonitorCommand iothread_cmds[] = {
    {.name = "query-iothreads",
     .fn = qmp_query_iothreads,
     .hmp_name = "info iothreads",
     .hmp_help = "show iothreads",
     .hmp_print = hmp_print_iothreads},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(iothread_cmds);
