/*
 * minivmm-io's commands that move no data: flush, discard, truncate and length, with
 * qemu-io's syntax and output. Each is one BlockBackend call (blk_flush, blk_pdiscard,
 * blk_truncate, blk_getlength). What the image looks like inside (info, map) is in
 * io-info.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "util/error.h"
#include "blockdev/io-cmds.h"

static int io_flush_f(BlockBackend *blk, int argc, char **argv)
{
    return blk_flush(blk);
}

const IoCmd io_flush_cmd = {
    .name = "flush",
    .altname = "f",
    .func = io_flush_f,
    .oneline = "flush all in-core file state to disk",
};

/* ---- discard ---- */

static void io_discard_help(void)
{
    printf("\n"
           " discards a range of bytes from the given offset\n"
           "\n"
           " Example:\n"
           " 'discard 512 1k' - discards 1 kilobyte from 512 bytes into the file\n"
           "\n"
           " Discards a segment of the currently open file.\n"
           " -C, -- report statistics in a machine parsable format\n"
           " -q, -- quiet mode, do not show I/O statistics\n"
           "\n");
}

static int io_discard_args(int argc, char **argv, bool *Cflag, bool *qflag)
{
    int c;

    while ((c = getopt(argc, argv, "Cq")) != -1) {
        if (c == 'C') {
            *Cflag = true;
        } else if (c == 'q') {
            *qflag = true;
        } else {
            io_command_usage(&io_discard_cmd);
            return -EINVAL;
        }
    }
    if (optind != argc - 2) {
        io_command_usage(&io_discard_cmd);
        return -EINVAL;
    }
    return 0;
}

static int io_discard_f(BlockBackend *blk, int argc, char **argv)
{
    bool Cflag = false, qflag = false;
    struct timespec t1, t2;
    int64_t offset, bytes;
    int ret;

    if ((ret = io_discard_args(argc, argv, &Cflag, &qflag)) < 0) {
        return ret;
    }
    if (!io_parse_num(argv[optind], &offset) || !io_parse_num(argv[optind + 1], &bytes)) {
        return -EINVAL;
    }
    if (bytes > IO_REQUEST_MAX_BYTES) {
        printf("length cannot exceed %" PRId64 ", given %s\n", (int64_t)IO_REQUEST_MAX_BYTES,
               argv[optind + 1]);
        return -EINVAL;
    }
    t1 = io_now();
    ret = blk_pdiscard(blk, offset, bytes);
    t2 = io_tsub(io_now(), t1);
    if (ret < 0) {
        printf("discard failed: %s\n", strerror(-ret));
        return ret;
    }
    if (!qflag) {
        io_print_report("discard", &t2, offset, bytes, bytes, 1, Cflag);
    }
    return 0;
}

const IoCmd io_discard_cmd = {
    .name = "discard",
    .altname = "d",
    .func = io_discard_f,
    .argmin = 2,
    .argmax = -1,
    .args = "[-Cq] off len",
    .oneline = "discards a number of bytes at a specified offset",
    .help = io_discard_help,
    .needs_write = true,
};

/* ---- truncate, length ---- */

static int io_truncate_f(BlockBackend *blk, int argc, char **argv)
{
    PreallocMode mode = PREALLOC_MODE_OFF;
    Error *err = NULL;
    int64_t size;
    int c, ret;

    while ((c = getopt(argc, argv, "m:")) != -1) {
        if (c != 'm') {
            io_command_usage(&io_truncate_cmd);
            return -EINVAL;
        }
        if ((ret = prealloc_mode_parse(optarg)) < 0) {
            error_report("Invalid preallocation mode '%s'", optarg);
            return -EINVAL;
        }
        mode = ret;
    }
    if (optind != argc - 1) {
        io_command_usage(&io_truncate_cmd);
        return -EINVAL;
    }
    if (!io_parse_num(argv[optind], &size)) {
        return -EINVAL;
    }
    ret = blk_truncate(blk, size, mode, &err);
    if (err) {
        error_report_err(err);
    } else if (ret < 0) {
        error_report("truncate failed: %s", strerror(-ret));
    }
    return ret;
}

const IoCmd io_truncate_cmd = {
    .name = "truncate",
    .altname = "t",
    .func = io_truncate_f,
    .argmin = 1,
    .argmax = 3,
    .args = "[-m prealloc_mode] off",
    .oneline = "truncates the current file at the given offset",
    .needs_write = true,
};

static int io_length_f(BlockBackend *blk, int argc, char **argv)
{
    int64_t size = blk_getlength(blk);
    char s1[64];

    if (size < 0) {
        printf("getlength: %s\n", strerror(-size));
        return size;
    }
    io_cvtstr(size, s1, sizeof(s1));
    printf("%s\n", s1);
    return 0;
}

const IoCmd io_length_cmd = {
    .name = "length",
    .altname = "l",
    .func = io_length_f,
    .oneline = "gets the length of the current file",
};
