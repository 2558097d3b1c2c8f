/*
 * The block layer's public interface: graph nodes (BlockDriverState, "bdrv_*") and the
 * operations tools, jobs and the monitor use on them. Devices use the BlockBackend API
 * (block-backend.h). Driver authors see block_int.h.
 *
 * Threading: graph changes (open, close, reopen, attach) happen in the main thread with the
 * BQL held. I/O may be issued from any thread; synchronous calls block the caller.
 */
#ifndef BLOCK_BLOCK_H
#define BLOCK_BLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <json-glib/json-glib.h>
#include "util/error.h"
#include "util/iov.h"

#define BDRV_SECTOR_BITS 9
#define BDRV_SECTOR_SIZE (1ULL << BDRV_SECTOR_BITS)

/* Open flags (bdrv_open flags argument and bs->open_flags). */
enum {
    BDRV_O_RDWR          = 0x0002,
    BDRV_O_SNAPSHOT      = 0x0008, /* temporary overlay; deleted on close */
    BDRV_O_TEMPORARY     = 0x0010, /* delete the file on close */
    BDRV_O_NOCACHE       = 0x0020, /* cache.direct=on: O_DIRECT */
    BDRV_O_NATIVE_AIO    = 0x0080, /* aio=native (libaio) */
    BDRV_O_NO_BACKING    = 0x0100, /* do not open the backing file */
    BDRV_O_NO_FLUSH      = 0x0200, /* cache.no-flush=on: flushes succeed without syncing */
    BDRV_O_COPY_ON_READ  = 0x0400,
    BDRV_O_PROTOCOL      = 0x8000, /* the filename names a protocol node, not a format */
    BDRV_O_UNMAP         = 0x4000, /* discard=unmap */
    BDRV_O_IO_URING      = 0x10000,/* aio=io_uring (extension) */
    BDRV_O_FORCE_SHARE   = 0x20000,/* force-share=on (read-only): take no image locks that
                                      * could keep others out (qemu-img -U) */
    BDRV_O_CHECK         = 0x1000, /* opened to be checked and repaired: corrupt or dirty
                                     * images open read-write without the automatic repair */
    BDRV_O_CACHE_WB      = 0x0040, /* cache.writeback=on: guest sees a volatile cache;
                                      * without it every write is followed by a flush */
    BDRV_O_NO_IO         = 0x40000,/* the opener reads no data (qemu-img info): the image
                                      * tools ask no key for it; the block layer ignores it */
};

/* Request flags. */
enum {
    BDRV_REQ_FUA        = 0x1,  /* write through to stable storage before completing */
    BDRV_REQ_MAY_UNMAP  = 0x2,  /* write_zeroes may deallocate */
    BDRV_REQ_ZERO_WRITE = 0x4,  /* internal: this write is a zero write (detect-zeroes) */
    /* Store compressed: whole clusters (a short last one only at the end of the image);
     * -ENOTSUP from formats without bdrv_supports_compressed_writes(). */
    BDRV_REQ_WRITE_COMPRESSED = 0x8,
    /* write_zeroes only if the driver can without writing zero buffers; else -ENOTSUP */
    BDRV_REQ_NO_FALLBACK = 0x10,
};

typedef enum BlockdevDetectZeroesOptions {
    BLOCKDEV_DETECT_ZEROES_OPTIONS_OFF,
    BLOCKDEV_DETECT_ZEROES_OPTIONS_ON,
    BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP,
} BlockdevDetectZeroesOptions;

/* Operations that op blockers can forbid on a node (block jobs, snapshots, resize ...). */
typedef enum BlockOpType {
    BLOCK_OP_TYPE_BACKUP_SOURCE,
    BLOCK_OP_TYPE_BACKUP_TARGET,
    BLOCK_OP_TYPE_CHANGE,
    BLOCK_OP_TYPE_COMMIT,
    BLOCK_OP_TYPE_DATAPLANE,
    BLOCK_OP_TYPE_DRIVE_DEL,
    BLOCK_OP_TYPE_EJECT,
    BLOCK_OP_TYPE_EXTERNAL_SNAPSHOT,
    BLOCK_OP_TYPE_INTERNAL_SNAPSHOT,
    BLOCK_OP_TYPE_INTERNAL_SNAPSHOT_DELETE,
    BLOCK_OP_TYPE_MIRROR,
    BLOCK_OP_TYPE_RESIZE,
    BLOCK_OP_TYPE_STREAM,
    BLOCK_OP_TYPE_REPLACE,
    BLOCK_OP_TYPE_MAX,
} BlockOpType;

typedef struct BlockDriver BlockDriver;
typedef struct BlockDriverState BlockDriverState;

/* ---- mode names (block-opts.c): false for an unknown name ---- */
/* none|off, directsync, writeback, writethrough, unsafe -> BDRV_O_NOCACHE/NO_FLUSH and
 * whether writes are write-through (the guest sees no volatile cache). */
bool bdrv_parse_cache_mode(const char *mode, int *flags, bool *writethrough);
/* threads, native, io_uring -> BDRV_O_NATIVE_AIO/IO_URING */
bool bdrv_parse_aio(const char *mode, int *flags);
/* ignore|off, unmap|on -> BDRV_O_UNMAP */
bool bdrv_parse_discard_flags(const char *mode, int *flags);

/* ---- drivers ---- */
/* Every driver registers itself from a constructor in its own file. */
void bdrv_register(BlockDriver *drv);
BlockDriver *bdrv_find_format(const char *format_name);
BlockDriver *bdrv_find_protocol(const char *filename, Error **errp);
/* The format whitelist hook: NULL allows all; else a NULL-terminated list of names. */
void bdrv_set_format_whitelist(const char *const *formats);
bool bdrv_is_whitelisted(const BlockDriver *drv, bool read_only);
/* Call fn(name) for every format driver, sorted by name (format=help). */
void bdrv_iterate_format(void (*fn)(void *opaque, const char *name), void *opaque);
const char *bdrv_get_format_name(const BlockDriverState *bs);

/* ---- open and close ---- */
/*
 * Open a node from a filename and/or options (dotted keys: "driver", "file.filename",
 * "node-name", "cache.direct", "cache.no-flush", "aio", "discard", "detect-zeroes", driver
 * options, "backing.*"). Takes ownership of options (may be NULL). flags: BDRV_O_*;
 * read-only unless BDRV_O_RDWR. A "json:{...}" filename supplies options. With
 * BDRV_O_PROTOCOL (or a protocol "driver") the filename is opened by the protocol driver
 * directly ("proto:" prefix, a host device, else "file"); otherwise a protocol node is
 * opened first and the format node goes on top of it. Without "driver" the format is
 * probed by content (raw when nothing matches) and the node remembers it was probed.
 * Returns a node with one reference.
 */
BlockDriverState *bdrv_open(const char *filename, JsonObject *options, int flags,
                            Error **errp);
void bdrv_ref(BlockDriverState *bs);
void bdrv_unref(BlockDriverState *bs);  /* closes on the last reference */

/* ---- graph queries ---- */
BlockDriverState *bdrv_find_node(const char *node_name);
/* Iterate over named nodes: pass NULL to start; returns NULL at the end. */
BlockDriverState *bdrv_next_node(BlockDriverState *bs);
const char *bdrv_get_node_name(const BlockDriverState *bs);
const char *bdrv_get_filename(const BlockDriverState *bs);
/* The name of the backend bs is the root of, or "" (QEMU's bdrv_get_device_name). */
const char *bdrv_get_device_name(const BlockDriverState *bs);
/* The root node of drive `device`, else the node named node_name (either may be NULL);
 * "Cannot find device=X nor node_name=Y" when neither exists. */
BlockDriverState *bdrv_lookup_bs(const char *device, const char *node_name, Error **errp);
BlockDriverState *bdrv_file_child(const BlockDriverState *bs);
BlockDriverState *bdrv_backing_child(const BlockDriverState *bs);
int bdrv_backing_depth(const BlockDriverState *bs);
bool bdrv_is_read_only(const BlockDriverState *bs);
int bdrv_get_flags(const BlockDriverState *bs);
bool bdrv_was_probed(const BlockDriverState *bs);
BlockdevDetectZeroesOptions bdrv_get_detect_zeroes(const BlockDriverState *bs);
void bdrv_set_detect_zeroes(BlockDriverState *bs, BlockdevDetectZeroesOptions dz);

/*
 * ---- encryption keys (QEMU 2.2's qcow2 AES images) ----
 * A node whose image is encrypted opens without its key; until bdrv_set_key gives it, its
 * reads and writes fail with -ENOKEY. bdrv_is_encrypted: bs or its backing node is
 * encrypted; bdrv_key_required: one of them still lacks its key. bdrv_set_key gives the
 * key (a password; qcow2 takes its first 16 bytes) to the backing node when that is
 * encrypted, then to bs: 0, -EINVAL when neither is encrypted, -errno when the driver
 * refuses it; when that gives a drive's root node the last key it wanted, the drive's
 * device hears of the medium as at a change (DEVICE_TRAY_MOVED ...). bdrv_get_encrypted_filename: the name of the file that wants the key (the
 * backing file's when that is the encrypted one), NULL when none does.
 */
bool bdrv_is_encrypted(const BlockDriverState *bs);
bool bdrv_key_required(const BlockDriverState *bs);
int bdrv_set_key(BlockDriverState *bs, const char *key);
const char *bdrv_get_encrypted_filename(const BlockDriverState *bs);
/*
 * The image tools' prompt (qemu-img's and qemu-io's) for a node that still wants its key:
 * "Disk image 'F' is encrypted." (unless quiet), then the password from standard input
 * (util/password.h). true when no key is wanted or it was given; false, reported as "No
 * password given" or "invalid password", when not.
 */
bool bdrv_prompt_key(BlockDriverState *bs, const char *filename, bool quiet);

/*
 * ---- synchronous I/O (any thread; returns 0 or -errno; bytes counts for reads/writes) ----
 * Out-of-range requests fail with -EIO, writes to a read-only node with -EACCES (discard:
 * -EPERM), as QEMU 2.2. A thread other than the one that began a drained section waits in
 * these calls until the section ends.
 */
int bdrv_preadv(BlockDriverState *bs, uint64_t offset, IOVector *qiov, int flags);
int bdrv_pwritev(BlockDriverState *bs, uint64_t offset, IOVector *qiov, int flags);
int bdrv_pread(BlockDriverState *bs, uint64_t offset, void *buf, uint64_t bytes);
int bdrv_pwrite(BlockDriverState *bs, uint64_t offset, const void *buf, uint64_t bytes);
/* bdrv_pwrite with BDRV_REQ_FUA: the bytes are stable when it returns (a file makes just
 * them stable; other nodes flush after the write). */
int bdrv_pwrite_fua(BlockDriverState *bs, uint64_t offset, const void *buf, uint64_t bytes);
int bdrv_flush(BlockDriverState *bs);      /* flushes the whole subtree */
int bdrv_pdiscard(BlockDriverState *bs, uint64_t offset, uint64_t bytes);
int bdrv_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags);
int64_t bdrv_getlength(BlockDriverState *bs);    /* bytes, or -errno */
int64_t bdrv_get_allocated_file_size(BlockDriverState *bs);
int bdrv_truncate(BlockDriverState *bs, uint64_t size, Error **errp);
/*
 * How the space of a grown image or file is taken (qemu-img's preallocation=): off leaves
 * it sparse; metadata (formats only) maps every cluster; falloc reserves it; full writes
 * zeroes there. Growing a file with a mode other than off refuses to shrink it.
 */
typedef enum PreallocMode {
    PREALLOC_MODE_OFF,
    PREALLOC_MODE_METADATA,
    PREALLOC_MODE_FALLOC,
    PREALLOC_MODE_FULL,
} PreallocMode;
/* The mode called name ("off", "metadata", "falloc", "full"), or -1. */
int prealloc_mode_parse(const char *name);
const char *prealloc_mode_name(PreallocMode mode);
/* bdrv_truncate taking the new space as mode says (the driver refuses what it cannot do). */
int bdrv_truncate_prealloc(BlockDriverState *bs, uint64_t size, PreallocMode mode,
                           Error **errp);
/*
 * Allocation status of [offset, offset+bytes): returns BDRV_BLOCK_* flags for the first
 * *pnum bytes (at least 1 byte unless at EOF).
 */
enum {
    BDRV_BLOCK_DATA = 1,
    BDRV_BLOCK_ZERO = 2,
    BDRV_BLOCK_ALLOCATED = 4,
    BDRV_BLOCK_OFFSET_VALID = 8, /* bdrv_block_status_map: *map in *file holds the bytes */
    BDRV_BLOCK_RECURSE = 16,     /* driver to core only: ask *file whether DATA is zero */
};
int bdrv_block_status(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum);
/* Is the start of [offset, offset+*bytes) allocated in top or an image below it, down to base
 * (exclusive; NULL: the whole chain)? 1 or 0, with *bytes shrunk to the run with the same
 * answer; < 0 on error. */
int bdrv_is_allocated_above(BlockDriverState *top, BlockDriverState *base, uint64_t offset,
                            uint64_t *bytes);
/* The same, plus where the bytes are stored: with BDRV_BLOCK_OFFSET_VALID, at *map in node
 * *file (a protocol node); otherwise *file is NULL (zero or compressed clusters, ...). */
int bdrv_block_status_map(BlockDriverState *bs, uint64_t offset, uint64_t bytes, uint64_t *pnum,
                          uint64_t *map, BlockDriverState **file);
/* Whether [offset, offset+bytes) of bs reads as zeroes as far as block status tells, through
 * the backing chain (nothing is read: data counts as not zero); bytes past the end of an
 * image, and every byte when bs is NULL, read as zeroes. */
bool bdrv_reads_as_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes);
/* Whether writes with BDRV_REQ_WRITE_COMPRESSED work on this node, or on images of the format
 * (before one is created). */
bool bdrv_supports_compressed_writes(const BlockDriverState *bs);
bool bdrv_format_supports_compressed_writes(const char *format_name);
/* What a format tells about itself (QEMU's BlockDriverInfo, the part we use). */
typedef struct BlockDriverInfo {
    uint32_t cluster_size; /* 0: the format has no clusters */
} BlockDriverInfo;
/* 0 and *bdi filled (zeroes when the driver has nothing to say), or -errno. */
int bdrv_get_info(BlockDriverState *bs, BlockDriverInfo *bdi);

/* ---- asynchronous I/O (completion in the submitting thread's GMainContext) ---- */
typedef void BlockCompletionFunc(void *opaque, int ret);
void bdrv_aio_preadv(BlockDriverState *bs, uint64_t offset, IOVector *qiov, int flags,
                     BlockCompletionFunc *cb, void *opaque);
void bdrv_aio_pwritev(BlockDriverState *bs, uint64_t offset, IOVector *qiov, int flags,
                      BlockCompletionFunc *cb, void *opaque);
void bdrv_aio_flush(BlockDriverState *bs, BlockCompletionFunc *cb, void *opaque);
void bdrv_aio_pdiscard(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                       BlockCompletionFunc *cb, void *opaque);
void bdrv_aio_pwrite_zeroes(BlockDriverState *bs, uint64_t offset, uint64_t bytes, int flags,
                            BlockCompletionFunc *cb, void *opaque);

/*
 * ---- drain: wait for in-flight requests and hold new ones until drained_end ----
 * Covers the node and its children. Requests from other threads are held (asynchronous
 * ones are queued and resubmitted afterwards); the draining thread may still do I/O. While
 * waiting, the thread keeps dispatching its own GMainContext (one it pushed as thread
 * default; the global default in the main thread), so completions there still run.
 */
void bdrv_drained_begin(BlockDriverState *bs);
void bdrv_drained_end(BlockDriverState *bs);
void bdrv_drain_all(void);
void bdrv_flush_all(void);
/*
 * The VMM's exit: every node stays drained from here on (what I/O threads still send is
 * parked, never run), is flushed, and every writable format node writes back what it caches
 * and marks its image clean (qcow2's lazy-refcount dirty bit), as QEMU's close does.
 */
void bdrv_quiesce_for_exit(void);

/* ---- op blockers ---- */
void bdrv_op_block(BlockDriverState *bs, BlockOpType op, Error *reason);
void bdrv_op_unblock(BlockDriverState *bs, BlockOpType op, Error *reason);
void bdrv_op_block_all(BlockDriverState *bs, Error *reason);
void bdrv_op_unblock_all(BlockDriverState *bs, Error *reason);
/* true, with "Device 'X' is busy: <reason>" in errp, when op is blocked. */
bool bdrv_op_is_blocked(BlockDriverState *bs, BlockOpType op, Error **errp);

#endif
