/*
 * qcow2 consistency check and refcount rebuild: count every reference the metadata makes
 * (header, refcount table and blocks, active and snapshot L1 tables, L2 tables and data
 * clusters once per path through which they are reached, snapshot table), compare with the
 * stored refcounts, and check the COPIED flags of the active tree. Messages and outcome
 * counters are qemu-img check's. With fix flags it rewrites refcounts (leaks and/or errors)
 * and COPIED flags; the dirty-image repair at open is the same pass with everything fixed.
 * A broken refcount structure (a refcount table entry with reserved bits, unaligned or
 * outside the file, or a refcount block that is also something else) is not repaired
 * entry by entry: as QEMU, the repair rebuilds the whole structure from the counted
 * references (qcow2-refcount-rewrite.c) and checks again.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "block/qcow2.h"

typedef struct CheckState {
    BlockDriverState *bs;
    BDRVQcow2State *s;
    Qcow2CheckResult *res;
    void (*report)(const char *msg);
    uint64_t *refs;           /* nb_clusters + 1: a reference may end in the cluster past EOF */
    uint64_t nb_clusters;
    uint64_t file_len;
    uint64_t next_contiguous; /* fragmentation statistics of the active tree */
    bool grow;                /* QCOW2_FIX_LOST_TAIL: references past the end are not errors */
    uint64_t grow_limit;      /* ... up to this many clusters (lost_tail_limit) */
    uint64_t past_end;        /* ... the file must have this many clusters to hold them */
    uint64_t past_refs;       /* ... and this many references reach past the end */
    bool rebuild;             /* the refcount structure itself is broken */
    int fix;                  /* QCOW2_FIX_* the walk itself may repair (a writable image) */
    void (*repair_report)(const char *msg); /* repairs are reported on every pass */
    uint64_t entries_fixed;   /* L2 entries the walk repaired (survives count_refs' reset) */
} CheckState;

static void G_GNUC_PRINTF(2, 3) check_report(CheckState *cs, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    if (!cs->report) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    cs->report(msg);
}

static void refs_past_end(CheckState *cs, uint64_t offset, uint64_t size)
{
    check_report(cs, "ERROR: counting reference for region exceeding the end of the file by "
                     "one cluster or more: offset 0x%" PRIx64 " size 0x%" PRIx64, offset, size);
    cs->res->corruptions++;
}

/*
 * As QEMU: a region ending less than a cluster past the end of the file is counted (the
 * cluster it ends in, past EOF, then has no refcount: an error of its own); one reaching a
 * cluster or more past it is refused whole. A lost tail (cs->grow) is counted apart.
 */
static void inc_refs(CheckState *cs, uint64_t offset, uint64_t size)
{
    BDRVQcow2State *s = cs->s;
    uint64_t end = offset + size;
    bool beyond = end > cs->file_len && end - cs->file_len >= s->cluster_size;

    if (!size) {
        return;
    }
    if (beyond && !cs->grow) {
        refs_past_end(cs, offset, size);
        return;
    }
    for (uint64_t c = offset >> s->cluster_bits; c <= (end - 1) >> s->cluster_bits; c++) {
        if (c >= cs->nb_clusters && cs->grow && c < cs->grow_limit) {
            cs->past_end = MAX(cs->past_end, ((end - 1) >> s->cluster_bits) + 1);
            cs->past_refs += ((end - 1) >> s->cluster_bits) - c + 1;
            return;
        }
        if (c >= cs->nb_clusters && (beyond || c > cs->nb_clusters)) {
            refs_past_end(cs, offset, size);
            return;
        }
        cs->refs[c]++;
    }
}

/* The clusters counted: the file's, and the one past its end when a reference reaches it. */
static uint64_t counted_clusters(const CheckState *cs)
{
    return cs->nb_clusters + (cs->refs[cs->nb_clusters] != 0);
}

/*
 * As qemu-img's repair: a preallocated zero cluster whose offset is not cluster aligned
 * becomes a plain zero cluster (it held no data), written through at once so that the next
 * pass finds it fixed. True when done; its reference is then not counted.
 */
static bool fix_unaligned_prealloc(CheckState *cs, uint64_t l2_off, uint64_t i, uint64_t off)
{
    BDRVQcow2State *s = cs->s;
    g_autofree char *msg = NULL;
    uint64_t *l2;

    if (!(cs->fix & QCOW2_FIX_ERRORS)) {
        return false;
    }
    msg = g_strdup_printf("Repairing offset=%" PRIx64 ": Preallocated cluster is not properly "
                          "aligned; L2 entry corrupted.", off);
    if (cs->repair_report) {
        cs->repair_report(msg);
    }
    if (qcow2_cache_get(s->l2_cache, l2_off, (void **)&l2, true) < 0) {
        return false;
    }
    l2[i] = GUINT64_TO_BE(QCOW_OFLAG_ZERO);
    qcow2_cache_mark_dirty(s->l2_cache, l2);
    if (qcow2_cache_write(s->l2_cache) < 0) {
        check_report(cs, "ERROR: Failed to overwrite L2 table entry");
        cs->res->check_errors++;
        return false;
    }
    cs->entries_fixed++;
    return true;
}

static int walk_l2(CheckState *cs, uint64_t l2_off, bool active)
{
    BDRVQcow2State *s = cs->s;
    g_autofree uint64_t *l2 = g_malloc(s->cluster_size);
    uint64_t n = 1ULL << s->l2_bits, off, len;
    int ret = bdrv_pread(cs->bs->file, l2_off, l2, s->cluster_size);

    if (ret < 0) {
        check_report(cs, "ERROR: I/O error in check_refcounts_l2");
        cs->res->check_errors++;
        return ret;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = GUINT64_FROM_BE(l2[i]);
        Qcow2ClusterType type = qcow2_entry_type(s, e);
        if (type != QCOW2_CLUSTER_COMPRESSED && (e & L2E_STD_RESERVED_MASK)) {
            check_report(cs, "ERROR found l2 entry with reserved bits set: %" PRIx64, e);
            cs->res->corruptions++;
        }
        switch (type) {
        case QCOW2_CLUSTER_COMPRESSED:
            if (e & QCOW_OFLAG_COPIED) {
                check_report(cs, "ERROR: coffset=0x%" PRIx64 ": copied flag must never be set "
                                 "for compressed clusters", e & s->cluster_offset_mask);
                cs->res->corruptions++;
            }
            qcow2_compressed_range(s, e, &off, &len);
            inc_refs(cs, off, len);
            cs->res->allocated_clusters += active;
            cs->res->compressed_clusters += active;
            cs->res->fragmented_clusters += active;
            break;
        case QCOW2_CLUSTER_NORMAL:
        case QCOW2_CLUSTER_ZERO_ALLOC:
            off = e & L2E_OFFSET_MASK;
            if ((off & (s->cluster_size - 1)) && type == QCOW2_CLUSTER_ZERO_ALLOC &&
                fix_unaligned_prealloc(cs, l2_off, i, off)) {
                break;
            }
            /* Counted all the same, as QEMU: the clusters it reaches stay in use. */
            if (off & (s->cluster_size - 1)) {
                check_report(cs, type == QCOW2_CLUSTER_ZERO_ALLOC
                                     ? "ERROR offset=%" PRIx64 ": Preallocated cluster is not "
                                       "properly aligned; L2 entry corrupted."
                                     : "ERROR offset=%" PRIx64 ": Data cluster is not properly "
                                       "aligned; L2 entry corrupted.",
                             off);
                cs->res->corruptions++;
            }
            if (active) {
                cs->res->allocated_clusters++;
                cs->res->fragmented_clusters += cs->next_contiguous && off != cs->next_contiguous;
                cs->next_contiguous = off + s->cluster_size;
            }
            inc_refs(cs, off, s->cluster_size);
            break;
        default:
            if ((e & QCOW_OFLAG_ZERO) && s->h.version < 3) {
                check_report(cs, "ERROR: Zero cluster entry found in pre-v3 image");
                cs->res->corruptions++;
            }
        }
    }
    return 0;
}

static int walk_l1(CheckState *cs, uint64_t l1_off, uint32_t l1_size, bool active)
{
    BDRVQcow2State *s = cs->s;
    g_autofree uint64_t *l1 = g_new0(uint64_t, MAX(l1_size, 1));
    int ret = bdrv_pread(cs->bs->file, l1_off, l1, (uint64_t)l1_size * 8);

    inc_refs(cs, l1_off, (uint64_t)l1_size * 8);
    if (ret < 0) {
        check_report(cs, "ERROR: I/O error in check_refcounts_l1");
        cs->res->check_errors++;
        return ret;
    }
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t e = GUINT64_FROM_BE(l1[i]), l2_off = e & L1E_OFFSET_MASK;
        if (!l2_off) {
            continue;
        }
        if (active && (e & L1E_RESERVED_MASK)) {
            check_report(cs, "ERROR found L1 entry with reserved bits set: %" PRIx64, e);
            cs->res->corruptions++;
        }
        /* Counted and walked all the same, as QEMU's check does. */
        if (l2_off & (s->cluster_size - 1)) {
            check_report(cs, "ERROR l2_offset=%" PRIx64 ": Table is not cluster aligned; L1 "
                             "entry corrupted", l2_off);
            cs->res->corruptions++;
        }
        inc_refs(cs, l2_off, s->cluster_size);
        if (l2_off >> s->cluster_bits < cs->nb_clusters) {
            walk_l2(cs, l2_off, active);
        }
    }
    return 0;
}

typedef enum { ENTRY_OK, ENTRY_RESERVED, ENTRY_UNALIGNED, ENTRY_OUTSIDE } EntryFault;

/* What is wrong with refcount table entry e (0 is fine: no block). */
static EntryFault reftable_entry_fault(CheckState *cs, uint64_t e)
{
    BDRVQcow2State *s = cs->s;

    return (e & REFT_RESERVED_MASK)                              ? ENTRY_RESERVED
           : (e & (s->cluster_size - 1))                         ? ENTRY_UNALIGNED
           : (e >> s->cluster_bits) >= cs->nb_clusters && e != 0 ? ENTRY_OUTSIDE
                                                                 : ENTRY_OK;
}

/* The stored refcount of cluster c. On a writable image, -EIO without reading if its block
 * cannot be read: qcow2_get_refcount would mark the image corrupt (read-only, it only says
 * so, as QEMU's check does), and the repair that rebuilds the structure could not run. */
static int stored_refcount(CheckState *cs, uint64_t c, uint64_t *rc)
{
    BDRVQcow2State *s = cs->s;
    uint64_t i = c >> s->refblock_bits;
    EntryFault f = reftable_entry_fault(cs, i < s->reftable_size ? s->reftable[i] : 0);

    *rc = 0;
    if (s->writable && (f == ENTRY_RESERVED || f == ENTRY_UNALIGNED)) {
        return -EIO;
    }
    return qcow2_get_refcount(cs->bs, c, rc);
}

static void count_metadata(CheckState *cs)
{
    BDRVQcow2State *s = cs->s;

    inc_refs(cs, 0, s->cluster_size);
    walk_l1(cs, s->l1_offset, s->l1_size, true);
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const Qcow2Snapshot *sn = &s->snapshots[i];

        if (!qcow2_snapshot_l1_ok(s, sn)) {
            check_report(cs, "ERROR snapshot %s (%s) l1_offset=%#" PRIx64 ": L1 table is not "
                         "cluster aligned; snapshot table entry corrupted", sn->id, sn->name,
                         sn->l1_offset);
            cs->res->corruptions++;
            continue;
        }
        walk_l1(cs, sn->l1_offset, sn->l1_size, false);
    }
    inc_refs(cs, s->h.snapshots_offset, s->snapshots_size);
    inc_refs(cs, s->reftable_offset, (uint64_t)s->reftable_size * 8);
    cs->rebuild |= !s->reftable_size; /* no table at all (only a check opens such an image) */
    for (uint32_t i = 0; i < s->reftable_size; i++) {
        uint64_t rb = s->reftable[i] & REFT_OFFSET_MASK;
        EntryFault bad = reftable_entry_fault(cs, s->reftable[i]);
        if (bad == ENTRY_OK && rb) {
            /* Counted last, as QEMU: a block something else uses too is broken. */
            inc_refs(cs, rb, s->cluster_size);
            if (cs->refs[rb >> s->cluster_bits] != 1) {
                check_report(cs, "ERROR refcount block %u refcount=%" PRIu64, i,
                             cs->refs[rb >> s->cluster_bits]);
                cs->res->corruptions++;
                cs->rebuild = true;
            }
        } else if (bad != ENTRY_OK) {
            check_report(cs, bad == ENTRY_RESERVED
                                 ? "ERROR refcount table entry %u has reserved bits set"
                             : bad == ENTRY_UNALIGNED
                                 ? "ERROR refcount block %u is not cluster aligned; refcount "
                                   "table entry corrupted"
                                 : "ERROR refcount block %u is outside image", i);
            cs->res->corruptions++;
            cs->rebuild = true;
        }
    }
}

static int fix_refcount(CheckState *cs, uint64_t c, uint64_t ref)
{
    BDRVQcow2State *s = cs->s;
    int ret;

    if (!(s->reftable[c >> s->refblock_bits] & REFT_OFFSET_MASK) &&
        (ret = qcow2_refblock_for_repair(cs->bs, c)) < 0) {
        return ret;
    }
    return qcow2_refcount_set_direct(cs->bs, c, ref);
}

static int compare_refcounts(CheckState *cs, int fix)
{
    BDRVQcow2State *s = cs->s;

    for (uint64_t c = 0; c < counted_clusters(cs); c++) {
        uint64_t rc;
        bool leak;
        int ret = stored_refcount(cs, c, &rc);
        if (ret < 0) {
            check_report(cs, "Can't get refcount for cluster %" PRIu64 ": %s", c, strerror(-ret));
            cs->res->check_errors++;
            continue;
        }
        if (rc || cs->refs[c]) {
            cs->res->image_end_offset = (c + 1) << s->cluster_bits;
        }
        if (rc == cs->refs[c]) {
            continue;
        }
        leak = rc > cs->refs[c];
        if ((leak && (fix & QCOW2_FIX_LEAKS)) || (!leak && (fix & QCOW2_FIX_ERRORS))) {
            check_report(cs, "Repairing cluster %" PRIu64 " refcount=%" PRIu64 " reference=%"
                         PRIu64, c, rc, cs->refs[c]);
            if (fix_refcount(cs, c, MIN(cs->refs[c], qcow2_refcount_max(s))) >= 0) {
                *(leak ? &cs->res->leaks_fixed : &cs->res->corruptions_fixed) += 1;
                continue;
            }
        }
        check_report(cs, "%s cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64,
                     leak ? "Leaked" : "ERROR", c, rc, cs->refs[c]);
        *(leak ? &cs->res->leaks : &cs->res->corruptions) += 1;
    }
    return 0;
}

static bool copied_wrong(CheckState *cs, uint64_t offset, uint64_t e, uint64_t *rc)
{
    if (stored_refcount(cs, offset >> cs->s->cluster_bits, rc) < 0) {
        return false;
    }
    return (*rc == 1) != !!(e & QCOW_OFLAG_COPIED);
}

static int check_copied_l2(CheckState *cs, uint64_t l2_off, int fix)
{
    BDRVQcow2State *s = cs->s;
    uint64_t *l2, n = 1ULL << s->l2_bits;
    int ret = qcow2_cache_get(s->l2_cache, l2_off, (void **)&l2, true);

    for (uint64_t i = 0; ret >= 0 && i < n; i++) {
        uint64_t e = GUINT64_FROM_BE(l2[i]), rc;
        Qcow2ClusterType t = qcow2_entry_type(s, e);
        if ((t != QCOW2_CLUSTER_NORMAL && t != QCOW2_CLUSTER_ZERO_ALLOC) ||
            (e & L2E_OFFSET_MASK & (s->cluster_size - 1)) ||
            !copied_wrong(cs, e & L2E_OFFSET_MASK, e, &rc)) {
            continue;
        }
        check_report(cs, "%s OFLAG_COPIED data cluster: l2_entry=%" PRIx64 " refcount=%" PRIu64,
                     (fix & QCOW2_FIX_ERRORS) ? "Repairing" : "ERROR", e, rc);
        if (fix & QCOW2_FIX_ERRORS) {
            l2[i] = GUINT64_TO_BE(rc == 1 ? e | QCOW_OFLAG_COPIED : e & ~QCOW_OFLAG_COPIED);
            qcow2_cache_mark_dirty(s->l2_cache, l2);
            cs->res->corruptions_fixed++;
        } else {
            cs->res->corruptions++;
        }
    }
    return ret;
}

static int check_copied(CheckState *cs, int fix)
{
    BDRVQcow2State *s = cs->s;

    for (uint32_t i = 0; i < s->l1_size; i++) {
        uint64_t e = s->l1_table[i], l2_off = e & L1E_OFFSET_MASK, rc;
        if (!l2_off) {
            continue;
        }
        /* The entry's flag even when its table is broken (QEMU's check says so too); the
         * table's entries only when it can be read. */
        if (copied_wrong(cs, l2_off, e, &rc)) {
            check_report(cs, "%s OFLAG_COPIED L2 cluster: l1_index=%u l1_entry=%" PRIx64
                         " refcount=%" PRIu64, (fix & QCOW2_FIX_ERRORS) ? "Repairing" : "ERROR",
                         i, e, rc);
            if (fix & QCOW2_FIX_ERRORS) {
                s->l1_table[i] = rc == 1 ? e | QCOW_OFLAG_COPIED : e & ~QCOW_OFLAG_COPIED;
                s->l1_dirty = true;
                cs->res->corruptions_fixed++;
            } else {
                cs->res->corruptions++;
            }
        }
        if (!(l2_off & (s->cluster_size - 1)) && l2_off >> s->cluster_bits < cs->nb_clusters) {
            check_copied_l2(cs, l2_off, fix);
        }
    }
    return 0;
}

/*
 * How far a lost tail can reach past the end of the file: what was allocated since the
 * last flush was taken at the end, at most one cluster per guest cluster and one L2 table
 * per L1 entry, plus the refcount blocks that count all of it. A reference beyond that is
 * a broken entry, not a lost tail (a hostile image would otherwise have the repair grow
 * the file to petabytes). grow_to_references also wants the tail mostly referenced.
 */
static uint64_t lost_tail_limit(CheckState *cs)
{
    BDRVQcow2State *s = cs->s;
    uint64_t n = cs->nb_clusters + ((s->h.size + s->cluster_size - 1) >> s->cluster_bits) +
                 s->l1_size;

    return n + (n >> s->refblock_bits) + 64;
}

static int count_refs(CheckState *cs)
{
    int64_t len = bdrv_getlength(cs->bs->file);

    if (len < 0) {
        return len;
    }
    cs->file_len = len;
    cs->nb_clusters = ((uint64_t)len + cs->s->cluster_size - 1) >> cs->s->cluster_bits;
    if (cs->nb_clusters > QCOW2_MAX_COUNTED_CLUSTERS) {
        return -EFBIG;
    }
    g_free(cs->refs);
    cs->refs = g_try_new0(uint64_t, cs->nb_clusters + 1);
    if (!cs->refs) {
        return -ENOMEM;
    }
    cs->grow_limit = lost_tail_limit(cs);
    cs->past_end = cs->past_refs = 0;
    memset(cs->res, 0, sizeof(*cs->res));
    cs->next_contiguous = 0;
    count_metadata(cs);
    return 0;
}

/*
 * A crashed image in lazy mode may have L2 entries pointing past the end of its file: an L2
 * table may reach the disk before the write of a new cluster that extends the file (a
 * whole-cluster write, or a zeroed one past the highest cluster ever allocated: see
 * note_old_content in qcow2.c). What those clusters held was not flushed, so the guest may
 * not count on it, and zeroes are what the rest of such a cluster held before: the file is
 * grown to cover them (reading as zeroes) and the count starts again.
 */
static int grow_to_references(CheckState *cs)
{
    uint64_t size = cs->past_end << cs->s->cluster_bits;
    uint64_t gap = cs->past_end - cs->nb_clusters;
    void *room;
    int ret;

    /* Allocations at the end are dense: a sparse scatter of far references is damage,
     * counted again as such. */
    if (cs->past_refs * 4 + 64 < gap) {
        cs->grow = false;
        return count_refs(cs);
    }
    room = g_try_new(uint64_t, cs->past_end); /* the count's table, before the file moves */
    if (!room) {
        return -ENOMEM;
    }
    g_free(room);
    ret = bdrv_truncate(cs->bs->file, size, NULL);
    return ret < 0 ? ret : count_refs(cs);
}

/*
 * The refcount structure rebuilt from the references counted, as QEMU does when it is broken:
 * what the stored counts got wrong counts as repaired, then everything is counted again.
 */
static int rebuild_refcounts(CheckState *cs, void (*report)(const char *msg))
{
    BDRVQcow2State *s = cs->s;
    Qcow2CheckResult found;
    int ret;

    if (report) {
        report("Rebuilding refcount structure");
    }
    compare_refcounts(cs, 0);
    found = *cs->res;
    qcow2_refcounts_drop_structure(s, cs->refs, cs->nb_clusters);
    for (uint64_t c = 0; c < counted_clusters(cs); c++) {
        cs->refs[c] = MIN(cs->refs[c], qcow2_refcount_max(s));
    }
    ret = qcow2_rewrite_refcounts(cs->bs, s->refcount_order, cs->refs, counted_clusters(cs));
    cs->rebuild = false;
    ret = ret < 0 ? ret : count_refs(cs);
    cs->res->leaks_fixed += found.leaks;
    cs->res->corruptions_fixed += found.corruptions;
    return ret;
}

static void fill_stats(CheckState *cs)
{
    cs->res->total_clusters = qcow2_l1_entries_for(cs->s, cs->s->h.size) ?
        (cs->s->h.size + cs->s->cluster_size - 1) >> cs->s->cluster_bits : 0;
}

int qcow2_check(BlockDriverState *bs, Qcow2CheckResult *res, int fix,
                void (*report)(const char *msg))
{
    BDRVQcow2State *s = bs->opaque;
    CheckState cs = { .bs = bs, .s = s, .res = res, .report = report,
                      .grow = (fix & QCOW2_FIX_LOST_TAIL) && s->writable,
                      .fix = s->writable ? fix : 0, .repair_report = report };
    int ret;

    /*
     * A repair follows a plain check that already reported what the walk finds (qemu-img
     * prints those lines once): here only the repairs and what stays broken are reported.
     */
    if (fix) {
        cs.report = NULL;
    }
    g_mutex_lock(&s->lock);
    ret = qcow2_flush_metadata(bs);
    if (ret >= 0) {
        ret = count_refs(&cs);
    }
    if (ret >= 0 && cs.past_end) {
        ret = grow_to_references(&cs);
    }
    if (ret >= 0 && fix && s->writable) {
        s->alloc_at_eof = true;
        s->eof_cluster = MAX(s->eof_cluster, cs.nb_clusters);
        if (cs.rebuild && (fix & QCOW2_FIX_ERRORS)) {
            ret = rebuild_refcounts(&cs, report);
        } else if ((ret = qcow2_reserve_reftable(bs, cs.nb_clusters + 64)) >= 0) {
            ret = count_refs(&cs);
        }
    }
    cs.report = report;
    if (ret >= 0) {
        compare_refcounts(&cs, cs.fix);
        check_copied(&cs, cs.fix);
        res->corruptions_fixed += cs.entries_fixed;
        fill_stats(&cs);
        ret = s->writable ? qcow2_flush_metadata(bs) : 0;
    }
    s->alloc_at_eof = false;
    g_mutex_unlock(&s->lock);
    g_free(cs.refs);
    return ret;
}

int qcow2_rebuild_refcounts(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2CheckResult res;
    int ret;

    s->writable = true;
    ret = qcow2_check(bs, &res, QCOW2_FIX_LEAKS | QCOW2_FIX_ERRORS | QCOW2_FIX_LOST_TAIL, NULL);
    if (ret >= 0 && (res.corruptions || res.check_errors)) {
        ret = -EIO;
    }
    if (ret >= 0 && (ret = bdrv_flush(bs->file)) >= 0) {
        ret = qcow2_update_incompat(bs, s->h.incompatible_features & ~QCOW2_INCOMPAT_DIRTY);
    }
    return ret;
}

int qcow2_check_image(BlockDriverState *bs, BdrvCheckResult *res, int fix,
                      void (*report)(const char *msg))
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2DiscardType why = qcow2_discard_type_set(s, QCOW2_DISCARD_ALWAYS);
    int ret = qcow2_check(bs, res, fix, report);

    qcow2_discard_type_set(s, why);
    /* As QEMU: a repair that left nothing broken marks the image clean and consistent.
     * Lazy mode ends with the attempt: the bit may be gone from the disk even on failure. */
    if (ret >= 0 && fix && s->writable && !res->corruptions && !res->check_errors) {
        ret = qcow2_update_incompat(bs, s->h.incompatible_features &
                                            ~(QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DIRTY));
        s->lazy_refcounts = false;
    }
    return ret;
}
