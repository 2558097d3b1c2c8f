/*
 * Character devices: the host end of a serial port, debug console or monitor.
 * Backends: stdio, file:PATH, unix:PATH[,server][,nowait], null/none, pipe fds (tests).
 * Input is delivered in the main loop (BQL held) to the front end's handler.
 */
#ifndef UTIL_CHARDEV_H
#define UTIL_CHARDEV_H

#include <stddef.h>
#include <stdint.h>
#include "util/error.h"

typedef struct Chardev Chardev;

/* How many bytes the front end can take now (0 pauses input). */
typedef int ChrCanRead(void *opaque);
typedef void ChrRead(void *opaque, const uint8_t *buf, size_t len);

/* Parse a QEMU-style spec ("stdio", "file:/x", "unix:/p,server,nowait", "none"). */
Chardev *chr_new_from_spec(const char *label, const char *spec, Error **errp);
/* A chardev that discards output and never has input. */
Chardev *chr_new_null(const char *label);
void chr_set_handlers(Chardev *chr, ChrCanRead *can_read, ChrRead *read, void *opaque);
/* Write everything (blocking briefly if needed); data is dropped when no peer is connected. */
void chr_write(Chardev *chr, const uint8_t *buf, size_t len);
void chr_free(Chardev *chr);
/* Undo terminal changes made for stdio (called at exit). */
void chr_restore_terminal(void);

#endif
