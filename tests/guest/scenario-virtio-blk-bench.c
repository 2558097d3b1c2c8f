/*
 * Scenario `virtio_blk_bench MS ROW...`: a benchmark for bench/virtio.py. Each ROW is
 * randread, randwrite (4 KiB at random 4 KiB-aligned offsets), seqread or seqwrite (1 MiB
 * in order, wrapping), with a total queue depth after a colon (randread:32); it runs for MS
 * milliseconds and reports "RESULT ROW-iops N IOPS" and "RESULT ROW-mbps N MB/s". Rows
 * patwrite and patread instead make one pass over the whole disk in 64 KiB requests,
 * writing the pattern of scenario virtio_blk (from each sector's number) or reading it
 * back and checking it, so tests can use several queues and I/O threads. The
 * requests in flight are spread over every queue the device has (MQ, up to 4); the driver
 * polls, suppresses interrupts and only kicks when the device asks for kicks. Modern only.
 * Apart from the pattern rows the data is not checked. Like a Linux guest it negotiates
 * FLUSH (with SEG_MAX and BLK_SIZE), so the disk is write-back as fio's file is, and each
 * write row ends with a flush, after its clock stops (fio's rows do not fsync either).
 */
#include "io.h"
#include "virtio-blk.h"

#define BQ_MAX 4
#define BQ_SLOTS 32 /* per queue */
#define BQ_SIZE 128
#define BQ_RING 0x3000000ull /* per queue 16 KiB: desc, avail +4K, used +8K */
#define BQ_HDRS 0x3100000ull /* 32 bytes per slot */
#define BQ_DATA 0x4000000ull /* 1 MiB per slot: 128 MiB for 4 queues of 32 */
#define BQ_BIG (1u << 20)
#define BQ_SMALL 4096u
#define BQ_PAT 65536u
#define USED_NO_NOTIFY 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_MQ 12
#define BENCH_FEATURES                                                                             \
    (1u << VIRTIO_BLK_F_SEG_MAX | 1u << VIRTIO_BLK_F_BLK_SIZE | 1u << VIRTIO_BLK_F_FLUSH |         \
     1u << VIRTIO_BLK_F_MQ)
#define M_Q_NOTIFY_OFF 30
#define M_NUM_QUEUES 0x2022
#define M_WCE 0x2020

typedef struct BQueue {
    volatile VDesc *desc;
    volatile uint16_t *avail;
    volatile uint32_t *used;
    uint16_t avail_idx, used_idx;
    uint64_t notify;
} BQueue;

typedef struct Bench {
    uint64_t base, sectors;
    unsigned nq;
    bool wce; /* the device's write cache byte after DRIVER_OK */
    BQueue q[BQ_MAX];
    uint64_t rng, next_seq;
    /* the current row */
    uint32_t type, len;
    bool seq, pat;
    uint64_t sector[BQ_MAX * BQ_SLOTS];
} Bench;

static PCIDevice bench_pci[32];

static void bq_setup(Bench *b, unsigned i)
{
    uint64_t ring = BQ_RING + i * 0x4000ull;
    BQueue *q = &b->q[i];

    memset((void *)ring, 0, 0x4000);
    q->desc = (volatile VDesc *)ring;
    q->avail = (volatile uint16_t *)(ring + 0x1000);
    q->used = (volatile uint32_t *)(ring + 0x2000);
    q->avail[0] = AVAIL_NO_INTERRUPT;
    *(volatile uint16_t *)(b->base + 22) = i; /* queue_select */
    *(volatile uint16_t *)(b->base + 24) = BQ_SIZE;
    mmio_write32(b->base + 32, ring);
    mmio_write32(b->base + 36, 0);
    mmio_write32(b->base + 40, ring + 0x1000);
    mmio_write32(b->base + 44, 0);
    mmio_write32(b->base + 48, ring + 0x2000);
    mmio_write32(b->base + 52, 0);
    q->notify = b->base + 0x3000 + 4ull * *(volatile uint16_t *)(b->base + M_Q_NOTIFY_OFF);
    *(volatile uint16_t *)(b->base + 28) = 1;
}

static bool bench_open(Bench *b)
{
    int n = pci_enumerate(bench_pci, ARRAY_SIZE(bench_pci));
    uint32_t f0;

    for (int i = 0; i < n; i++) {
        PCIDevice *d = &bench_pci[i];
        if (d->vendor_id != 0x1af4 || (d->device_id != 0x1001 && d->device_id != 0x1042) ||
            !d->bar[4].size) {
            continue;
        }
        pci_config_writel(d, 0x04, pci_config_readl(d, 0x04) | 0x4);
        b->base = d->bar[4].addr;
        *(volatile uint8_t *)(b->base + 20) = 0;
        *(volatile uint8_t *)(b->base + 20) = ST_ACK | ST_DRIVER;
        mmio_write32(b->base + 0, 0);
        f0 = mmio_read32(b->base + 4) & BENCH_FEATURES;
        mmio_write32(b->base + 8, 0);
        mmio_write32(b->base + 12, f0);
        mmio_write32(b->base + 8, 1);
        mmio_write32(b->base + 12, 1);
        *(volatile uint8_t *)(b->base + 20) = ST_ACK | ST_DRIVER | ST_FEATURES_OK;
        b->nq = f0 & (1u << VIRTIO_BLK_F_MQ) ? *(volatile uint16_t *)(b->base + M_NUM_QUEUES) : 1;
        b->nq = b->nq < 1 ? 1 : b->nq > BQ_MAX ? BQ_MAX : b->nq;
        for (unsigned q = 0; q < b->nq; q++) {
            bq_setup(b, q);
        }
        b->sectors = mmio_read32(b->base + 0x2000) | (uint64_t)mmio_read32(b->base + 0x2004) << 32;
        *(volatile uint8_t *)(b->base + 20) = ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK;
        b->wce = *(volatile uint8_t *)(b->base + M_WCE);
        return true;
    }
    return false;
}

static uint64_t *bench_buf(unsigned slot)
{
    return (uint64_t *)(BQ_DATA + (uint64_t)slot * BQ_BIG);
}

/* Scenario virtio_blk's pattern: word i of a 64 KiB request at sector s. */
static uint64_t bench_word(uint64_t s, unsigned i)
{
    return (s + i / (VBLK_SECTOR / 8)) * 0x9e3779b97f4a7c15ull ^ i;
}

static void bench_fill(unsigned slot, uint64_t s)
{
    uint64_t *p = bench_buf(slot);

    for (unsigned i = 0; i < BQ_PAT / 8; i++) {
        p[i] = bench_word(s, i);
    }
}

static bool bench_check(unsigned slot, uint64_t s)
{
    const uint64_t *p = bench_buf(slot);

    for (unsigned i = 0; i < BQ_PAT / 8; i++) {
        if (p[i] != bench_word(s, i)) {
            return false;
        }
    }
    return true;
}

/* Slot s of queue qi: descriptors 3s..3s+2 of that queue. */
static void bench_queue(Bench *b, unsigned qi, unsigned s, uint32_t type, uint64_t sector,
                        uint32_t len)
{
    BQueue *q = &b->q[qi];
    unsigned slot = qi * BQ_SLOTS + s, d = 3 * s;
    uint8_t *hdr = (uint8_t *)(BQ_HDRS + 32ull * slot);

    b->sector[slot] = sector;
    if (b->pat && type == T_OUT) {
        bench_fill(slot, sector);
    }
    memcpy(hdr, &type, 4);
    memset(hdr + 4, 0, 4);
    memcpy(hdr + 8, &sector, 8);
    hdr[16] = 0xff;
    q->desc[d] = (VDesc){(uint64_t)hdr, 16, DESC_NEXT, d + 1};
    q->desc[d + 1] = (VDesc){BQ_DATA + (uint64_t)slot * BQ_BIG, len,
                             DESC_NEXT | (type == T_IN ? DESC_WRITE : 0), d + 2};
    q->desc[d + 2] = (VDesc){(uint64_t)hdr + 16, 1, DESC_WRITE, 0};
    q->avail[2 + q->avail_idx % BQ_SIZE] = d;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    q->avail[1] = ++q->avail_idx;
}

static void bench_kick(Bench *b, unsigned qi)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!(b->q[qi].used[0] & USED_NO_NOTIFY)) {
        *(volatile uint16_t *)b->q[qi].notify = qi;
    }
}

static uint64_t bench_sector(Bench *b, bool seq, uint32_t len)
{
    uint64_t units = b->sectors / (len / VBLK_SECTOR);

    if (seq) {
        return (b->next_seq++ % units) * (len / VBLK_SECTOR);
    }
    b->rng = b->rng * 6364136223846793005ull + 1442695040888963407ull;
    return ((b->rng >> 17) % units) * (len / VBLK_SECTOR);
}

/* Is there another request to make in this row? */
static bool bench_more(Bench *b, uint64_t end)
{
    if (b->pat) {
        return b->next_seq < b->sectors / (b->len / VBLK_SECTOR);
    }
    return clock_ns() < end;
}

/* Reap queue qi, submitting again while the row goes on; completions, -1 on an error. */
static int bench_reap(Bench *b, unsigned qi, uint64_t end, uint64_t *inflight)
{
    BQueue *q = &b->q[qi];
    bool kick = false;
    int done = 0;

    while ((uint16_t)(q->used[0] >> 16) != q->used_idx) {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        uint32_t id = q->used[1 + 2 * (q->used_idx % BQ_SIZE)];
        unsigned slot = qi * BQ_SLOTS + id / 3;

        q->used_idx++;
        if (id % 3 || id / 3 >= BQ_SLOTS ||
            *(volatile uint8_t *)(BQ_HDRS + 32ull * slot + 16) != 0) {
            report_fail("I/O error");
            return -1;
        }
        if (b->pat && b->type == T_IN && !bench_check(slot, b->sector[slot])) {
            report_fail("data mismatch at sector %lu", b->sector[slot]);
            return -1;
        }
        done++;
        (*inflight)--;
        if (bench_more(b, end)) {
            bench_queue(b, qi, id / 3, b->type, bench_sector(b, b->seq, b->len), b->len);
            (*inflight)++;
            kick = true;
        }
    }
    if (kick) {
        bench_kick(b, qi);
    }
    return done;
}

/* After a write row (nothing in flight): one FLUSH on queue 0 through slot 0; false on an
 * error status. Without a write cache there is nothing to flush. */
static bool bench_flush(Bench *b)
{
    BQueue *q = &b->q[0];
    uint8_t *hdr = (uint8_t *)BQ_HDRS;
    uint32_t type = T_FLUSH;

    if (!b->wce) {
        return true;
    }
    memset(hdr, 0, 16);
    memcpy(hdr, &type, 4);
    hdr[16] = 0xff;
    q->desc[0] = (VDesc){(uint64_t)hdr, 16, DESC_NEXT, 1};
    q->desc[1] = (VDesc){(uint64_t)hdr + 16, 1, DESC_WRITE, 0};
    q->avail[2 + q->avail_idx % BQ_SIZE] = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    q->avail[1] = ++q->avail_idx;
    bench_kick(b, 0);
    while ((uint16_t)(q->used[0] >> 16) == q->used_idx) {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
    q->used_idx++;
    return *(volatile uint8_t *)(hdr + 16) == 0;
}

static const char *find_colon(const char *s)
{
    while (*s && *s != ':') {
        s++;
    }
    return *s ? s : NULL;
}

/* "ROWDEPTH-what", e.g. randread32-iops. */
static void bench_report(const char *row, size_t n, unsigned depth, const char *what,
                         uint64_t value, const char *unit)
{
    char name[64];
    size_t len = n < 40 ? n : 40;

    memcpy(name, row, len);
    name[len] = 0;
    printf("RESULT %s%u-%s %lu %s\n", name, depth, what, value, unit);
}

static bool bench_row(Bench *b, const char *row, uint64_t ms)
{
    const char *colon = find_colon(row);
    size_t n = colon ? (size_t)(colon - row) : strlen(row);
    bool pat = row[0] == 'p', seq = row[0] == 's' || pat;
    bool write = n >= 5 && !memcmp(row + n - 5, "write", 5);
    unsigned depth = colon ? strtou64(colon + 1, NULL) : 1;
    uint32_t len = pat ? BQ_PAT : seq ? BQ_BIG : BQ_SMALL, type = write ? T_OUT : T_IN;
    unsigned nq = depth < b->nq ? depth : b->nq;
    uint64_t ops = 0, inflight = 0, t0, end, t1;

    if (!depth || depth > nq * BQ_SLOTS || len > b->sectors * VBLK_SECTOR) {
        report_fail("bad row %s", row);
        return false;
    }
    b->pat = pat;
    b->seq = seq;
    b->type = type;
    b->len = len;
    b->next_seq = 0;
    t0 = clock_ns();
    end = t0 + ms * 1000000;
    for (unsigned i = 0; i < depth && bench_more(b, end); i++, inflight++) {
        bench_queue(b, i % nq, i / nq, type, bench_sector(b, seq, len), len);
    }
    for (unsigned q = 0; q < nq; q++) {
        *(volatile uint16_t *)b->q[q].notify = q;
    }
    while (inflight) {
        for (unsigned q = 0; q < nq; q++) {
            int r = bench_reap(b, q, end, &inflight);
            if (r < 0) {
                return false;
            }
            ops += r;
        }
    }
    t1 = clock_ns();
    if (type == T_OUT && !bench_flush(b)) {
        report_fail("flush failed");
        return false;
    }
    bench_report(row, n, depth, "iops", ops * 1000000000ull / (t1 - t0), "IOPS");
    bench_report(row, n, depth, "mbps", ops * len * 1000 / (t1 - t0), "MB/s");
    return true;
}

static int bench_run(int argc, char **argv)
{
    Bench b = {.rng = 0x2545f4914f6cdd1dull};
    uint64_t ms = argc > 1 ? strtou64(argv[1], NULL) : 1000;

    if (!bench_open(&b)) {
        report_fail("no modern virtio-blk device");
        return -1;
    }
    printf("VIRTIO-BLK-BENCH queues %u capacity %lu\n", b.nq, b.sectors);
    printf("VIRTIO-BLK-BENCH write-cache %u\n", b.wce);
    clock_calibrate(10);
    for (int i = 2; i < argc; i++) {
        if (!bench_row(&b, argv[i], ms)) {
            return -1;
        }
    }
    return 0;
}

SCENARIO(virtio_blk_bench, bench_run);
