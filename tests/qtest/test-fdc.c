/*
 * The ISA floppy controller at 0x3f0 and the 8237 DMA controller, driven as a BIOS or Linux
 * does: CMOS drive type, VERSION, the SENSE INTERRUPTs after a reset, RECALIBRATE and the
 * seeks with IRQ 6, READ ID, READ and WRITE DATA by DMA (data checked in guest memory and
 * in the image file) and through the FIFO, the disk-change line, a read-only drive, and
 * malformed commands, and the 8237 registers on their own. Every check holds on QEMU 7.2 too
 * (QTEST_QEMU=1), except where a test says otherwise: READ ID waits on the virtual clock (which
 * QEMU's -S machine does not run) and FORMAT TRACK writes the filler byte (QEMU formats nothing).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "libqtest.h"

#define FLOPPY_BASE 0x3f0
#define FLOPPY_IRQ 6
#define FLOPPY_SIZE (1440 * 1024)
#define SECTOR 512

enum {
    REG_SRB = 0x1,
    REG_DOR = 0x2,
    REG_TDR = 0x3,
    REG_MSR = 0x4,
    REG_DSR = 0x4,
    REG_FIFO = 0x5,
    REG_DIR = 0x7,
    REG_CCR = 0x7,
};

enum {
    CMD_SPECIFY = 0x03,
    CMD_SENSE_DRIVE_STATUS = 0x04,
    CMD_WRITE = 0x45,
    CMD_READ = 0x46,
    CMD_RECALIBRATE = 0x07,
    CMD_SENSE_INT = 0x08,
    CMD_READ_ID = 0x4a,
    CMD_FORMAT = 0x4d,
    CMD_DUMPREG = 0x0e,
    CMD_SEEK = 0x0f,
    CMD_VERSION = 0x10,
    CMD_PERPENDICULAR = 0x12,
    CMD_CONFIGURE = 0x13,
    CMD_LOCK = 0x94,
    CMD_PART_ID = 0x18,
    CMD_REL_SEEK_OUT = 0x8f,
    CMD_REL_SEEK_IN = 0xcf,
};

enum {
    MSR_CMDBUSY = 0x10,
    MSR_NONDMA = 0x20,
    MSR_DIO = 0x40,
    MSR_RQM = 0x80,
    DIR_DSKCHG = 0x80,
};

/* DMA mode bytes for channel 2: single mode, write to memory (READ) / read from memory. */
#define DMA_MODE_READ 0x46
#define DMA_MODE_WRITE 0x4a
#define DMA_BUF 0x20000 /* page 2, offset 0 */

static char *test_image;

/* Sector s of the test image holds bytes (s * 7 + i) & 0xff, with s in its first two. */
static uint8_t pattern_byte(unsigned sector, unsigned i)
{
    if (i < 2) {
        return (sector >> (8 * i)) & 0xff;
    }
    return (sector * 7 + i) & 0xff;
}

static char *make_image(size_t size)
{
    g_autofree uint8_t *buf = g_malloc(size);
    char *path = NULL;
    int fd = g_file_open_tmp("test-fdc-XXXXXX.img", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    for (size_t i = 0; i < size; i++) {
        buf[i] = pattern_byte(i / SECTOR, i % SECTOR);
    }
    g_assert_true(write(fd, buf, size) == (ssize_t)size);
    close(fd);
    return path;
}

/* Drive A: with image (drive_opts appended to its -drive), then more_args. */
static QTestState *fdc_start_args(const char *image, const char *drive_opts, const char *more_args)
{
    g_autofree char *args =
        g_strdup_printf("-drive file=%s,if=floppy,format=raw%s %s", image,
                        drive_opts ? drive_opts : "", more_args ? more_args : "");
    QTestState *qts = qtest_init(args);

    qtest_irq_intercept_in(qts, "ioapic");
    return qts;
}

static QTestState *fdc_start(const char *image, const char *drive_opts)
{
    return fdc_start_args(image, drive_opts, NULL);
}

static uint8_t fdc_msr(QTestState *qts)
{
    return qtest_inb(qts, FLOPPY_BASE + REG_MSR);
}

static void fdc_send(QTestState *qts, uint8_t byte)
{
    g_assert_cmphex(fdc_msr(qts) & (MSR_RQM | MSR_DIO), ==, MSR_RQM);
    qtest_outb(qts, FLOPPY_BASE + REG_FIFO, byte);
}

static uint8_t fdc_recv(QTestState *qts)
{
    g_assert_cmphex(fdc_msr(qts) & (MSR_RQM | MSR_DIO), ==, MSR_RQM | MSR_DIO);
    return qtest_inb(qts, FLOPPY_BASE + REG_FIFO);
}

static void fdc_cmd(QTestState *qts, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fdc_send(qts, bytes[i]);
    }
}

static void fdc_result(QTestState *qts, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = fdc_recv(qts);
    }
    /* The last result byte ends the command. */
    g_assert_cmphex(fdc_msr(qts), ==, MSR_RQM);
}

/* SENSE INTERRUPT STATUS: ST0 and the present cylinder. */
static void fdc_sense_int(QTestState *qts, uint8_t *st0, uint8_t *pcn)
{
    uint8_t r[2];

    fdc_send(qts, CMD_SENSE_INT);
    fdc_result(qts, r, 2);
    *st0 = r[0];
    *pcn = r[1];
}

static void fdc_seek(QTestState *qts, uint8_t drive, uint8_t cyl)
{
    uint8_t cmd[] = {CMD_SEEK, drive, cyl};
    uint8_t st0, pcn;

    fdc_cmd(qts, cmd, sizeof(cmd));
    g_assert_true(qtest_get_irq(qts, FLOPPY_IRQ));
    fdc_sense_int(qts, &st0, &pcn);
    g_assert_cmphex(st0, ==, 0x20 | drive);
    g_assert_cmpuint(pcn, ==, cyl);
    g_assert_false(qtest_get_irq(qts, FLOPPY_IRQ));
}

/* Channel 2: mode, address (page:offset) and length, then unmasked. */
static void dma_setup(QTestState *qts, uint8_t mode, uint32_t addr, unsigned len)
{
    qtest_outb(qts, 0x0a, 0x06); /* mask channel 2 */
    qtest_outb(qts, 0x0c, 0x00); /* clear the flip-flop */
    qtest_outb(qts, 0x0b, mode);
    qtest_outb(qts, 0x04, addr & 0xff);
    qtest_outb(qts, 0x04, (addr >> 8) & 0xff);
    qtest_outb(qts, 0x81, addr >> 16);
    qtest_outb(qts, 0x05, (len - 1) & 0xff);
    qtest_outb(qts, 0x05, ((len - 1) >> 8) & 0xff);
    qtest_outb(qts, 0x0a, 0x02); /* unmask */
}

/* READ or WRITE DATA of C/H/R to EOT 18, N=2; returns the 7 result bytes. */
static void fdc_rw(QTestState *qts, uint8_t cmd, uint8_t drive, uint8_t c, uint8_t h, uint8_t r,
                   uint8_t eot, uint8_t res[7])
{
    uint8_t bytes[] = {cmd, (h << 2) | drive, c, h, r, 2, eot, 0x1b, 0xff};

    fdc_cmd(qts, bytes, sizeof(bytes));
    g_assert_true(qtest_get_irq(qts, FLOPPY_IRQ));
    g_assert_cmphex(fdc_msr(qts), ==, MSR_RQM | MSR_DIO | MSR_CMDBUSY);
    fdc_result(qts, res, 7);
    g_assert_false(qtest_get_irq(qts, FLOPPY_IRQ));
}

static void check_guest_sectors(QTestState *qts, uint32_t addr, unsigned first, unsigned n)
{
    g_autofree uint8_t *buf = g_malloc(n * SECTOR);

    qtest_bufread(qts, addr, buf, n * SECTOR);
    for (unsigned s = 0; s < n; s++) {
        for (unsigned i = 0; i < SECTOR; i++) {
            if (buf[s * SECTOR + i] != pattern_byte(first + s, i)) {
                g_error("sector %u byte %u: %#x, expected %#x", first + s, i, buf[s * SECTOR + i],
                        pattern_byte(first + s, i));
            }
        }
    }
}

static uint8_t cmos_read(QTestState *qts, uint8_t reg)
{
    qtest_outb(qts, 0x70, reg);
    return qtest_inb(qts, 0x71);
}

/* ---- Tests ---- */

static void test_cmos(void)
{
    QTestState *qts = fdc_start(test_image, NULL);
    g_autofree char *img2 = make_image(720 * 1024);
    g_autofree char *args = NULL;

    g_assert_cmphex(cmos_read(qts, 0x10), ==, 0x40);        /* A: 1.44M, no B: */
    g_assert_cmphex(cmos_read(qts, 0x14) & 0xc1, ==, 0x01); /* one drive */
    qtest_quit(qts);
    /* A 720K diskette in B: makes B: a 1.44M drive (the 3.5" double-density format). */
    args = g_strdup_printf("-drive file=%s,if=floppy,index=1,format=raw", img2);
    qts = fdc_start_args(test_image, NULL, args);
    g_assert_cmphex(cmos_read(qts, 0x10), ==, 0x44);
    g_assert_cmphex(cmos_read(qts, 0x14) & 0xc1, ==, 0x41); /* two drives */
    qtest_quit(qts);
    unlink(img2);
}

static void test_no_drive(void)
{
    QTestState *qts = qtest_init(NULL);

    g_assert_cmphex(cmos_read(qts, 0x10), ==, 0x00);
    g_assert_cmphex(cmos_read(qts, 0x14) & 0xc1, ==, 0x00);
    /* The controller is there all the same, idle and ready. */
    g_assert_cmphex(fdc_msr(qts), ==, MSR_RQM);
    qtest_quit(qts);
}

static void test_version_and_ids(void)
{
    QTestState *qts = fdc_start(test_image, NULL);
    uint8_t r[10];
    uint8_t configure[] = {CMD_CONFIGURE, 0x00, 0x57, 0x12};
    uint8_t perp[] = {CMD_PERPENDICULAR, 0x83};

    g_assert_cmphex(fdc_msr(qts), ==, MSR_RQM);
    fdc_send(qts, CMD_VERSION);
    fdc_result(qts, r, 1);
    g_assert_cmphex(r[0], ==, 0x90);
    fdc_send(qts, CMD_PART_ID);
    fdc_result(qts, r, 1);
    g_assert_cmphex(r[0], ==, 0x41);
    fdc_send(qts, CMD_LOCK);
    fdc_result(qts, r, 1);
    g_assert_cmphex(r[0], ==, 0x10);
    fdc_cmd(qts, configure, sizeof(configure));
    fdc_cmd(qts, perp, sizeof(perp));
    g_assert_cmphex(fdc_msr(qts), ==, MSR_RQM);
    fdc_send(qts, CMD_DUMPREG);
    fdc_result(qts, r, 10);
    g_assert_cmphex(r[0], ==, 0);               /* drive 0 cylinder */
    g_assert_cmphex(r[5] & 1, ==, 1);           /* DMA enabled (QEMU reports DMAEN here) */
    g_assert_cmphex(r[6], ==, 18);              /* sectors per track */
    g_assert_cmphex(r[7], ==, 0x80 | (3 << 2)); /* lock, perpendicular */
    g_assert_cmphex(r[8], ==, 0x57);
    g_assert_cmphex(r[9], ==, 0x12);
    qtest_quit(qts);
}

/* Leaving reset through the DOR interrupts; four SENSE INTERRUPTs answer it. */
static void test_reset_sense_interrupt(void)
{
    QTestState *qts = fdc_start(test_image, NULL);
    uint8_t st0, pcn, r;

    g_assert_false(qtest_get_irq(qts, FLOPPY_IRQ));
    /* Nothing pending: SENSE INTERRUPT is an invalid command. */
    fdc_send(qts, CMD_SENSE_INT);
    fdc_result(qts, &r, 1);
    g_assert_cmphex(r, ==, 0x80);
    qtest_outb(qts, FLOPPY_BASE + REG_DOR, 0x08);
    g_assert_false(qtest_get_irq(qts, FLOPPY_IRQ));
    qtest_outb(qts, FLOPPY_BASE + REG_DOR, 0x0c);
    g_assert_true(qtest_get_irq(qts, FLOPPY_IRQ));
    for (int i = 0; i < 4; i++) {
        fdc_sense_int(qts, &st0, &pcn);
        g_assert_cmphex(st0, ==, 0xc0 + i);
        g_assert_cmpuint(pcn, ==, 0);
        g_assert_false(qtest_get_irq(qts, FLOPPY_IRQ));
    }
    fdc_send(qts, CMD_SENSE_INT);
    fdc_result(qts, &r, 1);
    g_assert_cmphex(r, ==, 0x80);
    /* A software reset through the DSR does the same. */
    qtest_outb(qts, FLOPPY_BASE + REG_DSR, 0x80);
    g_assert_true(qtest_get_irq(qts, FLOPPY_IRQ));
    fdc_sense_int(qts, &st0, &pcn);
    g_assert_cmphex(st0, ==, 0xc0);
    qtest_quit(qts);
}

static void test_seek(void)
{
    QTestState *qts = fdc_start(test_image, NULL);
    uint8_t recal[] = {CMD_RECALIBRATE, 0x00};
    uint8_t rel_in[] = {CMD_REL_SEEK_IN, 0x00, 5};
    uint8_t rel_out[] = {CMD_REL_SEEK_OUT, 0x00, 20};
    uint8_t sds[] = {CMD_SENSE_DRIVE_STATUS, 0x04};
    uint8_t st0, pcn, st3;

    fdc_cmd(qts, recal, sizeof(recal));
    g_assert_true(qtest_get_irq(qts, FLOPPY_IRQ));
    fdc_sense_int(qts, &st0, &pcn);
    g_assert_cmphex(st0, ==, 0x20);
    g_assert_cmpuint(pcn, ==, 0);
    fdc_seek(qts, 0, 10);
    fdc_cmd(qts, rel_in, sizeof(rel_in));
    g_assert_true(qtest_get_irq(qts, FLOPPY_IRQ));
    fdc_sense_int(qts, &st0, &pcn);
    g_assert_cmpuint(pcn, ==, 15);
    /* Beyond the last cylinder: the head stops at 79. */
    rel_in[2] = 200;
    fdc_cmd(qts, rel_in, sizeof(rel_in));
    fdc_sense_int(qts, &st0, &pcn);
    g_assert_cmpuint(pcn, ==, 79);
    fdc_seek(qts, 0, 10);
    fdc_cmd(qts, rel_out, sizeof(rel_out));
    fdc_sense_int(qts, &st0, &pcn);
    g_assert_cmphex(st0, ==, 0x20);
    g_assert_cmpuint(pcn, ==, 0);
    /* A seek beyond the medium does not move the head. */
    fdc_seek(qts, 0, 3);
    {
        uint8_t far[] = {CMD_SEEK, 0x00, 200};

        fdc_cmd(qts, far, sizeof(far));
        fdc_sense_int(qts, &st0, &pcn);
        g_assert_cmpuint(pcn, ==, 3);
    }
    /* ST3: ready, two-sided, head 1, not track 0, writable. */
    fdc_cmd(qts, sds, sizeof(sds));
    fdc_result(qts, &st3, 1);
    g_assert_cmphex(st3, ==, 0x2c);
    qtest_quit(qts);
}

static void test_read_id(void)
{
    QTestState *qts;
    uint8_t cmd[] = {CMD_READ_ID, 0x00};
    uint8_t r[7];

    if (!qtest_has_clock(NULL)) {
        g_test_skip("READ ID answers on the virtual clock, which QEMU -S does not run");
        return;
    }
    qts = fdc_start(test_image, NULL);
    fdc_seek(qts, 0, 5);
    fdc_cmd(qts, cmd, sizeof(cmd));
    g_assert_cmphex(fdc_msr(qts), ==, MSR_CMDBUSY);
    qtest_clock_step(qts, 10 * 1000 * 1000);
    g_assert_false(qtest_get_irq(qts, FLOPPY_IRQ));
    qtest_clock_step(qts, 20 * 1000 * 1000);
    g_assert_true(qtest_get_irq(qts, FLOPPY_IRQ));
    fdc_result(qts, r, 7);
    g_assert_cmphex(r[0], ==, 0x00);
    g_assert_cmphex(r[1], ==, 0x00);
    g_assert_cmphex(r[3], ==, 5); /* C */
    g_assert_cmphex(r[4], ==, 0); /* H */
    g_assert_cmphex(r[5], >=, 1); /* R */
    g_assert_cmphex(r[5], <=, 18);
    g_assert_cmphex(r[6], ==, 2); /* N */
    qtest_quit(qts);
}

static void test_read_dma(void)
{
    QTestState *qts = fdc_start(test_image, NULL);
    uint8_t r[7];

    /* Sectors 3-6 of cylinder 2, head 1: LBA (2 * 2 + 1) * 18 + 2 = 92. */
    qtest_memset(qts, DMA_BUF, 0xcc, 4 * SECTOR + 16);
    dma_setup(qts, DMA_MODE_READ, DMA_BUF, 4 * SECTOR);
    fdc_rw(qts, CMD_READ, 0, 2, 1, 3, 18, r);
    g_assert_cmphex(r[0], ==, 0x20 | 0x04); /* seek end, head 1 */
    g_assert_cmphex(r[1], ==, 0);
    g_assert_cmphex(r[2], ==, 0);
    g_assert_cmphex(r[3], ==, 2);
    g_assert_cmphex(r[4], ==, 1);
    g_assert_cmphex(r[5], ==, 7);
    g_assert_cmphex(r[6], ==, 2);
    check_guest_sectors(qts, DMA_BUF, 92, 4);
    /* Not a byte past the DMA count. */
    g_assert_cmphex(qtest_readb(qts, DMA_BUF + 4 * SECTOR), ==, 0xcc);
    /* Terminal count on channel 2 in the status register, cleared by reading it. */
    g_assert_cmphex(qtest_inb(qts, 0x08) & 0x04, ==, 0x04);
    g_assert_cmphex(qtest_inb(qts, 0x08) & 0x04, ==, 0x00);
    /* The count register rolled over to 0xffff. */
    qtest_outb(qts, 0x0c, 0);
    g_assert_cmphex(qtest_inb(qts, 0x05), ==, 0xff);
    g_assert_cmphex(qtest_inb(qts, 0x05), ==, 0xff);

    /* Multi-track from the last sector of head 0 continues on head 1. */
    dma_setup(qts, DMA_MODE_READ, DMA_BUF, 2 * SECTOR);
    fdc_rw(qts, CMD_READ | 0x80, 0, 0, 0, 18, 18, r);
    g_assert_cmphex(r[0] & 0xc0, ==, 0);
    g_assert_cmphex(r[4], ==, 1);
    g_assert_cmphex(r[5], ==, 2);
    check_guest_sectors(qts, DMA_BUF, 17, 2);
    qtest_quit(qts);
}

static void test_read_masked_dma(void)
{
    QTestState *qts = fdc_start(test_image, NULL);
    uint8_t bytes[] = {CMD_READ, 0, 0, 0, 1, 2, 18, 0x1b, 0xff};
    uint8_t r[7];

    dma_setup(qts, DMA_MODE_READ, DMA_BUF, SECTOR);
    qtest_outb(qts, 0x0a, 0x06); /* mask channel 2 again */
    fdc_cmd(qts, bytes, sizeof(bytes));
    /* The controller waits for the DMA: busy, no request for the CPU, no interrupt. */
    g_assert_cmphex(fdc_msr(qts), ==, MSR_CMDBUSY);
    g_assert_false(qtest_get_irq(qts, FLOPPY_IRQ));
    /* The request register shows channel 2 asking. */
    g_assert_cmphex(qtest_inb(qts, 0x08) & 0x40, ==, 0x40);
    qtest_outb(qts, 0x0a, 0x02);
    g_assert_true(qtest_get_irq(qts, FLOPPY_IRQ));
    fdc_result(qts, r, 7);
    g_assert_cmphex(r[0], ==, 0x00);
    check_guest_sectors(qts, DMA_BUF, 0, 1);
    qtest_quit(qts);
}

static void test_write_dma(void)
{
    g_autofree char *img = make_image(FLOPPY_SIZE);
    QTestState *qts = fdc_start(img, NULL);
    uint8_t data[2 * SECTOR], back[2 * SECTOR];
    uint8_t r[7];
    FILE *f;

    for (unsigned i = 0; i < sizeof(data); i++) {
        data[i] = (i * 13 + 5) & 0xff;
    }
    qtest_bufwrite(qts, DMA_BUF, data, sizeof(data));
    dma_setup(qts, DMA_MODE_WRITE, DMA_BUF, sizeof(data));
    /* Cylinder 40, head 0, sectors 10-11: LBA 40 * 36 + 9 = 1449. */
    fdc_rw(qts, CMD_WRITE, 0, 40, 0, 10, 18, r);
    g_assert_cmphex(r[0], ==, 0x20);
    g_assert_cmphex(r[1], ==, 0);
    g_assert_cmphex(r[5], ==, 12);
    qtest_quit(qts);
    f = fopen(img, "rb");
    g_assert_nonnull(f);
    g_assert_cmpint(fseek(f, 1449L * SECTOR, SEEK_SET), ==, 0);
    g_assert_cmpuint(fread(back, 1, sizeof(back), f), ==, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), data, sizeof(data));
    /* The sectors around are untouched. */
    g_assert_cmpint(fseek(f, 1448L * SECTOR, SEEK_SET), ==, 0);
    g_assert_cmpuint(fread(back, 1, SECTOR, f), ==, SECTOR);
    g_assert_cmphex(back[2], ==, pattern_byte(1448, 2));
    fclose(f);
    unlink(img);
}

static void test_read_pio(void)
{
    QTestState *qts = fdc_start(test_image, NULL);
    uint8_t specify[] = {CMD_SPECIFY, 0xaf, 0x03}; /* ND: non-DMA */
    uint8_t bytes[] = {CMD_READ, 0, 1, 0, 5, 2, 18, 0x1b, 0xff};
    uint8_t buf[SECTOR], r[7];

    fdc_cmd(qts, specify, sizeof(specify));
    /* EOT 5: one sector, 36 + 4 = LBA 40. */
    bytes[6] = 5;
    fdc_cmd(qts, bytes, sizeof(bytes));
    g_assert_true(qtest_get_irq(qts, FLOPPY_IRQ));
    g_assert_cmphex(fdc_msr(qts), ==, MSR_RQM | MSR_DIO | MSR_NONDMA | MSR_CMDBUSY);
    for (unsigned i = 0; i < SECTOR; i++) {
        buf[i] = qtest_inb(qts, FLOPPY_BASE + REG_FIFO);
        g_assert_cmphex(buf[i], ==, pattern_byte(40, i));
    }
    fdc_result(qts, r, 7);
    g_assert_cmphex(r[0] & 0xc0, ==, 0);
    /* Through the FIFO the head moves on only when the next sector is read. */
    g_assert_cmphex(r[3], ==, 1);
    g_assert_cmphex(r[5], ==, 5);
    qtest_quit(qts);
}

/*
 * WRITE DATA through the FIFO (non-DMA). QEMU 7.2 writes the sector but then stays in the
 * execution phase (MSR 0x30) because its end-of-track step ends the loop before the result;
 * minivmm enters the result phase (docs/floppy.md).
 */
static void test_write_pio(void)
{
    g_autofree char *img = make_image(FLOPPY_SIZE);
    QTestState *qts = fdc_start(img, NULL);
    uint8_t specify[] = {CMD_SPECIFY, 0xaf, 0x03};
    uint8_t bytes[] = {CMD_WRITE, 0, 2, 0, 7, 2, 7, 0x1b, 0xff};
    uint8_t data[SECTOR], back[SECTOR], r[7];
    FILE *f;

    for (unsigned i = 0; i < SECTOR; i++) {
        data[i] = (i * 29 + 3) & 0xff;
    }
    fdc_cmd(qts, specify, sizeof(specify));
    fdc_cmd(qts, bytes, sizeof(bytes));
    g_assert_true(qtest_get_irq(qts, FLOPPY_IRQ));
    g_assert_cmphex(fdc_msr(qts), ==, MSR_RQM | MSR_NONDMA | MSR_CMDBUSY);
    for (unsigned i = 0; i < SECTOR; i++) {
        qtest_outb(qts, FLOPPY_BASE + REG_FIFO, data[i]);
    }
    if (qtest_is_qemu()) {
        g_assert_cmphex(fdc_msr(qts), ==, MSR_NONDMA | MSR_CMDBUSY);
    } else {
        fdc_result(qts, r, 7);
        g_assert_cmphex(r[0] & 0xc0, ==, 0);
        g_assert_cmphex(r[1], ==, 0);
    }
    qtest_quit(qts);
    /* Cylinder 2, head 0, sector 7: LBA 2 * 36 + 6 = 78. */
    f = fopen(img, "rb");
    g_assert_nonnull(f);
    g_assert_cmpint(fseek(f, 78L * SECTOR, SEEK_SET), ==, 0);
    g_assert_cmpuint(fread(back, 1, SECTOR, f), ==, SECTOR);
    fclose(f);
    g_assert_cmpmem(back, SECTOR, data, SECTOR);
    unlink(img);
}

static void test_disk_change(void)
{
    QTestState *qts = fdc_start(test_image, NULL);

    g_assert_cmphex(qtest_inb(qts, FLOPPY_BASE + REG_DIR) & DIR_DSKCHG, ==, DIR_DSKCHG);
    fdc_seek(qts, 0, 0);
    g_assert_cmphex(qtest_inb(qts, FLOPPY_BASE + REG_DIR) & DIR_DSKCHG, ==, DIR_DSKCHG);
    fdc_seek(qts, 0, 1);
    g_assert_cmphex(qtest_inb(qts, FLOPPY_BASE + REG_DIR) & DIR_DSKCHG, ==, 0);
    fdc_seek(qts, 0, 0);
    g_assert_cmphex(qtest_inb(qts, FLOPPY_BASE + REG_DIR) & DIR_DSKCHG, ==, 0);
    qtest_quit(qts);
}

static void test_read_only(void)
{
    g_autofree char *img = make_image(FLOPPY_SIZE);
    QTestState *qts = fdc_start(img, ",readonly=on");
    uint8_t sds[] = {CMD_SENSE_DRIVE_STATUS, 0x00};
    uint8_t st3, r[7], back[SECTOR];
    FILE *f;

    fdc_cmd(qts, sds, sizeof(sds));
    fdc_result(qts, &st3, 1);
    g_assert_cmphex(st3, ==, 0x40 | 0x38); /* write protected, track 0 */
    qtest_memset(qts, DMA_BUF, 0x5a, SECTOR);
    dma_setup(qts, DMA_MODE_WRITE, DMA_BUF, SECTOR);
    fdc_rw(qts, CMD_WRITE, 0, 0, 0, 1, 18, r);
    g_assert_cmphex(r[0], ==, 0x60); /* abnormal termination */
    g_assert_cmphex(r[1], ==, 0x02); /* not writable */
    qtest_quit(qts);
    f = fopen(img, "rb");
    g_assert_nonnull(f);
    g_assert_cmpuint(fread(back, 1, SECTOR, f), ==, SECTOR);
    fclose(f);
    g_assert_cmphex(back[5], ==, pattern_byte(0, 5));
    unlink(img);
}

static void test_invalid_commands(void)
{
    QTestState *qts = fdc_start(test_image, NULL);
    uint8_t r[7];

    /* Unknown command bytes: one result byte, invalid command. */
    for (unsigned cmd = 0; cmd < 2; cmd++) {
        fdc_send(qts, cmd == 0 ? 0x00 : 0x1f);
        fdc_result(qts, r, 1);
        g_assert_cmphex(r[0], ==, 0x80);
    }
    /* Sector beyond the track: abnormal termination, end of cylinder; C/H/R as asked. */
    dma_setup(qts, DMA_MODE_READ, DMA_BUF, SECTOR);
    fdc_rw(qts, CMD_READ, 0, 1, 0, 19, 19, r);
    g_assert_cmphex(r[0] & 0xc0, ==, 0x40);
    g_assert_cmphex(r[1], ==, 0x80);
    g_assert_cmphex(r[5], ==, 19);
    /* Cylinder beyond the medium. */
    fdc_rw(qts, CMD_READ, 0, 90, 0, 1, 18, r);
    g_assert_cmphex(r[0] & 0xc0, ==, 0x40);
    g_assert_cmphex(r[1], ==, 0x00);
    g_assert_cmphex(r[3], ==, 90);
    /* EOT before the first sector (CVE-2021-3507): no transfer, missing address mark. */
    fdc_rw(qts, CMD_READ, 0, 1, 0, 10, 2, r);
    g_assert_cmphex(r[0] & 0xc0, ==, 0x40);
    g_assert_cmphex(r[1], ==, 0x01);
    /* A data rate the medium was not written at (250K for a 1.44M diskette). */
    qtest_outb(qts, FLOPPY_BASE + REG_CCR, 0x02);
    fdc_rw(qts, CMD_READ, 0, 1, 0, 1, 18, r);
    g_assert_cmphex(r[0] & 0xc0, ==, 0x40);
    g_assert_cmphex(r[1], ==, 0x01);
    qtest_outb(qts, FLOPPY_BASE + REG_CCR, 0x00);
    /* Bytes written while the controller has results to give are ignored. */
    fdc_send(qts, CMD_VERSION);
    qtest_outb(qts, FLOPPY_BASE + REG_FIFO, CMD_PART_ID);
    fdc_result(qts, r, 1);
    g_assert_cmphex(r[0], ==, 0x90);
    /* Reading with no result pending gives 0 and changes nothing. */
    g_assert_cmphex(qtest_inb(qts, FLOPPY_BASE + REG_FIFO), ==, 0);
    g_assert_cmphex(fdc_msr(qts), ==, MSR_RQM);
    /* The drive without a diskette (unit 1 has no drive): abnormal termination. */
    fdc_rw(qts, CMD_READ, 1, 0, 0, 1, 18, r);
    g_assert_cmphex(r[0], ==, 0x41);
    /* And after all that, a good read still works. */
    dma_setup(qts, DMA_MODE_READ, DMA_BUF, SECTOR);
    fdc_rw(qts, CMD_READ, 0, 0, 0, 1, 18, r);
    g_assert_cmphex(r[0] & 0xc0, ==, 0);
    check_guest_sectors(qts, DMA_BUF, 0, 1);
    qtest_quit(qts);
}

/* FORMAT TRACK by DMA: four ID bytes per sector, each sector filled. QEMU formats nothing. */
static void test_format(void)
{
    g_autofree char *img = NULL;
    QTestState *qts;
    uint8_t cmd[] = {CMD_FORMAT, 0x04, 2, 2, 0x54, 0xe5};
    uint8_t ids[8] = {3, 1, 1, 2, 3, 1, 2, 2};
    uint8_t r[7], back[3 * SECTOR];
    FILE *f;

    if (qtest_is_qemu()) {
        g_test_skip("QEMU 7.2 answers FORMAT TRACK without formatting");
        return;
    }
    img = make_image(FLOPPY_SIZE);
    qts = fdc_start(img, NULL);
    fdc_seek(qts, 0, 3);
    qtest_bufwrite(qts, DMA_BUF, ids, sizeof(ids));
    dma_setup(qts, DMA_MODE_WRITE, DMA_BUF, sizeof(ids));
    fdc_cmd(qts, cmd, sizeof(cmd));
    g_assert_true(qtest_get_irq(qts, FLOPPY_IRQ));
    fdc_result(qts, r, 7);
    g_assert_cmphex(r[0] & 0xc0, ==, 0);
    qtest_quit(qts);
    /* Cylinder 3, head 1, sectors 1-2: LBA 3 * 36 + 18 = 126; sector 3 untouched. */
    f = fopen(img, "rb");
    g_assert_nonnull(f);
    g_assert_cmpint(fseek(f, 126L * SECTOR, SEEK_SET), ==, 0);
    g_assert_cmpuint(fread(back, 1, sizeof(back), f), ==, sizeof(back));
    fclose(f);
    for (unsigned i = 0; i < 2 * SECTOR; i++) {
        g_assert_cmphex(back[i], ==, 0xe5);
    }
    g_assert_cmphex(back[2 * SECTOR + 2], ==, pattern_byte(128, 2));
    unlink(img);
}

/* Drive B: a 720K diskette (9 sectors per track, 250 kbit/s) read by DMA through unit 1. */
static void test_drive_b(void)
{
    g_autofree char *img2 = make_image(720 * 1024);
    g_autofree char *args = g_strdup_printf("-drive file=%s,if=floppy,index=1,format=raw", img2);
    QTestState *qts = fdc_start_args(test_image, NULL, args);
    uint8_t r[7];

    qtest_outb(qts, FLOPPY_BASE + REG_DOR, 0x2d); /* motor B, DMA, out of reset, drive 1 */
    g_assert_cmphex(qtest_inb(qts, FLOPPY_BASE + REG_DOR) & 0x03, ==, 0x01);
    qtest_outb(qts, FLOPPY_BASE + REG_CCR, 0x02);
    dma_setup(qts, DMA_MODE_READ, DMA_BUF, 2 * SECTOR);
    /* Cylinder 3, head 1, sectors 8-9: LBA (3 * 2 + 1) * 9 + 7 = 70. */
    fdc_rw(qts, CMD_READ, 1, 3, 1, 8, 9, r);
    g_assert_cmphex(r[0], ==, 0x20 | 0x04 | 0x01);
    g_assert_cmphex(r[1], ==, 0);
    check_guest_sectors(qts, DMA_BUF, 70, 2);
    /* Drive A's 1.44M diskette does not answer at 250 kbit/s. */
    fdc_rw(qts, CMD_READ, 0, 0, 0, 1, 18, r);
    g_assert_cmphex(r[0] & 0xc0, ==, 0x40);
    g_assert_cmphex(r[1], ==, 0x01);
    qtest_quit(qts);
    unlink(img2);
}

/* The 8237s' registers as a BIOS programs them: address and count through the flip-flop, the
 * page registers, mode, request and mask bits, master clear; channel 5 on the word controller. */
static void test_dma_registers(void)
{
    QTestState *qts = qtest_init(NULL);

    qtest_outb(qts, 0x0c, 0);
    qtest_outb(qts, 0x02, 0x34); /* channel 1 address */
    qtest_outb(qts, 0x02, 0x12);
    qtest_outb(qts, 0x03, 0xff); /* channel 1 count */
    qtest_outb(qts, 0x03, 0x01);
    g_assert_cmphex(qtest_inb(qts, 0x02), ==, 0x34);
    g_assert_cmphex(qtest_inb(qts, 0x02), ==, 0x12);
    g_assert_cmphex(qtest_inb(qts, 0x03), ==, 0xff);
    g_assert_cmphex(qtest_inb(qts, 0x03), ==, 0x01);
    /* A lone byte leaves the flip-flop on the high byte; 0x0c puts it back on the low one. */
    qtest_inb(qts, 0x02);
    qtest_outb(qts, 0x0c, 0);
    g_assert_cmphex(qtest_inb(qts, 0x02), ==, 0x34);
    qtest_outb(qts, 0x0c, 0);
    /* Page registers: 0x87 (0), 0x83 (1), 0x81 (2), 0x82 (3), 0x8b (5). */
    qtest_outb(qts, 0x87, 0x10);
    qtest_outb(qts, 0x83, 0x11);
    qtest_outb(qts, 0x81, 0x12);
    qtest_outb(qts, 0x82, 0x13);
    qtest_outb(qts, 0x8b, 0x15);
    g_assert_cmphex(qtest_inb(qts, 0x87), ==, 0x10);
    g_assert_cmphex(qtest_inb(qts, 0x83), ==, 0x11);
    g_assert_cmphex(qtest_inb(qts, 0x81), ==, 0x12);
    g_assert_cmphex(qtest_inb(qts, 0x82), ==, 0x13);
    g_assert_cmphex(qtest_inb(qts, 0x8b), ==, 0x15);
    /* Channel 5 (word controller, every other port): address in words, count in words. */
    qtest_outb(qts, 0xd8, 0);
    qtest_outb(qts, 0xc4, 0x00);
    qtest_outb(qts, 0xc4, 0x40);
    qtest_outb(qts, 0xc6, 0xff);
    qtest_outb(qts, 0xc6, 0x00);
    g_assert_cmphex(qtest_inb(qts, 0xc4), ==, 0x00);
    g_assert_cmphex(qtest_inb(qts, 0xc4), ==, 0x40);
    g_assert_cmphex(qtest_inb(qts, 0xc6), ==, 0xff);
    g_assert_cmphex(qtest_inb(qts, 0xc6), ==, 0x00);
    /* Software request of channel 3 shows in the status register (bit 7). */
    qtest_outb(qts, 0x09, 0x07);
    g_assert_cmphex(qtest_inb(qts, 0x08) & 0x80, ==, 0x80);
    qtest_outb(qts, 0x09, 0x03);
    g_assert_cmphex(qtest_inb(qts, 0x08) & 0x80, ==, 0x00);
    /* Masks: all, then single clear of channel 2, read back at 0x09 as QEMU does. */
    qtest_outb(qts, 0x0f, 0x0f);
    g_assert_cmphex(qtest_inb(qts, 0x09) & 0x0f, ==, 0x0f);
    qtest_outb(qts, 0x0a, 0x02);
    g_assert_cmphex(qtest_inb(qts, 0x09) & 0x0f, ==, 0x0b);
    qtest_outb(qts, 0x0e, 0);
    g_assert_cmphex(qtest_inb(qts, 0x09) & 0x0f, ==, 0x00);
    /* Master clear masks every channel. */
    qtest_outb(qts, 0x0d, 0);
    g_assert_cmphex(qtest_inb(qts, 0x09) & 0x0f, ==, 0x0f);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    test_image = make_image(FLOPPY_SIZE);
    g_test_add_func("/fdc/cmos", test_cmos);
    g_test_add_func("/fdc/no-drive", test_no_drive);
    g_test_add_func("/fdc/version-and-ids", test_version_and_ids);
    g_test_add_func("/fdc/reset-sense-interrupt", test_reset_sense_interrupt);
    g_test_add_func("/fdc/seek", test_seek);
    g_test_add_func("/fdc/read-id", test_read_id);
    g_test_add_func("/fdc/read-dma", test_read_dma);
    g_test_add_func("/fdc/read-masked-dma", test_read_masked_dma);
    g_test_add_func("/fdc/write-dma", test_write_dma);
    g_test_add_func("/fdc/read-pio", test_read_pio);
    g_test_add_func("/fdc/write-pio", test_write_pio);
    g_test_add_func("/fdc/disk-change", test_disk_change);
    g_test_add_func("/fdc/read-only", test_read_only);
    g_test_add_func("/fdc/invalid-commands", test_invalid_commands);
    g_test_add_func("/fdc/format", test_format);
    g_test_add_func("/fdc/drive-b", test_drive_b);
    g_test_add_func("/isa-dma/registers", test_dma_registers);
    ret = g_test_run();
    unlink(test_image);
    g_free(test_image);
    return ret;
}
