/*
 * The synchronous request path of a node: validation as QEMU 2.2 does it (no medium,
 * read-only, out of range), then reads, writes with detect-zeroes, the probed-raw guard and
 * writethrough, zero writes (driver op or zero buffers), discard policy, recursive flush,
 * length, resize and block status. Every public call counts itself in bs->in_flight and
 * honours drained sections. Alignment handling is in io-align.c, asynchronous requests in
 * aio.c.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/write-notify.h"

#define ZERO_CHUNK (1024 * 1024)
#define PROBE_SECTOR 512

/* ---- validation ---- */

static bool bdrv_is_growable(const BlockDriverState *bs)
{
    return bs->drv->is_protocol && (bs->open_flags & BDRV_O_PROTOCOL);
}

static int bdrv_check_range(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    int64_t len;

    if (offset > INT64_MAX || bytes > INT64_MAX - offset) {
        return -EIO;
    }
    if (bdrv_is_growable(bs)) {
        return 0;
    }
    len = bdrv_getlength(bs);
    if (len < 0) {
        return len;
    }
    return offset + bytes > (uint64_t)len ? -EIO : 0;
}

void bdrv_mark_unusable(BlockDriverState *bs)
{
    g_atomic_int_set(&bs->unusable, 1);
}

int bdrv_check_request(BlockDriverState *bs, BlockReqType type, uint64_t offset, uint64_t bytes)
{
    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    if (type != BLOCK_REQ_FLUSH && g_atomic_int_get(&bs->unusable)) {
        return -ENOMEDIUM;
    }
    switch (type) {
    case BLOCK_REQ_FLUSH:
        return 0;
    case BLOCK_REQ_WRITE:
    case BLOCK_REQ_WRITE_ZEROES:
        if (bs->read_only) {
            return -EACCES;
        }
        break;
    case BLOCK_REQ_DISCARD:
        if (bs->read_only) {
            return -EPERM;
        }
        break;
    case BLOCK_REQ_READ:
        break;
    }
    return bdrv_check_range(bs, offset, bytes);
}

/* ---- reads and writes ---- */

static int bdrv_do_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                          int flags)
{
    if (bytes == 0) {
        return 0;
    }
    if (!bs->drv->preadv) {
        return -ENOTSUP;
    }
    return bdrv_aligned_or_bounced_preadv(bs, offset, bytes, qiov, flags);
}

static bool bdrv_is_probed_raw(const BlockDriverState *bs)
{
    return bs->probed && !strcmp(bs->drv->format_name, "raw");
}

/*
 * A probed raw image must not get a format header written into its first sector: the
 * next probe would then trust the guest's data (QEMU >= 2.3 behaviour).
 */
static int bdrv_check_probed_raw_write(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                       IOVector *qiov)
{
    static int reported;
    uint8_t sector[PROBE_SECTOR] = {0};
    int64_t len = bdrv_getlength(bs);
    int ret;

    if (len < 0) {
        return len;
    }
    if (offset > 0 || bytes < PROBE_SECTOR) {
        ret = bdrv_pread(bs, 0, sector, MIN(len, PROBE_SECTOR));
        if (ret < 0) {
            return ret;
        }
    }
    iov_to_buf(qiov, 0, sector + offset, MIN(bytes, PROBE_SECTOR - offset));
    if (!bdrv_probe_best(sector, PROBE_SECTOR, bs->filename, "raw") &&
        !bdrv_find_format_magic(sector, PROBE_SECTOR)) {
        return 0;
    }
    if (g_atomic_int_compare_and_exchange(&reported, 0, 1)) {
        error_report("Writes to a probed raw image with a format header are refused; "
                     "specify format=raw to write it");
    }
    return -EPERM;
}

bool bdrv_write_needs_core(BlockDriverState *bs, uint64_t offset, int flags)
{
    return bs->detect_zeroes != BLOCKDEV_DETECT_ZEROES_OPTIONS_OFF || !bs->enable_write_cache ||
           (flags & (BDRV_REQ_FUA | BDRV_REQ_WRITE_COMPRESSED)) ||
           (offset < PROBE_SECTOR && bdrv_is_probed_raw(bs));
}

static int bdrv_do_flush(BlockDriverState *bs);
static int bdrv_do_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags);

/* cache.no-flush on a protocol node: its flushes, and the FUA of writes to it, are skipped. */
static bool bdrv_flush_disabled(BlockDriverState *bs)
{
    return bs->drv->is_protocol && (bs->open_flags & BDRV_O_NO_FLUSH);
}

/* BDRV_REQ_FUA when the driver is to honour it itself; else 0, and bdrv_write_done flushes
 * after the write (or nothing does, with flushes off). */
static int bdrv_driver_fua(BlockDriverState *bs, int flags)
{
    return (flags & BDRV_REQ_FUA) && bs->drv->fua_writes && bs->enable_write_cache &&
           !bdrv_flush_disabled(bs) ? BDRV_REQ_FUA : 0;
}

/* Writethrough, and a FUA the driver does not honour itself: a successful write is made
 * stable before it completes (counted first, or the flush could take itself for redundant). */
static int bdrv_write_done(BlockDriverState *bs, int ret, int flags)
{
    bdrv_wrote(bs);
    if (ret == 0 && (!bs->enable_write_cache || (flags & BDRV_REQ_FUA))) {
        ret = bdrv_do_flush(bs);
    }
    return ret;
}

static int bdrv_do_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                           int flags)
{
    int ret, fua;

    if (bytes == 0) {
        return 0;
    }
    if (flags & BDRV_REQ_WRITE_COMPRESSED) {
        /* Compressed data is never zero-detected: the caller chose to store it. */
        if (!bdrv_supports_compressed_writes(bs)) {
            return -ENOTSUP;
        }
        ret = bs->drv->pwritev_compressed(bs, offset, bytes, qiov);
        return bdrv_write_done(bs, ret, flags);
    }
    if (offset < PROBE_SECTOR && bdrv_is_probed_raw(bs)) {
        ret = bdrv_check_probed_raw_write(bs, offset, bytes, qiov);
        if (ret < 0) {
            return ret;
        }
    }
    if (bs->detect_zeroes != BLOCKDEV_DETECT_ZEROES_OPTIONS_OFF && !(flags & BDRV_REQ_ZERO_WRITE) &&
        iov_is_zero(qiov)) {
        int zflags = flags & BDRV_REQ_FUA;

        if (bs->detect_zeroes == BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP) {
            zflags |= BDRV_REQ_MAY_UNMAP;
        }
        return bdrv_do_pwrite_zeroes(bs, offset, bytes, zflags);
    }
    if (!bs->drv->pwritev) {
        return -ENOTSUP;
    }
    fua = bdrv_driver_fua(bs, flags);
    ret = bdrv_aligned_or_rmw_pwritev(bs, offset, bytes, qiov,
                                      (flags & ~(BDRV_REQ_FUA | BDRV_REQ_ZERO_WRITE)) | fua);
    return bdrv_write_done(bs, ret, flags & ~fua);
}

/* ---- zero writes ---- */

/* Write zeroes from a bounce buffer, at most ZERO_CHUNK bytes at a time. */
static int bdrv_write_zero_buffers(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    size_t chunk = MIN(bytes, ZERO_CHUNK);
    g_autofree uint8_t *buf = g_malloc0(chunk);
    int ret = 0;

    if (!bs->drv->pwritev) {
        return -ENOTSUP;
    }
    while (bytes > 0 && ret == 0) {
        IOVector qiov;
        size_t n = MIN(bytes, chunk);

        iov_init_buf(&qiov, buf, n);
        ret = bdrv_aligned_or_rmw_pwritev(bs, offset, n, &qiov, 0);
        iov_destroy(&qiov);
        offset += n;
        bytes -= n;
    }
    return ret;
}

static int bdrv_zero_aligned(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    int ret = -ENOTSUP;

    if (bs->drv->pwrite_zeroes) {
        ret = bdrv_tracked_pwrite_zeroes(bs, offset, bytes, flags);
    }
    if (ret == -ENOTSUP && !(flags & BDRV_REQ_NO_FALLBACK)) {
        ret = bdrv_write_zero_buffers(bs, offset, bytes);
    }
    return ret;
}

/* The unaligned head and tail are written as data (read-modify-write), the rest as zeroes. */
static int bdrv_do_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    uint64_t align = bs->request_alignment;
    uint64_t head = offset % align ? MIN(bytes, align - offset % align) : 0;
    uint64_t tail = (bytes - head) % align;
    uint64_t mid = bytes - head - tail;
    int ret = 0;

    if (!(bs->open_flags & BDRV_O_UNMAP)) {
        flags &= ~BDRV_REQ_MAY_UNMAP;
    }
    if ((flags & BDRV_REQ_NO_FALLBACK) && (head || tail)) {
        return -ENOTSUP;
    }
    if (head) {
        ret = bdrv_write_zero_buffers(bs, offset, head);
    }
    if (ret == 0 && mid) {
        ret = bdrv_zero_aligned(bs, offset + head, mid, flags & ~BDRV_REQ_FUA);
    }
    if (ret == 0 && tail) {
        ret = bdrv_write_zero_buffers(bs, offset + head + mid, tail);
    }
    return bdrv_write_done(bs, ret, flags);
}

/* ---- discard and flush ---- */

/* Discard is advisory: ignored unless discard=unmap, and when the driver cannot do it. */
static int bdrv_do_pdiscard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    int ret;

    if (!(bs->open_flags & BDRV_O_UNMAP) || !bs->drv->pdiscard || bytes == 0) {
        return 0;
    }
    ret = bs->drv->pdiscard(bs, offset, bytes);
    bdrv_wrote(bs);
    return ret == -ENOTSUP ? 0 : ret;
}

/* Counted where the driver is called: bdrv_write_done, bdrv_do_pdiscard, bdrv_truncate, and
 * for requests a driver completes itself, bdrv_request_complete. */
void bdrv_wrote(BlockDriverState *bs)
{
    g_atomic_int_inc(&bs->write_gen);
}

/*
 * Whether a protocol node's sync can be skipped: nothing changed its content since a sync
 * that succeeded, so this one would make nothing durable and order nothing (QEMU skips it
 * the same way). Changes are counted once complete, and the generation is read before the
 * sync starts, so a sync never takes credit for a change it may not cover. Format drivers
 * always run: their caches change without requests (snapshots, resize).
 */
static bool bdrv_flush_is_redundant(BlockDriverState *bs, int gen)
{
    return bs->drv->is_protocol && gen == g_atomic_int_get(&bs->flushed_gen);
}

/* This node's driver, then its protocol child; cache.no-flush skips the sync itself. */
static int bdrv_do_flush(BlockDriverState *bs)
{
    int gen = g_atomic_int_get(&bs->write_gen);
    int ret = 0;

    if (bs->read_only) {
        return 0;
    }
    if (bs->drv->flush && !bdrv_flush_disabled(bs) &&
        !bdrv_flush_is_redundant(bs, gen)) {
        ret = bs->drv->flush(bs);
        if (ret == 0) {
            g_atomic_int_set(&bs->flushed_gen, gen);
        }
    }
    if (ret == 0 && bs->file) {
        ret = bdrv_flush(bs->file);
    }
    return ret;
}

static int bdrv_dispatch_request(BlockDriverState *bs, BlockReqType type, uint64_t offset,
                                 uint64_t bytes, IOVector *qiov, int flags)
{
    switch (type) {
    case BLOCK_REQ_READ:
        return bdrv_do_preadv(bs, offset, bytes, qiov, flags);
    case BLOCK_REQ_WRITE:
        return bdrv_do_pwritev(bs, offset, bytes, qiov, flags);
    case BLOCK_REQ_FLUSH:
        return bdrv_do_flush(bs);
    case BLOCK_REQ_DISCARD:
        return bdrv_do_pdiscard(bs, offset, bytes);
    case BLOCK_REQ_WRITE_ZEROES:
        return bdrv_do_pwrite_zeroes(bs, offset, bytes, flags);
    }
    g_assert_not_reached();
}

/* With copy-on-read, reads copy; with it or a stream job, content changes are ordered against
 * the copies. */
static int bdrv_run_ordered(BlockDriverState *bs, BlockReqType type, uint64_t offset,
                            uint64_t bytes, IOVector *qiov, int flags)
{
    CorRange *range;
    int ret;

    if (!bdrv_cor_ordered(bs) || type == BLOCK_REQ_FLUSH ||
        (type == BLOCK_REQ_READ && !bdrv_cor_enabled(bs))) {
        return bdrv_dispatch_request(bs, type, offset, bytes, qiov, flags);
    }
    if (type == BLOCK_REQ_READ) {
        return bs->drv->preadv ? bdrv_cor_preadv(bs, offset, bytes, qiov, flags) : -ENOTSUP;
    }
    range = bdrv_cor_range_lock(bs, offset, bytes, false);
    ret = bdrv_dispatch_request(bs, type, offset, bytes, qiov, flags);
    bdrv_cor_range_unlock(range);
    return ret;
}

/* Content changes of a node watched by a block job pass its write notifiers. */
int bdrv_run_request(BlockDriverState *bs, BlockReqType type, uint64_t offset, uint64_t bytes,
                     IOVector *qiov, int flags)
{
    bool notify = type != BLOCK_REQ_READ && type != BLOCK_REQ_FLUSH && bdrv_has_write_notifiers(bs);
    int ret;

    if (notify && (ret = bdrv_write_notify_before(bs, offset, bytes)) < 0) {
        return ret;
    }
    ret = bdrv_run_ordered(bs, type, offset, bytes, qiov, flags);
    if (notify) {
        bdrv_write_notify_after(bs, offset, bytes, type == BLOCK_REQ_WRITE ? qiov : NULL, ret);
    }
    return ret;
}

/* ---- the synchronous API ---- */

static int bdrv_sync_request(BlockDriverState *bs, BlockReqType type, uint64_t offset,
                             uint64_t bytes, IOVector *qiov, int flags)
{
    int ret;

    bdrv_request_enter(bs, NULL);
    bdrv_nesting_enter();
    ret = bdrv_check_request(bs, type, offset, bytes);
    if (ret == 0) {
        ret = bdrv_run_request(bs, type, offset, bytes, qiov, flags);
    }
    bdrv_nesting_leave();
    bdrv_request_leave(bs);
    return ret;
}

int bdrv_preadv(BlockDriverState *bs, uint64_t offset, IOVector *qiov, int flags)
{
    return bdrv_sync_request(bs, BLOCK_REQ_READ, offset, qiov->size, qiov, flags);
}

int bdrv_pwritev(BlockDriverState *bs, uint64_t offset, IOVector *qiov, int flags)
{
    return bdrv_sync_request(bs, BLOCK_REQ_WRITE, offset, qiov->size, qiov, flags);
}

int bdrv_pread(BlockDriverState *bs, uint64_t offset, void *buf, uint64_t bytes)
{
    IOVector qiov;
    int ret;

    iov_init_buf(&qiov, buf, bytes);
    ret = bdrv_preadv(bs, offset, &qiov, 0);
    iov_destroy(&qiov);
    return ret;
}

static int bdrv_pwrite_flags(BlockDriverState *bs, uint64_t offset, const void *buf,
                             uint64_t bytes, int flags)
{
    IOVector qiov;
    int ret;

    iov_init_buf(&qiov, (void *)buf, bytes);
    ret = bdrv_pwritev(bs, offset, &qiov, flags);
    iov_destroy(&qiov);
    return ret;
}

int bdrv_pwrite(BlockDriverState *bs, uint64_t offset, const void *buf, uint64_t bytes)
{
    return bdrv_pwrite_flags(bs, offset, buf, bytes, 0);
}

int bdrv_pwrite_fua(BlockDriverState *bs, uint64_t offset, const void *buf, uint64_t bytes)
{
    return bdrv_pwrite_flags(bs, offset, buf, bytes, BDRV_REQ_FUA);
}

int bdrv_flush(BlockDriverState *bs)
{
    return bdrv_sync_request(bs, BLOCK_REQ_FLUSH, 0, 0, NULL, 0);
}

int bdrv_pdiscard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    return bdrv_sync_request(bs, BLOCK_REQ_DISCARD, offset, bytes, NULL, 0);
}

int bdrv_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    return bdrv_sync_request(bs, BLOCK_REQ_WRITE_ZEROES, offset, bytes, NULL, flags);
}

/* ---- length, resize, allocation ---- */

static int64_t bdrv_driver_length(BlockDriverState *bs)
{
    if (bs->drv->getlength) {
        return bs->drv->getlength(bs);
    }
    return bs->file ? bdrv_getlength(bs->file) : 0;
}

void bdrv_refresh_total_bytes(BlockDriverState *bs)
{
    bs->total_bytes = bdrv_driver_length(bs);
}

/* Protocol nodes are asked each time (files grow under formats); formats are cached. */
int64_t bdrv_getlength(BlockDriverState *bs)
{
    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    return bs->drv->is_protocol ? bdrv_driver_length(bs) : bs->total_bytes;
}

int64_t bdrv_get_allocated_file_size(BlockDriverState *bs)
{
    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    if (bs->drv->get_allocated_file_size) {
        return bs->drv->get_allocated_file_size(bs);
    }
    return bs->file ? bdrv_get_allocated_file_size(bs->file) : -ENOTSUP;
}

int bdrv_truncate(BlockDriverState *bs, uint64_t size, Error **errp)
{
    return bdrv_truncate_prealloc(bs, size, PREALLOC_MODE_OFF, errp);
}

static const char *const prealloc_mode_names[] = {"off", "metadata", "falloc", "full"};

int prealloc_mode_parse(const char *name)
{
    for (int i = 0; i < (int)G_N_ELEMENTS(prealloc_mode_names); i++) {
        if (!strcmp(name, prealloc_mode_names[i])) {
            return i;
        }
    }
    return -1;
}

const char *prealloc_mode_name(PreallocMode mode)
{
    return prealloc_mode_names[mode];
}

int bdrv_truncate_prealloc(BlockDriverState *bs, uint64_t size, PreallocMode mode,
                           Error **errp)
{
    Error *err = NULL;
    int ret;

    if (!bs->drv) {
        error_setg(errp, "No medium inserted");
        return -ENOMEDIUM;
    }
    if (!bs->drv->truncate) {
        error_setg(errp, "Image format driver does not support resize");
        return -ENOTSUP;
    }
    if (bs->read_only) {
        error_setg(errp, "Image is read-only");
        return -EACCES;
    }
    if (bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_RESIZE, errp)) {
        return -EBUSY;
    }
    bdrv_request_enter(bs, NULL);
    bdrv_nesting_enter();
    ret = bs->drv->truncate(bs, size, mode, &err);
    bdrv_wrote(bs);
    bdrv_refresh_total_bytes(bs);
    bdrv_nesting_leave();
    bdrv_request_leave(bs);
    if (ret < 0) {
        if (!err) {
            error_setg_errno(&err, -ret, "Could not resize image");
        }
        error_propagate(errp, err);
        return ret;
    }
    error_free(err);
    if (bs->blk) {
        blk_dev_resize_cb(bs->blk);
    }
    return 0;
}

/* DATA a driver maps to a hole (or past the end) of its file reads as zeroes (QEMU). */
static int bdrv_block_status_recurse(BlockDriverState *bs, int ret, uint64_t *pnum,
                                     uint64_t map, BlockDriverState *file)
{
    uint64_t fpnum;
    int fret;

    ret &= ~BDRV_BLOCK_RECURSE;
    if (!file || file == bs || !(ret & BDRV_BLOCK_DATA) || (ret & BDRV_BLOCK_ZERO)) {
        return ret;
    }
    fret = bdrv_block_status(file, map, *pnum, &fpnum);
    if (fret < 0) {
        return ret; /* only extra information */
    }
    if (!fpnum) {
        return ret | BDRV_BLOCK_ZERO;
    }
    *pnum = MIN(*pnum, fpnum);
    return ret | (fret & BDRV_BLOCK_ZERO);
}

int bdrv_block_status_map(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                          uint64_t *map, BlockDriverState **file)
{
    int64_t len = bdrv_getlength(bs);
    int ret;

    *pnum = 0;
    *map = 0;
    *file = NULL;
    if (len < 0) {
        return len;
    }
    if (offset >= (uint64_t)len) {
        return 0;
    }
    bytes = MIN(bytes, (uint64_t)len - offset);
    if (!bs->drv->block_status) {
        *pnum = bytes;
        return BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED;
    }
    bdrv_request_enter(bs, NULL);
    bdrv_nesting_enter();
    ret = bs->drv->block_status(bs, offset, bytes, pnum, file, map);
    bdrv_nesting_leave();
    bdrv_request_leave(bs);
    if (ret < 0) {
        return ret;
    }
    if (*file) {
        ret |= BDRV_BLOCK_OFFSET_VALID;
    }
    return ret & BDRV_BLOCK_RECURSE ? bdrv_block_status_recurse(bs, ret, pnum, *map, *file)
                                    : ret;
}

int bdrv_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum)
{
    BlockDriverState *file;
    uint64_t map;
    int ret = bdrv_block_status_map(bs, offset, bytes, pnum, &map, &file);

    return ret < 0 ? ret : ret & ~BDRV_BLOCK_OFFSET_VALID;
}

int bdrv_is_allocated_above(BlockDriverState *top, BlockDriverState *base, uint64_t offset,
                            uint64_t *bytes)
{
    for (BlockDriverState *bs = top; bs && bs != base; bs = bs->backing) {
        uint64_t pnum = 0;
        int ret = bdrv_block_status(bs, offset, *bytes, &pnum);

        if (ret < 0) {
            return ret;
        }
        if (ret & BDRV_BLOCK_ALLOCATED) {
            *bytes = pnum;
            return 1;
        }
        if (pnum > 0 && pnum < *bytes) {
            *bytes = pnum;
        }
    }
    return 0;
}

/* 1 if the first *pnum bytes of [offset, offset+bytes) of bs read as zeroes, else 0. */
static int zero_run_above(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum)
{
    int64_t len = bs ? bdrv_getlength(bs) : 0;
    int ret;

    *pnum = bytes;
    if (len < 0) {
        return len;
    }
    if (offset >= (uint64_t)len) {
        return 1; /* past the end of a layer, or no layer: zeroes */
    }
    ret = bdrv_block_status(bs, offset, MIN(bytes, (uint64_t)len - offset), pnum);
    if (ret < 0 || (ret & BDRV_BLOCK_ZERO)) {
        return ret < 0 ? ret : 1;
    }
    if (ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED) || !*pnum) {
        return 0;
    }
    return zero_run_above(bs->backing, offset, *pnum, pnum);
}

bool bdrv_reads_as_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    while (bytes) {
        uint64_t pnum;

        if (zero_run_above(bs, offset, bytes, &pnum) != 1 || !pnum) {
            return false;
        }
        offset += pnum;
        bytes -= pnum;
    }
    return true;
}

bool bdrv_supports_compressed_writes(const BlockDriverState *bs)
{
    return bs->drv && bs->drv->pwritev_compressed && !bs->encrypted;
}

bool bdrv_format_supports_compressed_writes(const char *format_name)
{
    BlockDriver *drv = bdrv_find_format(format_name);

    return drv && drv->pwritev_compressed;
}

int bdrv_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    *bdi = (BlockDriverInfo){0};
    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    return bs->drv->get_info ? bs->drv->get_info(bs, bdi) : 0;
}
