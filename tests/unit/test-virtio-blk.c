/*
 * virtio-blk's device model without a transport or a guest: the configuration-change
 * interrupt on resize (ISR bits, generation, new capacity; nothing before DRIVER_OK), the
 * write-cache rules (CONFIG_WCE writes, drivers without CONFIG_WCE get write-back exactly
 * when they negotiated FLUSH, reset restores the drive's setting), the features offered for
 * transitional and legacy-only devices, the configuration checks' messages, and the
 * per-queue request pool (reuse, more requests in flight than it keeps). The backend is the
 * memory-backed "testmem" driver; the rings live in a RAM block of the test's own.
 */
#include <string.h>
#include <glib.h>
#include <linux/virtio_blk.h>
#include "block/block-backend.h"
#include "block-test-drivers.h"
#include "hw/memory.h"
#include "hw/virtio-blk.h"
#include "util/main-loop.h"

typedef struct Notified {
    unsigned count;
    uint16_t vector;
} Notified;

static Notified notified;

static void stub_notify(void *opaque, uint16_t vector)
{
    notified.count++;
    notified.vector = vector;
}

static const VirtioTransportOps stub_transport = {.notify = stub_notify};

static BlockBackend *open_blk(const char *name, bool wce)
{
    JsonObject *o = json_object_new();

    json_object_set_string_member(o, "driver", "testmem");
    json_object_set_int_member(o, "size", 1 << 20);
    return blk_new_open(name, NULL, o, BDRV_O_RDWR | (wce ? BDRV_O_CACHE_WB : 0), &error_abort);
}

static VirtIOBlock *make_dev(BlockBackend *blk, VirtioBlkConf *conf)
{
    VirtIOBlock *s = virtio_blk_new(blk, conf, &error_abort);
    VirtIODevice *vdev = virtio_blk_vdev(s);

    vdev->transport = &stub_transport;
    return s;
}

static VirtioBlkConf default_conf(void)
{
    VirtioBlkConf conf;

    virtio_blk_conf_init(&conf);
    conf.num_queues = 1;
    return conf;
}

static uint64_t capacity(VirtIODevice *vdev)
{
    return virtio_config_read(vdev, 0, 4) | (uint64_t)virtio_config_read(vdev, 4, 4) << 32;
}

static void test_resize(void)
{
    BlockBackend *blk = open_blk("resize0", true);
    VirtioBlkConf conf = default_conf();
    VirtIOBlock *s = make_dev(blk, &conf);
    VirtIODevice *vdev = virtio_blk_vdev(s);

    g_assert_cmpuint(capacity(vdev), ==, 2048);
    /* Before DRIVER_OK a resize changes the capacity silently. */
    notified.count = 0;
    g_assert_cmpint(blk_truncate(blk, 2 << 20, PREALLOC_MODE_OFF, &error_abort), ==, 0);
    g_assert_cmpuint(notified.count, ==, 0);
    g_assert_cmpuint(capacity(vdev), ==, 4096);
    virtio_set_status(vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                VIRTIO_CONFIG_S_DRIVER_OK);
    vdev->config_vector = 1;
    g_assert_cmpint(blk_truncate(blk, 3 << 20, PREALLOC_MODE_OFF, &error_abort), ==, 0);
    g_assert_cmpuint(notified.count, ==, 1);
    g_assert_cmpuint(notified.vector, ==, 1);
    g_assert_cmphex(vdev->isr, ==, 3);
    g_assert_cmpuint(vdev->generation, ==, 1);
    g_assert_cmpuint(capacity(vdev), ==, 6144);
    virtio_blk_free(s);
    blk_unref(blk);
}

static void test_write_cache(void)
{
    BlockBackend *blk = open_blk("wce0", true);
    VirtioBlkConf conf = default_conf();
    VirtIOBlock *s = make_dev(blk, &conf);
    VirtIODevice *vdev = virtio_blk_vdev(s);
    uint8_t ok = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

    g_assert_cmpuint(virtio_config_read(vdev, 32, 1), ==, 1);
    /* CONFIG_WCE: the driver switches the cache through the wce byte. */
    virtio_config_write(vdev, 32, 0, 1);
    g_assert_false(blk_enable_write_cache(blk));
    g_assert_cmpuint(virtio_config_read(vdev, 32, 1), ==, 0);
    /* A driver without CONFIG_WCE and without FLUSH gets write-through... */
    virtio_reset(vdev);
    g_assert_true(blk_enable_write_cache(blk));
    virtio_set_features(vdev, 0);
    virtio_set_status(vdev, ok | VIRTIO_CONFIG_S_DRIVER_OK);
    g_assert_false(blk_enable_write_cache(blk));
    /* ...and write-back when it can flush. */
    virtio_reset(vdev);
    virtio_set_features(vdev, 1ULL << VIRTIO_BLK_F_FLUSH);
    virtio_set_status(vdev, ok | VIRTIO_CONFIG_S_DRIVER_OK);
    g_assert_true(blk_enable_write_cache(blk));
    virtio_blk_free(s);
    blk_unref(blk);
}

static void test_features(void)
{
    BlockBackend *blk = open_blk("feat0", true);
    VirtioBlkConf conf = default_conf();
    VirtIOBlock *s = make_dev(blk, &conf);

    /* What QEMU 7.2 offers (before the transport adds VERSION_1). */
    g_assert_cmphex(virtio_blk_vdev(s)->host_features, ==, 0x10079006e54ULL);
    g_assert_cmpuint(virtio_blk_vdev(s)->config_len, ==, 57);
    virtio_blk_free(s);
    conf.disable_modern = true;
    conf.num_queues = 2;
    conf.discard = false;
    s = make_dev(blk, &conf);
    g_assert_cmphex(virtio_blk_vdev(s)->host_features, ==,
                    (0x10079006e54ULL | 1 << VIRTIO_BLK_F_SCSI | 1 << VIRTIO_BLK_F_MQ) &
                        ~(1ULL << VIRTIO_F_ANY_LAYOUT | 1 << VIRTIO_BLK_F_DISCARD));
    g_assert_cmpuint(virtio_blk_vdev(s)->config_len, ==, 57);
    virtio_blk_free(s);
    conf.write_zeroes = false;
    s = make_dev(blk, &conf);
    g_assert_cmpuint(virtio_blk_vdev(s)->config_len, ==, 36);
    virtio_blk_free(s);
    blk_unref(blk);
}

static void check_conf_error(unsigned num_queues, unsigned queue_size, const char *msg)
{
    BlockBackend *blk = open_blk("conf0", true);
    VirtioBlkConf conf = default_conf();
    Error *err = NULL;

    conf.num_queues = num_queues;
    conf.queue_size = queue_size;
    g_assert_null(virtio_blk_new(blk, &conf, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, msg);
    error_free(err);
    blk_unref(blk);
}

static void test_conf_errors(void)
{
    check_conf_error(0, 256, "num-queues property must be larger than 0");
    check_conf_error(1, 2, "invalid queue-size property (2), must be > 2");
    check_conf_error(1, 100, "invalid queue-size property (100), must be a power of 2 (max 1024)");
    check_conf_error(1, 2048,
                     "invalid queue-size property (2048), must be a power of 2 (max 1024)");
}

/* Guest RAM for the pool test: rings, then 32-byte headers, then 512-byte buffers. */
#define RAM_SIZE (1 << 20)
#define RING_DESC 0x1000
#define RING_AVAIL 0x2000
#define RING_USED 0x3000
#define REQ_HDRS 0x10000
#define REQ_DATA 0x20000
#define REQ_TABLES 0x30000
#define POOL_QSIZE 8

typedef struct TestDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
} TestDesc;

static uint8_t *ram;

static void ram_put16(uint64_t gpa, uint16_t v)
{
    memcpy(ram + gpa, &v, 2);
}

static uint16_t used_idx(void)
{
    uint16_t v;

    memcpy(&v, ram + RING_USED + 2, 2);
    return v;
}

/* Slot i: a one-sector read of sector i, descriptor i pointing at an indirect table of
 * three (so that a queue of 8 holds 8 requests), published. */
static void publish_read(unsigned i, uint16_t *avail)
{
    TestDesc d[3] = {
        {REQ_HDRS + 32 * i, 16, VRING_DESC_F_NEXT, 1},
        {REQ_DATA + 512 * i, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2},
        {REQ_HDRS + 32 * i + 16, 1, VRING_DESC_F_WRITE, 0},
    };
    TestDesc head = {REQ_TABLES + sizeof(d) * i, sizeof(d), VRING_DESC_F_INDIRECT, 0};
    uint32_t type = VIRTIO_BLK_T_IN;
    uint64_t sector = i;

    memcpy(ram + REQ_HDRS + 32 * i, &type, 4);
    memcpy(ram + REQ_HDRS + 32 * i + 8, &sector, 8);
    ram[REQ_HDRS + 32 * i + 16] = 0xff;
    memcpy(ram + head.addr, d, sizeof(d));
    memcpy(ram + RING_DESC + 16 * i, &head, sizeof(head));
    ram_put16(RING_AVAIL + 4 + 2 * (*avail % POOL_QSIZE), i);
    ram_put16(RING_AVAIL + 2, ++*avail);
}

static void wait_used(uint16_t n)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (used_idx() != n && g_get_monotonic_time() < deadline) {
        if (!g_main_context_iteration(NULL, FALSE)) {
            g_usleep(100);
        }
    }
    g_assert_cmpuint(used_idx(), ==, n);
}

static void check_pool(VirtIOBlock *s, unsigned nfree, unsigned allocated)
{
    unsigned f, a;

    virtio_blk_pool_stats(s, 0, &f, &a);
    g_assert_cmpuint(f, ==, nfree);
    g_assert_cmpuint(a, ==, allocated);
}

static void test_request_pool(void)
{
    BlockBackend *blk = open_blk("pool0", true);
    VirtioBlkConf conf = default_conf();
    VirtIOBlock *s;
    VirtIODevice *vdev;
    uint16_t avail = 0;

    conf.queue_size = POOL_QSIZE;
    s = make_dev(blk, &conf);
    vdev = virtio_blk_vdev(s);
    ram = g_malloc0(RAM_SIZE);
    guest_mem_add(0, RAM_SIZE, ram, false, "pool-test");
    virtio_set_features(vdev, 1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
    virtio_queue_set_num(&vdev->vq[0], POOL_QSIZE);
    virtio_queue_set_rings(&vdev->vq[0], RING_DESC, RING_AVAIL, RING_USED);
    virtio_set_status(vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                VIRTIO_CONFIG_S_DRIVER_OK);
    /* A full queue: one request allocated per request in flight, all kept afterwards. */
    for (unsigned i = 0; i < POOL_QSIZE; i++) {
        publish_read(i, &avail);
    }
    virtio_queue_notify(vdev, 0);
    check_pool(s, 0, POOL_QSIZE);
    wait_used(POOL_QSIZE);
    check_pool(s, POOL_QSIZE, POOL_QSIZE);
    /* Again: every request comes from the pool. */
    for (unsigned i = 0; i < POOL_QSIZE; i++) {
        publish_read(i, &avail);
    }
    virtio_queue_notify(vdev, 0);
    check_pool(s, 0, POOL_QSIZE);
    wait_used(2 * POOL_QSIZE);
    check_pool(s, POOL_QSIZE, POOL_QSIZE);
    /* Twice the queue in flight (the guest republishes heads still in flight): the pool
     * runs dry, the rest are allocated, and no more than the queue size are kept. */
    for (unsigned round = 0; round < 2; round++) {
        for (unsigned i = 0; i < POOL_QSIZE; i++) {
            publish_read(i, &avail);
        }
        virtio_queue_notify(vdev, 0);
    }
    check_pool(s, 0, 2 * POOL_QSIZE);
    wait_used(4 * POOL_QSIZE);
    check_pool(s, POOL_QSIZE, 2 * POOL_QSIZE);
    for (unsigned i = 0; i < POOL_QSIZE; i++) {
        g_assert_cmpuint(ram[REQ_HDRS + 32 * i + 16], ==, VIRTIO_BLK_S_OK);
    }
    virtio_blk_free(s);
    blk_unref(blk);
    guest_mem_reset();
    g_free(ram);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    main_loop_init();
    test_drivers_register();
    g_test_add_func("/virtio-blk/resize", test_resize);
    g_test_add_func("/virtio-blk/write-cache", test_write_cache);
    g_test_add_func("/virtio-blk/features", test_features);
    g_test_add_func("/virtio-blk/conf-errors", test_conf_errors);
    g_test_add_func("/virtio-blk/request-pool", test_request_pool);
    return g_test_run();
}
