/*
 * The command table: registration from any file, lookup by QMP or HMP name, and the generic
 * argument check QMP applies before a handler runs (QEMU 2.2's check of the client's
 * arguments against the command's args_type, with its messages). Not the protocols:
 * qmp.c and hmp.c parse requests and print answers.
 */
#include <string.h>
#include <glib.h>
#include "monitor/command.h"

static GPtrArray *tables; /* of const MonitorCommand * (NULL-terminated arrays) */

void monitor_register_commands(const MonitorCommand *cmds)
{
    if (!tables) {
        tables = g_ptr_array_new();
    }
    g_ptr_array_add(tables, (gpointer)cmds);
}

static bool cmd_is_end(const MonitorCommand *c)
{
    return !c->name && !c->hmp_name;
}

const MonitorCommand *monitor_command_next(const MonitorCommand *prev)
{
    guint t = 0;

    if (!tables) {
        return NULL;
    }
    if (prev) {
        prev++;
        if (!cmd_is_end(prev)) {
            return prev;
        }
        /* Find the table prev ended and move to the next one. */
        for (t = 0; t < tables->len; t++) {
            const MonitorCommand *first = g_ptr_array_index(tables, t);
            const MonitorCommand *end = first;

            while (!cmd_is_end(end)) {
                end++;
            }
            if (end == prev) {
                break;
            }
        }
        t++;
    }
    for (; t < tables->len; t++) {
        const MonitorCommand *first = g_ptr_array_index(tables, t);

        if (!cmd_is_end(first)) {
            return first;
        }
    }
    return NULL;
}

const MonitorCommand *monitor_find_qmp(const char *name)
{
    for (const MonitorCommand *c = monitor_command_next(NULL); c; c = monitor_command_next(c)) {
        if (c->name && c->fn && !strcmp(c->name, name)) {
            return c;
        }
    }
    return NULL;
}

/* "cont|c" matches "cont" and "c". */
static bool hmp_name_matches(const char *names, const char *name)
{
    size_t len = strlen(name);

    while (names) {
        const char *bar = strchr(names, '|');
        size_t n = bar ? (size_t)(bar - names) : strlen(names);

        if (n == len && !strncmp(names, name, n)) {
            return true;
        }
        names = bar ? bar + 1 : NULL;
    }
    return false;
}

const MonitorCommand *monitor_find_hmp(const char *name)
{
    for (const MonitorCommand *c = monitor_command_next(NULL); c; c = monitor_command_next(c)) {
        if (c->hmp_name && hmp_name_matches(c->hmp_name, name)) {
            return c;
        }
    }
    return NULL;
}

/* The type letters of one table entry, or NULL when name is not in the table. */
static const char *args_type_lookup(const char *args_type, const char *name, char *type,
                                    size_t type_len)
{
    size_t len = strlen(name);
    const char *p = args_type;

    while (p && *p) {
        const char *colon = strchr(p, ':');
        const char *comma;
        size_t tlen;

        if (!colon) {
            return NULL;
        }
        comma = strchr(colon, ',');
        tlen = comma ? (size_t)(comma - colon - 1) : strlen(colon + 1);
        if ((size_t)(colon - p) == len && !strncmp(p, name, len)) {
            g_strlcpy(type, colon + 1, MIN(tlen + 1, type_len));
            return type;
        }
        p = comma ? comma + 1 : NULL;
    }
    return NULL;
}

static bool args_type_accepts_unknown(const char *args_type)
{
    return args_type && strstr(args_type, ":O") != NULL;
}

/* The JSON type name a table type expects, or NULL for "anything". */
static const char *arg_expected(char t)
{
    switch (t) {
    case 's':
    case 'B':
    case 'F':
    case 'S':
        return "string";
    case 'i':
    case 'l':
    case 'o':
    case 'M':
        return "int";
    case 'T':
        return "number";
    case 'b':
    case '-':
        return "bool";
    default:
        return NULL;
    }
}

static bool arg_type_ok(const char *expected, JsonNode *node)
{
    GType vt;

    if (!JSON_NODE_HOLDS_VALUE(node)) {
        return false;
    }
    vt = json_node_get_value_type(node);
    if (!strcmp(expected, "string")) {
        return vt == G_TYPE_STRING;
    }
    if (!strcmp(expected, "int")) {
        return vt == G_TYPE_INT64;
    }
    if (!strcmp(expected, "number")) {
        return vt == G_TYPE_INT64 || vt == G_TYPE_DOUBLE;
    }
    return vt == G_TYPE_BOOLEAN;
}

static bool check_client_args(const char *args_type, JsonObject *args, Error **errp)
{
    GList *names = json_object_get_members(args);
    bool ok = true;

    for (GList *l = names; l && ok; l = l->next) {
        const char *name = l->data;
        char type[8];
        const char *expected;

        if (!args_type_lookup(args_type ? args_type : "", name, type, sizeof(type))) {
            if (!args_type_accepts_unknown(args_type)) {
                error_setg(errp, "Invalid parameter '%s'", name);
                ok = false;
            }
            continue;
        }
        expected = arg_expected(type[0]);
        if (expected && !arg_type_ok(expected, json_object_get_member(args, name))) {
            error_setg(errp, "Invalid parameter type for '%s', expected: %s", name, expected);
            ok = false;
        }
    }
    g_list_free(names);
    return ok;
}

static bool check_mandatory_args(const char *args_type, JsonObject *args, Error **errp)
{
    g_auto(GStrv) entries = g_strsplit(args_type ? args_type : "", ",", -1);

    for (int i = 0; entries[i]; i++) {
        char *colon = strchr(entries[i], ':');

        if (!colon || colon[1] == 'O' || g_str_has_suffix(colon, "?") || colon[1] == '-') {
            continue; /* flags are optional booleans */
        }
        *colon = '\0';
        if (!json_object_has_member(args, entries[i])) {
            error_setg(errp, "Parameter '%s' is missing", entries[i]);
            return false;
        }
    }
    return true;
}

bool monitor_check_args(const char *args_type, JsonObject *args, Error **errp)
{
    return check_client_args(args_type, args, errp) && check_mandatory_args(args_type, args, errp);
}

JsonNode *monitor_call(const MonitorCommand *cmd, JsonObject *args, Error **errp)
{
    JsonNode *ret = NULL;
    Error *err = NULL;

    cmd->fn(args, &ret, &err);
    if (err) {
        if (ret) {
            json_node_unref(ret);
        }
        error_propagate(errp, err);
        return NULL;
    }
    return ret;
}

const char *monitor_arg_str(JsonObject *args, const char *name)
{
    JsonNode *node = json_object_get_member(args, name);

    if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
        return NULL;
    }
    return json_node_get_string(node);
}

int64_t monitor_arg_int(JsonObject *args, const char *name, int64_t def)
{
    JsonNode *node = json_object_get_member(args, name);

    if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64) {
        return def;
    }
    return json_node_get_int(node);
}

bool monitor_arg_bool(JsonObject *args, const char *name, bool def)
{
    JsonNode *node = json_object_get_member(args, name);

    if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_BOOLEAN) {
        return def;
    }
    return json_node_get_boolean(node);
}
