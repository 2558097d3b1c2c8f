/*
 * The device registry: device types registered from constructors, the buses boards and
 * controllers create, and the one path every user-created device takes (find the type and
 * the bus, set properties, realize), shared by -device and the monitor's device_add, plus
 * device_del and the bootindex boot order. Not the property parsing (qdev-props.c) and
 * not the help listings (qdev-help.c).
 */
#include <stdarg.h>
#include <string.h>
#include "hw/qdev.h"
#include "qdev-int.h"

const OptsList qdev_device_opts = {"device", "driver", false, NULL};

static GPtrArray *classes; /* of const DeviceClass * */
static GPtrArray *buses;   /* of BusState * */
static GPtrArray *devices; /* of DeviceState *, realized, in creation order */
static bool qdev_hotplug;  /* start-up is done: new devices are hot-added */

void qdev_machine_creation_done(void)
{
    qdev_hotplug = true;
}

void qdev_forget(DeviceState *dev)
{
    if (dev->parent_bus) {
        g_ptr_array_remove(dev->parent_bus->children, dev);
    }
    g_ptr_array_remove(devices, dev);
    qdev_free(dev);
}

GPtrArray *qdev_classes(void)
{
    if (!classes) {
        classes = g_ptr_array_new();
    }
    return classes;
}

void qdev_register(const DeviceClass *dc)
{
    g_ptr_array_add(qdev_classes(), (gpointer)dc);
}

const DeviceClass *qdev_find_class(const char *name)
{
    GPtrArray *all = qdev_classes();

    for (guint i = 0; i < all->len; i++) {
        const DeviceClass *dc = g_ptr_array_index(all, i);
        if (!strcmp(dc->name, name)) {
            return dc;
        }
    }
    for (guint i = 0; i < all->len; i++) {
        const DeviceClass *dc = g_ptr_array_index(all, i);
        if (dc->alias && !strcmp(dc->alias, name)) {
            return dc;
        }
    }
    return NULL;
}

/* ---- Buses ---- */

BusState *qbus_new(const char *type, const char *name, DeviceState *parent, unsigned max_dev,
                   void *opaque)
{
    BusState *bus = g_new0(BusState, 1);

    bus->type = type;
    bus->name = g_strdup(name);
    bus->parent = parent;
    bus->max_dev = max_dev;
    bus->opaque = opaque;
    bus->children = g_ptr_array_new();
    if (!buses) {
        buses = g_ptr_array_new();
    }
    g_ptr_array_add(buses, bus);
    return bus;
}

BusState *qbus_find(const char *name)
{
    for (guint i = 0; buses && i < buses->len; i++) {
        BusState *bus = g_ptr_array_index(buses, i);
        if (!strcmp(bus->name, name)) {
            return bus;
        }
    }
    return NULL;
}

BusState *qbus_find_child(DeviceState *parent, const char *type)
{
    for (guint i = 0; parent && buses && i < buses->len; i++) {
        BusState *bus = g_ptr_array_index(buses, i);

        if (bus->parent == parent && !strcmp(bus->type, type)) {
            return bus;
        }
    }
    return NULL;
}

void qbus_set_fw_path(BusState *bus, const char *fw_path)
{
    g_free(bus->fw_path);
    bus->fw_path = g_strdup(fw_path);
}

static bool qbus_is_full(BusState *bus)
{
    return bus->max_dev && bus->children->len >= bus->max_dev;
}

/* A bus of the type with room left, the newest first: QEMU's qbus_find_recursive() meets
 * a controller's buses in reverse order of creation (so -device ide-cd goes to ide.1). */
static BusState *qbus_find_free(const char *type)
{
    for (guint i = buses ? buses->len : 0; i-- > 0;) {
        BusState *bus = g_ptr_array_index(buses, i);
        if (!strcmp(bus->type, type) && !qbus_is_full(bus)) {
            return bus;
        }
    }
    return NULL;
}

static void qbus_free(gpointer p)
{
    BusState *bus = p;

    g_ptr_array_unref(bus->children);
    g_free(bus->fw_path);
    g_free(bus->name);
    g_free(bus);
}

GPtrArray *qbus_children_of(DeviceState *parent)
{
    GPtrArray *found = g_ptr_array_new();

    for (guint i = 0; buses && i < buses->len; i++) {
        BusState *bus = g_ptr_array_index(buses, i);

        if (bus->parent == parent) {
            g_ptr_array_add(found, bus);
        }
    }
    return found;
}

void qbus_delete(BusState *bus)
{
    for (guint i = 0; i < bus->children->len; i++) {
        ((DeviceState *)g_ptr_array_index(bus->children, i))->parent_bus = NULL;
    }
    g_ptr_array_remove(buses, bus);
    qbus_free(bus);
}

/* The paths' numbers: id-less -device/device_add devices, and the board's. */
static int anon_count, unattached_count;

void qdev_reset_registry(void)
{
    qdev_hotplug = false;
    anon_count = unattached_count = 0;
    if (buses) {
        g_ptr_array_set_free_func(buses, qbus_free);
        g_ptr_array_unref(buses);
        buses = NULL;
    }
    if (devices) {
        g_ptr_array_set_free_func(devices, (GDestroyNotify)qdev_free);
        g_ptr_array_unref(devices);
        devices = NULL;
    }
}

/* ---- Devices ---- */

static BusState *qdev_choose_bus(const DeviceClass *dc, const char *path, Error **errp)
{
    BusState *bus;

    if (!dc->bus_type) {
        if (path) {
            error_setg(errp, "Bus '%s' not found", path);
        }
        return NULL;
    }
    if (!path) {
        bus = qbus_find_free(dc->bus_type);
        if (!bus) {
            error_setg(errp, "No '%s' bus found for device '%s'", dc->bus_type, dc->name);
        }
        return bus;
    }
    bus = qbus_find(path);
    if (!bus) {
        error_setg(errp, "Bus '%s' not found", path);
    } else if (strcmp(bus->type, dc->bus_type) != 0) {
        error_setg(errp, "Device '%s' can't go on a %s bus", dc->name, bus->type);
        bus = NULL;
    } else if (qbus_is_full(bus)) {
        error_setg(errp, "Bus '%s' is full", path);
        bus = NULL;
    }
    return bus;
}

static DeviceState *qdev_new(const DeviceClass *dc, BusState *bus, const char *id)
{
    DeviceState *dev = g_malloc0(dc->instance_size);

    dev->dc = dc;
    dev->parent_bus = bus;
    dev->id = g_strdup(id);
    qdev_prop_set_defaults(dev);
    return dev;
}

void qdev_free(DeviceState *dev)
{
    qdev_prop_release(dev);
    g_free(dev->id);
    g_free(dev->path);
    g_free(dev);
}

bool qdev_prop_parse(DeviceState *dev, const char *name, const char *value, Error **errp)
{
    const Property *prop = qdev_prop_find(dev->dc, name);

    if (!prop) {
        error_setg(errp, "Property '.%s' not found", name);
        return false;
    }
    return qdev_prop_set_value(dev, prop, value, errp);
}

static int qdev_set_opt(void *opaque, const char *name, const char *value, Error **errp)
{
    if (!strcmp(name, "driver") || !strcmp(name, "bus")) {
        return 0;
    }
    return qdev_prop_parse(opaque, name, value, errp) ? 0 : -1;
}

static bool qdev_check_bootindex(DeviceState *dev, Error **errp)
{
    int32_t idx = qdev_get_bootindex(dev);

    for (guint i = 0; idx >= 0 && devices && i < devices->len; i++) {
        if (qdev_get_bootindex(g_ptr_array_index(devices, i)) == idx) {
            error_setg(errp, "Two devices with same boot index %d", idx);
            return false;
        }
    }
    return true;
}

static const HotplugOps *qdev_hotplug_ops(DeviceState *dev)
{
    return dev->hotplugged && dev->parent_bus ? dev->parent_bus->hotplug_ops : NULL;
}

/* A realize that failed after making its buses leaves none behind. */
static void qdev_delete_buses_of(DeviceState *dev)
{
    GPtrArray *own = qbus_children_of(dev);

    for (guint i = 0; i < own->len; i++) {
        qbus_delete(g_ptr_array_index(own, i));
    }
    g_ptr_array_unref(own);
}

/* Realize dev and put it on its bus; frees it on failure. A hot-added device is checked by
 * its bus's hotplug controller first and announced to the guest last. */
static bool qdev_realize(DeviceState *dev, Error **errp)
{
    const HotplugOps *hp = qdev_hotplug_ops(dev);
    void *hp_opaque = hp ? dev->parent_bus->hotplug_opaque : NULL;

    if (!qdev_check_bootindex(dev, errp) ||
        (hp && hp->pre_plug && !hp->pre_plug(hp_opaque, dev, errp)) ||
        (dev->dc->realize && !dev->dc->realize(dev, errp))) {
        qdev_delete_buses_of(dev);
        qdev_free(dev);
        return false;
    }
    dev->realized = true;
    if (dev->parent_bus) {
        g_ptr_array_add(dev->parent_bus->children, dev);
    }
    if (!devices) {
        devices = g_ptr_array_new();
    }
    g_ptr_array_add(devices, dev);
    if (hp && hp->plug) {
        hp->plug(hp_opaque, dev);
    }
    return true;
}

DeviceState *qdev_find(const char *id)
{
    for (guint i = 0; id && devices && i < devices->len; i++) {
        DeviceState *dev = g_ptr_array_index(devices, i);
        if (!g_strcmp0(dev->id, id)) {
            return dev;
        }
    }
    return NULL;
}

static const DeviceClass *qdev_lookup_driver(const char *driver, Error **errp)
{
    const DeviceClass *dc;

    if (!driver) {
        error_setg(errp, "Parameter 'driver' is missing");
        return NULL;
    }
    dc = qdev_find_class(driver);
    if (!dc || dc->no_user) {
        error_setg(errp, "Parameter 'driver' expects device type");
        return NULL;
    }
    return dc;
}

DeviceState *qdev_device_add(const Opts *opts, Error **errp)
{
    const DeviceClass *dc = qdev_lookup_driver(opts_get(opts, "driver"), errp);
    const char *id = opts_id(opts);
    BusState *bus = NULL;
    DeviceState *dev;
    Error *local_err = NULL;

    if (!dc) {
        return NULL;
    }
    if (dc->bus_type || opts_get(opts, "bus")) {
        bus = qdev_choose_bus(dc, opts_get(opts, "bus"), errp);
        if (!bus) {
            return NULL;
        }
    }
    if (id && qdev_find(id)) {
        error_setg(errp, "Duplicate ID '%s' for device", id);
        return NULL;
    }
    dev = qdev_new(dc, bus, id);
    dev->hotplugged = qdev_hotplug;
    if (opts_foreach(opts, qdev_set_opt, dev, &local_err) != 0) {
        error_propagate(errp, local_err);
        qdev_free(dev);
        return NULL;
    }
    /* As in 2.2, a device whose properties were accepted takes a number, even if its
     * realize fails. */
    dev->path = id ? g_strdup_printf("/machine/peripheral/%s", id)
                   : g_strdup_printf("/machine/peripheral-anon/device[%d]", anon_count++);
    return qdev_realize(dev, errp) ? dev : NULL;
}

DeviceState *qdev_create_on_bus(const char *driver, BusState *bus, Error **errp, ...)
{
    const DeviceClass *dc = qdev_find_class(driver);
    DeviceState *dev;
    const char *name;
    va_list ap;

    if (!dc) {
        error_setg(errp, "Parameter 'driver' expects device type");
        return NULL;
    }
    dev = qdev_new(dc, bus, NULL);
    va_start(ap, errp);
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        if (!qdev_prop_parse(dev, name, value, errp)) {
            va_end(ap);
            qdev_free(dev);
            return NULL;
        }
    }
    va_end(ap);
    dev->path = g_strdup_printf("/machine/unattached/device[%d]", unattached_count++);
    return qdev_realize(dev, errp) ? dev : NULL;
}

bool qdev_unplug(const char *id, Error **errp)
{
    DeviceState *dev = qdev_find(id);

    if (!dev) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_FOUND, "Device '%s' not found", id);
        return false;
    }
    if (dev->parent_bus && !dev->parent_bus->hotplug) {
        error_setg(errp, "Bus '%s' does not support hotplugging", dev->parent_bus->name);
        return false;
    }
    if (!dev->dc->hotpluggable) {
        error_setg(errp, "Device '%s' does not support hotplugging", dev->dc->name);
        return false;
    }
    if (dev->parent_bus && dev->parent_bus->hotplug_ops) {
        dev->parent_bus->hotplug_ops->unplug_request(dev->parent_bus->hotplug_opaque, dev);
    } else {
        qdev_device_delete(dev);
    }
    return true;
}

void qdev_foreach(void (*fn)(DeviceState *dev, void *opaque), void *opaque)
{
    for (guint i = 0; devices && i < devices->len; i++) {
        fn(g_ptr_array_index(devices, i), opaque);
    }
}

/* ---- Boot order ---- */

static gint qdev_cmp_bootindex(gconstpointer a, gconstpointer b)
{
    int32_t ia = qdev_get_bootindex(*(DeviceState **)a);
    int32_t ib = qdev_get_bootindex(*(DeviceState **)b);

    return ia < ib ? -1 : ia > ib;
}

static char *qdev_fw_path(DeviceState *dev)
{
    g_autofree char *own = dev->dc->fw_dev_path ? dev->dc->fw_dev_path(dev) : NULL;
    const char *prefix =
        dev->parent_bus && dev->parent_bus->fw_path ? dev->parent_bus->fw_path : "";

    return own ? g_strdup_printf("%s/%s", prefix, own) : NULL;
}

char *qdev_get_boot_order(size_t *len)
{
    g_autoptr(GPtrArray) boot = g_ptr_array_new();
    GString *s = g_string_new(NULL);

    for (guint i = 0; devices && i < devices->len; i++) {
        DeviceState *dev = g_ptr_array_index(devices, i);
        if (qdev_get_bootindex(dev) >= 0) {
            g_ptr_array_add(boot, dev);
        }
    }
    g_ptr_array_sort(boot, qdev_cmp_bootindex);
    for (guint i = 0; i < boot->len; i++) {
        g_autofree char *path = qdev_fw_path(g_ptr_array_index(boot, i));
        if (path) {
            g_string_append_printf(s, "%s%s", s->len ? "\n" : "", path);
        }
    }
    *len = s->len ? s->len + 1 : 0;
    return g_string_free(s, FALSE);
}
