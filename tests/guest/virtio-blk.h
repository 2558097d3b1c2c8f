/*
 * The test payload's polling virtio-blk driver (virtio-blk.c): one queue, no interrupts
 * (VRING_AVAIL_F_NO_INTERRUPT), modern through BAR4 when the function has it, else the
 * legacy I/O block. Requests use slots: slot s owns descriptors 3s..3s+2, a header and
 * status byte at VBLK_HDRS + 32s and a data buffer at VBLK_DATA + 64 KiB * s. Rings and
 * buffers live at fixed addresses from 32 MiB (run with -m 128 or more).
 */
#ifndef GUEST_VIRTIO_BLK_H
#define GUEST_VIRTIO_BLK_H

#include "guest.h"

#define VBLK_RING 0x2000000ull /* desc, avail (+4 KiB), used (+8 KiB) */
#define VBLK_HDRS 0x2010000ull /* 16-byte headers and status bytes per slot */
#define VBLK_DATA 0x2100000ull /* 64 KiB per slot */
#define VBLK_QSIZE 64
#define VBLK_REQ 65536u
#define VBLK_MAX_DEPTH 16
#define VBLK_SECTOR 512
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
#define ST_NEEDS_RESET 0x40
#define DESC_INDIRECT 4

typedef struct VDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} VDesc;

typedef struct VBlk {
    bool modern;
    uint64_t base; /* BAR4 address or I/O port */
    volatile VDesc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[] */
    volatile uint32_t *used;  /* flags|idx, then {id, len} pairs */
    uint16_t avail_idx, used_idx;
    uint64_t sectors;
} VBlk;

/* Find the first virtio-blk function, reset it and bring it to DRIVER_OK; *pci gets it. */
bool vblk_open(VBlk *v, PCIDevice **pci);
uint8_t vblk_status(VBlk *v);
void vblk_set_status(VBlk *v, uint8_t s);
unsigned vblk_qsize(VBlk *v);
void vblk_kick(VBlk *v);
/* Put head in the avail ring (no kick). */
void vblk_publish(VBlk *v, uint16_t head);
/* Queue request slot: header, data of len bytes (none when 0), status; no kick. */
void vblk_queue(VBlk *v, unsigned slot, uint32_t type, uint64_t sector, uint32_t len);
/* Wait for one completion: its slot, or -1 on a bad status. */
int vblk_reap(VBlk *v);
/* A completion if there is one: 1 (slot in *slot, status in *status), else 0. */
int vblk_poll(VBlk *v, unsigned *slot, uint8_t *status);

#endif
