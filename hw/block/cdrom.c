/*
 * The disc a CD/DVD-ROM drive reports, for ATAPI (hw/ide/atapi.c) and scsi-cd
 * (hw/scsi/scsi-cd.c): MSF, TOC formats, profile list, disc information, mechanism
 * status, media events and DVD structures of a one-track data disc, with QEMU's values.
 * Not the commands' checks or sense: each transport does those.
 */
#include <string.h>
#include "hw/cdrom.h"
#include "util/bswap.h"

enum {
    GESN_MEDIA = 4,
    MEC_NO_CHANGE = 0,
    MEC_EJECT_REQUESTED = 1,
    MEC_NEW_MEDIA = 2,
    MS_TRAY_OPEN = 1,
    MS_MEDIA_PRESENT = 2,
};



void lba_to_msf(uint8_t *buf, int64_t lba)
{
    lba += 150;
    buf[0] = (lba / 75) / 60;
    buf[1] = (lba / 75) % 60;
    buf[2] = lba % 75;
}

/* An address in a TOC descriptor: 00h + MSF, or the LBA. */
static uint8_t *toc_address(uint8_t *q, int64_t lba, bool msf)
{
    if (msf) {
        *q++ = 0;
        lba_to_msf(q, lba);
    } else {
        stl_be_p(q, lba);
    }
    return q + (msf ? 3 : 4);
}

int cdrom_read_toc(uint64_t nb_blocks, uint8_t *buf, bool msf, int start_track)
{
    uint8_t *q = buf + 2;

    if (start_track > 1 && start_track != 0xaa) {
        return -1;
    }
    *q++ = 1; /* first session */
    *q++ = 1; /* last session */
    if (start_track <= 1) {
        memcpy(q, "\x00\x14\x01\x00", 4);
        q = toc_address(q + 4, 0, msf);
    }
    memcpy(q, "\x00\x16\xaa\x00", 4); /* lead-out */
    q = toc_address(q + 4, nb_blocks, msf);
    stw_be_p(buf, q - buf - 2);
    return q - buf;
}

int cdrom_read_toc_raw(uint64_t nb_blocks, uint8_t *buf, bool msf)
{
    static const uint8_t head[] = {
        1, 1,                                  /* first, last session */
        1, 0x14, 0, 0xa0, 0, 0, 0, 0, 1, 0, 0, /* lead-in: first track */
        1, 0x14, 0, 0xa1, 0, 0, 0, 0, 1, 0, 0, /* last track */
        1, 0x14, 0, 0xa2, 0, 0, 0,             /* lead-out at ... */
    };
    uint8_t *q = buf + 2;

    memcpy(q, head, sizeof(head));
    q = toc_address(q + sizeof(head), nb_blocks, msf);
    memcpy(q, "\x01\x14\x00\x01\x00\x00\x00", 7); /* track 1 at ... */
    q = toc_address(q + 7, 0, msf);
    stw_be_p(buf, q - buf - 2);
    return q - buf;
}

int cdrom_read_toc_format(uint64_t nb_blocks, uint8_t *buf, int format, bool msf, int start_track)
{
    switch (format) {
    case 0:
        return cdrom_read_toc(nb_blocks, buf, msf, start_track);
    case 1: /* one session */
        memset(buf, 0, 12);
        buf[1] = 0x0a;
        buf[2] = 0x01;
        buf[3] = 0x01;
        return 12;
    case 2:
        return cdrom_read_toc_raw(nb_blocks, buf, msf);
    default:
        return -1;
    }
}

void cdrom_profile_list(uint8_t *p, uint16_t current)
{
    memset(p, 0, 12);
    p[2] = 0x02 | 0x01; /* persistent and current */
    p[3] = 8;
    stw_be_p(p + 4, MMC_PROFILE_DVD_ROM);
    p[6] = current == MMC_PROFILE_DVD_ROM;
    stw_be_p(p + 8, MMC_PROFILE_CD_ROM);
    p[10] = current == MMC_PROFILE_CD_ROM;
}

int cdrom_disc_information(uint8_t *buf)
{
    memset(buf, 0, 34);
    buf[1] = 32;
    buf[2] = 0xe;  /* last session complete, disc finalized */
    buf[3] = 1;    /* first track */
    buf[4] = 1;    /* sessions */
    buf[5] = 1;    /* first track of the last session */
    buf[6] = 1;    /* last track of the last session */
    buf[7] = 0x20; /* unrestricted use */
    return 34;
}

int cdrom_mechanism_status(uint8_t *buf)
{
    memset(buf, 0, 8);
    buf[5] = 1; /* one slot */
    return 8;
}

int cdrom_event_status(uint8_t *buf, uint8_t class_request, bool tray_open, bool inserted,
                       bool *new_media, bool *eject_request)
{
    uint8_t status = tray_open ? MS_TRAY_OPEN : inserted ? MS_MEDIA_PRESENT : 0;
    uint8_t event = MEC_NO_CHANGE;

    buf[0] = buf[1] = 0;
    buf[3] = 1 << GESN_MEDIA; /* supported classes */
    if (!(class_request & (1 << GESN_MEDIA))) {
        buf[2] = 0x80; /* no event available */
        return 4;
    }
    if (status != MS_TRAY_OPEN) {
        if (*new_media) {
            event = MEC_NEW_MEDIA;
            *new_media = false;
        } else if (*eject_request) {
            event = MEC_EJECT_REQUESTED;
            *eject_request = false;
        }
    }
    buf[2] = GESN_MEDIA;
    buf[4] = event;
    buf[5] = status;
    buf[6] = buf[7] = 0;
    stw_be_p(buf, 8 - 4);
    return 8;
}

int cdrom_read_dvd_structure(uint64_t nb_blocks, int format, int layer, uint8_t *buf)
{
    static const uint8_t list[16] = {0x00, 0x40, 0x08, 0x04, 0x01, 0x40, 0x00, 0x08,
                                     0x03, 0x40, 0x00, 0xc0, 0x04, 0x40, 0x08, 0x04};

    switch (format) {
    case 0x00:
        if (layer != 0) {
            return -CDROM_ASC_INV_FIELD;
        }
        buf[4] = 1;                    /* DVD-ROM, part version 1 */
        buf[5] = 0xf;                  /* 120 mm, maximum rate not specified */
        buf[6] = 1;                    /* one layer, read-only */
        stl_be_p(buf + 12, nb_blocks - 1); /* end sector */
        stl_be_p(buf + 16, nb_blocks - 1); /* layer 0 end sector */
        stw_be_p(buf, 2048 + 2);
        return 2048 + 4;
    case 0x01: /* no copyright protection, no region restriction */
        stw_be_p(buf, 4 + 2);
        return 4 + 4;
    case 0x04: /* manufacturing information: all zeros */
        stw_be_p(buf, 2048 + 2);
        return 2048 + 4;
    case 0xff: /* format, readable, length of each format above (BCA listed, refused) */
        memcpy(buf + 4, list, sizeof(list));
        stw_be_p(buf, 16 + 2);
        return 16 + 4;
    default:
        return -CDROM_ASC_INV_FIELD;
    }
}
