/*
 * -device for unit tests that create devices the way the command line does (test-scsi-disk,
 * test-sd-card, the Xen block tests): parse the option string, realize, and hand back the
 * device or the refusal's text.
 */
#ifndef TESTS_UNIT_QDEV_TEST_UTIL_H
#define TESTS_UNIT_QDEV_TEST_UTIL_H

#include <stdbool.h>
#include <glib.h>
#include "hw/qdev.h"
#include "util/error.h"
#include "util/opts.h"

/* The device, or NULL with the message in *err (then "|" and the hint when with_hint);
 * with err NULL a refusal fails the test. */
static inline DeviceState *test_device_add(const char *devstr, bool with_hint, char **err)
{
    Opts *opts = opts_parse(&qdev_device_opts, devstr, true, &error_abort);
    Error *local = NULL;
    DeviceState *dev = qdev_device_add(opts, &local);

    opts_free(opts);
    if (err && local) {
        *err = with_hint ? g_strdup_printf("%s|%s", error_get_pretty(local), error_get_hint(local))
                         : g_strdup(error_get_pretty(local));
    } else if (err) {
        *err = NULL;
    } else if (local) {
        g_error("%s: %s", devstr, error_get_pretty(local));
    }
    if (local) {
        error_free(local);
    }
    return dev;
}

#endif
