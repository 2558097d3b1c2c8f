/*
 * "xen-platform": the Xen platform PCI device (5853:0001, class ff80, INTA) a Xen HVM guest
 * looks for, created by the machine when Xen emulation is on, as QEMU does. What it is for:
 * the "unplug emulated devices" handshake on the fixed ports 0x10-0x1f (a guest about to use
 * PV disks removes the IDE disks first, so it does not see each disk twice), a 16 MiB
 * prefetchable memory BAR guests use as room for grant frames (reads 0, writes ignored,
 * until a frame is placed over it), and its INTA as the event channel callback for guests
 * that ask for "PCI INTx" delivery. Xen's protocol (docs/misc/hvm-emulated-unplug): a word
 * read of 0x10 gives the magic 0x49d2, a byte read of 0x12 the protocol version (1); the
 * guest writes its product number (word, 0x12), its build number (dword, 0x10) and then the
 * unplug mask (word, 0x10: bit 0 every IDE disk, bit 1 every NIC, bit 2 IDE disks but the
 * primary master). Byte writes to 0x12 (and to BAR0 + 8) are a log, ended by newlines.
 * No blacklist, no NICs (minivmm has none), no NVMe.
 */
#include <string.h>
#include <glib.h>
#include "hw/ide.h"
#include "hw/ioport.h"
#include "hw/pci.h"
#include "hw/qdev.h"
#include "hw/xen/xen-platform.h"
#include "hw/xen/xen.h"
#include "util/error.h"
#include "util/main-loop.h"
#include "util/trace.h"

#define PCI_VENDOR_ID_XEN 0x5853
#define PCI_DEVICE_ID_XEN_PLATFORM 0x0001
#define XEN_PLATFORM_FIXED_PORT 0x10
#define XEN_PLATFORM_MAGIC 0x49d2
#define XEN_PLATFORM_PROTOCOL 1
#define XEN_PLATFORM_MMIO_SIZE (16u << 20)
#define XEN_PLATFORM_LOG_MAX 256

enum { UNPLUG_ALL_IDE_DISKS = 1, UNPLUG_ALL_NICS = 2, UNPLUG_AUX_IDE_DISKS = 4 };

typedef struct XenPlatformState {
    DeviceState qdev;
    int32_t addr;
    PCIDevice *pci;
    IORegion *fixed;
    uint8_t flags;
    uint16_t product;
    uint32_t build;
    char log[XEN_PLATFORM_LOG_MAX];
    unsigned log_len;
} XenPlatformState;

static XenPlatformState *platform; /* at most one */

static void xen_platform_log(XenPlatformState *s, uint8_t c)
{
    if (c == '\n' || s->log_len == sizeof(s->log) - 1) {
        s->log[s->log_len] = 0;
        TRACE("xen_platform_log", "%s", s->log);
        s->log_len = 0;
    } else {
        s->log[s->log_len++] = c;
    }
}

static void xen_platform_unplug_disks(void *opaque)
{
    ide_unplug_disks();
}

/* The unplug mask: the IDE disks go (from the main loop: removing a device waits for its
 * requests). Bit 2 alone would keep the primary master; minivmm, like QEMU, does not
 * support that and leaves the disks in place. */
static void xen_platform_unplug(XenPlatformState *s, uint16_t mask)
{
    TRACE("xen_platform_unplug", "mask 0x%x", mask);
    if (mask & UNPLUG_ALL_IDE_DISKS) {
        main_loop_call_outer(xen_platform_unplug_disks, NULL);
    }
}

static uint64_t xen_platform_fixed_read(void *opaque, uint64_t addr, unsigned size)
{
    XenPlatformState *s = opaque;

    if (addr == 0 && size == 2) {
        return XEN_PLATFORM_MAGIC;
    }
    if (addr == 0 && size == 1) {
        return s->flags;
    }
    if (addr == 2 && size == 1) {
        return XEN_PLATFORM_PROTOCOL;
    }
    return size == 4 ? 0xffffffffu : size == 2 ? 0xffff : 0xff;
}

static void xen_platform_fixed_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    XenPlatformState *s = opaque;

    if (addr == 0 && size == 2) {
        xen_platform_unplug(s, (uint16_t)val);
    } else if (addr == 0 && size == 4) {
        s->build = (uint32_t)val;
    } else if (addr == 0 && size == 1) {
        s->flags = val & 1; /* ROM lock: nothing to lock, the value reads back */
    } else if (addr == 2 && size == 2) {
        s->product = (uint16_t)val;
    } else if (addr == 2 && size == 1) {
        xen_platform_log(s, (uint8_t)val);
    }
}

static const IOOps xen_platform_fixed_ops = {
    .read = xen_platform_fixed_read,
    .write = xen_platform_fixed_write,
};

/* BAR0: the flags byte at 0 and the log at 8, byte accesses only. */
static uint64_t xen_platform_bar_read(void *opaque, uint64_t addr, unsigned size)
{
    return addr == 0 && size == 1 ? ((XenPlatformState *)opaque)->flags : 0xffffffffu;
}

static void xen_platform_bar_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    XenPlatformState *s = opaque;

    if (size != 1) {
        return;
    }
    if (addr == 0) {
        s->flags = val & 1;
    } else if (addr == 8) {
        xen_platform_log(s, (uint8_t)val);
    }
}

static const IOOps xen_platform_bar_ops = {
    .read = xen_platform_bar_read,
    .write = xen_platform_bar_write,
};

static uint64_t xen_platform_mmio_read(void *opaque, uint64_t addr, unsigned size)
{
    return 0;
}

static void xen_platform_mmio_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
}

static const IOOps xen_platform_mmio_ops = {
    .read = xen_platform_mmio_read,
    .write = xen_platform_mmio_write,
};

static void xen_platform_reset(PCIDevice *dev)
{
    XenPlatformState *s = dev->opaque;

    s->flags = 0;
    s->log_len = 0;
    pci_set_irq(dev, false);
}

static const PCIDeviceInfo xen_platform_info = {
    .name = "xen-platform",
    .vendor_id = PCI_VENDOR_ID_XEN,
    .device_id = PCI_DEVICE_ID_XEN_PLATFORM,
    .class_code = 0xff8000, /* "other", sub-class 0x80 */
    .revision = 1,
    .subsystem_vendor_id = PCI_VENDOR_ID_XEN,
    .subsystem_id = PCI_DEVICE_ID_XEN_PLATFORM,
    .header_type = PCI_HEADER_TYPE_NORMAL,
    .interrupt_pin = 1,
    .reset = xen_platform_reset,
};

void xen_platform_set_irq(bool level)
{
    if (platform) {
        pci_set_irq(platform->pci, level);
    }
}

int xen_platform_devfn(void)
{
    return platform ? (int)platform->pci->devfn : -1;
}

static bool xen_platform_realize(DeviceState *qdev, Error **errp)
{
    XenPlatformState *s = (XenPlatformState *)qdev;

    if (!xen_enabled()) {
        error_setg(errp, "xen-platform needs Xen emulation (-accel kvm,xen-version=...)");
        return false;
    }
    if (platform) {
        error_setg(errp, "only one xen-platform device is supported");
        return false;
    }
    s->pci = pci_device_new(qdev->parent_bus->opaque, s->addr, &xen_platform_info, s, errp);
    if (!s->pci) {
        return false;
    }
    s->pci->qdev = qdev;
    pci_register_bar(s->pci, 0, 0x100, PCI_BAR_IO, &xen_platform_bar_ops, s);
    pci_register_bar(s->pci, 1, XEN_PLATFORM_MMIO_SIZE, PCI_BAR_MEM32 | PCI_BAR_PREFETCH,
                     &xen_platform_mmio_ops, s);
    s->fixed =
        portio_add(XEN_PLATFORM_FIXED_PORT, 16, &xen_platform_fixed_ops, s, "xen-platform-fixed");
    xen_platform_reset(s->pci);
    platform = s;
    return true;
}

static const Property xen_platform_props[] = {
    DEFINE_PROP_PCI_DEVFN("addr", XenPlatformState, addr, -1),
    DEFINE_PROP_END,
};

static const DeviceClass xen_platform_class = {
    .name = "xen-platform",
    .desc = "XEN platform pci device",
    .category = DEVICE_CATEGORY_MISC,
    .bus_type = QBUS_TYPE_PCI,
    .instance_size = sizeof(XenPlatformState),
    .props = xen_platform_props,
    .realize = xen_platform_realize,
};

static void __attribute__((constructor)) xen_platform_register(void)
{
    qdev_register(&xen_platform_class);
}
