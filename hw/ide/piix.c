/*
 * The PIIX3 IDE PCI function: configuration space (legacy-mode class 0x010180, BMIBA in
 * BAR4), the two channels' fixed legacy ports and ISA IRQs, the bus-master block, the
 * "ide.0"/"ide.1" buses, the drives -drive if=ide asks for, and the CMOS disk bytes. The
 * legacy ports decode regardless of the PCI command register, as on QEMU.
 */
#include <string.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "hw/ide.h"
#include "ide-int.h"

typedef struct PIIXIDEState {
    PCIDevice *dev;
    IDEBus bus[2];
} PIIXIDEState;

static PIIXIDEState *piix_ide;

static const struct {
    uint16_t iobase, iobase2;
    unsigned irq;
} piix_ide_ports[2] = {
    {0x1f0, 0x3f6, 14},
    {0x170, 0x376, 15},
};

static uint64_t piix_ide_cmd_read(void *opaque, uint64_t addr, unsigned size)
{
    IDEBus *bus = opaque;
    uint64_t val = 0;

    if (addr == 0 && size > 1) {
        return ide_data_read(bus, size);
    }
    for (unsigned i = 0; i < size && addr + i < 8; i++) {
        val |= ide_ioport_read(bus, addr + i) << (8 * i);
    }
    return val;
}

static void piix_ide_cmd_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    IDEBus *bus = opaque;

    if (addr == 0 && size > 1) {
        ide_data_write(bus, val, size);
        return;
    }
    for (unsigned i = 0; i < size && addr + i < 8; i++) {
        ide_ioport_write(bus, addr + i, val >> (8 * i));
    }
}

static const IOOps piix_ide_cmd_ops = {
    .read = piix_ide_cmd_read,
    .write = piix_ide_cmd_write,
};

static uint64_t piix_ide_ctrl_read(void *opaque, uint64_t addr, unsigned size)
{
    return ide_status_read(opaque);
}

static void piix_ide_ctrl_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    ide_ctrl_write(opaque, val);
}

static const IOOps piix_ide_ctrl_ops = {
    .read = piix_ide_ctrl_read,
    .write = piix_ide_ctrl_write,
};

static uint64_t piix_bmdma_read(void *opaque, uint64_t addr, unsigned size)
{
    PIIXIDEState *d = opaque;

    return bmdma_read(&d->bus[addr >> 3].bmdma, addr & 7, size);
}

static void piix_bmdma_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    PIIXIDEState *d = opaque;

    bmdma_write(&d->bus[addr >> 3].bmdma, addr & 7, val, size);
}

static const IOOps piix_bmdma_ops = {
    .read = piix_bmdma_read,
    .write = piix_bmdma_write,
};

/* Power-on: both channels reset, command 0, status DEVSEL medium and fast back-to-back. */
static void piix_ide_reset(PCIDevice *dev)
{
    PIIXIDEState *d = dev->opaque;

    for (int i = 0; i < 2; i++) {
        ide_bus_reset(&d->bus[i]);
    }
    pci_set_word(dev->config + PCI_COMMAND, 0);
    pci_set_word(dev->config + PCI_STATUS, PCI_STATUS_DEVSEL_MEDIUM | PCI_STATUS_FAST_BACK);
}

static const PCIDeviceInfo piix_ide_info = {
    .name = "piix3-ide",
    .vendor_id = PCI_VENDOR_ID_INTEL,
    .device_id = 0x7010,
    .class_code = 0x010180, /* IDE, legacy mode, bus master */
    .header_type = PCI_HEADER_TYPE_NORMAL,
    .reset = piix_ide_reset,
};

/* Each -drive if=ide on buses 0 and 1 gets the device its media asks for. */
static bool piix_ide_create_drives(PIIXIDEState *d, Error **errp)
{
    for (int b = 0; b < 2; b++) {
        for (int u = 0; u < 2; u++) {
            DriveInfo *dinfo = drive_get(IF_IDE, b, u);
            BlockBackend *blk = dinfo ? drive_get_blk(dinfo) : NULL;

            if (!blk) {
                continue;
            }
            if (!qdev_create_on_bus(dinfo->media_cd ? "ide-cd" : "ide-hd", d->bus[b].qbus, errp,
                                    "unit", u ? "1" : "0", "drive", blk_name(blk), NULL)) {
                return false;
            }
        }
    }
    return true;
}

bool piix3_ide_init(PCIBus *pci, int devfn, Error **errp)
{
    PIIXIDEState *d = g_new0(PIIXIDEState, 1);

    d->dev = pci_device_new(pci, devfn, &piix_ide_info, d, errp);
    if (!d->dev) {
        g_free(d);
        return false;
    }
    pci_register_bar(d->dev, 4, 16, PCI_BAR_IO, &piix_bmdma_ops, d);
    for (int i = 0; i < 2; i++) {
        IDEBus *bus = &d->bus[i];
        g_autofree char *name = g_strdup_printf("ide.%d", i);
        g_autofree char *fw =
            g_strdup_printf("/pci@i0cf8/ide@%x,%x/drive@%d", PCI_SLOT(devfn), PCI_FUNC(devfn), i);

        ide_bus_init(bus, i, piix_ide_ports[i].irq, 1 + 2 * i);
        portio_add(piix_ide_ports[i].iobase, 8, &piix_ide_cmd_ops, bus, "ide-cmd");
        portio_add(piix_ide_ports[i].iobase2, 1, &piix_ide_ctrl_ops, bus, "ide-ctrl");
        bus->qbus = qbus_new(QBUS_TYPE_IDE, name, NULL, 2, bus);
        qbus_set_fw_path(bus->qbus, fw);
    }
    piix_ide_reset(d->dev);
    piix_ide = d;
    return piix_ide_create_drives(d, errp);
}

static void ide_cmos_init_hd(RTCState *rtc, unsigned type_ofs, unsigned info_ofs, const IDEState *s)
{
    rtc_set_memory(rtc, type_ofs, 47);
    rtc_set_memory(rtc, info_ofs, s->cylinders);
    rtc_set_memory(rtc, info_ofs + 1, s->cylinders >> 8);
    rtc_set_memory(rtc, info_ofs + 2, s->heads);
    rtc_set_memory(rtc, info_ofs + 3, 0xff);
    rtc_set_memory(rtc, info_ofs + 4, 0xff);
    rtc_set_memory(rtc, info_ofs + 5, 0xc0 | ((s->heads > 8) << 3));
    rtc_set_memory(rtc, info_ofs + 6, s->cylinders);
    rtc_set_memory(rtc, info_ofs + 7, s->cylinders >> 8);
    rtc_set_memory(rtc, info_ofs + 8, s->sectors);
}

static bool ide_is_disk(const IDEState *s)
{
    return s->kind == IDE_HD && s->blk;
}

void ide_cmos_init(RTCState *rtc)
{
    uint8_t types = 0, trans = 0;

    if (!piix_ide) {
        return;
    }
    if (ide_is_disk(&piix_ide->bus[0].ifs[0])) {
        ide_cmos_init_hd(rtc, 0x19, 0x1b, &piix_ide->bus[0].ifs[0]);
        types |= 0xf0;
    }
    if (ide_is_disk(&piix_ide->bus[0].ifs[1])) {
        ide_cmos_init_hd(rtc, 0x1a, 0x24, &piix_ide->bus[0].ifs[1]);
        types |= 0x0f;
    }
    rtc_set_memory(rtc, 0x12, types);
    for (int i = 0; i < 4; i++) {
        const IDEState *s = &piix_ide->bus[i / 2].ifs[i % 2];

        if (ide_is_disk(s)) {
            trans |= ((s->chs_trans - 1) & 3) << (i * 2);
        }
    }
    rtc_set_memory(rtc, 0x39, trans);
}
