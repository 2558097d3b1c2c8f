/*
 * Xen HVM emulation: the guest-wide state (shared_info and vcpu_info placement, HVM
 * parameters, the special pages) and the hypercall dispatcher, which hands event channel
 * and grant table calls to xen-evtchn.c and xen-gnttab.c. The hypercalls a PV block
 * frontend and its xenbus need are answered; everything else returns -ENOSYS, as Xen does
 * for an unknown call. No timers, runstate, PV clock, VIRQs or 32-bit guests (docs/xen.md).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <glib.h>
#include "hw/irq.h"
#include "hw/machine.h"
#include "hw/memory.h"
#include "hw/xen/xen-abi.h"
#include "hw/xen/xen-platform.h"
#include "hw/xen/xenstore.h"
#include "xen-emu-int.h"

#define XEN_HVM_NR_PARAMS 64u

typedef struct XenState {
    uint32_t version;
    uint8_t *special; /* XEN_SPECIAL_AREA_SIZE bytes of host memory */
    XenOverlay shinfo;
    uint64_t vcpu_info_gpa[XEN_MAX_VCPUS];
    uint64_t callback_param; /* HVM_PARAM_CALLBACK_IRQ */
    bool level_asserted;     /* a GSI or INTx callback is up */
    int store_port;
} XenState;

static XenState xen = {.shinfo = XEN_OVERLAY_INIT};

void xen_set_version(uint32_t version)
{
    xen.version = version;
}

bool xen_enabled(void)
{
    return xen.version != 0;
}

uint32_t xen_version(void)
{
    return xen.version;
}

uint8_t *xen_shared_info(void)
{
    return xen_overlay_ptr(&xen.shinfo);
}

uint8_t *xen_vcpu_info(unsigned vcpu)
{
    uint8_t *si = xen_shared_info();

    if (vcpu >= XEN_MAX_VCPUS) {
        return NULL;
    }
    if (xen.vcpu_info_gpa[vcpu] != XEN_INVALID_GPA) {
        return guest_ram_ptr_rw(xen.vcpu_info_gpa[vcpu], XEN_VCPU_INFO_SIZE);
    }
    return si ? si + vcpu * XEN_VCPU_INFO_SIZE : NULL;
}

/* The machine's vCPUs (-smp), which vCPU hypercalls may name. */
static unsigned xen_nr_vcpus(void)
{
    return current_machine ? MAX(current_machine->smp_cpus, 1u) : 1;
}

/* ---- the upcall: how an event reaches vCPU 0 ---- */

/* Set the level of a level-triggered callback (GSI or the platform device's INTA). */
static void xen_callback_set_level(bool level)
{
    uint64_t type = xen.callback_param >> 56;

    if (type == HVM_CALLBACK_GSI) {
        irq_set_level((unsigned)(xen.callback_param & 0xffffffff), level);
    } else if (type == HVM_CALLBACK_PCI_INTX) {
        xen_platform_set_irq(level);
    }
    xen.level_asserted = level;
}

void xen_raise_upcall(void)
{
    uint64_t type = xen.callback_param >> 56;

    if (type == HVM_CALLBACK_VECTOR) {
        xen_kvm_kick_vcpu0(); /* KVM injects the vector on entry: upcall_pending is set */
    } else if (xen.callback_param) {
        xen_callback_set_level(true);
    }
}

/* A GSI or INTx callback is level-triggered: it stays up until the guest clears
 * upcall_pending. Checked after every hypercall and vCPU exit while asserted. */
void xen_poll_callback_level(void)
{
    uint8_t *vi;

    if (!xen.level_asserted) {
        return;
    }
    vi = xen_vcpu_info(0);
    if (!vi || !__atomic_load_n(vi + XEN_VCPU_INFO_UPCALL_PENDING, __ATOMIC_SEQ_CST)) {
        xen_callback_set_level(false);
    }
}

/* HVM_PARAM_CALLBACK_IRQ: a vector; a GSI below 24; or PCI INTx, which only the Xen
 * platform device's INTA can be (domain 0, bus 0, its devfn, pin A). */
static bool xen_callback_valid(uint64_t value)
{
    uint64_t type = value >> 56;
    int devfn = xen_platform_devfn();

    switch (type) {
    case HVM_CALLBACK_VECTOR:
        return true;
    case HVM_CALLBACK_GSI:
        return (value & 0xffffffff) < 24;
    case HVM_CALLBACK_PCI_INTX:
        return devfn >= 0 && (value & 0xffffffffffffffull) == ((uint64_t)devfn << 8);
    default:
        return !value;
    }
}

static int xen_set_callback(uint64_t value)
{
    uint8_t *vi;

    if (!xen_callback_valid(value)) {
        return -EINVAL;
    }
    if (xen.level_asserted) {
        xen_callback_set_level(false);
    }
    xen.callback_param = value;
    xen_kvm_set_callback_vector(value >> 56 == HVM_CALLBACK_VECTOR ? value & 0xff : 0);
    /* As Xen: an event already pending is signalled on the new callback at once. */
    vi = xen_vcpu_info(0);
    if (vi && __atomic_load_n(vi + XEN_VCPU_INFO_UPCALL_PENDING, __ATOMIC_SEQ_CST)) {
        xen_raise_upcall();
    }
    return 0;
}

/* ---- hypercalls ---- */

static int64_t xen_hc_version(uint64_t cmd, uint64_t arg, const XenGuestMem *mem)
{
    static const char extra[16] = ".minivmm";
    uint32_t fi[2];

    switch (cmd) {
    case XENVER_version:
        return xen.version;
    case XENVER_extraversion:
        return xen_arg_write(mem, arg, extra, sizeof(extra)) ? 0 : -EFAULT;
    case XENVER_pagesize:
        return XEN_PAGE_SIZE;
    case XENVER_get_features:
        if (!xen_arg_read(mem, arg, fi, sizeof(fi))) {
            return -EFAULT;
        }
        fi[1] =
            fi[0] ? 0
                  : 1u << XENFEAT_writable_page_tables | 1u << XENFEAT_writable_descriptor_tables |
                        1u << XENFEAT_auto_translated_physmap |
                        1u << XENFEAT_supervisor_mode_kernel | 1u << XENFEAT_hvm_callback_vector;
        return xen_arg_write(mem, arg, fi, sizeof(fi)) ? 0 : -EFAULT;
    default:
        return -ENOSYS;
    }
}

static int xen_map_shared_info(uint64_t gpfn)
{
    int ret = xen_overlay_place(&xen.shinfo, gpfn, "xen-shared-info");

    if (ret) {
        return ret;
    }
    xen_kvm_set_shared_info(gpfn);
    /* KVM finds a vCPU's upcall_pending only where it was told; by default that is the
     * vCPU's slot in shared_info. */
    for (unsigned i = 0; i < MIN(XEN_MAX_VCPUS, xen_nr_vcpus()); i++) {
        if (xen.vcpu_info_gpa[i] == XEN_INVALID_GPA) {
            xen_kvm_set_vcpu_info(i, (gpfn << 12) + i * XEN_VCPU_INFO_SIZE);
        }
    }
    return 0;
}

static int64_t xen_hc_memory_op(uint64_t cmd, uint64_t arg, const XenGuestMem *mem)
{
    struct {
        uint16_t domid, size;
        uint32_t space;
        uint64_t idx, gpfn;
    } a;

    if (cmd != XENMEM_add_to_physmap) {
        return -ENOSYS;
    }
    if (!xen_arg_read(mem, arg, &a, sizeof(a))) {
        return -EFAULT;
    }
    if (a.domid != XEN_DOMID_SELF && a.domid != XEN_GUEST_DOMID) {
        return -ESRCH;
    }
    switch (a.space) {
    case XENMAPSPACE_shared_info:
        return a.idx ? -EINVAL : xen_map_shared_info(a.gpfn);
    case XENMAPSPACE_grant_table:
        return xen_gnttab_map_frame(a.idx, a.gpfn);
    default:
        return -EOPNOTSUPP;
    }
}

static int64_t xen_hvm_param(bool set, uint32_t index, uint64_t *value)
{
    if (index >= XEN_HVM_NR_PARAMS) {
        return -EINVAL;
    }
    if (set) {
        return index == HVM_PARAM_CALLBACK_IRQ ? xen_set_callback(*value) : -EPERM;
    }
    switch (index) {
    case HVM_PARAM_CALLBACK_IRQ:
        *value = xen.callback_param;
        break;
    case HVM_PARAM_STORE_PFN:
        *value = XEN_SPECIAL_PFN_XENSTORE;
        break;
    case HVM_PARAM_STORE_EVTCHN:
        *value = xen.store_port > 0 ? (uint64_t)xen.store_port : 0;
        break;
    default:
        *value = 0; /* no console, nothing else set */
        break;
    }
    return 0;
}

static int64_t xen_hc_hvm_op(uint64_t cmd, uint64_t arg, const XenGuestMem *mem)
{
    struct {
        uint16_t domid, pad;
        uint32_t index;
        uint64_t value;
    } a;
    int64_t ret;

    if (cmd != HVMOP_set_param && cmd != HVMOP_get_param) {
        return -ENOSYS;
    }
    if (!xen_arg_read(mem, arg, &a, sizeof(a))) {
        return -EFAULT;
    }
    if (a.domid != XEN_DOMID_SELF && a.domid != XEN_GUEST_DOMID) {
        return -ESRCH;
    }
    ret = xen_hvm_param(cmd == HVMOP_set_param, a.index, &a.value);
    if (!ret && cmd == HVMOP_get_param && !xen_arg_write(mem, arg, &a, sizeof(a))) {
        return -EFAULT;
    }
    return ret;
}

static int64_t xen_hc_sched_op(uint64_t cmd, uint64_t arg, const XenGuestMem *mem)
{
    uint32_t reason;

    switch (cmd) {
    case SCHEDOP_yield:
    case SCHEDOP_block:
    case SCHEDOP_poll:
        return 0; /* the vCPU simply runs on */
    case SCHEDOP_shutdown:
        if (!xen_arg_read(mem, arg, &reason, sizeof(reason))) {
            return -EFAULT;
        }
        if (reason == SHUTDOWN_poweroff) {
            machine_request_poweroff();
        } else if (reason == SHUTDOWN_reboot || reason == SHUTDOWN_crash) {
            machine_request_reset();
        } else {
            return -EINVAL;
        }
        return 0;
    default:
        return -ENOSYS;
    }
}

static int64_t xen_hc_vcpu_op(uint64_t cmd, uint64_t vcpu, uint64_t arg, const XenGuestMem *mem)
{
    struct {
        uint64_t mfn;
        uint32_t offset, rsvd;
    } a;
    uint8_t *old, *new;
    uint64_t gpa;

    if (cmd != VCPUOP_register_vcpu_info) {
        return -ENOSYS;
    }
    if (vcpu >= MIN(XEN_MAX_VCPUS, xen_nr_vcpus())) {
        return -ENOENT;
    }
    if (!xen_arg_read(mem, arg, &a, sizeof(a))) {
        return -EFAULT;
    }
    if (a.offset > XEN_PAGE_SIZE - XEN_VCPU_INFO_SIZE || a.mfn >= (1ull << 40)) {
        return -EINVAL;
    }
    gpa = (a.mfn << 12) + a.offset;
    new = guest_ram_ptr_rw(gpa, XEN_VCPU_INFO_SIZE);
    if (!new) {
        return -EINVAL;
    }
    old = xen_vcpu_info(vcpu);
    if (old && old != new) {
        memmove(new, old, XEN_VCPU_INFO_SIZE);
    }
    xen.vcpu_info_gpa[vcpu] = gpa;
    xen_kvm_set_vcpu_info(vcpu, gpa);
    return 0;
}

int64_t xen_hypercall(unsigned vcpu, uint64_t nr, const uint64_t args[6], const XenGuestMem *mem)
{
    int64_t ret;

    switch (nr) {
    case XEN_HC_xen_version:
        ret = xen_hc_version(args[0], args[1], mem);
        break;
    case XEN_HC_memory_op:
        ret = xen_hc_memory_op(args[0], args[1], mem);
        break;
    case XEN_HC_hvm_op:
        ret = xen_hc_hvm_op(args[0], args[1], mem);
        break;
    case XEN_HC_event_channel_op:
        ret = xen_evtchn_op((unsigned)args[0], args[1], mem);
        break;
    case XEN_HC_grant_table_op:
        ret = xen_gnttab_op((unsigned)args[0], args[1], args[2], mem);
        break;
    case XEN_HC_sched_op:
        ret = xen_hc_sched_op(args[0], args[1], mem);
        break;
    case XEN_HC_vcpu_op:
        ret = xen_hc_vcpu_op(args[0], args[1], args[2], mem);
        break;
    default:
        ret = -ENOSYS;
        break;
    }
    xen_poll_callback_level();
    return ret;
}

static bool xen_phys_read(void *opaque, uint64_t gva, void *buf, uint64_t len)
{
    return guest_mem_read(gva, buf, len);
}

static bool xen_phys_write(void *opaque, uint64_t gva, const void *buf, uint64_t len)
{
    return guest_mem_write(gva, buf, len);
}

const XenGuestMem xen_guest_mem_phys = {xen_phys_read, xen_phys_write, NULL};

/* ---- set-up and reset ---- */

static void xen_store_kick(void *opaque)
{
    xenstore_ring_kick();
}

static void xen_store_notify(void *opaque)
{
    if (xen.store_port > 0) {
        xen_evtchn_notify_guest(xen.store_port);
    }
}

void xen_emu_reset(void)
{
    if (xen.level_asserted) {
        xen_callback_set_level(false);
    }
    xen_overlay_reset(&xen.shinfo);
    xen_kvm_set_shared_info(XEN_INVALID_GPA); /* KVM's "no page" for both */
    for (unsigned i = 0; i < XEN_MAX_VCPUS; i++) {
        xen.vcpu_info_gpa[i] = XEN_INVALID_GPA;
        if (i < xen_nr_vcpus()) {
            xen_kvm_set_vcpu_info(i, XEN_INVALID_GPA);
        }
    }
    xen.callback_param = 0;
    xen_kvm_set_callback_vector(0);
    xen_evtchn_reset();
    xen_gnttab_reset();
    memset(xen.special, 0, XEN_SPECIAL_AREA_SIZE);
    /* The toolstack's part: the xenstore channel and ring exist before the guest runs. */
    xen.store_port = xen_evtchn_alloc_internal(xen_store_kick, NULL);
    xenstore_reset(XEN_GUEST_DOMID);
    xenstore_attach_ring(xen.special + XEN_PAGE_SIZE, xen_store_notify, NULL);
}

static void xen_emu_reset_handler(void *opaque)
{
    xen_emu_reset();
}

void xen_emu_init(void)
{
    xen.special = mmap(NULL, XEN_SPECIAL_AREA_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert(xen.special != MAP_FAILED);
    guest_mem_add(XEN_SPECIAL_AREA_ADDR, XEN_SPECIAL_AREA_SIZE, xen.special, false, "xen-special");
    xen_emu_reset();
    machine_register_reset(xen_emu_reset_handler, NULL);
}
