/*
 * minivmm-img compare: qemu-img 7.2's "compare [-f fmt] [-F fmt] [-T src_cache] [-p] [-q] [-s]
 * filename1 filename2". Walks both images by block status (through their backing chains):
 * ranges zero in both are equal without reading, ranges allocated in both are read and
 * compared, a range allocated in one only must read as zeroes. Images of different sizes are
 * equal if the larger one's extra part reads as zeroes ("Warning: Image size mismatch!"),
 * except with -s. Messages and exit codes are qemu-img's: 0 identical, 1 different, 2 an
 * image could not be opened, 3 a block status failed, 4 a read failed. Strict mode (-s)
 * compares the data/zero/allocated bits of the block status, not QEMU's internal flags.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "util/error.h"
#include "tools/img/img.h"

#define COMPARE_BUF_SIZE (2 * 1024 * 1024)
#define COMPARE_STATUS_MASK (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO | BDRV_BLOCK_ALLOCATED)

typedef struct CompareImage {
    const char *filename;
    const char *fmt;
    BlockBackend *blk;
    int64_t size;
    uint8_t *buf;
} CompareImage;

typedef struct Compare {
    CompareImage img[2];
    bool quiet, strict, progress;
    int flags; /* BDRV_O_FORCE_SHARE for -U */
    const char *cache;
    uint64_t progress_base;
} Compare;

static void compare_say(Compare *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void compare_say(Compare *c, const char *fmt, ...)
{
    va_list ap;

    if (!c->quiet) {
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
    }
}

/* Offset of the first 512-byte sector of buf holding a non-zero byte, or -1. */
static int64_t compare_find_nonzero(const uint8_t *buf, uint64_t n)
{
    for (uint64_t i = 0; i < n; i += BDRV_SECTOR_SIZE) {
        uint64_t len = MIN(BDRV_SECTOR_SIZE, n - i);
        if (buf[i] || memcmp(buf + i, buf + i + 1, len - 1)) {
            return i;
        }
    }
    return -1;
}

/* Length of the prefix (in whole sectors) with the first sector's equality; *differ. */
static uint64_t compare_buffers(const uint8_t *a, const uint8_t *b, uint64_t n, bool *differ)
{
    uint64_t i = MIN(n, BDRV_SECTOR_SIZE);

    *differ = memcmp(a, b, i) != 0;
    while (i < n) {
        uint64_t len = MIN(n - i, BDRV_SECTOR_SIZE);
        if ((memcmp(a + i, b + i, len) != 0) != *differ) {
            break;
        }
        i += len;
    }
    return i;
}

static int compare_read(CompareImage *im, uint64_t offset, uint64_t n)
{
    int ret = blk_pread(im->blk, offset, im->buf, n);

    if (ret < 0) {
        error_report("Error while reading offset %" PRIu64 " of %s: %s", offset, im->filename,
                     strerror(-ret));
        return 4;
    }
    return 0;
}

/* 0 when [offset, offset+n) of im reads as zeroes, else 1 (or 4 on a read error). */
static int compare_check_empty(Compare *c, CompareImage *im, uint64_t offset, uint64_t n)
{
    int64_t idx;
    int ret = compare_read(im, offset, n);

    if (ret) {
        return ret;
    }
    idx = compare_find_nonzero(im->buf, n);
    if (idx >= 0) {
        compare_say(c, "Content mismatch at offset %" PRIu64 "!\n", offset + idx);
        return 1;
    }
    return 0;
}

static int compare_status(CompareImage *im, uint64_t offset, uint64_t *pnum)
{
    BlockDriverState *file;
    uint64_t map;
    int depth;
    int ret = bdrv_block_status_chain(blk_bs(im->blk), offset, im->size - offset, pnum, &depth,
                                     &map, &file);

    if (ret < 0) {
        error_report("Sector allocation test failed for %s", im->filename);
        return -1;
    }
    return ret & COMPARE_STATUS_MASK;
}

static int compare_both_allocated(Compare *c, uint64_t offset, uint64_t chunk)
{
    bool differ;
    uint64_t same;
    int ret;

    if ((ret = compare_read(&c->img[0], offset, chunk)) ||
        (ret = compare_read(&c->img[1], offset, chunk))) {
        return ret;
    }
    same = compare_buffers(c->img[0].buf, c->img[1].buf, chunk, &differ);
    if (differ || same != chunk) {
        compare_say(c, "Content mismatch at offset %" PRIu64 "!\n", offset + (differ ? 0 : same));
        return 1;
    }
    return 0;
}

/* One step over the common part: 0 and *chunk bytes done, or the exit code. */
static int compare_step(Compare *c, uint64_t offset, uint64_t *chunk)
{
    uint64_t pnum1, pnum2;
    int st1 = compare_status(&c->img[0], offset, &pnum1);
    int st2 = st1 < 0 ? -1 : compare_status(&c->img[1], offset, &pnum2);
    bool alloc1 = st1 & BDRV_BLOCK_ALLOCATED, alloc2 = st2 & BDRV_BLOCK_ALLOCATED;

    if (st1 < 0 || st2 < 0) {
        return 3;
    }
    *chunk = MIN(pnum1, pnum2);
    if (c->strict && st1 != st2) {
        compare_say(c, "Strict mode: Offset %" PRIu64 " block status mismatch!\n", offset);
        return 1;
    }
    if ((st1 & BDRV_BLOCK_ZERO) && (st2 & BDRV_BLOCK_ZERO)) {
        return 0;
    }
    *chunk = MIN(*chunk, COMPARE_BUF_SIZE);
    if (alloc1 == alloc2) {
        return alloc1 ? compare_both_allocated(c, offset, *chunk) : 0;
    }
    return compare_check_empty(c, &c->img[alloc1 ? 0 : 1], offset, *chunk);
}

/* The part of the larger image past the smaller one's end must read as zeroes. */
static int compare_tail(Compare *c, uint64_t offset)
{
    CompareImage *over = &c->img[c->img[0].size > c->img[1].size ? 0 : 1];
    uint64_t chunk;
    int st, ret;

    compare_say(c, "Warning: Image size mismatch!\n");
    while (offset < (uint64_t)over->size) {
        st = compare_status(over, offset, &chunk);
        if (st < 0) {
            return 3;
        }
        if ((st & BDRV_BLOCK_ALLOCATED) && !(st & BDRV_BLOCK_ZERO)) {
            chunk = MIN(chunk, COMPARE_BUF_SIZE);
            if ((ret = compare_check_empty(c, over, offset, chunk))) {
                return ret;
            }
        }
        offset += chunk;
        img_progress_add((float)chunk / c->progress_base * 100);
    }
    return 0;
}

static int compare_images(Compare *c)
{
    uint64_t total = MIN(c->img[0].size, c->img[1].size), offset = 0, chunk;
    int ret;

    c->progress_base = MAX(MAX(c->img[0].size, c->img[1].size), 1);
    img_progress_init(c->progress, 2.0);
    if (c->strict && c->img[0].size != c->img[1].size) {
        compare_say(c, "Strict mode: Image size mismatch!\n");
        return 1;
    }
    while (offset < total) {
        if ((ret = compare_step(c, offset, &chunk))) {
            return ret;
        }
        offset += chunk;
        img_progress_add((float)chunk / c->progress_base * 100);
    }
    if (c->img[0].size != c->img[1].size && (ret = compare_tail(c, offset))) {
        return ret;
    }
    compare_say(c, "Images are identical.\n");
    return 0;
}

static int compare_open(Compare *c)
{
    int flags = c->flags;
    bool writethrough = false;

    if (!bdrv_parse_cache_mode(c->cache, &flags, &writethrough)) {
        error_report("Invalid source cache option: %s", c->cache);
        return 2;
    }
    for (int i = 0; i < 2; i++) {
        CompareImage *im = &c->img[i];
        im->blk = img_open_backend(i ? "image2" : "image1", im->filename, im->fmt, flags,
                                   writethrough, c->quiet);
        if (!im->blk) {
            return 2;
        }
        im->size = blk_getlength(im->blk);
        if (im->size < 0) {
            error_report("Can't get size of %s: %s", im->filename, strerror(-im->size));
            return 4;
        }
        im->buf = g_malloc(COMPARE_BUF_SIZE);
    }
    return 0;
}

static void compare_parse(Compare *c, int argc, char **argv)
{
    static const struct option lopt[] = {
        {"help", no_argument, NULL, 'h'},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    while ((opt = img_getopt(argc, argv, ":hf:F:T:pqsU", lopt)) != -1) {
        switch (opt) {
        case 'h':
            img_help();
        case 'f':
            c->img[0].fmt = optarg;
            break;
        case 'F':
            c->img[1].fmt = optarg;
            break;
        case 'T':
            c->cache = optarg;
            break;
        case 'p':
            c->progress = true;
            break;
        case 'q':
            c->quiet = true;
            break;
        case 's':
            c->strict = true;
            break;
        case 'U':
            c->flags |= BDRV_O_FORCE_SHARE;
            break;
        }
    }
    if (c->quiet) {
        c->progress = false;
    }
    if (optind != argc - 2) {
        img_error_exit("Expecting two image file names");
    }
    c->img[0].filename = argv[optind];
    c->img[1].filename = argv[optind + 1];
}

int img_compare(int argc, char **argv)
{
    Compare c = {.cache = "writeback"};
    int ret;

    compare_parse(&c, argc, argv);
    ret = compare_open(&c);
    if (!ret) {
        ret = compare_images(&c);
    }
    for (int i = 0; i < 2; i++) {
        if (c.img[i].blk) {
            blk_unref(c.img[i].blk);
        }
        g_free(c.img[i].buf);
    }
    img_progress_end(false);
    return ret;
}
