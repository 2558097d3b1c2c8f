/*
 * The "raw" format: the image is the guest disk byte for byte, so every operation passes
 * straight to the protocol child (bs->file). Asynchronous requests are forwarded as
 * asynchronous child requests, which keeps raw over file on the Linux AIO / io_uring fast
 * path. Its probe scores 1, the lowest positive score, so any real format wins. Not
 * supported: the "offset" and "size" options of later QEMU versions.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <string.h>
#include <unistd.h>
#include "block/block_int.h"
#include "block/file-lock.h"
#include "block/file-posix.h"

static int raw_probe(const uint8_t *buf, int buf_size, const char *filename)
{
    return 1;
}

/* The core has already opened the protocol child (it needed it to probe). */
static int raw_open(BlockDriverState *bs, JsonObject *options, int flags, Error **errp)
{
    return bdrv_open_child(bs, options, "file", flags, false, errp) ? 0 : -EINVAL;
}

static int raw_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                      int flags)
{
    return bdrv_preadv(bs->file, offset, qiov, flags);
}

static int raw_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                       int flags)
{
    return bdrv_pwritev(bs->file, offset, qiov, flags);
}

static int raw_pdiscard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    return bdrv_pdiscard(bs->file, offset, bytes);
}

static int raw_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    return bdrv_pwrite_zeroes(bs->file, offset, bytes, flags);
}

/* In whole 512-byte sectors, as QEMU counts every image: a 3-byte file is 512 bytes long,
 * the bytes past the file's end reading as zeroes. */
static int64_t raw_getlength(BlockDriverState *bs)
{
    int64_t len = bdrv_getlength(bs->file);

    return len < 0 || len > INT64_MAX - 511 ? len : (len + 511) & ~(int64_t)511;
}

static int64_t raw_get_allocated_file_size(BlockDriverState *bs)
{
    return bdrv_get_allocated_file_size(bs->file);
}

static int raw_truncate(BlockDriverState *bs, uint64_t size, PreallocMode mode, Error **errp)
{
    return bdrv_truncate_prealloc(bs->file, size, mode, errp);
}

/* The child's status; whatever the child holds, data or zeroes, is allocated in raw. */
static int raw_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                            BlockDriverState **file, uint64_t *map)
{
    int ret = bdrv_block_status(bs->file, offset, bytes, pnum);

    if (ret < 0) {
        return ret;
    }
    if (*pnum == 0) {
        /* The rest of the last sector, past the file's end: zeroes (raw_getlength). */
        *pnum = bytes;
        ret = BDRV_BLOCK_ZERO;
    }
    if (file) {
        *file = bs->file;
    }
    if (map) {
        *map = offset;
    }
    if (ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO)) {
        ret |= BDRV_BLOCK_ALLOCATED;
    }
    return ret;
}

static void raw_refresh_limits(BlockDriverState *bs)
{
    bs->request_alignment = MAX(bs->file->request_alignment, 1);
}

static void raw_child_done(void *opaque, int ret)
{
    bdrv_request_complete(opaque, ret);
}

/* Forward a read or write as the same request on the child; its completion completes req. */
static void raw_aio_submit(BlockDriverState *bs, BlockRequest *req)
{
    if (req->type == BLOCK_REQ_WRITE) {
        bdrv_aio_pwritev(bs->file, req->offset, req->qiov, req->flags, raw_child_done, req);
    } else {
        bdrv_aio_preadv(bs->file, req->offset, req->qiov, req->flags, raw_child_done, req);
    }
}

static const BlockCreateOpt raw_create_opts[] = {
    {"size", "size", "Virtual disk size", NULL},
    {"preallocation", "str", "Preallocation mode (allowed values: off, falloc, full)", NULL},
    {NULL, NULL, NULL, NULL},
};

/* A raw image is a file of the size, emptied first, sparse unless preallocated. */
static int raw_create(const char *filename, JsonObject *opts, Error **errp)
{
    const char *prealloc = json_object_has_member(opts, "preallocation")
                               ? json_object_get_string_member(opts, "preallocation") : "off";
    uint64_t size = json_object_get_int_member(opts, "size");
    int mode = prealloc_mode_parse(prealloc);
    FileLock *lock;
    int fd, ret;

    if (mode < 0) {
        error_setg(errp, "invalid parameter value: %s", prealloc);
        return -EINVAL;
    }
    if (mode == PREALLOC_MODE_METADATA) {
        error_setg(errp, "Unsupported preallocation mode: %s", prealloc);
        return -ENOTSUP;
    }
    fd = file_lock_create_open(filename, &lock, errp);
    if (fd < 0) {
        return fd;
    }
    ret = file_resize_regular(fd, 0, PREALLOC_MODE_OFF, errp);
    if (ret >= 0) {
        ret = file_resize_regular(fd, size, mode, errp);
    }
    file_lock_close(lock, fd);
    return ret;
}

/* Every byte of the virtual disk is a byte of the file, allocated or not. */
static int raw_measure(JsonObject *opts, BlockDriverState *in_bs, BlockMeasureInfo *info,
                       Error **errp)
{
    uint64_t size = 0;

    if (in_bs) {
        int64_t len = bdrv_getlength(in_bs);
        if (len < 0) {
            error_setg_errno(errp, -len, "Unable to get image virtual_size");
            return len;
        }
        size = len;
    } else if (json_object_has_member(opts, "size")) {
        /* whole sectors, in unsigned arithmetic: INT64_MAX rounds up to 2^63, as in QEMU */
        size = ((uint64_t)json_object_get_int_member(opts, "size") + 511) & ~(uint64_t)511;
    }
    info->required = info->fully_allocated = size;
    return 0;
}

static BlockDriver bdrv_raw = {
    .format_name = "raw",
    .fua_writes = true, /* forwarded to the file, whose core honours it */
    .instance_size = 0,
    .probe = raw_probe,
    .open = raw_open,
    .preadv = raw_preadv,
    .pwritev = raw_pwritev,
    .pdiscard = raw_pdiscard,
    .pwrite_zeroes = raw_pwrite_zeroes,
    .getlength = raw_getlength,
    .get_allocated_file_size = raw_get_allocated_file_size,
    .truncate = raw_truncate,
    .block_status = raw_block_status,
    .aio_submit = raw_aio_submit,
    .refresh_limits = raw_refresh_limits,
    .create_opts = raw_create_opts,
    .create = raw_create,
    .measure = raw_measure,
};

static void __attribute__((constructor)) raw_format_register(void)
{
    bdrv_register(&bdrv_raw);
}
