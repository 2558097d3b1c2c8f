/*
 * Unit tests for the command table (monitor/command.c: lookup, QMP argument checking with
 * 2.2's texts), HMP's argument parsing (monitor/hmp.c, through hmp_run_capture) and the
 * readline echo and history (monitor/readline.c).
 */
#include <string.h>
#include <glib.h>
#include "monitor/command.h"
#include "monitor/json-writer.h"
#include "monitor/monitor.h"
#include "monitor/readline.h"

static void echo_args(JsonObject *args, JsonNode **ret, Error **errp)
{
    JsonNode *n = json_node_init_object(json_node_alloc(), args);
    g_autofree char *text = json_to_qmp_string(n, false);

    *ret = json_node_init_string(json_node_alloc(), text);
    json_node_unref(n);
}

static void fail_cmd(JsonObject *args, JsonNode **ret, Error **errp)
{
    error_set(errp, ERROR_CLASS_DEVICE_NOT_FOUND, "Device '%s' not found",
              monitor_arg_str(args, "device"));
}

static void print_string(Monitor *mon, JsonObject *args, JsonNode *ret)
{
    monitor_printf(mon, "%s\n", json_node_get_string(ret));
}

static const MonitorCommand test_cmds[] = {
    {.name = "x-echo",
     .args_type = "force:-f,device:B,size:o,name:s?,count:i?,on:b?",
     .fn = echo_args,
     .hmp_name = "x_echo|xe",
     .hmp_print = print_string},
    {.name = "x-fail", .args_type = "device:B", .fn = fail_cmd, .hmp_name = "x_fail"},
    {.name = "x-rest",
     .args_type = "line:S",
     .fn = echo_args,
     .hmp_name = "x_rest",
     .hmp_print = print_string},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(test_cmds);

static JsonObject *parse_obj(const char *text)
{
    g_autoptr(JsonParser) p = json_parser_new();

    g_assert_true(json_parser_load_from_data(p, text, -1, NULL));
    return json_object_ref(json_node_get_object(json_parser_get_root(p)));
}

static void check_args(const char *args_type, const char *args, const char *error)
{
    JsonObject *obj = parse_obj(args);
    Error *err = NULL;
    bool ok = monitor_check_args(args_type, obj, &err);

    if (error) {
        g_assert_false(ok);
        g_assert_cmpstr(error_get_pretty(err), ==, error);
        error_free(err);
    } else {
        g_assert_true(ok);
    }
    json_object_unref(obj);
}

static void test_check_args(void)
{
    const char *t = "force:-f,device:B,size:o,name:s?,speed:T?";

    check_args(t, "{\"device\": \"d\", \"size\": 1}", NULL);
    check_args(t, "{\"device\": \"d\", \"size\": 1, \"force\": true, \"speed\": 1.5}", NULL);
    check_args(t, "{\"device\": \"d\"}", "Parameter 'size' is missing");
    check_args(t, "{\"size\": 1}", "Parameter 'device' is missing");
    check_args(t, "{\"device\": 1, \"size\": 1}",
               "Invalid parameter type for 'device', expected: string");
    check_args(t, "{\"device\": \"d\", \"size\": \"1\"}",
               "Invalid parameter type for 'size', expected: int");
    check_args(t, "{\"device\": \"d\", \"size\": 1, \"force\": 1}",
               "Invalid parameter type for 'force', expected: bool");
    check_args(t, "{\"device\": \"d\", \"size\": 1, \"speed\": \"x\"}",
               "Invalid parameter type for 'speed', expected: number");
    check_args(t, "{\"device\": \"d\", \"size\": 1, \"bogus\": 1}", "Invalid parameter 'bogus'");
    check_args(NULL, "{}", NULL);
    check_args(NULL, "{\"a\": 1}", "Invalid parameter 'a'");
    check_args("options:O", "{\"a\": 1, \"b\": {}}", NULL);
    check_args("actions:q", "{\"actions\": [1, {}]}", NULL);
}

static void test_lookup(void)
{
    g_assert_nonnull(monitor_find_qmp("x-echo"));
    g_assert_null(monitor_find_qmp("x_echo"));
    g_assert_true(monitor_find_hmp("xe") == monitor_find_hmp("x_echo"));
    g_assert_null(monitor_find_hmp("x"));
    g_assert_nonnull(monitor_find_hmp("info status"));
    g_assert_true(monitor_find_hmp("c") == monitor_find_qmp("cont"));
}

static void check_hmp(const char *line, const char *expect)
{
    g_autofree char *out = hmp_run_capture(line);

    g_assert_cmpstr(out, ==, expect);
}

static void test_hmp_parse(void)
{
    check_hmp("x_echo dev 10", "{\"device\": \"dev\", \"size\": 10485760}\r\n");
    check_hmp("xe -f dev 4k name 7 on",
              "{\"force\": true, \"device\": \"dev\", \"size\": 4096, \"name\": \"name\", "
              "\"count\": 7, \"on\": true}\r\n");
    check_hmp("x_echo \"a b\\\"c\" 1G \"\"",
              "{\"device\": \"a b\\\"c\", \"size\": 1073741824, \"name\": \"\"}\r\n");
    check_hmp("x_echo dev 1 n 0x10 off",
              "{\"device\": \"dev\", \"size\": 1048576, \"name\": \"n\", \"count\": 16, "
              "\"on\": false}\r\n");
    check_hmp("x_echo", "x_echo: block device name expected\r\n");
    check_hmp("x_echo dev", "invalid size\r\n");
    check_hmp("x_echo dev 12q", "invalid size\r\n");
    check_hmp("x_echo dev 1 n x", "invalid char in expression\r\n");
    check_hmp("x_echo dev 1 n 1 maybe", "Expected 'on' or 'off'\r\n");
    check_hmp("x_echo dev 1 n 1 on extra", "x_echo: extraneous characters at the end of line\r\n");
    check_hmp("x_echo -z dev 1", "x_echo: unsupported option -z\r\n");
    check_hmp("x_fail disk0", "Device 'disk0' not found\r\n");
    check_hmp("x_rest  all of it  ", "{\"line\": \"all of it  \"}\r\n");
    check_hmp("nothing here", "unknown command: 'nothing'\r\n");
    check_hmp("   ", "");
}

typedef struct RLOut {
    GString *screen;
    GPtrArray *lines;
} RLOut;

static void rl_print(void *opaque, const char *text)
{
    g_string_append(((RLOut *)opaque)->screen, text);
}

static void rl_line(void *opaque, const char *line)
{
    g_ptr_array_add(((RLOut *)opaque)->lines, g_strdup(line));
}

static void rl_feed(ReadLine *rl, const char *bytes)
{
    for (const char *p = bytes; *p; p++) {
        readline_handle_byte(rl, (unsigned char)*p);
    }
}

static void test_readline(void)
{
    RLOut out = {g_string_new(NULL), g_ptr_array_new_with_free_func(g_free)};
    ReadLine rl;

    readline_init(&rl, "(qemu) ", rl_print, rl_line, &out);
    readline_show_prompt(&rl);
    rl_feed(&rl, "ab\n");
    /* QEMU's echo: reprint the line after moving back, then ESC[K. */
    g_assert_cmpstr(out.screen->str, ==, "(qemu) a\033[K\033[Dab\033[K\n");
    rl_feed(&rl, "cd\r");
    rl_feed(&rl, "\033[A\033[A\n");         /* up twice: "ab" */
    rl_feed(&rl, "xz\033[Dy\n");            /* left arrow, insert */
    rl_feed(&rl, "abc\001\033[3~X\005Y\n"); /* home, delete, insert, end */
    rl_feed(&rl, "one two\027three\n");     /* Ctrl-W */
    rl_feed(&rl, "typo\177\177\177\n");     /* backspace */
    g_assert_cmpuint(out.lines->len, ==, 7);
    g_assert_cmpstr(out.lines->pdata[0], ==, "ab");
    g_assert_cmpstr(out.lines->pdata[1], ==, "cd");
    g_assert_cmpstr(out.lines->pdata[2], ==, "ab");
    g_assert_cmpstr(out.lines->pdata[3], ==, "xyz");
    g_assert_cmpstr(out.lines->pdata[4], ==, "XbcY");
    g_assert_cmpstr(out.lines->pdata[5], ==, "one three");
    g_assert_cmpstr(out.lines->pdata[6], ==, "t");
    readline_free(&rl);
    g_string_free(out.screen, TRUE);
    g_ptr_array_free(out.lines, TRUE);
}

static void test_readline_limits(void)
{
    RLOut out = {g_string_new(NULL), g_ptr_array_new_with_free_func(g_free)};
    ReadLine rl;
    char *longline = g_strnfill(READLINE_CMD_BUF_SIZE + 100, 'q');

    readline_init(&rl, "> ", rl_print, rl_line, &out);
    rl_feed(&rl, longline);
    rl_feed(&rl, "\n");
    g_assert_cmpuint(strlen(out.lines->pdata[0]), ==, READLINE_CMD_BUF_SIZE);
    for (int i = 0; i < READLINE_MAX_CMDS + 10; i++) {
        g_autofree char *line = g_strdup_printf("cmd%d\n", i);

        rl_feed(&rl, line);
    }
    rl_feed(&rl, "\033[A\n");
    g_assert_cmpstr(out.lines->pdata[out.lines->len - 1], ==, "cmd73");
    rl_feed(&rl, "\033[B\033[B\033[5~\n"); /* down past the end, unknown key */
    g_assert_cmpstr(out.lines->pdata[out.lines->len - 1], ==, "");
    rl_feed(&rl, "\033[99999999999999999999999999999~ok\n"); /* no int overflow (UBSan) */
    g_assert_cmpstr(out.lines->pdata[out.lines->len - 1], ==, "ok");
    g_free(longline);
    readline_free(&rl);
    g_string_free(out.screen, TRUE);
    g_ptr_array_free(out.lines, TRUE);
}

/* Password mode: '*' per character, the line kept out of the history, then back. */
static void test_readline_password(void)
{
    RLOut out = {g_string_new(NULL), g_ptr_array_new_with_free_func(g_free)};
    ReadLine rl;

    readline_init(&rl, "(qemu) ", rl_print, rl_line, &out);
    rl_feed(&rl, "cmd\n");
    readline_start(&rl, "Password: ", true, rl_line, &out);
    readline_show_prompt(&rl);
    g_string_truncate(out.screen, 0);
    rl_feed(&rl, "se\n");
    g_assert_cmpstr(out.screen->str, ==, "*\033[K\033[D**\033[K\n");
    g_assert_cmpstr(out.lines->pdata[1], ==, "se");
    readline_start(&rl, "(qemu) ", false, rl_line, &out);
    rl_feed(&rl, "\033[A\n"); /* up: the command before, not the password */
    g_assert_cmpstr(out.lines->pdata[2], ==, "cmd");
    readline_free(&rl);
    g_string_free(out.screen, TRUE);
    g_ptr_array_free(out.lines, TRUE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp-commands/check-args", test_check_args);
    g_test_add_func("/qmp-commands/lookup", test_lookup);
    g_test_add_func("/qmp-commands/hmp-parse", test_hmp_parse);
    g_test_add_func("/qmp-commands/readline", test_readline);
    g_test_add_func("/qmp-commands/readline-limits", test_readline_limits);
    g_test_add_func("/qmp-commands/readline-password", test_readline_password);
    return g_test_run();
}
