/*
 * Disk geometry for the devices that show one (IDE disks, virtio-blk's config space, SCSI
 * disks' mode pages 04h/05h): what the user gave, else QEMU's guess from the MBR or the
 * size. One mechanism, QEMU's hd_geometry_guess()/blkconf_geometry() behaviour.
 */
#ifndef HW_HD_GEOMETRY_H
#define HW_HD_GEOMETRY_H

#include <stdbool.h>
#include <stdint.h>
#include "block/block-backend.h"
#include "util/error.h"

typedef struct HdGeometry {
    uint32_t cyls, heads, secs;
} HdGeometry;

/* The BIOS translation (BIOS_ATA_TRANSLATION_*) a geometry needs: none up to 1024/16/63,
 * else LBA. */
int hd_bios_chs_auto_trans(const HdGeometry *g);

/*
 * Guess the geometry of blk's medium: the logical geometry its MBR's partitions end on
 * when it has at most 16 heads, else 16 heads, 63 sectors and the cylinders the size gives
 * (2 to 16383). Returns the translation that goes with it (large or LBA when the MBR was
 * made under a translating BIOS).
 */
int hd_geometry_guess(BlockBackend *blk, HdGeometry *g);

/*
 * A device's geometry: *g as its properties give it; when they give none, the drive's
 * -drive cyls=,heads=,secs= (and trans= into *trans), else hd_geometry_guess(). trans may
 * be NULL; BIOS_ATA_TRANSLATION_AUTO in it becomes the translation that fits. Fails with
 * QEMU's "cyls must be between 1 and N" (heads, secs) outside the device's limits.
 */
bool hd_geometry_config(BlockBackend *blk, HdGeometry *g, int *trans, const HdGeometry *max,
                        Error **errp);

#endif
