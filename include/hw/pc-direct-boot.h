/*
 * What the PC's firmware leaves behind for an OS, provided by the VMM when -kernel boots
 * without firmware. See hw/i386/pc-direct-boot.c.
 */
#ifndef HW_PC_DIRECT_BOOT_H
#define HW_PC_DIRECT_BOOT_H

#include <stdint.h>
#include "hw/pci.h"

/* At every reset (after the devices' own): PCI resources, PIRQ routing, MP table, BDA. */
void pc_direct_boot_init(PCIBus *bus, uint8_t *ram, unsigned cpus);

#endif
