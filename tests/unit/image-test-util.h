/*
 * Helpers for unit tests that work on image files in a temporary directory (test-qcow2.c,
 * test-image-ops.c): the directory, opening an image with a driver, and writing and
 * checking byte patterns through the block layer.
 */
#ifndef TESTS_UNIT_IMAGE_TEST_UTIL_H
#define TESTS_UNIT_IMAGE_TEST_UTIL_H

#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "block/block.h"

static char *tmpdir;

static inline char *tmp_image(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static inline void tmpdir_create(const char *template)
{
    tmpdir = g_dir_make_tmp(template, NULL);
    g_assert_nonnull(tmpdir);
}

/* Remove the directory and every file in it. */
static inline void tmpdir_remove(void)
{
    GDir *dir = g_dir_open(tmpdir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = tmp_image(name);
        g_remove(path);
    }
    if (dir) {
        g_dir_close(dir);
    }
    g_rmdir(tmpdir);
    g_free(tmpdir);
}

static inline BlockDriverState *open_image_fmt(const char *path, const char *fmt, int flags)
{
    JsonObject *o = json_object_new();
    Error *err = NULL;
    BlockDriverState *bs;

    json_object_set_string_member(o, "driver", fmt);
    bs = bdrv_open(path, o, flags | BDRV_O_CACHE_WB, &err);
    if (!bs) {
        g_error("open %s: %s", path, error_get_pretty(err));
    }
    return bs;
}

static inline void assert_pattern(BlockDriverState *bs, uint64_t off, uint64_t len, int byte)
{
    g_autofree uint8_t *buf = g_malloc(len);

    g_assert_cmpint(bdrv_pread(bs, off, buf, len), ==, 0);
    for (uint64_t i = 0; i < len; i++) {
        if (buf[i] != byte) {
            g_error("offset %" G_GUINT64_FORMAT ": %#x, expected %#x", off + i, buf[i], byte);
        }
    }
}

static inline void write_pattern(BlockDriverState *bs, uint64_t off, uint64_t len, int byte)
{
    g_autofree uint8_t *buf = g_malloc(len);

    memset(buf, byte, len);
    g_assert_cmpint(bdrv_pwrite(bs, off, buf, len), ==, 0);
}

#endif
