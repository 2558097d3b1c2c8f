/*
 * blockdev-add in QEMU 2.2's schema: {"options": BlockdevOptions}, a union on "driver" whose
 * members are checked as 2.2's strict visitor checks them (unknown member, missing driver,
 * unknown driver value), with "id" required at the top level and aio=native only with
 * cache.direct=true. The options are then flattened to dotted keys and go through the
 * same checks and open as -drive (drive_parse_common, blk_new_open): a new drive without a
 * device and without legacy drive information. 2.2 refuses encrypted images here (there is
 * no device to tell once a key is given). Not -drive's front end (drive-legacy.c).
 */
#include <string.h>
#include <glib.h>
#include "block/throttle-groups.h"
#include "blockdev/drive-int.h"
#include "blockdev/qmp-passwd.h"
#include "monitor/command.h"
#include "util/qdict.h"

/* 2.2's BlockdevDriver enum. */
static const char *const blockdev_drivers[] = {
    "archipelago", "blkdebug", "blkverify", "bochs",      "cloop",       "dmg",
    "file",        "ftp",      "ftps",      "host_cdrom", "host_device", "host_floppy",
    "http",        "https",    "null-aio",  "null-co",    "parallels",   "qcow",
    "qcow2",       "qed",      "quorum",    "raw",        "tftp",        "vdi",
    "vhdx",        "vmdk",     "vpc",       "vvfat",      NULL,
};

/* BlockdevOptionsBase. */
static const char *const blockdev_base_members[] = {
    "driver", "id",     "node-name", "discard",       "cache", "aio",
    "rerror", "werror", "read-only", "detect-zeroes", "force-share", NULL,
};

static const char *const blockdev_cache_members[] = {"writeback", "direct", "no-flush", NULL};

/* The driver's own members (2.2's BlockdevOptions* types). */
static const char *const *blockdev_driver_members(const char *driver)
{
    static const char *const file_like[] = {"filename", NULL};
    static const char *const file_posix[] = {"filename", "locking", NULL};
    static const char *const null_like[] = {"size", NULL};
    static const char *const generic_format[] = {"file", NULL};
    static const char *const cow_format[] = {"file", "backing", NULL};
    static const char *const qcow2[] = {
        "file",
        "backing",
        "lazy-refcounts",
        "pass-discard-request",
        "pass-discard-snapshot",
        "pass-discard-other",
        "overlap-check",
        "cache-size",
        "l2-cache-size",
        "refcount-cache-size",
        NULL,
    };
    static const char *const protocols[] = {
        "file", "host_cdrom", "host_device", "host_floppy", "http",        "https",
        "ftp",  "ftps",       "tftp",        "vvfat",       "archipelago", NULL,
    };
    static const char *const cow[] = {"qcow", "qed", "vmdk", NULL};

    if (!strcmp(driver, "file") || !strcmp(driver, "host_device")) {
        return file_posix; /* QEMU 2.10's locking */
    }
    if (g_strv_contains(protocols, driver)) {
        return file_like;
    }
    if (g_str_has_prefix(driver, "null-")) {
        return null_like;
    }
    if (!strcmp(driver, "qcow2")) {
        return qcow2;
    }
    return g_strv_contains(cow, driver) ? cow_format : generic_format;
}

static bool blockdev_check_members(JsonObject *obj, const char *const *a, const char *const *b,
                                   Error **errp)
{
    g_autoptr(GList) names = json_object_get_members(obj);

    for (GList *l = names; l; l = l->next) {
        if (!g_strv_contains(a, l->data) && !(b && g_strv_contains(b, l->data))) {
            error_setg(errp, "QMP input object member '%s' is unexpected", (const char *)l->data);
            return false;
        }
    }
    return true;
}

static bool blockdev_check_options(JsonObject *obj, Error **errp);

/* BlockdevRef: a node or drive name, or nested options. */
static bool blockdev_check_ref(JsonObject *obj, const char *member, Error **errp)
{
    JsonNode *node = json_object_get_member(obj, member);

    if (!node || (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)) {
        return true;
    }
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        error_setg(errp, "Invalid parameter type for '%s', expected: QDict", member);
        return false;
    }
    return blockdev_check_options(json_node_get_object(node), errp);
}

static bool blockdev_check_options(JsonObject *obj, Error **errp)
{
    const char *driver;
    JsonNode *cache = json_object_get_member(obj, "cache");

    if (!json_object_has_member(obj, "driver")) {
        error_setg(errp, "Parameter 'driver' is missing");
        return false;
    }
    driver = monitor_arg_str(obj, "driver");
    if (!driver) {
        error_setg(errp, "Invalid parameter type for 'driver', expected: string");
        return false;
    }
    if (!g_strv_contains(blockdev_drivers, driver)) {
        error_setg(errp, "Invalid parameter '%s'", driver);
        return false;
    }
    if (!blockdev_check_members(obj, blockdev_base_members, blockdev_driver_members(driver),
                                errp)) {
        return false;
    }
    if (cache && JSON_NODE_HOLDS_OBJECT(cache) &&
        !blockdev_check_members(json_node_get_object(cache), blockdev_cache_members, NULL, errp)) {
        return false;
    }
    return blockdev_check_ref(obj, "file", errp) && blockdev_check_ref(obj, "backing", errp);
}

/* 2.2 forbids the combination outright for blockdev-add. */
static bool blockdev_check_aio(JsonObject *obj, Error **errp)
{
    JsonNode *cache = json_object_get_member(obj, "cache");
    bool direct = false;

    if (g_strcmp0(monitor_arg_str(obj, "aio"), "native") != 0) {
        return true;
    }
    if (cache && JSON_NODE_HOLDS_OBJECT(cache)) {
        direct = monitor_arg_bool(json_node_get_object(cache), "direct", false);
    }
    if (!direct) {
        error_setg(errp, "aio=native requires cache.direct=true");
    }
    return direct;
}

static bool blockdev_format_exists(const char *format, void *opaque)
{
    return bdrv_find_format(format) != NULL;
}

static bool blockdev_slot_taken(BlockInterfaceType type, int bus, int unit, void *opaque)
{
    return false;
}

/* QEMU 2.2's blockdev_init() without the legacy part. */
static BlockBackend *blockdev_open(const char *id, JsonObject *flat, Error **errp)
{
    DriveEnv env = {IF_NONE, blockdev_slot_taken, blockdev_format_exists, NULL};
    DriveConfig cfg = {0};
    BlockBackend *blk = NULL;
    Error *err = NULL;

    throttle_config_init(&cfg.throttle);
    if (!drive_parse_common(flat, &env, &cfg, errp)) {
        goto out;
    }
    blk = blk_new_open(id, NULL, json_object_ref(flat), cfg.flags, &err);
    if (blk && !blockdev_check_encrypted_open(blk_bs(blk), &err)) {
        blk_unref(blk);
        blk = NULL;
    }
    if (!blk) {
        error_propagate_prepend(errp, err, "could not open disk image %s: ", id);
        goto out;
    }
    bdrv_set_detect_zeroes(blk_bs(blk), cfg.detect_zeroes);
    blk_set_on_error(blk, cfg.on_read_error, cfg.on_write_error);
    if (throttle_enabled(&cfg.throttle) &&
        !blk_set_io_limits(blk, &cfg.throttle, cfg.throttle_group, errp)) {
        blk_unref(blk);
        blk = NULL;
    }
out:
    cfg.driver_opts = NULL;
    drive_config_clear(&cfg);
    return blk;
}

/* A deep copy (json_node_copy shares objects), to flatten without touching args. */
static JsonObject *blockdev_copy(JsonObject *src)
{
    JsonObject *dst = json_object_new();
    g_autoptr(GList) names = json_object_get_members(src);

    for (GList *l = names; l; l = l->next) {
        JsonNode *v = json_object_get_member(src, l->data);

        if (JSON_NODE_HOLDS_OBJECT(v)) {
            json_object_set_object_member(dst, l->data, blockdev_copy(json_node_get_object(v)));
        } else {
            json_object_set_member(dst, l->data, json_node_copy(v));
        }
    }
    return dst;
}

static void qmp_blockdev_add(JsonObject *args, JsonNode **ret, Error **errp)
{
    JsonNode *node = json_object_get_member(args, "options");
    g_autoptr(JsonObject) flat = NULL;
    g_autofree char *id = NULL;
    BlockBackend *blk;

    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        error_setg(errp, "Invalid parameter type for 'options', expected: QDict");
        return;
    }
    if (!blockdev_check_options(json_node_get_object(node), errp)) {
        return;
    }
    id = g_strdup(monitor_arg_str(json_node_get_object(node), "id"));
    if (!id) {
        error_setg(errp, "Block device needs an ID");
        return;
    }
    if (!blockdev_check_aio(json_node_get_object(node), errp)) {
        return;
    }
    flat = blockdev_copy(json_node_get_object(node));
    dict_flatten(flat);
    dict_del(flat, "id");
    if (blk_by_name(id)) {
        error_setg(errp, "Device with id '%s' already exists", id);
        return;
    }
    if (bdrv_find_node(id)) {
        error_setg(errp, "Device name '%s' conflicts with an existing node name", id);
        return;
    }
    blk = blockdev_open(id, flat, errp);
    if (blk && bdrv_key_required(blk_bs(blk))) {
        blk_unref(blk);
        error_setg(errp, "blockdev-add doesn't support encrypted devices");
    }
}

static const MonitorCommand blockdev_add_cmds[] = {
    {.name = "blockdev-add", .args_type = "options:q", .fn = qmp_blockdev_add},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(blockdev_add_cmds);
