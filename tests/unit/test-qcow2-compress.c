/*
 * Unit tests for qcow2 compressed cluster writes (block/qcow2-compress.c) through the
 * core's BDRV_REQ_WRITE_COMPRESSED: packing of several streams into one host cluster with
 * one reference per stream, the L2 descriptor's sector count, incompressible clusters stored
 * as normal ones, the short last cluster, refused ranges and formats, overwriting compressed
 * clusters, and a clean consistency check after each. Byte-for-byte equality with the
 * streams qemu-img writes is tests/system/test_img_convert.py's business.
 */
#include <errno.h>
#include <string.h>
#include <zlib.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "block/qcow2.h"

#define CS 65536

static char *tmpdir;

static BlockDriverState *new_image(const char *name, uint64_t size, uint64_t cluster)
{
    Qcow2CreateOpts o = {.size = size, .version = 3, .cluster_size = cluster,
                         .refcount_bits = 16};
    g_autofree char *path = g_build_filename(tmpdir, name, NULL);
    JsonObject *opts = json_object_new();
    Error *err = NULL;
    BlockDriverState *bs;

    g_assert_cmpint(qcow2_create_file(path, &o, &err), ==, 0);
    json_object_set_string_member(opts, "driver", "qcow2");
    bs = bdrv_open(path, opts, BDRV_O_RDWR | BDRV_O_CACHE_WB, &err);
    g_assert_nonnull(bs);
    return bs;
}

static void assert_clean(BlockDriverState *bs)
{
    Qcow2CheckResult r;

    g_assert_cmpint(qcow2_check(bs, &r, 0, NULL), ==, 0);
    g_assert_cmpint(r.corruptions, ==, 0);
    g_assert_cmpint(r.leaks, ==, 0);
    g_assert_cmpint(r.check_errors, ==, 0);
}

static int write_compressed(BlockDriverState *bs, uint64_t off, const uint8_t *buf, uint64_t n)
{
    IOVector qiov;
    int ret;

    iov_init_buf(&qiov, (void *)buf, n);
    ret = bdrv_pwritev(bs, off, &qiov, BDRV_REQ_WRITE_COMPRESSED);
    iov_destroy(&qiov);
    return ret;
}

static void assert_reads(BlockDriverState *bs, uint64_t off, const uint8_t *want, uint64_t n)
{
    g_autofree uint8_t *buf = g_malloc(n);

    g_assert_cmpint(bdrv_pread(bs, off, buf, n), ==, 0);
    g_assert_cmpmem(buf, n, want, n);
}

static uint64_t l2_entry(BlockDriverState *bs, uint64_t off)
{
    uint64_t e, run;

    g_assert_cmpint(qcow2_get_mapping(bs, off, 1, &e, &run), ==, 0);
    return e;
}

static uint64_t refcount_of(BlockDriverState *bs, uint64_t host)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t rc;

    g_assert_cmpint(qcow2_get_refcount(bs, host >> s->cluster_bits, &rc), ==, 0);
    return rc;
}

/* A compressible cluster: text with a seed. */
static uint8_t *text_cluster(int seed)
{
    uint8_t *buf = g_malloc(CS);

    for (int i = 0; i < CS; i++) {
        buf[i] = "minivmm compressed cluster "[(i + seed) % 27] + (i / 4096 == seed % 16);
    }
    return buf;
}

/* Two small streams share one host cluster; each descriptor covers its stream exactly. */
static void test_pack_and_descriptor(void)
{
    BlockDriverState *bs = new_image("pack.qcow2", 4 * CS, CS);
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *a = text_cluster(1), *b = text_cluster(2);
    uint64_t ea, eb, off_a, off_b, len_a, len_b;

    g_assert_cmpint(write_compressed(bs, 0, a, CS), ==, 0);
    g_assert_cmpint(write_compressed(bs, 2 * CS, b, CS), ==, 0);
    ea = l2_entry(bs, 0);
    eb = l2_entry(bs, 2 * CS);
    g_assert_cmpint(qcow2_entry_type(s, ea), ==, QCOW2_CLUSTER_COMPRESSED);
    g_assert_cmpint(qcow2_entry_type(s, eb), ==, QCOW2_CLUSTER_COMPRESSED);
    g_assert_false(ea & QCOW_OFLAG_COPIED);
    qcow2_compressed_range(s, ea, &off_a, &len_a);
    qcow2_compressed_range(s, eb, &off_b, &len_b);
    g_assert_cmpuint(off_a >> s->cluster_bits, ==, off_b >> s->cluster_bits);
    g_assert_cmpuint(off_b, >=, off_a + 1);
    g_assert_cmpuint(refcount_of(bs, off_a), ==, 2);
    for (const uint64_t *p = (uint64_t[]){ea, eb, 0}; *p; p++) {
        /* The stream, inflated with QEMU's 4 KiB window, ends in the descriptor's last
         * sector: the sector count is ((start + length - 1) >> 9) - (start >> 9). */
        uint64_t off, len;
        g_autofree uint8_t *c = NULL, *d = g_malloc(CS);
        z_stream z = {0};

        qcow2_compressed_range(s, *p, &off, &len);
        c = g_malloc(len);
        g_assert_cmpint(bdrv_pread(bs->file, off, c, len), ==, 0);
        g_assert_cmpint(inflateInit2(&z, -12), ==, Z_OK);
        z.next_in = c;
        z.avail_in = len;
        z.next_out = d;
        z.avail_out = CS;
        g_assert_cmpint(inflate(&z, Z_FINISH), ==, Z_STREAM_END);
        g_assert_cmpuint(((off + z.total_in - 1) >> 9) - (off >> 9), ==,
                         (len + off % 512) / 512 - 1);
        inflateEnd(&z);
    }
    assert_reads(bs, 0, a, CS);
    assert_reads(bs, 2 * CS, b, CS);
    assert_clean(bs);
    bdrv_unref(bs);
}

/* Random data does not shrink: a normal cluster, refcount 1, COPIED. */
static void test_incompressible(void)
{
    BlockDriverState *bs = new_image("rand.qcow2", 2 * CS, CS);
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *r = g_malloc(CS);
    uint64_t e;

    for (int i = 0; i < CS; i++) {
        r[i] = g_random_int();
    }
    g_assert_cmpint(write_compressed(bs, CS, r, CS), ==, 0);
    e = l2_entry(bs, CS);
    g_assert_cmpint(qcow2_entry_type(s, e), ==, QCOW2_CLUSTER_NORMAL);
    g_assert_true(e & QCOW_OFLAG_COPIED);
    g_assert_cmpuint(refcount_of(bs, e & L2E_OFFSET_MASK), ==, 1);
    assert_reads(bs, CS, r, CS);
    assert_clean(bs);
    bdrv_unref(bs);
}

/* Whole clusters only, except a short last cluster at the end of the image. */
static void test_ranges(void)
{
    BlockDriverState *bs = new_image("short.qcow2", CS + 4096, CS);
    g_autofree uint8_t *a = text_cluster(3);

    g_assert_cmpint(write_compressed(bs, 512, a, CS), ==, -EINVAL);
    g_assert_cmpint(write_compressed(bs, 0, a, 4096), ==, -EINVAL);
    g_assert_cmpint(write_compressed(bs, CS, a, 4096), ==, 0);
    g_assert_cmpint(qcow2_entry_type(bs->opaque, l2_entry(bs, CS)), ==,
                    QCOW2_CLUSTER_COMPRESSED);
    assert_reads(bs, CS, a, 4096);
    g_assert_cmpint(write_compressed(bs, 2 * CS, a, CS), ==, -EIO); /* past the end */
    assert_clean(bs);
    bdrv_unref(bs);
}

/* Overwriting compressed clusters (compressed again, or partly with a normal write). */
static void test_overwrite(void)
{
    BlockDriverState *bs = new_image("over.qcow2", 8 * CS, 4096);
    g_autofree uint8_t *a = text_cluster(4), *b = text_cluster(5);
    uint8_t patch[100];

    memset(patch, 0xee, sizeof(patch));
    g_assert_cmpint(write_compressed(bs, 0, a, 4 * 4096), ==, 0);
    g_assert_cmpint(write_compressed(bs, 4096, b, 4096), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 2 * 4096 + 10, patch, sizeof(patch)), ==, 0);
    memcpy(a + 4096, b, 4096);
    memcpy(a + 2 * 4096 + 10, patch, sizeof(patch));
    assert_reads(bs, 0, a, 4 * 4096);
    assert_clean(bs);
    bdrv_unref(bs);
}

static void test_raw_refuses(void)
{
    g_autofree char *path = g_build_filename(tmpdir, "r.raw", NULL);
    JsonObject *opts = json_object_new();
    g_autofree uint8_t *a = text_cluster(6);
    Error *err = NULL;
    BlockDriverState *bs;

    g_assert_true(g_file_set_contents(path, (const char *)a, CS, NULL));
    json_object_set_string_member(opts, "driver", "raw");
    bs = bdrv_open(path, opts, BDRV_O_RDWR | BDRV_O_CACHE_WB, &err);
    g_assert_nonnull(bs);
    g_assert_false(bdrv_supports_compressed_writes(bs));
    g_assert_false(bdrv_format_supports_compressed_writes("raw"));
    g_assert_true(bdrv_format_supports_compressed_writes("qcow2"));
    g_assert_cmpint(write_compressed(bs, 0, a, CS), ==, -ENOTSUP);
    bdrv_unref(bs);
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"pack.qcow2", "rand.qcow2", "short.qcow2",
                                        "over.qcow2", "r.raw", NULL};
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("test-qcow2-compress-XXXXXX", NULL);
    g_test_add_func("/qcow2-compress/pack-and-descriptor", test_pack_and_descriptor);
    g_test_add_func("/qcow2-compress/incompressible", test_incompressible);
    g_test_add_func("/qcow2-compress/ranges", test_ranges);
    g_test_add_func("/qcow2-compress/overwrite", test_overwrite);
    g_test_add_func("/qcow2-compress/raw-refuses", test_raw_refuses);
    ret = g_test_run();
    for (int i = 0; names[i]; i++) {
        g_autofree char *path = g_build_filename(tmpdir, names[i], NULL);
        g_unlink(path);
    }
    g_rmdir(tmpdir);
    return ret;
}
