/*
 * virtio-blk, the device model: request parsing and checking, submission to the
 * BlockBackend, completion with a status byte, the configuration space (capacity, limits,
 * geometry, topology, write cache, queues, discard and write-zeroes limits) and the
 * features, all as QEMU 7.2's virtio-blk. A request the guest got wrong at the virtio level
 * (no header, no status byte) breaks the device, as in QEMU; a request that is merely
 * invalid (out of range, misaligned, unknown type) completes with IOERR or UNSUPP.
 * Completions of one batch raise one interrupt. Not the transport (virtio-pci*.c).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <glib.h>
#include "block/error-policy.h"
#include "hw/hd-geometry.h"
#include "hw/kvm-irq.h"
#include "hw/machine.h"
#include "hw/virtio-blk.h"
#include "util/main-loop.h"

#define VIRTIO_BLK_HDR_SIZE 16 /* type, ioprio, sector */
#define VIRTIO_BLK_DWZ_SIZE 16 /* sector, num_sectors, flags */
#define VIRTIO_BLK_SECTOR_SIZE 512
#define VIRTIO_BLK_MAX_SECTORS 0x3fffffu /* QEMU's BDRV_REQUEST_MAX_SECTORS */
#define VIRTIO_BLK_CONFIG_SIZE 60
/* Config fields (struct virtio_blk_config). */
#define CFG_CAPACITY 0
#define CFG_SEG_MAX 12
#define CFG_CYLINDERS 16
#define CFG_HEADS 18
#define CFG_SECTORS 19
#define CFG_BLK_SIZE 20
#define CFG_WCE 32
#define CFG_NUM_QUEUES 34
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG 40
#define CFG_DISCARD_ALIGNMENT 44
#define CFG_MAX_WZ_SECTORS 48
#define CFG_MAX_WZ_SEG 52
#define CFG_WZ_MAY_UNMAP 56
#define CFG_END_NUM_QUEUES 36 /* config sizes by the last feature offered */
#define CFG_END_DISCARD 48
#define CFG_END_WRITE_ZEROES 57
/* A pooled request whose vectors grew past this many buffers is freed, not kept. */
#define VIRTIO_BLK_POOL_MAX_IOV 64

typedef struct VirtIOBlockReq VirtIOBlockReq;

/*
 * Per queue, requests kept for reuse with their element's and qiov's vectors still
 * allocated, so that in the steady state a request costs no allocation. At most the
 * queue-size property's number are kept; more in flight (a guest may publish one head
 * many times) are allocated and freed. Under the queue lock.
 */
typedef struct VirtIOBlockPool {
    VirtIOBlockReq *free; /* linked through next_free */
    unsigned nfree;
    unsigned allocated; /* requests ever allocated (virtio_blk_pool_stats) */
} VirtIOBlockPool;

struct VirtIOBlock {
    VirtIODevice vdev;
    BlockBackend *blk;
    VirtioBlkConf conf;
    char *serial;
    bool original_wce;
    unsigned cyls, heads, secs;
    bool *notify_pending;   /* per queue: completions since last interrupt */
    bool *notify_scheduled; /* per queue: its notify BH is on its way */
    GQueue *kept;           /* per queue: requests kept by the "stop" error policy */
    VirtIOBlockPool *pool;  /* per queue */
};

struct VirtIOBlockReq {
    VirtIOBlock *s;
    VirtQueue *vq;
    VirtQueueElement elem;
    uint8_t *status; /* last byte of the last device-writable buffer */
    uint32_t in_len;
    IOVector qiov;
    bool is_write;
    unsigned generation; /* its queue's when the request was taken */
    uint32_t type;       /* from the header, read once: a retry submits the same request */
    uint64_t sector;
    VirtIOBlockReq *next_free;
};

/* ---- the request pool ---- */

static VirtIOBlockReq *virtio_blk_req_get(VirtIOBlock *s, VirtQueue *vq)
{
    VirtIOBlockPool *pool = &s->pool[virtio_queue_index(vq)];
    VirtIOBlockReq *req = pool->free;

    if (req) {
        pool->free = req->next_free;
        pool->nfree--;
    } else {
        req = g_new0(VirtIOBlockReq, 1);
        virtqueue_element_init(&req->elem);
        iov_init(&req->qiov, 2);
        pool->allocated++;
    }
    /* Only the vectors' allocations carry over from the request before. */
    *req = (VirtIOBlockReq){.s = s, .vq = vq, .elem = req->elem, .qiov = req->qiov};
    return req;
}

static void virtio_blk_req_destroy(VirtIOBlockReq *req)
{
    virtqueue_element_destroy(&req->elem);
    iov_destroy(&req->qiov);
    g_free(req);
}

/* Done with req: back to its queue's pool, or freed. */
static void virtio_blk_req_free(VirtIOBlockReq *req)
{
    VirtIOBlockPool *pool = &req->s->pool[virtio_queue_index(req->vq)];

    if (pool->nfree >= req->s->conf.queue_size || req->elem.out.nalloc > VIRTIO_BLK_POOL_MAX_IOV ||
        req->elem.in.nalloc > VIRTIO_BLK_POOL_MAX_IOV ||
        req->qiov.nalloc > VIRTIO_BLK_POOL_MAX_IOV) {
        virtio_blk_req_destroy(req);
        return;
    }
    iov_reset(&req->qiov);
    req->next_free = pool->free;
    pool->free = req;
    pool->nfree++;
}

static void virtio_blk_pool_clear(VirtIOBlockPool *pool)
{
    VirtIOBlockReq *req;

    while ((req = pool->free)) {
        pool->free = req->next_free;
        virtio_blk_req_destroy(req);
    }
    pool->nfree = 0;
}

void virtio_blk_pool_stats(VirtIOBlock *s, unsigned queue, unsigned *nfree, unsigned *allocated)
{
    *nfree = s->pool[queue].nfree;
    *allocated = s->pool[queue].allocated;
}

/* ---- completion ---- */

/* A queue's completions since the last interrupt, in the thread serving the queue. */
static void virtio_blk_notify_bh(void *opaque)
{
    VirtQueue *vq = opaque;
    VirtIOBlock *s = vq->vdev->opaque;
    unsigned i = virtio_queue_index(vq);

    virtio_queue_lock(vq);
    s->notify_scheduled[i] = false;
    if (s->notify_pending[i]) {
        s->notify_pending[i] = false;
        virtio_notify(vq);
    }
    virtio_queue_unlock(vq);
}

/* Complete now; the interrupt follows once per batch (end of the kick, or a BH). */
static void virtio_blk_req_complete(VirtIOBlockReq *req, uint8_t status)
{
    VirtIOBlock *s = req->s;

    if (req->generation != req->vq->generation) {
        /* Taken before a device or queue reset that could not drain it: the rings it came
         * from are gone, and the driver no longer expects it. */
        virtio_blk_req_free(req);
        return;
    }
    *req->status = status;
    virtqueue_push(req->vq, &req->elem, req->in_len);
    s->notify_pending[virtio_queue_index(req->vq)] = true;
    virtio_blk_req_free(req);
}

static void virtio_blk_schedule_notify(VirtIOBlock *s, VirtQueue *vq)
{
    unsigned i = virtio_queue_index(vq);

    if (s->notify_scheduled[i]) {
        return;
    }
    if (!virtio_queue_may_notify(vq)) {
        s->notify_pending[i] = false; /* a polling guest: no call to the loop per batch */
        return;
    }
    s->notify_scheduled[i] = true;
    if (vq->iothread && iothread_is_current(vq->iothread)) {
        iothread_call(vq->iothread, virtio_blk_notify_bh, vq);
    } else {
        main_loop_call(virtio_blk_notify_bh, vq);
    }
}

/*
 * werror/rerror for a failed request: true with the status to complete it with (report:
 * IOERR, ignore: OK), false when "stop" kept it on its queue's list for a retry on cont.
 * A request from before a reset is nobody's any more: it completes (and is dropped).
 */
static bool virtio_blk_error_status(VirtIOBlockReq *req, int ret, uint8_t *status)
{
    if (req->generation != req->vq->generation) {
        *status = VIRTIO_BLK_S_IOERR;
        return true;
    }
    switch (blk_handle_error(req->s->blk, !req->is_write, ret)) {
    case BLOCK_ERROR_ACTION_IGNORE:
        *status = VIRTIO_BLK_S_OK;
        return true;
    case BLOCK_ERROR_ACTION_REPORT:
        *status = VIRTIO_BLK_S_IOERR;
        return true;
    default:
        g_queue_push_tail(&req->s->kept[virtio_queue_index(req->vq)], req);
        return false;
    }
}

/* In the thread that submitted: the queue's I/O thread, or the main loop. */
static void virtio_blk_aio_complete(void *opaque, int ret)
{
    VirtIOBlockReq *req = opaque;
    VirtIOBlock *s = req->s;
    VirtQueue *vq = req->vq;

    uint8_t status = VIRTIO_BLK_S_OK;

    virtio_queue_lock(vq);
    if (!ret || virtio_blk_error_status(req, ret, &status)) {
        virtio_blk_req_complete(req, status);
        virtio_blk_schedule_notify(s, vq);
    }
    virtio_queue_unlock(vq);
}

/* ---- request checks ---- */

static uint64_t virtio_blk_sectors(VirtIOBlock *s)
{
    int64_t len = blk_getlength(s->blk);

    return len > 0 ? (uint64_t)len / VIRTIO_BLK_SECTOR_SIZE : 0;
}

/* QEMU's virtio_blk_sect_range_ok(): size in bytes from sector, inside the disk. */
static bool virtio_blk_range_ok(VirtIOBlock *s, uint64_t sector, uint64_t size)
{
    uint64_t nb_sectors = size / VIRTIO_BLK_SECTOR_SIZE;
    uint64_t total = virtio_blk_sectors(s);

    if (nb_sectors > VIRTIO_BLK_MAX_SECTORS || size % VIRTIO_BLK_SECTOR_SIZE) {
        return false;
    }
    return sector <= total && nb_sectors <= total - sector;
}

/* ---- request types ---- */

static void virtio_blk_handle_rw(VirtIOBlockReq *req, uint64_t sector, bool is_write)
{
    VirtQueueElement *elem = &req->elem;
    VirtIOBlock *s = req->s;

    req->is_write = is_write;
    if (is_write) {
        iov_add_slice(&req->qiov, &elem->out, VIRTIO_BLK_HDR_SIZE,
                      elem->out.size - VIRTIO_BLK_HDR_SIZE);
    } else {
        iov_add_slice(&req->qiov, &elem->in, 0, elem->in.size - 1);
    }
    if (!virtio_blk_range_ok(s, sector, req->qiov.size)) {
        virtio_blk_req_complete(req, VIRTIO_BLK_S_IOERR);
        return;
    }
    if (req->qiov.size == 0) {
        virtio_blk_req_complete(req, VIRTIO_BLK_S_OK);
        return;
    }
    if (is_write) {
        blk_aio_pwritev(s->blk, sector * VIRTIO_BLK_SECTOR_SIZE, &req->qiov, 0,
                        virtio_blk_aio_complete, req);
    } else {
        blk_aio_preadv(s->blk, sector * VIRTIO_BLK_SECTOR_SIZE, &req->qiov, 0,
                       virtio_blk_aio_complete, req);
    }
}

static void virtio_blk_handle_get_id(VirtIOBlockReq *req)
{
    const char *serial = req->s->serial ? req->s->serial : "";
    size_t len = MIN(strlen(serial) + 1, MIN(req->elem.in.size - 1, VIRTIO_BLK_ID_BYTES));

    iov_from_buf(&req->elem.in, 0, serial, len);
    virtio_blk_req_complete(req, VIRTIO_BLK_S_OK);
}

/* The 16-byte discard/write-zeroes segment; the status for a request that fails checks. */
static uint8_t virtio_blk_dwz_submit(VirtIOBlockReq *req, const uint8_t *seg, bool wz)
{
    VirtIOBlock *s = req->s;
    uint64_t sector;
    uint32_t num, flags;

    memcpy(&sector, seg, 8);
    memcpy(&num, seg + 8, 4);
    memcpy(&flags, seg + 12, 4);
    sector = le64toh(sector);
    num = le32toh(num);
    flags = le32toh(flags);
    if (num > VIRTIO_BLK_MAX_SECTORS ||
        !virtio_blk_range_ok(s, sector, (uint64_t)num * VIRTIO_BLK_SECTOR_SIZE)) {
        return VIRTIO_BLK_S_IOERR;
    }
    if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
        (!wz && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))) {
        return VIRTIO_BLK_S_UNSUPP;
    }
    req->is_write = true;
    if (wz) {
        blk_aio_pwrite_zeroes(s->blk, sector * VIRTIO_BLK_SECTOR_SIZE,
                              (uint64_t)num * VIRTIO_BLK_SECTOR_SIZE,
                              (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ? BDRV_REQ_MAY_UNMAP : 0,
                              virtio_blk_aio_complete, req);
    } else {
        blk_aio_pdiscard(s->blk, sector * VIRTIO_BLK_SECTOR_SIZE,
                         (uint64_t)num * VIRTIO_BLK_SECTOR_SIZE, virtio_blk_aio_complete, req);
    }
    return VIRTIO_BLK_S_OK;
}

/* False when the device is now broken (the segment is missing). */
static bool virtio_blk_handle_dwz(VirtIOBlockReq *req, uint32_t type)
{
    size_t out_len = req->elem.out.size - VIRTIO_BLK_HDR_SIZE;
    uint8_t seg[VIRTIO_BLK_DWZ_SIZE];
    uint8_t status;

    /* One segment, and the OUT bit set, or the request is unsupported. */
    if (!(type & VIRTIO_BLK_T_OUT) || out_len > sizeof(seg)) {
        virtio_blk_req_complete(req, VIRTIO_BLK_S_UNSUPP);
        return true;
    }
    if (iov_to_buf(&req->elem.out, VIRTIO_BLK_HDR_SIZE, seg, sizeof(seg)) != sizeof(seg)) {
        virtio_error(&req->s->vdev, "virtio-blk discard/write_zeroes header too short");
        return false;
    }
    status = virtio_blk_dwz_submit(req, seg,
                                   (type & ~VIRTIO_BLK_T_BARRIER) == VIRTIO_BLK_T_WRITE_ZEROES);
    if (status != VIRTIO_BLK_S_OK) {
        virtio_blk_req_complete(req, status);
    }
    return true;
}

/* SCSI passthrough is off (QEMU's scsi=off): a well-formed request gets UNSUPP and 255 in
 * its virtio_scsi_inhdr.errors (the second-to-last device-writable buffer). */
static uint8_t virtio_blk_scsi_status(VirtQueueElement *elem)
{
    const struct iovec *scsi;
    uint32_t errors = htole32(255);

    if (elem->out.niov < 2 || elem->in.niov < 3) {
        return VIRTIO_BLK_S_IOERR;
    }
    scsi = &elem->in.iov[elem->in.niov - 2];
    if (scsi->iov_len >= sizeof(errors)) {
        memcpy(scsi->iov_base, &errors, sizeof(errors));
    }
    return VIRTIO_BLK_S_UNSUPP;
}

static void virtio_blk_dispatch(VirtIOBlockReq *req, uint32_t type, uint64_t sector)
{
    switch (type & ~(VIRTIO_BLK_T_OUT | VIRTIO_BLK_T_BARRIER)) {
    case VIRTIO_BLK_T_IN:
        virtio_blk_handle_rw(req, sector, type & VIRTIO_BLK_T_OUT);
        break;
    case VIRTIO_BLK_T_FLUSH:
        req->is_write = true;
        blk_aio_flush(req->s->blk, virtio_blk_aio_complete, req);
        break;
    case VIRTIO_BLK_T_GET_ID:
        virtio_blk_handle_get_id(req);
        break;
    case VIRTIO_BLK_T_SCSI_CMD:
        virtio_blk_req_complete(req, virtio_blk_scsi_status(&req->elem));
        break;
    default:
        virtio_blk_req_complete(req, VIRTIO_BLK_S_UNSUPP);
        break;
    }
}

/* Submit a parsed request (again, for a retry). False when the device is now broken. */
static bool virtio_blk_submit(VirtIOBlockReq *req)
{
    uint32_t op = req->type & ~(VIRTIO_BLK_T_OUT | VIRTIO_BLK_T_BARRIER);

    if (op == (VIRTIO_BLK_T_DISCARD & ~VIRTIO_BLK_T_OUT) ||
        op == (VIRTIO_BLK_T_WRITE_ZEROES & ~VIRTIO_BLK_T_OUT)) {
        return virtio_blk_handle_dwz(req, req->type);
    }
    virtio_blk_dispatch(req, req->type, req->sector);
    return true;
}

/* A request whose element was just popped. False when the device is now broken. */
static bool virtio_blk_handle_request(VirtIOBlock *s, VirtIOBlockReq *req)
{
    VirtQueueElement *elem = &req->elem;
    const struct iovec *last;
    uint8_t hdr[VIRTIO_BLK_HDR_SIZE];
    uint32_t type;
    uint64_t sector;

    /* Descriptors are never empty, so a status byte exists whenever in.niov does. */
    if (!elem->out.niov || !elem->in.niov || elem->out.size < VIRTIO_BLK_HDR_SIZE) {
        virtio_error(&s->vdev, elem->out.niov && elem->in.niov
                                   ? "virtio-blk request outhdr too short"
                                   : "virtio-blk missing headers");
        virtio_blk_req_free(req);
        return false;
    }
    iov_to_buf(&elem->out, 0, hdr, sizeof(hdr));
    memcpy(&type, hdr, 4);
    memcpy(&sector, hdr + 8, 8);
    req->generation = req->vq->generation;
    req->in_len = elem->in.size;
    last = &elem->in.iov[elem->in.niov - 1];
    req->status = (uint8_t *)last->iov_base + last->iov_len - 1;
    req->type = le32toh(type);
    req->sector = le64toh(sector);
    if (!virtio_blk_submit(req)) {
        virtio_blk_req_free(req);
        return false;
    }
    return true;
}

/* Pop and submit every available request; false when the device is now broken. */
static bool virtio_blk_handle_available(VirtIOBlock *s, VirtQueue *vq)
{
    /* A broken device and a bad avail index are virtqueue_pop()'s to report; an empty
     * queue is not popped, so no request is taken from the pool for nothing. */
    while (s->vdev.broken || !virtio_queue_empty(vq)) {
        VirtIOBlockReq *req = virtio_blk_req_get(s, vq);
        int r = virtqueue_pop(vq, &req->elem);

        if (r <= 0) {
            virtio_blk_req_free(req);
            return r == 0;
        }
        if (!virtio_blk_handle_request(s, req)) {
            return false;
        }
    }
    return true;
}

static void virtio_blk_handle_output(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOBlock *s = vdev->opaque;

    /*
     * Each request goes to the kernel as it is popped, not the kick's requests together:
     * on this project's hosts a batch in one submission held depth-32 random I/O 20-50%
     * below single submissions (docs/performance.md, 2026-11-27).
     */
    do {
        virtio_queue_set_notification(vq, false);
        if (!virtio_blk_handle_available(s, vq)) {
            return;
        }
        virtio_queue_set_notification(vq, true);
    } while (!virtio_queue_empty(vq));
    if (s->notify_pending[virtio_queue_index(vq)]) {
        s->notify_pending[virtio_queue_index(vq)] = false;
        virtio_notify(vq);
    }
}

/* ---- configuration space and device hooks ---- */

static void cfg_set16(uint8_t *c, unsigned off, uint16_t v)
{
    v = htole16(v);
    memcpy(c + off, &v, 2);
}

static void cfg_set32(uint8_t *c, unsigned off, uint32_t v)
{
    v = htole32(v);
    memcpy(c + off, &v, 4);
}

static void virtio_blk_get_config(VirtIODevice *vdev, uint8_t *c)
{
    VirtIOBlock *s = vdev->opaque;
    uint64_t capacity = htole64(virtio_blk_sectors(s));

    memset(c, 0, vdev->config_len);
    memcpy(c + CFG_CAPACITY, &capacity, 8);
    cfg_set32(c, CFG_SEG_MAX, s->conf.queue_size - 2);
    cfg_set16(c, CFG_CYLINDERS, s->cyls);
    c[CFG_HEADS] = s->heads;
    c[CFG_SECTORS] = s->secs;
    cfg_set32(c, CFG_BLK_SIZE, VIRTIO_BLK_SECTOR_SIZE);
    c[CFG_WCE] = blk_enable_write_cache(s->blk);
    cfg_set16(c, CFG_NUM_QUEUES, s->conf.num_queues);
    if (vdev->config_len >= CFG_END_DISCARD) {
        cfg_set32(c, CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_MAX_SECTORS);
        cfg_set32(c, CFG_MAX_DISCARD_SEG, 1);
        cfg_set32(c, CFG_DISCARD_ALIGNMENT, 1);
    }
    if (vdev->config_len >= CFG_END_WRITE_ZEROES) {
        cfg_set32(c, CFG_MAX_WZ_SECTORS, VIRTIO_BLK_MAX_SECTORS);
        cfg_set32(c, CFG_MAX_WZ_SEG, 1);
        c[CFG_WZ_MAY_UNMAP] = 1;
    }
}

static void virtio_blk_set_config(VirtIODevice *vdev, const uint8_t *config)
{
    VirtIOBlock *s = vdev->opaque;

    blk_set_enable_write_cache(s->blk, config[CFG_WCE] != 0);
}

static void virtio_blk_set_status(VirtIODevice *vdev, uint8_t status)
{
    VirtIOBlock *s = vdev->opaque;

    /* A driver without CONFIG_WCE gets write-back exactly when it can flush. */
    if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
        !virtio_vdev_has_feature(vdev, VIRTIO_BLK_F_CONFIG_WCE)) {
        blk_set_enable_write_cache(s->blk, virtio_vdev_has_feature(vdev, VIRTIO_BLK_F_FLUSH));
    }
}

static void virtio_blk_reset(VirtIODevice *vdev)
{
    VirtIOBlock *s = vdev->opaque;

    /*
     * In-flight requests complete into the old rings before they go away, where the
     * waiting thread can run their completions: the main thread. A vCPU thread (a driver
     * writing status 0) holds the machine lock the completions need, so there requests
     * still in flight are disowned instead (the queue reset that follows bumps each
     * queue's generation) and dropped when they complete. So are they with I/O threads,
     * whose completions need the device lock the resetting thread holds.
     */
    if (gettid() == getpid() && !vdev->n_iothreads) {
        blk_drain(s->blk);
    }
    memset(s->notify_pending, 0, s->vdev.num_queues * sizeof(bool));
    blk_set_enable_write_cache(s->blk, s->original_wce);
}

static void virtio_blk_resize(void *opaque)
{
    VirtIOBlock *s = opaque;

    virtio_device_lock(&s->vdev);
    virtio_notify_config(&s->vdev);
    virtio_device_unlock(&s->vdev);
}

/* The requests a queue kept for "stop", resubmitted in order in the queue's thread; those
 * from before a reset are dropped, and those failing again are kept again. */
static void virtio_blk_retry_queue(void *opaque)
{
    VirtQueue *vq = opaque;
    VirtIOBlock *s = vq->vdev->opaque;
    unsigned i = virtio_queue_index(vq);
    GQueue todo;
    VirtIOBlockReq *req;

    virtio_queue_lock(vq);
    todo = s->kept[i];
    g_queue_init(&s->kept[i]);
    while ((req = g_queue_pop_head(&todo))) {
        if (req->generation != vq->generation) {
            virtio_blk_req_free(req);
            continue;
        }
        iov_reset(&req->qiov);
        if (!virtio_blk_submit(req)) {
            virtio_blk_req_free(req);
        }
    }
    if (s->notify_pending[i]) {
        virtio_blk_schedule_notify(s, vq);
    }
    virtio_queue_unlock(vq);
}

static void virtio_blk_retry(void *opaque)
{
    VirtIOBlock *s = opaque;

    for (unsigned i = 0; i < s->conf.num_queues; i++) {
        VirtQueue *vq = &s->vdev.vq[i];

        if (vq->iothread) {
            iothread_call(vq->iothread, virtio_blk_retry_queue, vq);
        } else {
            virtio_blk_retry_queue(vq);
        }
    }
}

static const BlockDevOps virtio_blk_dev_ops = {
    .resize_cb = virtio_blk_resize,
    .retry_cb = virtio_blk_retry,
};

static const VirtioDeviceOps virtio_blk_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .get_config = virtio_blk_get_config,
    .set_config = virtio_blk_set_config,
    .set_status = virtio_blk_set_status,
    .reset = virtio_blk_reset,
};

/* ---- creation ---- */

/* The geometry in the config space: -drive cyls=,heads=,secs= when all three are given,
 * else guessed (hd-geometry.c). The -drive options were checked at parse time. */
static void virtio_blk_geometry(VirtIOBlock *s, const DriveInfo *dinfo)
{
    HdGeometry g = {0};

    if (dinfo && dinfo->cyls && dinfo->heads && dinfo->secs) {
        g = (HdGeometry){dinfo->cyls, dinfo->heads, dinfo->secs};
    } else {
        hd_geometry_guess(s->blk, &g);
    }
    s->cyls = g.cyls;
    s->heads = g.heads;
    s->secs = g.secs;
}

static uint64_t virtio_blk_features(const VirtioBlkConf *conf, bool read_only)
{
    uint64_t f = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_GEOMETRY |
                 1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_TOPOLOGY |
                 1ULL << VIRTIO_BLK_F_FLUSH;

    f |= conf->config_wce ? 1ULL << VIRTIO_BLK_F_CONFIG_WCE : 0;
    f |= read_only ? 1ULL << VIRTIO_BLK_F_RO : 0;
    f |= conf->num_queues > 1 ? 1ULL << VIRTIO_BLK_F_MQ : 0;
    f |= conf->discard ? 1ULL << VIRTIO_BLK_F_DISCARD : 0;
    f |= conf->write_zeroes ? 1ULL << VIRTIO_BLK_F_WRITE_ZEROES : 0;
    /* The transport features QEMU offers with every device. */
    f |= 1ULL << VIRTIO_F_NOTIFY_ON_EMPTY | 1ULL << VIRTIO_F_ANY_LAYOUT |
         1ULL << VIRTIO_RING_F_INDIRECT_DESC | 1ULL << VIRTIO_RING_F_EVENT_IDX |
         1ULL << VIRTIO_F_BAD_FEATURE | 1ULL << VIRTIO_F_RING_RESET;
    if (conf->disable_modern) {
        /* A legacy-only device: QEMU offers SCSI passthrough (refused per request, as
         * scsi=off) and drops ANY_LAYOUT, which 0.9.5 drivers cannot be trusted with. */
        f = (f | 1ULL << VIRTIO_BLK_F_SCSI) & ~(1ULL << VIRTIO_F_ANY_LAYOUT);
    }
    return f;
}

static bool virtio_blk_check_conf(BlockBackend *blk, const VirtioBlkConf *conf, Error **errp)
{
    if (!blk) {
        error_setg(errp, "drive property not set");
    } else if (!blk_is_inserted(blk)) {
        error_setg(errp, "Device needs media, but drive is empty");
    } else if (conf->num_queues == 0 || conf->num_queues > VIRTIO_QUEUE_MAX - 1) {
        error_setg(errp,
                   conf->num_queues ? "num-queues property must be at most %d"
                                    : "num-queues property must be larger than 0",
                   VIRTIO_QUEUE_MAX - 1);
    } else if (conf->queue_size <= 2) {
        error_setg(errp, "invalid queue-size property (%u), must be > 2", conf->queue_size);
    } else if (conf->queue_size > VIRTQUEUE_MAX_SIZE ||
               (conf->queue_size & (conf->queue_size - 1))) {
        error_setg(errp, "invalid queue-size property (%u), must be a power of 2 (max %d)",
                   conf->queue_size, VIRTQUEUE_MAX_SIZE);
    } else {
        return true;
    }
    return false;
}

static size_t virtio_blk_config_size(const VirtioBlkConf *conf)
{
    if (conf->write_zeroes) {
        return CFG_END_WRITE_ZEROES;
    }
    return conf->discard ? CFG_END_DISCARD : CFG_END_NUM_QUEUES;
}

VirtIOBlock *virtio_blk_new(BlockBackend *blk, const VirtioBlkConf *conf, Error **errp)
{
    DriveInfo *dinfo = blk ? blk_legacy_dinfo(blk) : NULL;
    VirtIOBlock *s;

    if (!virtio_blk_check_conf(blk, conf, errp)) {
        return NULL;
    }
    s = g_new0(VirtIOBlock, 1);
    s->blk = blk;
    s->conf = *conf;
    s->serial = g_strdup(conf->serial ? conf->serial : dinfo ? dinfo->serial : NULL);
    s->conf.serial = s->serial;
    s->original_wce = blk_enable_write_cache(blk);
    virtio_init(&s->vdev, &virtio_blk_ops, s, virtio_blk_config_size(conf),
                virtio_blk_features(conf, blk_is_read_only(blk)));
    for (unsigned i = 0; i < conf->num_queues; i++) {
        virtio_add_queue(&s->vdev, conf->queue_size, virtio_blk_handle_output);
    }
    s->notify_pending = g_new0(bool, conf->num_queues);
    s->notify_scheduled = g_new0(bool, conf->num_queues);
    s->kept = g_new0(GQueue, conf->num_queues);
    s->pool = g_new0(VirtIOBlockPool, conf->num_queues);
    if (kvm_enabled()) {
        /* Without KVM (qtest) kicks are register writes: the main loop serves them. */
        virtio_set_iothreads(&s->vdev, conf->iothreads, conf->n_iothreads);
    }
    virtio_blk_geometry(s, dinfo);
    blk_set_dev_ops(blk, &virtio_blk_dev_ops, s);
    blk_iostatus_enable(blk);
    return s;
}

VirtIODevice *virtio_blk_vdev(VirtIOBlock *s)
{
    return &s->vdev;
}

void virtio_blk_free(VirtIOBlock *s)
{
    blk_set_dev_ops(s->blk, NULL, NULL);
    virtio_cleanup(&s->vdev);
    for (unsigned i = 0; i < s->conf.num_queues; i++) {
        g_queue_clear_full(&s->kept[i], (GDestroyNotify)virtio_blk_req_destroy);
        virtio_blk_pool_clear(&s->pool[i]);
    }
    g_free(s->kept);
    g_free(s->pool);
    g_free(s->notify_pending);
    g_free(s->notify_scheduled);
    g_free(s->serial);
    g_free(s);
}

void virtio_blk_conf_init(VirtioBlkConf *conf)
{
    *conf = (VirtioBlkConf){
        .num_queues = 0,
        .queue_size = VIRTIO_BLK_DEFAULT_QUEUE_SIZE,
        .config_wce = true,
        .discard = true,
        .write_zeroes = true,
        .vectors = -1,
        .bootindex = -1,
    };
}
