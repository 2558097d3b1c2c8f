/*
 * Unit tests for the qcow2 runtime options (block/qcow2-options.c and where qcow2 applies
 * them): the metadata cache sizes each combination of cache-size / l2-cache-size /
 * refcount-cache-size gives, which freed clusters reach the file for each pass-discard-*
 * setting (snapshot deletion, L1 table growth), and the overlap check against snapshot
 * tables (inactive-l1 in "cached", inactive-l2 only in "all") and for each kind of metadata
 * (a table rewritten in place passes, as the kind ignored). The messages and the options
 * seen from -drive and blockdev-add are tests/system/test_qcow2_options.py's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>
#include <glib.h>
#include "block/qcow2.h"
#include "image-test-util.h"

#define CLUSTER 65536

static char *create(const char *name, uint64_t size)
{
    Qcow2CreateOpts o = {.size = size, .version = 3, .cluster_size = CLUSTER, .refcount_bits = 16};
    char *path = tmp_image(name);
    Error *err = NULL;

    g_assert_cmpint(qcow2_create_file(path, &o, &err), ==, 0);
    return path;
}

/* Open with "key=value,key=value" as qcow2 options (strings, as -drive gives them). */
static BlockDriverState *open_opts(const char *path, const char *opts, int flags)
{
    JsonObject *o = json_object_new();
    g_auto(GStrv) kv = g_strsplit(opts, ",", -1);
    Error *err = NULL;
    BlockDriverState *bs;

    json_object_set_string_member(o, "driver", "qcow2");
    for (int i = 0; kv[i] && *kv[i]; i++) {
        g_auto(GStrv) p = g_strsplit(kv[i], "=", 2);
        json_object_set_string_member(o, p[0], p[1]);
    }
    bs = bdrv_open(path, o, flags | BDRV_O_CACHE_WB, &err);
    if (!bs) {
        g_error("open %s with %s: %s", path, opts, error_get_pretty(err));
    }
    return bs;
}

static void test_cache_sizes(void)
{
    static const struct {
        const char *opts;
        int l2, rb;
    } cases[] = {
        {"", 64, 16},                                /* minivmm's defaults */
        {"l2-cache-size=512k", 8, 4},                /* refcount: a quarter, at least 4 */
        {"refcount-cache-size=1M", 16, 16},          /* L2: 4M, but the disk has 16 tables */
        {"cache-size=5M", 16, 16},                   /* 1:4, the L2 part capped */
        {"cache-size=2M,l2-cache-size=512k", 8, 24}, /* refcount: what is left */
        {"cache-size=2M,refcount-cache-size=1536k", 8, 24},
        {"l2-cache-size=1", 2, 4},   /* the minimums */
        {"l2-cache-size=1T", 16, 4}, /* the refcount part follows the cap */
    };
    g_autofree char *path = create("sizes.qcow2", 8ULL << 30);

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        BlockDriverState *bs = open_opts(path, cases[i].opts, BDRV_O_RDWR);
        BDRVQcow2State *s = bs->opaque;

        g_test_message("%s", cases[i].opts);
        g_assert_cmpint(qcow2_cache_entries(s->l2_cache), ==, cases[i].l2);
        g_assert_cmpint(qcow2_cache_entries(s->refblock_cache), ==, cases[i].rb);
        write_pattern(bs, (uint64_t)i << 30, CLUSTER, 0x10 + i);
        assert_pattern(bs, (uint64_t)i << 30, CLUSTER, 0x10 + i);
        bdrv_unref(bs);
    }
}

/* Whether the file has data (not a hole) at offset. */
static bool file_has_data(const char *path, uint64_t offset)
{
    int fd = open(path, O_RDONLY);
    off_t data = lseek(fd, offset, SEEK_DATA);

    close(fd);
    return data == (off_t)offset;
}

/* Delete a snapshot whose clusters the active image no longer uses: are they discarded? */
static bool snapshot_delete_discards(const char *opts)
{
    g_autofree char *path = create("snap.qcow2", 16 << 20);
    BlockDriverState *bs = open_opts(path, opts, BDRV_O_RDWR | BDRV_O_UNMAP);
    BDRVQcow2State *s = bs->opaque;
    Error *err = NULL;
    uint64_t old, run;
    bool kept;

    write_pattern(bs, 0, CLUSTER, 0x11);
    g_assert_cmpint(qcow2_get_mapping(bs, 0, CLUSTER, &old, &run), ==, 0);
    old &= L2E_OFFSET_MASK;
    g_assert_cmpint(qcow2_snapshot_create(bs, "s1", 0, &err), ==, 0);
    write_pattern(bs, 0, CLUSTER, 0x22); /* copied on write: old is the snapshot's alone */
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_true(file_has_data(path, old));
    g_assert_cmpint(qcow2_snapshot_delete(bs, "s1", &err), ==, 0);
    kept = file_has_data(path, old);
    g_assert_cmpuint(s->nb_snapshots, ==, 0);
    assert_pattern(bs, 0, CLUSTER, 0x22);
    bdrv_unref(bs);
    g_remove(path);
    return !kept;
}

static void test_pass_discard_snapshot(void)
{
    g_assert_true(snapshot_delete_discards(""));
    g_assert_true(snapshot_delete_discards("pass-discard-snapshot=on"));
    g_assert_false(snapshot_delete_discards("pass-discard-snapshot=off"));
}

/* Grow the L1 table (a resize): is the old table's cluster discarded? */
static bool l1_growth_discards(const char *opts)
{
    g_autofree char *path = create("grow.qcow2", 64 << 20);
    BlockDriverState *bs = open_opts(path, opts, BDRV_O_RDWR | BDRV_O_UNMAP);
    BDRVQcow2State *s = bs->opaque;
    uint64_t old_l1 = s->l1_offset;
    Error *err = NULL;
    bool kept;

    g_assert_true(file_has_data(path, old_l1));
    g_assert_cmpint(bdrv_truncate(bs, 64ULL << 30, &err), ==, 0);
    g_assert_cmpuint(s->l1_offset, !=, old_l1);
    kept = file_has_data(path, old_l1);
    write_pattern(bs, 0, CLUSTER, 0x33); /* may reuse the freed cluster */
    assert_pattern(bs, 0, CLUSTER, 0x33);
    bdrv_unref(bs);
    g_remove(path);
    return !kept;
}

static void test_pass_discard_other(void)
{
    g_assert_false(l1_growth_discards(""));
    g_assert_true(l1_growth_discards("pass-discard-other=on"));
}

static void put_be64(const char *path, uint64_t off, uint64_t v)
{
    uint64_t be = GUINT64_TO_BE(v);
    int fd = open(path, O_WRONLY);

    g_assert_cmpint(pwrite(fd, &be, 8, off), ==, 8);
    close(fd);
}

static uint64_t get_be64(const char *path, uint64_t off)
{
    uint64_t be = 0;
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(pread(fd, &be, 8, off), ==, 8);
    close(fd);
    return GUINT64_FROM_BE(be);
}

/*
 * An image with a snapshot whose L2 table the active image no longer shares (guest cluster
 * 0 was rewritten), and guest cluster 1 forged to point, in place, at target: the
 * snapshot's L1 table (inactive_l1) or its L2 table.
 */
static char *forge_into_snapshot(bool inactive_l1)
{
    char *path = create(inactive_l1 ? "il1.qcow2" : "il2.qcow2", 16 << 20);
    BlockDriverState *bs = open_opts(path, "", BDRV_O_RDWR);
    BDRVQcow2State *s = bs->opaque;
    uint64_t sn_l1, sn_l2, active_l2;
    Error *err = NULL;

    write_pattern(bs, 0, 2 * CLUSTER, 0x11);
    g_assert_cmpint(qcow2_snapshot_create(bs, "s1", 0, &err), ==, 0);
    write_pattern(bs, 0, CLUSTER, 0x22);
    sn_l1 = s->snapshots[0].l1_offset;
    active_l2 = s->l1_table[0] & L1E_OFFSET_MASK;
    bdrv_unref(bs);
    sn_l2 = get_be64(path, sn_l1) & L1E_OFFSET_MASK;
    g_assert_cmpuint(sn_l2, !=, active_l2);
    put_be64(path, active_l2 + 8, (inactive_l1 ? sn_l1 : sn_l2) | QCOW_OFLAG_COPIED);
    return path;
}

/* Write guest cluster 1 with opts: 0 or the error, and whether the image is now corrupt. */
static int write_forged(const char *path, const char *opts, bool *corrupt)
{
    BlockDriverState *bs = open_opts(path, opts, BDRV_O_RDWR);
    g_autofree uint8_t *buf = g_malloc(4096);
    int ret;

    memset(buf, 0x5a, 4096);
    ret = bdrv_pwrite(bs, CLUSTER, buf, 4096);
    bdrv_unref(bs);
    *corrupt = get_be64(path, 72) & QCOW2_INCOMPAT_CORRUPT;
    return ret;
}

static void test_overlap_inactive(void)
{
    static const struct {
        bool inactive_l1;
        const char *opts;
        bool refused;
    } cases[] = {
        {true, "", true}, /* cached has inactive-l1 */
        {true, "overlap-check.inactive-l1=off", false},
        {true, "overlap-check=constant", false},
        {false, "", false}, /* inactive-l2: only "all" */
        {false, "overlap-check=all", true},
        {false, "overlap-check=cached,overlap-check.inactive-l2=on", true},
        {false, "overlap-check.template=all,overlap-check.inactive-l2=off", false},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = forge_into_snapshot(cases[i].inactive_l1);
        bool corrupt;
        int ret = write_forged(path, cases[i].opts, &corrupt);

        g_test_message("%s %s", cases[i].inactive_l1 ? "L1" : "L2", cases[i].opts);
        g_assert_cmpint(ret, ==, cases[i].refused ? -EIO : 0);
        g_assert_cmpint(corrupt, ==, cases[i].refused);
        g_remove(path);
    }
}

/*
 * Every kind of metadata is found at its own cluster (the check with every other kind
 * ignored refuses it), and a table rewritten in place passes (the check ignoring its kind).
 * Read-only, so that a refusal marks nothing and the next check runs alike.
 */
static void test_overlap_each_kind(void)
{
    g_autofree char *path = forge_into_snapshot(false);
    BlockDriverState *bs = open_opts(path, "overlap-check=all", 0);
    BDRVQcow2State *s = bs->opaque;
    const struct {
        int kind;
        uint64_t off;
    } kinds[] = {
        {QCOW2_OL_MAIN_HEADER, 0},
        {QCOW2_OL_ACTIVE_L1, s->l1_offset},
        {QCOW2_OL_ACTIVE_L2, s->l1_table[0] & L1E_OFFSET_MASK},
        {QCOW2_OL_REFCOUNT_TABLE, s->reftable_offset},
        {QCOW2_OL_REFCOUNT_BLOCK, s->reftable[0]},
        {QCOW2_OL_SNAPSHOT_TABLE, s->h.snapshots_offset},
        {QCOW2_OL_INACTIVE_L1, s->snapshots[0].l1_offset},
        {QCOW2_OL_INACTIVE_L2, get_be64(path, s->snapshots[0].l1_offset) & L1E_OFFSET_MASK},
    };
    uint64_t data;

    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        g_test_message("kind %#x at %#" PRIx64, kinds[i].kind, kinds[i].off);
        g_assert_cmpuint(kinds[i].off % CLUSTER, ==, 0);
        g_assert_cmpint(qcow2_check_overlap(bs, kinds[i].kind, kinds[i].off, 512), ==, 0);
        g_assert_cmpint(qcow2_check_overlap(bs, QCOW2_OL_ALL & ~kinds[i].kind,
                                            kinds[i].off + CLUSTER - 1, 1), ==, -EIO);
    }
    /* Guest cluster 0's data is no metadata. */
    data = get_be64(path, kinds[2].off) & L2E_OFFSET_MASK;
    g_assert_cmpuint(data, !=, 0);
    g_assert_cmpint(qcow2_check_overlap(bs, 0, data, CLUSTER), ==, 0);
    bdrv_unref(bs);
    g_remove(path);
}

/* After a fatal corruption the node answers -ENOMEDIUM, as QEMU's without a driver. */
static void test_fatal_corruption_unusable(void)
{
    g_autofree char *path = forge_into_snapshot(true);
    BlockDriverState *bs = open_opts(path, "", BDRV_O_RDWR);
    g_autofree uint8_t *buf = g_malloc0(4096);

    g_assert_cmpint(bdrv_pwrite(bs, CLUSTER, buf, 4096), ==, -EIO);
    g_assert_cmpint(bdrv_pread(bs, 0, buf, 4096), ==, -ENOMEDIUM);
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, 4096), ==, -ENOMEDIUM);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    bdrv_unref(bs);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir_create("test-qcow2-options-XXXXXX");
    g_test_add_func("/qcow2-options/cache-sizes", test_cache_sizes);
    g_test_add_func("/qcow2-options/pass-discard-snapshot", test_pass_discard_snapshot);
    g_test_add_func("/qcow2-options/pass-discard-other", test_pass_discard_other);
    g_test_add_func("/qcow2-options/overlap-inactive", test_overlap_inactive);
    g_test_add_func("/qcow2-options/overlap-each-kind", test_overlap_each_kind);
    g_test_add_func("/qcow2-options/fatal-corruption-unusable", test_fatal_corruption_unusable);
    ret = g_test_run();
    tmpdir_remove();
    return ret;
}
