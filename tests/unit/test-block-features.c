/*
 * Unit tests for the block-layer features on top of the open path and the request path:
 * snapshot=on (a temporary qcow2 overlay over a read-only image, recording it as backing
 * file and format, unlinked from the start), copy-on-read (the top allocates what a read
 * took from the backing chain; a guest write racing a copy is never overwritten, checked
 * with a slow backing node), the "backing"/"backing.*"/"file.*" options and node names on
 * every layer with QEMU 2.2's errors. Images are real files in a temporary directory, with
 * the memory protocol of block-test-drivers.h where a test needs a slow or shared backing.
 * QEMU interoperability is tests/system/test_block_features.py's business.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "block/block-backend.h"
#include "block/qcow2.h"
#include "block-test-drivers.h"

#define IMG_SIZE (1024 * 1024)
#define CLUSTER 65536

static char *tmpdir;
static char *overlay_dir; /* $TMPDIR of the process: must stay empty */

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static void fill_file(const char *path, uint64_t size, int byte)
{
    g_autofree uint8_t *buf = g_malloc(size);

    memset(buf, byte, size);
    g_assert_true(g_file_set_contents(path, (char *)buf, size, NULL));
}

static char *make_raw(const char *name, int byte)
{
    char *path = tmp_path(name);

    fill_file(path, IMG_SIZE, byte);
    return path;
}

static char *make_qcow2(const char *name, uint64_t cluster, const char *backing,
                        const char *backing_fmt)
{
    Qcow2CreateOpts o = {.size = IMG_SIZE,
                         .version = 3,
                         .cluster_size = cluster,
                         .refcount_bits = 16,
                         .backing_file = backing,
                         .backing_fmt = backing_fmt};
    char *path = tmp_path(name);

    g_assert_cmpint(qcow2_create_file(path, &o, &error_abort), ==, 0);
    return path;
}

static BlockDriverState *open_ok(const char *filename, const char *json, int flags)
{
    return bdrv_open(filename, json ? test_opts(json) : NULL, flags | BDRV_O_CACHE_WB,
                     &error_abort);
}

static void open_fails(const char *filename, const char *json, int flags, const char *msg)
{
    Error *err = NULL;

    g_assert_null(bdrv_open(filename, json ? test_opts(json) : NULL, flags, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
}

static void assert_bytes(BlockDriverState *bs, uint64_t off, uint64_t len, int byte)
{
    g_autofree uint8_t *buf = g_malloc(len);

    g_assert_cmpint(bdrv_pread(bs, off, buf, len), ==, 0);
    for (uint64_t i = 0; i < len; i++) {
        if (buf[i] != byte) {
            g_error("offset %" G_GUINT64_FORMAT ": %#x, expected %#x", off + i, buf[i], byte);
        }
    }
}

static void write_bytes(BlockDriverState *bs, uint64_t off, uint64_t len, int byte)
{
    g_autofree uint8_t *buf = g_malloc(len);

    memset(buf, byte, len);
    g_assert_cmpint(bdrv_pwrite(bs, off, buf, len), ==, 0);
}

static bool all_bytes(const uint8_t *buf, uint64_t len, int byte)
{
    for (uint64_t i = 0; i < len; i++) {
        if (buf[i] != byte) {
            return false;
        }
    }
    return true;
}

static void assert_file_bytes(const char *path, int byte)
{
    g_autofree char *data = NULL;
    gsize len;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    g_assert_cmpuint(len, ==, IMG_SIZE);
    for (gsize i = 0; i < len; i++) {
        g_assert_cmpint((uint8_t)data[i], ==, byte);
    }
}

/* Whether bs allocates all of the range (false: none of it; a mix fails the test). */
static bool is_allocated(BlockDriverState *bs, uint64_t off, uint64_t len)
{
    uint64_t pnum, end = off + len;
    int first = -1;

    while (off < end) {
        int ret = bdrv_block_status(bs, off, end - off, &pnum);

        g_assert_cmpint(ret, >=, 0);
        g_assert_cmpuint(pnum, >, 0);
        ret = !!(ret & BDRV_BLOCK_ALLOCATED);
        g_assert_true(first < 0 || first == ret);
        first = ret;
        off += pnum;
    }
    return first == 1;
}

static void assert_overlay_dir_empty(void)
{
    GDir *dir = g_dir_open(overlay_dir, 0, NULL);

    g_assert_nonnull(dir);
    g_assert_null(g_dir_read_name(dir));
    g_dir_close(dir);
}

/* ---- snapshot=on ---- */

static uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* The overlay's header names the real image (absolute) and its format. */
static void assert_overlay_records(BlockDriverState *overlay, const char *name, const char *fmt)
{
    uint8_t hdr[4096];
    uint64_t off;
    uint32_t len;

    g_assert_cmpint(bdrv_pread(bdrv_file_child(overlay), 0, hdr, sizeof(hdr)), ==, 0);
    off = (uint64_t)be32_at(hdr + 8) << 32 | be32_at(hdr + 12);
    len = be32_at(hdr + 16);
    g_assert_cmpuint(off + len, <=, sizeof(hdr));
    g_assert_cmpmem(hdr + off, len, name, strlen(name));
    g_assert_nonnull(memmem(hdr + 104, off - 104, fmt, strlen(fmt)));
}

static void snapshot_roundtrip(const char *path, const char *json, const char *fmt, int byte)
{
    BlockDriverState *bs = open_ok(path, json, BDRV_O_RDWR | BDRV_O_SNAPSHOT);
    BlockDriverState *real = bdrv_backing_child(bs);

    assert_overlay_dir_empty();
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "qcow2");
    g_assert_nonnull(real);
    g_assert_cmpstr(bdrv_get_format_name(real), ==, fmt);
    g_assert_true(bdrv_is_read_only(real));
    g_assert_false(bdrv_is_read_only(bs));
    g_assert_true(g_str_has_prefix(bdrv_get_filename(bs), overlay_dir));
    g_assert_cmpstr(bdrv_get_filename(bdrv_file_child(bs)), ==, bdrv_get_filename(bs));
    g_assert_cmpstr(dict_get_str(bs->options, "file.filename"), ==, bdrv_get_filename(bs));
    g_assert_cmpstr(bs->backing_file, ==, bdrv_get_filename(real));
    g_assert_cmpstr(bs->backing_format, ==, fmt);
    g_assert_true(bdrv_get_flags(bs) & BDRV_O_NO_FLUSH);
    g_assert_true(bdrv_get_flags(bdrv_file_child(bs)) & BDRV_O_NO_FLUSH);
    g_assert_false(bdrv_get_flags(bdrv_file_child(bs)) & BDRV_O_NOCACHE);
    assert_overlay_records(bs, path, fmt);
    g_assert_cmpint(bdrv_getlength(bs), ==, IMG_SIZE);

    write_bytes(bs, 4096, 8192, 0xee);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    assert_bytes(bs, 4096, 8192, 0xee);
    assert_bytes(bs, 0, 4096, byte);
    assert_bytes(bs, 12288, IMG_SIZE - 12288, byte);
    bdrv_unref(bs);
    assert_overlay_dir_empty();
}

static void test_snapshot_raw(void)
{
    g_autofree char *raw = make_raw("snap.raw", 0x5a);

    snapshot_roundtrip(raw, "{\"driver\":\"raw\"}", "raw", 0x5a);
    snapshot_roundtrip(raw, NULL, "raw", 0x5a); /* probed */
    assert_file_bytes(raw, 0x5a);
}

static void test_snapshot_qcow2(void)
{
    g_autofree char *raw = make_raw("snapq-base.raw", 0x3c);
    g_autofree char *q = make_qcow2("snapq.qcow2", CLUSTER, raw, "raw");
    g_autofree char *before = NULL, *after = NULL;
    gsize n1, n2;

    g_assert_true(g_file_get_contents(q, &before, &n1, NULL));
    snapshot_roundtrip(q, "{\"driver\":\"qcow2\"}", "qcow2", 0x3c);
    snapshot_roundtrip(q, NULL, "qcow2", 0x3c);
    g_assert_true(g_file_get_contents(q, &after, &n2, NULL));
    g_assert_cmpmem(before, n1, after, n2);
    assert_file_bytes(raw, 0x3c);
}

/* Node options stay with the real image; the overlay has no name of its own. */
static void test_snapshot_node_name(void)
{
    g_autofree char *raw = make_raw("snapn.raw", 0x01);
    BlockDriverState *bs =
        open_ok(raw, "{\"driver\":\"raw\",\"node-name\":\"real\"}", BDRV_O_RDWR | BDRV_O_SNAPSHOT);

    g_assert_true(bdrv_find_node("real") == bdrv_backing_child(bs));
    g_assert_cmpstr(bdrv_get_node_name(bs), ==, "");
    bdrv_unref(bs);
    g_assert_null(bdrv_find_node("real"));
}

static void test_snapshot_open_error(void)
{
    g_autofree char *missing = tmp_path("missing.raw");
    g_autofree char *msg =
        g_strdup_printf("Could not open '%s': No such file or directory", missing);

    open_fails(missing, "{\"driver\":\"raw\"}", BDRV_O_RDWR | BDRV_O_SNAPSHOT, msg);
    assert_overlay_dir_empty();
}

/* No place for the overlay: QEMU's message, and the real image is closed again. */
static void test_snapshot_no_tmpdir(void)
{
    g_autofree char *raw = make_raw("snapt.raw", 0x01);

    g_setenv("TMPDIR", "/nonexistent-dir", TRUE);
    open_fails(raw, "{\"driver\":\"raw\",\"node-name\":\"real\"}", BDRV_O_RDWR | BDRV_O_SNAPSHOT,
               "Could not get temporary filename: No such file or directory");
    g_setenv("TMPDIR", overlay_dir, TRUE);
    g_assert_null(bdrv_find_node("real"));
}

/* A backend opened with snapshot=on and copy-on-read: the guest never reaches the file. */
static void test_snapshot_backend(void)
{
    g_autofree char *raw = make_raw("snapb.raw", 0x77);
    BlockBackend *blk = blk_new_open("snapdrive", raw, test_opts("{\"driver\":\"raw\"}"),
                                     BDRV_O_RDWR | BDRV_O_SNAPSHOT | BDRV_O_COPY_ON_READ |
                                         BDRV_O_CACHE_WB | BDRV_O_NO_FLUSH,
                                     &error_abort);
    uint8_t buf[512];

    g_assert_cmpint(blk_pread(blk, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(buf[0], ==, 0x77);
    g_assert_true(is_allocated(blk_bs(blk), 0, CLUSTER));
    memset(buf, 0x11, sizeof(buf));
    g_assert_cmpint(blk_pwrite(blk, 512, buf, sizeof(buf), 0), ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    blk_unref(blk);
    assert_file_bytes(raw, 0x77);
    assert_overlay_dir_empty();
}

/* ---- copy-on-read ---- */

static void test_cor_fills_top(void)
{
    g_autofree char *raw = make_raw("cor-base.raw", 0x42);
    g_autofree char *top = make_qcow2("cor.qcow2", CLUSTER, raw, "raw");
    BlockDriverState *bs = open_ok(top, NULL, BDRV_O_RDWR | BDRV_O_COPY_ON_READ);

    g_autofree uint8_t *buf = g_malloc(3 * CLUSTER);

    write_bytes(bs, 3 * CLUSTER, CLUSTER, 0x99);
    g_assert_false(is_allocated(bs, CLUSTER, CLUSTER));
    /* Unaligned, across unallocated clusters and an allocated one. */
    g_assert_cmpint(bdrv_pread(bs, CLUSTER + 100, buf, 3 * CLUSTER), ==, 0);
    g_assert_true(all_bytes(buf, 2 * CLUSTER - 100, 0x42));
    g_assert_true(all_bytes(buf + 2 * CLUSTER - 100, CLUSTER, 0x99));
    g_assert_true(all_bytes(buf + 3 * CLUSTER - 100, 100, 0x42));
    g_assert_false(is_allocated(bs, 0, CLUSTER));
    g_assert_true(is_allocated(bs, CLUSTER, 4 * CLUSTER));
    g_assert_false(is_allocated(bs, 5 * CLUSTER, IMG_SIZE - 5 * CLUSTER));
    bdrv_unref(bs);

    /* The top alone now holds the copied data; the base is unchanged. */
    bs = open_ok(top, "{\"backing\":\"\"}", 0);
    assert_bytes(bs, 0, CLUSTER, 0);
    assert_bytes(bs, CLUSTER, 2 * CLUSTER, 0x42);
    assert_bytes(bs, 3 * CLUSTER, CLUSTER, 0x99);
    assert_bytes(bs, 4 * CLUSTER, CLUSTER, 0x42);
    assert_bytes(bs, 5 * CLUSTER, CLUSTER, 0);
    bdrv_unref(bs);
    assert_file_bytes(raw, 0x42);
}

static void test_cor_disabled_read_only(void)
{
    g_autofree char *raw = make_raw("corro-base.raw", 0x42);
    g_autofree char *top = make_qcow2("corro.qcow2", CLUSTER, raw, "raw");
    BlockDriverState *bs = open_ok(top, NULL, BDRV_O_COPY_ON_READ);

    assert_bytes(bs, 0, CLUSTER, 0x42);
    g_assert_false(is_allocated(bs, 0, CLUSTER));
    bdrv_unref(bs);
}

/* ---- concurrent copy-on-read and writes ---- */

typedef struct AioCount {
    int pending;
    int failed;
} AioCount;

static void aio_cb(void *opaque, int ret)
{
    AioCount *c = opaque;

    c->failed += ret < 0;
    c->pending--;
}

static void aio_wait(AioCount *c)
{
    while (c->pending > 0) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_cmpint(c->failed, ==, 0);
}

typedef struct AioBuf {
    IOVector qiov;
    uint8_t *buf;
} AioBuf;

static AioBuf *aio_buf(uint64_t len, int byte)
{
    AioBuf *b = g_new0(AioBuf, 1);

    b->buf = g_malloc(len);
    memset(b->buf, byte, len);
    iov_init_buf(&b->qiov, b->buf, len);
    return b;
}

static void aio_buf_free(AioBuf *b)
{
    iov_destroy(&b->qiov);
    g_free(b->buf);
    g_free(b);
}

/*
 * "testcow": a minimal format with a backing file for the race below. Data lives at the
 * same offset in its file; an in-memory bitmap of 4 KiB blocks says what it allocates. Its
 * allocation query answers from the bitmap and then sleeps status-delay-ms, so the answer
 * is stale by the time the caller acts on it unless the caller keeps writers out.
 */
#define TESTCOW_BLOCK 4096
#define TESTCOW_BLOCKS (IMG_SIZE / TESTCOW_BLOCK)

typedef struct TestCowState {
    bool allocated[TESTCOW_BLOCKS]; /* under lock */
    GMutex lock;
    unsigned status_delay_ms;
    int status_calls; /* atomic */
} TestCowState;

static int test_cow_open(BlockDriverState *bs, JsonObject *options, int flags, Error **errp)
{
    TestCowState *s = bs->opaque;

    g_mutex_init(&s->lock);
    s->status_delay_ms = dict_get_int(options, "status-delay-ms", 0, NULL);
    dict_del(options, "status-delay-ms");
    if (!bdrv_open_child(bs, options, "file", flags, false, errp)) {
        return -EINVAL;
    }
    return bdrv_open_backing(bs, options, NULL, NULL, flags, errp);
}

static void test_cow_close(BlockDriverState *bs)
{
    g_mutex_clear(&((TestCowState *)bs->opaque)->lock);
}

static bool test_cow_allocated(BlockDriverState *bs, uint64_t block)
{
    TestCowState *s = bs->opaque;
    bool ret;

    g_mutex_lock(&s->lock);
    ret = s->allocated[block];
    g_mutex_unlock(&s->lock);
    return ret;
}

static int test_cow_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                           int flags)
{
    g_assert(offset % TESTCOW_BLOCK == 0 && bytes % TESTCOW_BLOCK == 0);
    for (uint64_t done = 0; done < bytes; done += TESTCOW_BLOCK) {
        BlockDriverState *from =
            test_cow_allocated(bs, (offset + done) / TESTCOW_BLOCK) ? bs->file : bs->backing;
        IOVector sub;
        int ret = 0;

        iov_init(&sub, qiov->niov);
        iov_add_slice(&sub, qiov, done, TESTCOW_BLOCK);
        if (from) {
            ret = bdrv_preadv(from, offset + done, &sub, 0);
        } else {
            iov_memset(&sub, 0, 0, TESTCOW_BLOCK);
        }
        iov_destroy(&sub);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

static int test_cow_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                            int flags)
{
    TestCowState *s = bs->opaque;
    int ret;

    g_assert(offset % TESTCOW_BLOCK == 0 && bytes % TESTCOW_BLOCK == 0);
    ret = bdrv_pwritev(bs->file, offset, qiov, 0);
    g_mutex_lock(&s->lock);
    for (uint64_t b = offset / TESTCOW_BLOCK; ret == 0 && b < (offset + bytes) / TESTCOW_BLOCK;
         b++) {
        s->allocated[b] = true;
    }
    g_mutex_unlock(&s->lock);
    return ret;
}

static int test_cow_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                 uint64_t *pnum, BlockDriverState **file, uint64_t *map)
{
    uint64_t block = offset / TESTCOW_BLOCK;
    bool first = test_cow_allocated(bs, block);
    uint64_t end = block + 1;

    while (end * TESTCOW_BLOCK < offset + bytes && test_cow_allocated(bs, end) == first) {
        end++;
    }
    *pnum = MIN(end * TESTCOW_BLOCK, offset + bytes) - offset;
    g_atomic_int_inc(&((TestCowState *)bs->opaque)->status_calls);
    g_usleep(((TestCowState *)bs->opaque)->status_delay_ms * 1000);
    return first ? BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED : 0;
}

static gpointer test_cow_aio_thread(gpointer opaque)
{
    BlockRequest *req = opaque;
    int ret = req->type == BLOCK_REQ_READ
                  ? test_cow_preadv(req->bs, req->offset, req->bytes, req->qiov, req->flags)
                  : test_cow_pwritev(req->bs, req->offset, req->bytes, req->qiov, req->flags);

    bdrv_request_complete(req, ret);
    return NULL;
}

/* It can also take requests asynchronously, which must not bypass copy-on-read's order. */
static void test_cow_aio_submit(BlockDriverState *bs, BlockRequest *req)
{
    g_thread_unref(g_thread_new("testcow-aio", test_cow_aio_thread, req));
}

static int64_t test_cow_getlength(BlockDriverState *bs)
{
    return IMG_SIZE;
}

static BlockDriver test_cow_driver = {
    .format_name = "testcow",
    .instance_size = sizeof(TestCowState),
    .supports_backing = true,
    .open = test_cow_open,
    .close = test_cow_close,
    .preadv = test_cow_preadv,
    .pwritev = test_cow_pwritev,
    .getlength = test_cow_getlength,
    .block_status = test_cow_block_status,
    .aio_submit = test_cow_aio_submit,
};

/* A guest write lands while a copy-on-read of the same block holds a stale "unallocated"
 * answer (the query takes 200 ms): the write must wait for the copy and survive it. */
static void test_cor_write_race(void)
{
    AioBuf *rd = aio_buf(2 * TESTCOW_BLOCK, 0), *wr = aio_buf(TESTCOW_BLOCK, 0x55);
    BlockDriverState *base =
        open_ok("testmem:race-base", "{\"driver\":\"testmem\"}", BDRV_O_RDWR | BDRV_O_PROTOCOL);
    BlockDriverState *bs;
    AioCount c = {.pending = 2};

    write_bytes(base, 0, IMG_SIZE, 0x24);
    bdrv_unref(base);
    bs = open_ok(NULL,
                 "{\"driver\":\"testcow\",\"status-delay-ms\":200,"
                 "\"file.driver\":\"testmem\",\"file.filename\":\"race-top\","
                 "\"backing.driver\":\"testmem\",\"backing.filename\":\"race-base\"}",
                 BDRV_O_RDWR | BDRV_O_COPY_ON_READ);
    bdrv_aio_preadv(bs, 0, &rd->qiov, 0, aio_cb, &c);
    /* Once the copy is inside the allocation query, it holds its range. */
    while (!g_atomic_int_get(&((TestCowState *)bs->opaque)->status_calls)) {
        g_usleep(1000);
    }
    bdrv_aio_pwritev(bs, 0, &wr->qiov, 0, aio_cb, &c);
    aio_wait(&c);
    g_assert_true(all_bytes(rd->buf, 2 * TESTCOW_BLOCK, 0x24));
    assert_bytes(bs, 0, TESTCOW_BLOCK, 0x55);
    /* The copy did happen (block 1 is only read), through the driver's aio_submit too. */
    g_assert_true(is_allocated(bs, 0, 2 * TESTCOW_BLOCK));
    assert_bytes(bdrv_file_child(bs), TESTCOW_BLOCK, TESTCOW_BLOCK, 0x24);
    bdrv_unref(bs);
    aio_buf_free(rd);
    aio_buf_free(wr);
}

/* Many copies and partial writes in flight at once, 4 KiB clusters: every write lands,
 * everything else reads as the backing data, the image stays consistent. */
static void test_cor_concurrent(void)
{
    enum { CS = 4096, N = 128 };
    g_autofree char *top = make_qcow2("conc.qcow2", CS, NULL, NULL);
    BlockDriverState *bs, *base;
    AioBuf *rd[N], *wr[N];
    uint32_t woff[N], wlen[N];
    AioCount c = {0};
    GRand *rand = g_rand_new_with_seed(4);
    Qcow2CheckResult r;

    base = open_ok("testmem:conc-base", "{\"driver\":\"testmem\"}", BDRV_O_RDWR | BDRV_O_PROTOCOL);
    write_bytes(base, 0, IMG_SIZE, 0x24);
    bdrv_unref(base);
    bs = open_ok(top, "{\"backing.driver\":\"testmem\",\"backing.filename\":\"conc-base\"}",
                 BDRV_O_RDWR | BDRV_O_COPY_ON_READ);
    for (int i = 0; i < N; i++) {
        woff[i] = g_rand_int_range(rand, 0, CS / 512) * 512;
        wlen[i] = g_rand_int_range(rand, 1, (CS - woff[i]) / 512 + 1) * 512;
        rd[i] = aio_buf(2 * CS, 0);
        wr[i] = aio_buf(wlen[i], 0x80 + i % 64);
        c.pending += 2;
        /* Each read spans two clusters, so copies overlap each other as well. */
        bdrv_aio_preadv(bs, (uint64_t)i * CS, &rd[i]->qiov, 0, aio_cb, &c);
        bdrv_aio_pwritev(bs, (uint64_t)i * CS + woff[i], &wr[i]->qiov, 0, aio_cb, &c);
    }
    aio_wait(&c);
    for (int i = 0; i < N; i++) {
        assert_bytes(bs, (uint64_t)i * CS, woff[i], 0x24);
        assert_bytes(bs, (uint64_t)i * CS + woff[i], wlen[i], 0x80 + i % 64);
        assert_bytes(bs, (uint64_t)i * CS + woff[i] + wlen[i], CS - woff[i] - wlen[i], 0x24);
        aio_buf_free(rd[i]);
        aio_buf_free(wr[i]);
    }
    g_assert_true(is_allocated(bs, 0, (uint64_t)(N + 1) * CS));
    g_assert_cmpint(qcow2_check(bs, &r, 0, NULL), ==, 0);
    g_assert_cmpint(r.corruptions + r.leaks + r.check_errors, ==, 0);
    bdrv_unref(bs);
    g_rand_free(rand);
}

/* ---- backing.* and file.* options, node names ---- */

static void test_backing_options(void)
{
    g_autofree char *base = make_raw("opt-base.raw", 0x11);
    g_autofree char *other = make_raw("opt-other.raw", 0x22);
    g_autofree char *top = make_qcow2("opt.qcow2", CLUSTER, base, "raw");
    g_autofree char *json = g_strdup_printf("{\"backing.file.filename\":\"%s\"}", other);
    BlockDriverState *bs;

    bs = open_ok(top, json, 0);
    assert_bytes(bs, 0, 4096, 0x22);
    g_assert_cmpstr(bdrv_get_filename(bdrv_backing_child(bs)), ==, other);
    bdrv_unref(bs);

    bs = open_ok(top, "{\"backing\":\"\"}", 0);
    g_assert_null(bdrv_backing_child(bs));
    assert_bytes(bs, 0, 4096, 0);
    bdrv_unref(bs);

    /* Options for the recorded backing file, which is still opened. */
    bs = open_ok(top, "{\"backing.node-name\":\"b0\",\"backing.file.aio\":\"threads\"}", 0);
    g_assert_true(bdrv_find_node("b0") == bdrv_backing_child(bs));
    assert_bytes(bs, 0, 4096, 0x11);
    bdrv_unref(bs);

    /* Another format than the recorded one. */
    open_fails(top, "{\"backing.driver\":\"qcow2\"}", 0,
               "Could not open backing file: Image is not in qcow2 format");
}

static void test_backing_reference(void)
{
    g_autofree char *base = make_raw("ref-base.raw", 0x11);
    g_autofree char *other = make_raw("ref-other.raw", 0x33);
    g_autofree char *top = make_qcow2("ref.qcow2", CLUSTER, base, "raw");
    BlockDriverState *named = open_ok(other, "{\"driver\":\"raw\",\"node-name\":\"shared\"}", 0);
    BlockDriverState *bs = open_ok(top, "{\"backing\":\"shared\"}", 0);

    g_assert_true(bdrv_backing_child(bs) == named);
    assert_bytes(bs, 0, 4096, 0x33);
    bdrv_unref(bs);
    bdrv_unref(named);
    open_fails(top, "{\"backing\":\"nosuch\"}", 0,
               "Could not open backing file: Cannot find device=nosuch nor node_name=nosuch");
    /* The node's own name (found by scripts/chaos-monitor: query-block then looped). */
    open_fails(top, "{\"node-name\":\"selfref\",\"backing\":\"selfref\"}", 0,
               "Making 'selfref' a backing child of 'selfref' would create a cycle");
    g_assert_null(bdrv_find_node("selfref"));
}

static void test_backing_unsupported(void)
{
    g_autofree char *raw = make_raw("unsup.raw", 0);

    open_fails(raw, "{\"driver\":\"raw\",\"backing.file.filename\":\"x\"}", 0,
               "Driver doesn't support backing files");
    open_fails(raw, "{\"driver\":\"raw\",\"file.backing.driver\":\"file\"}", 0,
               "Driver doesn't support backing files");
    /* "" is no backing file for every driver. */
    bdrv_unref(open_ok(raw, "{\"driver\":\"raw\",\"backing\":\"\"}", 0));
}

/* An image that is its own backing file, directly, through a link or a "file:" name. */
static void assert_loop_refused(const char *image, int depth, const char *backing_name)
{
    g_autofree char *msg =
        g_strdup_printf("Backing file '%s' creates an infinite loop", backing_name);

    for (int i = 0; i < depth; i++) {
        g_autofree char *inner = msg;
        msg = g_strdup_printf("Could not open backing file: %s", inner);
    }
    open_fails(image, NULL, 0, msg);
}

static void test_backing_loops(void)
{
    g_autofree char *self = tmp_path("loop-self.qcow2");
    g_autofree char *a = tmp_path("loop-a.qcow2");
    g_autofree char *link = tmp_path("loop-link.qcow2");
    g_autofree char *proto = tmp_path("loop-proto.qcow2");
    g_autofree char *proto_name = g_strdup_printf("file:%s", proto);

    g_free(make_qcow2("loop-self.qcow2", CLUSTER, self, "qcow2"));
    assert_loop_refused(self, 1, self);

    g_assert_cmpint(symlink(a, link), ==, 0);
    g_free(make_qcow2("loop-b.qcow2", CLUSTER, link, "qcow2"));
    g_free(make_qcow2("loop-a.qcow2", CLUSTER, "loop-b.qcow2", "qcow2"));
    assert_loop_refused(a, 2, link);

    g_free(make_qcow2("loop-proto.qcow2", CLUSTER, proto_name, "qcow2"));
    assert_loop_refused(proto, 1, proto_name);
}

static void test_file_options(void)
{
    g_autofree char *raw = make_raw("fileopt.raw", 0x66);
    BlockDriverState *bs;

    bs = open_ok(raw,
                 "{\"driver\":\"raw\",\"file.driver\":\"file\",\"file.node-name\":\"proto\","
                 "\"file.cache.direct\":\"on\",\"file.aio\":\"native\"}",
                 0);
    g_assert_true(bdrv_find_node("proto") == bdrv_file_child(bs));
    g_assert_cmphex(bdrv_get_flags(bdrv_file_child(bs)) & (BDRV_O_NOCACHE | BDRV_O_NATIVE_AIO), ==,
                    BDRV_O_NOCACHE | BDRV_O_NATIVE_AIO);
    assert_bytes(bs, 0, 4096, 0x66);
    bdrv_unref(bs);
    open_fails(raw, "{\"driver\":\"raw\",\"file.aio\":\"native\"}", 0,
               "aio=native requires cache.direct=true");
    open_fails(raw, "{\"driver\":\"raw\",\"file.driver\":\"nosuch\"}", 0,
               "Unknown driver 'nosuch'");
}

static void test_node_names_every_layer(void)
{
    g_autofree char *base = make_raw("nn-base.raw", 0x11);
    g_autofree char *top = make_qcow2("nn.qcow2", CLUSTER, base, "raw");
    BlockDriverState *bs = open_ok(top,
                                   "{\"node-name\":\"top\",\"file.node-name\":\"top-file\","
                                   "\"backing.node-name\":\"base\","
                                   "\"backing.file.node-name\":\"base-file\"}",
                                   0);
    const char *order[] = {"top-file", "top", "base-file", "base"};
    BlockDriverState *n = NULL;

    g_assert_true(bdrv_find_node("top") == bs);
    g_assert_true(bdrv_find_node("top-file") == bdrv_file_child(bs));
    g_assert_true(bdrv_find_node("base") == bdrv_backing_child(bs));
    g_assert_true(bdrv_find_node("base-file") == bdrv_file_child(bdrv_backing_child(bs)));
    for (int i = 0; i < 4; i++) {
        n = bdrv_next_node(n);
        g_assert_cmpstr(bdrv_get_node_name(n), ==, order[i]);
    }
    g_assert_null(bdrv_next_node(n));

    open_fails(top, "{\"node-name\":\"top\"}", 0, "Duplicate node name");
    open_fails(top, "{\"file.node-name\":\"base\"}", 0, "Duplicate node name");
    open_fails(top, "{\"backing.node-name\":\"top-file\"}", 0,
               "Could not open backing file: Duplicate node name");
    bdrv_unref(bs);
    g_assert_null(bdrv_next_node(NULL));

    open_fails(top, "{\"node-name\":\"x\",\"file.node-name\":\"x\"}", 0, "Duplicate node name");
    open_fails(top, "{\"backing.node-name\":\"x\",\"node-name\":\"x\"}", 0,
               "Could not open backing file: Duplicate node name");
    open_fails(top, "{\"backing.file.node-name\":\"a%b\"}", 0,
               "Could not open backing file: Invalid node name");
    open_fails(top, "{\"file.node-name\":\"9lives\"}", 0, "Invalid node name");
    open_fails(top, "{\"backing.node-name\":\"\"}", 0,
               "Could not open backing file: Invalid node name");
    g_assert_null(bdrv_next_node(NULL));
}

static void remove_dir(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(path, name, NULL);
        g_remove(p);
    }
    if (dir) {
        g_dir_close(dir);
    }
    g_rmdir(path);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_drivers_register();
    bdrv_register(&test_cow_driver);
    tmpdir = g_dir_make_tmp("test-block-features-XXXXXX", NULL);
    overlay_dir = g_build_filename(tmpdir, "overlays", NULL);
    g_mkdir(overlay_dir, 0700);
    g_setenv("TMPDIR", overlay_dir, TRUE);
    g_test_add_func("/block-features/snapshot/raw", test_snapshot_raw);
    g_test_add_func("/block-features/snapshot/qcow2", test_snapshot_qcow2);
    g_test_add_func("/block-features/snapshot/node-name", test_snapshot_node_name);
    g_test_add_func("/block-features/snapshot/open-error", test_snapshot_open_error);
    g_test_add_func("/block-features/snapshot/no-tmpdir", test_snapshot_no_tmpdir);
    g_test_add_func("/block-features/snapshot/backend", test_snapshot_backend);
    g_test_add_func("/block-features/cor/fills-top", test_cor_fills_top);
    g_test_add_func("/block-features/cor/read-only", test_cor_disabled_read_only);
    g_test_add_func("/block-features/cor/write-race", test_cor_write_race);
    g_test_add_func("/block-features/cor/concurrent", test_cor_concurrent);
    g_test_add_func("/block-features/options/backing", test_backing_options);
    g_test_add_func("/block-features/options/backing-reference", test_backing_reference);
    g_test_add_func("/block-features/options/backing-unsupported", test_backing_unsupported);
    g_test_add_func("/block-features/options/backing-loops", test_backing_loops);
    g_test_add_func("/block-features/options/file", test_file_options);
    g_test_add_func("/block-features/options/node-names", test_node_names_every_layer);
    ret = g_test_run();
    remove_dir(overlay_dir);
    remove_dir(tmpdir);
    g_free(overlay_dir);
    g_free(tmpdir);
    return ret;
}
