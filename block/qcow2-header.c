/*
 * qcow2 header: reading and validating cluster 0 (fixed fields, header extensions, backing
 * file name), the snapshot table's L1 pointers (needed to count references), and the small
 * in-place header updates the driver makes (feature bits, L1 and refcount table location,
 * virtual size). Every check a malformed image could trip is here, at the boundary, with
 * QEMU's error text. Writing a whole new header is qcow2-create.c's business.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "block/block-events.h"
#include "block/qcow2.h"
#include "util/bswap.h"


static void header_decode(Qcow2Header *h, const uint8_t *b)
{
    h->version = ldl_be_p(b + 4);
    h->backing_file_offset = ldq_be_p(b + 8);
    h->backing_file_size = ldl_be_p(b + 16);
    h->cluster_bits = ldl_be_p(b + 20);
    h->size = ldq_be_p(b + 24);
    h->crypt_method = ldl_be_p(b + 32);
    h->l1_size = ldl_be_p(b + 36);
    h->l1_table_offset = ldq_be_p(b + 40);
    h->refcount_table_offset = ldq_be_p(b + 48);
    h->refcount_table_clusters = ldl_be_p(b + 56);
    h->nb_snapshots = ldl_be_p(b + 60);
    h->snapshots_offset = ldq_be_p(b + 64);
    if (h->version == 2) {
        h->refcount_order = 4;
        h->header_length = QCOW2_V2_HEADER_LEN;
    } else {
        h->incompatible_features = ldq_be_p(b + 72);
        h->compatible_features = ldq_be_p(b + 80);
        h->autoclear_features = ldq_be_p(b + 88);
        h->refcount_order = ldl_be_p(b + 96);
        h->header_length = ldl_be_p(b + 100);
    }
}

/* Names of the incompatible bits set in mask, from the feature table if the image has one. */
static char *feature_names(const uint8_t *table, uint32_t len, uint64_t mask)
{
    GString *s = g_string_new(NULL);

    for (int bit = 0; bit < 64; bit++) {
        const char *name = NULL;
        if (!(mask & (1ULL << bit))) {
            continue;
        }
        for (uint32_t i = 0; table && i + 48 <= len; i += 48) {
            if (table[i] == 0 && table[i + 1] == bit) {
                name = (const char *)table + i + 2;
            }
        }
        if (s->len) {
            g_string_append(s, ", ");
        }
        if (name) {
            g_string_append_len(s, name, strnlen(name, 46));
        } else {
            g_string_append_printf(s, "Unknown incompatible feature: %" PRIx64, (uint64_t)1 << bit);
        }
    }
    return g_string_free(s, false);
}

static int check_table(uint64_t file_len, uint64_t cluster_size, uint64_t offset,
                       uint64_t entries, uint64_t entry_len, uint64_t max_bytes,
                       const char *what, Error **errp)
{
    if (entries > max_bytes / entry_len) {
        error_setg(errp, "%s too large", what);
        return -EFBIG;
    }
    if (offset & (cluster_size - 1)) {
        error_setg(errp, "%s offset invalid", what);
        return -EINVAL;
    }
    if (entries && (offset > file_len || entries * entry_len > file_len - offset)) {
        error_setg(errp, "Invalid %s offset: past the end of the image file", what);
        return -EINVAL;
    }
    return 0;
}

/* check: opened for a check (BDRV_O_CHECK), which may find and rebuild a missing refcount
 * table, as QEMU's does. */
static int check_fields(BDRVQcow2State *s, uint64_t file_len, bool check, Error **errp)
{
    Qcow2Header *h = &s->h;
    uint64_t cs = 1ULL << h->cluster_bits;

    if (h->version == 3 && h->header_length < QCOW2_V3_HEADER_LEN) {
        error_setg(errp, "qcow2 header too short");
        return -EINVAL;
    }
    if (h->version == 3 && (h->header_length > cs || h->header_length % 8)) {
        error_setg(errp, "qcow2 header exceeds cluster size");
        return -EINVAL;
    }
    if (h->refcount_order > 6) {
        error_setg(errp, "Reference count entry width too large; may not exceed 64 bits");
        return -EINVAL;
    }
    if (h->backing_file_offset > cs || h->backing_file_size > 1023 ||
        (h->backing_file_offset && h->backing_file_offset + h->backing_file_size > cs)) {
        error_setg(errp, "Backing file name too long");
        return -EINVAL;
    }
    if (h->crypt_method > QCOW2_CRYPT_AES) {
        error_setg(errp, "Unsupported encryption method: %" PRIu32, h->crypt_method);
        return -EINVAL;
    }
    if (h->refcount_table_clusters == 0 && !check) {
        error_setg(errp, "Image does not contain a reference count table");
        return -EINVAL;
    }
    if (check_table(file_len, cs, h->refcount_table_offset,
                    (uint64_t)h->refcount_table_clusters * cs / 8, 8, QCOW2_MAX_REFTABLE_BYTES,
                    "Reference count table", errp) < 0 ||
        check_table(file_len, cs, h->l1_table_offset, h->l1_size, 8, QCOW2_MAX_L1_BYTES,
                    "Active L1 table", errp) < 0 ||
        check_table(file_len, cs, h->snapshots_offset, h->nb_snapshots, 40, 64 << 20,
                    "Snapshot table", errp) < 0) {
        return -EINVAL;
    }
    if (h->l1_size < qcow2_l1_entries_for(s, h->size)) {
        error_setg(errp, "L1 table is too small");
        return -EINVAL;
    }
    return 0;
}

static int parse_extensions(BDRVQcow2State *s, const uint8_t *c0, uint64_t start, uint64_t end,
                            uint8_t **ftable, uint32_t *ftable_len, Error **errp)
{
    uint64_t off = start;

    while (off + 8 <= end) {
        uint32_t type = ldl_be_p(c0 + off), len = ldl_be_p(c0 + off + 4);
        uint64_t padded = ((uint64_t)len + 7) & ~7ULL;
        if (type == QCOW2_EXT_END) {
            return 0;
        }
        if (padded > end - off - 8) {
            error_setg(errp, "Header extension too large");
            return -EINVAL;
        }
        if (type == QCOW2_EXT_BACKING_FORMAT) {
            if (len >= 16) {
                error_setg(errp, "ERROR: ext_backing_format: len=%u too large (>=%u)", len, 16);
                return -EINVAL;
            }
            g_free(s->backing_format);
            s->backing_format = g_strndup((const char *)c0 + off + 8, len);
        } else if (type == QCOW2_EXT_FEATURE_TABLE) {
            *ftable = g_memdup2(c0 + off + 8, len);
            *ftable_len = len;
        } else {
            g_byte_array_append(s->unknown_exts, c0 + off, 8 + padded);
        }
        off += 8 + padded;
    }
    return 0;
}

static int check_features(BDRVQcow2State *s, const uint8_t *ftable, uint32_t ftable_len,
                          Error **errp)
{
    uint64_t unknown = s->h.incompatible_features & ~QCOW2_INCOMPAT_KNOWN;

    if (unknown) {
        g_autofree char *names = feature_names(ftable, ftable_len, unknown);
        error_setg(errp, "Unsupported IMAGE feature(s): %s", names);
        return -ENOTSUP;
    }
    return 0;
}

static void geometry_init(BDRVQcow2State *s)
{
    s->cluster_bits = s->h.cluster_bits;
    s->cluster_size = 1ULL << s->cluster_bits;
    s->l2_bits = s->cluster_bits - 3;
    s->refcount_order = s->h.refcount_order;
    /* check_fields() refuses orders above 6 next; until then no arithmetic may overflow. */
    s->refblock_bits =
        s->h.refcount_order <= 6 ? s->cluster_bits + 3 - (int)s->h.refcount_order : 0;
    s->csize_shift = 62 - (s->cluster_bits - 8);
    s->csize_mask = (1ULL << (s->cluster_bits - 8)) - 1;
    s->cluster_offset_mask = (1ULL << s->csize_shift) - 1;
}

static int check_basic(const uint8_t *b, Qcow2Header *h, Error **errp)
{
    if (ldl_be_p(b) != QCOW_MAGIC) {
        error_setg(errp, "Image is not in qcow2 format");
        return -EINVAL;
    }
    header_decode(h, b);
    if (h->version < 2 || h->version > 3) {
        error_setg(errp, "Unsupported qcow2 version %u", h->version);
        return -ENOTSUP;
    }
    if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS || h->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        error_setg(errp, "Unsupported cluster size: 2^%u", h->cluster_bits);
        return -EINVAL;
    }
    return 0;
}

int qcow2_read_header(BlockDriverState *bs, BDRVQcow2State *s, Error **errp)
{
    g_autofree uint8_t *c0 = g_malloc0(1 << QCOW2_MAX_CLUSTER_BITS);
    g_autofree uint8_t *ftable = NULL;
    uint32_t ftable_len = 0;
    int64_t file_len = bdrv_getlength(bs->file);
    uint64_t ext_end, cs;
    int ret;

    if (file_len < 0) {
        error_setg_errno(errp, -file_len, "Could not get the image file length");
        return file_len;
    }
    if (file_len < QCOW2_V2_HEADER_LEN) {
        error_setg(errp, "Image is not in qcow2 format");
        return -EINVAL;
    }
    ret = bdrv_pread(bs->file, 0, c0, MIN((uint64_t)file_len, QCOW2_V3_HEADER_LEN));
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read qcow2 header");
        return ret;
    }
    if ((ret = check_basic(c0, &s->h, errp)) < 0) {
        return ret;
    }
    cs = 1ULL << s->h.cluster_bits;
    ret = bdrv_pread(bs->file, 0, c0, MIN((uint64_t)file_len, cs));
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read qcow2 header");
        return ret;
    }
    geometry_init(s);
    if ((ret = check_fields(s, file_len, bs->open_flags & BDRV_O_CHECK, errp)) < 0) {
        return ret;
    }
    s->header_tail_len = s->h.header_length - MIN(s->h.header_length, QCOW2_V3_HEADER_LEN);
    s->header_tail = g_memdup2(c0 + QCOW2_V3_HEADER_LEN, s->header_tail_len);
    if (s->header_tail_len && s->header_tail[0] != 0) {
        error_setg(errp, "qcow2: unknown compression type: %u", s->header_tail[0]);
        return -ENOTSUP;
    }
    ext_end = s->h.backing_file_offset ? s->h.backing_file_offset : cs;
    ret = parse_extensions(s, c0, s->h.header_length, ext_end, &ftable, &ftable_len, errp);
    if (ret < 0 || (ret = check_features(s, ftable, ftable_len, errp)) < 0) {
        return ret;
    }
    if (s->h.backing_file_offset) {
        s->backing_file = g_strndup((const char *)c0 + s->h.backing_file_offset,
                                    s->h.backing_file_size);
    }
    return 0;
}

/*
 * Every write of the header's fields: until the next qcow2_sync_tables() the header on
 * disk may differ from s->h, as a write that fails may still land (in part) and one whose
 * flush fails leaves its caller with the old values in memory. The callers change s->h
 * only once the change is durable, so s->h is always what the header must say.
 */
static int header_pwrite(BlockDriverState *bs, uint64_t off, const void *buf, uint64_t len)
{
    BDRVQcow2State *s = bs->opaque;

    s->header_dirty = true;
    return bdrv_pwrite(bs->file, off, buf, len);
}

static int write_be(BlockDriverState *bs, uint64_t off, uint64_t v, int len)
{
    uint8_t b[8];

    for (int i = 0; i < len; i++) {
        b[i] = v >> (8 * (len - 1 - i));
    }
    return header_pwrite(bs, off, b, len);
}

/* The fields from the size on (24) to v2's end (72) or v3's refcount order (up to 100) as
 * s->h has them, in b. */
static void compose_fields(const BDRVQcow2State *s, uint8_t *b)
{
    stq_be_p(b + 24, s->h.size);
    stl_be_p(b + 32, s->h.crypt_method);
    stl_be_p(b + 36, s->h.l1_size);
    stq_be_p(b + 40, s->h.l1_table_offset);
    stq_be_p(b + 48, s->h.refcount_table_offset);
    stl_be_p(b + 56, s->h.refcount_table_clusters);
    stl_be_p(b + 60, s->h.nb_snapshots);
    stq_be_p(b + 64, s->h.snapshots_offset);
    stq_be_p(b + 72, s->h.incompatible_features);
    stq_be_p(b + 80, s->h.compatible_features);
    stq_be_p(b + 88, s->h.autoclear_features);
    stl_be_p(b + 96, s->h.refcount_order);
}

/* The fields from the size on to the end of v2's (72) or v3's (100) fixed fields, from s->h,
 * in one write inside the first sector. */
static int sync_header(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    uint8_t b[QCOW2_V3_HEADER_LEN];
    uint64_t end = s->h.version >= 3 ? 100 : 72;
    int ret;

    compose_fields(s, b);
    ret = bdrv_pwrite(bs->file, 24, b + 24, end - 24);
    if (ret >= 0) {
        s->header_dirty = false;
    }
    return ret;
}

static int sync_reftable(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = qcow2_write_table64(bs, QCOW2_OL_REFCOUNT_TABLE, s->reftable_offset, s->reftable,
                                  s->reftable_size);

    if (ret >= 0) {
        s->reftable_dirty = false;
    }
    return ret;
}

int qcow2_sync_tables(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;

    if (s->c0_pending) {
        ret = bdrv_pwrite(bs->file, 0, s->c0_pending, s->c0_pending_len);
        if (ret >= 0) {
            g_clear_pointer(&s->c0_pending, g_free);
            s->header_dirty = true; /* its fields are as old as the failed rewrite */
        }
    }
    if (ret >= 0 && s->header_dirty) {
        ret = sync_header(bs);
    }
    if (ret >= 0 && s->reftable_dirty) {
        ret = sync_reftable(bs);
    }
    return ret;
}

int qcow2_update_incompat(BlockDriverState *bs, uint64_t bits)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (s->h.version < 3) {
        return 0;
    }
    ret = write_be(bs, 72, bits, 8);
    if (ret >= 0) {
        s->h.incompatible_features = bits;
        ret = bdrv_flush(bs->file);
    }
    return ret;
}

int qcow2_update_compat(BlockDriverState *bs, uint64_t bits)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (s->h.version < 3) {
        return -ENOTSUP;
    }
    ret = write_be(bs, 80, bits, 8);
    ret = ret < 0 ? ret : bdrv_flush(bs->file);
    if (ret >= 0) {
        s->h.compatible_features = bits;
    }
    return ret;
}

int qcow2_clear_autoclear(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->h.version < 3 || !s->h.autoclear_features) {
        return 0;
    }
    s->h.autoclear_features = 0;
    return write_be(bs, 88, 0, 8);
}

void qcow2_signal_corruption(BlockDriverState *bs, int64_t offset, int64_t size,
                             const char *fmt, ...)
{
    BDRVQcow2State *s = bs->opaque;
    bool fatal = s->writable;
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (s->corrupt_reported) {
        return;
    }
    s->corrupt_reported = true;
    if (fatal) {
        fprintf(stderr, "qcow2: Marking image as corrupt: %s; further corruption events will "
                        "be suppressed\n", msg);
    } else {
        fprintf(stderr, "qcow2: Image is corrupt: %s; further non-fatal corruption events "
                        "will be suppressed\n", msg);
    }
    bdrv_event_image_corrupted(bdrv_get_device_name(bs), msg, offset, size, fatal);
    if (fatal) {
        qcow2_update_incompat(bs, s->h.incompatible_features | QCOW2_INCOMPAT_CORRUPT);
        s->writable = false;
        bdrv_mark_unusable(bs);
    }
}

int qcow2_write_l1_location(BlockDriverState *bs, uint64_t offset, uint32_t size)
{
    uint8_t b[12];

    for (int i = 0; i < 4; i++) {
        b[i] = size >> (24 - 8 * i);
    }
    for (int i = 0; i < 8; i++) {
        b[4 + i] = offset >> (56 - 8 * i);
    }
    return header_pwrite(bs, 36, b, sizeof(b));
}

int qcow2_write_refcount_layout(BlockDriverState *bs, uint64_t offset, uint32_t clusters,
                                int order)
{
    BDRVQcow2State *s = bs->opaque;
    uint8_t b[QCOW2_V3_HEADER_LEN];

    compose_fields(s, b);
    stq_be_p(b + 48, offset);
    stl_be_p(b + 56, clusters);
    stl_be_p(b + 96, order);
    /* A v2 header ends at 72 (its extensions follow) and has no order: 16 bits, always. */
    if (s->h.version < 3) {
        return order == 4 ? header_pwrite(bs, 48, b + 48, 60 - 48) : -ENOTSUP;
    }
    return header_pwrite(bs, 48, b + 48, 100 - 48);
}

int qcow2_write_reftable_location(BlockDriverState *bs, uint64_t offset, uint32_t clusters)
{
    uint8_t b[12];

    for (int i = 0; i < 8; i++) {
        b[i] = offset >> (56 - 8 * i);
    }
    for (int i = 0; i < 4; i++) {
        b[8 + i] = clusters >> (24 - 8 * i);
    }
    return header_pwrite(bs, 48, b, sizeof(b));
}

int qcow2_write_size(BlockDriverState *bs, uint64_t size)
{
    return write_be(bs, 24, size, 8);
}

int qcow2_write_snapshot_location(BlockDriverState *bs, uint32_t nb, uint64_t offset)
{
    uint8_t b[12];

    for (int i = 0; i < 4; i++) {
        b[i] = nb >> (24 - 8 * i);
    }
    for (int i = 0; i < 8; i++) {
        b[4 + i] = offset >> (56 - 8 * i);
    }
    return header_pwrite(bs, 60, b, sizeof(b));
}

/* The extensions of cluster 0 (c0) other than the backing format, in their order. */
static GByteArray *other_extensions(BDRVQcow2State *s, const uint8_t *c0, uint64_t end)
{
    GByteArray *out = g_byte_array_new();
    uint64_t off = s->h.header_length;

    while (off + 8 <= end) {
        uint32_t type = ldl_be_p(c0 + off), len = ldl_be_p(c0 + off + 4);
        uint64_t padded = ((uint64_t)len + 7) & ~7ULL;
        if (type == QCOW2_EXT_END || padded > end - off - 8) {
            break;
        }
        if (type != QCOW2_EXT_BACKING_FORMAT) {
            g_byte_array_append(out, c0 + off, 8 + padded);
        }
        off += 8 + padded;
    }
    return out;
}

/*
 * Lay out in c0 (one cluster), from off: the backing format extension, the other
 * extensions, the end marker and the backing name; returns the end of what is used, or 0
 * when it does not fit.
 */
static uint64_t layout_extensions(BDRVQcow2State *s, uint8_t *c0, uint64_t off,
                                  const GByteArray *others, const char *file, const char *fmt)
{
    uint64_t name_len = file ? strlen(file) : 0;
    uint64_t fmt_len = fmt ? strlen(fmt) : 0, fmt_room = fmt ? 8 + ((fmt_len + 7) & ~7ULL) : 0;

    if (off + fmt_room + others->len + 8 + name_len > s->cluster_size) {
        return 0;
    }
    memset(c0 + off, 0, s->cluster_size - off);
    if (fmt) {
        stl_be_p(c0 + off, QCOW2_EXT_BACKING_FORMAT);
        stl_be_p(c0 + off + 4, fmt_len);
        memcpy(c0 + off + 8, fmt, fmt_len);
        off += fmt_room;
    }
    if (others->len) {
        memcpy(c0 + off, others->data, others->len);
    }
    off += others->len + 8; /* the end marker is all zeroes */
    if (file) {
        memcpy(c0 + off, file, name_len);
    }
    stq_be_p(c0 + 8, file ? off : 0);
    stl_be_p(c0 + 16, name_len);
    return off + name_len;
}

/*
 * The first len bytes of c0 written from offset 0 and flushed. If that fails, *old (cluster
 * 0 as memory still describes it) becomes c0_pending: the disk must say it again before
 * any other metadata is written.
 */
static int write_cluster0(BlockDriverState *bs, const uint8_t *c0, uint8_t **old, uint64_t len)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = bdrv_pwrite(bs->file, 0, c0, len);

    ret = ret < 0 ? ret : bdrv_flush(bs->file);
    if (ret < 0) {
        g_free(s->c0_pending);
        s->c0_pending = g_steal_pointer(old);
        s->c0_pending_len = len;
    }
    return ret;
}

/* The extension area and the backing name of c0 laid out anew (layout_extensions). */
static uint64_t rebuild_cluster0(BDRVQcow2State *s, uint8_t *c0, const char *file,
                                 const char *fmt)
{
    uint64_t old_end = s->h.backing_file_offset ? s->h.backing_file_offset : s->cluster_size;
    g_autoptr(GByteArray) others = other_extensions(s, c0, old_end);

    return layout_extensions(s, c0, s->h.header_length, others, file, fmt);
}

/* Remove every extension of this type from a list other_extensions() made. */
static void drop_extension(GByteArray *ext, uint32_t type)
{
    for (guint off = 0; off + 8 <= ext->len;) {
        uint64_t size = 8 + ((ldl_be_p(ext->data + off + 4) + 7ULL) & ~7ULL);
        if (ldl_be_p(ext->data + off) == type) {
            g_byte_array_remove_range(ext, off, size);
        } else {
            off += size;
        }
    }
}

/* Cluster 0 for version: the fixed fields as memory has them (v3's from v2 all zero but
 * the refcount order), v3's extra header bytes kept, the extensions and the backing name. */
static uint64_t compose_cluster0(BDRVQcow2State *s, const uint8_t *old, uint8_t *c0,
                                 int version, uint32_t hlen)
{
    uint64_t old_end = s->h.backing_file_offset ? s->h.backing_file_offset : s->cluster_size;
    g_autoptr(GByteArray) others = other_extensions(s, old, old_end);

    if (version < 3) {
        drop_extension(others, QCOW2_EXT_FEATURE_TABLE); /* as QEMU writes v2 headers */
    }
    memcpy(c0, old, QCOW2_V2_HEADER_LEN);
    stl_be_p(c0 + 4, version);
    if (version >= 3) {
        stq_be_p(c0 + 72, s->h.version >= 3 ? s->h.incompatible_features : 0);
        stq_be_p(c0 + 80, s->h.version >= 3 ? s->h.compatible_features : 0);
        stq_be_p(c0 + 88, s->h.version >= 3 ? s->h.autoclear_features : 0);
        stl_be_p(c0 + 96, s->refcount_order);
        stl_be_p(c0 + 100, hlen);
        memcpy(c0 + QCOW2_V3_HEADER_LEN, old + QCOW2_V3_HEADER_LEN,
               hlen - QCOW2_V3_HEADER_LEN);
    }
    return layout_extensions(s, c0, hlen, others, s->backing_file, s->backing_format);
}

int qcow2_rewrite_header(BlockDriverState *bs, int version)
{
    BDRVQcow2State *s = bs->opaque;
    uint32_t hlen = version < 3          ? QCOW2_V2_HEADER_LEN
                    : s->h.version >= 3 ? s->h.header_length
                                        : QCOW2_V3_HEADER_LEN;
    g_autofree uint8_t *old = g_malloc0(s->cluster_size), *c0 = g_malloc0(s->cluster_size);
    uint64_t old_used = MAX(s->h.backing_file_offset + s->h.backing_file_size,
                            (uint64_t)s->h.header_length + 8);
    uint64_t used = 0, len;
    int ret = qcow2_sync_tables(bs); /* the fields copied below are on disk as in memory */

    ret = ret < 0 ? ret : bdrv_pread(bs->file, 0, old, s->cluster_size);
    if (ret >= 0 && !(used = compose_cluster0(s, old, c0, version, hlen))) {
        ret = -ENOSPC;
    }
    if (ret < 0) {
        return ret;
    }
    len = MIN((MAX(used, old_used) + 511) & ~511ULL, s->cluster_size);
    if ((ret = write_cluster0(bs, c0, &old, len)) < 0) {
        return ret;
    }
    if (version < 3) {
        s->h.incompatible_features = s->h.compatible_features = s->h.autoclear_features = 0;
    }
    s->h.version = version;
    s->h.header_length = hlen;
    s->h.backing_file_offset = ldq_be_p(c0 + 8);
    g_free(s->header_tail);
    s->header_tail_len = hlen - MIN(hlen, QCOW2_V3_HEADER_LEN);
    s->header_tail = g_memdup2(c0 + QCOW2_V3_HEADER_LEN, s->header_tail_len);
    return 0;
}

/*
 * The header and its extensions are rewritten with one write from offset 0 (a single
 * sector when they fit in 512 bytes, which covers v2 images and small v3 ones): a crash
 * leaves either the old or the new backing file, not a mix, on disks that write a sector
 * atomically.
 */
int qcow2_change_backing_file(BlockDriverState *bs, const char *file, const char *fmt)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *c0 = g_malloc0(s->cluster_size), *old = NULL;
    uint64_t old_used, used, len = 0;
    int ret;

    if ((file && strlen(file) > 1023) || (fmt && strlen(fmt) >= 16)) {
        return -EINVAL;
    }
    g_mutex_lock(&s->lock);
    old_used = s->h.backing_file_offset + s->h.backing_file_size;
    ret = qcow2_sync_tables(bs); /* the fields below are rewritten as the disk has them */
    ret = ret < 0 ? ret : bdrv_pread(bs->file, 0, c0, s->cluster_size);
    old = ret < 0 ? NULL : g_memdup2(c0, s->cluster_size);
    used = ret < 0 ? 0 : rebuild_cluster0(s, c0, file, fmt);
    if (ret >= 0 && !used) {
        ret = -ENOSPC;
    }
    if (ret >= 0) {
        len = (MAX(MAX(used, old_used), s->h.header_length + 8) + 511) & ~511ULL;
        len = MIN(len, s->cluster_size);
        ret = write_cluster0(bs, c0, &old, len);
    }
    if (ret >= 0) {
        g_free(s->backing_file);
        g_free(s->backing_format);
        s->backing_file = g_strdup(file);
        s->backing_format = g_strdup(fmt);
        s->h.backing_file_offset = file ? ldq_be_p(c0 + 8) : 0;
        s->h.backing_file_size = file ? strlen(file) : 0;
    }
    g_mutex_unlock(&s->lock);
    return ret;
}

JsonObject *qcow2_get_specific_info(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    JsonObject *data = json_object_new();
    bool v3 = s->h.version >= 3;

    json_object_set_string_member(data, "compat", v3 ? "1.1" : "0.10");
    json_object_set_string_member(data, "compression-type", "zlib");
    if (v3) {
        json_object_set_boolean_member(data, "lazy-refcounts",
                                       s->h.compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS);
    }
    json_object_set_int_member(data, "refcount-bits", 1 << s->refcount_order);
    if (s->h.crypt_method) {
        JsonObject *enc = json_object_new();

        json_object_set_string_member(enc, "format", "aes");
        json_object_set_object_member(data, "encrypt", enc);
    }
    if (v3) {
        json_object_set_boolean_member(data, "corrupt",
                                       s->h.incompatible_features & QCOW2_INCOMPAT_CORRUPT);
        json_object_set_boolean_member(data, "extended-l2", false);
    }
    return data;
}

bool qcow2_is_dirty(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    return s->h.incompatible_features & QCOW2_INCOMPAT_DIRTY;
}
