/*
 * A PV block frontend for the unit tests of "xen-disk" (test-xen-block*.c), in the place of
 * a guest's blkfront: a RAM block of the test's own holds shared_info, grant table frame 0
 * (both placed with XENMEM_add_to_physmap), the ring and the data pages; event channels
 * are allocated and sent on through xen_hypercall(); the frontend's xenstore nodes are
 * written with domain 0's calls, as a toolstack could. Disks are raw images in the
 * temporary directory, removed by xen_front_cleanup().
 */
#ifndef TESTS_UNIT_XEN_FRONT_UTIL_H
#define TESTS_UNIT_XEN_FRONT_UTIL_H

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "hw/memory.h"
#include "hw/qdev.h"
#include "hw/xen/xen-abi.h"
#include "hw/xen/xen.h"
#include "hw/xen/xenstore.h"
#include "util/main-loop.h"
#include "qdev-test-util.h"

#define RAM_SIZE (4u << 20)
#define SHINFO_PFN 1
#define GNTTAB_PFN 2
#define RING_PFN 3
#define ARGS_GPA 0x8000
#define DATA_PFN 0x10 /* data page i is pfn DATA_PFN + i, granted as DATA_GREF + i */
#define NR_DATA 64
#define RING_GREF 8
#define DATA_GREF 16
#define DISK_SECTORS 2048 /* 1 MiB images */
#define VBD_XVDA 51712    /* (202 << 8) | (0 << 4) */

static uint8_t *ram;
static GPtrArray *images;

/* ---- the guest's hypercalls ---- */

static inline int64_t hypercall(uint64_t nr, uint64_t cmd, void *arg, size_t len)
{
    uint64_t args[6] = {cmd, ARGS_GPA};
    int64_t ret;

    memcpy(ram + ARGS_GPA, arg, len);
    ret = xen_hypercall(0, nr, args, &xen_guest_mem_phys);
    memcpy(arg, ram + ARGS_GPA, len);
    return ret;
}

static inline void add_to_physmap(uint32_t space, uint64_t idx, uint64_t gpfn)
{
    struct {
        uint16_t domid, size;
        uint32_t space;
        uint64_t idx, gpfn;
    } a = {XEN_DOMID_SELF, 0, space, idx, gpfn};

    g_assert_cmpint(hypercall(XEN_HC_memory_op, XENMEM_add_to_physmap, &a, sizeof(a)), ==, 0);
}

/* Grant ref on page pfn to domain 0 (flags last, as a guest must). */
static inline void grant(uint32_t ref, uint64_t pfn, bool readonly)
{
    uint8_t *e = ram + GNTTAB_PFN * XEN_PAGE_SIZE + ref * 8;
    uint16_t flags = GTF_permit_access | (readonly ? GTF_readonly : 0), domid = 0;
    uint32_t frame = (uint32_t)pfn;

    memcpy(e + 2, &domid, 2);
    memcpy(e + 4, &frame, 4);
    memcpy(e, &flags, 2);
}

/* What a booting guest does before its PV drivers start: shared_info, the grant table
 * (its frame starts out empty) and grants of the data pages. */
static inline void guest_boot(void)
{
    struct {
        uint16_t domid, pad;
        uint32_t index;
        uint64_t value;
    } p = {XEN_DOMID_SELF, 0, HVM_PARAM_STORE_EVTCHN, 0};

    memset(ram + SHINFO_PFN * XEN_PAGE_SIZE, 0, 2 * XEN_PAGE_SIZE);
    add_to_physmap(XENMAPSPACE_shared_info, 0, SHINFO_PFN);
    add_to_physmap(XENMAPSPACE_grant_table, 0, GNTTAB_PFN);
    g_assert_cmpint(hypercall(XEN_HC_hvm_op, HVMOP_get_param, &p, sizeof(p)), ==, 0);
    g_assert_cmpuint(p.value, >, 0); /* the xenstore channel exists */
    for (unsigned i = 0; i < NR_DATA; i++) {
        grant(DATA_GREF + i, DATA_PFN + i, false);
    }
}

static inline uint32_t evtchn_alloc_unbound(void)
{
    struct {
        uint16_t dom, remote_dom;
        uint32_t port;
    } a = {XEN_DOMID_SELF, 0, 0};

    g_assert_cmpint(hypercall(XEN_HC_event_channel_op, EVTCHNOP_alloc_unbound, &a, sizeof(a)), ==,
                    0);
    return a.port;
}

static inline void evtchn_send(uint32_t port)
{
    g_assert_cmpint(hypercall(XEN_HC_event_channel_op, EVTCHNOP_send, &port, 4), ==, 0);
}

/* The port's pending bit in shared_info, cleared on the way. */
static inline bool evtchn_take_pending(uint32_t port)
{
    uint64_t *w =
        (uint64_t *)(ram + SHINFO_PFN * XEN_PAGE_SIZE + XEN_SHINFO_EVTCHN_PENDING) + port / 64;
    uint64_t bit = 1ull << (port % 64);

    return __atomic_fetch_and(w, ~bit, __ATOMIC_SEQ_CST) & bit;
}

static inline uint16_t grant_flags(uint32_t ref)
{
    uint16_t flags;

    memcpy(&flags, ram + GNTTAB_PFN * XEN_PAGE_SIZE + ref * 8, 2);
    return flags;
}

static inline uint8_t *data_page(unsigned i)
{
    return ram + (DATA_PFN + i) * XEN_PAGE_SIZE;
}

/* ---- the main loop ---- */

#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        gint64 end_ = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;                                \
        while (!(cond) && g_get_monotonic_time() < end_) {                                         \
            if (!g_main_context_iteration(NULL, FALSE)) {                                          \
                g_usleep(100);                                                                     \
            }                                                                                      \
        }                                                                                          \
        g_assert_true(cond);                                                                       \
    } while (0)

/* Let deferred watch events and completions run. */
static inline void settle(void)
{
    for (int i = 0; i < 50; i++) {
        while (g_main_context_iteration(NULL, FALSE)) {
        }
        g_usleep(200);
    }
}

/* ---- xenstore ---- */

static inline char *node(const char *dir, const char *name)
{
    g_autofree char *path = g_strdup_printf("%s/%s", dir, name);

    return xenstore_read(path);
}

static inline void set_node(const char *dir, const char *name, const char *value)
{
    g_autofree char *path = g_strdup_printf("%s/%s", dir, name);

    g_assert_cmpint(xenstore_write(path, value), ==, 0);
}

static inline int node_uint(const char *dir, const char *name)
{
    g_autofree char *path = g_strdup_printf("%s/%s", dir, name);
    uint64_t v;

    return xenstore_read_uint(path, &v) ? (int)v : -1;
}

static inline void check_node(const char *dir, const char *name, const char *expected)
{
    g_autofree char *value = node(dir, name);

    g_assert_cmpstr(value, ==, expected);
}

/* ---- drives and devices ---- */

static inline char *make_image(void)
{
    char *path = NULL;
    int fd = g_file_open_tmp("xen-block-XXXXXX.img", &path, NULL);
    uint8_t buf[4096];

    g_assert_cmpint(fd, >=, 0);
    for (unsigned i = 0; i < DISK_SECTORS * BLKIF_SECTOR_SIZE / sizeof(buf); i++) {
        for (size_t j = 0; j < sizeof(buf); j++) {
            buf[j] = (uint8_t)(i * 13 + j * 7 + j / 512);
        }
        g_assert_cmpint(write(fd, buf, sizeof(buf)), ==, sizeof(buf));
    }
    close(fd);
    g_ptr_array_add(images, g_strdup(path));
    return path;
}

static inline void read_image(const char *path, uint64_t off, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, off), ==, (ssize_t)len);
    close(fd);
}

static inline BlockBackend *new_drive(const char *optstr)
{
    Opts *opts = drive_def(optstr, &error_abort);
    BlockBackend *blk = drive_new(opts, IF_NONE, &error_abort);

    opts_free(opts);
    return blk;
}

/* -device devstr: the device, or NULL with the message in *err. */
static inline DeviceState *add_device(const char *devstr, char **err)
{
    return test_device_add(devstr, false, err);
}

/* The frontend of one disk. */
typedef struct Front {
    DeviceState *dev;
    BlockBackend *blk;
    char *image;
    char *fe, *be;
    uint32_t port;
    uint8_t *sring;
    uint32_t req_prod, rsp_cons;
} Front;

typedef struct Rsp {
    uint64_t id;
    uint8_t op;
    int16_t status;
} Rsp;

static inline void front_new(Front *f, const char *id, const char *drive_opts, const char *vdev,
                             unsigned vbd)
{
    g_autofree char *dopts = NULL;
    g_autofree char *dev = NULL;

    memset(f, 0, sizeof(*f));
    f->image = make_image();
    dopts = g_strdup_printf("if=none,id=%s,file=%s,format=raw%s", id, f->image, drive_opts);
    f->blk = new_drive(dopts);
    dev = g_strdup_printf("xen-disk,id=dev-%s,drive=%s,vdev=%s", id, id, vdev);
    f->dev = add_device(dev, NULL);
    f->fe = g_strdup_printf("/local/domain/1/device/vbd/%u", vbd);
    f->be = g_strdup_printf("/local/domain/0/backend/vbd/1/%u", vbd);
    settle();
    g_assert_cmpint(node_uint(f->be, "state"), ==, XenbusStateInitWait);
}

static inline void front_free(Front *f)
{
    qdev_device_delete(f->dev);
    settle();
    g_assert_null(xenstore_read(f->fe));
    g_assert_null(xenstore_read(f->be));
    g_free(f->image);
    g_free(f->fe);
    g_free(f->be);
}

static inline void front_set_state(Front *f, unsigned state)
{
    g_autofree char *value = g_strdup_printf("%u", state);

    set_node(f->fe, "state", value);
}

static inline uint32_t sring_get(Front *f, unsigned off)
{
    return __atomic_load_n((uint32_t *)(f->sring + off), __ATOMIC_SEQ_CST);
}

static inline void sring_set(Front *f, unsigned off, uint32_t v)
{
    __atomic_store_n((uint32_t *)(f->sring + off), v, __ATOMIC_SEQ_CST);
}

/* A new ring and channel, the frontend's nodes, Initialised: returns the backend's state. */
static inline int front_connect_proto(Front *f, const char *protocol)
{
    g_autofree char *port = NULL;

    f->sring = ram + RING_PFN * XEN_PAGE_SIZE;
    memset(f->sring, 0, XEN_PAGE_SIZE);
    sring_set(f, BLKIF_RING_REQ_EVENT, 1);
    sring_set(f, BLKIF_RING_RSP_EVENT, 1);
    f->req_prod = f->rsp_cons = 0;
    grant(RING_GREF, RING_PFN, false);
    f->port = evtchn_alloc_unbound();
    port = g_strdup_printf("%u", f->port);
    set_node(f->fe, "ring-ref", G_STRINGIFY(RING_GREF));
    set_node(f->fe, "event-channel", port);
    if (protocol) {
        set_node(f->fe, "protocol", protocol);
    }
    front_set_state(f, XenbusStateInitialised);
    WAIT_FOR(node_uint(f->be, "state") != XenbusStateInitWait);
    return node_uint(f->be, "state");
}

static inline void front_connect(Front *f)
{
    g_assert_cmpint(front_connect_proto(f, "x86_64-abi"), ==, XenbusStateConnected);
    front_set_state(f, XenbusStateConnected);
    settle();
}

/* Closing, Closed, Initialising: the backend answers each, ending in InitWait. */
static inline void front_disconnect(Front *f)
{
    front_set_state(f, XenbusStateClosing);
    WAIT_FOR(node_uint(f->be, "state") == XenbusStateClosing);
    front_set_state(f, XenbusStateClosed);
    WAIT_FOR(node_uint(f->be, "state") == XenbusStateClosed);
    front_set_state(f, XenbusStateInitialising);
    WAIT_FOR(node_uint(f->be, "state") == XenbusStateInitWait);
}

static inline void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* A request slot: operation, nr_segments (or discard flag), id, sector. */
static inline void req_init(uint8_t *slot, uint8_t op, uint8_t nseg, uint64_t id, uint64_t sector)
{
    memset(slot, 0, BLKIF_RING_SLOT_SIZE);
    slot[0] = op;
    slot[1] = nseg;
    put_le(slot + 8, id, 8);
    put_le(slot + 16, sector, 8);
}

static inline void req_seg(uint8_t *slot, unsigned i, uint32_t gref, uint8_t first, uint8_t last)
{
    put_le(slot + 24 + 8 * i, gref, 4);
    slot[24 + 8 * i + 4] = first;
    slot[24 + 8 * i + 5] = last;
}

/* Queue a request without telling the backend. */
static inline void front_queue(Front *f, const uint8_t *slot)
{
    uint8_t *dst =
        f->sring + BLKIF_RING_HDR_SIZE + (f->req_prod % BLKIF_RING_SLOTS) * BLKIF_RING_SLOT_SIZE;

    memcpy(dst, slot, BLKIF_RING_SLOT_SIZE);
    f->req_prod++;
    sring_set(f, BLKIF_RING_REQ_PROD, f->req_prod);
}

/* Wait for n responses and take them. */
static inline void front_responses(Front *f, Rsp *rsp, unsigned n)
{
    WAIT_FOR(sring_get(f, BLKIF_RING_RSP_PROD) - f->rsp_cons >= n);
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *p = f->sring + BLKIF_RING_HDR_SIZE +
                           (f->rsp_cons++ % BLKIF_RING_SLOTS) * BLKIF_RING_SLOT_SIZE;

        memcpy(&rsp[i].id, p, 8);
        rsp[i].op = p[8];
        memcpy(&rsp[i].status, p + 10, 2);
    }
    sring_set(f, BLKIF_RING_RSP_EVENT, f->rsp_cons + 1);
}

/* One request, sent and answered: its status. */
static inline int16_t front_do(Front *f, const uint8_t *slot)
{
    Rsp rsp;

    front_queue(f, slot);
    evtchn_send(f->port);
    front_responses(f, &rsp, 1);
    g_assert_cmpuint(rsp.id, ==, slot[8] | (uint64_t)slot[9] << 8);
    g_assert_cmpuint(rsp.op, ==, slot[0]);
    return rsp.status;
}

/* Guest RAM, Xen emulation on, a booted guest. */
static inline void xen_front_init(void)
{
    main_loop_init();
    images = g_ptr_array_new_with_free_func(g_free);
    ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert(ram != MAP_FAILED);
    guest_mem_add(0, RAM_SIZE, ram, false, "xen-front");
    xen_set_version(0x4000d);
    xen_emu_init();
    guest_boot();
}

static inline void xen_front_cleanup(void)
{
    for (guint i = 0; i < images->len; i++) {
        unlink(images->pdata[i]);
    }
    g_ptr_array_free(images, true);
}

#endif
