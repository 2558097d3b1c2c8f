/*
 * minivmm-img measure: qemu-img 7.2's "measure [--output=ofmt] [-O output_fmt] [-o options]
 * [--size N | [-f fmt] [-l snapshot_param] [-U] filename]": the file size a new image of
 * output_fmt (default raw) needs, for a virtual size or to hold an image's data. The -o
 * options are the output format's creation options, checked as qemu-img's option parser
 * does ("help" is not special here, as in qemu-img); the driver does the sums
 * (bdrv_measure). The source is opened without its key (block status needs none).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "util/error.h"
#include "tools/img/img.h"

enum { OPTION_OUTPUT = 256, OPTION_SIZE };

typedef struct MeasureArgs {
    const char *filename, *fmt, *out_fmt;
    GString *options; /* the -o arguments joined with commas */
    ImgSnapshotParam snapshot;
    int64_t size; /* --size, or -1 */
    bool json;
    int flags;
} MeasureArgs;

static void measure_opt(MeasureArgs *a, int c, const char *arg)
{
    switch (c) {
    case 'h':
        img_help();
    case 'f':
        a->fmt = arg;
        break;
    case 'O':
        a->out_fmt = arg;
        break;
    case 'o':
        if (!img_valid_option_list(arg)) {
            error_report("Invalid option list: %s", arg);
            exit(1);
        }
        g_string_append_printf(a->options, "%s%s", a->options->len ? "," : "", arg);
        break;
    case 'l':
        img_snapshot_param_parse(&a->snapshot, arg);
        break;
    case 'U':
        a->flags |= BDRV_O_FORCE_SHARE;
        break;
    case OPTION_OUTPUT:
        if (!img_parse_output(arg, &a->json)) {
            exit(1);
        }
        break;
    case OPTION_SIZE:
        a->size = img_cvtnum_full("image size", arg, 0, INT64_MAX);
        if (a->size < 0) {
            exit(1);
        }
        break;
    }
}

/* Options and operands, with qemu-img's checks in its order; false when one failed. */
static bool measure_parse(MeasureArgs *a, int argc, char **argv)
{
    static const struct option lopt[] = {
        {"help", no_argument, NULL, 'h'},
        {"output", required_argument, NULL, OPTION_OUTPUT},
        {"size", required_argument, NULL, OPTION_SIZE},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = img_getopt(argc, argv, ":hf:O:o:l:U", lopt)) != -1) {
        measure_opt(a, c, optarg);
    }
    if (argc - optind > 1) {
        error_report("At most one filename argument is allowed.");
        return false;
    }
    a->filename = argc - optind == 1 ? argv[optind] : NULL;
    if (!a->filename && (a->fmt || img_snapshot_param_given(&a->snapshot))) {
        error_report("--image-opts, -f, and -l require a filename argument.");
        return false;
    }
    if (a->filename && a->size >= 0) {
        error_report("--size N cannot be used together with a filename.");
        return false;
    }
    if (!a->filename && a->size < 0) {
        error_report("Either --size N or one filename must be specified.");
        return false;
    }
    return true;
}

/* The -o options typed for the output format, then --size; NULL when one is refused. */
static JsonObject *measure_options(const MeasureArgs *a)
{
    g_auto(GStrv) items = img_split_options(a->options->str);
    JsonObject *opts = json_object_new();

    for (int i = 0; items[i]; i++) {
        const char *k = items[i], *v = k + strlen(k) + 1;
        const BlockCreateOpt *o = img_is_help_option(k) ? NULL : img_find_create_opt(a->out_fmt, k);

        if (!o) {
            error_report("Invalid parameter '%s'", k);
        }
        if (!o || !img_check_opt_value(o, v)) {
            error_report("Invalid options for file format '%s'", a->out_fmt);
            json_object_unref(opts);
            return NULL;
        }
        img_set_typed_opt(opts, o, v);
    }
    if (a->size >= 0) {
        json_object_set_int_member(opts, "size", a->size);
    }
    return opts;
}

static void measure_print(const BlockMeasureInfo *info, bool json)
{
    if (json) {
        printf("{\n");
        if (info->has_bitmaps) {
            printf("    \"bitmaps\": %" PRIu64 ",\n", info->bitmaps);
        }
        printf("    \"required\": %" PRIu64 ",\n    \"fully-allocated\": %" PRIu64 "\n}\n",
               info->required, info->fully_allocated);
        return;
    }
    printf("required size: %" PRIu64 "\nfully allocated size: %" PRIu64 "\n", info->required,
           info->fully_allocated);
    if (info->has_bitmaps) {
        printf("bitmaps size: %" PRIu64 "\n", info->bitmaps);
    }
}

/* The source (if any) opened and at its snapshot, the output format checked, the sums
 * done and printed; the exit status. */
static int measure_run(MeasureArgs *a)
{
    g_autoptr(JsonObject) opts = NULL;
    BlockBackend *blk = NULL;
    BlockMeasureInfo info;
    Error *err = NULL;
    int ret = 1;

    if (a->filename) {
        blk = img_open(a->filename, a->fmt, a->flags | BDRV_O_NO_IO, false, false);
        if (!blk || (img_snapshot_param_given(&a->snapshot) &&
                     img_snapshot_param_load(blk_bs(blk), &a->snapshot) < 0)) {
            goto out;
        }
    }
    if (!bdrv_find_format(a->out_fmt)) {
        error_report("Unknown file format '%s'", a->out_fmt);
    } else if (!bdrv_create_opts(a->out_fmt)) {
        error_report("Format driver '%s' does not support image creation", a->out_fmt);
    } else if ((opts = measure_options(a)) &&
               bdrv_measure(a->out_fmt, opts, blk ? blk_bs(blk) : NULL, &info, &err) < 0) {
        error_report_err(err);
    } else if (opts) {
        measure_print(&info, a->json);
        ret = 0;
    }
out:
    if (blk) {
        blk_unref(blk);
    }
    return ret;
}

int img_measure(int argc, char **argv)
{
    MeasureArgs a = {.out_fmt = "raw", .size = -1, .options = g_string_new(NULL)};
    int ret = measure_parse(&a, argc, argv) ? measure_run(&a) : 1;

    g_string_free(a.options, true);
    img_snapshot_param_clear(&a.snapshot);
    return ret;
}
