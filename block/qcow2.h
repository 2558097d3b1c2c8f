/*
 * qcow2 driver internals, shared by block/qcow2*.c and the minivmm-img subcommands that need
 * the format itself (create, check, info). One file per concept: qcow2.c (driver ops and the
 * guest I/O path), qcow2-header.c (header parsing, validation, extensions, header updates),
 * qcow2-cluster.c (L1/L2 mapping), qcow2-refcount.c (refcounts and cluster allocation),
 * qcow2-cache.c (write-back table caches), qcow2-overlap.c (the overlap check),
 * qcow2-options.c (runtime options), qcow2-check.c (consistency check and refcount
 * rebuild), qcow2-create.c (image creation), qcow2-snapshot.c (internal snapshots),
 * qcow2-compress.c (compressed cluster writes), qcow2-crypt.c (encryption). Not a public
 * interface.
 */
#ifndef BLOCK_QCOW2_H
#define BLOCK_QCOW2_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "block/block_int.h"

#define QCOW_MAGIC 0x514649fbu
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_HEADER_LEN 104
#define QCOW2_MAX_L1_BYTES (32 * 1024 * 1024)
#define QCOW2_MAX_REFTABLE_BYTES (8 * 1024 * 1024)
/* The check and the refcount rewrite keep a count of 8 bytes per cluster of the file: 2 GiB
 * at most, 2^28 clusters (16 TiB of file at 64 KiB clusters). A larger file (a sparse one,
 * after a write a hostile L2 entry sent far out) is refused with EFBIG rather than tried. */
#define QCOW2_MAX_COUNTED_CLUSTERS (UINT64_C(1) << 28)

#define QCOW_OFLAG_COPIED (UINT64_C(1) << 63)
#define QCOW_OFLAG_COMPRESSED (UINT64_C(1) << 62)
#define QCOW_OFLAG_ZERO UINT64_C(1)
#define L1E_OFFSET_MASK UINT64_C(0x00fffffffffffe00)
#define L2E_OFFSET_MASK UINT64_C(0x00fffffffffffe00)
#define L1E_RESERVED_MASK UINT64_C(0x7f000000000001ff)
#define L2E_STD_RESERVED_MASK UINT64_C(0x3f000000000001fe) /* a standard (not compressed) entry */
#define REFT_OFFSET_MASK UINT64_C(0xfffffffffffffe00)
#define REFT_RESERVED_MASK UINT64_C(0x1ff)

#define QCOW2_INCOMPAT_DIRTY (UINT64_C(1) << 0)
#define QCOW2_INCOMPAT_CORRUPT (UINT64_C(1) << 1)
#define QCOW2_INCOMPAT_KNOWN (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT)
#define QCOW2_COMPAT_LAZY_REFCOUNTS (UINT64_C(1) << 0)

#define QCOW2_EXT_END 0
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE 0x6803f857u

typedef enum Qcow2ClusterType {
    QCOW2_CLUSTER_UNALLOCATED,
    QCOW2_CLUSTER_ZERO_PLAIN,
    QCOW2_CLUSTER_ZERO_ALLOC,
    QCOW2_CLUSTER_NORMAL,
    QCOW2_CLUSTER_COMPRESSED,
} Qcow2ClusterType;

typedef struct Qcow2Cache Qcow2Cache;

/* Why clusters are freed; the pass-discard-* options decide which reasons reach the file. */
typedef enum Qcow2DiscardType {
    QCOW2_DISCARD_NEVER,    /* replaced by copy-on-write: never discarded */
    QCOW2_DISCARD_ALWAYS,   /* shrink, repair: always discarded */
    QCOW2_DISCARD_REQUEST,  /* guest discard and zero writes (pass-discard-request) */
    QCOW2_DISCARD_SNAPSHOT, /* snapshot delete/apply, emptying (pass-discard-snapshot) */
    QCOW2_DISCARD_OTHER,    /* old tables after growth or copy (pass-discard-other) */
    QCOW2_DISCARD_MAX,
} Qcow2DiscardType;

/* Metadata kinds the overlap check can protect (overlap-check.*), QEMU's bit order. */
enum {
    QCOW2_OL_MAIN_HEADER = 1 << 0,
    QCOW2_OL_ACTIVE_L1 = 1 << 1,
    QCOW2_OL_ACTIVE_L2 = 1 << 2,
    QCOW2_OL_REFCOUNT_TABLE = 1 << 3,
    QCOW2_OL_REFCOUNT_BLOCK = 1 << 4,
    QCOW2_OL_SNAPSHOT_TABLE = 1 << 5,
    QCOW2_OL_INACTIVE_L1 = 1 << 6,
    QCOW2_OL_INACTIVE_L2 = 1 << 7, /* reads the snapshots' L1 tables at each check */
    QCOW2_OL_KINDS = 8,
    QCOW2_OL_CONSTANT = QCOW2_OL_MAIN_HEADER | QCOW2_OL_ACTIVE_L1 | QCOW2_OL_REFCOUNT_TABLE |
                        QCOW2_OL_SNAPSHOT_TABLE,
    QCOW2_OL_CACHED = QCOW2_OL_CONSTANT | QCOW2_OL_ACTIVE_L2 | QCOW2_OL_REFCOUNT_BLOCK |
                      QCOW2_OL_INACTIVE_L1,
    QCOW2_OL_ALL = QCOW2_OL_CACHED | QCOW2_OL_INACTIVE_L2,
};

/* The runtime options (qcow2-options.c), as an open applies them. */
typedef struct Qcow2RuntimeOpts {
    bool lazy_refcounts;
    bool pass_discard[QCOW2_DISCARD_MAX];
    int overlap_check;      /* QCOW2_OL_* */
    uint64_t l2_tables;     /* cache entries; 0: minivmm's default for the cluster size */
    uint64_t refblock_tables;
} Qcow2RuntimeOpts;

typedef struct Qcow2Header {
    uint32_t version;
    uint64_t backing_file_offset;
    uint32_t backing_file_size;
    uint32_t cluster_bits;
    uint64_t size;
    uint32_t crypt_method;
    uint32_t l1_size;
    uint64_t l1_table_offset;
    uint64_t refcount_table_offset;
    uint32_t refcount_table_clusters;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint64_t incompatible_features;
    uint64_t compatible_features;
    uint64_t autoclear_features;
    uint32_t refcount_order;
    uint32_t header_length;
} Qcow2Header;

typedef struct Qcow2Snapshot {
    uint64_t l1_offset;
    uint32_t l1_size;
    char *id;
    char *name;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t vm_state_size;
    uint64_t disk_size;
    uint64_t icount;       /* -1: none */
    uint8_t *extra;        /* extra data, kept verbatim beyond what we know */
    uint32_t extra_len;
} Qcow2Snapshot;

typedef struct BDRVQcow2State {
    GMutex lock;           /* all metadata below; dropped around in-place guest data I/O */
    GCond io_cond;         /* signalled when unlocked data I/O finishes */
    int unlocked_io;       /* data requests running without the lock */
    GSList *io_waiters;    /* event loops dispatched by qcow2_wait_unlocked_io callers */
    GSList *allocating;    /* guest ranges whose new clusters are being written, unlinked */
    GSList *claims;        /* asynchronous writes run in the worker pool (qcow2-aio.c) */

    Qcow2Header h;
    uint8_t *header_tail;  /* bytes past the known header fields, kept verbatim */
    uint32_t header_tail_len;
    GByteArray *unknown_exts; /* unknown header extensions, kept verbatim */
    char *backing_file;
    char *backing_format;

    int cluster_bits;
    uint64_t cluster_size;
    int l2_bits;           /* log2 of entries per L2 table */
    int refcount_order;
    int refblock_bits;     /* log2 of entries per refcount block */
    int csize_shift;       /* compressed descriptor: sector-count field position */
    uint64_t csize_mask;
    uint64_t cluster_offset_mask;

    uint64_t *l1_table;
    uint32_t l1_size;
    uint64_t l1_offset;
    bool l1_dirty;

    uint64_t *reftable;
    uint64_t reftable_offset;
    uint32_t reftable_size;  /* entries */
    uint32_t reftable_used;  /* entries up to the last non-zero one, or more */
    /* The header's fields (s->h) or the refcount table on disk may differ from memory: a
     * write of them failed (it may still have landed, in part), or its flush did. Memory is
     * what counts; qcow2_sync_tables() writes it out before any other metadata. */
    bool header_dirty;
    bool reftable_dirty;
    /* The start of cluster 0 (header, extensions, backing name) as memory has it, while a
     * failed rewrite of the backing file name may have left the disk different. */
    uint8_t *c0_pending;
    uint64_t c0_pending_len;
    Qcow2Cache *l2_cache;
    Qcow2Cache *refblock_cache;
    uint64_t free_cluster_index;
    bool alloc_at_eof;       /* refcount rebuild: never reuse clusters below EOF */
    uint64_t eof_cluster;

    Qcow2Snapshot *snapshots;
    uint32_t nb_snapshots;
    uint64_t snapshots_size;  /* bytes of the snapshot table */

    bool writable;
    bool use_lazy_refcounts; /* lazy-refcounts: mark the image dirty before allocating */
    bool lazy_refcounts;     /* the dirty bit is durable: no refcount->L2 barrier */
    bool pass_discard[QCOW2_DISCARD_MAX]; /* which freed clusters the file discards */
    Qcow2DiscardType discard_type;        /* why clusters are being freed right now */
    int overlap_check;       /* QCOW2_OL_* kinds guest data writes are checked against */
    bool l2_needs_sync;      /* lazy: a new cluster's copied or zeroed content is not yet
                              * flushed; L2 tables are written only after a flush */
    bool corrupt_reported;
    uint8_t *cbuf;           /* decompression scratch: compressed bytes */
    uint8_t *dbuf;           /* last decompressed cluster */
    uint64_t dbuf_entry;     /* its L2 entry, 0 = none */
    uint64_t free_byte_offset; /* compressed writes: next free byte in a shared cluster */
    bool prealloc_checked;   /* block status: metadata_prealloc is known */
    bool metadata_prealloc;  /* data clusters may be holes in the file */
    bool no_zero_range;      /* the file cannot zero a range without writing zeroes */
    GArray *discards;        /* Qcow2Discard: freed clusters whose file discard is queued */
    struct AesKey *crypt_key; /* encrypted images: the key once given (qcow2-crypt.c) */
    int discard_batch;       /* nesting of qcow2_discard_batch_begin */
} BDRVQcow2State;

/* ---- qcow2-options.c ---- */
/* Take the runtime options out of options (the header is read: v2 refuses lazy
 * refcounts), with QEMU's defaults and errors. */
bool qcow2_take_runtime_opts(BlockDriverState *bs, JsonObject *options, int flags,
                             Qcow2RuntimeOpts *o, Error **errp);
/* Set the reason for the frees that follow; returns the previous one, to restore. */
Qcow2DiscardType qcow2_discard_type_set(BDRVQcow2State *s, Qcow2DiscardType type);

/* ---- qcow2.c ---- */
/* n big-endian 64-bit entries at off (an L1 or refcount table), in host order, into a new
 * array (at least one entry). */
int qcow2_load_table(BlockDriverState *bs, uint64_t off, uint64_t n, uint64_t **table);
int qcow2_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                  int flags);
/* false with QEMU 7.2's message for a v2 image with snapshots (no resizing those). */
bool qcow2_can_resize(BDRVQcow2State *s, Error **errp);
/* Set the dirty bit before the first allocation when lazy refcounts are on. */
int qcow2_mark_dirty(BlockDriverState *bs);

/* ---- qcow2-refcount-rewrite.c ---- */
/* Rewrite the refcount structures at width 1 << order (amend's refcount_bits); dry_run:
 * only check that every refcount fits, with qemu-img's message if one does not. */
int qcow2_change_refcount_order(BlockDriverState *bs, int order, bool dry_run, Error **errp);
/* A new refcount table and blocks at width 1 << order, holding counts[c] for clusters
 * [0, n), written past the end of the file, then the header switched to them. */
int qcow2_rewrite_refcounts(BlockDriverState *bs, int order, const uint64_t *counts, uint64_t n);
/* Take out of counts the one reference the current refcount table makes to each of its own
 * clusters and to each refcount block it names (aligned ones inside [0, n)). */
void qcow2_refcounts_drop_structure(BDRVQcow2State *s, uint64_t *counts, uint64_t n);

/* ---- qcow2-overlap.c ---- */
/* -EIO (and the image marked corrupt) if a write at [off, off+len) would hit metadata of a
 * kind overlap-check protects, other than the kinds in ign (QCOW2_OL_*: the kind being
 * rewritten in place; 0 for guest data and new clusters); -errno if a snapshot's L1 table
 * cannot be read. */
int qcow2_check_overlap(BlockDriverState *bs, int ign, uint64_t off, uint64_t len);
/* Metadata of kind ign written to the file after that check (ign 0 for guest data and for
 * new clusters, which nothing may reference yet); fua: with FUA. */
int qcow2_pwrite_checked(BlockDriverState *bs, int ign, uint64_t off, const void *buf, uint64_t len,
                         bool fua);

/* ---- qcow2-aio.c ---- */
void qcow2_aio_submit(BlockDriverState *bs, BlockRequest *req);
/* With the lock held: wait until no data I/O runs without it (dispatching the caller's
 * event loop if it has one, so asynchronous completions it owns can still arrive). */
void qcow2_wait_unlocked_io(BlockDriverState *bs);
/* With the lock held: one unlocked data request finished. */
void qcow2_unlocked_io_done(BDRVQcow2State *s);
/*
 * An allocating write's claim on the guest range [guest, guest+len) whose clusters it is
 * replacing: from before it first drops the lock (to read the old content, to write the new
 * clusters) until it has linked the new clusters, other writes of that range wait
 * (qcow2_wait_allocations). Begin and end with the lock held.
 */
typedef struct Qcow2Allocation {
    BDRVQcow2State *s;
    uint64_t guest, len;
} Qcow2Allocation;
void qcow2_allocation_begin(BDRVQcow2State *s, Qcow2Allocation *a, uint64_t guest,
                            uint64_t len);
void qcow2_allocation_end(BDRVQcow2State *s, Qcow2Allocation *a);
/* With the lock held: wait until no such write of [guest, guest+len) is in progress. */
void qcow2_wait_allocations(BlockDriverState *bs, uint64_t guest, uint64_t len);

/* ---- qcow2-compress.c ---- */
int qcow2_pwritev_compressed(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                             IOVector *qiov);

/* ---- qcow2-header.c ---- */
int qcow2_read_header(BlockDriverState *bs, BDRVQcow2State *s, Error **errp);
int qcow2_write_snapshot_location(BlockDriverState *bs, uint32_t nb, uint64_t offset);
/* Record a new backing file name and format (NULL: none) by rewriting cluster 0. */
int qcow2_change_backing_file(BlockDriverState *bs, const char *file, const char *fmt);
/* qemu-img info's format-specific data, and the dirty bit. */
JsonObject *qcow2_get_specific_info(BlockDriverState *bs);
bool qcow2_is_dirty(BlockDriverState *bs);

/* ---- qcow2-amend.c ---- */
/* The driver's amend hook and the -o options it takes (image-ops.h). */
int qcow2_amend(BlockDriverState *bs, JsonObject *opts, Error **errp);
extern const char *const qcow2_amend_opts[];

/* ---- qcow2-snapshot.c ---- */
int qcow2_read_snapshots(BlockDriverState *bs, BDRVQcow2State *s, Error **errp);
void qcow2_free_snapshots(BDRVQcow2State *s);
/* Index of the snapshot whose id or (else) name is name, or -1. */
int qcow2_find_snapshot(BDRVQcow2State *s, const char *name);
int qcow2_snapshot_create(BlockDriverState *bs, const char *name, uint64_t vm_clock_nsec,
                          Error **errp);
int qcow2_snapshot_apply(BlockDriverState *bs, const char *name, Error **errp);
int qcow2_snapshot_delete(BlockDriverState *bs, const char *name, Error **errp);
int qcow2_snapshot_list(BlockDriverState *bs, BlockSnapshotInfo **list);
int qcow2_snapshot_load_tmp(BlockDriverState *bs, const char *id, Error **errp);
/*
 * Rewrite cluster 0 for qcow2 version 2 or 3 (amend's compat): the fixed header in that
 * version's layout, the extensions (v2 without the feature name table) and the backing
 * name, in one write from offset 0. Lock held; memory changes only once it is durable.
 */
int qcow2_rewrite_header(BlockDriverState *bs, int version);
/* Write the compatible feature bits field (v3), durably. */
int qcow2_update_compat(BlockDriverState *bs, uint64_t bits);
/* Write the incompatible feature bits field (v3). */
int qcow2_update_incompat(BlockDriverState *bs, uint64_t bits);
/*
 * The first corruption found, as QEMU: on a writable image fatal ("qcow2: Marking image as
 * corrupt: <why>; ..."), the corrupt bit set and the node unusable (-ENOMEDIUM); on a
 * read-only one only reported. BLOCK_IMAGE_CORRUPTED either way, with the access's offset
 * and size when known (else -1).
 */
void qcow2_signal_corruption(BlockDriverState *bs, int64_t offset, int64_t size,
                             const char *fmt, ...) G_GNUC_PRINTF(4, 5);
int qcow2_write_l1_location(BlockDriverState *bs, uint64_t offset, uint32_t size);
int qcow2_write_size(BlockDriverState *bs, uint64_t size);
int qcow2_write_reftable_location(BlockDriverState *bs, uint64_t offset, uint32_t clusters);
/* The refcount table's location and (v3) the refcount order, in one write of the first
 * sector; the caller updates s->h once that is durable. */
int qcow2_write_refcount_layout(BlockDriverState *bs, uint64_t offset, uint32_t clusters,
                                int order);
/* Clear autoclear bits we do not maintain (bitmaps) before the first write. */
int qcow2_clear_autoclear(BlockDriverState *bs);
/* The header and its extensions, its fields and the refcount table as memory has them, if
 * a write of them may not have reached the disk (c0_pending, header_dirty, reftable_dirty). */
int qcow2_sync_tables(BlockDriverState *bs);

/* ---- qcow2-cache.c ---- */
/* kind: what the tables are (QCOW2_OL_*), for the overlap check of their write-back. NULL if
 * the memory cannot be had. */
Qcow2Cache *qcow2_cache_new(BlockDriverState *bs, int kind, uint64_t entries, uint64_t table_size);
void qcow2_cache_free(Qcow2Cache *c);
/* The table at offset (read on a miss); valid until the next get on this cache. */
int qcow2_cache_get(Qcow2Cache *c, uint64_t offset, void **table, bool read);
void qcow2_cache_mark_dirty(Qcow2Cache *c, void *table);
int qcow2_cache_write(Qcow2Cache *c);
void qcow2_cache_discard(Qcow2Cache *c, uint64_t offset);
/* How many tables c holds at most. */
int qcow2_cache_entries(const Qcow2Cache *c);
/* Whether the table at offset is cached (a get would need no I/O). */
bool qcow2_cache_contains(Qcow2Cache *c, uint64_t offset);
/* Run before writing back a dirty table of c (dependency: refcounts before L2). */
void qcow2_cache_set_before_write(Qcow2Cache *c, int (*fn)(void *opaque), void *opaque);
/* Write every dirty table and the L1 in dependency order, with flush barriers. */
int qcow2_flush_metadata(BlockDriverState *bs);
/* n host-order 64-bit entries (an L1 or refcount table, of QCOW2_OL_* kind) written big-endian
 * at offset. */
int qcow2_write_table64(BlockDriverState *bs, int kind, uint64_t offset, const uint64_t *table,
                        uint32_t n);
/* Refcount blocks written and flushed: whatever an L2 table written next points to is
 * counted on disk. */
int qcow2_flush_refcounts(void *opaque);
/* The L2 cache's before_write: the refcount order, or in lazy mode only what data needs. */
int qcow2_before_l2_write(void *opaque);

/* ---- qcow2-refcount.c ---- */
int qcow2_get_refcount(BlockDriverState *bs, uint64_t cluster, uint64_t *refcount);
int qcow2_update_refcount(BlockDriverState *bs, uint64_t cluster, int64_t delta);
/* Allocate n contiguous clusters (refcount 1); returns the host offset or -errno. */
int64_t qcow2_alloc_clusters(BlockDriverState *bs, uint64_t n);
/* Drop one reference to each cluster in [offset, offset+bytes); call only once the
 * metadata that referenced them no longer does on disk (see qcow2_free_entries). */
int qcow2_free_clusters(BlockDriverState *bs, uint64_t offset, uint64_t bytes);
/* Free the clusters behind old L2 entries: flushes the updated L2 first. */
int qcow2_free_entries(BlockDriverState *bs, const uint64_t *entries, int n);
/*
 * Between begin and end, the file discards of clusters whose refcount drops to 0 are queued
 * and then sent sorted and merged into ranges (one per run of adjacent clusters, not one
 * per cluster). A queued cluster that is allocated again is discarded first. Nestable.
 */
typedef struct Qcow2Discard {
    uint64_t offset, bytes;
} Qcow2Discard;
void qcow2_discard_batch_begin(BDRVQcow2State *s);
void qcow2_discard_batch_end(BlockDriverState *bs);
int qcow2_refcount_set_direct(BlockDriverState *bs, uint64_t cluster, uint64_t value);
uint64_t qcow2_refcount_max(BDRVQcow2State *s);
/* reftable_used from the whole refcount table (after loading or replacing it). */
void qcow2_reftable_count_used(BDRVQcow2State *s);
/* Repair: give cluster c a refcount block allocated past the end of file. */
int qcow2_refblock_for_repair(BlockDriverState *bs, uint64_t c);
/* Grow the refcount table (if needed) to describe clusters [0, clusters). */
int qcow2_reserve_reftable(BlockDriverState *bs, uint64_t clusters);
uint64_t qcow2_get_refcount_ro(const void *block, uint64_t index, int order);
void qcow2_set_refcount_ro(void *block, uint64_t index, int order, uint64_t value);

/* ---- qcow2-cluster.c ---- */
Qcow2ClusterType qcow2_entry_type(BDRVQcow2State *s, uint64_t l2e);
/*
 * Mapping of guest offset: the L2 entry of its cluster and how many following bytes
 * (up to bytes, within one L2 table) have the same type (and contiguous host clusters for
 * normal ones). *l2e = 0 when unallocated.
 */
int qcow2_get_mapping(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *l2e,
                      uint64_t *run);
/* The L2 table for guest offset, allocated (or copied if shared) when needed. */
int qcow2_get_l2_for_write(BlockDriverState *bs, uint64_t offset, uint64_t **l2, int *index);
int qcow2_grow_l1(BlockDriverState *bs, uint64_t min_size);
int qcow2_read_compressed(BlockDriverState *bs, uint64_t l2e, uint8_t **out);
void qcow2_compressed_range(BDRVQcow2State *s, uint64_t l2e, uint64_t *off, uint64_t *len);
uint64_t qcow2_l1_entries_for(BDRVQcow2State *s, uint64_t size);

/* ---- qcow2-prealloc.c ---- */
/* Map every guest cluster of [from, to) that has no host cluster to a new one reading as
 * zeroes, its space in the file taken as mode says (not OFF). Lock held. */
int qcow2_preallocate(BlockDriverState *bs, uint64_t from, uint64_t to, PreallocMode mode,
                      Error **errp);

/* ---- qcow2-check.c ---- */
typedef BdrvCheckResult Qcow2CheckResult;

/* QCOW2_FIX_LOST_TAIL, for the repair of a dirty image at open only: data clusters linked
 * past the end of the file (lazy mode) are kept, the file grown to hold them as zeroes. */
enum { QCOW2_FIX_LEAKS = BDRV_FIX_LEAKS, QCOW2_FIX_ERRORS = BDRV_FIX_ERRORS,
       QCOW2_FIX_LOST_TAIL = 4 };
/* Compare refcounts with references; report with report(), repair per fix. */
int qcow2_check(BlockDriverState *bs, Qcow2CheckResult *res, int fix,
                void (*report)(const char *msg));
/* Rebuild refcounts from the L1/L2 trees (dirty image opened read-write). */
int qcow2_rebuild_refcounts(BlockDriverState *bs);
/* The driver's check hook: qcow2_check, then a clean repair clears the dirty/corrupt bits. */
int qcow2_check_image(BlockDriverState *bs, BdrvCheckResult *res, int fix,
                      void (*report)(const char *msg));

/* ---- qcow2-resize.c ---- */
/* Unmap every guest cluster (commit's emptying of the top image). */
int qcow2_make_empty(BlockDriverState *bs);
/* Shrink the virtual disk to size, unmapping the clusters past it. */
int qcow2_shrink(BlockDriverState *bs, uint64_t size, Error **errp);

/* ---- qcow2-create.c ---- */
typedef struct Qcow2CreateOpts {
    uint64_t size;
    int version;            /* 2 or 3 */
    uint64_t cluster_size;
    bool lazy_refcounts;
    PreallocMode prealloc;
    bool encrypt;           /* crypt_method 1 (QEMU 2.2's encryption=on) */
    int refcount_bits;
    const char *backing_file;
    const char *backing_fmt;
} Qcow2CreateOpts;

int qcow2_create_file(const char *filename, const Qcow2CreateOpts *o, Error **errp);
/* The driver's create hook and its options (image-ops.h). */
extern const BlockCreateOpt qcow2_create_opts[];
int qcow2_create(const char *filename, JsonObject *opts, Error **errp);
/* The checks of cluster_size and refcount_bits that create, measure and amend share, with
 * QEMU's messages (each caller keeps its own order). */
bool qcow2_check_cluster_size(uint64_t cs, Error **errp);
bool qcow2_check_refcount_width(uint64_t bits, Error **errp);
/* v2 images count with 16 bits (create's and measure's words; amend has its own). */
bool qcow2_check_refcount_version(uint64_t bits, int version, Error **errp);
/* A creation option as typed by bdrv_create, or the default (NULL, def, false). */
const char *qcow2_opt_str(JsonObject *opts, const char *name);
uint64_t qcow2_opt_uint(JsonObject *opts, const char *name, uint64_t def);
bool qcow2_opt_bool(JsonObject *opts, const char *name);

/* qcow2-measure.c: the driver's measure hook (image-ops.h's bdrv_measure). */
int qcow2_measure(JsonObject *opts, BlockDriverState *in_bs, BlockMeasureInfo *info,
                  Error **errp);

/* qcow2-snapshot.c: whether snapshot sn's L1 table can be used (it is cluster aligned). An
 * image with an unaligned one opens; what would read that table refuses with "Snapshot L1
 * table offset invalid", the check reports the entry as corrupted. */
bool qcow2_snapshot_l1_ok(const BDRVQcow2State *s, const Qcow2Snapshot *sn);

/* qcow2-crypt.c: the AES encryption of crypt_method 1 (see there). */
#define QCOW2_CRYPT_AES 1
int qcow2_set_key(BlockDriverState *bs, const char *key);
void qcow2_crypt_free(BDRVQcow2State *s);
int qcow2_crypt_ready(BDRVQcow2State *s); /* -ENOKEY: encrypted, no key yet */
void qcow2_crypt_buf(BDRVQcow2State *s, uint64_t guest, uint8_t *buf, uint64_t len,
                     bool encrypt);
int qcow2_crypt_file_io(BlockDriverState *bs, uint64_t host, uint64_t guest, uint64_t n,
                        IOVector *qiov, uint64_t qoff, bool write);
int qcow2_crypt_vector(BDRVQcow2State *s, uint64_t guest, IOVector *v, uint8_t **bounce);
int qcow2_write_zero_cluster(BlockDriverState *bs, uint64_t host, uint64_t guest);
/* qcow2.c: file I/O on [host, host+n) with the lock dropped; called and returns with it. */
int qcow2_unlocked_file_io(BlockDriverState *bs, uint64_t host, uint64_t n, IOVector *qiov,
                           uint64_t qoff, bool write);

#endif
