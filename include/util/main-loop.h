/*
 * The main loop: a GLib main context run by the main thread, the big machine lock (BQL)
 * and timers on two clocks. Everything dispatched from the main loop (fd handlers, timers,
 * idle callbacks) runs with the BQL held; the lock is dropped only while the loop polls.
 * vCPU threads take the BQL around device dispatch.
 */
#ifndef UTIL_MAIN_LOOP_H
#define UTIL_MAIN_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

typedef enum ClockType {
    CLOCK_HOST,     /* host monotonic time; runs while the VM is stopped */
    CLOCK_VIRTUAL,  /* guest time: device timers (RTC, throttling) use this */
    CLOCK_MAX,
} ClockType;

typedef struct Timer Timer;
typedef void TimerCb(void *opaque);

int64_t clock_get_ns(ClockType type);
/* Time source for CLOCK_VIRTUAL (qtest installs one); NULL restores host time. */
void clock_set_virtual_source(int64_t (*get_ns)(void));
/* Run every CLOCK_VIRTUAL timer whose deadline is <= now (qtest clock_step). */
void clock_run_virtual_timers(void);
/* Earliest CLOCK_VIRTUAL deadline, or -1 when no timer is armed. */
int64_t clock_virtual_deadline(void);
/* CLOCK_VIRTUAL only moves when told to: a source (qtest's) is installed. */
bool clock_virtual_is_manual(void);

Timer *timer_new(ClockType type, TimerCb *cb, void *opaque);
void timer_mod(Timer *t, int64_t expire_ns);   /* absolute time on the timer's clock */
void timer_del(Timer *t);
bool timer_pending(const Timer *t);
void timer_free(Timer *t);
/* ns until the earliest deadline of the clocks the main loop runs: 0 when one is due,
 * -1 when no timer is armed (the loop then sleeps until something else wakes it). */
int64_t main_loop_timers_timeout_ns(void);

void main_loop_init(void);
GMainContext *main_loop_context(void);
/* Run until main_loop_quit(); returns the status passed to it. */
int main_loop_run(void);
void main_loop_quit(int status);
/* Wake the main loop from any thread (its callbacks then see new state). */
void main_loop_notify(void);

/* Call fn(opaque) soon in the main loop, from any thread, with the BQL held. */
void main_loop_call(void (*fn)(void *opaque), void *opaque);
/*
 * The same, but never from inside a nested wait (below): a call that comes up in one runs
 * when the outermost wait has ended. For what must not run in the middle of another
 * operation's drain: machine requests (QEMU takes them only in its main loop proper, never
 * in a nested aio_poll), a job's end and a device's removal, which change the graph (and
 * the removal waits for vCPUs held by a drain: bql_wait_unsuspended).
 */
void main_loop_call_outer(void (*fn)(void *opaque), void *opaque);
/* Call fn(data) once, soon, in ctx (NULL: the global default context), from any thread. */
void context_run_soon(GMainContext *ctx, GSourceFunc fn, void *data);

/*
 * A thread iterates its context from inside a blocking wait (a drain: block/wait.c), so
 * that completions keep running. Monitors take no input meanwhile: a command must not run
 * in the middle of another operation's drain (`cont` inside `stop`'s drain, say), just as
 * QEMU's nested aio_poll never dispatches the monitor. Counted per thread.
 */
void main_loop_nested_wait_begin(void);
void main_loop_nested_wait_end(void);
bool main_loop_in_nested_wait(void);

void bql_lock(void);
void bql_unlock(void);
bool bql_locked(void);
/*
 * A thread that gives the BQL up in the middle of work it does under it (a vCPU whose device
 * model waits in the block layer: block/wait.c) suspends and resumes. Until every such thread
 * has resumed and released the BQL again, bql_wait_unsuspended (with the BQL held; it waits
 * without it) does not return: qdev_device_delete uses it, so that no device goes away under
 * a vCPU that is still inside its handler.
 */
void bql_suspend(void);
void bql_resume(void);
void bql_wait_unsuspended(void);
/* For waiting on a GCond with the BQL released (vCPU parking). */
GMutex *bql_mutex(void);

#endif
