/*
 * Unit tests for BlockBackend (block/block-backend.c, block-backend-io.c) on the memory
 * test driver: names and their errors, iteration and hiding, root insert/remove, device
 * attachment and callbacks, error policy and io-status transitions, statistics of
 * asynchronous and synchronous requests, -ENOMEDIUM without a medium, blk_drain, requests
 * held while the root changes, the write cache flag and the legacy DriveInfo.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "block/block-backend.h"
#include "block/block-internal.h"
#include "block-test-drivers.h"

typedef struct AioResult {
    int ret;
    int done;
} AioResult;

static void aio_done(void *opaque, int ret)
{
    AioResult *r = opaque;

    r->ret = ret;
    g_atomic_int_set(&r->done, 1);
}

static void run_until_done(AioResult *r)
{
    while (!g_atomic_int_get(&r->done)) {
        g_main_context_iteration(NULL, TRUE);
    }
}

static BlockBackend *open_blk(const char *name, int flags)
{
    return blk_new_open(name, NULL, test_opts("{\"driver\":\"testmem\",\"size\":1048576}"),
                        flags | BDRV_O_CACHE_WB, &error_abort);
}

static void blk_new_fails(const char *name, const char *msg)
{
    Error *err = NULL;

    g_assert_null(blk_new(name, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
}

static void test_names(void)
{
    BlockBackend *a = blk_new("ide0-hd0", &error_abort);
    BlockBackend *b = blk_new("virtio0", &error_abort);
    BlockDriverState *bs = bdrv_open(NULL,
                                     test_opts("{\"driver\":\"testmem\",\"node-name\":"
                                               "\"disk-node\"}"),
                                     0, &error_abort);

    blk_new_fails("ide0-hd0", "Device with id 'ide0-hd0' already exists");
    blk_new_fails("disk-node", "Device name 'disk-node' conflicts with an existing node name");
    blk_new_fails("0drive", "Invalid device name");
    g_assert_true(blk_by_name("virtio0") == b);
    g_assert_true(blk_next(NULL) == a);
    g_assert_true(blk_next(a) == b);
    g_assert_null(blk_next(b));
    g_assert_cmpstr(blk_name(a), ==, "ide0-hd0");
    g_assert_false(blk_is_inserted(a));
    g_assert_null(blk_bs(a));

    blk_hide_on_behalf_of_drive_del(a);
    g_assert_null(blk_by_name("ide0-hd0"));
    g_assert_cmpstr(blk_name(a), ==, "");
    g_assert_true(blk_next(NULL) == b);
    blk_unref(a);
    blk_unref(b);
    bdrv_unref(bs);
    g_assert_null(blk_next(NULL));
}

static void test_root(void)
{
    BlockBackend *blk = blk_new("drive0", &error_abort);
    BlockDriverState *bs = bdrv_open(NULL, test_opts("{\"driver\":\"testmem\",\"size\":4096}"),
                                     BDRV_O_RDWR, &error_abort);
    Error *err = NULL, *busy = NULL;

    blk_insert_bs(blk, bs);
    g_assert_cmpint(bs->refcnt, ==, 2);
    g_assert_true(blk_bs(blk) == bs);
    g_assert_cmpstr(bdrv_get_device_name(bs), ==, "drive0");
    g_assert_true(bdrv_lookup_bs("drive0", NULL, &error_abort) == bs);
    g_assert_true(blk_is_inserted(blk));
    g_assert_true(blk_is_available(blk));
    g_assert_false(blk_is_read_only(blk));
    g_assert_cmpint(blk_getlength(blk), ==, 4096);
    g_assert_false(blk_enable_write_cache(blk));
    blk_set_enable_write_cache(blk, true);
    g_assert_true(bs->enable_write_cache);
    g_assert_cmpint(blk_truncate(blk, 8192, PREALLOC_MODE_OFF, &error_abort), ==, 0);
    g_assert_cmpint(blk_getlength(blk), ==, 8192);
    error_setg(&err, "block device is in use by block job: mirror");
    bdrv_op_block(bs, BLOCK_OP_TYPE_EJECT, err);
    g_assert_true(bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_EJECT, &busy));
    g_assert_cmpstr(error_get_pretty(busy), ==,
                    "Device 'drive0' is busy: block device is in use by block job: mirror");
    bdrv_op_unblock(bs, BLOCK_OP_TYPE_EJECT, err);
    error_free(busy);
    error_free(err);
    err = NULL;

    blk_remove_bs(blk);
    g_assert_cmpint(bs->refcnt, ==, 1);
    g_assert_cmpstr(bdrv_get_device_name(bs), ==, "");
    g_assert_false(blk_is_inserted(blk));
    g_assert_true(blk_enable_write_cache(blk));
    g_assert_cmpint(blk_getlength(blk), ==, -ENOMEDIUM);
    g_assert_cmpint(blk_truncate(blk, 8192, PREALLOC_MODE_OFF, &err), ==, -ENOMEDIUM);
    g_assert_cmpstr(error_get_pretty(err), ==, "Device 'drive0' has no medium");
    error_free(err);
    err = NULL;
    g_assert_null(bdrv_lookup_bs("drive0", "nope", &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Cannot find device=drive0 nor node_name=nope");
    error_free(err);
    bdrv_unref(bs);
    blk_unref(blk);
}

typedef struct TestDev {
    int media_changes, ejects, resizes;
    bool last_load, last_force, tray_open, locked;
} TestDev;

static void dev_change_media(void *opaque, bool load)
{
    TestDev *d = opaque;

    d->media_changes++;
    d->last_load = load;
}

static void dev_eject_request(void *opaque, bool force)
{
    TestDev *d = opaque;

    d->ejects++;
    d->last_force = force;
}

static bool dev_is_tray_open(void *opaque)
{
    return ((TestDev *)opaque)->tray_open;
}

static bool dev_is_medium_locked(void *opaque)
{
    return ((TestDev *)opaque)->locked;
}

static void dev_resize(void *opaque)
{
    ((TestDev *)opaque)->resizes++;
}

static const BlockDevOps test_dev_ops = {
    .change_media_cb = dev_change_media,
    .eject_request_cb = dev_eject_request,
    .is_tray_open = dev_is_tray_open,
    .is_medium_locked = dev_is_medium_locked,
    .resize_cb = dev_resize,
};

static void test_device(void)
{
    BlockBackend *blk = open_blk("cd0", BDRV_O_RDWR);
    TestDev dev = {0};

    g_assert_true(blk_dev_has_removable_media(blk)); /* no device: removable */
    g_assert_cmpint(blk_attach_dev(blk, &dev), ==, 0);
    g_assert_cmpint(blk_attach_dev(blk, &dev), ==, -EBUSY);
    g_assert_true(blk_get_attached_dev(blk) == &dev);
    g_assert_false(blk_dev_has_removable_media(blk));
    blk_set_dev_ops(blk, &test_dev_ops, &dev);
    g_assert_true(blk_dev_has_removable_media(blk));
    blk_dev_change_media_cb(blk, true);
    g_assert_cmpint(dev.media_changes, ==, 1);
    g_assert_true(dev.last_load);
    blk_dev_eject_request(blk, true);
    g_assert_cmpint(dev.ejects, ==, 1);
    g_assert_true(dev.last_force);
    dev.tray_open = dev.locked = true;
    g_assert_true(blk_dev_is_tray_open(blk));
    g_assert_true(blk_dev_is_medium_locked(blk));
    g_assert_false(blk_is_available(blk));
    g_assert_cmpint(blk_truncate(blk, 2 * 1048576, PREALLOC_MODE_OFF, &error_abort), ==, 0);
    g_assert_cmpint(dev.resizes, ==, 1);

    /* drive_del with the device attached: hidden, alive until the device lets go. */
    blk_hide_on_behalf_of_drive_del(blk);
    blk_unref(blk);
    g_assert_true(blk_is_inserted(blk));
    blk_detach_dev(blk, &dev);
}

static void test_iostatus(void)
{
    BlockBackend *blk = blk_new("io0", &error_abort);

    g_assert_cmpint(blk_get_on_error(blk, true), ==, BLOCKDEV_ON_ERROR_REPORT);
    g_assert_cmpint(blk_get_on_error(blk, false), ==, BLOCKDEV_ON_ERROR_ENOSPC);
    g_assert_cmpint(blk_get_error_action(blk, false, -ENOSPC), ==, BLOCK_ERROR_ACTION_STOP);
    g_assert_cmpint(blk_get_error_action(blk, false, EIO), ==, BLOCK_ERROR_ACTION_REPORT);
    g_assert_cmpint(blk_get_error_action(blk, true, ENOSPC), ==, BLOCK_ERROR_ACTION_REPORT);

    g_assert_false(blk_iostatus_is_enabled(blk));
    blk_iostatus_set_err(blk, EIO);
    g_assert_cmpint(blk_iostatus(blk), ==, BLOCK_DEVICE_IO_STATUS_OK);
    blk_iostatus_enable(blk);
    g_assert_true(blk_iostatus_is_enabled(blk));
    blk_iostatus_set_err(blk, -ENOSPC);
    g_assert_cmpint(blk_iostatus(blk), ==, BLOCK_DEVICE_IO_STATUS_NOSPACE);
    blk_iostatus_set_err(blk, EIO); /* sticks until reset */
    g_assert_cmpint(blk_iostatus(blk), ==, BLOCK_DEVICE_IO_STATUS_NOSPACE);
    blk_iostatus_reset(blk);
    g_assert_cmpint(blk_iostatus(blk), ==, BLOCK_DEVICE_IO_STATUS_OK);
    blk_iostatus_set_err(blk, EIO);
    g_assert_cmpint(blk_iostatus(blk), ==, BLOCK_DEVICE_IO_STATUS_FAILED);

    blk_set_on_error(blk, BLOCKDEV_ON_ERROR_IGNORE, BLOCKDEV_ON_ERROR_REPORT);
    g_assert_false(blk_iostatus_is_enabled(blk)); /* io-status needs stop/enospc */
    g_assert_cmpint(blk_get_error_action(blk, true, EIO), ==, BLOCK_ERROR_ACTION_IGNORE);
    blk_set_on_error(blk, BLOCKDEV_ON_ERROR_STOP, BLOCKDEV_ON_ERROR_REPORT);
    g_assert_true(blk_iostatus_is_enabled(blk));
    g_assert_cmpint(blk_get_error_action(blk, true, EIO), ==, BLOCK_ERROR_ACTION_STOP);
    blk_unref(blk);
}

static void test_stats(void)
{
    BlockBackend *blk = open_blk("stats0", BDRV_O_RDWR);
    BlockAcctStats *st = blk_get_stats(blk);
    uint8_t buf[4096] = {1};
    AioResult res = {0};
    IOVector qiov;

    g_assert_cmpint(blk_pwrite(blk, 1000, buf, 100, 0), ==, 0);
    g_assert_cmpuint(st->nr_ops[BLOCK_ACCT_WRITE], ==, 1);
    g_assert_cmpuint(st->nr_bytes[BLOCK_ACCT_WRITE], ==, 100);
    g_assert_cmpuint(st->wr_highest_offset, ==, 1536); /* 1100 rounded up to a sector */
    g_assert_cmpint(blk_pread(blk, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpuint(st->nr_ops[BLOCK_ACCT_READ], ==, 1);
    g_assert_cmpuint(st->nr_bytes[BLOCK_ACCT_READ], ==, 4096);

    iov_init_buf(&qiov, buf, sizeof(buf));
    blk_aio_pwritev(blk, 65536, &qiov, 0, aio_done, &res);
    run_until_done(&res);
    g_assert_cmpint(res.ret, ==, 0);
    g_assert_cmpuint(st->nr_ops[BLOCK_ACCT_WRITE], ==, 2);
    g_assert_cmpuint(st->nr_bytes[BLOCK_ACCT_WRITE], ==, 4196);
    g_assert_cmpuint(st->wr_highest_offset, ==, 65536 + 4096);
    g_assert_cmpint(blk_pwrite(blk, 0, buf, 512, 0), ==, 0);
    g_assert_cmpuint(st->wr_highest_offset, ==, 65536 + 4096);
    res = (AioResult){0};
    blk_aio_flush(blk, aio_done, &res);
    run_until_done(&res);
    g_assert_cmpuint(st->nr_ops[BLOCK_ACCT_FLUSH], ==, 1);
    g_assert_cmpuint(st->total_time_ns[BLOCK_ACCT_WRITE], >, 0);

    res = (AioResult){0}; /* failures are not counted */
    blk_aio_preadv(blk, 1048576, &qiov, 0, aio_done, &res);
    run_until_done(&res);
    g_assert_cmpint(res.ret, ==, -EIO);
    g_assert_cmpuint(st->nr_ops[BLOCK_ACCT_READ], ==, 1);
    iov_destroy(&qiov);
    blk_unref(blk);
}

static void test_no_medium(void)
{
    BlockBackend *blk = blk_new("empty0", &error_abort);
    uint8_t buf[512];
    AioResult res = {0};
    IOVector qiov;

    g_assert_cmpint(blk_pread(blk, 0, buf, sizeof(buf)), ==, -ENOMEDIUM);
    g_assert_cmpint(blk_flush(blk), ==, -ENOMEDIUM);
    iov_init_buf(&qiov, buf, sizeof(buf));
    blk_aio_pwritev(blk, 0, &qiov, 0, aio_done, &res);
    g_assert_false(res.done);
    run_until_done(&res);
    g_assert_cmpint(res.ret, ==, -ENOMEDIUM);
    res = (AioResult){0};
    blk_aio_pdiscard(blk, 0, 512, aio_done, &res);
    blk_drain(blk); /* waits for the deferred completion */
    g_assert_true(res.done);
    g_assert_cmpint(res.ret, ==, -ENOMEDIUM);
    iov_destroy(&qiov);
    blk_unref(blk);
}

static void test_read_only_backend(void)
{
    BlockBackend *blk = open_blk("ro0", 0);
    uint8_t buf[512] = {0};

    g_assert_true(blk_is_read_only(blk));
    g_assert_cmpint(blk_pwrite(blk, 0, buf, sizeof(buf), 0), ==, -EACCES);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 512, 0), ==, -EACCES);
    g_assert_cmpint(blk_pdiscard(blk, 0, 512), ==, -EPERM);
    g_assert_cmpuint(blk_get_stats(blk)->nr_ops[BLOCK_ACCT_WRITE], ==, 0);
    blk_unref(blk);
}

static void test_drain(void)
{
    BlockBackend *blk =
        blk_new_open("drain0", NULL, test_opts("{\"driver\":\"testaio\",\"delay-ms\":10}"),
                     BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    uint8_t buf[4][512];
    AioResult res[4] = {0};
    IOVector qiov[4];

    for (int i = 0; i < 4; i++) {
        iov_init_buf(&qiov[i], buf[i], sizeof(buf[i]));
        if (i == 3) {
            blk_aio_pwrite_zeroes(blk, 0, 4096, 0, aio_done, &res[i]);
        } else {
            blk_aio_preadv(blk, i * 512, &qiov[i], 0, aio_done, &res[i]);
        }
    }
    blk_drain(blk);
    for (int i = 0; i < 4; i++) {
        g_assert_true(res[i].done);
        g_assert_cmpint(res[i].ret, ==, 0);
        iov_destroy(&qiov[i]);
    }
    g_assert_cmpuint(blk_get_stats(blk)->nr_ops[BLOCK_ACCT_READ], ==, 3);
    g_assert_cmpuint(blk_get_stats(blk)->wr_highest_offset, ==, 4096);
    blk_unref(blk);
}

typedef struct RootWriter {
    BlockBackend *blk;
    bool async;
    int ret, first_ret;
    int first_sent, go, done; /* atomic */
} RootWriter;

/* A device callback that takes its time: the drainer is asleep when the request ends. */
static void aio_done_late(void *opaque, int ret)
{
    g_usleep(100 * 1000);
    aio_done(opaque, ret);
}

/*
 * Another thread (an I/O thread's device) writes its sector: async from its own context,
 * after a first request (a slow one, in flight over the change's start) was sent and the
 * test said go; or sync.
 */
static gpointer root_writer(gpointer opaque)
{
    RootWriter *w = opaque;
    uint8_t buf[512], first[512] = {0};

    memset(buf, w->async ? 0xa1 : 0x5e, sizeof(buf));
    if (w->async) {
        GMainContext *ctx = g_main_context_new();
        AioResult res = {0}, res1 = {0};
        IOVector qiov, qiov1;

        g_main_context_push_thread_default(ctx);
        iov_init_buf(&qiov1, first, sizeof(first));
        blk_aio_pwritev(w->blk, 1024, &qiov1, 0, aio_done_late, &res1);
        g_atomic_int_set(&w->first_sent, 1);
        while (!g_atomic_int_get(&w->go)) {
            g_usleep(1000);
        }
        iov_init_buf(&qiov, buf, sizeof(buf));
        blk_aio_pwritev(w->blk, 0, &qiov, 0, aio_done, &res);
        while (!g_atomic_int_get(&res.done) || !g_atomic_int_get(&res1.done)) {
            g_main_context_iteration(ctx, TRUE);
        }
        w->ret = res.ret;
        w->first_ret = res1.ret;
        iov_destroy(&qiov1);
        iov_destroy(&qiov);
        g_main_context_pop_thread_default(ctx);
        g_main_context_unref(ctx);
    } else {
        w->ret = blk_pwrite(w->blk, 512, buf, sizeof(buf), 0);
    }
    g_atomic_int_set(&w->done, 1);
    return NULL;
}

/*
 * While the main thread changes a drive's root, other threads' requests reach neither the
 * old root nor the new one; at the end they go to the new root, or fail without a medium.
 * The changer's own requests do not wait for the held ones, and its blk_drain (in
 * blk_remove_bs) waits only for the request in flight from before, which completes in the
 * other thread.
 */
static void root_change(bool insert)
{
    BlockBackend *blk = blk_new_open(
        "rc0", NULL, test_opts("{\"driver\":\"testaio\",\"size\":4096,\"delay-ms\":200}"),
        BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    BlockDriverState *old = blk_bs(blk), *new_root = NULL;
    RootWriter async = {blk, true}, sync = {blk, false};
    GThread *t1, *t2;
    uint8_t buf[512];

    bdrv_ref(old);
    t1 = g_thread_new("async-writer", root_writer, &async);
    while (!g_atomic_int_get(&async.first_sent)) {
        g_usleep(1000);
    }
    blk_root_change_begin(blk);
    g_atomic_int_set(&async.go, 1);
    t2 = g_thread_new("sync-writer", root_writer, &sync);
    g_usleep(100 * 1000);
    g_assert_false(g_atomic_int_get(&async.done) || g_atomic_int_get(&sync.done));
    g_assert_cmpint(test_mem_state(old)->n_write, ==, 0); /* the first is still sleeping */
    test_mem_state(old)->delay_ms = 0;
    g_assert_cmpint(blk_pread(blk, 0, buf, sizeof(buf)), ==, 0);
    blk_remove_bs(blk);
    g_assert_cmpint(test_mem_state(old)->n_write, ==, 1);
    if (insert) {
        new_root = bdrv_open(NULL, test_opts("{\"driver\":\"testmem\",\"size\":4096}"),
                             BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
        blk_insert_bs(blk, new_root);
    }
    blk_root_change_end(blk);
    g_thread_join(t1);
    g_thread_join(t2);
    g_assert_cmpint(test_mem_state(old)->n_write, ==, 1);
    g_assert_cmpint(async.first_ret, ==, 0);
    g_assert_cmpint(async.ret, ==, insert ? 0 : -ENOMEDIUM);
    g_assert_cmpint(sync.ret, ==, insert ? 0 : -ENOMEDIUM);
    if (insert) {
        g_assert_cmpint(test_mem_state(new_root)->n_write, ==, 2);
        g_assert_cmpint(blk_pread(blk, 0, buf, sizeof(buf)), ==, 0);
        g_assert_cmpint(buf[0], ==, 0xa1);
        g_assert_cmpint(blk_pread(blk, 512, buf, sizeof(buf)), ==, 0);
        g_assert_cmpint(buf[511], ==, 0x5e);
        bdrv_unref(new_root);
    }
    bdrv_unref(old);
    blk_unref(blk);
}

static void test_root_change_moves_requests(void)
{
    root_change(true);
}

static void test_root_change_to_no_medium(void)
{
    root_change(false);
}

static void test_legacy_dinfo(void)
{
    BlockBackend *blk = blk_new("legacy0", &error_abort);
    DriveInfo *dinfo = g_new0(DriveInfo, 1);

    dinfo->type = IF_IDE;
    dinfo->serial = g_strdup("QM00001");
    dinfo->opts = json_object_new();
    blk_set_legacy_dinfo(blk, dinfo);
    g_assert_true(blk_legacy_dinfo(blk) == dinfo);
    blk_unref(blk); /* frees it */
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_drivers_register();
    /* first: sources other tests leave in the main context would wake a lost wake-up */
    g_test_add_func("/block-backend/root-change-moves-requests", test_root_change_moves_requests);
    g_test_add_func("/block-backend/root-change-to-no-medium", test_root_change_to_no_medium);
    g_test_add_func("/block-backend/names", test_names);
    g_test_add_func("/block-backend/root", test_root);
    g_test_add_func("/block-backend/device", test_device);
    g_test_add_func("/block-backend/iostatus", test_iostatus);
    g_test_add_func("/block-backend/stats", test_stats);
    g_test_add_func("/block-backend/no-medium", test_no_medium);
    g_test_add_func("/block-backend/read-only", test_read_only_backend);
    g_test_add_func("/block-backend/drain", test_drain);
    g_test_add_func("/block-backend/legacy-dinfo", test_legacy_dinfo);
    ret = g_test_run();
    g_hash_table_destroy(test_images);
    return ret;
}
