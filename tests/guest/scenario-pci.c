/* Scenario `pci`: enumerate bus 0 and print each function's IDs, class and assigned BARs. */
#include "guest.h"

#define PCI_MAX_FUNCTIONS 64

static PCIDevice pci_devices[PCI_MAX_FUNCTIONS];

static void pci_print(const PCIDevice *d)
{
    printf("PCI %02x:%02x.%x %04x:%04x sub %04x:%04x class %06x rev %02x hdr %02x\n",
           d->bus, d->dev, d->fn, d->vendor_id, d->device_id, d->subsystem_vendor_id,
           d->subsystem_id, d->class_rev >> 8, d->class_rev & 0xff, d->header_type);
    for (int n = 0; n < PCI_MAX_BARS; n++) {
        const PCIBar *b = &d->bar[n];
        if (b->size) {
            printf("  BAR%d %s 0x%lx size 0x%lx\n", n, b->io ? "io" : b->mem64 ? "mem64" : "mem",
                   b->addr, b->size);
        }
    }
}

static int pci_run(int argc, char **argv)
{
    int n = pci_enumerate(pci_devices, PCI_MAX_FUNCTIONS);
    for (int i = 0; i < n; i++) {
        pci_print(&pci_devices[i]);
    }
    if (n == 0) {
        report_fail("no PCI functions on bus 0");
        return -1;
    }
    return 0;
}

SCENARIO(pci, pci_run);
