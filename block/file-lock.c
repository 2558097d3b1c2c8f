/*
 * Image locking that QEMU 2.10+ and minivmm see in each other: open file description (OFD)
 * read locks of one byte each, byte 100+i while a process holds permission i on the image
 * and byte 200+i while it does not share permission i. Before taking a permission, a user
 * checks that nobody else locked 200+i; before refusing to share one, that nobody else
 * locked 100+i. The nodes of this process on one image share one open file description
 * (the first one's, kept open until the last goes) and so one set of locks: they never lock
 * each other out (minivmm's jobs open a second, writable node where QEMU reopens one). Not
 * the decision of when to lock (file-posix.c) and not a general permission graph.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>
#include "block/block.h"
#include "block/file-lock.h"
#include "util/qdict.h"

/* The locks of this process on one image (device, inode). */
typedef struct FileLockInode {
    dev_t dev;
    ino_t ino;
    int fd;             /* the first user's descriptor: the locks belong to its open file
                         * description; adopted (kept open) if that user goes first */
    FileLockPerms applied; /* locked: held -> 100+i, ~shared -> 200+i */
    GSList *users;      /* FileLock */
} FileLockInode;

struct FileLock {
    FileLockInode *inode;
    FileLockPerms perms;
    char *filename;     /* for the hint */
};

static GMutex file_lock_mutex;
static GSList *file_lock_inodes;

/* ---- What a node holds and shares ---- */

/*
 * As QEMU 7.2 for a qcow2 image's file (a disk, a backing file, qemu-img): a reader needs
 * consistent reads and a writer also writes and resizes; neither lets anybody else write
 * or resize under it. force-share (read-only only) holds and refuses nothing.
 */
FileLockPerms file_lock_perms_for(int flags)
{
    FileLockPerms p = {
        .held = FILE_PERM_CONSISTENT_READ,
        .shared = FILE_PERM_ALL & ~(FILE_PERM_WRITE | FILE_PERM_RESIZE),
    };

    if (flags & BDRV_O_FORCE_SHARE) {
        return (FileLockPerms){.held = 0, .shared = FILE_PERM_ALL};
    }
    if (flags & BDRV_O_RDWR) {
        p.held |= FILE_PERM_WRITE | FILE_PERM_RESIZE;
    }
    return p;
}

const char *file_lock_perm_name(int bit)
{
    static const char *const names[FILE_PERM_COUNT] = {
        "consistent read", "write", "write unchanged", "resize",
    };

    return bit >= 0 && bit < FILE_PERM_COUNT ? names[bit] : "unknown";
}

int file_lock_bytes(FileLockPerms perms, int *bytes)
{
    int n = 0;

    for (int i = 0; i < FILE_PERM_COUNT; i++) {
        if (perms.held & (1u << i)) {
            bytes[n++] = FILE_LOCK_PERM_BASE + i;
        }
    }
    for (int i = 0; i < FILE_PERM_COUNT; i++) {
        if (!(perms.shared & (1u << i))) {
            bytes[n++] = FILE_LOCK_SHARED_BASE + i;
        }
    }
    return n;
}

bool file_lock_take_mode(JsonObject *options, FileLockMode *mode, Error **errp)
{
    static const char *const names[] = {"auto", "on", "off", NULL};
    int i = dict_get_enum(options, "locking", names, FILE_LOCK_AUTO, errp);

    *mode = FILE_LOCK_AUTO;
    if (i < 0) {
        return false;
    }
    *mode = i;
    dict_del(options, "locking");
    return true;
}

/* ---- Bytes ---- */

static int file_lock_fcntl(int fd, int cmd, struct flock *fl)
{
    int ret;

    do {
        ret = fcntl(fd, cmd, fl);
    } while (ret < 0 && errno == EINTR);
    return ret < 0 ? -errno : 0;
}

/* Read-lock (or unlock) one byte. */
static int file_lock_byte(int fd, int byte, bool lock)
{
    struct flock fl = {
        .l_whence = SEEK_SET,
        .l_start = byte,
        .l_len = 1,
        .l_type = lock ? F_RDLCK : F_UNLCK,
    };

    return file_lock_fcntl(fd, F_OFD_SETLK, &fl);
}

/* 0 when no other open file description locks the byte, -EAGAIN when one does. */
static int file_lock_test(int fd, int byte)
{
    struct flock fl = {
        .l_whence = SEEK_SET,
        .l_start = byte,
        .l_len = 1,
        .l_type = F_WRLCK,
    };
    int ret = file_lock_fcntl(fd, F_OFD_GETLK, &fl);

    if (ret < 0) {
        return ret;
    }
    return fl.l_type == F_UNLCK ? 0 : -EAGAIN;
}

bool file_lock_supported(int fd)
{
    int ret = file_lock_test(fd, FILE_LOCK_PERM_BASE);

    return ret == 0 || ret == -EAGAIN;
}

/* Lock exactly the bytes of `want`, from what n->applied records; the byte that failed. */
static int file_lock_sync(FileLockInode *n, FileLockPerms want, int *failed)
{
    for (int i = 0; i < FILE_PERM_COUNT; i++) {
        unsigned bit = 1u << i;
        int ret;

        if ((want.held ^ n->applied.held) & bit) {
            *failed = FILE_LOCK_PERM_BASE + i;
            ret = file_lock_byte(n->fd, *failed, want.held & bit);
            if (ret < 0) {
                return ret;
            }
            n->applied.held ^= bit;
        }
        if ((want.shared ^ n->applied.shared) & bit) {
            *failed = FILE_LOCK_SHARED_BASE + i;
            ret = file_lock_byte(n->fd, *failed, !(want.shared & bit));
            if (ret < 0) {
                return ret;
            }
            n->applied.shared ^= bit;
        }
    }
    return 0;
}

/* QEMU's texts: Failed to get "write" lock, Failed to get shared "write" lock. */
static void file_lock_error(int err, bool shared, int bit, const char *filename, Error **errp)
{
    const char *kind = shared ? "shared " : "";

    if (err != -EAGAIN) {
        error_setg_errno(errp, -err, "Failed to get %s\"%s\" lock", kind,
                         file_lock_perm_name(bit));
        return;
    }
    error_setg(errp, "Failed to get %s\"%s\" lock", kind, file_lock_perm_name(bit));
    error_append_hint(errp, "Is another process using the image [%s]?\n", filename);
}

/* Whether another process's locks allow perms: as QEMU, held ones first. */
static int file_lock_check(int fd, FileLockPerms perms, const char *filename, Error **errp)
{
    int ret;

    for (int i = 0; i < FILE_PERM_COUNT; i++) {
        if ((perms.held & (1u << i)) &&
            (ret = file_lock_test(fd, FILE_LOCK_SHARED_BASE + i)) < 0) {
            file_lock_error(ret, false, i, filename, errp);
            return ret;
        }
    }
    for (int i = 0; i < FILE_PERM_COUNT; i++) {
        if (!(perms.shared & (1u << i)) &&
            (ret = file_lock_test(fd, FILE_LOCK_PERM_BASE + i)) < 0) {
            file_lock_error(ret, true, i, filename, errp);
            return ret;
        }
    }
    return 0;
}

/* ---- The per-image registry ---- */

static FileLockPerms file_lock_union(FileLockInode *n)
{
    FileLockPerms u = {.held = 0, .shared = FILE_PERM_ALL};

    for (GSList *l = n->users; l; l = l->next) {
        FileLock *lock = l->data;

        u.held |= lock->perms.held;
        u.shared &= lock->perms.shared;
    }
    return u;
}

/*
 * Bring n's locks to what its users need after `lock` changed to lock->perms: take the new
 * bytes, check lock->perms against the other processes, then drop the bytes nobody needs
 * (taking before checking closes the window in which two processes both pass the check).
 * On failure the locks are as before and the caller restores lock->perms.
 */
static int file_lock_refresh(FileLockInode *n, FileLock *lock, Error **errp)
{
    FileLockPerms old = n->applied, want = file_lock_union(n);
    FileLockPerms both = {.held = old.held | want.held, .shared = old.shared & want.shared};
    int failed = 0, ret = file_lock_sync(n, both, &failed);

    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to lock byte %d", failed);
    } else if (lock) {
        ret = file_lock_check(n->fd, lock->perms, lock->filename, errp);
    }
    if (ret < 0) {
        file_lock_sync(n, old, &failed);
        return ret;
    }
    file_lock_sync(n, want, &failed); /* only unlocks, which cannot conflict */
    return 0;
}

static FileLockInode *file_lock_inode_find(const struct stat *st)
{
    for (GSList *l = file_lock_inodes; l; l = l->next) {
        FileLockInode *n = l->data;

        if (n->dev == st->st_dev && n->ino == st->st_ino) {
            return n;
        }
    }
    return NULL;
}

static FileLockInode *file_lock_inode_get(int fd, Error **errp)
{
    FileLockInode *n;
    struct stat st;

    if (fstat(fd, &st) < 0) {
        error_setg_errno(errp, errno, "Could not stat file");
        return NULL;
    }
    n = file_lock_inode_find(&st);
    if (n) {
        return n;
    }
    n = g_new0(FileLockInode, 1);
    n->fd = fd;
    n->dev = st.st_dev;
    n->ino = st.st_ino;
    n->applied.shared = FILE_PERM_ALL;
    file_lock_inodes = g_slist_prepend(file_lock_inodes, n);
    return n;
}

/* Forget n once it has no users (its locks are gone by then). */
static void file_lock_inode_put(FileLockInode *n)
{
    if (!n->users) {
        file_lock_inodes = g_slist_remove(file_lock_inodes, n);
        g_free(n);
    }
}

FileLock *file_lock_new(int fd, const char *filename, FileLockPerms perms, Error **errp)
{
    FileLock *lock = NULL;
    FileLockInode *n;

    g_mutex_lock(&file_lock_mutex);
    n = file_lock_inode_get(fd, errp);
    if (n) {
        lock = g_new0(FileLock, 1);
        lock->inode = n;
        lock->perms = perms;
        lock->filename = g_strdup(filename);
        n->users = g_slist_prepend(n->users, lock);
        if (file_lock_refresh(n, lock, errp) < 0) {
            n->users = g_slist_remove(n->users, lock);
            g_free(lock->filename);
            g_free(lock);
            lock = NULL;
            file_lock_inode_put(n);
        }
    }
    g_mutex_unlock(&file_lock_mutex);
    return lock;
}

int file_lock_update(FileLock *lock, FileLockPerms perms, Error **errp)
{
    FileLockPerms old = lock->perms;
    int ret;

    g_mutex_lock(&file_lock_mutex);
    lock->perms = perms;
    ret = file_lock_refresh(lock->inode, lock, errp);
    if (ret < 0) {
        lock->perms = old;
    }
    g_mutex_unlock(&file_lock_mutex);
    return ret;
}

void file_lock_close(FileLock *lock, int fd)
{
    FileLockInode *n;

    if (!lock) {
        close(fd);
        return;
    }
    g_mutex_lock(&file_lock_mutex);
    n = lock->inode;
    n->users = g_slist_remove(n->users, lock);
    file_lock_refresh(n, NULL, NULL);
    /* The locks' descriptor stays open, adopted, while other users need it. */
    if (fd != n->fd) {
        close(fd);
    }
    if (!n->users) {
        close(n->fd); /* fd itself, or one adopted from a user that went before */
    }
    file_lock_inode_put(n);
    g_mutex_unlock(&file_lock_mutex);
    g_free(lock->filename);
    g_free(lock);
}

/* ---- Creating an image ---- */

/*
 * The conflicts of perms with this process's own users of n, in QEMU's words: QEMU's nodes
 * each have their own open file description, so its create checks them like any other.
 */
static bool file_lock_check_local(FileLockInode *n, FileLockPerms perms, const char *filename,
                                  Error **errp)
{
    FileLockPerms u = file_lock_union(n);

    for (int i = 0; i < FILE_PERM_COUNT; i++) {
        if (perms.held & ~u.shared & (1u << i)) {
            file_lock_error(-EAGAIN, false, i, filename, errp);
            return false;
        }
    }
    for (int i = 0; i < FILE_PERM_COUNT; i++) {
        if (u.held & ~perms.shared & (1u << i)) {
            file_lock_error(-EAGAIN, true, i, filename, errp);
            return false;
        }
    }
    return true;
}

bool file_lock_check_own(const char *filename, FileLockPerms perms, Error **errp)
{
    FileLockInode *n;
    struct stat st;
    bool ok = true;

    if (stat(filename, &st) < 0) {
        return true; /* opening or creating it says why */
    }
    g_mutex_lock(&file_lock_mutex);
    n = file_lock_inode_find(&st);
    if (n) {
        ok = file_lock_check_local(n, perms, filename, errp);
    }
    g_mutex_unlock(&file_lock_mutex);
    return ok;
}

/* As QEMU's file create: a writer that may resize and lets nobody else resize. */
static FileLock *file_lock_new_create(int fd, const char *filename, Error **errp)
{
    FileLockPerms perms = {
        .held = FILE_PERM_WRITE | FILE_PERM_RESIZE,
        .shared = FILE_PERM_ALL & ~FILE_PERM_RESIZE,
    };
    FileLock *lock = NULL;
    FileLockInode *n;
    bool ok;

    g_mutex_lock(&file_lock_mutex);
    n = file_lock_inode_get(fd, errp);
    ok = n && file_lock_check_local(n, perms, filename, errp);
    if (n && !n->users) {
        file_lock_inode_put(n);
    }
    g_mutex_unlock(&file_lock_mutex);
    if (ok) {
        lock = file_lock_new(fd, filename, perms, errp);
    }
    return lock;
}

int file_lock_create_open(const char *filename, FileLock **lock, Error **errp)
{
    int fd = open(filename, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    int err;

    *lock = NULL;
    if (fd < 0) {
        err = errno;
        error_setg_errno(errp, err, "Could not create '%s'", filename);
        return -err;
    }
    if (file_lock_supported(fd)) {
        *lock = file_lock_new_create(fd, filename, errp);
        if (!*lock) {
            close(fd);
            return -EAGAIN;
        }
    }
    if (ftruncate(fd, 0) < 0) {
        err = errno;
        error_setg_errno(errp, err, "Could not create '%s'", filename);
        file_lock_close(*lock, fd);
        *lock = NULL;
        return -err;
    }
    return fd;
}
