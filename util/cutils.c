/*
 * Parsers for sizes, booleans and unsigned integers given on the command line, in option
 * strings and in QMP string values. Only whole-string parses: anything left over is an error.
 * Not where option lists are split (opts.c) or where messages name the option (callers do).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "util/cutils.h"

/* 1 << (10 * position): B K M G T P E. 0 if c is not a size suffix. */
static uint64_t size_suffix_mul(char c)
{
    static const char units[] = "BKMGTPE";
    const char *p = c ? strchr(units, g_ascii_toupper(c)) : NULL;

    return p ? UINT64_C(1) << (10 * (p - units)) : 0;
}

static bool all_digits(const char *s, const char *end)
{
    if (s == end) {
        return false;
    }
    for (; s < end; s++) {
        if (!g_ascii_isdigit(*s)) {
            return false;
        }
    }
    return true;
}

/* Plain decimal integers are multiplied exactly; only other forms go through a double. */
static int size_scale(const char *num, const char *num_end, double val, uint64_t mul,
                      uint64_t *out)
{
    uint64_t v;

    if (all_digits(num, num_end)) {
        errno = 0;
        v = strtoull(num, NULL, 10);
        if (errno == ERANGE || v > UINT64_MAX / mul) {
            return -ERANGE;
        }
        *out = v * mul;
        return 0;
    }
    if (mul == 1 && val != floor(val)) {
        return -EINVAL;
    }
    if (val * (double)mul >= 0x1p64) {
        return -ERANGE;
    }
    *out = (uint64_t)(val * (double)mul);
    return 0;
}

static int size_parse(const char *str, char default_suffix, uint64_t *out)
{
    const char *num = str;
    char *num_end;
    const char *p;
    double val;
    uint64_t mul;

    errno = 0;
    val = strtod(str, &num_end);
    if (num_end == str || isnan(val)) {
        return -EINVAL;
    }
    if (val < 0 || errno == ERANGE) {
        return -ERANGE;
    }
    while (g_ascii_isspace(*num)) {
        num++;
    }
    p = num_end;
    mul = size_suffix_mul(*p);
    if (mul) {
        p++;
    } else {
        mul = size_suffix_mul(default_suffix);
    }
    if (*p) {
        return -EINVAL;
    }
    return size_scale(num, num_end, val, mul, out);
}

int parse_size_default_suffix(const char *str, char default_suffix, uint64_t *out,
                              Error **errp)
{
    uint64_t val;
    int ret;

    g_assert(size_suffix_mul(default_suffix));
    ret = size_parse(str, default_suffix, &val);
    if (ret == -ERANGE) {
        error_setg(errp, "Size '%s' is negative or too large", str);
    } else if (ret < 0) {
        error_setg(errp, "Invalid size '%s'", str);
    } else {
        *out = val;
    }
    return ret;
}

int parse_size(const char *str, uint64_t *out, Error **errp)
{
    return parse_size_default_suffix(str, 'B', out, errp);
}

bool parse_size_param(const char *name, const char *value, uint64_t *out, Error **errp)
{
    int ret = parse_size(value, out, NULL);

    if (ret == -ERANGE) {
        error_setg(errp, "Parameter '%s' expects a non-negative number below 2^64", name);
    } else if (ret < 0) {
        error_setg(errp, "Parameter '%s' expects a size", name);
    }
    return ret == 0;
}

bool parse_bool(const char *name, const char *value, bool *out, Error **errp)
{
    static const char *const on[] = { "on", "yes", "true" };
    static const char *const off[] = { "off", "no", "false" };

    for (size_t i = 0; value && i < G_N_ELEMENTS(on); i++) {
        if (!strcmp(value, on[i]) || !strcmp(value, off[i])) {
            *out = !strcmp(value, on[i]);
            return true;
        }
    }
    error_setg(errp, "Parameter '%s' expects 'on' or 'off'", name);
    return false;
}

int parse_uint(const char *s, uint64_t *out, int base_or_0)
{
    char *end;
    uint64_t v;

    if (!s || !g_ascii_isalnum(*s)) {
        return -EINVAL;
    }
    errno = 0;
    v = strtoull(s, &end, base_or_0);
    if (end == s || *end) {
        return -EINVAL;
    }
    if (errno == ERANGE) {
        return -ERANGE;
    }
    *out = v;
    return 0;
}

bool id_wellformed(const char *id)
{
    if (!g_ascii_isalpha(id[0])) {
        return false;
    }
    for (const char *p = id + 1; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p)) {
            return false;
        }
    }
    return true;
}
