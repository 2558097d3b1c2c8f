/*
 * I/O threads (-object iothread,id=ID): each is a thread running its own GMainContext,
 * pushed as that thread's default so block requests submitted from it complete in it.
 * Devices attach event sources (virtqueue doorbells) to the context. Each I/O thread has a
 * lock, held while it dispatches and dropped while it polls: code outside the thread (a
 * vCPU or the main loop, under the BQL) takes it to touch state the thread's callbacks use.
 * Lock order: the BQL before any I/O thread lock; an I/O thread never takes the BQL.
 * Not the main loop (main-loop.c) and not the worker pool (thread-pool.c).
 */
#ifndef UTIL_IOTHREAD_H
#define UTIL_IOTHREAD_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "util/error.h"

typedef struct IOThread IOThread;

/* How long the thread polls before it sleeps (QEMU's poll-max-ns, poll-grow, poll-shrink):
 * up to max_ns (0: never), growing by grow (0: 2) after short waits, divided by shrink
 * (0: back to 0) after long ones. */
typedef struct IOThreadPollParams {
    int64_t max_ns, grow, shrink;
} IOThreadPollParams;

/* Start a thread named id; "Duplicate ID 'x' for object" when id is taken. */
IOThread *iothread_create(const char *id, Error **errp); /* QEMU's default polling */
IOThread *iothread_create_full(const char *id, const IOThreadPollParams *poll, Error **errp);
IOThread *iothread_find(const char *id);
/* Every I/O thread, in creation order (the array is the caller's; the threads are not). */
GPtrArray *iothread_list(void);
int iothread_thread_id(IOThread *t); /* the kernel's id of the thread, for pinning */
IOThreadPollParams iothread_poll_params(IOThread *t);
const char *iothread_id(IOThread *t);
GMainContext *iothread_get_context(IOThread *t);
/* Recursive for the thread holding it. */
void iothread_lock(IOThread *t);
void iothread_unlock(IOThread *t);
/* Is the caller t's own thread? */
bool iothread_is_current(IOThread *t);
/* The I/O thread the caller runs in, or NULL. */
IOThread *iothread_self(void);
/* Call fn(opaque) in t's thread with its lock held, soon, from any thread (from t itself:
 * once the current loop iteration has dispatched what was ready). */
void iothread_call(IOThread *t, void (*fn)(void *opaque), void *opaque);
/* Stop and join the thread (its sources stay attached to the idle context), then free it. */
void iothread_destroy(IOThread *t);
/* Every I/O thread, at exit after the drives were drained. */
void iothread_destroy_all(void);

/* -object TYPE,id=ID[,...] as QEMU 2.2 parses it, plus iothread's poll-max-ns, poll-grow
 * and poll-shrink (QEMU 2.9's); "-object help" lists the types. */
bool object_add_from_opts(const char *arg, Error **errp);

#endif
