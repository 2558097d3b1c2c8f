/*
 * Write notifiers: block jobs watching the content changes of a node. A notifier's before
 * hook runs before every write, zero write or discard that reaches the node (backup copies
 * the old data there: copy-before-write) and may fail the request; its after hook runs once
 * the request is done (mirror marks the range dirty, or in write-blocking mode copies the
 * new data to the target itself). Both run in the thread that performs the request (a worker,
 * or a synchronous caller), never in the main loop; requests to a node with notifiers always
 * take the worker path. Requests a driver makes to its children are not seen. Not the
 * request path (io.c calls in here).
 */
#ifndef BLOCK_WRITE_NOTIFY_H
#define BLOCK_WRITE_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include "block/block.h"

typedef struct BdrvWriteNotifier BdrvWriteNotifier;
struct BdrvWriteNotifier {
    /* 0 to let the request go, -errno to fail it. Optional. */
    int (*before)(BdrvWriteNotifier *n, uint64_t offset, uint64_t bytes);
    /* After the request; qiov holds the written data (NULL for zero writes and discards),
     * ret its result. Optional. */
    void (*after)(BdrvWriteNotifier *n, uint64_t offset, uint64_t bytes, IOVector *qiov, int ret);
    BlockDriverState *bs; /* set by bdrv_add_write_notifier */
};

/* Main thread; the node should be drained around add/remove so no request sees half. */
void bdrv_add_write_notifier(BlockDriverState *bs, BdrvWriteNotifier *n);
void bdrv_remove_write_notifier(BdrvWriteNotifier *n);
bool bdrv_has_write_notifiers(BlockDriverState *bs);

/* For the request path (io.c). */
int bdrv_write_notify_before(BlockDriverState *bs, uint64_t offset, uint64_t bytes);
void bdrv_write_notify_after(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                             int ret);

#endif
