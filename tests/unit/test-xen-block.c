/*
 * The xenbus side of "xen-disk" (hw/xen/xen-block.c) driven by the test frontend of
 * xen-front-util.h: realize errors, the nodes and permissions written for the toolstack
 * and the backend, the state machine through connection, closing and reconnection,
 * connection errors reported in the backend's "error" node, a corrupt ring stopping the
 * device, requests in flight when the frontend closes or the guest resets, and one disk
 * per -drive if=xen.
 */
#include <errno.h>
#include "hw/machine.h"
#include "hw/xen/xen-block.h"
#include "hw/xen/xenstore-int.h"
#include "xen-front-util.h"

static char *try_device(const char *devstr)
{
    char *err = NULL;
    DeviceState *dev = add_device(devstr, &err);

    if (dev) {
        qdev_device_delete(dev);
        settle();
    }
    return err;
}

static void check_realize_error(const char *devstr, const char *msg)
{
    g_autofree char *err = try_device(devstr);

    g_assert_cmpstr(err, ==, msg);
}

/* A realized device on a new drive named id, deleted again (with its drive). */
static void check_realize_ok(const char *id, const char *vdev)
{
    g_autofree char *img = make_image();
    g_autofree char *dopts = g_strdup_printf("if=none,id=%s,file=%s,format=raw", id, img);
    g_autofree char *dev = g_strdup_printf("xen-disk,drive=%s,vdev=%s", id, vdev);
    g_autofree char *err = NULL;

    new_drive(dopts);
    err = try_device(dev);
    g_assert_null(err);
}

static void test_realize(void)
{
    g_autofree char *img = make_image();
    g_autofree char *dopts = g_strdup_printf("if=none,id=r0,file=%s,format=raw", img);
    g_autofree char *err = NULL;
    Front f;

    new_drive(dopts);
    check_realize_error("xen-disk,drive=r0", "vdev property not set");
    check_realize_error("xen-disk,vdev=xvda", "drive property not set");
    check_realize_error("xen-disk,drive=r0,vdev=sda", "invalid virtual disk specifier 'sda'");
    check_realize_error("xen-disk,drive=r0,vdev=xvdA", "invalid virtual disk specifier 'xvdA'");
    check_realize_error("xen-disk,drive=r0,vdev=xvdaa", "invalid virtual disk specifier 'xvdaa'");
    check_realize_error("xen-disk,drive=r0,vdev=0", "invalid virtual disk specifier '0'");
    check_realize_error("xen-disk,drive=r0,vdev=-5", "invalid virtual disk specifier '-5'");
    check_realize_error("xen-disk,drive=r0,vdev=12x", "invalid virtual disk specifier '12x'");
    /* xvdq and later take the extended form; a number is taken as it is. */
    check_realize_ok("r1", "xvdz");
    check_realize_ok("r2", "51760");
    front_new(&f, "r3", "", "xvdq", (1u << 28) | 16 << 8);
    check_node(f.be, "dev", "xvdq");
    check_realize_error("xen-disk,drive=r0,vdev=268439552",
                        "vdev '268439552': virtual-device 268439552 is in use already");
    front_free(&f);
    err = try_device("xen-disk,drive=r0,vdev=268439552");
    g_assert_null(err);
}

static void check_perms(const char *path, unsigned owner, unsigned other)
{
    g_autoptr(GArray) perms = g_array_new(FALSE, FALSE, sizeof(XsPerm));

    g_assert_cmpint(xs_op_get_perms(0, NULL, path, perms), ==, 0);
    g_assert_cmpuint(perms->len, ==, 2);
    g_assert_cmpuint(g_array_index(perms, XsPerm, 0).domid, ==, owner);
    g_assert_cmpuint(g_array_index(perms, XsPerm, 0).perm, ==, XS_PERM_NONE);
    g_assert_cmpuint(g_array_index(perms, XsPerm, 1).domid, ==, other);
    g_assert_cmpuint(g_array_index(perms, XsPerm, 1).perm, ==, XS_PERM_READ);
}

static void test_nodes(void)
{
    g_autofree char *be_state = NULL;
    g_autofree char *fe_state = NULL;
    Front f;

    front_new(&f, "n0", "", "xvda", VBD_XVDA);
    check_node(f.fe, "backend", f.be);
    check_node(f.fe, "backend-id", "0");
    check_node(f.fe, "state", "1");
    check_node(f.fe, "virtual-device", "51712");
    check_node(f.fe, "device-type", "disk");
    check_node(f.be, "frontend", f.fe);
    check_node(f.be, "frontend-id", "1");
    check_node(f.be, "online", "1");
    check_node(f.be, "state", "2");
    check_node(f.be, "dev", "xvda");
    check_node(f.be, "type", "file");
    check_node(f.be, "params", f.image);
    check_node(f.be, "mode", "w");
    check_node(f.be, "device-type", "disk");
    check_node(f.be, "removable", "0");
    check_node(f.be, "sectors", "2048");
    check_node(f.be, "sector-size", "512");
    check_node(f.be, "info", "0");
    check_node(f.be, "feature-flush-cache", "1");
    check_node(f.be, "feature-persistent", "0");
    check_node(f.be, "feature-discard", NULL);
    check_node(f.be, "feature-barrier", NULL);
    check_node(f.be, "max-ring-page-order", NULL);
    /* The guest owns its directory and may read ours, not write it. */
    be_state = g_strdup_printf("%s/state", f.be);
    fe_state = g_strdup_printf("%s/state", f.fe);
    check_perms(f.fe, 1, 0);
    check_perms(fe_state, 1, 0);
    check_perms(f.be, 0, 1);
    check_perms(be_state, 0, 1);
    g_assert_cmpint(xs_op_write(1, NULL, fe_state, "1", 1), ==, 0);
    g_assert_cmpint(xs_op_write(1, NULL, be_state, "4", 1), ==, -EACCES);
    front_free(&f);
}

/* A corrupt req_prod stops the ring until the frontend connects again. */
static void test_ring_overflow(void)
{
    uint8_t slot[BLKIF_RING_SLOT_SIZE];
    Front f;

    front_new(&f, "ovf0", "", "xvda", VBD_XVDA);
    front_connect(&f);
    req_init(slot, BLKIF_OP_FLUSH_DISKCACHE, 0, 1, 0);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    sring_set(&f, BLKIF_RING_REQ_PROD, f.req_prod + BLKIF_RING_SLOTS + 1);
    evtchn_send(f.port);
    settle();
    g_assert_cmpuint(sring_get(&f, BLKIF_RING_RSP_PROD), ==, f.rsp_cons);
    /* Put right again, it stays ignored. */
    sring_set(&f, BLKIF_RING_REQ_PROD, f.req_prod);
    front_queue(&f, slot);
    evtchn_send(f.port);
    settle();
    g_assert_cmpuint(sring_get(&f, BLKIF_RING_RSP_PROD), ==, f.rsp_cons);
    front_disconnect(&f);
    front_connect(&f);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    front_free(&f);
}

/* Initialised with the given nodes (NULL: left out): the backend's answer. */
static int front_try(Front *f, const char *ring_ref, const char *port, const char *protocol)
{
    const char *names[] = {"ring-ref", "event-channel", "protocol"};
    const char *values[] = {ring_ref, port, protocol};

    for (unsigned i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *path = g_strdup_printf("%s/%s", f->fe, names[i]);

        xenstore_rm(path);
        if (values[i]) {
            set_node(f->fe, names[i], values[i]);
        }
    }
    front_set_state(f, XenbusStateInitialised);
    WAIT_FOR(node_uint(f->be, "state") != XenbusStateInitWait);
    return node_uint(f->be, "state");
}

static void check_connect_error(Front *f, const char *ring_ref, const char *port,
                                const char *protocol, const char *msg)
{
    g_autofree char *error = NULL;

    g_assert_cmpint(front_try(f, ring_ref, port, protocol), ==, XenbusStateClosing);
    error = node(f->be, "error");
    g_assert_nonnull(strstr(error, msg));
    front_set_state(f, XenbusStateClosed);
    WAIT_FOR(node_uint(f->be, "state") == XenbusStateClosed);
    front_set_state(f, XenbusStateInitialising);
    WAIT_FOR(node_uint(f->be, "state") == XenbusStateInitWait);
}

static void test_connect_errors(void)
{
    g_autofree char *port = NULL;
    g_autofree char *ring_missing = NULL;
    uint8_t slot[BLKIF_RING_SLOT_SIZE];
    Front f;

    front_new(&f, "conn0", "", "xvda", VBD_XVDA);
    ring_missing = g_strdup_printf("reading %s/ring-ref", f.fe);
    memset(ram + RING_PFN * XEN_PAGE_SIZE, 0, XEN_PAGE_SIZE);
    grant(RING_GREF, RING_PFN, false);
    port = g_strdup_printf("%u", evtchn_alloc_unbound());
    check_connect_error(&f, NULL, port, NULL, ring_missing);
    check_connect_error(&f, "4294967296", port, NULL, ring_missing);
    check_connect_error(&f, "8", "4000", NULL, "event channel 4000");
    check_connect_error(&f, "8", "abc", NULL, "event-channel");
    check_connect_error(&f, "300", port, NULL, "grant reference 300");
    check_connect_error(&f, "8", port, "x86_32-abi", "unsupported protocol 'x86_32-abi'");
    /* The channel a failed attempt bound is free again; no protocol means ours. */
    g_assert_cmpint(front_try(&f, "8", port, NULL), ==, XenbusStateConnected);
    check_node(f.be, "error", NULL);
    f.sring = ram + RING_PFN * XEN_PAGE_SIZE;
    f.port = atoi(port);
    f.req_prod = f.rsp_cons = 0;
    sring_set(&f, BLKIF_RING_RSP_EVENT, 1);
    req_init(slot, BLKIF_OP_FLUSH_DISKCACHE, 0, 1, 0);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    /* Closed without Closing first, and a state that is none: ignored. */
    front_set_state(&f, 9);
    settle();
    check_node(f.be, "state", "4");
    front_set_state(&f, XenbusStateClosed);
    WAIT_FOR(node_uint(f.be, "state") == XenbusStateClosed);
    g_assert_cmphex(grant_flags(RING_GREF), ==, GTF_permit_access);
    front_free(&f);
}

/* Queue n one-sector reads (ids 10..) and send once. */
static void queue_reads(Front *f, unsigned n)
{
    uint8_t slot[BLKIF_RING_SLOT_SIZE];

    for (unsigned i = 0; i < n; i++) {
        req_init(slot, BLKIF_OP_READ, 1, 10 + i, i);
        req_seg(slot, 0, DATA_GREF + i, 0, 0);
        front_queue(f, slot);
    }
    evtchn_send(f->port);
}

/* Requests the drive's I/O limits hold are answered before the backend says Closing,
 * dropped at a guest reset, and waited for at unplug; no grant stays mapped. */
static void test_in_flight(void)
{
    Rsp rsp[8];
    Front f;

    front_new(&f, "thr0", ",throttling.iops-total=1", "xvda", VBD_XVDA);
    front_connect(&f);
    queue_reads(&f, 8);
    g_assert_cmpuint(sring_get(&f, BLKIF_RING_RSP_PROD) - f.rsp_cons, <, 8);
    front_set_state(&f, XenbusStateClosing);
    WAIT_FOR(node_uint(f.be, "state") == XenbusStateClosing);
    g_assert_cmpuint(sring_get(&f, BLKIF_RING_RSP_PROD) - f.rsp_cons, ==, 8);
    front_responses(&f, rsp, 8);
    for (unsigned i = 0; i < 8; i++) {
        g_assert_cmpint(rsp[i].status, ==, BLKIF_RSP_OKAY);
        g_assert_cmphex(grant_flags(DATA_GREF + i), ==, GTF_permit_access);
    }
    front_set_state(&f, XenbusStateClosed);
    WAIT_FOR(node_uint(f.be, "state") == XenbusStateClosed);
    front_set_state(&f, XenbusStateInitialising);
    WAIT_FOR(node_uint(f.be, "state") == XenbusStateInitWait);

    front_connect(&f);
    queue_reads(&f, 8);
    machine_run_reset_handlers();
    settle();
    g_assert_cmpuint(sring_get(&f, BLKIF_RING_RSP_PROD) - f.rsp_cons, <, 8);
    check_node(f.be, "state", "2");
    guest_boot();

    front_connect(&f);
    queue_reads(&f, 8);
    front_free(&f);
    for (unsigned i = 0; i < 8; i++) {
        g_assert_cmphex(grant_flags(DATA_GREF + i), ==, GTF_permit_access);
    }
}

/* A guest reset drops the connection and starts the device over. */
static void test_reset(void)
{
    uint8_t slot[BLKIF_RING_SLOT_SIZE];
    Front f;

    front_new(&f, "rst0", "", "xvda", VBD_XVDA);
    front_connect(&f);
    req_init(slot, BLKIF_OP_READ, 1, 1, 0);
    req_seg(slot, 0, DATA_GREF, 0, 7);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    machine_run_reset_handlers();
    settle();
    check_node(f.be, "state", "2");
    check_node(f.fe, "state", "1");
    check_node(f.fe, "ring-ref", NULL);
    check_node(f.be, "sectors", "2048");
    guest_boot();
    front_connect(&f);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    front_free(&f);
}

static void delete_xen_disk(DeviceState *dev, void *opaque)
{
    if (!strcmp(dev->dc->name, "xen-disk")) {
        g_ptr_array_add(opaque, dev);
    }
}

static void test_create_drives(void)
{
    g_autofree char *img = make_image();
    g_autofree char *bad = g_strdup_printf("if=xen,index=26,file=%s,format=raw", img);
    g_autofree char *good = g_strdup_printf("if=xen,index=1,file=%s,format=raw", img);
    g_autofree char *cd = g_strdup_printf("if=xen,index=2,file=%s,format=raw,media=cdrom", img);
    g_autoptr(GPtrArray) devs = g_ptr_array_new();
    BlockBackend *blk = new_drive(bad);
    Error *err = NULL;

    g_assert_false(xen_block_create_drives(&err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "drive 'xen26': if=xen takes index 0 to 25 (xvda to xvdz)");
    error_free(err);
    blk_unref(blk);
    new_drive(good);
    new_drive(cd);
    new_drive("if=xen,index=3,media=cdrom"); /* empty: read-only all the same */
    g_assert_true(xen_block_create_drives(&error_abort));
    settle();
    check_node("/local/domain/0/backend/vbd/1/51728", "dev", "xvdb");
    check_node("/local/domain/0/backend/vbd/1/51728", "state", "2");
    check_node("/local/domain/1/device/vbd/51744", "device-type", "cdrom");
    check_node("/local/domain/0/backend/vbd/1/51744", "mode", "r");
    check_node("/local/domain/0/backend/vbd/1/51744", "removable", "1");
    check_node("/local/domain/0/backend/vbd/1/51744", "info", "7");
    check_node("/local/domain/0/backend/vbd/1/51760", "mode", "r");
    check_node("/local/domain/0/backend/vbd/1/51760", "info", "7");
    check_node("/local/domain/0/backend/vbd/1/51760", "sectors", "0");
    qdev_foreach(delete_xen_disk, devs);
    g_assert_cmpuint(devs->len, ==, 3);
    for (guint i = 0; i < devs->len; i++) {
        qdev_device_delete(devs->pdata[i]);
    }
    settle();
    check_node("/local/domain/0/backend/vbd/1/51728", "dev", NULL);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    xen_front_init();
    g_test_add_func("/xen-block/realize", test_realize);
    g_test_add_func("/xen-block/nodes", test_nodes);
    g_test_add_func("/xen-block/ring-overflow", test_ring_overflow);
    g_test_add_func("/xen-block/connect-errors", test_connect_errors);
    g_test_add_func("/xen-block/in-flight", test_in_flight);
    g_test_add_func("/xen-block/reset", test_reset);
    g_test_add_func("/xen-block/create-drives", test_create_drives);
    ret = g_test_run();
    xen_front_cleanup();
    return ret;
}
