/*
 * Xen event channels, 2-level ABI, for the one guest: the port table, the guest's
 * EVTCHNOP_* calls and delivery into shared_info (pending bit, selector bit, upcall). The
 * only other domain is the VMM (domain 0): a backend binds to a port the guest allocated
 * for it, and xenstore owns the channel the toolstack would have set up. No VIRQs, IPIs,
 * PIRQs or FIFO ABI: those calls answer -ENOSYS.
 */
#include <errno.h>
#include <string.h>
#include "hw/xen/xen-abi.h"
#include "xen-emu-int.h"

typedef struct XenPort {
    uint8_t state;        /* EVTCHNSTAT_* */
    uint16_t remote_dom;  /* unbound: who may bind; interdomain: always 0 */
    XenEvtchnHandler *fn; /* the VMM's end of an interdomain channel */
    void *opaque;
} XenPort;

static XenPort ports[XEN_EVTCHN_2L_NR_PORTS];

void xen_evtchn_reset(void)
{
    memset(ports, 0, sizeof(ports));
}

static XenPort *evtchn_port(uint32_t port)
{
    /* Port 0 is never a channel in Xen. */
    return port && port < XEN_EVTCHN_2L_NR_PORTS ? &ports[port] : NULL;
}

static uint64_t *shinfo_word(unsigned offset, uint32_t port)
{
    uint8_t *si = xen_shared_info();

    return si ? (uint64_t *)(si + offset) + port / 64 : NULL;
}

static void evtchn_clear_pending(uint32_t port)
{
    uint64_t *w = shinfo_word(XEN_SHINFO_EVTCHN_PENDING, port);

    if (w) {
        __atomic_fetch_and(w, ~(1ull << (port % 64)), __ATOMIC_SEQ_CST);
    }
}

/* The selector and upcall half of delivery, for a port whose pending bit is set. */
static void evtchn_upcall(uint32_t port)
{
    uint8_t *vi = xen_vcpu_info(0);
    uint64_t *mask = shinfo_word(XEN_SHINFO_EVTCHN_MASK, port);
    uint64_t bit = 1ull << (port / 64);

    if (!vi || !mask || (__atomic_load_n(mask, __ATOMIC_SEQ_CST) & (1ull << (port % 64)))) {
        return;
    }
    if (__atomic_fetch_or((uint64_t *)(vi + XEN_VCPU_INFO_PENDING_SEL), bit, __ATOMIC_SEQ_CST) &
        bit) {
        return;
    }
    if (!__atomic_exchange_n(vi + XEN_VCPU_INFO_UPCALL_PENDING, 1, __ATOMIC_SEQ_CST)) {
        xen_raise_upcall();
    }
}

static void evtchn_set_pending(uint32_t port)
{
    uint64_t *w = shinfo_word(XEN_SHINFO_EVTCHN_PENDING, port);
    uint64_t bit = 1ull << (port % 64);

    /* No shared_info yet: the guest cannot see an event anyway (as before Xen's is mapped). */
    if (w && !(__atomic_fetch_or(w, bit, __ATOMIC_SEQ_CST) & bit)) {
        evtchn_upcall(port);
    }
}

static int evtchn_alloc(void)
{
    for (uint32_t p = 1; p < XEN_EVTCHN_2L_NR_PORTS; p++) {
        if (ports[p].state == EVTCHNSTAT_closed) {
            memset(&ports[p], 0, sizeof(ports[p]));
            evtchn_clear_pending(p);
            return p;
        }
    }
    return -ENOSPC;
}

int xen_evtchn_alloc_internal(XenEvtchnHandler *fn, void *opaque)
{
    int p = evtchn_alloc();

    if (p > 0) {
        ports[p] = (XenPort){.state = EVTCHNSTAT_interdomain, .fn = fn, .opaque = opaque};
    }
    return p;
}

int xen_evtchn_bind_backend(uint32_t guest_port, XenEvtchnHandler *fn, void *opaque)
{
    XenPort *p = evtchn_port(guest_port);

    if (!p || p->state != EVTCHNSTAT_unbound || p->remote_dom != 0) {
        return -EINVAL;
    }
    *p = (XenPort){.state = EVTCHNSTAT_interdomain, .fn = fn, .opaque = opaque};
    return 0;
}

void xen_evtchn_unbind_backend(uint32_t guest_port, void *opaque)
{
    XenPort *p = evtchn_port(guest_port);

    if (p && p->state == EVTCHNSTAT_interdomain && p->opaque == opaque) {
        *p = (XenPort){.state = EVTCHNSTAT_unbound, .remote_dom = 0};
    }
}

int xen_evtchn_notify_guest(uint32_t guest_port)
{
    XenPort *p = evtchn_port(guest_port);

    if (!p || p->state != EVTCHNSTAT_interdomain) {
        return -EINVAL;
    }
    evtchn_set_pending(guest_port);
    return 0;
}

/* ---- the guest's calls ---- */

static bool evtchn_dom_is_self(uint16_t dom)
{
    return dom == XEN_DOMID_SELF || dom == XEN_GUEST_DOMID;
}

static int evtchn_op_alloc_unbound(uint64_t arg, const XenGuestMem *mem)
{
    struct {
        uint16_t dom, remote_dom;
        uint32_t port;
    } a;
    int p;

    if (!xen_arg_read(mem, arg, &a, sizeof(a))) {
        return -EFAULT;
    }
    if (!evtchn_dom_is_self(a.dom)) {
        return -EPERM;
    }
    /* Only the VMM's domain can be the other end: no loopback channels. */
    if (a.remote_dom != 0) {
        return evtchn_dom_is_self(a.remote_dom) ? -EINVAL : -ESRCH;
    }
    p = evtchn_alloc();
    if (p < 0) {
        return p;
    }
    ports[p] = (XenPort){.state = EVTCHNSTAT_unbound, .remote_dom = 0};
    a.port = p;
    if (!xen_arg_write(mem, arg, &a, sizeof(a))) {
        ports[p].state = EVTCHNSTAT_closed;
        return -EFAULT;
    }
    return 0;
}

static int evtchn_read_port(uint64_t arg, const XenGuestMem *mem, uint32_t *port)
{
    if (!xen_arg_read(mem, arg, port, sizeof(*port))) {
        return -EFAULT;
    }
    return evtchn_port(*port) ? 0 : -EINVAL;
}

static int evtchn_op_close(uint64_t arg, const XenGuestMem *mem)
{
    uint32_t port;
    int ret = evtchn_read_port(arg, mem, &port);

    if (ret) {
        return ret;
    }
    if (ports[port].state == EVTCHNSTAT_closed) {
        return -EINVAL;
    }
    /* A backend still bound finds its channel gone: its next notify fails. */
    memset(&ports[port], 0, sizeof(ports[port]));
    return 0;
}

static int evtchn_op_send(uint64_t arg, const XenGuestMem *mem)
{
    uint32_t port;
    int ret = evtchn_read_port(arg, mem, &port);

    if (ret) {
        return ret;
    }
    switch (ports[port].state) {
    case EVTCHNSTAT_unbound:
        return 0; /* nobody listens yet: dropped, as Xen does */
    case EVTCHNSTAT_interdomain:
        if (ports[port].fn) {
            ports[port].fn(ports[port].opaque);
        }
        return 0;
    default:
        return -EINVAL;
    }
}

static int evtchn_op_status(uint64_t arg, const XenGuestMem *mem)
{
    struct {
        uint16_t dom;
        uint16_t pad;
        uint32_t port, status, vcpu;
        uint16_t remote_dom;
        uint16_t pad2;
        uint32_t remote_port;
    } a;
    XenPort *p;

    if (!xen_arg_read(mem, arg, &a, sizeof(a))) {
        return -EFAULT;
    }
    if (!evtchn_dom_is_self(a.dom)) {
        return -EPERM;
    }
    p = evtchn_port(a.port);
    if (!p) {
        return -EINVAL;
    }
    a.status = p->state;
    a.vcpu = 0;
    a.remote_dom = p->remote_dom;
    /* The VMM's end has no port number of its own: it answers with the guest's. */
    a.remote_port = p->state == EVTCHNSTAT_interdomain ? a.port : 0;
    return xen_arg_write(mem, arg, &a, sizeof(a)) ? 0 : -EFAULT;
}

static int evtchn_op_unmask(uint64_t arg, const XenGuestMem *mem)
{
    uint32_t port;
    int ret = evtchn_read_port(arg, mem, &port);
    uint64_t *mask = shinfo_word(XEN_SHINFO_EVTCHN_MASK, port);
    uint64_t *pending = shinfo_word(XEN_SHINFO_EVTCHN_PENDING, port);
    uint64_t bit = 1ull << (port % 64);

    if (ret) {
        return ret;
    }
    if (mask && (__atomic_fetch_and(mask, ~bit, __ATOMIC_SEQ_CST) & bit) &&
        (__atomic_load_n(pending, __ATOMIC_SEQ_CST) & bit)) {
        evtchn_upcall(port);
    }
    return 0;
}

int64_t xen_evtchn_op(unsigned cmd, uint64_t arg, const XenGuestMem *mem)
{
    switch (cmd) {
    case EVTCHNOP_alloc_unbound:
        return evtchn_op_alloc_unbound(arg, mem);
    case EVTCHNOP_close:
        return evtchn_op_close(arg, mem);
    case EVTCHNOP_send:
        return evtchn_op_send(arg, mem);
    case EVTCHNOP_status:
        return evtchn_op_status(arg, mem);
    case EVTCHNOP_unmask:
        return evtchn_op_unmask(arg, mem);
    case EVTCHNOP_bind_interdomain:
        return -EINVAL; /* the VMM offers no unbound ports of its own */
    default:
        return -ENOSYS;
    }
}
