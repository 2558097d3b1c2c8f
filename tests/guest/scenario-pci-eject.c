/* Scenario `pci_eject [SECONDS]`: what a guest's ACPI _EJ0 does for PCI hotplug on the pc
 * machine. Wait (up to SECONDS, 10 by default) for a slot in PCI_DOWN (0xae04), write it to
 * PCI_EJ (0xae08) from CPL3, and pass once the slot's function 0 has gone (reads all ones),
 * 300 ms later. */
#include "guest.h"
#include "io.h"

#define PCI_DOWN 0xae04
#define PCI_EJ 0xae08
#define POLL_US 1000

static int pci_eject_run(int argc, char **argv)
{
    uint64_t polls = (argc > 1 ? strtou64(argv[1], NULL) : 10) * 1000000 / POLL_US;
    uint32_t down = 0;
    PCIDevice d = {0};

    for (uint64_t i = 0; i < polls && !(down = inl(PCI_DOWN)); i++) {
        clock_delay_us(POLL_US);
    }
    if (!down) {
        report_fail("no removal request in PCI_DOWN");
        return 1;
    }
    d.dev = __builtin_ctz(down);
    printf("DOWN slot %u\n", d.dev);
    outl(PCI_EJ, 1u << d.dev);
    for (uint64_t i = 0; i < polls && pci_config_readl(&d, 0) != 0xffffffff; i++) {
        clock_delay_us(POLL_US);
    }
    if (pci_config_readl(&d, 0) != 0xffffffff) {
        report_fail("slot %u still present after PCI_EJ", d.dev);
        return 1;
    }
    printf("EJECTED slot %u\n", d.dev);
    clock_delay_us(300 * 1000); /* the VMM's DEVICE_DELETED goes out before the power-off */
    return 0;
}

SCENARIO(pci_eject, pci_eject_run);
