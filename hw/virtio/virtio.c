/*
 * The virtio device core: status, feature negotiation, reset, the device configuration
 * space, the ISR and interrupt vectors, and the "broken device" state a malformed request
 * leads to (NEEDS_RESET for virtio 1.0 drivers; nothing more is served until a reset).
 * Behaviour follows QEMU 7.2's hw/virtio/virtio.c where the spec leaves room.
 * Not the rings (virtqueue.c), not the transport (virtio-pci*.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <glib.h>
#include "hw/machine.h"
#include "hw/virtio.h"
#include "util/error.h"
#include "util/main-loop.h"

static RunStateHandler virtio_run_state_changed;

void virtio_init(VirtIODevice *vdev, const VirtioDeviceOps *ops, void *opaque, size_t config_len,
                 uint64_t host_features)
{
    memset(vdev, 0, sizeof(*vdev));
    vdev->ops = ops;
    vdev->opaque = opaque;
    vdev->config_len = config_len;
    vdev->config = g_malloc0(MAX(config_len, 1));
    vdev->host_features = host_features;
    vdev->config_vector = VIRTIO_NO_VECTOR;
    /* Every index a guest can select exists; those never added stay at size 0. */
    vdev->vq = g_new0(VirtQueue, VIRTIO_QUEUE_MAX);
    for (unsigned i = 0; i < VIRTIO_QUEUE_MAX; i++) {
        vdev->vq[i].vdev = vdev;
        vdev->vq[i].index = i;
        virtio_queue_reset(&vdev->vq[i]);
    }
    vdev->stopped = !machine_is_running(); /* -S, or plugged in while stopped */
    machine_add_run_state_handler(virtio_run_state_changed, vdev);
}

void virtio_cleanup(VirtIODevice *vdev)
{
    machine_remove_run_state_handler(virtio_run_state_changed, vdev);
    for (unsigned q = 0; q < vdev->num_queues; q++) {
        virtio_queue_lock(&vdev->vq[q]);
        virtio_queue_poll_detach(&vdev->vq[q]);
        virtio_queue_unlock(&vdev->vq[q]);
    }
    g_free(vdev->iothreads);
    vdev->iothreads = NULL;
    vdev->n_iothreads = 0;
    g_free(vdev->config);
    g_free(vdev->vq);
    vdev->config = NULL;
    vdev->vq = NULL;
}

VirtQueue *virtio_add_queue(VirtIODevice *vdev, unsigned size, VirtIOHandleOutput *handler)
{
    VirtQueue *vq;

    g_return_val_if_fail(vdev->num_queues < VIRTIO_QUEUE_MAX && size && size <= VIRTQUEUE_MAX_SIZE,
                         NULL);
    vq = &vdev->vq[vdev->num_queues++];
    vq->num_default = size;
    vq->handler = handler;
    virtio_queue_reset(vq);
    return vq;
}

bool virtio_has_feature(uint64_t features, unsigned bit)
{
    return bit < 64 && (features & (1ULL << bit));
}

bool virtio_vdev_has_feature(VirtIODevice *vdev, unsigned bit)
{
    return virtio_has_feature(vdev->guest_features, bit);
}

int virtio_set_features(VirtIODevice *vdev, uint64_t features)
{
    /* Features cannot change once the driver said FEATURES_OK. */
    if (vdev->status & VIRTIO_CONFIG_S_FEATURES_OK) {
        return -EINVAL;
    }
    vdev->guest_features = features & vdev->host_features;
    return (features & ~vdev->host_features) ? -EINVAL : 0;
}

void virtio_reset(VirtIODevice *vdev)
{
    if (vdev->ops->set_status) {
        vdev->ops->set_status(vdev, 0);
    }
    if (vdev->ops->reset) {
        vdev->ops->reset(vdev);
    }
    vdev->broken = false;
    vdev->guest_features = 0;
    vdev->queue_sel = 0;
    vdev->status = 0;
    vdev->isr = 0;
    vdev->config_vector = VIRTIO_NO_VECTOR;
    for (unsigned i = 0; i < VIRTIO_QUEUE_MAX; i++) {
        virtio_queue_reset(&vdev->vq[i]);
    }
    if (vdev->transport && vdev->transport->status_changed) {
        vdev->transport->status_changed(vdev->transport_opaque);
    }
}

void virtio_set_status(VirtIODevice *vdev, uint8_t status)
{
    /* Guest features are always a subset of the offer (virtio_set_features() masks them),
     * so FEATURES_OK is accepted as written, as QEMU does for devices without a
     * validate_features hook. */
    if (vdev->ops->set_status) {
        vdev->ops->set_status(vdev, status);
    }
    vdev->status = status;
    if (vdev->transport && vdev->transport->status_changed) {
        vdev->transport->status_changed(vdev->transport_opaque);
    }
}

void virtio_notify_vector(VirtIODevice *vdev, uint16_t vector)
{
    if (vdev->broken && vector != vdev->config_vector) {
        return;
    }
    if (vdev->transport && vdev->transport->notify) {
        vdev->transport->notify(vdev->transport_opaque, vector);
    }
}

void virtio_notify_config(VirtIODevice *vdev)
{
    if (!(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        return;
    }
    __atomic_fetch_or(&vdev->isr, 3, __ATOMIC_SEQ_CST);
    vdev->generation++;
    virtio_notify_vector(vdev, vdev->config_vector);
}

void virtio_error(VirtIODevice *vdev, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_report("%s: %s", vdev->ops->name, msg);
    vdev->broken = true;
    if (virtio_vdev_has_feature(vdev, VIRTIO_F_VERSION_1)) {
        vdev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
        virtio_notify_config(vdev);
    }
    if (vdev->transport && vdev->transport->status_changed) {
        vdev->transport->status_changed(vdev->transport_opaque);
    }
}

/* ---- I/O threads and locking ---- */

void virtio_set_iothreads(VirtIODevice *vdev, IOThread *const *iothreads, unsigned n)
{
    g_free(vdev->iothreads);
    vdev->iothreads = g_new0(IOThread *, MAX(n, 1));
    vdev->n_iothreads = 0;
    for (unsigned i = 0; i < n; i++) {
        bool seen = false;

        for (unsigned j = 0; j < vdev->n_iothreads; j++) {
            seen |= vdev->iothreads[j] == iothreads[i];
        }
        if (!seen) {
            vdev->iothreads[vdev->n_iothreads++] = iothreads[i];
        }
    }
    for (unsigned q = 0; q < vdev->num_queues; q++) {
        VirtQueue *vq = &vdev->vq[q];

        virtio_queue_lock(vq);
        virtio_queue_poll_detach(vq);
        virtio_queue_unlock(vq);
        vq->iothread = n ? iothreads[q % n] : NULL;
        /* A loop polls its queues before it sleeps (poll-max-ns). */
        virtio_queue_lock(vq);
        virtio_queue_poll_attach(vq, vq->iothread ? iothread_get_context(vq->iothread)
                                                  : g_main_context_default());
        virtio_queue_unlock(vq);
    }
}

/* In the queue's thread: what the guest made available while the machine was stopped. */
static void virtio_queue_resume(void *opaque)
{
    VirtQueue *vq = opaque;

    virtio_queue_lock(vq);
    virtio_queue_kick(vq);
    virtio_queue_unlock(vq);
}

/*
 * The machine stopped or runs again. While it is stopped, no request is taken from a ring
 * but on a kick the notify register delivers (only qtest can write one then), as in QEMU;
 * what the guest queued before the stop waits and is served when the machine runs, by a
 * call queued to each queue's thread (for a main-loop queue it comes after `cont` has
 * resubmitted the requests the "stop" error policy kept; in an I/O thread either may come
 * first, as nothing orders requests the guest has outstanding). A device a reset or an
 * unplug took from its driver has nothing to serve.
 */
static void virtio_run_state_changed(void *opaque, bool running)
{
    VirtIODevice *vdev = opaque;

    virtio_device_lock(vdev);
    vdev->stopped = !running;
    virtio_device_unlock(vdev);
    if (!running || !(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        return;
    }
    for (unsigned q = 0; q < vdev->num_queues; q++) {
        VirtQueue *vq = &vdev->vq[q];

        if (vq->iothread) {
            iothread_call(vq->iothread, virtio_queue_resume, vq);
        } else {
            main_loop_call(virtio_queue_resume, vq);
        }
    }
}

void virtio_device_lock(VirtIODevice *vdev)
{
    for (unsigned i = 0; i < vdev->n_iothreads; i++) {
        iothread_lock(vdev->iothreads[i]);
    }
}

void virtio_device_unlock(VirtIODevice *vdev)
{
    for (unsigned i = vdev->n_iothreads; i-- > 0;) {
        iothread_unlock(vdev->iothreads[i]);
    }
}

void virtio_queue_lock(VirtQueue *vq)
{
    if (vq->iothread) {
        iothread_lock(vq->iothread);
    }
}

void virtio_queue_unlock(VirtQueue *vq)
{
    if (vq->iothread) {
        iothread_unlock(vq->iothread);
    }
}

/* ---- device configuration space ---- */

static bool virtio_config_range_ok(VirtIODevice *vdev, uint64_t addr, unsigned size)
{
    return (size == 1 || size == 2 || size == 4) && addr <= vdev->config_len &&
           size <= vdev->config_len - addr;
}

uint32_t virtio_config_read(VirtIODevice *vdev, uint64_t addr, unsigned size)
{
    uint32_t val = 0;

    if (!virtio_config_range_ok(vdev, addr, size)) {
        return size >= 4 ? UINT32_MAX : (1u << (8 * size)) - 1;
    }
    if (vdev->ops->get_config) {
        vdev->ops->get_config(vdev, vdev->config);
    }
    for (unsigned i = 0; i < size; i++) {
        val |= (uint32_t)vdev->config[addr + i] << (8 * i);
    }
    return val;
}

void virtio_config_write(VirtIODevice *vdev, uint64_t addr, uint32_t val, unsigned size)
{
    if (!virtio_config_range_ok(vdev, addr, size)) {
        return;
    }
    if (vdev->ops->get_config) {
        vdev->ops->get_config(vdev, vdev->config);
    }
    for (unsigned i = 0; i < size; i++) {
        vdev->config[addr + i] = val >> (8 * i);
    }
    if (vdev->ops->set_config) {
        vdev->ops->set_config(vdev, vdev->config);
    }
}
