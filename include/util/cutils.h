/*
 * Strict string-to-value parsers shared by option handling: sizes with QEMU's suffix rules,
 * booleans with QEMU's spellings, and unsigned integers that must fill the whole string.
 * Not an option parser (opts.c is that) and not a general string library: GLib covers that.
 */
#ifndef UTIL_CUTILS_H
#define UTIL_CUTILS_H

#include <stdbool.h>
#include <stdint.h>
#include "util/error.h"

/*
 * Parse "1024", "64k", "1.5G", "2T"... into bytes. Suffixes B K M G T P E (either case)
 * multiply by powers of 1024; a bare number is in bytes. A fraction needs a unit larger than
 * a byte. Returns 0, -EINVAL (garbage) or -ERANGE (negative, or does not fit in 64 bits),
 * as QEMU's strtosz; hex and exponent forms are accepted as strtod reads them.
 */
int parse_size(const char *str, uint64_t *out, Error **errp);
/* Like parse_size, but a bare number is in units of default_suffix (-m uses 'M'). */
int parse_size_default_suffix(const char *str, char default_suffix, uint64_t *out,
                              Error **errp);

/*
 * parse_size for option NAME, with QEMU's option errors: "Parameter 'NAME' expects a
 * non-negative number below 2^64" (negative or too large) or "... expects a size".
 */
bool parse_size_param(const char *name, const char *value, uint64_t *out, Error **errp);

/*
 * Accept on/off, yes/no, true/false. On failure the error reads
 * "Parameter 'NAME' expects 'on' or 'off'", as QEMU's.
 */
bool parse_bool(const char *name, const char *value, bool *out, Error **errp);

/*
 * The whole of s must be an unsigned number in base_or_0 (0: C prefixes 0x and 0); no sign,
 * no whitespace. Returns 0, -EINVAL or -ERANGE; *out is untouched on failure.
 */
/* QEMU's identifier rule (drive ids, node names, option ids): a letter, then letters,
 * digits, '-', '.' or '_'. */
bool id_wellformed(const char *id);
int parse_uint(const char *s, uint64_t *out, int base_or_0);

#endif
