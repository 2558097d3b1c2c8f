/*
 * Inside the chardev implementation (util/chardev*.c): the Chardev structure and the hooks
 * between the core (front ends, mux, input, output queue) and the socket backend.
 * Front ends use util/chardev.h only.
 */
#ifndef UTIL_CHARDEV_INTERNAL_H
#define UTIL_CHARDEV_INTERNAL_H

#include <glib.h>
#include "util/chardev.h"

#define CHR_MAX_FE 4

typedef struct ChrFrontend {
    ChrCanRead *can_read;
    ChrRead *read;
    ChrEventHandler *event;
    void *opaque;
} ChrFrontend;

/* Telnet (RFC 854) option negotiation being stripped from the input. */
typedef enum TelnetState {
    TELNET_DATA,
    TELNET_IAC,
    TELNET_OPT,
    TELNET_SB,
    TELNET_SB_IAC
} TelnetState;

struct Chardev {
    char *label;
    int in_fd;     /* -1: no input */
    int out_fd;    /* -1: output discarded */
    int listen_fd; /* socket server waiting for a client */
    char *path;    /* Unix socket path to unlink at free */
    bool is_stdio;
    bool is_socket; /* output queued instead of blocking */
    bool telnet;
    bool opened; /* a peer is there (CHR_EVENT_OPENED was or will be sent) */
    bool mux;
    bool mux_escape_seen;
    TelnetState telnet_state;
    guint in_watch;
    guint listen_watch;
    guint out_watch;
    guint retry_source; /* pending re-offer of input to a full front end */
    GByteArray *outq;   /* socket output the peer has not taken yet */
    ChrFrontend fe[CHR_MAX_FE];
    int nr_fe;
    int focus; /* front end receiving input */
};

Chardev *chr_alloc(const char *label);
void chr_start_input(Chardev *chr);
/* A peer connected on fd (accepted or connected): start input, tell the front ends. */
void chr_connected(Chardev *chr, int fd);
void chr_send_event(Chardev *chr, ChrEvent event);
/* Open a legacy spec's backend into chr ("chardev:" and "mon:" are the callers'). */
bool chr_open_spec(Chardev *chr, const char *spec, Error **errp);

/* "unix:" / "tcp:" specs and -chardev socket options (util/chardev-socket.c). */
typedef struct ChrSocketOpts {
    const char *path; /* Unix socket, or NULL for TCP */
    const char *host; /* TCP; NULL or "" means loopback */
    const char *port;
    bool server;
    bool wait;
    bool telnet;
} ChrSocketOpts;
bool chr_socket_open(Chardev *chr, const ChrSocketOpts *o, Error **errp);
/* "unix:PATH[,server][,nowait]", "tcp:[HOST]:PORT[,server][,nowait][,telnet]". */
bool chr_socket_open_spec(Chardev *chr, const char *spec, Error **errp);
gboolean chr_socket_accept(gint fd, GIOCondition cond, gpointer data);
/* Strip telnet negotiation from buf in place; returns the data length left. */
size_t chr_telnet_filter(Chardev *chr, uint8_t *buf, size_t len);

#endif
