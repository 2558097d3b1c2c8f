/*
 * The PC's system flash (-drive if=pflash): two units stacked down from 4 GiB, read in array
 * mode, then driven with the Intel command set as firmware does: CFI query, identifier,
 * byte program, block erase, write to buffer, status and clear status, a read-only unit that
 * reports program and erase errors. Data is checked in guest-visible flash and in the image
 * files. Every check holds on QEMU 7.2 too (QTEST_QEMU=1).
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "libqtest.h"

#define GIB4 0x100000000ull
#define UNIT0_SIZE (256 * 1024)
#define UNIT1_SIZE (64 * 1024)
#define UNIT0_BASE (GIB4 - UNIT0_SIZE)
#define UNIT1_BASE (UNIT0_BASE - UNIT1_SIZE)
#define SECTOR_LEN 4096

enum {
    CMD_PROGRAM = 0x40,
    CMD_ERASE = 0x20,
    CMD_CONFIRM = 0xd0,
    CMD_CLEAR_STATUS = 0x50,
    CMD_READ_STATUS = 0x70,
    CMD_READ_ID = 0x90,
    CMD_QUERY = 0x98,
    CMD_WRITE_BUFFER = 0xe8,
    CMD_READ_ARRAY = 0xff,
    ST_READY = 0x80,
    ST_ERASE_ERR = 0x20,
    ST_PROGRAM_ERR = 0x10,
};

typedef struct Flash {
    QTestState *qts;
    char *img[2];
} Flash;

static uint8_t pattern(unsigned unit, uint64_t off)
{
    return (uint8_t)(off * 7 + (off >> 8) * 3 + unit * 0x55);
}

static char *make_image(unsigned unit, uint64_t size)
{
    char *path = NULL;
    int fd = g_file_open_tmp("pflash-XXXXXX.img", &path, NULL);
    g_autofree uint8_t *buf = g_malloc(size);

    for (uint64_t i = 0; i < size; i++) {
        buf[i] = pattern(unit, i);
    }
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, buf, size), ==, (ssize_t)size);
    close(fd);
    return path;
}

static uint8_t image_byte(const char *path, uint64_t off)
{
    uint8_t b = 0;
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, &b, 1, off), ==, 1);
    close(fd);
    return b;
}

static Flash *flash_start(bool unit1_readonly)
{
    Flash *f = g_new0(Flash, 1);
    g_autofree char *args = NULL;

    f->img[0] = make_image(0, UNIT0_SIZE);
    f->img[1] = make_image(1, UNIT1_SIZE);
    args = g_strdup_printf("-drive if=pflash,format=raw,file=%s "
                           "-drive if=pflash,format=raw,file=%s%s",
                           f->img[0], f->img[1], unit1_readonly ? ",readonly=on" : "");
    f->qts = qtest_init(args);
    return f;
}

static void flash_stop(Flash *f)
{
    qtest_quit(f->qts);
    for (int i = 0; i < 2; i++) {
        unlink(f->img[i]);
        g_free(f->img[i]);
    }
    g_free(f);
}

static uint8_t flash_status(Flash *f, uint64_t base)
{
    qtest_writeb(f->qts, base, CMD_READ_STATUS);
    return qtest_readb(f->qts, base);
}

static void test_array_mode(void)
{
    Flash *f = flash_start(false);

    for (uint64_t off = 0; off < UNIT0_SIZE; off += 4093) {
        g_assert_cmphex(qtest_readb(f->qts, UNIT0_BASE + off), ==, pattern(0, off));
    }
    for (uint64_t off = 0; off < UNIT1_SIZE; off += 1021) {
        g_assert_cmphex(qtest_readb(f->qts, UNIT1_BASE + off), ==, pattern(1, off));
    }
    g_assert_cmphex(qtest_readl(f->qts, GIB4 - 4), ==,
                    pattern(0, UNIT0_SIZE - 4) | pattern(0, UNIT0_SIZE - 3) << 8 |
                    pattern(0, UNIT0_SIZE - 2) << 16 | (uint32_t)pattern(0, UNIT0_SIZE - 1) << 24);
    /* The ISA BIOS window holds the top 128 KiB of unit 0. */
    g_assert_cmphex(qtest_readb(f->qts, 0xfffff), ==, pattern(0, UNIT0_SIZE - 1));
    g_assert_cmphex(qtest_readb(f->qts, 0xe0000), ==, pattern(0, UNIT0_SIZE - 0x20000));
    flash_stop(f);
}

static void test_cfi_query_and_id(void)
{
    static const struct { uint8_t off, val; } cfi[] = {
        { 0x10, 'Q' }, { 0x11, 'R' }, { 0x12, 'Y' }, { 0x13, 0x01 }, { 0x14, 0x00 },
        { 0x15, 0x31 }, { 0x16, 0x00 },
        { 0x27, 18 },                                   /* 256 KiB */
        { 0x2c, 0x01 },                                 /* one erase block region */
        { 0x2d, 63 }, { 0x2e, 0 },                      /* 64 blocks */
        { 0x2f, SECTOR_LEN >> 8 & 0xff }, { 0x30, 0 },  /* of 4 KiB */
    };
    Flash *f = flash_start(false);

    qtest_writeb(f->qts, UNIT0_BASE + 0x55, CMD_QUERY);
    for (unsigned i = 0; i < G_N_ELEMENTS(cfi); i++) {
        g_assert_cmphex(qtest_readb(f->qts, UNIT0_BASE + cfi[i].off), ==, cfi[i].val);
    }
    /* Unit 1's geometry: 64 KiB, 16 blocks. */
    qtest_writeb(f->qts, UNIT1_BASE, CMD_QUERY);
    g_assert_cmphex(qtest_readb(f->qts, UNIT1_BASE + 0x27), ==, 16);
    g_assert_cmphex(qtest_readb(f->qts, UNIT1_BASE + 0x2d), ==, 15);
    /* The PC's flash has all-zero identifier codes. */
    qtest_writeb(f->qts, UNIT0_BASE, CMD_READ_ID);
    g_assert_cmphex(qtest_readb(f->qts, UNIT0_BASE), ==, 0);
    g_assert_cmphex(qtest_readb(f->qts, UNIT0_BASE + 1), ==, 0);
    /* Read array: the data is back. */
    qtest_writeb(f->qts, UNIT0_BASE, CMD_READ_ARRAY);
    g_assert_cmphex(qtest_readb(f->qts, UNIT0_BASE + 0x10), ==, pattern(0, 0x10));
    flash_stop(f);
}

static void test_program_and_erase(void)
{
    Flash *f = flash_start(false);
    uint64_t sect = 5 * SECTOR_LEN;

    /* Byte program: flash bits only go from 1 to 0 on hardware; the model stores the byte. */
    qtest_writeb(f->qts, UNIT1_BASE + 0x1234, CMD_PROGRAM);
    qtest_writeb(f->qts, UNIT1_BASE + 0x1234, 0x5a);
    g_assert_cmphex(qtest_readb(f->qts, UNIT1_BASE + 0x1234) & ST_READY, ==, ST_READY);
    g_assert_cmphex(flash_status(f, UNIT1_BASE), ==, ST_READY);
    qtest_writeb(f->qts, UNIT1_BASE, CMD_READ_ARRAY);
    g_assert_cmphex(qtest_readb(f->qts, UNIT1_BASE + 0x1234), ==, 0x5a);
    g_assert_cmphex(qtest_readb(f->qts, UNIT1_BASE + 0x1235), ==, pattern(1, 0x1235));
    g_assert_cmphex(image_byte(f->img[1], 0x1234), ==, 0x5a);

    /* Block erase of the 4 KiB sector holding an address in its middle. */
    qtest_writeb(f->qts, UNIT0_BASE + sect + 0x777, CMD_ERASE);
    qtest_writeb(f->qts, UNIT0_BASE + sect + 0x777, CMD_CONFIRM);
    g_assert_cmphex(flash_status(f, UNIT0_BASE) & ~ST_READY, ==, 0);
    qtest_writeb(f->qts, UNIT0_BASE, CMD_READ_ARRAY);
    g_assert_cmphex(qtest_readb(f->qts, UNIT0_BASE + sect - 1), ==, pattern(0, sect - 1));
    for (uint64_t off = sect; off < sect + SECTOR_LEN; off += 511) {
        g_assert_cmphex(qtest_readb(f->qts, UNIT0_BASE + off), ==, 0xff);
        g_assert_cmphex(image_byte(f->img[0], off), ==, 0xff);
    }
    g_assert_cmphex(qtest_readb(f->qts, UNIT0_BASE + sect + SECTOR_LEN), ==,
                    pattern(0, sect + SECTOR_LEN));
    flash_stop(f);
}

static void test_write_buffer(void)
{
    Flash *f = flash_start(false);
    uint64_t at = 0x2100;

    qtest_writeb(f->qts, UNIT1_BASE + at, CMD_WRITE_BUFFER);
    g_assert_cmphex(qtest_readb(f->qts, UNIT1_BASE + at) & ST_READY, ==, ST_READY);
    qtest_writeb(f->qts, UNIT1_BASE + at, 15);          /* 16 bytes follow */
    for (unsigned i = 0; i < 16; i++) {
        qtest_writeb(f->qts, UNIT1_BASE + at + i, 0xa0 + i);
    }
    qtest_writeb(f->qts, UNIT1_BASE + at, CMD_CONFIRM);
    qtest_writeb(f->qts, UNIT1_BASE, CMD_READ_ARRAY);
    for (unsigned i = 0; i < 16; i++) {
        g_assert_cmphex(qtest_readb(f->qts, UNIT1_BASE + at + i), ==, 0xa0 + i);
        g_assert_cmphex(image_byte(f->img[1], at + i), ==, 0xa0 + i);
    }
    g_assert_cmphex(qtest_readb(f->qts, UNIT1_BASE + at + 16), ==, pattern(1, at + 16));
    flash_stop(f);
}

static void test_read_only_unit(void)
{
    Flash *f = flash_start(true);

    qtest_writeb(f->qts, UNIT1_BASE + 0x10, CMD_PROGRAM);
    qtest_writeb(f->qts, UNIT1_BASE + 0x10, 0x00);
    g_assert_cmphex(flash_status(f, UNIT1_BASE) & (ST_READY | ST_PROGRAM_ERR), ==,
                    ST_READY | ST_PROGRAM_ERR);
    qtest_writeb(f->qts, UNIT1_BASE, CMD_CLEAR_STATUS);
    qtest_writeb(f->qts, UNIT1_BASE + SECTOR_LEN, CMD_ERASE);
    qtest_writeb(f->qts, UNIT1_BASE + SECTOR_LEN, CMD_CONFIRM);
    g_assert_cmphex(flash_status(f, UNIT1_BASE) & (ST_READY | ST_ERASE_ERR), ==,
                    ST_READY | ST_ERASE_ERR);
    qtest_writeb(f->qts, UNIT1_BASE, CMD_READ_ARRAY);
    g_assert_cmphex(qtest_readb(f->qts, UNIT1_BASE + 0x10), ==, pattern(1, 0x10));
    g_assert_cmphex(qtest_readb(f->qts, UNIT1_BASE + SECTOR_LEN), ==, pattern(1, SECTOR_LEN));
    g_assert_cmphex(image_byte(f->img[1], 0x10), ==, pattern(1, 0x10));
    flash_stop(f);
}

/* An unknown command is dropped: the flash stays readable as an array. */
static void test_unknown_command(void)
{
    Flash *f = flash_start(false);

    qtest_writeb(f->qts, UNIT0_BASE + 0x40, 0x33);
    g_assert_cmphex(qtest_readb(f->qts, UNIT0_BASE + 0x40), ==, pattern(0, 0x40));
    qtest_writeb(f->qts, UNIT0_BASE, CMD_ERASE);
    qtest_writeb(f->qts, UNIT0_BASE, 0x77);                /* not a confirm */
    g_assert_cmphex(qtest_readb(f->qts, UNIT0_BASE + 0x41), ==, 0xff);  /* erased at 0x20 */
    flash_stop(f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pflash/array-mode", test_array_mode);
    g_test_add_func("/pflash/cfi-query-and-id", test_cfi_query_and_id);
    g_test_add_func("/pflash/program-and-erase", test_program_and_erase);
    g_test_add_func("/pflash/write-buffer", test_write_buffer);
    g_test_add_func("/pflash/read-only-unit", test_read_only_unit);
    g_test_add_func("/pflash/unknown-command", test_unknown_command);
    return g_test_run();
}
