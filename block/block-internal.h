/*
 * Declarations shared by the files of the block layer core (the block/ sources) and nobody else:
 * opening under a backend name, format probing, the request path's internal entry points,
 * request gating for drained sections, and the wait/wake helper every blocking wait in the
 * core uses. Drivers use block_int.h; devices and tools use block.h / block-backend.h.
 */
#ifndef BLOCK_BLOCK_INTERNAL_H
#define BLOCK_BLOCK_INTERNAL_H

#include <glib.h>
#include "block/block_int.h"
#include "block/block-backend.h"

/* ---- block.c ---- */
/* bdrv_open for the root of backend `device` (named in error messages). */
BlockDriverState *bdrv_open_device(const char *device, const char *filename, JsonObject *options,
                                   int flags, Error **errp);
/* Every open node, named or not, in opening order (a new list; g_list_free it). */
GList *bdrv_all_nodes(void);

/* ---- snapshot-overlay.c ---- */
/* snapshot=on: put a temporary qcow2 overlay opened with flags over bs and return it; the
 * overlay takes over the caller's reference to bs (dropped on failure). */
BlockDriverState *bdrv_append_temp_snapshot(BlockDriverState *bs, int flags, Error **errp);

/* ---- probe.c ---- */
/* The best-scoring driver (score > 0) for buf, skipping format skip_format; or NULL. */
/* The name of an image format whose signature buf starts with, or NULL (format-magic.c). */
const char *bdrv_find_format_magic(const uint8_t *buf, size_t len);
BlockDriver *bdrv_probe_best(const uint8_t *buf, int len, const char *filename,
                             const char *skip_format);
/* The format of the image in protocol node file (raw when nothing matches). */
BlockDriver *bdrv_probe_image(BlockDriverState *file, Error **errp);

/* ---- io.c ---- */
/* 0, or the errno QEMU 2.2 fails this request with before it reaches a driver. */
int bdrv_check_request(BlockDriverState *bs, BlockReqType type, uint64_t offset, uint64_t bytes);
/* Run a checked request synchronously in the calling thread (no gating or counting). */
int bdrv_run_request(BlockDriverState *bs, BlockReqType type, uint64_t offset, uint64_t bytes,
                     IOVector *qiov, int flags);
/* Whether a checked write must be inspected by the core (zero detection, probed raw,
 * writethrough, FUA) rather than passed to the driver as it is. */
bool bdrv_write_needs_core(BlockDriverState *bs, uint64_t offset, int flags);
void bdrv_refresh_total_bytes(BlockDriverState *bs);
/* A write, zero write, discard or truncate of bs completed (or failed, maybe part way). */
void bdrv_wrote(BlockDriverState *bs);

/* ---- copy-on-read.c ---- */
typedef struct CorRange CorRange;
/* Copy-on-read is on for bs: the flag, a backing node and bs writable. */
bool bdrv_cor_enabled(const BlockDriverState *bs);
/* Content changes of bs are ordered against copies into it: copy-on-read is on, or a job
 * copies into bs (bdrv_cor_ordering_begin). */
bool bdrv_cor_ordered(const BlockDriverState *bs);
/* Main thread: order bs's content changes against bdrv_cor_copy_above() from now on (writes
 * already under way finish first), until the matching end. */
void bdrv_cor_ordering_begin(BlockDriverState *bs);
void bdrv_cor_ordering_end(BlockDriverState *bs);
/* block-stream's copy, inside a request on bs (block_job_io_begin): what the images between
 * bs and base (both exclusive; NULL: the whole chain) allocate in [offset, offset+bytes)
 * and bs does not, read through bs into buf (bytes long) and written into bs, holding the
 * range as a copy-on-read does. *is_read tells where a failure was. */
int bdrv_cor_copy_above(BlockDriverState *bs, BlockDriverState *base, uint64_t offset,
                        uint64_t bytes, void *buf, bool *is_read);
/* A checked read that also copies what came from the backing chain into bs. */
int bdrv_cor_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                    int flags);
/* Hold [offset, offset+bytes) of bs: exclusive for a copy, shared for a write (waits for
 * overlapping holders it conflicts with). */
CorRange *bdrv_cor_range_lock(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                              bool exclusive);
void bdrv_cor_range_unlock(CorRange *r);

/* ---- io-align.c: request_alignment, bounce buffers, read-modify-write ---- */
typedef struct TrackedWrite TrackedWrite;
bool bdrv_req_is_aligned(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                         const IOVector *qiov);
int bdrv_aligned_or_bounced_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                   IOVector *qiov, int flags);
/* Write qiov, by read-modify-write through a bounce buffer when it is not aligned. */
int bdrv_aligned_or_rmw_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                IOVector *qiov, int flags);
/* drv->pwrite_zeroes on an aligned range, ordered against read-modify-writes. */
int bdrv_tracked_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags);
/* Track an aligned write about to be submitted asynchronously; false when it overlaps a
 * read-modify-write in progress (then submit it through the worker pool instead). */
bool bdrv_track_write_nowait(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                             TrackedWrite **tw);
void bdrv_untrack_write(BlockDriverState *bs, TrackedWrite *tw);

/* ---- aio.c ---- */
/* Submit a request that was held during a drained section again, in its context. */
void bdrv_aio_resubmit(BlockRequest *req);

/* ---- drain.c: request gating ---- */
/* Mark the calling thread as running a request on behalf of a driver (nested requests to
 * children are never held by a drained section). */
void bdrv_nesting_enter(void);
void bdrv_nesting_leave(void);
bool bdrv_nesting(void);
/* Set the level (a completion callback runs at the level of its request); returns the old. */
int bdrv_nesting_set(int level);
/*
 * Count a new request in bs's gate. While bs is drained by another thread, a synchronous
 * caller (park == NULL) waits; an asynchronous one is queued on the gate and false is
 * returned (bdrv_aio_resubmit brings it back after the drained section).
 */
bool bdrv_request_enter(BlockDriverState *bs, BlockRequest *park);
void bdrv_request_leave(BlockDriverState *bs);
/*
 * A drive's root changes from old_root to new_root inside a drained section of old_root
 * (snapshot append, mirror and active-commit pivot). The drive's new requests wait at the
 * backend meanwhile (blk_root_change_begin), but one an I/O thread's device sent into an
 * earlier drained section of old_root (another thread's) is still parked there; it was
 * meant for the drive, so it is resubmitted to new_root when the sections end. Left on
 * old_root it would land in an image the drive no longer reads, or in a node freed by then.
 * Only the drive sends requests to its root that can park (a driver's requests to its
 * children never do).
 */
void bdrv_retarget_parked(BlockDriverState *old_root, BlockDriverState *new_root);

/* ---- wait.c: blocking waits that keep the caller's event loop running ---- */
typedef struct WaitPoint {
    GMutex *lock;     /* protects the state the predicate reads */
    GCond *cond;      /* broadcast on every kick */
    GSList **waiters; /* GMainContexts dispatched by waiting threads, woken on a kick */
} WaitPoint;
#define BDRV_WAIT_POINT(bs) (&(WaitPoint){&(bs)->lock, &(bs)->drained_cond, &(bs)->drain_waiters})

typedef bool WaitBusyFn(void *opaque);
/*
 * With *wp->lock held: return once busy(opaque) is false (evaluated with the lock held).
 * Meanwhile the thread dispatches its thread-default GMainContext if it can acquire it
 * (so completions it owns keep running), else sleeps on wp->cond.
 */
void wait_point_wait_locked(const WaitPoint *wp, WaitBusyFn *busy, void *opaque);
/* With *wp->lock held: wake every waiter to re-evaluate its predicate. */
void wait_point_kick_locked(const WaitPoint *wp);
/* Wait until *counter is zero (takes the lock). */
void wait_point_wait_zero(const WaitPoint *wp, int *counter);
/*
 * Gates (Gate, block_int.h), with wp the wait point of the lock that guards them. Enter:
 * count a request in g->passing; while another thread has g closed, an asynchronous request
 * (hold) is queued on g->held and false returned, a synchronous one (hold == NULL) waits
 * until g opens. Leave: uncount it. Close: wait until no other thread has g closed, close
 * it (nests), then wait until nothing passes. Open: undo one close; once open, the requests
 * it held, in order, for the caller to resume.
 */
bool gate_enter(Gate *g, const WaitPoint *wp, void *hold);
void gate_leave(Gate *g, const WaitPoint *wp);
void gate_close(Gate *g, const WaitPoint *wp);
GQueue gate_open(Gate *g, const WaitPoint *wp);
/*
 * While on, this thread's waits sleep on the condition as a worker's do, without
 * dispatching its context: it is running a worker's job in the middle of a dispatch (see
 * bdrv_aio_run_in_pool). Nests.
 */
void wait_point_sleep_only(bool on);

/* ---- block-backend.c, block-backend-io.c ---- */
typedef struct BlkThrottle BlkThrottle; /* throttle-groups.c */

struct BlockBackend {
    char *name; /* "" once hidden by drive_del */
    int refcnt;
    BlockDriverState *root; /* NULL: no medium */
    DriveInfo *legacy_dinfo;
    bool enable_write_cache; /* kept while there is no medium */

    void *dev; /* the attached device model */
    const BlockDevOps *dev_ops;
    void *dev_opaque;

    BlockdevOnError on_read_error, on_write_error;
    bool iostatus_enabled;
    BlockDeviceIoStatus iostatus;

    GMutex lock; /* stats, root changes, and waits for in_flight */
    GCond cond;
    GSList *waiters;
    int in_flight; /* device requests not yet completed (atomic) */
    Gate root_gate; /* users of blk->root; closed while the root changes */
    BlockAcctStats stats;
    BlkThrottle *throttle; /* I/O limits; NULL until first set (atomic pointer) */
};

#define BLK_WAIT_POINT(blk) (&(WaitPoint){&(blk)->lock, &(blk)->cond, &(blk)->waiters})

/*
 * Between blk_root_change_begin and blk_root_change_end the thread that called them may
 * change blk->root (an external snapshot's append, a mirror or active-commit pivot, a
 * medium's removal): device requests that read blk->root meanwhile from other threads are
 * held at the backend (asynchronous ones queued, resumed in their submitter's context at
 * the end; synchronous ones waiting), and then go to whatever root there is. Begin returns
 * once no request is between reading blk->root and being done with that node's submission,
 * so none can enter the old root after the change, nor a node freed by then. Main thread;
 * call it before draining the old root (a request it waits for may be waiting on that
 * drain). Nests; blk may be NULL (a node that is no drive's root).
 */
void blk_root_change_begin(BlockBackend *blk);
void blk_root_change_end(BlockBackend *blk);
/*
 * blk->root (or NULL) for a look at it from any thread (its length, say), not for a
 * request: it stays valid until blk_root_put, as a root change's end waits for that. Never
 * waits itself.
 */
BlockDriverState *blk_root_get(BlockBackend *blk);
void blk_root_put(BlockBackend *blk);

#endif
