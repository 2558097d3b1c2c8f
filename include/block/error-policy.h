/*
 * The werror/rerror error policies of guest requests, shared by every disk device model:
 * which action a failed request gets (report, ignore, stop), and what "stop" does — io-status,
 * BLOCK_IO_ERROR, the machine stopped in run state io-error — and the retry of the requests
 * devices kept, after `cont`. Not the devices' own bookkeeping of kept requests (each device
 * keeps its failed requests and retries them from its BlockDevOps.retry_cb) and not the
 * policy settings (block-backend.h: blk_set_on_error, blk_get_error_action).
 */
#ifndef BLOCK_ERROR_POLICY_H
#define BLOCK_ERROR_POLICY_H

#include <stdbool.h>
#include "block/block-backend.h"

/*
 * Carry out action (from blk_get_error_action) for a request of blk that failed with error
 * (an errno, either sign), as QEMU's blk_error_action: for stop, io-status first (failed or
 * nospace), then BLOCK_IO_ERROR, then a stop request (STOP follows from the main loop, run
 * state io-error); for report and ignore only the event. The device then reports the error,
 * completes the request as successful, or keeps it for blk_dev_retry_requests.
 * Callable from any thread that serves the device's requests.
 */
void blk_error_action(BlockBackend *blk, BlockErrorAction action, bool is_read, int error);

/*
 * Both at once: the action for error under blk's policy, carried out; returns the action.
 */
BlockErrorAction blk_handle_error(BlockBackend *blk, bool is_read, int error);

/*
 * After `cont` (main loop, BQL held): ask the device attached to blk to resubmit the
 * requests it kept for a stop, in the order they failed.
 */
void blk_dev_retry_requests(BlockBackend *blk);

/* `cont`: every drive's io-status back to ok (before the vCPUs run). */
void blk_error_reset_all(void);
/* `cont`: every device retries its kept requests (after the machine runs again). */
void blk_error_retry_all(void);

#endif
