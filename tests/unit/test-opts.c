/*
 * Unit tests for util/opts.c and util/cutils.c: QemuOpts syntax (implied key, ",," escapes,
 * flag booleans, id), QEMU's error texts, typed getters, help, and the size/bool/uint parsers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "util/cutils.h"
#include "util/opts.h"

static const OptDesc memory_desc[] = {
    { .name = "size", .type = OPT_SIZE, .help = "initial amount of guest memory" },
    { .name = "slots", .type = OPT_NUMBER },
    { 0 },
};
static const OptsList memory_list = { .name = "memory", .implied_opt_name = "size",
                                      .desc = memory_desc };

static const OptDesc drive_desc[] = {
    { .name = "file", .type = OPT_STRING, .help = "disk image" },
    { .name = "if", .type = OPT_STRING, .def_value_str = "ide" },
    { .name = "snapshot", .type = OPT_BOOL },
    { .name = "readonly", .type = OPT_BOOL, .def_value_str = "on" },
    { .name = "index", .type = OPT_NUMBER },
    { .name = "bps", .type = OPT_SIZE },
    { 0 },
};
static const OptsList drive_list = { .name = "drive", .desc = drive_desc };

static const OptsList any_list = { .name = "any", .implied_opt_name = "type" };

/* Parse, expect failure, return the message (g_free it). */
static char *parse_error(const OptsList *list, const char *params, bool abbrev)
{
    Error *err = NULL;
    Opts *opts = opts_parse(list, params, abbrev, &err);
    char *msg;

    g_assert_null(opts);
    g_assert_nonnull(err);
    msg = g_strdup(error_get_pretty(err));
    error_free(err);
    return msg;
}

static void test_implied(void)
{
    Opts *opts = opts_parse(&memory_list, "512M,slots=2", true, &error_abort);

    g_assert_cmpstr(opts_get(opts, "size"), ==, "512M");
    g_assert_cmpuint(opts_get_size(opts, "size", 0), ==, 512 << 20);
    g_assert_cmpuint(opts_get_number(opts, "slots", 0), ==, 2);
    opts_free(opts);

    opts = opts_parse(&any_list, "pc,accel=kvm", true, &error_abort);
    g_assert_cmpstr(opts_get(opts, "type"), ==, "pc");
    g_assert_cmpstr(opts_get(opts, "accel"), ==, "kvm");
    opts_free(opts);

    /* Without permit_abbrev, a bare first element is a flag. */
    g_autofree char *msg = parse_error(&memory_list, "512", false);
    g_assert_cmpstr(msg, ==, "Invalid parameter '512'");
}

static void test_escapes(void)
{
    Opts *opts = opts_parse(&drive_list, "file=a,,b,,,,c.img,if=none", false, &error_abort);

    g_assert_cmpstr(opts_get(opts, "file"), ==, "a,b,,c.img");
    g_assert_cmpstr(opts_get(opts, "if"), ==, "none");
    opts_free(opts);

    opts = opts_parse(&any_list, "x,,y,z=1=2,", true, &error_abort);
    g_assert_cmpstr(opts_get(opts, "type"), ==, "x,y");
    g_assert_cmpstr(opts_get(opts, "z"), ==, "1=2");
    opts_free(opts);
}

static void test_flags(void)
{
    Opts *opts = opts_parse(&drive_list, "snapshot,noreadonly", false, &error_abort);

    g_assert_cmpstr(opts_get(opts, "snapshot"), ==, "on");
    g_assert_cmpstr(opts_get(opts, "readonly"), ==, "off");
    g_assert_true(opts_get_bool(opts, "snapshot", false));
    g_assert_false(opts_get_bool(opts, "readonly", true));
    opts_free(opts);

    opts = opts_parse(&drive_list, "snapshot=yes,readonly=false", false, &error_abort);
    g_assert_true(opts_get_bool(opts, "snapshot", false));
    g_assert_false(opts_get_bool(opts, "readonly", true));
    opts_free(opts);
}

static void test_errors(void)
{
    static const struct {
        const OptsList *list;
        const char *params;
        const char *msg;
    } cases[] = {
        { &drive_list, "file=x,cache=none", "Invalid parameter 'cache'" },
        { &drive_list, "nocache", "Invalid parameter 'cache'" },
        { &drive_list, "snapshot=maybe", "Parameter 'snapshot' expects 'on' or 'off'" },
        { &drive_list, "index=1x", "Parameter 'index' expects a number" },
        { &drive_list, "index=-1", "Parameter 'index' expects a number" },
        { &drive_list, "index=", "Parameter 'index' expects a number" },
        { &drive_list, "bps=12Q", "Parameter 'bps' expects a size" },
        { &drive_list, "bps=-1", "Parameter 'bps' expects a non-negative number below 2^64" },
        { &drive_list, "id=0drive", "Parameter 'id' expects an identifier" },
        { &drive_list, ",file=x", "Invalid parameter ''" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *msg = parse_error(cases[i].list, cases[i].params, true);

        g_assert_cmpstr(msg, ==, cases[i].msg);
    }
}

static int collect(void *opaque, const char *name, const char *value, Error **errp)
{
    g_string_append_printf(opaque, "[%s=%s]", name, value);
    return 0;
}

static int stop_at_b(void *opaque, const char *name, const char *value, Error **errp)
{
    g_string_append(opaque, name);
    return !strcmp(name, "b") ? 7 : 0;
}

static void test_repeated_and_id(void)
{
    Opts *opts = opts_parse(&any_list, "a=1,id=d0,b=x,a=2", false, &error_abort);
    GString *s = g_string_new(NULL);

    g_assert_cmpstr(opts_id(opts), ==, "d0");
    g_assert_null(opts_get(opts, "id"));
    g_assert_cmpstr(opts_get(opts, "a"), ==, "2");
    g_assert_cmpint(opts_foreach(opts, collect, s, &error_abort), ==, 0);
    g_assert_cmpstr(s->str, ==, "[a=1][b=x][a=2]");
    g_string_truncate(s, 0);
    g_assert_cmpint(opts_foreach(opts, stop_at_b, s, &error_abort), ==, 7);
    g_assert_cmpstr(s->str, ==, "ab");
    g_string_free(s, TRUE);
    opts_free(opts);
}

static void test_set_unset_defaults(void)
{
    Opts *opts = opts_parse(&drive_list, "file=x,if=virtio,if=scsi", false, &error_abort);

    g_assert_true(opts_has(opts, "if"));
    opts_set(opts, "if", "none");
    g_autofree char *str = opts_to_string(opts);
    g_assert_cmpstr(str, ==, "file=x,if=none");
    opts_unset(opts, "if");
    g_assert_false(opts_has(opts, "if"));
    g_assert_null(opts_get(opts, "if"));
    /* Typed getters fall back to the descriptor default, then to def. */
    g_assert_true(opts_get_bool(opts, "readonly", false));
    g_assert_false(opts_get_bool(opts, "snapshot", false));
    g_assert_cmpuint(opts_get_number(opts, "index", 42), ==, 42);
    g_assert_cmpuint(opts_get_size(opts, "bps", 9), ==, 9);
    opts_free(opts);
}

static void test_to_string_dict(void)
{
    Opts *opts = opts_parse(&any_list, "id=x0,file=a,,b,cache.direct=on,n=1,n=2", false,
                            &error_abort);
    g_autofree char *str = opts_to_string(opts);
    Opts *back = opts_parse(&any_list, str, false, &error_abort);
    JsonObject *dict = opts_to_dict(opts);

    g_assert_cmpstr(str, ==, "id=x0,file=a,,b,cache.direct=on,n=1,n=2");
    g_assert_cmpstr(opts_get(back, "file"), ==, "a,b");
    g_assert_cmpstr(opts_id(back), ==, "x0");
    g_assert_cmpuint(json_object_get_size(dict), ==, 4);
    g_assert_cmpstr(json_object_get_string_member(dict, "id"), ==, "x0");
    g_assert_cmpstr(json_object_get_string_member(dict, "cache.direct"), ==, "on");
    g_assert_cmpstr(json_object_get_string_member(dict, "n"), ==, "2");
    json_object_unref(dict);
    opts_free(back);
    opts_free(opts);
}

static void test_help(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    g_assert_true(opts_is_help("help"));
    g_assert_true(opts_is_help("?"));
    g_assert_true(opts_is_help("size=1,help"));
    g_assert_false(opts_is_help("file=help"));
    g_assert_false(opts_is_help("helpme"));
    g_assert_false(opts_is_help(""));
    opts_print_help(&memory_list, f);
    fclose(f);
    g_assert_cmpstr(buf, ==, "Supported options:\n"
                             "size             initial amount of guest memory\n"
                             "slots            No description available\n");
    free(buf);
}

/* ---- cutils ---- */

static void test_parse_size(void)
{
    static const struct {
        const char *str;
        int ret;
        uint64_t val;
    } cases[] = {
        { "0", 0, 0 },
        { "1", 0, 1 },
        { "1b", 0, 1 },
        { "1B", 0, 1 },
        { "64k", 0, 64 << 10 },
        { "64K", 0, 64 << 10 },
        { "2m", 0, 2 << 20 },
        { "2M", 0, 2 << 20 },
        { "1.5G", 0, 3ULL << 29 },
        { "1.5k", 0, 1536 },
        { "3t", 0, 3ULL << 40 },
        { "1P", 0, 1ULL << 50 },
        { "1E", 0, 1ULL << 60 },
        { "15E", 0, 15ULL << 60 },
        { "0x10", 0, 16 },
        { "9007199254740993", 0, 9007199254740993ULL },
        { "18446744073709551615", 0, UINT64_MAX },
        { "18446744073709551616", -ERANGE, 0 },
        { "16E", -ERANGE, 0 },
        { "16777216T", -ERANGE, 0 },
        { "-1", -ERANGE, 0 },
        { "-1k", -ERANGE, 0 },
        { "", -EINVAL, 0 },
        { "abc", -EINVAL, 0 },
        { "k", -EINVAL, 0 },
        { "1.5", -EINVAL, 0 },
        { "1.5B", -EINVAL, 0 },
        { "12Q", -EINVAL, 0 },
        { "1kb", -EINVAL, 0 },
        { "1 k", -EINVAL, 0 },
        { "1k ", -EINVAL, 0 },
        { "nan", -EINVAL, 0 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint64_t val = 0xdead;
        int ret = parse_size(cases[i].str, &val, NULL);
        g_autofree char *got = g_strdup_printf("'%s' -> %d %" PRIu64, cases[i].str, ret, val);
        g_autofree char *want = g_strdup_printf("'%s' -> %d %" PRIu64, cases[i].str,
                                                cases[i].ret,
                                                cases[i].ret ? 0xdead : cases[i].val);

        g_assert_cmpstr(got, ==, want);
    }
}

static void test_parse_size_errors(void)
{
    Error *err = NULL;
    uint64_t val;

    g_assert_cmpint(parse_size("abc", &val, &err), ==, -EINVAL);
    g_assert_cmpstr(error_get_pretty(err), ==, "Invalid size 'abc'");
    error_free(err);
    err = NULL;
    g_assert_cmpint(parse_size("-5", &val, &err), ==, -ERANGE);
    g_assert_cmpstr(error_get_pretty(err), ==, "Size '-5' is negative or too large");
    error_free(err);
}

static void test_parse_size_default_suffix(void)
{
    uint64_t val;

    g_assert_cmpint(parse_size_default_suffix("512", 'M', &val, NULL), ==, 0);
    g_assert_cmpuint(val, ==, 512ULL << 20);
    g_assert_cmpint(parse_size_default_suffix("512k", 'M', &val, NULL), ==, 0);
    g_assert_cmpuint(val, ==, 512ULL << 10);
    g_assert_cmpint(parse_size_default_suffix("512B", 'M', &val, NULL), ==, 0);
    g_assert_cmpuint(val, ==, 512);
    g_assert_cmpint(parse_size_default_suffix("1.5", 'M', &val, NULL), ==, 0);
    g_assert_cmpuint(val, ==, 3ULL << 19);
    g_assert_cmpint(parse_size_default_suffix("17179869184", 'G', &val, NULL), ==, -ERANGE);
}

static void test_parse_bool(void)
{
    static const char *const on[] = { "on", "yes", "true" };
    static const char *const off[] = { "off", "no", "false" };
    Error *err = NULL;
    bool b;

    for (size_t i = 0; i < G_N_ELEMENTS(on); i++) {
        g_assert_true(parse_bool("x", on[i], &b, &error_abort) && b);
        g_assert_true(parse_bool("x", off[i], &b, &error_abort) && !b);
    }
    g_assert_false(parse_bool("readonly", "ON", &b, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Parameter 'readonly' expects 'on' or 'off'");
    error_free(err);
}

static void test_parse_uint(void)
{
    uint64_t v = 5;

    g_assert_cmpint(parse_uint("123", &v, 10), ==, 0);
    g_assert_cmpuint(v, ==, 123);
    g_assert_cmpint(parse_uint("0x1f", &v, 0), ==, 0);
    g_assert_cmpuint(v, ==, 31);
    g_assert_cmpint(parse_uint("ff", &v, 16), ==, 0);
    g_assert_cmpuint(v, ==, 255);
    g_assert_cmpint(parse_uint("010", &v, 0), ==, 0);
    g_assert_cmpuint(v, ==, 8);
    g_assert_cmpint(parse_uint("18446744073709551615", &v, 10), ==, 0);
    g_assert_cmpuint(v, ==, UINT64_MAX);
    v = 5;
    g_assert_cmpint(parse_uint("18446744073709551616", &v, 10), ==, -ERANGE);
    g_assert_cmpint(parse_uint("-1", &v, 10), ==, -EINVAL);
    g_assert_cmpint(parse_uint(" 1", &v, 10), ==, -EINVAL);
    g_assert_cmpint(parse_uint("1 ", &v, 10), ==, -EINVAL);
    g_assert_cmpint(parse_uint("", &v, 10), ==, -EINVAL);
    g_assert_cmpint(parse_uint("0x", &v, 0), ==, -EINVAL);
    g_assert_cmpint(parse_uint("12a", &v, 10), ==, -EINVAL);
    g_assert_cmpuint(v, ==, 5);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/opts/implied", test_implied);
    g_test_add_func("/opts/escapes", test_escapes);
    g_test_add_func("/opts/flags", test_flags);
    g_test_add_func("/opts/errors", test_errors);
    g_test_add_func("/opts/repeated-and-id", test_repeated_and_id);
    g_test_add_func("/opts/set-unset-defaults", test_set_unset_defaults);
    g_test_add_func("/opts/to-string-dict", test_to_string_dict);
    g_test_add_func("/opts/help", test_help);
    g_test_add_func("/cutils/parse-size", test_parse_size);
    g_test_add_func("/cutils/parse-size-errors", test_parse_size_errors);
    g_test_add_func("/cutils/parse-size-default-suffix", test_parse_size_default_suffix);
    g_test_add_func("/cutils/parse-bool", test_parse_bool);
    g_test_add_func("/cutils/parse-uint", test_parse_uint);
    return g_test_run();
}
