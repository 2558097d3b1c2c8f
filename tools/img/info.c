/*
 * minivmm-img info: qemu-img's "info [-f fmt] [--output=human|json] [--backing-chain] [-U]
 * filename", with its human and JSON layouts (key order, 4-space indentation, sizes as
 * "1 GiB"). Each image is opened alone (backing files are not opened); the chain is
 * followed through the backing file names stored in the images (a name seen twice is a
 * loop, refused as qemu-img does). Cluster size, dirty flag, snapshots and format-specific
 * information come from the format driver. Not reported: bitmaps, child nodes.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "block/image-ops.h"
#include "util/error.h"
#include "monitor/json-writer.h"
#include "tools/img/img.h"

/* qemu's size_to_str: three significant digits and a binary suffix. */
char *img_size_to_str(uint64_t val)
{
    static const char *const suffixes[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int i;

    frexp(val / (1000.0 / 1024.0), &i);
    i = (i - 1) / 10;
    return g_strdup_printf("%0.3g %s", (double)val / (1ULL << (i * 10)), suffixes[i]);
}

/* "dir/img" + "base" -> "dir/base"; absolute or dir-less names unchanged. */
static char *path_combine(const char *image, const char *backing)
{
    const char *slash = strrchr(image, '/');

    if (backing[0] == '/' || !slash) {
        return g_strdup(backing);
    }
    return g_strdup_printf("%.*s%s", (int)(slash - image + 1), image, backing);
}

static void json_print(GString *out, JsonNode *node, int indent);

static void json_print_object(GString *out, JsonObject *obj, int indent)
{
    GList *members = json_object_get_members(obj);

    g_string_append(out, "{\n");
    for (GList *l = members; l; l = l->next) {
        g_string_append_printf(out, "%*s\"%s\": ", indent + 4, "", (const char *)l->data);
        json_print(out, json_object_get_member(obj, l->data), indent + 4);
        g_string_append(out, l->next ? ",\n" : "\n");
    }
    g_string_append_printf(out, "%*s}", indent, "");
    g_list_free(members);
}

static void json_print(GString *out, JsonNode *node, int indent)
{
    if (JSON_NODE_HOLDS_OBJECT(node)) {
        json_print_object(out, json_node_get_object(node), indent);
    } else if (JSON_NODE_HOLDS_ARRAY(node)) {
        JsonArray *a = json_node_get_array(node);
        g_string_append(out, "[\n");
        for (guint i = 0; i < json_array_get_length(a); i++) {
            g_string_append_printf(out, "%*s", indent + 4, "");
            json_print(out, json_array_get_element(a, i), indent + 4);
            g_string_append(out, i + 1 < json_array_get_length(a) ? ",\n" : "\n");
        }
        g_string_append_printf(out, "%*s]", indent, "");
    } else if (json_node_get_value_type(node) == G_TYPE_STRING) {
        json_write(out, node, false); /* QEMU's escaping: \uXXXX beyond ASCII */
    } else if (json_node_get_value_type(node) == G_TYPE_BOOLEAN) {
        g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
    } else {
        g_string_append_printf(out, "%" PRId64, json_node_get_int(node));
    }
}

/* The ImageInfo of one image, in qemu-img's member order. */
static void add_snapshots(JsonObject *o, BlockDriverState *bs)
{
    BlockSnapshotInfo *list;
    int n = bdrv_snapshot_list(bs, &list);
    JsonArray *a;

    if (n <= 0) {
        bdrv_snapshot_list_free(list, MAX(n, 0));
        return;
    }
    a = json_array_new();
    for (int i = 0; i < n; i++) {
        json_array_add_object_element(a, img_snapshot_json(&list[i]));
    }
    json_object_set_array_member(o, "snapshots", a);
    bdrv_snapshot_list_free(list, n);
}

/* The ImageInfo of one image, in qemu-img's member order. */
static JsonObject *image_info(const char *filename, BlockDriverState *bs)
{
    JsonObject *o = json_object_new();
    JsonObject *specific = bdrv_get_specific_info(bs);
    int64_t actual = bdrv_get_allocated_file_size(bs);
    const char *backing = bdrv_get_backing_filename(bs), *bfmt = bdrv_get_backing_format(bs);
    BlockDriverInfo bdi;

    if (bdrv_get_info(bs, &bdi) < 0) {
        bdi.cluster_size = 0;
    }
    if (backing && bfmt) {
        json_object_set_string_member(o, "backing-filename-format", bfmt);
    }
    add_snapshots(o, bs);
    json_object_set_int_member(o, "virtual-size", bdrv_getlength(bs));
    json_object_set_string_member(o, "filename", filename);
    if (bdi.cluster_size) {
        json_object_set_int_member(o, "cluster-size", bdi.cluster_size);
    }
    json_object_set_string_member(o, "format", bdrv_get_format_name(bs));
    if (actual >= 0) {
        json_object_set_int_member(o, "actual-size", actual);
    }
    if (specific) {
        JsonObject *fs = json_object_new();
        json_object_set_string_member(fs, "type", bdrv_get_format_name(bs));
        json_object_set_object_member(fs, "data", specific);
        json_object_set_object_member(o, "format-specific", fs);
    }
    if (backing) {
        g_autofree char *full = path_combine(filename, backing);
        json_object_set_string_member(o, "full-backing-filename", full);
        json_object_set_string_member(o, "backing-filename", backing);
    }
    if (bdrv_is_encrypted(bs)) { /* opened without its backing file: this image's own */
        json_object_set_boolean_member(o, "encrypted", true);
    }
    json_object_set_boolean_member(o, "dirty-flag", bdrv_is_dirty(bs));
    return o;
}

/* The members of data, indented by depth levels of 4 spaces; objects one level deeper. */
static void print_specific_members(JsonObject *data, int depth)
{
    GList *members = json_object_get_members(data);

    for (GList *l = members; l; l = l->next) {
        JsonNode *n = json_object_get_member(data, l->data);
        g_autofree char *key = g_strdelimit(g_strdup(l->data), "-", ' ');
        printf("%*s%s:", depth * 4, "", key);
        if (JSON_NODE_HOLDS_OBJECT(n)) {
            printf("\n");
            print_specific_members(json_node_get_object(n), depth + 1);
        } else if (json_node_get_value_type(n) == G_TYPE_STRING) {
            printf(" %s\n", json_node_get_string(n));
        } else if (json_node_get_value_type(n) == G_TYPE_BOOLEAN) {
            printf(" %s\n", json_node_get_boolean(n) ? "true" : "false");
        } else {
            printf(" %" PRId64 "\n", json_node_get_int(n));
        }
    }
    g_list_free(members);
}

static void print_specific_human(JsonObject *data)
{
    printf("Format specific information:\n");
    print_specific_members(data, 1);
}

static void print_human(JsonObject *o)
{
    g_autofree char *vsize = img_size_to_str(json_object_get_int_member(o, "virtual-size"));

    printf("image: %s\nfile format: %s\n", json_object_get_string_member(o, "filename"),
           json_object_get_string_member(o, "format"));
    printf("virtual size: %s (%" PRId64 " bytes)\n", vsize,
           json_object_get_int_member(o, "virtual-size"));
    if (json_object_has_member(o, "actual-size")) {
        g_autofree char *dsize = img_size_to_str(json_object_get_int_member(o, "actual-size"));
        printf("disk size: %s\n", dsize);
    } else {
        printf("disk size: unavailable\n");
    }
    if (json_object_has_member(o, "encrypted")) {
        printf("encrypted: yes\n");
    }
    if (json_object_has_member(o, "cluster-size")) {
        printf("cluster_size: %" PRId64 "\n", json_object_get_int_member(o, "cluster-size"));
    }
    if (json_object_get_boolean_member(o, "dirty-flag")) {
        printf("cleanly shut down: no\n");
    }
    if (json_object_has_member(o, "backing-filename")) {
        const char *b = json_object_get_string_member(o, "backing-filename");
        const char *full = json_object_get_string_member(o, "full-backing-filename");
        printf("backing file: %s", b);
        if (strcmp(b, full) != 0) {
            printf(" (actual path: %s)", full);
        }
        printf("\n");
    }
    if (json_object_has_member(o, "backing-filename-format")) {
        printf("backing file format: %s\n",
               json_object_get_string_member(o, "backing-filename-format"));
    }
    if (json_object_has_member(o, "snapshots")) {
        JsonArray *a = json_object_get_array_member(o, "snapshots");
        printf("Snapshot list:\n");
        img_snapshot_dump(NULL);
        for (guint i = 0; i < json_array_get_length(a); i++) {
            img_snapshot_dump(json_array_get_object_element(a, i));
        }
    }
    if (json_object_has_member(o, "format-specific")) {
        JsonObject *fs = json_object_get_object_member(o, "format-specific");
        print_specific_human(json_object_get_object_member(fs, "data"));
    }
}

/* Info of filename and, with chain, of its backing files; NULL after an error. */
static JsonArray *collect(const char *filename, const char *fmt, bool chain, int flags)
{
    JsonArray *list = json_array_new();
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autofree char *name = g_strdup(filename), *format = g_strdup(fmt);

    while (name) {
        BlockBackend *blk;
        BlockDriverState *bs;
        char *next = NULL;
        if (g_hash_table_contains(seen, name)) {
            error_report("Backing file '%s' creates an infinite loop.", name);
            json_array_unref(list);
            return NULL;
        }
        g_hash_table_add(seen, g_strdup(name));
        blk = img_open(name, format, flags | BDRV_O_NO_BACKING | BDRV_O_NO_IO, false, false);
        if (!blk) {
            json_array_unref(list);
            return NULL;
        }
        bs = blk_bs(blk);
        json_array_add_object_element(list, image_info(name, bs));
        if (chain && bdrv_get_backing_filename(bs)) {
            next = path_combine(name, bdrv_get_backing_filename(bs));
            g_free(format);
            format = g_strdup(bdrv_get_backing_format(bs));
        }
        blk_unref(blk);
        g_free(name);
        name = next;
    }
    return list;
}

int img_info(int argc, char **argv)
{
    static const struct option lopt[] = {
        {"help", no_argument, NULL, 'h'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'O'},
        {"backing-chain", no_argument, NULL, 'B'},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL, *output = "human";
    bool json;
    bool chain = false;
    int flags = 0;
    JsonArray *list;
    int c;

    while ((c = img_getopt(argc, argv, ":f:hU", lopt)) != -1) {
        switch (c) {
        case 'h':
            img_help();
        case 'f':
            fmt = optarg;
            break;
        case 'O':
            output = optarg;
            break;
        case 'B':
            chain = true;
            break;
        case 'U':
            flags |= BDRV_O_FORCE_SHARE;
            break;
        }
    }
    if (!img_parse_output(output, &json)) {
        return 1;
    }
    if (optind != argc - 1) {
        img_error_exit("Expecting one image file name");
    }
    list = collect(argv[optind], fmt, chain, flags);
    if (!list) {
        return 1;
    }
    if (json) {
        JsonNode *node = chain ? json_node_init_array(json_node_alloc(), list)
                               : json_array_dup_element(list, 0);
        g_autoptr(GString) out = g_string_new(NULL);
        json_print(out, node, 0);
        printf("%s\n", out->str);
        json_node_unref(node);
    } else {
        for (guint i = 0; i < json_array_get_length(list); i++) {
            printf("%s", i ? "\n" : "");
            print_human(json_array_get_object_element(list, i));
        }
    }
    json_array_unref(list);
    return 0;
}
