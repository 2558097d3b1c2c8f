/*
 * Throttle groups: the BlockBackend layer that enforces I/O limits with the leaky-bucket
 * engine (block/throttle.h). Backends with limits belong to a named group (by default one
 * named after the backend) and share its budget. A request the buckets do not admit waits
 * in its backend's queue for its direction; a timer of the group releases queued requests
 * as the buckets allow: FIFO within one backend and direction, alternating between reads
 * and writes, round-robin between the group's members.
 *
 * Threads: the state lives under one lock, so requests may be submitted from any thread
 * (an iothread's context included); a released request is submitted again in the context
 * it came from. Timers belong to the main loop: configuration (blk_set_io_limits) and
 * backend deletion happen there, with the BQL, like every other change to a drive.
 */
#ifndef BLOCK_THROTTLE_GROUPS_H
#define BLOCK_THROTTLE_GROUPS_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "block/throttle-config.h"

typedef struct BlockBackend BlockBackend;

/* A request as the throttle layer sees it; embedded in the backend's own request. */
typedef struct ThrottleRequest {
    bool is_write;
    uint64_t bytes;
    GMainContext *ctx; /* set while queued: where release() runs */
    void (*release)(struct ThrottleRequest *req);
} ThrottleRequest;

/*
 * Set the limits of blk's group (all of them: the last setting wins for every member) and
 * put blk into group (NULL: its current group, or one named after blk). Limits with no
 * average rate remove blk from its group and release its queued requests. Queued requests
 * are re-examined against the new limits at once. Errors: the checks of throttle-config.h
 * (start cfg from throttle_config_init(), so that unset burst lengths are 1).
 */
bool blk_set_io_limits(BlockBackend *blk, const ThrottleConfig *cfg, const char *group,
                       Error **errp);
/* Remove blk's limits (as all-zero limits would) and release its queued requests. */
void blk_io_limits_disable(BlockBackend *blk);
/* Whether blk has limits; if so *cfg is its group's configuration. */
bool blk_get_io_limits(BlockBackend *blk, ThrottleConfig *cfg);
/* The name of blk's group (g_free it), or NULL without limits. */
char *blk_get_io_limits_group(BlockBackend *blk);
/* Requests blk has waiting in one direction. */
unsigned blk_throttle_queued(BlockBackend *blk, bool is_write);

/*
 * For block-backend-io.c: true when req must wait, in which case req->release(req) runs
 * later in the calling thread's context; false when it may go now (it is accounted).
 */
bool blk_throttle_intercept(BlockBackend *blk, ThrottleRequest *req);
/* Release every request blk has queued now, whatever the limits (blk_drain). */
void blk_throttle_flush(BlockBackend *blk);
/* Leave the group and free the throttle state of a backend being deleted. */
void blk_throttle_delete(BlockBackend *blk);

#endif
