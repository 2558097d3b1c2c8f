/*
 * PCI resources for boots that run no firmware (-kernel): the VMM leaves the bus as a BIOS's
 * PCI set-up would (SeaBIOS's pciinit is the model), so the OS finds decoding BARs and
 * interrupt lines it can use as they are. Each window is filled largest BAR first, every BAR
 * aligned to its size, which packs power-of-two sizes without holes. Through configuration
 * cycles, as the firmware would write them, so each device sees ordinary register writes.
 * Not the interrupt router's programming (the board's) and not expansion ROMs.
 */
#include <inttypes.h>
#include "hw/pci-assign.h"

typedef struct PCIAssignBar {
    uint8_t devfn;
    uint8_t n;
    uint64_t size;
    unsigned flags;
} PCIAssignBar;

static gint pci_assign_bar_cmp(gconstpointer a, gconstpointer b)
{
    const PCIAssignBar *x = a, *y = b;

    if (x->size != y->size) {
        return x->size > y->size ? -1 : 1;
    }
    return x->devfn != y->devfn ? x->devfn - y->devfn : x->n - y->n;
}

static GArray *pci_assign_collect(PCIBus *bus)
{
    GArray *bars = g_array_new(FALSE, FALSE, sizeof(PCIAssignBar));

    for (unsigned devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *dev = pci_find_device(bus, devfn);
        if (!dev || dev->unplugged) {
            continue;
        }
        for (int n = 0; n < PCI_STD_NUM_BARS; n++) {
            if (dev->bars[n].size) {
                PCIAssignBar b = { devfn, n, dev->bars[n].size, dev->bars[n].flags };
                g_array_append_val(bars, b);
            }
        }
    }
    g_array_sort(bars, pci_assign_bar_cmp);
    return bars;
}

static void pci_assign_write_bar(PCIBus *bus, const PCIAssignBar *b, uint64_t addr)
{
    unsigned reg = PCI_BASE_ADDRESS_0 + 4 * b->n;

    pci_bus_config_write(bus, b->devfn, reg, (uint32_t)addr, 4);
    if (b->flags & PCI_BAR_MEM64) {
        pci_bus_config_write(bus, b->devfn, reg + 4, (uint32_t)(addr >> 32), 4);
    }
}

/* Place one BAR at the next aligned address of its window; false when it does not fit. */
static bool pci_assign_place(PCIBus *bus, const PCIAssignBar *b, uint64_t *next, uint64_t end)
{
    uint64_t addr = (*next + b->size - 1) & ~(b->size - 1);

    if (addr < *next || addr > end || b->size > end - addr) {
        return false;
    }
    pci_assign_write_bar(bus, b, addr);
    *next = addr + b->size;
    return true;
}

/* Decoding is enabled for the kinds of BAR (I/O, memory) that all got an address. */
static void pci_assign_enable(PCIBus *bus, unsigned devfn, uint16_t unplaced,
                              const PCIAssignConfig *cfg)
{
    PCIDevice *dev = pci_find_device(bus, devfn);
    uint16_t cmd = pci_bus_config_read(bus, devfn, PCI_COMMAND, 2);
    uint8_t pin = dev->config[PCI_INTERRUPT_PIN];

    for (int n = 0; n < PCI_STD_NUM_BARS; n++) {
        if (dev->bars[n].size) {
            cmd |= dev->bars[n].flags & PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
        }
    }
    pci_bus_config_write(bus, devfn, PCI_COMMAND, cmd & ~unplaced, 2);
    if (pin >= 1 && pin <= PCI_NUM_PINS) {
        unsigned pirq = pci_slot_get_pirq(PCI_SLOT(devfn), pin);
        pci_bus_config_write(bus, devfn, PCI_INTERRUPT_LINE, cfg->pirq_irq[pirq], 1);
    }
}

bool pci_assign_resources(PCIBus *bus, const PCIAssignConfig *cfg, Error **errp)
{
    g_autoptr(GArray) bars = pci_assign_collect(bus);
    uint64_t io = cfg->io_start, mem = cfg->mem_start;
    uint16_t unplaced[PCI_DEVFN_MAX] = { 0 };
    bool ok = true;

    for (guint i = 0; i < bars->len; i++) {
        const PCIAssignBar *b = &g_array_index(bars, PCIAssignBar, i);
        bool is_io = b->flags & PCI_BAR_IO;

        if (pci_assign_place(bus, b, is_io ? &io : &mem, is_io ? cfg->io_end : cfg->mem_end)) {
            continue;
        }
        unplaced[b->devfn] |= is_io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
        if (ok) {
            error_setg(errp, "PCI %02x.%x BAR %u (0x%" PRIx64 " bytes) does not fit in the "
                       "%s window", PCI_SLOT(b->devfn), PCI_FUNC(b->devfn), b->n, b->size,
                       is_io ? "I/O" : "memory");
            ok = false;
        }
    }
    for (unsigned devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *dev = pci_find_device(bus, devfn);
        if (dev && !dev->unplugged) {
            pci_assign_enable(bus, devfn, unplaced[devfn], cfg);
        }
    }
    return ok;
}
