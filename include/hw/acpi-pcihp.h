/*
 * ACPI PCI hotplug for bus 0 of the pc machine, the registers QEMU's PIIX4 PM exposes at
 * 0xae00 (QEMU 2.2's hw/acpi/pcihp.c, bridge support on): PCI_UP, PCI_DOWN, PCI_EJ,
 * PCI_RMV and PCI_SEL, one bit per slot. The PIIX4 function owns it and raises GPE0 bit 1
 * (PCI hotplug) when it asks for an SCI.
 */
#ifndef HW_ACPI_PCIHP_H
#define HW_ACPI_PCIHP_H

#include "hw/pci.h"
#include "hw/qdev.h"

#define ACPI_PCIHP_ADDR 0xae00
#define ACPI_PCI_HOTPLUG_STATUS 2 /* GPE0 status bit */

typedef struct AcpiPciHpState AcpiPciHpState;

/* Serve qbus (whose PCIBus is bus): hot-added devices raise send_gpe(opaque). */
AcpiPciHpState *acpi_pcihp_init(PCIBus *bus, BusState *qbus, void (*send_gpe)(void *opaque),
                                void *opaque);
/* Machine reset: pending removals happen, PCI_RMV is recomputed. */
void acpi_pcihp_reset(AcpiPciHpState *s);

#endif
