/*
 * Unit tests of the block layer's waits against the BQL (block/wait.c). A vCPU emulates a
 * device with the BQL held, and the floppy, SD, pflash and ATAPI models read and write their
 * drive synchronously from there. When such a request meets a drained section or a root
 * change that the main thread holds while it waits in its loop (which polls without the
 * BQL), the vCPU must sleep without the BQL too: the main thread takes it back when its poll
 * returns, and only the main thread can end the section. A watchdog turns the deadlock
 * into a failure. Deleting a device waits until such a vCPU has left its handler.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "block/block-backend.h"
#include "block/block-internal.h"
#include "util/main-loop.h"
#include "block-test-drivers.h"

static int finished; /* atomic: the test body returned */

static gpointer watchdog(gpointer opaque)
{
    for (int i = 0; i < 2000 && !g_atomic_int_get(&finished); i++) {
        g_usleep(10 * 1000);
    }
    if (!g_atomic_int_get(&finished)) {
        g_error("deadlock: after 20 s the main thread has not ended its section");
    }
    return NULL;
}

typedef struct AioResult {
    int ret;
    int done; /* atomic */
} AioResult;

static void aio_done(void *opaque, int ret)
{
    AioResult *r = opaque;

    r->ret = ret;
    g_atomic_int_set(&r->done, 1);
}

typedef struct Vcpu {
    BlockBackend *blk;
    Gate *gate; /* the gate the main thread closes */
    uint8_t buf[512];
    int ret;
    int entered, done; /* atomic */
} Vcpu;

/* Once the gate is closed, take the BQL (free while the main thread polls) and read. */
static gpointer vcpu_thread(gpointer opaque)
{
    Vcpu *v = opaque;

    while (!g_atomic_int_get(&v->gate->closed)) {
        g_usleep(100);
    }
    bql_lock();
    g_atomic_int_set(&v->entered, 1);
    v->ret = blk_pread(v->blk, 0, v->buf, sizeof(v->buf));
    g_atomic_int_set(&v->done, 1);
    bql_unlock();
    return NULL;
}

/*
 * The main thread closes the gate (a node's drained section, or the backend's root change
 * and then the drained section) while a request of its own is in flight for 200 ms, so its
 * drain polls the main loop and lets the vCPU in; the vCPU's read is held until the gate
 * opens, then reads the sector.
 */
static void held_vcpu_read(bool root_change)
{
    BlockBackend *blk =
        blk_new_open(root_change ? "rc-vcpu" : "drain-vcpu", NULL,
                     test_opts("{\"driver\":\"testaio\",\"size\":4096,\"delay-ms\":200}"),
                     BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    BlockDriverState *bs = blk_bs(blk);
    Vcpu v = {.blk = blk, .gate = root_change ? &blk->root_gate : &bs->gate};
    GThread *t, *dog;
    AioResult res = {0};
    uint8_t other[512];
    IOVector qiov;

    memset(test_mem_state(bs)->img->data, 0x3c, 512);
    g_atomic_int_set(&finished, 0);
    dog = g_thread_new("watchdog", watchdog, NULL);
    iov_init_buf(&qiov, other, sizeof(other));
    blk_aio_preadv(blk, 512, &qiov, 0, aio_done, &res);
    t = g_thread_new("vcpu", vcpu_thread, &v);
    if (root_change) {
        blk_root_change_begin(blk); /* then drains the root, as bdrv_append does */
    }
    bdrv_drained_begin(bs);
    g_assert_true(g_atomic_int_get(&res.done));
    g_assert_cmpint(res.ret, ==, 0);
    test_mem_state(bs)->delay_ms = 0;
    g_usleep(50 * 1000);
    g_assert_false(g_atomic_int_get(&v.done));
    g_assert_cmpint(test_mem_state(bs)->n_read, ==, 1);
    bdrv_drained_end(bs);
    if (root_change) {
        blk_root_change_end(blk);
    }
    bql_unlock();
    g_thread_join(t);
    bql_lock();
    g_assert_cmpint(v.ret, ==, 0);
    g_assert_cmpint(v.buf[0], ==, 0x3c);
    g_assert_cmpint(v.buf[511], ==, 0x3c);
    g_assert_cmpint(test_mem_state(bs)->n_read, ==, 2);
    g_atomic_int_set(&finished, 1);
    g_thread_join(dog);
    iov_destroy(&qiov);
    blk_unref(blk);
}

static void test_vcpu_read_in_drained_section(void)
{
    held_vcpu_read(false);
}

static void test_vcpu_read_in_root_change(void)
{
    held_vcpu_read(true);
}

/* Another thread's drained section (a job's, say), 200 ms long. */
static gpointer drainer_thread(gpointer opaque)
{
    BlockDriverState *bs = opaque;

    bdrv_drained_begin(bs);
    g_usleep(200 * 1000);
    bdrv_drained_end(bs);
    return NULL;
}

/*
 * A vCPU held inside a device handler has given the BQL up; deleting a device
 * (qdev_device_delete) waits with bql_wait_unsuspended until the vCPU has the BQL back and
 * has left its handler, so no device is freed under it.
 */
static void test_device_delete_waits_for_a_held_vcpu(void)
{
    BlockBackend *blk =
        blk_new_open("del-vcpu", NULL, test_opts("{\"driver\":\"testmem\",\"size\":4096}"),
                     BDRV_O_RDWR | BDRV_O_CACHE_WB, &error_abort);
    BlockDriverState *bs = blk_bs(blk);
    Vcpu v = {.blk = blk, .gate = &bs->gate};
    GThread *t, *drainer;

    bql_unlock();
    drainer = g_thread_new("drainer", drainer_thread, bs);
    t = g_thread_new("vcpu", vcpu_thread, &v);
    while (!g_atomic_int_get(&v.entered)) {
        g_usleep(100);
    }
    bql_lock(); /* free once the vCPU sleeps at the closed gate */
    g_assert_false(g_atomic_int_get(&v.done));
    bql_wait_unsuspended();
    g_assert_true(g_atomic_int_get(&v.done));
    g_assert_cmpint(v.ret, ==, 0);
    bql_unlock();
    g_thread_join(t);
    g_thread_join(drainer);
    bql_lock();
    blk_unref(blk);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    main_loop_init();
    test_drivers_register();
    g_test_add_func("/block-bql/vcpu-read-in-drained-section", test_vcpu_read_in_drained_section);
    g_test_add_func("/block-bql/vcpu-read-in-root-change", test_vcpu_read_in_root_change);
    g_test_add_func("/block-bql/device-delete-waits-for-a-held-vcpu",
                    test_device_delete_waits_for_a_held_vcpu);
    ret = g_test_run();
    g_hash_table_destroy(test_images);
    return ret;
}
