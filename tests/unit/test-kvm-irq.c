/*
 * hw/kvm/kvm-irq.c against the real /dev/kvm (skipped where there is none): a VM with an
 * in-kernel irqchip and one vCPU whose local APIC is software-enabled; an MSI injected with
 * KVM_SIGNAL_MSI, and one raised by writing an eventfd bound by KVM_IRQFD to an MSI route,
 * must show up in the APIC's IRR with the vector the message data names; re-routing changes
 * the vector; a released route no longer delivers; ioeventfd registration and its refusal
 * of a duplicate. Without a VM every helper fails cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include <glib.h>
#include "hw/kvm-internal.h"
#include "hw/kvm-irq.h"

#define APIC_SPIV 0xf0
#define APIC_IRR 0x200
#define APIC_SPIV_ENABLE 0x100
#define MSI_ADDR 0xfee00000ULL /* physical destination APIC ID 0 */

static int vcpu_fd = -1;

/* The VM, made on first use (after the no-VM test); false (test skipped) without KVM. */
static bool need_vm(void)
{
    struct kvm_lapic_state lapic;
    int kvm;

    if (vcpu_fd >= 0) {
        return true;
    }
    kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        g_test_skip("no /dev/kvm");
        return false;
    }
    kvm_state.kvm_fd = kvm;
    kvm_state.vm_fd = ioctl(kvm, KVM_CREATE_VM, 0);
    g_assert_cmpint(kvm_state.vm_fd, >=, 0);
    g_assert_cmpint(ioctl(kvm_state.vm_fd, KVM_CREATE_IRQCHIP), ==, 0);
    vcpu_fd = ioctl(kvm_state.vm_fd, KVM_CREATE_VCPU, 0UL);
    g_assert_cmpint(vcpu_fd, >=, 0);
    g_assert_cmpint(ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic), ==, 0);
    *(uint32_t *)(lapic.regs + APIC_SPIV) |= APIC_SPIV_ENABLE;
    g_assert_cmpint(ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic), ==, 0);
    return true;
}

/* Whether vector is pending in the IRR; waits a little, irqfd injection may be deferred. */
static bool irr_has(unsigned vector)
{
    struct kvm_lapic_state lapic;

    for (int i = 0; i < 100; i++) {
        uint32_t word;
        g_assert_cmpint(ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic), ==, 0);
        memcpy(&word, lapic.regs + APIC_IRR + (vector / 32) * 16, 4);
        if (word & (1u << (vector % 32))) {
            return true;
        }
        g_usleep(1000);
    }
    return false;
}

static void test_without_vm(void)
{
    g_assert_false(kvm_enabled());
    g_assert_false(kvm_irqchip_send_msi(MSI_ADDR, 0x30));
    g_assert_cmpint(kvm_irqchip_add_msi_route(MSI_ADDR, 0x30), ==, -ENOSYS);
    g_assert_cmpint(kvm_irqfd(0, 24, true), ==, -ENOSYS);
    g_assert_cmpint(kvm_ioeventfd(0, true, 0xc010, 2, true, 0, true), ==, -ENOSYS);
    g_assert_cmpint(kvm_irqchip_update_msi_route(24, MSI_ADDR, 0x30), ==, -EINVAL);
}

static void test_signal_msi(void)
{
    if (!need_vm()) {
        return;
    }
    g_assert_false(irr_has(0x31));
    g_assert_true(kvm_irqchip_send_msi(MSI_ADDR, 0x31));
    g_assert_true(irr_has(0x31));
}

static void test_irqfd_route(void)
{
    uint64_t one = 1;
    int fd, gsi, gsi2;

    if (!need_vm()) {
        return;
    }
    fd = eventfd(0, EFD_CLOEXEC);
    gsi = kvm_irqchip_add_msi_route(MSI_ADDR, 0x40);
    g_assert_cmpint(gsi, >=, 24);
    g_assert_cmpint(kvm_irqfd(fd, gsi, true), ==, 0);
    g_assert_false(irr_has(0x40));
    g_assert_cmpint(write(fd, &one, sizeof(one)), ==, sizeof(one));
    g_assert_true(irr_has(0x40));
    /* Re-routed: the same eventfd now raises another vector. */
    g_assert_cmpint(kvm_irqchip_update_msi_route(gsi, MSI_ADDR, 0x42), ==, 0);
    g_assert_cmpint(write(fd, &one, sizeof(one)), ==, sizeof(one));
    g_assert_true(irr_has(0x42));
    /* A second route gets its own GSI. */
    gsi2 = kvm_irqchip_add_msi_route(MSI_ADDR, 0x50);
    g_assert_cmpint(gsi2, >, gsi);
    g_assert_cmpint(kvm_irqfd(fd, gsi, false), ==, 0);
    kvm_irqchip_release_route(gsi);
    kvm_irqchip_release_route(gsi2);
    g_assert_cmpint(kvm_irqchip_update_msi_route(gsi, MSI_ADDR, 0x42), ==, -EINVAL);
    close(fd);
}

static void test_ioeventfd(void)
{
    int fd;

    if (!need_vm()) {
        return;
    }
    fd = eventfd(0, EFD_CLOEXEC);
    g_assert_cmpint(kvm_ioeventfd(fd, true, 0xc010, 2, true, 0, true), ==, 0);
    g_assert_cmpint(kvm_ioeventfd(fd, true, 0xc010, 2, true, 0, true), ==, -EEXIST);
    g_assert_cmpint(kvm_ioeventfd(fd, false, 0xe0003000ULL, 0, false, 0, true), ==, 0);
    g_assert_cmpint(kvm_ioeventfd(fd, false, 0xe0003000ULL, 0, false, 0, false), ==, 0);
    g_assert_cmpint(kvm_ioeventfd(fd, true, 0xc010, 2, true, 0, false), ==, 0);
    close(fd);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kvm-irq/without-vm", test_without_vm);
    g_test_add_func("/kvm-irq/signal-msi", test_signal_msi);
    g_test_add_func("/kvm-irq/irqfd-route", test_irqfd_route);
    g_test_add_func("/kvm-irq/ioeventfd", test_ioeventfd);
    return g_test_run();
}
