/*
 * virtio-blk: a block device on virtqueues, over a BlockBackend. Requests (read, write,
 * flush, get-id, discard, write-zeroes) go asynchronously to the backend, many at a time;
 * completions are batched into one interrupt per batch. Features, configuration layout and
 * status codes as QEMU 7.2 offers them. The PCI function is virtio-blk-pci.c.
 */
#ifndef HW_VIRTIO_BLK_H
#define HW_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include "block/block-backend.h"
#include "hw/pci.h"
#include "hw/virtio.h"

#define VIRTIO_BLK_DEFAULT_QUEUE_SIZE 256 /* as QEMU 7.2 */
#define VIRTIO_BLK_ID_BYTES 20

/* The properties of -device virtio-blk-pci (and what -drive if=virtio implies). */
typedef struct VirtioBlkConf {
    const char *serial;  /* NULL: the drive's serial=, if any */
    unsigned num_queues; /* 0: one per vCPU, as QEMU's "auto" */
    unsigned queue_size; /* power of two, 3..1024 */
    bool config_wce;
    bool discard;
    bool write_zeroes;
    bool disable_legacy;
    bool disable_modern;
    int vectors;   /* MSI-X vectors; -1: num_queues + 1 */
    int bootindex; /* -1: none */
    IOThread **iothreads; /* queue i served by iothreads[i % n]; honoured on KVM only */
    unsigned n_iothreads;
} VirtioBlkConf;

typedef struct VirtIOBlock VirtIOBlock;

/* QEMU's defaults. */
void virtio_blk_conf_init(VirtioBlkConf *conf);
/* A virtio-blk-pci function on bus at devfn (-1: the next free slot), serving blk, which
 * the caller has attached (drive= does). */
VirtIOBlock *virtio_blk_pci_create(PCIBus *bus, int devfn, BlockBackend *blk,
                                   const VirtioBlkConf *conf, Error **errp);
/* -drive if=virtio: a virtio-blk-pci on "pci.0" per drive, in command-line order, at addr=
 * or the next free slot, as QEMU creates them. */
bool virtio_blk_pci_create_drives(Error **errp);

/* virtio-blk.c: the device model behind the transport. */
VirtIOBlock *virtio_blk_new(BlockBackend *blk, const VirtioBlkConf *conf, Error **errp);
VirtIODevice *virtio_blk_vdev(VirtIOBlock *s);
/* Undo virtio_blk_new() (before the device was put on a transport). */
void virtio_blk_free(VirtIOBlock *s);
/* A queue's request pool: requests kept for reuse, and requests ever allocated. */
void virtio_blk_pool_stats(VirtIOBlock *s, unsigned queue, unsigned *nfree, unsigned *allocated);

#endif
