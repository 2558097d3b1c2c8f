/*
 * qcow2's own encryption (crypt_method 1: QEMU 2.2's "encryption=on"). Every 512-byte sector
 * of a data cluster is encrypted on its own with AES-128 in CBC mode; the key is the
 * password's first 16 bytes, zero-padded, and the initial vector is the sector's guest
 * number (guest offset / 512, little-endian in the first 8 bytes, the rest zero), so a
 * sector's bytes do not depend on where its cluster lies in the file and may be copied
 * between clusters as they are. Metadata and compressed clusters are not encrypted; zero
 * clusters and unallocated ones read as zeroes (or the backing file) without decryption.
 *
 * A weak scheme (no key check: a wrong password reads garbage; the same data at the same
 * sector always looks the same), kept for images made by QEMU 2.2 and qemu-img. The key is
 * used under the driver's lock; until block_passwd gives it, data I/O fails with ENOKEY.
 */
#include <errno.h>
#include <string.h>
#include "block/qcow2.h"
#include "util/aes.h"

#define QCOW2_CRYPT_SECTOR 512
#define QCOW2_CRYPT_PIECE (1 << 20) /* bounce buffers of guest data: at most this */

int qcow2_set_key(BlockDriverState *bs, const char *key)
{
    BDRVQcow2State *s = bs->opaque;
    uint8_t keybuf[16] = {0};
    AesKey *k = g_new0(AesKey, 1);

    memcpy(keybuf, key, MIN(strlen(key), sizeof(keybuf)));
    if (aes_set_key(k, keybuf, sizeof(keybuf)) < 0) {
        g_free(k);
        return -EINVAL;
    }
    explicit_bzero(keybuf, sizeof(keybuf));
    g_mutex_lock(&s->lock);
    qcow2_crypt_free(s);
    s->crypt_key = k;
    g_mutex_unlock(&s->lock);
    return 0;
}

void qcow2_crypt_free(BDRVQcow2State *s)
{
    if (s->crypt_key) {
        explicit_bzero(s->crypt_key, sizeof(*s->crypt_key));
        g_free(s->crypt_key);
        s->crypt_key = NULL;
    }
}

int qcow2_crypt_ready(BDRVQcow2State *s)
{
    return s->h.crypt_method && !s->crypt_key ? -ENOKEY : 0;
}

void qcow2_crypt_buf(BDRVQcow2State *s, uint64_t guest, uint8_t *buf, uint64_t len, bool encrypt)
{
    uint8_t iv[16] = {0};

    g_assert(s->crypt_key && !(guest % QCOW2_CRYPT_SECTOR) && !(len % QCOW2_CRYPT_SECTOR));
    for (uint64_t done = 0; done < len; done += QCOW2_CRYPT_SECTOR) {
        uint64_t sector = GUINT64_TO_LE((guest + done) / QCOW2_CRYPT_SECTOR);

        memcpy(iv, &sector, sizeof(sector));
        if (encrypt) {
            aes_cbc_encrypt(s->crypt_key, iv, buf + done, buf + done, QCOW2_CRYPT_SECTOR);
        } else {
            aes_cbc_decrypt(s->crypt_key, iv, buf + done, buf + done, QCOW2_CRYPT_SECTOR);
        }
    }
}

/* One piece of qcow2_crypt_file_io through buf. */
static int crypt_piece_io(BlockDriverState *bs, uint64_t host, uint64_t guest, uint64_t n,
                          IOVector *qiov, uint64_t qoff, bool write, uint8_t *buf)
{
    BDRVQcow2State *s = bs->opaque;
    IOVector v;
    int ret;

    if (write) {
        iov_to_buf(qiov, qoff, buf, n);
        qcow2_crypt_buf(s, guest, buf, n, true);
    }
    iov_init_buf(&v, buf, n);
    ret = qcow2_unlocked_file_io(bs, host, n, &v, 0, write);
    iov_destroy(&v);
    if (ret >= 0 && !write) {
        qcow2_crypt_buf(s, guest, buf, n, false);
        iov_from_buf(qiov, qoff, buf, n);
    }
    return ret;
}

/*
 * Data I/O of n bytes at host (guest offset guest) through a bounce buffer of at most
 * QCOW2_CRYPT_PIECE bytes: encrypted before a write, decrypted after a read. Lock held on
 * entry and return (dropped for the file I/O itself, as qcow2_unlocked_file_io does).
 */
int qcow2_crypt_file_io(BlockDriverState *bs, uint64_t host, uint64_t guest, uint64_t n,
                        IOVector *qiov, uint64_t qoff, bool write)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t piece = MIN(n, QCOW2_CRYPT_PIECE);
    uint8_t *buf;
    int ret;

    if ((ret = qcow2_crypt_ready(s)) < 0 || (guest | n) % QCOW2_CRYPT_SECTOR) {
        return ret < 0 ? ret : -EINVAL;
    }
    buf = g_aligned_alloc(1, piece, 4096);
    for (uint64_t done = 0; done < n && ret >= 0; done += piece) {
        piece = MIN(n - done, QCOW2_CRYPT_PIECE);
        ret = crypt_piece_io(bs, host + done, guest + done, piece, qiov, qoff + done, write, buf);
    }
    g_aligned_free(buf);
    return ret;
}

/* Lock held: a vector of whole clusters for guest offset guest, replaced by one encrypted
 * copy in *bounce (freed by the caller with g_aligned_free). */
int qcow2_crypt_vector(BDRVQcow2State *s, uint64_t guest, IOVector *v, uint8_t **bounce)
{
    uint64_t n = v->size;
    int ret = qcow2_crypt_ready(s);

    *bounce = NULL;
    if (ret < 0 || !s->h.crypt_method) {
        return ret;
    }
    *bounce = g_aligned_alloc(1, n, 4096);
    iov_to_buf(v, 0, *bounce, n);
    qcow2_crypt_buf(s, guest, *bounce, n, true);
    iov_destroy(v);
    iov_init_buf(v, *bounce, n);
    return 0;
}

/* A cluster of zeroes at host for guest offset guest: encrypted zeroes when the image is
 * encrypted (raw zeroes would decrypt to garbage), else the file's zero write. */
int qcow2_write_zero_cluster(BlockDriverState *bs, uint64_t host, uint64_t guest)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *buf = NULL;
    int ret;

    if (!s->h.crypt_method) {
        return bdrv_pwrite_zeroes(bs->file, host, s->cluster_size, 0);
    }
    if ((ret = qcow2_crypt_ready(s)) < 0) {
        return ret;
    }
    buf = g_malloc0(s->cluster_size);
    qcow2_crypt_buf(s, guest, buf, s->cluster_size, true);
    return bdrv_pwrite(bs->file, host, buf, s->cluster_size);
}
