/*
 * qcow2 images: the input is the image file. It is written to a scratch file in /dev/shm
 * (unlinked, reached through /proc/self/fd) and opened read-write with the qcow2 driver
 * over file (so the header, its extensions, L1/L2 and refcount tables, snapshot table and
 * every consistency check see hostile bytes), then
 * read at the start, middle and end of the virtual disk, written at two places (one of them
 * needing a cluster allocation), read back, and closed (metadata flushed). The input's
 * length picks the overlap-check mode and the cache sizes, and whether the image is then
 * checked with every repair (check -r all, the refcount rebuild among them), its
 * refcount width changed (amend -o refcount_bits) and it grown with preallocation
 * (resize --preallocation=metadata). The header's
 * backing file reference is cleared first, so no other host file is ever opened; external
 * data files are refused by the driver itself.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib.h>
#include "block/block-backend.h"
#include "block/block.h"
#include "block/image-ops.h"
#include "block/qcow2.h"
#include "harness.h"
#include "util/main-loop.h"

#define QCOW2_FUZZ_IO 4096
#define QCOW2_FUZZ_GROW (192 * 1024) /* a preallocating grow: a few clusters at most */
#define QCOW2_BACKING_FIELDS 8 /* backing_file_offset (u64) and backing_file_size (u32) */

/* The scratch file by its descriptor: unlinked at once, it goes with the process however
 * that ends (a crash, or libFuzzer's exit at its time limit). */
static char qcow2_fuzz_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char name[] = "/dev/shm/fuzz-qcow2-XXXXXX";
    int fd = mkstemp(name);

    if (fd < 0 || unlink(name) < 0) {
        abort();
    }
    snprintf(qcow2_fuzz_path, sizeof(qcow2_fuzz_path), "/proc/self/fd/%d", fd);
    main_loop_init();
    return 0;
}

static void qcow2_fuzz_write_file(const uint8_t *data, size_t size)
{
    g_autofree uint8_t *copy = g_memdup2(data, size);
    int fd = open(qcow2_fuzz_path, O_WRONLY | O_TRUNC);

    if (size >= QCOW2_BACKING_FIELDS + 12) {
        memset(copy + QCOW2_BACKING_FIELDS, 0, 12);
    }
    if (fd < 0 || write(fd, copy, size) != (ssize_t)size) {
        abort();
    }
    close(fd);
}

static void qcow2_fuzz_io(BlockBackend *blk)
{
    static uint8_t buf[QCOW2_FUZZ_IO];
    int64_t len = blk_getlength(blk);
    uint64_t at[3] = {0, len / 2, len > QCOW2_FUZZ_IO ? len - QCOW2_FUZZ_IO : 0};

    if (len <= 0) {
        return;
    }
    for (int i = 0; i < 3; i++) {
        uint64_t n = MIN((uint64_t)len - at[i], QCOW2_FUZZ_IO);
        blk_pread(blk, at[i], buf, n);
    }
    memset(buf, 0xa5, sizeof(buf));
    for (int i = 0; i < 3; i += 2) {
        uint64_t n = MIN((uint64_t)len - at[i], QCOW2_FUZZ_IO);
        if (blk_pwrite(blk, at[i], buf, n, 0) == 0) {
            blk_pread(blk, at[i], buf, n);
        }
    }
}

/* Runtime options picked by the input's length: every overlap-check mode (all reads the
 * snapshots' L1 tables at each write), and the smallest caches (eviction at every step). */
static void qcow2_fuzz_options(JsonObject *options, size_t size)
{
    static const char *const modes[] = {"cached", "all", "none", "constant"};

    json_object_set_string_member(options, "overlap-check", modes[size % 4]);
    if ((size / 4) % 2) {
        json_object_set_string_member(options, "l2-cache-size", "1");
        json_object_set_string_member(options, "refcount-cache-size", "1");
    }
}

/* What a user may do to a hostile image with minivmm-img: check -r all, amend's width. Not
 * when the file (once the caches are written back) or the clusters allocated reach past
 * 1 MiB (a write, a table or an allocation sent far out by hostile tables: the check would
 * take its time counting every cluster up to there); test-qcow2 covers the size limit. */
static void qcow2_fuzz_repair(BlockDriverState *bs, size_t size)
{
    g_autoptr(JsonObject) opts = json_object_new();
    BDRVQcow2State *s = bs->opaque;
    BdrvCheckResult res;
    Error *err = NULL;
    struct stat st;

    g_mutex_lock(&s->lock); /* the caches written back: the block layer's flush has nothing
                               to do when the guest's writes failed */
    qcow2_flush_metadata(bs);
    g_mutex_unlock(&s->lock);
    if (stat(qcow2_fuzz_path, &st) < 0 || st.st_size > (1 << 20) ||
        s->eof_cluster > ((1 << 20) >> s->cluster_bits)) {
        return;
    }
    if ((size / 8) % 2) {
        bdrv_check(bs, &res, BDRV_FIX_LEAKS | BDRV_FIX_ERRORS, NULL);
    }
    if ((size / 16) % 2) {
        json_object_set_string_member(opts, "refcount_bits", (size / 32) % 2 ? "2" : "64");
        bdrv_amend(bs, opts, &err);
        error_free(err);
        err = NULL;
    }
    if ((size / 64) % 2 && bdrv_getlength(bs) >= 0) {
        /* resize --preallocation=metadata: the new range's L2 entries are the image's own
         * bytes. Not falloc or full: hostile refcounts can send the allocation terabytes
         * out, and those modes would then fill the scratch file system up to there. */
        bdrv_resize(bs, bdrv_getlength(bs) + QCOW2_FUZZ_GROW, false, PREALLOC_MODE_METADATA,
                    &err);
        error_free(err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    JsonObject *options = json_object_new();
    Error *err = NULL;
    BlockBackend *blk;

    qcow2_fuzz_write_file(data, size);
    json_object_set_string_member(options, "driver", "qcow2");
    qcow2_fuzz_options(options, size);
    blk = blk_new_open("fuzz", qcow2_fuzz_path, options, BDRV_O_RDWR, &err);
    if (!blk) {
        error_free(err);
        return 0;
    }
    if (bdrv_key_required(blk_bs(blk))) { /* an encrypted image: its I/O goes through AES */
        bdrv_set_key(blk_bs(blk), "fuzz");
    }
    qcow2_fuzz_io(blk);
    qcow2_fuzz_repair(blk_bs(blk), size);
    blk_unref(blk);
    while (g_main_context_iteration(main_loop_context(), FALSE)) {
    }
    return 0;
}
