/*
 * Dirty bitmaps (include/block/dirty-bitmap.h): one bit per granule, a count of set bits,
 * one mutex. Not the write hook (mirror.c registers that).
 */
#include <glib.h>
#include "block/dirty-bitmap.h"

struct BdrvDirtyBitmap {
    GMutex lock;
    uint64_t size;
    uint32_t granularity;
    int gran_bits;
    uint64_t nbits;
    uint64_t dirty; /* set bits */
    uint64_t *words;
};

BdrvDirtyBitmap *bdrv_dirty_bitmap_new(uint64_t size, uint32_t granularity)
{
    BdrvDirtyBitmap *bm = g_new0(BdrvDirtyBitmap, 1);

    g_assert(granularity >= 512 && (granularity & (granularity - 1)) == 0);
    g_mutex_init(&bm->lock);
    bm->size = size;
    bm->granularity = granularity;
    bm->gran_bits = __builtin_ctz(granularity);
    bm->nbits = (size + granularity - 1) >> bm->gran_bits;
    bm->words = g_new0(uint64_t, (bm->nbits + 63) / 64 + 1);
    return bm;
}

void bdrv_dirty_bitmap_free(BdrvDirtyBitmap *bm)
{
    if (bm) {
        g_mutex_clear(&bm->lock);
        g_free(bm->words);
        g_free(bm);
    }
}

uint32_t bdrv_dirty_bitmap_granularity(const BdrvDirtyBitmap *bm)
{
    return bm->granularity;
}

uint64_t bdrv_dirty_bitmap_size(const BdrvDirtyBitmap *bm)
{
    return bm->size;
}

static bool bit_get(BdrvDirtyBitmap *bm, uint64_t i)
{
    return (bm->words[i / 64] >> (i % 64)) & 1;
}

/* With the lock held: set or clear bits [first, last]. */
static void bits_change(BdrvDirtyBitmap *bm, uint64_t first, uint64_t last, bool set)
{
    for (uint64_t i = first; i <= last; i++) {
        uint64_t mask = 1ULL << (i % 64);
        bool was = bm->words[i / 64] & mask;

        if (set && !was) {
            bm->words[i / 64] |= mask;
            bm->dirty++;
        } else if (!set && was) {
            bm->words[i / 64] &= ~mask;
            bm->dirty--;
        }
    }
}

static void bitmap_change(BdrvDirtyBitmap *bm, uint64_t offset, uint64_t bytes, bool set)
{
    uint64_t end = MIN(offset + bytes, bm->size);

    if (bytes == 0 || offset >= end) {
        return;
    }
    g_mutex_lock(&bm->lock);
    bits_change(bm, offset >> bm->gran_bits, (end - 1) >> bm->gran_bits, set);
    g_mutex_unlock(&bm->lock);
}

void bdrv_dirty_bitmap_set(BdrvDirtyBitmap *bm, uint64_t offset, uint64_t bytes)
{
    bitmap_change(bm, offset, bytes, true);
}

void bdrv_dirty_bitmap_reset(BdrvDirtyBitmap *bm, uint64_t offset, uint64_t bytes)
{
    bitmap_change(bm, offset, bytes, false);
}

bool bdrv_dirty_bitmap_all_set(BdrvDirtyBitmap *bm, uint64_t offset, uint64_t bytes)
{
    uint64_t i, last;
    bool all = true;

    if (bytes == 0 || offset >= bm->size || bytes > bm->size - offset) {
        return false;
    }
    last = (offset + bytes - 1) >> bm->gran_bits;
    g_mutex_lock(&bm->lock);
    for (i = offset >> bm->gran_bits; all && i <= last; i++) {
        all = bit_get(bm, i);
    }
    g_mutex_unlock(&bm->lock);
    return all;
}

uint64_t bdrv_dirty_bitmap_count(BdrvDirtyBitmap *bm)
{
    uint64_t n;

    g_mutex_lock(&bm->lock);
    n = bm->dirty << bm->gran_bits;
    if (bm->nbits && bit_get(bm, bm->nbits - 1)) {
        n -= ((uint64_t)bm->nbits << bm->gran_bits) - bm->size;
    }
    g_mutex_unlock(&bm->lock);
    return n;
}

/* With the lock held: the first set bit at or after i, or nbits. */
static uint64_t next_set_bit(BdrvDirtyBitmap *bm, uint64_t i)
{
    while (i < bm->nbits) {
        uint64_t w = bm->words[i / 64] >> (i % 64);

        if (w) {
            return MIN(i + __builtin_ctzll(w), bm->nbits);
        }
        i = (i / 64 + 1) * 64;
    }
    return bm->nbits;
}

uint64_t bdrv_dirty_bitmap_next(BdrvDirtyBitmap *bm, uint64_t offset, uint64_t max_bytes,
                                uint64_t *start, bool take)
{
    uint64_t first, last, max_bits, end;

    if (offset >= bm->size || max_bytes < bm->granularity) {
        return 0;
    }
    max_bits = max_bytes >> bm->gran_bits;
    g_mutex_lock(&bm->lock);
    first = next_set_bit(bm, offset >> bm->gran_bits);
    if (first >= bm->nbits) {
        g_mutex_unlock(&bm->lock);
        return 0;
    }
    for (last = first; last + 1 < bm->nbits && last + 1 - first < max_bits && bit_get(bm, last + 1);
         last++) {
    }
    if (take) {
        bits_change(bm, first, last, false);
    }
    g_mutex_unlock(&bm->lock);
    *start = first << bm->gran_bits;
    end = MIN((last + 1) << bm->gran_bits, bm->size);
    return end - *start;
}
