/*
 * libqtest's Unix-socket transport, the way QEMU's libqtest starts QEMU: the test listens on
 * two sockets in a private directory and the VMM connects to both as a client
 * ("-qtest unix:PATH", "-qmp unix:PATH"); the test accepts them, reads the QMP greeting and
 * negotiates capabilities. The qtest protocol then runs on the first socket exactly as on
 * the pipes. Also the QMP calls, which exist only on this transport. Not a QMP library:
 * replies and events are handed to the test as parsed JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "libqtest-int.h"

#define QTEST_CONNECT_TIMEOUT_MS 20000
#define QTEST_POLL_MS 50

static int qtest_listen(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert(strlen(path) < sizeof(addr.sun_path));
    strcpy(addr.sun_path, path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
        g_error("qtest: cannot listen on %s: %s", path, strerror(errno));
    }
    return fd;
}

/* The VMM's connection on listen_fd; fails the test if the VMM exits or never connects. */
static int qtest_accept(QTestState *s, int listen_fd, const char *what)
{
    struct pollfd pfd = {.fd = listen_fd, .events = POLLIN};

    for (int waited = 0; waited < QTEST_CONNECT_TIMEOUT_MS; waited += QTEST_POLL_MS) {
        int status;

        if (poll(&pfd, 1, QTEST_POLL_MS) > 0) {
            int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                return fd;
            }
        }
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            g_error("qtest: the VMM exited before connecting to the %s socket", what);
        }
    }
    g_error("qtest: the VMM did not connect to the %s socket", what);
}

static void qtest_qmp_send(QTestState *s, const char *text)
{
    g_autofree char *line = g_strconcat(text, "\n", NULL);
    size_t len = strlen(line), done = 0;

    while (done < len) {
        ssize_t n = write(s->qmp_fd, line + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_error("qtest: QMP connection gone while sending '%.60s'", text);
        }
        done += n;
    }
}

/* One QMP message (the VMM writes one per line). */
static JsonNode *qtest_qmp_read(QTestState *s)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *line = NULL;
    size_t cap = 0;

    if (getline(&line, &cap, s->qmp_in) <= 0) {
        g_error("qtest: the VMM closed its QMP connection");
    }
    if (!json_parser_load_from_data(parser, line, -1, &err) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        g_error("qtest: bad QMP message '%s': %s", line, err ? err->message : "not an object");
    }
    return json_node_ref(json_parser_get_root(parser));
}

/* The event's name, or NULL for a reply or greeting. */
static const char *qtest_qmp_event_name(JsonNode *msg)
{
    JsonObject *obj = json_node_get_object(msg);

    return json_object_has_member(obj, "event") ? json_object_get_string_member(obj, "event")
                                                : NULL;
}

JsonNode *qtest_qmp(QTestState *s, const char *fmt, ...)
{
    g_autofree char *cmd = NULL;
    va_list ap;

    g_assert(s->qmp_fd >= 0);
    va_start(ap, fmt);
    cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qtest_qmp_send(s, cmd);
    for (;;) {
        JsonNode *msg = qtest_qmp_read(s);
        if (!qtest_qmp_event_name(msg)) {
            return msg;
        }
        g_queue_push_tail(s->qmp_events, msg);
    }
}

JsonNode *qtest_qmp_eventwait(QTestState *s, const char *event)
{
    g_assert(s->qmp_fd >= 0);
    for (GList *l = s->qmp_events->head; l; l = l->next) {
        if (!g_strcmp0(qtest_qmp_event_name(l->data), event)) {
            JsonNode *msg = l->data;
            g_queue_delete_link(s->qmp_events, l);
            return msg;
        }
    }
    for (;;) {
        JsonNode *msg = qtest_qmp_read(s);
        const char *name = qtest_qmp_event_name(msg);

        if (!name) {
            g_error("qtest: a QMP reply while waiting for event %s", event);
        }
        if (!strcmp(name, event)) {
            return msg;
        }
        g_queue_push_tail(s->qmp_events, msg);
    }
}

/* Read the greeting and leave capabilities negotiation mode. */
static void qtest_qmp_handshake(QTestState *s)
{
    JsonNode *greeting = qtest_qmp_read(s);
    JsonNode *reply;

    if (!json_object_has_member(json_node_get_object(greeting), "QMP")) {
        g_error("qtest: no QMP greeting");
    }
    json_node_unref(greeting);
    reply = qtest_qmp(s, "{\"execute\": \"qmp_capabilities\"}");
    if (!json_object_has_member(json_node_get_object(reply), "return")) {
        g_error("qtest: qmp_capabilities refused");
    }
    json_node_unref(reply);
}

QTestState *qtest_init_unix(const char *extra_args)
{
    g_autofree char *dir = g_dir_make_tmp("qtest-XXXXXX", NULL);
    g_autofree char *qtest_path = g_build_filename(dir, "qtest.sock", NULL);
    g_autofree char *qmp_path = g_build_filename(dir, "qmp.sock", NULL);
    g_autofree char *qtest_spec = g_strconcat("unix:", qtest_path, NULL);
    g_autofree char *qmp_spec = g_strconcat("unix:", qmp_path, NULL);
    const char *const transport[] = {"-qtest", qtest_spec, "-qmp", qmp_spec, NULL};
    g_autoptr(GPtrArray) argv = qtest_argv(extra_args, transport);
    QTestState *s = g_new0(QTestState, 1);
    int qtest_listen_fd = qtest_listen(qtest_path);
    int qmp_listen_fd = qtest_listen(qmp_path);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

    /* The VMM's stdout goes to the test's stderr, out of the way of the TAP output. */
    qtest_spawn(s, argv, devnull, STDERR_FILENO);
    close(devnull);
    s->qmp_fd = -1;
    s->to_vmm = qtest_accept(s, qtest_listen_fd, "qtest");
    s->from_vmm = fdopen(dup(s->to_vmm), "r");
    s->qmp_fd = qtest_accept(s, qmp_listen_fd, "QMP");
    s->qmp_in = fdopen(dup(s->qmp_fd), "r");
    s->qmp_events = g_queue_new();
    close(qtest_listen_fd);
    close(qmp_listen_fd);
    unlink(qtest_path);
    unlink(qmp_path);
    rmdir(dir);
    qtest_qmp_handshake(s);
    return s;
}

void qtest_qmp_close(QTestState *s)
{
    if (s->qmp_fd < 0) {
        return;
    }
    close(s->qmp_fd);
    fclose(s->qmp_in);
    g_queue_free_full(s->qmp_events, (GDestroyNotify)json_node_unref);
    s->qmp_fd = -1;
}
