/*
 * ACPI PCI hotplug on bus 0, as QEMU's pc machine has it (hw/acpi/pcihp.c of 2.2 with bridge
 * support on, so reading PCI_UP clears it): a 20-byte window at 0xae00 of 32-bit registers,
 * one bit per slot. A hot-added device sets its slot's PCI_UP bit, device_del sets PCI_DOWN,
 * and both raise GPE0 bit 1; the guest's ACPI code writes the slot's bit to PCI_EJ and the
 * functions of that slot that are hotpluggable are removed (a hostile mask removes nothing
 * else: only the lowest bit counts and non-hotpluggable functions stay). PCI_RMV lists the
 * slots without such functions; PCI_SEL picks the bus (only 0 exists; others read as empty
 * buses, all removable, as in QEMU). A removal requested
 * from a vCPU happens in the main loop, where the device's requests can be drained.
 * Not the GPE block itself (piix4-pm.c) and not the device's own teardown.
 */
#include <unistd.h>
#include <glib.h>
#include "hw/acpi-pcihp.h"
#include "hw/ioport.h"
#include "util/main-loop.h"

#define ACPI_PCIHP_SIZE 0x14
#define PCI_SLOT_MAX 32
#define PCI_FUNC_MAX 8
#define ACPI_PCIHP_MAX_HOTPLUG_BUS 256 /* PCI_SEL values with a (maybe empty) status */

enum AcpiPciHpRegs {
    PCI_UP_BASE = 0x00,
    PCI_DOWN_BASE = 0x04,
    PCI_EJ_BASE = 0x08,
    PCI_RMV_BASE = 0x0c,
    PCI_SEL_BASE = 0x10,
};

struct AcpiPciHpState {
    PCIBus *bus;
    uint32_t up;
    uint32_t down;
    uint32_t hotplug_enable; /* PCI_RMV */
    uint32_t select;         /* PCI_SEL: the bus the other registers describe */
    void (*send_gpe)(void *opaque);
    void *opaque;
};

typedef struct AcpiPciHpEject {
    AcpiPciHpState *s;
    unsigned slot;
} AcpiPciHpEject;

static PCIDevice *acpi_pcihp_find(AcpiPciHpState *s, DeviceState *qdev)
{
    for (unsigned devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *dev = pci_find_device(s->bus, devfn);

        if (dev && dev->qdev == qdev) {
            return dev;
        }
    }
    return NULL;
}

static bool acpi_pcihp_is_hotpluggable(PCIDevice *dev)
{
    return dev->qdev && dev->qdev->dc->hotpluggable;
}

/* ---- eject ---- */

static void acpi_pcihp_eject_slot(AcpiPciHpState *s, unsigned slot)
{
    for (unsigned fn = 0; fn < PCI_FUNC_MAX; fn++) {
        PCIDevice *dev = pci_find_device(s->bus, PCI_DEVFN(slot, fn));

        if (dev && acpi_pcihp_is_hotpluggable(dev)) {
            qdev_device_delete(dev->qdev);
        }
    }
}

static void acpi_pcihp_eject_bh(void *opaque)
{
    AcpiPciHpEject *e = opaque;

    acpi_pcihp_eject_slot(e->s, e->slot);
    g_free(e);
}

/* The guest's PCI_EJ write: the request is complete now; the functions go in the main
 * loop (at once when this is it, as under qtest). */
static void acpi_pcihp_eject(AcpiPciHpState *s, uint32_t slots)
{
    unsigned slot;
    AcpiPciHpEject *e;

    if (!slots) {
        return;
    }
    slot = __builtin_ctz(slots);
    s->down &= ~(1U << slot);
    s->up &= ~(1U << slot);
    if (gettid() == getpid()) {
        acpi_pcihp_eject_slot(s, slot);
        return;
    }
    e = g_new(AcpiPciHpEject, 1);
    *e = (AcpiPciHpEject){s, slot};
    main_loop_call_outer(acpi_pcihp_eject_bh, e);
}

/* ---- registers ---- */

static uint64_t acpi_pcihp_read(void *opaque, uint64_t addr, unsigned size)
{
    AcpiPciHpState *s = opaque;
    uint32_t val = 0;

    if (size != 4 || s->select >= ACPI_PCIHP_MAX_HOTPLUG_BUS) {
        return 0;
    }
    if (s->select != 0) {
        /* A bus that does not exist: nothing comes or goes, nothing is pinned. */
        return addr == PCI_RMV_BASE ? ~0U : addr == PCI_SEL_BASE ? s->select : 0;
    }
    switch (addr) {
    case PCI_UP_BASE:
        val = s->up;
        s->up = 0;
        break;
    case PCI_DOWN_BASE:
        val = s->down;
        break;
    case PCI_RMV_BASE:
        val = s->hotplug_enable;
        break;
    case PCI_SEL_BASE:
        val = s->select;
        break;
    }
    return val;
}

static void acpi_pcihp_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    AcpiPciHpState *s = opaque;

    if (size != 4) {
        return;
    }
    if (addr == PCI_EJ_BASE && s->select == 0) {
        acpi_pcihp_eject(s, val);
    } else if (addr == PCI_SEL_BASE) {
        s->select = val;
    }
}

static const IOOps acpi_pcihp_ops = {
    .read = acpi_pcihp_read,
    .write = acpi_pcihp_write,
};

/* ---- the bus's hotplug controller ---- */

/* QEMU refuses a new function in a slot whose function 0 is there (the guest would not
 * rescan it); an occupied devfn is the PCI core's "in use" error. */
static bool acpi_pcihp_pre_plug(void *opaque, DeviceState *qdev, Error **errp)
{
    AcpiPciHpState *s = opaque;
    int32_t devfn = qdev_get_pci_devfn(qdev);
    PCIDevice *fn0;

    if (devfn < 0 || devfn >= PCI_DEVFN_MAX || !PCI_FUNC(devfn) || pci_find_device(s->bus, devfn)) {
        return true;
    }
    fn0 = pci_find_device(s->bus, PCI_DEVFN(PCI_SLOT(devfn), 0));
    if (fn0) {
        error_setg(errp,
                   "PCI: slot %d function 0 already ocuppied by %s, new func %s cannot be "
                   "exposed to guest.",
                   PCI_SLOT(devfn), fn0->info->name, qdev->dc->name);
        return false;
    }
    return true;
}

static void acpi_pcihp_plug(void *opaque, DeviceState *qdev)
{
    AcpiPciHpState *s = opaque;
    PCIDevice *dev = acpi_pcihp_find(s, qdev);

    if (dev) {
        s->up |= 1U << PCI_SLOT(dev->devfn);
        s->send_gpe(s->opaque);
    }
}

static void acpi_pcihp_unplug_request(void *opaque, DeviceState *qdev)
{
    AcpiPciHpState *s = opaque;
    PCIDevice *dev = acpi_pcihp_find(s, qdev);

    if (dev) {
        s->down |= 1U << PCI_SLOT(dev->devfn);
        s->send_gpe(s->opaque);
    }
}

static const HotplugOps acpi_pcihp_hotplug_ops = {
    .pre_plug = acpi_pcihp_pre_plug,
    .plug = acpi_pcihp_plug,
    .unplug_request = acpi_pcihp_unplug_request,
};

void acpi_pcihp_reset(AcpiPciHpState *s)
{
    while (s->down) {
        unsigned slot = __builtin_ctz(s->down);

        s->down &= ~(1U << slot);
        s->up &= ~(1U << slot);
        acpi_pcihp_eject_slot(s, slot);
    }
    s->hotplug_enable = ~0U;
    for (unsigned devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *dev = pci_find_device(s->bus, devfn);

        if (dev && !acpi_pcihp_is_hotpluggable(dev)) {
            s->hotplug_enable &= ~(1U << PCI_SLOT(devfn));
        }
    }
}

AcpiPciHpState *acpi_pcihp_init(PCIBus *bus, BusState *qbus, void (*send_gpe)(void *opaque),
                                void *opaque)
{
    AcpiPciHpState *s = g_new0(AcpiPciHpState, 1);

    s->bus = bus;
    s->send_gpe = send_gpe;
    s->opaque = opaque;
    portio_add(ACPI_PCIHP_ADDR, ACPI_PCIHP_SIZE, &acpi_pcihp_ops, s, "acpi-pci-hotplug");
    if (qbus) {
        qbus->hotplug_ops = &acpi_pcihp_hotplug_ops;
        qbus->hotplug_opaque = s;
    }
    acpi_pcihp_reset(s);
    return s;
}
