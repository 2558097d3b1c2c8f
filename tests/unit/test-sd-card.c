/*
 * Unit tests for the "sd-card" device (hw/sd/sd-card.c) without a controller: the test is
 * the host, driving the card through include/hw/sd.h on an sd-bus of its own. Drives are
 * raw images in the temporary directory (sparse for the large ones). Expected values are
 * worked out from the Physical Layer spec and QEMU 7.2's card as observed through its
 * sdhci-pci: the init sequence, CID/CSD/SCR/OCR contents, the data paths checked against
 * the image file, the card status bits and their clearing, realize errors, media change,
 * and a seeded hostile command sequence.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "hw/qdev.h"
#include "hw/sd.h"
#include "util/bswap.h"
#include "qdev-test-util.h"
#include "util/main-loop.h"

/* R1 card status bits and states, as the spec numbers them. */
#define ST_IDLE 0
#define ST_STBY 3
#define ST_TRAN 4
#define ST_DATA 5
#define ST_RCV 6
#define CS(state) (0x100u | (state) << 9) /* READY_FOR_DATA and CURRENT_STATE */
#define APP_CMD (1u << 5)
#define WP_ERASE_SKIP (1u << 15)
#define CSD_OVERWRITE (1u << 16)
#define ERROR (1u << 19)
#define ILLEGAL_COMMAND (1u << 22)
#define LOCK_UNLOCK_FAILED (1u << 24)
#define CARD_IS_LOCKED (1u << 25)
#define WP_VIOLATION (1u << 26)
#define ERASE_SEQ_ERROR (1u << 28)
#define BLOCK_LEN_ERROR (1u << 29)
#define ADDRESS_ERROR (1u << 30)
#define OUT_OF_RANGE (1u << 31)

#define MiB (1024ull * 1024)
#define GiB (1024 * MiB)

static SDBus sdbus;
static unsigned changed_count;
static GPtrArray *images;
static uint16_t rca;
static int64_t fake_clock_ns;

#define RCA_ARG ((uint32_t)rca << 16) /* the argument of addressed commands */

static void bus_changed(void *opaque)
{
    changed_count++;
}

static int64_t fake_clock(void)
{
    return fake_clock_ns;
}

/* ---- Images, drives, cards ---- */

/* A raw image of size bytes: sparse, with a pattern in its first 64 KiB. */
static char *make_image(uint64_t size)
{
    char *path = NULL;
    int fd = g_file_open_tmp("sd-card-XXXXXX.img", &path, NULL);
    uint8_t buf[65536];

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (i * 7 + i / 512) & 0xff;
    }
    g_assert_cmpint(pwrite(fd, buf, MIN(size, sizeof(buf)), 0), ==,
                    (ssize_t)MIN(size, sizeof(buf)));
    close(fd);
    g_ptr_array_add(images, g_strdup(path));
    return path;
}

static uint32_t le32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t pattern_at(uint64_t off)
{
    return (off * 7 + off / 512) & 0xff;
}

static void read_image(const char *path, uint64_t off, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, off), ==, (ssize_t)len);
    close(fd);
}

static void new_drive(const char *optstr)
{
    Opts *opts = drive_def(optstr, &error_abort);

    g_assert_nonnull(drive_new(opts, IF_NONE, &error_abort));
    opts_free(opts);
}

/* -device devstr on the test's bus; NULL and *err set when realize fails. */
static DeviceState *add_card(const char *devstr, char **err)
{
    g_autofree char *full = g_strdup_printf("%s,bus=sd-bus", devstr);

    return test_device_add(full, true, err);
}

/* A card on a new raw image of size bytes as drive id; *path_out gets the image. */
static DeviceState *new_card(const char *id, uint64_t size, const char *extra, char **path_out)
{
    g_autofree char *path = make_image(size);
    g_autofree char *dopts = g_strdup_printf("if=none,id=%s,file=%s,format=raw", id, path);
    g_autofree char *dev = g_strdup_printf("sd-card,drive=%s%s", id, extra ? extra : "");

    new_drive(dopts);
    if (path_out) {
        *path_out = g_strdup(path);
    }
    return add_card(dev, NULL);
}

/* ---- Commands ---- */

static int cmd(uint8_t index, uint32_t arg, uint8_t *resp)
{
    memset(resp, 0xa5, 16);
    return sd_card_do_command(sdbus.card, index, arg, resp);
}

/* A command answered with 48 bits: returns them. */
static uint32_t r48(uint8_t index, uint32_t arg)
{
    uint8_t resp[16];

    g_assert_cmpint(cmd(index, arg, resp), ==, SD_RSP_48);
    return ldl_be_p(resp);
}

static void no_response(uint8_t index, uint32_t arg)
{
    uint8_t resp[16];

    g_assert_cmpint(cmd(index, arg, resp), ==, SD_RSP_NONE);
}

static uint32_t status(void)
{
    return r48(13, RCA_ARG);
}

/* CMD55 then ACMD index: the ACMD's 48-bit response. */
static uint32_t acmd(uint8_t index, uint32_t arg)
{
    g_assert_cmphex(r48(55, RCA_ARG) & APP_CMD, ==, APP_CMD);
    return r48(index, arg);
}

static void read_data(void *buf, size_t len)
{
    g_assert_cmpuint(sd_card_read_data(sdbus.card, buf, len), ==, len);
}

static void write_data(const void *buf, size_t len)
{
    g_assert_cmpuint(sd_card_write_data(sdbus.card, buf, len), ==, len);
}

static const uint8_t cid_expected[16] = {0xaa, 'X',  'Y',  'Q',  'E',  'M',  'U',  '!',
                                         0x01, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x62, 0x19};

/* CMD0, CMD8, ACMD41 until powered up, CMD2, CMD3, CMD9 into csd, CMD7: transfer state. */
static void init_card(uint32_t ocr, uint8_t csd[16])
{
    uint8_t resp[16];
    int tries = 0;
    uint32_t r3;

    rca = 0;
    no_response(0, 0);
    g_assert_cmphex(r48(8, 0x1aa), ==, 0x1aa);
    do {
        g_assert_cmpint(tries++, <, 5);
        g_assert_cmphex(r48(55, 0), ==, CS(ST_IDLE) | APP_CMD);
        r3 = r48(41, 0x40ff8000);
    } while (!(r3 & 0x80000000));
    g_assert_cmphex(r3, ==, ocr);
    g_assert_cmpint(cmd(2, 0, resp), ==, SD_RSP_136);
    g_assert_cmpmem(resp, 16, cid_expected, 16);
    g_assert_cmpint(cmd(3, 0, resp), ==, SD_RSP_48);
    rca = lduw_be_p(resp);
    g_assert_cmphex(rca, ==, 0x4567);
    g_assert_cmphex(lduw_be_p(resp + 2), ==, 0x0500); /* ident, READY_FOR_DATA */
    g_assert_cmpint(cmd(9, RCA_ARG, csd), ==, SD_RSP_136);
    g_assert_cmphex(r48(7, RCA_ARG), ==, CS(ST_STBY));
    g_assert_cmphex(status(), ==, CS(ST_TRAN));
}

/* ---- Tests ---- */

/* CSD version 1.0: capacity (C_SIZE + 1) << (C_SIZE_MULT + 2) << READ_BL_LEN. */
static uint64_t csd_v1_capacity(const uint8_t *c)
{
    uint32_t c_size = (c[6] & 3) << 10 | c[7] << 2 | c[8] >> 6;
    uint32_t mult = (c[9] & 3) << 1 | c[10] >> 7;

    return (uint64_t)(c_size + 1) << (mult + 2) << (c[5] & 0xf);
}

static void test_init_sdsc(void)
{
    static const uint8_t csd_64m[16] = {0x00, 0x26, 0x00, 0x32, 0x5f, 0x59, 0xe0, 0x3f,
                                        0xff, 0xff, 0xdf, 0xff, 0x92, 0x60, 0x00, 0xd5};
    DeviceState *d = new_card("sdsc", 64 * MiB, NULL, NULL);
    uint8_t csd[16], resp[16];

    g_assert_true(sd_card_inserted(sdbus.card));
    g_assert_false(sd_card_readonly(sdbus.card));
    /* CMD8 answers only with exactly one voltage bit, and echoes the whole argument. */
    no_response(0, 0);
    no_response(8, 0x3aa);
    no_response(8, 0x1001aa);
    g_assert_cmphex(r48(8, 0x2aa), ==, 0x2aa);
    /* An enquiry ACMD41 gives the OCR without powering up or leaving idle. */
    g_assert_cmphex(r48(55, 0), ==, CS(ST_IDLE) | APP_CMD);
    g_assert_cmphex(r48(41, 0), ==, 0x00ffff00);
    no_response(2, 0); /* still idle */
    init_card(0x80ffff00, csd);
    g_assert_cmpmem(csd, 16, csd_64m, 16);
    /* C_SIZE 255, C_SIZE_MULT 7, READ_BL_LEN 9: 256 * 512 * 512 bytes. */
    g_assert_cmpuint(csd[0] >> 6, ==, 0);
    g_assert_cmpuint(csd_v1_capacity(csd), ==, 64 * MiB);
    /* CMD9/CMD10 answer in standby only, and to their RCA only. */
    no_response(9, RCA_ARG);
    g_assert_cmphex(status(), ==, CS(ST_TRAN) | ILLEGAL_COMMAND);
    g_assert_cmphex(r48(7, 0), ==, CS(ST_TRAN)); /* deselect */
    no_response(10, 0x1234 << 16);
    g_assert_cmpint(cmd(10, RCA_ARG, resp), ==, SD_RSP_136);
    g_assert_cmpmem(resp, 16, cid_expected, 16);
    /* A second CMD3 in standby publishes a new RCA. */
    g_assert_cmpint(cmd(3, 0, resp), ==, SD_RSP_48);
    g_assert_cmphex(lduw_be_p(resp), ==, 0x8ace);
    g_assert_cmphex(lduw_be_p(resp + 2), ==, 0x0700);
    rca = 0x8ace;
    g_assert_cmphex(r48(7, RCA_ARG), ==, CS(ST_STBY));
    no_response(7, RCA_ARG); /* the selected card addressed again */
    qdev_device_delete(d);
    g_assert_null(sdbus.card);
}

static void test_init_sdhc(void)
{
    static const uint8_t csd_4g[16] = {0x40, 0x0e, 0x00, 0x32, 0x5b, 0x59, 0x00, 0x00,
                                       0x1f, 0xff, 0x7f, 0x80, 0x0a, 0x40, 0x00, 0xc3};
    static const uint8_t csd_2g[16] = {0x00, 0x26, 0x00, 0x32, 0x5f, 0x5a, 0xe3, 0xff,
                                       0xff, 0xff, 0xdf, 0xff, 0x92, 0xa0, 0x00, 0xb7};
    DeviceState *d = new_card("sdhc", 4 * GiB, NULL, NULL);
    uint8_t csd[16];

    init_card(0xc0ffff00, csd); /* CCS: over 2 GiB */
    g_assert_cmpmem(csd, 16, csd_4g, 16);
    /* CSD 2.0: (C_SIZE + 1) * 512 KiB, C_SIZE 8191. */
    g_assert_cmpuint(csd[0] >> 6, ==, 1);
    g_assert_cmpuint(((uint64_t)(csd[7] & 0x3f) << 16 | csd[8] << 8 | csd[9]) + 1, ==, 8192);
    qdev_device_delete(d);

    /* 2 GiB is the largest standard capacity card: READ_BL_LEN 10, C_SIZE 4095. */
    d = new_card("sd2g", 2 * GiB, NULL, NULL);
    init_card(0x80ffff00, csd);
    g_assert_cmpmem(csd, 16, csd_2g, 16);
    g_assert_cmpuint(csd_v1_capacity(csd), ==, 2 * GiB);
    qdev_device_delete(d);
}

static void test_read_write_sdsc(void)
{
    g_autofree char *path = NULL;
    DeviceState *d = new_card("rw", 64 * MiB, NULL, &path);
    uint8_t csd[16], buf[2048], file[2048];

    init_card(0x80ffff00, csd);
    /* Single block read at a byte address, in odd-sized pieces. */
    g_assert_cmphex(r48(17, 1000), ==, CS(ST_TRAN));
    g_assert_true(sd_card_data_ready(sdbus.card));
    read_data(buf, 100);
    read_data(buf + 100, 412);
    g_assert_false(sd_card_data_ready(sdbus.card));
    g_assert_cmpuint(sd_card_read_data(sdbus.card, buf + 512, 10), ==, 0);
    for (int i = 0; i < 512; i++) {
        g_assert_cmphex(buf[i], ==, pattern_at(1000 + i));
    }
    g_assert_cmphex(status(), ==, CS(ST_TRAN));

    /* Single block write: on the drive when its last byte arrives. */
    memset(buf, 0x5a, 512);
    g_assert_cmphex(r48(24, 4096), ==, CS(ST_TRAN));
    g_assert_true(sd_card_receiving(sdbus.card));
    write_data(buf, 511);
    read_image(path, 4096 + 511, file, 1);
    g_assert_cmphex(file[0], ==, pattern_at(4096 + 511));
    g_assert_cmpuint(sd_card_write_data(sdbus.card, buf, 100), ==, 1);
    g_assert_false(sd_card_receiving(sdbus.card));
    read_image(path, 4096, file, 512);
    g_assert_cmpmem(file, 512, buf, 512);

    /* Multiple block write, stopped by CMD12 in the receive state. */
    for (int i = 0; i < 1536; i++) {
        buf[i] = i * 3;
    }
    g_assert_cmphex(r48(25, 8192), ==, CS(ST_TRAN));
    write_data(buf, 1536);
    g_assert_true(sd_card_receiving(sdbus.card));
    g_assert_cmphex(r48(12, 0), ==, CS(ST_RCV));
    g_assert_false(sd_card_receiving(sdbus.card));
    read_image(path, 8192, file, 1536);
    g_assert_cmpmem(file, 1536, buf, 1536);
    g_assert_cmphex(acmd(22, 0), ==, CS(ST_TRAN) | APP_CMD);
    read_data(file, 4);
    g_assert_cmphex(file[0], ==, 3); /* QEMU stores the count little-endian on x86 */

    /* Multiple block read across blocks, stopped by CMD12 in the send state. */
    g_assert_cmphex(r48(18, 8192), ==, CS(ST_TRAN));
    read_data(file, 1000);
    read_data(file + 1000, 536);
    g_assert_cmpmem(file, 1536, buf, 1536);
    g_assert_true(sd_card_data_ready(sdbus.card));
    g_assert_cmphex(r48(12, 0), ==, CS(ST_DATA));
    g_assert_false(sd_card_data_ready(sdbus.card));
    no_response(12, 0);
    g_assert_cmphex(status(), ==, CS(ST_TRAN) | ILLEGAL_COMMAND);

    /* A partly received block is dropped by CMD12. */
    g_assert_cmphex(r48(24, 16384), ==, CS(ST_TRAN));
    write_data(buf, 100);
    g_assert_cmphex(r48(12, 0), ==, CS(ST_RCV));
    read_image(path, 16384, file, 100);
    g_assert_cmphex(file[0], ==, pattern_at(16384));
    qdev_device_delete(d);
}

static void test_read_write_sdhc(void)
{
    g_autofree char *path = NULL;
    DeviceState *d = new_card("rwhc", 4 * GiB, NULL, &path);
    uint8_t csd[16], buf[1024], file[1024];

    init_card(0xc0ffff00, csd);
    /* Block addresses: block 3 is byte 1536. */
    g_assert_cmphex(r48(17, 3), ==, CS(ST_TRAN));
    read_data(buf, 512);
    for (int i = 0; i < 512; i++) {
        g_assert_cmphex(buf[i], ==, pattern_at(1536 + i));
    }
    memset(buf, 0xc3, sizeof(buf));
    g_assert_cmphex(r48(25, 0x7ffffe), ==, CS(ST_TRAN)); /* the last two blocks */
    write_data(buf, 1024);
    g_assert_cmphex(r48(12, 0), ==, CS(ST_RCV));
    read_image(path, 4 * GiB - 1024, file, 1024);
    g_assert_cmpmem(file, 1024, buf, 1024);
    /* SDHC reads stay 512 bytes whatever CMD16 says; QEMU's writes follow CMD16. */
    g_assert_cmphex(r48(16, 100), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(17, 3), ==, CS(ST_TRAN));
    read_data(buf, 512);
    g_assert_false(sd_card_data_ready(sdbus.card));
    g_assert_cmphex(r48(24, 7), ==, CS(ST_TRAN));
    write_data(buf, 100);
    g_assert_false(sd_card_receiving(sdbus.card));
    /* Class 6 is for standard capacity cards only. */
    no_response(28, 0);
    no_response(30, 0);
    g_assert_cmphex(status(), ==, CS(ST_TRAN) | ILLEGAL_COMMAND);
    qdev_device_delete(d);
}

static void test_out_of_range(void)
{
    g_autofree char *path = NULL;
    DeviceState *d = new_card("oor", 64 * MiB, NULL, &path);
    uint8_t csd[16], buf[1024];

    init_card(0x80ffff00, csd);
    /* Checked at the command: ADDRESS_ERROR, no transfer. */
    g_assert_cmphex(r48(17, 64 * MiB - 511), ==, CS(ST_TRAN) | ADDRESS_ERROR);
    g_assert_false(sd_card_data_ready(sdbus.card));
    g_assert_cmphex(r48(24, 0xffffffff), ==, CS(ST_TRAN) | ADDRESS_ERROR);
    g_assert_false(sd_card_receiving(sdbus.card));
    g_assert_cmphex(status(), ==, CS(ST_TRAN)); /* cleared once reported */

    /* A multiple block read runs off the end: the data stops, the state stays. */
    g_assert_cmphex(r48(18, 64 * MiB - 512), ==, CS(ST_TRAN));
    read_data(buf, 512);
    g_assert_cmpuint(sd_card_read_data(sdbus.card, buf, 512), ==, 0);
    g_assert_false(sd_card_data_ready(sdbus.card));
    g_assert_cmphex(status(), ==, CS(ST_DATA) | ADDRESS_ERROR);
    g_assert_cmphex(r48(12, 0), ==, CS(ST_DATA));

    /* Likewise a multiple block write: the block past the end is refused. */
    memset(buf, 0x11, sizeof(buf));
    g_assert_cmphex(r48(25, 64 * MiB - 512), ==, CS(ST_TRAN));
    g_assert_cmpuint(sd_card_write_data(sdbus.card, buf, 1024), ==, 512);
    g_assert_cmphex(r48(12, 0), ==, CS(ST_RCV) | ADDRESS_ERROR);
    read_image(path, 64 * MiB - 512, buf + 512, 512);
    g_assert_cmpmem(buf, 512, buf + 512, 512);

    /* Erase past the end: OUT_OF_RANGE. */
    g_assert_cmphex(r48(32, 0), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(33, 64 * MiB + 512), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(38, 0), ==, CS(ST_TRAN) | OUT_OF_RANGE);
    qdev_device_delete(d);
}

static void test_block_len(void)
{
    g_autofree char *path = NULL;
    DeviceState *d = new_card("blen", 64 * MiB, NULL, &path);
    uint8_t csd[16], buf[512], file[16];

    init_card(0x80ffff00, csd);
    g_assert_cmphex(r48(16, 513), ==, CS(ST_TRAN) | BLOCK_LEN_ERROR);
    g_assert_cmphex(r48(16, 16), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(17, 3), ==, CS(ST_TRAN));
    g_assert_cmpuint(sd_card_read_data(sdbus.card, buf, 512), ==, 16);
    for (int i = 0; i < 16; i++) {
        g_assert_cmphex(buf[i], ==, pattern_at(3 + i));
    }
    memset(buf, 0xee, 32);
    g_assert_cmphex(r48(25, 100), ==, CS(ST_TRAN));
    write_data(buf, 32);
    g_assert_cmphex(r48(12, 0), ==, CS(ST_RCV));
    read_image(path, 100, file, 16);
    g_assert_cmpmem(file, 16, buf, 16);
    read_image(path, 132, file, 1);
    g_assert_cmphex(file[0], ==, pattern_at(132));
    /* A length of 0 is taken; QEMU then moves a single byte per block. */
    g_assert_cmphex(r48(16, 0), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(17, 5), ==, CS(ST_TRAN));
    g_assert_cmpuint(sd_card_read_data(sdbus.card, buf, 512), ==, 1);
    g_assert_cmphex(buf[0], ==, pattern_at(5));
    g_assert_cmphex(r48(16, 512), ==, CS(ST_TRAN));
    /* CMD16 wants the transfer state. */
    g_assert_cmphex(r48(7, 0), ==, CS(ST_TRAN));
    no_response(16, 512);
    qdev_device_delete(d);
}

/* Illegal commands give no response and ILLEGAL_COMMAND in the next accepted one. */
static void test_illegal(void)
{
    DeviceState *d = new_card("ill", 64 * MiB, NULL, NULL);
    uint8_t csd[16];

    no_response(13, 0);            /* identification mode */
    no_response(55, 0x1234 << 16); /* no RCA yet: another card's CMD55 */
    init_card(0x80ffff00, csd);
    no_response(3, 0);
    g_assert_cmphex(status(), ==, CS(ST_TRAN) | ILLEGAL_COMMAND);
    g_assert_cmphex(status(), ==, CS(ST_TRAN));
    /* QEMU 7.2 takes no CMD4, no CMD5, no CMD23 below spec v3.01, no CMD1 in SD mode. */
    for (int c = 1; c <= 5; c++) {
        if (c != 2 && c != 3) {
            no_response(c, 0);
        }
    }
    no_response(23, 1);
    no_response(19, 0);
    no_response(8, 0x1aa); /* only when idle */
    no_response(2, 0);
    no_response(63, 0);
    g_assert_cmphex(status(), ==, CS(ST_TRAN) | ILLEGAL_COMMAND);
    /* An ACMD in the wrong state, and the security ACMDs. */
    g_assert_cmphex(r48(55, RCA_ARG), ==, CS(ST_TRAN) | APP_CMD);
    no_response(41, 0);
    g_assert_cmphex(status(), ==, CS(ST_TRAN) | ILLEGAL_COMMAND); /* a normal command */
    g_assert_cmphex(r48(55, RCA_ARG), ==, CS(ST_TRAN) | APP_CMD);
    no_response(18, 0);
    /* CMD15 sends the card to the inactive state for good; CMD0 does not bring it back. */
    g_assert_cmphex(r48(7, 0), ==, CS(ST_TRAN) | ILLEGAL_COMMAND);
    no_response(15, RCA_ARG);
    no_response(13, RCA_ARG);
    no_response(0, 0);
    no_response(8, 0x1aa);
    sd_card_reset(sdbus.card); /* the machine's reset does */
    g_assert_cmphex(r48(8, 0x1aa), ==, 0x1aa);
    qdev_device_delete(d);
}

static void test_app_cmd(void)
{
    DeviceState *d = new_card("app", 64 * MiB, NULL, NULL);
    uint8_t csd[16], buf[512] = {0};
    static const uint8_t scr[8] = {0x02, 0x25, 0, 0, 0, 0, 0, 0};

    init_card(0x80ffff00, csd);
    /* APP_CMD shows in the ACMD's answer, and goes with the next normal command. */
    g_assert_cmphex(acmd(13, 0), ==, CS(ST_TRAN) | APP_CMD);
    g_assert_true(sd_card_data_ready(sdbus.card));
    read_data(buf, 64);
    for (int i = 0; i < 64; i++) {
        g_assert_cmphex(buf[i], ==, 0);
    }
    g_assert_cmphex(status(), ==, CS(ST_TRAN));
    g_assert_cmphex(acmd(6, 2), ==, CS(ST_TRAN) | APP_CMD); /* 4-bit bus */
    g_assert_cmphex(acmd(13, 0), ==, CS(ST_TRAN) | APP_CMD);
    read_data(buf, 64);
    g_assert_cmphex(buf[0], ==, 0x80); /* DAT_BUS_WIDTH */
    g_assert_cmphex(acmd(51, 0), ==, CS(ST_TRAN) | APP_CMD);
    read_data(buf, 8);
    g_assert_cmpmem(buf, 8, scr, 8);
    g_assert_false(sd_card_data_ready(sdbus.card));
    g_assert_cmphex(acmd(23, 5), ==, CS(ST_TRAN) | APP_CMD);
    g_assert_cmphex(acmd(42, 1), ==, CS(ST_TRAN) | APP_CMD);
    /* An unknown ACMD is the normal command: APP_CMD is gone from its answer. */
    g_assert_cmphex(acmd(17, 0), ==, CS(ST_TRAN));
    read_data(buf, 512);
    g_assert_cmphex(buf[1], ==, pattern_at(1));
    /* A CMD55 for another RCA goes unanswered and the next command is a normal one. */
    no_response(55, (uint32_t)(rca + 1) << 16);
    g_assert_cmphex(r48(13, RCA_ARG), ==, CS(ST_TRAN));
    g_assert_false(sd_card_data_ready(sdbus.card));
    qdev_device_delete(d);
}

static void test_switch_func(void)
{
    static const uint8_t head[17] = {0x00, 0x01, 0x80, 0x01, 0x80, 0x01, 0x80, 0x01, 0x80,
                                     0x01, 0x80, 0x43, 0x80, 0x03, 0xff, 0xff, 0xf1};
    DeviceState *d = new_card("sw", 64 * MiB, NULL, NULL);
    uint8_t csd[16], buf[64];

    init_card(0x80ffff00, csd);
    g_assert_cmphex(r48(6, 0x80fffff1), ==, CS(ST_TRAN));
    read_data(buf, 64);
    g_assert_cmpmem(buf, 17, head, 17);
    for (int i = 17; i < 64; i++) {
        g_assert_cmphex(buf[i], ==, 0);
    }
    /* From standby too, as QEMU; reading the status leaves the card in transfer. */
    g_assert_cmphex(r48(7, 0), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(6, 0x00fffff0), ==, CS(ST_STBY));
    read_data(buf, 64);
    g_assert_cmphex(buf[16], ==, 0xf0);
    g_assert_cmphex(status(), ==, CS(ST_TRAN));
    qdev_device_delete(d);
}

static void test_erase_write_protect(void)
{
    g_autofree char *path = NULL;
    DeviceState *d = new_card("er", 64 * MiB, NULL, &path);
    uint8_t csd[16], buf[1536], wp[4];

    init_card(0x80ffff00, csd);
    g_assert_cmphex(r48(38, 0), ==, CS(ST_TRAN) | ERASE_SEQ_ERROR);
    g_assert_cmphex(r48(32, 0), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(38, 0), ==, CS(ST_TRAN) | ERASE_SEQ_ERROR);
    /* QEMU 7.2 writes 0xff from the first to the last 512-byte step. */
    g_assert_cmphex(r48(32, 512), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(33, 1024), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(38, 0), ==, CS(ST_TRAN));
    read_image(path, 0, buf, 1536 + 0);
    g_assert_cmphex(buf[511], ==, pattern_at(511));
    for (int i = 512; i < 1536; i++) {
        g_assert_cmphex(buf[i], ==, 0xff);
    }
    read_image(path, 1536, buf, 1);
    g_assert_cmphex(buf[0], ==, pattern_at(1536));
    /* CSD's COPY bit is set by then. */
    g_assert_cmphex(r48(7, 0), ==, CS(ST_TRAN));
    g_assert_cmpint(cmd(9, RCA_ARG, csd), ==, SD_RSP_136);
    g_assert_cmphex(csd[14], ==, 0x40);
    g_assert_cmphex(r48(7, RCA_ARG), ==, CS(ST_STBY));

    /* Write protect group 1 (2 MiB to 4 MiB). */
    g_assert_cmphex(r48(28, 2 * MiB + 5), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(30, 0), ==, CS(ST_TRAN));
    read_data(wp, 4);
    g_assert_cmphex(le32(wp), ==, 2);
    g_assert_cmphex(r48(32, 2 * MiB), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(33, 2 * MiB), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(38, 0), ==, CS(ST_TRAN) | WP_ERASE_SKIP);
    /* CMD25 refuses a protected block; CMD24 reports it but writes, as QEMU. */
    memset(buf, 0x33, 512);
    g_assert_cmphex(r48(25, 2 * MiB), ==, CS(ST_TRAN) | WP_VIOLATION);
    g_assert_cmpuint(sd_card_write_data(sdbus.card, buf, 512), ==, 0);
    g_assert_cmphex(r48(12, 0), ==, CS(ST_RCV) | WP_VIOLATION);
    g_assert_cmphex(r48(24, 2 * MiB), ==, CS(ST_TRAN) | WP_VIOLATION);
    write_data(buf, 512);
    read_image(path, 2 * MiB, buf + 512, 512);
    g_assert_cmpmem(buf, 512, buf + 512, 512);
    g_assert_cmphex(r48(29, 2 * MiB), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(30, 0), ==, CS(ST_TRAN));
    read_data(wp, 4);
    g_assert_cmphex(le32(wp), ==, 0);
    qdev_device_delete(d);
}

static void test_program_and_lock(void)
{
    DeviceState *d = new_card("lock", 64 * MiB, NULL, NULL);
    uint8_t csd[16], buf[16] = {0};
    static const uint8_t set_and_lock[6] = {0x05, 4, 'a', 'b', 'c', 'd'};

    init_card(0x80ffff00, csd);
    /* CMD26 and CMD27 must not change fixed bits. */
    g_assert_cmphex(r48(26, 0), ==, CS(ST_TRAN));
    write_data(buf, 16);
    g_assert_cmphex(status(), ==, CS(ST_TRAN) | CSD_OVERWRITE);
    g_assert_cmphex(r48(27, 0), ==, CS(ST_TRAN));
    memcpy(buf, csd, 16);
    buf[14] = 0x10; /* TMP_WRITE_PROTECT */
    write_data(buf, 16);
    g_assert_cmphex(status(), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(38, 0), ==, CS(ST_TRAN) | WP_VIOLATION);

    /* CMD42: set a password and lock; then only a few classes work. */
    g_assert_cmphex(r48(16, 6), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(42, 0), ==, CS(ST_TRAN));
    write_data(set_and_lock, 6);
    g_assert_cmphex(status(), ==, CS(ST_TRAN) | CARD_IS_LOCKED);
    no_response(17, 0);
    g_assert_cmphex(status(), ==, CS(ST_TRAN) | CARD_IS_LOCKED | ILLEGAL_COMMAND);
    g_assert_cmphex(acmd(42, 0), ==, CS(ST_TRAN) | CARD_IS_LOCKED | APP_CMD);
    g_assert_cmphex(r48(55, RCA_ARG), ==, CS(ST_TRAN) | CARD_IS_LOCKED | APP_CMD);
    no_response(51, 0);
    /* QEMU 7.2 wants more password bytes than it holds, even to unlock. */
    g_assert_cmphex(r48(42, 0), ==, CS(ST_TRAN) | CARD_IS_LOCKED | ILLEGAL_COMMAND);
    write_data("\x00\x04"
               "abcd",
               6);
    g_assert_cmphex(status(), ==, CS(ST_TRAN) | CARD_IS_LOCKED | LOCK_UNLOCK_FAILED);
    no_response(0, 0); /* a reset unlocks */
    g_assert_cmphex(r48(55, 0), ==, CS(ST_IDLE) | APP_CMD);
    qdev_device_delete(d);
}

/* A medium that turns read-only (changed while the card is in) refuses writes. */
static void test_read_only(void)
{
    g_autofree char *path = NULL;
    DeviceState *d = new_card("rochg", 64 * MiB, NULL, &path);
    BlockBackend *blk = blk_by_name("rochg");
    BlockDriverState *bs;
    uint8_t csd[16], buf[512], file[512];
    unsigned changes = changed_count;

    blk_remove_bs(blk);
    blk_dev_change_media_cb(blk, false);
    g_assert_cmpuint(changed_count, ==, changes + 1);
    g_assert_false(sd_card_inserted(sdbus.card));
    no_response(0, 0);
    bs = bdrv_open(path, NULL, 0, &error_abort);
    blk_insert_bs(blk, bs);
    bdrv_unref(bs);
    blk_dev_change_media_cb(blk, true);
    g_assert_cmpuint(changed_count, ==, changes + 2);
    g_assert_true(sd_card_inserted(sdbus.card));
    g_assert_true(sd_card_readonly(sdbus.card));
    init_card(0x80ffff00, csd);
    memset(buf, 0x99, sizeof(buf));
    g_assert_cmphex(r48(24, 0), ==, CS(ST_TRAN));
    g_assert_cmpuint(sd_card_write_data(sdbus.card, buf, 512), ==, 0);
    g_assert_false(sd_card_receiving(sdbus.card));
    g_assert_cmphex(status(), ==, CS(ST_RCV) | WP_VIOLATION);
    g_assert_cmphex(r48(12, 0), ==, CS(ST_RCV));
    read_image(path, 0, file, 512);
    g_assert_cmphex(file[0], ==, pattern_at(0));
    g_assert_cmphex(r48(17, 0), ==, CS(ST_TRAN)); /* reads still work */
    read_data(buf, 512);
    g_assert_cmpmem(buf, 512, file, 512);
    qdev_device_delete(d);
}

static void test_realize(void)
{
    g_autofree char *path3m = make_image(3 * MiB);
    g_autofree char *path1k = make_image(1000);
    g_autofree char *d1 = g_strdup_printf("if=none,id=odd,file=%s,format=raw", path3m);
    g_autofree char *d2 = g_strdup_printf("if=none,id=tiny,file=%s,format=raw", path1k);
    g_autofree char *d3 = g_strdup_printf("if=none,id=rod,file=%s,format=raw,readonly=on", path1k);
    char *err;
    DeviceState *d;
    uint8_t resp[16];

    g_assert_null(add_card("sd-card,spec_version=4", &err));
    g_assert_cmpstr(err, ==, "Invalid SD card Spec version: 4|");
    g_free(err);
    g_assert_null(add_card("sd-card,spec_version=0", &err));
    g_assert_cmpstr(err, ==, "Invalid SD card Spec version: 0|");
    g_free(err);
    new_drive(d1);
    g_assert_null(add_card("sd-card,drive=odd", &err));
    g_assert_cmpstr(err, ==,
                    "Invalid SD card size: 3 MiB|SD card size has to be a power of 2, e.g. 4 "
                    "MiB.\nYou can resize disk images with 'qemu-img resize <imagefile> "
                    "<new-size>'\n(note that this will lose data if you make the image smaller "
                    "than it currently is).\n");
    g_free(err);
    /* QEMU refuses a read-only drive outright, even an empty one. */
    new_drive(d3);
    g_assert_null(add_card("sd-card,drive=rod", &err));
    g_assert_cmpstr(err, ==, "Cannot use read-only drive as SD card|");
    g_free(err);
    new_drive("if=none,id=roempty,readonly=on");
    g_assert_null(add_card("sd-card,drive=roempty", &err));
    g_assert_cmpstr(err, ==, "Cannot use read-only drive as SD card|");
    g_free(err);
    /* Sizes count in whole sectors: 1000 bytes is 1024, a power of 2. */
    new_drive(d2);
    d = add_card("sd-card,drive=tiny", NULL);
    g_assert_true(sd_card_inserted(sdbus.card));
    qdev_device_delete(d);

    /* Without a drive: a card that is not inserted and answers nothing. */
    changed_count = 0;
    d = add_card("sd-card", NULL);
    g_assert_nonnull(sdbus.card);
    g_assert_cmpuint(changed_count, ==, 1);
    g_assert_false(sd_card_inserted(sdbus.card));
    g_assert_false(sd_card_readonly(sdbus.card));
    g_assert_cmpint(cmd(8, 0x1aa, resp), ==, SD_RSP_NONE);
    g_assert_false(sd_card_data_ready(sdbus.card));
    qdev_device_delete(d);
    g_assert_cmpuint(changed_count, ==, 2);
    g_assert_null(sdbus.card);
}

/* Spec v1.10 has no CMD8; v3.01 adds CMD19 and CMD23. */
static void test_spec_versions(void)
{
    DeviceState *d = new_card("v1", 64 * MiB, ",spec_version=1", NULL);
    uint8_t csd[16], buf[1024];

    no_response(0, 0);
    no_response(8, 0x1aa);
    qdev_device_delete(d);

    d = new_card("v3", 64 * MiB, ",spec_version=3", NULL);
    init_card(0x80ffff00, csd);
    g_assert_cmphex(acmd(51, 0), ==, CS(ST_TRAN) | APP_CMD);
    read_data(buf, 8);
    g_assert_cmphex(buf[0], ==, 0x02);
    g_assert_cmphex(buf[2], ==, 0x80);
    g_assert_cmphex(r48(19, 0), ==, CS(ST_TRAN));
    read_data(buf, 64);
    g_assert_cmphex(buf[0], ==, 0xff);
    g_assert_cmphex(buf[63], ==, 0xde);
    g_assert_false(sd_card_data_ready(sdbus.card));
    /* CMD23's count ends a CMD18 by itself. */
    g_assert_cmphex(r48(23, 2), ==, CS(ST_TRAN));
    g_assert_cmphex(r48(18, 0), ==, CS(ST_TRAN));
    read_data(buf, 1024);
    g_assert_false(sd_card_data_ready(sdbus.card));
    g_assert_cmphex(status(), ==, CS(ST_TRAN));
    qdev_device_delete(d);
}

/* An enquiry ACMD41 powers the card up 0.5 ms later (QEMU_CLOCK_VIRTUAL). */
static void test_power_up_delay(void)
{
    DeviceState *d = new_card("pw", 64 * MiB, NULL, NULL);
    uint8_t resp[16];

    clock_set_virtual_source(fake_clock);
    fake_clock_ns = 1000;
    no_response(0, 0);
    g_assert_cmphex(r48(55, 0), ==, CS(ST_IDLE) | APP_CMD);
    g_assert_cmphex(r48(41, 0), ==, 0x00ffff00);
    fake_clock_ns += 499999;
    g_assert_cmphex(r48(55, 0), ==, CS(ST_IDLE) | APP_CMD);
    g_assert_cmphex(r48(41, 0), ==, 0x00ffff00);
    fake_clock_ns += 1;
    g_assert_cmphex(r48(55, 0), ==, CS(ST_IDLE) | APP_CMD);
    g_assert_cmphex(r48(41, 0), ==, 0x80ffff00);
    no_response(2, 0); /* powered up, but an enquiry leaves it idle */
    g_assert_cmphex(r48(55, 0), ==, CS(ST_IDLE) | APP_CMD | ILLEGAL_COMMAND);
    g_assert_cmphex(r48(41, 0x00300000), ==, 0x80ffff00);
    g_assert_cmpint(cmd(2, 0, resp), ==, SD_RSP_136);
    clock_set_virtual_source(NULL);
    qdev_device_delete(d);
}

/* An I/O error sets ERROR and ends a single block transfer. */
static void test_io_error(void)
{
    g_autofree char *img = make_image(64 * 1024);
    g_autofree char *rules = NULL;
    const char *conf = "[inject-error]\nevent = \"read_aio\"\nerrno = \"5\"\nsector = \"8\"\n\n"
                       "[inject-error]\nevent = \"write_aio\"\nerrno = \"28\"\nsector = \"16\"\n";
    int fd = g_file_open_tmp("sd-blkdebug-XXXXXX.conf", &rules, NULL);
    g_autofree char *dopts = NULL;
    DeviceState *d;
    uint8_t csd[16], buf[1024];

    g_assert_cmpint(write(fd, conf, strlen(conf)), ==, (ssize_t)strlen(conf));
    close(fd);
    dopts = g_strdup_printf("if=none,id=ioe,file=blkdebug:%s:%s,format=raw", rules, img);
    new_drive(dopts);
    unlink(rules);
    d = add_card("sd-card,drive=ioe", NULL);
    init_card(0x80ffff00, csd);
    g_assert_cmphex(r48(17, 8 * 512), ==, CS(ST_TRAN));
    g_assert_cmpuint(sd_card_read_data(sdbus.card, buf, 512), ==, 0);
    g_assert_cmphex(status(), ==, CS(ST_TRAN) | ERROR);
    g_assert_cmphex(r48(18, 7 * 512), ==, CS(ST_TRAN));
    g_assert_cmpuint(sd_card_read_data(sdbus.card, buf, 1024), ==, 512);
    g_assert_false(sd_card_data_ready(sdbus.card));
    g_assert_cmphex(r48(12, 0), ==, CS(ST_DATA) | ERROR);
    g_assert_cmphex(r48(24, 16 * 512), ==, CS(ST_TRAN));
    write_data(buf, 512);
    g_assert_cmphex(status(), ==, CS(ST_TRAN) | ERROR);
    g_assert_cmphex(acmd(22, 0), ==, CS(ST_TRAN) | APP_CMD);
    read_data(buf, 4);
    g_assert_cmphex(le32(buf), ==, 0);
    qdev_device_delete(d);
}

/* The init sequence without checks, wherever the card is: the hostile loop's way on. */
static uint16_t quiet_init(void)
{
    uint8_t resp[16];
    uint16_t new_rca;

    cmd(0, 0, resp);
    cmd(8, 0x1aa, resp);
    cmd(55, 0, resp);
    cmd(41, 0x40ff8000, resp);
    cmd(2, 0, resp);
    if (cmd(3, 0, resp) != SD_RSP_48) {
        return 0;
    }
    new_rca = lduw_be_p(resp);
    cmd(7, (uint32_t)new_rca << 16, resp);
    return new_rca;
}

/* Random commands, arguments and data lengths from a fixed seed: no crash, no overrun. */
static void hostile_run(const char *id, uint64_t size, guint32 seed, int steps)
{
    static const uint8_t useful[] = {0,  2,  3,  6,  7,  8,  9,  10, 12, 13, 15, 16,
                                     17, 18, 19, 23, 24, 25, 26, 27, 28, 29, 30, 32,
                                     33, 38, 41, 42, 51, 55, 55, 55, 56, 13, 22, 6};
    DeviceState *d = new_card(id, size, ",spec_version=3", NULL);
    GRand *rand = g_rand_new_with_seed(seed);
    uint8_t buf[4096 + 64], resp[16];
    uint16_t card_rca = 0;
    size_t moved_in = 0, moved_out = 0;

    for (int i = 0; i < steps; i++) {
        uint32_t pick = g_rand_int_range(rand, 0, 100);
        uint32_t arg = g_rand_int(rand);
        size_t len = g_rand_int_range(rand, 0, 4097);
        uint8_t c = pick < 70 ? useful[g_rand_int_range(rand, 0, sizeof(useful))]
                              : g_rand_int_range(rand, 0, 256);

        switch (g_rand_int_range(rand, 0, 4)) {
        case 0:
            arg = (uint32_t)card_rca << 16 | (arg & 0xff);
            break;
        case 1:
            arg &= 0xfff; /* small addresses and block counts: erase stays small */
            break;
        }
        if (c == 33 || c == 32) {
            arg &= size > 2 * GiB ? 0xfff : 0x3fffff;
        }
        memset(buf + len, 0x5c, sizeof(buf) - len);
        if (i % 500 == 0 || pick < 2) {
            card_rca = quiet_init();
        } else if (pick < 60) {
            if (cmd(c, arg, resp) == SD_RSP_48 && c == 3) {
                card_rca = lduw_be_p(resp);
            }
        } else if (pick < 80) {
            size_t n = sd_card_read_data(sdbus.card, buf, len);

            g_assert_cmpuint(n, <=, len);
            moved_out += n;
        } else if (pick < 98) {
            size_t n = sd_card_write_data(sdbus.card, buf, len);

            g_assert_cmpuint(n, <=, len);
            moved_in += n;
        } else {
            sd_card_reset(sdbus.card);
        }
        for (size_t j = len; j < sizeof(buf); j++) {
            g_assert_cmphex(buf[j], ==, 0x5c);
        }
        sd_card_data_ready(sdbus.card);
        sd_card_receiving(sdbus.card);
    }
    if (g_test_verbose()) {
        g_test_message("%s: %zu bytes read, %zu written", id, moved_out, moved_in);
    }
    g_assert_cmpuint(moved_out, >, 0); /* the sequence does reach the data phases */
    g_assert_cmpuint(moved_in, >, 0);
    g_rand_free(rand);
    qdev_device_delete(d);
}

/* "-m slow" runs longer sequences. */
static void test_hostile(void)
{
    int scale = g_test_slow() ? 50 : 1;

    hostile_run("h1", 64 * MiB, 0x5dca7d, 4000 * scale);
    hostile_run("h2", 4 * GiB, 0x1234, 3000 * scale);
    hostile_run("h3", 1 * MiB, 0xbeef, 3000 * scale);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    main_loop_init();
    sdbus.changed = bus_changed;
    qbus_new(QBUS_TYPE_SD, "sd-bus", NULL, 1, &sdbus);
    images = g_ptr_array_new_with_free_func(g_free);
    g_test_add_func("/sd-card/init-sdsc", test_init_sdsc);
    g_test_add_func("/sd-card/init-sdhc", test_init_sdhc);
    g_test_add_func("/sd-card/read-write-sdsc", test_read_write_sdsc);
    g_test_add_func("/sd-card/read-write-sdhc", test_read_write_sdhc);
    g_test_add_func("/sd-card/out-of-range", test_out_of_range);
    g_test_add_func("/sd-card/block-len", test_block_len);
    g_test_add_func("/sd-card/illegal", test_illegal);
    g_test_add_func("/sd-card/app-cmd", test_app_cmd);
    g_test_add_func("/sd-card/switch-func", test_switch_func);
    g_test_add_func("/sd-card/erase-write-protect", test_erase_write_protect);
    g_test_add_func("/sd-card/program-and-lock", test_program_and_lock);
    g_test_add_func("/sd-card/read-only", test_read_only);
    g_test_add_func("/sd-card/realize", test_realize);
    g_test_add_func("/sd-card/spec-versions", test_spec_versions);
    g_test_add_func("/sd-card/power-up-delay", test_power_up_delay);
    g_test_add_func("/sd-card/io-error", test_io_error);
    g_test_add_func("/sd-card/hostile", test_hostile);
    ret = g_test_run();
    for (guint i = 0; i < images->len; i++) {
        unlink(images->pdata[i]);
    }
    g_ptr_array_free(images, true);
    return ret;
}
