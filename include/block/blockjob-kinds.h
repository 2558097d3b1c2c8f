/*
 * Starting the block job kinds (block/stream.c, commit.c, mirror.c, backup.c). The monitor
 * commands (blockdev/) check their arguments and the op blockers, then call these in the
 * main thread; each returns the started job, or NULL with errp set.
 */
#ifndef BLOCK_BLOCKJOB_KINDS_H
#define BLOCK_BLOCKJOB_KINDS_H

#include "block/blockjob.h"

/*
 * block-stream: copy what the images between the drive's root and base (exclusive; NULL:
 * the whole chain) allocate into the root, then make base its backing file, recording
 * backing_file (NULL: none) as its name.
 */
BlockJob *stream_start(BlockBackend *blk, BlockDriverState *base, const char *backing_file,
                       int64_t speed, BlockdevOnError on_error, Error **errp);

#endif
