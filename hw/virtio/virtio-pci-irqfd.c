/*
 * MSI-X vectors of a virtio PCI function as KVM irqfds: while a vector is unmasked and its
 * message targets the local APIC, it has an MSI route in KVM's GSI table and an eventfd bound
 * to it, so a notification is one eventfd write (from any thread) instead of an ioctl under
 * the machine lock. The MSI-X core tells us when a vector's message or mask changes; a masked
 * vector falls back to msix_notify(), which keeps the pending bit. Messages to anything but
 * the APIC (DMA writes into RAM, as QEMU's qtest library uses) never take this path.
 * Not used without KVM.
 */
#include <unistd.h>
#include <sys/eventfd.h>
#include <glib.h>
#include "hw/kvm-irq.h"
#include "hw/msix.h"
#include "hw/virtio-pci.h"

static bool irqfd_wanted(MSIMessage msg, bool masked)
{
    return !masked && msg.address >= MSIX_APIC_WINDOW &&
           msg.address < MSIX_APIC_WINDOW + MSIX_APIC_WINDOW_SIZE;
}

static void irqfd_deactivate(VirtIOPCIIrqfd *q)
{
    if (q->active) {
        kvm_irqfd(q->fd, q->gsi, false);
        q->active = false;
    }
}

/* Route (or re-route) the vector and bind its eventfd; on any failure it stays inactive. */
static void irqfd_activate(VirtIOPCIIrqfd *q, MSIMessage msg)
{
    if (q->gsi < 0) {
        q->gsi = kvm_irqchip_add_msi_route(msg.address, msg.data);
    } else if (kvm_irqchip_update_msi_route(q->gsi, msg.address, msg.data) < 0) {
        irqfd_deactivate(q);
        return;
    }
    if (q->gsi < 0) {
        return;
    }
    if (q->fd < 0) {
        q->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    if (q->fd >= 0 && !q->active) {
        q->active = kvm_irqfd(q->fd, q->gsi, true) == 0;
    }
}

static void virtio_pci_vector_changed(PCIDevice *dev, unsigned vector, MSIMessage msg, bool masked)
{
    VirtIOPCIProxy *proxy = dev->opaque;
    VirtIOPCIIrqfd *q;

    if (vector >= proxy->nvectors) {
        return;
    }
    q = &proxy->irqfds[vector];
    virtio_device_lock(proxy->vdev); /* I/O threads write the fds */
    if (irqfd_wanted(msg, masked)) {
        irqfd_activate(q, msg);
    } else {
        irqfd_deactivate(q);
    }
    virtio_device_unlock(proxy->vdev);
}

void virtio_pci_irqfd_init(VirtIOPCIProxy *proxy)
{
    if (!kvm_enabled() || !proxy->nvectors) {
        return;
    }
    proxy->irqfds = g_new0(VirtIOPCIIrqfd, proxy->nvectors);
    for (unsigned v = 0; v < proxy->nvectors; v++) {
        proxy->irqfds[v].fd = -1;
        proxy->irqfds[v].gsi = -1;
    }
    msix_set_vector_notifier(proxy->pci, virtio_pci_vector_changed);
}

bool virtio_pci_irqfd_notify(VirtIOPCIProxy *proxy, uint16_t vector)
{
    uint64_t one = 1;

    if (!proxy->irqfds || vector >= proxy->nvectors || !proxy->irqfds[vector].active) {
        return false;
    }
    return write(proxy->irqfds[vector].fd, &one, sizeof(one)) == sizeof(one);
}
