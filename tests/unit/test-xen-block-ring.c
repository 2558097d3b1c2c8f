/*
 * The blkif ring helpers and the request check of the PV block backend
 * (hw/xen/xen-block-ring.c) alone, on a ring in a plain buffer: index arithmetic across
 * the 32-bit wrap, corrupt producer indexes, the notification hold-off rules, responses,
 * and every field of a request the guest controls.
 */
#include "hw/xen/xen-block-int.h"
#include "xen-front-util.h"

static void test_ring_indexes(void)
{
    g_autofree uint8_t *page = g_malloc0(XEN_PAGE_SIZE);
    uint8_t slot[BLKIF_RING_SLOT_SIZE];
    XenBlockRing r;
    uint32_t base = UINT32_MAX - 3; /* the indexes wrap during the test */

    memcpy(page + BLKIF_RING_RSP_PROD, &base, 4);
    xen_block_ring_attach(&r, page);
    g_assert_cmpuint(r.req_cons, ==, base);
    memcpy(page + BLKIF_RING_REQ_PROD, &base, 4);
    g_assert_cmpint(xen_block_ring_avail(&r), ==, 0);
    g_assert_false(xen_block_ring_final_check(&r));
    g_assert_cmpuint(*(uint32_t *)(page + BLKIF_RING_REQ_EVENT), ==, base + 1);
    /* A whole ring is fine, one more is corrupt, and so is req_prod going backwards. */
    *(uint32_t *)(page + BLKIF_RING_REQ_PROD) = base + BLKIF_RING_SLOTS;
    g_assert_cmpint(xen_block_ring_avail(&r), ==, BLKIF_RING_SLOTS);
    *(uint32_t *)(page + BLKIF_RING_REQ_PROD) = base + BLKIF_RING_SLOTS + 1;
    g_assert_cmpint(xen_block_ring_avail(&r), ==, -1);
    *(uint32_t *)(page + BLKIF_RING_REQ_PROD) = base - 1;
    g_assert_cmpint(xen_block_ring_avail(&r), ==, -1);
    /* Two taken and not answered: only 30 more may come. */
    *(uint32_t *)(page + BLKIF_RING_REQ_PROD) = base + 2;
    page[BLKIF_RING_HDR_SIZE + ((base + 1) % BLKIF_RING_SLOTS) * BLKIF_RING_SLOT_SIZE] = 0x5a;
    xen_block_ring_take(&r, slot);
    xen_block_ring_take(&r, slot);
    g_assert_cmpuint(slot[0], ==, 0x5a);
    *(uint32_t *)(page + BLKIF_RING_REQ_PROD) = base + 2 + BLKIF_RING_SLOTS - 2;
    g_assert_cmpint(xen_block_ring_avail(&r), ==, BLKIF_RING_SLOTS - 2);
    *(uint32_t *)(page + BLKIF_RING_REQ_PROD) = base + 2 + BLKIF_RING_SLOTS - 1;
    g_assert_cmpint(xen_block_ring_avail(&r), ==, -1);
    *(uint32_t *)(page + BLKIF_RING_REQ_PROD) = base + 2;
    g_assert_false(xen_block_ring_final_check(&r));
    /* Responses: notify when rsp_event lies in (old rsp_prod, new rsp_prod]. */
    g_assert_false(xen_block_ring_push(&r));
    *(uint32_t *)(page + BLKIF_RING_RSP_EVENT) = base + 1;
    xen_block_ring_put_response(&r, 0x1122334455667788ull, BLKIF_OP_WRITE, BLKIF_RSP_ERROR);
    g_assert_true(xen_block_ring_push(&r));
    g_assert_cmpuint(*(uint32_t *)(page + BLKIF_RING_RSP_PROD), ==, base + 1);
    memcpy(slot, page + BLKIF_RING_HDR_SIZE + (base % BLKIF_RING_SLOTS) * BLKIF_RING_SLOT_SIZE, 16);
    g_assert_cmphex(*(uint64_t *)slot, ==, 0x1122334455667788ull);
    g_assert_cmpuint(slot[8], ==, BLKIF_OP_WRITE);
    g_assert_cmpint(*(int16_t *)(slot + 10), ==, BLKIF_RSP_ERROR);
    *(uint32_t *)(page + BLKIF_RING_RSP_EVENT) = base + 10;
    xen_block_ring_put_response(&r, 2, BLKIF_OP_READ, BLKIF_RSP_OKAY);
    g_assert_false(xen_block_ring_push(&r));
    g_assert_cmpint(xen_block_ring_avail(&r), ==, 0);
    /* The guest scribbling on rsp_prod changes nothing of ours. */
    *(uint32_t *)(page + BLKIF_RING_RSP_PROD) = 12345;
    g_assert_cmpuint(r.rsp_prod_pub, ==, base + 2);
}

static int16_t check(const uint8_t *slot, const XenBlockLimits *lim, XenBlockReq *req)
{
    int16_t status = xen_block_check_request(slot, lim, req);

    g_assert_cmpuint(req->id, ==, slot[8] | (uint64_t)slot[15] << 56);
    g_assert_cmpuint(req->operation, ==, slot[0]);
    return status;
}

static void test_check_request(void)
{
    XenBlockLimits lim = {.sectors = 100, .read_only = false, .discard = true};
    XenBlockLimits ro = {.sectors = 100, .read_only = true, .discard = false};
    uint8_t slot[BLKIF_RING_SLOT_SIZE];
    XenBlockReq req;

    req_init(slot, BLKIF_OP_READ, 2, 0xff000000000000a1ull, 90);
    req_seg(slot, 0, 77, 1, 7);
    req_seg(slot, 1, 78, 0, 2);
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_OKAY);
    g_assert_cmpuint(req.nr_sectors, ==, 10);
    g_assert_cmpuint(req.nr_segments, ==, 2);
    g_assert_cmpuint(req.seg[1].gref, ==, 78);
    g_assert_cmpint(check(slot, &ro, &req), ==, BLKIF_RSP_OKAY);
    slot[0] = BLKIF_OP_WRITE;
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_OKAY);
    g_assert_cmpint(check(slot, &ro, &req), ==, BLKIF_RSP_ERROR);
    put_le(slot + 16, 91, 8); /* one sector past the end */
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_ERROR);
    put_le(slot + 16, UINT64_MAX - 4, 8); /* sector + count wraps */
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_ERROR);
    put_le(slot + 16, 0, 8);
    req_seg(slot, 1, 78, 3, 2); /* first > last */
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_ERROR);
    req_seg(slot, 1, 78, 0, 8); /* past the page */
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_ERROR);
    req_seg(slot, 1, 78, 0, 7);
    slot[1] = 0;
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_ERROR);
    slot[1] = BLKIF_MAX_SEGMENTS_PER_REQUEST + 1;
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_ERROR);
    slot[1] = BLKIF_MAX_SEGMENTS_PER_REQUEST; /* 11 segments of 8 sectors */
    for (unsigned i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
        req_seg(slot, i, i, 0, 7);
    }
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_OKAY);
    g_assert_cmpuint(req.nr_sectors, ==, 88);

    req_init(slot, BLKIF_OP_FLUSH_DISKCACHE, 0, 5, 12345);
    g_assert_cmpint(check(slot, &ro, &req), ==, BLKIF_RSP_OKAY);
    slot[1] = 1;
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_ERROR);

    req_init(slot, BLKIF_OP_DISCARD, 0, 6, 50);
    put_le(slot + 24, 50, 8);
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_OKAY);
    g_assert_cmpuint(req.nr_sectors, ==, 50);
    g_assert_cmpint(check(slot, &ro, &req), ==, BLKIF_RSP_EOPNOTSUPP);
    put_le(slot + 24, 51, 8);
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_ERROR);
    put_le(slot + 24, UINT64_MAX, 8);
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_ERROR);
    put_le(slot + 24, 1, 8);
    slot[1] = 1; /* BLKIF_DISCARD_SECURE */
    g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_EOPNOTSUPP);

    for (unsigned op = BLKIF_OP_WRITE_BARRIER; op < 256; op++) {
        if (op != BLKIF_OP_FLUSH_DISKCACHE && op != BLKIF_OP_DISCARD) {
            req_init(slot, op, 1, op, 0);
            g_assert_cmpint(check(slot, &lim, &req), ==, BLKIF_RSP_EOPNOTSUPP);
        }
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xen-block-ring/indexes", test_ring_indexes);
    g_test_add_func("/xen-block-ring/check-request", test_check_request);
    return g_test_run();
}
