/*
 * QMP input: a byte stream cut into JSON messages without any framing, in QEMU 2.2's
 * dialect. A message ends when brace and bracket depth return to zero (or go negative)
 * after a token, so no newline is needed. Single-quoted strings and the escape \' are
 * accepted, the only keywords are true and false (no null), integers that overflow int64
 * become floats. A message over 64 MiB or nested deeper than 1024 is cut and reported as a
 * syntax error, as is a lexical error; the stream then carries on with the next bytes. Any
 * other lowercase keyword (null) is a token 2.2's parser refuses: the message it is in is
 * read to its end and reported as one syntax error.
 * Each message is parsed (json-glib) and handed to the callback.
 */
#ifndef MONITOR_JSON_STREAM_H
#define MONITOR_JSON_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#define JSON_STREAM_MAX_SIZE (64u << 20)
#define JSON_STREAM_MAX_DEPTH 1024

/* msg: the parsed message (owned by the callee), or NULL on a syntax error. */
typedef void JsonStreamEmit(void *opaque, JsonNode *msg);

typedef enum JsonLexState {
    JSON_LEX_START,   /* between tokens */
    JSON_LEX_STRING,  /* inside a string */
    JSON_LEX_ESCAPE,  /* after a backslash in a string */
    JSON_LEX_UNICODE, /* inside \uXXXX */
    JSON_LEX_WORD,    /* number or keyword */
} JsonLexState;

typedef struct JsonStream {
    JsonStreamEmit *emit;
    void *opaque;
    GString *msg;  /* the current message, rewritten as standard JSON */
    GString *word; /* the number or keyword being read */
    JsonLexState state;
    char quote;   /* '"' or '\'' for the current string */
    int hex_left; /* digits left in a \u escape */
    int braces, brackets;
    bool bad_keyword; /* the message holds a keyword other than true/false */
} JsonStream;

void json_stream_init(JsonStream *js, JsonStreamEmit *emit, void *opaque);
void json_stream_feed(JsonStream *js, const char *buf, size_t len);
/* Forget a partial message (a new client connected). */
void json_stream_reset(JsonStream *js);
void json_stream_destroy(JsonStream *js);

#endif
