/*
 * The PCI core: configuration space with write masks, BAR sizing and (un)mapping as the
 * guest programs BARs and the command register, capability lists, and INTx: each device's
 * pin is swizzled onto one of four PIRQ lines, which the board's router (PIIX3) steers to
 * ISA IRQs; shared level lines are ORed here. Not the 0xcf8/0xcfc decoder (i440fx.c).
 * Every offset, length and BAR value arriving here comes from the guest and is checked.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "hw/irq.h"
#include "hw/msix.h"
#include "hw/pci.h"

#define PCI_ISA_IRQS 16
#define PCI_IO_SPACE_END 0xffffULL      /* x86 port space */
#define PCI_IO_BAR_MIN 4
#define PCI_MEM_BAR_MIN 16
#define PCI_ROM_BAR_MIN 0x800

struct PCIBus {
    PCIDevice *devices[PCI_DEVFN_MAX];
    PCIIRQRouter *router;
    void *router_opaque;
    unsigned pirq_count[PCI_NUM_PINS];  /* asserted INTx outputs on each PIRQ line */
    bool isa_level[PCI_ISA_IRQS];       /* what we last drove on each ISA IRQ */
};

static bool ranges_overlap(unsigned a, unsigned alen, unsigned b, unsigned blen)
{
    return a < b + blen && b < a + alen;
}

/* What a read of len bytes from nowhere returns. */
static uint32_t pci_all_ones(unsigned len)
{
    return len >= 4 ? UINT32_MAX : (1u << (8 * len)) - 1;
}

PCIBus *pci_bus_new(void)
{
    return g_new0(PCIBus, 1);
}

void pci_bus_free(PCIBus *bus)
{
    for (unsigned devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *dev = bus->devices[devfn];
        if (!dev) {
            continue;
        }
        for (int n = 0; n < PCI_NUM_REGIONS; n++) {
            io_region_del(dev->bars[n].region);
        }
        msix_free(dev);
        g_free(dev);
    }
    g_free(bus);
}

PCIDevice *pci_find_device(PCIBus *bus, unsigned devfn)
{
    return devfn < PCI_DEVFN_MAX ? bus->devices[devfn] : NULL;
}

/* ---- INTx ---- */

unsigned pci_slot_get_pirq(unsigned slot, unsigned pin)
{
    /* The PIIX board rotates INTA of slot 1 onto PIRQA; SeaBIOS's $PIR and MP tables and
     * its INTERRUPT_LINE values assume exactly this swizzle. */
    return (slot - 1 + pin - 1) & (PCI_NUM_PINS - 1);
}

static unsigned pci_device_pirq(PCIDevice *dev)
{
    unsigned pin = dev->config[PCI_INTERRUPT_PIN];

    if (pin < 1 || pin > PCI_NUM_PINS) {
        pin = 1;
    }
    return pci_slot_get_pirq(PCI_SLOT(dev->devfn), pin);
}

static int pci_bus_route(PCIBus *bus, unsigned pirq)
{
    int irq = bus->router ? bus->router(bus->router_opaque, pirq) : -1;

    return irq >= 0 && irq < PCI_ISA_IRQS ? irq : -1;
}

static void pci_bus_update_irqs(PCIBus *bus)
{
    unsigned count[PCI_ISA_IRQS] = { 0 };

    for (unsigned pirq = 0; pirq < PCI_NUM_PINS; pirq++) {
        int irq = bus->pirq_count[pirq] ? pci_bus_route(bus, pirq) : -1;
        if (irq >= 0) {
            count[irq] += bus->pirq_count[pirq];
        }
    }
    for (unsigned irq = 0; irq < PCI_ISA_IRQS; irq++) {
        bool level = count[irq] > 0;
        if (level != bus->isa_level[irq]) {
            bus->isa_level[irq] = level;
            irq_set_level(irq, level);
        }
    }
}

void pci_bus_set_irq_router(PCIBus *bus, PCIIRQRouter *fn, void *opaque)
{
    bus->router = fn;
    bus->router_opaque = opaque;
    pci_bus_update_irqs(bus);
}

void pci_bus_irq_routing_changed(PCIBus *bus)
{
    pci_bus_update_irqs(bus);
}

/* Count the device on its PIRQ line while its output is high and INTx is not disabled. */
static void pci_intx_update(PCIDevice *dev)
{
    uint16_t cmd = pci_get_word(dev->config + PCI_COMMAND);
    bool assert = dev->irq_level && !dev->unplugged && !(cmd & PCI_COMMAND_INTX_DISABLE);
    unsigned pirq = pci_device_pirq(dev);

    if (assert == dev->irq_counted) {
        return;
    }
    dev->irq_counted = assert;
    if (assert) {
        dev->bus->pirq_count[pirq]++;
    } else {
        dev->bus->pirq_count[pirq]--;
    }
    pci_bus_update_irqs(dev->bus);
}

void pci_set_irq(PCIDevice *dev, bool level)
{
    uint16_t status = pci_get_word(dev->config + PCI_STATUS);

    status = level ? status | PCI_STATUS_INTERRUPT : status & ~PCI_STATUS_INTERRUPT;
    pci_set_word(dev->config + PCI_STATUS, status);
    dev->irq_level = level;
    pci_intx_update(dev);
}

/* ---- BARs ---- */

static unsigned pci_bar_offset(int n)
{
    return n == PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * n;
}

static uint32_t pci_bar_type_bits(unsigned flags)
{
    if (flags & PCI_BAR_IO) {
        return PCI_BASE_ADDRESS_SPACE_IO;
    }
    return (flags & PCI_BAR_MEM64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) |
           (flags & PCI_BAR_PREFETCH ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
}

static bool is_power_of_2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static bool pci_bar_args_ok(PCIDevice *dev, int n, uint64_t size, unsigned flags)
{
    if (n < 0 || n >= PCI_NUM_REGIONS || dev->bars[n].size || !is_power_of_2(size) ||
        (n > 0 && (dev->bars[n - 1].flags & PCI_BAR_MEM64))) {
        return false;   /* taken, including as the upper half of a 64-bit BAR */
    }
    switch (flags & (PCI_BAR_IO | PCI_BAR_MEM32 | PCI_BAR_MEM64)) {
    case PCI_BAR_IO:
        return n != PCI_ROM_SLOT && !(flags & PCI_BAR_PREFETCH) && size >= PCI_IO_BAR_MIN &&
               size <= PCI_IO_SPACE_END + 1;
    case PCI_BAR_MEM32:
        return size >= (n == PCI_ROM_SLOT ? PCI_ROM_BAR_MIN : PCI_MEM_BAR_MIN) &&
               size <= 1ULL << 31;
    case PCI_BAR_MEM64:
        return n + 1 < PCI_STD_NUM_BARS && !dev->bars[n + 1].size && size >= PCI_MEM_BAR_MIN;
    default:
        return false;
    }
}

void pci_register_bar(PCIDevice *dev, int n, uint64_t size, unsigned flags, const IOOps *ops,
                      void *opaque)
{
    unsigned off = pci_bar_offset(n);
    uint64_t wmask = ~(size - 1);
    g_autofree char *name = NULL;

    g_return_if_fail(pci_bar_args_ok(dev, n, size, flags));
    dev->bars[n] = (PCIBar){ .size = size, .flags = flags };
    if (flags & PCI_BAR_MEM64) {
        pci_set_quad(dev->config + off, pci_bar_type_bits(flags));
        pci_set_quad(dev->wmask + off, wmask);
    } else {
        pci_set_long(dev->config + off, n == PCI_ROM_SLOT ? 0 : pci_bar_type_bits(flags));
        pci_set_long(dev->wmask + off, (uint32_t)wmask | (n == PCI_ROM_SLOT ? 1 : 0));
    }
    name = g_strdup_printf("%s BAR%d", dev->info->name, n);
    dev->bars[n].region = io_region_add(flags & PCI_BAR_IO ? IO_SPACE_PIO : IO_SPACE_MMIO,
                                        PCI_BAR_UNMAPPED, size, ops, opaque, name);
}

/* Where the BAR's current value and the command register say it should decode. */
static uint64_t pci_bar_decode(PCIDevice *dev, int n)
{
    const PCIBar *bar = &dev->bars[n];
    const uint8_t *reg = dev->config + pci_bar_offset(n);
    uint16_t cmd = pci_get_word(dev->config + PCI_COMMAND);
    uint64_t addr, limit;

    if (bar->flags & PCI_BAR_IO) {
        if (!(cmd & PCI_COMMAND_IO)) {
            return PCI_BAR_UNMAPPED;
        }
        addr = pci_get_long(reg);
        limit = PCI_IO_SPACE_END;
    } else {
        if (!(cmd & PCI_COMMAND_MEMORY)) {
            return PCI_BAR_UNMAPPED;
        }
        addr = bar->flags & PCI_BAR_MEM64 ? pci_get_quad(reg) : pci_get_long(reg);
        if (n == PCI_ROM_SLOT && !(addr & PCI_ROM_ADDRESS_ENABLE)) {
            return PCI_BAR_UNMAPPED;
        }
        /* The top address of each space is where a BAR written with all ones lands. */
        limit = bar->flags & PCI_BAR_MEM64 ? UINT64_MAX - 1 : UINT32_MAX - 1;
    }
    addr &= ~(bar->size - 1);
    if (addr == 0 || addr + bar->size - 1 < addr || addr + bar->size - 1 > limit) {
        return PCI_BAR_UNMAPPED;
    }
    return addr;
}

uint64_t pci_bar_address(PCIDevice *dev, int n)
{
    IORegion *r = n >= 0 && n < PCI_NUM_REGIONS ? dev->bars[n].region : NULL;

    return r && io_region_mapped(r) ? io_region_base(r) : PCI_BAR_UNMAPPED;
}

static void pci_update_mappings(PCIDevice *dev)
{
    for (int n = 0; n < PCI_NUM_REGIONS; n++) {
        if (dev->bars[n].region) {
            uint64_t addr = pci_bar_decode(dev, n);
            if (addr != pci_bar_address(dev, n)) {
                io_region_move(dev->bars[n].region, addr);
            }
        }
    }
}

/* ---- configuration space ---- */

static void pci_init_masks(PCIDevice *dev)
{
    pci_set_word(dev->wmask + PCI_COMMAND,
                 PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                     PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
    pci_set_word(dev->w1cmask + PCI_STATUS,
                 PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |
                     PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR |
                     PCI_STATUS_DETECTED_PARITY);
    dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
    /* Device-specific registers are the device's business; they start writable. */
    memset(dev->wmask + PCI_STD_HEADER_SIZEOF, 0xff,
           PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF);
}

#define PCI_SUBVENDOR_ID_REDHAT_QUMRANET 0x1af4
#define PCI_SUBDEVICE_ID_QEMU            0x1100

static void pci_init_header(PCIDevice *dev)
{
    const PCIDeviceInfo *info = dev->info;

    pci_set_word(dev->config + PCI_VENDOR_ID, info->vendor_id);
    pci_set_word(dev->config + PCI_DEVICE_ID, info->device_id);
    pci_set_long(dev->config + PCI_CLASS_REVISION, info->class_code << 8 | info->revision);
    dev->config[PCI_HEADER_TYPE] = info->header_type;
    /* Like QEMU, devices without their own subsystem IDs (both 0) carry Red Hat's "QEMU
     * virtual machine" pair: SeaBIOS reads it from 00:00.0 to know it runs on a QEMU-style
     * board. */
    if (info->subsystem_vendor_id || info->subsystem_id) {
        pci_set_word(dev->config + PCI_SUBSYSTEM_VENDOR_ID, info->subsystem_vendor_id);
        pci_set_word(dev->config + PCI_SUBSYSTEM_ID, info->subsystem_id);
    } else {
        pci_set_word(dev->config + PCI_SUBSYSTEM_VENDOR_ID, PCI_SUBVENDOR_ID_REDHAT_QUMRANET);
        pci_set_word(dev->config + PCI_SUBSYSTEM_ID, PCI_SUBDEVICE_ID_QEMU);
    }
    dev->config[PCI_INTERRUPT_PIN] = info->interrupt_pin;
}

static int pci_bus_free_devfn(PCIBus *bus)
{
    for (int devfn = 0; devfn < PCI_DEVFN_MAX; devfn += 8) {
        if (!bus->devices[devfn]) {
            return devfn;
        }
    }
    return -1;
}

PCIDevice *pci_device_new(PCIBus *bus, int devfn, const PCIDeviceInfo *info, void *opaque,
                          Error **errp)
{
    const char *name = info->name;
    PCIDevice *dev;

    g_return_val_if_fail(name, NULL);
    if (devfn < 0) {
        devfn = pci_bus_free_devfn(bus);
        if (devfn < 0) {
            error_setg(errp, "PCI: no slot/function available for %s, all in use", name);
            return NULL;
        }
    }
    if (devfn >= PCI_DEVFN_MAX) {
        error_setg(errp, "PCI: devfn %d out of range for %s", devfn, name);
        return NULL;
    }
    if (bus->devices[devfn]) {
        error_setg(errp, "PCI: slot %d function %d not available for %s, in use by %s",
                   PCI_SLOT(devfn), PCI_FUNC(devfn), name, bus->devices[devfn]->info->name);
        return NULL;
    }
    dev = g_new0(PCIDevice, 1);
    dev->bus = bus;
    dev->info = info;
    dev->opaque = opaque;
    dev->devfn = devfn;
    pci_init_header(dev);
    pci_init_masks(dev);
    bus->devices[devfn] = dev;
    return dev;
}

int pci_add_capability(PCIDevice *dev, uint8_t cap_id, uint8_t offset, uint8_t size)
{
    if (offset < PCI_STD_HEADER_SIZEOF || (offset & 3) || size < 2 ||
        offset + size > PCI_CFG_SPACE_SIZE) {
        return -EINVAL;
    }
    if (memchr(dev->cap_used + offset, 1, size)) {
        return -EBUSY;
    }
    memset(dev->cap_used + offset, 1, size);
    memset(dev->wmask + offset, 0, size);
    dev->config[offset] = cap_id;
    dev->config[offset + PCI_CAP_LIST_NEXT] = dev->config[PCI_CAPABILITY_LIST];
    dev->config[PCI_CAPABILITY_LIST] = offset;
    pci_set_word(dev->config + PCI_STATUS,
                 pci_get_word(dev->config + PCI_STATUS) | PCI_STATUS_CAP_LIST);
    return offset;
}

static bool pci_config_access_ok(unsigned addr, unsigned len)
{
    return (len == 1 || len == 2 || len == 4) && addr < PCI_CFG_SPACE_SIZE &&
           len <= PCI_CFG_SPACE_SIZE - addr;
}

uint32_t pci_default_config_read(PCIDevice *dev, unsigned addr, unsigned len)
{
    uint32_t val = 0;

    if (!pci_config_access_ok(addr, len)) {
        return pci_all_ones(len);
    }
    for (unsigned i = 0; i < len; i++) {
        val |= (uint32_t)dev->config[addr + i] << (8 * i);
    }
    return val;
}

static void pci_default_config_write(PCIDevice *dev, unsigned addr, uint32_t val, unsigned len)
{
    for (unsigned i = 0; i < len; i++) {
        uint8_t b = val >> (8 * i);
        uint8_t wm = dev->wmask[addr + i];
        uint8_t *c = &dev->config[addr + i];

        *c = (*c & ~wm) | (b & wm);
        *c &= ~(b & dev->w1cmask[addr + i]);
    }
    if (ranges_overlap(addr, len, PCI_COMMAND, 2) ||
        ranges_overlap(addr, len, PCI_BASE_ADDRESS_0, 4 * PCI_STD_NUM_BARS) ||
        ranges_overlap(addr, len, PCI_ROM_ADDRESS, 4)) {
        pci_update_mappings(dev);
    }
    if (ranges_overlap(addr, len, PCI_COMMAND, 2)) {
        pci_intx_update(dev);
    }
}

uint32_t pci_bus_config_read(PCIBus *bus, unsigned devfn, unsigned addr, unsigned len)
{
    PCIDevice *dev = pci_find_device(bus, devfn);

    if (!dev || !pci_config_access_ok(addr, len)) {
        return pci_all_ones(len);
    }
    if (dev->info->config_read) {
        return dev->info->config_read(dev, addr, len);
    }
    return pci_default_config_read(dev, addr, len);
}

void pci_bus_config_write(PCIBus *bus, unsigned devfn, unsigned addr, uint32_t val,
                          unsigned len)
{
    PCIDevice *dev = pci_find_device(bus, devfn);

    if (!dev || !pci_config_access_ok(addr, len)) {
        return;
    }
    pci_default_config_write(dev, addr, val, len);
    msix_config_write(dev, addr, val, len);
    if (dev->info->config_write) {
        dev->info->config_write(dev, addr, val, len);
    }
}

/* ---- hot-unplug ---- */

void pci_device_unplug(PCIDevice *dev)
{
    if (dev->unplugged) {
        return;
    }
    pci_set_irq(dev, false);
    for (int n = 0; n < PCI_NUM_REGIONS; n++) {
        io_region_del(dev->bars[n].region);
        dev->bars[n].region = NULL;
    }
    if (dev->bus->devices[dev->devfn] == dev) {
        dev->bus->devices[dev->devfn] = NULL;
    }
    dev->unplugged = true;
}

void pci_device_free(PCIDevice *dev)
{
    pci_device_unplug(dev);
    msix_free(dev);
    g_free(dev);
}

/* ---- reset ---- */

static void pci_reset_bars(PCIDevice *dev)
{
    for (int n = 0; n < PCI_NUM_REGIONS; n++) {
        const PCIBar *bar = &dev->bars[n];
        uint8_t *reg = dev->config + pci_bar_offset(n);

        if (!bar->size) {
            continue;
        }
        if (bar->flags & PCI_BAR_MEM64) {
            pci_set_quad(reg, pci_bar_type_bits(bar->flags));
        } else {
            pci_set_long(reg, n == PCI_ROM_SLOT ? 0 : pci_bar_type_bits(bar->flags));
        }
    }
}

void pci_device_reset(PCIDevice *dev)
{
    uint16_t cmd = pci_get_word(dev->config + PCI_COMMAND);
    uint16_t status = pci_get_word(dev->config + PCI_STATUS);

    pci_set_word(dev->config + PCI_COMMAND, cmd & ~pci_get_word(dev->wmask + PCI_COMMAND));
    pci_set_word(dev->config + PCI_STATUS, status & ~pci_get_word(dev->w1cmask + PCI_STATUS));
    dev->config[PCI_CACHE_LINE_SIZE] = 0;
    dev->config[PCI_INTERRUPT_LINE] = 0;
    pci_reset_bars(dev);
    pci_update_mappings(dev);
    pci_set_irq(dev, false);
    msix_reset(dev);
    if (dev->info->reset) {
        dev->info->reset(dev);
    }
}

void pci_device_reset_all(PCIBus *bus)
{
    for (unsigned devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        if (bus->devices[devfn]) {
            pci_device_reset(bus->devices[devfn]);
        }
    }
}
