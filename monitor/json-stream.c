/*
 * The QMP input splitter: a small lexer that tracks brace/bracket depth outside strings,
 * rewrites QEMU 2.2's dialect (single quotes, \', big integers) into standard JSON, refuses
 * what 2.2 refuses (null, bare words, bad escapes), enforces the size and depth limits, and
 * hands each complete message to json-glib. Not the QMP protocol (qmp.c).
 *
 * Like 2.2 it tells lexical errors (bad bytes, bad escapes: the message is dropped at once
 * and the stream starts again at the next byte) from keywords other than true and false
 * (null, nan): 2.2's lexer takes any lowercase word as a token and its parser refuses it, so
 * the message is read to its end and answered with one error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "monitor/json-stream.h"

void json_stream_init(JsonStream *js, JsonStreamEmit *emit, void *opaque)
{
    memset(js, 0, sizeof(*js));
    js->emit = emit;
    js->opaque = opaque;
    js->msg = g_string_new(NULL);
    js->word = g_string_new(NULL);
}

void json_stream_reset(JsonStream *js)
{
    g_string_truncate(js->msg, 0);
    g_string_truncate(js->word, 0);
    js->state = JSON_LEX_START;
    js->braces = js->brackets = 0;
    js->bad_keyword = false;
}

void json_stream_destroy(JsonStream *js)
{
    g_string_free(js->msg, TRUE);
    g_string_free(js->word, TRUE);
}

static JsonNode *json_stream_parse(const char *text, gssize len)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *root;

    if (!json_parser_load_from_data(parser, text, len, NULL)) {
        return NULL;
    }
    root = json_parser_get_root(parser);
    return root ? json_node_copy(root) : NULL;
}

/* Hand the message over (ok=false: report a syntax error instead) and start afresh. */
static void json_stream_emit(JsonStream *js, bool ok)
{
    JsonNode *msg = ok && !js->bad_keyword ? json_stream_parse(js->msg->str, js->msg->len) : NULL;

    json_stream_reset(js);
    js->emit(js->opaque, msg);
}

/* After each token: a complete message, or one past the limits, goes out. */
static void json_stream_token_done(JsonStream *js)
{
    if (js->braces < 0 || js->brackets < 0 || (js->braces == 0 && js->brackets == 0)) {
        json_stream_emit(js, true);
    } else if (js->msg->len > JSON_STREAM_MAX_SIZE ||
               js->braces + js->brackets > JSON_STREAM_MAX_DEPTH) {
        json_stream_emit(js, true); /* cut: the parser refuses the partial message */
    }
}

static bool json_word_is_number(const char *w)
{
    const char *p = w;

    if (*p == '-') {
        p++;
    }
    if (*p == '0') {
        p++;
    } else if (g_ascii_isdigit(*p)) {
        while (g_ascii_isdigit(*p)) {
            p++;
        }
    } else {
        return false;
    }
    if (*p == '.') {
        if (!g_ascii_isdigit(*++p)) {
            return false;
        }
        while (g_ascii_isdigit(*p)) {
            p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') {
            p++;
        }
        if (!g_ascii_isdigit(*p)) {
            return false;
        }
        while (g_ascii_isdigit(*p)) {
            p++;
        }
    }
    return *p == '\0';
}

static bool json_word_is_keyword(const char *w)
{
    for (const char *p = w; *p; p++) {
        if (!g_ascii_islower(*p)) {
            return false;
        }
    }
    return true;
}

/* A finished number or keyword; false on a lexical error. */
static bool json_stream_word_done(JsonStream *js)
{
    const char *w = js->word->str;
    bool ok = true;

    if (!strcmp(w, "true") || !strcmp(w, "false")) {
        g_string_append(js->msg, w);
    } else if (json_word_is_number(w)) {
        g_string_append(js->msg, w);
        if (!strpbrk(w, ".eE")) {
            errno = 0;
            (void)g_ascii_strtoll(w, NULL, 10);
            if (errno == ERANGE) {
                g_string_append(js->msg, ".0"); /* 2.2: an integer too big is a float */
            }
        }
    } else if (json_word_is_keyword(w)) {
        js->bad_keyword = true; /* a token still: the message goes on to its end */
    } else {
        ok = false;
    }
    g_string_truncate(js->word, 0);
    js->state = JSON_LEX_START;
    return ok;
}

static bool json_char_is_word(char c)
{
    return g_ascii_isalnum(c) || c == '-' || c == '+' || c == '.';
}

/* A byte between tokens; false on a lexical error. */
static bool json_stream_start(JsonStream *js, char c)
{
    switch (c) {
    case ' ':
    case '\t':
    case '\r':
    case '\n':
        return true;
    case '{':
        js->braces++;
        break;
    case '}':
        js->braces--;
        break;
    case '[':
        js->brackets++;
        break;
    case ']':
        js->brackets--;
        break;
    case ':':
    case ',':
        break;
    case '"':
    case '\'':
        js->quote = c;
        js->state = JSON_LEX_STRING;
        g_string_append_c(js->msg, '"');
        return true;
    default:
        if (!json_char_is_word(c)) {
            return false;
        }
        js->state = JSON_LEX_WORD;
        g_string_append_c(js->word, c);
        return true;
    }
    g_string_append_c(js->msg, c);
    json_stream_token_done(js);
    return true;
}

static bool json_stream_string(JsonStream *js, unsigned char c)
{
    if (c == (unsigned char)js->quote) {
        g_string_append_c(js->msg, '"');
        js->state = JSON_LEX_START;
        json_stream_token_done(js);
    } else if (c == '\\') {
        js->state = JSON_LEX_ESCAPE;
    } else if (c == '"') {
        g_string_append(js->msg, "\\\""); /* inside a single-quoted string */
    } else if (c < 0x20) {
        if (c == 0) {
            return false;
        }
        g_string_append_printf(js->msg, "\\u%04x", c); /* 2.2 takes raw control bytes */
    } else {
        g_string_append_c(js->msg, c);
    }
    return true;
}

static bool json_stream_escape(JsonStream *js, char c)
{
    js->state = JSON_LEX_STRING;
    if (c == '\'') {
        g_string_append_c(js->msg, '\'');
        return true;
    }
    if (!strchr("bfnrt/\\\"u", c)) {
        return false;
    }
    g_string_append_c(js->msg, '\\');
    g_string_append_c(js->msg, c);
    if (c == 'u') {
        js->state = JSON_LEX_UNICODE;
        js->hex_left = 4;
    }
    return true;
}

static bool json_stream_char(JsonStream *js, char c)
{
    switch (js->state) {
    case JSON_LEX_START:
        return json_stream_start(js, c);
    case JSON_LEX_STRING:
        return json_stream_string(js, c);
    case JSON_LEX_ESCAPE:
        return json_stream_escape(js, c);
    case JSON_LEX_UNICODE:
        if (!g_ascii_isxdigit(c)) {
            return false;
        }
        g_string_append_c(js->msg, c);
        if (--js->hex_left == 0) {
            js->state = JSON_LEX_STRING;
        }
        return true;
    case JSON_LEX_WORD:
        if (json_char_is_word(c) && js->word->len < 64) {
            g_string_append_c(js->word, c);
            return true;
        }
        if (json_char_is_word(c) || !json_stream_word_done(js)) {
            return false;
        }
        /* The word is a complete token; then c starts the next one. */
        json_stream_token_done(js);
        return json_stream_start(js, c);
    }
    return false;
}

void json_stream_feed(JsonStream *js, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!json_stream_char(js, buf[i])) {
            json_stream_emit(js, false);
            continue;
        }
        if (js->state == JSON_LEX_STRING && js->msg->len > JSON_STREAM_MAX_SIZE) {
            json_stream_emit(js, false); /* a string longer than any message may be */
        }
    }
}
