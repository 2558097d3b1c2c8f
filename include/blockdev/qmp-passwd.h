/*
 * Keys of encrypted drives from the monitor's side (blockdev/qmp-passwd.c): the rules QEMU
 * 2.2 keeps outside its block layer's cipher, shared by block_passwd, cont, change, -drive
 * and blockdev-add. The keys themselves are the block layer's (bdrv_set_key).
 */
#ifndef BLOCKDEV_QMP_PASSWD_H
#define BLOCKDEV_QMP_PASSWD_H

#include "block/block-backend.h"
#include "monitor/monitor.h"

/* The first drive (query-block order) whose medium still wants its key, or NULL. */
BlockBackend *blockdev_find_key_missing(void);
/* DeviceEncrypted "'DEV' (FILE) is encrypted" for blk's medium. */
void blockdev_error_encrypted(BlockBackend *blk, Error **errp);
/*
 * An image just opened that wants a key may only be opened while the guest is stopped
 * (prelaunch, paused, inmigrate): else "Guest must be stopped for opening of encrypted
 * image", and the caller closes it.
 */
bool blockdev_check_encrypted_open(BlockDriverState *bs, Error **errp);
/*
 * HMP: ask for the password of drive `device` if its medium wants one: "DEV (FILE) is
 * encrypted." and the "Password: " prompt. done (may be NULL) gets 0 once no key is missing
 * (at once when none was), -EPERM after "invalid password", or the prompt's error.
 */
typedef void BlockKeyDoneFn(void *opaque, int err);
void hmp_read_block_device_key(Monitor *mon, const char *device, BlockKeyDoneFn *done,
                               void *opaque);

#endif
