/*
 * ATA disk commands: the command table (which commands each drive kind accepts, QEMU's
 * set), IDENTIFY DEVICE, CHS/LBA28/LBA48 addressing with every LBA range-checked against
 * the medium, PIO READ/WRITE (SECTORS, MULTIPLE, EXT), DMA READ/WRITE (through bmdma.c),
 * FLUSH CACHE, SET FEATURES, SET MULTIPLE MODE, READ VERIFY, INITIALIZE DEVICE PARAMETERS,
 * DEVICE RESET and DIAGNOSTIC, and the geometry QEMU computes for a disk. Not the packet
 * commands (atapi.c).
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "block/error-policy.h"
#include "ide-int.h"

enum {
    WIN_NOP = 0x00,
    WIN_DSM = 0x06,
    WIN_DEVICE_RESET = 0x08,
    WIN_RECAL = 0x10,
    WIN_READ = 0x20,
    WIN_READ_ONCE = 0x21,
    WIN_READ_EXT = 0x24,
    WIN_READDMA_EXT = 0x25,
    WIN_READ_NATIVE_MAX_EXT = 0x27,
    WIN_MULTREAD_EXT = 0x29,
    WIN_WRITE = 0x30,
    WIN_WRITE_ONCE = 0x31,
    WIN_WRITE_EXT = 0x34,
    WIN_WRITEDMA_EXT = 0x35,
    WIN_MULTWRITE_EXT = 0x39,
    WIN_WRITE_VERIFY = 0x3c,
    WIN_VERIFY = 0x40,
    WIN_VERIFY_ONCE = 0x41,
    WIN_VERIFY_EXT = 0x42,
    WIN_SEEK = 0x70,
    WIN_DIAGNOSE = 0x90,
    WIN_SPECIFY = 0x91,
    WIN_STANDBYNOW2 = 0x94,
    WIN_IDLEIMMEDIATE2 = 0x95,
    WIN_STANDBY2 = 0x96,
    WIN_SETIDLE2 = 0x97,
    WIN_CHECKPOWERMODE2 = 0x98,
    WIN_SLEEPNOW2 = 0x99,
    WIN_PACKETCMD = 0xa0,
    WIN_PIDENTIFY = 0xa1,
    WIN_SMART = 0xb0,
    WIN_MULTREAD = 0xc4,
    WIN_MULTWRITE = 0xc5,
    WIN_SETMULT = 0xc6,
    WIN_READDMA = 0xc8,
    WIN_READDMA_ONCE = 0xc9,
    WIN_WRITEDMA = 0xca,
    WIN_WRITEDMA_ONCE = 0xcb,
    WIN_STANDBYNOW1 = 0xe0,
    WIN_IDLEIMMEDIATE = 0xe1,
    WIN_STANDBY = 0xe2,
    WIN_SETIDLE1 = 0xe3,
    WIN_CHECKPOWERMODE1 = 0xe5,
    WIN_SLEEPNOW1 = 0xe6,
    WIN_FLUSH_CACHE = 0xe7,
    WIN_FLUSH_CACHE_EXT = 0xea,
    WIN_IDENTIFY = 0xec,
    WIN_SETFEATURES = 0xef,
    WIN_READ_NATIVE_MAX = 0xf8,
};

/* Which drive kinds may run a command, and whether success sets DSC. */
enum {
    HD_OK = 1 << IDE_HD,
    CD_OK = 1 << IDE_CD,
    NONE_OK = 1 << IDE_NONE, /* an absent master behaves as a disk without medium */
    ALL_OK = HD_OK | CD_OK | NONE_OK,
    HDN_OK = HD_OK | NONE_OK,
    SET_DSC = 1 << 8,
};

/* ---- Addressing ---- */

int64_t ide_get_sector(IDEState *s)
{
    if (s->select & ATA_DEV_LBA) {
        if (s->lba48) {
            return ((int64_t)s->hob_hcyl << 40) | ((int64_t)s->hob_lcyl << 32) |
                   ((int64_t)s->hob_sector << 24) | ((int64_t)s->hcyl << 16) |
                   ((int64_t)s->lcyl << 8) | s->sector;
        }
        return ((int64_t)(s->select & ATA_DEV_HS) << 24) | (s->hcyl << 16) | (s->lcyl << 8) |
               s->sector;
    }
    /* CHS; sector 0 is invalid and gives -1, which the range check refuses. */
    return ((int64_t)((s->hcyl << 8) | s->lcyl) * s->heads + (s->select & ATA_DEV_HS)) *
               s->sectors +
           s->sector - 1;
}

void ide_set_sector(IDEState *s, int64_t sector_num)
{
    if (s->select & ATA_DEV_LBA) {
        if (s->lba48) {
            s->sector = sector_num;
            s->lcyl = sector_num >> 8;
            s->hcyl = sector_num >> 16;
            s->hob_sector = sector_num >> 24;
            s->hob_lcyl = sector_num >> 32;
            s->hob_hcyl = sector_num >> 40;
        } else {
            s->select = (s->select & 0xf0) | ((sector_num >> 24) & ATA_DEV_HS);
            s->hcyl = sector_num >> 16;
            s->lcyl = sector_num >> 8;
            s->sector = sector_num;
        }
    } else if (s->heads && s->sectors) {
        /* INITIALIZE DEVICE PARAMETERS may have set zero sectors: leave the registers. */
        int64_t per_cyl = (int64_t)s->heads * s->sectors;
        int64_t cyl = sector_num / per_cyl, r = sector_num % per_cyl;

        s->hcyl = cyl >> 8;
        s->lcyl = cyl;
        s->select = (s->select & 0xf0) | ((r / s->sectors) & ATA_DEV_HS);
        s->sector = (r % s->sectors) + 1;
    }
}

bool ide_sect_range_ok(IDEState *s, uint64_t sector, uint64_t nb_sectors)
{
    uint64_t total = s->nb_sectors;

    return sector <= total && nb_sectors <= total - sector;
}

static void ide_cmd_lba48_transform(IDEState *s, bool lba48)
{
    s->lba48 = lba48;
    if (!lba48) {
        if (!s->nsector) {
            s->nsector = 256;
        }
    } else if (!s->nsector && !s->hob_nsector) {
        s->nsector = 65536;
    } else {
        s->nsector = (s->hob_nsector << 8) | (s->nsector & 0xff);
    }
}

/* ---- IDENTIFY DEVICE ---- */

static void put_le16(uint16_t *p, unsigned v)
{
    *p = GUINT16_TO_LE(v);
}

void ide_identify_size(IDEState *s)
{
    uint16_t *p = s->identify_data;
    uint64_t lba28 = MIN(s->nb_sectors, (1u << 28) - 1);

    put_le16(p + 60, lba28);
    put_le16(p + 61, lba28 >> 16);
    put_le16(p + 100, s->nb_sectors);
    put_le16(p + 101, s->nb_sectors >> 16);
    put_le16(p + 102, s->nb_sectors >> 32);
    put_le16(p + 103, s->nb_sectors >> 48);
}

/* Words as QEMU fills them (including its TRIM words, discard_granularity 512). Built
 * once and kept, as QEMU does: SET FEATURES edits the kept copy. */
static void ide_identify(IDEState *s)
{
    uint16_t *p = s->identify_data;
    uint32_t oldsize;

    if (s->identify_set) {
        memcpy(s->io_buffer, p, sizeof(s->identify_data));
        return;
    }
    memset(p, 0, sizeof(s->identify_data));
    put_le16(p + 0, 0x0040);
    put_le16(p + 1, s->cylinders);
    put_le16(p + 3, s->heads);
    put_le16(p + 4, 512 * s->sectors);
    put_le16(p + 5, 512);
    put_le16(p + 6, s->sectors);
    ide_padstr((char *)(p + 10), s->serial, 20);
    put_le16(p + 20, 3);
    put_le16(p + 21, 512);
    put_le16(p + 22, 4);
    ide_padstr((char *)(p + 23), s->version, 8);
    ide_padstr((char *)(p + 27), s->model, 40);
    put_le16(p + 47, 0x8000 | IDE_MAX_MULT_SECTORS);
    put_le16(p + 48, 1);
    put_le16(p + 49, (1 << 11) | (1 << 9) | (1 << 8));
    put_le16(p + 51, 0x200);
    put_le16(p + 52, 0x200);
    put_le16(p + 53, 1 | (1 << 1) | (1 << 2));
    put_le16(p + 54, s->cylinders);
    put_le16(p + 55, s->heads);
    put_le16(p + 56, s->sectors);
    oldsize = s->cylinders * s->heads * s->sectors;
    put_le16(p + 57, oldsize);
    put_le16(p + 58, oldsize >> 16);
    if (s->mult_sectors) {
        put_le16(p + 59, 0x100 | s->mult_sectors);
    }
    put_le16(p + 62, 0x07);
    put_le16(p + 63, 0x07);
    put_le16(p + 64, 0x03);
    put_le16(p + 65, 120);
    put_le16(p + 66, 120);
    put_le16(p + 67, 120);
    put_le16(p + 68, 120);
    put_le16(p + 69, 1 << 14);
    put_le16(p + 80, 0xf0);
    put_le16(p + 81, 0x16);
    put_le16(p + 82, (1 << 14) | (1 << 5) | 1);
    put_le16(p + 83, (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10));
    put_le16(p + 84, 1 << 14);
    put_le16(p + 85, (1 << 14) | (blk_enable_write_cache(s->blk) ? 1 << 5 : 0) | 1);
    put_le16(p + 86, (1 << 13) | (1 << 12) | (1 << 10));
    put_le16(p + 87, 1 << 14);
    put_le16(p + 88, 0x3f | (1 << 13));
    put_le16(p + 93, 1 | (1 << 14) | 0x2000);
    put_le16(p + 169, 1);
    ide_identify_size(s);
    s->identify_set = true;
    memcpy(s->io_buffer, p, sizeof(s->identify_data));
}

/* ---- PIO sector transfers ---- */

static void ide_rw_error(IDEState *s)
{
    ide_abort_command(s);
    ide_set_irq(s->bus);
}

/*
 * A failed request under the drive's error policy (werror/rerror): true when the command
 * is over for now — reported to the guest, or kept by "stop" (still busy, no interrupt)
 * until `cont` runs retry again — and false when the policy ignores the error.
 */
static bool ide_handle_rw_error(IDEState *s, int ret, bool is_read, bool dma,
                                EndTransferFunc *retry)
{
    switch (blk_handle_error(s->blk, is_read, ret)) {
    case BLOCK_ERROR_ACTION_IGNORE:
        return false;
    case BLOCK_ERROR_ACTION_STOP:
        s->status |= BUSY_STAT;
        s->retry_fn = retry;
        return true;
    default:
        if (dma) {
            ide_dma_error(s);
        } else {
            ide_rw_error(s);
        }
        return true;
    }
}

static uint32_t ide_pio_block(IDEState *s)
{
    return MIN(s->nsector, (uint32_t)s->req_nb_sectors);
}

static void ide_sector_read(IDEState *s);

static void ide_sector_read_done(IDEState *s, int ret, void *buf)
{
    uint32_t n = ide_pio_block(s);

    if (ret < 0 && ide_handle_rw_error(s, ret, true, false, ide_sector_read)) {
        return;
    }
    s->status &= ~BUSY_STAT;
    memcpy(s->io_buffer, buf, n * IDE_SECTOR_SIZE);
    ide_set_sector(s, ide_get_sector(s) + n);
    s->nsector -= n;
    ide_transfer_start(s, 0, n * IDE_SECTOR_SIZE, PIO_IN, ide_sector_read);
    ide_set_irq(s->bus);
}

static void ide_sector_read(IDEState *s)
{
    int64_t sector_num = ide_get_sector(s);
    uint32_t n = ide_pio_block(s);
    IOVector qiov;
    void *buf;

    s->status = READY_STAT | SEEK_STAT;
    s->error = 0;
    if (s->nsector == 0) {
        ide_transfer_stop(s);
        return;
    }
    s->status |= BUSY_STAT;
    if (sector_num < 0 || !ide_sect_range_ok(s, sector_num, n)) {
        ide_rw_error(s);
        return;
    }
    buf = g_malloc0(n * IDE_SECTOR_SIZE); /* what an ignored error leaves the guest */
    iov_init_buf(&qiov, buf, n * IDE_SECTOR_SIZE);
    ide_submit_read(s, (uint64_t)sector_num * IDE_SECTOR_SIZE, &qiov, buf, ide_sector_read_done);
}

static void ide_sector_write(IDEState *s);

static void ide_sector_write_done(IDEState *s, int ret, void *buf)
{
    uint32_t n = ide_pio_block(s);

    if (ret < 0 && ide_handle_rw_error(s, ret, false, false, ide_sector_write)) {
        return;
    }
    s->status &= ~BUSY_STAT;
    s->nsector -= n;
    ide_set_sector(s, ide_get_sector(s) + n);
    if (s->nsector == 0) {
        ide_transfer_stop(s);
    } else {
        ide_transfer_start(s, 0, ide_pio_block(s) * IDE_SECTOR_SIZE, PIO_OUT, ide_sector_write);
    }
    ide_set_irq(s->bus);
}

static void ide_sector_write(IDEState *s)
{
    int64_t sector_num = ide_get_sector(s);
    uint32_t n = ide_pio_block(s);
    IOVector qiov;
    void *buf;

    s->status = READY_STAT | SEEK_STAT | BUSY_STAT;
    if (sector_num < 0 || !ide_sect_range_ok(s, sector_num, n)) {
        ide_rw_error(s);
        return;
    }
    buf = g_memdup2(s->io_buffer, n * IDE_SECTOR_SIZE);
    iov_init_buf(&qiov, buf, n * IDE_SECTOR_SIZE);
    ide_submit_write(s, (uint64_t)sector_num * IDE_SECTOR_SIZE, &qiov, buf, ide_sector_write_done);
}

/* ---- DMA ---- */

void ide_dma_error(IDEState *s)
{
    ide_abort_command(s);
    bmdma_set_inactive(&s->bus->bmdma, false);
    ide_set_irq(s->bus);
}

static void ide_dma_cb(IDEState *s, int ret);

/* A kept DMA request: the whole transfer again, from the first PRD. */
static void ide_dma_restart(IDEState *s)
{
    s->bus->bmdma.cur_addr = s->bus->bmdma.addr;
    bmdma_start_dma(s, ide_dma_cb);
}

static void ide_dma_done(IDEState *s, int ret, void *buf)
{
    BMDMAState *bm = &s->bus->bmdma;
    bool more = s->io_buffer_size > s->nsector * IDE_SECTOR_SIZE;

    if (ret < 0 && ide_handle_rw_error(s, ret, s->dma_cmd == IDE_DMA_READ, true, ide_dma_restart)) {
        return;
    }
    ide_set_sector(s, ide_get_sector(s) + s->nsector);
    s->nsector = 0;
    s->status = READY_STAT | SEEK_STAT;
    ide_set_irq(s->bus);
    bmdma_set_inactive(bm, more);
}

/* DATA SET MANAGEMENT: discard the ranges one after the other, as QEMU checks them: a range
 * past the end is a DMA error (the ranges before it are discarded). */
static void ide_trim_next(IDEState *s, int ret, void *buf)
{
    while (ret >= 0 && s->trim_next < s->trim_count) {
        uint64_t e = GUINT64_FROM_LE(s->trim_ranges[s->trim_next++]);
        uint64_t sector = e & 0xffffffffffffULL, count = e >> 48;

        if (!count) {
            continue;
        }
        if (!ide_sect_range_ok(s, sector, count)) {
            ide_trim_clear(s);
            ide_dma_error(s);
            return;
        }
        ide_submit_discard(s, sector * IDE_SECTOR_SIZE, count * IDE_SECTOR_SIZE, ide_trim_next);
        return;
    }
    ide_trim_clear(s);
    ide_dma_done(s, ret, NULL);
}

static void ide_trim_start(IDEState *s, IOVector *qiov)
{
    g_free(s->trim_ranges);
    s->trim_count = qiov->size / 8;
    s->trim_next = 0;
    s->trim_ranges = g_malloc(s->trim_count * 8 + 8);
    iov_to_buf(qiov, 0, s->trim_ranges, s->trim_count * 8);
    iov_destroy(qiov);
    ide_trim_next(s, 0, NULL);
}

/*
 * The engine is started: gather the whole transfer from the PRD table and submit it as one
 * request straight to and from guest RAM. PRDs shorter than the transfer end it without an
 * interrupt and with the engine inactive, as on QEMU; a PRD outside RAM is a DMA error.
 */
static void ide_dma_cb(IDEState *s, int ret)
{
    BMDMAState *bm = &s->bus->bmdma;
    uint32_t bytes = s->nsector * IDE_SECTOR_SIZE;
    int64_t sector_num = ide_get_sector(s);
    IOVector qiov;
    int got;

    /* A guest that starts a transfer with an earlier one's request still in flight: that
     * completion must not act on this command (a TRIM's ranges, its status), even when this
     * one ends without a request of its own. (Found by fuzz-ide.) */
    if (s->req_busy) {
        ide_cancel_request(s);
    }

    if (s->nsector == 0) { /* DATA SET MANAGEMENT of 0 blocks: nothing to move */
        s->status = READY_STAT | SEEK_STAT;
        ide_set_irq(s->bus);
        bmdma_set_inactive(bm, false);
        return;
    }
    iov_init(&qiov, 8);
    s->io_buffer_size = 0;
    got = bmdma_prepare_buf(bm, s, &qiov, bytes);
    if (got < 0) {
        iov_destroy(&qiov);
        ide_dma_error(s);
        return;
    }
    if ((uint32_t)got < bytes) {
        iov_destroy(&qiov);
        s->status = READY_STAT | SEEK_STAT;
        bmdma_set_inactive(bm, false);
        return;
    }
    if (s->dma_cmd == IDE_DMA_TRIM) {
        ide_trim_start(s, &qiov);
        return;
    }
    if (sector_num < 0 || !ide_sect_range_ok(s, sector_num, s->nsector)) {
        iov_destroy(&qiov);
        ide_dma_error(s);
        return;
    }
    if (s->dma_cmd == IDE_DMA_READ) {
        ide_submit_read(s, (uint64_t)sector_num * IDE_SECTOR_SIZE, &qiov, NULL, ide_dma_done);
    } else {
        ide_submit_write(s, (uint64_t)sector_num * IDE_SECTOR_SIZE, &qiov, NULL, ide_dma_done);
    }
}

static void ide_sector_start_dma(IDEState *s, IDEDMACmd cmd)
{
    s->status = READY_STAT | SEEK_STAT | DRQ_STAT;
    s->io_buffer_index = 0;
    s->io_buffer_size = 0;
    s->dma_cmd = cmd;
    bmdma_start_dma(s, ide_dma_cb);
}

/* ---- Commands ---- */

static bool cmd_nop(IDEState *s, uint8_t cmd)
{
    return true;
}

static bool cmd_identify(IDEState *s, uint8_t cmd)
{
    if (s->blk && s->kind != IDE_CD) {
        ide_identify(s);
        s->status = READY_STAT | SEEK_STAT;
        ide_transfer_start(s, 0, 512, PIO_IN, ide_transfer_stop);
        ide_set_irq(s->bus);
        return false;
    }
    if (s->kind == IDE_CD) {
        ide_set_signature(s);
    }
    ide_abort_command(s);
    return true;
}

static bool cmd_identify_packet(IDEState *s, uint8_t cmd)
{
    ide_atapi_identify(s);
    s->status = READY_STAT | SEEK_STAT;
    ide_transfer_start(s, 0, 512, PIO_IN, ide_transfer_stop);
    ide_set_irq(s->bus);
    return false;
}

static bool cmd_read_pio(IDEState *s, uint8_t cmd)
{
    if (s->kind == IDE_CD) {
        ide_set_signature(s); /* ATA4 8.27.5.2 */
        ide_abort_command(s);
        return true;
    }
    if (!s->blk) {
        ide_abort_command(s);
        return true;
    }
    ide_cmd_lba48_transform(s, cmd == WIN_READ_EXT);
    s->req_nb_sectors = 1;
    ide_sector_read(s);
    return false;
}

static bool cmd_write_pio(IDEState *s, uint8_t cmd)
{
    if (!s->blk) {
        ide_abort_command(s);
        return true;
    }
    ide_cmd_lba48_transform(s, cmd == WIN_WRITE_EXT);
    s->req_nb_sectors = 1;
    s->status = SEEK_STAT | READY_STAT;
    ide_transfer_start(s, 0, 512, PIO_OUT, ide_sector_write);
    return false;
}

static bool cmd_read_multiple(IDEState *s, uint8_t cmd)
{
    if (!s->blk || !s->mult_sectors) {
        ide_abort_command(s);
        return true;
    }
    ide_cmd_lba48_transform(s, cmd == WIN_MULTREAD_EXT);
    s->req_nb_sectors = s->mult_sectors;
    ide_sector_read(s);
    return false;
}

static bool cmd_write_multiple(IDEState *s, uint8_t cmd)
{
    if (!s->blk || !s->mult_sectors) {
        ide_abort_command(s);
        return true;
    }
    ide_cmd_lba48_transform(s, cmd == WIN_MULTWRITE_EXT);
    s->req_nb_sectors = s->mult_sectors;
    s->status = SEEK_STAT | READY_STAT;
    ide_transfer_start(s, 0, ide_pio_block(s) * IDE_SECTOR_SIZE, PIO_OUT, ide_sector_write);
    return false;
}

static bool cmd_read_dma(IDEState *s, uint8_t cmd)
{
    if (!s->blk) {
        ide_abort_command(s);
        return true;
    }
    ide_cmd_lba48_transform(s, cmd == WIN_READDMA_EXT);
    ide_sector_start_dma(s, IDE_DMA_READ);
    return false;
}

static bool cmd_write_dma(IDEState *s, uint8_t cmd)
{
    if (!s->blk) {
        ide_abort_command(s);
        return true;
    }
    ide_cmd_lba48_transform(s, cmd == WIN_WRITEDMA_EXT);
    ide_sector_start_dma(s, IDE_DMA_WRITE);
    return false;
}

static void ide_flush_cache(IDEState *s);

static void ide_flush_done(IDEState *s, int ret, void *buf)
{
    if (ret < 0 && ide_handle_rw_error(s, ret, false, false, ide_flush_cache)) {
        return;
    }
    s->status = READY_STAT | SEEK_STAT;
    ide_set_irq(s->bus);
}

static void ide_flush_cache(IDEState *s)
{
    if (!s->blk) {
        ide_flush_done(s, 0, NULL);
        return;
    }
    s->status |= BUSY_STAT;
    ide_submit_flush(s, ide_flush_done);
}

static bool cmd_flush_cache(IDEState *s, uint8_t cmd)
{
    ide_flush_cache(s);
    return false;
}

static bool cmd_verify(IDEState *s, uint8_t cmd)
{
    ide_cmd_lba48_transform(s, cmd == WIN_VERIFY_EXT);
    return true;
}

static bool cmd_set_multiple_mode(IDEState *s, uint8_t cmd)
{
    uint32_t n = s->nsector & 0xff;

    if (n != 0 && (n > IDE_MAX_MULT_SECTORS || (s->nsector & (s->nsector - 1)) != 0)) {
        ide_abort_command(s);
    } else {
        s->mult_sectors = n;
    }
    return true;
}

/* DATA SET MANAGEMENT, TRIM only: the block count is not LBA48-transformed (as QEMU). */
static bool cmd_data_set_management(IDEState *s, uint8_t cmd)
{
    if (s->feature == 0x01 && s->blk) {
        ide_sector_start_dma(s, IDE_DMA_TRIM);
        return false;
    }
    ide_abort_command(s);
    return true;
}

static bool cmd_read_native_max(IDEState *s, uint8_t cmd)
{
    if (s->nb_sectors == 0) {
        ide_abort_command(s);
        return true;
    }
    ide_cmd_lba48_transform(s, cmd == WIN_READ_NATIVE_MAX_EXT);
    ide_set_sector(s, s->nb_sectors - 1);
    return true;
}

static bool cmd_check_power_mode(IDEState *s, uint8_t cmd)
{
    s->nsector = 0xff;
    return true;
}

/* INITIALIZE DEVICE PARAMETERS: the logical heads and sectors CHS addressing uses. */
static bool cmd_specify(IDEState *s, uint8_t cmd)
{
    if (s->blk && s->kind != IDE_CD) {
        s->heads = (s->select & ATA_DEV_HS) + 1;
        s->sectors = s->nsector;
        ide_set_irq(s->bus);
    } else {
        ide_abort_command(s);
    }
    return true;
}

void ide_exec_dev_diagnostic(IDEState *s)
{
    ide_set_signature(s);
    s->error = 0x01;
    if (s->kind == IDE_CD) {
        s->status = 0; /* packet devices clear the status, DRDY too (ATAPI 9.10) */
    } else {
        s->status = READY_STAT | SEEK_STAT;
        ide_set_irq(s->bus);
    }
}

static bool cmd_exec_dev_diagnostic(IDEState *s, uint8_t cmd)
{
    ide_exec_dev_diagnostic(s);
    return false;
}

static bool cmd_device_reset(IDEState *s, uint8_t cmd)
{
    BMDMAState *bm = &s->bus->bmdma;

    ide_transfer_stop(s);
    if (bm->unit == s->unit && bm->dma_cb) {
        bm->dma_cb = NULL;
        bmdma_set_inactive(bm, false);
    }
    ide_reset(s);
    s->status = 0x00;
    return false;
}

static bool cmd_packet(IDEState *s, uint8_t cmd)
{
    if (s->feature & 0x02) { /* overlapped commands are not supported */
        ide_abort_command(s);
        return true;
    }
    s->status = READY_STAT | SEEK_STAT;
    s->atapi_dma = s->feature & 1;
    if (s->atapi_dma) {
        s->dma_cmd = IDE_DMA_ATAPI;
    }
    s->nsector = 1;
    ide_transfer_start(s, 0, ATAPI_PACKET_SIZE, PIO_OUT, ide_atapi_cmd);
    return false;
}

static bool ide_set_transfer_mode(IDEState *s)
{
    uint16_t *p = s->identify_data;
    unsigned val = s->nsector & 0x07;

    switch (s->nsector >> 3) {
    case 0x00: /* PIO default */
    case 0x01: /* PIO mode */
        put_le16(p + 62, 0x07);
        put_le16(p + 63, 0x07);
        put_le16(p + 88, 0x3f);
        return true;
    case 0x02: /* single word DMA */
        put_le16(p + 62, 0x07 | (1 << (val + 8)));
        put_le16(p + 63, 0x07);
        put_le16(p + 88, 0x3f);
        return true;
    case 0x04: /* multiword DMA */
        put_le16(p + 62, 0x07);
        put_le16(p + 63, 0x07 | (1 << (val + 8)));
        put_le16(p + 88, 0x3f);
        return true;
    case 0x08: /* Ultra DMA */
        put_le16(p + 62, 0x07);
        put_le16(p + 63, 0x07);
        put_le16(p + 88, 0x3f | (1 << (val + 8)));
        return true;
    default:
        return false;
    }
}

static bool cmd_set_features(IDEState *s, uint8_t cmd)
{
    if (!s->blk) {
        ide_abort_command(s);
        return true;
    }
    switch (s->feature) {
    case 0x02: /* write cache enable */
        blk_set_enable_write_cache(s->blk, true);
        put_le16(s->identify_data + 85, (1 << 14) | (1 << 5) | 1);
        return true;
    case 0x82: /* write cache disable: flush what it holds */
        blk_set_enable_write_cache(s->blk, false);
        put_le16(s->identify_data + 85, (1 << 14) | 1);
        ide_flush_cache(s);
        return false;
    case 0xcc:
    case 0x66:
    case 0xaa:
    case 0x55:
    case 0x05:
    case 0x85:
    case 0x69:
    case 0x67:
    case 0x96:
    case 0x9a:
    case 0x42:
    case 0xc2:
        return true;
    case 0x03:
        if (ide_set_transfer_mode(s)) {
            return true;
        }
        break;
    }
    ide_abort_command(s);
    return true;
}

typedef bool IDECmdHandler(IDEState *s, uint8_t cmd);

static const struct {
    IDECmdHandler *handler;
    unsigned flags;
} ide_cmd_table[0x100] = {
    [WIN_DSM] = {cmd_data_set_management, HDN_OK},
    [WIN_DEVICE_RESET] = {cmd_device_reset, CD_OK},
    [WIN_RECAL] = {cmd_nop, HDN_OK | SET_DSC},
    [WIN_READ] = {cmd_read_pio, ALL_OK},
    [WIN_READ_ONCE] = {cmd_read_pio, HDN_OK},
    [WIN_READ_EXT] = {cmd_read_pio, HDN_OK},
    [WIN_READDMA_EXT] = {cmd_read_dma, HDN_OK},
    [WIN_READ_NATIVE_MAX_EXT] = {cmd_read_native_max, HDN_OK | SET_DSC},
    [WIN_MULTREAD_EXT] = {cmd_read_multiple, HDN_OK},
    [WIN_WRITE] = {cmd_write_pio, HDN_OK},
    [WIN_WRITE_ONCE] = {cmd_write_pio, HDN_OK},
    [WIN_WRITE_EXT] = {cmd_write_pio, HDN_OK},
    [WIN_WRITEDMA_EXT] = {cmd_write_dma, HDN_OK},
    [WIN_MULTWRITE_EXT] = {cmd_write_multiple, HDN_OK},
    [WIN_WRITE_VERIFY] = {cmd_write_pio, HDN_OK},
    [WIN_VERIFY] = {cmd_verify, HDN_OK | SET_DSC},
    [WIN_VERIFY_ONCE] = {cmd_verify, HDN_OK | SET_DSC},
    [WIN_VERIFY_EXT] = {cmd_verify, HDN_OK | SET_DSC},
    [WIN_SEEK] = {cmd_nop, HDN_OK | SET_DSC},
    [WIN_DIAGNOSE] = {cmd_exec_dev_diagnostic, ALL_OK},
    [WIN_SPECIFY] = {cmd_specify, HDN_OK | SET_DSC},
    [WIN_STANDBYNOW2] = {cmd_nop, HDN_OK},
    [WIN_IDLEIMMEDIATE2] = {cmd_nop, HDN_OK},
    [WIN_STANDBY2] = {cmd_nop, HDN_OK},
    [WIN_SETIDLE2] = {cmd_nop, HDN_OK},
    [WIN_CHECKPOWERMODE2] = {cmd_check_power_mode, HDN_OK | SET_DSC},
    [WIN_SLEEPNOW2] = {cmd_nop, HDN_OK},
    [WIN_PACKETCMD] = {cmd_packet, CD_OK},
    [WIN_PIDENTIFY] = {cmd_identify_packet, CD_OK},
    [WIN_SMART] = {ide_cmd_smart, HDN_OK | SET_DSC},
    [WIN_MULTREAD] = {cmd_read_multiple, HDN_OK},
    [WIN_MULTWRITE] = {cmd_write_multiple, HDN_OK},
    [WIN_SETMULT] = {cmd_set_multiple_mode, HDN_OK | SET_DSC},
    [WIN_READDMA] = {cmd_read_dma, HDN_OK},
    [WIN_READDMA_ONCE] = {cmd_read_dma, HDN_OK},
    [WIN_WRITEDMA] = {cmd_write_dma, HDN_OK},
    [WIN_WRITEDMA_ONCE] = {cmd_write_dma, HDN_OK},
    [WIN_STANDBYNOW1] = {cmd_nop, HDN_OK},
    [WIN_IDLEIMMEDIATE] = {cmd_nop, HDN_OK},
    [WIN_STANDBY] = {cmd_nop, HDN_OK},
    [WIN_SETIDLE1] = {cmd_nop, HDN_OK},
    [WIN_CHECKPOWERMODE1] = {cmd_check_power_mode, HDN_OK | SET_DSC},
    [WIN_SLEEPNOW1] = {cmd_nop, HDN_OK},
    [WIN_FLUSH_CACHE] = {cmd_flush_cache, ALL_OK},
    [WIN_FLUSH_CACHE_EXT] = {cmd_flush_cache, HDN_OK},
    [WIN_IDENTIFY] = {cmd_identify, ALL_OK},
    [WIN_SETFEATURES] = {cmd_set_features, ALL_OK | SET_DSC},
    [WIN_READ_NATIVE_MAX] = {cmd_read_native_max, HDN_OK | SET_DSC},
};

void ide_exec_cmd(IDEBus *bus, uint8_t cmd)
{
    IDEState *s = idebus_active_if(bus);

    if (s != &bus->ifs[0] && !s->blk) {
        return; /* commands to an absent slave are ignored */
    }
    /* Only DEVICE RESET, and only for packet devices, is taken while busy. */
    if ((s->status & (BUSY_STAT | DRQ_STAT)) && (cmd != WIN_DEVICE_RESET || s->kind != IDE_CD)) {
        return;
    }
    if (!ide_cmd_table[cmd].handler || !(ide_cmd_table[cmd].flags & (1u << s->kind))) {
        ide_abort_command(s);
        ide_set_irq(bus);
        return;
    }
    s->status = READY_STAT | BUSY_STAT;
    s->error = 0;
    if (ide_cmd_table[cmd].handler(s, cmd)) {
        s->status &= ~BUSY_STAT;
        if ((ide_cmd_table[cmd].flags & SET_DSC) && !s->error) {
            s->status |= SEEK_STAT;
        }
        ide_set_irq(bus);
    }
}
