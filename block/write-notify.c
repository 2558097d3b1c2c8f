/*
 * Write notifiers (include/block/write-notify.h). Few exist (one per running mirror or
 * backup job), so one global list under a read-write lock is enough; the count lets the
 * request path skip the lock for every other node.
 */
#include <glib.h>
#include "block/write-notify.h"

static GRWLock notifiers_lock;
static GSList *notifiers;
static int notifier_count;

void bdrv_add_write_notifier(BlockDriverState *bs, BdrvWriteNotifier *n)
{
    n->bs = bs;
    g_rw_lock_writer_lock(&notifiers_lock);
    notifiers = g_slist_append(notifiers, n);
    g_atomic_int_inc(&notifier_count);
    g_rw_lock_writer_unlock(&notifiers_lock);
}

void bdrv_remove_write_notifier(BdrvWriteNotifier *n)
{
    g_rw_lock_writer_lock(&notifiers_lock);
    notifiers = g_slist_remove(notifiers, n);
    g_atomic_int_add(&notifier_count, -1);
    g_rw_lock_writer_unlock(&notifiers_lock);
}

bool bdrv_has_write_notifiers(BlockDriverState *bs)
{
    bool found = false;

    if (g_atomic_int_get(&notifier_count) == 0) {
        return false;
    }
    g_rw_lock_reader_lock(&notifiers_lock);
    for (GSList *l = notifiers; l && !found; l = l->next) {
        found = ((BdrvWriteNotifier *)l->data)->bs == bs;
    }
    g_rw_lock_reader_unlock(&notifiers_lock);
    return found;
}

/*
 * The hooks run with the reader lock held: removal (main thread, inside a drained section of
 * the node) waits for hooks still running on other nodes, never for this node's requests.
 */
int bdrv_write_notify_before(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    int ret = 0;

    g_rw_lock_reader_lock(&notifiers_lock);
    for (GSList *l = notifiers; l && ret >= 0; l = l->next) {
        BdrvWriteNotifier *n = l->data;

        if (n->bs == bs && n->before) {
            ret = n->before(n, offset, bytes);
        }
    }
    g_rw_lock_reader_unlock(&notifiers_lock);
    return ret;
}

void bdrv_write_notify_after(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                             int ret)
{
    g_rw_lock_reader_lock(&notifiers_lock);
    for (GSList *l = notifiers; l; l = l->next) {
        BdrvWriteNotifier *n = l->data;

        if (n->bs == bs && n->after) {
            n->after(n, offset, bytes, qiov, ret);
        }
    }
    g_rw_lock_reader_unlock(&notifiers_lock);
}
