/*
 * I/O vectors: a growable array of iovecs with its total size, the currency of every block
 * request. Helpers copy between vectors and flat buffers and test for zeroes.
 */
#ifndef UTIL_IOV_H
#define UTIL_IOV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

typedef struct IOVector {
    struct iovec *iov;
    int niov;
    int nalloc;
    size_t size;   /* sum of iov_len */
} IOVector;

void iov_init(IOVector *v, int hint);
void iov_add(IOVector *v, void *base, size_t len);
/* Append the [offset, offset+len) slice of src. */
void iov_add_slice(IOVector *v, const IOVector *src, size_t offset, size_t len);
void iov_reset(IOVector *v);
void iov_destroy(IOVector *v);
/* A vector of one buffer (no allocation beyond the iovec array). */
void iov_init_buf(IOVector *v, void *buf, size_t len);

size_t iov_to_buf(const IOVector *v, size_t offset, void *buf, size_t len);
size_t iov_from_buf(IOVector *v, size_t offset, const void *buf, size_t len);
size_t iov_memset(IOVector *v, size_t offset, int c, size_t len);
bool iov_is_zero(const IOVector *v);
bool buffer_is_zero(const void *buf, size_t len);

#endif
