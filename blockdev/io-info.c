/*
 * minivmm-io's views of the image: `info` (format name, cluster size, VM state offset) and
 * `map` (runs of allocated and unallocated bytes, as qemu-io 7.2 prints them). map asks the
 * root node's bdrv_block_status: "allocated" means this image itself provides the bytes, as
 * opposed to a backing file or nothing at all.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "blockdev/io-cmds.h"

static int io_info_f(BlockBackend *blk, int argc, char **argv)
{
    BlockDriverState *bs = blk_bs(blk);
    char s1[64], s2[64];

    printf("format name: %s\n", bdrv_get_format_name(bs));
    /*
     * The block layer has no per-format info query yet; every driver so far (raw, file)
     * has no clusters and no VM state, which QEMU reports as zeroes.
     */
    io_cvtstr(0, s1, sizeof(s1));
    io_cvtstr(0, s2, sizeof(s2));
    printf("cluster size: %s\n", s1);
    printf("vm state offset: %s\n", s2);
    return 0;
}

const IoCmd io_info_cmd = {
    .name = "info",
    .altname = "i",
    .func = io_info_f,
    .oneline = "prints information about the current file",
};

/* 1 if [offset, offset + *pnum) is allocated, 0 if not, or -errno; pnum 0 at the end. */
static int io_is_allocated(BlockDriverState *bs, int64_t offset, int64_t bytes, int64_t *pnum)
{
    uint64_t num = 0;
    int ret = bdrv_block_status(bs, offset, bytes, &num);

    *pnum = num;
    return ret < 0 ? ret : !!(ret & BDRV_BLOCK_ALLOCATED);
}

/* The longest run from offset with one allocation status. */
static int io_map_run(BlockDriverState *bs, int64_t offset, int64_t bytes, int64_t *pnum)
{
    int64_t num;
    int first = io_is_allocated(bs, offset, bytes, &num);
    int ret = first;

    *pnum = num;
    while (first >= 0 && num && bytes > num) {
        offset += num;
        bytes -= num;
        ret = io_is_allocated(bs, offset, bytes, &num);
        if (ret != first || !num) {
            break;
        }
        *pnum += num;
    }
    return first;
}

static int io_map_f(BlockBackend *blk, int argc, char **argv)
{
    int64_t offset = 0, bytes = blk_getlength(blk), num;
    char s1[64], s2[64];
    int ret;

    if (bytes < 0) {
        printf("Failed to query image length: %s\n", strerror(-bytes));
        return bytes;
    }
    while (bytes) {
        ret = io_map_run(blk_bs(blk), offset, bytes, &num);
        if (ret < 0) {
            printf("Failed to get allocation status: %s\n", strerror(-ret));
            return ret;
        } else if (!num) {
            printf("Unexpected end of image\n");
            return -EIO;
        }
        io_cvtstr(num, s1, sizeof(s1));
        io_cvtstr(offset, s2, sizeof(s2));
        printf("%s (0x%" PRIx64 ") bytes %s at offset %s (0x%" PRIx64 ")\n", s1, num,
               ret ? "    allocated" : "not allocated", s2, offset);
        offset += num;
        bytes -= num;
    }
    return 0;
}

const IoCmd io_map_cmd = {
    .name = "map",
    .func = io_map_f,
    .argmin = 0,
    .argmax = 0,
    .args = "",
    .oneline = "prints the allocated areas of a file",
};
