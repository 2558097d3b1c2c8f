/*
 * Scenario `virtio_blk [MiB] [depth]`: a polling virtio-blk driver in CPL3. It finds the first
 * virtio-blk function (modern through BAR4 when the device has it, else the legacy I/O
 * block), brings it up without interrupts (VRING_AVAIL_F_NO_INTERRUPT), writes MiB (default
 * 16) of a pattern derived from each sector's number in 64 KiB requests with up to `depth`
 * (default 8) in flight, flushes, reads it all back and compares. Reports the capacity, the
 * MB/s of both passes and PASS; the host checks the image file. A base for bench/virtio.
 * Rings and buffers live at fixed addresses from 32 MiB (run with -m 128 or more).
 */
#include "guest.h"
#include "io.h"

#define VBLK_RING 0x2000000ull             /* desc, avail (+4 KiB), used (+8 KiB) */
#define VBLK_HDRS 0x2010000ull             /* 16-byte headers and status bytes per slot */
#define VBLK_DATA 0x2100000ull             /* 64 KiB per slot */
#define VBLK_QSIZE 64
#define VBLK_REQ 65536u
#define VBLK_MAX_DEPTH 16
#define VBLK_SECTOR 512
/* virtio constants (virtio 1.0 spec) */
#define ST_ACK 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8
#define DESC_NEXT 1
#define DESC_WRITE 2
#define AVAIL_NO_INTERRUPT 1
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define F_VERSION_1 32
/* legacy I/O registers */
#define L_HOST_FEATURES 0
#define L_GUEST_FEATURES 4
#define L_QUEUE_PFN 8
#define L_QUEUE_NUM 12
#define L_QUEUE_SEL 14
#define L_QUEUE_NOTIFY 16
#define L_STATUS 18
#define L_CONFIG 20
/* modern common configuration */
#define M_DFSELECT 0
#define M_DF 4
#define M_GFSELECT 8
#define M_GF 12
#define M_STATUS 20
#define M_Q_SELECT 22
#define M_Q_SIZE 24
#define M_Q_ENABLE 28
#define M_Q_DESC 32
#define M_Q_AVAIL 40
#define M_Q_USED 48
#define M_DEVICE 0x2000
#define M_NOTIFY 0x3000

typedef struct VDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} VDesc;

typedef struct VBlk {
    bool modern;
    uint64_t base;                         /* BAR4 address or I/O port */
    volatile VDesc *desc;
    volatile uint16_t *avail;              /* flags, idx, ring[] */
    volatile uint32_t *used;               /* flags|idx, then {id, len} pairs */
    uint16_t avail_idx, used_idx;
    uint64_t sectors;
} VBlk;

static PCIDevice vblk_pci[32];

static void m_w8(VBlk *v, unsigned off, uint8_t x) { *(volatile uint8_t *)(v->base + off) = x; }
static void m_w16(VBlk *v, unsigned off, uint16_t x) { *(volatile uint16_t *)(v->base + off) = x; }
static uint8_t m_r8(VBlk *v, unsigned off) { return *(volatile uint8_t *)(v->base + off); }

static void vblk_set_status(VBlk *v, uint8_t s)
{
    if (v->modern) {
        m_w8(v, M_STATUS, s);
    } else {
        outb(v->base + L_STATUS, s);
    }
}

static uint8_t vblk_status(VBlk *v)
{
    return v->modern ? m_r8(v, M_STATUS) : inb(v->base + L_STATUS);
}

static void vblk_rings(VBlk *v)
{
    memset((void *)VBLK_RING, 0, 0x3000);
    v->desc = (volatile VDesc *)VBLK_RING;
    v->avail = (volatile uint16_t *)(VBLK_RING + 0x1000);
    v->used = (volatile uint32_t *)(VBLK_RING + 0x2000);
    v->avail[0] = AVAIL_NO_INTERRUPT;
}

static bool vblk_init_modern(VBlk *v)
{
    mmio_write32(v->base + M_DFSELECT, 1);
    if (!(mmio_read32(v->base + M_DF) & 1)) {
        return false;
    }
    mmio_write32(v->base + M_GFSELECT, 0);
    mmio_write32(v->base + M_GF, 0);
    mmio_write32(v->base + M_GFSELECT, 1);
    mmio_write32(v->base + M_GF, 1);       /* VERSION_1 only */
    vblk_set_status(v, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    if (!(vblk_status(v) & ST_FEATURES_OK)) {
        return false;
    }
    m_w16(v, M_Q_SELECT, 0);
    m_w16(v, M_Q_SIZE, VBLK_QSIZE);
    mmio_write32(v->base + M_Q_DESC, VBLK_RING);
    mmio_write32(v->base + M_Q_DESC + 4, 0);
    mmio_write32(v->base + M_Q_AVAIL, VBLK_RING + 0x1000);
    mmio_write32(v->base + M_Q_AVAIL + 4, 0);
    mmio_write32(v->base + M_Q_USED, VBLK_RING + 0x2000);
    mmio_write32(v->base + M_Q_USED + 4, 0);
    m_w16(v, M_Q_ENABLE, 1);
    v->sectors = mmio_read32(v->base + M_DEVICE) |
                 (uint64_t)mmio_read32(v->base + M_DEVICE + 4) << 32;
    return true;
}

/* Legacy queues have the device's size; with 256 entries avail ends below +0x1000 and the
 * used ring starts at the next page, +0x2000 as for modern. */
static bool vblk_init_legacy(VBlk *v)
{
    outl(v->base + L_GUEST_FEATURES, 0);
    outw(v->base + L_QUEUE_SEL, 0);
    if (inw(v->base + L_QUEUE_NUM) != 256) {
        return false;
    }
    outl(v->base + L_QUEUE_PFN, VBLK_RING >> 12);
    v->sectors = inl(v->base + L_CONFIG) | (uint64_t)inl(v->base + L_CONFIG + 4) << 32;
    return true;
}

static unsigned vblk_qsize(VBlk *v)
{
    return v->modern ? VBLK_QSIZE : 256;
}

static bool vblk_open(VBlk *v)
{
    int n = pci_enumerate(vblk_pci, ARRAY_SIZE(vblk_pci));
    bool ok;

    for (int i = 0; i < n; i++) {
        PCIDevice *d = &vblk_pci[i];
        if (d->vendor_id != 0x1af4 || (d->device_id != 0x1001 && d->device_id != 0x1042)) {
            continue;
        }
        /* Bus mastering: the device reads and writes our rings. */
        pci_config_writel(d, 0x04, pci_config_readl(d, 0x04) | 0x4);
        v->modern = d->bar[4].size != 0;
        v->base = v->modern ? d->bar[4].addr : d->bar[0].addr;
        vblk_rings(v);
        vblk_set_status(v, 0);
        vblk_set_status(v, ST_ACK | ST_DRIVER);
        ok = v->modern ? vblk_init_modern(v) : vblk_init_legacy(v);
        if (!ok) {
            return false;
        }
        vblk_set_status(v, vblk_status(v) | ST_DRIVER_OK);
        printf("VIRTIO-BLK %02x.%x %s capacity %lu\n", d->dev, d->fn,
               v->modern ? "modern" : "legacy", v->sectors);
        return true;
    }
    return false;
}

static void vblk_kick(VBlk *v)
{
    if (v->modern) {
        m_w16(v, M_NOTIFY, 0);
    } else {
        outw(v->base + L_QUEUE_NOTIFY, 0);
    }
}

/* Queue request slot (descriptors 3*slot..): header, optional data, status. */
static void vblk_queue(VBlk *v, unsigned slot, uint32_t type, uint64_t sector, uint32_t len)
{
    uint8_t *hdr = (uint8_t *)(VBLK_HDRS + 32 * slot);
    unsigned d = 3 * slot, q = vblk_qsize(v);
    uint16_t write = type == T_IN ? DESC_WRITE : 0;

    memcpy(hdr, &type, 4);
    memset(hdr + 4, 0, 4);
    memcpy(hdr + 8, &sector, 8);
    hdr[16] = 0xff;
    v->desc[d] = (VDesc){ (uint64_t)hdr, 16, DESC_NEXT, d + 1 };
    if (len) {
        v->desc[d + 1] = (VDesc){ VBLK_DATA + (uint64_t)slot * VBLK_REQ, len,
                                  DESC_NEXT | write, d + 2 };
        v->desc[d + 2] = (VDesc){ (uint64_t)hdr + 16, 1, DESC_WRITE, 0 };
    } else {
        v->desc[d + 1] = (VDesc){ (uint64_t)hdr + 16, 1, DESC_WRITE, 0 };
    }
    v->avail[2 + v->avail_idx % q] = d;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    v->avail[1] = ++v->avail_idx;
}

/* Wait for one completion; its slot, or -1 on a bad status. */
static int vblk_reap(VBlk *v)
{
    unsigned q = vblk_qsize(v);
    uint32_t id;
    uint8_t status;

    while ((uint16_t)(v->used[0] >> 16) == v->used_idx) {
        asm volatile("pause");
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    id = v->used[1 + 2 * (v->used_idx % q)];
    v->used_idx++;
    status = *(volatile uint8_t *)(VBLK_HDRS + 32 * (id / 3) + 16);
    return status == 0 ? (int)(id / 3) : -1;
}

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
    VBlk v = { 0 };

    if (depth < 1 || depth > VBLK_MAX_DEPTH || !vblk_open(&v) || n * VBLK_REQ / VBLK_SECTOR >
        v.sectors) {
        report_fail("no usable virtio-blk device for %lu MiB at depth %lu", mib, depth);
        return -1;
    }
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
