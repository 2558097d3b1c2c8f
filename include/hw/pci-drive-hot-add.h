/*
 * HMP drive_add's board side for a PC's PCI bus (hw/pci/pci-drive-hot-add.c): a board
 * registers it with drive_set_hot_add(pci_drive_hot_add, its root bus).
 */
#ifndef HW_PCI_DRIVE_HOT_ADD_H
#define HW_PCI_DRIVE_HOT_ADD_H

#include "blockdev/blockdev.h"

/* A DriveHotAddFunc: an if=scsi drive onto the SCSI adapter at "[[domain:]bus:]slot" of the
 * root bus opaque; "OK bus B, unit U\n", or NULL with QEMU 2.2's error texts. */
char *pci_drive_hot_add(void *opaque, const char *pci_addr, DriveInfo *dinfo, int unit,
                        Error **errp);

#endif
