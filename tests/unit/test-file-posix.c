/*
 * Unit tests for the file and host_device protocols and the raw format (block/file-posix.c,
 * block/raw-format.c) with their Linux AIO and io_uring engines (block/aio-native.c,
 * block/aio-uring.c), on temporary files through the public bdrv_* API: pattern round trips
 * for every cache mode x aio engine, synchronous and asynchronous, on the protocol node and
 * on raw; hundreds of requests in flight, more than an engine's depth, and from a second
 * thread with its own context; O_DIRECT read-modify-write; reads across the end of a file;
 * discard, write-zeroes, allocation status, length and truncation; temporary files; QEMU's
 * error texts; read-only nodes; /dev/null as a host_device; which way a direct write goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>
#include "config-host.h"
#include "block/block.h"
#include "util/trace.h"

#define IMG_SIZE (4 * 1024 * 1024)
#define DEEP_IMG_SIZE (8 * 1024 * 1024)
#define BLK 4096
#define N_ASYNC 256
#define N_DEEP 1500
#define WAIT_SECONDS 30

/* ---- Fixtures ---- */

typedef struct TestConfig {
    bool raw;  /* raw format on top of the file node, else the file node itself */
    int flags; /* cache and aio flags */
} TestConfig;

/* A temporary image of size bytes (a hole), removed at the end of the test. */
static char *test_image_new(off_t size)
{
    GError *gerr = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("minivmm-file-posix-XXXXXX", &path, &gerr);

    g_assert_no_error(gerr);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
    return path;
}

static void test_image_free(char *path)
{
    unlink(path);
    g_free(path);
}

static BlockDriverState *test_open(const char *path, bool raw, int flags)
{
    JsonObject *options = NULL;
    Error *err = NULL;
    BlockDriverState *bs;

    if (raw) {
        options = json_object_new();
        json_object_set_string_member(options, "driver", "raw");
    } else {
        flags |= BDRV_O_PROTOCOL;
    }
    bs = bdrv_open(path, options, flags, &err);
    if (!bs) {
        g_error("opening %s: %s", path, error_get_pretty(err));
    }
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, raw ? "raw" : "file");
    return bs;
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
    }
}

static bool is_zero(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i]) {
            return false;
        }
    }
    return true;
}

static int64_t allocated_bytes(const char *path)
{
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    return (int64_t)st.st_blocks * 512;
}

/* ---- Asynchronous requests: completions counted in the submitting thread's context ---- */

typedef struct AsyncState {
    GMainContext *ctx;
    GThread *thread;
    int done, failed, wrong_thread;
    int last_error;
    bool timed_out;
} AsyncState;

typedef struct AsyncReq {
    IOVector qiov;
    uint8_t *buf;
    uint64_t offset;
} AsyncReq;

static void async_state_init(AsyncState *st)
{
    memset(st, 0, sizeof(*st));
    st->ctx = g_main_context_ref_thread_default();
    st->thread = g_thread_self();
}

static void async_cb(void *opaque, int ret)
{
    AsyncState *st = opaque;

    if (g_thread_self() != st->thread) {
        st->wrong_thread++;
    }
    if (ret < 0) {
        st->failed++;
        st->last_error = ret;
    }
    st->done++;
}

static gboolean async_timeout(gpointer opaque)
{
    ((AsyncState *)opaque)->timed_out = true;
    return G_SOURCE_REMOVE;
}

/* Iterate the context until n completions arrived; all of them must have succeeded. */
static void async_wait(AsyncState *st, int n)
{
    GSource *timer = g_timeout_source_new_seconds(WAIT_SECONDS);

    g_source_set_callback(timer, async_timeout, st, NULL);
    g_source_attach(timer, st->ctx);
    while (st->done < n && !st->timed_out) {
        g_main_context_iteration(st->ctx, TRUE);
    }
    g_source_destroy(timer);
    g_source_unref(timer);
    g_assert_false(st->timed_out);
    g_assert_cmpint(st->done, ==, n);
    g_assert_cmpint(st->failed, ==, 0);
    g_assert_cmpint(st->wrong_thread, ==, 0);
    g_main_context_unref(st->ctx);
}

/* n requests of BLK bytes at distinct random block offsets, with O_DIRECT-aligned buffers. */
static AsyncReq *async_reqs_new(int n, uint64_t img_size)
{
    AsyncReq *reqs = g_new0(AsyncReq, n);
    int nblocks = img_size / BLK;
    g_autofree int *perm = g_new(int, nblocks);

    g_assert_cmpint(n, <=, nblocks);
    for (int i = 0; i < nblocks; i++) {
        perm[i] = i;
    }
    for (int i = 0; i < n; i++) {
        int j = g_test_rand_int_range(i, nblocks);
        int t = perm[i];

        perm[i] = perm[j];
        perm[j] = t;
        reqs[i].offset = (uint64_t)perm[i] * BLK;
        reqs[i].buf = g_aligned_alloc(1, BLK, BLK);
        iov_init_buf(&reqs[i].qiov, reqs[i].buf, BLK);
    }
    return reqs;
}

static void async_reqs_free(AsyncReq *reqs, int n)
{
    for (int i = 0; i < n; i++) {
        iov_destroy(&reqs[i].qiov);
        g_aligned_free(reqs[i].buf);
    }
    g_free(reqs);
}

/* ---- Round trips ---- */

/* Synchronous writes (flat and vectored), flush, reads back both ways. */
static void check_sync_roundtrip(BlockDriverState *bs)
{
    uint8_t *wbuf = g_aligned_alloc(1, 64 * 1024, BLK);
    uint8_t *rbuf = g_aligned_alloc(1, 64 * 1024, BLK);
    IOVector v;

    fill_pattern(wbuf, 64 * 1024, 1);
    g_assert_cmpint(bdrv_pwrite(bs, 128 * 1024, wbuf, 64 * 1024), ==, 0);
    iov_init(&v, 3);
    for (int i = 0; i < 3; i++) {
        iov_add(&v, wbuf + (2 - i) * BLK, BLK); /* out of order: a real scatter list */
    }
    g_assert_cmpint(bdrv_pwritev(bs, 1024 * 1024, &v, 0), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);

    g_assert_cmpint(bdrv_pread(bs, 128 * 1024, rbuf, 64 * 1024), ==, 0);
    g_assert_cmpmem(rbuf, 64 * 1024, wbuf, 64 * 1024);
    iov_reset(&v);
    iov_add(&v, rbuf, 3 * BLK);
    g_assert_cmpint(bdrv_preadv(bs, 1024 * 1024, &v, 0), ==, 0);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpmem(rbuf + i * BLK, BLK, wbuf + (2 - i) * BLK, BLK);
    }
    iov_destroy(&v);
    g_aligned_free(wbuf);
    g_aligned_free(rbuf);
}

/* n asynchronous writes in flight at once, an asynchronous flush, then reads to verify. */
static void check_async_roundtrip(BlockDriverState *bs, int n)
{
    AsyncState st;
    AsyncReq *reqs;

    async_state_init(&st);
    reqs = async_reqs_new(n, IMG_SIZE);
    for (int i = 0; i < n; i++) {
        fill_pattern(reqs[i].buf, BLK, reqs[i].offset / BLK + 7);
        bdrv_aio_pwritev(bs, reqs[i].offset, &reqs[i].qiov, 0, async_cb, &st);
    }
    bdrv_aio_flush(bs, async_cb, &st);
    async_wait(&st, n + 1);

    async_state_init(&st);
    for (int i = 0; i < n; i++) {
        memset(reqs[i].buf, 0, BLK);
        bdrv_aio_preadv(bs, reqs[i].offset, &reqs[i].qiov, 0, async_cb, &st);
    }
    async_wait(&st, n);
    for (int i = 0; i < n; i++) {
        uint8_t expect[BLK];

        fill_pattern(expect, BLK, reqs[i].offset / BLK + 7);
        g_assert_cmpmem(reqs[i].buf, BLK, expect, BLK);
    }
    async_reqs_free(reqs, n);
}

/* Each test runs in its own context, so every engine instance is created and torn down. */
static GMainContext *test_context_push(void)
{
    GMainContext *ctx = g_main_context_new();

    g_main_context_push_thread_default(ctx);
    return ctx;
}

static void test_context_pop(GMainContext *ctx)
{
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
}

static void test_roundtrip(gconstpointer data)
{
    const TestConfig *cfg = data;
    GMainContext *ctx = test_context_push();
    char *path = test_image_new(IMG_SIZE);
    BlockDriverState *bs = test_open(path, cfg->raw, BDRV_O_RDWR | cfg->flags);

    check_sync_roundtrip(bs);
    check_async_roundtrip(bs, N_ASYNC);
    bdrv_unref(bs);
    test_image_free(path);
    test_context_pop(ctx);
}

/* ---- Deep queues and other threads ---- */

/* More reads in flight than io_setup's depth or the ring's completion queue. */
static void test_deep_queue(gconstpointer data)
{
    const TestConfig *cfg = data;
    GMainContext *ctx = test_context_push();
    char *path = test_image_new(DEEP_IMG_SIZE);
    BlockDriverState *bs = test_open(path, cfg->raw, BDRV_O_RDWR | cfg->flags);
    uint8_t *img = g_aligned_alloc(1, DEEP_IMG_SIZE, BLK);
    AsyncState st;
    AsyncReq *reqs;

    fill_pattern(img, DEEP_IMG_SIZE, 3);
    g_assert_cmpint(bdrv_pwrite(bs, 0, img, DEEP_IMG_SIZE), ==, 0);
    async_state_init(&st);
    reqs = async_reqs_new(N_DEEP, DEEP_IMG_SIZE);
    for (int i = 0; i < N_DEEP; i++) {
        bdrv_aio_preadv(bs, reqs[i].offset, &reqs[i].qiov, 0, async_cb, &st);
    }
    async_wait(&st, N_DEEP);
    for (int i = 0; i < N_DEEP; i++) {
        g_assert_cmpmem(reqs[i].buf, BLK, img + reqs[i].offset, BLK);
    }
    async_reqs_free(reqs, N_DEEP);
    g_aligned_free(img);
    bdrv_unref(bs);
    test_image_free(path);
    test_context_pop(ctx);
}

/* An I/O thread: its own context, its own engine instance, its own completions. */
static gpointer iothread_run(gpointer opaque)
{
    GMainContext *ctx = test_context_push();

    check_async_roundtrip(opaque, N_ASYNC);
    test_context_pop(ctx);
    return NULL;
}

static void test_iothread(gconstpointer data)
{
    const TestConfig *cfg = data;
    GMainContext *ctx = test_context_push();
    char *path = test_image_new(IMG_SIZE);
    BlockDriverState *bs = test_open(path, cfg->raw, BDRV_O_RDWR | cfg->flags);

    g_thread_join(g_thread_new("iothread", iothread_run, bs));
    check_async_roundtrip(bs, 16);
    bdrv_unref(bs);
    test_image_free(path);
    test_context_pop(ctx);
}

/* ---- O_DIRECT with unaligned requests: the core's read-modify-write ---- */

static void test_unaligned_direct(gconstpointer data)
{
    const TestConfig *cfg = data;
    GMainContext *ctx = test_context_push();
    char *path = test_image_new(IMG_SIZE);
    BlockDriverState *bs = test_open(path, cfg->raw, BDRV_O_RDWR | cfg->flags);
    g_autofree uint8_t *shadow = g_malloc(64 * 1024);
    g_autofree uint8_t *buf = g_malloc(64 * 1024 + 1);
    uint8_t *odd = buf + 1; /* never aligned for O_DIRECT */
    AsyncState st;
    IOVector v;

    fill_pattern(shadow, 64 * 1024, 5);
    g_assert_cmpint(bdrv_pwrite(bs, 0, shadow, 64 * 1024), ==, 0);
    fill_pattern(odd, 3000, 6);
    g_assert_cmpint(bdrv_pwrite(bs, 1000, odd, 3000), ==, 0);
    memcpy(shadow + 1000, odd, 3000);

    fill_pattern(odd, 5000, 8);
    iov_init_buf(&v, odd, 5000);
    async_state_init(&st);
    bdrv_aio_pwritev(bs, 9999, &v, 0, async_cb, &st);
    async_wait(&st, 1);
    memcpy(shadow + 9999, odd, 5000);

    memset(odd, 0, 64 * 1024);
    g_assert_cmpint(bdrv_pread(bs, 900, odd, 20000), ==, 0);
    g_assert_cmpmem(odd, 20000, shadow + 900, 20000);
    memset(odd, 0, 64 * 1024);
    iov_destroy(&v);
    iov_init_buf(&v, odd, 777);
    async_state_init(&st);
    bdrv_aio_preadv(bs, 9000, &v, 0, async_cb, &st);
    async_wait(&st, 1);
    g_assert_cmpmem(odd, 777, shadow + 9000, 777);
    iov_destroy(&v);
    bdrv_unref(bs);
    test_image_free(path);
    test_context_pop(ctx);
}

/* The file holds expect at offset, read through a descriptor of its own. */
static void check_file(int fd, off_t offset, const uint8_t *expect, size_t len)
{
    g_autofree uint8_t *back = g_malloc(len);

    g_assert_cmpint(pread(fd, back, len, offset), ==, len);
    g_assert_cmpmem(back, len, expect, len);
}

/*
 * FUA writes (RWF_DSYNC on the file, or write and flush where the core keeps the flag):
 * synchronous and asynchronous, aligned, unaligned and in several segments, extending a file
 * node; the bytes are in the file for another reader, in every cache mode.
 */
static void test_fua(gconstpointer data)
{
    const TestConfig *cfg = data;
    GMainContext *ctx = test_context_push();
    char *path = test_image_new(IMG_SIZE);
    BlockDriverState *bs = test_open(path, cfg->raw, BDRV_O_RDWR | cfg->flags);
    g_autofree uint8_t *a = g_malloc(3 * BLK);
    g_autofree uint8_t *b = g_malloc(3 * BLK);
    int fd = open(path, O_RDONLY);
    uint64_t tail = cfg->raw ? IMG_SIZE - 3 * BLK : IMG_SIZE - BLK; /* a file node grows */
    AsyncState st;
    IOVector v;

    fill_pattern(a, 3 * BLK, 21);
    fill_pattern(b, 3 * BLK, 22);
    g_assert_cmpint(bdrv_pwrite_fua(bs, BLK, a, 2 * BLK), ==, 0);
    g_assert_cmpint(bdrv_pwrite_fua(bs, 5 * BLK + 100, b, 1000), ==, 0);
    iov_init(&v, 2);
    iov_add(&v, b, BLK);
    iov_add(&v, a + BLK, 2 * BLK);
    async_state_init(&st);
    bdrv_aio_pwritev(bs, tail, &v, BDRV_REQ_FUA, async_cb, &st);
    async_wait(&st, 1);
    g_assert_cmpint(st.failed, ==, 0);
    iov_destroy(&v);

    check_file(fd, BLK, a, 2 * BLK);
    check_file(fd, 5 * BLK + 100, b, 1000);
    check_file(fd, tail, b, BLK);
    check_file(fd, tail + BLK, a + BLK, 2 * BLK);
    g_assert_cmpint(bdrv_getlength(bs), ==, tail + 3 * BLK);
    close(fd);
    bdrv_unref(bs);
    test_image_free(path);
    test_context_pop(ctx);
}

/* Reads across the end of a file node: the part past the end reads as zeroes. */
static void test_read_past_eof(gconstpointer data)
{
    const TestConfig *cfg = data;
    GMainContext *ctx = test_context_push();
    char *path = test_image_new(IMG_SIZE + 1000);
    BlockDriverState *bs = test_open(path, false, BDRV_O_RDWR | cfg->flags);
    uint8_t *pattern = g_malloc(BLK + 1000);
    uint8_t *buf = g_aligned_alloc(1, 2 * BLK, BLK);
    AsyncState st;
    IOVector v;

    fill_pattern(pattern, BLK + 1000, 13);
    g_assert_cmpint(bdrv_pwrite(bs, IMG_SIZE - BLK, pattern, BLK + 1000), ==, 0);
    memset(buf, 0xa5, 2 * BLK);
    g_assert_cmpint(bdrv_pread(bs, IMG_SIZE - BLK, buf, 2 * BLK), ==, 0);
    g_assert_cmpmem(buf, BLK + 1000, pattern, BLK + 1000);
    g_assert_true(is_zero(buf + BLK + 1000, BLK - 1000));

    memset(buf, 0xa5, 2 * BLK);
    iov_init_buf(&v, buf, 2 * BLK);
    async_state_init(&st);
    bdrv_aio_preadv(bs, IMG_SIZE - BLK, &v, 0, async_cb, &st);
    async_wait(&st, 1);
    g_assert_cmpmem(buf, BLK + 1000, pattern, BLK + 1000);
    g_assert_true(is_zero(buf + BLK + 1000, BLK - 1000));
    iov_destroy(&v);
    g_aligned_free(buf);
    g_free(pattern);
    bdrv_unref(bs);
    test_image_free(path);
    test_context_pop(ctx);
}

/* ---- Discard, write-zeroes, allocation status ---- */

/* Write a pattern and flush; returns the pattern written. */
static uint8_t *write_data(BlockDriverState *bs, uint64_t offset, size_t len, unsigned seed)
{
    uint8_t *buf = g_malloc(len);

    fill_pattern(buf, len, seed);
    g_assert_cmpint(bdrv_pwrite(bs, offset, buf, len), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    return buf;
}

static void assert_reads_zero(BlockDriverState *bs, uint64_t offset, size_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);

    memset(buf, 0xa5, len);
    g_assert_cmpint(bdrv_pread(bs, offset, buf, len), ==, 0);
    g_assert_true(is_zero(buf, len));
}

static void test_discard(gconstpointer data)
{
    const TestConfig *cfg = data;
    char *path = test_image_new(IMG_SIZE);
    BlockDriverState *bs = test_open(path, cfg->raw, BDRV_O_RDWR | cfg->flags);
    int64_t before;

    g_free(write_data(bs, 0, 1024 * 1024, 9));
    before = allocated_bytes(path);
    g_assert_cmpint(before, >=, 1024 * 1024);
    g_assert_cmpint(bdrv_get_allocated_file_size(bs), ==, before);
    g_assert_cmpint(bdrv_pdiscard(bs, 0, 1024 * 1024), ==, 0);
    if (cfg->flags & BDRV_O_UNMAP) {
        g_assert_cmpint(allocated_bytes(path), <=, before - 1024 * 1024);
        assert_reads_zero(bs, 0, 1024 * 1024);
    } else {
        g_assert_cmpint(allocated_bytes(path), ==, before); /* discard=ignore */
    }
    g_assert_cmpint(bdrv_getlength(bs), ==, IMG_SIZE);
    bdrv_unref(bs);
    test_image_free(path);
}

static void test_write_zeroes(gconstpointer data)
{
    const TestConfig *cfg = data;
    char *path = test_image_new(IMG_SIZE);
    BlockDriverState *bs = test_open(path, cfg->raw, BDRV_O_RDWR | BDRV_O_UNMAP | cfg->flags);
    g_autofree uint8_t *pattern = write_data(bs, 0, 2 * 1024 * 1024, 10);
    int64_t before = allocated_bytes(path);
    uint8_t buf[BLK];

    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 0, 1024 * 1024, BDRV_REQ_MAY_UNMAP), ==, 0);
    assert_reads_zero(bs, 0, 1024 * 1024);
    g_assert_cmpint(allocated_bytes(path), <=, before - 1024 * 1024);

    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 1024 * 1024 + BLK, 64 * 1024, 0), ==, 0);
    assert_reads_zero(bs, 1024 * 1024 + BLK, 64 * 1024);
    g_assert_cmpint(bdrv_pread(bs, 1024 * 1024, buf, BLK), ==, 0);
    g_assert_cmpmem(buf, BLK, pattern + 1024 * 1024, BLK); /* untouched neighbour */
    g_assert_cmpint(bdrv_getlength(bs), ==, IMG_SIZE);
    bdrv_unref(bs);
    test_image_free(path);
}

/* A zero write past the end of a protocol node grows the file, like any write. */
static void test_write_zeroes_grows(void)
{
    char *path = test_image_new(IMG_SIZE);
    BlockDriverState *bs = test_open(path, false, BDRV_O_RDWR | BDRV_O_UNMAP);

    g_assert_cmpint(bdrv_pwrite_zeroes(bs, IMG_SIZE, 64 * 1024, BDRV_REQ_MAY_UNMAP), ==, 0);
    g_assert_cmpint(bdrv_getlength(bs), ==, IMG_SIZE + 64 * 1024);
    assert_reads_zero(bs, IMG_SIZE, 64 * 1024);
    bdrv_unref(bs);
    test_image_free(path);
}

/* The lines of a trace file that name event, without their "PID@TIME:" prefix. */
static GPtrArray *trace_lines(const char *path, const char *event)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        const char *ev = strchr(*l, ':');
        if (ev && g_str_has_prefix(ev + 1, event)) {
            g_ptr_array_add(out, g_strdup(ev + 1));
        }
    }
    return out;
}

/*
 * A direct write into the range the thread has just zeroed is made with pwritev, as an
 * overwrite; other direct writes go through the thread's Linux AIO context. Either way the
 * bytes land where they should. Skipped where the file system cannot zero a range.
 */
static void test_write_after_zeroing(void)
{
    char *path = test_image_new(IMG_SIZE);
    g_autofree char *trace = g_strdup_printf("%s.trace", path);
    BlockDriverState *bs;
    g_autoptr(GPtrArray) lines = NULL;
    uint8_t a[BLK], b[2 * BLK], zero[BLK] = {0};
    int fd = open(path, O_RDWR);

    if (fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, BLK) < 0) {
        g_test_skip("no FALLOC_FL_ZERO_RANGE here");
        close(fd);
        test_image_free(path);
        return;
    }
    bs = test_open(path, false, BDRV_O_RDWR | BDRV_O_CACHE_WB | BDRV_O_NOCACHE);
    fill_pattern(a, sizeof(a), 31);
    fill_pattern(b, sizeof(b), 32);
    g_assert_true(trace_set_file(trace, &error_abort));
    trace_enable_patterns("file_write_direct");
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, IMG_SIZE, 16 * BLK, 0), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, IMG_SIZE + BLK, a, BLK), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, IMG_SIZE + 15 * BLK, b, 2 * BLK), ==, 0); /* crosses */
    g_assert_cmpint(bdrv_pwrite(bs, 0, a, BLK), ==, 0);
    trace_reset();
    g_assert_true(trace_set_file(NULL, &error_abort));

    lines = trace_lines(trace, "file_write_direct");
    g_assert_cmpuint(lines->len, ==, 3);
    g_assert_true(g_str_has_suffix(lines->pdata[0], " pwritev"));
    g_assert_true(g_str_has_suffix(lines->pdata[1], " aio"));
    g_assert_true(g_str_has_suffix(lines->pdata[2], " aio"));
    check_file(fd, IMG_SIZE, zero, BLK);
    check_file(fd, IMG_SIZE + BLK, a, BLK);
    check_file(fd, IMG_SIZE + 14 * BLK, zero, BLK);
    check_file(fd, IMG_SIZE + 15 * BLK, b, 2 * BLK);
    check_file(fd, 0, a, BLK);
    g_assert_cmpint(bdrv_getlength(bs), ==, IMG_SIZE + 17 * BLK);
    close(fd);
    unlink(trace);
    bdrv_unref(bs);
    test_image_free(path);
}

/* The allocation flags of [offset, offset+bytes), and for how many bytes they hold. */
static int block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum)
{
    int ret = bdrv_block_status(bs, offset, bytes, pnum);

    g_assert_cmpint(ret, >=, 0);
    return ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO | BDRV_BLOCK_ALLOCATED);
}

/* Data is allocated; a hole is allocated zeroes in raw, a plain hole in the file node. */
static void test_block_status(gconstpointer data)
{
    const TestConfig *cfg = data;
    char *path = test_image_new(IMG_SIZE);
    BlockDriverState *bs = test_open(path, cfg->raw, BDRV_O_RDWR | cfg->flags);
    int allocated = BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED;
    int hole = BDRV_BLOCK_ZERO | (cfg->raw ? BDRV_BLOCK_ALLOCATED : 0);
    uint64_t pnum;

    g_free(write_data(bs, 0, 64 * 1024, 11));
    g_free(write_data(bs, 1024 * 1024, 64 * 1024, 12));

    g_assert_cmpint(block_status(bs, 0, IMG_SIZE, &pnum), ==, allocated);
    g_assert_cmpuint(pnum, ==, 64 * 1024);
    g_assert_cmpint(block_status(bs, 64 * 1024, IMG_SIZE - 64 * 1024, &pnum), ==, hole);
    g_assert_cmpuint(pnum, ==, 1024 * 1024 - 64 * 1024);
    g_assert_cmpint(block_status(bs, 1024 * 1024, BLK, &pnum), ==, allocated);
    g_assert_cmpuint(pnum, ==, BLK);
    /* The trailing hole runs to the end of the image. */
    g_assert_cmpint(block_status(bs, 2 * 1024 * 1024, IMG_SIZE, &pnum), ==, hole);
    g_assert_cmpuint(pnum, ==, IMG_SIZE - 2 * 1024 * 1024);
    bdrv_unref(bs);
    test_image_free(path);
}

/* ---- Length and truncation ---- */

static void test_truncate(gconstpointer data)
{
    const TestConfig *cfg = data;
    char *path = test_image_new(IMG_SIZE);
    BlockDriverState *bs = test_open(path, cfg->raw, BDRV_O_RDWR);
    Error *err = NULL;
    struct stat st;

    g_assert_cmpint(bdrv_getlength(bs), ==, IMG_SIZE);
    g_assert_cmpint(bdrv_truncate(bs, 3 * 1024 * 1024, &err), ==, 0);
    g_assert_null(err);
    g_assert_cmpint(bdrv_getlength(bs), ==, 3 * 1024 * 1024);
    g_assert_cmpint(bdrv_truncate(bs, 5 * 1024 * 1024 + 512, &err), ==, 0);
    g_assert_cmpint(bdrv_getlength(bs), ==, 5 * 1024 * 1024 + 512);
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 5 * 1024 * 1024 + 512);
    assert_reads_zero(bs, 3 * 1024 * 1024, 2 * 1024 * 1024 + 512);
    bdrv_unref(bs);
    test_image_free(path);
}

/* Growing with falloc and full takes the space (st_blocks), and the new area reads zero;
 * shrinking with a mode and metadata on a file are refused with qemu-img 7.2's words. */
static void test_truncate_prealloc(gconstpointer data)
{
    const TestConfig *cfg = data;
    char *path = test_image_new(IMG_SIZE);
    BlockDriverState *bs = test_open(path, cfg->raw, BDRV_O_RDWR);
    Error *err = NULL;
    struct stat st;

    g_assert_cmpint(prealloc_mode_parse("falloc"), ==, PREALLOC_MODE_FALLOC);
    g_assert_cmpint(prealloc_mode_parse("Full"), ==, -1);
    g_assert_cmpint(bdrv_truncate_prealloc(bs, IMG_SIZE + 1024 * 1024, PREALLOC_MODE_FALLOC,
                                           &error_abort), ==, 0);
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_blocks * 512, >=, 1024 * 1024);
    g_assert_cmpint(bdrv_truncate_prealloc(bs, IMG_SIZE + 3 * 1024 * 1024, PREALLOC_MODE_FULL,
                                           &error_abort), ==, 0);
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, IMG_SIZE + 3 * 1024 * 1024);
    g_assert_cmpint(st.st_blocks * 512, >=, 3 * 1024 * 1024);
    assert_reads_zero(bs, IMG_SIZE, 3 * 1024 * 1024);

    g_assert_cmpint(bdrv_truncate_prealloc(bs, IMG_SIZE, PREALLOC_MODE_FULL, &err), ==, -ENOTSUP);
    g_assert_cmpstr(error_get_pretty(err), ==, "Cannot use preallocation for shrinking files");
    g_clear_pointer(&err, error_free);
    g_assert_cmpint(bdrv_truncate_prealloc(bs, 2 * IMG_SIZE, PREALLOC_MODE_METADATA, &err), ==,
                    -ENOTSUP);
    g_assert_cmpstr(error_get_pretty(err), ==, "Unsupported preallocation mode: metadata");
    g_clear_pointer(&err, error_free);
    g_assert_cmpint(bdrv_getlength(bs), ==, IMG_SIZE + 3 * 1024 * 1024);
    bdrv_unref(bs);
    test_image_free(path);
}

/* ---- Errors and read-only nodes ---- */

static void test_open_missing(gconstpointer data)
{
    const TestConfig *cfg = data;
    char *path = test_image_new(IMG_SIZE);
    g_autofree char *expect = NULL;
    JsonObject *options = NULL;
    Error *err = NULL;

    unlink(path);
    if (cfg->raw) {
        options = json_object_new();
        json_object_set_string_member(options, "driver", "raw");
    }
    g_assert_null(bdrv_open(path, options, BDRV_O_RDWR | (cfg->raw ? 0 : BDRV_O_PROTOCOL), &err));
    expect = g_strdup_printf("Could not open '%s': No such file or directory", path);
    g_assert_cmpstr(error_get_pretty(err), ==, expect);
    error_free(err);
    g_free(path);
}

static void test_open_no_filename(void)
{
    JsonObject *options = json_object_new();
    Error *err = NULL;

    json_object_set_string_member(options, "driver", "file");
    g_assert_null(bdrv_open(NULL, options, BDRV_O_PROTOCOL, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "The 'file' block driver requires a file name");
    error_free(err);
}

static void test_read_only(gconstpointer data)
{
    const TestConfig *cfg = data;
    GMainContext *ctx = test_context_push();
    char *path = test_image_new(IMG_SIZE);
    BlockDriverState *bs = test_open(path, cfg->raw, cfg->flags);
    uint8_t *buf = g_aligned_alloc(1, BLK, BLK);
    AsyncState st;
    IOVector v;

    g_assert_true(bdrv_is_read_only(bs));
    memset(buf, 0x5a, BLK);
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, BLK), ==, -EACCES);
    iov_init_buf(&v, buf, BLK);
    async_state_init(&st);
    bdrv_aio_pwritev(bs, 0, &v, 0, async_cb, &st);
    while (st.done < 1) {
        g_main_context_iteration(st.ctx, TRUE);
    }
    g_assert_cmpint(st.last_error, ==, -EACCES);
    g_main_context_unref(st.ctx);
    g_assert_cmpint(bdrv_pread(bs, 0, buf, BLK), ==, 0);
    g_assert_true(is_zero(buf, BLK));
    iov_destroy(&v);
    g_aligned_free(buf);
    bdrv_unref(bs);
    test_image_free(path);
    test_context_pop(ctx);
}

/* snapshot=on's overlay: the file is gone from the directory as soon as it is open. */
static void test_temporary(gconstpointer data)
{
    const TestConfig *cfg = data;
    char *path = test_image_new(IMG_SIZE);
    BlockDriverState *bs = test_open(path, cfg->raw, BDRV_O_RDWR | BDRV_O_TEMPORARY);

    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    check_sync_roundtrip(bs);
    bdrv_unref(bs);
    g_free(path);
}

/* Character and block devices belong to host_device, found by probing the path. */
static void test_host_device(void)
{
    Error *err = NULL;
    BlockDriverState *bs = bdrv_open("/dev/null", NULL, BDRV_O_PROTOCOL | BDRV_O_RDWR, &err);

    g_assert_nonnull(bs);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "host_device");
    g_assert_cmpint(bdrv_getlength(bs), ==, 0);
    g_assert_cmpint(bdrv_truncate(bs, 4096, &err), ==, -EINVAL);
    g_assert_cmpstr(error_get_pretty(err), ==, "Cannot grow device files");
    error_free(err);
    bdrv_unref(bs);
}

/* ---- Registration ---- */

typedef struct NamedFlags {
    const char *name;
    int flags;
} NamedFlags;

/* -drive cache=... */
static const NamedFlags cache_modes[] = {
    {"writethrough", 0},
    {"writeback", BDRV_O_CACHE_WB},
    {"none", BDRV_O_CACHE_WB | BDRV_O_NOCACHE},
    {"directsync", BDRV_O_NOCACHE},
    {"unsafe", BDRV_O_CACHE_WB | BDRV_O_NO_FLUSH},
};

static const NamedFlags aio_modes[] = {
    {"threads", 0},
    {"native", BDRV_O_NATIVE_AIO},
#ifdef CONFIG_LINUX_IO_URING
    {"io_uring", BDRV_O_IO_URING},
#endif
};

static void add_test(const char *what, bool raw, const char *mode, int flags, GTestDataFunc fn)
{
    TestConfig *cfg = g_new0(TestConfig, 1);
    g_autofree char *name = g_strdup_printf("/file-posix/%s/%s%s%s", what, raw ? "raw" : "file",
                                            *mode ? "/" : "", mode);

    cfg->raw = raw;
    cfg->flags = flags;
    g_test_add_data_func_full(name, cfg, fn, g_free);
}

static void add_per_node(const char *what, const char *mode, int flags, GTestDataFunc fn)
{
    add_test(what, false, mode, flags, fn);
    add_test(what, true, mode, flags, fn);
}

static void add_engine_tests(void)
{
    for (unsigned c = 0; c < G_N_ELEMENTS(cache_modes); c++) {
        for (unsigned a = 0; a < G_N_ELEMENTS(aio_modes); a++) {
            g_autofree char *mode =
                g_strdup_printf("%s/%s", cache_modes[c].name, aio_modes[a].name);

            add_per_node("roundtrip", mode, cache_modes[c].flags | aio_modes[a].flags,
                         test_roundtrip);
        }
        add_per_node("fua", cache_modes[c].name, cache_modes[c].flags, test_fua);
    }
    for (unsigned a = 0; a < G_N_ELEMENTS(aio_modes); a++) {
        int flags = BDRV_O_CACHE_WB | BDRV_O_NOCACHE | aio_modes[a].flags;

        add_per_node("deep-queue", aio_modes[a].name, flags, test_deep_queue);
        add_per_node("iothread", aio_modes[a].name, flags, test_iothread);
        add_per_node("unaligned-direct", aio_modes[a].name, flags, test_unaligned_direct);
        add_per_node("read-only", aio_modes[a].name, flags, test_read_only);
        add_test("read-past-eof/none", false, aio_modes[a].name, flags, test_read_past_eof);
        add_test("read-past-eof/writeback", false, aio_modes[a].name,
                 BDRV_O_CACHE_WB | aio_modes[a].flags, test_read_past_eof);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    add_engine_tests();
    add_per_node("discard", "unmap", BDRV_O_UNMAP, test_discard);
    add_per_node("discard", "ignore", 0, test_discard);
    add_per_node("write-zeroes", "", 0, test_write_zeroes);
    add_per_node("write-zeroes", "nocache", BDRV_O_NOCACHE, test_write_zeroes);
    g_test_add_func("/file-posix/write-zeroes/file/grows", test_write_zeroes_grows);
    g_test_add_func("/file-posix/write-zeroes/file/then-write", test_write_after_zeroing);
    add_per_node("block-status", "", 0, test_block_status);
    add_per_node("truncate", "", 0, test_truncate);
    add_per_node("truncate-prealloc", "", 0, test_truncate_prealloc);
    add_per_node("open-missing", "", 0, test_open_missing);
    add_per_node("temporary", "", 0, test_temporary);
    g_test_add_func("/file-posix/open-no-filename", test_open_no_filename);
    g_test_add_func("/file-posix/host-device", test_host_device);
    return g_test_run();
}
