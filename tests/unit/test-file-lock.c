/*
 * Unit tests for image locking (block/file-lock.c): the permissions each way of opening
 * holds and shares and the bytes they lock (QEMU 7.2's layout); and, on a temporary file,
 * what another open file description sees and how its locks keep ours out (with QEMU's
 * texts), that nodes of one process share, that a downgrade drops the writer's bytes, that
 * a refused change leaves everything as it was, and that freeing the last user unlocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "block/block.h"
#include "block/file-lock.h"

/* ---- The pure mapping ---- */

static void assert_bytes(int flags, const int *expect, int n)
{
    int bytes[2 * FILE_PERM_COUNT];

    g_assert_cmpint(file_lock_bytes(file_lock_perms_for(flags), bytes), ==, n);
    for (int i = 0; i < n; i++) {
        g_assert_cmpint(bytes[i], ==, expect[i]);
    }
}

static void test_perms_to_bytes(void)
{
    static const int rw[] = {100, 101, 103, 201, 203};
    static const int ro[] = {100, 201, 203};

    /* What QEMU 7.2 locks for a qcow2 disk, read-write and read-only (or a backing file). */
    assert_bytes(BDRV_O_RDWR, rw, 5);
    assert_bytes(0, ro, 3);
    assert_bytes(BDRV_O_NO_BACKING, ro, 3);
    assert_bytes(BDRV_O_FORCE_SHARE, NULL, 0);
    g_assert_cmpstr(file_lock_perm_name(0), ==, "consistent read");
    g_assert_cmpstr(file_lock_perm_name(1), ==, "write");
    g_assert_cmpstr(file_lock_perm_name(2), ==, "write unchanged");
    g_assert_cmpstr(file_lock_perm_name(3), ==, "resize");
}

static void test_take_mode(void)
{
    JsonObject *o = json_object_new();
    FileLockMode mode;
    Error *err = NULL;

    g_assert_true(file_lock_take_mode(o, &mode, &error_abort));
    g_assert_cmpint(mode, ==, FILE_LOCK_AUTO);
    json_object_set_string_member(o, "locking", "off");
    g_assert_true(file_lock_take_mode(o, &mode, &error_abort));
    g_assert_cmpint(mode, ==, FILE_LOCK_OFF);
    g_assert_false(json_object_has_member(o, "locking"));
    json_object_set_string_member(o, "locking", "maybe");
    g_assert_false(file_lock_take_mode(o, &mode, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "invalid parameter value: maybe");
    error_free(err);
    json_object_unref(o);
}

/* ---- Locks on a real file ---- */

typedef struct Fixture {
    char *path;
    int other; /* another open file description: another process, as the kernel sees it */
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    int fd = g_file_open_tmp("minivmm-file-lock-XXXXXX", &f->path, NULL);

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    f->other = open(f->path, O_RDWR);
    g_assert_cmpint(f->other, >=, 0);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    close(f->other);
    unlink(f->path);
    g_free(f->path);
}

/* A node's share of the locks, with its own descriptor (file_lock_close closes it). */
static FileLock *node_lock(Fixture *f, int flags, int *fd, Error **errp)
{
    FileLock *lock;

    *fd = open(f->path, O_RDWR);
    g_assert_cmpint(*fd, >=, 0);
    lock = file_lock_new(*fd, f->path, file_lock_perms_for(flags), errp);
    if (!lock) {
        close(*fd);
    }
    return lock;
}

/* Whether someone other than `fd`'s description locks byte. */
static bool locked_for(int fd, int byte)
{
    struct flock fl = {.l_whence = SEEK_SET, .l_start = byte, .l_len = 1, .l_type = F_WRLCK};

    g_assert_cmpint(fcntl(fd, F_OFD_GETLK, &fl), ==, 0);
    return fl.l_type != F_UNLCK;
}

static void lock_byte(int fd, int byte, short type)
{
    struct flock fl = {.l_whence = SEEK_SET, .l_start = byte, .l_len = 1, .l_type = type};

    g_assert_cmpint(fcntl(fd, F_OFD_SETLK, &fl), ==, 0);
}

/* The bytes 100..103 and 200..203 another description sees locked, as a bit mask. */
static unsigned seen(Fixture *f)
{
    unsigned mask = 0;

    for (int i = 0; i < FILE_PERM_COUNT; i++) {
        mask |= locked_for(f->other, FILE_LOCK_PERM_BASE + i) << i;
        mask |= locked_for(f->other, FILE_LOCK_SHARED_BASE + i) << (i + 4);
    }
    return mask;
}

static void test_lock_rw_then_ro(Fixture *f, gconstpointer data)
{
    int fd = open(f->path, O_RDWR);
    FileLock *lock;

    g_assert_true(file_lock_supported(fd));
    lock = file_lock_new(fd, f->path, file_lock_perms_for(BDRV_O_RDWR), &error_abort);
    g_assert_cmphex(seen(f), ==, 0x1 | 0x2 | 0x8 | 0x20 | 0x80);
    g_assert_cmpint(file_lock_update(lock, file_lock_perms_for(0), &error_abort), ==, 0);
    g_assert_cmphex(seen(f), ==, 0x1 | 0x20 | 0x80);
    file_lock_close(lock, fd);
    g_assert_cmphex(seen(f), ==, 0);
}

static void test_conflicts(Fixture *f, gconstpointer data)
{
    Error *err = NULL;
    FileLock *lock;
    int fd;

    /* Another reader refuses to share write: we may read, not write. */
    lock_byte(f->other, FILE_LOCK_PERM_BASE, F_RDLCK);
    lock_byte(f->other, FILE_LOCK_SHARED_BASE + 1, F_RDLCK);
    g_assert_null(node_lock(f, BDRV_O_RDWR, &fd, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Failed to get \"write\" lock");
    g_assert_true(g_str_has_prefix(error_get_hint(err), "Is another process using the image ["));
    error_free(err);
    err = NULL;
    lock = node_lock(f, 0, &fd, &error_abort);
    /* A refused upgrade changes nothing. */
    g_assert_cmpint(file_lock_update(lock, file_lock_perms_for(BDRV_O_RDWR), &err), ==, -EAGAIN);
    g_assert_cmpstr(error_get_pretty(err), ==, "Failed to get \"write\" lock");
    error_free(err);
    err = NULL;
    lock_byte(f->other, FILE_LOCK_SHARED_BASE + 1, F_UNLCK);
    g_assert_false(locked_for(f->other, FILE_LOCK_PERM_BASE + 1));
    file_lock_close(lock, fd);

    /* Another writer: we may not even read without sharing write. */
    lock_byte(f->other, FILE_LOCK_PERM_BASE + 1, F_RDLCK);
    g_assert_null(node_lock(f, 0, &fd, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Failed to get shared \"write\" lock");
    error_free(err);
    lock = node_lock(f, BDRV_O_FORCE_SHARE, &fd, &error_abort);
    file_lock_close(lock, fd);
}

/*
 * Two nodes of this process on one image: no conflict, the locks follow the union, and they
 * outlive the first node's descriptor (whose open file description holds them).
 */
static void test_same_process_shares(Fixture *f, gconstpointer data)
{
    int fd_ro = open(f->path, O_RDONLY), fd_rw = open(f->path, O_RDWR);
    FileLock *ro, *rw;

    ro = file_lock_new(fd_ro, f->path, file_lock_perms_for(0), &error_abort);
    rw = file_lock_new(fd_rw, f->path, file_lock_perms_for(BDRV_O_RDWR), &error_abort);
    file_lock_close(ro, fd_ro);
    g_assert_cmphex(seen(f), ==, 0x1 | 0x2 | 0x8 | 0x20 | 0x80);
    g_assert_cmpint(fcntl(fd_ro, F_GETFD), >=, 0); /* adopted, still open */
    file_lock_close(rw, fd_rw);
    g_assert_cmphex(seen(f), ==, 0);
    g_assert_cmpint(fcntl(fd_ro, F_GETFD), ==, -1);
    g_assert_cmpint(fcntl(fd_rw, F_GETFD), ==, -1);
}

/*
 * What a new user would meet in this process's own users, as QEMU's separately locked nodes
 * would: a reader leaves room for readers only, nothing in use leaves room for anybody.
 */
static void test_check_own(Fixture *f, gconstpointer data)
{
    int fd_ro = open(f->path, O_RDONLY);
    g_autofree char *missing = g_strconcat(f->path, ".missing", NULL);
    FileLock *ro;
    Error *err = NULL;

    g_assert_true(file_lock_check_own(f->path, file_lock_perms_for(BDRV_O_RDWR), &error_abort));
    ro = file_lock_new(fd_ro, f->path, file_lock_perms_for(0), &error_abort);
    g_assert_true(file_lock_check_own(f->path, file_lock_perms_for(0), &error_abort));
    g_assert_true(file_lock_check_own(f->path, file_lock_perms_for(BDRV_O_FORCE_SHARE),
                                      &error_abort));
    g_assert_false(file_lock_check_own(f->path, file_lock_perms_for(BDRV_O_RDWR), &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Failed to get \"write\" lock");
    g_assert_true(g_str_has_suffix(error_get_hint(err), "]?\n"));
    error_free(err);
    g_assert_true(file_lock_check_own(missing, file_lock_perms_for(BDRV_O_RDWR), &error_abort));
    g_assert_cmphex(seen(f), ==, 0x1 | 0x20 | 0x80); /* asking took and dropped nothing */
    file_lock_close(ro, fd_ro);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/file-lock/perms-to-bytes", test_perms_to_bytes);
    g_test_add_func("/file-lock/take-mode", test_take_mode);
    g_test_add("/file-lock/rw-then-ro", Fixture, NULL, fixture_setup, test_lock_rw_then_ro,
               fixture_teardown);
    g_test_add("/file-lock/conflicts", Fixture, NULL, fixture_setup, test_conflicts,
               fixture_teardown);
    g_test_add("/file-lock/same-process", Fixture, NULL, fixture_setup,
               test_same_process_shares, fixture_teardown);
    g_test_add("/file-lock/check-own", Fixture, NULL, fixture_setup, test_check_own,
               fixture_teardown);
    return g_test_run();
}
