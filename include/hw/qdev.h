/*
 * Devices the user creates with -device (and, later, device_add/device_del): a registry of
 * device types, each with typed properties stored at offsets into the device's own state
 * struct, the buses such devices plug into (just enough for "pci.0" and "ide.0"/"ide.1"),
 * realize/unrealize hooks, "-device help" and "-device DRIVER,help" as QEMU 2.2 prints them,
 * and the boot-order list (bootindex) the firmware reads. Not QOM: no inheritance, no
 * object tree; a device type is one table.
 *
 * A device type is one file and one registration:
 *
 *     typedef struct MyDev { DeviceState qdev; BlockBackend *blk; uint32_t x; } MyDev;
 *     static const Property my_props[] = {
 *         DEFINE_PROP_DRIVE("drive", MyDev, blk),
 *         DEFINE_PROP_UINT32("x", MyDev, x, 7),
 *         DEFINE_PROP_END,
 *     };
 *     static const DeviceClass my_class = {
 *         .name = "my-dev", .bus_type = QBUS_TYPE_PCI, .instance_size = sizeof(MyDev),
 *         .props = my_props, .realize = my_realize, .unrealize = my_unrealize, ...
 *     };
 *     static void __attribute__((constructor)) my_register(void) { qdev_register(&my_class); }
 *
 * The DeviceState must be the first member. Properties are set before realize; realize
 * builds the guest-visible device (registers ports/BARs, claims nothing more: drive=
 * already attached the backend) or fails with errp set and undoes what it did.
 */
#ifndef HW_QDEV_H
#define HW_QDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <glib.h>
#include "block/block-backend.h"
#include "util/error.h"
#include "util/opts.h"

#define QBUS_TYPE_PCI "PCI"
#define QBUS_TYPE_IDE "IDE"

typedef struct DeviceState DeviceState;
typedef struct BusState BusState;
typedef struct DeviceClass DeviceClass;

/*
 * A bus's hotplug controller (the PIIX4's ACPI PCI hotplug for "pci.0"): pre_plug checks a
 * device about to be hot-added, plug tells the guest about it once realized, unplug_request
 * asks the guest to let go of it; the controller calls qdev_device_delete() when the guest
 * has ejected it. Only devices added after start-up (hotplugged) are announced.
 */
typedef struct HotplugOps {
    bool (*pre_plug)(void *opaque, DeviceState *dev, Error **errp);
    void (*plug)(void *opaque, DeviceState *dev);
    void (*unplug_request)(void *opaque, DeviceState *dev);
} HotplugOps;

/* The groups of "-device help", in QEMU's order. */
typedef enum DeviceCategory {
    DEVICE_CATEGORY_BRIDGE,
    DEVICE_CATEGORY_USB,
    DEVICE_CATEGORY_STORAGE,
    DEVICE_CATEGORY_NETWORK,
    DEVICE_CATEGORY_INPUT,
    DEVICE_CATEGORY_DISPLAY,
    DEVICE_CATEGORY_SOUND,
    DEVICE_CATEGORY_MISC,
    DEVICE_CATEGORY_MAX,
} DeviceCategory;

typedef enum PropType {
    PROP_BOOL,      /* bool; on/off/yes/no/true/false */
    PROP_UINT8,     /* uint8_t */
    PROP_UINT16,    /* uint16_t */
    PROP_UINT32,    /* uint32_t */
    PROP_INT32,     /* int32_t */
    PROP_UINT64,    /* uint64_t */
    PROP_STRING,    /* char *, g_free()d with the device */
    PROP_DRIVE,     /* BlockBackend *: a drive id, attached to the device when set */
    PROP_PCI_DEVFN, /* int32_t: "slot[.fn]" in hex, -1 when not given */
    PROP_ENUM,      /* int: the index of the value in enum_names */
} PropType;

typedef struct Property {
    const char *name;
    PropType type;
    size_t offset;                 /* of the field in the device's state struct */
    int64_t defval;                /* for everything but strings and drives */
    const char *const *enum_names; /* PROP_ENUM: NULL-terminated */
    const char *desc;              /* shown in "-device DRIVER,help" when set */
} Property;

#define QDEV_PROP(_name, _type, _state, _field, _def)                                              \
    {                                                                                              \
        .name = (_name), .type = (_type), .offset = offsetof(_state, _field), .defval = (_def)     \
    }
#define DEFINE_PROP_BOOL(n, s, f, d) QDEV_PROP(n, PROP_BOOL, s, f, d)
#define DEFINE_PROP_UINT8(n, s, f, d) QDEV_PROP(n, PROP_UINT8, s, f, d)
#define DEFINE_PROP_UINT16(n, s, f, d) QDEV_PROP(n, PROP_UINT16, s, f, d)
#define DEFINE_PROP_UINT32(n, s, f, d) QDEV_PROP(n, PROP_UINT32, s, f, d)
#define DEFINE_PROP_INT32(n, s, f, d) QDEV_PROP(n, PROP_INT32, s, f, d)
#define DEFINE_PROP_UINT64(n, s, f, d) QDEV_PROP(n, PROP_UINT64, s, f, d)
#define DEFINE_PROP_STRING(n, s, f) QDEV_PROP(n, PROP_STRING, s, f, 0)
#define DEFINE_PROP_DRIVE(n, s, f) QDEV_PROP(n, PROP_DRIVE, s, f, 0)
#define DEFINE_PROP_PCI_DEVFN(n, s, f, d)                                                          \
    {                                                                                              \
        .name = (n), .type = PROP_PCI_DEVFN, .offset = offsetof(s, f), .defval = (d),              \
        .desc = "Slot and optional function number, example: 06.0 or 06"                           \
    }
#define DEFINE_PROP_ENUM(n, s, f, d, names, dsc)                                                   \
    {                                                                                              \
        .name = (n), .type = PROP_ENUM, .offset = offsetof(s, f), .defval = (d),                   \
        .enum_names = (names), .desc = (dsc)                                                       \
    }
/* bootindex: int32, -1 (not in the boot order) by default. */
#define DEFINE_PROP_BOOTINDEX(s, f) QDEV_PROP("bootindex", PROP_INT32, s, f, -1)
#define DEFINE_PROP_END                                                                            \
    {                                                                                              \
        .name = NULL                                                                               \
    }

struct DeviceClass {
    const char *name;  /* the -device driver name */
    const char *alias; /* a second name ("virtio-blk"), or NULL */
    const char *desc;  /* one line for "-device help", or NULL */
    DeviceCategory category;
    const char *bus_type;  /* QBUS_TYPE_*: the bus it plugs into; NULL: none */
    size_t instance_size;  /* of the state struct that starts with DeviceState */
    const Property *props; /* DEFINE_PROP_END terminated; may be NULL */
    bool no_user;          /* board-created only: not in -device help, not creatable */
    bool hotpluggable;     /* device_del may remove it */
    bool (*realize)(DeviceState *dev, Error **errp);
    /* Take the device away from the guest (BARs, doorbells, interrupts) and drain its I/O;
     * main loop, BQL held. Its memory goes in finalize. */
    void (*unrealize)(DeviceState *dev);
    /* Optional: call done(dev) once callbacks the device queued before unrealize (main loop,
     * I/O threads) have run; without it, done follows unrealize at once. */
    void (*unrealize_wait)(DeviceState *dev, void (*done)(void *dev));
    /* Optional: free what realize allocated, before the properties (drive=) are released. */
    void (*finalize)(DeviceState *dev);
    /* The device's part of its OpenFirmware boot path ("drive@1/disk@0"), for bootindex. */
    char *(*fw_dev_path)(DeviceState *dev);
};

struct BusState {
    char *name;          /* "pci.0", "ide.1" */
    const char *type;    /* QBUS_TYPE_* */
    DeviceState *parent; /* the controller, NULL for the board's root PCI bus */
    unsigned max_dev;    /* 0: unlimited */
    bool hotplug;        /* devices on it may be added/removed at run time */
    const HotplugOps *hotplug_ops; /* NULL: removal is immediate */
    void *hotplug_opaque;
    void *opaque;        /* the bus implementation: PCIBus *, IDEBus * */
    GPtrArray *children; /* of DeviceState * */
    /* Prefix of the OpenFirmware path of devices on this bus ("/pci@i0cf8/ide@1,1"). */
    char *fw_path;
};

struct DeviceState {
    const DeviceClass *dc;
    char *id; /* -device id=, or NULL */
    /* Where QEMU 2.2 would put it in the QOM tree, for DEVICE_DELETED: /machine/peripheral/ID,
     * /machine/peripheral-anon/device[N] (-device without id), /machine/unattached/device[N]
     * (made by the board; N counts ours, not all of QEMU's board objects). */
    char *path;
    BusState *parent_bus;
    bool realized;
    bool hotplugged; /* added by device_add after start-up */
    bool deleting;   /* qdev_device_delete() is under way */
};

/* ---- Types ---- */
void qdev_register(const DeviceClass *dc);
/* By name or alias; NULL when unknown. */
const DeviceClass *qdev_find_class(const char *name);

/* ---- Buses ---- */
/* A new named bus; names are unique ("Bus '%s' not found" refers to them). */
BusState *qbus_new(const char *type, const char *name, DeviceState *parent, unsigned max_dev,
                   void *opaque);
BusState *qbus_find(const char *name);
/* The first bus of the given type that parent provides, or NULL. */
BusState *qbus_find_child(DeviceState *parent, const char *type);
void qbus_set_fw_path(BusState *bus, const char *fw_path);
/* Forget every bus and device without unrealizing (tests). */
void qdev_reset_registry(void);

/* ---- Devices ---- */
/*
 * The -device option list: "driver" is the implied first key, any key is accepted (the
 * device type checks its properties). device_add builds its Opts with
 * opts_new(&qdev_device_opts, id) and one opts_set() per argument.
 */
extern const OptsList qdev_device_opts;

/*
 * -device / device_add: opts holds "driver" (the implied first key), optionally "id",
 * "bus" and any properties of the type. Finds the type and the bus, creates the device,
 * sets the properties in order, realizes it. Errors, with QEMU 2.2's texts:
 *   "Parameter 'driver' is missing", "Parameter 'driver' expects device type",
 *   "Bus 'X' not found", "Device 'D' can't go on a T bus", "No 'T' bus found for device
 *   'D'", "Bus 'X' is full", "Duplicate ID 'X' for device", "Property '.X' not found",
 *   property value errors (see qdev-props.c), and realize's own error.
 * Returns the realized device, or NULL with errp set.
 */
DeviceState *qdev_device_add(const Opts *opts, Error **errp);
/*
 * device_del: ask for the removal of the device named id. Errors: "Device 'X' not found"
 * (class DeviceNotFound), "Bus 'B' does not support hotplugging", "Device 'D' does not
 * support hotplugging". On a bus with a hotplug controller the guest is asked and the
 * device goes when it ejects it; otherwise removal is immediate.
 */
bool qdev_unplug(const char *id, Error **errp);
/*
 * Remove a realized device (qdev-unplug.c): unrealize, wait for its callbacks, finalize,
 * release its properties, delete the drives it held that came from -drive/drive_add
 * (QEMU 2.2's auto-delete) and emit DEVICE_DELETED. Main loop, BQL held; a second call
 * while one is under way does nothing.
 */
void qdev_device_delete(DeviceState *dev);
/* Devices created from now on are hot-added (the board calls it once start-up is done). */
void qdev_machine_creation_done(void);
/*
 * For boards: a device of a registered type on bus, with properties given as
 * "name", "value" string pairs (NULL-terminated), realized. Same errors as above.
 */
DeviceState *qdev_create_on_bus(const char *driver, BusState *bus, Error **errp,
                                ...) G_GNUC_NULL_TERMINATED;
DeviceState *qdev_find(const char *id);
/* The value of the device's PCI address property ("addr"): devfn, or -1 when not given. */
int32_t qdev_get_pci_devfn(DeviceState *dev);
/* Set one property from its string form, before realize; errors as -device. */
bool qdev_prop_parse(DeviceState *dev, const char *name, const char *value, Error **errp);
/* Call fn for each realized device (in creation order). */
void qdev_foreach(void (*fn)(DeviceState *dev, void *opaque), void *opaque);

/* ---- Help ---- */
/* "-device help" (QEMU 2.2's list, grouped by category) to f. */
void qdev_print_device_list(FILE *f);
/* "-device DRIVER,help": "DRIVER.PROP=TYPE" lines. False when driver is unknown. */
bool qdev_print_props_help(const char *driver, FILE *f);
/*
 * If opts asks for help ("help", "?", "DRIVER,help"), print it to stderr as QEMU does
 * and return true (the caller exits 0). Unknown drivers with help are left to
 * qdev_device_add's error.
 */
bool qdev_device_help(const Opts *opts);

/* ---- Boot order ---- */
/* The "bootorder" fw_cfg file: one OpenFirmware path per line, by ascending bootindex.
 * g_free() it; *len gets its length including the final NUL, 0 when empty. */
char *qdev_get_boot_order(size_t *len);

#endif
