/*
 * The PIIX3 IDE function's ATAPI CD-ROM (secondary master) driven through its ports, the
 * same way on minivmm and on QEMU (QTEST_QEMU=1), with the same assertions: IDENTIFY
 * PACKET, INQUIRY, READ CAPACITY, READ(10)/(12) in PIO and DMA, sense data, READ TOC,
 * MODE SENSE, GET CONFIGURATION, event status, tray and lock, SEEK, SET CD SPEED,
 * MECHANISM STATUS, READ CD (user data and raw sectors), READ DVD STRUCTURE on a CD and on
 * a DVD-sized image. After every command the status register and the IRQ line are checked.
 * Deliberate differences from QEMU are marked where they are asserted.
 */
#include <string.h>
#include <unistd.h>
#include "libqpci.h"
#include "libqide.h"

static IDEChan *cd_start(bool medium)
{
    return ide_start("-m 128 -drive if=ide,index=2,media=cdrom,format=raw,file=@IMG@",
                     medium ? CD_SECTORS : 0, CD_SECTOR, true);
}

static IDEChan *cd_start_empty(void)
{
    return ide_start("-m 128 -drive if=ide,index=2,media=cdrom", 0, CD_SECTOR, true);
}

/* Send a packet; returns after the command phase with the first DRQ block (or the end). */
static void atapi_send(IDEChan *c, const uint8_t *cdb, uint16_t bcl, bool dma)
{
    uint8_t packet[12] = {0};

    memcpy(packet, cdb, 12);
    ide_outb(c, REG_DEVICE, 0xa0);
    ide_outb(c, REG_FEATURE, dma ? 1 : 0);
    ide_outb(c, REG_LCYL, bcl);
    ide_outb(c, REG_HCYL, bcl >> 8);
    ide_outb(c, REG_COMMAND, CMD_PACKET);
    g_assert_cmphex(ide_wait(c), ==, DRDY | DSC | DRQ);
    g_assert_false(ide_irq(c));
    g_assert_cmphex(ide_inb(c, REG_NSECTOR), ==, 1); /* CoD: command out */
    ide_pio_out(c, packet, 12);
}

/* Read a PIO reply of len bytes in byte-count-limited blocks; check the end of command. */
static void atapi_pio_reply(IDEChan *c, uint8_t *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        size_t n;

        ide_check_done(c, DRDY | DSC | DRQ, true);
        g_assert_cmphex(ide_inb(c, REG_NSECTOR), ==, 2); /* IO: data in */
        n = ide_inb(c, REG_LCYL) | ide_inb(c, REG_HCYL) << 8;
        g_assert_cmpuint(n, >, 0);
        g_assert_cmpuint(done + n, <=, len);
        ide_pio_in(c, buf + done, n);
        done += n;
    }
    ide_check_done(c, DRDY | DSC, true);
    g_assert_cmphex(ide_inb(c, REG_NSECTOR), ==, 3);
}

static void atapi_check_ok(IDEChan *c)
{
    ide_check_done(c, DRDY | DSC, true);
    g_assert_cmphex(ide_inb(c, REG_NSECTOR), ==, 3);
    g_assert_cmphex(ide_inb(c, REG_ERROR), ==, 0);
}

static void atapi_check_error(IDEChan *c, uint8_t key, uint8_t asc)
{
    static const uint8_t request_sense[12] = {0x03, 0, 0, 0, 18};
    uint8_t sense[18];

    ide_check_done(c, DRDY | ERR, true);
    g_assert_cmphex(ide_inb(c, REG_ERROR), ==, key << 4);
    atapi_send(c, request_sense, 18, false);
    atapi_pio_reply(c, sense, 18);
    g_assert_cmphex(sense[0], ==, 0xf0);
    g_assert_cmphex(sense[2], ==, key);
    g_assert_cmphex(sense[7], ==, 10);
    g_assert_cmphex(sense[12], ==, asc);
}

static void test_atapi_identify(void)
{
    IDEChan *c = cd_start(true);
    uint16_t id[256];
    static const struct {
        int word;
        uint16_t val;
    } expected[] = {
        {0, 0x85c0}, {20, 3},    {21, 512}, {22, 4},  {48, 1},    {49, 0x0300},
        {53, 7},     {62, 7},    {63, 7},   {64, 3},  {65, 0xb4}, {66, 0xb4},
        {67, 0x12c}, {68, 0xb4}, {71, 30},  {72, 30}, {80, 0x1e}, {88, 0x203f},
    };

    /* Packet-device signature; IDENTIFY DEVICE is aborted and leaves it in place. */
    g_assert_cmphex(ide_inb(c, REG_LCYL), ==, 0x14);
    g_assert_cmphex(ide_inb(c, REG_HCYL), ==, 0xeb);
    ide_outb(c, REG_DEVICE, 0xa0);
    ide_outb(c, REG_COMMAND, CMD_IDENTIFY);
    ide_check_done(c, DRDY | ERR, true);
    g_assert_cmphex(ide_inb(c, REG_ERROR), ==, ABRT);
    g_assert_cmphex(ide_inb(c, REG_LCYL), ==, 0x14);
    g_assert_cmphex(ide_inb(c, REG_HCYL), ==, 0xeb);
    ide_outb(c, REG_COMMAND, CMD_IDENTIFY_PACKET);
    ide_check_done(c, DRDY | DSC | DRQ, true);
    ide_pio_in(c, id, 512);
    g_assert_cmphex(ide_altstatus(c), ==, DRDY | DSC);
    for (size_t i = 0; i < G_N_ELEMENTS(expected); i++) {
        uint16_t w = GUINT16_FROM_LE(id[expected[i].word]);
        if (w != expected[i].val) {
            g_error("IDENTIFY PACKET word %d: %#x, expected %#x", expected[i].word, w,
                    expected[i].val);
        }
    }
    for (int i = 0; i < 256; i++) {
        id[i] = GUINT16_FROM_LE(id[i]);
    }
    check_ata_string(id + 10, 10, "QM00003");
    check_ata_string(id + 27, 20, "QEMU DVD-ROM");
    ide_stop(c);
}

static void test_atapi_inquiry_capacity(void)
{
    IDEChan *c = cd_start(true);
    static const uint8_t tur[12] = {0x00};
    static const uint8_t inquiry[12] = {0x12, 0, 0, 0, 96};
    static const uint8_t vpd0[12] = {0x12, 1, 0, 0, 96};
    static const uint8_t capacity[12] = {0x25};
    uint8_t buf[96];

    atapi_send(c, tur, 0, false);
    atapi_check_ok(c);
    atapi_send(c, inquiry, 96, false);
    atapi_pio_reply(c, buf, 36);
    g_assert_cmpmem(buf, 8, "\x05\x80\x00\x21\x1f\x00\x00\x00", 8);
    g_assert_cmpmem(buf + 8, 28, "QEMU    QEMU DVD-ROM    2.5+", 28);
    atapi_send(c, vpd0, 96, false);
    atapi_pio_reply(c, buf, 6);
    g_assert_cmpmem(buf, 6, "\x05\x00\x00\x02\x00\x83", 6);
    atapi_send(c, capacity, 8, false);
    atapi_pio_reply(c, buf, 8);
    g_assert_cmpmem(buf, 8, "\x00\x00\x01\x2b\x00\x00\x08\x00", 8); /* 299, 2048 */
    ide_stop(c);
}

static void test_atapi_read_pio(void)
{
    IDEChan *c = cd_start(true);
    static const uint8_t read10[12] = {0x28, 0, 0, 0, 0, 3, 0, 0, 2};
    static const uint8_t read12[12] = {0xa8, 0, 0, 0, 0, 10, 0, 0, 0, 1};
    static const uint8_t past_end[12] = {0x28, 0, 0, 0, 0x01, 0x2b, 0, 0, 2};
    g_autofree uint8_t *buf = g_malloc(2 * CD_SECTOR);

    /* Byte count limit 2048: one sector per DRQ block. */
    atapi_send(c, read10, CD_SECTOR, false);
    atapi_pio_reply(c, buf, 2 * CD_SECTOR);
    check_pattern(buf, 3, 2, CD_SECTOR, 0x11);
    /* A limit of 1000 splits each sector into 1000 + 1000 + 48. */
    atapi_send(c, read12, 1000, false);
    ide_check_done(c, DRDY | DSC | DRQ, true);
    g_assert_cmpuint(ide_inb(c, REG_LCYL) | ide_inb(c, REG_HCYL) << 8, ==, 1000);
    ide_pio_in(c, buf, 1000);
    ide_check_done(c, DRDY | DSC | DRQ, true);
    ide_pio_in(c, buf + 1000, 1000);
    ide_check_done(c, DRDY | DSC | DRQ, true);
    g_assert_cmpuint(ide_inb(c, REG_LCYL) | ide_inb(c, REG_HCYL) << 8, ==, 48);
    ide_pio_in(c, buf + 2000, 48);
    ide_check_done(c, DRDY | DSC, true);
    check_pattern(buf, 10, 1, CD_SECTOR, 0x11);
    /* Past the end. */
    atapi_send(c, past_end, CD_SECTOR, false);
    atapi_check_error(c, 5, 0x21);
    ide_stop(c);
}

static void test_atapi_read_dma(void)
{
    IDEChan *c = cd_start(true);
    static const uint8_t read10[12] = {0x28, 0, 0, 0, 0, 7, 0, 0, 3};
    static const uint8_t inquiry[12] = {0x12, 0, 0, 0, 36};
    PRD prds[] = {{BUF_ADDR, 4096}, {BUF2_ADDR, 0x80000000u | 8192}};
    g_autofree uint8_t *buf = g_malloc(3 * CD_SECTOR);

    bm_map(c);
    bm_write_prds(c, prds, 2);
    qtest_memset(c->qts, BUF_ADDR, 0, 4096);
    qtest_memset(c->qts, BUF2_ADDR, 0, 4096);
    atapi_send(c, read10, 0, true);
    qtest_outb(c->qts, c->bm, 0);
    qtest_outb(c->qts, c->bm + 2, BM_STS_INTR);
    qtest_outl(c->qts, c->bm + 4, PRD_ADDR);
    qtest_outb(c->qts, c->bm, BM_CMD_START | BM_CMD_TO_MEM);
    g_assert_cmphex(ide_wait(c), ==, DRDY | DSC);
    g_assert_true(ide_irq(c));
    g_assert_cmphex(qtest_inb(c->qts, c->bm + 2), ==, BM_STS_INTR);
    qtest_outb(c->qts, c->bm, 0);
    atapi_check_ok(c);
    qtest_memread(c->qts, BUF_ADDR, buf, 4096);
    qtest_memread(c->qts, BUF2_ADDR, buf + 4096, CD_SECTOR);
    check_pattern(buf, 7, 3, CD_SECTOR, 0x11);
    /* A reply by DMA. */
    atapi_send(c, inquiry, 0, true);
    qtest_outb(c->qts, c->bm + 2, BM_STS_INTR);
    qtest_outl(c->qts, c->bm + 4, PRD_ADDR);
    qtest_outb(c->qts, c->bm, BM_CMD_START | BM_CMD_TO_MEM);
    g_assert_cmphex(ide_wait(c), ==, DRDY | DSC);
    qtest_outb(c->qts, c->bm, 0);
    atapi_check_ok(c);
    qtest_memread(c->qts, BUF_ADDR, buf, 36);
    g_assert_cmpmem(buf + 8, 20, "QEMU    QEMU DVD-ROM", 20);
    ide_stop(c);
}

static void test_atapi_toc_config_mode(void)
{
    IDEChan *c = cd_start(true);
    static const uint8_t toc0[12] = {0x43, 0, 0, 0, 0, 0, 0, 0, 100, 0x00};
    static const uint8_t toc0_msf[12] = {0x43, 2, 0, 0, 0, 0, 0, 0, 100, 0x00};
    static const uint8_t toc1[12] = {0x43, 0, 0, 0, 0, 0, 0, 0, 100, 0x40};
    static const uint8_t toc2[12] = {0x43, 0, 0, 0, 0, 0, 1, 0, 100, 0x80};
    static const uint8_t config[12] = {0x46, 0, 0, 0, 0, 0, 0, 0, 100};
    static const uint8_t mode_caps[12] = {0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 100};
    static const uint8_t mode_err[12] = {0x5a, 0, 0x01, 0, 0, 0, 0, 0, 100};
    static const uint8_t mode_saved[12] = {0x5a, 0, 0xc1, 0, 0, 0, 0, 0, 100};
    static const uint8_t disc_info[12] = {0x51, 0, 0, 0, 0, 0, 0, 0, 100};
    uint8_t buf[100];

    atapi_send(c, toc0, 0xfffe, false);
    atapi_pio_reply(c, buf, 20);
    g_assert_cmpmem(buf, 20,
                    "\x00\x12\x01\x01\x00\x14\x01\x00\x00\x00\x00\x00"
                    "\x00\x16\xaa\x00\x00\x00\x01\x2c",
                    20);
    atapi_send(c, toc0_msf, 0xfffe, false);
    atapi_pio_reply(c, buf, 20);
    g_assert_cmpmem(buf + 8, 12, "\x00\x00\x02\x00\x00\x16\xaa\x00\x00\x00\x06\x00", 12);
    atapi_send(c, toc1, 0xfffe, false);
    atapi_pio_reply(c, buf, 12);
    g_assert_cmpmem(buf, 12, "\x00\x0a\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00", 12);
    atapi_send(c, toc2, 0xfffe, false);
    atapi_pio_reply(c, buf, 48);
    g_assert_cmpmem(buf, 4, "\x00\x2e\x01\x01", 4);
    g_assert_cmpmem(buf + 26, 11, "\x01\x14\x00\xa2\x00\x00\x00\x00\x00\x01\x2c", 11);
    atapi_send(c, config, 0xfffe, false);
    atapi_pio_reply(c, buf, 20);
    g_assert_cmpmem(buf, 20,
                    "\x00\x00\x00\x10\x00\x00\x00\x08\x00\x00\x03\x08"
                    "\x00\x10\x00\x00\x00\x08\x01\x00",
                    20);
    atapi_send(c, mode_caps, 0xfffe, false);
    atapi_pio_reply(c, buf, 30);
    g_assert_cmpmem(buf, 30,
                    "\x00\x1c\x70\x00\x00\x00\x00\x00\x2a\x14\x3b\x00\x71\x60"
                    "\x29\x00\x02\xc0\x00\x02\x02\x00\x02\xc0\x00\x00\x00\x00"
                    "\x00\x00",
                    30);
    atapi_send(c, mode_err, 0xfffe, false);
    atapi_pio_reply(c, buf, 16);
    g_assert_cmpmem(buf, 16,
                    "\x00\x0e\x70\x00\x00\x00\x00\x00\x01\x06\x00\x05\x00\x00"
                    "\x00\x00",
                    16);
    atapi_send(c, mode_saved, 0xfffe, false);
    atapi_check_error(c, 5, 0x39);
    atapi_send(c, disc_info, 0xfffe, false);
    atapi_pio_reply(c, buf, 34);
    g_assert_cmpmem(buf, 8, "\x00\x20\x0e\x01\x01\x01\x01\x20", 8);
    ide_stop(c);
}

static void gesn(IDEChan *c, uint8_t *event, uint8_t *media)
{
    static const uint8_t cdb[12] = {0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8};
    uint8_t buf[8];

    atapi_send(c, cdb, 8, false);
    atapi_pio_reply(c, buf, 8);
    g_assert_cmpmem(buf, 4, "\x00\x04\x04\x10", 4);
    *event = buf[4];
    *media = buf[5];
}

static void test_atapi_tray(void)
{
    IDEChan *c = cd_start(true);
    static const uint8_t tur[12] = {0x00};
    static const uint8_t lock[12] = {0x1e, 0, 0, 0, 1};
    static const uint8_t unlock[12] = {0x1e, 0, 0, 0, 0};
    static const uint8_t eject[12] = {0x1b, 0, 0, 0, 2};
    static const uint8_t load[12] = {0x1b, 0, 0, 0, 3};
    static const uint8_t mode_caps[12] = {0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 30};
    static const uint8_t gesn_async[12] = {0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8};
    uint8_t event, media, buf[30];

    gesn(c, &event, &media);
    g_assert_cmpuint(event, ==, 0);
    g_assert_cmpuint(media, ==, 2); /* medium present */
    atapi_send(c, gesn_async, 8, false);
    atapi_check_error(c, 5, 0x24);
    /* Locked: the eject is refused and MODE SENSE shows the lock. */
    atapi_send(c, lock, 0, false);
    atapi_check_ok(c);
    atapi_send(c, mode_caps, 30, false);
    atapi_pio_reply(c, buf, 30);
    g_assert_cmphex(buf[14], ==, 0x2b);
    atapi_send(c, eject, 0, false);
    atapi_check_error(c, 2, 0x53);
    /* Unlocked: the tray opens, the medium is gone for the guest. */
    atapi_send(c, unlock, 0, false);
    atapi_check_ok(c);
    atapi_send(c, eject, 0, false);
    atapi_check_ok(c);
    gesn(c, &event, &media);
    g_assert_cmpuint(media, ==, 1); /* tray open */
    atapi_send(c, tur, 0, false);
    atapi_check_error(c, 2, 0x3a);
    atapi_send(c, load, 0, false);
    atapi_check_ok(c);
    atapi_send(c, tur, 0, false);
    atapi_check_ok(c);
    ide_stop(c);
}

static void test_atapi_empty(void)
{
    IDEChan *c = cd_start_empty();
    static const uint8_t tur[12] = {0x00};
    static const uint8_t read10[12] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t bad_opcode[12] = {0xff};
    static const uint8_t config[12] = {0x46, 0, 0, 0, 0, 0, 0, 0, 16};
    uint8_t buf[16], event, media;

    atapi_send(c, tur, 0, false);
    atapi_check_error(c, 2, 0x3a);
    atapi_send(c, read10, CD_SECTOR, false);
    atapi_check_error(c, 2, 0x3a);
    atapi_send(c, bad_opcode, CD_SECTOR, false);
    atapi_check_error(c, 5, 0x20);
    atapi_send(c, config, 0xfffe, false);
    atapi_pio_reply(c, buf, 16);
    g_assert_cmpmem(buf, 8, "\x00\x00\x00\x10\x00\x00\x00\x00", 8); /* no current profile */
    gesn(c, &event, &media);
    g_assert_cmpuint(media, ==, 0);
    /* A data command over PIO with a zero byte count limit is aborted at the ATA level. */
    atapi_send(c, config, 0, false);
    g_assert_cmphex(ide_wait(c), ==, DRDY | ERR);
    g_assert_cmphex(ide_inb(c, REG_ERROR), ==, ABRT);
    ide_stop(c);
}

static void test_atapi_seek_speed_mechanism(void)
{
    IDEChan *c = cd_start(true);
    static const uint8_t seek[12] = {0x2b, 0, 0, 0, 0, 10};
    static const uint8_t seek_end[12] = {0x2b, 0, 0, 0, 0x01, 0x2c};
    static const uint8_t set_speed[12] = {0xbb, 0, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t mechanism[12] = {0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 100};
    uint8_t buf[8];

    atapi_send(c, seek, 0, false);
    atapi_check_ok(c);
    atapi_send(c, seek_end, 0, false); /* LBA 300 of 300 */
    atapi_check_error(c, 5, 0x21);
    atapi_send(c, set_speed, 0, false);
    atapi_check_ok(c);
    atapi_send(c, mechanism, 0xfffe, false);
    atapi_pio_reply(c, buf, 8);
    g_assert_cmpmem(buf, 8, "\x00\x00\x00\x00\x00\x01\x00\x00", 8);
    ide_stop(c);
}

/* READ CD: user data, raw 2352-byte sectors (sync, MSF header, mode 1, no EDC/ECC), no
 * data, and a sector type the drive refuses. */
static void test_atapi_read_cd(void)
{
    IDEChan *c = cd_start(true);
    static const uint8_t user[12] = {0xbe, 0, 0, 0, 0, 3, 0, 0, 2, 0x10};
    static const uint8_t raw[12] = {0xbe, 0, 0, 0, 0, 4, 0, 0, 2, 0xf8};
    static const uint8_t none[12] = {0xbe, 0, 0, 0, 0, 4, 0, 0, 2, 0x00};
    static const uint8_t c2[12] = {0xbe, 0, 0, 0, 0, 4, 0, 0, 2, 0x20};
    static const uint8_t past_end[12] = {0xbe, 0, 0, 0, 0x01, 0x2b, 0, 0, 2, 0x10};
    static const uint8_t zero[288];
    g_autofree uint8_t *buf = g_malloc(2 * 2352);

    atapi_send(c, user, 0xfffe, false);
    atapi_pio_reply(c, buf, 2 * CD_SECTOR);
    check_pattern(buf, 3, 2, CD_SECTOR, 0x11);
    atapi_send(c, raw, 0xfffe, false);
    atapi_pio_reply(c, buf, 2 * 2352);
    for (unsigned s = 0; s < 2; s++) {
        const uint8_t *p = buf + s * 2352;
        uint8_t head[16] = {0};

        memset(head + 1, 0xff, 10); /* sync */
        head[13] = 2;               /* MSF of LBA + 150: 00:02:04 for LBA 4 */
        head[14] = 4 + s;
        head[15] = 1; /* mode 1 */
        g_assert_cmpmem(p, 16, head, 16);
        check_pattern(p + 16, 4 + s, 1, CD_SECTOR, 0x11);
        g_assert_cmpmem(p + 16 + CD_SECTOR, 288, zero, 288);
    }
    atapi_send(c, none, 0xfffe, false);
    atapi_check_ok(c);
    atapi_send(c, c2, 0xfffe, false);
    atapi_check_error(c, 5, 0x24);
    atapi_send(c, past_end, 0xfffe, false);
    atapi_check_error(c, 5, 0x21);
    ide_stop(c);
}

/* A 2048-byte-sector image over a CD's largest capacity is a DVD: 400000 sectors (sparse). */
#define DVD_SECTORS 400000

static void dvd_structure(IDEChan *c, uint8_t media, uint8_t format, uint8_t layer,
                          uint16_t max_len)
{
    uint8_t cdb[12] = {0xad, media, 0, 0, 0, 0, layer, format, max_len >> 8, max_len};

    atapi_send(c, cdb, 0xfffe, false);
}

static void test_atapi_dvd_structure_cd(void)
{
    IDEChan *c = cd_start(true);
    static const uint8_t mode_sense6[12] = {0x1a, 0, 0x2a, 0, 30};
    uint8_t buf[20];

    /* DVD formats on a CD: INCOMPATIBLE MEDIUM FORMAT; the format list is answered. */
    dvd_structure(c, 0, 0x00, 0, 2052);
    atapi_check_error(c, 5, 0x30);
    dvd_structure(c, 0, 0x80, 0, 2052);
    atapi_check_error(c, 5, 0x30);
    dvd_structure(c, 0, 0xff, 0, 100);
    atapi_pio_reply(c, buf, 20);
    g_assert_cmpmem(buf, 20,
                    "\x00\x12\x00\x00\x00\x40\x08\x04\x01\x40\x00\x08"
                    "\x03\x40\x00\xc0\x04\x40\x08\x04",
                    20);
    dvd_structure(c, 1, 0xff, 0, 100); /* media type 1 (BD) */
    atapi_check_error(c, 5, 0x24);
    /* QEMU 2.2 has no MODE SENSE(6): an invalid opcode, as on QEMU. */
    atapi_send(c, mode_sense6, 30, false);
    atapi_check_error(c, 5, 0x20);
    ide_stop(c);
}

static void test_atapi_dvd_structure_dvd(void)
{
    IDEChan *c = ide_start("-m 128 -drive if=ide,index=2,media=cdrom,format=raw,file=@IMG@",
                           DVD_SECTORS, CD_SECTOR, true);
    static const uint8_t config[12] = {0x46, 0, 0, 0, 0, 0, 0, 0, 16};
    g_autofree uint8_t *buf = g_malloc(2052);
    static const uint8_t zero[2048];

    atapi_send(c, config, 0xfffe, false);
    atapi_pio_reply(c, buf, 16);
    g_assert_cmpmem(buf, 8, "\x00\x00\x00\x10\x00\x00\x00\x10", 8); /* DVD-ROM current */
    dvd_structure(c, 0, 0x00, 0, 2052); /* physical format: end sector 399999 */
    atapi_pio_reply(c, buf, 2052);
    g_assert_cmpmem(buf, 20,
                    "\x08\x02\x00\x00\x01\x0f\x01\x00\x00\x00\x00\x00"
                    "\x00\x06\x1a\x7f\x00\x06\x1a\x7f",
                    20);
    g_assert_cmpmem(buf + 20, 2032, zero, 2032);
    dvd_structure(c, 0, 0x00, 0, 12); /* cut by the allocation length */
    atapi_pio_reply(c, buf, 12);
    g_assert_cmpmem(buf, 8, "\x08\x02\x00\x00\x01\x0f\x01\x00", 8);
    dvd_structure(c, 0, 0x01, 0, 100); /* copyright: none */
    atapi_pio_reply(c, buf, 8);
    g_assert_cmpmem(buf, 8, "\x00\x06\x00\x00\x00\x00\x00\x00", 8);
    dvd_structure(c, 0, 0x04, 0, 4096); /* manufacturing: zeros */
    atapi_pio_reply(c, buf, 2052);
    g_assert_cmpmem(buf, 4, "\x08\x02\x00\x00", 4);
    g_assert_cmpmem(buf + 4, 2048, zero, 2048);
    dvd_structure(c, 0, 0x03, 0, 100); /* BCA: none */
    atapi_check_error(c, 5, 0x24);
    dvd_structure(c, 0, 0x02, 0, 100);
    atapi_check_error(c, 5, 0x24);
    dvd_structure(c, 0, 0x80, 0, 100);
    atapi_check_error(c, 5, 0x24);
    /* Layer 1: QEMU reads it after clearing the reply, so only a short allocation length
     * keeps it and gets it refused. */
    dvd_structure(c, 0, 0x00, 1, 4);
    atapi_check_error(c, 5, 0x24);
    dvd_structure(c, 0, 0x00, 1, 8);
    atapi_pio_reply(c, buf, 8);
    g_assert_cmpmem(buf, 8, "\x08\x02\x00\x00\x01\x0f\x01\x00", 8);
    ide_stop(c);
}


int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ide/atapi/identify", test_atapi_identify);
    g_test_add_func("/ide/atapi/inquiry-capacity", test_atapi_inquiry_capacity);
    g_test_add_func("/ide/atapi/read-pio", test_atapi_read_pio);
    g_test_add_func("/ide/atapi/read-dma", test_atapi_read_dma);
    g_test_add_func("/ide/atapi/toc-config-mode", test_atapi_toc_config_mode);
    g_test_add_func("/ide/atapi/tray", test_atapi_tray);
    g_test_add_func("/ide/atapi/empty", test_atapi_empty);
    g_test_add_func("/ide/atapi/seek-speed-mechanism", test_atapi_seek_speed_mechanism);
    g_test_add_func("/ide/atapi/read-cd", test_atapi_read_cd);
    g_test_add_func("/ide/atapi/dvd-structure-cd", test_atapi_dvd_structure_cd);
    g_test_add_func("/ide/atapi/dvd-structure-dvd", test_atapi_dvd_structure_dvd);
    return g_test_run();
}
