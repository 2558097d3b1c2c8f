/*
 * Unit tests for the block layer's nodes (block/block.c, probe.c, io.c, io-align.c,
 * op-blockers.c) and util/iov.c, on the memory-backed test drivers: the driver registry and
 * protocol lookup, opening by options or protocol filename, node names, leftover options,
 * probing and the whitelist, synchronous I/O with read-modify-write under an alignment,
 * detect-zeroes, discard policy, read-only refusal, writethrough, the probed-raw guard and
 * op blockers. Asynchronous requests and drain are in test-block-aio.c, backends in
 * test-block-backend.c.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "block/block-backend.h"
#include "block-test-drivers.h"

/* bdrv_open that must fail with exactly msg. */
static void open_fails(const char *filename, const char *json, int flags, const char *msg)
{
    Error *err = NULL;

    g_assert_null(bdrv_open(filename, json ? test_opts(json) : NULL, flags, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
}

/* A named test image holding TESTFMT_MAGIC in its first bytes. */
static void make_testfmt_image(const char *name, uint64_t size)
{
    TestImage *img = test_image_get(name, size);

    memcpy(img->data, TESTFMT_MAGIC, 8);
}

static void test_iov(void)
{
    uint8_t a[8] = "abcdefg", b[8] = "ABCDEFG", out[16];
    IOVector v, s;

    iov_init(&v, 1);
    iov_add(&v, a, 7);
    iov_add(&v, b, 7);
    g_assert_cmpuint(v.size, ==, 14);
    g_assert_cmpuint(iov_to_buf(&v, 5, out, 16), ==, 9);
    g_assert_cmpmem(out, 9, "fgABCDEFG", 9);
    iov_init(&s, 0);
    iov_add_slice(&s, &v, 6, 3);
    g_assert_cmpint(s.niov, ==, 2);
    g_assert_cmpuint(iov_from_buf(&s, 0, "xyz", 3), ==, 3);
    g_assert_cmpmem(a, 7, "abcdefx", 7);
    g_assert_cmpmem(b, 7, "yzCDEFG", 7);
    g_assert_false(iov_is_zero(&v));
    g_assert_cmpuint(iov_memset(&v, 0, 0, 100), ==, 14);
    g_assert_true(iov_is_zero(&v));
    iov_destroy(&s);
    iov_destroy(&v);
    g_assert_true(buffer_is_zero((uint8_t[200]){0} + 3, 190));
}

static void test_registry(void)
{
    Error *err = NULL;

    g_assert_true(bdrv_find_format("testmem") == &test_mem_driver);
    g_assert_null(bdrv_find_format("nope"));
    g_assert_true(bdrv_find_protocol("testmem:img", &error_abort) == &test_mem_driver);
    g_assert_true(bdrv_find_protocol("testaio:", &error_abort) == &test_aio_driver);
    g_assert_null(bdrv_find_protocol("nosuch:x", &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Unknown protocol 'nosuch'");
    error_free(err);
    if (!bdrv_find_format("file")) {
        err = NULL;
        g_assert_null(bdrv_find_protocol("/tmp/a:b", &err));
        g_assert_cmpstr(error_get_pretty(err), ==, "Unknown protocol 'file'");
        error_free(err);
    }
}

static void test_open_protocol(void)
{
    BlockDriverState *bs = bdrv_open(NULL, test_opts("{\"driver\":\"testmem\",\"size\":65536}"),
                                     BDRV_O_RDWR, &error_abort);

    g_assert_cmpint(bdrv_getlength(bs), ==, 65536);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "testmem");
    g_assert_false(bdrv_is_read_only(bs));
    g_assert_false(bdrv_was_probed(bs));
    g_assert_cmpstr(dict_get_str(bs->options, "driver"), ==, "testmem");
    bdrv_unref(bs);

    bs = bdrv_open("testmem:proto", test_opts("{\"size\":4096}"), BDRV_O_PROTOCOL, &error_abort);
    g_assert_cmpstr(bdrv_get_filename(bs), ==, "proto");
    g_assert_cmpint(bdrv_getlength(bs), ==, 4096);
    g_assert_true(bdrv_is_read_only(bs));
    g_assert_cmpstr(dict_get_str(bs->options, "filename"), ==, "testmem:proto");
    bdrv_unref(bs);

    open_fails(NULL, "{\"driver\":\"nope\"}", 0, "Unknown driver 'nope'");
    open_fails("testmem:fail", NULL, BDRV_O_PROTOCOL,
               "Could not open 'fail': No such file "
               "or directory");
    open_fails("testmem:x", "{\"driver\":\"testmem\",\"filename\":\"testmem:y\"}", 0,
               "Can't specify 'file' and 'filename' options at the same time");
    open_fails(NULL, NULL, 0, "Must specify either driver or file");
    open_fails(NULL, "{\"driver\":\"testfmt\"}", 0,
               "Can't use 'testfmt' as a block driver for the protocol level");
}

static void test_node_names(void)
{
    BlockDriverState *a, *b;
    BlockBackend *blk = blk_new("drive0", &error_abort);

    a = bdrv_open(NULL, test_opts("{\"driver\":\"testmem\",\"node-name\":\"node-a\"}"), 0,
                  &error_abort);
    g_assert_true(bdrv_find_node("node-a") == a);
    g_assert_cmpstr(bdrv_get_node_name(a), ==, "node-a");
    b = bdrv_open(NULL, test_opts("{\"driver\":\"testmem\",\"node-name\":\"b_1.x-y\"}"), 0,
                  &error_abort);
    g_assert_true(bdrv_next_node(NULL) == a);
    g_assert_true(bdrv_next_node(a) == b);
    g_assert_null(bdrv_next_node(b));
    g_assert_true(bdrv_lookup_bs("nope", "b_1.x-y", &error_abort) == b);

    open_fails(NULL, "{\"driver\":\"testmem\",\"node-name\":\"node-a\"}", 0, "Duplicate node name");
    open_fails(NULL, "{\"driver\":\"testmem\",\"node-name\":\"1abc\"}", 0, "Invalid node name");
    open_fails(NULL, "{\"driver\":\"testmem\",\"node-name\":\"a b\"}", 0, "Invalid node name");
    open_fails(NULL, "{\"driver\":\"testmem\",\"node-name\":\"\"}", 0, "Invalid node name");
    open_fails(NULL,
               "{\"driver\":\"testmem\",\"node-name\":\"n23456789012345678901234567890"
               "12\"}",
               0, "Node name too long");
    open_fails(NULL, "{\"driver\":\"testmem\",\"node-name\":\"drive0\"}", 0,
               "node-name=drive0 is conflicting with a device id");
    bdrv_unref(a);
    g_assert_null(bdrv_find_node("node-a"));
    g_assert_true(bdrv_next_node(NULL) == b);
    bdrv_unref(b);
    blk_unref(blk);
}

static void test_leftover_options(void)
{
    BlockBackend *blk;
    Error *err = NULL;

    make_testfmt_image("fmt-left", 65536);
    open_fails(NULL, "{\"driver\":\"testmem\",\"bogus\":1,\"zzz\":2}", BDRV_O_PROTOCOL,
               "Block protocol 'testmem' doesn't support the option 'bogus'");
    open_fails("testmem:fmt-left", "{\"driver\":\"testfmt\",\"bogus\":\"x\"}", 0,
               "Block format 'testfmt' used by device '' doesn't support the option 'bogus'");
    open_fails("testmem:fmt-left", "{\"driver\":\"testfmt\",\"file.bogus\":\"x\"}", 0,
               "Block protocol 'testmem' doesn't support the option 'bogus'");
    blk = blk_new_open("drv0", "testmem:fmt-left", test_opts("{\"driver\":\"testfmt\",\"lazy\":1}"),
                       0, &err);
    g_assert_null(blk);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Block format 'testfmt' used by device 'drv0' "
                    "doesn't support the option 'lazy'");
    error_free(err);
    g_assert_null(blk_by_name("drv0"));
    /* QEMU 2.2 opens "backing.*" for every format, refused by those without backing files. */
    open_fails("testmem:fmt-left", "{\"driver\":\"testfmt\",\"backing.driver\":\"testmem\"}", 0,
               "Driver doesn't support backing files");
}

static void test_generic_options(void)
{
    BlockDriverState *bs;

    bs = bdrv_open(NULL,
                   test_opts("{\"driver\":\"testmem\",\"cache\":{\"direct\":true,"
                             "\"no-flush\":\"on\"},\"aio\":\"native\",\"discard\":\"unmap\","
                             "\"detect-zeroes\":\"unmap\"}"),
                   0, &error_abort);
    g_assert_cmphex(bdrv_get_flags(bs) &
                        (BDRV_O_NOCACHE | BDRV_O_NO_FLUSH | BDRV_O_UNMAP | BDRV_O_NATIVE_AIO),
                    ==, BDRV_O_NOCACHE | BDRV_O_NO_FLUSH | BDRV_O_UNMAP | BDRV_O_NATIVE_AIO);
    g_assert_cmpint(bdrv_get_detect_zeroes(bs), ==, BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP);
    bdrv_unref(bs);

    open_fails(NULL, "{\"driver\":\"testmem\",\"aio\":\"native\"}", 0,
               "aio=native requires cache.direct=true");
    open_fails(NULL, "{\"driver\":\"testmem\",\"aio\":\"fast\"}", 0, "invalid aio option");
    open_fails(NULL, "{\"driver\":\"testmem\",\"discard\":\"maybe\"}", 0, "invalid discard option");
    open_fails(NULL, "{\"driver\":\"testmem\",\"detect-zeroes\":\"yes\"}", 0,
               "invalid parameter value: yes");
    open_fails(NULL, "{\"driver\":\"testmem\",\"detect-zeroes\":\"unmap\"}", 0,
               "setting detect-zeroes to unmap is not allowed without setting discard "
               "operation to unmap");
    open_fails(NULL, "{\"driver\":\"testmem\",\"cache.direct\":\"sometimes\"}", 0,
               "Parameter 'cache.direct' expects 'on' or 'off'");
}

static void test_probing(void)
{
    BlockDriverState *bs;
    uint8_t buf[512];

    make_testfmt_image("probe-fmt", 65536);
    bs = bdrv_open("testmem:probe-fmt", NULL, BDRV_O_RDWR, &error_abort);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "testfmt"); /* 100 beats 50 */
    g_assert_true(bdrv_was_probed(bs));
    g_assert_cmpstr(bdrv_get_format_name(bdrv_file_child(bs)), ==, "testmem");
    g_assert_cmpint(bdrv_getlength(bs), ==, 65536 - TESTFMT_HEADER);
    memset(buf, 0x5a, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(test_image_get("probe-fmt", 0)->data[TESTFMT_HEADER], ==, 0x5a);
    bdrv_unref(bs);

    bs = bdrv_open("testmem:probe-fmt", test_opts("{\"driver\":\"testfmt2\"}"), 0, &error_abort);
    g_assert_false(bdrv_was_probed(bs));
    bdrv_unref(bs);

    test_image_get("probe-none", 4096);
    bs = bdrv_open("testmem:probe-none", NULL, 0, &error_abort);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "raw");
    g_assert_true(bdrv_was_probed(bs));
    bdrv_unref(bs);

    test_image_get("probe-empty", 0);
    bs = bdrv_open("testmem:probe-empty", NULL, 0, &error_abort);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "raw");
    bdrv_unref(bs);
}

static void test_whitelist(void)
{
    static const char *const wl[] = {"raw", "testfmt2", NULL};
    BlockDriverState *bs;

    make_testfmt_image("wl", 4096);
    bdrv_set_format_whitelist(wl);
    open_fails("testmem:wl", NULL, 0, "Driver 'testfmt' is not whitelisted");
    bs = bdrv_open("testmem:wl", test_opts("{\"driver\":\"testfmt2\"}"), 0, &error_abort);
    bdrv_unref(bs);
    bdrv_set_format_whitelist(NULL);
}

static void test_json_filename(void)
{
    BlockDriverState *bs = bdrv_open("json:{\"driver\":\"testmem\",\"size\":512,"
                                     "\"node-name\":\"js\"}",
                                     test_opts("{\"size\":1024}"), 0, &error_abort);

    g_assert_cmpint(bdrv_getlength(bs), ==, 1024); /* explicit options win */
    g_assert_true(bdrv_find_node("js") == bs);
    bdrv_unref(bs);
    open_fails("json:{nope", NULL, 0, "Could not parse the JSON options");
    open_fails("json:[1]", NULL, 0, "Invalid JSON object given");
}

static void test_rw_roundtrip(void)
{
    BlockDriverState *bs = bdrv_open(NULL, test_opts("{\"driver\":\"testmem\",\"size\":65536}"),
                                     BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    uint8_t w[4096], r[4096];

    for (unsigned i = 0; i < sizeof(w); i++) {
        w[i] = i * 7;
    }
    g_assert_cmpint(bdrv_pwrite(bs, 1000, w, sizeof(w)), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 1000, r, sizeof(r)), ==, 0);
    g_assert_cmpmem(w, sizeof(w), r, sizeof(r));
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(test_mem_state(bs)->n_flush, ==, 1);
    g_assert_cmpint(bdrv_pread(bs, 65536 - 10, r, 11), ==, -EIO);
    g_assert_cmpint(bdrv_pwrite(bs, 65536, w, 1), ==, -EIO);
    g_assert_cmpint(bdrv_pread(bs, UINT64_MAX - 1, r, 4), ==, -EIO);
    g_assert_cmpint(bdrv_pread(bs, 65536, r, 0), ==, 0);
    bdrv_unref(bs);
}

/* Protocol nodes opened as such grow on writes past their end, as files under formats. */
static void test_growable(void)
{
    BlockDriverState *bs = bdrv_open("testmem:", test_opts("{\"size\":512}"),
                                     BDRV_O_RDWR | BDRV_O_PROTOCOL | BDRV_O_CACHE_WB, &error_abort);
    uint8_t buf[512] = {1};

    g_assert_cmpint(bdrv_pwrite(bs, 4096, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(bdrv_getlength(bs), ==, 4608);
    bdrv_unref(bs);
}

/* Unaligned requests on a 512-aligned node: the driver only sees aligned ones. */
static void test_alignment_rmw(void)
{
    BlockDriverState *bs = bdrv_open(NULL,
                                     test_opts("{\"driver\":\"testmem\",\"size\":65536,"
                                               "\"align\":512}"),
                                     BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    g_autofree uint8_t *shadow = g_malloc0(65536);
    g_autofree uint8_t *buf = g_malloc(8192);
    GRand *rand = g_rand_new_with_seed(42);

    for (int i = 0; i < 200; i++) {
        uint32_t off = g_rand_int_range(rand, 0, 65536 - 8192);
        uint32_t len = g_rand_int_range(rand, 1, 8192);

        if (i % 2) {
            for (uint32_t j = 0; j < len; j++) {
                buf[j] = g_rand_int(rand);
            }
            g_assert_cmpint(bdrv_pwrite(bs, off, buf, len), ==, 0);
            memcpy(shadow + off, buf, len);
        } else {
            g_assert_cmpint(bdrv_pread(bs, off, buf, len), ==, 0);
            g_assert_cmpmem(buf, len, shadow + off, len);
        }
    }
    g_assert_cmpmem(test_mem_state(bs)->img->data, 65536, shadow, 65536);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 100, 2000, 0), ==, 0);
    memset(shadow + 100, 0, 2000);
    g_assert_cmpmem(test_mem_state(bs)->img->data, 65536, shadow, 65536);
    g_assert_cmpint(test_mem_state(bs)->n_zeroes, ==, 1); /* the aligned middle */
    g_rand_free(rand);
    bdrv_unref(bs);
}

/* With cache.direct the buffers must be aligned too: misaligned ones are bounced. */
static void test_alignment_nocache(void)
{
    BlockDriverState *bs = bdrv_open(NULL,
                                     test_opts("{\"driver\":\"testmem\",\"align\":512,"
                                               "\"cache.direct\":true}"),
                                     BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    g_autofree uint8_t *buf = g_malloc(4096 + 1);
    uint8_t *odd = buf + 1;

    memset(odd, 0xcc, 4096);
    g_assert_cmpint(bdrv_pwrite(bs, 4096, odd, 4096), ==, 0);
    memset(odd, 0, 4096);
    g_assert_cmpint(bdrv_pread(bs, 4096, odd, 4096), ==, 0);
    g_assert_cmpint(odd[0], ==, 0xcc);
    g_assert_cmpint(odd[4095], ==, 0xcc);
    bdrv_unref(bs);
}

static void test_detect_zeroes(void)
{
    BlockDriverState *bs = bdrv_open(NULL,
                                     test_opts("{\"driver\":\"testmem\",\"discard\":\"unmap\","
                                               "\"detect-zeroes\":\"on\"}"),
                                     BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    TestMemState *s = test_mem_state(bs);
    uint8_t zero[4096] = {0}, one[4096] = {1};

    g_assert_cmpint(bdrv_pwrite(bs, 0, zero, sizeof(zero)), ==, 0);
    g_assert_cmpint(s->n_zeroes, ==, 1);
    g_assert_cmpint(s->n_write, ==, 0);
    g_assert_cmpint(s->last_zero_flags & BDRV_REQ_MAY_UNMAP, ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 0, one, sizeof(one)), ==, 0);
    g_assert_cmpint(s->n_write, ==, 1);
    bdrv_set_detect_zeroes(bs, BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP);
    g_assert_cmpint(bdrv_pwrite(bs, 0, zero, sizeof(zero)), ==, 0);
    g_assert_cmpint(s->n_zeroes, ==, 2);
    g_assert_cmpint(s->last_zero_flags & BDRV_REQ_MAY_UNMAP, ==, BDRV_REQ_MAY_UNMAP);
    bdrv_set_detect_zeroes(bs, BLOCKDEV_DETECT_ZEROES_OPTIONS_OFF);
    g_assert_cmpint(bdrv_pwrite(bs, 0, zero, sizeof(zero)), ==, 0);
    g_assert_cmpint(s->n_write, ==, 2);
    bdrv_unref(bs);
}

/* Without discard=unmap, discard succeeds without reaching the driver; MAY_UNMAP drops. */
static void test_discard_policy(void)
{
    BlockDriverState *bs = bdrv_open(NULL, test_opts("{\"driver\":\"testmem\"}"),
                                     BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);

    g_assert_cmpint(bdrv_pdiscard(bs, 0, 4096), ==, 0);
    g_assert_cmpint(test_mem_state(bs)->n_discard, ==, 0);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 0, 4096, BDRV_REQ_MAY_UNMAP), ==, 0);
    g_assert_cmpint(test_mem_state(bs)->last_zero_flags, ==, 0);
    bdrv_unref(bs);

    bs = bdrv_open(NULL, test_opts("{\"driver\":\"testmem\",\"discard\":\"on\"}"),
                   BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    g_assert_cmpint(bdrv_pdiscard(bs, 0, 4096), ==, 0);
    g_assert_cmpint(test_mem_state(bs)->n_discard, ==, 1);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 0, 4096, BDRV_REQ_MAY_UNMAP), ==, 0);
    g_assert_cmpint(test_mem_state(bs)->last_zero_flags, ==, BDRV_REQ_MAY_UNMAP);
    bdrv_unref(bs);
}

/* A format without pwrite_zeroes gets zero buffers written through its pwritev. */
static void test_zeroes_fallback(void)
{
    BlockDriverState *bs;
    TestImage *img;

    make_testfmt_image("zero-fb", 4 * 1024 * 1024);
    img = test_image_get("zero-fb", 0);
    memset(img->data + TESTFMT_HEADER, 0xff, 3 * 1024 * 1024);
    bs = bdrv_open("testmem:zero-fb", test_opts("{\"driver\":\"testfmt\"}"),
                   BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 10, 3 * 1024 * 1024 - 20, 0), ==, 0);
    g_assert_cmpint(img->data[TESTFMT_HEADER + 9], ==, 0xff);
    g_assert_true(buffer_is_zero(img->data + TESTFMT_HEADER + 10, 3 * 1024 * 1024 - 20));
    g_assert_cmpint(img->data[TESTFMT_HEADER + 3 * 1024 * 1024 - 10], ==, 0xff);
    g_assert_cmpint(test_mem_state(bdrv_file_child(bs))->n_write, ==, 3); /* 1 MiB chunks */
    bdrv_unref(bs);
}

static void test_read_only(void)
{
    BlockDriverState *bs =
        bdrv_open(NULL, test_opts("{\"driver\":\"testmem\",\"discard\":\"on\"}"), 0, &error_abort);
    uint8_t buf[512] = {0};
    Error *err = NULL;

    g_assert_true(bdrv_is_read_only(bs));
    g_assert_cmpint(bdrv_pread(bs, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, sizeof(buf)), ==, -EACCES);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 0, 512, 0), ==, -EACCES);
    g_assert_cmpint(bdrv_pdiscard(bs, 0, 512), ==, -EPERM);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(bdrv_truncate(bs, 4096, &err), ==, -EACCES);
    g_assert_cmpstr(error_get_pretty(err), ==, "Image is read-only");
    error_free(err);
    g_assert_cmpint(test_mem_state(bs)->n_write + test_mem_state(bs)->n_flush, ==, 0);
    bdrv_unref(bs);
}

/* Writethrough (no BDRV_O_CACHE_WB) and FUA flush after the write; no-flush skips syncing. */
static void test_writethrough(void)
{
    BlockDriverState *bs =
        bdrv_open(NULL, test_opts("{\"driver\":\"testmem\"}"), BDRV_O_RDWR, &error_abort);
    uint8_t buf[512] = {1};

    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(test_mem_state(bs)->n_flush, ==, 1);
    bs->enable_write_cache = true;
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(test_mem_state(bs)->n_flush, ==, 1);
    IOVector qiov;
    iov_init_buf(&qiov, buf, sizeof(buf));
    g_assert_cmpint(bdrv_pwritev(bs, 0, &qiov, BDRV_REQ_FUA), ==, 0);
    iov_destroy(&qiov);
    g_assert_cmpint(test_mem_state(bs)->n_flush, ==, 2);
    bdrv_unref(bs); /* closing flushes too */

    bs = bdrv_open(NULL, test_opts("{\"driver\":\"testmem\",\"cache.no-flush\":true}"),
                   BDRV_O_RDWR | BDRV_O_PROTOCOL, &error_abort);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(test_mem_state(bs)->n_flush, ==, 0);
    bdrv_unref(bs);
}

/*
 * A driver that takes FUA itself gets the flag and no flush follows; not while the node
 * writes through (the flush after every write does it) nor with flushes off (nothing does).
 */
static void test_fua_native(void)
{
    BlockDriverState *bs = bdrv_open(NULL, test_opts("{\"driver\":\"testfua\"}"),
                                     BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    TestMemState *s = test_mem_state(bs);
    uint8_t buf[512] = {7}, back[512];

    g_assert_cmpint(bdrv_pwrite_fua(bs, 512, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(s->n_fua, ==, 1);
    g_assert_cmpint(s->n_flush, ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 512, back, sizeof(back)), ==, 0);
    g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(s->n_fua, ==, 1);
    bs->enable_write_cache = false;
    g_assert_cmpint(bdrv_pwrite_fua(bs, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(s->n_fua, ==, 1);
    g_assert_cmpint(s->n_flush, ==, 1);
    bdrv_unref(bs);

    bs = bdrv_open(NULL, test_opts("{\"driver\":\"testfua\",\"cache.no-flush\":true}"),
                   BDRV_O_RDWR | BDRV_O_CACHE_WB | BDRV_O_PROTOCOL, &error_abort);
    s = test_mem_state(bs);
    g_assert_cmpint(bdrv_pwrite_fua(bs, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(s->n_write, ==, 1);
    g_assert_cmpint(s->n_fua + s->n_flush, ==, 0);
    bdrv_unref(bs);
}

/*
 * A protocol node's sync is skipped when nothing changed since the last one that
 * succeeded; each kind of change (write, zero write, discard, truncate) makes the next run.
 */
static void test_flush_skips_unchanged(void)
{
    BlockDriverState *bs = bdrv_open(NULL, test_opts("{\"driver\":\"testmem\",\"discard\":\"on\"}"),
                                     BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    uint8_t buf[512] = {1};
    int *n_flush = &test_mem_state(bs)->n_flush;

    g_assert_cmpint(bdrv_flush(bs), ==, 0); /* an earlier user may have left data unsynced */
    g_assert_cmpint(*n_flush, ==, 1);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(*n_flush, ==, 1);
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(*n_flush, ==, 2);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 0, 512, 0), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(*n_flush, ==, 3);
    g_assert_cmpint(bdrv_pdiscard(bs, 0, 512), ==, 0);
    g_assert_cmpint(test_mem_state(bs)->n_discard, ==, 1);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(*n_flush, ==, 4);
    g_assert_cmpint(bdrv_truncate(bs, 1 << 20, &error_abort), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(*n_flush, ==, 5);
    bdrv_unref(bs);
}

static void test_truncate(void)
{
    BlockDriverState *bs;
    Error *err = NULL;

    make_testfmt_image("trunc", 4096);
    bs = bdrv_open("testmem:trunc", NULL, BDRV_O_RDWR, &error_abort);
    g_assert_cmpint(bdrv_truncate(bs, 8192, &err), ==, -ENOTSUP);
    g_assert_cmpstr(error_get_pretty(err), ==, "Image format driver does not support resize");
    error_free(err);
    g_assert_cmpint(bdrv_truncate(bdrv_file_child(bs), 8192, &error_abort), ==, 0);
    g_assert_cmpint(bdrv_getlength(bdrv_file_child(bs)), ==, 8192);
    bdrv_unref(bs);
}

/* A raw node whose format was probed refuses writes that would make it probe differently. */
static void test_probed_raw_guard(void)
{
    BlockDriverState *bs;
    uint8_t magic[8] = TESTFMT_MAGIC, buf[512] = {0};

    test_image_get("guard", 65536);
    bs = bdrv_open("testmem:guard", NULL, BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "raw");
    g_assert_true(bdrv_was_probed(bs));
    g_assert_cmpint(bdrv_pwrite(bs, 0, magic, 8), ==, -EPERM);
    memcpy(buf, magic, 8);
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, sizeof(buf)), ==, -EPERM);
    g_assert_cmpint(bdrv_pwrite(bs, 8, magic, 8), ==, 0); /* not a header */
    g_assert_cmpint(bdrv_pwrite(bs, 512, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 0, (uint8_t[4]){'T', 'E', 'S', 'T'}, 4), ==, 0);
    g_assert_cmpint(bdrv_pwrite(bs, 4, "FMT!", 4), ==, -EPERM); /* completes the magic */
    bdrv_unref(bs);

    bs = bdrv_open("testmem:guard", test_opts("{\"driver\":\"raw\"}"),
                   BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    g_assert_cmpint(bdrv_pwrite(bs, 0, magic, 8), ==, 0);
    bdrv_unref(bs);
    bs = bdrv_open("testmem:guard", NULL, 0, &error_abort);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "testfmt");
    bdrv_unref(bs);
}

static void test_op_blockers(void)
{
    BlockDriverState *bs =
        bdrv_open(NULL, test_opts("{\"driver\":\"testmem\",\"node-name\":\"ob\"}"), BDRV_O_RDWR,
                  &error_abort);
    Error *job = NULL, *other = NULL, *err = NULL;

    error_setg(&job, "block device is in use by block job: stream");
    error_setg(&other, "second reason");
    g_assert_false(bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_RESIZE, &error_abort));
    bdrv_op_block_all(bs, job);
    bdrv_op_block(bs, BLOCK_OP_TYPE_RESIZE, other);
    g_assert_true(bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_RESIZE, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Device 'ob' is busy: second reason");
    error_free(err);
    err = NULL;
    g_assert_cmpint(bdrv_truncate(bs, 4096, &err), ==, -EBUSY);
    g_assert_cmpstr(error_get_pretty(err), ==, "Device 'ob' is busy: second reason");
    error_free(err);
    bdrv_op_unblock(bs, BLOCK_OP_TYPE_RESIZE, other);
    err = NULL;
    g_assert_true(bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_COMMIT, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Device 'ob' is busy: block device is in use by block job: stream");
    error_free(err);
    bdrv_op_unblock_all(bs, job);
    g_assert_false(bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_COMMIT, NULL));
    error_free(job);
    error_free(other);
    bdrv_unref(bs);
}

static void test_block_status(void)
{
    BlockDriverState *bs =
        bdrv_open(NULL, test_opts("{\"driver\":\"testmem\",\"size\":8192}"), 0, &error_abort);
    uint64_t pnum;

    g_assert_cmpint(bdrv_block_status(bs, 4096, 65536, &pnum), ==,
                    BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED);
    g_assert_cmpuint(pnum, ==, 4096);
    g_assert_cmpint(bdrv_block_status(bs, 8192, 1, &pnum), ==, 0);
    g_assert_cmpuint(pnum, ==, 0);
    bdrv_unref(bs);
}

static void list_format(void *opaque, const char *name)
{
    g_string_append_printf(opaque, "%s ", name);
}

static void test_iterate_format(void)
{
    g_autoptr(GString) s = g_string_new("");

    bdrv_iterate_format(list_format, s);
    g_assert_nonnull(strstr(s->str, "testaio testfmt testfmt2 testfua testmem"));
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_drivers_register();
    g_test_add_func("/block/iov", test_iov);
    g_test_add_func("/block/registry", test_registry);
    g_test_add_func("/block/open-protocol", test_open_protocol);
    g_test_add_func("/block/node-names", test_node_names);
    g_test_add_func("/block/leftover-options", test_leftover_options);
    g_test_add_func("/block/generic-options", test_generic_options);
    g_test_add_func("/block/probing", test_probing);
    g_test_add_func("/block/whitelist", test_whitelist);
    g_test_add_func("/block/json-filename", test_json_filename);
    g_test_add_func("/block/rw-roundtrip", test_rw_roundtrip);
    g_test_add_func("/block/growable", test_growable);
    g_test_add_func("/block/alignment-rmw", test_alignment_rmw);
    g_test_add_func("/block/alignment-nocache", test_alignment_nocache);
    g_test_add_func("/block/detect-zeroes", test_detect_zeroes);
    g_test_add_func("/block/discard-policy", test_discard_policy);
    g_test_add_func("/block/zeroes-fallback", test_zeroes_fallback);
    g_test_add_func("/block/read-only", test_read_only);
    g_test_add_func("/block/writethrough", test_writethrough);
    g_test_add_func("/block/fua-native", test_fua_native);
    g_test_add_func("/block/flush-skips-unchanged", test_flush_skips_unchanged);
    g_test_add_func("/block/truncate", test_truncate);
    g_test_add_func("/block/probed-raw-guard", test_probed_raw_guard);
    g_test_add_func("/block/op-blockers", test_op_blockers);
    g_test_add_func("/block/block-status", test_block_status);
    g_test_add_func("/block/iterate-format", test_iterate_format);
    ret = g_test_run();
    g_hash_table_destroy(test_images);
    return ret;
}
