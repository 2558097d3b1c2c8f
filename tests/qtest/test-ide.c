/*
 * The PIIX3 IDE function (00:01.1) driven through its ports, the same way on minivmm and
 * on QEMU (QTEST_QEMU=1), with the same assertions: PCI identity, ATA disk IDENTIFY
 * words, PIO and bus-master DMA reads and writes with patterns (checked in guest memory
 * and in the image file), LBA48, READ/WRITE MULTIPLE, FLUSH, errors for LBAs past the
 * end, nIEN, SRST and signatures, SMART, CMOS geometry, short and hostile PRD tables.
 * After every command the status register and the IRQ line (14/15, seen at the IOAPIC)
 * are checked. The ATAPI CD-ROM has its own file, test-atapi.c.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "libqpci.h"
#include "libqide.h"

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
    return g_test_run();
}
