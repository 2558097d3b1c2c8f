/*
 * Taking a virtio PCI function away at run time (device_del after the guest's eject): the
 * guest loses it at once (reset, doorbells and irqfds released, off the bus, BARs gone);
 * its memory goes only once every callback it queued before has run, since completions of
 * disowned requests and their batched notifications may still be on their way in the main
 * loop or in the device's I/O threads. The device model drains its backend in between.
 * Not the creation (virtio-pci.c) and not the ACPI handshake (hw/acpi/pci-hotplug.c).
 */
#include <unistd.h>
#include <glib.h>
#include "hw/kvm-irq.h"
#include "hw/msix.h"
#include "hw/virtio-pci.h"
#include "util/main-loop.h"

typedef struct VirtIOPCIWait {
    unsigned pending; /* main-loop calls still to come; only touched in the main loop */
    void (*done)(void *opaque);
    void *opaque;
} VirtIOPCIWait;

/* After the reset has unassigned them: no source may call into the device again. */
static void virtio_pci_doorbells_release(VirtIOPCIProxy *proxy)
{
    for (unsigned n = 0; n < proxy->vdev->num_queues; n++) {
        VirtIOPCIDoorbell *db = &proxy->doorbells[n];

        if (db->assigned) {
            kvm_ioeventfd(db->fd, db->pio, db->addr, db->pio ? 2 : 0, db->pio, n, false);
            db->assigned = false;
        }
        if (db->source) {
            g_source_destroy(db->source);
            g_source_unref(db->source);
            db->source = NULL;
        }
        if (db->fd >= 0) {
            close(db->fd);
            db->fd = -1;
        }
    }
}

static void virtio_pci_irqfds_release(VirtIOPCIProxy *proxy)
{
    for (unsigned v = 0; proxy->irqfds && v < proxy->nvectors; v++) {
        VirtIOPCIIrqfd *q = &proxy->irqfds[v];

        if (q->active) {
            kvm_irqfd(q->fd, q->gsi, false);
            q->active = false;
        }
        if (q->gsi >= 0) {
            kvm_irqchip_release_route(q->gsi);
            q->gsi = -1;
        }
        if (q->fd >= 0) {
            close(q->fd);
            q->fd = -1;
        }
    }
}

void virtio_pci_unplug(VirtIOPCIProxy *proxy)
{
    virtio_device_lock(proxy->vdev); /* no I/O thread is inside the device meanwhile */
    virtio_pci_reset(proxy);
    virtio_pci_doorbells_release(proxy);
    virtio_pci_irqfds_release(proxy);
    virtio_device_unlock(proxy->vdev);
    msix_set_vector_notifier(proxy->pci, NULL);
    pci_device_unplug(proxy->pci);
}

static void virtio_pci_wait_main(void *opaque)
{
    VirtIOPCIWait *w = opaque;

    if (--w->pending == 0) {
        w->done(w->opaque);
        g_free(w);
    }
}

/* In the I/O thread, after what it had queued: continue behind the main loop's queue. */
static void virtio_pci_wait_iothread(void *opaque)
{
    main_loop_call_outer(virtio_pci_wait_main, opaque);
}

void virtio_pci_wait(VirtIOPCIProxy *proxy, void (*done)(void *opaque), void *opaque)
{
    VirtIODevice *vdev = proxy->vdev;
    VirtIOPCIWait *w = g_new0(VirtIOPCIWait, 1);

    w->pending = vdev->n_iothreads + 1;
    w->done = done;
    w->opaque = opaque;
    for (unsigned i = 0; i < vdev->n_iothreads; i++) {
        iothread_call(vdev->iothreads[i], virtio_pci_wait_iothread, w);
    }
    main_loop_call_outer(virtio_pci_wait_main, w);
}

void virtio_pci_free(VirtIOPCIProxy *proxy)
{
    g_free(proxy->doorbells);
    g_free(proxy->irqfds);
    pci_device_free(proxy->pci);
    g_free(proxy);
}
