/*
 * The floppy controller's data commands: READ/WRITE DATA (single or multi-track), READ
 * TRACK, VERIFY and the SCANs, FORMAT TRACK, each by DMA (channel 2, pulled by the 8237)
 * or through the FIFO (non-DMA mode), and the seven-byte result that ends them. The
 * guest's C/H/R/N/EOT/DTL are checked against the medium's geometry before anything moves,
 * the transfer length is bounded by both the command and the DMA count, and every sector
 * is checked against the image's end. Sectors move one at a time with the synchronous
 * block calls (512 bytes, at most a 64 KiB DMA block per command), as QEMU's FDC does.
 * Where QEMU 7.2 leaves the controller stuck or formats nothing, this one ends the command
 * with a status (documented in docs/floppy.md).
 */
#include <string.h>
#include <glib.h>
#include "fdc-internal.h"
#include "hw/isa-dma.h"

/* ---- The result phase ---- */

void fdctrl_stop_transfer(FDCtrl *s, uint8_t status0, uint8_t status1, uint8_t status2)
{
    FDrive *drv = fdctrl_cur_drv(s);

    s->status0 &= ~(FD_SR0_DS0 | FD_SR0_DS1 | FD_SR0_HEAD);
    s->status0 |= s->cur_drv | (drv->head ? FD_SR0_HEAD : 0) | status0;
    s->fifo[0] = s->status0;
    s->fifo[1] = status1;
    s->fifo[2] = status2;
    s->fifo[3] = drv->track;
    s->fifo[4] = drv->head;
    s->fifo[5] = drv->sect;
    s->fifo[6] = FD_SECTOR_SC;
    s->data_dir = FD_DIR_READ;
    if (s->dma_chann >= 0 && !(s->msr & FD_MSR_NONDMA)) {
        isa_dma_release_dreq(s->dma_chann);
    }
    s->msr |= FD_MSR_RQM | FD_MSR_DIO;
    s->msr &= ~FD_MSR_NONDMA;
    fdctrl_to_result_phase(s, 7);
    fdctrl_raise_irq(s);
}

/* An error before anything moved: the result shows the C/H/R the command asked for. */
static void fdctrl_abort_at(FDCtrl *s, uint8_t st1, uint8_t kt, uint8_t kh, uint8_t ks)
{
    fdctrl_stop_transfer(s, FD_SR0_ABNTERM, st1, 0x00);
    s->fifo[3] = kt;
    s->fifo[4] = kh;
    s->fifo[5] = ks;
}

/*
 * The next sector after a whole one moved: the next on the track, or sector 1 of the other
 * side (multi-track) or of the next track. False when the transfer must end here.
 */
static bool fdctrl_seek_to_next_sect(FDCtrl *s, FDrive *drv)
{
    uint8_t head = drv->head, track = drv->track, sect = drv->sect;
    bool more = true;

    if (sect >= drv->last_sect || sect == s->eot) {
        sect = 1;
        if (s->data_multi_track && head == 0 && drv->double_sided) {
            head = 1;
        } else {
            /* Multi-track goes on at side 0 of the next cylinder; otherwise the head
             * stays where it is and the transfer ends (as QEMU: "next cylinder"). */
            head = s->data_multi_track ? 0 : head;
            track++;
            s->status0 |= FD_SR0_SEEK;
            more = s->data_multi_track && drv->double_sided;
        }
    } else {
        sect++;
    }
    fd_seek(drv, head, track, sect);
    return more;
}

/* Enter the execution phase: wait for the 8237, or hand the FIFO to the guest. */
static void fdctrl_start_execution(FDCtrl *s, FDDir direction)
{
    if ((s->dor & FD_DOR_DMAEN) && s->dma_chann >= 0) {
        s->msr &= ~FD_MSR_RQM;
        if (direction == FD_DIR_VERIFY) {
            fdctrl_transfer_handler(s, s->dma_chann, 0, s->data_len);
        } else {
            isa_dma_hold_dreq(s->dma_chann);
        }
        return;
    }
    s->msr |= FD_MSR_NONDMA | FD_MSR_RQM;
    if (direction != FD_DIR_WRITE && direction != FD_DIR_FORMAT) {
        s->msr |= FD_MSR_DIO;
    }
    fdctrl_raise_irq(s);
}

/* Bytes a command moves: DTL when N is 0, else sectors from R to EOT (on both sides, MT). */
static int64_t fdctrl_transfer_len(FDCtrl *s, uint8_t ks)
{
    int64_t sectors;

    if (s->fifo[5] == 0) {
        return s->fifo[8];
    }
    sectors = (int64_t)s->fifo[6] - ks + 1;
    if (sectors < 0) {
        return -1;
    }
    if (s->fifo[0] & 0x80) {
        sectors += s->fifo[6];
    }
    return (128 << MIN(s->fifo[5], 7)) * sectors;
}

void fdctrl_start_transfer(FDCtrl *s, FDDir direction)
{
    FDrive *drv;
    uint8_t kt = s->fifo[2], kh = s->fifo[3], ks = s->fifo[4];
    int64_t len;

    s->cur_drv = s->fifo[1] & FD_DOR_SELMASK;
    drv = fdctrl_cur_drv(s);
    switch (fd_seek(drv, kh, kt, ks)) {
    case 2: /* no such track or head, or no diskette */
        fdctrl_abort_at(s, 0x00, kt, kh, ks);
        return;
    case 3: /* no such sector */
        fdctrl_abort_at(s, FD_SR1_EC, kt, kh, ks);
        return;
    case 1:
        s->status0 |= FD_SR0_SEEK;
        break;
    }
    /* A data rate the medium was not written at finds no address marks. */
    if ((s->dsr & FD_DSR_DRATEMASK) != drv->media_rate) {
        fdctrl_abort_at(s, FD_SR1_MA, kt, kh, ks);
        return;
    }
    len = fdctrl_transfer_len(s, ks);
    if (len < 0) { /* EOT before the first sector (QEMU's CVE-2021-3507 check) */
        fdctrl_abort_at(s, FD_SR1_MA, kt, kh, ks);
        return;
    }
    s->data_dir = direction;
    s->data_pos = 0;
    s->data_len = len;
    s->data_multi_track = s->fifo[0] & 0x80;
    s->eot = s->fifo[6];
    fdctrl_start_execution(s, direction);
}

/* Deleted-data marks do not exist on an image: nothing is found. */
void fdctrl_start_transfer_del(FDCtrl *s, FDDir direction)
{
    fdctrl_stop_transfer(s, FD_SR0_ABNTERM | FD_SR0_SEEK, 0x00, 0x00);
}

/* ---- FORMAT TRACK: four ID bytes (C, H, R, N) per sector, each sector filled ---- */

void fdctrl_start_format(FDCtrl *s, FDDir direction)
{
    FDrive *drv;

    s->cur_drv = s->fifo[1] & FD_DOR_SELMASK;
    drv = fdctrl_cur_drv(s);
    drv->head = (s->fifo[1] >> 2) & 1;
    if (!fd_has_medium(drv)) {
        fdctrl_stop_transfer(s, FD_SR0_ABNTERM, 0x00, 0x00);
        return;
    }
    if (drv->ro) {
        fdctrl_stop_transfer(s, FD_SR0_ABNTERM, FD_SR1_NW, 0x00);
        return;
    }
    s->data_dir = FD_DIR_FORMAT;
    s->data_pos = 0;
    s->data_len = 4 * s->fifo[3];
    s->data_multi_track = false;
    s->format_fill = s->fifo[5];
    if (s->data_len == 0) {
        fdctrl_stop_transfer(s, 0x00, 0x00, 0x00);
        return;
    }
    fdctrl_start_execution(s, FD_DIR_FORMAT);
}

/* Fill the sector an ID names; false (and the command ended) when it cannot be. */
static bool fdctrl_format_sector(FDCtrl *s, const uint8_t id[4])
{
    FDrive *drv = fdctrl_cur_drv(s);
    uint8_t buf[FD_SECTOR_LEN];

    if (id[3] != FD_SECTOR_SC) {
        fdctrl_stop_transfer(s, FD_SR0_ABNTERM, FD_SR1_MA, 0x00);
        return false;
    }
    switch (id[2] == 0 ? 3 : fd_seek(drv, id[1], id[0], id[2])) {
    case 2:
        fdctrl_stop_transfer(s, FD_SR0_ABNTERM, 0x00, 0x00);
        return false;
    case 3:
        fdctrl_stop_transfer(s, FD_SR0_ABNTERM, FD_SR1_EC, 0x00);
        return false;
    }
    memset(buf, s->format_fill, sizeof(buf));
    if (fd_write_sector(drv, buf) < 0) {
        fdctrl_stop_transfer(s, FD_SR0_ABNTERM | FD_SR0_SEEK, 0x00, 0x00);
        return false;
    }
    return true;
}

static int fdctrl_format_dma(FDCtrl *s, int nchan, int dma_len)
{
    uint32_t end = MIN((uint32_t)dma_len, s->data_len);
    uint32_t start = s->data_pos;
    uint8_t id[4];

    uint32_t moved;

    while (s->data_pos + 4 <= end) {
        isa_dma_read_memory(nchan, id, s->data_pos, 4);
        s->data_pos += 4;
        moved = s->data_pos - start;
        if (!fdctrl_format_sector(s, id)) {
            return moved;
        }
    }
    moved = s->data_pos - start;
    fdctrl_stop_transfer(s, 0x00, 0x00, 0x00);
    return moved;
}

/* ---- DMA ---- */

/* One piece of a sector between the FIFO and memory; false when the command ended. */
static bool fdctrl_dma_piece(FDCtrl *s, FDrive *drv, int nchan, int rel_pos, int len,
                             uint8_t *status2)
{
    uint8_t tmp[FD_SECTOR_LEN];
    int cmp;

    if (s->data_dir != FD_DIR_WRITE || len < FD_SECTOR_LEN || rel_pos != 0) {
        if (fd_read_sector(drv, s->fifo) < 0) {
            memset(s->fifo, 0, FD_SECTOR_LEN); /* past the image's end */
        }
    }
    switch (s->data_dir) {
    case FD_DIR_READ:
        isa_dma_write_memory(nchan, s->fifo + rel_pos, s->data_pos, len);
        return true;
    case FD_DIR_WRITE:
        if (drv->ro) {
            fdctrl_stop_transfer(s, FD_SR0_ABNTERM | FD_SR0_SEEK, FD_SR1_NW, 0x00);
            return false;
        }
        isa_dma_read_memory(nchan, s->fifo + rel_pos, s->data_pos, len);
        if (fd_write_sector(drv, s->fifo) < 0) {
            fdctrl_stop_transfer(s, FD_SR0_ABNTERM | FD_SR0_SEEK, 0x00, 0x00);
            return false;
        }
        return true;
    case FD_DIR_VERIFY:
        return true;
    default: /* the SCANs compare memory with the disk */
        isa_dma_read_memory(nchan, tmp, s->data_pos, len);
        cmp = memcmp(tmp, s->fifo + rel_pos, len);
        if (cmp == 0 || (cmp < 0 && s->data_dir == FD_DIR_SCANL) ||
            (cmp > 0 && s->data_dir == FD_DIR_SCANH)) {
            *status2 = cmp == 0 ? FD_SR2_SEH : 0x00;
            return false;
        }
        return true;
    }
}

/* Called by the 8237 while DREQ 2 is held: move the whole transfer, then the result. */
int fdctrl_transfer_handler(void *opaque, int nchan, int dma_pos, int dma_len)
{
    FDCtrl *s = opaque;
    FDrive *drv = fdctrl_cur_drv(s);
    uint8_t status2 = 0x00;
    uint32_t start_pos, end, rel_pos, moved;
    bool scan =
        s->data_dir == FD_DIR_SCANE || s->data_dir == FD_DIR_SCANL || s->data_dir == FD_DIR_SCANH;

    if ((s->msr & FD_MSR_RQM) || s->phase != FD_PHASE_EXECUTION || dma_len < 0) {
        return dma_pos; /* not waiting for DMA */
    }
    if (s->data_dir == FD_DIR_FORMAT) {
        return fdctrl_format_dma(s, nchan, dma_len);
    }
    end = MIN((uint32_t)dma_len, s->data_len);
    start_pos = s->data_pos;
    rel_pos = s->data_pos % FD_SECTOR_LEN;
    while (s->data_pos < end) {
        uint32_t len = MIN(end - s->data_pos, FD_SECTOR_LEN - rel_pos);
        bool more = fdctrl_dma_piece(s, drv, nchan, rel_pos, len, &status2);

        if (!more && !scan) {
            return len; /* ended with an error status */
        }
        if (!more) {
            break;
        }
        s->data_pos += len;
        rel_pos = s->data_pos % FD_SECTOR_LEN;
        if (rel_pos == 0 && !fdctrl_seek_to_next_sect(s, drv)) {
            break;
        }
    }
    if (scan) {
        status2 = FD_SR2_SEH; /* as QEMU: every scan reports a hit */
    }
    moved = s->data_pos - start_pos;
    s->data_len -= moved;
    fdctrl_stop_transfer(s, 0x00, 0x00, status2); /* the FIFO now holds the result */
    return moved;
}

/* ---- Non-DMA: the guest moves the data through the FIFO ---- */

uint8_t fdctrl_pio_read(FDCtrl *s)
{
    FDrive *drv = fdctrl_cur_drv(s);
    uint32_t pos = s->data_pos % FD_SECTOR_LEN;
    uint8_t val;

    if (!(s->msr & FD_MSR_NONDMA)) {
        return 0;
    }
    if (pos == 0) {
        if (s->data_pos != 0 && !fdctrl_seek_to_next_sect(s, drv)) {
            return 0;
        }
        if (fd_read_sector(drv, s->fifo) < 0) {
            memset(s->fifo, 0, FD_SECTOR_LEN);
        }
    }
    val = s->fifo[pos];
    if (++s->data_pos == s->data_len) {
        s->msr &= ~FD_MSR_RQM;
        fdctrl_stop_transfer(s, 0x00, 0x00, 0x00);
    }
    return val;
}

static void fdctrl_pio_format(FDCtrl *s, uint32_t pos)
{
    if ((pos & 3) == 3 && !fdctrl_format_sector(s, &s->fifo[pos - 3])) {
        return;
    }
    if (s->data_pos == s->data_len) {
        fdctrl_stop_transfer(s, 0x00, 0x00, 0x00);
    }
}

void fdctrl_pio_write(FDCtrl *s, uint8_t value)
{
    FDrive *drv = fdctrl_cur_drv(s);
    uint32_t pos;

    if (!(s->msr & FD_MSR_NONDMA)) {
        return;
    }
    pos = s->data_pos++ % FD_SECTOR_LEN;
    s->fifo[pos] = value;
    if (s->data_dir == FD_DIR_FORMAT) {
        fdctrl_pio_format(s, pos);
        return;
    }
    if (pos == FD_SECTOR_LEN - 1 || s->data_pos == s->data_len) {
        if (drv->ro) {
            fdctrl_stop_transfer(s, FD_SR0_ABNTERM | FD_SR0_SEEK, FD_SR1_NW, 0x00);
            return;
        }
        if (fd_write_sector(drv, s->fifo) < 0) {
            fdctrl_stop_transfer(s, FD_SR0_ABNTERM | FD_SR0_SEEK, 0x00, 0x00);
            return;
        }
        if (!fdctrl_seek_to_next_sect(s, drv) && s->data_pos != s->data_len) {
            fdctrl_stop_transfer(s, 0x00, 0x00, 0x00); /* end of track */
            return;
        }
    }
    if (s->data_pos == s->data_len) {
        fdctrl_stop_transfer(s, 0x00, 0x00, 0x00);
    }
}
