/*
 * I/O vectors: building them (append buffers or slices of other vectors), copying between a
 * vector and a flat buffer at a byte offset, filling with a byte, and testing for all-zero
 * payloads (detect-zeroes). Not an allocator of data buffers: a vector only points at memory
 * its owner manages.
 */
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include "util/iov.h"

void iov_init(IOVector *v, int hint)
{
    v->nalloc = MAX(hint, 1);
    v->iov = g_new(struct iovec, v->nalloc);
    v->niov = 0;
    v->size = 0;
}

void iov_init_buf(IOVector *v, void *buf, size_t len)
{
    iov_init(v, 1);
    iov_add(v, buf, len);
}

void iov_add(IOVector *v, void *base, size_t len)
{
    if (v->niov == v->nalloc) {
        v->nalloc = 2 * v->nalloc + 1;
        v->iov = g_renew(struct iovec, v->iov, v->nalloc);
    }
    v->iov[v->niov].iov_base = base;
    v->iov[v->niov].iov_len = len;
    v->niov++;
    v->size += len;
}

void iov_add_slice(IOVector *v, const IOVector *src, size_t offset, size_t len)
{
    for (int i = 0; i < src->niov && len > 0; i++) {
        size_t elen = src->iov[i].iov_len;

        if (offset >= elen) {
            offset -= elen;
            continue;
        }
        size_t n = MIN(elen - offset, len);
        iov_add(v, (uint8_t *)src->iov[i].iov_base + offset, n);
        len -= n;
        offset = 0;
    }
}

void iov_reset(IOVector *v)
{
    v->niov = 0;
    v->size = 0;
}

void iov_destroy(IOVector *v)
{
    g_free(v->iov);
    memset(v, 0, sizeof(*v));
}

/*
 * Walk [offset, offset+len) of v, calling fn on each piece with its position in the walk;
 * returns the number of bytes visited (less than len when v is shorter).
 */
typedef void IovPieceFn(void *piece, size_t n, size_t done, void *opaque);

static size_t iov_walk(const IOVector *v, size_t offset, size_t len, IovPieceFn *fn, void *opaque)
{
    size_t done = 0;

    for (int i = 0; i < v->niov && done < len; i++) {
        size_t elen = v->iov[i].iov_len;

        if (offset >= elen) {
            offset -= elen;
            continue;
        }
        size_t n = MIN(elen - offset, len - done);
        fn((uint8_t *)v->iov[i].iov_base + offset, n, done, opaque);
        done += n;
        offset = 0;
    }
    return done;
}

static void piece_to_buf(void *piece, size_t n, size_t done, void *buf)
{
    memcpy((uint8_t *)buf + done, piece, n);
}

static void piece_from_buf(void *piece, size_t n, size_t done, void *buf)
{
    memcpy(piece, (const uint8_t *)buf + done, n);
}

static void piece_memset(void *piece, size_t n, size_t done, void *c)
{
    memset(piece, *(int *)c, n);
}

size_t iov_to_buf(const IOVector *v, size_t offset, void *buf, size_t len)
{
    return iov_walk(v, offset, len, piece_to_buf, buf);
}

size_t iov_from_buf(IOVector *v, size_t offset, const void *buf, size_t len)
{
    return iov_walk(v, offset, len, piece_from_buf, (void *)buf);
}

size_t iov_memset(IOVector *v, size_t offset, int c, size_t len)
{
    return iov_walk(v, offset, len, piece_memset, &c);
}

bool buffer_is_zero(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t acc = 0;

    /* Byte steps to an 8-byte boundary, then words; OR-accumulate per 64-byte block. */
    while (len > 0 && ((uintptr_t)p & 7)) {
        if (*p++) {
            return false;
        }
        len--;
    }
    while (len >= 64) {
        const uint64_t *w = (const uint64_t *)p;

        acc = w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7];
        if (acc) {
            return false;
        }
        p += 64;
        len -= 64;
    }
    while (len > 0) {
        if (*p++) {
            return false;
        }
        len--;
    }
    return true;
}

bool iov_is_zero(const IOVector *v)
{
    for (int i = 0; i < v->niov; i++) {
        if (!buffer_is_zero(v->iov[i].iov_base, v->iov[i].iov_len)) {
            return false;
        }
    }
    return true;
}
