/*
 * PCI resources for boots that run no firmware (-kernel): what a BIOS's PCI set-up leaves
 * behind for the OS, done by the VMM. See hw/pci/pci-assign.c.
 */
#ifndef HW_PCI_ASSIGN_H
#define HW_PCI_ASSIGN_H

#include <stdbool.h>
#include <stdint.h>
#include "hw/pci.h"

typedef struct PCIAssignConfig {
    uint64_t io_start, io_end;      /* I/O BARs go in [io_start, io_end) */
    uint64_t mem_start, mem_end;    /* memory BARs (32- and 64-bit alike) in [mem_start, mem_end) */
    uint8_t pirq_irq[PCI_NUM_PINS]; /* the ISA IRQ each PIRQ line is steered to */
} PCIAssignConfig;

/*
 * Give every BAR of every function on bus an address (largest first, naturally aligned),
 * enable I/O and memory decoding, and write INTERRUPT_LINE of each function with an
 * interrupt pin. Expansion ROMs stay unassigned. Returns false, with the BARs that did fit
 * assigned, when a window is too small.
 */
bool pci_assign_resources(PCIBus *bus, const PCIAssignConfig *cfg, Error **errp);

#endif
