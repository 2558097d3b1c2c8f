/*
 * minivmm-img map: qemu-img 7.2's "map [-f fmt] [--output=human|json] [--start-offset=OFFSET]
 * [--max-length=LEN] filename". The image is walked with the block status of each layer of
 * its backing chain (the first layer that holds data or zeroes decides, its depth is the
 * entry's depth); neighbouring runs with the same status and contiguous host offsets merge
 * into one entry. JSON prints every entry as qemu-img does; the human format lists only
 * data mapped to a file, and refuses images with data that has no host offset (compressed
 * clusters) with qemu-img's error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "util/error.h"
#include "tools/img/img.h"

enum { OPTION_START_OFFSET = 256, OPTION_MAX_LENGTH };

typedef struct MapEntry {
    uint64_t start, length, offset;
    int depth;
    bool present, zero, data, has_offset;
    const char *filename; /* the file holding the data when has_offset */
} MapEntry;

static int map_get_entry(BlockDriverState *bs, uint64_t offset, uint64_t bytes, MapEntry *e)
{
    BlockDriverState *file = NULL;
    uint64_t pnum, map;
    int depth;
    int ret = bdrv_block_status_chain(bs, offset, bytes, &pnum, &depth, &map, &file);

    if (ret < 0) {
        return ret;
    }
    *e = (MapEntry){
        .start = offset,
        .length = pnum,
        .offset = map,
        .depth = depth,
        .present = ret & BDRV_BLOCK_ALLOCATED,
        .zero = ret & BDRV_BLOCK_ZERO,
        .data = ret & BDRV_BLOCK_DATA,
        .has_offset = ret & BDRV_BLOCK_OFFSET_VALID,
        .filename = (ret & BDRV_BLOCK_OFFSET_VALID) && file ? bdrv_get_filename(file) : NULL,
    };
    return 0;
}

static bool map_mergeable(const MapEntry *curr, const MapEntry *next)
{
    if (!curr->length || curr->zero != next->zero || curr->data != next->data ||
        curr->depth != next->depth || curr->present != next->present ||
        curr->has_offset != next->has_offset || !curr->filename != !next->filename) {
        return false;
    }
    if (curr->filename && strcmp(curr->filename, next->filename) != 0) {
        return false;
    }
    return !curr->has_offset || curr->offset + curr->length == next->offset;
}

/* One entry; next (NULL for the last) is adjusted as qemu-img's human format does. */
static int map_dump(const MapEntry *e, MapEntry *next, bool json)
{
    if (json) {
        printf("{ \"start\": %" PRIu64 ", \"length\": %" PRIu64 ", \"depth\": %d, "
               "\"present\": %s, \"zero\": %s, \"data\": %s",
               e->start, e->length, e->depth, e->present ? "true" : "false",
               e->zero ? "true" : "false", e->data ? "true" : "false");
        if (e->has_offset) {
            printf(", \"offset\": %" PRIu64, e->offset);
        }
        putchar('}');
        if (next) {
            puts(",");
        }
        return 0;
    }
    if (e->data && !e->has_offset) {
        error_report("File contains external, encrypted or compressed clusters.");
        return -1;
    }
    if (e->data && !e->zero) {
        printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n", e->start, e->length,
               e->has_offset ? e->offset : 0, e->filename ? e->filename : "");
    }
    /* The human format does not tell zero from unallocated: let those merge. */
    if (next && (!next->data || next->zero) && (!e->data || e->zero)) {
        next->data = false;
        next->zero = true;
    }
    return 0;
}

static int map_walk(BlockDriverState *bs, uint64_t start, uint64_t end, bool json)
{
    MapEntry curr = {0}, next;
    uint64_t offset = start;
    int ret;

    while (offset < end) {
        ret = map_get_entry(bs, offset, MIN(1ULL << 30, end - offset), &next);
        if (ret < 0) {
            error_report("Could not read file metadata: %s", strerror(-ret));
            return ret;
        }
        if (map_mergeable(&curr, &next)) {
            curr.length += next.length;
        } else {
            if (curr.length && map_dump(&curr, &next, json) < 0) {
                return -1;
            }
            curr = next;
        }
        offset += next.length;
    }
    return curr.length ? map_dump(&curr, NULL, json) : 0;
}

static void map_parse(int argc, char **argv, const char **fmt, bool *json, int64_t *start,
                      int64_t *max_len, int *flags)
{
    static const struct option lopt[] = {
        {"help", no_argument, NULL, 'h'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"start-offset", required_argument, NULL, OPTION_START_OFFSET},
        {"max-length", required_argument, NULL, OPTION_MAX_LENGTH},
        {"force-share", no_argument, NULL, 'U'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = img_getopt(argc, argv, ":hf:U", lopt)) != -1) {
        switch (c) {
        case 'h':
            img_help();
        case 'f':
            *fmt = optarg;
            break;
        case 'U':
            *flags |= BDRV_O_FORCE_SHARE;
            break;
        case 'o':
            if (!img_parse_output(optarg, json)) {
                exit(1);
            }
            break;
        case OPTION_START_OFFSET:
        case OPTION_MAX_LENGTH:
            *(c == OPTION_START_OFFSET ? start : max_len) =
                img_cvtnum_full(c == OPTION_START_OFFSET ? "start offset" : "max length",
                                optarg, 0, INT64_MAX);
            if (*start < 0 || *max_len < 0) {
                exit(1);
            }
            break;
        }
    }
    if (optind != argc - 1) {
        img_error_exit("Expecting one image file name");
    }
}

int img_map(int argc, char **argv)
{
    const char *fmt = NULL;
    bool json = false;
    int64_t start = 0, max_len = INT64_MAX, len;
    BlockBackend *blk;
    int flags = 0, ret;

    map_parse(argc, argv, &fmt, &json, &start, &max_len, &flags);
    blk = img_open(argv[optind], fmt, flags, false, false);
    if (!blk) {
        return 1;
    }
    len = blk_getlength(blk);
    if (len < 0) {
        error_report("Failed to get size for '%s'", argv[optind]);
        blk_unref(blk);
        return 1;
    }
    if (json) {
        printf("[");
    } else {
        printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
    }
    start = MIN(start, len);
    ret = map_walk(blk_bs(blk), start, start + MIN(max_len, len - start), json);
    if (json) {
        printf("]\n");
    }
    blk_unref(blk);
    return ret < 0 ? 1 : 0;
}
