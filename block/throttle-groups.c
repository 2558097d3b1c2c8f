/*
 * Throttle groups: queues, timers and fairness around the leaky-bucket engine for the
 * BlockBackends that have I/O limits. One lock (throttle_lock) covers every group and
 * member, so requests can arrive from any thread; the timers are the main loop's, armed
 * directly by a thread holding the BQL and through main_loop_call() by any other. The
 * timer runs on CLOCK_VIRTUAL when something else drives that clock (qtest), so tests
 * step it exactly, and on the host clock otherwise. Not the arithmetic (throttle.c).
 */
#include <string.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/throttle.h"
#include "block/throttle-groups.h"
#include "util/main-loop.h"

typedef struct ThrottleGroup ThrottleGroup;

/* One backend's membership: its queues survive a move to another group. */
struct BlkThrottle {
    BlockBackend *blk;
    ThrottleGroup *tg; /* NULL: no limits */
    GQueue queue[2];   /* ThrottleRequests waiting, [is_write] */
};

struct ThrottleGroup {
    char *name;
    int refcnt; /* members, plus a scheduled arming */
    ThrottleState ts;
    ClockType clock;
    Timer *timer;
    GList *members;       /* BlkThrottle, in joining order */
    BlkThrottle *last[2]; /* member served last, per direction (round-robin) */
    bool last_write;      /* direction served last (reads and writes alternate) */
    int pending[2];       /* queued requests of all members, per direction */
    int64_t deadline;     /* when the timer should fire, -1: never */
    bool arm_scheduled;   /* a main_loop_call() will arm the timer */
};

static GMutex throttle_lock;
static GList *groups;

/* ---- releasing requests ---- */

static gboolean release_cb(gpointer opaque)
{
    ThrottleRequest *req = opaque;
    GMainContext *ctx = req->ctx;

    req->ctx = NULL;
    req->release(req);
    g_main_context_unref(ctx);
    return G_SOURCE_REMOVE;
}

/* Without throttle_lock: submit each request again, in the context it came from. */
static void release_all(GQueue *released)
{
    GMainContext *here = g_main_context_ref_thread_default();
    ThrottleRequest *req;

    while ((req = g_queue_pop_head(released))) {
        if (req->ctx == here) {
            g_main_context_unref(req->ctx);
            req->ctx = NULL;
            req->release(req);
        } else {
            context_run_soon(req->ctx, release_cb, req);
        }
    }
    g_main_context_unref(here);
}

/* ---- the group's timer ---- */

/* With throttle_lock held; the timer is freed here, so the last unref is the main loop's. */
static void tg_unref(ThrottleGroup *tg)
{
    if (--tg->refcnt > 0) {
        return;
    }
    groups = g_list_remove(groups, tg);
    timer_free(tg->timer);
    g_free(tg->name);
    g_free(tg);
}

static void tg_apply_deadline(ThrottleGroup *tg)
{
    if (tg->deadline >= 0) {
        timer_mod(tg->timer, tg->deadline);
    } else {
        timer_del(tg->timer);
    }
}

static void tg_arm_cb(void *opaque)
{
    ThrottleGroup *tg = opaque;

    g_mutex_lock(&throttle_lock);
    tg->arm_scheduled = false;
    tg_apply_deadline(tg);
    tg_unref(tg);
    g_mutex_unlock(&throttle_lock);
}

/* Timers are the main loop's: a thread without the BQL has the main loop arm it. */
static void tg_arm(ThrottleGroup *tg, int64_t deadline)
{
    tg->deadline = deadline;
    if (bql_locked()) {
        tg_apply_deadline(tg);
    } else if (!tg->arm_scheduled) {
        tg->arm_scheduled = true;
        tg->refcnt++;
        main_loop_call(tg_arm_cb, tg);
    }
}

/* Arm the timer for the earliest moment a queued request may go. */
static void tg_schedule(ThrottleGroup *tg)
{
    int64_t deadline = -1;

    for (int d = 0; d < 2; d++) {
        if (tg->pending[d]) {
            int64_t at = tg->ts.previous_leak + throttle_compute_wait(&tg->ts, d);

            deadline = deadline < 0 ? at : MIN(deadline, at);
        }
    }
    tg_arm(tg, deadline);
}

/* ---- dispatching ---- */

/* The member after the one served last in direction d that has a request queued in d. */
static BlkThrottle *tg_next_member(ThrottleGroup *tg, int d)
{
    GList *start = tg->last[d] ? g_list_find(tg->members, tg->last[d]) : NULL;
    GList *l = start && start->next ? start->next : tg->members;

    for (;;) {
        BlkThrottle *m = l->data;

        if (!g_queue_is_empty(&m->queue[d])) {
            return m;
        }
        l = l->next ? l->next : tg->members;
    }
}

/* Which direction may go now: the one not served last first, so they alternate. */
static int tg_ready_direction(ThrottleGroup *tg)
{
    int first = !tg->last_write;

    for (int k = 0; k < 2; k++) {
        int d = first ^ k;

        if (tg->pending[d] && throttle_compute_wait(&tg->ts, d) == 0) {
            return d;
        }
    }
    return -1;
}

static void tg_served(ThrottleGroup *tg, BlkThrottle *m, int d)
{
    tg->last[d] = m;
    tg->last_write = d;
}

/* Move every request the buckets admit at now to released, then re-arm the timer. */
static void tg_dispatch(ThrottleGroup *tg, int64_t now, GQueue *released)
{
    int d;

    throttle_leak(&tg->ts, now);
    while ((d = tg_ready_direction(tg)) >= 0) {
        BlkThrottle *m = tg_next_member(tg, d);
        ThrottleRequest *req = g_queue_pop_head(&m->queue[d]);

        tg->pending[d]--;
        throttle_account(&tg->ts, d, req->bytes);
        tg_served(tg, m, d);
        g_queue_push_tail(released, req);
    }
    tg_schedule(tg);
}

static void tg_timer_cb(void *opaque)
{
    ThrottleGroup *tg = opaque;
    GQueue released = G_QUEUE_INIT;

    g_mutex_lock(&throttle_lock);
    tg_dispatch(tg, clock_get_ns(tg->clock), &released);
    g_mutex_unlock(&throttle_lock);
    release_all(&released);
}

/* ---- membership ---- */

/* The group named name, created without limits if there is none. */
static ThrottleGroup *tg_get(const char *name)
{
    ThrottleGroup *tg;
    ThrottleConfig none;

    for (GList *l = groups; l; l = l->next) {
        tg = l->data;
        if (!strcmp(tg->name, name)) {
            return tg;
        }
    }
    tg = g_new0(ThrottleGroup, 1);
    tg->name = g_strdup(name);
    tg->clock = clock_virtual_is_manual() ? CLOCK_VIRTUAL : CLOCK_HOST;
    tg->timer = timer_new(tg->clock, tg_timer_cb, tg);
    tg->deadline = -1;
    throttle_config_init(&none);
    throttle_config(&tg->ts, &none, clock_get_ns(tg->clock));
    groups = g_list_append(groups, tg);
    return tg;
}

static void member_join(BlkThrottle *m, const char *name)
{
    ThrottleGroup *tg = tg_get(name);

    tg->refcnt++;
    tg->members = g_list_append(tg->members, m);
    for (int d = 0; d < 2; d++) {
        tg->pending[d] += g_queue_get_length(&m->queue[d]);
    }
    m->tg = tg;
}

/* Leave the group; the member's queued requests stay in its queues. */
static void member_leave(BlkThrottle *m)
{
    ThrottleGroup *tg = m->tg;
    GList *link = g_list_find(tg->members, m);

    for (int d = 0; d < 2; d++) {
        tg->pending[d] -= g_queue_get_length(&m->queue[d]);
        if (tg->last[d] == m) {
            /* The round-robin goes on with the member after the one leaving. */
            tg->last[d] = link->prev ? link->prev->data : NULL;
        }
    }
    tg->members = g_list_delete_link(tg->members, link);
    m->tg = NULL;
    if (tg->members) {
        tg_schedule(tg);
    } else {
        tg->deadline = -1;
        tg_apply_deadline(tg);
    }
    tg_unref(tg);
}

/* Every queued request of m, accounted in its group if it has one. */
static void member_flush(BlkThrottle *m, GQueue *released)
{
    ThrottleGroup *tg = m->tg;
    ThrottleRequest *req;

    for (int d = 0; d < 2; d++) {
        while ((req = g_queue_pop_head(&m->queue[d]))) {
            if (tg) {
                tg->pending[d]--;
                throttle_account(&tg->ts, d, req->bytes);
            }
            g_queue_push_tail(released, req);
        }
    }
    if (tg) {
        tg_schedule(tg);
    }
}

/* ---- the backend's interface ---- */

static BlkThrottle *blk_throttle_get(BlockBackend *blk)
{
    return g_atomic_pointer_get(&blk->throttle);
}

bool blk_set_io_limits(BlockBackend *blk, const ThrottleConfig *cfg, const char *group,
                       Error **errp)
{
    BlkThrottle *m = blk_throttle_get(blk);
    GQueue released = G_QUEUE_INIT;
    g_autofree char *name = NULL;

    if (throttle_conflicting(cfg, errp) || !throttle_is_valid(cfg, errp)) {
        return false;
    }
    if (!throttle_enabled(cfg)) {
        blk_io_limits_disable(blk);
        return true;
    }
    g_mutex_lock(&throttle_lock);
    if (!m) {
        m = g_new0(BlkThrottle, 1);
        m->blk = blk;
        g_atomic_pointer_set(&blk->throttle, m);
    }
    name = g_strdup(group ? group : m->tg ? m->tg->name : blk_name(blk));
    if (m->tg && strcmp(m->tg->name, name)) {
        member_leave(m);
    }
    if (!m->tg) {
        member_join(m, name);
    }
    throttle_config(&m->tg->ts, cfg, clock_get_ns(m->tg->clock));
    tg_dispatch(m->tg, clock_get_ns(m->tg->clock), &released);
    g_mutex_unlock(&throttle_lock);
    release_all(&released);
    return true;
}

void blk_io_limits_disable(BlockBackend *blk)
{
    BlkThrottle *m = blk_throttle_get(blk);
    GQueue released = G_QUEUE_INIT;

    if (!m) {
        return;
    }
    g_mutex_lock(&throttle_lock);
    if (m->tg) {
        member_flush(m, &released);
        member_leave(m);
    }
    g_mutex_unlock(&throttle_lock);
    release_all(&released);
}

bool blk_get_io_limits(BlockBackend *blk, ThrottleConfig *cfg)
{
    BlkThrottle *m = blk_throttle_get(blk);
    bool enabled = false;

    if (!m) {
        return false;
    }
    g_mutex_lock(&throttle_lock);
    if (m->tg) {
        *cfg = m->tg->ts.cfg;
        enabled = true;
    }
    g_mutex_unlock(&throttle_lock);
    return enabled;
}

char *blk_get_io_limits_group(BlockBackend *blk)
{
    BlkThrottle *m = blk_throttle_get(blk);
    char *name = NULL;

    if (!m) {
        return NULL;
    }
    g_mutex_lock(&throttle_lock);
    if (m->tg) {
        name = g_strdup(m->tg->name);
    }
    g_mutex_unlock(&throttle_lock);
    return name;
}

unsigned blk_throttle_queued(BlockBackend *blk, bool is_write)
{
    BlkThrottle *m = blk_throttle_get(blk);
    unsigned n;

    if (!m) {
        return 0;
    }
    g_mutex_lock(&throttle_lock);
    n = g_queue_get_length(&m->queue[is_write]);
    g_mutex_unlock(&throttle_lock);
    return n;
}

/* A new request waits behind queued ones of its direction anywhere in the group. */
bool blk_throttle_intercept(BlockBackend *blk, ThrottleRequest *req)
{
    BlkThrottle *m = blk_throttle_get(blk);
    GQueue released = G_QUEUE_INIT;
    ThrottleGroup *tg;
    int d = req->is_write;
    int64_t now;

    if (!m) {
        return false;
    }
    g_mutex_lock(&throttle_lock);
    tg = m->tg;
    if (!tg) {
        g_mutex_unlock(&throttle_lock);
        return false;
    }
    now = clock_get_ns(tg->clock);
    if (!tg->pending[d] && throttle_wait_at(&tg->ts, d, now) == 0) {
        throttle_account(&tg->ts, d, req->bytes);
        tg_served(tg, m, d);
        g_mutex_unlock(&throttle_lock);
        return false;
    }
    req->ctx = g_main_context_ref_thread_default();
    g_queue_push_tail(&m->queue[d], req);
    tg->pending[d]++;
    tg_dispatch(tg, now, &released);
    g_mutex_unlock(&throttle_lock);
    release_all(&released);
    return true;
}

void blk_throttle_flush(BlockBackend *blk)
{
    BlkThrottle *m = blk_throttle_get(blk);
    GQueue released = G_QUEUE_INIT;

    if (!m) {
        return;
    }
    g_mutex_lock(&throttle_lock);
    member_flush(m, &released);
    g_mutex_unlock(&throttle_lock);
    release_all(&released);
}

void blk_throttle_delete(BlockBackend *blk)
{
    BlkThrottle *m = blk_throttle_get(blk);

    if (!m) {
        return;
    }
    blk_io_limits_disable(blk);
    g_atomic_pointer_set(&blk->throttle, NULL);
    g_free(m);
}
