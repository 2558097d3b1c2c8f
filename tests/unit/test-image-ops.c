/*
 * Unit tests for the whole-image operations (include/block/image-ops.h) on qcow2 and raw
 * images in a temporary directory: creation through the driver hook with typed options and
 * its refusals, change_backing_file (set, replace, remove; other header extensions kept;
 * reopened and read through the new chain), make_empty, shrink (with a snapshot sharing
 * the tree) and grow over a longer backing file, the snapshot hooks, and the operations a
 * format without them refuses. Every scenario ends with the consistency check.
 * qemu-img interoperability is tests/system/test_img_chain.py's business.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "block/block.h"
#include "block/image-ops.h"
#include "image-test-util.h"

static char *create(const char *fmt, const char *name, uint64_t size, const char *backing)
{
    JsonObject *o = json_object_new();
    char *path = tmp_image(name);
    Error *err = NULL;

    json_object_set_int_member(o, "size", size);
    if (!strcmp(fmt, "qcow2")) {
        json_object_set_int_member(o, "cluster_size", 4096);
    }
    if (backing) {
        json_object_set_string_member(o, "backing_file", backing);
        json_object_set_string_member(o, "backing_fmt", "qcow2");
    }
    if (bdrv_create(fmt, path, o, &err) < 0) {
        g_error("create %s: %s", path, error_get_pretty(err));
    }
    json_object_unref(o);
    return path;
}

static void assert_clean(BlockDriverState *bs)
{
    BdrvCheckResult r;

    g_assert_cmpint(bdrv_check(bs, &r, 0, NULL), ==, 0);
    g_assert_cmpint(r.corruptions, ==, 0);
    g_assert_cmpint(r.leaks, ==, 0);
    g_assert_cmpint(r.check_errors, ==, 0);
}

static void fill(const char *path, int byte)
{
    BlockDriverState *bs = open_image_fmt(path, "qcow2", BDRV_O_RDWR | BDRV_O_NO_BACKING);

    write_pattern(bs, 0, bdrv_getlength(bs), byte);
    bdrv_unref(bs);
}

static void test_create_refusals(void)
{
    static const struct {
        const char *key, *value, *message;
    } cases[] = {
        {"compat", "0.9", "Parameter 'version' does not accept value '0.9'"},
        {"preallocation", "fully", "Parameter 'preallocation' does not accept value 'fully'"},
        {"compression_type", "zstd", "Parameter 'compression-type' does not accept value"},
    };
    g_autofree char *path = tmp_image("refused.qcow2");

    g_assert_nonnull(bdrv_create_opts("qcow2"));
    g_assert_nonnull(bdrv_create_opts("raw"));
    g_assert_null(bdrv_create_opts("file"));
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        JsonObject *o = json_object_new();
        Error *err = NULL;
        json_object_set_int_member(o, "size", 1 << 20);
        json_object_set_string_member(o, cases[i].key, cases[i].value);
        g_assert_cmpint(bdrv_create("qcow2", path, o, &err), <, 0);
        g_assert_nonnull(strstr(error_get_pretty(err), cases[i].message));
        error_free(err);
        json_object_unref(o);
    }
}

/* Zero sizes are refused before anything counts their bits (UBSan: ctz of zero). */
static void test_create_refuses_zero_widths(void)
{
    static const struct {
        const char *key, *message;
    } cases[] = {
        {"cluster_size", "Cluster size must be a power of two between 512 and 2048k"},
        {"refcount_bits", "Refcount width must be a power of two and may not exceed 64 bits"},
    };
    g_autofree char *path = tmp_image("zero-width.qcow2");

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        JsonObject *o = json_object_new();
        Error *err = NULL;
        json_object_set_int_member(o, "size", 1 << 20);
        json_object_set_int_member(o, cases[i].key, 0);
        g_assert_cmpint(bdrv_create("qcow2", path, o, &err), ==, -EINVAL);
        g_assert_cmpstr(error_get_pretty(err), ==, cases[i].message);
        error_free(err);
        json_object_unref(o);
    }
}

static void test_change_backing_file(void)
{
    g_autofree char *base = create("qcow2", "cb-base.qcow2", 1 << 20, NULL);
    g_autofree char *other = create("qcow2", "cb-other.qcow2", 1 << 20, NULL);
    g_autofree char *top = create("qcow2", "cb-top.qcow2", 1 << 20, "cb-base.qcow2");
    const char *names[] = {"cb-other.qcow2", NULL, "cb-base.qcow2"};
    BlockDriverState *bs;

    fill(base, 0x11);
    fill(other, 0x22);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        Error *err = NULL;
        bs = open_image_fmt(top, "qcow2", BDRV_O_RDWR | BDRV_O_NO_BACKING);
        g_assert_cmpint(bdrv_change_backing_file(bs, names[i], "qcow2", &err), ==, 0);
        g_assert_cmpstr(bdrv_get_backing_filename(bs), ==, names[i]);
        bdrv_unref(bs);
        bs = open_image_fmt(top, "qcow2", 0);
        g_assert_cmpstr(bdrv_get_backing_filename(bs), ==, names[i]);
        g_assert_cmpstr(bdrv_get_backing_format(bs), ==, names[i] ? "qcow2" : NULL);
        assert_pattern(bs, 0, 1 << 20, !names[i] ? 0 : i == 0 ? 0x22 : 0x11);
        assert_clean(bs);
        bdrv_unref(bs);
    }
}

static void test_make_empty(void)
{
    g_autofree char *base = create("qcow2", "me-base.qcow2", 4 << 20, NULL);
    g_autofree char *top = create("qcow2", "me-top.qcow2", 4 << 20, "me-base.qcow2");
    BlockDriverState *bs;
    Error *err = NULL;
    uint64_t pnum;

    fill(base, 0x33);
    bs = open_image_fmt(top, "qcow2", BDRV_O_RDWR);
    write_pattern(bs, 100 << 10, 3 << 20, 0x44);
    g_assert_cmpint(bdrv_snapshot_create(bs, "s", &err), ==, 0);
    write_pattern(bs, 0, 64 << 10, 0x45);
    g_assert_cmpint(bdrv_make_empty(bs, &err), ==, 0);
    for (uint64_t off = 0; off < (4 << 20); off += pnum) {
        g_assert_cmpint(bdrv_block_status(bs, off, (4 << 20) - off, &pnum), ==, 0);
        g_assert_cmpuint(pnum, >, 0);
    }
    assert_pattern(bs, 0, 4 << 20, 0x33);
    assert_clean(bs);
    g_assert_cmpint(bdrv_snapshot_goto(bs, "s", &err), ==, 0);
    assert_pattern(bs, 100 << 10, 3 << 20, 0x44);
    assert_clean(bs);
    bdrv_unref(bs);
}

static void test_resize(void)
{
    g_autofree char *path = create("qcow2", "rs.qcow2", 8 << 20, NULL);
    BlockDriverState *bs = open_image_fmt(path, "qcow2", BDRV_O_RDWR);
    BlockSnapshotInfo *list;
    Error *err = NULL;

    write_pattern(bs, 0, 8 << 20, 0x55);
    g_assert_cmpint(bdrv_snapshot_create(bs, "before", &err), ==, 0);
    g_assert_cmpint(bdrv_resize(bs, 3 << 20, false, PREALLOC_MODE_OFF, &err), ==, -ENOTSUP);
    g_assert_cmpstr(error_get_pretty(err), ==, "qcow2 doesn't support shrinking images yet");
    g_clear_pointer(&err, error_free);
    g_assert_cmpint(bdrv_resize(bs, 3 << 20, true, PREALLOC_MODE_OFF, &err), ==, 0);
    g_assert_cmpint(bdrv_getlength(bs), ==, 3 << 20);
    assert_clean(bs);
    g_assert_cmpint(bdrv_resize(bs, 16 << 20, false, PREALLOC_MODE_OFF, &err), ==, 0);
    assert_pattern(bs, 0, 3 << 20, 0x55);
    assert_pattern(bs, 3 << 20, 13 << 20, 0);
    assert_clean(bs);
    g_assert_cmpint(bdrv_snapshot_list(bs, &list), ==, 1);
    g_assert_cmpstr(list[0].name, ==, "before");
    bdrv_snapshot_list_free(list, 1);
    g_assert_cmpint(bdrv_snapshot_goto(bs, "before", &err), ==, 0);
    assert_pattern(bs, 0, 8 << 20, 0x55);
    assert_clean(bs);
    bdrv_unref(bs);
}

static void test_grow_over_backing(void)
{
    g_autofree char *base = create("qcow2", "gb-base.qcow2", 4 << 20, NULL);
    g_autofree char *top = create("qcow2", "gb-top.qcow2", 1 << 20, "gb-base.qcow2");
    BlockDriverState *bs;
    Error *err = NULL;

    fill(base, 0x66);
    bs = open_image_fmt(top, "qcow2", BDRV_O_RDWR);
    g_assert_cmpint(bdrv_resize(bs, 6 << 20, false, PREALLOC_MODE_OFF, &err), ==, 0);
    assert_pattern(bs, 0, 1 << 20, 0x66);
    assert_pattern(bs, 1 << 20, 5 << 20, 0);
    assert_clean(bs);
    bdrv_unref(bs);
}

static void test_raw_refuses(void)
{
    g_autofree char *path = create("raw", "r.raw", 1 << 20, NULL);
    BlockDriverState *bs = open_image_fmt(path, "raw", BDRV_O_RDWR);
    BlockSnapshotInfo *list;
    BdrvCheckResult r;
    Error *err = NULL;

    g_assert_false(bdrv_can_snapshot(bs));
    g_assert_cmpint(bdrv_snapshot_list(bs, &list), ==, 0);
    g_assert_cmpint(bdrv_snapshot_create(bs, "s", &err), ==, -ENOTSUP);
    g_assert_cmpstr(error_get_pretty(err), ==, "Operation not supported");
    g_clear_pointer(&err, error_free);
    g_assert_cmpint(bdrv_change_backing_file(bs, "x", "raw", &err), ==, -ENOTSUP);
    g_clear_pointer(&err, error_free);
    g_assert_cmpint(bdrv_check(bs, &r, 0, NULL), ==, -ENOTSUP);
    g_assert_null(bdrv_get_specific_info(bs));
    g_assert_false(bdrv_is_dirty(bs));
    g_assert_cmpint(bdrv_resize(bs, 4096, true, PREALLOC_MODE_OFF, &err), ==, 0);
    g_assert_cmpint(bdrv_getlength(bs), ==, 4096);
    bdrv_unref(bs);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir_create("test-image-ops-XXXXXX");
    g_test_add_func("/image-ops/create-refusals", test_create_refusals);
    g_test_add_func("/image-ops/create-zero-widths", test_create_refuses_zero_widths);
    g_test_add_func("/image-ops/change-backing-file", test_change_backing_file);
    g_test_add_func("/image-ops/make-empty", test_make_empty);
    g_test_add_func("/image-ops/resize", test_resize);
    g_test_add_func("/image-ops/grow-over-backing", test_grow_over_backing);
    g_test_add_func("/image-ops/raw-refuses", test_raw_refuses);
    ret = g_test_run();
    tmpdir_remove();
    return ret;
}
