/*
 * The test payload's polling virtio-blk driver: see virtio-blk.h. Register offsets are the
 * virtio 1.0 spec's (legacy I/O block and modern common configuration).
 */
#include "io.h"
#include "virtio-blk.h"

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

static PCIDevice vblk_pci[32];

static void m_w8(VBlk *v, unsigned off, uint8_t x)
{
    *(volatile uint8_t *)(v->base + off) = x;
}
static void m_w16(VBlk *v, unsigned off, uint16_t x)
{
    *(volatile uint16_t *)(v->base + off) = x;
}
static uint8_t m_r8(VBlk *v, unsigned off)
{
    return *(volatile uint8_t *)(v->base + off);
}

void vblk_set_status(VBlk *v, uint8_t s)
{
    if (v->modern) {
        m_w8(v, M_STATUS, s);
    } else {
        outb(v->base + L_STATUS, s);
    }
}

uint8_t vblk_status(VBlk *v)
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
    mmio_write32(v->base + M_GF, 1); /* VERSION_1 only */
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
    v->sectors = mmio_read32(v->base + M_DEVICE) | (uint64_t)mmio_read32(v->base + M_DEVICE + 4)
                                                       << 32;
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

unsigned vblk_qsize(VBlk *v)
{
    return v->modern ? VBLK_QSIZE : 256;
}

bool vblk_open(VBlk *v, PCIDevice **pci)
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
        *pci = d;
        return true;
    }
    return false;
}

void vblk_kick(VBlk *v)
{
    if (v->modern) {
        m_w16(v, M_NOTIFY, 0);
    } else {
        outw(v->base + L_QUEUE_NOTIFY, 0);
    }
}

/* Queue request slot (descriptors 3*slot..): header, optional data, status. */
void vblk_queue(VBlk *v, unsigned slot, uint32_t type, uint64_t sector, uint32_t len)
{
    uint8_t *hdr = (uint8_t *)(VBLK_HDRS + 32 * slot);
    unsigned d = 3 * slot;
    uint16_t write = type == T_IN ? DESC_WRITE : 0;

    memcpy(hdr, &type, 4);
    memset(hdr + 4, 0, 4);
    memcpy(hdr + 8, &sector, 8);
    hdr[16] = 0xff;
    v->desc[d] = (VDesc){(uint64_t)hdr, 16, DESC_NEXT, d + 1};
    if (len) {
        v->desc[d + 1] =
            (VDesc){VBLK_DATA + (uint64_t)slot * VBLK_REQ, len, DESC_NEXT | write, d + 2};
        v->desc[d + 2] = (VDesc){(uint64_t)hdr + 16, 1, DESC_WRITE, 0};
    } else {
        v->desc[d + 1] = (VDesc){(uint64_t)hdr + 16, 1, DESC_WRITE, 0};
    }
    vblk_publish(v, d);
}

void vblk_publish(VBlk *v, uint16_t head)
{
    v->avail[2 + v->avail_idx % vblk_qsize(v)] = head;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    v->avail[1] = ++v->avail_idx;
}

/* Wait for one completion; its slot, or -1 on a bad status. */
int vblk_reap(VBlk *v)
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

int vblk_poll(VBlk *v, unsigned *slot, uint8_t *status)
{
    uint32_t id;

    if ((uint16_t)(v->used[0] >> 16) == v->used_idx) {
        return 0;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    id = v->used[1 + 2 * (v->used_idx % vblk_qsize(v))];
    v->used_idx++;
    *slot = id / 3;
    *status = *(volatile uint8_t *)(VBLK_HDRS + 32 * (id / 3) + 16);
    return 1;
}
