/*
 * Xenstore watches, the VMM's and the guest's, and which changes fire them: a watch fires for
 * a change at or below its path, with the changed path, and for the removal of an ancestor,
 * with its own path. The VMM's events wait in a queue run from the main loop, so a watcher
 * never runs inside the call that changed the store and may change it in turn; the guest's
 * are handed at once to xenstore-ring.c, and only for nodes the guest may read (before or
 * after the change). Not the tree (xenstore.c) and not the wire format (xenstore-ring.c).
 */
#include <string.h>
#include <glib.h>
#include "util/main-loop.h"
#include "xenstore-int.h"

struct XsWatch {
    char *path; /* absolute, or "@introduceDomain" / "@releaseDomain" */
    unsigned domid;
    size_t strip;
    XsWatchFn *fn;
    void *opaque;
};

/* A VMM watch's event waiting for the main loop. */
typedef struct XsVmmEvent {
    XsWatch *watch;
    char *path;
    uint64_t seq;
} XsVmmEvent;

static GPtrArray *watches; /* XsWatch of both kinds, oldest first */
static GQueue vmm_events;
static uint64_t vmm_event_seq;
static bool vmm_events_scheduled;

static void vmm_event_free(XsVmmEvent *e)
{
    g_free(e->path);
    g_free(e);
}

/* Run the events queued before this call; those their callbacks cause wait for the next. */
static void vmm_events_run(void *opaque)
{
    uint64_t last = vmm_event_seq;
    XsVmmEvent *e;

    vmm_events_scheduled = false;
    while ((e = g_queue_peek_head(&vmm_events)) && e->seq <= last) {
        g_queue_pop_head(&vmm_events);
        e->watch->fn(e->watch->opaque, e->path);
        vmm_event_free(e);
    }
    if (!g_queue_is_empty(&vmm_events) && !vmm_events_scheduled) {
        vmm_events_scheduled = true;
        main_loop_call(vmm_events_run, NULL);
    }
}

static void vmm_event_queue(XsWatch *w, const char *path)
{
    XsVmmEvent *e = g_new(XsVmmEvent, 1);

    e->watch = w;
    e->path = g_strdup(path);
    e->seq = ++vmm_event_seq;
    g_queue_push_tail(&vmm_events, e);
    if (!vmm_events_scheduled) {
        vmm_events_scheduled = true;
        main_loop_call(vmm_events_run, NULL);
    }
}

/* Whether path is base or lies below it. */
static bool path_under(const char *path, const char *base)
{
    size_t n = strlen(base);

    if (strncmp(path, base, n)) {
        return false;
    }
    return path[n] == '\0' || path[n] == '/' || !strcmp(base, "/");
}

void xs_watches_fire(const char *path, bool removed, const GArray *perms, const GArray *old_perms)
{
    for (guint i = 0; watches && i < watches->len; i++) {
        XsWatch *w = watches->pdata[i];
        const char *event;

        if (path_under(path, w->path)) {
            event = path;
        } else if (removed && path_under(w->path, path)) {
            event = w->path;
        } else {
            continue;
        }
        if (w->domid == 0) {
            vmm_event_queue(w, event);
        } else if (xs_perms_readable(perms, w->domid) ||
                   (old_perms && xs_perms_readable(old_perms, w->domid))) {
            w->fn(w->opaque, event + w->strip);
        }
    }
}

void xs_watches_reset(void)
{
    XsVmmEvent *e;

    while ((e = g_queue_pop_head(&vmm_events))) {
        vmm_event_free(e);
    }
    for (guint i = 0; watches && i < watches->len; i++) {
        XsWatch *w = watches->pdata[i];

        vmm_event_queue(w, w->path);
    }
}

XsWatch *xs_watch_add(unsigned domid, const char *path, size_t strip, XsWatchFn *fn, void *opaque)
{
    XsWatch *w = g_new0(XsWatch, 1);

    if (!watches) {
        watches = g_ptr_array_new();
    }
    w->path = g_strdup(path);
    w->domid = domid;
    w->strip = strip;
    w->fn = fn;
    w->opaque = opaque;
    g_ptr_array_add(watches, w);
    return w;
}

XsWatch *xenstore_watch(const char *path, XsWatchFn *fn, void *opaque)
{
    g_autofree char *abs = NULL;
    XsWatch *w;
    size_t strip;

    if (path[0] != '/' && path[0] != '@') {
        return NULL;
    }
    abs = xs_path_canonical(0, path, true, &strip);
    if (!abs) {
        return NULL;
    }
    w = xs_watch_add(0, abs, 0, fn, opaque);
    vmm_event_queue(w, w->path);
    return w;
}

void xenstore_unwatch(XsWatch *w)
{
    GList *l, *next;

    if (!w) {
        return;
    }
    g_ptr_array_remove(watches, w);
    for (l = vmm_events.head; l; l = next) {
        XsVmmEvent *e = l->data;

        next = l->next;
        if (e->watch == w) {
            vmm_event_free(e);
            g_queue_delete_link(&vmm_events, l);
        }
    }
    g_free(w->path);
    g_free(w);
}
