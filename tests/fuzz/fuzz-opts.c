/*
 * QemuOpts parsing (opts_parse) against three lists: typed options with an implied first
 * key, typed options without, and a list that takes any key. The first input byte picks the
 * list and permit_abbrev; the rest (up to a NUL) is the option string. A parsed Opts is read
 * back through every getter, and opts_to_string() must give a string that parses again into
 * the same options: a round trip that loses or mangles a value aborts.
 */
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "harness.h"
#include "util/opts.h"

static const OptDesc opts_fuzz_typed_desc[] = {
    {.name = "size", .type = OPT_SIZE}, {.name = "count", .type = OPT_NUMBER, .def_value_str = "4"},
    {.name = "on", .type = OPT_BOOL},   {.name = "file", .type = OPT_STRING},
    {.name = "id", .type = OPT_STRING}, {0},
};

static const OptsList opts_fuzz_lists[] = {
    {.name = "implied", .implied_opt_name = "size", .desc = opts_fuzz_typed_desc},
    {.name = "typed", .desc = opts_fuzz_typed_desc},
    {.name = "any", .implied_opt_name = "type"},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

static int opts_fuzz_visit(void *opaque, const char *name, const char *value, Error **errp)
{
    (*(unsigned *)opaque)++;
    return 0;
}

static void opts_fuzz_read_back(const Opts *opts)
{
    unsigned n = 0;
    JsonObject *dict;

    opts_get_bool(opts, "on", false);
    opts_get_number(opts, "count", 0);
    opts_get_size(opts, "size", 0);
    opts_get(opts, "file");
    opts_foreach(opts, opts_fuzz_visit, &n, NULL);
    dict = opts_to_dict(opts);
    json_object_unref(dict);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const OptsList *list;
    bool abbrev;
    g_autofree char *params = NULL;
    g_autofree char *str = NULL;
    g_autofree char *str2 = NULL;
    Error *err = NULL;
    Opts *opts, *again;

    if (size < 1) {
        return 0;
    }
    list = &opts_fuzz_lists[data[0] % G_N_ELEMENTS(opts_fuzz_lists)];
    abbrev = data[0] & 0x80;
    params = g_strndup((const char *)data + 1, size - 1);
    opts = opts_parse(list, params, abbrev, &err);
    if (!opts) {
        error_free(err);
        return 0;
    }
    opts_fuzz_read_back(opts);
    str = opts_to_string(opts);
    again = opts_parse(list, str, false, &err);
    if (!again) {
        fprintf(stderr, "opts round trip: '%s' -> '%s' does not parse: %s\n", params, str,
                error_get_pretty(err));
        abort();
    }
    str2 = opts_to_string(again);
    if (strcmp(str, str2) != 0) {
        fprintf(stderr, "opts round trip: '%s' -> '%s' -> '%s'\n", params, str, str2);
        abort();
    }
    opts_free(again);
    opts_free(opts);
    return 0;
}
