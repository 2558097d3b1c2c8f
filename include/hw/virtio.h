/*
 * The virtio device core, independent of the transport: device status and feature
 * negotiation, the device configuration space with its generation counter, the interrupt
 * status (ISR) and vectors, reset, and split virtqueues (virtqueue.c) from which devices pop
 * requests whose guest buffers are already checked and mapped. A device fills in a
 * VirtioDeviceOps table; a transport (virtio-pci.c) fills in VirtioTransportOps.
 * Constants and register names are <linux/virtio_*.h>'s. Not a device, not PCI.
 */
#ifndef HW_VIRTIO_H
#define HW_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <glib.h>
#include "util/aio-poll.h"
#include "util/iov.h"
#include "util/iothread.h"

#define VIRTIO_QUEUE_MAX 1024   /* queues per device */
#define VIRTQUEUE_MAX_SIZE 1024 /* entries per queue, and descriptors per request */
#define VIRTIO_NO_VECTOR 0xffff
/* Legacy guests can only use this many features; bit 30 is QEMU's "bad feature" canary. */
#define VIRTIO_F_BAD_FEATURE 30
#define VIRTIO_LEGACY_FEATURES                                                                     \
    ((1ULL << VIRTIO_F_BAD_FEATURE) | (1ULL << VIRTIO_F_NOTIFY_ON_EMPTY) |                         \
     (1ULL << VIRTIO_F_ANY_LAYOUT))

typedef struct VirtIODevice VirtIODevice;
typedef struct VirtQueue VirtQueue;

/* A request popped from a queue: its guest buffers, mapped to host memory. */
typedef struct VirtQueueElement {
    unsigned index; /* head descriptor: what virtqueue_push() hands back */
    IOVector out;   /* device-readable buffers, in chain order */
    IOVector in;    /* device-writable buffers */
} VirtQueueElement;

typedef void VirtIOHandleOutput(VirtIODevice *vdev, VirtQueue *vq);

/* One split virtqueue. The ring pointers are host mappings of the guest's rings, checked
 * once when the guest sets the addresses (RAM does not move); NULL when not mappable. */
struct VirtQueue {
    VirtIODevice *vdev;
    unsigned index;
    unsigned num; /* current size; 0: the queue does not exist */
    unsigned num_default;
    uint64_t desc, avail, used; /* guest-physical ring addresses */
    uint8_t *desc_host, *avail_host, *used_host;
    uint16_t last_avail_idx; /* next avail entry to take */
    uint16_t used_idx;       /* next used entry to fill */
    uint16_t signalled_used; /* used_idx at the last interrupt (EVENT_IDX) */
    bool signalled_used_valid;
    uint16_t vector;
    unsigned inuse;      /* popped, not yet pushed */
    unsigned generation; /* resets so far: elements from before one are stale */
    VirtIOHandleOutput *handler;
    IOThread *iothread;   /* serves the doorbell and completions; NULL: the main loop */
    AioPollHandler *poll; /* its thread polls the avail ring before sleeping */
    bool polling;         /* meanwhile the guest is asked not to kick */
};

typedef struct VirtioDeviceOps {
    const char *name;
    uint16_t device_id; /* VIRTIO_ID_* */
    /* Refresh vdev->config from the device's state before the guest reads it. */
    void (*get_config)(VirtIODevice *vdev, uint8_t *config);
    /* The guest wrote config (already copied into vdev->config). */
    void (*set_config)(VirtIODevice *vdev, const uint8_t *config);
    /* Status changed (before a reset to 0 runs the device's reset). */
    void (*set_status)(VirtIODevice *vdev, uint8_t status);
    /* Device reset: drain in-flight work, return to power-on state. */
    void (*reset)(VirtIODevice *vdev);
} VirtioDeviceOps;

typedef struct VirtioTransportOps {
    /* Raise vector (MSI-X), or the INTx line from the ISR when MSI-X is off. */
    void (*notify)(void *opaque, uint16_t vector);
    /* The device was reset or marked broken: the transport drops its doorbells. */
    void (*status_changed)(void *opaque);
} VirtioTransportOps;

struct VirtIODevice {
    const VirtioDeviceOps *ops;
    void *opaque; /* the device model */
    const VirtioTransportOps *transport;
    void *transport_opaque;
    /* Guest-visible state */
    uint8_t status;
    uint8_t isr;
    uint8_t generation;
    uint16_t config_vector;
    uint16_t queue_sel;
    uint64_t host_features;
    uint64_t guest_features;
    size_t config_len;
    uint8_t *config;
    unsigned num_queues;
    VirtQueue *vq; /* num_queues of them */
    bool broken;   /* a malformed request was seen: NEEDS_RESET until reset */
    /* The machine is stopped: doorbells and polling wait (virtio_queue_kick); a register
     * write's kick is still served. Written under the device lock. */
    bool stopped;
    IOThread **iothreads; /* distinct threads serving queues (virtio_set_iothreads) */
    unsigned n_iothreads;
};

void virtio_init(VirtIODevice *vdev, const VirtioDeviceOps *ops, void *opaque, size_t config_len,
                 uint64_t host_features);
void virtio_cleanup(VirtIODevice *vdev);
VirtQueue *virtio_add_queue(VirtIODevice *vdev, unsigned size, VirtIOHandleOutput *handler);
bool virtio_has_feature(uint64_t features, unsigned bit);
bool virtio_vdev_has_feature(VirtIODevice *vdev, unsigned bit);
/* Accept the guest's features (masked to what is offered); -EINVAL if it asked for more. */
int virtio_set_features(VirtIODevice *vdev, uint64_t features);
void virtio_set_status(VirtIODevice *vdev, uint8_t status);
void virtio_reset(VirtIODevice *vdev);
/* A guest error: log it once, set NEEDS_RESET, stop serving queues until reset. */
void virtio_error(VirtIODevice *vdev, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Interrupts: config change (DRIVER_OK only) and raw vector notification. */
void virtio_notify_config(VirtIODevice *vdev);
void virtio_notify_vector(VirtIODevice *vdev, uint16_t vector);
/* Device configuration space access by the transport (little-endian, bounds-checked:
 * reads beyond config_len return all ones, writes there are dropped). */
uint32_t virtio_config_read(VirtIODevice *vdev, uint64_t addr, unsigned size);
void virtio_config_write(VirtIODevice *vdev, uint64_t addr, uint32_t val, unsigned size);

/*
 * Serve queue i in iothreads[i % n] (n == 0: all in the main loop). Code outside those
 * threads touching the device (register access, reset, resize) holds the device lock: the
 * BQL first, then every I/O thread's lock. A queue's own code (doorbell, completions) only
 * needs the queue lock: its I/O thread's, nothing without one.
 */
void virtio_set_iothreads(VirtIODevice *vdev, IOThread *const *iothreads, unsigned n);
void virtio_device_lock(VirtIODevice *vdev);
void virtio_device_unlock(VirtIODevice *vdev);
void virtio_queue_lock(VirtQueue *vq);
void virtio_queue_unlock(VirtQueue *vq);

/* ---- virtqueues (virtqueue.c) ---- */
unsigned virtio_queue_index(VirtQueue *vq);
VirtIODevice *virtio_queue_vdev(VirtQueue *vq);
unsigned virtio_queue_get_num(VirtQueue *vq);
/* Guest-chosen size (modern); ignored if out of range or flipping existence, as QEMU. */
void virtio_queue_set_num(VirtQueue *vq, unsigned num);
void virtio_queue_set_rings(VirtQueue *vq, uint64_t desc, uint64_t avail, uint64_t used);
/* Legacy layout from one page frame: used ring aligned to 4 KiB after the avail ring. */
void virtio_queue_set_addr(VirtQueue *vq, uint64_t pa);
uint64_t virtio_queue_get_desc(VirtQueue *vq);
uint16_t virtio_queue_get_vector(VirtQueue *vq);
void virtio_queue_set_vector(VirtQueue *vq, uint16_t vector);
bool virtio_queue_ready(VirtQueue *vq);
void virtio_queue_reset(VirtQueue *vq);
/* The guest kicked queue n by writing the notify register. */
void virtio_queue_notify(VirtIODevice *vdev, unsigned n);
/*
 * A kick that comes without a vCPU's register access (a doorbell's eventfd, the avail ring
 * seen by polling): served only while the machine runs, as QEMU stops its ioeventfds with
 * the VM. What waits is served when it runs again. The queue lock held.
 */
void virtio_queue_kick(VirtQueue *vq);
/* Ask the guest for kicks (true) or not (false, while the device is busy anyway); while
 * the queue's thread polls it, kicks stay off. */
void virtio_queue_set_notification(VirtQueue *vq, bool enable);
/* Let ctx's loop poll the avail ring (util/aio-poll.h), or stop; the queue lock held. */
void virtio_queue_poll_attach(VirtQueue *vq, GMainContext *ctx);
void virtio_queue_poll_detach(VirtQueue *vq);
bool virtio_queue_empty(VirtQueue *vq);
/* An element's vectors, allocated once: a device may fill the same element again and
 * again (virtio-blk keeps a pool of them), so taking a request needs no allocation. */
void virtqueue_element_init(VirtQueueElement *elem);
void virtqueue_element_destroy(VirtQueueElement *elem);
/*
 * Take the next request into elem (initialised; what it held is dropped): 1 when it is
 * filled, 0 when the queue is empty, -1 when the chain was malformed (the device is now
 * broken).
 */
int virtqueue_pop(VirtQueue *vq, VirtQueueElement *elem);
/* Give an element back with len bytes written; visible to the guest at once. */
void virtqueue_push(VirtQueue *vq, const VirtQueueElement *elem, uint32_t len);
/* Interrupt for this queue, unless the guest suppressed it (flags or EVENT_IDX). */
void virtio_notify(VirtQueue *vq);
/* False when the guest asked for no interrupts (NO_INTERRUPT without EVENT_IDX) after
 * the used entries pushed so far: a device need not schedule one for them. */
bool virtio_queue_may_notify(VirtQueue *vq);

#endif
