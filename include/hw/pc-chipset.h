/*
 * The PC chipset functions a board instantiates: the i440FX host bridge (with the type-1
 * configuration mechanism), the PIIX3 PCI-ISA bridge (PIRQ routing, reset control) and the
 * PIIX4 power-management function (ACPI PM registers, PM timer, power-off). Not the ISA
 * devices behind the bridge (RTC, serial, i8042...), each of which has its own file.
 */
#ifndef HW_PC_CHIPSET_H
#define HW_PC_CHIPSET_H

#include "hw/pci.h"

#define PIIX3_DEVFN PCI_DEVFN(1, 0)
#define PIIX3_PIRQRC 0x60           /* PIRQRC[A:D]: 0x60-0x63, one ISA IRQ per PIRQ line */
#define PIIX4_PM_DEVFN PCI_DEVFN(1, 3)
#define PIIX4_PM_SCI_IRQ 9

/* Host bridge 00:00.0 and ports 0xcf8/0xcfc; registers the PCI reset handler. */
PCIBus *i440fx_init(void);
/* PCI-ISA bridge: PIRQ router of the bus and the reset control register at 0xcf9. */
void piix3_init(PCIBus *bus, int devfn);
/* ACPI PM function: PM1 event/control and PM timer at PMBA, GPE0 at 0xafe0, APM 0xb2/0xb3. */
void piix4_pm_init(PCIBus *bus, int devfn, unsigned sci_irq);

#endif
