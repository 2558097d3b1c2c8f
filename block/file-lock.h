/*
 * Image locking for the file protocol, compatible with QEMU 2.10+'s (checked against 7.2):
 * see block/file-lock.c and docs/locking.md. Private to block/ and its unit test.
 */
#ifndef BLOCK_FILE_LOCK_H
#define BLOCK_FILE_LOCK_H

#include <stdbool.h>
#include <json-glib/json-glib.h>
#include "util/error.h"

/* QEMU's permission bits (BLK_PERM_*), in QEMU's order: bit i locks byte 100+i or 200+i. */
enum {
    FILE_PERM_CONSISTENT_READ = 1 << 0,
    FILE_PERM_WRITE = 1 << 1,
    FILE_PERM_WRITE_UNCHANGED = 1 << 2,
    FILE_PERM_RESIZE = 1 << 3,
    FILE_PERM_ALL = (1 << 4) - 1,
};
#define FILE_PERM_COUNT 4
#define FILE_LOCK_PERM_BASE 100   /* byte 100+i: someone holds permission i */
#define FILE_LOCK_SHARED_BASE 200 /* byte 200+i: someone does not share permission i */

/* What a user of an image holds and what it lets others hold (FILE_PERM_* masks). */
typedef struct FileLockPerms {
    unsigned held;
    unsigned shared;
} FileLockPerms;

typedef enum FileLockMode {
    FILE_LOCK_AUTO, /* lock where the file system has OFD locks */
    FILE_LOCK_ON,
    FILE_LOCK_OFF,
} FileLockMode;

/* The permissions of a file node opened with these BDRV_O_* flags. */
FileLockPerms file_lock_perms_for(int flags);
/* QEMU's name of permission bit i ("consistent read", "write", ...). */
const char *file_lock_perm_name(int bit);
/* The bytes a user with perms locks, ascending, into bytes[2 * FILE_PERM_COUNT]: the count. */
int file_lock_bytes(FileLockPerms perms, int *bytes);

/* The "locking" option of the file protocol (on, off, auto; default auto), removed. */
bool file_lock_take_mode(JsonObject *options, FileLockMode *mode, Error **errp);
/* Whether OFD locks work on fd (auto locks only then). */
bool file_lock_supported(int fd);

/*
 * One node's share of the locks on the image open as fd (fd must stay open until
 * file_lock_close). The nodes of one process on one
 * image share one set of locks, so they never conflict with each other; what they check is
 * other processes' locks. NULL with errp set (QEMU's texts and hint) when another process
 * holds a permission these perms do not share or does not share one they hold.
 */
typedef struct FileLock FileLock;
FileLock *file_lock_new(int fd, const char *filename, FileLockPerms perms, Error **errp);
/* Change the node's perms; on failure nothing changed. 0 or -errno. */
int file_lock_update(FileLock *lock, FileLockPerms perms, Error **errp);
/* Give up the node's share (lock may be NULL) and close its descriptor fd: the close waits
 * for the image's last user when fd is the one whose open file description holds the locks. */
void file_lock_close(FileLock *lock, int fd);

/*
 * Whether a new user of filename with perms would get its locks past this process's own
 * users of the image, judged as QEMU judges its nodes (each with its own locks): false with
 * QEMU's error and hint when not (true when the file is missing or unused here). The open
 * itself never asks this (see file_lock_new); what would write under or replace a user of
 * this process, such as a snapshot onto an existing image, asks first.
 */
bool file_lock_check_own(const char *filename, FileLockPerms perms, Error **errp);

/*
 * Open filename to create an image in it, as QEMU's file protocol does: created if missing,
 * locked as a writer that lets nobody else resize it (refused while another process, or a
 * node of this one, uses the image), then emptied. The descriptor, or -errno with errp set;
 * *lock (NULL where the file system has no OFD locks) goes with file_lock_close(*lock, fd).
 */
int file_lock_create_open(const char *filename, FileLock **lock, Error **errp);

#endif
