/*
 * What the pieces of the Xen emulation (xen-emu.c: hypercall dispatch and HVM state,
 * xen-evtchn.c, xen-gnttab.c, xen-kvm.c) share among themselves; backends use
 * include/hw/xen/xen.h only.
 */
#ifndef HW_XEN_XEN_EMU_INT_H
#define HW_XEN_XEN_EMU_INT_H

#include <stdbool.h>
#include <stdint.h>
#include "hw/xen/xen.h"

#define XEN_MAX_VCPUS XEN_LEGACY_MAX_VCPUS
#define XEN_GNTTAB_MAX_FRAMES 64u

#define XEN_INVALID_GPA UINT64_MAX

/* A page Xen owns that the guest places (xen-overlay.c): shared_info, grant frames. */
typedef struct XenOverlay {
    uint64_t gpa;   /* XEN_INVALID_GPA until placed */
    uint8_t *page;  /* the VMM's own page, for places outside guest RAM */
    unsigned block; /* its RAM block, once has_block */
    bool has_block;
    bool own_mapped; /* placed outside RAM: page is mapped at gpa */
} XenOverlay;
#define XEN_OVERLAY_INIT                                                                           \
    {                                                                                              \
        .gpa = XEN_INVALID_GPA                                                                     \
    }

/* Place o at gpfn (contents move along): 0, or -EINVAL where no page can go. */
int xen_overlay_place(XenOverlay *o, uint64_t gpfn, const char *name);
/* Its 4096 bytes, NULL until placed. */
uint8_t *xen_overlay_ptr(const XenOverlay *o);
/* Unplaced again (guest reboot). */
void xen_overlay_reset(XenOverlay *o);

/* shared_info (NULL until the guest placed it) and vCPU n's vcpu_info. */
uint8_t *xen_shared_info(void);
uint8_t *xen_vcpu_info(unsigned vcpu);

/* Raise the upcall of vCPU 0 (its evtchn_upcall_pending was just set): the callback the
 * guest chose with HVM_PARAM_CALLBACK_IRQ. */
void xen_raise_upcall(void);
/* Lower a GSI callback once the guest has cleared upcall_pending (after each hypercall and
 * vCPU exit). */
void xen_poll_callback_level(void);

/* Event channels. */
void xen_evtchn_reset(void);
int64_t xen_evtchn_op(unsigned cmd, uint64_t arg, const XenGuestMem *mem);
/* Bind the guest's port as an interdomain channel whose other end is the VMM itself
 * (xenstore): returns the port, or a negative errno. */
int xen_evtchn_alloc_internal(XenEvtchnHandler *fn, void *opaque);

/* Grant table. */
void xen_gnttab_reset(void);
int64_t xen_gnttab_op(unsigned cmd, uint64_t arg, uint64_t count, const XenGuestMem *mem);
int xen_gnttab_map_frame(uint64_t idx, uint64_t gpfn);

/* KVM glue (xen-kvm.c): tell the kernel where shared_info / a vcpu_info live, and inject. */
void xen_kvm_set_shared_info(uint64_t gpfn);
void xen_kvm_set_vcpu_info(unsigned vcpu, uint64_t gpa);
void xen_kvm_set_callback_vector(uint8_t vector);
void xen_kvm_kick_vcpu0(void);

/* Copy helpers for hypercall arguments. */
static inline bool xen_arg_read(const XenGuestMem *mem, uint64_t gva, void *buf, uint64_t len)
{
    return mem->read(mem->opaque, gva, buf, len);
}
static inline bool xen_arg_write(const XenGuestMem *mem, uint64_t gva, const void *buf,
                                 uint64_t len)
{
    return mem->write(mem->opaque, gva, buf, len);
}

#endif
