/*
 * The SPC/SBC commands of scsi-hd and scsi-cd that are not block transfers: TEST UNIT
 * READY, INQUIRY (standard data and VPD pages 00h, 80h, 83h, B0h, B1h, B2h), MODE SENSE
 * and MODE SELECT (6/10), READ CAPACITY (10/16), START STOP UNIT, PREVENT ALLOW MEDIUM
 * REMOVAL, RESERVE/RELEASE, SEEK, WRITE SAME (10/16) and UNMAP. Replies are built in
 * memory with QEMU's field values. Not READ/WRITE (scsi-disk.c) or MMC (scsi-cd.c).
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "block/block-events.h"
#include "block/error-policy.h"
#include "scsi-int.h"

enum {
    MODE_PAGE_R_W_ERROR = 0x01,
    MODE_PAGE_HD_GEOMETRY = 0x04,
    MODE_PAGE_FLEXIBLE_DISK_GEOMETRY = 0x05,
    MODE_PAGE_CACHING = 0x08,
    MODE_PAGE_AUDIO_CTL = 0x0e,
    MODE_PAGE_CAPABILITIES = 0x2a,
    MODE_PAGE_ALL = 0x3f,
};

#define INQUIRY_MAX_LEN 256
#define VPD_MAX_LEN 512 /* page 83h: 4 + 4 + 247 (device id) + 12 (wwn) */
#define MODE_SENSE_MAX_LEN 256
#define UNMAP_MAX_DESCRIPTORS 255
#define UNMAP_MAX_BYTES (1u << 30) /* QEMU's max_unmap_size */

/* A reply of len bytes at buf (g_malloc'd), cut to the allocation length. */
static int32_t scsi_disk_reply(SCSIDiskReq *r, uint8_t *buf, uint32_t len, uint32_t alloc)
{
    int32_t n = scsi_req_reply(r->req, buf, len, alloc);

    r->kind = SCSI_DISK_REPLY;
    if (n == 0) {
        scsi_req_complete(r->req, SCSI_STATUS_GOOD, 0);
    }
    return n;
}

static int32_t scsi_disk_good(SCSIDiskReq *r)
{
    scsi_req_complete(r->req, SCSI_STATUS_GOOD, 0);
    return 0;
}

static uint8_t scsi_disk_type(SCSIDiskState *s)
{
    return s->is_cd ? SCSI_TYPE_ROM : SCSI_TYPE_DISK;
}

/* Copy str into len bytes padded with spaces (no terminating NUL). */
static void scsi_padstr(uint8_t *dst, const char *str, size_t len)
{
    size_t n = MIN(strlen(str), len);

    memcpy(dst, str, n);
    memset(dst + n, ' ', len - n);
}

/* ---- INQUIRY ---- */

/* VPD page `page` after its 4-byte header in buf; its length, or -1 when not supported. */
static int scsi_disk_vpd(SCSIDiskState *s, uint8_t page, uint8_t *buf)
{
    uint8_t *p = buf + 4;
    uint32_t max_io;
    int n = 0;

    switch (page) {
    case 0x00:
        p[n++] = 0x00;
        if (s->serial) {
            p[n++] = 0x80;
        }
        p[n++] = 0x83;
        if (!s->is_cd) {
            p[n++] = 0xb0;
            p[n++] = 0xb1;
            p[n++] = 0xb2;
        }
        return n;
    case 0x80: {
        size_t l = s->serial ? MIN(strlen(s->serial), 36) : 0;

        if (!s->serial) {
            return -1;
        }
        memcpy(p, s->serial, l);
        return l;
    }
    case 0x83: {
        size_t l = MIN(strlen(s->device_id), 255 - 8);

        if (l) {
            p[n++] = 0x2; /* ASCII */
            p[n++] = 0;   /* vendor specific */
            p[n++] = 0;
            p[n++] = l;
            memcpy(p + n, s->device_id, l);
            n += l;
        }
        if (s->wwn) {
            p[n++] = 0x1; /* binary */
            p[n++] = 0x3; /* NAA */
            p[n++] = 0;
            p[n++] = 8;
            stq_be_p(p + n, s->wwn);
            n += 8;
        }
        return n;
    }
    case 0xb0: /* block limits */
        if (s->is_cd) {
            return -1;
        }
        max_io = INT32_MAX / s->blocksize;
        p[0] = 1; /* WSNZ: WRITE SAME with 0 blocks is refused */
        stw_be_p(p + 2, MIN(s->min_io_size / s->blocksize, max_io)); /* granularity */
        stl_be_p(p + 4, max_io);                                     /* maximum transfer */
        stl_be_p(p + 8, MIN(s->opt_io_size / s->blocksize, max_io)); /* optimal transfer */
        stl_be_p(p + 16, UNMAP_MAX_BYTES / s->blocksize);            /* maximum unmap LBA count */
        stl_be_p(p + 20, UNMAP_MAX_DESCRIPTORS);
        stl_be_p(p + 24, s->discard_granularity / s->blocksize); /* unmap granularity */
        stl_be_p(p + 36, max_io);                                /* maximum write same length */
        return 0x3c;
    case 0xb1: /* block device characteristics: nothing to say */
        if (s->is_cd) {
            return -1;
        }
        return 0x3c;
    case 0xb2: /* logical block provisioning */
        if (s->is_cd) {
            return -1;
        }
        p[1] = 0xe0;                           /* UNMAP, WRITE SAME (16) and (10) */
        p[2] = s->discard_granularity ? 2 : 1; /* thin or resource provisioned */
        return 4;
    default:
        return -1;
    }
}

static int32_t scsi_disk_inquiry(SCSIDiskReq *r)
{
    SCSIDiskState *s = r->s;
    const uint8_t *cdb = r->req->cdb;
    uint32_t alloc = lduw_be_p(cdb + 3);
    uint8_t *buf = g_malloc0(VPD_MAX_LEN);
    uint32_t len;

    if (cdb[1] & 1) {
        int n = scsi_disk_vpd(s, cdb[2], buf);

        if (n < 0) {
            g_free(buf);
            return scsi_disk_invalid_field(r);
        }
        buf[0] = scsi_disk_type(s);
        buf[1] = cdb[2];
        stw_be_p(buf + 2, n);
        return scsi_disk_reply(r, buf, n + 4, alloc);
    }
    if (cdb[2] != 0) {
        g_free(buf);
        return scsi_disk_invalid_field(r);
    }
    /* As QEMU: as much as asked for (up to 256), zeros after the 36 bytes of data. */
    len = MIN(alloc, INQUIRY_MAX_LEN);
    buf[0] = scsi_disk_type(s);
    buf[1] = s->removable ? 0x80 : 0;
    buf[2] = 5;        /* SPC-3 */
    buf[3] = 2 | 0x10; /* response data format 2, HiSup */
    buf[4] = len > 36 ? len - 5 : 36 - 5;
    buf[7] = 0x10 | 0x02; /* sync, command queueing */
    scsi_padstr(buf + 8, s->vendor, 8);
    scsi_padstr(buf + 16, s->product, 16);
    memcpy(buf + 32, s->version, MIN(strlen(s->version), 4));
    return scsi_disk_reply(r, buf, len, alloc);
}

/* ---- MODE SENSE / MODE SELECT ---- */

static bool scsi_disk_page_valid(SCSIDiskState *s, uint8_t page)
{
    switch (page) {
    case MODE_PAGE_R_W_ERROR:
    case MODE_PAGE_CACHING:
        return true;
    case MODE_PAGE_HD_GEOMETRY:
    case MODE_PAGE_FLEXIBLE_DISK_GEOMETRY:
        return !s->is_cd;
    case MODE_PAGE_AUDIO_CTL:
    case MODE_PAGE_CAPABILITIES:
        return s->is_cd;
    default:
        return false;
    }
}

/* Mode page `page` (header included) at p; its length. changeable: page control 1. */
static int scsi_disk_mode_page(SCSIDiskState *s, uint8_t page, uint8_t *p, bool changeable)
{
    uint8_t *d = p + 2;
    uint32_t cyls = s->cyls, heads = s->heads, secs = s->secs;
    int len = 0;

    switch (page) {
    case MODE_PAGE_R_W_ERROR:
        len = 10;
        if (!changeable || s->is_cd) {
            d[0] = 0x80; /* AWRE (changeable on a CD, as QEMU says) */
        }
        if (!changeable && s->is_cd) {
            d[1] = 0x20; /* read retry count */
        }
        break;
    case MODE_PAGE_HD_GEOMETRY:
        len = 0x16;
        if (!changeable) {
            d[0] = cyls >> 16;
            d[1] = cyls >> 8;
            d[2] = cyls;
            d[3] = heads;
            memcpy(d + 4, d, 3); /* write precompensation: disabled */
            memcpy(d + 7, d, 3); /* reduced write current: disabled */
            d[11] = 200;         /* step rate, ns */
            memset(d + 12, 0xff, 3);
            stw_be_p(d + 18, 5400); /* rpm */
        }
        break;
    case MODE_PAGE_FLEXIBLE_DISK_GEOMETRY:
        len = 0x1e;
        if (!changeable) {
            stw_be_p(d, 5000); /* kbit/s */
            d[2] = heads;
            d[3] = secs;
            d[4] = s->blocksize >> 8;
            stw_be_p(d + 6, cyls);
            stw_be_p(d + 8, cyls);
            stw_be_p(d + 10, cyls);
            d[13] = 1;
            d[14] = 1;
            d[16] = 1;
            d[17] = 1;
            d[18] = 1;
            stw_be_p(d + 26, 5400);
        }
        break;
    case MODE_PAGE_CACHING:
        len = 0x12;
        if (changeable || blk_enable_write_cache(s->blk)) {
            d[0] = 0x04; /* WCE */
        }
        break;
    case MODE_PAGE_AUDIO_CTL:
        len = 14;
        break;
    case MODE_PAGE_CAPABILITIES:
        len = scsi_cd_mode_page_caps(s, d, changeable);
        break;
    }
    p[0] = page;
    p[1] = len;
    return len + 2;
}

/* MODE SENSE (6/10). MMC drives have no block descriptor and no device-specific byte;
 * LLBAA is ignored (8-byte descriptors only), as QEMU. */
static int32_t scsi_disk_mode_sense(SCSIDiskReq *r)
{
    SCSIDiskState *s = r->s;
    const uint8_t *cdb = r->req->cdb;
    bool six = cdb[0] == MODE_SENSE_6;
    bool dbd = (cdb[1] & 0x08) || s->is_cd;
    uint8_t page = cdb[2] & 0x3f, pc = cdb[2] >> 6;
    uint32_t alloc = six ? cdb[4] : lduw_be_p(cdb + 7);
    uint64_t nb = scsi_disk_nb_blocks(s);
    uint8_t *buf, *p;
    uint32_t len;

    if (pc == 3) {
        scsi_req_check_condition(r->req, SENSE_ILLEGAL_REQUEST, ASC_SAVING_PARAMS_NOT_SUPPORTED, 0);
        return 0;
    }
    if (page != MODE_PAGE_ALL && !scsi_disk_page_valid(s, page)) {
        return scsi_disk_invalid_field(r);
    }
    buf = g_malloc0(MODE_SENSE_MAX_LEN);
    p = buf + (six ? 4 : 8);
    if (!s->is_cd) { /* device-specific parameter: WP, DPOFUA */
        buf[six ? 2 : 3] = (blk_is_read_only(s->blk) ? 0x80 : 0) | (s->dpofua ? 0x10 : 0);
    }
    if (!dbd && nb) {
        buf[six ? 3 : 7] = 8;
        stl_be_p(p, nb > 0xffffff ? 0 : nb);
        p[0] = 0; /* density code */
        stl_be_p(p + 4, s->blocksize & 0xffffff);
        p += 8;
    }
    if (page == MODE_PAGE_ALL) {
        for (uint8_t i = 0; i < MODE_PAGE_ALL; i++) {
            if (scsi_disk_page_valid(s, i)) {
                p += scsi_disk_mode_page(s, i, p, pc == 1);
            }
        }
    } else {
        p += scsi_disk_mode_page(s, page, p, pc == 1);
    }
    len = p - buf;
    if (six) {
        buf[0] = len - 1;
    } else {
        stw_be_p(buf, len - 2);
    }
    return scsi_disk_reply(r, buf, len, alloc);
}

static void scsi_disk_param_error(SCSIDiskReq *r, uint8_t asc)
{
    scsi_req_check_condition(r->req, SENSE_ILLEGAL_REQUEST, asc, 0);
}

/*
 * One page of a MODE SELECT list, QEMU's rule: a page this device has, of the length
 * MODE SENSE gives it, whose bits other than the changeable ones (WCE) are what MODE
 * SENSE reports. 0, or the ASC to refuse the list with.
 */
static uint8_t scsi_disk_check_page(SCSIDiskState *s, uint8_t page, const uint8_t *data,
                                    uint32_t len)
{
    uint8_t cur[MODE_SENSE_MAX_LEN] = {0}, mask[MODE_SENSE_MAX_LEN] = {0};

    if (!scsi_disk_page_valid(s, page) || len + 2 > sizeof(cur) ||
        (uint32_t)scsi_disk_mode_page(s, page, cur, false) != len + 2) {
        return ASC_INVALID_FIELD_IN_PARAM;
    }
    scsi_disk_mode_page(s, page, mask, true);
    for (uint32_t i = 0; i < len; i++) {
        if ((cur[i + 2] ^ data[i]) & ~mask[i + 2]) {
            return ASC_INVALID_FIELD_IN_PARAM;
        }
    }
    return 0;
}

/* Walk the pages of a MODE SELECT list: checked only, or applied. 0, or an ASC. */
static uint8_t scsi_disk_select_pages(SCSIDiskState *s, const uint8_t *p, uint32_t len, bool apply)
{
    while (len > 0) {
        uint8_t page = p[0] & 0x3f, asc;
        uint32_t hdr = p[0] & 0x40 ? 4 : 2, plen;

        if (len < hdr) {
            return ASC_PARAM_LIST_LENGTH_ERROR;
        }
        if (hdr == 4 && p[1] != 0) { /* no subpages */
            return ASC_INVALID_FIELD_IN_PARAM;
        }
        plen = hdr == 4 ? lduw_be_p(p + 2) : p[1];
        p += hdr;
        len -= hdr;
        if (plen > len) {
            return ASC_PARAM_LIST_LENGTH_ERROR;
        }
        if (!apply && (asc = scsi_disk_check_page(s, page, p, plen))) {
            return asc;
        }
        if (apply && page == MODE_PAGE_CACHING) {
            blk_set_enable_write_cache(s->blk, p[0] & 0x04);
        }
        p += plen;
        len -= plen;
    }
    return 0;
}

/* The MODE SELECT parameter list is in r->iobuf: header, at most one block descriptor
 * (its block length is not applied), then pages, all checked before any is applied. */
static void scsi_disk_mode_select_done(SCSIDiskReq *r)
{
    bool six = r->req->cdb[0] == MODE_SELECT_6;
    uint32_t len = r->remaining, hdr = six ? 4 : 8, bd_len;
    const uint8_t *p = r->iobuf;
    uint8_t asc;

    r->kind = SCSI_DISK_AIO; /* no more data moves */
    if (len < hdr) {
        scsi_disk_param_error(r, ASC_PARAM_LIST_LENGTH_ERROR);
        return;
    }
    bd_len = six ? p[3] : lduw_be_p(p + 6);
    if (len - hdr < bd_len) {
        scsi_disk_param_error(r, ASC_PARAM_LIST_LENGTH_ERROR);
        return;
    }
    if (bd_len != 0 && bd_len != 8) {
        scsi_disk_param_error(r, ASC_INVALID_FIELD_IN_PARAM);
        return;
    }
    p += hdr + bd_len;
    len -= hdr + bd_len;
    asc = scsi_disk_select_pages(r->s, p, len, false);
    if (asc) {
        scsi_disk_param_error(r, asc);
        return;
    }
    scsi_disk_select_pages(r->s, p, len, true);
    if (!blk_enable_write_cache(r->s->blk)) {
        /* Write-through from now on: what the cache held goes to the medium first. */
        scsi_disk_flush(r);
        return;
    }
    scsi_req_complete(r->req, SCSI_STATUS_GOOD, scsi_req_resid(r->req));
}

static int32_t scsi_disk_mode_select(SCSIDiskReq *r)
{
    const uint8_t *cdb = r->req->cdb;
    uint32_t len = cdb[0] == MODE_SELECT_6 ? cdb[4] : lduw_be_p(cdb + 7);

    if ((cdb[1] & 0x11) != 0x10) { /* PF=1 (SPC page format), SP=0 */
        return scsi_disk_invalid_field(r);
    }
    return scsi_disk_param_in(r, len, scsi_disk_mode_select_done);
}

/* ---- READ CAPACITY ---- */

static int32_t scsi_disk_read_capacity_10(SCSIDiskReq *r)
{
    const uint8_t *cdb = r->req->cdb;
    uint64_t nb = scsi_disk_nb_blocks(r->s);
    uint8_t *buf;

    if (nb == 0) {
        scsi_req_check_condition(r->req, SENSE_NOT_READY, 0x04, 0x00);
        return 0;
    }
    if (!(cdb[8] & 1) && ldl_be_p(cdb + 2)) { /* an LBA without PMI */
        return scsi_disk_invalid_field(r);
    }
    buf = g_malloc0(8);
    stl_be_p(buf, MIN(nb - 1, (uint64_t)UINT32_MAX)); /* clipped, not modulo 2^32 */
    stl_be_p(buf + 4, r->s->blocksize);
    return scsi_disk_reply(r, buf, 8, 8);
}

/* log2 of physical blocks per logical block, for READ CAPACITY(16). */
static uint8_t scsi_disk_physical_exp(SCSIDiskState *s)
{
    uint8_t exp = 0;

    for (uint32_t n = s->physical_block_size; n > s->blocksize; n >>= 1) {
        exp++;
    }
    return exp;
}

static int32_t scsi_disk_service_action_in(SCSIDiskReq *r)
{
    const uint8_t *cdb = r->req->cdb;
    uint64_t nb = scsi_disk_nb_blocks(r->s);
    uint8_t *buf;

    if ((cdb[1] & 0x1f) != SAI_READ_CAPACITY_16) {
        return scsi_disk_invalid_field(r);
    }
    if (nb == 0) {
        scsi_req_check_condition(r->req, SENSE_NOT_READY, 0x04, 0x00);
        return 0;
    }
    if (!(cdb[14] & 1) && ldq_be_p(cdb + 2)) {
        return scsi_disk_invalid_field(r);
    }
    buf = g_malloc0(32);
    stq_be_p(buf, nb - 1);
    stl_be_p(buf + 8, r->s->blocksize);
    buf[13] = scsi_disk_physical_exp(r->s);
    if (r->s->discard_granularity) {
        buf[14] = 0x80; /* LBPME, as QEMU (a CD too) */
    }
    return scsi_disk_reply(r, buf, 32, ldl_be_p(cdb + 10));
}

/* ---- Medium handling ---- */

static int32_t scsi_disk_start_stop(SCSIDiskReq *r)
{
    SCSIDiskState *s = r->s;
    uint8_t b = r->req->cdb[4];
    bool start = b & 1, loej = b & 2;

    if ((b & 0xf0) || !s->removable || !loej) { /* a power condition: no load or eject */
        return scsi_disk_good(r);
    }
    if (!start && !s->tray_open && s->tray_locked) {
        scsi_req_check_condition(r->req,
                                 blk_is_inserted(s->blk) ? SENSE_ILLEGAL_REQUEST : SENSE_NOT_READY,
                                 ASC_MEDIUM_REMOVAL_PREVENTED, 0x02);
        return 0;
    }
    if (s->tray_open != !start) {
        blk_eject(s->blk, !start);
        s->tray_open = !start;
    }
    return scsi_disk_good(r);
}

static int32_t scsi_disk_prevent_allow(SCSIDiskReq *r)
{
    r->s->tray_locked = r->req->cdb[4] & 1;
    return scsi_disk_good(r);
}

/* ---- WRITE SAME and UNMAP ---- */

static void scsi_disk_ws_step(SCSIDiskReq *r);

static void scsi_disk_ws_done(void *opaque, int ret)
{
    SCSIDiskReq *r = opaque;

    if (!scsi_disk_aio_end(r)) {
        return;
    }
    if (ret < 0 && scsi_disk_io_failed(r, ret, false, scsi_disk_ws_step)) {
        scsi_req_unref(r->req);
        return;
    }
    r->ws_lba += r->chunk / r->s->blocksize;
    r->ws_blocks -= r->chunk / r->s->blocksize;
    scsi_disk_ws_step(r);
    scsi_req_unref(r->req);
}

/* One piece of a WRITE SAME: zeroes (maybe unmapped) at once, else a buffer of copies. */
static void scsi_disk_ws_step(SCSIDiskReq *r)
{
    SCSIDiskState *s = r->s;
    uint64_t off = r->ws_lba * s->blocksize;

    if (r->ws_blocks == 0) {
        scsi_req_complete(r->req, SCSI_STATUS_GOOD, scsi_req_resid(r->req));
        return;
    }
    scsi_disk_aio_begin(r);
    if (r->ws_zero) {
        uint64_t blocks = MIN(r->ws_blocks, (uint64_t)(1u << 30) / s->blocksize);

        r->chunk = blocks * s->blocksize;
        blk_aio_pwrite_zeroes(s->blk, off, r->chunk, r->ws_unmap ? BDRV_REQ_MAY_UNMAP : 0,
                              scsi_disk_ws_done, r);
        return;
    }
    r->chunk = MIN(r->ws_blocks, (uint64_t)(SCSI_DISK_CHUNK / s->blocksize)) * s->blocksize;
    iov_reset(&r->qiov);
    iov_add(&r->qiov, r->iobuf, r->chunk);
    blk_aio_pwritev(s->blk, off, &r->qiov, 0, scsi_disk_ws_done, r);
}

static void scsi_disk_write_same_done(SCSIDiskReq *r)
{
    uint32_t bs = r->s->blocksize;

    r->kind = SCSI_DISK_AIO; /* no more data moves */
    r->ws_zero = buffer_is_zero(r->iobuf, bs);
    if (!r->ws_zero) {
        uint32_t copies = MIN(r->ws_blocks, (uint64_t)(SCSI_DISK_CHUNK / bs));

        uint8_t *block = g_memdup2(r->iobuf, bs);

        scsi_disk_iobuf_new(r, (size_t)copies * bs);
        r->req->buf = r->iobuf;
        for (uint32_t i = 0; i < copies; i++) {
            memcpy(r->iobuf + (size_t)i * bs, block, bs);
        }
        g_free(block);
    }
    scsi_disk_ws_step(r);
}

/* WRITE SAME (10/16): one block from the HBA (none with NDOB: zeroes) written nb times;
 * zeroes with UNMAP may be deallocated. PBDATA, LBDATA, ANCHOR are refused, as QEMU. */
static int32_t scsi_disk_write_same(SCSIDiskReq *r)
{
    const uint8_t *cdb = r->req->cdb;
    bool ten = cdb[0] == WRITE_SAME_10;
    uint64_t lba = ten ? ldl_be_p(cdb + 2) : ldq_be_p(cdb + 2);
    uint64_t nb = ten ? lduw_be_p(cdb + 7) : ldl_be_p(cdb + 10);

    if (nb == 0 || (cdb[1] & 0x16)) { /* WSNZ: 0 blocks is refused */
        return scsi_disk_invalid_field(r);
    }
    if (blk_is_read_only(r->s->blk)) {
        scsi_req_check_condition(r->req, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
        return 0;
    }
    if (!scsi_disk_check_range(r, lba, nb)) {
        return 0;
    }
    r->ws_lba = lba;
    r->ws_blocks = nb;
    r->ws_unmap = cdb[1] & 0x08;
    if (cdb[1] & 0x01) { /* NDOB */
        r->kind = SCSI_DISK_AIO;
        r->ws_zero = true;
        scsi_disk_ws_step(r);
        return 0;
    }
    return scsi_disk_param_in(r, r->s->blocksize, scsi_disk_write_same_done);
}

/* The UNMAP parameter list is in r->iobuf: each descriptor is checked, then discarded
 * one after the other (ws_lba counts the descriptors done). */
static void scsi_disk_unmap_step(SCSIDiskReq *r);

static void scsi_disk_unmap_done(void *opaque, int ret)
{
    SCSIDiskReq *r = opaque;

    if (!scsi_disk_aio_end(r)) {
        return;
    }
    if (ret < 0 && scsi_disk_io_failed(r, ret, false, scsi_disk_unmap_step)) {
        scsi_req_unref(r->req);
        return;
    }
    r->ws_lba++;
    scsi_disk_unmap_step(r);
    scsi_req_unref(r->req);
}

static void scsi_disk_unmap_step(SCSIDiskReq *r)
{
    const uint8_t *d = r->iobuf + 8 + r->ws_lba * 16;
    uint32_t bs = r->s->blocksize;

    if (r->ws_lba == r->ws_blocks) {
        scsi_req_complete(r->req, SCSI_STATUS_GOOD, scsi_req_resid(r->req));
        return;
    }
    scsi_disk_aio_begin(r);
    blk_aio_pdiscard(r->s->blk, ldq_be_p(d) * bs, (uint64_t)ldl_be_p(d + 8) * bs,
                     scsi_disk_unmap_done, r);
}

static void scsi_disk_unmap_list(SCSIDiskReq *r)
{
    uint32_t len = r->remaining;
    const uint8_t *p = r->iobuf;
    uint32_t desc_len;

    r->kind = SCSI_DISK_AIO; /* no more data moves */
    if (len < 8 || lduw_be_p(p) + 2u > len || lduw_be_p(p + 2) + 8u > len ||
        lduw_be_p(p + 2) % 16) {
        scsi_disk_param_error(r, ASC_PARAM_LIST_LENGTH_ERROR);
        return;
    }
    desc_len = lduw_be_p(p + 2);
    if (desc_len / 16 > UNMAP_MAX_DESCRIPTORS) {
        scsi_disk_param_error(r, ASC_INVALID_FIELD_IN_PARAM);
        return;
    }
    for (uint32_t i = 0; i < desc_len / 16; i++) {
        const uint8_t *d = p + 8 + i * 16;

        if (!scsi_disk_check_range(r, ldq_be_p(d), ldl_be_p(d + 8))) {
            return;
        }
    }
    r->ws_lba = 0;
    r->ws_blocks = desc_len / 16;
    scsi_disk_unmap_step(r);
}

static int32_t scsi_disk_unmap(SCSIDiskReq *r)
{
    const uint8_t *cdb = r->req->cdb;

    if (blk_is_read_only(r->s->blk)) {
        scsi_req_check_condition(r->req, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
        return 0;
    }
    if (cdb[1] & 0x01) { /* ANCHOR */
        return scsi_disk_invalid_field(r);
    }
    return scsi_disk_param_in(r, lduw_be_p(cdb + 7), scsi_disk_unmap_list);
}

/* FORMAT UNIT: nothing to format; with FMTDATA the parameter list header (4 bytes, 8 with
 * LONGLIST) is taken and ignored, as QEMU. */
static void scsi_disk_format_done(SCSIDiskReq *r)
{
    r->kind = SCSI_DISK_AIO; /* no more data moves */
    scsi_req_complete(r->req, SCSI_STATUS_GOOD, scsi_req_resid(r->req));
}

static int32_t scsi_disk_format_unit(SCSIDiskReq *r)
{
    uint8_t b1 = r->req->cdb[1];

    if (!(b1 & 0x10)) {
        return scsi_disk_good(r);
    }
    return scsi_disk_param_in(r, b1 & 0x20 ? 8 : 4, scsi_disk_format_done);
}

/* ---- Dispatch ---- */

bool scsi_disk_emulate(SCSIDiskReq *r, int32_t *len)
{
    const uint8_t *cdb = r->req->cdb;
    bool disk = !r->s->is_cd;

    switch (cdb[0]) {
    case TEST_UNIT_READY:
        *len = scsi_disk_good(r);
        return true;
    case FORMAT_UNIT:
        *len = scsi_disk_format_unit(r);
        return true;
    case INQUIRY:
        *len = scsi_disk_inquiry(r);
        return true;
    case MODE_SENSE_6:
    case MODE_SENSE_10:
        *len = scsi_disk_mode_sense(r);
        return true;
    case MODE_SELECT_6:
    case MODE_SELECT_10:
        *len = scsi_disk_mode_select(r);
        return true;
    case READ_CAPACITY_10:
        *len = scsi_disk_read_capacity_10(r);
        return true;
    case SERVICE_ACTION_IN_16:
        *len = scsi_disk_service_action_in(r);
        return true;
    case START_STOP_UNIT:
        *len = scsi_disk_start_stop(r);
        return true;
    case PREVENT_ALLOW_MEDIUM_REMOVAL:
        *len = scsi_disk_prevent_allow(r);
        return true;
    case RESERVE_6:
    case RELEASE_6:
        *len = cdb[1] & 1 ? scsi_disk_invalid_field(r) : scsi_disk_good(r);
        return true;
    case RESERVE_10:
    case RELEASE_10:
        *len = cdb[1] & 3 ? scsi_disk_invalid_field(r) : scsi_disk_good(r);
        return true;
    case SEEK_10: /* an LBA on the medium: the capacity itself is out of range */
        if (scsi_disk_check_range(r, ldl_be_p(cdb + 2), 1)) {
            scsi_disk_good(r);
        }
        *len = 0;
        return true;
    case WRITE_SAME_10:
    case WRITE_SAME_16:
        *len = disk ? scsi_disk_write_same(r) : 0;
        return disk;
    case UNMAP:
        *len = disk ? scsi_disk_unmap(r) : 0;
        return disk;
    default:
        return false;
    }
}
