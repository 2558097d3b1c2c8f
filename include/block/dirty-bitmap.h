/*
 * A dirty bitmap: which granules (a power of two of bytes) of a disk changed. Thread-safe
 * (the mirror job reads and clears it while the guest's write completions set bits from
 * worker threads). Pure data structure, no block layer: the mirror job wires it to a node's
 * write notifier.
 */
#ifndef BLOCK_DIRTY_BITMAP_H
#define BLOCK_DIRTY_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct BdrvDirtyBitmap BdrvDirtyBitmap;

/* A clean bitmap over size bytes; granularity is a power of two >= 512. */
BdrvDirtyBitmap *bdrv_dirty_bitmap_new(uint64_t size, uint32_t granularity);
void bdrv_dirty_bitmap_free(BdrvDirtyBitmap *bm);
uint32_t bdrv_dirty_bitmap_granularity(const BdrvDirtyBitmap *bm);
uint64_t bdrv_dirty_bitmap_size(const BdrvDirtyBitmap *bm);
/* Mark / clear every granule that [offset, offset+bytes) touches (clipped to the size). */
void bdrv_dirty_bitmap_set(BdrvDirtyBitmap *bm, uint64_t offset, uint64_t bytes);
void bdrv_dirty_bitmap_reset(BdrvDirtyBitmap *bm, uint64_t offset, uint64_t bytes);
/* Whether every granule [offset, offset+bytes) touches is dirty (false for an empty range or
 * one past the size). */
bool bdrv_dirty_bitmap_all_set(BdrvDirtyBitmap *bm, uint64_t offset, uint64_t bytes);
/* Dirty bytes (dirty granules times the granularity, the last one clipped). */
uint64_t bdrv_dirty_bitmap_count(BdrvDirtyBitmap *bm);
/*
 * The first dirty run at or after offset, at most max_bytes long: its start in *start, its
 * length returned (granule aligned, clipped to the size); 0 when nothing is dirty there.
 * Clears the run when take is set (atomically with finding it).
 */
uint64_t bdrv_dirty_bitmap_next(BdrvDirtyBitmap *bm, uint64_t offset, uint64_t max_bytes,
                                uint64_t *start, bool take);

#endif
