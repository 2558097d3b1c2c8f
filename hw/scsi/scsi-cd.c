/*
 * The MMC side of scsi-cd: mode page 2Ah as QEMU's scsi-cd reports it (not the ATAPI
 * drive's page), READ TOC/PMA/ATIP, GET CONFIGURATION, GET EVENT STATUS NOTIFICATION,
 * READ DISC INFORMATION, MECHANISM STATUS and READ DVD STRUCTURE. The disc's layouts come
 * from the shared hw/block/cdrom.c. Not the ATAPI packet protocol (hw/ide/atapi.c).
 */
#include <string.h>
#include <glib.h>
#include "hw/cdrom.h"
#include "scsi-int.h"

#define CD_MAX_SECTORS (CDROM_CD_MAX_BLOCKS * 4) /* in 512-byte units, as QEMU counts */

static uint64_t scsi_cd_sectors(SCSIDiskState *s)
{
    int64_t len = blk_is_available(s->blk) ? blk_getlength(s->blk) : 0;

    return len > 0 ? (uint64_t)len / 512 : 0;
}

static uint16_t scsi_cd_profile(SCSIDiskState *s)
{
    uint64_t n = scsi_cd_sectors(s);

    return n == 0               ? MMC_PROFILE_NONE
           : n > CD_MAX_SECTORS ? MMC_PROFILE_DVD_ROM
                                : MMC_PROFILE_CD_ROM;
}

static int32_t scsi_cd_reply(SCSIDiskReq *r, uint8_t *buf, int len, uint32_t alloc)
{
    int32_t n;

    if (len < 0) {
        g_free(buf);
        return scsi_disk_invalid_field(r);
    }
    n = scsi_req_reply(r->req, buf, len, alloc);
    r->kind = SCSI_DISK_REPLY;
    if (n == 0) {
        scsi_req_complete(r->req, SCSI_STATUS_GOOD, 0);
    }
    return n;
}

static int32_t scsi_cd_read_toc(SCSIDiskReq *r)
{
    const uint8_t *cdb = r->req->cdb;
    uint8_t *buf = g_malloc0(64);
    int len =
        cdrom_read_toc_format(scsi_disk_nb_blocks(r->s), buf, cdb[2] & 0xf, cdb[1] & 2, cdb[6]);

    return scsi_cd_reply(r, buf, len, lduw_be_p(cdb + 7));
}

/* Features 0 (profile list), 1 (core: SCSI, DBE) and 3 (removable medium), as QEMU. */
static int32_t scsi_cd_get_configuration(SCSIDiskReq *r)
{
    uint16_t current = scsi_cd_profile(r->s);
    uint8_t *buf = g_malloc0(40);

    stl_be_p(buf, 36);
    stw_be_p(buf + 6, current);
    cdrom_profile_list(buf + 8, current);
    stw_be_p(buf + 20, 1);
    buf[22] = 0x08 | 0x03; /* version 2, persistent, current */
    buf[23] = 8;
    stl_be_p(buf + 24, 1); /* physical interface: SCSI */
    buf[28] = 1;            /* DBE */
    stw_be_p(buf + 32, 3);
    buf[34] = 0x08 | 0x03;
    buf[35] = 4;
    buf[36] = 0x39; /* tray loader, eject, unlocked at power-up, lock */
    return scsi_cd_reply(r, buf, 40, lduw_be_p(r->req->cdb + 7));
}

static int32_t scsi_cd_event_status(SCSIDiskReq *r)
{
    const uint8_t *cdb = r->req->cdb;
    SCSIDiskState *s = r->s;
    uint8_t *buf;
    int len;

    if (!(cdb[1] & 1)) { /* only polled mode */
        return scsi_disk_invalid_field(r);
    }
    buf = g_malloc0(8);
    len = cdrom_event_status(buf, cdb[4], s->tray_open, blk_is_inserted(s->blk), &s->media_event,
                             &s->eject_request);
    return scsi_cd_reply(r, buf, len, lduw_be_p(cdb + 7));
}

static int32_t scsi_cd_disc_information(SCSIDiskReq *r)
{
    const uint8_t *cdb = r->req->cdb;
    uint8_t *buf;

    if (cdb[1] & 7) { /* types 1 and 2 are for BD only */
        return scsi_disk_invalid_field(r);
    }
    buf = g_malloc0(34);
    return scsi_cd_reply(r, buf, cdrom_disc_information(buf), lduw_be_p(cdb + 7));
}

static int32_t scsi_cd_mechanism_status(SCSIDiskReq *r)
{
    uint8_t *buf = g_malloc0(8);

    return scsi_cd_reply(r, buf, cdrom_mechanism_status(buf), lduw_be_p(r->req->cdb + 8));
}

/* READ DVD STRUCTURE in QEMU's scsi-cd order: media type, medium, a CD, then the format. */
static int32_t scsi_cd_dvd_structure(SCSIDiskReq *r)
{
    const uint8_t *cdb = r->req->cdb;
    uint8_t format = cdb[7];
    uint8_t *buf;
    int len;

    if (cdb[1] != 0) {
        return scsi_disk_invalid_field(r);
    }
    if (format != 0xff && scsi_cd_profile(r->s) == MMC_PROFILE_CD_ROM) {
        scsi_req_check_condition(r->req, SENSE_ILLEGAL_REQUEST, ASC_INCOMPATIBLE_FORMAT, 0);
        return 0;
    }
    buf = g_malloc0(2048 + 4);
    len = cdrom_read_dvd_structure(scsi_disk_nb_blocks(r->s), format, cdb[6], buf);
    if (len == -CDROM_ASC_INCOMPATIBLE_FORMAT) {
        g_free(buf);
        scsi_req_check_condition(r->req, SENSE_ILLEGAL_REQUEST, ASC_INCOMPATIBLE_FORMAT, 0);
        return 0;
    }
    return scsi_cd_reply(r, buf, len < 0 ? -1 : len, lduw_be_p(cdb + 8));
}

int scsi_cd_mode_page_caps(SCSIDiskState *s, uint8_t *p, bool changeable)
{
    if (changeable) {
        return 0x14;
    }
    p[0] = 0x3b; /* reads CD-R, CD-RW, DVD-ROM, DVD-R, DVD-RAM */
    p[2] = 0x7f; /* audio play, composite, digital ports, mode 2 form 1 and 2, multi-session */
    p[3] = 0xff; /* CD-DA, accurate stream, R-W, C2 pointers, ISRC, UPC, bar code */
    p[4] = 0x2d | (s->tray_locked ? 0x02 : 0); /* lock, jumper, eject, tray loader */
    stw_be_p(p + 6, 50 * 176);                /* maximum speed */
    stw_be_p(p + 8, 2);                       /* volume levels */
    stw_be_p(p + 10, 2048);                   /* buffer, KiB */
    stw_be_p(p + 12, 16 * 176);               /* current speed */
    stw_be_p(p + 16, 16 * 176);
    stw_be_p(p + 18, 16 * 176);
    return 0x14;
}

/* Also for scsi-hd, as QEMU: READ TOC answers with the disk's size, the rest of these
 * opcodes get INVALID FIELD IN CDB. */
bool scsi_cd_emulate(SCSIDiskReq *r, int32_t *len)
{
    uint8_t op = r->req->cdb[0];

    if (!r->s->is_cd && op != READ_TOC_PMA_ATIP) {
        switch (op) {
        case GET_CONFIGURATION:
        case GET_EVENT_STATUS_NOTIFICATION:
        case READ_DISC_INFORMATION:
        case MECHANISM_STATUS:
        case READ_DVD_STRUCTURE:
            *len = scsi_disk_invalid_field(r);
            return true;
        default:
            return false;
        }
    }
    switch (op) {
    case READ_TOC_PMA_ATIP:
        *len = scsi_cd_read_toc(r);
        return true;
    case GET_CONFIGURATION:
        *len = scsi_cd_get_configuration(r);
        return true;
    case GET_EVENT_STATUS_NOTIFICATION:
        *len = scsi_cd_event_status(r);
        return true;
    case READ_DISC_INFORMATION:
        *len = scsi_cd_disc_information(r);
        return true;
    case MECHANISM_STATUS:
        *len = scsi_cd_mechanism_status(r);
        return true;
    case READ_DVD_STRUCTURE:
        *len = scsi_cd_dvd_structure(r);
        return true;
    default:
        return false;
    }
}
