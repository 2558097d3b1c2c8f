/*
 * Changing the width of qcow2's refcount entries (amend -o refcount_bits=N, as qemu-img 7.2
 * does): every refcount is read at the old width, a new refcount table and new refcount
 * blocks at the new width are written past the end of the file, the header switches to them
 * in one write of its first sector, and only then are the old table and blocks freed. A
 * refcount the new width cannot hold refuses the change before anything is written. Until
 * the switch the new structures are unreferenced clusters past the end of the old ones; a
 * crash after it leaves the old ones as leaks. Not the option parsing (qcow2-amend.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "block/qcow2.h"

/* The new structures: a table of tc clusters at cluster t0, then nb blocks after it. */
typedef struct RefLayout {
    int order;
    int block_bits; /* log2 of entries per new block */
    uint64_t used;  /* clusters up to the last one with a refcount */
    uint64_t t0, tc, nb;
    uint8_t *blocks; /* the nb new blocks */
} RefLayout;

/* Call fn for every cluster with a non-zero refcount, in offset order; stops at fn's error. */
static int for_each_refcount(BlockDriverState *bs,
                             int (*fn)(uint64_t cluster, uint64_t rc, void *opaque), void *opaque)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per = 1ULL << s->refblock_bits;

    for (uint64_t i = 0; i < s->reftable_used; i++) {
        uint64_t off = s->reftable[i] & REFT_OFFSET_MASK;
        void *block;
        int ret;

        if (!off) {
            continue;
        }
        if (off & (s->cluster_size - 1)) {
            qcow2_signal_corruption(bs, -1, -1, "Refblock offset %#" PRIx64 " unaligned", off);
            return -EIO;
        }
        if ((ret = qcow2_cache_get(s->refblock_cache, off, &block, true)) < 0) {
            return ret;
        }
        for (uint64_t j = 0; j < per; j++) {
            uint64_t rc = qcow2_get_refcount_ro(block, j, s->refcount_order);
            if (rc && (ret = fn(i * per + j, rc, opaque)) < 0) {
                return ret;
            }
        }
    }
    return 0;
}

typedef struct FitCheck {
    RefLayout *l;
    uint64_t max, bad_cluster, bad_rc;
} FitCheck;

static int fits(uint64_t cluster, uint64_t rc, void *opaque)
{
    FitCheck *f = opaque;

    f->l->used = cluster + 1;
    if (rc > f->max) {
        f->bad_cluster = cluster;
        f->bad_rc = rc;
        return -ERANGE;
    }
    return 0;
}

static int set_new(uint64_t cluster, uint64_t rc, void *opaque)
{
    RefLayout *l = opaque;

    qcow2_set_refcount_ro(l->blocks, cluster, l->order, rc);
    return 0;
}

/* Where the new table and blocks go: past the used clusters and the end of the file, the
 * blocks covering themselves and the table too. */
static void plan_layout(BlockDriverState *bs, RefLayout *l, uint64_t file_clusters)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per = 1ULL << l->block_bits, nb = 0, tc = 0;

    l->t0 = MAX(MAX(l->used, s->eof_cluster), file_clusters);
    do {
        l->nb = nb;
        l->tc = tc;
        nb = (l->t0 + tc + nb + per - 1) / per;
        tc = MAX((nb * 8 + s->cluster_size - 1) >> s->cluster_bits, 1);
    } while (nb != l->nb || tc != l->tc);
}

/* The new blocks and table in memory, then on disk and flushed. */
static int write_new(BlockDriverState *bs, RefLayout *l, uint64_t **table)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t entries = (l->tc << s->cluster_bits) / 8;
    g_autofree uint64_t *be = g_new0(uint64_t, entries);
    int ret;

    l->blocks = g_malloc0(l->nb << s->cluster_bits);
    if ((ret = for_each_refcount(bs, set_new, l)) < 0) {
        return ret;
    }
    *table = g_new0(uint64_t, entries);
    for (uint64_t c = l->t0; c < l->t0 + l->tc + l->nb; c++) {
        qcow2_set_refcount_ro(l->blocks, c, l->order, 1);
    }
    for (uint64_t i = 0; i < l->nb; i++) {
        (*table)[i] = (l->t0 + l->tc + i) << s->cluster_bits;
        be[i] = GUINT64_TO_BE((*table)[i]);
    }
    ret = qcow2_pwrite_checked(bs, 0, (l->t0 + l->tc) << s->cluster_bits, l->blocks,
                               l->nb << s->cluster_bits, false);
    ret = ret < 0 ? ret
                  : qcow2_pwrite_checked(bs, 0, l->t0 << s->cluster_bits, be, entries * 8, false);
    return ret < 0 ? ret : bdrv_flush(bs->file);
}

/* Memory follows the header to the new structures; the old ones are freed through them. */
static int switch_to_new(BlockDriverState *bs, RefLayout *l, uint64_t *table)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint64_t *old = s->reftable;
    uint64_t old_used = s->reftable_used, old_off = s->reftable_offset;
    uint64_t old_bytes = (uint64_t)s->h.refcount_table_clusters << s->cluster_bits;
    int ret = 0;

    for (uint64_t i = 0; i < old_used; i++) {
        qcow2_cache_discard(s->refblock_cache, old[i] & REFT_OFFSET_MASK);
    }
    s->refcount_order = s->h.refcount_order = l->order;
    s->refblock_bits = l->block_bits;
    s->reftable = table;
    s->reftable_size = (l->tc << s->cluster_bits) / 8;
    qcow2_reftable_count_used(s);
    s->reftable_offset = s->h.refcount_table_offset = l->t0 << s->cluster_bits;
    s->h.refcount_table_clusters = l->tc;
    s->eof_cluster = MAX(s->eof_cluster, l->t0 + l->tc + l->nb);
    s->free_cluster_index = 0;
    for (uint64_t i = 0; i < old_used && ret >= 0; i++) {
        uint64_t off = old[i] & REFT_OFFSET_MASK;
        ret = off ? qcow2_free_clusters(bs, off, s->cluster_size) : 0;
    }
    return ret < 0 ? ret : qcow2_free_clusters(bs, old_off, old_bytes);
}

/* With every refcount at the old width read and fitting the new one: the change. */
static int change_order(BlockDriverState *bs, RefLayout *l)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t len = bdrv_getlength(bs->file);
    uint64_t *table = NULL;
    int ret;

    if (len < 0) {
        return len;
    }
    plan_layout(bs, l, ((uint64_t)len + s->cluster_size - 1) >> s->cluster_bits);
    if ((ret = write_new(bs, l, &table)) < 0 ||
        (ret = qcow2_write_refcount_layout(bs, l->t0 << s->cluster_bits, l->tc, l->order)) < 0 ||
        (ret = bdrv_flush(bs->file)) < 0) {
        g_free(table);
        return ret;
    }
    ret = switch_to_new(bs, l, table);
    ret = ret < 0 ? ret : qcow2_flush_metadata(bs);
    return ret < 0 ? ret : bdrv_flush(bs->file);
}

int qcow2_change_refcount_order(BlockDriverState *bs, int order, bool dry_run, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    RefLayout l = {.order = order, .block_bits = s->cluster_bits + 3 - order};
    FitCheck f = {.l = &l, .max = order == 6 ? UINT64_MAX : (1ULL << (1 << order)) - 1};
    int ret = qcow2_flush_metadata(bs);

    ret = ret < 0 ? ret : for_each_refcount(bs, fits, &f);
    if (ret == -ERANGE) {
        error_setg(errp,
                   "Cannot decrease refcount entry width to %d bits: Cluster at offset "
                   "%#" PRIx64 " has a refcount of %" PRIu64,
                   1 << order, f.bad_cluster << s->cluster_bits, f.bad_rc);
        return ret;
    }
    if (ret >= 0 && !dry_run) {
        ret = change_order(bs, &l);
    }
    g_free(l.blocks);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to change the refcount width");
    }
    return ret;
}
