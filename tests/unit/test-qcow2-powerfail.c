/*
 * Power failure under qcow2: does the driver's write order survive losing any part of what
 * it wrote since its last flush? The "powerfail" protocol below stands between qcow2 and
 * its image file as a disk with a volatile write cache: writes, zero writes and discards
 * since the last flush live only in memory (reads see them), and a flush makes them
 * durable in order; a FUA write is durable at once, alone. At the crash an arbitrary
 * subset of them reaches the file, some torn at 512-byte sectors, in any combination the
 * flushes allow, and the rest is gone with whatever qcow2 still had in its caches.
 *
 * Each seed runs a random guest workload (writes of every size, zero writes, discards,
 * internal snapshots created, deleted and applied, the disk grown, guest flushes), on
 * images with and without a (longer) backing file, one in five with lazy refcounts
 * (repaired at the next open), and cuts the power at a random moment. The image must then check clean apart from leaks
 * (our check and qemu-img's where installed), and every byte the guest wrote before its
 * last completed flush, or never touched since, must read back as it was. The SIGKILL
 * tests in tests/system/test_qcow2.py cover a dying process; this covers a dying host.
 *
 * The same disk also fails instead of dying (/qcow2/ioerror/): in a random stretch of the
 * run, each write or flush fails with EIO at a random rate, a failing write having reached
 * a random part of its sectors or none. The run then goes on without errors, flushes and
 * closes the image: it must check clean apart from leaks, and every byte must read back as
 * the guest last wrote it, except where the guest's own request failed.
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
    GRand *rng;        /* the crash's (or the errors') choices */
    double keep, tear;
    /* I/O errors instead of a crash: requests number fail_from .. fail_to - 1 (writes and
     * flushes counted together) fail with probability fail_p. */
    int64_t fail_from, fail_to;
    double fail_p;
    int64_t failed; /* requests failed so far */
} BDRVPowerfailState;

static void pf_crash_locked(BlockDriverState *bs);
static bool pf_dead(BlockDriverState *bs);

/* Called with the lock held before each write or flush: is this the crash moment? True
 * when the request is to fail instead. */
static bool pf_tick(BlockDriverState *bs, bool flush)
{
    BDRVPowerfailState *s = bs->opaque;
    int64_t n = s->writes + s->flushes;

    if (flush) {
        s->flushes++;
    } else {
        s->writes++;
    }
    if (!s->dead && (flush || !s->at_flush) && s->countdown >= 0 && s->countdown-- == 0) {
        pf_crash_locked(bs);
    }
    if (s->fail_p > 0 && n >= s->fail_from && n < s->fail_to &&
        g_rand_double(s->rng) < s->fail_p) {
        s->failed++;
        return true;
    }
    return false;
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

    if (pf_dead(bs)) {
        return -EIO; /* the file is the image after the crash, not what memory expects */
    }
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

/* [from, to) of w, a copy. */
static PfWrite *pf_piece(const PfWrite *w, uint64_t from, uint64_t to)
{
    PfWrite *part = g_new(PfWrite, 1);

    *part = (PfWrite){from, to - from,
                      w->data ? g_memdup2(w->data + (from - w->offset), to - from) : NULL};
    return part;
}

/* A failing write may have reached none of its sectors, or any of them. */
static void pf_add_torn_locked(BlockDriverState *bs, PfWrite *w)
{
    BDRVPowerfailState *s = bs->opaque;
    uint64_t end = w->offset + w->bytes;

    for (uint64_t sec = w->offset & ~511ULL; g_rand_boolean(s->rng) && sec < end; sec += 512) {
        if (!g_rand_boolean(s->rng)) {
            g_ptr_array_add(s->cache, pf_piece(w, MAX(sec, w->offset), MIN(sec + 512, end)));
        }
    }
    pf_write_free(w);
}

/*
 * A FUA write is durable at once, and alone: what is cached keeps its chances at the crash,
 * except what the FUA write overwrote, which can no longer land on top of it.
 */
static void pf_persist_fua_locked(BlockDriverState *bs, PfWrite *w)
{
    BDRVPowerfailState *s = bs->opaque;
    GPtrArray *old = s->cache;
    uint64_t end = w->offset + w->bytes;

    s->cache = g_ptr_array_new_with_free_func(pf_write_free);
    for (guint i = 0; i < old->len; i++) {
        PfWrite *o = old->pdata[i];
        uint64_t oend = o->offset + o->bytes;

        if (o->offset < w->offset) {
            g_ptr_array_add(s->cache, pf_piece(o, o->offset, MIN(oend, w->offset)));
        }
        if (oend > end) {
            g_ptr_array_add(s->cache, pf_piece(o, MAX(o->offset, end), oend));
        }
    }
    g_ptr_array_free(old, true);
    pf_persist(bs, w, 0, UINT64_MAX);
    pf_write_free(w);
}

static int pf_add(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint8_t *data, bool fua)
{
    BDRVPowerfailState *s = bs->opaque;
    PfWrite *w = g_new(PfWrite, 1);
    int ret = 0;

    *w = (PfWrite){.offset = offset, .bytes = bytes, .data = data};
    g_mutex_lock(&s->lock);
    if (pf_tick(bs, false)) {
        pf_add_torn_locked(bs, w);
        ret = -EIO;
    } else if (s->dead) {
        pf_write_free(w);
    } else if (fua) {
        pf_persist_fua_locked(bs, w);
    } else {
        g_ptr_array_add(s->cache, w);
    }
    g_mutex_unlock(&s->lock);
    return ret;
}

static int pf_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                      int flags)
{
    uint8_t *data = g_malloc(bytes);

    iov_to_buf(qiov, 0, data, bytes);
    return pf_add(bs, offset, bytes, data, flags & BDRV_REQ_FUA);
}

static int pf_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    return pf_add(bs, offset, bytes, NULL, false);
}

/* A discard may zero the range or leave it; the worst case for a reader is the zeroes. */
static int pf_pdiscard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    return pf_add(bs, offset, bytes, NULL, false);
}

static int pf_flush(BlockDriverState *bs)
{
    BDRVPowerfailState *s = bs->opaque;

    g_mutex_lock(&s->lock);
    if (pf_tick(bs, true)) {
        g_mutex_unlock(&s->lock);
        return -EIO; /* nothing more is durable than before */
    }
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
static int pf_truncate(BlockDriverState *bs, uint64_t size, PreallocMode mode, Error **errp)
{
    BDRVPowerfailState *s = bs->opaque;

    g_mutex_lock(&s->lock);
    for (guint i = 0; i < s->cache->len; i++) {
        PfWrite *w = s->cache->pdata[i];
        w->bytes = w->offset >= size ? 0 : MIN(w->bytes, size - w->offset);
    }
    g_mutex_unlock(&s->lock);
    return bdrv_truncate_prealloc(bs->file, size, mode, errp);
}

static BlockDriver bdrv_powerfail = {
    .format_name = "powerfail",
    .protocol_name = "powerfail",
    .is_protocol = true,
    .fua_writes = true,
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
 * nothing between two flushes orders them anyway. Afterwards every write is dropped and every
 * read fails.
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

/* Errors instead of a crash, in a random stretch of about as many requests as a run without
 * them makes (requests: that count). */
static void pf_plan_errors(BlockDriverState *bs, GRand *rng, int64_t requests)
{
    BDRVPowerfailState *s = bs->opaque;

    s->rng = rng;
    s->fail_from = g_rand_int_range(rng, 0, requests + 1);
    s->fail_to = s->fail_from + g_rand_int_range(rng, 1, requests / 2 + 2);
    s->fail_p = g_rand_double_range(rng, 0.05, 1.0);
}

static int64_t pf_failed(BlockDriverState *bs)
{
    BDRVPowerfailState *s = bs->opaque;
    int64_t failed;

    g_mutex_lock(&s->lock);
    failed = s->failed;
    g_mutex_unlock(&s->lock);
    return failed;
}

static void pf_errors_off(BlockDriverState *bs)
{
    BDRVPowerfailState *s = bs->opaque;

    g_mutex_lock(&s->lock);
    s->fail_p = 0;
    g_mutex_unlock(&s->lock);
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
    uint8_t *data, *unknown;
} ModelSnapshot;

/*
 * What the disk must read. With a crash (errors false), bytes changed since the last
 * completed flush are unknown; with I/O errors, only those a failed request of the guest
 * may have changed, as nothing is lost.
 */
typedef struct Model {
    bool errors;
    uint64_t size;     /* the disk's size now */
    GArray *sizes;     /* uint64_t: every size it may have after the crash or the errors */
    uint8_t *data;     /* MAX_SIZE bytes: what the guest last wrote, zeroes past size */
    uint8_t *unknown;  /* 1: either value may read back */
    GPtrArray *snaps;  /* ModelSnapshot, by snapshot number - 1 (NULL: deleted) */
} Model;

static void model_snapshot_free(gpointer p)
{
    ModelSnapshot *sn = p;

    if (sn) {
        g_free(sn->data);
        g_free(sn->unknown);
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

/* The guest wrote src (NULL: zeroes) at off; failed: its request failed. */
static void model_set(Model *m, uint64_t off, uint64_t len, const uint8_t *src, bool failed)
{
    if (src) {
        memcpy(m->data + off, src, len);
    } else {
        memset(m->data + off, 0, len);
    }
    memset(m->unknown + off, !m->errors || failed, len);
}

/* The disk is now size bytes (it had old); failed: a resize to want failed, so after the
 * errors either size may be found, and what lies between is unknown. */
static void model_resize(Model *m, uint64_t size, uint64_t old, uint64_t want, bool failed)
{
    if (size < m->size) {
        memset(m->data + size, 0, m->size - size);
    }
    m->size = size;
    if (!m->errors) {
        g_array_append_val(m->sizes, size);
        return;
    }
    g_array_set_size(m->sizes, 0);
    g_array_append_val(m->sizes, size);
    if (old < want) {
        memset(m->unknown + old, failed, want - old);
    }
    if (failed) {
        uint64_t other = size == want ? old : want;

        g_array_append_val(m->sizes, other);
    }
}

static void model_flushed(Model *m)
{
    if (m->errors) {
        return; /* no crash: a flush changes nothing the guest can see */
    }
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

/* The disk's failed requests when the guest's operation began. */
static int64_t failed_before_op;

/*
 * Requests fail only once the crash has happened (qcow2 may then find its own metadata
 * torn when it reads a table back), or when the disk failed one of its requests during
 * this operation: an error must not stick to the image after it. True when it succeeded.
 */
static bool ok(BlockDriverState *bs, int ret)
{
    if (ret < 0 && !pf_dead(bs->file) && pf_failed(bs->file) == failed_before_op) {
        g_error("request failed without a crash or a disk error: %s", strerror(-ret));
    }
    return ret >= 0;
}

/* The same for an operation reporting an Error (read through errp: an argument of the
 * call that sets it would be read before it is set). */
static bool ok_err(BlockDriverState *bs, int ret, Error **errp)
{
    if (ret < 0 && !pf_dead(bs->file) && pf_failed(bs->file) == failed_before_op) {
        g_error("operation failed without a crash or a disk error: %s",
                *errp ? error_get_pretty(*errp) : "?");
    }
    g_clear_pointer(errp, error_free);
    return ret >= 0;
}

static void guest_write(BlockDriverState *bs, Model *m, GRand *rng, uint64_t off, uint64_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);
    uint8_t pat = g_rand_int_range(rng, 1, 256);

    for (uint64_t i = 0; i < len; i++) {
        buf[i] = pat ^ (uint8_t)(i >> 9);
    }
    model_set(m, off, len, buf, !ok(bs, bdrv_pwrite(bs, off, buf, len)));
}

/* Discarded bytes read as anything afterwards: only their durability is unknown. */
static void guest_discard(BlockDriverState *bs, Model *m, uint64_t off, uint64_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);

    bool done = ok(bs, bdrv_pdiscard(bs, off, len));

    model_set(m, off, len, buf, !ok(bs, bdrv_pread(bs, off, buf, len)) || !done);
}

static bool snapshot_exists(BlockDriverState *bs, const char *name)
{
    BlockSnapshotInfo info;
    int found = bdrv_snapshot_find(bs, NULL, name, &info);

    g_assert_cmpint(found, >=, 0);
    if (found) {
        bdrv_snapshot_info_clear(&info);
    }
    return found;
}

/* A failed creation or deletion (I/O errors) either happened or did not: the image says. */
static void model_snapshot_sync(BlockDriverState *bs, Model *m, guint i)
{
    g_autofree char *name = g_strdup_printf("s%u", i + 1);

    if (m->errors && !pf_dead(bs->file) && !snapshot_exists(bs, name)) {
        model_snapshot_free(g_steal_pointer(&m->snaps->pdata[i]));
    }
}

static void snapshot_create(BlockDriverState *bs, Model *m)
{
    g_autofree char *name = g_strdup_printf("s%u", m->snaps->len + 1);
    ModelSnapshot *sn = g_new(ModelSnapshot, 1);
    Error *err = NULL;

    *sn = (ModelSnapshot){m->size, g_memdup2(m->data, m->size), g_memdup2(m->unknown, m->size)};
    g_ptr_array_add(m->snaps, sn);
    if (!ok_err(bs, bdrv_snapshot_create(bs, name, &err), &err)) {
        model_snapshot_sync(bs, m, m->snaps->len - 1);
    }
}

static void snapshot_delete(BlockDriverState *bs, Model *m, guint i)
{
    g_autofree char *name = g_strdup_printf("s%u", i + 1);
    Error *err = NULL;

    if (ok_err(bs, bdrv_snapshot_delete(bs, name, &err), &err) || !m->errors) {
        model_snapshot_free(g_steal_pointer(&m->snaps->pdata[i]));
    } else {
        model_snapshot_sync(bs, m, i);
    }
}

/* After a crash before the next flush either disk may be read: all of it is unknown; after
 * a failed apply (I/O errors), the same. */
static void snapshot_apply(BlockDriverState *bs, Model *m, guint i)
{
    g_autofree char *name = g_strdup_printf("s%u", i + 1);
    ModelSnapshot *sn = m->snaps->pdata[i];
    uint64_t old = m->size;
    Error *err = NULL;
    bool done = ok_err(bs, bdrv_snapshot_goto(bs, name, &err), &err);

    if (m->errors && !done) {
        model_resize(m, bdrv_getlength(bs), old, sn->size, true);
        memset(m->unknown, 1, MAX_SIZE);
        return;
    }
    model_resize(m, sn->size, old, sn->size, false);
    memcpy(m->data, sn->data, sn->size);
    if (m->errors) {
        memcpy(m->unknown, sn->unknown, sn->size);
    } else {
        memset(m->unknown, 1, MAX_SIZE);
    }
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
/* Set by the refcount-order tests: one operation in fourteen changes the refcount width. */
static bool order_changes;

/* Set by the prealloc tests: resizes preallocate (metadata, falloc or full, by the step). */
static bool prealloc_resizes;

/* The mode of a resize by step bytes (no draw from the generator: the other seeds keep
 * their workloads). */
static PreallocMode resize_mode(uint64_t step)
{
    return prealloc_resizes ? PREALLOC_MODE_METADATA + (step >> 9) % 3 : PREALLOC_MODE_OFF;
}

/* amend -o refcount_bits=bits. */
static int amend_width(BlockDriverState *bs, int bits, Error **errp)
{
    g_autoptr(JsonObject) opts = json_object_new();
    g_autofree char *value = g_strdup_printf("%d", bits);

    json_object_set_string_member(opts, "refcount_bits", value);
    return bdrv_amend(bs, opts, errp);
}

/* amend -o refcount_bits=N, to a width that holds any refcount here (at most 1 + 4
 * snapshots, 3 bits): 4 to 64 bits. */
static void change_refcount_width(BlockDriverState *bs, GRand *rng)
{
    Error *err = NULL;

    ok_err(bs, amend_width(bs, 1 << g_rand_int_range(rng, 2, 7), &err), &err);
}

static void guest_op(BlockDriverState *bs, Model *m, GRand *rng, uint64_t cluster)
{
    int k = g_rand_int_range(rng, 0, 100), sn = pick_snapshot(m, rng);
    uint64_t len = pick_len(rng, cluster);
    uint64_t off;

    len = MIN(len, m->size);
    off = (uint64_t)g_rand_int_range(rng, 0, (m->size - len) / 512 + 1) * 512;
    failed_before_op = pf_failed(bs->file);

    if (order_changes && k >= 93) {
        change_refcount_width(bs, rng);
    } else if (k < 55) {
        guest_write(bs, m, rng, off, len);
    } else if (k < 65) {
        int flags = g_rand_boolean(rng) ? BDRV_REQ_MAY_UNMAP : 0;
        model_set(m, off, len, NULL, !ok(bs, bdrv_pwrite_zeroes(bs, off, len, flags)));
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
        uint64_t size = MIN(MAX_SIZE, m->size + step), old = m->size;
        Error *err = NULL;

        if (ok_err(bs, bdrv_resize(bs, size, false, resize_mode(step), &err), &err) || !m->errors) {
            model_resize(m, size, old, size, false);
        } else {
            model_resize(m, bdrv_getlength(bs), old, size, true);
        }
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
 * The image after the crash or the errors, against the model. A lazy_refcounts image that
 * was written is dirty: its next read-write open rebuilds the refcounts, and only the
 * result of that repair is checked, as in QEMU. Before it the refcounts on disk may be
 * below the references (in lazy mode L2 tables are written without waiting for the
 * refcount blocks), and an L2 entry may point past the end of the file (the lost write of
 * a new cluster would have extended it; the repair grows the file), which the checks below
 * would call damage.
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
 * The seed's guest workload on a new image (created with o), crashing (or failing requests,
 * m->errors) as crash_rng plans from the counts in *writes and *flushes, or (crash_rng NULL)
 * only at the end, counting the requests into them. With errors, the end is a flush with
 * the errors over, which must succeed, and a normal close.
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
    if (crash_rng && m->errors) {
        pf_plan_errors(bs->file, crash_rng, *writes + *flushes);
    } else if (crash_rng) {
        pf_plan(bs->file, crash_rng, *writes, *flushes);
    }
    for (int i = 0; i < ops && !pf_dead(bs->file); i++) {
        guest_op(bs, m, rng, o->cluster_size);
    }
    if (crash_rng && m->errors) {
        pf_errors_off(bs->file);
        if (bdrv_flush(bs) < 0) {
            g_error("seed %u: a flush fails after the disk's errors are over", seed);
        }
    } else {
        pf_crash_now(bs->file);
    }
    *writes = pf->writes;
    *flushes = pf->flushes;
    bdrv_unref(bs);
    g_rand_free(rng);
}

static void powerfail_run(unsigned seed, bool errors)
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
    m.errors = errors;
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

/*
 * A test's data: the seed in the low bits and the workload's variant above. Variants other
 * than the plain one have seeds of their own, so that the default seeds keep their
 * workloads: refcount width changes (order_changes), preallocating resizes.
 */
enum {
    RUN_IOERROR = 1 << 24,
    RUN_ORDER = 1 << 25,
    RUN_PREALLOC = 1 << 26,
    RUN_SEED_MASK = RUN_IOERROR - 1,
};

static void test_run(gconstpointer data)
{
    unsigned v = GPOINTER_TO_UINT(data);

    order_changes = v & RUN_ORDER;
    prealloc_resizes = v & RUN_PREALLOC;
    powerfail_run(v & RUN_SEED_MASK, v & RUN_IOERROR);
    order_changes = prealloc_resizes = false;
}

/* /qcow2/powerfail/KIND-N and /qcow2/ioerror/KIND-N for n seeds from first. */
static void add_seeds(const char *kind, unsigned first, unsigned n, unsigned variant)
{
    for (unsigned seed = first; seed < first + n; seed++) {
        g_autofree char *name = g_strdup_printf("/qcow2/powerfail/%s-%u", kind, seed);
        g_autofree char *ioname = g_strdup_printf("/qcow2/ioerror/%s-%u", kind, seed);

        g_test_add_data_func(name, GUINT_TO_POINTER(seed | variant), test_run);
        g_test_add_data_func(ioname, GUINT_TO_POINTER(seed | variant | RUN_IOERROR), test_run);
    }
}

/* The requests an amend to refcount_bits=bits makes on the image at path; with countdown >= 0
 * the power fails before request number countdown (keep and tear from rng). */
static int64_t amend_width_crashing(const char *path, int bits, int64_t countdown, GRand *rng)
{
    g_autofree char *pfname = g_strconcat("powerfail:", path, NULL);
    BlockDriverState *bs = open_image_fmt(pfname, "qcow2", BDRV_O_RDWR);
    BDRVPowerfailState *pf = bs->file->opaque;
    int64_t before = pf->writes + pf->flushes, requests;
    Error *err = NULL;
    int ret;

    if (countdown >= 0) {
        pf->rng = rng;
        pf->countdown = countdown;
        pf->keep = g_rand_double(rng);
        pf->tear = g_rand_double_range(rng, 0, 0.3);
    }
    ret = amend_width(bs, bits, &err);
    if (ret < 0 && !pf_dead(bs->file)) {
        g_error("amend to %d bits failed without a crash: %s", bits, error_get_pretty(err));
    }
    error_free(err);
    requests = pf->writes + pf->flushes - before;
    pf_crash_now(bs->file);
    bdrv_unref(bs);
    return requests;
}

/*
 * A refcount width change cut at each of its requests in turn, three ways each (a random
 * part of what was not yet flushed reaching the disk, some of it torn): the image must check
 * clean apart from leaks, read back every byte, and keep its snapshots.
 */
static void test_refcount_width_every_point(void)
{
    static const int widths[][2] = {{16, 2}, {2, 64}, {64, 16}};
    g_autofree char *dir = g_dir_make_tmp("test-powerfail-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "img.qcow2", NULL);
    g_autofree char *orig = g_build_filename(dir, "orig.qcow2", NULL);
    Qcow2CreateOpts o = {.size = DISK_SIZE, .version = 3, .cluster_size = 4096};
    GRand *rng = g_rand_new_with_seed(4242);
    g_autofree char *image = NULL;
    Error *err = NULL;
    BlockDriverState *bs;
    gsize len;
    Model m;

    for (int w = 0; w < (int)G_N_ELEMENTS(widths); w++) {
        int64_t n;

        model_init(&m);
        o.refcount_bits = widths[w][0];
        g_assert_cmpint(qcow2_create_file(path, &o, &err), ==, 0);
        bs = open_image_fmt(path, "qcow2", BDRV_O_RDWR);
        for (int i = 0; i < 60; i++) { /* more than one 4 KiB refcount block at 2 bits */
            if (i == 20 || i == 40) {
                snapshot_create(bs, &m);
            }
            guest_write(bs, &m, rng, (uint64_t)g_rand_int_range(rng, 0, DISK_SIZE / 512 - 256) * 512,
                        pick_len(rng, o.cluster_size) % (128 << 10) + 512);
        }
        bdrv_unref(bs);
        model_flushed(&m);
        g_assert_true(g_file_get_contents(path, &image, &len, NULL));
        g_assert_true(g_file_set_contents(orig, image, len, NULL));
        n = amend_width_crashing(path, widths[w][1], -1, NULL);
        g_assert_cmpint(n, >, 4);
        for (int64_t at = 0; at <= n; at++) {
            for (int k = 0; k < 3; k++) {
                g_assert_true(g_file_set_contents(path, image, len, NULL));
                amend_width_crashing(path, widths[w][1], at, rng);
                check_after_crash(path, &m, at * 3 + k, false);
                bs = open_image_fmt(path, "qcow2", 0);
                g_assert_true(snapshot_exists(bs, "s1") && snapshot_exists(bs, "s2"));
                bdrv_unref(bs);
            }
        }
        g_clear_pointer(&image, g_free);
        model_free(&m);
    }
    g_rand_free(rng);
    tmpdir = g_steal_pointer(&dir);
    tmpdir_remove();
}

/*
 * Lazy mode may write an L2 table before the refcounts it needs at any moment after the
 * first allocating write, so by then the dirty bit must be on the disk, not only in the
 * volatile cache (a crash would leave a clean-looking image with missing refcounts). The
 * random crashes rarely hit that one window; this looks below the cache directly.
 */
static void test_lazy_dirty_bit_durable(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-powerfail-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "lazy.qcow2", NULL);
    g_autofree char *pfname = g_strconcat("powerfail:", path, NULL);
    Qcow2CreateOpts o = {.size = DISK_SIZE, .version = 3, .cluster_size = 65536,
                         .refcount_bits = 16, .lazy_refcounts = true};
    uint8_t buf[4096] = {0x5a}, incompat[8];
    BlockDriverState *bs;
    Error *err = NULL;

    g_assert_cmpint(qcow2_create_file(path, &o, &err), ==, 0);
    bs = open_image_fmt(pfname, "qcow2", BDRV_O_RDWR);
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(bdrv_pread(bs->file->file, 72, incompat, 8), ==, 0);
    g_assert_true(incompat[7] & QCOW2_INCOMPAT_DIRTY);
    bdrv_unref(bs);
    tmpdir = g_steal_pointer(&dir);
    tmpdir_remove();
}

/*
 * A rewrite of the backing file name that fails (its write may land in any of its
 * sectors, or none; or its flush fails, and the write is still in the disk's cache) must
 * leave the image naming the old backing file once the errors are over and the
 * image is flushed: the caller was told it failed. The name is long enough for the header
 * and extensions to span three sectors, so a torn write mixes them.
 */
static void test_change_backing_file_fails(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-powerfail-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "cbf.qcow2", NULL);
    g_autofree char *pfname = g_strconcat("powerfail:", path, NULL);
    g_autofree char *old_name = g_strnfill(700, 'o'), *new_name = g_strnfill(900, 'n');
    Qcow2CreateOpts o = {.size = DISK_SIZE, .version = 3, .cluster_size = 65536,
                         .refcount_bits = 16, .backing_file = old_name, .backing_fmt = "raw"};
    Error *err = NULL;

    for (unsigned seed = 1; seed <= 40; seed++) {
        GRand *rng = g_rand_new_with_seed(seed);
        BlockDriverState *bs;
        BDRVPowerfailState *pf;

        g_remove(path);
        g_assert_cmpint(qcow2_create_file(path, &o, &err), ==, 0);
        bs = open_image_fmt(pfname, "qcow2", BDRV_O_RDWR | BDRV_O_NO_BACKING);
        pf = bs->file->opaque;
        pf->rng = rng;
        pf->fail_from = pf->writes + pf->flushes + seed % 2; /* the write, or its flush */
        pf->fail_to = pf->fail_from + 1;
        pf->fail_p = 1.0;
        g_assert_cmpint(bdrv_change_backing_file(bs, new_name, "qcow2", &err), <, 0);
        error_free(err);
        err = NULL;
        pf_errors_off(bs->file);
        g_assert_cmpint(bdrv_flush(bs), ==, 0);
        g_assert_cmpstr(bs->backing_file, ==, old_name);
        bdrv_unref(bs);

        bs = open_image_fmt(path, "qcow2", BDRV_O_NO_BACKING);
        g_assert_cmpstr(bs->backing_file, ==, old_name);
        g_assert_cmpstr(bs->backing_format, ==, "raw");
        bdrv_unref(bs);
        g_rand_free(rng);
    }
    tmpdir = g_steal_pointer(&dir);
    tmpdir_remove();
}

/* Sanitizer builds run fewer seeds by default; `make check-slow` runs many more. */
#ifdef __SANITIZE_ADDRESS__
#define DEFAULT_SEEDS 12
#else
#define DEFAULT_SEEDS 32
#endif

static const unsigned ioerror_regressions[] = {37, 57};
static const unsigned powerfail_regressions[] = {102};

/* POWERFAIL_SEEDS seeds (default DEFAULT_SEEDS) from POWERFAIL_FIRST (default 1). */
int main(int argc, char **argv)
{
    const char *n = g_getenv("POWERFAIL_SEEDS"), *first = g_getenv("POWERFAIL_FIRST");
    unsigned from = first ? atoi(first) : 1, nseeds = n ? atoi(n) : DEFAULT_SEEDS;

    g_test_init(&argc, &argv, NULL);
    bdrv_register(&bdrv_powerfail);
    g_test_add_func("/qcow2/powerfail/lazy-dirty-bit-durable", test_lazy_dirty_bit_durable);
    g_test_add_func("/qcow2/ioerror/change-backing-file", test_change_backing_file_fails);
    g_test_add_func("/qcow2/powerfail/refcount-width-every-point",
                    test_refcount_width_every_point);
    add_seeds("seed", from, nseeds, 0);
    add_seeds("refcount-order-seed", from, nseeds / 4, RUN_ORDER);
    add_seeds("prealloc-seed", from, nseeds / 4, RUN_PREALLOC);
    /* Seeds past the default ones that found bugs, run by default too: 37 and 57, a snapshot
     * apply whose L1 write failed left the stored L1's COPIED flags in the active L1. */
    for (unsigned i = 0; !first && !n && i < G_N_ELEMENTS(ioerror_regressions); i++) {
        g_autofree char *ioname =
            g_strdup_printf("/qcow2/ioerror/seed-%u", ioerror_regressions[i]);

        g_test_add_data_func(ioname, GUINT_TO_POINTER(ioerror_regressions[i] | RUN_IOERROR),
                             test_run);
    }
    /* 102 crashes while a new refcount block is not yet durable but its refcount table entry
     * is (found with the block written without BDRV_REQ_FUA). */
    for (unsigned i = 0; !first && !n && i < G_N_ELEMENTS(powerfail_regressions); i++) {
        g_autofree char *name =
            g_strdup_printf("/qcow2/powerfail/seed-%u", powerfail_regressions[i]);

        g_test_add_data_func(name, GUINT_TO_POINTER(powerfail_regressions[i]), test_run);
    }
    return g_test_run();
}
