/*
 * HMP `info snapshots` as QEMU 2.2 prints it: the internal snapshots of the first drive that
 * can take them (inserted, writable, a format with internal snapshots), each listed only if
 * every other such drive has a snapshot with the same id (QEMU's rule for VM snapshots).
 * And `delvm`, which deletes such a snapshot from every drive that can take them. The
 * snapshot commands themselves are in qmp-snapshot.c; savevm and loadvm (the VM's state)
 * are not implemented.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <glib.h>
#include "block/block-backend.h"
#include "block/image-ops.h"
#include "monitor/command.h"
#include "monitor/monitor.h"

/* 2.2's can-snapshot test on a drive's root. */
static BlockDriverState *snapshot_capable(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    return bs && !bdrv_is_read_only(bs) && bdrv_can_snapshot(bs) ? bs : NULL;
}

/* 2.2's get_human_readable_size. */
static char *human_size(uint64_t size)
{
    static const char suffixes[] = "KMGT";
    uint64_t base = 1024;

    if (size <= 999) {
        return g_strdup_printf("%" PRIu64, size);
    }
    for (int i = 0;; i++, base *= 1024) {
        if (size < 10 * base) {
            return g_strdup_printf("%0.1f%c", (double)size / base, suffixes[i]);
        }
        if (size < 1000 * base || i == 3) {
            return g_strdup_printf("%" PRIu64 "%c", (size + (base >> 1)) / base, suffixes[i]);
        }
    }
}

static void dump_snapshot(GString *out, const BlockSnapshotInfo *sn)
{
    time_t t = sn->date_sec;
    uint64_t secs = sn->vm_clock_nsec / 1000000000;
    g_autofree char *size = human_size(sn->vm_state_size);
    char date[128], clock[128];
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(clock, sizeof(clock), "%02d:%02d:%02d.%03d", (int)(secs / 3600),
             (int)((secs / 60) % 60), (int)(secs % 60),
             (int)((sn->vm_clock_nsec / 1000000) % 1000));
    g_string_append_printf(out, "%-10s%-20s%7s%20s%15s\n", sn->id, sn->name, size, date, clock);
}

static bool has_snapshot_id(BlockDriverState *bs, const char *id)
{
    BlockSnapshotInfo *list;
    int n = bdrv_snapshot_list(bs, &list);
    bool found = false;

    for (int i = 0; i < n && !found; i++) {
        found = !strcmp(list[i].id, id) || !strcmp(list[i].name, id);
    }
    if (n > 0) {
        bdrv_snapshot_list_free(list, n);
    }
    return found;
}

/* Every other capable drive has it. */
static bool snapshot_everywhere(BlockDriverState *bs, const char *id)
{
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        BlockDriverState *other = snapshot_capable(blk);

        if (other && other != bs && !has_snapshot_id(other, id)) {
            return false;
        }
    }
    return true;
}

static void list_snapshots(GString *out, BlockDriverState *bs)
{
    BlockSnapshotInfo *list;
    int n = bdrv_snapshot_list(bs, &list);
    GString *rows = g_string_new(NULL);

    if (n < 0) {
        g_string_append_printf(out, "bdrv_snapshot_list: error %d\n", n);
    } else if (n == 0) {
        g_string_append(out, "There is no snapshot available.\n");
    }
    for (int i = 0; i < n; i++) {
        if (snapshot_everywhere(bs, list[i].id)) {
            dump_snapshot(rows, &list[i]);
        }
    }
    if (n > 0 && rows->len) {
        g_string_append_printf(out, "%-10s%-20s%7s%20s%15s\n%s", "ID", "TAG", "VM SIZE", "DATE",
                               "VM CLOCK", rows->str);
    } else if (n > 0) {
        g_string_append(out, "There is no suitable snapshot available\n");
    }
    g_string_free(rows, TRUE);
    if (n > 0) {
        bdrv_snapshot_list_free(list, n);
    }
}

/* A command's text for hmp_print_snapshots, out freed. */
static JsonNode *text_result(GString *out)
{
    JsonNode *n = json_node_init_string(json_node_alloc(), out->str);

    g_string_free(out, TRUE);
    return n;
}

static void hmp_info_snapshots(JsonObject *args, JsonNode **ret, Error **errp)
{
    GString *out = g_string_new(NULL);
    BlockDriverState *bs = NULL;

    for (BlockBackend *blk = blk_next(NULL); blk && !bs; blk = blk_next(blk)) {
        bs = snapshot_capable(blk);
    }
    if (bs) {
        list_snapshots(out, bs);
    } else {
        g_string_append(out, "No available block device supports snapshots\n");
    }
    *ret = text_result(out);
}

static void hmp_print_snapshots(Monitor *mon, JsonObject *args, JsonNode *ret)
{
    monitor_puts(mon, json_node_get_string(ret));
}

/* 2.2's bdrv_snapshot_delete_by_id_or_name: the snapshot with this id, else this tag. */
static bool delete_by_id_or_name(BlockDriverState *bs, const char *id_or_name, Error **errp)
{
    BlockSnapshotInfo sn;
    int found = bdrv_snapshot_find(bs, id_or_name, NULL, &sn);
    bool ok;

    if (found == 0) {
        found = bdrv_snapshot_find(bs, NULL, id_or_name, &sn);
    }
    if (found < 0) {
        error_setg_errno(errp, -found, "Failed to get a snapshot list");
        return false;
    }
    if (!found) {
        error_setg(errp, "Can't find the snapshot");
        return false;
    }
    ok = bdrv_snapshot_delete(bs, sn.id, errp) >= 0;
    bdrv_snapshot_info_clear(&sn);
    return ok;
}

/* HMP delvm: the VM snapshot deleted from every drive that can take snapshots, each
 * failure a line of its own (2.2 goes on with the other drives). */
static void hmp_delvm(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *name = monitor_arg_str(args, "name");
    GString *out = g_string_new(NULL);

    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        BlockDriverState *bs = snapshot_capable(blk);
        Error *err = NULL;

        if (bs && !delete_by_id_or_name(bs, name, &err)) {
            g_string_append_printf(out, "Error while deleting snapshot on device '%s': %s\n",
                                   blk_name(blk), error_get_pretty(err));
            error_free(err);
        }
    }
    *ret = text_result(out);
}

static const MonitorCommand hmp_snapshot_cmds[] = {
    {.hmp_name = "delvm",
     .args_type = "name:s",
     .fn = hmp_delvm,
     .hmp_params = "tag|id",
     .hmp_help = "delete a VM snapshot from its tag or id",
     .hmp_print = hmp_print_snapshots},
    {.hmp_name = "info snapshots",
     .fn = hmp_info_snapshots,
     .hmp_help = "show the currently saved VM snapshots",
     .hmp_print = hmp_print_snapshots},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(hmp_snapshot_cmds);
