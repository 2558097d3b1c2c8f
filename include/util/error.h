/*
 * Error reporting: an Error carries a QMP error class and a message a user can act on.
 * Functions that can fail take `Error **errp` last; callers pass NULL (ignore),
 * &error_fatal (print and exit 1), &error_abort (print and abort) or a local Error *.
 */
#ifndef UTIL_ERROR_H
#define UTIL_ERROR_H

#include <stdbool.h>
#include <stdarg.h>

typedef enum ErrorClass {
    ERROR_CLASS_GENERIC_ERROR,
    ERROR_CLASS_COMMAND_NOT_FOUND,
    ERROR_CLASS_DEVICE_ENCRYPTED,
    ERROR_CLASS_DEVICE_NOT_ACTIVE,
    ERROR_CLASS_DEVICE_NOT_FOUND,
    ERROR_CLASS_KVM_MISSING_CAP,
    ERROR_CLASS_MAX,
} ErrorClass;

typedef struct Error Error;

extern Error *error_fatal;
extern Error *error_abort;

/* QMP spelling of an error class: "GenericError", "DeviceNotFound", ... */
const char *error_class_name(ErrorClass cls);

void error_set(Error **errp, ErrorClass cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define error_setg(errp, ...) error_set((errp), ERROR_CLASS_GENERIC_ERROR, __VA_ARGS__)
/* Like error_setg, with ": <strerror(errno_val)>" appended. */
void error_setg_errno(Error **errp, int errno_val, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the message of *errp (if set) with the formatted text. */
void error_prepend(Error **errp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Add to the hint of *errp (if set): text printed after the message where a user reads it
 * (error_report_err), but not part of the message (QMP). End it with a newline. */
void error_append_hint(Error *const *errp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The hint, "" when there is none. */
const char *error_get_hint(const Error *err);
/* Move local_err into *dst_errp (freeing it if dst_errp is NULL). */
void error_propagate(Error **dst_errp, Error *local_err);
/*
 * error_propagate() with err's message prefixed by the formatted text, keeping its class and
 * hint: how a caller words what failed around the reason its callee gave (instead of a new
 * error made from error_get_pretty(), which drops the hint). Nothing when err is NULL.
 */
void error_propagate_prepend(Error **dst_errp, Error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *error_get_pretty(const Error *err);
ErrorClass error_get_class(const Error *err);
void error_free(Error *err);
/* Print the error on stderr in the program's style ("minivmm: msg") and free it. */
void error_report_err(Error *err);
/* error_report_err() with the message prefixed by the formatted text ("PROG: PREFIXmsg"). */
void error_reportf_err(Error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "PROG: msg" on stderr; the program name is set once by error_set_progname(). */
void error_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warn_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void error_vreport(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
void error_set_progname(const char *name);
/* Where messages are being reported from, e.g. "-drive file=x": printed before the text. */
void error_set_location(const char *loc);

#endif
