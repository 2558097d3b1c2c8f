/*
 * Scenario `virtio_blk [MiB] [depth]`: with the payload's polling driver (virtio-blk.c), write
 * MiB (default 16) of a pattern derived from each sector's number in 64 KiB requests with up
 * to `depth` (default 8) in flight, flush, read it all back and compare. Reports the device,
 * the MB/s of both passes and PASS; the host checks the image file. A base for bench/virtio.
 */
#include "virtio-blk.h"

static void vblk_fill(unsigned slot, uint64_t sector)
{
    uint64_t *p = (uint64_t *)(VBLK_DATA + (uint64_t)slot * VBLK_REQ);

    for (unsigned i = 0; i < VBLK_REQ / 8; i++) {
        p[i] = (sector + i / (VBLK_SECTOR / 8)) * 0x9e3779b97f4a7c15ull ^ i;
    }
}

static bool vblk_check(unsigned slot, uint64_t sector)
{
    const uint64_t *p = (const uint64_t *)(VBLK_DATA + (uint64_t)slot * VBLK_REQ);

    for (unsigned i = 0; i < VBLK_REQ / 8; i++) {
        if (p[i] != ((sector + i / (VBLK_SECTOR / 8)) * 0x9e3779b97f4a7c15ull ^ i)) {
            return false;
        }
    }
    return true;
}

/* One pass over n requests with up to depth in flight; false on an error or mismatch. */
static bool vblk_pass(VBlk *v, uint32_t type, unsigned n, unsigned depth)
{
    uint64_t slot_sector[VBLK_MAX_DEPTH];
    unsigned next = 0, inflight = 0;
    uint64_t per = VBLK_REQ / VBLK_SECTOR;

    for (unsigned s = 0; s < depth && next < n; s++, next++, inflight++) {
        slot_sector[s] = next * per;
        if (type == T_OUT) {
            vblk_fill(s, slot_sector[s]);
        }
        vblk_queue(v, s, type, slot_sector[s], VBLK_REQ);
    }
    vblk_kick(v);
    while (inflight) {
        int s = vblk_reap(v);
        if (s < 0 || (type == T_IN && !vblk_check(s, slot_sector[s]))) {
            report_fail("%s at sector %lu", s < 0 ? "I/O error" : "data mismatch",
                        s < 0 ? 0 : slot_sector[s]);
            return false;
        }
        inflight--;
        if (next < n) {
            slot_sector[s] = next++ * per;
            if (type == T_OUT) {
                vblk_fill(s, slot_sector[s]);
            }
            vblk_queue(v, s, type, slot_sector[s], VBLK_REQ);
            vblk_kick(v);
            inflight++;
        }
    }
    return true;
}

static uint64_t vblk_mbps(uint64_t bytes, uint64_t ns)
{
    return ns ? bytes * 1000 / ns : 0;
}

static int vblk_run(int argc, char **argv)
{
    uint64_t mib = argc > 1 ? strtou64(argv[1], NULL) : 16;
    uint64_t depth = argc > 2 ? strtou64(argv[2], NULL) : 8;
    unsigned n = mib * (1 << 20) / VBLK_REQ;
    uint64_t t0, t1, t2;
    PCIDevice *d = NULL;
    VBlk v = {0};

    if (depth < 1 || depth > VBLK_MAX_DEPTH || !vblk_open(&v, &d) ||
        n * VBLK_REQ / VBLK_SECTOR > v.sectors) {
        report_fail("no usable virtio-blk device for %lu MiB at depth %lu", mib, depth);
        return -1;
    }
    printf("VIRTIO-BLK %02x.%x %s capacity %lu\n", d->dev, d->fn, v.modern ? "modern" : "legacy",
           v.sectors);
    clock_calibrate(10);
    t0 = clock_ns();
    if (!vblk_pass(&v, T_OUT, n, depth)) {
        return -1;
    }
    vblk_queue(&v, 0, T_FLUSH, 0, 0);
    vblk_kick(&v);
    if (vblk_reap(&v) < 0) {
        report_fail("flush failed");
        return -1;
    }
    t1 = clock_ns();
    if (!vblk_pass(&v, T_IN, n, depth)) {
        return -1;
    }
    t2 = clock_ns();
    report_result("write", vblk_mbps(mib << 20, t1 - t0), "MB/s");
    report_result("read", vblk_mbps(mib << 20, t2 - t1), "MB/s");
    return 0;
}

SCENARIO(virtio_blk, vblk_run);
