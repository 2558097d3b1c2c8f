/*
 * qcow2 internal snapshots (disk state only, no VM state): reading and writing the snapshot
 * table, and create / apply / delete with QEMU's refcount bookkeeping — every L2 table and
 * data cluster counts once per L1 path that reaches it, and the COPIED flags of the active
 * tree are recomputed after each change. Crash ordering: reference increments are durable
 * before anything points through them; a new snapshot table is written before the header
 * switches to it; references are dropped only after the header no longer names them, so an
 * interrupted operation leaks clusters at worst.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "block/qcow2.h"

#define SN_HEADER_LEN 40
#define SN_EXTRA_LEN 24
#define SN_MAX_EXTRA 1024

static uint64_t ld(const uint8_t *p, int len)
{
    uint64_t v = 0;

    for (int i = 0; i < len; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void st(uint8_t *p, uint64_t v, int len)
{
    for (int i = len - 1; i >= 0; i--) {
        p[i] = v & 0xff;
        v >>= 8;
    }
}

void qcow2_free_snapshots(BDRVQcow2State *s)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        g_free(s->snapshots[i].id);
        g_free(s->snapshots[i].name);
        g_free(s->snapshots[i].extra);
    }
    g_free(s->snapshots);
    s->snapshots = NULL;
    s->nb_snapshots = 0;
}

/* One entry at *off (advanced past it). */
static int read_entry(BlockDriverState *bs, uint64_t *off, Qcow2Snapshot *sn, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint8_t h[SN_HEADER_LEN];
    uint32_t id_len, name_len;
    int ret = bdrv_pread(bs->file, *off, h, sizeof(h));

    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to read snapshot table");
        return ret;
    }
    sn->l1_offset = ld(h, 8);
    sn->l1_size = ld(h + 8, 4);
    id_len = ld(h + 12, 2);
    name_len = ld(h + 14, 2);
    sn->date_sec = ld(h + 16, 4);
    sn->date_nsec = ld(h + 20, 4);
    sn->vm_clock_nsec = ld(h + 24, 8);
    sn->vm_state_size = ld(h + 32, 4);
    sn->extra_len = ld(h + 36, 4);
    sn->icount = UINT64_MAX;
    if (sn->extra_len > SN_MAX_EXTRA) {
        error_setg(errp, "Too much extra metadata in snapshot table entry");
        return -EFBIG;
    }
    /* An unaligned L1 offset opens, as in QEMU 7.2: only what uses that table refuses
     * (qcow2_snapshot_l1_ok), and the check reports the entry as corrupted. */
    if (sn->l1_size > QCOW2_MAX_L1_BYTES / 8) {
        error_setg(errp, "Snapshot L1 table offset invalid");
        return -EINVAL;
    }
    sn->extra = g_malloc0(sn->extra_len + 1);
    sn->id = g_malloc0(id_len + 1);
    sn->name = g_malloc0(name_len + 1);
    *off += SN_HEADER_LEN;
    if ((ret = bdrv_pread(bs->file, *off, sn->extra, sn->extra_len)) < 0 ||
        (ret = bdrv_pread(bs->file, *off + sn->extra_len, sn->id, id_len)) < 0 ||
        (ret = bdrv_pread(bs->file, *off + sn->extra_len + id_len, sn->name, name_len)) < 0) {
        error_setg_errno(errp, -ret, "Failed to read snapshot table");
        return ret;
    }
    if (sn->extra_len >= 16) {
        sn->vm_state_size = ld(sn->extra, 8) ? ld(sn->extra, 8) : sn->vm_state_size;
        sn->disk_size = ld(sn->extra + 8, 8);
    } else {
        sn->disk_size = s->h.size;
    }
    if (sn->extra_len >= 24) {
        sn->icount = ld(sn->extra + 16, 8);
    }
    *off += sn->extra_len + id_len + name_len;
    return 0;
}

int qcow2_read_snapshots(BlockDriverState *bs, BDRVQcow2State *s, Error **errp)
{
    uint64_t off = s->h.snapshots_offset;
    int64_t file_len = bdrv_getlength(bs->file);

    s->snapshots = g_new0(Qcow2Snapshot, s->h.nb_snapshots);
    s->nb_snapshots = s->h.nb_snapshots;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        int ret = read_entry(bs, &off, &s->snapshots[i], errp);
        if (ret < 0) {
            return ret;
        }
        if (file_len >= 0 && off > (uint64_t)file_len) {
            error_setg(errp, "Snapshot table exceeds the image file");
            return -EINVAL;
        }
        /* Entries start 8-byte aligned; the last one's padding may be missing. */
        off = i + 1 < s->nb_snapshots ? (off + 7) & ~UINT64_C(7) : off;
    }
    s->snapshots_size = off - s->h.snapshots_offset;
    return 0;
}

int qcow2_find_snapshot(BDRVQcow2State *s, const char *name)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (!strcmp(s->snapshots[i].id, name)) {
            return i;
        }
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (!strcmp(s->snapshots[i].name, name)) {
            return i;
        }
    }
    return -1;
}

static GByteArray *serialize(const Qcow2Snapshot *sn, uint32_t n)
{
    GByteArray *b = g_byte_array_new();

    for (uint32_t i = 0; i < n; i++) {
        uint32_t id_len = strlen(sn[i].id), name_len = strlen(sn[i].name);
        uint32_t len = SN_HEADER_LEN + sn[i].extra_len + id_len + name_len;
        uint8_t *e = g_malloc0((len + 7) & ~7U);
        st(e, sn[i].l1_offset, 8);
        st(e + 8, sn[i].l1_size, 4);
        st(e + 12, id_len, 2);
        st(e + 14, name_len, 2);
        st(e + 16, sn[i].date_sec, 4);
        st(e + 20, sn[i].date_nsec, 4);
        st(e + 24, sn[i].vm_clock_nsec, 8);
        st(e + 32, sn[i].vm_state_size > UINT32_MAX ? 0 : sn[i].vm_state_size, 4);
        st(e + 36, sn[i].extra_len, 4);
        memcpy(e + SN_HEADER_LEN, sn[i].extra, sn[i].extra_len);
        memcpy(e + SN_HEADER_LEN + sn[i].extra_len, sn[i].id, id_len);
        memcpy(e + SN_HEADER_LEN + sn[i].extra_len + id_len, sn[i].name, name_len);
        g_byte_array_append(b, e, (len + 7) & ~7U);
        g_free(e);
    }
    return b;
}

/* Write sn[0..n) as the new table, switch the header to it, free the old one. */
static int write_table(BlockDriverState *bs, const Qcow2Snapshot *sn, uint32_t n)
{
    BDRVQcow2State *s = bs->opaque;
    g_autoptr(GByteArray) b = serialize(sn, n);
    uint64_t old_off = s->h.snapshots_offset, old_size = s->snapshots_size;
    int64_t off = 0;
    int ret;

    if (b->len) {
        off = qcow2_alloc_clusters(bs, (b->len + s->cluster_size - 1) >> s->cluster_bits);
        if (off < 0) {
            return off;
        }
        ret = qcow2_pwrite_checked(bs, 0, off, b->data, b->len, false);
        if (ret < 0) {
            return ret;
        }
    }
    ret = qcow2_flush_metadata(bs);
    if (ret < 0 || (ret = bdrv_flush(bs->file)) < 0 ||
        (ret = qcow2_write_snapshot_location(bs, n, off)) < 0 ||
        (ret = bdrv_flush(bs->file)) < 0) {
        return ret;
    }
    s->h.snapshots_offset = off;
    s->h.nb_snapshots = n;
    s->snapshots_size = b->len;
    return old_size ? qcow2_free_clusters(bs, old_off, old_size) : 0;
}

/* Add delta to the references of every L2 table and data cluster l1 reaches. */
static int update_tree(BlockDriverState *bs, const uint64_t *l1, uint32_t l1_size, int delta)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint64_t *l2 = g_malloc(s->cluster_size);
    int ret;

    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t l2_off = l1[i] & L1E_OFFSET_MASK, *t, off, len;
        if (!l2_off) {
            continue;
        }
        if ((ret = qcow2_cache_get(s->l2_cache, l2_off, (void **)&t, true)) < 0) {
            return ret;
        }
        memcpy(l2, t, s->cluster_size);
        for (uint64_t j = 0; j < (1ULL << s->l2_bits); j++) {
            uint64_t e = GUINT64_FROM_BE(l2[j]);
            switch (qcow2_entry_type(s, e)) {
            case QCOW2_CLUSTER_NORMAL:
            case QCOW2_CLUSTER_ZERO_ALLOC:
                ret = qcow2_update_refcount(bs, (e & L2E_OFFSET_MASK) >> s->cluster_bits, delta);
                break;
            case QCOW2_CLUSTER_COMPRESSED:
                qcow2_compressed_range(s, e, &off, &len);
                for (uint64_t c = off >> s->cluster_bits;
                     ret >= 0 && c <= (off + len - 1) >> s->cluster_bits; c++) {
                    ret = qcow2_update_refcount(bs, c, delta);
                }
                break;
            default:
                ret = 0;
            }
            if (ret < 0) {
                return ret;
            }
        }
        if ((ret = qcow2_update_refcount(bs, l2_off >> s->cluster_bits, delta)) < 0) {
            return ret;
        }
    }
    return 0;
}

static uint64_t with_copied(uint64_t e, uint64_t rc)
{
    return rc == 1 ? e | QCOW_OFLAG_COPIED : e & ~QCOW_OFLAG_COPIED;
}

/* COPIED exactly where the refcount is 1, in the active L1 and the L2 tables it reaches. */
static int set_copied_flags(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    for (uint32_t i = 0; i < s->l1_size; i++) {
        uint64_t l2_off = s->l1_table[i] & L1E_OFFSET_MASK, *t, rc;
        int ret;
        if (!l2_off) {
            continue;
        }
        if ((ret = qcow2_get_refcount(bs, l2_off >> s->cluster_bits, &rc)) < 0) {
            return ret;
        }
        s->l1_table[i] = with_copied(s->l1_table[i], rc);
        s->l1_dirty = true;
        for (uint64_t j = 0; j < (1ULL << s->l2_bits); j++) {
            uint64_t e;
            if ((ret = qcow2_cache_get(s->l2_cache, l2_off, (void **)&t, true)) < 0) {
                return ret;
            }
            e = GUINT64_FROM_BE(t[j]);
            Qcow2ClusterType type = qcow2_entry_type(s, e);
            if (type != QCOW2_CLUSTER_NORMAL && type != QCOW2_CLUSTER_ZERO_ALLOC) {
                continue;
            }
            if ((ret = qcow2_get_refcount(bs, (e & L2E_OFFSET_MASK) >> s->cluster_bits,
                                          &rc)) < 0) {
                return ret;
            }
            if (with_copied(e, rc) != e) {
                t[j] = GUINT64_TO_BE(with_copied(e, rc));
                qcow2_cache_mark_dirty(s->l2_cache, t);
            }
        }
    }
    return 0;
}

bool qcow2_snapshot_l1_ok(const BDRVQcow2State *s, const Qcow2Snapshot *sn)
{
    return !(sn->l1_offset & (s->cluster_size - 1));
}

/* Snapshot idx exists but its L1 table cannot be used: QEMU's error, and true. */
static bool refuse_bad_l1(BDRVQcow2State *s, int idx, Error **errp)
{
    if (idx < 0 || qcow2_snapshot_l1_ok(s, &s->snapshots[idx])) {
        return false;
    }
    error_setg(errp, "Snapshot L1 table offset invalid");
    return true;
}

static int load_l1(BlockDriverState *bs, const Qcow2Snapshot *sn, uint64_t **l1)
{
    return qcow2_load_table(bs, sn->l1_offset, sn->l1_size, l1);
}

static char *next_id(BDRVQcow2State *s)
{
    uint64_t max = 0;

    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        max = MAX(max, g_ascii_strtoull(s->snapshots[i].id, NULL, 10));
    }
    return g_strdup_printf("%" PRIu64, max + 1);
}

static int create_locked(BlockDriverState *bs, const char *name, uint64_t vm_clock_nsec)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l1_bytes = (uint64_t)s->l1_size * 8;
    g_autofree uint64_t *be = g_new0(uint64_t, MAX(s->l1_size, 1));
    Qcow2Snapshot *all, *sn;
    gint64 now = g_get_real_time();
    int64_t l1_off;
    int ret;

    if ((ret = qcow2_flush_metadata(bs)) < 0) {
        return ret;
    }
    l1_off = l1_bytes ? qcow2_alloc_clusters(bs, (l1_bytes + s->cluster_size - 1) >>
                                                     s->cluster_bits) : 0;
    if (l1_off < 0) {
        return l1_off;
    }
    for (uint32_t i = 0; i < s->l1_size; i++) {
        be[i] = GUINT64_TO_BE(s->l1_table[i]);
    }
    if ((ret = qcow2_pwrite_checked(bs, 0, l1_off, be, l1_bytes, false)) < 0 ||
        (ret = update_tree(bs, s->l1_table, s->l1_size, 1)) < 0 ||
        (ret = set_copied_flags(bs)) < 0) {
        return ret;
    }
    all = g_new0(Qcow2Snapshot, s->nb_snapshots + 1);
    if (s->nb_snapshots) {
        memcpy(all, s->snapshots, s->nb_snapshots * sizeof(*all));
    }
    sn = &all[s->nb_snapshots];
    *sn = (Qcow2Snapshot){ .l1_offset = l1_off, .l1_size = s->l1_size, .id = next_id(s),
                           .name = g_strdup(name), .date_sec = now / G_USEC_PER_SEC,
                           .date_nsec = now % G_USEC_PER_SEC * 1000,
                           .vm_clock_nsec = vm_clock_nsec, .disk_size = s->h.size,
                           .icount = 0, .extra_len = SN_EXTRA_LEN };
    sn->extra = g_malloc0(SN_EXTRA_LEN);
    st(sn->extra + 8, s->h.size, 8);
    ret = write_table(bs, all, s->nb_snapshots + 1);
    if (ret < 0) {
        g_free(sn->id);
        g_free(sn->name);
        g_free(sn->extra);
        g_free(all);
        return ret;
    }
    g_free(s->snapshots);
    s->snapshots = all;
    s->nb_snapshots++;
    return qcow2_flush_metadata(bs);
}

int qcow2_snapshot_create(BlockDriverState *bs, const char *name, uint64_t vm_clock_nsec,
                          Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2DiscardType why;
    int ret;

    g_mutex_lock(&s->lock);
    why = qcow2_discard_type_set(s, QCOW2_DISCARD_SNAPSHOT);
    ret = s->writable ? create_locked(bs, name, vm_clock_nsec) : -EACCES;
    qcow2_discard_type_set(s, why);
    g_mutex_unlock(&s->lock);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not create snapshot '%s'", name);
    }
    return ret;
}

static int apply_locked(BlockDriverState *bs, const Qcow2Snapshot *sn)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint64_t *l1 = NULL, *old = NULL;
    uint32_t old_size = s->l1_size;
    int ret;

    if ((ret = qcow2_flush_metadata(bs)) < 0 || (ret = load_l1(bs, sn, &l1)) < 0) {
        return ret;
    }
    if (sn->l1_size > s->l1_size && (ret = qcow2_grow_l1(bs, sn->l1_size)) < 0) {
        return ret;
    }
    if ((ret = update_tree(bs, l1, sn->l1_size, 1)) < 0 ||
        (ret = qcow2_flush_metadata(bs)) < 0 || (ret = bdrv_flush(bs->file)) < 0) {
        return ret;
    }
    old = g_memdup2(s->l1_table, (uint64_t)s->l1_size * 8);
    old_size = s->l1_size;
    memset(s->l1_table, 0, (uint64_t)s->l1_size * 8);
    /* Every table is shared with the snapshot now: no COPIED flag, whatever the stored L1
     * says (it was written before create's flags were set), until set_copied_flags below
     * finds tables only this L1 uses. Should that not be reached, no write may go in place. */
    for (uint32_t i = 0; i < sn->l1_size; i++) {
        s->l1_table[i] = l1[i] & ~QCOW_OFLAG_COPIED;
    }
    s->l1_dirty = true;
    if ((ret = qcow2_flush_metadata(bs)) < 0 || (ret = bdrv_flush(bs->file)) < 0 ||
        (ret = update_tree(bs, old, old_size, -1)) < 0 || (ret = set_copied_flags(bs)) < 0) {
        return ret;
    }
    if (sn->disk_size != s->h.size) {
        if ((ret = qcow2_write_size(bs, sn->disk_size)) < 0) {
            return ret;
        }
        s->h.size = sn->disk_size;
    }
    return qcow2_flush_metadata(bs);
}

int qcow2_snapshot_apply(BlockDriverState *bs, const char *name, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2DiscardType why;
    int idx, ret;

    g_mutex_lock(&s->lock);
    idx = qcow2_find_snapshot(s, name);
    if (refuse_bad_l1(s, idx, errp)) {
        g_mutex_unlock(&s->lock);
        return -EINVAL;
    }
    why = qcow2_discard_type_set(s, QCOW2_DISCARD_SNAPSHOT);
    qcow2_discard_batch_begin(s);
    ret = idx < 0 ? -ENOENT : s->writable ? apply_locked(bs, &s->snapshots[idx]) : -EACCES;
    qcow2_discard_batch_end(bs);
    qcow2_discard_type_set(s, why);
    g_mutex_unlock(&s->lock);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to load snapshot");
    }
    return ret;
}

static int delete_locked(BlockDriverState *bs, int idx)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2Snapshot sn = s->snapshots[idx];
    g_autofree uint64_t *l1 = NULL;
    int ret;

    if ((ret = qcow2_flush_metadata(bs)) < 0 || (ret = load_l1(bs, &sn, &l1)) < 0) {
        return ret;
    }
    memmove(&s->snapshots[idx], &s->snapshots[idx + 1],
            (s->nb_snapshots - idx - 1) * sizeof(sn));
    ret = write_table(bs, s->snapshots, s->nb_snapshots - 1);
    if (ret < 0) {
        memmove(&s->snapshots[idx + 1], &s->snapshots[idx],
                (s->nb_snapshots - idx - 1) * sizeof(sn));
        s->snapshots[idx] = sn;
        return ret;
    }
    s->nb_snapshots--;
    g_free(sn.id);
    g_free(sn.name);
    g_free(sn.extra);
    if ((ret = update_tree(bs, l1, sn.l1_size, -1)) < 0 ||
        (sn.l1_size &&
         (ret = qcow2_free_clusters(bs, sn.l1_offset, (uint64_t)sn.l1_size * 8)) < 0) ||
        (ret = set_copied_flags(bs)) < 0) {
        return ret;
    }
    return qcow2_flush_metadata(bs);
}

int qcow2_snapshot_delete(BlockDriverState *bs, const char *name, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2DiscardType why;
    int idx, ret;

    g_mutex_lock(&s->lock);
    idx = qcow2_find_snapshot(s, name);
    if (refuse_bad_l1(s, idx, errp)) {
        g_mutex_unlock(&s->lock);
        return -EINVAL;
    }
    why = qcow2_discard_type_set(s, QCOW2_DISCARD_SNAPSHOT);
    qcow2_discard_batch_begin(s); /* one file discard per run of freed clusters */
    ret = idx < 0 ? -ENOENT : s->writable ? delete_locked(bs, idx) : -EACCES;
    qcow2_discard_batch_end(bs);
    qcow2_discard_type_set(s, why);
    g_mutex_unlock(&s->lock);
    if (ret == -ENOENT) {
        error_setg(errp, "snapshot not found");
    } else if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to delete snapshot");
    }
    return ret;
}

/* The active L1 is replaced in memory only: the node is read-only, nothing is written. Ids
 * are unique, and qcow2_find_snapshot tries every id before any name. */
int qcow2_snapshot_load_tmp(BlockDriverState *bs, const char *id, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t *l1 = NULL;
    int idx, ret;

    g_mutex_lock(&s->lock);
    idx = qcow2_find_snapshot(s, id);
    if (refuse_bad_l1(s, idx, errp)) {
        g_mutex_unlock(&s->lock);
        return -EINVAL;
    }
    ret = idx < 0 ? -ENOENT : load_l1(bs, &s->snapshots[idx], &l1);
    if (ret >= 0) {
        g_free(s->l1_table);
        s->l1_table = l1;
        s->l1_size = s->snapshots[idx].l1_size;
        s->l1_offset = s->snapshots[idx].l1_offset;
    } else {
        g_free(l1);
    }
    g_mutex_unlock(&s->lock);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to load snapshot");
    }
    return ret < 0 ? ret : 0;
}

int qcow2_snapshot_list(BlockDriverState *bs, BlockSnapshotInfo **list)
{
    BDRVQcow2State *s = bs->opaque;
    BlockSnapshotInfo *l;

    g_mutex_lock(&s->lock);
    l = s->nb_snapshots ? g_new0(BlockSnapshotInfo, s->nb_snapshots) : NULL;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const Qcow2Snapshot *sn = &s->snapshots[i];
        l[i] = (BlockSnapshotInfo){
            .id = g_strdup(sn->id), .name = g_strdup(sn->name),
            .vm_state_size = sn->vm_state_size, .date_sec = sn->date_sec,
            .date_nsec = sn->date_nsec, .vm_clock_nsec = sn->vm_clock_nsec,
            .icount = sn->icount,
        };
    }
    *list = l;
    g_mutex_unlock(&s->lock);
    return s->nb_snapshots;
}
