/*
 * The graph side of an external snapshot: put a new overlay on top of a node (the node
 * becomes its backing file and, if it was a drive's root, the overlay takes its place) and
 * stop writing to the node that is now a backing file. Creating the overlay's image file
 * and the monitor commands live in blockdev/qmp-snapshot.c.
 */
#ifndef BLOCK_SNAPSHOT_EXTERNAL_H
#define BLOCK_SNAPSHOT_EXTERNAL_H

#include "block/block.h"

/*
 * Make top the backing node of overlay (which was opened with BDRV_O_NO_BACKING and has no
 * backing node) and, if top is the root of a drive, make overlay that drive's root. Op
 * blockers stay on top; requests parked on top by the drained section resume on overlay.
 * Cannot fail. Main thread, inside a drained section of top; the caller keeps its own
 * reference to overlay.
 */
void bdrv_append(BlockDriverState *overlay, BlockDriverState *top);

/*
 * Reopen bs (and its protocol child) read-only: drains it, flushes it, lets the driver write
 * back and mark the image clean, then refuses writes. 0 or -errno (bs unchanged on error).
 */
int bdrv_reopen_read_only(BlockDriverState *bs, Error **errp);

#endif
