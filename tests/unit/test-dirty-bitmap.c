/*
 * Unit tests for the dirty bitmap (block/dirty-bitmap.c): granule rounding, counts with a
 * short last granule, finding and taking runs, whether a range is all dirty, and concurrent
 * setters.
 */
#include <glib.h>
#include "block/dirty-bitmap.h"

static void test_set_rounds_to_granules(void)
{
    BdrvDirtyBitmap *bm = bdrv_dirty_bitmap_new(1 << 20, 4096);
    uint64_t start = 0;

    g_assert_cmpuint(bdrv_dirty_bitmap_count(bm), ==, 0);
    bdrv_dirty_bitmap_set(bm, 4095, 2); /* touches granules 0 and 1 */
    g_assert_cmpuint(bdrv_dirty_bitmap_count(bm), ==, 8192);
    g_assert_cmpuint(bdrv_dirty_bitmap_next(bm, 0, 1 << 20, &start, false), ==, 8192);
    g_assert_cmpuint(start, ==, 0);
    bdrv_dirty_bitmap_set(bm, 4096, 4096); /* already dirty: no double count */
    g_assert_cmpuint(bdrv_dirty_bitmap_count(bm), ==, 8192);
    bdrv_dirty_bitmap_reset(bm, 0, 4096);
    g_assert_cmpuint(bdrv_dirty_bitmap_count(bm), ==, 4096);
    bdrv_dirty_bitmap_set(bm, 0, 0);
    g_assert_cmpuint(bdrv_dirty_bitmap_count(bm), ==, 4096);
    bdrv_dirty_bitmap_free(bm);
}

static void test_short_last_granule(void)
{
    BdrvDirtyBitmap *bm = bdrv_dirty_bitmap_new(65536 + 1000, 65536);
    uint64_t start = 0;

    bdrv_dirty_bitmap_set(bm, 0, UINT64_MAX / 2);
    g_assert_cmpuint(bdrv_dirty_bitmap_count(bm), ==, 65536 + 1000);
    g_assert_cmpuint(bdrv_dirty_bitmap_next(bm, 0, 1 << 20, &start, true), ==, 65536 + 1000);
    g_assert_cmpuint(bdrv_dirty_bitmap_count(bm), ==, 0);
    bdrv_dirty_bitmap_set(bm, 66000, 1);
    g_assert_cmpuint(bdrv_dirty_bitmap_count(bm), ==, 1000);
    bdrv_dirty_bitmap_free(bm);
}

static void test_next_runs_and_take(void)
{
    BdrvDirtyBitmap *bm = bdrv_dirty_bitmap_new(100 * 512, 512);
    uint64_t start = 0;

    bdrv_dirty_bitmap_set(bm, 10 * 512, 5 * 512);
    bdrv_dirty_bitmap_set(bm, 70 * 512, 512);
    /* The run is cut at max_bytes. */
    g_assert_cmpuint(bdrv_dirty_bitmap_next(bm, 0, 3 * 512, &start, true), ==, 3 * 512);
    g_assert_cmpuint(start, ==, 10 * 512);
    g_assert_cmpuint(bdrv_dirty_bitmap_next(bm, 0, 1 << 20, &start, false), ==, 2 * 512);
    g_assert_cmpuint(start, ==, 13 * 512);
    g_assert_cmpuint(bdrv_dirty_bitmap_next(bm, 15 * 512, 1 << 20, &start, true), ==, 512);
    g_assert_cmpuint(start, ==, 70 * 512);
    g_assert_cmpuint(bdrv_dirty_bitmap_next(bm, 71 * 512, 1 << 20, &start, false), ==, 0);
    /* less than a granule asked for: nothing */
    g_assert_cmpuint(bdrv_dirty_bitmap_next(bm, 0, 100, &start, false), ==, 0);
    g_assert_cmpuint(bdrv_dirty_bitmap_count(bm), ==, 2 * 512);
    bdrv_dirty_bitmap_free(bm);
}

static void test_word_boundaries(void)
{
    BdrvDirtyBitmap *bm = bdrv_dirty_bitmap_new(200ULL * 4096, 4096);
    uint64_t start = 0;

    bdrv_dirty_bitmap_set(bm, 63 * 4096, 3 * 4096); /* bits 63..65 straddle words */
    g_assert_cmpuint(bdrv_dirty_bitmap_next(bm, 0, 1 << 30, &start, false), ==, 3 * 4096);
    g_assert_cmpuint(start, ==, 63 * 4096);
    bdrv_dirty_bitmap_set(bm, 199 * 4096, 4096);
    g_assert_cmpuint(bdrv_dirty_bitmap_next(bm, 66 * 4096, 1 << 30, &start, false), ==, 4096);
    g_assert_cmpuint(start, ==, 199 * 4096);
    bdrv_dirty_bitmap_free(bm);
}

static void test_all_set(void)
{
    BdrvDirtyBitmap *bm = bdrv_dirty_bitmap_new(200ULL * 4096 + 100, 4096);

    bdrv_dirty_bitmap_set(bm, 62 * 4096, 4 * 4096); /* bits 62..65 straddle words */
    g_assert_true(bdrv_dirty_bitmap_all_set(bm, 62 * 4096, 4 * 4096));
    g_assert_true(bdrv_dirty_bitmap_all_set(bm, 63 * 4096 + 5, 4096));  /* bits 63, 64 */
    g_assert_false(bdrv_dirty_bitmap_all_set(bm, 61 * 4096 + 4095, 2)); /* bit 61 clean */
    g_assert_false(bdrv_dirty_bitmap_all_set(bm, 65 * 4096, 4097));     /* bit 66 clean */
    g_assert_false(bdrv_dirty_bitmap_all_set(bm, 62 * 4096, 0));
    /* the short last granule, and ranges past the end */
    bdrv_dirty_bitmap_set(bm, 200 * 4096, 1);
    g_assert_true(bdrv_dirty_bitmap_all_set(bm, 200 * 4096, 100));
    g_assert_false(bdrv_dirty_bitmap_all_set(bm, 200 * 4096, 101));
    g_assert_false(bdrv_dirty_bitmap_all_set(bm, 201 * 4096, 1));
    g_assert_false(bdrv_dirty_bitmap_all_set(bm, 200 * 4096, UINT64_MAX));
    bdrv_dirty_bitmap_free(bm);
}

static gpointer setter(gpointer opaque)
{
    BdrvDirtyBitmap *bm = opaque;

    for (int i = 0; i < 10000; i++) {
        bdrv_dirty_bitmap_set(bm, (uint64_t)(i % 1000) * 512, 512);
    }
    return NULL;
}

static void test_concurrent_setters(void)
{
    BdrvDirtyBitmap *bm = bdrv_dirty_bitmap_new(1000 * 512, 512);
    GThread *t[4];

    for (int i = 0; i < 4; i++) {
        t[i] = g_thread_new("setter", setter, bm);
    }
    for (int i = 0; i < 4; i++) {
        g_thread_join(t[i]);
    }
    g_assert_cmpuint(bdrv_dirty_bitmap_count(bm), ==, 1000 * 512);
    bdrv_dirty_bitmap_free(bm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dirty-bitmap/set-rounds", test_set_rounds_to_granules);
    g_test_add_func("/dirty-bitmap/short-last", test_short_last_granule);
    g_test_add_func("/dirty-bitmap/next-take", test_next_runs_and_take);
    g_test_add_func("/dirty-bitmap/word-boundaries", test_word_boundaries);
    g_test_add_func("/dirty-bitmap/all-set", test_all_set);
    g_test_add_func("/dirty-bitmap/concurrent", test_concurrent_setters);
    return g_test_run();
}
