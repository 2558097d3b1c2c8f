/*
 * The virtio PCI register blocks as the guest sees them: the legacy I/O block in BAR0 and
 * the four modern structures in BAR4 (common configuration, ISR, device configuration,
 * notifications). Register semantics follow QEMU 7.2, including its answers to odd input:
 * unknown offsets read 0 (modern) or all ones (legacy) and ignore writes, vectors beyond the
 * MSI-X table read back as NO_VECTOR, a zero queue PFN resets the device. Not the PCI
 * plumbing (virtio-pci.c).
 */
#include <linux/virtio_pci.h>
#include <glib.h>
#include "hw/msix.h"
#include "hw/virtio-pci.h"

static VirtQueue *proxy_vq(VirtIOPCIProxy *proxy)
{
    return &proxy->vdev->vq[proxy->vdev->queue_sel];
}

/* A vector the guest chose; one the table does not have reads back as NO_VECTOR. */
static uint16_t proxy_vector(VirtIOPCIProxy *proxy, uint64_t val)
{
    return val < msix_nr_vectors(proxy->pci) ? (uint16_t)val : VIRTIO_NO_VECTOR;
}

static uint8_t proxy_isr_read(VirtIOPCIProxy *proxy)
{
    /* I/O threads set bits concurrently. */
    uint8_t isr = __atomic_exchange_n(&proxy->vdev->isr, 0, __ATOMIC_SEQ_CST);

    pci_set_irq(proxy->pci, false);
    return isr;
}

static void proxy_set_status(VirtIOPCIProxy *proxy, uint8_t status)
{
    virtio_set_status(proxy->vdev, status);
    if (proxy->vdev->status == 0) {
        virtio_pci_reset(proxy);
    }
}

static uint64_t size_mask(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

/* ---- legacy (virtio 0.9.5) I/O block ---- */

static unsigned legacy_config_offset(VirtIOPCIProxy *proxy)
{
    return VIRTIO_PCI_CONFIG_OFF(msix_enabled(proxy->pci));
}

static uint32_t legacy_reg_read(VirtIOPCIProxy *proxy, uint64_t addr)
{
    VirtIODevice *vdev = proxy->vdev;

    switch (addr) {
    case VIRTIO_PCI_HOST_FEATURES:
        return (uint32_t)vdev->host_features;
    case VIRTIO_PCI_GUEST_FEATURES:
        return (uint32_t)vdev->guest_features;
    case VIRTIO_PCI_QUEUE_PFN:
        return virtio_queue_get_desc(proxy_vq(proxy)) >> VIRTIO_PCI_QUEUE_ADDR_SHIFT;
    case VIRTIO_PCI_QUEUE_NUM:
        return virtio_queue_get_num(proxy_vq(proxy));
    case VIRTIO_PCI_QUEUE_SEL:
        return vdev->queue_sel;
    case VIRTIO_PCI_STATUS:
        return vdev->status;
    case VIRTIO_PCI_ISR:
        return proxy_isr_read(proxy);
    case VIRTIO_MSI_CONFIG_VECTOR:
        return vdev->config_vector;
    case VIRTIO_MSI_QUEUE_VECTOR:
        return virtio_queue_get_vector(proxy_vq(proxy));
    default:
        return UINT32_MAX;
    }
}

static void legacy_set_features(VirtIOPCIProxy *proxy, uint32_t val)
{
    /* A driver that sets the canary bit does not negotiate: assume nothing. */
    if (val & (1u << VIRTIO_F_BAD_FEATURE)) {
        val = 0;
    }
    virtio_set_features(proxy->vdev, val);
}

static void legacy_reg_write(VirtIOPCIProxy *proxy, uint64_t addr, uint32_t val)
{
    VirtIODevice *vdev = proxy->vdev;

    switch (addr) {
    case VIRTIO_PCI_GUEST_FEATURES:
        legacy_set_features(proxy, val);
        break;
    case VIRTIO_PCI_QUEUE_PFN:
        if (val == 0) {
            virtio_pci_reset(proxy);
        } else {
            virtio_queue_set_addr(proxy_vq(proxy), (uint64_t)val << VIRTIO_PCI_QUEUE_ADDR_SHIFT);
        }
        break;
    case VIRTIO_PCI_QUEUE_SEL:
        if (val < VIRTIO_QUEUE_MAX) {
            vdev->queue_sel = val;
        }
        break;
    case VIRTIO_PCI_QUEUE_NOTIFY:
        if (val < VIRTIO_QUEUE_MAX) {
            virtio_queue_notify(vdev, val);
        }
        break;
    case VIRTIO_PCI_STATUS:
        proxy_set_status(proxy, val & 0xff);
        break;
    case VIRTIO_MSI_CONFIG_VECTOR:
        vdev->config_vector = proxy_vector(proxy, val);
        break;
    case VIRTIO_MSI_QUEUE_VECTOR:
        virtio_queue_set_vector(proxy_vq(proxy), proxy_vector(proxy, val));
        break;
    default:
        break;
    }
}

static uint64_t legacy_read_locked(VirtIOPCIProxy *proxy, uint64_t addr, unsigned size)
{
    unsigned cfg = legacy_config_offset(proxy);

    if (addr < cfg) {
        return legacy_reg_read(proxy, addr) & size_mask(size);
    }
    return virtio_config_read(proxy->vdev, addr - cfg, size) & size_mask(size);
}

/* Register accesses come from vCPUs (or qtest) and take the device lock (I/O threads). */
static uint64_t legacy_read(void *opaque, uint64_t addr, unsigned size)
{
    VirtIOPCIProxy *proxy = opaque;
    uint64_t val;

    virtio_device_lock(proxy->vdev);
    val = legacy_read_locked(proxy, addr, size);
    virtio_device_unlock(proxy->vdev);
    return val;
}

static void legacy_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    VirtIOPCIProxy *proxy = opaque;
    unsigned cfg = legacy_config_offset(proxy);

    virtio_device_lock(proxy->vdev);
    if (addr < cfg) {
        legacy_reg_write(proxy, addr, (uint32_t)(val & size_mask(size)));
    } else {
        virtio_config_write(proxy->vdev, addr - cfg, (uint32_t)val, size);
    }
    virtio_device_unlock(proxy->vdev);
}

const IOOps virtio_pci_legacy_ops = {
    .read = legacy_read,
    .write = legacy_write,
};

/* ---- modern: common configuration structure ---- */

static uint32_t common_num_queues(VirtIOPCIProxy *proxy)
{
    uint32_t n = 0;

    for (unsigned i = 0; i < VIRTIO_QUEUE_MAX; i++) {
        if (virtio_queue_get_num(&proxy->vdev->vq[i])) {
            n = i + 1;
        }
    }
    return n;
}

static uint32_t common_read(VirtIOPCIProxy *proxy, uint64_t addr)
{
    VirtIODevice *vdev = proxy->vdev;
    VirtIOPCIQueue *q = &proxy->vqs[vdev->queue_sel];
    uint64_t offered = vdev->host_features & ~VIRTIO_LEGACY_FEATURES;

    switch (addr) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        return proxy->dfselect;
    case VIRTIO_PCI_COMMON_DF:
        return proxy->dfselect <= 1 ? (uint32_t)(offered >> (32 * proxy->dfselect)) : 0;
    case VIRTIO_PCI_COMMON_GFSELECT:
        return proxy->gfselect;
    case VIRTIO_PCI_COMMON_GF:
        return proxy->gfselect <= 1 ? proxy->guest_features[proxy->gfselect] : 0;
    case VIRTIO_PCI_COMMON_MSIX:
        return vdev->config_vector;
    case VIRTIO_PCI_COMMON_NUMQ:
        return common_num_queues(proxy);
    case VIRTIO_PCI_COMMON_STATUS:
        return vdev->status;
    case VIRTIO_PCI_COMMON_CFGGENERATION:
        return vdev->generation;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        return vdev->queue_sel;
    case VIRTIO_PCI_COMMON_Q_SIZE:
        return virtio_queue_get_num(proxy_vq(proxy));
    case VIRTIO_PCI_COMMON_Q_MSIX:
        return virtio_queue_get_vector(proxy_vq(proxy));
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        return q->enabled;
    case VIRTIO_PCI_COMMON_Q_NOFF:
        return vdev->queue_sel; /* queues are mapped in order */
    case VIRTIO_PCI_COMMON_Q_DESCLO:
    case VIRTIO_PCI_COMMON_Q_DESCHI:
        return q->desc[(addr - VIRTIO_PCI_COMMON_Q_DESCLO) / 4];
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
    case VIRTIO_PCI_COMMON_Q_AVAILHI:
        return q->avail[(addr - VIRTIO_PCI_COMMON_Q_AVAILLO) / 4];
    case VIRTIO_PCI_COMMON_Q_USEDLO:
    case VIRTIO_PCI_COMMON_Q_USEDHI:
        return q->used[(addr - VIRTIO_PCI_COMMON_Q_USEDLO) / 4];
    case VIRTIO_PCI_COMMON_Q_RESET:
        return q->reset;
    default:
        return 0;
    }
}

static uint64_t pair64(const uint32_t v[2])
{
    return (uint64_t)v[1] << 32 | v[0];
}

static void common_queue_enable(VirtIOPCIProxy *proxy, uint32_t val)
{
    VirtIOPCIQueue *q = &proxy->vqs[proxy->vdev->queue_sel];
    VirtQueue *vq = proxy_vq(proxy);

    if (val != 1) {
        virtio_error(proxy->vdev, "wrong value for queue_enable %x", val);
        return;
    }
    virtio_queue_set_num(vq, q->num);
    virtio_queue_set_rings(vq, pair64(q->desc), pair64(q->avail), pair64(q->used));
    q->enabled = true;
    q->reset = false;
    virtio_pci_update_doorbells(proxy);
}

static void common_queue_reset(VirtIOPCIProxy *proxy, uint32_t val)
{
    VirtIOPCIQueue *q = &proxy->vqs[proxy->vdev->queue_sel];

    if (val == 1) {
        virtio_queue_reset(proxy_vq(proxy));
        q->enabled = false;
        q->reset = false;
    }
}

static void common_set_features(VirtIOPCIProxy *proxy, uint32_t val)
{
    if (proxy->gfselect <= 1) {
        proxy->guest_features[proxy->gfselect] = val;
        virtio_set_features(proxy->vdev, pair64(proxy->guest_features));
    }
}

static void common_queue_addr(VirtIOPCIProxy *proxy, uint64_t addr, uint32_t val)
{
    VirtIOPCIQueue *q = &proxy->vqs[proxy->vdev->queue_sel];
    unsigned half = (addr % 8) / 4;

    if (addr < VIRTIO_PCI_COMMON_Q_AVAILLO) {
        q->desc[half] = val;
    } else if (addr < VIRTIO_PCI_COMMON_Q_USEDLO) {
        q->avail[half] = val;
    } else {
        q->used[half] = val;
    }
}

static void common_write(VirtIOPCIProxy *proxy, uint64_t addr, uint32_t val)
{
    VirtIODevice *vdev = proxy->vdev;

    switch (addr) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        proxy->dfselect = val;
        break;
    case VIRTIO_PCI_COMMON_GFSELECT:
        proxy->gfselect = val;
        break;
    case VIRTIO_PCI_COMMON_GF:
        common_set_features(proxy, val);
        break;
    case VIRTIO_PCI_COMMON_MSIX:
        vdev->config_vector = proxy_vector(proxy, val);
        break;
    case VIRTIO_PCI_COMMON_STATUS:
        proxy_set_status(proxy, val & 0xff);
        break;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        if (val < VIRTIO_QUEUE_MAX) {
            vdev->queue_sel = val;
        }
        break;
    case VIRTIO_PCI_COMMON_Q_SIZE:
        proxy->vqs[vdev->queue_sel].num = val;
        virtio_queue_set_num(proxy_vq(proxy), (uint16_t)val);
        break;
    case VIRTIO_PCI_COMMON_Q_MSIX:
        virtio_queue_set_vector(proxy_vq(proxy), proxy_vector(proxy, val));
        break;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        common_queue_enable(proxy, val);
        break;
    case VIRTIO_PCI_COMMON_Q_DESCLO ... VIRTIO_PCI_COMMON_Q_USEDHI + 3:
        if (addr % 4 == 0) {
            common_queue_addr(proxy, addr, val);
        }
        break;
    case VIRTIO_PCI_COMMON_Q_RESET:
        common_queue_reset(proxy, val);
        break;
    default:
        break;
    }
}

/* ---- modern: the BAR4 dispatcher ---- */

static uint32_t modern_read32(VirtIOPCIProxy *proxy, uint64_t addr, unsigned size)
{
    uint64_t off = addr % VIRTIO_PCI_REGION_SIZE;

    switch (addr / VIRTIO_PCI_REGION_SIZE * VIRTIO_PCI_REGION_SIZE) {
    case VIRTIO_PCI_COMMON_OFFSET:
        return common_read(proxy, off) & size_mask(size);
    case VIRTIO_PCI_ISR_OFFSET:
        return off == 0 ? proxy_isr_read(proxy) : 0;
    case VIRTIO_PCI_DEVICE_OFFSET:
        return virtio_config_read(proxy->vdev, off, size);
    default:
        return 0; /* notifications read as zero */
    }
}

static void modern_write32(VirtIOPCIProxy *proxy, uint64_t addr, uint32_t val, unsigned size)
{
    uint64_t off = addr % VIRTIO_PCI_REGION_SIZE;

    val &= size_mask(size);
    switch (addr / VIRTIO_PCI_REGION_SIZE * VIRTIO_PCI_REGION_SIZE) {
    case VIRTIO_PCI_COMMON_OFFSET:
        common_write(proxy, off, val);
        break;
    case VIRTIO_PCI_DEVICE_OFFSET:
        virtio_config_write(proxy->vdev, off, val, size);
        break;
    case VIRTIO_PCI_NOTIFY_OFFSET:
        virtio_queue_notify(proxy->vdev, off / VIRTIO_PCI_NOTIFY_MULT);
        break;
    default:
        break; /* the ISR is read-only */
    }
}

/* 8-byte accesses are split in two, as QEMU's regions (at most 4 bytes wide) see them. */
uint64_t virtio_pci_modern_read(VirtIOPCIProxy *proxy, uint64_t addr, unsigned size)
{
    if (size == 8) {
        return modern_read32(proxy, addr, 4) | (uint64_t)modern_read32(proxy, addr + 4, 4) << 32;
    }
    return modern_read32(proxy, addr, size);
}

void virtio_pci_modern_write(VirtIOPCIProxy *proxy, uint64_t addr, uint64_t val, unsigned size)
{
    if (size == 8) {
        modern_write32(proxy, addr, (uint32_t)val, 4);
        modern_write32(proxy, addr + 4, val >> 32, 4);
        return;
    }
    modern_write32(proxy, addr, (uint32_t)val, size);
}

static uint64_t modern_read(void *opaque, uint64_t addr, unsigned size)
{
    VirtIOPCIProxy *proxy = opaque;
    uint64_t val;

    virtio_device_lock(proxy->vdev);
    val = virtio_pci_modern_read(proxy, addr, size);
    virtio_device_unlock(proxy->vdev);
    return val;
}

static void modern_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    VirtIOPCIProxy *proxy = opaque;

    virtio_device_lock(proxy->vdev);
    virtio_pci_modern_write(proxy, addr, val, size);
    virtio_device_unlock(proxy->vdev);
}

const IOOps virtio_pci_modern_ops = {
    .read = modern_read,
    .write = modern_write,
};
