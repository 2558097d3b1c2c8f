/*
 * Xen HVM guest emulation: minivmm plays the hypervisor and domain 0 for one guest
 * (domain XEN_GUEST_DOMID). The guest's hypercalls (KVM_EXIT_XEN, or the qtest command
 * "xen_hypercall") come to xen_hypercall(); the VMM keeps the guest's event channels, grant
 * table, shared_info and HVM parameters, and runs xenstore and the PV backends (xen-block)
 * in-process. Everything here runs under the BQL. Only what a PV block frontend needs is
 * emulated; see docs/xen.md for the list.
 */
#ifndef HW_XEN_XEN_H
#define HW_XEN_XEN_H

#include <stdbool.h>
#include <stdint.h>
#include "util/error.h"

#define XEN_GUEST_DOMID 1u
/* Reserved guest-physical pages the VMM owns (e820 reserved): console, xenstore ring. */
#define XEN_SPECIAL_AREA_ADDR 0xfeff8000ull
#define XEN_SPECIAL_AREA_SIZE 0x4000ull
#define XEN_SPECIAL_PFN_CONSOLE (XEN_SPECIAL_AREA_ADDR / 4096)
#define XEN_SPECIAL_PFN_XENSTORE (XEN_SPECIAL_AREA_ADDR / 4096 + 1)

/* -accel kvm,xen-version=0xMMMMmmmm: 0 (the default) leaves Xen emulation off. Set from the
 * command line before the accelerator starts. */
void xen_set_version(uint32_t version);
bool xen_enabled(void);
uint32_t xen_version(void);

/* Set up the special pages, the xenstore connection and the guest's first event channel
 * (the xenstore one). Called once by the machine when Xen emulation is on. */
void xen_emu_init(void);
/* The guest rebooted: forget its channels, grants, shared_info and parameters. */
void xen_emu_reset(void);

/*
 * How a hypercall reaches the guest's memory: guest virtual addresses under KVM (translated
 * through the vCPU's page tables), physical under qtest. False (nothing copied) on a fault.
 */
typedef struct XenGuestMem {
    bool (*read)(void *opaque, uint64_t gva, void *buf, uint64_t len);
    bool (*write)(void *opaque, uint64_t gva, const void *buf, uint64_t len);
    void *opaque;
} XenGuestMem;

/* Run hypercall nr with arguments args[6] for vCPU vcpu; returns the guest's rax (0 or a
 * negative Xen errno). */
int64_t xen_hypercall(unsigned vcpu, uint64_t nr, const uint64_t args[6], const XenGuestMem *mem);
/* The identity XenGuestMem (physical addresses): qtest and tests. */
extern const XenGuestMem xen_guest_mem_phys;

/* ---- event channels, for backends (domain 0's end of an interdomain channel) ---- */
typedef void XenEvtchnHandler(void *opaque);
/*
 * Bind domain 0's end to the guest's port guest_port, which the guest allocated with
 * EVTCHNOP_alloc_unbound for remote domain 0: the channel becomes interdomain and each
 * EVTCHNOP_send on it calls fn(opaque) (in the sending vCPU's thread, BQL held). -EINVAL if
 * the port is not such an unbound port.
 */
int xen_evtchn_bind_backend(uint32_t guest_port, XenEvtchnHandler *fn, void *opaque);
/* Undo the binding (the guest's port goes back to unbound). Nothing unless the port is
 * bound with this opaque: the guest may have closed it and reused the number since. */
void xen_evtchn_unbind_backend(uint32_t guest_port, void *opaque);
/* Raise the guest's port (pending bit, selector, upcall). -EINVAL if not bound by us. */
int xen_evtchn_notify_guest(uint32_t guest_port);

/* ---- grant table v1, for backends ---- */
/*
 * Map the page the guest granted with ref to domain 0: a host pointer to its 4096 bytes, or
 * NULL (and errp set) when ref is out of the table, not a permit-access entry for domain 0,
 * read-only while writable is asked, or names a frame outside guest RAM. While mapped the
 * entry carries GTF_reading (and GTF_writing), as under Xen; every map needs its unmap.
 */
void *xen_gnttab_map(uint32_t ref, bool writable, Error **errp);
void xen_gnttab_unmap(uint32_t ref, bool writable);

#endif
