/*
 * The PIIX3 IDE function (00:01.1, 8086:7010): two legacy ATA channels (0x1f0/0x3f6 on
 * IRQ 14, 0x170/0x376 on IRQ 15) with bus-master DMA behind BAR4, the IDE buses "ide.0"
 * and "ide.1" that -device ide-hd/ide-cd/ide-drive plug into, and what a PC board needs
 * from it: drives for -drive if=ide (index -> bus, unit) and the CMOS disk bytes.
 */
#ifndef HW_IDE_H
#define HW_IDE_H

#include <stdbool.h>
#include "hw/pci.h"
#include "hw/rtc.h"
#include "util/error.h"

#define PIIX3_IDE_DEVFN PCI_DEVFN(1, 1)

/* Create the function at devfn and an ide-hd or ide-cd for each -drive if=ide on buses 0
 * and 1. False with errp when such a drive cannot be used ("Can't use a read-only drive").
 */
bool piix3_ide_init(PCIBus *bus, int devfn, Error **errp);
/*
 * CMOS as QEMU's pc board sets it, once every device exists: 0x12 disk types, 0x19/0x1a
 * extended types (47) with parameter tables at 0x1b and 0x24, and 0x39 the BIOS
 * translation of the four drives (2 bits each: 0 none, 1 LBA, 2 large, 3 rechs).
 */
void ide_cmos_init(RTCState *rtc);
/*
 * Remove every IDE disk device (not the CD-ROMs) and the -drive drives they hold, as the Xen
 * platform's "unplug emulated disks" asks: the units read as empty afterwards. Main loop.
 */
void ide_unplug_disks(void);

#endif
