/*
 * The PIIX3 IDE function (00:01.1) driven through its ports, the same way on minivmm and
 * on QEMU (QTEST_QEMU=1), with the same assertions: PCI identity, ATA disk IDENTIFY
 * words, PIO and bus-master DMA reads and writes with patterns (checked in guest memory
 * and in the image file), LBA48, READ/WRITE MULTIPLE, FLUSH, errors for LBAs past the
 * end, nIEN, SRST and signatures, short and hostile PRD tables, and an ATAPI CD-ROM:
 * IDENTIFY PACKET, INQUIRY, READ CAPACITY, READ(10)/(12) in PIO and DMA, sense data,
 * READ TOC, MODE SENSE, GET CONFIGURATION, event status, tray and lock, SEEK, SET CD SPEED,
 * MECHANISM STATUS, READ CD (user data and raw sectors), READ DVD STRUCTURE on a CD and on
 * a DVD-sized image. After every
 * command the status register and the IRQ line (14/15, seen at the IOAPIC) are checked.
 * Deliberate differences from QEMU are marked where they are asserted.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <linux/pci.h>
#include "libqpci.h"

#define DEVFN_IDE PCI_DEVFN(1, 1)
#define SECTOR 512
#define CD_SECTOR 2048
#define DISK_SECTORS 131072ULL          /* 64 MiB */
#define BIG_DISK_SECTORS (300ULL << 21) /* 300 GiB, sparse: past LBA28 */
#define CD_SECTORS 300
#define PRD_ADDR 0x100000
#define BUF_ADDR 0x200000
#define BUF2_ADDR 0x300000

enum {
    REG_DATA = 0,
    REG_ERROR = 1,
    REG_FEATURE = 1,
    REG_NSECTOR = 2,
    REG_SECTOR = 3,
    REG_LCYL = 4,
    REG_HCYL = 5,
    REG_DEVICE = 6,
    REG_STATUS = 7,
    REG_COMMAND = 7,
};

enum {
    ERR = 0x01,
    DRQ = 0x08,
    DSC = 0x10,
    DRDY = 0x40,
    BSY = 0x80,
    ABRT = 0x04,
    NIEN = 0x02,
    SRST = 0x04,
    DEV_LBA = 0x40,
    BM_CMD_START = 0x01,
    BM_CMD_TO_MEM = 0x08,
    BM_STS_ACTIVE = 0x01,
    BM_STS_ERROR = 0x02,
    BM_STS_INTR = 0x04,
};

enum {
    CMD_DSM = 0x06,
    CMD_READ = 0x20,
    CMD_READ_EXT = 0x24,
    CMD_READ_DMA_EXT = 0x25,
    CMD_WRITE = 0x30,
    CMD_WRITE_EXT = 0x34,
    CMD_VERIFY = 0x40,
    CMD_DIAGNOSE = 0x90,
    CMD_SPECIFY = 0x91,
    CMD_PACKET = 0xa0,
    CMD_SMART = 0xb0,
    CMD_IDENTIFY_PACKET = 0xa1,
    CMD_READ_MULTIPLE = 0xc4,
    CMD_WRITE_MULTIPLE = 0xc5,
    CMD_SET_MULTIPLE = 0xc6,
    CMD_READ_DMA = 0xc8,
    CMD_WRITE_DMA = 0xca,
    CMD_FLUSH = 0xe7,
    CMD_FLUSH_EXT = 0xea,
    CMD_IDENTIFY = 0xec,
    CMD_SET_FEATURES = 0xef,
};

typedef struct IDEChan {
    QTestState *qts;
    uint16_t base, ctrl;
    int irq;
    uint16_t bm; /* this channel's bus-master registers, 0 until mapped */
    char *image;
} IDEChan;

/* ---- Images ---- */

static uint8_t pattern_byte(uint64_t sector, unsigned i, uint8_t seed)
{
    return (uint8_t)(sector * 7 + i * 13 + seed);
}

/* A raw image of the given size whose first sectors hold a pattern (sector 0 is not an
 * MBR, so the geometry is the size-based one). */
static char *make_image(uint64_t sectors, unsigned patterned, unsigned sector_size)
{
    char *path = NULL;
    int fd = g_file_open_tmp("ide-test-XXXXXX.img", &path, NULL);
    g_autofree uint8_t *buf = g_malloc(sector_size);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, sectors * sector_size), ==, 0);
    for (unsigned s = 0; s < patterned; s++) {
        for (unsigned i = 0; i < sector_size; i++) {
            buf[i] = pattern_byte(s, i, 0x11);
        }
        g_assert_cmpint(pwrite(fd, buf, sector_size, (off_t)s * sector_size), ==, sector_size);
    }
    close(fd);
    return path;
}

static void read_image(const char *path, uint64_t offset, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, offset), ==, (ssize_t)len);
    close(fd);
}

/* ---- Channels ---- */

/* Start the VMM with args, "@IMG@" standing for a fresh image of the given size. */
static IDEChan *ide_start(const char *args, uint64_t sectors, unsigned sector_size, bool secondary)
{
    IDEChan *c = g_new0(IDEChan, 1);
    g_auto(GStrv) parts = g_strsplit(args, "@IMG@", -1);
    g_autofree char *full = NULL;

    c->image = sectors ? make_image(sectors, 64, sector_size) : NULL;
    full = g_strjoinv(c->image ? c->image : "", parts);
    c->qts = qtest_init(full);
    c->base = secondary ? 0x170 : 0x1f0;
    c->ctrl = secondary ? 0x376 : 0x3f6;
    c->irq = secondary ? 15 : 14;
    qtest_irq_intercept_in(c->qts, "ioapic");
    return c;
}

static void ide_stop(IDEChan *c)
{
    qtest_quit(c->qts);
    if (c->image) {
        unlink(c->image);
        g_free(c->image);
    }
    g_free(c);
}

static uint8_t ide_inb(IDEChan *c, unsigned reg)
{
    return qtest_inb(c->qts, c->base + reg);
}

static void ide_outb(IDEChan *c, unsigned reg, uint8_t val)
{
    qtest_outb(c->qts, c->base + reg, val);
}

static uint8_t ide_altstatus(IDEChan *c)
{
    return qtest_inb(c->qts, c->ctrl);
}

static bool ide_irq(IDEChan *c)
{
    return qtest_get_irq(c->qts, c->irq);
}

/* Poll the alternate status (no side effects) until BSY is clear. */
static uint8_t ide_wait(IDEChan *c)
{
    uint8_t st = 0;

    for (int i = 0; i < 100000; i++) {
        st = ide_altstatus(c);
        if (!(st & BSY)) {
            return st;
        }
    }
    g_assert_not_reached();
    return st;
}

/* The status register read clears the interrupt: check the line, then read it. */
static void ide_check_done(IDEChan *c, uint8_t status, bool irq)
{
    g_assert_cmphex(ide_wait(c), ==, status);
    g_assert_cmpint(ide_irq(c), ==, irq);
    g_assert_cmphex(ide_inb(c, REG_STATUS), ==, status);
    g_assert_false(ide_irq(c));
}

static void ide_set_lba28(IDEChan *c, unsigned dev, uint32_t lba, uint8_t count)
{
    ide_outb(c, REG_DEVICE, 0xa0 | dev << 4 | DEV_LBA | ((lba >> 24) & 0xf));
    ide_outb(c, REG_NSECTOR, count);
    ide_outb(c, REG_SECTOR, lba);
    ide_outb(c, REG_LCYL, lba >> 8);
    ide_outb(c, REG_HCYL, lba >> 16);
}

static void ide_set_lba48(IDEChan *c, uint64_t lba, uint16_t count)
{
    ide_outb(c, REG_DEVICE, 0xa0 | DEV_LBA);
    ide_outb(c, REG_NSECTOR, count >> 8);
    ide_outb(c, REG_SECTOR, lba >> 24);
    ide_outb(c, REG_LCYL, lba >> 32);
    ide_outb(c, REG_HCYL, lba >> 40);
    ide_outb(c, REG_NSECTOR, count);
    ide_outb(c, REG_SECTOR, lba);
    ide_outb(c, REG_LCYL, lba >> 8);
    ide_outb(c, REG_HCYL, lba >> 16);
}

static void ide_pio_in(IDEChan *c, void *buf, size_t bytes)
{
    uint16_t *w = buf;

    for (size_t i = 0; i < bytes / 2; i++) {
        w[i] = qtest_inw(c->qts, c->base + REG_DATA);
    }
}

static void ide_pio_out(IDEChan *c, const void *buf, size_t bytes)
{
    const uint16_t *w = buf;

    for (size_t i = 0; i < bytes / 2; i++) {
        qtest_outw(c->qts, c->base + REG_DATA, w[i]);
    }
}

static void check_pattern(const uint8_t *buf, uint64_t first_sector, unsigned sectors,
                          unsigned sector_size, uint8_t seed)
{
    for (unsigned s = 0; s < sectors; s++) {
        for (unsigned i = 0; i < sector_size; i++) {
            if (buf[s * sector_size + i] != pattern_byte(first_sector + s, i, seed)) {
                g_error("sector %" G_GUINT64_FORMAT " byte %u: %#x, expected %#x", first_sector + s,
                        i, buf[s * sector_size + i], pattern_byte(first_sector + s, i, seed));
            }
        }
    }
}

static void fill_pattern(uint8_t *buf, uint64_t first_sector, unsigned sectors, uint8_t seed)
{
    for (unsigned s = 0; s < sectors; s++) {
        for (unsigned i = 0; i < SECTOR; i++) {
            buf[s * SECTOR + i] = pattern_byte(first_sector + s, i, seed);
        }
    }
}

/* ---- PCI ---- */

static void test_pci(void)
{
    IDEChan *c = ide_start("-m 128", 0, SECTOR, false);
    QPCIBus bus;
    QPCIDevice dev;

    qpci_bus_init(&bus, c->qts);
    g_assert_true(qpci_device_find(&bus, DEVFN_IDE, &dev));
    g_assert_cmphex(qpci_config_readl(&dev, PCI_VENDOR_ID), ==, 0x70108086);
    g_assert_cmphex(qpci_config_readl(&dev, PCI_CLASS_REVISION), ==, 0x01018000);
    g_assert_cmphex(qpci_config_readb(&dev, PCI_HEADER_TYPE), ==, 0x00);
    g_assert_cmphex(qpci_config_readw(&dev, PCI_COMMAND), ==, 0x0000);
    g_assert_cmphex(qpci_config_readw(&dev, PCI_STATUS), ==, 0x0280);
    g_assert_cmphex(qpci_config_readl(&dev, PCI_BASE_ADDRESS_4), ==, 0x00000001);
    g_assert_cmphex(qpci_config_readb(&dev, PCI_INTERRUPT_PIN), ==, 0);
    /* BMIBA sizes as 16 bytes of I/O. */
    qpci_config_writel(&dev, PCI_BASE_ADDRESS_4, 0xffffffff);
    g_assert_cmphex(qpci_config_readl(&dev, PCI_BASE_ADDRESS_4), ==, 0xfffffff1);
    /* No drive on either channel: the task file reads as zeros. */
    g_assert_cmphex(ide_inb(c, REG_STATUS), ==, 0);
    g_assert_cmphex(ide_inb(c, REG_NSECTOR), ==, 0);
    g_assert_cmphex(qtest_inb(c->qts, 0x177), ==, 0);
    ide_stop(c);
}

/* ---- ATA disk ---- */

/* A 64 MiB disk on the primary master: -drive if=ide, or with extra = {drive options,
 * device options} -drive if=none plus -device ide-hd. */
static IDEChan *disk_start(const char *const *extra)
{
    g_autofree char *opts = NULL;

    if (!extra) {
        return ide_start("-m 128 -drive if=ide,index=0,format=raw,file=@IMG@", DISK_SECTORS, SECTOR,
                         false);
    }
    opts = g_strdup_printf("-m 128 -drive if=none,id=d0,format=raw,file=@IMG@%s "
                           "-device ide-hd,drive=d0,bus=ide.0%s",
                           extra[0], extra[1]);
    return ide_start(opts, DISK_SECTORS, SECTOR, false);
}

static void ide_identify(IDEChan *c, uint16_t *id)
{
    ide_outb(c, REG_DEVICE, 0xa0);
    ide_outb(c, REG_COMMAND, CMD_IDENTIFY);
    g_assert_cmphex(ide_wait(c), ==, DRDY | DSC | DRQ);
    g_assert_true(ide_irq(c));
    g_assert_cmphex(ide_inb(c, REG_STATUS), ==, DRDY | DSC | DRQ);
    ide_pio_in(c, id, 512);
    g_assert_cmphex(ide_altstatus(c), ==, DRDY | DSC);
    for (int i = 0; i < 256; i++) {
        id[i] = GUINT16_FROM_LE(id[i]);
    }
}

static void check_ata_string(const uint16_t *words, int nwords, const char *expected)
{
    char s[80] = {0};

    for (int i = 0; i < nwords; i++) {
        s[2 * i] = words[i] >> 8;
        s[2 * i + 1] = words[i] & 0xff;
    }
    g_assert_cmpstr(g_strchomp(s), ==, expected);
}

static void test_identify(void)
{
    static const char *const opts[] = {"", ",serial=SER-42"};
    IDEChan *c = disk_start(opts);
    uint16_t id[256];
    static const struct {
        int word;
        uint16_t val;
    } expected[] = {
        {0, 0x0040},  {1, 130},     {3, 16},      {4, 512 * 63}, {5, 512},     {6, 63},
        {20, 3},      {21, 512},    {22, 4},      {47, 0x8010},  {48, 1},      {49, 0x0b00},
        {51, 0x200},  {52, 0x200},  {53, 7},      {54, 130},     {55, 16},     {56, 63},
        {57, 0xffe0}, {58, 1},      {59, 0x110},  {60, 0x0000},  {61, 0x0002}, {62, 7},
        {63, 7},      {64, 3},      {65, 120},    {66, 120},     {67, 120},    {68, 120},
        {80, 0xf0},   {81, 0x16},   {82, 0x4021}, {83, 0x7400},  {84, 0x4000}, {85, 0x4021},
        {86, 0x3400}, {87, 0x4000}, {88, 0x203f}, {93, 0x6001},  {100, 0},     {101, 2},
        {102, 0},     {103, 0},
    };

    ide_identify(c, id);
    for (size_t i = 0; i < G_N_ELEMENTS(expected); i++) {
        if (id[expected[i].word] != expected[i].val) {
            g_error("IDENTIFY word %d: %#x, expected %#x", expected[i].word, id[expected[i].word],
                    expected[i].val);
        }
    }
    check_ata_string(id + 10, 10, "SER-42");
    check_ata_string(id + 27, 20, "QEMU HARDDISK");
    check_ata_string(id + 23, 4, "2.5+");
    ide_stop(c);
}

static void test_identify_defaults(void)
{
    static const char *const opts[] = {",cache=writethrough", ",cyls=100,heads=8,secs=32"};
    IDEChan *c = disk_start(opts);
    uint16_t id[256];

    ide_identify(c, id);
    check_ata_string(id + 10, 10, "QM00001");
    g_assert_cmpuint(id[1], ==, 100);
    g_assert_cmpuint(id[3], ==, 8);
    g_assert_cmpuint(id[6], ==, 32);
    g_assert_cmphex(id[85], ==, 0x4001); /* write cache off */
    ide_stop(c);
}

static void test_pio_read(void)
{
    IDEChan *c = disk_start(NULL);
    uint8_t buf[3 * SECTOR];

    ide_set_lba28(c, 0, 5, 3);
    ide_outb(c, REG_COMMAND, CMD_READ);
    for (int s = 0; s < 3; s++) {
        g_assert_cmphex(ide_wait(c), ==, DRDY | DSC | DRQ);
        g_assert_true(ide_irq(c));
        g_assert_cmphex(ide_inb(c, REG_STATUS), ==, DRDY | DSC | DRQ);
        ide_pio_in(c, buf + s * SECTOR, SECTOR);
    }
    g_assert_cmphex(ide_wait(c), ==, DRDY | DSC);
    g_assert_false(ide_irq(c));
    check_pattern(buf, 5, 3, SECTOR, 0x11);
    /* The task file now addresses the sector after the last one read. */
    g_assert_cmphex(ide_inb(c, REG_SECTOR), ==, 8);
    g_assert_cmphex(ide_inb(c, REG_NSECTOR), ==, 0);
    ide_stop(c);
}

static void test_pio_write(void)
{
    IDEChan *c = disk_start(NULL);
    uint8_t buf[2 * SECTOR], back[2 * SECTOR];

    fill_pattern(buf, 40, 2, 0x5a);
    ide_set_lba28(c, 0, 40, 2);
    ide_outb(c, REG_COMMAND, CMD_WRITE);
    for (int s = 0; s < 2; s++) {
        /* DRQ without an interrupt for the first block, then one per block written. */
        g_assert_cmphex(ide_wait(c), ==, DRDY | DSC | DRQ);
        g_assert_cmpint(ide_irq(c), ==, s > 0);
        g_assert_cmphex(ide_inb(c, REG_STATUS), ==, DRDY | DSC | DRQ);
        ide_pio_out(c, buf + s * SECTOR, SECTOR);
    }
    ide_check_done(c, DRDY | DSC, true);
    ide_outb(c, REG_COMMAND, CMD_FLUSH);
    ide_check_done(c, DRDY | DSC, true);
    read_image(c->image, 40 * SECTOR, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
    /* And back through the drive. */
    ide_set_lba28(c, 0, 40, 1);
    ide_outb(c, REG_COMMAND, CMD_READ);
    ide_check_done(c, DRDY | DSC | DRQ, true);
    ide_pio_in(c, back, SECTOR);
    g_assert_cmpmem(back, SECTOR, buf, SECTOR);
    ide_stop(c);
}

static void test_multiple(void)
{
    IDEChan *c = disk_start(NULL);
    uint8_t buf[8 * SECTOR];
    uint16_t id[256];

    /* Not a power of two: aborted. */
    ide_outb(c, REG_NSECTOR, 3);
    ide_outb(c, REG_COMMAND, CMD_SET_MULTIPLE);
    ide_check_done(c, DRDY | ERR, true);
    g_assert_cmphex(ide_inb(c, REG_ERROR), ==, ABRT);
    ide_outb(c, REG_NSECTOR, 4);
    ide_outb(c, REG_COMMAND, CMD_SET_MULTIPLE);
    ide_check_done(c, DRDY | DSC, true);
    ide_set_lba28(c, 0, 8, 8);
    ide_outb(c, REG_COMMAND, CMD_READ_MULTIPLE);
    for (int blk = 0; blk < 2; blk++) {
        ide_check_done(c, DRDY | DSC | DRQ, true);
        ide_pio_in(c, buf + blk * 4 * SECTOR, 4 * SECTOR);
    }
    g_assert_cmphex(ide_wait(c), ==, DRDY | DSC);
    check_pattern(buf, 8, 8, SECTOR, 0x11);
    /* WRITE MULTIPLE: one DRQ block of 4 then the rest. */
    fill_pattern(buf, 100, 6, 0x77);
    ide_set_lba28(c, 0, 100, 6);
    ide_outb(c, REG_COMMAND, CMD_WRITE_MULTIPLE);
    g_assert_cmphex(ide_wait(c), ==, DRDY | DSC | DRQ);
    ide_pio_out(c, buf, 4 * SECTOR);
    ide_check_done(c, DRDY | DSC | DRQ, true);
    ide_pio_out(c, buf + 4 * SECTOR, 2 * SECTOR);
    ide_check_done(c, DRDY | DSC, true);
    ide_outb(c, REG_COMMAND, CMD_FLUSH_EXT);
    ide_check_done(c, DRDY | DSC, true);
    {
        uint8_t back[6 * SECTOR];
        read_image(c->image, 100 * SECTOR, back, sizeof(back));
        g_assert_cmpmem(back, sizeof(back), buf, 6 * SECTOR);
    }
    /* IDENTIFY word 59: the multiple count set above. */
    ide_identify(c, id);
    g_assert_cmphex(id[59], ==, 0x104);
    ide_stop(c);
}

static void test_lba48(void)
{
    IDEChan *c = ide_start("-m 128 -drive if=ide,index=0,format=raw,file=@IMG@", BIG_DISK_SECTORS,
                           SECTOR, false);
    uint64_t lba = (1ULL << 28) + 12345;
    uint8_t buf[2 * SECTOR], back[2 * SECTOR];
    uint16_t id[256];

    ide_identify(c, id);
    g_assert_cmphex(id[60] | (uint32_t)id[61] << 16, ==, 0x0fffffff);
    g_assert_cmphex(id[100] | (uint64_t)id[101] << 16 | (uint64_t)id[102] << 32, ==,
                    BIG_DISK_SECTORS);
    fill_pattern(buf, lba, 2, 0x42);
    ide_set_lba48(c, lba, 2);
    ide_outb(c, REG_COMMAND, CMD_WRITE_EXT);
    for (int s = 0; s < 2; s++) {
        g_assert_cmphex(ide_wait(c), ==, DRDY | DSC | DRQ);
        ide_pio_out(c, buf + s * SECTOR, SECTOR);
    }
    ide_check_done(c, DRDY | DSC, true);
    ide_outb(c, REG_COMMAND, CMD_FLUSH_EXT);
    ide_check_done(c, DRDY | DSC, true);
    read_image(c->image, lba * SECTOR, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
    /* HOB reads back the high bytes of the next LBA. */
    ide_set_lba48(c, lba, 2);
    ide_outb(c, REG_COMMAND, CMD_READ_EXT);
    for (int s = 0; s < 2; s++) {
        ide_check_done(c, DRDY | DSC | DRQ, true);
        ide_pio_in(c, back + s * SECTOR, SECTOR);
    }
    g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
    g_assert_cmphex(ide_inb(c, REG_SECTOR), ==, (lba + 2) & 0xff);
    qtest_outb(c->qts, c->ctrl, 0x80);
    g_assert_cmphex(ide_inb(c, REG_SECTOR), ==, ((lba + 2) >> 24) & 0xff);
    g_assert_cmphex(ide_inb(c, REG_LCYL), ==, ((lba + 2) >> 32) & 0xff);
    qtest_outb(c->qts, c->ctrl, 0);
    ide_stop(c);
}

static void test_errors(void)
{
    IDEChan *c = disk_start(NULL);

    /* Past the end of the medium: each PIO block is checked when it is due. */
    ide_set_lba28(c, 0, DISK_SECTORS - 1, 2);
    ide_outb(c, REG_COMMAND, CMD_READ);
    ide_check_done(c, DRDY | DSC | DRQ, true);
    {
        uint8_t buf[SECTOR];
        ide_pio_in(c, buf, SECTOR);
    }
    ide_check_done(c, DRDY | ERR, true);
    g_assert_cmphex(ide_inb(c, REG_ERROR), ==, ABRT);
    ide_set_lba28(c, 0, DISK_SECTORS, 1);
    ide_outb(c, REG_COMMAND, CMD_WRITE);
    g_assert_cmphex(ide_wait(c), ==, DRDY | DSC | DRQ);
    {
        uint8_t buf[SECTOR] = {0};
        ide_pio_out(c, buf, SECTOR);
    }
    ide_check_done(c, DRDY | ERR, true);
    /* An unknown command and a packet command to a disk are aborted. */
    ide_outb(c, REG_COMMAND, 0x01);
    ide_check_done(c, DRDY | ERR, true);
    ide_outb(c, REG_COMMAND, CMD_PACKET);
    ide_check_done(c, DRDY | ERR, true);
    ide_outb(c, REG_COMMAND, CMD_IDENTIFY_PACKET);
    ide_check_done(c, DRDY | ERR, true);
    /* READ VERIFY, SET FEATURES (transfer mode), a bad SET FEATURES subcommand. */
    ide_set_lba28(c, 0, 0, 4);
    ide_outb(c, REG_COMMAND, CMD_VERIFY);
    ide_check_done(c, DRDY | DSC, true);
    ide_outb(c, REG_FEATURE, 0x03);
    ide_outb(c, REG_NSECTOR, 0x42); /* UDMA 2 */
    ide_outb(c, REG_COMMAND, CMD_SET_FEATURES);
    ide_check_done(c, DRDY | DSC, true);
    ide_outb(c, REG_FEATURE, 0x77);
    ide_outb(c, REG_COMMAND, CMD_SET_FEATURES);
    ide_check_done(c, DRDY | ERR, true);
    ide_stop(c);
}

static void test_nien_srst_diag(void)
{
    IDEChan *c = disk_start(NULL);
    uint16_t id[256];

    /* nIEN: the command completes without an interrupt. */
    qtest_outb(c->qts, c->ctrl, NIEN);
    ide_outb(c, REG_DEVICE, 0xa0);
    ide_outb(c, REG_COMMAND, CMD_IDENTIFY);
    g_assert_cmphex(ide_wait(c), ==, DRDY | DSC | DRQ);
    g_assert_false(ide_irq(c));
    ide_pio_in(c, id, 512);
    /* Soft reset: signature of a disk, diagnostic code 1 in the error register. */
    ide_set_lba28(c, 0, 0x123456, 9);
    qtest_outb(c->qts, c->ctrl, SRST | NIEN);
    qtest_outb(c->qts, c->ctrl, NIEN);
    g_assert_cmphex(ide_wait(c), ==, DRDY | DSC);
    g_assert_cmphex(ide_inb(c, REG_ERROR), ==, 0x01);
    g_assert_cmphex(ide_inb(c, REG_NSECTOR), ==, 1);
    g_assert_cmphex(ide_inb(c, REG_SECTOR), ==, 1);
    g_assert_cmphex(ide_inb(c, REG_LCYL), ==, 0);
    g_assert_cmphex(ide_inb(c, REG_HCYL), ==, 0);
    g_assert_cmphex(ide_inb(c, REG_DEVICE), ==, 0xa0);
    /* The slave is absent: selecting it reads zeros, commands to it are ignored. */
    qtest_outb(c->qts, c->ctrl, 0);
    ide_outb(c, REG_DEVICE, 0xb0);
    g_assert_cmphex(ide_inb(c, REG_STATUS), ==, 0);
    ide_outb(c, REG_COMMAND, CMD_IDENTIFY);
    g_assert_false(ide_irq(c));
    ide_outb(c, REG_DEVICE, 0xa0);
    ide_outb(c, REG_COMMAND, CMD_DIAGNOSE);
    ide_check_done(c, DRDY | DSC, true);
    g_assert_cmphex(ide_inb(c, REG_ERROR), ==, 0x01);
    /* INITIALIZE DEVICE PARAMETERS then a CHS read: cylinder 1 head 2 sector 3 with
     * 4 heads and 10 sectors is LBA 1 * 40 + 2 * 10 + 2 = 62. */
    ide_outb(c, REG_DEVICE, 0xa3);
    ide_outb(c, REG_NSECTOR, 10);
    ide_outb(c, REG_COMMAND, CMD_SPECIFY);
    ide_check_done(c, DRDY | DSC, true);
    ide_outb(c, REG_DEVICE, 0xa2);
    ide_outb(c, REG_NSECTOR, 1);
    ide_outb(c, REG_SECTOR, 3);
    ide_outb(c, REG_LCYL, 1);
    ide_outb(c, REG_HCYL, 0);
    ide_outb(c, REG_COMMAND, CMD_READ);
    ide_check_done(c, DRDY | DSC | DRQ, true);
    {
        uint8_t buf[SECTOR];
        ide_pio_in(c, buf, SECTOR);
        check_pattern(buf, 62, 1, SECTOR, 0x11);
    }
    ide_stop(c);
}

/* An MBR with one partition ending at head end_head, sector 63 (the BIOS geometry a
 * previous installation used). */
static void write_mbr(const char *path, uint8_t end_head)
{
    uint8_t mbr[SECTOR] = {0};
    uint8_t *p = mbr + 0x1be;
    int fd = open(path, O_WRONLY);

    p[0] = 0x80;
    p[4] = 0x83;
    p[5] = end_head;
    p[6] = 63;
    p[7] = 0xff;
    p[8] = 63;                  /* start LBA */
    p[12] = 0xa0, p[13] = 0x86; /* 100000 sectors */
    p[14] = 0x01;
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    g_assert_cmpint(pwrite(fd, mbr, SECTOR, 0), ==, SECTOR);
    close(fd);
}

/*
 * CMOS as SeaBIOS reads it: disk types, the type-47 parameter tables of the primary master
 * and slave, and the translation bits of the four drives: a 2 GiB disk (4161 cylinders: LBA),
 * a 64 MiB one (none), and a 64 MiB one whose MBR says 255 heads (16 heads then, "large").
 */
static void test_cmos(void)
{
    char *big = make_image(4194304, 0, SECTOR);
    char *small = make_image(DISK_SECTORS, 0, SECTOR);
    char *mbr255 = make_image(DISK_SECTORS, 0, SECTOR);
    g_autofree char *args = NULL;
    QTestState *qts;
    uint16_t id[256];
    static const uint8_t expected[][2] = {
        {0x12, 0xff}, {0x19, 47},   {0x1a, 47},   {0x1b, 0x41}, {0x1c, 0x10}, {0x1d, 16},
        {0x1e, 0xff}, {0x1f, 0xff}, {0x20, 0xc8}, {0x21, 0x41}, {0x22, 0x10}, {0x23, 63},
        {0x24, 130},  {0x25, 0},    {0x26, 16},   {0x29, 0xc8}, {0x2c, 63},   {0x39, 0x21},
    };

    write_mbr(mbr255, 254);
    args = g_strdup_printf("-m 128 -drive if=ide,index=0,format=raw,file=%s -drive if=ide,"
                           "index=1,format=raw,file=%s -drive if=ide,index=2,format=raw,file=%s",
                           big, small, mbr255);
    qts = qtest_init(args);
    for (size_t i = 0; i < G_N_ELEMENTS(expected); i++) {
        qtest_outb(qts, 0x70, expected[i][0]);
        if (qtest_inb(qts, 0x71) != expected[i][1]) {
            g_error("CMOS %#x: %#x, expected %#x", expected[i][0], qtest_inb(qts, 0x71),
                    expected[i][1]);
        }
    }
    /* The disk with the 255-head MBR still reports 130/16/63 in IDENTIFY. */
    qtest_outb(qts, 0x176, 0xa0);
    qtest_outb(qts, 0x177, CMD_IDENTIFY);
    for (int i = 0; i < 256; i++) {
        id[i] = qtest_inw(qts, 0x170);
    }
    g_assert_cmpuint(id[1], ==, 130);
    g_assert_cmpuint(id[3], ==, 16);
    g_assert_cmpuint(id[6], ==, 63);
    qtest_quit(qts);
    unlink(big);
    unlink(small);
    unlink(mbr255);
    g_free(big);
    g_free(small);
    g_free(mbr255);
}

static void smart_cmd(IDEChan *c, uint8_t feature, uint8_t sector)
{
    ide_outb(c, REG_DEVICE, 0xa0);
    ide_outb(c, REG_FEATURE, feature);
    ide_outb(c, REG_SECTOR, sector);
    ide_outb(c, REG_LCYL, 0x4f);
    ide_outb(c, REG_HCYL, 0xc2);
    ide_outb(c, REG_COMMAND, CMD_SMART);
}

static void smart_read(IDEChan *c, uint8_t feature, uint8_t sector, uint8_t *buf)
{
    uint8_t sum = 0;

    smart_cmd(c, feature, sector);
    ide_check_done(c, DRDY | DSC | DRQ, true);
    ide_pio_in(c, buf, 512);
    for (int i = 0; i < 512; i++) {
        sum += buf[i];
    }
    g_assert_cmpuint(sum, ==, 0);
}

/* SMART: QEMU's attributes and thresholds, status, a self-test in the log, disable. */
static void test_smart(void)
{
    IDEChan *c = disk_start(NULL);
    uint8_t buf[512];

    smart_read(c, 0xd0, 0, buf);
    g_assert_cmpmem(buf, 16,
                    "\x01\x00\x01\x03\x00\x64\x64\x00\x00\x00\x00\x00\x00\x00"
                    "\x03\x03",
                    16);
    g_assert_cmpmem(buf + 74, 11, "\xbe\x03\x00\x45\x45\x1f\x00\x1f\x1f\x00\x00", 11);
    g_assert_cmpmem(buf + 362, 13, "\x82\x00\x20\x01\x00\x19\x03\x00\x01\x00\x02\x36\x01", 13);
    g_assert_cmphex(buf[511], ==, 0x06);
    smart_read(c, 0xd1, 0, buf);
    g_assert_cmpmem(buf, 4, "\x01\x00\x01\x06", 4);
    g_assert_cmphex(buf[511], ==, 0xaf);
    g_assert_cmpmem(buf + 74, 2, "\xbe\x32", 2);
    smart_cmd(c, 0xda, 0);
    ide_check_done(c, DRDY | DSC, true);
    g_assert_cmphex(ide_inb(c, REG_LCYL), ==, 0x4f);
    g_assert_cmphex(ide_inb(c, REG_HCYL), ==, 0xc2);
    smart_cmd(c, 0xd4, 1); /* short self-test */
    ide_check_done(c, DRDY | DSC, true);
    smart_read(c, 0xd5, 6, buf);
    g_assert_cmpmem(buf, 6, "\x01\x00\x01\x00\x34\x12", 6);
    g_assert_cmphex(buf[508], ==, 1);
    smart_read(c, 0xd5, 1, buf);
    g_assert_cmphex(buf[0], ==, 1);
    /* Without the signature, or once disabled, SMART is aborted. */
    ide_outb(c, REG_LCYL, 0);
    ide_outb(c, REG_FEATURE, 0xd0);
    ide_outb(c, REG_COMMAND, CMD_SMART);
    ide_check_done(c, DRDY | ERR, true);
    smart_cmd(c, 0xd9, 0);
    ide_check_done(c, DRDY | DSC, true);
    smart_cmd(c, 0xd0, 0);
    ide_check_done(c, DRDY | ERR, true);
    smart_cmd(c, 0xd8, 0);
    ide_check_done(c, DRDY | DSC, true);
    ide_stop(c);
}

/* ---- Bus-master DMA ---- */

static void bm_map(IDEChan *c)
{
    QPCIBus bus;
    QPCIDevice dev;
    QPCIBar bar;

    qpci_bus_init(&bus, c->qts);
    g_assert_true(qpci_device_find(&bus, DEVFN_IDE, &dev));
    bar = qpci_iomap(&dev, 4);
    g_assert_true(bar.is_io);
    g_assert_cmpuint(bar.size, ==, 16);
    qpci_device_enable(&dev);
    c->bm = bar.addr + (c->base == 0x170 ? 8 : 0);
}

typedef struct PRD {
    uint32_t addr;
    uint32_t size; /* bit 31: end of table */
} PRD;

static void bm_write_prds(IDEChan *c, const PRD *prds, int n)
{
    for (int i = 0; i < n; i++) {
        qtest_writel(c->qts, PRD_ADDR + 8 * i, prds[i].addr);
        qtest_writel(c->qts, PRD_ADDR + 8 * i + 4, prds[i].size);
    }
}

/* Program the engine, issue cmd, start; wait until the engine stopped or interrupted.
 * Returns the bus-master status. */
static uint8_t bm_run(IDEChan *c, uint8_t cmd, bool to_mem)
{
    uint8_t st = 0;

    qtest_outb(c->qts, c->bm, 0);
    qtest_outb(c->qts, c->bm + 2, BM_STS_INTR | BM_STS_ERROR);
    qtest_outl(c->qts, c->bm + 4, PRD_ADDR);
    g_assert_cmphex(qtest_inl(c->qts, c->bm + 4), ==, PRD_ADDR);
    ide_outb(c, REG_COMMAND, cmd);
    qtest_outb(c->qts, c->bm, BM_CMD_START | (to_mem ? BM_CMD_TO_MEM : 0));
    for (int i = 0; i < 100000; i++) {
        st = qtest_inb(c->qts, c->bm + 2);
        if ((st & (BM_STS_ACTIVE | BM_STS_INTR)) != BM_STS_ACTIVE) {
            break;
        }
    }
    qtest_outb(c->qts, c->bm, 0);
    return st;
}

static void test_dma(void)
{
    IDEChan *c = disk_start(NULL);
    enum { N = 48 }; /* 24 KiB over three PRDs, one crossing a 64 KiB boundary */
    PRD prds[] = {
        {BUF_ADDR, 8 * SECTOR},
        {BUF_ADDR + 0x10000 - 4 * SECTOR, 16 * SECTOR},
        {BUF_ADDR + 0x20000, 0x80000000u | 24 * SECTOR},
    };
    g_autofree uint8_t *buf = g_malloc(N * SECTOR);
    g_autofree uint8_t *back = g_malloc(N * SECTOR);

    bm_map(c);
    bm_write_prds(c, prds, 3);
    /* Write DMA from guest memory... */
    fill_pattern(buf, 1000, N, 0x3c);
    qtest_memwrite(c->qts, BUF_ADDR, buf, 8 * SECTOR);
    qtest_memwrite(c->qts, BUF_ADDR + 0x10000 - 4 * SECTOR, buf + 8 * SECTOR, 16 * SECTOR);
    qtest_memwrite(c->qts, BUF_ADDR + 0x20000, buf + 24 * SECTOR, 24 * SECTOR);
    ide_set_lba28(c, 0, 1000, N);
    g_assert_cmphex(bm_run(c, CMD_WRITE_DMA, false), ==, BM_STS_INTR);
    ide_check_done(c, DRDY | DSC, true);
    ide_outb(c, REG_COMMAND, CMD_FLUSH);
    ide_check_done(c, DRDY | DSC, true);
    read_image(c->image, 1000 * SECTOR, back, N * SECTOR);
    g_assert_cmpmem(back, N * SECTOR, buf, N * SECTOR);
    /* ...and Read DMA (LBA48) back into a scrubbed buffer. */
    qtest_memset(c->qts, BUF_ADDR, 0, 0x30000);
    ide_set_lba48(c, 1000, N);
    g_assert_cmphex(bm_run(c, CMD_READ_DMA_EXT, true), ==, BM_STS_INTR);
    ide_check_done(c, DRDY | DSC, true);
    memset(back, 0, N * SECTOR);
    qtest_memread(c->qts, BUF_ADDR, back, 8 * SECTOR);
    qtest_memread(c->qts, BUF_ADDR + 0x10000 - 4 * SECTOR, back + 8 * SECTOR, 16 * SECTOR);
    qtest_memread(c->qts, BUF_ADDR + 0x20000, back + 24 * SECTOR, 24 * SECTOR);
    g_assert_cmpmem(back, N * SECTOR, buf, N * SECTOR);
    ide_stop(c);
}

static void test_dma_prd_sizes(void)
{
    IDEChan *c = disk_start(NULL);
    PRD short_prd = {BUF_ADDR, 0x80000000u | SECTOR};
    PRD long_prd = {BUF_ADDR, 0x80000000u | 8 * SECTOR};
    PRD zero_len = {BUF_ADDR, 0x80000000u}; /* size 0 means 64 KiB */
    uint8_t buf[2 * SECTOR];

    bm_map(c);
    /* Shorter than the transfer: stopped, no interrupt, the drive is idle again. */
    bm_write_prds(c, &short_prd, 1);
    ide_set_lba28(c, 0, 0, 2);
    g_assert_cmphex(bm_run(c, CMD_READ_DMA, true), ==, 0);
    g_assert_false(ide_irq(c));
    g_assert_cmphex(ide_inb(c, REG_STATUS), ==, DRDY | DSC);
    /* Longer: the transfer completes and the engine stays active. */
    bm_write_prds(c, &long_prd, 1);
    ide_set_lba28(c, 0, 2, 2);
    g_assert_cmphex(bm_run(c, CMD_READ_DMA, true), ==, BM_STS_INTR | BM_STS_ACTIVE);
    ide_check_done(c, DRDY | DSC, true);
    qtest_memread(c->qts, BUF_ADDR, buf, sizeof(buf));
    check_pattern(buf, 2, 2, SECTOR, 0x11);
    bm_write_prds(c, &zero_len, 1);
    ide_set_lba28(c, 0, 4, 128);
    g_assert_cmphex(bm_run(c, CMD_READ_DMA, true), ==, BM_STS_INTR);
    ide_check_done(c, DRDY | DSC, true);
    /* The next well-formed request works. */
    ide_set_lba28(c, 0, 6, 1);
    bm_write_prds(c, &long_prd, 1);
    qtest_memset(c->qts, BUF_ADDR, 0, SECTOR);
    g_assert_cmphex(bm_run(c, CMD_READ_DMA, true) & BM_STS_INTR, ==, BM_STS_INTR);
    ide_check_done(c, DRDY | DSC, true);
    qtest_memread(c->qts, BUF_ADDR, buf, SECTOR);
    check_pattern(buf, 6, 1, SECTOR, 0x11);
    ide_stop(c);
}

/* DATA SET MANAGEMENT (TRIM) by DMA: a range is discarded (reads back as zeros with
 * discard=unmap), a range past the end is a DMA error. */
static void test_dma_trim(void)
{
    static const char *const opts[] = {",discard=unmap", ""};
    IDEChan *c = disk_start(opts);
    PRD prd = {BUF_ADDR, 0x80000000u | SECTOR};
    uint8_t buf[8 * SECTOR], zeros[8 * SECTOR] = {0};

    bm_map(c);
    bm_write_prds(c, &prd, 1);
    qtest_memset(c->qts, BUF_ADDR, 0, SECTOR);
    qtest_writeq(c->qts, BUF_ADDR, 8 | 8ULL << 48); /* sectors 8-15 */
    ide_outb(c, REG_DEVICE, 0xe0);
    ide_outb(c, REG_FEATURE, 0x01);
    ide_outb(c, REG_NSECTOR, 1);
    g_assert_cmphex(bm_run(c, CMD_DSM, false), ==, BM_STS_INTR);
    ide_check_done(c, DRDY | DSC, true);
    ide_set_lba28(c, 0, 8, 8);
    ide_outb(c, REG_COMMAND, CMD_READ_MULTIPLE);
    ide_check_done(c, DRDY | DSC | DRQ, true);
    ide_pio_in(c, buf, sizeof(buf));
    g_assert_cmpmem(buf, sizeof(buf), zeros, sizeof(zeros));
    /* Sector 16 is untouched. */
    ide_set_lba28(c, 0, 16, 1);
    ide_outb(c, REG_COMMAND, CMD_READ);
    ide_check_done(c, DRDY | DSC | DRQ, true);
    ide_pio_in(c, buf, SECTOR);
    check_pattern(buf, 16, 1, SECTOR, 0x11);
    /* Past the end. */
    qtest_writeq(c->qts, BUF_ADDR, (DISK_SECTORS - 1) | 2ULL << 48);
    ide_outb(c, REG_DEVICE, 0xe0);
    ide_outb(c, REG_FEATURE, 0x01);
    ide_outb(c, REG_NSECTOR, 1);
    g_assert_cmphex(bm_run(c, CMD_DSM, false), ==, BM_STS_INTR);
    ide_check_done(c, DRDY | ERR, true);
    g_assert_cmphex(ide_inb(c, REG_ERROR), ==, ABRT);
    ide_stop(c);
}

/*
 * Deliberate difference: a PRD naming memory outside RAM ends the transfer with a DMA
 * error (ABRT, interrupt, engine stopped) on minivmm, where QEMU silently drops the
 * access. A table without an end marker stops after one page on both.
 */
static void test_dma_hostile(void)
{
    IDEChan *c = disk_start(NULL);
    PRD outside = {0xfec00000u, 0x80000000u | SECTOR};
    uint8_t buf[SECTOR];

    bm_map(c);
    /* A full page of 2-byte PRDs without an end marker. */
    for (int i = 0; i < 512; i++) {
        qtest_writel(c->qts, PRD_ADDR + 8 * i, BUF_ADDR + 2 * i);
        qtest_writel(c->qts, PRD_ADDR + 8 * i + 4, 2);
    }
    /* 512 PRDs of 2 bytes cover 1024 bytes: 2 sectors work, 3 are too many. */
    ide_set_lba28(c, 0, 0, 3);
    g_assert_cmphex(bm_run(c, CMD_READ_DMA, true), ==, 0);
    g_assert_false(ide_irq(c));
    g_assert_cmphex(ide_inb(c, REG_STATUS), ==, DRDY | DSC);
    ide_set_lba28(c, 0, 0, 2);
    g_assert_cmphex(bm_run(c, CMD_READ_DMA, true), ==, BM_STS_INTR);
    ide_check_done(c, DRDY | DSC, true);
    qtest_memread(c->qts, BUF_ADDR, buf, SECTOR);
    check_pattern(buf, 0, 1, SECTOR, 0x11);
    if (!qtest_is_qemu()) {
        bm_write_prds(c, &outside, 1);
        ide_set_lba28(c, 0, 0, 1);
        g_assert_cmphex(bm_run(c, CMD_READ_DMA, true), ==, BM_STS_INTR);
        ide_check_done(c, DRDY | ERR, true);
        g_assert_cmphex(ide_inb(c, REG_ERROR), ==, ABRT);
    }
    ide_stop(c);
}

/* ---- ATAPI ---- */

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
    g_test_add_func("/ide/pci", test_pci);
    g_test_add_func("/ide/ata/identify", test_identify);
    g_test_add_func("/ide/ata/identify-defaults", test_identify_defaults);
    g_test_add_func("/ide/ata/pio-read", test_pio_read);
    g_test_add_func("/ide/ata/pio-write", test_pio_write);
    g_test_add_func("/ide/ata/multiple", test_multiple);
    g_test_add_func("/ide/ata/lba48", test_lba48);
    g_test_add_func("/ide/ata/errors", test_errors);
    g_test_add_func("/ide/ata/nien-srst-diag", test_nien_srst_diag);
    g_test_add_func("/ide/ata/cmos", test_cmos);
    g_test_add_func("/ide/ata/smart", test_smart);
    g_test_add_func("/ide/bmdma/rw", test_dma);
    g_test_add_func("/ide/bmdma/prd-sizes", test_dma_prd_sizes);
    g_test_add_func("/ide/bmdma/trim", test_dma_trim);
    g_test_add_func("/ide/bmdma/hostile", test_dma_hostile);
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
