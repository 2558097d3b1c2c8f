/*
 * minivmm-img convert: qemu-img 7.2's "convert [-p] [-c] [-f fmt] [-O output_fmt] [-o options]
 * [-t cache] [-T src_cache] [-S sparse_size] [-m num] [-W] [-n] [-q] filename [filename2
 * [...]] output_filename". The inputs are concatenated into an output created with their
 * total size (unless -n). The copy runs as up to -m (default 8) chunks of up to 2 MiB in
 * flight on the asynchronous API: the source's block status says which ranges are zero (not
 * read, and not written to a fresh output), data chunks are read, zero blocks of -S bytes
 * (default 4 KiB; 0: write everything) in them are skipped, the rest is written; with -c every
 * non-zero cluster is written compressed. The -p progress counts the bytes to copy as
 * qemu-img does, and like qemu-img 7.2 it is shown only with -p (not because stdout is a
 * terminal; no SIGUSR1 report either). -B/-F name the output's backing file and format, as
 * -o backing_file/backing_fmt do; -l reads the (single) source as one of its internal
 * snapshots. Not supported: --image-opts, --object, --target-is-zero.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "util/error.h"
#include "tools/img/img.h"

#define CONVERT_CHUNK (2 * 1024 * 1024)
#define CONVERT_MAX_SPARSE (16 * 1024 * 1024)

typedef struct ConvertOptions {
    const char *src_fmt, *out_fmt, *options, *cache, *src_cache;
    const char *out_base, *backing_fmt; /* -B, -F */
    ImgSnapshotParam snapshot;          /* -l */
    bool progress, compress, skip_create, quiet;
    int src_flags; /* BDRV_O_FORCE_SHARE for -U */
    int64_t min_sparse;
    uint64_t num_req;
} ConvertOptions;

typedef enum ConvertStatus { CONVERT_DATA, CONVERT_ZERO, CONVERT_BACKING } ConvertStatus;

typedef struct ConvertState {
    BlockBackend **src;
    int64_t *src_len;
    int nsrc;
    uint64_t total;
    BlockBackend *target;
    bool compress, has_zero_init, target_has_backing;
    int64_t target_backing_len; /* a new output's backing file (-B): its length, else -1 */
    uint64_t min_sparse, cluster_size;
    int num_req;
    /* scheduling */
    uint64_t next;            /* target offset of the next range to schedule */
    uint64_t status_end;      /* cached source status, valid below this target offset */
    ConvertStatus status;
    int in_flight;
    int ret;
    GSList *free_bufs;        /* chunk buffers of finished jobs */
    /* progress (-p or a terminal): bytes to copy and copied */
    bool progress;
    uint64_t to_copy, copied;
} ConvertState;

typedef struct ConvertJob {
    ConvertState *s;
    uint64_t offset, bytes; /* in the output */
    uint64_t pos;           /* next byte of the buffer to look at */
    uint8_t *buf;
    IOVector qiov;          /* the whole buffer (the read) */
    IOVector wqiov;         /* the run being written */
    bool writing;
} ConvertJob;

/* ---- where the bytes come from ---- */

/* The source and the offset in it of output byte off; *left: bytes to that source's end. */
static int convert_locate(ConvertState *s, uint64_t off, uint64_t *src_off, uint64_t *left)
{
    for (int i = 0; i < s->nsrc; i++) {
        if (off < (uint64_t)s->src_len[i]) {
            *src_off = off;
            *left = s->src_len[i] - off;
            return i;
        }
        off -= s->src_len[i];
    }
    g_assert_not_reached();
}

/* Data, zero, or (target with a backing file) not allocated in the source's top image. */
static int convert_chain_status(ConvertState *s, BlockDriverState *bs, uint64_t off,
                                uint64_t *n, ConvertStatus *st)
{
    BlockDriverState *file;
    uint64_t map;
    int depth;
    int ret = bdrv_block_status_chain(bs, off, *n, n, &depth, &map, &file);

    if (ret < 0) {
        return ret;
    }
    /*
     * With a backing file on the output, what the source's top image does not hold is left
     * to it; but where the source has no backing file its unallocated clusters read as
     * zeroes and are written so (qemu-img), or the output would show the base's data.
     */
    if (s->target_has_backing &&
        (depth > 0 || (!(ret & BDRV_BLOCK_ALLOCATED) && bdrv_backing_child(bs)))) {
        *st = CONVERT_BACKING;
    } else {
        *st = ret & BDRV_BLOCK_ZERO ? CONVERT_ZERO : CONVERT_DATA;
    }
    return 0;
}

/*
 * Past the end of a new output's backing file, zeroes are left to it: it reads them as
 * zeroes (qemu-img 7.2 does the same); a range is cut where that starts.
 */
static void convert_post_backing(ConvertState *s, uint64_t off, uint64_t *n)
{
    uint64_t end = s->target_backing_len;

    if (s->target_backing_len < 0) {
        return;
    }
    if (off < end && off + *n > end) {
        *n = end - off;
    } else if (off >= end && s->status == CONVERT_ZERO) {
        s->status = CONVERT_BACKING;
    }
}

/* Status of the output range starting at off, and how far it reaches (cached). */
static int convert_status(ConvertState *s, uint64_t off, uint64_t *end)
{
    uint64_t src_off, n;
    int i, ret;

    if (off < s->status_end) {
        *end = s->status_end;
        return 0;
    }
    i = convert_locate(s, off, &src_off, &n);
    ret = convert_chain_status(s, blk_bs(s->src[i]), src_off, &n, &s->status);
    if (ret < 0) {
        error_report("error while reading block status at offset %" PRIu64 ": %s", src_off,
                     strerror(-ret));
        return ret;
    }
    convert_post_backing(s, off, &n);
    s->status_end = *end = off + n;
    return 0;
}

/*
 * Compression writes whole clusters (CONVERT_CHUNK is a multiple of every cluster size): a
 * range of one status is cut down to whole clusters, and one shorter than a cluster is
 * copied as a data cluster, as qemu-img does. So ranges the output's backing file
 * provides (-B) and zero ranges stay unwritten at cluster granularity.
 */
static void convert_compressed_range(ConvertState *s, uint64_t end, uint64_t chunk_end,
                                     uint64_t *bytes, ConvertStatus *st)
{
    uint64_t n = (end - s->next) / s->cluster_size * s->cluster_size;

    if (n == 0) {
        n = MIN(s->cluster_size, chunk_end - s->next);
        *st = CONVERT_DATA;
    }
    *bytes = n;
}

/*
 * The next range to schedule and its status: up to the chunk boundary, the status change or
 * the source's end; whole clusters when compressing.
 */
static int convert_next_range(ConvertState *s, uint64_t *bytes, ConvertStatus *st)
{
    uint64_t status_end, src_off, left, chunk_end;
    int ret = convert_status(s, s->next, &status_end);

    if (ret < 0) {
        return ret;
    }
    convert_locate(s, s->next, &src_off, &left);
    chunk_end = MIN((s->next / CONVERT_CHUNK + 1) * CONVERT_CHUNK, s->total);
    /* -S 0 allocates everything: zeroes are copied as data, as qemu-img does. */
    *st = s->status == CONVERT_ZERO && !s->min_sparse ? CONVERT_DATA : s->status;
    if (s->compress) {
        convert_compressed_range(s, MIN(status_end, chunk_end), chunk_end, bytes, st);
        return 0;
    }
    *bytes = MIN(MIN(status_end, chunk_end), s->next + left) - s->next;
    return 0;
}

/* ---- the copy ---- */

static void convert_fail(ConvertState *s, const char *what, uint64_t off, int ret)
{
    if (!s->ret) {
        error_report("error while %s at byte %" PRIu64 ": %s", what, off, strerror(-ret));
        s->ret = ret;
    }
}

static void convert_job_free(ConvertJob *j)
{
    ConvertState *s = j->s;

    s->in_flight--;
    if (j->writing) {
        iov_destroy(&j->wqiov);
    }
    if (j->buf) {
        iov_destroy(&j->qiov);
        s->free_bufs = g_slist_prepend(s->free_bufs, j->buf);
    }
    g_free(j);
}

static bool convert_block_is_zero(const uint8_t *p, uint64_t n)
{
    return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

/*
 * From j->pos: the length of the next run of blocks that are all zero (*zero) or not. Blocks
 * are aligned to `unit` in the output (min_sparse; a cluster when compressing).
 */
static uint64_t convert_run(ConvertJob *j, uint64_t unit, bool *zero)
{
    uint64_t pos = j->pos, end = j->bytes;
    bool first = true;

    while (pos < end) {
        uint64_t blk_end = MIN(end, ((j->offset + pos) / unit + 1) * unit - j->offset);
        bool z = convert_block_is_zero(j->buf + pos, blk_end - pos);

        if (first) {
            *zero = z;
            first = false;
        } else if (z != *zero) {
            break;
        }
        pos = blk_end;
    }
    return pos - j->pos;
}

static void convert_write_next(ConvertJob *j);

static void convert_write_cb(void *opaque, int ret)
{
    ConvertJob *j = opaque;
    uint64_t start = j->offset + j->pos - j->wqiov.size; /* where this write began */

    iov_destroy(&j->wqiov);
    j->writing = false;
    if (ret < 0) {
        convert_fail(j->s, "writing", start, ret);
        convert_job_free(j);
        return;
    }
    convert_write_next(j);
}

/* Write the job's buffer run by run, skipping zero runs, then finish the job. */
static void convert_write_next(ConvertJob *j)
{
    ConvertState *s = j->s;
    /* -S 0 writes everything as it is, compressed or not (qemu-img) */
    uint64_t unit = !s->min_sparse ? 0 : s->compress ? s->cluster_size : s->min_sparse, n;
    bool zero = false;

    while (j->pos < j->bytes && !s->ret) {
        uint64_t off = j->offset + j->pos;

        n = unit ? convert_run(j, unit, &zero) : j->bytes - j->pos;
        if (zero && s->has_zero_init) {
            j->pos += n;
            continue;
        }
        iov_init(&j->wqiov, 1);
        iov_add_slice(&j->wqiov, &j->qiov, j->pos, n);
        j->writing = true;
        j->pos += n;
        if (zero) {
            blk_aio_pwrite_zeroes(s->target, off, n, BDRV_REQ_MAY_UNMAP, convert_write_cb, j);
        } else {
            blk_aio_pwritev(s->target, off, &j->wqiov,
                            s->compress ? BDRV_REQ_WRITE_COMPRESSED : 0, convert_write_cb, j);
        }
        return;
    }
    s->copied += j->bytes;
    if (s->to_copy) {
        img_progress_update(s->copied, s->to_copy);
    }
    convert_job_free(j);
}

static void convert_read_cb(void *opaque, int ret)
{
    ConvertJob *j = opaque;

    if (ret < 0) {
        convert_fail(j->s, "reading", j->offset, ret);
        convert_job_free(j);
        return;
    }
    convert_write_next(j);
}

static void convert_zero_cb(void *opaque, int ret)
{
    ConvertJob *j = opaque;

    if (ret < 0) {
        convert_fail(j->s, "writing", j->offset, ret);
    }
    convert_job_free(j);
}

/* A chunk buffer: reused, so the copy does not fault in fresh pages for every chunk. */
static uint8_t *convert_buffer(ConvertState *s)
{
    uint8_t *buf;

    if (!s->free_bufs) {
        return g_malloc(CONVERT_CHUNK);
    }
    buf = s->free_bufs->data;
    s->free_bufs = g_slist_delete_link(s->free_bufs, s->free_bufs);
    return buf;
}

static void convert_start_job(ConvertState *s, uint64_t bytes, ConvertStatus st)
{
    ConvertJob *j = g_new0(ConvertJob, 1);
    uint64_t src_off, left;
    int i;

    *j = (ConvertJob){.s = s, .offset = s->next, .bytes = bytes};
    s->in_flight++;
    if (st == CONVERT_ZERO) {
        blk_aio_pwrite_zeroes(s->target, j->offset, bytes, s->min_sparse ? BDRV_REQ_MAY_UNMAP : 0,
                              convert_zero_cb, j);
        return;
    }
    i = convert_locate(s, s->next, &src_off, &left);
    j->buf = convert_buffer(s);
    iov_init_buf(&j->qiov, j->buf, bytes);
    if (bytes > left) {
        /* A compressed chunk running over a source's end: read it piece by piece. */
        uint64_t done = 0;
        int ret = 0;
        while (done < bytes && ret >= 0) {
            i = convert_locate(s, s->next + done, &src_off, &left);
            left = MIN(left, bytes - done);
            ret = blk_pread(s->src[i], src_off, j->buf + done, left);
            done += left;
        }
        convert_read_cb(j, ret);
        return;
    }
    blk_aio_preadv(s->src[i], src_off, &j->qiov, 0, convert_read_cb, j);
}

/* Start ranges until num_req are in flight; false when nothing is left to start. */
static bool convert_schedule(ConvertState *s)
{
    ConvertStatus st;
    uint64_t bytes;

    while (!s->ret && s->next < s->total && s->in_flight < s->num_req) {
        if (convert_next_range(s, &bytes, &st) < 0) {
            s->ret = -EIO;
            break;
        }
        if (st == CONVERT_BACKING || (st == CONVERT_ZERO && s->has_zero_init)) {
            s->next += bytes;
            continue;
        }
        convert_start_job(s, bytes, st);
        s->next += bytes;
    }
    return !s->ret && s->next < s->total;
}

/* qemu-img counts what it will copy first, for the progress. */
static int convert_count(ConvertState *s)
{
    ConvertStatus st;
    uint64_t bytes;
    int ret;

    for (s->next = 0; s->next < s->total; s->next += bytes) {
        if ((ret = convert_next_range(s, &bytes, &st)) < 0) {
            return ret;
        }
        if (st == CONVERT_DATA) {
            s->to_copy += bytes;
        }
    }
    s->next = s->status_end = 0;
    return 0;
}

static int convert_copy(ConvertState *s)
{
    if (s->progress && convert_count(s) < 0) {
        return -EIO;
    }
    while (convert_schedule(s) || s->in_flight) {
        g_main_context_iteration(NULL, TRUE);
    }
    if (!s->ret) {
        s->ret = blk_flush(s->target);
        if (s->ret < 0) {
            error_report("error while flushing: %s", strerror(-s->ret));
        }
    }
    return s->ret;
}

/* ---- options ---- */

static void convert_opt(ConvertOptions *o, int c, const char *arg)
{
    switch (c) {
    case 'h':
        img_help();
    case 'f':
        o->src_fmt = arg;
        break;
    case 'O':
        o->out_fmt = arg;
        break;
    case 'o':
        if (!img_valid_option_list(arg)) {
            error_report("Invalid option list: %s", arg);
            exit(1);
        }
        o->options = o->options ? g_strconcat(o->options, ",", arg, NULL) : g_strdup(arg);
        break;
    case 'c':
        o->compress = true;
        break;
    case 'p':
        o->progress = true;
        break;
    case 'q':
        o->quiet = true;
        break;
    case 'n':
        o->skip_create = true;
        break;
    case 't':
        o->cache = arg;
        break;
    case 'T':
        o->src_cache = arg;
        break;
    case 'W':
        break; /* writes may complete out of order anyway */
    case 'U':
        o->src_flags |= BDRV_O_FORCE_SHARE;
        break;
    case 'B':
        o->out_base = arg;
        break;
    case 'l':
        img_snapshot_param_parse(&o->snapshot, arg);
        break;
    case 'F':
        o->backing_fmt = arg;
        break;
    case 'S':
        o->min_sparse = img_cvtnum_full("buffer size for sparse output", arg, 0, INT64_MAX);
        if (o->min_sparse < 0) {
            exit(1);
        }
        if (o->min_sparse % 512 || o->min_sparse > CONVERT_MAX_SPARSE) {
            error_report("Invalid buffer size for sparse output specified. Valid sizes are "
                         "multiples of 512 up to %d. Select 0 to disable sparse detection "
                         "(fully allocates output).", CONVERT_MAX_SPARSE);
            exit(1);
        }
        break;
    case 'm':
        if (!img_parse_ulong(arg, 16, &o->num_req) || o->num_req < 1) {
            error_report("Invalid number of coroutines. Allowed number of coroutines is "
                         "between 1 and 16");
            exit(1);
        }
        break;
    }
}

static void convert_parse(ConvertOptions *o, int argc, char **argv)
{
    static const struct option lopt[] = {
        {"help", no_argument, NULL, 'h'},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = img_getopt(argc, argv, ":hf:O:o:cpqnt:T:UWS:m:B:F:l:", lopt)) != -1) {
        convert_opt(o, c, optarg);
    }
    o->progress = img_progress_default(o->progress, o->quiet);
}

/* ---- set-up ---- */

static int convert_open_sources(ConvertState *s, const ConvertOptions *o, char **files, int n)
{
    int flags = o->src_flags;
    bool writethrough = false;

    if (!bdrv_parse_cache_mode(o->src_cache, &flags, &writethrough)) {
        error_report("Invalid source cache option: %s", o->src_cache);
        return -1;
    }
    s->src = g_new0(BlockBackend *, n);
    s->src_len = g_new0(int64_t, n);
    for (int i = 0; i < n; i++) {
        g_autofree char *name = g_strdup_printf("source-%d", i);

        s->src[i] = img_open_backend(name, files[i], o->src_fmt, flags, writethrough, o->quiet);
        if (!s->src[i]) {
            return -1;
        }
        s->nsrc = i + 1;
        s->src_len[i] = blk_getlength(s->src[i]);
        if (s->src_len[i] < 0) {
            error_report("Could not get size of %s: %s", files[i], strerror(-s->src_len[i]));
            return -1;
        }
        s->total += s->src_len[i];
    }
    if (img_snapshot_param_given(&o->snapshot) &&
        img_snapshot_param_load(blk_bs(s->src[0]), &o->snapshot) < 0) {
        return -1;
    }
    return 0;
}

static bool format_has_backing(const char *fmt)
{
    for (const BlockCreateOpt *c = bdrv_create_opts(fmt); c && c->name; c++) {
        if (!strcmp(c->name, "backing_file")) {
            return true;
        }
    }
    return false;
}

/* Parse -o and create the output as qemu-img convert does (no "Formatting" line). */
static int convert_create(ConvertState *s, const ConvertOptions *o, const char *out)
{
    /* no file name yet: convert's -o complaints do not name the output (qemu-img) */
    ImgCreateArgs a = {.fmt = o->out_fmt, .quiet = true};
    uint64_t opt_size = UINT64_MAX;
    bool help = false;
    Error *err = NULL;
    int ret = -1;

    if (o->options && !img_create_parse_options(&a, o->options, &opt_size, &help)) {
        goto out;
    }
    a.filename = out;
    a.backing_file = o->out_base ? o->out_base : a.backing_file;
    a.backing_fmt = o->backing_fmt ? o->backing_fmt : a.backing_fmt;
    if (o->out_base && !format_has_backing(o->out_fmt)) {
        error_report("Backing file not supported for file format '%s'", o->out_fmt);
        goto out;
    }
    if (o->compress && a.encryption) {
        error_report("Compression and encryption not supported at the same time");
        goto out;
    }
    if (o->compress && a.prealloc && strcmp(a.prealloc, "off") != 0) {
        error_report("Compression and preallocation not supported at the same time");
        goto out;
    }
    if (a.backing_file && !a.backing_fmt) {
        error_report("Use of backing file requires explicit backing format");
        goto out;
    }
    if (a.backing_file && !a.backing_file[0]) {
        /* as create refuses it (qemu-img 7.2's convert crashes here) */
        error_report("%s: error while converting %s: Expected backing file name, got empty "
                     "string", out, o->out_fmt);
        goto out;
    }
    s->target_has_backing = a.backing_file != NULL;
    if (!img_create_resolve(&a, &err) || img_create_file(&a, s->total, &err) < 0) {
        error_reportf_err(err, "%s: error while converting %s: ", out, o->out_fmt);
        goto out;
    }
    ret = 0;
out:
    g_strfreev(a.items);
    return ret;
}

static int convert_open_target(ConvertState *s, const ConvertOptions *o, const char *out)
{
    int flags = BDRV_O_RDWR | (o->min_sparse ? BDRV_O_UNMAP : 0);
    bool writethrough = false;
    BlockDriverState *backing;
    BlockDriverInfo bdi;
    int64_t len;

    if (!bdrv_parse_cache_mode(o->cache, &flags, &writethrough)) {
        error_report("Invalid cache option: %s", o->cache);
        return -1;
    }
    s->target = img_open(out, o->out_fmt, flags, writethrough, o->quiet);
    if (!s->target) {
        return -1;
    }
    len = blk_getlength(s->target);
    if (o->skip_create && len >= 0 && (uint64_t)len < s->total) {
        error_report("output file is smaller than input file");
        return -1;
    }
    if (o->compress && !bdrv_supports_compressed_writes(blk_bs(s->target))) {
        error_report("Compression not supported for this file format");
        return -1;
    }
    if (bdrv_get_info(blk_bs(s->target), &bdi) < 0 ||
        (o->compress && (!bdi.cluster_size || bdi.cluster_size > CONVERT_CHUNK))) {
        error_report("could not get block driver info");
        return -1;
    }
    s->cluster_size = bdi.cluster_size;
    backing = bdrv_backing_child(blk_bs(s->target));
    s->target_backing_len = s->target_has_backing && !o->skip_create && backing
                                ? bdrv_getlength(backing) : -1;
    return 0;
}

/* Checks qemu-img makes before it touches the output. */
static bool convert_check_options(const ConvertOptions *o, int nsrc)
{
    if (o->skip_create && o->options) {
        error_report("-o has no effect when skipping image creation");
        return false;
    }
    if (img_snapshot_param_given(&o->snapshot) && nsrc > 1) {
        error_report("No support for concatenating multiple snapshot");
        return false;
    }
    if (!o->skip_create && strcmp(o->out_fmt, "raw") != 0 && strcmp(o->out_fmt, "qcow2") != 0) {
        error_report("Unknown file format '%s'", o->out_fmt);
        return false;
    }
    if (o->compress && !bdrv_format_supports_compressed_writes(o->out_fmt)) {
        error_report("Compression not supported for this file format");
        return false;
    }
    return true;
}

/* -o help lists the output format's options before anything is opened. */
static bool convert_wants_help(const ConvertOptions *o)
{
    g_auto(GStrv) items = o->options ? g_strsplit(o->options, ",", -1) : NULL;

    for (int i = 0; items && items[i]; i++) {
        if (!strcmp(items[i], "help") || !strcmp(items[i], "?")) {
            return !o->skip_create && (!strcmp(o->out_fmt, "raw") || !strcmp(o->out_fmt, "qcow2"));
        }
    }
    return false;
}

/* The output is a file some source reads (their backing chains included). */
static bool convert_output_is_source(ConvertState *s, const char *out)
{
    struct stat ost, st;

    if (stat(out, &ost) < 0) {
        return false;
    }
    for (int i = 0; i < s->nsrc; i++) {
        for (BlockDriverState *bs = blk_bs(s->src[i]); bs; bs = bdrv_backing_child(bs)) {
            BlockDriverState *file = bdrv_file_child(bs) ? bdrv_file_child(bs) : bs;
            const char *name = bdrv_get_filename(file);

            if (name && stat(name, &st) == 0 && st.st_dev == ost.st_dev &&
                st.st_ino == ost.st_ino) {
                return true;
            }
        }
    }
    return false;
}

/*
 * Writing the output over a source would destroy what is being copied (creating it
 * truncates the file). qemu-img's image locking refuses that; minivmm's nodes of one
 * process do not lock each other out (docs/locking.md), so we refuse it here, in qemu-img's
 * words.
 */
static bool convert_refuse_overwrite(ConvertState *s, const ConvertOptions *o, const char *out)
{
    if (!convert_output_is_source(s, out)) {
        return false;
    }
    if (o->skip_create) {
        error_report("Could not open '%s': Failed to get \"write\" lock", out);
    } else {
        error_report("%s: error while converting %s: Failed to get \"write\" lock", out,
                     o->out_fmt);
    }
    fprintf(stderr, "Is another process using the image [%s]?\n", out);
    return true;
}

static void convert_cleanup(ConvertState *s)
{
    g_slist_free_full(s->free_bufs, g_free);
    if (s->target) {
        blk_unref(s->target);
    }
    for (int i = 0; i < s->nsrc; i++) {
        blk_unref(s->src[i]);
    }
    g_free(s->src);
    g_free(s->src_len);
}

static int convert_run_all(ConvertState *s, ConvertOptions *o, char **files, int nfiles)
{
    const char *out = files[nfiles - 1];
    int ret;

    if (convert_wants_help(o)) {
        img_create_help(o->out_fmt);
        return 0;
    }
    if (!convert_check_options(o, nfiles - 1) || convert_open_sources(s, o, files, nfiles - 1) < 0) {
        return 1;
    }
    if (convert_refuse_overwrite(s, o, out)) {
        return 1;
    }
    /* -n -B: only what the sources' top images hold is copied, as qemu-img does */
    s->target_has_backing = o->out_base != NULL;
    if (!o->skip_create && convert_create(s, o, out) < 0) {
        return 1;
    }
    if (convert_open_target(s, o, out) < 0) {
        return 1;
    }
    *s = (ConvertState){.src = s->src, .src_len = s->src_len, .nsrc = s->nsrc,
                        .total = s->total, .target = s->target, .compress = o->compress,
                        .target_has_backing = s->target_has_backing,
                        .target_backing_len = s->target_backing_len,
                        .has_zero_init = !o->skip_create && !s->target_has_backing &&
                                         o->min_sparse,
                        .min_sparse = o->min_sparse, .cluster_size = s->cluster_size,
                        .num_req = o->num_req, .progress = o->progress};
    img_progress_init(s->progress, 1.0);
    ret = convert_copy(s);
    img_progress_end(!ret);
    return ret < 0 ? 1 : 0;
}

int img_convert(int argc, char **argv)
{
    ConvertOptions o = {.out_fmt = "raw", .cache = "unsafe", .src_cache = "writeback",
                        .min_sparse = 4096, .num_req = 8};
    ConvertState s = {0};
    int ret;

    convert_parse(&o, argc, argv);
    if (argc - optind < 2) {
        error_report("Must specify image file name");
        return 1;
    }
    ret = convert_run_all(&s, &o, argv + optind, argc - optind);
    convert_cleanup(&s);
    g_free((char *)o.options);
    img_snapshot_param_clear(&o.snapshot);
    return ret;
}
