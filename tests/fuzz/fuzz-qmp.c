/*
 * QMP input: the bytes go through the monitor's JSON stream splitter (QEMU 2.2's dialect)
 * and every message it cuts is checked and dispatched by the real QMP monitor (a monitor
 * without a chardev, output captured) on the in-process pc machine. The first input byte
 * chooses whether the session starts negotiated. Messages are first cut by a second splitter
 * of the same kind, so the harness can see the command each one names after all escapes:
 * only commands that cannot touch host files or end the process are passed on (query-*,
 * qmp_capabilities, and those that need a device the machine does not have), re-written
 * with the monitor's JSON writer, which the target exercises too. Malformed messages and
 * those without a string "execute" are passed on as they are, for the monitor's error paths.
 */
#include <string.h>
#include <glib.h>
#include "harness.h"
#include "monitor/json-stream.h"
#include "monitor/json-writer.h"
#include "monitor/monitor-internal.h"

static Monitor *qmp_fuzz_mon;
static JsonStream qmp_fuzz_pre;

static const char *const qmp_fuzz_allowed[] = {
    "qmp_capabilities",
    "eject",
    "block_resize",
    "block_set_io_throttle",
    "block-job-cancel",
    "block-job-pause",
    "block-job-resume",
    "block-job-set-speed",
    "block-job-complete",
    "block_passwd",
    NULL,
};

static bool qmp_fuzz_allowed_name(const char *name)
{
    if (g_str_has_prefix(name, "query-")) {
        return true;
    }
    for (int i = 0; qmp_fuzz_allowed[i]; i++) {
        if (!strcmp(name, qmp_fuzz_allowed[i])) {
            return true;
        }
    }
    return false;
}

/* A command named by a string "execute" outside the allowed set. */
static bool qmp_fuzz_refused(JsonNode *msg)
{
    JsonObject *obj;
    JsonNode *exec;

    if (!JSON_NODE_HOLDS_OBJECT(msg)) {
        return false;
    }
    obj = json_node_get_object(msg);
    exec = json_object_get_member(obj, "execute");
    if (!exec || json_node_get_value_type(exec) != G_TYPE_STRING) {
        return false;
    }
    return !qmp_fuzz_allowed_name(json_node_get_string(exec));
}

static void qmp_fuzz_forward(void *opaque, JsonNode *msg)
{
    g_autofree char *text = NULL;

    if (!msg) {
        json_stream_feed(&qmp_fuzz_mon->stream, "}", 1); /* a syntax error for the monitor */
        return;
    }
    if (!qmp_fuzz_refused(msg)) {
        text = json_to_qmp_string(msg, false);
        json_stream_feed(&qmp_fuzz_mon->stream, text, strlen(text));
    }
    json_node_unref(msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_machine_init();
    qmp_fuzz_mon = monitor_new(NULL, MONITOR_MODE_CONTROL, false);
    json_stream_init(&qmp_fuzz_pre, qmp_fuzz_forward, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    json_stream_reset(&qmp_fuzz_pre);
    json_stream_reset(&qmp_fuzz_mon->stream);
    qmp_fuzz_mon->negotiated = data[0] & 1;
    json_stream_feed(&qmp_fuzz_pre, (const char *)data + 1, size - 1);
    g_string_truncate(qmp_fuzz_mon->capture, 0);
    fuzz_machine_reset();
    return 0;
}
