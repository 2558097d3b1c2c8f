/*
 * Character devices: the host side of serial ports, the debug console and (later) monitors.
 * Backends are stdio, file, Unix socket (server or client) and null; input is read in the
 * main loop and handed to the front end when it can take it. On stdio an escape character
 * (Ctrl-A) gives QEMU's mux commands: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A.
 * Not a monitor: the monitor attaches to a chardev like any other front end.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <glib.h>
#include <glib-unix.h>
#include "util/chardev.h"
#include "util/main-loop.h"

#define MUX_ESCAPE 0x01  /* Ctrl-A */
#define CHR_RETRY_MS 10  /* how soon input is offered again to a full front end */

struct Chardev {
    char *label;
    int in_fd;           /* -1: no input */
    int out_fd;          /* -1: output discarded */
    int listen_fd;       /* Unix socket server waiting for a client */
    char *path;          /* socket path to unlink at free */
    bool is_stdio;
    bool mux_escape_seen;
    guint in_watch;
    guint listen_watch;
    guint retry_source;  /* pending re-offer of input to a full front end */
    ChrCanRead *can_read;
    ChrRead *read;
    void *opaque;
};

static struct termios saved_tty;
static bool tty_modified;

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

    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) < 0) {
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

static Chardev *chr_alloc(const char *label)
{
    Chardev *chr = g_new0(Chardev, 1);

    chr->label = g_strdup(label);
    chr->in_fd = chr->out_fd = chr->listen_fd = -1;
    return chr;
}

Chardev *chr_new_null(const char *label)
{
    return chr_alloc(label);
}

static void chr_disconnect(Chardev *chr);
static void chr_start_input(Chardev *chr);

/* Returns true when the byte was consumed by the mux escape handling. */
static bool chr_mux_filter(Chardev *chr, uint8_t ch)
{
    if (!chr->is_stdio) {
        return false;
    }
    if (chr->mux_escape_seen) {
        chr->mux_escape_seen = false;
        if (ch == 'x') {
            static const char msg[] = "QEMU: Terminated\r\n";
            chr_write(chr, (const uint8_t *)msg, sizeof(msg) - 1);
            main_loop_quit(0);
            return true;
        }
        if (ch == 'h') {
            static const char help[] = "\r\nC-a h    print this help\r\n"
                                       "C-a x    exit emulator\r\n"
                                       "C-a C-a  sends C-a\r\n";
            chr_write(chr, (const uint8_t *)help, sizeof(help) - 1);
            return true;
        }
        return ch != MUX_ESCAPE;
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

static gboolean chr_input_ready(gint fd, GIOCondition cond, gpointer data)
{
    Chardev *chr = data;
    uint8_t buf[256];
    int room = chr->can_read ? chr->can_read(chr->opaque) : (int)sizeof(buf);
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
    for (ssize_t i = 0; i < n; i++) {
        if (!chr_mux_filter(chr, buf[i]) && chr->read) {
            chr->read(chr->opaque, &buf[i], 1);
        }
    }
    return G_SOURCE_CONTINUE;
}

static void chr_start_input(Chardev *chr)
{
    if (chr->in_fd >= 0 && !chr->in_watch) {
        g_unix_set_fd_nonblocking(chr->in_fd, TRUE, NULL);
        chr->in_watch = g_unix_fd_add(chr->in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                      chr_input_ready, chr);
    }
}

static gboolean chr_accept(gint fd, GIOCondition cond, gpointer data)
{
    Chardev *chr = data;
    int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

    if (client < 0) {
        return G_SOURCE_CONTINUE;
    }
    chr->in_fd = chr->out_fd = client;
    chr_start_input(chr);
    chr->listen_watch = 0;
    return G_SOURCE_REMOVE;  /* one client at a time, as QEMU */
}

static void chr_disconnect(Chardev *chr)
{
    if (chr->in_watch) {
        g_source_remove(chr->in_watch);
        chr->in_watch = 0;
    }
    if (chr->listen_fd >= 0) {
        close(chr->in_fd);
        chr->in_fd = chr->out_fd = -1;
        chr->listen_watch = g_unix_fd_add(chr->listen_fd, G_IO_IN, chr_accept, chr);
    } else if (!chr->is_stdio) {
        chr->in_fd = -1;
    }
}

static bool chr_open_file(Chardev *chr, const char *path, Error **errp)
{
    chr->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (chr->out_fd < 0) {
        error_setg_errno(errp, errno, "Could not open '%s'", path);
        return false;
    }
    return true;
}

static bool chr_open_unix(Chardev *chr, const char *spec, Error **errp)
{
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    bool server = false, nowait = false;
    int fd;

    for (int i = 1; parts[i]; i++) {
        if (!strcmp(parts[i], "server") || !strcmp(parts[i], "server=on")) {
            server = true;
        } else if (!strcmp(parts[i], "nowait") || !strcmp(parts[i], "wait=off")) {
            nowait = true;
        } else {
            error_setg(errp, "Invalid parameter '%s'", parts[i]);
            return false;
        }
    }
    if (strlen(parts[0]) >= sizeof(addr.sun_path)) {
        error_setg(errp, "UNIX socket path '%s' is too long", parts[0]);
        return false;
    }
    strcpy(addr.sun_path, parts[0]);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (server) {
        mode_t old = umask(0177);  /* the socket is created 0600 */
        unlink(parts[0]);
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
            umask(old);
            error_setg_errno(errp, errno, "Failed to bind socket to %s", parts[0]);
            close(fd);
            return false;
        }
        umask(old);
        chr->listen_fd = fd;
        chr->path = g_strdup(parts[0]);
        if (!nowait) {
            chr_accept(fd, G_IO_IN, chr);  /* blocks until the client connects, as QEMU */
        }
        if (chr->in_fd < 0) {
            chr->listen_watch = g_unix_fd_add(fd, G_IO_IN, chr_accept, chr);
        }
        return true;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        error_setg_errno(errp, errno, "Failed to connect socket %s", parts[0]);
        close(fd);
        return false;
    }
    chr->in_fd = chr->out_fd = fd;
    return true;
}

Chardev *chr_new_from_spec(const char *label, const char *spec, Error **errp)
{
    Chardev *chr = chr_alloc(label);
    bool ok = true;

    if (!strcmp(spec, "stdio") || !strcmp(spec, "mon:stdio")) {
        chr->is_stdio = true;
        chr->in_fd = STDIN_FILENO;
        chr->out_fd = STDOUT_FILENO;
        chr_stdio_raw();
    } else if (!strcmp(spec, "none") || !strcmp(spec, "null")) {
        /* nothing connected */
    } else if (g_str_has_prefix(spec, "file:")) {
        ok = chr_open_file(chr, spec + 5, errp);
    } else if (g_str_has_prefix(spec, "unix:")) {
        ok = chr_open_unix(chr, spec + 5, errp);
    } else {
        error_setg(errp, "'%s' is not a valid char driver", spec);
        ok = false;
    }
    if (!ok) {
        chr_free(chr);
        return NULL;
    }
    return chr;
}

void chr_set_handlers(Chardev *chr, ChrCanRead *can_read, ChrRead *read, void *opaque)
{
    chr->can_read = can_read;
    chr->read = read;
    chr->opaque = opaque;
    if (read) {
        chr_start_input(chr);
    }
}

void chr_write(Chardev *chr, const uint8_t *buf, size_t len)
{
    while (chr->out_fd >= 0 && len > 0) {
        ssize_t n = write(chr->out_fd, buf, len);
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = chr->out_fd, .events = POLLOUT };
            poll(&pfd, 1, 100);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;  /* peer gone: output is dropped, as on a disconnected line */
        }
        buf += n;
        len -= n;
    }
}

void chr_free(Chardev *chr)
{
    if (!chr) {
        return;
    }
    if (chr->in_watch) {
        g_source_remove(chr->in_watch);
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
        unlink(chr->path);
    }
    g_free(chr->path);
    g_free(chr->label);
    g_free(chr);
}
