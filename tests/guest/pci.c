/*
 * PCI bus 0 through configuration mechanism #1 (0xcf8/0xcfc): find every function, size its
 * BARs and assign them in order of discovery (I/O from 0xc000, MMIO from 0xe0000000, each
 * naturally aligned), then enable I/O and memory decoding; or only look, leaving the BARs
 * where the firmware put them. No bridges, no option ROMs.
 */
#include "guest.h"
#include "io.h"

enum {
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

/* Size BAR n and note where it decodes now, leaving it as it was; returns the number of
 * BAR slots it uses. */
static int pci_bar_probe(PCIDevice *d, int n)
{
    uint8_t off = PCI_BASE_ADDRESS_0 + 4 * n;
    PCIBar *bar = &d->bar[n];
    uint32_t orig = pci_config_readl(d, off), orig_hi = 0;
    bar->io = orig & PCI_BAR_IO;
    bar->mem64 = !bar->io && (orig & PCI_BAR_MEM_TYPE_64);
    pci_config_writel(d, off, 0xffffffff);
    uint64_t mask = pci_config_readl(d, off) & (bar->io ? ~0x3u : ~0xfu);
    pci_config_writel(d, off, orig);
    if (bar->mem64) {
        orig_hi = pci_config_readl(d, off + 4);
        pci_config_writel(d, off + 4, 0xffffffff);
        mask |= (uint64_t)pci_config_readl(d, off + 4) << 32;
        pci_config_writel(d, off + 4, orig_hi);
    } else if (mask) {
        mask |= 0xffffffff00000000ull;
    }
    bar->size = mask ? ~mask + 1 : 0;
    if (bar->io) {
        bar->size &= 0xffff;
    }
    bar->addr = ((uint64_t)orig_hi << 32 | orig) & (bar->io ? ~0x3ull : ~0xfull);
    return bar->mem64 ? 2 : 1;
}

/* Give a sized BAR the next address of its window. */
static void pci_bar_assign(PCIDevice *d, int n)
{
    uint8_t off = PCI_BASE_ADDRESS_0 + 4 * n;
    PCIBar *bar = &d->bar[n];

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
}

static void pci_function_setup(PCIDevice *d, uint32_t id, bool assign)
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
        int slots = pci_bar_probe(d, n);
        if (assign && d->bar[n].size) {
            pci_bar_assign(d, n);
        }
        n += slots;
    }
    if (assign) {
        uint32_t cmd = pci_config_readl(d, PCI_COMMAND) & 0xffff;
        pci_config_writel(d, PCI_COMMAND, cmd | PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    }
}

static int pci_walk(PCIDevice *out, int max, bool assign)
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
            pci_function_setup(d, id, assign);
            found++;
            if (fn == 0 && !(d->header_type & 0x80)) {
                break;
            }
        }
    }
    return found;
}

int pci_enumerate(PCIDevice *out, int max)
{
    return pci_walk(out, max, true);
}

int pci_scan(PCIDevice *out, int max)
{
    return pci_walk(out, max, false);
}
