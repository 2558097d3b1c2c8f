/*
 * The "blkdebug" protocol: a test filter that fails chosen requests with a chosen errno, so
 * error paths (the werror/rerror policies, job error handling) can be tested without a
 * broken disk. `blkdebug:RULES:IMAGE` opens IMAGE (a protocol node, usually a file) below it
 * and reads RULES, a file in QEMU's blkdebug syntax:
 *
 *     [inject-error]
 *     event = "read_aio"      # read_aio (reads), write_aio (writes and write-zeroes),
 *                             # flush_to_disk (flushes)
 *     errno = "5"             # default EIO
 *     sector = "2048"         # only requests covering this 512-byte sector (default any)
 *     once = "on"             # the rule is dropped after its first hit (default off)
 *
 * A request fails when a rule matches it; every other request passes to IMAGE unchanged.
 * Differences from QEMU: rules fire on the request itself (QEMU's events fire inside format
 * drivers, and `immediately` and `state` rules are not implemented; they are refused).
 */
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include "block/block_int.h"

typedef enum BlkdebugEvent { EV_READ, EV_WRITE, EV_FLUSH } BlkdebugEvent;

typedef struct InjectRule {
    BlkdebugEvent event;
    int error;      /* positive errno */
    int64_t sector; /* -1: any */
    bool once;
} InjectRule;

typedef struct BDRVBlkdebugState {
    GMutex lock;  /* rules: requests run in several worker threads */
    GList *rules; /* InjectRule, in file order */
} BDRVBlkdebugState;

static const char *const event_names[] = {
    [EV_READ] = "read_aio",
    [EV_WRITE] = "write_aio",
    [EV_FLUSH] = "flush_to_disk",
};

/* One "key = value" line of a rule; false with errp for what this driver cannot do. */
static bool blkdebug_rule_set(InjectRule *r, const char *key, const char *val, Error **errp)
{
    char *end;

    if (!strcmp(key, "event")) {
        for (unsigned i = 0; i < G_N_ELEMENTS(event_names); i++) {
            if (!strcmp(val, event_names[i])) {
                r->event = i;
                return true;
            }
        }
        error_setg(errp, "Invalid event name \"%s\"", val);
        return false;
    }
    if (!strcmp(key, "errno") || !strcmp(key, "sector")) {
        long long v = strtoll(val, &end, 0);
        bool is_errno = !strcmp(key, "errno");

        if (!*val || *end || v < (is_errno ? 1 : 0) || v > (is_errno ? 4095 : INT64_MAX / 512)) {
            error_setg(errp, "Parameter '%s' expects a number", key);
            return false;
        }
        if (is_errno) {
            r->error = v;
        } else {
            r->sector = v;
        }
        return true;
    }
    if (!strcmp(key, "once")) {
        r->once = !strcmp(val, "on") || !strcmp(val, "true");
        return true;
    }
    error_setg(errp, "blkdebug: unsupported rule parameter '%s'", key);
    return false;
}

/* Strip blanks and one pair of double quotes. */
static char *blkdebug_unquote(char *v)
{
    size_t n;

    v = g_strstrip(v);
    n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v[n - 1] = '\0';
        v++;
    }
    return v;
}

/* Parse the rules file: [inject-error] sections of key = value lines, # comments. */
static bool blkdebug_read_rules(BDRVBlkdebugState *s, const char *path, Error **errp)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    InjectRule *r = NULL;
    GError *gerr = NULL;

    if (!g_file_get_contents(path, &text, NULL, &gerr)) {
        error_setg(errp, "Could not read blkdebug config file: %s", gerr->message);
        g_error_free(gerr);
        return false;
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        char *line = g_strstrip(*l), *eq;

        if (!*line || *line == '#') {
            continue;
        }
        if (*line == '[') {
            if (strcmp(line, "[inject-error]") != 0) {
                error_setg(errp, "blkdebug: unsupported section %s", line);
                return false;
            }
            r = g_new0(InjectRule, 1);
            *r = (InjectRule){.event = EV_READ, .error = EIO, .sector = -1};
            s->rules = g_list_append(s->rules, r);
            continue;
        }
        eq = strchr(line, '=');
        if (!r || !eq) {
            error_setg(errp, "blkdebug: cannot parse config line '%s'", line);
            return false;
        }
        *eq = '\0';
        if (!blkdebug_rule_set(r, blkdebug_unquote(line), blkdebug_unquote(eq + 1), errp)) {
            return false;
        }
    }
    return true;
}

static int blkdebug_open(BlockDriverState *bs, JsonObject *options, int flags, Error **errp)
{
    BDRVBlkdebugState *s = bs->opaque;
    g_autofree char *rules = g_strdup(bs->filename);
    char *image = strchr(rules, ':');

    g_mutex_init(&s->lock);
    if (!image) {
        error_setg(errp, "blkdebug requires both config file and image path");
        return -EINVAL;
    }
    *image++ = '\0';
    if (!blkdebug_read_rules(s, rules, errp)) {
        return -EINVAL;
    }
    bs->file = bdrv_open(image, NULL, flags | BDRV_O_PROTOCOL, errp);
    return bs->file ? 0 : -EINVAL;
}

static void blkdebug_close(BlockDriverState *bs)
{
    BDRVBlkdebugState *s = bs->opaque;

    g_list_free_full(s->rules, g_free);
    s->rules = NULL;
    g_mutex_clear(&s->lock);
}

/* The errno (negative) of the first rule matching the request, or 0. */
static int blkdebug_inject(BlockDriverState *bs, BlkdebugEvent ev, uint64_t offset, uint64_t bytes)
{
    BDRVBlkdebugState *s = bs->opaque;
    int ret = 0;

    g_mutex_lock(&s->lock);
    for (GList *l = s->rules; l; l = l->next) {
        InjectRule *r = l->data;
        uint64_t at = (uint64_t)r->sector * 512;

        if (r->event != ev || (r->sector >= 0 && (at + 512 <= offset || at >= offset + bytes))) {
            continue;
        }
        ret = -r->error;
        if (r->once) {
            s->rules = g_list_delete_link(s->rules, l);
            g_free(r);
        }
        break;
    }
    g_mutex_unlock(&s->lock);
    return ret;
}

static int blkdebug_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                           int flags)
{
    int ret = blkdebug_inject(bs, EV_READ, offset, bytes);

    return ret ? ret : bdrv_preadv(bs->file, offset, qiov, flags);
}

static int blkdebug_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                            int flags)
{
    int ret = blkdebug_inject(bs, EV_WRITE, offset, bytes);

    return ret ? ret : bdrv_pwritev(bs->file, offset, qiov, flags);
}

static int blkdebug_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    int ret = blkdebug_inject(bs, EV_WRITE, offset, bytes);

    return ret ? ret : bdrv_pwrite_zeroes(bs->file, offset, bytes, flags);
}

static int blkdebug_flush(BlockDriverState *bs)
{
    return blkdebug_inject(bs, EV_FLUSH, 0, UINT64_MAX / 2);
}

static int blkdebug_pdiscard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    return bdrv_pdiscard(bs->file, offset, bytes);
}

static int64_t blkdebug_getlength(BlockDriverState *bs)
{
    return bdrv_getlength(bs->file);
}

static int blkdebug_truncate(BlockDriverState *bs, uint64_t size, PreallocMode mode, Error **errp)
{
    return bdrv_truncate_prealloc(bs->file, size, mode, errp);
}

static void blkdebug_refresh_limits(BlockDriverState *bs)
{
    bs->request_alignment = MAX(bs->file->request_alignment, 1);
}

static BlockDriver bdrv_blkdebug = {
    .format_name = "blkdebug",
    .protocol_name = "blkdebug",
    .is_protocol = true,
    .instance_size = sizeof(BDRVBlkdebugState),
    .open = blkdebug_open,
    .close = blkdebug_close,
    .preadv = blkdebug_preadv,
    .pwritev = blkdebug_pwritev,
    .pwrite_zeroes = blkdebug_pwrite_zeroes,
    .flush = blkdebug_flush,
    .pdiscard = blkdebug_pdiscard,
    .getlength = blkdebug_getlength,
    .truncate = blkdebug_truncate,
    .refresh_limits = blkdebug_refresh_limits,
};

static void __attribute__((constructor)) blkdebug_register(void)
{
    bdrv_register(&bdrv_blkdebug);
}
