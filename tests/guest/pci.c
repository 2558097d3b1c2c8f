/*
 * PCI bus 0 through configuration mechanism #1 (0xcf8/0xcfc): find every function, size its
 * BARs and assign them in order of discovery (I/O from 0xc000, MMIO from 0xe0000000, each
 * naturally aligned), then enable I/O and memory decoding. No bridges, no option ROMs.
 */
#include "guest.h"
#include "io.h"

enum {
    PCI_VENDOR_ID = 0x00,
    PCI_COMMAND = 0x04,
    PCI_CLASS_REVISION = 0x08,
    PCI_HEADER_TYPE = 0x0c,     /* in the third byte of this dword */
    PCI_BASE_ADDRESS_0 = 0x10,
    PCI_SUBSYSTEM_VENDOR_ID = 0x2c,
    PCI_COMMAND_IO = 0x1,
    PCI_COMMAND_MEMORY = 0x2,
    PCI_BAR_IO = 0x1,
    PCI_BAR_MEM_TYPE_64 = 0x4,
    PCI_IO_START = 0xc000,
};

#define PCI_MMIO_START 0xe0000000ull

static uint32_t pci_io_next = PCI_IO_START;
static uint64_t pci_mmio_next = PCI_MMIO_START;

static uint32_t pci_config_addr(const PCIDevice *d, uint8_t off)
{
    return 0x80000000u | d->bus << 16 | d->dev << 11 | d->fn << 8 | (off & 0xfc);
}

uint32_t pci_config_readl(const PCIDevice *d, uint8_t off)
{
    outl(0xcf8, pci_config_addr(d, off));
    return inl(0xcfc);
}

void pci_config_writel(const PCIDevice *d, uint8_t off, uint32_t v)
{
    outl(0xcf8, pci_config_addr(d, off));
    outl(0xcfc, v);
}

static uint64_t pci_align(uint64_t v, uint64_t size)
{
    return (v + size - 1) & ~(size - 1);
}

/* Size BAR n and give it an address; returns the number of BAR slots it used. */
static int pci_bar_setup(PCIDevice *d, int n)
{
    uint8_t off = PCI_BASE_ADDRESS_0 + 4 * n;
    PCIBar *bar = &d->bar[n];
    uint32_t orig = pci_config_readl(d, off);
    bar->io = orig & PCI_BAR_IO;
    bar->mem64 = !bar->io && (orig & PCI_BAR_MEM_TYPE_64);
    pci_config_writel(d, off, 0xffffffff);
    uint64_t mask = pci_config_readl(d, off) & (bar->io ? ~0x3u : ~0xfu);
    if (bar->mem64) {
        pci_config_writel(d, off + 4, 0xffffffff);
        mask |= (uint64_t)pci_config_readl(d, off + 4) << 32;
    } else if (mask) {
        mask |= 0xffffffff00000000ull;
    }
    bar->size = mask ? ~mask + 1 : 0;
    if (bar->io) {
        bar->size &= 0xffff;
    }
    if (!bar->size) {
        pci_config_writel(d, off, orig);
        return bar->mem64 ? 2 : 1;
    }
    if (bar->io) {
        bar->addr = pci_align(pci_io_next, bar->size);
        pci_io_next = bar->addr + bar->size;
    } else {
        bar->addr = pci_align(pci_mmio_next, bar->size);
        pci_mmio_next = bar->addr + bar->size;
    }
    pci_config_writel(d, off, (uint32_t)bar->addr);
    if (bar->mem64) {
        pci_config_writel(d, off + 4, bar->addr >> 32);
    }
    return bar->mem64 ? 2 : 1;
}

static void pci_function_setup(PCIDevice *d, uint32_t id)
{
    d->vendor_id = id & 0xffff;
    d->device_id = id >> 16;
    d->class_rev = pci_config_readl(d, PCI_CLASS_REVISION);
    d->header_type = pci_config_readl(d, PCI_HEADER_TYPE) >> 16;
    if ((d->header_type & 0x7f) != 0) {
        return;
    }
    uint32_t sub = pci_config_readl(d, PCI_SUBSYSTEM_VENDOR_ID);
    d->subsystem_vendor_id = sub & 0xffff;
    d->subsystem_id = sub >> 16;
    for (int n = 0; n < PCI_MAX_BARS;) {
        n += pci_bar_setup(d, n);
    }
    uint32_t cmd = pci_config_readl(d, PCI_COMMAND) & 0xffff;
    pci_config_writel(d, PCI_COMMAND, cmd | PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
}

int pci_enumerate(PCIDevice *out, int max)
{
    int found = 0;
    for (uint8_t dev = 0; dev < 32; dev++) {
        for (uint8_t fn = 0; fn < 8 && found < max; fn++) {
            PCIDevice *d = &out[found];
            memset(d, 0, sizeof(*d));
            d->dev = dev;
            d->fn = fn;
            uint32_t id = pci_config_readl(d, PCI_VENDOR_ID);
            if ((id & 0xffff) == 0xffff) {
                if (fn == 0) {
                    break;
                }
                continue;
            }
            pci_function_setup(d, id);
            found++;
            if (fn == 0 && !(d->header_type & 0x80)) {
                break;
            }
        }
    }
    return found;
}
