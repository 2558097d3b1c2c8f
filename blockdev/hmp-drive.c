/*
 * HMP drive_add and drive_del, as QEMU 2.2 has them (HMP only). drive_add makes a drive from
 * a -drive option string: an if=none drive ("OK") for a later device_add, or one the board's
 * hook attaches to the controller at the PCI address given (the PC: if=scsi onto a SCSI
 * adapter, "OK bus B, unit U"); any other drive is deleted again. drive_del closes a drive's medium and deletes the drive; when a device
 * still holds it, the drive is only hidden (its name is free again) and the device's later
 * requests fail with an I/O error under the report policy, so the guest is told and the VM
 * keeps running. Not -drive parsing (drive-*.c).
 */
#include <glib.h>
#include "blockdev/blockdev.h"
#include "monitor/monitor.h"
#include "monitor/command.h"

static DriveHotAddFunc *drive_hot_add_fn;
static void *drive_hot_add_opaque;

void drive_set_hot_add(DriveHotAddFunc *fn, void *opaque)
{
    drive_hot_add_fn = fn;
    drive_hot_add_opaque = opaque;
}

/* The reply for a new drive, or NULL with errp: then the caller deletes the drive. */
static char *drive_hot_add(const char *pci_addr, DriveInfo *dinfo, int unit, Error **errp)
{
    if (dinfo->devaddr) {
        error_setg(errp, "Parameter addr not supported");
        return NULL;
    }
    if (dinfo->type == IF_NONE) {
        return g_strdup("OK\n");
    }
    if (!drive_hot_add_fn) {
        error_setg(errp, "Can't hot-add drive to type %d", dinfo->type);
        return NULL;
    }
    return drive_hot_add_fn(drive_hot_add_opaque, pci_addr, dinfo, unit, errp);
}

static void hmp_drive_add(JsonObject *args, JsonNode **ret, Error **errp)
{
    Opts *opts = drive_def(monitor_arg_str(args, "opts"), errp);
    BlockBackend *blk;
    int unit;
    char *reply;

    if (!opts) {
        return;
    }
    unit = opts_get(opts, "unit") ? (int)opts_get_number(opts, "unit", 0) : -1;
    blk = drive_new(opts, IF_IDE, errp); /* IDE: the PC board's default interface */
    opts_free(opts);
    if (!blk) {
        return;
    }
    reply = drive_hot_add(monitor_arg_str(args, "pci_addr"), blk_legacy_dinfo(blk), unit, errp);
    if (!reply) {
        blk_unref(blk);
        return;
    }
    *ret = json_node_init_string(json_node_alloc(), reply);
    g_free(reply);
}

static void hmp_drive_del(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *id = monitor_arg_str(args, "id");
    BlockBackend *blk = blk_by_name(id);
    BlockDriverState *bs;

    if (!blk) {
        error_setg(errp, "Device '%s' not found", id);
        return;
    }
    if (!blk_legacy_dinfo(blk)) {
        error_setg(errp, "Deleting device added with blockdev-add is not supported");
        return;
    }
    bs = blk_bs(blk);
    if (bs && bdrv_op_is_blocked(bs, BLOCK_OP_TYPE_DRIVE_DEL, errp)) {
        return;
    }
    bdrv_drain_all();
    if (bs) {
        blk_flush(blk);
    }
    blk_remove_bs(blk);
    blk_dev_change_media_cb(blk, false);
    if (blk_get_attached_dev(blk)) {
        blk_hide_on_behalf_of_drive_del(blk);
        /* Further I/O must not pause the guest. */
        blk_set_on_error(blk, BLOCKDEV_ON_ERROR_REPORT, BLOCKDEV_ON_ERROR_REPORT);
    } else {
        blk_unref(blk);
    }
}

static void hmp_print_ok(Monitor *mon, JsonObject *args, JsonNode *ret)
{
    monitor_puts(mon, json_node_get_string(ret));
}

static const MonitorCommand drive_cmds[] = {
    {.hmp_name = "drive_add",
     .args_type = "pci_addr:s,opts:s",
     .fn = hmp_drive_add,
     .hmp_params = "[[<domain>:]<bus>:]<slot>\n[file=file][,if=type][,bus=n]\n"
                   "[,unit=m][,media=d][,index=i]\n[,cyls=c,heads=h,secs=s[,trans=t]]\n"
                   "[,snapshot=on|off][,cache=on|off]\n[,readonly=on|off][,copy-on-read=on|off]",
     .hmp_help = "add drive to PCI storage controller",
     .hmp_print = hmp_print_ok},
    {.hmp_name = "drive_del",
     .args_type = "id:B",
     .fn = hmp_drive_del,
     .hmp_params = "device",
     .hmp_help = "remove host block device"},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(drive_cmds);
