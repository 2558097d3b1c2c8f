/*
 * The block layer's QMP events, each emitted from one function: DEVICE_TRAY_MOVED when the
 * tray of a drive's device moves (guest START STOP UNIT, monitor eject and change, a medium
 * closed), BLOCK_IO_ERROR when a device request fails (the error policy calls it), and
 * BLOCK_IMAGE_CORRUPTED when a format driver finds its metadata broken.
 * Not the policy itself (block-backend.h) and not the monitor (monitor/).
 */
#ifndef BLOCK_BLOCK_EVENTS_H
#define BLOCK_BLOCK_EVENTS_H

#include <stdbool.h>
#include "block/block-backend.h"

/* DEVICE_TRAY_MOVED {device, tray-open}; nothing for a backend hidden by drive_del. */
void blk_event_tray_moved(BlockBackend *blk, bool tray_open);
/*
 * The guest moved the tray of blk's device (QEMU's bdrv_eject): eject_flag true when it
 * opened. The device has already checked the lock; this tells the monitor.
 */
void blk_eject(BlockBackend *blk, bool eject_flag);
/*
 * BLOCK_IO_ERROR {device, operation, action, nospace, reason} for a failed device request:
 * error is an errno (either sign); nospace is present when blk reports io-status.
 */
void blk_event_io_error(BlockBackend *blk, bool is_read, BlockErrorAction action, int error);
/*
 * BLOCK_IMAGE_CORRUPTED {device, msg, offset, size, fatal} from a format driver: device is
 * "" for a node that is no drive's root; offset and size (of the guilty access) are left
 * out when negative.
 */
void bdrv_event_image_corrupted(const char *device, const char *msg, int64_t offset,
                                int64_t size, bool fatal);

#endif
