/*
 * Trace points that cost one predictable branch when tracing is off:
 *     TRACE("io_read", "%s %#" PRIx64, name, addr);
 * Events are enabled by glob patterns (-trace PATTERN, -trace events=FILE, MINIVMM_TRACE),
 * and each call site caches its verdict until the pattern set changes. Lines go to stderr or
 * -trace file=PATH as "PID@SEC.USEC:event args". Not a log of errors (error.h) and not a
 * binary trace format.
 */
#ifndef UTIL_TRACE_H
#define UTIL_TRACE_H

#include <stdbool.h>
#include "util/error.h"

/* True while at least one enabling pattern is set; read by every TRACE(). */
extern bool trace_enabled_any;
/* Bumped whenever the pattern set changes; starts at 1. */
extern unsigned trace_generation;

/* Slow path of a call site: match event, cache (generation << 1 | on) in *site. */
unsigned trace_site_lookup(unsigned *site, const char *event);
void trace_emit(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline bool trace_site_enabled(unsigned *site, const char *event)
{
    unsigned state = __atomic_load_n(site, __ATOMIC_RELAXED);

    if (state >> 1 != __atomic_load_n(&trace_generation, __ATOMIC_RELAXED)) {
        state = trace_site_lookup(site, event);
    }
    return state & 1;
}

#define TRACE(event_name, fmt, ...)                                                  \
    do {                                                                             \
        static unsigned trace_site_;                                                 \
        if (__builtin_expect(__atomic_load_n(&trace_enabled_any, __ATOMIC_RELAXED), 0) \
            && trace_site_enabled(&trace_site_, (event_name))) {                     \
            trace_emit((event_name), fmt, ##__VA_ARGS__);                            \
        }                                                                            \
    } while (0)

/*
 * Add comma-separated glob patterns ('*' and '?'); "-PATTERN" disables what it matches.
 * The last matching pattern decides.
 */
void trace_enable_patterns(const char *patterns);
/* Add the patterns of FILE, one per line; blank lines and '#' comments are skipped. */
bool trace_load_events_file(const char *path, Error **errp);
/* Send trace lines to path (truncated), or back to stderr when path is NULL. */
bool trace_set_file(const char *path, Error **errp);
/* -trace argument: PATTERN, enable=PATTERN, events=FILE, file=FILE, comma-separated. */
bool trace_parse_option(const char *optarg, Error **errp);
/* Whether event is enabled by the current patterns (uncached). */
bool trace_event_enabled(const char *event);
/* Forget all patterns (tracing off); the output file stays. */
void trace_reset(void);

#endif
