/*
 * minivmm-img snapshot: qemu-img's "snapshot [-l | -a snapshot | -c snapshot | -d snapshot]
 * [-q] [-f fmt] filename" for internal snapshots (disk state only), with its list layout
 * and error texts. Also prints the snapshot list for `info`. The work is the format
 * driver's (bdrv_snapshot_*). As qemu-img, it opens the image with its backing chain,
 * which it never reads: a chain that does not open (missing, or locked by a writer) fails.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "block/image-ops.h"
#include "util/error.h"
#include "tools/img/img.h"

enum { SNAPSHOT_LIST = 1, SNAPSHOT_CREATE, SNAPSHOT_APPLY, SNAPSHOT_DELETE };

JsonObject *img_snapshot_json(const BlockSnapshotInfo *sn)
{
    JsonObject *o = json_object_new();

    if (sn->icount != UINT64_MAX) {
        json_object_set_int_member(o, "icount", sn->icount);
    }
    json_object_set_int_member(o, "vm-clock-nsec", sn->vm_clock_nsec % 1000000000);
    json_object_set_string_member(o, "name", sn->name);
    json_object_set_int_member(o, "date-sec", sn->date_sec);
    json_object_set_int_member(o, "date-nsec", sn->date_nsec);
    json_object_set_int_member(o, "vm-clock-sec", sn->vm_clock_nsec / 1000000000);
    json_object_set_string_member(o, "id", sn->id);
    json_object_set_int_member(o, "vm-state-size", sn->vm_state_size);
    return o;
}

void img_snapshot_dump(JsonObject *o)
{
    char date[128], clock[128], icount[32] = "";
    g_autofree char *size = NULL;
    int64_t secs;
    struct tm tm;
    time_t t;

    if (!o) {
        printf("%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK",
               "ICOUNT");
        return;
    }
    t = json_object_get_int_member(o, "date-sec");
    secs = json_object_get_int_member(o, "vm-clock-sec");
    size = img_size_to_str(json_object_get_int_member(o, "vm-state-size"));
    localtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(clock, sizeof(clock), "%02d:%02d:%02d.%03d", (int)(secs / 3600),
             (int)(secs / 60 % 60), (int)(secs % 60),
             (int)(json_object_get_int_member(o, "vm-clock-nsec") / 1000000));
    if (json_object_has_member(o, "icount")) {
        snprintf(icount, sizeof(icount), "%" PRId64, json_object_get_int_member(o, "icount"));
    }
    printf("%-9s %-16s %8s%20s%13s%11s\n", json_object_get_string_member(o, "id"),
           json_object_get_string_member(o, "name"), size, date, clock, icount);
}

static int list_snapshots(BlockDriverState *bs)
{
    BlockSnapshotInfo *list;
    int n = bdrv_snapshot_list(bs, &list);

    if (n < 0) {
        error_report("Could not list snapshots: %s", g_strerror(-n));
        return 1;
    }
    if (n) {
        printf("Snapshot list:\n");
        img_snapshot_dump(NULL);
    }
    for (int i = 0; i < n; i++) {
        JsonObject *o = img_snapshot_json(&list[i]);
        img_snapshot_dump(o);
        json_object_unref(o);
    }
    bdrv_snapshot_list_free(list, n);
    return 0;
}

static int do_action(BlockDriverState *bs, int action, const char *name)
{
    Error *err = NULL;
    const char *what = action == SNAPSHOT_CREATE ? "create" :
                       action == SNAPSHOT_APPLY ? "apply" : "delete";
    int ret;

    if (action == SNAPSHOT_LIST) {
        return list_snapshots(bs);
    }
    ret = action == SNAPSHOT_CREATE ? bdrv_snapshot_create(bs, name, &err) :
          action == SNAPSHOT_APPLY ? bdrv_snapshot_goto(bs, name, &err) :
                                     bdrv_snapshot_delete(bs, name, &err);
    if (ret < 0 && action == SNAPSHOT_CREATE) {
        /* qemu-img words a failed create by its errno alone */
        error_report("Could not create snapshot '%s': %d (%s)", name, ret, g_strerror(-ret));
        error_free(err);
    } else if (ret < 0) {
        error_reportf_err(err, "Could not %s snapshot '%s': ", what, name);
    }
    return ret < 0 ? 1 : 0;
}

/* A format without internal snapshots: an empty list, and each action's qemu-img error. */
static int no_snapshots(int action, const char *name)
{
    if (action == SNAPSHOT_CREATE) {
        error_report("Could not create snapshot '%s': %d (%s)", name, -ENOTSUP,
                     g_strerror(ENOTSUP));
    } else if (action == SNAPSHOT_APPLY) {
        error_report("Could not apply snapshot '%s': Block driver does not support snapshots",
                     name);
    } else if (action == SNAPSHOT_DELETE) {
        error_report("Could not delete snapshot '%s': snapshot not found", name);
    }
    return action == SNAPSHOT_LIST ? 0 : 1;
}

static void set_action(int *action, int a)
{
    if (*action) {
        img_error_exit("Cannot mix '-l', '-a', '-c', '-d'");
    }
    *action = a;
}

int img_snapshot(int argc, char **argv)
{
    static const struct option lopt[] = {
        {"help", no_argument, NULL, 'h'},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL, *name = NULL;
    int action = 0, c, ret;
    BlockBackend *blk;
    bool quiet = false;
    int flags = 0;

    while ((c = img_getopt(argc, argv, ":la:c:d:f:hqU", lopt)) != -1) {
        switch (c) {
        case 'h':
            img_help();
        case 'l':
            set_action(&action, SNAPSHOT_LIST);
            break;
        case 'a':
        case 'c':
        case 'd':
            set_action(&action, c == 'a' ? SNAPSHOT_APPLY : c == 'c' ? SNAPSHOT_CREATE :
                                                                       SNAPSHOT_DELETE);
            name = optarg;
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'U':
            flags |= BDRV_O_FORCE_SHARE;
            break;
        }
    }
    if (optind != argc - 1) {
        img_error_exit("Expecting one image file name");
    }
    /* Without an action qemu-img opens the image read-write and does nothing. */
    blk = img_open(argv[optind], fmt, flags | (action == SNAPSHOT_LIST ? 0 : BDRV_O_RDWR),
                   false, quiet);
    if (!blk) {
        return 1;
    }
    if (!action) {
        ret = 0;
    } else if (!bdrv_can_snapshot(blk_bs(blk))) {
        ret = no_snapshots(action, name);
    } else {
        ret = do_action(blk_bs(blk), action, name);
    }
    blk_unref(blk);
    return ret;
}
