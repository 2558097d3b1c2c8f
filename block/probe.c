/*
 * The block driver registry: drivers register themselves from constructors in their own
 * files, and the core finds them by format name, by "proto:" filename prefix or host-device
 * claim, or by content (format probing, highest score wins, raw as the fallback). The format
 * whitelist lives here too. Not the open logic (block.c) and not any driver.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "block/block-internal.h"

#define PROBE_BUF_SIZE 2048

static GList *drivers;          /* BlockDriver *, in registration order */
static char **format_whitelist; /* NULL: everything is allowed */

void bdrv_register(BlockDriver *drv)
{
    drivers = g_list_append(drivers, drv);
}

BlockDriver *bdrv_find_format(const char *format_name)
{
    for (GList *l = drivers; l; l = l->next) {
        BlockDriver *drv = l->data;

        if (!strcmp(drv->format_name, format_name)) {
            return drv;
        }
    }
    return NULL;
}

/* The host-device driver that claims filename with the highest score, if any. */
static BlockDriver *bdrv_find_hdev_driver(const char *filename)
{
    BlockDriver *best = NULL;
    int best_score = 0;

    for (GList *l = drivers; l; l = l->next) {
        BlockDriver *drv = l->data;
        int score = drv->probe_device ? drv->probe_device(filename) : 0;

        if (score > best_score) {
            best_score = score;
            best = drv;
        }
    }
    return best;
}

/* "proto:..." before any '/' (so "./a:b" and "/x/a:b" are plain files). */
static bool path_has_protocol(const char *path)
{
    return path[strcspn(path, ":/")] == ':';
}

BlockDriver *bdrv_find_protocol(const char *filename, Error **errp)
{
    BlockDriver *drv = bdrv_find_hdev_driver(filename);
    g_autofree char *proto = NULL;

    if (drv) {
        return drv;
    }
    proto = path_has_protocol(filename) ? g_strndup(filename, strcspn(filename, ":"))
                                        : g_strdup("file");
    for (GList *l = drivers; l; l = l->next) {
        drv = l->data;
        if (drv->is_protocol && drv->protocol_name && !strcmp(drv->protocol_name, proto)) {
            return drv;
        }
    }
    error_setg(errp, "Unknown protocol '%s'", proto);
    return NULL;
}

BlockDriver *bdrv_probe_best(const uint8_t *buf, int len, const char *filename,
                             const char *skip_format)
{
    BlockDriver *best = NULL;
    int best_score = 0;

    for (GList *l = drivers; l; l = l->next) {
        BlockDriver *drv = l->data;
        int score;

        if (!drv->probe || (skip_format && !strcmp(drv->format_name, skip_format))) {
            continue;
        }
        score = drv->probe(buf, len, filename);
        if (score > best_score) {
            best_score = score;
            best = drv;
        }
    }
    return best;
}

BlockDriver *bdrv_probe_image(BlockDriverState *file, Error **errp)
{
    uint8_t buf[PROBE_BUF_SIZE];
    int64_t len = bdrv_getlength(file);
    BlockDriver *drv = NULL;
    int ret;

    if (len < 0) {
        error_setg_errno(errp, -len, "Could not read image for determining its format");
        return NULL;
    }
    if (len > 0) {
        len = MIN(len, PROBE_BUF_SIZE);
        ret = bdrv_pread(file, 0, buf, len);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read image for determining its format");
            return NULL;
        }
        drv = bdrv_probe_best(buf, len, file->filename, NULL);
    }
    if (!drv) {
        drv = bdrv_find_format("raw");
    }
    if (!drv) {
        error_setg(errp, "Could not determine image format: No compatible driver found");
    }
    return drv;
}

void bdrv_set_format_whitelist(const char *const *formats)
{
    g_strfreev(format_whitelist);
    format_whitelist = formats ? g_strdupv((char **)formats) : NULL;
}

/* Protocols are never refused: the whitelist is about image formats. */
bool bdrv_is_whitelisted(const BlockDriver *drv, bool read_only)
{
    if (!format_whitelist || drv->is_protocol) {
        return true;
    }
    return g_strv_contains((const char *const *)format_whitelist, drv->format_name);
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void bdrv_iterate_format(void (*fn)(void *opaque, const char *name), void *opaque)
{
    GPtrArray *names = g_ptr_array_new();

    for (GList *l = drivers; l; l = l->next) {
        const char *name = ((BlockDriver *)l->data)->format_name;

        if (!g_ptr_array_find_with_equal_func(names, name, g_str_equal, NULL)) {
            g_ptr_array_add(names, (char *)name);
        }
    }
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        fn(opaque, names->pdata[i]);
    }
    g_ptr_array_free(names, TRUE);
}
