/*
 * The qemu-io command interpreter shared by minivmm-io (tools/io/io-main.c) and the
 * monitor's HMP `qemu-io DEV "command"` (blockdev/hmp-qemu-io.c): the command table entry
 * and the helpers every command shares (qemu-io's number and pattern parsing, its report
 * lines and hex dump, I/O buffers). Commands live one group per file in blockdev/
 * (io-read.c and io-write.c synchronous reads and writes, io-aio.c asynchronous ones,
 * io-misc.c and io-info.c the rest); io-cmd.c splits and dispatches command lines. Output
 * goes to stdout, as qemu-io's does (also for the monitor's command, as in QEMU 2.2).
 */
#ifndef BLOCKDEV_IO_CMDS_H
#define BLOCKDEV_IO_CMDS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "block/block-backend.h"

/* qemu-io's limit on one request: INT_MAX rounded down to a sector. */
#define IO_REQUEST_MAX_BYTES (INT32_MAX & ~(int64_t)(BDRV_SECTOR_SIZE - 1))

typedef struct IoCmd {
    const char *name;
    const char *altname;
    /* 0 on success, negative errno on failure (the program then exits with status 1). */
    int (*func)(BlockBackend *blk, int argc, char **argv);
    int argmin, argmax; /* argmax -1: no upper bound */
    const char *args;
    const char *oneline;
    void (*help)(void);
    bool needs_write; /* refused on a read-only image */
    bool no_file_ok;  /* runs without an open image */
} IoCmd;

extern const IoCmd io_read_cmd, io_readv_cmd, io_write_cmd, io_writev_cmd;
extern const IoCmd io_aio_read_cmd, io_aio_write_cmd, io_aio_flush_cmd;
extern const IoCmd io_flush_cmd, io_discard_cmd, io_truncate_cmd, io_length_cmd;
extern const IoCmd io_info_cmd, io_map_cmd;

/* Run one command line ("read -P 0xab 0 4k") on blk (NULL: no image). 0 or -errno. */
int io_command(BlockBackend *blk, const char *line);
void io_command_usage(const IoCmd *ct);

/* Asynchronous requests still in flight (io-aio.c); io_aio_drain() waits for them. */
void io_aio_drain(void);

/* ---- io-args.c: arguments and buffers ---- */
/* A size with k/M/G/... suffixes, as qemu-io's cvtnum: >= 0, or -EINVAL / -ERANGE. */
int64_t io_cvtnum(const char *s);
/* Print qemu-io's "Parsing error: ..." for an io_cvtnum() failure. */
void io_cvtnum_error(int64_t rc, const char *arg);
/* Parse one offset or length argument; prints the error and returns false if invalid. */
bool io_parse_num(const char *arg, int64_t *out);
/* A byte 0..255 (any C base); prints "X is not a valid pattern byte" and returns -1. */
int io_parse_pattern(const char *arg);
/* A page-aligned buffer of len bytes filled with pattern. */
void *io_alloc(size_t len, int pattern);
void io_free(void *buf);
/* A buffer of len bytes filled cyclically with file_name's content, or NULL (reported). */
void *io_alloc_from_file(size_t len, const char *file_name);
/*
 * Build qiov over one buffer from the length arguments argv[0..nr-1], filled with pattern.
 * Returns the buffer (io_free() it, iov_destroy() qiov), or NULL after printing the error.
 */
void *io_create_iovec(IOVector *qiov, char **argv, int nr, int pattern);
/*
 * The operands of readv/writev/aio_*: argv[optind] is the offset, the rest lengths; after
 * getopt(). Fills *offset and qiov and returns its buffer as io_create_iovec(), or NULL
 * after printing cmd's usage (too few operands) or the error.
 */
void *io_offset_iovec(const IoCmd *cmd, int argc, char **argv, int64_t *offset,
                      IOVector *qiov, int pattern);
/* Print "Pattern verification failed at offset N, M bytes" and return false on mismatch. */
bool io_check_pattern(const void *buf, int pattern, int64_t offset, int64_t len);

/* ---- io-report.c: qemu-io's output formats ---- */
void io_cvtstr(double value, char *str, size_t size); /* "1.500 KiB", "512 bytes" */
struct timespec io_now(void);
struct timespec io_tsub(struct timespec t1, struct timespec t2);
/* "wrote 512/512 bytes at offset 0" and the rate line; Cflag: the parsable form. */
void io_print_report(const char *op, const struct timespec *t, int64_t offset, int64_t count,
                     int64_t total, int cnt, bool Cflag);
void io_dump_buffer(const void *buf, int64_t offset, int64_t len);

#endif
