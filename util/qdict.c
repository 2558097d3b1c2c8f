/*
 * Dotted-key option dictionaries on json-glib's JsonObject: flattening nested objects into
 * "a.b" keys and back, splitting off a child's options by prefix, and typed reads that accept
 * the string spellings of the command line. Not an option-string parser (opts.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "util/cutils.h"
#include "util/qdict.h"

static void dict_flatten_node(JsonObject *dst, const char *key, JsonNode *node);

static void dict_flatten_object(JsonObject *dst, const char *prefix, JsonObject *src)
{
    GList *names = json_object_get_members(src);

    for (GList *l = names; l; l = l->next) {
        g_autofree char *key = g_strdup_printf("%s.%s", prefix, (const char *)l->data);

        dict_flatten_node(dst, key, json_object_get_member(src, l->data));
    }
    g_list_free(names);
}

static void dict_flatten_node(JsonObject *dst, const char *key, JsonNode *node)
{
    JsonArray *arr;

    switch (JSON_NODE_TYPE(node)) {
    case JSON_NODE_OBJECT:
        dict_flatten_object(dst, key, json_node_get_object(node));
        break;
    case JSON_NODE_ARRAY:
        arr = json_node_get_array(node);
        for (guint i = 0; i < json_array_get_length(arr); i++) {
            g_autofree char *elem_key = g_strdup_printf("%s.%u", key, i);

            dict_flatten_node(dst, elem_key, json_array_get_element(arr, i));
        }
        break;
    default:
        json_object_set_member(dst, key, json_node_copy(node));
        break;
    }
}

void dict_flatten(JsonObject *obj)
{
    GList *names = json_object_get_members(obj);

    for (GList *l = names; l; l = l->next) {
        g_autofree char *key = g_strdup(l->data);
        JsonNode *node = json_object_get_member(obj, key);

        if (JSON_NODE_HOLDS_OBJECT(node) || JSON_NODE_HOLDS_ARRAY(node)) {
            node = json_node_ref(node);
            json_object_remove_member(obj, key);
            dict_flatten_node(obj, key, node);
            json_node_unref(node);
        }
    }
    g_list_free(names);
}

/* The object under name in parent, created if absent; NULL if name holds a scalar. */
static JsonObject *dict_child_object(JsonObject *parent, const char *name)
{
    JsonNode *node = json_object_get_member(parent, name);

    if (!node) {
        json_object_set_object_member(parent, name, json_object_new());
        node = json_object_get_member(parent, name);
    }
    return JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

static bool dict_crumple_one(JsonObject *dst, const char *key, JsonNode *value, Error **errp)
{
    g_auto(GStrv) parts = g_strsplit(key, ".", -1);
    guint n = g_strv_length(parts);
    JsonObject *obj = dst;
    int prefix_len = -1;

    if (JSON_NODE_HOLDS_OBJECT(value) || JSON_NODE_HOLDS_ARRAY(value)) {
        error_setg(errp, "Value %s is not a scalar", key);
        return false;
    }
    for (guint i = 0; i + 1 < n; i++) {
        prefix_len += strlen(parts[i]) + 1;
        obj = dict_child_object(obj, parts[i]);
        if (!obj) {
            error_setg(errp, "Key %.*s prefix is already set as a scalar", prefix_len, key);
            return false;
        }
    }
    if (json_object_has_member(obj, parts[n - 1])) {
        error_setg(errp, "Key %s prefix is already set as a dict", key);
        return false;
    }
    json_object_set_member(obj, parts[n - 1], json_node_copy(value));
    return true;
}

JsonObject *dict_crumple(JsonObject *flat, Error **errp)
{
    JsonObject *dst = json_object_new();
    GList *names = json_object_get_members(flat);
    bool ok = true;

    for (GList *l = names; l && ok; l = l->next) {
        ok = dict_crumple_one(dst, l->data, json_object_get_member(flat, l->data), errp);
    }
    g_list_free(names);
    if (!ok) {
        json_object_unref(dst);
        return NULL;
    }
    return dst;
}

JsonObject *dict_extract_prefix(JsonObject *obj, const char *prefix)
{
    g_autofree char *dotted = g_str_has_suffix(prefix, ".") ? g_strdup(prefix)
                                                             : g_strconcat(prefix, ".", NULL);
    size_t len = strlen(dotted);
    JsonObject *dst = json_object_new();
    GList *names = json_object_get_members(obj);

    for (GList *l = names; l; l = l->next) {
        g_autofree char *key = g_strdup(l->data);

        if (g_str_has_prefix(key, dotted)) {
            json_object_set_member(dst, key + len, json_object_dup_member(obj, key));
            json_object_remove_member(obj, key);
        }
    }
    g_list_free(names);
    return dst;
}

void dict_copy_default(JsonObject *obj, const char *key, const char *val)
{
    if (!json_object_has_member(obj, key)) {
        json_object_set_string_member(obj, key, val);
    }
}

static char *dict_value_to_string(JsonNode *node)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    switch (json_node_get_value_type(node)) {
    case G_TYPE_INT64:
        return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(node));
    case G_TYPE_DOUBLE:
        return g_strdup(g_ascii_dtostr(buf, sizeof(buf), json_node_get_double(node)));
    case G_TYPE_BOOLEAN:
        return g_strdup(json_node_get_boolean(node) ? "on" : "off");
    default:
        return NULL;
    }
}

const char *dict_get_str(JsonObject *obj, const char *key)
{
    JsonNode *node = json_object_get_member(obj, key);
    char *str;

    if (!node || !JSON_NODE_HOLDS_VALUE(node)) {
        return NULL;
    }
    if (json_node_get_value_type(node) == G_TYPE_STRING) {
        return json_node_get_string(node);
    }
    str = dict_value_to_string(node);
    if (!str) {
        return NULL;
    }
    json_object_set_string_member(obj, key, str);
    g_free(str);
    return json_object_get_string_member(obj, key);
}

bool dict_get_bool(JsonObject *obj, const char *key, bool def, Error **errp)
{
    JsonNode *node = json_object_get_member(obj, key);
    const char *str = NULL;
    bool val;

    if (!node) {
        return def;
    }
    if (JSON_NODE_HOLDS_VALUE(node)) {
        if (json_node_get_value_type(node) == G_TYPE_BOOLEAN) {
            return json_node_get_boolean(node);
        }
        if (json_node_get_value_type(node) == G_TYPE_STRING) {
            str = json_node_get_string(node);
        }
    }
    return parse_bool(key, str, &val, errp) ? val : def;
}

static bool dict_parse_int(const char *str, int64_t *out)
{
    char *end;

    if (!*str || g_ascii_isspace(*str)) {
        return false;
    }
    errno = 0;
    *out = g_ascii_strtoll(str, &end, 0);
    return !*end && errno == 0;
}

int64_t dict_get_int(JsonObject *obj, const char *key, int64_t def, Error **errp)
{
    JsonNode *node = json_object_get_member(obj, key);
    int64_t val;

    if (!node) {
        return def;
    }
    if (JSON_NODE_HOLDS_VALUE(node)) {
        if (json_node_get_value_type(node) == G_TYPE_INT64) {
            return json_node_get_int(node);
        }
        if (json_node_get_value_type(node) == G_TYPE_STRING &&
            dict_parse_int(json_node_get_string(node), &val)) {
            return val;
        }
    }
    error_setg(errp, "Parameter '%s' expects a number", key);
    return def;
}

uint64_t dict_get_size(JsonObject *obj, const char *key, uint64_t def, Error **errp)
{
    JsonNode *node = json_object_get_member(obj, key);
    uint64_t val;

    if (!node) {
        return def;
    }
    if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_INT64 &&
        json_node_get_int(node) >= 0) {
        return json_node_get_int(node);
    }
    if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
        return parse_size_param(key, json_node_get_string(node), &val, errp) ? val : def;
    }
    error_setg(errp, "Parameter '%s' expects a non-negative number below 2^64", key);
    return def;
}

int dict_get_enum(JsonObject *obj, const char *key, const char *const *names, int def,
                  Error **errp)
{
    const char *val = dict_get_str(obj, key);

    if (!val) {
        return def;
    }
    for (int i = 0; names[i]; i++) {
        if (!strcmp(names[i], val)) {
            return i;
        }
    }
    error_setg(errp, "invalid parameter value: %s", val);
    return -1;
}

bool dict_has(JsonObject *obj, const char *key)
{
    return json_object_has_member(obj, key);
}

void dict_del(JsonObject *obj, const char *key)
{
    if (json_object_has_member(obj, key)) {
        json_object_remove_member(obj, key);
    }
}

static gint dict_strcmp(gconstpointer a, gconstpointer b)
{
    return strcmp(a, b);
}

char **dict_keys_sorted(JsonObject *obj)
{
    GList *names = g_list_sort(json_object_get_members(obj), dict_strcmp);
    char **keys = g_new0(char *, g_list_length(names) + 1);
    guint i = 0;

    for (GList *l = names; l; l = l->next) {
        keys[i++] = g_strdup(l->data);
    }
    g_list_free(names);
    return keys;
}
