/*
 * minivmm-img check: qemu-img's "check [-f fmt] [--output=human|json] [-r leaks|all] [-q]
 * filename" for qcow2 images: per-cluster messages on stderr, the summary on stdout, and
 * qemu-img's exit codes (0 clean, 1 check errors, 2 corruptions, 3 leaks only, 63 format
 * without checks). With -r it reports, repairs, then double-checks as qemu-img does. The
 * checking itself is the format driver's (bdrv_check).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "block/image-ops.h"
#include "monitor/json-writer.h"
#include "util/error.h"
#include "tools/img/img.h"

static void report_stderr(const char *msg)
{
    fprintf(stderr, "%s\n", msg);
}

static void print_human(const BdrvCheckResult *r)
{
    if (!r->corruptions && !r->leaks && !r->check_errors) {
        printf("No errors were found on the image.\n");
    } else {
        if (r->corruptions) {
            printf("\n%d errors were found on the image.\n"
                   "Data may be corrupted, or further writes to the image may corrupt it.\n",
                   r->corruptions);
        }
        if (r->leaks) {
            printf("\n%d leaked clusters were found on the image.\n"
                   "This means waste of disk space, but no harm to data.\n", r->leaks);
        }
        if (r->check_errors) {
            printf("\n%d internal errors have occurred during the check.\n", r->check_errors);
        }
    }
    if (r->total_clusters && r->allocated_clusters) {
        printf("%" PRIu64 "/%" PRIu64 " = %0.2f%% allocated, %0.2f%% fragmented, %0.2f%% "
               "compressed clusters\n", r->allocated_clusters, r->total_clusters,
               r->allocated_clusters * 100.0 / r->total_clusters,
               r->fragmented_clusters * 100.0 / r->allocated_clusters,
               r->compressed_clusters * 100.0 / r->allocated_clusters);
    }
    if (r->image_end_offset) {
        printf("Image end offset: %" PRIu64 "\n", r->image_end_offset);
    }
}

/* Members in the order qemu-img prints them (its dictionary's hash order). */
static void print_json(const BdrvCheckResult *r, const char *filename, const char *fmt)
{
    const struct {
        const char *key;
        uint64_t v;
        bool always;
    } m[] = {
        {"image-end-offset", r->image_end_offset, false},
        {"compressed-clusters", r->compressed_clusters, false},
        {"total-clusters", r->total_clusters, false},
        {"corruptions", r->corruptions, false},
        {"corruptions-fixed", r->corruptions_fixed, false},
        {"check-errors", r->check_errors, true},
        {"leaks", r->leaks, false},
        {"leaks-fixed", r->leaks_fixed, false},
        {"allocated-clusters", r->allocated_clusters, false},
    };
    /* QEMU's string escaping (\uXXXX): g_strescape's octal escapes are not JSON */
    g_autoptr(JsonNode) node = json_node_init_string(json_node_alloc(), filename);
    g_autofree char *name = json_to_qmp_string(node, false);

    printf("{\n");
    for (size_t i = 0; i < G_N_ELEMENTS(m); i++) {
        if (m[i].v || m[i].always) {
            printf("    \"%s\": %" PRIu64 ",\n", m[i].key, m[i].v);
        }
    }
    printf("    \"filename\": %s,\n    \"format\": \"%s\"", name, fmt);
    if (r->fragmented_clusters) {
        printf(",\n    \"fragmented-clusters\": %" PRIu64, r->fragmented_clusters);
    }
    printf("\n}\n");
}

static int exit_code(const BdrvCheckResult *r)
{
    return r->check_errors ? 1 : r->corruptions ? 2 : r->leaks ? 3 : 0;
}

static int run_check(BlockDriverState *bs, int fix, bool json, bool quiet, const char *name)
{
    /* The driver's per-cluster lines go to stderr even with -q, as qemu-img's do. */
    void (*report)(const char *) = report_stderr;
    BdrvCheckResult r, fixed;
    int ret = bdrv_check(bs, &r, 0, report);

    if (ret == -ENOTSUP) {
        error_report("This image format does not support checks");
        return 63;
    }
    if (ret >= 0 && fix) {
        ret = bdrv_check(bs, &fixed, fix, report);
        if (ret >= 0 && (fixed.leaks_fixed || fixed.corruptions_fixed)) {
            if (!json && !quiet) {
                printf("The following inconsistencies were found and repaired:\n\n"
                       "    %d leaked clusters\n    %d corruptions\n\n"
                       "Double checking the fixed image now...\n",
                       fixed.leaks_fixed, fixed.corruptions_fixed);
            }
            ret = bdrv_check(bs, &r, 0, report);
            r.leaks_fixed = fixed.leaks_fixed;
            r.corruptions_fixed = fixed.corruptions_fixed;
        }
    }
    if (ret < 0) {
        error_report("Check failed: %s", g_strerror(-ret));
        return 1;
    }
    if (json) {
        print_json(&r, name, bdrv_get_format_name(bs));
    } else if (!quiet) {
        print_human(&r);
    }
    return exit_code(&r);
}

int img_check(int argc, char **argv)
{
    static const struct option lopt[] = {
        {"help", no_argument, NULL, 'h'},
        {"format", required_argument, NULL, 'f'},
        {"repair", required_argument, NULL, 'r'},
        {"output", required_argument, NULL, 'O'},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    const char *fmt = NULL, *output = "human";
    bool json;
    bool quiet = false;
    int fix = 0, flags = 0, c, ret;
    BlockBackend *blk;

    while ((c = img_getopt(argc, argv, ":hf:r:qU", lopt)) != -1) {
        switch (c) {
        case 'h':
            img_help();
        case 'f':
            fmt = optarg;
            break;
        case 'r':
            if (!strcmp(optarg, "leaks")) {
                fix = BDRV_FIX_LEAKS;
            } else if (!strcmp(optarg, "all")) {
                fix = BDRV_FIX_LEAKS | BDRV_FIX_ERRORS;
            } else {
                img_error_exit("Unknown option value for -r (expecting 'leaks' or 'all'): %s",
                               optarg);
            }
            break;
        case 'q':
            quiet = true;
            break;
        case 'O':
            output = optarg;
            break;
        case 'U':
            flags |= BDRV_O_FORCE_SHARE;
            break;
        }
    }
    if (!img_parse_output(output, &json)) {
        return 1;
    }
    if (optind != argc - 1) {
        img_error_exit("Expecting one image file name");
    }
    /* With its backing chain, as qemu-img: a missing backing file fails the check. */
    blk = img_open(argv[optind], fmt, flags | BDRV_O_CHECK | (fix ? BDRV_O_RDWR : 0), false,
                   quiet);
    if (!blk) {
        return 1;
    }
    ret = run_check(blk_bs(blk), fix, json, quiet, argv[optind]);
    blk_unref(blk);
    return ret;
}
