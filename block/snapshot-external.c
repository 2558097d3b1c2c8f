/*
 * External snapshots in the graph: bdrv_append puts an overlay over a node and gives the
 * overlay the node's place as a drive's root; bdrv_reopen_read_only turns the node that is
 * now a backing file read-only. Unlike QEMU 2.2, which swaps the contents of the two
 * BlockDriverStates, the backend's root pointer moves, so each node keeps its own name,
 * options, driver state and op blockers (whoever set a blocker removes it from the node it
 * set it on; a blocked node takes no snapshot). Whether a file may take the overlay's place
 * is asked here too; not the image creation or the monitor commands (blockdev/).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/file-lock.h"
#include "block/snapshot-external.h"

static bool same_file(const struct stat *a, const char *name)
{
    struct stat b;

    return stat(name, &b) == 0 && a->st_dev == b.st_dev && a->st_ino == b.st_ino;
}

static bool file_in_chain(BlockDriverState *bs, const char *file)
{
    struct stat st;

    if (stat(file, &st) < 0) {
        return false;
    }
    for (; bs; bs = bdrv_backing_child(bs)) {
        BlockDriverState *proto = bdrv_file_child(bs) ? bdrv_file_child(bs) : bs;

        if (same_file(&st, bdrv_get_filename(proto))) {
            return true;
        }
    }
    return false;
}

bool bdrv_snapshot_file_free(BlockDriverState *top, const char *file, int flags, Error **errp)
{
    if (!file_lock_check_own(file, file_lock_perms_for(flags), errp)) {
        return false;
    }
    /* overwriting (or stacking onto) an image of the chain would destroy its data */
    if (file_in_chain(top, file)) {
        error_setg_errno(errp, EBUSY, "Could not create file");
        return false;
    }
    return true;
}

static void bdrv_set_backing(BlockDriverState *overlay, BlockDriverState *top)
{
    bdrv_ref(top);
    overlay->backing = top;
    overlay->open_flags &= ~BDRV_O_NO_BACKING;
}

void bdrv_append(BlockDriverState *overlay, BlockDriverState *top)
{
    BlockBackend *blk = top->blk;

    g_assert(!overlay->backing && !overlay->blk);
    blk_root_change_begin(blk);
    bdrv_drained_begin(top);
    bdrv_set_backing(overlay, top);
    if (blk) {
        bdrv_ref(overlay);
        blk->root = overlay;
        overlay->blk = blk;
        top->blk = NULL;
        bdrv_retarget_parked(top, overlay);
        bdrv_unref(top); /* the backend's reference; the overlay holds one now */
    }
    bdrv_drained_end(top);
    blk_root_change_end(blk);
}

static void bdrv_set_read_only(BlockDriverState *bs)
{
    bs->read_only = true;
    bs->open_flags &= ~BDRV_O_RDWR;
}

int bdrv_reopen_read_only(BlockDriverState *bs, Error **errp)
{
    int ret = 0;

    if (bs->read_only) {
        return 0;
    }
    bdrv_drained_begin(bs);
    ret = bdrv_flush(bs);
    if (ret >= 0 && bs->drv->reopen_read_only) {
        ret = bs->drv->reopen_read_only(bs);
    }
    if (ret >= 0 && bs->file && bs->file->drv->reopen_read_only) {
        ret = bs->file->drv->reopen_read_only(bs->file);
    }
    if (ret >= 0) {
        bdrv_set_read_only(bs);
        if (bs->file) {
            bdrv_set_read_only(bs->file);
        }
    } else {
        error_setg_errno(errp, -ret, "Could not reopen '%s' read-only", bs->filename);
    }
    bdrv_drained_end(bs);
    return ret;
}
