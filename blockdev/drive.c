/*
 * Drives as block backends: drive_new() opens what drive_parse() checked into a BlockBackend
 * named by the drive id and hangs the legacy DriveInfo on it; the lookups boards and device
 * models use (drive_get by interface/bus/unit or index), claiming a drive, the board's
 * default drives and the orphan warning of QEMU 2.2. The backends are the registry: a drive
 * is a BlockBackend with a DriveInfo. Not the option checks (drive-*.c).
 */
#include <stdio.h>
#include <glib.h>
#include "blockdev/drive-int.h"
#include "blockdev/qmp-passwd.h"
#include "block/throttle-groups.h"
#include "util/qdict.h"

static bool drive_env_slot_taken(BlockInterfaceType type, int bus, int unit, void *opaque)
{
    return drive_get(type, bus, unit) != NULL;
}

static bool drive_env_format_exists(const char *format, void *opaque)
{
    return bdrv_find_format(format) != NULL;
}

static void drive_print_format(void *opaque, const char *name)
{
    fprintf(stderr, " %s", name);
}

/* 2.2 refuses names of existing backends and nodes before it opens anything. */
static bool drive_check_name(const char *id, Error **errp)
{
    if (blk_by_name(id)) {
        error_setg(errp, "Device with id '%s' already exists", id);
        return false;
    }
    if (bdrv_find_node(id)) {
        error_setg(errp, "Device name '%s' conflicts with an existing node name", id);
        return false;
    }
    return true;
}

static BlockBackend *drive_open(const DriveConfig *cfg, Error **errp)
{
    const char *file = cfg->file && *cfg->file ? cfg->file : NULL;
    JsonObject *options;
    BlockBackend *blk;
    Error *local_err = NULL;

    if (cfg->empty) {
        return blk_new(cfg->id, errp);
    }
    if (cfg->format && dict_has(cfg->driver_opts, "driver")) {
        error_setg(errp, "could not open disk image %s: Driver specified twice",
                   file ? file : cfg->id);
        return NULL;
    }
    options = json_object_ref(cfg->driver_opts);
    if (cfg->format) {
        json_object_set_string_member(options, "driver", cfg->format);
    }
    blk = blk_new_open(cfg->id, file, options, cfg->flags, &local_err);
    if (blk && !blockdev_check_encrypted_open(blk_bs(blk), &local_err)) {
        blk_unref(blk); /* drive_add of an encrypted image into a running guest */
        blk = NULL;
    }
    if (!blk) {
        error_propagate_prepend(errp, local_err, "could not open disk image %s: ",
                                file ? file : cfg->id);
        return NULL;
    }
    bdrv_set_detect_zeroes(blk_bs(blk), cfg->detect_zeroes);
    return blk;
}

static DriveInfo *drive_info_new(const DriveConfig *cfg)
{
    DriveInfo *dinfo = g_new0(DriveInfo, 1);

    dinfo->type = cfg->type;
    dinfo->bus = cfg->bus;
    dinfo->unit = cfg->unit;
    /* Only the interfaces whose devices tell disks from CD-ROMs keep media=cdrom. */
    dinfo->media_cd = cfg->media_cd && (cfg->type == IF_IDE || cfg->type == IF_SCSI ||
                                        cfg->type == IF_XEN || cfg->type == IF_NONE);
    dinfo->cyls = cfg->cyls;
    dinfo->heads = cfg->heads;
    dinfo->secs = cfg->secs;
    dinfo->trans = cfg->trans;
    dinfo->serial = g_strdup(cfg->serial);
    dinfo->devaddr = g_strdup(cfg->devaddr);
    dinfo->throttle = cfg->throttle;
    dinfo->throttle_group = g_strdup(cfg->throttle_group);
    dinfo->opts = json_object_ref(cfg->opts);
    return dinfo;
}

/* throttling.*: the drive joins its group (by default one named after it) with the limits. */
static BlockBackend *drive_apply_io_limits(BlockBackend *blk, const DriveConfig *cfg,
                                           Error **errp)
{
    if (throttle_enabled(&cfg->throttle) &&
        !blk_set_io_limits(blk, &cfg->throttle, cfg->throttle_group, errp)) {
        blk_unref(blk);
        return NULL;
    }
    return blk;
}

BlockBackend *drive_new(const Opts *opts, BlockInterfaceType default_type, Error **errp)
{
    DriveEnv env = {default_type, drive_env_slot_taken, drive_env_format_exists, NULL};
    DriveConfig cfg;
    BlockBackend *blk = NULL;

    if (!drive_parse(opts, &env, &cfg, errp)) {
        return NULL;
    }
    if (cfg.format_help) {
        fprintf(stderr, "Supported formats:");
        bdrv_iterate_format(drive_print_format, NULL);
        fprintf(stderr, "\n");
    } else if (drive_check_name(cfg.id, errp)) {
        blk = drive_open(&cfg, errp);
    }
    if (blk) {
        blk_set_on_error(blk, cfg.on_read_error, cfg.on_write_error);
        blk_set_legacy_dinfo(blk, drive_info_new(&cfg));
        blk = drive_apply_io_limits(blk, &cfg, errp);
    }
    drive_config_clear(&cfg);
    return blk;
}

bool drive_add_defaults(BlockInterfaceType default_type, bool snapshot, Error **errp)
{
    const struct {
        BlockInterfaceType type;
        int index;
        const char *optstr;
    } defaults[] = {
        {default_type, 2, "media=cdrom"},
        {IF_FLOPPY, 0, ""},
        {IF_SD, 0, ""},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(defaults); i++) {
        Opts *opts;
        BlockBackend *blk;

        if (drive_get_by_index(defaults[i].type, defaults[i].index)) {
            continue;
        }
        opts =
            drive_add(defaults[i].type, defaults[i].index, NULL, defaults[i].optstr, &error_abort);
        if (snapshot) {
            drive_enable_snapshot(opts);
        }
        blk = drive_new(opts, defaults[i].type, errp);
        opts_free(opts);
        if (!blk) {
            return false;
        }
        blk_legacy_dinfo(blk)->is_default = true;
    }
    return true;
}

/* ---- Lookups ---- */

DriveInfo *drive_get(BlockInterfaceType type, int bus, int unit)
{
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        DriveInfo *dinfo = blk_legacy_dinfo(blk);

        if (dinfo && dinfo->type == type && dinfo->bus == bus && dinfo->unit == unit) {
            return dinfo;
        }
    }
    return NULL;
}

DriveInfo *drive_get_by_index(BlockInterfaceType type, int index)
{
    return drive_get(type, drive_index_to_bus_id(type, index), drive_index_to_unit_id(type, index));
}

int drive_get_max_bus(BlockInterfaceType type)
{
    int max_bus = -1;

    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        DriveInfo *dinfo = blk_legacy_dinfo(blk);

        if (dinfo && dinfo->type == type && dinfo->bus > max_bus) {
            max_bus = dinfo->bus;
        }
    }
    return max_bus;
}

DriveInfo *drive_get_next(BlockInterfaceType type)
{
    static int next_block_unit[IF_COUNT];

    return drive_get(type, 0, next_block_unit[type]++);
}

BlockBackend *drive_get_blk(const DriveInfo *dinfo)
{
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        if (blk_legacy_dinfo(blk) == dinfo) {
            return blk;
        }
    }
    return NULL;
}

BlockBackend *drive_claim(DriveInfo *dinfo, void *dev)
{
    BlockBackend *blk = drive_get_blk(dinfo);

    return blk && blk_attach_dev(blk, dev) == 0 ? blk : NULL;
}

bool drive_check_orphans(void)
{
    bool found = false;

    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        DriveInfo *dinfo = blk_legacy_dinfo(blk);
        BlockDriverState *bs = blk_bs(blk);

        if (!dinfo || dinfo->is_default || dinfo->type == IF_NONE || blk_get_attached_dev(blk)) {
            continue;
        }
        fprintf(stderr,
                "Warning: Orphaned drive without device: id=%s,file=%s,if=%s,bus=%d,"
                "unit=%d\n",
                blk_name(blk), bs ? bdrv_get_filename(bs) : "", drive_if_name(dinfo->type),
                dinfo->bus, dinfo->unit);
        found = true;
    }
    return found;
}
