/*
 * The floppy controller's commands other than data transfers: the table that maps a
 * command byte to its parameter count and handler (QEMU's, so unknown and unsupported bytes
 * get the same answer: a one-byte result with "invalid command" in ST0), and the handlers
 * of SPECIFY, SENSE DRIVE STATUS, RECALIBRATE, SEEK and the relative seeks, SENSE
 * INTERRUPT STATUS, READ ID, VERSION, CONFIGURE, LOCK, DUMPREG, SAVE/RESTORE, PERPENDICULAR
 * MODE, POWERDOWN MODE, OPTION, PART ID and DRIVE SPECIFICATION. Data commands are in
 * fdc-xfer.c.
 */
#include <glib.h>
#include "fdc-internal.h"

#define NS_PER_SEC 1000000000LL

enum {
    FD_CMD_READ_TRACK = 0x02,
    FD_CMD_SPECIFY = 0x03,
    FD_CMD_SENSE_DRIVE_STATUS = 0x04,
    FD_CMD_WRITE = 0x05,
    FD_CMD_READ = 0x06,
    FD_CMD_RECALIBRATE = 0x07,
    FD_CMD_SENSE_INTERRUPT_STATUS = 0x08,
    FD_CMD_WRITE_DELETED = 0x09,
    FD_CMD_READ_ID = 0x0a,
    FD_CMD_READ_DELETED = 0x0c,
    FD_CMD_FORMAT_TRACK = 0x0d,
    FD_CMD_DUMPREG = 0x0e,
    FD_CMD_SEEK = 0x0f,
    FD_CMD_VERSION = 0x10,
    FD_CMD_SCAN_EQUAL = 0x11,
    FD_CMD_PERPENDICULAR_MODE = 0x12,
    FD_CMD_CONFIGURE = 0x13,
    FD_CMD_LOCK = 0x14,
    FD_CMD_VERIFY = 0x16,
    FD_CMD_POWERDOWN_MODE = 0x17,
    FD_CMD_PART_ID = 0x18,
    FD_CMD_SCAN_LOW_OR_EQUAL = 0x19,
    FD_CMD_SCAN_HIGH_OR_EQUAL = 0x1d,
    FD_CMD_SAVE = 0x2e,
    FD_CMD_OPTION = 0x33,
    FD_CMD_RESTORE = 0x4e,
    FD_CMD_DRIVE_SPECIFICATION_COMMAND = 0x8e,
    FD_CMD_RELATIVE_SEEK_OUT = 0x8f,
    FD_CMD_FORMAT_AND_WRITE = 0xcd,
    FD_CMD_RELATIVE_SEEK_IN = 0xcf,
};

static void fdctrl_unimplemented(FDCtrl *s, FDDir direction)
{
    s->fifo[0] = FD_SR0_INVCMD;
    fdctrl_to_result_phase(s, 1);
}

/* The selected unit from a command's drive byte (bits 0-1, of which two drives use bit 0). */
static FDrive *fdctrl_select(FDCtrl *s)
{
    s->cur_drv = s->fifo[1] & FD_DOR_SELMASK;
    return fdctrl_cur_drv(s);
}

static void fdctrl_handle_specify(FDCtrl *s, FDDir direction)
{
    s->timer0 = (s->fifo[1] >> 4) & 0xf;
    s->timer1 = s->fifo[2] >> 1;
    /* ND: non-DMA mode. */
    if (s->fifo[2] & 1) {
        s->dor &= ~FD_DOR_DMAEN;
    } else {
        s->dor |= FD_DOR_DMAEN;
    }
    fdctrl_to_command_phase(s);
}

static void fdctrl_handle_sense_drive_status(FDCtrl *s, FDDir direction)
{
    FDrive *drv = fdctrl_select(s);

    drv->head = (s->fifo[1] >> 2) & 1;
    /* ST3: write protected, track 0, head, unit; ready and two-sided always set. */
    s->fifo[0] =
        (drv->ro << 6) | (drv->track == 0 ? 0x10 : 0) | (drv->head << 2) | s->cur_drv | 0x28;
    fdctrl_to_result_phase(s, 1);
}

static void fdctrl_seek_done(FDCtrl *s)
{
    fdctrl_to_command_phase(s);
    s->status0 |= FD_SR0_SEEK;
    fdctrl_raise_irq(s);
}

static void fdctrl_handle_recalibrate(FDCtrl *s, FDDir direction)
{
    fd_recalibrate(fdctrl_select(s));
    fdctrl_seek_done(s);
}

/* A seek just steps the head, with or without a diskette; fd_seek keeps it in bounds. */
static void fdctrl_handle_seek(FDCtrl *s, FDDir direction)
{
    FDrive *drv = fdctrl_select(s);

    fdctrl_to_command_phase(s);
    fd_seek(drv, drv->head, s->fifo[2], drv->sect);
    s->status0 |= FD_SR0_SEEK;
    fdctrl_raise_irq(s);
}

static void fdctrl_handle_relative_seek_in(FDCtrl *s, FDDir direction)
{
    FDrive *drv = fdctrl_select(s);

    if (s->fifo[2] + drv->track >= drv->max_track) {
        fd_seek(drv, drv->head, drv->max_track - 1, drv->sect);
    } else {
        fd_seek(drv, drv->head, drv->track + s->fifo[2], drv->sect);
    }
    fdctrl_seek_done(s);
}

static void fdctrl_handle_relative_seek_out(FDCtrl *s, FDDir direction)
{
    FDrive *drv = fdctrl_select(s);

    if (s->fifo[2] > drv->track) {
        fd_seek(drv, drv->head, 0, drv->sect);
    } else {
        fd_seek(drv, drv->head, drv->track - s->fifo[2], drv->sect);
    }
    fdctrl_seek_done(s);
}

/*
 * After a reset, four SENSE INTERRUPTs (one per possible drive) report the ready change;
 * after a seek one reports it; with no interrupt pending the command is invalid.
 */
static void fdctrl_handle_sense_interrupt_status(FDCtrl *s, FDDir direction)
{
    FDrive *drv = fdctrl_cur_drv(s);

    if (s->reset_sensei > 0) {
        s->fifo[0] = FD_SR0_RDYCHG + FD_RESET_SENSEI_COUNT - s->reset_sensei;
        s->reset_sensei--;
    } else if (!(s->sra & FD_SRA_INTPEND)) {
        s->fifo[0] = FD_SR0_INVCMD;
        fdctrl_to_result_phase(s, 1);
        return;
    } else {
        s->fifo[0] = (s->status0 & ~(FD_SR0_HEAD | FD_SR0_DS1 | FD_SR0_DS0)) | s->cur_drv;
    }
    s->fifo[1] = drv->track;
    fdctrl_to_result_phase(s, 2);
    fdctrl_reset_irq(s);
    s->status0 = FD_SR0_RDYCHG;
}

/* READ ID answers after the time a sector header takes to come round (20 ms). */
static void fdctrl_handle_readid(FDCtrl *s, FDDir direction)
{
    FDrive *drv = fdctrl_cur_drv(s);

    drv->head = (s->fifo[1] >> 2) & 1;
    timer_mod(s->result_timer, clock_get_ns(CLOCK_VIRTUAL) + NS_PER_SEC / 50);
}

void fdctrl_result_timer(void *opaque)
{
    FDCtrl *s = opaque;
    FDrive *drv = fdctrl_cur_drv(s);

    /* The disk spins: the next header passes the head (Coherent checks interleave so). */
    if (drv->last_sect != 0) {
        drv->sect = (drv->sect % drv->last_sect) + 1;
    }
    if ((s->dsr & FD_DSR_DRATEMASK) != drv->media_rate) {
        fdctrl_stop_transfer(s, FD_SR0_ABNTERM, FD_SR1_MA, 0x00);
    } else {
        fdctrl_stop_transfer(s, 0x00, 0x00, 0x00);
    }
}

static void fdctrl_handle_version(FDCtrl *s, FDDir direction)
{
    s->fifo[0] = s->version;
    fdctrl_to_result_phase(s, 1);
}

static void fdctrl_handle_partid(FDCtrl *s, FDDir direction)
{
    s->fifo[0] = 0x41; /* 82078, stepping 1 */
    fdctrl_to_result_phase(s, 1);
}

static void fdctrl_handle_lock(FDCtrl *s, FDDir direction)
{
    s->lock = (s->fifo[0] & 0x80) ? 1 : 0;
    s->fifo[0] = s->lock << 4;
    fdctrl_to_result_phase(s, 1);
}

static void fdctrl_handle_configure(FDCtrl *s, FDDir direction)
{
    s->config = s->fifo[2];
    s->precomp_trk = s->fifo[3];
    fdctrl_to_command_phase(s);
}

static void fdctrl_handle_perpendicular_mode(FDCtrl *s, FDDir direction)
{
    if (s->fifo[1] & 0x80) {
        fdctrl_cur_drv(s)->perpendicular = s->fifo[1] & 0x7;
    }
    fdctrl_to_command_phase(s);
}

static void fdctrl_handle_dumpreg(FDCtrl *s, FDDir direction)
{
    FDrive *drv = fdctrl_cur_drv(s);

    s->fifo[0] = fdctrl_drv(s, 0)->track;
    s->fifo[1] = fdctrl_drv(s, 1)->track;
    s->fifo[2] = 0;
    s->fifo[3] = 0;
    s->fifo[4] = s->timer0;
    s->fifo[5] = (s->timer1 << 1) | (s->dor & FD_DOR_DMAEN ? 1 : 0);
    s->fifo[6] = drv->last_sect;
    s->fifo[7] = (s->lock << 7) | (drv->perpendicular << 2);
    s->fifo[8] = s->config;
    s->fifo[9] = s->precomp_trk;
    fdctrl_to_result_phase(s, 10);
}

static void fdctrl_handle_save(FDCtrl *s, FDDir direction)
{
    FDrive *drv = fdctrl_cur_drv(s);

    s->fifo[0] = 0;
    s->fifo[1] = 0;
    s->fifo[2] = fdctrl_drv(s, 0)->track;
    s->fifo[3] = fdctrl_drv(s, 1)->track;
    s->fifo[4] = 0;
    s->fifo[5] = 0;
    s->fifo[6] = s->timer0;
    s->fifo[7] = s->timer1;
    s->fifo[8] = drv->last_sect;
    s->fifo[9] = (s->lock << 7) | (drv->perpendicular << 2);
    s->fifo[10] = s->config;
    s->fifo[11] = s->precomp_trk;
    s->fifo[12] = s->pwrd;
    s->fifo[13] = 0;
    s->fifo[14] = 0;
    fdctrl_to_result_phase(s, 15);
}

/*
 * RESTORE puts back what SAVE read out, but for the sectors per track: the geometry comes
 * from the medium (QEMU takes the guest's value). A track beyond the medium is harmless:
 * every sector is checked against the image when it is read or written.
 */
static void fdctrl_handle_restore(FDCtrl *s, FDDir direction)
{
    FDrive *drv = fdctrl_cur_drv(s);

    fdctrl_drv(s, 0)->track = s->fifo[3];
    fdctrl_drv(s, 1)->track = s->fifo[4];
    s->timer0 = s->fifo[7];
    s->timer1 = s->fifo[8];
    s->lock = s->fifo[10] >> 7;
    drv->perpendicular = (s->fifo[10] >> 2) & 0xf;
    s->config = s->fifo[11];
    s->precomp_trk = s->fifo[12];
    s->pwrd = s->fifo[13];
    fdctrl_to_command_phase(s);
}

static void fdctrl_handle_powerdown_mode(FDCtrl *s, FDDir direction)
{
    s->pwrd = s->fifo[1];
    s->fifo[0] = s->fifo[1];
    fdctrl_to_result_phase(s, 1);
}

static void fdctrl_handle_option(FDCtrl *s, FDDir direction)
{
    fdctrl_to_command_phase(s);
}

/* Its parameter list ends with a byte that has bit 7 set; bit 6 there asks for a result. */
static void fdctrl_handle_drive_specification_command(FDCtrl *s, FDDir direction)
{
    uint8_t last = s->fifo[(s->data_pos - 1) % FD_SECTOR_LEN];
    FDrive *drv = fdctrl_cur_drv(s);

    if (!(last & 0x80)) {
        s->fifo[0] = FD_SR0_INVCMD | (drv->head << 2) | s->cur_drv;
        fdctrl_to_result_phase(s, 1);
    } else if (last & 0x40) {
        s->fifo[0] = s->fifo[1];
        s->fifo[2] = 0;
        s->fifo[3] = 0;
        fdctrl_to_result_phase(s, 4);
    } else {
        fdctrl_to_command_phase(s);
    }
}

/* Earlier entries win: a byte is the first command whose masked value it matches. */
static const FDCtrlCommand fdctrl_commands[] = {
    {FD_CMD_READ, 0x1f, "READ", 8, fdctrl_start_transfer, FD_DIR_READ},
    {FD_CMD_WRITE, 0x3f, "WRITE", 8, fdctrl_start_transfer, FD_DIR_WRITE},
    {FD_CMD_SEEK, 0xff, "SEEK", 2, fdctrl_handle_seek},
    {FD_CMD_SENSE_INTERRUPT_STATUS, 0xff, "SENSE INTERRUPT STATUS", 0,
     fdctrl_handle_sense_interrupt_status},
    {FD_CMD_RECALIBRATE, 0xff, "RECALIBRATE", 1, fdctrl_handle_recalibrate},
    {FD_CMD_FORMAT_TRACK, 0xbf, "FORMAT TRACK", 5, fdctrl_start_format, FD_DIR_FORMAT},
    {FD_CMD_READ_TRACK, 0xbf, "READ TRACK", 8, fdctrl_start_transfer, FD_DIR_READ},
    {FD_CMD_RESTORE, 0xff, "RESTORE", 17, fdctrl_handle_restore},
    {FD_CMD_SAVE, 0xff, "SAVE", 0, fdctrl_handle_save},
    {FD_CMD_READ_DELETED, 0x1f, "READ DELETED DATA", 8, fdctrl_start_transfer_del, FD_DIR_READ},
    {FD_CMD_SCAN_EQUAL, 0x1f, "SCAN EQUAL", 8, fdctrl_start_transfer, FD_DIR_SCANE},
    {FD_CMD_VERIFY, 0x1f, "VERIFY", 8, fdctrl_start_transfer, FD_DIR_VERIFY},
    {FD_CMD_SCAN_LOW_OR_EQUAL, 0x1f, "SCAN LOW OR EQUAL", 8, fdctrl_start_transfer, FD_DIR_SCANL},
    {FD_CMD_SCAN_HIGH_OR_EQUAL, 0x1f, "SCAN HIGH OR EQUAL", 8, fdctrl_start_transfer, FD_DIR_SCANH},
    {FD_CMD_WRITE_DELETED, 0x3f, "WRITE DELETED DATA", 8, fdctrl_start_transfer_del, FD_DIR_WRITE},
    {FD_CMD_READ_ID, 0xbf, "READ ID", 1, fdctrl_handle_readid},
    {FD_CMD_SPECIFY, 0xff, "SPECIFY", 2, fdctrl_handle_specify},
    {FD_CMD_SENSE_DRIVE_STATUS, 0xff, "SENSE DRIVE STATUS", 1, fdctrl_handle_sense_drive_status},
    {FD_CMD_PERPENDICULAR_MODE, 0xff, "PERPENDICULAR MODE", 1, fdctrl_handle_perpendicular_mode},
    {FD_CMD_CONFIGURE, 0xff, "CONFIGURE", 3, fdctrl_handle_configure},
    {FD_CMD_POWERDOWN_MODE, 0xff, "POWERDOWN MODE", 2, fdctrl_handle_powerdown_mode},
    {FD_CMD_OPTION, 0xff, "OPTION", 1, fdctrl_handle_option},
    {FD_CMD_DRIVE_SPECIFICATION_COMMAND, 0xff, "DRIVE SPECIFICATION COMMAND", 5,
     fdctrl_handle_drive_specification_command},
    {FD_CMD_RELATIVE_SEEK_OUT, 0xff, "RELATIVE SEEK OUT", 2, fdctrl_handle_relative_seek_out},
    {FD_CMD_FORMAT_AND_WRITE, 0xff, "FORMAT AND WRITE", 10, fdctrl_unimplemented},
    {FD_CMD_RELATIVE_SEEK_IN, 0xff, "RELATIVE SEEK IN", 2, fdctrl_handle_relative_seek_in},
    {FD_CMD_LOCK, 0x7f, "LOCK", 0, fdctrl_handle_lock},
    {FD_CMD_DUMPREG, 0xff, "DUMPREG", 0, fdctrl_handle_dumpreg},
    {FD_CMD_VERSION, 0xff, "VERSION", 0, fdctrl_handle_version},
    {FD_CMD_PART_ID, 0xff, "PART ID", 0, fdctrl_handle_partid},
    /* Not in the datasheet: BeOS 4.5 sends WRITE with bit 5 set. */
    {FD_CMD_WRITE, 0x1f, "WRITE (BeOS)", 8, fdctrl_start_transfer, FD_DIR_WRITE},
};

static const FDCtrlCommand fdctrl_unknown = {0, 0, "unknown", 0, fdctrl_unimplemented};

const FDCtrlCommand *fdctrl_get_command(uint8_t cmd)
{
    for (size_t i = 0; i < G_N_ELEMENTS(fdctrl_commands); i++) {
        if ((cmd & fdctrl_commands[i].mask) == fdctrl_commands[i].value) {
            return &fdctrl_commands[i];
        }
    }
    return &fdctrl_unknown;
}
