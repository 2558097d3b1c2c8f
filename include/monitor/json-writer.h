/*
 * QMP output: JSON text as QEMU 2.2 writes it (", " and ": " separators, \uXXXX with
 * upper-case hex for control characters and everything from 0x7f, surrogate pairs above
 * the BMP, invalid UTF-8 as U+FFFD), compact or in its pretty form (pretty=on).
 * Members come out in the order they were inserted.
 */
#ifndef MONITOR_JSON_WRITER_H
#define MONITOR_JSON_WRITER_H

#include <stdbool.h>
#include <glib.h>
#include <json-glib/json-glib.h>

void json_write(GString *out, JsonNode *node, bool pretty);
/* A new string; g_free() it. */
char *json_to_qmp_string(JsonNode *node, bool pretty);

#endif
