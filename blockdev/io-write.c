/*
 * minivmm-io's synchronous write commands, write and writev, with qemu-io's options, checks,
 * messages and reports. write fills its buffer with a pattern (-P, default 0xcd) or a file's
 * content (-s), or writes zeroes without a buffer (-z, with -u allowing the block layer to
 * unmap); -f asks for FUA. Requests go through blk_pwrite, blk_pwritev and
 * blk_pwrite_zeroes. Reads are in io-read.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "blockdev/io-cmds.h"

typedef struct IoWriteArgs {
    bool Cflag, qflag, Pflag, zflag, sflag;
    int pattern;
    int flags; /* BDRV_REQ_* */
    const char *file_name;
    int64_t offset, count;
} IoWriteArgs;

static void io_write_help(void)
{
    printf("\n"
           " writes a range of bytes from the given offset\n"
           "\n"
           " Example:\n"
           " 'write 512 1k' - writes 1 kilobyte at 512 bytes into the open file\n"
           "\n"
           " Writes into a segment of the currently open file, using a buffer\n"
           " filled with a set pattern (0xcdcdcdcd).\n"
           " -f, -- use Force Unit Access semantics\n"
           " -p, -- ignored for backwards compatibility\n"
           " -P, -- use different pattern to fill file\n"
           " -s, -- use a pattern file to fill the write buffer\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           " -u, -- with -z, allow unmapping\n"
           " -z, -- write zeroes using blk_pwrite_zeroes\n"
           "\n");
}

static int io_write_opt(IoWriteArgs *a, int c, const char *arg, const IoCmd *ct)
{
    switch (c) {
    case 'C':
        a->Cflag = true;
        return 0;
    case 'f':
        a->flags |= BDRV_REQ_FUA;
        return 0;
    case 'p':
        return 0;
    case 'q':
        a->qflag = true;
        return 0;
    case 's':
        a->sflag = true;
        a->file_name = arg;
        return 0;
    case 'u':
        a->flags |= BDRV_REQ_MAY_UNMAP;
        return 0;
    case 'z':
        a->zflag = true;
        return 0;
    case 'P':
        a->Pflag = true;
        a->pattern = io_parse_pattern(arg);
        return a->pattern < 0 ? -EINVAL : 0;
    default:
        io_command_usage(ct);
        return -EINVAL;
    }
}

/* The combination checks and the offset/length arguments, in qemu-io's order. */
static int io_write_check(IoWriteArgs *a, int argc, char **argv)
{
    if (optind != argc - 2) {
        io_command_usage(&io_write_cmd);
        return -EINVAL;
    }
    if ((a->flags & BDRV_REQ_MAY_UNMAP) && !a->zflag) {
        printf("-u requires -z to be specified\n");
        return -EINVAL;
    }
    if (a->zflag + a->Pflag + a->sflag > 1) {
        printf("Only one of -z, -P, and -s can be specified at the same time\n");
        return -EINVAL;
    }
    if (!io_parse_num(argv[optind], &a->offset) || !io_parse_num(argv[optind + 1], &a->count)) {
        return -EINVAL;
    }
    if (a->count > IO_REQUEST_MAX_BYTES) {
        printf("length cannot exceed %" PRId64 ", given %s\n", (int64_t)IO_REQUEST_MAX_BYTES,
               argv[optind + 1]);
        return -EINVAL;
    }
    return 0;
}

static int io_write_f(BlockBackend *blk, int argc, char **argv)
{
    IoWriteArgs a = {.pattern = 0xcd};
    struct timespec t1, t2;
    char *buf = NULL;
    int c, ret;

    while ((c = getopt(argc, argv, "CfpP:qs:uz")) != -1) {
        if ((ret = io_write_opt(&a, c, optarg, &io_write_cmd)) < 0) {
            return ret;
        }
    }
    if ((ret = io_write_check(&a, argc, argv)) < 0) {
        return ret;
    }
    if (!a.zflag) {
        buf = a.sflag ? io_alloc_from_file(a.count, a.file_name) : io_alloc(a.count, a.pattern);
        if (!buf) {
            return -EINVAL;
        }
    }
    t1 = io_now();
    ret = a.zflag ? blk_pwrite_zeroes(blk, a.offset, a.count, a.flags)
                  : blk_pwrite(blk, a.offset, buf, a.count, a.flags);
    t2 = io_tsub(io_now(), t1);
    if (ret < 0) {
        printf("write failed: %s\n", strerror(-ret));
    } else if (!a.qflag) {
        io_print_report("wrote", &t2, a.offset, a.count, a.count, 1, a.Cflag);
    }
    io_free(buf);
    return ret;
}

const IoCmd io_write_cmd = {
    .name = "write",
    .altname = "w",
    .func = io_write_f,
    .argmin = 2,
    .argmax = -1,
    .args = "[-Cfquz] [-P pattern | -s source_file] off len",
    .oneline = "writes a number of bytes at a specified offset",
    .help = io_write_help,
    .needs_write = true,
};

/* ---- writev ---- */

static void io_writev_help(void)
{
    printf("\n"
           " writes a range of bytes from the given offset source from multiple buffers\n"
           "\n"
           " Example:\n"
           " 'writev 512 1k 1k' - writes 2 kilobytes at 512 bytes into the open file\n"
           "\n"
           " Writes into a segment of the currently open file, using a buffer\n"
           " filled with a set pattern (0xcdcdcdcd).\n"
           " -P, -- use different pattern to fill file\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -f, -- use Force Unit Access semantics\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           "\n");
}

static int io_writev_f(BlockBackend *blk, int argc, char **argv)
{
    IoWriteArgs a = {.pattern = 0xcd};
    struct timespec t1, t2;
    IOVector qiov;
    int c, ret;
    char *buf;

    while ((c = getopt(argc, argv, "CfP:q")) != -1) {
        if ((ret = io_write_opt(&a, c, optarg, &io_writev_cmd)) < 0) {
            return ret;
        }
    }
    buf = io_offset_iovec(&io_writev_cmd, argc, argv, &a.offset, &qiov, a.pattern);
    if (!buf) {
        return -EINVAL;
    }
    t1 = io_now();
    ret = blk_pwritev(blk, a.offset, &qiov, a.flags);
    t2 = io_tsub(io_now(), t1);
    if (ret < 0) {
        printf("writev failed: %s\n", strerror(-ret));
    } else if (!a.qflag) {
        io_print_report("wrote", &t2, a.offset, qiov.size, qiov.size, 1, a.Cflag);
    }
    io_free(buf);
    iov_destroy(&qiov);
    return ret;
}

const IoCmd io_writev_cmd = {
    .name = "writev",
    .func = io_writev_f,
    .argmin = 2,
    .argmax = -1,
    .args = "[-Cfq] [-P pattern] off len [len..]",
    .oneline = "writes a number of bytes at a specified offset",
    .help = io_writev_help,
    .needs_write = true,
};
