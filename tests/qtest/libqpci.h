/*
 * libqpci: PCI bus 0 as a test sees it through configuration mechanism #1 (0xcf8/0xcfc):
 * enumerate functions, read their IDs, size and map BARs (I/O from 0xc000, memory from
 * 0xe0000000, each aligned to its size), enable decoding and bus mastering, walk the
 * capability list and turn MSI-X on. What a firmware does, so device tests can start from a
 * programmed device. Not a driver for any device.
 */
#ifndef TESTS_QTEST_LIBQPCI_H
#define TESTS_QTEST_LIBQPCI_H

#include <stdbool.h>
#include <stdint.h>
#include "libqtest.h"

#define QPCI_IO_BASE 0xc000
#define QPCI_MEM_BASE 0xe0000000ULL
#define QPCI_BAR_COUNT 6

typedef struct QPCIBus {
    QTestState *qts;
    uint32_t io_next;
    uint64_t mem_next;
} QPCIBus;

typedef struct QPCIDevice {
    QPCIBus *bus;
    uint8_t devfn;
} QPCIDevice;

/* A mapped BAR: where it is, how large, and whether it is in I/O space. */
typedef struct QPCIBar {
    uint64_t addr;
    uint64_t size;
    bool is_io;
} QPCIBar;

void qpci_bus_init(QPCIBus *bus, QTestState *qts);

uint8_t qpci_config_readb(QPCIDevice *dev, uint8_t off);
uint16_t qpci_config_readw(QPCIDevice *dev, uint8_t off);
uint32_t qpci_config_readl(QPCIDevice *dev, uint8_t off);
void qpci_config_writeb(QPCIDevice *dev, uint8_t off, uint8_t val);
void qpci_config_writew(QPCIDevice *dev, uint8_t off, uint16_t val);
void qpci_config_writel(QPCIDevice *dev, uint8_t off, uint32_t val);

/* Call fn for every present function of bus 0, in devfn order. */
typedef void QPCIForeachFn(QPCIDevice *dev, uint16_t vendor_id, uint16_t device_id, void *opaque);
void qpci_foreach(QPCIBus *bus, QPCIForeachFn *fn, void *opaque);
/* The device at devfn, or false when nothing answers there. */
bool qpci_device_find(QPCIBus *bus, uint8_t devfn, QPCIDevice *dev);

/* Size BAR n and assign it the next free address; size 0 when the BAR is not implemented.
 * A 64-bit memory BAR also consumes BAR n + 1. */
QPCIBar qpci_iomap(QPCIDevice *dev, int n);
/* Set I/O space, memory space and bus master in the command register. */
void qpci_device_enable(QPCIDevice *dev);
/* Offset of the first (start 0) or next capability with the given ID, or 0. */
uint8_t qpci_find_capability(QPCIDevice *dev, uint8_t id, uint8_t start);
/* Enable MSI-X: map the table's BAR and return the table's address (0 without MSI-X). */
uint64_t qpci_msix_enable(QPCIDevice *dev);

#endif
