/*
 * minivmm-img internals: the subcommand table entry and what subcommands share (opening an
 * image as qemu-img does, its cache/aio option parsing, its size-argument checks and its
 * "Try '--help'" exits). Each subcommand is one file (bench.c, later create.c, info.c ...)
 * exporting one handler listed in img.c's table. Not a library interface.
 */
#ifndef TOOLS_IMG_IMG_H
#define TOOLS_IMG_IMG_H

#include <stdbool.h>
#include <stdint.h>
#include "block/block-backend.h"

typedef struct ImgCmd {
    const char *name;
    /* argv[0] is the subcommand name; returns the process exit status. */
    int (*handler)(int argc, char **argv);
    const char *syntax; /* the options summary for `--help` */
} ImgCmd;

int img_bench(int argc, char **argv);
int img_check(int argc, char **argv);
int img_create(int argc, char **argv);
int img_info(int argc, char **argv);
int img_snapshot(int argc, char **argv);
/* A Qcow2Snapshot as qemu's SnapshotInfo, and one line of qemu-img's snapshot table for
 * it (the table header when NULL). */
JsonObject *img_snapshot_json(const void *sn);
void img_snapshot_dump(JsonObject *sn);
/* qemu's size_to_str: "196 KiB", "1 GiB". */
char *img_size_to_str(uint64_t val);

/* "PROG: msg" and "Try 'PROG --help' for more information" on stderr, then exit(1). */
/* --output=human|json: false (reported as qemu-img does) for anything else. */
bool img_parse_output(const char *output, bool *json);
void G_GNUC_NORETURN img_error_exit(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* getopt's '?' and ':' results (the optstring must start with ':'), as qemu-img words them. */
void G_GNUC_NORETURN img_bad_option(int c, char **argv);
void G_GNUC_NORETURN img_help(void);

/*
 * A size argument within [min, max], else qemu-img's "Invalid NAME specified..." report
 * and -1. Suffixes k, M, G, T, P, E.
 */
int64_t img_cvtnum_full(const char *name, const char *value, int64_t min, int64_t max);
/* A whole-string unsigned number (C bases) <= max, else false. */
bool img_parse_ulong(const char *s, uint64_t max, uint64_t *out);

/*
 * Open filename (format fmt, or probed when NULL) as backend "image", with the write cache
 * enabled unless writethrough. Reports "Could not open 'X': reason" and returns NULL.
 */
BlockBackend *img_open(const char *filename, const char *fmt, int flags, bool writethrough,
                       bool quiet);

#endif
