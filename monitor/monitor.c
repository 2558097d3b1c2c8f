/*
 * Monitor objects: one per -mon/-qmp/-monitor (or "mon:" chardev), attached to a chardev as
 * a front end, in readline (HMP) or control (QMP) mode. This file owns the output path
 * ("\n" becomes "\r\n", output held while a mux gives the focus elsewhere) and the chardev
 * hooks; the protocols are qmp.c and hmp.c.
 */
#include <stdarg.h>
#include <string.h>
#include <glib.h>
#include "monitor/monitor-internal.h"
#include "util/main-loop.h"

static GPtrArray *monitors;

GPtrArray *monitor_list(void)
{
    if (!monitors) {
        monitors = g_ptr_array_new();
    }
    return monitors;
}

static void monitor_emit(Monitor *mon, const char *s, size_t len)
{
    if (!mon->chr) {
        g_string_append_len(mon->capture, s, len);
    } else if (mon->mux_out) {
        g_string_append_len(mon->held, s, len);
    } else {
        chr_write(mon->chr, (const uint8_t *)s, len);
    }
}

void monitor_write(Monitor *mon, const char *s, size_t len)
{
    GString *out = g_string_sized_new(len + 16);

    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n') {
            g_string_append_c(out, '\r');
        }
        g_string_append_c(out, s[i]);
    }
    monitor_emit(mon, out->str, out->len);
    g_string_free(out, TRUE);
}

void monitor_puts(Monitor *mon, const char *s)
{
    monitor_write(mon, s, strlen(s));
}

void monitor_printf(Monitor *mon, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *s = NULL;

    va_start(ap, fmt);
    s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    monitor_puts(mon, s);
}

/* A mux chardev moved the focus: hold output meanwhile, release it on return. */
static void monitor_mux_focus(Monitor *mon, bool in)
{
    mon->mux_out = !in;
    if (in && mon->held->len) {
        chr_write(mon->chr, (const uint8_t *)mon->held->str, mon->held->len);
        g_string_truncate(mon->held, 0);
    }
}

/* No input while this thread waits inside a drain (see main_loop_nested_wait_begin). */
static int monitor_can_read(void *opaque)
{
    return main_loop_in_nested_wait() ? 0 : 4096;
}

static void monitor_read(void *opaque, const uint8_t *buf, size_t len)
{
    Monitor *mon = opaque;

    if (mon->mode == MONITOR_MODE_CONTROL) {
        json_stream_feed(&mon->stream, (const char *)buf, len);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        readline_handle_byte(&mon->rl, buf[i]);
    }
}

static void monitor_chr_event(void *opaque, ChrEvent event)
{
    Monitor *mon = opaque;

    if (event == CHR_EVENT_MUX_OUT && mon->mode == MONITOR_MODE_READLINE && mon->reset_seen) {
        monitor_puts(mon, "\n"); /* leave the half-typed line, as QEMU */
    }
    /* As QEMU: only HMP holds its output while unfocused; QMP answers and events flow. */
    if ((event == CHR_EVENT_MUX_IN || event == CHR_EVENT_MUX_OUT) &&
        mon->mode == MONITOR_MODE_READLINE) {
        monitor_mux_focus(mon, event == CHR_EVENT_MUX_IN);
    }
    if (mon->mode == MONITOR_MODE_CONTROL) {
        qmp_monitor_event(mon, event);
    } else {
        hmp_monitor_event(mon, event);
    }
}

Monitor *monitor_new(Chardev *chr, MonitorMode mode, bool pretty)
{
    Monitor *mon = g_new0(Monitor, 1);

    mon->chr = chr;
    mon->mode = mode;
    mon->pretty = pretty;
    mon->held = g_string_new(NULL);
    if (!chr) {
        mon->capture = g_string_new(NULL);
    }
    if (mode == MONITOR_MODE_CONTROL) {
        qmp_monitor_init(mon);
    } else {
        hmp_monitor_init(mon);
    }
    if (chr) {
        g_ptr_array_add(monitor_list(), mon);
        chr_set_handlers_full(chr, monitor_can_read, monitor_read, monitor_chr_event, mon);
    }
    return mon;
}
