/*
 * The SD host controller (sdhci-pci, SD Host Controller Simplified Specification 2.00) with an
 * sd-card behind it, as a driver sees them through the qtest protocol: PCI identity and BAR,
 * register reset values with and without a card, the card initialisation SeaBIOS's sdcard.c
 * runs (CMD0, CMD8, ACMD41, CMD2, CMD3, CMD9, CMD7) on standard and high capacity cards, PIO
 * reads and writes through the Buffer Data Port, SDMA (with its buffer boundary stop), ADMA2
 * descriptor tables and their errors, and odd register programming followed by software
 * resets. Data is checked in guest memory and in the image file. Every check holds on QEMU 7.2
 * too (QTEST_QEMU=1); where QEMU departs from the specification the test follows QEMU and says
 * so. The refusals at startup (a read-only drive, a size that is not a power of two) are
 * in tests/system/test_sd_device.py: libqtest cannot watch a VMM fail to start.
 */
#include <string.h>
#include <unistd.h>
#include <linux/pci.h>
#include "libqpci.h"

#define SD_DEVFN PCI_DEVFN(2, 0)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define BLK 512
#define PATTERN_HEAD MIB         /* each image holds the pattern in its first MiB ... */
#define PATTERN_TAIL (64 * 1024) /* ... and its last 64 KiB; the rest is a sparse hole */
#define SD_RCA 0x4567            /* QEMU's card always publishes this RCA */
#define PIIX3_DEVFN PCI_DEVFN(1, 0)
#define PIIX3_PIRQB 0x61
#define SD_GSI 11

/* Guest RAM the DMA tests use. */
#define DMA_BUF 0x100000ULL
#define DMA_BUF2 0x110000ULL
#define ADMA_TABLE 0x120000ULL
#define OUTSIDE_RAM 0xd0000000ULL

/* Registers, named after the specification's. */
enum {
    SDHC_SDMA_ADDRESS = 0x00,
    SDHC_BLOCK_SIZE = 0x04,
    SDHC_BLOCK_COUNT = 0x06,
    SDHC_ARGUMENT = 0x08,
    SDHC_TRANSFER_MODE = 0x0c,
    SDHC_COMMAND = 0x0e,
    SDHC_RESPONSE = 0x10,
    SDHC_BUFFER_DATA_PORT = 0x20,
    SDHC_PRESENT_STATE = 0x24,
    SDHC_HOST_CONTROL = 0x28,
    SDHC_POWER_CONTROL = 0x29,
    SDHC_CLOCK_CONTROL = 0x2c,
    SDHC_TIMEOUT_CONTROL = 0x2e,
    SDHC_SOFTWARE_RESET = 0x2f,
    SDHC_INT_STATUS = 0x30, /* normal (low half) and error (high half) interrupt status */
    SDHC_INT_STATUS_EN = 0x34,
    SDHC_INT_SIGNAL_EN = 0x38,
    SDHC_CAPABILITIES = 0x40,
    SDHC_MAX_CURRENT = 0x48,
    SDHC_ADMA_ERROR_STATUS = 0x54,
    SDHC_ADMA_SYSTEM_ADDRESS = 0x58,
    SDHC_SLOT_INT_STATUS = 0xfc,
    SDHC_HOST_VERSION = 0xfe,
};

/* SDHC_INT_STATUS as one 32-bit word. */
#define INT_CMD_COMPLETE 0x0001u
#define INT_XFER_COMPLETE 0x0002u
#define INT_DMA 0x0008u
#define INT_BUF_WRITE_READY 0x0010u
#define INT_BUF_READ_READY 0x0020u
#define INT_ERROR 0x8000u
#define ERR_CMD_TIMEOUT (0x0001u << 16)
#define ERR_ADMA (0x0200u << 16)

/* Present State. */
#define PS_DAT_INHIBIT (1u << 1)
#define PS_DAT_ACTIVE (1u << 2)
#define PS_WRITE_ACTIVE (1u << 8)
#define PS_READ_ACTIVE (1u << 9)
#define PS_BUF_WRITE_EN (1u << 10)
#define PS_BUF_READ_EN (1u << 11)
/* Card inserted, stable and detected, write protect pin high (writable), DAT[3:0] and CMD
 * lines high. */
#define PS_IDLE_CARD 0x01ff0000u
/* No card: only card state stable, write protect pin, and the line levels. */
#define PS_IDLE_EMPTY 0x01fa0000u

/* Transfer Mode. */
#define TM_DMA 0x01
#define TM_BLOCK_COUNT 0x02
#define TM_AUTO_CMD12 0x04
#define TM_READ 0x10
#define TM_MULTI 0x20

/* Command register: index in bits 13:8; response type, checks, data, type in bits 7:0. */
#define R_NONE 0x00
#define R_136 0x09        /* R2: CRC check */
#define R_48 0x1a         /* R1, R6, R7: CRC and index check */
#define R_48_BUSY 0x1b    /* R1b */
#define R_48_NOCHECK 0x02 /* R3 */
#define R_DATA 0x20
#define CT_ABORT 0xc0
#define CMD(idx, flags) ((idx) << 8 | (flags))
enum {
    SD_GO_IDLE_STATE = CMD(0, R_NONE),
    SD_ALL_SEND_CID = CMD(2, R_136),
    SD_SEND_RELATIVE_ADDR = CMD(3, R_48),
    SD_SELECT_CARD = CMD(7, R_48_BUSY),
    SD_SEND_IF_COND = CMD(8, R_48),
    SD_SEND_CSD = CMD(9, R_136),
    SD_STOP_TRANSMISSION = CMD(12, R_48_BUSY | CT_ABORT),
    SD_SEND_STATUS = CMD(13, R_48),
    SD_READ_SINGLE_BLOCK = CMD(17, R_48 | R_DATA),
    SD_READ_MULTIPLE_BLOCK = CMD(18, R_48 | R_DATA),
    SD_WRITE_BLOCK = CMD(24, R_48 | R_DATA),
    SD_WRITE_MULTIPLE_BLOCK = CMD(25, R_48 | R_DATA),
    SD_APP_SEND_OP_COND = CMD(41, R_48_NOCHECK),
    SD_APP_CMD = CMD(55, R_48),
};

/* Card status (R1) as the card reports it in each state. */
#define CS_READY_FOR_DATA 0x100u
#define CS_APP_CMD 0x20u
#define CS_ILLEGAL_COMMAND (1u << 22)
#define CS_STATE(n) ((uint32_t)(n) << 9 | CS_READY_FOR_DATA)
#define CS_IDLE CS_STATE(0)
#define CS_IDENT CS_STATE(2)
#define CS_STBY CS_STATE(3)
#define CS_TRAN CS_STATE(4)
#define CS_DATA CS_STATE(5)
#define CS_RCV CS_STATE(6)

#define OCR_BUSY (1u << 31) /* set: power-up done */
#define OCR_CCS (1u << 30)
#define OCR_VOLTAGES 0x00ffff00u /* 2.7-3.6 V, and QEMU's reserved low-voltage bits */

/* Clock Control: SeaBIOS's dividers for 400 kHz and 25 MHz from the 52 MHz base clock. */
#define CC_INTERNAL_EN 0x0001
#define CC_INTERNAL_STABLE 0x0002
#define CC_SD_EN 0x0004
#define CLK_400KHZ 0x8000
#define CLK_25MHZ 0x0200

#define SR_ALL 0x01
#define SR_DAT 0x04

#define PC_POWER_ON 0x01
#define PC_33V 0x0e
#define HC_ADMA2 0x10

#define ADMA_VALID 0x01
#define ADMA_END 0x02
#define ADMA_INT 0x04
#define ADMA_TRAN 0x20

/* The card's identity in the response registers, as QEMU 7.2 reports it:
 * MID 0xaa, OID "XY", PNM "QEMU!", PRV 0x01, PSN 0xdeadbeef, MDT 0x062. */
static const uint32_t sd_cid[4] = {0xbeef0062, 0x2101dead, 0x51454d55, 0x00aa5859};

typedef struct SD {
    QTestState *qts;
    QPCIBus bus;
    QPCIDevice dev;
    QPCIBar bar;
    int img_fd; /* the image, already unlinked; -1 without one */
    bool high_capacity;
} SD;

/* What the card answered during sd_card_init(). */
typedef struct SDInit {
    uint32_t if_cond, app_cmd, ocr_query, ocr, cid[4], rca, csd[4], select, select_status;
    unsigned acmd41_tries;
} SDInit;

/* ---- images ---- */

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)(off * 7 + (off >> 9) * 13);
}

static void fill_pattern(uint8_t *buf, uint64_t off, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = pattern(off + i);
    }
}

static void fill_data(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(i * seed + (i >> 9) + 1);
    }
}

static void expect_pattern(const uint8_t *buf, uint64_t off, size_t len)
{
    g_autofree uint8_t *want = g_malloc(len);

    fill_pattern(want, off, len);
    g_assert_cmpmem(buf, len, want, len);
}

static void pwrite_pattern(int fd, uint64_t off, size_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);

    fill_pattern(buf, off, len);
    g_assert_cmpint(pwrite(fd, buf, len, off), ==, (ssize_t)len);
}

static int make_image(uint64_t size, char **path)
{
    int fd = g_file_open_tmp("sdhci-XXXXXX.img", path, NULL);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    pwrite_pattern(fd, 0, PATTERN_HEAD);
    pwrite_pattern(fd, size - PATTERN_TAIL, PATTERN_TAIL);
    return fd;
}

static void expect_image(SD *s, uint64_t off, const uint8_t *want, size_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);

    g_assert_cmpint(pread(s->img_fd, buf, len, off), ==, (ssize_t)len);
    g_assert_cmpmem(buf, len, want, len);
}

/* ---- VMM and registers ---- */

static SD *sd_start_args(const char *args)
{
    SD *s = g_new0(SD, 1);

    s->img_fd = -1;
    s->qts = qtest_init(args);
    qpci_bus_init(&s->bus, s->qts);
    g_assert_true(qpci_device_find(&s->bus, SD_DEVFN, &s->dev));
    s->bar = qpci_iomap(&s->dev, 0);
    qpci_device_enable(&s->dev);
    return s;
}

/* The VMM has the image open once it answers; the test keeps its own descriptor. */
static SD *sd_start(uint64_t size)
{
    g_autofree char *path = NULL;
    int fd = make_image(size, &path);
    g_autofree char *args = g_strdup_printf("-drive if=none,id=sd0,format=raw,file=%s "
                                            "-device sdhci-pci -device sd-card,drive=sd0",
                                            path);
    SD *s = sd_start_args(args);

    unlink(path);
    s->img_fd = fd;
    return s;
}

static void sd_stop(SD *s)
{
    qtest_quit(s->qts);
    if (s->img_fd >= 0) {
        close(s->img_fd);
    }
    g_free(s);
}

static uint32_t sd_rl(SD *s, unsigned reg)
{
    return qtest_readl(s->qts, s->bar.addr + reg);
}

static uint16_t sd_rw(SD *s, unsigned reg)
{
    return qtest_readw(s->qts, s->bar.addr + reg);
}

static uint8_t sd_rb(SD *s, unsigned reg)
{
    return qtest_readb(s->qts, s->bar.addr + reg);
}

static void sd_wl(SD *s, unsigned reg, uint32_t val)
{
    qtest_writel(s->qts, s->bar.addr + reg, val);
}

static void sd_ww(SD *s, unsigned reg, uint16_t val)
{
    qtest_writew(s->qts, s->bar.addr + reg, val);
}

static void sd_wb(SD *s, unsigned reg, uint8_t val)
{
    qtest_writeb(s->qts, s->bar.addr + reg, val);
}

static uint32_t sd_status(SD *s)
{
    return sd_rl(s, SDHC_INT_STATUS);
}

/* Write-1-to-clear interrupt status bits (both halves). */
static void sd_ack(SD *s, uint32_t bits)
{
    sd_wl(s, SDHC_INT_STATUS, bits);
}

/* The interrupt status once any of bits (or an error) shows up. */
static uint32_t sd_wait(SD *s, uint32_t bits)
{
    uint32_t st = 0;

    for (int i = 0; i < 5000; i++) {
        st = sd_status(s);
        if (st & (bits | INT_ERROR)) {
            return st;
        }
        g_usleep(1000);
    }
    g_error("sdhci: interrupt status %08x never showed %08x", st, bits);
}

static void sd_reset(SD *s, uint8_t what)
{
    sd_wb(s, SDHC_SOFTWARE_RESET, what);
    for (int i = 0; i < 5000 && sd_rb(s, SDHC_SOFTWARE_RESET); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(sd_rb(s, SDHC_SOFTWARE_RESET), ==, 0);
}

static void sd_set_clock(SD *s, uint16_t div)
{
    sd_ww(s, SDHC_CLOCK_CONTROL, 0);
    sd_ww(s, SDHC_CLOCK_CONTROL, div | CC_INTERNAL_EN);
    g_assert_cmphex(sd_rw(s, SDHC_CLOCK_CONTROL), ==, div | CC_INTERNAL_EN | CC_INTERNAL_STABLE);
    sd_ww(s, SDHC_CLOCK_CONTROL, div | CC_INTERNAL_EN | CC_SD_EN);
}

/* What SeaBIOS's sdcard_controller_setup() does, plus the ADMA error status enable. */
static void sd_host_init(SD *s)
{
    sd_reset(s, SR_ALL);
    sd_wl(s, SDHC_INT_SIGNAL_EN, 0);
    sd_wl(s, SDHC_INT_STATUS_EN, 0x03ff01ff);
    sd_ack(s, sd_status(s));
    sd_wb(s, SDHC_TIMEOUT_CONTROL, 0x0e);
    sd_wb(s, SDHC_POWER_CONTROL, 0);
    sd_wb(s, SDHC_POWER_CONTROL, PC_33V | PC_POWER_ON);
    sd_set_clock(s, CLK_400KHZ);
}

/* ---- commands ---- */

/* Send a command without data and wait for it; rsp (may be NULL) gets the response
 * registers. Returns the interrupt status it raised, then clears all of it. */
static uint32_t sd_cmd(SD *s, uint16_t cmd, uint32_t arg, uint32_t rsp[4])
{
    uint32_t st;

    sd_wl(s, SDHC_ARGUMENT, arg);
    sd_ww(s, SDHC_COMMAND, cmd);
    st = sd_wait(s, INT_CMD_COMPLETE);
    for (int i = 0; rsp && i < 4; i++) {
        rsp[i] = sd_rl(s, SDHC_RESPONSE + 4 * i);
    }
    sd_ack(s, st);
    return st;
}

/* A command that must succeed; its 32-bit response. */
static uint32_t sd_r1(SD *s, uint16_t cmd, uint32_t arg)
{
    uint32_t rsp[4];
    uint32_t st = sd_cmd(s, cmd, arg, rsp);

    g_assert_cmphex(st & ~INT_XFER_COMPLETE, ==, INT_CMD_COMPLETE);
    return rsp[0];
}

/* SeaBIOS's sdcard_card_setup(), recording the answers. */
static void sd_card_init(SD *s, SDInit *r)
{
    uint32_t rsp[4];

    sd_host_init(s);
    g_assert_cmphex(sd_cmd(s, SD_GO_IDLE_STATE, 0, NULL), ==, INT_CMD_COMPLETE);
    r->if_cond = sd_r1(s, SD_SEND_IF_COND, 0x1aa);
    r->app_cmd = sd_r1(s, SD_APP_CMD, 0);
    r->ocr_query = sd_r1(s, SD_APP_SEND_OP_COND, 0);
    do {
        g_assert_cmpuint(++r->acmd41_tries, <=, 1000);
        sd_r1(s, SD_APP_CMD, 0);
        r->ocr = sd_r1(s, SD_APP_SEND_OP_COND, OCR_CCS | 1u << 20);
    } while (!(r->ocr & OCR_BUSY));
    s->high_capacity = r->ocr & OCR_CCS;
    g_assert_cmphex(sd_cmd(s, SD_ALL_SEND_CID, 0, r->cid), ==, INT_CMD_COMPLETE);
    r->rca = sd_r1(s, SD_SEND_RELATIVE_ADDR, 0);
    g_assert_cmphex(sd_cmd(s, SD_SEND_CSD, r->rca & 0xffff0000, r->csd), ==, INT_CMD_COMPLETE);
    r->select_status = sd_cmd(s, SD_SELECT_CARD, r->rca & 0xffff0000, rsp);
    r->select = rsp[0];
    sd_set_clock(s, CLK_25MHZ);
}

static void sd_init(SD *s)
{
    SDInit r = {0};

    sd_card_init(s, &r);
}

/* The card size the way SeaBIOS's sdcard_get_capacity() reads the CSD, in sectors. */
static uint64_t sd_csd_sectors(const uint32_t words[4])
{
    uint8_t csd[16];
    uint32_t c_size, mult, bl_len;

    for (int i = 0; i < 16; i++) {
        csd[i] = words[i / 4] >> (8 * (i % 4));
    }
    if (csd[14] >> 6 >= 1) {
        c_size = csd[5] | csd[6] << 8 | (csd[7] & 0x3f) << 16;
        return (uint64_t)(c_size + 1) << 10;
    }
    c_size = (csd[6] >> 6) | csd[7] << 2 | (csd[8] & 0x03) << 10;
    mult = (csd[4] >> 7) | (csd[5] & 0x03) << 1;
    bl_len = csd[9] & 0x0f;
    return (uint64_t)(c_size + 1) << (mult + 2 + bl_len - 9);
}

/* ---- data transfers ---- */

static void sd_xfer_setup(SD *s, uint16_t blksize, uint16_t count, uint16_t mode)
{
    sd_ww(s, SDHC_BLOCK_SIZE, blksize);
    sd_ww(s, SDHC_BLOCK_COUNT, count);
    sd_ww(s, SDHC_TRANSFER_MODE, mode);
}

static uint16_t sd_mode(unsigned count, bool read)
{
    return (count > 1 ? TM_MULTI | TM_BLOCK_COUNT | TM_AUTO_CMD12 : 0) | (read ? TM_READ : 0);
}

/* Send a data command for sector lba; returns the status once the command completed, with
 * command complete cleared. */
static uint32_t sd_data_cmd(SD *s, uint16_t cmd, uint64_t lba)
{
    uint32_t st;

    sd_wl(s, SDHC_ARGUMENT, s->high_capacity ? lba : lba * BLK);
    sd_ww(s, SDHC_COMMAND, cmd);
    st = sd_wait(s, INT_CMD_COMPLETE);
    sd_ack(s, INT_CMD_COMPLETE);
    return st;
}

static void sd_read_port(SD *s, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = sd_rl(s, SDHC_BUFFER_DATA_PORT);
        memcpy(buf + i, &v, 4);
    }
}

static void sd_write_port(SD *s, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v;
        memcpy(&v, buf + i, 4);
        sd_wl(s, SDHC_BUFFER_DATA_PORT, v);
    }
}

/* Wait for transfer complete, which must come without an error, and clear it. */
static void sd_xfer_done(SD *s)
{
    g_assert_cmphex(sd_wait(s, INT_XFER_COMPLETE), ==, INT_XFER_COMPLETE);
    sd_ack(s, INT_XFER_COMPLETE);
}

/* A PIO transfer as SeaBIOS's sdcard_pio_transfer() does it. */
static void sd_pio(SD *s, bool read, uint64_t lba, unsigned count, uint8_t *buf)
{
    uint16_t cmd = read ? SD_READ_SINGLE_BLOCK : SD_WRITE_BLOCK;
    uint32_t ready = read ? INT_BUF_READ_READY : INT_BUF_WRITE_READY;

    if (count > 1) {
        cmd = read ? SD_READ_MULTIPLE_BLOCK : SD_WRITE_MULTIPLE_BLOCK;
    }
    sd_xfer_setup(s, BLK, count, sd_mode(count, read));
    g_assert_cmphex(sd_data_cmd(s, cmd, lba) & INT_ERROR, ==, 0);
    for (unsigned i = 0; i < count; i++, buf += BLK) {
        g_assert_cmphex(sd_wait(s, ready) & (ready | INT_ERROR), ==, ready);
        sd_ack(s, ready);
        if (read) {
            sd_read_port(s, buf, BLK);
        } else {
            sd_write_port(s, buf, BLK);
        }
    }
    sd_xfer_done(s);
}

static void expect_pio_pattern(SD *s, uint64_t lba, unsigned count)
{
    g_autofree uint8_t *buf = g_malloc(count * BLK);

    sd_pio(s, true, lba, count, buf);
    expect_pattern(buf, lba * BLK, count * BLK);
}

static void sd_adma_desc(SD *s, uint64_t at, uint8_t attr, uint16_t len, uint32_t addr)
{
    qtest_writeq(s->qts, at, (uint64_t)addr << 32 | (uint32_t)len << 16 | attr);
}

/* ---- tests ---- */

static void test_pci(void)
{
    SD *s = sd_start(64 * MIB);

    g_assert_cmphex(qpci_config_readw(&s->dev, PCI_VENDOR_ID), ==, 0x1b36);
    g_assert_cmphex(qpci_config_readw(&s->dev, PCI_DEVICE_ID), ==, 0x0007);
    g_assert_cmphex(qpci_config_readw(&s->dev, PCI_SUBSYSTEM_VENDOR_ID), ==, 0x1af4);
    g_assert_cmphex(qpci_config_readw(&s->dev, PCI_SUBSYSTEM_ID), ==, 0x1100);
    /* Base system peripheral / SD host controller, prog-if 1 (standard, with DMA), rev 0. */
    g_assert_cmphex(qpci_config_readl(&s->dev, PCI_CLASS_REVISION), ==, 0x08050100);
    g_assert_cmphex(qpci_config_readb(&s->dev, PCI_INTERRUPT_PIN), ==, 1);
    g_assert_cmphex(qpci_config_readw(&s->dev, PCI_STATUS) & PCI_STATUS_CAP_LIST, ==, 0);
    /* BAR0: 256 bytes of 32-bit, non-prefetchable memory; nothing else. */
    g_assert_false(s->bar.is_io);
    g_assert_cmpuint(s->bar.size, ==, 256);
    g_assert_cmphex(qpci_config_readl(&s->dev, PCI_BASE_ADDRESS_0), ==, s->bar.addr);
    for (int n = 1; n < QPCI_BAR_COUNT; n++) {
        g_assert_cmpuint(qpci_iomap(&s->dev, n).size, ==, 0);
    }
    sd_stop(s);
}

static void expect_reset_values(SD *s)
{
    for (unsigned reg = 0; reg < 0x40; reg += 4) {
        if (reg != SDHC_BUFFER_DATA_PORT && reg != SDHC_PRESENT_STATE) {
            g_assert_cmphex(sd_rl(s, reg), ==, 0);
        }
    }
    /* 52 MHz timeout and base clocks, 512-byte blocks, ADMA2, ADMA1, high speed, SDMA,
     * 3.3 V and 1.8 V; no 3.0 V, suspend/resume or 64-bit bus. */
    g_assert_cmphex(sd_rl(s, SDHC_CAPABILITIES), ==, 0x057834b4);
    g_assert_cmphex(sd_rl(s, SDHC_CAPABILITIES + 4), ==, 0);
    g_assert_cmphex(sd_rl(s, SDHC_MAX_CURRENT), ==, 0);
    g_assert_cmphex(sd_rl(s, SDHC_MAX_CURRENT + 4), ==, 0);
    g_assert_cmphex(sd_rl(s, SDHC_ADMA_ERROR_STATUS), ==, 0);
    g_assert_cmphex(sd_rl(s, SDHC_ADMA_SYSTEM_ADDRESS), ==, 0);
    g_assert_cmphex(sd_rw(s, SDHC_SLOT_INT_STATUS), ==, 0);
    /* Vendor version 0x24, specification version 2.00. */
    g_assert_cmphex(sd_rw(s, SDHC_HOST_VERSION), ==, 0x2401);
}

static void test_registers(void)
{
    static const uint8_t power[][2] = {
        {0x0f, 0x0f}, /* 3.3 V, on */
        {0x0d, 0x0c}, /* 3.0 V is not in the capabilities: power stays off */
        {0x0b, 0x0b}, /* 1.8 V, on */
        {0x01, 0x00}, /* no voltage selected: off */
    };
    SD *s = sd_start(64 * MIB);

    expect_reset_values(s);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==, PS_IDLE_CARD);
    for (unsigned i = 0; i < G_N_ELEMENTS(power); i++) {
        sd_wb(s, SDHC_POWER_CONTROL, power[i][0]);
        g_assert_cmphex(sd_rb(s, SDHC_POWER_CONTROL), ==, power[i][1]);
    }
    /* Internal clock enable is followed at once by internal clock stable. */
    sd_ww(s, SDHC_CLOCK_CONTROL, CLK_400KHZ | CC_INTERNAL_EN);
    g_assert_cmphex(sd_rw(s, SDHC_CLOCK_CONTROL), ==, 0x8003);
    sd_ww(s, SDHC_CLOCK_CONTROL, CLK_400KHZ | CC_INTERNAL_EN | CC_SD_EN);
    g_assert_cmphex(sd_rw(s, SDHC_CLOCK_CONTROL), ==, 0x8007);
    sd_ww(s, SDHC_CLOCK_CONTROL, 0);
    g_assert_cmphex(sd_rw(s, SDHC_CLOCK_CONTROL), ==, 0);
    /* Each software reset bit reads back as 0 at once. */
    for (uint8_t bit = SR_DAT; bit; bit >>= 1) {
        sd_wb(s, SDHC_SOFTWARE_RESET, bit);
        g_assert_cmphex(sd_rb(s, SDHC_SOFTWARE_RESET), ==, 0);
    }
    sd_stop(s);
}

static void check_empty_slot(const char *args)
{
    SD *s = sd_start_args(args);

    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==, PS_IDLE_EMPTY);
    sd_host_init(s);
    /* Bus power cannot be turned on without a card. */
    g_assert_cmphex(sd_rb(s, SDHC_POWER_CONTROL), ==, PC_33V);
    g_assert_cmphex(sd_cmd(s, SD_GO_IDLE_STATE, 0, NULL), ==, INT_CMD_COMPLETE);
    /* QEMU raises command complete together with the timeout error. */
    g_assert_cmphex(sd_cmd(s, SD_SEND_IF_COND, 0x1aa, NULL), ==,
                    INT_CMD_COMPLETE | INT_ERROR | ERR_CMD_TIMEOUT);
    g_assert_cmphex(sd_status(s), ==, 0);
    sd_stop(s);
}

static void test_no_card(void)
{
    check_empty_slot("-device sdhci-pci");
    check_empty_slot("-device sdhci-pci -device sd-card");
    check_empty_slot("-drive if=none,id=sd0 -device sdhci-pci -device sd-card,drive=sd0");
}

static void test_card_init(void)
{
    SD *s = sd_start(64 * MIB);
    SDInit r = {0};

    sd_card_init(s, &r);
    g_assert_cmphex(r.if_cond, ==, 0x1aa); /* CMD8 echoes voltage and check pattern */
    g_assert_cmphex(r.app_cmd, ==, CS_IDLE | CS_APP_CMD);
    g_assert_cmphex(r.ocr_query, ==, OCR_VOLTAGES);
    /* QEMU's card is ready at the first ACMD41 that names a voltage. */
    g_assert_cmpuint(r.acmd41_tries, ==, 1);
    g_assert_cmphex(r.ocr, ==, OCR_BUSY | OCR_VOLTAGES);
    g_assert_false(s->high_capacity);
    g_assert_cmpmem(r.cid, sizeof(r.cid), sd_cid, sizeof(sd_cid));
    g_assert_cmphex(r.rca, ==, (uint32_t)SD_RCA << 16 | CS_IDENT);
    g_assert_cmpuint(sd_csd_sectors(r.csd), ==, 64 * MIB / BLK);
    /* R1b: transfer complete comes with command complete. */
    g_assert_cmphex(r.select_status, ==, INT_CMD_COMPLETE | INT_XFER_COMPLETE);
    g_assert_cmphex(r.select, ==, CS_STBY);
    g_assert_cmphex(sd_rw(s, SDHC_CLOCK_CONTROL), ==, CLK_25MHZ | 0x7);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==, PS_IDLE_CARD);
    g_assert_cmphex(sd_r1(s, SD_SEND_STATUS, SD_RCA << 16), ==, CS_TRAN);

    /* CMD2 in transfer state: no response, a command timeout; the status bits are
     * write-1-to-clear, one at a time. */
    sd_wl(s, SDHC_ARGUMENT, 0);
    sd_ww(s, SDHC_COMMAND, SD_ALL_SEND_CID);
    g_assert_cmphex(sd_wait(s, INT_CMD_COMPLETE), ==,
                    INT_CMD_COMPLETE | INT_ERROR | ERR_CMD_TIMEOUT);
    sd_ack(s, 0);
    g_assert_cmphex(sd_status(s), ==, INT_CMD_COMPLETE | INT_ERROR | ERR_CMD_TIMEOUT);
    sd_ack(s, ERR_CMD_TIMEOUT);
    g_assert_cmphex(sd_status(s), ==, INT_CMD_COMPLETE);
    sd_ack(s, INT_CMD_COMPLETE);
    g_assert_cmphex(sd_status(s), ==, 0);
    /* The card reports the illegal command in the next response only. */
    g_assert_cmphex(sd_r1(s, SD_SEND_STATUS, SD_RCA << 16), ==, CS_TRAN | CS_ILLEGAL_COMMAND);
    g_assert_cmphex(sd_r1(s, SD_SEND_STATUS, SD_RCA << 16), ==, CS_TRAN);

    /* Signal enable routes a status bit to the slot's interrupt and INTA: slot 2's INTA
     * is PIRQB, routed here to IRQ 11 as a BIOS would. */
    qtest_outl(s->qts, 0xcf8, 0x80000000u | PIIX3_DEVFN << 8 | PIIX3_PIRQB);
    qtest_outb(s->qts, 0xcfc + (PIIX3_PIRQB & 3), SD_GSI);
    qtest_irq_intercept_in(s->qts, "ioapic");
    sd_wl(s, SDHC_INT_SIGNAL_EN, INT_CMD_COMPLETE);
    g_assert_false(qtest_get_irq(s->qts, SD_GSI));
    sd_wl(s, SDHC_ARGUMENT, SD_RCA << 16);
    sd_ww(s, SDHC_COMMAND, SD_SEND_STATUS);
    g_assert_cmphex(sd_wait(s, INT_CMD_COMPLETE), ==, INT_CMD_COMPLETE);
    g_assert_cmphex(sd_rl(s, SDHC_SLOT_INT_STATUS), ==, 0x24010001);
    g_assert_true(qtest_get_irq(s->qts, SD_GSI));
    sd_ack(s, INT_CMD_COMPLETE);
    g_assert_cmphex(sd_rl(s, SDHC_SLOT_INT_STATUS), ==, 0x24010000);
    g_assert_false(qtest_get_irq(s->qts, SD_GSI));
    sd_stop(s);
}

typedef struct CardSize {
    uint64_t size;
    uint32_t ocr;
    uint32_t csd[4];
} CardSize;

/* Up to 2 GiB QEMU makes a standard capacity card (CSD 1.0, byte addresses), above it a
 * high capacity one (CSD 2.0, CCS, block addresses). */
static const CardSize card_sizes[] = {
    {64 * MIB, OCR_BUSY | OCR_VOLTAGES, {0xff926000, 0x3fffffdf, 0x325f59e0, 0x00002600}},
    {2 * GIB, OCR_BUSY | OCR_VOLTAGES, {0xff92a000, 0xffffffdf, 0x325f5ae3, 0x00002600}},
    {4 * GIB, OCR_BUSY | OCR_CCS | OCR_VOLTAGES, {0x800a4000, 0x001fff7f, 0x325b5900, 0x00400e00}},
};

static void test_card_size(const void *opaque)
{
    const CardSize *c = opaque;
    SD *s = sd_start(c->size);
    SDInit r = {0};
    uint64_t last = c->size / BLK - 1;

    sd_card_init(s, &r);
    g_assert_cmphex(r.ocr, ==, c->ocr);
    g_assert_cmpmem(r.cid, sizeof(r.cid), sd_cid, sizeof(sd_cid));
    g_assert_cmpmem(r.csd, sizeof(r.csd), c->csd, sizeof(c->csd));
    g_assert_cmpuint(sd_csd_sectors(r.csd), ==, c->size / BLK);
    expect_pio_pattern(s, 0, 1);
    expect_pio_pattern(s, last - 1, 2);
    sd_stop(s);
}

static void test_pio_read(void)
{
    SD *s = sd_start(64 * MIB);
    uint8_t buf[BLK];

    sd_init(s);
    /* Single block: the buffer fills at once, DAT inhibit and read transfer active. */
    sd_xfer_setup(s, BLK, 1, TM_READ);
    g_assert_cmphex(sd_data_cmd(s, SD_READ_SINGLE_BLOCK, 3), ==,
                    INT_CMD_COMPLETE | INT_BUF_READ_READY);
    g_assert_cmphex(sd_rl(s, SDHC_RESPONSE), ==, CS_TRAN);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==,
                    PS_IDLE_CARD | PS_BUF_READ_EN | PS_READ_ACTIVE | PS_DAT_INHIBIT);
    sd_ack(s, INT_BUF_READ_READY);
    sd_read_port(s, buf, BLK - 4);
    g_assert_cmphex(sd_status(s), ==, 0);
    sd_read_port(s, buf + BLK - 4, 4);
    g_assert_cmphex(sd_status(s), ==, INT_XFER_COMPLETE);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==, PS_IDLE_CARD);
    sd_ack(s, INT_XFER_COMPLETE);
    expect_pattern(buf, 3 * BLK, BLK);

    /* Three blocks with block count and auto CMD12: DAT line active until the last block
     * is in the buffer; the block count falls as each block is read out. */
    sd_xfer_setup(s, BLK, 3, sd_mode(3, true));
    g_assert_cmphex(sd_data_cmd(s, SD_READ_MULTIPLE_BLOCK, 5), ==,
                    INT_CMD_COMPLETE | INT_BUF_READ_READY);
    g_assert_cmphex(sd_rl(s, SDHC_TRANSFER_MODE), ==, SD_READ_MULTIPLE_BLOCK << 16 | 0x36);
    for (unsigned i = 0; i < 3; i++) {
        uint32_t active = i < 2 ? PS_DAT_ACTIVE : 0;

        g_assert_cmphex(sd_wait(s, INT_BUF_READ_READY), ==, INT_BUF_READ_READY);
        sd_ack(s, INT_BUF_READ_READY);
        g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==,
                        PS_IDLE_CARD | PS_BUF_READ_EN | PS_READ_ACTIVE | PS_DAT_INHIBIT | active);
        g_assert_cmpuint(sd_rw(s, SDHC_BLOCK_COUNT), ==, 3 - i);
        sd_read_port(s, buf, BLK);
        expect_pattern(buf, (5 + i) * BLK, BLK);
    }
    sd_xfer_done(s);
    g_assert_cmpuint(sd_rw(s, SDHC_BLOCK_COUNT), ==, 0);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==, PS_IDLE_CARD);
    /* The auto CMD12 response lands in the top response word; CMD12 found the card
     * sending data. */
    g_assert_cmphex(sd_rl(s, SDHC_RESPONSE + 12), ==, CS_DATA);
    g_assert_cmphex(sd_r1(s, SD_SEND_STATUS, SD_RCA << 16), ==, CS_TRAN);
    g_assert_cmphex(sd_status(s), ==, 0);
    sd_stop(s);
}

static void test_pio_write(void)
{
    SD *s = sd_start(64 * MIB);
    uint8_t data[3 * BLK], back[3 * BLK];

    sd_init(s);
    fill_data(data, sizeof(data), 3);
    /* Single block: buffer write enable, write transfer active and DAT line active. */
    sd_xfer_setup(s, BLK, 1, 0);
    g_assert_cmphex(sd_data_cmd(s, SD_WRITE_BLOCK, 7), ==, INT_CMD_COMPLETE | INT_BUF_WRITE_READY);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==,
                    PS_IDLE_CARD | PS_BUF_WRITE_EN | PS_WRITE_ACTIVE | PS_DAT_ACTIVE |
                        PS_DAT_INHIBIT);
    sd_ack(s, INT_BUF_WRITE_READY);
    sd_write_port(s, data, BLK - 4);
    g_assert_cmphex(sd_status(s), ==, 0);
    sd_write_port(s, data + BLK - 4, 4);
    sd_xfer_done(s);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==, PS_IDLE_CARD);
    expect_image(s, 7 * BLK, data, BLK);

    /* Two blocks with auto CMD12, found the card receiving. */
    sd_pio(s, false, 9, 2, data + BLK);
    g_assert_cmpuint(sd_rw(s, SDHC_BLOCK_COUNT), ==, 0);
    g_assert_cmphex(sd_rl(s, SDHC_RESPONSE + 12), ==, CS_RCV);
    expect_image(s, 9 * BLK, data + BLK, 2 * BLK);
    /* Neighbours untouched, and the data reads back through the card. */
    expect_pio_pattern(s, 8, 1);
    expect_pio_pattern(s, 11, 1);
    sd_pio(s, true, 9, 2, back);
    g_assert_cmpmem(back, 2 * BLK, data + BLK, 2 * BLK);
    g_assert_cmphex(sd_r1(s, SD_SEND_STATUS, SD_RCA << 16), ==, CS_TRAN);
    sd_stop(s);
}

/* Start a DMA transfer (SDMA or ADMA2 per host control) and return the status once the
 * command completed, command complete cleared. */
static uint32_t sd_dma_start(SD *s, uint16_t cmd, uint64_t lba, unsigned count)
{
    bool read = cmd == SD_READ_SINGLE_BLOCK || cmd == SD_READ_MULTIPLE_BLOCK;

    sd_xfer_setup(s, BLK, count, sd_mode(count, read) | TM_DMA);
    return sd_data_cmd(s, cmd, lba);
}

static void test_sdma(void)
{
    SD *s = sd_start(64 * MIB);
    uint8_t buf[8 * BLK], data[3 * BLK];

    sd_init(s);
    /* Eight blocks end exactly at the default 4 KiB boundary: no DMA interrupt. The
     * address register moves past the data. */
    qtest_memset(s->qts, DMA_BUF, 0, sizeof(buf));
    sd_wl(s, SDHC_SDMA_ADDRESS, DMA_BUF);
    sd_dma_start(s, SD_READ_MULTIPLE_BLOCK, 20, 8);
    sd_xfer_done(s);
    g_assert_cmphex(sd_rl(s, SDHC_SDMA_ADDRESS), ==, DMA_BUF + sizeof(buf));
    g_assert_cmpuint(sd_rw(s, SDHC_BLOCK_COUNT), ==, 0);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==, PS_IDLE_CARD);
    g_assert_cmphex(sd_rl(s, SDHC_RESPONSE + 12), ==, CS_DATA);
    qtest_bufread(s->qts, DMA_BUF, buf, sizeof(buf));
    expect_pattern(buf, 20 * BLK, sizeof(buf));

    /* A three-block write from guest memory. */
    fill_data(data, sizeof(data), 11);
    qtest_bufwrite(s->qts, DMA_BUF2, data, sizeof(data));
    sd_wl(s, SDHC_SDMA_ADDRESS, DMA_BUF2);
    sd_dma_start(s, SD_WRITE_MULTIPLE_BLOCK, 50, 3);
    sd_xfer_done(s);
    g_assert_cmphex(sd_rl(s, SDHC_SDMA_ADDRESS), ==, DMA_BUF2 + sizeof(data));
    g_assert_cmphex(sd_rl(s, SDHC_RESPONSE + 12), ==, CS_RCV);
    expect_image(s, 50 * BLK, data, sizeof(data));

    /* A single block: QEMU leaves the address register where it was (the specification
     * has it point past the data). */
    sd_wl(s, SDHC_SDMA_ADDRESS, DMA_BUF);
    sd_dma_start(s, SD_READ_SINGLE_BLOCK, 60, 1);
    sd_xfer_done(s);
    g_assert_cmphex(sd_rl(s, SDHC_SDMA_ADDRESS), ==, DMA_BUF);
    qtest_bufread(s->qts, DMA_BUF, buf, BLK);
    expect_pattern(buf, 60 * BLK, BLK);
    g_assert_cmphex(sd_r1(s, SD_SEND_STATUS, SD_RCA << 16), ==, CS_TRAN);
    sd_stop(s);
}

static void test_sdma_boundary(void)
{
    SD *s = sd_start(64 * MIB);
    uint8_t buf[16 * BLK];

    sd_init(s);
    qtest_memset(s->qts, DMA_BUF, 0, sizeof(buf));
    sd_wl(s, SDHC_SDMA_ADDRESS, DMA_BUF);
    sd_dma_start(s, SD_READ_MULTIPLE_BLOCK, 80, 16);
    /* Sixteen blocks cross the 4 KiB boundary: the transfer stops there with a DMA
     * interrupt and the address of the next byte. */
    g_assert_cmphex(sd_wait(s, INT_DMA | INT_XFER_COMPLETE), ==, INT_DMA);
    g_assert_cmphex(sd_rl(s, SDHC_SDMA_ADDRESS), ==, DMA_BUF + 0x1000);
    g_assert_cmpuint(sd_rw(s, SDHC_BLOCK_COUNT), ==, 8);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==,
                    PS_IDLE_CARD | PS_READ_ACTIVE | PS_DAT_ACTIVE | PS_DAT_INHIBIT);
    qtest_bufread(s->qts, DMA_BUF, buf, sizeof(buf));
    expect_pattern(buf, 80 * BLK, 0x1000);
    sd_ack(s, INT_DMA);
    /* The specification resumes on a write of the address; QEMU 7.2 ignores writes to it
     * while a transfer is active (its CVE-2021-3409 fix), so nothing moves. */
    sd_wl(s, SDHC_SDMA_ADDRESS, DMA_BUF + 0x1000);
    g_assert_cmphex(sd_status(s), ==, 0);
    g_assert_cmpuint(sd_rw(s, SDHC_BLOCK_COUNT), ==, 8);
    /* Abort: data reset, then CMD12 stops the card. */
    sd_reset(s, SR_DAT);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==, PS_IDLE_CARD);
    g_assert_cmphex(sd_r1(s, SD_STOP_TRANSMISSION, 0), ==, CS_DATA);
    g_assert_cmphex(sd_r1(s, SD_SEND_STATUS, SD_RCA << 16), ==, CS_TRAN);
    expect_pio_pattern(s, 88, 2);
    sd_stop(s);
}

static void test_adma2(void)
{
    SD *s = sd_start(64 * MIB);
    uint8_t buf[3 * BLK], data[3 * BLK];

    sd_init(s);
    sd_wb(s, SDHC_HOST_CONTROL, HC_ADMA2);
    /* Read three blocks through two descriptors: 1 KiB, then 512 bytes with END. */
    qtest_memset(s->qts, DMA_BUF, 0, 2 * BLK);
    qtest_memset(s->qts, DMA_BUF2, 0, BLK);
    sd_adma_desc(s, ADMA_TABLE, ADMA_VALID | ADMA_TRAN, 2 * BLK, DMA_BUF);
    sd_adma_desc(s, ADMA_TABLE + 8, ADMA_VALID | ADMA_TRAN | ADMA_END, BLK, DMA_BUF2);
    sd_wl(s, SDHC_ADMA_SYSTEM_ADDRESS, ADMA_TABLE);
    sd_dma_start(s, SD_READ_MULTIPLE_BLOCK, 100, 3);
    sd_xfer_done(s);
    g_assert_cmphex(sd_rl(s, SDHC_ADMA_SYSTEM_ADDRESS), ==, ADMA_TABLE + 16);
    g_assert_cmphex(sd_rl(s, SDHC_ADMA_ERROR_STATUS), ==, 0);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==, PS_IDLE_CARD);
    g_assert_cmphex(sd_rl(s, SDHC_RESPONSE + 12), ==, CS_DATA);
    qtest_bufread(s->qts, DMA_BUF, buf, 2 * BLK);
    qtest_bufread(s->qts, DMA_BUF2, buf + 2 * BLK, BLK);
    expect_pattern(buf, 100 * BLK, sizeof(buf));

    /* Write three blocks: 512 bytes, then 1 KiB with END and INT (a DMA interrupt). */
    fill_data(data, sizeof(data), 13);
    qtest_bufwrite(s->qts, DMA_BUF, data, BLK);
    qtest_bufwrite(s->qts, DMA_BUF2, data + BLK, 2 * BLK);
    sd_adma_desc(s, ADMA_TABLE, ADMA_VALID | ADMA_TRAN, BLK, DMA_BUF);
    sd_adma_desc(s, ADMA_TABLE + 8, ADMA_VALID | ADMA_TRAN | ADMA_END | ADMA_INT, 2 * BLK,
                 DMA_BUF2);
    sd_wl(s, SDHC_ADMA_SYSTEM_ADDRESS, ADMA_TABLE);
    sd_dma_start(s, SD_WRITE_MULTIPLE_BLOCK, 200, 3);
    g_assert_cmphex(sd_wait(s, INT_XFER_COMPLETE), ==, INT_XFER_COMPLETE | INT_DMA);
    sd_ack(s, INT_XFER_COMPLETE | INT_DMA);
    g_assert_cmphex(sd_rl(s, SDHC_RESPONSE + 12), ==, CS_RCV);
    expect_image(s, 200 * BLK, data, sizeof(data));
    g_assert_cmphex(sd_r1(s, SD_SEND_STATUS, SD_RCA << 16), ==, CS_TRAN);
    sd_stop(s);
}

/* One single-block ADMA2 read whose table is at table; the status it ends with. */
static uint32_t sd_adma_read_one(SD *s, uint64_t table)
{
    sd_wl(s, SDHC_ADMA_SYSTEM_ADDRESS, table);
    sd_dma_start(s, SD_READ_SINGLE_BLOCK, 300, 1);
    return sd_wait(s, INT_XFER_COMPLETE);
}

static void test_adma2_errors(void)
{
    SD *s = sd_start(64 * MIB);
    uint8_t buf[BLK];

    sd_init(s);
    sd_wb(s, SDHC_HOST_CONTROL, HC_ADMA2);
    /* Data outside RAM: the DMA write fails, an ADMA error ends the transfer, but QEMU
     * leaves the ADMA error status as it was (0 here) and the block count at 1. */
    sd_adma_desc(s, ADMA_TABLE, ADMA_VALID | ADMA_TRAN | ADMA_END, BLK, OUTSIDE_RAM);
    g_assert_cmphex(sd_adma_read_one(s, ADMA_TABLE), ==, INT_XFER_COMPLETE | INT_ERROR | ERR_ADMA);
    g_assert_cmphex(sd_rl(s, SDHC_ADMA_ERROR_STATUS), ==, 0);
    g_assert_cmpuint(sd_rw(s, SDHC_BLOCK_COUNT), ==, 1);
    sd_ack(s, INT_XFER_COMPLETE | INT_ERROR | ERR_ADMA);
    g_assert_cmphex(sd_r1(s, SD_SEND_STATUS, SD_RCA << 16), ==, CS_TRAN);

    /* A descriptor without the valid bit: ADMA error in state ST_FDS (1), the address
     * register on the bad descriptor, no transfer complete; the card keeps sending. */
    sd_adma_desc(s, ADMA_TABLE, ADMA_TRAN | ADMA_END, BLK, DMA_BUF);
    g_assert_cmphex(sd_adma_read_one(s, ADMA_TABLE), ==, INT_ERROR | ERR_ADMA);
    g_assert_cmphex(sd_rl(s, SDHC_ADMA_ERROR_STATUS), ==, 0x01);
    g_assert_cmphex(sd_rl(s, SDHC_ADMA_SYSTEM_ADDRESS), ==, ADMA_TABLE);
    sd_ack(s, INT_ERROR | ERR_ADMA);
    g_assert_cmphex(sd_r1(s, SD_STOP_TRANSMISSION, 0), ==, CS_DATA);

    /* A table outside RAM reads as zeros: the same error. */
    g_assert_cmphex(sd_adma_read_one(s, OUTSIDE_RAM), ==, INT_ERROR | ERR_ADMA);
    g_assert_cmphex(sd_rl(s, SDHC_ADMA_ERROR_STATUS), ==, 0x01);
    sd_ack(s, INT_ERROR | ERR_ADMA);
    g_assert_cmphex(sd_r1(s, SD_STOP_TRANSMISSION, 0), ==, CS_DATA);

    /* END after one block of a two-block transfer: length mismatch (0x04) in state ST_TFR
     * (3), transfer complete and the auto CMD12. */
    sd_adma_desc(s, ADMA_TABLE, ADMA_VALID | ADMA_TRAN | ADMA_END, BLK, DMA_BUF);
    sd_wl(s, SDHC_ADMA_SYSTEM_ADDRESS, ADMA_TABLE);
    sd_dma_start(s, SD_READ_MULTIPLE_BLOCK, 300, 2);
    g_assert_cmphex(sd_wait(s, INT_XFER_COMPLETE), ==, INT_XFER_COMPLETE | INT_ERROR | ERR_ADMA);
    g_assert_cmphex(sd_rl(s, SDHC_ADMA_ERROR_STATUS), ==, 0x07);
    g_assert_cmpuint(sd_rw(s, SDHC_BLOCK_COUNT), ==, 1);
    g_assert_cmphex(sd_rl(s, SDHC_RESPONSE + 12), ==, CS_DATA);
    sd_ack(s, INT_XFER_COMPLETE | INT_ERROR | ERR_ADMA);
    g_assert_cmphex(sd_r1(s, SD_SEND_STATUS, SD_RCA << 16), ==, CS_TRAN);

    /* Still a working controller. */
    g_assert_cmphex(sd_adma_read_one(s, ADMA_TABLE), ==, INT_XFER_COMPLETE);
    sd_ack(s, INT_XFER_COMPLETE);
    qtest_bufread(s->qts, DMA_BUF, buf, BLK);
    expect_pattern(buf, 300 * BLK, BLK);
    sd_stop(s);
}

/* The block size register keeps the boundary bits and caps the size at the 512-byte
 * buffer (QEMU's choice; the specification leaves larger values undefined). */
static void check_block_sizes(SD *s)
{
    static const uint16_t sizes[][2] = {
        {0x0fff, 0x0200}, {0x0800, 0x0200}, {0x0201, 0x0200}, {0xffff, 0x7200}, {0x0200, 0x0200},
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(sizes); i++) {
        sd_ww(s, SDHC_BLOCK_SIZE, sizes[i][0]);
        g_assert_cmphex(sd_rw(s, SDHC_BLOCK_SIZE), ==, sizes[i][1]);
    }
}

static void test_robustness(void)
{
    SD *s = sd_start(64 * MIB);
    uint8_t buf[BLK];

    sd_init(s);
    /* The data port with no transfer reads 0 and changes nothing. */
    g_assert_cmphex(sd_rl(s, SDHC_BUFFER_DATA_PORT), ==, 0);
    g_assert_cmphex(sd_status(s), ==, 0);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==, PS_IDLE_CARD);

    /* Without the SD clock a command is not sent. */
    sd_ww(s, SDHC_CLOCK_CONTROL, CLK_25MHZ | CC_INTERNAL_EN);
    sd_wl(s, SDHC_ARGUMENT, SD_RCA << 16);
    sd_ww(s, SDHC_COMMAND, SD_SEND_STATUS);
    g_assert_cmphex(sd_status(s), ==, 0);
    sd_set_clock(s, CLK_25MHZ);

    /* Block size 0: the card accepts CMD17, the controller moves no data. */
    sd_xfer_setup(s, 0, 1, TM_READ);
    g_assert_cmphex(sd_data_cmd(s, SD_READ_SINGLE_BLOCK, 1), ==, INT_CMD_COMPLETE);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==, PS_IDLE_CARD);
    g_assert_cmphex(sd_rl(s, SDHC_BUFFER_DATA_PORT), ==, 0);
    g_assert_cmphex(sd_r1(s, SD_SEND_STATUS, SD_RCA << 16), ==, CS_DATA);
    g_assert_cmphex(sd_r1(s, SD_STOP_TRANSMISSION, 0), ==, CS_DATA);

    check_block_sizes(s);

    /* Block count 0 with block count enabled (the specification's "stop count": nothing
     * should move): QEMU starts the transfer (DAT inhibit) and never fills the buffer. */
    sd_xfer_setup(s, BLK, 0, TM_MULTI | TM_BLOCK_COUNT | TM_READ);
    g_assert_cmphex(sd_data_cmd(s, SD_READ_MULTIPLE_BLOCK, 1), ==, INT_CMD_COMPLETE);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==,
                    PS_IDLE_CARD | PS_READ_ACTIVE | PS_DAT_ACTIVE | PS_DAT_INHIBIT);
    g_assert_cmphex(sd_rl(s, SDHC_BUFFER_DATA_PORT), ==, 0);
    g_assert_cmphex(sd_status(s), ==, 0);

    /* A data command while DAT inhibit is not sent; one without data is. */
    sd_wl(s, SDHC_ARGUMENT, 2 * BLK);
    sd_ww(s, SDHC_COMMAND, SD_READ_SINGLE_BLOCK);
    g_assert_cmphex(sd_status(s), ==, 0);
    g_assert_cmphex(sd_r1(s, SD_SEND_STATUS, SD_RCA << 16), ==, CS_DATA);

    /* Data reset ends it; CMD12 stops the card. */
    sd_reset(s, SR_DAT);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==, PS_IDLE_CARD);
    g_assert_cmphex(sd_r1(s, SD_STOP_TRANSMISSION, 0), ==, CS_DATA);
    expect_pio_pattern(s, 2, 1);

    /* Reset all in the middle of a PIO read, then start over: the data is right. */
    sd_xfer_setup(s, BLK, 3, sd_mode(3, true));
    sd_data_cmd(s, SD_READ_MULTIPLE_BLOCK, 5);
    sd_read_port(s, buf, BLK / 2);
    sd_reset(s, SR_ALL);
    expect_reset_values(s);
    g_assert_cmphex(sd_rl(s, SDHC_PRESENT_STATE), ==, PS_IDLE_CARD);
    sd_init(s);
    expect_pio_pattern(s, 5, 3);
    sd_stop(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sdhci/pci", test_pci);
    g_test_add_func("/sdhci/registers", test_registers);
    g_test_add_func("/sdhci/no-card", test_no_card);
    g_test_add_func("/sdhci/card-init", test_card_init);
    g_test_add_data_func("/sdhci/card-size/64M", &card_sizes[0], test_card_size);
    g_test_add_data_func("/sdhci/card-size/2G", &card_sizes[1], test_card_size);
    g_test_add_data_func("/sdhci/card-size/4G", &card_sizes[2], test_card_size);
    g_test_add_func("/sdhci/pio-read", test_pio_read);
    g_test_add_func("/sdhci/pio-write", test_pio_write);
    g_test_add_func("/sdhci/sdma", test_sdma);
    g_test_add_func("/sdhci/sdma-boundary", test_sdma_boundary);
    g_test_add_func("/sdhci/adma2", test_adma2);
    g_test_add_func("/sdhci/adma2-errors", test_adma2_errors);
    g_test_add_func("/sdhci/robustness", test_robustness);
    return g_test_run();
}
