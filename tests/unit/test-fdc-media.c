/*
 * Unit tests for the floppy drive's removable medium as the monitor's eject and change will
 * drive it (the BlockBackend's change-media callback): ejecting raises the disk-change line
 * and leaves an empty drive that still seeks but fails reads; a new diskette of another
 * format (720K in a 1.44M drive) keeps the drive type, gets its own geometry and data rate
 * and its sectors read through the FIFO; a read-only diskette shows write protection; the
 * disk-change line clears on the first step with a diskette in. The controller is built
 * in-process and driven through the port dispatch a vCPU uses.
 */
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "hw/fdc.h"
#include "hw/ioport.h"
#include "hw/isa-dma.h"
#include "util/main-loop.h"

#define FDC_MSR 0x3f4
#define FDC_FIFO 0x3f5
#define FDC_DIR 0x3f7
#define SECTOR 512

static BlockBackend *floppy;
static FDCtrl *fdc;

static uint8_t inb(uint16_t port)
{
    return io_dispatch_read(IO_SPACE_PIO, port, 1);
}

static void outb(uint16_t port, uint8_t val)
{
    io_dispatch_write(IO_SPACE_PIO, port, val, 1);
}

static void send(const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_assert_cmphex(inb(FDC_MSR) & 0xc0, ==, 0x80);
        outb(FDC_FIFO, bytes[i]);
    }
}

static void results(uint8_t *res, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_assert_cmphex(inb(FDC_MSR) & 0xc0, ==, 0xc0);
        res[i] = inb(FDC_FIFO);
    }
    g_assert_cmphex(inb(FDC_MSR), ==, 0x80);
}

static uint8_t seek(uint8_t cyl)
{
    uint8_t cmd[] = {0x0f, 0x00, cyl}, res[2];

    send(cmd, sizeof(cmd));
    send((const uint8_t[]){0x08}, 1);
    results(res, 2);
    return res[1];
}

static bool disk_changed(void)
{
    return inb(FDC_DIR) & 0x80;
}

/* An image of `kib` KiB whose sector s starts with s (16 bits) and the format byte. */
static char *make_image(unsigned kib, uint8_t tag)
{
    g_autofree uint8_t *buf = g_malloc0(kib * 1024);
    char *path = NULL;
    int fd = g_file_open_tmp("test-fdc-media-XXXXXX", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    for (unsigned s = 0; s < kib * 2; s++) {
        buf[s * SECTOR] = s & 0xff;
        buf[s * SECTOR + 1] = s >> 8;
        buf[s * SECTOR + 2] = tag;
    }
    g_assert_true(write(fd, buf, kib * 1024) == (ssize_t)(kib * 1024));
    close(fd);
    return path;
}

static void insert(unsigned kib, uint8_t tag, bool read_only)
{
    g_autofree char *path = make_image(kib, tag);
    JsonObject *opts = json_object_new();
    BlockDriverState *bs;

    json_object_set_string_member(opts, "driver", "raw");
    bs = bdrv_open(path, opts, read_only ? 0 : BDRV_O_RDWR, &error_abort);
    unlink(path);
    blk_insert_bs(floppy, bs);
    bdrv_unref(bs);
    blk_dev_change_media_cb(floppy, true);
}

static void eject(void)
{
    blk_remove_bs(floppy);
    blk_dev_change_media_cb(floppy, false);
}

/* READ DATA of one sector through the FIFO (non-DMA): its first three bytes, and ST0/ST1. */
static void pio_read(uint8_t c, uint8_t h, uint8_t s, uint8_t head3[3], uint8_t st[2])
{
    uint8_t cmd[] = {0x46, (uint8_t)(h << 2), c, h, s, 2, s, 0x1b, 0xff}, res[7];

    send(cmd, sizeof(cmd));
    if ((inb(FDC_MSR) & 0xe0) == 0xe0) { /* execution phase: 512 data bytes */
        for (unsigned i = 0; i < SECTOR; i++) {
            uint8_t b = inb(FDC_FIFO);
            if (i < 3) {
                head3[i] = b;
            }
        }
    }
    results(res, 7);
    st[0] = res[0];
    st[1] = res[1];
}

static void test_change(void)
{
    static const uint8_t specify_pio[] = {0x03, 0xaf, 0x03};
    uint8_t head3[3] = {0}, st[2], dump[10];

    g_assert_cmpint(fdc_get_drive_type(fdc, 0), ==, FLOPPY_DRIVE_TYPE_144);
    g_assert_true(blk_dev_has_removable_media(floppy));
    send(specify_pio, sizeof(specify_pio));
    g_assert_true(disk_changed());
    g_assert_cmpuint(seek(1), ==, 1);
    g_assert_false(disk_changed());
    pio_read(1, 1, 3, head3, st);
    g_assert_cmphex(st[0] & 0xc0, ==, 0);
    g_assert_cmpuint(head3[0] | head3[1] << 8, ==, (1 * 2 + 1) * 18 + 2);
    g_assert_cmphex(head3[2], ==, 0x14);

    /* Eject: the line goes up, the empty drive still steps, reads end abnormally. */
    eject();
    g_assert_true(disk_changed());
    g_assert_cmpuint(seek(5), ==, 5);
    g_assert_true(disk_changed());
    pio_read(0, 0, 1, head3, st);
    g_assert_cmphex(st[0] & 0xc0, ==, 0x40);

    /* A 720K diskette: 9 sectors per track at 250 kbit/s; the drive stays a 1.44M drive. */
    insert(720, 0x07, false);
    g_assert_true(disk_changed());
    send((const uint8_t[]){0x0e}, 1);
    results(dump, sizeof(dump));
    g_assert_cmpuint(dump[6], ==, 9);
    pio_read(2, 0, 4, head3, st);
    g_assert_cmphex(st[0] & 0xc0, ==, 0x40); /* 500 kbit/s finds no address mark */
    g_assert_cmphex(st[1], ==, 0x01);
    outb(FDC_DIR, 0x02);
    pio_read(2, 0, 4, head3, st);
    g_assert_cmphex(st[0] & 0xc0, ==, 0);
    g_assert_cmpuint(head3[0] | head3[1] << 8, ==, 2 * 18 + 3);
    g_assert_cmphex(head3[2], ==, 0x07);
    g_assert_false(disk_changed()); /* the read stepped to cylinder 2 */
    g_assert_cmpint(fdc_get_drive_type(fdc, 0), ==, FLOPPY_DRIVE_TYPE_144);

    /* A read-only diskette: SENSE DRIVE STATUS shows write protection. */
    eject();
    insert(1440, 0x44, true);
    outb(FDC_DIR, 0x00);
    send((const uint8_t[]){0x04, 0x00}, 2);
    results(st, 1);
    g_assert_cmphex(st[0] & 0x40, ==, 0x40);
    g_assert_true(disk_changed());
}

int main(int argc, char **argv)
{
    DriveInfo *dinfo = g_new0(DriveInfo, 1);
    DriveInfo *fds[FDC_MAX_DRIVES] = {dinfo, NULL};

    g_test_init(&argc, &argv, NULL);
    main_loop_init();
    floppy = blk_new("floppy0", &error_abort);
    dinfo->type = IF_FLOPPY;
    blk_set_legacy_dinfo(floppy, dinfo);
    insert(1440, 0x14, false);
    isa_dma_init();
    fdc = fdc_init_isa(FDC_ISA_IOBASE, FDC_ISA_IRQ, FDC_ISA_DMA, fds, &error_abort);
    g_test_add_func("/fdc-media/change", test_change);
    return g_test_run();
}
