/*
 * What the two halves of the PV block backend share: xen-block.c (the "xen-disk" device,
 * its xenstore nodes and the xenbus state machine) and xen-block-ring.c (the blkif ring,
 * request checks, grant mapping and I/O). The ring helpers that need neither the grant
 * table nor the drive (index arithmetic, slot copy, request check, responses) are declared
 * here as well, so that tests can run them on a ring in a plain buffer.
 */
#ifndef HW_XEN_XEN_BLOCK_INT_H
#define HW_XEN_XEN_BLOCK_INT_H

#include <stdbool.h>
#include <stdint.h>
#include "hw/qdev.h"
#include "hw/xen/xen-abi.h"
#include "hw/xen/xenstore.h"
#include "util/main-loop.h"

/* VDISK_* bits of the backend's "info" node. */
enum { VDISK_CDROM = 1, VDISK_REMOVABLE = 2, VDISK_READONLY = 4 };

#define XEN_BLOCK_SECTORS_PER_PAGE (XEN_PAGE_SIZE / BLKIF_SECTOR_SIZE)

typedef struct XenBlockSeg {
    uint32_t gref;
    uint8_t first_sect, last_sect;
} XenBlockSeg;

/* A request copied out of its slot and checked: the guest can no longer change it. */
typedef struct XenBlockReq {
    uint64_t id;
    uint8_t operation;
    uint8_t nr_segments;
    uint64_t sector_number;
    uint64_t nr_sectors; /* READ/WRITE: the segments' sum; DISCARD: as asked */
    XenBlockSeg seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
} XenBlockReq;

/* What requests are checked against, fixed when the frontend connects. */
typedef struct XenBlockLimits {
    uint64_t sectors; /* of 512 bytes */
    bool read_only;
    bool discard; /* feature-discard was offered */
} XenBlockLimits;

/*
 * Our end of the shared ring. The indexes are private: the guest's copies in the shared
 * header are read (req_prod, rsp_event) but never trusted for our own bookkeeping.
 */
typedef struct XenBlockRing {
    uint8_t *sring;        /* the shared page: header, then the slots */
    uint32_t req_cons;     /* next request to take */
    uint32_t rsp_prod_pvt; /* next response to write */
    uint32_t rsp_prod_pub; /* the rsp_prod we last published */
} XenBlockRing;

/* A request being served: its grants stay mapped until its I/O completes. */
typedef struct XenBlockIO {
    struct XenBlockDev *s;
    XenBlockReq req;
    IOVector qiov;
    unsigned nr_mapped; /* segments whose grant is mapped */
    bool in_use;
} XenBlockIO;

typedef struct XenBlockDev {
    DeviceState qdev;
    BlockBackend *blk; /* drive= */
    char *vdev;        /* vdev= as given */
    uint32_t vbd;      /* the virtual-device number vdev names */
    bool cdrom, discard;
    char *fe_path, *be_path;
    XsWatch *watch;     /* on the frontend's state node */
    unsigned be_state;  /* the XenbusState we last wrote */
    bool in_change;     /* a state change is being handled (it may drain) */
    bool recheck;       /* the frontend's state changed meanwhile */
    bool reset_pending; /* a machine reset came meanwhile */
    bool ring_logged;   /* a corrupt ring was reported (once per device) */

    /* While connected (between xen_block_ring_connect and _disconnect). */
    bool connected;
    bool ring_broken; /* corrupt indexes, or a guest reset: the ring is left alone */
    uint32_t ring_ref, port;
    XenBlockRing ring;
    XenBlockLimits limits;
    Timer *resume_timer; /* serves the rest of a ring a kick left over (see ring.c) */
    XenBlockIO io[BLKIF_RING_SLOTS];
} XenBlockDev;

/* ---- ring helpers (xen-block-ring.c), no Xen or drive calls ---- */
/* Attach to a ring the frontend set up: our indexes start at its rsp_prod. */
void xen_block_ring_attach(XenBlockRing *r, void *sring);
/* Requests ready to take now, reading req_prod once; -1 if req_prod is corrupt (more than
 * BLKIF_RING_SLOTS ahead of the responses written, or behind req_cons). */
int xen_block_ring_avail(XenBlockRing *r);
/* Copy the next request's slot out of the ring and advance req_cons. */
void xen_block_ring_take(XenBlockRing *r, uint8_t slot[BLKIF_RING_SLOT_SIZE]);
/* req_event = req_cons + 1, then: has a request come in meanwhile? */
bool xen_block_ring_final_check(XenBlockRing *r);
void xen_block_ring_put_response(XenBlockRing *r, uint64_t id, uint8_t op, int16_t status);
/* Publish the responses written so far; true when the frontend wants a notification. */
bool xen_block_ring_push(XenBlockRing *r);
/*
 * Check a slot copied with xen_block_ring_take() and fill *req from it (id and operation
 * always, for the response). BLKIF_RSP_OKAY when it can be served, BLKIF_RSP_ERROR for a
 * malformed or out-of-range request or a write to a read-only disk, BLKIF_RSP_EOPNOTSUPP
 * for an operation not offered.
 */
int16_t xen_block_check_request(const uint8_t slot[BLKIF_RING_SLOT_SIZE], const XenBlockLimits *lim,
                                XenBlockReq *req);

/* ---- the connection (xen-block-ring.c) ---- */
/* Map the ring page, bind the event channel and start serving requests. */
bool xen_block_ring_connect(XenBlockDev *s, uint32_t ring_ref, uint32_t port, Error **errp);
/*
 * Stop serving: wait for the requests in flight (their responses still go to the ring),
 * unbind the channel and unmap the ring. After a guest reset the responses are dropped and
 * the channel is left alone: the Xen emulation has forgotten the guest's channels already.
 */
void xen_block_ring_disconnect(XenBlockDev *s, bool guest_reset);

#endif
