/*
 * The block layer's events (DEVICE_TRAY_MOVED, BLOCK_IO_ERROR) in QEMU 2.2's shapes. Every
 * tray movement and every reported I/O error of a device request goes through here, so the
 * monitor sees them whatever moved the tray or failed. Not the decisions: devices move
 * trays, the error policy decides the action.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "block/block-events.h"
#include "monitor/monitor.h"

static const char *const error_action_names[] = {
    [BLOCK_ERROR_ACTION_IGNORE] = "ignore",
    [BLOCK_ERROR_ACTION_REPORT] = "report",
    [BLOCK_ERROR_ACTION_STOP] = "stop",
};

void blk_event_tray_moved(BlockBackend *blk, bool tray_open)
{
    JsonObject *data;

    if (!blk_name(blk)[0]) {
        return;
    }
    data = json_object_new();
    json_object_set_string_member(data, "device", blk_name(blk));
    json_object_set_boolean_member(data, "tray-open", tray_open);
    monitor_event("DEVICE_TRAY_MOVED", data);
}

void blk_eject(BlockBackend *blk, bool eject_flag)
{
    blk_event_tray_moved(blk, eject_flag);
}

void bdrv_event_image_corrupted(const char *device, const char *msg, int64_t offset,
                                int64_t size, bool fatal)
{
    JsonObject *data = json_object_new();

    json_object_set_string_member(data, "device", device);
    json_object_set_string_member(data, "msg", msg);
    if (offset >= 0 && size >= 0) {
        json_object_set_int_member(data, "offset", offset);
        json_object_set_int_member(data, "size", size);
    }
    json_object_set_boolean_member(data, "fatal", fatal);
    monitor_event("BLOCK_IMAGE_CORRUPTED", data);
}

void blk_event_io_error(BlockBackend *blk, bool is_read, BlockErrorAction action, int error)
{
    JsonObject *data = json_object_new();

    json_object_set_string_member(data, "device", blk_name(blk));
    json_object_set_string_member(data, "operation", is_read ? "read" : "write");
    json_object_set_string_member(data, "action", error_action_names[action]);
    if (blk_iostatus_is_enabled(blk)) {
        json_object_set_boolean_member(data, "nospace", abs(error) == ENOSPC);
    }
    json_object_set_string_member(data, "reason", strerror(abs(error)));
    monitor_event("BLOCK_IO_ERROR", data);
}
