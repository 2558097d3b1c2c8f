/*
 * The dynamic options dictionary: json-glib JsonObjects carrying -drive/-device/-object and
 * QMP options, with QEMU's dotted-key convention ("cache.direct", "file.filename") converted
 * one way everywhere (flatten / crumple), and lenient typed getters that accept both JSON
 * values and the strings the command line produces. Not a schema: descriptor-table
 * validation lives in opts.c and in each consumer.
 */
#ifndef UTIL_QDICT_H
#define UTIL_QDICT_H

#include <stdbool.h>
#include <stdint.h>
#include <json-glib/json-glib.h>
#include "util/error.h"

/* In place: {"cache": {"direct": true}} becomes {"cache.direct": true}; arrays give "a.0". */
void dict_flatten(JsonObject *obj);
/*
 * A new nested object from dotted keys. A key that is both a scalar and a prefix ("a" and
 * "a.b") is an error, as is a non-scalar value. Numeric components stay object keys.
 */
JsonObject *dict_crumple(JsonObject *flat, Error **errp);
/*
 * Move every "PREFIX.x" member of obj into a new object as "x". The trailing '.' of prefix
 * is optional. The result may be empty, never NULL.
 */
JsonObject *dict_extract_prefix(JsonObject *obj, const char *prefix);
/* Set key to the string val unless key is present. */
void dict_copy_default(JsonObject *obj, const char *key, const char *val);

/*
 * The member as a string, or NULL if absent, null, an object or an array. Numbers and
 * booleans (as "on"/"off") are converted to a string member in place, so obj must be
 * mutable; the result belongs to obj and lives until the member is changed or removed.
 */
const char *dict_get_str(JsonObject *obj, const char *key);
/* JSON bool or on/off/yes/no/true/false; def when absent; def plus an error when invalid. */
bool dict_get_bool(JsonObject *obj, const char *key, bool def, Error **errp);
/* JSON integer or a string in C notation (0x.., negative ok); def when absent or invalid. */
int64_t dict_get_int(JsonObject *obj, const char *key, int64_t def, Error **errp);
/* A JSON integer (not negative) or a size string (parse_size_param); def when absent; def
 * plus QEMU's error when invalid. */
uint64_t dict_get_size(JsonObject *obj, const char *key, uint64_t def, Error **errp);
/* The index of the member's value in names (NULL-terminated); def when absent; -1 and
 * QEMU's "invalid parameter value: X" when it is none of them. */
int dict_get_enum(JsonObject *obj, const char *key, const char *const *names, int def,
                  Error **errp);
bool dict_has(JsonObject *obj, const char *key);
void dict_del(JsonObject *obj, const char *key);
/* Member names in strcmp order, NULL-terminated; g_strfreev() it. */
char **dict_keys_sorted(JsonObject *obj);

#endif
