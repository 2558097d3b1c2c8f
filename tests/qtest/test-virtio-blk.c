/*
 * virtio-blk-pci as a driver sees it, through the qtest protocol: PCI identity and BARs,
 * feature words, the device configuration space, request round trips (read, write, flush,
 * get-id, discard, write-zeroes, invalid ones) with the data checked in guest memory and in
 * the host image, used-ring and interrupt behaviour with and without EVENT_IDX, MSI-X
 * (vectors pointed at guest RAM, as QEMU's libqos does; masking and the PBA), INTx with the
 * ISR when MSI-X is off, reset, and malformed rings that must break the device without
 * harming the VMM. Every assertion holds for QEMU 7.2 as well (QTEST_QEMU=1), except where
 * a test says it checks minivmm's stricter answer.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <linux/pci.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include "libqpci.h"

#define VB_DEVFN PCI_DEVFN(2, 0)
#define VB_DISK_SIZE (64ULL << 20)
#define VB_QSIZE 256
#define VB_RING 0x20000ULL /* desc 0x20000, avail 0x21000, used 0x22000 for 256 entries */
#define VB_AVAIL (VB_RING + 16 * VB_QSIZE)
#define VB_USED (VB_RING + 0x2000)
#define VB_MSI_CFG 0x10000ULL /* where vector 0 (config) writes its message */
#define VB_MSI_VQ 0x10010ULL  /* vector 1 (queue 0) */
#define VB_MSI_DATA_CFG 0xc0ffee00u
#define VB_MSI_DATA_VQ 0xc0ffee01u
#define VB_HDR 0x30000ULL    /* request header */
#define VB_STATUS 0x30100ULL /* status byte */
#define VB_SEG 0x30200ULL    /* discard/write-zeroes segment */
#define VB_INDIRECT 0x31000ULL
#define VB_DATA 0x40000ULL
#define VB_DATA2 0x50000ULL
#define VB_SERIAL "minivmm-vb-0001"
/* Modern BAR4 structures. */
#define VB_COMMON 0x0000
#define VB_ISR 0x1000
#define VB_DEVICE 0x2000
#define VB_NOTIFY 0x3000
/* Feature words QEMU 7.2 offers for this disk. */
#define VB_FEATURES_TRANSITIONAL 0x79006e54u /* the legacy word of a transitional device */
#define VB_FEATURES_LEGACY 0x71006ed4u       /* legacy only: SCSI, no ANY_LAYOUT */
#define VB_FEATURES_MODERN_LO 0x30006e54u
#define VB_FEATURES_MODERN_HI 0x00000101u

typedef struct VB {
    QTestState *qts;
    QPCIBus bus;
    QPCIDevice dev;
    bool modern;
    uint64_t bar;        /* legacy: I/O port base; modern: BAR4 address */
    uint64_t msix_table; /* 0 without MSI-X */
    uint64_t features;
    uint16_t avail_idx;
    uint16_t used_seen;
    uint16_t next_desc;
    uint16_t q; /* the queue the requests go to */
    char img[64];
    int img_fd;
} VB;

typedef struct VBDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags; /* VRING_DESC_F_WRITE (NEXT is added) */
} VBDesc;

/* ---- set-up ---- */

/* mode: 0 legacy only, 1 modern only, 2 transitional (driven as modern). */
static void vb_start(VB *vb, int mode, const char *devopts)
{
    static const char *const mode_opts[] = {"disable-modern=on", "disable-legacy=on", ""};
    g_autofree char *args = NULL;

    memset(vb, 0, sizeof(*vb));
    strcpy(vb->img, "/tmp/test-virtio-blk-XXXXXX");
    vb->img_fd = mkstemp(vb->img);
    g_assert_cmpint(vb->img_fd, >=, 0);
    g_assert_cmpint(ftruncate(vb->img_fd, VB_DISK_SIZE), ==, 0);
    args = g_strdup_printf("-m 128 -drive if=none,id=d0,file=%s,format=raw,discard=unmap "
                           "-device virtio-blk-pci,drive=d0,serial=" VB_SERIAL ",%s%s",
                           vb->img, mode_opts[mode], devopts ? devopts : "");
    vb->qts = qtest_init(args);
    vb->modern = mode != 0;
    qpci_bus_init(&vb->bus, vb->qts);
    /* The first virtio function: slot 2 unless addr= said otherwise. */
    for (unsigned slot = 2; slot < 32; slot++) {
        if (qpci_device_find(&vb->bus, PCI_DEVFN(slot, 0), &vb->dev) &&
            qpci_config_readw(&vb->dev, PCI_VENDOR_ID) == 0x1af4) {
            return;
        }
    }
    g_assert_not_reached();
}

static void vb_stop(VB *vb)
{
    qtest_quit(vb->qts);
    close(vb->img_fd);
    unlink(vb->img);
}

static uint8_t vb_status(VB *vb)
{
    return vb->modern ? qtest_readb(vb->qts, vb->bar + VB_COMMON + VIRTIO_PCI_COMMON_STATUS)
                      : qtest_inb(vb->qts, vb->bar + VIRTIO_PCI_STATUS);
}

static void vb_set_status(VB *vb, uint8_t status)
{
    if (vb->modern) {
        qtest_writeb(vb->qts, vb->bar + VB_COMMON + VIRTIO_PCI_COMMON_STATUS, status);
    } else {
        qtest_outb(vb->qts, vb->bar + VIRTIO_PCI_STATUS, status);
    }
}

static uint8_t vb_isr(VB *vb)
{
    return vb->modern ? qtest_readb(vb->qts, vb->bar + VB_ISR)
                      : qtest_inb(vb->qts, vb->bar + VIRTIO_PCI_ISR);
}

static uint64_t vb_host_features(VB *vb)
{
    uint64_t lo, hi;

    if (!vb->modern) {
        return qtest_inl(vb->qts, vb->bar + VIRTIO_PCI_HOST_FEATURES);
    }
    qtest_writel(vb->qts, vb->bar + VB_COMMON + VIRTIO_PCI_COMMON_DFSELECT, 0);
    lo = qtest_readl(vb->qts, vb->bar + VB_COMMON + VIRTIO_PCI_COMMON_DF);
    qtest_writel(vb->qts, vb->bar + VB_COMMON + VIRTIO_PCI_COMMON_DFSELECT, 1);
    hi = qtest_readl(vb->qts, vb->bar + VB_COMMON + VIRTIO_PCI_COMMON_DF);
    return hi << 32 | lo;
}

static void vb_set_features(VB *vb, uint64_t f)
{
    vb->features = f;
    if (!vb->modern) {
        qtest_outl(vb->qts, vb->bar + VIRTIO_PCI_GUEST_FEATURES, (uint32_t)f);
        return;
    }
    qtest_writel(vb->qts, vb->bar + VB_COMMON + VIRTIO_PCI_COMMON_GFSELECT, 0);
    qtest_writel(vb->qts, vb->bar + VB_COMMON + VIRTIO_PCI_COMMON_GF, (uint32_t)f);
    qtest_writel(vb->qts, vb->bar + VB_COMMON + VIRTIO_PCI_COMMON_GFSELECT, 1);
    qtest_writel(vb->qts, vb->bar + VB_COMMON + VIRTIO_PCI_COMMON_GF, f >> 32);
}

/* Map the BARs a driver uses; with msix, point vector 0 (config) and 1 (queue 0) at RAM. */
static void vb_map(VB *vb, bool msix)
{
    QPCIBar bar = qpci_iomap(&vb->dev, vb->modern ? 4 : 0);

    g_assert_true(bar.size != 0);
    vb->bar = bar.addr;
    qpci_device_enable(&vb->dev);
    if (!msix) {
        return;
    }
    vb->msix_table = qpci_msix_enable(&vb->dev);
    g_assert_true(vb->msix_table != 0);
    for (unsigned v = 0; v < 2; v++) {
        uint64_t e = vb->msix_table + 16 * v;
        qtest_writel(vb->qts, e + PCI_MSIX_ENTRY_LOWER_ADDR, v ? VB_MSI_VQ : VB_MSI_CFG);
        qtest_writel(vb->qts, e + PCI_MSIX_ENTRY_UPPER_ADDR, 0);
        qtest_writel(vb->qts, e + PCI_MSIX_ENTRY_DATA, v ? VB_MSI_DATA_VQ : VB_MSI_DATA_CFG);
        qtest_writel(vb->qts, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
    }
}

static void vb_setup_queue(VB *vb, bool msix)
{
    QTestState *qts = vb->qts;
    uint64_t c = vb->bar + VB_COMMON;

    qtest_memset(qts, VB_RING, 0, 0x3000);
    if (!vb->modern) {
        qtest_outw(qts, vb->bar + VIRTIO_PCI_QUEUE_SEL, vb->q);
        g_assert_cmpuint(qtest_inw(qts, vb->bar + VIRTIO_PCI_QUEUE_NUM), ==, VB_QSIZE);
        if (msix) {
            qtest_outw(qts, vb->bar + VIRTIO_MSI_CONFIG_VECTOR, 0);
            qtest_outw(qts, vb->bar + VIRTIO_MSI_QUEUE_VECTOR, 1);
            g_assert_cmpuint(qtest_inw(qts, vb->bar + VIRTIO_MSI_QUEUE_VECTOR), ==, 1);
        }
        qtest_outl(qts, vb->bar + VIRTIO_PCI_QUEUE_PFN, VB_RING >> 12);
        return;
    }
    qtest_writew(qts, c + VIRTIO_PCI_COMMON_Q_SELECT, vb->q);
    g_assert_cmpuint(qtest_readw(qts, c + VIRTIO_PCI_COMMON_Q_SIZE), ==, VB_QSIZE);
    qtest_writew(qts, c + VIRTIO_PCI_COMMON_Q_SIZE, VB_QSIZE);
    if (msix) {
        qtest_writew(qts, c + VIRTIO_PCI_COMMON_MSIX, 0);
        qtest_writew(qts, c + VIRTIO_PCI_COMMON_Q_MSIX, 1);
        g_assert_cmpuint(qtest_readw(qts, c + VIRTIO_PCI_COMMON_Q_MSIX), ==, 1);
    }
    qtest_writeq(qts, c + VIRTIO_PCI_COMMON_Q_DESCLO, VB_RING);
    qtest_writeq(qts, c + VIRTIO_PCI_COMMON_Q_AVAILLO, VB_AVAIL);
    qtest_writeq(qts, c + VIRTIO_PCI_COMMON_Q_USEDLO, VB_USED);
    qtest_writew(qts, c + VIRTIO_PCI_COMMON_Q_ENABLE, 1);
    g_assert_cmpuint(qtest_readw(qts, c + VIRTIO_PCI_COMMON_Q_ENABLE), ==, 1);
}

/* Reset and bring the device to DRIVER_OK with the given features (those offered). */
static void vb_init(VB *vb, uint64_t want, bool msix)
{
    uint8_t ok = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

    vb_set_status(vb, 0);
    g_assert_cmpuint(vb_status(vb), ==, 0);
    vb_set_status(vb, ok);
    vb_set_features(vb, vb_host_features(vb) & want);
    if (vb->modern) {
        ok |= VIRTIO_CONFIG_S_FEATURES_OK;
        vb_set_status(vb, ok);
        g_assert_cmpuint(vb_status(vb), ==, ok);
    }
    vb_setup_queue(vb, msix);
    vb_set_status(vb, ok | VIRTIO_CONFIG_S_DRIVER_OK);
    vb->avail_idx = vb->used_seen = vb->next_desc = 0;
    if (msix) {
        qtest_writel(vb->qts, VB_MSI_CFG, 0);
        qtest_writel(vb->qts, VB_MSI_VQ, 0);
    }
}

/* ---- requests ---- */

static void vb_write_desc(VB *vb, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
                          uint16_t flags, uint16_t next)
{
    uint8_t d[16];

    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
    qtest_memwrite(vb->qts, table + 16 * i, d, sizeof(d));
}

static void vb_kick(VB *vb)
{
    if (vb->modern) {
        qtest_writew(vb->qts, vb->bar + VB_NOTIFY + 4 * vb->q, vb->q);
    } else {
        qtest_outw(vb->qts, vb->bar + VIRTIO_PCI_QUEUE_NOTIFY, vb->q);
    }
}

/* Publish head in the avail ring and kick. */
static void vb_publish(VB *vb, uint16_t head)
{
    qtest_writew(vb->qts, VB_AVAIL + 4 + 2 * (vb->avail_idx % VB_QSIZE), head);
    vb->avail_idx++;
    qtest_writew(vb->qts, VB_AVAIL + 2, vb->avail_idx);
    vb_kick(vb);
}

/* A chain of n descriptors in the ring's table; returns its head. */
static uint16_t vb_chain(VB *vb, const VBDesc *d, unsigned n)
{
    uint16_t head = vb->next_desc;

    for (unsigned i = 0; i < n; i++) {
        uint16_t idx = (head + i) % VB_QSIZE, next = (head + i + 1) % VB_QSIZE;
        vb_write_desc(vb, VB_RING, idx, d[i].addr, d[i].len,
                      d[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0), next);
    }
    vb->next_desc = (head + n) % VB_QSIZE;
    return head;
}

/* Wait for the next used element; its id and length. */
static void vb_wait_used(VB *vb, uint32_t *id, uint32_t *len)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    uint64_t e;

    while (qtest_readw(vb->qts, VB_USED + 2) == vb->used_seen) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(200);
    }
    e = VB_USED + 4 + 8 * (vb->used_seen % VB_QSIZE);
    *id = qtest_readl(vb->qts, e);
    *len = qtest_readl(vb->qts, e + 4);
    vb->used_seen++;
}

static void vb_header(VB *vb, uint32_t type, uint64_t sector)
{
    uint8_t h[16] = {0};

    memcpy(h, &type, 4);
    memcpy(h + 8, &sector, 8);
    qtest_memwrite(vb->qts, VB_HDR, h, sizeof(h));
    qtest_writeb(vb->qts, VB_STATUS, 0xee);
}

/* header [+ data] + status as a three- (or two-) descriptor chain; returns the status. */
static uint8_t vb_request(VB *vb, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
                          bool data_in, uint32_t *used_len)
{
    VBDesc d[3] = {
        {VB_HDR, 16, 0},
        {data, len, data_in ? VRING_DESC_F_WRITE : 0},
        {VB_STATUS, 1, VRING_DESC_F_WRITE},
    };
    uint32_t id, ulen;
    uint16_t head;

    vb_header(vb, type, sector);
    if (len) {
        head = vb_chain(vb, d, 3);
    } else {
        d[1] = d[2];
        head = vb_chain(vb, d, 2);
    }
    vb_publish(vb, head);
    vb_wait_used(vb, &id, &ulen);
    g_assert_cmpuint(id, ==, head);
    if (used_len) {
        *used_len = ulen;
    }
    return qtest_readb(vb->qts, VB_STATUS);
}

static uint8_t vb_dwz(VB *vb, uint32_t type, uint64_t sector, uint32_t num, uint32_t flags)
{
    uint8_t seg[16];

    memcpy(seg, &sector, 8);
    memcpy(seg + 8, &num, 4);
    memcpy(seg + 12, &flags, 4);
    qtest_memwrite(vb->qts, VB_SEG, seg, sizeof(seg));
    return vb_request(vb, type, 0, VB_SEG, sizeof(seg), false, NULL);
}

/* MSI-X: wait until the vector's message lands (then clear it), or check it never did. */
static void vb_wait_msi(VB *vb, uint64_t addr, uint32_t data)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (qtest_readl(vb->qts, addr) != data) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(200);
    }
    qtest_writel(vb->qts, addr, 0);
}

static void vb_assert_no_msi(VB *vb, uint64_t addr)
{
    /* Completion interrupts follow the used ring within a main-loop turn or two. */
    for (int i = 0; i < 50; i++) {
        g_assert_cmphex(qtest_readl(vb->qts, addr), ==, 0);
        g_usleep(200);
    }
}

/* INTx: wait for the queue bit in the ISR (reading it clears it). */
static void vb_wait_isr(VB *vb)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    uint8_t isr;

    while ((isr = vb_isr(vb)) == 0) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(200);
    }
    g_assert_cmphex(isr, ==, 1);
}

static void vb_host_read(VB *vb, uint64_t off, void *buf, size_t len)
{
    g_assert_cmpint(pread(vb->img_fd, buf, len, off), ==, (ssize_t)len);
}

/* ---- tests ---- */

static void test_pci_identity(void)
{
    for (int modern = 0; modern <= 1; modern++) {
        VB vb;

        vb_start(&vb, modern, NULL);
        g_assert_cmphex(qpci_config_readw(&vb.dev, PCI_VENDOR_ID), ==, 0x1af4);
        g_assert_cmphex(qpci_config_readw(&vb.dev, PCI_DEVICE_ID), ==, modern ? 0x1042 : 0x1001);
        g_assert_cmphex(qpci_config_readb(&vb.dev, PCI_REVISION_ID), ==, modern ? 1 : 0);
        g_assert_cmphex(qpci_config_readw(&vb.dev, PCI_CLASS_DEVICE), ==, 0x0100);
        g_assert_cmphex(qpci_config_readw(&vb.dev, PCI_SUBSYSTEM_ID), ==, modern ? 0x1100 : 2);
        g_assert_cmphex(qpci_config_readb(&vb.dev, PCI_INTERRUPT_PIN), ==, 1);
        g_assert_cmphex(qpci_config_readb(&vb.dev, PCI_CAPABILITY_LIST), ==, modern ? 0x98 : 0x40);
        vb_stop(&vb);
    }
}

/* The transitional default: every BAR and capability where QEMU puts them. */
static void test_pci_transitional_layout(void)
{
    static const uint32_t caps[][5] = {
        /* offset, first dword, bar, offset, length */
        {0x84, 0x05147009, 0, 0, 0},           {0x70, 0x02146009, 4, 0x3000, 0x1000},
        {0x60, 0x04105009, 4, 0x2000, 0x1000}, {0x50, 0x03104009, 4, 0x1000, 0x1000},
        {0x40, 0x01100009, 4, 0x0000, 0x1000},
    };
    QPCIDevice dev;
    VB vb;

    vb_start(&vb, 2, NULL);
    dev = vb.dev;
    g_assert_cmphex(qpci_config_readl(&dev, 0), ==, 0x10011af4);
    g_assert_cmphex(qpci_config_readl(&dev, PCI_SUBSYSTEM_VENDOR_ID), ==, 0x00021af4);
    g_assert_cmphex(qpci_config_readl(&dev, 0x98), ==, 0x00018411); /* MSI-X, 2 vectors */
    g_assert_cmphex(qpci_config_readl(&dev, 0x9c), ==, 1);          /* table in BAR1 */
    g_assert_cmphex(qpci_config_readl(&dev, 0xa0), ==, 0x801);      /* PBA at 0x800 */
    for (unsigned i = 0; i < G_N_ELEMENTS(caps); i++) {
        g_assert_cmphex(qpci_config_readl(&dev, caps[i][0]), ==, caps[i][1]);
        g_assert_cmphex(qpci_config_readb(&dev, caps[i][0] + 4), ==, caps[i][2]);
        g_assert_cmphex(qpci_config_readl(&dev, caps[i][0] + 8), ==, caps[i][3]);
        g_assert_cmphex(qpci_config_readl(&dev, caps[i][0] + 12), ==, caps[i][4]);
    }
    g_assert_cmphex(qpci_config_readl(&dev, 0x80), ==, 4); /* notify multiplier */
    /* BAR sizes: I/O 128, MSI-X 4 KiB, modern 16 KiB 64-bit prefetchable. */
    qpci_config_writel(&dev, PCI_BASE_ADDRESS_0, 0xffffffff);
    g_assert_cmphex(qpci_config_readl(&dev, PCI_BASE_ADDRESS_0), ==, 0xffffff81);
    qpci_config_writel(&dev, PCI_BASE_ADDRESS_1, 0xffffffff);
    g_assert_cmphex(qpci_config_readl(&dev, PCI_BASE_ADDRESS_1), ==, 0xfffff000);
    g_assert_cmphex(qpci_config_readl(&dev, PCI_BASE_ADDRESS_4), ==, 0xc);
    qpci_config_writel(&dev, PCI_BASE_ADDRESS_4, 0xffffffff);
    g_assert_cmphex(qpci_config_readl(&dev, PCI_BASE_ADDRESS_4), ==, 0xffffc00c);
    /* The legacy block of a transitional device: no SCSI, ANY_LAYOUT offered. */
    vb.modern = false;
    vb_map(&vb, false);
    g_assert_cmphex(vb_host_features(&vb), ==, VB_FEATURES_TRANSITIONAL);
    vb_stop(&vb);
}

static void test_features_and_config(void)
{
    static const uint8_t expect[60] = {
        0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, /* capacity 0x20000 sectors */
        0x00, 0x00, 0x00, 0x00, 0xfe, 0x00, 0x00, 0x00, /* size_max 0, seg_max 254 */
        0x82, 0x00, 0x10, 0x3f, 0x00, 0x02, 0x00, 0x00, /* CHS 130/16/63, blk_size 512 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* topology */
        0x01, 0x00, 0x01, 0x00, 0xff, 0xff, 0x3f, 0x00, /* wce, num_queues, max_discard */
        0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, /* discard seg, alignment */
        0xff, 0xff, 0x3f, 0x00, 0x01, 0x00, 0x00, 0x00, /* write zeroes sectors, seg */
        0x01, 0xff, 0xff, 0xff,                         /* may_unmap; beyond the end */
    };

    for (int modern = 0; modern <= 1; modern++) {
        uint64_t cfg;
        VB vb;

        vb_start(&vb, modern, NULL);
        vb_map(&vb, false);
        if (modern) {
            g_assert_cmphex(vb_host_features(&vb), ==,
                            (uint64_t)VB_FEATURES_MODERN_HI << 32 | VB_FEATURES_MODERN_LO);
            cfg = vb.bar + VB_DEVICE;
        } else {
            g_assert_cmphex(vb_host_features(&vb), ==, VB_FEATURES_LEGACY);
            cfg = vb.bar + VIRTIO_PCI_CONFIG_OFF(false);
        }
        for (unsigned i = 0; i < sizeof(expect); i++) {
            uint8_t b = modern ? qtest_readb(vb.qts, cfg + i) : qtest_inb(vb.qts, cfg + i);
            g_assert_cmphex(b, ==, expect[i]);
        }
        /* Wider reads of the same fields. */
        if (modern) {
            g_assert_cmphex(qtest_readl(vb.qts, cfg + 16), ==, 0x3f100082);
            g_assert_cmphex(qtest_readl(vb.qts, cfg + 56), ==, 0xffffffff);
        } else {
            g_assert_cmphex(qtest_inl(vb.qts, cfg + 16), ==, 0x3f100082);
        }
        vb_stop(&vb);
    }
}

static void test_feature_negotiation(void)
{
    uint64_t c;
    VB vb;

    vb_start(&vb, true, NULL);
    vb_map(&vb, false);
    c = vb.bar + VB_COMMON;
    vb_set_status(&vb, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    /* The driver may write any bits; it reads back what it wrote. */
    vb_set_features(&vb, 0xffffffffffffffffULL);
    qtest_writel(vb.qts, c + VIRTIO_PCI_COMMON_GFSELECT, 0);
    g_assert_cmphex(qtest_readl(vb.qts, c + VIRTIO_PCI_COMMON_GF), ==, 0xffffffff);
    qtest_writel(vb.qts, c + VIRTIO_PCI_COMMON_GFSELECT, 2);
    g_assert_cmphex(qtest_readl(vb.qts, c + VIRTIO_PCI_COMMON_GF), ==, 0);
    qtest_writel(vb.qts, c + VIRTIO_PCI_COMMON_DFSELECT, 2);
    g_assert_cmphex(qtest_readl(vb.qts, c + VIRTIO_PCI_COMMON_DF), ==, 0);
    vb_set_features(&vb, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_BLK_F_FLUSH);
    vb_set_status(&vb, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                           VIRTIO_CONFIG_S_FEATURES_OK);
    g_assert_cmphex(vb_status(&vb), ==, 0xb);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_NUMQ), ==, 1);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_MSIX), ==, VIRTIO_MSI_NO_VECTOR);
    /* Vectors beyond the table read back as NO_VECTOR (no MSI-X table here is 2 long). */
    qtest_writew(vb.qts, c + VIRTIO_PCI_COMMON_MSIX, 7);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_MSIX), ==, VIRTIO_MSI_NO_VECTOR);
    qtest_writew(vb.qts, c + VIRTIO_PCI_COMMON_MSIX, 1);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_MSIX), ==, 1);
    /* A queue that does not exist has size 0 and cannot be given one. */
    qtest_writew(vb.qts, c + VIRTIO_PCI_COMMON_Q_SELECT, 1);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_Q_SIZE), ==, 0);
    qtest_writew(vb.qts, c + VIRTIO_PCI_COMMON_Q_SIZE, 64);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_Q_SIZE), ==, 0);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_Q_NOFF), ==, 1);
    vb_stop(&vb);
}

static void check_round_trips(bool modern, bool msix)
{
    uint8_t pattern[4096], back[4096], host[4096], id[20] = {0};
    uint32_t used_len;
    VB vb;

    vb_start(&vb, modern, NULL);
    vb_map(&vb, msix);
    vb_init(&vb, ~0ULL, msix);
    for (unsigned i = 0; i < sizeof(pattern); i++) {
        pattern[i] = i * 7 + 3;
    }
    /* write 8 sectors at sector 100 */
    qtest_bufwrite(vb.qts, VB_DATA, pattern, sizeof(pattern));
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_OUT, 100, VB_DATA, 4096, false, &used_len), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(used_len, ==, 1);
    if (msix) {
        vb_wait_msi(&vb, VB_MSI_VQ, VB_MSI_DATA_VQ);
    } else {
        vb_wait_isr(&vb);
        g_assert_cmphex(vb_isr(&vb), ==, 0); /* read-to-clear */
    }
    vb_host_read(&vb, 100 * 512, host, sizeof(host));
    g_assert_cmpmem(host, sizeof(host), pattern, sizeof(pattern));
    /* read it back elsewhere */
    qtest_memset(vb.qts, VB_DATA2, 0, sizeof(back));
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 100, VB_DATA2, 4096, true, &used_len), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(used_len, ==, 4097);
    qtest_bufread(vb.qts, VB_DATA2, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), pattern, sizeof(pattern));
    /* flush */
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), ==,
                     VIRTIO_BLK_S_OK);
    /* get-id: the serial with its NUL, in a 20-byte buffer */
    qtest_memset(vb.qts, VB_DATA2, 0xaa, 20);
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_GET_ID, 0, VB_DATA2, 20, true, &used_len), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(used_len, ==, 21);
    qtest_memread(vb.qts, VB_DATA2, id, sizeof(id));
    g_assert_cmpstr((char *)id, ==, VB_SERIAL);
    g_assert_cmphex(id[sizeof(VB_SERIAL)], ==, 0xaa);
    /* discard (discard=unmap): the sectors read back as zeroes, in the guest and the file */
    g_assert_cmpuint(vb_dwz(&vb, VIRTIO_BLK_T_DISCARD, 100, 8, 0), ==, VIRTIO_BLK_S_OK);
    vb_host_read(&vb, 100 * 512, host, sizeof(host));
    g_assert_true(host[0] == 0 && !memcmp(host, host + 1, sizeof(host) - 1));
    /* write-zeroes over a freshly written pattern */
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_OUT, 200, VB_DATA, 4096, false, NULL), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(vb_dwz(&vb, VIRTIO_BLK_T_WRITE_ZEROES, 201, 2, 1), ==, VIRTIO_BLK_S_OK);
    vb_host_read(&vb, 200 * 512, host, sizeof(host));
    g_assert_cmpmem(host, 512, pattern, 512);
    g_assert_true(host[512] == 0 && !memcmp(host + 512, host + 513, 1023));
    g_assert_cmpmem(host + 1536, 2560, pattern + 1536, 2560);
    qtest_memset(vb.qts, VB_DATA2, 0xff, 4096);
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 200, VB_DATA2, 4096, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    qtest_bufread(vb.qts, VB_DATA2, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), host, sizeof(host));
    vb_stop(&vb);
}

static void test_round_trips_modern_msix(void)
{
    check_round_trips(true, true);
}

static void test_round_trips_legacy_msix(void)
{
    check_round_trips(false, true);
}

static void test_round_trips_modern_intx(void)
{
    check_round_trips(true, false);
}

static void test_round_trips_legacy_intx(void)
{
    check_round_trips(false, false);
}

static void test_invalid_requests(void)
{
    VB vb;

    vb_start(&vb, true, NULL);
    vb_map(&vb, false);
    vb_init(&vb, ~0ULL, false);
    /* past the end, partly past the end, misaligned length */
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, VB_DISK_SIZE / 512, VB_DATA, 512, true, NULL),
                     ==, VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(
        vb_request(&vb, VIRTIO_BLK_T_OUT, VB_DISK_SIZE / 512 - 1, VB_DATA, 1024, false, NULL), ==,
        VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 100, true, NULL), ==,
                     VIRTIO_BLK_S_IOERR);
    /* unknown and SCSI requests */
    g_assert_cmpuint(vb_request(&vb, 0x1234, 0, 0, 0, false, NULL), ==, VIRTIO_BLK_S_UNSUPP);
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_SCSI_CMD, 0, 0, 0, false, NULL), ==,
                     VIRTIO_BLK_S_IOERR); /* too few buffers for a SCSI request */
    /* discard: unknown flags or the unmap flag, too many sectors, out of range */
    g_assert_cmpuint(vb_dwz(&vb, VIRTIO_BLK_T_DISCARD, 0, 8, 2), ==, VIRTIO_BLK_S_UNSUPP);
    g_assert_cmpuint(vb_dwz(&vb, VIRTIO_BLK_T_DISCARD, 0, 8, 1), ==, VIRTIO_BLK_S_UNSUPP);
    g_assert_cmpuint(vb_dwz(&vb, VIRTIO_BLK_T_DISCARD, 0, 0x400000, 0), ==, VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(vb_dwz(&vb, VIRTIO_BLK_T_WRITE_ZEROES, VB_DISK_SIZE / 512, 1, 0), ==,
                     VIRTIO_BLK_S_IOERR);
    /* the device still works */
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmphex(vb_status(&vb) & VIRTIO_CONFIG_S_NEEDS_RESET, ==, 0);
    vb_stop(&vb);
}

/* Without EVENT_IDX: NO_INTERRUPT suppresses the MSI; NO_NOTIFY is clear when idle. */
static void test_interrupts_flags(void)
{
    VB vb;

    vb_start(&vb, true, NULL);
    vb_map(&vb, true);
    vb_init(&vb, ~(1ULL << VIRTIO_RING_F_EVENT_IDX), true);
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    vb_wait_msi(&vb, VB_MSI_VQ, VB_MSI_DATA_VQ);
    g_assert_cmphex(qtest_readw(vb.qts, VB_USED) & VRING_USED_F_NO_NOTIFY, ==, 0);
    qtest_writew(vb.qts, VB_AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    vb_assert_no_msi(&vb, VB_MSI_VQ);
    /* the avail event is not ours to write without EVENT_IDX */
    g_assert_cmphex(qtest_readw(vb.qts, VB_USED + 4 + 8 * VB_QSIZE), ==, 0);
    vb_stop(&vb);
}

/* With EVENT_IDX: an interrupt only when used crosses used_event; avail_event follows. */
static void test_interrupts_event_idx(void)
{
    VB vb;

    vb_start(&vb, true, NULL);
    vb_map(&vb, true);
    vb_init(&vb, ~0ULL, true);
    g_assert_true(vb.features & (1ULL << VIRTIO_RING_F_EVENT_IDX));
    qtest_writew(vb.qts, VB_AVAIL + 4 + 2 * VB_QSIZE, 0); /* used_event: after entry 0 */
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    vb_wait_msi(&vb, VB_MSI_VQ, VB_MSI_DATA_VQ);
    g_assert_cmpuint(qtest_readw(vb.qts, VB_USED + 4 + 8 * VB_QSIZE), ==, 1);
    qtest_writew(vb.qts, VB_AVAIL + 4 + 2 * VB_QSIZE, 5); /* not before the 6th */
    for (int i = 0; i < 3; i++) {
        g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                         VIRTIO_BLK_S_OK);
    }
    vb_assert_no_msi(&vb, VB_MSI_VQ);
    g_assert_cmpuint(qtest_readw(vb.qts, VB_USED + 4 + 8 * VB_QSIZE), ==, 4);
    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                         VIRTIO_BLK_S_OK);
    }
    vb_wait_msi(&vb, VB_MSI_VQ, VB_MSI_DATA_VQ); /* used went 5 -> 6 */
    vb_stop(&vb);
}

/* Indirect descriptors: header, data and status in a table of their own. */
static void test_indirect(void)
{
    uint8_t pattern[1024], back[1024];
    uint32_t id, len;
    VB vb;

    vb_start(&vb, true, NULL);
    vb_map(&vb, false);
    vb_init(&vb, ~0ULL, false);
    for (unsigned i = 0; i < sizeof(pattern); i++) {
        pattern[i] = i ^ 0x5a;
    }
    qtest_bufwrite(vb.qts, VB_DATA, pattern, sizeof(pattern));
    vb_header(&vb, VIRTIO_BLK_T_OUT, 8);
    vb_write_desc(&vb, VB_INDIRECT, 0, VB_HDR, 16, VRING_DESC_F_NEXT, 1);
    vb_write_desc(&vb, VB_INDIRECT, 1, VB_DATA, 512, VRING_DESC_F_NEXT, 2);
    vb_write_desc(&vb, VB_INDIRECT, 2, VB_DATA + 512, 512, VRING_DESC_F_NEXT, 3);
    vb_write_desc(&vb, VB_INDIRECT, 3, VB_STATUS, 1, VRING_DESC_F_WRITE, 0);
    vb_write_desc(&vb, VB_RING, 7, VB_INDIRECT, 64, VRING_DESC_F_INDIRECT, 0);
    vb_publish(&vb, 7);
    vb_wait_used(&vb, &id, &len);
    g_assert_cmpuint(id, ==, 7);
    g_assert_cmpuint(qtest_readb(vb.qts, VB_STATUS), ==, VIRTIO_BLK_S_OK);
    vb.next_desc = 8;
    qtest_memset(vb.qts, VB_DATA2, 0, sizeof(back));
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 8, VB_DATA2, 1024, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    qtest_bufread(vb.qts, VB_DATA2, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), pattern, sizeof(pattern));
    vb_stop(&vb);
}

/* Masked vectors set their PBA bit; unmasking delivers the message and clears it. */
static void test_msix_mask_pba(void)
{
    uint64_t e1, pba;
    VB vb;

    vb_start(&vb, true, NULL);
    vb_map(&vb, true);
    vb_init(&vb, ~(1ULL << VIRTIO_RING_F_EVENT_IDX), true);
    e1 = vb.msix_table + 16;
    pba = vb.msix_table + 0x800;
    /* The table reads back as written, in dwords and as a quadword. */
    g_assert_cmphex(qtest_readl(vb.qts, e1 + PCI_MSIX_ENTRY_DATA), ==, VB_MSI_DATA_VQ);
    g_assert_cmphex(qtest_readq(vb.qts, e1), ==, VB_MSI_VQ);
    g_assert_cmphex(qtest_readl(vb.qts, vb.msix_table + 32 + 12), ==, 0); /* only 2 vectors */
    qtest_writel(vb.qts, e1 + PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT);
    g_assert_cmphex(qtest_readl(vb.qts, pba), ==, 0);
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    vb_assert_no_msi(&vb, VB_MSI_VQ);
    g_assert_cmphex(qtest_readl(vb.qts, pba), ==, 2);
    qtest_writel(vb.qts, pba, 0); /* read-only */
    g_assert_cmphex(qtest_readl(vb.qts, pba), ==, 2);
    qtest_writel(vb.qts, e1 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
    g_assert_cmphex(qtest_readl(vb.qts, VB_MSI_VQ), ==, VB_MSI_DATA_VQ);
    g_assert_cmphex(qtest_readl(vb.qts, pba), ==, 0);
    /* The function mask works the same way. */
    qtest_writel(vb.qts, VB_MSI_VQ, 0);
    qpci_config_writew(&vb.dev, 0x98 + PCI_MSIX_FLAGS,
                       PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    vb_assert_no_msi(&vb, VB_MSI_VQ);
    g_assert_cmphex(qtest_readl(vb.qts, pba), ==, 2);
    qpci_config_writew(&vb.dev, 0x98 + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
    g_assert_cmphex(qtest_readl(vb.qts, VB_MSI_VQ), ==, VB_MSI_DATA_VQ);
    g_assert_cmphex(qtest_readl(vb.qts, pba), ==, 0);
    vb_stop(&vb);
}

static void test_reset(void)
{
    uint64_t c;
    VB vb;

    vb_start(&vb, true, NULL);
    vb_map(&vb, true);
    vb_init(&vb, ~0ULL, true);
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    c = vb.bar + VB_COMMON;
    vb_set_status(&vb, 0);
    g_assert_cmphex(vb_status(&vb), ==, 0);
    qtest_writel(vb.qts, c + VIRTIO_PCI_COMMON_GFSELECT, 0);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_MSIX), ==, VIRTIO_MSI_NO_VECTOR);
    qtest_writew(vb.qts, c + VIRTIO_PCI_COMMON_Q_SELECT, 0);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_Q_ENABLE), ==, 0);
    g_assert_cmphex(qtest_readl(vb.qts, c + VIRTIO_PCI_COMMON_Q_DESCLO), ==, 0);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_Q_MSIX), ==, VIRTIO_MSI_NO_VECTOR);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_Q_SIZE), ==, VB_QSIZE);
    g_assert_cmphex(vb_isr(&vb), ==, 0);
    /* The MSI-X table is PCI state: a virtio reset leaves it. */
    g_assert_cmphex(qtest_readl(vb.qts, vb.msix_table + 16 + PCI_MSIX_ENTRY_DATA), ==,
                    VB_MSI_DATA_VQ);
    vb_init(&vb, ~0ULL, true);
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    vb_stop(&vb);
}

/* A malformed ring breaks the device (NEEDS_RESET); a reset makes it work again. */
static void check_broken(void (*corrupt)(VB *vb))
{
    VB vb;

    vb_start(&vb, true, NULL);
    vb_map(&vb, true);
    vb_init(&vb, ~0ULL, true);
    corrupt(&vb);
    for (int i = 0; i < 50 && !(vb_status(&vb) & VIRTIO_CONFIG_S_NEEDS_RESET); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(vb_status(&vb) & VIRTIO_CONFIG_S_NEEDS_RESET, ==, VIRTIO_CONFIG_S_NEEDS_RESET);
    g_assert_cmpuint(qtest_readw(vb.qts, VB_USED + 2), ==, 0);
    vb_wait_msi(&vb, VB_MSI_CFG, VB_MSI_DATA_CFG); /* a config interrupt tells the driver */
    vb_init(&vb, ~0ULL, true);
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    vb_stop(&vb);
}

static void corrupt_loop(VB *vb)
{
    vb_header(vb, VIRTIO_BLK_T_IN, 0);
    vb_write_desc(vb, VB_RING, 0, VB_HDR, 16, VRING_DESC_F_NEXT, 1);
    vb_write_desc(vb, VB_RING, 1, VB_DATA, 512, VRING_DESC_F_NEXT, 0);
    vb_publish(vb, 0);
}

static void corrupt_avail_jump(VB *vb)
{
    qtest_writew(vb->qts, VB_AVAIL + 2, VB_QSIZE + 1);
    vb_kick(vb);
}

static void corrupt_head(VB *vb)
{
    vb_publish(vb, VB_QSIZE + 3);
}

static void corrupt_next(VB *vb)
{
    vb_write_desc(vb, VB_RING, 0, VB_HDR, 16, VRING_DESC_F_NEXT, VB_QSIZE);
    vb_publish(vb, 0);
}

static void corrupt_outside_ram(VB *vb)
{
    VBDesc d[3] = {
        {VB_HDR, 16, 0},
        {0x7ffff000ULL, 4096, VRING_DESC_F_WRITE}, /* beyond 128 MiB of RAM */
        {VB_STATUS, 1, VRING_DESC_F_WRITE},
    };

    vb_header(vb, VIRTIO_BLK_T_IN, 0);
    vb_publish(vb, vb_chain(vb, d, 3));
}

static void corrupt_zero_len(VB *vb)
{
    VBDesc d[3] = {
        {VB_HDR, 16, 0},
        {VB_DATA, 0, VRING_DESC_F_WRITE},
        {VB_STATUS, 1, VRING_DESC_F_WRITE},
    };

    vb_header(vb, VIRTIO_BLK_T_IN, 0);
    vb_publish(vb, vb_chain(vb, d, 3));
}

static void corrupt_order(VB *vb)
{
    VBDesc d[3] = {
        {VB_STATUS, 1, VRING_DESC_F_WRITE},
        {VB_HDR, 16, 0},
        {VB_DATA, 512, 0},
    };

    vb_publish(vb, vb_chain(vb, d, 3));
}

static void corrupt_no_header(VB *vb)
{
    VBDesc d[2] = {
        {VB_HDR, 8, 0},
        {VB_STATUS, 1, VRING_DESC_F_WRITE},
    };

    vb_publish(vb, vb_chain(vb, d, 2));
}

static void corrupt_indirect_size(VB *vb)
{
    vb_write_desc(vb, VB_RING, 0, VB_INDIRECT, 24, VRING_DESC_F_INDIRECT, 0);
    vb_publish(vb, 0);
}

/* minivmm only: QEMU takes a nested indirect descriptor for a plain buffer. */
static void corrupt_indirect_nested(VB *vb)
{
    vb_write_desc(vb, VB_INDIRECT, 0, VB_HDR, 16, VRING_DESC_F_NEXT, 1);
    vb_write_desc(vb, VB_INDIRECT, 1, VB_INDIRECT, 48, VRING_DESC_F_INDIRECT, 0);
    vb_write_desc(vb, VB_RING, 0, VB_INDIRECT, 32, VRING_DESC_F_INDIRECT, 0);
    vb_publish(vb, 0);
}

static void corrupt_indirect_loop(VB *vb)
{
    vb_write_desc(vb, VB_INDIRECT, 0, VB_HDR, 16, VRING_DESC_F_NEXT, 1);
    vb_write_desc(vb, VB_INDIRECT, 1, VB_DATA, 16, VRING_DESC_F_NEXT, 0);
    vb_write_desc(vb, VB_RING, 0, VB_INDIRECT, 32, VRING_DESC_F_INDIRECT, 0);
    vb_publish(vb, 0);
}

static void test_broken_loop(void)
{
    check_broken(corrupt_loop);
}

static void test_broken_avail_jump(void)
{
    check_broken(corrupt_avail_jump);
}

static void test_broken_head(void)
{
    check_broken(corrupt_head);
}

static void test_broken_next(void)
{
    check_broken(corrupt_next);
}

static void test_broken_outside_ram(void)
{
    if (qtest_is_qemu()) {
        g_test_skip("QEMU bounces DMA to unassigned memory and completes the request");
        return;
    }
    check_broken(corrupt_outside_ram);
}

static void test_broken_zero_len(void)
{
    check_broken(corrupt_zero_len);
}

static void test_broken_order(void)
{
    check_broken(corrupt_order);
}

static void test_broken_no_header(void)
{
    check_broken(corrupt_no_header);
}

static void test_broken_indirect_size(void)
{
    check_broken(corrupt_indirect_size);
}

static void test_broken_indirect_loop(void)
{
    check_broken(corrupt_indirect_loop);
}

static void test_broken_indirect_nested(void)
{
    if (qtest_is_qemu()) {
        g_test_skip("QEMU maps a nested indirect descriptor as a buffer");
        return;
    }
    check_broken(corrupt_indirect_nested);
}

static void test_read_only(void)
{
    g_autofree char *args = NULL;
    VB vb;

    memset(&vb, 0, sizeof(vb));
    strcpy(vb.img, "/tmp/test-virtio-blk-XXXXXX");
    vb.img_fd = mkstemp(vb.img);
    g_assert_cmpint(ftruncate(vb.img_fd, VB_DISK_SIZE), ==, 0);
    args = g_strdup_printf("-m 128 -drive if=virtio,file=%s,format=raw,readonly=on", vb.img);
    vb.qts = qtest_init(args);
    vb.modern = true; /* transitional: driven through the modern BAR */
    qpci_bus_init(&vb.bus, vb.qts);
    g_assert_true(qpci_device_find(&vb.bus, VB_DEVFN, &vb.dev));
    vb_map(&vb, false);
    g_assert_true(vb_host_features(&vb) & (1ULL << VIRTIO_BLK_F_RO));
    vb_init(&vb, ~0ULL, false);
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_OUT, 0, VB_DATA, 512, false, NULL), ==,
                     VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    vb_stop(&vb);
}

static void test_num_queues(void)
{
    uint64_t c;
    VB vb;

    vb_start(&vb, true, ",num-queues=4,queue-size=128");
    vb_map(&vb, false);
    c = vb.bar + VB_COMMON;
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_NUMQ), ==, 4);
    g_assert_true(vb_host_features(&vb) & (1ULL << VIRTIO_BLK_F_MQ));
    qtest_writew(vb.qts, c + VIRTIO_PCI_COMMON_Q_SELECT, 3);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_Q_SIZE), ==, 128);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_Q_NOFF), ==, 3);
    g_assert_cmphex(qtest_readw(vb.qts, vb.bar + VB_DEVICE + 34), ==, 4);   /* num_queues */
    g_assert_cmphex(qtest_readl(vb.qts, vb.bar + VB_DEVICE + 12), ==, 126); /* seg_max */
    /* MSI-X: num-queues + 1 vectors */
    g_assert_cmphex(qpci_config_readw(&vb.dev, 0x98 + PCI_MSIX_FLAGS), ==, 4);
    vb_stop(&vb);
}

/* A request through queue 2 of 3, on its own vector; queue 0 stays untouched. */
static void test_multiqueue_request(void)
{
    uint8_t pattern[512], back[512];
    VB vb;

    vb_start(&vb, 1, ",num-queues=3");
    vb.q = 2;
    vb_map(&vb, true);
    vb_init(&vb, ~0ULL, true);
    g_assert_true(vb.features & (1ULL << VIRTIO_BLK_F_MQ));
    memset(pattern, 0x3c, sizeof(pattern));
    qtest_bufwrite(vb.qts, VB_DATA, pattern, sizeof(pattern));
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_OUT, 5, VB_DATA, 512, false, NULL), ==,
                     VIRTIO_BLK_S_OK);
    vb_wait_msi(&vb, VB_MSI_VQ, VB_MSI_DATA_VQ);
    qtest_memset(vb.qts, VB_DATA2, 0, sizeof(back));
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 5, VB_DATA2, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    qtest_bufread(vb.qts, VB_DATA2, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), pattern, sizeof(pattern));
    /* queue 0 was never set up: its size is the default, its rings unset */
    qtest_writew(vb.qts, vb.bar + VB_COMMON + VIRTIO_PCI_COMMON_Q_SELECT, 0);
    g_assert_cmphex(qtest_readl(vb.qts, vb.bar + VB_COMMON + VIRTIO_PCI_COMMON_Q_DESCLO), ==, 0);
    vb_stop(&vb);
}

/* config-wce=off drops CONFIG_WCE; addr= puts the function where asked. */
static void test_properties(void)
{
    QPCIDevice dev;
    VB vb;

    vb_start(&vb, 1, ",config-wce=off,addr=5.0");
    g_assert_false(qpci_device_find(&vb.bus, VB_DEVFN, &dev));
    g_assert_cmphex(vb.dev.devfn, ==, PCI_DEVFN(5, 0));
    vb_map(&vb, false);
    g_assert_cmphex(vb_host_features(&vb), ==,
                    ((uint64_t)VB_FEATURES_MODERN_HI << 32 | VB_FEATURES_MODERN_LO) &
                        ~(1ULL << VIRTIO_BLK_F_CONFIG_WCE));
    vb_stop(&vb);
}

/* INTx: PIRQB (slot 2, INTA) routed to IRQ 11 goes up with the ISR and down when it is read. */
static void test_intx_line(void)
{
    QPCIDevice piix3;
    VB vb;

    vb_start(&vb, 1, NULL);
    g_assert_true(qpci_device_find(&vb.bus, PCI_DEVFN(1, 0), &piix3));
    qpci_config_writeb(&piix3, 0x61, 11); /* PIRQRC[B] */
    qtest_irq_intercept_in(vb.qts, "ioapic");
    vb_map(&vb, false);
    vb_init(&vb, ~0ULL, false);
    g_assert_false(qtest_get_irq(vb.qts, 11));
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    for (int i = 0; i < 5000 && !qtest_get_irq(vb.qts, 11); i++) {
        qtest_readw(vb.qts, VB_USED + 2);
    }
    g_assert_true(qtest_get_irq(vb.qts, 11));
    g_assert_cmphex(qpci_config_readw(&vb.dev, PCI_STATUS) & PCI_STATUS_INTERRUPT, ==,
                    PCI_STATUS_INTERRUPT);
    g_assert_cmphex(vb_isr(&vb), ==, 1);
    g_assert_false(qtest_get_irq(vb.qts, 11));
    vb_stop(&vb);
}

/* The VIRTIO_PCI_CAP_PCI_CFG window reaches the modern BAR through configuration space. */
static void test_pci_cfg_window(void)
{
    const uint8_t cap = 0x84, data = cap + 16;
    VB vb;

    vb_start(&vb, 1, NULL);
    vb_map(&vb, false);
    vb_set_status(&vb, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    qpci_config_writeb(&vb.dev, cap + 4, 4); /* bar */
    qpci_config_writel(&vb.dev, cap + 8, VB_COMMON + VIRTIO_PCI_COMMON_STATUS);
    qpci_config_writel(&vb.dev, cap + 12, 1);
    g_assert_cmphex(qpci_config_readb(&vb.dev, data), ==, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    qpci_config_writeb(&vb.dev, data, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    g_assert_cmphex(vb_status(&vb), ==, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    /* A 4-byte window on the device configuration: capacity, low half */
    qpci_config_writel(&vb.dev, cap + 8, VB_DEVICE);
    qpci_config_writel(&vb.dev, cap + 12, 4);
    g_assert_cmphex(qpci_config_readl(&vb.dev, data), ==, VB_DISK_SIZE / 512);
    /* The window's fields read back as written; a bad length does nothing. */
    g_assert_cmphex(qpci_config_readl(&vb.dev, cap + 8), ==, VB_DEVICE);
    qpci_config_writel(&vb.dev, cap + 8, VB_COMMON + VIRTIO_PCI_COMMON_STATUS);
    qpci_config_writel(&vb.dev, cap + 12, 3);
    qpci_config_writeb(&vb.dev, data, 0);
    g_assert_cmphex(vb_status(&vb), ==, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    vb_stop(&vb);
}

/* RING_RESET: a queue reset alone, then the same queue enabled again serves requests. */
static void test_queue_reset(void)
{
    uint64_t c;
    VB vb;

    vb_start(&vb, 1, NULL);
    vb_map(&vb, false);
    vb_init(&vb, ~0ULL, false);
    g_assert_true(vb.features & (1ULL << VIRTIO_F_RING_RESET));
    c = vb.bar + VB_COMMON;
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    qtest_writew(vb.qts, c + VIRTIO_PCI_COMMON_Q_SELECT, 0);
    qtest_writew(vb.qts, c + VIRTIO_PCI_COMMON_Q_RESET, 1);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_Q_RESET), ==, 0);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_Q_ENABLE), ==, 0);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_Q_SIZE), ==, VB_QSIZE);
    g_assert_cmphex(qtest_readw(vb.qts, c + VIRTIO_PCI_COMMON_Q_MSIX), ==, VIRTIO_MSI_NO_VECTOR);
    /* The device is still DRIVER_OK; a kick on the disabled queue does nothing. */
    g_assert_cmphex(vb_status(&vb) & VIRTIO_CONFIG_S_DRIVER_OK, ==, VIRTIO_CONFIG_S_DRIVER_OK);
    vb_setup_queue(&vb, false);
    vb.avail_idx = vb.used_seen = vb.next_desc = 0;
    g_assert_cmpuint(vb_request(&vb, VIRTIO_BLK_T_IN, 0, VB_DATA, 512, true, NULL), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(qtest_readw(vb.qts, VB_USED + 2), ==, 1);
    vb_stop(&vb);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-blk/pci/identity", test_pci_identity);
    g_test_add_func("/virtio-blk/pci/transitional-layout", test_pci_transitional_layout);
    g_test_add_func("/virtio-blk/features-and-config", test_features_and_config);
    g_test_add_func("/virtio-blk/feature-negotiation", test_feature_negotiation);
    g_test_add_func("/virtio-blk/round-trips/modern-msix", test_round_trips_modern_msix);
    g_test_add_func("/virtio-blk/round-trips/legacy-msix", test_round_trips_legacy_msix);
    g_test_add_func("/virtio-blk/round-trips/modern-intx", test_round_trips_modern_intx);
    g_test_add_func("/virtio-blk/round-trips/legacy-intx", test_round_trips_legacy_intx);
    g_test_add_func("/virtio-blk/invalid-requests", test_invalid_requests);
    g_test_add_func("/virtio-blk/read-only", test_read_only);
    g_test_add_func("/virtio-blk/num-queues", test_num_queues);
    g_test_add_func("/virtio-blk/multiqueue-request", test_multiqueue_request);
    g_test_add_func("/virtio-blk/properties", test_properties);
    g_test_add_func("/virtio-blk/intx-line", test_intx_line);
    g_test_add_func("/virtio-blk/pci-cfg-window", test_pci_cfg_window);
    g_test_add_func("/virtio-blk/indirect", test_indirect);
    g_test_add_func("/virtio-blk/interrupts/flags", test_interrupts_flags);
    g_test_add_func("/virtio-blk/interrupts/event-idx", test_interrupts_event_idx);
    g_test_add_func("/virtio-blk/msix/mask-pba", test_msix_mask_pba);
    g_test_add_func("/virtio-blk/reset", test_reset);
    g_test_add_func("/virtio-blk/queue-reset", test_queue_reset);
    g_test_add_func("/virtio-blk/broken/loop", test_broken_loop);
    g_test_add_func("/virtio-blk/broken/avail-jump", test_broken_avail_jump);
    g_test_add_func("/virtio-blk/broken/head", test_broken_head);
    g_test_add_func("/virtio-blk/broken/next", test_broken_next);
    g_test_add_func("/virtio-blk/broken/outside-ram", test_broken_outside_ram);
    g_test_add_func("/virtio-blk/broken/zero-len", test_broken_zero_len);
    g_test_add_func("/virtio-blk/broken/order", test_broken_order);
    g_test_add_func("/virtio-blk/broken/no-header", test_broken_no_header);
    g_test_add_func("/virtio-blk/broken/indirect-size", test_broken_indirect_size);
    g_test_add_func("/virtio-blk/broken/indirect-loop", test_broken_indirect_loop);
    g_test_add_func("/virtio-blk/broken/indirect-nested", test_broken_indirect_nested);
    return g_test_run();
}
