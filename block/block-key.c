/*
 * Encryption keys of nodes (include/block/block.h): which node of a drive still wants its
 * key, and handing a password to the node and its backing node, as QEMU 2.2's block layer
 * does for qcow2's AES images. The cipher itself is the driver's (block/qcow2-crypt.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "block/block_int.h"
#include "block/block-backend.h"
#include "util/password.h"

static bool node_wants_key(const BlockDriverState *bs)
{
    return bs && bs->encrypted && !bs->valid_key;
}

bool bdrv_is_encrypted(const BlockDriverState *bs)
{
    return bs->encrypted || (bs->backing && bs->backing->encrypted);
}

bool bdrv_key_required(const BlockDriverState *bs)
{
    return node_wants_key(bs->backing) || node_wants_key(bs);
}

const char *bdrv_get_encrypted_filename(const BlockDriverState *bs)
{
    if (bs->backing && bs->backing->encrypted) {
        return bs->backing_file;
    }
    return bs->encrypted ? bs->filename : NULL;
}

static int node_set_key(BlockDriverState *bs, const char *key)
{
    int ret;

    if (!bs->drv || !bs->drv->set_key) {
        return -ENOMEDIUM;
    }
    ret = bs->drv->set_key(bs, key);
    bs->valid_key = ret >= 0;
    return ret;
}

static int set_keys(BlockDriverState *bs, const char *key)
{
    int ret;

    if (bs->backing && bs->backing->encrypted) {
        ret = node_set_key(bs->backing, key);
        if (ret < 0 || !bs->encrypted) {
            return ret;
        }
    }
    if (!bs->encrypted) {
        return -EINVAL;
    }
    return node_set_key(bs, key);
}

/* As 2.2: a drive's medium opened without its key was kept from the drive's device; the
 * last key it wanted tells the device of it, as a change of medium does. */
int bdrv_set_key(BlockDriverState *bs, const char *key)
{
    bool missing = bdrv_key_required(bs);
    int ret = set_keys(bs, key);

    if (ret >= 0 && missing && bs->blk && !bdrv_key_required(bs)) {
        blk_dev_change_media_cb(bs->blk, true);
    }
    return ret;
}

bool bdrv_prompt_key(BlockDriverState *bs, const char *filename, bool quiet)
{
    char password[256];
    bool ok = false;

    if (!bdrv_key_required(bs)) {
        return true;
    }
    if (!quiet) {
        printf("Disk image '%s' is encrypted.\n", filename);
    }
    if (read_password(password, sizeof(password)) < 0) {
        error_report("No password given");
    } else if (bdrv_set_key(bs, password) < 0) {
        error_report("invalid password");
    } else {
        ok = true;
    }
    explicit_bzero(password, sizeof(password));
    return ok;
}
