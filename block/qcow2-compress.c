/*
 * qcow2 compressed cluster writes (BDRV_REQ_WRITE_COMPRESSED, used by `minivmm-img convert
 * -c`): each guest cluster is deflated on its own (raw deflate, 4 KiB window, as QEMU) and
 * packed byte-wise after the previous compressed cluster; a cluster that does not shrink
 * below cluster_size - 1 bytes is written as a normal cluster instead. Every host cluster a
 * compressed stream touches gets one reference per compressed guest cluster, so several
 * guest clusters may share a host cluster. The L2 descriptor holds the byte offset and the
 * number of 512-byte sectors beyond the first, exactly as qemu-img writes it. Reading
 * compressed clusters is in qcow2-cluster.c.
 */
#include <errno.h>
#include <string.h>
#include <zlib.h>
#include "block/qcow2.h"

#define QCOW2_DEFLATE_WINDOW_BITS (-12)

/* Deflate one cluster into out (room for out_max bytes): its length, or 0 if it does not
 * fit (the caller then stores the cluster uncompressed). */
static size_t qcow2_deflate(uint8_t *out, size_t out_max, const uint8_t *in, size_t in_len)
{
    z_stream z = {0};
    size_t len = 0;

    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, QCOW2_DEFLATE_WINDOW_BITS, 9,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return 0;
    }
    z.next_in = (uint8_t *)in;
    z.avail_in = in_len;
    z.next_out = out;
    z.avail_out = out_max;
    if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
        len = out_max - z.avail_out;
    }
    deflateEnd(&z);
    return len;
}

/*
 * Host bytes for a compressed stream of size bytes (< one cluster): after the previous
 * stream when it fits, running into a freshly allocated next cluster when that one is
 * contiguous, else at the start of a new cluster. Each cluster touched gains a reference.
 */
static int64_t qcow2_alloc_bytes(BlockDriverState *bs, uint64_t size)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t off = s->free_byte_offset, rc = 0, cs = s->cluster_size;
    uint64_t room = off ? cs - (off & (cs - 1)) : 0;
    int64_t fresh;
    int ret;

    if (off && (ret = qcow2_get_refcount(bs, off >> s->cluster_bits, &rc)) < 0) {
        return ret;
    }
    if (!rc || rc >= qcow2_refcount_max(s)) {
        off = room = 0;
    }
    if (size > room) {
        fresh = qcow2_alloc_clusters(bs, 1);
        if (fresh < 0) {
            return fresh;
        }
        if (!off || (uint64_t)fresh != ((off + cs - 1) & ~(cs - 1))) {
            off = fresh;
            room = cs; /* the new cluster already holds this stream's reference */
        }
    }
    if (room != cs && (ret = qcow2_update_refcount(bs, off >> s->cluster_bits, 1)) < 0) {
        return ret;
    }
    s->free_byte_offset = (off + size) & (cs - 1) ? off + size : 0;
    return off;
}

/* Store size compressed bytes for the guest cluster at offset; called with the lock held. */
static int qcow2_write_compressed_cluster(BlockDriverState *bs, uint64_t offset,
                                          const uint8_t *data, uint64_t size)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t nsec, old, *l2;
    int64_t host;
    int ret, idx;

    if (!s->writable) {
        return -EACCES;
    }
    qcow2_wait_allocations(bs, offset, s->cluster_size);
    if ((ret = qcow2_mark_dirty(bs)) < 0) {
        return ret;
    }
    host = qcow2_alloc_bytes(bs, size);
    if (host < 0) {
        return host;
    }
    nsec = ((host + size - 1) >> BDRV_SECTOR_BITS) - (host >> BDRV_SECTOR_BITS);
    if ((host & ~s->cluster_offset_mask) || nsec > s->csize_mask) {
        return -EFBIG;
    }
    if ((ret = qcow2_pwrite_checked(bs, 0, host, data, size, false)) < 0 ||
        (ret = qcow2_get_l2_for_write(bs, offset, &l2, &idx)) < 0) {
        return ret;
    }
    old = GUINT64_FROM_BE(l2[idx]);
    l2[idx] = GUINT64_TO_BE(host | (nsec << s->csize_shift) | QCOW_OFLAG_COMPRESSED);
    qcow2_cache_mark_dirty(s->l2_cache, l2);
    s->dbuf_entry = 0;
    return qcow2_free_entries(bs, &old, 1);
}

/* The core passes [offset, offset+bytes); only whole clusters, or the short last one. */
static bool qcow2_compressed_range_ok(BDRVQcow2State *s, uint64_t offset, uint64_t bytes)
{
    uint64_t cs = s->cluster_size;

    return !(offset & (cs - 1)) && (!(bytes & (cs - 1)) || offset + bytes == s->h.size);
}

static int qcow2_compress_one(BlockDriverState *bs, uint64_t offset, uint64_t len,
                              IOVector *qiov, uint64_t qoff, uint8_t *in, uint8_t *out)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size;
    size_t out_len;
    IOVector sub;
    int ret;

    memset(in, 0, cs);
    iov_to_buf(qiov, qoff, in, len);
    out_len = qcow2_deflate(out, cs - 1, in, cs);
    if (!out_len) {
        /* Does not shrink: a normal cluster (the zero padding past EOF is not written). */
        iov_init_buf(&sub, in, len);
        ret = qcow2_pwritev(bs, offset, len, &sub, 0);
        iov_destroy(&sub);
        return ret;
    }
    g_mutex_lock(&s->lock);
    ret = qcow2_write_compressed_cluster(bs, offset, out, out_len);
    g_mutex_unlock(&s->lock);
    return ret;
}

int qcow2_pwritev_compressed(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                             IOVector *qiov)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size;
    g_autofree uint8_t *in = NULL, *out = NULL;
    int ret = 0;

    if (!qcow2_compressed_range_ok(s, offset, bytes)) {
        return -EINVAL;
    }
    if (s->h.crypt_method) { /* compressed clusters are stored unencrypted: not here */
        return -ENOTSUP;
    }
    in = g_malloc(cs);
    out = g_malloc(cs);
    for (uint64_t done = 0; done < bytes && ret >= 0; done += cs) {
        ret = qcow2_compress_one(bs, offset + done, MIN(cs, bytes - done), qiov, done, in, out);
    }
    return ret < 0 ? ret : 0;
}
