/*
 * minivmm-io's asynchronous commands: aio_read and aio_write submit one request each with
 * blk_aio_preadv / blk_aio_pwritev / blk_aio_pwrite_zeroes and return at once, so several
 * can be in flight together; each reports (and verifies -P) when its completion runs in
 * this thread's GMainContext. aio_flush waits for all of them and flushes. As in qemu-io, a
 * submitted request counts as a successful command whatever its outcome.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "blockdev/io-cmds.h"

typedef struct IoAioCtx {
    IOVector qiov;
    char *buf; /* NULL for write-zeroes */
    int64_t offset, bytes;
    bool Cflag, qflag, vflag, Pflag, zflag;
    int pattern;
    int flags; /* BDRV_REQ_* */
    struct timespec t1;
} IoAioCtx;

static int io_aio_in_flight;

void io_aio_drain(void)
{
    while (io_aio_in_flight > 0) {
        g_main_context_iteration(NULL, TRUE);
    }
}

static void io_aio_ctx_free(IoAioCtx *ctx)
{
    if (ctx->buf) {
        io_free(ctx->buf);
        iov_destroy(&ctx->qiov);
    }
    g_free(ctx);
    io_aio_in_flight--;
}

static void io_aio_read_done(void *opaque, int ret)
{
    IoAioCtx *ctx = opaque;
    struct timespec t2 = io_tsub(io_now(), ctx->t1);

    if (ret < 0) {
        printf("readv failed: %s\n", strerror(-ret));
    } else {
        if (ctx->Pflag) {
            io_check_pattern(ctx->buf, ctx->pattern, ctx->offset, ctx->bytes);
        }
        if (!ctx->qflag && ctx->vflag) {
            io_dump_buffer(ctx->buf, ctx->offset, ctx->bytes);
        }
        if (!ctx->qflag) {
            io_print_report("read", &t2, ctx->offset, ctx->bytes, ctx->bytes, 1, ctx->Cflag);
        }
    }
    io_aio_ctx_free(ctx);
}

static void io_aio_write_done(void *opaque, int ret)
{
    IoAioCtx *ctx = opaque;
    struct timespec t2 = io_tsub(io_now(), ctx->t1);

    if (ret < 0) {
        printf("aio_write failed: %s\n", strerror(-ret));
    } else if (!ctx->qflag) {
        io_print_report("wrote", &t2, ctx->offset, ctx->bytes, ctx->bytes, 1, ctx->Cflag);
    }
    io_aio_ctx_free(ctx);
}

static int io_aio_opt(IoAioCtx *ctx, int c, const char *arg, const IoCmd *ct)
{
    switch (c) {
    case 'C':
        ctx->Cflag = true;
        return 0;
    case 'f':
        ctx->flags |= BDRV_REQ_FUA;
        return 0;
    case 'q':
        ctx->qflag = true;
        return 0;
    case 'u':
        ctx->flags |= BDRV_REQ_MAY_UNMAP;
        return 0;
    case 'v':
        ctx->vflag = true;
        return 0;
    case 'z':
        ctx->zflag = true;
        return 0;
    case 'P':
        ctx->Pflag = true;
        ctx->pattern = io_parse_pattern(arg);
        return ctx->pattern < 0 ? -EINVAL : 0;
    default:
        io_command_usage(ct);
        return -EINVAL;
    }
}

/* Options and offset of an aio command; leaves optind at its first length argument. */
static IoAioCtx *io_aio_parse(int argc, char **argv, const char *optstring, const IoCmd *ct,
                              int pattern)
{
    IoAioCtx *ctx = g_new0(IoAioCtx, 1);
    int c;

    ctx->pattern = pattern;
    while ((c = getopt(argc, argv, optstring)) != -1) {
        if (io_aio_opt(ctx, c, optarg, ct) < 0) {
            goto fail;
        }
    }
    if (optind > argc - 2) {
        io_command_usage(ct);
        goto fail;
    }
    if (io_parse_num(argv[optind], &ctx->offset)) {
        optind++;
        return ctx;
    }
fail:
    g_free(ctx);
    return NULL;
}

/* The data buffer and vector from the length arguments; false (ctx freed) if invalid. */
static bool io_aio_buffer(IoAioCtx *ctx, int argc, char **argv, int fill)
{
    ctx->buf = io_create_iovec(&ctx->qiov, &argv[optind], argc - optind, fill);
    if (!ctx->buf) {
        g_free(ctx);
        return false;
    }
    ctx->bytes = ctx->qiov.size;
    io_aio_in_flight++;
    ctx->t1 = io_now();
    return true;
}

static int io_aio_read_f(BlockBackend *blk, int argc, char **argv)
{
    IoAioCtx *ctx = io_aio_parse(argc, argv, "CP:qv", &io_aio_read_cmd, 0);

    if (!ctx || !io_aio_buffer(ctx, argc, argv, 0xab)) {
        return -EINVAL;
    }
    blk_aio_preadv(blk, ctx->offset, &ctx->qiov, 0, io_aio_read_done, ctx);
    return 0;
}

static void io_aio_read_help(void)
{
    printf("\n"
           " asynchronously reads a range of bytes from the given offset\n"
           "\n"
           " Example:\n"
           " 'aio_read -v 512 1k 1k ' - dumps 2 kilobytes read from 512 bytes into the file\n"
           "\n"
           " Reads a segment of the currently open file, optionally dumping it to the\n"
           " standard output stream (with -v option) for subsequent inspection.\n"
           " The read is performed asynchronously and the aio_flush command must be\n"
           " used to ensure all outstanding aio requests have been completed.\n"
           " Note that due to its asynchronous nature, this command will be\n"
           " considered successful once the request is submitted, independently\n"
           " of potential I/O errors or pattern mismatches.\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -P, -- use a pattern to verify read data\n"
           " -v, -- dump buffer to standard output\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           "\n");
}

const IoCmd io_aio_read_cmd = {
    .name = "aio_read",
    .func = io_aio_read_f,
    .argmin = 2,
    .argmax = -1,
    .args = "[-Cqv] [-P pattern] off len [len..]",
    .oneline = "asynchronously reads a number of bytes",
    .help = io_aio_read_help,
};

/* aio_write -z: one length, no buffer. */
static int io_aio_write_zeroes(BlockBackend *blk, IoAioCtx *ctx, int argc, char **argv)
{
    if (optind != argc - 1) {
        printf("-z supports only a single length parameter\n");
    } else if (ctx->Pflag) {
        printf("-z and -P cannot be specified at the same time\n");
    } else if (io_parse_num(argv[optind], &ctx->bytes)) {
        io_aio_in_flight++;
        ctx->t1 = io_now();
        blk_aio_pwrite_zeroes(blk, ctx->offset, ctx->bytes, ctx->flags, io_aio_write_done, ctx);
        return 0;
    }
    g_free(ctx);
    return -EINVAL;
}

static int io_aio_write_f(BlockBackend *blk, int argc, char **argv)
{
    IoAioCtx *ctx = io_aio_parse(argc, argv, "CfP:quz", &io_aio_write_cmd, 0xcd);

    if (!ctx) {
        return -EINVAL;
    }
    if ((ctx->flags & BDRV_REQ_MAY_UNMAP) && !ctx->zflag) {
        printf("-u requires -z to be specified\n");
        g_free(ctx);
        return -EINVAL;
    }
    if (ctx->zflag) {
        return io_aio_write_zeroes(blk, ctx, argc, argv);
    }
    if (!io_aio_buffer(ctx, argc, argv, ctx->pattern)) {
        return -EINVAL;
    }
    blk_aio_pwritev(blk, ctx->offset, &ctx->qiov, ctx->flags, io_aio_write_done, ctx);
    return 0;
}

static void io_aio_write_help(void)
{
    printf("\n"
           " asynchronously writes a range of bytes from the given offset source\n"
           " from multiple buffers\n"
           "\n"
           " Example:\n"
           " 'aio_write 512 1k 1k' - writes 2 kilobytes at 512 bytes into the open file\n"
           "\n"
           " Writes into a segment of the currently open file, using a buffer\n"
           " filled with a set pattern (0xcdcdcdcd).\n"
           " The write is performed asynchronously and the aio_flush command must be\n"
           " used to ensure all outstanding aio requests have been completed.\n"
           " Note that due to its asynchronous nature, this command will be\n"
           " considered successful once the request is submitted, independently\n"
           " of potential I/O errors or pattern mismatches.\n"
           " -P, -- use different pattern to fill file\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -f, -- use Force Unit Access semantics\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           " -u, -- with -z, allow unmapping\n"
           " -z, -- write zeroes using blk_aio_pwrite_zeroes\n"
           "\n");
}

const IoCmd io_aio_write_cmd = {
    .name = "aio_write",
    .func = io_aio_write_f,
    .argmin = 2,
    .argmax = -1,
    .args = "[-Cfquz] [-P pattern] off len [len..]",
    .oneline = "asynchronously writes a number of bytes",
    .help = io_aio_write_help,
    .needs_write = true,
};

static int io_aio_flush_f(BlockBackend *blk, int argc, char **argv)
{
    io_aio_drain();
    return blk_flush(blk);
}

const IoCmd io_aio_flush_cmd = {
    .name = "aio_flush",
    .func = io_aio_flush_f,
    .oneline = "completes all outstanding aio requests",
};
