/*
 * "sdhci-pci": the SD host controller as a PCI function (1b36:0007, class 0805, interface
 * 01 "standard host with DMA"), its registers in a 256-byte memory BAR0, INTA. It owns one
 * "sd-bus" slot for an "sd-card". As QEMU 2.3 to 2.x did when the controller came to the
 * PC, it takes the next -drive if=sd the user gave (the board's default empty SD drive
 * stays an orphan, so "-device sd-card,drive=..." as QEMU 7.2 spells it still finds the
 * slot free).
 */
#include "blockdev/blockdev.h"
#include "sdhci-int.h"

#define PCI_VENDOR_ID_REDHAT 0x1b36
#define PCI_DEVICE_ID_REDHAT_SDHCI 0x0007
#define PCI_CLASS_SYSTEM_SDHCI 0x0805

static void sdhci_pci_reset(PCIDevice *dev)
{
    SDHCIState *s = dev->opaque;

    if (s->sdbus.card) {
        sd_card_reset(s->sdbus.card);
    }
    sdhci_reset(s);
}

static const PCIDeviceInfo sdhci_pci_info = {
    .name = "sdhci-pci",
    .vendor_id = PCI_VENDOR_ID_REDHAT,
    .device_id = PCI_DEVICE_ID_REDHAT_SDHCI,
    .class_code = PCI_CLASS_SYSTEM_SDHCI << 8 | 0x01,
    .header_type = PCI_HEADER_TYPE_NORMAL,
    .interrupt_pin = 1,
    .reset = sdhci_pci_reset,
};

/* A clock frequency field of the capabilities (MHz): 0 (ask another way) or 10 to 63. */
static bool sdhci_check_freq(uint64_t field, const char *desc, Error **errp)
{
    if (field != 0 && (field < 10 || field > 63)) {
        error_setg(errp, "SD %s clock frequency can have valuein range 0-63 only", desc);
        return false;
    }
    return true;
}

/* QEMU 7.2's checks of the properties, with its messages. */
static bool sdhci_check_props(SDHCIState *s, Error **errp)
{
    if (s->spec_version < 2 || s->spec_version > 3) {
        error_setg(errp, "Only Spec v2/v3 are supported");
        return false;
    }
    if (s->spec_version == 2 && (!sdhci_check_freq(s->capareg & 0x3f, "timeout", errp) ||
                                 !sdhci_check_freq((s->capareg >> 8) & 0xff, "base", errp))) {
        return false;
    }
    if (SDHC_CAPAB_MAXBLOCKLENGTH(s->capareg) >= 3) {
        error_setg(errp, "block size can be 512, 1024 or 2048 only");
        return false;
    }
    return true;
}

/* "sd-bus" for the first controller, as QEMU names every one; "sd-bus.N" after. */
static char *sdhci_bus_name(void)
{
    static unsigned count;

    return count++ ? g_strdup_printf("sd-bus.%u", count - 1) : g_strdup("sd-bus");
}

/* The next -drive if=sd the user gave goes into the slot. */
static bool sdhci_take_legacy_drive(SDHCIState *s, Error **errp)
{
    DriveInfo *dinfo = drive_get_next(IF_SD);
    BlockBackend *blk = dinfo ? drive_get_blk(dinfo) : NULL;

    if (!blk || dinfo->is_default) {
        return true;
    }
    return qdev_create_on_bus("sd-card", s->qbus, errp, "drive", blk_name(blk), NULL) != NULL;
}

static void sdhci_pci_finalize(DeviceState *qdev);

static bool sdhci_pci_realize(DeviceState *qdev, Error **errp)
{
    SDHCIState *s = (SDHCIState *)qdev;
    g_autofree char *bus_name = NULL;

    if (!sdhci_check_props(s, errp)) {
        return false;
    }
    s->pci = pci_device_new(qdev->parent_bus->opaque, s->addr, &sdhci_pci_info, s, errp);
    if (!s->pci) {
        return false;
    }
    s->pci->qdev = qdev;
    sdhci_init(s);
    pci_register_bar(s->pci, 0, SDHC_REGISTERS_MAP_SIZE, PCI_BAR_MEM32, &sdhci_mmio_ops, s);
    bus_name = sdhci_bus_name();
    s->qbus = qbus_new(QBUS_TYPE_SD, bus_name, qdev, 1, &s->sdbus);
    sdhci_pci_reset(s->pci);
    if (!sdhci_take_legacy_drive(s, errp)) {
        pci_device_unplug(s->pci); /* the bus goes with the failed device (qdev.c) */
        sdhci_pci_finalize(qdev);
        return false;
    }
    return true;
}

/* device_del: the card is gone by now (qdev-unplug.c removes the bus's devices first). */
static void sdhci_pci_unrealize(DeviceState *qdev)
{
    SDHCIState *s = (SDHCIState *)qdev;

    timer_del(s->insert_timer);
    timer_del(s->transfer_timer);
    pci_set_irq(s->pci, false);
    pci_device_unplug(s->pci);
}

static void sdhci_pci_finalize(DeviceState *qdev)
{
    SDHCIState *s = (SDHCIState *)qdev;

    sdhci_cleanup(s);
    pci_device_free(s->pci);
    s->pci = NULL;
}

static const Property sdhci_pci_props[] = {
    DEFINE_PROP_PCI_DEVFN("addr", SDHCIState, addr, -1),
    DEFINE_PROP_UINT8("sd-spec-version", SDHCIState, spec_version, 2),
    DEFINE_PROP_UINT64("capareg", SDHCIState, capareg, SDHC_CAPAB_REG_DEFAULT),
    DEFINE_PROP_UINT64("maxcurr", SDHCIState, maxcurr, 0),
    DEFINE_PROP_END,
};

static const DeviceClass sdhci_pci_class = {
    .name = "sdhci-pci",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus_type = QBUS_TYPE_PCI,
    .instance_size = sizeof(SDHCIState),
    .props = sdhci_pci_props,
    .realize = sdhci_pci_realize,
    .unrealize = sdhci_pci_unrealize,
    .finalize = sdhci_pci_finalize,
    .hotpluggable = true,
};

static void __attribute__((constructor)) sdhci_pci_register(void)
{
    qdev_register(&sdhci_pci_class);
}
