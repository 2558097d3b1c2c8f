/*
 * QEMU's metadata overlap check for qcow2: before guest data or metadata is written to a
 * host cluster, make sure the cluster holds no metadata of a kind overlap-check protects (the
 * header, the active L1 and L2 tables, the refcount table and blocks, the snapshot table, the
 * snapshots' L1 and L2 tables), other than the kind being written. A hit means the image
 * lies about its clusters; the image is marked corrupt rather than written. Not the option
 * parsing (qcow2-options.c).
 */
#include <errno.h>
#include "block/qcow2.h"

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

/* Whether a table entry (masked to its cluster) lies in the clusters [start, end). */
static bool entries_hit(const uint64_t *t, uint64_t n, uint64_t mask, uint64_t start, uint64_t end)
{
    for (uint64_t i = 0; i < n; i++) {
        uint64_t o = t[i] & mask;
        if (o && o >= start && o < end) {
            return true;
        }
    }
    return false;
}

static bool inactive_l1_hit(BDRVQcow2State *s, uint64_t start, uint64_t end)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (ranges_overlap(start, end - start, s->snapshots[i].l1_offset,
                           (uint64_t)s->snapshots[i].l1_size * 8)) {
            return true;
        }
    }
    return false;
}

/* The snapshots' L2 tables, from their L1 tables in the file (as QEMU, at each check). */
static int inactive_l2_hit(BlockDriverState *bs, uint64_t start, uint64_t end)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;

    for (uint32_t i = 0; i < s->nb_snapshots && ret == 0; i++) {
        g_autofree uint64_t *l1 = NULL;
        uint32_t n = s->snapshots[i].l1_size;

        if (!qcow2_snapshot_l1_ok(s, &s->snapshots[i])) {
            continue; /* a corrupted entry: no table to read (the check reports it) */
        }
        if ((ret = qcow2_load_table(bs, s->snapshots[i].l1_offset, n, &l1)) < 0) {
            return ret;
        }
        ret = entries_hit(l1, n, L1E_OFFSET_MASK, start, end);
    }
    return ret;
}

/* Whether metadata of kind (one QCOW2_OL_* bit) lies in the clusters [start, end). */
static int kind_hit(BlockDriverState *bs, int kind, uint64_t start, uint64_t end)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t len = end - start;

    switch (kind) {
    case QCOW2_OL_MAIN_HEADER:
        return start < s->cluster_size;
    case QCOW2_OL_ACTIVE_L1:
        return ranges_overlap(start, len, s->l1_offset, (uint64_t)s->l1_size * 8);
    case QCOW2_OL_ACTIVE_L2:
        return entries_hit(s->l1_table, s->l1_size, L1E_OFFSET_MASK, start, end);
    case QCOW2_OL_REFCOUNT_TABLE:
        return ranges_overlap(start, len, s->reftable_offset, (uint64_t)s->reftable_size * 8);
    case QCOW2_OL_REFCOUNT_BLOCK:
        return entries_hit(s->reftable, s->reftable_used, REFT_OFFSET_MASK, start, end);
    case QCOW2_OL_SNAPSHOT_TABLE:
        return ranges_overlap(start, len, s->h.snapshots_offset, s->snapshots_size);
    case QCOW2_OL_INACTIVE_L1:
        return inactive_l1_hit(s, start, end);
    default:
        return inactive_l2_hit(bs, start, end);
    }
}

int qcow2_check_overlap(BlockDriverState *bs, int ign, uint64_t off, uint64_t len)
{
    static const char *const names[QCOW2_OL_KINDS] = {
        "qcow2_header",   "active L1 table", "active L2 table",   "refcount table",
        "refcount block", "snapshot table",  "inactive L1 table", "inactive L2 table",
    };
    BDRVQcow2State *s = bs->opaque;
    uint64_t start = off & ~(s->cluster_size - 1);
    uint64_t end = (off + len + s->cluster_size - 1) & ~(s->cluster_size - 1);

    for (int k = 0; k < QCOW2_OL_KINDS && len; k++) {
        int kind = 1 << k;
        int hit = (s->overlap_check & ~ign & kind) ? kind_hit(bs, kind, start, end) : 0;

        if (hit < 0) {
            return hit;
        }
        if (hit) {
            qcow2_signal_corruption(
                bs, off, len, "Preventing invalid write on metadata (overlaps with %s)", names[k]);
            return -EIO;
        }
    }
    return 0;
}

int qcow2_pwrite_checked(BlockDriverState *bs, int ign, uint64_t off, const void *buf, uint64_t len,
                         bool fua)
{
    int ret = qcow2_check_overlap(bs, ign, off, len);

    if (ret < 0) {
        return ret;
    }
    return fua ? bdrv_pwrite_fua(bs->file, off, buf, len) : bdrv_pwrite(bs->file, off, buf, len);
}
