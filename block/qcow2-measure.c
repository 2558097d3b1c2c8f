/*
 * qcow2's answer to qemu-img measure: the size of a new image's file. Fully allocated, it
 * holds the header cluster, an L2 entry for every cluster of the (cluster-aligned) virtual
 * size, L1 entries for those L2 tables (whole clusters), the refcount blocks and table that
 * count all of that and themselves, and the data. Required, the data is only what the
 * source holds (counted in whole clusters; none without a source), or all of it with a
 * backing file or falloc/full preallocation. The options are checked as qemu-img 7.2's
 * measure checks them, with its messages (they differ from create's in places).
 */
#include <errno.h>
#include <string.h>
#include "block/qcow2.h"

#define L1E_SIZE 8
#define REFTABLE_ENTRY_SIZE 8

typedef struct MeasureOpts {
    uint64_t cluster_size;
    bool extended_l2;
    int version;
    uint64_t refcount_bits;
    PreallocMode prealloc;
    bool has_backing_file;
} MeasureOpts;

static uint64_t div_round_up(uint64_t n, uint64_t d)
{
    return n / d + (n % d != 0);
}

static uint64_t round_up(uint64_t n, uint64_t m)
{
    return div_round_up(n, m) * m;
}

static bool parse_cluster_size(JsonObject *opts, MeasureOpts *m, Error **errp)
{
    uint64_t cs = qcow2_opt_uint(opts, "cluster_size", 65536);

    m->extended_l2 = qcow2_opt_bool(opts, "extended_l2");
    if (!qcow2_check_cluster_size(cs, errp)) {
        return false;
    }
    if (m->extended_l2 && cs < 16384) {
        error_setg(errp, "Extended L2 entries are only supported with cluster sizes of at "
                         "least 16384 bytes");
        return false;
    }
    m->cluster_size = cs;
    return true;
}

static bool parse_version_and_width(JsonObject *opts, MeasureOpts *m, Error **errp)
{
    const char *compat = qcow2_opt_str(opts, "compat");
    uint64_t bits = qcow2_opt_uint(opts, "refcount_bits", 16);

    if (!compat || !strcmp(compat, "1.1")) {
        m->version = 3;
    } else if (!strcmp(compat, "0.10")) {
        m->version = 2;
    } else {
        error_setg(errp, "Invalid compatibility level: '%s'", compat);
        return false;
    }
    if (!qcow2_check_refcount_width(bits, errp) ||
        !qcow2_check_refcount_version(bits, m->version, errp)) {
        return false;
    }
    m->refcount_bits = bits;
    return true;
}

static bool parse_opts(JsonObject *opts, MeasureOpts *m, Error **errp)
{
    const char *prealloc = qcow2_opt_str(opts, "preallocation");
    int mode = prealloc ? prealloc_mode_parse(prealloc) : PREALLOC_MODE_OFF;

    if (!parse_cluster_size(opts, m, errp) || !parse_version_and_width(opts, m, errp)) {
        return false;
    }
    if (mode < 0) {
        error_setg(errp, "invalid parameter value: %s", prealloc);
        return false;
    }
    m->prealloc = mode;
    m->has_backing_file = qcow2_opt_str(opts, "backing_file") != NULL;
    return true;
}

/* The refcount blocks and table that count clusters other clusters and themselves: the
 * fixed point where one more round adds no cluster. */
static uint64_t refcount_metadata_size(uint64_t clusters, uint64_t cluster_size,
                                       uint64_t refcount_bits)
{
    uint64_t per_block = cluster_size * 8 / refcount_bits;
    uint64_t per_table_cluster = cluster_size / REFTABLE_ENTRY_SIZE;
    uint64_t blocks = 0, table = 0, n = 0, last;

    do {
        last = n;
        blocks = div_round_up(clusters + table + blocks, per_block);
        table = div_round_up(blocks, per_table_cluster);
        n = clusters + blocks + table;
    } while (n != last);
    return (blocks + table) * cluster_size;
}

/* The file of an image of virtual_size (cluster aligned) with every cluster allocated. */
static uint64_t fully_allocated_size(const MeasureOpts *m, uint64_t virtual_size)
{
    uint64_t cs = m->cluster_size, l2e_size = m->extended_l2 ? 16 : 8;
    uint64_t meta = cs; /* the header */
    uint64_t l2_entries = round_up(virtual_size / cs, cs / l2e_size);
    uint64_t l1_entries = round_up(l2_entries * l2e_size / cs, cs / L1E_SIZE);

    meta += l2_entries * l2e_size + l1_entries * L1E_SIZE;
    meta += refcount_metadata_size((meta + virtual_size) / cs, cs, m->refcount_bits);
    return meta + virtual_size;
}

/* Whether the source is a qcow2 v3 image (which could hold persistent bitmaps). */
static bool source_has_bitmaps(BlockDriverState *in_bs)
{
    if (!in_bs->drv || strcmp(in_bs->drv->format_name, "qcow2") != 0) {
        return false;
    }
    return ((BDRVQcow2State *)in_bs->opaque)->h.version >= 3;
}

int qcow2_measure(JsonObject *opts, BlockDriverState *in_bs, BlockMeasureInfo *info, Error **errp)
{
    MeasureOpts m;
    uint64_t virtual_size, required = 0;

    if (!parse_opts(opts, &m, errp)) {
        return -EINVAL;
    }
    virtual_size = round_up(qcow2_opt_uint(opts, "size", 0), m.cluster_size);
    if (div_round_up(virtual_size / m.cluster_size, m.cluster_size / (m.extended_l2 ? 16 : 8)) *
            L1E_SIZE >
        QCOW2_MAX_L1_BYTES) {
        error_setg(errp, "The image size is too large (try using a larger cluster size)");
        return -EFBIG;
    }
    if (in_bs) {
        int64_t len = bdrv_getlength(in_bs), data;

        if (len < 0) {
            error_setg_errno(errp, -len, "Unable to get image virtual_size");
            return len;
        }
        virtual_size = round_up(len, m.cluster_size);
        /* with a backing file nothing is known to be shared: every cluster may be written */
        data =
            m.has_backing_file ? (int64_t)virtual_size : bdrv_measure_data(in_bs, m.cluster_size);
        if (data < 0) {
            error_setg_errno(errp, -data, "Unable to get block status");
            return data;
        }
        required = data;
    }
    if (m.prealloc == PREALLOC_MODE_FALLOC || m.prealloc == PREALLOC_MODE_FULL) {
        required = virtual_size;
    }
    info->fully_allocated = fully_allocated_size(&m, virtual_size);
    /* the metadata is the fully allocated image's: an overestimate */
    info->required = info->fully_allocated - virtual_size + required;
    info->has_bitmaps = m.version >= 3 && in_bs && source_has_bitmaps(in_bs);
    info->bitmaps = 0; /* minivmm keeps no persistent bitmaps */
    return 0;
}
