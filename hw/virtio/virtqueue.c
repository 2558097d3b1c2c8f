/*
 * Split virtqueues (virtio 1.0 section 2.6): descriptor table, available ring and used ring
 * in guest RAM. Everything the guest wrote is hostile: the avail index may jump, heads and
 * next fields may point anywhere, chains may loop, indirect tables may nest or be empty,
 * buffers may lie outside RAM or in ROM. Each descriptor is read once into a local copy,
 * every index is checked against the table it indexes, a chain is bounded by its table's
 * size, and any violation marks the device broken (virtio_error) instead of guessing.
 * EVENT_IDX and the NO_NOTIFY/NO_INTERRUPT flags decide kicks and interrupts.
 * Not the request semantics (the device's), not the transport.
 */
#include <endian.h>
#include <string.h>
#include <glib.h>
#include "hw/memory.h"
#include "hw/virtio.h"

#define VRING_DESC_SIZE 16
#define VRING_AVAIL_RING 4 /* offset of ring[] in the avail ring */
#define VRING_USED_RING 4
#define VRING_USED_ELEM_SIZE 8
#define VIRTIO_LEGACY_ALIGN 4096

typedef struct VRingDescHost {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} VRingDescHost;

/* ---- ring geometry and mapping ---- */

static uint64_t vring_desc_size(unsigned num)
{
    return (uint64_t)num * VRING_DESC_SIZE;
}

static uint64_t vring_avail_size(unsigned num)
{
    return VRING_AVAIL_RING + 2ULL * num + 2; /* flags, idx, ring[num], used_event */
}

static uint64_t vring_used_size(unsigned num)
{
    return VRING_USED_RING + (uint64_t)VRING_USED_ELEM_SIZE * num + 2; /* ..., avail_event */
}

/* Rings must be naturally aligned (the spec requires it of drivers; we need it for the
 * atomic index accesses) and wholly in RAM the device may write where it writes. */
static void virtio_queue_map(VirtQueue *vq)
{
    unsigned n = vq->num;

    vq->desc_host = vq->avail_host = vq->used_host = NULL;
    if (!n || !vq->desc) {
        return;
    }
    if (vq->desc % 16 == 0) {
        vq->desc_host = guest_ram_ptr(vq->desc, vring_desc_size(n));
    }
    if (vq->avail % 2 == 0) {
        vq->avail_host = guest_ram_ptr_rw(vq->avail, vring_avail_size(n));
    }
    if (vq->used % 4 == 0) {
        vq->used_host = guest_ram_ptr_rw(vq->used, vring_used_size(n));
    }
}

bool virtio_queue_ready(VirtQueue *vq)
{
    return vq->desc_host && vq->avail_host && vq->used_host;
}

unsigned virtio_queue_index(VirtQueue *vq)
{
    return vq->index;
}

VirtIODevice *virtio_queue_vdev(VirtQueue *vq)
{
    return vq->vdev;
}

unsigned virtio_queue_get_num(VirtQueue *vq)
{
    return vq->num;
}

void virtio_queue_set_num(VirtQueue *vq, unsigned num)
{
    /* As QEMU: a queue cannot be made to (dis)appear, nor exceed the hard maximum. */
    if (!!num != !!vq->num || num > VIRTQUEUE_MAX_SIZE) {
        return;
    }
    vq->num = num;
    virtio_queue_map(vq);
}

void virtio_queue_set_rings(VirtQueue *vq, uint64_t desc, uint64_t avail, uint64_t used)
{
    vq->desc = desc;
    vq->avail = avail;
    vq->used = used;
    virtio_queue_map(vq);
}

void virtio_queue_set_addr(VirtQueue *vq, uint64_t pa)
{
    uint64_t avail = pa + vring_desc_size(vq->num);
    uint64_t used = avail + VRING_AVAIL_RING + 2ULL * vq->num;

    used = (used + VIRTIO_LEGACY_ALIGN - 1) & ~(uint64_t)(VIRTIO_LEGACY_ALIGN - 1);
    virtio_queue_set_rings(vq, pa, avail, used);
}

uint64_t virtio_queue_get_desc(VirtQueue *vq)
{
    return vq->desc;
}

uint16_t virtio_queue_get_vector(VirtQueue *vq)
{
    return vq->vector;
}

void virtio_queue_set_vector(VirtQueue *vq, uint16_t vector)
{
    vq->vector = vector;
}

void virtio_queue_reset(VirtQueue *vq)
{
    vq->num = vq->num_default;
    vq->desc = vq->avail = vq->used = 0;
    vq->desc_host = vq->avail_host = vq->used_host = NULL;
    vq->last_avail_idx = vq->used_idx = vq->signalled_used = 0;
    vq->signalled_used_valid = false;
    vq->vector = VIRTIO_NO_VECTOR;
    vq->inuse = 0;
    vq->generation++;
}

/* ---- ring fields (little-endian; the host is x86) ---- */

static uint16_t *vring_u16(uint8_t *p)
{
    return (uint16_t *)(void *)p;
}

static uint16_t vring_avail_flags(VirtQueue *vq)
{
    return le16toh(__atomic_load_n(vring_u16(vq->avail_host), __ATOMIC_ACQUIRE));
}

static uint16_t vring_avail_idx(VirtQueue *vq)
{
    return le16toh(__atomic_load_n(vring_u16(vq->avail_host + 2), __ATOMIC_ACQUIRE));
}

static uint16_t vring_avail_ring(VirtQueue *vq, unsigned i)
{
    return le16toh(
        __atomic_load_n(vring_u16(vq->avail_host + VRING_AVAIL_RING + 2 * i), __ATOMIC_RELAXED));
}

static uint16_t vq_used_event(VirtQueue *vq)
{
    return vring_avail_ring(vq, vq->num);
}

static void vq_set_avail_event(VirtQueue *vq, uint16_t val)
{
    uint8_t *p = vq->used_host + VRING_USED_RING + (size_t)VRING_USED_ELEM_SIZE * vq->num;

    __atomic_store_n(vring_u16(p), htole16(val), __ATOMIC_RELEASE);
}

static void vring_used_flags_set(VirtQueue *vq, uint16_t mask, bool on)
{
    uint16_t *p = vring_u16(vq->used_host);
    uint16_t flags = le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));

    flags = on ? flags | mask : flags & ~mask;
    __atomic_store_n(p, htole16(flags), __ATOMIC_RELEASE);
}

static VRingDescHost vring_desc_read(const uint8_t *table, unsigned i)
{
    uint8_t raw[VRING_DESC_SIZE];
    VRingDescHost d;

    /* One copy: the guest may rewrite the descriptor while we look at it. */
    memcpy(raw, table + (size_t)i * VRING_DESC_SIZE, sizeof(raw));
    memcpy(&d.addr, raw, 8);
    memcpy(&d.len, raw + 8, 4);
    memcpy(&d.flags, raw + 12, 2);
    memcpy(&d.next, raw + 14, 2);
    d.addr = le64toh(d.addr);
    d.len = le32toh(d.len);
    d.flags = le16toh(d.flags);
    d.next = le16toh(d.next);
    return d;
}

/* ---- state checks ---- */

/* Rings set but not mappable, or a queue that should not be touched: report, false. */
static bool virtio_queue_check(VirtQueue *vq)
{
    if (vq->vdev->broken || !vq->num || !vq->desc) {
        return false;
    }
    if (!vq->desc_host) {
        virtio_error(vq->vdev, "Cannot map desc");
    } else if (!vq->avail_host) {
        virtio_error(vq->vdev, "Cannot map avail");
    } else if (!vq->used_host) {
        virtio_error(vq->vdev, "Cannot map used");
    }
    return virtio_queue_ready(vq);
}

bool virtio_queue_empty(VirtQueue *vq)
{
    if (!virtio_queue_ready(vq) || vq->vdev->broken) {
        return true;
    }
    return vring_avail_idx(vq) == vq->last_avail_idx;
}

/*
 * With EVENT_IDX the guest kicks when its avail index passes avail_event: put there, the
 * current index asks for a kick at the next request; one behind it asks for none until the
 * index wraps (how a polling device stops kicks). Without, the NO_NOTIFY flag.
 */
static void vring_set_notification(VirtQueue *vq, bool enable)
{
    if (!virtio_queue_ready(vq) || vq->vdev->broken) {
        return;
    }
    if (virtio_vdev_has_feature(vq->vdev, VIRTIO_RING_F_EVENT_IDX)) {
        if (enable || vq->polling) {
            vq_set_avail_event(vq, vring_avail_idx(vq) - !enable);
        }
    } else {
        vring_used_flags_set(vq, VRING_USED_F_NO_NOTIFY, !enable);
    }
    if (enable) {
        /* The flag must be visible before we look at the avail ring again. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
}

void virtio_queue_set_notification(VirtQueue *vq, bool enable)
{
    if (!vq->polling) {
        vring_set_notification(vq, enable);
    }
}

void virtio_queue_notify(VirtIODevice *vdev, unsigned n)
{
    VirtQueue *vq = n < vdev->num_queues ? &vdev->vq[n] : NULL;

    if (vq && vq->handler && virtio_queue_check(vq)) {
        vq->handler(vdev, vq);
    }
}

void virtio_queue_kick(VirtQueue *vq)
{
    if (!vq->vdev->stopped) {
        virtio_queue_notify(vq->vdev, vq->index);
    }
}

/* ---- polling (util/aio-poll.h) ---- */

static bool virtqueue_poll_ready(void *opaque)
{
    VirtQueue *vq = opaque;

    /* Served when a doorbell would be: the driver is ready, the machine runs. While it is
     * stopped, nothing is ready, so the loop stops polling and asks for kicks again. */
    return vq->handler && (vq->vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !vq->vdev->stopped &&
           !virtio_queue_empty(vq);
}

static void virtqueue_poll_run(void *opaque)
{
    virtio_queue_kick(opaque);
}

static void virtqueue_poll_set(void *opaque, bool polling)
{
    VirtQueue *vq = opaque;

    vq->polling = polling;
    vring_set_notification(vq, !polling);
}

static const AioPollOps virtqueue_poll_ops = {
    .ready = virtqueue_poll_ready,
    .run = virtqueue_poll_run,
    .set_polling = virtqueue_poll_set,
};

void virtio_queue_poll_attach(VirtQueue *vq, GMainContext *ctx)
{
    virtio_queue_poll_detach(vq);
    vq->poll = aio_poll_add(ctx, &virtqueue_poll_ops, vq);
}

void virtio_queue_poll_detach(VirtQueue *vq)
{
    aio_poll_remove(vq->poll);
    vq->poll = NULL;
    vq->polling = false;
}

/* ---- popping a request ---- */

typedef struct ChainWalk {
    const uint8_t *table; /* the descriptor table being walked */
    unsigned table_len;
    bool indirect;
    unsigned count; /* descriptors taken from this table */
} ChainWalk;

/* An indirect head: switch the walk to its table. False (device broken) if malformed. */
static bool vring_enter_indirect(VirtQueue *vq, ChainWalk *w, VRingDescHost *d)
{
    if (w->indirect) {
        virtio_error(vq->vdev, "Indirect descriptor in indirect table");
        return false;
    }
    if (d->flags & VRING_DESC_F_NEXT) {
        virtio_error(vq->vdev, "Indirect descriptor with the next flag set");
        return false;
    }
    if (d->len == 0 || d->len % VRING_DESC_SIZE || d->len / VRING_DESC_SIZE > VIRTQUEUE_MAX_SIZE) {
        virtio_error(vq->vdev, "Invalid size for indirect buffer table");
        return false;
    }
    w->table = guest_ram_ptr(d->addr, d->len);
    if (!w->table) {
        virtio_error(vq->vdev, "Cannot map indirect buffer");
        return false;
    }
    w->table_len = d->len / VRING_DESC_SIZE;
    w->indirect = true;
    w->count = 0;
    *d = vring_desc_read(w->table, 0);
    return true;
}

/* Map one buffer descriptor into elem. False (device broken) if malformed. */
static bool vring_map_desc(VirtQueue *vq, VirtQueueElement *elem, const VRingDescHost *d)
{
    bool is_write = d->flags & VRING_DESC_F_WRITE;
    void *p;

    if (d->len == 0) {
        virtio_error(vq->vdev, "virtio: zero sized buffers are not allowed");
        return false;
    }
    if (!is_write && elem->in.niov) {
        virtio_error(vq->vdev, "Incorrect order for descriptors");
        return false;
    }
    p = is_write ? guest_ram_ptr_rw(d->addr, d->len) : guest_ram_ptr(d->addr, d->len);
    if (!p) {
        virtio_error(vq->vdev, "virtio: bogus descriptor or out of resources");
        return false;
    }
    iov_add(is_write ? &elem->in : &elem->out, p, d->len);
    return true;
}

static bool vring_walk_chain(VirtQueue *vq, VirtQueueElement *elem, unsigned head)
{
    ChainWalk w = {.table = vq->desc_host, .table_len = vq->num};
    VRingDescHost d = vring_desc_read(w.table, head);

    if ((d.flags & VRING_DESC_F_INDIRECT) && !vring_enter_indirect(vq, &w, &d)) {
        return false;
    }
    for (;;) {
        if (d.flags & VRING_DESC_F_INDIRECT) {
            virtio_error(vq->vdev, w.indirect ? "Indirect descriptor in indirect table"
                                              : "Indirect descriptor inside a chain");
            return false;
        }
        if (++w.count > w.table_len) {
            virtio_error(vq->vdev, "Looped descriptor");
            return false;
        }
        if (!vring_map_desc(vq, elem, &d)) {
            return false;
        }
        if (!(d.flags & VRING_DESC_F_NEXT)) {
            return true;
        }
        if (d.next >= w.table_len) {
            virtio_error(vq->vdev, "Desc next is %u", d.next);
            return false;
        }
        d = vring_desc_read(w.table, d.next);
    }
}

void virtqueue_element_init(VirtQueueElement *elem)
{
    elem->index = 0;
    iov_init(&elem->out, 2);
    iov_init(&elem->in, 2);
}

void virtqueue_element_destroy(VirtQueueElement *elem)
{
    iov_destroy(&elem->out);
    iov_destroy(&elem->in);
}

int virtqueue_pop(VirtQueue *vq, VirtQueueElement *elem)
{
    uint16_t avail_idx, head;

    iov_reset(&elem->out);
    iov_reset(&elem->in);
    if (vq->vdev->broken) {
        return -1;
    }
    if (!virtio_queue_ready(vq)) {
        return 0;
    }
    avail_idx = vring_avail_idx(vq);
    if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->num) {
        virtio_error(vq->vdev, "Guest moved used index from %u to %u", vq->last_avail_idx,
                     avail_idx);
        return -1;
    }
    if (avail_idx == vq->last_avail_idx) {
        return 0;
    }
    head = vring_avail_ring(vq, vq->last_avail_idx % vq->num);
    if (head >= vq->num) {
        virtio_error(vq->vdev, "Guest says index %u is available", head);
        return -1;
    }
    vq->last_avail_idx++;
    if (virtio_vdev_has_feature(vq->vdev, VIRTIO_RING_F_EVENT_IDX) && !vq->polling) {
        vq_set_avail_event(vq, vq->last_avail_idx);
    }
    elem->index = head;
    if (!vring_walk_chain(vq, elem, head)) {
        return -1;
    }
    vq->inuse++;
    return 1;
}

/* ---- completing a request ---- */

void virtqueue_push(VirtQueue *vq, const VirtQueueElement *elem, uint32_t len)
{
    uint8_t *e;
    uint32_t id = htole32(elem->index), le_len = htole32(len);

    if (vq->inuse) {
        vq->inuse--;
    }
    if (!virtio_queue_ready(vq) || vq->vdev->broken) {
        return; /* reset or broken meanwhile: the guest no longer expects it */
    }
    e = vq->used_host + VRING_USED_RING + (size_t)VRING_USED_ELEM_SIZE * (vq->used_idx % vq->num);
    memcpy(e, &id, 4);
    memcpy(e + 4, &le_len, 4);
    vq->used_idx++;
    /* The element must be visible before the index that publishes it. */
    __atomic_store_n(vring_u16(vq->used_host + 2), htole16(vq->used_idx), __ATOMIC_RELEASE);
}

static bool virtio_should_notify(VirtQueue *vq)
{
    VirtIODevice *vdev = vq->vdev;
    uint16_t old, new_idx;
    bool valid;

    /* Our used-index store must be ordered before reading the guest's suppression state. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (virtio_vdev_has_feature(vdev, VIRTIO_F_NOTIFY_ON_EMPTY) && !vq->inuse &&
        virtio_queue_empty(vq)) {
        return true;
    }
    if (!virtio_vdev_has_feature(vdev, VIRTIO_RING_F_EVENT_IDX)) {
        return !(vring_avail_flags(vq) & VRING_AVAIL_F_NO_INTERRUPT);
    }
    valid = vq->signalled_used_valid;
    vq->signalled_used_valid = true;
    old = vq->signalled_used;
    new_idx = vq->signalled_used = vq->used_idx;
    return !valid || vring_need_event(vq_used_event(vq), new_idx, old);
}

bool virtio_queue_may_notify(VirtQueue *vq)
{
    VirtIODevice *vdev = vq->vdev;

    if (virtio_vdev_has_feature(vdev, VIRTIO_RING_F_EVENT_IDX) ||
        virtio_vdev_has_feature(vdev, VIRTIO_F_NOTIFY_ON_EMPTY)) {
        return true; /* decided with the interrupt, from the state then */
    }
    if (!virtio_queue_ready(vq) || vdev->broken) {
        return false;
    }
    /* Our used index before the guest's flag: a guest that clears the flag after this
     * looks at the used ring itself afterwards (the same ordering as virtio_notify). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return !(vring_avail_flags(vq) & VRING_AVAIL_F_NO_INTERRUPT);
}

void virtio_notify(VirtQueue *vq)
{
    if (!virtio_queue_ready(vq) || vq->vdev->broken || !virtio_should_notify(vq)) {
        return;
    }
    __atomic_fetch_or(&vq->vdev->isr, 1, __ATOMIC_SEQ_CST); /* queues may be in several threads */
    virtio_notify_vector(vq->vdev, vq->vector);
}
