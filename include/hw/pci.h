/*
 * The PCI core: bus 0 with up to 256 functions, each with a 256-byte configuration space,
 * write masks, BARs that (un)map their I/O regions as the guest programs them, a capability
 * list, and INTx routing through the four PIRQ lines of a PIIX-style interrupt router.
 * Not the host bridge (i440fx.c decodes ports 0xcf8/0xcfc), not PCI-to-PCI bridges, not MSI;
 * MSI-X lives in msix.c, which the core calls through dev->msix.
 * Register names and bit values come from <linux/pci_regs.h>, spelled as in the PCI spec.
 */
#ifndef HW_PCI_H
#define HW_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/pci.h>
#include <glib.h>
#include "hw/ioport.h"
#include "util/error.h"

#define PCI_DEVFN_MAX 256
#define PCI_ROM_SLOT PCI_STD_NUM_BARS          /* BAR index of the expansion ROM */
#define PCI_NUM_REGIONS (PCI_STD_NUM_BARS + 1)
#define PCI_NUM_PINS 4                         /* INTA..INTD and PIRQA..PIRQD */
#define PCI_BAR_UNMAPPED UINT64_MAX
#define PCI_HEADER_TYPE_MULTI_FUNCTION 0x80

/* IDs <linux/pci.h> leaves to the kernel-internal pci_ids.h; same names. */
#define PCI_VENDOR_ID_INTEL 0x8086
#define PCI_CLASS_BRIDGE_HOST 0x0600
#define PCI_CLASS_BRIDGE_ISA 0x0601
#define PCI_CLASS_BRIDGE_OTHER 0x0680

typedef struct PCIBus PCIBus;
typedef struct PCIDevice PCIDevice;
typedef struct MSIXState MSIXState;

/* What pci_register_bar() maps: exactly one of IO, MEM32, MEM64, plus PREFETCH for memory. */
typedef enum PCIBarFlags {
    PCI_BAR_IO = 1 << 0,
    PCI_BAR_MEM32 = 1 << 1,
    PCI_BAR_MEM64 = 1 << 2,
    PCI_BAR_PREFETCH = 1 << 3,
} PCIBarFlags;

typedef struct PCIDeviceInfo {
    const char *name;            /* required: names the device in messages and traces */
    uint16_t vendor_id;
    uint16_t device_id;
    uint32_t class_code;         /* 24 bits: base class, sub-class, programming interface */
    uint8_t revision;
    uint16_t subsystem_vendor_id;
    uint16_t subsystem_id;
    uint8_t header_type;         /* PCI_HEADER_TYPE_NORMAL | PCI_HEADER_TYPE_MULTI_FUNCTION */
    uint8_t interrupt_pin;       /* 0 none, 1..4 INTA..INTD */
    /* Called after the core has applied a guest write (masks, BAR and command handling). */
    void (*config_write)(PCIDevice *dev, unsigned addr, uint32_t val, unsigned len);
    /* Supplies the value of a guest read instead of the core; may call
     * pci_default_config_read(). */
    uint32_t (*config_read)(PCIDevice *dev, unsigned addr, unsigned len);
    /* Device-specific power-on state; the core has already reset the standard header. */
    void (*reset)(PCIDevice *dev);
} PCIDeviceInfo;

typedef struct PCIBar {
    uint64_t size;               /* 0: not implemented */
    unsigned flags;              /* PCIBarFlags */
    IORegion *region;            /* created unmapped by pci_register_bar() */
} PCIBar;

struct PCIDevice {
    PCIBus *bus;
    const PCIDeviceInfo *info;
    void *opaque;
    uint8_t devfn;
    uint8_t config[PCI_CFG_SPACE_SIZE];
    uint8_t wmask[PCI_CFG_SPACE_SIZE];     /* bits the guest may write */
    uint8_t w1cmask[PCI_CFG_SPACE_SIZE];   /* bits a guest write of 1 clears */
    uint8_t cap_used[PCI_CFG_SPACE_SIZE];  /* bytes owned by a capability */
    PCIBar bars[PCI_NUM_REGIONS];
    bool irq_level;                        /* the device's INTx output */
    bool irq_counted;                      /* the bus counts it (INTx not disabled) */
    MSIXState *msix;                       /* msix.c's state, NULL without MSI-X */
    struct DeviceState *qdev;              /* the -device/device_add device, or NULL */
    bool unplugged;                        /* off its bus (pci_device_unplug) */
};

/* Returns the ISA IRQ that PIRQ line pirq (0..3) is steered to, or -1 when disabled. */
typedef int PCIIRQRouter(void *opaque, unsigned pirq);

PCIBus *pci_bus_new(void);
/* Free the bus, its devices and their BAR regions (tests; the machine's bus lives on). */
void pci_bus_free(PCIBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PCIBus, pci_bus_free)
void pci_bus_set_irq_router(PCIBus *bus, PCIIRQRouter *fn, void *opaque);
/* The router's answers changed (PIRQRC write, reset): move asserted lines accordingly. */
void pci_bus_irq_routing_changed(PCIBus *bus);

/* devfn < 0 picks function 0 of the first free slot. */
PCIDevice *pci_device_new(PCIBus *bus, int devfn, const PCIDeviceInfo *info, void *opaque,
                          Error **errp);
PCIDevice *pci_find_device(PCIBus *bus, unsigned devfn);
/*
 * Hot-unplug, first half: the function leaves the bus (its configuration space reads all
 * ones), its BARs are unmapped and deleted, its INTx output is dropped. The structure
 * stays valid for callbacks still on their way; pci_device_free() ends it.
 */
void pci_device_unplug(PCIDevice *dev);
void pci_device_free(PCIDevice *dev);

/* BAR n (0..5, or PCI_ROM_SLOT for a memory ROM) of size bytes, a power of two (at least
 * 4 for I/O, 16 for memory, 2 KiB for a ROM); a MEM64 BAR also takes slot n + 1. */
void pci_register_bar(PCIDevice *dev, int n, uint64_t size, unsigned flags, const IOOps *ops,
                      void *opaque);
/* Where BAR n is decoded now, or PCI_BAR_UNMAPPED. */
uint64_t pci_bar_address(PCIDevice *dev, int n);

/* Add a capability with its header at offset (dword aligned, >= 0x40) to the head of the
 * list; its bytes start read-only (set dev->wmask for writable fields). Returns offset, or
 * -EINVAL / -EBUSY when it does not fit or overlaps another capability. */
int pci_add_capability(PCIDevice *dev, uint8_t cap_id, uint8_t offset, uint8_t size);

/* Drive the device's INTx pin (INTA when the pin register is 0). */
void pci_set_irq(PCIDevice *dev, bool level);
/* PIRQ line (0..3) of pin (1..4 = INTA..INTD) in slot on a PIIX board, as SeaBIOS assumes. */
unsigned pci_slot_get_pirq(unsigned slot, unsigned pin);

/* Guest configuration cycles; absent functions read all ones and ignore writes. */
uint32_t pci_bus_config_read(PCIBus *bus, unsigned devfn, unsigned addr, unsigned len);
void pci_bus_config_write(PCIBus *bus, unsigned devfn, unsigned addr, uint32_t val,
                          unsigned len);
uint32_t pci_default_config_read(PCIDevice *dev, unsigned addr, unsigned len);

/* Power-on state of the standard header, then the device's reset hook. */
void pci_device_reset(PCIDevice *dev);
void pci_device_reset_all(PCIBus *bus);

static inline uint8_t pci_get_byte(const uint8_t *p)
{
    return p[0];
}

static inline uint16_t pci_get_word(const uint8_t *p)
{
    return p[0] | (uint16_t)p[1] << 8;
}

static inline uint32_t pci_get_long(const uint8_t *p)
{
    return pci_get_word(p) | (uint32_t)pci_get_word(p + 2) << 16;
}

static inline uint64_t pci_get_quad(const uint8_t *p)
{
    return pci_get_long(p) | (uint64_t)pci_get_long(p + 4) << 32;
}

static inline void pci_set_byte(uint8_t *p, uint8_t v)
{
    p[0] = v;
}

static inline void pci_set_word(uint8_t *p, uint16_t v)
{
    p[0] = v;
    p[1] = v >> 8;
}

static inline void pci_set_long(uint8_t *p, uint32_t v)
{
    pci_set_word(p, v);
    pci_set_word(p + 2, v >> 16);
}

static inline void pci_set_quad(uint8_t *p, uint64_t v)
{
    pci_set_long(p, v);
    pci_set_long(p + 4, v >> 32);
}

#endif
