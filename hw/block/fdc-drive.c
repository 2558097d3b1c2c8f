/*
 * A floppy drive: its type, the geometry of the inserted medium (picked from the image
 * size with QEMU's table of formats), the head position and its seeks, the disk-change line,
 * and one-sector reads and writes through the BlockBackend. Every position the guest asks
 * for is checked against the geometry here, and every sector against the image's end.
 */
#include <errno.h>
#include <glib.h>
#include "fdc-internal.h"

typedef struct FDFormat {
    FloppyDriveType drive;
    uint8_t last_sect;
    uint8_t max_track;
    uint8_t max_head;
    FDriveRate rate;
} FDFormat;

typedef enum FDriveSize {
    FDRIVE_SIZE_UNKNOWN,
    FDRIVE_SIZE_350,
    FDRIVE_SIZE_525,
} FDriveSize;

/* QEMU's table: the first entry of a total size wins; earlier entries are preferred. */
static const FDFormat fd_formats[] = {
    /* 1.44 MB 3"1/2 */
    {FLOPPY_DRIVE_TYPE_144, 18, 80, 1, FDRIVE_RATE_500K},
    {FLOPPY_DRIVE_TYPE_144, 20, 80, 1, FDRIVE_RATE_500K},
    {FLOPPY_DRIVE_TYPE_144, 21, 80, 1, FDRIVE_RATE_500K},
    {FLOPPY_DRIVE_TYPE_144, 21, 82, 1, FDRIVE_RATE_500K},
    {FLOPPY_DRIVE_TYPE_144, 21, 83, 1, FDRIVE_RATE_500K},
    {FLOPPY_DRIVE_TYPE_144, 22, 80, 1, FDRIVE_RATE_500K},
    {FLOPPY_DRIVE_TYPE_144, 23, 80, 1, FDRIVE_RATE_500K},
    {FLOPPY_DRIVE_TYPE_144, 24, 80, 1, FDRIVE_RATE_500K},
    /* 2.88 MB 3"1/2 */
    {FLOPPY_DRIVE_TYPE_288, 36, 80, 1, FDRIVE_RATE_1M},
    {FLOPPY_DRIVE_TYPE_288, 39, 80, 1, FDRIVE_RATE_1M},
    {FLOPPY_DRIVE_TYPE_288, 40, 80, 1, FDRIVE_RATE_1M},
    {FLOPPY_DRIVE_TYPE_288, 44, 80, 1, FDRIVE_RATE_1M},
    {FLOPPY_DRIVE_TYPE_288, 48, 80, 1, FDRIVE_RATE_1M},
    /* 720 kB 3"1/2 */
    {FLOPPY_DRIVE_TYPE_144, 9, 80, 1, FDRIVE_RATE_250K},
    {FLOPPY_DRIVE_TYPE_144, 10, 80, 1, FDRIVE_RATE_250K},
    {FLOPPY_DRIVE_TYPE_144, 10, 82, 1, FDRIVE_RATE_250K},
    {FLOPPY_DRIVE_TYPE_144, 10, 83, 1, FDRIVE_RATE_250K},
    {FLOPPY_DRIVE_TYPE_144, 13, 80, 1, FDRIVE_RATE_250K},
    {FLOPPY_DRIVE_TYPE_144, 14, 80, 1, FDRIVE_RATE_250K},
    /* 1.2 MB 5"1/4 */
    {FLOPPY_DRIVE_TYPE_120, 15, 80, 1, FDRIVE_RATE_500K},
    {FLOPPY_DRIVE_TYPE_120, 18, 80, 1, FDRIVE_RATE_500K},
    {FLOPPY_DRIVE_TYPE_120, 18, 82, 1, FDRIVE_RATE_500K},
    {FLOPPY_DRIVE_TYPE_120, 18, 83, 1, FDRIVE_RATE_500K},
    {FLOPPY_DRIVE_TYPE_120, 20, 80, 1, FDRIVE_RATE_500K},
    /* 720 kB 5"1/4 */
    {FLOPPY_DRIVE_TYPE_120, 9, 80, 1, FDRIVE_RATE_250K},
    {FLOPPY_DRIVE_TYPE_120, 11, 80, 1, FDRIVE_RATE_250K},
    /* 360 kB 5"1/4 */
    {FLOPPY_DRIVE_TYPE_120, 9, 40, 1, FDRIVE_RATE_300K},
    {FLOPPY_DRIVE_TYPE_120, 9, 40, 0, FDRIVE_RATE_300K},
    {FLOPPY_DRIVE_TYPE_120, 10, 41, 1, FDRIVE_RATE_300K},
    {FLOPPY_DRIVE_TYPE_120, 10, 42, 1, FDRIVE_RATE_300K},
    /* 320 kB 5"1/4 */
    {FLOPPY_DRIVE_TYPE_120, 8, 40, 1, FDRIVE_RATE_250K},
    {FLOPPY_DRIVE_TYPE_120, 8, 40, 0, FDRIVE_RATE_250K},
    /* 360 kB must match 5"1/4 better than 3"1/2 */
    {FLOPPY_DRIVE_TYPE_144, 9, 80, 0, FDRIVE_RATE_250K},
};

static FDriveSize fd_drive_size(FloppyDriveType drive)
{
    switch (drive) {
    case FLOPPY_DRIVE_TYPE_120:
        return FDRIVE_SIZE_525;
    case FLOPPY_DRIVE_TYPE_144:
    case FLOPPY_DRIVE_TYPE_288:
        return FDRIVE_SIZE_350;
    default:
        return FDRIVE_SIZE_UNKNOWN;
    }
}

bool fd_has_medium(const FDrive *drv)
{
    return drv->blk && blk_is_inserted(drv->blk);
}

/* An empty drive seeks anywhere, as a real one with no diskette steps its head. */
static void fd_empty_seek_hack(FDrive *drv)
{
    drv->last_sect = 0xff;
    drv->max_track = 0xff;
}

void fd_init(FDrive *drv, FDCtrl *fdctrl, BlockBackend *blk)
{
    *drv = (FDrive){
        .fdctrl = fdctrl,
        .blk = blk,
        .drive = blk ? FLOPPY_DRIVE_TYPE_AUTO : FLOPPY_DRIVE_TYPE_NONE,
        .disk = FLOPPY_DRIVE_TYPE_NONE,
        .ro = true,
        .media_changed = true,
    };
}

int64_t fd_sector_calc(const FDrive *drv, uint8_t head, uint8_t track, uint8_t sect)
{
    int64_t sides = drv->double_sided ? 2 : 1;

    return ((track * sides + head) * drv->last_sect) + sect - 1;
}

int64_t fd_sector(const FDrive *drv)
{
    return fd_sector_calc(drv, drv->head, drv->track, drv->sect);
}

int fd_seek(FDrive *drv, uint8_t head, uint8_t track, uint8_t sect)
{
    int ret = 0;

    if (track > drv->max_track || (head != 0 && !drv->double_sided)) {
        return 2;
    }
    if (sect > drv->last_sect) {
        return 3;
    }
    if (fd_sector_calc(drv, head, track, sect) != fd_sector(drv)) {
        drv->head = head;
        if (drv->track != track) {
            /* A step pulse with a diskette in clears the disk-change line. */
            if (fd_has_medium(drv)) {
                drv->media_changed = false;
            }
            ret = 1;
        }
        drv->track = track;
        drv->sect = sect;
    }
    return fd_has_medium(drv) ? ret : 2;
}

void fd_recalibrate(FDrive *drv)
{
    fd_seek(drv, 0, 0, 1);
}

static void fd_set_format(FDrive *drv, const FDFormat *f)
{
    drv->double_sided = f->max_head != 0;
    drv->max_track = f->max_track;
    drv->last_sect = f->last_sect;
    drv->disk = f->drive;
    drv->media_rate = f->rate;
}

/*
 * The medium's geometry, in QEMU's order of preference: (1) the drive's type and the
 * image's sector count, (2) the same physical size and sector count, (3) the drive's type
 * (or, for an auto drive, the fallback type) whatever the size. -1 for an empty drive.
 */
static int fd_pick_geometry(FDrive *drv)
{
    bool magic = drv->drive == FLOPPY_DRIVE_TYPE_AUTO;
    int match = -1, type_match = -1;
    uint64_t nb_sectors;
    int64_t len;

    if (!fd_has_medium(drv) || drv->drive == FLOPPY_DRIVE_TYPE_NONE) {
        return -1;
    }
    len = blk_getlength(drv->blk);
    nb_sectors = len > 0 ? (uint64_t)len / FD_SECTOR_LEN : 0;
    for (int i = 0; i < (int)G_N_ELEMENTS(fd_formats); i++) {
        const FDFormat *f = &fd_formats[i];
        uint64_t size = (uint64_t)(f->max_head + 1) * f->max_track * f->last_sect;

        if (nb_sectors == size) {
            if (magic || f->drive == drv->drive) {
                fd_set_format(drv, f);
                return 0;
            }
            if (match == -1 && fd_drive_size(f->drive) == fd_drive_size(drv->drive)) {
                match = i;
            }
        } else if (type_match == -1 &&
                   (f->drive == drv->drive || (magic && f->drive == drv->fdctrl->fallback))) {
            type_match = i;
        }
    }
    if (match == -1) {
        match = type_match;
    }
    if (match == -1) {
        return -1;
    }
    fd_set_format(drv, &fd_formats[match]);
    return 0;
}

void fd_pick_drive_type(FDrive *drv)
{
    if (drv->drive != FLOPPY_DRIVE_TYPE_AUTO) {
        return;
    }
    if (fd_pick_geometry(drv) == 0) {
        drv->drive = drv->disk;
    } else {
        drv->drive = drv->fdctrl->fallback;
    }
}

void fd_revalidate(FDrive *drv)
{
    if (!drv->blk) {
        drv->last_sect = 0;
        drv->max_track = 0;
        drv->double_sided = false;
        drv->drive = FLOPPY_DRIVE_TYPE_NONE;
        drv->disk = FLOPPY_DRIVE_TYPE_NONE;
        return;
    }
    drv->ro = blk_is_read_only(drv->blk);
    if (!blk_is_inserted(drv->blk)) {
        drv->disk = FLOPPY_DRIVE_TYPE_NONE;
        fd_empty_seek_hack(drv);
    } else if (!drv->media_validated && fd_pick_geometry(drv) == 0) {
        drv->media_validated = true;
    }
}

/* Byte offset of the head's sector, or -1 when it is not wholly inside the image. */
static int64_t fd_offset(FDrive *drv)
{
    int64_t sector = fd_sector(drv);
    int64_t len;

    if (!fd_has_medium(drv) || sector < 0) {
        return -1;
    }
    len = blk_getlength(drv->blk);
    if (len < 0 || sector > (len - FD_SECTOR_LEN) / FD_SECTOR_LEN || len < FD_SECTOR_LEN) {
        return -1;
    }
    return sector * FD_SECTOR_LEN;
}

int fd_read_sector(FDrive *drv, uint8_t *buf)
{
    int64_t off = fd_offset(drv);

    if (off < 0) {
        return -EIO;
    }
    return blk_pread(drv->blk, off, buf, FD_SECTOR_LEN);
}

int fd_write_sector(FDrive *drv, const uint8_t *buf)
{
    int64_t off = fd_offset(drv);

    if (off < 0) {
        return -EIO;
    }
    return blk_pwrite(drv->blk, off, buf, FD_SECTOR_LEN, 0);
}
