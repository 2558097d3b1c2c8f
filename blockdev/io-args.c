/*
 * Command arguments and I/O buffers for minivmm-io: offsets and lengths with size suffixes,
 * pattern bytes, vectors built from a list of lengths, buffers filled from a pattern or a
 * file, and read-back verification. Errors are printed on stdout in qemu-io's words, since
 * scripts compare that output. Not the command dispatcher (io-cmd.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util/cutils.h"
#include "blockdev/io-cmds.h"

/* O_DIRECT needs aligned buffers; a page satisfies every logical block size. */
#define IO_BUF_ALIGN 4096

int64_t io_cvtnum(const char *s)
{
    uint64_t value;
    int ret = parse_size(s, &value, NULL);

    if (ret < 0) {
        return ret;
    }
    return value > INT64_MAX ? -ERANGE : (int64_t)value;
}

void io_cvtnum_error(int64_t rc, const char *arg)
{
    if (rc == -ERANGE) {
        printf("Parsing error: argument too large -- %s\n", arg);
    } else {
        printf("Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- %s\n",
               arg);
    }
}

bool io_parse_num(const char *arg, int64_t *out)
{
    int64_t v = io_cvtnum(arg);

    if (v < 0) {
        io_cvtnum_error(v, arg);
        return false;
    }
    *out = v;
    return true;
}

int io_parse_pattern(const char *arg)
{
    char *end;
    long pattern = strtol(arg, &end, 0);

    if (pattern < 0 || pattern > 0xff || *end != '\0' || end == arg) {
        printf("%s is not a valid pattern byte\n", arg);
        return -1;
    }
    return (int)pattern;
}

void *io_alloc(size_t len, int pattern)
{
    void *buf;

    if (posix_memalign(&buf, IO_BUF_ALIGN, len ? len : 1) != 0) {
        g_error("out of memory allocating %zu bytes", len);
    }
    memset(buf, pattern, len);
    return buf;
}

void io_free(void *buf)
{
    free(buf);
}

void *io_alloc_from_file(size_t len, const char *file_name)
{
    FILE *f = fopen(file_name, "r");
    size_t got;
    char *buf;

    if (!f) {
        fprintf(stderr, "%s: %s\n", file_name, strerror(errno));
        return NULL;
    }
    buf = io_alloc(len, 0);
    got = fread(buf, 1, len, f);
    fclose(f);
    if (got == 0 && len) {
        fprintf(stderr, "%s: file is empty\n", file_name);
        io_free(buf);
        return NULL;
    }
    /* A short file repeats until the buffer is full. */
    for (size_t p = got; p < len; p += got) {
        memcpy(buf + p, buf, MIN(got, len - p));
    }
    return buf;
}

/* Sum the length arguments into sizes[]; false after printing the first bad one. */
static bool io_parse_lengths(char **argv, int nr, size_t *sizes, size_t *total)
{
    *total = 0;
    for (int i = 0; i < nr; i++) {
        int64_t len;

        if (!io_parse_num(argv[i], &len)) {
            return false;
        }
        if (len > IO_REQUEST_MAX_BYTES) {
            printf("Argument '%s' exceeds maximum size %" PRId64 "\n", argv[i],
                   (int64_t)IO_REQUEST_MAX_BYTES);
            return false;
        }
        if (*total > (size_t)(IO_REQUEST_MAX_BYTES - len)) {
            printf("The total number of bytes exceed the maximum size %" PRId64 "\n",
                   (int64_t)IO_REQUEST_MAX_BYTES);
            return false;
        }
        sizes[i] = len;
        *total += len;
    }
    return true;
}

void *io_create_iovec(IOVector *qiov, char **argv, int nr, int pattern)
{
    g_autofree size_t *sizes = g_new0(size_t, nr);
    size_t total, pos = 0;
    char *buf;

    if (!io_parse_lengths(argv, nr, sizes, &total)) {
        return NULL;
    }
    buf = io_alloc(total, pattern);
    iov_init(qiov, nr);
    for (int i = 0; i < nr; i++) {
        iov_add(qiov, buf + pos, sizes[i]);
        pos += sizes[i];
    }
    return buf;
}

void *io_offset_iovec(const IoCmd *cmd, int argc, char **argv, int64_t *offset,
                      IOVector *qiov, int pattern)
{
    if (optind > argc - 2) {
        io_command_usage(cmd);
        return NULL;
    }
    if (!io_parse_num(argv[optind], offset)) {
        return NULL;
    }
    optind++;
    return io_create_iovec(qiov, &argv[optind], argc - optind, pattern);
}

bool io_check_pattern(const void *buf, int pattern, int64_t offset, int64_t len)
{
    const uint8_t *p = buf;

    for (int64_t i = 0; i < len; i++) {
        if (p[i] != pattern) {
            printf("Pattern verification failed at offset %" PRId64 ", %" PRId64 " bytes\n", offset,
                   len);
            return false;
        }
    }
    return true;
}
