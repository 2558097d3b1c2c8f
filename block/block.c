/*
 * Graph nodes: opening a node from a filename and dotted options the way QEMU 2.2's
 * bdrv_open does (json: filenames, protocol or format + protocol child, probing, generic
 * per-node options, children, unknown-option errors), reference counting and closing, and
 * the node-name registry. Not the request path (io.c, aio.c), not the driver registry
 * (probe.c) and not backends (block-backend.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <glib.h>
#include "block/block-internal.h"
#include "util/qdict.h"
#include "util/cutils.h"

/* Generic options the core takes from a node's options before the driver sees them. */
typedef struct NodeOptions {
    char *node_name;
    int flags;
    BlockdevDetectZeroesOptions detect_zeroes;
} NodeOptions;

/* Deeper chains are refused: a safety net for loops the inode check cannot see. */
#define BDRV_MAX_BACKING_DEPTH 1000

static GList *all_nodes;   /* every open node */
static GList *named_nodes; /* nodes with a node-name, in naming order */

/* ---- node names ---- */


static bool bdrv_check_node_name(const char *name, Error **errp)
{
    if (!id_wellformed(name)) {
        error_setg(errp, "Invalid node name");
        return false;
    }
    if (strlen(name) >= BDRV_NODE_NAME_MAX) {
        error_setg(errp, "Node name too long");
        return false;
    }
    return true;
}

static bool bdrv_assign_node_name(BlockDriverState *bs, const char *name, Error **errp)
{
    if (blk_by_name(name)) {
        error_setg(errp, "node-name=%s is conflicting with a device id", name);
        return false;
    }
    if (bdrv_find_node(name)) {
        error_setg(errp, "Duplicate node name");
        return false;
    }
    g_strlcpy(bs->node_name, name, sizeof(bs->node_name));
    named_nodes = g_list_append(named_nodes, bs);
    return true;
}

BlockDriverState *bdrv_find_node(const char *node_name)
{
    for (GList *l = named_nodes; l; l = l->next) {
        BlockDriverState *bs = l->data;

        if (!strcmp(bs->node_name, node_name)) {
            return bs;
        }
    }
    return NULL;
}

BlockDriverState *bdrv_next_node(BlockDriverState *bs)
{
    GList *l = bs ? g_list_find(named_nodes, bs) : NULL;

    if (!bs) {
        return named_nodes ? named_nodes->data : NULL;
    }
    return l && l->next ? l->next->data : NULL;
}

BlockDriverState *bdrv_lookup_bs(const char *device, const char *node_name, Error **errp)
{
    BlockBackend *blk = device ? blk_by_name(device) : NULL;
    BlockDriverState *bs = node_name ? bdrv_find_node(node_name) : NULL;

    if (blk && blk_bs(blk)) {
        return blk_bs(blk);
    }
    if (bs) {
        return bs;
    }
    error_setg(errp, "Cannot find device=%s nor node_name=%s", device ? device : "",
               node_name ? node_name : "");
    return NULL;
}

GList *bdrv_all_nodes(void)
{
    return g_list_copy(all_nodes);
}

/* ---- generic per-node options ---- */

static bool take_bool_flag(JsonObject *opts, const char *key, int flag, int *flags, Error **errp)
{
    Error *err = NULL;
    bool on;

    if (!dict_has(opts, key)) {
        return true;
    }
    on = dict_get_bool(opts, key, false, &err);
    if (err) {
        error_propagate(errp, err);
        return false;
    }
    *flags = on ? (*flags | flag) : (*flags & ~flag);
    dict_del(opts, key);
    return true;
}

static bool take_aio(JsonObject *opts, int *flags, Error **errp)
{
    const char *aio = dict_get_str(opts, "aio");

    if (!aio) {
        return true;
    }
    *flags &= ~(BDRV_O_NATIVE_AIO | BDRV_O_IO_URING);
    if (!strcmp(aio, "native")) {
        if (!(*flags & BDRV_O_NOCACHE)) {
            error_setg(errp, "aio=native requires cache.direct=true");
            return false;
        }
        *flags |= BDRV_O_NATIVE_AIO;
    } else if (!strcmp(aio, "io_uring")) {
        *flags |= BDRV_O_IO_URING;
    } else if (strcmp(aio, "threads")) {
        error_setg(errp, "invalid aio option");
        return false;
    }
    dict_del(opts, "aio");
    return true;
}

static bool take_discard(JsonObject *opts, int *flags, Error **errp)
{
    const char *mode = dict_get_str(opts, "discard");

    if (!mode) {
        return true;
    }
    if (!strcmp(mode, "on") || !strcmp(mode, "unmap")) {
        *flags |= BDRV_O_UNMAP;
    } else if (!strcmp(mode, "off") || !strcmp(mode, "ignore")) {
        *flags &= ~BDRV_O_UNMAP;
    } else {
        error_setg(errp, "invalid discard option");
        return false;
    }
    dict_del(opts, "discard");
    return true;
}

static bool take_detect_zeroes(JsonObject *opts, NodeOptions *no, Error **errp)
{
    static const char *const names[] = {"off", "on", "unmap", NULL};
    int i = dict_get_enum(opts, "detect-zeroes", names, -2, errp);

    if (i == -2) {
        return true;
    }
    if (i < 0) {
        return false;
    }
    if (i == BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP && !(no->flags & BDRV_O_UNMAP)) {
        error_setg(errp, "setting detect-zeroes to unmap is not allowed without setting "
                         "discard operation to unmap");
        return false;
    }
    no->detect_zeroes = i;
    dict_del(opts, "detect-zeroes");
    return true;
}

/* "backing": "" means no backing file, for every node (as blockdev-add allows). */
static void take_no_backing(JsonObject *opts, NodeOptions *no)
{
    const char *ref = dict_get_str(opts, "backing");

    if (ref && !ref[0]) {
        no->flags |= BDRV_O_NO_BACKING;
        dict_del(opts, "backing");
    }
}

/* QEMU 2.10's force-share: for readers only. */
static bool take_force_share(JsonObject *opts, NodeOptions *no, Error **errp)
{
    if (!take_bool_flag(opts, "force-share", BDRV_O_FORCE_SHARE, &no->flags, errp)) {
        return false;
    }
    if ((no->flags & BDRV_O_FORCE_SHARE) && (no->flags & BDRV_O_RDWR)) {
        error_setg(errp, "force-share=on can only be used with read-only images");
        return false;
    }
    return true;
}

static bool take_node_options(JsonObject *opts, NodeOptions *no, Error **errp)
{
    const char *name = dict_get_str(opts, "node-name");

    if (name) {
        if (!bdrv_check_node_name(name, errp)) {
            return false;
        }
        no->node_name = g_strdup(name);
        dict_del(opts, "node-name");
    }
    take_no_backing(opts, no);
    return take_bool_flag(opts, "cache.direct", BDRV_O_NOCACHE, &no->flags, errp) &&
           take_bool_flag(opts, "cache.no-flush", BDRV_O_NO_FLUSH, &no->flags, errp) &&
           take_bool_flag(opts, "cache.writeback", BDRV_O_CACHE_WB, &no->flags, errp) &&
           take_aio(opts, &no->flags, errp) && take_discard(opts, &no->flags, errp) &&
           take_detect_zeroes(opts, no, errp) && take_force_share(opts, no, errp);
}

/* ---- children ---- */

/* Flags of a format's protocol child: writeback and unmap, as the format honours both. */
static int bdrv_inherited_flags(int flags)
{
    flags |= BDRV_O_PROTOCOL | BDRV_O_CACHE_WB | BDRV_O_UNMAP;
    return flags & ~(BDRV_O_SNAPSHOT | BDRV_O_NO_BACKING | BDRV_O_COPY_ON_READ);
}

static int bdrv_backing_flags(int flags)
{
    return flags & ~(BDRV_O_RDWR | BDRV_O_COPY_ON_READ | BDRV_O_SNAPSHOT | BDRV_O_TEMPORARY |
                     BDRV_O_PROTOCOL);
}

/* Open "key" (a reference) or "key.*" from opts, removing them; NULL if nothing given. */
static BlockDriverState *bdrv_open_image(JsonObject *opts, const char *key, const char *filename,
                                         int flags, bool allow_none, Error **errp)
{
    JsonObject *sub = dict_extract_prefix(opts, key);
    g_autofree char *ref = g_strdup(dict_get_str(opts, key));
    BlockDriverState *bs = NULL;

    dict_del(opts, key);
    if (!filename && !ref && json_object_get_size(sub) == 0) {
        if (!allow_none) {
            error_setg(errp, "A block device must be specified for \"%s\"", key);
        }
    } else if (ref && (filename || json_object_get_size(sub) > 0)) {
        error_setg(errp, "Cannot reference an existing block device with additional "
                         "options or a new filename");
    } else if (ref) {
        bs = bdrv_lookup_bs(ref, ref, errp);
        if (bs) {
            bdrv_ref(bs);
        }
    } else {
        return bdrv_open_device(NULL, filename, sub, flags, errp);
    }
    json_object_unref(sub);
    return bs;
}

BlockDriverState *bdrv_open_child(BlockDriverState *parent, JsonObject *options,
                                  const char *child_name, int flags, bool allow_none, Error **errp)
{
    bool is_file = !strcmp(child_name, "file");
    BlockDriverState **slot = is_file ? &parent->file : &parent->backing;

    g_assert(is_file || !strcmp(child_name, "backing"));
    if (!*slot) {
        flags = is_file ? bdrv_inherited_flags(flags) : bdrv_backing_flags(flags);
        *slot = bdrv_open_image(options, child_name, NULL, flags, allow_none, errp);
    }
    return *slot;
}

/* The recorded backing name relative to the image's directory, unless it is absolute or
 * names a protocol ("proto:..." before any '/'). As QEMU's path_combine: the image's name
 * up to its last '/' is put in front, nothing when it has none ("base", not "./base", is
 * what error messages show). */
static char *bdrv_full_backing_name(BlockDriverState *bs, const char *name)
{
    const char *colon = strchr(name, ':');
    const char *base = bs->file ? bs->file->filename : bs->filename;
    const char *slash = strrchr(base, '/');

    if (g_path_is_absolute(name) || (colon && !memchr(name, '/', colon - name)) || !slash) {
        return g_strdup(name);
    }
    return g_strdup_printf("%.*s%s", (int)(slash - base + 1), base, name);
}

/*
 * The images whose backing files this thread is opening, innermost first: a backing file
 * that is one of them (same inode, so links count too) would recurse forever.
 */
typedef struct BackingOpen {
    char *key;
    struct BackingOpen *up;
    int depth;
} BackingOpen;

static __thread BackingOpen *backing_opens;

static const char *strip_protocol(BlockDriver *drv, const char *filename);

/* What identifies the file a name opens: its inode when it is a local file. */
static char *bdrv_file_key(const char *name)
{
    BlockDriver *drv = bdrv_find_protocol(name, NULL);
    struct stat st;

    if (stat(drv ? strip_protocol(drv, name) : name, &st) == 0) {
        return g_strdup_printf("%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
    }
    return g_strdup(name);
}

static bool bdrv_backing_loops(const char *path, const char *name, int depth, Error **errp)
{
    g_autofree char *key = path ? bdrv_file_key(path) : NULL;

    if (depth > BDRV_MAX_BACKING_DEPTH) {
        error_setg(errp, "Backing chain is deeper than %d images", BDRV_MAX_BACKING_DEPTH);
        return true;
    }
    for (BackingOpen *o = backing_opens; key && o; o = o->up) {
        if (!strcmp(o->key, key)) {
            error_setg(errp, "Backing file '%s' creates an infinite loop", name);
            return true;
        }
    }
    return false;
}

static BlockDriverState *bdrv_open_backing_image(BlockDriverState *bs, JsonObject *options,
                                                 const char *path, const char *name, int flags,
                                                 Error **errp)
{
    BackingOpen self = {
        .key = bdrv_file_key(bs->file ? bs->file->filename : bs->filename),
        .up = backing_opens,
        .depth = backing_opens ? backing_opens->depth + 1 : 1,
    };
    BlockDriverState *backing = NULL;

    backing_opens = &self;
    if (!bdrv_backing_loops(path, name, self.depth, errp)) {
        backing = bdrv_open_image(options, "backing", path, bdrv_backing_flags(flags), true, errp);
    }
    backing_opens = self.up;
    g_free(self.key);
    return backing;
}

/* Whether `to` is `from` or below it, through file and backing children. */
static bool bdrv_reaches(BlockDriverState *from, BlockDriverState *to)
{
    return from &&
           (from == to || bdrv_reaches(from->file, to) || bdrv_reaches(from->backing, to));
}

/*
 * A "backing" reference is looked up after the node got its node-name, so it can name the
 * node itself (or, in principle, a node above it): a cycle, which every walk down the chain
 * would follow for ever. QEMU 7.2's text (2.2 had no backing references).
 */
static bool bdrv_backing_cycle(BlockDriverState *bs, BlockDriverState *backing, Error **errp)
{
    if (!bdrv_reaches(backing, bs)) {
        return false;
    }
    error_setg(errp, "Making '%s' a backing child of '%s' would create a cycle",
               backing->node_name, bs->node_name);
    return true;
}

int bdrv_open_backing(BlockDriverState *bs, JsonObject *options, const char *name,
                      const char *fmt, int flags, Error **errp)
{
    BlockDriverState *backing;
    bool is_ref = dict_has(options, "backing");
    bool named = dict_has(options, "backing.file.filename") ||
                 dict_has(options, "backing.filename");
    g_autofree char *path = NULL;
    Error *err = NULL;

    if (bs->backing || (flags & BDRV_O_NO_BACKING)) {
        return 0;
    }
    if (!is_ref && !named && name && name[0]) {
        path = bdrv_full_backing_name(bs, name);
    }
    if (!is_ref && fmt && fmt[0] && !dict_has(options, "backing.driver")) {
        json_object_set_string_member(options, "backing.driver", fmt);
    }
    backing = bdrv_open_backing_image(bs, options, path, name, flags, &err);
    if (err) {
        error_propagate_prepend(errp, err, "Could not open backing file: ");
        return -EINVAL;
    }
    if (backing && bdrv_backing_cycle(bs, backing, errp)) {
        bdrv_unref(backing);
        return -EINVAL;
    }
    bs->backing = backing;
    return 0;
}

/* ---- creating and deleting nodes ---- */

static BlockDriverState *bdrv_new(void)
{
    BlockDriverState *bs = g_new0(BlockDriverState, 1);

    bs->refcnt = 1;
    bs->request_alignment = 1;
    bs->write_gen = 1; /* the first flush syncs what an earlier user may have left unsynced */
    g_mutex_init(&bs->lock);
    g_cond_init(&bs->drained_cond);
    g_queue_init(&bs->gate.held);
    all_nodes = g_list_append(all_nodes, bs);
    return bs;
}

/* Free a node; closes the driver first when `opened`. */
static void bdrv_delete(BlockDriverState *bs, bool opened)
{
    if (opened) {
        bdrv_drained_begin(bs);
        bdrv_flush(bs);
        if (bs->drv->close) {
            bs->drv->close(bs);
        }
        bdrv_drained_end(bs);
    }
    g_assert(g_queue_is_empty(&bs->gate.held) && !bs->gate.passing);
    bdrv_unref(bs->backing);
    bdrv_unref(bs->file);
    all_nodes = g_list_remove(all_nodes, bs);
    named_nodes = g_list_remove(named_nodes, bs);
    for (int op = 0; op < BLOCK_OP_TYPE_MAX; op++) {
        g_slist_free(bs->op_blockers[op]);
    }
    if (bs->options) {
        json_object_unref(bs->options);
    }
    g_free(bs->opaque);
    g_free(bs->filename);
    g_free(bs->backing_file);
    g_free(bs->backing_format);
    g_mutex_clear(&bs->lock);
    g_cond_clear(&bs->drained_cond);
    g_free(bs);
}

void bdrv_ref(BlockDriverState *bs)
{
    bs->refcnt++;
}

void bdrv_unref(BlockDriverState *bs)
{
    if (!bs) {
        return;
    }
    g_assert(bs->refcnt > 0);
    if (--bs->refcnt == 0) {
        bdrv_delete(bs, true);
    }
}

/* ---- opening ---- */

/* QEMU 2.2 opens "backing.*" for every node: a driver without backing files refuses them. */
static bool bdrv_has_backing_options(BlockDriverState *bs, GStrv keys)
{
    for (int i = 0; keys[i] && !bs->drv->supports_backing; i++) {
        if (!strcmp(keys[i], "backing") || g_str_has_prefix(keys[i], "backing.")) {
            return true;
        }
    }
    return false;
}

/* Options left after the driver's open: the first one (in name order) is an error. */
static bool bdrv_check_leftovers(BlockDriverState *bs, JsonObject *opts, const char *device,
                                 Error **errp)
{
    const char *const *known = bs->drv->option_names;
    g_auto(GStrv) keys = NULL;

    for (int i = 0; known && known[i]; i++) {
        dict_del(opts, known[i]);
    }
    keys = dict_keys_sorted(opts);
    if (!keys[0]) {
        return true;
    }
    if (bdrv_has_backing_options(bs, keys)) {
        error_setg(errp, "Driver doesn't support backing files");
        return false;
    }
    if (bs->open_flags & BDRV_O_PROTOCOL) {
        error_setg(errp, "Block protocol '%s' doesn't support the option '%s'",
                   bs->drv->format_name, keys[0]);
    } else {
        error_setg(errp,
                   "Block format '%s' used by device '%s' doesn't support the option "
                   "'%s'",
                   bs->drv->format_name, device ? device : "", keys[0]);
    }
    return false;
}

static int bdrv_call_open(BlockDriverState *bs, JsonObject *opts, Error **errp)
{
    Error *err = NULL;
    int ret = bs->drv->open ? bs->drv->open(bs, opts, bs->open_flags, &err) : 0;

    if (ret >= 0) {
        g_assert(!err);
        return 0;
    }
    if (err) {
        error_propagate(errp, err);
    } else if (bs->filename[0]) {
        error_setg_errno(errp, -ret, "Could not open '%s'", bs->filename);
    } else {
        error_setg_errno(errp, -ret, "Could not open image");
    }
    return ret;
}

static bool bdrv_finish_open(BlockDriverState *bs, Error **errp)
{
    if (bs->drv->refresh_limits) {
        bs->drv->refresh_limits(bs);
    }
    g_assert(bs->request_alignment >= 1);
    bs->total_bytes = 0;
    bdrv_refresh_total_bytes(bs);
    if (bs->total_bytes < 0) {
        error_setg_errno(errp, -bs->total_bytes, "Could not refresh total sector count");
        return false;
    }
    return true;
}

/*
 * Create the node for drv over child `file` (formats) or `filename` (protocols). opts are
 * the driver's options (generic ones taken out); `saved` becomes bs->options. Consumes the
 * reference to file.
 */
static BlockDriverState *bdrv_open_node(const char *device, BlockDriver *drv,
                                        BlockDriverState *file, const char *filename,
                                        JsonObject *opts, NodeOptions *no, bool probed,
                                        JsonObject *saved, Error **errp)
{
    BlockDriverState *bs = bdrv_new();

    bs->file = file;
    bs->options = json_object_ref(saved);
    if (!bdrv_is_whitelisted(drv, !(no->flags & BDRV_O_RDWR))) {
        error_setg(errp, "Driver '%s' is not whitelisted", drv->format_name);
        goto fail;
    }
    if (no->node_name && !bdrv_assign_node_name(bs, no->node_name, errp)) {
        goto fail;
    }
    bs->opaque = g_malloc0(MAX(drv->instance_size, 1));
    bs->open_flags = no->flags;
    bs->read_only = !(no->flags & BDRV_O_RDWR);
    bs->enable_write_cache = !!(no->flags & BDRV_O_CACHE_WB);
    bs->detect_zeroes = no->detect_zeroes;
    bs->probed = probed;
    bs->filename = g_strdup(file ? file->filename : filename ? filename : "");
    bs->drv = drv;
    if (bdrv_call_open(bs, opts, errp) < 0) {
        bs->drv = NULL;
        goto fail;
    }
    if (!bdrv_check_leftovers(bs, opts, device, errp) || !bdrv_finish_open(bs, errp)) {
        bdrv_unref(bs);
        return NULL;
    }
    return bs;

fail:
    bdrv_delete(bs, false);
    return NULL;
}

/* "proto:rest" opened by the driver of "proto" names "rest". */
static const char *strip_protocol(BlockDriver *drv, const char *filename)
{
    size_t len = drv->protocol_name ? strlen(drv->protocol_name) : 0;

    if (len && !strncmp(filename, drv->protocol_name, len) && filename[len] == ':') {
        return filename + len + 1;
    }
    return filename;
}

static BlockDriverState *bdrv_open_protocol(const char *device, BlockDriver *drv,
                                            const char *filename, JsonObject *opts, NodeOptions *no,
                                            JsonObject *saved, Error **errp)
{
    g_autofree char *name = g_strdup(dict_get_str(opts, "filename"));

    if (filename && name) {
        error_setg(errp, "Can't specify 'file' and 'filename' options at the same time");
        return NULL;
    }
    if (filename) {
        name = g_strdup(filename);
        json_object_set_string_member(saved, "filename", filename);
    }
    dict_del(opts, "filename");
    if (!drv && !name) {
        error_setg(errp, "Must specify either driver or file");
        return NULL;
    }
    if (!drv) {
        drv = bdrv_find_protocol(name, errp);
        if (!drv) {
            return NULL;
        }
    }
    return bdrv_open_node(device, drv, NULL, name ? strip_protocol(drv, name) : NULL, opts, no,
                          false, saved, errp);
}

static BlockDriverState *bdrv_open_format(const char *device, BlockDriver *drv,
                                          const char *filename, JsonObject *opts, NodeOptions *no,
                                          JsonObject *saved, Error **errp)
{
    Error *err = NULL;
    BlockDriverState *file;
    bool probed = !drv;

    no->flags &= ~BDRV_O_PROTOCOL;
    file = bdrv_open_image(opts, "file", filename, bdrv_inherited_flags(no->flags), true, &err);
    if (err) {
        error_propagate(errp, err);
        return NULL;
    }
    if (!file) {
        if (drv) {
            error_setg(errp, "Can't use '%s' as a block driver for the protocol level",
                       drv->format_name);
        } else {
            error_setg(errp, "Must specify either driver or file");
        }
        return NULL;
    }
    if (!drv) {
        drv = bdrv_probe_image(file, errp);
        if (!drv) {
            bdrv_unref(file);
            return NULL;
        }
    }
    return bdrv_open_node(device, drv, file, NULL, opts, no, probed, saved, errp);
}

static void copy_member(JsonObject *src, const char *name, JsonNode *node, gpointer dst)
{
    json_object_set_member(dst, name, json_node_copy(node));
}

static BlockDriverState *bdrv_open_opts(const char *device, const char *filename, JsonObject *opts,
                                        int flags, Error **errp)
{
    g_autofree char *drvname = g_strdup(dict_get_str(opts, "driver"));
    NodeOptions no = {.flags = flags};
    BlockDriver *drv = NULL;
    BlockDriverState *bs = NULL;
    JsonObject *saved;

    if (drvname) {
        drv = bdrv_find_format(drvname);
        if (!drv) {
            error_setg(errp, "Unknown driver '%s'", drvname);
            return NULL;
        }
        dict_del(opts, "driver");
    }
    saved = json_object_new();
    if (drvname) {
        json_object_set_string_member(saved, "driver", drvname);
    }
    json_object_foreach_member(opts, copy_member, saved);
    if (take_node_options(opts, &no, errp)) {
        if (drv ? drv->is_protocol : (flags & BDRV_O_PROTOCOL)) {
            bs = bdrv_open_protocol(device, drv, filename, opts, &no, saved, errp);
        } else {
            bs = bdrv_open_format(device, drv, filename, opts, &no, saved, errp);
        }
    }
    json_object_unref(saved);
    g_free(no.node_name);
    return bs;
}

/* Merge the options of a "json:{...}" filename into opts (explicit options win). */
static bool bdrv_merge_json_filename(JsonObject *opts, const char *filename, Error **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *json;
    GList *names;

    if (!json_parser_load_from_data(parser, filename + strlen("json:"), -1, NULL)) {
        error_setg(errp, "Could not parse the JSON options");
        return false;
    }
    if (!JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        error_setg(errp, "Invalid JSON object given");
        return false;
    }
    json = json_node_get_object(json_parser_get_root(parser));
    dict_flatten(json);
    names = json_object_get_members(json);
    for (GList *l = names; l; l = l->next) {
        if (!json_object_has_member(opts, l->data)) {
            json_object_set_member(opts, l->data, json_object_dup_member(json, l->data));
        }
    }
    g_list_free(names);
    return true;
}

BlockDriverState *bdrv_open_device(const char *device, const char *filename, JsonObject *options,
                                   int flags, Error **errp)
{
    JsonObject *opts = options ? options : json_object_new();
    BlockDriverState *bs = NULL;

    dict_flatten(opts);
    if (filename && g_str_has_prefix(filename, "json:")) {
        if (!bdrv_merge_json_filename(opts, filename, errp)) {
            goto out;
        }
        filename = NULL;
    }
    if ((flags & BDRV_O_SNAPSHOT) && !(flags & BDRV_O_PROTOCOL)) {
        bs = bdrv_open_opts(device, filename, opts, bdrv_backing_flags(flags), errp);
        bs = bs ? bdrv_append_temp_snapshot(bs, flags, errp) : NULL;
    } else {
        bs = bdrv_open_opts(device, filename, opts, flags, errp);
    }
out:
    json_object_unref(opts);
    return bs;
}

BlockDriverState *bdrv_open(const char *filename, JsonObject *options, int flags, Error **errp)
{
    return bdrv_open_device(NULL, filename, options, flags, errp);
}

/* ---- simple queries ---- */

const char *bdrv_get_node_name(const BlockDriverState *bs)
{
    return bs->node_name;
}

const char *bdrv_get_filename(const BlockDriverState *bs)
{
    return bs->filename;
}

const char *bdrv_get_device_name(const BlockDriverState *bs)
{
    return bs->blk ? blk_name(bs->blk) : "";
}

const char *bdrv_get_format_name(const BlockDriverState *bs)
{
    return bs->drv ? bs->drv->format_name : NULL;
}

BlockDriverState *bdrv_file_child(const BlockDriverState *bs)
{
    return bs->file;
}

BlockDriverState *bdrv_backing_child(const BlockDriverState *bs)
{
    return bs->backing;
}

int bdrv_backing_depth(const BlockDriverState *bs)
{
    int depth = 0;

    for (bs = bs->backing; bs; bs = bs->backing) {
        depth++;
    }
    return depth;
}

bool bdrv_is_read_only(const BlockDriverState *bs)
{
    return bs->read_only;
}

int bdrv_get_flags(const BlockDriverState *bs)
{
    return bs->open_flags;
}

bool bdrv_was_probed(const BlockDriverState *bs)
{
    return bs->probed;
}

BlockdevDetectZeroesOptions bdrv_get_detect_zeroes(const BlockDriverState *bs)
{
    return bs->detect_zeroes;
}

void bdrv_set_detect_zeroes(BlockDriverState *bs, BlockdevDetectZeroesOptions dz)
{
    bs->detect_zeroes = dz;
}
