/*
 * Unit tests for the Xen emulation's core (hw/xen/xen-emu.c, xen-evtchn.c, xen-gnttab.c):
 * the test is the guest kernel, calling xen_hypercall() with guest-physical pointers into a
 * RAM block of its own, and a backend, using the domain 0 calls of include/hw/xen/xen.h.
 * Checked: hypercall answers and errnos, shared_info and vcpu_info placement (contents
 * carried along when moved), 2-level event delivery (pending, mask, selector, upcall, the
 * GSI callback's level), grant mapping rules and the in-use flags the guest sees.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "hw/irq.h"
#include "hw/memory.h"
#include "hw/xen/xen-abi.h"
#include "hw/xen/xen.h"

#define RAM_SIZE (4u << 20)
#define SHINFO_GPA 0x100000ull
#define GNT_GPA 0x101000ull
#define ARG_GPA 0x102000ull
#define DATA_GPA 0x103000ull
#define VI_GPA 0x104000ull

static uint8_t *ram;
static int gsi_level[IRQ_NUM_GSI];
static unsigned gsi_changes;

static void irq_observer(unsigned gsi, bool level)
{
    gsi_level[gsi] = level;
    gsi_changes++;
}

static int64_t hc(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    const uint64_t args[6] = {a0, a1, a2};

    return xen_hypercall(0, nr, args, &xen_guest_mem_phys);
}

/* A hypercall whose argument struct is copied to ARG_GPA first and back afterwards. */
static int64_t hc_arg(uint64_t nr, uint64_t cmd, void *arg, size_t len, uint64_t a2)
{
    int64_t ret;

    memcpy(ram + ARG_GPA, arg, len);
    ret = hc(nr, cmd, ARG_GPA, a2);
    memcpy(arg, ram + ARG_GPA, len);
    return ret;
}

static int64_t add_to_physmap(uint32_t space, uint64_t idx, uint64_t gpa)
{
    struct {
        uint16_t domid, size;
        uint32_t space;
        uint64_t idx, gpfn;
    } a = {XEN_DOMID_SELF, 0, space, idx, gpa >> 12};

    return hc_arg(XEN_HC_memory_op, XENMEM_add_to_physmap, &a, sizeof(a), 0);
}

static int64_t hvm_param(bool set, uint32_t index, uint64_t *value)
{
    struct {
        uint16_t domid, pad;
        uint32_t index;
        uint64_t value;
    } a = {XEN_DOMID_SELF, 0, index, *value};
    int64_t ret = hc_arg(XEN_HC_hvm_op, set ? HVMOP_set_param : HVMOP_get_param, &a, sizeof(a), 0);

    *value = a.value;
    return ret;
}

static int64_t alloc_unbound(uint16_t remote, uint32_t *port)
{
    struct {
        uint16_t dom, remote_dom;
        uint32_t port;
    } a = {XEN_DOMID_SELF, remote, 0};
    int64_t ret = hc_arg(XEN_HC_event_channel_op, EVTCHNOP_alloc_unbound, &a, sizeof(a), 0);

    *port = a.port;
    return ret;
}

static int64_t evtchn_port_op(unsigned cmd, uint32_t port)
{
    return hc_arg(XEN_HC_event_channel_op, cmd, &port, sizeof(port), 0);
}

static uint32_t evtchn_status(uint32_t port, int64_t *ret)
{
    uint32_t a[6] = {XEN_DOMID_SELF, port};

    *ret = hc_arg(XEN_HC_event_channel_op, EVTCHNOP_status, a, sizeof(a), 0);
    return a[2];
}

static bool shinfo_bit(unsigned offset, uint32_t port)
{
    uint64_t w;

    memcpy(&w, ram + SHINFO_GPA + offset + (port / 64) * 8, 8);
    return (w >> (port % 64)) & 1;
}

static void set_mask(uint32_t port, bool on)
{
    uint64_t *w = (uint64_t *)(ram + SHINFO_GPA + XEN_SHINFO_EVTCHN_MASK) + port / 64;

    *w = on ? *w | 1ull << (port % 64) : *w & ~(1ull << (port % 64));
}

static void clear_events(void)
{
    memset(ram + SHINFO_GPA + XEN_SHINFO_EVTCHN_PENDING, 0, 512);
    memset(ram + SHINFO_GPA, 0, XEN_VCPU_INFO_SIZE);
}

static void grant(uint32_t ref, uint16_t flags, uint16_t domid, uint32_t frame)
{
    uint8_t *e = ram + GNT_GPA + ref * 8;

    memcpy(e, &flags, 2);
    memcpy(e + 2, &domid, 2);
    memcpy(e + 4, &frame, 4);
}

static uint16_t grant_flags(uint32_t ref)
{
    uint16_t f;

    memcpy(&f, ram + GNT_GPA + ref * 8, 2);
    return f;
}

static unsigned backend_calls;

static void backend_handler(void *opaque)
{
    backend_calls++;
}

/* Every test starts from a rebooted guest with shared_info and grant frame 0 placed. */
static void setup(void)
{
    xen_emu_reset();
    memset(ram, 0, RAM_SIZE);
    memset(gsi_level, 0, sizeof(gsi_level));
    gsi_changes = 0;
    backend_calls = 0;
    g_assert_cmpint(add_to_physmap(XENMAPSPACE_shared_info, 0, SHINFO_GPA), ==, 0);
    g_assert_cmpint(add_to_physmap(XENMAPSPACE_grant_table, 0, GNT_GPA), ==, 0);
}

static void test_version(void)
{
    uint32_t fi[2] = {0, 0};
    char extra[16];

    setup();
    g_assert_cmpint(hc(XEN_HC_xen_version, XENVER_version, 0, 0), ==, 0x4000a);
    g_assert_cmpint(hc(XEN_HC_xen_version, XENVER_pagesize, 0, 0), ==, 4096);
    g_assert_cmpint(hc_arg(XEN_HC_xen_version, XENVER_get_features, fi, 8, 0), ==, 0);
    g_assert_cmphex(fi[1], ==, 0x10f); /* page tables .. supervisor, callback vector */
    fi[0] = 1;
    g_assert_cmpint(hc_arg(XEN_HC_xen_version, XENVER_get_features, fi, 8, 0), ==, 0);
    g_assert_cmphex(fi[1], ==, 0);
    g_assert_cmpint(hc_arg(XEN_HC_xen_version, XENVER_extraversion, extra, 16, 0), ==, 0);
    g_assert_cmpstr(extra, ==, ".minivmm");
    g_assert_cmpint(hc(XEN_HC_xen_version, 99, 0, 0), ==, -ENOSYS);
    g_assert_cmpint(hc(1, 0, 0, 0), ==, -ENOSYS);
    /* A pointer outside RAM is a fault, not a crash. */
    g_assert_cmpint(hc(XEN_HC_xen_version, XENVER_get_features, 0xfff00000000ull, 0), ==, -EFAULT);
}

static void test_physmap(void)
{
    uint8_t byte = 0;

    setup();
    ram[SHINFO_GPA + 3000] = 0x5a;
    /* Placed again elsewhere, shared_info keeps its contents. */
    g_assert_cmpint(add_to_physmap(XENMAPSPACE_shared_info, 0, DATA_GPA), ==, 0);
    g_assert_cmpint(ram[DATA_GPA + 3000], ==, 0x5a);
    g_assert_cmpint(add_to_physmap(XENMAPSPACE_shared_info, 1, DATA_GPA), ==, -EINVAL);
    /* Outside RAM it gets a page of the VMM's, mapped there; back in RAM that goes away. */
    g_assert_cmpint(add_to_physmap(XENMAPSPACE_shared_info, 0, 0xf00000000ull), ==, 0);
    g_assert_true(guest_mem_read(0xf00000000ull + 3000, &byte, 1));
    g_assert_cmpint(byte, ==, 0x5a);
    g_assert_cmpint(add_to_physmap(XENMAPSPACE_grant_table, 0, 0xf00000000ull), ==, -EINVAL);
    g_assert_cmpint(add_to_physmap(XENMAPSPACE_shared_info, 0, 0xf00001000ull), ==, 0);
    g_assert_false(guest_mem_read(0xf00000000ull + 3000, &byte, 1));
    g_assert_cmpint(add_to_physmap(XENMAPSPACE_shared_info, 0, SHINFO_GPA), ==, 0);
    g_assert_cmpint(ram[SHINFO_GPA + 3000], ==, 0x5a);
    g_assert_false(guest_mem_read(0xf00001000ull + 3000, &byte, 1));
    g_assert_cmpint(add_to_physmap(XENMAPSPACE_shared_info, 0, XEN_SPECIAL_AREA_ADDR + 4096), ==,
                    -EINVAL);
    g_assert_cmpint(add_to_physmap(XENMAPSPACE_shared_info, 0, 1ull << 52), ==, -EINVAL);
    g_assert_cmpint(add_to_physmap(XENMAPSPACE_grant_table, 64, DATA_GPA), ==, -EINVAL);
    g_assert_cmpint(add_to_physmap(7, 0, DATA_GPA), ==, -EOPNOTSUPP);
}

static void test_hvm_params(void)
{
    uint64_t v = 0;

    setup();
    g_assert_cmpint(hvm_param(false, HVM_PARAM_STORE_PFN, &v), ==, 0);
    g_assert_cmphex(v, ==, XEN_SPECIAL_PFN_XENSTORE);
    g_assert_cmpint(hvm_param(false, HVM_PARAM_STORE_EVTCHN, &v), ==, 0);
    g_assert_cmpint(v, ==, 1); /* the toolstack's first channel */
    v = 5;
    g_assert_cmpint(hvm_param(true, HVM_PARAM_STORE_PFN, &v), ==, -EPERM);
    g_assert_cmpint(hvm_param(false, 64, &v), ==, -EINVAL);
    v = 1ull << 56; /* PCI INTx: no platform device */
    g_assert_cmpint(hvm_param(true, HVM_PARAM_CALLBACK_IRQ, &v), ==, -EINVAL);
    v = 30; /* GSI beyond the IOAPIC */
    g_assert_cmpint(hvm_param(true, HVM_PARAM_CALLBACK_IRQ, &v), ==, -EINVAL);
    v = 2ull << 56 | 0xf3;
    g_assert_cmpint(hvm_param(true, HVM_PARAM_CALLBACK_IRQ, &v), ==, 0);
    v = 0;
    g_assert_cmpint(hvm_param(false, HVM_PARAM_CALLBACK_IRQ, &v), ==, 0);
    g_assert_cmphex(v, ==, 2ull << 56 | 0xf3);
}

static void test_evtchn_ops(void)
{
    uint32_t port, port2;
    int64_t ret;

    setup();
    g_assert_cmpint(evtchn_status(1, &ret), ==, EVTCHNSTAT_interdomain);
    g_assert_cmpint(ret, ==, 0);
    g_assert_cmpint(alloc_unbound(0, &port), ==, 0);
    g_assert_cmpint(port, ==, 2);
    g_assert_cmpint(evtchn_status(port, &ret), ==, EVTCHNSTAT_unbound);
    g_assert_cmpint(alloc_unbound(5, &port2), ==, -ESRCH);
    g_assert_cmpint(alloc_unbound(XEN_DOMID_SELF, &port2), ==, -EINVAL);
    g_assert_cmpint(evtchn_port_op(EVTCHNOP_send, port), ==, 0); /* unbound: dropped */
    g_assert_cmpint(evtchn_port_op(EVTCHNOP_send, 0), ==, -EINVAL);
    g_assert_cmpint(evtchn_port_op(EVTCHNOP_send, 4096), ==, -EINVAL);
    g_assert_cmpint(evtchn_port_op(EVTCHNOP_send, 77), ==, -EINVAL); /* closed */
    g_assert_cmpint(evtchn_status(4096, &ret), ==, 0);
    g_assert_cmpint(ret, ==, -EINVAL);
    g_assert_cmpint(evtchn_port_op(EVTCHNOP_close, port), ==, 0);
    g_assert_cmpint(evtchn_port_op(EVTCHNOP_close, port), ==, -EINVAL);
    g_assert_cmpint(evtchn_status(port, &ret), ==, EVTCHNSTAT_closed);
    g_assert_cmpint(hc(XEN_HC_event_channel_op, 1 /* bind_virq */, ARG_GPA, 0), ==, -ENOSYS);
    /* A full table answers -ENOSPC. */
    for (unsigned i = 2; i < XEN_EVTCHN_2L_NR_PORTS; i++) {
        g_assert_cmpint(alloc_unbound(0, &port), ==, 0);
    }
    g_assert_cmpint(alloc_unbound(0, &port), ==, -ENOSPC);
}

static void test_evtchn_backend(void)
{
    uint32_t port;

    setup();
    g_assert_cmpint(alloc_unbound(0, &port), ==, 0);
    g_assert_cmpint(xen_evtchn_bind_backend(port + 1, backend_handler, NULL), ==, -EINVAL);
    g_assert_cmpint(xen_evtchn_notify_guest(port), ==, -EINVAL); /* not bound yet */
    g_assert_cmpint(xen_evtchn_bind_backend(port, backend_handler, NULL), ==, 0);
    g_assert_cmpint(xen_evtchn_bind_backend(port, backend_handler, NULL), ==, -EINVAL);
    g_assert_cmpint(evtchn_port_op(EVTCHNOP_send, port), ==, 0);
    g_assert_cmpint(backend_calls, ==, 1);
    /* The backend's notify sets pending, the selector and upcall_pending. */
    g_assert_cmpint(xen_evtchn_notify_guest(port), ==, 0);
    g_assert_true(shinfo_bit(XEN_SHINFO_EVTCHN_PENDING, port));
    g_assert_cmpint(ram[SHINFO_GPA + XEN_VCPU_INFO_UPCALL_PENDING], ==, 1);
    g_assert_cmpint(ram[SHINFO_GPA + XEN_VCPU_INFO_PENDING_SEL], ==, 1);
    xen_evtchn_unbind_backend(port, &backend_calls); /* not the binder: no effect */
    g_assert_cmpint(evtchn_port_op(EVTCHNOP_send, port), ==, 0);
    g_assert_cmpint(backend_calls, ==, 2);
    xen_evtchn_unbind_backend(port, NULL);
    g_assert_cmpint(evtchn_port_op(EVTCHNOP_send, port), ==, 0);
    g_assert_cmpint(backend_calls, ==, 2);
    /* The guest closing the channel leaves the backend unable to notify. */
    g_assert_cmpint(xen_evtchn_bind_backend(port, backend_handler, NULL), ==, 0);
    g_assert_cmpint(evtchn_port_op(EVTCHNOP_close, port), ==, 0);
    g_assert_cmpint(xen_evtchn_notify_guest(port), ==, -EINVAL);
}

static void test_evtchn_mask(void)
{
    uint32_t port;

    setup();
    for (int i = 0; i < 70; i++) {
        g_assert_cmpint(alloc_unbound(0, &port), ==, 0);
    }
    g_assert_cmpint(port, ==, 71);
    g_assert_cmpint(xen_evtchn_bind_backend(port, backend_handler, NULL), ==, 0);
    set_mask(port, true);
    g_assert_cmpint(xen_evtchn_notify_guest(port), ==, 0);
    g_assert_true(shinfo_bit(XEN_SHINFO_EVTCHN_PENDING, port));
    g_assert_cmpint(ram[SHINFO_GPA + XEN_VCPU_INFO_UPCALL_PENDING], ==, 0);
    /* Unmasking a pending port delivers it: selector bit 1 (ports 64..127). */
    g_assert_cmpint(evtchn_port_op(EVTCHNOP_unmask, port), ==, 0);
    g_assert_false(shinfo_bit(XEN_SHINFO_EVTCHN_MASK, port));
    g_assert_cmpint(ram[SHINFO_GPA + XEN_VCPU_INFO_PENDING_SEL], ==, 2);
    g_assert_cmpint(ram[SHINFO_GPA + XEN_VCPU_INFO_UPCALL_PENDING], ==, 1);
    /* A port already pending is not delivered twice. */
    clear_events();
    ram[SHINFO_GPA + XEN_SHINFO_EVTCHN_PENDING + 8] = 1 << (port % 64); /* port 71 */
    g_assert_cmpint(xen_evtchn_notify_guest(port), ==, 0);
    g_assert_cmpint(ram[SHINFO_GPA + XEN_VCPU_INFO_UPCALL_PENDING], ==, 0);
}

static void test_vcpu_info(void)
{
    struct {
        uint64_t mfn;
        uint32_t offset, rsvd;
    } a = {VI_GPA >> 12, 64, 0};
    uint32_t port;

    setup();
    ram[SHINFO_GPA + 40] = 0x77;
    memcpy(ram + ARG_GPA, &a, sizeof(a));
    g_assert_cmpint(hc(XEN_HC_vcpu_op, VCPUOP_register_vcpu_info, 0, ARG_GPA), ==, 0);
    g_assert_cmpint(ram[VI_GPA + 64 + 40], ==, 0x77); /* contents moved along */
    g_assert_cmpint(alloc_unbound(0, &port), ==, 0);
    g_assert_cmpint(xen_evtchn_bind_backend(port, backend_handler, NULL), ==, 0);
    g_assert_cmpint(xen_evtchn_notify_guest(port), ==, 0);
    g_assert_cmpint(ram[VI_GPA + 64 + XEN_VCPU_INFO_UPCALL_PENDING], ==, 1);
    g_assert_cmpint(ram[SHINFO_GPA + XEN_VCPU_INFO_UPCALL_PENDING], ==, 0);
    a.offset = 4090;
    memcpy(ram + ARG_GPA, &a, sizeof(a));
    g_assert_cmpint(hc(XEN_HC_vcpu_op, VCPUOP_register_vcpu_info, 0, ARG_GPA), ==, -EINVAL);
    g_assert_cmpint(hc(XEN_HC_vcpu_op, VCPUOP_register_vcpu_info, 32, ARG_GPA), ==, -ENOENT);
    g_assert_cmpint(hc(XEN_HC_vcpu_op, 6, 0, ARG_GPA), ==, -ENOSYS);
}

static void test_gsi_callback(void)
{
    uint64_t v = 9; /* GSI 9 */
    uint32_t port;

    setup();
    irq_set_observer(irq_observer);
    g_assert_cmpint(hvm_param(true, HVM_PARAM_CALLBACK_IRQ, &v), ==, 0);
    g_assert_cmpint(alloc_unbound(0, &port), ==, 0);
    g_assert_cmpint(xen_evtchn_bind_backend(port, backend_handler, NULL), ==, 0);
    g_assert_cmpint(xen_evtchn_notify_guest(port), ==, 0);
    g_assert_cmpint(gsi_level[9], ==, 1);
    /* The line stays up until the guest clears upcall_pending. */
    g_assert_cmpint(hc(XEN_HC_xen_version, XENVER_version, 0, 0), ==, 0x4000a);
    g_assert_cmpint(gsi_level[9], ==, 1);
    ram[SHINFO_GPA + XEN_VCPU_INFO_UPCALL_PENDING] = 0;
    g_assert_cmpint(hc(XEN_HC_xen_version, XENVER_version, 0, 0), ==, 0x4000a);
    g_assert_cmpint(gsi_level[9], ==, 0);
    irq_set_observer(NULL);
}

static void test_gnttab_ops(void)
{
    struct {
        uint16_t dom, pad;
        uint32_t nr_frames, max_nr_frames;
        int16_t status, pad2;
    } q = {XEN_DOMID_SELF};
    uint32_t version = 2;

    setup();
    g_assert_cmpint(hc_arg(XEN_HC_grant_table_op, GNTTABOP_query_size, &q, sizeof(q), 1), ==, 0);
    g_assert_cmpint(q.status, ==, GNTST_okay);
    g_assert_cmpint(q.nr_frames, ==, 1);
    g_assert_cmpint(q.max_nr_frames, ==, 64);
    q.dom = 9;
    g_assert_cmpint(hc_arg(XEN_HC_grant_table_op, GNTTABOP_query_size, &q, sizeof(q), 1), ==, 0);
    g_assert_cmpint(q.status, ==, GNTST_bad_domain);
    g_assert_cmpint(hc_arg(XEN_HC_grant_table_op, GNTTABOP_set_version, &version, 4, 1), ==,
                    -EINVAL);
    version = 0;
    g_assert_cmpint(hc_arg(XEN_HC_grant_table_op, GNTTABOP_set_version, &version, 4, 1), ==, 0);
    g_assert_cmpint(version, ==, 1);
    g_assert_cmpint(hc(XEN_HC_grant_table_op, GNTTABOP_query_size, ARG_GPA, 2), ==, -EINVAL);
    g_assert_cmpint(hc(XEN_HC_grant_table_op, GNTTABOP_setup_table, ARG_GPA, 1), ==, -ENOSYS);
}

static void test_gnttab_map(void)
{
    Error *err = NULL;
    uint8_t *p;

    setup();
    grant(3, GTF_permit_access, 0, DATA_GPA >> 12);
    grant(4, GTF_permit_access | GTF_readonly, 0, DATA_GPA >> 12);
    grant(5, GTF_permit_access, 7, DATA_GPA >> 12);
    grant(6, GTF_permit_access, 0, 0xff000000u);
    ram[DATA_GPA + 10] = 0xab;

    p = xen_gnttab_map(3, true, &error_abort);
    g_assert_cmpint(p[10], ==, 0xab);
    p[11] = 0xcd;
    g_assert_cmpint(ram[DATA_GPA + 11], ==, 0xcd);
    g_assert_cmphex(grant_flags(3), ==, GTF_permit_access | GTF_reading | GTF_writing);
    g_assert_nonnull(xen_gnttab_map(3, false, &error_abort));
    xen_gnttab_unmap(3, true);
    g_assert_cmphex(grant_flags(3), ==, GTF_permit_access | GTF_reading);
    xen_gnttab_unmap(3, false);
    g_assert_cmphex(grant_flags(3), ==, GTF_permit_access);
    xen_gnttab_unmap(3, false); /* unbalanced: ignored */

    g_assert_nonnull(xen_gnttab_map(4, false, &error_abort));
    xen_gnttab_unmap(4, false);
    g_assert_null(xen_gnttab_map(4, true, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "grant reference 4 is read-only");
    g_clear_pointer(&err, error_free);
    g_assert_cmphex(grant_flags(4), ==, GTF_permit_access | GTF_readonly);
    g_assert_null(xen_gnttab_map(5, false, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "grant reference 5 is not granted to domain 0");
    g_clear_pointer(&err, error_free);
    g_assert_null(xen_gnttab_map(6, false, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "grant reference 6 names frame 0xff000000 outside guest RAM");
    g_clear_pointer(&err, error_free);
    g_assert_cmphex(grant_flags(6), ==, GTF_permit_access);
    g_assert_null(xen_gnttab_map(7, false, &err)); /* an empty entry */
    g_clear_pointer(&err, error_free);
    g_assert_null(xen_gnttab_map(512, false, &err)); /* frame 1 was never placed */
    g_assert_cmpstr(error_get_pretty(err), ==, "grant reference 512 is outside the grant table");
    g_clear_pointer(&err, error_free);
    g_assert_null(xen_gnttab_map(UINT32_MAX, false, &err));
    g_clear_pointer(&err, error_free);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ram = g_malloc0(RAM_SIZE);
    guest_mem_add(0, RAM_SIZE, ram, false, "xen-test");
    xen_set_version(0x4000a);
    xen_emu_init();
    g_test_add_func("/xen-emu/version", test_version);
    g_test_add_func("/xen-emu/physmap", test_physmap);
    g_test_add_func("/xen-emu/hvm-params", test_hvm_params);
    g_test_add_func("/xen-emu/evtchn/ops", test_evtchn_ops);
    g_test_add_func("/xen-emu/evtchn/backend", test_evtchn_backend);
    g_test_add_func("/xen-emu/evtchn/mask", test_evtchn_mask);
    g_test_add_func("/xen-emu/vcpu-info", test_vcpu_info);
    g_test_add_func("/xen-emu/gsi-callback", test_gsi_callback);
    g_test_add_func("/xen-emu/gnttab/ops", test_gnttab_ops);
    g_test_add_func("/xen-emu/gnttab/map", test_gnttab_map);
    return g_test_run();
}
