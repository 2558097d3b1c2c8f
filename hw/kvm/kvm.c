/*
 * KVM virtual machine set-up: /dev/kvm, the VM fd, memory slots, the in-kernel irqchip and
 * PIT, and interrupt lines. The vCPUs are in vcpu.c. Not a device model.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include <glib.h>
#include "hw/kvm.h"
#include "hw/kvm-internal.h"
#include "hw/xen/xen.h"
#include "hw/xen/xen-kvm.h"
#include "hw/irq-internal.h"
#include "hw/memory-internal.h"
#include "util/error.h"

/* Addresses QEMU uses for Intel's real-mode TSS and identity map; the board reserves them. */
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ULL
#define KVM_TSS_ADDR          0xfeffd000ULL

KVMState kvm_state = { .kvm_fd = -1, .vm_fd = -1 };

static void kvm_set_memory_slot(unsigned slot, uint64_t gpa, uint64_t size, void *host,
                                bool readonly)
{
    struct kvm_userspace_memory_region r = {
        .slot = slot,
        .flags = readonly ? KVM_MEM_READONLY : 0,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uintptr_t)host,
    };

    if (ioctl(kvm_state.vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
        error_report("KVM_SET_USER_MEMORY_REGION slot %u at %#llx: %s", slot,
                     (unsigned long long)gpa, g_strerror(errno));
        abort();
    }
}

static void kvm_irq_line(unsigned gsi, bool level)
{
    struct kvm_irq_level irq = { .irq = gsi, .level = level };

    if (ioctl(kvm_state.vm_fd, KVM_IRQ_LINE, &irq) < 0) {
        error_report("KVM_IRQ_LINE %u: %s", gsi, g_strerror(errno));
    }
}

static int kvm_check_extension(int cap)
{
    int r = ioctl(kvm_state.vm_fd >= 0 ? kvm_state.vm_fd : kvm_state.kvm_fd,
                  KVM_CHECK_EXTENSION, cap);
    return r < 0 ? 0 : r;
}

static bool kvm_open(Error **errp)
{
    kvm_state.kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_state.kvm_fd < 0) {
        error_setg_errno(errp, errno, "Could not access KVM kernel module");
        return false;
    }
    if (ioctl(kvm_state.kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        error_setg(errp, "kvm version not supported");
        return false;
    }
    kvm_state.vm_fd = ioctl(kvm_state.kvm_fd, KVM_CREATE_VM, 0);
    if (kvm_state.vm_fd < 0) {
        error_setg_errno(errp, errno, "ioctl(KVM_CREATE_VM) failed");
        return false;
    }
    kvm_state.run_size = ioctl(kvm_state.kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (kvm_state.run_size <= 0) {
        error_setg_errno(errp, errno, "KVM_GET_VCPU_MMAP_SIZE failed");
        return false;
    }
    return true;
}

static bool kvm_need_cap(int cap, const char *name, Error **errp)
{
    if (!kvm_check_extension(cap)) {
        error_set(errp, ERROR_CLASS_KVM_MISSING_CAP, "kvm: host lacks %s", name);
        return false;
    }
    return true;
}

/*
 * Lost PIT ticks are dropped, not re-injected (QEMU's kvm-pit lost_tick_policy=discard; its
 * default is delay). Where KVM emulates real mode (see host-check.c) a tick's handler can
 * outlast the next tick: re-injection then keeps IRQ 0, the PIC's highest priority, pending
 * in every short interrupt window, and SeaBIOS's floppy driver never sees IRQ 6 before its
 * motor-off count (run by those same ticks) expires. Refused by old KVMs: harmless.
 */
static void kvm_pit_discard_lost_ticks(void)
{
    struct kvm_reinject_control rc = { .pit_reinject = 0 };

    ioctl(kvm_state.vm_fd, KVM_REINJECT_CONTROL, &rc);
}

static bool kvm_create_irqchip(Error **errp)
{
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

    /* Intel needs these two for real mode; hosts without VMX may refuse: harmless. */
    ioctl(kvm_state.vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR);
    {
        uint64_t ident = KVM_IDENTITY_MAP_ADDR;
        ioctl(kvm_state.vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident);
    }
    if (ioctl(kvm_state.vm_fd, KVM_CREATE_IRQCHIP) < 0) {
        error_setg_errno(errp, errno, "Could not create in-kernel irqchip");
        return false;
    }
    if (ioctl(kvm_state.vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
        error_setg_errno(errp, errno, "Could not create in-kernel PIT");
        return false;
    }
    kvm_pit_discard_lost_ticks();
    return true;
}

/* The power-on state of the irqchip and PIT, restored on every system reset. */
static void kvm_save_chip_state(void)
{
    for (int i = 0; i < 3; i++) {
        kvm_state.chips[i].chip_id = i;
        ioctl(kvm_state.vm_fd, KVM_GET_IRQCHIP, &kvm_state.chips[i]);
    }
    ioctl(kvm_state.vm_fd, KVM_GET_PIT2, &kvm_state.pit);
}

void kvm_reset_chips(void)
{
    for (int i = 0; i < 3; i++) {
        ioctl(kvm_state.vm_fd, KVM_SET_IRQCHIP, &kvm_state.chips[i]);
    }
    ioctl(kvm_state.vm_fd, KVM_SET_PIT2, &kvm_state.pit);
}

void kvm_set_power_on_elcr(uint16_t level_irqs)
{
    if (kvm_state.vm_fd < 0) {
        return;  /* no accelerator VM (qtest) */
    }
    kvm_state.chips[KVM_IRQCHIP_PIC_MASTER].chip.pic.elcr = level_irqs & 0xff;
    kvm_state.chips[KVM_IRQCHIP_PIC_SLAVE].chip.pic.elcr = level_irqs >> 8;
    for (int i = KVM_IRQCHIP_PIC_MASTER; i <= KVM_IRQCHIP_PIC_SLAVE; i++) {
        ioctl(kvm_state.vm_fd, KVM_SET_IRQCHIP, &kvm_state.chips[i]);
    }
}

static bool kvm_get_supported_cpuid(Error **errp)
{
    for (int n = 64; n <= 4096; n *= 2) {
        struct kvm_cpuid2 *c = g_malloc0(sizeof(*c) + n * sizeof(c->entries[0]));
        c->nent = n;
        if (ioctl(kvm_state.kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
            kvm_state.cpuid = c;
            return true;
        }
        g_free(c);
        if (errno != E2BIG) {
            break;
        }
    }
    error_setg_errno(errp, errno, "KVM_GET_SUPPORTED_CPUID failed");
    return false;
}

bool kvm_init(unsigned smp_cpus, Error **errp)
{
    if (!kvm_open(errp) ||
        !kvm_need_cap(KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", errp) ||
        !kvm_need_cap(KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", errp) ||
        !kvm_need_cap(KVM_CAP_READONLY_MEM, "KVM_CAP_READONLY_MEM", errp) ||
        !kvm_need_cap(KVM_CAP_PIT2, "KVM_CAP_PIT2", errp) ||
        !kvm_create_irqchip(errp) || !kvm_get_supported_cpuid(errp) ||
        (xen_enabled() && !xen_kvm_init(errp))) {
        return false;
    }
    if ((int)smp_cpus > kvm_check_extension(KVM_CAP_MAX_VCPUS) &&
        (int)smp_cpus > kvm_check_extension(KVM_CAP_NR_VCPUS)) {
        error_setg(errp, "Number of SMP cpus requested (%u) exceeds the recommended cpus "
                   "supported by KVM", smp_cpus);
        return false;
    }
    kvm_save_chip_state();
    guest_mem_set_listener(kvm_set_memory_slot);
    irq_set_backend(kvm_irq_line);
    return kvm_create_vcpus(smp_cpus, errp);
}
