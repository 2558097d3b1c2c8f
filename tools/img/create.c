/*
 * minivmm-img create: qemu-img's "create [-f fmt] [-b backing [-F backing_fmt]] [-o opts]
 * [-q] filename [size]", with its "Formatting ..." line and its error texts. The options a
 * format takes, their types and defaults come from its driver (bdrv_create_opts); values
 * are checked by type here and by meaning in the driver, which makes the image
 * (bdrv_create). convert creates its output through the same functions.
 */
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "util/cutils.h"
#include "util/error.h"
#include "tools/img/img.h"

typedef ImgCreateArgs CreateArgs;

const BlockCreateOpt *img_find_create_opt(const char *fmt, const char *name)
{
    for (const BlockCreateOpt *o = bdrv_create_opts(fmt); o && o->name; o++) {
        if (!strcmp(o->name, name)) {
            return o;
        }
    }
    return NULL;
}

static gint opt_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp((*(const BlockCreateOpt *const *)a)->name,
                  (*(const BlockCreateOpt *const *)b)->name);
}

void img_create_help(const char *fmt)
{
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();

    for (const BlockCreateOpt *o = bdrv_create_opts(fmt); o && o->name; o++) {
        g_ptr_array_add(sorted, (gpointer)o);
    }
    g_ptr_array_sort(sorted, opt_cmp);
    printf("Supported options:\n");
    for (guint i = 0; i < sorted->len; i++) {
        img_print_opt_help(g_ptr_array_index(sorted, i));
    }
}

void img_print_opt_help(const BlockCreateOpt *o)
{
    g_autofree char *lhs = g_strdup_printf("%s=<%s>", o->name, o->type);

    printf("  %-22s - %s\n", lhs, o->help);
}

bool img_valid_option_list(const char *opts)
{
    size_t len = strlen(opts), i = len;

    while (i > 0 && opts[i - 1] == ',') {
        i--;
    }
    return opts[0] && opts[0] != ',' && (len - i) % 2 == 0;
}

/* An -o complaint: qemu-img create names the image first (convert has no name here). */
static void G_GNUC_PRINTF(2, 3) opt_error(const CreateArgs *a, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_report("%s%s%s", a->filename ? a->filename : "", a->filename ? ": " : "", msg);
}

static bool is_type(const BlockCreateOpt *o, const char *type)
{
    return !strncmp(o->type, type, strlen(type));
}

static bool parse_size_opt(const CreateArgs *a, const char *name, const char *v, uint64_t *out)
{
    if (parse_size(v, out, NULL) < 0) {
        opt_error(a, "Parameter '%s' expects a non-negative number below 2^64", name);
        fprintf(stderr, "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, "
                     "peta-\nand exabytes, respectively.\n");
        return false;
    }
    return true;
}

/* The value of option o as its type wants it, else qemu-img's complaint. */
static bool check_value(const CreateArgs *a, const BlockCreateOpt *o, const char *v,
                        uint64_t *n)
{
    if (is_type(o, "size")) {
        return parse_size_opt(a, o->name, v, n);
    }
    if (is_type(o, "num") && parse_uint(v, n, 0) < 0) {
        opt_error(a, "Parameter '%s' expects a number", o->name);
        return false;
    }
    if (is_type(o, "bool") && strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
        opt_error(a, "Parameter '%s' expects 'on' or 'off'", o->name);
        return false;
    }
    return true;
}

static bool set_option(CreateArgs *a, const char *k, const char *v, uint64_t *size)
{
    const BlockCreateOpt *o = img_find_create_opt(a->fmt, k);
    uint64_t n = 0;

    if (!o) {
        opt_error(a, "Invalid parameter '%s'", k);
        return false;
    }
    if (!check_value(a, o, v, &n)) {
        return false;
    }
    if (!strcmp(k, "size")) {
        *size = n;
    } else if (!strcmp(k, "backing_file")) {
        a->backing_file = v;
    } else if (!strcmp(k, "backing_fmt")) {
        a->backing_fmt = v;
    } else if (!strcmp(k, "preallocation")) {
        a->prealloc = v;
    } else if (!strcmp(k, "encryption")) {
        parse_bool(k, v, &a->encryption, NULL); /* check_value accepted v */
    }
    return true;
}

bool img_is_help_option(const char *item)
{
    return !strcmp(item, "help") || !strcmp(item, "?");
}

/*
 * "k=v,k2=v2" as QEMU's option syntax splits it: ",," is a comma inside a value and a bare
 * key means key=on. Each item becomes "key\0value" (help items stay as they are).
 */
char **img_split_options(const char *opts)
{
    GPtrArray *items = g_ptr_array_new();
    g_autoptr(GString) cur = g_string_new(NULL);

    for (const char *p = opts;; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
        } else if (*p && *p != ',') {
            g_string_append_c(cur, *p);
        } else {
            char *eq = strchr(cur->str, '=');
            if (cur->len && !eq && !img_is_help_option(cur->str)) {
                g_string_append(cur, "=on");
                eq = strchr(cur->str, '=');
            }
            if (eq) {
                *eq = '\0';
            }
            if (cur->len) {
                g_ptr_array_add(items, g_memdup2(cur->str, cur->len + 1));
            }
            g_string_truncate(cur, 0);
            if (!*p) {
                break;
            }
        }
    }
    g_ptr_array_add(items, NULL);
    return (char **)g_ptr_array_free(items, false);
}

bool img_create_parse_options(CreateArgs *a, const char *opts, uint64_t *size, bool *help)
{
    g_strfreev(a->items);
    a->items = img_split_options(opts);
    for (int i = 0; a->items[i]; i++) {
        if (img_is_help_option(a->items[i])) {
            *help = true;
            continue;
        }
        if (!set_option(a, a->items[i], a->items[i] + strlen(a->items[i]) + 1, size)) {
            return false;
        }
    }
    return true;
}

bool img_create_resolve(CreateArgs *a, Error **errp)
{
    if (!bdrv_create_opts(a->fmt)) {
        error_setg(errp, "Format driver '%s' does not support image creation", a->fmt);
        return false;
    }
    return true;
}

void img_set_typed_opt(JsonObject *opts, const BlockCreateOpt *o, const char *v)
{
    uint64_t n = 0;

    if (is_type(o, "size")) {
        parse_size(v, &n, NULL);
        json_object_set_int_member(opts, o->name, n);
    } else if (is_type(o, "num")) {
        parse_uint(v, &n, 0);
        json_object_set_int_member(opts, o->name, n);
    } else if (is_type(o, "bool")) {
        json_object_set_boolean_member(opts, o->name, !strcmp(v, "on"));
    } else {
        json_object_set_string_member(opts, o->name, v);
    }
}

bool img_check_opt_value(const BlockCreateOpt *o, const char *v)
{
    const CreateArgs none = {0};
    uint64_t n;

    return check_value(&none, o, v, &n);
}

/* The options for bdrv_create: size, every -o option by its type, -b/-F. */
static JsonObject *build_opts(CreateArgs *a, uint64_t size)
{
    JsonObject *opts = json_object_new();

    json_object_set_int_member(opts, "size", size);
    for (int i = 0; a->items && a->items[i]; i++) {
        const char *k = a->items[i], *v = k + strlen(k) + 1;
        const BlockCreateOpt *o = img_find_create_opt(a->fmt, k);
        if (img_is_help_option(k) || !o || !strcmp(k, "size") || !strcmp(k, "backing_file") ||
            !strcmp(k, "backing_fmt")) {
            continue;
        }
        img_set_typed_opt(opts, o, v);
    }
    if (a->backing_file) {
        json_object_set_string_member(opts, "backing_file", a->backing_file);
    }
    if (a->backing_fmt) {
        json_object_set_string_member(opts, "backing_fmt", a->backing_fmt);
    }
    return opts;
}

int img_create_file(CreateArgs *a, uint64_t size, Error **errp)
{
    JsonObject *opts = build_opts(a, size);
    int ret = bdrv_create(a->fmt, a->filename, opts, errp);

    json_object_unref(opts);
    return ret;
}

/* The backing file's name as opened: relative to the new image's directory, as QEMU's
 * path_combine ("base" stays "base" for an image named without a directory). */
static char *backing_path(CreateArgs *a)
{
    const char *slash = strrchr(a->filename, '/');

    if (g_path_is_absolute(a->backing_file) || !slash) {
        return g_strdup(a->backing_file);
    }
    return g_strdup_printf("%.*s%s", (int)(slash - a->filename + 1), a->filename,
                           a->backing_file);
}

/*
 * Open the backing file (format fmt, or probed) as qemu-img create does; its error texts.
 * As qemu-img 7.2, with force-share through its whole chain: only the format and size are
 * read, and the file is commonly one a running VM writes (an overlay made ready for
 * blockdev-snapshot-sync's mode=existing).
 */
static BlockBackend *open_backing(CreateArgs *a, const char *fmt, int flags)
{
    g_autofree char *path = backing_path(a);
    JsonObject *options = json_object_new();
    Error *err = NULL;
    BlockBackend *blk;

    if (fmt) {
        json_object_set_string_member(options, "driver", fmt);
    }
    blk = blk_new_open("backing", path, options, flags | BDRV_O_FORCE_SHARE, &err);
    if (!blk) {
        error_append_hint(&err, "Could not open backing image.\n");
        error_reportf_err(err, "%s: ", a->filename);
    }
    return blk;
}

/* qemu-img's refusal of a backing file without a format, with the format it detects (or
 * why the file does not open). */
static void detect_backing_format(CreateArgs *a)
{
    BlockBackend *blk = open_backing(a, NULL, BDRV_O_NO_BACKING);

    if (blk) {
        error_report("%s: Backing file specified without backing format", a->filename);
        /* qemu-img 7.2 prints this hint without a newline */
        fprintf(stderr, "Detected format of %s.", bdrv_get_format_name(blk_bs(blk)));
        blk_unref(blk);
    }
}

/*
 * The backing file checks of qemu-img create, in its order: the name, then (unless -u) the
 * file opens with the format given, which must be given; its size is the default size.
 */
static bool check_backing(CreateArgs *a, int64_t *size)
{
    BlockBackend *blk;

    if (!strcmp(a->filename, a->backing_file)) {
        error_report("%s: Error: Trying to create an image with the same filename as the "
                     "backing file", a->filename);
        return false;
    }
    if (!a->backing_file[0]) {
        error_report("%s: Expected backing file name, got empty string", a->filename);
        return false;
    }
    if (a->no_backing_open || !a->backing_fmt) {
        if (!a->backing_fmt) {
            if (a->no_backing_open) {
                error_report("%s: Backing file specified without backing format", a->filename);
            } else {
                detect_backing_format(a);
            }
            return false;
        }
        return true;
    }
    blk = open_backing(a, a->backing_fmt, 0);
    if (!blk) {
        return false;
    }
    if (*size < 0) {
        *size = blk_getlength(blk);
    }
    blk_unref(blk);
    return *size >= 0;
}

/* "Formatting 'F', fmt=X" and the options in the driver's order, given or defaults. */
static void print_formatting(CreateArgs *a, JsonObject *opts)
{
    if (a->quiet) {
        return;
    }
    printf("Formatting '%s', fmt=%s", a->filename, a->fmt);
    for (const BlockCreateOpt *o = bdrv_create_opts(a->fmt); o && o->name; o++) {
        JsonNode *n = json_object_get_member(opts, o->name);
        if (!n) {
            if (o->def) {
                printf(" %s=%s", o->name, o->def);
            }
        } else if (json_node_get_value_type(n) == G_TYPE_STRING) {
            g_auto(GStrv) parts = g_strsplit(json_node_get_string(n), ",", -1);
            g_autofree char *escaped = g_strjoinv(",,", parts);
            printf(" %s=%s", o->name, escaped); /* commas doubled, as typed */
        } else if (json_node_get_value_type(n) == G_TYPE_BOOLEAN) {
            printf(" %s=%s", o->name, json_node_get_boolean(n) ? "on" : "off");
        } else {
            printf(" %s=%" PRIu64, o->name, (uint64_t)json_node_get_int(n));
        }
    }
    printf("\n");
}

static int create_image(CreateArgs *a, int64_t size)
{
    JsonObject *opts;
    Error *err = NULL;
    int ret;

    if (a->backing_file && !check_backing(a, &size)) {
        return 1;
    }
    if (size < 0) {
        error_report("%s: Image creation needs a size parameter", a->filename);
        return 1;
    }
    opts = build_opts(a, size);
    print_formatting(a, opts);
    ret = bdrv_create(a->fmt, a->filename, opts, &err);
    json_object_unref(opts);
    if (ret < 0) {
        error_reportf_err(err, "%s: ", a->filename);
        return 1;
    }
    return 0;
}

/* "filename [size]": false after reporting a bad size (usage errors exit). */
static bool create_positional(CreateArgs *a, int argc, char **argv, int64_t *size)
{
    *size = -1;
    if (optind >= argc) {
        img_error_exit("Expecting image file name");
    }
    a->filename = argv[optind++];
    if (optind < argc) {
        *size = img_cvtnum_full("image size", argv[optind++], 0, INT64_MAX);
        if (*size < 0) {
            return false;
        }
    }
    if (optind != argc) {
        img_error_exit("Unexpected argument: %s", argv[optind]);
    }
    return true;
}

/*
 * The -o options, checked once the file name and size are known (complaints name the
 * file, as qemu-img's do), and -o size, which may not repeat the size argument.
 */
static bool create_options(CreateArgs *a, const char *opts, int64_t *size)
{
    uint64_t opt_size = UINT64_MAX;
    bool help = false;

    if (opts && !img_create_parse_options(a, opts, &opt_size, &help)) {
        return false;
    }
    if (opt_size != UINT64_MAX && *size >= 0) {
        error_report("%s: The image size must be specified only once", a->filename);
        return false;
    }
    if (opt_size != UINT64_MAX) {
        *size = opt_size;
    }
    return true;
}

/* -o help or ? among the options (qemu-img looks for it before anything else). */
static bool create_wants_help(const char *opts)
{
    g_auto(GStrv) items = opts ? g_strsplit(opts, ",", -1) : NULL;

    for (int i = 0; items && items[i]; i++) {
        if (img_is_help_option(items[i])) {
            return true;
        }
    }
    return false;
}

/*
 * A format that cannot create images: qemu-img finds out only once it has the file name and
 * a valid size (then the message names the file), except for -o help.
 */
static int unknown_format(CreateArgs *a, const char *opts, int argc, char **argv)
{
    int64_t size;

    if (create_wants_help(opts)) {
        error_report("Unknown file format '%s'", a->fmt);
        return 1;
    }
    if (!create_positional(a, argc, argv, &size)) {
        return 1;
    }
    error_report("%s: Unknown file format '%s'", a->filename, a->fmt);
    return 1;
}

int img_create(int argc, char **argv)
{
    CreateArgs a = { .fmt = "raw" };
    g_autofree char *opts = NULL;
    int64_t size = -1;
    int c, ret;

    while ((c = img_getopt(argc, argv, ":hf:b:F:o:qu", NULL)) != -1) {
        switch (c) {
        case 'h':
            img_help();
        case 'f':
            a.fmt = optarg;
            break;
        case 'b':
            a.backing_file = optarg;
            break;
        case 'F':
            a.backing_fmt = optarg;
            break;
        case 'o':
            if (!img_valid_option_list(optarg)) {
                error_report("Invalid option list: %s", optarg);
                return 1;
            }
            opts = opts ? g_strconcat(opts, ",", optarg, NULL) : g_strdup(optarg);
            break;
        case 'q':
            a.quiet = true;
            break;
        case 'u':
            a.no_backing_open = true;
            break;
        }
    }
    if (!bdrv_create_opts(a.fmt)) {
        return unknown_format(&a, opts, argc, argv);
    }
    if (create_wants_help(opts)) {
        img_create_help(a.fmt);
        return 0;
    }
    if (!create_positional(&a, argc, argv, &size) || !create_options(&a, opts, &size)) {
        g_strfreev(a.items);
        return 1;
    }
    if ((a.backing_file && !img_find_create_opt(a.fmt, "backing_file")) ||
        (a.backing_fmt && !img_find_create_opt(a.fmt, "backing_fmt"))) {
        error_report("%s: Backing file%s not supported for file format '%s'", a.filename,
                     a.backing_file ? "" : " format", a.fmt);
        g_strfreev(a.items);
        return 1;
    }
    ret = create_image(&a, size);
    g_strfreev(a.items);
    return ret;
}
