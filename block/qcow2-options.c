/*
 * The qcow2 driver's runtime options, with QEMU's names, defaults and errors:
 * lazy-refcounts, pass-discard-request/-snapshot/-other, overlap-check (a mode, or
 * overlap-check.template, and a flag per metadata kind), and the metadata cache sizes
 * cache-size / l2-cache-size / refcount-cache-size. They are taken out of the open options
 * and checked here; qcow2.c applies them. Not the create options (qcow2-create.c).
 */
#include <limits.h>
#include <string.h>
#include "block/qcow2.h"
#include "util/qdict.h"

#define DEFAULT_L2_CACHE_BYTES (1 << 20) /* QEMU 2.2's, when only one size is set */
#define L2_REFCOUNT_RATIO 4              /* the L2 cache is 4x the refcount block cache */
#define MIN_L2_TABLES 2                  /* a copied L2 table and its new place */
#define MIN_REFBLOCK_TABLES 4            /* refcount table growth touches several */

static const char *const overlap_modes[] = {"none", "constant", "cached", "all", NULL};
static const int overlap_mode_bits[] = {0, QCOW2_OL_CONSTANT, QCOW2_OL_CACHED, QCOW2_OL_ALL};
static const char *const overlap_flag_names[QCOW2_OL_KINDS] = {
    "overlap-check.main-header",    "overlap-check.active-l1",      "overlap-check.active-l2",
    "overlap-check.refcount-table", "overlap-check.refcount-block", "overlap-check.snapshot-table",
    "overlap-check.inactive-l1",    "overlap-check.inactive-l2",
};

typedef struct CacheSizes {
    bool total_set, l2_set, rb_set;
    uint64_t total, l2, rb; /* bytes */
} CacheSizes;

/* QEMU's arithmetic: the sizes not given follow from those given (1:4 refcount:L2). */
static bool cache_sizes_resolve(CacheSizes *c, Error **errp)
{
    if (c->total_set) {
        if (c->l2_set && c->rb_set) {
            error_setg(errp, "cache-size, l2-cache-size and refcount-cache-size may not be "
                             "set at the same time");
            return false;
        } else if (c->l2 > c->total) {
            error_setg(errp, "l2-cache-size may not exceed cache-size");
            return false;
        } else if (c->rb > c->total) {
            error_setg(errp, "refcount-cache-size may not exceed cache-size");
            return false;
        }
        if (c->l2_set) {
            c->rb = c->total - c->l2;
        } else if (c->rb_set) {
            c->l2 = c->total - c->rb;
        } else {
            c->rb = c->total / (L2_REFCOUNT_RATIO + 1);
            c->l2 = c->total - c->rb;
        }
    } else if (!c->l2_set && c->rb_set) {
        c->l2 = c->rb * L2_REFCOUNT_RATIO;
    } else if (c->l2_set && !c->rb_set) {
        c->rb = c->l2 / L2_REFCOUNT_RATIO;
    }
    return true;
}

/*
 * Entries for each cache, or 0 for minivmm's defaults when no size is given. The L2 cache
 * never holds more tables than the disk has (as QEMU 3.1 on), and a refcount block cache
 * sized from it follows that; one given explicitly is bounded only by what can be
 * allocated (qcow2_cache_new).
 */
static bool take_cache_sizes(BDRVQcow2State *s, JsonObject *options, Qcow2RuntimeOpts *o,
                             Error **errp)
{
    CacheSizes c = {
        .total_set = dict_has(options, "cache-size"),
        .l2_set = dict_has(options, "l2-cache-size"),
        .rb_set = dict_has(options, "refcount-cache-size"),
    };
    Error *err = NULL;

    c.total = dict_get_size(options, "cache-size", 0, &err);
    c.l2 = dict_get_size(options, "l2-cache-size", 0, err ? NULL : &err);
    c.rb = dict_get_size(options, "refcount-cache-size", 0, err ? NULL : &err);
    if (err) {
        error_propagate(errp, err);
        return false;
    }
    if (!c.total_set && !c.l2_set && !c.rb_set) {
        return true;
    }
    if (!cache_sizes_resolve(&c, errp)) {
        return false;
    }
    o->l2_tables = MAX(c.l2 >> s->cluster_bits, MIN_L2_TABLES);
    o->refblock_tables = MAX(c.rb >> s->cluster_bits, MIN_REFBLOCK_TABLES);
    if (o->l2_tables > INT_MAX) {
        error_setg(errp, "L2 cache size too big");
        return false;
    } else if (o->refblock_tables > INT_MAX) {
        error_setg(errp, "Refcount cache size too big");
        return false;
    }
    o->l2_tables = MIN(o->l2_tables, MAX(qcow2_l1_entries_for(s, s->h.size), MIN_L2_TABLES));
    if (!c.rb_set && !c.total_set) {
        o->refblock_tables = MAX(o->l2_tables / L2_REFCOUNT_RATIO, MIN_REFBLOCK_TABLES);
    }
    return true;
}

/* overlap-check (or overlap-check.template) picks a mode; each kind's flag overrides it. */
static bool take_overlap_check(JsonObject *options, Qcow2RuntimeOpts *o, Error **errp)
{
    const char *mode = dict_get_str(options, "overlap-check");
    const char *tmpl = dict_get_str(options, "overlap-check.template");
    int m, bits;

    if (mode && tmpl && strcmp(mode, tmpl) != 0) {
        error_setg(errp,
                   "Conflicting values for qcow2 options 'overlap-check' ('%s') and "
                   "'overlap-check.template' ('%s')",
                   mode, tmpl);
        return false;
    }
    mode = mode ? mode : tmpl ? tmpl : "cached";
    for (m = 0; overlap_modes[m] && strcmp(overlap_modes[m], mode) != 0; m++) {
    }
    if (!overlap_modes[m]) {
        error_setg(errp,
                   "Unsupported value '%s' for qcow2 option 'overlap-check'. Allowed are any "
                   "of the following: none, constant, cached, all",
                   mode);
        return false;
    }
    bits = overlap_mode_bits[m];
    o->overlap_check = 0;
    for (int i = 0; i < QCOW2_OL_KINDS; i++) {
        Error *err = NULL;
        bool on = dict_get_bool(options, overlap_flag_names[i], bits & (1 << i), &err);

        if (err) {
            error_propagate(errp, err);
            return false;
        }
        o->overlap_check |= on << i;
    }
    return true;
}

static bool take_bools(BDRVQcow2State *s, JsonObject *options, int flags, Qcow2RuntimeOpts *o,
                       Error **errp)
{
    Error *err = NULL;

    o->lazy_refcounts = dict_get_bool(options, "lazy-refcounts",
                                      s->h.compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS, &err);
    o->pass_discard[QCOW2_DISCARD_NEVER] = false;
    o->pass_discard[QCOW2_DISCARD_ALWAYS] = true;
    o->pass_discard[QCOW2_DISCARD_REQUEST] =
        dict_get_bool(options, "pass-discard-request", flags & BDRV_O_UNMAP, err ? NULL : &err);
    o->pass_discard[QCOW2_DISCARD_SNAPSHOT] =
        dict_get_bool(options, "pass-discard-snapshot", true, err ? NULL : &err);
    o->pass_discard[QCOW2_DISCARD_OTHER] =
        dict_get_bool(options, "pass-discard-other", false, err ? NULL : &err);
    if (err) {
        error_propagate(errp, err);
        return false;
    }
    return true;
}

bool qcow2_take_runtime_opts(BlockDriverState *bs, JsonObject *options, int flags,
                             Qcow2RuntimeOpts *o, Error **errp)
{
    static const char *const names[] = {
        "lazy-refcounts",     "pass-discard-request", "pass-discard-snapshot",
        "pass-discard-other", "overlap-check",        "overlap-check.template",
        "cache-size",         "l2-cache-size",        "refcount-cache-size",
    };
    BDRVQcow2State *s = bs->opaque;
    bool ok = take_bools(s, options, flags, o, errp) && take_cache_sizes(s, options, o, errp);

    if (ok && o->lazy_refcounts && s->h.version < 3) {
        error_setg(errp, "Lazy refcounts require a qcow2 image with at least qemu 1.1 "
                         "compatibility level");
        ok = false;
    }
    ok = ok && take_overlap_check(options, o, errp);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        dict_del(options, names[i]);
    }
    for (int i = 0; i < QCOW2_OL_KINDS; i++) {
        dict_del(options, overlap_flag_names[i]);
    }
    return ok;
}

Qcow2DiscardType qcow2_discard_type_set(BDRVQcow2State *s, Qcow2DiscardType type)
{
    Qcow2DiscardType old = s->discard_type;

    s->discard_type = type;
    return old;
}
