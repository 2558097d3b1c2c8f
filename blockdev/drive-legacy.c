/*
 * drive_parse(): the -drive front end of QEMU 2.2's drive_new(), step by step in its order
 * and with its messages: legacy renames and cache=, media, read-only and copy-on-read,
 * interface, CHS geometry and translation, bus/unit/index with the first free unit, the
 * generated id, addr=, and where werror/rerror are allowed. The block options shared with
 * blockdev-add follow in drive-common.c. Opens nothing: the caller says which slots are
 * taken (DriveEnv).
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "blockdev/drive-int.h"
#include "util/qdict.h"

/* The legacy group and the dictionary left for the common options, while parsing. */
typedef struct DriveParse {
    JsonObject *legacy;
    JsonObject *dict;
    const DriveEnv *env;
    DriveConfig *cfg;
} DriveParse;

static JsonObject *drive_dict_copy(JsonObject *src)
{
    JsonObject *dst = json_object_new();
    GList *names = json_object_get_members(src);

    for (GList *l = names; l; l = l->next) {
        json_object_set_string_member(dst, l->data, drive_opt_str(src, l->data));
    }
    g_list_free(names);
    return dst;
}

static bool drive_parse_media(DriveParse *p, Error **errp)
{
    const char *media = drive_opt_str(p->legacy, "media");

    if (media && !strcmp(media, "cdrom")) {
        p->cfg->media_cd = true;
        p->cfg->read_only = true;
    } else if (media && strcmp(media, "disk") != 0) {
        error_setg(errp, "'%s' invalid media", media);
        return false;
    }
    return true;
}

/* copy-on-read is dropped, with a warning, on a read-only drive. */
static void drive_parse_read_only(DriveParse *p)
{
    DriveConfig *cfg = p->cfg;

    cfg->read_only |= drive_opt_bool(p->legacy, "read-only", false);
    cfg->copy_on_read = drive_opt_bool(p->legacy, "copy-on-read", false);
    if (cfg->read_only && cfg->copy_on_read) {
        warn_report("disabling copy-on-read on read-only drive");
        cfg->copy_on_read = false;
    }
    json_object_set_string_member(p->dict, "read-only", cfg->read_only ? "on" : "off");
    json_object_set_string_member(p->dict, "copy-on-read", cfg->copy_on_read ? "on" : "off");
}

static bool drive_parse_if(DriveParse *p, Error **errp)
{
    const char *value = drive_opt_str(p->legacy, "if");
    int type;

    if (!value) {
        p->cfg->type = p->env->default_type;
        return true;
    }
    for (type = 0; type < IF_COUNT && strcmp(value, drive_if_name(type)) != 0; type++) {
    }
    if (type == IF_COUNT) {
        error_setg(errp, "unsupported bus type '%s'", value);
        return false;
    }
    p->cfg->type = type;
    return true;
}

static const char *const drive_trans_name[] = {
    [BIOS_ATA_TRANSLATION_AUTO] = "auto",   [BIOS_ATA_TRANSLATION_NONE] = "none",
    [BIOS_ATA_TRANSLATION_LBA] = "lba",     [BIOS_ATA_TRANSLATION_LARGE] = "large",
    [BIOS_ATA_TRANSLATION_RECHS] = "rechs",
};

static bool drive_parse_trans(DriveParse *p, Error **errp)
{
    const char *value = drive_opt_str(p->legacy, "trans");

    p->cfg->trans = BIOS_ATA_TRANSLATION_AUTO;
    if (!value) {
        return true;
    }
    if (!p->cfg->cyls) {
        error_setg(errp, "'%s' trans must be used with cyls, heads and secs", value);
        return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(drive_trans_name); i++) {
        if (!strcmp(value, drive_trans_name[i])) {
            p->cfg->trans = i;
            return true;
        }
    }
    error_setg(errp, "'%s' invalid translation type", value);
    return false;
}

/* Values are C ints in QEMU 2.2: a number read as 64 bits is truncated. */
static int drive_legacy_int(DriveParse *p, const char *key, int def)
{
    return (int)drive_opt_number(p->legacy, key, (uint64_t)def);
}

static bool drive_parse_geometry(DriveParse *p, Error **errp)
{
    DriveConfig *cfg = p->cfg;

    cfg->cyls = drive_legacy_int(p, "cyls", 0);
    cfg->heads = drive_legacy_int(p, "heads", 0);
    cfg->secs = drive_legacy_int(p, "secs", 0);
    if (cfg->cyls || cfg->heads || cfg->secs) {
        const char *bad = cfg->cyls < 1    ? "cyls"
                          : cfg->heads < 1 ? "heads"
                          : cfg->secs < 1  ? "secs"
                                           : NULL;

        if (bad) {
            error_setg(errp, "invalid physical %s number", bad);
            return false;
        }
    }
    if (!drive_parse_trans(p, errp)) {
        return false;
    }
    if (cfg->media_cd && (cfg->cyls || cfg->secs || cfg->heads)) {
        error_setg(errp, "CHS can't be set with media=cdrom");
        return false;
    }
    return true;
}

static bool drive_slot_taken(DriveParse *p, int bus, int unit)
{
    return p->env->slot_taken(p->cfg->type, bus, unit, p->env->opaque);
}

/* bus/unit, or index=; without a unit, the first free one from bus= on. */
static bool drive_parse_address(DriveParse *p, Error **errp)
{
    DriveConfig *cfg = p->cfg;
    int max_devs = drive_get_max_devs(cfg->type);
    int bus = drive_legacy_int(p, "bus", 0);
    int unit = drive_legacy_int(p, "unit", -1);

    cfg->index = drive_legacy_int(p, "index", -1);
    if (cfg->index != -1) {
        if (bus != 0 || unit != -1) {
            error_setg(errp, "index cannot be used with bus and unit");
            return false;
        }
        bus = drive_index_to_bus_id(cfg->type, cfg->index);
        unit = drive_index_to_unit_id(cfg->type, cfg->index);
    }
    if (unit == -1) {
        unit = 0;
        while (drive_slot_taken(p, bus, unit)) {
            unit++;
            if (max_devs && unit >= max_devs) {
                unit -= max_devs;
                bus++;
            }
        }
    }
    if (max_devs && unit >= max_devs) {
        error_setg(errp, "unit %d too big (max is %d)", unit, max_devs - 1);
        return false;
    }
    if (drive_slot_taken(p, bus, unit)) {
        error_setg(errp, "drive with bus=%d, unit=%d (index=%d) exists", bus, unit, cfg->index);
        return false;
    }
    cfg->bus = bus;
    cfg->unit = unit;
    return true;
}

/* "ide0-hd0", "scsi1-cd3" where buses have a unit limit; "virtio0", "floppy1" elsewhere. */
static char *drive_default_id(const DriveConfig *cfg)
{
    const char *media = "";

    if (cfg->type == IF_IDE || cfg->type == IF_SCSI) {
        media = cfg->media_cd ? "-cd" : "-hd";
    }
    if (drive_get_max_devs(cfg->type)) {
        return g_strdup_printf("%s%d%s%d", drive_if_name(cfg->type), cfg->bus, media, cfg->unit);
    }
    return g_strdup_printf("%s%s%d", drive_if_name(cfg->type), media, cfg->unit);
}

static bool drive_error_allowed(BlockInterfaceType type)
{
    return type == IF_IDE || type == IF_SCSI || type == IF_VIRTIO || type == IF_NONE;
}

/* werror= and rerror= only where a device model implements them; checked later. */
static bool drive_pass_error_action(DriveParse *p, const char *key, Error **errp)
{
    const char *value = drive_opt_str(p->legacy, key);

    if (!value) {
        return true;
    }
    if (!drive_error_allowed(p->cfg->type)) {
        error_setg(errp, "%s is not supported by this bus type", key);
        return false;
    }
    json_object_set_string_member(p->dict, key, value);
    return true;
}

static bool drive_parse_names(DriveParse *p, Error **errp)
{
    DriveConfig *cfg = p->cfg;

    cfg->serial = g_strdup(drive_opt_str(p->legacy, "serial"));
    cfg->id = g_strdup(drive_opt_str(p->dict, "id"));
    if (!cfg->id) {
        cfg->id = drive_default_id(cfg);
        json_object_set_string_member(p->dict, "id", cfg->id);
    }
    cfg->devaddr = g_strdup(drive_opt_str(p->legacy, "addr"));
    if (cfg->devaddr && cfg->type != IF_VIRTIO) {
        error_setg(errp, "addr is not supported by this bus type");
        return false;
    }
    cfg->file = g_strdup(drive_opt_str(p->legacy, "file"));
    return drive_pass_error_action(p, "werror", errp) && drive_pass_error_action(p, "rerror", errp);
}

static bool drive_parse_legacy(DriveParse *p, Error **errp)
{
    p->legacy = drive_absorb(p->dict, drive_legacy_desc, errp);
    if (!p->legacy) {
        return false;
    }
    if (drive_opt_str(p->legacy, "boot")) {
        fprintf(stderr, "minivmm: boot=on|off is deprecated and will be ignored. Future "
                        "versions will reject this parameter. Please update your scripts.\n");
    }
    if (!drive_parse_media(p, errp)) {
        return false;
    }
    drive_parse_read_only(p);
    return drive_parse_if(p, errp) && drive_parse_geometry(p, errp) &&
           drive_parse_address(p, errp) && drive_parse_names(p, errp);
}

bool drive_parse(const Opts *opts, const DriveEnv *env, DriveConfig *out, Error **errp)
{
    DriveParse p = {.dict = opts_to_dict(opts), .env = env, .cfg = out};
    bool ok;

    memset(out, 0, sizeof(*out));
    out->index = -1;
    throttle_config_init(&out->throttle);
    ok = drive_apply_renames(p.dict, errp) && drive_expand_cache(p.dict, errp);
    if (ok) {
        out->opts = drive_dict_copy(p.dict);
        ok = drive_parse_legacy(&p, errp) && drive_parse_common(p.dict, env, out, errp);
    }
    if (p.legacy) {
        json_object_unref(p.legacy);
    }
    if (ok) {
        out->driver_opts = p.dict;
    } else {
        json_object_unref(p.dict);
        drive_config_clear(out);
    }
    return ok;
}

void drive_config_clear(DriveConfig *cfg)
{
    g_free(cfg->id);
    g_free(cfg->serial);
    g_free(cfg->devaddr);
    g_free(cfg->file);
    g_free(cfg->format);
    g_free(cfg->throttle_group);
    if (cfg->driver_opts) {
        json_object_unref(cfg->driver_opts);
    }
    if (cfg->opts) {
        json_object_unref(cfg->opts);
    }
    memset(cfg, 0, sizeof(*cfg));
}
