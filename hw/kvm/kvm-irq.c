/*
 * KVM interrupt helpers: MSI injection, the GSI routing table with MSI routes and irqfds,
 * and ioeventfds. KVM_SET_GSI_ROUTING replaces the whole table, so this file keeps the
 * default routes KVM starts with (GSI 0-15 to PIC and IOAPIC pin n, 16-23 to the IOAPIC)
 * and appends the MSI routes devices add. Not the irqchip itself (kvm.c).
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include <glib.h>
#include "hw/irq.h"
#include "hw/kvm-irq.h"
#include "hw/kvm-internal.h"

#define KVM_MSI_GSI_BASE IRQ_NUM_GSI
#define KVM_MSI_GSI_MAX 1024

static struct kvm_irq_routing_entry *msi_routes[KVM_MSI_GSI_MAX];

bool kvm_enabled(void)
{
    return kvm_state.vm_fd >= 0;
}

bool kvm_irqchip_send_msi(uint64_t address, uint32_t data)
{
    struct kvm_msi msi = {
        .address_lo = (uint32_t)address,
        .address_hi = address >> 32,
        .data = data,
    };

    return kvm_enabled() && ioctl(kvm_state.vm_fd, KVM_SIGNAL_MSI, &msi) >= 0;
}

static void kvm_route_irqchip(struct kvm_irq_routing_entry *e, unsigned gsi, unsigned chip,
                              unsigned pin)
{
    *e = (struct kvm_irq_routing_entry){
        .gsi = gsi,
        .type = KVM_IRQ_ROUTING_IRQCHIP,
        .u.irqchip = {.irqchip = chip, .pin = pin},
    };
}

/* The default table (as KVM builds it at KVM_CREATE_IRQCHIP) plus every MSI route. */
static int kvm_commit_routes(void)
{
    unsigned max = 16 * 2 + (IRQ_NUM_GSI - 16) + KVM_MSI_GSI_MAX, n = 0;
    g_autofree struct kvm_irq_routing *r =
        g_malloc0(sizeof(*r) + max * sizeof(struct kvm_irq_routing_entry));

    for (unsigned gsi = 0; gsi < IRQ_NUM_GSI; gsi++) {
        if (gsi < 16) {
            kvm_route_irqchip(&r->entries[n++], gsi,
                              gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi % 8);
        }
        kvm_route_irqchip(&r->entries[n++], gsi, KVM_IRQCHIP_IOAPIC, gsi);
    }
    for (unsigned i = 0; i < KVM_MSI_GSI_MAX; i++) {
        if (msi_routes[i]) {
            r->entries[n++] = *msi_routes[i];
        }
    }
    r->nr = n;
    return ioctl(kvm_state.vm_fd, KVM_SET_GSI_ROUTING, r) < 0 ? -errno : 0;
}

static void kvm_msi_entry(struct kvm_irq_routing_entry *e, int gsi, uint64_t address, uint32_t data)
{
    *e = (struct kvm_irq_routing_entry){
        .gsi = gsi,
        .type = KVM_IRQ_ROUTING_MSI,
        .u.msi = {.address_lo = (uint32_t)address, .address_hi = address >> 32, .data = data},
    };
}

int kvm_irqchip_add_msi_route(uint64_t address, uint32_t data)
{
    int ret;

    if (!kvm_enabled()) {
        return -ENOSYS;
    }
    for (unsigned i = 0; i < KVM_MSI_GSI_MAX; i++) {
        if (!msi_routes[i]) {
            msi_routes[i] = g_new(struct kvm_irq_routing_entry, 1);
            kvm_msi_entry(msi_routes[i], KVM_MSI_GSI_BASE + i, address, data);
            ret = kvm_commit_routes();
            if (ret < 0) {
                g_clear_pointer(&msi_routes[i], g_free);
                return ret;
            }
            return KVM_MSI_GSI_BASE + i;
        }
    }
    return -ENOSPC;
}

static struct kvm_irq_routing_entry **kvm_route_slot(int gsi)
{
    unsigned i = gsi - KVM_MSI_GSI_BASE;

    return gsi >= KVM_MSI_GSI_BASE && i < KVM_MSI_GSI_MAX && msi_routes[i] ? &msi_routes[i] : NULL;
}

int kvm_irqchip_update_msi_route(int gsi, uint64_t address, uint32_t data)
{
    struct kvm_irq_routing_entry **slot = kvm_route_slot(gsi);

    if (!slot) {
        return -EINVAL;
    }
    kvm_msi_entry(*slot, gsi, address, data);
    return kvm_commit_routes();
}

void kvm_irqchip_release_route(int gsi)
{
    struct kvm_irq_routing_entry **slot = kvm_route_slot(gsi);

    if (slot) {
        g_clear_pointer(slot, g_free);
        kvm_commit_routes();
    }
}

int kvm_irqfd(int fd, int gsi, bool assign)
{
    struct kvm_irqfd irqfd = {
        .fd = fd,
        .gsi = gsi,
        .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
    };

    if (!kvm_enabled()) {
        return -ENOSYS;
    }
    return ioctl(kvm_state.vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int kvm_ioeventfd(int fd, bool pio, uint64_t addr, unsigned len, bool datamatch, uint64_t data,
                  bool assign)
{
    struct kvm_ioeventfd ioe = {
        .datamatch = data,
        .addr = addr,
        .len = len,
        .fd = fd,
        .flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
                 (datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
                 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
    };

    if (!kvm_enabled()) {
        return -ENOSYS;
    }
    return ioctl(kvm_state.vm_fd, KVM_IOEVENTFD, &ioe) < 0 ? -errno : 0;
}
