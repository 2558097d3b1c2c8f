/*
 * What minivmm-img's subcommands share: opening an image the way qemu-img does (backend
 * "image", format given or probed, write cache per the cache mode), parsing cache and aio
 * modes into open flags, size and count arguments with qemu-img's error texts, and the
 * usage-error exits. Nothing here knows a particular subcommand.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/cutils.h"
#include "util/error.h"
#include "tools/img/img.h"

void img_error_exit(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vreport(fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information\n", g_get_prgname());
    exit(1);
}

static bool is_option_word(const char *arg)
{
    return arg[0] == '-' && arg[1] != '\0';
}

/*
 * The argument holding the option getopt_long() just refused, given optind before the call.
 * getopt moves past an argument once it has read all of it (a long option, a missing
 * argument, the last letter of "-qZ"), so that is argv[optind - 1]; it stays on one whose
 * letters it has not all read ("-Zq"), argv[optind], and optind only grew then if it skipped
 * non-option arguments (never option words) to reach it. qemu-img 7.2 always names
 * argv[optind - 1], which for "-Zq" is the word before it.
 */
static const char *refused_word(char **argv, int before)
{
    if (optind > before && is_option_word(argv[optind - 1])) {
        return argv[optind - 1];
    }
    return argv[optind];
}

int img_getopt(int argc, char **argv, const char *optstring, const struct option *longopts)
{
    static const struct option help_only[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int before = optind;
    int c = getopt_long(argc, argv, optstring, longopts ? longopts : help_only, NULL);

    if (c == ':') {
        img_error_exit("missing argument for option '%s'", refused_word(argv, before));
    }
    if (c == '?') {
        img_error_exit("unrecognized option '%s'", refused_word(argv, before));
    }
    return c;
}

int64_t img_cvtnum_full(const char *name, const char *value, int64_t min, int64_t max)
{
    uint64_t res;
    int err = parse_size(value, &res, NULL);

    if (value[strspn(value, " \t\n")] == '-') {
        err = -EINVAL; /* qemu-img 7.2's size parser takes no sign */
    }
    if (err < 0 && err != -ERANGE) {
        error_report("Invalid %s specified. You may use k, M, G, T, P or E suffixes for", name);
        error_report("kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
        return -1;
    }
    if (err == -ERANGE || res > (uint64_t)max || (int64_t)res < min) {
        error_report("Invalid %s specified. Must be between %" PRId64 " and %" PRId64 ".", name,
                     min, max);
        return -1;
    }
    return (int64_t)res;
}

bool img_parse_ulong(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v;

    if (parse_uint(s, &v, 0) < 0 || v > max) {
        return false;
    }
    *out = v;
    return true;
}

void img_report_open_error(const char *filename, Error *err)
{
    error_reportf_err(err, "Could not open '%s': ", filename);
}

BlockBackend *img_open_backend(const char *name, const char *filename, const char *fmt,
                               int flags, bool writethrough, bool quiet)
{
    JsonObject *options = json_object_new();
    int open_flags = (flags & ~BDRV_O_NO_IO) | (writethrough ? 0 : BDRV_O_CACHE_WB);
    Error *err = NULL;
    BlockBackend *blk;

    if (fmt) {
        json_object_set_string_member(options, "driver", fmt);
    }
    blk = blk_new_open(name, filename, options, open_flags, &err);
    if (!blk) {
        img_report_open_error(filename, err);
        return NULL;
    }
    if (!(flags & BDRV_O_NO_IO) && !bdrv_prompt_key(blk_bs(blk), filename, quiet)) {
        blk_unref(blk);
        return NULL;
    }
    blk_set_enable_write_cache(blk, !writethrough);
    img_warn_probed_raw(blk, filename, flags);
    return blk;
}

BlockBackend *img_open(const char *filename, const char *fmt, int flags, bool writethrough,
                       bool quiet)
{
    return img_open_backend("image", filename, fmt, flags, writethrough, quiet);
}

void img_warn_probed_raw(BlockBackend *blk, const char *filename, int flags)
{
    BlockDriverState *bs = blk_bs(blk);

    if (!(flags & BDRV_O_RDWR) || !bdrv_was_probed(bs) ||
        strcmp(bdrv_get_format_name(bs), "raw") != 0) {
        return;
    }
    fprintf(stderr, "WARNING: Image format was not specified for '%s' and probing guessed raw.\n"
            "         Automatically detecting the format is dangerous for raw images, write "
            "operations on block 0 will be restricted.\n"
            "         Specify the 'raw' format explicitly to remove the restrictions.\n",
            filename);
}

bool img_parse_output(const char *output, bool *json)
{
    if (strcmp(output, "human") != 0 && strcmp(output, "json") != 0) {
        error_report("--output must be used with human or json as argument.");
        return false;
    }
    *json = !strcmp(output, "json");
    return true;
}

void img_snapshot_param_parse(ImgSnapshotParam *p, const char *arg)
{
    g_auto(GStrv) items = NULL;

    if (!g_str_has_prefix(arg, "snapshot.")) {
        p->plain = arg;
        return;
    }
    p->opts = true;
    items = g_strsplit(arg, ",", -1);
    for (int i = 0; items[i]; i++) {
        char **slot = g_str_has_prefix(items[i], "snapshot.id=")     ? &p->id
                      : g_str_has_prefix(items[i], "snapshot.name=") ? &p->name
                                                                     : NULL;
        if (!slot) {
            error_report("Invalid parameter '%.*s'", (int)strcspn(items[i], "="), items[i]);
            error_report("Failed in parsing snapshot param '%s'", arg);
            exit(1);
        }
        g_free(*slot);
        *slot = g_strdup(strchr(items[i], '=') + 1);
    }
}

bool img_snapshot_param_given(const ImgSnapshotParam *p)
{
    return p->plain || p->opts;
}

int img_snapshot_param_load(BlockDriverState *bs, const ImgSnapshotParam *p)
{
    Error *err = NULL;
    int ret;

    if (!p->plain) {
        ret = bdrv_snapshot_load_tmp(bs, p->id, p->name, &err);
    } else {
        ret = bdrv_snapshot_load_tmp(bs, p->plain, NULL, &err);
        if (ret == -ENOENT || ret == -EINVAL) {
            error_free(err);
            err = NULL;
            ret = bdrv_snapshot_load_tmp(bs, NULL, p->plain, &err);
        }
    }
    if (ret < 0) {
        error_reportf_err(err, "Failed to load snapshot: ");
    }
    return ret;
}

void img_snapshot_param_clear(ImgSnapshotParam *p)
{
    g_free(p->id);
    g_free(p->name);
    *p = (ImgSnapshotParam){0};
}
