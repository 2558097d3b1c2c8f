/*
 * The data path of the PV block backend: the one-page blkif ring a frontend shares with
 * us, its requests copied out of their slots and checked in one place
 * (xen_block_check_request), the granted pages of READ/WRITE mapped for the duration of
 * their I/O, and the responses published with the ring's notification hold-off rules.
 * Everything runs under the BQL: kicks in the vCPU thread that sent on the event channel,
 * completions in the main loop. Corrupt ring indexes stop the ring (logged once per
 * device) until the frontend connects again. Not the xenstore side (xen-block.c); no
 * multi-page rings, no indirect descriptors, no persistent grants.
 */
#include <endian.h>
#include <string.h>
#include "block/block-backend.h"
#include "hw/xen/xen.h"
#include "xen-block-int.h"

/*
 * Requests taken per kick. A guest refilling the ring from another vCPU with requests that
 * are answered at once (bad ones) could otherwise keep this vCPU thread, and the BQL, in
 * the loop for ever; what is left over is served from the resume timer.
 */
#define XEN_BLOCK_KICK_BUDGET (2 * BLKIF_RING_SLOTS)
#define XEN_BLOCK_RSP_SIZE 16

/* ---- the shared ring ---- */

static uint32_t ring_load(const XenBlockRing *r, unsigned offset)
{
    return le32toh(__atomic_load_n((uint32_t *)(r->sring + offset), __ATOMIC_RELAXED));
}

static void ring_store(XenBlockRing *r, unsigned offset, uint32_t value)
{
    __atomic_store_n((uint32_t *)(r->sring + offset), htole32(value), __ATOMIC_RELAXED);
}

static uint8_t *ring_slot(XenBlockRing *r, uint32_t index)
{
    return r->sring + BLKIF_RING_HDR_SIZE + (index % BLKIF_RING_SLOTS) * BLKIF_RING_SLOT_SIZE;
}

void xen_block_ring_attach(XenBlockRing *r, void *sring)
{
    r->sring = sring;
    r->req_cons = r->rsp_prod_pvt = r->rsp_prod_pub = ring_load(r, BLKIF_RING_RSP_PROD);
}

int xen_block_ring_avail(XenBlockRing *r)
{
    uint32_t prod = ring_load(r, BLKIF_RING_REQ_PROD);
    uint32_t in_flight = r->req_cons - r->rsp_prod_pvt;
    uint32_t avail = prod - r->req_cons;

    __atomic_thread_fence(__ATOMIC_ACQUIRE); /* the slots are read after req_prod */
    if (in_flight > BLKIF_RING_SLOTS || avail > BLKIF_RING_SLOTS - in_flight) {
        return -1;
    }
    return (int)avail;
}

void xen_block_ring_take(XenBlockRing *r, uint8_t slot[BLKIF_RING_SLOT_SIZE])
{
    memcpy(slot, ring_slot(r, r->req_cons), BLKIF_RING_SLOT_SIZE);
    r->req_cons++;
}

bool xen_block_ring_final_check(XenBlockRing *r)
{
    ring_store(r, BLKIF_RING_REQ_EVENT, r->req_cons + 1);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return ring_load(r, BLKIF_RING_REQ_PROD) != r->req_cons;
}

void xen_block_ring_put_response(XenBlockRing *r, uint64_t id, uint8_t op, int16_t status)
{
    uint8_t rsp[XEN_BLOCK_RSP_SIZE] = {0};
    uint64_t le_id = htole64(id);
    uint16_t le_status = htole16((uint16_t)status);

    memcpy(rsp, &le_id, 8);
    rsp[8] = op;
    memcpy(rsp + 10, &le_status, 2);
    memcpy(ring_slot(r, r->rsp_prod_pvt), rsp, sizeof(rsp));
    r->rsp_prod_pvt++;
}

bool xen_block_ring_push(XenBlockRing *r)
{
    uint32_t old = r->rsp_prod_pub, new = r->rsp_prod_pvt;

    if (old == new) {
        return false;
    }
    __atomic_thread_fence(__ATOMIC_RELEASE); /* the responses before rsp_prod */
    ring_store(r, BLKIF_RING_RSP_PROD, new);
    r->rsp_prod_pub = new;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    /* Notify when rsp_event lies in (old, new]. */
    return new - ring_load(r, BLKIF_RING_RSP_EVENT) < new - old;
}

/* ---- request checks ---- */

static uint64_t slot_le64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return le64toh(v);
}

static uint32_t slot_le32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return le32toh(v);
}

static bool xen_block_range_ok(const XenBlockLimits *lim, uint64_t sector, uint64_t count)
{
    return sector <= lim->sectors && count <= lim->sectors - sector;
}

/* 1 to 11 segments, each sectors first..last of its page, together inside the disk. */
static int16_t xen_block_check_rw(const uint8_t *slot, const XenBlockLimits *lim, XenBlockReq *req)
{
    unsigned nseg = slot[1];

    if (req->operation == BLKIF_OP_WRITE && lim->read_only) {
        return BLKIF_RSP_ERROR;
    }
    if (nseg == 0 || nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
        return BLKIF_RSP_ERROR;
    }
    for (unsigned i = 0; i < nseg; i++) {
        const uint8_t *p = slot + 24 + 8 * i;
        XenBlockSeg *seg = &req->seg[i];

        seg->gref = slot_le32(p);
        seg->first_sect = p[4];
        seg->last_sect = p[5];
        if (seg->first_sect > seg->last_sect || seg->last_sect >= XEN_BLOCK_SECTORS_PER_PAGE) {
            return BLKIF_RSP_ERROR;
        }
        req->nr_sectors += seg->last_sect - seg->first_sect + 1;
    }
    req->nr_segments = nseg;
    return xen_block_range_ok(lim, req->sector_number, req->nr_sectors) ? BLKIF_RSP_OKAY
                                                                        : BLKIF_RSP_ERROR;
}

/* Only when offered; the secure-erase flag (discard-secure "0") is refused, not ignored. */
static int16_t xen_block_check_discard(const uint8_t *slot, const XenBlockLimits *lim,
                                       XenBlockReq *req)
{
    if (!lim->discard || slot[1] != 0) {
        return BLKIF_RSP_EOPNOTSUPP;
    }
    req->nr_sectors = slot_le64(slot + 24);
    return xen_block_range_ok(lim, req->sector_number, req->nr_sectors) ? BLKIF_RSP_OKAY
                                                                        : BLKIF_RSP_ERROR;
}

int16_t xen_block_check_request(const uint8_t slot[BLKIF_RING_SLOT_SIZE], const XenBlockLimits *lim,
                                XenBlockReq *req)
{
    memset(req, 0, sizeof(*req));
    req->operation = slot[0];
    req->id = slot_le64(slot + 8);
    req->sector_number = slot_le64(slot + 16);
    switch (req->operation) {
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
        return xen_block_check_rw(slot, lim, req);
    case BLKIF_OP_FLUSH_DISKCACHE:
        /* blkback writes a flush's segments after it; no frontend sends any without
         * feature-barrier, which is not offered. */
        return slot[1] == 0 ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR;
    case BLKIF_OP_DISCARD:
        return xen_block_check_discard(slot, lim, req);
    default: /* WRITE_BARRIER, INDIRECT and the unknown */
        return BLKIF_RSP_EOPNOTSUPP;
    }
}

/* ---- requests ---- */

static bool xen_block_io_writes_guest(const XenBlockIO *io)
{
    return io->req.operation == BLKIF_OP_READ;
}

/* Map each segment's grant (writable for a READ: the data goes into the page). */
static bool xen_block_map(XenBlockIO *io)
{
    bool writable = xen_block_io_writes_guest(io);

    for (unsigned i = 0; i < io->req.nr_segments; i++) {
        const XenBlockSeg *seg = &io->req.seg[i];
        uint8_t *page = xen_gnttab_map(seg->gref, writable, NULL);

        if (!page) {
            return false;
        }
        io->nr_mapped++;
        iov_add(&io->qiov, page + seg->first_sect * BLKIF_SECTOR_SIZE,
                (seg->last_sect - seg->first_sect + 1) * BLKIF_SECTOR_SIZE);
    }
    return true;
}

static void xen_block_unmap(XenBlockIO *io)
{
    bool writable = xen_block_io_writes_guest(io);

    for (unsigned i = 0; i < io->nr_mapped; i++) {
        xen_gnttab_unmap(io->req.seg[i].gref, writable);
    }
    io->nr_mapped = 0;
    iov_reset(&io->qiov);
}

/* Done with io: its grants go, its response is written (not yet published). */
static void xen_block_finish(XenBlockIO *io, int16_t status)
{
    XenBlockDev *s = io->s;

    xen_block_unmap(io);
    if (!s->ring_broken) {
        xen_block_ring_put_response(&s->ring, io->req.id, io->req.operation, status);
    }
    io->in_use = false;
}

static void xen_block_respond(XenBlockDev *s)
{
    if (!s->ring_broken && xen_block_ring_push(&s->ring)) {
        xen_evtchn_notify_guest(s->port);
    }
}

/* Main loop: one request's I/O is over. Failures are reported, whatever werror/rerror say
 * (as QEMU's xen-block). */
static void xen_block_complete(void *opaque, int ret)
{
    XenBlockIO *io = opaque;

    xen_block_finish(io, ret ? BLKIF_RSP_ERROR : BLKIF_RSP_OKAY);
    xen_block_respond(io->s);
}

/* Start a checked request's I/O: true when its completion will follow, false with
 * *status when it is done already. */
static bool xen_block_submit(XenBlockIO *io, int16_t *status)
{
    XenBlockDev *s = io->s;
    const XenBlockReq *req = &io->req;
    uint64_t offset = req->sector_number * BLKIF_SECTOR_SIZE;

    switch (req->operation) {
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
        if (!xen_block_map(io)) {
            *status = BLKIF_RSP_ERROR;
            return false;
        }
        if (req->operation == BLKIF_OP_READ) {
            blk_aio_preadv(s->blk, offset, &io->qiov, 0, xen_block_complete, io);
        } else {
            blk_aio_pwritev(s->blk, offset, &io->qiov, 0, xen_block_complete, io);
        }
        return true;
    case BLKIF_OP_FLUSH_DISKCACHE:
        blk_aio_flush(s->blk, xen_block_complete, io);
        return true;
    case BLKIF_OP_DISCARD:
        if (!req->nr_sectors) {
            *status = BLKIF_RSP_OKAY;
            return false;
        }
        blk_aio_pdiscard(s->blk, offset, req->nr_sectors * BLKIF_SECTOR_SIZE, xen_block_complete,
                         io);
        return true;
    default:
        *status = BLKIF_RSP_EOPNOTSUPP;
        return false;
    }
}

static XenBlockIO *xen_block_io_get(XenBlockDev *s)
{
    for (unsigned i = 0; i < BLKIF_RING_SLOTS; i++) {
        if (!s->io[i].in_use) {
            s->io[i].in_use = true;
            return &s->io[i];
        }
    }
    return NULL;
}

static void xen_block_ring_break(XenBlockDev *s)
{
    s->ring_broken = true;
    if (!s->ring_logged) {
        s->ring_logged = true;
        error_report("xen-disk %s: the frontend's ring indexes are corrupt; ignoring the ring "
                     "until it reconnects",
                     s->vdev);
    }
}

/* One slot taken off the ring: served, or answered at once. */
static void xen_block_handle(XenBlockDev *s, const uint8_t *slot)
{
    XenBlockIO *io = xen_block_io_get(s);
    int16_t status;

    if (!io) { /* more in flight than slots: cannot happen with checked indexes */
        xen_block_ring_break(s);
        return;
    }
    status = xen_block_check_request(slot, &s->limits, &io->req);
    if (status == BLKIF_RSP_OKAY && xen_block_submit(io, &status)) {
        return;
    }
    xen_block_finish(io, status);
}

static void xen_block_ring_service(XenBlockDev *s)
{
    unsigned budget = XEN_BLOCK_KICK_BUDGET;

    do {
        int n = xen_block_ring_avail(&s->ring);

        if (n < 0) {
            xen_block_ring_break(s);
            return;
        }
        for (; n > 0 && budget > 0 && !s->ring_broken; n--, budget--) {
            uint8_t slot[BLKIF_RING_SLOT_SIZE];

            xen_block_ring_take(&s->ring, slot);
            xen_block_handle(s, slot);
        }
        xen_block_respond(s);
        if (s->ring_broken) {
            return;
        }
        if (!budget) {
            timer_mod(s->resume_timer, clock_get_ns(CLOCK_VIRTUAL));
            return;
        }
    } while (xen_block_ring_final_check(&s->ring));
}

/* The frontend sent on the channel (vCPU thread), or the resume timer fired. */
static void xen_block_ring_kick(void *opaque)
{
    XenBlockDev *s = opaque;

    if (s->connected && !s->ring_broken) {
        xen_block_ring_service(s);
    }
}

/* ---- the connection ---- */

bool xen_block_ring_connect(XenBlockDev *s, uint32_t ring_ref, uint32_t port, Error **errp)
{
    void *sring = xen_gnttab_map(ring_ref, true, errp);

    if (!sring) {
        return false;
    }
    if (xen_evtchn_bind_backend(port, xen_block_ring_kick, s) < 0) {
        error_setg(errp, "event channel %u is not an unbound port for domain 0", port);
        xen_gnttab_unmap(ring_ref, true);
        return false;
    }
    s->ring_ref = ring_ref;
    s->port = port;
    s->ring_broken = false;
    xen_block_ring_attach(&s->ring, sring);
    for (unsigned i = 0; i < BLKIF_RING_SLOTS; i++) {
        s->io[i] = (XenBlockIO){.s = s};
        iov_init(&s->io[i].qiov, BLKIF_MAX_SEGMENTS_PER_REQUEST);
    }
    s->resume_timer = timer_new(CLOCK_VIRTUAL, xen_block_ring_kick, s);
    s->connected = true;
    /* Requests the frontend queued before we bound the channel. */
    xen_block_ring_service(s);
    return true;
}

void xen_block_ring_disconnect(XenBlockDev *s, bool guest_reset)
{
    if (!s->connected) {
        return;
    }
    s->connected = false; /* kicks that come during the drain are ignored */
    if (guest_reset) {
        s->ring_broken = true; /* the ring page belongs to the rebooted guest now */
    }
    timer_free(s->resume_timer);
    s->resume_timer = NULL;
    blk_drain(s->blk);
    if (!guest_reset) {
        xen_evtchn_unbind_backend(s->port, s);
    }
    xen_gnttab_unmap(s->ring_ref, true);
    for (unsigned i = 0; i < BLKIF_RING_SLOTS; i++) {
        iov_destroy(&s->io[i].qiov);
    }
    s->ring.sring = NULL;
}
