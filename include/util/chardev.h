/*
 * Character devices: the host end of a serial port, debug console, qtest or monitor.
 * Backends: stdio, file, Unix and TCP sockets (server or client, telnet), null.
 * Created from a legacy spec ("stdio", "file:/x", "unix:/p,server,nowait", "tcp:h:p,server",
 * "mon:stdio", "chardev:ID", "none") or from -chardev options, which register the chardev
 * under its id. Input is delivered in the main loop (BQL held) to the front end's handler.
 * A mux chardev (stdio, "mon:", mux=on) carries several front ends; Ctrl-A c moves the input
 * focus between them, as in QEMU.
 */
#ifndef UTIL_CHARDEV_H
#define UTIL_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/error.h"

typedef struct Chardev Chardev;

typedef enum ChrEvent {
    CHR_EVENT_OPENED,  /* a peer is connected (or the backend is ready) */
    CHR_EVENT_CLOSED,  /* the peer went away */
    CHR_EVENT_MUX_IN,  /* this front end got the input focus of a mux chardev */
    CHR_EVENT_MUX_OUT, /* ... and lost it */
} ChrEvent;

/* How many bytes the front end can take now (0 pauses input). */
typedef int ChrCanRead(void *opaque);
typedef void ChrRead(void *opaque, const uint8_t *buf, size_t len);
typedef void ChrEventHandler(void *opaque, ChrEvent event);

/* Parse a QEMU-style spec; "chardev:ID" returns the registered chardev ID. */
Chardev *chr_new_from_spec(const char *label, const char *spec, Error **errp);
/* -chardev BACKEND,id=ID[,...]: create the chardev and register it under ID. */
Chardev *chr_new_from_opts(const char *optstr, Error **errp);
/* A chardev registered by -chardev, or NULL. */
Chardev *chr_find(const char *id);
/* A chardev that discards output and never has input. */
Chardev *chr_new_null(const char *label);
const char *chr_label(const Chardev *chr);
/* Make chr a mux: every chr_set_handlers() adds a front end, and the last one has focus. */
void chr_set_mux(Chardev *chr);
bool chr_is_mux(const Chardev *chr);
/* True when input comes from a terminal (line editing makes sense). */
bool chr_is_tty(const Chardev *chr);

/*
 * Attach a front end. On a mux chardev this adds one (it gets the focus); otherwise it
 * replaces the previous one. If the backend is already open, event gets CHR_EVENT_OPENED
 * soon after (from the main loop).
 */
void chr_set_handlers(Chardev *chr, ChrCanRead *can_read, ChrRead *read, void *opaque);
void chr_set_handlers_full(Chardev *chr, ChrCanRead *can_read, ChrRead *read,
                           ChrEventHandler *event, void *opaque);
/*
 * Write everything. Sockets queue what the peer does not take yet (a peer that stops
 * reading is disconnected past a limit); data is dropped when no peer is connected.
 */
void chr_write(Chardev *chr, const uint8_t *buf, size_t len);
/* Wait (up to timeout_ms) until queued socket output has been sent; used before exit. */
void chr_flush_all(int timeout_ms);
void chr_free(Chardev *chr);
/* Undo terminal changes made for stdio (called at exit). */
void chr_restore_terminal(void);

#endif
