/*
 * qcow2 preallocation (qemu-img's create -o preallocation= and resize --preallocation=):
 * every guest cluster of a range that has no host cluster gets one, and its L2 entry points
 * there. The new clusters read as zeroes whatever the mode: those past the end of the file
 * come from growing it (sparse for metadata, reserved for falloc, zeroes written for full);
 * a cluster the allocator reuses inside the file is zeroed first, since it may still hold
 * an old table. Clusters that already map something (data, compressed, preallocated zero)
 * keep it.
 */
#include <errno.h>
#include "block/qcow2.h"

/* An entry that maps no host cluster of its own: unallocated or a plain zero cluster. */
static bool needs_cluster(BDRVQcow2State *s, uint64_t e)
{
    Qcow2ClusterType t = qcow2_entry_type(s, e);
    return t == QCOW2_CLUSTER_UNALLOCATED || t == QCOW2_CLUSTER_ZERO_PLAIN;
}

/* Make [host, host+len) of the file read as zeroes, with its space taken as mode says. */
static int take_host_range(BlockDriverState *bs, uint64_t host, uint64_t len, PreallocMode mode,
                           Error **errp)
{
    int64_t eof = bdrv_getlength(bs->file);
    uint64_t end = host + len;
    int ret = 0;

    if (eof < 0) {
        error_setg_errno(errp, -eof, "Could not get the file size");
        return eof;
    }
    if (host < (uint64_t)eof) {
        uint64_t inside = MIN(end, (uint64_t)eof) - host;
        ret = bdrv_pwrite_zeroes(bs->file, host, inside,
                                 mode == PREALLOC_MODE_METADATA ? BDRV_REQ_MAY_UNMAP : 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not zero a reused cluster");
            return ret;
        }
    }
    if (end > (uint64_t)eof) {
        ret = bdrv_truncate_prealloc(
            bs->file, end, mode == PREALLOC_MODE_METADATA ? PREALLOC_MODE_OFF : mode, errp);
        if (ret < 0) {
            error_prepend(errp, "Failed to resize underlying file: ");
        }
    }
    return ret;
}

/* Give the run of n entries from l2[idx] (all needing one) contiguous host clusters. */
static int map_run(BlockDriverState *bs, uint64_t *l2, int idx, uint64_t n, PreallocMode mode,
                   Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t host = qcow2_alloc_clusters(bs, n);
    int ret;

    if (host < 0) {
        error_setg_errno(errp, -host, "Could not allocate clusters");
        return host;
    }
    /* the space first: clusters the file could not hold are never linked */
    ret = take_host_range(bs, host, n << s->cluster_bits, mode, errp);
    if (ret < 0) {
        qcow2_free_clusters(bs, host, n << s->cluster_bits);
        return ret;
    }
    for (uint64_t i = 0; i < n; i++) {
        l2[idx + i] = GUINT64_TO_BE((host + (i << s->cluster_bits)) | QCOW_OFLAG_COPIED);
    }
    qcow2_cache_mark_dirty(s->l2_cache, l2);
    return 0;
}

/*
 * The first cluster of the range when the range starts inside it: left alone when its
 * head may show the backing file (a new zero cluster would hide that data).
 */
static uint64_t first_cluster(BlockDriverState *bs, uint64_t from)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t start = from & ~(s->cluster_size - 1), l2e, run;

    if (start == from || !bs->backing ||
        qcow2_get_mapping(bs, start, s->cluster_size, &l2e, &run) < 0 ||
        qcow2_entry_type(s, l2e) != QCOW2_CLUSTER_UNALLOCATED) {
        return start;
    }
    return start + s->cluster_size;
}

int qcow2_preallocate(BlockDriverState *bs, uint64_t from, uint64_t to, PreallocMode mode,
                      Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t off = first_cluster(bs, from);
    int ret = 0;

    while (off < to && ret >= 0) {
        uint64_t *l2, left = ((to - off) + s->cluster_size - 1) >> s->cluster_bits, n = 0;
        int idx;

        ret = qcow2_get_l2_for_write(bs, off, &l2, &idx);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not allocate an L2 table");
            break;
        }
        left = MIN(left, (1ULL << s->l2_bits) - idx);
        if (!needs_cluster(s, GUINT64_FROM_BE(l2[idx]))) {
            off += s->cluster_size;
            continue;
        }
        while (n < left && needs_cluster(s, GUINT64_FROM_BE(l2[idx + n]))) {
            n++;
        }
        ret = map_run(bs, l2, idx, n, mode, errp);
        off += n << s->cluster_bits;
    }
    s->prealloc_checked = false; /* block status must look at the file again */
    return ret;
}
