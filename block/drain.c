/*
 * In-flight counting and drained sections, on the node's gate. Every request is counted
 * from submission until its completion is delivered; bdrv_drained_begin waits for the count
 * to reach zero and then holds new requests from other threads until bdrv_drained_end (the
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

bool bdrv_request_enter(BlockDriverState *bs, BlockRequest *park)
{
    if (nesting > 0) {
        g_atomic_int_inc(&bs->gate.passing);
        return true;
    }
    return gate_enter(&bs->gate, BDRV_WAIT_POINT(bs), park);
}

void bdrv_request_leave(BlockDriverState *bs)
{
    gate_leave(&bs->gate, BDRV_WAIT_POINT(bs));
}

void bdrv_drained_begin(BlockDriverState *bs)
{
    gate_close(&bs->gate, BDRV_WAIT_POINT(bs));
    if (bs->file) {
        bdrv_drained_begin(bs->file);
    }
    if (bs->backing) {
        bdrv_drained_begin(bs->backing);
    }
}

void bdrv_drained_end(BlockDriverState *bs)
{
    GQueue parked;
    BlockRequest *req;

    if (bs->backing) {
        bdrv_drained_end(bs->backing);
    }
    if (bs->file) {
        bdrv_drained_end(bs->file);
    }
    parked = gate_open(&bs->gate, BDRV_WAIT_POINT(bs));
    while ((req = g_queue_pop_head(&parked))) {
        bdrv_aio_resubmit(req);
    }
}

void bdrv_retarget_parked(BlockDriverState *old_root, BlockDriverState *new_root)
{
    g_mutex_lock(&old_root->lock);
    for (GList *l = old_root->gate.held.head; l; l = l->next) {
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
