/*
 * A kernel booted with -kernel runs no firmware, so the VMM leaves the machine as SeaBIOS
 * would have, at every reset: PCI BARs assigned and decoding, PIRQA-D steered to IRQs 10, 10,
 * 11, 11 with INTERRUPT_LINE set to match (the PM function's says IRQ 9, its SCI) and IRQs 10
 * and 11 level-triggered in the PIC's ELCR, an MP table (floating pointer in the last KiB of
 * base memory, where an OS scans for it) and the BIOS data area words that say where that KiB
 * is (EBDA segment, 639 KiB of base memory). An OS can then use the PCI devices and the I/O
 * APIC without probing. No ACPI tables: an OS without them falls back to the MP table.
 */
#include <cpuid.h>
#include <string.h>
#include "hw/kvm.h"
#include "hw/machine.h"
#include "hw/mptable.h"
#include "hw/pc-chipset.h"
#include "hw/pc-direct-boot.h"
#include "hw/pci-assign.h"

enum {
    BDA_EBDA_SEGMENT = 0x40e,
    BDA_BASE_MEM_KB = 0x413,
    EBDA_ADDR = 0x9fc00,
    EBDA_SIZE = 0x400,
    IOAPIC_ADDR = 0xfec00000,
};

static const PCIAssignConfig pc_pci_windows = {
    .io_start = 0xc000,
    .io_end = 0x10000,
    .mem_start = 0xe0000000,
    .mem_end = IOAPIC_ADDR,
    .pirq_irq = { 10, 10, 11, 11 },
};

typedef struct PCDirectBoot {
    PCIBus *bus;
    uint8_t *ram;
    unsigned cpus;
} PCDirectBoot;

static PCDirectBoot direct_boot;

static void pc_direct_boot_route_pirqs(PCIBus *bus)
{
    for (unsigned i = 0; i < PCI_NUM_PINS; i++) {
        pci_bus_config_write(bus, PIIX3_DEVFN, PIIX3_PIRQRC + i, pc_pci_windows.pirq_irq[i], 1);
    }
}

/* Every function with an interrupt pin, and the IRQ INTERRUPT_LINE now names. */
static unsigned pc_direct_boot_pci_irqs(PCIBus *bus, MPTablePCIIRQ *out)
{
    unsigned n = 0;

    for (unsigned devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *dev = pci_find_device(bus, devfn);
        uint8_t pin = dev && !dev->unplugged ? dev->config[PCI_INTERRUPT_PIN] : 0;

        if (pin >= 1 && pin <= PCI_NUM_PINS) {
            out[n++] = (MPTablePCIIRQ){ devfn, pin, dev->config[PCI_INTERRUPT_LINE] };
        }
    }
    return n;
}

static void pc_direct_boot_mptable(PCDirectBoot *d)
{
    g_autofree MPTablePCIIRQ *irqs = g_new(MPTablePCIIRQ, PCI_DEVFN_MAX);
    unsigned eax = 0, ebx, ecx, edx = 0;
    MPTableConfig c = { .cpus = d->cpus, .ioapic_addr = IOAPIC_ADDR, .pci = irqs };
    g_autoptr(GByteArray) t = NULL;

    __get_cpuid(1, &eax, &ebx, &ecx, &edx);
    c.cpu_signature = eax;
    c.cpu_features = edx;
    c.n_pci = pc_direct_boot_pci_irqs(d->bus, irqs);
    t = mptable_build(&c, EBDA_ADDR);
    if (t->len > EBDA_SIZE) {
        warn_report("-kernel: the MP table (%u bytes) does not fit in the EBDA; "
                    "the guest gets none", t->len);
        return;
    }
    memset(d->ram + EBDA_ADDR, 0, EBDA_SIZE);
    memcpy(d->ram + EBDA_ADDR, t->data, t->len);
    d->ram[BDA_EBDA_SEGMENT] = (EBDA_ADDR >> 4) & 0xff;
    d->ram[BDA_EBDA_SEGMENT + 1] = EBDA_ADDR >> 12;
    d->ram[BDA_BASE_MEM_KB] = (EBDA_ADDR >> 10) & 0xff;
    d->ram[BDA_BASE_MEM_KB + 1] = EBDA_ADDR >> 18;
}

static void pc_direct_boot_reset(void *opaque)
{
    PCDirectBoot *d = opaque;
    Error *err = NULL;

    pc_direct_boot_route_pirqs(d->bus);
    if (!pci_assign_resources(d->bus, &pc_pci_windows, &err)) {
        warn_report("-kernel: %s", error_get_pretty(err));
        error_free(err);
    }
    /* The PM function's interrupt is its SCI, wired to an ISA IRQ rather than a PIRQ line. */
    pci_bus_config_write(d->bus, PIIX4_PM_DEVFN, PCI_INTERRUPT_LINE, PIIX4_PM_SCI_IRQ, 1);
    pc_direct_boot_mptable(d);
}

void pc_direct_boot_init(PCIBus *bus, uint8_t *ram, unsigned cpus)
{
    uint16_t level = 0;

    for (unsigned i = 0; i < PCI_NUM_PINS; i++) {
        level |= 1u << pc_pci_windows.pirq_irq[i];
    }
    kvm_set_power_on_elcr(level);
    direct_boot = (PCDirectBoot){ bus, ram, cpus };
    machine_register_reset(pc_direct_boot_reset, &direct_boot);
}
