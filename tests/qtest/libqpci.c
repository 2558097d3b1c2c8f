/*
 * libqpci: configuration mechanism #1 and a firmware-like BAR allocator over libqtest.
 * Register offsets and bits are <linux/pci.h>'s.
 */
#include <linux/pci.h>
#include "libqpci.h"

#define QPCI_CONFIG_ADDRESS 0xcf8
#define QPCI_CONFIG_DATA 0xcfc
#define QPCI_CONFIG_ENABLE 0x80000000u

void qpci_bus_init(QPCIBus *bus, QTestState *qts)
{
    bus->qts = qts;
    bus->io_next = QPCI_IO_BASE;
    bus->mem_next = QPCI_MEM_BASE;
}

static void qpci_select(QPCIDevice *dev, uint8_t off)
{
    qtest_outl(dev->bus->qts, QPCI_CONFIG_ADDRESS,
               QPCI_CONFIG_ENABLE | (uint32_t)dev->devfn << 8 | (off & 0xfc));
}

uint8_t qpci_config_readb(QPCIDevice *dev, uint8_t off)
{
    qpci_select(dev, off);
    return qtest_inb(dev->bus->qts, QPCI_CONFIG_DATA + (off & 3));
}

uint16_t qpci_config_readw(QPCIDevice *dev, uint8_t off)
{
    qpci_select(dev, off);
    return qtest_inw(dev->bus->qts, QPCI_CONFIG_DATA + (off & 2));
}

uint32_t qpci_config_readl(QPCIDevice *dev, uint8_t off)
{
    qpci_select(dev, off);
    return qtest_inl(dev->bus->qts, QPCI_CONFIG_DATA);
}

void qpci_config_writeb(QPCIDevice *dev, uint8_t off, uint8_t val)
{
    qpci_select(dev, off);
    qtest_outb(dev->bus->qts, QPCI_CONFIG_DATA + (off & 3), val);
}

void qpci_config_writew(QPCIDevice *dev, uint8_t off, uint16_t val)
{
    qpci_select(dev, off);
    qtest_outw(dev->bus->qts, QPCI_CONFIG_DATA + (off & 2), val);
}

void qpci_config_writel(QPCIDevice *dev, uint8_t off, uint32_t val)
{
    qpci_select(dev, off);
    qtest_outl(dev->bus->qts, QPCI_CONFIG_DATA, val);
}

bool qpci_device_find(QPCIBus *bus, uint8_t devfn, QPCIDevice *dev)
{
    dev->bus = bus;
    dev->devfn = devfn;
    return qpci_config_readw(dev, PCI_VENDOR_ID) != 0xffff;
}

void qpci_foreach(QPCIBus *bus, QPCIForeachFn *fn, void *opaque)
{
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        QPCIDevice dev;

        if (qpci_device_find(bus, devfn, &dev)) {
            fn(&dev, qpci_config_readw(&dev, PCI_VENDOR_ID), qpci_config_readw(&dev, PCI_DEVICE_ID),
               opaque);
        } else if (PCI_FUNC(devfn) == 0) {
            devfn += 7; /* no function 0: no device in this slot */
        }
    }
}

static uint64_t qpci_align(uint64_t v, uint64_t align)
{
    return (v + align - 1) & ~(align - 1);
}

QPCIBar qpci_iomap(QPCIDevice *dev, int n)
{
    uint8_t off = PCI_BASE_ADDRESS_0 + 4 * n;
    uint32_t orig = qpci_config_readl(dev, off), lo;
    QPCIBar bar = {0};
    bool is64;
    uint64_t mask;

    g_assert(n >= 0 && n < QPCI_BAR_COUNT);
    qpci_config_writel(dev, off, 0xffffffff);
    lo = qpci_config_readl(dev, off);
    qpci_config_writel(dev, off, orig);
    if (lo == 0 || lo == 0xffffffff) {
        return bar;
    }
    bar.is_io = lo & PCI_BASE_ADDRESS_SPACE_IO;
    if (bar.is_io) {
        bar.size = (uint16_t) ~(lo & PCI_BASE_ADDRESS_IO_MASK) + 1;
        bar.addr = qpci_align(dev->bus->io_next, bar.size);
        dev->bus->io_next = bar.addr + bar.size;
        qpci_config_writel(dev, off, bar.addr);
        return bar;
    }
    is64 = (lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64;
    mask = lo & PCI_BASE_ADDRESS_MEM_MASK;
    if (is64) {
        uint32_t orig_hi = qpci_config_readl(dev, off + 4);
        qpci_config_writel(dev, off + 4, 0xffffffff);
        mask |= (uint64_t)qpci_config_readl(dev, off + 4) << 32;
        qpci_config_writel(dev, off + 4, orig_hi);
    } else {
        mask |= 0xffffffff00000000ULL;
    }
    bar.size = ~mask + 1;
    bar.addr = qpci_align(dev->bus->mem_next, bar.size);
    dev->bus->mem_next = bar.addr + bar.size;
    qpci_config_writel(dev, off, (uint32_t)bar.addr);
    if (is64) {
        qpci_config_writel(dev, off + 4, bar.addr >> 32);
    }
    return bar;
}

void qpci_device_enable(QPCIDevice *dev)
{
    uint16_t cmd = qpci_config_readw(dev, PCI_COMMAND);

    qpci_config_writew(dev, PCI_COMMAND,
                       cmd | PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

uint8_t qpci_find_capability(QPCIDevice *dev, uint8_t id, uint8_t start)
{
    uint8_t off;
    unsigned hops = 0;

    if (!(qpci_config_readw(dev, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
        return 0;
    }
    off = start ? qpci_config_readb(dev, start + PCI_CAP_LIST_NEXT)
                : qpci_config_readb(dev, PCI_CAPABILITY_LIST);
    /* 48 hops at most: a looping list must not hang the test. */
    for (; off && hops < 48; hops++) {
        off &= ~3;
        if (qpci_config_readb(dev, off + PCI_CAP_LIST_ID) == id) {
            return off;
        }
        off = qpci_config_readb(dev, off + PCI_CAP_LIST_NEXT);
    }
    return 0;
}

uint64_t qpci_msix_enable(QPCIDevice *dev)
{
    uint8_t cap = qpci_find_capability(dev, PCI_CAP_ID_MSIX, 0);
    uint32_t table;
    uint16_t ctrl;
    QPCIBar bar;

    if (!cap) {
        return 0;
    }
    table = qpci_config_readl(dev, cap + PCI_MSIX_TABLE);
    bar = qpci_iomap(dev, table & PCI_MSIX_TABLE_BIR);
    g_assert(bar.size && !bar.is_io);
    qpci_device_enable(dev);
    ctrl = qpci_config_readw(dev, cap + PCI_MSIX_FLAGS);
    qpci_config_writew(dev, cap + PCI_MSIX_FLAGS,
                       (ctrl | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL);
    return bar.addr + (table & PCI_MSIX_TABLE_OFFSET);
}
