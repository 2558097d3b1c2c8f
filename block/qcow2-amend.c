/*
 * qcow2's option amendment (minivmm-img amend, qemu-img 7.2's messages): compat=0.10|1.1
 * (upgrade; downgrade after turning every zero cluster, active or in a snapshot, into
 * plain clusters), lazy_refcounts=on|off, refcount_bits (qcow2-refcount-rewrite.c), and a
 * check of what cannot change here (backing_file/backing_fmt: rebase's business). size=
 * resizes through the core, between the upgrade and the downgrade as QEMU orders them. Not
 * the command line (tools/img/amend.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "block/qcow2.h"
#include "util/qdict.h"

typedef struct AmendOpts {
    uint32_t version; /* the version asked for (the current one by default) */
    int lazy;         /* lazy_refcounts: 0, 1, or -1 when not given */
    int order;        /* the refcount order asked for (the current one by default) */
    uint64_t size;    /* 0: unchanged (size=0 too, as qemu-img reads it) */
} AmendOpts;

static bool parse_compat(BDRVQcow2State *s, JsonObject *opts, AmendOpts *a, Error **errp)
{
    const char *compat = dict_get_str(opts, "compat");

    a->version = s->h.version;
    if (!compat) {
        return true;
    }
    if (!strcmp(compat, "0.10") || !strcmp(compat, "v2")) {
        a->version = 2;
    } else if (!strcmp(compat, "1.1") || !strcmp(compat, "v3")) {
        a->version = 3;
    } else {
        error_setg(errp, "Unknown compatibility level %s", compat);
        return false;
    }
    return true;
}

static bool parse_opts(BlockDriverState *bs, JsonObject *opts, AmendOpts *a, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    const char *file = dict_get_str(opts, "backing_file");
    const char *fmt = dict_get_str(opts, "backing_fmt");
    int64_t bits;

    if ((file && g_strcmp0(file, s->backing_file)) || (fmt && g_strcmp0(fmt, s->backing_format))) {
        error_setg(errp, "Cannot amend the backing file\nYou can use '%s rebase' instead.",
                   g_get_prgname() ? g_get_prgname() : "qemu-img");
        return false;
    }
    if (!parse_compat(s, opts, a, errp)) {
        return false;
    }
    a->lazy =
        dict_has(opts, "lazy_refcounts") ? dict_get_bool(opts, "lazy_refcounts", false, NULL) : -1;
    if (a->lazy == 1 && a->version < 3) {
        error_setg(errp, "Lazy refcounts only supported with compatibility level 1.1 and above "
                         "(use compat=1.1 or greater)");
        return false;
    }
    bits = dict_get_int(opts, "refcount_bits", 1 << s->refcount_order, NULL);
    if (!qcow2_check_refcount_width(bits < 0 ? 0 : (uint64_t)bits, errp)) {
        return false;
    }
    if (!dict_has(opts, "refcount_bits") && a->version < 3 && bits != 16) {
        error_setg(errp, "compat=0.10 requires refcount_bits=16");
        return false;
    }
    if (a->version < 3 && bits != 16) {
        error_setg(errp, "Refcount widths other than 16 bits require compatibility level 1.1 "
                         "or above (use compat=1.1 or greater)");
        return false;
    }
    a->order = __builtin_ctzll(bits);
    /* QEMU resizes before it downgrades: only an image staying v2 cannot be resized. */
    a->size = dict_get_int(opts, "size", 0, NULL);
    if (a->size && s->h.version < 3 && a->version < 3 && !qcow2_can_resize(s, errp)) {
        return false;
    }
    return true;
}

/* The data cluster replacing a plain zero cluster (guest offset guest) behind an L2 table
 * referenced rc times: zeroes written, refcount rc. Returns its L2 entry, 0 on error (*ret
 * set). */
static uint64_t zero_cluster_for(BlockDriverState *bs, uint64_t guest, uint64_t rc, int *ret)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t off = qcow2_alloc_clusters(bs, 1);

    *ret = off < 0 ? off : 0;
    if (*ret == 0 && rc > 1) {
        *ret = qcow2_update_refcount(bs, off >> s->cluster_bits, rc - 1);
    }
    if (*ret == 0 && (*ret = qcow2_check_overlap(bs, 0, off, s->cluster_size)) == 0) {
        *ret = qcow2_write_zero_cluster(bs, off, guest);
    }
    return *ret < 0 ? 0 : (uint64_t)off | (rc == 1 ? QCOW_OFLAG_COPIED : 0);
}

/* References an expansion took from a cluster, dropped once the L2 tables are durable. */
typedef struct Unref {
    uint64_t cluster, n;
} Unref;

/* A zero cluster's entry without the zero flag: unallocated without a backing file (reads
 * as zeroes), else a new cluster of zeroes, for L2 tables referenced rc times. */
static uint64_t plain_zero_entry(BlockDriverState *bs, uint64_t guest, uint64_t rc, int *ret)
{
    BDRVQcow2State *s = bs->opaque;

    return s->backing_file ? zero_cluster_for(bs, guest, rc, ret) : 0;
}

/*
 * A preallocated zero cluster: its own host cluster zeroed and the flag dropped, unless
 * something else (a snapshot's L2 table) still references that host cluster for its data:
 * then a plain zero entry, and this table's rc references to it are dropped afterwards.
 */
static uint64_t expand_zero_alloc(BlockDriverState *bs, uint64_t e, uint64_t guest, uint64_t rc,
                                  GArray *unrefs, int *ret)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t host = e & L2E_OFFSET_MASK, data_rc, n;

    if ((*ret = qcow2_get_refcount(bs, host >> s->cluster_bits, &data_rc)) < 0) {
        return e;
    }
    if (data_rc <= rc) {
        *ret = qcow2_check_overlap(bs, 0, host, s->cluster_size);
        *ret = *ret < 0 ? *ret : qcow2_write_zero_cluster(bs, host, guest);
        return e & ~QCOW_OFLAG_ZERO;
    }
    n = plain_zero_entry(bs, guest, rc, ret);
    if (*ret >= 0) {
        Unref u = {host >> s->cluster_bits, rc};
        g_array_append_val(unrefs, u);
    }
    return *ret < 0 ? e : n;
}

/* The entry that reads the same as zero cluster e (guest offset guest) without the zero flag
 * (v2 has none). */
static uint64_t expanded_entry(BlockDriverState *bs, uint64_t e, uint64_t guest, uint64_t rc,
                               GArray *unrefs, int *ret)
{
    BDRVQcow2State *s = bs->opaque;

    *ret = 0;
    switch (qcow2_entry_type(s, e)) {
    case QCOW2_CLUSTER_ZERO_PLAIN:
        return plain_zero_entry(bs, guest, rc, ret);
    case QCOW2_CLUSTER_ZERO_ALLOC:
        return expand_zero_alloc(bs, e, guest, rc, unrefs, ret);
    default:
        return e;
    }
}

/* The L2 table at l2_off, mapping the guest clusters from guest on. */
static int expand_l2(BlockDriverState *bs, uint64_t l2_off, uint64_t guest, GArray *unrefs)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t rc, *l2;
    int ret = qcow2_get_refcount(bs, l2_off >> s->cluster_bits, &rc);

    ret = ret < 0 ? ret : qcow2_cache_get(s->l2_cache, l2_off, (void **)&l2, true);
    for (uint64_t i = 0; ret >= 0 && i < (1ULL << s->l2_bits); i++) {
        uint64_t e = GUINT64_FROM_BE(l2[i]);
        uint64_t n = expanded_entry(bs, e, guest + (i << s->cluster_bits), rc, unrefs, &ret);

        if (ret >= 0 && n != e) {
            l2[i] = GUINT64_TO_BE(n);
            qcow2_cache_mark_dirty(s->l2_cache, l2);
        }
    }
    return ret;
}

static int expand_l1(BlockDriverState *bs, const uint64_t *l1, uint32_t n, GArray *unrefs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;

    for (uint32_t i = 0; i < n && ret >= 0; i++) {
        if (l1[i] & L1E_OFFSET_MASK) {
            uint64_t guest = (uint64_t)i << (s->cluster_bits + s->l2_bits);
            ret = expand_l2(bs, l1[i] & L1E_OFFSET_MASK, guest, unrefs);
        }
    }
    return ret;
}

static int flush_all(BlockDriverState *bs)
{
    int ret = qcow2_flush_metadata(bs);

    return ret < 0 ? ret : bdrv_flush(bs->file);
}

/* Every zero cluster, in the active tree and every snapshot's, made a plain one. The new
 * entries are durable before any reference they replaced is dropped. */
static int expand_zero_clusters(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    g_autoptr(GArray) unrefs = g_array_new(false, false, sizeof(Unref));
    int ret = expand_l1(bs, s->l1_table, s->l1_size, unrefs);

    for (uint32_t i = 0; i < s->nb_snapshots && ret >= 0; i++) {
        g_autofree uint64_t *l1 = NULL;
        ret = qcow2_load_table(bs, s->snapshots[i].l1_offset, s->snapshots[i].l1_size, &l1);
        ret = ret < 0 ? ret : expand_l1(bs, l1, s->snapshots[i].l1_size, unrefs);
    }
    ret = ret < 0 ? ret : flush_all(bs);
    for (guint i = 0; i < unrefs->len && ret >= 0; i++) {
        Unref *u = &g_array_index(unrefs, Unref, i);
        ret = qcow2_update_refcount(bs, u->cluster, -(int64_t)u->n);
    }
    return ret < 0 || !unrefs->len ? ret : flush_all(bs);
}

/* Refcounts made exact (the dirty bit cleared) and lazy refcounts off. */
static int amend_lazy_off(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = flush_all(bs);

    if (ret >= 0 && (s->h.incompatible_features & QCOW2_INCOMPAT_DIRTY)) {
        ret = qcow2_update_incompat(bs, s->h.incompatible_features & ~QCOW2_INCOMPAT_DIRTY);
    }
    s->lazy_refcounts = false;
    s->use_lazy_refcounts = false;
    if (ret >= 0 && (s->h.compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS)) {
        ret = qcow2_update_compat(bs, s->h.compatible_features & ~QCOW2_COMPAT_LAZY_REFCOUNTS);
    }
    return ret;
}

static int amend_downgrade(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t incompat = s->h.incompatible_features & ~QCOW2_INCOMPAT_DIRTY;
    int ret;

    if (incompat) {
        error_setg(errp, "Cannot downgrade an image with incompatible features %#" PRIx64 " set",
                   incompat);
        return -ENOTSUP;
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) { /* its zero clusters cannot be found */
        if (!qcow2_snapshot_l1_ok(s, &s->snapshots[i])) {
            error_setg(errp, "Snapshot L1 table offset invalid");
            return -EINVAL;
        }
    }
    ret = amend_lazy_off(bs);
    ret = ret < 0 ? ret : expand_zero_clusters(bs);
    ret = ret < 0 ? ret : qcow2_rewrite_header(bs, 2);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to downgrade the image");
    }
    return ret;
}

/* The steps before a resize: upgrade, refcount width, lazy refcounts. */
static int amend_locked(BlockDriverState *bs, const AmendOpts *a, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;

    if (a->version > s->h.version && (ret = qcow2_rewrite_header(bs, a->version)) < 0) {
        error_setg_errno(errp, -ret, "Failed to upgrade the image");
        return ret;
    }
    if (a->order != s->refcount_order &&
        (ret = qcow2_change_refcount_order(bs, a->order, false, errp)) < 0) {
        return ret;
    }
    if (a->lazy == 1 && !(s->h.compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS)) {
        ret = qcow2_update_compat(bs, s->h.compatible_features | QCOW2_COMPAT_LAZY_REFCOUNTS);
        s->use_lazy_refcounts = ret >= 0;
    } else if (a->lazy == 0) {
        ret = amend_lazy_off(bs);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to change the lazy refcounts setting");
    }
    return ret;
}

int qcow2_amend(BlockDriverState *bs, JsonObject *opts, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    AmendOpts a;
    int ret;

    if (!parse_opts(bs, opts, &a, errp)) {
        return -EINVAL;
    }
    if (!s->writable) {
        error_setg(errp, "Image is read-only");
        return -EACCES;
    }
    g_mutex_lock(&s->lock);
    qcow2_wait_unlocked_io(bs);
    /* A refcount the new width cannot hold refuses the whole amendment, before any change. */
    ret = a.order == s->refcount_order ? 0 : qcow2_change_refcount_order(bs, a.order, true, errp);
    ret = ret < 0 ? ret : amend_locked(bs, &a, errp);
    g_mutex_unlock(&s->lock);
    /* QEMU's order: the size changes before a downgrade (v2 images with snapshots
     * cannot be resized). */
    if (ret >= 0 && a.size) {
        ret = bdrv_resize(bs, a.size, true, PREALLOC_MODE_OFF, errp);
    }
    if (ret >= 0 && a.version < s->h.version) {
        g_mutex_lock(&s->lock);
        ret = amend_downgrade(bs, errp);
        g_mutex_unlock(&s->lock);
    }
    return ret;
}

const char *const qcow2_amend_opts[] = {
    "backing_file", "backing_fmt", "compat", "lazy_refcounts", "refcount_bits", "size", NULL,
};
