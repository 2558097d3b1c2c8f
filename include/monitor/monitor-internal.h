/*
 * Inside the monitor (the files of monitor/): the Monitor structure shared by the HMP and
 * QMP halves, and the entry points between them. Other code uses monitor/monitor.h.
 */
#ifndef MONITOR_MONITOR_INTERNAL_H
#define MONITOR_MONITOR_INTERNAL_H

#include <glib.h>
#include "monitor/json-stream.h"
#include "monitor/monitor.h"
#include "monitor/readline.h"

struct Monitor {
    Chardev *chr; /* NULL: output goes to capture (human-monitor-command) */
    GString *capture;
    MonitorMode mode;
    bool pretty;
    /* QMP */
    JsonStream stream;
    bool negotiated; /* qmp_capabilities done: commands and events */
    /* HMP */
    ReadLine rl;
    bool mux_out;                   /* a mux chardev gave the focus to another front end */
    bool reset_seen;                /* the chardev opened: the banner is out (or held) */
    GString *held;                  /* output while unfocused */
    MonitorPasswordFn *password_fn; /* monitor_read_password() waits for this one's line */
    void *password_opaque;
};

/* Write raw text to the monitor's chardev or capture buffer ("\n" -> "\r\n"). */
void monitor_write(Monitor *mon, const char *s, size_t len);
/* Every monitor, for event broadcast. */
GPtrArray *monitor_list(void);

/* {"qemu": {"micro", "minor", "major"}, "package": ""}: greeting and query-version. */
JsonObject *qmp_version_info(void);
void qmp_monitor_init(Monitor *mon);
void qmp_monitor_event(Monitor *mon, ChrEvent event);
void hmp_monitor_init(Monitor *mon);
void hmp_monitor_event(Monitor *mon, ChrEvent event);
/* Parse and run one HMP line on mon, printing output and errors. */
void hmp_handle_line(Monitor *mon, const char *line);

#endif
