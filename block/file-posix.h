/*
 * What the file protocol lends to the drivers that create images on a plain file
 * descriptor (raw's create). Private to block/.
 */
#ifndef BLOCK_FILE_POSIX_H
#define BLOCK_FILE_POSIX_H

#include <stdint.h>
#include "block/block.h"
#include "util/error.h"

/*
 * Resize the regular file fd to size, the new space taken as mode says (falloc:
 * posix_fallocate; full: zeroes written, then fsync). Modes other than off refuse to
 * shrink; metadata is refused. On failure the file keeps its old length. qemu-img 7.2's
 * messages.
 */
int file_resize_regular(int fd, uint64_t size, PreallocMode mode, Error **errp);

#endif
