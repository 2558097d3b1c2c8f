/*
 * Error objects and the error/warning printers. Not a logging facility: trace.c is that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "util/error.h"

struct Error {
    ErrorClass cls;
    char *msg;
    GString *hint; /* printed after the message on a terminal, never sent over QMP */
};

/* Sentinels: only their addresses matter. */
Error *error_fatal;
Error *error_abort;

static const char *progname = "minivmm";
static char *location;

static const char *const class_names[ERROR_CLASS_MAX] = {
    [ERROR_CLASS_GENERIC_ERROR] = "GenericError",
    [ERROR_CLASS_COMMAND_NOT_FOUND] = "CommandNotFound",
    [ERROR_CLASS_DEVICE_ENCRYPTED] = "DeviceEncrypted",
    [ERROR_CLASS_DEVICE_NOT_ACTIVE] = "DeviceNotActive",
    [ERROR_CLASS_DEVICE_NOT_FOUND] = "DeviceNotFound",
    [ERROR_CLASS_KVM_MISSING_CAP] = "KVMMissingCap",
};

const char *error_class_name(ErrorClass cls)
{
    return cls < ERROR_CLASS_MAX ? class_names[cls] : "GenericError";
}

static void error_deliver(Error **errp, Error *err)
{
    if (errp == &error_fatal) {
        error_report_err(err);
        exit(1);
    }
    if (errp == &error_abort) {
        error_report_err(err);
        abort();
    }
    if (!errp) {
        error_free(err);
        return;
    }
    g_assert(*errp == NULL);
    *errp = err;
}

static void error_vset(Error **errp, ErrorClass cls, const char *suffix, const char *fmt,
                       va_list ap)
{
    Error *err = g_new0(Error, 1);
    char *msg = g_strdup_vprintf(fmt, ap);

    err->cls = cls;
    if (suffix) {
        err->msg = g_strdup_printf("%s: %s", msg, suffix);
        g_free(msg);
    } else {
        err->msg = msg;
    }
    error_deliver(errp, err);
}

void error_set(Error **errp, ErrorClass cls, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vset(errp, cls, NULL, fmt, ap);
    va_end(ap);
}

void error_setg_errno(Error **errp, int errno_val, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vset(errp, ERROR_CLASS_GENERIC_ERROR, g_strerror(errno_val), fmt, ap);
    va_end(ap);
}

static void error_vprepend(Error *err, const char *fmt, va_list ap)
{
    char *prefix = g_strdup_vprintf(fmt, ap);
    char *msg = g_strconcat(prefix, err->msg, NULL);

    g_free(prefix);
    g_free(err->msg);
    err->msg = msg;
}

void error_prepend(Error **errp, const char *fmt, ...)
{
    va_list ap;

    if (!errp || !*errp) {
        return;
    }
    va_start(ap, fmt);
    error_vprepend(*errp, fmt, ap);
    va_end(ap);
}

void error_propagate_prepend(Error **dst_errp, Error *err, const char *fmt, ...)
{
    va_list ap;

    if (!err) {
        return;
    }
    va_start(ap, fmt);
    error_vprepend(err, fmt, ap);
    va_end(ap);
    error_deliver(dst_errp, err);
}

void error_append_hint(Error *const *errp, const char *fmt, ...)
{
    va_list ap;

    if (!errp || errp == &error_fatal || errp == &error_abort || !*errp) {
        return;
    }
    if (!(*errp)->hint) {
        (*errp)->hint = g_string_new(NULL);
    }
    va_start(ap, fmt);
    g_string_append_vprintf((*errp)->hint, fmt, ap);
    va_end(ap);
}

const char *error_get_hint(const Error *err)
{
    return err->hint ? err->hint->str : "";
}

void error_propagate(Error **dst_errp, Error *local_err)
{
    if (local_err) {
        error_deliver(dst_errp, local_err);
    }
}

const char *error_get_pretty(const Error *err)
{
    return err->msg;
}

ErrorClass error_get_class(const Error *err)
{
    return err->cls;
}

void error_free(Error *err)
{
    if (err) {
        g_free(err->msg);
        if (err->hint) {
            g_string_free(err->hint, TRUE);
        }
        g_free(err);
    }
}

void error_report_err(Error *err)
{
    error_report("%s", err->msg);
    fputs(error_get_hint(err), stderr);
    error_free(err);
}

void error_reportf_err(Error *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vprepend(err, fmt, ap);
    va_end(ap);
    error_report_err(err);
}

void error_set_progname(const char *name)
{
    progname = name;
}

void error_set_location(const char *loc)
{
    g_free(location);
    location = loc ? g_strdup(loc) : NULL;
}

static void report(const char *kind, const char *fmt, va_list ap)
{
    char *msg = g_strdup_vprintf(fmt, ap);

    fprintf(stderr, "%s: %s%s%s%s\n", progname, location ? location : "",
            location ? ": " : "", kind, msg);
    g_free(msg);
}

void error_vreport(const char *fmt, va_list ap)
{
    report("", fmt, ap);
}

void error_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report("", fmt, ap);
    va_end(ap);
}

void warn_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report("warning: ", fmt, ap);
    va_end(ap);
}
