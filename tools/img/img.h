/*
 * minivmm-img internals: the subcommand table entry and what subcommands share (opening an
 * image as qemu-img does, its cache/aio option parsing, its size-argument checks and its
 * "Try '--help'" exits). Each subcommand is one file (bench.c, later create.c, info.c ...)
 * exporting one handler listed in img.c's table. Not a library interface.
 */
#ifndef TOOLS_IMG_IMG_H
#define TOOLS_IMG_IMG_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include "block/block-backend.h"
#include "block/image-ops.h"

typedef struct ImgCmd {
    const char *name;
    /* argv[0] is the subcommand name; returns the process exit status. */
    int (*handler)(int argc, char **argv);
    const char *syntax; /* the options summary for `--help` */
} ImgCmd;

/* An image to create (create.c), also used by convert: a format with a create hook. */
typedef struct ImgCreateArgs {
    const char *filename;
    const char *fmt;
    const char *backing_file; /* -b, or -o backing_file */
    const char *backing_fmt;  /* -F, or -o backing_fmt */
    const char *prealloc;     /* -o preallocation */
    bool encryption;          /* -o encryption=on */
    bool quiet;
    bool no_backing_open;     /* -u: the backing file is not opened */
    char **items; /* the -o string split at commas (img_create_parse_options) */
} ImgCreateArgs;
/* -o "k=v,..." into a (errors reported as qemu-img does); *help when "help" is there. */
bool img_create_parse_options(ImgCreateArgs *a, const char *opts, uint64_t *size, bool *help);
/* -o's argument is a valid option list for qemu-img: not empty, no leading comma, no
 * single trailing comma (",," is an escaped comma). */
bool img_valid_option_list(const char *opts);
/* Whether the format can create images: false with errp set when not. The option values
 * are checked by the format's driver when the image is created. */
bool img_create_resolve(ImgCreateArgs *a, Error **errp);
/* Create the image (after img_create_resolve), without any output. 0 or -errno. */
int img_create_file(ImgCreateArgs *a, uint64_t size, Error **errp);
/* qemu-img's "Supported options:" list of -o help for fmt. */
void img_create_help(const char *fmt);
/* One line of such a list: "  name=<type>  - help". */
void img_print_opt_help(const BlockCreateOpt *o);
/* fmt's creation option called name, or NULL. */
const BlockCreateOpt *img_find_create_opt(const char *fmt, const char *name);
/*
 * "k=v,k2=v2" as QEMU's option syntax splits it: ",," is a comma inside a value and a bare
 * key means key=on. Each item becomes "key\0value" (help items stay as they are).
 */
char **img_split_options(const char *opts);
/* "help" or "?". */
bool img_is_help_option(const char *item);
/* Whether v suits o's type (size, num, bool); qemu-img's complaint when not. */
bool img_check_opt_value(const BlockCreateOpt *o, const char *v);
/* opts[o->name] = v, typed as o says (checked by img_check_opt_value before). */
void img_set_typed_opt(JsonObject *opts, const BlockCreateOpt *o, const char *v);

int img_amend(int argc, char **argv);
int img_bench(int argc, char **argv);
int img_check(int argc, char **argv);
int img_commit(int argc, char **argv);
int img_compare(int argc, char **argv);
int img_convert(int argc, char **argv);
int img_create(int argc, char **argv);
int img_info(int argc, char **argv);
int img_map(int argc, char **argv);
int img_measure(int argc, char **argv);
int img_rebase(int argc, char **argv);
int img_resize(int argc, char **argv);
int img_snapshot(int argc, char **argv);
/* A snapshot as qemu's SnapshotInfo, and one line of qemu-img's snapshot table for it
 * (the table header when NULL). */
JsonObject *img_snapshot_json(const BlockSnapshotInfo *sn);
void img_snapshot_dump(JsonObject *sn);
/* qemu's size_to_str: "196 KiB", "1 GiB". */
char *img_size_to_str(uint64_t val);

/* img-progress.c: qemu-img's "    (P/100%)\r" lines for -p (nothing when not enabled). */
/* Progress lines ("    (P/100%)\r"), see img-progress.c. */
void img_progress_init(bool enabled, float min_step);
void img_progress_set(float pct);
void img_progress_add(float delta);
void img_progress_update(uint64_t done, uint64_t total);
/* Print 100 % first when done; always end the line. */
void img_progress_end(bool done);
/* -p asked for it, or stdout is a terminal; never with -q. */
bool img_progress_default(bool requested, bool quiet);
/* commit.c: the node of bs's backing chain (below bs) that is the image name, or NULL. */
BlockDriverState *img_find_backing_image(BlockDriverState *bs, const char *name);

/* -l snapshot_param (convert, measure): a plain id or name, or "snapshot.id=ID,
 * snapshot.name=NAME" (either or both). */
typedef struct ImgSnapshotParam {
    const char *plain;
    bool opts;
    char *id, *name;
} ImgSnapshotParam;
/* -l's argument as qemu-img parses it (a bad one: reported, exit 1, before any open). */
void img_snapshot_param_parse(ImgSnapshotParam *p, const char *arg);
bool img_snapshot_param_given(const ImgSnapshotParam *p);
/* bs reads as that snapshot (the plain form: id first, then name); "Failed to load
 * snapshot: ..." reported on failure. */
int img_snapshot_param_load(BlockDriverState *bs, const ImgSnapshotParam *p);
void img_snapshot_param_clear(ImgSnapshotParam *p);

/* "PROG: msg" and "Try 'PROG --help' for more information" on stderr, then exit(1). */
/* --output=human|json: false (reported as qemu-img does) for anything else. */
bool img_parse_output(const char *output, bool *json);
void G_GNUC_NORETURN img_error_exit(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/*
 * getopt_long() for the options before the subcommand and each subcommand's: an unknown
 * option or a missing argument is reported as qemu-img does ("unrecognized option 'WORD'",
 * "missing argument for option 'WORD'", the "Try" line, exit 1), so neither '?' nor ':' is
 * returned. WORD is the argument that holds the option. optstring starts with ':' (after a
 * '+' if any); longopts NULL stands for --help alone. Long options are always recognised as
 * such: plain getopt() reads "--force-share" as the short options '-', 'f', ...
 */
int img_getopt(int argc, char **argv, const char *optstring, const struct option *longopts);
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
 * enabled unless writethrough. Reports "Could not open 'X': reason" and returns NULL. An
 * encrypted image gets its key from bdrv_prompt_key, unless flags has BDRV_O_NO_IO.
 */
BlockBackend *img_open(const char *filename, const char *fmt, int flags, bool writethrough,
                       bool quiet);

/* QEMU's warning for an image opened writable whose format was probed as raw (its writes to
 * block 0 are restricted). */
void img_warn_probed_raw(BlockBackend *blk, const char *filename, int flags);
/* "Could not open 'X': reason" and the error's hint (e.g. who holds a lock); frees err. */
void img_report_open_error(const char *filename, Error *err);
/* img_open under backend name `name`, for commands opening several images. */
BlockBackend *img_open_backend(const char *name, const char *filename, const char *fmt,
                               int flags, bool writethrough, bool quiet);


#endif
