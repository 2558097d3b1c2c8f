/*
 * The -device types of the IDE buses: ide-hd (a disk), ide-cd (a CD-ROM, removable) and
 * the legacy ide-drive (either, as the drive's media= says). Realize checks the unit and
 * the drive with QEMU 2.2's messages, takes serial and geometry from the properties or
 * the legacy -drive, sets the drive up, and connects the backend's removable-media
 * callbacks (tray, lock, eject request, media change) for a CD, resize for a disk.
 */
#include <string.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "hw/hd-geometry.h"
#include "hw/ide.h"
#include "ide-int.h"

typedef struct IDEDevice {
    DeviceState qdev;
    BlockBackend *blk;
    uint32_t unit;
    int32_t bootindex;
    char *serial;
    char *version;
    char *model;
    uint32_t cyls, heads, secs;
    int chs_trans;
} IDEDevice;

static const char *const bios_chs_trans_names[] = {"auto", "none", "lba", "large", "rechs", NULL};

/* ---- Backend callbacks ---- */

static void ide_cd_change_media_cb(void *opaque, bool load)
{
    IDEState *s = opaque;
    int64_t len = blk_getlength(s->blk);

    s->tray_open = !load;
    s->nb_sectors = len > 0 ? (uint64_t)len / IDE_SECTOR_SIZE : 0;
    s->cdrom_changed = 1;
    s->event_new_media = true;
    s->event_eject_request = false;
    ide_set_irq(s->bus);
}

static void ide_cd_eject_request_cb(void *opaque, bool force)
{
    IDEState *s = opaque;

    s->event_eject_request = true;
    if (force) {
        s->tray_locked = false;
    }
    ide_set_irq(s->bus);
}

static bool ide_cd_is_tray_open(void *opaque)
{
    return ((IDEState *)opaque)->tray_open;
}

static bool ide_cd_is_medium_locked(void *opaque)
{
    return ((IDEState *)opaque)->tray_locked;
}

/* `cont`: run again the step whose request the "stop" error policy kept (ata.c, atapi.c). */
static void ide_retry_cb(void *opaque)
{
    IDEState *s = opaque;
    EndTransferFunc *fn = s->retry_fn;

    if (fn) {
        s->retry_fn = NULL;
        fn(s);
    }
}

static const BlockDevOps ide_cd_block_ops = {
    .retry_cb = ide_retry_cb,
    .change_media_cb = ide_cd_change_media_cb,
    .eject_request_cb = ide_cd_eject_request_cb,
    .is_tray_open = ide_cd_is_tray_open,
    .is_medium_locked = ide_cd_is_medium_locked,
};

static void ide_hd_resize_cb(void *opaque)
{
    IDEState *s = opaque;
    int64_t len = blk_getlength(s->blk);

    s->nb_sectors = len > 0 ? (uint64_t)len / IDE_SECTOR_SIZE : 0;
    if (s->identify_set) {
        ide_identify_size(s);
    }
}

static const BlockDevOps ide_hd_block_ops = {
    .resize_cb = ide_hd_resize_cb,
    .retry_cb = ide_retry_cb,
};

/* ---- Realize ---- */

static bool ide_dev_check_unit(IDEDevice *dev, IDEBus *bus, Error **errp)
{
    if (!dev->blk) {
        error_setg(errp, "No drive specified");
        return false;
    }
    if (dev->unit == UINT32_MAX) {
        dev->unit = bus->devs[0] ? 1 : 0;
    }
    if (dev->unit >= 2) {
        error_setg(errp, "Can't create IDE unit %u, bus supports only 2 units", dev->unit);
        return false;
    }
    if (bus->devs[dev->unit]) {
        error_setg(errp, "IDE unit %u is in use", dev->unit);
        return false;
    }
    return true;
}

/* Geometry and translation from the properties, else from -drive cyls=,heads=,secs=, else
 * guessed (hd_geometry_config). */
static bool ide_dev_geometry(IDEDevice *dev, IDEState *s, Error **errp)
{
    static const HdGeometry max = {65535, 16, 255};
    HdGeometry g = {dev->cyls, dev->heads, dev->secs};
    int trans = dev->chs_trans;

    if (!hd_geometry_config(dev->blk, &g, &trans, &max, errp)) {
        return false;
    }
    s->cylinders = g.cyls;
    s->heads = g.heads;
    s->sectors = g.secs;
    s->chs_trans = trans;
    return true;
}

static bool ide_dev_realize_kind(DeviceState *qdev, IDEDriveKind kind, Error **errp)
{
    IDEDevice *dev = (IDEDevice *)qdev;
    IDEBus *bus = qdev->parent_bus->opaque;
    DriveInfo *dinfo;
    IDEState *s;
    const char *serial;

    if (!ide_dev_check_unit(dev, bus, errp)) {
        return false;
    }
    dinfo = blk_legacy_dinfo(dev->blk);
    if (kind == IDE_NONE) {
        kind = dinfo && dinfo->media_cd ? IDE_CD : IDE_HD;
    }
    s = &bus->ifs[dev->unit];
    serial = dev->serial ? dev->serial : dinfo ? dinfo->serial : NULL;
    if (!ide_init_drive(s, dev->blk, kind, serial, dev->model, dev->version, errp)) {
        return false;
    }
    if (kind == IDE_HD && !ide_dev_geometry(dev, s, errp)) {
        s->blk = NULL;
        s->kind = IDE_NONE;
        return false;
    }
    blk_set_dev_ops(dev->blk, kind == IDE_CD ? &ide_cd_block_ops : &ide_hd_block_ops, s);
    blk_iostatus_enable(dev->blk);
    s->dev = qdev;
    bus->devs[dev->unit] = qdev;
    ide_set_signature(s);
    return true;
}

static bool ide_hd_realize(DeviceState *qdev, Error **errp)
{
    return ide_dev_realize_kind(qdev, IDE_HD, errp);
}

static bool ide_cd_realize(DeviceState *qdev, Error **errp)
{
    return ide_dev_realize_kind(qdev, IDE_CD, errp);
}

static bool ide_drive_realize(DeviceState *qdev, Error **errp)
{
    return ide_dev_realize_kind(qdev, IDE_NONE, errp);
}

/* Removal (the Xen platform's unplug): the unit is empty afterwards, as if no device had
 * been there; the requests in flight finish first. */
static void ide_dev_unrealize(DeviceState *qdev)
{
    IDEDevice *dev = (IDEDevice *)qdev;
    IDEBus *bus = qdev->parent_bus->opaque;
    IDEState *s = &bus->ifs[dev->unit];

    blk_drain(dev->blk);
    blk_set_dev_ops(dev->blk, NULL, NULL);
    s->blk = NULL;
    s->kind = IDE_NONE;
    s->dev = NULL;
    s->identify_set = false;
    bus->devs[dev->unit] = NULL;
    ide_reset(s);
}

static void ide_collect_disk(DeviceState *qdev, void *opaque)
{
    const char *name = qdev->dc->name;
    IDEDevice *dev = (IDEDevice *)qdev;

    if ((!strcmp(name, "ide-hd") || !strcmp(name, "ide-drive")) &&
        ((IDEBus *)qdev->parent_bus->opaque)->ifs[dev->unit].kind == IDE_HD) {
        g_ptr_array_add(opaque, qdev);
    }
}

void ide_unplug_disks(void)
{
    g_autoptr(GPtrArray) disks = g_ptr_array_new();

    qdev_foreach(ide_collect_disk, disks);
    for (guint i = 0; i < disks->len; i++) {
        qdev_device_delete(g_ptr_array_index(disks, i));
    }
}

static char *ide_dev_fw_path(DeviceState *qdev)
{
    return g_strdup_printf("disk@%x", ((IDEDevice *)qdev)->unit);
}

#define IDE_COMMON_PROPS                                                                           \
    DEFINE_PROP_DRIVE("drive", IDEDevice, blk), DEFINE_PROP_BOOTINDEX(IDEDevice, bootindex),       \
        DEFINE_PROP_STRING("ver", IDEDevice, version),                                             \
        DEFINE_PROP_STRING("serial", IDEDevice, serial),                                           \
        DEFINE_PROP_STRING("model", IDEDevice, model),                                             \
        DEFINE_PROP_UINT32("unit", IDEDevice, unit, UINT32_MAX)

#define IDE_CHS_PROPS                                                                              \
    DEFINE_PROP_UINT32("cyls", IDEDevice, cyls, 0),                                                \
        DEFINE_PROP_UINT32("heads", IDEDevice, heads, 0),                                          \
        DEFINE_PROP_UINT32("secs", IDEDevice, secs, 0),                                            \
        DEFINE_PROP_ENUM("bios-chs-trans", IDEDevice, chs_trans, 0, bios_chs_trans_names,          \
                         "Logical CHS translation algorithm, auto/none/lba/large/rechs")

static const Property ide_hd_props[] = {
    IDE_COMMON_PROPS,
    IDE_CHS_PROPS,
    DEFINE_PROP_END,
};

static const Property ide_cd_props[] = {
    IDE_COMMON_PROPS,
    DEFINE_PROP_END,
};

static const DeviceClass ide_hd_class = {
    .name = "ide-hd",
    .desc = "virtual IDE disk",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus_type = QBUS_TYPE_IDE,
    .instance_size = sizeof(IDEDevice),
    .props = ide_hd_props,
    .realize = ide_hd_realize,
    .unrealize = ide_dev_unrealize,
    .fw_dev_path = ide_dev_fw_path,
};

static const DeviceClass ide_cd_class = {
    .name = "ide-cd",
    .desc = "virtual IDE CD-ROM",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus_type = QBUS_TYPE_IDE,
    .instance_size = sizeof(IDEDevice),
    .props = ide_cd_props,
    .realize = ide_cd_realize,
    .unrealize = ide_dev_unrealize,
    .fw_dev_path = ide_dev_fw_path,
};

static const DeviceClass ide_drive_class = {
    .name = "ide-drive",
    .desc = "virtual IDE disk or CD-ROM (legacy)",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus_type = QBUS_TYPE_IDE,
    .instance_size = sizeof(IDEDevice),
    .props = ide_hd_props,
    .realize = ide_drive_realize,
    .unrealize = ide_dev_unrealize,
    .fw_dev_path = ide_dev_fw_path,
};

static void __attribute__((constructor)) ide_dev_register(void)
{
    qdev_register(&ide_hd_class);
    qdev_register(&ide_cd_class);
    qdev_register(&ide_drive_class);
}
