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
 * blockers stay on top. The drive's requests from other threads wait at the drive, and top
 * is drained, while the root changes; they then go to overlay. Cannot fail. Main thread,
 * not inside a drained section of top; the caller keeps its own reference to overlay.
 */
void bdrv_append(BlockDriverState *overlay, BlockDriverState *top);

/*
 * Whether the image file `file` may become top's overlay, opened with flags (mode=existing)
 * or created (flags with BDRV_O_RDWR): false with errp set while this process uses it. With
 * the file locked, QEMU 7.2's answer, which its locks give where minivmm's nodes share
 * theirs: 'Failed to get "write" lock' and the hint (top's own chain, another drive). A file
 * of top's own chain that is not locked (locking=off) is refused all the same, with
 * "Could not create file: Device or resource busy" (QEMU 2.2 and 7.2 would overwrite it).
 */
bool bdrv_snapshot_file_free(BlockDriverState *top, const char *file, int flags, Error **errp);

/*
 * Reopen bs (and its protocol child) read-only: drains it, flushes it, lets the driver write
 * back and mark the image clean, then refuses writes. 0 or -errno (bs unchanged on error).
 */
int bdrv_reopen_read_only(BlockDriverState *bs, Error **errp);

#endif
