/*
 * Unit tests for util/error.c's wrapping of one error in another: the caller's prefix goes
 * before the callee's message, and the class and the hint (e.g. who holds a lock) survive,
 * in the Error (for QMP and HMP) and in what error_reportf_err() prints.
 */
#include <glib.h>
#include "util/error.h"

static Error *locked_error(void)
{
    Error *err = NULL;

    error_set(&err, ERROR_CLASS_DEVICE_NOT_FOUND, "Failed to get \"write\" lock");
    error_append_hint(&err, "Is another process using the image [%s]?\n", "a.qcow2");
    return err;
}

static void test_propagate_prepend_keeps_hint(void)
{
    Error *err = NULL;

    error_propagate_prepend(&err, locked_error(), "could not open disk image %s: ", "d0");
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "could not open disk image d0: Failed to get \"write\" lock");
    g_assert_cmpstr(error_get_hint(err), ==, "Is another process using the image [a.qcow2]?\n");
    g_assert_cmpint(error_get_class(err), ==, ERROR_CLASS_DEVICE_NOT_FOUND);
    error_free(err);
}

static void test_propagate_prepend_twice(void)
{
    Error *err = NULL, *outer = NULL;

    error_propagate_prepend(&err, locked_error(), "Could not open backing file: ");
    error_propagate_prepend(&outer, err, "could not open disk image %s: ", "top.qcow2");
    g_assert_cmpstr(error_get_pretty(outer), ==, "could not open disk image top.qcow2: Could "
                    "not open backing file: Failed to get \"write\" lock");
    g_assert_cmpstr(error_get_hint(outer), ==,
                    "Is another process using the image [a.qcow2]?\n");
    error_free(outer);
}

static void test_propagate_prepend_null(void)
{
    Error *err = NULL;

    error_propagate_prepend(&err, NULL, "unused: ");
    g_assert_null(err);
    error_propagate_prepend(NULL, locked_error(), "freed: "); /* no leak under ASan */
}

static void test_reportf_err_prints_hint(void)
{
    if (g_test_subprocess()) {
        error_set_progname("minivmm-img");
        error_reportf_err(locked_error(), "Could not open '%s': ", "top.qcow2");
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("minivmm-img: Could not open 'top.qcow2': Failed to get "
                              "\"write\" lock\nIs another process using the image "
                              "[a.qcow2]?\n");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/error/propagate-prepend/keeps-hint", test_propagate_prepend_keeps_hint);
    g_test_add_func("/error/propagate-prepend/twice", test_propagate_prepend_twice);
    g_test_add_func("/error/propagate-prepend/null", test_propagate_prepend_null);
    g_test_add_func("/error/reportf-err/prints-hint", test_reportf_err_prints_hint);
    return g_test_run();
}
