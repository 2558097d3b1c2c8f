/*
 * ATAPI CD-ROM: IDENTIFY PACKET DEVICE and the packet protocol (PIO with the byte count
 * limit, or bus-master DMA), the MMC commands QEMU's drive answers (TEST UNIT READY,
 * REQUEST SENSE, INQUIRY, READ CAPACITY, READ(10)/(12)/CD, SEEK, MODE SENSE(10), READ TOC
 * formats 0-2, GET CONFIGURATION, GET EVENT STATUS NOTIFICATION, READ DISC INFORMATION,
 * READ DVD STRUCTURE, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL, MECHANISM STATUS,
 * SET SPEED), the tray and lock, and media-change unit attention. Replies byte for byte as
 * QEMU's atapi.c. Not the ATA task file (core.c).
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "block/block-events.h"
#include "block/error-policy.h"
#include "hw/cdrom.h"
#include "ide-int.h"
#include "util/bswap.h"

enum {
    GPCMD_TEST_UNIT_READY = 0x00,
    GPCMD_REQUEST_SENSE = 0x03,
    GPCMD_INQUIRY = 0x12,
    GPCMD_START_STOP_UNIT = 0x1b,
    GPCMD_PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1e,
    GPCMD_READ_CDVD_CAPACITY = 0x25,
    GPCMD_READ_10 = 0x28,
    GPCMD_SEEK = 0x2b,
    GPCMD_READ_TOC_PMA_ATIP = 0x43,
    GPCMD_GET_CONFIGURATION = 0x46,
    GPCMD_GET_EVENT_STATUS_NOTIFICATION = 0x4a,
    GPCMD_READ_DISC_INFO = 0x51,
    GPCMD_MODE_SENSE_10 = 0x5a,
    GPCMD_READ_12 = 0xa8,
    GPCMD_READ_DVD_STRUCTURE = 0xad,
    GPCMD_SET_SPEED = 0xbb,
    GPCMD_MECHANISM_STATUS = 0xbd,
    GPCMD_READ_CD = 0xbe,
};

enum {
    MODE_PAGE_R_W_ERROR = 0x01,
    MODE_PAGE_AUDIO_CTL = 0x0e,
    MODE_PAGE_CAPABILITIES = 0x2a,
};

/* Command flags (QEMU's): allowed with a unit attention pending, needs a medium, moves no
 * data (so a zero byte count limit is fine). */
enum { ALLOW_UA = 1, CHECK_READY = 2, NONDATA = 4 };





static bool media_present(IDEState *s)
{
    return !s->tray_open && s->nb_sectors > 0;
}

static bool media_is_dvd(IDEState *s)
{
    return media_present(s) && s->nb_sectors > CD_MAX_SECTORS;
}

static bool media_is_cd(IDEState *s)
{
    return media_present(s) && s->nb_sectors <= CD_MAX_SECTORS;
}

/* ---- IDENTIFY PACKET DEVICE ---- */

void ide_atapi_identify(IDEState *s)
{
    uint16_t p[256] = {0};

    p[0] = (2 << 14) | (5 << 8) | (1 << 7) | (2 << 5); /* removable CD-ROM, 12-byte CDB */
    ide_padstr((char *)(p + 10), s->serial, 20);
    p[20] = 3;
    p[21] = 512;
    p[22] = 4;
    ide_padstr((char *)(p + 23), s->version, 8);
    ide_padstr((char *)(p + 27), s->model, 40);
    p[48] = 1;
    p[49] = 1 << 9 | 1 << 8; /* DMA and LBA */
    p[53] = 7;
    p[62] = 7;
    p[63] = 7;
    p[64] = 3;
    p[65] = 0xb4;
    p[66] = 0xb4;
    p[67] = 0x12c;
    p[68] = 0xb4;
    p[71] = 30;
    p[72] = 30;
    p[80] = 0x1e;
    p[88] = 0x3f | (1 << 13);
    for (int i = 0; i < 256; i++) {
        p[i] = GUINT16_TO_LE(p[i]);
    }
    memcpy(s->io_buffer, p, sizeof(p));
}

/* ---- Status ---- */

static void ide_atapi_cmd_ok(IDEState *s)
{
    s->error = 0;
    s->status = READY_STAT | SEEK_STAT;
    s->nsector = (s->nsector & ~7) | ATAPI_INT_REASON_IO | ATAPI_INT_REASON_CD;
    ide_transfer_stop(s);
    ide_set_irq(s->bus);
}

static void ide_atapi_cmd_error(IDEState *s, int sense_key, int asc)
{
    s->error = sense_key << 4;
    s->status = READY_STAT | ERR_STAT;
    s->nsector = (s->nsector & ~7) | ATAPI_INT_REASON_IO | ATAPI_INT_REASON_CD;
    s->sense_key = sense_key;
    s->asc = asc;
    ide_transfer_stop(s);
    ide_set_irq(s->bus);
}

static void ide_atapi_io_error(IDEState *s, int ret)
{
    if (ret == -ENOMEDIUM) {
        ide_atapi_cmd_error(s, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
    } else {
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_LOGICAL_BLOCK_OOR);
    }
}

/*
 * rerror for a failed CD read (no medium is not the medium's error: always reported):
 * false when ignored, true when reported or kept by "stop" (busy, no interrupt) until
 * `cont` runs retry again.
 */
static bool ide_atapi_read_error(IDEState *s, int ret, EndTransferFunc *retry)
{
    BlockErrorAction action =
        ret == -ENOMEDIUM ? BLOCK_ERROR_ACTION_REPORT : blk_handle_error(s->blk, true, ret);

    switch (action) {
    case BLOCK_ERROR_ACTION_IGNORE:
        return false;
    case BLOCK_ERROR_ACTION_STOP:
        s->status |= BUSY_STAT;
        s->retry_fn = retry;
        return true;
    default:
        ide_atapi_io_error(s, ret);
        return true;
    }
}

static void ide_atapi_cmd_check_status(IDEState *s)
{
    s->error = MC_ERR | (SENSE_UNIT_ATTENTION << 4);
    s->status = ERR_STAT;
    s->nsector = 0;
    ide_set_irq(s->bus);
}

/* ---- Sectors and the PIO reply loop ---- */

/* A raw 2352-byte sector around the 2048 data bytes at offset 16 (ECC not computed). */
static void cd_data_to_raw(uint8_t *buf, int64_t lba)
{
    buf[0] = 0x00;
    memset(buf + 1, 0xff, 10);
    buf[11] = 0x00;
    lba_to_msf(buf + 12, lba);
    buf[15] = 0x01; /* mode 1 data */
    memset(buf + 16 + ATAPI_SECTOR_SIZE, 0, 288);
}

static void ide_atapi_cmd_reply_end(IDEState *s);

static void cd_read_sector(IDEState *s);

static void cd_read_sector_done(IDEState *s, int ret, void *buf)
{
    if (ret < 0 && ide_atapi_read_error(s, ret, cd_read_sector)) {
        return;
    }
    s->status &= ~BUSY_STAT;
    memcpy(s->io_buffer + (s->cd_sector_size == 2352 ? 16 : 0), buf, ATAPI_SECTOR_SIZE);
    if (s->cd_sector_size == 2352) {
        cd_data_to_raw(s->io_buffer, s->lba);
    }
    s->lba++;
    s->io_buffer_index = 0;
    ide_atapi_cmd_reply_end(s);
}

static void cd_read_sector(IDEState *s)
{
    void *buf = g_malloc0(ATAPI_SECTOR_SIZE); /* what an ignored error leaves the guest */
    IOVector qiov;

    iov_init_buf(&qiov, buf, ATAPI_SECTOR_SIZE);
    s->status |= BUSY_STAT;
    ide_submit_read(s, (uint64_t)s->lba * ATAPI_SECTOR_SIZE, &qiov, buf, cd_read_sector_done);
}

/* Inside an elementary transfer the next sector is read synchronously, as QEMU does. */
static int cd_read_sector_sync(IDEState *s)
{
    int ret = blk_pread(s->blk, (uint64_t)s->lba * ATAPI_SECTOR_SIZE,
                        s->io_buffer + (s->cd_sector_size == 2352 ? 16 : 0), ATAPI_SECTOR_SIZE);

    if (ret < 0) {
        return ret;
    }
    if (s->cd_sector_size == 2352) {
        cd_data_to_raw(s->io_buffer, s->lba);
    }
    s->lba++;
    s->io_buffer_index = 0;
    return 0;
}

static int atapi_byte_count_limit(IDEState *s)
{
    unsigned bcl = s->lcyl | (s->hcyl << 8);

    return bcl == 0xffff ? 0xfffe : (int)bcl;
}

/* One DRQ block of the reply per call: a new elementary transfer (sized by the byte count
 * limit, announced with an interrupt) or the rest of the current one; a CD read never
 * crosses a sector within one block. */
static void ide_atapi_cmd_reply_end(IDEState *s)
{
    int size;

    if (s->packet_transfer_size <= 0) {
        ide_atapi_cmd_ok(s);
        return;
    }
    if (s->lba != -1 && s->io_buffer_index >= (uint32_t)s->cd_sector_size) {
        if (!s->elementary_transfer_size) {
            cd_read_sector(s);
            return;
        }
        int ret = cd_read_sector_sync(s);
        if (ret < 0) {
            ide_atapi_io_error(s, ret);
            return;
        }
    }
    if (s->elementary_transfer_size > 0) {
        size = MIN(s->cd_sector_size - (int)s->io_buffer_index, s->elementary_transfer_size);
    } else {
        int bcl = atapi_byte_count_limit(s);

        s->nsector = (s->nsector & ~7) | ATAPI_INT_REASON_IO;
        ide_set_irq(s->bus);
        size = MIN(s->packet_transfer_size, (int64_t)INT32_MAX);
        if (size > bcl) {
            size = bcl & ~1; /* the limit must be even then */
        }
        s->lcyl = size;
        s->hcyl = size >> 8;
        s->elementary_transfer_size = size;
        if (s->lba != -1) {
            size = MIN(size, s->cd_sector_size - (int)s->io_buffer_index);
        }
    }
    if (size <= 0 || s->io_buffer_index + size > IDE_BUF_SIZE) {
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
        return;
    }
    s->packet_transfer_size -= size;
    s->elementary_transfer_size -= size;
    s->io_buffer_index += size;
    ide_transfer_start(s, s->io_buffer_index - size, size, PIO_IN, ide_atapi_cmd_reply_end);
}

/* ---- DMA ---- */

static void ide_atapi_dma_read_chunk(IDEState *s);

static void ide_atapi_dma_done(IDEState *s, int ret, void *buf)
{
    if (ret < 0 && ide_atapi_read_error(s, ret, ide_atapi_dma_read_chunk)) {
        if (!s->retry_fn) {
            bmdma_set_inactive(&s->bus->bmdma, false);
        }
        return;
    }
    memcpy(s->io_buffer + (s->cd_sector_size == 2352 ? 16 : 0), buf,
           s->cd_sector_size == 2352 ? ATAPI_SECTOR_SIZE : s->io_buffer_size);
    ide_atapi_dma_cb(s, 0);
}

/* Each step copies the chunk in io_buffer out along the PRDs, then reads the next one. */
void ide_atapi_dma_cb(IDEState *s, int ret)
{
    BMDMAState *bm = &s->bus->bmdma;
    int n, moved;

    if (s->io_buffer_size > 0) {
        if (s->lba != -1) {
            n = s->cd_sector_size == 2352 ? 1 : (int)(s->io_buffer_size / ATAPI_SECTOR_SIZE);
            if (s->cd_sector_size == 2352) {
                cd_data_to_raw(s->io_buffer, s->lba);
            }
            s->lba += n;
        }
        s->packet_transfer_size -= s->io_buffer_size;
        moved = bmdma_rw_buf(bm, s, true);
        if (moved < 0) {
            ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
            bmdma_set_inactive(bm, false);
            return;
        }
        if (moved == 0) {
            bmdma_set_inactive(bm, false);
            return;
        }
    }
    if (s->packet_transfer_size <= 0) {
        s->status = READY_STAT | SEEK_STAT;
        s->nsector = (s->nsector & ~7) | ATAPI_INT_REASON_IO | ATAPI_INT_REASON_CD;
        ide_set_irq(s->bus);
        bmdma_set_inactive(bm, false);
        return;
    }
    ide_atapi_dma_read_chunk(s);
}

/* Read the next chunk of a DMA transfer (again, when a kept request is retried). */
static void ide_atapi_dma_read_chunk(IDEState *s)
{
    IOVector qiov;
    int n;
    void *buf;

    s->io_buffer_index = 0;
    if (s->cd_sector_size == 2352) {
        n = 1;
        s->io_buffer_size = 2352;
    } else {
        n = MIN(s->packet_transfer_size / ATAPI_SECTOR_SIZE, IDE_BUF_SECTORS / 4);
        s->io_buffer_size = n * ATAPI_SECTOR_SIZE;
    }
    buf = g_malloc0(n * ATAPI_SECTOR_SIZE);
    iov_init_buf(&qiov, buf, n * ATAPI_SECTOR_SIZE);
    ide_submit_read(s, (uint64_t)s->lba * ATAPI_SECTOR_SIZE, &qiov, buf, ide_atapi_dma_done);
}

/* ---- Replies ---- */

static void ide_atapi_cmd_reply(IDEState *s, int size, int max_size)
{
    size = MIN(size, max_size);
    s->lba = -1;
    s->packet_transfer_size = size;
    s->io_buffer_size = size;
    s->elementary_transfer_size = 0;
    if (s->atapi_dma) {
        s->status = READY_STAT | SEEK_STAT | DRQ_STAT;
        s->io_buffer_index = 0;
        bmdma_start_dma(s, ide_atapi_dma_cb);
    } else {
        s->status = READY_STAT | SEEK_STAT;
        s->io_buffer_index = 0;
        ide_atapi_cmd_reply_end(s);
    }
}

static void ide_atapi_cmd_read(IDEState *s, int64_t lba, int64_t nb_sectors, int sector_size)
{
    s->lba = lba;
    s->packet_transfer_size = nb_sectors * sector_size;
    s->cd_sector_size = sector_size;
    if (s->atapi_dma) {
        s->io_buffer_size = 0;
        s->status = READY_STAT | SEEK_STAT | DRQ_STAT | BUSY_STAT;
        bmdma_start_dma(s, ide_atapi_dma_cb);
    } else {
        s->elementary_transfer_size = 0;
        s->io_buffer_index = sector_size;
        ide_atapi_cmd_reply_end(s);
    }
}

/* ---- Commands ---- */

static void cmd_test_unit_ready(IDEState *s, uint8_t *buf)
{
    ide_atapi_cmd_ok(s); /* not-ready conditions were handled before */
}

static void cmd_request_sense(IDEState *s, uint8_t *buf)
{
    int max_len = buf[4];

    memset(buf, 0, 18);
    buf[0] = 0x70 | (1 << 7);
    buf[2] = s->sense_key;
    buf[7] = 10;
    buf[12] = s->asc;
    if (s->sense_key == SENSE_UNIT_ATTENTION) {
        s->sense_key = SENSE_NONE;
    }
    ide_atapi_cmd_reply(s, 18, max_len);
}

static bool inquiry_vpd(IDEState *s, uint8_t *buf, int max_len, unsigned *idx)
{
    switch (buf[2]) {
    case 0x00:
        buf[(*idx)++] = 0x00;
        buf[(*idx)++] = 0x83;
        return true;
    case 0x83:
        if (*idx + 24 > (unsigned)max_len) {
            ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, 0x4b); /* data phase error */
            return false;
        }
        memcpy(buf + *idx, "\x02\x00\x00\x14", 4);
        ide_padstr8(buf + *idx + 4, 20, s->serial);
        *idx += 24;
        if (*idx + 72 <= (unsigned)max_len) {
            memcpy(buf + *idx, "\x02\x01\x00\x44", 4);
            ide_padstr8(buf + *idx + 4, 8, "ATA");
            ide_padstr8(buf + *idx + 12, 40, s->model);
            ide_padstr8(buf + *idx + 52, 20, s->serial);
            *idx += 72;
        }
        return true;
    default:
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
        return false;
    }
}

static void cmd_inquiry(IDEState *s, uint8_t *buf)
{
    int max_len = buf[4];
    unsigned idx, size_idx, preamble;

    if (buf[1] & 0x01) { /* EVPD: the page in byte 2 */
        preamble = 4;
        size_idx = 3;
        idx = 4;
        if (!inquiry_vpd(s, buf, max_len, &idx)) {
            return;
        }
        buf[0] = 0x05;
        buf[1] = buf[2];
        buf[2] = 0;
    } else {
        preamble = 5;
        size_idx = 4;
        memcpy(buf, "\x05\x80\x00\x21\x00\x00\x00\x00", 8);
        ide_padstr8(buf + 8, 8, "QEMU");
        ide_padstr8(buf + 16, 16, "QEMU DVD-ROM");
        ide_padstr8(buf + 32, 4, s->version);
        idx = 36;
    }
    buf[size_idx] = idx - preamble;
    ide_atapi_cmd_reply(s, idx, max_len);
}

static void cmd_get_configuration(IDEState *s, uint8_t *buf)
{
    int max_len;
    uint16_t current = media_is_dvd(s)  ? MMC_PROFILE_DVD_ROM
                       : media_is_cd(s) ? MMC_PROFILE_CD_ROM
                                        : MMC_PROFILE_NONE;

    if (buf[2] != 0 || buf[3] != 0) { /* only feature 0 */
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
        return;
    }
    max_len = MIN((int)lduw_be_p(buf + 7), 512);
    memset(buf, 0, 512);
    stw_be_p(buf + 6, current);
    cdrom_profile_list(buf + 8, current);
    stl_be_p(buf, 20 - 4);
    ide_atapi_cmd_reply(s, 20, max_len);
}

static void cmd_get_event_status_notification(IDEState *s, uint8_t *buf)
{
    unsigned max_len = lduw_be_p(buf + 7);
    int used;

    if (!(buf[1] & 0x01)) { /* only polled mode */
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
        return;
    }
    used = cdrom_event_status(buf, buf[4], s->tray_open, blk_is_inserted(s->blk),
                              &s->event_new_media, &s->event_eject_request);
    ide_atapi_cmd_reply(s, used, max_len);
}

static void cmd_read_cdvd_capacity(IDEState *s, uint8_t *buf)
{
    stl_be_p(buf, (s->nb_sectors >> 2) - 1); /* the last LBA */
    stl_be_p(buf + 4, ATAPI_SECTOR_SIZE);
    ide_atapi_cmd_reply(s, 8, 8);
}

static void cmd_read(IDEState *s, uint8_t *buf)
{
    uint64_t total = s->nb_sectors >> 2;
    uint64_t nb = buf[0] == GPCMD_READ_10 ? lduw_be_p(buf + 7) : ldl_be_p(buf + 6);
    uint64_t lba = ldl_be_p(buf + 2);

    if (nb == 0) {
        ide_atapi_cmd_ok(s);
        return;
    }
    if (lba >= total || lba + nb - 1 >= total) {
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_LOGICAL_BLOCK_OOR);
        return;
    }
    ide_atapi_cmd_read(s, lba, nb, ATAPI_SECTOR_SIZE);
}

static void cmd_read_cd(IDEState *s, uint8_t *buf)
{
    uint64_t total = s->nb_sectors >> 2;
    uint64_t nb = buf[6] << 16 | buf[7] << 8 | buf[8];
    uint64_t lba = ldl_be_p(buf + 2);

    if (nb == 0) {
        ide_atapi_cmd_ok(s);
        return;
    }
    if (lba >= total || lba + nb - 1 >= total) {
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_LOGICAL_BLOCK_OOR);
        return;
    }
    switch (buf[9] & 0xf8) {
    case 0x00:
        ide_atapi_cmd_ok(s);
        break;
    case 0x10:
        ide_atapi_cmd_read(s, lba, nb, ATAPI_SECTOR_SIZE);
        break;
    case 0xf8:
        ide_atapi_cmd_read(s, lba, nb, 2352);
        break;
    default:
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
        break;
    }
}

static void cmd_seek(IDEState *s, uint8_t *buf)
{
    if (ldl_be_p(buf + 2) >= s->nb_sectors >> 2) {
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_LOGICAL_BLOCK_OOR);
        return;
    }
    ide_atapi_cmd_ok(s);
}

static void cmd_read_toc_pma_atip(IDEState *s, uint8_t *buf)
{
    uint64_t total = s->nb_sectors >> 2;
    int max_len = lduw_be_p(buf + 7);
    int format = buf[9] >> 6;
    bool msf = (buf[1] >> 1) & 1;
    int len = cdrom_read_toc_format(total, buf, format, msf, buf[6]);

    if (len < 0) {
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
        return;
    }
    ide_atapi_cmd_reply(s, len, max_len);
}

static void cmd_read_disc_information(IDEState *s, uint8_t *buf)
{
    unsigned max_len = lduw_be_p(buf + 7);

    if (buf[1] & 7) { /* types 1 and 2 are Blu-ray only */
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
        return;
    }
    ide_atapi_cmd_reply(s, cdrom_disc_information(buf), max_len);
}

static int mode_sense_page(IDEState *s, uint8_t code, uint8_t *buf)
{
    int len;

    switch (code) {
    case MODE_PAGE_R_W_ERROR:
        len = 16;
        memset(buf + 2, 0, len - 2);
        buf[10] = 0x00;
        buf[11] = 0x05;
        break;
    case MODE_PAGE_AUDIO_CTL:
        len = 24;
        memset(buf + 2, 0, len - 2);
        break;
    case MODE_PAGE_CAPABILITIES:
        len = 30;
        memset(buf + 2, 0, len - 2);
        buf[10] = 0x3b; /* reads CD-R/RW, DVD-ROM/R/RAM */
        buf[12] = 0x71;
        buf[13] = 3 << 5;
        buf[14] = (1 << 0) | (1 << 3) | (1 << 5) | (s->tray_locked ? 1 << 1 : 0);
        stw_be_p(buf + 16, 704); /* 4x */
        buf[19] = 2;
        stw_be_p(buf + 20, 512);
        stw_be_p(buf + 22, 704);
        break;
    default:
        return -1;
    }
    stw_be_p(buf, len - 2);
    buf[2] = 0x70;
    buf[8] = code;
    buf[9] = len - 10;
    return len;
}

static void cmd_mode_sense(IDEState *s, uint8_t *buf)
{
    unsigned max_len = lduw_be_p(buf + 7);
    int action = buf[2] >> 6, len;

    if (action == 3) {
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
        return;
    }
    len = action == 0 ? mode_sense_page(s, buf[2] & 0x3f, buf) : -1;
    if (len < 0) {
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
        return;
    }
    ide_atapi_cmd_reply(s, len, max_len);
}

/*
 * READ DVD STRUCTURE as QEMU 2.2: a CD refuses the DVD formats with INCOMPATIBLE FORMAT,
 * only media type 0 (DVD) is answered. QEMU reads the layer number after clearing the
 * reply, so a layer other than 0 is refused only when the allocation length leaves packet
 * byte 6 in place; kept here so that guests see the same.
 */
static void cmd_read_dvd_structure(IDEState *s, uint8_t *buf)
{
    unsigned max_len = lduw_be_p(buf + 8);
    int media = buf[1], format = buf[7], layer = max_len > 6 ? 0 : buf[6], ret;

    if (format < 0xff && media_is_cd(s)) {
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_INCOMPATIBLE_FORMAT);
        return;
    }
    if (format < 0xff && !media_present(s)) {
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
        return;
    }
    if (media != 0 || (format >= 0x80 && format < 0xff)) {
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
        return;
    }
    memset(buf, 0, 2048 + 4);
    ret = cdrom_read_dvd_structure(s->nb_sectors >> 2, format, layer, buf);
    if (ret < 0) {
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, -ret);
        return;
    }
    ide_atapi_cmd_reply(s, ret, max_len);
}

/* START STOP UNIT: LoEj with Start opens or closes the tray; a locked tray stays shut. */
static void cmd_start_stop_unit(IDEState *s, uint8_t *buf)
{
    bool start = buf[4] & 1, loej = buf[4] & 2;

    if (buf[4] & 0xf0) { /* a power condition: no load or eject */
        ide_atapi_cmd_ok(s);
        return;
    }
    if (loej) {
        if (!start && !s->tray_open && s->tray_locked) {
            ide_atapi_cmd_error(s,
                                blk_is_inserted(s->blk) ? SENSE_NOT_READY : SENSE_ILLEGAL_REQUEST,
                                ASC_MEDIA_REMOVAL_PREVENTED);
            return;
        }
        if (s->tray_open != !start) {
            blk_eject(s->blk, !start);
            s->tray_open = !start;
        }
    }
    ide_atapi_cmd_ok(s);
}

static void cmd_prevent_allow_medium_removal(IDEState *s, uint8_t *buf)
{
    s->tray_locked = buf[4] & 1;
    ide_atapi_cmd_ok(s);
}

static void cmd_mechanism_status(IDEState *s, uint8_t *buf)
{
    int max_len = lduw_be_p(buf + 8);

    ide_atapi_cmd_reply(s, cdrom_mechanism_status(buf), max_len);
}

static void cmd_set_speed(IDEState *s, uint8_t *buf)
{
    ide_atapi_cmd_ok(s);
}

typedef void AtapiHandler(IDEState *s, uint8_t *buf);

static const struct {
    AtapiHandler *handler;
    int flags;
} atapi_cmd_table[0x100] = {
    [GPCMD_TEST_UNIT_READY] = {cmd_test_unit_ready, CHECK_READY | NONDATA},
    [GPCMD_REQUEST_SENSE] = {cmd_request_sense, ALLOW_UA},
    [GPCMD_INQUIRY] = {cmd_inquiry, ALLOW_UA},
    [GPCMD_START_STOP_UNIT] = {cmd_start_stop_unit, NONDATA},
    [GPCMD_PREVENT_ALLOW_MEDIUM_REMOVAL] = {cmd_prevent_allow_medium_removal, NONDATA},
    [GPCMD_READ_CDVD_CAPACITY] = {cmd_read_cdvd_capacity, CHECK_READY},
    [GPCMD_READ_10] = {cmd_read, CHECK_READY},
    [GPCMD_SEEK] = {cmd_seek, CHECK_READY | NONDATA},
    [GPCMD_READ_TOC_PMA_ATIP] = {cmd_read_toc_pma_atip, CHECK_READY},
    [GPCMD_GET_CONFIGURATION] = {cmd_get_configuration, ALLOW_UA},
    [GPCMD_GET_EVENT_STATUS_NOTIFICATION] = {cmd_get_event_status_notification, ALLOW_UA},
    [GPCMD_READ_DISC_INFO] = {cmd_read_disc_information, CHECK_READY},
    [GPCMD_MODE_SENSE_10] = {cmd_mode_sense, 0},
    [GPCMD_READ_12] = {cmd_read, CHECK_READY},
    [GPCMD_READ_DVD_STRUCTURE] = {cmd_read_dvd_structure, CHECK_READY},
    [GPCMD_SET_SPEED] = {cmd_set_speed, NONDATA},
    [GPCMD_MECHANISM_STATUS] = {cmd_mechanism_status, 0},
    [GPCMD_READ_CD] = {cmd_read_cd, CHECK_READY},
};

/* The 12-byte packet has arrived: check the conditions QEMU checks, in its order, then run
 * the command on the packet in io_buffer (replies are built in place). */
void ide_atapi_cmd(IDEState *s)
{
    uint8_t *buf = s->io_buffer;
    int flags = atapi_cmd_table[buf[0]].flags;

    if (s->sense_key == SENSE_UNIT_ATTENTION && !(flags & ALLOW_UA)) {
        ide_atapi_cmd_check_status(s);
        return;
    }
    /* A changed medium is reported as "not present" once, then as unit attention. */
    if (!(flags & ALLOW_UA) && !s->tray_open && blk_is_inserted(s->blk) && s->cdrom_changed) {
        if (s->cdrom_changed == 1) {
            ide_atapi_cmd_error(s, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
            s->cdrom_changed = 2;
        } else {
            ide_atapi_cmd_error(s, SENSE_UNIT_ATTENTION, ASC_MEDIUM_MAY_HAVE_CHANGED);
            s->cdrom_changed = 0;
        }
        return;
    }
    if ((flags & CHECK_READY) && (!media_present(s) || !blk_is_inserted(s->blk))) {
        ide_atapi_cmd_error(s, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
        return;
    }
    if (!atapi_cmd_table[buf[0]].handler) {
        ide_atapi_cmd_error(s, SENSE_ILLEGAL_REQUEST, ASC_ILLEGAL_OPCODE);
        return;
    }
    /* A data command over PIO needs a byte count limit (else an ATA-level abort). */
    if (!(flags & NONDATA) && !s->atapi_dma && atapi_byte_count_limit(s) == 0) {
        ide_abort_command(s);
        return;
    }
    atapi_cmd_table[buf[0]].handler(s, buf);
}
