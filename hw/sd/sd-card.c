/*
 * The SD memory card, device "sd-card" on an "sd-bus": the card state machine and its R1
 * card status, the SD-mode commands and application commands, block reads and writes done
 * synchronously on the drive (a card is slow; QEMU does the same), erase, write-protect
 * groups and the CMD42 password lock, all as QEMU 7.2's sd-card behaves with its default
 * spec_version=2. Register contents are sd-card-regs.c. Not SPI mode, not SDIO or MMC, no
 * CRCs on the wire, no timing but the power-up delay; the controller owns the bus.
 */
#include <string.h>
#include <glib.h>
#include "hw/qdev.h"
#include "hw/sd.h"
#include "sd-card-int.h"
#include "util/bswap.h"
#include "util/main-loop.h"
#include "util/qdict.h"

#define SD_BLOCK 512u     /* the largest block, and the only one of SDHC */
#define WP_GROUP_SHIFT 21 /* write-protect groups of 2 MiB (SDSC only) */
#define WP_GROUPS ((SDSC_MAX_CAPACITY >> WP_GROUP_SHIFT) + 1)
#define ERASE_UNSET UINT32_MAX
#define ERASE_CHUNK (256u * SD_BLOCK)
#define POWER_UP_DELAY_NS 500000 /* after an enquiry ACMD41, as QEMU's timer */

/* The card status register (R1), as the Physical Layer spec names its bits. */
enum {
    AKE_SEQ_ERROR = 1u << 3,
    APP_CMD = 1u << 5,
    READY_FOR_DATA = 1u << 8,
    CURRENT_STATE = 0xfu << 9,
    ERASE_RESET = 1u << 13,
    CARD_ECC_DISABLED = 1u << 14,
    WP_ERASE_SKIP = 1u << 15,
    CSD_OVERWRITE = 1u << 16,
    ERROR = 1u << 19,
    CC_ERROR = 1u << 20,
    CARD_ECC_FAILED = 1u << 21,
    ILLEGAL_COMMAND = 1u << 22,
    COM_CRC_ERROR = 1u << 23,
    LOCK_UNLOCK_FAILED = 1u << 24,
    CARD_IS_LOCKED = 1u << 25,
    WP_VIOLATION = 1u << 26,
    ERASE_PARAM = 1u << 27,
    ERASE_SEQ_ERROR = 1u << 28,
    BLOCK_LEN_ERROR = 1u << 29,
    ADDRESS_ERROR = 1u << 30,
    OUT_OF_RANGE = 1u << 31,
};

/* Cleared once a response carried them ("clear condition C"). */
#define STATUS_CLEAR_ON_READ                                                                       \
    (AKE_SEQ_ERROR | APP_CMD | ERASE_RESET | WP_ERASE_SKIP | CSD_OVERWRITE | ERROR | CC_ERROR |    \
     CARD_ECC_FAILED | LOCK_UNLOCK_FAILED | WP_VIOLATION | ERASE_PARAM | ERASE_SEQ_ERROR |         \
     BLOCK_LEN_ERROR | ADDRESS_ERROR | OUT_OF_RANGE)
/* About the previous command only ("clear condition B"): gone after any accepted command. */
#define STATUS_PREVIOUS_CMD (CURRENT_STATE | ILLEGAL_COMMAND | COM_CRC_ERROR)
/* While one of these is pending the data phase stops: QEMU's two, and ERROR for I/O errors. */
#define STATUS_DATA_STOP (ADDRESS_ERROR | WP_VIOLATION | ERROR)

enum {
    OCR_VDD_WINDOW = 0x00ffff00, /* 2.7-3.6 V: every voltage QEMU's card accepts */
    OCR_S18A = 1u << 24,
    OCR_UHS_II = 1u << 29,
    OCR_CCS = 1u << 30, /* card capacity status: high capacity, block addresses */
    OCR_POWER_UP = 1u << 31,
};
#define ACMD41_ENQUIRY_MASK 0x00ffffff /* no voltage bits: the host only asks for the OCR */
#define R3_MASK (OCR_VDD_WINDOW | OCR_S18A | OCR_UHS_II | OCR_CCS | OCR_POWER_UP)

/* CSD byte 14: the copy flag and the two write protections. */
enum { CSD_COPY = 0x40, CSD_PERM_WP = 0x20, CSD_TMP_WP = 0x10 };

/* The CURRENT_STATE codes; inactive has none. */
typedef enum SDCardState {
    SD_IDLE,
    SD_READY,
    SD_IDENT,
    SD_STBY,
    SD_TRAN,
    SD_DATA,
    SD_RCV,
    SD_PRG,
    SD_DIS,
    SD_INACTIVE
} SDCardState;

/* SD_R0: accepted, no response. */
typedef enum SDRsp { SD_R0, SD_R1, SD_R2_CID, SD_R2_CSD, SD_R3, SD_R6, SD_R7, SD_ILLEGAL } SDRsp;

struct SDCard {
    DeviceState qdev;
    BlockBackend *blk;
    uint8_t spec_version; /* 1: v1.10, 2: v2.00, 3: v3.01 */

    SDBus *bus;
    SDCardState state;
    uint32_t card_status;
    uint32_t ocr;
    int64_t power_up_at; /* CLOCK_VIRTUAL deadline of a pending power-up, or -1 */
    uint16_t rca;
    uint32_t vhs; /* the last accepted CMD8 argument */
    uint8_t cid[16], csd[16], scr[8], sd_status[64];
    uint64_t size;
    bool wp_switch;
    uint8_t wp_groups[(WP_GROUPS + 7) / 8];
    uint32_t blk_len;
    uint32_t multi_blk_cnt; /* CMD23 (spec v3.01); 0: until CMD12 */
    uint32_t erase_start, erase_end;
    uint8_t pwd[16];
    uint32_t pwd_len;
    bool expecting_acmd;
    uint32_t blk_written;

    /* The data phase of the command data_cmd (in state SD_DATA or SD_RCV). */
    uint8_t data_cmd;
    uint64_t data_start; /* drive offset of the current block */
    uint32_t data_offset;
    uint32_t data_len; /* of the current block or buffer, 1..512 */
    uint8_t data[SD_BLOCK];
};

/* ---- Power-on state, power-up and the drive ---- */

static void sd_power_up(SDCard *sd)
{
    sd->power_up_at = -1;
    sd->ocr |= OCR_POWER_UP;
    if (sd->size > SDSC_MAX_CAPACITY) {
        sd->ocr |= OCR_CCS;
    }
}

/* QEMU runs a timer for the delayed power-up; only a command can see its effect. */
static void sd_check_power_up(SDCard *sd)
{
    if (sd->power_up_at >= 0 && clock_get_ns(CLOCK_VIRTUAL) >= sd->power_up_at) {
        sd_power_up(sd);
    }
}

static bool sd_high_capacity(SDCard *sd)
{
    return sd->ocr & OCR_CCS;
}

/* QEMU sees a drive in whole 512-byte sectors, the last one rounded up. */
static uint64_t sd_drive_size(SDCard *sd)
{
    int64_t len = sd->blk ? blk_getlength(sd->blk) : -1;

    return len > 0 ? ((uint64_t)len + SD_BLOCK - 1) & ~(uint64_t)(SD_BLOCK - 1) : 0;
}

/* What QEMU's reset does; blk_written, vhs and a pending power-up survive it there too. */
void sd_card_reset(SDCard *sd)
{
    sd->state = SD_IDLE;
    sd->rca = 0;
    sd->size = sd_drive_size(sd);
    sd->ocr = OCR_VDD_WINDOW;
    sd_card_make_scr(sd->scr, sd->spec_version);
    sd_card_make_cid(sd->cid);
    sd_card_make_csd(sd->csd, sd->size);
    sd->card_status = READY_FOR_DATA;
    memset(sd->sd_status, 0, sizeof(sd->sd_status));
    sd->wp_switch = sd->blk && blk_is_inserted(sd->blk) && blk_is_read_only(sd->blk);
    memset(sd->wp_groups, 0, sizeof(sd->wp_groups));
    sd->erase_start = ERASE_UNSET;
    sd->erase_end = ERASE_UNSET;
    sd->blk_len = SD_BLOCK;
    sd->pwd_len = 0;
    sd->expecting_acmd = false;
    sd->multi_blk_cnt = 0;
}

bool sd_card_inserted(SDCard *sd)
{
    return sd->blk && blk_is_available(sd->blk);
}

bool sd_card_readonly(SDCard *sd)
{
    return sd->wp_switch;
}

/* QEMU's address check: the whole length must fit, else ADDRESS_ERROR. */
static bool sd_check_range(SDCard *sd, uint64_t addr, uint32_t len)
{
    if (addr + len > sd->size) {
        sd->card_status |= ADDRESS_ERROR;
        return false;
    }
    return true;
}

/* Write-protect groups exist on standard capacity cards only, so within 2 GiB. */
static bool sd_wp_test(SDCard *sd, uint64_t addr)
{
    uint64_t group = addr >> WP_GROUP_SHIFT;

    return group < WP_GROUPS && (sd->wp_groups[group / 8] >> (group % 8) & 1);
}

static void sd_wp_set(SDCard *sd, uint64_t addr, bool on)
{
    uint64_t group = addr >> WP_GROUP_SHIFT;
    uint8_t bit = 1u << (group % 8);

    if (group < WP_GROUPS) {
        sd->wp_groups[group / 8] =
            on ? sd->wp_groups[group / 8] | bit : sd->wp_groups[group / 8] & ~bit;
    }
}

/* ---- Data phase set-up ---- */

/* QEMU moves one byte per block when CMD16 set a length of 0. */
#define SD_UNIT(len) ((len) ? (len) : 1)

/* state: SD_DATA (the card sends) or SD_RCV (it receives). */
static void sd_start_data(SDCard *sd, SDCardState state, uint8_t cmd, uint64_t start, uint32_t len)
{
    sd->state = state;
    sd->data_cmd = cmd;
    sd->data_start = start;
    sd->data_offset = 0;
    sd->data_len = len;
}

static void sd_send_buf(SDCard *sd, uint8_t cmd, const void *buf, uint32_t len)
{
    memcpy(sd->data, buf, len);
    sd_start_data(sd, SD_DATA, cmd, 0, len);
}

/* Host-endian, as QEMU stores ACMD22's and CMD30's words: little-endian on x86. */
static void sd_send_le32(SDCard *sd, uint8_t cmd, uint32_t v)
{
    uint8_t le[4] = {v, v >> 8, v >> 16, v >> 24};

    sd_send_buf(sd, cmd, le, sizeof(le));
}

/* ---- Erase ---- */

static void sd_erase_flush(SDCard *sd, const uint8_t *ones, uint64_t start, uint64_t len)
{
    if (len && blk_pwrite(sd->blk, start, ones, len, 0) < 0) {
        sd->card_status |= ERROR;
    }
}

/*
 * QEMU 7.2 writes 0xff in 512-byte steps from start to end inclusive: a step in a write
 * protected group is skipped (WP_ERASE_SKIP), one past the drive's end fails quietly.
 * Consecutive steps go to the drive as one write.
 */
static void sd_erase_blocks(SDCard *sd, uint64_t start, uint64_t end, bool sdsc)
{
    g_autofree uint8_t *ones = g_malloc(ERASE_CHUNK);
    uint64_t run = start, run_len = 0;

    memset(ones, 0xff, ERASE_CHUNK);
    for (uint64_t addr = start; addr <= end; addr += SD_BLOCK) {
        bool skip = sdsc && sd_wp_test(sd, addr);
        bool ok = !skip && addr + SD_BLOCK <= sd->size;

        if (skip) {
            sd->card_status |= WP_ERASE_SKIP;
        }
        if (!ok || run_len == ERASE_CHUNK) {
            sd_erase_flush(sd, ones, run, run_len);
            run_len = 0;
        }
        if (ok) {
            run = run_len ? run : addr;
            run_len += SD_BLOCK;
        }
    }
    sd_erase_flush(sd, ones, run, run_len);
}

/* CMD32/33 gave byte addresses on SDSC, block numbers on SDHC. */
static void sd_erase(SDCard *sd)
{
    uint64_t start = sd->erase_start, end = sd->erase_end;
    bool sdsc = !sd_high_capacity(sd);

    sd->erase_start = ERASE_UNSET;
    sd->erase_end = ERASE_UNSET;
    if (start == ERASE_UNSET || end == ERASE_UNSET) {
        sd->card_status |= ERASE_SEQ_ERROR;
        return;
    }
    if (!sdsc) {
        start *= SD_BLOCK;
        end *= SD_BLOCK;
    }
    if (start > sd->size || end > sd->size) {
        sd->card_status |= OUT_OF_RANGE;
        return;
    }
    sd->csd[14] |= CSD_COPY;
    sd_erase_blocks(sd, start, end, sdsc);
}

/*
 * ---- Commands ----
 * A handler runs only in the states its table entry lists, else the command is illegal as
 * QEMU decides it. arg >> 16 is the RCA of addressed commands.
 */

static SDRsp sd_cmd_go_idle_state(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    if (sd->state != SD_INACTIVE) {
        sd_card_reset(sd);
    }
    return SD_R0;
}

static SDRsp sd_cmd_all_send_cid(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    sd->state = SD_IDENT;
    return SD_R2_CID;
}

static SDRsp sd_cmd_send_relative_addr(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    sd->state = SD_STBY;
    sd->rca += 0x4567;
    return SD_R6;
}

static SDRsp sd_cmd_switch_func(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    uint8_t status[64];

    sd_card_make_switch_status(status, arg);
    sd_send_buf(sd, cmd, status, sizeof(status));
    return SD_R1;
}

/* QEMU's transitions; the selected card addressed again is an illegal command. */
static SDRsp sd_cmd_select_card(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    bool mine = (arg >> 16) == sd->rca;

    if (sd->state == SD_STBY || sd->state == SD_DIS) {
        if (!mine) {
            return SD_R0;
        }
        sd->state = sd->state == SD_STBY ? SD_TRAN : SD_PRG;
        return SD_R1;
    }
    if (mine) {
        return SD_ILLEGAL;
    }
    sd->state = sd->state == SD_PRG ? SD_DIS : SD_STBY;
    return SD_R1;
}

/* No answer unless exactly one voltage bit (bits 8 and up) is set. */
static SDRsp sd_cmd_send_if_cond(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    uint32_t vhs = arg >> 8;

    if (sd->spec_version < 2) {
        return SD_ILLEGAL;
    }
    sd->vhs = 0;
    if (!vhs || (vhs & (vhs - 1))) {
        return SD_R0;
    }
    sd->vhs = arg;
    return SD_R7;
}

/* CMD9, CMD10, CMD13: the addressed card only answers. */
static SDRsp sd_cmd_send_reg(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    if ((arg >> 16) != sd->rca) {
        return SD_R0;
    }
    return cmd == 9 ? SD_R2_CSD : cmd == 10 ? SD_R2_CID : SD_R1;
}

/* A partly received block is dropped. */
static SDRsp sd_cmd_stop_transmission(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    sd->state = SD_TRAN;
    return SD_R1;
}

static SDRsp sd_cmd_go_inactive_state(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    if ((arg >> 16) == sd->rca) {
        sd->state = SD_INACTIVE;
    }
    return SD_R0;
}

static SDRsp sd_cmd_set_blocklen(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    if (arg > SD_BLOCK) {
        sd->card_status |= BLOCK_LEN_ERROR;
    } else {
        sd->blk_len = arg;
    }
    return SD_R1;
}

static uint64_t sd_data_addr(SDCard *sd, uint32_t arg)
{
    return sd_high_capacity(sd) ? (uint64_t)arg * SD_BLOCK : arg;
}

/* CMD17, CMD18: checked against CMD16's length, read in 512-byte blocks on SDHC. */
static SDRsp sd_cmd_read_block(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    uint64_t addr = sd_data_addr(sd, arg);
    uint32_t unit = sd_high_capacity(sd) ? SD_BLOCK : SD_UNIT(sd->blk_len);

    if (sd_check_range(sd, addr, sd->blk_len)) {
        sd_start_data(sd, SD_DATA, cmd, addr, unit);
    }
    return SD_R1;
}

/* CMD19, CMD23: spec v3.01 only. A CMD23 count holds for the CMD18 or CMD25 just after. */
static SDRsp sd_cmd_v3(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    if (sd->spec_version < 3) {
        return SD_ILLEGAL;
    }
    if (cmd == 19) {
        sd_send_buf(sd, cmd, sd_card_tuning_block, sizeof(sd_card_tuning_block));
    } else {
        sd->multi_blk_cnt = arg;
    }
    return SD_R1;
}

/* CMD24, CMD25. QEMU reports a write-protected target here but, for CMD24, writes it all
 * the same: this very response clears the bit. */
static SDRsp sd_cmd_write_block(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    uint64_t addr = sd_data_addr(sd, arg);

    if (!sd_check_range(sd, addr, sd->blk_len)) {
        return SD_R1;
    }
    sd_start_data(sd, SD_RCV, cmd, addr, SD_UNIT(sd->blk_len));
    sd->blk_written = 0;
    if ((sd->size <= SDSC_MAX_CAPACITY && sd_wp_test(sd, addr)) ||
        (sd->csd[14] & (CSD_PERM_WP | CSD_TMP_WP))) {
        sd->card_status |= WP_VIOLATION;
    }
    return SD_R1;
}

/* CMD26 and CMD27 (16 bytes), CMD42 and CMD56 writes (a block). */
static SDRsp sd_cmd_receive(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    sd_start_data(sd, SD_RCV, cmd, 0, cmd == 26 || cmd == 27 ? 16 : SD_UNIT(sd->blk_len));
    return SD_R1;
}

/* CMD28, CMD29 */
static SDRsp sd_cmd_write_prot(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    uint64_t addr = sd_data_addr(sd, arg);

    if (sd_check_range(sd, addr, 1)) {
        sd_wp_set(sd, addr, cmd == 28);
    }
    return SD_R1;
}

/* A bit per group from arg on, 0 past the card's end. */
static SDRsp sd_cmd_send_write_prot(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    uint32_t bits = 0;

    if (!sd_check_range(sd, arg, sd->blk_len)) {
        return SD_R1;
    }
    for (uint64_t i = 0, addr = arg; i < 32; i++, addr += 1u << WP_GROUP_SHIFT) {
        if (addr < sd->size && sd_wp_test(sd, addr)) {
            bits |= 1u << i;
        }
    }
    sd_send_le32(sd, cmd, bits);
    return SD_R1;
}

/* CMD32, CMD33: raw arguments, converted by CMD38. */
static SDRsp sd_cmd_erase_wr_blk(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    *(cmd == 32 ? &sd->erase_start : &sd->erase_end) = arg;
    return SD_R1;
}

static SDRsp sd_cmd_erase(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    if (sd->csd[14] & (CSD_PERM_WP | CSD_TMP_WP)) {
        sd->card_status |= WP_VIOLATION;
    } else {
        sd_erase(sd);
    }
    return SD_R1;
}

static SDRsp sd_cmd_app_cmd(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    if ((arg >> 16) != sd->rca) {
        return SD_R0;
    }
    sd->expecting_acmd = true;
    sd->card_status |= APP_CMD;
    return SD_R1;
}

/* Vendor data: reads give 0xec bytes, writes are dropped, as QEMU 7.2. */
static SDRsp sd_cmd_gen_cmd(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    uint32_t len = SD_UNIT(sd->blk_len);

    if (!(arg & 1)) {
        return sd_cmd_receive(sd, cmd, arg);
    }
    memset(sd->data, 0xec, len);
    sd_start_data(sd, SD_DATA, cmd, 0, len);
    return SD_R1;
}

/* ACMD6 */
static SDRsp sd_acmd_set_bus_width(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    sd->sd_status[0] = (sd->sd_status[0] & 0x3f) | (arg & 3) << 6;
    return SD_R1;
}

/* ACMD13 (SD status), ACMD22 (blocks written), ACMD51 (SCR) */
static SDRsp sd_acmd_send_reg(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    if (cmd == 13) {
        sd_send_buf(sd, cmd, sd->sd_status, sizeof(sd->sd_status));
    } else if (cmd == 22) {
        sd_send_le32(sd, cmd, sd->blk_written);
    } else {
        sd_send_buf(sd, cmd, sd->scr, sizeof(sd->scr));
    }
    return SD_R1;
}

/* ACMD23 (pre-erase count), ACMD42 (card detect pull-up): accepted, no effect. */
static SDRsp sd_acmd_accept(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    return SD_R1;
}

/*
 * The first ACMD41 after a reset powers the card up at once, unless it is an enquiry (no
 * voltage bits): then 0.5 ms later, QEMU's work-around for EDK2. A voltage in the window
 * moves the card on to ready.
 */
static SDRsp sd_acmd_sd_send_op_cond(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    if (!(sd->ocr & OCR_POWER_UP)) {
        if (arg & ACMD41_ENQUIRY_MASK) {
            sd_power_up(sd);
        } else if (sd->power_up_at < 0) {
            sd->power_up_at = clock_get_ns(CLOCK_VIRTUAL) + POWER_UP_DELAY_NS;
        }
    }
    if (sd->ocr & arg & ACMD41_ENQUIRY_MASK) {
        sd->state = SD_READY;
    }
    return SD_R3;
}

/* ---- Command dispatch and responses ---- */

typedef struct SDCmd {
    SDRsp (*fn)(SDCard *sd, uint8_t cmd, uint32_t arg);
    uint16_t states; /* ST() of each state the command is legal in */
} SDCmd;

#define ST(s) (1u << (s))
#define ST_TRAN ST(SD_TRAN)
#define ST_DATA_MODE (ST(SD_STBY) | ST_TRAN | ST(SD_DATA) | ST(SD_RCV) | ST(SD_PRG) | ST(SD_DIS))

/* Everything missing is an illegal command in SD mode (CMD1, CMD5, SDIO, SPI-only, ...). */
static const SDCmd sd_cmds[64] = {
    [0] = {sd_cmd_go_idle_state, 0xffff},
    [2] = {sd_cmd_all_send_cid, ST(SD_READY)},
    [3] = {sd_cmd_send_relative_addr, ST(SD_IDENT) | ST(SD_STBY)},
    [6] = {sd_cmd_switch_func, ST_DATA_MODE},
    [7] = {sd_cmd_select_card, ST_DATA_MODE & ~ST(SD_RCV)},
    [8] = {sd_cmd_send_if_cond, ST(SD_IDLE)},
    [9] = {sd_cmd_send_reg, ST(SD_STBY)},
    [10] = {sd_cmd_send_reg, ST(SD_STBY)},
    [12] = {sd_cmd_stop_transmission, ST(SD_DATA) | ST(SD_RCV)},
    [13] = {sd_cmd_send_reg, ST_DATA_MODE},
    [15] = {sd_cmd_go_inactive_state, ST_DATA_MODE},
    [16] = {sd_cmd_set_blocklen, ST_TRAN},
    [17] = {sd_cmd_read_block, ST_TRAN},
    [18] = {sd_cmd_read_block, ST_TRAN},
    [19] = {sd_cmd_v3, ST_TRAN},
    [23] = {sd_cmd_v3, ST_TRAN},
    [24] = {sd_cmd_write_block, ST_TRAN},
    [25] = {sd_cmd_write_block, ST_TRAN},
    [26] = {sd_cmd_receive, ST_TRAN},
    [27] = {sd_cmd_receive, ST_TRAN},
    [28] = {sd_cmd_write_prot, ST_TRAN},
    [29] = {sd_cmd_write_prot, ST_TRAN},
    [30] = {sd_cmd_send_write_prot, ST_TRAN},
    [32] = {sd_cmd_erase_wr_blk, ST_TRAN},
    [33] = {sd_cmd_erase_wr_blk, ST_TRAN},
    [38] = {sd_cmd_erase, ST_TRAN},
    [42] = {sd_cmd_receive, ST_TRAN},
    [55] = {sd_cmd_app_cmd, ST(SD_IDLE) | ST_DATA_MODE},
    [56] = {sd_cmd_gen_cmd, ST_TRAN},
};

/* Missing ones fall back to the normal command, but for the security commands. */
static const SDCmd sd_acmds[64] = {
    [6] = {sd_acmd_set_bus_width, ST_TRAN},
    [13] = {sd_acmd_send_reg, ST_TRAN},
    [22] = {sd_acmd_send_reg, ST_TRAN},
    [23] = {sd_acmd_accept, ST_TRAN},
    [41] = {sd_acmd_sd_send_op_cond, ST(SD_IDLE)},
    [42] = {sd_acmd_accept, ST_TRAN},
    [51] = {sd_acmd_send_reg, ST_TRAN},
};

static SDRsp sd_run(SDCard *sd, const SDCmd *c, uint8_t cmd, uint32_t arg)
{
    return c->fn && (c->states & ST(sd->state)) ? c->fn(sd, cmd, arg) : SD_ILLEGAL;
}

static SDRsp sd_normal_command(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    sd->card_status &= ~APP_CMD;
    if (sd->multi_blk_cnt && cmd != 18 && cmd != 25) {
        sd->multi_blk_cnt = 0;
    }
    /* Class 6 (CMD28-31) is for standard capacity cards only. */
    if (cmd >= 28 && cmd <= 31 && (sd_high_capacity(sd) || sd->size > SDSC_MAX_CAPACITY)) {
        return SD_ILLEGAL;
    }
    return sd_run(sd, &sd_cmds[cmd], cmd, arg);
}

static SDRsp sd_app_command(SDCard *sd, uint8_t cmd, uint32_t arg)
{
    bool security = cmd == 18 || cmd == 25 || cmd == 26 || cmd == 38 || (cmd >= 43 && cmd <= 49);

    sd->card_status |= APP_CMD;
    if (sd_acmds[cmd].fn || security) {
        return sd_run(sd, &sd_acmds[cmd], cmd, arg);
    }
    return sd_normal_command(sd, cmd, arg);
}

/* A locked card takes the basic and lock classes, CMD16, CMD55 and ACMD41/42 only. */
static bool sd_valid_while_locked(bool acmd, uint8_t cmd)
{
    if (acmd) {
        return cmd == 41 || cmd == 42;
    }
    return cmd <= 4 || (cmd >= 7 && cmd <= 10) || (cmd >= 12 && cmd <= 16) ||
           (cmd >= 42 && cmd <= 49) || cmd == 51 || cmd == 55;
}

static int sd_make_response(SDCard *sd, SDRsp rsp, uint8_t *resp)
{
    uint32_t cs = sd->card_status;

    switch (rsp) {
    case SD_R1:
        stl_be_p(resp, cs);
        sd->card_status &= ~STATUS_CLEAR_ON_READ;
        return SD_RSP_48;
    case SD_R2_CID:
    case SD_R2_CSD:
        memcpy(resp, rsp == SD_R2_CID ? sd->cid : sd->csd, 16);
        return SD_RSP_136;
    case SD_R3:
        stl_be_p(resp, sd->ocr & R3_MASK);
        return SD_RSP_48;
    case SD_R6: /* the RCA and status bits 23, 22, 19 and 12..0 */
        stw_be_p(resp, sd->rca);
        stw_be_p(resp + 2, ((cs >> 8) & 0xc000) | ((cs >> 6) & 0x2000) | (cs & 0x1fff));
        sd->card_status &= ~(STATUS_CLEAR_ON_READ & 0xc81fff);
        return SD_RSP_48;
    case SD_R7:
        stl_be_p(resp, sd->vhs);
        return SD_RSP_48;
    default:
        return SD_RSP_NONE;
    }
}

int sd_card_do_command(SDCard *sd, uint8_t cmd, uint32_t arg, uint8_t resp[16])
{
    SDCardState last_state = sd->state;
    bool acmd = sd->expecting_acmd;
    SDRsp rsp = SD_ILLEGAL;
    int len;

    if (!sd_card_inserted(sd)) {
        return SD_RSP_NONE;
    }
    cmd &= 63;
    sd_check_power_up(sd);
    sd->expecting_acmd = false;
    if (!(sd->card_status & CARD_IS_LOCKED) || sd_valid_while_locked(acmd, cmd)) {
        rsp = acmd ? sd_app_command(sd, cmd, arg) : sd_normal_command(sd, cmd, arg);
    }
    if (rsp == SD_ILLEGAL) {
        sd->card_status |= ILLEGAL_COMMAND;
        return SD_RSP_NONE;
    }
    /* CURRENT_STATE is the state the command found; an inactive card shows none. */
    sd->card_status &= ~CURRENT_STATE;
    if (last_state != SD_INACTIVE) {
        sd->card_status |= (uint32_t)last_state << 9;
    }
    len = sd_make_response(sd, rsp, resp);
    sd->card_status &= ~STATUS_PREVIOUS_CMD;
    return len;
}

/* ---- Data phase ---- */

static bool sd_data_phase(SDCard *sd, SDCardState state)
{
    return sd_card_inserted(sd) && sd->state == state && !(sd->card_status & STATUS_DATA_STOP);
}

bool sd_card_data_ready(SDCard *sd)
{
    return sd_data_phase(sd, SD_DATA);
}

bool sd_card_receiving(SDCard *sd)
{
    return sd_data_phase(sd, SD_RCV);
}

/*
 * End of a block: a multiple block transfer goes on (a CMD23 count ends it by itself), as
 * QEMU to the next CMD16 length (to the same byte again when that is 0), 512 for SDHC reads.
 */
static void sd_block_done(SDCard *sd)
{
    if (sd->data_cmd != 18 && sd->data_cmd != 25) {
        sd->state = SD_TRAN;
        return;
    }
    sd->data_start += sd->data_cmd == 18 && sd_high_capacity(sd) ? SD_BLOCK : sd->blk_len;
    sd->data_offset = 0;
    if (sd->multi_blk_cnt && --sd->multi_blk_cnt == 0) {
        sd->state = SD_TRAN;
    }
}

/* Blocks come from the drive as they start; QEMU checks each one of a CMD18 again. */
static bool sd_fill_block(SDCard *sd)
{
    if (sd->data_cmd != 17 && sd->data_cmd != 18) {
        return true;
    }
    if (sd->data_cmd == 18 && !sd_check_range(sd, sd->data_start, sd->data_len)) {
        return false;
    }
    if (blk_pread(sd->blk, sd->data_start, sd->data, sd->data_len) < 0) {
        sd->card_status |= ERROR;
        if (sd->data_cmd == 17) {
            sd->state = SD_TRAN; /* a failed single block ends; CMD12 stops a CMD18 */
        }
        return false;
    }
    return true;
}

size_t sd_card_read_data(SDCard *sd, void *buf, size_t len)
{
    uint8_t *out = buf;
    size_t done = 0;

    while (done < len && sd_card_data_ready(sd)) {
        size_t n;

        if (sd->data_offset == 0 && !sd_fill_block(sd)) {
            break;
        }
        n = MIN(len - done, (size_t)(sd->data_len - sd->data_offset));
        memcpy(out + done, sd->data + sd->data_offset, n);
        done += n;
        sd->data_offset += n;
        if (sd->data_offset == sd->data_len) {
            sd_block_done(sd);
        }
    }
    return done;
}

/* QEMU checks each block of a CMD25 on its first byte. A medium that became read-only
 * (changed while the card was in) refuses every block. */
static bool sd_check_write_block(SDCard *sd)
{
    if (sd->data_cmd == 25) {
        if (!sd_check_range(sd, sd->data_start, sd->data_len)) {
            return false;
        }
        if (sd->size <= SDSC_MAX_CAPACITY && sd_wp_test(sd, sd->data_start)) {
            sd->card_status |= WP_VIOLATION;
            return false;
        }
    }
    if ((sd->data_cmd == 24 || sd->data_cmd == 25) && blk_is_read_only(sd->blk)) {
        sd->card_status |= WP_VIOLATION;
        return false;
    }
    return true;
}

static void sd_write_block(SDCard *sd)
{
    if (blk_pwrite(sd->blk, sd->data_start, sd->data, sd->data_len, 0) < 0) {
        sd->card_status |= ERROR;
    } else {
        sd->blk_written++;
    }
    sd->csd[14] |= CSD_COPY;
}

/* CMD42. A forced erase clears the password and the write protection, not the data (QEMU). */
static void sd_lock_unlock(SDCard *sd)
{
    bool locked = sd->card_status & CARD_IS_LOCKED, ok;

    if (sd->data[0] & 8) {
        ok = locked && sd->blk_len <= 1 && !(sd->data[0] & 7) && !sd->wp_switch &&
             !(sd->csd[14] & CSD_PERM_WP);
        if (ok) {
            memset(sd->wp_groups, 0, sizeof(sd->wp_groups));
            sd->csd[14] &= ~CSD_TMP_WP;
            sd->pwd_len = 0;
            locked = false;
        }
    } else {
        ok = sd_card_set_password(sd->data, sd->blk_len, sd->pwd, &sd->pwd_len, &locked);
    }
    sd->card_status &= ~CARD_IS_LOCKED;
    sd->card_status |= (locked ? CARD_IS_LOCKED : 0) | (ok ? 0 : LOCK_UNLOCK_FAILED);
}

static void sd_block_received(SDCard *sd)
{
    switch (sd->data_cmd) {
    case 24:
    case 25:
        sd_write_block(sd);
        break;
    case 26: /* QEMU lets no bit of the CID change */
        if (memcmp(sd->cid, sd->data, sizeof(sd->cid))) {
            sd->card_status |= CSD_OVERWRITE;
        }
        break;
    case 27:
        if (!sd_card_program_csd(sd->csd, sd->data)) {
            sd->card_status |= CSD_OVERWRITE;
        }
        break;
    case 42:
        sd_lock_unlock(sd);
        break;
    }
    sd_block_done(sd);
}

size_t sd_card_write_data(SDCard *sd, const void *buf, size_t len)
{
    const uint8_t *in = buf;
    size_t done = 0;

    while (done < len && sd_card_receiving(sd)) {
        size_t n;

        if (sd->data_offset == 0 && !sd_check_write_block(sd)) {
            break;
        }
        n = MIN(len - done, (size_t)(sd->data_len - sd->data_offset));
        memcpy(sd->data + sd->data_offset, in + done, n);
        done += n;
        sd->data_offset += n;
        if (sd->data_offset == sd->data_len) {
            sd_block_received(sd);
        }
    }
    return done;
}

/* ---- The qdev device ---- */

static void sd_card_changed(SDCard *sd)
{
    if (sd->bus && sd->bus->changed) {
        sd->bus->changed(sd->bus->opaque);
    }
}

/* Eject or change: a new medium is a new card in its power-on state. */
static void sd_card_change_media_cb(void *opaque, bool load)
{
    SDCard *sd = opaque;

    if (sd_card_inserted(sd)) {
        sd_card_reset(sd);
    }
    sd_card_changed(sd);
}

static const BlockDevOps sd_card_block_ops = {
    .change_media_cb = sd_card_change_media_cb,
};

/* An empty drive is read-only when its -drive said so, as QEMU's root state. */
static bool sd_drive_read_only(BlockBackend *blk)
{
    DriveInfo *dinfo = blk_legacy_dinfo(blk);

    if (blk_is_inserted(blk)) {
        return blk_is_read_only(blk);
    }
    return dinfo && dinfo->opts && dict_get_bool(dinfo->opts, "read-only", false, NULL);
}

/* QEMU's checks, in its order. The bus (one card at most) is the controller's. */
static bool sd_card_realize(DeviceState *dev, Error **errp)
{
    SDCard *sd = (SDCard *)dev;

    if (sd->spec_version < 1 || sd->spec_version > 3) {
        error_setg(errp, "Invalid SD card Spec version: %u", sd->spec_version);
        return false;
    }
    if (sd->blk && sd_drive_read_only(sd->blk)) {
        error_setg(errp, "Cannot use read-only drive as SD card");
        return false;
    }
    if (sd->blk && !sd_card_check_size(sd_drive_size(sd), errp)) {
        return false;
    }
    if (sd->blk) {
        blk_set_dev_ops(sd->blk, &sd_card_block_ops, sd);
    }
    sd->bus = dev->parent_bus ? dev->parent_bus->opaque : NULL;
    sd->power_up_at = -1;
    sd_card_reset(sd);
    if (sd->bus) {
        sd->bus->card = sd;
    }
    sd_card_changed(sd);
    return true;
}

static void sd_card_unrealize(DeviceState *dev)
{
    SDCard *sd = (SDCard *)dev;

    if (sd->blk) {
        blk_set_dev_ops(sd->blk, NULL, NULL);
    }
    if (sd->bus && sd->bus->card == sd) {
        sd->bus->card = NULL;
        sd_card_changed(sd);
    }
    sd->bus = NULL;
}

static const Property sd_card_props[] = {
    DEFINE_PROP_DRIVE("drive", SDCard, blk),
    DEFINE_PROP_UINT8("spec_version", SDCard, spec_version, 2),
    DEFINE_PROP_END,
};

static const DeviceClass sd_card_class = {
    .name = "sd-card",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus_type = QBUS_TYPE_SD,
    .instance_size = sizeof(SDCard),
    .props = sd_card_props,
    .realize = sd_card_realize,
    .unrealize = sd_card_unrealize,
};

static void __attribute__((constructor)) sd_card_register(void)
{
    qdev_register(&sd_card_class);
}
