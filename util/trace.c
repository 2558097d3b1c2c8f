/*
 * The trace pattern set, the per-call-site cache behind TRACE(), the -trace option and the
 * line writer. MINIVMM_TRACE is read at start-up with the same syntax as -trace. Not a
 * general logger: errors and warnings go through error.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "util/opts.h"
#include "util/trace.h"

typedef struct TracePattern {
    GPatternSpec *spec;
    bool enable;
} TracePattern;

bool trace_enabled_any;
unsigned trace_generation = 1;

static GMutex trace_lock;        /* patterns, generation, output */
static GPtrArray *trace_patterns; /* of TracePattern *, in the order given */
static FILE *trace_out;           /* NULL: stderr */

static void trace_pattern_free(gpointer p)
{
    TracePattern *tp = p;

    g_pattern_spec_free(tp->spec);
    g_free(tp);
}

/* Called with trace_lock held after the pattern set changed. */
static void trace_patterns_changed(void)
{
    bool any = false;

    for (guint i = 0; trace_patterns && i < trace_patterns->len; i++) {
        any |= ((TracePattern *)g_ptr_array_index(trace_patterns, i))->enable;
    }
    __atomic_store_n(&trace_generation, trace_generation + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&trace_enabled_any, any, __ATOMIC_RELAXED);
}

static bool trace_match_locked(const char *event)
{
    bool on = false;

    for (guint i = 0; trace_patterns && i < trace_patterns->len; i++) {
        const TracePattern *tp = g_ptr_array_index(trace_patterns, i);

        if (g_pattern_spec_match_string(tp->spec, event)) {
            on = tp->enable;
        }
    }
    return on;
}

bool trace_event_enabled(const char *event)
{
    bool on;

    g_mutex_lock(&trace_lock);
    on = trace_match_locked(event);
    g_mutex_unlock(&trace_lock);
    return on;
}

unsigned trace_site_lookup(unsigned *site, const char *event)
{
    unsigned state;

    g_mutex_lock(&trace_lock);
    state = trace_generation << 1 | trace_match_locked(event);
    __atomic_store_n(site, state, __ATOMIC_RELAXED);
    g_mutex_unlock(&trace_lock);
    return state;
}

static void trace_add_pattern_locked(const char *pattern)
{
    g_autofree char *pat = g_strstrip(g_strdup(pattern));
    TracePattern *tp;

    if (!*pat || !strcmp(pat, "-")) {
        return;
    }
    tp = g_new(TracePattern, 1);
    tp->enable = pat[0] != '-';
    tp->spec = g_pattern_spec_new(tp->enable ? pat : pat + 1);
    if (!trace_patterns) {
        trace_patterns = g_ptr_array_new_with_free_func(trace_pattern_free);
    }
    g_ptr_array_add(trace_patterns, tp);
}

void trace_enable_patterns(const char *patterns)
{
    g_auto(GStrv) parts = g_strsplit(patterns, ",", -1);

    g_mutex_lock(&trace_lock);
    for (guint i = 0; parts[i]; i++) {
        trace_add_pattern_locked(parts[i]);
    }
    trace_patterns_changed();
    g_mutex_unlock(&trace_lock);
}

void trace_reset(void)
{
    g_mutex_lock(&trace_lock);
    g_clear_pointer(&trace_patterns, g_ptr_array_unref);
    trace_patterns_changed();
    g_mutex_unlock(&trace_lock);
}

bool trace_load_events_file(const char *path, Error **errp)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;

    if (!f) {
        error_setg_errno(errp, errno, "could not open trace events file '%s'", path);
        return false;
    }
    g_mutex_lock(&trace_lock);
    while (getline(&line, &cap, f) >= 0) {
        if (g_strstrip(line)[0] != '#') {
            trace_add_pattern_locked(line);
        }
    }
    trace_patterns_changed();
    g_mutex_unlock(&trace_lock);
    free(line);
    fclose(f);
    return true;
}

bool trace_set_file(const char *path, Error **errp)
{
    FILE *f = NULL;

    if (path) {
        f = fopen(path, "w");
        if (!f) {
            error_setg_errno(errp, errno, "could not open trace file '%s'", path);
            return false;
        }
    }
    g_mutex_lock(&trace_lock);
    if (trace_out) {
        fclose(trace_out);
    }
    trace_out = f;
    g_mutex_unlock(&trace_lock);
    return true;
}

void trace_emit(const char *event, const char *fmt, ...)
{
    gint64 now = g_get_real_time();
    g_autofree char *args = NULL;
    va_list ap;

    va_start(ap, fmt);
    args = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_mutex_lock(&trace_lock);
    fprintf(trace_out ? trace_out : stderr, "%d@%" G_GINT64_FORMAT ".%06" G_GINT64_FORMAT
            ":%s %s\n", (int)getpid(), now / G_USEC_PER_SEC, now % G_USEC_PER_SEC, event,
            args);
    if (trace_out) {
        fflush(trace_out);
    }
    g_mutex_unlock(&trace_lock);
}

/* ---- -trace ---- */

static const OptDesc trace_opt_desc[] = {
    { .name = "enable", .type = OPT_STRING, .help = "trace events to enable (glob)" },
    { .name = "events", .type = OPT_STRING, .help = "file with trace events, one a line" },
    { .name = "file", .type = OPT_STRING, .help = "file to write the trace to" },
    { 0 },
};

static const OptsList trace_opts_list = {
    .name = "trace",
    .implied_opt_name = "enable",
    .desc = trace_opt_desc,
};

static int trace_apply_opt(void *opaque, const char *name, const char *value, Error **errp)
{
    if (!strcmp(name, "enable")) {
        trace_enable_patterns(value);
        return 0;
    }
    if (!strcmp(name, "events")) {
        return trace_load_events_file(value, errp) ? 0 : -1;
    }
    return trace_set_file(value, errp) ? 0 : -1;
}

bool trace_parse_option(const char *optarg, Error **errp)
{
    Opts *opts = opts_parse(&trace_opts_list, optarg, true, errp);
    int ret;

    if (!opts) {
        return false;
    }
    ret = opts_foreach(opts, trace_apply_opt, NULL, errp);
    opts_free(opts);
    return ret == 0;
}

__attribute__((constructor)) static void trace_init_from_env(void)
{
    const char *env = g_getenv("MINIVMM_TRACE");
    Error *err = NULL;

    if (env && *env && !trace_parse_option(env, &err)) {
        error_prepend(&err, "MINIVMM_TRACE: ");
        error_report_err(err);
    }
}
