/*
 * minivmm-img create: qemu-img's "create [-f fmt] [-b backing [-F backing_fmt]] [-o opts]
 * [-q] filename [size]" for the qcow2 and raw formats, with its option names, its
 * "Formatting ..." line and its error texts. The image itself is laid out by
 * block/qcow2-create.c; a raw image is a file of the size. Options qemu-img has and we do
 * not (encryption, data_file, extended_l2, compression_type=zstd, preallocation=falloc|full)
 * are rejected as invalid parameters.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "block/qcow2.h"
#include "util/cutils.h"
#include "util/error.h"
#include "tools/img/img.h"

typedef ImgCreateArgs CreateArgs;

void img_create_help(const char *fmt)
{
    printf("Supported options:\n");
    if (!strcmp(fmt, "raw")) {
        printf("  preallocation=<str>    - Preallocation mode (allowed values: off)\n"
               "  size=<size>            - Virtual disk size\n");
        return;
    }
    printf("  backing_file=<str>     - File name of a base image\n"
           "  backing_fmt=<str>      - Image format of the base image\n"
           "  cluster_size=<size>    - qcow2 cluster size\n"
           "  compat=<str>           - Compatibility level (v2 [0.10] or v3 [1.1])\n"
           "  lazy_refcounts=<bool (on/off)> - Postpone refcount updates\n"
           "  preallocation=<str>    - Preallocation mode (allowed values: off, metadata)\n"
           "  refcount_bits=<num>    - Width of a reference count entry in bits\n"
           "  size=<size>            - Virtual disk size\n");
}

static bool create_parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "on")) {
        *out = true;
    } else if (!strcmp(v, "off")) {
        *out = false;
    } else {
        error_report("Parameter 'lazy_refcounts' expects 'on' or 'off'");
        return false;
    }
    return true;
}

static bool parse_size_opt(const char *name, const char *v, uint64_t *out)
{
    if (parse_size(v, out, NULL) < 0) {
        error_report("Parameter '%s' expects a non-negative number below 2^64", name);
        fprintf(stderr, "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, "
                     "peta-\nand exabytes, respectively.\n");
        return false;
    }
    return true;
}

static bool set_option(CreateArgs *a, const char *k, const char *v, uint64_t *size)
{
    bool raw = !strcmp(a->fmt, "raw");
    uint64_t n;

    if (!strcmp(k, "size")) {
        return parse_size_opt(k, v, size);
    } else if (!strcmp(k, "preallocation")) {
        a->prealloc = v;
    } else if (raw) {
        error_report("Invalid parameter '%s'", k);
        return false;
    } else if (!strcmp(k, "cluster_size")) {
        return parse_size_opt(k, v, &a->q.cluster_size);
    } else if (!strcmp(k, "compat")) {
        a->compat = v;
    } else if (!strcmp(k, "lazy_refcounts")) {
        return create_parse_bool(v, &a->q.lazy_refcounts);
    } else if (!strcmp(k, "backing_file")) {
        a->q.backing_file = v;
    } else if (!strcmp(k, "backing_fmt")) {
        a->q.backing_fmt = v;
    } else if (!strcmp(k, "refcount_bits")) {
        if (parse_uint(v, &n, 0) < 0 || n > 64) {
            error_report("Parameter 'refcount_bits' expects a number");
            return false;
        }
        a->q.refcount_bits = n;
    } else {
        error_report("Invalid parameter '%s'", k);
        return false;
    }
    return true;
}

/* -o "k=v,k=v" split at commas (values point into items); *help when "help" is there. */
static bool parse_options(CreateArgs *a, char **items, uint64_t *size, bool *help)
{
    for (int i = 0; items[i]; i++) {
        char *eq = strchr(items[i], '=');
        if (!strcmp(items[i], "help") || !strcmp(items[i], "?")) {
            *help = true;
            continue;
        }
        if (!eq) {
            error_report("Invalid parameter '%s'", items[i]);
            return false;
        }
        *eq = '\0';
        if (!set_option(a, items[i], eq + 1, size)) {
            return false;
        }
    }
    return true;
}

bool img_create_parse_options(CreateArgs *a, const char *opts, uint64_t *size, bool *help)
{
    g_strfreev(a->items);
    a->items = g_strsplit(opts, ",", -1);
    return parse_options(a, a->items, size, help);
}

bool img_create_resolve(CreateArgs *a, Error **errp)
{
    if (!a->compat || !strcmp(a->compat, "1.1") || !strcmp(a->compat, "v3")) {
        a->q.version = 3;
    } else if (!strcmp(a->compat, "0.10") || !strcmp(a->compat, "v2")) {
        a->q.version = 2;
    } else {
        error_setg(errp, "Parameter 'version' does not accept value '%s'", a->compat);
        return false;
    }
    if (!a->prealloc || !strcmp(a->prealloc, "off")) {
        a->q.prealloc_metadata = false;
    } else if (!strcmp(a->prealloc, "metadata") && strcmp(a->fmt, "raw") != 0) {
        a->q.prealloc_metadata = true;
    } else {
        error_setg(errp, "Parameter 'preallocation' does not accept value '%s'", a->prealloc);
        return false;
    }
    return true;
}

static bool resolve_compat(CreateArgs *a)
{
    Error *err = NULL;

    if (!img_create_resolve(a, &err)) {
        error_report("%s: %s", a->filename, error_get_pretty(err));
        error_free(err);
        return false;
    }
    return true;
}

/* The size of the backing file, opened relative to the new image's directory. */
static int64_t backing_size(CreateArgs *a)
{
    g_autofree char *dir = g_path_get_dirname(a->filename);
    g_autofree char *path = g_path_is_absolute(a->q.backing_file)
                                ? g_strdup(a->q.backing_file)
                                : g_build_filename(dir, a->q.backing_file, NULL);
    BlockBackend *blk = img_open(path, a->q.backing_fmt, 0, false, true);
    int64_t len;

    if (!blk) {
        return -1;
    }
    len = blk_getlength(blk);
    blk_unref(blk);
    return len;
}

/* qemu-img's hint after refusing a backing file without a format. */
static void detect_backing_format(CreateArgs *a)
{
    g_autofree char *dir = g_path_get_dirname(a->filename);
    g_autofree char *path = g_path_is_absolute(a->q.backing_file)
                                ? g_strdup(a->q.backing_file)
                                : g_build_filename(dir, a->q.backing_file, NULL);
    BlockBackend *blk = img_open(path, NULL, BDRV_O_NO_BACKING, false, true);

    if (blk) {
        /* qemu-img 7.2 prints this hint without a newline */
        fprintf(stderr, "Detected format of %s.", bdrv_get_format_name(blk_bs(blk)));
        blk_unref(blk);
    }
}

static void print_formatting(CreateArgs *a)
{
    if (a->quiet) {
        return;
    }
    if (!strcmp(a->fmt, "raw")) {
        printf("Formatting '%s', fmt=raw size=%" PRIu64 "%s%s\n", a->filename, a->q.size,
               a->prealloc ? " preallocation=" : "", a->prealloc ? a->prealloc : "");
        return;
    }
    printf("Formatting '%s', fmt=qcow2 cluster_size=%" PRIu64 " extended_l2=off", a->filename,
           a->q.cluster_size);
    if (a->prealloc) {
        printf(" preallocation=%s", a->prealloc);
    }
    printf(" compression_type=zlib size=%" PRIu64, a->q.size);
    if (a->compat) {
        printf(" compat=%s", a->compat);
    }
    if (a->q.backing_file) {
        printf(" backing_file=%s", a->q.backing_file);
    }
    if (a->q.backing_fmt) {
        printf(" backing_fmt=%s", a->q.backing_fmt);
    }
    printf(" lazy_refcounts=%s refcount_bits=%d\n", a->q.lazy_refcounts ? "on" : "off",
           a->q.refcount_bits);
}

static int create_raw(const char *filename, uint64_t size, Error **errp)
{
    int fd = open(filename, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0 || ftruncate(fd, size) < 0) {
        error_setg_errno(errp, errno, "Could not create '%s'", filename);
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    close(fd);
    return 0;
}

int img_create_file(CreateArgs *a, uint64_t size, Error **errp)
{
    a->q.size = size;
    return !strcmp(a->fmt, "raw") ? create_raw(a->filename, size, errp)
                                  : qcow2_create_file(a->filename, &a->q, errp);
}

static int create_image(CreateArgs *a, int64_t size)
{
    Error *err = NULL;
    int ret;

    if (a->q.backing_file && !a->q.backing_fmt) {
        error_report("%s: Backing file specified without backing format", a->filename);
        detect_backing_format(a);
        return 1;
    }
    if (size < 0 && a->q.backing_file) {
        size = backing_size(a);
        if (size < 0) {
            return 1;
        }
    }
    if (size < 0) {
        error_report("%s: Image creation needs a size parameter", a->filename);
        return 1;
    }
    a->q.size = size;
    print_formatting(a);
    ret = img_create_file(a, size, &err);
    if (ret < 0) {
        error_report("%s: %s", a->filename, error_get_pretty(err));
        error_free(err);
        return 1;
    }
    return 0;
}

int img_create(int argc, char **argv)
{
    CreateArgs a = { .fmt = "raw", .q = { .cluster_size = 65536, .refcount_bits = 16 } };
    g_autofree char *opts = NULL;
    g_auto(GStrv) items = NULL;
    uint64_t opt_size = UINT64_MAX;
    int64_t size = -1;
    bool help = false;
    int c;

    while ((c = getopt(argc, argv, ":hf:b:F:o:qu")) != -1) {
        switch (c) {
        case 'h':
            img_help();
        case 'f':
            a.fmt = optarg;
            break;
        case 'b':
            a.q.backing_file = optarg;
            break;
        case 'F':
            a.q.backing_fmt = optarg;
            break;
        case 'o':
            opts = opts ? g_strconcat(opts, ",", optarg, NULL) : g_strdup(optarg);
            break;
        case 'q':
            a.quiet = true;
            break;
        case 'u':
            break;
        default:
            img_bad_option(c, argv);
        }
    }
    if (strcmp(a.fmt, "raw") != 0 && strcmp(a.fmt, "qcow2") != 0) {
        error_report("Unknown file format '%s'", a.fmt);
        return 1;
    }
    items = opts ? g_strsplit(opts, ",", -1) : NULL;
    if (items && !parse_options(&a, items, &opt_size, &help)) {
        return 1;
    }
    if (help) {
        img_create_help(a.fmt);
        return 0;
    }
    if (optind >= argc) {
        img_error_exit("Expecting image file name");
    }
    a.filename = argv[optind++];
    if (optind < argc) {
        size = img_cvtnum_full("image size", argv[optind++], 0, INT64_MAX);
        if (size < 0) {
            return 1;
        }
    } else if (opt_size != UINT64_MAX) {
        size = opt_size;
    }
    if (optind != argc) {
        img_error_exit("Unexpected argument: %s", argv[optind]);
    }
    if (!strcmp(a.fmt, "raw") && a.q.backing_file) {
        error_report("%s: Backing file not supported for file format 'raw'", a.filename);
        return 1;
    }
    return resolve_compat(&a) ? create_image(&a, size) : 1;
}
