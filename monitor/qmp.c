/*
 * QMP, the control-mode monitor: greeting on every (re)connect, capabilities negotiation,
 * request validation in QEMU 2.2's order with its messages, dispatch through the command
 * table, responses in request order with the id echoed, and event delivery.
 * Not the commands (cmds-*.c) and not the JSON splitting (json-stream.c).
 */
#include <string.h>
#include <sys/time.h>
#include <glib.h>
#include "monitor/json-writer.h"
#include "monitor/monitor-internal.h"
#include "util/main-loop.h"

static void qmp_send(Monitor *mon, JsonObject *msg)
{
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), msg);
    GString *out = g_string_new(NULL);

    json_write(out, node, mon->pretty);
    g_string_append_c(out, '\n');
    monitor_write(mon, out->str, out->len);
    g_string_free(out, TRUE);
}

JsonObject *qmp_version_info(void)
{
    JsonObject *version = json_object_new();
    JsonObject *qemu = json_object_new();

    json_object_set_int_member(qemu, "micro", QEMU_VERSION_MICRO);
    json_object_set_int_member(qemu, "minor", QEMU_VERSION_MINOR);
    json_object_set_int_member(qemu, "major", QEMU_VERSION_MAJOR);
    json_object_set_object_member(version, "qemu", qemu);
    json_object_set_string_member(version, "package", "");
    return version;
}

static void qmp_greet(Monitor *mon)
{
    JsonObject *msg = json_object_new();
    JsonObject *qmp = json_object_new();

    json_object_set_object_member(qmp, "version", qmp_version_info());
    json_object_set_array_member(qmp, "capabilities", json_array_new());
    json_object_set_object_member(msg, "QMP", qmp);
    qmp_send(mon, msg);
    json_object_unref(msg);
}

static void qmp_send_error(Monitor *mon, JsonNode *id, Error *err)
{
    JsonObject *msg = json_object_new();
    JsonObject *body = json_object_new();

    if (id) {
        json_object_set_member(msg, "id", json_node_copy(id));
    }
    json_object_set_string_member(body, "class", error_class_name(error_get_class(err)));
    json_object_set_string_member(body, "desc", error_get_pretty(err));
    json_object_set_object_member(msg, "error", body);
    qmp_send(mon, msg);
    json_object_unref(msg);
    error_free(err);
}

static void qmp_send_return(Monitor *mon, JsonNode *id, JsonNode *ret)
{
    JsonObject *msg = json_object_new();

    json_object_set_member(msg, "return",
                           ret ? ret : json_node_init_object(json_node_alloc(), json_object_new()));
    if (id) {
        json_object_set_member(msg, "id", json_node_copy(id));
    }
    qmp_send(mon, msg);
    json_object_unref(msg);
}

/* The request's top level, checked member by member as 2.2 does (before id is known). */
static JsonObject *qmp_check_input(JsonNode *msg, Error **errp)
{
    JsonObject *req;
    GList *names;
    bool ok = true, has_execute = false;

    if (!JSON_NODE_HOLDS_OBJECT(msg)) {
        error_setg(errp, "Expected 'object' in QMP input");
        return NULL;
    }
    req = json_node_get_object(msg);
    names = json_object_get_members(req);
    for (GList *l = names; l && ok; l = l->next) {
        const char *name = l->data;
        JsonNode *val = json_object_get_member(req, name);

        if (!strcmp(name, "execute")) {
            ok = JSON_NODE_HOLDS_VALUE(val) && json_node_get_value_type(val) == G_TYPE_STRING;
            if (!ok) {
                error_setg(errp, "QMP input object member 'execute' expects 'string'");
            }
            has_execute = true;
        } else if (!strcmp(name, "arguments")) {
            ok = JSON_NODE_HOLDS_OBJECT(val);
            if (!ok) {
                error_setg(errp, "QMP input object member 'arguments' expects 'object'");
            }
        } else if (strcmp(name, "id") != 0) {
            error_setg(errp, "QMP input object member '%s' is unexpected", name);
            ok = false;
        }
    }
    g_list_free(names);
    if (ok && !has_execute) {
        error_setg(errp, "Expected 'execute' in QMP input");
        ok = false;
    }
    return ok ? req : NULL;
}

static const MonitorCommand *qmp_lookup(Monitor *mon, const char *name, Error **errp)
{
    const MonitorCommand *cmd = monitor_find_qmp(name);
    bool allowed = cmd && (mon->negotiated ? !cmd->qmp_after_caps_refused : cmd->qmp_before_caps);

    if (!allowed) {
        error_set(errp, ERROR_CLASS_COMMAND_NOT_FOUND, "The command %s has not been found", name);
        return NULL;
    }
    return cmd;
}

static void qmp_dispatch(Monitor *mon, JsonObject *req)
{
    JsonNode *id = json_object_get_member(req, "id");
    const char *name = json_object_get_string_member(req, "execute");
    JsonObject *args = json_object_has_member(req, "arguments")
                           ? json_object_ref(json_object_get_object_member(req, "arguments"))
                           : json_object_new();
    const MonitorCommand *cmd;
    Error *err = NULL;
    JsonNode *ret = NULL;

    cmd = qmp_lookup(mon, name, &err);
    if (cmd && monitor_check_args(cmd->args_type, args, &err)) {
        ret = monitor_call(cmd, args, &err);
    }
    if (err) {
        qmp_send_error(mon, id, err);
    } else {
        if (!strcmp(cmd->name, "qmp_capabilities")) {
            mon->negotiated = true;
        }
        qmp_send_return(mon, id, ret);
    }
    json_object_unref(args);
}

static void qmp_handle_message(void *opaque, JsonNode *msg)
{
    Monitor *mon = opaque;
    Error *err = NULL;
    JsonObject *req;

    if (!msg) {
        error_setg(&err, "Invalid JSON syntax");
        qmp_send_error(mon, NULL, err);
        return;
    }
    req = qmp_check_input(msg, &err);
    if (req) {
        qmp_dispatch(mon, req);
    } else {
        qmp_send_error(mon, NULL, err);
    }
    json_node_unref(msg);
}

void qmp_monitor_init(Monitor *mon)
{
    json_stream_init(&mon->stream, qmp_handle_message, mon);
}

void qmp_monitor_event(Monitor *mon, ChrEvent event)
{
    if (event == CHR_EVENT_OPENED) {
        json_stream_reset(&mon->stream);
        mon->negotiated = false;
        qmp_greet(mon);
    } else if (event == CHR_EVENT_CLOSED) {
        json_stream_reset(&mon->stream);
        mon->negotiated = false;
    }
}

typedef struct DeferredEvent {
    char *name;
    JsonObject *data;
} DeferredEvent;

static void monitor_event_deferred(void *opaque)
{
    DeferredEvent *ev = opaque;

    monitor_event(ev->name, ev->data);
    g_free(ev->name);
    g_free(ev);
}

void monitor_event(const char *name, JsonObject *data)
{
    JsonObject *msg, *ts;
    struct timeval tv;
    GPtrArray *mons = monitor_list();

    if (!bql_locked()) {
        DeferredEvent *ev = g_new(DeferredEvent, 1);

        ev->name = g_strdup(name);
        ev->data = data;
        main_loop_call(monitor_event_deferred, ev);
        return;
    }
    msg = json_object_new();
    ts = json_object_new();
    if (gettimeofday(&tv, NULL) < 0) {
        tv.tv_sec = tv.tv_usec = -1;
    }
    json_object_set_int_member(ts, "seconds", tv.tv_sec);
    json_object_set_int_member(ts, "microseconds", tv.tv_usec);
    json_object_set_object_member(msg, "timestamp", ts);
    json_object_set_string_member(msg, "event", name);
    if (data) {
        json_object_set_object_member(msg, "data", data);
    }
    for (guint i = 0; i < mons->len; i++) {
        Monitor *mon = g_ptr_array_index(mons, i);

        if (mon->mode == MONITOR_MODE_CONTROL && mon->negotiated) {
            qmp_send(mon, msg);
        }
    }
    json_object_unref(msg);
}
