/*
 * Monitors: HMP (readline mode, "(qemu) ") and QMP (control mode) on any chardev, several
 * at once, and the event API the rest of the VMM uses. The commands they run live in one
 * table (monitor/command.h).
 */
#ifndef MONITOR_MONITOR_H
#define MONITOR_MONITOR_H

#include <stdbool.h>
#include <json-glib/json-glib.h>
#include "monitor/command.h"
#include "util/chardev.h"

#define QEMU_VERSION_MAJOR 2
#define QEMU_VERSION_MINOR 2
#define QEMU_VERSION_MICRO 0
#define QEMU_VERSION_STR "2.2.0"

typedef enum MonitorMode { MONITOR_MODE_READLINE, MONITOR_MODE_CONTROL } MonitorMode;

/* Start a monitor on chr (-mon, -qmp, -monitor, "mon:" specs). */
Monitor *monitor_new(Chardev *chr, MonitorMode mode, bool pretty);

/*
 * Emit a QMP event: stamped with the wall clock and sent to every QMP monitor that has
 * negotiated capabilities. data (may be NULL: no "data" member) is taken over. Call with
 * the BQL held (any thread); without it the event is handed to the main loop.
 */
void monitor_event(const char *name, JsonObject *data);

/* HMP output; "\n" becomes "\r\n" as on QEMU's monitors. */
void monitor_printf(Monitor *mon, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void monitor_puts(Monitor *mon, const char *s);

/*
 * HMP: read the next line typed on mon as a password (QEMU's monitor_read_password): the
 * "Password: " prompt shows when the running command returns, typed characters echo as '*';
 * fn gets the line, then mon reads commands again. A monitor without a terminal
 * (human-monitor-command) prints "terminal does not support password prompting" and
 * returns -ENOTTY; 0 otherwise.
 */
typedef void MonitorPasswordFn(Monitor *mon, const char *password, void *opaque);
int monitor_read_password(Monitor *mon, MonitorPasswordFn *fn, void *opaque);

/* Run one HMP command line and return what it printed (human-monitor-command). */
char *hmp_run_capture(const char *line);

#endif
