/*
 * The PIIX3 PCI-to-ISA bridge, function 0 of the south bridge (00:01.0): the PIRQ route
 * control registers that steer the four PCI interrupt lines onto ISA IRQs (the PCI bus's
 * router), and the Reset Control Register at port 0xcf9. Not the IDE function (01.1), not
 * the ISA devices behind it, and not the ELCR at 0x4d0/0x4d1: with KVM's in-kernel irqchip
 * the kernel's i8259 model claims those ports itself, so guest writes never reach us.
 */
#include <string.h>
#include <glib.h>
#include "hw/machine.h"
#include "hw/pc-chipset.h"

#define PIIX3_RCR_PORT 0xcf9

enum PIIX3Regs {
    PIIX3_IORT = 0x4c,
    PIIX3_XBCS = 0x4e,
    PIIX3_TOM = 0x69,
    PIIX3_MBIRQ0 = 0x70,
    PIIX3_MBDMA0 = 0x76,
    PIIX3_MBDMA1 = 0x77,
    PIIX3_PCSC = 0x78,
    PIIX3_SMICNTL = 0xa0,
    PIIX3_FTMR = 0xa8,
};

enum {
    PIRQRC_IRQ_ROUTING_DISABLE = 0x80,
    PIRQRC_IRQ_ROUTING_MASK = 0x0f,
    RCR_SRST = 0x02,             /* system reset: hard (1) or soft (0) */
    RCR_RCPU = 0x04,             /* reset CPU: writing 1 starts the reset */
};

/* IRQs the PIRQ routers cannot drive: timer, keyboard, cascade, RTC, FPU error. */
#define PIIX3_PIRQ_RESERVED_IRQS ((1u << 0) | (1u << 1) | (1u << 2) | (1u << 8) | (1u << 13))

typedef struct PIIX3State {
    PCIDevice *dev;
    uint8_t rcr;
} PIIX3State;

/* Power-on values of the registers that are not zero (PIIX3 datasheet), except the command
 * register, which reads 0 as on QEMU's pc (the ISA decode does not depend on it here). */
static const struct {
    uint8_t reg;
    uint8_t val;
} piix3_reset_values[] = {
    { PCI_STATUS + 1, PCI_STATUS_DEVSEL_MEDIUM >> 8 },
    { PIIX3_IORT, 0x4d },
    { PIIX3_XBCS, 0x03 },
    { PIIX3_PIRQRC + 0, PIRQRC_IRQ_ROUTING_DISABLE },
    { PIIX3_PIRQRC + 1, PIRQRC_IRQ_ROUTING_DISABLE },
    { PIIX3_PIRQRC + 2, PIRQRC_IRQ_ROUTING_DISABLE },
    { PIIX3_PIRQRC + 3, PIRQRC_IRQ_ROUTING_DISABLE },
    { PIIX3_TOM, 0x02 },
    { PIIX3_MBIRQ0, 0x80 },
    { PIIX3_MBDMA0, 0x0c },
    { PIIX3_MBDMA1, 0x0c },
    { PIIX3_PCSC, 0x02 },
    { PIIX3_SMICNTL, 0x08 },
    { PIIX3_FTMR, 0x0f },
};

static int piix3_pirq_route(void *opaque, unsigned pirq)
{
    PIIX3State *s = opaque;
    uint8_t rc = s->dev->config[PIIX3_PIRQRC + pirq];
    unsigned irq = rc & PIRQRC_IRQ_ROUTING_MASK;

    if ((rc & PIRQRC_IRQ_ROUTING_DISABLE) || (PIIX3_PIRQ_RESERVED_IRQS & (1u << irq))) {
        return -1;
    }
    return irq;
}

static void piix3_config_write(PCIDevice *dev, unsigned addr, uint32_t val, unsigned len)
{
    if (addr < PIIX3_PIRQRC + PCI_NUM_PINS && PIIX3_PIRQRC < addr + len) {
        pci_bus_irq_routing_changed(dev->bus);
    }
}

static void piix3_reset(PCIDevice *dev)
{
    PIIX3State *s = dev->opaque;

    memset(dev->config + PCI_STD_HEADER_SIZEOF, 0, PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF);
    for (size_t i = 0; i < G_N_ELEMENTS(piix3_reset_values); i++) {
        dev->config[piix3_reset_values[i].reg] = piix3_reset_values[i].val;
    }
    s->rcr = 0;
    pci_bus_irq_routing_changed(dev->bus);
}

static const PCIDeviceInfo piix3_info = {
    .name = "PIIX3",
    .vendor_id = PCI_VENDOR_ID_INTEL,
    .device_id = 0x7000,
    .class_code = PCI_CLASS_BRIDGE_ISA << 8,
    .header_type = PCI_HEADER_TYPE_NORMAL | PCI_HEADER_TYPE_MULTI_FUNCTION,
    .config_write = piix3_config_write,
    .reset = piix3_reset,
};

static uint64_t piix3_rcr_read(void *opaque, uint64_t addr, unsigned size)
{
    PIIX3State *s = opaque;

    return s->rcr;
}

/* RCPU is not latched: the reset it starts brings the register back to 0. */
static void piix3_rcr_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    PIIX3State *s = opaque;

    if (val & RCR_RCPU) {
        machine_request_reset();
        return;
    }
    s->rcr = val & RCR_SRST;
}

static const IOOps piix3_rcr_ops = {
    .read = piix3_rcr_read,
    .write = piix3_rcr_write,
};

void piix3_init(PCIBus *bus, int devfn)
{
    PIIX3State *s = g_new0(PIIX3State, 1);

    s->dev = pci_device_new(bus, devfn, &piix3_info, s, &error_abort);
    for (unsigned i = 0; i < PCI_NUM_PINS; i++) {
        s->dev->wmask[PIIX3_PIRQRC + i] = PIRQRC_IRQ_ROUTING_DISABLE | PIRQRC_IRQ_ROUTING_MASK;
    }
    pci_bus_set_irq_router(bus, piix3_pirq_route, s);
    piix3_reset(s->dev);
    /* Registered after the host bridge's 0xcf8-0xcfb, so this byte port wins the overlap
     * while dword accesses at 0xcf8 still reach CONFIG_ADDRESS. */
    portio_add(PIIX3_RCR_PORT, 1, &piix3_rcr_ops, s, "piix3-rcr");
}
