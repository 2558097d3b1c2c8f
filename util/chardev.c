/*
 * Character devices: the host side of serial ports, the debug console, qtest and monitors.
 * This file is the core: front ends and their events, the mux (several front ends on one
 * backend, QEMU's Ctrl-A escape: c switches the focus, x quits, h prints help, Ctrl-A
 * Ctrl-A sends Ctrl-A), input delivery and the socket output queue, stdio and file.
 * Sockets live in chardev-socket.c, option parsing in chardev-opts.c.
 * Not a monitor: the monitor attaches to a chardev like any other front end.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/socket.h>
#include <glib.h>
#include <glib-unix.h>
#include "util/chardev-internal.h"
#include "util/main-loop.h"

#define MUX_ESCAPE 0x01           /* Ctrl-A */
#define CHR_RETRY_MS 10           /* how soon input is offered again to a full front end */
#define CHR_OUTQ_MAX (256u << 20) /* a peer this far behind is disconnected */

static struct termios saved_tty;
static bool tty_modified;
static GPtrArray *all_chardevs;
static Chardev *stdio_chr; /* one process has one stdin: every "stdio" spec shares it */

void chr_restore_terminal(void)
{
    if (tty_modified) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
        tty_modified = false;
    }
}

static void chr_stdio_raw(void)
{
    struct termios tty;

    if (tty_modified || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) < 0) {
        return;
    }
    tty = saved_tty;
    tty.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    tty.c_oflag |= OPOST;
    tty.c_lflag &= ~(ECHO | ECHONL | ICANON | IEXTEN | ISIG);
    tty.c_cflag &= ~(CSIZE | PARENB);
    tty.c_cflag |= CS8;
    tty.c_cc[VMIN] = 1;
    tty.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &tty);
    tty_modified = true;
    atexit(chr_restore_terminal);
}

Chardev *chr_alloc(const char *label)
{
    Chardev *chr = g_new0(Chardev, 1);

    chr->label = g_strdup(label);
    chr->in_fd = chr->out_fd = chr->listen_fd = -1;
    if (!all_chardevs) {
        all_chardevs = g_ptr_array_new();
    }
    g_ptr_array_add(all_chardevs, chr);
    return chr;
}

Chardev *chr_new_null(const char *label)
{
    Chardev *chr = chr_alloc(label);

    chr->opened = true;
    return chr;
}

const char *chr_label(const Chardev *chr)
{
    return chr->label;
}

void chr_set_mux(Chardev *chr)
{
    chr->mux = true;
}

bool chr_is_mux(const Chardev *chr)
{
    return chr->mux;
}

bool chr_is_tty(const Chardev *chr)
{
    return chr->is_stdio && isatty(STDIN_FILENO);
}

static void chr_fe_event(ChrFrontend *fe, ChrEvent event)
{
    if (fe->event) {
        fe->event(fe->opaque, event);
    }
}

void chr_send_event(Chardev *chr, ChrEvent event)
{
    for (int i = 0; i < chr->nr_fe; i++) {
        chr_fe_event(&chr->fe[i], event);
    }
}

static void chr_write_str(Chardev *chr, const char *s)
{
    chr_write(chr, (const uint8_t *)s, strlen(s));
}

static void chr_mux_switch(Chardev *chr)
{
    if (chr->nr_fe < 2) {
        return;
    }
    chr_fe_event(&chr->fe[chr->focus], CHR_EVENT_MUX_OUT);
    chr->focus = (chr->focus + 1) % chr->nr_fe;
    chr_fe_event(&chr->fe[chr->focus], CHR_EVENT_MUX_IN);
}

/* The byte after Ctrl-A; returns true when it is to be delivered (Ctrl-A Ctrl-A). */
static bool chr_mux_command(Chardev *chr, uint8_t ch)
{
    switch (ch) {
    case 'x':
        chr_write_str(chr, "QEMU: Terminated\r\n");
        main_loop_quit(0);
        return false;
    case 'h':
        chr_write_str(chr, "\r\nC-a h    print this help\r\n"
                           "C-a x    exit emulator\r\n"
                           "C-a c    switch between console and monitor\r\n"
                           "C-a C-a  sends C-a\r\n");
        return false;
    case 'c':
        chr_mux_switch(chr);
        return false;
    default:
        return ch == MUX_ESCAPE;
    }
}

/* Returns true when the byte was consumed by the mux escape handling. */
static bool chr_mux_filter(Chardev *chr, uint8_t ch)
{
    if (!chr->mux) {
        return false;
    }
    if (chr->mux_escape_seen) {
        chr->mux_escape_seen = false;
        return !chr_mux_command(chr, ch);
    }
    if (ch == MUX_ESCAPE) {
        chr->mux_escape_seen = true;
        return true;
    }
    return false;
}

static gboolean chr_retry_input(gpointer data)
{
    Chardev *chr = data;

    chr->retry_source = 0;
    chr_start_input(chr);
    return G_SOURCE_REMOVE;
}

static void chr_disconnect(Chardev *chr)
{
    if (chr->in_watch) {
        g_source_remove(chr->in_watch);
        chr->in_watch = 0;
    }
    if (chr->out_watch) {
        g_source_remove(chr->out_watch);
        chr->out_watch = 0;
    }
    if (chr->outq) {
        g_byte_array_set_size(chr->outq, 0);
    }
    if (chr->is_socket) {
        close(chr->in_fd);
        chr->in_fd = chr->out_fd = -1;
        if (chr->listen_fd >= 0) {
            chr->listen_watch = g_unix_fd_add(chr->listen_fd, G_IO_IN, chr_socket_accept, chr);
        }
    } else if (!chr->is_stdio) {
        chr->in_fd = -1;
    }
    if (chr->opened && chr->is_socket) {
        chr->opened = false;
        chr_send_event(chr, CHR_EVENT_CLOSED);
    }
}

static void chr_deliver(Chardev *chr, const uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n && chr->in_fd >= 0; i++) {
        ChrFrontend *fe;

        if (chr_mux_filter(chr, buf[i]) || chr->nr_fe == 0) {
            continue;
        }
        fe = &chr->fe[chr->focus];
        if (fe->read) {
            fe->read(fe->opaque, &buf[i], 1);
        }
    }
}

static gboolean chr_input_ready(gint fd, GIOCondition cond, gpointer data)
{
    Chardev *chr = data;
    ChrFrontend *fe = chr->nr_fe ? &chr->fe[chr->focus] : NULL;
    uint8_t buf[4096];
    int room = fe && fe->can_read ? fe->can_read(fe->opaque) : (int)sizeof(buf);
    ssize_t n;

    if (room <= 0) {
        /* Front end full: stop watching (the fd stays readable) and look again shortly. */
        chr->in_watch = 0;
        chr->retry_source = g_timeout_add(CHR_RETRY_MS, chr_retry_input, chr);
        return G_SOURCE_REMOVE;
    }
    n = read(fd, buf, MIN((size_t)room, sizeof(buf)));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        chr->in_watch = 0;
        chr_disconnect(chr);
        return G_SOURCE_REMOVE;
    }
    if (chr->telnet) {
        n = chr_telnet_filter(chr, buf, n);
    }
    chr_deliver(chr, buf, n);
    return G_SOURCE_CONTINUE;
}

void chr_start_input(Chardev *chr)
{
    if (chr->in_fd >= 0 && !chr->in_watch && !chr->retry_source) {
        g_unix_set_fd_nonblocking(chr->in_fd, TRUE, NULL);
        chr->in_watch =
            g_unix_fd_add(chr->in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, chr_input_ready, chr);
    }
}

void chr_connected(Chardev *chr, int fd)
{
    chr->in_fd = chr->out_fd = fd;
    chr->telnet_state = TELNET_DATA;
    chr->opened = true;
    chr_start_input(chr);
    chr_send_event(chr, CHR_EVENT_OPENED);
}

static bool chr_open_file(Chardev *chr, const char *path, Error **errp)
{
    chr->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (chr->out_fd < 0) {
        error_setg_errno(errp, errno, "Could not open '%s'", path);
        return false;
    }
    chr->opened = true;
    return true;
}

static void chr_open_stdio(Chardev *chr)
{
    chr->is_stdio = true;
    chr->mux = true;
    chr->in_fd = STDIN_FILENO;
    chr->out_fd = STDOUT_FILENO;
    chr->opened = true;
    stdio_chr = chr;
    chr_stdio_raw();
}

bool chr_open_spec(Chardev *chr, const char *spec, Error **errp)
{
    if (!strcmp(spec, "stdio")) {
        chr_open_stdio(chr);
        return true;
    }
    if (!strcmp(spec, "none") || !strcmp(spec, "null")) {
        chr->opened = true;
        return true;
    }
    if (g_str_has_prefix(spec, "file:")) {
        return chr_open_file(chr, spec + 5, errp);
    }
    if (g_str_has_prefix(spec, "unix:") || g_str_has_prefix(spec, "tcp:") ||
        g_str_has_prefix(spec, "telnet:")) {
        return chr_socket_open_spec(chr, spec, errp);
    }
    error_setg(errp, "'%s' is not a valid char driver", spec);
    return false;
}

Chardev *chr_new_from_spec(const char *label, const char *spec, Error **errp)
{
    Chardev *chr;
    bool mux = false;

    if (g_str_has_prefix(spec, "chardev:")) {
        chr = chr_find(spec + 8);
        if (!chr) {
            error_setg(errp, "chardev: %s: not found", spec + 8);
        }
        return chr;
    }
    if (g_str_has_prefix(spec, "mon:")) {
        spec += 4;
        mux = true;
    }
    if (!strcmp(spec, "stdio") && stdio_chr) {
        return stdio_chr; /* e.g. -nographic -monitor stdio: monitor and serial muxed */
    }
    chr = chr_alloc(label);
    if (!chr_open_spec(chr, spec, errp)) {
        chr_free(chr);
        return NULL;
    }
    chr->mux |= mux;
    return chr;
}

typedef struct ChrOpenedCall {
    Chardev *chr;
    int idx;
} ChrOpenedCall;

static gboolean chr_send_opened(gpointer data)
{
    ChrOpenedCall *c = data;

    if (c->idx < c->chr->nr_fe && c->chr->opened) {
        chr_fe_event(&c->chr->fe[c->idx], CHR_EVENT_OPENED);
    }
    chr_start_input(c->chr);
    g_free(c);
    return G_SOURCE_REMOVE;
}

void chr_set_handlers_full(Chardev *chr, ChrCanRead *can_read, ChrRead *read,
                           ChrEventHandler *event, void *opaque)
{
    ChrFrontend fe = {can_read, read, event, opaque};
    int idx = 0;

    if (chr->mux && chr->nr_fe > 0) {
        if (chr->nr_fe >= CHR_MAX_FE) {
            return;
        }
        chr_fe_event(&chr->fe[chr->focus], CHR_EVENT_MUX_OUT);
        idx = chr->nr_fe;
    }
    chr->fe[idx] = fe;
    chr->nr_fe = idx + 1;
    chr->focus = idx;
    if (chr->mux && idx > 0) {
        chr_fe_event(&chr->fe[idx], CHR_EVENT_MUX_IN);
    }
    if (event && chr->opened) {
        /*
         * As QEMU: an already open backend says so from the main loop, not from here.
         * Input waits for it, so a greeting goes out before any answer.
         */
        ChrOpenedCall *c = g_new(ChrOpenedCall, 1);

        if (chr->in_watch) { /* a client connected at start-up may have talked already */
            g_source_remove(chr->in_watch);
            chr->in_watch = 0;
        }
        c->chr = chr;
        c->idx = idx;
        g_idle_add(chr_send_opened, c);
    } else if (read) {
        chr_start_input(chr);
    }
}

void chr_set_handlers(Chardev *chr, ChrCanRead *can_read, ChrRead *read, void *opaque)
{
    chr_set_handlers_full(chr, can_read, read, NULL, opaque);
}

static gboolean chr_output_ready(gint fd, GIOCondition cond, gpointer data)
{
    Chardev *chr = data;
    ssize_t n = send(fd, chr->outq->data, chr->outq->len, MSG_NOSIGNAL | MSG_DONTWAIT);

    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return G_SOURCE_CONTINUE;
    }
    if (n < 0) {
        chr->out_watch = 0;
        chr_disconnect(chr);
        return G_SOURCE_REMOVE;
    }
    g_byte_array_remove_range(chr->outq, 0, n);
    if (chr->outq->len == 0) {
        chr->out_watch = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

/* Sockets: never block the main loop on a slow peer; queue and send when writable. */
static void chr_socket_write(Chardev *chr, const uint8_t *buf, size_t len)
{
    if (!chr->outq) {
        chr->outq = g_byte_array_new();
    }
    if (chr->outq->len == 0) {
        ssize_t n = send(chr->out_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return; /* the input side notices the disconnect */
        }
        n = MAX(n, 0);
        buf += n;
        len -= n;
    }
    if (len == 0) {
        return;
    }
    if (chr->outq->len + len > CHR_OUTQ_MAX) {
        chr_disconnect(chr);
        return;
    }
    g_byte_array_append(chr->outq, buf, len);
    if (!chr->out_watch) {
        chr->out_watch = g_unix_fd_add(chr->out_fd, G_IO_OUT, chr_output_ready, chr);
    }
}

void chr_write(Chardev *chr, const uint8_t *buf, size_t len)
{
    if (chr->is_socket && chr->out_fd >= 0) {
        chr_socket_write(chr, buf, len);
        return;
    }
    while (chr->out_fd >= 0 && len > 0) {
        ssize_t n = write(chr->out_fd, buf, len);
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = chr->out_fd, .events = POLLOUT};
            poll(&pfd, 1, 100);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return; /* peer gone: output is dropped, as on a disconnected line */
        }
        buf += n;
        len -= n;
    }
}

void chr_flush_all(int timeout_ms)
{
    int64_t deadline = g_get_monotonic_time() + timeout_ms * 1000LL;

    for (guint i = 0; all_chardevs && i < all_chardevs->len; i++) {
        Chardev *chr = g_ptr_array_index(all_chardevs, i);

        while (chr->out_fd >= 0 && chr->outq && chr->outq->len > 0 &&
               g_get_monotonic_time() < deadline) {
            struct pollfd pfd = {.fd = chr->out_fd, .events = POLLOUT};

            if (poll(&pfd, 1, 10) > 0 && !chr_output_ready(chr->out_fd, G_IO_OUT, chr)) {
                break;
            }
        }
    }
}

void chr_free(Chardev *chr)
{
    if (!chr) {
        return;
    }
    g_ptr_array_remove(all_chardevs, chr);
    if (chr == stdio_chr) {
        stdio_chr = NULL;
    }
    if (chr->in_watch) {
        g_source_remove(chr->in_watch);
    }
    if (chr->out_watch) {
        g_source_remove(chr->out_watch);
    }
    if (chr->listen_watch) {
        g_source_remove(chr->listen_watch);
    }
    if (chr->retry_source) {
        g_source_remove(chr->retry_source);
    }
    if (chr->out_fd > STDERR_FILENO) {
        close(chr->out_fd);
    }
    if (chr->in_fd > STDERR_FILENO && chr->in_fd != chr->out_fd) {
        close(chr->in_fd);
    }
    if (chr->listen_fd >= 0) {
        close(chr->listen_fd);
        if (chr->path) {
            unlink(chr->path);
        }
    }
    if (chr->outq) {
        g_byte_array_free(chr->outq, TRUE);
    }
    g_free(chr->path);
    g_free(chr->label);
    g_free(chr);
}
