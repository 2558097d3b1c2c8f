/*
 * QemuOpts-style option strings: splitting "key=val,,more,flag,noflag" into ordered
 * key/value pairs, checking them against an OptsList's descriptor table, and reading them
 * back typed. Not a registry of option lists or of parsed Opts (duplicate-id checks and
 * merge_lists belong to the caller that keeps them), and not the block layer's dotted
 * dictionary (qdict.c).
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "util/cutils.h"
#include "util/opts.h"

typedef struct Opt {
    char *name;
    char *value;
} Opt;

struct Opts {
    const OptsList *list;
    char *id;
    GPtrArray *opts; /* of Opt *, in the order given */
};

static void opt_free(gpointer p)
{
    Opt *opt = p;

    g_free(opt->name);
    g_free(opt->value);
    g_free(opt);
}

Opts *opts_new(const OptsList *list, const char *id)
{
    Opts *opts = g_new0(Opts, 1);

    opts->list = list;
    opts->id = g_strdup(id);
    opts->opts = g_ptr_array_new_with_free_func(opt_free);
    return opts;
}

void opts_free(Opts *opts)
{
    if (opts) {
        g_ptr_array_unref(opts->opts);
        g_free(opts->id);
        g_free(opts);
    }
}

const char *opts_id(const Opts *opts)
{
    return opts->id;
}

const OptsList *opts_list(const Opts *opts)
{
    return opts->list;
}

static bool opts_accepts_any(const OptsList *list)
{
    return !list->desc || !list->desc[0].name;
}

static const OptDesc *opts_find_desc(const OptsList *list, const char *name)
{
    for (const OptDesc *d = list->desc; d && d->name; d++) {
        if (!strcmp(d->name, name)) {
            return d;
        }
    }
    return NULL;
}

/* ---- Splitting ---- */

/* A name runs up to delim or the end; it has no escapes. */
static const char *opt_get_name(const char *p, char delim, char **out)
{
    const char *end = strchrnul(p, delim);

    *out = g_strndup(p, end - p);
    return end;
}

/* A value runs up to a single ','; ",," stands for a literal comma. */
static const char *opt_get_value(const char *p, char **out)
{
    GString *s = g_string_new(NULL);

    while (*p) {
        if (*p == ',') {
            if (p[1] != ',') {
                break;
            }
            p++;
        }
        g_string_append_c(s, *p++);
    }
    *out = g_string_free(s, FALSE);
    return p;
}

/*
 * One element at p: "key=value"; or, when it has no '=', the implied key's value (first
 * element only), else a flag: "key" means key=on and "nokey" means key=off.
 * Returns the position after the element (at ',' or the end).
 */
static const char *opts_split_element(const char *p, const char *implied, char **name,
                                      char **value)
{
    const char *pe = strchr(p, '=');
    const char *pc = strchr(p, ',');

    if (pe && (!pc || pe < pc)) {
        p = opt_get_name(p, '=', name);
        return opt_get_value(p + 1, value);
    }
    if (implied) {
        *name = g_strdup(implied);
        return opt_get_value(p, value);
    }
    p = opt_get_name(p, ',', name);
    if (g_str_has_prefix(*name, "no")) {
        memmove(*name, *name + 2, strlen(*name + 2) + 1);
        *value = g_strdup("off");
    } else {
        *value = g_strdup("on");
    }
    return p;
}

/* ---- Validation ---- */

static bool opt_check_size(const char *name, const char *value, Error **errp)
{
    uint64_t size;

    return parse_size_param(name, value, &size, errp);
}

static bool opt_check(const OptsList *list, const char *name, const char *value,
                      Error **errp)
{
    const OptDesc *desc = opts_find_desc(list, name);
    uint64_t num;
    bool b;

    if (!desc) {
        if (opts_accepts_any(list)) {
            return true;
        }
        error_setg(errp, "Invalid parameter '%s'", name);
        return false;
    }
    switch (desc->type) {
    case OPT_BOOL:
        return parse_bool(name, value, &b, errp);
    case OPT_NUMBER:
        if (parse_uint(value, &num, 0) < 0) {
            error_setg(errp, "Parameter '%s' expects a number", name);
            return false;
        }
        return true;
    case OPT_SIZE:
        return opt_check_size(name, value, errp);
    case OPT_STRING:
        break;
    }
    return true;
}


static bool opts_add_parsed(Opts *opts, char *name, char *value, Error **errp)
{
    Opt *opt;

    if (!strcmp(name, "id")) {
        g_free(name);
        if (!id_wellformed(value)) {
            g_free(value);
            error_setg(errp, "Parameter 'id' expects an identifier");
            return false;
        }
        g_free(opts->id);
        opts->id = value;
        return true;
    }
    if (!opt_check(opts->list, name, value, errp)) {
        g_free(name);
        g_free(value);
        return false;
    }
    opt = g_new(Opt, 1);
    opt->name = name;
    opt->value = value;
    g_ptr_array_add(opts->opts, opt);
    return true;
}

Opts *opts_parse(const OptsList *list, const char *params, bool permit_abbrev, Error **errp)
{
    Opts *opts = opts_new(list, NULL);
    const char *implied = permit_abbrev ? list->implied_opt_name : NULL;
    char *name, *value;

    for (const char *p = params; *p; p++) {
        p = opts_split_element(p, p == params ? implied : NULL, &name, &value);
        if (!opts_add_parsed(opts, name, value, errp)) {
            opts_free(opts);
            return NULL;
        }
        if (*p != ',') {
            break;
        }
    }
    return opts;
}

/* ---- Access ---- */

static const Opt *opts_find_last(const Opts *opts, const char *name)
{
    for (guint i = opts->opts->len; i > 0; i--) {
        const Opt *opt = g_ptr_array_index(opts->opts, i - 1);

        if (!strcmp(opt->name, name)) {
            return opt;
        }
    }
    return NULL;
}

const char *opts_get(const Opts *opts, const char *name)
{
    const Opt *opt = opts_find_last(opts, name);

    return opt ? opt->value : NULL;
}

bool opts_has(const Opts *opts, const char *name)
{
    return opts_find_last(opts, name) != NULL;
}

static const char *opts_get_or_default(const Opts *opts, const char *name)
{
    const char *value = opts_get(opts, name);
    const OptDesc *desc;

    if (!value) {
        desc = opts_find_desc(opts->list, name);
        value = desc ? desc->def_value_str : NULL;
    }
    return value;
}

bool opts_get_bool(const Opts *opts, const char *name, bool def)
{
    const char *value = opts_get_or_default(opts, name);
    bool b;

    return value && parse_bool(name, value, &b, NULL) ? b : def;
}

uint64_t opts_get_number(const Opts *opts, const char *name, uint64_t def)
{
    const char *value = opts_get_or_default(opts, name);
    uint64_t num;

    return value && parse_uint(value, &num, 0) == 0 ? num : def;
}

uint64_t opts_get_size(const Opts *opts, const char *name, uint64_t def)
{
    const char *value = opts_get_or_default(opts, name);
    uint64_t size;

    return value && parse_size(value, &size, NULL) == 0 ? size : def;
}

void opts_unset(Opts *opts, const char *name)
{
    for (guint i = opts->opts->len; i > 0; i--) {
        const Opt *opt = g_ptr_array_index(opts->opts, i - 1);

        if (!strcmp(opt->name, name)) {
            g_ptr_array_remove_index(opts->opts, i - 1);
        }
    }
}

void opts_set(Opts *opts, const char *name, const char *value)
{
    Opt *opt = g_new(Opt, 1);

    opts_unset(opts, name);
    opt->name = g_strdup(name);
    opt->value = g_strdup(value);
    g_ptr_array_add(opts->opts, opt);
}

int opts_foreach(const Opts *opts, OptsForeachFn *fn, void *opaque, Error **errp)
{
    Error *local_err = NULL;
    int ret = 0;

    for (guint i = 0; i < opts->opts->len && !ret && !local_err; i++) {
        const Opt *opt = g_ptr_array_index(opts->opts, i);

        ret = fn(opaque, opt->name, opt->value, &local_err);
    }
    error_propagate(errp, local_err);
    return ret;
}

static void opts_append_escaped(GString *s, const char *name, const char *value)
{
    if (s->len) {
        g_string_append_c(s, ',');
    }
    g_string_append_printf(s, "%s=", name);
    for (const char *p = value; *p; p++) {
        if (*p == ',') {
            g_string_append_c(s, ',');
        }
        g_string_append_c(s, *p);
    }
}

char *opts_to_string(const Opts *opts)
{
    GString *s = g_string_new(NULL);

    if (opts->id) {
        opts_append_escaped(s, "id", opts->id);
    }
    for (guint i = 0; i < opts->opts->len; i++) {
        const Opt *opt = g_ptr_array_index(opts->opts, i);

        opts_append_escaped(s, opt->name, opt->value);
    }
    return g_string_free(s, FALSE);
}

JsonObject *opts_to_dict(const Opts *opts)
{
    JsonObject *dict = json_object_new();

    if (opts->id) {
        json_object_set_string_member(dict, "id", opts->id);
    }
    for (guint i = 0; i < opts->opts->len; i++) {
        const Opt *opt = g_ptr_array_index(opts->opts, i);

        json_object_set_string_member(dict, opt->name, opt->value);
    }
    return dict;
}

/* ---- Help ---- */

bool opts_is_help(const char *params)
{
    const char *p = params;
    char *elem;
    bool help = false;

    while (!help) {
        p = opt_get_value(p, &elem);
        help = !strcmp(elem, "help") || !strcmp(elem, "?");
        g_free(elem);
        if (*p != ',') {
            break;
        }
        p++;
    }
    return help;
}

void opts_print_help(const OptsList *list, FILE *f)
{
    fprintf(f, "Supported options:\n");
    for (const OptDesc *d = list->desc; d && d->name; d++) {
        fprintf(f, "%-16s %s\n", d->name, d->help ? d->help : "No description available");
    }
}
