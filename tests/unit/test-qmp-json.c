/*
 * Unit tests for the QMP input splitter (monitor/json-stream.c) and output writer
 * (monitor/json-writer.c): message boundaries without framing, QEMU 2.2's dialect, the
 * size and depth limits, and 2.2's output spacing and escaping.
 */
#include <string.h>
#include <glib.h>
#include "monitor/json-stream.h"
#include "monitor/json-writer.h"

typedef struct Collected {
    GPtrArray *msgs; /* compact text of each message, or "ERROR" */
} Collected;

static void collect(void *opaque, JsonNode *msg)
{
    Collected *c = opaque;

    if (!msg) {
        g_ptr_array_add(c->msgs, g_strdup("ERROR"));
        return;
    }
    g_ptr_array_add(c->msgs, json_to_qmp_string(msg, false));
    json_node_unref(msg);
}

/* Feed input (in chunks of `chunk` bytes, 0 = all at once); return the messages joined by
 * '|'. */
static char *split(const char *input, size_t len, size_t chunk)
{
    Collected c = {g_ptr_array_new_with_free_func(g_free)};
    JsonStream js;
    char *out;

    json_stream_init(&js, collect, &c);
    for (size_t off = 0; off < len;) {
        size_t n = chunk ? MIN(chunk, len - off) : len;

        json_stream_feed(&js, input + off, n);
        off += n;
    }
    json_stream_destroy(&js);
    g_ptr_array_add(c.msgs, NULL);
    out = g_strjoinv("|", (char **)c.msgs->pdata);
    g_ptr_array_free(c.msgs, TRUE);
    return out;
}

static void check_split(const char *input, const char *expect)
{
    for (size_t chunk = 0; chunk <= 3; chunk++) {
        g_autofree char *got = split(input, strlen(input), chunk);

        g_assert_cmpstr(got, ==, expect);
    }
}

static void test_boundaries(void)
{
    check_split("{\"execute\": \"stop\"}", "{\"execute\": \"stop\"}");
    check_split("{\"a\":1}{\"b\":[1,{\"c\":2}]}  \r\n\t{}",
                "{\"a\": 1}|{\"b\": [1, {\"c\": 2}]}|{}");
    check_split("{\"s\": \"}{][\"}", "{\"s\": \"}{][\"}");
    check_split("[1, 2] 3 \"x\" ", "[1, 2]|3|\"x\"");
    check_split("", "");
}

static void test_dialect(void)
{
    check_split("{'execute': 'query-status'}", "{\"execute\": \"query-status\"}");
    check_split("{'a': 'say \"hi\"', 'b': 'it\\'s'}",
                "{\"a\": \"say \\\"hi\\\"\", \"b\": \"it's\"}");
    check_split("{\"a\": \"\\u00e9\\n\"}", "{\"a\": \"\\u00E9\\n\"}");
    check_split("{\"t\": true, \"f\": false}", "{\"t\": true, \"f\": false}");
    check_split("{\"big\": 123456789012345678901234}", "{\"big\": 123456789012345685803008}");
    check_split("{\"n\": -0.5e1}", "{\"n\": -5}");
    check_split("{\"raw\": \"a\tb\"}", "{\"raw\": \"a\\tb\"}");
}

static void test_errors(void)
{
    check_split("{\"a\": null}", "ERROR");
    check_split("{\"a\": nul} {}", "ERROR|{}");
    check_split("@{}", "ERROR|{}");
    check_split("{\"a\": \"\\q\"}", "ERROR"); /* then inside a string again */
    check_split("{\"a\": 1,}", "ERROR");
    check_split("}", "ERROR");
    check_split("{\"a\": \"\xff\"}", "ERROR");
    check_split("{\"a\": 01}", "ERROR");
    check_split("{\"a\": \"x\\u12g4\"}", "ERROR|4");
}

/* A keyword 2.2's parser refuses is still a token: one error for the whole message, however
 * deep it sits, and the next message is read from its start. */
static void test_bad_keyword_one_error(void)
{
    check_split("{\"a\": {\"b\": null}} {}", "ERROR|{}");
    check_split("{\"a\": {\"b\": null, \"c\": \"x\", \"d\": [1]}}{}", "ERROR|{}");
    check_split("[nan, \"s\", 1] [2]", "ERROR|[2]");
    check_split("null {}", "ERROR|{}");
    check_split("{\"a\": [null]} @", "ERROR|ERROR");
}

static void test_depth_limit(void)
{
    int depth = JSON_STREAM_MAX_DEPTH;
    GString *ok = g_string_new("{\"a\": ");
    g_autofree char *got = NULL;
    GString *deep = g_string_new(NULL);

    /* 1 brace + 1023 brackets: the limit exactly, one message. */
    for (int i = 0; i < depth - 1; i++) {
        g_string_append_c(ok, '[');
    }
    for (int i = 0; i < depth - 1; i++) {
        g_string_append_c(ok, ']');
    }
    g_string_append_c(ok, '}');
    got = split(ok->str, ok->len, 0);
    g_assert_cmpint(strlen(got), ==, ok->len); /* the same text back */
    g_assert_null(strstr(got, "ERROR"));
    g_free(got);
    /* 100000 deep: cut every 1025 levels, the stray closers are errors, nothing crashes. */
    for (int i = 0; i < 100000; i++) {
        g_string_append_c(deep, '[');
    }
    for (int i = 0; i < 100000; i++) {
        g_string_append_c(deep, ']');
    }
    g_string_append(deep, "{\"after\": 1}");
    got = split(deep->str, deep->len, 4096);
    g_assert_true(g_str_has_prefix(got, "ERROR|"));
    g_assert_true(g_str_has_suffix(got, "|{\"after\": 1}"));
    g_string_free(ok, TRUE);
    g_string_free(deep, TRUE);
}

static void test_size_limit(void)
{
    size_t len = JSON_STREAM_MAX_SIZE + 1024;
    char *big = g_malloc(len);
    g_autofree char *got = NULL;

    memset(big, 'x', len);
    big[0] = '"';
    memcpy(big + len - 8, "\"{\"z\":1}", 8);
    got = split(big, len, 1 << 20);
    /* The string was cut: an error, then whatever the tail makes of it. */
    g_assert_true(g_str_has_prefix(got, "ERROR"));
    g_free(big);
}

static char *write_json(const char *text, bool pretty)
{
    g_autoptr(JsonParser) p = json_parser_new();

    g_assert_true(json_parser_load_from_data(p, text, -1, NULL));
    return json_to_qmp_string(json_parser_get_root(p), pretty);
}

static void check_write(const char *text, bool pretty, const char *expect)
{
    g_autofree char *got = write_json(text, pretty);

    g_assert_cmpstr(got, ==, expect);
}

static void test_writer(void)
{
    check_write("{\"return\":{}}", false, "{\"return\": {}}");
    check_write("{\"a\":[1,true,false,\"s\"],\"b\":[]}", false,
                "{\"a\": [1, true, false, \"s\"], \"b\": []}");
    check_write("{\"e\":\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u007f\"}", false,
                "{\"e\": \"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u007F\"}");
    check_write("\"\xc3\xa9\xf0\x9f\x98\x80/\"", false, "\"\\u00E9\\uD83D\\uDE00/\"");
    check_write("[1.5, 2.0, -0.25]", false, "[1.5, 2, -0.25]");
    check_write("{\"a\":{\"b\":1},\"c\":[2]}", true,
                "{\n    \"a\": {\n        \"b\": 1\n    }, \n    \"c\": [\n        2\n    ]\n}");
    check_write("{}", true, "{\n}");
}

static void test_writer_invalid_utf8(void)
{
    JsonNode *n = json_node_new(JSON_NODE_VALUE);
    g_autofree char *got = NULL;

    /* json-glib does not check strings set by code: a filename may be anything. */
    json_node_set_string(n, "a\xff"
                            "b");
    got = json_to_qmp_string(n, false);
    g_assert_cmpstr(got, ==, "\"a\\uFFFDb\"");
    json_node_unref(n);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp-json/boundaries", test_boundaries);
    g_test_add_func("/qmp-json/dialect", test_dialect);
    g_test_add_func("/qmp-json/errors", test_errors);
    g_test_add_func("/qmp-json/bad-keyword-one-error", test_bad_keyword_one_error);
    g_test_add_func("/qmp-json/depth-limit", test_depth_limit);
    g_test_add_func("/qmp-json/size-limit", test_size_limit);
    g_test_add_func("/qmp-json/writer", test_writer);
    g_test_add_func("/qmp-json/writer-invalid-utf8", test_writer_invalid_utf8);
    return g_test_run();
}
