/*
 * Unit tests for the -device infrastructure (hw/core/qdev*.c): a test device type with a
 * property of every kind, buses of two types, QEMU 2.2's error texts for each failure of
 * qdev_device_add(), drive= claiming a backend, device_del, the help listings and the
 * bootindex boot order.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "hw/qdev.h"

typedef struct TestDev {
    DeviceState qdev;
    bool flag;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    char *str;
    BlockBackend *blk;
    int32_t addr;
    int trans;
    int32_t bootindex;
    bool realized_once;
} TestDev;

static const char *const trans_names[] = {"auto", "none", "lba", NULL};

static const Property test_props[] = {
    DEFINE_PROP_BOOL("flag", TestDev, flag, true),
    DEFINE_PROP_UINT8("u8", TestDev, u8, 8),
    DEFINE_PROP_UINT16("u16", TestDev, u16, 16),
    DEFINE_PROP_UINT32("u32", TestDev, u32, 32),
    DEFINE_PROP_INT32("i32", TestDev, i32, -32),
    DEFINE_PROP_UINT64("u64", TestDev, u64, 64),
    DEFINE_PROP_STRING("str", TestDev, str),
    DEFINE_PROP_DRIVE("drive", TestDev, blk),
    DEFINE_PROP_PCI_DEVFN("addr", TestDev, addr, -1),
    DEFINE_PROP_ENUM("bios-chs-trans", TestDev, trans, 0, trans_names,
                     "Logical CHS "
                     "translation algorithm, auto/none/lba/large/rechs"),
    DEFINE_PROP_BOOTINDEX(TestDev, bootindex),
    DEFINE_PROP_END,
};

static bool test_realize(DeviceState *dev, Error **errp)
{
    TestDev *t = (TestDev *)dev;

    if (!g_strcmp0(t->str, "bus")) { /* a controller's bus, made before realize fails */
        qbus_new(QBUS_TYPE_IDE, "child.0", dev, 1, NULL);
    }
    if (t->u32 == 99) {
        error_setg(errp, "u32 must not be 99");
        return false;
    }
    t->realized_once = true;
    return true;
}

static char *test_fw_dev_path(DeviceState *dev)
{
    return g_strdup_printf("disk@%x", ((TestDev *)dev)->u8);
}

static const DeviceClass test_pci_class = {
    .name = "test-pci",
    .alias = "tpci",
    .desc = "a test PCI device",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus_type = QBUS_TYPE_PCI,
    .instance_size = sizeof(TestDev),
    .props = test_props,
    .hotpluggable = true,
    .realize = test_realize,
    .fw_dev_path = test_fw_dev_path,
};

static const DeviceClass test_ide_class = {
    .name = "test-ide",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus_type = QBUS_TYPE_IDE,
    .instance_size = sizeof(TestDev),
    .props = test_props,
    .realize = test_realize,
    .fw_dev_path = test_fw_dev_path,
};

static const DeviceClass test_hidden_class = {
    .name = "test-hidden",
    .category = DEVICE_CATEGORY_MISC,
    .instance_size = sizeof(DeviceState),
    .no_user = true,
};

static void __attribute__((constructor)) test_register(void)
{
    qdev_register(&test_pci_class);
    qdev_register(&test_ide_class);
    qdev_register(&test_hidden_class);
}

static const OptsList device_opts = {"device", "driver", false, NULL};

static void setup(void)
{
    BusState *pci;

    qdev_reset_registry();
    pci = qbus_new(QBUS_TYPE_PCI, "pci.0", NULL, 0, NULL);
    pci->hotplug = true;
    qbus_set_fw_path(pci, "/pci@i0cf8");
    qbus_new(QBUS_TYPE_IDE, "ide.0", NULL, 2, NULL);
}

/* qdev_device_add(optstr): the device, or NULL with *msg the error text (g_free it). */
static DeviceState *add(const char *optstr, char **msg)
{
    Error *err = NULL;
    Opts *opts = opts_parse(&device_opts, optstr, true, &err);
    DeviceState *dev = NULL;

    g_assert_nonnull(opts);
    dev = qdev_device_add(opts, &err);
    opts_free(opts);
    if (msg) {
        *msg = err ? g_strdup(error_get_pretty(err)) : NULL;
    }
    if (err) {
        error_free(err);
    }
    return dev;
}

static void check_error(const char *optstr, const char *expected)
{
    g_autofree char *msg = NULL;

    g_assert_null(add(optstr, &msg));
    g_assert_cmpstr(msg, ==, expected);
}

static void test_errors(void)
{
    setup();
    check_error("bus=pci.0", "Parameter 'driver' is missing");
    check_error("nosuch", "Parameter 'driver' expects device type");
    check_error("test-hidden", "Parameter 'driver' expects device type");
    check_error("test-pci,bus=pci.7", "Bus 'pci.7' not found");
    check_error("test-pci,bus=ide.0", "Device 'test-pci' can't go on a IDE bus");
    check_error("test-pci,x=1", "Property '.x' not found");
    check_error("test-pci,flag=maybe", "Invalid parameter type for 'flag', expected: boolean");
    check_error("test-pci,u8=256", "Parameter 'u8' expects uint8_t");
    check_error("test-pci,u16=-1", "Parameter 'u16' expects uint16_t");
    check_error("test-pci,u32=0x100000000", "Parameter 'u32' expects uint32_t");
    check_error("test-pci,i32=2147483648", "Parameter 'i32' expects int32_t");
    check_error("test-pci,u32=12abc", "Parameter 'u32' expects an int64 value or range");
    check_error("test-pci,drive=nosuch", "Property 'test-pci.drive' can't find value 'nosuch'");
    check_error("test-pci,addr=20", "Property 'test-pci.addr' doesn't take value '20'");
    check_error("test-pci,addr=3.8", "Property 'test-pci.addr' doesn't take value '3.8'");
    check_error("test-pci,bios-chs-trans=odd",
                "Property 'test-pci.bios-chs-trans' doesn't take value 'odd'");
    check_error("test-pci,u32=99", "u32 must not be 99");
    qdev_reset_registry();
    check_error("test-ide", "No 'IDE' bus found for device 'test-ide'");
}

static void test_values(void)
{
    TestDev *t;

    setup();
    t = (TestDev *)add("tpci,id=a,flag=off,u8=0xff,u16=65535,u32=4294967295,i32=-5,"
                       "u64=0xffffffffffffffff,str=hello,,world,addr=1f.7,bios-chs-trans=lba",
                       NULL);
    g_assert_nonnull(t);
    g_assert_true(t->realized_once);
    g_assert_cmpstr(t->qdev.id, ==, "a");
    g_assert_cmpstr(t->qdev.dc->name, ==, "test-pci");
    g_assert_false(t->flag);
    g_assert_cmpuint(t->u8, ==, 255);
    g_assert_cmpuint(t->u16, ==, 65535);
    g_assert_cmpuint(t->u32, ==, UINT32_MAX);
    g_assert_cmpint(t->i32, ==, -5);
    g_assert_cmpuint(t->u64, ==, UINT64_MAX);
    g_assert_cmpstr(t->str, ==, "hello,world");
    g_assert_cmpint(t->addr, ==, 0xff);
    g_assert_cmpint(t->trans, ==, 2);
    g_assert_true(qdev_find("a") == &t->qdev);

    t = (TestDev *)add("test-pci", NULL);
    g_assert_true(t->flag);
    g_assert_cmpuint(t->u8, ==, 8);
    g_assert_cmpint(t->i32, ==, -32);
    g_assert_cmpint(t->addr, ==, -1);
    g_assert_cmpint(t->bootindex, ==, -1);
    g_assert_null(t->str);
    g_assert_true(t->qdev.parent_bus == qbus_find("pci.0"));
}

static void test_duplicate_and_full(void)
{
    setup();
    g_assert_nonnull(add("test-pci,id=x", NULL));
    check_error("test-pci,id=x", "Duplicate ID 'x' for device");
    g_assert_nonnull(add("test-ide,bus=ide.0", NULL));
    g_assert_nonnull(add("test-ide", NULL));
    check_error("test-ide,bus=ide.0", "Bus 'ide.0' is full");
    check_error("test-ide", "No 'IDE' bus found for device 'test-ide'");
}

static void test_drive(void)
{
    BlockBackend *blk = blk_new("d0", &error_abort);
    TestDev *t;

    setup();
    t = (TestDev *)add("test-pci,id=t,drive=d0", NULL);
    g_assert_true(t->blk == blk);
    g_assert_true(blk_get_attached_dev(blk) == t);
    check_error("test-pci,drive=d0",
                "Property 'test-pci.drive' can't take value 'd0', it's in use");
    /* A failed realize releases the drive it claimed. */
    g_assert_true(qdev_unplug("t", &error_abort));
    g_assert_null(blk_get_attached_dev(blk));
    check_error("test-pci,drive=d0,u32=99", "u32 must not be 99");
    g_assert_null(blk_get_attached_dev(blk));
    blk_unref(blk);
}

static void test_unplug(void)
{
    Error *err = NULL;

    setup();
    g_assert_nonnull(add("test-ide,id=disk", NULL));
    g_assert_nonnull(add("test-pci,id=p", NULL));
    g_assert_false(qdev_unplug("nope", &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Device 'nope' not found");
    g_assert_cmpint(error_get_class(err), ==, ERROR_CLASS_DEVICE_NOT_FOUND);
    error_free(err);
    err = NULL;
    g_assert_false(qdev_unplug("disk", &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Bus 'ide.0' does not support hotplugging");
    error_free(err);
    g_assert_true(qdev_unplug("p", &error_abort));
    g_assert_null(qdev_find("p"));
    /* The id can be used again. */
    g_assert_nonnull(add("test-pci,id=p", NULL));
}

static char *capture(void (*fn)(FILE *f, const char *arg), const char *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    fn(f, arg);
    fclose(f);
    return buf;
}

static void print_list(FILE *f, const char *arg)
{
    qdev_print_device_list(f);
}

static void print_props(FILE *f, const char *arg)
{
    g_assert_true(qdev_print_props_help(arg, f));
}

static void test_help(void)
{
    g_autofree char *list = capture(print_list, NULL);
    g_autofree char *props = capture(print_props, "test-ide");

    g_assert_nonnull(strstr(list, "Storage devices:\n"));
    g_assert_nonnull(strstr(list, "name \"test-ide\", bus IDE\n"));
    g_assert_nonnull(strstr(list, "name \"test-pci\", bus PCI, alias \"tpci\", "
                                  "desc \"a test PCI device\"\n"));
    g_assert_null(strstr(list, "test-hidden"));
    g_assert_nonnull(strstr(props, "test-ide.flag=bool\ntest-ide.u8=uint8\n"));
    g_assert_nonnull(strstr(props, "test-ide.drive=drive\n"));
    g_assert_nonnull(strstr(props, "test-ide.addr=pci-devfn (Slot and optional function "
                                   "number, example: 06.0 or 06)\n"));
    g_assert_nonnull(strstr(props, "test-ide.str=str\n"));
    g_assert_nonnull(strstr(props, "test-ide.bootindex=int32\n"));
    g_assert_false(qdev_print_props_help("nosuch", stderr));
}

static void test_bootorder(void)
{
    g_autofree char *order = NULL;
    size_t len;

    setup();
    order = qdev_get_boot_order(&len);
    g_assert_cmpuint(len, ==, 0);
    g_free(order);
    g_assert_nonnull(add("test-pci,u8=3,bootindex=2", NULL));
    g_assert_nonnull(add("test-pci,u8=4", NULL));
    g_assert_nonnull(add("test-pci,u8=5,bootindex=1", NULL));
    check_error("test-pci,bootindex=1", "Two devices with same boot index 1");
    order = qdev_get_boot_order(&len);
    g_assert_cmpstr(order, ==, "/pci@i0cf8/disk@5\n/pci@i0cf8/disk@3");
    g_assert_cmpuint(len, ==, strlen(order) + 1);
}

/* A realize that fails after making a bus leaves no bus behind (nor a dangling parent). */
static void test_failed_realize_drops_buses(void)
{
    DeviceState *dev;

    setup();
    check_error("test-pci,str=bus,u32=99", "u32 must not be 99");
    g_assert_null(qbus_find("child.0"));
    dev = add("test-pci,str=bus", NULL);
    g_assert_nonnull(dev);
    g_assert_true(qbus_find("child.0")->parent == dev);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qdev/errors", test_errors);
    g_test_add_func("/qdev/values", test_values);
    g_test_add_func("/qdev/duplicate-and-full", test_duplicate_and_full);
    g_test_add_func("/qdev/drive", test_drive);
    g_test_add_func("/qdev/unplug", test_unplug);
    g_test_add_func("/qdev/help", test_help);
    g_test_add_func("/qdev/bootorder", test_bootorder);
    g_test_add_func("/qdev/failed-realize-drops-buses", test_failed_realize_drops_buses);
    return g_test_run();
}
