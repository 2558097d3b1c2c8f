/*
 * qcow2 image creation, laid out as qemu-img 7.2 does: cluster 0 holds the header (v2:
 * 72 bytes; v3: 112, with the feature-name table for clusters > 4 KiB), the backing format
 * extension and the backing file name; then the refcount table, the refcount blocks that
 * describe the initial clusters, and the minimal L1 table. The layout arithmetic is a pure
 * function; metadata preallocation goes through the driver (open, allocate every L2 table
 * and data cluster). Not an "amend": existing images are never rewritten here.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "block/file-lock.h"
#include "block/qcow2.h"

typedef struct Qcow2Layout {
    uint64_t reftable_clusters;
    uint64_t refblocks;
    uint64_t l1_entries;
    uint64_t l1_clusters;
    uint64_t total_clusters;
} Qcow2Layout;

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, v >> 32);
    put32(p + 4, v);
}

static void layout_compute(const Qcow2CreateOpts *o, int cluster_bits, int refcount_order,
                           Qcow2Layout *l)
{
    uint64_t cs = 1ULL << cluster_bits, span = cs * (cs / 8);
    uint64_t per_block = cs * 8 >> refcount_order;

    l->l1_entries = (o->size + span - 1) / span;
    l->l1_clusters = (l->l1_entries * 8 + cs - 1) / cs;
    l->reftable_clusters = 1;
    l->refblocks = 1;
    for (;;) {
        l->total_clusters = 1 + l->reftable_clusters + l->refblocks + l->l1_clusters;
        if (l->refblocks * per_block < l->total_clusters) {
            l->refblocks++;
        } else if (l->reftable_clusters * (cs / 8) < l->refblocks) {
            l->reftable_clusters++;
        } else {
            return;
        }
    }
}

static const struct {
    uint8_t type, bit;
    const char *name;
} feature_table[] = {
    {0, 0, "dirty bit"},
    {0, 1, "corrupt bit"},
    {0, 2, "external data file"},
    {0, 3, "compression type"},
    {0, 4, "extended L2 entries"},
    {1, 0, "lazy refcounts"},
    {2, 0, "bitmaps"},
    {2, 1, "raw external data"},
};

static uint64_t put_extension(uint8_t *p, uint32_t type, const void *data, uint32_t len)
{
    put32(p, type);
    put32(p + 4, len);
    memcpy(p + 8, data, len);
    return 8 + ((len + 7) & ~7U);
}

static uint64_t put_extensions(uint8_t *c0, uint64_t off, const Qcow2CreateOpts *o,
                               uint64_t cs)
{
    if (o->backing_file && o->backing_fmt) {
        off += put_extension(c0 + off, QCOW2_EXT_BACKING_FORMAT, o->backing_fmt,
                             strlen(o->backing_fmt));
    }
    if (o->version >= 3 && cs > 4096) {
        uint8_t t[G_N_ELEMENTS(feature_table) * 48] = {0};
        for (size_t i = 0; i < G_N_ELEMENTS(feature_table); i++) {
            t[i * 48] = feature_table[i].type;
            t[i * 48 + 1] = feature_table[i].bit;
            memcpy(t + i * 48 + 2, feature_table[i].name, strlen(feature_table[i].name));
        }
        off += put_extension(c0 + off, QCOW2_EXT_FEATURE_TABLE, t, sizeof(t));
    }
    return off + 8; /* the end-of-extensions marker is all zeroes */
}

static void build_header(uint8_t *c0, const Qcow2CreateOpts *o, int cluster_bits,
                         int refcount_order, const Qcow2Layout *l)
{
    uint64_t cs = 1ULL << cluster_bits;
    uint64_t off = o->version >= 3 ? 112 : QCOW2_V2_HEADER_LEN;

    put32(c0, QCOW_MAGIC);
    put32(c0 + 4, o->version);
    put32(c0 + 20, cluster_bits);
    put64(c0 + 24, o->size);
    put32(c0 + 32, o->encrypt ? QCOW2_CRYPT_AES : 0);
    put32(c0 + 36, l->l1_entries);
    put64(c0 + 40, (1 + l->reftable_clusters + l->refblocks) * cs);
    put64(c0 + 48, cs);
    put32(c0 + 56, l->reftable_clusters);
    if (o->version >= 3) {
        put64(c0 + 80, o->lazy_refcounts ? QCOW2_COMPAT_LAZY_REFCOUNTS : 0);
        put32(c0 + 96, refcount_order);
        put32(c0 + 100, 112);
    }
    off = put_extensions(c0, off, o, cs);
    if (o->backing_file) {
        put64(c0 + 8, off);
        put32(c0 + 16, strlen(o->backing_file));
        memcpy(c0 + off, o->backing_file, strlen(o->backing_file));
    }
}

/* Cluster 0 and every metadata cluster after it, as one buffer. */
static uint8_t *build_image(const Qcow2CreateOpts *o, int cluster_bits, int refcount_order,
                            Qcow2Layout *l)
{
    uint64_t cs = 1ULL << cluster_bits;
    uint8_t *img, *rt, *rb;

    layout_compute(o, cluster_bits, refcount_order, l);
    img = g_malloc0(l->total_clusters * cs);
    build_header(img, o, cluster_bits, refcount_order, l);
    rt = img + cs;
    rb = rt + l->reftable_clusters * cs;
    for (uint64_t i = 0; i < l->refblocks; i++) {
        put64(rt + i * 8, (1 + l->reftable_clusters + i) * cs);
    }
    for (uint64_t c = 0; c < l->total_clusters; c++) {
        qcow2_set_refcount_ro(rb, c, refcount_order, 1);
    }
    return img;
}

bool qcow2_check_cluster_size(uint64_t cs, Error **errp)
{
    if (cs < 512 || cs > (2 << 20) || (cs & (cs - 1))) {
        error_setg(errp, "Cluster size must be a power of two between 512 and 2048k");
        return false;
    }
    return true;
}

bool qcow2_check_refcount_width(uint64_t bits, Error **errp)
{
    if (bits < 1 || bits > 64 || (bits & (bits - 1))) {
        error_setg(errp, "Refcount width must be a power of two and may not exceed 64 bits");
        return false;
    }
    return true;
}

bool qcow2_check_refcount_version(uint64_t bits, int version, Error **errp)
{
    if (bits != 16 && version < 3) {
        error_setg(errp, "Different refcount widths than 16 bits require compatibility level "
                         "1.1 or above (use compat=1.1 or greater)");
        return false;
    }
    return true;
}

static int check_opts(const Qcow2CreateOpts *o, Error **errp)
{
    uint64_t cs = o->cluster_size;

    if (!qcow2_check_cluster_size(cs, errp)) {
        return -EINVAL;
    }
    /* An L1 table larger than QEMU opens (and than we would allocate to build it) */
    if ((o->size + cs * (cs / 8) - 1) / (cs * (cs / 8)) > QCOW2_MAX_L1_BYTES / 8) {
        error_setg(errp, "The image size is too large for file format 'qcow2' (try using a "
                         "larger cluster size)");
        return -EFBIG;
    }
    if (o->lazy_refcounts && o->version < 3) {
        error_setg(errp, "Lazy refcounts only supported with compatibility level 1.1 and "
                         "above (use version=v3 or greater)");
        return -EINVAL;
    }
    if (!qcow2_check_refcount_version(o->refcount_bits, o->version, errp) ||
        !qcow2_check_refcount_width(o->refcount_bits, errp)) {
        return -EINVAL;
    }
    /* Preallocated clusters would hide the backing file's data (extended L2 is unsupported) */
    if (o->backing_file && o->prealloc != PREALLOC_MODE_OFF) {
        error_setg(errp, "Backing file and preallocation can only be used at the same time if "
                         "extended_l2 is on");
        return -EINVAL;
    }
    /* Preallocated clusters hold raw zeroes, which an encrypted image reads as garbage (as
     * qemu-img 7.2's do); no key is known here to encrypt them. */
    if (o->encrypt && o->prealloc != PREALLOC_MODE_OFF) {
        error_setg(errp, "Preallocation is not supported for encrypted images");
        return -EINVAL;
    }
    if (o->backing_fmt && !o->backing_file) {
        error_setg(errp, "Backing format cannot be used without backing file");
        return -EINVAL;
    }
    if (o->backing_file && strlen(o->backing_file) > 1023) {
        error_setg(errp, "Backing file name too long");
        return -EINVAL;
    }
    /* an unknown one would make the image unopenable (QEMU's text: not a driver name) */
    if (o->backing_fmt && !bdrv_find_format(o->backing_fmt)) {
        error_setg(errp, "Parameter 'backing-fmt' does not accept value '%s'", o->backing_fmt);
        return -EINVAL;
    }
    return 0;
}

static int write_file(const char *filename, const uint8_t *buf, uint64_t len, Error **errp)
{
    FileLock *lock;
    int fd = file_lock_create_open(filename, &lock, errp);
    ssize_t n;

    if (fd < 0) {
        return fd;
    }
    n = pwrite(fd, buf, len, 0);
    if (n != (ssize_t)len || fsync(fd) < 0) {
        int err = n < 0 ? errno : EIO;
        error_setg_errno(errp, err, "Could not write to '%s'", filename);
        file_lock_close(lock, fd);
        return -err;
    }
    file_lock_close(lock, fd);
    return 0;
}

/* Point every guest cluster at a host cluster of its own (qcow2_preallocate), then make
 * that durable. */
static int preallocate(const char *filename, PreallocMode mode, Error **errp)
{
    JsonObject *opts = json_object_new();
    BlockDriverState *bs;
    BDRVQcow2State *s;
    int ret;

    json_object_set_string_member(opts, "driver", "qcow2");
    bs = bdrv_open(filename, opts, BDRV_O_RDWR | BDRV_O_NO_BACKING | BDRV_O_CACHE_WB, errp);
    if (!bs) {
        return -EIO;
    }
    s = bs->opaque;
    g_mutex_lock(&s->lock);
    ret = qcow2_preallocate(bs, 0, s->h.size, mode, errp);
    g_mutex_unlock(&s->lock);
    if (ret < 0) {
        error_prepend(errp, "Could not resize image: "); /* qemu-img 7.2's words */
    } else if ((ret = bdrv_flush(bs)) < 0) {
        error_setg_errno(errp, -ret, "Could not flush the new image");
    }
    bdrv_unref(bs);
    return ret;
}

int qcow2_create_file(const char *filename, const Qcow2CreateOpts *o, Error **errp)
{
    int cluster_bits, refcount_order;
    g_autofree uint8_t *img = NULL;
    Qcow2Layout l;
    int ret;

    /* Checked first: a zero cluster size or refcount width has no bit to count. */
    if ((ret = check_opts(o, errp)) < 0) {
        return ret;
    }
    cluster_bits = __builtin_ctzll(o->cluster_size);
    refcount_order = __builtin_ctz(o->refcount_bits);
    img = build_image(o, cluster_bits, refcount_order, &l);
    ret = write_file(filename, img, l.total_clusters << cluster_bits, errp);
    if (ret >= 0 && o->prealloc != PREALLOC_MODE_OFF &&
        (ret = preallocate(filename, o->prealloc, errp)) < 0) {
        unlink(filename); /* as qemu-img 7.2: no half-made image is left behind */
    }
    return ret;
}

/* ---- the driver's create hook: typed options as qemu-img create -o names them ---- */

const BlockCreateOpt qcow2_create_opts[] = {
    {"encryption", "bool (on/off)",
     "Encrypt the image with format 'aes' (the key: the password given at first use)", NULL},
    {"cluster_size", "size", "qcow2 cluster size", "65536"},
    {"extended_l2", "bool (on/off)", "Extended L2 tables", "off"},
    {"preallocation", "str", "Preallocation mode (allowed values: off, metadata, falloc, full)",
     NULL},
    {"compression_type", "str", "Compression method used for image cluster compression",
     "zlib"},
    {"size", "size", "Virtual disk size", NULL},
    {"compat", "str", "Compatibility level (v2 [0.10] or v3 [1.1])", NULL},
    {"backing_file", "str", "File name of a base image", NULL},
    {"backing_fmt", "str", "Image format of the base image", NULL},
    {"lazy_refcounts", "bool (on/off)", "Postpone refcount updates", "off"},
    {"refcount_bits", "num", "Width of a reference count entry in bits", "16"},
    {NULL, NULL, NULL, NULL},
};

const char *qcow2_opt_str(JsonObject *opts, const char *name)
{
    return json_object_has_member(opts, name) ? json_object_get_string_member(opts, name)
                                              : NULL;
}

uint64_t qcow2_opt_uint(JsonObject *opts, const char *name, uint64_t def)
{
    return json_object_has_member(opts, name) ? (uint64_t)json_object_get_int_member(opts, name)
                                              : def;
}

bool qcow2_opt_bool(JsonObject *opts, const char *name)
{
    return json_object_has_member(opts, name) && json_object_get_boolean_member(opts, name);
}

/* compat, preallocation, compression_type and extended_l2 into o. */
static int parse_modes(JsonObject *opts, Qcow2CreateOpts *o, Error **errp)
{
    const char *compat = qcow2_opt_str(opts, "compat"), *prealloc = qcow2_opt_str(opts, "preallocation");
    const char *ctype = qcow2_opt_str(opts, "compression_type");
    int mode;

    if (!compat || !strcmp(compat, "1.1") || !strcmp(compat, "v3")) {
        o->version = 3;
    } else if (!strcmp(compat, "0.10") || !strcmp(compat, "v2")) {
        o->version = 2;
    } else {
        error_setg(errp, "Parameter 'version' does not accept value '%s'", compat);
        return -EINVAL;
    }
    mode = prealloc ? prealloc_mode_parse(prealloc) : PREALLOC_MODE_OFF;
    if (mode < 0) {
        error_setg(errp, "Parameter 'preallocation' does not accept value '%s'", prealloc);
        return -EINVAL;
    }
    o->prealloc = mode;
    if (ctype && strcmp(ctype, "zlib") != 0) {
        error_setg(errp, "Parameter 'compression-type' does not accept value '%s'", ctype);
        return -EINVAL;
    }
    if (qcow2_opt_bool(opts, "extended_l2")) {
        error_setg(errp, "Extended L2 entries are not supported");
        return -ENOTSUP;
    }
    return 0;
}

int qcow2_create(const char *filename, JsonObject *opts, Error **errp)
{
    Qcow2CreateOpts o = {
        .size = qcow2_opt_uint(opts, "size", 0),
        .cluster_size = qcow2_opt_uint(opts, "cluster_size", 65536),
        .lazy_refcounts = qcow2_opt_bool(opts, "lazy_refcounts"),
        .encrypt = qcow2_opt_bool(opts, "encryption"),
        .backing_file = qcow2_opt_str(opts, "backing_file"),
        .backing_fmt = qcow2_opt_str(opts, "backing_fmt"),
    };
    uint64_t bits = qcow2_opt_uint(opts, "refcount_bits", 16);
    int ret = parse_modes(opts, &o, errp);

    o.refcount_bits = bits > 64 ? 3 : (int)bits; /* 3: refused as not a power of two */
    return ret < 0 ? ret : qcow2_create_file(filename, &o, errp);
}
