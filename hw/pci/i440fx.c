/*
 * The i440FX host bridge, 00:00.0: configuration mechanism #1 (CONFIG_ADDRESS at port 0xcf8,
 * CONFIG_DATA at 0xcfc-0xcff) into bus 0, and the bridge's own PAM and SMRAM registers, which
 * are stored for the firmware to read back but remap nothing. Not the DRAM controller, not
 * SMM, and not port 0xcf9 (the PIIX3 reset control register, which overlays this range).
 *
 * Why PAM changes no mapping: 0xc0000-0xfffff is plain RAM from power-on. SeaBIOS reads
 * PAM0, finds it clear, sets PAM0-6 to read/write and copies itself down from its alias below
 * 4 GiB, which works just as well into RAM that was writable all along. On reset the board
 * copies the pristine image from that read-only alias again before the vCPUs restart, so the
 * low copy never needs write protection to survive a reboot.
 */
#include <glib.h>
#include "hw/machine.h"
#include "hw/pc-chipset.h"

#define CONFIG_ADDRESS_PORT 0xcf8
#define CONFIG_DATA_PORT 0xcfc
#define CONFIG_ADDRESS_ENABLE 0x80000000u

enum I440FXRegs {
    I440FX_PAM0 = 0x59,          /* PAM0..PAM6: 0x59-0x5f */
    I440FX_PAM_COUNT = 7,
    I440FX_DRAMC = 0x57,
    I440FX_SMRAM = 0x72,
};

enum {
    PAM0_HIENABLE = 0x30,        /* PAM0 has only the 0xf0000 segment, in its high nibble */
    PAM_ENABLE = 0x33,           /* RE/WE for the low and the high segment */
    SMRAM_D_OPEN = 0x40,
    SMRAM_D_CLS = 0x20,
    SMRAM_D_LCK = 0x10,
    SMRAM_G_SMRAME = 0x08,
    SMRAM_C_BASE_SEG = 0x02,     /* read-only: SMRAM at 0xa0000 */
};

typedef struct I440FXState {
    PCIBus *bus;
    uint32_t config_address;
} I440FXState;

static uint64_t io_all_ones(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

/* Only a dword access at 0xcf8 is CONFIG_ADDRESS; bytes and words there are something else
 * (0xcf9 is the PIIX3 reset control register) or nothing. */
static uint64_t i440fx_config_address_read(void *opaque, uint64_t addr, unsigned size)
{
    I440FXState *s = opaque;

    return addr == 0 && size == 4 ? s->config_address : io_all_ones(size);
}

static void i440fx_config_address_write(void *opaque, uint64_t addr, uint64_t val,
                                        unsigned size)
{
    I440FXState *s = opaque;

    if (addr == 0 && size == 4) {
        s->config_address = val;
    }
}

/* Which function and register CONFIG_DATA at offset port_off (0-3) reaches, if any. */
static bool i440fx_config_target(I440FXState *s, uint64_t port_off, unsigned *devfn,
                                 unsigned *reg)
{
    uint32_t a = s->config_address;

    if (!(a & CONFIG_ADDRESS_ENABLE) || ((a >> 16) & 0xff) != 0) {
        return false;   /* disabled, or a bus behind a bridge we do not have */
    }
    *devfn = (a >> 8) & 0xff;
    *reg = (a & 0xfc) + (port_off & 3);
    return true;
}

static uint64_t i440fx_config_data_read(void *opaque, uint64_t addr, unsigned size)
{
    I440FXState *s = opaque;
    unsigned devfn, reg;

    if (!i440fx_config_target(s, addr, &devfn, &reg)) {
        return io_all_ones(size);
    }
    return pci_bus_config_read(s->bus, devfn, reg, size);
}

static void i440fx_config_data_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    I440FXState *s = opaque;
    unsigned devfn, reg;

    if (i440fx_config_target(s, addr, &devfn, &reg)) {
        pci_bus_config_write(s->bus, devfn, reg, val, size);
    }
}

static const IOOps i440fx_config_address_ops = {
    .read = i440fx_config_address_read,
    .write = i440fx_config_address_write,
};

static const IOOps i440fx_config_data_ops = {
    .read = i440fx_config_data_read,
    .write = i440fx_config_data_write,
};

static void i440fx_reset(PCIDevice *dev)
{
    I440FXState *s = dev->opaque;

    s->config_address = 0;
    for (unsigned i = 0; i < I440FX_PAM_COUNT; i++) {
        dev->config[I440FX_PAM0 + i] = 0;
    }
    dev->config[I440FX_SMRAM] = SMRAM_C_BASE_SEG;
    dev->config[I440FX_DRAMC] = 0x10;  /* QEMU's reset value */
}

static const PCIDeviceInfo i440fx_info = {
    .name = "i440FX",
    .vendor_id = PCI_VENDOR_ID_INTEL,
    .device_id = 0x1237,
    .class_code = PCI_CLASS_BRIDGE_HOST << 8,
    .revision = 0x02,
    .header_type = PCI_HEADER_TYPE_NORMAL,
    .reset = i440fx_reset,
};

static void i440fx_init_masks(PCIDevice *dev)
{
    dev->wmask[I440FX_PAM0] = PAM0_HIENABLE;
    for (unsigned i = 1; i < I440FX_PAM_COUNT; i++) {
        dev->wmask[I440FX_PAM0 + i] = PAM_ENABLE;
    }
    dev->wmask[I440FX_SMRAM] = SMRAM_D_OPEN | SMRAM_D_CLS | SMRAM_D_LCK | SMRAM_G_SMRAME;
}

static void i440fx_machine_reset(void *opaque)
{
    pci_device_reset_all(opaque);
}

PCIBus *i440fx_init(void)
{
    I440FXState *s = g_new0(I440FXState, 1);
    PCIDevice *dev;

    s->bus = pci_bus_new();
    dev = pci_device_new(s->bus, PCI_DEVFN(0, 0), &i440fx_info, s, &error_abort);
    i440fx_init_masks(dev);
    i440fx_reset(dev);
    portio_add(CONFIG_ADDRESS_PORT, 4, &i440fx_config_address_ops, s, "pci-conf-idx");
    portio_add(CONFIG_DATA_PORT, 4, &i440fx_config_data_ops, s, "pci-conf-data");
    machine_register_reset(i440fx_machine_reset, s->bus);
    return s->bus;
}
