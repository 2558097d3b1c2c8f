/*
 * The end of a device's life: qdev_device_delete() takes a realized device away (first the
 * devices on its buses, then unrealize, wait until nothing it queued can still run,
 * finalize, free its buses, release its properties), deletes the drives it held that came
 * from -drive or drive_add (QEMU 2.2's auto-delete; blockdev-add drives stay) and emits
 * DEVICE_DELETED with the device's QOM path (and its id, if it has one), as 2.2 does when
 * the removal is done. Called at once by device_del on a bus without a hotplug controller,
 * else by the controller when the guest ejects the device. Not the request (qdev.c's
 * qdev_unplug) and not the controller (hw/acpi/pci-hotplug.c).
 */
#include <glib.h>
#include "hw/qdev.h"
#include "monitor/monitor.h"
#include "qdev-int.h"
#include "util/main-loop.h"

/* The -drive/drive_add drives dev holds, marked for deletion, each with a reference. */
static GPtrArray *qdev_auto_del_drives(DeviceState *dev)
{
    GPtrArray *drives = g_ptr_array_new();

    for (const Property *p = dev->dc->props; p && p->name; p++) {
        BlockBackend *blk;

        if (p->type != PROP_DRIVE) {
            continue;
        }
        blk = *(BlockBackend **)((char *)dev + p->offset);
        if (blk && blk_legacy_dinfo(blk)) {
            blk_legacy_dinfo(blk)->auto_del = 1;
            blk_ref(blk);
            g_ptr_array_add(drives, blk);
        }
    }
    return drives;
}

static void qdev_deleted_event(const char *id, const char *path)
{
    JsonObject *data = json_object_new();

    if (id) {
        json_object_set_string_member(data, "device", id);
    }
    json_object_set_string_member(data, "path", path);
    monitor_event("DEVICE_DELETED", data);
}

static void qdev_delete_buses(DeviceState *dev)
{
    g_autoptr(GPtrArray) own = qbus_children_of(dev);

    for (guint i = 0; i < own->len; i++) {
        qbus_delete(g_ptr_array_index(own, i));
    }
}

/* After unrealize and the device's wait: free it, its drives, and tell the monitors. */
static void qdev_delete_finish(void *opaque)
{
    DeviceState *dev = opaque;
    g_autoptr(GPtrArray) drives = qdev_auto_del_drives(dev);
    g_autofree char *id = g_strdup(dev->id);
    g_autofree char *path = g_strdup(dev->path);
    bool virtio = g_str_has_prefix(dev->dc->name, "virtio-");

    if (dev->dc->finalize) {
        dev->dc->finalize(dev);
    }
    qdev_delete_buses(dev);
    qdev_forget(dev);
    for (guint i = 0; i < drives->len; i++) {
        BlockBackend *blk = g_ptr_array_index(drives, i);

        blk_unref(blk); /* the drive's own reference: 2.2's blockdev_auto_del() */
        blk_unref(blk);
    }
    if (virtio) {
        g_autofree char *backend = g_strdup_printf("%s/virtio-backend", path);

        qdev_deleted_event(NULL, backend);
    }
    qdev_deleted_event(id, path);
}

/*
 * The devices on the buses dev provides go before it, each with its own DEVICE_DELETED, as
 * in QEMU 2.2 (an adapter's disks), the last one plugged first (2.2 keeps a bus's children
 * newest first). They are SCSI disks, whose removal is done at once, so the buses are empty
 * when dev's finish frees them.
 */
static void qdev_delete_children(DeviceState *dev)
{
    g_autoptr(GPtrArray) own = qbus_children_of(dev);

    for (guint i = 0; i < own->len; i++) {
        BusState *bus = g_ptr_array_index(own, i);
        g_autoptr(GPtrArray) kids = g_ptr_array_copy(bus->children, NULL, NULL);

        for (guint j = kids->len; j-- > 0;) {
            qdev_device_delete(g_ptr_array_index(kids, j));
        }
    }
}

void qdev_device_delete(DeviceState *dev)
{
    if (dev->deleting) {
        return;
    }
    dev->deleting = true;
    bql_wait_unsuspended(); /* no vCPU is left inside one of its handlers */
    qdev_delete_children(dev);
    if (dev->dc->unrealize) {
        dev->dc->unrealize(dev);
    }
    if (dev->dc->unrealize_wait) {
        dev->dc->unrealize_wait(dev, qdev_delete_finish);
    } else {
        qdev_delete_finish(dev);
    }
}
