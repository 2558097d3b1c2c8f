/*
 * Adaptive polling for an event loop (QEMU's poll-max-ns): before a loop sleeps in poll(),
 * it first asks cheap "is there work?" questions of registered handlers (a virtqueue's
 * avail index, the Linux AIO completion ring, an io_uring completion queue) in a tight loop
 * with no system call, for up to a time that grows while waits turn out short and drops to
 * nothing after a long one. While it polls, handlers may tell their producers not to
 * notify (a virtqueue stops asking the guest for kicks); when polling stops they ask again
 * and are checked once more before the loop sleeps, so no notification is lost.
 * Work found is run from a GSource in the loop's context, so it runs as any dispatch does.
 * Not an event loop (iothread.c and main-loop.c own theirs) and not the handlers.
 */
#ifndef UTIL_AIO_POLL_H
#define UTIL_AIO_POLL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <glib.h>

#define AIO_POLL_DEFAULT_MAX_NS 32768 /* QEMU's default poll-max-ns for I/O threads */

/* The adaptive polling time of one handler: the pure part, unit-tested. */
typedef struct AioPollTime {
    int64_t ns;     /* how long the next wait polls before it sleeps */
    int64_t max_ns; /* 0: never poll */
    int64_t grow;   /* factor after a short wait (0: 2) */
    int64_t shrink; /* divisor after a too long wait (0: drop to 0) */
} AioPollTime;

void aio_poll_time_init(AioPollTime *t, int64_t max_ns, int64_t grow, int64_t shrink);
/* A wait that polled and then slept lasted block_ns in all: adjust the next poll time. */
void aio_poll_time_adjust(AioPollTime *t, int64_t block_ns);

/* One handler's polling time, how late into a wait polling recently caught its events, and
 * the state of the trials of polling for events that come late (util/aio-poll.c). */
typedef struct AioPollHandlerTime {
    int64_t ns;
    int64_t hit_ns;
    int misses;        /* late events in a row while polled for */
    int slow;          /* late events not polled for since the last trial */
    int failed_trials; /* trials in a row that caught nothing */
    bool trial;        /* polled for on trial, nothing caught yet */
} AioPollHandlerTime;

/* After a wait of block_ns that ended with the handler's event (event) or not. */
void aio_poll_handler_time_adjust(AioPollHandlerTime *ht, const AioPollTime *params, bool event,
                                  int64_t block_ns);

typedef struct AioPollOps {
    /* Is there work? No system call, no lock taken; the context's lock is held. */
    bool (*ready)(void *opaque);
    /* Do the work: dispatched in the context's thread with its lock held. */
    void (*run)(void *opaque);
    /* Polling starts (true): producers may stop notifying; or ends (false): they must
     * notify again. ready() is checked after the end. Optional; context's lock held. */
    void (*set_polling)(void *opaque, bool polling);
} AioPollOps;

typedef struct AioPoll AioPoll;
typedef struct AioPollHandler AioPollHandler;

/* ctx's poller (NULL: the default context), created on first use, freed with ctx. */
AioPoll *aio_poll_get(GMainContext *ctx);
/* Add or remove a handler, holding the context's lock (its I/O thread's; the BQL). */
AioPollHandler *aio_poll_add(GMainContext *ctx, const AioPollOps *ops, void *opaque);
void aio_poll_remove(AioPollHandler *h);

/* Sleep in poll(2) for at most timeout_ns (-1: no limit, 0: do not sleep), to the ns. */
typedef gint AioPollFunc(GPollFD *fds, guint nfds, int64_t timeout_ns);

/* How a loop's poll function polls: its lock, and the poll function that sleeps. */
typedef struct AioPollWait {
    AioPollFunc *poll;
    void (*lock)(void *opaque);
    void (*unlock)(void *opaque);
    void *opaque;
} AioPollWait;

/*
 * A GPollFunc's work, called without the context's lock: poll the handlers (taking the
 * lock around each round) for as long as the handler with the longest polling time
 * deserves, but no longer than timeout_ns, then sleep in w->poll unless work was found;
 * adjust the polling times of the handlers whose events ended the wait (t gives max_ns,
 * grow and shrink; t->ns is set to the time this wait polled). Returns what w->poll returns
 * (0 when only handlers had work).
 */
gint aio_poll_wait(AioPoll *p, AioPollTime *t, const AioPollWait *w, GPollFD *fds, guint nfds,
                   int64_t timeout_ns);

/*
 * Sleeping to the nanosecond, for the loops' poll functions: GLib hands them a timeout in
 * whole milliseconds (its sources' timeouts rounded up), which would release a throttled
 * request up to 1 ms late.
 */
/* timeout_ns as ppoll's timespec in ts; NULL (no limit) when it is negative. */
struct timespec *aio_poll_timespec(int64_t timeout_ns, struct timespec *ts);
/* GLib's timeout in ms as ns (-1 stays -1: no limit). */
int64_t aio_poll_ms_to_ns(gint timeout_ms);
/* The sooner of GLib's timeout (ms, an upper bound) and an exact one (ns); -1: neither. */
int64_t aio_poll_timeout_ns(gint timeout_ms, int64_t exact_ns);
/* An AioPollFunc: ppoll(2) with an exact timeout. */
gint aio_poll_ppoll(GPollFD *fds, guint nfds, int64_t timeout_ns);

#endif
