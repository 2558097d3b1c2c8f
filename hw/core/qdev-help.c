/*
 * "-device help" and "-device DRIVER,help", printed as QEMU 2.2 prints them (to stderr):
 * the device list grouped by category ('name "ide-hd", bus IDE, desc "virtual IDE disk"'),
 * and one "DRIVER.PROP=TYPE" line per property.
 */
#include <string.h>
#include "hw/qdev.h"
#include "qdev-int.h"

static const char *const category_names[DEVICE_CATEGORY_MAX] = {
    [DEVICE_CATEGORY_BRIDGE] = "Controller/Bridge/Hub",
    [DEVICE_CATEGORY_USB] = "USB",
    [DEVICE_CATEGORY_STORAGE] = "Storage",
    [DEVICE_CATEGORY_NETWORK] = "Network",
    [DEVICE_CATEGORY_INPUT] = "Input",
    [DEVICE_CATEGORY_DISPLAY] = "Display",
    [DEVICE_CATEGORY_SOUND] = "Sound",
    [DEVICE_CATEGORY_MISC] = "Misc",
};

static gint qdev_cmp_name(gconstpointer a, gconstpointer b)
{
    const DeviceClass *da = *(const DeviceClass **)a;
    const DeviceClass *db = *(const DeviceClass **)b;

    return strcasecmp(da->name, db->name);
}

static void qdev_print_devinfo(const DeviceClass *dc, FILE *f)
{
    fprintf(f, "name \"%s\"", dc->name);
    if (dc->bus_type) {
        fprintf(f, ", bus %s", dc->bus_type);
    }
    if (dc->alias) {
        fprintf(f, ", alias \"%s\"", dc->alias);
    }
    if (dc->desc) {
        fprintf(f, ", desc \"%s\"", dc->desc);
    }
    fprintf(f, "\n");
}

void qdev_print_device_list(FILE *f)
{
    g_autoptr(GPtrArray) list = g_ptr_array_copy(qdev_classes(), NULL, NULL);
    bool first = true;

    g_ptr_array_sort(list, qdev_cmp_name);
    for (int cat = 0; cat < DEVICE_CATEGORY_MAX; cat++) {
        bool header = false;

        for (guint i = 0; i < list->len; i++) {
            const DeviceClass *dc = g_ptr_array_index(list, i);
            if (dc->no_user || (int)dc->category != cat) {
                continue;
            }
            if (!header) {
                fprintf(f, "%s%s devices:\n", first ? "" : "\n", category_names[cat]);
                first = false;
                header = true;
            }
            qdev_print_devinfo(dc, f);
        }
    }
}

bool qdev_print_props_help(const char *driver, FILE *f)
{
    const DeviceClass *dc = qdev_find_class(driver);

    if (!dc || dc->no_user) {
        return false;
    }
    for (const Property *prop = dc->props; prop && prop->name; prop++) {
        fprintf(f, "%s.%s=%s", dc->name, prop->name, qdev_prop_type_name(prop));
        if (prop->desc) {
            fprintf(f, " (%s)", prop->desc);
        }
        fprintf(f, "\n");
    }
    return true;
}

bool qdev_device_help(const Opts *opts)
{
    const char *driver = opts_get(opts, "driver");

    if (driver && (!strcmp(driver, "help") || !strcmp(driver, "?"))) {
        qdev_print_device_list(stderr);
        return true;
    }
    if (!driver || !(opts_has(opts, "help") || opts_has(opts, "?"))) {
        return false;
    }
    return qdev_print_props_help(driver, stderr);
}
