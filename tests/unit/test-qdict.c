/*
 * Unit tests for util/qdict.c: flatten, crumple and their conflicts, prefix extraction,
 * defaults, and the lenient typed getters.
 */
#include <string.h>
#include <glib.h>
#include "util/qdict.h"

static JsonObject *obj_from(const char *json)
{
    JsonNode *node = json_from_string(json, NULL);
    JsonObject *obj;

    g_assert_nonnull(node);
    obj = json_object_ref(json_node_get_object(node));
    json_node_unref(node);
    return obj;
}

/* Compact JSON of obj; g_free it. */
static char *obj_str(JsonObject *obj)
{
    JsonNode *node = json_node_init_object(json_node_alloc(), obj);
    char *str = json_to_string(node, FALSE);

    json_node_unref(node);
    return str;
}

static void test_flatten(void)
{
    JsonObject *obj = obj_from("{\"driver\":\"qcow2\",\"cache\":{\"direct\":true,"
                               "\"no-flush\":false},\"file\":{\"driver\":\"file\","
                               "\"opts\":{\"x\":1}},\"l\":[\"a\",{\"b\":2}],\"e\":{}}");
    g_autofree char *str = NULL;

    dict_flatten(obj);
    str = obj_str(obj);
    g_assert_cmpstr(str, ==, "{\"driver\":\"qcow2\",\"cache.direct\":true,"
                             "\"cache.no-flush\":false,\"file.driver\":\"file\","
                             "\"file.opts.x\":1,\"l.0\":\"a\",\"l.1.b\":2}");
    json_object_unref(obj);
}

static void test_crumple(void)
{
    JsonObject *flat = obj_from("{\"driver\":\"qcow2\",\"file.driver\":\"file\","
                                "\"file.filename\":\"a.img\",\"cache.direct\":\"on\","
                                "\"backing.file.filename\":\"b.img\"}");
    JsonObject *nested = dict_crumple(flat, &error_abort);
    g_autofree char *str = obj_str(nested);

    g_assert_cmpstr(str, ==, "{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\","
                             "\"filename\":\"a.img\"},\"cache\":{\"direct\":\"on\"},"
                             "\"backing\":{\"file\":{\"filename\":\"b.img\"}}}");
    /* The input is untouched, and flattening gives it back. */
    g_assert_cmpuint(json_object_get_size(flat), ==, 5);
    dict_flatten(nested);
    g_autofree char *back = obj_str(nested);
    g_autofree char *orig = obj_str(flat);
    g_assert_cmpstr(back, ==, orig);
    json_object_unref(nested);
    json_object_unref(flat);
}

static void test_crumple_conflicts(void)
{
    static const struct {
        const char *json;
        const char *msg;
    } cases[] = {
        { "{\"a\":\"1\",\"a.b\":\"2\"}", "Key a prefix is already set as a scalar" },
        { "{\"a.b\":\"2\",\"a\":\"1\"}", "Key a prefix is already set as a dict" },
        { "{\"x.a\":1,\"x.a.b.c\":2}", "Key x.a prefix is already set as a scalar" },
        { "{\"x\":{\"a\":1}}", "Value x is not a scalar" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        JsonObject *flat = obj_from(cases[i].json);
        Error *err = NULL;

        g_assert_null(dict_crumple(flat, &err));
        g_assert_nonnull(err);
        g_assert_cmpstr(error_get_pretty(err), ==, cases[i].msg);
        error_free(err);
        json_object_unref(flat);
    }
}

static void test_extract_prefix(void)
{
    JsonObject *obj = obj_from("{\"file.driver\":\"file\",\"driver\":\"raw\","
                               "\"file.filename\":\"a\",\"filex\":1,\"file.aio.x\":2}");
    JsonObject *sub = dict_extract_prefix(obj, "file");
    g_autofree char *rest = obj_str(obj);
    g_autofree char *got = obj_str(sub);

    g_assert_cmpstr(rest, ==, "{\"driver\":\"raw\",\"filex\":1}");
    g_assert_cmpstr(got, ==, "{\"driver\":\"file\",\"filename\":\"a\",\"aio.x\":2}");
    json_object_unref(sub);
    sub = dict_extract_prefix(obj, "driver.");
    g_assert_cmpuint(json_object_get_size(sub), ==, 0);
    g_assert_cmpuint(json_object_get_size(obj), ==, 2);
    json_object_unref(sub);
    json_object_unref(obj);
}

static void test_getters(void)
{
    JsonObject *obj = obj_from("{\"s\":\"str\",\"i\":-42,\"d\":1.5,\"t\":true,\"f\":false,"
                               "\"n\":null,\"o\":{},\"yes\":\"yes\",\"hex\":\"0x10\","
                               "\"bad\":\"12x\"}");
    Error *err = NULL;

    g_assert_cmpstr(dict_get_str(obj, "s"), ==, "str");
    g_assert_cmpstr(dict_get_str(obj, "i"), ==, "-42");
    g_assert_cmpstr(dict_get_str(obj, "d"), ==, "1.5");
    g_assert_null(dict_get_str(obj, "n"));
    g_assert_null(dict_get_str(obj, "o"));
    g_assert_null(dict_get_str(obj, "missing"));
    g_assert_true(dict_get_bool(obj, "t", false, &error_abort));
    g_assert_cmpstr(dict_get_str(obj, "t"), ==, "on");
    g_assert_true(dict_get_bool(obj, "t", false, &error_abort));
    g_assert_false(dict_get_bool(obj, "f", true, &error_abort));
    g_assert_true(dict_get_bool(obj, "yes", false, &error_abort));
    g_assert_true(dict_get_bool(obj, "missing", true, &error_abort));
    g_assert_true(dict_get_bool(obj, "s", true, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Parameter 's' expects 'on' or 'off'");
    g_clear_pointer(&err, error_free);

    g_assert_cmpint(dict_get_int(obj, "i", 0, &error_abort), ==, -42);
    g_assert_cmpint(dict_get_int(obj, "hex", 0, &error_abort), ==, 16);
    g_assert_cmpint(dict_get_int(obj, "missing", 7, &error_abort), ==, 7);
    g_assert_cmpint(dict_get_int(obj, "bad", 3, &err), ==, 3);
    g_assert_cmpstr(error_get_pretty(err), ==, "Parameter 'bad' expects a number");
    g_clear_pointer(&err, error_free);
    g_assert_cmpint(dict_get_int(obj, "d", 3, &err), ==, 3);
    g_assert_nonnull(err);
    g_clear_pointer(&err, error_free);
    json_object_unref(obj);
}

static void test_misc(void)
{
    JsonObject *obj = obj_from("{\"b\":1,\"a.c\":2,\"a\":3}");
    g_auto(GStrv) keys = NULL;

    dict_copy_default(obj, "b", "x");
    dict_copy_default(obj, "z", "def");
    g_assert_cmpint(dict_get_int(obj, "b", 0, &error_abort), ==, 1);
    g_assert_cmpstr(dict_get_str(obj, "z"), ==, "def");
    g_assert_true(dict_has(obj, "a.c"));
    dict_del(obj, "a.c");
    dict_del(obj, "nothing");
    g_assert_false(dict_has(obj, "a.c"));
    keys = dict_keys_sorted(obj);
    g_assert_cmpuint(g_strv_length(keys), ==, 3);
    g_assert_cmpstr(keys[0], ==, "a");
    g_assert_cmpstr(keys[1], ==, "b");
    g_assert_cmpstr(keys[2], ==, "z");
    json_object_unref(obj);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qdict/flatten", test_flatten);
    g_test_add_func("/qdict/crumple", test_crumple);
    g_test_add_func("/qdict/crumple-conflicts", test_crumple_conflicts);
    g_test_add_func("/qdict/extract-prefix", test_extract_prefix);
    g_test_add_func("/qdict/getters", test_getters);
    g_test_add_func("/qdict/misc", test_misc);
    return g_test_run();
}
