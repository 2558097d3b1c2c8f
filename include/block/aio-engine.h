/*
 * Asynchronous submission engines for the file protocol: Linux AIO (aio=native, libaio) and
 * io_uring (aio=io_uring). Each engine keeps one instance per GMainContext, created on first
 * use; any thread may submit, and a GSource in that context reaps the completions and
 * finishes each request with bdrv_request_complete(). The engines move data only: the core
 * runs flush, discard and write-zeroes on its worker threads. Not an event loop and not a
 * scheduler.
 */
#ifndef BLOCK_AIO_ENGINE_H
#define BLOCK_AIO_ENGINE_H

#include <stdbool.h>
#include <glib.h>
#include "config-host.h"
#include "block/block_int.h"
#include "util/error.h"

/* Create ctx's Linux AIO context now (NULL: the default context); false if refused. */
bool laio_init_context(GMainContext *ctx, Error **errp);
/*
 * Submit a READ or WRITE request on fd (the file must be open with O_DIRECT) in req->ctx's
 * engine. Returns false, leaving req untouched, when that context has no engine and none
 * can be created, or the request does not fit one iocb: the caller then does it in a thread.
 */
bool laio_submit(int fd, BlockRequest *req);

#ifdef CONFIG_LINUX_IO_URING
/* Create ctx's io_uring now (NULL: the default context); false if the kernel refuses. */
bool luring_init_context(GMainContext *ctx, Error **errp);
/* Submit a READ or WRITE request on fd in req->ctx's ring; false as laio_submit. */
bool luring_submit(int fd, BlockRequest *req);
#endif

#endif
