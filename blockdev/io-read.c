/*
 * minivmm-io's synchronous read commands, read and readv, with qemu-io's options, checks,
 * messages and reports: -P verifies a pattern (optionally only -s off / -l len of it), -v
 * dumps the data, -q silences the report. Requests go through the BlockBackend's
 * synchronous wrappers (blk_pread, blk_preadv). Writes are in io-write.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "blockdev/io-cmds.h"

/* ---- read ---- */

typedef struct IoReadArgs {
    bool Cflag, qflag, vflag, Pflag, sflag, lflag;
    int pattern;
    int64_t offset, count, pattern_offset, pattern_count;
} IoReadArgs;

static void io_read_help(void)
{
    printf("\n"
           " reads a range of bytes from the given offset\n"
           "\n"
           " Example:\n"
           " 'read -v 512 1k' - dumps 1 kilobyte read from 512 bytes into the file\n"
           "\n"
           " Reads a segment of the currently open file, optionally dumping it to the\n"
           " standard output stream (with -v option) for subsequent inspection.\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -l, -- length for pattern verification (only with -P)\n"
           " -p, -- ignored for backwards compatibility\n"
           " -P, -- use a pattern to verify read data\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           " -s, -- start offset for pattern verification (only with -P)\n"
           " -v, -- dump buffer to standard output\n"
           "\n");
}

static int io_read_opt(IoReadArgs *a, int c, const char *arg, const IoCmd *ct)
{
    switch (c) {
    case 'C':
        a->Cflag = true;
        return 0;
    case 'p':
        return 0;
    case 'q':
        a->qflag = true;
        return 0;
    case 'v':
        a->vflag = true;
        return 0;
    case 'P':
        a->Pflag = true;
        a->pattern = io_parse_pattern(arg);
        return a->pattern < 0 ? -EINVAL : 0;
    case 's':
        a->sflag = true;
        return io_parse_num(arg, &a->pattern_offset) ? 0 : -EINVAL;
    case 'l':
        a->lflag = true;
        return io_parse_num(arg, &a->pattern_count) ? 0 : -EINVAL;
    default:
        io_command_usage(ct);
        return -EINVAL;
    }
}

/* Offset and length (after the options), and the verification range. */
static int io_read_range(IoReadArgs *a, int argc, char **argv)
{
    if (optind != argc - 2 || (!a->Pflag && (a->lflag || a->sflag))) {
        io_command_usage(&io_read_cmd);
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
    if (!a->lflag) {
        a->pattern_count = a->count - a->pattern_offset;
    }
    if (a->pattern_count < 0 || a->pattern_count + a->pattern_offset > a->count) {
        printf("pattern verification range exceeds end of read data\n");
        return -EINVAL;
    }
    return 0;
}

/* After a successful read: verify, dump, report. -EINVAL if the pattern did not match. */
static int io_read_done(const IoReadArgs *a, const char *buf, const struct timespec *t)
{
    int ret = 0;

    if (a->Pflag && !io_check_pattern(buf + a->pattern_offset, a->pattern,
                                      a->offset + a->pattern_offset, a->pattern_count)) {
        ret = -EINVAL;
    }
    if (!a->qflag && a->vflag) {
        io_dump_buffer(buf, a->offset, a->count);
    }
    if (!a->qflag) {
        io_print_report("read", t, a->offset, a->count, a->count, 1, a->Cflag);
    }
    return ret;
}

static int io_read_f(BlockBackend *blk, int argc, char **argv)
{
    IoReadArgs a = {0};
    struct timespec t1, t2;
    int c, ret;
    char *buf;

    while ((c = getopt(argc, argv, "Cl:pP:qs:v")) != -1) {
        if ((ret = io_read_opt(&a, c, optarg, &io_read_cmd)) < 0) {
            return ret;
        }
    }
    if ((ret = io_read_range(&a, argc, argv)) < 0) {
        return ret;
    }
    buf = io_alloc(a.count, 0xab);
    t1 = io_now();
    ret = blk_pread(blk, a.offset, buf, a.count);
    t2 = io_tsub(io_now(), t1);
    if (ret < 0) {
        printf("read failed: %s\n", strerror(-ret));
    } else {
        ret = io_read_done(&a, buf, &t2);
    }
    io_free(buf);
    return ret;
}

const IoCmd io_read_cmd = {
    .name = "read",
    .altname = "r",
    .func = io_read_f,
    .argmin = 2,
    .argmax = -1,
    .args = "[-Cqv] [-P pattern [-s off] [-l len]] off len",
    .oneline = "reads a number of bytes at a specified offset",
    .help = io_read_help,
};

/* ---- readv ---- */

static void io_readv_help(void)
{
    printf("\n"
           " reads a range of bytes from the given offset into multiple buffers\n"
           "\n"
           " Example:\n"
           " 'readv -v 512 1k 1k ' - dumps 2 kilobytes read from 512 bytes into the file\n"
           "\n"
           " Reads a segment of the currently open file, optionally dumping it to the\n"
           " standard output stream (with -v option) for subsequent inspection.\n"
           " Uses multiple iovec buffers if more than one byte range is specified.\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -P, -- use a pattern to verify read data\n"
           " -v, -- dump buffer to standard output\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           "\n");
}

static int io_readv_f(BlockBackend *blk, int argc, char **argv)
{
    IoReadArgs a = {0};
    struct timespec t1, t2;
    IOVector qiov;
    int c, ret;
    char *buf;

    while ((c = getopt(argc, argv, "CP:qv")) != -1) {
        if ((ret = io_read_opt(&a, c, optarg, &io_readv_cmd)) < 0) {
            return ret;
        }
    }
    buf = io_offset_iovec(&io_readv_cmd, argc, argv, &a.offset, &qiov, 0xab);
    if (!buf) {
        return -EINVAL;
    }
    t1 = io_now();
    ret = blk_preadv(blk, a.offset, &qiov, 0);
    t2 = io_tsub(io_now(), t1);
    if (ret < 0) {
        printf("readv failed: %s\n", strerror(-ret));
    } else {
        a.count = a.pattern_count = qiov.size;
        ret = io_read_done(&a, buf, &t2);
    }
    io_free(buf);
    iov_destroy(&qiov);
    return ret;
}

const IoCmd io_readv_cmd = {
    .name = "readv",
    .func = io_readv_f,
    .argmin = 2,
    .argmax = -1,
    .args = "[-Cqv] [-P pattern] off len [len..]",
    .oneline = "reads a number of bytes at a specified offset",
    .help = io_readv_help,
};
