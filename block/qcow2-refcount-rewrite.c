/*
 * A whole new refcount structure for a qcow2 image, from counts in memory: used by amend's
 * refcount_bits (the counts read at the old width, written at the new one, as qemu-img 7.2
 * does) and by check's repair when the structure itself is broken (the counts the check
 * computed from the references: QEMU's "Rebuilding refcount structure"). The new table and
 * blocks are written past the end of the file and flushed, then one write of the header's
 * first sector switches the table's location and the refcount order. The old table and
 * blocks are not counted in the new structure: they are free space from then on. A crash
 * before the switch leaves the old structure, after it the new one.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "block/qcow2.h"

#define OLD_STRUCTURE (QCOW2_OL_REFCOUNT_TABLE | QCOW2_OL_REFCOUNT_BLOCK)

/* The new structure: a table of tc clusters at cluster t0, then nb blocks after it. */
typedef struct RefLayout {
    int order;
    int block_bits; /* log2 of entries per new block */
    uint64_t t0, tc, nb;
} RefLayout;

/*
 * Every refcount, at the width the image has, into counts[0, *n): the clusters of the file
 * and any allocated since it was opened. A refcount past them counts nothing (a leak, or a
 * hostile table that would have the array take the memory of the whole table's reach).
 */
static int read_counts(BlockDriverState *bs, uint64_t **counts, uint64_t *n)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per = 1ULL << s->refblock_bits;
    int64_t len = bdrv_getlength(bs->file);

    if (len < 0) {
        return len;
    }
    *n = MAX(s->eof_cluster, ((uint64_t)len + s->cluster_size - 1) >> s->cluster_bits);
    *n = MIN(*n, (uint64_t)s->reftable_used << s->refblock_bits);
    if (*n > QCOW2_MAX_COUNTED_CLUSTERS) {
        return -EFBIG;
    }
    *counts = g_try_new0(uint64_t, MAX(*n, 1));
    if (!*counts) {
        return -ENOMEM;
    }
    for (uint64_t i = 0; i < s->reftable_used && i * per < *n; i++) {
        uint64_t off = s->reftable[i] & REFT_OFFSET_MASK;
        void *block;
        int ret;

        if (!off) {
            continue;
        }
        if (off & (s->cluster_size - 1)) {
            qcow2_signal_corruption(
                bs, -1, -1, "Refblock offset %#" PRIx64 " unaligned (reftable index: %#" PRIx64 ")",
                off, i);
            return -EIO;
        }
        if ((ret = qcow2_cache_get(s->refblock_cache, off, &block, true)) < 0) {
            return ret;
        }
        for (uint64_t j = 0; j < per && i * per + j < *n; j++) {
            (*counts)[i * per + j] = qcow2_get_refcount_ro(block, j, s->refcount_order);
        }
    }
    return 0;
}

void qcow2_refcounts_drop_structure(BDRVQcow2State *s, uint64_t *counts, uint64_t n)
{
    uint64_t t = s->reftable_offset >> s->cluster_bits;
    uint64_t tc = ((uint64_t)s->reftable_size * 8 + s->cluster_size - 1) >> s->cluster_bits;

    for (uint64_t c = t; c < t + tc && c < n; c++) {
        counts[c] -= counts[c] > 0;
    }
    for (uint32_t i = 0; i < s->reftable_size; i++) {
        uint64_t off = s->reftable[i];
        uint64_t c = off >> s->cluster_bits;
        if (off && !(off & REFT_RESERVED_MASK) && !(off & (s->cluster_size - 1)) && c < n) {
            counts[c] -= counts[c] > 0;
        }
    }
}

/* Where the new structure goes: past the counted clusters (with the metadata flushed, every
 * cluster in use is counted) and the end of the file, its blocks covering themselves and
 * the table too. */
static void plan_layout(BDRVQcow2State *s, RefLayout *l, uint64_t used, uint64_t file_clusters)
{
    uint64_t per = 1ULL << l->block_bits, nb = 0, tc = 0;

    l->t0 = MAX(used, file_clusters);
    do {
        l->nb = nb;
        l->tc = tc;
        nb = (l->t0 + tc + nb + per - 1) / per;
        tc = MAX((nb * 8 + s->cluster_size - 1) >> s->cluster_bits, 1);
    } while (nb != l->nb || tc != l->tc);
}

/* New block b (covering clusters [b * per, (b + 1) * per)) in block. */
static void fill_block(const RefLayout *l, uint64_t b, const uint64_t *counts, uint64_t n,
                       void *block)
{
    uint64_t per = 1ULL << l->block_bits;

    for (uint64_t j = 0; j < per; j++) {
        uint64_t c = b * per + j;
        uint64_t rc = c < n ? counts[c] : 0;
        if (c >= l->t0 && c < l->t0 + l->tc + l->nb) {
            rc = 1; /* the new structure's own clusters */
        }
        qcow2_set_refcount_ro(block, j, l->order, rc);
    }
}

/* The new blocks (a few at a time) and table on disk, flushed; the table in host order in
 * *table. They lie past the end of the file, where only a broken entry of the structure they
 * replace can point: checked against every other kind of metadata. */
static int write_structure(BlockDriverState *bs, const RefLayout *l, const uint64_t *counts,
                           uint64_t n, uint64_t **table)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t entries = (l->tc << s->cluster_bits) / 8, chunk = MAX((1 << 20) >> s->cluster_bits, 1);
    g_autofree uint8_t *blocks = g_malloc0(chunk << s->cluster_bits);
    g_autofree uint64_t *be = g_new0(uint64_t, entries);
    int ret = 0;

    for (uint64_t b = 0; b < l->nb && ret >= 0; b += chunk) {
        uint64_t k = MIN(chunk, l->nb - b);
        for (uint64_t i = 0; i < k; i++) {
            fill_block(l, b + i, counts, n, blocks + (i << s->cluster_bits));
        }
        ret = qcow2_pwrite_checked(bs, OLD_STRUCTURE, (l->t0 + l->tc + b) << s->cluster_bits,
                                   blocks, k << s->cluster_bits, false);
    }
    *table = g_new0(uint64_t, entries);
    for (uint64_t i = 0; i < l->nb; i++) {
        (*table)[i] = (l->t0 + l->tc + i) << s->cluster_bits;
        be[i] = GUINT64_TO_BE((*table)[i]);
    }
    ret = ret < 0 ? ret
                  : qcow2_pwrite_checked(bs, OLD_STRUCTURE, l->t0 << s->cluster_bits, be,
                                         entries * 8, false);
    return ret < 0 ? ret : bdrv_flush(bs->file);
}

/* Memory follows the header to the new structure. */
static void switch_to_new(BDRVQcow2State *s, const RefLayout *l, uint64_t *table)
{
    for (uint32_t i = 0; i < s->reftable_size; i++) {
        if (s->reftable[i] && !(s->reftable[i] & (s->cluster_size - 1))) {
            qcow2_cache_discard(s->refblock_cache, s->reftable[i] & REFT_OFFSET_MASK);
        }
    }
    g_free(s->reftable);
    s->refcount_order = s->h.refcount_order = l->order;
    s->refblock_bits = l->block_bits;
    s->reftable = table;
    s->reftable_size = (l->tc << s->cluster_bits) / 8;
    qcow2_reftable_count_used(s);
    s->reftable_offset = s->h.refcount_table_offset = l->t0 << s->cluster_bits;
    s->h.refcount_table_clusters = l->tc;
    s->reftable_dirty = false;
    s->eof_cluster = MAX(s->eof_cluster, l->t0 + l->tc + l->nb);
    s->free_cluster_index = 0;
}

int qcow2_rewrite_refcounts(BlockDriverState *bs, int order, const uint64_t *counts, uint64_t n)
{
    BDRVQcow2State *s = bs->opaque;
    RefLayout l = {.order = order, .block_bits = s->cluster_bits + 3 - order};
    int64_t len = bdrv_getlength(bs->file);
    uint64_t *table = NULL, used = n;
    int ret;

    if (len < 0) {
        return len;
    }
    while (used && !counts[used - 1]) {
        used--;
    }
    plan_layout(s, &l, used, ((uint64_t)len + s->cluster_size - 1) >> s->cluster_bits);
    if (l.t0 > QCOW2_MAX_COUNTED_CLUSTERS) {
        return -EFBIG; /* a file sparse far out (or a table as large as the format allows) */
    }
    if ((ret = write_structure(bs, &l, counts, n, &table)) < 0 ||
        (ret = qcow2_write_refcount_layout(bs, l.t0 << s->cluster_bits, l.tc, order)) < 0 ||
        (ret = bdrv_flush(bs->file)) < 0) {
        g_free(table);
        return ret;
    }
    switch_to_new(s, &l, table);
    return 0;
}

int qcow2_change_refcount_order(BlockDriverState *bs, int order, bool dry_run, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t max = order == 6 ? UINT64_MAX : (1ULL << (1 << order)) - 1, n = 0, c = 0;
    g_autofree uint64_t *counts = NULL;
    int ret = qcow2_flush_metadata(bs);

    ret = ret < 0 ? ret : read_counts(bs, &counts, &n);
    if (ret >= 0) {
        qcow2_refcounts_drop_structure(s, counts, n);
        while (c < n && counts[c] <= max) {
            c++;
        }
    }
    if (ret >= 0 && c < n) {
        error_setg(errp,
                   "Cannot decrease refcount entry width to %d bits: Cluster at offset "
                   "%#" PRIx64 " has a refcount of %" PRIu64,
                   1 << order, c << s->cluster_bits, counts[c]);
        return -ERANGE;
    }
    if (ret >= 0 && !dry_run) {
        ret = qcow2_rewrite_refcounts(bs, order, counts, n);
        ret = ret < 0 ? ret : qcow2_flush_metadata(bs);
        ret = ret < 0 ? ret : bdrv_flush(bs->file);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to change the refcount width");
    }
    return ret;
}
