/*
 * Unit tests for the monitor's device_add and device_del (hw/core/qdev-monitor.c) through
 * the command table, on a hotpluggable test device with a drive property: device_add's
 * arguments become -device options, device_del removes the device and deletes the drive
 * it held when the drive came from -drive/drive_add, but not one without legacy drive
 * information (blockdev-add's), and the errors of 2.2. On a bus with a hotplug controller:
 * only devices added after start-up are announced, device_del only asks, and the removal
 * (unrealize, the device's wait, finalize, then the drive) happens when the controller calls
 * qdev_device_delete().
 */
#include <string.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "hw/qdev.h"
#include "monitor/command.h"
#include "util/main-loop.h"

typedef struct HotDev {
    DeviceState qdev;
    BlockBackend *blk;
    uint32_t x;
} HotDev;

static const Property hot_props[] = {
    DEFINE_PROP_DRIVE("drive", HotDev, blk),
    DEFINE_PROP_UINT32("x", HotDev, x, 0),
    DEFINE_PROP_END,
};

static const DeviceClass hot_class = {
    .name = "test-hot",
    .bus_type = QBUS_TYPE_PCI,
    .instance_size = sizeof(HotDev),
    .props = hot_props,
    .hotpluggable = true,
};

/* What the test controller and the waiting device saw, in order. */
static GString *trace;
static void (*pending_done)(void *dev);
static void *pending_dev;

static void waiting_unrealize(DeviceState *dev)
{
    g_string_append_printf(trace, "unrealize %s;", dev->id);
}

static void waiting_wait(DeviceState *dev, void (*done)(void *dev))
{
    g_string_append_printf(trace, "wait %s;", dev->id);
    pending_done = done;
    pending_dev = dev;
}

static void waiting_finalize(DeviceState *dev)
{
    g_string_append_printf(trace, "finalize %s;", dev->id);
}

static const DeviceClass waiting_class = {
    .name = "test-waiting",
    .bus_type = QBUS_TYPE_IDE, /* the test's bus with a controller */
    .instance_size = sizeof(HotDev),
    .props = hot_props,
    .hotpluggable = true,
    .unrealize = waiting_unrealize,
    .unrealize_wait = waiting_wait,
    .finalize = waiting_finalize,
};

static bool ctl_pre_plug(void *opaque, DeviceState *dev, Error **errp)
{
    g_string_append_printf(trace, "pre_plug %s;", dev->id);
    return true;
}

static void ctl_plug(void *opaque, DeviceState *dev)
{
    g_string_append_printf(trace, "plug %s;", dev->id);
}

static void ctl_unplug_request(void *opaque, DeviceState *dev)
{
    g_string_append_printf(trace, "request %s;", dev->id);
}

static const HotplugOps ctl_ops = {
    .pre_plug = ctl_pre_plug,
    .plug = ctl_plug,
    .unplug_request = ctl_unplug_request,
};

static JsonObject *args_of(const char *json)
{
    g_autoptr(JsonParser) p = json_parser_new();

    g_assert_true(json_parser_load_from_data(p, json, -1, NULL));
    return json_object_ref(json_node_get_object(json_parser_get_root(p)));
}

/* Run a QMP command; its error text, or NULL on success. */
static char *run(const char *name, const char *json)
{
    const MonitorCommand *cmd = monitor_find_qmp(name);
    g_autoptr(JsonObject) args = args_of(json);
    Error *err = NULL;
    JsonNode *ret;
    char *text = NULL;

    g_assert_nonnull(cmd);
    g_assert_true(monitor_check_args(cmd->args_type, args, &err));
    ret = monitor_call(cmd, args, &err);
    if (err) {
        text = g_strdup(error_get_pretty(err));
        error_free(err);
    }
    if (ret) {
        json_node_unref(ret);
    }
    return text;
}

static void new_drive(const char *optstr)
{
    Opts *opts = drive_def(optstr, &error_abort);

    g_assert_nonnull(drive_new(opts, IF_IDE, &error_abort));
    opts_free(opts);
}

static void test_device_add_del(void)
{
    char *err;

    new_drive("if=none,id=legacy");
    g_assert_nonnull(blk_new("bare", &error_abort)); /* like blockdev-add: no DriveInfo */

    g_assert_null(run("device_add", "{\"driver\": \"test-hot\", \"id\": \"h1\", "
                                    "\"drive\": \"legacy\", \"x\": 7}"));
    g_assert_cmpuint(((HotDev *)qdev_find("h1"))->x, ==, 7);
    g_assert_true(blk_get_attached_dev(blk_by_name("legacy")) == qdev_find("h1"));
    err = run("device_add", "{\"driver\": \"test-hot\", \"id\": \"h1\"}");
    g_assert_cmpstr(err, ==, "Duplicate ID 'h1' for device");
    g_free(err);
    err = run("device_add", "{\"id\": \"h9\"}");
    g_assert_cmpstr(err, ==, "Parameter 'driver' is missing");
    g_free(err);
    g_assert_null(run("device_add", "{\"driver\": \"test-hot\", \"id\": \"h2\", "
                                    "\"drive\": \"bare\"}"));

    /* -drive's drive goes with its device; blockdev-add's stays. */
    g_assert_null(run("device_del", "{\"id\": \"h1\"}"));
    g_assert_null(qdev_find("h1"));
    g_assert_null(blk_by_name("legacy"));
    g_assert_null(run("device_del", "{\"id\": \"h2\"}"));
    g_assert_nonnull(blk_by_name("bare"));
    g_assert_null(blk_get_attached_dev(blk_by_name("bare")));
    err = run("device_del", "{\"id\": \"h1\"}");
    g_assert_cmpstr(err, ==, "Device 'h1' not found");
    g_free(err);
    blk_unref(blk_by_name("bare"));
}

static void test_hotplug_controller(void)
{
    BusState *bus = qbus_new(QBUS_TYPE_IDE, "ctl.0", NULL, 0, NULL);
    Opts *opts = opts_parse(&qdev_device_opts, "test-waiting,id=cold", true, &error_abort);

    bus->hotplug = true;
    bus->hotplug_ops = &ctl_ops;
    trace = g_string_new(NULL);
    new_drive("if=none,id=hotdrv");
    g_assert_nonnull(qdev_device_add(opts, &error_abort)); /* start-up: not announced */
    opts_free(opts);
    qdev_machine_creation_done();
    g_assert_null(run("device_add", "{\"driver\": \"test-waiting\", \"id\": \"hot\", "
                                    "\"drive\": \"hotdrv\"}"));
    g_assert_cmpstr(trace->str, ==, "pre_plug hot;plug hot;");

    g_string_truncate(trace, 0);
    g_assert_null(run("device_del", "{\"id\": \"hot\"}"));
    g_assert_cmpstr(trace->str, ==, "request hot;");
    g_assert_nonnull(qdev_find("hot"));
    g_assert_nonnull(blk_by_name("hotdrv"));

    /* The guest ejects: unrealize at once, the rest once the device's wait is over. */
    qdev_device_delete(qdev_find("hot"));
    qdev_device_delete(qdev_find("hot")); /* a second eject while the first runs: nothing */
    g_assert_cmpstr(trace->str, ==, "request hot;unrealize hot;wait hot;");
    g_assert_nonnull(blk_by_name("hotdrv"));
    pending_done(pending_dev);
    g_assert_cmpstr(trace->str, ==, "request hot;unrealize hot;wait hot;finalize hot;");
    g_assert_null(qdev_find("hot"));
    g_assert_null(blk_by_name("hotdrv"));
    g_assert_nonnull(qdev_find("cold"));
    g_string_free(trace, TRUE);
}

int main(int argc, char **argv)
{
    BusState *pci;

    g_test_init(&argc, &argv, NULL);
    qdev_register(&hot_class);
    qdev_register(&waiting_class);
    pci = qbus_new(QBUS_TYPE_PCI, "pci.0", NULL, 0, NULL);
    pci->hotplug = true;
    bql_lock(); /* commands and events run with it, as in the main loop */
    g_test_add_func("/qdev-monitor/device-add-del", test_device_add_del);
    g_test_add_func("/qdev-monitor/hotplug-controller", test_hotplug_controller);
    return g_test_run();
}
