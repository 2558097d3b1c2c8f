/*
 * HMP `commit device|all`: QEMU 2.2's synchronous bdrv_commit(). What the top image of a
 * drive holds itself is copied into its backing image (grown first if smaller) by the
 * commit job's copy (block/commit.c, run to its end here, with the drive drained), then the
 * top image is emptied, so the guest sees the same data. The backing image of a chain is
 * read-only and minivmm has no reopen: the copy goes through a second, writable node of
 * that image, which then replaces the read-only one under the top image (no stale
 * metadata cache is left reading the old contents). Not minivmm-img commit.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "block/block-backend.h"
#include "block/block_int.h"
#include "block/blockjob-kinds.h"
#include "block/image-ops.h"
#include "monitor/command.h"

/* A writable node of the backing image ro, with its own backing chain. */
static BlockDriverState *commit_open_base(BlockDriverState *ro)
{
    JsonObject *opts = json_object_new();

    json_object_set_string_member(opts, "driver", bdrv_get_format_name(ro));
    return bdrv_open(bdrv_get_filename(ro), opts,
                     (bdrv_get_flags(ro) & ~BDRV_O_SNAPSHOT) | BDRV_O_RDWR, NULL);
}

static void commit_swap_backing(BlockDriverState *top, BlockDriverState *base)
{
    BlockDriverState *old = top->backing;

    /* Each subtree leaves the drained section it entered. */
    bdrv_drained_begin(top);
    bdrv_drained_begin(base);
    top->backing = base;
    bdrv_drained_end(top);
    bdrv_drained_end(old);
    bdrv_unref(old);
}

static int commit_into(BlockDriverState *top, BlockDriverState *base, BlockDriverState *base_rw)
{
    int ret = commit_copy_sync(top, base, base_rw);

    if (ret >= 0 && top->drv->make_empty) {
        ret = bdrv_make_empty(top, NULL);
        ret = ret < 0 ? ret : bdrv_flush(top);
    }
    return ret;
}

/* 0 or -errno, as 2.2's bdrv_commit(). */
static int commit_bs(BlockDriverState *top)
{
    BlockDriverState *base = top ? bdrv_backing_child(top) : NULL, *base_rw;
    bool swap;
    int ret;

    if (!top || !top->drv) {
        return -ENOMEDIUM;
    }
    if (!base) {
        return -ENOTSUP;
    }
    if (bdrv_op_is_blocked(top, BLOCK_OP_TYPE_COMMIT, NULL) ||
        bdrv_op_is_blocked(base, BLOCK_OP_TYPE_COMMIT, NULL)) {
        return -EBUSY;
    }
    swap = bdrv_is_read_only(base);
    base_rw = swap ? commit_open_base(base) : base;
    if (!base_rw) {
        return -EACCES;
    }
    bdrv_drained_begin(top);
    ret = commit_into(top, base, base_rw);
    bdrv_drained_end(top);
    if (swap) {
        commit_swap_backing(top, base_rw);
    }
    return ret;
}

static void hmp_commit(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *device = monitor_arg_str(args, "device");
    BlockBackend *blk = NULL;
    int r = 0;

    if (!strcmp(device, "all")) {
        while ((blk = blk_next(blk)) && r >= 0) {
            BlockDriverState *bs = blk_bs(blk);

            r = bs && bdrv_backing_child(bs) ? commit_bs(bs) : 0;
        }
    } else if (!(blk = blk_by_name(device))) {
        error_setg(errp, "Device '%s' not found", device);
        return;
    } else {
        r = commit_bs(blk_bs(blk));
    }
    if (r < 0) {
        error_setg(errp, "'commit' error for '%s': %s", device, g_strerror(-r));
    }
}

static const MonitorCommand commit_cmds[] = {
    {.hmp_name = "commit",
     .args_type = "device:B",
     .fn = hmp_commit,
     .hmp_params = "device|all",
     .hmp_help = "commit changes to the disk images (if -snapshot is used) or backing files"},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(commit_cmds);
