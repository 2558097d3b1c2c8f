/*
 * qcow2: giving guest clusters back in bulk — shrinking the virtual disk (qemu-img resize
 * --shrink) and emptying an overlay whose data was committed to its backing file. Both
 * unmap every cluster from a guest offset to the end of the L1 range: a partly covered L2
 * table has its tail entries cleared (copied first if a snapshot shares it); whole L2
 * tables are cut from the L1 table, which is written before any reference is dropped, so
 * a crash leaks clusters at worst. Clusters are counted per L1 path (snapshots keep their
 * own references). Growing is qcow2.c's truncate.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "block/qcow2.h"

/* Clear the L2 entries of guest clusters [first, end of their L2 table). */
static int unmap_l2_tail(BlockDriverState *bs, uint64_t offset)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l1_idx = offset >> (s->cluster_bits + s->l2_bits), *l2, n;
    g_autofree uint64_t *old = NULL;
    int ret, idx;

    if (l1_idx >= s->l1_size || !(s->l1_table[l1_idx] & L1E_OFFSET_MASK)) {
        return 0;
    }
    ret = qcow2_get_l2_for_write(bs, offset, &l2, &idx);
    if (ret < 0) {
        return ret;
    }
    n = (1ULL << s->l2_bits) - idx;
    old = g_new(uint64_t, n);
    for (uint64_t i = 0; i < n; i++) {
        old[i] = GUINT64_FROM_BE(l2[idx + i]);
        l2[idx + i] = 0;
    }
    qcow2_cache_mark_dirty(s->l2_cache, l2);
    return qcow2_free_entries(bs, old, n);
}

/* Drop one reference to every cluster L2 table l2_off points to, then to the table. */
static int release_l2_table(BlockDriverState *bs, uint64_t l2_off)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t n = 1ULL << s->l2_bits;
    g_autofree uint64_t *t = g_new(uint64_t, n);
    int ret;

    if (l2_off & (s->cluster_size - 1)) {
        qcow2_signal_corruption(bs, -1, -1, "L2 table offset %#" PRIx64 " unaligned", l2_off);
        return -EIO;
    }
    ret = bdrv_pread(bs->file, l2_off, t, s->cluster_size);
    if (ret < 0) {
        return ret;
    }
    for (uint64_t i = 0; i < n; i++) {
        t[i] = GUINT64_FROM_BE(t[i]);
    }
    qcow2_cache_discard(s->l2_cache, l2_off);
    ret = qcow2_free_entries(bs, t, n);
    return ret < 0 ? ret : qcow2_free_clusters(bs, l2_off, s->cluster_size);
}

/* Cut the L2 tables of L1 entries [from, l1_size) and release them once the L1 is written. */
static int cut_l2_tables(BlockDriverState *bs, uint64_t from)
{
    BDRVQcow2State *s = bs->opaque;
    g_autoptr(GArray) cut = g_array_new(false, false, sizeof(uint64_t));
    int ret;

    for (uint64_t i = from; i < s->l1_size; i++) {
        uint64_t off = s->l1_table[i] & L1E_OFFSET_MASK;
        if (off) {
            g_array_append_val(cut, off);
            s->l1_table[i] = 0;
            s->l1_dirty = true;
        }
    }
    if (!cut->len) {
        return 0;
    }
    ret = qcow2_flush_metadata(bs);
    if (ret < 0 || (ret = bdrv_flush(bs->file)) < 0) {
        return ret;
    }
    for (guint i = 0; i < cut->len && ret >= 0; i++) {
        ret = release_l2_table(bs, g_array_index(cut, uint64_t, i));
    }
    return ret;
}

/* Unmap every guest cluster at or after offset (cluster aligned). Lock held. */
static int unmap_from(BlockDriverState *bs, uint64_t offset)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t span = 1ULL << (s->cluster_bits + s->l2_bits);
    int ret = 0;

    qcow2_wait_unlocked_io(bs);
    if ((ret = qcow2_mark_dirty(bs)) < 0) {
        return ret;
    }
    if (offset & (span - 1)) {
        ret = unmap_l2_tail(bs, offset);
        offset = (offset + span - 1) & ~(span - 1);
    }
    if (ret >= 0) {
        qcow2_discard_batch_begin(s);
        ret = cut_l2_tables(bs, offset / span);
        qcow2_discard_batch_end(bs);
    }
    if (ret >= 0) {
        ret = qcow2_flush_metadata(bs);
    }
    return ret < 0 ? ret : bdrv_flush(bs->file);
}

int qcow2_make_empty(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    Qcow2DiscardType why;

    g_mutex_lock(&s->lock);
    why = qcow2_discard_type_set(s, QCOW2_DISCARD_SNAPSHOT); /* as QEMU's make_empty */
    ret = unmap_from(bs, 0);
    qcow2_discard_type_set(s, why);
    g_mutex_unlock(&s->lock);
    return ret;
}

int qcow2_shrink(BlockDriverState *bs, uint64_t size, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2DiscardType why;
    int ret;

    if (size % BDRV_SECTOR_SIZE) {
        error_setg(errp, "The new size must be a multiple of 512");
        return -EINVAL;
    }
    if (!qcow2_can_resize(s, errp)) {
        return -ENOTSUP;
    }
    g_mutex_lock(&s->lock);
    why = qcow2_discard_type_set(s, QCOW2_DISCARD_ALWAYS);
    ret = unmap_from(bs, (size + s->cluster_size - 1) & ~(s->cluster_size - 1));
    qcow2_discard_type_set(s, why);
    if (ret >= 0 && (ret = qcow2_write_size(bs, size)) >= 0 &&
        (ret = bdrv_flush(bs->file)) >= 0) {
        s->h.size = size;
    }
    g_mutex_unlock(&s->lock);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to shrink the image");
    }
    return ret;
}
