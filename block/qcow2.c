/*
 * The qcow2 format driver: probe, open/close, and the guest I/O path (read, write with
 * cluster allocation and copy-on-write from the backing file, zero writes, discard, resize,
 * block status). Metadata is touched under one mutex; reads, in-place writes of clusters
 * the image owns alone and the data I/O of allocating writes (copy-on-write reads, writes of
 * the new clusters; the guest range claimed until the clusters are linked) drop it. Write
 * ordering: data, then refcounts, then L2, then L1 (qcow2-cache.c); clusters are freed only
 * after the metadata that referenced them is on disk. Internal snapshots live in
 * qcow2-snapshot.c, the cipher of encrypted images in qcow2-crypt.c; LUKS, external data
 * files, extended L2 and zstd are refused at open.
 */
#include <errno.h>
#include <string.h>
#include "block/qcow2.h"
#include "util/qdict.h"

static int qcow2_probe(const uint8_t *buf, int buf_size, const char *filename)
{
    if (buf_size >= 8 && !memcmp(buf, "QFI\xfb", 4) &&
        ((buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]) >= 2) {
        return 100;
    }
    return 0;
}

int qcow2_load_table(BlockDriverState *bs, uint64_t off, uint64_t n, uint64_t **table)
{
    int ret;

    *table = g_new0(uint64_t, MAX(n, 1));
    ret = bdrv_pread(bs->file, off, *table, n * 8);
    for (uint64_t i = 0; i < n; i++) {
        (*table)[i] = GUINT64_FROM_BE((*table)[i]);
    }
    return ret;
}

/* Without cache size options: 4 MiB of L2 tables and 1 MiB of refcount blocks, within
 * 4-256 and 4-64 tables (QEMU 2.2 has 1 MiB and 256 KiB). */
static int open_caches(BlockDriverState *bs, BDRVQcow2State *s, const Qcow2RuntimeOpts *o,
                       Error **errp)
{
    uint64_t l2_def = CLAMP((4 << 20) >> s->cluster_bits, 4, 256);
    uint64_t rb_def = CLAMP((1 << 20) >> s->cluster_bits, 4, 64);
    uint64_t l2_n = o->l2_tables ? o->l2_tables : l2_def;
    uint64_t rb_n = o->refblock_tables ? o->refblock_tables : rb_def;

    /* An L2 table the cache writes back may be a snapshot's too (amend rewrites those); new
     * tables are checked against every kind when allocated (qcow2-cluster.c). */
    s->l2_cache = qcow2_cache_new(bs, QCOW2_OL_ACTIVE_L2 | QCOW2_OL_INACTIVE_L2, l2_n,
                                  s->cluster_size);
    s->refblock_cache =
        s->l2_cache ? qcow2_cache_new(bs, QCOW2_OL_REFCOUNT_BLOCK, rb_n, s->cluster_size) : NULL;
    if (!s->refblock_cache) {
        error_setg(errp, "Could not allocate metadata caches");
        return -ENOMEM;
    }
    qcow2_cache_set_before_write(s->l2_cache, qcow2_before_l2_write, bs);
    return 0;
}

static void apply_runtime_opts(BDRVQcow2State *s, const Qcow2RuntimeOpts *o)
{
    s->use_lazy_refcounts = o->lazy_refcounts;
    memcpy(s->pass_discard, o->pass_discard, sizeof(s->pass_discard));
    s->discard_type = QCOW2_DISCARD_OTHER;
    s->overlap_check = o->overlap_check;
}

static int open_tables(BlockDriverState *bs, BDRVQcow2State *s, const Qcow2RuntimeOpts *o,
                       Error **errp)
{
    int64_t len = bdrv_getlength(bs->file);
    int ret;

    s->l1_size = s->h.l1_size;
    s->l1_offset = s->h.l1_table_offset;
    s->reftable_offset = s->h.refcount_table_offset;
    s->reftable_size = (uint64_t)s->h.refcount_table_clusters << (s->cluster_bits - 3);
    if ((ret = qcow2_load_table(bs, s->l1_offset, s->l1_size, &s->l1_table)) < 0 ||
        (ret = qcow2_load_table(bs, s->reftable_offset, s->reftable_size, &s->reftable)) < 0) {
        error_setg_errno(errp, -ret, "Could not read qcow2 tables");
        return ret;
    }
    qcow2_reftable_count_used(s);
    if ((ret = open_caches(bs, s, o, errp)) < 0) {
        return ret;
    }
    s->eof_cluster = len < 0 ? 0 : ((uint64_t)len + s->cluster_size - 1) >> s->cluster_bits;
    return qcow2_read_snapshots(bs, s, errp);
}

static int open_writable(BlockDriverState *bs, BDRVQcow2State *s, Error **errp)
{
    bool check = bs->open_flags & BDRV_O_CHECK;
    int ret;

    if ((s->h.incompatible_features & QCOW2_INCOMPAT_CORRUPT) && !check) {
        error_setg(errp, "qcow2: Image is corrupt; cannot be opened read/write");
        return -EACCES;
    }
    if ((s->h.incompatible_features & QCOW2_INCOMPAT_DIRTY) && !check) {
        ret = qcow2_rebuild_refcounts(bs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not repair dirty image");
            return ret;
        }
    }
    s->writable = true;
    ret = qcow2_clear_autoclear(bs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not update qcow2 header");
    }
    return ret;
}

static void free_state(BDRVQcow2State *s)
{
    qcow2_cache_free(s->l2_cache);
    qcow2_cache_free(s->refblock_cache);
    g_free(s->l1_table);
    g_free(s->reftable);
    qcow2_free_snapshots(s);
    g_free(s->header_tail);
    g_free(s->c0_pending);
    if (s->unknown_exts) {
        g_byte_array_unref(s->unknown_exts);
    }
    g_free(s->backing_file);
    g_free(s->backing_format);
    g_free(s->cbuf);
    g_free(s->dbuf);
    qcow2_crypt_free(s);
    if (s->discards) {
        g_array_unref(s->discards);
    }
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->io_cond);
}

static int do_open(BlockDriverState *bs, BDRVQcow2State *s, JsonObject *options, int flags,
                   Error **errp)
{
    Qcow2RuntimeOpts o = {0};
    int ret;

    if (!bdrv_open_child(bs, options, "file", flags, false, errp)) {
        return -EINVAL;
    }
    if ((ret = qcow2_read_header(bs, s, errp)) < 0) {
        return ret;
    }
    if (!qcow2_take_runtime_opts(bs, options, flags, &o, errp)) {
        return -EINVAL;
    }
    apply_runtime_opts(s, &o);
    if ((ret = open_tables(bs, s, &o, errp)) < 0) {
        return ret;
    }
    if ((flags & BDRV_O_RDWR) && (ret = open_writable(bs, s, errp)) < 0) {
        return ret;
    }
    if ((ret = bdrv_open_backing(bs, options, s->backing_file, s->backing_format, flags,
                                 errp)) < 0) {
        return ret;
    }
    bs->backing_file = g_strdup(s->backing_file);
    bs->backing_format = g_strdup(s->backing_format);
    bs->encrypted = s->h.crypt_method != 0;
    return 0;
}

static int qcow2_open(BlockDriverState *bs, JsonObject *options, int flags, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    g_mutex_init(&s->lock);
    g_cond_init(&s->io_cond);
    s->unknown_exts = g_byte_array_new();
    ret = do_open(bs, s, options, flags, errp);
    if (ret < 0) {
        s->writable = false;
        free_state(s);
    }
    return ret;
}

static void qcow2_close(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->writable) {
        if (qcow2_flush_metadata(bs) >= 0 && bdrv_flush(bs->file) >= 0 && s->lazy_refcounts) {
            qcow2_update_incompat(bs, s->h.incompatible_features & ~QCOW2_INCOMPAT_DIRTY);
        }
    }
    free_state(s);
}

/* The image is clean when the last writer stops: nothing else writes to it afterwards. */
static int qcow2_reopen_read_only(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;

    g_mutex_lock(&s->lock);
    if (s->writable) {
        ret = qcow2_flush_metadata(bs);
        if (ret >= 0 && (ret = bdrv_flush(bs->file)) >= 0 && s->lazy_refcounts) {
            ret = qcow2_update_incompat(bs, s->h.incompatible_features & ~QCOW2_INCOMPAT_DIRTY);
            s->lazy_refcounts = ret < 0;
        }
        s->writable = ret < 0;
    }
    g_mutex_unlock(&s->lock);
    return ret;
}

/* ---- reads ---- */

static int read_backing(BlockDriverState *bs, uint64_t off, uint64_t n, IOVector *qiov,
                        uint64_t qoff)
{
    int64_t blen = bs->backing ? bdrv_getlength(bs->backing) : 0;
    uint64_t avail;
    IOVector sub;
    int ret = 0;

    if (blen < 0) {
        return blen;
    }
    avail = off < (uint64_t)blen ? MIN(n, (uint64_t)blen - off) : 0;
    if (avail) {
        iov_init(&sub, qiov->niov);
        iov_add_slice(&sub, qiov, qoff, avail);
        ret = bdrv_preadv(bs->backing, off, &sub, 0);
        iov_destroy(&sub);
    }
    iov_memset(qiov, qoff + avail, 0, n - avail);
    return ret;
}

int qcow2_unlocked_file_io(BlockDriverState *bs, uint64_t host, uint64_t n, IOVector *qiov,
                           uint64_t qoff, bool write)
{
    BDRVQcow2State *s = bs->opaque;
    IOVector sub;
    int ret;

    s->unlocked_io++;
    g_mutex_unlock(&s->lock);
    iov_init(&sub, qiov->niov);
    iov_add_slice(&sub, qiov, qoff, n);
    ret = write ? bdrv_pwritev(bs->file, host, &sub, 0) : bdrv_preadv(bs->file, host, &sub, 0);
    iov_destroy(&sub);
    g_mutex_lock(&s->lock);
    qcow2_unlocked_io_done(s);
    return ret;
}

/* Guest data at host (guest offset guest), through the cipher when the image is encrypted. */
static int data_io(BlockDriverState *bs, uint64_t host, uint64_t guest, uint64_t n,
                   IOVector *qiov, uint64_t qoff, bool write)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->h.crypt_method) {
        return qcow2_crypt_file_io(bs, host, guest, n, qiov, qoff, write);
    }
    return qcow2_unlocked_file_io(bs, host, n, qiov, qoff, write);
}

static int read_run(BlockDriverState *bs, uint64_t off, uint64_t run, uint64_t e,
                    IOVector *qiov, uint64_t qoff)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t in_cluster = off & (s->cluster_size - 1);
    uint8_t *data;
    int ret;

    switch (qcow2_entry_type(s, e)) {
    case QCOW2_CLUSTER_UNALLOCATED:
        g_mutex_unlock(&s->lock);
        ret = read_backing(bs, off, run, qiov, qoff);
        g_mutex_lock(&s->lock);
        return ret;
    case QCOW2_CLUSTER_ZERO_PLAIN:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        iov_memset(qiov, qoff, 0, run);
        return 0;
    case QCOW2_CLUSTER_COMPRESSED:
        ret = qcow2_read_compressed(bs, e, &data);
        if (ret >= 0) {
            iov_from_buf(qiov, qoff, data + in_cluster, run);
        }
        return ret;
    default:
        return data_io(bs, (e & L2E_OFFSET_MASK) + in_cluster, off, run, qiov, qoff, false);
    }
}

static int qcow2_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                        int flags)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t done = 0, e, run;
    int ret;

    g_mutex_lock(&s->lock);
    ret = qcow2_crypt_ready(s);
    while (done < bytes && ret >= 0) {
        ret = qcow2_get_mapping(bs, offset + done, bytes - done, &e, &run);
        if (ret >= 0) {
            ret = read_run(bs, offset + done, run, e, qiov, done);
        }
        done += run;
    }
    g_mutex_unlock(&s->lock);
    return ret < 0 ? ret : 0;
}

/* ---- writes ---- */

/*
 * The current content of one guest cluster (described by entry e) into dst. Compressed
 * clusters need the lock (shared scratch buffers); backing-file and shared-cluster reads are
 * made without it.
 */
static int cow_read(BlockDriverState *bs, uint64_t guest, uint64_t e, uint8_t *dst)
{
    BDRVQcow2State *s = bs->opaque;
    IOVector v;
    uint8_t *data;
    int ret;

    iov_init_buf(&v, dst, s->cluster_size);
    switch (qcow2_entry_type(s, e)) {
    case QCOW2_CLUSTER_UNALLOCATED:
    case QCOW2_CLUSTER_NORMAL:
        s->unlocked_io++;
        g_mutex_unlock(&s->lock);
        if (qcow2_entry_type(s, e) == QCOW2_CLUSTER_NORMAL) {
            ret = bdrv_preadv(bs->file, e & L2E_OFFSET_MASK, &v, 0);
        } else {
            ret = read_backing(bs, guest, s->cluster_size, &v, 0);
        }
        g_mutex_lock(&s->lock);
        qcow2_unlocked_io_done(s);
        if (ret >= 0 && s->h.crypt_method && qcow2_entry_type(s, e) == QCOW2_CLUSTER_NORMAL) {
            qcow2_crypt_buf(s, guest, dst, s->cluster_size, false);
        }
        break;
    case QCOW2_CLUSTER_COMPRESSED:
        ret = qcow2_read_compressed(bs, e, &data);
        if (ret >= 0) {
            memcpy(dst, data, s->cluster_size);
        }
        break;
    default:
        memset(dst, 0, s->cluster_size);
        ret = 0;
    }
    iov_destroy(&v);
    return ret;
}

/* Whether the guest clusters from start on (the first described by e) read as zeroes. */
static bool cow_is_zero(BlockDriverState *bs, uint64_t start, uint64_t e)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t blen;

    switch (qcow2_entry_type(s, e)) {
    case QCOW2_CLUSTER_ZERO_PLAIN:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        return true;
    case QCOW2_CLUSTER_UNALLOCATED:
        blen = bs->backing ? bdrv_getlength(bs->backing) : 0;
        return blen >= 0 && start >= (uint64_t)blen;
    default:
        return false;
    }
}

/*
 * Lazy mode starts only once the dirty bit is durable (qcow2_update_incompat flushes): from
 * then on refcounts on disk may lag behind the L2 tables, which is safe only because the
 * next read-write open sees the bit and rebuilds them.
 */
int qcow2_mark_dirty(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (!s->writable) {
        return -EACCES;
    }
    if (s->lazy_refcounts || s->h.version < 3 || !s->use_lazy_refcounts) {
        return 0;
    }
    ret = qcow2_update_incompat(bs, s->h.incompatible_features | QCOW2_INCOMPAT_DIRTY);
    s->lazy_refcounts = ret >= 0;
    return ret;
}

static void cow_free(uint8_t **cow)
{
    g_aligned_free(cow[0]);
    g_aligned_free(cow[1]);
}

/*
 * The old content around [off, off+run) within its first and last cluster (head and tail),
 * and qiov's data in between, as one vector for the new clusters: the data is not copied.
 * The buffers are aligned so that the file need not bounce them.
 */
static int alloc_gather(BlockDriverState *bs, uint64_t off, uint64_t run, uint64_t e,
                        IOVector *qiov, uint64_t qoff, uint8_t **cow, IOVector *v)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size, in_cluster = off & (cs - 1), start = off - in_cluster;
    uint64_t end = in_cluster + run, tail = (cs - (end & (cs - 1))) & (cs - 1);
    uint64_t last = (end - 1) >> s->cluster_bits;
    bool normal = qcow2_entry_type(s, e) == QCOW2_CLUSTER_NORMAL;
    int ret = 0;

    cow[0] = in_cluster ? g_aligned_alloc(1, cs, 4096) : NULL;
    cow[1] = tail && (last || !in_cluster) ? g_aligned_alloc(1, cs, 4096) : NULL;
    if (cow[0]) {
        ret = cow_read(bs, start, e, cow[0]);
    }
    if (ret >= 0 && cow[1]) {
        ret = cow_read(bs, start + (last << s->cluster_bits),
                       normal ? e + (last << s->cluster_bits) : e, cow[1]);
    }
    iov_init(v, qiov->niov + 2);
    if (in_cluster) {
        iov_add(v, cow[0], in_cluster);
    }
    iov_add_slice(v, qiov, qoff, run);
    if (tail) {
        iov_add(v, (cow[1] ? cow[1] : cow[0]) + (end & (cs - 1)), tail);
    }
    return ret;
}

/*
 * Fill the new clusters [host, host+len) with the lock dropped: either zero them with the
 * file's zero-range operation and write only v at host+voff (QEMU's way for clusters whose
 * old content is zeroes: no zero buffers travel), or write v, the whole clusters, at host.
 * Zeroing even clusters that are holes keeps them allocated in the file, as QEMU's are
 * (qemu-img map shows the same).
 */
static int fill_new_clusters(BlockDriverState *bs, uint64_t host, uint64_t len, bool zero,
                             IOVector *v, uint64_t voff)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;

    s->unlocked_io++;
    g_mutex_unlock(&s->lock);
    if (zero) {
        ret = bdrv_pwrite_zeroes(bs->file, host, len, BDRV_REQ_NO_FALLBACK);
    }
    if (ret >= 0) {
        ret = bdrv_pwritev(bs->file, host + voff, v, 0);
    }
    g_mutex_lock(&s->lock);
    qcow2_unlocked_io_done(s);
    if (ret == -ENOTSUP && zero) {
        s->no_zero_range = true;
    }
    return ret;
}

/*
 * A partial allocation's new clusters also hold old content the request did not write: a
 * copy (backing file, shared or compressed cluster) or zeroes. In lazy mode nothing else
 * orders that write before the L2 entry, so qcow2_before_l2_write must flush first, except
 * for zeroes in clusters past the highest one ever allocated (fresh): they were past the
 * end of the file at open and nothing has written them since, so should the zeroing be lost
 * at a crash, they still read as zeroes. Full clusters need no flush: all their bytes are
 * the guest's unflushed write, which a crash may lose anyway (as in QEMU).
 */
static void note_old_content(BDRVQcow2State *s, bool old_zero, bool fresh)
{
    if (!(old_zero && fresh)) {
        s->l2_needs_sync = true;
    }
}

/*
 * Write n new clusters from the old content and the new data, then link them. Between the
 * claim and the link the lock is dropped for the reads of the old content and the writes of
 * the new clusters; writes of the same guest range wait, other allocations go on.
 */
static int alloc_write(BlockDriverState *bs, uint64_t off, uint64_t run, uint64_t e,
                       IOVector *qiov, uint64_t qoff)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size, start = off & ~(cs - 1);
    uint64_t n = ((off & (cs - 1)) + run + cs - 1) >> s->cluster_bits, *l2;
    bool partial = (off & (cs - 1)) || ((off + run) & (cs - 1));
    bool old_zero = partial && cow_is_zero(bs, start, e);
    bool zero = old_zero && !s->no_zero_range && !s->h.crypt_method; /* zeroes encrypted */
    g_autofree uint64_t *old = g_new(uint64_t, n);
    uint8_t *cow[2] = {NULL, NULL}, *bounce = NULL;
    Qcow2Allocation claim;
    uint64_t never_used = 0;
    int64_t host = 0;
    IOVector v;
    int ret, idx;

    if ((ret = qcow2_mark_dirty(bs)) < 0) {
        return ret;
    }
    qcow2_allocation_begin(s, &claim, start, n * cs);
    if (zero) {
        iov_init(&v, qiov->niov);
        iov_add_slice(&v, qiov, qoff, run);
    } else {
        ret = alloc_gather(bs, off, run, e, qiov, qoff, cow, &v);
        ret = ret < 0 ? ret : qcow2_crypt_vector(s, start, &v, &bounce);
    }
    if (ret >= 0) {
        never_used = s->eof_cluster;
        if ((host = qcow2_alloc_clusters(bs, n)) < 0) {
            ret = host;
        }
    }
    if (ret >= 0 && (ret = qcow2_check_overlap(bs, 0, host, n * cs)) >= 0) {
        ret = fill_new_clusters(bs, host, n * cs, zero, &v, zero ? off - start : 0);
        if (ret == -ENOTSUP && zero) {
            iov_destroy(&v);
            ret = alloc_gather(bs, off, run, e, qiov, qoff, cow, &v);
            ret = ret < 0 ? ret : fill_new_clusters(bs, host, n * cs, false, &v, 0);
        }
        if (ret < 0) {
            Qcow2DiscardType why = qcow2_discard_type_set(s, QCOW2_DISCARD_ALWAYS);
            qcow2_free_clusters(bs, host, n * cs);
            qcow2_discard_type_set(s, why);
        }
    }
    if (ret >= 0 && partial) {
        note_old_content(s, old_zero, (uint64_t)host >> s->cluster_bits >= never_used);
    }
    iov_destroy(&v);
    cow_free(cow);
    g_aligned_free(bounce);
    if (ret >= 0 && (ret = qcow2_get_l2_for_write(bs, off, &l2, &idx)) >= 0) {
        for (uint64_t i = 0; i < n; i++) {
            old[i] = GUINT64_FROM_BE(l2[idx + i]);
            l2[idx + i] = GUINT64_TO_BE((host + (i << s->cluster_bits)) | QCOW_OFLAG_COPIED);
        }
        qcow2_cache_mark_dirty(s->l2_cache, l2);
    }
    qcow2_allocation_end(s, &claim);
    if (ret >= 0) { /* the clusters copied on write: as QEMU, never discarded */
        Qcow2DiscardType why = qcow2_discard_type_set(s, QCOW2_DISCARD_NEVER);
        ret = qcow2_free_entries(bs, old, n);
        qcow2_discard_type_set(s, why);
    }
    return ret;
}

static int write_run(BlockDriverState *bs, uint64_t off, uint64_t *run, IOVector *qiov,
                     uint64_t qoff)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t e, max_alloc = MAX(s->cluster_size, 1 << 20);
    int ret;

    qcow2_wait_allocations(bs, off, *run);
    ret = qcow2_get_mapping(bs, off, *run, &e, run);
    if (ret < 0) {
        return ret;
    }
    if (!s->writable) {
        return -EACCES;
    }
    if (qcow2_entry_type(s, e) == QCOW2_CLUSTER_NORMAL && (e & QCOW_OFLAG_COPIED)) {
        uint64_t host = (e & L2E_OFFSET_MASK) + (off & (s->cluster_size - 1));
        if ((ret = qcow2_check_overlap(bs, 0, host, *run)) < 0) {
            return ret;
        }
        return data_io(bs, host, off, *run, qiov, qoff, true);
    }
    *run = MIN(*run, max_alloc - (off & (max_alloc - 1)));
    return alloc_write(bs, off, *run, e, qiov, qoff);
}

int qcow2_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                  int flags)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t done = 0, run;
    int ret;

    g_mutex_lock(&s->lock);
    ret = qcow2_crypt_ready(s);
    while (done < bytes && ret >= 0) {
        run = bytes - done;
        ret = write_run(bs, offset + done, &run, qiov, done);
        done += run;
    }
    g_mutex_unlock(&s->lock);
    return ret < 0 ? ret : 0;
}

/* ---- zeroes, discard ---- */

/* Set whole clusters [offset, offset+bytes) to what new_entry() says, freeing the old. */
static int update_clusters(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                           uint64_t (*new_entry)(BlockDriverState *bs, uint64_t old, int flags),
                           int flags, Qcow2DiscardType why)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t end = offset + bytes, *l2;
    int ret = 0, idx;

    if ((offset | bytes) & (s->cluster_size - 1)) {
        return -EINVAL; /* whole clusters only: a partial one would never be done */
    }
    qcow2_wait_unlocked_io(bs);
    if ((ret = qcow2_mark_dirty(bs)) < 0) {
        return ret;
    }
    while (offset < end && ret >= 0) {
        uint64_t n, old[512], l1_idx = offset >> (s->cluster_bits + s->l2_bits);
        if ((l1_idx >= s->l1_size || !(s->l1_table[l1_idx] & L1E_OFFSET_MASK)) &&
            new_entry(bs, 0, flags) == 0) {
            /* Nothing mapped here and nothing to record: no L2 table needed. */
            offset = (l1_idx + 1) << (s->cluster_bits + s->l2_bits);
            continue;
        }
        ret = qcow2_get_l2_for_write(bs, offset, &l2, &idx);
        if (ret < 0) {
            break;
        }
        n = MIN(MIN((end - offset) >> s->cluster_bits, (1ULL << s->l2_bits) - idx), 512);
        for (uint64_t i = 0; i < n; i++) {
            old[i] = GUINT64_FROM_BE(l2[idx + i]);
            l2[idx + i] = GUINT64_TO_BE(new_entry(bs, old[i], flags));
            if (GUINT64_FROM_BE(l2[idx + i]) & L2E_OFFSET_MASK) {
                old[i] = 0;
            }
        }
        qcow2_cache_mark_dirty(s->l2_cache, l2);
        why = qcow2_discard_type_set(s, why); /* swapped in for the frees, then back */
        ret = qcow2_free_entries(bs, old, n);
        why = qcow2_discard_type_set(s, why);
        offset += n << s->cluster_bits;
    }
    return ret;
}

/* v2 has no zero flag: zeroes there are unallocated clusters, for images that read nothing
 * from a backing file (qcow2_pwrite_zeroes refuses the others). */
static uint64_t zero_entry(BlockDriverState *bs, uint64_t old, int flags)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->h.version < 3) {
        return 0;
    }
    if ((qcow2_entry_type(s, old) == QCOW2_CLUSTER_NORMAL ||
         qcow2_entry_type(s, old) == QCOW2_CLUSTER_ZERO_ALLOC) &&
        (old & QCOW_OFLAG_COPIED) && !(flags & BDRV_REQ_MAY_UNMAP)) {
        return old | QCOW_OFLAG_ZERO; /* keeps its host cluster, as QEMU */
    }
    return QCOW_OFLAG_ZERO;
}

/*
 * As QEMU 7.2: in v3 a discarded cluster reads as zeroes afterwards (zero flag, its host
 * cluster freed), except one that was unallocated with no backing file to show through,
 * which stays so; v2 has no zero flag and unallocates it (qcow2_pdiscard leaves v2 images
 * with a backing file alone).
 */
static uint64_t discard_entry(BlockDriverState *bs, uint64_t old, int flags)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->h.version < 3 ||
        (qcow2_entry_type(s, old) == QCOW2_CLUSTER_UNALLOCATED && !bs->backing)) {
        return 0;
    }
    return QCOW_OFLAG_ZERO;
}

/* The whole clusters of [*offset, *offset+*bytes); a partial last cluster at EOF counts. */
static bool align_to_clusters(BDRVQcow2State *s, uint64_t *offset, uint64_t *bytes)
{
    uint64_t cs = s->cluster_size, start = (*offset + cs - 1) & ~(cs - 1);
    uint64_t end = *offset + *bytes;

    end = end == s->h.size ? (end + cs - 1) & ~(cs - 1) : end & ~(cs - 1);
    if (end <= start) {
        return false;
    }
    *offset = start;
    *bytes = end - start;
    return true;
}

/* zero_entry() for the whole clusters [offset, offset+bytes). */
static int zero_clusters(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    g_mutex_lock(&s->lock);
    ret = update_clusters(bs, offset, bytes, zero_entry, flags, QCOW2_DISCARD_REQUEST);
    g_mutex_unlock(&s->lock);
    return ret;
}

/* Lock held: make the cluster at start a zero cluster unless it holds data by now (a write
 * may have come between the caller's look at the rest of the cluster and the lock). */
static int zero_cluster_without_data(BlockDriverState *bs, uint64_t start, int flags)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t e, run;
    int ret;

    qcow2_wait_unlocked_io(bs);
    ret = qcow2_get_mapping(bs, start, s->cluster_size, &e, &run);
    if (ret < 0) {
        return ret;
    }
    switch (qcow2_entry_type(s, e)) {
    case QCOW2_CLUSTER_UNALLOCATED:
    case QCOW2_CLUSTER_ZERO_PLAIN:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        return update_clusters(bs, start, s->cluster_size, zero_entry, flags,
                                   QCOW2_DISCARD_REQUEST);
    default:
        return -ENOTSUP;
    }
}

/* Zeroes written as data, a MiB at a time. */
static int write_zero_buffer(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    g_autofree uint8_t *buf = g_malloc0(MIN(bytes, 1 << 20));
    int ret = 0;

    while (bytes && ret >= 0) {
        uint64_t n = MIN(bytes, 1 << 20);
        IOVector v;

        iov_init_buf(&v, buf, n);
        ret = qcow2_pwritev(bs, offset, n, &v, 0);
        iov_destroy(&v);
        offset += n;
        bytes -= n;
    }
    return ret;
}

/*
 * Zeroes over part of one cluster. As QEMU 7.2, when the rest of the cluster (up to the end
 * of the disk) already reads as zeroes, by block status through the backing chain, and the
 * cluster holds no data of its own, the whole cluster becomes a zero cluster; otherwise
 * (data of this image or of the backing file beside the range, compressed clusters) the
 * zeroes are written as data.
 */
static int zero_partial_cluster(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                int flags)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t start = offset & ~(s->cluster_size - 1);
    uint64_t end = MIN(start + s->cluster_size, s->h.size), req_end = offset + bytes;
    int ret = -ENOTSUP;

    if ((bs->backing || !s->backing_file) && /* a named backing file not opened: unknown */
        bdrv_reads_as_zeroes(bs, start, offset - start) &&
        bdrv_reads_as_zeroes(bs, req_end, end - MIN(end, req_end))) {
        g_mutex_lock(&s->lock);
        ret = zero_cluster_without_data(bs, start, flags);
        g_mutex_unlock(&s->lock);
    }
    if (ret != -ENOTSUP || (flags & BDRV_REQ_NO_FALLBACK)) {
        return ret;
    }
    return write_zero_buffer(bs, offset, bytes);
}

/*
 * Whole clusters become zero clusters (v3) or, in a v2 image without a backing file,
 * unallocated ones, as in QEMU 7.2; partial ones see zero_partial_cluster. A v2 image with
 * a backing file has no way to say zero: the core writes zeroes.
 */
static int qcow2_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t end = offset + bytes;
    int ret = 0;

    if (s->h.version < 3 && (bs->backing || s->backing_file)) {
        return -ENOTSUP;
    }
    while (offset < end && ret >= 0) {
        uint64_t o = offset, n = end - offset;
        if (align_to_clusters(s, &o, &n) && o == offset) {
            ret = zero_clusters(bs, o, n, flags);
        } else {
            n = MIN(end, (offset | (s->cluster_size - 1)) + 1) - offset;
            ret = zero_partial_cluster(bs, offset, n, flags);
        }
        offset += n;
    }
    return ret;
}

/*
 * Whole clusters only. A v2 image with a backing file is left as it is, as QEMU 7.2 does:
 * unallocating would bring back older data from the backing file, and v2 cannot say zero.
 */
static int qcow2_pdiscard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;

    if ((s->h.version < 3 && (bs->backing || s->backing_file)) ||
        !align_to_clusters(s, &offset, &bytes)) {
        return 0;
    }
    g_mutex_lock(&s->lock);
    ret = update_clusters(bs, offset, bytes, discard_entry, 0, QCOW2_DISCARD_REQUEST);
    g_mutex_unlock(&s->lock);
    return ret;
}

/* ---- the rest ---- */

static int qcow2_flush(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;

    g_mutex_lock(&s->lock);
    if (s->writable) {
        ret = qcow2_flush_metadata(bs);
    }
    g_mutex_unlock(&s->lock);
    return ret;
}

static int64_t qcow2_getlength(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    return s->h.size;
}

/*
 * Growing over a longer backing file (as QEMU 7.2): the new area up to the backing file's
 * end must read as zeroes, not as the file's old tail. Zero clusters (v3; data zeroes for
 * the old last cluster's tail, and for all of it in v2) are made durable before the header
 * takes the new size, so a crash leaves the old size or zeroes. Lock held, dropped around
 * the data writes (the node is drained).
 */
static int hide_backing_tail(BlockDriverState *bs, uint64_t old, uint64_t size)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t blen = bs->backing ? bdrv_getlength(bs->backing) : 0;
    uint64_t end, zstart;
    int ret = 0;

    if (blen <= (int64_t)old) {
        return blen < 0 ? blen : 0;
    }
    end = MIN(size, (uint64_t)blen);
    zstart = s->h.version >= 3 ? MIN((old + s->cluster_size - 1) & ~(s->cluster_size - 1), end)
                               : end;
    if (zstart > old) {
        g_mutex_unlock(&s->lock);
        ret = write_zero_buffer(bs, old, zstart - old);
        g_mutex_lock(&s->lock);
    }
    if (ret >= 0 && end > zstart) { /* whole clusters: all of them past the old end */
        end = (end + s->cluster_size - 1) & ~(s->cluster_size - 1);
        ret = update_clusters(bs, zstart, end - zstart, zero_entry, 0, QCOW2_DISCARD_OTHER);
    }
    if (ret >= 0) {
        ret = qcow2_flush_metadata(bs);
    }
    return ret < 0 ? ret : bdrv_flush(bs->file);
}

/* The clusters past the old end mapped (qcow2_preallocate) and on disk before the size
 * that shows them. Lock held. */
static int preallocate_tail(BlockDriverState *bs, uint64_t size, PreallocMode mode,
                            Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = qcow2_preallocate(bs, s->h.size, size, mode, errp);

    if (ret >= 0 && ((ret = qcow2_flush_metadata(bs)) < 0 || (ret = bdrv_flush(bs->file)) < 0)) {
        error_setg_errno(errp, -ret, "Failed to write the preallocated metadata");
    }
    return ret;
}

/* As QEMU 7.2: the snapshot table of a v2 image need not record each snapshot's size. */
bool qcow2_can_resize(BDRVQcow2State *s, Error **errp)
{
    if (s->h.version < 3 && s->nb_snapshots) {
        error_setg(errp, "Can't resize a v2 image which has snapshots");
        return false;
    }
    return true;
}

static int qcow2_truncate(BlockDriverState *bs, uint64_t size, PreallocMode mode, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;

    if (size < s->h.size) {
        error_setg(errp, "qcow2 doesn't support shrinking images yet");
        return -ENOTSUP;
    }
    if (!qcow2_can_resize(s, errp)) {
        return -ENOTSUP;
    }
    if (size % BDRV_SECTOR_SIZE) {
        error_setg(errp, "The new size must be a multiple of 512");
        return -EINVAL;
    }
    /* new clusters hold raw zeroes, which an encrypted image reads as garbage */
    if (mode != PREALLOC_MODE_OFF && bs->encrypted) {
        error_setg(errp, "Preallocation is not supported for encrypted images");
        return -ENOTSUP;
    }
    g_mutex_lock(&s->lock);
    if (qcow2_l1_entries_for(s, size) > s->l1_size &&
        (ret = qcow2_grow_l1(bs, qcow2_l1_entries_for(s, size))) < 0) {
        error_setg_errno(errp, -ret, "Failed to grow the L1 table");
    } else if ((ret = hide_backing_tail(bs, s->h.size, size)) < 0) {
        error_setg_errno(errp, -ret, "Failed to zero the new area of the image");
    } else if (mode != PREALLOC_MODE_OFF && (ret = preallocate_tail(bs, size, mode, errp)) < 0) {
        /* errp set */
    } else if ((ret = qcow2_write_size(bs, size)) < 0 || (ret = bdrv_flush(bs->file)) < 0) {
        error_setg_errno(errp, -ret, "Failed to update the image size");
    } else {
        s->h.size = size;
    }
    g_mutex_unlock(&s->lock);
    return ret;
}

/*
 * QEMU's test for preallocated metadata: far more clusters in use than the file has blocks
 * allocated. Data clusters of such an image may be holes in the file, so block status then
 * asks the file too (BDRV_BLOCK_RECURSE). Called with the lock held.
 */
static bool detect_metadata_preallocation(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t len = bdrv_getlength(bs->file), alloc = bdrv_get_allocated_file_size(bs->file);
    uint64_t real, threshold, end, count = 0, rc;

    if (len < 0 || alloc < 0) {
        return false;
    }
    real = alloc >> s->cluster_bits;
    threshold = MAX(real * 10 / 9, real + 2);
    end = (len + s->cluster_size - 1) >> s->cluster_bits;
    for (uint64_t c = 0; c < end && count <= threshold; c++) {
        if (qcow2_get_refcount(bs, c, &rc) < 0) {
            return false;
        }
        count += rc > 0;
    }
    return count > threshold;
}

static int qcow2_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                              uint64_t *pnum, BlockDriverState **file, uint64_t *map)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t e;
    int ret;

    g_mutex_lock(&s->lock);
    if (!s->prealloc_checked) {
        s->metadata_prealloc = detect_metadata_preallocation(bs);
        s->prealloc_checked = true;
    }
    ret = qcow2_get_mapping(bs, offset, bytes, &e, pnum);
    g_mutex_unlock(&s->lock);
    if (ret < 0) {
        return ret;
    }
    switch (qcow2_entry_type(s, e)) {
    case QCOW2_CLUSTER_UNALLOCATED:
        return 0;
    case QCOW2_CLUSTER_ZERO_PLAIN:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        return BDRV_BLOCK_ZERO | BDRV_BLOCK_ALLOCATED;
    case QCOW2_CLUSTER_COMPRESSED:
        return BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED;
    default:
        if (s->h.crypt_method) { /* the file holds cipher text: nothing to map */
            return BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED;
        }
        *file = bs->file;
        *map = (e & L2E_OFFSET_MASK) + (offset & (s->cluster_size - 1));
        return BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED |
               (s->metadata_prealloc ? BDRV_BLOCK_RECURSE : 0);
    }
}

static int qcow2_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    BDRVQcow2State *s = bs->opaque;

    bdi->cluster_size = s->cluster_size;
    return 0;
}

/* An encrypted image's sectors are encrypted whole: the core aligns requests to them. */
static void qcow2_refresh_limits(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    bs->request_alignment = s->h.crypt_method ? 512 : 1;
}

static BlockDriver bdrv_qcow2 = {
    .format_name = "qcow2",
    .instance_size = sizeof(BDRVQcow2State),
    .supports_backing = true,
    .probe = qcow2_probe,
    .open = qcow2_open,
    .close = qcow2_close,
    .preadv = qcow2_preadv,
    .pwritev = qcow2_pwritev,
    .aio_submit = qcow2_aio_submit,
    .flush = qcow2_flush,
    .pdiscard = qcow2_pdiscard,
    .pwrite_zeroes = qcow2_pwrite_zeroes,
    .getlength = qcow2_getlength,
    .truncate = qcow2_truncate,
    .block_status = qcow2_block_status,
    .create_opts = qcow2_create_opts,
    .create = qcow2_create,
    .measure = qcow2_measure,
    .check = qcow2_check_image,
    .snapshot_create = qcow2_snapshot_create,
    .snapshot_goto = qcow2_snapshot_apply,
    .snapshot_delete = qcow2_snapshot_delete,
    .snapshot_list = qcow2_snapshot_list,
    .snapshot_load_tmp = qcow2_snapshot_load_tmp,
    .get_specific_info = qcow2_get_specific_info,
    .is_dirty = qcow2_is_dirty,
    .change_backing_file = qcow2_change_backing_file,
    .make_empty = qcow2_make_empty,
    .amend = qcow2_amend,
    .amend_opts = qcow2_amend_opts,
    .shrink = qcow2_shrink,
    .reopen_read_only = qcow2_reopen_read_only,
    .pwritev_compressed = qcow2_pwritev_compressed,
    .get_info = qcow2_get_info,
    .set_key = qcow2_set_key,
    .refresh_limits = qcow2_refresh_limits,
};

static void __attribute__((constructor)) qcow2_register(void)
{
    bdrv_register(&bdrv_qcow2);
}
