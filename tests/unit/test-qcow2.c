/*
 * Unit tests for the qcow2 driver (block/qcow2*.c) on real files in a temporary directory:
 * refcount entry packing for every width, L2 entry classification and compressed
 * descriptors, images created by qcow2_create_file (geometry, header fields, a clean
 * check), read/write/zero/discard round trips with the consistency check after each
 * scenario, refcount table growth with 512-byte clusters, repair of a dirty image (and its
 * limit: no growing the file to a far reference),
 * several threads writing one image at once, allocating writes racing on shared clusters of
 * an overlay, partial writes into fresh and reused clusters, and a crash after a flush
 * (checked with qemu-img check too where it is installed). Interoperability with QEMU is
 * tests/system/test_qcow2.py's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "block/qcow2.h"
#include "image-test-util.h"

static BlockDriverState *open_image(const char *path, int flags)
{
    return open_image_fmt(path, "qcow2", flags);
}

static char *create(const char *name, uint64_t size, uint64_t cluster, int version)
{
    Qcow2CreateOpts o = { .size = size, .version = version, .cluster_size = cluster,
                          .refcount_bits = 16 };
    char *path = tmp_image(name);
    Error *err = NULL;

    g_assert_cmpint(qcow2_create_file(path, &o, &err), ==, 0);
    return path;
}

static void assert_clean(BlockDriverState *bs)
{
    Qcow2CheckResult r;

    g_assert_cmpint(qcow2_check(bs, &r, 0, NULL), ==, 0);
    g_assert_cmpint(r.corruptions, ==, 0);
    g_assert_cmpint(r.leaks, ==, 0);
    g_assert_cmpint(r.check_errors, ==, 0);
}

static void test_refcount_packing(void)
{
    uint8_t block[64];

    for (int order = 0; order <= 6; order++) {
        uint64_t max = order == 6 ? UINT64_MAX : (1ULL << (1 << order)) - 1;
        uint64_t n = sizeof(block) * 8 >> order;
        memset(block, 0, sizeof(block));
        for (uint64_t i = 0; i < n; i++) {
            qcow2_set_refcount_ro(block, i, order, (i * 7 + 1) & max);
        }
        for (uint64_t i = 0; i < n; i++) {
            g_assert_cmpuint(qcow2_get_refcount_ro(block, i, order), ==, (i * 7 + 1) & max);
        }
        qcow2_set_refcount_ro(block, 1, order, max);
        g_assert_cmpuint(qcow2_get_refcount_ro(block, 1, order), ==, max);
        g_assert_cmpuint(qcow2_get_refcount_ro(block, 0, order), ==, 1);
    }
    /* 16-bit entries are big-endian on disk. */
    memset(block, 0, sizeof(block));
    qcow2_set_refcount_ro(block, 1, 4, 0x1234);
    g_assert_cmpint(block[2], ==, 0x12);
    g_assert_cmpint(block[3], ==, 0x34);
}

static void test_entry_types(void)
{
    BDRVQcow2State s = { .h = { .version = 3 }, .cluster_bits = 16 };
    uint64_t off, len;

    s.csize_shift = 62 - (16 - 8);
    s.csize_mask = (1ULL << 8) - 1;
    s.cluster_offset_mask = (1ULL << s.csize_shift) - 1;
    g_assert_cmpint(qcow2_entry_type(&s, 0), ==, QCOW2_CLUSTER_UNALLOCATED);
    g_assert_cmpint(qcow2_entry_type(&s, 1), ==, QCOW2_CLUSTER_ZERO_PLAIN);
    g_assert_cmpint(qcow2_entry_type(&s, 0x50000 | 1), ==, QCOW2_CLUSTER_ZERO_ALLOC);
    g_assert_cmpint(qcow2_entry_type(&s, QCOW_OFLAG_COPIED | 0x50000), ==,
                    QCOW2_CLUSTER_NORMAL);
    s.h.version = 2;
    g_assert_cmpint(qcow2_entry_type(&s, 1), ==, QCOW2_CLUSTER_UNALLOCATED);
    /* Compressed: start 0x12345 (not aligned), 3 additional sectors. */
    qcow2_compressed_range(&s, QCOW_OFLAG_COMPRESSED | (3ULL << s.csize_shift) | 0x12345,
                           &off, &len);
    g_assert_cmpuint(off, ==, 0x12345);
    g_assert_cmpuint(len, ==, 4 * 512 - 0x145);
}

static void test_create_geometry(void)
{
    g_autofree char *path = create("geo.qcow2", 1ULL << 30, 65536, 3);
    BlockDriverState *bs = open_image(path, 0);
    BDRVQcow2State *s = bs->opaque;

    g_assert_cmpint(bdrv_getlength(bs), ==, 1LL << 30);
    g_assert_cmpint(s->h.header_length, ==, 112);
    g_assert_cmpuint(s->h.refcount_table_offset, ==, 65536);
    g_assert_cmpuint(s->h.l1_table_offset, ==, 3 * 65536);
    g_assert_cmpuint(s->l1_size, ==, 2);
    assert_clean(bs);
    bdrv_unref(bs);
}

static void round_trip(uint64_t cluster, int version)
{
    g_autofree char *path = create("rt.qcow2", 8 << 20, cluster, version);
    BlockDriverState *bs = open_image(path, BDRV_O_RDWR);

    write_pattern(bs, 0, 100000, 0x11);
    write_pattern(bs, 3000, 5000, 0x22);
    write_pattern(bs, 7 << 20, 1 << 20, 0x33);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 4 << 20, 1 << 20, 0), ==, 0);
    g_assert_cmpint(bdrv_pwrite_zeroes(bs, 0, cluster * 2, BDRV_REQ_MAY_UNMAP), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    assert_clean(bs);
    bdrv_unref(bs);

    bs = open_image(path, 0);
    assert_pattern(bs, 0, cluster * 2, 0);
    if (cluster * 2 < 3000) {
        assert_pattern(bs, cluster * 2, 3000 - cluster * 2, 0x11);
        assert_pattern(bs, 3000, 5000, 0x22);
    }
    if (cluster * 2 < 100000) {
        assert_pattern(bs, MAX(cluster * 2, 8000), 100000 - MAX(cluster * 2, 8000), 0x11);
    }
    assert_pattern(bs, 7 << 20, 1 << 20, 0x33);
    assert_pattern(bs, 4 << 20, 1 << 20, 0);
    assert_clean(bs);
    bdrv_unref(bs);
}

static void test_round_trip(void)
{
    static const uint64_t sizes[] = {512, 4096, 65536, 2 << 20};

    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        round_trip(sizes[i], 2);
        round_trip(sizes[i], 3);
    }
}

/* 512-byte clusters: one refcount table cluster covers 64 * 256 clusters (8 MiB). */
static void test_reftable_growth(void)
{
    g_autofree char *path = create("grow.qcow2", 64 << 20, 512, 3);
    BlockDriverState *bs = open_image(path, BDRV_O_RDWR);
    BDRVQcow2State *s = bs->opaque;

    for (int i = 0; i < 12; i++) {
        write_pattern(bs, (uint64_t)i << 20, 1 << 20, i + 1);
    }
    g_assert_cmpuint(s->h.refcount_table_clusters, >, 1);
    assert_clean(bs);
    bdrv_unref(bs);
    bs = open_image(path, 0);
    for (int i = 0; i < 12; i++) {
        assert_pattern(bs, (uint64_t)i << 20, 1 << 20, i + 1);
    }
    assert_clean(bs);
    bdrv_unref(bs);
}

static void test_discard(void)
{
    g_autofree char *path = create("disc.qcow2", 8 << 20, 65536, 3);
    BlockDriverState *bs = open_image(path, BDRV_O_RDWR | BDRV_O_UNMAP);
    uint64_t pnum;

    write_pattern(bs, 0, 1 << 20, 0x44);
    g_assert_cmpint(bdrv_pdiscard(bs, 65536, 3 * 65536), ==, 0);
    /* v3: zero clusters, as QEMU 7.2 makes them; their host clusters are freed. */
    g_assert_cmpint(bdrv_block_status(bs, 65536, 1 << 20, &pnum), ==,
                    BDRV_BLOCK_ZERO | BDRV_BLOCK_ALLOCATED);
    g_assert_cmpuint(pnum, ==, 3 * 65536);
    assert_pattern(bs, 65536, 3 * 65536, 0);
    assert_pattern(bs, 0, 65536, 0x44);
    /* Freed clusters are reused. */
    write_pattern(bs, 4 << 20, 3 * 65536, 0x55);
    assert_clean(bs);
    bdrv_unref(bs);
}

/* Set the dirty bit and damage a refcount: a read-write open rebuilds the refcounts. */
static void test_dirty_repair(void)
{
    g_autofree char *path = create("dirty.qcow2", 8 << 20, 65536, 3);
    BlockDriverState *bs = open_image(path, BDRV_O_RDWR);
    BDRVQcow2State *s;

    write_pattern(bs, 0, 1 << 20, 0x66);
    s = bs->opaque;
    g_mutex_lock(&s->lock);
    g_assert_cmpint(qcow2_flush_metadata(bs), ==, 0);
    g_assert_cmpint(qcow2_refcount_set_direct(bs, 5, 0), ==, 0);
    g_assert_cmpint(qcow2_flush_metadata(bs), ==, 0);
    g_assert_cmpint(qcow2_update_incompat(bs, QCOW2_INCOMPAT_DIRTY), ==, 0);
    s->writable = false;
    g_mutex_unlock(&s->lock);
    bdrv_unref(bs);

    bs = open_image(path, BDRV_O_RDWR);
    s = bs->opaque;
    g_assert_cmpuint(s->h.incompatible_features & QCOW2_INCOMPAT_DIRTY, ==, 0);
    assert_clean(bs);
    assert_pattern(bs, 0, 1 << 20, 0x66);
    bdrv_unref(bs);
}

/* Make the (closed) image dirty, with guest cluster `cluster`'s L2 entry (in the first L2
 * table) pointing at host offset `host`; returns the file's size. */
static uint64_t damage_l2_entry(const char *path, unsigned cluster, uint64_t host)
{
    uint64_t l1_off, l2_off, entry, incompat;
    struct stat st;
    int fd = g_open(path, O_RDWR, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, &l1_off, 8, 40), ==, 8);
    g_assert_cmpint(pread(fd, &l2_off, 8, GUINT64_FROM_BE(l1_off)), ==, 8);
    l2_off = GUINT64_FROM_BE(l2_off) & L1E_OFFSET_MASK;
    entry = GUINT64_TO_BE(QCOW_OFLAG_COPIED | host);
    g_assert_cmpint(pwrite(fd, &entry, 8, l2_off + 8 * cluster), ==, 8);
    g_assert_cmpint(pread(fd, &incompat, 8, 72), ==, 8);
    incompat = GUINT64_FROM_BE(incompat) | QCOW2_INCOMPAT_DIRTY;
    incompat = GUINT64_TO_BE(incompat);
    g_assert_cmpint(pwrite(fd, &incompat, 8, 72), ==, 8);
    g_assert_cmpint(fstat(fd, &st), ==, 0);
    close(fd);
    return st.st_size;
}

/*
 * The repair at open grows the file over a lost tail (L2 entries just past the end), but
 * not to a reference far beyond anything the image could have allocated: that entry is
 * damage, the open fails with QEMU's message, and the file keeps its size. (The qcow2
 * fuzzer found it: the repair grew a file on tmpfs to 4.8 PB and aborted allocating the
 * count's table; on ext4 a 1 TiB reference was "repaired" into a 1 TiB sparse file.)
 */
static void test_dirty_far_reference(void)
{
    g_autofree char *path = create("far.qcow2", 8 << 20, 65536, 3);
    BlockDriverState *bs = open_image(path, BDRV_O_RDWR);
    uint64_t end, before;
    Error *err = NULL;
    struct stat st;

    write_pattern(bs, 0, 65536, 0x77);
    bdrv_unref(bs);
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    end = ((uint64_t)st.st_size + 65535) / 65536 * 65536;
    damage_l2_entry(path, 1, end + 2 * 65536);
    bs = open_image(path, BDRV_O_RDWR);
    g_assert_cmpuint(bdrv_getlength(bs->file), ==, end + 3 * 65536);
    assert_pattern(bs, 0, 65536, 0x77);
    assert_pattern(bs, 65536, 65536, 0);
    assert_clean(bs);
    bdrv_unref(bs);

    for (int i = 0; i < 2; i++) { /* 1 TiB, and the fuzzer's 4.8 PB */
        before = damage_l2_entry(path, 2, i ? UINT64_C(0x0011111111110000) : UINT64_C(1) << 40);
        g_assert_null(bdrv_open(path, NULL, BDRV_O_RDWR | BDRV_O_CACHE_WB, &err));
        g_assert_nonnull(err);
        g_assert_true(g_str_has_prefix(error_get_pretty(err), "Could not repair dirty image"));
        g_clear_pointer(&err, error_free);
        g_assert_cmpint(g_stat(path, &st), ==, 0);
        g_assert_cmpuint(st.st_size, ==, before);
    }
}

/*
 * A write through a hostile L2 entry lands where the entry says, here 1 TiB out: the file is
 * then a sparse 1 TiB of 512-byte clusters, 2^31 of them. A check of it fails with EFBIG
 * instead of allocating a count for every cluster (the fuzzer's 256 TiB file made the check
 * ask for 4 TiB of memory), and so does a change of the refcount width (it would have placed
 * the new structure past that end, and tried to hold its blocks in memory).
 */
static void test_check_huge_file(void)
{
    g_autofree char *path = create("huge.qcow2", 8 << 20, 512, 3);
    BlockDriverState *bs = open_image(path, BDRV_O_RDWR);
    g_autoptr(JsonObject) opts = json_object_new();
    uint64_t clean = 0;
    Error *err = NULL;
    BdrvCheckResult r;
    int fd;

    write_pattern(bs, 0, 512, 0x77);
    bdrv_unref(bs);
    damage_l2_entry(path, 1, UINT64_C(1) << 40);
    fd = g_open(path, O_RDWR, 0);
    g_assert_cmpint(pwrite(fd, &clean, 8, 72), ==, 8); /* not dirty: no repair at open */
    close(fd);
    bs = open_image(path, BDRV_O_RDWR);
    write_pattern(bs, 512, 512, 0x55);
    g_assert_cmpuint(bdrv_getlength(bs->file), >, UINT64_C(1) << 40);
    g_assert_cmpint(bdrv_check(bs, &r, BDRV_FIX_LEAKS | BDRV_FIX_ERRORS, NULL), ==, -EFBIG);
    json_object_set_string_member(opts, "refcount_bits", "8");
    g_assert_cmpint(bdrv_amend(bs, opts, &err), ==, -EFBIG);
    g_assert_true(g_str_has_suffix(error_get_pretty(err), "File too large"));
    error_free(err);
    assert_pattern(bs, 0, 512, 0x77);
    bdrv_unref(bs);
    g_remove(path);
}

typedef struct WriterArgs {
    BlockDriverState *bs;
    int id;
} WriterArgs;

static gpointer writer(gpointer opaque)
{
    WriterArgs *a = opaque;
    GRand *rand = g_rand_new_with_seed(a->id);

    for (int i = 0; i < 200; i++) {
        /* Each thread owns every 8th 64 KiB stripe: writes never overlap. */
        uint64_t stripe = g_rand_int_range(rand, 0, 32) * 8 + a->id;
        uint64_t off = stripe * 65536 + g_rand_int_range(rand, 0, 60) * 1024;
        write_pattern(a->bs, off, 4096, a->id + 1);
        if (i % 50 == 0) {
            g_assert_cmpint(bdrv_flush(a->bs), ==, 0);
        }
    }
    g_rand_free(rand);
    return NULL;
}

static void test_threads(void)
{
    g_autofree char *path = create("mt.qcow2", 16 << 20, 4096, 3);
    BlockDriverState *bs = open_image(path, BDRV_O_RDWR);
    WriterArgs args[8];
    GThread *t[8];

    for (int i = 0; i < 8; i++) {
        args[i] = (WriterArgs){ bs, i };
        t[i] = g_thread_new("writer", writer, &args[i]);
    }
    for (int i = 0; i < 8; i++) {
        g_thread_join(t[i]);
    }
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    assert_clean(bs);
    bdrv_unref(bs);
}

/*
 * Allocating writes racing on the same clusters of an overlay: every thread owns every 8th
 * 512-byte sector of the image, so the clusters are shared and the writes allocate, copy the
 * backing file's head and tail and link concurrently, but no two writes touch the same
 * bytes. Afterwards each sector holds its owner's last write or, never written, the backing
 * file's content: no write is lost and no copy-on-write lands on guest data.
 */
#define RACE_THREADS 8
#define RACE_SECTORS 2048  /* 1 MiB: 16 clusters of 64 KiB */

typedef struct RaceArgs {
    BlockDriverState *bs;
    int id;
    uint8_t *last;  /* per sector: the byte last written, 0 = never */
} RaceArgs;

static gpointer race_writer(gpointer opaque)
{
    RaceArgs *a = opaque;
    GRand *rand = g_rand_new_with_seed(100 + a->id);
    uint8_t buf[512];

    for (int i = 0; i < 300; i++) {
        uint64_t sector = g_rand_int_range(rand, 0, RACE_SECTORS / RACE_THREADS) * RACE_THREADS +
                          a->id;
        uint8_t byte = 0x10 + a->id * 0x10 + i % 15 + 1;
        memset(buf, byte, sizeof(buf));
        g_assert_cmpint(bdrv_pwrite(a->bs, sector * 512, buf, sizeof(buf)), ==, 0);
        a->last[sector] = byte;
        if (i % 100 == 99) {
            g_assert_cmpint(bdrv_flush(a->bs), ==, 0);
        }
    }
    g_rand_free(rand);
    return NULL;
}

/* Exit status of qemu-img check on path (0 clean, 3 leaks only), or 0 without qemu-img. */
static int qemu_img_check(const char *path)
{
    g_autofree char *qemu_img = g_find_program_in_path("qemu-img");
    g_autofree char *cmd = NULL;
    int status;

    if (!qemu_img) {
        return 0;
    }
    cmd = g_strdup_printf("%s check -q %s", qemu_img, path);
    g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, &status, NULL));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void race_check(BlockDriverState *bs, RaceArgs *args)
{
    g_autofree uint8_t *buf = g_malloc(RACE_SECTORS * 512);

    g_assert_cmpint(bdrv_pread(bs, 0, buf, RACE_SECTORS * 512), ==, 0);
    for (int sector = 0; sector < RACE_SECTORS; sector++) {
        uint8_t want = args[sector % RACE_THREADS].last[sector];
        want = want ? want : 0x5a;
        for (int i = 0; i < 512; i++) {
            if (buf[sector * 512 + i] != want) {
                g_error("sector %d byte %d: %#x, expected %#x", sector, i,
                        buf[sector * 512 + i], want);
            }
        }
    }
}

static void test_alloc_race(void)
{
    g_autofree char *base = create("race-base.qcow2", 4 << 20, 65536, 3);
    g_autofree char *path = tmp_image("race.qcow2");
    Qcow2CreateOpts o = { .size = 4 << 20, .version = 3, .cluster_size = 65536,
                          .refcount_bits = 16, .backing_file = base, .backing_fmt = "qcow2" };
    RaceArgs args[RACE_THREADS];
    GThread *t[RACE_THREADS];
    BlockDriverState *bs = open_image(base, BDRV_O_RDWR);
    Error *err = NULL;

    write_pattern(bs, 0, 4 << 20, 0x5a);
    bdrv_unref(bs);
    g_assert_cmpint(qcow2_create_file(path, &o, &err), ==, 0);
    bs = open_image(path, BDRV_O_RDWR);
    for (int i = 0; i < RACE_THREADS; i++) {
        args[i] = (RaceArgs){ bs, i, g_malloc0(RACE_SECTORS) };
        t[i] = g_thread_new("race", race_writer, &args[i]);
    }
    for (int i = 0; i < RACE_THREADS; i++) {
        g_thread_join(t[i]);
    }
    race_check(bs, args);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    assert_clean(bs);
    bdrv_unref(bs);
    g_assert_cmpint(qemu_img_check(path), ==, 0);
    bs = open_image(path, BDRV_O_RDWR);
    race_check(bs, args);
    assert_pattern(bs, RACE_SECTORS * 512, (4 << 20) - RACE_SECTORS * 512, 0x5a);
    bdrv_unref(bs);
    for (int i = 0; i < RACE_THREADS; i++) {
        g_free(args[i].last);
    }
}

/*
 * Partial writes into unallocated clusters of an image without a backing file, fresh
 * clusters and clusters reused after a discard (which still hold old data): the rest of
 * each new cluster reads as zeroes, whether the file's zero-range operation zeroes it or,
 * where the file has none, zeroes are written with the data.
 */
static void zero_cow(bool zero_range)
{
    g_autofree char *path = create("zero-cow.qcow2", 8 << 20, 65536, 3);
    BlockDriverState *bs = open_image(path, BDRV_O_RDWR | BDRV_O_UNMAP);
    BDRVQcow2State *s = bs->opaque;

    uint64_t first, e, run;
    int reused = 0;

    s->no_zero_range = !zero_range;
    write_pattern(bs, 0, 1 << 20, 0xee);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_mutex_lock(&s->lock);
    g_assert_cmpint(qcow2_get_mapping(bs, 0, 1 << 20, &e, &run), >=, 0);
    g_mutex_unlock(&s->lock);
    first = e & L2E_OFFSET_MASK;
    g_assert_cmpuint(run, ==, 1 << 20);
    g_assert_cmpint(bdrv_pdiscard(bs, 0, 1 << 20), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    /* the file may have punched the freed clusters: put the old data back */
    write_pattern(bs->file, first, 1 << 20, 0xee);
    for (int i = 0; i < 32; i++) {
        /* 16 reused clusters, then 16 fresh ones */
        write_pattern(bs, (2 << 20) + i * 65536 + 8192, 4096, 0x31 + i);
        g_mutex_lock(&s->lock);
        g_assert_cmpint(qcow2_get_mapping(bs, (2 << 20) + i * 65536, 65536, &e, &run), >=, 0);
        g_mutex_unlock(&s->lock);
        e &= L2E_OFFSET_MASK;
        reused += e >= first && e < first + (1 << 20);
    }
    g_assert_cmpint(reused, ==, 16);
    for (int i = 0; i < 32; i++) {
        uint64_t c = (2 << 20) + i * 65536;
        assert_pattern(bs, c, 8192, 0);
        assert_pattern(bs, c + 8192, 4096, 0x31 + i);
        assert_pattern(bs, c + 12288, 65536 - 12288, 0);
    }
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    assert_clean(bs);
    bdrv_unref(bs);
    g_assert_cmpint(qemu_img_check(path), ==, 0);
}

static void test_zero_cow(void)
{
    zero_cow(true);
    zero_cow(false);
}

/*
 * A crash: what was written before a flush survives, what came after it may be lost but
 * leaves at most leaked clusters. The process "dies" by dropping the image without writing
 * back its caches.
 */
static void test_crash_after_flush(void)
{
    g_autofree char *path = create("crash.qcow2", 64 << 20, 65536, 3);
    BlockDriverState *bs = open_image(path, BDRV_O_RDWR);
    BDRVQcow2State *s = bs->opaque;
    int rc;

    for (int i = 0; i < 64; i++) {
        write_pattern(bs, (uint64_t)i * 997 * 1024, 4096, 0x40 + i % 64);
    }
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    for (int i = 0; i < 64; i++) {
        write_pattern(bs, (32 << 20) + (uint64_t)i * 331 * 1024, 4096, 0xc0);
    }
    g_mutex_lock(&s->lock);
    s->writable = false;  /* no write-back at close: the caches are lost */
    g_mutex_unlock(&s->lock);
    bdrv_unref(bs);

    rc = qemu_img_check(path);
    g_assert_true(rc == 0 || rc == 3);
    bs = open_image(path, BDRV_O_RDWR);
    for (int i = 0; i < 64; i++) {
        assert_pattern(bs, (uint64_t)i * 997 * 1024, 4096, 0x40 + i % 64);
    }
    bdrv_unref(bs);
}

static void test_open_errors(void)
{
    g_autofree char *path = create("bad.qcow2", 1 << 20, 65536, 3);
    uint8_t v4[4] = {0, 0, 0, 4};
    JsonObject *o = json_object_new();
    Error *err = NULL;
    FILE *f = fopen(path, "r+b");

    g_assert_nonnull(f);
    fseek(f, 4, SEEK_SET);
    fwrite(v4, 1, 4, f);
    fclose(f);
    json_object_set_string_member(o, "driver", "qcow2");
    g_assert_null(bdrv_open(path, o, 0, &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "Unsupported qcow2 version 4"));
    error_free(err);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir_create("test-qcow2-XXXXXX");
    g_test_add_func("/qcow2/refcount-packing", test_refcount_packing);
    g_test_add_func("/qcow2/entry-types", test_entry_types);
    g_test_add_func("/qcow2/create-geometry", test_create_geometry);
    g_test_add_func("/qcow2/round-trip", test_round_trip);
    g_test_add_func("/qcow2/reftable-growth", test_reftable_growth);
    g_test_add_func("/qcow2/discard", test_discard);
    g_test_add_func("/qcow2/dirty-repair", test_dirty_repair);
    g_test_add_func("/qcow2/dirty-far-reference", test_dirty_far_reference);
    g_test_add_func("/qcow2/check-huge-file", test_check_huge_file);
    g_test_add_func("/qcow2/threads", test_threads);
    g_test_add_func("/qcow2/alloc-race", test_alloc_race);
    g_test_add_func("/qcow2/zero-cow", test_zero_cow);
    g_test_add_func("/qcow2/crash-after-flush", test_crash_after_flush);
    g_test_add_func("/qcow2/open-errors", test_open_errors);
    ret = g_test_run();
    tmpdir_remove();
    return ret;
}
