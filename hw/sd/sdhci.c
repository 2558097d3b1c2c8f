/*
 * The SD host controller's register file: commands to the card and their responses,
 * programmed I/O through the buffer data port, interrupt status, resets, card insertion.
 * Register semantics follow QEMU 7.2's sdhci, including its answers to odd input (a data
 * command the card does not accept is treated as a write; the software reset acts on one
 * bit at a time). DMA engines: sdhci-dma.c; the PCI function: sdhci-pci.c.
 *
 * Every guest-written size is clamped where it enters (block size to the buffer), and the
 * buffer index is checked on each byte, so no register sequence reaches outside the
 * buffer.
 */
#include <string.h>
#include "hw/ioport.h"
#include "sdhci-int.h"

#define SDHC_INSERTION_DELAY_NS (100 * 1000 * 1000)

static void sdhci_data_transfer(SDHCIState *s);

static bool sdhci_slotint(SDHCIState *s)
{
    return (s->r.norintsts & s->r.norintsigen) || (s->r.errintsts & s->r.errintsigen) ||
           ((s->r.norintsts & SDHC_NIS_INSERT) && (s->r.wakcon & SDHC_WKUP_ON_INS)) ||
           ((s->r.norintsts & SDHC_NIS_REMOVE) && (s->r.wakcon & SDHC_WKUP_ON_RMV));
}

void sdhci_update_irq(SDHCIState *s)
{
    if (s->pci) {
        pci_set_irq(s->pci, sdhci_slotint(s));
    }
}

/* Raise a normal interrupt status bit if its status enable is set. */
static void sdhci_raise(SDHCIState *s, uint16_t nis)
{
    if (s->r.norintstsen & nis) {
        s->r.norintsts |= nis;
    }
}

static void sdhci_raise_error(SDHCIState *s, uint16_t eis)
{
    if (s->r.errintstsen & eis) {
        s->r.errintsts |= eis;
        s->r.norintsts |= SDHC_NIS_ERR;
    }
}

static void sdhci_sync_err_bit(SDHCIState *s)
{
    if (s->r.errintsts) {
        s->r.norintsts |= SDHC_NIS_ERR;
    } else {
        s->r.norintsts &= ~SDHC_NIS_ERR;
    }
}

/* ---- Card insertion ---- */

static bool sdhci_card_inserted(SDHCIState *s)
{
    return s->sdbus.card && sd_card_inserted(s->sdbus.card);
}

static void sdhci_set_inserted(SDHCIState *s, bool inserted)
{
    if (inserted) {
        s->r.prnsts = SDHC_PRNSTS_INSERTED;
        sdhci_raise(s, SDHC_NIS_INSERT);
    } else {
        s->r.prnsts = SDHC_PRNSTS_EMPTY;
        s->r.pwrcon &= ~SDHC_POWER_ON;
        s->r.clkcon &= ~SDHC_CLOCK_SDCLK_EN;
        sdhci_raise(s, SDHC_NIS_REMOVE);
    }
}

static void sdhci_set_readonly(SDHCIState *s)
{
    if (s->sdbus.card && sd_card_readonly(s->sdbus.card)) {
        s->r.prnsts &= ~SDHC_WRITE_PROTECT;
    } else {
        s->r.prnsts |= SDHC_WRITE_PROTECT;
    }
}

/* A card that comes back while its removal is still unacknowledged waits a little, so
 * the driver sees the removal first. An empty slot that stays empty raises nothing: QEMU
 * 2.2's "change" closes the old medium (already gone after an eject) before the new one. */
static void sdhci_card_changed(void *opaque)
{
    SDHCIState *s = opaque;
    bool inserted = sdhci_card_inserted(s);

    if (!inserted && !(s->r.prnsts & SDHC_CARD_PRESENT)) {
        return;
    }
    if (inserted && (s->r.norintsts & SDHC_NIS_REMOVE)) {
        timer_mod(s->insert_timer, clock_get_ns(CLOCK_VIRTUAL) + SDHC_INSERTION_DELAY_NS);
        return;
    }
    sdhci_set_inserted(s, inserted);
    sdhci_set_readonly(s);
    sdhci_update_irq(s);
}

static void sdhci_insert_timer(void *opaque)
{
    sdhci_card_changed(opaque);
}

/* ADMA goes on after a pause, with whatever the registers say by then. */
static void sdhci_transfer_timer(void *opaque)
{
    sdhci_data_transfer(opaque);
}

void sdhci_reset(SDHCIState *s)
{
    timer_del(s->insert_timer);
    timer_del(s->transfer_timer);
    memset(&s->r, 0, sizeof(s->r));
    sdhci_set_inserted(s, sdhci_card_inserted(s));
    sdhci_set_readonly(s);
    sdhci_update_irq(s);
}

/* ---- Buffer <-> card ---- */

void sdhci_fifo_from_card(SDHCIState *s, unsigned len)
{
    size_t got = 0;

    len = MIN(len, s->buf_maxsz);
    if (s->sdbus.card) {
        got = sd_card_read_data(s->sdbus.card, s->fifo, len);
    }
    memset(s->fifo + got, 0, len - got);
}

void sdhci_fifo_to_card(SDHCIState *s, unsigned len)
{
    len = MIN(len, s->buf_maxsz);
    if (s->sdbus.card) {
        sd_card_write_data(s->sdbus.card, s->fifo, len);
    }
}

/* ---- Commands ---- */

static uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int sdhci_card_command(SDHCIState *s, uint8_t cmd, uint32_t arg, uint8_t resp[16])
{
    memset(resp, 0, 16);
    return s->sdbus.card ? sd_card_do_command(s->sdbus.card, cmd, arg, resp) : SD_RSP_NONE;
}

/* The response registers hold bits 39..8 of a 48-bit response, bits 127..8 of R2; a
 * command without response leaves them as they were. */
static bool sdhci_store_response(SDHCIState *s, const uint8_t *resp, int len)
{
    if (len == SD_RSP_48) {
        memset(s->r.rspreg, 0, sizeof(s->r.rspreg));
        s->r.rspreg[0] = be32_at(resp);
    } else if (len == SD_RSP_136) {
        s->r.rspreg[0] = be32_at(resp + 11);
        s->r.rspreg[1] = be32_at(resp + 7);
        s->r.rspreg[2] = be32_at(resp + 3);
        s->r.rspreg[3] = be32_at(resp) >> 8;
    } else {
        return false;
    }
    return true;
}

static void sdhci_send_command(SDHCIState *s)
{
    uint8_t resp[16];
    bool timeout = false;
    int len;

    s->r.errintsts = 0;
    s->r.acmd12errsts = 0;
    len = sdhci_card_command(s, s->r.cmdreg >> 8, s->r.argument, resp);
    if (s->r.cmdreg & SDHC_CMD_RESPONSE) {
        if (!sdhci_store_response(s, resp, len)) {
            timeout = true;
            sdhci_raise_error(s, SDHC_EIS_CMDTIMEOUT);
        }
        if ((s->r.cmdreg & SDHC_CMD_RESPONSE) == SDHC_CMD_RSP_WITH_BUSY) {
            sdhci_raise(s, SDHC_NIS_TRSCMP);
        }
    }
    sdhci_raise(s, SDHC_NIS_CMDCMP);
    sdhci_update_irq(s);
    if (!timeout && SDHC_BLKSIZE_BYTES(s) && (s->r.cmdreg & SDHC_CMD_DATA_PRESENT)) {
        s->r.data_count = 0;
        sdhci_data_transfer(s);
    }
}

/* The data phase ended (or the last block moved): auto CMD12, transfer complete. */
void sdhci_end_transfer(SDHCIState *s)
{
    if (s->r.trnmod & SDHC_TRNS_ACMD12) {
        uint8_t resp[16];

        sdhci_card_command(s, 12, 0, resp);
        s->r.rspreg[3] = be32_at(resp);
    }
    s->r.prnsts &= ~(SDHC_DOING_READ | SDHC_DOING_WRITE | SDHC_DAT_LINE_ACTIVE | SDHC_DATA_INHIBIT |
                     SDHC_SPACE_AVAILABLE | SDHC_DATA_AVAILABLE);
    sdhci_raise(s, SDHC_NIS_TRSCMP);
    sdhci_update_irq(s);
}

static bool sdhci_can_issue_command(SDHCIState *s)
{
    bool busy = (s->r.prnsts & SDHC_DATA_INHIBIT) || s->r.stopped_state != SDHC_NOT_STOPPED;
    bool uses_dat = (s->r.cmdreg & SDHC_CMD_DATA_PRESENT) ||
                    ((s->r.cmdreg & SDHC_CMD_RESPONSE) == SDHC_CMD_RSP_WITH_BUSY &&
                     (s->r.cmdreg >> SDHC_CMD_TYPE_SHIFT & 3) != SDHC_CMD_ABORT);

    return (s->r.clkcon & SDHC_CLOCK_SDCLK_EN) && !(busy && uses_dat);
}

/* ---- Programmed I/O ---- */

static void sdhci_read_block_from_card(SDHCIState *s)
{
    if (sdhci_multi(s) && sdhci_counting(s) && s->r.blkcnt == 0) {
        return;
    }
    sdhci_fifo_from_card(s, SDHC_BLKSIZE_BYTES(s));
    s->r.prnsts |= SDHC_DATA_AVAILABLE;
    sdhci_raise(s, SDHC_NIS_RBUFRDY);
    if (!sdhci_multi(s) || s->r.blkcnt == 1) {
        s->r.prnsts &= ~SDHC_DAT_LINE_ACTIVE;
    }
    if (s->r.stopped_state == SDHC_GAP_READ && sdhci_multi(s) && s->r.blkcnt != 1) {
        s->r.prnsts &= ~SDHC_DAT_LINE_ACTIVE;
        sdhci_raise(s, SDHC_NIS_BLKGAP);
    }
    sdhci_update_irq(s);
}

/* The guest has taken the whole buffer: count the block, then the next one or the end. */
static void sdhci_read_block_done(SDHCIState *s)
{
    s->r.prnsts &= ~SDHC_DATA_AVAILABLE;
    s->r.data_count = 0;
    if (sdhci_counting(s)) {
        s->r.blkcnt--;
    }
    if (!sdhci_multi(s) || (sdhci_counting(s) && s->r.blkcnt == 0) ||
        (s->r.stopped_state == SDHC_GAP_READ && !(s->r.prnsts & SDHC_DAT_LINE_ACTIVE))) {
        sdhci_end_transfer(s);
    } else {
        sdhci_read_block_from_card(s);
    }
}

static uint32_t sdhci_read_dataport(SDHCIState *s, unsigned size)
{
    uint32_t value = 0;

    if (!(s->r.prnsts & SDHC_DATA_AVAILABLE)) {
        return 0;
    }
    for (unsigned i = 0; i < size; i++) {
        if (s->r.data_count < sizeof(s->fifo)) {
            value |= (uint32_t)s->fifo[s->r.data_count] << (8 * i);
        }
        s->r.data_count++;
        if (s->r.data_count >= SDHC_BLKSIZE_BYTES(s)) {
            sdhci_read_block_done(s);
            break;
        }
    }
    return value;
}

static void sdhci_write_block_to_card(SDHCIState *s)
{
    if (s->r.prnsts & SDHC_SPACE_AVAILABLE) {
        sdhci_raise(s, SDHC_NIS_WBUFRDY);
        sdhci_update_irq(s);
        return;
    }
    if (sdhci_counting(s)) {
        if (s->r.blkcnt == 0) {
            return;
        }
        s->r.blkcnt--;
    }
    sdhci_fifo_to_card(s, SDHC_BLKSIZE_BYTES(s));
    s->r.prnsts |= SDHC_SPACE_AVAILABLE;
    if (!sdhci_multi(s) || (sdhci_counting(s) && s->r.blkcnt == 0)) {
        sdhci_end_transfer(s);
    } else {
        sdhci_raise(s, SDHC_NIS_WBUFRDY);
    }
    if (s->r.stopped_state == SDHC_GAP_WRITE && sdhci_multi(s) && s->r.blkcnt > 0) {
        s->r.prnsts &= ~SDHC_DOING_WRITE;
        sdhci_raise(s, SDHC_NIS_BLKGAP);
        sdhci_end_transfer(s);
    }
    sdhci_update_irq(s);
}

static void sdhci_write_dataport(SDHCIState *s, uint32_t value, unsigned size)
{
    if (!(s->r.prnsts & SDHC_SPACE_AVAILABLE)) {
        return;
    }
    for (unsigned i = 0; i < size; i++, value >>= 8) {
        if (s->r.data_count < sizeof(s->fifo)) {
            s->fifo[s->r.data_count] = value;
        }
        s->r.data_count++;
        if (s->r.data_count >= SDHC_BLKSIZE_BYTES(s)) {
            s->r.data_count = 0;
            s->r.prnsts &= ~SDHC_SPACE_AVAILABLE;
            if (s->r.prnsts & SDHC_DOING_WRITE) {
                sdhci_write_block_to_card(s);
            }
        }
    }
}

static void sdhci_pio_start(SDHCIState *s)
{
    if (sdhci_reading(s) && s->sdbus.card && sd_card_data_ready(s->sdbus.card)) {
        s->r.prnsts |= SDHC_DOING_READ | SDHC_DATA_INHIBIT | SDHC_DAT_LINE_ACTIVE;
        sdhci_read_block_from_card(s);
    } else {
        /* QEMU's choice, kept: anything that is not a read with data ready is a write. */
        s->r.prnsts |=
            SDHC_DOING_WRITE | SDHC_DAT_LINE_ACTIVE | SDHC_SPACE_AVAILABLE | SDHC_DATA_INHIBIT;
        sdhci_write_block_to_card(s);
    }
}

static void sdhci_data_transfer(SDHCIState *s)
{
    if (!(s->r.trnmod & SDHC_TRNS_DMA)) {
        sdhci_pio_start(s);
        return;
    }
    switch (SDHC_DMA_TYPE(s)) {
    case SDHC_CTRL_SDMA:
        if (s->r.blkcnt == 1 || !sdhci_multi(s)) {
            sdhci_sdma_single(s);
        } else {
            sdhci_sdma_multi(s);
        }
        break;
    case SDHC_CTRL_ADMA1_32:
        if (s->capareg & SDHC_CAPAB_ADMA1) {
            sdhci_adma_transfer(s);
        }
        break;
    case SDHC_CTRL_ADMA2_32:
        if (s->capareg & SDHC_CAPAB_ADMA2) {
            sdhci_adma_transfer(s);
        }
        break;
    default:
        if ((s->capareg & SDHC_CAPAB_ADMA2) && (s->capareg & SDHC_CAPAB_BUS64BIT)) {
            sdhci_adma_transfer(s);
        }
        break;
    }
}

/* ---- Register writes ---- */

#define MASKED_WRITE(reg, keep, val) ((reg) = ((reg) & (keep)) | (val))
#define TRANSFERRING_DATA(s) ((s)->r.prnsts & (SDHC_DOING_READ | SDHC_DOING_WRITE))

static void sdhci_blkgap_write(SDHCIState *s, uint8_t value)
{
    if ((value & SDHC_STOP_AT_GAP_REQ) && (s->r.blkgap & SDHC_STOP_AT_GAP_REQ)) {
        return;
    }
    s->r.blkgap = value & SDHC_STOP_AT_GAP_REQ;
    if ((value & SDHC_CONTINUE_REQ) && s->r.stopped_state != SDHC_NOT_STOPPED &&
        !(s->r.blkgap & SDHC_STOP_AT_GAP_REQ)) {
        if (s->r.stopped_state == SDHC_GAP_READ) {
            s->r.prnsts |= SDHC_DAT_LINE_ACTIVE | SDHC_DOING_READ;
            sdhci_read_block_from_card(s);
        } else {
            s->r.prnsts |= SDHC_DAT_LINE_ACTIVE | SDHC_DOING_WRITE;
            sdhci_write_block_to_card(s);
        }
        s->r.stopped_state = SDHC_NOT_STOPPED;
    } else if (s->r.stopped_state == SDHC_NOT_STOPPED && (value & SDHC_STOP_AT_GAP_REQ)) {
        if (s->r.prnsts & SDHC_DOING_READ) {
            s->r.stopped_state = SDHC_GAP_READ;
        } else if (s->r.prnsts & SDHC_DOING_WRITE) {
            s->r.stopped_state = SDHC_GAP_WRITE;
        }
    }
}

static void sdhci_reset_write(SDHCIState *s, uint8_t value)
{
    switch (value) {
    case SDHC_RESET_ALL:
        sdhci_reset(s);
        break;
    case SDHC_RESET_CMD:
        s->r.prnsts &= ~SDHC_CMD_INHIBIT;
        s->r.norintsts &= ~SDHC_NIS_CMDCMP;
        break;
    case SDHC_RESET_DATA:
        s->r.data_count = 0;
        s->r.prnsts &= ~(SDHC_SPACE_AVAILABLE | SDHC_DATA_AVAILABLE | SDHC_DOING_READ |
                         SDHC_DOING_WRITE | SDHC_DATA_INHIBIT | SDHC_DAT_LINE_ACTIVE);
        s->r.blkgap &= ~(SDHC_STOP_AT_GAP_REQ | SDHC_CONTINUE_REQ);
        s->r.stopped_state = SDHC_NOT_STOPPED;
        s->r.norintsts &= ~(SDHC_NIS_WBUFRDY | SDHC_NIS_RBUFRDY | SDHC_NIS_DMA | SDHC_NIS_TRSCMP |
                            SDHC_NIS_BLKGAP);
        break;
    }
}

/* SYSAD: while no transfer runs; its top byte written resumes an SDMA transfer. */
static void sdhci_sysad_write(SDHCIState *s, uint32_t keep, uint32_t value)
{
    if (TRANSFERRING_DATA(s)) {
        return;
    }
    MASKED_WRITE(s->r.sdmasysad, keep, value);
    if (!(keep & 0xff000000) && s->r.blkcnt && SDHC_BLKSIZE_BYTES(s) &&
        SDHC_DMA_TYPE(s) == SDHC_CTRL_SDMA) {
        if (sdhci_multi(s)) {
            sdhci_sdma_multi(s);
        } else {
            sdhci_sdma_single(s);
        }
    }
}

static void sdhci_blksize_write(SDHCIState *s, uint32_t keep, uint32_t value)
{
    uint16_t old = s->r.blksize;

    if (TRANSFERRING_DATA(s)) {
        return;
    }
    MASKED_WRITE(s->r.blksize, keep, value & 0x7fff); /* bit 15 is reserved */
    MASKED_WRITE(s->r.blkcnt, keep >> 16, value >> 16);
    if (SDHC_BLKSIZE_BYTES(s) > s->buf_maxsz) {
        s->r.blksize = (s->r.blksize & ~SDHC_BLOCK_SIZE_MASK) | s->buf_maxsz;
    }
    if (s->r.blksize != old) {
        s->r.data_count = 0;
    }
}

static void sdhci_trnmod_write(SDHCIState *s, uint32_t keep, uint32_t value)
{
    if (!(s->capareg & SDHC_CAPAB_SDMA)) {
        value &= ~SDHC_TRNS_DMA;
    }
    MASKED_WRITE(s->r.trnmod, keep, value & SDHC_TRNMOD_MASK);
    MASKED_WRITE(s->r.cmdreg, keep >> 16, value >> 16);
    /* Writing the command register's upper byte sends the command. */
    if (!(keep & 0xff000000) && sdhci_can_issue_command(s)) {
        sdhci_send_command(s);
    }
}

static void sdhci_hostctl_write(SDHCIState *s, uint32_t keep, uint32_t value)
{
    unsigned vdd;

    if (!(keep & 0xff0000)) {
        sdhci_blkgap_write(s, value >> 16);
    }
    MASKED_WRITE(s->r.hostctl1, keep, value);
    MASKED_WRITE(s->r.pwrcon, keep >> 8, value >> 8);
    MASKED_WRITE(s->r.wakcon, keep >> 24, value >> 24);
    /* Power stays off without a card or for a voltage the capabilities do not offer. */
    vdd = (s->r.pwrcon >> 1) & 7;
    if (!(s->r.prnsts & SDHC_CARD_PRESENT) || vdd < 5 || !(s->capareg & (1u << (31 - vdd)))) {
        s->r.pwrcon &= ~SDHC_POWER_ON;
    }
}

static void sdhci_clkcon_write(SDHCIState *s, uint32_t keep, uint32_t value)
{
    if (!(keep & 0xff000000)) {
        sdhci_reset_write(s, value >> 24);
    }
    MASKED_WRITE(s->r.clkcon, keep, value);
    MASKED_WRITE(s->r.timeoutcon, keep >> 16, value >> 16);
    if (s->r.clkcon & SDHC_CLOCK_INT_EN) {
        s->r.clkcon |= SDHC_CLOCK_INT_STABLE;
    } else {
        s->r.clkcon &= ~SDHC_CLOCK_INT_STABLE;
    }
}

static void sdhci_intsts_write(SDHCIState *s, uint32_t keep, uint32_t value)
{
    if (s->r.norintstsen & SDHC_NIS_CARDINT) {
        value &= ~SDHC_NIS_CARDINT;
    }
    s->r.norintsts &= keep | ~value;
    s->r.errintsts &= (keep >> 16) | ~(value >> 16);
    sdhci_sync_err_bit(s);
    sdhci_update_irq(s);
}

static void sdhci_intstsen_write(SDHCIState *s, uint32_t keep, uint32_t value)
{
    MASKED_WRITE(s->r.norintstsen, keep, value);
    MASKED_WRITE(s->r.errintstsen, keep >> 16, value >> 16);
    s->r.norintsts &= s->r.norintstsen;
    s->r.errintsts &= s->r.errintstsen;
    sdhci_sync_err_bit(s);
    sdhci_update_irq(s);
}

static void sdhci_force_event_write(SDHCIState *s, uint32_t value)
{
    s->r.acmd12errsts |= value;
    s->r.errintsts |= (value >> 16) & s->r.errintstsen;
    if (s->r.acmd12errsts) {
        s->r.errintsts |= SDHC_EIS_CMD12ERR;
    }
    if (s->r.errintsts) {
        s->r.norintsts |= SDHC_NIS_ERR;
    }
    sdhci_update_irq(s);
}

/* One access within one 32-bit register word: keep is the mask of bits not written. */
static void sdhci_write_word(SDHCIState *s, unsigned word, uint32_t keep, uint32_t value,
                             unsigned offset, unsigned size)
{
    switch (word) {
    case SDHC_SYSAD:
        sdhci_sysad_write(s, keep, value);
        break;
    case SDHC_BLKSIZE:
        sdhci_blksize_write(s, keep, value);
        break;
    case SDHC_ARGUMENT:
        MASKED_WRITE(s->r.argument, keep, value);
        break;
    case SDHC_TRNMOD:
        sdhci_trnmod_write(s, keep, value);
        break;
    case SDHC_BDATA:
        if ((s->r.data_count & 3) == (offset & 3)) {
            sdhci_write_dataport(s, value >> (8 * (offset & 3)), size);
        }
        break;
    case SDHC_HOSTCTL:
        sdhci_hostctl_write(s, keep, value);
        break;
    case SDHC_CLKCON:
        sdhci_clkcon_write(s, keep, value);
        break;
    case SDHC_NORINTSTS:
        sdhci_intsts_write(s, keep, value);
        break;
    case SDHC_NORINTSTSEN:
        sdhci_intstsen_write(s, keep, value);
        break;
    case SDHC_NORINTSIGEN:
        MASKED_WRITE(s->r.norintsigen, keep, value);
        MASKED_WRITE(s->r.errintsigen, keep >> 16, value >> 16);
        sdhci_update_irq(s);
        break;
    case SDHC_ACMD12ERRSTS:
        MASKED_WRITE(s->r.acmd12errsts, keep, value & 0xffff);
        break;
    case SDHC_FEAER:
        sdhci_force_event_write(s, value);
        break;
    case SDHC_ADMAERR:
        MASKED_WRITE(s->r.admaerr, keep, value);
        break;
    case SDHC_ADMASYSADDR:
        s->r.admasysaddr = (s->r.admasysaddr & (0xffffffff00000000ull | keep)) | value;
        break;
    case SDHC_ADMASYSADDR + 4:
        s->r.admasysaddr =
            (s->r.admasysaddr & (0xffffffffull | (uint64_t)keep << 32)) | (uint64_t)value << 32;
        break;
    default: /* read-only (capabilities, maximum current, version) or not implemented */
        break;
    }
}

static uint32_t sdhci_read_word(SDHCIState *s, unsigned word, unsigned offset, unsigned size)
{
    switch (word) {
    case SDHC_SYSAD:
        return s->r.sdmasysad;
    case SDHC_BLKSIZE:
        return s->r.blksize | (uint32_t)s->r.blkcnt << 16;
    case SDHC_ARGUMENT:
        return s->r.argument;
    case SDHC_TRNMOD:
        return s->r.trnmod | (uint32_t)s->r.cmdreg << 16;
    case SDHC_RSPREG0 ... SDHC_RSPREG3:
        return s->r.rspreg[(word - SDHC_RSPREG0) / 4];
    case SDHC_BDATA:
        if ((s->r.data_count & 3) == (offset & 3)) {
            return sdhci_read_dataport(s, size) << (8 * (offset & 3));
        }
        return 0;
    case SDHC_PRNSTS:
        return s->r.prnsts;
    case SDHC_HOSTCTL:
        return s->r.hostctl1 | s->r.pwrcon << 8 | s->r.blkgap << 16 | (uint32_t)s->r.wakcon << 24;
    case SDHC_CLKCON:
        return s->r.clkcon | s->r.timeoutcon << 16;
    case SDHC_NORINTSTS:
        return s->r.norintsts | (uint32_t)s->r.errintsts << 16;
    case SDHC_NORINTSTSEN:
        return s->r.norintstsen | (uint32_t)s->r.errintstsen << 16;
    case SDHC_NORINTSIGEN:
        return s->r.norintsigen | (uint32_t)s->r.errintsigen << 16;
    case SDHC_ACMD12ERRSTS:
        return s->r.acmd12errsts;
    case SDHC_CAPAB:
        return (uint32_t)s->capareg;
    case SDHC_CAPAB + 4:
        return s->capareg >> 32;
    case SDHC_MAXCURR:
        return (uint32_t)s->maxcurr;
    case SDHC_MAXCURR + 4:
        return s->maxcurr >> 32;
    case SDHC_ADMAERR:
        return s->r.admaerr;
    case SDHC_ADMASYSADDR:
        return (uint32_t)s->r.admasysaddr;
    case SDHC_ADMASYSADDR + 4:
        return s->r.admasysaddr >> 32;
    case SDHC_SLOT_INT_STATUS:
        return (uint32_t)s->version << 16 | sdhci_slotint(s);
    default:
        return 0;
    }
}

/* ---- MMIO ---- */

static uint64_t sdhci_mmio_read(void *opaque, uint64_t addr, unsigned size)
{
    SDHCIState *s = opaque;
    unsigned shift = 8 * (addr & 3);
    uint64_t val = 0;

    if ((addr & 3) + size > 4) { /* wider or straddling: one byte at a time */
        for (unsigned i = 0; i < size; i++) {
            val |= sdhci_mmio_read(opaque, addr + i, 1) << (8 * i);
        }
        return val;
    }
    val = sdhci_read_word(s, addr & ~3u & 0xff, addr & 0xff, size) >> shift;
    return val & ((1ull << (8 * size)) - 1);
}

static void sdhci_mmio_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    SDHCIState *s = opaque;
    unsigned shift = 8 * (addr & 3);
    uint32_t keep;

    if ((addr & 3) + size > 4) {
        for (unsigned i = 0; i < size; i++) {
            sdhci_mmio_write(opaque, addr + i, (val >> (8 * i)) & 0xff, 1);
        }
        return;
    }
    keep = ~((uint32_t)((1ull << (8 * size)) - 1) << shift);
    sdhci_write_word(s, addr & ~3u & 0xff, keep, (uint32_t)val << shift, addr & 0xff, size);
}

const IOOps sdhci_mmio_ops = {
    .read = sdhci_mmio_read,
    .write = sdhci_mmio_write,
};

/* ---- Life cycle ---- */

void sdhci_init(SDHCIState *s)
{
    s->buf_maxsz = 512u << SDHC_CAPAB_MAXBLOCKLENGTH(s->capareg);
    s->version = 0x2400 | (s->spec_version - 1);
    s->sdbus.changed = sdhci_card_changed;
    s->sdbus.opaque = s;
    s->insert_timer = timer_new(CLOCK_VIRTUAL, sdhci_insert_timer, s);
    s->transfer_timer = timer_new(CLOCK_VIRTUAL, sdhci_transfer_timer, s);
}

void sdhci_cleanup(SDHCIState *s)
{
    timer_free(s->insert_timer);
    timer_free(s->transfer_timer);
    s->insert_timer = s->transfer_timer = NULL;
}
