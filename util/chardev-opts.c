/*
 * -chardev BACKEND,id=ID,...: QEMU's option syntax for the socket, stdio, file and null
 * backends, and the registry of chardevs by id that "chardev:ID" specs, -mon chardev=ID and
 * device options look up. Messages are QEMU 2.2's.
 */
#include <string.h>
#include <glib.h>
#include "util/chardev-internal.h"
#include "util/opts.h"

static const OptDesc chardev_desc[] = {
    {"backend", OPT_STRING},
    {"path", OPT_STRING},
    {"host", OPT_STRING},
    {"port", OPT_STRING},
    {"server", OPT_BOOL},
    {"wait", OPT_BOOL},
    {"telnet", OPT_BOOL},
    {"nodelay", OPT_BOOL},
    {"ipv4", OPT_BOOL},
    {"ipv6", OPT_BOOL},
    {"mux", OPT_BOOL},
    {"signal", OPT_BOOL},
    {NULL},
};
static const OptsList chardev_opts = {"chardev", "backend", false, chardev_desc};

static GHashTable *chardevs_by_id;

Chardev *chr_find(const char *id)
{
    return chardevs_by_id ? g_hash_table_lookup(chardevs_by_id, id) : NULL;
}

static bool chr_opts_socket(Chardev *chr, Opts *opts, Error **errp)
{
    ChrSocketOpts o = {
        .path = opts_get(opts, "path"),
        .host = opts_get(opts, "host"),
        .port = opts_get(opts, "port"),
        .server = opts_get_bool(opts, "server", false),
        .wait = opts_get_bool(opts, "wait", true),
        .telnet = opts_get_bool(opts, "telnet", false),
    };

    if (!o.path) {
        if (!o.host) {
            error_setg(errp, "chardev: socket: no host given");
            return false;
        }
        if (!o.port) {
            error_setg(errp, "chardev: socket: no port given");
            return false;
        }
    }
    return chr_socket_open(chr, &o, errp);
}

static bool chr_opts_backend(Chardev *chr, const char *backend, Opts *opts, Error **errp)
{
    if (!strcmp(backend, "socket")) {
        return chr_opts_socket(chr, opts, errp);
    }
    if (!strcmp(backend, "file")) {
        g_autofree char *spec = NULL;

        if (!opts_get(opts, "path")) {
            error_setg(errp, "chardev: file: no filename given");
            return false;
        }
        spec = g_strconcat("file:", opts_get(opts, "path"), NULL);
        return chr_open_spec(chr, spec, errp);
    }
    if (!strcmp(backend, "stdio") || !strcmp(backend, "null")) {
        return chr_open_spec(chr, backend, errp);
    }
    error_setg(errp, "chardev: backend \"%s\" not found", backend);
    return false;
}

Chardev *chr_new_from_opts(const char *optstr, Error **errp)
{
    Opts *opts = opts_parse(&chardev_opts, optstr, true, errp);
    const char *id, *backend;
    Chardev *chr = NULL;

    if (!opts) {
        return NULL;
    }
    id = opts_id(opts);
    backend = opts_get(opts, "backend");
    if (!id) {
        error_setg(errp, "chardev: no id specified");
    } else if (chr_find(id)) {
        error_setg(errp, "Duplicate ID '%s' for chardev", id);
    } else if (!backend) {
        error_setg(errp, "chardev: \"%s\" missing backend", id);
    } else {
        chr = chr_alloc(id);
        if (!chr_opts_backend(chr, backend, opts, errp)) {
            chr_free(chr);
            chr = NULL;
        } else if (opts_get_bool(opts, "mux", false)) {
            chr_set_mux(chr);
        }
    }
    if (chr) {
        if (!chardevs_by_id) {
            chardevs_by_id = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        }
        g_hash_table_insert(chardevs_by_id, g_strdup(id), chr);
    }
    opts_free(opts);
    return chr;
}
