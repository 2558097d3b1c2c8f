/*
 * Typed device properties: parsing a -device value into the field a Property describes,
 * applying defaults, freeing owned values, and the type names "-device DRIVER,help" shows.
 * Error texts are QEMU 2.2's (its string input visitor and qdev property setters). Not the
 * device registry (qdev.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "blockdev/blockdev.h"
#include "hw/qdev.h"
#include "qdev-int.h"

static void *prop_ptr(DeviceState *dev, const Property *prop)
{
    return (char *)dev + prop->offset;
}

const char *qdev_prop_type_name(const Property *prop)
{
    static const char *const names[] = {
        [PROP_BOOL] = "bool",     [PROP_UINT8] = "uint8", [PROP_UINT16] = "uint16",
        [PROP_UINT32] = "uint32", [PROP_INT32] = "int32", [PROP_UINT64] = "uint64",
        [PROP_STRING] = "str",    [PROP_DRIVE] = "drive", [PROP_PCI_DEVFN] = "pci-devfn",
        [PROP_ENUM] = "enum",
    };

    if (prop->type == PROP_ENUM && !strcmp(prop->name, "bios-chs-trans")) {
        return "bios-chs-trans";
    }
    return names[prop->type];
}

static bool prop_parse_bool(const char *name, const char *value, bool *out, Error **errp)
{
    if (!strcasecmp(value, "on") || !strcasecmp(value, "yes") || !strcasecmp(value, "true")) {
        *out = true;
    } else if (!strcasecmp(value, "off") || !strcasecmp(value, "no") ||
               !strcasecmp(value, "false")) {
        *out = false;
    } else {
        error_setg(errp, "Invalid parameter type for '%s', expected: boolean", name);
        return false;
    }
    return true;
}

/* QEMU 2.2's string input visitor: a C integer (decimal, 0x hex, 0 octal), 64 bits. */
static bool prop_parse_int(const char *name, const char *value, int64_t *out, Error **errp)
{
    char *end;

    errno = 0;
    *out = strtoll(value, &end, 0);
    if (!*value || *end || errno) {
        error_setg(errp, "Parameter '%s' expects an int64 value or range", name);
        return false;
    }
    return true;
}

static bool prop_parse_uint64(const char *name, const char *value, uint64_t *out, Error **errp)
{
    char *end;

    errno = 0;
    *out = strtoull(value, &end, 0);
    if (!*value || *end || errno || *value == '-') {
        error_setg(errp, "Parameter '%s' expects an int64 value or range", name);
        return false;
    }
    return true;
}

static bool prop_check_range(const Property *prop, int64_t v, Error **errp)
{
    static const struct {
        int64_t min, max;
        const char *what;
    } ranges[] = {
        [PROP_UINT8] = {0, UINT8_MAX, "uint8_t"},
        [PROP_UINT16] = {0, UINT16_MAX, "uint16_t"},
        [PROP_UINT32] = {0, UINT32_MAX, "uint32_t"},
        [PROP_INT32] = {INT32_MIN, INT32_MAX, "int32_t"},
    };

    if (v < ranges[prop->type].min || v > ranges[prop->type].max) {
        error_setg(errp, "Parameter '%s' expects %s", prop->name, ranges[prop->type].what);
        return false;
    }
    return true;
}

static bool prop_set_int(DeviceState *dev, const Property *prop, const char *value, Error **errp)
{
    void *p = prop_ptr(dev, prop);
    int64_t v;

    if (prop->type == PROP_UINT64) {
        return prop_parse_uint64(prop->name, value, p, errp);
    }
    if (!prop_parse_int(prop->name, value, &v, errp)) {
        return false;
    }
    if (!prop_check_range(prop, v, errp)) {
        return false;
    }
    switch (prop->type) {
    case PROP_UINT8:
        *(uint8_t *)p = v;
        break;
    case PROP_UINT16:
        *(uint16_t *)p = v;
        break;
    case PROP_UINT32:
        *(uint32_t *)p = v;
        break;
    default:
        *(int32_t *)p = v;
        break;
    }
    return true;
}

/* "slot[.fn]" in hex, slot < 32, fn < 8 (QEMU's pci-devfn). */
bool qdev_parse_pci_devfn(const char *value, int32_t *devfn)
{
    unsigned long slot, fn = 0;
    char *end;

    slot = strtoul(value, &end, 16);
    if (end == value || slot > 0x1f) {
        return false;
    }
    if (*end == '.') {
        const char *f = end + 1;
        fn = strtoul(f, &end, 16);
        if (end == f || fn > 7) {
            return false;
        }
    }
    if (*end) {
        return false;
    }
    *devfn = (int32_t)(slot << 3 | fn);
    return true;
}

static bool prop_set_drive(DeviceState *dev, const Property *prop, const char *value, Error **errp)
{
    BlockBackend **p = prop_ptr(dev, prop);
    BlockBackend *blk = blk_by_name(value);
    DriveInfo *dinfo;

    if (!blk) {
        error_setg(errp, "Property '%s.%s' can't find value '%s'", dev->dc->name, prop->name,
                   value);
        return false;
    }
    if (*p == blk) {
        return true;
    }
    dinfo = blk_legacy_dinfo(blk);
    if (*p || (dinfo ? !drive_claim(dinfo, dev) : blk_attach_dev(blk, dev) < 0)) {
        error_setg(errp, "Property '%s.%s' can't take value '%s', it's in use", dev->dc->name,
                   prop->name, value);
        return false;
    }
    *p = blk;
    return true;
}

static bool prop_set_enum(DeviceState *dev, const Property *prop, const char *value, Error **errp)
{
    for (int i = 0; prop->enum_names[i]; i++) {
        if (!strcmp(prop->enum_names[i], value)) {
            *(int *)prop_ptr(dev, prop) = i;
            return true;
        }
    }
    error_setg(errp, "Property '%s.%s' doesn't take value '%s'", dev->dc->name, prop->name, value);
    return false;
}

bool qdev_prop_set_value(DeviceState *dev, const Property *prop, const char *value, Error **errp)
{
    void *p = prop_ptr(dev, prop);

    switch (prop->type) {
    case PROP_BOOL:
        return prop_parse_bool(prop->name, value, p, errp);
    case PROP_STRING:
        g_free(*(char **)p);
        *(char **)p = g_strdup(value);
        return true;
    case PROP_DRIVE:
        return prop_set_drive(dev, prop, value, errp);
    case PROP_ENUM:
        return prop_set_enum(dev, prop, value, errp);
    case PROP_PCI_DEVFN:
        if (!qdev_parse_pci_devfn(value, p)) {
            error_setg(errp, "Property '%s.%s' doesn't take value '%s'", dev->dc->name, prop->name,
                       value);
            return false;
        }
        return true;
    default:
        return prop_set_int(dev, prop, value, errp);
    }
}

void qdev_prop_set_defaults(DeviceState *dev)
{
    for (const Property *prop = dev->dc->props; prop && prop->name; prop++) {
        void *p = prop_ptr(dev, prop);

        switch (prop->type) {
        case PROP_BOOL:
            *(bool *)p = prop->defval;
            break;
        case PROP_UINT8:
            *(uint8_t *)p = prop->defval;
            break;
        case PROP_UINT16:
            *(uint16_t *)p = prop->defval;
            break;
        case PROP_UINT32:
            *(uint32_t *)p = prop->defval;
            break;
        case PROP_INT32:
        case PROP_PCI_DEVFN:
            *(int32_t *)p = prop->defval;
            break;
        case PROP_UINT64:
            *(uint64_t *)p = prop->defval;
            break;
        case PROP_ENUM:
            *(int *)p = prop->defval;
            break;
        case PROP_STRING:
        case PROP_DRIVE:
            break;
        }
    }
}

void qdev_prop_release(DeviceState *dev)
{
    for (const Property *prop = dev->dc->props; prop && prop->name; prop++) {
        void *p = prop_ptr(dev, prop);

        if (prop->type == PROP_STRING) {
            g_free(*(char **)p);
            *(char **)p = NULL;
        } else if (prop->type == PROP_DRIVE && *(BlockBackend **)p) {
            blk_detach_dev(*(BlockBackend **)p, dev);
            *(BlockBackend **)p = NULL;
        }
    }
}

const Property *qdev_prop_find(const DeviceClass *dc, const char *name)
{
    for (const Property *prop = dc->props; prop && prop->name; prop++) {
        if (!strcmp(prop->name, name)) {
            return prop;
        }
    }
    return NULL;
}

int32_t qdev_get_bootindex(DeviceState *dev)
{
    const Property *prop = qdev_prop_find(dev->dc, "bootindex");

    return prop && prop->type == PROP_INT32 ? *(int32_t *)prop_ptr(dev, prop) : -1;
}

int32_t qdev_get_pci_devfn(DeviceState *dev)
{
    for (const Property *prop = dev->dc->props; prop && prop->name; prop++) {
        if (prop->type == PROP_PCI_DEVFN) {
            return *(int32_t *)prop_ptr(dev, prop);
        }
    }
    return -1;
}
