/*
 * Unit tests for util/trace.c: glob patterns on and off, "-" exclusions, call-site caching
 * across pattern changes, the -trace sub-options and the line format.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "util/trace.h"

static char *tmpdir;
static char *out_path;

static void trace_io(int n)
{
    TRACE("io_read", "port %#x", n);
    TRACE("io_write", "n=%d", n);
    TRACE("blk_co_preadv", "off %d", n * 512);
}

/* The trace lines written so far, without their PID@time: prefix. */
static char *read_events(void)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GString *s = g_string_new(NULL);

    g_assert_true(g_file_get_contents(out_path, &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i] && *lines[i]; i++) {
        const char *colon = strchr(lines[i], ':');

        g_assert_true(g_regex_match_simple("^[0-9]+@[0-9]+\\.[0-9]{6}:", lines[i], 0, 0));
        g_string_append_printf(s, "%s|", colon + 1);
    }
    return g_string_free(s, FALSE);
}

static void setup(void)
{
    trace_reset();
    g_assert_true(trace_set_file(out_path, &error_abort));
}

static void test_patterns(void)
{
    setup();
    g_assert_false(trace_enabled_any);
    g_assert_false(trace_event_enabled("io_read"));
    trace_enable_patterns("io_*, blk_?o_*");
    g_assert_true(trace_enabled_any);
    g_assert_true(trace_event_enabled("io_read"));
    g_assert_true(trace_event_enabled("io_write"));
    g_assert_true(trace_event_enabled("blk_co_preadv"));
    g_assert_false(trace_event_enabled("blk_aio_preadv"));
    g_assert_false(trace_event_enabled("xio_read"));
    trace_enable_patterns("-io_w*");
    g_assert_true(trace_event_enabled("io_read"));
    g_assert_false(trace_event_enabled("io_write"));
    trace_enable_patterns("io_write");
    g_assert_true(trace_event_enabled("io_write"));
    trace_reset();
    g_assert_false(trace_enabled_any);
    g_assert_false(trace_event_enabled("io_read"));
    trace_enable_patterns("-io_read");
    g_assert_false(trace_enabled_any);
}

static void test_call_sites(void)
{
    g_autofree char *ev = NULL;

    setup();
    trace_io(1);
    trace_enable_patterns("io_read");
    trace_io(2);
    trace_io(3);
    trace_enable_patterns("blk_*,-io_read");
    trace_io(4);
    trace_reset();
    trace_io(5);
    ev = read_events();
    g_assert_cmpstr(ev, ==, "io_read port 0x2|io_read port 0x3|blk_co_preadv off 2048|");
}

static void test_option(void)
{
    g_autofree char *events = g_build_filename(tmpdir, "events", NULL);
    g_autofree char *opt = g_strdup_printf("events=%s,file=%s", events, out_path);
    g_autofree char *ev = NULL;

    trace_reset();
    g_assert_true(g_file_set_contents(events, "# comment\n\n  io_write  \nblk_*\n-blk_co*\n",
                                      -1, NULL));
    g_assert_true(trace_parse_option(opt, &error_abort));
    g_assert_true(trace_event_enabled("io_write"));
    g_assert_true(trace_event_enabled("blk_aio"));
    g_assert_false(trace_event_enabled("blk_co_preadv"));
    g_assert_false(trace_event_enabled("io_read"));
    g_assert_false(trace_event_enabled("# comment"));
    trace_io(7);
    ev = read_events();
    g_assert_cmpstr(ev, ==, "io_write n=7|");

    trace_reset();
    g_assert_true(trace_parse_option("io_r*,,blk_co*,enable=x", &error_abort));
    g_assert_true(trace_event_enabled("io_read"));
    g_assert_true(trace_event_enabled("blk_co_preadv"));
    g_assert_true(trace_event_enabled("x"));
    g_assert_false(trace_event_enabled("io_write"));
}

static void test_option_errors(void)
{
    g_autofree char *missing = g_build_filename(tmpdir, "nope", NULL);
    g_autofree char *opt = g_strdup_printf("events=%s", missing);
    g_autofree char *want = g_strdup_printf("could not open trace events file '%s': %s",
                                            missing, g_strerror(ENOENT));
    Error *err = NULL;

    trace_reset();
    g_assert_false(trace_parse_option("io_read,bogus=1", &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Invalid parameter 'bogus'");
    g_clear_pointer(&err, error_free);
    g_assert_false(trace_parse_option(opt, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, want);
    g_clear_pointer(&err, error_free);
    g_assert_false(trace_enabled_any);
}

int main(int argc, char **argv)
{
    g_autofree char *events = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("test-trace-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);
    out_path = g_build_filename(tmpdir, "out", NULL);
    g_test_add_func("/trace/patterns", test_patterns);
    g_test_add_func("/trace/call-sites", test_call_sites);
    g_test_add_func("/trace/option", test_option);
    g_test_add_func("/trace/option-errors", test_option_errors);
    ret = g_test_run();
    trace_set_file(NULL, &error_abort);
    g_unlink(out_path);
    events = g_build_filename(tmpdir, "events", NULL);
    g_unlink(events);
    g_rmdir(tmpdir);
    g_free(out_path);
    g_free(tmpdir);
    return ret;
}
