/*
 * Unit tests for the blkdebug protocol (block/blkdebug.c) over a temporary file: rules fire
 * on the request kind and sector they name, with their errno, once or every time; other
 * requests pass through; config errors are refused at open with a message.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "block/block.h"

typedef struct Fixture {
    char *dir, *image, *rules;
} Fixture;

static BlockDriverState *open_with_rules(Fixture *f, const char *rules, Error **errp)
{
    g_autofree char *name = NULL;

    g_assert_true(g_file_set_contents(f->rules, rules, -1, NULL));
    name = g_strdup_printf("blkdebug:%s:%s", f->rules, f->image);
    return bdrv_open(name, NULL, BDRV_O_RDWR | BDRV_O_PROTOCOL, errp);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autofree char *zeros = g_malloc0(1 << 20);

    f->dir = g_dir_make_tmp("blkdebug-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->image = g_build_filename(f->dir, "img", NULL);
    f->rules = g_build_filename(f->dir, "rules", NULL);
    g_assert_true(g_file_set_contents(f->image, zeros, 1 << 20, NULL));
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    unlink(f->image);
    unlink(f->rules);
    rmdir(f->dir);
    g_free(f->image);
    g_free(f->rules);
    g_free(f->dir);
}

static void test_read_once_at_sector(Fixture *f, gconstpointer data)
{
    BlockDriverState *bs = open_with_rules(f,
                                           "[inject-error]\nevent = \"read_aio\"\n"
                                           "errno = \"5\"\nsector = \"8\"\nonce = \"on\"\n",
                                           &error_abort);
    uint8_t buf[4096];

    g_assert_cmpint(bdrv_pread(bs, 0, buf, 4096), ==, 0);       /* sectors 0-7 */
    g_assert_cmpint(bdrv_pwrite(bs, 4096, buf, 512), ==, 0);    /* a write */
    g_assert_cmpint(bdrv_pread(bs, 3584, buf, 1024), ==, -EIO); /* covers sector 8 */
    g_assert_cmpint(bdrv_pread(bs, 3584, buf, 1024), ==, 0);    /* once: gone */
    bdrv_unref(bs);
}

static void test_write_and_flush_every_time(Fixture *f, gconstpointer data)
{
    BlockDriverState *bs = open_with_rules(f,
                                           "# full disk\n[inject-error]\nevent = write_aio\n"
                                           "errno = 28\n\n[inject-error]\n"
                                           "event = \"flush_to_disk\"\n",
                                           &error_abort);
    uint8_t buf[512] = {0};

    for (int i = 0; i < 2; i++) {
        g_assert_cmpint(bdrv_pwrite(bs, 512 * i, buf, 512), ==, -ENOSPC);
        g_assert_cmpint(bdrv_pwrite_zeroes(bs, 0, 512, 0), ==, -ENOSPC);
        g_assert_cmpint(bdrv_flush(bs), ==, -EIO);
    }
    g_assert_cmpint(bdrv_pread(bs, 0, buf, 512), ==, 0);
    g_assert_cmpint(bdrv_getlength(bs), ==, 1 << 20);
    bdrv_unref(bs);
}

static void expect_open_error(Fixture *f, const char *rules, const char *msg)
{
    Error *err = NULL;

    g_assert_null(open_with_rules(f, rules, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(error_get_pretty(err), msg));
    error_free(err);
}

static void test_config_errors(Fixture *f, gconstpointer data)
{
    expect_open_error(f, "[inject-error]\nevent = \"nope\"\n", "Invalid event name \"nope\"");
    expect_open_error(f, "[set-state]\nstate = 1\n", "unsupported section [set-state]");
    expect_open_error(f, "[inject-error]\nimmediately = on\n",
                      "unsupported rule parameter 'immediately'");
    expect_open_error(f, "[inject-error]\nerrno = x\n", "Parameter 'errno' expects a number");
    expect_open_error(f, "event = read_aio\n", "cannot parse config line");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/blkdebug/read-once-at-sector", Fixture, NULL, fixture_setup,
               test_read_once_at_sector, fixture_teardown);
    g_test_add("/blkdebug/write-and-flush", Fixture, NULL, fixture_setup,
               test_write_and_flush_every_time, fixture_teardown);
    g_test_add("/blkdebug/config-errors", Fixture, NULL, fixture_setup, test_config_errors,
               fixture_teardown);
    return g_test_run();
}
