/*
 * Command-line option strings in QEMU's QemuOpts syntax ("key=val,key2=val2", ",," for a
 * literal comma, an implied first key, bare "flag"/"noflag" booleans), checked against a
 * typed descriptor table. An Opts keeps every key=value string in order; typed getters parse
 * on demand. Not the dotted-key dictionary used by the block layer: opts_to_dict() hands
 * over to qdict.h, which is.
 */
#ifndef UTIL_OPTS_H
#define UTIL_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-glib/json-glib.h>
#include "util/error.h"

typedef enum { OPT_STRING, OPT_BOOL, OPT_NUMBER, OPT_SIZE } OptType;

typedef struct OptDesc {
    const char *name;
    OptType type;
    const char *help;
    const char *def_value_str;  /* used by the typed getters when the key is unset */
} OptDesc;

typedef struct OptsList {
    const char *name;             /* "drive", "machine"... */
    const char *implied_opt_name; /* key of a first element without '=' (permit_abbrev) */
    bool merge_lists;             /* for the caller's registry; the parser ignores it */
    const OptDesc *desc;          /* NULL-name terminated; NULL or empty: any key goes */
} OptsList;

typedef struct Opts Opts;

/*
 * Parse params against list. Error texts are QEMU 2.2's: "Invalid parameter 'KEY'",
 * "Parameter 'KEY' expects 'on' or 'off'" / "a number" / "a size" /
 * "a non-negative number below 2^64", "Parameter 'id' expects an identifier".
 */
Opts *opts_parse(const OptsList *list, const char *params, bool permit_abbrev, Error **errp);
/* An empty Opts for list, e.g. to fill with opts_set(). id may be NULL. */
Opts *opts_new(const OptsList *list, const char *id);
void opts_free(Opts *opts);

const char *opts_id(const Opts *opts);
const OptsList *opts_list(const Opts *opts);

/* The last value given for name, or NULL; desc defaults are not applied here. */
const char *opts_get(const Opts *opts, const char *name);
bool opts_has(const Opts *opts, const char *name);
/*
 * Typed getters: the last value given, else the descriptor's def_value_str, else def.
 * Values were validated by opts_parse; an unparsable value set later yields def.
 */
bool opts_get_bool(const Opts *opts, const char *name, bool def);
uint64_t opts_get_number(const Opts *opts, const char *name, uint64_t def);
uint64_t opts_get_size(const Opts *opts, const char *name, uint64_t def);

/* Replace every value of name by one value (appended last). Not validated. */
void opts_set(Opts *opts, const char *name, const char *value);
void opts_unset(Opts *opts, const char *name);

typedef int OptsForeachFn(void *opaque, const char *name, const char *value, Error **errp);
/*
 * Call fn for each key=value in order, repeats included, "id" excluded. Stops at the first
 * non-zero return (which it returns) or error.
 */
int opts_foreach(const Opts *opts, OptsForeachFn *fn, void *opaque, Error **errp);

/* "id=ID,key=val,..." with commas doubled: opts_parse() reads it back. g_free() it. */
char *opts_to_string(const Opts *opts);
/* Flat dictionary of string values (dotted keys kept as is), "id" included; last wins. */
JsonObject *opts_to_dict(const Opts *opts);

/* True if params is "help" or "?", or has such an element ("size=1,help"). */
bool opts_is_help(const char *params);
/* QEMU 2.2's listing: "Supported options:" then "%-16s %s" per option. */
void opts_print_help(const OptsList *list, FILE *f);

#endif
