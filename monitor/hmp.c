/*
 * HMP, the human monitor: banner and "(qemu) " prompt, readline input, and the parser that
 * turns "eject -f ide1-cd0" into the arguments of the same table entry QMP uses, as QEMU
 * 2.2 parses them (flags first, quoted strings, sizes with suffixes, its error lines).
 * Errors of a command are printed as their text; output formatting of results is the
 * command's hmp_print. No command logic lives here; the password prompt (a line read in
 * readline's password mode, for the commands that ask for a drive's key) is here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "monitor/monitor-internal.h"
#include "util/cutils.h"

#define HMP_BANNER "QEMU " QEMU_VERSION_STR " monitor - type 'help' for more information\n"

/* The next word (possibly "quoted" with \n \r \\ \' \" escapes); NULL at the end or on a
 * quoting error (printed on stdout, as 2.2 does). */
static char *hmp_get_str(const char **pp)
{
    const char *p = *pp;
    GString *s = g_string_new(NULL);

    while (g_ascii_isspace(*p)) {
        p++;
    }
    if (*p == '\0') {
        goto fail;
    }
    if (*p != '"') {
        while (*p && !g_ascii_isspace(*p)) {
            g_string_append_c(s, *p++);
        }
        *pp = p;
        return g_string_free(s, FALSE);
    }
    for (p++; *p && *p != '"'; p++) {
        char c = *p;

        if (c == '\\') {
            c = *++p;
            if (c == 'n' || c == 'r') {
                c = c == 'n' ? '\n' : '\r';
            } else if (c != '\\' && c != '\'' && c != '"') {
                printf("unsupported escape code: '\\%c'\n", c);
                goto fail;
            }
        }
        g_string_append_c(s, c);
    }
    if (*p != '"') {
        printf("unterminated string\n");
        goto fail;
    }
    *pp = p + 1;
    return g_string_free(s, FALSE);
fail:
    *pp = p;
    g_string_free(s, TRUE);
    return NULL;
}

/* An integer (2.2 reads an expression; a number with its sign covers HMP's uses here). */
static bool hmp_get_int(Monitor *mon, const char **pp, int64_t *val)
{
    const char *p = *pp;
    char *end;

    while (g_ascii_isspace(*p)) {
        p++;
    }
    if (*p == '\0') {
        monitor_printf(mon, "unexpected end of expression\n");
        return false;
    }
    errno = 0;
    *val = g_ascii_strtoll(p, &end, 0);
    if (end == p || errno || (*end && !g_ascii_isspace(*end))) {
        monitor_printf(mon, "invalid char in expression\n");
        return false;
    }
    *pp = end;
    return true;
}

/* A size: suffixes k/M/G/T/P/E, and megabytes without one (2.2's strtosz). */
static bool hmp_get_size(Monitor *mon, const char **pp, int64_t *val)
{
    g_autofree char *word = hmp_get_str(pp);
    uint64_t sz;

    if (!word || parse_size_default_suffix(word, 'M', &sz, NULL) < 0 || sz > INT64_MAX) {
        monitor_printf(mon, "invalid size\n");
        return false;
    }
    *val = sz;
    return true;
}

static const char *hmp_skip_space(const char *p)
{
    while (g_ascii_isspace(*p)) {
        p++;
    }
    return p;
}

/*
 * "-f" flags: present only if the line has it here (2.2 wants flags in table order).
 * flags: every flag letter of the command, so a later one is left for its own entry.
 */
static bool hmp_parse_flag(Monitor *mon, const char *cmdname, const char *key, char flag,
                           const char *flags, const char **pp, JsonObject *args)
{
    const char *p = hmp_skip_space(*pp);

    if (*p != '-') {
        return true;
    }
    if (p[1] == flag) {
        json_object_set_boolean_member(args, key, true);
        *pp = p + 2;
        return true;
    }
    if (p[1] && strchr(flags, p[1])) {
        return true;
    }
    monitor_printf(mon, "%s: unsupported option -%c\n", cmdname, p[1]);
    return false;
}

static bool hmp_parse_string(Monitor *mon, const char *cmdname, const char *key, char type,
                             bool optional, const char **pp, JsonObject *args)
{
    char *val;

    if (type == 'S') {
        const char *p = hmp_skip_space(*pp);

        if (!*p) {
            if (!optional) {
                monitor_printf(mon, "%s: string expected\n", cmdname);
            }
            return optional;
        }
        json_object_set_string_member(args, key, p);
        *pp = p + strlen(p);
        return true;
    }
    if (optional && !*hmp_skip_space(*pp)) {
        return true;
    }
    val = hmp_get_str(pp);
    if (!val) {
        monitor_printf(mon, "%s: %s expected\n", cmdname,
                       type == 'F'   ? "filename"
                       : type == 'B' ? "block device name"
                                     : "string");
        return false;
    }
    json_object_set_string_member(args, key, val);
    g_free(val);
    return true;
}

static bool hmp_parse_bool(Monitor *mon, const char *key, bool optional, const char **pp,
                           JsonObject *args)
{
    g_autofree char *word = NULL;

    if (optional && !*hmp_skip_space(*pp)) {
        return true;
    }
    word = hmp_get_str(pp);
    if (!word || (strcmp(word, "on") != 0 && strcmp(word, "off") != 0)) {
        monitor_printf(mon, "Expected 'on' or 'off'\n");
        return false;
    }
    json_object_set_boolean_member(args, key, !strcmp(word, "on"));
    return true;
}

/* One "key:type" entry of the HMP argument table. */
static bool hmp_parse_arg(Monitor *mon, const char *cmdname, const char *entry, const char *flags,
                          const char **pp, JsonObject *args)
{
    g_auto(GStrv) kv = g_strsplit(entry, ":", 2);
    const char *type = kv[1] ? kv[1] : "";
    bool optional = g_str_has_suffix(type, "?");
    int64_t val;

    switch (type[0]) {
    case '-':
        return hmp_parse_flag(mon, cmdname, kv[0], type[1], flags, pp, args);
    case 's':
    case 'B':
    case 'F':
    case 'S':
        return hmp_parse_string(mon, cmdname, kv[0], type[0], optional, pp, args);
    case 'b':
        return hmp_parse_bool(mon, kv[0], optional, pp, args);
    case 'i':
    case 'l':
    case 'M':
    case 'o':
        if (optional && !*hmp_skip_space(*pp)) {
            return true;
        }
        if (!(type[0] == 'o' ? hmp_get_size(mon, pp, &val) : hmp_get_int(mon, pp, &val))) {
            return false;
        }
        json_object_set_int_member(args, kv[0], val);
        return true;
    default:
        monitor_printf(mon, "%s: unknown type '%c'\n", cmdname, type[0]);
        return false;
    }
}

/* Arguments of cmd from the rest of the line, or NULL after printing what is wrong. */
static JsonObject *hmp_parse_args(Monitor *mon, const MonitorCommand *cmd, const char *cmdname,
                                  const char *p)
{
    const char *table = cmd->hmp_args_type ? cmd->hmp_args_type : cmd->args_type;
    g_auto(GStrv) entries = g_strsplit(table ? table : "", ",", -1);
    JsonObject *args = json_object_new();
    GString *flags = g_string_new(NULL);
    bool ok = true;

    for (int i = 0; entries[i]; i++) {
        const char *colon = strchr(entries[i], ':');

        if (colon && colon[1] == '-' && colon[2]) {
            g_string_append_c(flags, colon[2]);
        }
    }
    for (int i = 0; entries[i] && ok; i++) {
        ok = !*entries[i] || hmp_parse_arg(mon, cmdname, entries[i], flags->str, &p, args);
    }
    g_string_free(flags, TRUE);
    if (!ok) {
        json_object_unref(args);
        return NULL;
    }
    p = hmp_skip_space(p);
    if (*p) {
        monitor_printf(mon, "%s: extraneous characters at the end of line\n", cmdname);
        json_object_unref(args);
        return NULL;
    }
    return args;
}

/* The message as 2.2 printed it, then the hint (who holds a lock ...) as later QEMUs do. */
static void hmp_report_error(Monitor *mon, Error *err)
{
    monitor_printf(mon, "%s\n%s", error_get_pretty(err), error_get_hint(err));
    error_free(err);
}

static void hmp_run(Monitor *mon, const MonitorCommand *cmd, const char *cmdname, const char *rest)
{
    JsonObject *args = hmp_parse_args(mon, cmd, cmdname, rest);
    Error *err = NULL;
    JsonNode *ret;

    if (!args) {
        return;
    }
    if (cmd->hmp_convert && !cmd->hmp_convert(args, &err)) {
        hmp_report_error(mon, err);
        json_object_unref(args);
        return;
    }
    ret = monitor_call(cmd, args, &err);
    if (err && cmd->hmp_error && cmd->hmp_error(mon, args, err)) {
        error_free(err);
    } else if (err) {
        hmp_report_error(mon, err);
    } else if (cmd->hmp_print) {
        cmd->hmp_print(mon, args, ret);
    }
    if (ret) {
        json_node_unref(ret);
    }
    json_object_unref(args);
}

/* A command name runs up to white space or '/' (2.2's format suffixes). */
static char *hmp_get_name(const char **pp)
{
    const char *p = hmp_skip_space(*pp);
    const char *start = p;

    while (*p && *p != '/' && !g_ascii_isspace(*p)) {
        p++;
    }
    *pp = p;
    return g_strndup(start, p - start);
}

void hmp_handle_line(Monitor *mon, const char *line)
{
    const char *p = line;
    g_autofree char *name = hmp_get_name(&p);
    g_autofree char *cmdname = NULL;
    const MonitorCommand *cmd;

    if (!*name) {
        return;
    }
    cmdname = g_strdup(name);
    if (!strcmp(name, "info") && *hmp_skip_space(p)) {
        const char *q = p;
        g_autofree char *sub = hmp_get_name(&q);

        g_free(cmdname);
        cmdname = g_strdup_printf("info %s", sub);
        p = q;
    }
    cmd = monitor_find_hmp(cmdname);
    if (!cmd) {
        monitor_printf(mon, "unknown command: '%s'\n", cmdname);
        return;
    }
    hmp_run(mon, cmd, strchr(cmdname, ' ') ? strchr(cmdname, ' ') + 1 : cmdname, p);
}

static void hmp_print_cb(void *opaque, const char *text)
{
    monitor_puts(opaque, text);
}

static void hmp_line_cb(void *opaque, const char *line)
{
    Monitor *mon = opaque;

    hmp_handle_line(mon, line);
    readline_show_prompt(&mon->rl);
}

void hmp_monitor_init(Monitor *mon)
{
    readline_init(&mon->rl, "(qemu) ", hmp_print_cb, hmp_line_cb, mon);
}

/* The password line: back to commands first, so fn may ask for another password. */
static void hmp_password_cb(void *opaque, const char *line)
{
    Monitor *mon = opaque;
    MonitorPasswordFn *fn = mon->password_fn;

    mon->password_fn = NULL;
    readline_start(&mon->rl, "(qemu) ", false, hmp_line_cb, mon);
    fn(mon, line, mon->password_opaque);
    readline_show_prompt(&mon->rl);
}

int monitor_read_password(Monitor *mon, MonitorPasswordFn *fn, void *opaque)
{
    if (!mon->chr) {
        monitor_printf(mon, "terminal does not support password prompting\n");
        return -ENOTTY;
    }
    mon->password_fn = fn;
    mon->password_opaque = opaque;
    readline_start(&mon->rl, "Password: ", true, hmp_password_cb, mon);
    return 0;
}

void hmp_monitor_event(Monitor *mon, ChrEvent event)
{
    switch (event) {
    case CHR_EVENT_OPENED:
        readline_restart(&mon->rl);
        monitor_puts(mon, HMP_BANNER);
        if (!mon->mux_out) {
            readline_show_prompt(&mon->rl);
        }
        mon->reset_seen = true;
        break;
    case CHR_EVENT_MUX_IN:
        if (mon->reset_seen) {
            readline_restart(&mon->rl);
            readline_show_prompt(&mon->rl);
        }
        break;
    default:
        break;
    }
}

char *hmp_run_capture(const char *line)
{
    Monitor *mon = monitor_new(NULL, MONITOR_MODE_READLINE, false);
    char *out;

    hmp_handle_line(mon, line);
    out = g_string_free(mon->capture, FALSE);
    readline_free(&mon->rl);
    g_string_free(mon->held, TRUE);
    g_free(mon);
    return out;
}
