/*
 * The PC's two cascaded 8237A DMA controllers (QEMU's i8257): channels 0-3 move bytes
 * (ports 0x00-0x0f, pages 0x81-0x83/0x87), channels 4-7 move 16-bit words (ports 0xc0-0xdf,
 * pages 0x89-0x8b/0x8f). ISA devices are pulled: a device raises its request line
 * (isa_dma_hold_dreq) and, while the channel is unmasked, the controller calls the device's
 * transfer handler, which moves bytes with isa_dma_read/write_memory at a position inside
 * the programmed block. Every guest address is computed the way the hardware does (wrapping
 * inside the 64 KiB page, 128 KiB for 16-bit channels) and checked against guest RAM.
 * Not a bus master for PCI devices.
 */
#ifndef HW_ISA_DMA_H
#define HW_ISA_DMA_H

#include <stdbool.h>
#include <stdint.h>

#define ISA_DMA_CHANNELS 8

/* Mode register bits 3:2, named from the memory's side as the 8237 datasheet does. */
typedef enum IsaDmaTransferMode {
    ISA_DMA_TRANSFER_VERIFY = 0,
    ISA_DMA_TRANSFER_WRITE = 1, /* device -> memory (a floppy READ) */
    ISA_DMA_TRANSFER_READ = 2,  /* memory -> device (a floppy WRITE) */
    ISA_DMA_TRANSFER_ILLEGAL = 3,
} IsaDmaTransferMode;

/*
 * Called while the channel's request is held and the channel unmasked. pos is how many
 * bytes of this block moved already, size the block's length in bytes ((count + 1) for
 * 8-bit channels, twice that for 16-bit ones). Returns the new position; reaching size is
 * terminal count.
 */
typedef int IsaDmaTransferHandler(void *opaque, int nchan, int pos, int size);

/* Register the ports and the reset handler (once, by the board). */
void isa_dma_init(void);
/* A device claims a channel (0-7); NULL handler releases it. */
void isa_dma_register_channel(int nchan, IsaDmaTransferHandler *fn, void *opaque);
IsaDmaTransferMode isa_dma_get_transfer_mode(int nchan);
/* Auto-initialisation (mode bit 4): the block restarts after terminal count. */
bool isa_dma_has_autoinit(int nchan);
/* Raise / drop the channel's DREQ line. Raising it may run the transfer at once. */
void isa_dma_hold_dreq(int nchan);
void isa_dma_release_dreq(int nchan);
/*
 * Copy len bytes between buf and guest memory at offset pos of the current block
 * (read: memory -> buf; write: buf -> memory). Bytes outside guest RAM read as 0xff and
 * are dropped on write, as on an ISA bus with nothing decoded there. Returns len, or 0 for
 * a negative pos or len.
 */
int isa_dma_read_memory(int nchan, void *buf, int pos, int len);
int isa_dma_write_memory(int nchan, const void *buf, int pos, int len);

#endif
