/*
 * Hooks the KVM accelerator (hw/kvm/) calls when Xen emulation is on (hw/xen/xen-kvm.c).
 */
#ifndef HW_XEN_XEN_KVM_H
#define HW_XEN_XEN_KVM_H

#include <stdbool.h>
#include <linux/kvm.h>
#include "util/error.h"

/* After the VM exists: the capability probe and KVM_XEN_HVM_CONFIG. */
bool xen_kvm_init(Error **errp);
/* Replace KVM's paravirt CPUID leaves with Xen's; c has room for 5 more entries. */
void xen_kvm_cpuid(struct kvm_cpuid2 *c, unsigned vcpu_id);
#define XEN_KVM_CPUID_EXTRA 5u
/* KVM_EXIT_XEN from vCPU vcpu_id (BQL held). */
void xen_kvm_handle_exit(int vcpu_fd, unsigned vcpu_id, struct kvm_xen_exit *exit);
/* After every exit while Xen emulation is on: lower a level callback the guest acked. */
void xen_kvm_vcpu_exited(void);

#endif
