/*
 * Copy offload: a range of one node copied into another by the host kernel
 * (copy_file_range), where both nodes keep their bytes unchanged in a file (raw over file).
 * The kernel moves the data from one page cache to the other once, instead of a read into a
 * buffer and a write out of it; a mirror or backup copy then takes about half the CPU time,
 * which is what a job shares with a guest writing at full speed. Only writes that need
 * nothing of the core beyond the file's own write qualify (no write notifiers, zero
 * detection, writethrough, probed-raw guard, copy-on-read ordering, O_DIRECT alignment); the
 * rest, and whatever the kernel's copy does not do (an error, the source's end, a file
 * system without it), is left to the caller's read and write, which then also tells a read
 * error from a write error. Not the request path (io.c).
 */
#include <errno.h>
#include <unistd.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/write-notify.h"

/* The kernel has no copy_file_range (ENOSYS): not tried again. */
static int copy_range_missing;

/* Whether [offset, offset+bytes) of bs may be read (or written) by the kernel's copy. */
static bool copy_range_node_ok(BlockDriverState *bs, uint64_t offset, bool is_write)
{
    if (!bs->drv || bs->request_alignment > 1 || (bs->open_flags & BDRV_O_NOCACHE)) {
        return false;
    }
    if (!is_write) {
        return !bdrv_cor_enabled(bs);
    }
    return !bs->read_only && !bdrv_write_needs_core(bs, offset, 0) && !bdrv_cor_ordered(bs) &&
           !bdrv_has_write_notifiers(bs);
}

/* The node under bs (bs itself, or a file below pass-through formats) whose file descriptor
 * holds bs's bytes at the same offsets, if every node on the way allows the copy. */
static BlockDriverState *copy_range_leaf(BlockDriverState *bs, uint64_t offset, bool is_write)
{
    for (;;) {
        if (!copy_range_node_ok(bs, offset, is_write)) {
            return NULL;
        }
        if (bs->drv->copy_range_fd) {
            return bs->drv->copy_range_fd(bs) >= 0 ? bs : NULL;
        }
        if (!bs->drv->copy_range_passthrough || !bs->file) {
            return NULL;
        }
        bs = bs->file;
    }
}

/* copy_file_range until done, an error or the source's end; the bytes copied. */
static uint64_t copy_range_fds(int in, uint64_t in_offset, int out, uint64_t out_offset,
                               uint64_t bytes)
{
    uint64_t done = 0;

    while (done < bytes) {
        loff_t in_pos = in_offset + done, out_pos = out_offset + done;
        ssize_t n = copy_file_range(in, &in_pos, out, &out_pos, MIN(bytes - done, 1u << 30), 0);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == ENOSYS) {
            g_atomic_int_set(&copy_range_missing, 1);
        }
        if (n <= 0) {
            break;
        }
        done += n;
    }
    return done;
}

/* Both nodes counted in flight: check the requests, find the files and copy. */
static uint64_t copy_range_entered(BlockDriverState *src, uint64_t src_offset,
                                   BlockDriverState *dst, uint64_t dst_offset, uint64_t bytes)
{
    BlockDriverState *in, *out;
    uint64_t done;

    if (bdrv_check_request(src, BLOCK_REQ_READ, src_offset, bytes) ||
        bdrv_check_request(dst, BLOCK_REQ_WRITE, dst_offset, bytes)) {
        return 0;
    }
    in = copy_range_leaf(src, src_offset, false);
    out = in ? copy_range_leaf(dst, dst_offset, true) : NULL;
    if (!out) {
        return 0;
    }
    bdrv_request_enter(in, NULL); /* nested: never held */
    bdrv_request_enter(out, NULL);
    done = copy_range_fds(in->drv->copy_range_fd(in), src_offset, out->drv->copy_range_fd(out),
                          dst_offset, bytes);
    bdrv_request_leave(out);
    bdrv_request_leave(in);
    return done;
}

uint64_t bdrv_copy_range(BlockDriverState *src, uint64_t src_offset, BlockDriverState *dst,
                         uint64_t dst_offset, uint64_t bytes)
{
    uint64_t done = 0;

    if (bytes == 0 || g_atomic_int_get(&copy_range_missing)) {
        return 0;
    }
    bdrv_request_enter(src, NULL);
    /* Never wait for a drained dst while holding src in flight: its drainer may wait for us. */
    if (bdrv_request_try_enter(dst)) {
        bdrv_nesting_enter();
        done = copy_range_entered(src, src_offset, dst, dst_offset, bytes);
        bdrv_nesting_leave();
        bdrv_request_leave(dst);
    }
    bdrv_request_leave(src);
    return done;
}
