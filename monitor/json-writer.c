/*
 * The QMP serializer: JsonNode to text in QEMU 2.2's spacing and escaping, so clients that
 * compare bytes ({"return": {}}) see what they know. Not a parser (json-stream.c).
 */
#include <stdio.h>
#include <string.h>
#include "monitor/json-writer.h"

static void json_write_node(GString *out, JsonNode *node, bool pretty, int indent);

static void json_write_indent(GString *out, bool pretty, int indent)
{
    if (pretty) {
        g_string_append_c(out, '\n');
        for (int i = 0; i < indent; i++) {
            g_string_append(out, "    ");
        }
    }
}

static void json_write_codepoint(GString *out, gunichar cp)
{
    if (cp > 0xffff) {
        cp -= 0x10000;
        g_string_append_printf(out, "\\u%04X\\u%04X", 0xd800 | (cp >> 10), 0xdc00 | (cp & 0x3ff));
    } else {
        g_string_append_printf(out, "\\u%04X", cp);
    }
}

static void json_write_string(GString *out, const char *s)
{
    const char *end = s + strlen(s);

    g_string_append_c(out, '"');
    while (s < end) {
        unsigned char c = *s;
        gunichar cp;

        switch (c) {
        case '"':
            g_string_append(out, "\\\"");
            s++;
            continue;
        case '\\':
            g_string_append(out, "\\\\");
            s++;
            continue;
        case '\b':
            g_string_append(out, "\\b");
            s++;
            continue;
        case '\f':
            g_string_append(out, "\\f");
            s++;
            continue;
        case '\n':
            g_string_append(out, "\\n");
            s++;
            continue;
        case '\r':
            g_string_append(out, "\\r");
            s++;
            continue;
        case '\t':
            g_string_append(out, "\\t");
            s++;
            continue;
        default:
            break;
        }
        if (c >= 0x20 && c < 0x7f) {
            g_string_append_c(out, c);
            s++;
            continue;
        }
        cp = g_utf8_get_char_validated(s, end - s);
        if (cp == (gunichar)-1 || cp == (gunichar)-2) {
            json_write_codepoint(out, 0xfffd);
            s++;
            continue;
        }
        json_write_codepoint(out, cp);
        s = g_utf8_next_char(s);
    }
    g_string_append_c(out, '"');
}

static void json_write_double(GString *out, double d)
{
    char buf[512];
    int len = snprintf(buf, sizeof(buf), "%f", d);

    /* 2.2: "%f" without trailing zeros, and without the '.' if nothing follows it. */
    while (len > 0 && buf[len - 1] == '0') {
        len--;
    }
    if (len > 0 && buf[len - 1] == '.') {
        len--;
    }
    g_string_append_len(out, buf, len);
}

static void json_write_value(GString *out, JsonNode *node)
{
    switch (json_node_get_value_type(node)) {
    case G_TYPE_STRING:
        json_write_string(out, json_node_get_string(node));
        break;
    case G_TYPE_INT64:
        g_string_append_printf(out, "%" G_GINT64_FORMAT, json_node_get_int(node));
        break;
    case G_TYPE_DOUBLE:
        json_write_double(out, json_node_get_double(node));
        break;
    case G_TYPE_BOOLEAN:
        g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
        break;
    default:
        g_string_append(out, "null");
        break;
    }
}

static void json_write_object(GString *out, JsonObject *obj, bool pretty, int indent)
{
    GList *names = json_object_get_members(obj);
    int n = 0;

    g_string_append_c(out, '{');
    for (GList *l = names; l; l = l->next, n++) {
        if (n) {
            g_string_append(out, ", ");
        }
        json_write_indent(out, pretty, indent + 1);
        json_write_string(out, l->data);
        g_string_append(out, ": ");
        json_write_node(out, json_object_get_member(obj, l->data), pretty, indent + 1);
    }
    g_list_free(names);
    json_write_indent(out, pretty, indent);
    g_string_append_c(out, '}');
}

static void json_write_array(GString *out, JsonArray *arr, bool pretty, int indent)
{
    guint len = json_array_get_length(arr);

    g_string_append_c(out, '[');
    for (guint i = 0; i < len; i++) {
        if (i) {
            g_string_append(out, ", ");
        }
        json_write_indent(out, pretty, indent + 1);
        json_write_node(out, json_array_get_element(arr, i), pretty, indent + 1);
    }
    json_write_indent(out, pretty, indent);
    g_string_append_c(out, ']');
}

static void json_write_node(GString *out, JsonNode *node, bool pretty, int indent)
{
    switch (JSON_NODE_TYPE(node)) {
    case JSON_NODE_OBJECT:
        json_write_object(out, json_node_get_object(node), pretty, indent);
        break;
    case JSON_NODE_ARRAY:
        json_write_array(out, json_node_get_array(node), pretty, indent);
        break;
    case JSON_NODE_VALUE:
        json_write_value(out, node);
        break;
    case JSON_NODE_NULL:
        g_string_append(out, "null");
        break;
    }
}

void json_write(GString *out, JsonNode *node, bool pretty)
{
    json_write_node(out, node, pretty, 0);
}

char *json_to_qmp_string(JsonNode *node, bool pretty)
{
    GString *out = g_string_new(NULL);

    json_write(out, node, pretty);
    return g_string_free(out, FALSE);
}
