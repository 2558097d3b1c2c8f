/*
 * The block options -drive shares with blockdev-add, checked as QEMU 2.2's blockdev_init()
 * does (order and messages): snapshot, read-only, copy-on-read, discard, cache.*, aio,
 * format (and format=help), throttling.* (with later QEMU's burst lengths and group),
 * werror/rerror, detect-zeroes. The result is the
 * open flags and policies of a DriveConfig; whatever is left is for the block driver.
 * Not the legacy front end (drive-legacy.c) and no opening.
 */
#include <string.h>
#include <glib.h>
#include "config-host.h"
#include "blockdev/drive-int.h"
#include "util/qdict.h"

#define BDRV_O_CACHE_MASK (BDRV_O_NOCACHE | BDRV_O_CACHE_WB | BDRV_O_NO_FLUSH)

static bool drive_parse_discard(JsonObject *common, DriveConfig *cfg, Error **errp)
{
    const char *mode = drive_opt_str(common, "discard");

    if (!mode || !strcmp(mode, "off") || !strcmp(mode, "ignore")) {
        return true;
    }
    if (!strcmp(mode, "on") || !strcmp(mode, "unmap")) {
        cfg->flags |= BDRV_O_UNMAP;
        return true;
    }
    error_setg(errp, "invalid discard option");
    return false;
}

static void drive_parse_cache(JsonObject *common, DriveConfig *cfg)
{
    if (drive_opt_bool(common, "cache.writeback", true)) {
        cfg->flags |= BDRV_O_CACHE_WB;
    }
    if (drive_opt_bool(common, "cache.direct", false)) {
        cfg->flags |= BDRV_O_NOCACHE;
    }
    if (drive_opt_bool(common, "cache.no-flush", false)) {
        cfg->flags |= BDRV_O_NO_FLUSH;
    }
}

/* threads (the default) or native; io_uring is minivmm's addition. */
static bool drive_parse_aio(JsonObject *common, DriveConfig *cfg, Error **errp)
{
    const char *aio = drive_opt_str(common, "aio");

    if (!aio || !strcmp(aio, "threads")) {
        return true;
    }
    if (!strcmp(aio, "native")) {
        cfg->flags |= BDRV_O_NATIVE_AIO;
        return true;
    }
#ifdef CONFIG_LINUX_IO_URING
    if (!strcmp(aio, "io_uring")) {
        cfg->flags |= BDRV_O_IO_URING;
        return true;
    }
#endif
    error_setg(errp, "invalid aio option");
    return false;
}

static bool drive_parse_format(JsonObject *common, const DriveEnv *env, DriveConfig *cfg,
                               Error **errp)
{
    const char *format = drive_opt_str(common, "format");

    if (!format) {
        return true;
    }
    if (!strcmp(format, "help") || !strcmp(format, "?")) {
        cfg->format_help = true;
        return true;
    }
    if (!env->format_exists(format, env->opaque)) {
        error_setg(errp, "'%s' invalid format", format);
        return false;
    }
    cfg->format = g_strdup(format);
    return true;
}

static const char *const drive_throttle_keys[THROTTLE_BUCKET_MAX] = {
    [THROTTLE_BPS_TOTAL] = "throttling.bps-total", [THROTTLE_BPS_READ] = "throttling.bps-read",
    [THROTTLE_BPS_WRITE] = "throttling.bps-write", [THROTTLE_OPS_TOTAL] = "throttling.iops-total",
    [THROTTLE_OPS_READ] = "throttling.iops-read",  [THROTTLE_OPS_WRITE] = "throttling.iops-write",
};

static bool drive_parse_throttle(JsonObject *common, DriveConfig *cfg, Error **errp)
{
    ThrottleConfig *t = &cfg->throttle;

    const char *group = drive_opt_str(common, "throttling.group");

    for (int i = 0; i < THROTTLE_BUCKET_MAX; i++) {
        g_autofree char *max_key = g_strdup_printf("%s-max", drive_throttle_keys[i]);
        g_autofree char *length_key = g_strdup_printf("%s-max-length", drive_throttle_keys[i]);

        t->buckets[i].avg = drive_opt_number(common, drive_throttle_keys[i], 0);
        t->buckets[i].max = drive_opt_number(common, max_key, 0);
        t->buckets[i].burst_length = drive_opt_number(common, length_key, 1);
    }
    t->op_size = drive_opt_number(common, "throttling.iops-size", 0);
    cfg->throttle_group = g_strdup(group);
    return !throttle_conflicting(t, errp) && throttle_is_valid(t, errp);
}

static bool drive_parse_error_action(JsonObject *common, bool is_read, BlockdevOnError *out,
                                     Error **errp)
{
    const char *action = drive_opt_str(common, is_read ? "rerror" : "werror");

    if (!action) {
        return true;
    }
    if (!strcmp(action, "ignore")) {
        *out = BLOCKDEV_ON_ERROR_IGNORE;
    } else if (!is_read && !strcmp(action, "enospc")) {
        *out = BLOCKDEV_ON_ERROR_ENOSPC;
    } else if (!strcmp(action, "stop")) {
        *out = BLOCKDEV_ON_ERROR_STOP;
    } else if (!strcmp(action, "report")) {
        *out = BLOCKDEV_ON_ERROR_REPORT;
    } else {
        error_setg(errp, "'%s' invalid %s error action", action, is_read ? "read" : "write");
        return false;
    }
    return true;
}

static bool drive_parse_detect_zeroes(JsonObject *common, DriveConfig *cfg, Error **errp)
{
    static const char *const names[] = {
        [BLOCKDEV_DETECT_ZEROES_OPTIONS_OFF] = "off",
        [BLOCKDEV_DETECT_ZEROES_OPTIONS_ON] = "on",
        [BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP] = "unmap",
    };
    const char *value = drive_opt_str(common, "detect-zeroes");
    size_t i;

    for (i = 0; value && i < G_N_ELEMENTS(names) && strcmp(value, names[i]) != 0; i++) {
    }
    if (value && i == G_N_ELEMENTS(names)) {
        error_setg(errp, "invalid parameter value: %s", value);
        return false;
    }
    cfg->detect_zeroes = value ? i : BLOCKDEV_DETECT_ZEROES_OPTIONS_OFF;
    if (cfg->detect_zeroes == BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP &&
        !(cfg->flags & BDRV_O_UNMAP)) {
        error_setg(errp, "setting detect-zeroes to unmap is not allowed without setting "
                         "discard operation to unmap");
        return false;
    }
    return true;
}

/* The open flags as 2.2 finishes them: snapshot means cache=unsafe. */
static void drive_finish_flags(DriveConfig *cfg)
{
    if (cfg->snapshot) {
        cfg->flags &= ~BDRV_O_CACHE_MASK;
        cfg->flags |= BDRV_O_SNAPSHOT | BDRV_O_CACHE_WB | BDRV_O_NO_FLUSH;
    }
    if (cfg->copy_on_read) {
        cfg->flags |= BDRV_O_COPY_ON_READ;
    }
    if (!cfg->read_only) {
        cfg->flags |= BDRV_O_RDWR;
    }
}

static bool drive_parse_policies(JsonObject *common, DriveConfig *cfg, Error **errp)
{
    cfg->on_write_error = BLOCKDEV_ON_ERROR_ENOSPC;
    cfg->on_read_error = BLOCKDEV_ON_ERROR_REPORT;
    return drive_parse_throttle(common, cfg, errp) &&
           drive_parse_error_action(common, false, &cfg->on_write_error, errp) &&
           drive_parse_error_action(common, true, &cfg->on_read_error, errp) &&
           drive_parse_detect_zeroes(common, cfg, errp);
}

bool drive_parse_common(JsonObject *dict, const DriveEnv *env, DriveConfig *cfg, Error **errp)
{
    g_autoptr(JsonObject) common = drive_absorb(dict, drive_common_desc, errp);
    bool has_driver_opts;

    if (!common) {
        return false;
    }
    dict_del(dict, "id");
    has_driver_opts = json_object_get_size(dict) > 0;
    cfg->snapshot = drive_opt_bool(common, "snapshot", false);
    cfg->read_only = drive_opt_bool(common, "read-only", false);
    cfg->copy_on_read = drive_opt_bool(common, "copy-on-read", false);
    drive_parse_cache(common, cfg);
    if (!drive_parse_discard(common, cfg, errp) || !drive_parse_aio(common, cfg, errp) ||
        !drive_parse_format(common, env, cfg, errp)) {
        return false;
    }
    if (cfg->format_help) {
        return true;
    }
    if (!drive_parse_policies(common, cfg, errp)) {
        return false;
    }
    cfg->empty = (!cfg->file || !*cfg->file) && !has_driver_opts;
    drive_finish_flags(cfg);
    return true;
}
