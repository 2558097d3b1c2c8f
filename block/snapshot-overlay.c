/*
 * snapshot=on: a temporary qcow2 overlay on top of a node, as QEMU's
 * bdrv_append_temp_snapshot. The overlay lives in $TMPDIR (QEMU's /var/tmp when unset) as
 * vl.XXXXXX, records the real image as its backing file and format, and is unlinked before
 * anything is written to it: it is created and opened through /proc/self/fd, so no file is
 * left behind even when the process is killed (without procfs it is unlinked right after
 * the open, as QEMU does). The overlay is always cache=unsafe: flushes never reach its
 * disk. Not the open of the real image (block.c opens it read-only first).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "block/block-internal.h"
#include "block/qcow2.h"

#define QCOW2_MAX_BACKING_NAME 1023
/* QEMU 2.2 sizes the overlay in whole sectors. */
#define ROUND_UP_SECTOR(n) (((uint64_t)(n) + BDRV_SECTOR_SIZE - 1) & ~(BDRV_SECTOR_SIZE - 1))

typedef struct TempOverlay {
    char *path;      /* $TMPDIR/vl.XXXXXX, the name users see */
    char *open_path; /* what the image is created and opened by */
    int fd;          /* keeps an unlinked file alive until the overlay has opened it */
} TempOverlay;

static void temp_overlay_clear(TempOverlay *t)
{
    if (t->fd >= 0) {
        close(t->fd);
    }
    g_free(t->path);
    g_free(t->open_path);
}

/* mkstemp in $TMPDIR; unlinked at once when it can still be reached by /proc/self/fd. */
static int temp_overlay_make(TempOverlay *t, Error **errp)
{
    const char *dir = getenv("TMPDIR");
    g_autofree char *proc = NULL;

    t->path = g_build_filename(dir && *dir ? dir : "/var/tmp", "vl.XXXXXX", NULL);
    t->fd = mkostemp(t->path, O_CLOEXEC);
    if (t->fd < 0) {
        error_setg_errno(errp, errno, "Could not get temporary filename");
        return -errno;
    }
    proc = g_strdup_printf("/proc/self/fd/%d", t->fd);
    if (access(proc, R_OK | W_OK) == 0) {
        unlink(t->path);
        t->open_path = g_steal_pointer(&proc);
    } else {
        t->open_path = g_strdup(t->path);
    }
    return 0;
}

/* The real image's name as the overlay records it: absolute, since the overlay lives in
 * another directory; NULL when it is no plain file name or too long for the header. */
static char *temp_overlay_backing_name(BlockDriverState *backing)
{
    const char *name = bdrv_get_filename(backing);
    char *abs;

    if (!name[0] || strchr(name, ':')) {
        return NULL;
    }
    abs = g_canonicalize_filename(name, NULL);
    if (strlen(abs) > QCOW2_MAX_BACKING_NAME) {
        g_clear_pointer(&abs, g_free);
    }
    return abs;
}

static int temp_overlay_create(TempOverlay *t, BlockDriverState *backing, uint64_t size,
                               Error **errp)
{
    g_autofree char *name = temp_overlay_backing_name(backing);
    Qcow2CreateOpts o = {
        .size = size,
        .version = 3,
        .cluster_size = 65536,
        .refcount_bits = 16,
        .backing_file = name,
        .backing_fmt = name ? bdrv_get_format_name(backing) : NULL,
    };
    Error *err = NULL;
    int ret = qcow2_create_file(t->open_path, &o, &err);

    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not create temporary overlay '%s': %s", t->path,
                         error_get_pretty(err));
        error_free(err);
    }
    return ret;
}

/* Unsafe caching, no O_DIRECT (and so no native AIO) for a file nobody keeps. */
static int temp_overlay_flags(int flags, bool unlinked)
{
    flags &= ~(BDRV_O_SNAPSHOT | BDRV_O_NOCACHE | BDRV_O_NATIVE_AIO | BDRV_O_PROTOCOL);
    flags |= BDRV_O_NO_FLUSH | BDRV_O_NO_BACKING;
    return unlinked ? flags : flags | BDRV_O_TEMPORARY;
}

/* Show the name it was created under, not a descriptor that is about to close. */
static void temp_overlay_rename(BlockDriverState *overlay, const char *path)
{
    BlockDriverState *file = overlay->file;

    g_free(file->filename);
    file->filename = g_strdup(path);
    json_object_set_string_member(file->options, "filename", path);
    g_free(overlay->filename);
    overlay->filename = g_strdup(path);
    json_object_set_string_member(overlay->options, "file.filename", path);
}

static BlockDriverState *temp_overlay_open(TempOverlay *t, int flags, Error **errp)
{
    JsonObject *opts = json_object_new();
    bool unlinked = strcmp(t->open_path, t->path) != 0;
    BlockDriverState *overlay;

    json_object_set_string_member(opts, "driver", "qcow2");
    json_object_set_string_member(opts, "file.driver", "file");
    json_object_set_string_member(opts, "file.filename", t->open_path);
    overlay = bdrv_open(NULL, opts, temp_overlay_flags(flags, unlinked), errp);
    if (overlay && unlinked) {
        temp_overlay_rename(overlay, t->path);
    }
    return overlay;
}

/* Link backing under overlay: the overlay takes over the caller's reference. */
static void temp_overlay_attach(BlockDriverState *overlay, BlockDriverState *backing)
{
    overlay->backing = backing;
    overlay->open_flags &= ~BDRV_O_NO_BACKING;
    g_free(overlay->backing_file);
    overlay->backing_file = g_strdup(bdrv_get_filename(backing));
    g_free(overlay->backing_format);
    overlay->backing_format = g_strdup(bdrv_get_format_name(backing));
}

BlockDriverState *bdrv_append_temp_snapshot(BlockDriverState *bs, int flags, Error **errp)
{
    TempOverlay t = {.fd = -1};
    BlockDriverState *overlay = NULL;
    int64_t size = bdrv_getlength(bs);

    if (size < 0) {
        error_setg_errno(errp, -size, "Could not get image size");
    } else if (temp_overlay_make(&t, errp) == 0 &&
               temp_overlay_create(&t, bs, ROUND_UP_SECTOR(size), errp) == 0) {
        overlay = temp_overlay_open(&t, flags, errp);
    }
    if (overlay) {
        temp_overlay_attach(overlay, bs);
    } else {
        if (t.open_path && !strcmp(t.open_path, t.path)) {
            unlink(t.path);
        }
        bdrv_unref(bs);
    }
    temp_overlay_clear(&t);
    return overlay;
}
