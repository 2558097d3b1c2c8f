/*
 * Whole-image operations on a node, for minivmm-img and the monitor: the consistency check,
 * internal snapshots, format-specific information, changing the backing file recorded in
 * the image, emptying an overlay after a commit, and resizing with an explicit shrink.
 * Drivers implement them as optional BlockDriver hooks (block_int.h); block/image-ops.c
 * checks the node and dispatches. Guest I/O is block.h's business, not this file's.
 */
#ifndef BLOCK_IMAGE_OPS_H
#define BLOCK_IMAGE_OPS_H

#include <stdbool.h>
#include <stdint.h>
#include <json-glib/json-glib.h>
#include "block/block.h"
#include "util/error.h"

typedef struct BlockDriverState BlockDriverState;

/*
 * One image creation option (qemu-img create -o NAME=VALUE): its type as `-o help` shows
 * it ("str", "size", "num", "bool (on/off)"), help text, and the value the "Formatting"
 * line shows when it is not given (NULL: not shown).
 */
typedef struct BlockCreateOpt {
    const char *name;
    const char *type;
    const char *help;
    const char *def;
} BlockCreateOpt;

/* The creation options of format fmt, NULL-terminated, in the order qemu-img's
 * "Formatting" line lists them; NULL when the format cannot create images. */
const BlockCreateOpt *bdrv_create_opts(const char *fmt);
/*
 * Create an image of format fmt. opts holds "size" (int) and the options the caller was
 * given, typed as bdrv_create_opts says: "size" and "num" as ints, "bool" as booleans,
 * "str" as strings. The driver checks the values (QEMU's messages).
 */
int bdrv_create(const char *fmt, const char *filename, JsonObject *opts, Error **errp);

/* qemu-img measure's answer: the file size a new image needs. */
typedef struct BlockMeasureInfo {
    uint64_t required;        /* for in_bs's data (none without in_bs) and the metadata */
    uint64_t fully_allocated; /* with every cluster allocated */
    bool has_bitmaps;         /* qcow2 v3 from a qcow2 v3 source: persistent bitmaps' size */
    uint64_t bitmaps;
} BlockMeasureInfo;
/*
 * How large a new image of format fmt, made with opts (typed as for bdrv_create; "size"
 * when in_bs is NULL), would be, holding in_bs's contents when in_bs is given. "Block
 * driver 'X' does not support size measurement" for formats that cannot tell.
 */
int bdrv_measure(const char *fmt, JsonObject *opts, BlockDriverState *in_bs,
                 BlockMeasureInfo *info, Error **errp);
/*
 * The block status of [offset, offset+bytes) through bs's backing chain, as qemu-img sees
 * it (map, compare, convert, measure): BDRV_BLOCK_* of the first layer holding data or
 * zeroes (ZERO without ALLOCATED when no layer does), *depth its distance from bs, *pnum
 * bytes (> 0) with that status, and with BDRV_BLOCK_OFFSET_VALID the host offset *map in
 * *file.
 */
int bdrv_block_status_chain(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                            uint64_t *pnum, int *depth, uint64_t *map, BlockDriverState **file);
/* The bytes of in_bs that hold data (neither zeroes nor unallocated through its whole chain),
 * counted in whole clusters of cluster_size as qcow2's measure does; or -errno. */
int64_t bdrv_measure_data(BlockDriverState *in_bs, uint64_t cluster_size);

/* qemu-img check's counters. */
typedef struct BdrvCheckResult {
    int corruptions;
    int leaks;
    int check_errors;
    int corruptions_fixed;
    int leaks_fixed;
    uint64_t image_end_offset;
    uint64_t allocated_clusters;
    uint64_t total_clusters;
    uint64_t fragmented_clusters;
    uint64_t compressed_clusters;
} BdrvCheckResult;

/* What bdrv_check may repair. */
enum { BDRV_FIX_LEAKS = 1, BDRV_FIX_ERRORS = 2 };

/* One internal snapshot, as QEMU's QEMUSnapshotInfo. */
typedef struct BlockSnapshotInfo {
    char *id;
    char *name;
    uint64_t vm_state_size;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t icount;          /* UINT64_MAX: none */
} BlockSnapshotInfo;

/*
 * Compare metadata with itself; per-problem messages go to report (may be NULL). With fix
 * (BDRV_FIX_*, node opened read-write with BDRV_O_CHECK) repair what fix allows; a repair
 * that leaves no corruption marks the image clean and consistent. -ENOTSUP when the format
 * has no check.
 */
int bdrv_check(BlockDriverState *bs, BdrvCheckResult *res, int fix,
               void (*report)(const char *msg));

/* The format has internal snapshots. */
bool bdrv_can_snapshot(BlockDriverState *bs);
/* name is an id or a tag. Errors: QEMU's texts; -ENOTSUP "Operation not supported" for
 * formats without internal snapshots. */
int bdrv_snapshot_create(BlockDriverState *bs, const char *name, Error **errp);
/* The same, recording the guest's virtual clock (the monitor's snapshots, as QEMU). */
int bdrv_snapshot_create_vm(BlockDriverState *bs, const char *name, uint64_t vm_clock_nsec,
                            Error **errp);
int bdrv_snapshot_goto(BlockDriverState *bs, const char *name, Error **errp);
int bdrv_snapshot_delete(BlockDriverState *bs, const char *name, Error **errp);
/*
 * Let a read-only node read as the snapshot with this id and/or name until it is closed
 * (qemu-img convert -l); the length stays the current one, as QEMU. QEMU's texts.
 */
int bdrv_snapshot_load_tmp(BlockDriverState *bs, const char *id, const char *name,
                           Error **errp);
/* The snapshots in table order: their number (and a new array in *list), or -errno. */
int bdrv_snapshot_list(BlockDriverState *bs, BlockSnapshotInfo **list);
void bdrv_snapshot_list_free(BlockSnapshotInfo *list, int n);
/* The first snapshot matching id and name (either may be NULL, not both), as QEMU matches:
 * 1 and *out filled (bdrv_snapshot_info_clear frees it), 0 when none matches, -errno when
 * the list cannot be read. */
int bdrv_snapshot_find(BlockDriverState *bs, const char *id, const char *name,
                       BlockSnapshotInfo *out);
void bdrv_snapshot_info_clear(BlockSnapshotInfo *sn);

/* The backing file name and format recorded in the image (NULL: none), as stored. */
const char *bdrv_get_backing_filename(const BlockDriverState *bs);
const char *bdrv_get_backing_format(const BlockDriverState *bs);

/* qemu-img info's "format-specific" data object (new reference), or NULL. */
JsonObject *bdrv_get_specific_info(BlockDriverState *bs);
/* The image was not closed cleanly (qcow2 dirty bit): qemu-img info's "dirty-flag". */
bool bdrv_is_dirty(BlockDriverState *bs);

/*
 * Record a new backing file name and format in the image (NULL or "" name: none; the
 * format is ignored then). The open backing node is not changed. Written crash-safely by
 * the driver. -ENOTSUP "Operation not supported" for formats without backing files.
 */
int bdrv_change_backing_file(BlockDriverState *bs, const char *backing_file,
                             const char *backing_fmt, Error **errp);

/* Deallocate everything in the image (what commit does to the top image afterwards). */
int bdrv_make_empty(BlockDriverState *bs, Error **errp);

/* The -o options amend takes for format fmt (a subset of bdrv_create_opts), NULL when
 * its driver cannot amend. */
const char *const *bdrv_amend_opts(const char *fmt);
/*
 * qemu-img amend: the driver changes what opts asks (typed as for bdrv_create; a "size"
 * resizes with bdrv_resize, shrinking allowed, as qemu-img 7.2). "Format driver 'X' does
 * not support option amendment" when it cannot.
 */
int bdrv_amend(BlockDriverState *bs, JsonObject *opts, Error **errp);

/*
 * bdrv_truncate, except that a smaller size is allowed when shrink is true (the data past
 * the new end is lost; without shrink, shrinking fails as bdrv_truncate would), and that
 * growing over a longer backing file zeroes the new area instead of uncovering the backing
 * file's data there (qemu-img 7.2's resize). A grown area's space is taken as mode says.
 */
int bdrv_resize(BlockDriverState *bs, uint64_t size, bool shrink, PreallocMode mode,
                Error **errp);

#endif
