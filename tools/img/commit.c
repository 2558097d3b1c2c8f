/*
 * minivmm-img commit: qemu-img's "commit [-q] [-f fmt] [-t cache] [-b base] [-d] [-p]
 * filename". Everything the top image and the layers above the base provide (data they
 * hold, zeroes past the end of a short intermediate layer) is copied into the base — the
 * top's backing file unless -b names one further down (QEMU 2.2 had no -b). The base grows
 * to the top's size if smaller. Then, unless -d or -b (as qemu-img 7.2), the top image is
 * emptied; the chain on disk is not changed. Writes go to a second, writable node on the
 * base file: the chain's own base node is read-only and is never read for the copied
 * ranges.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/error.h"
#include "tools/img/img.h"

#define COMMIT_CHUNK (2 * 1024 * 1024)

typedef struct CommitArgs {
    const char *filename;
    const char *fmt;
    const char *cache;
    const char *base;
    bool drop;
    bool progress;
    bool quiet;
} CommitArgs;

static bool same_file(const char *a, const char *b)
{
    g_autofree char *ra = realpath(a, NULL), *rb = realpath(b, NULL);

    return ra && rb ? !strcmp(ra, rb) : !strcmp(a, b);
}

BlockDriverState *img_find_backing_image(BlockDriverState *bs, const char *name)
{
    for (BlockDriverState *l = bdrv_backing_child(bs); l; bs = l, l = bdrv_backing_child(l)) {
        const char *stored = bdrv_get_backing_filename(bs);
        if ((stored && !strcmp(stored, name)) || same_file(bdrv_get_filename(l), name)) {
            return l;
        }
    }
    return NULL;
}

/*
 * 1 when [off, off+*pnum) of top reads something else than base holds there (a layer
 * above base has it, or a layer above base ends before it: zeroes), 0 when it comes from
 * base; *pnum is cut to a run with one answer.
 */
static int allocated_above(BlockDriverState *top, BlockDriverState *base, uint64_t off,
                           uint64_t *pnum)
{
    for (BlockDriverState *l = top; l && l != base; l = bdrv_backing_child(l)) {
        int64_t len = bdrv_getlength(l);
        uint64_t n;
        int ret;
        if (len < 0) {
            return len;
        }
        if (off >= (uint64_t)len) {
            return 1;
        }
        ret = bdrv_block_status(l, off, MIN(*pnum, (uint64_t)len - off), &n);
        if (ret < 0) {
            return ret;
        }
        *pnum = MIN(*pnum, MAX(n, 1));
        if (ret & BDRV_BLOCK_ALLOCATED) {
            return 1;
        }
    }
    return 0;
}

static int copy_to_base(BlockBackend *blk, BlockDriverState *base_ro, BlockDriverState *base)
{
    BlockDriverState *top = blk_bs(blk);
    int64_t len = blk_getlength(blk);
    g_autofree uint8_t *buf = g_malloc(COMMIT_CHUNK);
    uint64_t off = 0, n;
    int ret = 0;

    if (len < 0) {
        return len;
    }
    while (off < (uint64_t)len && ret >= 0) {
        n = MIN((uint64_t)len - off, COMMIT_CHUNK);
        ret = allocated_above(top, base_ro, off, &n);
        if (ret > 0 && (ret = blk_pread(blk, off, buf, n)) >= 0) {
            ret = bdrv_pwrite(base, off, buf, n);
        }
        off += n;
        img_progress_update(off, len);
    }
    return ret < 0 ? ret : bdrv_flush(base);
}

/* The base opened a second time, writable, grown to the top's size if smaller. */
static BlockDriverState *open_base(BlockDriverState *base_ro, int flags, const char *top_name,
                                   int64_t top_len, Error **errp)
{
    JsonObject *opts = json_object_new();
    BlockDriverState *base;
    Error *err = NULL;

    json_object_set_string_member(opts, "driver", bdrv_get_format_name(base_ro));
    base = bdrv_open(bdrv_get_filename(base_ro), opts, flags | BDRV_O_RDWR | BDRV_O_NO_BACKING,
                     errp);
    if (base && top_len > bdrv_getlength(base) && bdrv_truncate(base, top_len, &err) < 0) {
        error_propagate_prepend(errp, err, "Top image %s is larger than base image %s, and "
                                "resize of base image failed: ", top_name,
                                bdrv_get_filename(base_ro));
        bdrv_unref(base);
        return NULL;
    }
    return base;
}

static int do_commit(CommitArgs *a, BlockBackend *blk, int flags)
{
    BlockDriverState *top = blk_bs(blk), *base_ro, *base;
    Error *err = NULL;
    int ret;

    base_ro = a->base ? img_find_backing_image(top, a->base) : bdrv_backing_child(top);
    if (!base_ro && a->base) {
        error_report("Did not find '%s' in the backing chain of '%s'", a->base, a->filename);
        return 1;
    }
    if (!base_ro) {
        error_report("Image does not have a backing file");
        return 1;
    }
    base = open_base(base_ro, flags, a->filename, blk_getlength(blk), &err);
    if (!base) {
        error_report_err(err);
        return 1;
    }
    img_progress_init(a->progress, 1.0);
    ret = copy_to_base(blk, base_ro, base);
    bdrv_unref(base);
    if (ret >= 0 && !a->drop) {
        ret = bdrv_make_empty(top, &err);
    }
    img_progress_end(true);
    if (ret < 0 && err) {
        error_report_err(err);
        return 1;
    }
    if (ret < 0) {
        error_report("%s", g_strerror(-ret));
        return 1;
    }
    if (!a->quiet) {
        printf("Image committed.\n");
    }
    return 0;
}

static void parse_args(int argc, char **argv, CommitArgs *a)
{
    int c;

    while ((c = img_getopt(argc, argv, ":f:ht:b:dpq", NULL)) != -1) {
        switch (c) {
        case 'h':
            img_help();
        case 'f':
            a->fmt = optarg;
            break;
        case 't':
            a->cache = optarg;
            break;
        case 'b':
            a->base = optarg;
            a->drop = true; /* qemu-img 7.2: -b implies -d */
            break;
        case 'd':
            a->drop = true;
            break;
        case 'p':
            a->progress = true;
            break;
        case 'q':
            a->quiet = true;
            break;
        }
    }
    if (optind != argc - 1) {
        img_error_exit("Expecting one image file name");
    }
    a->filename = argv[optind];
    a->progress &= !a->quiet;
}

int img_commit(int argc, char **argv)
{
    CommitArgs a = { .cache = "writeback" };
    BlockBackend *blk;
    bool writethrough;
    int flags = 0, ret;

    parse_args(argc, argv, &a);
    if (!bdrv_parse_cache_mode(a.cache, &flags, &writethrough)) {
        error_report("Invalid cache option: %s", a.cache);
        return 1;
    }
    blk = img_open(a.filename, a.fmt, flags | BDRV_O_RDWR, writethrough, a.quiet);
    if (!blk) {
        return 1;
    }
    ret = do_commit(&a, blk, flags | (writethrough ? 0 : BDRV_O_CACHE_WB));
    blk_unref(blk);
    return ret;
}
