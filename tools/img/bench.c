/*
 * `minivmm-img bench`: qemu-img bench's request generator. It keeps `depth` asynchronous
 * reads or writes of `buffer_size` bytes in flight (blk_aio_preadv / blk_aio_pwritev from
 * the main thread, completions in its GMainContext), each at the previous offset plus
 * `step`, wrapping at the end of the image, until `count` have completed; with
 * --flush-interval it flushes every N requests, draining the queue first unless
 * --no-drain. Options, output and errors are qemu-img 7.2's. Not a latency histogram: it
 * reports the wall time of the whole run only.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/error.h"
#include "tools/img/img.h"

enum {
    OPTION_PATTERN = 256,
    OPTION_FLUSH_INTERVAL,
    OPTION_NO_DRAIN,
};

typedef struct BenchOptions {
    const char *fmt;
    bool quiet, is_write, drain_on_flush, writethrough;
    int flags; /* BDRV_O_* */
    uint64_t count, depth, pattern, flush_interval;
    int64_t offset, bufsize, step;
} BenchOptions;

typedef struct BenchData {
    BlockBackend *blk;
    uint64_t image_size;
    bool write;
    int64_t bufsize, step;
    int nrreq; /* queue depth */
    int n;     /* requests not yet completed */
    int in_flight;
    int flush_interval;
    bool drain_on_flush;
    bool in_flush;         /* a draining flush is running: submit nothing */
    int undrained_flushes; /* --no-drain flushes still running */
    uint64_t offset;       /* of the next request */
    IOVector qiov;         /* every request uses the same buffer, as qemu-img */
    void *buf;
    int ret; /* the first error, which ends the run */
} BenchData;

static void bench_submit(BenchData *b);

static void bench_fail(BenchData *b, const char *what, int ret)
{
    if (!b->ret) {
        error_report("%s: %s", what, strerror(-ret));
        b->ret = ret;
    }
}

static void bench_undrained_flush_cb(void *opaque, int ret)
{
    BenchData *b = opaque;

    b->undrained_flushes--;
    if (ret < 0) {
        bench_fail(b, "Failed flush request", ret);
    }
}

static void bench_drained_flush_cb(void *opaque, int ret)
{
    BenchData *b = opaque;

    b->in_flush = false;
    if (ret < 0) {
        bench_fail(b, "Failed request", ret);
        return;
    }
    bench_submit(b);
}

/* After a completion: flush every flush_interval requests. True if submission must wait. */
static bool bench_maybe_flush(BenchData *b, int remaining)
{
    if (!b->flush_interval || remaining % b->flush_interval != 0) {
        return false;
    }
    if (!b->drain_on_flush) {
        b->undrained_flushes++;
        blk_aio_flush(b->blk, bench_undrained_flush_cb, b);
        return false;
    }
    /* Wait for the queue to drain; the last completion starts the flush. */
    if (!b->in_flight) {
        b->in_flush = true;
        blk_aio_flush(b->blk, bench_drained_flush_cb, b);
    }
    return true;
}

static void bench_rw_cb(void *opaque, int ret)
{
    BenchData *b = opaque;
    int remaining = b->n - b->in_flight;

    b->n--;
    b->in_flight--;
    if (ret < 0) {
        bench_fail(b, "Failed request", ret);
        return;
    }
    if (!bench_maybe_flush(b, remaining)) {
        bench_submit(b);
    }
}

static void bench_submit(BenchData *b)
{
    while (!b->ret && b->n > b->in_flight && b->in_flight < b->nrreq) {
        uint64_t offset = b->offset;

        /* Count the request before submitting: its completion may run at once. */
        b->in_flight++;
        b->offset = b->image_size ? (b->offset + b->step) % b->image_size : 0;
        if (b->write) {
            blk_aio_pwritev(b->blk, offset, &b->qiov, 0, bench_rw_cb, b);
        } else {
            blk_aio_preadv(b->blk, offset, &b->qiov, 0, bench_rw_cb, b);
        }
    }
}

/* Run until count requests completed (or one failed and the rest came back). */
static void bench_run(BenchData *b)
{
    bench_submit(b);
    while ((b->n > 0 && !b->ret) || b->in_flight || b->in_flush || b->undrained_flushes) {
        g_main_context_iteration(NULL, TRUE);
    }
}

/* ---- options ---- */

static void bench_numeric_opt(BenchOptions *o, int c, const char *arg)
{
    switch (c) {
    case 'c':
        if (!img_parse_ulong(arg, INT32_MAX, &o->count)) {
            error_report("Invalid request count specified");
            exit(1);
        }
        break;
    case 'd':
        /* qemu-img accepts 0 and then waits forever; refuse it instead. */
        if (!img_parse_ulong(arg, INT32_MAX, &o->depth) || !o->depth) {
            error_report("Invalid queue depth specified");
            exit(1);
        }
        break;
    case 'o':
        o->offset = img_cvtnum_full("offset", arg, 0, INT64_MAX);
        break;
    case 's':
        o->bufsize = img_cvtnum_full("buffer size", arg, 0, INT32_MAX);
        break;
    case 'S':
        o->step = img_cvtnum_full("step_size", arg, 0, INT32_MAX);
        break;
    }
    if (o->offset < 0 || o->bufsize < 0 || o->step < 0) {
        exit(1);
    }
}

static void bench_opt(BenchOptions *o, int c, const char *arg)
{
    switch (c) {
    case 'h':
        img_help();
    case 'f':
        o->fmt = arg;
        break;
    case 'n':
        o->flags |= BDRV_O_NATIVE_AIO;
        break;
    case 'i':
        if (!bdrv_parse_aio(arg, &o->flags)) {
            error_report("Invalid aio option: %s", arg);
            exit(1);
        }
        break;
    case 'q':
        o->quiet = true;
        break;
    case 't':
        if (!bdrv_parse_cache_mode(arg, &o->flags, &o->writethrough)) {
            error_report("Invalid cache mode");
            exit(1);
        }
        break;
    case 'U':
        o->flags |= BDRV_O_FORCE_SHARE;
        break;
    case 'w':
        o->flags |= BDRV_O_RDWR;
        o->is_write = true;
        break;
    case OPTION_PATTERN:
        if (!img_parse_ulong(arg, 0xff, &o->pattern)) {
            error_report("Invalid pattern byte specified");
            exit(1);
        }
        break;
    case OPTION_FLUSH_INTERVAL:
        if (!img_parse_ulong(arg, INT32_MAX, &o->flush_interval)) {
            error_report("Invalid flush interval specified");
            exit(1);
        }
        break;
    case OPTION_NO_DRAIN:
        o->drain_on_flush = false;
        break;
    case 'c':
    case 'd':
    case 'o':
    case 's':
    case 'S':
        bench_numeric_opt(o, c, arg);
        break;
    }
}

static const char *bench_parse(BenchOptions *o, int argc, char **argv)
{
    static const struct option lopt[] = {
        {"help", no_argument, NULL, 'h'},
        {"flush-interval", required_argument, NULL, OPTION_FLUSH_INTERVAL},
        {"pattern", required_argument, NULL, OPTION_PATTERN},
        {"no-drain", no_argument, NULL, OPTION_NO_DRAIN},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = img_getopt(argc, argv, ":hc:d:f:ni:o:qs:S:t:Uw", lopt)) != -1) {
        bench_opt(o, c, optarg);
    }
    if (optind != argc - 1) {
        img_error_exit("Expecting one image file name");
    }
    if (!o->is_write && o->flush_interval) {
        error_report("--flush-interval is only available in write tests");
        exit(1);
    }
    if (o->flush_interval && o->flush_interval < o->depth) {
        error_report("Flush interval can't be smaller than depth");
        exit(1);
    }
    return argv[argc - 1];
}

static void bench_setup(BenchData *b, const BenchOptions *o, BlockBackend *blk, int64_t size)
{
    *b = (BenchData){
        .blk = blk,
        .image_size = size,
        .write = o->is_write,
        .bufsize = o->bufsize,
        .step = o->step ? o->step : o->bufsize,
        .nrreq = o->depth,
        .n = o->count,
        .offset = o->offset,
        .flush_interval = o->flush_interval,
        .drain_on_flush = o->drain_on_flush,
    };
    if (posix_memalign(&b->buf, 4096, b->bufsize ? b->bufsize : 1) != 0) {
        g_error("out of memory allocating %" PRId64 " bytes", b->bufsize);
    }
    memset(b->buf, o->pattern, b->bufsize);
    iov_init_buf(&b->qiov, b->buf, b->bufsize);
}

int img_bench(int argc, char **argv)
{
    BenchOptions o = {.count = 75000, .depth = 64, .bufsize = 4096, .drain_on_flush = true};
    const char *filename = bench_parse(&o, argc, argv);
    BlockBackend *blk = img_open(filename, o.fmt, o.flags, o.writethrough, o.quiet);
    BenchData b;
    int64_t size, t1;

    if (!blk) {
        return 1;
    }
    size = blk_getlength(blk);
    if (size < 0) {
        error_report("Could not get the image size: %s", strerror(-size));
        blk_unref(blk);
        return 1;
    }
    bench_setup(&b, &o, blk, size);
    printf("Sending %d %s requests, %" PRId64 " bytes each, %d in parallel "
           "(starting at offset %" PRId64 ", step size %" PRId64 ")\n",
           b.n, b.write ? "write" : "read", b.bufsize, b.nrreq, o.offset, b.step);
    if (b.flush_interval) {
        printf("Sending flush every %d requests\n", b.flush_interval);
    }
    fflush(stdout);
    t1 = g_get_monotonic_time();
    bench_run(&b);
    if (!b.ret) {
        printf("Run completed in %3.3f seconds.\n", (g_get_monotonic_time() - t1) / 1e6);
    }
    iov_destroy(&b.qiov);
    free(b.buf);
    blk_unref(blk);
    return b.ret ? 1 : 0;
}
