/*
 * Power failure under qcow2: does the driver's write order survive losing any part of what
 * it wrote since its last flush? The "powerfail" protocol below stands between qcow2 and
 * its image file as a disk with a volatile write cache: writes, zero writes and discards
 * since the last flush live only in memory (reads see them), and a flush makes them
 * durable in order. At the crash an arbitrary subset of them reaches the file, some torn
 * at 512-byte sectors, in any combination the flushes allow, and the rest is gone with
 * whatever qcow2 still had in its caches.
 *
 * Each seed runs a random guest workload (writes of every size, zero writes, discards,
 * internal snapshots created, deleted and applied, the disk grown, guest flushes), on
 * images with and without a (longer) backing file, one in five with lazy refcounts
 * (repaired at the next open), and cuts the power at a random moment. The image must then check clean apart from leaks
 * (our check and qemu-img's where installed), and every byte the guest wrote before its
 * last completed flush, or never touched since, must read back as it was. The SIGKILL
 * tests in tests/system/test_qcow2.py cover a dying process; this covers a dying host.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "block/block_int.h"
#include "block/qcow2.h"
#include "util/iov.h"
#include "image-test-util.h"

/* ---- the volatile disk ---- */

typedef struct PfWrite {
    uint64_t offset, bytes;
    uint8_t *data; /* NULL: zeroes (write-zeroes, or a discard that happened to zero) */
} PfWrite;

typedef struct BDRVPowerfailState {
    GMutex lock;
    GPtrArray *cache;  /* PfWrite, oldest first: not yet durable */
    bool dead;         /* after the crash: everything is dropped */
    int64_t writes, flushes; /* requests so far */
    int64_t countdown; /* requests until the crash; -1: none planned */
    bool at_flush;     /* count only flushes: crash just before one, all its writes pending */
    GRand *rng;        /* the crash's choices */
    double keep, tear;
} BDRVPowerfailState;

static void pf_crash_locked(BlockDriverState *bs);

/* Called with the lock held before each write or flush: is this the crash moment? */
static void pf_tick(BlockDriverState *bs, bool flush)
{
    BDRVPowerfailState *s = bs->opaque;

    if (flush) {
        s->flushes++;
    } else {
        s->writes++;
    }
    if (!s->dead && (flush || !s->at_flush) && s->countdown >= 0 && s->countdown-- == 0) {
        pf_crash_locked(bs);
    }
}

static void pf_write_free(gpointer p)
{
    PfWrite *w = p;

    g_free(w->data);
    g_free(w);
}

static int pf_open(BlockDriverState *bs, JsonObject *options, int flags, Error **errp)
{
    BDRVPowerfailState *s = bs->opaque;

    g_mutex_init(&s->lock);
    s->cache = g_ptr_array_new_with_free_func(pf_write_free);
    s->countdown = -1;
    /* What reached the file is durable here: its own syncs would only cost time. */
    bs->file = bdrv_open(bs->filename, NULL, flags | BDRV_O_PROTOCOL | BDRV_O_NO_FLUSH, errp);
    return bs->file ? 0 : -EINVAL;
}

static void pf_close(BlockDriverState *bs)
{
    BDRVPowerfailState *s = bs->opaque;

    g_ptr_array_free(s->cache, true);
    g_mutex_clear(&s->lock);
}

/* Write [from, to) sectors of w (all of it: 0, UINT64_MAX) to the file. */
static void pf_persist(BlockDriverState *bs, PfWrite *w, uint64_t from, uint64_t to)
{
    uint64_t start = MAX(w->offset, from), end = MIN(w->offset + w->bytes, to);
    int ret;

    if (end <= start) {
        return;
    }
    ret = w->data ? bdrv_pwrite(bs->file, start, w->data + (start - w->offset), end - start)
                  : bdrv_pwrite_zeroes(bs->file, start, end - start, 0);
    g_assert_cmpint(ret, ==, 0);
}

static int pf_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                     int flags)
{
    BDRVPowerfailState *s = bs->opaque;
    g_autofree uint8_t *buf = g_malloc0(bytes);
    int64_t flen = bdrv_getlength(bs->file);

    if (flen > (int64_t)offset) {
        int ret = bdrv_pread(bs->file, offset, buf, MIN(bytes, flen - offset));
        if (ret < 0) {
            return ret;
        }
    }
    g_mutex_lock(&s->lock);
    for (guint i = 0; i < s->cache->len; i++) {
        PfWrite *w = s->cache->pdata[i];
        uint64_t start = MAX(w->offset, offset), end = MIN(w->offset + w->bytes, offset + bytes);

        if (start < end) {
            if (w->data) {
                memcpy(buf + (start - offset), w->data + (start - w->offset), end - start);
            } else {
                memset(buf + (start - offset), 0, end - start);
            }
        }
    }
    g_mutex_unlock(&s->lock);
    iov_from_buf(qiov, 0, buf, bytes);
    return 0;
}

static void pf_add(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint8_t *data)
{
    BDRVPowerfailState *s = bs->opaque;
    PfWrite *w = g_new(PfWrite, 1);

    *w = (PfWrite){.offset = offset, .bytes = bytes, .data = data};
    g_mutex_lock(&s->lock);
    pf_tick(bs, false);
    if (s->dead) {
        pf_write_free(w);
    } else {
        g_ptr_array_add(s->cache, w);
    }
    g_mutex_unlock(&s->lock);
}

static int pf_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                      int flags)
{
    uint8_t *data = g_malloc(bytes);

    iov_to_buf(qiov, 0, data, bytes);
    pf_add(bs, offset, bytes, data);
    return 0;
}

static int pf_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    pf_add(bs, offset, bytes, NULL);
    return 0;
}

/* A discard may zero the range or leave it; the worst case for a reader is the zeroes. */
static int pf_pdiscard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    pf_add(bs, offset, bytes, NULL);
    return 0;
}

static int pf_flush(BlockDriverState *bs)
{
    BDRVPowerfailState *s = bs->opaque;

    g_mutex_lock(&s->lock);
    pf_tick(bs, true);
    for (guint i = 0; !s->dead && i < s->cache->len; i++) {
        pf_persist(bs, s->cache->pdata[i], 0, UINT64_MAX);
    }
    g_ptr_array_set_size(s->cache, 0);
    g_mutex_unlock(&s->lock);
    return 0;
}

static int64_t pf_getlength(BlockDriverState *bs)
{
    BDRVPowerfailState *s = bs->opaque;
    int64_t len = bdrv_getlength(bs->file);

    g_mutex_lock(&s->lock);
    for (guint i = 0; i < s->cache->len; i++) {
        PfWrite *w = s->cache->pdata[i];
        len = MAX(len, (int64_t)(w->offset + w->bytes));
    }
    g_mutex_unlock(&s->lock);
    return len;
}

/* Size changes are durable at once (the harsher choice for a shrink); cached writes past
 * the new end are cut. */
static int pf_truncate(BlockDriverState *bs, uint64_t size, Error **errp)
{
    BDRVPowerfailState *s = bs->opaque;

    g_mutex_lock(&s->lock);
    for (guint i = 0; i < s->cache->len; i++) {
        PfWrite *w = s->cache->pdata[i];
        w->bytes = w->offset >= size ? 0 : MIN(w->bytes, size - w->offset);
    }
    g_mutex_unlock(&s->lock);
    return bdrv_truncate(bs->file, size, errp);
}

static BlockDriver bdrv_powerfail = {
    .format_name = "powerfail",
    .protocol_name = "powerfail",
    .is_protocol = true,
    .instance_size = sizeof(BDRVPowerfailState),
    .open = pf_open,
    .close = pf_close,
    .preadv = pf_preadv,
    .pwritev = pf_pwritev,
    .pwrite_zeroes = pf_pwrite_zeroes,
    .pdiscard = pf_pdiscard,
    .flush = pf_flush,
    .getlength = pf_getlength,
    .truncate = pf_truncate,
};

/*
 * Cut the power: each cached write reaches the file with probability keep, a torn one
 * (probability tear) only in some of its sectors; the order among them is the cache's, as
 * nothing between two flushes orders them anyway. Afterwards every request is dropped.
 */
static void pf_crash_locked(BlockDriverState *bs)
{
    BDRVPowerfailState *s = bs->opaque;

    for (guint i = 0; s->rng && i < s->cache->len; i++) { /* no plan: all is lost */
        PfWrite *w = s->cache->pdata[i];

        if (g_rand_double(s->rng) >= s->keep) {
            continue;
        }
        if (g_rand_double(s->rng) >= s->tear) {
            pf_persist(bs, w, 0, UINT64_MAX);
            continue;
        }
        for (uint64_t sec = w->offset & ~511ULL; sec < w->offset + w->bytes; sec += 512) {
            if (g_rand_boolean(s->rng)) {
                pf_persist(bs, w, sec, sec + 512);
            }
        }
    }
    g_ptr_array_set_size(s->cache, 0);
    s->dead = true;
}

/*
 * Plan the crash from the counts of a run without one: half of the runs crash before a
 * random write or flush, the other half just before a random flush (when the most is at
 * stake). countdown -1: at the end (pf_crash_now).
 */
static void pf_plan(BlockDriverState *bs, GRand *rng, int64_t writes, int64_t flushes)
{
    BDRVPowerfailState *s = bs->opaque;

    s->rng = rng;
    s->at_flush = g_rand_boolean(rng);
    s->countdown = s->at_flush ? g_rand_int_range(rng, 0, flushes + 1)
                               : g_rand_int_range(rng, 0, writes + flushes + 1);
    s->keep = g_rand_double(rng);
    s->tear = g_rand_double_range(rng, 0, 0.3);
}

static bool pf_dead(BlockDriverState *bs)
{
    BDRVPowerfailState *s = bs->opaque;
    bool dead;

    g_mutex_lock(&s->lock);
    dead = s->dead;
    g_mutex_unlock(&s->lock);
    return dead;
}

static void pf_crash_now(BlockDriverState *bs)
{
    BDRVPowerfailState *s = bs->opaque;

    g_mutex_lock(&s->lock);
    if (!s->dead) {
        pf_crash_locked(bs);
    }
    g_mutex_unlock(&s->lock);
}

/* ---- the guest and its model of the disk ---- */

#define DISK_SIZE (8ULL << 20)  /* at creation */
#define MAX_SIZE (20ULL << 20)  /* growing past 16 MiB grows the L1 of 512-byte clusters */
#define MAX_SNAPSHOTS 4

typedef struct ModelSnapshot {
    uint64_t size;
    uint8_t *data;
} ModelSnapshot;

typedef struct Model {
    uint64_t size;     /* the disk's size now */
    GArray *sizes;     /* uint64_t: every size since the last completed flush */
    uint8_t *data;     /* MAX_SIZE bytes: what the guest last wrote, zeroes past size */
    uint8_t *unknown;  /* 1: changed since the last completed flush, either value may survive */
    GPtrArray *snaps;  /* ModelSnapshot, by snapshot number - 1 (NULL: deleted) */
} Model;

static void model_snapshot_free(gpointer p)
{
    ModelSnapshot *sn = p;

    if (sn) {
        g_free(sn->data);
        g_free(sn);
    }
}

static void model_init(Model *m)
{
    *m = (Model){.size = DISK_SIZE, .sizes = g_array_new(false, false, sizeof(uint64_t)),
                 .data = g_malloc0(MAX_SIZE), .unknown = g_malloc0(MAX_SIZE),
                 .snaps = g_ptr_array_new_with_free_func(model_snapshot_free)};
    g_array_append_val(m->sizes, m->size);
}

static void model_free(Model *m)
{
    g_array_free(m->sizes, true);
    g_free(m->data);
    g_free(m->unknown);
    g_ptr_array_free(m->snaps, true);
}

static void model_set(Model *m, uint64_t off, uint64_t len, const uint8_t *src)
{
    if (src) {
        memcpy(m->data + off, src, len);
    } else {
        memset(m->data + off, 0, len);
    }
    memset(m->unknown + off, 1, len);
}

static void model_resize(Model *m, uint64_t size)
{
    if (size < m->size) {
        memset(m->data + size, 0, m->size - size);
    }
    m->size = size;
    g_array_append_val(m->sizes, size);
}

static void model_flushed(Model *m)
{
    memset(m->unknown, 0, MAX_SIZE);
    g_array_set_size(m->sizes, 0);
    g_array_append_val(m->sizes, m->size);
}

static uint64_t pick_len(GRand *rng, uint64_t cluster)
{
    static const uint64_t fixed[] = {512, 4096, 65536, 100 << 10, 3 << 20};
    int k = g_rand_int_range(rng, 0, 8);

    switch (k) {
    case 0:
        return cluster;
    case 1:
        return 2 * cluster + 512;
    case 2:
        return 512 * g_rand_int_range(rng, 1, 64);
    default:
        return fixed[k - 3];
    }
}

/* Requests fail only once the crash has happened (qcow2 may then find its own metadata
 * torn when it reads a table back). */
static void ok(BlockDriverState *bs, int ret)
{
    if (ret < 0 && !pf_dead(bs->file)) {
        g_error("request failed before the crash: %s", strerror(-ret));
    }
}

static void guest_write(BlockDriverState *bs, Model *m, GRand *rng, uint64_t off, uint64_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);
    uint8_t pat = g_rand_int_range(rng, 1, 256);

    for (uint64_t i = 0; i < len; i++) {
        buf[i] = pat ^ (uint8_t)(i >> 9);
    }
    ok(bs, bdrv_pwrite(bs, off, buf, len));
    model_set(m, off, len, buf);
}

/* Discarded bytes read as anything afterwards: only their durability is unknown. */
static void guest_discard(BlockDriverState *bs, Model *m, uint64_t off, uint64_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);

    ok(bs, bdrv_pdiscard(bs, off, len));
    ok(bs, bdrv_pread(bs, off, buf, len));
    model_set(m, off, len, buf);
}

static void snapshot_create(BlockDriverState *bs, Model *m)
{
    g_autofree char *name = g_strdup_printf("s%u", m->snaps->len + 1);
    ModelSnapshot *sn = g_new(ModelSnapshot, 1);
    Error *err = NULL;

    *sn = (ModelSnapshot){m->size, g_memdup2(m->data, m->size)};
    g_ptr_array_add(m->snaps, sn);
    if (bdrv_snapshot_create(bs, name, &err) < 0) {
        g_assert_true(pf_dead(bs->file)); /* the image noticed the crash */
        error_free(err);
    }
}

static void snapshot_delete(BlockDriverState *bs, Model *m, guint i)
{
    g_autofree char *name = g_strdup_printf("s%u", i + 1);
    Error *err = NULL;

    if (bdrv_snapshot_delete(bs, name, &err) < 0) {
        g_assert_true(pf_dead(bs->file));
        error_free(err);
    }
    model_snapshot_free(g_steal_pointer(&m->snaps->pdata[i]));
}

/* Until the next flush either disk may be read: all of it is unknown. */
static void snapshot_apply(BlockDriverState *bs, Model *m, guint i)
{
    g_autofree char *name = g_strdup_printf("s%u", i + 1);
    ModelSnapshot *sn = m->snaps->pdata[i];
    Error *err = NULL;

    if (bdrv_snapshot_goto(bs, name, &err) < 0) {
        g_assert_true(pf_dead(bs->file));
        error_free(err);
    }
    model_resize(m, sn->size);
    memcpy(m->data, sn->data, sn->size);
    memset(m->unknown, 1, MAX_SIZE);
}

static guint live_snapshots(Model *m)
{
    guint live = 0;

    for (guint i = 0; i < m->snaps->len; i++) {
        live += m->snaps->pdata[i] != NULL;
    }
    return live;
}

/* A live snapshot picked at random, or -1. */
static int pick_snapshot(Model *m, GRand *rng)
{
    guint live = live_snapshots(m), k;

    if (!live) {
        return -1;
    }
    k = g_rand_int_range(rng, 0, live);
    for (guint i = 0; i < m->snaps->len; i++) {
        if (m->snaps->pdata[i] && k-- == 0) {
            return i;
        }
    }
    g_assert_not_reached();
}

/* One random guest operation, recorded in the model. */
static void guest_op(BlockDriverState *bs, Model *m, GRand *rng, uint64_t cluster)
{
    int k = g_rand_int_range(rng, 0, 100), sn = pick_snapshot(m, rng);
    uint64_t len = pick_len(rng, cluster);
    uint64_t off;

    len = MIN(len, m->size);
    off = (uint64_t)g_rand_int_range(rng, 0, (m->size - len) / 512 + 1) * 512;

    if (k < 55) {
        guest_write(bs, m, rng, off, len);
    } else if (k < 65) {
        int flags = g_rand_boolean(rng) ? BDRV_REQ_MAY_UNMAP : 0;
        ok(bs, bdrv_pwrite_zeroes(bs, off, len, flags));
        model_set(m, off, len, NULL);
    } else if (k < 70) {
        guest_discard(bs, m, off, len);
    } else if (k < 85) {
        ok(bs, bdrv_flush(bs));
        if (!pf_dead(bs->file)) { /* a flush the crash interrupted promises nothing */
            model_flushed(m);
        }
    } else if (k < 90 && live_snapshots(m) < MAX_SNAPSHOTS) {
        snapshot_create(bs, m);
    } else if (k < 95 && sn >= 0) {
        snapshot_delete(bs, m, sn);
    } else if (k < 97 && sn >= 0) {
        snapshot_apply(bs, m, sn);
    } else if (m->size < MAX_SIZE) {
        uint64_t step = 512 * (uint64_t)g_rand_int_range(rng, 1, 8192);
        uint64_t size = MIN(MAX_SIZE, m->size + step);
        Error *err = NULL;

        if (bdrv_resize(bs, size, false, &err) < 0) {
            g_assert_true(pf_dead(bs->file));
            error_free(err);
        }
        model_resize(m, size);
    }
}

/*
 * A check's report lines, sorted: a missing COPIED flag on a cluster with refcount 1 is
 * harmless (a write copies the cluster it could have written in place) and a crash inside
 * a snapshot creation or deletion can leave one, as in QEMU: the refcount and the flag
 * change in separate writes. Every other error (a COPIED flag on a shared cluster, a refcount below the
 * references, a bad table) is damage. Leaks are counted by the caller.
 */
typedef struct CheckLines {
    int copied_missing, damage;
} CheckLines;

static CheckLines check_lines;

static void classify(const char *line)
{
    const char *entry = strstr(line, "_entry="), *rc = strstr(line, " refcount=");

    if (!g_str_has_prefix(line, "ERROR")) {
        return;
    }
    if (g_str_has_prefix(line, "ERROR OFLAG_COPIED") && entry && rc &&
        !(g_ascii_strtoull(entry + 7, NULL, 16) & QCOW_OFLAG_COPIED) &&
        g_ascii_strtoull(rc + 10, NULL, 10) == 1) {
        check_lines.copied_missing++;
        return;
    }
    g_printerr("%s\n", line);
    check_lines.damage++;
}

/* qemu-img check -r leaks, then a check of the result: its lines, sorted. */
static CheckLines qemu_img_check(const char *path)
{
    g_autofree char *qemu_img = g_find_program_in_path("qemu-img");
    g_autofree char *repair = NULL, *check = NULL, *out = NULL, *err = NULL;
    g_auto(GStrv) lines = NULL;
    int status;

    check_lines = (CheckLines){0};
    if (!qemu_img) {
        return check_lines;
    }
    repair = g_strdup_printf("%s check -r leaks -f qcow2 %s", qemu_img, path);
    g_assert_true(g_spawn_command_line_sync(repair, &out, &err, &status, NULL));
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&err, g_free);
    check = g_strdup_printf("%s check -f qcow2 %s", qemu_img, path);
    g_assert_true(g_spawn_command_line_sync(check, &out, &err, &status, NULL));
    lines = g_strsplit(err, "\n", -1); /* qemu-img reports errors on stderr */
    for (char **l = lines; *l; l++) {
        classify(*l);
    }
    /* Exit 2 (errors) only with the missing flags; 1 (check failed) or 3 (leaks) never. */
    if (!WIFEXITED(status) || (WEXITSTATUS(status) && (WEXITSTATUS(status) != 2 ||
                                                       !check_lines.copied_missing))) {
        g_printerr("%s%s", out, err);
        check_lines.damage++;
    }
    return check_lines;
}

/*
 * What a crash may leave: leaked clusters (their refcount above the references, so a
 * COPIED flag disagrees with it too) and missing COPIED flags. Once the leaks are
 * repaired, nothing else may be reported; a full repair then leaves a clean image.
 */
static void check_metadata(BlockDriverState *bs, unsigned seed)
{
    Qcow2CheckResult r;

    g_assert_cmpint(qcow2_check(bs, &r, BDRV_FIX_LEAKS, NULL), ==, 0);
    check_lines = (CheckLines){0};
    g_assert_cmpint(qcow2_check(bs, &r, 0, classify), ==, 0);
    if (r.leaks || r.check_errors || check_lines.damage ||
        r.corruptions != check_lines.copied_missing) {
        g_error("seed %u: after repairing leaks, %d corruptions (%d of them missing COPIED "
                "flags), %d leaks, %d check errors", seed, r.corruptions,
                check_lines.copied_missing, r.leaks, r.check_errors);
    }
    g_assert_cmpint(qcow2_check(bs, &r, BDRV_FIX_ERRORS, NULL), ==, 0);
    g_assert_cmpint(qcow2_check(bs, &r, 0, NULL), ==, 0);
    g_assert_cmpint(r.corruptions + r.leaks + r.check_errors, ==, 0);
}

/*
 * A lazy_refcounts image that was written is dirty: its next read-write open rebuilds the
 * refcounts, and that repair is checked here too (minivmm keeps the refcount order in
 * lazy mode as well, so the image was consistent before it).
 */
static void check_after_crash(const char *path, Model *m, unsigned seed, bool lazy)
{
    g_autofree char *copy = g_strconcat(path, ".qemu-img", NULL);
    g_autofree uint8_t *buf = g_malloc(MAX_SIZE);
    g_autofree char *image = NULL;
    BlockDriverState *bs;
    int64_t size;
    gsize len;

    if (lazy) {
        bdrv_unref(open_image_fmt(path, "qcow2", BDRV_O_RDWR));
    }
    g_assert_true(g_file_get_contents(path, &image, &len, NULL));
    g_assert_true(g_file_set_contents(copy, image, len, NULL));
    if (qemu_img_check(copy).damage) {
        g_error("seed %u: qemu-img finds damage in %s", seed, copy);
    }
    bs = open_image_fmt(path, "qcow2", BDRV_O_RDWR | BDRV_O_CHECK);
    check_metadata(bs, seed);
    size = bdrv_getlength(bs);
    for (guint i = 0; i < m->sizes->len &&
                      (uint64_t)size != g_array_index(m->sizes, uint64_t, i); i++) {
        if (i + 1 == m->sizes->len) {
            g_error("seed %u: the disk has %" G_GINT64_FORMAT " bytes", seed, size);
        }
    }
    g_assert_cmpint(bdrv_pread(bs, 0, buf, size), ==, 0);
    for (uint64_t i = 0; i < (uint64_t)size; i++) {
        if (!m->unknown[i] && buf[i] != m->data[i]) {
            g_error("seed %u: byte %" G_GUINT64_FORMAT " is %#x, flushed %#x", seed, i, buf[i],
                    m->data[i]);
        }
    }
    bdrv_unref(bs);
}

/* A backing file longer than the disk at creation: growing must not show its tail. */
static char *make_backing(const char *dir, Model *m)
{
    char *path = g_build_filename(dir, "backing.raw", NULL);
    uint64_t blen = DISK_SIZE + 12345 * 512;
    g_autofree uint8_t *data = g_malloc(blen);

    for (uint64_t i = 0; i < blen; i++) {
        data[i] = (uint8_t)(i * 7 + (i >> 12));
    }
    memcpy(m->data, data, DISK_SIZE);
    g_assert_true(g_file_set_contents(path, (char *)data, blen, NULL));
    return path;
}

/*
 * The seed's guest workload on a new image (created with o), crashing as crash_rng plans
 * from the counts in *writes and *flushes, or (crash_rng NULL) only at the end, counting
 * the requests into them.
 */
static void run_workload(const char *path, const Qcow2CreateOpts *o, unsigned seed, Model *m,
                         GRand *crash_rng, int64_t *writes, int64_t *flushes)
{
    g_autofree char *pfname = g_strconcat("powerfail:", path, NULL);
    GRand *rng = g_rand_new_with_seed(seed);
    int ops = g_rand_int_range(rng, 1, 400);
    BDRVPowerfailState *pf;
    BlockDriverState *bs;
    Error *err = NULL;

    g_remove(path);
    g_assert_cmpint(qcow2_create_file(path, o, &err), ==, 0);
    bs = open_image_fmt(pfname, "qcow2", BDRV_O_RDWR);
    pf = bs->file->opaque;
    if (crash_rng) {
        pf_plan(bs->file, crash_rng, *writes, *flushes);
    }
    for (int i = 0; i < ops && !pf_dead(bs->file); i++) {
        guest_op(bs, m, rng, o->cluster_size);
    }
    pf_crash_now(bs->file);
    *writes = pf->writes;
    *flushes = pf->flushes;
    bdrv_unref(bs);
    g_rand_free(rng);
}

static void powerfail_run(unsigned seed)
{
    static const uint64_t clusters[] = {512, 4096, 65536};
    g_autofree char *dir = g_dir_make_tmp("test-powerfail-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "img.qcow2", NULL);
    g_autofree char *backing = NULL;
    Model m, dry;
    Qcow2CreateOpts o = {.size = DISK_SIZE, .version = 3, .cluster_size = clusters[seed % 3],
                         .refcount_bits = 16, .lazy_refcounts = seed % 5 == 4};
    GRand *crash_rng = g_rand_new_with_seed(seed * 7919 + 1);
    int64_t writes, flushes;

    model_init(&m);
    model_init(&dry);
    if (seed % 2) {
        backing = make_backing(dir, &m);
        o.backing_file = backing;
        o.backing_fmt = "raw";
    }
    run_workload(path, &o, seed, &dry, NULL, &writes, &flushes);
    run_workload(path, &o, seed, &m, crash_rng, &writes, &flushes);
    check_after_crash(path, &m, seed, o.lazy_refcounts);

    g_rand_free(crash_rng);
    model_free(&m);
    model_free(&dry);
    tmpdir = g_steal_pointer(&dir);
    tmpdir_remove();
}

static void test_powerfail(gconstpointer data)
{
    powerfail_run(GPOINTER_TO_UINT(data));
}

/* Sanitizer builds run fewer seeds by default; `make check-slow` runs many more. */
#ifdef __SANITIZE_ADDRESS__
#define DEFAULT_SEEDS 12
#else
#define DEFAULT_SEEDS 32
#endif

/* POWERFAIL_SEEDS seeds (default DEFAULT_SEEDS) from POWERFAIL_FIRST (default 1). */
int main(int argc, char **argv)
{
    const char *n = g_getenv("POWERFAIL_SEEDS"), *first = g_getenv("POWERFAIL_FIRST");
    unsigned from = first ? atoi(first) : 1, nseeds = n ? atoi(n) : DEFAULT_SEEDS;

    g_test_init(&argc, &argv, NULL);
    bdrv_register(&bdrv_powerfail);
    for (unsigned seed = from; seed < from + nseeds; seed++) {
        g_autofree char *name = g_strdup_printf("/qcow2/powerfail/seed-%u", seed);
        g_test_add_data_func(name, GUINT_TO_POINTER(seed), test_powerfail);
    }
    return g_test_run();
}
