/*
 * In-flight counting and drained sections. Every request is counted in bs->in_flight from
 * submission until its completion is delivered; bdrv_drained_begin waits for the count to
 * reach zero and then holds new requests from other threads until bdrv_drained_end (the
 * draining thread itself may still do I/O, e.g. for a graph change). Requests a driver
 * issues to its children while serving a request are never held, so a drained section
 * cannot deadlock on its own in-flight work. Not the request path itself (io.c, aio.c).
 */
#include <glib.h>
#include "block/block-internal.h"
#include "block/snapshot-external.h"
#include "util/error.h"

/* > 0 while this thread serves a request on behalf of a driver. */
static __thread int nesting;

void bdrv_nesting_enter(void)
{
    nesting++;
}

void bdrv_nesting_leave(void)
{
    nesting--;
}

bool bdrv_nesting(void)
{
    return nesting > 0;
}

int bdrv_nesting_set(int level)
{
    int old = nesting;

    nesting = level;
    return old;
}

/* Called with bs->lock held: requests from this thread must wait. */
static bool held_by_other_drainer(void *opaque)
{
    BlockDriverState *bs = opaque;

    return bs->quiesce_counter > 0 && bs->quiesce_owner != g_thread_self();
}

bool bdrv_request_enter(BlockDriverState *bs, BlockRequest *park)
{
    /* Fast path; pairs with the increment of quiesce_counter in bdrv_drained_begin. */
    g_atomic_int_inc(&bs->in_flight);
    if (nesting > 0 || g_atomic_int_get(&bs->quiesce_counter) == 0) {
        return true;
    }
    bdrv_request_leave(bs);

    g_mutex_lock(&bs->lock);
    if (park && held_by_other_drainer(bs)) {
        g_queue_push_tail(&bs->parked, park);
        g_mutex_unlock(&bs->lock);
        return false;
    }
    wait_point_wait_locked(BDRV_WAIT_POINT(bs), held_by_other_drainer, bs);
    g_atomic_int_inc(&bs->in_flight);
    g_mutex_unlock(&bs->lock);
    return true;
}

void bdrv_request_leave(BlockDriverState *bs)
{
    wait_point_dec(BDRV_WAIT_POINT(bs), &bs->in_flight);
}

void bdrv_drained_begin(BlockDriverState *bs)
{
    g_mutex_lock(&bs->lock);
    wait_point_wait_locked(BDRV_WAIT_POINT(bs), held_by_other_drainer, bs);
    bs->quiesce_owner = g_thread_self();
    g_atomic_int_inc(&bs->quiesce_counter);
    g_mutex_unlock(&bs->lock);

    wait_point_wait_zero(BDRV_WAIT_POINT(bs), &bs->in_flight);
    if (bs->file) {
        bdrv_drained_begin(bs->file);
    }
    if (bs->backing) {
        bdrv_drained_begin(bs->backing);
    }
}

void bdrv_drained_end(BlockDriverState *bs)
{
    GQueue parked = G_QUEUE_INIT;
    BlockRequest *req;

    if (bs->backing) {
        bdrv_drained_end(bs->backing);
    }
    if (bs->file) {
        bdrv_drained_end(bs->file);
    }
    g_mutex_lock(&bs->lock);
    g_assert(bs->quiesce_counter > 0);
    if (g_atomic_int_dec_and_test(&bs->quiesce_counter)) {
        bs->quiesce_owner = NULL;
        parked = bs->parked;
        g_queue_init(&bs->parked);
        wait_point_kick_locked(BDRV_WAIT_POINT(bs));
    }
    g_mutex_unlock(&bs->lock);
    while ((req = g_queue_pop_head(&parked))) {
        bdrv_aio_resubmit(req);
    }
}

void bdrv_retarget_parked(BlockDriverState *old_root, BlockDriverState *new_root)
{
    g_mutex_lock(&old_root->lock);
    for (GList *l = old_root->parked.head; l; l = l->next) {
        BlockRequest *req = l->data;

        req->bs = new_root;
    }
    g_mutex_unlock(&old_root->lock);
}

/* Every node, each with a reference: what runs while one is drained or flushed (a job's
 * completion, a callback) may delete nodes later in the list. */
static GList *bdrv_all_nodes_ref(void)
{
    GList *nodes = bdrv_all_nodes();

    for (GList *l = nodes; l; l = l->next) {
        bdrv_ref(l->data);
    }
    return nodes;
}

static void bdrv_nodes_unref(GList *nodes)
{
    for (GList *l = nodes; l; l = l->next) {
        bdrv_unref(l->data);
    }
    g_list_free(nodes);
}

void bdrv_drain_all(void)
{
    GList *nodes = bdrv_all_nodes_ref();

    for (GList *l = nodes; l; l = l->next) {
        bdrv_drained_begin(l->data);
    }
    for (GList *l = g_list_last(nodes); l; l = l->prev) {
        bdrv_drained_end(l->data);
    }
    bdrv_nodes_unref(nodes);
}

/* Every writable format node stops writing: its caches written back, its image marked clean
 * (qcow2 lazy refcounts); its file node becomes read-only with it. */
static void inactivate_formats(GList *nodes)
{
    for (GList *l = nodes; l; l = l->next) {
        BlockDriverState *bs = l->data;
        Error *err = NULL;

        if (bs->drv && !bs->drv->is_protocol && !bs->read_only &&
            bdrv_reopen_read_only(bs, &err) < 0) {
            error_report_err(err);
        }
    }
}

void bdrv_quiesce_for_exit(void)
{
    GList *nodes = bdrv_all_nodes_ref();

    for (GList *l = nodes; l; l = l->next) {
        bdrv_drained_begin(l->data);
    }
    bdrv_flush_all();
    inactivate_formats(nodes);
    bdrv_nodes_unref(nodes);
}

void bdrv_flush_all(void)
{
    GList *nodes = bdrv_all_nodes_ref();

    for (GList *l = nodes; l; l = l->next) {
        bdrv_flush(l->data);
    }
    bdrv_nodes_unref(nodes);
}
