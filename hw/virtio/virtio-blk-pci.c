/*
 * virtio-blk-pci: virtio-blk on the virtio PCI transport, as the -device type (alias
 * virtio-blk) with QEMU 7.2's properties and pc-machine defaults (transitional, one queue
 * per vCPU, num-queues + 1 MSI-X vectors, 256-entry queues), and the devices -drive
 * if=virtio implies: one per drive in command-line order, at addr= or the next free slot.
 */
#include <linux/pci_regs.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "hw/machine.h"
#include "hw/qdev.h"
#include "hw/virtio-blk.h"
#include "hw/virtio-pci.h"

#define PCI_CLASS_STORAGE_SCSI 0x0100
#define VIRTIO_BLK_AUTO_NUM_QUEUES UINT16_MAX
#define DEV_NVECTORS_UNSPECIFIED UINT32_MAX

typedef enum OnOffAuto { ON_OFF_AUTO_AUTO, ON_OFF_AUTO_ON, ON_OFF_AUTO_OFF } OnOffAuto;

static const char *const on_off_auto_names[] = {"auto", "on", "off", NULL};

typedef struct VirtIOBlkPCIDev {
    DeviceState qdev;
    BlockBackend *blk;
    int32_t addr;
    char *serial;
    uint16_t num_queues;
    uint16_t queue_size;
    bool config_wce;
    bool discard;
    bool write_zeroes;
    int disable_legacy; /* OnOffAuto; auto is "on" only on PCI Express */
    bool disable_modern;
    uint32_t vectors;
    int32_t bootindex;
    char *iothread;
    VirtIOBlock *blk_dev;
} VirtIOBlkPCIDev;

static unsigned virtio_blk_pci_auto_queues(void)
{
    unsigned cpus = current_machine && current_machine->smp_cpus ? current_machine->smp_cpus : 1;

    return MIN(cpus, VIRTIO_QUEUE_MAX - 1);
}

VirtIOBlock *virtio_blk_pci_create(PCIBus *bus, int devfn, BlockBackend *blk,
                                   const VirtioBlkConf *conf, Error **errp)
{
    VirtioBlkConf c = *conf;
    VirtioPCIConf pc = {
        .disable_legacy = conf->disable_legacy,
        .disable_modern = conf->disable_modern,
        .name = "virtio-blk-pci",
        .class_code = PCI_CLASS_STORAGE_SCSI << 8,
    };
    VirtIOBlock *s;

    if (c.num_queues == 0) {
        c.num_queues = virtio_blk_pci_auto_queues();
    }
    pc.vectors = conf->vectors < 0 ? c.num_queues + 1 : (unsigned)conf->vectors;
    s = virtio_blk_new(blk, &c, errp);
    if (!s) {
        return NULL;
    }
    if (!virtio_pci_new(bus, devfn, virtio_blk_vdev(s), &pc, errp)) {
        virtio_blk_free(s);
        return NULL;
    }
    return s;
}

/* ---- the -device type ---- */

/*
 * iothread=ID, or ID:ID:... to spread the queues (queue i in the (i mod n)-th thread;
 * QEMU 7.2 has only the single form). NULL array: none given.
 */
static IOThread **virtio_blk_pci_iothreads(const char *spec, unsigned *n, Error **errp)
{
    g_auto(GStrv) ids = NULL;
    IOThread **list;

    *n = 0;
    if (!spec) {
        return NULL;
    }
    ids = g_strsplit(spec, ":", -1);
    list = g_new0(IOThread *, g_strv_length(ids) + 1);
    for (unsigned i = 0; ids[i]; i++) {
        list[i] = iothread_find(ids[i]);
        if (!list[i]) {
            error_setg(errp, "Property 'virtio-blk-device.iothread' can't find value '%s'", ids[i]);
            g_free(list);
            return NULL;
        }
    }
    *n = g_strv_length(ids);
    return list;
}

static int virtio_blk_pci_devfn(VirtIOBlock *s)
{
    VirtIOPCIProxy *proxy = virtio_blk_vdev(s)->transport_opaque;

    return proxy->pci->devfn;
}

static VirtIOPCIProxy *virtio_blk_pci_proxy(VirtIOBlkPCIDev *d)
{
    return virtio_blk_vdev(d->blk_dev)->transport_opaque;
}

static bool virtio_blk_pci_realize(DeviceState *qdev, Error **errp)
{
    VirtIOBlkPCIDev *d = (VirtIOBlkPCIDev *)qdev;
    VirtioBlkConf conf;

    virtio_blk_conf_init(&conf);
    conf.serial = d->serial;
    conf.num_queues = d->num_queues == VIRTIO_BLK_AUTO_NUM_QUEUES ? 0 : d->num_queues;
    if (d->num_queues == 0) {
        error_setg(errp, "num-queues property must be larger than 0");
        return false;
    }
    conf.queue_size = d->queue_size;
    conf.config_wce = d->config_wce;
    conf.discard = d->discard;
    conf.write_zeroes = d->write_zeroes;
    conf.disable_legacy = d->disable_legacy == ON_OFF_AUTO_ON;
    conf.disable_modern = d->disable_modern;
    conf.vectors = d->vectors == DEV_NVECTORS_UNSPECIFIED ? -1 : (int)MIN(d->vectors, INT32_MAX);
    conf.bootindex = d->bootindex;
    conf.iothreads = virtio_blk_pci_iothreads(d->iothread, &conf.n_iothreads, errp);
    if (d->iothread && !conf.iothreads) {
        return false;
    }
    d->blk_dev = virtio_blk_pci_create(qdev->parent_bus->opaque, d->addr, d->blk, &conf, errp);
    g_free(conf.iothreads);
    if (d->blk_dev) {
        virtio_blk_pci_proxy(d)->pci->qdev = qdev;
    }
    return d->blk_dev != NULL;
}

/* Hot-unplug (the guest ejected it): gone for the guest, then its requests drained here in
 * the main loop; the memory goes in finalize, after virtio_pci_wait(). */
static void virtio_blk_pci_unrealize(DeviceState *qdev)
{
    VirtIOBlkPCIDev *d = (VirtIOBlkPCIDev *)qdev;

    virtio_pci_unplug(virtio_blk_pci_proxy(d));
    blk_drain(d->blk);
}

static void virtio_blk_pci_unrealize_wait(DeviceState *qdev, void (*done)(void *dev))
{
    virtio_pci_wait(virtio_blk_pci_proxy((VirtIOBlkPCIDev *)qdev), done, qdev);
}

static void virtio_blk_pci_finalize(DeviceState *qdev)
{
    VirtIOBlkPCIDev *d = (VirtIOBlkPCIDev *)qdev;
    VirtIOPCIProxy *proxy = virtio_blk_pci_proxy(d);

    virtio_blk_free(d->blk_dev);
    virtio_pci_free(proxy);
    d->blk_dev = NULL;
}

static char *virtio_blk_pci_fw_dev_path(DeviceState *qdev)
{
    VirtIOBlkPCIDev *d = (VirtIOBlkPCIDev *)qdev;
    int devfn = virtio_blk_pci_devfn(d->blk_dev);

    /* What QEMU writes into "bootorder"; SeaBIOS matches the "/pci@i0cf8/ *@SLOT" prefix. */
    if (PCI_FUNC(devfn)) {
        return g_strdup_printf("scsi@%x,%x/disk@0,0", PCI_SLOT(devfn), PCI_FUNC(devfn));
    }
    return g_strdup_printf("scsi@%x/disk@0,0", PCI_SLOT(devfn));
}

static const Property virtio_blk_pci_props[] = {
    DEFINE_PROP_DRIVE("drive", VirtIOBlkPCIDev, blk),
    DEFINE_PROP_PCI_DEVFN("addr", VirtIOBlkPCIDev, addr, -1),
    DEFINE_PROP_STRING("serial", VirtIOBlkPCIDev, serial),
    DEFINE_PROP_UINT16("num-queues", VirtIOBlkPCIDev, num_queues, VIRTIO_BLK_AUTO_NUM_QUEUES),
    DEFINE_PROP_UINT16("queue-size", VirtIOBlkPCIDev, queue_size, VIRTIO_BLK_DEFAULT_QUEUE_SIZE),
    DEFINE_PROP_BOOL("config-wce", VirtIOBlkPCIDev, config_wce, true),
    DEFINE_PROP_BOOL("discard", VirtIOBlkPCIDev, discard, true),
    DEFINE_PROP_BOOL("write-zeroes", VirtIOBlkPCIDev, write_zeroes, true),
    DEFINE_PROP_ENUM("disable-legacy", VirtIOBlkPCIDev, disable_legacy, ON_OFF_AUTO_AUTO,
                     on_off_auto_names, "on/off/auto"),
    DEFINE_PROP_BOOL("disable-modern", VirtIOBlkPCIDev, disable_modern, false),
    DEFINE_PROP_UINT32("vectors", VirtIOBlkPCIDev, vectors, DEV_NVECTORS_UNSPECIFIED),
    DEFINE_PROP_BOOTINDEX(VirtIOBlkPCIDev, bootindex),
    DEFINE_PROP_STRING("iothread", VirtIOBlkPCIDev, iothread),
    DEFINE_PROP_END,
};

static const DeviceClass virtio_blk_pci_class = {
    .name = "virtio-blk-pci",
    .alias = "virtio-blk",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus_type = QBUS_TYPE_PCI,
    .instance_size = sizeof(VirtIOBlkPCIDev),
    .props = virtio_blk_pci_props,
    .hotpluggable = true,
    .realize = virtio_blk_pci_realize,
    .unrealize = virtio_blk_pci_unrealize,
    .unrealize_wait = virtio_blk_pci_unrealize_wait,
    .finalize = virtio_blk_pci_finalize,
    .fw_dev_path = virtio_blk_pci_fw_dev_path,
};

static void __attribute__((constructor)) virtio_blk_pci_register(void)
{
    qdev_register(&virtio_blk_pci_class);
}

/* ---- -drive if=virtio ---- */

bool virtio_blk_pci_create_drives(Error **errp)
{
    BusState *bus = qbus_find("pci.0");

    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        DriveInfo *dinfo = blk_legacy_dinfo(blk);
        DeviceState *dev;

        if (!dinfo || dinfo->type != IF_VIRTIO) {
            continue;
        }
        if (dinfo->devaddr) {
            dev = qdev_create_on_bus("virtio-blk-pci", bus, errp, "drive", blk_name(blk), "addr",
                                     dinfo->devaddr, NULL);
        } else {
            dev = qdev_create_on_bus("virtio-blk-pci", bus, errp, "drive", blk_name(blk), NULL);
        }
        if (!dev) {
            return false;
        }
    }
    return true;
}
