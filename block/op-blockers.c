/*
 * Op blockers: per operation type, the list of reasons (Error objects owned by whoever
 * blocks, e.g. a block job) why the operation is currently forbidden on a node. The newest
 * reason is the one reported. Not a lock: callers check before they start an operation.
 */
#include <glib.h>
#include "block/block-internal.h"

void bdrv_op_block(BlockDriverState *bs, BlockOpType op, Error *reason)
{
    g_assert(op < BLOCK_OP_TYPE_MAX);
    bs->op_blockers[op] = g_slist_prepend(bs->op_blockers[op], reason);
}

void bdrv_op_unblock(BlockDriverState *bs, BlockOpType op, Error *reason)
{
    g_assert(op < BLOCK_OP_TYPE_MAX);
    bs->op_blockers[op] = g_slist_remove(bs->op_blockers[op], reason);
}

void bdrv_op_block_all(BlockDriverState *bs, Error *reason)
{
    for (int op = 0; op < BLOCK_OP_TYPE_MAX; op++) {
        bdrv_op_block(bs, op, reason);
    }
}

void bdrv_op_unblock_all(BlockDriverState *bs, Error *reason)
{
    for (int op = 0; op < BLOCK_OP_TYPE_MAX; op++) {
        bdrv_op_unblock(bs, op, reason);
    }
}

bool bdrv_op_is_blocked(BlockDriverState *bs, BlockOpType op, Error **errp)
{
    const char *name = bdrv_get_device_name(bs);

    g_assert(op < BLOCK_OP_TYPE_MAX);
    if (!bs->op_blockers[op]) {
        return false;
    }
    error_setg(errp, "Device '%s' is busy: %s", name[0] ? name : bs->node_name,
               error_get_pretty(bs->op_blockers[op]->data));
    return true;
}
