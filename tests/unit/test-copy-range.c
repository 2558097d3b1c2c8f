/*
 * Unit tests for copy offload (block/copy-range.c) and the jobs' copy of a range
 * (block_job_copy_bytes in block/job-copy.c), on temporary files: raw and file nodes copied
 * by the kernel with the bytes checked; every node or request the offload must leave to the
 * ordinary read and write (zero detection, writethrough, O_DIRECT, read-only, a write
 * notifier, out of range, a drained target) copies nothing, and the jobs' copy still copies
 * it all that way, telling a read failure from a write failure.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "block/block.h"
#include "block/job-copy.h"
#include "block/write-notify.h"

#define IMG_SIZE (4 * 1024 * 1024)
#define COPY_OFF (64 * 1024)
#define COPY_LEN (1024 * 1024)

typedef struct Pair {
    char *src_path, *dst_path;
    BlockDriverState *src, *dst;
    uint8_t *buf;
} Pair;

static char *image_new(off_t size, bool pattern)
{
    GError *gerr = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("minivmm-copy-range-XXXXXX", &path, &gerr);

    g_assert_no_error(gerr);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    for (off_t off = 0; pattern && off < size; off += 4096) {
        uint8_t block[4096];

        for (int i = 0; i < 4096; i++) {
            block[i] = (uint8_t)((off >> 12) * 37 + i * 11 + 1);
        }
        g_assert_cmpint(pwrite(fd, block, sizeof(block), off), ==, sizeof(block));
    }
    close(fd);
    return path;
}

/* driver NULL: the file protocol node; json: extra options of the node. */
static BlockDriverState *node_open(const char *path, const char *driver, const char *json,
                                   int flags)
{
    JsonObject *options = NULL;
    Error *err = NULL;
    BlockDriverState *bs;

    if (json) {
        JsonNode *node = json_from_string(json, NULL);

        g_assert_nonnull(node);
        options = json_object_ref(json_node_get_object(node));
        json_node_unref(node);
    } else if (driver) {
        options = json_object_new();
    }
    if (driver) {
        json_object_set_string_member(options, "driver", driver);
    } else {
        flags |= BDRV_O_PROTOCOL;
    }
    bs = bdrv_open(path, options, flags, &err);
    if (!bs) {
        g_error("opening %s: %s", path, error_get_pretty(err));
    }
    return bs;
}

static void pair_open(Pair *p, const char *dst_driver, const char *dst_json, int dst_flags)
{
    p->src_path = image_new(IMG_SIZE, true);
    p->dst_path = image_new(IMG_SIZE, false);
    p->src = node_open(p->src_path, "raw", NULL, BDRV_O_RDWR | BDRV_O_CACHE_WB);
    p->dst = node_open(p->dst_path, dst_driver, dst_json, dst_flags);
    p->buf = g_malloc(COPY_LEN);
}

static void pair_close(Pair *p)
{
    bdrv_unref(p->src);
    bdrv_unref(p->dst);
    unlink(p->src_path);
    unlink(p->dst_path);
    g_free(p->src_path);
    g_free(p->dst_path);
    g_free(p->buf);
}

/* dst holds src's bytes in [off, off+len) and zeroes around them. */
static void check_copied(Pair *p, uint64_t off, uint64_t len)
{
    g_autofree uint8_t *want = g_malloc(IMG_SIZE);
    g_autofree uint8_t *got = g_malloc(IMG_SIZE);

    g_assert_cmpint(bdrv_pread(p->src, 0, want, IMG_SIZE), ==, 0);
    memset(want, 0, off);
    memset(want + off + len, 0, IMG_SIZE - off - len);
    g_assert_cmpint(bdrv_pread(p->dst, 0, got, IMG_SIZE), ==, 0);
    g_assert_cmpmem(got, IMG_SIZE, want, IMG_SIZE);
}

static void test_raw_to_raw(void)
{
    Pair p;

    pair_open(&p, "raw", NULL, BDRV_O_RDWR | BDRV_O_CACHE_WB);
    g_assert_cmpuint(bdrv_copy_range(p.src, COPY_OFF, p.dst, COPY_OFF, COPY_LEN), ==, COPY_LEN);
    check_copied(&p, COPY_OFF, COPY_LEN);
    pair_close(&p);
}

/* A raw node into the file node under another image, and an odd, unaligned length. */
static void test_raw_to_file(void)
{
    Pair p;

    pair_open(&p, NULL, NULL, BDRV_O_RDWR | BDRV_O_CACHE_WB);
    g_assert_cmpuint(bdrv_copy_range(p.src, 4097, p.dst, 4097, 12345), ==, 12345);
    check_copied(&p, 4097, 12345);
    pair_close(&p);
}

/* The source file ends before the range does: the kernel copies what there is. */
static void test_source_end(void)
{
    g_autofree char *short_path = image_new(COPY_OFF, true);
    BlockDriverState *src = node_open(short_path, NULL, NULL, BDRV_O_RDWR | BDRV_O_CACHE_WB);
    Pair p;

    pair_open(&p, "raw", NULL, BDRV_O_RDWR | BDRV_O_CACHE_WB);
    g_assert_cmpuint(bdrv_copy_range(src, 0, p.dst, 0, 2 * COPY_OFF), ==, COPY_OFF);
    bdrv_unref(src);
    unlink(short_path);
    pair_close(&p);
}

typedef struct Refusal {
    const char *name, *json;
    int flags;
    int copy_ret; /* block_job_copy_bytes: 0, or the write's failure */
} Refusal;

static const Refusal refusals[] = {
    {"detect-zeroes", "{\"detect-zeroes\":\"on\"}", BDRV_O_RDWR | BDRV_O_CACHE_WB, 0},
    {"writethrough", NULL, BDRV_O_RDWR, 0},
    {"o-direct", NULL, BDRV_O_RDWR | BDRV_O_CACHE_WB | BDRV_O_NOCACHE, 0},
    {"read-only", NULL, BDRV_O_CACHE_WB, -EACCES},
};

/* Nothing offloaded; the jobs' copy does it all with a read and a write. */
static void test_refused(gconstpointer data)
{
    const Refusal *r = data;
    bool is_read = true;
    Pair p;

    pair_open(&p, "raw", r->json, r->flags);
    g_assert_cmpuint(bdrv_copy_range(p.src, COPY_OFF, p.dst, COPY_OFF, COPY_LEN), ==, 0);
    check_copied(&p, 0, 0);
    g_assert_cmpint(block_job_copy_bytes(p.src, p.dst, COPY_OFF, COPY_LEN, p.buf, &is_read), ==,
                    r->copy_ret);
    if (r->copy_ret) {
        g_assert_false(is_read);
        check_copied(&p, 0, 0);
    } else {
        check_copied(&p, COPY_OFF, COPY_LEN);
    }
    pair_close(&p);
}

static int after_count;

static void count_after(BdrvWriteNotifier *n, uint64_t offset, uint64_t bytes, IOVector *qiov,
                        int ret)
{
    after_count++;
}

/* A job watching the target sees every write: none may bypass it. */
static void test_write_notifier(void)
{
    BdrvWriteNotifier n = {.after = count_after};
    bool is_read;
    Pair p;

    pair_open(&p, "raw", NULL, BDRV_O_RDWR | BDRV_O_CACHE_WB);
    bdrv_add_write_notifier(p.dst, &n);
    after_count = 0;
    g_assert_cmpuint(bdrv_copy_range(p.src, 0, p.dst, 0, COPY_LEN), ==, 0);
    g_assert_cmpint(block_job_copy_bytes(p.src, p.dst, 0, COPY_LEN, p.buf, &is_read), ==, 0);
    g_assert_cmpint(after_count, ==, 1);
    bdrv_remove_write_notifier(&n);
    check_copied(&p, 0, COPY_LEN);
    pair_close(&p);
}

/* Past the end of a raw node: the offload refuses, the read fails as QEMU's does. */
static void test_out_of_range(void)
{
    bool is_read = false;
    Pair p;

    pair_open(&p, "raw", NULL, BDRV_O_RDWR | BDRV_O_CACHE_WB);
    g_assert_cmpuint(bdrv_copy_range(p.src, IMG_SIZE - 4096, p.dst, 0, 8192), ==, 0);
    g_assert_cmpuint(bdrv_copy_range(p.src, 0, p.dst, IMG_SIZE - 4096, 8192), ==, 0);
    g_assert_cmpint(block_job_copy_bytes(p.src, p.dst, IMG_SIZE - 4096, 8192, p.buf, &is_read), ==,
                    -EIO);
    g_assert_true(is_read);
    check_copied(&p, 0, 0);
    pair_close(&p);
}

/* A drained target is not entered (its drainer could be waiting for the source); the
 * drainer itself still copies through the ordinary path. */
static void test_drained_target(void)
{
    bool is_read;
    Pair p;

    pair_open(&p, "raw", NULL, BDRV_O_RDWR | BDRV_O_CACHE_WB);
    bdrv_drained_begin(p.dst);
    g_assert_cmpuint(bdrv_copy_range(p.src, 0, p.dst, 0, COPY_LEN), ==, 0);
    g_assert_cmpint(block_job_copy_bytes(p.src, p.dst, 0, COPY_LEN, p.buf, &is_read), ==, 0);
    bdrv_drained_end(p.dst);
    check_copied(&p, 0, COPY_LEN);
    g_assert_cmpuint(bdrv_copy_range(p.src, 0, p.dst, 0, COPY_LEN), ==, COPY_LEN);
    pair_close(&p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/copy-range/raw-to-raw", test_raw_to_raw);
    g_test_add_func("/copy-range/raw-to-file", test_raw_to_file);
    g_test_add_func("/copy-range/source-end", test_source_end);
    for (unsigned i = 0; i < G_N_ELEMENTS(refusals); i++) {
        g_autofree char *name = g_strdup_printf("/copy-range/refused/%s", refusals[i].name);

        g_test_add_data_func(name, &refusals[i], test_refused);
    }
    g_test_add_func("/copy-range/write-notifier", test_write_notifier);
    g_test_add_func("/copy-range/out-of-range", test_out_of_range);
    g_test_add_func("/copy-range/drained-target", test_drained_target);
    return g_test_run();
}
