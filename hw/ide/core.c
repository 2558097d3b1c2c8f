/*
 * The IDE channel as the host sees it through its ports: the task-file registers written
 * to both drives and read from the selected one, device control (nIEN, SRST, HOB), the
 * interrupt line, the PIO data window, drive reset and signatures, and the asynchronous
 * block requests commands start (each owns its buffer; a reset makes a request in flight
 * stale, and its completion is then dropped). Behaviour follows QEMU's hw/ide/core.c, so
 * guests and tests see the same register values. Not the commands (ata.c, atapi.c).
 */
#include <string.h>
#include <glib.h>
#include "hw/irq.h"
#include "ide-int.h"

void ide_padstr(char *dst, const char *src, int len)
{
    for (int i = 0; i < len; i++) {
        dst[i ^ 1] = *src ? *src++ : ' ';
    }
}

void ide_padstr8(uint8_t *dst, int len, const char *src)
{
    for (int i = 0; i < len; i++) {
        dst[i] = *src ? *src++ : ' ';
    }
}

/* ---- Interrupts ---- */

void ide_set_irq(IDEBus *bus)
{
    if (!(bus->cmd & IDE_CTRL_DISABLE_IRQ)) {
        bus->bmdma.status |= BM_STATUS_INT;
        irq_set_level(bus->irq, true);
    }
}

void ide_lower_irq(IDEBus *bus)
{
    irq_set_level(bus->irq, false);
}

/* ---- PIO data window ---- */

void ide_transfer_start(IDEState *s, uint32_t offset, uint32_t size, IDEPioPhase phase,
                        EndTransferFunc *end)
{
    s->end_transfer_func = end;
    s->data_pos = offset;
    s->data_end = offset + size;
    s->pio_phase = phase;
    if (!(s->status & ERR_STAT)) {
        s->status |= DRQ_STAT;
    }
}

void ide_transfer_stop(IDEState *s)
{
    s->end_transfer_func = ide_transfer_stop;
    s->data_pos = s->data_end = 0;
    s->pio_phase = PIO_NONE;
    s->status &= ~DRQ_STAT;
}

/* After a reset the data port reads 0xffff until a command starts a transfer. */
static void ide_dummy_transfer_stop(IDEState *s)
{
    s->data_pos = s->data_end = 0;
    s->pio_phase = PIO_NONE;
    memset(s->io_buffer, 0xff, 4);
}

uint32_t ide_data_read(IDEBus *bus, unsigned size)
{
    IDEState *s = idebus_active_if(bus);
    uint32_t val = 0;

    if (!(s->status & DRQ_STAT) || s->pio_phase != PIO_IN || s->data_pos + size > s->data_end) {
        return 0;
    }
    memcpy(&val, s->io_buffer + s->data_pos, size);
    s->data_pos += size;
    if (s->data_pos >= s->data_end) {
        s->status &= ~DRQ_STAT;
        s->end_transfer_func(s);
    }
    return GUINT32_FROM_LE(val);
}

void ide_data_write(IDEBus *bus, uint32_t val, unsigned size)
{
    IDEState *s = idebus_active_if(bus);

    if (!(s->status & DRQ_STAT) || s->pio_phase != PIO_OUT || s->data_pos + size > s->data_end) {
        return;
    }
    val = GUINT32_TO_LE(val);
    memcpy(s->io_buffer + s->data_pos, &val, size);
    s->data_pos += size;
    if (s->data_pos >= s->data_end) {
        s->status &= ~DRQ_STAT;
        s->end_transfer_func(s);
    }
}

/* ---- Requests ---- */

typedef struct IDERequest {
    IDEState *s;
    uint64_t gen;
    IDEReqDone *fn;
    void *buf;
    IOVector qiov;
} IDERequest;

static void ide_req_cb(void *opaque, int ret)
{
    IDERequest *r = opaque;
    IDEState *s = r->s;

    if (r->gen == s->req_gen) {
        s->req_busy = false;
        r->fn(s, ret, r->buf);
    }
    iov_destroy(&r->qiov);
    g_free(r->buf);
    g_free(r);
}

static IDERequest *ide_req_new(IDEState *s, IOVector *qiov, void *buf, IDEReqDone *fn)
{
    IDERequest *r = g_new0(IDERequest, 1);

    r->s = s;
    r->gen = ++s->req_gen;
    r->fn = fn;
    r->buf = buf;
    if (qiov) {
        r->qiov = *qiov;
    }
    s->req_busy = true;
    return r;
}

void ide_cancel_request(IDEState *s)
{
    s->req_gen++;
    s->req_busy = false;
    s->retry_fn = NULL;
}

void ide_submit_read(IDEState *s, uint64_t offset, IOVector *qiov, void *buf, IDEReqDone *fn)
{
    IDERequest *r = ide_req_new(s, qiov, buf, fn);

    blk_aio_preadv(s->blk, offset, &r->qiov, 0, ide_req_cb, r);
}

void ide_submit_write(IDEState *s, uint64_t offset, IOVector *qiov, void *buf, IDEReqDone *fn)
{
    IDERequest *r = ide_req_new(s, qiov, buf, fn);

    blk_aio_pwritev(s->blk, offset, &r->qiov, 0, ide_req_cb, r);
}

void ide_submit_flush(IDEState *s, IDEReqDone *fn)
{
    IDERequest *r = ide_req_new(s, NULL, NULL, fn);

    blk_aio_flush(s->blk, ide_req_cb, r);
}

void ide_submit_discard(IDEState *s, uint64_t offset, uint64_t bytes, IDEReqDone *fn)
{
    IDERequest *r = ide_req_new(s, NULL, NULL, fn);

    blk_aio_pdiscard(s->blk, offset, bytes, ide_req_cb, r);
}

/* ---- Reset and signatures ---- */

void ide_set_signature(IDEState *s)
{
    s->select &= ~ATA_DEV_HS;
    s->nsector = 1;
    s->sector = 1;
    if (s->kind == IDE_CD) {
        s->lcyl = 0x14;
        s->hcyl = 0xeb;
    } else if (s->blk) {
        s->lcyl = 0;
        s->hcyl = 0;
    } else {
        s->lcyl = 0xff;
        s->hcyl = 0xff;
    }
}

void ide_abort_command(IDEState *s)
{
    ide_transfer_stop(s);
    s->status = READY_STAT | ERR_STAT;
    s->error = ABRT_ERR;
}

void ide_trim_clear(IDEState *s)
{
    g_clear_pointer(&s->trim_ranges, g_free);
    s->trim_count = s->trim_next = 0;
}

void ide_reset(IDEState *s)
{
    ide_cancel_request(s);
    s->mult_sectors = IDE_MAX_MULT_SECTORS;
    s->feature = s->error = s->sector = s->lcyl = s->hcyl = 0;
    s->nsector = 0;
    s->hob_feature = s->hob_sector = s->hob_nsector = s->hob_lcyl = s->hob_hcyl = 0;
    s->select = ATA_DEV_ALWAYS_ON;
    s->status = READY_STAT | SEEK_STAT;
    s->lba48 = false;
    s->sense_key = s->asc = 0;
    s->cdrom_changed = 0;
    s->packet_transfer_size = 0;
    s->elementary_transfer_size = 0;
    s->io_buffer_index = 0;
    s->cd_sector_size = 0;
    s->atapi_dma = false;
    s->io_buffer_size = 0;
    s->req_nb_sectors = 0;
    s->dma_cmd = IDE_DMA_NONE;
    ide_trim_clear(s);
    ide_set_signature(s);
    s->end_transfer_func = ide_dummy_transfer_stop;
    ide_dummy_transfer_stop(s);
}

void ide_bus_reset(IDEBus *bus)
{
    bus->unit = 0;
    bus->cmd = 0;
    ide_reset(&bus->ifs[0]);
    ide_reset(&bus->ifs[1]);
    bmdma_reset(&bus->bmdma);
    ide_lower_irq(bus);
}

void ide_bus_init(IDEBus *bus, int bus_id, unsigned irq, int serial_base)
{
    bus->bus_id = bus_id;
    bus->irq = irq;
    bus->bmdma.bus = bus;
    for (int i = 0; i < 2; i++) {
        IDEState *s = &bus->ifs[i];

        s->bus = bus;
        s->unit = i;
        s->drive_serial = serial_base + i;
        s->io_buffer = g_malloc0(IDE_BUF_SIZE);
        ide_reset(s);
    }
}

bool ide_init_drive(IDEState *s, BlockBackend *blk, IDEDriveKind kind, const char *serial,
                    const char *model, const char *version, Error **errp)
{
    int64_t len;

    if (kind == IDE_HD && !blk_is_inserted(blk)) {
        error_setg(errp, "Device needs media, but drive is empty");
        return false;
    }
    if (kind == IDE_HD && blk_is_read_only(blk)) {
        error_setg(errp, "Can't use a read-only drive");
        return false;
    }
    len = blk_getlength(blk);
    s->blk = blk;
    s->kind = kind;
    s->nb_sectors = len > 0 ? (uint64_t)len / IDE_SECTOR_SIZE : 0;
    s->tray_open = s->tray_locked = false;
    s->event_new_media = s->event_eject_request = false;
    s->identify_set = false;
    s->smart_enabled = s->smart_autosave = true;
    s->smart_selftest_count = 0;
    memset(s->smart_selftest_data, 0, sizeof(s->smart_selftest_data));
    if (serial && *serial) {
        g_strlcpy(s->serial, serial, sizeof(s->serial));
    } else {
        g_snprintf(s->serial, sizeof(s->serial), "QM%05d", s->drive_serial);
    }
    g_strlcpy(s->model,
              model            ? model
              : kind == IDE_CD ? "QEMU DVD-ROM"
                               : "QEMU HARDDISK",
              sizeof(s->model));
    /* What QEMU's pc machine reports since 2.5 (qemu_hw_version()). */
    g_strlcpy(s->version, version ? version : "2.5+", sizeof(s->version));
    ide_reset(s);
    return true;
}

/* ---- Task-file registers ---- */

static bool ide_bus_empty(IDEBus *bus)
{
    return !bus->ifs[0].blk && !bus->ifs[1].blk;
}

/* The selected drive is absent: a missing slave reads zeros. */
static bool ide_active_absent(IDEBus *bus)
{
    IDEState *s = idebus_active_if(bus);

    return ide_bus_empty(bus) || (s != &bus->ifs[0] && !s->blk);
}

static void ide_clear_hob(IDEBus *bus)
{
    bus->cmd &= ~IDE_CTRL_HOB;
}

uint64_t ide_ioport_read(IDEBus *bus, unsigned reg)
{
    IDEState *s = idebus_active_if(bus);
    bool hob = bus->cmd & IDE_CTRL_HOB;

    switch (reg) {
    case 0:
        return 0xff;
    case 1:
        return ide_active_absent(bus) ? 0 : hob ? s->hob_feature : s->error;
    case 2:
        return ide_bus_empty(bus) ? 0 : hob ? s->hob_nsector : s->nsector & 0xff;
    case 3:
        return ide_bus_empty(bus) ? 0 : hob ? s->hob_sector : s->sector;
    case 4:
        return ide_bus_empty(bus) ? 0 : hob ? s->hob_lcyl : s->lcyl;
    case 5:
        return ide_bus_empty(bus) ? 0 : hob ? s->hob_hcyl : s->hcyl;
    case 6:
        return ide_bus_empty(bus) ? 0 : s->select;
    default:
        ide_lower_irq(bus);
        return ide_active_absent(bus) ? 0 : s->status;
    }
}

/* Registers 1-5 are written to both drives, the old value kept as the HOB byte. */
static void ide_write_taskfile(IDEBus *bus, unsigned reg, uint8_t val)
{
    for (int i = 0; i < 2; i++) {
        IDEState *s = &bus->ifs[i];

        switch (reg) {
        case 1:
            s->hob_feature = s->feature;
            s->feature = val;
            break;
        case 2:
            s->hob_nsector = s->nsector;
            s->nsector = val;
            break;
        case 3:
            s->hob_sector = s->sector;
            s->sector = val;
            break;
        case 4:
            s->hob_lcyl = s->lcyl;
            s->lcyl = val;
            break;
        default:
            s->hob_hcyl = s->hcyl;
            s->hcyl = val;
            break;
        }
    }
}

void ide_ioport_write(IDEBus *bus, unsigned reg, uint8_t val)
{
    /* Writes to the command block are ignored while the drive is busy or transferring. */
    if (reg != 7 && (idebus_active_if(bus)->status & (BUSY_STAT | DRQ_STAT))) {
        return;
    }
    switch (reg) {
    case 0:
        break;
    case 6:
        ide_clear_hob(bus);
        bus->ifs[0].select = val | ATA_DEV_ALWAYS_ON;
        bus->ifs[1].select = val | ATA_DEV_ALWAYS_ON;
        bus->unit = (val & ATA_DEV_SELECT) ? 1 : 0;
        break;
    case 7:
        ide_exec_cmd(bus, val);
        break;
    default:
        ide_clear_hob(bus);
        ide_write_taskfile(bus, reg, val);
        break;
    }
}

uint8_t ide_status_read(IDEBus *bus)
{
    return ide_active_absent(bus) ? 0 : idebus_active_if(bus)->status;
}

/*
 * Device control. SRST going high resets both drives at once, as QEMU's bottom half does
 * before the guest can look: a reset, then the diagnostic's signature, status and
 * interrupt; the bit then reads back clear.
 */
void ide_ctrl_write(IDEBus *bus, uint8_t val)
{
    bool srst = !(bus->cmd & IDE_CTRL_RESET) && (val & IDE_CTRL_RESET);

    bus->cmd = val;
    if (!srst) {
        return;
    }
    if (bus->bmdma.status & BM_STATUS_DMAING) {
        bmdma_set_inactive(&bus->bmdma, false);
    }
    bus->bmdma.dma_cb = NULL;
    for (int i = 0; i < 2; i++) {
        IDEState *s = &bus->ifs[i];

        ide_transfer_stop(s);
        ide_reset(s);
        ide_exec_dev_diagnostic(s);
    }
    bus->cmd &= ~IDE_CTRL_RESET;
}
