/*
 * The POSIX protocol drivers: "file" (a regular file) and "host_device" (a block or
 * character device, claimed by probing /dev paths). Both open the path with O_RDONLY or
 * O_RDWR (plus O_DIRECT for cache.direct) and do plain preadv/pwritev (synchronous direct
 * writes to regular files through a per-thread Linux AIO context, except into a range the
 * thread has just zeroed), fdatasync, hole punching and SEEK_DATA/SEEK_HOLE; devices use
 * the BLK* ioctls instead. Asynchronous requests go to the Linux AIO or io_uring engine when
 * aio=native (with O_DIRECT) or aio=io_uring asks for it, and otherwise run on this file's
 * worker threads. Alignment, read-modify-write, discard policy and read-only refusal belong
 * to the core, not here. Each node takes its share of the image's locks (file-lock.c)
 * unless locking=off.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <glib.h>
#include <libaio.h>
#include "block/aio-engine.h"
#include "block/block_int.h"
#include "block/file-lock.h"
#include "block/file-posix.h"
#include "util/thread-pool.h"
#include "util/trace.h"

#define FILE_MAX_BLOCKSIZE 4096
#define FILE_WORKER_THREADS 64

typedef enum FileAioEngine {
    FILE_AIO_THREADS,
    FILE_AIO_NATIVE,
    FILE_AIO_IO_URING,
} FileAioEngine;

typedef struct BDRVFileState {
    int fd;
    bool is_regular; /* a regular file: fallocate, zero-fill past EOF */
    bool is_device;  /* a block or character device: BLK* ioctls */
    bool o_direct;
    int flush_error; /* a failed fdatasync without O_DIRECT: every later one fails (atomic) */
    FileAioEngine engine;
    FileLock *lock;  /* NULL when not locking */
} BDRVFileState;

/* ---- Open and close ---- */

static int file_open_fd(const char *filename, int flags, Error **errp)
{
    int oflags = O_CLOEXEC | ((flags & BDRV_O_RDWR) ? O_RDWR : O_RDONLY);
    int fd, err;

    if (flags & BDRV_O_NOCACHE) {
        oflags |= O_DIRECT;
    }
    fd = open(filename, oflags);
    if (fd < 0) {
        err = errno == EROFS ? EACCES : errno;
        error_setg_errno(errp, err, "Could not open '%s'", filename);
        return -err;
    }
    return fd;
}

/*
 * Pick the engine for asynchronous requests and make sure the opening thread's context
 * has one. aio=native without O_DIRECT quietly uses threads, as QEMU does.
 */
static int file_setup_aio(BDRVFileState *s, int flags, Error **errp)
{
    GMainContext *ctx = g_main_context_get_thread_default();

    if (flags & BDRV_O_IO_URING) {
#ifdef CONFIG_LINUX_IO_URING
        if (!luring_init_context(ctx, errp)) {
            return -EINVAL;
        }
        s->engine = FILE_AIO_IO_URING;
#else
        error_setg(errp, "aio=io_uring was specified, but is not supported in this build.");
        return -ENOTSUP;
#endif
    } else if ((flags & BDRV_O_NATIVE_AIO) && (flags & BDRV_O_NOCACHE)) {
        if (!laio_init_context(ctx, errp)) {
            return -EINVAL;
        }
        s->engine = FILE_AIO_NATIVE;
    }
    return 0;
}

/* Lock the image as locking= asks: auto is on where the file system has OFD locks. */
static int file_open_lock(BlockDriverState *bs, FileLockMode mode, int flags, Error **errp)
{
    BDRVFileState *s = bs->opaque;

    if (mode == FILE_LOCK_OFF || (mode == FILE_LOCK_AUTO && !file_lock_supported(s->fd))) {
        return 0;
    }
    s->lock = file_lock_new(s->fd, bs->filename, file_lock_perms_for(flags), errp);
    return s->lock ? 0 : -EAGAIN;
}

/* Open bs->filename, which the core leaves there without the "proto:" prefix. */
static int file_open_common(BlockDriverState *bs, JsonObject *options, int flags, Error **errp)
{
    BDRVFileState *s = bs->opaque;
    FileLockMode lock_mode;
    struct stat st;
    int ret;

    s->fd = -1;
    if (!bs->filename || !*bs->filename) {
        error_setg(errp, "The '%s' block driver requires a file name", bs->drv->format_name);
        return -EINVAL;
    }
    if (!file_lock_take_mode(options, &lock_mode, errp)) {
        return -EINVAL;
    }
    ret = file_open_fd(bs->filename, flags, errp);
    if (ret < 0) {
        return ret;
    }
    s->fd = ret;
    if (fstat(s->fd, &st) < 0) {
        ret = -errno;
        error_setg_errno(errp, -ret, "Could not stat file");
        goto fail;
    }
    s->is_regular = S_ISREG(st.st_mode);
    s->is_device = S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode);
    s->o_direct = flags & BDRV_O_NOCACHE;
    ret = file_setup_aio(s, flags, errp);
    if (ret < 0) {
        goto fail;
    }
    ret = file_open_lock(bs, lock_mode, flags, errp);
    if (ret < 0) {
        goto fail;
    }
    return 0;

fail:
    close(s->fd);
    s->fd = -1;
    return ret;
}

/* A temporary file (snapshot=on's overlay) is unlinked once open, or once it failed to. */
static int file_open(BlockDriverState *bs, JsonObject *options, int flags, Error **errp)
{
    int ret = file_open_common(bs, options, flags, errp);

    if ((flags & BDRV_O_TEMPORARY) && bs->filename) {
        unlink(bs->filename);
    }
    return ret;
}

/* Linux block devices can be set read-only (blockdev --setro) whatever the node's mode. */
static int hdev_check_writable(BDRVFileState *s)
{
    int readonly = 0;

    if (ioctl(s->fd, BLKROGET, &readonly) < 0) {
        return errno == ENOTTY ? 0 : -errno;
    }
    return readonly ? -EACCES : 0;
}

static int hdev_open(BlockDriverState *bs, JsonObject *options, int flags, Error **errp)
{
    BDRVFileState *s = bs->opaque;
    int ret = file_open_common(bs, options, flags, errp);

    if (ret < 0 || !(flags & BDRV_O_RDWR)) {
        return ret;
    }
    ret = hdev_check_writable(s);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "The device is not writable");
        file_lock_close(s->lock, s->fd);
        s->lock = NULL;
        s->fd = -1;
    }
    return ret;
}

static int hdev_probe_device(const char *filename)
{
    struct stat st;

    if (stat(filename, &st) == 0 && (S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode))) {
        return 100;
    }
    return 0;
}

static void file_close(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;

    if (s->fd >= 0) {
        file_lock_close(s->lock, s->fd);
        s->lock = NULL;
        s->fd = -1;
    }
}

/* The node stops writing: it keeps only a reader's locks (a downgrade cannot conflict). */
static int file_reopen_read_only(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;

    if (!s->lock) {
        return 0;
    }
    return file_lock_update(s->lock, file_lock_perms_for(bs->open_flags & ~BDRV_O_RDWR), NULL);
}

/* ---- Reads, writes, flush ---- */

/*
 * One preadv/pwritev of at most IOV_MAX segments, retried on EINTR: bytes or -errno. A
 * single segment goes through pread/pwrite, which spare the kernel copying in an iovec.
 * rwflags (RWF_*, writes only) go through pwritev2.
 */
static ssize_t file_rw_once(int fd, bool is_write, const IOVector *v, uint64_t offset,
                            int rwflags)
{
    int niov = MIN(v->niov, IOV_MAX);
    ssize_t n;

    do {
        if (rwflags) {
            n = pwritev2(fd, v->iov, niov, offset, rwflags);
        } else if (niov == 1) {
            n = is_write ? pwrite(fd, v->iov[0].iov_base, v->iov[0].iov_len, offset)
                         : pread(fd, v->iov[0].iov_base, v->iov[0].iov_len, offset);
        } else {
            n = is_write ? pwritev(fd, v->iov, niov, offset) : preadv(fd, v->iov, niov, offset);
        }
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

/*
 * What a thread keeps for its synchronous direct writes: its own Linux AIO context for
 * file_write_aio_wait() (aio: 0 until the first such write, -1 when io_setup failed, so that
 * the thread does not try again on every write), and the range it last zeroed with
 * FALLOC_FL_ZERO_RANGE.
 */
typedef struct FileThreadIo {
    io_context_t ctx;
    int aio;
    int zeroed_fd;
    uint64_t zeroed_start, zeroed_end;
} FileThreadIo;

static void file_thread_io_free(gpointer p)
{
    FileThreadIo *t = p;

    if (t->aio > 0) {
        io_destroy(t->ctx);
    }
    g_free(t);
}

static GPrivate file_thread_io = G_PRIVATE_INIT(file_thread_io_free);

static FileThreadIo *file_thread_io_get(void)
{
    FileThreadIo *t = g_private_get(&file_thread_io);

    if (!t) {
        t = g_new0(FileThreadIo, 1);
        t->zeroed_fd = -1;
        g_private_set(&file_thread_io, t);
    }
    return t;
}

static void file_note_zeroed(int fd, uint64_t offset, uint64_t bytes)
{
    FileThreadIo *t = file_thread_io_get();

    t->zeroed_fd = fd;
    t->zeroed_start = offset;
    t->zeroed_end = offset + bytes;
}

/*
 * Whether this thread has just zeroed [offset, offset+bytes) of fd: its blocks are allocated
 * (unwritten), so a direct write there is an overwrite that ext4 runs under the shared inode
 * lock and completes in the writing thread. An asynchronous write into unwritten blocks
 * instead completes through a kernel worker (the conversion to written) and then wakes the
 * waiter: one more wake-up per write, about a quarter of a qcow2 allocating 4 KiB write at
 * depth 1. Only a hint: should the range have been punched since, the write is still correct.
 */
static bool file_just_zeroed(int fd, uint64_t offset, uint64_t bytes)
{
    FileThreadIo *t = g_private_get(&file_thread_io);

    return t && t->zeroed_fd == fd && offset >= t->zeroed_start &&
           offset + bytes <= t->zeroed_end;
}

/*
 * A synchronous O_DIRECT write submitted through the thread's own Linux AIO context and
 * waited for: ext4 holds the inode lock across a synchronous direct write that allocates
 * (or extends the file) until the device completes it, serialising every thread writing new
 * space, but only while it submits an asynchronous one. -ENOSYS when there is no context.
 */
static ssize_t file_write_aio_wait(int fd, const IOVector *v, uint64_t offset, int rwflags)
{
    FileThreadIo *c = file_thread_io_get();
    struct iocb cb, *cbs[1] = {&cb};
    struct io_event ev;
    int ret;

    if (c->aio == 0) {
        c->aio = io_setup(1, &c->ctx) >= 0 ? 1 : -1;
    }
    if (c->aio < 0) {
        return -ENOSYS;
    }
    io_prep_pwritev2(&cb, fd, v->iov, MIN(v->niov, IOV_MAX), offset, rwflags);
    ret = io_submit(c->ctx, 1, cbs);
    if (ret != 1) {
        return ret < 0 ? -ENOSYS : -EIO;
    }
    do {
        ret = io_getevents(c->ctx, 1, 1, &ev, NULL);
    } while (ret == -EINTR);
    if (ret != 1) {
        return ret < 0 ? ret : -EIO;
    }
    return (long)ev.res;
}

/* A synchronous direct write to a regular file; -ENOSYS: make it with pwritev. */
static ssize_t file_write_direct(int fd, const IOVector *v, uint64_t offset, int rwflags)
{
    bool just_zeroed = file_just_zeroed(fd, offset, v->size);
    ssize_t n = just_zeroed ? -ENOSYS : file_write_aio_wait(fd, v, offset, rwflags);

    TRACE("file_write_direct", "fd %d offset %" PRIu64 " bytes %zu %s", fd, offset, v->size,
          n == -ENOSYS ? "pwritev" : "aio");
    return n;
}

/*
 * Transfer all of qiov, resuming after short transfers. Returns the bytes moved (fewer
 * only when the end of the file stopped a read) or -errno. rwflags as file_rw_once's.
 */
static ssize_t file_rw_all(BDRVFileState *s, bool is_write, uint64_t offset, IOVector *qiov,
                           int rwflags)
{
    IOVector rest;
    const IOVector *cur = qiov;
    size_t done = 0;
    ssize_t n;

    for (;;) {
        n = -ENOSYS;
        if (is_write && s->o_direct && s->is_regular) {
            n = file_write_direct(s->fd, cur, offset + done, rwflags);
        }
        if (n == -ENOSYS) {
            n = file_rw_once(s->fd, is_write, cur, offset + done, rwflags);
        }
        if (n <= 0) {
            break;
        }
        done += n;
        if (done == qiov->size) {
            break;
        }
        if (cur == qiov) {
            iov_init(&rest, qiov->niov);
            cur = &rest;
        }
        iov_reset(&rest);
        iov_add_slice(&rest, qiov, done, qiov->size - done);
    }
    if (cur != qiov) {
        iov_destroy(&rest);
    }
    /* O_DIRECT reads fail with EINVAL at the unaligned offset a short read left: EOF. */
    if (n < 0 && !(n == -EINVAL && s->o_direct && !is_write && done > 0)) {
        return n;
    }
    return done;
}

static int file_preadv(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                       int flags)
{
    BDRVFileState *s = bs->opaque;
    ssize_t n;

    g_assert(qiov->size == bytes);
    n = file_rw_all(s, false, offset, qiov, 0);
    if (n < 0) {
        return n;
    }
    if ((size_t)n < bytes) {
        if (!s->is_regular) {
            return -EINVAL;
        }
        iov_memset(qiov, n, 0, bytes - n);
    }
    return 0;
}

/*
 * The core skips this for cache.no-flush. When fdatasync fails, Linux may have marked the
 * pages it could not write clean: their data is gone, and the next fdatasync would succeed
 * without trying them again. Nothing tells what is on disk then, so without O_DIRECT every
 * later flush fails with the first error, as in QEMU 3.0 and later. O_DIRECT writes do not
 * go through the page cache, so there a later flush means what it says.
 */
static int file_flush(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;
    int ret = g_atomic_int_get(&s->flush_error);

    if (ret) {
        return ret;
    }
    if (fdatasync(s->fd) == 0) {
        return 0;
    }
    ret = -errno;
    if (!s->o_direct) {
        g_atomic_int_set(&s->flush_error, ret);
    }
    return ret;
}

/* All of qiov written at offset: 0 or -errno. */
static int file_write_all(BDRVFileState *s, uint64_t offset, IOVector *qiov, int rwflags)
{
    ssize_t n = file_rw_all(s, true, offset, qiov, rwflags);

    if (n < 0) {
        return n;
    }
    return (size_t)n < qiov->size ? -EINVAL : 0;
}

/*
 * BDRV_REQ_FUA: RWF_DSYNC makes this write stable alone (its range, and the metadata to read
 * it back), where fdatasync would also write out whatever else of the file is dirty: a
 * qcow2 ordering write then costs a millisecond instead of writing back a guest's gigabyte.
 * Without O_DIRECT the bytes go into the page cache first, then again with RWF_DSYNC, so
 * that an error of the second is one of writing back: Linux reports a failed writeback of
 * any page of the file to the next sync through this descriptor, so such an error fails
 * every later flush, as one of fdatasync does (file_flush). Without RWF_DSYNC in the
 * kernel: the write, then fdatasync.
 */
static int file_pwritev_fua(BlockDriverState *bs, uint64_t offset, IOVector *qiov)
{
    BDRVFileState *s = bs->opaque;
    int ret = g_atomic_int_get(&s->flush_error);

    if (ret == 0 && !s->o_direct) {
        ret = file_write_all(s, offset, qiov, 0);
    }
    if (ret < 0) {
        return ret;
    }
    ret = file_write_all(s, offset, qiov, RWF_DSYNC);
    if (ret == -EOPNOTSUPP || ret == -ENOSYS) {
        ret = s->o_direct ? file_write_all(s, offset, qiov, 0) : 0;
        return ret < 0 ? ret : file_flush(bs);
    }
    if (ret < 0 && !s->o_direct) {
        g_atomic_int_set(&s->flush_error, ret);
    }
    return ret;
}

static int file_pwritev(BlockDriverState *bs, uint64_t offset, uint64_t bytes, IOVector *qiov,
                        int flags)
{
    g_assert(qiov->size == bytes);
    if (flags & BDRV_REQ_FUA) {
        return file_pwritev_fua(bs, offset, qiov);
    }
    return file_write_all(bs->opaque, offset, qiov, 0);
}

/* ---- Discard and zeroes ---- */

static bool file_errno_unsupported(int err)
{
    return err == -ENOTSUP || err == -EOPNOTSUPP || err == -ENOSYS || err == -ENOTTY ||
           err == -ENODEV;
}

static int file_fallocate(BDRVFileState *s, int mode, uint64_t offset, uint64_t bytes)
{
    int ret;

    do {
        ret = fallocate(s->fd, mode, offset, bytes);
    } while (ret < 0 && errno == EINTR);
    return ret < 0 ? -errno : 0;
}

/* BLKDISCARD or BLKZEROOUT on [offset, offset+bytes). */
static int hdev_range_ioctl(BDRVFileState *s, unsigned long cmd, uint64_t offset, uint64_t bytes)
{
    uint64_t range[2] = {offset, bytes};
    int ret;

    do {
        ret = ioctl(s->fd, cmd, range);
    } while (ret < 0 && errno == EINTR);
    return ret < 0 ? -errno : 0;
}

/* Discard is advisory: where the host cannot, it succeeds without doing anything. */
static int file_pdiscard(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    BDRVFileState *s = bs->opaque;
    int ret;

    if (s->is_device) {
        ret = hdev_range_ioctl(s, BLKDISCARD, offset, bytes);
    } else {
        ret = file_fallocate(s, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, bytes);
    }
    return file_errno_unsupported(ret) ? 0 : ret;
}

/* A hole punched past the end does not move it; a zero write must. */
static int file_extend_to(BDRVFileState *s, uint64_t end)
{
    struct stat st;

    if (fstat(s->fd, &st) < 0) {
        return -errno;
    }
    if ((uint64_t)st.st_size >= end) {
        return 0;
    }
    return ftruncate(s->fd, end) < 0 ? -errno : 0;
}

/* Punched holes read as zeroes on every Linux file system that supports them. */
static int file_zero_range(BDRVFileState *s, uint64_t offset, uint64_t bytes, int flags)
{
    int ret;

    if (flags & BDRV_REQ_MAY_UNMAP) {
        ret = file_fallocate(s, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, bytes);
        if (ret == 0) {
            return file_extend_to(s, offset + bytes);
        }
        if (!file_errno_unsupported(ret)) {
            return ret;
        }
    }
    ret = file_fallocate(s, FALLOC_FL_ZERO_RANGE, offset, bytes);
    if (ret == 0 && s->o_direct) {
        file_note_zeroed(s->fd, offset, bytes);
    }
    return file_errno_unsupported(ret) ? -ENOTSUP : ret;
}

/* -ENOTSUP tells the core to write zeroes itself. */
static int file_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags)
{
    BDRVFileState *s = bs->opaque;
    int ret;

    if (s->is_device) {
        ret = hdev_range_ioctl(s, BLKZEROOUT, offset, bytes);
        return file_errno_unsupported(ret) ? -ENOTSUP : ret;
    }
    return file_zero_range(s, offset, bytes, flags);
}

/* ---- Size ---- */

static int64_t file_getlength(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;
    struct stat st;
    uint64_t size;
    off_t end;

    if (fstat(s->fd, &st) < 0) {
        return -errno;
    }
    if (S_ISREG(st.st_mode)) {
        return st.st_size;
    }
    if (ioctl(s->fd, BLKGETSIZE64, &size) == 0) {
        return size;
    }
    end = lseek(s->fd, 0, SEEK_END);
    return end < 0 ? -errno : end;
}

static int64_t file_get_allocated_file_size(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;
    struct stat st;

    if (fstat(s->fd, &st) < 0) {
        return -errno;
    }
    return (int64_t)st.st_blocks * 512;
}

/* Zeroes written over [from, to) of fd, then made durable. */
static int write_zeroes_durably(int fd, uint64_t from, uint64_t to, Error **errp)
{
    const size_t chunk = 1 << 20;
    g_autofree uint8_t *zeroes = g_malloc0(chunk);

    while (from < to) {
        ssize_t n = pwrite(fd, zeroes, MIN(chunk, to - from), from);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int err = n < 0 ? errno : ENOSPC;
            error_setg_errno(errp, err, "Could not write zeros for preallocation");
            return -err;
        }
        from += n;
    }
    if (fdatasync(fd) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "Could not flush file to disk");
        return -err;
    }
    return 0;
}

static int grow_regular(int fd, uint64_t cur, uint64_t size, PreallocMode mode, Error **errp)
{
    int err;

    switch (mode) {
    case PREALLOC_MODE_FALLOC:
        err = size > cur ? posix_fallocate(fd, cur, size - cur) : 0;
        if (err) {
            error_setg_errno(errp, err, "Could not preallocate new data");
        }
        return -err;
    case PREALLOC_MODE_FULL:
        /* the final size first, so the file system can place the whole file at once */
        if (ftruncate(fd, size) < 0) {
            err = errno;
            error_setg_errno(errp, err, "Could not resize file");
            return -err;
        }
        return write_zeroes_durably(fd, cur, size, errp);
    default:
        error_setg(errp, "Unsupported preallocation mode: %s", prealloc_mode_name(mode));
        return -ENOTSUP;
    }
}

int file_resize_regular(int fd, uint64_t size, PreallocMode mode, Error **errp)
{
    struct stat st;
    int ret;

    if (mode == PREALLOC_MODE_OFF) {
        if (ftruncate(fd, size) < 0) {
            ret = -errno;
            error_setg_errno(errp, -ret, "Failed to resize the file");
            return ret;
        }
        return 0;
    }
    if (fstat(fd, &st) < 0) {
        ret = -errno;
        error_setg_errno(errp, -ret, "Could not stat file");
        return ret;
    }
    if ((uint64_t)st.st_size > size) {
        error_setg(errp, "Cannot use preallocation for shrinking files");
        return -ENOTSUP;
    }
    ret = grow_regular(fd, st.st_size, size, mode, errp);
    if (ret < 0 && ftruncate(fd, st.st_size) < 0) {
        /* the new space stays; it reads as zeroes */
        error_append_hint(errp, "The file could not be cut back to its old length.\n");
    }
    return ret;
}

/* Devices keep their size: shrinking is a no-op and growing fails, as in QEMU 2.2. */
static int file_truncate(BlockDriverState *bs, uint64_t size, PreallocMode mode, Error **errp)
{
    BDRVFileState *s = bs->opaque;
    int64_t len;

    if (s->is_regular) {
        return file_resize_regular(s->fd, size, mode, errp);
    }
    if (mode != PREALLOC_MODE_OFF) {
        error_setg(errp, "Preallocation mode '%s' unsupported for this non-regular file",
                   prealloc_mode_name(mode));
        return -ENOTSUP;
    }
    if (!s->is_device) {
        error_setg(errp, "Cannot resize this kind of file");
        return -ENOTSUP;
    }
    len = file_getlength(bs);
    if (len < 0) {
        error_setg_errno(errp, -len, "Could not get the device size");
        return len;
    }
    if (size > (uint64_t)len) {
        error_setg(errp, "Cannot grow device files");
        return -EINVAL;
    }
    return 0;
}

/* ---- Allocation status ---- */

/*
 * Where start lies: 0 with *data == start and *hole the next hole, or *hole == start and
 * *data the next data; -ENXIO in a trailing hole; other errors when the host cannot tell.
 */
static int file_find_allocation(BDRVFileState *s, off_t start, off_t *data, off_t *hole)
{
    off_t pos = lseek(s->fd, start, SEEK_DATA);

    if (pos < 0) {
        return -errno;
    }
    if (pos > start) {
        *hole = start;
        *data = pos;
        return 0;
    }
    pos = lseek(s->fd, start, SEEK_HOLE);
    if (pos < 0) {
        return -errno;
    }
    if (pos == start) {
        return -EBUSY; /* a hole was punched between the two seeks */
    }
    *data = start;
    *hole = pos;
    return 0;
}

static int file_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                             BlockDriverState **file, uint64_t *map)
{
    BDRVFileState *s = bs->opaque;
    int64_t len = file_getlength(bs);
    off_t data = 0, hole = 0;
    int ret;

    if (len < 0) {
        return len;
    }
    if (offset >= (uint64_t)len) {
        *pnum = 0;
        return 0;
    }
    bytes = MIN(bytes, (uint64_t)len - offset);
    if (file) {
        *file = bs;
    }
    if (map) {
        *map = offset;
    }
    ret = file_find_allocation(s, offset, &data, &hole);
    *pnum = bytes;
    if (ret == -ENXIO) {
        return BDRV_BLOCK_ZERO;
    }
    if (ret < 0) {
        return BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED; /* unknown: assume data */
    }
    if (data == (off_t)offset) {
        *pnum = MIN(bytes, (uint64_t)(hole - data));
        return BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED;
    }
    *pnum = MIN(bytes, (uint64_t)(data - hole));
    return BDRV_BLOCK_ZERO;
}

/* ---- Limits ---- */

/* The smallest O_DIRECT read size that works, or 512 when nothing tells. */
static uint32_t file_probe_alignment(BDRVFileState *s)
{
    unsigned int sector_size;
    uint32_t align;
    void *buf;

    if (s->is_device && ioctl(s->fd, BLKSSZGET, &sector_size) == 0 && sector_size) {
        return sector_size;
    }
    buf = g_aligned_alloc(1, FILE_MAX_BLOCKSIZE, FILE_MAX_BLOCKSIZE);
    for (align = 512; align <= FILE_MAX_BLOCKSIZE; align <<= 1) {
        if (pread(s->fd, buf, align, 0) >= 0) {
            break;
        }
    }
    g_aligned_free(buf);
    return align <= FILE_MAX_BLOCKSIZE ? align : 512;
}

static void file_refresh_limits(BlockDriverState *bs)
{
    BDRVFileState *s = bs->opaque;

    bs->request_alignment = s->o_direct ? file_probe_alignment(s) : 1;
}

/* ---- Asynchronous requests ---- */

static int file_run_request(BlockRequest *req)
{
    if (req->type == BLOCK_REQ_WRITE) {
        return file_pwritev(req->bs, req->offset, req->bytes, req->qiov, req->flags);
    }
    return file_preadv(req->bs, req->offset, req->bytes, req->qiov, req->flags);
}

/* Runs on a worker thread. */
static int file_worker_run(void *opaque)
{
    return file_run_request(opaque);
}

/* Runs in req->ctx, in a batch with the other requests finished meanwhile. */
static void file_worker_done(void *opaque, int ret)
{
    bdrv_request_complete(opaque, ret);
}

/* One pool per completion context, created on first use and kept for the process. */
static ThreadPool *file_worker_pool(GMainContext *ctx)
{
    static GMutex lock;
    static GHashTable *pools; /* GMainContext * -> ThreadPool * */
    ThreadPool *pool;

    g_mutex_lock(&lock);
    if (!pools) {
        pools = g_hash_table_new(NULL, NULL);
    }
    pool = g_hash_table_lookup(pools, ctx);
    if (!pool) {
        pool = thread_pool_new(ctx, FILE_WORKER_THREADS);
        g_hash_table_insert(pools, ctx, pool);
    }
    g_mutex_unlock(&lock);
    return pool;
}

static void file_worker_submit(BlockRequest *req)
{
    thread_pool_submit(file_worker_pool(req->ctx), file_worker_run, req, file_worker_done, req);
}

/*
 * The core sends only reads and writes here (flush, discard and write-zeroes go to its
 * worker pool); the engine takes them, else one of our worker threads does.
 */
static void file_aio_submit(BlockDriverState *bs, BlockRequest *req)
{
    BDRVFileState *s = bs->opaque;
    bool submitted = false;

    g_assert(req->type == BLOCK_REQ_READ || req->type == BLOCK_REQ_WRITE);
    switch (s->engine) {
    case FILE_AIO_NATIVE:
        submitted = laio_submit(s->fd, req);
        break;
#ifdef CONFIG_LINUX_IO_URING
    case FILE_AIO_IO_URING:
        submitted = luring_submit(s->fd, req);
        break;
#endif
    default:
        break;
    }
    if (!submitted) {
        file_worker_submit(req);
    }
}

/* ---- Registration ---- */

static BlockDriver bdrv_file = {
    .format_name = "file",
    .protocol_name = "file",
    .is_protocol = true,
    .fua_writes = true,
    .instance_size = sizeof(BDRVFileState),
    .open = file_open,
    .close = file_close,
    .preadv = file_preadv,
    .pwritev = file_pwritev,
    .flush = file_flush,
    .pdiscard = file_pdiscard,
    .pwrite_zeroes = file_pwrite_zeroes,
    .getlength = file_getlength,
    .get_allocated_file_size = file_get_allocated_file_size,
    .truncate = file_truncate,
    .block_status = file_block_status,
    .aio_submit = file_aio_submit,
    .refresh_limits = file_refresh_limits,
    .reopen_read_only = file_reopen_read_only,
};

static BlockDriver bdrv_host_device = {
    .format_name = "host_device",
    .protocol_name = "host_device",
    .is_protocol = true,
    .fua_writes = true,
    .instance_size = sizeof(BDRVFileState),
    .probe_device = hdev_probe_device,
    .open = hdev_open,
    .close = file_close,
    .preadv = file_preadv,
    .pwritev = file_pwritev,
    .flush = file_flush,
    .pdiscard = file_pdiscard,
    .pwrite_zeroes = file_pwrite_zeroes,
    .getlength = file_getlength,
    .get_allocated_file_size = file_get_allocated_file_size,
    .truncate = file_truncate,
    .block_status = file_block_status,
    .aio_submit = file_aio_submit,
    .refresh_limits = file_refresh_limits,
    .reopen_read_only = file_reopen_read_only,
};

static void __attribute__((constructor)) file_posix_register(void)
{
    bdrv_register(&bdrv_file);
    bdrv_register(&bdrv_host_device);
}
