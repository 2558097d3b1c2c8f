/*
 * For block driver authors: the driver operations table and the node structure.
 *
 * A driver implements synchronous, straight-line operations (called from a worker thread,
 * or directly by synchronous callers); the core turns them into asynchronous requests by
 * running them in the worker pool. A driver that can submit truly asynchronously (the
 * file protocol with aio=native or io_uring, and raw forwarding to it) also implements
 * aio_submit. Formats reach their children with the bdrv_* calls of block.h.
 */
#ifndef BLOCK_BLOCK_INT_H
#define BLOCK_BLOCK_INT_H

#include <glib.h>
#include "block/block.h"

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

/* Finish req with ret: cb runs in req->ctx (immediately when called from that context's
 * thread while it is being dispatched, else via the context). Frees req. */
void bdrv_request_complete(BlockRequest *req, int ret);

struct BlockDriver {
    const char *format_name;      /* "raw", "qcow2", "file", "host_device" */
    const char *protocol_name;    /* protocols: the "proto:" prefix they claim, or NULL */
    bool is_protocol;             /* opens a filename rather than a child node */
    size_t instance_size;         /* bytes of bs->opaque, zeroed at open */
    bool supports_backing;        /* format with a backing file */
    const char *const *option_names; /* runtime options the driver accepts (NULL-terminated) */

    /* Format probing: score 0..100 for the first 2048 bytes of the image. */
    int (*probe)(const uint8_t *buf, int buf_size, const char *filename);
    /* Protocols that handle host devices can claim a filename (e.g. /dev/sdX). */
    int (*probe_device)(const char *filename);

    /*
     * Open: options holds the node's own runtime options (driver-specific keys with the
     * generic ones already removed: "filename" for protocols). Formats open their child
     * with bdrv_open_child(bs, options, "file", ...). Unknown options left in the object
     * after open are reported by the core as "Block format 'X' used by device 'Y' does
     * not support the option 'Z'".
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
    int (*truncate)(BlockDriverState *bs, uint64_t size, Error **errp);
    int (*block_status)(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                        uint64_t *pnum, BlockDriverState **file, uint64_t *map);
    /* Optional: submit without blocking; completes with bdrv_request_complete(). */
    void (*aio_submit)(BlockDriverState *bs, BlockRequest *req);
    /* Optional: request alignment the node needs (O_DIRECT: the logical block size). */
    void (*refresh_limits)(BlockDriverState *bs);
};

#define BDRV_NODE_NAME_MAX 32

struct BlockDriverState {
    const BlockDriver *drv;
    void *opaque;                     /* driver state, drv->instance_size bytes */
    char node_name[BDRV_NODE_NAME_MAX];
    char *filename;                   /* as given, or a json:{...} pseudo-filename */
    int open_flags;                   /* BDRV_O_* */
    bool read_only;
    bool probed;                      /* the format was probed, not given */
    bool enable_write_cache;          /* guest-visible cache (cache.writeback) */
    BlockdevDetectZeroesOptions detect_zeroes;
    BlockDriverState *file;           /* protocol child of a format, or NULL */
    BlockDriverState *backing;        /* backing node, or NULL */
    char *backing_file;               /* backing file name as stored in the image */
    char *backing_format;             /* backing format as stored in the image */
    struct BlockBackend *blk;         /* the backend this node is the root of, if any */
    int refcnt;
    int in_flight;                    /* atomic */
    int quiesce_counter;              /* > 0 while drained: new requests wait */
    uint32_t request_alignment;       /* 1 unless the protocol needs more (O_DIRECT) */
    GSList *op_blockers[BLOCK_OP_TYPE_MAX];
    JsonObject *options;              /* the options it was opened with (flattened) */
    GMutex lock;                      /* protects quiesce waiters and in-flight waits */
    GCond drained_cond;
};

/* For format drivers: open the child named child_name ("file" or "backing") from
 * options "<child_name>.*" (or a node reference "<child_name>": "node-name"). */
BlockDriverState *bdrv_open_child(BlockDriverState *parent, JsonObject *options,
                                  const char *child_name, int flags, bool allow_none,
                                  Error **errp);

#endif
