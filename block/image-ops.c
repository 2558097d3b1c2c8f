/*
 * Whole-image operations (image-ops.h): check the node can take the operation (a medium,
 * writable where the image changes, the op blockers the monitor sets) and call the
 * driver's hook, with QEMU's "Operation not supported" when the format has none. The
 * formats do the work; nothing here reads or writes an image.
 */
#include <errno.h>
#include <string.h>
#include "block/block_int.h"
#include "block/block-internal.h"

static int image_op_check(BlockDriverState *bs, bool needs_hook, bool write, Error **errp)
{
    if (!bs->drv) {
        error_setg(errp, "No medium inserted");
        return -ENOMEDIUM;
    }
    if (!needs_hook) {
        error_setg(errp, "Operation not supported");
        return -ENOTSUP;
    }
    if (write && bs->read_only) {
        error_setg(errp, "Image is read-only");
        return -EACCES;
    }
    return 0;
}

int bdrv_check(BlockDriverState *bs, BdrvCheckResult *res, int fix,
               void (*report)(const char *msg))
{
    memset(res, 0, sizeof(*res));
    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    if (!bs->drv->check) {
        return -ENOTSUP;
    }
    return bs->drv->check(bs, res, fix, report);
}

static int snapshot_op(BlockDriverState *bs, const char *name, BlockOpType op,
                       int (*fn)(BlockDriverState *, const char *, Error **), Error **errp)
{
    int ret = image_op_check(bs, fn != NULL, true, errp);

    if (ret < 0) {
        return ret;
    }
    if (bdrv_op_is_blocked(bs, op, errp)) {
        return -EBUSY;
    }
    bdrv_drained_begin(bs);
    ret = fn(bs, name, errp);
    bdrv_refresh_total_bytes(bs);
    bdrv_drained_end(bs);
    return ret;
}

const BlockCreateOpt *bdrv_create_opts(const char *fmt)
{
    BlockDriver *drv = bdrv_find_format(fmt);

    return drv && drv->create ? drv->create_opts : NULL;
}

/*
 * QEMU's images are whole 512-byte sectors: both qemu-img versions round the size up
 * before the driver sees it (a qcow2 header with 1000 bytes reads as 512 in QEMU).
 */
static void create_round_size(JsonObject *opts)
{
    int64_t size;

    if (!json_object_has_member(opts, "size")) {
        return;
    }
    size = json_object_get_int_member(opts, "size");
    if (size > 0 && size <= INT64_MAX - 511) {
        json_object_set_int_member(opts, "size", (size + 511) & ~(int64_t)511);
    }
}

int bdrv_create(const char *fmt, const char *filename, JsonObject *opts, Error **errp)
{
    BlockDriver *drv = bdrv_find_format(fmt);

    if (!drv) {
        error_setg(errp, "Unknown file format '%s'", fmt);
        return -ENOENT;
    }
    if (!drv->create) {
        error_setg(errp, "Format driver '%s' does not support image creation", fmt);
        return -ENOTSUP;
    }
    create_round_size(opts);
    return drv->create(filename, opts, errp);
}

int bdrv_measure(const char *fmt, JsonObject *opts, BlockDriverState *in_bs,
                 BlockMeasureInfo *info, Error **errp)
{
    BlockDriver *drv = bdrv_find_format(fmt);

    if (!drv) {
        error_setg(errp, "Unknown file format '%s'", fmt);
        return -ENOENT;
    }
    if (!drv->measure) {
        error_setg(errp, "Block driver '%s' does not support size measurement", fmt);
        return -ENOTSUP;
    }
    *info = (BlockMeasureInfo){0};
    return drv->measure(opts, in_bs, info, errp);
}

int bdrv_block_status_chain(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                           uint64_t *pnum, int *depth, uint64_t *map, BlockDriverState **file)
{
    *depth = 0;
    for (;;) {
        BlockDriverState *backing;
        int64_t blen;
        int ret = bdrv_block_status_map(bs, offset, bytes, pnum, map, file);

        if (ret < 0) {
            return ret;
        }
        if (!*pnum) {
            return -EIO; /* the caller stays inside the image */
        }
        bytes = *pnum;
        if (ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO)) {
            return ret;
        }
        backing = bdrv_backing_child(bs);
        blen = backing ? bdrv_getlength(backing) : 0;
        if (blen < 0) {
            return blen;
        }
        if (offset >= (uint64_t)blen) {
            return ret | BDRV_BLOCK_ZERO; /* unallocated, nothing below: reads as zeroes */
        }
        *pnum = bytes = MIN(bytes, (uint64_t)blen - offset);
        bs = backing;
        ++*depth;
    }
}

int64_t bdrv_measure_data(BlockDriverState *in_bs, uint64_t cluster_size)
{
    int64_t len = bdrv_getlength(in_bs);
    uint64_t data = 0, pnum;

    if (len < 0) {
        return len;
    }
    for (uint64_t off = 0; off < (uint64_t)len; off += pnum) {
        BlockDriverState *file;
        uint64_t map;
        int depth;
        int ret = bdrv_block_status_chain(in_bs, off, len - off, &pnum, &depth, &map, &file);

        if (ret < 0) {
            return ret;
        }
        if (!pnum) {
            return -EIO;
        }
        if (!(ret & BDRV_BLOCK_ZERO) && (ret & BDRV_BLOCK_DATA)) {
            /* the rest of the cluster counts too, and the walk goes on after it */
            pnum = ((off + pnum + cluster_size - 1) / cluster_size) * cluster_size - off;
            data += off % cluster_size + pnum;
        }
    }
    return data;
}

bool bdrv_can_snapshot(BlockDriverState *bs)
{
    return bs->drv && bs->drv->snapshot_list;
}

int bdrv_snapshot_create(BlockDriverState *bs, const char *name, Error **errp)
{
    return bdrv_snapshot_create_vm(bs, name, 0, errp);
}

int bdrv_snapshot_create_vm(BlockDriverState *bs, const char *name, uint64_t vm_clock_nsec,
                            Error **errp)
{
    /* QEMU keeps a snapshot's name in 256 bytes: longer names are cut to 255, as there */
    g_autofree char *tag = g_strndup(name, 255);
    int ret = image_op_check(bs, bs->drv && bs->drv->snapshot_create, true, errp);

    if (ret < 0) {
        return ret;
    }
    if (bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_INTERNAL_SNAPSHOT, errp)) {
        return -EBUSY;
    }
    bdrv_drained_begin(bs);
    ret = bs->drv->snapshot_create(bs, tag, vm_clock_nsec, errp);
    bdrv_refresh_total_bytes(bs);
    bdrv_drained_end(bs);
    return ret;
}

int bdrv_snapshot_goto(BlockDriverState *bs, const char *name, Error **errp)
{
    return snapshot_op(bs, name, BLOCK_OP_TYPE_INTERNAL_SNAPSHOT,
                       bs->drv ? bs->drv->snapshot_goto : NULL, errp);
}

int bdrv_snapshot_delete(BlockDriverState *bs, const char *name, Error **errp)
{
    return snapshot_op(bs, name, BLOCK_OP_TYPE_INTERNAL_SNAPSHOT_DELETE,
                       bs->drv ? bs->drv->snapshot_delete : NULL, errp);
}

int bdrv_snapshot_find(BlockDriverState *bs, const char *id, const char *name,
                       BlockSnapshotInfo *out)
{
    BlockSnapshotInfo *list;
    int n = bdrv_can_snapshot(bs) ? bdrv_snapshot_list(bs, &list) : -ENOTSUP;
    int found = 0;

    for (int i = 0; i < n && !found; i++) {
        if ((!id || !strcmp(list[i].id, id)) && (!name || !strcmp(list[i].name, name))) {
            *out = list[i];
            out->id = g_strdup(list[i].id);
            out->name = g_strdup(list[i].name);
            found = 1;
        }
    }
    if (n > 0) {
        bdrv_snapshot_list_free(list, n);
    }
    return n < 0 ? n : found;
}

void bdrv_snapshot_info_clear(BlockSnapshotInfo *sn)
{
    g_free(sn->id);
    g_free(sn->name);
}

int bdrv_snapshot_load_tmp(BlockDriverState *bs, const char *id, const char *name,
                           Error **errp)
{
    BlockSnapshotInfo sn;
    int ret;

    if (!bs->drv) {
        error_setg(errp, "No medium inserted");
        return -ENOMEDIUM;
    }
    if (!bs->drv->snapshot_load_tmp) {
        /* qemu-img's text: its nodes have no device name */
        error_setg(errp, "Block format '%s' used by device '' does not support temporarily "
                   "loading internal snapshots", bs->drv->format_name);
        return -ENOTSUP;
    }
    if (!bs->read_only) {
        error_setg(errp, "Device is not readonly");
        return -EINVAL;
    }
    bdrv_drained_begin(bs);
    ret = bdrv_snapshot_find(bs, id, name, &sn);
    if (ret > 0) {
        ret = bs->drv->snapshot_load_tmp(bs, sn.id, errp);
        bdrv_snapshot_info_clear(&sn);
    } else {
        error_setg(errp, "Can't find snapshot");
        ret = ret < 0 ? ret : -ENOENT;
    }
    bdrv_drained_end(bs);
    return ret;
}

int bdrv_snapshot_list(BlockDriverState *bs, BlockSnapshotInfo **list)
{
    *list = NULL;
    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    return bs->drv->snapshot_list ? bs->drv->snapshot_list(bs, list) : 0;
}

void bdrv_snapshot_list_free(BlockSnapshotInfo *list, int n)
{
    for (int i = 0; i < n; i++) {
        g_free(list[i].id);
        g_free(list[i].name);
    }
    g_free(list);
}

const char *bdrv_get_backing_filename(const BlockDriverState *bs)
{
    return bs->backing_file;
}

const char *bdrv_get_backing_format(const BlockDriverState *bs)
{
    return bs->backing_format;
}

JsonObject *bdrv_get_specific_info(BlockDriverState *bs)
{
    return bs->drv && bs->drv->get_specific_info ? bs->drv->get_specific_info(bs) : NULL;
}

bool bdrv_is_dirty(BlockDriverState *bs)
{
    return bs->drv && bs->drv->is_dirty && bs->drv->is_dirty(bs);
}

int bdrv_change_backing_file(BlockDriverState *bs, const char *backing_file,
                             const char *backing_fmt, Error **errp)
{
    int ret = image_op_check(bs, bs->drv && bs->drv->change_backing_file, true, errp);

    if (ret < 0) {
        return ret;
    }
    if (backing_file && !backing_file[0]) {
        backing_file = NULL;
    }
    if (!backing_file) {
        backing_fmt = NULL;
    }
    ret = bs->drv->change_backing_file(bs, backing_file, backing_fmt);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not update the backing file name");
        return ret;
    }
    g_free(bs->backing_file);
    g_free(bs->backing_format);
    bs->backing_file = g_strdup(backing_file);
    bs->backing_format = g_strdup(backing_fmt);
    return 0;
}

int bdrv_make_empty(BlockDriverState *bs, Error **errp)
{
    int ret = image_op_check(bs, bs->drv && bs->drv->make_empty, true, errp);

    if (ret < 0) {
        return ret;
    }
    bdrv_drained_begin(bs);
    ret = bs->drv->make_empty(bs);
    bdrv_drained_end(bs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not empty the image");
        return ret;
    }
    return bdrv_flush(bs);
}

const char *const *bdrv_amend_opts(const char *fmt)
{
    BlockDriver *drv = bdrv_find_format(fmt);

    return drv && drv->amend ? drv->amend_opts : NULL;
}

int bdrv_amend(BlockDriverState *bs, JsonObject *opts, Error **errp)
{
    int ret;

    if (bs->drv && !bs->drv->amend) {
        error_setg(errp, "Format driver '%s' does not support option amendment",
                   bs->drv->format_name);
        return -ENOTSUP;
    }
    if ((ret = image_op_check(bs, true, true, errp)) < 0) {
        return ret;
    }
    bdrv_drained_begin(bs);
    ret = bs->drv->amend(bs, opts, errp);
    bdrv_drained_end(bs);
    return ret < 0 ? ret : bdrv_flush(bs);
}

int bdrv_resize(BlockDriverState *bs, uint64_t size, bool shrink, PreallocMode mode,
                Error **errp)
{
    int64_t len = bdrv_getlength(bs);
    int ret;

    if (len < 0 || !shrink || size >= (uint64_t)len || !bs->drv || !bs->drv->shrink) {
        return bdrv_truncate_prealloc(bs, size, mode, errp);
    }
    if ((ret = image_op_check(bs, true, true, errp)) < 0) {
        return ret;
    }
    if (bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_RESIZE, errp)) {
        return -EBUSY;
    }
    bdrv_drained_begin(bs);
    ret = bs->drv->shrink(bs, size, errp);
    bdrv_refresh_total_bytes(bs);
    bdrv_drained_end(bs);
    if (ret < 0) {
        return ret;
    }
    if (bs->blk) {
        blk_dev_resize_cb(bs->blk);
    }
    return 0;
}
