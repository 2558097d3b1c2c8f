/*
 * The monitor's one command table, shared by QMP and HMP. A command is a name, an argument
 * table and a handler; QMP calls the handler with the JSON arguments, HMP parses its human
 * syntax into the same arguments and prints the result. Argument checking ("Parameter 'x'
 * is missing", "Invalid parameter 'x'", "Invalid parameter type for 'x', expected: int") is
 * done here, generically, from the table, before the handler runs.
 *
 * ## Adding a command (from any file: blockdev/, hw/, ...)
 *
 *     static void qmp_eject(JsonObject *args, JsonNode **ret, Error **errp)
 *     {
 *         const char *device = json_object_get_string_member(args, "device");
 *         bool force = monitor_arg_bool(args, "force", false);
 *         ...  on failure: error_set(errp, ERROR_CLASS_DEVICE_NOT_FOUND, "Device '%s' not
 *         found", device); return;  on success leave *ret NULL (QMP answers {}) or set it.
 *     }
 *
 *     static const MonitorCommand eject_cmds[] = {
 *         { .name = "eject", .args_type = "force:-f,device:B", .fn = qmp_eject,
 *           .hmp_name = "eject", .hmp_params = "[-f] device",
 *           .hmp_help = "eject a removable medium (use -f to force it)" },
 *         { NULL },
 *     };
 *     MONITOR_REGISTER_COMMANDS(eject_cmds);
 *
 * That is all: the command appears in QMP, query-commands, HMP and `help`.
 *
 * ## args_type: QEMU 2.2's args_type strings, copied from its tables as they are
 *
 * Comma-separated NAME:TYPE, a trailing '?' marks an optional argument. Types:
 *   s  string          B  drive name (string)     F  file name (string)
 *   S  string; in HMP the rest of the line      O  options "k=v,..." in HMP; any JSON in QMP
 *   i, l  integer      o  size (integer; HMP accepts suffixes k/M/G/T/P/E)
 *   b  bool (HMP: on|off)                        q  any JSON value (checked by the handler)
 *   -X flag: a bool in QMP; in HMP "-X" before the positional arguments
 * QMP checks types as 2.2: s/B/F/S -> "string", i/l/o -> "int", b/- -> "bool".
 * HMP reads positional arguments in table order; an HMP syntax that differs from QMP's
 * gets its own hmp_args_type, and hmp_convert maps the parsed arguments onto QMP's.
 *
 * ## Handlers
 * Run in the main thread with the BQL held. args is always an object (possibly empty)
 * that has passed the table check; the handler may read it but must not keep it.
 * *ret: a new JsonNode (ownership passes to the monitor) or NULL for {}.
 */
#ifndef MONITOR_COMMAND_H
#define MONITOR_COMMAND_H

#include <stdbool.h>
#include <stdint.h>
#include <json-glib/json-glib.h>
#include "util/error.h"

typedef struct Monitor Monitor;

typedef void MonitorCommandFn(JsonObject *args, JsonNode **ret, Error **errp);
/* HMP: print a successful command's result (info commands); ret may be NULL; args are
 * the arguments parsed from the HMP line (e.g. "info block -v ide0-hd0"). */
typedef void MonitorPrintFn(Monitor *mon, JsonObject *args, JsonNode *ret);
/* HMP: turn arguments parsed from the HMP syntax into the QMP command's arguments. */
typedef bool MonitorConvertFn(JsonObject *args, Error **errp);
/* HMP: offered a failed command's error before it is printed; true when it took care of it
 * (cont and change ask for the password of an encrypted drive instead). */
typedef bool MonitorHmpErrorFn(Monitor *mon, JsonObject *args, const Error *err);

typedef struct MonitorCommand {
    const char *name;      /* QMP name; NULL for HMP-only commands (help, info) */
    const char *args_type; /* QMP argument table; NULL or "" means no arguments */
    MonitorCommandFn *fn;
    const char *hmp_name;      /* "cont|c" (aliases after '|'), "info status"; NULL: QMP only */
    const char *hmp_args_type; /* HMP syntax when it differs from args_type */
    const char *hmp_params;    /* for help: "[-f] device" */
    const char *hmp_help;
    MonitorPrintFn *hmp_print;
    MonitorConvertFn *hmp_convert;
    MonitorHmpErrorFn *hmp_error;
    bool qmp_before_caps;        /* QMP: allowed before capabilities negotiation */
    bool qmp_after_caps_refused; /* QMP: refused once negotiated (qmp_capabilities, as 2.2) */
} MonitorCommand;

/* Register a NULL-terminated (name and hmp_name both NULL) array; it must stay alive. */
void monitor_register_commands(const MonitorCommand *cmds);
#define MONITOR_REGISTER_COMMANDS(table)                                                           \
    static void __attribute__((constructor)) monitor_register_##table(void)                        \
    {                                                                                              \
        monitor_register_commands(table);                                                          \
    }

/* Lookups over every registered table, in registration order. */
const MonitorCommand *monitor_find_qmp(const char *name);
const MonitorCommand *monitor_find_hmp(const char *name); /* "cont", "c", "info status" */
/* Iterate: NULL starts; returns NULL after the last command. */
const MonitorCommand *monitor_command_next(const MonitorCommand *prev);

/*
 * Check args against an args_type table as QMP does (unknown, missing, wrong JSON type);
 * 2.2 texts. The first problem found is reported.
 */
bool monitor_check_args(const char *args_type, JsonObject *args, Error **errp);
/* Call cmd's handler with checked args; returns the result (NULL on error or for {}). */
JsonNode *monitor_call(const MonitorCommand *cmd, JsonObject *args, Error **errp);

/* Typed reads of checked arguments (def when absent). */
const char *monitor_arg_str(JsonObject *args, const char *name);
int64_t monitor_arg_int(JsonObject *args, const char *name, int64_t def);
bool monitor_arg_bool(JsonObject *args, const char *name, bool def);

#endif
