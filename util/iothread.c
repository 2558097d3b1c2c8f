/*
 * I/O threads: a thread per -object iothread that iterates its own GMainContext with its
 * lock held except while polling (the same shape as the main loop and its BQL), and the
 * registry by id. Also -object's parsing, since iothread is the one type it creates.
 * Not the devices that attach to a thread (virtio-pci.c, virtio-blk.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util/aio-poll.h"
#include "util/iothread.h"
#include "util/main-loop.h"
#include "util/opts.h"

struct IOThread {
    char *id;
    GMainContext *ctx;
    GThread *thread;
    GMutex mutex;
    GThread *owner;  /* holder of mutex (atomic), NULL when free */
    unsigned depth;  /* recursion of the holder */
    int waiting;     /* other threads blocked in iothread_lock (atomic) */
    int stopping;    /* atomic */
    GQueue deferred; /* IOThreadCalls the thread made to itself: after this iteration */
    AioPoll *poll;
    AioPollTime poll_time; /* only the thread itself touches it once it runs */
    IOThreadPollParams params; /* as created, for query-iothreads */
    int tid;                   /* the thread's id, once it runs (registry_lock) */
};

static GMutex registry_lock;
static GCond started; /* a thread has set its tid */
static GPtrArray *registry;        /* of IOThread *, in creation order */
static __thread IOThread *current; /* the I/O thread this thread is, if any */

const char *iothread_id(IOThread *t)
{
    return t->id;
}

GMainContext *iothread_get_context(IOThread *t)
{
    return t->ctx;
}

bool iothread_is_current(IOThread *t)
{
    return current == t;
}

IOThread *iothread_self(void)
{
    return current;
}

void iothread_lock(IOThread *t)
{
    if (g_atomic_pointer_get(&t->owner) == g_thread_self()) {
        t->depth++;
        return;
    }
    g_atomic_int_inc(&t->waiting);
    g_mutex_lock(&t->mutex);
    g_atomic_int_add(&t->waiting, -1);
    g_atomic_pointer_set(&t->owner, g_thread_self());
    t->depth = 1;
}

void iothread_unlock(IOThread *t)
{
    g_assert(g_atomic_pointer_get(&t->owner) == g_thread_self() && t->depth > 0);
    if (--t->depth == 0) {
        g_atomic_pointer_set(&t->owner, NULL);
        g_mutex_unlock(&t->mutex);
    }
}

/*
 * The thread itself taking its lock back between polling rounds or after polling: a
 * mutex is not fair, and a thread that retakes it at once would keep a vCPU (a register
 * access) or the monitor waiting for as long as the guest keeps it busy. Let them go first.
 */
static void iothread_relock(IOThread *t)
{
    while (g_atomic_int_get(&t->waiting) > 0) {
        g_thread_yield();
    }
    iothread_lock(t);
}

static void iothread_lock_cb(void *opaque)
{
    iothread_relock(opaque);
}

static void iothread_unlock_cb(void *opaque)
{
    iothread_unlock(opaque);
}

/*
 * Poll with the lock dropped entirely (a nested wait may hold it more than once). Before
 * sleeping, the thread polls its queues and completion rings for a while (poll-max-ns): a
 * request or completion that arrives meanwhile costs neither a guest kick nor a scheduler
 * wake-up, each far dearer than the request itself on a virtualised host. The thread has
 * no timers of its own (the main loop runs them all), so GLib's timeout is its deadline;
 * it sleeps in ppoll as the main loop does.
 */
static gint iothread_poll(GPollFD *fds, guint nfds, gint timeout)
{
    IOThread *t = current;
    const AioPollWait w = {aio_poll_ppoll, iothread_lock_cb, iothread_unlock_cb, t};
    unsigned depth = t->depth;
    gint ret;

    t->depth = 1;
    iothread_unlock(t);
    ret = aio_poll_wait(t->poll, &t->poll_time, &w, fds, nfds, aio_poll_ms_to_ns(timeout));
    iothread_relock(t);
    t->depth = depth;
    return ret;
}

typedef struct IOThreadCall {
    IOThread *t;
    void (*fn)(void *opaque);
    void *opaque;
} IOThreadCall;

static void iothread_run_deferred(IOThread *t)
{
    IOThreadCall *c;

    while ((c = g_queue_pop_head(&t->deferred))) {
        c->fn(c->opaque);
        g_free(c);
    }
}

static gpointer iothread_run(gpointer opaque)
{
    IOThread *t = opaque;

    current = t;
    g_mutex_lock(&registry_lock);
    t->tid = gettid();
    g_cond_broadcast(&started);
    g_mutex_unlock(&registry_lock);
    g_main_context_push_thread_default(t->ctx);
    iothread_lock(t);
    while (!g_atomic_int_get(&t->stopping)) {
        g_main_context_iteration(t->ctx, g_queue_is_empty(&t->deferred));
        iothread_run_deferred(t);
    }
    iothread_run_deferred(t);
    iothread_unlock(t);
    g_main_context_pop_thread_default(t->ctx);
    current = NULL;
    return NULL;
}

IOThread *iothread_find(const char *id)
{
    IOThread *found = NULL;

    g_mutex_lock(&registry_lock);
    for (guint i = 0; registry && i < registry->len && !found; i++) {
        IOThread *t = g_ptr_array_index(registry, i);

        found = strcmp(t->id, id) ? NULL : t;
    }
    g_mutex_unlock(&registry_lock);
    return found;
}

IOThread *iothread_create(const char *id, Error **errp)
{
    const IOThreadPollParams def = {AIO_POLL_DEFAULT_MAX_NS, 0, 0};

    return iothread_create_full(id, &def, errp);
}

IOThread *iothread_create_full(const char *id, const IOThreadPollParams *poll, Error **errp)
{
    IOThread *t;

    if (iothread_find(id)) {
        error_setg(errp, "Duplicate ID '%s' for object", id);
        return NULL;
    }
    t = g_new0(IOThread, 1);
    t->id = g_strdup(id);
    t->ctx = g_main_context_new();
    g_mutex_init(&t->mutex);
    t->poll = aio_poll_get(t->ctx);
    aio_poll_time_init(&t->poll_time, poll->max_ns, poll->grow, poll->shrink);
    t->params = *poll;
    g_main_context_set_poll_func(t->ctx, iothread_poll);
    t->thread = g_thread_new(id, iothread_run, t);
    g_mutex_lock(&registry_lock);
    while (!t->tid) {
        g_cond_wait(&started, &registry_lock); /* its thread-id is known from the start */
    }
    if (!registry) {
        registry = g_ptr_array_new();
    }
    g_ptr_array_add(registry, t);
    g_mutex_unlock(&registry_lock);
    return t;
}

GPtrArray *iothread_list(void)
{
    GPtrArray *list = g_ptr_array_new();

    g_mutex_lock(&registry_lock);
    for (guint i = 0; registry && i < registry->len; i++) {
        g_ptr_array_add(list, g_ptr_array_index(registry, i));
    }
    g_mutex_unlock(&registry_lock);
    return list;
}

int iothread_thread_id(IOThread *t)
{
    return t->tid;
}

IOThreadPollParams iothread_poll_params(IOThread *t)
{
    return t->params;
}

static gboolean iothread_call_cb(gpointer data)
{
    IOThreadCall *c = data;

    iothread_lock(c->t); /* already held by dispatch: keeps the promise explicit */
    c->fn(c->opaque);
    iothread_unlock(c->t);
    g_free(c);
    return G_SOURCE_REMOVE;
}

void iothread_call(IOThread *t, void (*fn)(void *opaque), void *opaque)
{
    IOThreadCall *c = g_new(IOThreadCall, 1);
    GSource *src;

    *c = (IOThreadCall){t, fn, opaque};
    if (current == t) {
        /* From the thread itself (a completion's batched notification): no source, it
         * runs once this loop iteration has dispatched everything that was ready. */
        g_queue_push_tail(&t->deferred, c);
        return;
    }
    src = g_idle_source_new();
    g_source_set_priority(src, G_PRIORITY_DEFAULT);
    g_source_set_callback(src, iothread_call_cb, c, NULL);
    g_source_attach(src, t->ctx);
    g_source_unref(src);
}

static gboolean iothread_wake_cb(gpointer data)
{
    return G_SOURCE_REMOVE;
}

void iothread_destroy(IOThread *t)
{
    g_atomic_int_set(&t->stopping, 1);
    context_run_soon(t->ctx, iothread_wake_cb, NULL);
    g_thread_join(t->thread);
    g_mutex_lock(&registry_lock);
    g_ptr_array_remove(registry, t);
    g_mutex_unlock(&registry_lock);
    g_main_context_unref(t->ctx);
    g_mutex_clear(&t->mutex);
    g_free(t->id);
    g_free(t);
}

void iothread_destroy_all(void)
{
    IOThread *t;

    while (registry && registry->len) {
        t = g_ptr_array_index(registry, registry->len - 1);
        iothread_destroy(t);
    }
}

/* ---- -object ---- */

static const OptsList object_opts = {
    .name = "object",
    .implied_opt_name = "qom-type",
};

static const char *const iothread_poll_props[] = {"poll-max-ns", "poll-grow", "poll-shrink"};

/* An iothread's polling parameter as QEMU parses it: an int64, at least 0. */
static bool object_parse_poll_prop(const char *name, const char *value, int64_t *out, Error **errp)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(value, &end, 0);
    if (!*value || *end || errno) {
        error_setg(errp, "Parameter '%s' expects an int64 value", name);
        return false;
    }
    if (v < 0) {
        error_setg(errp, "%s value must be in range [0, %" PRId64 "]", name, INT64_MAX);
        return false;
    }
    *out = v;
    return true;
}

static int object_check_prop(void *opaque, const char *name, const char *value, Error **errp)
{
    IOThreadPollParams *poll = opaque;
    int64_t *fields[] = {&poll->max_ns, &poll->grow, &poll->shrink};

    if (!strcmp(name, "qom-type") || !strcmp(name, "id")) {
        return 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(iothread_poll_props); i++) {
        if (!strcmp(name, iothread_poll_props[i])) {
            return object_parse_poll_prop(name, value, fields[i], errp) ? 0 : -1;
        }
    }
    error_setg(errp, "Property '.%s' not found", name);
    return -1;
}

bool object_add_from_opts(const char *arg, Error **errp)
{
    IOThreadPollParams poll = {AIO_POLL_DEFAULT_MAX_NS, 0, 0};
    Opts *opts;
    const char *type, *id;
    bool ok = false;

    if (!strcmp(arg, "help") || !strcmp(arg, "?")) {
        printf("List of user creatable objects:\n  iothread\n");
        exit(0);
    }
    opts = opts_parse(&object_opts, arg, true, errp);
    if (!opts) {
        return false;
    }
    type = opts_get(opts, "qom-type");
    id = opts_id(opts);
    if (!type) {
        error_setg(errp, "Parameter 'qom-type' is missing");
    } else if (strcmp(type, "iothread")) {
        error_setg(errp, "invalid object type: %s", type);
    } else if (!id) {
        error_setg(errp, "Parameter 'id' is missing");
    } else if (opts_foreach(opts, object_check_prop, &poll, errp) == 0) {
        ok = iothread_create_full(id, &poll, errp) != NULL;
    }
    opts_free(opts);
    return ok;
}
