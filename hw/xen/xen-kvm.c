/*
 * The KVM side of the Xen emulation: the capability probe and KVM_XEN_HVM_CONFIG (KVM
 * writes the hypercall page when the guest writes MSR 0x40000000 and exits to us with
 * KVM_EXIT_XEN for each hypercall), Xen's CPUID leaves in place of KVM's, hypercall exits
 * (guest virtual addresses translated with KVM_TRANSLATE), and telling KVM where
 * shared_info, the vcpu_infos and the upcall vector are so it can inject the upcall. Not
 * used under qtest, where these calls do nothing.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <glib.h>
#include "hw/kvm-internal.h"
#include "hw/memory.h"
#include "hw/xen/xen-abi.h"
#include "hw/xen/xen-kvm.h"
#include "xen-emu-int.h"

#define XEN_HYPERCALL_MSR 0x40000000u
#define XEN_CPUID_BASE 0x40000000u
#define XEN_CPUID_LEAVES XEN_KVM_CPUID_EXTRA

static bool xen_kvm_active;

bool xen_kvm_init(Error **errp)
{
    const int need = KVM_XEN_HVM_CONFIG_HYPERCALL_MSR | KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL |
                     KVM_XEN_HVM_CONFIG_SHARED_INFO;
    struct kvm_xen_hvm_config cfg = {
        .flags = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL,
        .msr = XEN_HYPERCALL_MSR,
    };
    int caps = ioctl(kvm_state.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XEN_HVM);

    if (caps < 0 || (need & ~caps)) {
        error_setg(errp, "kvm: Xen HVM guest support not present or insufficient");
        return false;
    }
    if (ioctl(kvm_state.vm_fd, KVM_XEN_HVM_CONFIG, &cfg) < 0) {
        error_setg(errp, "kvm: Failed to enable Xen HVM support: %s", g_strerror(errno));
        return false;
    }
    xen_kvm_active = true;
    return true;
}

static void xen_kvm_set_attr(uint16_t type, uint64_t value)
{
    struct kvm_xen_hvm_attr a = {.type = type};

    if (type == KVM_XEN_ATTR_TYPE_UPCALL_VECTOR) {
        a.u.vector = (uint8_t)value;
    } else {
        a.u.shared_info.gfn = value;
    }
    if (xen_kvm_active && ioctl(kvm_state.vm_fd, KVM_XEN_HVM_SET_ATTR, &a) < 0) {
        error_report("KVM_XEN_HVM_SET_ATTR %u: %s", type, g_strerror(errno));
    }
}

void xen_kvm_set_shared_info(uint64_t gpfn)
{
    xen_kvm_set_attr(KVM_XEN_ATTR_TYPE_SHARED_INFO, gpfn);
}

void xen_kvm_set_callback_vector(uint8_t vector)
{
    xen_kvm_set_attr(KVM_XEN_ATTR_TYPE_UPCALL_VECTOR, vector);
}

void xen_kvm_set_vcpu_info(unsigned vcpu, uint64_t gpa)
{
    struct kvm_xen_vcpu_attr a = {.type = KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO, .u.gpa = gpa};
    int fd = xen_kvm_active ? kvm_vcpu_fd(vcpu) : -1;

    if (fd >= 0 && ioctl(fd, KVM_XEN_VCPU_SET_ATTR, &a) < 0) {
        error_report("KVM_XEN_VCPU_SET_ATTR: %s", g_strerror(errno));
    }
}

void xen_kvm_kick_vcpu0(void)
{
    if (xen_kvm_active) {
        kvm_vcpu_kick(0);
    }
}

/* Xen's leaves: signature, version, hypercall page MSR, (no) time leaf, HVM leaf with
 * the vCPU id. c has room for XEN_CPUID_LEAVES more entries than it holds. */
void xen_kvm_cpuid(struct kvm_cpuid2 *c, unsigned vcpu_id)
{
    const struct kvm_cpuid_entry2 leaves[XEN_CPUID_LEAVES] = {
        {.function = XEN_CPUID_BASE,
         .eax = XEN_CPUID_BASE + XEN_CPUID_LEAVES - 1,
         .ebx = 0x566e6558,
         .ecx = 0x65584d4d,
         .edx = 0x4d4d566e}, /* "XenVMMXenVMM" */
        {.function = XEN_CPUID_BASE + 1, .eax = xen_version()},
        {.function = XEN_CPUID_BASE + 2, .eax = 1, .ebx = XEN_HYPERCALL_MSR},
        {.function = XEN_CPUID_BASE + 3},
        {.function = XEN_CPUID_BASE + 4, .eax = 1u << 3, .ebx = vcpu_id}, /* vCPU id valid */
    };
    unsigned n = 0;

    /* Drop KVM's own paravirt leaves: a Xen guest must not see both. */
    for (unsigned i = 0; i < c->nent; i++) {
        if ((c->entries[i].function & 0xffffff00) != XEN_CPUID_BASE) {
            c->entries[n++] = c->entries[i];
        }
    }
    memcpy(&c->entries[n], leaves, sizeof(leaves));
    c->nent = n + XEN_CPUID_LEAVES;
}

typedef struct XenKvmMem {
    int vcpu_fd;
} XenKvmMem;

/* Copy page by page through the vCPU's page tables. */
static bool xen_kvm_copy(void *opaque, uint64_t gva, void *buf, uint64_t len, bool write)
{
    XenKvmMem *m = opaque;

    while (len) {
        struct kvm_translation tr = {.linear_address = gva};
        uint64_t chunk = MIN(len, XEN_PAGE_SIZE - (gva & (XEN_PAGE_SIZE - 1)));
        bool ok;

        if (ioctl(m->vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid || (write && !tr.writeable)) {
            return false;
        }
        ok = write ? guest_mem_write(tr.physical_address, buf, chunk)
                   : guest_mem_read(tr.physical_address, buf, chunk);
        if (!ok) {
            return false;
        }
        gva += chunk;
        buf = (uint8_t *)buf + chunk;
        len -= chunk;
    }
    return true;
}

static bool xen_kvm_read(void *opaque, uint64_t gva, void *buf, uint64_t len)
{
    return xen_kvm_copy(opaque, gva, buf, len, false);
}

static bool xen_kvm_write(void *opaque, uint64_t gva, const void *buf, uint64_t len)
{
    return xen_kvm_copy(opaque, gva, (void *)buf, len, true);
}

void xen_kvm_handle_exit(int vcpu_fd, unsigned vcpu_id, struct kvm_xen_exit *exit)
{
    XenKvmMem m = {vcpu_fd};
    const XenGuestMem mem = {xen_kvm_read, xen_kvm_write, &m};

    if (exit->type != KVM_EXIT_XEN_HCALL) {
        return;
    }
    if (!exit->u.hcall.longmode) {
        exit->u.hcall.result = (uint64_t)-ENOSYS; /* 32-bit guests: not emulated */
    } else if (exit->u.hcall.cpl != 0) {
        exit->u.hcall.result = (uint64_t)-EPERM;
    } else {
        uint64_t args[6];
        memcpy(args, exit->u.hcall.params, sizeof(args));
        exit->u.hcall.result = (uint64_t)xen_hypercall(vcpu_id, exit->u.hcall.input, args, &mem);
    }
}

void xen_kvm_vcpu_exited(void)
{
    xen_poll_callback_level();
}
