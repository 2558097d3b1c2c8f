/*
 * minivmm-img amend: qemu-img 7.2's "amend [-p] [-q] [-f fmt] [-t cache] [--force] -o
 * options filename" for what minivmm's drivers can amend (bdrv_amend_opts: for qcow2
 * compat, lazy_refcounts, refcount_bits, size, and the backing file only as it is).
 * Options are checked here by name and type, with qemu-img's messages; the driver checks
 * their meaning and changes the image. `-o help` lists the amendable options.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "util/error.h"
#include "tools/img/img.h"

typedef struct AmendArgs {
    const char *filename;
    const char *fmt;
    const char *cache;
    GString *options; /* every -o, joined with commas as qemu-img does */
    bool progress;
    bool quiet;
} AmendArgs;

static void parse_args(int argc, char **argv, AmendArgs *a)
{
    static const struct option lopt[] = {
        {"help", no_argument, NULL, 'h'},
        {"force", no_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = img_getopt(argc, argv, ":ho:f:t:pq", lopt)) != -1) {
        switch (c) {
        case 'h':
            img_help();
        case 'o':
            if (!img_valid_option_list(optarg)) {
                error_report("Invalid option list: %s", optarg);
                exit(1);
            }
            g_string_append_printf(a->options, "%s%s", a->options->len ? "," : "", optarg);
            break;
        case 'f':
            a->fmt = optarg;
            break;
        case 't':
            a->cache = optarg;
            break;
        case 'p':
            a->progress = true;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'F': /* qemu-img's --force allows unsafe amendments: none here needs it */
            break;
        }
    }
    if (!a->options->len) {
        img_error_exit("Must specify options (-o)");
    }
    a->progress &= !a->quiet;
}

static gint name_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_help(const char *fmt, const char *const *names)
{
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();

    printf("Amend options for '%s':\n", fmt);
    for (const char *const *n = names; *n; n++) {
        g_ptr_array_add(sorted, (gpointer)*n);
    }
    g_ptr_array_sort(sorted, name_cmp);
    for (guint i = 0; i < sorted->len; i++) {
        img_print_opt_help(img_find_create_opt(fmt, g_ptr_array_index(sorted, i)));
    }
}

/* The -o items as bdrv_amend wants them, or NULL after qemu-img's complaint. */
static JsonObject *typed_options(const char *fmt, const char *const *names, char **items)
{
    g_autoptr(JsonObject) opts = json_object_new();

    for (int i = 0; items[i]; i++) {
        const char *k = items[i], *v = k + strlen(k) + 1;
        const BlockCreateOpt *o = img_find_create_opt(fmt, k);
        if (img_is_help_option(k)) {
            continue;
        }
        if (!g_strv_contains(names, k) || !o) {
            error_report("Invalid parameter '%s'", k);
            if (o) {
                fprintf(stderr, "This option is only supported for image creation\n");
            }
            return NULL;
        }
        if (!img_check_opt_value(o, v)) {
            return NULL;
        }
        img_set_typed_opt(opts, o, v);
    }
    return g_steal_pointer(&opts);
}

static bool has_help(char **items)
{
    for (int i = 0; items[i]; i++) {
        if (img_is_help_option(items[i])) {
            return true;
        }
    }
    return false;
}

/* -o help: fmt's amendable options, or qemu-img's complaint. */
static int list_options(const char *fmt)
{
    const char *const *names = bdrv_amend_opts(fmt);

    if (!names) {
        error_report("Format driver '%s' does not support option amendment", fmt);
        return 1;
    }
    print_help(fmt, names);
    return 0;
}

static int do_amend(AmendArgs *a, char **items, BlockBackend *blk)
{
    const char *fmt = bdrv_get_format_name(blk_bs(blk));
    const char *const *names = bdrv_amend_opts(fmt);
    g_autoptr(JsonObject) opts = NULL;
    Error *err = NULL;

    if (!names || has_help(items)) {
        return list_options(fmt);
    }
    if (!(opts = typed_options(fmt, names, items))) {
        return 1;
    }
    img_progress_init(a->progress, 1.0);
    img_progress_set(0);
    if (bdrv_amend(blk_bs(blk), opts, &err) < 0) {
        img_progress_end(false);
        error_report_err(err);
        return 1;
    }
    img_progress_end(true);
    return 0;
}

int img_amend(int argc, char **argv)
{
    AmendArgs a = {.cache = "writeback", .options = g_string_new(NULL)};
    g_autoptr(GString) options = a.options;
    g_auto(GStrv) items = NULL;
    BlockBackend *blk;
    bool writethrough;
    int flags = 0, ret;

    parse_args(argc, argv, &a);
    items = img_split_options(a.options->str);
    if (a.fmt && has_help(items)) { /* qemu-img: no image needed then */
        return list_options(a.fmt);
    }
    if (optind != argc - 1) {
        error_report("Expecting one image file name");
        return 1;
    }
    a.filename = argv[optind];
    if (!bdrv_parse_cache_mode(a.cache, &flags, &writethrough)) {
        error_report("Invalid cache option: %s", a.cache);
        return 1;
    }
    blk = img_open(a.filename, a.fmt, flags | BDRV_O_RDWR, writethrough, a.quiet);
    if (!blk) {
        return 1;
    }
    ret = do_amend(&a, items, blk);
    blk_unref(blk);
    return ret;
}
