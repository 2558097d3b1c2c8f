/*
 * The data path of "xen-disk" (hw/xen/xen-block-ring.c) driven by the test frontend of
 * xen-front-util.h: reads and writes of several partial-page segments checked against the
 * image file, flushes, a full ring in flight answered in any order with the frontend's
 * event hold-offs obeyed, discard, a read-only drive, and hostile requests (bad grants,
 * bad segments, sectors out of range, unknown operations, seeded random ones, a read into
 * the ring page) answered without harm.
 */
#include "xen-front-util.h"

/* A request of three segments on data pages first..first+2: 6 + 8 + 2 sectors. */
static void req_three(uint8_t *slot, uint8_t op, uint64_t id, uint64_t sector, unsigned first)
{
    req_init(slot, op, 3, id, sector);
    req_seg(slot, 0, DATA_GREF + first, 2, 7);
    req_seg(slot, 1, DATA_GREF + first + 1, 0, 7);
    req_seg(slot, 2, DATA_GREF + first + 2, 0, 1);
}

/* The 16 sectors req_three() names, gathered. */
static void gather_three(unsigned first, uint8_t *buf)
{
    memcpy(buf, data_page(first) + 2 * 512, 6 * 512);
    memcpy(buf + 6 * 512, data_page(first + 1), 8 * 512);
    memcpy(buf + 14 * 512, data_page(first + 2), 2 * 512);
}

static void test_read_write(void)
{
    BlockAcctStats *st;
    uint8_t slot[BLKIF_RING_SLOT_SIZE], want[16 * 512], got[16 * 512];
    Front f;

    front_new(&f, "io0", "", "xvda", VBD_XVDA);
    st = blk_get_stats(f.blk);
    front_connect(&f);
    for (unsigned i = 0; i < 3; i++) {
        memset(data_page(i), 0x40 + i, XEN_PAGE_SIZE);
        data_page(i)[2 * 512 + 1] = 0xee;
    }
    req_three(slot, BLKIF_OP_WRITE, 1, 10, 0);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    gather_three(0, want);
    read_image(f.image, 10 * 512, got, sizeof(got));
    g_assert_cmpmem(got, sizeof(got), want, sizeof(want));
    g_assert_cmphex(grant_flags(DATA_GREF), ==, GTF_permit_access);
    /* And back into other pages. */
    memset(data_page(3), 0, 3 * XEN_PAGE_SIZE);
    req_three(slot, BLKIF_OP_READ, 2, 10, 3);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    gather_three(3, got);
    g_assert_cmpmem(got, sizeof(got), want, sizeof(want));
    g_assert_cmphex(grant_flags(DATA_GREF + 3), ==, GTF_permit_access);
    g_assert_cmpuint(st->nr_ops[BLOCK_ACCT_WRITE], ==, 1);
    g_assert_cmpuint(st->nr_bytes[BLOCK_ACCT_WRITE], ==, 16 * 512);
    g_assert_cmpuint(st->nr_ops[BLOCK_ACCT_READ], ==, 1);
    req_init(slot, BLKIF_OP_FLUSH_DISKCACHE, 0, 3, 0);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    g_assert_cmpuint(st->nr_ops[BLOCK_ACCT_FLUSH], ==, 1);
    req_init(slot, BLKIF_OP_DISCARD, 0, 4, 0); /* not offered */
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_EOPNOTSUPP);
    front_free(&f);
}

/* A full ring in flight at once, answered in any order; the frontend's hold-offs obeyed. */
static void test_full_ring(void)
{
    uint8_t slot[BLKIF_RING_SLOT_SIZE], sector[512];
    Rsp rsp[BLKIF_RING_SLOTS];
    bool seen[BLKIF_RING_SLOTS] = {false};
    Front f;

    front_new(&f, "ring0", "", "xvda", VBD_XVDA);
    front_connect(&f);
    for (unsigned round = 0; round < 3; round++) {
        for (unsigned i = 0; i < BLKIF_RING_SLOTS; i++) {
            req_init(slot, BLKIF_OP_READ, 1, 100 + i, 7 * i + round);
            req_seg(slot, 0, DATA_GREF + i, i % 8, i % 8);
            front_queue(&f, slot);
        }
        evtchn_take_pending(f.port);
        evtchn_send(f.port);
        front_responses(&f, rsp, BLKIF_RING_SLOTS);
        g_assert_true(evtchn_take_pending(f.port));
        memset(seen, 0, sizeof(seen));
        for (unsigned i = 0; i < BLKIF_RING_SLOTS; i++) {
            unsigned n = rsp[i].id - 100;

            g_assert_cmpuint(n, <, BLKIF_RING_SLOTS);
            g_assert_false(seen[n]);
            seen[n] = true;
            g_assert_cmpint(rsp[i].status, ==, BLKIF_RSP_OKAY);
            read_image(f.image, (7 * n + round) * 512, sector, 512);
            g_assert_cmpmem(data_page(n) + (n % 8) * 512, 512, sector, 512);
        }
        g_assert_cmpuint(sring_get(&f, BLKIF_RING_REQ_EVENT), ==, f.req_prod + 1);
    }
    /* rsp_event far ahead: the response comes without an event. */
    req_init(slot, BLKIF_OP_FLUSH_DISKCACHE, 0, 1, 0);
    front_queue(&f, slot);
    sring_set(&f, BLKIF_RING_RSP_EVENT, f.rsp_cons + 100);
    evtchn_send(f.port);
    front_responses(&f, rsp, 1);
    g_assert_false(evtchn_take_pending(f.port));
    front_free(&f);
}

static void test_discard(void)
{
    uint8_t slot[BLKIF_RING_SLOT_SIZE], buf[8 * 512], zero[8 * 512] = {0};
    Front f;

    front_new(&f, "dis0", ",discard=unmap", "xvda", VBD_XVDA);
    check_node(f.be, "feature-discard", "1");
    check_node(f.be, "discard-granularity", "512");
    check_node(f.be, "discard-alignment", "0");
    check_node(f.be, "discard-secure", "0");
    front_connect(&f);
    req_init(slot, BLKIF_OP_DISCARD, 0, 1, 8);
    put_le(slot + 24, 8, 8);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    read_image(f.image, 8 * 512, buf, sizeof(buf));
    g_assert_cmpmem(buf, sizeof(buf), zero, sizeof(zero));
    put_le(slot + 24, 0, 8);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    put_le(slot + 16, DISK_SECTORS - 4, 8);
    put_le(slot + 24, 5, 8);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_ERROR);
    put_le(slot + 24, 4, 8);
    slot[1] = 1; /* secure */
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_EOPNOTSUPP);
    front_free(&f);
}

static void test_read_only(void)
{
    uint8_t slot[BLKIF_RING_SLOT_SIZE], before[512], after[512];
    Front f;

    front_new(&f, "ro0", ",readonly=on,discard=unmap", "xvda", VBD_XVDA);
    check_node(f.be, "mode", "r");
    check_node(f.be, "info", "4");
    check_node(f.be, "feature-discard", NULL);
    front_connect(&f);
    read_image(f.image, 0, before, 512);
    memset(data_page(0), 0x77, XEN_PAGE_SIZE);
    req_init(slot, BLKIF_OP_WRITE, 1, 1, 0);
    req_seg(slot, 0, DATA_GREF, 0, 0);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_ERROR);
    read_image(f.image, 0, after, 512);
    g_assert_cmpmem(after, 512, before, 512);
    slot[0] = BLKIF_OP_READ;
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    g_assert_cmpmem(data_page(0), 512, before, 512);
    front_free(&f);
}

static void test_bad_requests(void)
{
    uint8_t slot[BLKIF_RING_SLOT_SIZE];
    Front f;

    front_new(&f, "bad0", "", "xvda", VBD_XVDA);
    front_connect(&f);
    req_init(slot, BLKIF_OP_READ, 1, 1, 0);
    req_seg(slot, 0, 300, 0, 7); /* never granted */
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_ERROR);
    req_seg(slot, 0, 100000, 0, 7); /* outside the table */
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_ERROR);
    /* A read-only grant may be written to disk, not read into. */
    grant(301, DATA_PFN, true);
    req_seg(slot, 0, 301, 0, 7);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_ERROR);
    slot[0] = BLKIF_OP_WRITE;
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    g_assert_cmphex(grant_flags(301), ==, GTF_permit_access | GTF_readonly);
    /* The first segment's grant is released when the second one fails. */
    req_init(slot, BLKIF_OP_READ, 2, 2, 0);
    req_seg(slot, 0, DATA_GREF, 0, 7);
    req_seg(slot, 1, 300, 0, 7);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_ERROR);
    g_assert_cmphex(grant_flags(DATA_GREF), ==, GTF_permit_access);
    req_seg(slot, 1, DATA_GREF + 1, 0, 8);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_ERROR);
    req_seg(slot, 1, DATA_GREF + 1, 5, 4);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_ERROR);
    req_init(slot, BLKIF_OP_READ, 0, 3, 0);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_ERROR);
    slot[1] = 12;
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_ERROR);
    req_init(slot, BLKIF_OP_READ, 1, 4, DISK_SECTORS - 1);
    req_seg(slot, 0, DATA_GREF, 0, 1);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_ERROR);
    put_le(slot + 16, UINT64_MAX, 8);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_ERROR);
    slot[0] = BLKIF_OP_WRITE_BARRIER;
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_EOPNOTSUPP);
    slot[0] = BLKIF_OP_INDIRECT;
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_EOPNOTSUPP);
    slot[0] = 0x7f;
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_EOPNOTSUPP);
    /* Still serving. */
    req_init(slot, BLKIF_OP_READ, 1, 5, DISK_SECTORS - 1);
    req_seg(slot, 0, DATA_GREF, 7, 7);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    front_free(&f);
}

/* A random request: mostly well-formed, often not. */
static void random_request(GRand *rand, uint8_t *slot, uint64_t id)
{
    static const uint8_t ops[] = {BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_FLUSH_DISKCACHE,
                                  BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT};
    unsigned nseg = g_rand_int_range(rand, 0, BLKIF_MAX_SEGMENTS_PER_REQUEST + 3);
    uint64_t sector = g_rand_boolean(rand) ? (uint64_t)g_rand_int_range(rand, 0, DISK_SECTORS + 8)
                                           : (uint64_t)g_rand_int(rand) << 32 | g_rand_int(rand);

    req_init(slot, ops[g_rand_int_range(rand, 0, G_N_ELEMENTS(ops))], nseg, id, sector);
    for (unsigned i = 0; i < MIN(nseg, BLKIF_MAX_SEGMENTS_PER_REQUEST); i++) {
        uint32_t gref = g_rand_int_range(rand, 0, 8)
                            ? DATA_GREF + (uint32_t)g_rand_int_range(rand, 0, NR_DATA)
                            : g_rand_int(rand) % 1024;
        uint8_t first = g_rand_int_range(rand, 0, 9), last = g_rand_int_range(rand, 0, 9);

        req_seg(slot, i, gref == RING_GREF ? DATA_GREF : gref, first, last);
    }
}

/* Seeded rounds of random requests, now and then a corrupt req_prod, and a read into the
 * ring page itself: the backend survives, keeps no grant mapped, and serves again once the
 * frontend reconnects. */
static void test_hostile(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(20260);
    uint8_t slot[BLKIF_RING_SLOT_SIZE];
    Rsp rsp[BLKIF_RING_SLOTS];
    Front f;

    front_new(&f, "host0", ",discard=unmap", "xvda", VBD_XVDA);
    front_connect(&f);
    for (unsigned round = 0; round < 200; round++) {
        unsigned n = g_rand_int_range(rand, 1, BLKIF_RING_SLOTS + 1);

        for (unsigned i = 0; i < n; i++) {
            random_request(rand, slot, round * 100 + i);
            front_queue(&f, slot);
        }
        if (g_rand_int_range(rand, 0, 50) == 0) {
            sring_set(&f, BLKIF_RING_REQ_PROD, g_rand_int(rand));
            evtchn_send(f.port);
            settle();
            front_disconnect(&f);
            front_connect(&f);
            continue;
        }
        evtchn_send(f.port);
        front_responses(&f, rsp, n);
    }
    /* The data of a read lands on the ring: indexes and slots become disk contents. */
    grant(RING_GREF, RING_PFN, false);
    req_init(slot, BLKIF_OP_READ, 1, 1, 0);
    req_seg(slot, 0, RING_GREF, 0, 7);
    front_queue(&f, slot);
    evtchn_send(f.port);
    settle();
    evtchn_send(f.port);
    settle();
    for (unsigned i = 0; i < NR_DATA; i++) {
        g_assert_cmphex(grant_flags(DATA_GREF + i), ==, GTF_permit_access);
    }
    front_disconnect(&f);
    front_connect(&f);
    req_init(slot, BLKIF_OP_FLUSH_DISKCACHE, 0, 7, 0);
    g_assert_cmpint(front_do(&f, slot), ==, BLKIF_RSP_OKAY);
    front_free(&f);
    g_assert_cmphex(grant_flags(RING_GREF), ==, GTF_permit_access);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    xen_front_init();
    g_test_add_func("/xen-block-io/read-write", test_read_write);
    g_test_add_func("/xen-block-io/full-ring", test_full_ring);
    g_test_add_func("/xen-block-io/discard", test_discard);
    g_test_add_func("/xen-block-io/read-only", test_read_only);
    g_test_add_func("/xen-block-io/bad-requests", test_bad_requests);
    g_test_add_func("/xen-block-io/hostile", test_hostile);
    ret = g_test_run();
    xen_front_cleanup();
    return ret;
}
