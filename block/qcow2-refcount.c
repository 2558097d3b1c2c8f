/*
 * qcow2 reference counts and cluster allocation: reading and updating refcount entries of
 * any width (refcount_order 0..6), creating refcount blocks as the image grows (placed in
 * the range they describe, so they count themselves), growing the refcount table (a new
 * table plus the blocks that cover it, written before the header switches to it), finding
 * free clusters, and freeing clusters only after the metadata that referenced them is
 * durably gone. The file discards of freed clusters are batched and merged into runs
 * (QEMU does the same): one synchronous discard per cluster made deleting a snapshot slow.
 * Callers hold the metadata lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "block/qcow2.h"

uint64_t qcow2_refcount_max(BDRVQcow2State *s)
{
    int bits = 1 << s->refcount_order;

    return bits == 64 ? UINT64_MAX : (1ULL << bits) - 1;
}

uint64_t qcow2_get_refcount_ro(const void *block, uint64_t index, int order)
{
    const uint8_t *b = block;
    int bits = 1 << order;
    uint64_t v = 0;

    if (bits < 8) {
        return (b[index * bits / 8] >> (index * bits % 8)) & ((1 << bits) - 1);
    }
    for (int i = 0; i < bits / 8; i++) {
        v = (v << 8) | b[index * (bits / 8) + i];
    }
    return v;
}

void qcow2_set_refcount_ro(void *block, uint64_t index, int order, uint64_t value)
{
    uint8_t *b = block;
    int bits = 1 << order;

    if (bits < 8) {
        int shift = index * bits % 8;
        uint8_t mask = ((1 << bits) - 1) << shift;
        b[index * bits / 8] = (b[index * bits / 8] & ~mask) | ((value << shift) & mask);
        return;
    }
    for (int i = bits / 8 - 1; i >= 0; i--) {
        b[index * (bits / 8) + i] = value & 0xff;
        value >>= 8;
    }
}

static uint64_t refblock_offset(BDRVQcow2State *s, uint64_t cluster)
{
    uint64_t idx = cluster >> s->refblock_bits;

    return idx < s->reftable_size ? s->reftable[idx] & REFT_OFFSET_MASK : 0;
}

int qcow2_get_refcount(BlockDriverState *bs, uint64_t cluster, uint64_t *refcount)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t rb = refblock_offset(s, cluster);
    void *block;
    int ret;

    *refcount = 0;
    if (!rb) {
        return 0;
    }
    if (rb & (s->cluster_size - 1)) {
        qcow2_signal_corruption(bs, -1, -1,
                                "Refblock offset %#" PRIx64 " unaligned (reftable index: %#" PRIx64
                                ")", rb, cluster >> s->refblock_bits);
        return -EIO;
    }
    ret = qcow2_cache_get(s->refblock_cache, rb, &block, true);
    if (ret < 0) {
        return ret;
    }
    *refcount = qcow2_get_refcount_ro(block, cluster & ((1ULL << s->refblock_bits) - 1),
                                      s->refcount_order);
    return 0;
}

int qcow2_refcount_set_direct(BlockDriverState *bs, uint64_t cluster, uint64_t value)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t rb = refblock_offset(s, cluster);
    void *block;
    int ret;

    if (!rb) {
        qcow2_signal_corruption(bs, -1, -1, "Refcount block for cluster %#" PRIx64 " missing",
                                cluster << s->cluster_bits);
        return -EIO;
    }
    ret = qcow2_cache_get(s->refblock_cache, rb, &block, true);
    if (ret < 0) {
        return ret;
    }
    qcow2_set_refcount_ro(block, cluster & ((1ULL << s->refblock_bits) - 1), s->refcount_order,
                          value);
    qcow2_cache_mark_dirty(s->refblock_cache, block);
    return 0;
}

static gint discard_cmp(gconstpointer a, gconstpointer b)
{
    const Qcow2Discard *x = a, *y = b;

    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Send the queued discards, adjacent ones merged. The clusters are free: no metadata on
 * disk points to them any more (frees follow the durable unlinking). */
static void process_discards(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    GArray *q = s->discards;
    Qcow2Discard cur = {0, 0};

    if (!q || !q->len) {
        return;
    }
    g_array_sort(q, discard_cmp);
    for (guint i = 0; i < q->len; i++) {
        Qcow2Discard *d = &g_array_index(q, Qcow2Discard, i);
        if (cur.bytes && d->offset <= cur.offset + cur.bytes) {
            cur.bytes = MAX(cur.bytes, d->offset + d->bytes - cur.offset);
            continue;
        }
        if (cur.bytes) {
            bdrv_pdiscard(bs->file, cur.offset, cur.bytes);
        }
        cur = *d;
    }
    bdrv_pdiscard(bs->file, cur.offset, cur.bytes);
    g_array_set_size(q, 0);
}

static void queue_discard(BlockDriverState *bs, uint64_t cluster)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2Discard d = {cluster << s->cluster_bits, s->cluster_size}, *last = NULL;

    if (!s->pass_discard[s->discard_type]) {
        return; /* pass-discard-*: the cluster is free, the file keeps its blocks */
    }
    if (!s->discard_batch) {
        bdrv_pdiscard(bs->file, d.offset, d.bytes);
        return;
    }
    if (!s->discards) {
        s->discards = g_array_new(false, false, sizeof(Qcow2Discard));
    }
    if (s->discards->len) {
        last = &g_array_index(s->discards, Qcow2Discard, s->discards->len - 1);
    }
    if (last && last->offset + last->bytes == d.offset) {
        last->bytes += d.bytes;
    } else {
        g_array_append_val(s->discards, d);
    }
}

void qcow2_discard_batch_begin(BDRVQcow2State *s)
{
    s->discard_batch++;
}

void qcow2_discard_batch_end(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    if (--s->discard_batch == 0) {
        process_discards(bs);
    }
}

int qcow2_update_refcount(BlockDriverState *bs, uint64_t cluster, int64_t delta)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t rc;
    int ret = qcow2_get_refcount(bs, cluster, &rc);

    if (ret < 0) {
        return ret;
    }
    if (rc == 0 && delta > 0) {
        process_discards(bs); /* the cluster may be queued: discard before reuse */
    }
    if (delta < 0 && rc < (uint64_t)-delta) {
        qcow2_signal_corruption(bs, -1, -1,
                                "Refcount of cluster %#" PRIx64 " would become negative",
                                cluster << s->cluster_bits);
        return -EIO;
    }
    if (delta > 0 && qcow2_refcount_max(s) - rc < (uint64_t)delta) {
        return -ERANGE;
    }
    ret = qcow2_refcount_set_direct(bs, cluster, rc + delta);
    if (ret < 0 || rc + delta != 0) {
        return ret;
    }
    qcow2_cache_discard(s->l2_cache, cluster << s->cluster_bits);
    qcow2_cache_discard(s->refblock_cache, cluster << s->cluster_bits);
    s->free_cluster_index = MIN(s->free_cluster_index, cluster);
    if (s->free_byte_offset >> s->cluster_bits == cluster) {
        s->free_byte_offset = 0; /* no more compressed data into a cluster that is free */
    }
    s->dbuf_entry = 0; /* a freed compressed cluster's descriptor may come back */
    queue_discard(bs, cluster);
    return 0;
}

void qcow2_reftable_count_used(BDRVQcow2State *s)
{
    s->reftable_used = s->reftable_size;
    while (s->reftable_used && !s->reftable[s->reftable_used - 1]) {
        s->reftable_used--;
    }
}

/* The entry as memory has it; if that fails, the whole table is written again before any
 * other metadata (qcow2_sync_tables), since the block is in use from now on. */
static int write_reftable_entry(BlockDriverState *bs, uint64_t idx)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t be = GUINT64_TO_BE(s->reftable[idx]);
    int ret;

    s->reftable_used = MAX(s->reftable_used, idx + 1);
    ret = qcow2_pwrite_checked(bs, QCOW2_OL_REFCOUNT_TABLE, s->reftable_offset + idx * 8, &be, 8,
                               false);

    if (ret < 0) {
        s->reftable_dirty = true;
    }
    return ret;
}

/* A new refcount block at cluster c, inside the range it describes: it counts itself. */
static int create_refblock(BlockDriverState *bs, uint64_t c)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t idx = c >> s->refblock_bits;
    g_autofree void *block = g_malloc0(s->cluster_size);
    int ret;

    qcow2_set_refcount_ro(block, c & ((1ULL << s->refblock_bits) - 1), s->refcount_order, 1);
    qcow2_cache_discard(s->refblock_cache, c << s->cluster_bits);
    qcow2_cache_discard(s->l2_cache, c << s->cluster_bits);
    ret = qcow2_pwrite_checked(bs, 0, c << s->cluster_bits, block, s->cluster_size, true);
    if (ret < 0) {
        return ret;
    }
    s->reftable[idx] = c << s->cluster_bits;
    return write_reftable_entry(bs, idx);
}

/* Blocks a new table at cluster t0 of tc clusters needs, placed right after it. */
static uint64_t grow_count_blocks(BDRVQcow2State *s, uint64_t t0, uint64_t tc, uint64_t *first)
{
    uint64_t nb = 0;

    for (;;) {
        uint64_t lo = t0 >> s->refblock_bits, hi = (t0 + tc + nb - 1) >> s->refblock_bits;
        uint64_t need = 0;
        for (uint64_t i = lo; i <= hi; i++) {
            need += !(i < s->reftable_size && s->reftable[i]);
        }
        if (need <= nb) {
            *first = lo;
            return nb;
        }
        nb = need;
    }
}

/* Replace the refcount table by one with at least min_entries entries, at the end of file. */
static int grow_reftable(BlockDriverState *bs, uint64_t min_entries)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per_cluster = s->cluster_size / 8, tc, nb, first, t0, old_off = s->reftable_offset;
    uint64_t old_clusters =
        ((uint64_t)s->reftable_size * 8 + s->cluster_size - 1) >> s->cluster_bits;
    int64_t len = bdrv_getlength(bs->file);
    g_autofree uint64_t *table = NULL;
    g_autofree uint8_t *blocks = NULL;
    uint64_t entries, b = 0;
    int ret;

    if (len < 0) {
        return len;
    }
    t0 = MAX((uint64_t)(len + s->cluster_size - 1) >> s->cluster_bits, s->eof_cluster);
    tc = MAX(old_clusters * 2, (min_entries + per_cluster - 1) / per_cluster);
    for (;;) {
        nb = grow_count_blocks(s, t0, tc, &first);
        if (((t0 + tc + nb) >> s->refblock_bits) < tc * per_cluster) {
            break;
        }
        tc++;
    }
    if (tc * s->cluster_size > QCOW2_MAX_REFTABLE_BYTES) {
        return -EFBIG;
    }
    entries = tc * per_cluster;
    table = g_new0(uint64_t, entries);
    memcpy(table, s->reftable, (uint64_t)s->reftable_size * 8);
    blocks = g_malloc0(MAX(nb, 1) * s->cluster_size);
    for (uint64_t i = first; b < nb; i++) {
        if (i < s->reftable_size && s->reftable[i]) {
            continue;
        }
        table[i] = (t0 + tc + b) << s->cluster_bits;
        b++;
    }
    for (uint64_t c = t0; c < t0 + tc + nb; c++) {
        uint64_t i = c >> s->refblock_bits;
        uint64_t blk_off = table[i] >> s->cluster_bits;
        if (i < s->reftable_size && s->reftable[i]) {
            ret = qcow2_update_refcount(bs, c, 1);
            if (ret < 0) {
                return ret;
            }
            continue;
        }
        qcow2_set_refcount_ro(blocks + (blk_off - t0 - tc) * s->cluster_size,
                              c & ((1ULL << s->refblock_bits) - 1), s->refcount_order, 1);
    }
    ret = qcow2_flush_refcounts(bs);
    if (ret < 0 ||
        (nb && (ret = qcow2_pwrite_checked(bs, 0, (t0 + tc) << s->cluster_bits, blocks,
                                           nb * s->cluster_size, false)) < 0)) {
        return ret;
    }
    for (uint64_t i = 0; i < entries; i++) {
        table[i] = GUINT64_TO_BE(table[i]);
    }
    ret = qcow2_pwrite_checked(bs, 0, t0 << s->cluster_bits, table, entries * 8, false);
    if (ret < 0 || (ret = bdrv_flush(bs->file)) < 0) {
        return ret;
    }
    ret = qcow2_write_reftable_location(bs, t0 << s->cluster_bits, tc);
    if (ret < 0 || (ret = bdrv_flush(bs->file)) < 0) {
        return ret;
    }
    for (uint64_t i = 0; i < entries; i++) {
        table[i] = GUINT64_FROM_BE(table[i]);
    }
    g_free(s->reftable);
    s->reftable = g_steal_pointer(&table);
    s->reftable_size = entries;
    qcow2_reftable_count_used(s);
    s->reftable_offset = t0 << s->cluster_bits;
    s->h.refcount_table_offset = s->reftable_offset;
    s->h.refcount_table_clusters = tc;
    s->eof_cluster = MAX(s->eof_cluster, t0 + tc + nb);
    return qcow2_free_clusters(bs, old_off, old_clusters * s->cluster_size);
}

int qcow2_reserve_reftable(BlockDriverState *bs, uint64_t clusters)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t need = (clusters >> s->refblock_bits) + 2;

    return need > s->reftable_size ? grow_reftable(bs, need) : 0;
}

int qcow2_refblock_for_repair(BlockDriverState *bs, uint64_t c)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t idx = c >> s->refblock_bits;
    g_autofree void *block = g_malloc0(s->cluster_size);
    int64_t off;
    int ret;

    if (idx >= s->reftable_size) {
        return -EFBIG;
    }
    off = qcow2_alloc_clusters(bs, 1);
    if (off < 0) {
        return off;
    }
    if (s->reftable[idx]) {
        return qcow2_free_clusters(bs, off, s->cluster_size);
    }
    ret = qcow2_pwrite_checked(bs, 0, off, block, s->cluster_size, true);
    if (ret < 0) {
        return ret;
    }
    s->reftable[idx] = off;
    return write_reftable_entry(bs, idx);
}

/*
 * A refcount block for range idx at free cluster c of a range that has one: counted, written
 * empty, and the count made durable before the refcount table points to it.
 */
static int write_refblock_at(BlockDriverState *bs, uint64_t idx, uint64_t c)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree void *block = g_malloc0(s->cluster_size);
    int ret;

    qcow2_cache_discard(s->refblock_cache, c << s->cluster_bits);
    qcow2_cache_discard(s->l2_cache, c << s->cluster_bits);
    /* Counted first, as every allocation: a queued discard of c is sent before the write. */
    ret = qcow2_update_refcount(bs, c, 1);
    if (ret < 0 || (ret = qcow2_pwrite_checked(bs, 0, c << s->cluster_bits, block,
                                               s->cluster_size, false)) < 0 ||
        (ret = qcow2_flush_refcounts(bs)) < 0) {
        return ret;
    }
    s->reftable[idx] = c << s->cluster_bits;
    s->eof_cluster = MAX(s->eof_cluster, c + 1);
    return write_reftable_entry(bs, idx);
}

/*
 * Give range idx a refcount block at the first free cluster at or after from: inside a
 * range without a block, that range gets a block there counting itself (range idx's own,
 * or one more step); inside a range with a block, idx's block goes there.
 */
static int place_refblock(BlockDriverState *bs, uint64_t idx, uint64_t from)
{
    BDRVQcow2State *s = bs->opaque;

    for (uint64_t c = from; !s->reftable[idx]; c++) {
        uint64_t j = c >> s->refblock_bits, rc;
        int ret;
        if (j >= s->reftable_size) {
            ret = grow_reftable(bs, j + 1);
        } else if (!s->reftable[j]) {
            ret = create_refblock(bs, c);
            s->eof_cluster = MAX(s->eof_cluster, c + 1);
        } else if ((ret = qcow2_get_refcount(bs, c, &rc)) >= 0 && !rc) {
            ret = write_refblock_at(bs, idx, c);
        }
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/*
 * The first run of n free clusters from the allocation cursor. Clusters of ranges without
 * a refcount block are free; their blocks are placed after the run afterwards (placing
 * them inside would cut every run at the range size). The refcount table grows first when
 * the run reaches past it.
 */
static int64_t find_free(BlockDriverState *bs, uint64_t n)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t start = s->alloc_at_eof ? MAX(s->eof_cluster, s->free_cluster_index)
                                     : s->free_cluster_index;
    uint64_t count = 0;

    while (count < n) {
        uint64_t c = start + count, idx = c >> s->refblock_bits, rc;
        int ret = 0;
        if (idx >= s->reftable_size) {
            ret = grow_reftable(bs, idx + 1);
            start = s->alloc_at_eof ? MAX(s->eof_cluster, start) : start;
            count = 0;
        } else if (!s->reftable[idx]) {
            count++;
        } else if ((ret = qcow2_get_refcount(bs, c, &rc)) >= 0) {
            start = rc ? c + 1 : start;
            count = rc ? 0 : count + 1;
        }
        if (ret < 0) {
            return ret;
        }
    }
    s->eof_cluster = MAX(s->eof_cluster, start + n);
    for (uint64_t idx = start >> s->refblock_bits; idx <= (start + n - 1) >> s->refblock_bits;
         idx++) {
        int ret = s->reftable[idx] ? 0 : place_refblock(bs, idx, start + n);
        if (ret < 0) {
            return ret;
        }
    }
    return start;
}

int64_t qcow2_alloc_clusters(BlockDriverState *bs, uint64_t n)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t start = find_free(bs, n);
    int ret;

    if (start < 0) {
        return start;
    }
    if ((uint64_t)(start + n) > (L2E_OFFSET_MASK >> s->cluster_bits)) {
        return -EFBIG;
    }
    for (uint64_t i = 0; i < n; i++) {
        ret = qcow2_update_refcount(bs, start + i, 1);
        if (ret < 0) {
            return ret;
        }
    }
    /* As QEMU: holes smaller than n are skipped until a free moves the index back. */
    s->free_cluster_index = start + n;
    s->eof_cluster = MAX(s->eof_cluster, start + n);
    return start << s->cluster_bits;
}

int qcow2_free_clusters(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t first = offset >> s->cluster_bits;
    uint64_t last = (offset + bytes - 1) >> s->cluster_bits;
    int ret = 0;

    qcow2_discard_batch_begin(s);
    for (uint64_t c = first; bytes && c <= last && ret >= 0; c++) {
        ret = qcow2_update_refcount(bs, c, -1);
    }
    qcow2_discard_batch_end(bs);
    return ret;
}

static int free_entry(BlockDriverState *bs, uint64_t e)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t off, len;

    switch (qcow2_entry_type(s, e)) {
    case QCOW2_CLUSTER_NORMAL:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        return qcow2_free_clusters(bs, e & L2E_OFFSET_MASK, s->cluster_size);
    case QCOW2_CLUSTER_COMPRESSED:
        qcow2_compressed_range(s, e, &off, &len);
        return qcow2_free_clusters(bs, off, len);
    default:
        return 0;
    }
}

int qcow2_free_entries(BlockDriverState *bs, const uint64_t *entries, int n)
{
    BDRVQcow2State *s = bs->opaque;
    bool any = false;
    int ret;

    for (int i = 0; i < n; i++) {
        Qcow2ClusterType t = qcow2_entry_type(s, entries[i]);
        any |= t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC ||
               t == QCOW2_CLUSTER_COMPRESSED;
    }
    if (!any) {
        return 0;
    }
    ret = qcow2_flush_metadata(bs);
    if (ret < 0 || (ret = bdrv_flush(bs->file)) < 0) {
        return ret;
    }
    qcow2_discard_batch_begin(s);
    for (int i = 0; i < n && ret >= 0; i++) {
        ret = free_entry(bs, entries[i]);
    }
    qcow2_discard_batch_end(bs);
    return ret;
}
