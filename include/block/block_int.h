/*
 * For block driver authors: the driver operations table and the node structure.
 *
 * A driver implements synchronous, straight-line operations (called from a worker thread,
 * or directly by synchronous callers); the core turns them into asynchronous requests by
 * running them in the worker pool. A driver that can submit truly asynchronously (the
 * file protocol with aio=native or io_uring, and raw forwarding to it) also implements
 * aio_submit. Formats reach their children with the bdrv_* calls of block.h.
 *
 * What the core guarantees a driver: requests are inside the image (except on protocol
 * nodes opened with BDRV_O_PROTOCOL, which may grow), writes never reach a read-only node,
 * and when bs->request_alignment > 1 offsets and lengths are multiples of it (the core does
 * read-modify-write and bounce buffering); with BDRV_O_NOCACHE the buffers are aligned to
 * it too. Flush recursion (format, then its file child), discard policy (BDRV_O_UNMAP),
 * detect-zeroes and writethrough (flush after writes when !enable_write_cache) are handled
 * by the core, and so is BDRV_REQ_FUA (a flush after the write) unless the driver makes such
 * a write stable itself (fua_writes): only those drivers see the flag.
 */
#ifndef BLOCK_BLOCK_INT_H
#define BLOCK_BLOCK_INT_H

#include <glib.h>
#include "block/block.h"
#include "block/image-ops.h"

/*
 * A gate that requests pass, counted (block/wait.c, gate_*): a node's in-flight requests and
 * drained sections, a backend's readers of its root and root changes. While a thread has
 * it closed, other threads' requests are held.
 */
typedef struct Gate {
    int passing;     /* requests inside (atomic) */
    int closed;      /* close depth (atomic) */
    GThread *closer; /* the thread that closed it */
    GQueue held;     /* asynchronous requests queued while closed */
} Gate;

typedef enum BlockReqType {
    BLOCK_REQ_READ,
    BLOCK_REQ_WRITE,
    BLOCK_REQ_FLUSH,
    BLOCK_REQ_DISCARD,
    BLOCK_REQ_WRITE_ZEROES,
} BlockReqType;

/* One asynchronous request travelling down the graph. */
typedef struct BlockRequest {
    BlockDriverState *bs;
    BlockReqType type;
    uint64_t offset;
    uint64_t bytes;
    IOVector *qiov;          /* reads and writes */
    int flags;               /* BDRV_REQ_* */
    GMainContext *ctx;       /* where cb runs */
    BlockCompletionFunc *cb;
    void *opaque;
    int ret;
} BlockRequest;

/* Finish req with ret, from any thread: cb runs in req->ctx (immediately when called from
 * that context's thread while it is being dispatched, else via the context; never inside
 * the call that submitted it). Frees req. */
void bdrv_request_complete(BlockRequest *req, int ret);
/* From aio_submit: run req as the driver's synchronous operation in the worker pool after
 * all (for requests the driver cannot submit asynchronously after looking at them). With
 * done, done(req, ret) runs in req->ctx afterwards instead of the completion and must call
 * bdrv_request_complete. */
typedef void BdrvPoolDoneFunc(BlockRequest *req, int ret);
void bdrv_aio_run_in_pool(BlockRequest *req, BdrvPoolDoneFunc *done);

struct BlockDriver {
    const char *format_name;      /* "raw", "qcow2", "file", "host_device" */
    const char *protocol_name;    /* protocols: the "proto:" prefix they claim, or NULL */
    bool is_protocol;             /* opens a filename rather than a child node */
    size_t instance_size;         /* bytes of bs->opaque, zeroed at open */
    bool supports_backing;        /* format with a backing file */
    /* pwritev makes a write with BDRV_REQ_FUA stable before it returns (the core passes the
     * flag only while the node has a write cache and flushes are not turned off). */
    bool fua_writes;
    /* Runtime options the driver accepts (NULL-terminated): the core treats these keys as
     * consumed after open, so open may read them without deleting them. */
    const char *const *option_names;

    /* Format probing: score 0..100 for the first 2048 bytes of the image (fewer when the
     * image is smaller; 512 when the core checks a write to a probed raw image). */
    int (*probe)(const uint8_t *buf, int buf_size, const char *filename);
    /* Protocols that handle host devices can claim a filename (e.g. /dev/sdX). */
    int (*probe_device)(const char *filename);

    /*
     * Open: options holds the node's own runtime options (driver-specific keys with the
     * generic ones already removed: "driver", "node-name", "cache.*", "aio", "discard",
     * "detect-zeroes", and "filename" for protocols, which find the name to open in
     * bs->filename, without the "proto:" prefix that selected them). Formats find their
     * protocol child already in bs->file (bdrv_open_child(bs, options, "file", ...)
     * returns it too) and open a backing child with bdrv_open_child(..., "backing", ...).
     * Unknown options left in the object after open (and not in option_names) are
     * reported by the core as "Block format 'X' used by device 'Y' doesn't support the
     * option 'Z'" ("Block protocol 'X' doesn't support the option 'Z'" for protocols).
     */
    int (*open)(BlockDriverState *bs, JsonObject *options, int flags, Error **errp);
    void (*close)(BlockDriverState *bs);

    int (*preadv)(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                  int flags);
    int (*pwritev)(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                   int flags);
    int (*flush)(BlockDriverState *bs);          /* this node only; the core recurses */
    int (*pdiscard)(BlockDriverState *bs, uint64_t offset, uint64_t bytes);
    int (*pwrite_zeroes)(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags);
    int64_t (*getlength)(BlockDriverState *bs);
    int64_t (*get_allocated_file_size)(BlockDriverState *bs);
    /* mode other than PREALLOC_MODE_OFF only when growing (bdrv_truncate_prealloc) */
    int (*truncate)(BlockDriverState *bs, uint64_t size, PreallocMode mode, Error **errp);
    int (*block_status)(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                        uint64_t *pnum, BlockDriverState **file, uint64_t *map);
    /*
     * Optional: submit without blocking; completes with bdrv_request_complete(), from any
     * thread. Only reads and writes the core can pass through untouched come here (aligned,
     * no zero detection, no probed-raw check, writeback cache); flush, discard and
     * write-zeroes always run the synchronous ops in the worker pool.
     */
    void (*aio_submit)(BlockDriverState *bs, BlockRequest *req);
    /* Optional: write whole clusters compressed (BDRV_REQ_WRITE_COMPRESSED; the core checks
     * nothing beyond the range: the driver refuses what it cannot store). */
    int (*pwritev_compressed)(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                              IOVector *qiov);
    int (*get_info)(BlockDriverState *bs, BlockDriverInfo *bdi);
    /* Optional, called after open: set bs->request_alignment (default 1) to what the node
     * needs (O_DIRECT: the logical block size). */
    void (*refresh_limits)(BlockDriverState *bs);

    /*
     * Optional whole-image operations (image-ops.h wraps them): called from the main thread
     * or a tool with no guest I/O in flight. create makes a new image file from options
     * typed per create_opts (no node is open). change_backing_file records a name (NULL:
     * none) and format in the image; make_empty deallocates every cluster; shrink is
     * truncate to a smaller size for formats whose truncate refuses that (as QEMU 2.2's
     * qcow2 did).
     */
    const BlockCreateOpt *create_opts;   /* see image-ops.h; NULL-terminated */
    int (*create)(const char *filename, JsonObject *opts, Error **errp);
    /* qemu-img measure (image-ops.h's bdrv_measure): opts as for create */
    int (*measure)(JsonObject *opts, BlockDriverState *in_bs, BlockMeasureInfo *info,
                   Error **errp);
    int (*check)(BlockDriverState *bs, BdrvCheckResult *res, int fix,
                 void (*report)(const char *msg));
    int (*snapshot_create)(BlockDriverState *bs, const char *name, uint64_t vm_clock_nsec,
                           Error **errp);
    int (*snapshot_goto)(BlockDriverState *bs, const char *name, Error **errp);
    int (*snapshot_delete)(BlockDriverState *bs, const char *name, Error **errp);
    int (*snapshot_list)(BlockDriverState *bs, BlockSnapshotInfo **list);
    /* Read the snapshot with this id (bdrv_snapshot_load_tmp found it) in place of the
     * active disk state: read-only node, until close. */
    int (*snapshot_load_tmp)(BlockDriverState *bs, const char *id, Error **errp);
    JsonObject *(*get_specific_info)(BlockDriverState *bs);
    bool (*is_dirty)(BlockDriverState *bs);
    int (*change_backing_file)(BlockDriverState *bs, const char *backing_file,
                               const char *backing_fmt);
    int (*make_empty)(BlockDriverState *bs);
    /* Change what opts (typed as create's) asks of the image; amend_opts names what may
     * be given, the rest of create_opts being create-only. */
    int (*amend)(BlockDriverState *bs, JsonObject *opts, Error **errp);
    const char *const *amend_opts;
    int (*shrink)(BlockDriverState *bs, uint64_t size, Error **errp);
    /* Optional: stop writing to the image (bdrv_reopen_read_only, inside a drained section,
     * after the core flushed it): write back what is cached and mark the image clean. Called
     * for the node, then for its file child (whose locks drop the writer's permissions). */
    int (*reopen_read_only)(BlockDriverState *bs);
    /* Optional, for formats that encrypt (the driver sets bs->encrypted at open): take the
     * key; 0 or -errno. The core sets bs->valid_key on success. */
    int (*set_key)(BlockDriverState *bs, const char *key);
};

#define BDRV_NODE_NAME_MAX 32

/*
 * From now on every request to bs but a flush fails with -ENOMEDIUM, as QEMU's nodes whose
 * driver found fatal corruption (it drops bs->drv): the driver's state stays, for close.
 */
void bdrv_mark_unusable(BlockDriverState *bs);

struct BlockDriverState {
    const BlockDriver *drv;
    void *opaque;                     /* driver state, drv->instance_size bytes */
    char node_name[BDRV_NODE_NAME_MAX];
    char *filename;                   /* as given, or a json:{...} pseudo-filename */
    int open_flags;                   /* BDRV_O_* */
    bool read_only;
    bool probed;                      /* the format was probed, not given */
    bool enable_write_cache;          /* guest-visible cache (cache.writeback) */
    bool encrypted;                   /* the driver needs a key (set_key) for data */
    bool valid_key;                   /* set_key succeeded */
    BlockdevDetectZeroesOptions detect_zeroes;
    BlockDriverState *file;           /* protocol child of a format, or NULL */
    BlockDriverState *backing;        /* backing node, or NULL */
    char *backing_file;               /* backing file name as stored in the image */
    char *backing_format;             /* backing format as stored in the image */
    struct BlockBackend *blk;         /* the backend this node is the root of, if any */
    int refcnt;
    Gate gate;                        /* requests in flight, drained sections (drain.c) */
    int unusable;                     /* atomic: bdrv_mark_unusable() was called */
    int cor_ordering;                 /* atomic: jobs whose copies guest writes wait for */
    int write_gen;                    /* atomic: content changes completed (bdrv_wrote) */
    int flushed_gen;                  /* atomic: write_gen when the last good flush began */
    uint32_t request_alignment;       /* 1 unless the protocol needs more (O_DIRECT) */
    GSList *op_blockers[BLOCK_OP_TYPE_MAX];
    JsonObject *options;              /* the options it was opened with (flattened) */
    GMutex lock;                      /* protects the gate's waits and its held queue */
    GCond drained_cond;

    /* Private to the core (block/): */
    int64_t total_bytes;              /* cached length of non-protocol nodes */
    GSList *drain_waiters;            /* contexts to wake when the gate's state changes */
    GSList *tracked_writes;           /* writes in flight, when request_alignment > 1 */
};

/*
 * For format drivers: open the child named child_name ("file" or "backing") from options
 * "<child_name>.*" (or a reference "<child_name>": "node-name or drive id"), removing them
 * from options. flags are the parent's; the child gets the flags QEMU derives for it
 * (file: protocol, writeback, unmap; backing: read-only). The child is attached as
 * parent->file or parent->backing and owned by the parent (unreferenced when it closes);
 * if already attached, that node is returned. NULL without an error when allow_none and
 * nothing was given.
 */
BlockDriverState *bdrv_open_child(BlockDriverState *parent, JsonObject *options,
                                  const char *child_name, int flags, bool allow_none,
                                  Error **errp);

/*
 * For formats with a backing file, from open: open parent->backing as QEMU 2.2 does. The
 * options "backing" (a node-name or drive id) or "backing.*" are used when given; the image
 * named by the image itself (name, relative to the image's directory) is opened unless
 * they name another file ("backing.file.filename"), in the recorded format fmt unless they
 * give a "backing.driver". Nothing is opened with BDRV_O_NO_BACKING (also set by
 * "backing": "") or when there is neither a name nor options. Failures read "Could not
 * open backing file: <why>". 0 or -errno.
 */
int bdrv_open_backing(BlockDriverState *parent, JsonObject *options, const char *name,
                      const char *fmt, int flags, Error **errp);

#endif
