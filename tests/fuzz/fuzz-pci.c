/*
 * PCI configuration mechanism #1 (0xcf8-0xcff, with the reset control register at 0xcf9) on
 * the i440FX, PIIX3 and PIIX4 PM functions, the GPE0 block and APM ports, and an operation
 * that reaches the PM I/O block wherever the input has put PMBA: it reads PMBA through the
 * configuration ports (restoring the address latch) and accesses an offset inside the block.
 */
#include <glib.h>
#include "harness.h"
#include "hw/ioport.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PIIX4_PM_PMBA_ADDR 0x80000b40u /* 00:01.3, register 0x40 */
#define PIIX4_PM_IO_LEN 64

static void pci_fuzz_pm_io(FuzzInput *in)
{
    uint32_t latch = io_dispatch_read(IO_SPACE_PIO, PCI_CONFIG_ADDRESS, 4);
    uint32_t pmba;
    uint8_t how = fuzz_u8(in);
    unsigned size = 1u << (how % 3);
    uint16_t port;

    io_dispatch_write(IO_SPACE_PIO, PCI_CONFIG_ADDRESS, PIIX4_PM_PMBA_ADDR, 4);
    pmba = io_dispatch_read(IO_SPACE_PIO, PCI_CONFIG_DATA, 4);
    io_dispatch_write(IO_SPACE_PIO, PCI_CONFIG_ADDRESS, latch, 4);
    port = (pmba & 0xffc0) + fuzz_u8(in) % (PIIX4_PM_IO_LEN - size + 1);
    if (how & 0x80) {
        io_dispatch_write(IO_SPACE_PIO, port, fuzz_u32(in), size);
    } else {
        io_dispatch_read(IO_SPACE_PIO, port, size);
    }
}

static const FuzzPortRange pci_ports[] = {{0xcf8, 8}, {0xafe0, 4}, {0xb2, 2}};

static const FuzzDevice pci_fuzz = {
    .ports = pci_ports,
    .nports = G_N_ELEMENTS(pci_ports),
    .extra_op = pci_fuzz_pm_io,
};

FUZZ_DEVICE_TARGET(pci_fuzz)
