/*
 * QMP `transaction` and the action registry: the actions are parsed and checked first (as
 * 2.2's QAPI visitor does, with its messages), then prepared in order; the first failure
 * aborts every prepared action, otherwise all commit. The action types live in the files
 * that implement them (qmp-snapshot.c; drive-backup with the jobs). Not the actions.
 */
#include <string.h>
#include <glib.h>
#include "block/block.h"
#include "blockdev/transaction.h"
#include "monitor/command.h"

static GPtrArray *blk_actions;

void blk_action_register(const BlkActionOps *ops)
{
    if (!blk_actions) {
        blk_actions = g_ptr_array_new();
    }
    g_assert(ops->instance_size >= sizeof(BlkActionState));
    g_ptr_array_add(blk_actions, (gpointer)ops);
}

static const BlkActionOps *blk_action_find(const char *type)
{
    for (guint i = 0; blk_actions && i < blk_actions->len; i++) {
        const BlkActionOps *ops = g_ptr_array_index(blk_actions, i);
        if (!strcmp(ops->type, type)) {
            return ops;
        }
    }
    return NULL;
}

/* ---- checking the input as 2.2's strict QMP input visitor ---- */

static bool node_has_type(JsonNode *n, char t)
{
    GType vt;

    if (!n || !JSON_NODE_HOLDS_VALUE(n)) {
        return false;
    }
    vt = json_node_get_value_type(n);
    switch (t) {
    case 'b':
        return vt == G_TYPE_BOOLEAN;
    case 'i':
        return vt == G_TYPE_INT64;
    default:
        return vt == G_TYPE_STRING;
    }
}

static const char *type_name(char t)
{
    return t == 'b' ? "boolean" : t == 'i' ? "integer" : "string";
}

static bool check_members(JsonObject *obj, const char *args_type, GHashTable *seen,
                          Error **errp)
{
    g_auto(GStrv) specs = g_strsplit(args_type ? args_type : "", ",", -1);

    for (int i = 0; specs[i] && specs[i][0]; i++) {
        char *colon = strchr(specs[i], ':');
        JsonNode *n;

        g_assert(colon);
        *colon = '\0';
        n = json_object_get_member(obj, specs[i]);
        if (!n && colon[2] == '?') {
            continue;
        }
        if (!node_has_type(n, colon[1])) {
            error_setg(errp, "Invalid parameter type for '%s', expected: %s", specs[i],
                       type_name(colon[1]));
            return false;
        }
        g_hash_table_add(seen, g_strdup(specs[i]));
    }
    return true;
}

static bool check_no_extra(JsonObject *obj, GHashTable *seen, Error **errp)
{
    g_autoptr(GList) names = json_object_get_members(obj);

    for (GList *l = names; l; l = l->next) {
        if (!g_hash_table_contains(seen, l->data)) {
            error_setg(errp, "QMP input object member '%s' is unexpected", (char *)l->data);
            return false;
        }
    }
    return true;
}

static bool check_struct(JsonNode *n, const char *name, const char *args_type, Error **errp)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    if (!n || !JSON_NODE_HOLDS_OBJECT(n)) {
        error_setg(errp, "Invalid parameter type for '%s', expected: QDict", name);
        return false;
    }
    return check_members(json_node_get_object(n), args_type, seen, errp) &&
           check_no_extra(json_node_get_object(n), seen, errp);
}

/* One {"type": T, "data": {...}}: its ops, or NULL with errp set. */
static const BlkActionOps *check_action(JsonNode *n, Error **errp)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    const BlkActionOps *ops;
    JsonObject *obj, *data;

    if (!n || !JSON_NODE_HOLDS_OBJECT(n)) {
        error_setg(errp, "Invalid parameter type for 'null', expected: QDict");
        return NULL;
    }
    obj = json_node_get_object(n);
    if (!check_members(obj, "type:s", seen, errp)) {
        return NULL;
    }
    ops = blk_action_find(json_object_get_string_member(obj, "type"));
    if (!ops) {
        error_setg(errp, "Invalid parameter '%s'", json_object_get_string_member(obj, "type"));
        return NULL;
    }
    if (!check_struct(json_object_get_member(obj, "data"), "data", ops->args_type, errp)) {
        return NULL;
    }
    data = json_object_get_object_member(obj, "data");
    if (ops->check && !ops->check(data, errp)) {
        return NULL;
    }
    g_hash_table_add(seen, g_strdup("data"));
    return check_no_extra(obj, seen, errp) ? ops : NULL;
}

/* ---- running ---- */

static BlkActionState *action_new(const BlkActionOps *ops, JsonObject *data)
{
    BlkActionState *state = g_malloc0(ops->instance_size);

    state->ops = ops;
    state->data = json_object_ref(data);
    return state;
}

static void action_free(gpointer p)
{
    BlkActionState *state = p;

    if (state->ops->clean) {
        state->ops->clean(state);
    }
    json_object_unref(state->data);
    g_free(state);
}

/* Prepare all; commit all, or abort those prepared (the failing one too, as 2.2). */
static bool run_states(GPtrArray *states, Error **errp)
{
    guint prepared = 0;
    Error *err = NULL;

    bdrv_drain_all();
    while (prepared < states->len && !err) {
        BlkActionState *state = g_ptr_array_index(states, prepared++);
        state->ops->prepare(state, &err);
    }
    for (guint i = 0; i < prepared; i++) {
        BlkActionState *state = g_ptr_array_index(states, i);
        if (!err && state->ops->commit) {
            state->ops->commit(state);
        } else if (err && state->ops->abort) {
            state->ops->abort(state);
        }
    }
    if (err) {
        error_propagate(errp, err);
        return false;
    }
    return true;
}

bool blk_transaction_run(JsonNode *actions, Error **errp)
{
    g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func(action_free);
    JsonArray *list;

    if (!actions || !JSON_NODE_HOLDS_ARRAY(actions)) {
        error_setg(errp, "Invalid parameter type for 'actions', expected: list");
        return false;
    }
    list = json_node_get_array(actions);
    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonNode *n = json_array_get_element(list, i);
        const BlkActionOps *ops = check_action(n, errp);

        if (!ops) {
            return false;
        }
        g_ptr_array_add(states,
                        action_new(ops, json_object_get_object_member(json_node_get_object(n),
                                                                      "data")));
    }
    return run_states(states, errp);
}

bool blk_transaction_run_one(const char *type, JsonObject *data, Error **errp)
{
    g_autoptr(JsonNode) action = json_node_new(JSON_NODE_OBJECT);
    g_autoptr(JsonNode) list = json_node_new(JSON_NODE_ARRAY);
    JsonObject *obj = json_object_new();
    JsonArray *arr = json_array_new();

    json_object_set_string_member(obj, "type", type);
    json_object_set_object_member(obj, "data", json_object_ref(data));
    json_node_take_object(action, obj);
    json_array_add_element(arr, json_node_copy(action));
    json_node_take_array(list, arr);
    return blk_transaction_run(list, errp);
}

/* ---- the abort action and the command ---- */

static void abort_prepare(BlkActionState *state, Error **errp)
{
    error_setg(errp, "Transaction aborted using Abort action");
}

static const BlkActionOps abort_action = {
    .type = "abort",
    .instance_size = sizeof(BlkActionState),
    .prepare = abort_prepare,
};
BLK_ACTION_REGISTER(abort_action);

static void qmp_transaction(JsonObject *args, JsonNode **ret, Error **errp)
{
    blk_transaction_run(json_object_get_member(args, "actions"), errp);
}

static const MonitorCommand transaction_cmds[] = {
    {.name = "transaction", .args_type = "actions:q", .fn = qmp_transaction},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(transaction_cmds);
