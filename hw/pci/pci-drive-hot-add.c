/*
 * HMP drive_add's board side on the PC (QEMU 2.2's pci_drive_hot_add): a drive with if=scsi
 * becomes a scsi-disk on the SCSI adapter at the PCI address the command names; drives of
 * other interfaces cannot be hot-added this way. Not the drive's creation or deletion
 * (blockdev/hmp-drive.c).
 */
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "hw/pci-drive-hot-add.h"
#include "hw/pci.h"
#include "hw/scsi.h"

/* "[[domain:]bus:]slot" in hex (after an optional "pci_addr=" tag), as 2.2 parses it. */
static bool pci_parse_slot_addr(const char *addr, unsigned *bus, unsigned *slot, Error **errp)
{
    unsigned long v[3];
    int n = 0;
    const char *p = g_str_has_prefix(addr, "pci_addr=") ? addr + 9 : addr;
    char *end;

    for (;;) {
        v[n++] = strtoul(p, &end, 16);
        if (end == p || !g_ascii_isxdigit(*p) || (*end != ':' && *end) || (*end && n == 3)) {
            error_setg(errp, "Invalid pci address");
            return false;
        }
        if (!*end) {
            break;
        }
        p = end + 1;
    }
    *slot = v[n - 1];
    *bus = n >= 2 ? v[n - 2] : 0;
    if ((n == 3 && v[0] > 0xffff) || *bus > 0xff || *slot > 0x1f) {
        error_setg(errp, "Invalid pci address");
        return false;
    }
    if (n == 3 && v[0] != 0) {
        error_setg(errp, "Multiple PCI domains not supported, use device_add");
        return false;
    }
    return true;
}

char *pci_drive_hot_add(void *opaque, const char *pci_addr, DriveInfo *dinfo, int unit,
                        Error **errp)
{
    PCIBus *root = opaque;
    PCIDevice *dev = NULL;
    BusState *qbus;
    SCSIBus *bus;
    SCSIDevice *sdev;
    unsigned pci_bus, slot;

    if (dinfo->type != IF_SCSI) {
        error_setg(errp, "Can't hot-add drive to type %d", dinfo->type);
        return NULL;
    }
    if (!pci_parse_slot_addr(pci_addr, &pci_bus, &slot, errp)) {
        return NULL;
    }
    if (pci_bus == 0) {
        dev = pci_find_device(root, PCI_DEVFN(slot, 0));
    }
    if (!dev) {
        error_setg(errp, "no pci device with address %s", pci_addr);
        return NULL;
    }
    qbus = qbus_find_child(dev->qdev, QBUS_TYPE_SCSI);
    if (!qbus) {
        error_setg(errp, "Device is not a SCSI adapter");
        return NULL;
    }
    bus = qbus->opaque;
    sdev = scsi_bus_legacy_add_drive(bus, drive_get_blk(dinfo), unit, errp);
    if (!sdev) {
        return NULL;
    }
    dinfo->bus = bus->busnr;
    dinfo->unit = sdev->id;
    return g_strdup_printf("OK bus %d, unit %u\n", bus->busnr, sdev->id);
}
