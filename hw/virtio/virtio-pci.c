/*
 * The virtio PCI function: IDs, BARs and capabilities laid out as QEMU 7.2 lays them out
 * (legacy I/O BAR0, MSI-X BAR1, modern 16 KiB 64-bit prefetchable BAR4; vendor capabilities
 * at 0x40-0x84 and MSI-X at 0x98), the PCI-configuration access window, interrupts (MSI-X
 * vector, else INTx from the ISR), transport reset, and the doorbell ioeventfds that let a
 * KVM guest kick a queue without an exit to the VMM: each is an eventfd the main loop
 * watches, re-registered whenever the BAR moves or the device stops. Interrupts go out through
 * KVM irqfds where virtio-pci-irqfd.c set them up. Not the register semantics
 * (virtio-pci-regs.c).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <linux/virtio_pci.h>
#include <glib-unix.h>
#include "hw/kvm-irq.h"
#include "hw/msix.h"
#include "hw/virtio-pci.h"
#include "util/main-loop.h"

#define VIRTIO_CAP_COMMON_POS 0x40
#define VIRTIO_CAP_ISR_POS 0x50
#define VIRTIO_CAP_DEVICE_POS 0x60
#define VIRTIO_CAP_NOTIFY_POS 0x70
#define VIRTIO_CAP_PCI_CFG_POS 0x84
#define VIRTIO_CAP_MSIX_POS 0x98
#define VIRTIO_CAP_LEN 16
#define VIRTIO_NOTIFY_CAP_LEN 20
#define VIRTIO_PCI_CFG_CAP_LEN 20
#define VIRTIO_PCI_CFG_DATA 16 /* pci_cfg_data inside its capability */
#define VIRTIO_LEGACY_REGS_MSIX 24

/* ---- interrupts ---- */

typedef struct VirtIOPCIDeferred {
    VirtIOPCIProxy *proxy;
    uint16_t vector;
} VirtIOPCIDeferred;

static void virtio_pci_notify(void *opaque, uint16_t vector);

/* An I/O thread's interrupt that needs the machine (PBA, INTx): sent from the main loop. */
static void virtio_pci_deferred_notify(void *opaque)
{
    VirtIOPCIDeferred *d = opaque;

    virtio_device_lock(d->proxy->vdev);
    virtio_pci_notify(d->proxy, d->vector);
    virtio_device_unlock(d->proxy->vdev);
    g_free(d);
}

static void virtio_pci_defer_notify(VirtIOPCIProxy *proxy, uint16_t vector)
{
    VirtIOPCIDeferred *d = g_new(VirtIOPCIDeferred, 1);

    *d = (VirtIOPCIDeferred){proxy, vector};
    main_loop_call(virtio_pci_deferred_notify, d);
}

static void virtio_pci_notify(void *opaque, uint16_t vector)
{
    VirtIOPCIProxy *proxy = opaque;

    if (msix_enabled(proxy->pci)) {
        /* An irqfd is one write from any thread; everything else needs the BQL. */
        if (vector == VIRTIO_NO_VECTOR || virtio_pci_irqfd_notify(proxy, vector)) {
            return;
        }
        if (bql_locked()) {
            msix_notify(proxy->pci, vector);
        } else {
            virtio_pci_defer_notify(proxy, vector);
        }
    } else if (bql_locked()) {
        pci_set_irq(proxy->pci, __atomic_load_n(&proxy->vdev->isr, __ATOMIC_SEQ_CST) & 1);
    } else {
        virtio_pci_defer_notify(proxy, vector);
    }
}

static void virtio_pci_deferred_doorbells(void *opaque)
{
    VirtIOPCIProxy *proxy = opaque;

    virtio_device_lock(proxy->vdev);
    virtio_pci_update_doorbells(proxy);
    virtio_device_unlock(proxy->vdev);
}

static void virtio_pci_status_changed(void *opaque)
{
    if (bql_locked()) {
        virtio_pci_update_doorbells(opaque);
    } else {
        /* An I/O thread broke the device: the doorbells of every queue go, under the BQL. */
        main_loop_call(virtio_pci_deferred_doorbells, opaque);
    }
}

static const VirtioTransportOps virtio_pci_transport = {
    .notify = virtio_pci_notify,
    .status_changed = virtio_pci_status_changed,
};

/* ---- doorbells (KVM ioeventfd) ---- */

static gboolean virtio_pci_doorbell_cb(gint fd, GIOCondition cond, gpointer opaque)
{
    VirtQueue *vq = opaque;
    uint64_t n;

    if (read(fd, &n, sizeof(n)) == sizeof(n)) {
        virtio_queue_kick(vq);
    }
    return G_SOURCE_CONTINUE;
}

/* Where queue n's doorbell is now, or false when it should not be an ioeventfd. */
static bool virtio_pci_doorbell_addr(VirtIOPCIProxy *proxy, unsigned n, bool *pio, uint64_t *addr)
{
    VirtIODevice *vdev = proxy->vdev;
    uint64_t base;

    if (!kvm_enabled() || vdev->broken || !(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) ||
        !virtio_queue_ready(&vdev->vq[n])) {
        return false;
    }
    if (proxy->modern) {
        base = pci_bar_address(proxy->pci, VIRTIO_PCI_MODERN_BAR);
        if (base != PCI_BAR_UNMAPPED) {
            *pio = false;
            *addr = base + VIRTIO_PCI_NOTIFY_OFFSET + (uint64_t)n * VIRTIO_PCI_NOTIFY_MULT;
            return true;
        }
    }
    if (proxy->legacy) {
        base = pci_bar_address(proxy->pci, 0);
        if (base != PCI_BAR_UNMAPPED) {
            *pio = true;
            *addr = base + VIRTIO_PCI_QUEUE_NOTIFY;
            return true;
        }
    }
    return false;
}

static void virtio_pci_doorbell_set(VirtIOPCIProxy *proxy, unsigned n, bool on, bool pio,
                                    uint64_t addr)
{
    VirtIOPCIDoorbell *db = &proxy->doorbells[n];

    if (db->assigned) {
        /* Modern doorbells match any width (len 0); legacy ones the 16-bit queue index. */
        kvm_ioeventfd(db->fd, db->pio, db->addr, db->pio ? 2 : 0, db->pio, n, false);
        db->assigned = false;
    }
    if (!on) {
        return;
    }
    if (db->fd < 0) {
        db->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (db->fd < 0) {
            return; /* kicks keep arriving as exits */
        }
        db->source = g_unix_fd_source_new(db->fd, G_IO_IN);
        g_source_set_callback(db->source, G_SOURCE_FUNC(virtio_pci_doorbell_cb),
                              &proxy->vdev->vq[n], NULL);
        /* Else GLib takes the fd out of the poll set around each dispatch and puts it
         * back, waking the loop twice through its eventfd: three system calls a kick. */
        g_source_set_can_recurse(db->source, TRUE);
        g_source_attach(db->source, proxy->vdev->vq[n].iothread
                                        ? iothread_get_context(proxy->vdev->vq[n].iothread)
                                        : main_loop_context());
    }
    if (kvm_ioeventfd(db->fd, pio, addr, pio ? 2 : 0, pio, n, true) == 0) {
        db->assigned = true;
        db->pio = pio;
        db->addr = addr;
    }
}

void virtio_pci_update_doorbells(VirtIOPCIProxy *proxy)
{
    for (unsigned n = 0; n < proxy->vdev->num_queues; n++) {
        VirtIOPCIDoorbell *db = &proxy->doorbells[n];
        bool pio = false;
        uint64_t addr = 0;
        bool on = virtio_pci_doorbell_addr(proxy, n, &pio, &addr);

        if (on != db->assigned || (on && (pio != db->pio || addr != db->addr))) {
            virtio_pci_doorbell_set(proxy, n, on, pio, addr);
            if (on && db->fd >= 0) {
                /* A kick may have landed while the doorbell was being moved. */
                virtio_queue_notify(proxy->vdev, n);
            }
        }
    }
}

/* ---- configuration space ---- */

/* The VIRTIO_PCI_CAP_PCI_CFG window: bar/offset/length chosen by the driver, data here. */
static bool virtio_pci_cfg_window(VirtIOPCIProxy *proxy, unsigned addr, unsigned len, uint32_t *off,
                                  uint32_t *width)
{
    const uint8_t *cap = proxy->pci->config + proxy->cfg_cap;
    unsigned data = proxy->cfg_cap + VIRTIO_PCI_CFG_DATA;

    if (!proxy->cfg_cap || addr >= data + 4 || addr + len <= data) {
        return false;
    }
    *off = pci_get_long(cap + VIRTIO_PCI_CAP_OFFSET);
    *width = pci_get_long(cap + VIRTIO_PCI_CAP_LENGTH);
    return *width == 1 || *width == 2 || *width == 4;
}

static uint32_t virtio_pci_config_read(PCIDevice *dev, unsigned addr, unsigned len)
{
    VirtIOPCIProxy *proxy = dev->opaque;
    uint32_t off, width;

    virtio_device_lock(proxy->vdev);
    if (virtio_pci_cfg_window(proxy, addr, len, &off, &width)) {
        uint32_t val = virtio_pci_modern_read(proxy, off, width);
        pci_set_long(dev->config + proxy->cfg_cap + VIRTIO_PCI_CFG_DATA, val);
    }
    virtio_device_unlock(proxy->vdev);
    return pci_default_config_read(dev, addr, len);
}

static void virtio_pci_config_write(PCIDevice *dev, unsigned addr, uint32_t val, unsigned len)
{
    VirtIOPCIProxy *proxy = dev->opaque;
    uint32_t off, width;

    virtio_device_lock(proxy->vdev);
    if (virtio_pci_cfg_window(proxy, addr, len, &off, &width)) {
        uint32_t data = pci_get_long(dev->config + proxy->cfg_cap + VIRTIO_PCI_CFG_DATA);
        virtio_pci_modern_write(proxy, off, data, width);
    }
    /* BARs or the command register may have moved the doorbells. */
    virtio_pci_update_doorbells(proxy);
    virtio_device_unlock(proxy->vdev);
}

static void virtio_pci_device_reset(PCIDevice *dev)
{
    VirtIOPCIProxy *proxy = dev->opaque;

    virtio_device_lock(proxy->vdev);
    virtio_pci_reset(proxy);
    virtio_device_unlock(proxy->vdev);
}

void virtio_pci_reset(VirtIOPCIProxy *proxy)
{
    virtio_reset(proxy->vdev);
    memset(proxy->vqs, 0, sizeof(proxy->vqs));
    pci_set_irq(proxy->pci, false);
    virtio_pci_update_doorbells(proxy);
}

/* ---- set-up ---- */

static void virtio_pci_add_cap(VirtIOPCIProxy *proxy, uint8_t pos, uint8_t len, uint8_t type,
                               uint32_t offset, uint32_t length)
{
    uint8_t *cap = proxy->pci->config + pos;

    pci_add_capability(proxy->pci, PCI_CAP_ID_VNDR, pos, len);
    cap[VIRTIO_PCI_CAP_LEN] = len;
    cap[VIRTIO_PCI_CAP_CFG_TYPE] = type;
    cap[VIRTIO_PCI_CAP_BAR] = type == VIRTIO_PCI_CAP_PCI_CFG ? 0 : VIRTIO_PCI_MODERN_BAR;
    pci_set_long(cap + VIRTIO_PCI_CAP_OFFSET, offset);
    pci_set_long(cap + VIRTIO_PCI_CAP_LENGTH, length);
}

static void virtio_pci_modern_init(VirtIOPCIProxy *proxy)
{
    uint8_t *wm = proxy->pci->wmask + VIRTIO_CAP_PCI_CFG_POS;

    virtio_pci_add_cap(proxy, VIRTIO_CAP_COMMON_POS, VIRTIO_CAP_LEN, VIRTIO_PCI_CAP_COMMON_CFG,
                       VIRTIO_PCI_COMMON_OFFSET, VIRTIO_PCI_REGION_SIZE);
    virtio_pci_add_cap(proxy, VIRTIO_CAP_ISR_POS, VIRTIO_CAP_LEN, VIRTIO_PCI_CAP_ISR_CFG,
                       VIRTIO_PCI_ISR_OFFSET, VIRTIO_PCI_REGION_SIZE);
    virtio_pci_add_cap(proxy, VIRTIO_CAP_DEVICE_POS, VIRTIO_CAP_LEN, VIRTIO_PCI_CAP_DEVICE_CFG,
                       VIRTIO_PCI_DEVICE_OFFSET, VIRTIO_PCI_REGION_SIZE);
    virtio_pci_add_cap(proxy, VIRTIO_CAP_NOTIFY_POS, VIRTIO_NOTIFY_CAP_LEN,
                       VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFFSET, VIRTIO_PCI_REGION_SIZE);
    pci_set_long(proxy->pci->config + VIRTIO_CAP_NOTIFY_POS + VIRTIO_PCI_NOTIFY_CAP_MULT,
                 VIRTIO_PCI_NOTIFY_MULT);
    virtio_pci_add_cap(proxy, VIRTIO_CAP_PCI_CFG_POS, VIRTIO_PCI_CFG_CAP_LEN,
                       VIRTIO_PCI_CAP_PCI_CFG, 0, 0);
    /* The window's bar, offset, length and data are the driver's to write. */
    wm[VIRTIO_PCI_CAP_BAR] = 0xff;
    memset(wm + VIRTIO_PCI_CAP_OFFSET, 0xff, 4);
    memset(wm + VIRTIO_PCI_CAP_LENGTH, 0xff, 4);
    memset(wm + VIRTIO_PCI_CFG_DATA, 0xff, 4);
    proxy->cfg_cap = VIRTIO_CAP_PCI_CFG_POS;
    pci_register_bar(proxy->pci, VIRTIO_PCI_MODERN_BAR, VIRTIO_PCI_MODERN_BAR_SIZE,
                     PCI_BAR_MEM64 | PCI_BAR_PREFETCH, &virtio_pci_modern_ops, proxy);
}

static uint64_t pow2ceil(uint64_t v)
{
    uint64_t p = 1;

    while (p < v) {
        p <<= 1;
    }
    return p;
}

static void virtio_pci_fill_info(VirtIOPCIProxy *proxy, const VirtioPCIConf *conf)
{
    uint16_t id = proxy->vdev->ops->device_id;
    PCIDeviceInfo *info = &proxy->info;

    info->name = conf->name;
    info->vendor_id = PCI_VENDOR_ID_REDHAT_QUMRANET;
    info->class_code = conf->class_code;
    info->interrupt_pin = 1;
    info->config_read = virtio_pci_config_read;
    info->config_write = virtio_pci_config_write;
    info->reset = virtio_pci_device_reset;
    if (proxy->legacy) {
        /* Transitional: the legacy ID, with the device type as subsystem ID. */
        info->device_id = VIRTIO_PCI_LEGACY_DEVICE_ID(id);
        info->subsystem_vendor_id = PCI_VENDOR_ID_REDHAT_QUMRANET;
        info->subsystem_id = id;
    } else {
        info->device_id = VIRTIO_PCI_MODERN_DEVICE_ID(id);
        info->revision = 1;
    }
}

VirtIOPCIProxy *virtio_pci_new(PCIBus *bus, int devfn, VirtIODevice *vdev,
                               const VirtioPCIConf *conf, Error **errp)
{
    VirtIOPCIProxy *proxy = g_new0(VirtIOPCIProxy, 1);
    uint64_t legacy_size;

    if (conf->disable_legacy && conf->disable_modern) {
        error_setg(errp, "device cannot work as neither modern nor legacy mode is enabled");
        g_free(proxy);
        return NULL;
    }
    proxy->vdev = vdev;
    proxy->legacy = !conf->disable_legacy;
    proxy->modern = !conf->disable_modern;
    if (proxy->modern) {
        vdev->host_features |= 1ULL << VIRTIO_F_VERSION_1;
    }
    virtio_pci_fill_info(proxy, conf);
    proxy->pci = pci_device_new(bus, devfn, &proxy->info, proxy, errp);
    if (!proxy->pci) {
        g_free(proxy);
        return NULL;
    }
    if (proxy->modern) {
        virtio_pci_modern_init(proxy);
    }
    if (conf->vectors) {
        if (msix_init_exclusive_bar(proxy->pci, conf->vectors, VIRTIO_PCI_MSIX_BAR,
                                    proxy->modern ? VIRTIO_CAP_MSIX_POS : VIRTIO_CAP_COMMON_POS,
                                    NULL)) {
            proxy->nvectors = conf->vectors;
        } else {
            warn_report("unable to init msix vectors to %u", conf->vectors);
        }
    }
    virtio_pci_irqfd_init(proxy);
    if (proxy->legacy) {
        legacy_size = (proxy->nvectors ? VIRTIO_LEGACY_REGS_MSIX : VIRTIO_PCI_CONFIG_OFF(false)) +
                      vdev->config_len;
        pci_register_bar(proxy->pci, 0, pow2ceil(legacy_size), PCI_BAR_IO, &virtio_pci_legacy_ops,
                         proxy);
    }
    proxy->doorbells = g_new0(VirtIOPCIDoorbell, vdev->num_queues);
    for (unsigned n = 0; n < vdev->num_queues; n++) {
        proxy->doorbells[n].fd = -1;
    }
    vdev->transport = &virtio_pci_transport;
    vdev->transport_opaque = proxy;
    return proxy;
}
