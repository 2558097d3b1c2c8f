/*
 * query-block and query-blockstats (QEMU 2.2's BlockInfo, BlockDeviceInfo, ImageInfo and
 * BlockStats shapes) over the existing BlockBackends, registered in the monitor's command
 * table. The HMP output of `info block` and `info blockstats` is blockdev/hmp-query.c.
 * Not the block commands that change anything (eject, change, snapshots ...).
 */
#include <string.h>
#include <glib.h>
#include "block/block-backend.h"
#include "block/block_int.h"
#include "block/blockjob.h"
#include "block/image-ops.h"
#include "blockdev/qmp-query.h"
#include "monitor/command.h"

static const char *const io_status_names[] = {"ok", "failed", "nospace"};
static const char *const detect_zeroes_names[] = {"off", "on", "unmap"};

static JsonObject *snapshot_info(const BlockSnapshotInfo *sn)
{
    JsonObject *o = json_object_new();

    json_object_set_string_member(o, "id", sn->id);
    json_object_set_string_member(o, "name", sn->name);
    json_object_set_int_member(o, "vm-state-size", sn->vm_state_size);
    json_object_set_int_member(o, "date-sec", sn->date_sec);
    json_object_set_int_member(o, "date-nsec", sn->date_nsec);
    json_object_set_int_member(o, "vm-clock-sec", sn->vm_clock_nsec / 1000000000);
    json_object_set_int_member(o, "vm-clock-nsec", sn->vm_clock_nsec % 1000000000);
    return o;
}

static void image_info_snapshots(JsonObject *o, BlockDriverState *bs)
{
    BlockSnapshotInfo *list;
    int n = bdrv_snapshot_list(bs, &list);
    JsonArray *a;

    if (n < 0) {
        return;
    }
    if (n == 0) {
        bdrv_snapshot_list_free(list, 0);
        return;
    }
    a = json_array_new();
    for (int i = 0; i < n; i++) {
        json_array_add_object_element(a, snapshot_info(&list[i]));
    }
    json_object_set_array_member(o, "snapshots", a);
    bdrv_snapshot_list_free(list, n);
}

/* The stored backing name resolved against the image's directory, as 2.2 does. */
static char *backing_full_name(const char *image, const char *backing)
{
    const char *slash = strrchr(image, '/');

    if (g_path_is_absolute(backing) || !slash) {
        return g_strdup(backing);
    }
    return g_strdup_printf("%.*s%s", (int)(slash - image + 1), image, backing);
}

/* ImageInfo of bs and, through backing-image, of everything below it. */
static JsonObject *image_info(BlockDriverState *bs)
{
    JsonObject *o = json_object_new();
    JsonObject *specific = bdrv_get_specific_info(bs);
    int64_t actual = bdrv_get_allocated_file_size(bs);
    const char *filename = bdrv_get_filename(bs);
    BlockDriverState *backing = bdrv_backing_child(bs);
    BlockDriverInfo bdi;

    json_object_set_string_member(o, "filename", filename);
    json_object_set_string_member(o, "format", bdrv_get_format_name(bs));
    json_object_set_int_member(o, "virtual-size", bdrv_getlength(bs));
    if (actual >= 0) {
        json_object_set_int_member(o, "actual-size", actual);
    }
    if (bdrv_is_encrypted(bs)) {
        json_object_set_boolean_member(o, "encrypted", true);
    }
    if (bdrv_get_info(bs, &bdi) >= 0) {
        if (bdi.cluster_size) {
            json_object_set_int_member(o, "cluster-size", bdi.cluster_size);
        }
        json_object_set_boolean_member(o, "dirty-flag", bdrv_is_dirty(bs));
    }
    if (bs->backing_file) {
        g_autofree char *full = backing_full_name(filename, bs->backing_file);

        json_object_set_string_member(o, "backing-filename", bs->backing_file);
        if (g_strcmp0(full, bs->backing_file) != 0) {
            json_object_set_string_member(o, "full-backing-filename", full);
        }
        if (bs->backing_format) {
            json_object_set_string_member(o, "backing-filename-format", bs->backing_format);
        }
    }
    image_info_snapshots(o, bs);
    if (specific) {
        JsonObject *fs = json_object_new();

        json_object_set_string_member(fs, "type", bdrv_get_format_name(bs));
        json_object_set_object_member(fs, "data", specific);
        json_object_set_object_member(o, "format-specific", fs);
    }
    if (backing) {
        json_object_set_object_member(o, "backing-image", image_info(backing));
    }
    return o;
}

static const char *const throttle_avg_names[] = {"bps",  "bps_rd",  "bps_wr",
                                                 "iops", "iops_rd", "iops_wr"};

static void device_info_throttle(JsonObject *o, BlockBackend *blk)
{
    static const char *const max[] = {"bps_max",  "bps_rd_max",  "bps_wr_max",
                                      "iops_max", "iops_rd_max", "iops_wr_max"};
    ThrottleConfig cfg;
    bool on = blk_get_io_limits(blk, &cfg);

    for (int i = 0; i < THROTTLE_BUCKET_MAX; i++) {
        json_object_set_int_member(o, throttle_avg_names[i], on ? cfg.buckets[i].avg : 0);
    }
    for (int i = 0; on && i < THROTTLE_BUCKET_MAX; i++) {
        if (cfg.buckets[i].max) {
            json_object_set_int_member(o, max[i], cfg.buckets[i].max);
        }
    }
    if (on && cfg.op_size) {
        json_object_set_int_member(o, "iops_size", cfg.op_size);
    }
}

/* The throttling members are mandatory in BlockDeviceInfo: zeros for a node without limits. */
static void device_info_no_throttle(JsonObject *o)
{
    for (size_t i = 0; i < G_N_ELEMENTS(throttle_avg_names); i++) {
        json_object_set_int_member(o, throttle_avg_names[i], 0);
    }
}

JsonObject *qmp_block_device_info(BlockBackend *blk, BlockDriverState *bs)
{
    JsonObject *o = json_object_new();
    const char *node_name = bdrv_get_node_name(bs);

    json_object_set_string_member(o, "file", bdrv_get_filename(bs));
    if (node_name && *node_name) {
        json_object_set_string_member(o, "node-name", node_name);
    }
    json_object_set_boolean_member(o, "ro", bdrv_is_read_only(bs));
    json_object_set_string_member(o, "drv", bdrv_get_format_name(bs));
    if (bs->backing_file) {
        json_object_set_string_member(o, "backing_file", bs->backing_file);
    }
    json_object_set_int_member(o, "backing_file_depth", bdrv_backing_depth(bs));
    /* 2.2: the node's own flag here, the chain's (bdrv_is_encrypted) in ImageInfo. */
    json_object_set_boolean_member(o, "encrypted", bs->encrypted);
    json_object_set_boolean_member(o, "encryption_key_missing", bdrv_key_required(bs));
    json_object_set_string_member(o, "detect_zeroes",
                                  detect_zeroes_names[bdrv_get_detect_zeroes(bs)]);
    if (blk) {
        device_info_throttle(o, blk);
    }
    json_object_set_object_member(o, "image", image_info(bs));
    return o;
}

static JsonObject *block_info(BlockBackend *blk)
{
    JsonObject *o = json_object_new();
    bool removable = blk_dev_has_removable_media(blk);
    JsonArray *bitmaps;

    json_object_set_string_member(o, "device", blk_name(blk));
    json_object_set_string_member(o, "type", "unknown");
    json_object_set_boolean_member(o, "removable", removable);
    json_object_set_boolean_member(o, "locked", blk_dev_is_medium_locked(blk));
    if (removable) {
        json_object_set_boolean_member(o, "tray_open", blk_dev_is_tray_open(blk));
    }
    if (blk_iostatus_is_enabled(blk)) {
        json_object_set_string_member(o, "io-status", io_status_names[blk_iostatus(blk)]);
    }
    if ((bitmaps = block_job_dirty_bitmaps(blk))) {
        json_object_set_array_member(o, "dirty-bitmaps", bitmaps);
    }
    if (blk_is_inserted(blk)) {
        json_object_set_object_member(o, "inserted", qmp_block_device_info(blk, blk_bs(blk)));
    }
    return o;
}

static void qmp_query_block(JsonObject *args, JsonNode **ret, Error **errp)
{
    JsonArray *list = json_array_new();

    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        json_array_add_object_element(list, block_info(blk));
    }
    *ret = json_node_init_array(json_node_alloc(), list);
    json_array_unref(list);
}

/* 2.2: every node with a node-name, most recently named first; "image" is left empty. */
static void qmp_query_named_block_nodes(JsonObject *args, JsonNode **ret, Error **errp)
{
    JsonArray *list = json_array_new();
    GList *nodes = NULL;

    for (BlockDriverState *bs = bdrv_next_node(NULL); bs; bs = bdrv_next_node(bs)) {
        nodes = g_list_prepend(nodes, bs);
    }
    for (GList *l = nodes; l; l = l->next) {
        BlockDriverState *bs = l->data;
        const char *device = bdrv_get_device_name(bs);
        BlockBackend *blk = *device ? blk_by_name(device) : NULL;
        JsonObject *o = qmp_block_device_info(blk, bs);

        if (!blk) {
            device_info_no_throttle(o);
        }
        json_object_set_object_member(o, "image", json_object_new());
        json_array_add_object_element(list, o);
    }
    g_list_free(nodes);
    *ret = json_node_init_array(json_node_alloc(), list);
    json_array_unref(list);
}

static JsonObject *block_device_stats(BlockBackend *blk)
{
    JsonObject *o = json_object_new();
    BlockAcctStats *st = blk_get_stats(blk);

    json_object_set_int_member(o, "rd_bytes", st->nr_bytes[BLOCK_ACCT_READ]);
    json_object_set_int_member(o, "wr_bytes", st->nr_bytes[BLOCK_ACCT_WRITE]);
    json_object_set_int_member(o, "rd_operations", st->nr_ops[BLOCK_ACCT_READ]);
    json_object_set_int_member(o, "wr_operations", st->nr_ops[BLOCK_ACCT_WRITE]);
    json_object_set_int_member(o, "flush_operations", st->nr_ops[BLOCK_ACCT_FLUSH]);
    json_object_set_int_member(o, "flush_total_time_ns", st->total_time_ns[BLOCK_ACCT_FLUSH]);
    json_object_set_int_member(o, "wr_total_time_ns", st->total_time_ns[BLOCK_ACCT_WRITE]);
    json_object_set_int_member(o, "rd_total_time_ns", st->total_time_ns[BLOCK_ACCT_READ]);
    json_object_set_int_member(o, "wr_highest_offset", st->wr_highest_offset);
    return o;
}

static void qmp_query_blockstats(JsonObject *args, JsonNode **ret, Error **errp)
{
    JsonArray *list = json_array_new();

    /* Statistics are kept per backend, so there is no "parent"/"backing" breakdown. */
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "device", blk_name(blk));
        json_object_set_object_member(o, "stats", block_device_stats(blk));
        json_array_add_object_element(list, o);
    }
    *ret = json_node_init_array(json_node_alloc(), list);
    json_array_unref(list);
}

static const MonitorCommand query_block_cmds[] = {
    {.name = "query-block",
     .fn = qmp_query_block,
     .hmp_name = "info block",
     .hmp_args_type = "verbose:-v,device:B?",
     .hmp_params = "[-v] [device]",
     .hmp_help = "show info of one block device or all block devices (and details of "
                 "images with -v option)",
     .hmp_print = hmp_print_block},
    {.name = "query-named-block-nodes", .fn = qmp_query_named_block_nodes},
    {.name = "query-blockstats",
     .fn = qmp_query_blockstats,
     .hmp_name = "info blockstats",
     .hmp_help = "show block device statistics",
     .hmp_print = hmp_print_blockstats},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(query_block_cmds);
