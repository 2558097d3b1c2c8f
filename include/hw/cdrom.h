/*
 * What a CD/DVD-ROM drive reports about its disc, shared by the ATAPI drive (hw/ide/
 * atapi.c) and scsi-cd (hw/scsi/scsi-cd.c): MSF addresses, the READ TOC/PMA/ATIP formats
 * of a one-track data disc, the MMC profile list, READ DISC INFORMATION, MECHANISM STATUS,
 * the media class of GET EVENT STATUS NOTIFICATION and READ DVD STRUCTURE. Pure functions
 * on a buffer and the disc size in 2048-byte blocks; no transport, sense or drive state.
 */
#ifndef HW_CDROM_H
#define HW_CDROM_H

#include <stdbool.h>
#include <stdint.h>

/* More 2048-byte blocks than an 80-minute CD holds: the disc is a DVD. */
#define CDROM_CD_MAX_BLOCKS (80ULL * 60 * 75)

enum {
    MMC_PROFILE_NONE = 0x0000,
    MMC_PROFILE_CD_ROM = 0x0008,
    MMC_PROFILE_DVD_ROM = 0x0010,
};

/* Additional sense codes the functions below ask their caller to report (negated). */
enum {
    CDROM_ASC_INV_FIELD = 0x24,
    CDROM_ASC_INCOMPATIBLE_FORMAT = 0x30,
};

/* lba as minute, second, frame (the 2-second pregap added) in buf[0..2]. */
void lba_to_msf(uint8_t *buf, int64_t lba);

/* READ TOC/PMA/ATIP format 0 (the TOC from start_track): its length, or -1 for a track
 * the disc does not have. buf needs 20 bytes. */
int cdrom_read_toc(uint64_t nb_blocks, uint8_t *buf, bool msf, int start_track);
/* Format 2 (raw TOC, one session): its length (48 bytes). */
int cdrom_read_toc_raw(uint64_t nb_blocks, uint8_t *buf, bool msf);
/* Formats 0 (TOC), 1 (session information) and 2 (raw TOC): the length, -1 for another
 * format or a track the disc does not have. buf needs 48 bytes. */
int cdrom_read_toc_format(uint64_t nb_blocks, uint8_t *buf, int format, bool msf, int start_track);

/* GET CONFIGURATION feature 0 (profile list: DVD-ROM, CD-ROM) at p, 12 bytes. */
void cdrom_profile_list(uint8_t *p, uint16_t current);
/* READ DISC INFORMATION type 0 of a finalized one-session disc: 34 bytes. */
int cdrom_disc_information(uint8_t *buf);
/* MECHANISM STATUS: no changer, 8 bytes. */
int cdrom_mechanism_status(uint8_t *buf);

/*
 * GET EVENT STATUS NOTIFICATION (polled) with class_request from the CDB: only the media
 * class. The events are consumed (new medium first, then an eject request) unless the tray
 * is open. Returns the length (4 or 8).
 */
int cdrom_event_status(uint8_t *buf, uint8_t class_request, bool tray_open, bool inserted,
                       bool *new_media, bool *eject_request);

/* READ DVD STRUCTURE formats 0 (physical), 1 (copyright), 4 (manufacturing) and ffh (the
 * list) into the cleared buf (2052 bytes); the length, or a negated CDROM_ASC_*. */
int cdrom_read_dvd_structure(uint64_t nb_blocks, int format, int layer, uint8_t *buf);

#endif
