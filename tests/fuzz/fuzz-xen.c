/*
 * The Xen emulation as a hostile guest kernel sees it (xen-version set, one xen-disk on a
 * 1 MiB drive): hypercalls of any number and command with pointers into the scratch RAM;
 * xenstore requests of any type and payload written into the store ring and kicked; the
 * frontend's connection nodes (ring-ref, event-channel, state) set to chosen values, the
 * way a frontend connects; and blkif requests of any shape put on the ring the input
 * connected. The target's "boot" operation places shared_info and grant frame 0 in the
 * scratch RAM and grants its pages to domain 0, so short inputs reach the data path. The
 * machine reset between inputs also resets the Xen state. Seeds (tests/fuzz/corpus/xen/):
 * boot then connect then a read; boot then xenstore reads and a watch.
 */
#include <string.h>
#include <glib.h>
#include "block/block-backend.h"
#include "harness.h"
#include "hw/machine.h"
#include "hw/memory.h"
#include "hw/qdev.h"
#include "hw/xen/xen-abi.h"
#include "hw/xen/xen.h"
#include "hw/xen/xenstore.h"
#include "util/error.h"
#include "util/main-loop.h"

#define XEN_PAGES (FUZZ_SCRATCH_SIZE / XEN_PAGE_SIZE) /* 16 scratch pages */
#define SHINFO_PAGE 0
#define GNT_PAGE 1
#define RING_PAGE 2 /* the blkif ring the seeds use; data pages 3.. */
#define STORE_GPA (XEN_SPECIAL_PFN_XENSTORE * XEN_PAGE_SIZE)
#define FE_DIR "/local/domain/1/device/vbd/51712"

enum { XF_HYPERCALL, XF_BOOT, XF_XS, XF_CONNECT, XF_BLK, XF_SETTLE, XF_COUNT };

static uint64_t page_gpa(unsigned page)
{
    return FUZZ_SCRATCH_BASE + (uint64_t)(page % XEN_PAGES) * XEN_PAGE_SIZE;
}

static int64_t xf_hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    const uint64_t args[6] = {a0, a1, a2};

    return xen_hypercall(0, nr, args, &xen_guest_mem_phys);
}

static void xf_write32(uint64_t gpa, uint32_t v)
{
    guest_mem_write(gpa, &v, sizeof(v));
}

static uint32_t xf_read32(uint64_t gpa)
{
    uint32_t v = 0;

    guest_mem_read(gpa, &v, sizeof(v));
    return v;
}

/* Any hypercall; numbers the emulation knows come often, pointers mostly into scratch. */
static void xf_hypercall_op(FuzzInput *in)
{
    static const uint8_t known[] = {XEN_HC_memory_op, XEN_HC_xen_version, XEN_HC_grant_table_op,
                                    XEN_HC_vcpu_op,   XEN_HC_sched_op,    XEN_HC_event_channel_op,
                                    XEN_HC_hvm_op};
    uint8_t pick = fuzz_u8(in);
    uint64_t nr = pick < 224 ? known[pick % sizeof(known)] : fuzz_u64(in);
    uint64_t cmd = fuzz_u8(in);
    uint64_t ptr =
        fuzz_u8(in) < 240 ? FUZZ_SCRATCH_BASE + fuzz_u16(in) % FUZZ_SCRATCH_SIZE : fuzz_u64(in);
    uint64_t a2 = fuzz_u8(in);

    /* A guest shutdown request would stop nothing here, but keep the machine running. */
    if (nr == XEN_HC_sched_op && cmd == SCHEDOP_shutdown) {
        return;
    }
    xf_hypercall(nr, cmd, ptr, a2);
}

static void xf_grant(uint32_t ref, unsigned page, bool readonly)
{
    uint8_t e[8] = {GTF_permit_access | (readonly ? GTF_readonly : 0), 0, 0, 0};
    uint32_t frame = (uint32_t)(page_gpa(page) >> 12);

    memcpy(e + 4, &frame, 4);
    guest_mem_write(page_gpa(GNT_PAGE) + ref * 8, e, sizeof(e));
}

/* What a frontend kernel does first: shared_info, a grant frame, its pages granted. */
static void xf_boot(void)
{
    struct {
        uint16_t domid, size;
        uint32_t space;
        uint64_t idx, gpfn;
    } a = {XEN_DOMID_SELF, 0, XENMAPSPACE_shared_info, 0, page_gpa(SHINFO_PAGE) >> 12};
    uint64_t arg = page_gpa(XEN_PAGES - 1);

    guest_mem_write(arg, &a, sizeof(a));
    xf_hypercall(XEN_HC_memory_op, XENMEM_add_to_physmap, arg, 0);
    a.space = XENMAPSPACE_grant_table;
    a.gpfn = page_gpa(GNT_PAGE) >> 12;
    guest_mem_write(arg, &a, sizeof(a));
    xf_hypercall(XEN_HC_memory_op, XENMEM_add_to_physmap, arg, 0);
    for (unsigned p = RING_PAGE; p < XEN_PAGES - 1; p++) {
        xf_grant(p, p, false);
    }
}

/* One xenstore message: header fields and payload from the input, then the kick. */
static void xf_xs_op(FuzzInput *in)
{
    uint32_t hdr[4];
    uint8_t payload[64];
    unsigned n;
    uint32_t prod = xf_read32(STORE_GPA + XENSTORE_RING_REQ_PROD);
    uint8_t msg[sizeof(hdr) + sizeof(payload)];
    uint32_t port = 1;

    /* One field per statement: the order the input is read in is fixed. */
    hdr[0] = fuzz_u8(in) % 24; /* type */
    hdr[1] = fuzz_u32(in);     /* req_id */
    hdr[2] = fuzz_u8(in) < 200 ? 0 : fuzz_u32(in);
    n = fuzz_u8(in) % sizeof(payload);
    for (unsigned i = 0; i < n; i++) {
        payload[i] = fuzz_u8(in);
    }
    hdr[3] = fuzz_u8(in) < 250 ? n : fuzz_u32(in);
    memcpy(msg, hdr, sizeof(hdr));
    memcpy(msg + sizeof(hdr), payload, n);
    for (unsigned i = 0; i < sizeof(hdr) + n; i++) {
        guest_mem_write(STORE_GPA + XENSTORE_RING_REQ + ((prod + i) & 1023), &msg[i], 1);
    }
    xf_write32(STORE_GPA + XENSTORE_RING_REQ_PROD, prod + sizeof(hdr) + n);
    /* The guest consumes every reply so far. */
    xf_write32(STORE_GPA + XENSTORE_RING_RSP_CONS, xf_read32(STORE_GPA + XENSTORE_RING_RSP_PROD));
    xf_write32(page_gpa(XEN_PAGES - 1), port);
    xf_hypercall(XEN_HC_event_channel_op, EVTCHNOP_send, page_gpa(XEN_PAGES - 1), 0);
}

static void xf_run_main_loop(void)
{
    while (g_main_context_iteration(main_loop_context(), FALSE)) {
    }
}

/* The frontend's connection: an unbound port, then its nodes with chosen values. */
static void xf_connect_op(FuzzInput *in)
{
    uint32_t a[2] = {XEN_DOMID_SELF, 0}; /* dom, remote_dom 0; port out */
    uint64_t arg = page_gpa(XEN_PAGES - 1);
    uint8_t state = fuzz_u8(in) % 8;
    uint32_t ring_ref = fuzz_u8(in) < 200 ? RING_PAGE : fuzz_u32(in);

    guest_mem_write(arg, a, sizeof(a));
    xf_hypercall(XEN_HC_event_channel_op, EVTCHNOP_alloc_unbound, arg, 0);
    guest_mem_read(arg + 4, &a[1], 4);
    if (fuzz_u8(in) >= 200) {
        a[1] = fuzz_u32(in);
    }
    xenstore_printf(FE_DIR "/ring-ref", "%u", ring_ref);
    xenstore_printf(FE_DIR "/event-channel", "%u", a[1]);
    xenstore_write(FE_DIR "/protocol", fuzz_u8(in) < 240 ? "x86_64-abi" : "x86_32-abi");
    xenstore_printf(FE_DIR "/state", "%u", state ? state : XenbusStateInitialised);
    xenstore_printf(FE_DIR "/port-for-blk", "%u", a[1]);
    xf_run_main_loop();
}

/* A blkif request in the next slot of the seeds' ring, then req_prod and a send. */
static void xf_blk_op(FuzzInput *in)
{
    uint8_t slot[BLKIF_RING_SLOT_SIZE] = {0};
    uint64_t ring = page_gpa(RING_PAGE);
    uint32_t prod = xf_read32(ring + BLKIF_RING_REQ_PROD);
    uint64_t id = prod, sector = fuzz_u8(in) < 230 ? fuzz_u16(in) % 2048 : fuzz_u64(in);
    g_autofree char *port = xenstore_read(FE_DIR "/port-for-blk");
    uint32_t p = port ? (uint32_t)g_ascii_strtoull(port, NULL, 10) : 0;

    slot[0] = fuzz_u8(in) % 8;
    slot[1] = fuzz_u8(in) % 13;
    memcpy(slot + 8, &id, 8);
    memcpy(slot + 16, &sector, 8);
    for (unsigned i = 0; i < slot[1] && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
        uint32_t gref = fuzz_u8(in) < 230 ? RING_PAGE + 1 + fuzz_u8(in) % 12 : fuzz_u32(in);
        memcpy(slot + 24 + 8 * i, &gref, 4);
        slot[24 + 8 * i + 4] = fuzz_u8(in) % 9;
        slot[24 + 8 * i + 5] = fuzz_u8(in) % 9;
    }
    guest_mem_write(ring + BLKIF_RING_HDR_SIZE + (prod % BLKIF_RING_SLOTS) * BLKIF_RING_SLOT_SIZE,
                    slot, sizeof(slot));
    xf_write32(ring + BLKIF_RING_REQ_PROD, prod + (fuzz_u8(in) < 250 ? 1 : fuzz_u32(in)));
    xf_write32(ring + BLKIF_RING_RSP_EVENT, xf_read32(ring + BLKIF_RING_RSP_PROD) + 1);
    xf_write32(page_gpa(XEN_PAGES - 1), p);
    xf_hypercall(XEN_HC_event_channel_op, EVTCHNOP_send, page_gpa(XEN_PAGES - 1), 0);
}

static void xf_extra(FuzzInput *in)
{
    switch (fuzz_u8(in) % XF_COUNT) {
    case XF_HYPERCALL:
        xf_hypercall_op(in);
        break;
    case XF_BOOT:
        xf_boot();
        break;
    case XF_XS:
        xf_xs_op(in);
        break;
    case XF_CONNECT:
        xf_connect_op(in);
        break;
    case XF_BLK:
        xf_blk_op(in);
        break;
    default:
        xf_run_main_loop();
        break;
    }
}

static const FuzzDevice xen_fuzz = {
    .extra_op = xf_extra,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    xen_set_version(0x4000a);
    fuzz_machine_init();
    fuzz_open_image("xen0", 1 << 20, BDRV_O_RDWR);
    if (!qdev_create_on_bus("xen-disk", NULL, &error_abort, "drive", "xen0", "vdev", "xvda",
                            NULL)) {
        abort();
    }
    machine_run_reset_handlers();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_device_run(&xen_fuzz, data, size);
    return 0;
}
