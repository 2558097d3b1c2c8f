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

typedef enum MirrorSyncMode {
    MIRROR_SYNC_MODE_TOP,
    MIRROR_SYNC_MODE_FULL,
    MIRROR_SYNC_MODE_NONE,
} MirrorSyncMode;

/* Everything a mirror job (drive-mirror, active block-commit) is started with. */
typedef struct MirrorParams {
    BlockDriverState *target; /* open read-write, without its backing chain */
    /* Data in base and below is not copied (sync=top: the source's backing; active commit:
     * the base, which is the target; NULL: copy everything). */
    BlockDriverState *base;
    /* What the target's backing becomes at the pivot (NULL: none). */
    BlockDriverState *target_backing;
    /* mode=existing: block-job-complete first opens the backing chain that the target's
     * header names, failing as 2.2 does if it cannot be opened. */
    bool open_target_backing;
    MirrorSyncMode sync;
    uint32_t granularity;
    uint64_t buf_size;
    int64_t speed;
    BlockdevOnError on_source_error, on_target_error;
    bool write_blocking; /* copy-mode=write-blocking */
    bool is_commit;      /* job type "commit" */
} MirrorParams;

/*
 * drive-mirror and active commit: copy the source (the drive's root) to p->target, track
 * guest writes in a dirty bitmap, emit READY once in sync, and on block-job-complete make
 * the target the drive's root. Takes over the caller's reference to p->target.
 */
BlockJob *mirror_start(BlockBackend *blk, const MirrorParams *p, Error **errp);

/*
 * block-commit below the active layer: copy what top and the images between it and base
 * allocate into base (opened read-write for the job as base_rw, a reference the job takes
 * over), then make base the backing node of the image above top, recording backing_file.
 */
BlockJob *commit_start(BlockBackend *blk, BlockDriverState *top, BlockDriverState *base,
                       BlockDriverState *base_rw, const char *backing_file, int64_t speed,
                       Error **errp);

/*
 * HMP `commit`: the commit job's copy, run to its end in the calling thread (no job, no
 * events): what top and the images down to base (exclusive) allocate, into base_rw (base
 * itself, or a writable node of it), grown first if smaller, then flushed. 0 or -errno.
 */
int commit_copy_sync(BlockDriverState *top, BlockDriverState *base, BlockDriverState *base_rw);

/*
 * drive-backup: a point-in-time copy of the drive's root into target (a reference the job
 * takes over): sync=full copies everything, top what the root itself allocates, none only
 * what the guest is about to overwrite (copy-before-write), until cancelled.
 */
BlockJob *backup_start(BlockBackend *blk, BlockDriverState *target, MirrorSyncMode sync,
                       int64_t speed, BlockdevOnError on_source_error,
                       BlockdevOnError on_target_error, Error **errp);

#endif
