/*
 * Block drivers for the block layer unit tests, included by each test-block*.c program:
 * "testmem", a memory-backed protocol ("testmem:NAME" shares an image by name across opens)
 * that counts its calls and asserts the alignment the core promises; "testaio", the same
 * with an aio_submit that completes from a thread of its own; "testfua", the same taking
 * BDRV_REQ_FUA itself (counted: the image is memory); "testfmt" and "testfmt2",
 * formats with a magic header probed at 100 and 50; and a stand-in "raw" when the real one
 * is not linked in. Not a model of any real driver.
 */
#ifndef TESTS_UNIT_BLOCK_TEST_DRIVERS_H
#define TESTS_UNIT_BLOCK_TEST_DRIVERS_H

#include <errno.h>
#include <string.h>
#include <glib.h>
#include "block/block_int.h"
#include "util/qdict.h"

#define TESTFMT_MAGIC "TESTFMT!"
#define TESTFMT_HEADER 512

typedef struct TestImage {
    uint8_t *data;
    uint64_t size;
    GMutex lock;
} TestImage;

typedef struct TestMemState {
    TestImage *img;
    bool anonymous;
    uint32_t align;
    unsigned delay_ms;
    int n_read, n_write, n_zeroes, n_discard, n_flush, n_aio, n_fua; /* atomic */
    int last_zero_flags;
    GThread *writers[8]; /* the threads that ran the first writes (n_write indexes them) */
    GThread *flusher;    /* the thread that ran the last flush */
} TestMemState;

static GHashTable *test_images; /* name -> TestImage */

/* Driver options from a JSON object literal (the test's own, so it must parse). */
static inline JsonObject *test_opts(const char *json)
{
    JsonNode *node = json_from_string(json, NULL);
    JsonObject *obj;

    g_assert_nonnull(node);
    obj = json_object_ref(json_node_get_object(node));
    json_node_unref(node);
    return obj;
}

static inline TestImage *test_image_new(uint64_t size)
{
    TestImage *img = g_new0(TestImage, 1);

    img->data = g_malloc0(size ? size : 1);
    img->size = size;
    g_mutex_init(&img->lock);
    return img;
}

static inline void test_image_free(gpointer p)
{
    TestImage *img = p;

    g_mutex_clear(&img->lock);
    g_free(img->data);
    g_free(img);
}

/* The named image, created with size bytes if new. */
static inline TestImage *test_image_get(const char *name, uint64_t size)
{
    TestImage *img = g_hash_table_lookup(test_images, name);

    if (!img) {
        img = test_image_new(size);
        g_hash_table_insert(test_images, g_strdup(name), img);
    }
    return img;
}

static inline TestMemState *test_mem_state(BlockDriverState *bs)
{
    return bs->opaque;
}

static inline int test_mem_open(BlockDriverState *bs, JsonObject *options, int flags, Error **errp)
{
    TestMemState *s = bs->opaque;
    uint64_t size = dict_get_int(options, "size", 1024 * 1024, NULL);

    s->align = dict_get_int(options, "align", 1, NULL);
    s->delay_ms = dict_get_int(options, "delay-ms", 0, NULL);
    if (!strcmp(bs->filename, "fail")) {
        return -ENOENT;
    }
    s->anonymous = !bs->filename[0];
    s->img = s->anonymous ? test_image_new(size) : test_image_get(bs->filename, size);
    return 0;
}

static inline void test_mem_close(BlockDriverState *bs)
{
    TestMemState *s = bs->opaque;

    if (s->anonymous) {
        test_image_free(s->img);
    }
}

static inline void test_mem_refresh_limits(BlockDriverState *bs)
{
    bs->request_alignment = test_mem_state(bs)->align;
}

/* What the core promises: aligned offsets and lengths, aligned buffers under O_DIRECT. */
static inline void test_mem_check_aligned(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                          IOVector *qiov)
{
    uint32_t align = test_mem_state(bs)->align;

    g_assert_cmpuint(offset % align, ==, 0);
    g_assert_cmpuint(bytes % align, ==, 0);
    if (qiov) {
        g_assert_cmpuint(qiov->size, ==, bytes);
        for (int i = 0; qiov && (bs->open_flags & BDRV_O_NOCACHE) && i < qiov->niov; i++) {
            g_assert_cmpuint((uintptr_t)qiov->iov[i].iov_base % align, ==, 0);
            g_assert_cmpuint(qiov->iov[i].iov_len % align, ==, 0);
        }
    }
    if (test_mem_state(bs)->delay_ms) {
        g_usleep(test_mem_state(bs)->delay_ms * 1000);
    }
}

/* Grow the image to end (writes past the end of a protocol node extend it). */
static inline void test_image_grow(TestImage *img, uint64_t end)
{
    if (end > img->size) {
        img->data = g_realloc(img->data, end);
        memset(img->data + img->size, 0, end - img->size);
        img->size = end;
    }
}

static inline int test_mem_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                  IOVector *qiov, int flags)
{
    TestMemState *s = bs->opaque;
    uint64_t n;

    test_mem_check_aligned(bs, offset, bytes, qiov);
    g_atomic_int_inc(&s->n_read);
    g_mutex_lock(&s->img->lock);
    n = offset < s->img->size ? MIN(bytes, s->img->size - offset) : 0;
    iov_from_buf(qiov, 0, s->img->data + offset, n);
    iov_memset(qiov, n, 0, bytes - n);
    g_mutex_unlock(&s->img->lock);
    return 0;
}

static inline int test_mem_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                   IOVector *qiov, int flags)
{
    TestMemState *s = bs->opaque;
    guint n;

    test_mem_check_aligned(bs, offset, bytes, qiov);
    g_assert(!bs->read_only);
    g_assert(!(flags & BDRV_REQ_FUA) || bs->drv->fua_writes);
    n = g_atomic_int_add(&s->n_write, 1);
    if (n < G_N_ELEMENTS(s->writers)) {
        g_atomic_pointer_set(&s->writers[n], g_thread_self());
    }
    if (flags & BDRV_REQ_FUA) {
        g_atomic_int_inc(&s->n_fua);
    }
    g_mutex_lock(&s->img->lock);
    test_image_grow(s->img, offset + bytes);
    iov_to_buf(qiov, 0, s->img->data + offset, bytes);
    g_mutex_unlock(&s->img->lock);
    return 0;
}

static inline int test_mem_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                         int flags)
{
    TestMemState *s = bs->opaque;

    test_mem_check_aligned(bs, offset, bytes, NULL);
    g_atomic_int_inc(&s->n_zeroes);
    s->last_zero_flags = flags;
    g_mutex_lock(&s->img->lock);
    test_image_grow(s->img, offset + bytes);
    memset(s->img->data + offset, 0, bytes);
    g_mutex_unlock(&s->img->lock);
    return 0;
}

static inline int test_mem_pdiscard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    g_atomic_int_inc(&test_mem_state(bs)->n_discard);
    return 0;
}

static inline int test_mem_flush(BlockDriverState *bs)
{
    g_atomic_int_inc(&test_mem_state(bs)->n_flush);
    g_atomic_pointer_set(&test_mem_state(bs)->flusher, g_thread_self());
    return 0;
}

static inline int64_t test_mem_getlength(BlockDriverState *bs)
{
    TestMemState *s = bs->opaque;
    int64_t size;

    g_mutex_lock(&s->img->lock);
    size = s->img->size;
    g_mutex_unlock(&s->img->lock);
    return size;
}

/* A memory image has no space to take: every mode is a plain resize. */
static inline int test_mem_truncate(BlockDriverState *bs, uint64_t size, PreallocMode mode,
                                    Error **errp)
{
    TestMemState *s = bs->opaque;

    g_mutex_lock(&s->img->lock);
    test_image_grow(s->img, size);
    s->img->size = size;
    g_mutex_unlock(&s->img->lock);
    return 0;
}

static inline gpointer test_aio_thread(gpointer opaque)
{
    BlockRequest *req = opaque;
    int ret = req->type == BLOCK_REQ_READ
                  ? test_mem_preadv(req->bs, req->offset, req->bytes, req->qiov, req->flags)
                  : test_mem_pwritev(req->bs, req->offset, req->bytes, req->qiov, req->flags);

    bdrv_request_complete(req, ret);
    return NULL;
}

/* Completes from a foreign thread, as an AIO engine's reaper could. */
static inline void test_aio_submit(BlockDriverState *bs, BlockRequest *req)
{
    g_atomic_int_inc(&test_mem_state(bs)->n_aio);
    g_thread_unref(g_thread_new("test-aio", test_aio_thread, req));
}

static const char *const test_mem_options[] = {"size", "align", "delay-ms", NULL};

static BlockDriver test_mem_driver = {
    .format_name = "testmem",
    .protocol_name = "testmem",
    .is_protocol = true,
    .instance_size = sizeof(TestMemState),
    .option_names = test_mem_options,
    .open = test_mem_open,
    .close = test_mem_close,
    .preadv = test_mem_preadv,
    .pwritev = test_mem_pwritev,
    .flush = test_mem_flush,
    .pdiscard = test_mem_pdiscard,
    .pwrite_zeroes = test_mem_pwrite_zeroes,
    .getlength = test_mem_getlength,
    .truncate = test_mem_truncate,
    .refresh_limits = test_mem_refresh_limits,
};

static BlockDriver test_aio_driver, test_fua_driver;

/* ---- formats: a magic header sector, then the data ---- */

static inline int test_fmt_probe(const uint8_t *buf, int len, const char *filename)
{
    return len >= 8 && !memcmp(buf, TESTFMT_MAGIC, 8) ? 100 : 0;
}

static inline int test_fmt2_probe(const uint8_t *buf, int len, const char *filename)
{
    return test_fmt_probe(buf, len, filename) / 2;
}

static inline int test_fmt_open(BlockDriverState *bs, JsonObject *options, int flags, Error **errp)
{
    BlockDriverState *file = bdrv_open_child(bs, options, "file", flags, false, errp);
    char magic[8];

    if (!file) {
        return -EINVAL;
    }
    if (bdrv_pread(file, 0, magic, sizeof(magic)) < 0 || memcmp(magic, TESTFMT_MAGIC, 8)) {
        error_setg(errp, "Image is not in %s format", bs->drv->format_name);
        return -EINVAL;
    }
    return 0;
}

static inline int test_fmt_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                  IOVector *qiov, int flags)
{
    return bdrv_preadv(bs->file, offset + TESTFMT_HEADER, qiov, flags);
}

static inline int test_fmt_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                   IOVector *qiov, int flags)
{
    return bdrv_pwritev(bs->file, offset + TESTFMT_HEADER, qiov, flags);
}

static inline int64_t test_fmt_getlength(BlockDriverState *bs)
{
    int64_t len = bdrv_getlength(bs->file);

    return len < 0 ? len : MAX(len - TESTFMT_HEADER, 0);
}

static inline void test_fmt_child_done(void *opaque, int ret)
{
    bdrv_request_complete(opaque, ret);
}

/* Forwards reads and writes as child requests, as raw does over file. */
static inline void test_fmt_aio_submit(BlockDriverState *bs, BlockRequest *req)
{
    uint64_t off = req->offset + TESTFMT_HEADER;

    if (req->type == BLOCK_REQ_WRITE) {
        bdrv_aio_pwritev(bs->file, off, req->qiov, req->flags, test_fmt_child_done, req);
    } else {
        bdrv_aio_preadv(bs->file, off, req->qiov, req->flags, test_fmt_child_done, req);
    }
}

static BlockDriver test_fmt_driver = {
    .format_name = "testfmt",
    .probe = test_fmt_probe,
    .open = test_fmt_open,
    .preadv = test_fmt_preadv,
    .pwritev = test_fmt_pwritev,
    .getlength = test_fmt_getlength,
    .aio_submit = test_fmt_aio_submit,
};

static BlockDriver test_fmt2_driver;
static BlockDriver test_raw_driver;

static inline int test_raw_probe(const uint8_t *buf, int len, const char *filename)
{
    return 1;
}

static inline int test_raw_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                  IOVector *qiov, int flags)
{
    return bdrv_preadv(bs->file, offset, qiov, flags);
}

static inline int test_raw_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                                   IOVector *qiov, int flags)
{
    return bdrv_pwritev(bs->file, offset, qiov, flags);
}

static inline int64_t test_raw_getlength(BlockDriverState *bs)
{
    return bdrv_getlength(bs->file);
}

static inline void test_drivers_register(void)
{
    test_images = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, test_image_free);
    bdrv_register(&test_mem_driver);
    test_aio_driver = test_mem_driver;
    test_aio_driver.format_name = test_aio_driver.protocol_name = "testaio";
    test_aio_driver.aio_submit = test_aio_submit;
    bdrv_register(&test_aio_driver);
    test_fua_driver = test_mem_driver;
    test_fua_driver.format_name = test_fua_driver.protocol_name = "testfua";
    test_fua_driver.fua_writes = true;
    bdrv_register(&test_fua_driver);
    bdrv_register(&test_fmt_driver);
    test_fmt2_driver = test_fmt_driver;
    test_fmt2_driver.format_name = "testfmt2";
    test_fmt2_driver.probe = test_fmt2_probe;
    bdrv_register(&test_fmt2_driver);
    if (!bdrv_find_format("raw")) {
        test_raw_driver = (BlockDriver){
            .format_name = "raw",
            .probe = test_raw_probe,
            .preadv = test_raw_preadv,
            .pwritev = test_raw_pwritev,
            .getlength = test_raw_getlength,
        };
        bdrv_register(&test_raw_driver);
    }
}

#endif
