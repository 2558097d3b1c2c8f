/*
 * Socket chardevs: Unix and TCP, as a server (one client at a time; the next one is accepted
 * after a disconnect, as QEMU) or as a client connecting to a listening peer, with optional
 * telnet negotiation. Unix sockets are created with mode 0600; TCP listens on loopback unless
 * the user names another address. Not the front ends: chardev.c delivers the bytes.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <glib.h>
#include <glib-unix.h>
#include "util/chardev-internal.h"

#define TN_IAC 255
#define TN_SB 250
#define TN_SE 240
#define TN_WILL 251
#define TN_DONT 254

/* IAC WILL ECHO, IAC WILL SUPPRESS-GO-AHEAD, IAC WILL BINARY, IAC DO BINARY (as QEMU). */
static const uint8_t telnet_init[] = {255, 251, 1, 255, 251, 3, 255, 251, 0, 255, 253, 0};

size_t chr_telnet_filter(Chardev *chr, uint8_t *buf, size_t len)
{
    size_t out = 0;

    for (size_t i = 0; i < len; i++) {
        uint8_t c = buf[i];

        switch (chr->telnet_state) {
        case TELNET_DATA:
            if (c == TN_IAC) {
                chr->telnet_state = TELNET_IAC;
            } else {
                buf[out++] = c;
            }
            break;
        case TELNET_IAC:
            if (c == TN_IAC) {
                buf[out++] = c; /* escaped 0xff */
                chr->telnet_state = TELNET_DATA;
            } else if (c == TN_SB) {
                chr->telnet_state = TELNET_SB;
            } else if (c >= TN_WILL && c <= TN_DONT) {
                chr->telnet_state = TELNET_OPT;
            } else {
                chr->telnet_state = TELNET_DATA; /* a two-byte command */
            }
            break;
        case TELNET_OPT:
            chr->telnet_state = TELNET_DATA;
            break;
        case TELNET_SB:
            if (c == TN_IAC) {
                chr->telnet_state = TELNET_SB_IAC;
            }
            break;
        case TELNET_SB_IAC:
            chr->telnet_state = c == TN_SE ? TELNET_DATA : TELNET_SB;
            break;
        }
    }
    return out;
}

static void chr_socket_start_client(Chardev *chr, int fd)
{
    if (chr->telnet) {
        if (send(fd, telnet_init, sizeof(telnet_init), MSG_NOSIGNAL) < 0) {
            /* the peer is already gone: the input side will see it */
        }
    }
    chr_connected(chr, fd);
}

gboolean chr_socket_accept(gint fd, GIOCondition cond, gpointer data)
{
    Chardev *chr = data;
    int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

    if (client < 0) {
        return G_SOURCE_CONTINUE;
    }
    if (chr->path == NULL) {
        int one = 1;
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    chr->listen_watch = 0;
    chr_socket_start_client(chr, client);
    return G_SOURCE_REMOVE; /* one client at a time, as QEMU */
}

static int chr_unix_socket(const char *path, bool server, Error **errp)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        error_setg(errp, "UNIX socket path '%s' is too long", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Failed to create socket");
        return -1;
    }
    if (server) {
        mode_t old = umask(0177); /* the socket is created 0600 */
        int ret;

        unlink(path);
        ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
        umask(old);
        if (ret < 0 || listen(fd, 1) < 0) {
            error_setg_errno(errp, errno, "Failed to bind socket to %s", path);
            close(fd);
            return -1;
        }
    } else if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        error_setg_errno(errp, errno, "Failed to connect socket %s", path);
        close(fd);
        return -1;
    }
    return fd;
}

static int chr_tcp_try(const struct addrinfo *ai, bool server)
{
    int one = 1;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);

    if (fd < 0) {
        return -1;
    }
    if (server) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1) == 0) {
            return fd;
        }
    } else if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
    }
    close(fd);
    return -1;
}

static int chr_tcp_socket(const char *host, const char *port, bool server, Error **errp)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int fd = -1, err = 0, ret;

    if (!port || !*port) {
        error_setg(errp, "host and/or port not specified");
        return -1;
    }
    hints.ai_flags = server ? AI_PASSIVE : 0;
    ret = getaddrinfo(host && *host ? host : "127.0.0.1", port, &hints, &res);
    if (ret != 0) {
        error_setg(errp, "address resolution failed for %s:%s: %s", host ? host : "", port,
                   gai_strerror(ret));
        return -1;
    }
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = chr_tcp_try(ai, server);
        err = errno;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        error_setg_errno(errp, err,
                         server ? "Failed to bind socket"
                                : "Failed to connect "
                                  "socket");
    }
    return fd;
}

bool chr_socket_open(Chardev *chr, const ChrSocketOpts *o, Error **errp)
{
    int fd = o->path ? chr_unix_socket(o->path, o->server, errp)
                     : chr_tcp_socket(o->host, o->port, o->server, errp);

    if (fd < 0) {
        return false;
    }
    chr->is_socket = true;
    chr->telnet = o->telnet;
    if (!o->server) {
        chr_socket_start_client(chr, fd);
        return true;
    }
    chr->listen_fd = fd;
    chr->path = g_strdup(o->path);
    if (o->wait) {
        if (o->path) {
            fprintf(stderr, "QEMU waiting for connection on: disconnected:unix:%s,server\n",
                    o->path);
        } else {
            fprintf(stderr, "QEMU waiting for connection on: disconnected:tcp:%s:%s,server\n",
                    o->host ? o->host : "", o->port);
        }
        chr_socket_accept(fd, G_IO_IN, chr); /* blocks until the client connects, as QEMU */
    }
    if (chr->in_fd < 0) {
        chr->listen_watch = g_unix_fd_add(fd, G_IO_IN, chr_socket_accept, chr);
    }
    return true;
}

bool chr_socket_open_spec(Chardev *chr, const char *spec, Error **errp)
{
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
    g_autofree char *hostport = NULL;
    ChrSocketOpts o = {.wait = true};

    if (g_str_has_prefix(spec, "unix:")) {
        o.path = parts[0] + 5;
        if (g_str_has_prefix(o.path, "path=")) { /* the implied key spelt out, as QEMU allows */
            o.path += 5;
        }
    } else {
        char *colon;

        o.telnet = g_str_has_prefix(spec, "telnet:");
        hostport = g_strdup(strchr(parts[0], ':') + 1);
        colon = strrchr(hostport, ':');
        if (!colon) {
            error_setg(errp, "host and/or port not specified");
            return false;
        }
        *colon = '\0';
        o.host = hostport;
        o.port = colon + 1;
    }
    for (int i = 1; parts[i]; i++) {
        if (!strcmp(parts[i], "server") || !strcmp(parts[i], "server=on")) {
            o.server = true;
        } else if (!strcmp(parts[i], "nowait") || !strcmp(parts[i], "wait=off")) {
            o.wait = false;
        } else if (!strcmp(parts[i], "telnet")) {
            o.telnet = true;
        } else {
            error_setg(errp, "Invalid parameter '%s'", parts[i]);
            return false;
        }
    }
    return chr_socket_open(chr, &o, errp);
}
