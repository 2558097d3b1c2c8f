/*
 * Error policies of guest requests (werror/rerror): what a failed device request does to
 * the drive's io-status, the monitor (BLOCK_IO_ERROR) and the machine (stop, run state
 * io-error), and the retry of kept requests after `cont`. The order of a stop follows
 * QEMU's: io-status first, so query-block never shows less than the events said, then the
 * event, then the stop request. Not the choice of action (blk_get_error_action) and not
 * the devices' lists of kept requests.
 */
#include "block/error-policy.h"
#include "block/block-events.h"
#include "block/block-internal.h"
#include "hw/machine.h"

void blk_error_action(BlockBackend *blk, BlockErrorAction action, bool is_read, int error)
{
    if (action == BLOCK_ERROR_ACTION_STOP) {
        blk_iostatus_set_err(blk, error);
        blk_event_io_error(blk, is_read, action, error);
        machine_request_stop(RUN_STATE_IO_ERROR);
        return;
    }
    blk_event_io_error(blk, is_read, action, error);
}

BlockErrorAction blk_handle_error(BlockBackend *blk, bool is_read, int error)
{
    BlockErrorAction action = blk_get_error_action(blk, is_read, error);

    blk_error_action(blk, action, is_read, error);
    return action;
}

void blk_dev_retry_requests(BlockBackend *blk)
{
    if (blk->dev_ops && blk->dev_ops->retry_cb) {
        blk->dev_ops->retry_cb(blk->dev_opaque);
    }
}

void blk_error_reset_all(void)
{
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        blk_iostatus_reset(blk);
    }
}

void blk_error_retry_all(void)
{
    for (BlockBackend *blk = blk_next(NULL); blk; blk = blk_next(blk)) {
        blk_dev_retry_requests(blk);
    }
}
