/*
 * qcow2 guest-to-host mapping: the L1 table (in memory, written back with the other
 * metadata), L2 lookups through the L2 cache with validation of every entry read from the
 * image, allocation and copy-on-write of L2 tables, L1 growth, and decoding and inflating
 * compressed clusters. Data clusters themselves are allocated by the write path in qcow2.c.
 * Callers hold the metadata lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <zlib.h>
#include "block/qcow2.h"

uint64_t qcow2_l1_entries_for(BDRVQcow2State *s, uint64_t size)
{
    uint64_t span = 1ULL << (s->cluster_bits + s->l2_bits);

    return (size + span - 1) / span;
}

Qcow2ClusterType qcow2_entry_type(BDRVQcow2State *s, uint64_t e)
{
    if (e & QCOW_OFLAG_COMPRESSED) {
        return QCOW2_CLUSTER_COMPRESSED;
    }
    if ((e & QCOW_OFLAG_ZERO) && s->h.version >= 3) {
        return (e & L2E_OFFSET_MASK) ? QCOW2_CLUSTER_ZERO_ALLOC : QCOW2_CLUSTER_ZERO_PLAIN;
    }
    return (e & L2E_OFFSET_MASK) ? QCOW2_CLUSTER_NORMAL : QCOW2_CLUSTER_UNALLOCATED;
}

void qcow2_compressed_range(BDRVQcow2State *s, uint64_t e, uint64_t *off, uint64_t *len)
{
    uint64_t nsec = ((e >> s->csize_shift) & s->csize_mask) + 1;

    *off = e & s->cluster_offset_mask;
    *len = nsec * 512 - (*off & 511);
}

static uint64_t l2_entry(const uint64_t *table, int idx)
{
    return GUINT64_FROM_BE(table[idx]);
}

static int check_entry(BlockDriverState *bs, uint64_t e, uint64_t l2_off, int idx)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2ClusterType t = qcow2_entry_type(s, e);

    if ((e & QCOW_OFLAG_ZERO) && !(e & QCOW_OFLAG_COMPRESSED) && s->h.version < 3) {
        qcow2_signal_corruption(bs, -1, -1,
                                "Zero cluster entry found in pre-v3 image (L2 offset: %#" PRIx64
                                ", L2 index: %#x)",
                                l2_off, idx);
        return -EIO;
    }
    if ((t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC) &&
        (e & L2E_OFFSET_MASK & (s->cluster_size - 1))) {
        qcow2_signal_corruption(bs, -1, -1, "Cluster allocation offset %#" PRIx64
                                " unaligned (L2 offset: %#" PRIx64 ", L2 index: %#x)",
                                e & L2E_OFFSET_MASK, l2_off, idx);
        return -EIO;
    }
    return 0;
}

static int load_l2(BlockDriverState *bs, uint64_t l1e, uint64_t **table)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l2_off = l1e & L1E_OFFSET_MASK;

    if (l2_off & (s->cluster_size - 1)) {
        qcow2_signal_corruption(bs, -1, -1, "L2 table offset %#" PRIx64 " unaligned", l2_off);
        return -EIO;
    }
    return qcow2_cache_get(s->l2_cache, l2_off, (void **)table, true);
}

static bool same_run(BDRVQcow2State *s, uint64_t first, uint64_t e, uint64_t i)
{
    Qcow2ClusterType t = qcow2_entry_type(s, first);

    if (t != qcow2_entry_type(s, e)) {
        return false;
    }
    switch (t) {
    case QCOW2_CLUSTER_NORMAL:
        return (e & ~QCOW_OFLAG_ZERO) == (first & ~QCOW_OFLAG_ZERO) + (i << s->cluster_bits);
    case QCOW2_CLUSTER_UNALLOCATED:
    case QCOW2_CLUSTER_ZERO_PLAIN:
        return true;
    default:
        return false;
    }
}

int qcow2_get_mapping(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *l2e,
                      uint64_t *run)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l2_entries = 1ULL << s->l2_bits;
    uint64_t l1_idx = offset >> (s->cluster_bits + s->l2_bits);
    int idx = (offset >> s->cluster_bits) & (l2_entries - 1);
    uint64_t in_cluster = offset & (s->cluster_size - 1);
    uint64_t max = MIN(bytes, ((l2_entries - idx) << s->cluster_bits) - in_cluster);
    uint64_t *table, n = 1;
    int ret;

    *l2e = 0;
    *run = max;
    if (l1_idx >= s->l1_size || !(s->l1_table[l1_idx] & L1E_OFFSET_MASK)) {
        return 0;
    }
    ret = load_l2(bs, s->l1_table[l1_idx], &table);
    if (ret < 0) {
        return ret;
    }
    *l2e = l2_entry(table, idx);
    if ((ret = check_entry(bs, *l2e, s->l1_table[l1_idx] & L1E_OFFSET_MASK, idx)) < 0) {
        return ret;
    }
    while ((n << s->cluster_bits) - in_cluster < max && idx + n < l2_entries &&
           same_run(s, *l2e, l2_entry(table, idx + n), n)) {
        n++;
    }
    *run = MIN(max, (n << s->cluster_bits) - in_cluster);
    return 0;
}

/* A cluster for a new L2 table, refused (the image marked corrupt) if it holds metadata:
 * its table is written back later, and the write that wants it must fail now, as QEMU's. */
static int64_t alloc_l2_cluster(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t off = qcow2_alloc_clusters(bs, 1);
    int ret = off < 0 ? 0 : qcow2_check_overlap(bs, 0, off, s->cluster_size);

    return ret < 0 ? ret : off;
}

/* The active L1 now points at a copy of a shared L2 table; drop the old table's reference
 * once the new L1 is on disk. */
static int cow_l2(BlockDriverState *bs, uint64_t l1_idx, uint64_t **l2)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t old = s->l1_table[l1_idx] & L1E_OFFSET_MASK;
    g_autofree void *copy = g_malloc(s->cluster_size);
    int64_t new_off = alloc_l2_cluster(bs);
    uint64_t *table;
    int ret;

    if (new_off < 0) {
        return new_off;
    }
    if ((ret = load_l2(bs, s->l1_table[l1_idx], &table)) < 0) {
        return ret;
    }
    memcpy(copy, table, s->cluster_size);
    if ((ret = qcow2_cache_get(s->l2_cache, new_off, (void **)&table, false)) < 0) {
        return ret;
    }
    memcpy(table, copy, s->cluster_size);
    qcow2_cache_mark_dirty(s->l2_cache, table);
    s->l1_table[l1_idx] = new_off | QCOW_OFLAG_COPIED;
    s->l1_dirty = true;
    ret = qcow2_flush_metadata(bs);
    if (ret < 0 || (ret = bdrv_flush(bs->file)) < 0 ||
        (ret = qcow2_free_clusters(bs, old, s->cluster_size)) < 0) {
        return ret;
    }
    return qcow2_cache_get(s->l2_cache, new_off, (void **)l2, true);
}

int qcow2_get_l2_for_write(BlockDriverState *bs, uint64_t offset, uint64_t **l2, int *index)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l1_idx = offset >> (s->cluster_bits + s->l2_bits);
    int64_t new_off;
    int ret;

    *index = (offset >> s->cluster_bits) & ((1ULL << s->l2_bits) - 1);
    if (l1_idx >= s->l1_size && (ret = qcow2_grow_l1(bs, l1_idx + 1)) < 0) {
        return ret;
    }
    if (!(s->l1_table[l1_idx] & L1E_OFFSET_MASK)) {
        new_off = alloc_l2_cluster(bs);
        if (new_off < 0) {
            return new_off;
        }
        ret = qcow2_cache_get(s->l2_cache, new_off, (void **)l2, false);
        if (ret < 0) {
            return ret;
        }
        qcow2_cache_mark_dirty(s->l2_cache, *l2);
        s->l1_table[l1_idx] = new_off | QCOW_OFLAG_COPIED;
        s->l1_dirty = true;
        return 0;
    }
    if (!(s->l1_table[l1_idx] & QCOW_OFLAG_COPIED)) {
        return cow_l2(bs, l1_idx, l2);
    }
    return load_l2(bs, s->l1_table[l1_idx], l2);
}

int qcow2_grow_l1(BlockDriverState *bs, uint64_t min_size)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t new_size = MAX(min_size, (uint64_t)s->l1_size * 3 / 2 + 1);
    uint64_t old_bytes = (uint64_t)s->l1_size * 8, old_off = s->l1_offset;
    g_autofree uint64_t *be = NULL;
    int64_t new_off;
    int ret;

    new_size = MIN(new_size, QCOW2_MAX_L1_BYTES / 8);
    if (min_size > new_size) {
        return -EFBIG;
    }
    new_off = qcow2_alloc_clusters(bs, (new_size * 8 + s->cluster_size - 1) >> s->cluster_bits);
    if (new_off < 0) {
        return new_off;
    }
    ret = qcow2_flush_metadata(bs);
    if (ret < 0 || (ret = bdrv_flush(bs->file)) < 0) {
        return ret;
    }
    be = g_new0(uint64_t, new_size);
    for (uint32_t i = 0; i < s->l1_size; i++) {
        be[i] = GUINT64_TO_BE(s->l1_table[i]);
    }
    ret = qcow2_pwrite_checked(bs, 0, new_off, be, new_size * 8, false);
    if (ret < 0 || (ret = bdrv_flush(bs->file)) < 0 ||
        (ret = qcow2_write_l1_location(bs, new_off, new_size)) < 0 ||
        (ret = bdrv_flush(bs->file)) < 0) {
        return ret;
    }
    s->l1_table = g_renew(uint64_t, s->l1_table, new_size);
    memset(s->l1_table + s->l1_size, 0, (new_size - s->l1_size) * 8);
    s->l1_size = new_size;
    s->l1_offset = new_off;
    s->h.l1_size = new_size;
    s->h.l1_table_offset = new_off;
    return old_bytes ? qcow2_free_clusters(bs, old_off, old_bytes) : 0;
}

static int inflate_cluster(uint8_t *out, uint64_t out_len, uint8_t *in, uint64_t in_len)
{
    z_stream z = {0};
    int ret;

    if (inflateInit2(&z, -15) != Z_OK) {
        return -ENOMEM;
    }
    z.next_in = in;
    z.avail_in = in_len;
    z.next_out = out;
    z.avail_out = out_len;
    ret = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    if ((ret == Z_STREAM_END || ret == Z_BUF_ERROR) && z.avail_out == 0) {
        return 0;
    }
    return -EIO;
}

int qcow2_read_compressed(BlockDriverState *bs, uint64_t l2e, uint8_t **out)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t file_len = bdrv_getlength(bs->file);
    uint64_t off, len;
    int ret;

    if (s->dbuf_entry == l2e) {
        *out = s->dbuf;
        return 0;
    }
    qcow2_compressed_range(s, l2e, &off, &len);
    if (file_len < 0) {
        return file_len;
    }
    if (off >= (uint64_t)file_len) {
        qcow2_signal_corruption(bs, -1, -1,
                                "Compressed cluster at %#" PRIx64 " past the end of file", off);
        return -EIO;
    }
    len = MIN(len, (uint64_t)file_len - off);
    s->cbuf = g_realloc(s->cbuf, len);
    s->dbuf = s->dbuf ? s->dbuf : g_malloc(s->cluster_size);
    s->dbuf_entry = 0;
    ret = bdrv_pread(bs->file, off, s->cbuf, len);
    if (ret < 0) {
        return ret;
    }
    ret = inflate_cluster(s->dbuf, s->cluster_size, s->cbuf, len);
    if (ret < 0) {
        return ret;
    }
    s->dbuf_entry = l2e;
    *out = s->dbuf;
    return 0;
}
