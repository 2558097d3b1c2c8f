/*
 * The virtio PCI transport: a virtio device as a PCI function, legacy (I/O BAR0, the 0.9.5
 * register block), modern (virtio 1.0 vendor capabilities pointing into a 64-bit memory
 * BAR4: common, ISR, device and notify structures, plus the PCI-configuration access
 * window), or both (transitional, QEMU's default on a pc machine). MSI-X in BAR1 with INTx
 * as the fallback, and on KVM an ioeventfd per queue doorbell. Layout, IDs and register
 * behaviour as QEMU 7.2's virtio-pci. Not a device (virtio-blk.c is one).
 */
#ifndef HW_VIRTIO_PCI_H
#define HW_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/pci.h"
#include "hw/virtio.h"

#define PCI_VENDOR_ID_REDHAT_QUMRANET 0x1af4
#define VIRTIO_PCI_LEGACY_DEVICE_ID(id) (0x1000 + (id)-1) /* blk: 0x1001 */
#define VIRTIO_PCI_MODERN_DEVICE_ID(id) (0x1040 + (id))   /* blk: 0x1042 */
#define VIRTIO_PCI_MSIX_BAR 1
#define VIRTIO_PCI_MODERN_BAR 4
#define VIRTIO_PCI_MODERN_BAR_SIZE 0x4000
#define VIRTIO_PCI_COMMON_OFFSET 0x0000
#define VIRTIO_PCI_ISR_OFFSET 0x1000
#define VIRTIO_PCI_DEVICE_OFFSET 0x2000
#define VIRTIO_PCI_NOTIFY_OFFSET 0x3000
#define VIRTIO_PCI_REGION_SIZE 0x1000
#define VIRTIO_PCI_NOTIFY_MULT 4 /* bytes of notify space per queue */

typedef struct VirtioPCIConf {
    bool disable_legacy;
    bool disable_modern;
    unsigned vectors; /* MSI-X vectors; 0: INTx only */
    const char *name; /* "virtio-blk-pci" */
    uint32_t class_code;
} VirtioPCIConf;

/* What the driver wrote per queue through the modern common structure. */
typedef struct VirtIOPCIQueue {
    uint16_t num;
    bool enabled;
    bool reset;
    uint32_t desc[2], avail[2], used[2];
} VirtIOPCIQueue;

typedef struct VirtIOPCIDoorbell {
    int fd; /* eventfd, -1 when none */
    GSource *source;
    bool assigned;
    bool pio;
    uint64_t addr;
} VirtIOPCIDoorbell;

/* An MSI-X vector delivered through a KVM irqfd (virtio-pci-irqfd.c). */
typedef struct VirtIOPCIIrqfd {
    int fd;      /* eventfd, -1 when none */
    int gsi;     /* KVM MSI route, -1 when none */
    bool active; /* fd is bound to gsi: notify by writing fd */
} VirtIOPCIIrqfd;

typedef struct VirtIOPCIProxy {
    PCIDevice *pci;
    VirtIODevice *vdev;
    PCIDeviceInfo info;
    bool legacy, modern;
    unsigned nvectors;
    uint32_t dfselect, gfselect;
    uint32_t guest_features[2];
    uint8_t cfg_cap; /* VIRTIO_PCI_CAP_PCI_CFG capability offset, or 0 */
    VirtIOPCIQueue vqs[VIRTIO_QUEUE_MAX];
    VirtIOPCIDoorbell *doorbells; /* one per device queue */
    VirtIOPCIIrqfd *irqfds;       /* one per MSI-X vector on KVM, else NULL */
} VirtIOPCIProxy;

/* Put vdev (already virtio_init()ed with its queues) on bus at devfn (-1: next free slot). */
VirtIOPCIProxy *virtio_pci_new(PCIBus *bus, int devfn, VirtIODevice *vdev,
                               const VirtioPCIConf *conf, Error **errp);
/* Transport reset (PCI reset, or the driver writing status 0 / legacy PFN 0). */
void virtio_pci_reset(VirtIOPCIProxy *proxy);
/* Doorbells follow the device status and the BAR placement (virtio-pci.c). */
void virtio_pci_update_doorbells(VirtIOPCIProxy *proxy);

/*
 * Hot-unplug (virtio-pci-unplug.c). unplug: the function leaves the guest: the virtio
 * device is reset (in-flight requests are disowned), doorbells and irqfds are released and
 * the PCI function is taken off the bus; main loop, BQL held. wait: call done(opaque) from
 * the main loop once callbacks queued before (main loop, the device's I/O threads) have
 * run. free: the transport's memory, after wait (the device model is the caller's).
 */
void virtio_pci_unplug(VirtIOPCIProxy *proxy);
void virtio_pci_wait(VirtIOPCIProxy *proxy, void (*done)(void *opaque), void *opaque);
void virtio_pci_free(VirtIOPCIProxy *proxy);

/* On KVM, deliver unmasked APIC-bound vectors through irqfds (virtio-pci-irqfd.c);
 * notify returns false when the vector must go through msix_notify() instead. */
void virtio_pci_irqfd_init(VirtIOPCIProxy *proxy);
bool virtio_pci_irqfd_notify(VirtIOPCIProxy *proxy, uint16_t vector);

/* Register blocks (virtio-pci-regs.c). */
extern const IOOps virtio_pci_legacy_ops;
extern const IOOps virtio_pci_modern_ops;
uint64_t virtio_pci_modern_read(VirtIOPCIProxy *proxy, uint64_t addr, unsigned size);
void virtio_pci_modern_write(VirtIOPCIProxy *proxy, uint64_t addr, uint64_t val, unsigned size);

#endif
