/*
 * The ISA floppy controller's register file (82078 in AT mode, the subset QEMU's isa-fdc
 * decodes: SRB, DOR, TDR, MSR/DSR, FIFO at 0x3f1-0x3f5 and DIR/CCR at 0x3f7; 0x3f0 and
 * 0x3f6 are not the FDC's on a PC), the three phases of a command (command bytes in, the
 * execution, result bytes out), IRQ 6, resets (DOR, DSR and system), the media-change
 * callback and the board's entry point. The commands are in fdc-cmd.c, data transfers in
 * fdc-xfer.c, drives and geometry in fdc-drive.c.
 */
#include <glib.h>
#include "fdc-internal.h"
#include "blockdev/blockdev.h"
#include "hw/ioport.h"
#include "hw/irq.h"
#include "hw/isa-dma.h"
#include "hw/machine.h"

/* ---- Drives and the interrupt ---- */

/* The drive a unit number reaches through the TDR's boot-drive swap. */
FDrive *fdctrl_drv(FDCtrl *s, int unit)
{
    bool swap = (s->tdr & FD_TDR_BOOTSEL) != 0;

    return &s->drives[(unit & 1) ^ swap];
}

FDrive *fdctrl_cur_drv(FDCtrl *s)
{
    return fdctrl_drv(s, s->cur_drv);
}

void fdctrl_reset_irq(FDCtrl *s)
{
    s->status0 = 0;
    if (!(s->sra & FD_SRA_INTPEND)) {
        return;
    }
    irq_set_level(s->irq, false);
    s->sra &= ~FD_SRA_INTPEND;
}

void fdctrl_raise_irq(FDCtrl *s)
{
    if (!(s->sra & FD_SRA_INTPEND)) {
        irq_set_level(s->irq, true);
        s->sra |= FD_SRA_INTPEND;
    }
    s->reset_sensei = 0;
}

/* ---- Phases ---- */

void fdctrl_to_command_phase(FDCtrl *s)
{
    s->phase = FD_PHASE_COMMAND;
    s->data_dir = FD_DIR_WRITE;
    s->data_pos = 0;
    s->data_len = 1; /* the command byte; its parameters are added when it is known */
    s->msr &= ~(FD_MSR_CMDBUSY | FD_MSR_DIO);
    s->msr |= FD_MSR_RQM;
}

void fdctrl_to_result_phase(FDCtrl *s, int fifo_len)
{
    s->phase = FD_PHASE_RESULT;
    s->data_dir = FD_DIR_READ;
    s->data_len = fifo_len;
    s->data_pos = 0;
    s->msr |= FD_MSR_CMDBUSY | FD_MSR_RQM | FD_MSR_DIO;
}

void fdctrl_reset(FDCtrl *s, bool do_irq)
{
    fdctrl_reset_irq(s);
    s->sra = 0;
    s->srb = 0xc0;
    if (!s->drives[1].blk) {
        s->sra |= FD_SRA_nDRV2;
    }
    s->cur_drv = 0;
    s->dor = FD_DOR_nRESET | (s->dma_chann >= 0 ? FD_DOR_DMAEN : 0);
    s->msr = FD_MSR_RQM;
    s->reset_sensei = 0;
    timer_del(s->result_timer);
    /* A reset drops a DMA request left by an aborted command (QEMU keeps it held). */
    if (s->dma_chann >= 0) {
        isa_dma_release_dreq(s->dma_chann);
    }
    s->data_pos = 0;
    s->data_len = 0;
    s->data_multi_track = false;
    s->data_dir = FD_DIR_WRITE;
    for (int i = 0; i < FDC_MAX_DRIVES; i++) {
        fd_recalibrate(&s->drives[i]);
    }
    fdctrl_to_command_phase(s);
    if (do_irq) {
        s->status0 |= FD_SR0_RDYCHG;
        fdctrl_raise_irq(s);
        s->reset_sensei = FD_RESET_SENSEI_COUNT;
    }
}

/* ---- Registers ---- */

static void fdctrl_write_dor(FDCtrl *s, uint8_t value)
{
    s->srb &= ~(FD_SRB_MTR0 | FD_SRB_MTR1 | FD_SRB_DR0);
    s->srb |= (value & FD_DOR_MOTEN0 ? FD_SRB_MTR0 : 0) |
              (value & FD_DOR_MOTEN1 ? FD_SRB_MTR1 : 0) | (value & 1 ? FD_SRB_DR0 : 0);
    /* Leaving reset (nRESET 0 -> 1) resets the controller and interrupts. */
    if ((value & FD_DOR_nRESET) && !(s->dor & FD_DOR_nRESET)) {
        fdctrl_reset(s, true);
        s->dsr &= ~FD_DSR_PWRDOWN;
    }
    s->cur_drv = value & FD_DOR_SELMASK;
    s->dor = value;
}

static void fdctrl_write_tdr(FDCtrl *s, uint8_t value)
{
    if (s->dor & FD_DOR_nRESET) {
        s->tdr = value & FD_TDR_BOOTSEL;
    }
}

static uint8_t fdctrl_read_msr(FDCtrl *s)
{
    s->dsr &= ~FD_DSR_PWRDOWN;
    s->dor |= FD_DOR_nRESET;
    return s->msr;
}

static void fdctrl_write_dsr(FDCtrl *s, uint8_t value)
{
    if (!(s->dor & FD_DOR_nRESET)) {
        return;
    }
    /* Software reset clears itself. */
    if (value & FD_DSR_SWRESET) {
        s->dor &= ~FD_DOR_nRESET;
        fdctrl_reset(s, true);
        s->dor |= FD_DOR_nRESET;
    }
    if (value & FD_DSR_PWRDOWN) {
        fdctrl_reset(s, true);
    }
    s->dsr = value;
}

/* Only the data rate bits matter in AT mode; they live in the DSR. */
static void fdctrl_write_ccr(FDCtrl *s, uint8_t value)
{
    if (s->dor & FD_DOR_nRESET) {
        s->dsr = (s->dsr & ~FD_DSR_DRATEMASK) | (value & FD_DSR_DRATEMASK);
    }
}

static uint8_t fdctrl_read_dir(FDCtrl *s)
{
    return fdctrl_cur_drv(s)->media_changed ? FD_DIR_DSKCHG : 0;
}

/* The result phase: bytes out of the FIFO; the last one ends the command. */
static uint8_t fdctrl_read_fifo(FDCtrl *s)
{
    uint32_t pos;

    s->dsr &= ~FD_DSR_PWRDOWN;
    if (!(s->msr & FD_MSR_RQM) || !(s->msr & FD_MSR_DIO)) {
        return 0;
    }
    if (s->phase == FD_PHASE_EXECUTION) {
        return fdctrl_pio_read(s);
    }
    if (s->phase != FD_PHASE_RESULT) {
        return 0;
    }
    pos = s->data_pos % FD_SECTOR_LEN;
    if (++s->data_pos == s->data_len) {
        s->msr &= ~FD_MSR_RQM;
        fdctrl_to_command_phase(s);
        fdctrl_reset_irq(s);
    }
    return s->fifo[pos];
}

/* The command phase: a command byte, then as many parameters as it takes. */
static void fdctrl_write_command(FDCtrl *s, uint8_t value)
{
    const FDCtrlCommand *cmd;
    uint32_t pos = s->data_pos++;

    s->fifo[pos] = value;
    if (s->data_pos == s->data_len) {
        s->msr &= ~FD_MSR_RQM;
    }
    if (pos == 0) {
        cmd = fdctrl_get_command(value);
        s->data_len = cmd->parameters + 1;
        if (cmd->parameters) {
            s->msr |= FD_MSR_RQM;
        }
        s->msr |= FD_MSR_CMDBUSY;
    }
    if (s->data_pos == s->data_len) {
        s->phase = FD_PHASE_EXECUTION;
        cmd = fdctrl_get_command(s->fifo[0]);
        cmd->handler(s, cmd->direction);
    }
}

static void fdctrl_write_fifo(FDCtrl *s, uint8_t value)
{
    if (!(s->dor & FD_DOR_nRESET)) {
        return;
    }
    if (!(s->msr & FD_MSR_RQM) || (s->msr & FD_MSR_DIO)) {
        return;
    }
    s->dsr &= ~FD_DSR_PWRDOWN;
    if (s->phase == FD_PHASE_EXECUTION) {
        fdctrl_pio_write(s, value);
    } else if (s->phase == FD_PHASE_COMMAND && s->data_pos < s->data_len &&
               s->data_len <= FD_SECTOR_LEN) {
        fdctrl_write_command(s, value);
    }
}

static uint8_t fdctrl_read_reg(FDCtrl *s, unsigned reg)
{
    switch (reg) {
    case FD_REG_SRA:
        return s->sra;
    case FD_REG_SRB:
        return s->srb;
    case FD_REG_DOR:
        return s->dor | s->cur_drv;
    case FD_REG_TDR:
        return s->tdr;
    case FD_REG_MSR:
        return fdctrl_read_msr(s);
    case FD_REG_FIFO:
        return fdctrl_read_fifo(s);
    case FD_REG_DIR:
        return fdctrl_read_dir(s);
    default:
        return 0xff;
    }
}

static void fdctrl_write_reg(FDCtrl *s, unsigned reg, uint8_t value)
{
    switch (reg) {
    case FD_REG_DOR:
        fdctrl_write_dor(s, value);
        break;
    case FD_REG_TDR:
        fdctrl_write_tdr(s, value);
        break;
    case FD_REG_DSR:
        fdctrl_write_dsr(s, value);
        break;
    case FD_REG_FIFO:
        fdctrl_write_fifo(s, value);
        break;
    case FD_REG_CCR:
        fdctrl_write_ccr(s, value);
        break;
    }
}

/* The regions start at 0x3f1 and 0x3f7: their opaque carries the first register's number. */
typedef struct FDCtrlPorts {
    FDCtrl *s;
    unsigned first_reg;
} FDCtrlPorts;

static uint64_t fdctrl_io_read(void *opaque, uint64_t addr, unsigned size)
{
    FDCtrlPorts *p = opaque;
    uint64_t val = 0;

    for (unsigned i = 0; i < size; i++) {
        val |= (uint64_t)fdctrl_read_reg(p->s, (p->first_reg + addr + i) & 7) << (8 * i);
    }
    return val;
}

static void fdctrl_io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    FDCtrlPorts *p = opaque;

    for (unsigned i = 0; i < size; i++) {
        fdctrl_write_reg(p->s, (p->first_reg + addr + i) & 7, val >> (8 * i));
    }
}

static const IOOps fdctrl_io_ops = {
    .read = fdctrl_io_read,
    .write = fdctrl_io_write,
};

/* ---- Media changes and resets ---- */

static void fd_change_media_cb(void *opaque, bool load)
{
    FDrive *drv = opaque;

    drv->media_changed = true;
    drv->media_validated = false;
    fd_revalidate(drv);
}

static const BlockDevOps fd_block_ops = {
    .change_media_cb = fd_change_media_cb,
};

static void fdctrl_system_reset(void *opaque)
{
    fdctrl_reset(opaque, false);
}

FloppyDriveType fdc_get_drive_type(FDCtrl *s, int unit)
{
    if (!s || unit < 0 || unit >= FDC_MAX_DRIVES) {
        return FLOPPY_DRIVE_TYPE_NONE;
    }
    return s->drives[unit].drive;
}

unsigned fdc_cmos_drive_type(FloppyDriveType type)
{
    switch (type) {
    case FLOPPY_DRIVE_TYPE_144:
        return 4;
    case FLOPPY_DRIVE_TYPE_288:
        return 5;
    case FLOPPY_DRIVE_TYPE_120:
        return 2;
    default:
        return 0;
    }
}

static bool fdctrl_claim_drives(FDCtrl *s, DriveInfo *fds[FDC_MAX_DRIVES],
                                BlockBackend *blk[FDC_MAX_DRIVES], Error **errp)
{
    for (int i = 0; i < FDC_MAX_DRIVES; i++) {
        blk[i] = NULL;
        if (fds[i] && !(blk[i] = drive_claim(fds[i], s))) {
            error_setg(errp, "Floppy drive %d is already in use by another device", i);
            return false;
        }
    }
    return true;
}

FDCtrl *fdc_init_isa(uint16_t iobase, unsigned irq, int dma_chan, DriveInfo *fds[FDC_MAX_DRIVES],
                     Error **errp)
{
    FDCtrl *s = g_new0(FDCtrl, 1);
    FDCtrlPorts *p = g_new0(FDCtrlPorts, 2);
    BlockBackend *blk[FDC_MAX_DRIVES];

    if (!fdctrl_claim_drives(s, fds, blk, errp)) {
        g_free(p);
        g_free(s);
        return NULL;
    }
    s->irq = irq;
    s->dma_chann = dma_chan;
    s->version = 0x90; /* Intel 82078 */
    s->config = FD_CONFIG_EIS | FD_CONFIG_EFIFO;
    s->fallback = FLOPPY_DRIVE_TYPE_288;
    s->result_timer = timer_new(CLOCK_VIRTUAL, fdctrl_result_timer, s);
    for (int i = 0; i < FDC_MAX_DRIVES; i++) {
        FDrive *drv = &s->drives[i];

        fd_init(drv, s, blk[i]);
        if (blk[i]) {
            blk_set_dev_ops(blk[i], &fd_block_ops, drv);
            fd_pick_drive_type(drv);
        }
        fd_revalidate(drv);
    }
    if (dma_chan >= 0) {
        isa_dma_register_channel(dma_chan, fdctrl_transfer_handler, s);
    }
    p[0] = (FDCtrlPorts){s, 1};
    p[1] = (FDCtrlPorts){s, 7};
    portio_add(iobase + 1, 5, &fdctrl_io_ops, &p[0], "fdc");
    portio_add(iobase + 7, 1, &fdctrl_io_ops, &p[1], "fdc");
    machine_register_reset(fdctrl_system_reset, s);
    fdctrl_reset(s, false);
    return s;
}
