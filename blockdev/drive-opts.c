/*
 * -drive option strings and tables: parsing "-drive OPTS" (any key goes until the drive is
 * created, as in QEMU 2.2), building the strings of -hda/-cdrom/-fda..., the legacy
 * renames and cache= expansion, and moving typed option groups out of the flat dictionary.
 * The checks of the values themselves live in drive-legacy.c and drive-common.c.
 */
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "blockdev/drive-int.h"
#include "util/cutils.h"
#include "util/qdict.h"

static const OptsList drive_opts_list = {.name = "drive"};

static const char *const if_name[IF_COUNT] = {
    [IF_NONE] = "none",     [IF_IDE] = "ide",       [IF_SCSI] = "scsi",
    [IF_FLOPPY] = "floppy", [IF_PFLASH] = "pflash", [IF_MTD] = "mtd",
    [IF_SD] = "sd",         [IF_VIRTIO] = "virtio", [IF_XEN] = "xen",
};

/* Units per bus. The index= to bus/unit mapping depends on it: it is ABI. */
static const int if_max_devs[IF_COUNT] = {[IF_IDE] = 2, [IF_SCSI] = 7};

const OptDesc drive_legacy_desc[] = {
    {"bus", OPT_NUMBER, "bus number"},
    {"unit", OPT_NUMBER, "unit number (i.e. lun for scsi)"},
    {"index", OPT_NUMBER, "index number"},
    {"media", OPT_STRING, "media type (disk, cdrom)"},
    {"if", OPT_STRING, "interface (ide, scsi, sd, mtd, floppy, pflash, virtio)"},
    {"cyls", OPT_NUMBER, "number of cylinders (ide disk geometry)"},
    {"heads", OPT_NUMBER, "number of heads (ide disk geometry)"},
    {"secs", OPT_NUMBER, "number of sectors (ide disk geometry)"},
    {"trans", OPT_STRING, "chs translation (auto, lba, none)"},
    {"boot", OPT_BOOL, "(deprecated, ignored)"},
    {"addr", OPT_STRING, "pci address (virtio only)"},
    {"serial", OPT_STRING, "disk serial number"},
    {"file", OPT_STRING, "file name"},
    {"read-only", OPT_BOOL, "open drive file as read-only"},
    {"rerror", OPT_STRING, "read error action"},
    {"werror", OPT_STRING, "write error action"},
    {"copy-on-read", OPT_BOOL, "copy read data from backing file into image file"},
    {NULL},
};

const OptDesc drive_common_desc[] = {
    {"snapshot", OPT_BOOL, "enable/disable snapshot mode"},
    {"discard", OPT_STRING, "discard operation (ignore/off, unmap/on)"},
    {"cache.writeback", OPT_BOOL, "enables writeback mode for any caches"},
    {"cache.direct", OPT_BOOL, "enables use of O_DIRECT (bypass the host page cache)"},
    {"cache.no-flush", OPT_BOOL, "ignore any flush requests for the device"},
    {"aio", OPT_STRING, "host AIO implementation (threads, native)"},
    {"format", OPT_STRING, "disk format (raw, qcow2, ...)"},
    {"rerror", OPT_STRING, "read error action"},
    {"werror", OPT_STRING, "write error action"},
    {"read-only", OPT_BOOL, "open drive file as read-only"},
    {"throttling.iops-total", OPT_NUMBER, "limit total I/O operations per second"},
    {"throttling.iops-read", OPT_NUMBER, "limit read operations per second"},
    {"throttling.iops-write", OPT_NUMBER, "limit write operations per second"},
    {"throttling.bps-total", OPT_NUMBER, "limit total bytes per second"},
    {"throttling.bps-read", OPT_NUMBER, "limit read bytes per second"},
    {"throttling.bps-write", OPT_NUMBER, "limit write bytes per second"},
    {"throttling.iops-total-max", OPT_NUMBER, "I/O operations burst"},
    {"throttling.iops-read-max", OPT_NUMBER, "I/O operations read burst"},
    {"throttling.iops-write-max", OPT_NUMBER, "I/O operations write burst"},
    {"throttling.bps-total-max", OPT_NUMBER, "total bytes burst"},
    {"throttling.bps-read-max", OPT_NUMBER, "total bytes read burst"},
    {"throttling.bps-write-max", OPT_NUMBER, "total bytes write burst"},
    {"throttling.iops-total-max-length", OPT_NUMBER,
     "length of the iops-total-max burst period, in seconds"},
    {"throttling.iops-read-max-length", OPT_NUMBER,
     "length of the iops-read-max burst period, in seconds"},
    {"throttling.iops-write-max-length", OPT_NUMBER,
     "length of the iops-write-max burst period, in seconds"},
    {"throttling.bps-total-max-length", OPT_NUMBER,
     "length of the bps-total-max burst period, in seconds"},
    {"throttling.bps-read-max-length", OPT_NUMBER,
     "length of the bps-read-max burst period, in seconds"},
    {"throttling.bps-write-max-length", OPT_NUMBER,
     "length of the bps-write-max burst period, in seconds"},
    {"throttling.iops-size", OPT_NUMBER, "when limiting by iops max size of an I/O"},
    {"throttling.group", OPT_STRING, "name of the block throttling group"},
    {"copy-on-read", OPT_BOOL, "copy read data from backing file into image file"},
    {"detect-zeroes", OPT_STRING, "try to optimize zero writes (off, on, unmap)"},
    {NULL},
};

/* ---- Option strings ---- */

Opts *drive_def(const char *optstr, Error **errp)
{
    return opts_parse(&drive_opts_list, optstr, false, errp);
}

Opts *drive_add(BlockInterfaceType type, int index, const char *file, const char *optstr,
                Error **errp)
{
    Opts *opts = drive_def(optstr, errp);

    if (!opts) {
        return NULL;
    }
    if (type != IF_DEFAULT) {
        opts_set(opts, "if", if_name[type]);
    }
    if (index >= 0) {
        g_autofree char *buf = g_strdup_printf("%d", index);

        opts_set(opts, "index", buf);
    }
    if (file) {
        opts_set(opts, "file", file);
    }
    return opts;
}

void drive_enable_snapshot(Opts *opts)
{
    if (!opts_has(opts, "snapshot")) {
        opts_set(opts, "snapshot", "on");
    }
}

const char *drive_if_name(BlockInterfaceType type)
{
    return type < IF_COUNT ? if_name[type] : NULL;
}

int drive_get_max_devs(BlockInterfaceType type)
{
    return type < IF_COUNT ? if_max_devs[type] : -1;
}

int drive_index_to_bus_id(BlockInterfaceType type, int index)
{
    return if_max_devs[type] ? index / if_max_devs[type] : 0;
}

int drive_index_to_unit_id(BlockInterfaceType type, int index)
{
    return if_max_devs[type] ? index % if_max_devs[type] : index;
}

/* ---- Legacy spellings ---- */

static const struct {
    const char *from, *to;
} drive_renames[] = {
    {"iops", "throttling.iops-total"},
    {"iops_rd", "throttling.iops-read"},
    {"iops_wr", "throttling.iops-write"},
    {"bps", "throttling.bps-total"},
    {"bps_rd", "throttling.bps-read"},
    {"bps_wr", "throttling.bps-write"},
    {"iops_max", "throttling.iops-total-max"},
    {"iops_rd_max", "throttling.iops-read-max"},
    {"iops_wr_max", "throttling.iops-write-max"},
    {"bps_max", "throttling.bps-total-max"},
    {"bps_rd_max", "throttling.bps-read-max"},
    {"bps_wr_max", "throttling.bps-write-max"},
    {"iops_size", "throttling.iops-size"},
    {"readonly", "read-only"},
};

bool drive_apply_renames(JsonObject *dict, Error **errp)
{
    for (size_t i = 0; i < G_N_ELEMENTS(drive_renames); i++) {
        const char *from = drive_renames[i].from, *to = drive_renames[i].to;
        const char *value = drive_opt_str(dict, from);

        if (!value) {
            continue;
        }
        if (dict_has(dict, to)) {
            error_setg(errp, "'%s' and its alias '%s' can't be used at the same time", to, from);
            return false;
        }
        json_object_set_string_member(dict, to, value);
        dict_del(dict, from);
    }
    return true;
}

/* ---- cache= ---- */

static bool drive_cache_mode(const char *mode, bool *writeback, bool *direct, bool *no_flush)
{
    int flags = 0;
    bool writethrough;

    if (!bdrv_parse_cache_mode(mode, &flags, &writethrough)) {
        return false;
    }
    *writeback = !writethrough;
    *direct = flags & BDRV_O_NOCACHE;
    *no_flush = flags & BDRV_O_NO_FLUSH;
    return true;
}

bool drive_expand_cache(JsonObject *dict, Error **errp)
{
    const char *mode = drive_opt_str(dict, "cache");
    bool writeback, direct, no_flush;

    if (!mode) {
        return true;
    }
    if (!drive_cache_mode(mode, &writeback, &direct, &no_flush)) {
        error_setg(errp, "invalid cache option");
        return false;
    }
    /* The specific options take precedence. */
    dict_copy_default(dict, "cache.writeback", writeback ? "on" : "off");
    dict_copy_default(dict, "cache.direct", direct ? "on" : "off");
    dict_copy_default(dict, "cache.no-flush", no_flush ? "on" : "off");
    dict_del(dict, "cache");
    return true;
}

/* ---- Typed groups ---- */

/* QEMU 2.2 reads numbers with strtoull: any base prefix, and "-1" wraps around. */
static bool drive_parse_number(const char *str, uint64_t *out)
{
    char *end;

    *out = g_ascii_strtoull(str, &end, 0);
    return *end == '\0';
}

static bool drive_check_value(const OptDesc *desc, const char *value, Error **errp)
{
    uint64_t num;
    bool b;

    switch (desc->type) {
    case OPT_BOOL:
        return parse_bool(desc->name, value, &b, errp);
    case OPT_NUMBER:
        if (!drive_parse_number(value, &num)) {
            error_setg(errp, "Parameter '%s' expects a number", desc->name);
            return false;
        }
        return true;
    case OPT_SIZE:
    case OPT_STRING:
        break;
    }
    return true;
}

JsonObject *drive_absorb(JsonObject *dict, const OptDesc *desc, Error **errp)
{
    JsonObject *group = json_object_new();

    for (const OptDesc *d = desc; d->name; d++) {
        const char *value = drive_opt_str(dict, d->name);

        if (!value) {
            continue;
        }
        if (!drive_check_value(d, value, errp)) {
            json_object_unref(group);
            return NULL;
        }
        json_object_set_string_member(group, d->name, value);
        dict_del(dict, d->name);
    }
    return group;
}

const char *drive_opt_str(JsonObject *dict, const char *key)
{
    return dict_get_str(dict, key);
}

uint64_t drive_opt_number(JsonObject *dict, const char *key, uint64_t def)
{
    const char *value = drive_opt_str(dict, key);
    uint64_t num;

    return value && drive_parse_number(value, &num) ? num : def;
}

bool drive_opt_bool(JsonObject *dict, const char *key, bool def)
{
    const char *value = drive_opt_str(dict, key);
    bool b;

    return value && parse_bool(key, value, &b, NULL) ? b : def;
}
