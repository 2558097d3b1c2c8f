/*
 * BlockBackend: what a device (and the monitor, by drive id) sees of a drive. It owns the
 * root node (or none: an empty removable medium), knows the attached device and its
 * callbacks, keeps I/O statistics, the error policy and io-status, and the legacy DriveInfo
 * from -drive. Device requests go blk_aio_* -> (throttling) -> accounting -> root node.
 */
#ifndef BLOCK_BLOCK_BACKEND_H
#define BLOCK_BLOCK_BACKEND_H

#include "block/block.h"
#include "block/throttle-config.h"

typedef struct BlockBackend BlockBackend;

/* I/O limits of a backend: blk_set_io_limits() and friends. */
#include "block/throttle-groups.h"

typedef enum BlockdevOnError {
    BLOCKDEV_ON_ERROR_REPORT,
    BLOCKDEV_ON_ERROR_IGNORE,
    BLOCKDEV_ON_ERROR_ENOSPC,
    BLOCKDEV_ON_ERROR_STOP,
} BlockdevOnError;

/* What to do about a failed request (QEMU's BlockErrorAction). */
typedef enum BlockErrorAction {
    BLOCK_ERROR_ACTION_IGNORE,
    BLOCK_ERROR_ACTION_REPORT,
    BLOCK_ERROR_ACTION_STOP,
} BlockErrorAction;

typedef enum BlockDeviceIoStatus {
    BLOCK_DEVICE_IO_STATUS_OK,
    BLOCK_DEVICE_IO_STATUS_FAILED,
    BLOCK_DEVICE_IO_STATUS_NOSPACE,
} BlockDeviceIoStatus;

typedef enum BlockAcctType {
    BLOCK_ACCT_READ,
    BLOCK_ACCT_WRITE,
    BLOCK_ACCT_FLUSH,
    BLOCK_MAX_IOTYPE,
} BlockAcctType;

typedef struct BlockAcctStats {
    uint64_t nr_bytes[BLOCK_MAX_IOTYPE];
    uint64_t nr_ops[BLOCK_MAX_IOTYPE];
    uint64_t total_time_ns[BLOCK_MAX_IOTYPE];
    uint64_t wr_highest_offset;   /* end of the highest sector written, in bytes */
} BlockAcctStats;

/* Callbacks of the device a backend is attached to (all optional). */
typedef struct BlockDevOps {
    /* A medium was inserted or removed (load=true: a medium is now present). */
    void (*change_media_cb)(void *opaque, bool load);
    /* The monitor asks to eject; force=true when it did not wait for the guest. */
    void (*eject_request_cb)(void *opaque, bool force);
    bool (*is_tray_open)(void *opaque);
    bool (*is_medium_locked)(void *opaque);
    void (*resize_cb)(void *opaque);
    /* After `cont`: resubmit the requests kept for the "stop" error policy, in order
     * (main loop, BQL held; see block/error-policy.h). */
    void (*retry_cb)(void *opaque);
} BlockDevOps;

/* Legacy drive information from -drive. */
typedef enum BlockInterfaceType {
    IF_NONE, IF_IDE, IF_SCSI, IF_FLOPPY, IF_PFLASH, IF_MTD, IF_SD, IF_VIRTIO, IF_XEN,
    IF_COUNT,
} BlockInterfaceType;

typedef struct DriveInfo {
    BlockInterfaceType type;
    int bus;
    int unit;
    int auto_del;          /* delete the drive together with its device */
    bool is_default;       /* added by the board, not by the user */
    bool media_cd;
    int cyls, heads, secs, trans;
    char *serial;
    char *devaddr;         /* addr= for if=virtio */
    ThrottleConfig throttle; /* throttling.* from -drive (enforced by the throttle engine) */
    char *throttle_group;  /* throttling.group, or NULL */
    JsonObject *opts;      /* the options -drive was given, for device creation */
} DriveInfo;

/*
 * A new empty backend with one reference. Errors: "Invalid device name", "Device with id
 * 'X' already exists", "Device name 'X' conflicts with an existing node name". Defaults:
 * rerror=report, werror=enospc, io-status disabled.
 */
BlockBackend *blk_new(const char *name, Error **errp);
/* Open filename/options as the root of a new named backend (flags: BDRV_O_*); the name
 * appears in "used by device 'X'" errors. Takes ownership of options. */
BlockBackend *blk_new_open(const char *name, const char *filename, JsonObject *options,
                           int flags, Error **errp);
void blk_ref(BlockBackend *blk);
void blk_unref(BlockBackend *blk);
BlockBackend *blk_by_name(const char *name);
BlockBackend *blk_next(BlockBackend *blk);      /* iterate: NULL starts, NULL ends */
const char *blk_name(const BlockBackend *blk);
/* Hide the backend from name lookup (drive_del with a device still attached). */
void blk_hide_on_behalf_of_drive_del(BlockBackend *blk);

BlockDriverState *blk_bs(BlockBackend *blk);
void blk_insert_bs(BlockBackend *blk, BlockDriverState *bs);  /* takes its own reference */
void blk_remove_bs(BlockBackend *blk);   /* drains, then drops the root */
bool blk_is_inserted(BlockBackend *blk);
bool blk_is_read_only(BlockBackend *blk);
bool blk_is_available(BlockBackend *blk);   /* inserted and tray closed */
int64_t blk_getlength(BlockBackend *blk);
bool blk_enable_write_cache(BlockBackend *blk);
void blk_set_enable_write_cache(BlockBackend *blk, bool wce);

/* Device attachment: the device holds a reference to the backend until it detaches. */
int blk_attach_dev(BlockBackend *blk, void *dev);   /* -EBUSY if already attached */
void blk_detach_dev(BlockBackend *blk, void *dev);
void *blk_get_attached_dev(BlockBackend *blk);
void blk_set_dev_ops(BlockBackend *blk, const BlockDevOps *ops, void *opaque);
void blk_dev_change_media_cb(BlockBackend *blk, bool load);
bool blk_dev_has_removable_media(BlockBackend *blk);
bool blk_dev_is_tray_open(BlockBackend *blk);
bool blk_dev_is_medium_locked(BlockBackend *blk);
void blk_dev_eject_request(BlockBackend *blk, bool force);
void blk_dev_resize_cb(BlockBackend *blk);

/* Error policy and io-status. */
void blk_set_on_error(BlockBackend *blk, BlockdevOnError on_read_error,
                      BlockdevOnError on_write_error);
BlockdevOnError blk_get_on_error(BlockBackend *blk, bool is_read);
/* The policy applied to error (an errno, either sign): enospc stops only on ENOSPC. */
BlockErrorAction blk_get_error_action(BlockBackend *blk, bool is_read, int error);
void blk_iostatus_enable(BlockBackend *blk);      /* by device models that report it */
/* Enabled, and werror is enospc/stop or rerror is stop (QEMU's rule for io-status). */
bool blk_iostatus_is_enabled(BlockBackend *blk);
BlockDeviceIoStatus blk_iostatus(BlockBackend *blk);
/* FAILED, or NOSPACE for ENOSPC (either sign), if enabled and currently OK. */
void blk_iostatus_set_err(BlockBackend *blk, int error);
void blk_iostatus_reset(BlockBackend *blk);

/* Statistics of successful device requests (blk_aio_* and the sync wrappers). */
BlockAcctStats *blk_get_stats(BlockBackend *blk);

/* Legacy DriveInfo (owned by the backend once set). */
DriveInfo *blk_legacy_dinfo(BlockBackend *blk);
void blk_set_legacy_dinfo(BlockBackend *blk, DriveInfo *dinfo);

/* Device I/O: asynchronous, completion in the submitter's GMainContext; counted in stats.
 * Without a medium: -ENOMEDIUM. */
void blk_aio_preadv(BlockBackend *blk, uint64_t offset, IOVector *qiov, int flags,
                    BlockCompletionFunc *cb, void *opaque);
void blk_aio_pwritev(BlockBackend *blk, uint64_t offset, IOVector *qiov, int flags,
                     BlockCompletionFunc *cb, void *opaque);
void blk_aio_flush(BlockBackend *blk, BlockCompletionFunc *cb, void *opaque);
void blk_aio_pdiscard(BlockBackend *blk, uint64_t offset, uint64_t bytes,
                      BlockCompletionFunc *cb, void *opaque);
void blk_aio_pwrite_zeroes(BlockBackend *blk, uint64_t offset, uint64_t bytes, int flags,
                           BlockCompletionFunc *cb, void *opaque);

/* Synchronous wrappers for tools, jobs and tests (0 or -errno). */
int blk_pread(BlockBackend *blk, uint64_t offset, void *buf, uint64_t bytes);
int blk_pwrite(BlockBackend *blk, uint64_t offset, const void *buf, uint64_t bytes,
               int flags);
int blk_preadv(BlockBackend *blk, uint64_t offset, IOVector *qiov, int flags);
int blk_pwritev(BlockBackend *blk, uint64_t offset, IOVector *qiov, int flags);
int blk_flush(BlockBackend *blk);
int blk_pdiscard(BlockBackend *blk, uint64_t offset, uint64_t bytes);
int blk_pwrite_zeroes(BlockBackend *blk, uint64_t offset, uint64_t bytes, int flags);
int blk_truncate(BlockBackend *blk, uint64_t size, PreallocMode mode, Error **errp);

/* Wait until every request on the backend has completed and its callback has run (but for
 * those the caller's own root change holds: blk_root_change_begin). */
void blk_drain(BlockBackend *blk);
/* blk_drain for every backend: device requests until their callbacks ran, also those a
 * drained section held back and resubmitted at its end. */
void blk_drain_all(void);

#endif
