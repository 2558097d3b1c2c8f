/*
 * The monitor options: -chardev (kept, opened after the parse), -mon chardev=ID[,mode=]
 * [,pretty=], -qmp SPEC and -monitor SPEC|none, as QEMU 2.2 reads them; any of the last
 * three drops the default monitor. Chardevs open before monitors, and monitors before the
 * devices, so on a mux chardev the serial port (attached last) has the focus, as in QEMU.
 */
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "monitor/monitor.h"
#include "system/cmdline.h"
#include "util/chardev.h"

typedef struct MonitorArg {
    char *chardev_id; /* -mon chardev=ID */
    char *spec;       /* -qmp/-monitor SPEC */
    bool control;
    bool pretty;
    char *loc; /* for errors: "-mon chardev=x" */
} MonitorArg;

static const OptDesc mon_desc[] = {
    {"mode", OPT_STRING},
    {"chardev", OPT_STRING},
    {"default", OPT_BOOL},
    {"pretty", OPT_BOOL},
    {NULL},
};
static const OptsList mon_opts = {"mon", NULL, false, mon_desc};

static void cmdline_add_monitor(VMConfig *cfg, MonitorArg *m, const char *opt, const char *arg)
{
    if (!cfg->monitors) {
        cfg->monitors = g_ptr_array_new();
    }
    m->loc = g_strdup_printf("%s %s", opt, arg);
    g_ptr_array_add(cfg->monitors, m);
    cfg->no_default_monitor = true;
}

bool cmdline_opt_chardev(VMConfig *cfg, const char *arg, Error **errp)
{
    if (!cfg->chardevs) {
        cfg->chardevs = g_ptr_array_new();
    }
    g_ptr_array_add(cfg->chardevs, (gpointer)arg);
    return true;
}

bool cmdline_opt_mon(VMConfig *cfg, const char *arg, Error **errp)
{
    Opts *opts = opts_parse(&mon_opts, arg, true, errp);
    const char *mode;
    MonitorArg *m;

    if (!opts) {
        return false;
    }
    mode = opts_get(opts, "mode");
    if (mode && strcmp(mode, "readline") != 0 && strcmp(mode, "control") != 0) {
        error_setg(errp, "unknown monitor mode \"%s\"", mode);
        opts_free(opts);
        return false;
    }
    if (!opts_get(opts, "chardev")) {
        error_setg(errp, "Parameter 'chardev' is missing");
        opts_free(opts);
        return false;
    }
    m = g_new0(MonitorArg, 1);
    m->chardev_id = g_strdup(opts_get(opts, "chardev"));
    m->control = mode && !strcmp(mode, "control");
    m->pretty = opts_get_bool(opts, "pretty", false);
    opts_free(opts);
    cmdline_add_monitor(cfg, m, "-mon", arg);
    return true;
}

static bool cmdline_monitor_spec(VMConfig *cfg, const char *opt, const char *arg, bool control)
{
    MonitorArg *m;

    if (!control && !strcmp(arg, "none")) {
        cfg->no_default_monitor = true;
        return true;
    }
    m = g_new0(MonitorArg, 1);
    m->spec = g_strdup(arg);
    m->control = control;
    cmdline_add_monitor(cfg, m, opt, arg);
    return true;
}

bool cmdline_opt_qmp(VMConfig *cfg, const char *arg, Error **errp)
{
    return cmdline_monitor_spec(cfg, "-qmp", arg, true);
}

bool cmdline_opt_monitor(VMConfig *cfg, const char *arg, Error **errp)
{
    return cmdline_monitor_spec(cfg, "-monitor", arg, false);
}

static void cmdline_fail(const char *loc, Error *err)
{
    error_set_location(loc);
    error_report_err(err);
    exit(1);
}

static void cmdline_start_monitor(MonitorArg *m, unsigned index)
{
    Error *err = NULL;
    Chardev *chr;

    if (m->chardev_id) {
        chr = chr_find(m->chardev_id);
        if (!chr) {
            error_setg(&err, "chardev \"%s\" not found", m->chardev_id);
        }
    } else {
        g_autofree char *label = g_strdup_printf("compat_monitor%u", index);

        chr = chr_new_from_spec(label, m->spec, &err);
    }
    if (!chr) {
        cmdline_fail(m->loc, err);
    }
    monitor_new(chr, m->control ? MONITOR_MODE_CONTROL : MONITOR_MODE_READLINE, m->pretty);
}

void cmdline_create_monitors(VMConfig *cfg)
{
    Error *err = NULL;

    for (guint i = 0; cfg->chardevs && i < cfg->chardevs->len; i++) {
        const char *arg = g_ptr_array_index(cfg->chardevs, i);

        if (!chr_new_from_opts(arg, &err)) {
            g_autofree char *loc = g_strdup_printf("-chardev %s", arg);

            cmdline_fail(loc, err);
        }
    }
    for (guint i = 0; cfg->monitors && i < cfg->monitors->len; i++) {
        cmdline_start_monitor(g_ptr_array_index(cfg->monitors, i), i);
    }
    error_set_location(NULL);
}
