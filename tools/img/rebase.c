/*
 * minivmm-img rebase: qemu-img's "rebase [-U] [-q] [-f fmt] [-t cache] [-T src_cache] [-p] [-u]
 * -b backing_file [-F backing_fmt] filename". Safe mode keeps what the guest sees: every
 * range the image does not hold itself and whose content differs between the old backing
 * chain and the new one (zeroes where there is none, `-b ""`) is copied from the old chain
 * into the image, 512 bytes at a time, before the header names the new backing file.
 * Unsafe mode (-u) only rewrites the header. The name is stored as given (relative names
 * resolve against the image's directory); the format driver writes it crash-safely. -U
 * (--force-share), as qemu-img 7.2, opens only the new backing file without locking it;
 * the image itself and its old backing chain are locked as usual.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/error.h"
#include "tools/img/img.h"

#define REBASE_CHUNK (2 * 1024 * 1024)

typedef struct RebaseArgs {
    const char *filename;
    const char *fmt;
    const char *cache;
    const char *src_cache;
    const char *backing;
    const char *backing_fmt;
    bool unsafe;
    bool force_share;
    bool progress;
    bool quiet;
} RebaseArgs;

/* [off, off+n) of a backing chain (zeroes past its end or without one) into buf. */
static int read_chain(BlockDriverState *bs, uint64_t off, uint64_t n, uint8_t *buf)
{
    int64_t len = bs ? bdrv_getlength(bs) : 0;

    memset(buf, 0, n);
    if (len < 0) {
        return len;
    }
    if (off >= (uint64_t)len) {
        return 0;
    }
    return bdrv_pread(bs, off, buf, MIN(n, (uint64_t)len - off));
}

/* Write the sectors of old that differ from new into the image at off. */
static int write_differences(BlockBackend *blk, uint64_t off, uint64_t n, const uint8_t *old,
                             const uint8_t *new)
{
    uint64_t i = 0;

    while (i < n) {
        uint64_t len = MIN(BDRV_SECTOR_SIZE, n - i), run = i;
        int ret;
        if (!memcmp(old + i, new + i, len)) {
            i += len;
            continue;
        }
        while (run < n && memcmp(old + run, new + run, MIN(BDRV_SECTOR_SIZE, n - run))) {
            run += MIN(BDRV_SECTOR_SIZE, n - run);
        }
        ret = blk_pwrite(blk, off + i, old + i, run - i, 0);
        if (ret < 0) {
            return ret;
        }
        i = run;
    }
    return 0;
}

static int copy_differences(BlockBackend *blk, BlockDriverState *old, BlockDriverState *new)
{
    BlockDriverState *bs = blk_bs(blk);
    int64_t len = blk_getlength(blk);
    g_autofree uint8_t *a = g_malloc(REBASE_CHUNK), *b = g_malloc(REBASE_CHUNK);
    uint64_t off = 0, n;
    int ret = 0;

    if (len < 0) {
        return len;
    }
    while (off < (uint64_t)len && ret >= 0) {
        n = MIN((uint64_t)len - off, REBASE_CHUNK);
        ret = bdrv_block_status(bs, off, n, &n);
        if (ret >= 0 && !(ret & BDRV_BLOCK_ALLOCATED)) {
            n = MAX(n, 1);
            ret = read_chain(old, off, n, a);
            if (ret >= 0 && (ret = read_chain(new, off, n, b)) >= 0) {
                ret = write_differences(blk, off, n, a, b);
            }
        }
        off += MAX(n, 1);
        img_progress_update(off, len);
    }
    return ret < 0 ? ret : blk_flush(blk);
}

static bool chain_contains(BlockDriverState *bs, const char *filename)
{
    g_autofree char *target = realpath(filename, NULL);

    for (; bs && target; bs = bdrv_backing_child(bs)) {
        g_autofree char *p = realpath(bdrv_get_filename(bs), NULL);
        if (p && !strcmp(p, target)) {
            return true;
        }
    }
    return false;
}

/* Where the new backing file name points, seen from the current directory. */
static char *backing_path(RebaseArgs *a)
{
    const char *slash = strrchr(a->filename, '/');

    if (g_path_is_absolute(a->backing) || !slash) {
        return g_strdup(a->backing);
    }
    return g_strdup_printf("%.*s%s", (int)(slash - a->filename + 1), a->filename, a->backing);
}

/* The new backing chain, opened read-only; NULL after reporting an error. */
static BlockDriverState *open_new_backing(RebaseArgs *a, int src_flags)
{
    g_autofree char *path = backing_path(a);
    JsonObject *opts = json_object_new();
    BlockDriverState *bs;
    Error *err = NULL;

    if (a->backing_fmt) {
        json_object_set_string_member(opts, "driver", a->backing_fmt);
    }
    bs = bdrv_open(path, opts, src_flags, &err);
    if (!bs) {
        error_reportf_err(err, "Could not open new backing file '%s': ", a->backing);
        return NULL;
    }
    if (chain_contains(bs, a->filename)) {
        error_report("Backing file '%s' creates an infinite loop.", a->backing);
        bdrv_unref(bs);
        return NULL;
    }
    return bs;
}

static int change_backing(RebaseArgs *a, BlockDriverState *bs)
{
    Error *err = NULL;

    if (bdrv_change_backing_file(bs, a->backing, a->backing_fmt, &err) < 0) {
        error_reportf_err(err, "Could not change the backing file to '%s': ", a->backing);
        return 1;
    }
    return 0;
}

static int do_rebase(RebaseArgs *a, BlockBackend *blk, int src_flags)
{
    BlockDriverState *bs = blk_bs(blk), *new = NULL;
    g_autofree char *path = backing_path(a);
    int ret = 0;

    if (!a->unsafe && a->backing[0] && !(new = open_new_backing(a, src_flags))) {
        return 1;
    }
    if (a->backing[0] && !a->backing_fmt) {
        error_report("Could not change the backing file to '%s': backing format must be "
                     "specified", a->backing);
        ret = 1;
    } else if (a->unsafe && a->backing[0] && chain_contains(bs, path)) {
        error_report("Backing file '%s' creates an infinite loop.", a->backing);
        ret = 1;
    }
    if (!ret && !a->unsafe) {
        img_progress_init(a->progress, 1.0);
        ret = copy_differences(blk, bdrv_backing_child(bs), new);
        img_progress_end(true);
        if (ret < 0) {
            error_report("Error while rebasing the image: %s", g_strerror(-ret));
        }
    }
    if (new) {
        bdrv_unref(new);
    }
    return ret ? 1 : change_backing(a, bs);
}

static void parse_args(int argc, char **argv, RebaseArgs *a)
{
    static const struct option lopt[] = {
        {"help", no_argument, NULL, 'h'},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = img_getopt(argc, argv, ":hf:F:b:upt:T:qU", lopt)) != -1) {
        switch (c) {
        case 'h':
            img_help();
        case 'f':
            a->fmt = optarg;
            break;
        case 'F':
            a->backing_fmt = optarg;
            break;
        case 'b':
            a->backing = optarg;
            break;
        case 'u':
            a->unsafe = true;
            break;
        case 'p':
            a->progress = true;
            break;
        case 't':
            a->cache = optarg;
            break;
        case 'T':
            a->src_cache = optarg;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'U':
            a->force_share = true;
            break;
        }
    }
    if (optind != argc - 1) {
        img_error_exit("Expecting one image file name");
    }
    if (!a->backing) {
        img_error_exit("Must specify backing file (-b) or use unsafe mode (-u)");
    }
    a->filename = argv[optind];
    a->progress &= !a->quiet;
}

int img_rebase(int argc, char **argv)
{
    RebaseArgs a = { .cache = "writeback", .src_cache = "writeback" };
    int flags = 0, src_flags = 0, ret;
    bool writethrough, src_writethrough;
    BlockBackend *blk;

    parse_args(argc, argv, &a);
    if (!bdrv_parse_cache_mode(a.cache, &flags, &writethrough)) {
        error_report("Invalid cache option: %s", a.cache);
        return 1;
    }
    if (!bdrv_parse_cache_mode(a.src_cache, &src_flags, &src_writethrough)) {
        error_report("Invalid source cache option: %s", a.src_cache);
        return 1;
    }
    blk = img_open(a.filename, a.fmt, flags | BDRV_O_RDWR | (a.unsafe ? BDRV_O_NO_BACKING : 0),
                   writethrough, a.quiet);
    if (!blk) {
        return 1;
    }
    /* a format no driver has would make the image unopenable (qemu-img checks it) */
    if (a.backing_fmt && !bdrv_find_format(a.backing_fmt)) {
        error_report("Invalid format name: '%s'", a.backing_fmt);
        blk_unref(blk);
        return 1;
    }
    src_flags |= a.force_share ? BDRV_O_FORCE_SHARE : 0;
    ret = do_rebase(&a, blk, src_flags | (src_writethrough ? 0 : BDRV_O_CACHE_WB));
    blk_unref(blk);
    return ret;
}
