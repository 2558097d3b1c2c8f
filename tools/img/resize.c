/*
 * minivmm-img resize: qemu-img 7.2's "resize [-q] [-f fmt] [--preallocation=mode] [--shrink]
 * filename [+|-]size".
 * The size is the last argument, taken before option parsing so that "-1M" is not an
 * option; a leading + or - makes it relative to the current size. Shrinking needs
 * --shrink, as in qemu-img 7.2 (QEMU 2.2 refused to shrink qcow2 images at all); the format
 * driver does the resizing (bdrv_resize) and words its own refusals.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "util/cutils.h"
#include "util/error.h"
#include "tools/img/img.h"

typedef struct ResizeArgs {
    const char *filename;
    const char *fmt;
    int relative;          /* +1, -1, or 0 for an absolute size */
    uint64_t n;
    bool shrink;
    bool quiet;
    PreallocMode prealloc;
} ResizeArgs;

static bool parse_size_arg(ResizeArgs *a, const char *size)
{
    int ret;

    if (size[0] == '+' || size[0] == '-') {
        a->relative = size[0] == '+' ? 1 : -1;
        size++;
    }
    ret = parse_size(size, &a->n, NULL);
    if (ret == -ERANGE) {
        error_report("Value '%s' is out of range for parameter 'size'", size);
        return false;
    }
    if (ret < 0) {
        error_report("Parameter 'size' expects a non-negative number below 2^64");
        fprintf(stderr, "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, "
                        "peta-\nand exabytes, respectively.\n");
        return false;
    }
    return true;
}

static void parse_args(int argc, char **argv, ResizeArgs *a)
{
    static const struct option lopt[] = {
        {"help", no_argument, NULL, 'h'},
        {"format", required_argument, NULL, 'f'},
        {"shrink", no_argument, NULL, 'S'},
        {"preallocation", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    int c, mode;

    while ((c = img_getopt(argc, argv, ":f:hq", lopt)) != -1) {
        switch (c) {
        case 'h':
            img_help();
        case 'f':
            a->fmt = optarg;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'S':
            a->shrink = true;
            break;
        case 'P':
            if ((mode = prealloc_mode_parse(optarg)) < 0) {
                error_report("Invalid preallocation mode '%s'", optarg);
                exit(1);
            }
            a->prealloc = mode;
            break;
        }
    }
    if (optind != argc - 1) {
        img_error_exit("Expecting image file name and size");
    }
    a->filename = argv[optind];
}

static int do_resize(ResizeArgs *a, BlockBackend *blk)
{
    int64_t current = blk_getlength(blk), total;
    Error *err = NULL;

    if (current < 0) {
        error_report("Could not get the image size: %s", g_strerror(-current));
        return 1;
    }
    /* As qemu-img: the sum wraps, and anything not positive is refused. */
    total = a->relative ? (int64_t)((uint64_t)current + (uint64_t)a->relative * a->n)
                        : (int64_t)a->n;
    if (total <= 0) {
        error_report("New image size must be positive");
        return 1;
    }
    if (total <= current && a->prealloc != PREALLOC_MODE_OFF) {
        error_report("Preallocation can only be used for growing images");
        return 1;
    }
    if (total < current && !a->shrink) {
        error_report("Use the --shrink option to perform a shrink operation.");
        warn_report("Shrinking an image will delete all data beyond the shrunken image's end. "
                    "Before performing such an operation, make sure there is no important "
                    "data there.");
        return 1;
    }
    if (bdrv_resize(blk_bs(blk), total, a->shrink, a->prealloc, &err) < 0) {
        error_report_err(err);
        return 1;
    }
    if (!a->quiet) {
        printf("Image resized.\n");
    }
    return 0;
}

int img_resize(int argc, char **argv)
{
    ResizeArgs a = {0};
    BlockBackend *blk;
    int ret;

    if (argc < 3) {
        img_error_exit("Not enough arguments");
    }
    /* The size goes before getopt sees it: "-1M" is a size, not an option. */
    if (!parse_size_arg(&a, argv[--argc])) {
        return 1;
    }
    parse_args(argc, argv, &a);
    blk = img_open(a.filename, a.fmt, BDRV_O_RDWR, false, a.quiet);
    if (!blk) {
        return 1;
    }
    ret = do_resize(&a, blk);
    blk_unref(blk);
    return ret;
}
