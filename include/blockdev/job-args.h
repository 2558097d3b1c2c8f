/*
 * Argument helpers shared by the commands that start block jobs (stream, commit, mirror,
 * backup), with QEMU 2.2's texts. Only lookups and checks; blockdev/job-args.c.
 */
#ifndef BLOCKDEV_JOB_ARGS_H
#define BLOCKDEV_JOB_ARGS_H

#include <stdbool.h>
#include <json-glib/json-glib.h>
#include "block/block-backend.h"

/* The drive named device, or DeviceNotFound "Device 'X' not found". */
BlockBackend *job_arg_drive(const char *device, Error **errp);
/* The drive's root, or "Device 'X' has no medium". */
BlockDriverState *job_arg_medium(BlockBackend *blk, Error **errp);
/* Parse the BlockdevOnError member name (default report); "Invalid parameter 'VALUE'". */
bool job_arg_on_error(JsonObject *args, const char *name, BlockdevOnError *out, Error **errp);
/* stop/enospc need the drive's io-status: else "Invalid parameter 'NAME'". */
bool job_check_on_error(BlockBackend *blk, BlockdevOnError on_error, const char *name,
                        Error **errp);
/* The image below bs whose name (as recorded by its parent, or its filename) is name. */
BlockDriverState *job_find_backing_image(BlockDriverState *bs, const char *name);

/* Parse a MirrorSyncMode / NewImageMode value; "Invalid parameter 'VALUE'". */
bool job_arg_sync(const char *v, int *out, Error **errp);
bool job_arg_mode_existing(const char *v, bool *existing, Error **errp);
/* HMP drive_mirror / drive_backup arguments to QMP's: -n is mode=existing, -f is sync=full
 * (else top). A MonitorCommand hmp_convert hook. */
bool job_hmp_convert_args(JsonObject *args, Error **errp);
/* The target format: given, else the source's unless mode=existing (NULL: probe);
 * "Invalid block format 'F'". */
bool job_arg_format(const char *format, BlockDriverState *bs, bool existing, const char **out,
                    Error **errp);
/*
 * Create (unless existing) and open the target of drive-mirror / drive-backup: size bytes,
 * with backing file backing (NULL: none) recorded, opened read-write with flags (its backing
 * chain too unless they hold BDRV_O_NO_BACKING), with node name node_name if given. A new
 * reference, or NULL.
 */
BlockDriverState *job_open_target(const char *target, const char *format, bool existing,
                                  uint64_t size, BlockDriverState *backing, const char *node_name,
                                  int flags, Error **errp);

#endif
