/*
 * HMP output of the block queries, in QEMU 2.2's formats: `info block [-v] [device]` from
 * query-block's result and `info blockstats` from query-blockstats'. Only formatting.
 */
#include <inttypes.h>
#include <string.h>
#include <glib.h>
#include "blockdev/qmp-query.h"
#include "monitor/monitor.h"

/* 2.2's human sizes: up to 999 plain, then K/M/G/T with one decimal below ten units. */
static char *human_size(int64_t size)
{
    static const char suffixes[] = {'K', 'M', 'G', 'T'};
    int64_t base = 1024;

    if (size <= 999) {
        return g_strdup_printf("%" PRId64, size);
    }
    for (int i = 0; i < 4; i++, base *= 1024) {
        if (size < 10 * base) {
            return g_strdup_printf("%0.1f%c", (double)size / base, suffixes[i]);
        }
        if (size < 1000 * base || i == 3) {
            return g_strdup_printf("%" PRId64 "%c", (size + (base >> 1)) / base, suffixes[i]);
        }
    }
    return NULL;
}

static void print_specific(Monitor *mon, JsonObject *fs)
{
    JsonObject *data = json_object_get_object_member(fs, "data");
    GList *names = json_object_get_members(data);

    monitor_printf(mon, "Format specific information:\n");
    for (GList *l = names; l; l = l->next) {
        JsonNode *v = json_object_get_member(data, l->data);
        g_autofree char *key = g_strdelimit(g_strdup(l->data), "-", ' ');

        if (!JSON_NODE_HOLDS_VALUE(v)) {
            continue;
        }
        if (json_node_get_value_type(v) == G_TYPE_BOOLEAN) {
            monitor_printf(mon, "    %s: %s\n", key, json_node_get_boolean(v) ? "true" : "false");
        } else if (json_node_get_value_type(v) == G_TYPE_INT64) {
            monitor_printf(mon, "    %s: %" PRId64 "\n", key, json_node_get_int(v));
        } else {
            monitor_printf(mon, "    %s: %s\n", key, json_node_get_string(v));
        }
    }
    g_list_free(names);
}

/* One image of the chain, as qemu-img info prints it (no snapshot table here). */
static void print_image(Monitor *mon, JsonObject *img)
{
    int64_t vsize = json_object_get_int_member(img, "virtual-size");
    g_autofree char *size = human_size(vsize);
    g_autofree char *dsize = json_object_has_member(img, "actual-size")
                                 ? human_size(json_object_get_int_member(img, "actual-size"))
                                 : g_strdup("unavailable");

    monitor_printf(mon,
                   "image: %s\nfile format: %s\nvirtual size: %s (%" PRId64 " bytes)\n"
                   "disk size: %s\n",
                   json_object_get_string_member(img, "filename"),
                   json_object_get_string_member(img, "format"), size, vsize, dsize);
    if (json_object_has_member(img, "encrypted")) {
        monitor_printf(mon, "encrypted: yes\n");
    }
    if (json_object_has_member(img, "cluster-size")) {
        monitor_printf(mon, "cluster_size: %" PRId64 "\n",
                       json_object_get_int_member(img, "cluster-size"));
    }
    if (json_object_has_member(img, "dirty-flag") &&
        json_object_get_boolean_member(img, "dirty-flag")) {
        monitor_printf(mon, "cleanly shut down: no\n");
    }
    if (json_object_has_member(img, "backing-filename")) {
        monitor_printf(mon, "backing file: %s",
                       json_object_get_string_member(img, "backing-filename"));
        if (json_object_has_member(img, "full-backing-filename")) {
            monitor_printf(mon, " (actual path: %s)",
                           json_object_get_string_member(img, "full-backing-filename"));
        }
        monitor_printf(mon, "\n");
        if (json_object_has_member(img, "backing-filename-format")) {
            monitor_printf(mon, "backing file format: %s\n",
                           json_object_get_string_member(img, "backing-filename-format"));
        }
    }
    if (json_object_has_member(img, "format-specific")) {
        print_specific(mon, json_object_get_object_member(img, "format-specific"));
    }
}

static void print_throttle(Monitor *mon, JsonObject *ins)
{
    static const char *const names[] = {
        "bps",     "bps_rd",  "bps_wr",   "bps_max",     "bps_rd_max",  "bps_wr_max", "iops",
        "iops_rd", "iops_wr", "iops_max", "iops_rd_max", "iops_wr_max", "iops_size"};
    bool on = false;

    for (int i = 0; i < 3; i++) {
        on |= json_object_get_int_member(ins, names[i]) != 0;
        on |= json_object_get_int_member(ins, names[i + 6]) != 0;
    }
    if (!on) {
        return;
    }
    monitor_printf(mon, "    I/O throttling:  ");
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        monitor_printf(
            mon, " %s=%" PRId64, names[i],
            json_object_has_member(ins, names[i]) ? json_object_get_int_member(ins, names[i]) : 0);
    }
    monitor_printf(mon, "\n");
}

static void print_inserted(Monitor *mon, JsonObject *ins, bool verbose)
{
    const char *dz = json_object_get_string_member(ins, "detect_zeroes");

    if (json_object_has_member(ins, "backing_file")) {
        monitor_printf(mon, "    Backing file:     %s (chain depth: %" PRId64 ")\n",
                       json_object_get_string_member(ins, "backing_file"),
                       json_object_get_int_member(ins, "backing_file_depth"));
    }
    if (strcmp(dz, "off") != 0) {
        monitor_printf(mon, "    Detect zeroes:    %s\n", dz);
    }
    print_throttle(mon, ins);
    if (verbose) {
        JsonObject *img = json_object_get_object_member(ins, "image");

        monitor_printf(mon, "\nImages:\n");
        for (; img; img = json_object_has_member(img, "backing-image")
                              ? json_object_get_object_member(img, "backing-image")
                              : NULL) {
            print_image(mon, img);
        }
    }
}

static void print_block_info(Monitor *mon, JsonObject *info, bool verbose)
{
    JsonObject *ins = json_object_has_member(info, "inserted")
                          ? json_object_get_object_member(info, "inserted")
                          : NULL;

    monitor_printf(mon, "%s", json_object_get_string_member(info, "device"));
    if (ins) {
        monitor_printf(mon, ": %s (%s%s%s)\n", json_object_get_string_member(ins, "file"),
                       json_object_get_string_member(ins, "drv"),
                       json_object_get_boolean_member(ins, "ro") ? ", read-only" : "",
                       json_object_get_boolean_member(ins, "encrypted") ? ", encrypted" : "");
    } else {
        monitor_printf(mon, ": [not inserted]\n");
    }
    if (json_object_has_member(info, "io-status") &&
        strcmp(json_object_get_string_member(info, "io-status"), "ok") != 0) {
        monitor_printf(mon, "    I/O status:       %s\n",
                       json_object_get_string_member(info, "io-status"));
    }
    if (json_object_get_boolean_member(info, "removable")) {
        monitor_printf(mon, "    Removable device: %slocked, tray %s\n",
                       json_object_get_boolean_member(info, "locked") ? "" : "not ",
                       json_object_get_boolean_member(info, "tray_open") ? "open" : "closed");
    }
    if (ins) {
        print_inserted(mon, ins, verbose);
    }
}

void hmp_print_block(Monitor *mon, JsonObject *args, JsonNode *ret)
{
    JsonArray *list = json_node_get_array(ret);
    const char *device = monitor_arg_str(args, "device");
    bool verbose = monitor_arg_bool(args, "verbose", false);

    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *info = json_array_get_object_element(list, i);

        if (device && strcmp(device, json_object_get_string_member(info, "device")) != 0) {
            continue;
        }
        if (i > 0) {
            monitor_printf(mon, "\n");
        }
        print_block_info(mon, info, verbose);
    }
}

void hmp_print_blockstats(Monitor *mon, JsonObject *args, JsonNode *ret)
{
    JsonArray *list = json_node_get_array(ret);

    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *bs = json_array_get_object_element(list, i);
        JsonObject *st = json_object_get_object_member(bs, "stats");

        monitor_printf(
            mon,
            "%s: rd_bytes=%" PRId64 " wr_bytes=%" PRId64 " rd_operations=%" PRId64
            " wr_operations=%" PRId64 " flush_operations=%" PRId64 " wr_total_time_ns=%" PRId64
            " rd_total_time_ns=%" PRId64 " flush_total_time_ns=%" PRId64 "\n",
            json_object_get_string_member(bs, "device"), json_object_get_int_member(st, "rd_bytes"),
            json_object_get_int_member(st, "wr_bytes"),
            json_object_get_int_member(st, "rd_operations"),
            json_object_get_int_member(st, "wr_operations"),
            json_object_get_int_member(st, "flush_operations"),
            json_object_get_int_member(st, "wr_total_time_ns"),
            json_object_get_int_member(st, "rd_total_time_ns"),
            json_object_get_int_member(st, "flush_total_time_ns"));
    }
}
