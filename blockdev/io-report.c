/*
 * qemu-io's output formats, reproduced byte for byte because scripts and tests compare
 * them: human-readable sizes ("1.500 KiB", "512 bytes"), the two-line report after each
 * request ("read 512/512 bytes at offset 0" and the elapsed time with its rates, as QEMU
 * 7.2 prints them), the -C machine-parsable line, and the -v hex dump. Nothing here does I/O.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "blockdev/io-cmds.h"

/* Units from the largest down; a value is shown in the first unit it reaches. */
static const struct {
    int shift;
    const char *suffix;
} io_units[] = {
    {60, " EiB"}, {50, " PiB"}, {40, " TiB"}, {30, " GiB"}, {20, " MiB"}, {10, " KiB"},
};

void io_cvtstr(double value, char *str, size_t size)
{
    const char *suffix = " bytes";
    char *trim;

    snprintf(str, size - 6, "%f", value);
    for (size_t i = 0; i < G_N_ELEMENTS(io_units); i++) {
        double unit = (double)(UINT64_C(1) << io_units[i].shift);

        if (value >= unit) {
            suffix = io_units[i].suffix;
            snprintf(str, size - 4, "%.3f", value / unit);
            break;
        }
    }
    /* "4.000 KiB" reads "4 KiB"; "4.500 KiB" keeps its fraction. */
    trim = strstr(str, ".000");
    if (trim) {
        *trim = '\0';
    }
    g_strlcat(str, suffix, size);
}

struct timespec io_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

struct timespec io_tsub(struct timespec t1, struct timespec t2)
{
    t1.tv_nsec -= t2.tv_nsec;
    if (t1.tv_nsec < 0) {
        t1.tv_nsec += 1000000000;
        t1.tv_sec--;
    }
    t1.tv_sec -= t2.tv_sec;
    return t1;
}

static double io_tdiv(double value, const struct timespec *t)
{
    return value / ((double)t->tv_sec + t->tv_nsec / 1e9);
}

/* "00.25 sec" under a second, else "H:MM:SS.ss"; verbose (-C) always the latter. */
static void io_timestr(const struct timespec *t, char *ts, size_t size, bool verbose)
{
    double frac = t->tv_nsec / 1e9;
    unsigned secs = (unsigned)t->tv_sec;

    if (verbose || secs) {
        snprintf(ts, size, "%u:%02u:%05.2f", secs / 3600, secs % 3600 / 60, secs % 60 + frac);
    } else {
        snprintf(ts, size, "%05.2f sec", frac);
    }
}

void io_print_report(const char *op, const struct timespec *t, int64_t offset, int64_t count,
                     int64_t total, int cnt, bool Cflag)
{
    char s1[64], s2[64], ts[64];

    io_timestr(t, ts, sizeof(ts), Cflag);
    if (Cflag) {
        /* bytes,ops,time,bytes/sec,ops/sec */
        printf("%" PRId64 ",%d,%s,%.3f,%.3f\n", total, cnt, ts, io_tdiv(total, t), io_tdiv(cnt, t));
        return;
    }
    io_cvtstr(total, s1, sizeof(s1));
    io_cvtstr(io_tdiv(total, t), s2, sizeof(s2));
    printf("%s %" PRId64 "/%" PRId64 " bytes at offset %" PRId64 "\n", op, total, count, offset);
    printf("%s, %d ops; %s (%s/sec and %.4f ops/sec)\n", s1, cnt, ts, s2, io_tdiv(cnt, t));
}

/* One line: offset, up to 16 bytes in hex, the same bytes as text (alphanumerics only). */
static void io_dump_line(const uint8_t *p, int64_t offset, int n)
{
    printf("%08" PRIx64 ":  ", offset);
    for (int j = 0; j < n; j++) {
        printf("%02x ", p[j]);
    }
    printf(" ");
    for (int j = 0; j < n; j++) {
        putchar(isalnum(p[j]) ? p[j] : '.');
    }
    printf("\n");
}

void io_dump_buffer(const void *buf, int64_t offset, int64_t len)
{
    const uint8_t *p = buf;

    for (int64_t i = 0; i < len; i += 16) {
        io_dump_line(p + i, offset + i, len - i < 16 ? (int)(len - i) : 16);
    }
}
