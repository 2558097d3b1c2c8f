/*
 * MSI-X for PCI devices: the capability in configuration space, the vector table and the
 * pending-bit array in a memory BAR of their own, per-vector and function-wide masking, and
 * delivery of a vector's message. A message to the local APIC window goes to the
 * accelerator (KVM_SIGNAL_MSI); any other address is a 32-bit DMA write into guest RAM, as
 * on real hardware (QEMU's qtest library points vectors at RAM and polls there).
 * Not MSI (the plain capability), not interrupt remapping.
 */
#ifndef HW_MSIX_H
#define HW_MSIX_H

#include <stdbool.h>
#include <stdint.h>
#include "hw/pci.h"
#include "util/error.h"

#define MSIX_MAX_ENTRIES 2048          /* the table-size field holds N - 1 in 11 bits */
#define MSIX_ENTRY_SIZE 16             /* address low, address high, data, vector control */
#define MSIX_APIC_WINDOW 0xfee00000ULL /* messages addressed here are interrupts */
#define MSIX_APIC_WINDOW_SIZE 0x100000ULL

typedef struct MSIMessage {
    uint64_t address;
    uint32_t data;
} MSIMessage;

/*
 * Called when a vector's routing may have changed: its message was rewritten, or it was
 * masked or unmasked (directly or through the function mask or enable bit). A device that
 * delivers through KVM irqfds updates its route here.
 */
typedef void MSIXVectorNotifier(PCIDevice *dev, unsigned vector, MSIMessage msg, bool masked);

/*
 * Give dev nentries vectors with the table at offset 0 and the PBA in the upper half of a
 * 32-bit memory BAR bar_nr of its own (4 KiB, or larger for big tables), and the capability
 * at cap_pos. False with errp set when the arguments do not fit.
 */
bool msix_init_exclusive_bar(PCIDevice *dev, unsigned nentries, int bar_nr, uint8_t cap_pos,
                             Error **errp);
/* The enable bit is set in the capability. */
bool msix_enabled(PCIDevice *dev);
unsigned msix_nr_vectors(PCIDevice *dev);
/* The vector is masked by its own bit, the function mask, or MSI-X being off. */
bool msix_is_masked(PCIDevice *dev, unsigned vector);
MSIMessage msix_get_message(PCIDevice *dev, unsigned vector);
/* Signal vector: deliver it, or set its pending bit while masked. Out of range: ignored. */
void msix_notify(PCIDevice *dev, unsigned vector);
void msix_set_vector_notifier(PCIDevice *dev, MSIXVectorNotifier *fn);

/* PCI core hooks: after a guest configuration write, and at device reset. */
void msix_config_write(PCIDevice *dev, unsigned addr, uint32_t val, unsigned len);
void msix_reset(PCIDevice *dev);
void msix_free(PCIDevice *dev);

/* Deliver one message (APIC window: interrupt; RAM: DMA write; elsewhere: dropped). */
void msi_send_message(MSIMessage msg);

#endif
