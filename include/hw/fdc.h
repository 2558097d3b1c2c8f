/*
 * The ISA floppy disk controller (an Intel 82078 in AT mode, as QEMU's isa-fdc) at 0x3f0
 * with IRQ 6 and DMA channel 2, and its two drives. The board creates it with the drives
 * from -fda/-fdb/-drive if=floppy and reads the drive types back for the CMOS.
 * Not the drives' block layer: media come and go through the BlockBackend.
 */
#ifndef HW_FDC_H
#define HW_FDC_H

#include <stdbool.h>
#include "block/block-backend.h"
#include "util/error.h"

#define FDC_MAX_DRIVES 2
#define FDC_ISA_IOBASE 0x3f0
#define FDC_ISA_IRQ 6
#define FDC_ISA_DMA 2

/* QEMU's FloppyDriveType, in its order. */
typedef enum FloppyDriveType {
    FLOPPY_DRIVE_TYPE_144,
    FLOPPY_DRIVE_TYPE_288,
    FLOPPY_DRIVE_TYPE_120,
    FLOPPY_DRIVE_TYPE_NONE,
    FLOPPY_DRIVE_TYPE_AUTO,
} FloppyDriveType;

typedef struct FDCtrl FDCtrl;

/*
 * The controller at iobase, claiming the -drive if=floppy drives of units 0 and 1 (NULL:
 * no drive in that unit). The drive type is picked from the medium (auto), falling back
 * to 2.88M for an empty drive, as QEMU does. Fails when another device has a drive.
 */
FDCtrl *fdc_init_isa(uint16_t iobase, unsigned irq, int dma_chan, DriveInfo *fds[FDC_MAX_DRIVES],
                     Error **errp);
FloppyDriveType fdc_get_drive_type(FDCtrl *s, int unit);
/* The CMOS nibble of a drive type (register 0x10): 4 for 1.44M, 5 for 2.88M, 2 for 1.2M. */
unsigned fdc_cmos_drive_type(FloppyDriveType type);

#endif
